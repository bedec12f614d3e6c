/*
 * lib/bdev QoS, in virtual time: IOPS and bandwidth limits hold per 1 ms
 * timeslice and within 5% over 10 s; read and write bandwidth limits only
 * touch their direction; rounding; limits changed and removed at run time
 * (removal releases what is queued); I/O from another thread is forwarded
 * to the QoS thread and completes back on its own thread; tearing down a
 * bdev with QoS on leaks nothing; a late poller or a fractional refill
 * loses no tokens, and an idle period saves none up.
 */
#include "ut_bdev.h"

#include "lvstor/app.h"

#define MIB (1024ULL * 1024ULL)

static struct ut_disk *g_d;
static char g_buf[128 * 1024];

struct qio {
	struct bdev_desc *desc;
	struct io_channel *ch;
	int done;
	int failed;
	struct thread *cb_thread;
	int resubmit;          /* keep this many in flight while > 0 */
	uint64_t blocks;
	bool write;
};

static void
qio_cb(struct bdev_io *io, bool success, void *arg)
{
	struct qio *q = arg;

	q->done++;
	q->failed += !success;
	q->cb_thread = thread_get_current();
	bdev_free_io(io);
	if (q->resubmit > 0) {
		int rc = q->write ? bdev_write(q->desc, q->ch, g_buf, 0, q->blocks, qio_cb, q) :
			 bdev_read(q->desc, q->ch, g_buf, 0, q->blocks, qio_cb, q);

		assert_int_equal(rc, 0);
	}
}

static void
qio_submit(struct qio *q, int n, bool write, uint64_t blocks)
{
	for (int i = 0; i < n; i++) {
		int rc = write ? bdev_write(q->desc, q->ch, g_buf, 0, blocks, qio_cb, q) :
			 bdev_read(q->desc, q->ch, g_buf, 0, blocks, qio_cb, q);

		assert_int_equal(rc, 0);
	}
}

static void
qio_open(struct qio *q, int thread)
{
	ut_set_thread(thread);
	q->desc = ut_open("d", true, NULL);
	q->ch = bdev_get_io_channel(q->desc);
}

static void
qio_close(struct qio *q, int thread)
{
	ut_set_thread(thread);
	io_channel_put(q->ch);
	bdev_close(q->desc);
}

static void
limits_set_cb(void *arg, int rc)
{
	int *p = arg;

	p[0]++;
	p[1] = rc;
}

static void
set_limits(uint64_t iops, uint64_t rw_bps, uint64_t r_bps, uint64_t w_bps)
{
	uint64_t l[BDEV_QOS_NUM_LIMITS] = {iops, rw_bps, r_bps, w_bps};
	int done[2] = {0, -1};

	bdev_set_qos_limits(&g_d->bdev, l, limits_set_cb, done);
	assert_int_equal(done[0], 0);
	ut_poll_threads();
	assert_int_equal(done[0], 1);
	assert_int_equal(done[1], 0);
}

static void
setup(int threads)
{
	ut_bdev_setup(threads, 2048);
	g_d = ut_disk_create("d", 512, 1024, false);
	g_d->complete_inline = true;
	assert_int_equal(ut_disk_register(g_d), 0);
}

static void
tick_ms(int ms)
{
	for (int i = 0; i < ms; i++) {
		ut_advance_time_us(1000);
		ut_poll_threads();
	}
}

static void
test_iops_limit_per_timeslice(void **state)
{
	struct qio q = {0};
	uint64_t l[BDEV_QOS_NUM_LIMITS];

	setup(1);
	qio_open(&q, 0);
	set_limits(9001, 0, 0, 0);
	bdev_get_qos_limits(&g_d->bdev, l);
	assert_int_equal(l[BDEV_QOS_RW_IOPS], 10000);     /* rounded up to 1000s */
	assert_int_equal(l[BDEV_QOS_RW_BPS], 0);

	qio_submit(&q, 100, false, 1);
	ut_poll_threads();
	assert_int_equal(q.done, 10);
	assert_int_equal(g_ut_nlog, 10);
	for (int ms = 1; ms <= 9; ms++) {
		tick_ms(1);
		assert_int_equal(q.done, 10 + ms * 10);
	}
	tick_ms(5);
	assert_int_equal(q.done, 100);
	assert_int_equal(q.failed, 0);

	/* Unlimited types pass freely. */
	assert_int_equal(bdev_flush(q.desc, q.ch, 0, 1, qio_cb, &q), 0);
	ut_poll_threads();
	assert_int_equal(q.done, 101);

	set_limits(0, 0, 0, 0);
	bdev_get_qos_limits(&g_d->bdev, l);
	assert_int_equal(l[BDEV_QOS_RW_IOPS], 0);
	qio_close(&q, 0);
	ut_bdev_teardown();
}

static void
test_limits_hold_within_5_percent_over_10s(void **state)
{
	struct qio q = {0};

	setup(1);
	qio_open(&q, 0);

	/* 5000 IOPS at queue depth 64 for 10 s of virtual time. */
	set_limits(5000, 0, 0, 0);
	q.resubmit = 1;
	q.blocks = 1;
	qio_submit(&q, 64, false, 1);
	tick_ms(10000);
	q.resubmit = 0;
	assert_true(q.done >= 50000 * 95 / 100 && q.done <= 50000 * 105 / 100);
	set_limits(0, 0, 0, 0);
	ut_poll_threads();

	/* 10 MiB/s of 64 KiB writes: 160 per second. */
	q.done = 0;
	set_limits(0, 10 * MIB, 0, 0);
	q.resubmit = 1;
	q.write = true;
	q.blocks = 128;
	qio_submit(&q, 32, true, 128);
	tick_ms(10000);
	q.resubmit = 0;
	assert_true(q.done >= 1600 * 95 / 100 && q.done <= 1600 * 105 / 100);
	set_limits(0, 0, 0, 0);
	ut_poll_threads();
	qio_close(&q, 0);
	ut_bdev_teardown();
}

static void
test_read_and_write_bandwidth_limits(void **state)
{
	struct qio r = {0}, w = {0};
	uint64_t l[BDEV_QOS_NUM_LIMITS];

	setup(1);
	qio_open(&r, 0);
	w.desc = r.desc;
	w.ch = r.ch;
	/* 1 MiB/s of reads: ~1048 bytes per ms, so one 4 KiB read per ~4 ms. */
	set_limits(0, 0, 1, 0);
	bdev_get_qos_limits(&g_d->bdev, l);
	assert_int_equal(l[BDEV_QOS_R_BPS], MIB);
	qio_submit(&r, 20, false, 8);
	qio_submit(&w, 20, true, 8);
	ut_poll_threads();
	assert_int_equal(w.done, 20);       /* writes are not limited */
	assert_int_equal(r.done, 1);
	tick_ms(40);
	assert_true(r.done >= 10 && r.done <= 12);

	/* A write limit now, reads unlimited (NOT_SET keeps, 0 removes). */
	{
		uint64_t nl[BDEV_QOS_NUM_LIMITS] = {BDEV_QOS_LIMIT_NOT_SET, BDEV_QOS_LIMIT_NOT_SET,
						    0, 1};
		int done[2] = {0, -1};

		bdev_set_qos_limits(&g_d->bdev, nl, limits_set_cb, done);
		ut_poll_threads();
		assert_int_equal(done[1], 0);
	}
	ut_poll_threads();
	assert_int_equal(r.done, 20);     /* queued reads released */
	w.done = 0;
	qio_submit(&w, 10, true, 8);
	ut_poll_threads();
	assert_true(w.done <= 1);
	set_limits(0, 0, 0, 0);
	assert_int_equal(w.done, 10);
	qio_close(&r, 0);
	ut_bdev_teardown();
}

static void
test_removing_limits_releases_queued_io(void **state)
{
	struct qio q = {0};

	setup(1);
	qio_open(&q, 0);
	set_limits(1000, 0, 0, 0);
	qio_submit(&q, 50, false, 1);
	ut_poll_threads();
	assert_int_equal(q.done, 1);
	tick_ms(2);
	assert_int_equal(q.done, 3);
	set_limits(0, 0, 0, 0);
	assert_int_equal(q.done, 50);
	assert_int_equal(q.failed, 0);
	/* Without QoS, nothing waits. */
	qio_submit(&q, 50, false, 1);
	ut_poll_threads();
	assert_int_equal(q.done, 100);
	qio_close(&q, 0);
	ut_bdev_teardown();
}

static void
test_raising_limit_at_run_time(void **state)
{
	struct qio q = {0};
	uint64_t l[BDEV_QOS_NUM_LIMITS] = {1000, 0, 0, 0};
	int a[2] = {0, -1}, b[2] = {0, -1};

	setup(1);
	qio_open(&q, 0);
	set_limits(10000, 0, 0, 0);
	qio_submit(&q, 200, false, 1);
	ut_poll_threads();
	assert_int_equal(q.done, 10);
	set_limits(20000, 0, 0, 0);
	tick_ms(1);
	assert_int_equal(q.done, 30);

	/* Two changes at once: the second is refused. */
	bdev_set_qos_limits(&g_d->bdev, l, limits_set_cb, a);
	bdev_set_qos_limits(&g_d->bdev, l, limits_set_cb, b);
	ut_poll_threads();
	assert_int_equal(a[1], 0);
	assert_int_equal(b[1], -EAGAIN);
	set_limits(0, 0, 0, 0);
	assert_int_equal(q.done, 200);
	qio_close(&q, 0);
	ut_bdev_teardown();
}

static void
test_io_from_another_thread_is_forwarded(void **state)
{
	struct qio q0 = {0}, q1 = {0};
	struct ut_disk *held;

	setup(2);
	qio_open(&q0, 0);
	qio_open(&q1, 1);
	ut_set_thread(0);
	set_limits(10000, 0, 0, 0);      /* thread 0 is the QoS thread */

	ut_set_thread(1);
	qio_submit(&q1, 30, false, 1);
	ut_set_thread(0);
	qio_submit(&q0, 5, false, 1);
	ut_poll_threads();
	/* One bucket shared by both threads. */
	assert_int_equal(q0.done + q1.done, 10);
	assert_ptr_equal(q1.cb_thread, ut_thread(1));
	tick_ms(1);
	assert_int_equal(q0.done + q1.done, 20);
	tick_ms(2);
	assert_int_equal(q0.done + q1.done, 35);
	assert_ptr_equal(q1.cb_thread, ut_thread(1));
	assert_ptr_equal(q0.cb_thread, ut_thread(0));

	/* Turning it off releases forwarded I/O still queued. */
	ut_set_thread(1);
	qio_submit(&q1, 30, false, 1);
	ut_set_thread(0);
	set_limits(0, 0, 0, 0);
	ut_poll_threads();
	assert_int_equal(q1.done, 60);
	assert_ptr_equal(q1.cb_thread, ut_thread(1));

	qio_close(&q0, 0);
	qio_close(&q1, 1);
	ut_poll_threads();

	/* A held back end: completions come back on the QoS thread and are
	 * sent home. */
	held = ut_disk_create("h", 512, 64, false);
	assert_int_equal(ut_disk_register(held), 0);
	g_d = held;
	ut_set_thread(0);
	set_limits(1000, 0, 0, 0);
	ut_set_thread(1);
	q1.desc = ut_open("h", false, NULL);
	q1.ch = bdev_get_io_channel(q1.desc);
	q1.done = 0;
	qio_submit(&q1, 1, false, 1);
	ut_poll_threads();
	assert_int_equal(ut_pending_count(), 1);
	ut_set_thread(1);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 0);   /* not thread 1's */
	ut_set_thread(0);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(q1.done, 0);
	ut_poll_threads();
	assert_int_equal(q1.done, 1);
	assert_ptr_equal(q1.cb_thread, ut_thread(1));
	/* Statistics count on the submitting thread's channel. */
	qio_close(&q1, 1);
	ut_set_thread(0);
	ut_poll_threads();
	/* Unregistered with QoS still on: torn down with the bdev. */
	ut_bdev_teardown();
}

static void
test_qos_in_saved_config(void **state)
{
	struct qio q = {0};
	json_t *config, *e;
	size_t n;

	setup(1);
	qio_open(&q, 0);
	set_limits(20000, 100 * MIB, 0, 5 * MIB + 1);
	config = json_array();
	subsystem_find("bdev")->write_config(config);
	n = json_array_size(config);
	e = json_array_get(config, n - 2);
	assert_string_equal(json_string_value(json_object_get(e, "method")), "bdev_set_qos_limit");
	e = json_object_get(e, "params");
	assert_string_equal(json_string_value(json_object_get(e, "name")), "d");
	assert_int_equal(json_integer_value(json_object_get(e, "rw_ios_per_sec")), 20000);
	assert_int_equal(json_integer_value(json_object_get(e, "rw_mbytes_per_sec")), 100);
	assert_null(json_object_get(e, "r_mbytes_per_sec"));
	assert_int_equal(json_integer_value(json_object_get(e, "w_mbytes_per_sec")), 6);
	json_decref(config);
	e = bdev_info_json(&g_d->bdev);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e,
			 "assigned_rate_limits"), "w_mbytes_per_sec")), 6);
	json_decref(e);
	qio_close(&q, 0);
	ut_poll_threads();
	ut_bdev_teardown();
}

/* Steps virtual time `steps` times by `us`, polling after each. */
static void
tick_us(int steps, uint64_t us)
{
	for (int i = 0; i < steps; i++) {
		ut_advance_time_us(us);
		ut_poll_threads();
	}
}

/*
 * Regression: the poller is due every 1 ms, but a busy or preempted core
 * runs it late. The bucket was clamped to one timeslice on every refill, so
 * with I/O waiting, each late run threw away what the lateness had earned:
 * a 50 MiB/s limit gave 38 MiB/s on a loaded 2-core host. Here the poller
 * runs every 7 ms; 10000 IOPS must still be 10000.
 */
static void
test_qos_late_poller_keeps_the_rate(void **state)
{
	struct qio q = {0};

	setup(1);
	qio_open(&q, 0);
	set_limits(10000, 0, 0, 0);
	q.resubmit = 1;
	q.blocks = 1;
	qio_submit(&q, 256, false, 1);
	tick_us(1000, 7000);            /* 7 s */
	q.resubmit = 0;
	assert_true(q.done >= 70000 * 99 / 100 && q.done <= 70000 * 101 / 100 + 256);
	set_limits(0, 0, 0, 0);
	ut_poll_threads();

	/* The same with bytes: 10 MiB/s of 4 KiB reads, poller every 5 ms. */
	q.done = 0;
	set_limits(0, 10 * MIB, 0, 0);
	q.resubmit = 1;
	q.blocks = 8;
	qio_submit(&q, 64, false, 8);
	tick_us(1000, 5000);            /* 5 s: 50 MiB = 12800 reads */
	q.resubmit = 0;
	assert_true(q.done >= 12800 * 99 / 100 && q.done <= 12800 * 101 / 100 + 64);
	set_limits(0, 0, 0, 0);
	ut_poll_threads();
	qio_close(&q, 0);
	ut_bdev_teardown();
}

/*
 * Regression: a bucket drained to exactly 0 and refilled to exactly its
 * depth was taken as overflowing, and its carried fraction of a token was
 * dropped: at 5000 IOPS with the poller every 1.3 ms (6.5 tokens a run),
 * half a token was lost each time (-7.7%); on real hardware it showed as
 * 19833 instead of 20000 IOPS.
 */
static void
test_qos_drained_bucket_keeps_its_fraction(void **state)
{
	struct qio q = {0};

	setup(1);
	qio_open(&q, 0);
	set_limits(5000, 0, 0, 0);
	q.resubmit = 1;
	q.blocks = 1;
	qio_submit(&q, 64, false, 1);
	tick_us(5000, 1300);            /* 6.5 s: 32500 I/Os */
	q.resubmit = 0;
	assert_true(q.done >= 32500 * 995 / 1000 && q.done <= 32500 * 1005 / 1000 + 64);
	set_limits(0, 0, 0, 0);
	ut_poll_threads();
	qio_close(&q, 0);
	ut_bdev_teardown();
}

/*
 * The other side of the late-poller rule: a bdev idle for a while does not
 * save up tokens; the first slice after the idle period admits one
 * timeslice's worth (10 at 10000 IOPS), not the second's.
 */
static void
test_qos_idle_period_is_not_saved_up(void **state)
{
	struct qio q = {0};

	setup(1);
	qio_open(&q, 0);
	set_limits(10000, 0, 0, 0);
	tick_ms(1000);
	qio_submit(&q, 100, false, 1);
	ut_poll_threads();
	assert_int_equal(q.done, 10);
	tick_ms(1);
	assert_int_equal(q.done, 20);
	set_limits(0, 0, 0, 0);
	assert_int_equal(q.done, 100);
	qio_close(&q, 0);
	ut_bdev_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iops_limit_per_timeslice),
		cmocka_unit_test(test_limits_hold_within_5_percent_over_10s),
		cmocka_unit_test(test_read_and_write_bandwidth_limits),
		cmocka_unit_test(test_removing_limits_releases_queued_io),
		cmocka_unit_test(test_raising_limit_at_run_time),
		cmocka_unit_test(test_io_from_another_thread_is_forwarded),
		cmocka_unit_test(test_qos_in_saved_config),
		cmocka_unit_test(test_qos_late_poller_keeps_the_rate),
		cmocka_unit_test(test_qos_drained_bucket_keeps_its_fraction),
		cmocka_unit_test(test_qos_idle_period_is_not_saved_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
