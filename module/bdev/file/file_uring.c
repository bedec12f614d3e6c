/*
 * module/bdev/file/file_uring.c: the io_uring engine of the file bdevs.
 *
 * Submission is batched: submit_request only fills a submission queue
 * entry; the group channel's poller (resumed by the submission) hands
 * everything queued to the kernel with one io_uring_enter per iteration.
 * So a burst of N I/Os from one reactor iteration costs one system call,
 * not N. If the queue is full the entries are pushed at once and, failing
 * that, the I/O is refused with -EAGAIN (NOMEM for the layer).
 *
 * Every operation goes through the ring, including flush (IORING_OP_FSYNC
 * with DATASYNC: the bdev's data, not its timestamps) and the fallocate
 * forms of unmap (punch a hole, keep the size) and write_zeroes (zero
 * range, keep the size), so no file bdev operation blocks the reactor.
 *
 * Completions are copied out of the completion queue before any of them is
 * completed to the layer, and the queue is advanced first: completing an
 * I/O may submit another one from inside bdev_io_complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/uio.h>

#include "file_internal.h"

static int
uring_init(struct file_group_ch *g, int efd)
{
	int rc = io_uring_queue_init(FILE_QUEUE_DEPTH, &g->u.ring, 0);

	if (rc != 0) {
		return rc;
	}
	rc = io_uring_register_eventfd(&g->u.ring, efd);
	if (rc != 0) {
		io_uring_queue_exit(&g->u.ring);
		return rc;
	}
	return 0;
}

static void
uring_fini(struct file_group_ch *g)
{
	io_uring_queue_exit(&g->u.ring);
}

static int
uring_flush(struct file_group_ch *g)
{
	int rc = io_uring_submit(&g->u.ring);

	/* On -EAGAIN/-EBUSY the entries stay queued and the poller tries again. */
	g->queued = io_uring_sq_ready(&g->u.ring);
	return rc > 0 ? rc : 0;
}

static int
uring_submit(struct file_group_ch *g, struct file_io *fio, struct bdev_io *io)
{
	struct file_disk *disk = fio->disk;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&g->u.ring);
	uint64_t off = io->u.offset_blocks * (uint64_t)disk->bdev.blocklen;
	uint64_t len = io->u.num_blocks * (uint64_t)disk->bdev.blocklen;

	if (sqe == NULL) {
		uring_flush(g);
		sqe = io_uring_get_sqe(&g->u.ring);
		if (sqe == NULL) {
			return -EAGAIN;
		}
	}
	switch (io->type) {
	case BDEV_IO_TYPE_READ:
		if (io->u.iovcnt == 1) {
			io_uring_prep_read(sqe, disk->fd, io->u.iovs[0].iov_base, (unsigned int)len, off);
		} else {
			io_uring_prep_readv(sqe, disk->fd, io->u.iovs, (unsigned int)io->u.iovcnt, off);
		}
		if (disk->nowait) {
			sqe->rw_flags |= RWF_NOWAIT;
		}
		break;
	case BDEV_IO_TYPE_WRITE:
		if (io->u.iovcnt == 1) {
			io_uring_prep_write(sqe, disk->fd, io->u.iovs[0].iov_base, (unsigned int)len,
					    off);
		} else {
			io_uring_prep_writev(sqe, disk->fd, io->u.iovs, (unsigned int)io->u.iovcnt, off);
		}
		if (disk->nowait) {
			sqe->rw_flags |= RWF_NOWAIT;
		}
		break;
	case BDEV_IO_TYPE_FLUSH:
		io_uring_prep_fsync(sqe, disk->fd, IORING_FSYNC_DATASYNC);
		break;
	case BDEV_IO_TYPE_UNMAP:
		io_uring_prep_fallocate(sqe, disk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					off, len);
		break;
	case BDEV_IO_TYPE_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, disk->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					off, len);
		break;
	default:
		/* Unreachable (file_submit_request only starts the types above);
		 * the entry is taken, so make it a no-op that completes as failed. */
		io_uring_prep_nop(sqe);
		fio->expected = UINT64_MAX;
		break;
	}
	io_uring_sqe_set_data(sqe, fio);
	g->queued++;
	return 0;
}

static int
uring_reap(struct file_group_ch *g, unsigned int max)
{
	struct io_uring_cqe *cqes[FILE_REAP_BATCH];
	struct file_io *fios[FILE_REAP_BATCH];
	int res[FILE_REAP_BATCH];
	unsigned int i, n;

	if (max > FILE_REAP_BATCH) {
		max = FILE_REAP_BATCH;
	}
	n = io_uring_peek_batch_cqe(&g->u.ring, cqes, max);
	for (i = 0; i < n; i++) {
		fios[i] = io_uring_cqe_get_data(cqes[i]);
		res[i] = cqes[i]->res;
	}
	io_uring_cq_advance(&g->u.ring, n);
	for (i = 0; i < n; i++) {
		file_io_done(g, fios[i], res[i]);
	}
	return (int)n;
}

static void
uring_wait(struct file_group_ch *g)
{
	struct io_uring_cqe *cqe;

	/* Leaves the entry in the queue for the next reap. */
	(void)io_uring_wait_cqe(&g->u.ring, &cqe);
}

const struct file_engine_ops file_uring_ops = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.submit = uring_submit,
	.flush = uring_flush,
	.reap = uring_reap,
	.wait = uring_wait,
};
