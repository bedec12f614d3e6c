/*
 * lib/bdev splitting: by max transfer, by optimal I/O boundary, by segment
 * count (including iovecs that end mid-block), unmap and write_zeroes
 * limits; children carry exactly the right slices of the parent's iovecs;
 * a failing child fails the parent once.
 */
#include "ut_bdev.h"

static struct ut_disk *g_d;
static struct bdev_desc *g_desc;
static struct io_channel *g_ch;

static void
open_disk(struct ut_disk *d)
{
	assert_int_equal(ut_disk_register(d), 0);
	g_d = d;
	g_desc = ut_open(d->name, true, NULL);
	g_ch = bdev_get_io_channel(g_desc);
	assert_non_null(g_ch);
}

static void
close_disk(void)
{
	io_channel_put(g_ch);
	bdev_close(g_desc);
	ut_poll_threads();
}

static void
assert_req(int i, enum bdev_io_type type, uint64_t offset, uint64_t num)
{
	assert_true(i < g_ut_nlog);
	assert_int_equal(g_ut_log[i].type, type);
	assert_int_equal(g_ut_log[i].offset, offset);
	assert_int_equal(g_ut_log[i].num, num);
}

static void
test_split_by_max_transfer(void **state)
{
	static uint8_t buf[20 * 512], back[20 * 512];
	struct ut_cpl cpl = {0};
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 128, true);
	d->complete_inline = true;
	d->bdev.max_transfer_blocks = 8;
	open_disk(d);
	assert_int_equal(bdev_get_max_transfer_blocks(&d->bdev), 8);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + i / 512);
	assert_int_equal(bdev_write(g_desc, g_ch, buf, 3, 20, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 3);
	assert_req(0, BDEV_IO_TYPE_WRITE, 3, 8);
	assert_req(1, BDEV_IO_TYPE_WRITE, 11, 8);
	assert_req(2, BDEV_IO_TYPE_WRITE, 19, 4);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(g_ut_log[i].iovcnt, 1);
		assert_ptr_equal(g_ut_log[i].iov[0].iov_base, buf + i * 8 * 512);
		assert_int_equal(g_ut_log[i].iov[0].iov_len, g_ut_log[i].num * 512);
	}
	assert_memory_equal(d->data + 3 * 512, buf, sizeof(buf));

	/* Reading back through a split lands each byte where it belongs. */
	assert_int_equal(bdev_read(g_desc, g_ch, back, 3, 20, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 2);
	assert_memory_equal(back, buf, sizeof(buf));

	/* Within the limit: passed down whole, with the user's own iovec. */
	g_ut_nlog = 0;
	assert_int_equal(bdev_read(g_desc, g_ch, back, 0, 8, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(g_ut_nlog, 1);
	close_disk();
	ut_bdev_teardown();
}

static void
test_split_on_optimal_io_boundary(void **state)
{
	static uint8_t buf[30 * 512];
	struct ut_cpl cpl = {0};
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 128, true);
	d->complete_inline = true;
	d->bdev.optimal_io_boundary = 16;
	d->bdev.split_on_optimal_io_boundary = true;
	open_disk(d);

	memset(buf, 0x3c, sizeof(buf));
	assert_int_equal(bdev_write(g_desc, g_ch, buf, 10, 30, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 3);
	assert_req(0, BDEV_IO_TYPE_WRITE, 10, 6);
	assert_req(1, BDEV_IO_TYPE_WRITE, 16, 16);
	assert_req(2, BDEV_IO_TYPE_WRITE, 32, 8);
	assert_ptr_equal(g_ut_log[1].iov[0].iov_base, buf + 6 * 512);
	assert_ptr_equal(g_ut_log[2].iov[0].iov_base, buf + 22 * 512);

	/* Not crossing a boundary: one request. */
	g_ut_nlog = 0;
	assert_int_equal(bdev_write(g_desc, g_ch, buf, 16, 16, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(g_ut_nlog, 1);

	/* Boundary and max transfer together: the tighter wins each time. */
	close_disk();
	d = ut_disk_create("e", 512, 128, false);
	d->complete_inline = true;
	d->bdev.optimal_io_boundary = 16;
	d->bdev.split_on_optimal_io_boundary = true;
	d->bdev.max_transfer_blocks = 10;
	open_disk(d);
	g_ut_nlog = 0;
	assert_int_equal(bdev_read(g_desc, g_ch, buf, 12, 30, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(g_ut_nlog, 4);
	assert_req(0, BDEV_IO_TYPE_READ, 12, 4);
	assert_req(1, BDEV_IO_TYPE_READ, 16, 10);
	assert_req(2, BDEV_IO_TYPE_READ, 26, 6);
	assert_req(3, BDEV_IO_TYPE_READ, 32, 10);
	close_disk();
	ut_bdev_teardown();
}

static void
test_split_by_segment_count(void **state)
{
	static uint8_t buf[8 * 512];
	struct iovec iov[8];
	struct ut_cpl cpl = {0};
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 128, true);
	d->complete_inline = true;
	d->bdev.max_segment_count = 2;
	open_disk(d);

	/* Five whole-block iovecs, two per child. */
	for (int i = 0; i < 5; i++)
		iov[i] = (struct iovec){buf + i * 512, 512};
	assert_int_equal(bdev_writev(g_desc, g_ch, iov, 5, 0, 5, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 3);
	assert_req(0, BDEV_IO_TYPE_WRITE, 0, 2);
	assert_req(1, BDEV_IO_TYPE_WRITE, 2, 2);
	assert_req(2, BDEV_IO_TYPE_WRITE, 4, 1);
	assert_int_equal(g_ut_log[0].iovcnt, 2);
	assert_ptr_equal(g_ut_log[1].iov[0].iov_base, buf + 2 * 512);
	assert_ptr_equal(g_ut_log[1].iov[1].iov_base, buf + 3 * 512);
	assert_int_equal(g_ut_log[2].iovcnt, 1);
	assert_ptr_equal(g_ut_log[2].iov[0].iov_base, buf + 4 * 512);

	/*
	 * iovecs ending mid-block, [768][512][256], two segments per child:
	 * child 1 would take 768 + 512 bytes, cut back to two whole blocks
	 * ([768][first 256 of the second]); child 2 is [the other 256][256].
	 */
	iov[0] = (struct iovec){buf, 768};
	iov[1] = (struct iovec){buf + 1024, 512};
	iov[2] = (struct iovec){buf + 2048, 256};
	g_ut_nlog = 0;
	assert_int_equal(bdev_readv(g_desc, g_ch, iov, 3, 10, 3, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 2);
	assert_req(0, BDEV_IO_TYPE_READ, 10, 2);
	assert_int_equal(g_ut_log[0].iovcnt, 2);
	assert_ptr_equal(g_ut_log[0].iov[0].iov_base, buf);
	assert_int_equal(g_ut_log[0].iov[0].iov_len, 768);
	assert_ptr_equal(g_ut_log[0].iov[1].iov_base, buf + 1024);
	assert_int_equal(g_ut_log[0].iov[1].iov_len, 256);
	assert_req(1, BDEV_IO_TYPE_READ, 12, 1);
	assert_int_equal(g_ut_log[1].iovcnt, 2);
	assert_ptr_equal(g_ut_log[1].iov[0].iov_base, buf + 1024 + 256);
	assert_int_equal(g_ut_log[1].iov[0].iov_len, 256);
	assert_ptr_equal(g_ut_log[1].iov[1].iov_base, buf + 2048);
	assert_int_equal(g_ut_log[1].iov[1].iov_len, 256);

	/* One block spread over more iovecs than a child may have: the I/O fails. */
	for (int i = 0; i < 4; i++)
		iov[i] = (struct iovec){buf + i * 128, 128};
	assert_int_equal(bdev_readv(g_desc, g_ch, iov, 4, 0, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(cpl.calls, 2);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 3);
	assert_false(cpl.success);
	close_disk();
	ut_bdev_teardown();
}

static void
test_split_data_lands_in_child_iovecs(void **state)
{
	/* Many small iovecs, a tight segment limit and a boundary: bytes end
	 * up at the right disk offsets and come back to the right places. */
	static uint8_t src[64 * 512], dst[64 * 512];
	struct iovec siov[40], diov[40];
	struct ut_cpl cpl = {0};
	struct ut_disk *d;
	size_t off = 0;
	int n = 0;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 256, true);
	d->complete_inline = true;
	d->bdev.max_segment_count = 3;
	d->bdev.optimal_io_boundary = 8;
	d->bdev.split_on_optimal_io_boundary = true;
	d->bdev.max_transfer_blocks = 5;
	open_disk(d);

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i ^ (i >> 9) ^ 0x5a);
	/* iovec sizes 384, 1152, 896, ... (multiples of 128, not of 512) */
	while (off < sizeof(src)) {
		size_t len = (size_t)(128 * (3 + (n * 5) % 11));

		if (len > sizeof(src) - off)
			len = sizeof(src) - off;
		siov[n] = (struct iovec){src + off, len};
		diov[n] = (struct iovec){dst + off, len};
		off += len;
		n++;
	}
	assert_true(n <= 40);
	assert_int_equal(bdev_writev(g_desc, g_ch, siov, n, 5, 64, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);
	assert_memory_equal(d->data + 5 * 512, src, sizeof(src));
	for (int i = 0; i < g_ut_nlog; i++) {
		size_t bytes = 0;

		assert_true(g_ut_log[i].iovcnt <= 3);
		assert_true(g_ut_log[i].num <= 5);
		assert_true(g_ut_log[i].offset / 8 == (g_ut_log[i].offset + g_ut_log[i].num - 1) / 8);
		for (int j = 0; j < g_ut_log[i].iovcnt; j++)
			bytes += g_ut_log[i].iov[j].iov_len;
		assert_int_equal(bytes, g_ut_log[i].num * 512);
	}
	assert_int_equal(bdev_readv(g_desc, g_ch, diov, n, 5, 64, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 2);
	assert_true(cpl.success);
	assert_memory_equal(dst, src, sizeof(src));
	close_disk();
	ut_bdev_teardown();
}

static void
test_split_unmap_and_write_zeroes_limits(void **state)
{
	struct ut_cpl cpl = {0};
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 128, false);
	d->complete_inline = true;
	d->bdev.max_unmap_blocks = 10;
	d->bdev.max_write_zeroes_blocks = 7;
	d->bdev.max_transfer_blocks = 2;    /* does not apply to these */
	open_disk(d);

	assert_int_equal(bdev_unmap(g_desc, g_ch, 1, 25, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 3);
	assert_req(0, BDEV_IO_TYPE_UNMAP, 1, 10);
	assert_req(1, BDEV_IO_TYPE_UNMAP, 11, 10);
	assert_req(2, BDEV_IO_TYPE_UNMAP, 21, 5);

	g_ut_nlog = 0;
	assert_int_equal(bdev_write_zeroes(g_desc, g_ch, 0, 15, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 2);
	assert_int_equal(g_ut_nlog, 3);
	assert_req(0, BDEV_IO_TYPE_WRITE_ZEROES, 0, 7);
	assert_req(1, BDEV_IO_TYPE_WRITE_ZEROES, 7, 7);
	assert_req(2, BDEV_IO_TYPE_WRITE_ZEROES, 14, 1);

	/* Emulated write_zeroes obeys the data limits instead. */
	d->supported[BDEV_IO_TYPE_WRITE_ZEROES] = false;
	g_ut_nlog = 0;
	assert_int_equal(bdev_write_zeroes(g_desc, g_ch, 0, 5, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(g_ut_nlog, 3);
	assert_req(0, BDEV_IO_TYPE_WRITE, 0, 2);
	assert_req(2, BDEV_IO_TYPE_WRITE, 4, 1);
	close_disk();
	ut_bdev_teardown();
}

static void
test_split_child_failure_fails_parent_once(void **state)
{
	static uint8_t buf[12 * 512];
	struct ut_cpl cpl = {0};
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 128, false);
	d->bdev.max_transfer_blocks = 4;
	open_disk(d);

	assert_int_equal(bdev_read(g_desc, g_ch, buf, 0, 12, ut_cpl_cb, &cpl), 0);
	assert_int_equal(ut_pending_count(), 3);
	assert_int_equal(ut_complete(1, BDEV_IO_STATUS_FAILED), 1);
	assert_int_equal(cpl.calls, 0);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 2);
	assert_int_equal(cpl.calls, 1);
	assert_false(cpl.success);
	assert_int_equal(cpl.status, BDEV_IO_STATUS_FAILED);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);

	/* Every child failing still completes the parent once. */
	close_disk();
	d = ut_disk_create("e", 512, 128, false);
	d->bdev.max_transfer_blocks = 1;
	open_disk(d);
	g_ut_nlog = 0;
	assert_int_equal(bdev_read(g_desc, g_ch, buf, 0, 12, ut_cpl_cb, &cpl), 0);
	/* 12 children fit under the outstanding cap of 16. */
	assert_int_equal(ut_pending_count(), 12);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_FAILED), 12);
	assert_int_equal(cpl.calls, 2);
	assert_false(cpl.success);
	close_disk();
	ut_bdev_teardown();
}

static void
test_split_outstanding_children_are_bounded(void **state)
{
	static uint8_t buf[100 * 512];
	struct ut_cpl cpl = {0};
	struct ut_disk *d;
	int rounds = 0;

	ut_bdev_setup(1, 256);
	d = ut_disk_create("d", 512, 128, false);
	d->bdev.max_transfer_blocks = 1;
	open_disk(d);

	assert_int_equal(bdev_write(g_desc, g_ch, buf, 0, 100, ut_cpl_cb, &cpl), 0);
	while (cpl.calls == 0) {
		assert_true(ut_pending_count() <= BDEV_SPLIT_MAX_OUTSTANDING);
		assert_int_equal(ut_complete(1, BDEV_IO_STATUS_SUCCESS), 1);
		ut_poll_threads();
		rounds++;
	}
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 100);
	assert_int_equal(rounds, 100);
	for (int i = 0; i < 100; i++)
		assert_req(i, BDEV_IO_TYPE_WRITE, (uint64_t)i, 1);
	close_disk();
	ut_bdev_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_by_max_transfer),
		cmocka_unit_test(test_split_on_optimal_io_boundary),
		cmocka_unit_test(test_split_by_segment_count),
		cmocka_unit_test(test_split_data_lands_in_child_iovecs),
		cmocka_unit_test(test_split_unmap_and_write_zeroes_limits),
		cmocka_unit_test(test_split_child_failure_fails_parent_once),
		cmocka_unit_test(test_split_outstanding_children_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
