/*
 * lib/bdev queueing: -ENOMEM from an empty pool and bdev_queue_io_wait;
 * splits of a large I/O through a tiny pool; the back end's NOMEM retried
 * (on the next completion, or by the timed retry when nothing is in
 * flight) and never shown to the user; reset aborting NOMEM-queued I/O.
 */
#include "ut_bdev.h"

static struct bdev_desc *g_desc;
static struct io_channel *g_ch;
static char g_buf[256 * 512];

static struct ut_disk *
open_disk(const char *name, bool inline_cpl, uint32_t max_transfer)
{
	struct ut_disk *d = ut_disk_create(name, 512, 1024, false);

	d->complete_inline = inline_cpl;
	d->bdev.max_transfer_blocks = max_transfer;
	assert_int_equal(ut_disk_register(d), 0);
	g_desc = ut_open(name, true, NULL);
	g_ch = bdev_get_io_channel(g_desc);
	return d;
}

static void
close_disk(void)
{
	io_channel_put(g_ch);
	bdev_close(g_desc);
	ut_poll_threads();
}

struct waiter {
	struct bdev_io_wait_entry entry;
	struct ut_cpl cpl;
	int woken;
	int rc;
};

static void
waiter_resubmit(void *arg)
{
	struct waiter *w = arg;

	w->woken++;
	w->rc = bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &w->cpl);
}

static void
test_empty_pool_returns_enomem_and_io_wait_resumes(void **state)
{
	struct ut_cpl cpl = {0};
	struct waiter w = {0};

	ut_bdev_setup(1, 4);
	open_disk("d", false, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &cpl), -ENOMEM);
	assert_int_equal(ut_pending_count(), 4);

	w.entry.bdev = bdev_desc_get_bdev(g_desc);
	w.entry.cb_fn = waiter_resubmit;
	w.entry.cb_arg = &w;
	/* Wrong bdev in the entry is refused. */
	w.entry.bdev = NULL;
	assert_int_equal(bdev_queue_io_wait(bdev_desc_get_bdev(g_desc), g_ch, &w.entry), -EINVAL);
	w.entry.bdev = bdev_desc_get_bdev(g_desc);
	assert_int_equal(bdev_queue_io_wait(w.entry.bdev, g_ch, &w.entry), 0);
	ut_poll_threads();
	assert_int_equal(w.woken, 0);

	/* Freeing one bdev_io wakes the waiter, which gets it. */
	assert_int_equal(ut_complete(1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(cpl.calls, 1);
	assert_int_equal(w.woken, 1);
	assert_int_equal(w.rc, 0);
	assert_int_equal(ut_pending_count(), 4);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 4);
	assert_int_equal(w.cpl.calls, 1);
	close_disk();
	ut_bdev_teardown();
}

static void
test_huge_split_completes_through_tiny_pool(void **state)
{
	struct ut_cpl cpl = {0};

	/* Inline back end: the parent plus two children at a time. */
	ut_bdev_setup(1, 3);
	open_disk("d", true, 1);
	assert_int_equal(bdev_write(g_desc, g_ch, g_buf, 0, 200, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 200);
	for (int i = 0; i < 200; i++)
		assert_int_equal(g_ut_log[i].offset, (uint64_t)i);
	close_disk();
	ut_bdev_teardown();
}

static void
test_split_waits_for_pool_when_nothing_in_flight(void **state)
{
	struct ut_cpl cpl = {0}, other = {0};

	ut_bdev_setup(1, 2);
	open_disk("d", false, 4);
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &other), 0);
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 12, ut_cpl_cb, &cpl), 0);
	/* No bdev_io left for a child. */
	assert_int_equal(ut_pending_count(), 1);
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &other), -ENOMEM);
	/* The unrelated I/O completes and frees its bdev_io: a child goes out. */
	assert_int_equal(ut_complete(1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(other.calls, 1);
	ut_poll_threads();
	assert_int_equal(ut_pending_count(), 1);
	while (cpl.calls == 0) {
		assert_int_equal(ut_complete(1, BDEV_IO_STATUS_SUCCESS), 1);
		ut_poll_threads();
	}
	assert_true(cpl.success);
	assert_int_equal(g_ut_nlog, 1 + 3);
	close_disk();
	ut_bdev_teardown();
}

static void
test_module_nomem_is_retried_not_failed(void **state)
{
	struct ut_cpl a = {0}, b = {0};
	struct ut_disk *d;

	ut_bdev_setup(1, 16);
	d = open_disk("d", false, 0);

	/* Nothing else in flight: the timed retry resubmits. */
	d->nomem_left = 2;
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &a), 0);
	ut_poll_threads();
	assert_int_equal(ut_pending_count(), 0);
	assert_int_equal(g_ut_nlog, 1);
	ut_advance_time_us(100);
	ut_poll_threads();
	assert_int_equal(g_ut_nlog, 2);        /* NOMEM again */
	assert_int_equal(ut_pending_count(), 0);
	ut_advance_time_us(100);
	ut_poll_threads();
	assert_int_equal(g_ut_nlog, 3);
	assert_int_equal(ut_pending_count(), 1);
	assert_int_equal(a.calls, 0);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(a.calls, 1);
	assert_true(a.success);

	/* Another I/O in flight: its completion retries at once. */
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &a), 0);
	d->nomem_left = 1;
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 1, 1, ut_cpl_cb, &b), 0);
	assert_int_equal(ut_pending_count(), 1);
	assert_int_equal(ut_complete(1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(a.calls, 2);
	assert_int_equal(ut_pending_count(), 1);     /* b resubmitted */
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(b.calls, 1);
	assert_true(b.success);
	ut_poll_threads();
	close_disk();
	ut_bdev_teardown();
}

static void
test_reset_aborts_nomem_queued_io(void **state)
{
	struct ut_cpl a = {0}, r = {0};
	struct ut_disk *d;

	ut_bdev_setup(2, 16);
	d = open_disk("d", false, 0);
	d->nomem_left = 1;
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &a), 0);
	assert_int_equal(bdev_reset(g_desc, g_ch, ut_cpl_cb, &r), 0);
	ut_poll_threads();
	assert_int_equal(a.calls, 1);
	assert_false(a.success);
	assert_int_equal(a.status, BDEV_IO_STATUS_ABORTED);
	assert_int_equal(ut_pending_count(), 1);     /* the reset itself */
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(r.calls, 1);
	assert_true(r.success);
	close_disk();
	ut_bdev_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_pool_returns_enomem_and_io_wait_resumes),
		cmocka_unit_test(test_huge_split_completes_through_tiny_pool),
		cmocka_unit_test(test_split_waits_for_pool_when_nothing_in_flight),
		cmocka_unit_test(test_module_nomem_is_retried_not_failed),
		cmocka_unit_test(test_reset_aborts_nomem_queued_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
