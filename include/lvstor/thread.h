/*
 * lib/thread: light-weight threads, pollers, messages, io_devices and
 * io_channels, and the reactors that run them.
 *
 * The contract (doc/architecture/reactor.md says it at length):
 *  - Every object belongs to the thread that created it. Another thread
 *    reaches it only with thread_send_msg(): a function and an argument on
 *    the target's lock-free many-producer/one-consumer ring.
 *  - A light-weight thread runs on one reactor at a time; a reactor is one
 *    pinned OS thread per core of the application's core mask.
 *  - Callbacks never run before the function that started the operation
 *    returns, and always run on the caller's thread.
 *  - An io_channel is per (io_device, thread); it is used only on its own
 *    thread and is destroyed when its last reference is put.
 *
 * Without reactors (unit tests, tools) threads are stepped by hand with
 * thread_poll(); test/unit/common/ut_threads.h wraps that in a
 * deterministic harness with virtual time.
 */
#ifndef LVSTOR_THREAD_H
#define LVSTOR_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvstor/cpuset.h"

struct thread;
struct poller;
struct io_channel;
struct fd_handler;

typedef void (*thread_msg_fn)(void *ctx);

/* A poller returns POLLER_BUSY when it did work, POLLER_IDLE when not. */
#define POLLER_IDLE 0
#define POLLER_BUSY 1
typedef int (*poller_fn)(void *ctx);

/* ---- library set-up ---------------------------------------------------- */

/*
 * Hook through which new threads are placed on reactors. lib/thread's
 * reactor.c installs one in reactors_init(); with no hook (tests) new
 * threads are not scheduled and must be stepped with thread_poll().
 */
typedef int (*thread_schedule_fn)(struct thread *thread);

/*
 * Initialises the thread library. `msg_pool_size` bounds the messages in
 * flight across all threads (0 = default). Returns 0 or -ENOMEM.
 */
int thread_lib_init(thread_schedule_fn schedule, size_t msg_pool_size);
/* Frees library state; every thread must have been destroyed. */
void thread_lib_fini(void);

/*
 * Clock used for timed pollers, in ticks (default: env_get_ticks and
 * env_get_ticks_hz). The unit-test harness replaces it with virtual time.
 */
typedef uint64_t (*thread_clock_fn)(void);
void thread_set_clock(thread_clock_fn now, uint64_t ticks_hz);
uint64_t thread_get_ticks(void);
uint64_t thread_get_ticks_hz(void);

/* ---- threads ----------------------------------------------------------- */

/*
 * Creates a light-weight thread named `name` (copied) that may run on the
 * cores of `cpumask` (NULL = any core of the application). The first
 * thread created is the application thread. Returns NULL on -ENOMEM or when
 * the schedule hook refuses it.
 */
struct thread *thread_create(const char *name, const struct cpuset *cpumask);

/*
 * Asks the current thread to exit: it stops taking new pollers and,
 * once its pollers are unregistered, its channels put and its message ring
 * drained, it is exited. Must be called on the thread itself.
 */
void thread_exit(struct thread *thread);
bool thread_is_exited(const struct thread *thread);
bool thread_is_running(const struct thread *thread);
/* Frees an exited thread (called by the reactor or the test harness). */
void thread_destroy(struct thread *thread);

/* The thread whose code is running now on this OS thread, or NULL. */
struct thread *thread_get_current(void);
/* Makes `thread` current on this OS thread (reactors and the test harness). */
void thread_set_current(struct thread *thread);
struct thread *thread_get_app_thread(void);
struct thread *thread_get_by_id(uint64_t id);
const char *thread_get_name(const struct thread *thread);
uint64_t thread_get_id(const struct thread *thread);
const struct cpuset *thread_get_cpumask(const struct thread *thread);
void *thread_get_ctx(struct thread *thread);      /* reactor's private slot */
void thread_set_ctx(struct thread *thread, void *ctx);

/* Iterate every live thread (not thread-safe: app thread or tests only). */
struct thread *thread_get_first(void);
struct thread *thread_get_next(struct thread *prev);
size_t thread_count(void);

struct thread_stats {
	uint64_t busy_tsc;	/* ticks in iterations that did work */
	uint64_t idle_tsc;	/* ticks in iterations that did none */
};
void thread_get_stats(const struct thread *thread, struct thread_stats *stats);
void thread_get_poller_counts(const struct thread *thread, uint64_t *active,
			      uint64_t *timed, uint64_t *paused);

/*
 * Runs one iteration of `thread` on the calling OS thread: up to `max_msgs`
 * messages (0 = a default batch), every due active and timed poller, and
 * any ready registered fds. `now` is the current tick (0 = read the clock).
 * Returns > 0 if anything did work, 0 if idle.
 */
int thread_poll(struct thread *thread, uint32_t max_msgs, uint64_t now);

/* Ticks until this thread's next timed poller is due, UINT64_MAX if none. */
uint64_t thread_next_poller_expiration(const struct thread *thread);
/* True if the thread has active (non-timed) pollers: it cannot sleep. */
bool thread_has_active_pollers(const struct thread *thread);
/* Messages waiting on the thread's ring. */
bool thread_has_pending_msgs(const struct thread *thread);

/*
 * Interrupt support for sleeping reactors. Each thread owns an epoll fd
 * that becomes readable when it has something to do: a message (its
 * eventfd), a due timed poller (its timerfd) or a registered fd.
 * thread_prepare_sleep() arms the timer and announces the sleep to
 * senders; it returns false (and cancels the sleep) if work arrived in the
 * meantime. thread_finish_sleep() ends it.
 */
int thread_get_interrupt_fd(const struct thread *thread);
bool thread_prepare_sleep(struct thread *thread);
void thread_finish_sleep(struct thread *thread);

/* ---- messages ---------------------------------------------------------- */

/*
 * Runs fn(ctx) on `thread`, later. Any OS thread may call it (lock-free).
 * Returns 0, -EIO if the thread has exited, or -ENOMEM if the message pool
 * is exhausted (the caller retries later; nothing was queued).
 */
int thread_send_msg(const struct thread *thread, thread_msg_fn fn, void *ctx);

/*
 * Runs fn(ctx) once on every thread, one after another, then cpl(ctx) on
 * the calling thread.
 */
void thread_for_each(thread_msg_fn fn, void *ctx, thread_msg_fn cpl);

/* ---- pollers ----------------------------------------------------------- */

/*
 * Registers fn(arg) on the current thread: called every iteration when
 * period_us is 0 (active poller), otherwise every period_us of the
 * thread's clock (timed poller). Pollers run in registration order. Returns
 * NULL on -ENOMEM or when there is no current thread.
 */
struct poller *poller_register(poller_fn fn, void *arg, uint64_t period_us,
			       const char *name);
/*
 * Unregisters *ppoller and sets it to NULL. Safe from inside the poller
 * itself and from other callbacks on its thread; fn is not called again.
 */
void poller_unregister(struct poller **ppoller);
/* Stops / restarts calling a poller; safe from inside it. */
void poller_pause(struct poller *poller);
void poller_resume(struct poller *poller);
const char *poller_get_name(const struct poller *poller);

/* ---- file descriptors -------------------------------------------------- */

#define FD_EVENT_IN  0x1u
#define FD_EVENT_OUT 0x4u
#define FD_EVENT_ERR 0x8u
#define FD_EVENT_HUP 0x10u
typedef int (*fd_fn)(void *ctx, uint32_t events);

/*
 * Watches `fd` (level-triggered) on the current thread and calls
 * fn(ctx, events) from the thread's loop when it is ready. A sleeping
 * reactor wakes for it. Returns NULL on failure (errno set).
 */
struct fd_handler *thread_fd_register(int fd, uint32_t events, fd_fn fn, void *ctx,
				      const char *name);
int thread_fd_set_events(struct fd_handler *handler, uint32_t events);
/* Stops watching; safe from inside fn. Does not close the fd. */
void thread_fd_unregister(struct fd_handler **phandler);

/* ---- io_devices and io_channels --------------------------------------- */

typedef int (*io_channel_create_cb)(void *io_device, void *ctx_buf);
typedef void (*io_channel_destroy_cb)(void *io_device, void *ctx_buf);
typedef void (*io_device_unregister_cb)(void *io_device);

/*
 * Registers `io_device` (any unique pointer). Each thread that asks for it
 * gets its own io_channel with a ctx_size context set up by create_cb on
 * that thread. Registering the same pointer twice is a programmer error.
 */
void io_device_register(void *io_device, io_channel_create_cb create_cb,
			io_channel_destroy_cb destroy_cb, size_t ctx_size, const char *name);

/*
 * Unregisters io_device. Channels that still exist keep working until put;
 * unregister_cb(io_device) runs on the calling thread once the last one is
 * gone (and after any for_each_channel in progress finishes).
 */
void io_device_unregister(void *io_device, io_device_unregister_cb unregister_cb);

/*
 * The current thread's channel for io_device: created on first use (create_cb
 * runs now, on this thread), reference-counted after that. NULL if the
 * device is unknown or being unregistered, or create_cb failed.
 */
struct io_channel *io_channel_get(void *io_device);
/* Drops a reference; the channel is destroyed (later, by message) on the last. */
void io_channel_put(struct io_channel *ch);
/*
 * A channel's context (the ctx_size bytes given at io_device_register) sits
 * at a fixed offset from the channel: these two are on every layer's I/O
 * path, so they are inline. (io_channel.c checks the offset at compile time.)
 */
#define IO_CHANNEL_CTX_OFFSET 64
static inline void *
io_channel_get_ctx(struct io_channel *ch)
{
	return (unsigned char *)ch + IO_CHANNEL_CTX_OFFSET;
}

static inline struct io_channel *
io_channel_from_ctx(void *ctx)
{
	return (struct io_channel *)((unsigned char *)ctx - IO_CHANNEL_CTX_OFFSET);
}

struct thread *io_channel_get_thread(struct io_channel *ch);
void *io_channel_get_io_device(struct io_channel *ch);

/*
 * Visits every channel of io_device, one thread at a time: on each
 * channel's thread fn(iter) runs and must call
 * io_channel_iter_continue(iter, status) (then or later). A non-zero status
 * stops the walk. Then cpl(iter, status) runs on the calling thread.
 * Channels created or destroyed during the walk are handled safely.
 */
struct io_channel_iter;
typedef void (*channel_msg_fn)(struct io_channel_iter *iter);
typedef void (*channel_for_each_cpl)(struct io_channel_iter *iter, int status);
void io_device_for_each_channel(void *io_device, channel_msg_fn fn, void *ctx,
				channel_for_each_cpl cpl);
void io_channel_iter_continue(struct io_channel_iter *iter, int status);
void *io_channel_iter_get_ctx(struct io_channel_iter *iter);
void *io_channel_iter_get_io_device(struct io_channel_iter *iter);
struct io_channel *io_channel_iter_get_channel(struct io_channel_iter *iter);

/* ---- reactors (reactor.c) ---------------------------------------------- */

/*
 * Creates one reactor per core of the application (env must be up) and
 * installs the schedule hook so that new threads are placed on the
 * least-loaded reactor in their cpumask.
 */
int reactors_init(void);
/*
 * Runs every reactor: the worker cores in their pinned OS threads, the main
 * core in the caller, until reactors_stop(). Returns when all have stopped.
 */
void reactors_start(void);
/* Asks every reactor to stop (any thread). */
void reactors_stop(void);
void reactors_fini(void);

struct reactor_info {
	uint32_t lcore;
	uint64_t tid;          /* OS thread id */
	uint64_t busy_tsc;
	uint64_t idle_tsc;     /* includes time asleep */
	uint64_t sleep_count;  /* times it went to sleep */
	bool in_interrupt;     /* asleep now */
};
/* Snapshot of reactor `lcore` (racy reads of counters, for RPCs). */
int reactor_get_info(uint32_t lcore, struct reactor_info *info);
/* The reactor that runs `thread` now (UINT32_MAX if none). */
uint32_t thread_get_lcore(const struct thread *thread);
/* Ticks since `thread` was placed on its reactor. */
uint64_t thread_get_elapsed(const struct thread *thread);

/*
 * Adaptive polling tunable (adaptive.c): a reactor sleeps after its threads
 * did no work for `idle_us` microseconds; 0 = never sleep (always spin).
 */
void reactor_set_sleep_after_us(uint64_t idle_us);
uint64_t reactor_get_sleep_after_us(void);

#endif
