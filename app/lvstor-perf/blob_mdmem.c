/*
 * lvstor-perf/blob_mdmem.c: a bs_dev that keeps the blobstore's metadata
 * region in memory and passes everything else to a bdev's bs_dev, so that
 * `--blob` can run on a null bdev.
 *
 * Why. A null bdev stores nothing: a read leaves the caller's buffer as it
 * was (doc/bdev-backends.md). A blobstore on it initialises fine, but the
 * first metadata read (opening the blob just created) finds no valid page
 * and fails. Yet null is the back end that shows what the blob layer
 * itself costs, with nothing behind it. So for a null bdev the tool puts
 * this device in between: blocks [0, md_blocks) -- the super block, the
 * masks and the metadata pages, which the store lays out before the first
 * data cluster -- live in an anonymous zeroed mapping; every operation at
 * or past md_blocks goes straight to the bdev's device, on the caller's
 * channel (which is the bdev device's own channel: create_channel
 * forwards). A data I/O therefore costs one extra call and one compare
 * over the plain bdev device; doc/benchmarks-notes.md counts it.
 *
 * md_blocks starts as a generous upper bound of the metadata region (set
 * before bs_init, when the layout is not known yet) and is lowered to the
 * exact end of the region once the store exists (perf_mdmem_set_limit):
 * right after bs_init every used cluster is a metadata cluster. An
 * operation that straddles the boundary cannot happen once the limit is a
 * cluster boundary (the store never crosses one in a data I/O); before
 * that only metadata is written. It is refused with -EINVAL anyway.
 *
 * Completions of in-memory operations are sent to the calling thread as a
 * message, never run inside the call (the bs_dev contract). They allocate
 * a small context: this is the metadata path (init, create, open,
 * allocation commits, unload), never the data path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lvstor/bs_dev.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "perf.h"

struct mdmem_dev {
	struct bs_dev bs;           /* first: the blobstore's view */
	struct bs_dev *inner;       /* the bdev's device: data and flush */
	uint8_t *mem;               /* md_bytes of zeroed anonymous memory */
	size_t mem_bytes;
	uint64_t md_blocks;         /* blocks below this are in mem */
};

struct mdmem_done {
	bs_dev_cb cb;
	void *cb_arg;
	int rc;
};

static struct mdmem_dev *
to_mdmem(struct bs_dev *dev)
{
	return (struct mdmem_dev *)dev;
}

static void
done_msg(void *arg)
{
	struct mdmem_done d = *(struct mdmem_done *)arg;

	free(arg);
	d.cb(d.cb_arg, d.rc);
}

static void
complete_later(bs_dev_cb cb, void *cb_arg, int rc)
{
	struct mdmem_done *d = malloc(sizeof(*d));

	if (d == NULL || (d->cb = cb, d->cb_arg = cb_arg, d->rc = rc,
			  thread_send_msg(thread_get_current(), done_msg, d) != 0)) {
		/* Nowhere to keep the callback: losing it would hang the run. */
		fprintf(stderr, "lvstor-perf: out of memory completing a metadata I/O\n");
		abort();
	}
}

/* 1: the range is in memory, 0: on the bdev, -1: straddles or out of range. */
static inline int
where(const struct mdmem_dev *d, uint64_t lba, uint64_t count)
{
	/* Data first, with one compare: the bdev's device checks its own range. */
	if (__builtin_expect(lba >= d->md_blocks, 1))
		return 0;
	return count != 0 && count <= d->md_blocks - lba ? 1 : -1;
}

static uint8_t *
mem_at(const struct mdmem_dev *d, uint64_t lba)
{
	return d->mem + lba * d->bs.blocklen;
}

static void
iov_copy(struct iovec *iov, int iovcnt, uint8_t *mem, size_t len, bool to_mem)
{
	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_mem)
			memcpy(mem, iov[i].iov_base, n);
		else
			memcpy(iov[i].iov_base, mem, n);
		mem += n;
		len -= n;
	}
}

static void
mdmem_read(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	   uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);
	int w = where(d, lba, count);

	if (w == 0) {
		d->inner->read(d->inner, ch, payload, lba, count, cb, cb_arg);
		return;
	}
	if (w == 1)
		memcpy(payload, mem_at(d, lba), (size_t)count * dev->blocklen);
	complete_later(cb, cb_arg, w == 1 ? 0 : -EINVAL);
}

static void
mdmem_write(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	    uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);
	int w = where(d, lba, count);

	if (w == 0) {
		d->inner->write(d->inner, ch, payload, lba, count, cb, cb_arg);
		return;
	}
	if (w == 1)
		memcpy(mem_at(d, lba), payload, (size_t)count * dev->blocklen);
	complete_later(cb, cb_arg, w == 1 ? 0 : -EINVAL);
}

static void
mdmem_readv(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	    uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);
	int w = where(d, lba, count);

	if (w == 0) {
		d->inner->readv(d->inner, ch, iov, iovcnt, lba, count, cb, cb_arg);
		return;
	}
	if (w == 1)
		iov_copy(iov, iovcnt, mem_at(d, lba), (size_t)count * dev->blocklen, false);
	complete_later(cb, cb_arg, w == 1 ? 0 : -EINVAL);
}

static void
mdmem_writev(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	     uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);
	int w = where(d, lba, count);

	if (w == 0) {
		d->inner->writev(d->inner, ch, iov, iovcnt, lba, count, cb, cb_arg);
		return;
	}
	if (w == 1)
		iov_copy(iov, iovcnt, mem_at(d, lba), (size_t)count * dev->blocklen, true);
	complete_later(cb, cb_arg, w == 1 ? 0 : -EINVAL);
}

/* Data I/O with a lent context (bs_dev.h): forwarded to the bdev's device as is. */
static void
mdmem_readv_ctx(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		uint64_t lba, uint32_t count, struct bs_dev_io_ctx *ctx, bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);

	if (where(d, lba, count) == 0)
		d->inner->readv_ctx(d->inner, ch, iov, iovcnt, lba, count, ctx, cb, cb_arg);
	else
		mdmem_readv(dev, ch, iov, iovcnt, lba, count, cb, cb_arg);
}

static void
mdmem_writev_ctx(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		 uint64_t lba, uint32_t count, struct bs_dev_io_ctx *ctx, bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);

	if (where(d, lba, count) == 0)
		d->inner->writev_ctx(d->inner, ch, iov, iovcnt, lba, count, ctx, cb, cb_arg);
	else
		mdmem_writev(dev, ch, iov, iovcnt, lba, count, cb, cb_arg);
}

static void
mdmem_write_zeroes(struct bs_dev *dev, struct io_channel *ch, uint64_t lba, uint64_t count,
		   bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);
	int w = where(d, lba, count);

	if (w == 0) {
		d->inner->write_zeroes(d->inner, ch, lba, count, cb, cb_arg);
		return;
	}
	if (w == 1)
		memset(mem_at(d, lba), 0, (size_t)count * dev->blocklen);
	complete_later(cb, cb_arg, w == 1 ? 0 : -EINVAL);
}

static void
mdmem_unmap(struct bs_dev *dev, struct io_channel *ch, uint64_t lba, uint64_t count,
	    bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);
	int w = where(d, lba, count);

	if (w == 0) {
		d->inner->unmap(d->inner, ch, lba, count, cb, cb_arg);
		return;
	}
	/* Unmapped metadata reads as zeroes, like a malloc bdev's. */
	if (w == 1)
		memset(mem_at(d, lba), 0, (size_t)count * dev->blocklen);
	complete_later(cb, cb_arg, w == 1 ? 0 : -EINVAL);
}

static void
mdmem_flush(struct bs_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	struct mdmem_dev *d = to_mdmem(dev);

	/* Memory is as durable as it gets; the bdev's part is flushed for real. */
	d->inner->flush(d->inner, ch, cb, cb_arg);
}

static struct io_channel *
mdmem_create_channel(struct bs_dev *dev)
{
	struct mdmem_dev *d = to_mdmem(dev);

	return d->inner->create_channel(d->inner);
}

static void
mdmem_destroy_channel(struct bs_dev *dev, struct io_channel *ch)
{
	struct mdmem_dev *d = to_mdmem(dev);

	d->inner->destroy_channel(d->inner, ch);
}

static struct bdev *
mdmem_get_base_bdev(struct bs_dev *dev)
{
	struct mdmem_dev *d = to_mdmem(dev);

	return d->inner->get_base_bdev ? d->inner->get_base_bdev(d->inner) : NULL;
}

static void
mdmem_destroy(struct bs_dev *dev)
{
	struct mdmem_dev *d = to_mdmem(dev);

	d->inner->destroy(d->inner);
	munmap(d->mem, d->mem_bytes);
	free(d);
}

struct bs_dev *
perf_mdmem_create(struct bs_dev *inner, uint64_t md_bytes_max)
{
	struct mdmem_dev *d;
	uint64_t dev_bytes = inner->blockcnt * inner->blocklen;

	if (md_bytes_max > dev_bytes)
		md_bytes_max = dev_bytes;
	md_bytes_max -= md_bytes_max % inner->blocklen;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	/* Anonymous memory: zero, and taken from the system only where written. */
	d->mem = mmap(NULL, md_bytes_max, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (d->mem == MAP_FAILED) {
		free(d);
		return NULL;
	}
	d->mem_bytes = md_bytes_max;
	d->md_blocks = md_bytes_max / inner->blocklen;
	d->inner = inner;
	d->bs.blockcnt = inner->blockcnt;
	d->bs.blocklen = inner->blocklen;
	d->bs.phys_blocklen = inner->phys_blocklen;
	d->bs.create_channel = mdmem_create_channel;
	d->bs.destroy_channel = mdmem_destroy_channel;
	d->bs.destroy = mdmem_destroy;
	d->bs.read = mdmem_read;
	d->bs.write = mdmem_write;
	d->bs.readv = mdmem_readv;
	d->bs.writev = mdmem_writev;
	if (inner->readv_ctx != NULL && inner->writev_ctx != NULL) {
		d->bs.readv_ctx = mdmem_readv_ctx;
		d->bs.writev_ctx = mdmem_writev_ctx;
	}
	d->bs.write_zeroes = mdmem_write_zeroes;
	d->bs.unmap = mdmem_unmap;
	d->bs.flush = mdmem_flush;
	d->bs.get_base_bdev = mdmem_get_base_bdev;
	return &d->bs;
}

int
perf_mdmem_set_limit(struct bs_dev *dev, uint64_t md_bytes)
{
	struct mdmem_dev *d = to_mdmem(dev);
	uint64_t blocks = md_bytes / dev->blocklen;

	if (md_bytes % dev->blocklen != 0 || blocks > d->md_blocks)
		return -ERANGE;
	d->md_blocks = blocks;
	return 0;
}
