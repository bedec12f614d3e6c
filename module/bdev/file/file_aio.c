/*
 * module/bdev/file/file_aio.c: the libaio engine of the file bdevs, used
 * when io_uring is not available (or LVSTOR_FILE_ENGINE=aio forces it).
 *
 * Reads, writes and flushes (IOCB_CMD_FDSYNC) are submitted one iocb per
 * io_submit. Each iocb carries the group channel's eventfd (IOCB_FLAG_RESFD)
 * so that a sleeping reactor wakes for its completion.
 *
 * Limits of the interface, accepted because this is the fallback:
 *  - Linux AIO is asynchronous only with O_DIRECT; on a file opened
 *    buffered, io_submit does the copy before returning.
 *  - There is no AIO fallocate: unmap and write_zeroes call fallocate(2)
 *    synchronously and complete inline. Kernels without AIO fsync (before
 *    4.18) get a synchronous fdatasync the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "file_internal.h"

static int
aio_init(struct file_group_ch *g, int efd)
{
	g->u.aio_ctx = 0;
	return io_setup((int)FILE_QUEUE_DEPTH, &g->u.aio_ctx);
}

static void
aio_fini(struct file_group_ch *g)
{
	io_destroy(g->u.aio_ctx);
}

static int
aio_flush(struct file_group_ch *g)
{
	return 0;
}

static void
sync_fallocate(struct file_group_ch *g, struct file_io *fio, int mode, uint64_t off,
	       uint64_t len)
{
	int rc = fallocate(fio->disk->fd, mode, (off_t)off, (off_t)len);

	file_io_done(g, fio, rc == 0 ? 0 : -errno);
}

static int
aio_submit(struct file_group_ch *g, struct file_io *fio, struct bdev_io *io)
{
	struct file_disk *disk = fio->disk;
	struct iocb *iocb = &fio->iocb;
	uint64_t off = io->u.offset_blocks * (uint64_t)disk->bdev.blocklen;
	uint64_t len = io->u.num_blocks * (uint64_t)disk->bdev.blocklen;
	int rc;

	switch (io->type) {
	case BDEV_IO_TYPE_READ:
		io_prep_preadv2(iocb, disk->fd, io->u.iovs, io->u.iovcnt, (long long)off,
				disk->nowait ? RWF_NOWAIT : 0);
		break;
	case BDEV_IO_TYPE_WRITE:
		io_prep_pwritev2(iocb, disk->fd, io->u.iovs, io->u.iovcnt, (long long)off,
				 disk->nowait ? RWF_NOWAIT : 0);
		break;
	case BDEV_IO_TYPE_FLUSH:
		io_prep_fdsync(iocb, disk->fd);
		break;
	case BDEV_IO_TYPE_UNMAP:
		sync_fallocate(g, fio, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		return 0;
	case BDEV_IO_TYPE_WRITE_ZEROES:
		sync_fallocate(g, fio, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
		return 0;
	default:
		return -ENOTSUP;
	}
	io_set_eventfd(iocb, g->efd);
	iocb->data = fio;
	rc = io_submit(g->u.aio_ctx, 1, &iocb);
	if (rc == 1) {
		return 0;
	}
	if (io->type == BDEV_IO_TYPE_FLUSH && rc == -EINVAL) {
		file_io_done(g, fio, fdatasync(disk->fd) == 0 ? 0 : -errno);
		return 0;
	}
	return rc < 0 ? rc : -EAGAIN;
}

static int
aio_reap(struct file_group_ch *g, unsigned int max)
{
	struct io_event events[FILE_REAP_BATCH];
	struct timespec zero = { 0, 0 };
	int i, n;

	if (max > FILE_REAP_BATCH) {
		max = FILE_REAP_BATCH;
	}
	n = io_getevents(g->u.aio_ctx, 0, (long)max, events, &zero);
	if (n <= 0) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		/* res is the byte count, or a negative errno stored in an unsigned long. */
		file_io_done(g, events[i].data, (int64_t)(long)events[i].res);
	}
	return n;
}

static void
aio_wait(struct file_group_ch *g)
{
	uint64_t count;
	struct timespec ts = { 0, 1000000 };

	/* Sleep until the eventfd says something finished (or 1 ms passed). */
	if (read(g->efd, &count, sizeof(count)) < 0) {
		nanosleep(&ts, NULL);
	}
}

const struct file_engine_ops file_aio_ops = {
	.name = "libaio",
	.init = aio_init,
	.fini = aio_fini,
	.submit = aio_submit,
	.flush = aio_flush,
	.reap = aio_reap,
	.wait = aio_wait,
};
