/*
 * Unit tests of the bs_dev implementations: the memory device (round
 * trips, deferred completions, bounds, zeroing, channels per thread), the
 * zeroes device, and the device on a bdev (a malloc bdev through the real
 * bdev layer: claims, read-only view, hot-remove and resize events,
 * -ENOMEM back-pressure with a tiny bdev_io pool, errors).
 */
#include <errno.h>
#include <sys/mman.h>

#include "../bdev_modules/ut_modules.h"
#include "../../../module/bdev/malloc/bdev_malloc.h"
#include "lvstor/bs_dev.h"

/* ---- synchronous helpers ----------------------------------------------------- */

struct res {
	int calls;
	int rc;
	struct thread *thread;
};

static void
res_cb(void *arg, int rc)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
	r->thread = thread_get_current();
}

enum op { RD, WR, RDV, WRV, WZ, UNMAP, FLUSH };

static void
submit(struct bs_dev *dev, struct io_channel *ch, enum op op, void *buf, struct iovec *iov,
       int iovcnt, uint64_t lba, uint64_t count, struct res *r)
{
	switch (op) {
	case RD:
		dev->read(dev, ch, buf, lba, (uint32_t)count, res_cb, r);
		break;
	case WR:
		dev->write(dev, ch, buf, lba, (uint32_t)count, res_cb, r);
		break;
	case RDV:
		dev->readv(dev, ch, iov, iovcnt, lba, (uint32_t)count, res_cb, r);
		break;
	case WRV:
		dev->writev(dev, ch, iov, iovcnt, lba, (uint32_t)count, res_cb, r);
		break;
	case WZ:
		dev->write_zeroes(dev, ch, lba, count, res_cb, r);
		break;
	case UNMAP:
		dev->unmap(dev, ch, lba, count, res_cb, r);
		break;
	case FLUSH:
		dev->flush(dev, ch, res_cb, r);
		break;
	}
}

/* One operation, checked to complete once and never before it returns. */
static int
sync_op(struct bs_dev *dev, struct io_channel *ch, enum op op, void *buf, struct iovec *iov,
	int iovcnt, uint64_t lba, uint64_t count)
{
	struct res r = { 0 };

	submit(dev, ch, op, buf, iov, iovcnt, lba, count, &r);
	assert_int_equal(r.calls, 0);
	ut_poll_threads();
	assert_int_equal(r.calls, 1);
	assert_ptr_equal(r.thread, thread_get_current());
	return r.rc;
}

static int
rd(struct bs_dev *dev, struct io_channel *ch, void *buf, uint64_t lba, uint64_t count)
{
	return sync_op(dev, ch, RD, buf, NULL, 0, lba, count);
}

static int
wr(struct bs_dev *dev, struct io_channel *ch, void *buf, uint64_t lba, uint64_t count)
{
	return sync_op(dev, ch, WR, buf, NULL, 0, lba, count);
}

static void
fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131u + seed * 29u + (i >> 8) + 1);
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

static void
destroy_dev(struct bs_dev *dev)
{
	dev->destroy(dev);
	ut_poll_threads();
}

/* ---- the memory device -------------------------------------------------------- */

static int
threads_setup(void **state)
{
	ut_threads_init(2);
	return 0;
}

static int
threads_teardown(void **state)
{
	ut_set_thread(0);
	ut_threads_fini();
	return 0;
}

static void
test_mem_dev_round_trips_and_reads_zero_when_fresh(void **state)
{
	const uint32_t bs = 512;
	struct bs_dev *dev = bs_dev_mem_create(64, bs);
	struct io_channel *ch;
	uint8_t w[8 * 512], r[8 * 512];
	struct iovec wiov[3] = { { w, 100 }, { w + 100, 1000 }, { w + 1100, 8 * 512 - 1100 } };
	struct iovec riov[2] = { { r, 3 * 512 }, { r + 3 * 512, 5 * 512 } };

	assert_non_null(dev);
	assert_int_equal(dev->blockcnt, 64);
	assert_int_equal(dev->blocklen, bs);
	assert_null(dev->get_base_bdev);
	ch = dev->create_channel(dev);
	assert_non_null(ch);

	memset(r, 0xee, sizeof(r));
	assert_int_equal(rd(dev, ch, r, 0, 8), 0);
	assert_true(all_bytes(r, sizeof(r), 0));

	fill(w, sizeof(w), 1);
	assert_int_equal(wr(dev, ch, w, 56, 8), 0);
	memset(r, 0, sizeof(r));
	assert_int_equal(rd(dev, ch, r, 56, 8), 0);
	assert_memory_equal(r, w, sizeof(w));
	/* The bytes are where bs_dev_mem_data says, and nowhere else. */
	assert_memory_equal(bs_dev_mem_data(dev) + 56 * bs, w, sizeof(w));
	assert_true(all_bytes(bs_dev_mem_data(dev), 56 * bs, 0));

	fill(w, sizeof(w), 2);
	assert_int_equal(sync_op(dev, ch, WRV, NULL, wiov, 3, 3, 8), 0);
	memset(r, 0, sizeof(r));
	assert_int_equal(sync_op(dev, ch, RDV, NULL, riov, 2, 3, 8), 0);
	assert_memory_equal(r, w, sizeof(w));

	assert_int_equal(sync_op(dev, ch, FLUSH, NULL, NULL, 0, 0, 0), 0);
	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
}

/* Everything the device refuses completes later with -EINVAL and moves nothing. */
static void
test_mem_dev_rejects_out_of_range_and_bad_iovecs(void **state)
{
	struct bs_dev *dev = bs_dev_mem_create(16, 512);
	struct io_channel *ch = dev->create_channel(dev);
	uint8_t buf[4 * 512];
	struct iovec short_iov[1] = { { buf, 3 * 512 } };
	struct iovec long_iov[2] = { { buf, 2 * 512 }, { buf + 2 * 512, 2 * 512 + 1 } };
	uint8_t *data = bs_dev_mem_data(dev);

	fill(buf, sizeof(buf), 3);
	assert_int_equal(wr(dev, ch, buf, 13, 4), -EINVAL);        /* past the end */
	assert_int_equal(wr(dev, ch, buf, 16, 1), -EINVAL);        /* starts at the end */
	assert_int_equal(wr(dev, ch, buf, 0, 0), -EINVAL);         /* zero blocks */
	assert_int_equal(rd(dev, ch, buf, UINT64_MAX, 1), -EINVAL);
	assert_int_equal(sync_op(dev, ch, WZ, NULL, NULL, 0, 1, UINT64_MAX), -EINVAL); /* wraps */
	assert_int_equal(sync_op(dev, ch, UNMAP, NULL, NULL, 0, 15, 2), -EINVAL);
	assert_int_equal(sync_op(dev, ch, WRV, NULL, short_iov, 1, 0, 4), -EINVAL);
	assert_int_equal(sync_op(dev, ch, WRV, NULL, long_iov, 2, 0, 4), -EINVAL);
	assert_int_equal(sync_op(dev, ch, RDV, NULL, NULL, 0, 0, 1), -EINVAL);
	assert_true(all_bytes(data, 16 * 512, 0));
	/* The last block exactly is fine. */
	assert_int_equal(wr(dev, ch, buf, 15, 1), 0);
	assert_memory_equal(data + 15 * 512, buf, 512);

	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
}

/* Both zeroing paths (memset, and madvise with partial pages at the ends). */
static void
test_mem_dev_unmap_and_write_zeroes_zero_exactly_the_range(void **state)
{
	const uint64_t blocks = 8192;          /* 4 MiB of 512-byte blocks */
	struct bs_dev *dev = bs_dev_mem_create(blocks, 512);
	struct io_channel *ch = dev->create_channel(dev);
	uint8_t *data = bs_dev_mem_data(dev);
	uint8_t *img = malloc(blocks * 512);
	uint64_t u_off = 3, u_num = 2 * 2048 + 5, z_off = 7000, z_num = 9;

	fill(img, blocks * 512, 4);
	assert_int_equal(wr(dev, ch, img, 0, blocks), 0);
	assert_int_equal(sync_op(dev, ch, UNMAP, NULL, NULL, 0, u_off, u_num), 0);
	assert_int_equal(sync_op(dev, ch, WZ, NULL, NULL, 0, z_off, z_num), 0);
	memset(img + u_off * 512, 0, u_num * 512);
	memset(img + z_off * 512, 0, z_num * 512);
	assert_memory_equal(data, img, blocks * 512);
	/* Zeroed pages can be written again. */
	fill(img, 512, 5);
	assert_int_equal(wr(dev, ch, img, 100, 1), 0);
	assert_memory_equal(data + 100 * 512, img, 512);

	free(img);
	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
}

static void
test_mem_dev_channels_complete_on_their_own_thread(void **state)
{
	struct bs_dev *dev = bs_dev_mem_create(16, 4096);
	struct io_channel *ch0, *ch1;
	struct res r0 = { 0 }, r1 = { 0 };
	uint8_t *a = calloc(1, 4096), *b = calloc(1, 4096);

	ut_set_thread(0);
	ch0 = dev->create_channel(dev);
	ut_set_thread(1);
	ch1 = dev->create_channel(dev);
	assert_ptr_not_equal(ch0, ch1);
	fill(a, 4096, 6);
	ut_set_thread(0);
	dev->write(dev, ch0, a, 2, 1, res_cb, &r0);
	ut_set_thread(1);
	dev->read(dev, ch1, b, 2, 1, res_cb, &r1);
	ut_poll_threads();
	assert_int_equal(r0.calls, 1);
	assert_int_equal(r1.calls, 1);
	assert_ptr_equal(r0.thread, ut_thread(0));
	assert_ptr_equal(r1.thread, ut_thread(1));
	/* Submitted after the write's submit: sees it. */
	assert_memory_equal(a, b, 4096);

	dev->destroy_channel(dev, ch1);
	ut_set_thread(0);
	dev->destroy_channel(dev, ch0);
	destroy_dev(dev);
	free(a);
	free(b);
}

/* Far more in flight than the channel's initial pool: it grows, all complete. */
static void
test_mem_dev_many_in_flight(void **state)
{
	enum { N = 1000 };
	struct bs_dev *dev = bs_dev_mem_create(N, 512);
	struct io_channel *ch = dev->create_channel(dev);
	static struct res r[N];
	static uint8_t buf[N][512];
	int i;

	memset(r, 0, sizeof(r));
	for (i = 0; i < N; i++) {
		memset(buf[i], i & 0xff, 512);
		dev->write(dev, ch, buf[i], (uint64_t)i, 1, res_cb, &r[i]);
	}
	for (i = 0; i < N; i++)
		assert_int_equal(r[i].calls, 0);
	ut_poll_threads();
	for (i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, 0);
		assert_true(all_bytes(bs_dev_mem_data(dev) + i * 512, 512, i & 0xff));
	}
	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
}

/* A callback that submits again: it completes in a later round, no recursion. */
struct chain {
	struct bs_dev *dev;
	struct io_channel *ch;
	uint8_t buf[512];
	int left;
	int done;
	int depth;
	int max_depth;
};

static void
chain_cb(void *arg, int rc)
{
	struct chain *c = arg;

	assert_int_equal(rc, 0);
	c->done++;
	c->depth++;
	if (c->depth > c->max_depth)
		c->max_depth = c->depth;
	if (c->left-- > 0)
		c->dev->read(c->dev, c->ch, c->buf, 0, 1, chain_cb, c);
	c->depth--;
}

static void
test_mem_dev_callback_that_resubmits_does_not_recurse(void **state)
{
	struct chain c = { 0 };

	c.dev = bs_dev_mem_create(4, 512);
	c.ch = c.dev->create_channel(c.dev);
	c.left = 100;
	c.dev->read(c.dev, c.ch, c.buf, 0, 1, chain_cb, &c);
	ut_poll_threads();
	assert_int_equal(c.done, 101);
	assert_int_equal(c.max_depth, 1);
	c.dev->destroy_channel(c.dev, c.ch);
	destroy_dev(c.dev);
}

static void
test_mem_dev_bad_geometry_and_foreign_data(void **state)
{
	struct bs_dev *z = bs_dev_zeroes_create(8, 512);

	assert_null(bs_dev_mem_create(0, 512));
	assert_null(bs_dev_mem_create(8, 0));
	assert_null(bs_dev_mem_create(UINT64_MAX / 2, 512));
	/* Only a mem device has bytes to show. */
	assert_null(bs_dev_mem_data(z));
	assert_null(bs_dev_mem_data(NULL));
	destroy_dev(z);
}

/* A "1 GiB" test device costs nothing until written. */
static void
test_mem_dev_large_device_is_sparse(void **state)
{
	struct bs_dev *dev = bs_dev_mem_create(2 * 1024 * 1024, 512);
	struct io_channel *ch = dev->create_channel(dev);
	uint8_t buf[512], rbuf[512];

	assert_non_null(dev);
	fill(buf, 512, 7);
	assert_int_equal(wr(dev, ch, buf, 2 * 1024 * 1024 - 1, 1), 0);
	assert_int_equal(rd(dev, ch, rbuf, 2 * 1024 * 1024 - 1, 1), 0);
	assert_memory_equal(buf, rbuf, 512);
	assert_int_equal(rd(dev, ch, rbuf, 1024 * 1024, 1), 0);
	assert_true(all_bytes(rbuf, 512, 0));
	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
}

/* ---- the zeroes device -------------------------------------------------------- */

static void
test_zeroes_dev_reads_zeroes_and_refuses_changes(void **state)
{
	struct bs_dev *dev = bs_dev_zeroes_create(UINT64_MAX, 512);
	struct io_channel *ch;
	uint8_t buf[4 * 512];
	struct iovec iov[2] = { { buf, 512 }, { buf + 512, 3 * 512 } };

	assert_non_null(dev);
	assert_null(bs_dev_zeroes_create(0, 512));
	ch = dev->create_channel(dev);
	assert_non_null(ch);

	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(rd(dev, ch, buf, 1ull << 40, 4), 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(sync_op(dev, ch, RDV, NULL, iov, 2, 7, 4), 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));

	assert_int_equal(wr(dev, ch, buf, 0, 1), -EPERM);
	assert_int_equal(sync_op(dev, ch, WRV, NULL, iov, 2, 0, 4), -EPERM);
	assert_int_equal(sync_op(dev, ch, WZ, NULL, NULL, 0, 0, 4), -EPERM);
	assert_int_equal(sync_op(dev, ch, UNMAP, NULL, NULL, 0, 0, 4), -EPERM);
	assert_int_equal(sync_op(dev, ch, FLUSH, NULL, NULL, 0, 0, 0), 0);
	assert_true(dev->is_zeroes(dev, 0, 100));
	assert_true(dev->is_zeroes(dev, 1ull << 50, 1ull << 20));

	/* Bounds and iovec lengths are still checked. */
	assert_int_equal(rd(dev, ch, buf, UINT64_MAX, 1), -EINVAL);
	assert_int_equal(rd(dev, ch, buf, 0, 0), -EINVAL);
	assert_int_equal(sync_op(dev, ch, RDV, NULL, iov, 2, 0, 5), -EINVAL);

	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
}

static void
test_zeroes_dev_bounds_of_a_small_device(void **state)
{
	struct bs_dev *dev = bs_dev_zeroes_create(8, 4096);
	struct io_channel *ch = dev->create_channel(dev);
	uint8_t *buf = malloc(2 * 4096);

	assert_int_equal(rd(dev, ch, buf, 6, 2), 0);
	assert_int_equal(rd(dev, ch, buf, 7, 2), -EINVAL);
	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
	free(buf);
}

/* ---- the device on a bdev ------------------------------------------------------ */

static struct bdev_module g_claimer = { .name = "blob_ut" };
static struct bdev_module g_other_claimer = { .name = "other_ut" };
static struct bdev_module *g_malloc_mod;

/* Two threads, the layer with a bdev_io pool of pool_size, malloc only. */
static void
layer_setup(uint32_t pool_size, uint32_t cache_size)
{
	struct bdev_opts opts;
	int rc = 1;

	ut_threads_init(2);
	if (g_malloc_mod == NULL)
		g_malloc_mod = bdev_module_find("malloc");
	assert_non_null(g_malloc_mod);
	bdev_module_list_clear_for_test();
	bdev_module_register(g_malloc_mod);
	bdev_get_opts(&opts, sizeof(opts));
	opts.bdev_io_pool_size = pool_size;
	opts.bdev_io_cache_size = cache_size;
	assert_int_equal(bdev_set_opts(&opts), 0);
	bdev_initialize(ut_rc_done, &rc);
	ut_poll_threads();
	assert_int_equal(rc, 0);
}

static int
bdev_setup(void **state)
{
	layer_setup(1024, 16);
	return 0;
}

static int
bdev_small_pool_setup(void **state)
{
	layer_setup(4, 0);
	return 0;
}

static int
bdev_teardown(void **state)
{
	ut_layer_teardown();
	return 0;
}

static struct bdev *
malloc_disk(const char *name, uint64_t blocks, uint32_t bs)
{
	struct malloc_opts o;
	struct bdev *bdev = NULL;

	malloc_opts_init(&o, sizeof(o));
	o.name = name;
	o.num_blocks = blocks;
	o.block_size = bs;
	assert_int_equal(malloc_disk_create(&o, &bdev), 0);
	return bdev;
}

struct events {
	int count[2];
	uint64_t blockcnt_seen;
	struct bs_dev **destroy_on_remove;
};

static void
event_cb(int event, struct bdev *bdev, void *ctx)
{
	struct events *ev = ctx;

	assert_true(event == BDEV_EVENT_REMOVE || event == BDEV_EVENT_RESIZE);
	ev->count[event]++;
	ev->blockcnt_seen = bdev_get_num_blocks(bdev);
	if (event == BDEV_EVENT_REMOVE && ev->destroy_on_remove != NULL &&
	    *ev->destroy_on_remove != NULL) {
		(*ev->destroy_on_remove)->destroy(*ev->destroy_on_remove);
		*ev->destroy_on_remove = NULL;
	}
}

static void *
aligned(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	return p;
}

static void
test_bdev_dev_round_trips_through_a_malloc_bdev(void **state)
{
	struct bdev *bdev = malloc_disk("M0", 256, 512);
	struct bs_dev *dev = NULL;
	struct io_channel *ch;
	struct events ev = { .count = { 0 }, .blockcnt_seen = 0, .destroy_on_remove = NULL };
	uint8_t *w = aligned(16 * 512), *r = aligned(16 * 512);
	struct iovec wiov[2] = { { w, 5 * 512 }, { w + 5 * 512, 11 * 512 } };
	struct iovec riov[3] = { { r, 512 }, { r + 512, 512 }, { r + 1024, 14 * 512 } };

	assert_int_equal(bs_dev_bdev_create("M0", &g_claimer, event_cb, &ev, &dev), 0);
	assert_non_null(dev);
	assert_int_equal(dev->blockcnt, 256);
	assert_int_equal(dev->blocklen, 512);
	assert_ptr_equal(dev->get_base_bdev(dev), bdev);
	assert_ptr_equal(bdev_get_claim_module(bdev), &g_claimer);
	assert_string_equal(bdev_get_claim_type(bdev), "exclusive_write");

	ch = dev->create_channel(dev);
	assert_non_null(ch);
	memset(r, 0xee, 16 * 512);
	assert_int_equal(rd(dev, ch, r, 0, 16), 0);
	assert_true(all_bytes(r, 16 * 512, 0));

	fill(w, 16 * 512, 8);
	assert_int_equal(wr(dev, ch, w, 100, 16), 0);
	memset(r, 0, 16 * 512);
	assert_int_equal(rd(dev, ch, r, 100, 16), 0);
	assert_memory_equal(r, w, 16 * 512);

	fill(w, 16 * 512, 9);
	assert_int_equal(sync_op(dev, ch, WRV, NULL, wiov, 2, 200, 16), 0);
	memset(r, 0, 16 * 512);
	assert_int_equal(sync_op(dev, ch, RDV, NULL, riov, 3, 200, 16), 0);
	assert_memory_equal(r, w, 16 * 512);

	assert_int_equal(sync_op(dev, ch, WZ, NULL, NULL, 0, 202, 3), 0);
	assert_int_equal(sync_op(dev, ch, UNMAP, NULL, NULL, 0, 210, 2), 0);
	assert_int_equal(sync_op(dev, ch, RDV, NULL, riov, 3, 200, 16), 0);
	memset(w + 2 * 512, 0, 3 * 512);
	memset(w + 10 * 512, 0, 2 * 512);
	assert_memory_equal(r, w, 16 * 512);
	assert_int_equal(sync_op(dev, ch, FLUSH, NULL, NULL, 0, 0, 0), 0);

	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
	/* Destroying released the claim. */
	assert_null(bdev_get_claim_module(bdev));
	assert_int_equal(ev.count[BDEV_EVENT_REMOVE], 0);
	free(w);
	free(r);
}

static void
test_bdev_dev_second_claimer_is_refused(void **state)
{
	struct bs_dev *dev = NULL, *dev2 = NULL, *ro = NULL;
	struct io_channel *ch;
	uint8_t *buf = aligned(4096);

	malloc_disk("M1", 64, 4096);
	assert_int_equal(bs_dev_bdev_create("M1", &g_claimer, NULL, NULL, &dev), 0);
	assert_int_equal(bs_dev_bdev_create("M1", &g_other_claimer, NULL, NULL, &dev2), -EPERM);
	assert_null(dev2);
	assert_int_equal(bs_dev_bdev_create("M1", &g_claimer, NULL, NULL, &dev2), -EPERM);
	/* A read-only view needs no claim. */
	assert_int_equal(bs_dev_bdev_create_ro("M1", NULL, NULL, &ro), 0);
	ch = ro->create_channel(ro);
	assert_int_equal(rd(ro, ch, buf, 0, 1), 0);
	ro->destroy_channel(ro, ch);
	destroy_dev(ro);
	/* Still claimed by the first one; after it is gone the next may claim. */
	assert_ptr_equal(bdev_get_claim_module(bdev_get_by_name("M1")), &g_claimer);
	destroy_dev(dev);
	assert_int_equal(bs_dev_bdev_create("M1", &g_other_claimer, NULL, NULL, &dev2), 0);
	destroy_dev(dev2);
	free(buf);
}

/* A writer already open elsewhere also blocks the claim. */
static void
test_bdev_dev_claim_refused_while_another_writer_is_open(void **state)
{
	struct bdev_desc *desc = NULL;
	struct bs_dev *dev = NULL;
	struct ut_events uev;

	malloc_disk("M2", 64, 512);
	assert_int_equal(bdev_open("M2", true, ut_event_cb, &uev, &desc), 0);
	assert_int_equal(bs_dev_bdev_create("M2", &g_claimer, NULL, NULL, &dev), -EPERM);
	bdev_close(desc);
	assert_int_equal(bs_dev_bdev_create("M2", &g_claimer, NULL, NULL, &dev), 0);
	destroy_dev(dev);
}

static void
test_bdev_dev_create_errors(void **state)
{
	struct bs_dev *dev = NULL;

	assert_int_equal(bs_dev_bdev_create("nope", &g_claimer, NULL, NULL, &dev), -ENODEV);
	assert_int_equal(bs_dev_bdev_create_ro("nope", NULL, NULL, &dev), -ENODEV);
	malloc_disk("M3", 64, 512);
	assert_int_equal(bs_dev_bdev_create("M3", NULL, NULL, NULL, &dev), -EINVAL);
	assert_int_equal(bs_dev_bdev_create(NULL, &g_claimer, NULL, NULL, &dev), -EINVAL);
	assert_null(dev);
}

static void
test_bdev_dev_read_only_view_refuses_changes(void **state)
{
	struct bs_dev *ro = NULL;
	struct io_channel *ch;
	uint8_t *buf = aligned(2 * 512);
	struct iovec iov = { buf, 2 * 512 };

	malloc_disk("M4", 64, 512);
	assert_int_equal(bs_dev_bdev_create_ro("M4", NULL, NULL, &ro), 0);
	assert_null(bdev_get_claim_module(bdev_get_by_name("M4")));
	ch = ro->create_channel(ro);
	assert_int_equal(wr(ro, ch, buf, 0, 2), -EPERM);
	assert_int_equal(sync_op(ro, ch, WRV, NULL, &iov, 1, 0, 2), -EPERM);
	assert_int_equal(sync_op(ro, ch, WZ, NULL, NULL, 0, 0, 2), -EPERM);
	assert_int_equal(sync_op(ro, ch, UNMAP, NULL, NULL, 0, 0, 2), -EPERM);
	assert_int_equal(sync_op(ro, ch, FLUSH, NULL, NULL, 0, 0, 0), 0);
	assert_int_equal(sync_op(ro, ch, RDV, NULL, &iov, 1, 0, 2), 0);
	ro->destroy_channel(ro, ch);
	destroy_dev(ro);
	free(buf);
}

/* What the bdev layer refuses at submit arrives later through the callback. */
static void
test_bdev_dev_refused_submit_completes_later_with_its_errno(void **state)
{
	struct bs_dev *dev = NULL;
	struct io_channel *ch;
	uint8_t *buf = aligned(4 * 512);
	struct iovec bad = { buf, 3 * 512 };

	malloc_disk("M5", 64, 512);
	assert_int_equal(bs_dev_bdev_create("M5", &g_claimer, NULL, NULL, &dev), 0);
	ch = dev->create_channel(dev);
	assert_int_equal(wr(dev, ch, buf, 62, 4), -EINVAL);
	assert_int_equal(rd(dev, ch, buf, 0, 0), -EINVAL);
	assert_int_equal(sync_op(dev, ch, WRV, NULL, &bad, 1, 0, 4), -EINVAL);
	assert_int_equal(sync_op(dev, ch, UNMAP, NULL, NULL, 0, 60, 10), -EINVAL);
	assert_int_equal(sync_op(dev, ch, WZ, NULL, NULL, 0, UINT64_MAX, 2), -EINVAL);
	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
	free(buf);
}

static void
test_bdev_dev_hot_remove_is_forwarded(void **state)
{
	struct bdev *bdev = malloc_disk("M6", 64, 512);
	struct bs_dev *dev = NULL;
	struct events ev = { .count = { 0 }, .blockcnt_seen = 0, .destroy_on_remove = NULL };
	int rc = 1;

	ev.destroy_on_remove = &dev;
	assert_int_equal(bs_dev_bdev_create("M6", &g_claimer, event_cb, &ev, &dev), 0);
	/* A claimed malloc disk cannot be deleted by RPC; remove it as hot-plug would. */
	bdev_unregister(bdev, ut_rc_done, &rc);
	ut_poll_threads();
	assert_int_equal(ev.count[BDEV_EVENT_REMOVE], 1);
	assert_null(dev);             /* the owner destroyed it from the event */
	assert_int_equal(rc, 0);      /* which let the removal finish */
	assert_null(bdev_get_by_name("M6"));
}

static void
test_bdev_dev_resize_updates_blockcnt_and_is_forwarded(void **state)
{
	/* 128 blocks of memory, shown as 64 until the "resize" (no descriptor yet). */
	struct bdev *bdev = malloc_disk("M7", 128, 512);
	struct bs_dev *dev = NULL;
	struct events ev = { .count = { 0 }, .blockcnt_seen = 0, .destroy_on_remove = NULL };
	struct io_channel *ch;
	uint8_t *buf = aligned(512);

	assert_int_equal(bdev_notify_blockcnt_change(bdev, 64), 0);
	assert_int_equal(bs_dev_bdev_create("M7", &g_claimer, event_cb, &ev, &dev), 0);
	assert_int_equal(dev->blockcnt, 64);
	assert_int_equal(bdev_notify_blockcnt_change(bdev, 128), 0);
	ut_poll_threads();
	assert_int_equal(ev.count[BDEV_EVENT_RESIZE], 1);
	assert_int_equal(ev.blockcnt_seen, 128);
	assert_int_equal(dev->blockcnt, 128);
	/* The new end is usable. */
	ch = dev->create_channel(dev);
	memset(buf, 0x5a, 512);
	assert_int_equal(wr(dev, ch, buf, 127, 1), 0);
	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
	free(buf);
}

/* The channel of each thread submits on that thread's bdev channel. */
static void
test_bdev_dev_io_from_two_threads(void **state)
{
	struct bs_dev *dev = NULL;
	struct io_channel *ch0, *ch1;
	struct res r0 = { 0 }, r1 = { 0 };
	uint8_t *a = aligned(512), *b = aligned(512);

	malloc_disk("M8", 64, 512);
	assert_int_equal(bs_dev_bdev_create("M8", &g_claimer, NULL, NULL, &dev), 0);
	ch0 = dev->create_channel(dev);
	ut_set_thread(1);
	ch1 = dev->create_channel(dev);
	fill(a, 512, 10);
	ut_set_thread(0);
	dev->write(dev, ch0, a, 5, 1, res_cb, &r0);
	ut_poll_threads();
	assert_int_equal(r0.calls, 1);
	assert_ptr_equal(r0.thread, ut_thread(0));
	ut_set_thread(1);
	dev->read(dev, ch1, b, 5, 1, res_cb, &r1);
	ut_poll_threads();
	assert_int_equal(r1.calls, 1);
	assert_ptr_equal(r1.thread, ut_thread(1));
	assert_memory_equal(a, b, 512);
	dev->destroy_channel(dev, ch1);
	ut_set_thread(0);
	dev->destroy_channel(dev, ch0);
	destroy_dev(dev);
	free(a);
	free(b);
}

/*
 * With a pool of 4 bdev_ios, 200 writes at once hit -ENOMEM in the bdev
 * layer; each waits for a bdev_io and is resubmitted: all complete, none
 * fails, and the data is all there.
 */
static void
test_bdev_dev_enomem_waits_and_completes_everything(void **state)
{
	enum { N = 200 };
	struct bs_dev *dev = NULL;
	struct io_channel *ch;
	static struct res r[N];
	uint8_t *bufs = aligned(N * 512), *rb = aligned(N * 512);
	int i;

	malloc_disk("M9", N, 512);
	assert_int_equal(bs_dev_bdev_create("M9", &g_claimer, NULL, NULL, &dev), 0);
	ch = dev->create_channel(dev);
	memset(r, 0, sizeof(r));
	fill(bufs, N * 512, 11);
	for (i = 0; i < N; i++)
		dev->write(dev, ch, bufs + i * 512, (uint64_t)(N - 1 - i), 1, res_cb, &r[i]);
	for (i = 0; i < N; i++)
		assert_int_equal(r[i].calls, 0);
	ut_poll_threads();
	for (i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, 0);
	}
	/* Reads and zeroes under the same pressure. */
	memset(r, 0, sizeof(r));
	for (i = 0; i < N; i++)
		dev->read(dev, ch, rb + i * 512, (uint64_t)(N - 1 - i), 1, res_cb, &r[i]);
	ut_poll_threads();
	for (i = 0; i < N; i++)
		assert_int_equal(r[i].rc, 0);
	assert_memory_equal(rb, bufs, N * 512);
	memset(r, 0, sizeof(r));
	for (i = 0; i < N; i++)
		dev->write_zeroes(dev, ch, (uint64_t)i, 1, res_cb, &r[i]);
	ut_poll_threads();
	for (i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, 0);
	}
	assert_int_equal(rd(dev, ch, rb, 0, N), 0);
	assert_true(all_bytes(rb, N * 512, 0));

	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
	free(bufs);
	free(rb);
}

/*
 * readv_ctx / writev_ctx with contexts lent by the caller: the same
 * results as readv / writev, under -ENOMEM pressure too (the lent context
 * parks and is resubmitted), a refused submit completes later with its
 * errno, and nothing is taken from or returned to the device's pool
 * (the channel goes away clean).
 */
static void
test_bdev_dev_lent_contexts(void **state)
{
	enum { N = 100 };
	struct bs_dev *dev = NULL, *ro = NULL;
	struct io_channel *ch, *roch;
	static struct res r[N];
	static struct bs_dev_io_ctx ctx[N];
	static struct iovec iov[N];
	uint8_t *bufs = aligned(N * 512), *rb = aligned(N * 512);
	int i;

	malloc_disk("M10", N, 512);
	assert_int_equal(bs_dev_bdev_create("M10", &g_claimer, NULL, NULL, &dev), 0);
	assert_non_null(dev->readv_ctx);
	assert_non_null(dev->writev_ctx);
	ch = dev->create_channel(dev);
	memset(r, 0, sizeof(r));
	fill(bufs, N * 512, 5);
	for (i = 0; i < N; i++) {
		iov[i].iov_base = bufs + i * 512;
		iov[i].iov_len = 512;
		dev->writev_ctx(dev, ch, &iov[i], 1, (uint64_t)(N - 1 - i), 1, &ctx[i], res_cb,
				&r[i]);
	}
	for (i = 0; i < N; i++)
		assert_int_equal(r[i].calls, 0);
	ut_poll_threads();
	for (i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, 0);
	}
	memset(r, 0, sizeof(r));
	for (i = 0; i < N; i++) {
		iov[i].iov_base = rb + i * 512;
		dev->readv_ctx(dev, ch, &iov[i], 1, (uint64_t)(N - 1 - i), 1, &ctx[i], res_cb,
			       &r[i]);
	}
	ut_poll_threads();
	for (i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, 0);
	}
	assert_memory_equal(rb, bufs, N * 512);
	/* Refused at submit (past the end): later, with the errno. */
	memset(r, 0, 2 * sizeof(r[0]));
	dev->readv_ctx(dev, ch, &iov[0], 1, N, 1, &ctx[0], res_cb, &r[0]);
	dev->writev_ctx(dev, ch, &iov[1], 1, N, 1, &ctx[1], res_cb, &r[1]);
	assert_int_equal(r[0].calls + r[1].calls, 0);
	ut_poll_threads();
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[0].rc, -EINVAL);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].rc, -EINVAL);
	/* A read-only view refuses writes, reads through. */
	assert_int_equal(bs_dev_bdev_create_ro("M10", NULL, NULL, &ro), 0);
	roch = ro->create_channel(ro);
	memset(r, 0, 2 * sizeof(r[0]));
	ro->writev_ctx(ro, roch, &iov[0], 1, 0, 1, &ctx[0], res_cb, &r[0]);
	ro->readv_ctx(ro, roch, &iov[1], 1, 0, 1, &ctx[1], res_cb, &r[1]);
	ut_poll_threads();
	assert_int_equal(r[0].calls, 1);
	assert_int_equal(r[0].rc, -EPERM);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].rc, 0);
	ro->destroy_channel(ro, roch);
	destroy_dev(ro);

	dev->destroy_channel(dev, ch);
	destroy_dev(dev);
	free(bufs);
	free(rb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mem_dev_round_trips_and_reads_zero_when_fresh,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_mem_dev_rejects_out_of_range_and_bad_iovecs,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(
			test_mem_dev_unmap_and_write_zeroes_zero_exactly_the_range,
			threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_mem_dev_channels_complete_on_their_own_thread,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_mem_dev_many_in_flight,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(
			test_mem_dev_callback_that_resubmits_does_not_recurse,
			threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_mem_dev_bad_geometry_and_foreign_data,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_mem_dev_large_device_is_sparse,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_zeroes_dev_reads_zeroes_and_refuses_changes,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_zeroes_dev_bounds_of_a_small_device,
						threads_setup, threads_teardown),
		cmocka_unit_test_setup_teardown(test_bdev_dev_round_trips_through_a_malloc_bdev,
						bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(test_bdev_dev_second_claimer_is_refused,
						bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(
			test_bdev_dev_claim_refused_while_another_writer_is_open,
			bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(test_bdev_dev_create_errors,
						bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(test_bdev_dev_read_only_view_refuses_changes,
						bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(
			test_bdev_dev_refused_submit_completes_later_with_its_errno,
			bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(test_bdev_dev_hot_remove_is_forwarded,
						bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(
			test_bdev_dev_resize_updates_blockcnt_and_is_forwarded,
			bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(test_bdev_dev_io_from_two_threads,
						bdev_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(
			test_bdev_dev_enomem_waits_and_completes_everything,
			bdev_small_pool_setup, bdev_teardown),
		cmocka_unit_test_setup_teardown(test_bdev_dev_lent_contexts,
						bdev_small_pool_setup, bdev_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
