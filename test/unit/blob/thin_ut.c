/*
 * Unit tests of thin provisioning in the data path (lib/blob/thin.c) and
 * of reads through the back device (io.c's chain walk, dev_blob.c):
 *
 *  - a first write allocates exactly one cluster; what was never written
 *    reads zeroes; a full-cluster write needs no copy;
 *  - a partial first write to a clone copies the rest of the cluster from
 *    its parent; reads of a clone go down the chain, any depth, and read
 *    zeroes past a parent's end; write_zeroes allocates only where the
 *    parent has data;
 *  - concurrent first writes to one cluster from two threads allocate it
 *    once and keep every write;
 *  - -ENOSPC when the store is full, consistent afterwards;
 *  - release by unmap of a whole cluster of a thin blob without parent;
 *  - a failed copy / data write gives the claimed cluster back;
 *  - allocation survives unload / load;
 *  - the power-cut sweep over every device write of a sequence of first
 *    writes, with a volatile write cache and 4 KiB atomic units: after the
 *    reboot the store loads, every acknowledged write reads back, every
 *    other write is either fully there or its cluster unallocated, no
 *    cluster is leaked or owned twice, and lvstor-check accepts the image
 *    as the cut left it and after the reload and a clean unload.
 *
 * Clones are made through internal API (the snapshot code is someone
 * else's): the SNAP internal xattr of a thin blob names its parent, which
 * the next open picks up (spec §5.2).
 *
 * Geometry: 512-byte blocks, 16 KiB clusters (32 io units), 16 metadata
 * pages.
 */
#include "io_ut_helpers.h"
#include "ut_check_image.h"
#include "../common/ut_fault_dev.h"
#include "../../../lib/blob/blob_internal.h"
#include "../../../lib/blob/format.h"
#include "../../../lib/blob/request.h"

#define BL 512u
#define CLUSTER (16u * 1024u)
#define UPC (CLUSTER / BL)
#define CBYTES ((size_t)CLUSTER)
#define DEV_CLUSTERS 64u

/*
 * The store sits on a fault device over a memory device: unload destroys
 * the store's device, and the memory device (`base`) keeps the image.
 */
struct rig {
	struct bs_dev *base;
	struct bs_dev *dev;
	struct blob_store *bs;
	struct io_channel *ch;
};

static int
setup(void **state)
{
	ut_threads_init(2);
	return 0;
}

static int
teardown(void **state)
{
	ut_threads_fini();
	return 0;
}

static void
rig_opts(struct bs_opts *o, uint32_t max_ops)
{
	ut_bs_opts(o, CLUSTER, max_ops);
	o->num_md_pages = 16;
}

static void
rig_up_dev(struct rig *rig, struct bs_dev *base, const struct ut_fault_dev_opts *fo,
	   uint32_t max_ops)
{
	struct bs_opts o;

	ut_set_thread(0);
	rig->base = base;
	rig->dev = ut_fault_dev_create(base, fo);
	assert_non_null(rig->dev);
	rig_opts(&o, max_ops);
	rig->bs = ut_bs_init(rig->dev, &o);
	rig->ch = bs_alloc_io_channel(rig->bs);
	assert_non_null(rig->ch);
}

static void
rig_up(struct rig *rig, uint32_t max_ops)
{
	struct bs_dev *base = bs_dev_mem_create((uint64_t)DEV_CLUSTERS * CLUSTER / BL, BL);

	assert_non_null(base);
	rig_up_dev(rig, base, NULL, max_ops);
}

static void
rig_down(struct rig *rig)
{
	ut_set_thread(0);
	bs_free_io_channel(rig->ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(rig->bs), 0);
	rig->base->destroy(rig->base);
	ut_poll_threads();
}

static void
rig_reload(struct rig *rig)
{
	struct bs_opts o;

	bs_free_io_channel(rig->ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(rig->bs), 0);
	rig_opts(&o, 0);
	rig->dev = ut_fault_dev_create(rig->base, NULL);
	assert_int_equal(ut_bs_load(rig->dev, &o, &rig->bs), 0);
	rig->ch = bs_alloc_io_channel(rig->bs);
}

/* Makes closed thin blob `child` a clone of closed blob `parent` (SNAP, spec §5.2). */
static void
make_clone(struct blob_store *bs, blob_id child, blob_id parent)
{
	struct blob *c = ut_open(bs, child);
	uint8_t v[8];

	bsf_store_le64(v, parent);
	assert_int_equal(blob_set_xattr_internal(c, BSF_XATTR_SNAP, v, sizeof(v)), 0);
	assert_int_equal(ut_sync_md(c), 0);
	bs_parent_index_set(bs, child, parent);
	ut_close(c);
}

/* A thick blob filled with pattern `seed`, made read-only. */
static blob_id
make_parent(struct rig *rig, uint64_t clusters, uint32_t seed, uint8_t *data)
{
	blob_id id = ut_create(rig->bs, clusters, false);
	struct blob *p = ut_open(rig->bs, id);

	ut_fill(data, clusters * CBYTES, seed);
	assert_int_equal(ut_write(p, rig->ch, data, 0, clusters * UPC), 0);
	assert_int_equal(blob_set_read_only(p), 0);
	assert_int_equal(ut_sync_md(p), 0);
	ut_close(p);
	return id;
}

/* Clusters of the blob's map, all distinct and marked used. */
static void
check_map_sane(struct blob *blob)
{
	struct blob_store *bs = blob->bs;
	uint64_t i, j;

	for (i = 0; i < blob->active.num_clusters; i++) {
		uint32_t c = blob->active.clusters[i];

		if (c == 0)
			continue;
		assert_true(c >= bs->num_md_clusters && c < bs->total_clusters);
		assert_true(bit_array_get(bs->used_clusters, c));
		for (j = i + 1; j < blob->active.num_clusters; j++)
			assert_int_not_equal(c, blob->active.clusters[j]);
	}
}

/* ---- first writes ------------------------------------------------------------------------- */

static void
test_first_write_allocates_one_cluster(void **state)
{
	struct rig rig;
	struct blob *blob;
	uint8_t *w = malloc(2 * CBYTES), *r = malloc(2 * CBYTES);
	uint64_t free0;

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 8, true));
	free0 = bs_get_free_cluster_count(rig.bs);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 0);
	/* Never written: zeroes, and nothing allocated by a read. */
	assert_int_equal(ut_read(blob, rig.ch, r, 0, 8), 0);
	assert_true(ut_is_zero(r, 8 * BL));
	ut_fill(w, 3 * BL, 1);
	assert_int_equal(ut_write(blob, rig.ch, w, 3 * UPC + 5, 3), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 1);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 1);
	assert_int_equal(ut_read(blob, rig.ch, r, 3 * UPC, UPC), 0);
	assert_true(ut_is_zero(r, 5 * BL));
	assert_memory_equal(r + 5 * BL, w, 3 * BL);
	assert_true(ut_is_zero(r + 8 * BL, CBYTES - 8 * BL));
	assert_int_equal(ut_read(blob, rig.ch, r, 2 * UPC, UPC), 0);
	assert_true(ut_is_zero(r, CBYTES));
	/* Again into the same cluster: no new allocation. */
	assert_int_equal(ut_write(blob, rig.ch, w, 3 * UPC + 20, 1), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 1);
	/* Across two boundaries: slots 4, 5 (whole, no copy) and 6. */
	ut_fill(w, 2 * CBYTES, 2);
	assert_int_equal(ut_write(blob, rig.ch, w, 5 * UPC - 1, UPC + 2), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 4);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 4);
	assert_int_equal(ut_read(blob, rig.ch, r, 5 * UPC - 1, UPC + 2), 0);
	assert_memory_equal(r, w, (UPC + 2) * BL);
	/* Zeroes where nothing is: no allocation either. */
	assert_int_equal(ut_io(UT_WZ, blob, rig.ch, NULL, NULL, 0, 0, 2 * UPC), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 4);
	check_map_sane(blob);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

static void
test_allocation_survives_reload(void **state)
{
	struct rig rig;
	struct blob *blob;
	blob_id id;
	uint8_t *w = malloc(CBYTES), *r = malloc(CBYTES);
	uint64_t free1;

	rig_up(&rig, 0);
	id = ut_create(rig.bs, 600, true);          /* two extent groups */
	blob = ut_open(rig.bs, id);
	ut_fill(w, CBYTES, 3);
	assert_int_equal(ut_write(blob, rig.ch, w, 2 * UPC + 1, 4), 0);
	assert_int_equal(ut_write(blob, rig.ch, w, 550 * UPC, UPC), 0);
	assert_int_equal(ut_write(blob, rig.ch, w + BL, 2 * UPC + 9, 1), 0);
	free1 = bs_get_free_cluster_count(rig.bs);
	ut_close(blob);
	rig_reload(&rig);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free1);
	blob = ut_open(rig.bs, id);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 2);
	assert_int_equal(ut_read(blob, rig.ch, r, 2 * UPC, UPC), 0);
	assert_true(ut_is_zero(r, BL));
	assert_memory_equal(r + BL, w, 4 * BL);
	assert_memory_equal(r + 9 * BL, w + BL, BL);
	assert_int_equal(ut_read(blob, rig.ch, r, 550 * UPC, UPC), 0);
	assert_memory_equal(r, w, CBYTES);
	check_map_sane(blob);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

/* ---- clones: reads down the chain, copy on first write --------------------------------------- */

static void
test_clone_reads_chain_and_copies_on_write(void **state)
{
	struct rig rig;
	uint8_t *pdata = malloc(4 * CBYTES), *exp = malloc(6 * CBYTES), *r = malloc(6 * CBYTES);
	uint8_t w[4 * BL];
	blob_id pid, cid, gid;
	struct blob *c, *g, *p;
	uint64_t free0;

	rig_up(&rig, 0);
	pid = make_parent(&rig, 4, 10, pdata);
	cid = ut_create(rig.bs, 4, true);
	make_clone(rig.bs, cid, pid);
	c = ut_open(rig.bs, cid);
	assert_non_null(c->parent);
	assert_int_equal(blob_get_num_allocated_clusters(c), 0);
	/* Reads of a clone come from its parent. */
	assert_int_equal(ut_read(c, rig.ch, r, 0, 4 * UPC), 0);
	assert_memory_equal(r, pdata, 4 * CBYTES);
	/* A partial write copies the rest of the cluster from the parent. */
	free0 = bs_get_free_cluster_count(rig.bs);
	ut_fill(w, 2 * BL, 11);
	assert_int_equal(ut_write(c, rig.ch, w, UPC + 10, 2), 0);
	assert_int_equal(blob_get_num_allocated_clusters(c), 1);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 1);
	memcpy(exp, pdata, 4 * CBYTES);
	memcpy(exp + (UPC + 10) * BL, w, 2 * BL);
	/* A whole-cluster write (no copy needed). */
	ut_fill(exp + 2 * CBYTES, CBYTES, 12);
	assert_int_equal(ut_write(c, rig.ch, exp + 2 * CBYTES, 2 * UPC, UPC), 0);
	/* write_zeroes where the parent has data: allocate, copy, zero. */
	assert_int_equal(ut_io(UT_WZ, c, rig.ch, NULL, NULL, 0, 3 * UPC + 4, 3), 0);
	memset(exp + (3 * UPC + 4) * BL, 0, 3 * BL);
	assert_int_equal(blob_get_num_allocated_clusters(c), 3);
	assert_int_equal(ut_read(c, rig.ch, r, 0, 4 * UPC), 0);
	assert_memory_equal(r, exp, 4 * CBYTES);
	/* The parent did not change. */
	p = ut_open(rig.bs, pid);
	assert_int_equal(ut_read(p, rig.ch, r, 0, 4 * UPC), 0);
	assert_memory_equal(r, pdata, 4 * CBYTES);
	ut_close(p);
	/* An unmap of a whole cluster of a clone does not release it. */
	assert_int_equal(ut_io(UT_UNMAP, c, rig.ch, NULL, NULL, 0, 2 * UPC, UPC), 0);
	assert_int_equal(blob_get_num_allocated_clusters(c), 3);
	memset(exp + 2 * CBYTES, 0, CBYTES);        /* the memory device unmaps to zeroes */
	check_map_sane(c);
	ut_close(c);

	/* A grandchild larger than its parent: depth 2, zeroes past the end. */
	gid = ut_create(rig.bs, 6, true);
	make_clone(rig.bs, gid, cid);
	g = ut_open(rig.bs, gid);
	memset(exp + 4 * CBYTES, 0, 2 * CBYTES);
	assert_int_equal(ut_read(g, rig.ch, r, 0, 6 * UPC), 0);
	assert_memory_equal(r, exp, 6 * CBYTES);
	/* First write in the grandchild copies from the grandparent (slot 0). */
	ut_fill(w, BL, 13);
	assert_int_equal(ut_write(g, rig.ch, w, 7, 1), 0);
	memcpy(exp + 7 * BL, w, BL);
	/* ... and past the parent's end, from nothing. */
	assert_int_equal(ut_write(g, rig.ch, w, 5 * UPC + 1, 1), 0);
	memcpy(exp + (5 * UPC + 1) * BL, w, BL);
	assert_int_equal(blob_get_num_allocated_clusters(g), 2);
	assert_int_equal(ut_read(g, rig.ch, r, 0, 6 * UPC), 0);
	assert_memory_equal(r, exp, 6 * CBYTES);
	ut_close(g);

	/* All of it after a reload. */
	rig_reload(&rig);
	g = ut_open(rig.bs, gid);
	memset(r, 0, 6 * CBYTES);
	assert_int_equal(ut_read(g, rig.ch, r, 0, 6 * UPC), 0);
	assert_memory_equal(r, exp, 6 * CBYTES);
	ut_close(g);
	rig_down(&rig);
	free(pdata);
	free(exp);
	free(r);
}

static void
test_allocate_and_copy(void **state)
{
	struct rig rig;
	uint8_t *pdata = malloc(2 * CBYTES), *r = malloc(CBYTES);
	struct ut_res res = { 0 };
	blob_id pid, cid;
	struct blob *c;

	rig_up(&rig, 0);
	pid = make_parent(&rig, 2, 20, pdata);
	cid = ut_create(rig.bs, 2, true);
	make_clone(rig.bs, cid, pid);
	c = ut_open(rig.bs, cid);
	blob_cluster_allocate_and_copy(c, rig.ch, 1, ut_op_cb, &res);
	ut_wait(&res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(blob_get_num_allocated_clusters(c), 1);
	assert_int_not_equal(c->active.clusters[1], 0);
	assert_memory_equal(bs_dev_mem_data(rig.base) + (size_t)c->active.clusters[1] * CLUSTER,
			    pdata + CBYTES, CBYTES);
	/* Again: already allocated, nothing happens. */
	memset(&res, 0, sizeof(res));
	blob_cluster_allocate_and_copy(c, rig.ch, 1, ut_op_cb, &res);
	ut_wait(&res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(blob_get_num_allocated_clusters(c), 1);
	memset(&res, 0, sizeof(res));
	blob_cluster_allocate_and_copy(c, rig.ch, 2, ut_op_cb, &res);
	ut_wait(&res);
	assert_int_equal(res.rc, -EINVAL);
	assert_int_equal(ut_read(c, rig.ch, r, UPC, UPC), 0);
	assert_memory_equal(r, pdata + CBYTES, CBYTES);
	ut_close(c);
	rig_down(&rig);
	free(pdata);
	free(r);
}

/*
 * An external back device (esnap) shorter than the blob: reads come from
 * it through the channel's channel to it, past its end read zeroes, and a
 * first write copies only what it has. The device is set on the open
 * handle (the esnap plumbing is the snapshot code's); the blob's close
 * destroys it.
 */
static void
test_esnap_back_device(void **state)
{
	struct rig rig;
	struct bs_dev *esnap = bs_dev_mem_create(UPC + UPC / 2, BL);   /* 1.5 clusters */
	uint8_t *edata = malloc(CBYTES + CBYTES / 2), *exp = calloc(3, CBYTES);
	uint8_t *r = malloc(3 * CBYTES), w[BL];
	struct blob *c;
	struct io_channel *ch1;

	rig_up(&rig, 0);
	ut_fill(edata, CBYTES + CBYTES / 2, 110);
	memcpy(bs_dev_mem_data(esnap), edata, CBYTES + CBYTES / 2);
	memcpy(exp, edata, CBYTES + CBYTES / 2);
	c = ut_open(rig.bs, ut_create(rig.bs, 3, true));
	c->back_bs_dev = esnap;
	assert_int_equal(ut_read(c, rig.ch, r, 0, 3 * UPC), 0);
	assert_memory_equal(r, exp, 3 * CBYTES);
	/* From the other thread too (its own channel to the device). */
	ut_set_thread(1);
	ch1 = bs_alloc_io_channel(rig.bs);
	memset(r, 0xee, 3 * CBYTES);
	assert_int_equal(ut_read(c, ch1, r, UPC - 2, UPC + 4), 0);
	assert_memory_equal(r, exp + (UPC - 2) * BL, (UPC + 4) * BL);
	bs_free_io_channel(ch1);
	ut_set_thread(0);
	/* First write in slot 1: copies the half the device has. */
	ut_fill(w, BL, 111);
	assert_int_equal(ut_write(c, rig.ch, w, UPC + 3, 1), 0);
	memcpy(exp + (UPC + 3) * BL, w, BL);
	/* ... and in slot 2, past the device's end: nothing to copy. */
	assert_int_equal(ut_write(c, rig.ch, w, 2 * UPC + 30, 1), 0);
	memcpy(exp + (2 * UPC + 30) * BL, w, BL);
	assert_int_equal(blob_get_num_allocated_clusters(c), 2);
	/* The device changes: unallocated slot 0 follows it, slot 1 does not. */
	memset(bs_dev_mem_data(esnap), 0x77, CBYTES + CBYTES / 2);
	memset(exp, 0x77, CBYTES);
	assert_int_equal(ut_read(c, rig.ch, r, 0, 3 * UPC), 0);
	assert_memory_equal(r, exp, 3 * CBYTES);
	ut_close(c);
	rig_down(&rig);
	free(edata);
	free(exp);
	free(r);
}

/* ---- concurrency --------------------------------------------------------------------------------- */

static void
concurrent_first_writes(bool clone)
{
	struct rig rig;
	struct io_channel *ch1;
	uint8_t *pdata = malloc(2 * CBYTES), *exp = malloc(2 * CBYTES), *r = malloc(CBYTES);
	uint8_t wa[2 * BL], wb[2 * BL], wc[2 * BL];
	struct ut_res a = { 0 }, b = { 0 }, c = { 0 };
	blob_id id;
	struct blob *blob;
	uint64_t free0;

	rig_up(&rig, 0);
	memset(exp, 0, 2 * CBYTES);
	id = ut_create(rig.bs, 2, true);
	if (clone) {
		make_clone(rig.bs, id, make_parent(&rig, 2, 30, pdata));
		memcpy(exp, pdata, 2 * CBYTES);
	}
	blob = ut_open(rig.bs, id);
	free0 = bs_get_free_cluster_count(rig.bs);
	ut_fill(wa, sizeof(wa), 31);
	ut_fill(wb, sizeof(wb), 32);
	ut_fill(wc, sizeof(wc), 33);
	ut_set_thread(1);
	ch1 = bs_alloc_io_channel(rig.bs);
	blob_io_write(blob, ch1, wa, UPC + 0, 2, ut_op_cb, &a);
	blob_io_write(blob, ch1, wc, UPC + 30, 2, ut_op_cb, &c);
	ut_set_thread(0);
	blob_io_write(blob, rig.ch, wb, UPC + 5, 2, ut_op_cb, &b);
	ut_poll_threads();
	assert_int_equal(a.calls + b.calls + c.calls, 3);
	assert_int_equal(a.rc | b.rc | c.rc, 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 1);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 1);
	memcpy(exp + CBYTES, wa, sizeof(wa));
	memcpy(exp + CBYTES + 5 * BL, wb, sizeof(wb));
	memcpy(exp + CBYTES + 30 * BL, wc, sizeof(wc));
	assert_int_equal(ut_read(blob, rig.ch, r, UPC, UPC), 0);
	assert_memory_equal(r, exp + CBYTES, CBYTES);
	ut_set_thread(1);
	bs_free_io_channel(ch1);
	ut_set_thread(0);
	check_map_sane(blob);
	ut_close(blob);
	rig_down(&rig);
	free(pdata);
	free(exp);
	free(r);
}

static void
test_concurrent_first_writes_allocate_once(void **state)
{
	concurrent_first_writes(false);
}

static void
test_concurrent_first_writes_to_clone_copy_once(void **state)
{
	concurrent_first_writes(true);
}

struct ordered {
	struct ut_res res;
	int *clock;
	int at;
};

static void
ordered_cb(void *arg, int rc)
{
	struct ordered *o = arg;

	ut_op_cb(&o->res, rc);
	o->at = ++*o->clock;
}

/*
 * blob_insert_cluster shows the new cluster in the map before its commit:
 * writes that find it there (or any allocated slot) meanwhile go through
 * the md thread and are acknowledged only after the commit.
 */
static void
test_write_while_allocation_pending_waits_for_commit(void **state)
{
	struct rig rig;
	struct blob *blob;
	struct io_channel *ch1;
	uint8_t w0[BL], w1[BL], w2[BL], r[BL];
	int clock = 0, i;
	struct ordered first = { .clock = &clock }, same = { .clock = &clock },
		       other = { .clock = &clock };

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 4, true));
	ut_fill(w0, BL, 120);
	ut_fill(w1, BL, 121);
	ut_fill(w2, BL, 122);
	assert_int_equal(ut_write(blob, rig.ch, w0, 0, 1), 0);
	ut_set_thread(1);
	ch1 = bs_alloc_io_channel(rig.bs);
	blob_io_write(blob, ch1, w1, UPC + 1, 1, ordered_cb, &first);
	/* Step the threads until the commit is under way. */
	for (i = 0; i < 10000 && !(blob_thin_pending(blob) && blob->active.clusters[1] != 0); i++) {
		ut_poll_thread(0);
		ut_poll_thread(1);
	}
	assert_true(blob_thin_pending(blob));
	assert_int_not_equal(blob->active.clusters[1], 0);
	assert_int_equal(first.res.calls, 0);
	blob_io_write(blob, ch1, w2, UPC + 2, 1, ordered_cb, &same);
	ut_set_thread(0);
	blob_io_write(blob, rig.ch, w2, 1, 1, ordered_cb, &other);
	ut_poll_threads();
	assert_int_equal(first.res.calls + same.res.calls + other.res.calls, 3);
	assert_int_equal(first.res.rc | same.res.rc | other.res.rc, 0);
	assert_true(same.at > first.at);
	assert_false(blob_thin_pending(blob));
	assert_int_equal(blob_get_num_allocated_clusters(blob), 2);
	assert_int_equal(ut_read(blob, rig.ch, r, UPC + 1, 1), 0);
	assert_memory_equal(r, w1, BL);
	assert_int_equal(ut_read(blob, rig.ch, r, UPC + 2, 1), 0);
	assert_memory_equal(r, w2, BL);
	assert_int_equal(ut_read(blob, rig.ch, r, 1, 1), 0);
	assert_memory_equal(r, w2, BL);
	ut_set_thread(1);
	bs_free_io_channel(ch1);
	ut_set_thread(0);
	ut_close(blob);
	rig_down(&rig);
}

/* max_channel_ops = 1 with first writes, overlapping slots, and reads. */
static void
test_pool_of_one_with_first_writes(void **state)
{
	struct rig rig;
	struct blob *blob;
	enum { N = 24 };
	struct ut_res res[N], rd = { 0 };
	uint8_t *w = malloc(N * BL), *r = malloc(8 * CBYTES);
	int i;

	rig_up(&rig, 1);
	blob = ut_open(rig.bs, ut_create(rig.bs, 8, true));
	ut_fill(w, N * BL, 40);
	memset(res, 0, sizeof(res));
	for (i = 0; i < N; i++)
		blob_io_write(blob, rig.ch, w + i * BL, (uint64_t)(i % 8) * UPC + i, 1, ut_op_cb,
			      &res[i]);
	blob_io_read(blob, rig.ch, r, 0, 8 * UPC, ut_op_cb, &rd);
	ut_poll_threads();
	for (i = 0; i < N; i++) {
		assert_int_equal(res[i].calls, 1);
		assert_int_equal(res[i].rc, 0);
	}
	assert_int_equal(rd.calls, 1);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 8);
	assert_int_equal(ut_read(blob, rig.ch, r, 0, 8 * UPC), 0);
	for (i = 0; i < N; i++)
		assert_memory_equal(r + ((size_t)(i % 8) * UPC + i) * BL, w + i * BL, BL);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

/* ---- out of space ---------------------------------------------------------------------------------- */

static void
test_enospc_fails_write_and_stays_consistent(void **state)
{
	struct rig rig;
	struct blob *blob;
	blob_id id;
	uint64_t nfree, i;
	uint8_t w[BL], r[BL];

	rig_up(&rig, 0);
	nfree = bs_get_free_cluster_count(rig.bs);
	id = ut_create(rig.bs, nfree + 2, true);
	blob = ut_open(rig.bs, id);
	for (i = 0; i < nfree; i++) {
		ut_fill(w, BL, (uint32_t)i);
		assert_int_equal(ut_write(blob, rig.ch, w, i * UPC + 1, 1), 0);
	}
	assert_int_equal(bs_get_free_cluster_count(rig.bs), 0);
	assert_int_equal(ut_write(blob, rig.ch, w, nfree * UPC, 1), -ENOSPC);
	assert_int_equal(ut_io(UT_WZ, blob, rig.ch, NULL, NULL, 0, nfree * UPC, 1), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), nfree);
	/* Writes to allocated clusters still work. */
	assert_int_equal(ut_write(blob, rig.ch, w, 2, 1), 0);
	assert_int_equal(ut_read(blob, rig.ch, r, 2, 1), 0);
	assert_memory_equal(r, w, BL);
	/* Reads past what could be allocated are zeroes. */
	assert_int_equal(ut_read(blob, rig.ch, r, (nfree + 1) * UPC, 1), 0);
	assert_true(ut_is_zero(r, BL));
	ut_close(blob);
	rig_reload(&rig);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), 0);
	blob = ut_open(rig.bs, id);
	check_map_sane(blob);
	for (i = 3; i < nfree; i++) {
		ut_fill(w, BL, (uint32_t)i);
		assert_int_equal(ut_read(blob, rig.ch, r, i * UPC + 1, 1), 0);
		assert_memory_equal(r, w, BL);
	}
	ut_close(blob);
	rig_down(&rig);
}

/* ---- release by unmap -------------------------------------------------------------------------------- */

static void
test_unmap_releases_whole_cluster(void **state)
{
	struct rig rig;
	struct blob *blob;
	blob_id id;
	uint8_t *w = malloc(CBYTES), *r = malloc(CBYTES);
	uint64_t free0;

	rig_up(&rig, 0);
	id = ut_create(rig.bs, 4, true);
	blob = ut_open(rig.bs, id);
	free0 = bs_get_free_cluster_count(rig.bs);
	ut_fill(w, CBYTES, 50);
	assert_int_equal(ut_write(blob, rig.ch, w, UPC, UPC), 0);
	assert_int_equal(ut_write(blob, rig.ch, w, 2 * UPC + 3, 2), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 2);
	/* Part of a cluster: passed to the device, nothing released. */
	assert_int_equal(ut_io(UT_UNMAP, blob, rig.ch, NULL, NULL, 0, UPC, UPC / 2), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 2);
	/* Exactly the cluster: released. */
	assert_int_equal(ut_io(UT_UNMAP, blob, rig.ch, NULL, NULL, 0, UPC, UPC), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 1);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 1);
	assert_int_equal(ut_read(blob, rig.ch, r, UPC, UPC), 0);
	assert_true(ut_is_zero(r, CBYTES));
	/* A range covering slot 2 whole and part of slot 3 (unallocated). */
	assert_int_equal(ut_io(UT_UNMAP, blob, rig.ch, NULL, NULL, 0, 2 * UPC, UPC + 5), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 0);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0);
	/* A new first write reads zeroes around its data (the cluster was unmapped). */
	assert_int_equal(ut_write(blob, rig.ch, w, 3 * UPC + 1, 1), 0);
	assert_int_equal(ut_read(blob, rig.ch, r, 3 * UPC, UPC), 0);
	assert_true(ut_is_zero(r, BL));
	assert_memory_equal(r + BL, w, BL);
	assert_true(ut_is_zero(r + 2 * BL, CBYTES - 2 * BL));
	ut_close(blob);
	rig_reload(&rig);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 1);
	blob = ut_open(rig.bs, id);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 1);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

/* Unmaps of whole clusters racing with writes from another thread. */
static void
test_unmap_release_races_with_writes(void **state)
{
	struct rig rig;
	struct blob *blob;
	struct io_channel *ch1;
	struct ut_res u[4], wr[4];
	uint8_t *w = malloc(CBYTES), *r = malloc(CBYTES);
	int i;

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 4, true));
	ut_fill(w, CBYTES, 60);
	for (i = 0; i < 4; i++)
		assert_int_equal(ut_write(blob, rig.ch, w, (uint64_t)i * UPC, UPC), 0);
	ut_set_thread(1);
	ch1 = bs_alloc_io_channel(rig.bs);
	memset(u, 0, sizeof(u));
	memset(wr, 0, sizeof(wr));
	for (i = 0; i < 4; i++)
		blob_io_write(blob, ch1, w, (uint64_t)i * UPC + 3, 1, ut_op_cb, &wr[i]);
	ut_set_thread(0);
	for (i = 0; i < 4; i++)
		blob_io_unmap(blob, rig.ch, (uint64_t)i * UPC, UPC, ut_op_cb, &u[i]);
	ut_poll_threads();
	for (i = 0; i < 4; i++) {
		assert_int_equal(u[i].calls, 1);
		assert_int_equal(wr[i].calls, 1);
		assert_int_equal(u[i].rc | wr[i].rc, 0);
	}
	check_map_sane(blob);
	assert_int_equal(bs_get_free_cluster_count(rig.bs) + blob_get_num_allocated_clusters(blob),
			 bs_get_total_data_cluster_count(rig.bs));
	ut_set_thread(1);
	bs_free_io_channel(ch1);
	ut_set_thread(0);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

/* ---- failures ----------------------------------------------------------------------------------------- */

static void
test_failed_fill_gives_cluster_back(void **state)
{
	struct rig rig;
	struct blob *blob;
	uint8_t w[BL], r[BL];
	uint64_t free0;

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 2, true));
	free0 = bs_get_free_cluster_count(rig.bs);
	ut_fill(w, BL, 70);
	ut_fault_dev_fail_nth(rig.dev, UT_FAULT_WRITE, 0, -EIO);
	assert_int_equal(ut_write(blob, rig.ch, w, 4, 1), -EIO);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 0);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0);
	assert_int_equal(ut_write(blob, rig.ch, w, 4, 1), 0);
	assert_int_equal(ut_read(blob, rig.ch, r, 4, 1), 0);
	assert_memory_equal(r, w, BL);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 1);
	ut_close(blob);
	rig_down(&rig);
}

/* ---- dev_blob --------------------------------------------------------------------------------------------- */

static void
dev_cb(void *arg, int rc)
{
	ut_op_cb(arg, rc);
}

static void
test_blob_as_bs_dev(void **state)
{
	struct rig rig;
	uint8_t *pdata = malloc(2 * CBYTES), *r = malloc(3 * CBYTES);
	struct ut_res res = { 0 };
	struct bs_dev *dev;
	struct io_channel *dch;
	struct iovec iov[2];
	blob_id pid;

	rig_up(&rig, 0);
	pid = make_parent(&rig, 2, 80, pdata);
	dev = bs_dev_blob_create(ut_open(rig.bs, pid));
	assert_non_null(dev);
	assert_int_equal(dev->blocklen, BL);
	dch = dev->create_channel(dev);
	/* Reads across the parent's end: data, then zeroes. */
	memset(r, 0xff, 3 * CBYTES);
	dev->read(dev, dch, r, UPC, 2 * UPC, dev_cb, &res);
	ut_wait(&res);
	assert_int_equal(res.rc, 0);
	assert_memory_equal(r, pdata + CBYTES, CBYTES);
	assert_true(ut_is_zero(r + CBYTES, CBYTES));
	memset(&res, 0, sizeof(res));
	iov[0].iov_base = r;
	iov[0].iov_len = 60 * BL;
	iov[1].iov_base = r + 60 * BL;
	iov[1].iov_len = 36 * BL;
	memset(r, 0xff, 3 * CBYTES);
	dev->readv(dev, dch, iov, 2, 0, 3 * UPC, dev_cb, &res);
	ut_wait(&res);
	assert_int_equal(res.rc, 0);
	assert_memory_equal(r, pdata, 2 * CBYTES);
	assert_true(ut_is_zero(r + 2 * CBYTES, CBYTES));
	memset(&res, 0, sizeof(res));
	dev->write(dev, dch, r, 0, 1, dev_cb, &res);
	ut_wait(&res);
	assert_int_equal(res.rc, -EPERM);
	assert_false(dev->is_zeroes(dev, 0, 1));
	assert_true(dev->is_zeroes(dev, 2 * UPC, 10));
	dev->destroy_channel(dev, dch);
	dev->destroy(dev);
	ut_poll_threads();
	rig_down(&rig);
	free(pdata);
	free(r);
}

/* ---- the power-cut sweep ----------------------------------------------------------------------------------- */

/* The writes of one sweep run: first writes to distinct slots of one blob. */
struct sweep_write {
	uint64_t off, len;
	int batch;          /* writes of one batch are submitted together */
};

static const struct sweep_write g_sweep[] = {
	{ 0 * UPC + 3, 2, 0 },          /* new extent page: chain persist */
	{ 1 * UPC + 0, UPC, 1 },        /* whole cluster, page in place */
	{ 3 * UPC + 31, 1, 2 },         /* partial, in place */
	{ 2 * UPC + 7, 4, 3 },          /* two at once */
	{ 5 * UPC + 1, 1, 3 },
};
#define SWEEP_N (sizeof(g_sweep) / sizeof(g_sweep[0]))

struct sweep_result {
	uint64_t writes;        /* device writes of the operation phase */
	bool acked[SWEEP_N];
};

static uint8_t g_sweep_data[SWEEP_N][CBYTES];

struct sweep_cfg {
	bool clone;     /* the blob is a clone of a written parent */
	bool torn;      /* torn writes at the cut (4 KiB atomic units) */
	bool reload;    /* a clean unload / load before the phase (dirty marking in it) */
	uint32_t seed;
};

/*
 * One run: a store on a fault device with a volatile cache, a thin blob
 * (a clone of a written parent when cfg->clone), then the writes of
 * g_sweep with the power cut after `cut` device writes of that phase
 * (UT_FAULT_NEVER: no cut). Returns the surviving image.
 */
static struct bs_dev *
sweep_run(uint64_t cut, const struct sweep_cfg *cfg, uint32_t seed, struct sweep_result *res,
	  blob_id *idp, uint8_t *pdata)
{
	struct ut_fault_dev_opts fo;
	struct bs_dev *base = bs_dev_mem_create((uint64_t)DEV_CLUSTERS * CLUSTER / BL, BL);
	struct bs_dev *dev, *image;
	struct rig rig;
	struct blob *blob;
	struct ut_res r[SWEEP_N];
	uint64_t start;
	size_t i;
	int batch;

	ut_fault_dev_opts_init(&fo, sizeof(fo));
	fo.drop_unflushed = true;
	fo.atomic_unit = 4096;
	fo.torn_writes = cfg->torn;
	fo.seed = seed;
	rig_up_dev(&rig, base, &fo, 0);
	*idp = ut_create(rig.bs, 8, true);
	if (cfg->clone)
		make_clone(rig.bs, *idp, make_parent(&rig, 8, 90, pdata));
	if (cfg->reload) {
		struct bs_opts o;

		bs_free_io_channel(rig.ch);
		ut_poll_threads();
		assert_int_equal(ut_bs_unload(rig.bs), 0);
		rig.dev = ut_fault_dev_create(base, &fo);
		rig_opts(&o, 0);
		assert_int_equal(ut_bs_load(rig.dev, &o, &rig.bs), 0);
		rig.ch = bs_alloc_io_channel(rig.bs);
	}
	dev = rig.dev;
	blob = ut_open(rig.bs, *idp);
	/* Durable set-up, then the phase under test. */
	{
		struct ut_res f = { 0 };

		blob_io_flush(blob, rig.ch, ut_op_cb, &f);
		ut_wait(&f);
		assert_int_equal(f.rc, 0);
	}
	start = ut_fault_dev_write_count(dev);
	if (cut != UT_FAULT_NEVER)
		ut_fault_dev_set_cut_after_writes(dev, start + cut);
	memset(r, 0, sizeof(r));
	for (batch = 0, i = 0; i < SWEEP_N; batch++) {
		size_t first = i;

		for (; i < SWEEP_N && g_sweep[i].batch == batch; i++)
			blob_io_write(blob, rig.ch, g_sweep_data[i], g_sweep[i].off, g_sweep[i].len,
				      ut_op_cb, &r[i]);
		ut_poll_threads();
		for (; first < i; first++) {
			assert_int_equal(r[first].calls, 1);
			res->acked[first] = r[first].rc == 0;
			if (cut == UT_FAULT_NEVER)
				assert_int_equal(r[first].rc, 0);
		}
	}
	res->writes = ut_fault_dev_write_count(dev) - start;
	ut_poll_threads();
	image = ut_fault_dev_image(dev);
	assert_non_null(image);
	/* Tear the old store down; after a cut this fails, and changes nothing. */
	{
		struct ut_res cr = { 0 };

		blob_close(blob, ut_op_cb, &cr);
		ut_wait(&cr);
	}
	bs_free_io_channel(rig.ch);
	ut_poll_threads();
	(void)ut_bs_unload(rig.bs);
	base->destroy(base);
	ut_poll_threads();
	return image;
}

static void
sweep_check(struct bs_dev *image, blob_id id, bool clone, const uint8_t *pdata,
	    const struct sweep_result *res, uint64_t cut)
{
	struct bs_opts o;
	struct blob_store *bs;
	struct io_channel *ch;
	struct blob *blob;
	uint8_t *r = malloc(CBYTES), *exp = malloc(CBYTES);
	uint64_t allocated = 0;
	size_t i;
	int rc;

	rig_opts(&o, 0);
	/* lvstor-check accepts the image as the cut left it (dirty)... */
	ut_check_image(image, UT_CHECK_CRASHED, "%s first writes, cut %lu",
		       clone ? "clone" : "thin", (unsigned long)cut);
	rc = ut_bs_load(ut_fault_dev_create(image, NULL), &o, &bs);
	if (rc != 0)
		fail_msg("cut %lu: the store does not load: %d", (unsigned long)cut, rc);
	ch = bs_alloc_io_channel(bs);
	blob = ut_open(bs, id);
	check_map_sane(blob);
	for (i = 0; i < SWEEP_N; i++) {
		uint64_t slot = g_sweep[i].off / UPC, in = g_sweep[i].off % UPC;
		bool allocated_slot = blob->active.clusters[slot] != 0;

		if (clone)
			memcpy(exp, pdata + slot * CBYTES, CBYTES);
		else
			memset(exp, 0, CBYTES);
		assert_int_equal(ut_read(blob, ch, r, slot * UPC, UPC), 0);
		if (allocated_slot)
			memcpy(exp + in * BL, g_sweep_data[i], g_sweep[i].len * BL);
		else if (res->acked[i])
			fail_msg("cut %lu: acknowledged write %zu lost (slot unallocated)",
				 (unsigned long)cut, i);
		if (memcmp(r, exp, CBYTES) != 0)
			fail_msg("cut %lu: write %zu: slot %lu (%s) holds the wrong data",
				 (unsigned long)cut, i, (unsigned long)slot,
				 allocated_slot ? "allocated" : "unallocated");
		allocated += allocated_slot;
	}
	assert_int_equal(blob_get_num_allocated_clusters(blob), allocated);
	/* No cluster leaked: every used data cluster belongs to a blob. */
	assert_int_equal(bs_get_free_cluster_count(bs) + allocated + (clone ? 8 : 0),
			 bs_get_total_data_cluster_count(bs));
	ut_close(blob);
	bs_free_io_channel(ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(bs), 0);
	/* ...and as the reload and a clean unload left it. */
	ut_check_image(image, UT_CHECK_CLEAN, "%s first writes, cut %lu",
		       clone ? "clone" : "thin", (unsigned long)cut);
	image->destroy(image);
	ut_poll_threads();
	free(r);
	free(exp);
}

static void
sweep(const struct sweep_cfg *cfg)
{
	bool clone = cfg->clone;
	struct sweep_result res;
	uint8_t *pdata = malloc(8 * CBYTES);
	struct bs_dev *image;
	blob_id id;
	uint64_t total, n;
	size_t i;

	for (i = 0; i < SWEEP_N; i++)
		ut_fill(g_sweep_data[i], CBYTES, 100 + (uint32_t)i);
	memset(&res, 0, sizeof(res));
	image = sweep_run(UT_FAULT_NEVER, cfg, cfg->seed, &res, &id, pdata);
	total = res.writes;
	assert_true(total >= SWEEP_N * 2);
	print_message("power-cut sweep (%s%s%s): %lu device writes, cut after each\n",
		      clone ? "clone" : "thin", cfg->torn ? ", torn" : "",
		      cfg->reload ? ", after a clean load" : "", (unsigned long)total);
	sweep_check(image, id, clone, pdata, &res, UT_FAULT_NEVER);
	for (n = 0; n <= total; n++) {
		memset(&res, 0, sizeof(res));
		image = sweep_run(n, cfg, cfg->seed + (uint32_t)n, &res, &id, pdata);
		sweep_check(image, id, clone, pdata, &res, n);
	}
	free(pdata);
}

static void
test_power_cut_sweep_thin_first_write(void **state)
{
	struct sweep_cfg cfg = { .seed = 1 };

	sweep(&cfg);
}

static void
test_power_cut_sweep_thin_first_write_torn(void **state)
{
	struct sweep_cfg cfg = { .torn = true, .seed = 7 };

	sweep(&cfg);
}

static void
test_power_cut_sweep_thin_first_write_after_clean_load(void **state)
{
	struct sweep_cfg cfg = { .torn = true, .reload = true, .seed = 3 };

	sweep(&cfg);
}

static void
test_power_cut_sweep_clone_first_write(void **state)
{
	struct sweep_cfg cfg = { .clone = true, .torn = true, .reload = true, .seed = 11 };

	sweep(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_write_allocates_one_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation_survives_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_reads_chain_and_copies_on_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_allocate_and_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_esnap_back_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_first_writes_allocate_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_first_writes_to_clone_copy_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_while_allocation_pending_waits_for_commit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_of_one_with_first_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_fails_write_and_stays_consistent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unmap_releases_whole_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_release_races_with_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_fill_gives_cluster_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_as_bs_dev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_sweep_thin_first_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_sweep_thin_first_write_torn, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_sweep_thin_first_write_after_clean_load,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_sweep_clone_first_write, setup, teardown),
	};

	/* UT_FILTER="*sweep*" runs a subset (debugging). */
	if (getenv("UT_FILTER") != NULL)
		cmocka_set_test_filter(getenv("UT_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
