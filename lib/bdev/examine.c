/*
 * lib/bdev/examine.c: letting every module look at each new bdev, and
 * telling waiters when all those looks are done.
 *
 * When a bdev registers, each module's examine_config runs (synchronous),
 * then each module's examine_disk, which may read the device and reports
 * with bdev_module_examine_done() once per call, maybe much later (an lvol
 * store loading its metadata). g_examine_pending counts the examine_disk
 * calls not yet reported; bdev_wait_for_examine() callbacks run when it
 * drops to zero.
 *
 * Invariants:
 *  - All of this runs on the app thread (registration and the modules'
 *    examine callbacks are app-thread work), so the counter needs no lock.
 *  - A wait callback never runs inside bdev_wait_for_examine(): it goes
 *    out by message even when nothing is pending.
 */
#include <errno.h>
#include <stdlib.h>

#include "lvstor/log.h"
#include "bdev_internal.h"

struct examine_waiter {
	void (*cb)(void *cb_arg);
	void *cb_arg;
	struct thread *thread;
	struct examine_waiter *next;
};

static uint64_t g_examine_pending;
static struct examine_waiter *g_examine_waiters;

static void
waiter_run(void *arg)
{
	struct examine_waiter *w = arg;

	w->cb(w->cb_arg);
	free(w);
}

static void
waiter_send(struct examine_waiter *w)
{
	if (thread_send_msg(w->thread, waiter_run, w) != 0) {
		LOG_ERR("bdev: cannot send the wait_for_examine completion");
		free(w);
	}
}

static void
waiters_release(void)
{
	struct examine_waiter *w = g_examine_waiters, *next;

	g_examine_waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		waiter_send(w);
	}
}

void
bdev_wait_for_examine(void (*cb)(void *cb_arg), void *cb_arg)
{
	struct examine_waiter *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		LOG_ERR("bdev: no memory to wait for examine");
		return;
	}
	w->cb = cb;
	w->cb_arg = cb_arg;
	w->thread = thread_get_current();
	if (g_examine_pending == 0) {
		waiter_send(w);
		return;
	}
	w->next = g_examine_waiters;
	g_examine_waiters = w;
}

void
bdev_module_examine_done(struct bdev_module *module)
{
	if (g_examine_pending == 0) {
		LOG_ERR("bdev module %s: examine_done without an examine in progress",
			module ? module->name : "?");
		return;
	}
	if (--g_examine_pending == 0)
		waiters_release();
}

void
bdev_examine_new(struct bdev *bdev)
{
	struct bdev_module *m;
	struct bdev_opts opts;

	bdev_get_opts(&opts, sizeof(opts));
	if (!opts.bdev_auto_examine)
		return;
	for (m = bdev_module_first(); m != NULL; m = m->next) {
		if (m->examine_config != NULL)
			m->examine_config(bdev);
	}
	/*
	 * Count every call first: an examine_disk that reports at once must
	 * not release the waiters while later modules have yet to look.
	 */
	for (m = bdev_module_first(); m != NULL; m = m->next) {
		if (m->examine_disk != NULL)
			g_examine_pending++;
	}
	g_examine_pending++;   /* held across the loop */
	for (m = bdev_module_first(); m != NULL; m = m->next) {
		if (m->examine_disk != NULL)
			m->examine_disk(bdev);
	}
	bdev_module_examine_done(NULL);
}
