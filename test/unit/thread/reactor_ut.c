/*
 * Real reactors on two cores (EAL up with --no-huge): placement, messages
 * between reactors, adaptive sleep and wake-up (message, timer, fd), the
 * idle CPU budget, thread exit and reactors_stop from a reactor.
 *
 * The reactors run in a helper OS thread (the main core's reactor runs in
 * the caller of reactors_start); the test's own OS thread only sends
 * messages, watches atomics and asserts, so cmocka's failures stay on it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "lvstor/cpuset.h"
#include "lvstor/env.h"
#include "lvstor/thread.h"

static pthread_t g_runner;
static bool g_joined;
static struct thread *g_t0;	/* on reactor 0 */
static struct thread *g_t1;	/* on reactor 1 */

static void *
runner_main(void *arg)
{
	reactors_start();
	return NULL;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Waits up to timeout_ms for *flag to become non-zero. */
static bool
wait_flag(_Atomic int *flag, unsigned timeout_ms)
{
	uint64_t end = now_us() + timeout_ms * 1000ull;

	while (atomic_load(flag) == 0) {
		if (now_us() > end)
			return false;
		usleep(100);
	}
	return true;
}

static bool
wait_asleep(uint32_t lcore, unsigned timeout_ms)
{
	struct reactor_info info;
	uint64_t end = now_us() + timeout_ms * 1000ull;

	for (;;) {
		assert_int_equal(reactor_get_info(lcore, &info), 0);
		if (info.in_interrupt)
			return true;
		if (now_us() > end)
			return false;
		usleep(200);
	}
}

static struct thread *
create_on(const char *name, uint32_t core)
{
	struct cpuset mask;

	cpuset_zero(&mask);
	cpuset_set(&mask, core, true);
	return thread_create(name, &mask);
}

static int
group_setup(void **state)
{
	struct env_opts opts;
	int rc;

	env_opts_init(&opts, sizeof(opts));
	opts.name = "reactor_ut";
	opts.core_mask = "0x3";
	opts.force_no_huge = true;
	rc = env_init(&opts);
	if (rc != 0)
		return rc;
	rc = reactors_init();
	if (rc != 0)
		return rc;
	g_t0 = create_on("t0", 0);
	g_t1 = create_on("t1", 1);
	if (g_t0 == NULL || g_t1 == NULL)
		return -1;
	reactor_set_sleep_after_us(200);
	return pthread_create(&g_runner, NULL, runner_main, NULL);
}

static void
exit_msg(void *ctx)
{
	thread_exit(thread_get_current());
}

static int
group_teardown(void **state)
{
	/* Normally test_stop_from_reactor_thread stopped them already. */
	if (!g_joined) {
		reactors_stop();
		pthread_join(g_runner, NULL);
	}
	reactors_fini();
	env_fini();
	return 0;
}

/* ---- placement ---------------------------------------------------------- */

static void
test_placement_by_cpumask(void **state)
{
	struct thread *a, *b;
	struct cpuset any;

	assert_int_equal(thread_get_lcore(g_t0), 0);
	assert_int_equal(thread_get_lcore(g_t1), 1);
	assert_ptr_equal(thread_get_app_thread(), g_t0);
	/* Least loaded in the mask: one each way. */
	cpuset_zero(&any);
	cpuset_set(&any, 0, true);
	cpuset_set(&any, 1, true);
	a = thread_create("a", &any);
	b = thread_create("b", NULL);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_not_equal(thread_get_lcore(a), thread_get_lcore(b));
	/* No reactor on core 5: refused. */
	cpuset_zero(&any);
	cpuset_set(&any, 5, true);
	assert_null(thread_create("nowhere", &any));

	/* Exit both; the reactors destroy them. */
	assert_int_equal(thread_send_msg(a, exit_msg, NULL), 0);
	assert_int_equal(thread_send_msg(b, exit_msg, NULL), 0);
	for (int i = 0; i < 2000 && thread_count() != 2; i++)
		usleep(500);
	assert_int_equal(thread_count(), 2);
}

/* ---- messages between reactors ------------------------------------------ */

#define PINGS 10000
static _Atomic int g_done;
static int g_pings;
static bool g_wrong_place;

static void
ping(void *ctx)
{
	struct thread *self = thread_get_current();
	struct reactor_info info;
	struct thread *other = self == g_t0 ? g_t1 : g_t0;

	reactor_get_info(thread_get_lcore(self), &info);
	if (info.tid != (uint64_t)gettid())
		g_wrong_place = true;
	/* The main core's reactor runs in this test's helper thread, not an EAL one. */
	if (thread_get_lcore(self) != env_get_main_core() &&
	    env_get_current_core() != thread_get_lcore(self))
		g_wrong_place = true;
	if (++g_pings == PINGS) {
		atomic_store(&g_done, 1);
		return;
	}
	while (thread_send_msg(other, ping, NULL) == -ENOMEM)
		;
}

static void
test_messages_between_reactors(void **state)
{
	struct reactor_info i0, i1;

	g_pings = 0;
	g_wrong_place = false;
	atomic_store(&g_done, 0);
	assert_int_equal(thread_send_msg(g_t0, ping, NULL), 0);
	assert_true(wait_flag(&g_done, 4000));
	assert_int_equal(g_pings, PINGS);
	assert_false(g_wrong_place);
	assert_int_equal(reactor_get_info(0, &i0), 0);
	assert_int_equal(reactor_get_info(1, &i1), 0);
	assert_int_not_equal(i0.tid, 0);
	assert_int_not_equal(i0.tid, i1.tid);
	assert_true(i0.busy_tsc > 0 && i1.busy_tsc > 0);
	assert_int_equal(reactor_get_info(7, &i0), -ENODEV);
}

/* ---- adaptive sleep ----------------------------------------------------- */

static _Atomic uint64_t g_handled_ticks;

static void
stamp_msg(void *ctx)
{
	atomic_store(&g_handled_ticks, env_get_ticks());
	atomic_store(&g_done, 1);
}

static void
test_idle_reactor_sleeps_and_message_wakes_it(void **state)
{
	struct reactor_info before, after;
	uint64_t sent, hz = env_get_ticks_hz();

	assert_true(wait_asleep(1, 2000));
	assert_int_equal(reactor_get_info(1, &before), 0);
	assert_true(before.sleep_count > 0);

	atomic_store(&g_done, 0);
	sent = env_get_ticks();
	assert_int_equal(thread_send_msg(g_t1, stamp_msg, NULL), 0);
	assert_true(wait_flag(&g_done, 2000));
	print_message("wake-up to message handled: %.1f us\n",
		      (double)(atomic_load(&g_handled_ticks) - sent) * 1e6 / (double)hz);
	/* Loose bound: this is a correctness test, not a benchmark. */
	assert_true(atomic_load(&g_handled_ticks) - sent < hz / 20);

	/* ... and it goes back to sleep. */
	usleep(5000);
	assert_true(wait_asleep(1, 2000));
	assert_int_equal(reactor_get_info(1, &after), 0);
	assert_true(after.sleep_count > before.sleep_count);
	assert_true(after.idle_tsc > before.idle_tsc);
}

static uint64_t
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static _Atomic int g_timer_calls;
static struct poller *g_poller;

static int
timer_fn(void *ctx)
{
	atomic_fetch_add(&g_timer_calls, 1);
	return POLLER_IDLE;
}

static void
register_timer_msg(void *ctx)
{
	g_poller = poller_register(timer_fn, NULL, (uint64_t)(uintptr_t)ctx, "timer");
	atomic_store(&g_done, 1);
}

static void
unregister_poller_msg(void *ctx)
{
	poller_unregister(&g_poller);
	atomic_store(&g_done, 1);
}

static void
run_on(struct thread *t, thread_msg_fn fn, void *ctx)
{
	atomic_store(&g_done, 0);
	assert_int_equal(thread_send_msg(t, fn, ctx), 0);
	assert_true(wait_flag(&g_done, 2000));
}

static void
test_timed_poller_wakes_sleeping_reactor(void **state)
{
	struct reactor_info before, after;
	uint64_t c0, w0, c1, w1;
	int calls;

	atomic_store(&g_timer_calls, 0);
	run_on(g_t1, register_timer_msg, (void *)(uintptr_t)10000);	/* 10 ms */
	assert_true(wait_asleep(1, 2000));
	reactor_get_info(1, &before);
	c0 = cpu_us();
	w0 = now_us();
	usleep(200000);
	c1 = cpu_us();
	w1 = now_us();
	reactor_get_info(1, &after);
	calls = atomic_load(&g_timer_calls);
	print_message("10 ms timer: %d calls in 200 ms, %lu sleeps, %.2f%% cpu\n", calls,
		      (unsigned long)(after.sleep_count - before.sleep_count),
		      100.0 * (double)(c1 - c0) / (double)(w1 - w0));
	/* A tick must not cost a whole spin window (500 us of 10 ms = 5%). */
	assert_true((c1 - c0) * 50 < (w1 - w0));
	assert_true(calls >= 5 && calls <= 22);
	/* It slept between the ticks instead of spinning. */
	assert_true(after.sleep_count - before.sleep_count >= 5);
	run_on(g_t1, unregister_poller_msg, NULL);
}

static int
active_fn(void *ctx)
{
	atomic_fetch_add(&g_timer_calls, 1);
	return POLLER_IDLE;
}

static void
register_active_msg(void *ctx)
{
	g_poller = poller_register(active_fn, NULL, 0, "active");
	atomic_store(&g_done, 1);
}

static void
test_active_poller_keeps_reactor_spinning(void **state)
{
	struct reactor_info before, after;

	run_on(g_t1, register_active_msg, NULL);
	usleep(2000);
	reactor_get_info(1, &before);
	usleep(50000);
	reactor_get_info(1, &after);
	assert_false(after.in_interrupt);
	assert_int_equal(after.sleep_count, before.sleep_count);
	run_on(g_t1, unregister_poller_msg, NULL);
	assert_true(wait_asleep(1, 2000));
}

static _Atomic int g_fd_calls;
static struct fd_handler *g_fdh;
static int g_efd;

static int
fd_cb(void *ctx, uint32_t events)
{
	uint64_t v;

	if (read(g_efd, &v, sizeof(v)) == sizeof(v))
		atomic_fetch_add(&g_fd_calls, 1);
	return 1;
}

static void
register_fd_msg(void *ctx)
{
	g_fdh = thread_fd_register(g_efd, FD_EVENT_IN, fd_cb, NULL, "efd");
	atomic_store(&g_done, 1);
}

static void
unregister_fd_msg(void *ctx)
{
	thread_fd_unregister(&g_fdh);
	atomic_store(&g_done, 1);
}

static void
test_fd_wakes_sleeping_reactor(void **state)
{
	uint64_t one = 1, end;

	g_efd = eventfd(0, EFD_NONBLOCK);
	assert_true(g_efd >= 0);
	atomic_store(&g_fd_calls, 0);
	run_on(g_t1, register_fd_msg, NULL);
	assert_non_null(g_fdh);
	assert_true(wait_asleep(1, 2000));
	assert_int_equal(write(g_efd, &one, sizeof(one)), sizeof(one));
	end = now_us() + 2000000;
	while (atomic_load(&g_fd_calls) == 0 && now_us() < end)
		usleep(100);
	assert_int_equal(atomic_load(&g_fd_calls), 1);
	/* Also while it spins (checked every few iterations). */
	run_on(g_t1, register_active_msg, NULL);
	assert_int_equal(write(g_efd, &one, sizeof(one)), sizeof(one));
	end = now_us() + 2000000;
	while (atomic_load(&g_fd_calls) == 1 && now_us() < end)
		usleep(100);
	assert_int_equal(atomic_load(&g_fd_calls), 2);
	run_on(g_t1, unregister_poller_msg, NULL);
	run_on(g_t1, unregister_fd_msg, NULL);
	close(g_efd);
}

/* An idle process with two reactors uses < 2% of one core. */
static void
test_idle_cpu_budget(void **state)
{
	uint64_t c0, w0, c1, w1;

	reactor_set_sleep_after_us(500);	/* the default */
	assert_true(wait_asleep(0, 2000));
	assert_true(wait_asleep(1, 2000));
	c0 = cpu_us();
	w0 = now_us();
	usleep(500000);
	c1 = cpu_us();
	w1 = now_us();
	print_message("idle: %.2f%% of one core\n", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
	assert_true((c1 - c0) * 50 < (w1 - w0));
	reactor_set_sleep_after_us(200);
}

/* ---- exit and stop ------------------------------------------------------ */

static void
test_thread_exit_on_reactor(void **state)
{
	struct thread *t = create_on("short", 1);
	uint64_t id;

	assert_non_null(t);
	id = thread_get_id(t);
	assert_ptr_equal(thread_get_by_id(id), t);
	assert_int_equal(thread_send_msg(t, exit_msg, NULL), 0);
	for (int i = 0; i < 2000 && thread_get_by_id(id) != NULL; i++)
		usleep(500);
	assert_null(thread_get_by_id(id));
}

static void
stop_msg(void *ctx)
{
	thread_exit(thread_get_current());
	reactors_stop();
}

static void
test_stop_from_reactor_thread(void **state)
{
	/* t0 exits now; t1 exits and stops every reactor. */
	assert_int_equal(thread_send_msg(g_t0, exit_msg, NULL), 0);
	for (int i = 0; i < 2000 && thread_count() != 1; i++)
		usleep(500);
	assert_int_equal(thread_count(), 1);
	assert_int_equal(thread_send_msg(g_t1, stop_msg, NULL), 0);
	pthread_join(g_runner, NULL);
	g_joined = true;
	/* reactors_fini (teardown) lets t1 finish exiting. */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placement_by_cpumask),
		cmocka_unit_test(test_messages_between_reactors),
		cmocka_unit_test(test_idle_reactor_sleeps_and_message_wakes_it),
		cmocka_unit_test(test_timed_poller_wakes_sleeping_reactor),
		cmocka_unit_test(test_active_poller_keeps_reactor_spinning),
		cmocka_unit_test(test_fd_wakes_sleeping_reactor),
		cmocka_unit_test(test_idle_cpu_budget),
		cmocka_unit_test(test_thread_exit_on_reactor),
		cmocka_unit_test(test_stop_from_reactor_thread),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
