/*
 * lib/blob/dev_zeroes.c: a read-only bs_dev that reads as zeroes
 * (bs_dev_zeroes_create). It is the "parent" of a thin blob that has no
 * snapshot: reads of clusters the blob never wrote come here, and
 * is_zeroes() lets the blobstore skip even that and fill zeroes itself.
 *
 * It holds no data, so it costs one small struct whatever its size
 * (callers may pass UINT64_MAX blocks: a thin blob's parent must cover
 * any size the blob may grow to).
 *
 * Invariants:
 *  - It never accepts a change: write, writev, write_zeroes and unmap
 *    complete with -EPERM (a blobstore that writes to its zero parent has
 *    a bug, and an error finds it where silently dropping would not).
 *    Flush has nothing to make durable and succeeds.
 *  - Reads are range-checked like every bs_dev (-EINVAL for zero blocks, a
 *    range past the end or iovecs that do not add up); a valid read fills
 *    every byte of the caller's buffers with zeroes.
 *  - Like the other devices it has real per-thread channels (its own
 *    io_device) so that callers treat every bs_dev alike; a channel holds
 *    only the pool that defers completions past the submitting call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/bs_dev.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "dev_pool.h"

/* Completion contexts per channel at creation (grows if needed). */
#define ZEROES_POOL_SIZE 64

struct zeroes_ch {
	struct dev_pool pool;
};

static bool
range_ok(const struct bs_dev *dev, uint64_t lba, uint64_t count)
{
	return count > 0 && lba < dev->blockcnt && count <= dev->blockcnt - lba;
}

static void
finish(struct io_channel *ch, bs_dev_cb cb, void *cb_arg, int rc)
{
	struct zeroes_ch *zch = io_channel_get_ctx(ch);

	dev_pool_complete_later(&zch->pool, dev_pool_get(&zch->pool, cb, cb_arg), rc);
}

static void
zeroes_readv(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	     uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	uint64_t want = (uint64_t)count * dev->blocklen, total = 0;
	int i;

	if (!range_ok(dev, lba, count) || iov == NULL || iovcnt <= 0) {
		finish(ch, cb, cb_arg, -EINVAL);
		return;
	}
	for (i = 0; i < iovcnt; i++) {
		total += iov[i].iov_len;
		if (total > want)
			break;
	}
	if (total != want) {
		finish(ch, cb, cb_arg, -EINVAL);
		return;
	}
	for (i = 0; i < iovcnt; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
	finish(ch, cb, cb_arg, 0);
}

static void
zeroes_read(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	    uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct iovec iov = { payload, (size_t)count * dev->blocklen };

	zeroes_readv(dev, ch, &iov, 1, lba, count, cb, cb_arg);
}

static void
zeroes_write(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	     uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	finish(ch, cb, cb_arg, -EPERM);
}

static void
zeroes_writev(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	      uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	finish(ch, cb, cb_arg, -EPERM);
}

static void
zeroes_zero(struct bs_dev *dev, struct io_channel *ch, uint64_t lba, uint64_t count,
	    bs_dev_cb cb, void *cb_arg)
{
	finish(ch, cb, cb_arg, -EPERM);
}

static void
zeroes_flush(struct bs_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	finish(ch, cb, cb_arg, 0);
}

static bool
zeroes_is_zeroes(struct bs_dev *dev, uint64_t lba, uint64_t count)
{
	return true;
}

static int
zeroes_ch_create(void *io_device, void *ctx)
{
	struct zeroes_ch *zch = ctx;

	return dev_pool_init(&zch->pool, sizeof(struct dev_req), ZEROES_POOL_SIZE,
			     "bs_dev_zeroes");
}

static void
zeroes_ch_destroy(void *io_device, void *ctx)
{
	struct zeroes_ch *zch = ctx;

	dev_pool_fini(&zch->pool);
}

static struct io_channel *
zeroes_create_channel(struct bs_dev *dev)
{
	return io_channel_get(dev);
}

static void
zeroes_destroy_channel(struct bs_dev *dev, struct io_channel *ch)
{
	io_channel_put(ch);
}

static void
zeroes_free(void *io_device)
{
	free(io_device);
}

static void
zeroes_destroy(struct bs_dev *dev)
{
	io_device_unregister(dev, zeroes_free);
}

struct bs_dev *
bs_dev_zeroes_create(uint64_t blockcnt, uint32_t blocklen)
{
	struct bs_dev *dev;

	if (blockcnt == 0 || blocklen == 0) {
		LOG_ERR("bs_dev_zeroes: bad geometry %lu x %u", (unsigned long)blockcnt, blocklen);
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return NULL;
	dev->blockcnt = blockcnt;
	dev->blocklen = blocklen;
	dev->create_channel = zeroes_create_channel;
	dev->destroy_channel = zeroes_destroy_channel;
	dev->destroy = zeroes_destroy;
	dev->read = zeroes_read;
	dev->write = zeroes_write;
	dev->readv = zeroes_readv;
	dev->writev = zeroes_writev;
	dev->write_zeroes = zeroes_zero;
	dev->unmap = zeroes_zero;
	dev->flush = zeroes_flush;
	dev->is_zeroes = zeroes_is_zeroes;
	dev->get_base_bdev = NULL;
	io_device_register(dev, zeroes_ch_create, zeroes_ch_destroy, sizeof(struct zeroes_ch),
			   "bs_dev_zeroes");
	return dev;
}
