/*
 * Deterministic thread harness for unit tests: every light-weight thread is
 * stepped on the one OS thread running the test, in index order, and time
 * is virtual (it moves only when the test says so). Any later library's
 * tests (bdev, blob, lvol, vhost) use this to run multi-thread scenarios
 * reproducibly.
 */
#ifndef UT_THREADS_H
#define UT_THREADS_H

#include <stdbool.h>
#include <stdint.h>

struct thread;

/* Initialises lib/thread with a virtual clock and creates `count` threads
 * named "ut_thread0".."ut_threadN-1". Thread 0 is current afterwards. */
void ut_threads_init(int count);
/* Exits and destroys every thread, polling them until they are gone, and
 * finalises lib/thread. Fails the test if a thread cannot exit (leaked
 * poller or channel). */
void ut_threads_fini(void);
int ut_thread_count(void);
struct thread *ut_thread(int index);
/* Makes thread `index` current (its pollers, channels, messages). */
void ut_set_thread(int index);
int ut_current_thread(void);
/* One iteration of thread `index`; returns > 0 if it did work. */
int ut_poll_thread(int index);
/* Polls every thread, round-robin, until a full round does no work.
 * Returns the number of rounds that did work. */
int ut_poll_threads(void);
/* Moves virtual time forward (timed pollers become due; nothing runs until
 * the threads are polled). */
void ut_advance_time_us(uint64_t us);
uint64_t ut_now_us(void);

#endif
