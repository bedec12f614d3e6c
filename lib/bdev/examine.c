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
 * With automatic examination off (bdev_set_options bdev_auto_examine
 * false), only the bdevs named with bdev_examine() are examined: a name on
 * that list is examined at once if such a bdev exists, and otherwise when
 * a bdev registers whose name, or any alias (its UUID string included),
 * is on it. The list lives until bdev_finish() and is saved in the
 * configuration (bdev_examine calls before the bdevs that they name).
 *
 * Invariants:
 *  - All of this runs on the app thread (registration, the RPCs and the
 *    modules' examine callbacks are app-thread work), so the counter and
 *    the list need no lock.
 *  - A wait callback never runs inside bdev_wait_for_examine(): it goes
 *    out by message even when nothing is pending. A waiter that cannot be
 *    recorded or sent is refused with -ENOMEM rather than left hanging.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static int
waiter_send(struct examine_waiter *w)
{
	return thread_send_msg(w->thread, waiter_run, w);
}

static void
waiters_release(void)
{
	struct examine_waiter *w = g_examine_waiters, *next;

	g_examine_waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		if (waiter_send(w) == 0)
			continue;
		/*
		 * No message to spare. We are not inside the waiter's own call
		 * (that one only queues), so on its thread the callback may run
		 * right here; a waiter elsewhere cannot be reached and is dropped
		 * with a log line rather than called on the wrong thread.
		 */
		if (w->thread == thread_get_current()) {
			waiter_run(w);
		} else {
			LOG_ERR("bdev: cannot send the wait_for_examine completion");
			free(w);
		}
	}
}

int
bdev_wait_for_examine(void (*cb)(void *cb_arg), void *cb_arg)
{
	struct examine_waiter *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		LOG_ERR("bdev: no memory to wait for examine");
		return -ENOMEM;
	}
	w->cb = cb;
	w->cb_arg = cb_arg;
	w->thread = thread_get_current();
	if (g_examine_pending == 0) {
		if (waiter_send(w) != 0) {
			LOG_ERR("bdev: cannot send the wait_for_examine completion");
			free(w);
			return -ENOMEM;
		}
		return 0;
	}
	w->next = g_examine_waiters;
	g_examine_waiters = w;
	return 0;
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

/* Every module looks at the bdev (see the top of the file). */
static void
examine_run(struct bdev *bdev)
{
	struct bdev_module *m;

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

/* ---- the bdev_examine list (automatic examination off) ------------------------ */

struct examine_name {
	struct examine_name *next;
	char name[];
};

static struct examine_name *g_examine_names;     /* in the order given */

static bool
examine_listed(const char *name)
{
	for (struct examine_name *e = g_examine_names; e != NULL; e = e->next) {
		if (strcmp(e->name, name) == 0)
			return true;
	}
	return false;
}

/* Is the bdev on the list by its name or any alias? */
static bool
examine_wanted(const struct bdev *bdev)
{
	/* Aliases beyond this many are not looked at: nothing has that many. */
	const char *aliases[16];
	size_t n;

	if (examine_listed(bdev_get_name(bdev)))
		return true;
	n = bdev_get_aliases(bdev, aliases, COUNTOF(aliases));
	for (size_t i = 0; i < n && i < COUNTOF(aliases); i++) {
		if (examine_listed(aliases[i]))
			return true;
	}
	return false;
}

int
bdev_examine(const char *name)
{
	struct bdev_opts opts;
	struct examine_name *e, **tail;
	struct bdev *bdev;
	size_t len;

	bdev_get_opts(&opts, sizeof(opts));
	if (opts.bdev_auto_examine) {
		LOG_ERR("bdev_examine %s: automatic examination is on; every bdev is examined",
			name);
		return -EINVAL;
	}
	if (examine_listed(name))
		return -EEXIST;
	len = strlen(name);
	e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return -ENOMEM;
	memcpy(e->name, name, len + 1);
	e->next = NULL;
	for (tail = &g_examine_names; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = e;
	bdev = bdev_get_by_name(name);
	if (bdev != NULL)
		examine_run(bdev);
	return 0;
}

void
bdev_examine_write_config(json_t *config)
{
	for (struct examine_name *e = g_examine_names; e != NULL; e = e->next)
		json_array_append_new(config, json_pack("{s:s, s:{s:s}}", "method", "bdev_examine",
							"params", "name", e->name));
}

void
bdev_examine_fini(void)
{
	struct examine_name *e, *next;

	for (e = g_examine_names; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	g_examine_names = NULL;
}

void
bdev_examine_new(struct bdev *bdev)
{
	struct bdev_opts opts;

	bdev_get_opts(&opts, sizeof(opts));
	if (opts.bdev_auto_examine || examine_wanted(bdev))
		examine_run(bdev);
}
