/*
 * Blobstore metadata benchmarks (issue 4's "Benchmarks"): load time of a
 * store with 10,000 blobs, snapshot and clone create time, and the cost
 * of a first write to a thin blob. Prints one "metric: value" line each;
 * no pass/fail (scripts/run-bench.sh puts them in doc/benchmarks.md).
 *
 *   build/test/bench/blob_md_bench [NUM_BLOBS]      (default 10000)
 *
 * Everything runs on one lvstor thread stepped by hand on the main OS
 * thread (thread_poll in a loop, as the unit-test harness does, but on
 * the real clock), so each operation is timed from its call to its
 * callback with nothing else in between. The device is the in-memory
 * bs_dev (bs_dev_mem_create): RAM like a malloc bdev, without the bdev
 * layer's ~0.1 µs per I/O (about 1 ms over the 10,000 page reads of a
 * load). Its destroy is replaced by a no-op so that the bytes outlive an
 * unload and the same image can be loaded again; the real destroy runs at
 * the end.
 *
 * Store: 2 GiB, 4 KiB blocks, 1 MiB clusters, 16,384 metadata pages (one
 * per cluster would give only 2,048 blobs), clear method none. Blobs are
 * made as the lvol layer makes volumes: thin, 64 clusters, with a "name"
 * and a "uuid" xattr.
 *
 *   create_blob_us            bs_create_blob, one at a time, average
 *   unload_ms                 bs_unload of the store with NUM_BLOBS blobs
 *   load_ms                   bs_load (clean: masks read from disk)
 *   iterate_open_ms           bs_iter_first/next over every blob (opens each)
 *   load_total_s              load_ms + iterate_open_ms (goal: < 2 s)
 *   recover_load_ms           bs_load with force_recover (the dirty-shutdown
 *                             path: masks rebuilt from every blob's metadata)
 *   recover_total_s           that plus iterating every blob
 *   snapshot_16mib_us         bs_create_snapshot of a thick 16-cluster blob, average
 *   snapshot_512mib_us        the same for one 512-cluster blob
 *   clone_us                  bs_create_clone of one snapshot, average
 *   write_4k_thick_us         4 KiB write, QD 1, to an allocated cluster
 *   first_write_4k_thin_us    4 KiB write, QD 1, to an unallocated cluster of a thin blob
 *   first_write_cost_us       the difference: claim, extent page, flushes, messages
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"

#define DEV_BYTES (2ull << 30)
#define BLOCK 4096u
#define CLUSTER (1u << 20)
#define MD_PAGES 16384u
#define BLOB_CLUSTERS 64
#define SNAPSHOTS 50
#define SNAP_CLUSTERS 16
#define BIG_SNAP_CLUSTERS 512
#define CLONES 50
#define WRITES 256

static struct thread *g_thread;
static bool g_done;
static int g_rc;
static struct blob_store *g_bs;
static struct blob *g_blob;
static blob_id g_id;
static uint64_t g_iter_count;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t
clock_ticks(void)
{
	return now_ns();
}

static void
wait_done(const char *what)
{
	while (!g_done)
		thread_poll(g_thread, 0, 0);
	g_done = false;
	if (g_rc != 0) {
		fprintf(stderr, "blob_md_bench: %s failed: %s\n", what, strerror(-g_rc));
		exit(1);
	}
}

static void
bs_cb(void *arg, struct blob_store *bs, int rc)
{
	g_bs = bs;
	g_rc = rc;
	g_done = true;
}

static void
op_cb(void *arg, int rc)
{
	g_rc = rc;
	g_done = true;
}

static void
id_cb(void *arg, blob_id id, int rc)
{
	g_id = id;
	g_rc = rc;
	g_done = true;
}

static void
blob_cb(void *arg, struct blob *blob, int rc)
{
	g_blob = blob;
	g_rc = rc;
	g_done = true;
}

/* ---- xattrs like an lvol's --------------------------------------------------- */

struct xattr_vals {
	char name[32];
	char uuid[40];
};

static void
xattr_get(void *ctx, const char *name, const void **value, size_t *len)
{
	struct xattr_vals *v = ctx;
	const char *s = strcmp(name, "name") == 0 ? v->name : v->uuid;

	*value = s;
	*len = strlen(s) + 1;
}

static const char *const g_xattr_names[] = {"name", "uuid"};

/* ---- steps ---------------------------------------------------------------------- */

static void
do_load(struct bs_dev *dev, bool recover, const char *what)
{
	struct bs_opts opts;

	bs_opts_init(&opts, sizeof(opts));
	opts.force_recover = recover;
	bs_load(dev, &opts, bs_cb, NULL);
	wait_done(what);
}

static void
iter_cb(void *arg, struct blob *blob, int rc)
{
	if (rc == -ENOENT) {
		g_rc = 0;
		g_done = true;
		return;
	}
	if (rc != 0) {
		g_rc = rc;
		g_done = true;
		return;
	}
	g_iter_count++;
	bs_iter_next(g_bs, blob, iter_cb, NULL);
}

static void
do_iterate(void)
{
	g_iter_count = 0;
	bs_iter_first(g_bs, iter_cb, NULL);
	wait_done("iterating the blobs");
}

static blob_id
create_blob(uint64_t clusters, bool thin, struct xattr_vals *xv)
{
	struct blob_opts o;

	blob_opts_init(&o, sizeof(o));
	o.num_clusters = clusters;
	o.thin_provision = thin;
	if (xv != NULL) {
		o.xattrs.count = 2;
		o.xattrs.names = g_xattr_names;
		o.xattrs.ctx = xv;
		o.xattrs.get_value = xattr_get;
	}
	bs_create_blob(g_bs, &o, id_cb, NULL);
	wait_done("bs_create_blob");
	return g_id;
}

static double
us_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e3;
}

/* Average µs of a 4 KiB write at the start of each of `n` clusters of `blob`, one at a time. */
static double
timed_writes(struct blob *blob, struct io_channel *ch, void *buf, uint32_t n)
{
	uint64_t units_per_cluster = CLUSTER / bs_get_io_unit_size(g_bs);
	uint64_t t0 = now_ns();

	for (uint32_t c = 0; c < n; c++) {
		blob_io_write(blob, ch, buf, c * units_per_cluster, 1, op_cb, NULL);
		wait_done("blob_io_write");
	}
	return us_since(t0) / n;
}

static struct blob *
open_blob(blob_id id)
{
	bs_open_blob(g_bs, id, blob_cb, NULL);
	wait_done("bs_open_blob");
	return g_blob;
}

static void
close_blob(struct blob *blob)
{
	blob_close(blob, op_cb, NULL);
	wait_done("blob_close");
}

static void
noop_destroy(struct bs_dev *dev)
{
}

int
main(int argc, char **argv)
{
	uint32_t num_blobs = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 10000;
	void (*real_destroy)(struct bs_dev *dev);
	struct xattr_vals xv;
	struct bs_opts opts;
	struct bs_dev *dev;
	blob_id snap_ids[SNAPSHOTS], big, snap, thick, thin;
	struct io_channel *ch;
	struct blob *b_thick, *b_thin;
	double load_ms, iter_ms, us, thick_us, thin_us;
	uint64_t t0;
	void *buf;

	if (num_blobs == 0 || num_blobs > MD_PAGES - 2 * SNAPSHOTS - CLONES - 16) {
		fprintf(stderr, "blob_md_bench: NUM_BLOBS must be 1..%u\n",
			MD_PAGES - 2 * SNAPSHOTS - CLONES - 16);
		return 1;
	}
	log_set_level(LOG_LEVEL_WARN);
	log_set_print_level(LOG_LEVEL_WARN);
	if (thread_lib_init(NULL, 0) != 0)
		return 1;
	thread_set_clock(clock_ticks, 1000000000ull);
	g_thread = thread_create("blob_md_bench", NULL);
	if (g_thread == NULL)
		return 1;
	thread_set_current(g_thread);

	dev = bs_dev_mem_create(DEV_BYTES / BLOCK, BLOCK);
	if (dev == NULL)
		return 1;
	/* The image must outlive unloads: the store's destroy is a no-op until the end. */
	real_destroy = dev->destroy;
	dev->destroy = noop_destroy;
	bs_opts_init(&opts, sizeof(opts));
	opts.cluster_sz = CLUSTER;
	opts.num_md_pages = MD_PAGES;
	opts.clear_method = BS_CLEAR_WITH_NONE;
	bs_init(dev, &opts, bs_cb, NULL);
	wait_done("bs_init");

	/* ---- 10,000 blobs: create, unload, load, open all ---- */
	t0 = now_ns();
	for (uint32_t i = 0; i < num_blobs; i++) {
		snprintf(xv.name, sizeof(xv.name), "lvol%05u", i);
		snprintf(xv.uuid, sizeof(xv.uuid), "6c767374-6f72-4265-6e63-%012u", i);
		create_blob(BLOB_CLUSTERS, true, &xv);
	}
	printf("blobs: %u\n", num_blobs);
	printf("create_blob_us: %.1f\n", us_since(t0) / num_blobs);

	t0 = now_ns();
	bs_unload(g_bs, op_cb, NULL);
	wait_done("bs_unload");
	printf("unload_ms: %.1f\n", us_since(t0) / 1e3);

	t0 = now_ns();
	do_load(dev, false, "bs_load");
	load_ms = us_since(t0) / 1e3;
	t0 = now_ns();
	do_iterate();
	iter_ms = us_since(t0) / 1e3;
	if (g_iter_count != num_blobs) {
		fprintf(stderr, "blob_md_bench: found %" PRIu64 " blobs, expected %u\n", g_iter_count,
			num_blobs);
		return 1;
	}
	printf("load_ms: %.1f\n", load_ms);
	printf("iterate_open_ms: %.1f\n", iter_ms);
	printf("load_total_s: %.3f\n", (load_ms + iter_ms) / 1e3);
	bs_unload(g_bs, op_cb, NULL);
	wait_done("bs_unload");

	t0 = now_ns();
	do_load(dev, true, "bs_load (recover)");
	load_ms = us_since(t0) / 1e3;
	t0 = now_ns();
	do_iterate();
	iter_ms = us_since(t0) / 1e3;
	printf("recover_load_ms: %.1f\n", load_ms);
	printf("recover_total_s: %.3f\n", (load_ms + iter_ms) / 1e3);

	/* ---- snapshots and clones ---- */
	for (uint32_t i = 0; i < SNAPSHOTS; i++)
		snap_ids[i] = create_blob(SNAP_CLUSTERS, false, NULL);
	t0 = now_ns();
	for (uint32_t i = 0; i < SNAPSHOTS; i++) {
		bs_create_snapshot(g_bs, snap_ids[i], NULL, id_cb, NULL);
		wait_done("bs_create_snapshot");
	}
	printf("snapshot_16mib_us: %.1f\n", us_since(t0) / SNAPSHOTS);

	big = create_blob(BIG_SNAP_CLUSTERS, false, NULL);
	t0 = now_ns();
	bs_create_snapshot(g_bs, big, NULL, id_cb, NULL);
	wait_done("bs_create_snapshot");
	printf("snapshot_512mib_us: %.1f\n", us_since(t0));
	snap = g_id;

	t0 = now_ns();
	for (uint32_t i = 0; i < CLONES; i++) {
		bs_create_clone(g_bs, snap, NULL, id_cb, NULL);
		wait_done("bs_create_clone");
	}
	printf("clone_us: %.1f\n", us_since(t0) / CLONES);

	/* ---- first write to a thin blob ---- */
	thick = create_blob(WRITES, false, NULL);
	thin = create_blob(WRITES, true, NULL);
	b_thick = open_blob(thick);
	b_thin = open_blob(thin);
	ch = bs_alloc_io_channel(g_bs);
	buf = aligned_alloc(4096, 4096);
	if (ch == NULL || buf == NULL)
		return 1;
	memset(buf, 0x5a, 4096);
	timed_writes(b_thick, ch, buf, WRITES);         /* warm: the pages exist */
	thick_us = timed_writes(b_thick, ch, buf, WRITES);
	thin_us = timed_writes(b_thin, ch, buf, WRITES);
	us = timed_writes(b_thin, ch, buf, WRITES);     /* now allocated */
	printf("write_4k_thick_us: %.2f\n", thick_us);
	printf("write_4k_thin_allocated_us: %.2f\n", us);
	printf("first_write_4k_thin_us: %.2f\n", thin_us);
	printf("first_write_cost_us: %.2f\n", thin_us - thick_us);
	bs_free_io_channel(ch);
	free(buf);
	close_blob(b_thick);
	close_blob(b_thin);

	bs_unload(g_bs, op_cb, NULL);
	wait_done("bs_unload");
	real_destroy(dev);
	/* Let the channel put and the store's last messages run before the end. */
	for (int i = 0; i < 100; i++)
		thread_poll(g_thread, 0, 0);
	return 0;
}
