/*
 * lib/bdev/bounce.c: I/O whose buffers the back end cannot take as they
 * are goes through aligned bounce buffers of the layer.
 *
 * A back end states in required_alignment what its buffers must look like
 * (a file opened with O_DIRECT: the kernel's memory alignment). Users whose
 * buffers come from elsewhere -- a vhost guest's memory, at any address --
 * cannot be asked to comply, so the layer copies: a write's data into an
 * aligned buffer before the module sees it, a read's data out of one after
 * the module is done. The module only ever sees one aligned iovec.
 *
 * Which I/O bounces: only bdevs with required_alignment > 1, and only when
 * a segment's address is off that alignment or its length is not a whole
 * number of blocks (direct I/O needs both). The test is made once, in the
 * submit function; the common case (one aligned buffer) costs the one
 * masked compare it cost before, and I/O on bdevs without a requirement
 * never gets here. Read, write and compare carry data; nothing else
 * bounces.
 *
 * Invariants:
 *  - Bounce buffers are per thread (in the mgmt channel): BDEV_BOUNCE_BUFS
 *    of BDEV_BOUNCE_BUF_SIZE bytes, one allocation made when the thread
 *    gets its first channel of a bdev that has an alignment requirement,
 *    freed with the mgmt channel. Nothing is allocated in the I/O path.
 *  - A bounced request is never larger than one buffer: the split code cuts
 *    larger misaligned I/O into children of at most BDEV_BOUNCE_BUF_SIZE
 *    (split.c), and each child bounces on its own -- or not at all, when
 *    its slice of the user's iovecs happens to be aligned.
 *  - Bouncing never fails for want of a buffer: an I/O that finds none free
 *    waits in the thread's FIFO, and every buffer given back goes straight
 *    to the oldest waiter. Buffers are held only by I/O at the module (or
 *    on its NOMEM queue, which is retried), so one always comes back.
 *    The FIFO also means a new I/O never overtakes one already waiting.
 *  - An I/O holds its buffer (BDEV_IO_F_BOUNCED) from the moment it is
 *    handed to the module until its completion reaches
 *    bdev_io_complete_now(), where the data is copied out (successful
 *    reads only: a failed read leaves the user's buffers untouched), the
 *    I/O gets its own iovecs back, and the buffer is released -- all on
 *    the thread the buffer came from, before any user callback.
 *  - A waiter handed a buffer from inside a completion is submitted with
 *    the usual in_submit accounting (bdev_io_do_submit), so a module that
 *    completes it inline lands on the done list: no recursion.
 */
#include <errno.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "bdev_internal.h"

int
bdev_iovs_need_bounce(const struct bdev *bdev, const struct iovec *iov, int iovcnt)
{
	uintptr_t amask = bdev->required_alignment - 1;
	uintptr_t lmask = bdev->blocklen - 1;
	uintptr_t off = 0;

	if (bdev->required_alignment <= 1)
		return 0;
	for (int i = 0; i < iovcnt; i++)
		off |= ((uintptr_t)iov[i].iov_base & amask) | (iov[i].iov_len & lmask);
	if (off == 0)
		return 0;
	if (bdev->required_alignment > BDEV_BOUNCE_BUF_SIZE ||
	    bdev->blocklen > BDEV_BOUNCE_BUF_SIZE)
		return -EINVAL;
	return 1;
}

/* Copies len bytes between buf and the iovecs (to_buf: gather into buf). */
static void
copy_iovs(void *buf, const struct iovec *iov, int iovcnt, size_t len, bool to_buf)
{
	uint8_t *p = buf;

	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_buf)
			memcpy(p, iov[i].iov_base, n);
		else
			memcpy(iov[i].iov_base, p, n);
		p += n;
		len -= n;
	}
}

/* Gives io the buffer, fills it for a write or compare, submits. */
static void
bounce_start(struct bdev_io *io, void *buf)
{
	struct bdev_io_internal *in = io->internal;
	size_t len = io->u.num_blocks * io->bdev->blocklen;

	in->bounce_orig_iovs = io->u.iovs;
	in->bounce_orig_iovcnt = io->u.iovcnt;
	if (io->type != BDEV_IO_TYPE_READ)
		copy_iovs(buf, io->u.iovs, io->u.iovcnt, len, true);
	in->bounce_iov.iov_base = buf;
	in->bounce_iov.iov_len = len;
	io->u.iovs = &in->bounce_iov;
	io->u.iovcnt = 1;
	in->flags |= BDEV_IO_F_BOUNCED;
	bdev_io_do_submit(in->ch, io);
}

void
bdev_io_bounce_submit(struct bdev_channel *ch, struct bdev_io *io)
{
	struct bdev_mgmt_channel *mgmt = ch->mgmt;

	/* A child's slice of misaligned iovecs may itself be aligned. */
	if (bdev_iovs_need_bounce(io->bdev, io->u.iovs, io->u.iovcnt) == 0) {
		bdev_io_do_submit(ch, io);
		return;
	}
	if (mgmt->bounce_nfree == 0 || mgmt->bounce_wait_head != NULL) {
		io->internal->next = NULL;
		*mgmt->bounce_wait_tail = io;
		mgmt->bounce_wait_tail = &io->internal->next;
		return;
	}
	bounce_start(io, mgmt->bounce_free[--mgmt->bounce_nfree]);
}

void
bdev_io_bounce_finish(struct bdev_io *io)
{
	struct bdev_io_internal *in = io->internal;
	struct bdev_mgmt_channel *mgmt = in->ch->mgmt;
	void *buf = in->bounce_iov.iov_base;
	struct bdev_io *next;

	if (io->type == BDEV_IO_TYPE_READ && in->status == BDEV_IO_STATUS_SUCCESS)
		copy_iovs(buf, in->bounce_orig_iovs, in->bounce_orig_iovcnt, in->bounce_iov.iov_len,
			  false);
	io->u.iovs = in->bounce_orig_iovs;
	io->u.iovcnt = in->bounce_orig_iovcnt;
	in->flags &= ~BDEV_IO_F_BOUNCED;

	next = mgmt->bounce_wait_head;
	if (next == NULL) {
		mgmt->bounce_free[mgmt->bounce_nfree++] = buf;
		return;
	}
	mgmt->bounce_wait_head = next->internal->next;
	if (mgmt->bounce_wait_head == NULL)
		mgmt->bounce_wait_tail = &mgmt->bounce_wait_head;
	bounce_start(next, buf);
}

int
bdev_bounce_pool_init(struct bdev_mgmt_channel *mgmt)
{
	uint8_t *p;

	if (mgmt->bounce_pool != NULL)
		return 0;
	p = env_dma_malloc((size_t)BDEV_BOUNCE_BUFS * BDEV_BOUNCE_BUF_SIZE, BDEV_BOUNCE_BUF_SIZE,
			   NULL);
	if (p == NULL) {
		LOG_ERR("bdev: no memory for %d bounce buffers of %d KiB", BDEV_BOUNCE_BUFS,
			BDEV_BOUNCE_BUF_SIZE / 1024);
		return -ENOMEM;
	}
	for (int i = 0; i < BDEV_BOUNCE_BUFS; i++)
		mgmt->bounce_free[i] = p + (size_t)i * BDEV_BOUNCE_BUF_SIZE;
	mgmt->bounce_nfree = BDEV_BOUNCE_BUFS;
	mgmt->bounce_pool = p;
	return 0;
}

void
bdev_bounce_pool_fini(struct bdev_mgmt_channel *mgmt)
{
	if (mgmt->bounce_pool == NULL)
		return;
	/* Channels hold the mgmt channel while they have I/O: none can wait. */
	if (mgmt->bounce_wait_head != NULL || mgmt->bounce_nfree != BDEV_BOUNCE_BUFS)
		LOG_ERR("bdev: thread channel destroyed with bounce buffers in use");
	env_dma_free(mgmt->bounce_pool);
	mgmt->bounce_pool = NULL;
	mgmt->bounce_nfree = 0;
}
