/*
 * io_devices and io_channels: lazy creation, reference counts, deferred
 * destruction, unregister ordering and for_each_channel, under the
 * deterministic harness.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lvstor/thread.h"
#include "../common/ut_threads.h"

struct dev_ctx {
	int magic;
	struct thread *thread;
	int destroyed;
};

static int g_dev;	/* the io_device pointers */
static int g_dev2;
static int g_creates;
static int g_destroys;
static struct thread *g_create_thread;
static struct thread *g_destroy_thread;
static int g_create_rc;
static int g_unreg_calls;
static struct thread *g_unreg_thread;
static int g_events[64];
static int g_nevents;

enum { EV_CPL = 1, EV_UNREG = 2 };

static int
create_cb(void *io_device, void *buf)
{
	struct dev_ctx *ctx = buf;

	if (g_create_rc != 0)
		return g_create_rc;
	g_creates++;
	g_create_thread = thread_get_current();
	assert_int_equal(ctx->magic, 0);	/* zeroed */
	ctx->magic = 0x5a5a;
	ctx->thread = thread_get_current();
	return 0;
}

static void
destroy_cb(void *io_device, void *buf)
{
	struct dev_ctx *ctx = buf;

	assert_int_equal(ctx->magic, 0x5a5a);
	assert_ptr_equal(ctx->thread, thread_get_current());
	g_destroys++;
	g_destroy_thread = thread_get_current();
}

static void
unreg_cb(void *io_device)
{
	g_unreg_calls++;
	g_unreg_thread = thread_get_current();
	g_events[g_nevents++] = EV_UNREG;
}

static int
setup(void **state)
{
	ut_threads_init(3);
	g_creates = g_destroys = g_unreg_calls = g_create_rc = g_nevents = 0;
	g_create_thread = g_destroy_thread = g_unreg_thread = NULL;
	io_device_register(&g_dev, create_cb, destroy_cb, sizeof(struct dev_ctx), "dev");
	return 0;
}

static int
teardown(void **state)
{
	ut_threads_fini();
	return 0;
}

static void
unregister_dev(void)
{
	int before = g_unreg_calls;

	ut_set_thread(0);
	io_device_unregister(&g_dev, unreg_cb);
	ut_poll_threads();
	assert_int_equal(g_unreg_calls, before + 1);
}

static void
test_channel_lazy_create(void **state)
{
	struct io_channel *ch, *ch2;
	struct dev_ctx *ctx;

	ut_poll_threads();
	assert_int_equal(g_creates, 0);
	ut_set_thread(1);
	ch = io_channel_get(&g_dev);
	assert_non_null(ch);
	/* create_cb ran now, on the asking thread. */
	assert_int_equal(g_creates, 1);
	assert_ptr_equal(g_create_thread, ut_thread(1));
	assert_ptr_equal(io_channel_get_thread(ch), ut_thread(1));
	assert_ptr_equal(io_channel_get_io_device(ch), &g_dev);
	ctx = io_channel_get_ctx(ch);
	assert_int_equal(ctx->magic, 0x5a5a);
	assert_int_equal((uintptr_t)ctx % 64, 0);
	assert_ptr_equal(io_channel_from_ctx(ctx), ch);
	ch2 = io_channel_get(&g_dev);
	assert_ptr_equal(ch2, ch);
	assert_int_equal(g_creates, 1);
	/* Another thread gets its own. */
	ut_set_thread(2);
	ch2 = io_channel_get(&g_dev);
	assert_ptr_not_equal(ch2, ch);
	assert_int_equal(g_creates, 2);
	assert_ptr_equal(g_create_thread, ut_thread(2));
	io_channel_put(ch2);
	ut_set_thread(1);
	io_channel_put(ch);
	io_channel_put(ch);
	ut_poll_threads();
	assert_int_equal(g_destroys, 2);
	/* Unknown device. */
	assert_null(io_channel_get(&g_dev2));
	unregister_dev();
}

static void
test_channel_destroy_on_last_put_deferred(void **state)
{
	struct io_channel *ch;

	ut_set_thread(1);
	ch = io_channel_get(&g_dev);
	assert_ptr_equal(io_channel_get(&g_dev), ch);
	io_channel_put(ch);
	ut_poll_threads();
	assert_int_equal(g_destroys, 0);
	io_channel_put(ch);
	/* Not inside put: by message, on the channel's thread. */
	assert_int_equal(g_destroys, 0);
	ut_poll_thread(0);
	ut_poll_thread(2);
	assert_int_equal(g_destroys, 0);
	ut_poll_thread(1);
	assert_int_equal(g_destroys, 1);
	assert_ptr_equal(g_destroy_thread, ut_thread(1));
	/* A fresh get creates a new one. */
	ch = io_channel_get(&g_dev);
	assert_int_equal(g_creates, 2);
	io_channel_put(ch);
	ut_poll_threads();
	assert_int_equal(g_destroys, 2);
	unregister_dev();
}

static void
test_channel_get_after_last_put_before_destroy(void **state)
{
	struct io_channel *ch, *again;

	ut_set_thread(1);
	ch = io_channel_get(&g_dev);
	io_channel_put(ch);
	again = io_channel_get(&g_dev);
	assert_ptr_equal(again, ch);
	assert_int_equal(g_creates, 1);
	ut_poll_threads();
	/* The pending destroy saw the new reference and let it live. */
	assert_int_equal(g_destroys, 0);
	io_channel_put(ch);
	ut_poll_threads();
	assert_int_equal(g_destroys, 1);
	unregister_dev();
}

static struct io_channel *g_ch;

static void
put_and_use_msg(void *arg)
{
	struct dev_ctx *ctx = io_channel_get_ctx(g_ch);

	io_channel_put(g_ch);
	/* Still valid for the rest of this callback (ASan would say otherwise). */
	assert_int_equal(ctx->magic, 0x5a5a);
	ctx->destroyed = 0;
}

static void
test_channel_put_inside_callback(void **state)
{
	ut_set_thread(2);
	g_ch = io_channel_get(&g_dev);
	ut_set_thread(0);
	thread_send_msg(ut_thread(2), put_and_use_msg, NULL);
	ut_poll_threads();
	assert_int_equal(g_destroys, 1);
	unregister_dev();
}

static void
test_unregister_deferred_until_last_put(void **state)
{
	struct io_channel *ch0, *ch1;

	ut_set_thread(0);
	ch0 = io_channel_get(&g_dev);
	ut_set_thread(1);
	ch1 = io_channel_get(&g_dev);

	ut_set_thread(0);
	io_device_unregister(&g_dev, unreg_cb);
	ut_poll_threads();
	assert_int_equal(g_unreg_calls, 0);
	/* Existing channels keep working; new gets fail, even on a thread with one. */
	assert_null(io_channel_get(&g_dev));
	ut_set_thread(2);
	assert_null(io_channel_get(&g_dev));
	assert_int_equal(g_creates, 2);

	ut_set_thread(0);
	io_channel_put(ch0);
	ut_poll_threads();
	assert_int_equal(g_destroys, 1);
	assert_int_equal(g_unreg_calls, 0);

	ut_set_thread(1);
	io_channel_put(ch1);
	assert_int_equal(g_unreg_calls, 0);
	ut_poll_threads();
	assert_int_equal(g_destroys, 2);
	assert_int_equal(g_unreg_calls, 1);
	assert_ptr_equal(g_unreg_thread, ut_thread(0));
}

static void
test_unregister_without_channels_is_deferred(void **state)
{
	ut_set_thread(2);
	io_device_unregister(&g_dev, unreg_cb);
	/* Never before the function returns. */
	assert_int_equal(g_unreg_calls, 0);
	ut_poll_threads();
	assert_int_equal(g_unreg_calls, 1);
	assert_ptr_equal(g_unreg_thread, ut_thread(2));
	/* The pointer may be registered again. */
	io_device_register(&g_dev, create_cb, destroy_cb, sizeof(struct dev_ctx), "dev");
	unregister_dev();
	assert_int_equal(g_unreg_calls, 2);
}

static void
test_reregister_while_old_channel_alive(void **state)
{
	struct io_channel *old, *fresh;

	ut_set_thread(1);
	old = io_channel_get(&g_dev);
	io_device_unregister(&g_dev, unreg_cb);
	io_device_register(&g_dev, create_cb, destroy_cb, sizeof(struct dev_ctx), "dev");
	fresh = io_channel_get(&g_dev);
	assert_non_null(fresh);
	assert_ptr_not_equal(fresh, old);
	io_channel_put(old);
	ut_poll_threads();
	assert_int_equal(g_unreg_calls, 1);
	io_channel_put(fresh);
	ut_poll_threads();
	assert_int_equal(g_destroys, 2);
	unregister_dev();
	assert_int_equal(g_unreg_calls, 2);
}

static void
test_create_failure(void **state)
{
	ut_set_thread(1);
	g_create_rc = -ENOMEM;
	assert_null(io_channel_get(&g_dev));
	g_create_rc = 0;
	assert_int_equal(g_creates, 0);
	/* Nothing left behind: unregister completes and thread 1 can exit. */
	unregister_dev();
}

static void
test_thread_with_channel_does_not_exit(void **state)
{
	struct io_channel *ch;

	ut_set_thread(2);
	ch = io_channel_get(&g_dev);
	thread_exit(ut_thread(2));
	/* An exiting thread gets no new channels. */
	assert_null(io_channel_get(&g_dev));
	ut_poll_threads();
	assert_false(thread_is_exited(ut_thread(2)));
	io_channel_put(ch);
	ut_poll_threads();
	assert_true(thread_is_exited(ut_thread(2)));
	unregister_dev();
}

/* ---- for_each_channel --------------------------------------------------- */

static struct thread *g_visited[8];
static int g_nvisited;
static int g_cpl_status;
static int g_cpl_calls;
static struct thread *g_cpl_thread;
static struct io_channel_iter *g_iter;
static int g_stop_at;

static void
visit(struct io_channel_iter *it)
{
	struct io_channel *ch = io_channel_iter_get_channel(it);

	assert_non_null(ch);
	assert_ptr_equal(io_channel_get_thread(ch), thread_get_current());
	assert_ptr_equal(io_channel_iter_get_io_device(it), &g_dev);
	assert_ptr_equal(io_channel_iter_get_ctx(it), &g_visited);
	g_visited[g_nvisited++] = thread_get_current();
	io_channel_iter_continue(it, g_nvisited == g_stop_at ? -EAGAIN : 0);
}

static void
visit_later(struct io_channel_iter *it)
{
	g_visited[g_nvisited++] = thread_get_current();
	g_iter = it;	/* continued by the test */
}

static void
for_each_cpl(struct io_channel_iter *it, int status)
{
	g_cpl_calls++;
	g_cpl_status = status;
	g_cpl_thread = thread_get_current();
	g_events[g_nevents++] = EV_CPL;
}

static void
reset_walk(void)
{
	g_nvisited = g_cpl_calls = 0;
	g_cpl_status = 12345;
	g_stop_at = -1;
	g_iter = NULL;
}

static void
test_for_each_channel(void **state)
{
	struct io_channel *ch0, *ch2;

	reset_walk();
	ut_set_thread(0);
	ch0 = io_channel_get(&g_dev);
	ut_set_thread(2);
	ch2 = io_channel_get(&g_dev);

	ut_set_thread(1);
	io_device_for_each_channel(&g_dev, visit, &g_visited, for_each_cpl);
	assert_int_equal(g_nvisited, 0);
	ut_poll_threads();
	assert_int_equal(g_nvisited, 2);
	assert_ptr_equal(g_visited[0], ut_thread(0));
	assert_ptr_equal(g_visited[1], ut_thread(2));
	assert_int_equal(g_cpl_calls, 1);
	assert_int_equal(g_cpl_status, 0);
	assert_ptr_equal(g_cpl_thread, ut_thread(1));

	/* A non-zero status stops the walk and reaches cpl. */
	reset_walk();
	g_stop_at = 1;
	io_device_for_each_channel(&g_dev, visit, &g_visited, for_each_cpl);
	ut_poll_threads();
	assert_int_equal(g_nvisited, 1);
	assert_int_equal(g_cpl_status, -EAGAIN);

	/* Unknown device. */
	reset_walk();
	io_device_for_each_channel(&g_dev2, visit, &g_visited, for_each_cpl);
	ut_poll_threads();
	assert_int_equal(g_cpl_calls, 1);
	assert_int_equal(g_cpl_status, -ENODEV);

	ut_set_thread(0);
	io_channel_put(ch0);
	ut_set_thread(2);
	io_channel_put(ch2);
	ut_poll_threads();
	assert_int_equal(g_destroys, 2);
	unregister_dev();
}

/*
 * The walk is at a channel whose fn has not continued yet; the owner puts
 * its last reference and the device is unregistered. The channel must live
 * until continue, and unregister_cb must run after the walk's cpl.
 */
static void
test_for_each_channel_concurrent_put_and_unregister(void **state)
{
	struct io_channel *ch0, *ch1;

	reset_walk();
	ut_set_thread(0);
	ch0 = io_channel_get(&g_dev);
	ut_set_thread(1);
	ch1 = io_channel_get(&g_dev);

	ut_set_thread(2);
	io_device_for_each_channel(&g_dev, visit_later, &g_visited, for_each_cpl);
	ut_poll_threads();
	assert_int_equal(g_nvisited, 1);
	assert_non_null(g_iter);
	assert_ptr_equal(g_visited[0], ut_thread(0));

	/* Owner drops the channel the walk is holding; device unregistered. */
	ut_set_thread(0);
	io_channel_put(ch0);
	ut_set_thread(2);
	io_device_unregister(&g_dev, unreg_cb);
	ut_poll_threads();
	assert_int_equal(g_destroys, 0);	/* the walk holds it */
	assert_int_equal(g_unreg_calls, 0);
	assert_int_equal(((struct dev_ctx *)io_channel_get_ctx(ch0))->magic, 0x5a5a);

	ut_set_thread(0);
	io_channel_iter_continue(g_iter, 0);
	ut_poll_threads();
	assert_int_equal(g_destroys, 1);
	/* Thread 1's channel is visited next, on thread 1. */
	assert_int_equal(g_nvisited, 2);
	assert_ptr_equal(g_visited[1], ut_thread(1));
	/* Its owner puts the last reference while fn holds it. */
	ut_set_thread(1);
	io_channel_put(ch1);
	ut_poll_threads();
	assert_int_equal(g_destroys, 1);
	assert_int_equal(g_unreg_calls, 0);
	io_channel_iter_continue(g_iter, 0);
	ut_poll_threads();
	assert_int_equal(g_destroys, 2);
	assert_int_equal(g_cpl_calls, 1);
	assert_int_equal(g_unreg_calls, 1);
	assert_int_equal(g_nevents, 2);
	assert_int_equal(g_events[0], EV_CPL);
	assert_int_equal(g_events[1], EV_UNREG);
	assert_ptr_equal(g_unreg_thread, ut_thread(2));
}

/* Unregister while a walk is in progress and no channel is left at all. */
static void
test_for_each_channel_unregister_waits_for_walk(void **state)
{
	reset_walk();
	ut_set_thread(0);
	io_device_for_each_channel(&g_dev, visit, &g_visited, for_each_cpl);
	io_device_unregister(&g_dev, unreg_cb);
	ut_poll_threads();
	assert_int_equal(g_nvisited, 0);
	assert_int_equal(g_cpl_calls, 1);
	assert_int_equal(g_unreg_calls, 1);
	assert_int_equal(g_events[0], EV_CPL);
	assert_int_equal(g_events[1], EV_UNREG);
}

/* A channel created by a thread the walk has not reached yet is visited. */
static void
test_for_each_channel_channel_created_during_walk(void **state)
{
	struct io_channel *ch0, *ch2;

	reset_walk();
	ut_set_thread(0);
	ch0 = io_channel_get(&g_dev);
	io_device_for_each_channel(&g_dev, visit_later, &g_visited, for_each_cpl);
	ut_poll_thread(0);
	assert_int_equal(g_nvisited, 1);
	ut_set_thread(2);
	ch2 = io_channel_get(&g_dev);
	ut_set_thread(0);
	io_channel_iter_continue(g_iter, 0);
	ut_poll_threads();
	assert_int_equal(g_nvisited, 2);
	assert_ptr_equal(g_visited[1], ut_thread(2));
	ut_set_thread(2);
	io_channel_iter_continue(g_iter, 0);
	ut_poll_threads();
	assert_int_equal(g_cpl_calls, 1);
	io_channel_put(ch2);
	ut_set_thread(0);
	io_channel_put(ch0);
	ut_poll_threads();
	unregister_dev();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_channel_lazy_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channel_destroy_on_last_put_deferred, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_channel_get_after_last_put_before_destroy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_channel_put_inside_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregister_deferred_until_last_put, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unregister_without_channels_is_deferred, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reregister_while_old_channel_alive, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_with_channel_does_not_exit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_for_each_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_channel_concurrent_put_and_unregister,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_channel_unregister_waits_for_walk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_channel_channel_created_during_walk,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
