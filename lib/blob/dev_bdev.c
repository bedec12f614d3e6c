/*
 * lib/blob/dev_bdev.c: the bs_dev on top of a bdev (bs_dev_bdev_create,
 * bs_dev_bdev_create_ro). This is how a blobstore (an lvolstore) reaches
 * its base device in the daemon, so it sits on the I/O path of every
 * guest request and keeps that path's rules: no allocation, no lock, no
 * message per I/O.
 *
 * Ownership. The writable device opens the bdev for writing and claims
 * it for the caller's module (exclusive_write): while the blobstore lives
 * nobody else may write to its disk, and a second blobstore on the same
 * bdev is refused with -EPERM. The read-only variant (external snapshots:
 * a clone whose parent is a bdev outside the store) opens without a claim
 * and refuses every change with -EPERM itself, before the bdev layer
 * would say -EBADF.
 *
 * Channels. The bdev layer's channel is per (bdev, thread), but each
 * operation must also remember its caller's (cb, cb_arg), and the bdev
 * callback hands back only one pointer. So the device registers itself as
 * an io_device whose per-thread channel wraps the bdev channel and a
 * dev_pool of operation contexts (dev_pool.c): one context per operation
 * in flight, taken from the pool at submit and given back before the
 * caller's callback runs. The pool is sized for a deep queue and grows
 * only past a new high-water mark, so the steady state allocates nothing.
 * readv_ctx / writev_ctx (the blob data path) use the caller's lent
 * context instead (bs_dev.h) and complete straight to the caller, with
 * no pool get or put.
 *
 * Back-pressure. When the bdev layer has no bdev_io (-ENOMEM at submit),
 * the operation parks its own bdev_io_wait_entry (inside its context, so
 * no memory is needed) and is resubmitted, unchanged, when the thread
 * frees a bdev_io; it may park again. Nothing is lost or reordered per
 * wait entry, and the caller never sees -ENOMEM. Splitting of large
 * unmap / write-zeroes requests is the bdev layer's job, not ours.
 *
 * Errors. A submit the bdev layer refuses at once (-EINVAL for a bad
 * range or iovecs, -ENODEV while the bdev is going away) completes through
 * the pool's poller with that errno, never inline. A failed bdev_io
 * completes with -EIO. Flush on a bdev without a write cache, and unmap
 * on a bdev that cannot unmap, succeed with nothing sent: flush has
 * nothing to do, and unmap is only a hint that the blobstore never relies
 * on for zeroes (it writes zeroes where it needs them, spec §6).
 *
 * Events. The device opens the bdev with its own event callback: on
 * RESIZE it updates bs.blockcnt (bs_grow reads it), then forwards REMOVE
 * and RESIZE to the owner's callback, which on REMOVE must destroy the
 * device (closing the descriptor lets the removal finish).
 *
 * Threads. Create and destroy run on one thread (the app thread: the
 * descriptor must be closed on the thread that opened it); I/O runs on
 * any thread through that thread's channel. destroy() unregisters the
 * io_device; once the last channel is put, the claim is released, the
 * descriptor closed and the memory freed, on the destroying thread.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "lvstor/bdev.h"
#include "lvstor/bdev_module.h"
#include "lvstor/bs_dev.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "dev_pool.h"

/*
 * Operation contexts per channel at creation: a QD-128 workload whose
 * requests the blobstore splits on cluster boundaries into up to a few
 * children each, with room to spare. About 100 bytes each.
 */
#define BDEV_DEV_POOL_SIZE 512

enum bdev_op_type {
	OP_READ,
	OP_WRITE,
	OP_READV,
	OP_WRITEV,
	OP_WRITE_ZEROES,
	OP_UNMAP,
	OP_FLUSH,
};

struct bdev_dev {
	struct bs_dev bs;
	struct bdev *bdev;
	struct bdev_desc *desc;
	bool read_only;
	bool claimed;
	bs_dev_event_cb event_cb;
	void *event_ctx;
	struct thread *thread;            /* opened the descriptor: must close it */
};

struct bdev_dev_ch {
	struct dev_pool pool;
	struct bdev_dev *dev;
	struct io_channel *bdev_ch;
};

struct bdev_op {
	struct dev_req req;               /* first: the pool's view */
	struct bdev_dev_ch *ch;
	enum bdev_op_type type;
	void *buf;
	struct iovec *iov;
	int iovcnt;
	uint64_t lba;
	uint64_t count;
	struct bdev_io_wait_entry wait;   /* parked here after -ENOMEM */
};

_Static_assert(sizeof(struct bdev_op) <= sizeof(struct bs_dev_io_ctx),
	       "a lent context must hold a bdev_op");
_Static_assert(_Alignof(struct bdev_op) <= _Alignof(struct bs_dev_io_ctx),
	       "a lent context must be aligned for a bdev_op");

static struct bdev_dev *
to_bdev_dev(struct bs_dev *dev)
{
	return (struct bdev_dev *)dev;
}

static void
op_done(struct bdev_io *io, bool success, void *arg)
{
	struct bdev_op *op = arg;

	bdev_free_io(io);
	if (op->req.lent) {
		/* The bdev layer never calls back inside the submit: call on. */
		op->req.cb(op->req.cb_arg, success ? 0 : -EIO);
		return;
	}
	dev_pool_complete(&op->ch->pool, &op->req, success ? 0 : -EIO);
}

static void op_retry(void *arg);

/* The bdev layer refused op at submit with rc: wait for a bdev_io, or fail later. */
static void
op_refused(struct bdev_op *op, int rc)
{
	struct bdev_dev_ch *ch = op->ch;
	struct bdev_dev *dev = ch->dev;

	if (rc == -ENOMEM) {
		op->wait.bdev = dev->bdev;
		op->wait.cb_fn = op_retry;
		op->wait.cb_arg = op;
		if (bdev_queue_io_wait(dev->bdev, ch->bdev_ch, &op->wait) == 0)
			return;
	}
	dev_pool_complete_later(&ch->pool, &op->req, rc);
}

static void
op_submit(struct bdev_op *op)
{
	struct bdev_dev_ch *ch = op->ch;
	struct bdev_dev *dev = ch->dev;
	int rc;

	switch (op->type) {
	case OP_READ:
		rc = bdev_read(dev->desc, ch->bdev_ch, op->buf, op->lba, op->count, op_done, op);
		break;
	case OP_WRITE:
		rc = bdev_write(dev->desc, ch->bdev_ch, op->buf, op->lba, op->count, op_done, op);
		break;
	case OP_READV:
		rc = bdev_readv(dev->desc, ch->bdev_ch, op->iov, op->iovcnt, op->lba, op->count,
				op_done, op);
		break;
	case OP_WRITEV:
		rc = bdev_writev(dev->desc, ch->bdev_ch, op->iov, op->iovcnt, op->lba, op->count,
				 op_done, op);
		break;
	case OP_WRITE_ZEROES:
		rc = bdev_write_zeroes(dev->desc, ch->bdev_ch, op->lba, op->count, op_done, op);
		break;
	case OP_UNMAP:
		rc = bdev_unmap(dev->desc, ch->bdev_ch, op->lba, op->count, op_done, op);
		break;
	case OP_FLUSH:
		rc = bdev_flush(dev->desc, ch->bdev_ch, 0, dev->bs.blockcnt, op_done, op);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc != 0)
		op_refused(op, rc);
}

static void
op_retry(void *arg)
{
	op_submit(arg);
}

/* A context whose fields the caller sets, every one op_submit reads for `type`. */
static struct bdev_op *
op_take(struct bdev_dev_ch *ch, enum bdev_op_type type, bs_dev_cb cb, void *cb_arg)
{
	struct bdev_op *op = DEV_REQ(dev_pool_get(&ch->pool, cb, cb_arg), struct bdev_op);

	op->ch = ch;
	op->type = type;
	return op;
}

static struct bdev_op *
op_get(struct io_channel *ioch, enum bdev_op_type type, bs_dev_cb cb, void *cb_arg)
{
	struct bdev_op *op = op_take(io_channel_get_ctx(ioch), type, cb, cb_arg);

	op->buf = NULL;
	op->iov = NULL;
	op->iovcnt = 0;
	op->lba = 0;
	op->count = 0;
	return op;
}

/* Completes without sending anything (refused change, nothing to do). */
static void
op_finish_now(struct io_channel *ioch, bs_dev_cb cb, void *cb_arg, int rc)
{
	struct bdev_dev_ch *ch = io_channel_get_ctx(ioch);

	dev_pool_complete_later(&ch->pool, dev_pool_get(&ch->pool, cb, cb_arg), rc);
}

static void
bdev_dev_read(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	      uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct bdev_op *op = op_get(ch, OP_READ, cb, cb_arg);

	op->buf = payload;
	op->lba = lba;
	op->count = count;
	op_submit(op);
}

static void
bdev_dev_write(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	       uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct bdev_op *op;

	if (to_bdev_dev(dev)->read_only) {
		op_finish_now(ch, cb, cb_arg, -EPERM);
		return;
	}
	op = op_get(ch, OP_WRITE, cb, cb_arg);
	op->buf = payload;
	op->lba = lba;
	op->count = count;
	op_submit(op);
}

/* The blob data path's operations: straight to the bdev layer. */
static inline void
rw_submit(struct bs_dev *dev, struct bdev_dev_ch *dch, struct bdev_op *op, bool write,
	  struct iovec *iov, int iovcnt, uint64_t lba, uint32_t count)
{
	int rc;

	op->ch = dch;
	if (write)
		rc = bdev_writev(to_bdev_dev(dev)->desc, dch->bdev_ch, iov, iovcnt, lba, count,
				 op_done, op);
	else
		rc = bdev_readv(to_bdev_dev(dev)->desc, dch->bdev_ch, iov, iovcnt, lba, count,
				op_done, op);
	if (rc != 0) {
		/* What a resubmission after -ENOMEM needs (op_retry). */
		op->type = write ? OP_WRITEV : OP_READV;
		op->iov = iov;
		op->iovcnt = iovcnt;
		op->lba = lba;
		op->count = count;
		op_refused(op, rc);
	}
}

static void
bdev_dev_readv(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	       uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct bdev_dev_ch *dch = io_channel_get_ctx(ch);

	rw_submit(dev, dch, DEV_REQ(dev_pool_get(&dch->pool, cb, cb_arg), struct bdev_op), false,
		  iov, iovcnt, lba, count);
}

static void
bdev_dev_readv_ctx(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		   uint64_t lba, uint32_t count, struct bs_dev_io_ctx *ctx, bs_dev_cb cb,
		   void *cb_arg)
{
	rw_submit(dev, io_channel_get_ctx(ch), DEV_REQ(dev_pool_lend(ctx, cb, cb_arg),
		  struct bdev_op), false, iov, iovcnt, lba, count);
}

static void
bdev_dev_writev(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct bdev_dev_ch *dch;

	if (to_bdev_dev(dev)->read_only) {
		op_finish_now(ch, cb, cb_arg, -EPERM);
		return;
	}
	dch = io_channel_get_ctx(ch);
	rw_submit(dev, dch, DEV_REQ(dev_pool_get(&dch->pool, cb, cb_arg), struct bdev_op), true,
		  iov, iovcnt, lba, count);
}

static void
bdev_dev_writev_ctx(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		    uint64_t lba, uint32_t count, struct bs_dev_io_ctx *ctx, bs_dev_cb cb,
		    void *cb_arg)
{
	if (to_bdev_dev(dev)->read_only) {
		op_finish_now(ch, cb, cb_arg, -EPERM);
		return;
	}
	rw_submit(dev, io_channel_get_ctx(ch), DEV_REQ(dev_pool_lend(ctx, cb, cb_arg),
		  struct bdev_op), true, iov, iovcnt, lba, count);
}

static void
bdev_dev_write_zeroes(struct bs_dev *dev, struct io_channel *ch, uint64_t lba, uint64_t count,
		      bs_dev_cb cb, void *cb_arg)
{
	struct bdev_op *op;

	if (to_bdev_dev(dev)->read_only) {
		op_finish_now(ch, cb, cb_arg, -EPERM);
		return;
	}
	op = op_get(ch, OP_WRITE_ZEROES, cb, cb_arg);
	op->lba = lba;
	op->count = count;
	op_submit(op);
}

static void
bdev_dev_unmap(struct bs_dev *dev, struct io_channel *ch, uint64_t lba, uint64_t count,
	       bs_dev_cb cb, void *cb_arg)
{
	struct bdev_dev *bd = to_bdev_dev(dev);
	struct bdev_op *op;

	if (bd->read_only) {
		op_finish_now(ch, cb, cb_arg, -EPERM);
		return;
	}
	if (!bdev_io_type_supported(bd->bdev, BDEV_IO_TYPE_UNMAP)) {
		/* A hint the device cannot take; still check the range. */
		op_finish_now(ch, cb, cb_arg,
			      count > 0 && lba < dev->blockcnt && count <= dev->blockcnt - lba ?
			      0 : -EINVAL);
		return;
	}
	op = op_get(ch, OP_UNMAP, cb, cb_arg);
	op->lba = lba;
	op->count = count;
	op_submit(op);
}

static void
bdev_dev_flush(struct bs_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	struct bdev_dev *bd = to_bdev_dev(dev);

	if (bd->read_only || !bdev_io_type_supported(bd->bdev, BDEV_IO_TYPE_FLUSH)) {
		op_finish_now(ch, cb, cb_arg, 0);
		return;
	}
	op_submit(op_get(ch, OP_FLUSH, cb, cb_arg));
}

static struct bdev *
bdev_dev_get_base_bdev(struct bs_dev *dev)
{
	return to_bdev_dev(dev)->bdev;
}

/* ---- channels ----------------------------------------------------------- */

static int
bdev_dev_ch_create(void *io_device, void *ctx)
{
	struct bdev_dev *dev = io_device;
	struct bdev_dev_ch *ch = ctx;
	int rc;

	ch->dev = dev;
	ch->bdev_ch = bdev_get_io_channel(dev->desc);
	if (ch->bdev_ch == NULL)
		return -ENOMEM;
	rc = dev_pool_init(&ch->pool, sizeof(struct bdev_op), BDEV_DEV_POOL_SIZE, "bs_dev_bdev");
	if (rc != 0) {
		io_channel_put(ch->bdev_ch);
		ch->bdev_ch = NULL;
	}
	return rc;
}

static void
bdev_dev_ch_destroy(void *io_device, void *ctx)
{
	struct bdev_dev_ch *ch = ctx;

	dev_pool_fini(&ch->pool);
	io_channel_put(ch->bdev_ch);
	ch->bdev_ch = NULL;
}

static struct io_channel *
bdev_dev_create_channel(struct bs_dev *dev)
{
	return io_channel_get(dev);
}

static void
bdev_dev_destroy_channel(struct bs_dev *dev, struct io_channel *ch)
{
	io_channel_put(ch);
}

/* ---- life cycle ---------------------------------------------------------- */

static void
bdev_dev_free(void *io_device)
{
	struct bdev_dev *dev = io_device;

	if (dev->claimed)
		bdev_module_release_bdev(dev->bdev);
	bdev_close(dev->desc);
	free(dev);
}

static void
bdev_dev_destroy(struct bs_dev *dev)
{
	assert(to_bdev_dev(dev)->thread == thread_get_current());
	io_device_unregister(dev, bdev_dev_free);
}

static void
bdev_dev_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	struct bdev_dev *dev = ctx;

	if (type == BDEV_EVENT_RESIZE)
		dev->bs.blockcnt = bdev_get_num_blocks(bdev);
	if (dev->event_cb != NULL)
		dev->event_cb(type, bdev, dev->event_ctx);
}

static int
create(const char *name, struct bdev_module *claim_module, bool read_only,
       bs_dev_event_cb event_cb, void *event_ctx, struct bs_dev **out)
{
	struct bdev_dev *dev;
	int rc;

	if (name == NULL || out == NULL || (!read_only && claim_module == NULL))
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return -ENOMEM;
	dev->read_only = read_only;
	dev->event_cb = event_cb;
	dev->event_ctx = event_ctx;
	dev->thread = thread_get_current();
	rc = bdev_open(name, !read_only, bdev_dev_event, dev, &dev->desc);
	if (rc != 0) {
		free(dev);
		return rc;
	}
	dev->bdev = bdev_desc_get_bdev(dev->desc);
	if (!read_only) {
		rc = bdev_module_claim_bdev(dev->bdev, dev->desc, claim_module);
		if (rc != 0) {
			bdev_close(dev->desc);
			free(dev);
			return rc;
		}
		dev->claimed = true;
	}
	dev->bs.blocklen = bdev_get_block_size(dev->bdev);
	dev->bs.blockcnt = bdev_get_num_blocks(dev->bdev);
	dev->bs.phys_blocklen = bdev_get_physical_block_size(dev->bdev);
	dev->bs.create_channel = bdev_dev_create_channel;
	dev->bs.destroy_channel = bdev_dev_destroy_channel;
	dev->bs.destroy = bdev_dev_destroy;
	dev->bs.read = bdev_dev_read;
	dev->bs.write = bdev_dev_write;
	dev->bs.readv = bdev_dev_readv;
	dev->bs.writev = bdev_dev_writev;
	dev->bs.readv_ctx = bdev_dev_readv_ctx;
	dev->bs.writev_ctx = bdev_dev_writev_ctx;
	dev->bs.write_zeroes = bdev_dev_write_zeroes;
	dev->bs.unmap = bdev_dev_unmap;
	dev->bs.flush = bdev_dev_flush;
	dev->bs.is_zeroes = NULL;
	dev->bs.get_base_bdev = bdev_dev_get_base_bdev;
	io_device_register(dev, bdev_dev_ch_create, bdev_dev_ch_destroy,
			   sizeof(struct bdev_dev_ch), "bs_dev_bdev");
	*out = &dev->bs;
	return 0;
}

int
bs_dev_bdev_create(const char *name, struct bdev_module *claim_module,
		   bs_dev_event_cb event_cb, void *event_ctx, struct bs_dev **dev)
{
	return create(name, claim_module, false, event_cb, event_ctx, dev);
}

int
bs_dev_bdev_create_ro(const char *name, bs_dev_event_cb event_cb, void *event_ctx,
		      struct bs_dev **dev)
{
	return create(name, NULL, true, event_cb, event_ctx, dev);
}
