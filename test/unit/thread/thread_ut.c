/*
 * lib/thread without reactors: messages, pollers, fds, thread exit, for_each,
 * all stepped by the deterministic harness with virtual time.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <cmocka.h>

#include "lvstor/thread.h"
#include "../common/ut_threads.h"

static int
setup3(void **state)
{
	ut_threads_init(3);
	return 0;
}

static int
teardown(void **state)
{
	ut_threads_fini();
	return 0;
}

/* ---- messages ----------------------------------------------------------- */

#define LOG_MAX 4096
static int g_log[LOG_MAX];
static int g_log_len;
static struct thread *g_log_thread[LOG_MAX];

static void
log_reset(void)
{
	g_log_len = 0;
}

static void
log_append(int v)
{
	assert_true(g_log_len < LOG_MAX);
	g_log_thread[g_log_len] = thread_get_current();
	g_log[g_log_len++] = v;
}

static void
msg_log(void *ctx)
{
	log_append((int)(intptr_t)ctx);
}

static void
test_msg_order_per_sender(void **state)
{
	int i, a = 0, b = 0;

	log_reset();
	/* Threads 0 and 1 interleave sends to thread 2. */
	for (i = 0; i < 100; i++) {
		ut_set_thread(0);
		assert_int_equal(thread_send_msg(ut_thread(2), msg_log, (void *)(intptr_t)(i)), 0);
		ut_set_thread(1);
		assert_int_equal(thread_send_msg(ut_thread(2), msg_log,
						 (void *)(intptr_t)(1000 + i)), 0);
	}
	ut_set_thread(0);
	/* Nothing runs until thread 2 is polled. */
	assert_int_equal(g_log_len, 0);
	assert_true(thread_has_pending_msgs(ut_thread(2)));
	assert_int_equal(ut_poll_thread(0), 0);
	assert_int_equal(g_log_len, 0);
	ut_poll_threads();
	assert_int_equal(g_log_len, 200);
	assert_false(thread_has_pending_msgs(ut_thread(2)));
	for (i = 0; i < g_log_len; i++) {
		assert_ptr_equal(g_log_thread[i], ut_thread(2));
		if (g_log[i] < 1000)
			assert_int_equal(g_log[i], a++);
		else
			assert_int_equal(g_log[i], 1000 + b++);
	}
	assert_int_equal(a, 100);
	assert_int_equal(b, 100);
}

static void
test_msg_batch_bounded(void **state)
{
	int i;

	log_reset();
	for (i = 0; i < 10; i++)
		thread_send_msg(ut_thread(1), msg_log, (void *)(intptr_t)i);
	assert_int_equal(thread_poll(ut_thread(1), 3, 0), 1);
	assert_int_equal(g_log_len, 3);
	ut_poll_threads();
	assert_int_equal(g_log_len, 10);
}

static void
self_exit_msg(void *ctx)
{
	thread_exit(thread_get_current());
}

static void
test_msg_to_exited_thread_eio(void **state)
{
	struct thread *t1 = ut_thread(1);

	log_reset();
	assert_int_equal(thread_send_msg(t1, self_exit_msg, NULL), 0);
	/* Sent after the exit request but before it completes: still runs. */
	assert_int_equal(thread_send_msg(t1, msg_log, (void *)7), 0);
	ut_poll_thread(1);
	assert_false(thread_is_running(t1));
	ut_poll_threads();
	assert_int_equal(g_log_len, 1);
	assert_true(thread_is_exited(t1));
	assert_int_equal(thread_send_msg(t1, msg_log, (void *)8), -EIO);
	ut_poll_threads();
	assert_int_equal(g_log_len, 1);
}

struct sender_arg {
	struct thread *target;
	int base;
	int count;
};

static void *
sender_main(void *arg)
{
	struct sender_arg *sa = arg;
	int i;

	for (i = 0; i < sa->count; i++) {
		while (thread_send_msg(sa->target, msg_log, (void *)(intptr_t)(sa->base + i)) ==
		       -ENOMEM)
			usleep(10);
	}
	return NULL;
}

/* Several OS threads enqueue at once on one MP/SC ring. */
static void
test_msg_from_foreign_os_threads(void **state)
{
	struct sender_arg sa[3];
	pthread_t tid[3];
	int next[3] = { 0 }, i, k, n = 0;

	log_reset();
	for (k = 0; k < 3; k++) {
		sa[k] = (struct sender_arg){ ut_thread(0), k * 10000, 1000 };
		assert_int_equal(pthread_create(&tid[k], NULL, sender_main, &sa[k]), 0);
	}
	while (n < 3000) {
		ut_poll_thread(0);
		for (; n < g_log_len; n++) {
			k = g_log[n] / 10000;
			assert_int_equal(g_log[n] % 10000, next[k]++);
		}
		if (g_log_len >= LOG_MAX - 64)
			break;
	}
	for (k = 0; k < 3; k++)
		pthread_join(tid[k], NULL);
	ut_poll_threads();
	for (; n < g_log_len; n++) {
		k = g_log[n] / 10000;
		assert_int_equal(g_log[n] % 10000, next[k]++);
	}
	for (i = 0; i < 3; i++)
		assert_int_equal(next[i], 1000);
}

static void
noop_msg(void *ctx)
{
}

/* Without the harness: a pool of 4 messages refuses the fifth. */
static void
test_msg_pool_exhausted_enomem(void **state)
{
	struct thread *t;
	int i;

	assert_int_equal(thread_lib_init(NULL, 4), 0);
	t = thread_create("small", NULL);
	assert_non_null(t);
	assert_ptr_equal(thread_get_app_thread(), t);
	for (i = 0; i < 4; i++)
		assert_int_equal(thread_send_msg(t, noop_msg, NULL), 0);
	assert_int_equal(thread_send_msg(t, noop_msg, NULL), -ENOMEM);
	assert_int_equal(thread_poll(t, 0, 0), 1);
	assert_int_equal(thread_send_msg(t, noop_msg, NULL), 0);
	thread_set_current(t);
	thread_exit(t);
	thread_poll(t, 0, 0);
	assert_true(thread_is_exited(t));
	thread_destroy(t);
	assert_null(thread_get_app_thread());
	assert_int_equal(thread_count(), 0);
	thread_lib_fini();
}

static void
test_thread_lookup(void **state)
{
	struct thread *t;
	int n = 0;

	assert_ptr_equal(thread_get_app_thread(), ut_thread(0));
	assert_ptr_equal(thread_get_by_id(thread_get_id(ut_thread(2))), ut_thread(2));
	assert_null(thread_get_by_id(12345));
	assert_string_equal(thread_get_name(ut_thread(1)), "ut_thread1");
	assert_int_equal(thread_count(), 3);
	for (t = thread_get_first(); t != NULL; t = thread_get_next(t))
		assert_ptr_equal(t, ut_thread(n++));
	assert_int_equal(n, 3);
	assert_ptr_equal(thread_get_current(), ut_thread(0));
	ut_set_thread(2);
	assert_int_equal(ut_current_thread(), 2);
	assert_ptr_equal(thread_get_current(), ut_thread(2));
	thread_set_ctx(ut_thread(2), &n);
	assert_ptr_equal(thread_get_ctx(ut_thread(2)), &n);
	assert_int_equal(thread_get_lcore(ut_thread(2)), UINT32_MAX);
}

/* ---- pollers ------------------------------------------------------------ */

static int
poll_log(void *ctx)
{
	log_append((int)(intptr_t)ctx);
	return POLLER_BUSY;
}

static void
test_poller_registration_order(void **state)
{
	struct poller *p[4];

	log_reset();
	p[0] = poller_register(poll_log, (void *)1, 0, "a");
	p[1] = poller_register(poll_log, (void *)2, 10, "b_timed");
	p[2] = poller_register(poll_log, (void *)3, 0, "c");
	p[3] = poller_register(poll_log, (void *)4, 10, "d_timed");
	assert_string_equal(poller_get_name(p[1]), "b_timed");
	ut_poll_thread(0);
	assert_int_equal(g_log_len, 2);
	assert_int_equal(g_log[0], 1);
	assert_int_equal(g_log[1], 3);
	log_reset();
	ut_advance_time_us(10);
	ut_poll_thread(0);
	assert_int_equal(g_log_len, 4);
	assert_int_equal(g_log[0], 1);
	assert_int_equal(g_log[1], 2);
	assert_int_equal(g_log[2], 3);
	assert_int_equal(g_log[3], 4);
	for (int i = 0; i < 4; i++) {
		poller_unregister(&p[i]);
		assert_null(p[i]);
	}
	log_reset();
	ut_advance_time_us(100);
	ut_poll_thread(0);
	assert_int_equal(g_log_len, 0);
}

static void
test_timed_poller_virtual_time(void **state)
{
	struct poller *p;

	log_reset();
	ut_advance_time_us(5);
	p = poller_register(poll_log, (void *)1, 100, "timed");
	assert_int_equal(thread_next_poller_expiration(ut_thread(0)), 100);
	assert_false(thread_has_active_pollers(ut_thread(0)));
	ut_poll_threads();
	assert_int_equal(g_log_len, 0);
	ut_advance_time_us(99);
	assert_int_equal(thread_next_poller_expiration(ut_thread(0)), 1);
	ut_poll_threads();
	assert_int_equal(g_log_len, 0);
	ut_advance_time_us(1);
	assert_int_equal(thread_next_poller_expiration(ut_thread(0)), 0);
	assert_int_equal(ut_poll_thread(0), 1);
	assert_int_equal(g_log_len, 1);
	ut_poll_threads();
	assert_int_equal(g_log_len, 1);
	/* Late by a lot: runs once, not once per missed period. */
	ut_advance_time_us(1000);
	ut_poll_threads();
	assert_int_equal(g_log_len, 2);
	assert_int_equal(thread_next_poller_expiration(ut_thread(0)), 100);
	poller_unregister(&p);
	assert_int_equal(thread_next_poller_expiration(ut_thread(0)), UINT64_MAX);
}

static struct poller *g_pollers[4];
static int g_calls[4];

static int
poll_unregister_self_on_3rd(void *ctx)
{
	if (++g_calls[0] == 3)
		poller_unregister(&g_pollers[0]);
	return POLLER_BUSY;
}

static int
poll_unregister_next(void *ctx)
{
	g_calls[1]++;
	poller_unregister(&g_pollers[2]);
	return POLLER_IDLE;
}

static int
poll_count2(void *ctx)
{
	g_calls[2]++;
	return POLLER_IDLE;
}

static void
test_poller_unregister_from_inside(void **state)
{
	int i;
	uint64_t active;

	memset(g_calls, 0, sizeof(g_calls));
	g_pollers[0] = poller_register(poll_unregister_self_on_3rd, NULL, 0, "self");
	g_pollers[1] = poller_register(poll_unregister_next, NULL, 0, "killer");
	g_pollers[2] = poller_register(poll_count2, NULL, 0, "victim");
	for (i = 0; i < 5; i++)
		ut_poll_thread(0);
	assert_int_equal(g_calls[0], 3);
	assert_null(g_pollers[0]);
	assert_int_equal(g_calls[1], 5);
	/* The victim was unregistered by the poller before it: never ran. */
	assert_int_equal(g_calls[2], 0);
	assert_null(g_pollers[2]);
	thread_get_poller_counts(ut_thread(0), &active, NULL, NULL);
	assert_int_equal(active, 1);
	poller_unregister(&g_pollers[1]);
	thread_get_poller_counts(ut_thread(0), &active, NULL, NULL);
	assert_int_equal(active, 0);
}

static int
poll_pause_self(void *ctx)
{
	g_calls[0]++;
	poller_pause(g_pollers[0]);
	return POLLER_BUSY;
}

static void
resume_msg(void *ctx)
{
	poller_resume(g_pollers[(intptr_t)ctx]);
}

static int
poll_pause_resume_self(void *ctx)
{
	g_calls[1]++;
	poller_pause(g_pollers[1]);
	poller_resume(g_pollers[1]);
	return POLLER_BUSY;
}

static void
test_poller_pause_resume(void **state)
{
	uint64_t active, timed, paused;

	memset(g_calls, 0, sizeof(g_calls));
	g_pollers[0] = poller_register(poll_pause_self, NULL, 0, "pauser");
	g_pollers[1] = poller_register(poll_pause_resume_self, NULL, 50, "timed");
	ut_poll_threads();
	assert_int_equal(g_calls[0], 1);
	thread_get_poller_counts(ut_thread(0), &active, &timed, &paused);
	assert_int_equal(active, 0);
	assert_int_equal(timed, 1);
	assert_int_equal(paused, 1);
	assert_false(thread_has_active_pollers(ut_thread(0)));
	ut_poll_threads();
	assert_int_equal(g_calls[0], 1);
	/* Resumed from a message on its own thread. */
	thread_send_msg(ut_thread(0), resume_msg, (void *)0);
	ut_poll_thread(0);	/* message runs, then the poller, which pauses again */
	assert_int_equal(g_calls[0], 2);
	ut_poll_threads();
	assert_int_equal(g_calls[0], 2);

	/* A timed poller that pauses and resumes itself keeps its period. */
	ut_advance_time_us(50);
	ut_poll_threads();
	assert_int_equal(g_calls[1], 1);
	ut_advance_time_us(49);
	ut_poll_threads();
	assert_int_equal(g_calls[1], 1);
	ut_advance_time_us(1);
	ut_poll_threads();
	assert_int_equal(g_calls[1], 2);

	/* A paused timed poller is not due; resume re-arms a full period. */
	poller_pause(g_pollers[1]);
	ut_advance_time_us(500);
	ut_poll_threads();
	assert_int_equal(g_calls[1], 2);
	assert_int_equal(thread_next_poller_expiration(ut_thread(0)), UINT64_MAX);
	poller_resume(g_pollers[1]);
	assert_int_equal(thread_next_poller_expiration(ut_thread(0)), 50);
	thread_get_poller_counts(ut_thread(0), &active, &timed, &paused);
	assert_int_equal(timed, 1);
	assert_int_equal(paused, 1);
	/* Unregistering a paused poller works too. */
	poller_unregister(&g_pollers[0]);
	poller_unregister(&g_pollers[1]);
	thread_get_poller_counts(ut_thread(0), &active, &timed, &paused);
	assert_int_equal(active + timed + paused, 0);
}

static int
poll_register_another(void *ctx)
{
	g_calls[0]++;
	if (g_pollers[1] == NULL)
		g_pollers[1] = poller_register(poll_count2, NULL, 0, "late");
	return POLLER_BUSY;
}

static void
test_poller_registered_inside_poller_runs_next_iteration(void **state)
{
	memset(g_calls, 0, sizeof(g_calls));
	g_pollers[1] = NULL;
	g_pollers[0] = poller_register(poll_register_another, NULL, 0, "first");
	ut_poll_thread(0);
	assert_non_null(g_pollers[1]);
	assert_int_equal(g_calls[2], 0);
	ut_poll_thread(0);
	assert_int_equal(g_calls[2], 1);
	poller_unregister(&g_pollers[0]);
	poller_unregister(&g_pollers[1]);
}

static int
poll_burn_10us(void *ctx)
{
	ut_advance_time_us(10);
	return (int)(intptr_t)ctx;
}

static void
test_thread_stats(void **state)
{
	struct thread_stats st;
	struct poller *p;

	p = poller_register(poll_burn_10us, (void *)POLLER_BUSY, 0, "busy");
	ut_poll_thread(0);
	ut_poll_thread(0);
	thread_get_stats(ut_thread(0), &st);
	assert_int_equal(st.busy_tsc, 20);
	assert_int_equal(st.idle_tsc, 0);
	poller_unregister(&p);
	p = poller_register(poll_burn_10us, (void *)POLLER_IDLE, 0, "idle");
	ut_poll_thread(0);
	thread_get_stats(ut_thread(0), &st);
	assert_int_equal(st.busy_tsc, 20);
	assert_int_equal(st.idle_tsc, 10);
	poller_unregister(&p);
}

static void
test_poller_register_without_thread(void **state)
{
	thread_set_current(NULL);
	assert_null(poller_register(poll_count2, NULL, 0, "orphan"));
	ut_set_thread(0);
}

/* ---- for_each_thread ---------------------------------------------------- */

static int g_cpl_calls;
static struct thread *g_cpl_thread;

static void
for_each_fn(void *ctx)
{
	log_append((int)(intptr_t)ctx);
}

static void
for_each_cpl(void *ctx)
{
	g_cpl_calls++;
	g_cpl_thread = thread_get_current();
	/* Every thread ran fn before cpl. */
	assert_int_equal(g_log_len, 3);
}

static void
test_for_each_thread(void **state)
{
	log_reset();
	g_cpl_calls = 0;
	ut_set_thread(1);
	thread_for_each(for_each_fn, (void *)5, for_each_cpl);
	/* Nothing before the caller returns to its loop. */
	assert_int_equal(g_log_len, 0);
	ut_poll_threads();
	assert_int_equal(g_log_len, 3);
	assert_ptr_equal(g_log_thread[0], ut_thread(0));
	assert_ptr_equal(g_log_thread[1], ut_thread(1));
	assert_ptr_equal(g_log_thread[2], ut_thread(2));
	assert_int_equal(g_cpl_calls, 1);
	assert_ptr_equal(g_cpl_thread, ut_thread(1));
}

static void
for_each_cpl_any(void *ctx)
{
	g_cpl_calls++;
	g_cpl_thread = thread_get_current();
}

static void
test_for_each_thread_skips_exited(void **state)
{
	log_reset();
	g_cpl_calls = 0;
	ut_set_thread(1);
	thread_exit(ut_thread(1));
	ut_poll_threads();
	assert_true(thread_is_exited(ut_thread(1)));
	ut_set_thread(0);
	thread_for_each(for_each_fn, (void *)1, for_each_cpl_any);
	ut_poll_threads();
	assert_int_equal(g_log_len, 2);
	assert_ptr_equal(g_log_thread[0], ut_thread(0));
	assert_ptr_equal(g_log_thread[1], ut_thread(2));
	assert_int_equal(g_cpl_calls, 1);
}

/* The originating thread does not exit while its walk is out. */
static void
test_for_each_thread_keeps_origin_alive(void **state)
{
	g_cpl_calls = 0;
	log_reset();
	ut_set_thread(2);
	thread_for_each(for_each_fn, (void *)1, for_each_cpl_any);
	thread_exit(ut_thread(2));
	ut_poll_thread(2);
	assert_false(thread_is_exited(ut_thread(2)));
	ut_poll_threads();
	assert_int_equal(g_cpl_calls, 1);
	assert_ptr_equal(g_cpl_thread, ut_thread(2));
	assert_true(thread_is_exited(ut_thread(2)));
	ut_set_thread(0);
}

/* ---- fds ---------------------------------------------------------------- */

static int g_fd_calls;
static uint32_t g_fd_events;
static struct fd_handler *g_fdh;

static int
fd_read_cb(void *ctx, uint32_t events)
{
	uint64_t v;
	int fd = (int)(intptr_t)ctx;

	g_fd_calls++;
	g_fd_events = events;
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	return 1;
}

static int
fd_unregister_self_cb(void *ctx, uint32_t events)
{
	g_fd_calls++;
	thread_fd_unregister(&g_fdh);
	return 1;
}

static void
test_fd_handler_fires(void **state)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t one = 1;

	assert_true(efd >= 0);
	g_fd_calls = 0;
	ut_set_thread(1);
	g_fdh = thread_fd_register(efd, FD_EVENT_IN, fd_read_cb, (void *)(intptr_t)efd, "efd");
	assert_non_null(g_fdh);
	ut_set_thread(0);
	ut_poll_threads();
	assert_int_equal(g_fd_calls, 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(ut_poll_thread(0), 0);	/* not thread 0's fd */
	assert_int_equal(g_fd_calls, 0);
	assert_int_equal(ut_poll_thread(1), 1);
	assert_int_equal(g_fd_calls, 1);
	assert_int_equal(g_fd_events, FD_EVENT_IN);
	ut_poll_threads();
	assert_int_equal(g_fd_calls, 1);

	/* A thread with an fd handler does not exit. */
	ut_set_thread(1);
	thread_exit(ut_thread(1));
	ut_poll_threads();
	assert_false(thread_is_exited(ut_thread(1)));

	/* Unregistered from outside: the thread can exit now. */
	ut_set_thread(1);
	thread_fd_unregister(&g_fdh);
	g_fdh = NULL;
	ut_set_thread(0);
	ut_poll_threads();
	assert_true(thread_is_exited(ut_thread(1)));

	g_fd_calls = 0;
	g_fdh = thread_fd_register(efd, FD_EVENT_IN, fd_unregister_self_cb, NULL, "self");
	assert_non_null(g_fdh);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	ut_poll_threads();
	assert_int_equal(g_fd_calls, 1);
	assert_null(g_fdh);
	ut_poll_threads();
	assert_int_equal(g_fd_calls, 1);
	close(efd);
}

static void
test_fd_set_events_and_pipe(void **state)
{
	int fds[2];
	char c = 'x';

	assert_int_equal(pipe(fds), 0);
	g_fd_calls = 0;
	/* Write end: always writable. */
	g_fdh = thread_fd_register(fds[1], 0, fd_unregister_self_cb, NULL, "pipe_w");
	assert_non_null(g_fdh);
	ut_poll_threads();
	assert_int_equal(g_fd_calls, 0);
	assert_int_equal(thread_fd_set_events(g_fdh, FD_EVENT_OUT), 0);
	ut_poll_threads();
	assert_int_equal(g_fd_calls, 1);
	assert_null(g_fdh);

	assert_null(thread_fd_register(-1, FD_EVENT_IN, fd_read_cb, NULL, "bad"));
	assert_int_equal(write(fds[1], &c, 1), 1);
	close(fds[0]);
	close(fds[1]);
}

/* ---- thread exit -------------------------------------------------------- */

static void
test_thread_exit_rules(void **state)
{
	struct thread *t2 = ut_thread(2);
	struct poller *p;

	ut_set_thread(2);
	p = poller_register(poll_count2, NULL, 100, "keeps_alive");
	assert_non_null(p);
	thread_exit(t2);
	assert_false(thread_is_running(t2));
	assert_false(thread_is_exited(t2));
	/* An exiting thread takes no new pollers. */
	assert_null(poller_register(poll_count2, NULL, 0, "refused"));
	ut_poll_threads();
	assert_false(thread_is_exited(t2));
	/* Still takes messages until it has exited. */
	ut_set_thread(0);
	log_reset();
	assert_int_equal(thread_send_msg(t2, msg_log, (void *)3), 0);
	ut_set_thread(2);
	poller_unregister(&p);
	assert_false(thread_is_exited(t2));	/* only at the end of a poll */
	ut_poll_thread(2);
	assert_int_equal(g_log_len, 1);
	assert_true(thread_is_exited(t2));
	thread_destroy(t2);
	assert_null(ut_thread(2));
	assert_int_equal(thread_count(), 2);
	ut_set_thread(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_msg_order_per_sender, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_msg_batch_bounded, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_msg_to_exited_thread_eio, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_msg_from_foreign_os_threads, setup3, teardown),
		cmocka_unit_test(test_msg_pool_exhausted_enomem),
		cmocka_unit_test_setup_teardown(test_thread_lookup, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_poller_registration_order, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_timed_poller_virtual_time, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_poller_unregister_from_inside, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_poller_pause_resume, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_poller_registered_inside_poller_runs_next_iteration,
						setup3, teardown),
		cmocka_unit_test_setup_teardown(test_thread_stats, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_poller_register_without_thread, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_thread, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_thread_skips_exited, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_thread_keeps_origin_alive, setup3,
						teardown),
		cmocka_unit_test_setup_teardown(test_fd_handler_fires, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_fd_set_events_and_pipe, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_thread_exit_rules, setup3, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
