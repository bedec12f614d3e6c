/*
 * Unit tests of the blob data path (lib/blob/io.c, request.c): reads and
 * writes split on cluster boundaries with iovecs of any shape, the O(1)
 * address of every io unit on the device, argument errors (bounds,
 * read-only, iovec totals) completing after the submit returns,
 * write_zeroes / unmap / flush on thick blobs, request-pool exhaustion
 * (max_channel_ops = 1), I/O from two threads, freeze / unfreeze, and
 * data surviving an unload / load.
 *
 * Geometry: 512-byte blocks (io units), 16 KiB clusters (32 io units per
 * cluster), a 64-cluster memory device with 16 metadata pages.
 */
#include "io_ut_helpers.h"
#include "../common/ut_fault_dev.h"
#include "../../../lib/blob/blob_internal.h"

#define BL 512u
#define CLUSTER (16u * 1024u)
#define UPC (CLUSTER / BL)
#define DEV_CLUSTERS 64u

/*
 * The store sits on a pass-through fault device over a memory device:
 * unload destroys the store's device, and the memory device (`base`)
 * keeps the image for the next load.
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
rig_up(struct rig *rig, uint32_t max_ops)
{
	struct bs_opts o;

	ut_set_thread(0);
	rig->base = bs_dev_mem_create((uint64_t)DEV_CLUSTERS * CLUSTER / BL, BL);
	assert_non_null(rig->base);
	rig->dev = ut_fault_dev_create(rig->base, NULL);
	assert_non_null(rig->dev);
	rig_opts(&o, max_ops);
	rig->bs = ut_bs_init(rig->dev, &o);
	assert_int_equal(bs_get_io_unit_size(rig->bs), BL);
	rig->ch = bs_alloc_io_channel(rig->bs);
	assert_non_null(rig->ch);
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

/* The device bytes of io unit u of a blob, through its map (spec §1.3). */
static const uint8_t *
dev_bytes(struct bs_dev *dev, struct blob *blob, uint64_t u)
{
	uint32_t c = blob->active.clusters[u / UPC];

	assert_int_not_equal(c, 0);
	return bs_dev_mem_data(ut_fault_dev_base(dev)) + (uint64_t)c * CLUSTER + (u % UPC) * BL;
}

/* ---- round trips ------------------------------------------------------------------ */

static void
test_rw_roundtrip_across_clusters_iov(void **state)
{
	struct rig rig;
	struct blob *blob;
	uint64_t len = 3 * UPC + 7, off = UPC - 5;     /* spans 5 slots */
	size_t bytes = len * BL;
	uint8_t *wbuf = malloc(bytes), *rbuf = malloc(bytes);
	/* Odd sizes that straddle block and cluster boundaries. */
	size_t wsz[] = { 100, 412, 3000, 1, 511, 7000, 12345 };
	size_t rsz[] = { 4096, 4096, 77, 9999, 1 };
	struct iovec wiov[64], riov[64];
	int wn = 0, rn = 0;
	size_t pos;
	uint64_t u;

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 6, false));
	assert_int_equal(blob_get_num_io_units(blob), 6 * UPC);
	ut_fill(wbuf, bytes, 1);
	for (pos = 0; pos < bytes; wn++) {
		size_t n = wsz[wn % 7] < bytes - pos ? wsz[wn % 7] : bytes - pos;

		wiov[wn].iov_base = wbuf + pos;
		wiov[wn].iov_len = n;
		pos += n;
	}
	for (pos = 0; pos < bytes; rn++) {
		size_t n = rsz[rn % 5] < bytes - pos ? rsz[rn % 5] : bytes - pos;

		riov[rn].iov_base = rbuf + pos;
		riov[rn].iov_len = n;
		pos += n;
	}
	assert_int_equal(ut_io(UT_WRV, blob, rig.ch, NULL, wiov, wn, off, len), 0);
	memset(rbuf, 0, bytes);
	assert_int_equal(ut_io(UT_RDV, blob, rig.ch, NULL, riov, rn, off, len), 0);
	assert_memory_equal(rbuf, wbuf, bytes);
	/* Each io unit sits where the map says (O(1) address). */
	for (u = 0; u < len; u++)
		assert_memory_equal(dev_bytes(rig.dev, blob, off + u), wbuf + u * BL, BL);
	/* Single-buffer read of the same range, and of a part of it. */
	memset(rbuf, 0, bytes);
	assert_int_equal(ut_read(blob, rig.ch, rbuf, off, len), 0);
	assert_memory_equal(rbuf, wbuf, bytes);
	assert_int_equal(ut_read(blob, rig.ch, rbuf, off + UPC, 2), 0);
	assert_memory_equal(rbuf, wbuf + UPC * BL, 2 * BL);
	ut_close(blob);
	rig_down(&rig);
	free(wbuf);
	free(rbuf);
}

/* More iovecs in one cluster than a piece carries: the piece is cut short. */
static void
test_many_iovecs_in_one_cluster(void **state)
{
	struct rig rig;
	struct blob *blob;
	enum { N = 100 };
	struct iovec iov[N];
	uint8_t *w = malloc(N * BL), *r = malloc(N * BL);
	int i;

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 4, false));
	ut_fill(w, N * BL, 2);
	/* 100 units over slots 0..3, one iovec per unit: 32 per piece at most. */
	for (i = 0; i < N; i++) {
		iov[i].iov_base = w + i * BL;
		iov[i].iov_len = BL;
	}
	assert_int_equal(ut_io(UT_WRV, blob, rig.ch, NULL, iov, N, 0, N), 0);
	for (i = 0; i < N; i++)
		iov[i].iov_base = r + i * BL;
	memset(r, 0, N * BL);
	assert_int_equal(ut_io(UT_RDV, blob, rig.ch, NULL, iov, N, 0, N), 0);
	assert_memory_equal(r, w, N * BL);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

static void
test_iovecs_finer_than_a_unit_refused(void **state)
{
	struct rig rig;
	struct blob *blob;
	enum { N = 40 };
	struct iovec iov[N];
	uint8_t buf[BL];
	int i;

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 1, false));
	/* 39 one-byte iovecs and the rest of the unit: 40 entries in one unit. */
	for (i = 0; i < N - 1; i++) {
		iov[i].iov_base = buf + i;
		iov[i].iov_len = 1;
	}
	iov[N - 1].iov_base = buf + N - 1;
	iov[N - 1].iov_len = BL - (N - 1);
	assert_int_equal(ut_io(UT_WRV, blob, rig.ch, NULL, iov, N, 0, 1), -EINVAL);
	/* 32 entries within the unit are fine. */
	for (i = 0; i < 31; i++) {
		iov[i].iov_base = buf + i;
		iov[i].iov_len = 1;
	}
	iov[31].iov_base = buf + 31;
	iov[31].iov_len = BL - 31;
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(ut_io(UT_WRV, blob, rig.ch, NULL, iov, 32, 0, 1), 0);
	ut_close(blob);
	rig_down(&rig);
}

/* ---- argument errors ---------------------------------------------------------------- */

static void
test_bounds_and_args(void **state)
{
	struct rig rig;
	struct blob *blob;
	uint8_t buf[4 * BL];
	struct iovec iov[2] = { { buf, BL }, { buf + BL, BL } };

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 2, false));
	assert_int_equal(ut_read(blob, rig.ch, buf, 2 * UPC, 1), -EINVAL);
	assert_int_equal(ut_write(blob, rig.ch, buf, 2 * UPC - 1, 2), -EINVAL);
	assert_int_equal(ut_read(blob, rig.ch, buf, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(ut_io(UT_WZ, blob, rig.ch, NULL, NULL, 0, 0, 2 * UPC + 1), -EINVAL);
	assert_int_equal(ut_io(UT_UNMAP, blob, rig.ch, NULL, NULL, 0, 1, 2 * UPC), -EINVAL);
	/* iovecs that do not add up to the length */
	assert_int_equal(ut_io(UT_WRV, blob, rig.ch, NULL, iov, 2, 0, 3), -EINVAL);
	assert_int_equal(ut_io(UT_RDV, blob, rig.ch, NULL, iov, 2, 0, 1), -EINVAL);
	assert_int_equal(ut_io(UT_RDV, blob, rig.ch, NULL, NULL, 0, 0, 1), -EINVAL);
	/* the last unit is fine; zero length is a no-op */
	assert_int_equal(ut_write(blob, rig.ch, buf, 2 * UPC - 1, 1), 0);
	assert_int_equal(ut_read(blob, rig.ch, buf, 0, 0), 0);
	assert_int_equal(ut_io(UT_WRV, blob, rig.ch, NULL, iov, 2, 2 * UPC - 2, 2), 0);
	ut_close(blob);
	rig_down(&rig);
}

static void
test_read_only_refuses_writes(void **state)
{
	struct rig rig;
	struct blob *blob;
	uint8_t buf[BL], rbuf[BL];

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 2, false));
	ut_fill(buf, BL, 3);
	assert_int_equal(ut_write(blob, rig.ch, buf, 5, 1), 0);
	assert_int_equal(blob_set_read_only(blob), 0);
	assert_int_equal(ut_sync_md(blob), 0);
	assert_true(blob_is_read_only(blob));
	assert_int_equal(ut_write(blob, rig.ch, buf, 5, 1), -EPERM);
	assert_int_equal(ut_io(UT_WZ, blob, rig.ch, NULL, NULL, 0, 0, 1), -EPERM);
	assert_int_equal(ut_io(UT_UNMAP, blob, rig.ch, NULL, NULL, 0, 0, 1), -EPERM);
	assert_int_equal(ut_read(blob, rig.ch, rbuf, 5, 1), 0);
	assert_memory_equal(rbuf, buf, BL);
	ut_close(blob);
	rig_down(&rig);
}

/* ---- write_zeroes, unmap, flush on a thick blob ---------------------------------------------- */

static void
test_thick_write_zeroes_unmap_flush(void **state)
{
	struct rig rig;
	struct blob *blob;
	size_t bytes = 3 * UPC * BL;
	uint8_t *w = malloc(bytes), *r = malloc(bytes);
	uint64_t free_before;
	struct ut_res res = { 0 };

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 3, false));
	free_before = bs_get_free_cluster_count(rig.bs);
	ut_fill(w, bytes, 4);
	assert_int_equal(ut_write(blob, rig.ch, w, 0, 3 * UPC), 0);
	/* zeroes across a cluster boundary */
	assert_int_equal(ut_io(UT_WZ, blob, rig.ch, NULL, NULL, 0, UPC - 3, 6), 0);
	memset(w + (UPC - 3) * BL, 0, 6 * BL);
	assert_int_equal(ut_read(blob, rig.ch, r, 0, 3 * UPC), 0);
	assert_memory_equal(r, w, bytes);
	/* unmap of a whole cluster of a thick blob keeps the cluster */
	assert_int_equal(ut_io(UT_UNMAP, blob, rig.ch, NULL, NULL, 0, 2 * UPC, UPC), 0);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 3);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free_before);
	assert_int_equal(ut_read(blob, rig.ch, r, 0, UPC), 0);
	assert_memory_equal(r, w, UPC * BL);
	blob_io_flush(blob, rig.ch, ut_op_cb, &res);
	ut_wait(&res);
	assert_int_equal(res.rc, 0);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

/* ---- request pool exhaustion -------------------------------------------------------------------- */

static void
test_pool_of_one_completes_everything(void **state)
{
	struct rig rig;
	struct blob *blob;
	enum { N = 40 };
	struct ut_res wr[N], rd[N], bad = { 0 };
	uint8_t *w = malloc(N * BL * 2), *r = calloc(N, BL * 2);
	int i;

	rig_up(&rig, 1);
	blob = ut_open(rig.bs, ut_create(rig.bs, 4, false));
	ut_fill(w, N * BL * 2, 5);
	memset(wr, 0, sizeof(wr));
	memset(rd, 0, sizeof(rd));
	/* Each write spans a cluster boundary for some i; then reads of each. */
	for (i = 0; i < N; i++)
		blob_io_write(blob, rig.ch, w + i * 2 * BL, (uint64_t)i * 2 + 7, 2, ut_op_cb,
			      &wr[i]);
	for (i = 0; i < N; i++)
		blob_io_read(blob, rig.ch, r + i * 2 * BL, (uint64_t)i * 2 + 7, 2, ut_op_cb,
			     &rd[i]);
	/* An error on a busy pool still completes (through the poller). */
	blob_io_read(blob, rig.ch, r, 4 * UPC, 1, ut_op_cb, &bad);
	for (i = 0; i < N; i++) {
		assert_int_equal(wr[i].calls, 0);
		assert_int_equal(rd[i].calls, 0);
	}
	ut_poll_threads();
	for (i = 0; i < N; i++) {
		assert_int_equal(wr[i].calls, 1);
		assert_int_equal(wr[i].rc, 0);
		assert_int_equal(rd[i].calls, 1);
		assert_int_equal(rd[i].rc, 0);
	}
	assert_int_equal(bad.calls, 1);
	assert_int_equal(bad.rc, -EINVAL);
	assert_memory_equal(r, w, N * 2 * BL);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

/* ---- two threads ------------------------------------------------------------------------------------ */

static void
test_io_from_two_threads(void **state)
{
	struct rig rig;
	struct blob *blob;
	struct io_channel *ch1;
	struct ut_res a = { 0 }, b = { 0 };
	size_t bytes = UPC * BL;
	uint8_t *w0 = malloc(bytes), *w1 = malloc(bytes), *r = malloc(bytes);

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 2, false));
	ut_fill(w0, bytes, 6);
	ut_fill(w1, bytes, 7);
	ut_set_thread(1);
	ch1 = bs_alloc_io_channel(rig.bs);
	assert_non_null(ch1);
	blob_io_write(blob, ch1, w1, UPC, UPC, ut_op_cb, &b);
	ut_set_thread(0);
	blob_io_write(blob, rig.ch, w0, 0, UPC, ut_op_cb, &a);
	ut_poll_threads();
	assert_int_equal(a.calls + b.calls, 2);
	assert_int_equal(a.rc | b.rc, 0);
	ut_set_thread(1);
	assert_int_equal(ut_read(blob, ch1, r, 0, UPC), 0);
	assert_memory_equal(r, w0, bytes);
	bs_free_io_channel(ch1);
	ut_set_thread(0);
	assert_int_equal(ut_read(blob, rig.ch, r, UPC, UPC), 0);
	assert_memory_equal(r, w1, bytes);
	ut_close(blob);
	rig_down(&rig);
	free(w0);
	free(w1);
	free(r);
}

/* ---- freeze -------------------------------------------------------------------------------------------- */

static void
test_freeze_parks_and_drains(void **state)
{
	struct rig rig;
	struct blob *blob;
	struct io_channel *ch1;
	struct ut_res w = { 0 }, f = { 0 }, w2 = { 0 }, w3 = { 0 }, u = { 0 };
	uint8_t buf[BL], r[BL];

	rig_up(&rig, 0);
	blob = ut_open(rig.bs, ut_create(rig.bs, 2, false));
	ut_fill(buf, BL, 8);
	ut_set_thread(1);
	ch1 = bs_alloc_io_channel(rig.bs);
	/* A write in flight on thread 1 when the freeze starts: it is waited for. */
	blob_io_write(blob, ch1, buf, 3, 1, ut_op_cb, &w);
	ut_set_thread(0);
	blob_freeze_io(blob, ut_op_cb, &f);
	ut_poll_threads();
	assert_int_equal(w.calls, 1);
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.rc, 0);
	/* New I/O is parked on both threads. */
	blob_io_write(blob, rig.ch, buf, 4, 1, ut_op_cb, &w2);
	ut_set_thread(1);
	blob_io_write(blob, ch1, buf, 5, 1, ut_op_cb, &w3);
	ut_set_thread(0);
	ut_poll_threads();
	assert_int_equal(w2.calls + w3.calls, 0);
	blob_unfreeze_io(blob, ut_op_cb, &u);
	ut_poll_threads();
	assert_int_equal(u.calls, 1);
	assert_int_equal(w2.calls, 1);
	assert_int_equal(w3.calls, 1);
	assert_int_equal(w2.rc | w3.rc, 0);
	assert_int_equal(ut_read(blob, rig.ch, r, 5, 1), 0);
	assert_memory_equal(r, buf, BL);
	ut_set_thread(1);
	bs_free_io_channel(ch1);
	ut_set_thread(0);
	ut_close(blob);
	rig_down(&rig);
}

/* ---- persistence ---------------------------------------------------------------------------------------- */

static void
test_data_survives_reload(void **state)
{
	struct rig rig;
	struct bs_opts o;
	struct blob *blob;
	blob_id id;
	size_t bytes = 2 * UPC * BL;
	uint8_t *w = malloc(bytes), *r = malloc(bytes);

	rig_up(&rig, 0);
	id = ut_create(rig.bs, 4, false);
	blob = ut_open(rig.bs, id);
	ut_fill(w, bytes, 9);
	assert_int_equal(ut_write(blob, rig.ch, w, UPC / 2, 2 * UPC), 0);
	ut_close(blob);
	bs_free_io_channel(rig.ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(rig.bs), 0);
	rig_opts(&o, 0);
	rig.dev = ut_fault_dev_create(rig.base, NULL);
	assert_int_equal(ut_bs_load(rig.dev, &o, &rig.bs), 0);
	rig.ch = bs_alloc_io_channel(rig.bs);
	blob = ut_open(rig.bs, id);
	assert_int_equal(ut_read(blob, rig.ch, r, UPC / 2, 2 * UPC), 0);
	assert_memory_equal(r, w, bytes);
	ut_close(blob);
	rig_down(&rig);
	free(w);
	free(r);
}

/*
 * A store made on a 4 KiB-block device, used on a 512-byte-block copy of
 * it: io units stay 4 KiB (recorded in the superblock), each is 8 device
 * blocks (spec §1.3 ambiguity: addresses are computed in bytes).
 */
static void
test_store_on_device_with_smaller_blocks(void **state)
{
	enum { BIG = 4096, UNITS = CLUSTER / BIG };
	struct bs_opts o;
	struct bs_dev *base4k = bs_dev_mem_create((uint64_t)DEV_CLUSTERS * CLUSTER / BIG, BIG);
	struct bs_dev *dev, *base512;
	struct blob_store *bs;
	struct io_channel *ch;
	struct blob *thick, *thin;
	blob_id thick_id, thin_id;
	size_t bytes = 3 * CLUSTER;
	uint8_t *w = malloc(bytes), *r = malloc(bytes);

	ut_set_thread(0);
	rig_opts(&o, 0);
	dev = ut_fault_dev_create(base4k, NULL);
	bs = ut_bs_init(dev, &o);
	assert_int_equal(bs_get_io_unit_size(bs), BIG);
	ch = bs_alloc_io_channel(bs);
	thick_id = ut_create(bs, 3, false);
	thin_id = ut_create(bs, 3, true);
	thick = ut_open(bs, thick_id);
	thin = ut_open(bs, thin_id);
	ut_fill(w, bytes, 30);
	assert_int_equal(ut_write(thick, ch, w, 1, 2 * UNITS), 0);
	assert_int_equal(ut_write(thin, ch, w, UNITS + 1, 1), 0);
	ut_close(thick);
	ut_close(thin);
	bs_free_io_channel(ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(bs), 0);

	base512 = bs_dev_mem_create((uint64_t)DEV_CLUSTERS * CLUSTER / BL, BL);
	memcpy(bs_dev_mem_data(base512), bs_dev_mem_data(base4k), (size_t)DEV_CLUSTERS * CLUSTER);
	base4k->destroy(base4k);
	dev = ut_fault_dev_create(base512, NULL);
	assert_int_equal(ut_bs_load(dev, &o, &bs), 0);
	assert_int_equal(bs_get_io_unit_size(bs), BIG);
	ch = bs_alloc_io_channel(bs);
	thick = ut_open(bs, thick_id);
	thin = ut_open(bs, thin_id);
	assert_int_equal(ut_read(thick, ch, r, 1, 2 * UNITS), 0);
	assert_memory_equal(r, w, 2 * UNITS * BIG);
	assert_int_equal(ut_read(thin, ch, r, UNITS, UNITS), 0);
	assert_true(ut_is_zero(r, BIG));
	assert_memory_equal(r + BIG, w, BIG);
	/* A first write and a cross-cluster write on the new geometry. */
	assert_int_equal(ut_write(thin, ch, w, 2 * UNITS + 2, 1), 0);
	assert_int_equal(ut_write(thick, ch, w + BIG, UNITS - 1, 2), 0);
	assert_int_equal(ut_read(thin, ch, r, 2 * UNITS, UNITS), 0);
	assert_true(ut_is_zero(r, 2 * BIG));
	assert_memory_equal(r + 2 * BIG, w, BIG);
	assert_int_equal(ut_read(thick, ch, r, UNITS - 1, 2), 0);
	assert_memory_equal(r, w + BIG, 2 * BIG);
	assert_int_equal(blob_get_num_allocated_clusters(thin), 2);
	ut_close(thick);
	ut_close(thin);
	bs_free_io_channel(ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(bs), 0);
	base512->destroy(base512);
	ut_poll_threads();
	free(w);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rw_roundtrip_across_clusters_iov, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_iovecs_in_one_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iovecs_finer_than_a_unit_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_and_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_refuses_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thick_write_zeroes_unmap_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_of_one_completes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_from_two_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_parks_and_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_survives_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_on_device_with_smaller_blocks, setup,
						teardown),
	};

	/* UT_FILTER="*sweep*" runs a subset (debugging). */
	if (getenv("UT_FILTER") != NULL)
		cmocka_set_test_filter(getenv("UT_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
