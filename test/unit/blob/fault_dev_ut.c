/*
 * Unit tests of the fault-injecting bs_dev (test/unit/common/ut_fault_dev.h)
 * over a memory device: write counting, the power cut after N writes, lost
 * acknowledgements, the volatile cache (read-your-writes, flush, loss at
 * the cut and at destroy), torn writes by atomic unit, one-shot errors,
 * images, and a small crash sweep in the style the blobstore tests use.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lvstor/bs_dev.h"
#include "lvstor/thread.h"
#include "../common/ut_fault_dev.h"
#include "../common/ut_threads.h"

#define BL 512u

struct res {
	int calls;
	int rc;
};

static void
res_cb(void *arg, int rc)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
}

/* The device under test, its base, and a channel on thread 0. */
struct rig {
	struct bs_dev *base;
	struct bs_dev *dev;
	struct io_channel *ch;
};

static int
setup(void **state)
{
	ut_threads_init(1);
	return 0;
}

static int
teardown(void **state)
{
	ut_threads_fini();
	return 0;
}

static void
rig_open(struct rig *rig, uint64_t blocks, const struct ut_fault_dev_opts *opts)
{
	rig->base = bs_dev_mem_create(blocks, BL);
	assert_non_null(rig->base);
	rig->dev = ut_fault_dev_create(rig->base, opts);
	assert_non_null(rig->dev);
	assert_int_equal(rig->dev->blockcnt, blocks);
	assert_int_equal(rig->dev->blocklen, BL);
	rig->ch = rig->dev->create_channel(rig->dev);
	assert_non_null(rig->ch);
}

static void
rig_close(struct rig *rig)
{
	rig->dev->destroy_channel(rig->dev, rig->ch);
	rig->dev->destroy(rig->dev);
	ut_poll_threads();
	rig->base->destroy(rig->base);
	ut_poll_threads();
}

static uint8_t *
base_data(struct rig *rig)
{
	return bs_dev_mem_data(rig->base);
}

static int
finish(struct res *r)
{
	assert_int_equal(r->calls, 0);      /* never before the submit returns */
	ut_poll_threads();
	assert_int_equal(r->calls, 1);
	return r->rc;
}

static int
wr(struct rig *rig, const void *buf, uint64_t lba, uint32_t n)
{
	struct res r = { 0 };

	rig->dev->write(rig->dev, rig->ch, (void *)(uintptr_t)buf, lba, n, res_cb, &r);
	return finish(&r);
}

static int
rd(struct rig *rig, void *buf, uint64_t lba, uint32_t n)
{
	struct res r = { 0 };

	rig->dev->read(rig->dev, rig->ch, buf, lba, n, res_cb, &r);
	return finish(&r);
}

static int
zero(struct rig *rig, bool unmap, uint64_t lba, uint64_t n)
{
	struct res r = { 0 };

	if (unmap)
		rig->dev->unmap(rig->dev, rig->ch, lba, n, res_cb, &r);
	else
		rig->dev->write_zeroes(rig->dev, rig->ch, lba, n, res_cb, &r);
	return finish(&r);
}

static int
flush(struct rig *rig)
{
	struct res r = { 0 };

	rig->dev->flush(rig->dev, rig->ch, res_cb, &r);
	return finish(&r);
}

static void
fill(uint8_t *p, size_t len, uint8_t v)
{
	memset(p, v, len);
}

static bool
all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != v)
			return false;
	}
	return true;
}

/* ---- counting and the cut --------------------------------------------------------- */

static void
test_fault_dev_counts_each_write_call_once(void **state)
{
	struct rig rig;
	uint8_t buf[8 * BL];
	struct iovec iov[2] = { { buf, BL }, { buf + BL, 7 * BL } };
	struct res r = { 0 };

	rig_open(&rig, 64, NULL);
	fill(buf, sizeof(buf), 1);
	assert_int_equal(wr(&rig, buf, 0, 8), 0);
	rig.dev->writev(rig.dev, rig.ch, iov, 2, 8, 8, res_cb, &r);
	assert_int_equal(finish(&r), 0);
	assert_int_equal(zero(&rig, false, 16, 40), 0);
	assert_int_equal(zero(&rig, true, 0, 64), 0);
	assert_int_equal(ut_fault_dev_write_count(rig.dev), 4);
	/* Reads and flushes are not writes. */
	assert_int_equal(rd(&rig, buf, 0, 8), 0);
	assert_int_equal(flush(&rig), 0);
	assert_int_equal(ut_fault_dev_write_count(rig.dev), 4);
	assert_int_equal(ut_fault_dev_flush_count(rig.dev), 1);
	assert_true(ut_fault_dev_has_power(rig.dev));
	rig_close(&rig);
}

static void
test_fault_dev_cut_after_n_keeps_exactly_the_first_n_writes(void **state)
{
	struct rig rig;
	uint8_t buf[BL];
	int i;

	rig_open(&rig, 16, NULL);
	ut_fault_dev_set_cut_after_writes(rig.dev, 3);
	for (i = 0; i < 5; i++) {
		fill(buf, BL, (uint8_t)(0x10 + i));
		assert_int_equal(wr(&rig, buf, (uint64_t)i, 1), i < 3 ? 0 : -EIO);
	}
	assert_false(ut_fault_dev_has_power(rig.dev));
	assert_int_equal(ut_fault_dev_write_count(rig.dev), 3);
	/* Nothing works any more. */
	assert_int_equal(rd(&rig, buf, 0, 1), -EIO);
	assert_int_equal(flush(&rig), -EIO);
	assert_int_equal(zero(&rig, true, 0, 1), -EIO);
	for (i = 0; i < 5; i++)
		assert_true(all_bytes(base_data(&rig) + i * BL, BL, i < 3 ? 0x10 + i : 0));
	rig_close(&rig);
}

static void
test_fault_dev_cut_after_zero_fails_the_first_write(void **state)
{
	struct rig rig;
	uint8_t buf[BL];

	rig_open(&rig, 16, NULL);
	ut_fault_dev_set_cut_after_writes(rig.dev, 0);
	assert_int_equal(rd(&rig, buf, 0, 1), 0);      /* reads do not trip it */
	fill(buf, BL, 0x77);
	assert_int_equal(wr(&rig, buf, 0, 1), -EIO);
	assert_true(all_bytes(base_data(&rig), 16 * BL, 0));
	assert_int_equal(ut_fault_dev_write_count(rig.dev), 0);
	rig_close(&rig);
}

/* A write in flight when the power goes lands but loses its acknowledgement. */
static void
test_fault_dev_write_in_flight_at_the_cut_loses_its_ack(void **state)
{
	struct rig rig;
	uint8_t a[BL], b[BL];
	struct res ra = { 0 }, rb = { 0 };

	rig_open(&rig, 16, NULL);
	ut_fault_dev_set_cut_after_writes(rig.dev, 1);
	fill(a, BL, 0xa1);
	fill(b, BL, 0xb2);
	rig.dev->write(rig.dev, rig.ch, a, 0, 1, res_cb, &ra);
	rig.dev->write(rig.dev, rig.ch, b, 1, 1, res_cb, &rb);
	ut_poll_threads();
	assert_int_equal(ra.calls, 1);
	assert_int_equal(ra.rc, -EIO);
	assert_int_equal(rb.rc, -EIO);
	assert_true(all_bytes(base_data(&rig), BL, 0xa1));
	assert_true(all_bytes(base_data(&rig) + BL, BL, 0));
	rig_close(&rig);
}

/* ---- the volatile cache ------------------------------------------------------------ */

static struct ut_fault_dev_opts
cache_opts(void)
{
	struct ut_fault_dev_opts o;

	ut_fault_dev_opts_init(&o, sizeof(o));
	o.drop_unflushed = true;
	return o;
}

static void
test_fault_dev_unflushed_writes_are_lost_at_the_cut(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct rig rig;
	uint8_t buf[4 * BL];

	rig_open(&rig, 16, &o);
	fill(buf, sizeof(buf), 0xaa);
	assert_int_equal(wr(&rig, buf, 0, 4), 0);
	assert_int_equal(ut_fault_dev_unflushed_blocks(rig.dev), 4);
	assert_true(all_bytes(base_data(&rig), 4 * BL, 0));   /* still only cached */
	assert_int_equal(flush(&rig), 0);
	assert_int_equal(ut_fault_dev_unflushed_blocks(rig.dev), 0);
	assert_true(all_bytes(base_data(&rig), 4 * BL, 0xaa));

	fill(buf, sizeof(buf), 0xbb);
	assert_int_equal(wr(&rig, buf, 2, 4), 0);
	/* Read-your-writes: the host sees the cache. */
	assert_int_equal(rd(&rig, buf, 0, 4), 0);
	assert_true(all_bytes(buf, 2 * BL, 0xaa));
	assert_true(all_bytes(buf + 2 * BL, 2 * BL, 0xbb));
	ut_fault_dev_cut_power(rig.dev);
	ut_poll_threads();
	assert_true(all_bytes(base_data(&rig), 4 * BL, 0xaa));
	assert_true(all_bytes(base_data(&rig) + 4 * BL, 12 * BL, 0));
	rig_close(&rig);
}

static void
test_fault_dev_destroy_is_a_power_off_for_the_cache(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct rig rig;
	uint8_t buf[BL];

	rig_open(&rig, 16, &o);
	fill(buf, BL, 0xcc);
	assert_int_equal(wr(&rig, buf, 3, 1), 0);
	rig.dev->destroy_channel(rig.dev, rig.ch);
	rig.dev->destroy(rig.dev);
	ut_poll_threads();
	assert_true(all_bytes(base_data(&rig), 16 * BL, 0));
	rig.base->destroy(rig.base);
	ut_poll_threads();
}

/* Reads mix the base (never written here) and the cache (written here). */
static void
test_fault_dev_read_overlays_the_cache_on_the_base(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct rig rig;
	uint8_t buf[8 * BL], w[2 * BL];
	struct iovec iov[3] = { { buf, 700 }, { buf + 700, 1500 }, { buf + 2200, 8 * BL - 2200 } };
	struct res r = { 0 };

	rig_open(&rig, 16, &o);
	memset(base_data(&rig), 0x11, 16 * BL);    /* already on the medium */
	fill(w, sizeof(w), 0x22);
	assert_int_equal(wr(&rig, w, 2, 2), 0);
	assert_int_equal(zero(&rig, false, 6, 1), 0);
	rig.dev->readv(rig.dev, rig.ch, iov, 3, 0, 8, res_cb, &r);
	assert_int_equal(finish(&r), 0);
	assert_true(all_bytes(buf, 2 * BL, 0x11));
	assert_true(all_bytes(buf + 2 * BL, 2 * BL, 0x22));
	assert_true(all_bytes(buf + 4 * BL, 2 * BL, 0x11));
	assert_true(all_bytes(buf + 6 * BL, BL, 0));
	assert_true(all_bytes(buf + 7 * BL, BL, 0x11));
	/* A flush does not change what the host sees. */
	assert_int_equal(flush(&rig), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(rd(&rig, buf, 0, 8), 0);
	assert_true(all_bytes(buf + 2 * BL, 2 * BL, 0x22));
	assert_true(all_bytes(buf + 6 * BL, BL, 0));
	assert_true(all_bytes(base_data(&rig) + 2 * BL, 2 * BL, 0x22));
	assert_true(all_bytes(base_data(&rig) + 6 * BL, BL, 0));
	rig_close(&rig);
}

/* A store's creation zeroes its whole device: cheap in the cache and on flush. */
static void
test_fault_dev_cached_zeroes_reach_the_base_on_flush(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct rig rig;
	const uint64_t blocks = 64 * 1024;        /* 32 MiB */
	uint8_t buf[BL];

	rig_open(&rig, blocks, &o);
	memset(base_data(&rig), 0x33, blocks * BL);
	assert_int_equal(zero(&rig, true, 1, blocks - 2), 0);
	fill(buf, BL, 0x44);
	assert_int_equal(wr(&rig, buf, 100, 1), 0);
	assert_int_equal(ut_fault_dev_unflushed_blocks(rig.dev), blocks - 2);
	assert_int_equal(flush(&rig), 0);
	assert_true(all_bytes(base_data(&rig), BL, 0x33));
	assert_true(all_bytes(base_data(&rig) + BL, 99 * BL, 0));
	assert_true(all_bytes(base_data(&rig) + 100 * BL, BL, 0x44));
	assert_true(all_bytes(base_data(&rig) + 101 * BL, (blocks - 102) * BL, 0));
	assert_true(all_bytes(base_data(&rig) + (blocks - 1) * BL, BL, 0x33));
	rig_close(&rig);
}

/* ---- torn writes ---------------------------------------------------------------------- */

/* Checks every 4 KiB unit of the first `units` is all `v` or all zero; counts survivors. */
static int
units_whole(const uint8_t *p, int units, uint8_t v)
{
	int kept = 0;

	for (int u = 0; u < units; u++) {
		const uint8_t *q = p + u * 4096;

		if (all_bytes(q, 4096, v))
			kept++;
		else
			assert_true(all_bytes(q, 4096, 0));
	}
	return kept;
}

static int
torn_write_survivors(uint64_t seed, uint8_t *image_out)
{
	struct ut_fault_dev_opts o;
	struct rig rig;
	static uint8_t buf[64 * BL];
	int kept;

	ut_fault_dev_opts_init(&o, sizeof(o));
	o.torn_writes = true;
	o.atomic_unit = 4096;
	o.seed = seed;
	rig_open(&rig, 128, &o);
	ut_fault_dev_set_cut_after_writes(rig.dev, 0);
	fill(buf, sizeof(buf), 0x5e);
	/* 64 blocks from block 4: a half unit, 7 whole units, a half unit. */
	assert_int_equal(wr(&rig, buf, 4, 64), -EIO);
	ut_poll_threads();
	assert_true(all_bytes(base_data(&rig), 4 * BL, 0));
	/* Units are aligned on the device: the partial ones tear as a piece. */
	assert_true(all_bytes(base_data(&rig) + 4 * BL, 4 * BL, 0x5e) ||
		    all_bytes(base_data(&rig) + 4 * BL, 4 * BL, 0));
	kept = units_whole(base_data(&rig) + 8 * BL, 7, 0x5e);
	assert_true(all_bytes(base_data(&rig) + 64 * BL, 4 * BL, 0x5e) ||
		    all_bytes(base_data(&rig) + 64 * BL, 4 * BL, 0));
	assert_true(all_bytes(base_data(&rig) + 68 * BL, 60 * BL, 0));
	memcpy(image_out, base_data(&rig), 128 * BL);
	rig_close(&rig);
	return kept;
}

static void
test_fault_dev_torn_write_tears_only_between_atomic_units(void **state)
{
	static uint8_t a[128 * BL], b[128 * BL];
	int seed, some = 0, all = 0, none = 0;

	for (seed = 1; seed <= 16; seed++) {
		int kept = torn_write_survivors((uint64_t)seed, a);

		if (kept == 7)
			all++;
		else if (kept == 0)
			none++;
		else
			some++;
	}
	assert_true(some > 0);
	(void)all;
	(void)none;
	/* The same seed tears the same way. */
	torn_write_survivors(12345, a);
	torn_write_survivors(12345, b);
	assert_memory_equal(a, b, sizeof(a));
}

/* With the cache, the unflushed writes tear too (each unit all or nothing). */
static void
test_fault_dev_torn_cache_at_the_cut(void **state)
{
	struct ut_fault_dev_opts o;
	struct rig rig;
	static uint8_t buf[32 * 4096];
	int kept;

	ut_fault_dev_opts_init(&o, sizeof(o));
	o.drop_unflushed = true;
	o.torn_writes = true;
	o.atomic_unit = 4096;
	o.seed = 7;
	rig_open(&rig, 32 * 8, &o);
	fill(buf, sizeof(buf), 0x6d);
	/* Unit by unit, so that every unit is a separate cached write. */
	for (int u = 0; u < 32; u++)
		assert_int_equal(wr(&rig, buf, (uint64_t)u * 8, 8), 0);
	ut_fault_dev_cut_power(rig.dev);
	ut_poll_threads();
	kept = units_whole(base_data(&rig), 32, 0x6d);
	assert_true(kept > 0 && kept < 32);
	rig_close(&rig);
}

/* A flush overtaken by the cut: what it destaged stays, its ack is lost. */
static void
test_fault_dev_flush_in_flight_at_the_cut_fails(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct rig rig;
	uint8_t a[BL], b[BL];
	struct res rf = { 0 }, rw = { 0 };

	rig_open(&rig, 16, &o);
	fill(a, BL, 0xa5);
	fill(b, BL, 0xb6);
	assert_int_equal(wr(&rig, a, 1, 1), 0);
	ut_fault_dev_set_cut_after_writes(rig.dev, 1);
	rig.dev->flush(rig.dev, rig.ch, res_cb, &rf);
	rig.dev->write(rig.dev, rig.ch, b, 2, 1, res_cb, &rw);
	ut_poll_threads();
	assert_int_equal(rf.calls, 1);
	assert_int_equal(rf.rc, -EIO);
	assert_int_equal(rw.rc, -EIO);
	assert_int_equal(ut_fault_dev_flush_count(rig.dev), 0);
	assert_true(all_bytes(base_data(&rig) + BL, BL, 0xa5));
	assert_true(all_bytes(base_data(&rig) + 2 * BL, BL, 0));
	rig_close(&rig);
}

/* Destroyed right after a torn cut, before the survivors' writes complete. */
static void
test_fault_dev_destroy_right_after_a_torn_cut(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct rig rig;
	static uint8_t buf[64 * BL];

	o.torn_writes = true;
	o.seed = 3;
	rig_open(&rig, 64, &o);
	fill(buf, sizeof(buf), 0x71);
	for (int i = 0; i < 64; i += 2)
		assert_int_equal(wr(&rig, buf, (uint64_t)i, 1), 0);
	ut_fault_dev_cut_power(rig.dev);
	rig.dev->destroy_channel(rig.dev, rig.ch);
	rig.dev->destroy(rig.dev);
	ut_poll_threads();
	for (int i = 0; i < 64; i++) {
		const uint8_t *p = base_data(&rig) + i * BL;

		assert_true(all_bytes(p, BL, 0) || (i % 2 == 0 && all_bytes(p, BL, 0x71)));
	}
	rig.base->destroy(rig.base);
	ut_poll_threads();
}

/* ---- one-shot errors, bounds, options ---------------------------------------------------- */

static void
test_fault_dev_fail_nth_fails_once_and_moves_nothing(void **state)
{
	struct rig rig;
	uint8_t buf[BL];

	rig_open(&rig, 16, NULL);
	ut_fault_dev_fail_nth(rig.dev, UT_FAULT_READ, 1, -EIO);
	assert_int_equal(rd(&rig, buf, 0, 1), 0);
	assert_int_equal(rd(&rig, buf, 0, 1), -EIO);
	assert_int_equal(rd(&rig, buf, 0, 1), 0);

	ut_fault_dev_fail_nth(rig.dev, UT_FAULT_WRITE, 0, -ENOSPC);
	fill(buf, BL, 0x99);
	assert_int_equal(wr(&rig, buf, 5, 1), -ENOSPC);
	assert_true(all_bytes(base_data(&rig) + 5 * BL, BL, 0));
	assert_int_equal(ut_fault_dev_write_count(rig.dev), 0);
	assert_int_equal(wr(&rig, buf, 5, 1), 0);
	assert_int_equal(ut_fault_dev_write_count(rig.dev), 1);

	ut_fault_dev_fail_nth(rig.dev, UT_FAULT_FLUSH, 0, -EIO);
	assert_int_equal(flush(&rig), -EIO);
	assert_int_equal(flush(&rig), 0);
	/* Cancelled before it fires. */
	ut_fault_dev_fail_nth(rig.dev, UT_FAULT_READ, 0, -EIO);
	ut_fault_dev_fail_nth(rig.dev, UT_FAULT_READ, UT_FAULT_NEVER, 0);
	assert_int_equal(rd(&rig, buf, 0, 1), 0);
	assert_true(ut_fault_dev_has_power(rig.dev));
	rig_close(&rig);
}

static void
test_fault_dev_rejects_bad_ranges_before_touching_the_cache(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct rig rig;
	uint8_t buf[2 * BL];
	struct iovec bad = { buf, BL };
	struct res r = { 0 };

	rig_open(&rig, 16, &o);
	assert_int_equal(wr(&rig, buf, 15, 2), -EINVAL);
	assert_int_equal(rd(&rig, buf, 16, 1), -EINVAL);
	assert_int_equal(zero(&rig, true, 0, 0), -EINVAL);
	assert_int_equal(zero(&rig, false, 1, UINT64_MAX), -EINVAL);
	rig.dev->writev(rig.dev, rig.ch, &bad, 1, 0, 2, res_cb, &r);
	assert_int_equal(finish(&r), -EINVAL);
	assert_int_equal(ut_fault_dev_write_count(rig.dev), 0);
	assert_int_equal(ut_fault_dev_unflushed_blocks(rig.dev), 0);
	rig_close(&rig);
}

static void
test_fault_dev_options(void **state)
{
	struct ut_fault_dev_opts o;
	struct bs_dev *base = bs_dev_mem_create(16, BL), *dev;

	ut_fault_dev_opts_init(&o, sizeof(o));
	assert_int_equal(o.opts_size, sizeof(o));
	assert_false(o.drop_unflushed);
	assert_false(o.torn_writes);
	assert_false(o.own_base);
	o.atomic_unit = 700;
	assert_null(ut_fault_dev_create(base, &o));
	assert_null(ut_fault_dev_create(NULL, NULL));
	/* own_base: destroying the fault device destroys the base (ASan sees a leak if not). */
	o.atomic_unit = 0;
	o.own_base = true;
	dev = ut_fault_dev_create(base, &o);
	assert_non_null(dev);
	assert_ptr_equal(ut_fault_dev_base(dev), base);
	assert_null(dev->get_base_bdev);
	assert_null(dev->is_zeroes);
	dev->destroy(dev);
	ut_poll_threads();
}

/* Passes is_zeroes through, except where the cache holds something. */
static void
test_fault_dev_is_zeroes_respects_the_cache(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	struct bs_dev *base = bs_dev_zeroes_create(64, BL), *dev;
	struct io_channel *ch;
	uint8_t buf[BL];
	struct res r = { 0 };

	o.own_base = true;
	dev = ut_fault_dev_create(base, &o);
	assert_non_null(dev->is_zeroes);
	assert_true(dev->is_zeroes(dev, 0, 64));
	/* The write stays in the cache (the zeroes base would refuse it). */
	ch = dev->create_channel(dev);
	fill(buf, BL, 0x12);
	dev->write(dev, ch, buf, 5, 1, res_cb, &r);
	assert_int_equal(finish(&r), 0);
	assert_false(dev->is_zeroes(dev, 0, 64));
	assert_false(dev->is_zeroes(dev, 5, 1));
	assert_true(dev->is_zeroes(dev, 6, 58));
	dev->destroy_channel(dev, ch);
	dev->destroy(dev);
	ut_poll_threads();
}

static void
test_fault_dev_image_is_an_independent_copy(void **state)
{
	struct rig rig;
	struct bs_dev *img;
	uint8_t buf[BL];

	rig_open(&rig, 1024, NULL);
	fill(buf, BL, 0x3c);
	assert_int_equal(wr(&rig, buf, 1000, 1), 0);
	ut_fault_dev_set_cut_after_writes(rig.dev, 1);
	assert_int_equal(wr(&rig, buf, 3, 1), -EIO);
	img = ut_fault_dev_image(rig.dev);
	assert_non_null(img);
	assert_int_equal(img->blockcnt, 1024);
	assert_int_equal(img->blocklen, BL);
	assert_memory_equal(bs_dev_mem_data(img), base_data(&rig), 1024 * BL);
	bs_dev_mem_data(img)[0] = 1;
	assert_int_equal(base_data(&rig)[0], 0);
	img->destroy(img);
	/* Not a mem device underneath: no image. */
	assert_null(ut_mem_dev_copy(rig.dev));
	rig_close(&rig);
}

/*
 * The pattern of a crash sweep, on a toy "commit protocol": write the
 * data, flush, write the commit record, flush. After a cut at any write
 * (N = 0..count), the image either has no commit record, or has it with
 * all the data: a commit is never visible without its data.
 */
static void
toy_commit(struct rig *rig, const uint8_t *data, const uint8_t *commit, int *rc)
{
	*rc = wr(rig, data, 8, 8);
	if (*rc == 0)
		*rc = flush(rig);
	if (*rc == 0)
		*rc = wr(rig, commit, 0, 1);
	if (*rc == 0)
		*rc = flush(rig);
}

static void
test_fault_dev_crash_sweep_of_a_toy_commit(void **state)
{
	struct ut_fault_dev_opts o = cache_opts();
	static uint8_t data[8 * BL], commit[BL];
	struct rig rig;
	uint64_t total, n;
	int rc;

	fill(data, sizeof(data), 0xd0);
	fill(commit, sizeof(commit), 0xc0);
	o.torn_writes = true;
	rig_open(&rig, 32, &o);
	toy_commit(&rig, data, commit, &rc);
	assert_int_equal(rc, 0);
	total = ut_fault_dev_write_count(rig.dev);
	assert_int_equal(total, 2);
	rig_close(&rig);

	for (n = 0; n <= total; n++) {
		struct bs_dev *img;
		const uint8_t *p;

		o.seed = n;
		rig_open(&rig, 32, &o);
		ut_fault_dev_set_cut_after_writes(rig.dev, n);
		toy_commit(&rig, data, commit, &rc);
		assert_int_equal(rc, n < total ? -EIO : 0);
		ut_poll_threads();
		img = ut_fault_dev_image(rig.dev);
		rig_close(&rig);           /* the old "store" goes; the image stays */
		p = bs_dev_mem_data(img);
		if (all_bytes(p, BL, 0xc0))
			assert_true(all_bytes(p + 8 * BL, 8 * BL, 0xd0));
		else
			assert_true(all_bytes(p, BL, 0));
		if (n == total)
			assert_true(all_bytes(p, BL, 0xc0));
		img->destroy(img);
		ut_poll_threads();
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fault_dev_counts_each_write_call_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fault_dev_cut_after_n_keeps_exactly_the_first_n_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_cut_after_zero_fails_the_first_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fault_dev_write_in_flight_at_the_cut_loses_its_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_unflushed_writes_are_lost_at_the_cut,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_destroy_is_a_power_off_for_the_cache,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_read_overlays_the_cache_on_the_base,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_cached_zeroes_reach_the_base_on_flush,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fault_dev_torn_write_tears_only_between_atomic_units, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_torn_cache_at_the_cut,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_flush_in_flight_at_the_cut_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_destroy_right_after_a_torn_cut,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_fail_nth_fails_once_and_moves_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fault_dev_rejects_bad_ranges_before_touching_the_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_is_zeroes_respects_the_cache,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_image_is_an_independent_copy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_dev_crash_sweep_of_a_toy_commit,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
