/*
 * module/bdev/file/file_channel.c: the per-thread group channel through
 * which every file bdev submits and completes I/O.
 *
 * One kernel queue per thread and engine, shared by all file bdevs of that
 * engine on that thread (whatever module created them): an io_uring or a
 * libaio context is a few system pages and a file descriptor, and sharing
 * it lets one reap serve every disk. Each engine is an io_device; a disk's
 * get_io_channel hands the layer a reference to its engine's channel, so
 * the group channel lives while any file bdev channel on the thread does.
 *
 * Idle: the reactor must be able to sleep with file bdevs present. Each
 * group channel has
 *  - an eventfd the kernel signals on every completion (registered with
 *    io_uring_register_eventfd, or set on each iocb for libaio) and watched
 *    with thread_fd_register, so a sleeping reactor wakes for a completion;
 *  - an active poller that reaps while I/O is in flight (much cheaper than
 *    a wake-up per completion under load), paused as soon as nothing is in
 *    flight or queued and resumed by the next submission.
 * With nothing in flight the thread has no active poller and no ready fd,
 * so it sleeps at ~0% CPU.
 *
 * Invariants (all per group channel, on its own thread):
 *  - inflight == length of the in-flight list: an I/O is on the list from
 *    just before its engine submit until file_io_done() takes it off, and
 *    file_io_done() runs exactly once per listed I/O.
 *  - the poller is paused only when inflight == 0 and queued == 0.
 *  - a drain waiting on this channel is continued as soon as no listed I/O
 *    belongs to its disk (checked after every completion), so a disk's
 *    destruct runs only after its last completion on every thread.
 *  - the channel is destroyed only with inflight == 0: teardown with I/O
 *    still in flight (the layer let go of its channel too early) blocks
 *    until the kernel finishes it — the one place this module waits,
 *    because the kernel may still write into the buffers — and drops
 *    those completions, since the bdev_ios' channels are gone.
 *
 * Completion status: a negative result or a transfer shorter than asked
 * (e.g. a read past the end of a file truncated under the bdev) fails the
 * I/O, so a caller never sees a partial buffer as data; -EAGAIN (RWF_NOWAIT
 * could not proceed) and a full queue are NOMEM, which the layer retries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "file_internal.h"

struct file_drain {
	struct file_disk *disk;
	struct io_channel_iter *iter;
	struct file_drain *next;
	void (*cb)(void *cb_arg);
	void *cb_arg;
};

/* The engines' io_devices: any unique address will do. */
static int g_engine_devices[FILE_ENGINE_COUNT];
static const struct file_engine_ops *const g_engine_ops[FILE_ENGINE_COUNT] = {
	[FILE_ENGINE_URING] = &file_uring_ops,
	[FILE_ENGINE_AIO] = &file_aio_ops,
};
static int g_engines_users;
static bool g_uring_registered;
/* -1 not probed yet, 0 no, 1 yes. */
static int g_uring_probe = -1;

void *
file_engine_io_device(enum file_engine_kind kind)
{
	return &g_engine_devices[kind];
}

static bool
uring_works(void)
{
	struct io_uring ring;

	if (g_uring_probe < 0) {
		int rc = io_uring_queue_init(4, &ring, 0);

		g_uring_probe = rc == 0;
		if (rc == 0) {
			io_uring_queue_exit(&ring);
		} else {
			LOG_NOTICE("io_uring is not available (%s): file bdevs use libaio",
				   strerror(-rc));
		}
	}
	return g_uring_probe == 1;
}

bool
file_uring_available(void)
{
	const char *force = getenv("LVSTOR_FILE_ENGINE");

	if (force != NULL && strcmp(force, "aio") == 0) {
		return false;
	}
	return uring_works() && g_uring_registered;
}

/* ---- completion ----------------------------------------------------------- */

static bool
disk_has_inflight(const struct file_group_ch *g, const struct file_disk *disk)
{
	const struct file_io *fio;

	for (fio = g->head; fio != NULL; fio = fio->next) {
		if (fio->disk == disk) {
			return true;
		}
	}
	return false;
}

static void
check_drains(struct file_group_ch *g)
{
	struct file_drain **pd = &g->drains;

	while (*pd != NULL) {
		struct file_drain *d = *pd;

		if (disk_has_inflight(g, d->disk)) {
			pd = &d->next;
			continue;
		}
		*pd = d->next;
		io_channel_iter_continue(d->iter, 0);
	}
}

static void
list_remove(struct file_group_ch *g, struct file_io *fio)
{
	if (fio->prev != NULL) {
		fio->prev->next = fio->next;
	} else {
		g->head = fio->next;
	}
	if (fio->next != NULL) {
		fio->next->prev = fio->prev;
	}
	fio->next = fio->prev = NULL;
	g->inflight--;
}

void
file_io_done(struct file_group_ch *g, struct file_io *fio, int64_t res)
{
	struct bdev_io *io = bdev_io_from_ctx(fio);
	enum bdev_io_status status = BDEV_IO_STATUS_SUCCESS;

	list_remove(g, fio);
	if (g->discarding) {
		/* The layer let go of the channel first: its bdev_io is not ours to touch. */
		status = BDEV_IO_STATUS_PENDING;
	} else if (res == -EAGAIN) {
		status = BDEV_IO_STATUS_NOMEM;
	} else if (res < 0 || (fio->expected != 0 && (uint64_t)res != fio->expected)) {
		LOG_DEBUG(aio, "%s: %s of %lu blocks at %lu: %s", fio->disk->bdev.name,
			  bdev_io_type_name(io->type), (unsigned long)io->u.num_blocks,
			  (unsigned long)io->u.offset_blocks,
			  res < 0 ? strerror((int)-res) : "short transfer");
		status = BDEV_IO_STATUS_FAILED;
	}
	if (status != BDEV_IO_STATUS_PENDING) {
		bdev_io_complete(io, status);
	}
	if (g->drains != NULL) {
		check_drains(g);
	}
}

/* ---- submission ----------------------------------------------------------- */

static void
start_io(struct file_group_ch *g, struct bdev_io *io)
{
	struct file_io *fio = bdev_io_driver_ctx(io);
	int rc;

	if (g->inflight >= FILE_QUEUE_DEPTH) {
		bdev_io_complete(io, BDEV_IO_STATUS_NOMEM);
		return;
	}
	fio->disk = io->bdev->ctxt;
	fio->expected = 0;
	if (io->type == BDEV_IO_TYPE_READ || io->type == BDEV_IO_TYPE_WRITE) {
		fio->expected = io->u.num_blocks * (uint64_t)io->bdev->blocklen;
	}
	fio->prev = NULL;
	fio->next = g->head;
	if (g->head != NULL) {
		g->head->prev = fio;
	}
	g->head = fio;
	g->inflight++;
	if (g->poller_paused) {
		g->poller_paused = false;
		poller_resume(g->poller);
	}
	rc = g->ops->submit(g, fio, io);
	if (rc != 0) {
		list_remove(g, fio);
		bdev_io_complete(io, rc == -EAGAIN ? BDEV_IO_STATUS_NOMEM : BDEV_IO_STATUS_FAILED);
	}
}

static void
read_with_buf(struct io_channel *ch, struct bdev_io *io, bool success)
{
	if (!success) {
		bdev_io_complete(io, BDEV_IO_STATUS_NOMEM);
		return;
	}
	start_io(io_channel_get_ctx(ch), io);
}

void
file_submit_request(struct io_channel *ch, struct bdev_io *io)
{
	struct file_group_ch *g = io_channel_get_ctx(ch);

	switch (io->type) {
	case BDEV_IO_TYPE_READ:
		if (io->u.iovcnt > 0 && io->u.iovs[0].iov_base == NULL) {
			bdev_io_get_buf(io, read_with_buf,
					io->u.num_blocks * (uint64_t)io->bdev->blocklen);
			return;
		}
	/* fallthrough */
	case BDEV_IO_TYPE_WRITE:
	case BDEV_IO_TYPE_FLUSH:
	case BDEV_IO_TYPE_UNMAP:
	case BDEV_IO_TYPE_WRITE_ZEROES:
		start_io(g, io);
		return;
	case BDEV_IO_TYPE_RESET:
		/* The layer has drained the bdev's I/O; the kernel keeps no state. */
		bdev_io_complete(io, BDEV_IO_STATUS_SUCCESS);
		return;
	default:
		bdev_io_complete(io, BDEV_IO_STATUS_FAILED);
		return;
	}
}

/* ---- polling -------------------------------------------------------------- */

static int
group_poll(void *arg)
{
	struct file_group_ch *g = arg;
	int n = 0;

	if (g->queued > 0) {
		n += g->ops->flush(g);
	}
	if (g->inflight > 0) {
		n += g->ops->reap(g, FILE_REAP_BATCH);
	}
	if (g->inflight == 0 && g->queued == 0 && !g->poller_paused) {
		g->poller_paused = true;
		poller_pause(g->poller);
	}
	return n > 0 ? POLLER_BUSY : POLLER_IDLE;
}

static int
group_efd_ready(void *arg, uint32_t events)
{
	struct file_group_ch *g = arg;
	uint64_t count;

	/* Clear the level-triggered readiness; the count itself is not needed. */
	if (read(g->efd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
		LOG_ERR("file bdev channel: eventfd read failed: %s", strerror(errno));
	}
	return group_poll(g);
}

/* ---- channel life cycle --------------------------------------------------- */

static int
group_create(void *io_device, void *ctx)
{
	struct file_group_ch *g = ctx;
	enum file_engine_kind kind = (enum file_engine_kind)((int *)io_device - g_engine_devices);
	int rc;

	memset(g, 0, sizeof(*g));
	g->ops = g_engine_ops[kind];
	g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->efd < 0) {
		return -errno;
	}
	rc = g->ops->init(g, g->efd);
	if (rc != 0) {
		LOG_ERR("file bdev channel: %s set-up failed: %s", g->ops->name, strerror(-rc));
		close(g->efd);
		return rc;
	}
	g->poller = poller_register(group_poll, g, 0, "file_group_poll");
	g->efd_handler = thread_fd_register(g->efd, FD_EVENT_IN, group_efd_ready, g,
					    "file_group_efd");
	if (g->poller == NULL || g->efd_handler == NULL) {
		rc = g->efd_handler == NULL ? -errno : -ENOMEM;
		poller_unregister(&g->poller);
		thread_fd_unregister(&g->efd_handler);
		g->ops->fini(g);
		close(g->efd);
		return rc < 0 ? rc : -ENOMEM;
	}
	g->poller_paused = true;
	poller_pause(g->poller);
	return 0;
}

static void
group_destroy(void *io_device, void *ctx)
{
	struct file_group_ch *g = ctx;

	/*
	 * The layer holds this channel while any of its channels on the thread
	 * lives, so I/O still here means it let go with I/O outstanding. The
	 * kernel may still write into those buffers: wait for it, but complete
	 * nothing — the bdev_ios' channels are gone.
	 */
	if (g->queued > 0 || g->inflight > 0) {
		LOG_ERR("file bdev channel destroyed with %u I/O in flight; waiting for the "
			"kernel and dropping their completions", g->inflight);
		g->discarding = true;
	}
	while (g->queued > 0 || g->inflight > 0) {
		if (g->queued > 0) {
			g->ops->flush(g);
		}
		if (g->inflight > 0 && g->ops->reap(g, FILE_REAP_BATCH) == 0) {
			g->ops->wait(g);
		}
	}
	poller_unregister(&g->poller);
	thread_fd_unregister(&g->efd_handler);
	g->ops->fini(g);
	close(g->efd);
}

void
file_engines_init(void)
{
	if (g_engines_users++ > 0) {
		return;
	}
	io_device_register(&g_engine_devices[FILE_ENGINE_AIO], group_create, group_destroy,
			   sizeof(struct file_group_ch), "bdev_file_aio");
	if (uring_works()) {
		io_device_register(&g_engine_devices[FILE_ENGINE_URING], group_create,
				   group_destroy, sizeof(struct file_group_ch), "bdev_file_uring");
		g_uring_registered = true;
	}
}

void
file_engines_fini(void)
{
	if (g_engines_users == 0 || --g_engines_users > 0) {
		return;
	}
	io_device_unregister(&g_engine_devices[FILE_ENGINE_AIO], NULL);
	if (g_uring_registered) {
		io_device_unregister(&g_engine_devices[FILE_ENGINE_URING], NULL);
		g_uring_registered = false;
	}
}

/* ---- draining a disk before its destruct ------------------------------------ */

static void
drain_on_channel(struct io_channel_iter *iter)
{
	struct file_drain *d = io_channel_iter_get_ctx(iter);
	struct file_group_ch *g = io_channel_get_ctx(io_channel_iter_get_channel(iter));

	if (!disk_has_inflight(g, d->disk)) {
		io_channel_iter_continue(iter, 0);
		return;
	}
	d->iter = iter;
	d->next = g->drains;
	g->drains = d;
}

static void
drain_done(struct io_channel_iter *iter, int status)
{
	struct file_drain *d = io_channel_iter_get_ctx(iter);

	d->cb(d->cb_arg);
	free(d);
}

int
file_disk_drain(struct file_disk *disk, void (*cb)(void *cb_arg), void *cb_arg)
{
	struct file_drain *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		return -ENOMEM;
	}
	d->disk = disk;
	d->cb = cb;
	d->cb_arg = cb_arg;
	io_device_for_each_channel(file_engine_io_device(disk->engine), drain_on_channel, d,
				   drain_done);
	return 0;
}
