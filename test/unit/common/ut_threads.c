/*
 * Deterministic thread harness (see ut_threads.h).
 *
 * Every light-weight thread is stepped with thread_poll() on the OS thread
 * running the test, in index order, and the clock is virtual: ticks are
 * microseconds and move only in ut_advance_time_us(). No reactor, no
 * schedule hook, no sleeping: a test sees exactly the interleaving it asks
 * for.
 *
 * A test may exit and destroy one of the harness's threads itself; the
 * harness finds live threads by id, so it never touches a destroyed one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lvstor/thread.h"
#include "ut_threads.h"

/* More threads than any scenario needs; the ids live in a fixed array. */
#define UT_MAX_THREADS 64
/*
 * A round-robin pass that keeps doing work this many times is a livelock
 * (two threads pinging each other forever), not a slow test.
 */
#define UT_MAX_ROUNDS 1000000

static uint64_t g_now_us;
static int g_count;
static int g_current;
static uint64_t g_ids[UT_MAX_THREADS];

static uint64_t
ut_clock(void)
{
	return g_now_us;
}

static struct thread *
live_thread(int index)
{
	if (index < 0 || index >= g_count)
		return NULL;
	return thread_get_by_id(g_ids[index]);
}

void
ut_threads_init(int count)
{
	char name[32];
	int i, rc;

	assert_true(count > 0 && count <= UT_MAX_THREADS);
	rc = thread_lib_init(NULL, 0);
	assert_int_equal(rc, 0);
	g_now_us = 0;
	thread_set_clock(ut_clock, 1000000);
	g_count = count;
	for (i = 0; i < count; i++) {
		struct thread *t;

		snprintf(name, sizeof(name), "ut_thread%d", i);
		t = thread_create(name, NULL);
		assert_non_null(t);
		g_ids[i] = thread_get_id(t);
	}
	ut_set_thread(0);
}

void
ut_threads_fini(void)
{
	struct thread *t;
	int i, round, left = 0;

	/* Ask every live thread to exit, then let them drain among themselves. */
	for (i = 0; i < g_count; i++) {
		t = live_thread(i);
		if (t != NULL && thread_is_running(t)) {
			thread_set_current(t);
			thread_exit(t);
		}
	}
	for (round = 0; round < 1000; round++) {
		ut_poll_threads();
		left = 0;
		for (i = 0; i < g_count; i++) {
			t = live_thread(i);
			if (t != NULL && !thread_is_exited(t))
				left++;
		}
		if (left == 0)
			break;
	}
	for (i = 0; i < g_count; i++) {
		t = live_thread(i);
		if (t == NULL)
			continue;
		if (!thread_is_exited(t)) {
			uint64_t active, timed, paused;

			thread_get_poller_counts(t, &active, &timed, &paused);
			print_error("ut_threads_fini: %s cannot exit (pollers %lu/%lu/%lu "
				    "active/timed/paused, pending msgs %d)\n",
				    thread_get_name(t), (unsigned long)active,
				    (unsigned long)timed, (unsigned long)paused,
				    (int)thread_has_pending_msgs(t));
			continue;
		}
		thread_destroy(t);
	}
	thread_set_current(NULL);
	g_count = 0;
	if (left == 0)
		thread_lib_fini();
	else
		fail_msg("ut_threads_fini: %d thread(s) leaked a poller, fd or channel", left);
}

int
ut_thread_count(void)
{
	return g_count;
}

struct thread *
ut_thread(int index)
{
	return live_thread(index);
}

void
ut_set_thread(int index)
{
	struct thread *t = live_thread(index);

	assert_non_null(t);
	g_current = index;
	thread_set_current(t);
}

int
ut_current_thread(void)
{
	return g_current;
}

int
ut_poll_thread(int index)
{
	struct thread *t = live_thread(index);

	if (t == NULL)
		return 0;
	return thread_poll(t, 0, g_now_us);
}

int
ut_poll_threads(void)
{
	int rounds = 0, i, busy;

	do {
		busy = 0;
		for (i = 0; i < g_count; i++) {
			if (ut_poll_thread(i) > 0)
				busy = 1;
		}
		rounds += busy;
		if (rounds > UT_MAX_ROUNDS)
			fail_msg("ut_poll_threads: threads never go idle (livelock?)");
	} while (busy);
	return rounds;
}

void
ut_advance_time_us(uint64_t us)
{
	g_now_us += us;
}

uint64_t
ut_now_us(void)
{
	return g_now_us;
}
