/*
 * lvstor-dd: dd between files and bdevs.
 *
 *   lvstor-dd --json bdevs.json --if disk.img --ob Malloc0 --bs 1M
 *   lvstor-dd --json bdevs.json --ib lvs/vol0 --of backup.img --sparse
 *
 * It takes the same --json configuration as lvstord, so the bdevs exist
 * exactly as the daemon would build them, copies, prints a summary and
 * exits. Exactly one input (--if FILE or --ib BDEV) and one output
 * (--of FILE or --ob BDEV); at least one of them is a bdev.
 *
 * Everything runs on the application thread. The copy is a pipeline of
 * `--qd` slots, each owning one DMA-able buffer of --bs bytes and moving
 * one chunk at a time: read it, then write it, then take the next chunk.
 * A slot is either idle (no chunk left, or stopping after an error),
 * reading, or writing; bdev I/O is asynchronous, file I/O is a plain
 * pread/pwrite done synchronously on the way (the file side is the page
 * cache; the overlap that matters is between the bdev I/Os in flight).
 * Chunks may complete out of order: each has its own offsets, so order
 * does not matter for the result.
 *
 * Ranges are checked before the first byte moves: a chunk that would
 * fall beyond a bdev is an error up front, never a short copy. Reading a
 * file stops at its end, like dd. A final partial chunk from a file whose
 * size is not a multiple of the output bdev's block size is padded with
 * zeroes to a whole block.
 *
 * --sparse: a chunk that is all zeroes is not written. That keeps a thin
 * lvol thin and a sparse file sparse, and is correct only if the target
 * reads back zeroes where nothing was written (a new thin lvol, a new or
 * hole-punched file, a fresh malloc or null bdev). It is off by default
 * for that reason: on a target holding old data the skipped ranges would
 * keep the old data. A sparse file output is extended to the end of the
 * copy so that trailing holes still count towards its size.
 *
 * The output file is created when missing and never truncated (GNU dd's
 * conv=notrunc): bytes beyond the copied range stay as they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvstor/app.h"
#include "lvstor/bdev.h"
#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

/* Default chunk: large enough that per-I/O overhead vanishes against the
 * copy, small enough that --qd of them fit the default DMA heap. */
#define DEFAULT_BS (1024 * 1024)
#define DEFAULT_QD 4
/* Limits that catch typos before they turn into giant allocations. */
#define MAX_BS (256ull * 1024 * 1024)
#define MAX_QD 256
/* How often the progress line is redrawn on a terminal. */
#define PROGRESS_PERIOD_US 1000000

struct dd_end {
	const char *file;          /* --if / --of */
	const char *bdev_name;     /* --ib / --ob */
	int fd;
	struct bdev_desc *desc;
	struct io_channel *ch;
	uint32_t block_size;       /* 1 for a file */
	uint64_t size;             /* bytes */
	size_t align;
};

enum slot_state { SLOT_IDLE, SLOT_READING, SLOT_WRITING };

struct dd_slot {
	uint8_t *buf;
	uint64_t pos;              /* offset of the chunk within the copy */
	uint64_t len;              /* bytes of data in the chunk */
	enum slot_state state;
};

static struct {
	struct dd_end in, out;
	uint64_t bs, count, skip, seek;
	bool count_set, sparse, progress;
	uint32_t qd;

	uint64_t length;           /* bytes to copy */
	uint64_t next_pos;         /* next chunk to hand out */
	uint64_t copied;           /* bytes read and written (or skipped as zero) */
	uint64_t sparse_skipped;
	uint32_t busy_slots;
	bool failed, flushing, progress_shown;
	struct dd_slot *slots;
	struct poller *progress_poller;
	uint64_t start_tsc;
} g_dd = {
	.in = {.fd = -1},
	.out = {.fd = -1},
	.bs = DEFAULT_BS,
	.qd = DEFAULT_QD,
};

/* ---- command line ---------------------------------------------------------- */

enum {
	OPT_IF = 0x200,
	OPT_OF,
	OPT_IB,
	OPT_OB,
	OPT_BS,
	OPT_COUNT,
	OPT_SKIP,
	OPT_SEEK,
	OPT_SPARSE,
	OPT_NO_SPARSE,
	OPT_QD,
	OPT_NO_PROGRESS,
};

static const struct option g_long[] = {
	{"if", required_argument, NULL, OPT_IF},
	{"of", required_argument, NULL, OPT_OF},
	{"ib", required_argument, NULL, OPT_IB},
	{"ob", required_argument, NULL, OPT_OB},
	{"bs", required_argument, NULL, OPT_BS},
	{"count", required_argument, NULL, OPT_COUNT},
	{"skip", required_argument, NULL, OPT_SKIP},
	{"seek", required_argument, NULL, OPT_SEEK},
	{"sparse", no_argument, NULL, OPT_SPARSE},
	{"no-sparse", no_argument, NULL, OPT_NO_SPARSE},
	{"qd", required_argument, NULL, OPT_QD},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{NULL, 0, NULL, 0},
};

static void
usage_extra(void)
{
	printf("\nCopy options (exactly one input and one output, at least one a bdev):\n"
	       "     --if FILE             read from FILE\n"
	       "     --ib BDEV             read from bdev BDEV (name, alias or UUID)\n"
	       "     --of FILE             write to FILE (created if missing, never truncated)\n"
	       "     --ob BDEV             write to bdev BDEV\n"
	       "     --bs SIZE             bytes per chunk, e.g. 4k, 1M (default 1M); a multiple\n"
	       "                           of every bdev's block size\n"
	       "     --count N             copy N chunks (default: to the end of the input)\n"
	       "     --skip N              skip N chunks of the input first\n"
	       "     --seek N              skip N chunks of the output first\n"
	       "     --sparse              do not write all-zero chunks (the target must read\n"
	       "                           zeroes where unwritten: thin lvol, new file); off by default\n"
	       "     --qd N                chunks in flight (default 4)\n"
	       "     --no-progress         no progress line even on a terminal\n");
}

static int
bad(const char *what, const char *arg)
{
	fprintf(stderr, "lvstor-dd: %s '%s'\n", what, arg);
	return -EINVAL;
}

static int
parse_extra(int ch, const char *arg)
{
	uint64_t v;

	switch (ch) {
	case OPT_IF:
		g_dd.in.file = arg;
		return 0;
	case OPT_OF:
		g_dd.out.file = arg;
		return 0;
	case OPT_IB:
		g_dd.in.bdev_name = arg;
		return 0;
	case OPT_OB:
		g_dd.out.bdev_name = arg;
		return 0;
	case OPT_BS:
		if (parse_capacity(arg, &v) != 0 || v == 0 || v > MAX_BS)
			return bad("invalid block size (1 byte .. 256 MiB)", arg);
		g_dd.bs = v;
		return 0;
	case OPT_COUNT:
		if (parse_u64(arg, UINT64_MAX, &v) != 0)
			return bad("invalid count", arg);
		g_dd.count = v;
		g_dd.count_set = true;
		return 0;
	case OPT_SKIP:
		if (parse_u64(arg, UINT64_MAX, &v) != 0)
			return bad("invalid skip", arg);
		g_dd.skip = v;
		return 0;
	case OPT_SEEK:
		if (parse_u64(arg, UINT64_MAX, &v) != 0)
			return bad("invalid seek", arg);
		g_dd.seek = v;
		return 0;
	case OPT_SPARSE:
		g_dd.sparse = true;
		return 0;
	case OPT_NO_SPARSE:
		g_dd.sparse = false;
		return 0;
	case OPT_QD:
		if (parse_u64(arg, MAX_QD, &v) != 0 || v == 0)
			return bad("invalid queue depth (1..256)", arg);
		g_dd.qd = (uint32_t)v;
		return 0;
	case OPT_NO_PROGRESS:
		g_dd.progress = false;
		return 0;
	default:
		return -EINVAL;
	}
}

static int
check_args(void)
{
	if (!g_dd.in.file == !g_dd.in.bdev_name) {
		fprintf(stderr, "lvstor-dd: give exactly one input: --if FILE or --ib BDEV\n");
		return -EINVAL;
	}
	if (!g_dd.out.file == !g_dd.out.bdev_name) {
		fprintf(stderr, "lvstor-dd: give exactly one output: --of FILE or --ob BDEV\n");
		return -EINVAL;
	}
	if (g_dd.in.file && g_dd.out.file) {
		fprintf(stderr, "lvstor-dd: one side must be a bdev (use dd for file to file)\n");
		return -EINVAL;
	}
	/* Offsets in bytes must fit in 64 bits. */
	if ((g_dd.skip && g_dd.skip > UINT64_MAX / g_dd.bs) ||
	    (g_dd.seek && g_dd.seek > UINT64_MAX / g_dd.bs) ||
	    (g_dd.count && g_dd.count > UINT64_MAX / g_dd.bs)) {
		fprintf(stderr, "lvstor-dd: --skip, --seek or --count is too large\n");
		return -EINVAL;
	}
	return 0;
}

/* ---- the end ---------------------------------------------------------------- */

static double
elapsed_s(void)
{
	return (double)(env_get_ticks() - g_dd.start_tsc) / (double)env_get_ticks_hz();
}

static void
print_progress(bool final)
{
	double s = elapsed_s();
	double mib = (double)g_dd.copied / (1024.0 * 1024.0);

	if (final) {
		if (g_dd.progress_shown)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "%" PRIu64 " bytes (%.1f MiB) copied, %.3f s, %.1f MiB/s\n",
			g_dd.copied, mib, s, s > 0 ? mib / s : 0.0);
		if (g_dd.sparse)
			fprintf(stderr, "%" PRIu64 " bytes of zeroes not written (--sparse)\n",
				g_dd.sparse_skipped);
		return;
	}
	fprintf(stderr, "\r%" PRIu64 " bytes (%.1f MiB) copied, %.0f s, %.1f MiB/s\033[K",
		g_dd.copied, mib, s, s > 0 ? mib / s : 0.0);
	g_dd.progress_shown = true;
}

static int
progress_tick(void *arg)
{
	print_progress(false);
	return POLLER_BUSY;
}

static void
close_end(struct dd_end *e)
{
	if (e->ch)
		io_channel_put(e->ch);
	e->ch = NULL;
	if (e->desc)
		bdev_close(e->desc);
	e->desc = NULL;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

static void
dd_finish(int rc)
{
	poller_unregister(&g_dd.progress_poller);
	if (rc == 0 && g_dd.out.file && g_dd.length) {
		struct stat st;
		uint64_t end = g_dd.seek * g_dd.bs + g_dd.length;

		/* Trailing zero chunks skipped by --sparse still make the file that long. */
		if (fstat(g_dd.out.fd, &st) == 0 && (uint64_t)st.st_size < end &&
		    ftruncate(g_dd.out.fd, (off_t)end) != 0) {
			fprintf(stderr, "lvstor-dd: cannot extend %s: %s\n", g_dd.out.file,
				strerror(errno));
			rc = -errno;
		}
	}
	if (g_dd.out.fd >= 0 && close(g_dd.out.fd) != 0 && rc == 0) {
		fprintf(stderr, "lvstor-dd: closing %s: %s\n", g_dd.out.file, strerror(errno));
		rc = -EIO;
	}
	g_dd.out.fd = -1;
	close_end(&g_dd.in);
	close_end(&g_dd.out);
	if (g_dd.slots) {
		for (uint32_t i = 0; i < g_dd.qd; i++)
			env_dma_free(g_dd.slots[i].buf);
		free(g_dd.slots);
		g_dd.slots = NULL;
	}
	if (rc == 0 && g_dd.start_tsc)
		print_progress(true);
	else if (g_dd.progress_shown)
		fputc('\n', stderr);
	app_stop(rc == 0 ? 0 : 1);
}

static void
flush_done(struct bdev_io *io, bool success, void *arg)
{
	bdev_free_io(io);
	if (!success) {
		fprintf(stderr, "lvstor-dd: flush of bdev %s failed\n", g_dd.out.bdev_name);
		dd_finish(-EIO);
		return;
	}
	dd_finish(0);
}

static void
all_slots_idle(void)
{
	struct bdev *b;
	int rc;

	if (g_dd.failed) {
		dd_finish(-EIO);
		return;
	}
	/* A bdev with a write cache gets a flush, so "copied" means durable. */
	if (g_dd.out.desc) {
		b = bdev_desc_get_bdev(g_dd.out.desc);
		if (bdev_io_type_supported(b, BDEV_IO_TYPE_FLUSH)) {
			rc = bdev_flush(g_dd.out.desc, g_dd.out.ch, 0, bdev_get_num_blocks(b),
					flush_done, NULL);
			if (rc == 0)
				return;
			fprintf(stderr, "lvstor-dd: cannot flush bdev %s: %s\n",
				g_dd.out.bdev_name, strerror(-rc));
			dd_finish(rc);
			return;
		}
	}
	dd_finish(0);
}

/* ---- the pipeline ------------------------------------------------------------ */

static void slot_run(struct dd_slot *s, bool have_data);

static void
slot_idle(struct dd_slot *s)
{
	s->state = SLOT_IDLE;
	if (--g_dd.busy_slots == 0)
		all_slots_idle();
}

static void
slot_fail(struct dd_slot *s, const char *what, const struct dd_end *e, int err)
{
	/* One line for the first error; the others would only repeat it. */
	if (!g_dd.failed)
		fprintf(stderr, "lvstor-dd: %s %s %s at byte %" PRIu64 ": %s\n", what,
			e->file ? "file" : "bdev", e->file ? e->file : e->bdev_name,
			(e == &g_dd.in ? g_dd.skip : g_dd.seek) * g_dd.bs + s->pos,
			err ? strerror(err) : "I/O error");
	g_dd.failed = true;
	slot_idle(s);
}

static bool
all_zero(const uint8_t *buf, uint64_t len)
{
	const uint64_t *w = (const uint64_t *)buf;
	uint64_t n = len / 8;

	for (uint64_t i = 0; i < n; i++)
		if (w[i])
			return false;
	for (uint64_t i = n * 8; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static void
write_done(struct bdev_io *io, bool success, void *arg)
{
	struct dd_slot *s = arg;

	bdev_free_io(io);
	if (!success) {
		slot_fail(s, "write to", &g_dd.out, 0);
		return;
	}
	g_dd.copied += s->len;
	slot_run(s, false);
}

static void
read_done(struct bdev_io *io, bool success, void *arg)
{
	struct dd_slot *s = arg;

	bdev_free_io(io);
	if (!success) {
		slot_fail(s, "read from", &g_dd.in, 0);
		return;
	}
	slot_run(s, true);
}

/* Reads the next chunk of a file input into s (synchronously). 0 or an errno. */
static int
file_read(struct dd_slot *s, uint64_t off)
{
	uint64_t done = 0;

	while (done < s->len) {
		ssize_t n = pread(g_dd.in.fd, s->buf + done, s->len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0) {
			/* The file shrank under us: copy what there is. */
			s->len = done;
			g_dd.length = s->pos + done;
			break;
		}
		done += (uint64_t)n;
	}
	return 0;
}

static int
file_write(struct dd_slot *s, uint64_t off)
{
	uint64_t done = 0;

	while (done < s->len) {
		ssize_t n = pwrite(g_dd.out.fd, s->buf + done, s->len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : ENOSPC;
		done += (uint64_t)n;
	}
	return 0;
}

/*
 * Moves slot s on until it waits for a bdev I/O or has nothing left to
 * do. have_data: its buffer holds a chunk just read, to be written.
 * A loop, not recursion: a file input full of zeroes with --sparse
 * would otherwise nest one call per chunk.
 */
static void
slot_run(struct dd_slot *s, bool have_data)
{
	uint64_t off, len;
	int rc;

	for (;;) {
		if (!have_data) {
			if (g_dd.failed || g_dd.next_pos >= g_dd.length) {
				slot_idle(s);
				return;
			}
			s->pos = g_dd.next_pos;
			s->len = g_dd.length - s->pos < g_dd.bs ? g_dd.length - s->pos : g_dd.bs;
			g_dd.next_pos += s->len;
			off = g_dd.skip * g_dd.bs + s->pos;
			s->state = SLOT_READING;
			if (g_dd.in.desc) {
				rc = bdev_read(g_dd.in.desc, g_dd.in.ch, s->buf,
					       off / g_dd.in.block_size,
					       s->len / g_dd.in.block_size, read_done, s);
				if (rc != 0)
					slot_fail(s, "read from", &g_dd.in, -rc);
				return;
			}
			rc = file_read(s, off);
			if (rc != 0) {
				slot_fail(s, "read from", &g_dd.in, rc);
				return;
			}
			if (s->len == 0)
				continue; /* end of a shrunk file: next_pos >= length now */
		}
		have_data = false;

		if (g_dd.failed) {
			slot_idle(s);
			return;
		}
		if (g_dd.sparse && all_zero(s->buf, s->len)) {
			g_dd.sparse_skipped += s->len;
			g_dd.copied += s->len;
			continue;
		}
		off = g_dd.seek * g_dd.bs + s->pos;
		s->state = SLOT_WRITING;
		if (g_dd.out.file) {
			rc = file_write(s, off);
			if (rc != 0) {
				slot_fail(s, "write to", &g_dd.out, rc);
				return;
			}
			g_dd.copied += s->len;
			continue;
		}
		/* A bdev takes whole blocks: pad the tail of a short last chunk. */
		len = ALIGN_UP(s->len, g_dd.out.block_size);
		if (len != s->len)
			memset(s->buf + s->len, 0, len - s->len);
		rc = bdev_write(g_dd.out.desc, g_dd.out.ch, s->buf, off / g_dd.out.block_size,
				len / g_dd.out.block_size, write_done, s);
		if (rc != 0)
			slot_fail(s, "write to", &g_dd.out, -rc);
		return;
	}
}

/* ---- start -------------------------------------------------------------------- */

static void
bdev_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	if (type == BDEV_EVENT_REMOVE && !g_dd.failed) {
		fprintf(stderr, "lvstor-dd: bdev %s is being removed\n", bdev_get_name(bdev));
		g_dd.failed = true;
	}
}

static int
open_end(struct dd_end *e, bool write)
{
	struct bdev *b;
	struct stat st;
	int rc;

	if (e->file) {
		e->fd = write ? open(e->file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) :
			open(e->file, O_RDONLY | O_CLOEXEC);
		if (e->fd < 0 || fstat(e->fd, &st) != 0) {
			fprintf(stderr, "lvstor-dd: cannot open %s: %s\n", e->file, strerror(errno));
			return -errno;
		}
		e->block_size = 1;
		e->align = 1;
		if (S_ISBLK(st.st_mode)) {
			off_t end = lseek(e->fd, 0, SEEK_END);

			e->size = end > 0 ? (uint64_t)end : 0;
		} else {
			e->size = (uint64_t)st.st_size;
		}
		return 0;
	}
	b = bdev_get_by_name(e->bdev_name);
	if (b == NULL) {
		fprintf(stderr, "lvstor-dd: no bdev named '%s'\n", e->bdev_name);
		return -ENODEV;
	}
	rc = bdev_open(e->bdev_name, write, bdev_event, e, &e->desc);
	if (rc != 0) {
		fprintf(stderr, "lvstor-dd: cannot open bdev %s%s: %s\n", e->bdev_name,
			write ? " for writing" : "",
			rc == -EPERM ? "claimed by a module" : strerror(-rc));
		e->desc = NULL;
		return rc;
	}
	e->block_size = bdev_get_block_size(b);
	e->size = (uint64_t)e->block_size * bdev_get_num_blocks(b);
	e->align = bdev_get_buf_align(b);
	if (g_dd.bs % e->block_size) {
		fprintf(stderr, "lvstor-dd: --bs %" PRIu64 " is not a multiple of bdev %s's "
			"block size %u\n", g_dd.bs, e->bdev_name, e->block_size);
		return -EINVAL;
	}
	e->ch = bdev_get_io_channel(e->desc);
	if (e->ch == NULL) {
		fprintf(stderr, "lvstor-dd: cannot get an I/O channel for bdev %s\n", e->bdev_name);
		return -ENOMEM;
	}
	return 0;
}

static int
plan(void)
{
	uint64_t in_off = g_dd.skip * g_dd.bs, out_off = g_dd.seek * g_dd.bs, len, out_len;

	if (in_off > g_dd.in.size) {
		fprintf(stderr, "lvstor-dd: --skip %" PRIu64 " is beyond the end of the input "
			"(%" PRIu64 " bytes)\n", g_dd.skip, g_dd.in.size);
		return -EINVAL;
	}
	len = g_dd.in.size - in_off;
	if (g_dd.count_set) {
		if (g_dd.count * g_dd.bs > len && g_dd.in.bdev_name) {
			fprintf(stderr, "lvstor-dd: range beyond the end of bdev %s: %" PRIu64
				" chunks of %" PRIu64 " bytes from chunk %" PRIu64 " need %" PRIu64
				" bytes, it has %" PRIu64 "\n", g_dd.in.bdev_name, g_dd.count,
				g_dd.bs, g_dd.skip, in_off + g_dd.count * g_dd.bs, g_dd.in.size);
			return -EINVAL;
		}
		/* A file input just ends early, as with dd. */
		if (g_dd.count * g_dd.bs < len)
			len = g_dd.count * g_dd.bs;
	}
	if (g_dd.out.bdev_name) {
		out_len = ALIGN_UP(len, g_dd.out.block_size);
		if (out_off > g_dd.out.size || out_len > g_dd.out.size - out_off) {
			fprintf(stderr, "lvstor-dd: range beyond the end of bdev %s: writing %"
				PRIu64 " bytes at byte %" PRIu64 " needs %" PRIu64 " bytes, it has %"
				PRIu64 "\n", g_dd.out.bdev_name, len, out_off, out_off + out_len,
				g_dd.out.size);
			return -EINVAL;
		}
	}
	if (g_dd.in.desc && g_dd.out.desc &&
	    bdev_desc_get_bdev(g_dd.in.desc) == bdev_desc_get_bdev(g_dd.out.desc) &&
	    in_off < out_off + len && out_off < in_off + len) {
		fprintf(stderr, "lvstor-dd: input and output ranges overlap on bdev %s\n",
			g_dd.in.bdev_name);
		return -EINVAL;
	}
	g_dd.length = len;
	return 0;
}

static void
dd_start(void *ctx)
{
	size_t align = 4096;
	int rc;

	rc = open_end(&g_dd.in, false);
	if (rc == 0)
		rc = open_end(&g_dd.out, true);
	if (rc == 0)
		rc = plan();
	if (rc != 0) {
		dd_finish(rc);
		return;
	}
	if (g_dd.in.align > align)
		align = g_dd.in.align;
	if (g_dd.out.align > align)
		align = g_dd.out.align;
	g_dd.slots = calloc(g_dd.qd, sizeof(*g_dd.slots));
	if (g_dd.slots == NULL) {
		fprintf(stderr, "lvstor-dd: out of memory\n");
		dd_finish(-ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < g_dd.qd; i++) {
		/* Room to pad a short last chunk up to a whole output block. */
		g_dd.slots[i].buf = env_dma_malloc(g_dd.bs, align, NULL);
		if (g_dd.slots[i].buf == NULL) {
			fprintf(stderr, "lvstor-dd: cannot allocate %u buffers of %" PRIu64
				" bytes (lower --qd or --bs, or give more memory with -s)\n",
				g_dd.qd, g_dd.bs);
			dd_finish(-ENOMEM);
			return;
		}
	}
	if (g_dd.progress)
		g_dd.progress_poller = poller_register(progress_tick, NULL, PROGRESS_PERIOD_US,
						       "dd_progress");
	g_dd.start_tsc = env_get_ticks();
	g_dd.busy_slots = g_dd.qd;
	/* The last slot to go idle finishes the copy: none can before the loop ends. */
	for (uint32_t i = 0; i < g_dd.qd; i++)
		slot_run(&g_dd.slots[i], false);
}

int
main(int argc, char **argv)
{
	struct app_opts opts;
	int rc;

	app_opts_init(&opts, sizeof(opts));
	opts.name = "lvstor-dd";
	opts.rpc_addr = NULL; /* no RPC server unless -r asks for one */
	log_set_level(LOG_LEVEL_WARN);
	log_set_print_level(LOG_LEVEL_WARN);
	g_dd.progress = isatty(STDERR_FILENO);
	switch (app_parse_args(argc, argv, &opts, "", g_long, parse_extra, usage_extra)) {
	case APP_PARSE_OK:
		break;
	case APP_PARSE_EXIT:
		return 0;
	default:
		return 1;
	}
	if (check_args() != 0)
		return 1;
	rc = app_start(&opts, dd_start, NULL);
	return rc == 0 ? 0 : 1;
}
