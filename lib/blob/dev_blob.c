/*
 * lib/blob/dev_blob.c: a blob seen as a read-only bs_dev
 * (bs_dev_blob_create): the back device of a clone is its parent
 * snapshot. Blocks are the parent's io units; a read goes through the
 * parent's own data path (io.c), so it follows the chain down to any
 * depth, reads external snapshots, and returns zeroes for what no blob of
 * the chain allocated and for offsets past the parent's end (spec §5.3).
 *
 * The blobstore's own I/O does not come through here: io.c walks the
 * chain through blob->parent directly (no request per level). This
 * device is for code that wants "the parent" as an ordinary bs_dev.
 *
 * Channels are the store's blob channels (bs_alloc_io_channel on the
 * parent's store), so a read takes one request from that thread's pool.
 *
 * Invariants:
 *  - The device holds one open reference on the parent (handed over by
 *    the creator) and drops it in destroy(), on the md thread.
 *  - Nothing is ever written: write, writev, write_zeroes and unmap
 *    complete with -EPERM (a snapshot is read-only; writing to it through
 *    its clone would corrupt every other clone). Flush succeeds.
 *  - blockcnt covers the whole address space (a clone may be larger than
 *    its parent); reads past the parent's end are zeroes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "blob_internal.h"
#include "request.h"

struct blob_dev {
	struct bs_dev bs;
	struct blob *blob;
};

static void blob_dev_destroy(struct bs_dev *dev);

static struct blob *
to_blob(struct bs_dev *dev)
{
	return ((struct blob_dev *)dev)->blob;
}

struct blob *
bs_dev_blob_get_blob(const struct bs_dev *dev)
{
	if (dev == NULL || dev->destroy != blob_dev_destroy)
		return NULL;
	return ((const struct blob_dev *)dev)->blob;
}

static struct io_channel *
blob_dev_create_channel(struct bs_dev *dev)
{
	return bs_alloc_io_channel(to_blob(dev)->bs);
}

static void
blob_dev_destroy_channel(struct bs_dev *dev, struct io_channel *ch)
{
	bs_free_io_channel(ch);
}

static void
close_done(void *cb_arg, int rc)
{
	if (rc != 0)
		LOG_ERR("blob device: closing the parent blob failed: %d", rc);
}

static void
blob_dev_destroy(struct bs_dev *dev)
{
	struct blob *blob = to_blob(dev);

	free(dev);
	blob_close(blob, close_done, NULL);
}

/*
 * bs_dev_cb and blob_op_complete have the same shape, so the caller's
 * callback is handed straight to the blob layer, which calls it on this
 * thread after the submit returns.
 */
static void
blob_dev_readv(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	       uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	blob_io_readv_past_end(to_blob(dev), ch, iov, iovcnt, lba, count, cb, cb_arg);
}

/*
 * The single-buffer read needs an iovec that lives until completion, and
 * a bs_dev carries nothing per operation: so it rides in the request as
 * the payload of blob_io_read, whose bounds check would refuse offsets
 * past the parent's end. Those we answer ourselves: the part past the end
 * is zeroed here and only the part inside is read.
 */
static void
blob_dev_read(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	      uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct blob *blob = to_blob(dev);
	uint64_t units = blob_get_num_io_units(blob);
	uint64_t inside = lba >= units ? 0 : (units - lba < count ? units - lba : count);

	if (inside < count)
		memset((uint8_t *)payload + inside * dev->blocklen, 0,
		       (size_t)(count - inside) * dev->blocklen);
	/* A zero-length read still completes through the channel, later. */
	blob_io_read(blob, ch, payload, inside > 0 ? lba : 0, inside, cb, cb_arg);
}

static void
blob_dev_refuse(struct bs_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	blob_io_complete_later(to_blob(dev), ch, -EPERM, cb, cb_arg);
}

static void
blob_dev_write(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	       uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	blob_dev_refuse(dev, ch, cb, cb_arg);
}

static void
blob_dev_writev(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	blob_dev_refuse(dev, ch, cb, cb_arg);
}

static void
blob_dev_write_zeroes(struct bs_dev *dev, struct io_channel *ch, uint64_t lba,
		      uint64_t count, bs_dev_cb cb, void *cb_arg)
{
	blob_dev_refuse(dev, ch, cb, cb_arg);
}

static void
blob_dev_flush(struct bs_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	/* Nothing of ours to make durable: complete later through the channel. */
	blob_io_complete_later(to_blob(dev), ch, 0, cb, cb_arg);
}

static bool
blob_dev_is_zeroes(struct bs_dev *dev, uint64_t lba, uint64_t count)
{
	struct blob *blob = to_blob(dev);
	uint64_t upc = blob->bs->io_units_per_cluster;
	uint64_t slot, first, last;
	struct blob_src src;

	if (count == 0)
		return true;
	first = lba / upc;
	last = (lba + count - 1) / upc;
	for (slot = first; slot <= last; slot++) {
		if (slot >= blob_get_num_clusters(blob))
			return true;        /* the rest is past the end */
		if (__atomic_load_n(&blob->active.clusters[slot], __ATOMIC_ACQUIRE) != 0)
			return false;
		if (blob_resolve_src(blob, slot, &src) != 0 || src.kind != BLOB_SRC_ZERO)
			return false;
	}
	return true;
}

struct bs_dev *
bs_dev_blob_create(struct blob *parent)
{
	struct blob_dev *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->blob = parent;
	d->bs.blocklen = parent->bs->io_unit_size;
	d->bs.blockcnt = UINT64_MAX / parent->bs->io_unit_size;
	d->bs.phys_blocklen = 0;
	d->bs.create_channel = blob_dev_create_channel;
	d->bs.destroy_channel = blob_dev_destroy_channel;
	d->bs.destroy = blob_dev_destroy;
	d->bs.read = blob_dev_read;
	d->bs.write = blob_dev_write;
	d->bs.readv = blob_dev_readv;
	d->bs.writev = blob_dev_writev;
	d->bs.write_zeroes = blob_dev_write_zeroes;
	d->bs.unmap = blob_dev_write_zeroes;
	d->bs.flush = blob_dev_flush;
	d->bs.is_zeroes = blob_dev_is_zeroes;
	d->bs.get_base_bdev = NULL;
	return &d->bs;
}
