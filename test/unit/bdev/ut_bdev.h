/*
 * A fake bdev back end for lib/bdev's unit tests, and the set-up they share.
 *
 * The "ut" module holds every I/O it is given until the test completes it
 * (ut_complete / ut_complete_all), or completes inline when the disk says
 * so, and logs every request it saw (type, range, iovecs) so that a test
 * can check what the layer sent down. A disk may have backing memory:
 * completing a read/write with success copies between it and the iovecs.
 *
 * Everything is static (this header is included by each *_ut.c, which the
 * Makefile links separately) and marked unused so that a test that needs
 * only part of it still builds with -Werror.
 */
#ifndef UT_BDEV_H
#define UT_BDEV_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/queue.h>

#include "lvstor/bdev.h"
#include "lvstor/bdev_module.h"
#include "lvstor/env.h"
#include "lvstor/thread.h"
#include "../common/ut_threads.h"
#include "../../../lib/bdev/bdev_internal.h"

#define UT_FN static __attribute__((unused))
#define UT_LOG_MAX 4096

struct ut_disk {
	struct bdev bdev;
	char name[64];
	bool supported[BDEV_NUM_IO_TYPES];
	bool complete_inline;
	enum bdev_io_status inline_status;
	/* How many submits answer NOMEM before the disk accepts again. */
	int nomem_left;
	bool async_destruct;
	int destruct_calls;
	uint8_t *data;                 /* backing store (blocklen * blockcnt) or NULL */
	uint64_t channels_created;
	struct ut_disk *next;
};

struct ut_io {
	TAILQ_ENTRY(ut_io) link;
	struct thread *thread;
};

struct ut_req {
	enum bdev_io_type type;
	uint64_t offset;
	uint64_t num;
	int iovcnt;
	struct iovec iov[BDEV_IO_CHILD_IOVS + 8];
};

static TAILQ_HEAD(, ut_io) g_ut_pending = TAILQ_HEAD_INITIALIZER(g_ut_pending);
static struct ut_req g_ut_log[UT_LOG_MAX];
static int g_ut_nlog;
static int g_ut_examine_config_calls;
static int g_ut_examine_disk_calls;
static struct ut_disk *g_ut_disks;   /* every disk made, freed at teardown */
static bool g_ut_examine_hold;        /* examine_disk reports later */
static int g_ut_examine_held;

static struct bdev_module g_ut_module;

static size_t
ut_get_ctx_size(void)
{
	return sizeof(struct ut_io);
}

static void
ut_examine_config(struct bdev *bdev)
{
	g_ut_examine_config_calls++;
}

static void
ut_examine_disk(struct bdev *bdev)
{
	g_ut_examine_disk_calls++;
	if (g_ut_examine_hold)
		g_ut_examine_held++;
	else
		bdev_module_examine_done(&g_ut_module);
}

static struct bdev_module g_ut_module = {
	.name = "ut",
	.get_ctx_size = ut_get_ctx_size,
	.examine_config = ut_examine_config,
	.examine_disk = ut_examine_disk,
};

static int
ut_destruct(void *ctx)
{
	struct ut_disk *d = ctx;

	d->destruct_calls++;
	return d->async_destruct ? 1 : 0;
}

static bool
ut_io_type_supported(void *ctx, enum bdev_io_type type)
{
	struct ut_disk *d = ctx;

	return d->supported[type];
}

static int
ut_ch_create(void *dev, void *ctx)
{
	((struct ut_disk *)dev)->channels_created++;
	return 0;
}

static void
ut_ch_destroy(void *dev, void *ctx)
{
}

static struct io_channel *
ut_get_io_channel(void *ctx)
{
	return io_channel_get(ctx);
}

static void
ut_data_copy(struct ut_disk *d, struct bdev_io *io)
{
	uint8_t *p;
	size_t left;

	if (d->data == NULL)
		return;
	p = d->data + io->u.offset_blocks * d->bdev.blocklen;
	left = io->u.num_blocks * d->bdev.blocklen;
	switch (io->type) {
	case BDEV_IO_TYPE_READ:
	case BDEV_IO_TYPE_WRITE:
		for (int i = 0; i < io->u.iovcnt && left > 0; i++) {
			size_t n = io->u.iovs[i].iov_len < left ? io->u.iovs[i].iov_len : left;

			if (io->type == BDEV_IO_TYPE_READ)
				memcpy(io->u.iovs[i].iov_base, p, n);
			else
				memcpy(p, io->u.iovs[i].iov_base, n);
			p += n;
			left -= n;
		}
		break;
	case BDEV_IO_TYPE_WRITE_ZEROES:
	case BDEV_IO_TYPE_UNMAP:
		memset(p, 0, left);
		break;
	default:
		break;
	}
}

static void
ut_submit(struct io_channel *ch, struct bdev_io *io)
{
	struct ut_disk *d = io->bdev->ctxt;
	struct ut_io *u = bdev_io_driver_ctx(io);

	if (g_ut_nlog < UT_LOG_MAX) {
		struct ut_req *r = &g_ut_log[g_ut_nlog++];

		r->type = io->type;
		r->offset = io->u.offset_blocks;
		r->num = io->u.num_blocks;
		r->iovcnt = io->u.iovcnt;
		for (int i = 0; i < io->u.iovcnt && i < (int)COUNTOF(r->iov); i++)
			r->iov[i] = io->u.iovs[i];
	}
	if (d->nomem_left > 0) {
		d->nomem_left--;
		bdev_io_complete(io, BDEV_IO_STATUS_NOMEM);
		return;
	}
	if (d->complete_inline) {
		if (d->inline_status == BDEV_IO_STATUS_SUCCESS)
			ut_data_copy(d, io);
		bdev_io_complete(io, d->inline_status);
		return;
	}
	u->thread = thread_get_current();
	TAILQ_INSERT_TAIL(&g_ut_pending, u, link);
}

static const struct bdev_fn_table g_ut_fn_table = {
	.destruct = ut_destruct,
	.submit_request = ut_submit,
	.io_type_supported = ut_io_type_supported,
	.get_io_channel = ut_get_io_channel,
};

/* Completes up to n held I/Os of the current thread (n < 0: all). Returns how many. */
UT_FN int
ut_complete(int n, enum bdev_io_status status)
{
	struct ut_io *u, *tmp;
	struct thread *t = thread_get_current();
	int done = 0;

	for (u = TAILQ_FIRST(&g_ut_pending); u != NULL; u = tmp) {
		struct bdev_io *io;

		tmp = TAILQ_NEXT(u, link);
		if (n >= 0 && done >= n)
			break;
		if (u->thread != t)
			continue;
		TAILQ_REMOVE(&g_ut_pending, u, link);
		io = bdev_io_from_ctx(u);
		if (status == BDEV_IO_STATUS_SUCCESS)
			ut_data_copy(io->bdev->ctxt, io);
		bdev_io_complete(io, status);
		done++;
	}
	return done;
}

UT_FN int
ut_pending_count(void)
{
	struct ut_io *u;
	int n = 0;

	TAILQ_FOREACH(u, &g_ut_pending, link)
		n++;
	return n;
}

UT_FN struct bdev_io *
ut_pending_first(void)
{
	struct ut_io *u = TAILQ_FIRST(&g_ut_pending);

	return u ? bdev_io_from_ctx(u) : NULL;
}

UT_FN struct ut_disk *
ut_disk_create(const char *name, uint32_t blocklen, uint64_t blockcnt, bool with_data)
{
	struct ut_disk *d = calloc(1, sizeof(*d));
	int rc;

	assert_non_null(d);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->bdev.name = d->name;
	d->bdev.product_name = "UT disk";
	d->bdev.blocklen = blocklen;
	d->bdev.blockcnt = blockcnt;
	d->bdev.ctxt = d;
	d->bdev.fn_table = &g_ut_fn_table;
	d->bdev.module = &g_ut_module;
	d->inline_status = BDEV_IO_STATUS_SUCCESS;
	for (int t = 0; t < BDEV_NUM_IO_TYPES; t++)
		d->supported[t] = t == BDEV_IO_TYPE_READ || t == BDEV_IO_TYPE_WRITE ||
				  t == BDEV_IO_TYPE_UNMAP || t == BDEV_IO_TYPE_FLUSH ||
				  t == BDEV_IO_TYPE_RESET || t == BDEV_IO_TYPE_WRITE_ZEROES ||
				  t == BDEV_IO_TYPE_COMPARE;
	if (with_data) {
		d->data = calloc(blockcnt, blocklen);
		assert_non_null(d->data);
	}
	io_device_register(d, ut_ch_create, ut_ch_destroy, 0, d->name);
	d->next = g_ut_disks;
	g_ut_disks = d;
	(void)rc;
	return d;
}

/* Registers a disk made by ut_disk_create (after adjusting its limits). */
UT_FN int
ut_disk_register(struct ut_disk *d)
{
	return bdev_register(&d->bdev);
}

static void
ut_io_device_gone(void *dev)
{
	struct ut_disk *d = dev;

	free(d->data);
	free(d);
}

static void
ut_unregister_done(void *arg, int rc)
{
	*(int *)arg = rc;
}

/* Unregisters the disk's bdev; polls until done (it is freed at teardown). */
UT_FN void
ut_disk_destroy(struct ut_disk *d)
{
	int rc = 1;

	bdev_unregister(&d->bdev, ut_unregister_done, &rc);
	ut_poll_threads();
	assert_int_equal(rc, 0);
}

static void
ut_init_done(void *arg, int rc)
{
	*(int *)arg = rc;
}

static void
ut_fini_done(void *arg)
{
	*(bool *)arg = true;
}

/* Threads, the ut module alone, and the layer with a pool of pool_size. */
UT_FN void
ut_bdev_setup(int threads, uint32_t pool_size)
{
	struct bdev_opts opts;
	int rc = 1;

	ut_threads_init(threads);
	g_ut_disks = NULL;
	bdev_module_list_clear_for_test();
	bdev_module_register(&g_ut_module);
	bdev_get_opts(&opts, sizeof(opts));
	opts.bdev_io_pool_size = pool_size;
	opts.bdev_io_cache_size = 0;
	assert_int_equal(bdev_set_opts(&opts), 0);
	g_ut_nlog = 0;
	g_ut_examine_config_calls = 0;
	g_ut_examine_disk_calls = 0;
	g_ut_examine_hold = false;
	g_ut_examine_held = 0;
	bdev_initialize(ut_init_done, &rc);
	assert_int_equal(rc, 1);     /* never before bdev_initialize returns */
	ut_poll_threads();
	assert_int_equal(rc, 0);
}

UT_FN void
ut_bdev_teardown(void)
{
	bool done = false;

	ut_set_thread(0);
	bdev_finish(ut_fini_done, &done);
	ut_poll_threads();
	assert_true(done);
	assert_int_equal(ut_pending_count(), 0);
	while (g_ut_disks != NULL) {
		struct ut_disk *d = g_ut_disks;

		g_ut_disks = d->next;
		io_device_unregister(d, ut_io_device_gone);
	}
	ut_poll_threads();
	ut_threads_fini();
}

/* ---- a completion recorder ---- */

struct ut_cpl {
	int calls;
	bool success;
	enum bdev_io_status status;
	struct bdev_io *io;
	bool keep;            /* do not free the bdev_io */
};

UT_FN void
ut_cpl_cb(struct bdev_io *io, bool success, void *arg)
{
	struct ut_cpl *c = arg;

	c->calls++;
	c->success = success;
	c->status = bdev_io_get_status(io);
	c->io = io;
	if (!c->keep)
		bdev_free_io(io);
}

static void
ut_event_cb(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	int *events = ctx;

	if (events != NULL)
		events[type]++;
}

UT_FN struct bdev_desc *
ut_open(const char *name, bool write, int *events)
{
	struct bdev_desc *desc = NULL;

	assert_int_equal(bdev_open(name, write, ut_event_cb, events, &desc), 0);
	return desc;
}

#endif
