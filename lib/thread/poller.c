/*
 * Pollers: functions a thread calls every iteration (active) or every
 * period (timed).
 *
 * One list per thread, in registration order, holds both kinds; each
 * iteration walks it once, calling active pollers and timed pollers that
 * are due. Threads have a handful of pollers, so a walk is cheaper than
 * keeping a timer heap in step with pause and resume.
 *
 * Invariants:
 *  - A poller is touched only on its thread.
 *  - A poller is freed only when no walk is in progress on its thread:
 *    poller_unregister() inside the walk (from the poller itself, from
 *    another poller, from a message or an fd handler) only marks it
 *    UNREGISTERED; the walk skips it and thread_poll() sweeps it after.
 *    So the walk's cursor and its remembered last element stay valid.
 *  - n_active + n_timed + n_paused counts exactly the pollers that are not
 *    UNREGISTERED; a PAUSED poller counts in n_paused only.
 *  - A walk stops at the element that was last when it began: pollers
 *    registered during the walk first run in the next iteration.
 *  - A timed poller's next_run is in the thread clock (thread_get_ticks),
 *    which the test harness makes virtual.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "lvstor/log.h"
#include "thread_internal.h"

static void
count_adjust(struct thread *t, const struct poller *p, int delta)
{
	if (p->state == POLLER_STATE_PAUSED)
		t->n_paused += delta;
	else if (p->period_ticks == 0)
		t->n_active += delta;
	else
		t->n_timed += delta;
}

struct poller *
poller_register(poller_fn fn, void *arg, uint64_t period_us, const char *name)
{
	struct thread *t = thread_get_current();
	struct poller *p;

	if (t == NULL) {
		LOG_ERR("poller %s: no current thread", name ? name : "?");
		return NULL;
	}
	if (!thread_is_running(t)) {
		LOG_ERR("poller %s: thread %s is exiting", name ? name : "?", thread_get_name(t));
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->thread = t;
	p->fn = fn;
	p->arg = arg;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "poller");
	if (period_us > 0) {
		p->period_ticks = thread_us_to_ticks(period_us);
		if (p->period_ticks == 0)
			p->period_ticks = 1;
		p->next_run = thread_get_ticks() + p->period_ticks;
	}
	p->state = POLLER_STATE_WAITING;
	TAILQ_INSERT_TAIL(&t->pollers, p, link);
	count_adjust(t, p, 1);
	return p;
}

void
poller_unregister(struct poller **pp)
{
	struct poller *p = *pp;
	struct thread *t;

	if (p == NULL)
		return;
	*pp = NULL;
	t = p->thread;
	assert(t == thread_get_current());
	assert(p->state != POLLER_STATE_UNREGISTERED);
	count_adjust(t, p, -1);
	p->state = POLLER_STATE_UNREGISTERED;
	if (t->in_poll) {
		t->pollers_dirty = true;
		return;
	}
	TAILQ_REMOVE(&t->pollers, p, link);
	free(p);
}

void
poller_pause(struct poller *p)
{
	if (p->state != POLLER_STATE_WAITING)
		return;
	count_adjust(p->thread, p, -1);
	p->state = POLLER_STATE_PAUSED;
	count_adjust(p->thread, p, 1);
}

void
poller_resume(struct poller *p)
{
	if (p->state != POLLER_STATE_PAUSED)
		return;
	count_adjust(p->thread, p, -1);
	p->state = POLLER_STATE_WAITING;
	count_adjust(p->thread, p, 1);
	if (p->period_ticks > 0)
		p->next_run = thread_get_ticks() + p->period_ticks;
}

const char *
poller_get_name(const struct poller *p)
{
	return p->name;
}

int
pollers_run(struct thread *t, uint64_t now)
{
	struct poller *p, *last = TAILQ_LAST(&t->pollers, poller_list);
	int busy = 0, rc;

	TAILQ_FOREACH(p, &t->pollers, link) {
		if (p->state == POLLER_STATE_WAITING) {
			if (p->period_ticks == 0) {
				rc = p->fn(p->arg);
				busy |= rc > 0;
			} else if (now >= p->next_run) {
				rc = p->fn(p->arg);
				busy |= rc > 0;
				/* Unless it paused itself (resume re-arms). */
				if (p->state == POLLER_STATE_WAITING)
					p->next_run = now + p->period_ticks;
			}
		}
		if (p == last)
			break;
	}
	return busy;
}

void
pollers_sweep(struct thread *t)
{
	struct poller *p, *next;

	for (p = TAILQ_FIRST(&t->pollers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);
		if (p->state == POLLER_STATE_UNREGISTERED) {
			TAILQ_REMOVE(&t->pollers, p, link);
			free(p);
		}
	}
	t->pollers_dirty = false;
}

void
pollers_free_all(struct thread *t)
{
	struct poller *p;

	while ((p = TAILQ_FIRST(&t->pollers)) != NULL) {
		if (p->state != POLLER_STATE_UNREGISTERED)
			LOG_WARN("thread %s: poller %s leaked", thread_get_name(t), p->name);
		TAILQ_REMOVE(&t->pollers, p, link);
		free(p);
	}
}
