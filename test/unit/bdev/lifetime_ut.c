/*
 * lib/bdev: a user that lets go of its channel and descriptor while its
 * I/O is still in flight. The channel used to be freed at once, and the
 * module's later bdev_io_complete() wrote into freed memory (ASan: io.c,
 * bdev_io_complete); NOMEM-queued I/O was dropped without a callback; the
 * bdev's destruct could run with I/O still at the module. Now the channel
 * (with the module channel and the thread's mgmt channel it holds) lives
 * until the last bdev_io taken on it is freed, every accepted I/O calls
 * back exactly once on its own thread, and destruct runs after that.
 * Run under ASan, these are the use-after-free checks.
 */
#include "ut_bdev.h"

static void
unregistered(void *arg, int rc)
{
	int *p = arg;

	p[0]++;
	p[1] = rc;
}

static void
limits_set(void *arg, int rc)
{
	int *p = arg;

	p[0]++;
	p[1] = rc;
}

struct tcpl {
	int calls;
	bool success;
	struct thread *thread;
	bool keep;
	struct bdev_io *io;
};

static void
tcpl_cb(struct bdev_io *io, bool success, void *arg)
{
	struct tcpl *c = arg;

	c->calls++;
	c->success = success;
	c->thread = thread_get_current();
	c->io = io;
	if (!c->keep)
		bdev_free_io(io);
}

#define PER_THREAD 8

/* The reproduction on the fake back end: reads and writes (one of
 * them split) on two threads, channels put and descriptors closed at once,
 * then the bdev deleted; the module completes afterwards. */
static void
test_channel_put_and_close_with_io_in_flight_on_two_threads(void **state)
{
	static uint8_t buf[2][PER_THREAD + 20][512];
	static struct tcpl cpl[2][PER_THREAD + 1];
	struct bdev_desc *desc[2];
	struct io_channel *ch[2];
	int unreg[2] = {0, -1};
	struct ut_disk *d;
	int t, i;

	ut_bdev_setup(2, 256);
	d = ut_disk_create("d", 512, 1024, true);
	d->bdev.max_transfer_blocks = 8;
	assert_int_equal(ut_disk_register(d), 0);
	memset(cpl, 0, sizeof(cpl));
	for (t = 0; t < 2; t++) {
		ut_set_thread(t);
		desc[t] = ut_open("d", true, NULL);
		ch[t] = bdev_get_io_channel(desc[t]);
		assert_non_null(ch[t]);
		for (i = 0; i < PER_THREAD; i++) {
			uint64_t off = (uint64_t)(t * 100 + i);
			struct tcpl *c = &cpl[t][i];

			if (i % 2)
				assert_int_equal(bdev_write(desc[t], ch[t], buf[t][i], off, 1,
							    tcpl_cb, c), 0);
			else
				assert_int_equal(bdev_read(desc[t], ch[t], buf[t][i], off, 1,
							   tcpl_cb, c), 0);
		}
		/* 20 blocks under a max transfer of 8: three children. */
		assert_int_equal(bdev_write(desc[t], ch[t], buf[t][PER_THREAD], 500 + t * 100, 20,
					    tcpl_cb, &cpl[t][PER_THREAD]), 0);
	}
	assert_int_equal(ut_pending_count(), 2 * (PER_THREAD + 3));

	/* Let go of everything before a single completion. */
	for (t = 0; t < 2; t++) {
		ut_set_thread(t);
		io_channel_put(ch[t]);
		bdev_close(desc[t]);
	}
	ut_poll_threads();
	ut_set_thread(0);
	bdev_unregister(&d->bdev, unregistered, unreg);
	ut_poll_threads();
	assert_int_equal(d->destruct_calls, 0);
	assert_int_equal(unreg[0], 0);
	assert_null(bdev_get_by_name("d"));

	/* Thread 0's I/O completes: callbacks there, thread 1 still busy. */
	ut_set_thread(0);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), PER_THREAD + 3);
	ut_poll_threads();
	for (i = 0; i <= PER_THREAD; i++) {
		assert_int_equal(cpl[0][i].calls, 1);
		assert_true(cpl[0][i].success);
		assert_ptr_equal(cpl[0][i].thread, ut_thread(0));
		assert_int_equal(cpl[1][i].calls, 0);
	}
	assert_int_equal(d->destruct_calls, 0);
	assert_int_equal(unreg[0], 0);

	/* Thread 1 in two steps: destruct waits for the very last one. */
	ut_set_thread(1);
	assert_int_equal(ut_complete(PER_THREAD, BDEV_IO_STATUS_FAILED), PER_THREAD);
	ut_poll_threads();
	assert_int_equal(d->destruct_calls, 0);
	assert_int_equal(unreg[0], 0);
	ut_set_thread(1);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 3);
	ut_poll_threads();
	for (i = 0; i <= PER_THREAD; i++) {
		assert_int_equal(cpl[1][i].calls, 1);
		assert_ptr_equal(cpl[1][i].thread, ut_thread(1));
	}
	assert_false(cpl[1][0].success);
	assert_true(cpl[1][PER_THREAD].success);
	assert_int_equal(d->destruct_calls, 1);
	assert_int_equal(unreg[0], 1);
	assert_int_equal(unreg[1], 0);
	ut_bdev_teardown();
}

struct closer {
	struct bdev_desc *desc;
	struct io_channel *ch;
	int removes;
};

static void
close_on_remove(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	struct closer *c = ctx;

	if (type != BDEV_EVENT_REMOVE)
		return;
	c->removes++;
	io_channel_put(c->ch);
	bdev_close(c->desc);
	c->ch = NULL;
	c->desc = NULL;
}

/* Hot-remove: the user closes from the REMOVE event without waiting for its
 * I/O; the completions still reach it and destruct follows the last one. */
static void
test_hot_remove_user_closes_without_waiting_for_its_io(void **state)
{
	static uint8_t buf[4][512];
	struct tcpl cpl[4] = {0};
	struct closer c = {0};
	int unreg[2] = {0, -1};
	struct ut_disk *d;

	ut_bdev_setup(2, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	ut_set_thread(1);
	assert_int_equal(bdev_open("d", true, close_on_remove, &c, &c.desc), 0);
	c.ch = bdev_get_io_channel(c.desc);
	for (int i = 0; i < 4; i++)
		assert_int_equal(bdev_read(c.desc, c.ch, buf[i], (uint64_t)i, 1, tcpl_cb, &cpl[i]),
				 0);
	ut_set_thread(0);
	bdev_unregister(&d->bdev, unregistered, unreg);
	ut_poll_threads();
	assert_int_equal(c.removes, 1);
	assert_null(c.desc);
	assert_int_equal(d->destruct_calls, 0);

	ut_set_thread(1);
	assert_int_equal(ut_complete(3, BDEV_IO_STATUS_SUCCESS), 3);
	ut_poll_threads();
	assert_int_equal(d->destruct_calls, 0);
	ut_set_thread(1);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	ut_poll_threads();
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cpl[i].calls, 1);
		assert_true(cpl[i].success);
		assert_ptr_equal(cpl[i].thread, ut_thread(1));
	}
	assert_int_equal(d->destruct_calls, 1);
	assert_int_equal(unreg[0], 1);
	assert_int_equal(unreg[1], 0);
	ut_bdev_teardown();
}

/* The callback keeps its bdev_io and frees it later: the channel (whose mgmt
 * channel bdev_free_io uses) and the bdev wait for that free. */
static void
test_io_freed_after_its_callback_outlives_the_channel_put(void **state)
{
	static uint8_t buf[512];
	struct tcpl cpl = { .keep = true };
	struct bdev_desc *desc;
	struct io_channel *ch;
	int unreg[2] = {0, -1};
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	desc = ut_open("d", true, NULL);
	ch = bdev_get_io_channel(desc);
	assert_int_equal(bdev_write(desc, ch, buf, 0, 1, tcpl_cb, &cpl), 0);
	io_channel_put(ch);
	bdev_close(desc);
	bdev_unregister(&d->bdev, unregistered, unreg);
	ut_poll_threads();
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_int_equal(bdev_io_get_status(cpl.io), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(d->destruct_calls, 0);
	assert_int_equal(unreg[0], 0);
	bdev_free_io(cpl.io);
	ut_poll_threads();
	assert_int_equal(d->destruct_calls, 1);
	assert_int_equal(unreg[0], 1);
	ut_bdev_teardown();
}

/* I/O the module refused with NOMEM waits on the channel's retry queue; the
 * channel put must neither drop it (no callback, ever) nor stop its retry. */
static void
test_nomem_queued_io_is_retried_after_the_channel_put(void **state)
{
	static uint8_t buf[512];
	struct tcpl cpl = {0};
	struct bdev_desc *desc;
	struct io_channel *ch;
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	desc = ut_open("d", true, NULL);
	ch = bdev_get_io_channel(desc);
	d->nomem_left = 1;
	assert_int_equal(bdev_read(desc, ch, buf, 0, 1, tcpl_cb, &cpl), 0);
	assert_int_equal(ut_pending_count(), 0);
	io_channel_put(ch);
	bdev_close(desc);
	ut_poll_threads();
	ut_advance_time_us(200);
	ut_poll_threads();
	assert_int_equal(g_ut_nlog, 2);              /* retried */
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);
	ut_bdev_teardown();
}

/* With QoS the I/O runs on the QoS thread and comes back by message to the
 * submitting thread, whose channel the user has put in the meantime. */
static void
test_qos_forwarded_io_outlives_its_channel(void **state)
{
	uint64_t limits[BDEV_QOS_NUM_LIMITS] = { 1000000, 0, 0, 0 };
	static uint8_t buf[512];
	struct tcpl cpl = {0};
	struct bdev_desc *desc;
	struct io_channel *ch;
	int set[2] = {0, -1};
	struct ut_disk *d;

	ut_bdev_setup(2, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	ut_set_thread(0);
	bdev_set_qos_limits(&d->bdev, limits, limits_set, set);
	ut_poll_threads();
	assert_int_equal(set[0], 1);
	assert_int_equal(set[1], 0);

	ut_set_thread(1);
	desc = ut_open("d", true, NULL);
	ch = bdev_get_io_channel(desc);
	assert_int_equal(bdev_read(desc, ch, buf, 0, 1, tcpl_cb, &cpl), 0);
	io_channel_put(ch);
	bdev_close(desc);
	ut_poll_threads();
	assert_int_equal(ut_pending_count(), 1);
	ut_set_thread(0);                         /* the module runs it here */
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);
	assert_ptr_equal(cpl.thread, ut_thread(1));
	ut_bdev_teardown();
}

/* A channel taken again while it drains is the same channel: nothing is
 * created twice, and everything still completes once. */
static void
test_channel_taken_again_while_draining_is_the_same(void **state)
{
	static uint8_t buf[2][512];
	struct tcpl a = {0}, b = {0};
	struct bdev_desc *desc;
	struct io_channel *ch, *again;
	struct ut_disk *d;

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	desc = ut_open("d", true, NULL);
	ch = bdev_get_io_channel(desc);
	assert_int_equal(bdev_read(desc, ch, buf[0], 0, 1, tcpl_cb, &a), 0);
	io_channel_put(ch);
	ut_poll_threads();
	again = bdev_get_io_channel(desc);
	assert_ptr_equal(again, ch);
	assert_int_equal(d->channels_created, 1);
	assert_int_equal(bdev_read(desc, again, buf[1], 1, 1, tcpl_cb, &b), 0);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 2);
	ut_poll_threads();
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	io_channel_put(again);
	bdev_close(desc);
	ut_poll_threads();
	ut_bdev_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channel_put_and_close_with_io_in_flight_on_two_threads),
		cmocka_unit_test(test_hot_remove_user_closes_without_waiting_for_its_io),
		cmocka_unit_test(test_io_freed_after_its_callback_outlives_the_channel_put),
		cmocka_unit_test(test_nomem_queued_io_is_retried_after_the_channel_put),
		cmocka_unit_test(test_qos_forwarded_io_outlives_its_channel),
		cmocka_unit_test(test_channel_taken_again_while_draining_is_the_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
