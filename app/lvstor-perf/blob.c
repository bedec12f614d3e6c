/*
 * lvstor-perf/blob.c: --blob mode, the targets' life on the application
 * thread. With --blob the tool does not run on the bdevs themselves but on
 * one blob per target bdev:
 *
 *   bdev --bs_dev_bdev_create--> bs_dev --bs_init--> blobstore
 *        --bs_create_blob--> blob (thick, or --thin) --bs_open_blob--> jobs
 *
 * and every job thread does its I/O with blob_io_readv / blob_io_writev
 * (and write_zeroes, unmap, flush) through its own bs_alloc_io_channel
 * channel (job.c). The numbers then measure the blob layer plus the
 * bdev below it; the same run without --blob measures the bdev alone.
 *
 * The store is created fresh on every run (bs_init with clear method
 * "none": nothing is scrubbed, the run measures I/O, not set-up), with
 * the cluster size of --cluster-size (default the blobstore's, 1 MiB)
 * and room for max(512, queue depth) requests per channel, so requests
 * are never parked for lack of request objects at any -q. The blob spans
 * every free cluster, or --blob-size rounded up to clusters. A thin blob
 * allocates each cluster on its first write: that is what --thin
 * measures (add --prefill for a thin blob's steady state).
 *
 * A null bdev stores nothing, so a store on it could not read back its
 * own metadata; on a bdev whose product is "Null disk" the metadata
 * region is kept in memory (blob_mdmem.c) and data I/O still goes to the
 * null bdev.
 *
 * Order. Targets are set up one after another (each step is a callback
 * on this thread), then main.c makes the jobs. At the end, after the jobs
 * have put their channels, each blob is closed and its store unloaded,
 * which releases the claim on the bdev and closes its descriptor. A
 * failed set-up unwinds whatever was made. All of this runs on the
 * application thread, which is the stores' metadata thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/bdev.h"
#include "lvstor/bdev_module.h"
#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/util.h"
#include "perf.h"

/* The claim lvstor-perf holds on a bdev under its blobstore (not registered: a name only). */
static struct bdev_module g_perf_blob_claim = {
	.name = "lvstor-perf",
};

static struct perf_blob_target *g_targets;
static uint32_t g_num_targets;
static uint32_t g_cur;
static void (*g_open_done)(int rc);
static void (*g_close_done)(void);

#define BLOB_DEFAULT_CHANNEL_OPS 512u

struct perf_blob_target *
perf_blob_target_of(const struct bdev *bdev)
{
	for (uint32_t i = 0; i < g_num_targets; i++) {
		if (g_targets[i].bdev == bdev)
			return &g_targets[i];
	}
	return NULL;
}

static bool
is_null_bdev(const struct bdev *bdev)
{
	const char *p = bdev_get_product_name(bdev);

	return p != NULL && strcmp(p, "Null disk") == 0;
}

static void
dev_event(int event, struct bdev *bdev, void *ctx)
{
	if (event == BDEV_EVENT_REMOVE)
		perf_target_removed(bdev);
}

/* ---- set-up ------------------------------------------------------------------ */

static void open_next(void);

static void
open_fail(struct perf_blob_target *t, const char *what, int rc)
{
	fprintf(stderr, "lvstor-perf: --blob on bdev %s: %s: %s\n", bdev_get_name(t->bdev), what,
		strerror(-rc));
	g_open_done(rc);
}

static void
blob_opened(void *arg, struct blob *blob, int bserrno)
{
	struct perf_blob_target *t = arg;

	if (bserrno != 0) {
		open_fail(t, "cannot open the blob", bserrno);
		return;
	}
	t->blob = blob;
	t->io_unit = bs_get_io_unit_size(t->bs);
	t->num_io_units = blob_get_num_io_units(blob);
	g_cur++;
	open_next();
}

static void
blob_created(void *arg, blob_id id, int bserrno)
{
	struct perf_blob_target *t = arg;

	if (bserrno != 0) {
		open_fail(t, "cannot create the blob", bserrno);
		return;
	}
	t->blob_id = id;
	bs_open_blob(t->bs, id, blob_opened, t);
}

static void
store_made(void *arg, struct blob_store *bs, int bserrno)
{
	struct perf_blob_target *t = arg;
	uint64_t cluster, clusters, dev_bytes;
	struct blob_opts o;
	int rc;

	if (bserrno != 0) {
		t->dev = NULL; /* bs_init failed: the store took the device with it */
		open_fail(t, "cannot create a blobstore", bserrno);
		return;
	}
	t->bs = bs;
	cluster = bs_get_cluster_size(bs);
	dev_bytes = bs_get_dev(bs)->blockcnt * bs_get_dev(bs)->blocklen;
	if (t->mdmem) {
		/* Right after init every used cluster is a metadata cluster. */
		uint64_t md_end = (dev_bytes / cluster - bs_get_total_data_cluster_count(bs)) * cluster;

		rc = perf_mdmem_set_limit(bs_get_dev(bs), md_end);
		if (rc != 0) {
			open_fail(t, "metadata region larger than expected", rc);
			return;
		}
	}
	clusters = g_perf.blob_size ? DIV_ROUND_UP(g_perf.blob_size, cluster) :
		   bs_get_free_cluster_count(bs);
	if (clusters == 0 || clusters > UINT32_MAX ||
	    (!g_perf.blob_thin && clusters > bs_get_free_cluster_count(bs))) {
		fprintf(stderr, "lvstor-perf: --blob on bdev %s: a %s blob of %" PRIu64 " clusters "
			"does not fit (%" PRIu64 " free clusters of %" PRIu64 " bytes)\n",
			bdev_get_name(t->bdev), g_perf.blob_thin ? "thin" : "thick", clusters,
			bs_get_free_cluster_count(bs), cluster);
		g_open_done(-ENOSPC);
		return;
	}
	blob_opts_init(&o, sizeof(o));
	o.num_clusters = clusters;
	o.thin_provision = g_perf.blob_thin;
	bs_create_blob(bs, &o, blob_created, t);
}

/*
 * An upper bound of the metadata region's size for the in-memory part of
 * a null bdev's device: one md page per cluster (the store's default),
 * three masks of at most one bit per cluster, a super block, and slack
 * for rounding to clusters. Lowered to the exact size after bs_init.
 */
static uint64_t
md_bytes_bound(uint64_t dev_bytes, uint64_t cluster, uint32_t blocklen)
{
	uint64_t page = blocklen > 4096 ? blocklen : 4096;
	uint64_t clusters = dev_bytes / cluster;

	return (clusters + 16) * page + 3 * (clusters / 8 + 2 * page) + 2 * cluster;
}

static void
open_next(void)
{
	struct perf_blob_target *t;
	struct bs_dev *dev;
	struct bs_opts opts;
	int rc;

	if (g_cur == g_num_targets) {
		g_open_done(0);
		return;
	}
	t = &g_targets[g_cur];
	rc = bs_dev_bdev_create(bdev_get_name(t->bdev), &g_perf_blob_claim, dev_event, t, &dev);
	if (rc != 0) {
		open_fail(t, rc == -EPERM ? "the bdev is claimed by a module" :
			  "cannot open the bdev for writing", rc);
		return;
	}
	bs_opts_init(&opts, sizeof(opts));
	if (g_perf.cluster_size)
		opts.cluster_sz = (uint32_t)g_perf.cluster_size;
	opts.clear_method = BS_CLEAR_WITH_NONE;
	opts.max_channel_ops = g_perf.queue_depth > BLOB_DEFAULT_CHANNEL_OPS ?
			       g_perf.queue_depth : BLOB_DEFAULT_CHANNEL_OPS;
	if (is_null_bdev(t->bdev)) {
		struct bs_dev *md = perf_mdmem_create(dev, md_bytes_bound(dev->blockcnt * dev->blocklen,
									   opts.cluster_sz,
									   dev->blocklen));

		if (md == NULL) {
			dev->destroy(dev);
			open_fail(t, "cannot keep its metadata in memory", -ENOMEM);
			return;
		}
		dev = md;
		t->mdmem = true;
	}
	t->dev = dev;
	bs_init(dev, &opts, store_made, t);
}

void
perf_blob_open_all(struct bdev **bdevs, uint32_t n, void (*done)(int rc))
{
	g_targets = calloc(n, sizeof(*g_targets));
	if (g_targets == NULL) {
		done(-ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		g_targets[i].bdev = bdevs[i];
		g_targets[i].blob_id = BLOB_ID_INVALID;
	}
	g_num_targets = n;
	g_cur = 0;
	g_open_done = done;
	open_next();
}

/* ---- the end ------------------------------------------------------------------ */

static void close_next(void);

static void
store_unloaded(void *arg, int bserrno)
{
	struct perf_blob_target *t = arg;

	if (bserrno != 0)
		fprintf(stderr, "lvstor-perf: unloading the blobstore on %s: %s\n",
			bdev_get_name(t->bdev), strerror(-bserrno));
	g_cur++;
	close_next();
}

static void
blob_closed(void *arg, int bserrno)
{
	struct perf_blob_target *t = arg;

	if (bserrno != 0)
		fprintf(stderr, "lvstor-perf: closing the blob on %s: %s\n", bdev_get_name(t->bdev),
			strerror(-bserrno));
	t->blob = NULL;
	/* The run's data is not kept: the store goes with the run. */
	bs_unload(t->bs, store_unloaded, t);
}

static void
close_next(void)
{
	struct perf_blob_target *t;

	if (g_cur >= g_num_targets) {
		free(g_targets);
		g_targets = NULL;
		g_num_targets = 0;
		g_close_done();
		return;
	}
	t = &g_targets[g_cur];
	if (t->blob != NULL) {
		blob_close(t->blob, blob_closed, t);
		return;
	}
	if (t->bs != NULL) {
		bs_unload(t->bs, store_unloaded, t);
		return;
	}
	if (t->dev != NULL)
		t->dev->destroy(t->dev);
	g_cur++;
	close_next();
}

void
perf_blob_close_all(void (*done)(void))
{
	g_close_done = done;
	g_cur = 0;
	close_next();
}
