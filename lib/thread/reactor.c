/*
 * Reactors: one pinned OS thread per core of the application, each running
 * the light-weight threads placed on it.
 *
 * The loop (reactor_run) is: take newly placed threads, poll every thread
 * once, destroy the ones that exited, account the iteration as busy or idle,
 * and -- if adaptive.c says the reactor has been idle long enough -- sleep.
 *
 * Sleeping. The reactor's epoll fd holds its own eventfd (new threads, stop)
 * and the epoll fd of each of its threads, which in turn holds the thread's
 * message eventfd, its timerfd and its registered fds. To sleep, the reactor
 * announces it on itself and on every thread (thread_prepare_sleep: flag,
 * seq_cst fence, re-check the ring, arm the timer); if any of them finds
 * work the sleep is called off. Otherwise epoll_wait(-1) returns when a
 * sender writes an eventfd, a timer fires or a registered fd is ready. The
 * argument that no wake-up is lost is at the top of thread.c; the reactor's
 * own ring of new threads follows the same protocol.
 *
 * Invariants:
 *  - A reactor's thread list and statistics are written only by the OS
 *    thread running that reactor (or by reactors_init/fini when none runs).
 *  - A thread is on exactly one reactor from placement to destruction; its
 *    lcore never changes (no migration yet).
 *  - nthreads, in_interrupt and the counters are atomics written by the
 *    reactor and read by anyone (placement, reactor_get_info).
 *  - A thread with an active poller keeps its reactor spinning. Modules that
 *    want an idle daemon to sleep use timed pollers or fds.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "thread_internal.h"

/*
 * Registered fds are checked every FD_POLL_INTERVAL iterations while the
 * reactor spins. epoll_wait(0) is a system call of roughly 0.3-1 us, about
 * the cost of a whole idle iteration; every 32nd iteration bounds that to a
 * few percent of the loop, while an iteration of an idle spinning reactor
 * takes well under a microsecond, so an fd waits at most tens of
 * microseconds more than a message would. A sleeping reactor is woken by the
 * fd itself and checks at once.
 */
#define FD_POLL_INTERVAL 32
/* Threads that may be waiting to be placed on one reactor at once. */
#define INCOMING_RING_SIZE 1024
#define EPOLL_BATCH 16

struct reactor {
	uint32_t lcore;
	TAILQ_HEAD(, thread) threads;
	struct env_ring *incoming;	/* MP/SC: threads placed here, not yet taken */
	int epfd;
	int efd;
	_Atomic bool sleeping;
	_Atomic bool stop;
	_Atomic uint32_t nthreads;
	_Atomic uint64_t tid;
	_Atomic uint64_t busy_tsc;
	_Atomic uint64_t idle_tsc;
	_Atomic uint64_t sleep_count;
	_Atomic bool in_interrupt;
	_Atomic uint64_t sleep_start;	/* tick the current sleep began */
	struct adaptive_state adaptive;
};

static struct reactor *g_reactors[ENV_MAX_CORES];
static bool g_reactors_initialized;
static bool g_own_thread_lib;
static char g_tag_reactor;

static void
reactor_kick(struct reactor *r, bool always)
{
	uint64_t one = 1;
	ssize_t rc;

	atomic_thread_fence(memory_order_seq_cst);
	if (always || atomic_load_explicit(&r->sleeping, memory_order_relaxed)) {
		rc = write(r->efd, &one, sizeof(one));
		(void)rc;
	}
}

static int
reactor_schedule_thread(struct thread *t)
{
	struct reactor *best = NULL, *r;
	uint32_t main_core = env_get_main_core(), i, n, best_n = UINT32_MAX;
	void *obj = t;

	/* Least-loaded reactor in the mask; the main core wins ties. */
	for (i = 0; i < ENV_MAX_CORES; i++) {
		r = g_reactors[i];
		if (r == NULL || !cpuset_get(&t->cpumask, i))
			continue;
		n = atomic_load_explicit(&r->nthreads, memory_order_relaxed);
		if (n < best_n || (n == best_n && i == main_core)) {
			best = r;
			best_n = n;
		}
	}
	if (best == NULL)
		return -EINVAL;
	t->lcore = best->lcore;
	atomic_fetch_add_explicit(&best->nthreads, 1, memory_order_relaxed);
	if (env_ring_enqueue(best->incoming, &obj, 1) != 1) {
		atomic_fetch_sub_explicit(&best->nthreads, 1, memory_order_relaxed);
		t->lcore = UINT32_MAX;
		return -EBUSY;
	}
	reactor_kick(best, false);
	return 0;
}

static void
reactor_take_incoming(struct reactor *r, uint64_t now)
{
	void *objs[16];
	size_t n, i;

	n = env_ring_dequeue(r->incoming, objs, 16);
	for (i = 0; i < n; i++) {
		struct thread *t = objs[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = t };

		t->placed_tsc = now;
		t->fd_poll_interval = FD_POLL_INTERVAL;
		t->fd_poll_countdown = FD_POLL_INTERVAL;
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, thread_get_interrupt_fd(t), &ev) != 0)
			LOG_ERR("reactor %u: cannot watch thread %s: %s", r->lcore, t->name,
				strerror(errno));
		TAILQ_INSERT_TAIL(&r->threads, t, reactor_link);
	}
}

static void
reactor_remove_thread(struct reactor *r, struct thread *t)
{
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, thread_get_interrupt_fd(t), NULL);
	TAILQ_REMOVE(&r->threads, t, reactor_link);
	atomic_fetch_sub_explicit(&r->nthreads, 1, memory_order_relaxed);
	thread_destroy(t);
}

static void
counter_add(_Atomic uint64_t *c, uint64_t v)
{
	/* Only the reactor writes: a plain load and store, no locked add. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static void
reactor_sleep(struct reactor *r)
{
	struct epoll_event evs[EPOLL_BATCH];
	struct thread *t, *u;
	uint64_t next = UINT64_MAX, exp, start;
	int n, i;

	TAILQ_FOREACH(t, &r->threads, reactor_link) {
		if (thread_has_active_pollers(t))
			goto refused;
		exp = thread_next_poller_expiration(t);
		if (exp < next)
			next = exp;
	}
	/* A timer about due: spin until it is, then try again (window kept). */
	if (!adaptive_sleep_worthwhile(next))
		return;

	atomic_store_explicit(&r->sleeping, true, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (env_ring_count(r->incoming) > 0 || atomic_load(&r->stop))
		goto cancel;
	TAILQ_FOREACH(t, &r->threads, reactor_link) {
		if (!thread_prepare_sleep(t)) {
			TAILQ_FOREACH(u, &r->threads, reactor_link) {
				if (u == t)
					break;
				thread_finish_sleep(u);
			}
			goto cancel;
		}
	}

	start = env_get_ticks();
	atomic_store_explicit(&r->sleep_start, start, memory_order_relaxed);
	atomic_store_explicit(&r->in_interrupt, true, memory_order_relaxed);
	counter_add(&r->sleep_count, 1);
	n = epoll_wait(r->epfd, evs, EPOLL_BATCH, -1);
	atomic_store_explicit(&r->in_interrupt, false, memory_order_relaxed);
	atomic_store_explicit(&r->sleeping, false, memory_order_relaxed);
	counter_add(&r->idle_tsc, env_get_ticks() - start);
	for (i = 0; i < n; i++) {
		if (evs[i].data.ptr == &g_tag_reactor) {
			uint64_t v;
			ssize_t rc = read(r->efd, &v, sizeof(v));

			(void)rc;
		}
	}
	TAILQ_FOREACH(t, &r->threads, reactor_link)
		thread_finish_sleep(t);
	return;
cancel:
	atomic_store_explicit(&r->sleeping, false, memory_order_relaxed);
	return;
refused:
	adaptive_sleep_refused(&r->adaptive, env_get_ticks());
}

static int
reactor_run(void *arg)
{
	struct reactor *r = arg;
	struct thread *t, *next;
	uint64_t now, end;
	bool busy;

	atomic_store(&r->tid, (uint64_t)gettid());
	now = env_get_ticks();
	adaptive_init(&r->adaptive, now);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		reactor_take_incoming(r, now);
		busy = false;
		for (t = TAILQ_FIRST(&r->threads); t != NULL; t = next) {
			next = TAILQ_NEXT(t, reactor_link);
			if (thread_poll(t, 0, now) > 0)
				busy = true;
			if (thread_is_exited(t))
				reactor_remove_thread(r, t);
		}
		end = env_get_ticks();
		counter_add(busy ? &r->busy_tsc : &r->idle_tsc, end - now);
		now = end;
		if (adaptive_should_sleep(&r->adaptive, busy, now)) {
			reactor_sleep(r);
			now = env_get_ticks();
		}
	}
	thread_set_current(NULL);
	return 0;
}

static void
reactor_free(struct reactor *r)
{
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->efd >= 0)
		close(r->efd);
	if (r->incoming)
		env_ring_free(r->incoming);
	free(r);
}

static struct reactor *
reactor_create(uint32_t lcore)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &g_tag_reactor };
	struct reactor *r;

	r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);
	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->lcore = lcore;
	TAILQ_INIT(&r->threads);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->incoming = env_ring_create(ENV_RING_MP_SC, INCOMING_RING_SIZE);
	if (r->epfd < 0 || r->efd < 0 || r->incoming == NULL ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->efd, &ev) != 0) {
		reactor_free(r);
		return NULL;
	}
	return r;
}

int
reactors_init(void)
{
	struct thread *t;
	uint32_t core;
	int rc;

	if (g_reactors_initialized)
		return -EALREADY;
	ENV_FOREACH_CORE(core) {
		if (core >= ENV_MAX_CORES)
			continue;
		g_reactors[core] = reactor_create(core);
		if (g_reactors[core] == NULL) {
			LOG_ERR("reactor %u: cannot create", core);
			rc = -ENOMEM;
			goto err;
		}
	}
	if (!thread_lib_is_initialized()) {
		rc = thread_lib_init(reactor_schedule_thread, 0);
		if (rc != 0)
			goto err;
		g_own_thread_lib = true;
	} else {
		thread_lib_set_schedule(reactor_schedule_thread);
		/* Threads created before the hook was in place. */
		for (t = thread_get_first(); t != NULL; t = thread_get_next(t)) {
			if (t->lcore == UINT32_MAX && reactor_schedule_thread(t) != 0)
				LOG_ERR("thread %s: no reactor in its cpumask", t->name);
		}
	}
	g_reactors_initialized = true;
	return 0;
err:
	for (core = 0; core < ENV_MAX_CORES; core++) {
		if (g_reactors[core])
			reactor_free(g_reactors[core]);
		g_reactors[core] = NULL;
	}
	return rc;
}

void
reactors_start(void)
{
	uint32_t core, main_core = env_get_main_core();
	int rc;

	for (core = 0; core < ENV_MAX_CORES; core++) {
		if (g_reactors[core])
			atomic_store(&g_reactors[core]->stop, false);
	}
	for (core = 0; core < ENV_MAX_CORES; core++) {
		if (g_reactors[core] == NULL || core == main_core)
			continue;
		rc = env_launch_on_core(core, reactor_run, g_reactors[core]);
		if (rc != 0)
			LOG_ERR("reactor %u: cannot launch: %d", core, rc);
	}
	if (main_core < ENV_MAX_CORES && g_reactors[main_core])
		reactor_run(g_reactors[main_core]);
	env_wait_cores();
}

void
reactors_stop(void)
{
	uint32_t core;

	for (core = 0; core < ENV_MAX_CORES; core++) {
		if (g_reactors[core] == NULL)
			continue;
		atomic_store(&g_reactors[core]->stop, true);
		reactor_kick(g_reactors[core], true);
	}
}

/*
 * Rounds reactors_fini() gives the remaining threads to exit: with nothing
 * left running they only need to drain messages between one another.
 */
#define FINI_ROUNDS 100000

void
reactors_fini(void)
{
	struct reactor *r;
	struct thread *t, *next;
	uint32_t core, round;
	bool left = true;

	if (!g_reactors_initialized)
		return;
	/* No reactor runs now: poll what is left in this OS thread, asking it to exit. */
	for (round = 0; left && round < FINI_ROUNDS; round++) {
		left = false;
		for (core = 0; core < ENV_MAX_CORES; core++) {
			r = g_reactors[core];
			if (r == NULL)
				continue;
			reactor_take_incoming(r, env_get_ticks());
			for (t = TAILQ_FIRST(&r->threads); t != NULL; t = next) {
				next = TAILQ_NEXT(t, reactor_link);
				if (thread_is_running(t)) {
					thread_set_current(t);
					thread_exit(t);
				}
				thread_poll(t, 0, 0);
				if (thread_is_exited(t))
					reactor_remove_thread(r, t);
				else
					left = true;
			}
		}
	}
	thread_set_current(NULL);
	for (core = 0; core < ENV_MAX_CORES; core++) {
		r = g_reactors[core];
		if (r == NULL)
			continue;
		TAILQ_FOREACH(t, &r->threads, reactor_link)
			LOG_ERR("reactor %u: thread %s did not exit", core, t->name);
		if (TAILQ_EMPTY(&r->threads))
			reactor_free(r);
		g_reactors[core] = NULL;
	}
	if (g_own_thread_lib && !left)
		thread_lib_fini();
	else
		thread_lib_set_schedule(NULL);
	g_own_thread_lib = false;
	g_reactors_initialized = false;
}

int
reactor_get_info(uint32_t lcore, struct reactor_info *info)
{
	struct reactor *r;

	if (lcore >= ENV_MAX_CORES || (r = g_reactors[lcore]) == NULL)
		return -ENODEV;
	info->lcore = lcore;
	info->tid = atomic_load_explicit(&r->tid, memory_order_relaxed);
	info->busy_tsc = atomic_load_explicit(&r->busy_tsc, memory_order_relaxed);
	info->idle_tsc = atomic_load_explicit(&r->idle_tsc, memory_order_relaxed);
	info->sleep_count = atomic_load_explicit(&r->sleep_count, memory_order_relaxed);
	info->in_interrupt = atomic_load_explicit(&r->in_interrupt, memory_order_relaxed);
	/* Count the sleep in progress too, or a reactor asleep for an hour looks busy. */
	if (info->in_interrupt) {
		uint64_t start = atomic_load_explicit(&r->sleep_start, memory_order_relaxed);
		uint64_t now = env_get_ticks();

		if (now > start)
			info->idle_tsc += now - start;
	}
	return 0;
}

uint32_t
thread_get_lcore(const struct thread *t)
{
	return t->lcore;
}

uint64_t
thread_get_elapsed(const struct thread *t)
{
	if (t->placed_tsc == 0)
		return 0;
	return env_get_ticks() - t->placed_tsc;
}
