/*
 * libFuzzer target for the blobstore's metadata loader: everything that
 * reads bytes a corrupt or hostile disk controls (issue 4, "Bad input").
 * Built and run by `make fuzz` (Makefile, "fuzz targets"): clang with
 * -fsanitize=fuzzer,address,undefined, over archives of lib/{blob,thread,
 * env,util,log} compiled the same way into build-fuzz/, so the coverage
 * that guides the fuzzer is the library's, not just this file's.
 *
 * One input is the beginning of a small store image (FUZZ_DEV_BYTES, the
 * rest zero), and it is fed to every layer in turn:
 *
 *  1. the pure codec (lib/blob/format.h): bsf_super_decode and
 *     bsf_layout_from_super on page 0; the mask decoder on the three mask
 *     areas the layout names; for every 4 KiB page of the input the page
 *     decoders (descriptor iterator, bsf_page_is_root, bsf_md_page_claims,
 *     bsf_extent_page_decode); and the chain parser, bsf_md_parse_blob,
 *     from every root of the metadata region (the layout's, or the whole
 *     input when page 0 is not a superblock), strict and lenient, which
 *     drives bsf_md_parser_create/feed/finish and the extent-page steps;
 *  2. the whole store: the image in a bs_dev_mem, bs_load (clean path or
 *     recovery and fix-up, as the superblock says), every blob opened by
 *     iteration with one read of its first io unit (through the parent
 *     chain), and an unload. Everything runs on the ut_threads harness
 *     (one thread, stepped here).
 *
 * CRCs: inputs of even length get the CRC of every non-zero page fixed
 * before use (so mutations get past the checksum), odd lengths are used
 * raw (so the checksum checks are fuzzed too).
 *
 * Contract checked: no crash, no sanitizer report, no leak, no hang (the
 * store's callbacks must run once the threads go idle: a callback that
 * never comes is reported by abort()), whatever the bytes. Errors are
 * fine: that is what hostile bytes should get.
 *
 * Allocation: a hostile but well-formed blob may claim 2^32 - 1 clusters,
 * whose map SPDK would also try to allocate (16 GiB). The default ASan
 * options below make allocations over 256 MiB fail (return NULL) instead
 * of aborting, so that the -ENOMEM paths are fuzzed too; `make fuzz`
 * keeps libFuzzer's malloc limit above that.
 *
 * Seeds: test/fuzz/corpus/blob_md_fuzz/, written by
 * test/fuzz/blob_md_corpus_gen.c (the geometry below must match).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"
#include "../../lib/blob/format.h"
#include "../unit/common/ut_threads.h"
#include "blob_md_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1:max_allocation_size_mb=256:detect_leaks=1";
}

/* ---- 1. the codec ------------------------------------------------------------------------ */

struct region {
	const uint8_t *img;     /* the whole device image */
	uint64_t img_len;
	uint64_t start;         /* byte offset of region page 0 */
	uint32_t slot;          /* bytes per page slot (md_page_size) */
	uint32_t len;           /* pages */
};

static int
region_read(void *ctx, uint32_t idx, uint8_t page[BSF_PAGE_SIZE])
{
	const struct region *r = ctx;
	uint64_t off = r->start + (uint64_t)idx * r->slot;

	if (idx >= r->len)
		return -EINVAL;
	memset(page, 0, BSF_PAGE_SIZE);
	if (off < r->img_len)
		memcpy(page, r->img + off,
		       r->img_len - off < BSF_PAGE_SIZE ? (size_t)(r->img_len - off) : BSF_PAGE_SIZE);
	return 0;
}

static int
claim_run(void *ctx, uint32_t first, uint32_t count)
{
	uint64_t *sum = ctx;

	*sum += (uint64_t)first + count;
	return 0;
}

static int
claim_ep(void *ctx, uint32_t page_idx)
{
	uint64_t *sum = ctx;

	*sum += page_idx;
	return 0;
}

static void
fuzz_page(const uint8_t page[BSF_PAGE_SIZE], uint32_t idx)
{
	static const struct bsf_claim_ops ops = { claim_run, claim_ep };
	struct bsf_extent_page ep;
	struct bsf_desc_iter it;
	struct bsf_page_hdr hdr;
	struct bsf_diag diag;
	struct bsf_desc d;
	uint64_t sum = 0;
	int n = 0;

	bsf_page_hdr_decode(page, &hdr);
	(void)bsf_crc_ok(page);
	(void)bsf_page_is_root(page, idx);
	bsf_desc_iter_init(&it, page);
	/* The iterator must end: at most one descriptor per 5 bytes. */
	while (bsf_desc_iter_next(&it, &d, &diag) == 1) {
		(void)bsf_desc_type_name(d.type);
		if (++n > (int)(BSF_DESC_AREA_SIZE / BSF_DESC_HDR_SIZE) + 1)
			abort();
	}
	(void)bsf_md_page_claims(page, &ops, &sum, &diag);
	(void)bsf_extent_page_decode(page, &ep, &diag);
}

static void
fuzz_parse_blobs(struct region *r, uint32_t total_clusters)
{
	uint8_t page[BSF_PAGE_SIZE];

	for (uint32_t idx = 0; idx < r->len; idx++) {
		struct bsf_md_parse_opts o;
		struct bsf_blob_md md;
		struct bsf_diag diag;

		region_read(r, idx, page);
		if (!bsf_page_is_root(page, idx))
			continue;
		for (int lenient = 0; lenient < 2; lenient++) {
			bsf_md_parse_opts_init(&o, sizeof(o));
			o.md_len = r->len;
			o.total_clusters = total_clusters;
			o.reject_unknown = !lenient;
			o.check_continuation = !lenient;
			memset(&md, 0, sizeof(md));
			if (bsf_md_parse_blob(bsf_page_to_blobid(idx), &o, region_read, r, &md,
					      &diag) == 0) {
				/* What a load does with a parsed blob: look up xattrs. */
				(void)bsf_blob_md_find_xattr(&md, true, BSF_XATTR_SNAP);
				(void)bsf_blob_md_find_xattr(&md, false, BSF_LVOL_XATTR_NAME);
				bsf_blob_md_free(&md);
			}
		}
	}
}

static void
fuzz_mask(const uint8_t *img, uint64_t img_len, const struct bsf_layout *l, uint32_t start,
	  uint32_t pages, enum bsf_mask_type type, uint32_t bits)
{
	uint64_t off = (uint64_t)start * l->md_page_size;
	uint64_t len = (uint64_t)pages * l->md_page_size;
	struct bit_array *ba;
	struct bsf_diag diag;
	uint32_t recorded;

	if (pages == 0 || off >= img_len)
		return;
	if (len > img_len - off)
		len = img_len - off;
	ba = bit_array_create(bits ? bits : 1);
	if (ba == NULL)
		return;
	(void)bsf_mask_decode(img + off, (size_t)len, type, bits, ba, &recorded, &diag);
	(void)bsf_mask_tail_is_zero(img + off, (size_t)len, bits);
	bit_array_free(&ba);
}

static void
fuzz_codec(const uint8_t *img, uint64_t img_len, size_t input_len)
{
	struct bsf_super sb;
	struct bsf_layout l;
	struct bsf_diag diag;
	struct region r = { .img = img, .img_len = img_len, .slot = BSF_PAGE_SIZE };
	uint32_t total_clusters = 0;
	bool layout_ok = false;

	int rc;

	memset(&sb, 0, sizeof(sb));
	rc = bsf_super_decode(img, NULL, img_len, &sb, &diag);
	/* Also on a failed decode (sb as far as decoded): the geometry checks
	 * must hold against any field values, not only validated ones. */
	layout_ok = bsf_layout_from_super(&sb, img_len, &l, &diag) == 0 && rc == 0;
	if (layout_ok) {
		fuzz_mask(img, img_len, &l, l.used_page_mask_start, l.used_page_mask_len,
			  BSF_MASK_USED_PAGES, l.md_len);
		fuzz_mask(img, img_len, &l, l.used_cluster_mask_start, l.used_cluster_mask_len,
			  BSF_MASK_USED_CLUSTERS, l.total_clusters);
		fuzz_mask(img, img_len, &l, l.used_blobid_mask_start, l.used_blobid_mask_len,
			  BSF_MASK_USED_BLOBIDS, l.md_len);
		r.start = (uint64_t)l.md_start * l.md_page_size;
		r.slot = l.md_page_size;
		r.len = l.md_len;
		total_clusters = l.total_clusters;
	} else {
		/* No superblock: the input itself is a metadata region. */
		r.start = 0;
		r.len = (uint32_t)((input_len + BSF_PAGE_SIZE - 1) / BSF_PAGE_SIZE);
		if (r.len == 0)
			r.len = 1;
	}
	/* Bound the work on a huge hostile md_len: pages past the input are zero. */
	if (r.start >= img_len)
		r.len = 0;
	else if (r.len > (img_len - r.start) / r.slot + 1)
		r.len = (uint32_t)((img_len - r.start) / r.slot + 1);

	for (uint64_t off = 0; off < input_len; off += BSF_PAGE_SIZE)
		fuzz_page(img + off, (uint32_t)(off / BSF_PAGE_SIZE));
	fuzz_parse_blobs(&r, total_clusters);
}

/* ---- 2. the whole store ------------------------------------------------------------------ */

struct res {
	int calls;
	int rc;
	struct blob_store *bs;
	struct blob *blob;
};

static void
op_cb(void *arg, int rc)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
}

static void
bs_cb(void *arg, struct blob_store *bs, int rc)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
	r->bs = bs;
}

static void
blob_cb(void *arg, struct blob *blob, int rc)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
	r->blob = blob;
}

/* Polls until idle; the callback must have run exactly once by then. */
static void
wait_done(struct res *r, const char *what)
{
	ut_poll_threads();
	if (r->calls != 1) {
		fprintf(stderr, "blob_md_fuzz: %s: callback ran %d times after the threads went "
			"idle (a hang)\n", what, r->calls);
		abort();
	}
}

static void
fuzz_store(const uint8_t *img, uint64_t img_len)
{
	struct bs_dev *dev = bs_dev_mem_create(img_len / FUZZ_BLOCK, FUZZ_BLOCK);
	struct io_channel *ch;
	struct bs_opts o;
	struct res r = { 0 };
	struct blob *blob;
	uint8_t *buf;
	int n = 0;

	if (dev == NULL)
		return;
	memcpy(bs_dev_mem_data(dev), img, img_len);
	bs_opts_init(&o, sizeof(o));
	bs_load(dev, &o, bs_cb, &r);
	wait_done(&r, "bs_load");
	if (r.rc != 0)
		return; /* the load destroyed dev */

	ch = bs_alloc_io_channel(r.bs);
	buf = malloc(bs_get_io_unit_size(r.bs));
	{
		struct blob_store *bs = r.bs;

		memset(&r, 0, sizeof(r));
		bs_iter_first(bs, blob_cb, &r);
		wait_done(&r, "bs_iter_first");
		while (r.rc == 0) {
			struct res io = { 0 };

			blob = r.blob;
			if (ch != NULL && buf != NULL && blob_get_num_io_units(blob) > 0) {
				blob_io_read(blob, ch, buf, 0, 1, op_cb, &io);
				wait_done(&io, "blob_io_read");
			}
			if (++n > 100000)
				abort(); /* more blobs than pages: the iteration loops */
			memset(&r, 0, sizeof(r));
			bs_iter_next(bs, blob, blob_cb, &r);
			wait_done(&r, "bs_iter_next");
		}
		free(buf);
		if (ch != NULL)
			bs_free_io_channel(ch);
		ut_poll_threads();
		memset(&r, 0, sizeof(r));
		bs_unload(bs, op_cb, &r);
		wait_done(&r, "bs_unload");
	}
}

/* ---- entry points -------------------------------------------------------------------------- */

static void
quiet_sink(enum log_level level, const char *line)
{
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_sink(quiet_sink);
	log_set_print_level(LOG_LEVEL_DISABLED);
	ut_threads_init(1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *img;

	if (size > FUZZ_DEV_BYTES)
		return -1; /* not added to the corpus */
	if (img == NULL) {
		img = malloc(FUZZ_DEV_BYTES);
		if (img == NULL)
			abort();
	}
	memset(img, 0, FUZZ_DEV_BYTES);
	memcpy(img, data, size);
	/*
	 * A random mutation almost never keeps a CRC right, and a bad CRC
	 * ends the story at the first check. So for inputs of even length
	 * (every seed) the CRC of each non-zero 4 KiB page is recomputed
	 * first, and the mutation reaches the decoders behind the CRC; odd
	 * lengths are used as they are, and test the CRC checks themselves.
	 */
	if (size % 2 == 0) {
		for (size_t off = 0; off < size; off += BSF_PAGE_SIZE)
			if (!bsf_is_zero(img + off, BSF_PAGE_SIZE))
				bsf_set_crc(img + off);
	}
	fuzz_codec(img, FUZZ_DEV_BYTES, size);
	fuzz_store(img, FUZZ_DEV_BYTES);
	return 0;
}
