/*
 * Private to lib/thread: the objects behind the opaque handles of
 * lvstor/thread.h, shared by thread.c (threads, messages, the loop body),
 * poller.c, fd.c, io_channel.c and reactor.c.
 *
 * Which OS thread may touch which field is the whole game here, so each
 * struct groups its fields by who reads them:
 *  - "sender side" fields are read by any OS thread (thread_send_msg) and
 *    are either immutable after creation or atomics;
 *  - "owner side" fields are touched only by the OS thread that is running
 *    the light-weight thread right now (its reactor, or the test).
 * The two groups sit on different cache lines so that a reactor updating
 * its statistics does not bounce the line that senders read.
 */
#ifndef LVSTOR_THREAD_INTERNAL_H
#define LVSTOR_THREAD_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lvstor/thread.h"

#define THREAD_NAME_MAX 64
#define POLLER_NAME_MAX 64

/*
 * A message. Pooled ones come from the library's message pool
 * (thread_send_msg); embedded ones live inside a longer-lived object (an
 * iteration, a channel) so that internal bookkeeping can never fail for
 * lack of pool elements. The receiver copies fn/ctx out before calling fn,
 * so fn may re-send the very same embedded message.
 */
struct thread_msg {
	thread_msg_fn fn;
	void *ctx;
	bool pooled;
};

enum thread_state {
	THREAD_STATE_RUNNING,
	THREAD_STATE_EXITING,	/* thread_exit() called; draining */
	THREAD_STATE_EXITED,	/* nothing left; may be destroyed */
};

enum poller_state {
	POLLER_STATE_WAITING,	/* runs when due (every iteration if active) */
	POLLER_STATE_PAUSED,
	POLLER_STATE_UNREGISTERED,	/* zombie: freed after the current walk */
};

struct poller {
	TAILQ_ENTRY(poller) link;
	struct thread *thread;
	poller_fn fn;
	void *arg;
	uint64_t period_ticks;	/* 0: active poller */
	uint64_t next_run;	/* timed pollers: thread clock tick when due */
	enum poller_state state;
	char name[POLLER_NAME_MAX];
};

struct fd_handler {
	TAILQ_ENTRY(fd_handler) link;
	struct thread *thread;
	int fd;
	uint32_t events;
	fd_fn fn;
	void *ctx;
	bool unregistered;	/* zombie: freed after the current iteration */
	char name[POLLER_NAME_MAX];
};

TAILQ_HEAD(poller_list, poller);
TAILQ_HEAD(fd_handler_list, fd_handler);
TAILQ_HEAD(io_channel_list, io_channel);

struct thread {
	/* ---- sender side: immutable after creation, or atomic ---- */
	struct env_ring *ring;		/* MP/SC ring of struct thread_msg * */
	int efd;			/* message eventfd, written only if sleeping */
	_Atomic int state;		/* enum thread_state; written by owner */
	_Atomic bool sleeping;		/* owner is (about to be) in epoll_wait */
	uint64_t id;
	char name[THREAD_NAME_MAX];
	struct cpuset cpumask;

	/* ---- owner side ---- */
	_Alignas(64) struct poller_list pollers;	/* registration order */
	uint32_t n_active;		/* live pollers by kind */
	uint32_t n_timed;
	uint32_t n_paused;
	bool pollers_dirty;		/* zombies to sweep */

	struct fd_handler_list fds;
	uint32_t n_fds;
	bool fds_dirty;
	uint32_t fd_poll_interval;	/* check fds every N iterations */
	uint32_t fd_poll_countdown;
	bool fd_check_now;		/* just woke up: check fds at once */

	int epfd;			/* efd + tfd + registered fds */
	int tfd;			/* timerfd for the next timed poller */
	bool timer_armed;

	struct io_channel_list channels;
	uint32_t pending_ops;		/* iterations/unregisters started here */
	bool in_poll;
	struct thread_stats stats;
	void *ctx;

	/* ---- reactor.c's fields (touched by the owning reactor) ---- */
	TAILQ_ENTRY(thread) reactor_link;
	uint32_t lcore;			/* UINT32_MAX until placed */
	uint64_t placed_tsc;

	/* ---- global thread list, under g_threads_lock ---- */
	TAILQ_ENTRY(thread) link;
};

/* thread.c */
bool thread_lib_is_initialized(void);
void thread_lib_set_schedule(thread_schedule_fn schedule);
int thread_send_msg_embedded(struct thread *thread, struct thread_msg *msg);
/*
 * Sends `msg` to the first thread after `cur` in creation order (the first
 * thread when cur is NULL) that accepts it, holding the thread-list lock so
 * that the target cannot be destroyed under the send. Returns that thread,
 * or NULL when none is left.
 */
struct thread *thread_send_to_next(struct thread *cur, struct thread_msg *msg);
uint64_t thread_us_to_ticks(uint64_t us);
/* The thread's own eventfd/timerfd showed up in its epoll set (fd.c). */
bool thread_is_own_fd_tag(const void *tag);
void thread_drain_own_fd(struct thread *thread, void *tag);

/* poller.c */
int pollers_run(struct thread *thread, uint64_t now);
void pollers_sweep(struct thread *thread);
void pollers_free_all(struct thread *thread);

/* fd.c */
int fds_poll(struct thread *thread);
void fds_sweep(struct thread *thread);
void fds_free_all(struct thread *thread);

/* io_channel.c: forgets devices left registered (logged) */
void io_devices_fini(void);

/* adaptive.c: the sleep policy used by reactor.c */
struct adaptive_state {
	uint64_t last_busy;	/* tick of the last iteration that did work */
};
void adaptive_init(struct adaptive_state *state, uint64_t now);
bool adaptive_should_sleep(struct adaptive_state *state, bool busy, uint64_t now);
bool adaptive_sleep_worthwhile(uint64_t ticks_until_timer);
void adaptive_sleep_refused(struct adaptive_state *state, uint64_t now);

#endif
