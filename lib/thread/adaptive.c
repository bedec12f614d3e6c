/*
 * Adaptive polling: when a reactor should stop spinning and sleep.
 *
 * Policy only; the mechanism (announcing the sleep, epoll_wait, waking) is
 * in reactor.c and thread.c. The reactor asks two questions:
 *
 *  1. adaptive_should_sleep(): have my threads done no work for
 *     sleep_after ticks? Work means a message run, a poller that returned
 *     POLLER_BUSY or a ready fd. A timed poller that wakes the reactor and
 *     returns POLLER_IDLE does not restart the window, so a reactor that
 *     only runs idle housekeeping timers goes back to sleep at once.
 *  2. adaptive_sleep_worthwhile(): is the next timer far enough away that
 *     sleeping until it beats spinning?
 *
 * When the reactor cannot sleep even though it is idle because a thread has
 * an active poller, it calls adaptive_sleep_refused() and asks again only
 * after another window: the check walks every thread, and doing that on
 * each iteration of a spinning loop would be waste. When only a timer is
 * about due it keeps the window, spins the few microseconds until the timer
 * runs, and sleeps right after (a timer tick must not cost a whole window of
 * spinning).
 *
 * States of a reactor, as this file sees them:
 *   SPINNING  -- work in the last sleep_after ticks, or cannot sleep;
 *   SLEEPING  -- in epoll_wait (reactor_info.in_interrupt);
 *   after a wake-up it is SPINNING with the window it had before the sleep,
 *   unless the wake-up brought work.
 */
#include <stdatomic.h>

#include "lvstor/env.h"
#include "thread_internal.h"

/*
 * Idle time before sleeping. Going to sleep and waking costs tens of
 * microseconds of latency (two system calls and a cold cache), so the window
 * must be long against that, or a request stream with small gaps would pay
 * it on every request. Spinning costs CPU: an idle daemon woken by one
 * event every 100 ms spins 0.5 ms of it, 0.5 % of a core. 500 us keeps
 * request bursts on a spinning reactor and the idle daemon near zero.
 */
#define SLEEP_AFTER_US_DEFAULT 500
/*
 * Sleeping until a timer that is due sooner than this is not worth it: the
 * wake-up itself takes about that long, so the timer would be late and
 * little CPU saved.
 */
#define MIN_SLEEP_US 50

static _Atomic uint64_t g_sleep_after_us = SLEEP_AFTER_US_DEFAULT;

static uint64_t
us_to_env_ticks(uint64_t us)
{
	uint64_t hz = env_get_ticks_hz();

	return (us / 1000000) * hz + (us % 1000000) * hz / 1000000;
}

void
reactor_set_sleep_after_us(uint64_t idle_us)
{
	atomic_store_explicit(&g_sleep_after_us, idle_us, memory_order_relaxed);
}

uint64_t
reactor_get_sleep_after_us(void)
{
	return atomic_load_explicit(&g_sleep_after_us, memory_order_relaxed);
}

void
adaptive_init(struct adaptive_state *s, uint64_t now)
{
	s->last_busy = now;
}

bool
adaptive_should_sleep(struct adaptive_state *s, bool busy, uint64_t now)
{
	uint64_t after_us;

	if (busy) {
		s->last_busy = now;
		return false;
	}
	after_us = atomic_load_explicit(&g_sleep_after_us, memory_order_relaxed);
	if (after_us == 0)
		return false;	/* always spin */
	return now - s->last_busy >= us_to_env_ticks(after_us);
}

bool
adaptive_sleep_worthwhile(uint64_t ticks_until_timer)
{
	/* The timer is in thread-clock ticks (the reactor's clock is env's). */
	return ticks_until_timer >= thread_us_to_ticks(MIN_SLEEP_US);
}

void
adaptive_sleep_refused(struct adaptive_state *s, uint64_t now)
{
	s->last_busy = now;
}
