/*
 * lib/bdev hot-remove and resize: BDEV_EVENT_REMOVE reaches every open
 * descriptor on its own thread, new I/O and opens fail with -ENODEV,
 * I/O in flight completes, destruct runs once after the last close (also
 * asynchronously), a descriptor closed before its event arrives is freed
 * safely; BDEV_EVENT_RESIZE on growth, -EBUSY on shrinking an open bdev.
 * Run under ASan, these are the use-after-free checks of removal.
 */
#include "ut_bdev.h"

struct opener {
	struct bdev_desc *desc;
	struct io_channel *ch;
	int events[2];
	struct thread *event_thread;
	bool close_on_remove;
};

static void
opener_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	struct opener *o = ctx;

	o->events[type]++;
	o->event_thread = thread_get_current();
	if (type == BDEV_EVENT_REMOVE && o->close_on_remove) {
		io_channel_put(o->ch);
		o->ch = NULL;
		bdev_close(o->desc);
		o->desc = NULL;
	}
}

static void
opener_open(struct opener *o, int thread, const char *name)
{
	ut_set_thread(thread);
	assert_int_equal(bdev_open(name, true, opener_event, o, &o->desc), 0);
	o->ch = bdev_get_io_channel(o->desc);
	assert_non_null(o->ch);
	o->event_thread = NULL;
}

static void
opener_close(struct opener *o, int thread)
{
	ut_set_thread(thread);
	if (o->ch != NULL)
		io_channel_put(o->ch);
	if (o->desc != NULL)
		bdev_close(o->desc);
	o->ch = NULL;
	o->desc = NULL;
}

static void
unregistered(void *arg, int rc)
{
	int *p = arg;

	p[0]++;
	p[1] = rc;
}

static char g_buf[4096];

static void
test_hot_remove_with_io_in_flight_on_two_threads(void **state)
{
	struct opener o0 = {0}, o1 = {0};
	struct ut_cpl c0 = {0}, c1 = {0}, late = {0};
	struct ut_disk *d;
	struct bdev_desc *tmp;
	int unreg[2] = {0, 0};

	ut_bdev_setup(2, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	opener_open(&o0, 0, "d");
	opener_open(&o1, 1, "d");
	ut_set_thread(0);
	assert_int_equal(bdev_read(o0.desc, o0.ch, g_buf, 0, 1, ut_cpl_cb, &c0), 0);
	ut_set_thread(1);
	assert_int_equal(bdev_write(o1.desc, o1.ch, g_buf, 0, 1, ut_cpl_cb, &c1), 0);
	assert_int_equal(ut_pending_count(), 2);

	ut_set_thread(0);
	bdev_unregister(&d->bdev, unregistered, unreg);
	/* Removing: no new opens, and a second unregister is refused. */
	assert_int_equal(bdev_open("d", false, opener_event, &o0, &tmp), -ENODEV);
	assert_null(bdev_get_by_name("d"));
	ut_poll_threads();
	assert_int_equal(o0.events[BDEV_EVENT_REMOVE], 1);
	assert_int_equal(o1.events[BDEV_EVENT_REMOVE], 1);
	assert_ptr_equal(o0.event_thread, ut_thread(0));
	assert_ptr_equal(o1.event_thread, ut_thread(1));
	assert_int_equal(unreg[0], 0);

	/* New I/O fails at once; the I/O in flight still completes. */
	ut_set_thread(1);
	assert_int_equal(bdev_read(o1.desc, o1.ch, g_buf, 0, 1, ut_cpl_cb, &late), -ENODEV);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(c1.calls, 1);
	assert_true(c1.success);
	ut_set_thread(0);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_FAILED), 1);
	assert_int_equal(c0.calls, 1);
	assert_false(c0.success);

	/* Destruct only after the last close. */
	opener_close(&o1, 1);
	ut_poll_threads();
	assert_int_equal(d->destruct_calls, 0);
	assert_int_equal(unreg[0], 0);
	opener_close(&o0, 0);
	ut_poll_threads();
	assert_int_equal(d->destruct_calls, 1);
	assert_int_equal(unreg[0], 1);
	assert_int_equal(unreg[1], 0);
	assert_int_equal(late.calls, 0);

	/* The name is free again. */
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	ut_bdev_teardown();
}

static void
test_descriptor_closed_before_its_event_arrives(void **state)
{
	struct opener o = {0};
	struct ut_disk *d;
	int unreg[2] = {0, 0};

	ut_bdev_setup(2, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	opener_open(&o, 1, "d");
	io_channel_put(o.ch);
	o.ch = NULL;
	ut_poll_threads();
	ut_set_thread(0);
	bdev_unregister(&d->bdev, unregistered, unreg);
	/* Thread 0 walks the (no) channels and sends the event; thread 1
	 * has not run it yet when it closes. */
	for (int i = 0; i < 10; i++)
		ut_poll_thread(0);
	assert_true(thread_has_pending_msgs(ut_thread(1)));
	opener_close(&o, 1);
	ut_poll_threads();
	assert_int_equal(o.events[BDEV_EVENT_REMOVE], 0);
	assert_int_equal(unreg[0], 1);
	assert_int_equal(d->destruct_calls, 1);
	ut_bdev_teardown();
}

static void
test_closing_from_the_remove_event(void **state)
{
	struct opener o = {0};
	struct ut_disk *d;
	int unreg[2] = {0, 0};

	ut_bdev_setup(2, 64);
	d = ut_disk_create("d", 512, 64, false);
	d->async_destruct = true;
	assert_int_equal(ut_disk_register(d), 0);
	o.close_on_remove = true;
	opener_open(&o, 1, "d");
	ut_set_thread(0);
	bdev_unregister(&d->bdev, unregistered, unreg);
	ut_poll_threads();
	assert_int_equal(o.events[BDEV_EVENT_REMOVE], 1);
	assert_null(o.desc);
	assert_int_equal(d->destruct_calls, 1);
	/* Asynchronous destruct: done when the module says so. */
	assert_int_equal(unreg[0], 0);
	bdev_destruct_done(&d->bdev, 0);
	assert_int_equal(unreg[0], 1);
	ut_bdev_teardown();
}

static void
test_unregister_claimed_bdev_by_hot_remove(void **state)
{
	struct opener o = {0};
	struct ut_disk *d;
	int unreg[2] = {0, 0};

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	o.close_on_remove = true;
	opener_open(&o, 0, "d");
	assert_int_equal(bdev_module_claim_bdev(&d->bdev, o.desc, &g_ut_module), 0);
	assert_int_equal(bdev_unregister_by_name("d", NULL, unregistered, unreg), 0);
	ut_poll_threads();
	assert_int_equal(unreg[0], 1);
	assert_int_equal(bdev_unregister_by_name("d", NULL, unregistered, unreg), -ENODEV);
	ut_bdev_teardown();
}

static void
test_resize_event(void **state)
{
	struct opener o0 = {0}, o1 = {0};
	struct ut_cpl cpl = {0};
	struct ut_disk *d;

	ut_bdev_setup(2, 64);
	d = ut_disk_create("d", 512, 64, false);
	d->complete_inline = true;
	assert_int_equal(ut_disk_register(d), 0);
	opener_open(&o0, 0, "d");
	opener_open(&o1, 1, "d");
	ut_set_thread(0);
	assert_int_equal(bdev_read(o0.desc, o0.ch, g_buf, 64, 1, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_notify_blockcnt_change(&d->bdev, 128), 0);
	assert_int_equal(bdev_get_num_blocks(&d->bdev), 128);
	ut_poll_threads();
	assert_int_equal(o0.events[BDEV_EVENT_RESIZE], 1);
	assert_int_equal(o1.events[BDEV_EVENT_RESIZE], 1);
	assert_ptr_equal(o1.event_thread, ut_thread(1));
	ut_set_thread(0);
	assert_int_equal(bdev_read(o0.desc, o0.ch, g_buf, 64, 1, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);

	/* Shrinking under open descriptors is refused; closed, it is fine. */
	assert_int_equal(bdev_notify_blockcnt_change(&d->bdev, 32), -EBUSY);
	assert_int_equal(bdev_notify_blockcnt_change(&d->bdev, 0), -EINVAL);
	opener_close(&o0, 0);
	opener_close(&o1, 1);
	ut_set_thread(0);
	assert_int_equal(bdev_notify_blockcnt_change(&d->bdev, 32), 0);
	assert_int_equal(bdev_get_num_blocks(&d->bdev), 32);
	ut_poll_threads();
	ut_bdev_teardown();
}

static void
test_finish_unregisters_leaves_before_claimed(void **state)
{
	struct opener o = {0};
	struct ut_disk *base, *top;

	ut_bdev_setup(1, 64);
	base = ut_disk_create("base", 512, 64, false);
	top = ut_disk_create("top", 512, 64, false);
	assert_int_equal(ut_disk_register(base), 0);
	o.close_on_remove = true;
	opener_open(&o, 0, "base");
	assert_int_equal(bdev_module_claim_bdev(&base->bdev, o.desc, &g_ut_module), 0);
	assert_int_equal(ut_disk_register(top), 0);
	/* Registered before "top" but claimed: it goes last. The teardown's
	 * bdev_finish checks everything is gone. */
	ut_bdev_teardown();
	assert_int_equal(o.events[BDEV_EVENT_REMOVE], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hot_remove_with_io_in_flight_on_two_threads),
		cmocka_unit_test(test_descriptor_closed_before_its_event_arrives),
		cmocka_unit_test(test_closing_from_the_remove_event),
		cmocka_unit_test(test_unregister_claimed_bdev_by_hot_remove),
		cmocka_unit_test(test_resize_event),
		cmocka_unit_test(test_finish_unregisters_leaves_before_claimed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
