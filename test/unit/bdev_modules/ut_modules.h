/*
 * Set-up shared by the back-end modules' unit tests (malloc, null, file):
 * the real lib/bdev on the deterministic thread harness, with only the
 * modules under test registered, and synchronous wrappers that submit one
 * I/O and step the threads until it completes.
 *
 * File bdevs complete through the kernel, so "until it completes" means
 * real time: the wrappers poll with a wall-clock deadline (a hang fails
 * the test instead of hanging the run).
 *
 * Everything is static and marked unused: each *_ut.c is its own binary
 * and uses only part of it.
 */
#ifndef UT_MODULES_H
#define UT_MODULES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lvstor/bdev.h"
#include "lvstor/bdev_module.h"
#include "lvstor/thread.h"
#include "../common/ut_threads.h"

/* lib/bdev's test hook (bdev_internal.h): forget every registered module. */
void bdev_module_list_clear_for_test(void);

#define UT_FN static __attribute__((unused))
/* Longest a kernel I/O may take in a test before it counts as hung. */
#define UT_IO_TIMEOUT_MS 10000

static struct bdev_module *g_ut_mods[8];
static int g_ut_nmods;

static double
ut_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Steps every thread until *flag is true (real time bounded). */
UT_FN void
ut_wait_flag(const bool *flag)
{
	double deadline = ut_wall_ms() + UT_IO_TIMEOUT_MS;

	while (!*flag) {
		if (ut_poll_threads() == 0) {
			usleep(20);
		}
		if (ut_wall_ms() > deadline) {
			fail_msg("timed out waiting for a completion");
		}
	}
	ut_poll_threads();
}

/* Steps every thread until *count reaches want (real time bounded). */
UT_FN void
ut_wait_count(const int *count, int want)
{
	double deadline = ut_wall_ms() + UT_IO_TIMEOUT_MS;

	while (*count < want) {
		if (ut_poll_threads() == 0) {
			usleep(20);
		}
		if (ut_wall_ms() > deadline) {
			fail_msg("timed out: %d of %d completions", *count, want);
		}
	}
	ut_poll_threads();
}

/* Steps every thread until *rc is no longer `pending` (real time bounded). */
UT_FN void
ut_wait_rc(const int *rc, int pending)
{
	double deadline = ut_wall_ms() + UT_IO_TIMEOUT_MS;

	while (*rc == pending) {
		if (ut_poll_threads() == 0) {
			usleep(20);
		}
		if (ut_wall_ms() > deadline) {
			fail_msg("timed out waiting for a result");
		}
	}
	ut_poll_threads();
}

static void
ut_rc_done(void *arg, int rc)
{
	int *out = arg;

	*out = rc;
}

/*
 * Two threads, the layer, and only the named modules (looked up among the
 * ones the link registered, so other modules' start-up stays out of it).
 */
UT_FN void
ut_layer_setup(const char *const *names)
{
	struct bdev_opts opts;
	int rc = 1;
	int i;

	ut_threads_init(2);
	if (g_ut_nmods == 0) {
		for (i = 0; names[i] != NULL; i++) {
			g_ut_mods[g_ut_nmods] = bdev_module_find(names[i]);
			assert_non_null(g_ut_mods[g_ut_nmods]);
			g_ut_nmods++;
		}
	}
	bdev_module_list_clear_for_test();
	for (i = 0; i < g_ut_nmods; i++) {
		bdev_module_register(g_ut_mods[i]);
	}
	bdev_get_opts(&opts, sizeof(opts));
	opts.bdev_io_pool_size = 1024;
	opts.bdev_io_cache_size = 16;
	assert_int_equal(bdev_set_opts(&opts), 0);
	bdev_initialize(ut_rc_done, &rc);
	ut_poll_threads();
	assert_int_equal(rc, 0);
}

static void
ut_finish_done(void *arg)
{
	*(bool *)arg = true;
}

UT_FN void
ut_layer_teardown(void)
{
	bool done = false;

	ut_set_thread(0);
	bdev_finish(ut_finish_done, &done);
	ut_wait_flag(&done);
	ut_threads_fini();
}

/* ---- descriptors ---------------------------------------------------------- */

struct ut_events {
	int count[2];       /* by enum bdev_event_type */
	struct bdev_desc *desc;
	struct io_channel *ch;
	bool close_on_remove;
};

static void
ut_event_cb(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	struct ut_events *ev = ctx;

	ev->count[type]++;
	if (type == BDEV_EVENT_REMOVE && ev->close_on_remove) {
		if (ev->ch != NULL) {
			io_channel_put(ev->ch);
			ev->ch = NULL;
		}
		bdev_close(ev->desc);
		ev->desc = NULL;
	}
}

/* Opens `name` on the current thread and gets its channel. */
UT_FN void
ut_open(const char *name, bool write, struct ut_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	assert_int_equal(bdev_open(name, write, ut_event_cb, ev, &ev->desc), 0);
	ev->ch = bdev_get_io_channel(ev->desc);
	assert_non_null(ev->ch);
}

UT_FN void
ut_close(struct ut_events *ev)
{
	if (ev->ch != NULL) {
		io_channel_put(ev->ch);
		ev->ch = NULL;
	}
	if (ev->desc != NULL) {
		bdev_close(ev->desc);
		ev->desc = NULL;
	}
	ut_poll_threads();
}

/* ---- synchronous I/O ---------------------------------------------------------- */

struct ut_cpl {
	bool done;
	bool success;
	enum bdev_io_status status;
	int *counter;       /* incremented on completion when set */
};

static void
ut_cpl_cb(struct bdev_io *io, bool success, void *arg)
{
	struct ut_cpl *c = arg;

	c->done = true;
	c->success = success;
	c->status = bdev_io_get_status(io);
	if (c->counter != NULL) {
		(*c->counter)++;
	}
	bdev_free_io(io);
}

/*
 * Submits one I/O of `type` and waits for it. Returns the submit error
 * (< 0, nothing started) or the completion status (BDEV_IO_STATUS_*).
 */
UT_FN int
ut_io(struct ut_events *ev, enum bdev_io_type type, struct iovec *iov, int iovcnt,
      uint64_t offset, uint64_t num)
{
	struct ut_cpl c = { 0 };
	int rc;

	switch (type) {
	case BDEV_IO_TYPE_READ:
		rc = bdev_readv(ev->desc, ev->ch, iov, iovcnt, offset, num, ut_cpl_cb, &c);
		break;
	case BDEV_IO_TYPE_WRITE:
		rc = bdev_writev(ev->desc, ev->ch, iov, iovcnt, offset, num, ut_cpl_cb, &c);
		break;
	case BDEV_IO_TYPE_COMPARE:
		rc = bdev_comparev(ev->desc, ev->ch, iov, iovcnt, offset, num, ut_cpl_cb, &c);
		break;
	case BDEV_IO_TYPE_UNMAP:
		rc = bdev_unmap(ev->desc, ev->ch, offset, num, ut_cpl_cb, &c);
		break;
	case BDEV_IO_TYPE_WRITE_ZEROES:
		rc = bdev_write_zeroes(ev->desc, ev->ch, offset, num, ut_cpl_cb, &c);
		break;
	case BDEV_IO_TYPE_FLUSH:
		rc = bdev_flush(ev->desc, ev->ch, offset, num, ut_cpl_cb, &c);
		break;
	case BDEV_IO_TYPE_RESET:
		rc = bdev_reset(ev->desc, ev->ch, ut_cpl_cb, &c);
		break;
	default:
		fail_msg("unexpected type %d", type);
		return -EINVAL;
	}
	if (rc != 0) {
		return rc;
	}
	/* The layer never calls back before the submit function returns. */
	assert_false(c.done);
	ut_wait_flag(&c.done);
	assert_true(c.success == (c.status == BDEV_IO_STATUS_SUCCESS));
	return c.status;
}

/* One buffer of num blocks, read or written with the single-buffer calls. */
UT_FN int
ut_rw_buf(struct ut_events *ev, bool write, void *buf, uint64_t offset, uint64_t num)
{
	struct ut_cpl c = { 0 };
	int rc;

	rc = write ? bdev_write(ev->desc, ev->ch, buf, offset, num, ut_cpl_cb, &c) :
	     bdev_read(ev->desc, ev->ch, buf, offset, num, ut_cpl_cb, &c);
	if (rc != 0) {
		return rc;
	}
	assert_false(c.done);
	ut_wait_flag(&c.done);
	return c.status;
}

UT_FN void *
ut_aligned(size_t len, int fill)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	memset(p, fill, len);
	return p;
}

UT_FN void
ut_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		buf[i] = (uint8_t)((i * 31u + seed * 7u + (i >> 9)) & 0xff);
	}
}

UT_FN bool
ut_all_bytes(const uint8_t *buf, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != v) {
			return false;
		}
	}
	return true;
}

#endif
