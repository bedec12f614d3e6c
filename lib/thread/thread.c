/*
 * Light-weight threads and their messages.
 *
 * A thread is a bag of work (pollers, fd handlers, io_channels) plus a
 * message ring. It never runs by itself: whoever owns it -- a reactor, or
 * a unit test through the harness -- calls thread_poll() on it, one OS
 * thread at a time. That single-runner rule is what lets everything below
 * go without locks.
 *
 * Invariants:
 *  - Owner-side fields of a thread (pollers, fds, channels, stats) are
 *    touched only inside thread_poll() of that thread or by code that made
 *    it current with thread_set_current(). Never from a second OS thread.
 *  - The message ring is the only way in from outside: any OS thread may
 *    enqueue, only the runner dequeues. Messages for one thread run in ring
 *    order, so messages from one sender run in the order sent.
 *  - thread_send_msg() touches the pool, the ring, one fence and one
 *    relaxed load. It writes the eventfd only when the target announced a
 *    sleep; a spinning target costs the sender no system call.
 *  - State moves RUNNING -> EXITING -> EXITED and never back. EXITED is
 *    entered only at the end of a thread_poll() that finds no live poller,
 *    no fd handler, no channel, no pending operation (iteration, device
 *    unregister) and an empty ring. An EXITED thread refuses messages
 *    with -EIO and may be destroyed.
 *  - A sender must know that its target is neither destroyed nor about to
 *    exit while it sends (the same rule as for any pointer): a message that
 *    lands after the exit check is dropped, with a warning, by
 *    thread_destroy(). Internal walks (for_each, for_each_channel) send
 *    under the thread-list lock, which both the EXITED transition and
 *    thread_destroy()'s unlinking also take, so a walk never loses a step.
 *
 * No lost wake-up. A thread about to sleep stores sleeping = true, issues a
 * seq_cst fence and then looks at its ring; a sender enqueues, issues a
 * seq_cst fence and then reads sleeping. With both fences, at least one of
 * the two sees the other's store: either the sleeper finds the message and
 * does not sleep, or the sender finds the flag and writes the eventfd,
 * which the sleeper's epoll set contains. A stale eventfd count costs one
 * spurious wake-up, never a lost one.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "thread_internal.h"

/*
 * Messages in flight across all threads by default. 32 Ki messages of 24
 * bytes is under 1 MiB; a burst larger than that means some thread is not
 * draining its ring, and -ENOMEM pushes back on the senders.
 */
#define MSG_POOL_DEFAULT 32767
/*
 * Each ring holds the whole pool plus room for embedded messages (channel
 * destroys, iteration steps), so an embedded send never finds it full.
 */
#define MSG_RING_HEADROOM 4096
/*
 * Messages run per thread_poll() by default: enough to amortise the ring
 * access, few enough that pollers on the same thread are not starved by a
 * flood of messages.
 */
#define MSG_BATCH 64

static pthread_mutex_t g_threads_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, thread) g_threads = TAILQ_HEAD_INITIALIZER(g_threads);
static size_t g_thread_count;
static uint64_t g_next_thread_id;
static struct thread *g_app_thread;

static bool g_initialized;
static thread_schedule_fn g_schedule;
static struct env_pool *g_msg_pool;
static size_t g_ring_size;

static thread_clock_fn g_clock = env_get_ticks;
static uint64_t g_clock_hz;

static __thread struct thread *tls_current;

/* Tags for the epoll data of a thread's own fds (handlers use their pointer). */
static char g_tag_msg;
static char g_tag_timer;

/* ---- library ------------------------------------------------------------ */

int
thread_lib_init(thread_schedule_fn schedule, size_t msg_pool_size)
{
	if (g_initialized) {
		LOG_ERR("thread library already initialised");
		return -EALREADY;
	}
	if (msg_pool_size == 0)
		msg_pool_size = MSG_POOL_DEFAULT;
	g_msg_pool = env_pool_create("thread_msg", msg_pool_size, sizeof(struct thread_msg),
				     ENV_POOL_DEFAULT_CACHE);
	if (g_msg_pool == NULL) {
		LOG_ERR("cannot create the message pool (%zu messages)", msg_pool_size);
		return -ENOMEM;
	}
	g_ring_size = msg_pool_size + MSG_RING_HEADROOM;
	g_schedule = schedule;
	g_clock = env_get_ticks;
	g_clock_hz = env_get_ticks_hz();
	g_next_thread_id = 0;
	g_initialized = true;
	return 0;
}

void
thread_lib_fini(void)
{
	if (!g_initialized)
		return;
	pthread_mutex_lock(&g_threads_lock);
	if (!TAILQ_EMPTY(&g_threads))
		LOG_ERR("thread_lib_fini with %zu threads alive", g_thread_count);
	pthread_mutex_unlock(&g_threads_lock);
	io_devices_fini();
	env_pool_free(g_msg_pool);
	g_msg_pool = NULL;
	g_schedule = NULL;
	g_clock = env_get_ticks;
	g_clock_hz = env_get_ticks_hz();
	g_initialized = false;
}

bool
thread_lib_is_initialized(void)
{
	return g_initialized;
}

void
thread_lib_set_schedule(thread_schedule_fn schedule)
{
	g_schedule = schedule;
}

void
thread_set_clock(thread_clock_fn now, uint64_t ticks_hz)
{
	if (now == NULL || ticks_hz == 0) {
		g_clock = env_get_ticks;
		g_clock_hz = env_get_ticks_hz();
		return;
	}
	g_clock = now;
	g_clock_hz = ticks_hz;
}

uint64_t
thread_get_ticks(void)
{
	return g_clock();
}

uint64_t
thread_get_ticks_hz(void)
{
	if (g_clock_hz == 0)
		g_clock_hz = env_get_ticks_hz();
	return g_clock_hz;
}

uint64_t
thread_us_to_ticks(uint64_t us)
{
	uint64_t hz = thread_get_ticks_hz();

	return (us / 1000000) * hz + (us % 1000000) * hz / 1000000;
}

/* ---- threads ------------------------------------------------------------ */

static int
epoll_add(int epfd, int fd, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ptr };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void
thread_free(struct thread *t)
{
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->efd >= 0)
		close(t->efd);
	if (t->tfd >= 0)
		close(t->tfd);
	if (t->ring != NULL)
		env_ring_free(t->ring);
	free(t);
}

struct thread *
thread_create(const char *name, const struct cpuset *cpumask)
{
	struct thread *t;
	uint32_t core;

	if (!g_initialized) {
		LOG_ERR("thread_create before thread_lib_init");
		return NULL;
	}
	t = aligned_alloc(64, (sizeof(*t) + 63) & ~(size_t)63);
	if (t == NULL)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->efd = t->tfd = t->epfd = -1;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "thread");
	if (cpumask != NULL) {
		t->cpumask = *cpumask;
	} else {
		cpuset_zero(&t->cpumask);
		ENV_FOREACH_CORE(core)
			cpuset_set(&t->cpumask, core, true);
	}
	TAILQ_INIT(&t->pollers);
	TAILQ_INIT(&t->fds);
	TAILQ_INIT(&t->channels);
	t->fd_poll_interval = 1;
	t->fd_poll_countdown = 1;
	t->lcore = UINT32_MAX;
	atomic_init(&t->state, THREAD_STATE_RUNNING);
	atomic_init(&t->sleeping, false);

	t->ring = env_ring_create(ENV_RING_MP_SC, g_ring_size);
	if (t->ring == NULL)
		goto err;
	t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->efd < 0 || t->tfd < 0 || t->epfd < 0)
		goto err;
	if (epoll_add(t->epfd, t->efd, &g_tag_msg) != 0 ||
	    epoll_add(t->epfd, t->tfd, &g_tag_timer) != 0)
		goto err;

	pthread_mutex_lock(&g_threads_lock);
	t->id = ++g_next_thread_id;
	TAILQ_INSERT_TAIL(&g_threads, t, link);
	g_thread_count++;
	if (g_app_thread == NULL)
		g_app_thread = t;
	pthread_mutex_unlock(&g_threads_lock);

	if (g_schedule != NULL && g_schedule(t) != 0) {
		LOG_ERR("thread %s: no reactor will take it", t->name);
		pthread_mutex_lock(&g_threads_lock);
		TAILQ_REMOVE(&g_threads, t, link);
		g_thread_count--;
		if (g_app_thread == t)
			g_app_thread = NULL;
		pthread_mutex_unlock(&g_threads_lock);
		thread_free(t);
		return NULL;
	}
	return t;
err:
	LOG_ERR("thread %s: cannot create its ring or fds", t->name);
	thread_free(t);
	return NULL;
}

void
thread_exit(struct thread *t)
{
	assert(t == tls_current);
	if (atomic_load_explicit(&t->state, memory_order_relaxed) == THREAD_STATE_RUNNING)
		atomic_store_explicit(&t->state, THREAD_STATE_EXITING, memory_order_relaxed);
}

bool
thread_is_exited(const struct thread *t)
{
	return atomic_load_explicit(&((struct thread *)t)->state, memory_order_acquire) ==
	       THREAD_STATE_EXITED;
}

bool
thread_is_running(const struct thread *t)
{
	return atomic_load_explicit(&((struct thread *)t)->state, memory_order_relaxed) ==
	       THREAD_STATE_RUNNING;
}

static void
thread_check_exited(struct thread *t)
{
	if (t->n_active + t->n_timed + t->n_paused > 0 || t->n_fds > 0)
		return;
	if (!TAILQ_EMPTY(&t->channels) || t->pending_ops > 0)
		return;
	if (env_ring_count(t->ring) > 0)
		return;
	/*
	 * Internal walks send under g_threads_lock after checking the state;
	 * taking it here too means no walk step can land in the ring between
	 * the last look at it and the EXITED store (it would be stranded and
	 * the walk would never complete). Only exiting threads get here.
	 */
	pthread_mutex_lock(&g_threads_lock);
	if (env_ring_count(t->ring) == 0)
		atomic_store_explicit(&t->state, THREAD_STATE_EXITED, memory_order_release);
	pthread_mutex_unlock(&g_threads_lock);
}

void
thread_destroy(struct thread *t)
{
	void *objs[MSG_BATCH];
	size_t n, i, stranded = 0;

	if (t == NULL)
		return;
	assert(thread_is_exited(t));
	pthread_mutex_lock(&g_threads_lock);
	TAILQ_REMOVE(&g_threads, t, link);
	g_thread_count--;
	if (g_app_thread == t)
		g_app_thread = NULL;
	pthread_mutex_unlock(&g_threads_lock);

	/* A sender that raced with the exit: give the elements back. */
	while ((n = env_ring_dequeue(t->ring, objs, MSG_BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			struct thread_msg *m = objs[i];

			if (m->pooled)
				env_pool_put(g_msg_pool, m);
		}
		stranded += n;
	}
	if (stranded > 0)
		LOG_WARN("thread %s: dropped %zu messages sent after it exited", t->name, stranded);
	pollers_free_all(t);
	fds_free_all(t);
	if (tls_current == t)
		tls_current = NULL;
	thread_free(t);
}

struct thread *
thread_get_current(void)
{
	return tls_current;
}

void
thread_set_current(struct thread *t)
{
	tls_current = t;
}

struct thread *
thread_get_app_thread(void)
{
	return g_app_thread;
}

struct thread *
thread_get_by_id(uint64_t id)
{
	struct thread *t;

	pthread_mutex_lock(&g_threads_lock);
	TAILQ_FOREACH(t, &g_threads, link) {
		if (t->id == id)
			break;
	}
	pthread_mutex_unlock(&g_threads_lock);
	return t;
}

const char *
thread_get_name(const struct thread *t)
{
	return t->name;
}

uint64_t
thread_get_id(const struct thread *t)
{
	return t->id;
}

const struct cpuset *
thread_get_cpumask(const struct thread *t)
{
	return &t->cpumask;
}

void *
thread_get_ctx(struct thread *t)
{
	return t->ctx;
}

void
thread_set_ctx(struct thread *t, void *ctx)
{
	t->ctx = ctx;
}

struct thread *
thread_get_first(void)
{
	return TAILQ_FIRST(&g_threads);
}

struct thread *
thread_get_next(struct thread *prev)
{
	return TAILQ_NEXT(prev, link);
}

size_t
thread_count(void)
{
	size_t n;

	pthread_mutex_lock(&g_threads_lock);
	n = g_thread_count;
	pthread_mutex_unlock(&g_threads_lock);
	return n;
}

void
thread_get_stats(const struct thread *t, struct thread_stats *stats)
{
	*stats = t->stats;
}

void
thread_get_poller_counts(const struct thread *t, uint64_t *active, uint64_t *timed,
			 uint64_t *paused)
{
	if (active)
		*active = t->n_active;
	if (timed)
		*timed = t->n_timed;
	if (paused)
		*paused = t->n_paused;
}

/* ---- the loop body ------------------------------------------------------ */

static uint32_t
msgs_run(struct thread *t, uint32_t max)
{
	void *objs[MSG_BATCH];
	uint32_t done = 0;

	while (done < max) {
		size_t want = max - done < MSG_BATCH ? max - done : MSG_BATCH;
		size_t n = env_ring_dequeue(t->ring, objs, want);
		size_t i;

		for (i = 0; i < n; i++) {
			struct thread_msg *m = objs[i];
			thread_msg_fn fn = m->fn;
			void *ctx = m->ctx;

			/* Give the element back first: fn may send again. */
			if (m->pooled)
				env_pool_put(g_msg_pool, m);
			fn(ctx);
		}
		done += n;
		if (n < want)
			break;
	}
	return done;
}

int
thread_poll(struct thread *t, uint32_t max_msgs, uint64_t now)
{
	struct thread *prev = tls_current;
	uint64_t end;
	int busy = 0;

	assert(!t->in_poll);
	if (now == 0)
		now = thread_get_ticks();
	tls_current = t;
	t->in_poll = true;

	if (msgs_run(t, max_msgs ? max_msgs : MSG_BATCH) > 0)
		busy = 1;
	if (!TAILQ_EMPTY(&t->pollers) && pollers_run(t, now) > 0)
		busy = 1;
	if ((t->n_fds > 0 || t->fd_check_now) && fds_poll(t) > 0)
		busy = 1;

	t->in_poll = false;
	if (t->pollers_dirty)
		pollers_sweep(t);
	if (t->fds_dirty)
		fds_sweep(t);

	end = thread_get_ticks();
	if (end > now) {
		if (busy)
			t->stats.busy_tsc += end - now;
		else
			t->stats.idle_tsc += end - now;
	}
	if (atomic_load_explicit(&t->state, memory_order_relaxed) == THREAD_STATE_EXITING)
		thread_check_exited(t);
	tls_current = prev;
	return busy;
}

uint64_t
thread_next_poller_expiration(const struct thread *t)
{
	const struct poller *p;
	uint64_t now, next = UINT64_MAX;

	if (t->n_timed == 0)
		return UINT64_MAX;
	now = thread_get_ticks();
	TAILQ_FOREACH(p, &t->pollers, link) {
		if (p->state != POLLER_STATE_WAITING || p->period_ticks == 0)
			continue;
		if (p->next_run <= now)
			return 0;
		if (p->next_run - now < next)
			next = p->next_run - now;
	}
	return next;
}

bool
thread_has_active_pollers(const struct thread *t)
{
	return t->n_active > 0;
}

bool
thread_has_pending_msgs(const struct thread *t)
{
	return env_ring_count(t->ring) > 0;
}

/* ---- sleeping ----------------------------------------------------------- */

int
thread_get_interrupt_fd(const struct thread *t)
{
	return t->epfd;
}

static int
timer_arm(struct thread *t, uint64_t ticks)
{
	struct itimerspec its = { 0 };
	unsigned __int128 ns;

	if (ticks == UINT64_MAX) {
		if (!t->timer_armed)
			return 0;
		t->timer_armed = false;
	} else {
		/* Rounded up: waking a little late beats waking just too early. */
		ns = ((unsigned __int128)ticks * 1000000000u + thread_get_ticks_hz() - 1) /
		     thread_get_ticks_hz();
		if (ns == 0)
			ns = 1;
		if (ns > (unsigned __int128)INT64_MAX)
			ns = INT64_MAX;
		its.it_value.tv_sec = (time_t)(ns / 1000000000u);
		its.it_value.tv_nsec = (long)(ns % 1000000000u);
		t->timer_armed = true;
	}
	/* Setting the timer also clears an expiry count left from last time. */
	return timerfd_settime(t->tfd, 0, &its, NULL);
}

bool
thread_prepare_sleep(struct thread *t)
{
	uint64_t next;

	if (t->n_active > 0)
		return false;
	atomic_store_explicit(&t->sleeping, true, memory_order_relaxed);
	/* Pairs with the fence in thread_kick(); see the comment at the top. */
	atomic_thread_fence(memory_order_seq_cst);
	if (env_ring_count(t->ring) > 0)
		goto cancel;
	next = thread_next_poller_expiration(t);
	if (next == 0)
		goto cancel;
	if (timer_arm(t, next) != 0) {
		LOG_ERR("thread %s: timerfd_settime: %s", t->name, strerror(errno));
		goto cancel;
	}
	return true;
cancel:
	atomic_store_explicit(&t->sleeping, false, memory_order_relaxed);
	return false;
}

void
thread_finish_sleep(struct thread *t)
{
	atomic_store_explicit(&t->sleeping, false, memory_order_relaxed);
	/* The wake-up may have come from a registered fd; look at once. */
	t->fd_check_now = true;
}

void
thread_drain_own_fd(struct thread *t, void *tag)
{
	uint64_t v;
	ssize_t rc;

	rc = read(tag == &g_tag_msg ? t->efd : t->tfd, &v, sizeof(v));
	(void)rc;	/* EAGAIN: someone else drained it; nothing to do */
}

bool
thread_is_own_fd_tag(const void *tag)
{
	return tag == &g_tag_msg || tag == &g_tag_timer;
}

/* ---- messages ----------------------------------------------------------- */

static inline void
thread_kick(struct thread *t)
{
	uint64_t one = 1;
	ssize_t rc;

	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&t->sleeping, memory_order_relaxed)) {
		rc = write(t->efd, &one, sizeof(one));
		(void)rc;	/* EAGAIN only when the counter is full: still readable */
	}
}

int
thread_send_msg(const struct thread *thread, thread_msg_fn fn, void *ctx)
{
	struct thread *t = (struct thread *)thread;
	struct thread_msg *m;

	assert(fn != NULL);
	if (atomic_load_explicit(&t->state, memory_order_relaxed) == THREAD_STATE_EXITED)
		return -EIO;
	m = env_pool_get(g_msg_pool);
	if (m == NULL)
		return -ENOMEM;
	m->fn = fn;
	m->ctx = ctx;
	m->pooled = true;
	if (env_ring_enqueue(t->ring, (void **)&m, 1) != 1) {
		env_pool_put(g_msg_pool, m);
		return -ENOMEM;
	}
	thread_kick(t);
	return 0;
}

int
thread_send_msg_embedded(struct thread *t, struct thread_msg *msg)
{
	if (atomic_load_explicit(&t->state, memory_order_relaxed) == THREAD_STATE_EXITED)
		return -EIO;
	msg->pooled = false;
	if (env_ring_enqueue(t->ring, (void **)&msg, 1) != 1) {
		/* Cannot happen: the ring holds the pool plus headroom. */
		LOG_ERR("thread %s: message ring full", t->name);
		assert(false);
		return -ENOMEM;
	}
	thread_kick(t);
	return 0;
}

struct thread *
thread_send_to_next(struct thread *cur, struct thread_msg *msg)
{
	struct thread *t;

	pthread_mutex_lock(&g_threads_lock);
	t = cur ? TAILQ_NEXT(cur, link) : TAILQ_FIRST(&g_threads);
	while (t != NULL && thread_send_msg_embedded(t, msg) != 0)
		t = TAILQ_NEXT(t, link);
	pthread_mutex_unlock(&g_threads_lock);
	return t;
}

/* ---- thread_for_each ---------------------------------------------------- */

struct for_each_thread {
	thread_msg_fn fn;
	thread_msg_fn cpl;
	void *ctx;
	struct thread *orig;
	struct thread_msg msg;
};

static void
for_each_thread_done(void *arg)
{
	struct for_each_thread *it = arg;

	assert(it->orig == tls_current);
	it->orig->pending_ops--;
	if (it->cpl)
		it->cpl(it->ctx);
	free(it);
}

static void
for_each_thread_step(void *arg)
{
	struct for_each_thread *it = arg;

	it->fn(it->ctx);
	it->msg.fn = for_each_thread_step;
	if (thread_send_to_next(tls_current, &it->msg) != NULL)
		return;	/* `it` now belongs to the next thread */
	it->msg.fn = for_each_thread_done;
	if (thread_send_msg_embedded(it->orig, &it->msg) != 0)
		LOG_ERR("thread_for_each: originating thread is gone");
}

void
thread_for_each(thread_msg_fn fn, void *ctx, thread_msg_fn cpl)
{
	struct thread *orig = tls_current;
	struct for_each_thread *it;

	assert(orig != NULL);
	it = calloc(1, sizeof(*it));
	if (it == NULL) {
		LOG_ERR("thread_for_each: out of memory; not run");
		assert(false);
		return;
	}
	it->fn = fn;
	it->cpl = cpl;
	it->ctx = ctx;
	it->orig = orig;
	it->msg.ctx = it;
	it->msg.fn = for_each_thread_step;
	/* Keeps orig from exiting before the completion comes back. */
	orig->pending_ops++;
	if (thread_send_to_next(NULL, &it->msg) == NULL) {
		it->msg.fn = for_each_thread_done;
		thread_send_msg_embedded(orig, &it->msg);
	}
}
