/*
 * lib/blob/dev_mem.c: a bs_dev held in process memory, for unit tests and
 * tools (bs_dev_mem_create, bs_dev_mem_data).
 *
 * The bytes are one private anonymous mapping made with MAP_NORESERVE:
 * untouched pages read as zeroes and cost nothing, so a test can make a
 * 1 GiB device and pay only for the pages it writes. (Unlike the malloc
 * bdev, which refuses a disk larger than RAM + swap at creation, a test
 * device is trusted to stay small in practice; NORESERVE lets many of them
 * exist at once.) Zeroing large ranges gives whole pages back with
 * madvise(MADV_DONTNEED), after which they read as zeroes again.
 *
 * Every operation does its work at once, inside the submitting call, and
 * completes through the channel's dev_pool: the callback runs later, from
 * a poller of the channel's thread, never before the call returns. A test
 * therefore sees exactly the asynchrony a real device has (it must poll
 * its threads), while the data is already in place: a read submitted after
 * a write's submit sees that write, as with a bdev that completes in
 * order. Flush has nothing to do: this memory is the medium.
 *
 * Invariants:
 *  - data maps exactly len = blockcnt * blocklen bytes from creation until
 *    the io_device is gone.
 *  - Every operation is range-checked before any byte moves: zero blocks,
 *    a range past the end (overflow included) or iovecs whose lengths do
 *    not add up to exactly lba_count * blocklen complete with -EINVAL and
 *    touch nothing, as the bdev layer would. The blobstore's tests thus
 *    catch an out-of-range request here rather than on a real disk.
 *  - Channels are per thread (one io_device per device, the device
 *    pointer), and hold only the completion pool.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lvstor/bs_dev.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "dev_pool.h"

/*
 * Smallest zeroed range worth madvise() rather than memset: below about
 * this size the system call and the TLB flush cost more than writing the
 * zeroes.
 */
#define MEM_DONTNEED_MIN (256u * 1024u)
/*
 * Completion contexts per channel at creation (the pool grows if a test
 * keeps more in flight). Each is a few dozen bytes.
 */
#define MEM_POOL_SIZE 64

struct mem_dev {
	struct bs_dev bs;
	uint8_t *data;
	size_t len;
	size_t page;
};

struct mem_ch {
	struct dev_pool pool;
};

static void mem_destroy(struct bs_dev *dev);

static struct mem_dev *
to_mem(struct bs_dev *dev)
{
	return (struct mem_dev *)dev;
}

static bool
range_ok(const struct bs_dev *dev, uint64_t lba, uint64_t count)
{
	return count > 0 && lba < dev->blockcnt && count <= dev->blockcnt - lba;
}

static bool
iov_len_ok(const struct iovec *iov, int iovcnt, uint64_t want)
{
	uint64_t total = 0;
	int i;

	if (iovcnt <= 0 || iov == NULL)
		return false;
	for (i = 0; i < iovcnt; i++) {
		total += iov[i].iov_len;
		if (total > want)
			return false;
	}
	return total == want;
}

static void
finish(struct io_channel *ch, bs_dev_cb cb, void *cb_arg, int rc)
{
	struct mem_ch *mch = io_channel_get_ctx(ch);

	dev_pool_complete_later(&mch->pool, dev_pool_get(&mch->pool, cb, cb_arg), rc);
}

static void
zero_range(struct mem_dev *m, size_t off, size_t len)
{
	uint8_t *p = m->data + off;
	size_t head, body;

	if (len < MEM_DONTNEED_MIN) {
		memset(p, 0, len);
		return;
	}
	/* Partial pages at either end by memset, whole pages returned. */
	head = (m->page - ((uintptr_t)p & (m->page - 1))) & (m->page - 1);
	body = (len - head) & ~(m->page - 1);
	memset(p, 0, head);
	if (madvise(p + head, body, MADV_DONTNEED) != 0)
		memset(p + head, 0, body);
	memset(p + head + body, 0, len - head - body);
}

static void
mem_rw(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
       uint64_t lba, uint64_t count, bool write, bs_dev_cb cb, void *cb_arg)
{
	struct mem_dev *m = to_mem(dev);
	uint8_t *p;
	int i;

	if (!range_ok(dev, lba, count) || !iov_len_ok(iov, iovcnt, count * dev->blocklen)) {
		finish(ch, cb, cb_arg, -EINVAL);
		return;
	}
	p = m->data + lba * dev->blocklen;
	for (i = 0; i < iovcnt; i++) {
		if (write)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, p, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	finish(ch, cb, cb_arg, 0);
}

static void
mem_read(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	 uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct iovec iov = { payload, (size_t)count * dev->blocklen };

	mem_rw(dev, ch, &iov, 1, lba, count, false, cb, cb_arg);
}

static void
mem_write(struct bs_dev *dev, struct io_channel *ch, void *payload, uint64_t lba,
	  uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct iovec iov = { payload, (size_t)count * dev->blocklen };

	mem_rw(dev, ch, &iov, 1, lba, count, true, cb, cb_arg);
}

static void
mem_readv(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	  uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	mem_rw(dev, ch, iov, iovcnt, lba, count, false, cb, cb_arg);
}

static void
mem_writev(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
	   uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	mem_rw(dev, ch, iov, iovcnt, lba, count, true, cb, cb_arg);
}

static void
mem_zero(struct bs_dev *dev, struct io_channel *ch, uint64_t lba, uint64_t count,
	 bs_dev_cb cb, void *cb_arg)
{
	if (!range_ok(dev, lba, count)) {
		finish(ch, cb, cb_arg, -EINVAL);
		return;
	}
	zero_range(to_mem(dev), lba * dev->blocklen, count * dev->blocklen);
	finish(ch, cb, cb_arg, 0);
}

static void
mem_flush(struct bs_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	finish(ch, cb, cb_arg, 0);
}

static int
mem_ch_create(void *io_device, void *ctx)
{
	struct mem_ch *mch = ctx;

	return dev_pool_init(&mch->pool, sizeof(struct dev_req), MEM_POOL_SIZE, "bs_dev_mem");
}

static void
mem_ch_destroy(void *io_device, void *ctx)
{
	struct mem_ch *mch = ctx;

	dev_pool_fini(&mch->pool);
}

static struct io_channel *
mem_create_channel(struct bs_dev *dev)
{
	return io_channel_get(dev);
}

static void
mem_destroy_channel(struct bs_dev *dev, struct io_channel *ch)
{
	io_channel_put(ch);
}

static void
mem_free(void *io_device)
{
	struct mem_dev *m = io_device;

	munmap(m->data, m->len);
	free(m);
}

static void
mem_destroy(struct bs_dev *dev)
{
	io_device_unregister(dev, mem_free);
}

struct bs_dev *
bs_dev_mem_create(uint64_t blockcnt, uint32_t blocklen)
{
	struct mem_dev *m;
	long page = sysconf(_SC_PAGESIZE);

	if (blockcnt == 0 || blocklen == 0 || blockcnt > SIZE_MAX / blocklen) {
		LOG_ERR("bs_dev_mem: bad geometry %lu x %u", (unsigned long)blockcnt, blocklen);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->len = (size_t)blockcnt * blocklen;
	m->page = page > 0 ? (size_t)page : 4096;
	m->data = mmap(NULL, m->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->data == MAP_FAILED) {
		free(m);
		return NULL;
	}
	m->bs.blockcnt = blockcnt;
	m->bs.blocklen = blocklen;
	m->bs.phys_blocklen = 0;
	m->bs.create_channel = mem_create_channel;
	m->bs.destroy_channel = mem_destroy_channel;
	m->bs.destroy = mem_destroy;
	m->bs.read = mem_read;
	m->bs.write = mem_write;
	m->bs.readv = mem_readv;
	m->bs.writev = mem_writev;
	m->bs.write_zeroes = mem_zero;
	m->bs.unmap = mem_zero;
	m->bs.flush = mem_flush;
	m->bs.is_zeroes = NULL;
	m->bs.get_base_bdev = NULL;
	io_device_register(m, mem_ch_create, mem_ch_destroy, sizeof(struct mem_ch), "bs_dev_mem");
	return &m->bs;
}

uint8_t *
bs_dev_mem_data(struct bs_dev *dev)
{
	if (dev == NULL || dev->destroy != mem_destroy)
		return NULL;
	return to_mem(dev)->data;
}
