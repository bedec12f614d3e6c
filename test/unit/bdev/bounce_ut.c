/*
 * lib/bdev bounce buffers: a bdev that needs 4096-byte aligned buffers (a
 * file opened with O_DIRECT) used to refuse anything else with -EINVAL;
 * vhost guests' buffers can be anywhere. Now the layer copies through
 * aligned bounce buffers: the module only ever sees aligned buffers, the
 * data round-trips for reads and writes whatever the user's iovecs look
 * like, aligned buffers still go down untouched, large misaligned I/O is
 * cut into bounce-sized children, and when every bounce buffer of the
 * thread is busy the I/O waits for one (in order) instead of failing.
 */
#include "ut_bdev.h"

#define BS 512
#define ALIGN 4096

static struct ut_disk *g_d;
static struct bdev_desc *g_desc;
static struct io_channel *g_ch;

/* Room for the largest test I/O plus odd offsets. */
static uint8_t g_src[512 * 1024 + 2 * ALIGN] __attribute__((aligned(ALIGN)));
static uint8_t g_dst[512 * 1024 + 2 * ALIGN] __attribute__((aligned(ALIGN)));

static void
pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 17 + (i >> 9)) & 0xff);
}

static struct ut_disk *
open_disk(uint64_t blocks, bool inline_cpl)
{
	struct ut_disk *d = ut_disk_create("a", BS, blocks, true);

	d->complete_inline = inline_cpl;
	d->bdev.required_alignment = ALIGN;
	assert_int_equal(ut_disk_register(d), 0);
	g_d = d;
	g_desc = ut_open("a", true, NULL);
	g_ch = bdev_get_io_channel(g_desc);
	assert_non_null(g_ch);
	return d;
}

static void
close_disk(void)
{
	io_channel_put(g_ch);
	bdev_close(g_desc);
	ut_poll_threads();
}

/* Every request the module saw since `from` had one aligned whole-block iovec. */
static void
assert_module_saw_aligned(int from)
{
	assert_true(g_ut_nlog > from);
	for (int i = from; i < g_ut_nlog; i++) {
		for (int v = 0; v < g_ut_log[i].iovcnt; v++) {
			assert_int_equal((uintptr_t)g_ut_log[i].iov[v].iov_base % ALIGN, 0);
			assert_int_equal(g_ut_log[i].iov[v].iov_len % BS, 0);
		}
	}
}

static int
io_sync(enum bdev_io_type type, struct iovec *iov, int iovcnt, uint64_t off, uint64_t num)
{
	struct ut_cpl c = {0};
	int rc;

	rc = type == BDEV_IO_TYPE_WRITE ?
	     bdev_writev(g_desc, g_ch, iov, iovcnt, off, num, ut_cpl_cb, &c) :
	     bdev_readv(g_desc, g_ch, iov, iovcnt, off, num, ut_cpl_cb, &c);
	if (rc != 0)
		return rc;
	ut_poll_threads();
	assert_int_equal(c.calls, 1);
	return c.status;
}

static void
test_misaligned_iovecs_round_trip_through_bounce_buffers(void **state)
{
	/* 8 blocks in three pieces at odd addresses, lengths not whole blocks. */
	struct iovec w[3] = {
		{ g_src + 1, 1000 }, { g_src + 3001, 2072 }, { g_src + 9003, 1024 },
	};
	/* Read back in a different cut, again at odd addresses. */
	struct iovec r[4] = {
		{ g_dst + 7, 511 }, { g_dst + 600, 2049 },
		{ g_dst + 5001, 1 }, { g_dst + 7777, 1535 },
	};
	struct iovec w_copy[3], r_copy[4];
	uint8_t expect[8 * BS], got[8 * BS];
	size_t n = 0;

	ut_bdev_setup(1, 64);
	open_disk(128, true);
	pattern(g_src, sizeof(g_src), 1);
	for (int i = 0; i < 3; i++) {
		memcpy(expect + n, w[i].iov_base, w[i].iov_len);
		n += w[i].iov_len;
	}
	memcpy(w_copy, w, sizeof(w));
	assert_int_equal(io_sync(BDEV_IO_TYPE_WRITE, w, 3, 16, 8), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(g_ut_nlog, 1);
	assert_int_equal(g_ut_log[0].iovcnt, 1);
	assert_int_equal(g_ut_log[0].iov[0].iov_len, 8 * BS);
	assert_module_saw_aligned(0);
	assert_memory_equal(g_d->data + 16 * BS, expect, sizeof(expect));
	/* The user's iovec array is the user's: not rewritten. */
	assert_memory_equal(w, w_copy, sizeof(w));

	memset(g_dst, 0xee, sizeof(g_dst));
	memcpy(r_copy, r, sizeof(r));
	assert_int_equal(io_sync(BDEV_IO_TYPE_READ, r, 4, 16, 8), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(g_ut_nlog, 2);
	assert_module_saw_aligned(1);
	n = 0;
	for (int i = 0; i < 4; i++) {
		memcpy(got + n, r[i].iov_base, r[i].iov_len);
		n += r[i].iov_len;
	}
	assert_int_equal(n, sizeof(got));
	assert_memory_equal(got, expect, sizeof(expect));
	assert_memory_equal(r, r_copy, sizeof(r));
	/* Bytes around the user's pieces are untouched. */
	assert_int_equal(g_dst[6], 0xee);
	assert_int_equal(g_dst[7 + 511], 0xee);
	assert_int_equal(g_dst[5001 + 1], 0xee);
	close_disk();
	ut_bdev_teardown();
}

static void
test_misaligned_single_buffer_round_trips(void **state)
{
	struct ut_cpl c = {0};

	ut_bdev_setup(1, 64);
	open_disk(128, true);
	pattern(g_src, sizeof(g_src), 2);
	assert_int_equal(bdev_write(g_desc, g_ch, g_src + 3, 5, 4, ut_cpl_cb, &c), 0);
	ut_poll_threads();
	assert_int_equal(c.calls, 1);
	assert_true(c.success);
	assert_memory_equal(g_d->data + 5 * BS, g_src + 3, 4 * BS);
	memset(g_dst, 0, sizeof(g_dst));
	assert_int_equal(bdev_read(g_desc, g_ch, g_dst + 513, 5, 4, ut_cpl_cb, &c), 0);
	ut_poll_threads();
	assert_int_equal(c.calls, 2);
	assert_true(c.success);
	assert_memory_equal(g_dst + 513, g_src + 3, 4 * BS);
	assert_module_saw_aligned(0);
	close_disk();
	ut_bdev_teardown();
}

/* Aligned buffers cost nothing: the module gets the user's own memory. */
static void
test_aligned_buffers_are_not_bounced(void **state)
{
	struct iovec iov[2] = { { g_src, ALIGN }, { g_src + 3 * ALIGN, 2 * BS } };
	struct ut_cpl c = {0};

	ut_bdev_setup(1, 64);
	open_disk(128, true);
	assert_int_equal(bdev_write(g_desc, g_ch, g_src + ALIGN, 20, 2, ut_cpl_cb, &c), 0);
	assert_int_equal(bdev_writev(g_desc, g_ch, iov, 2, 0, 10, ut_cpl_cb, &c), 0);
	ut_poll_threads();
	assert_int_equal(c.calls, 2);
	assert_int_equal(g_ut_nlog, 2);
	assert_ptr_equal(g_ut_log[0].iov[0].iov_base, g_src + ALIGN);
	assert_int_equal(g_ut_log[1].iovcnt, 2);
	assert_ptr_equal(g_ut_log[1].iov[0].iov_base, g_src);
	assert_ptr_equal(g_ut_log[1].iov[1].iov_base, g_src + 3 * ALIGN);
	close_disk();
	ut_bdev_teardown();
}

/* Direct I/O also needs whole blocks per segment: aligned addresses with a
 * segment that ends mid-block bounce too. */
static void
test_aligned_segments_of_partial_blocks_bounce(void **state)
{
	struct iovec iov[2] = { { g_src, 256 }, { g_src + ALIGN, 768 } };

	ut_bdev_setup(1, 64);
	open_disk(128, true);
	pattern(g_src, sizeof(g_src), 3);
	assert_int_equal(io_sync(BDEV_IO_TYPE_WRITE, iov, 2, 0, 2), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(g_ut_log[0].iovcnt, 1);
	assert_module_saw_aligned(0);
	assert_memory_equal(g_d->data, g_src, 256);
	assert_memory_equal(g_d->data + 256, g_src + ALIGN, 768);
	close_disk();
	ut_bdev_teardown();
}

/* More misaligned I/O than the thread has bounce buffers: the rest waits,
 * leaves in submission order as buffers come back, and nothing fails.
 * Aligned I/O does not wait behind it. */
static void
test_io_waits_for_a_bounce_buffer_when_all_are_busy(void **state)
{
	enum { N = BDEV_BOUNCE_BUFS + 5 };
	static struct ut_cpl c[N];
	struct ut_cpl aligned = {0};
	int done;

	ut_bdev_setup(1, 256);
	open_disk(256, false);
	memset(c, 0, sizeof(c));
	pattern(g_src, sizeof(g_src), 4);
	for (int i = 0; i < N; i++)
		assert_int_equal(bdev_write(g_desc, g_ch, g_src + 1 + i * BS, (uint64_t)i, 1,
					    ut_cpl_cb, &c[i]), 0);
	assert_int_equal(ut_pending_count(), BDEV_BOUNCE_BUFS);
	assert_int_equal(bdev_write(g_desc, g_ch, g_src, 200, 1, ut_cpl_cb, &aligned), 0);
	assert_int_equal(ut_pending_count(), BDEV_BOUNCE_BUFS + 1);
	ut_poll_threads();

	/* Each completion hands its buffer to the oldest waiter. */
	assert_int_equal(ut_complete(2, BDEV_IO_STATUS_SUCCESS), 2);
	ut_poll_threads();
	assert_int_equal(c[0].calls, 1);
	assert_int_equal(c[1].calls, 1);
	assert_int_equal(ut_pending_count(), BDEV_BOUNCE_BUFS + 1);
	for (done = 0; done < 64 && ut_pending_count() > 0; done++) {
		ut_complete(1, BDEV_IO_STATUS_SUCCESS);
		ut_poll_threads();
	}
	assert_int_equal(ut_pending_count(), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(c[i].calls, 1);
		assert_true(c[i].success);
	}
	assert_int_equal(aligned.calls, 1);
	/* In order: the module saw offsets 0..N-1 with the aligned one after
	 * the first BDEV_BOUNCE_BUFS. */
	assert_int_equal(g_ut_nlog, N + 1);
	for (int i = 0, off = 0; i < g_ut_nlog; i++) {
		if (g_ut_log[i].offset == 200)
			continue;
		assert_int_equal(g_ut_log[i].offset, off++);
	}
	assert_int_equal(g_ut_log[BDEV_BOUNCE_BUFS].offset, 200);
	assert_module_saw_aligned(0);
	for (int i = 0; i < N; i++)
		assert_memory_equal(g_d->data + i * BS, g_src + 1 + i * BS, BS);
	close_disk();
	ut_bdev_teardown();
}

/* Larger than one bounce buffer: children of at most BDEV_BOUNCE_BUF_SIZE,
 * each bounced; also when the back end has a smaller max transfer and says
 * NOMEM once. */
static void
test_large_misaligned_io_is_cut_to_bounce_buffer_size(void **state)
{
	const uint64_t blocks = (5 * BDEV_BOUNCE_BUF_SIZE + 3 * BS) / BS;
	struct iovec w[2] = { { g_src + 5, 100 * BS + 17 }, { g_src + 200 * BS + 1, 0 } };
	struct ut_cpl c = {0};
	struct ut_disk *d;

	w[1].iov_len = blocks * BS - w[0].iov_len;
	ut_bdev_setup(1, 256);
	d = open_disk(2048, true);
	pattern(g_src, sizeof(g_src), 5);
	assert_int_equal(bdev_writev(g_desc, g_ch, w, 2, 7, blocks, ut_cpl_cb, &c), 0);
	ut_poll_threads();
	assert_int_equal(c.calls, 1);
	assert_true(c.success);
	assert_int_equal(g_ut_nlog, 6);
	for (int i = 0; i < g_ut_nlog; i++)
		assert_true(g_ut_log[i].num * BS <= BDEV_BOUNCE_BUF_SIZE);
	assert_module_saw_aligned(0);
	assert_memory_equal(d->data + 7 * BS, w[0].iov_base, w[0].iov_len);
	assert_memory_equal(d->data + 7 * BS + w[0].iov_len, w[1].iov_base, w[1].iov_len);

	memset(g_dst, 0, sizeof(g_dst));
	assert_int_equal(bdev_read(g_desc, g_ch, g_dst + 1, 7, blocks, ut_cpl_cb, &c), 0);
	ut_poll_threads();
	assert_int_equal(c.calls, 2);
	assert_true(c.success);
	assert_memory_equal(g_dst + 1, d->data + 7 * BS, blocks * BS);
	close_disk();

	/* The back end's own limit is tighter, and it runs out of room once. */
	d = ut_disk_create("b", BS, 2048, true);
	d->complete_inline = true;
	d->bdev.required_alignment = ALIGN;
	d->bdev.max_transfer_blocks = 24;
	assert_int_equal(ut_disk_register(d), 0);
	g_desc = ut_open("b", true, NULL);
	g_ch = bdev_get_io_channel(g_desc);
	g_ut_nlog = 0;
	d->nomem_left = 1;
	assert_int_equal(bdev_write(g_desc, g_ch, g_src + 9, 3, 100, ut_cpl_cb, &c), 0);
	ut_poll_threads();
	ut_advance_time_us(200);
	ut_poll_threads();
	assert_int_equal(c.calls, 3);
	assert_true(c.success);
	for (int i = 0; i < g_ut_nlog; i++)
		assert_true(g_ut_log[i].num <= 24);
	assert_module_saw_aligned(0);
	assert_memory_equal(d->data + 3 * BS, g_src + 9, 100 * BS);
	close_disk();
	ut_bdev_teardown();
}

/* A failed read leaves the user's buffer as it was; a compare sends the
 * user's data down. */
static void
test_failed_read_does_not_touch_the_user_buffer(void **state)
{
	struct iovec cmp = { g_src + 11, 2 * BS };
	struct ut_cpl c = {0};
	struct bdev_io *io;

	ut_bdev_setup(1, 64);
	open_disk(128, false);
	memset(g_dst, 0x5a, 4 * BS);
	assert_int_equal(bdev_read(g_desc, g_ch, g_dst + 3, 0, 2, ut_cpl_cb, &c), 0);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_FAILED), 1);
	ut_poll_threads();
	assert_int_equal(c.calls, 1);
	assert_false(c.success);
	assert_true(g_dst[3] == 0x5a && g_dst[3 + 2 * BS - 1] == 0x5a);

	pattern(g_src, 4 * BS, 6);
	assert_int_equal(bdev_comparev(g_desc, g_ch, &cmp, 1, 0, 2, ut_cpl_cb, &c), 0);
	io = ut_pending_first();
	assert_non_null(io);
	assert_int_equal(io->u.iovcnt, 1);
	assert_int_equal((uintptr_t)io->u.iovs[0].iov_base % ALIGN, 0);
	assert_memory_equal(io->u.iovs[0].iov_base, g_src + 11, 2 * BS);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_MISCOMPARE), 1);
	ut_poll_threads();
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.status, BDEV_IO_STATUS_MISCOMPARE);
	close_disk();
	ut_bdev_teardown();
}

/* With QoS on another thread, the bounce happens there (its buffers), and
 * the data still lands in the submitter's buffer. */
static void
test_misaligned_io_under_qos_bounces_on_the_qos_thread(void **state)
{
	uint64_t limits[BDEV_QOS_NUM_LIMITS] = { 1000000, 0, 0, 0 };
	struct ut_cpl c = {0};
	int set = 1;
	struct ut_disk *d;

	ut_bdev_setup(2, 64);
	d = ut_disk_create("a", BS, 128, true);
	d->complete_inline = true;
	d->bdev.required_alignment = ALIGN;
	assert_int_equal(ut_disk_register(d), 0);
	pattern(d->data, 128 * BS, 7);
	ut_set_thread(0);
	bdev_set_qos_limits(&d->bdev, limits, ut_unregister_done, &set);
	ut_poll_threads();
	assert_int_equal(set, 0);
	ut_set_thread(1);
	g_desc = ut_open("a", true, NULL);
	g_ch = bdev_get_io_channel(g_desc);
	memset(g_dst, 0, 8 * BS);
	assert_int_equal(bdev_read(g_desc, g_ch, g_dst + 33, 10, 3, ut_cpl_cb, &c), 0);
	ut_poll_threads();
	assert_int_equal(c.calls, 1);
	assert_true(c.success);
	assert_memory_equal(g_dst + 33, d->data + 10 * BS, 3 * BS);
	assert_module_saw_aligned(0);
	ut_set_thread(1);
	close_disk();
	ut_bdev_teardown();
}

/* An alignment no bounce buffer can meet is still refused up front. */
static void
test_alignment_beyond_a_bounce_buffer_is_refused(void **state)
{
	struct ut_cpl c = {0};
	uint8_t *p = g_dst + ALIGN;
	struct ut_disk *d;

	if (((uintptr_t)p & (2 * BDEV_BOUNCE_BUF_SIZE - 1)) == 0)
		p += ALIGN;
	ut_bdev_setup(1, 64);
	d = ut_disk_create("huge", BS, 128, false);
	d->complete_inline = true;
	d->bdev.required_alignment = 2 * BDEV_BOUNCE_BUF_SIZE;
	assert_int_equal(ut_disk_register(d), 0);
	g_desc = ut_open("huge", true, NULL);
	g_ch = bdev_get_io_channel(g_desc);
	assert_int_equal(bdev_read(g_desc, g_ch, p, 0, 1, ut_cpl_cb, &c), -EINVAL);
	assert_int_equal(g_ut_nlog, 0);
	close_disk();
	ut_bdev_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_misaligned_iovecs_round_trip_through_bounce_buffers),
		cmocka_unit_test(test_misaligned_single_buffer_round_trips),
		cmocka_unit_test(test_aligned_buffers_are_not_bounced),
		cmocka_unit_test(test_aligned_segments_of_partial_blocks_bounce),
		cmocka_unit_test(test_io_waits_for_a_bounce_buffer_when_all_are_busy),
		cmocka_unit_test(test_large_misaligned_io_is_cut_to_bounce_buffer_size),
		cmocka_unit_test(test_failed_read_does_not_touch_the_user_buffer),
		cmocka_unit_test(test_misaligned_io_under_qos_bounces_on_the_qos_thread),
		cmocka_unit_test(test_alignment_beyond_a_bounce_buffer_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
