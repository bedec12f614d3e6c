/*
 * lvstor-check: an offline consistency checker for blobstores and
 * lvolstores, like thin_check for dm-thin.
 *
 *   lvstor-check IMAGE [--block-size N] [--verbose] [--json]
 *
 * IMAGE is a file or a block device holding a store in SPDK's on-disk
 * format (../shared/spec/blobstore-format.md). It is opened read-only and
 * read with pread: no environment, no reactor, no bdev layer. The check
 * runs in stages, each in its own file (see check.h): superblock and
 * layout, the §6.9 recovery walk, every blob opened as a load would,
 * ownership of clusters and pages, parents, the clean masks against the
 * walk, and the lvol layer's xattrs. It uses the same codec as the
 * blobstore (lib/blob/format.c), so "lvstor-check accepts it" and
 * "lvstor loads it" mean the same thing.
 *
 * Exit status: 0 when the store is consistent (warnings allowed), 1 when
 * any error was found, 2 on a usage error or when the image cannot be
 * read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define EXIT_CONSISTENT 0
#define EXIT_INCONSISTENT 1
#define EXIT_USAGE 2

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: lvstor-check IMAGE [--block-size N] [--verbose] [--json]\n"
		"  Checks a blobstore / lvolstore image (file or block device) offline.\n"
		"  --block-size N  logical block size of the device the store lives on\n"
		"                  (default: the block device's, or the recorded io unit)\n"
		"  -v, --verbose   also print per-blob details and informational findings\n"
		"  --json          print a JSON report instead of text\n"
		"  Exit: 0 consistent, 1 errors found, 2 usage or I/O error.\n");
}

static int
parse_args(int argc, char **argv, struct chk_opts *o)
{
	static const struct option longopts[] = {
		{"block-size", required_argument, NULL, 'b'},
		{"verbose", no_argument, NULL, 'v'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "b:vh", longopts, NULL)) != -1) {
		uint64_t v;

		switch (ch) {
		case 'b':
			/* 512 .. 64 KiB, a power of two: what block devices have. */
			if (parse_u64(optarg, 65536, &v) != 0 || v < 512 || !IS_POWER_OF_2(v)) {
				fprintf(stderr, "lvstor-check: --block-size must be a power of two "
					"in 512..65536\n");
				return -1;
			}
			o->block_size = (uint32_t)v;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_CONSISTENT);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	o->path = argv[optind];
	return 0;
}

int
main(int argc, char **argv)
{
	struct chk c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.img.fd = -1;
	if (parse_args(argc, argv, &c.opts) != 0)
		return EXIT_USAGE;
	rc = chk_image_open(&c.img, c.opts.path);
	if (rc != 0) {
		fprintf(stderr, "lvstor-check: %s: %s\n", c.opts.path, strerror(-rc));
		return EXIT_USAGE;
	}
	if (chk_superblock(&c) == 0) {
		chk_walk(&c);
		if (!c.io_error)
			chk_blobs(&c);
		if (!c.io_error)
			chk_masks(&c);
		if (!c.io_error && c.lvol)
			chk_lvol(&c);
	}
	if (c.opts.json)
		chk_report_json(&c, stdout);
	else
		chk_report_text(&c, stdout);
	rc = c.io_error ? EXIT_USAGE : c.num_errors ? EXIT_INCONSISTENT : EXIT_CONSISTENT;
	chk_free(&c);
	return rc;
}
