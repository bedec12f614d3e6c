/*
 * The fault-injecting bs_dev (see ut_fault_dev.h for the model and a
 * crash sweep). This file is linked into every unit test, so it uses only
 * public headers and lib/thread; the helpers that need lib/blob are
 * static inline in the header.
 *
 * How it works:
 *  - Write-through mode forwards every operation to the base device on
 *    the base channel wrapped inside this device's channel, and counts.
 *  - With drop_unflushed, `shadow` is the device as the host sees it: a
 *    write lands there (and the blocks become known and dirty), a read is
 *    served from the base and then overlaid with the known blocks, a flush
 *    writes the dirty blocks to the base and flushes it. "Known" is what
 *    makes a read right while a flush is in progress: a block the base
 *    holds but that was ever written here is always taken from the shadow,
 *    and a block never written here is never changed in the base by us.
 *    A third bitmap records blocks whose cached content is zeroes, so
 *    that zeroing a large range (a store's creation unmaps its whole data
 *    area) reaches the base as write_zeroes, not as megabytes of copies,
 *    and costs no shadow memory (madvise).
 *  - The cut: the power flag drops, then with torn_writes a PRNG picks the
 *    atomic units that survive: of the dirty blocks (with drop_unflushed),
 *    then of the write that triggered the cut (newest last, so it wins
 *    where both survive). Survivors are written to the base through the
 *    current thread's base channel; those internal writes are counted
 *    separately and the device's memory is freed only after they are done.
 *
 * Invariants:
 *  - Nothing reaches the base after the cut except the torn survivors
 *    chosen at the cut itself.
 *  - Every user operation completes exactly once, with -EIO if the power
 *    went before its completion, and never before its submit returns
 *    (own answers go by thread_send_msg; forwarded ones complete from the
 *    base's completion, itself deferred).
 *  - Bounds and iovec lengths are checked here before the shadow is
 *    touched (-EINVAL), like every bs_dev.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lvstor/thread.h"
#include "ut_fault_dev.h"

/* Blocks per write sent to the base from the cache (bs_dev counts are 32-bit). */
#define FAULT_MAX_RUN 65536u
/* Zeroing the shadow by madvise from this many bytes up (cheaper than memset). */
#define FAULT_DONTNEED_MIN (256u * 1024u)

struct fault_dev {
	struct bs_dev bs;
	struct bs_dev *base;
	struct ut_fault_dev_opts opts;
	uint32_t unit_blocks;
	bool powered;
	uint64_t writes;
	uint64_t flushes;
	uint64_t cut_after;
	uint64_t fail_at[UT_FAULT_NUM_KINDS];
	int fail_rc[UT_FAULT_NUM_KINDS];
	uint64_t rng;
	/* The volatile cache (drop_unflushed only). */
	uint8_t *shadow;
	size_t len;
	uint64_t *known, *dirty, *zero;
	uint64_t ndirty;
	/* The torn write's data, kept until the device is freed. */
	uint8_t *torn_buf;
	/* Internal writes to the base not yet completed. */
	uint64_t internal_inflight;
	bool freeing;
};

struct fault_ch {
	struct io_channel *base_ch;
};

enum wkind { W_DATA, W_ZEROES, W_UNMAP };

struct fop {
	struct fault_dev *dev;
	struct io_channel *ch;
	bs_dev_cb cb;
	void *cb_arg;
	int rc;
	struct iovec one;
	struct iovec *iov;
	int iovcnt;
	uint64_t lba;
	uint64_t count;
	int pending;
	int first_err;
};

static void fault_destroy(struct bs_dev *bs);
static void fault_release(struct fault_dev *dev);

static struct fault_dev *
to_fault(const struct bs_dev *bs)
{
	assert(bs != NULL && bs->destroy == fault_destroy);
	return (struct fault_dev *)(uintptr_t)bs;
}

/* ---- small helpers --------------------------------------------------------- */

static bool
bit_get(const uint64_t *map, uint64_t i)
{
	return (map[i / 64] >> (i % 64)) & 1;
}

static void
bit_put(uint64_t *map, uint64_t i, bool v)
{
	if (v)
		map[i / 64] |= 1ull << (i % 64);
	else
		map[i / 64] &= ~(1ull << (i % 64));
}

static uint64_t
rng_next(struct fault_dev *dev)
{
	uint64_t x = dev->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	dev->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static bool
rng_bit(struct fault_dev *dev)
{
	return rng_next(dev) >> 63;
}

static bool
range_ok(const struct bs_dev *bs, uint64_t lba, uint64_t count)
{
	return count > 0 && lba < bs->blockcnt && count <= bs->blockcnt - lba;
}

static bool
iov_len_ok(const struct iovec *iov, int iovcnt, uint64_t want)
{
	uint64_t total = 0;

	if (iov == NULL || iovcnt <= 0)
		return false;
	for (int i = 0; i < iovcnt; i++) {
		total += iov[i].iov_len;
		if (total > want)
			return false;
	}
	return total == want;
}

/* Copies the iovecs' bytes, in order, to dst. */
static void
iov_gather(const struct iovec *iov, int iovcnt, uint8_t *dst)
{
	for (int i = 0; i < iovcnt; i++) {
		memcpy(dst, iov[i].iov_base, iov[i].iov_len);
		dst += iov[i].iov_len;
	}
}

/* Copies len bytes of src into the iovecs' byte stream at offset off. */
static void
iov_scatter_at(const struct iovec *iov, int iovcnt, size_t off, const uint8_t *src, size_t len)
{
	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len)
			n = len;
		memcpy((uint8_t *)iov[i].iov_base + off, src, n);
		src += n;
		len -= n;
		off = 0;
	}
}

static void
shadow_zero(struct fault_dev *dev, size_t off, size_t len)
{
	uint8_t *p = dev->shadow + off;
	size_t page = 4096, head, body;

	if (len < FAULT_DONTNEED_MIN) {
		memset(p, 0, len);
		return;
	}
	head = (page - ((uintptr_t)p & (page - 1))) & (page - 1);
	body = (len - head) & ~(page - 1);
	memset(p, 0, head);
	if (madvise(p + head, body, MADV_DONTNEED) != 0)
		memset(p + head, 0, body);
	memset(p + head + body, 0, len - head - body);
}

/* ---- completions ----------------------------------------------------------- */

static struct fop *
fop_new(struct fault_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	struct fop *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		fprintf(stderr, "ut_fault_dev: out of memory\n");
		abort();
	}
	op->dev = dev;
	op->ch = ch;
	op->cb = cb;
	op->cb_arg = cb_arg;
	return op;
}

static void
fop_deliver(void *arg)
{
	struct fop *op = arg;

	op->cb(op->cb_arg, op->rc);
	free(op);
}

/* Answers the operation ourselves, after the submit returns. */
static void
fop_later(struct fop *op, int rc)
{
	op->rc = rc;
	if (thread_send_msg(thread_get_current(), fop_deliver, op) != 0) {
		fprintf(stderr, "ut_fault_dev: cannot send a completion\n");
		abort();
	}
}

/* Answers from a base completion (already deferred). */
static void
fop_now(struct fop *op, int rc)
{
	if (!op->dev->powered)
		rc = -EIO;
	op->cb(op->cb_arg, rc);
	free(op);
}

static bool
injected(struct fault_dev *dev, enum ut_fault_kind kind, int *rc)
{
	if (dev->fail_at[kind] == UT_FAULT_NEVER)
		return false;
	if (dev->fail_at[kind] > 0) {
		dev->fail_at[kind]--;
		return false;
	}
	dev->fail_at[kind] = UT_FAULT_NEVER;
	*rc = dev->fail_rc[kind];
	return true;
}

static struct io_channel *
base_ch(struct io_channel *ch)
{
	return ((struct fault_ch *)io_channel_get_ctx(ch))->base_ch;
}

/* ---- the cut ----------------------------------------------------------------- */

static void
internal_done(void *arg, int rc)
{
	struct fault_dev *dev = arg;

	assert(dev->internal_inflight > 0);
	if (--dev->internal_inflight == 0 && dev->freeing)
		fault_release(dev);
}

enum run_src { RUN_NONE, RUN_ZERO, RUN_SHADOW, RUN_BUF };

struct run {
	enum run_src src;
	uint64_t start;
	uint64_t len;
	const uint8_t *data;     /* RUN_SHADOW / RUN_BUF: bytes of `start` */
};

static void
run_flush(struct fault_dev *dev, struct io_channel *bch, struct run *r)
{
	if (r->src == RUN_NONE || r->len == 0) {
		r->src = RUN_NONE;
		return;
	}
	dev->internal_inflight++;
	if (r->src == RUN_ZERO)
		dev->base->write_zeroes(dev->base, bch, r->start, r->len, internal_done, dev);
	else
		dev->base->write(dev->base, bch, (void *)(uintptr_t)r->data, r->start,
				 (uint32_t)r->len, internal_done, dev);
	r->src = RUN_NONE;
	r->len = 0;
}

/* Adds one block to the survivors, merging runs. */
static void
run_add(struct fault_dev *dev, struct io_channel *bch, struct run *r, uint64_t lba,
	enum run_src src, const uint8_t *data)
{
	if (r->src == src && r->start + r->len == lba && r->len < FAULT_MAX_RUN &&
	    (src == RUN_ZERO || r->data + r->len * dev->bs.blocklen == data)) {
		r->len++;
		return;
	}
	run_flush(dev, bch, r);
	r->src = src;
	r->start = lba;
	r->len = 1;
	r->data = data;
}

/* With torn_writes: a random subset of the cached blocks, by atomic unit. */
static void
tear_cache(struct fault_dev *dev, struct io_channel *bch)
{
	struct run r = { RUN_NONE, 0, 0, NULL };
	uint64_t u, b, end;

	for (u = 0; u < dev->bs.blockcnt; u += dev->unit_blocks) {
		bool any = false, keep;

		end = u + dev->unit_blocks < dev->bs.blockcnt ? u + dev->unit_blocks :
		      dev->bs.blockcnt;
		for (b = u; b < end && !any; b++)
			any = bit_get(dev->dirty, b);
		if (!any) {
			run_flush(dev, bch, &r);
			continue;
		}
		keep = rng_bit(dev);
		for (b = u; b < end; b++) {
			if (!keep || !bit_get(dev->dirty, b))
				run_flush(dev, bch, &r);
			else if (bit_get(dev->zero, b))
				run_add(dev, bch, &r, b, RUN_ZERO, NULL);
			else
				run_add(dev, bch, &r, b, RUN_SHADOW,
					dev->shadow + b * dev->bs.blocklen);
		}
	}
	run_flush(dev, bch, &r);
}

/* With torn_writes: a random subset of the write that cut the power. */
static void
tear_write(struct fault_dev *dev, struct io_channel *bch, enum wkind kind,
	   const struct iovec *iov, int iovcnt, uint64_t lba, uint64_t count)
{
	struct run r = { RUN_NONE, 0, 0, NULL };
	uint64_t b = lba, end = lba + count;

	if (kind == W_DATA) {
		dev->torn_buf = malloc(count * dev->bs.blocklen);
		if (dev->torn_buf == NULL)
			abort();
		iov_gather(iov, iovcnt, dev->torn_buf);
	}
	while (b < end) {
		uint64_t unit_end = (b / dev->unit_blocks + 1) * dev->unit_blocks;
		bool keep = rng_bit(dev);

		if (unit_end > end)
			unit_end = end;
		for (; b < unit_end; b++) {
			if (!keep)
				run_flush(dev, bch, &r);
			else if (kind == W_DATA)
				run_add(dev, bch, &r, b, RUN_BUF,
					dev->torn_buf + (b - lba) * dev->bs.blocklen);
			else
				run_add(dev, bch, &r, b, RUN_ZERO, NULL);
		}
	}
	run_flush(dev, bch, &r);
}

/* The power goes. `ch` is a channel of this device on the current thread. */
static void
cut(struct fault_dev *dev, struct io_channel *ch, enum wkind kind, const struct iovec *iov,
    int iovcnt, uint64_t lba, uint64_t count)
{
	if (!dev->powered)
		return;
	dev->powered = false;
	if (dev->opts.torn_writes) {
		if (dev->shadow != NULL)
			tear_cache(dev, base_ch(ch));
		if (count > 0)
			tear_write(dev, base_ch(ch), kind, iov, iovcnt, lba, count);
	}
	if (dev->dirty != NULL) {
		memset(dev->dirty, 0, ((dev->bs.blockcnt + 63) / 64) * sizeof(uint64_t));
		dev->ndirty = 0;
	}
}

/* ---- reads ------------------------------------------------------------------- */

/* Replaces the known blocks of the read with the cache's view. */
static void
overlay(struct fault_dev *dev, struct fop *op)
{
	uint32_t bl = dev->bs.blocklen;
	uint64_t b = op->lba, end = op->lba + op->count;

	while (b < end) {
		uint64_t s;

		if (!bit_get(dev->known, b)) {
			b++;
			continue;
		}
		for (s = b; b < end && bit_get(dev->known, b); b++)
			;
		iov_scatter_at(op->iov, op->iovcnt, (size_t)(s - op->lba) * bl,
			       dev->shadow + s * bl, (size_t)(b - s) * bl);
	}
}

static void
read_done(void *arg, int rc)
{
	struct fop *op = arg;

	if (rc == 0 && op->dev->powered && op->dev->shadow != NULL)
		overlay(op->dev, op);
	fop_now(op, rc);
}

static void
do_read(struct fault_dev *dev, struct io_channel *ch, struct fop *op)
{
	int rc;
	uint64_t b;
	bool all_known = dev->shadow != NULL;

	if (!dev->powered) {
		fop_later(op, -EIO);
		return;
	}
	if (!range_ok(&dev->bs, op->lba, op->count) || op->count > UINT32_MAX ||
	    !iov_len_ok(op->iov, op->iovcnt, op->count * dev->bs.blocklen)) {
		fop_later(op, -EINVAL);
		return;
	}
	if (injected(dev, UT_FAULT_READ, &rc)) {
		fop_later(op, rc);
		return;
	}
	for (b = op->lba; all_known && b < op->lba + op->count; b++)
		all_known = bit_get(dev->known, b);
	if (all_known) {
		overlay(dev, op);
		fop_later(op, 0);
		return;
	}
	dev->base->readv(dev->base, base_ch(ch), op->iov, op->iovcnt, op->lba,
			 (uint32_t)op->count, read_done, op);
}

static void
fault_read(struct bs_dev *bs, struct io_channel *ch, void *payload, uint64_t lba,
	   uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct fop *op = fop_new(to_fault(bs), ch, cb, cb_arg);

	op->one.iov_base = payload;
	op->one.iov_len = (size_t)count * bs->blocklen;
	op->iov = &op->one;
	op->iovcnt = 1;
	op->lba = lba;
	op->count = count;
	do_read(to_fault(bs), ch, op);
}

static void
fault_readv(struct bs_dev *bs, struct io_channel *ch, struct iovec *iov, int iovcnt,
	    uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct fop *op = fop_new(to_fault(bs), ch, cb, cb_arg);

	op->iov = iov;
	op->iovcnt = iovcnt;
	op->lba = lba;
	op->count = count;
	do_read(to_fault(bs), ch, op);
}

/* ---- writes ------------------------------------------------------------------ */

static void
write_done(void *arg, int rc)
{
	fop_now(arg, rc);
}

static void
cache_write(struct fault_dev *dev, enum wkind kind, const struct iovec *iov, int iovcnt,
	    uint64_t lba, uint64_t count)
{
	uint32_t bl = dev->bs.blocklen;

	if (kind == W_DATA)
		iov_gather(iov, iovcnt, dev->shadow + lba * bl);
	else
		shadow_zero(dev, (size_t)lba * bl, (size_t)count * bl);
	for (uint64_t b = lba; b < lba + count; b++) {
		bit_put(dev->known, b, true);
		if (!bit_get(dev->dirty, b)) {
			bit_put(dev->dirty, b, true);
			dev->ndirty++;
		}
		bit_put(dev->zero, b, kind != W_DATA);
	}
}

static void
do_write(struct fault_dev *dev, struct io_channel *ch, struct fop *op, enum wkind kind)
{
	int rc;

	if (!dev->powered) {
		fop_later(op, -EIO);
		return;
	}
	if (!range_ok(&dev->bs, op->lba, op->count) ||
	    (kind == W_DATA && (op->count > UINT32_MAX ||
				!iov_len_ok(op->iov, op->iovcnt, op->count * dev->bs.blocklen)))) {
		fop_later(op, -EINVAL);
		return;
	}
	if (injected(dev, UT_FAULT_WRITE, &rc)) {
		fop_later(op, rc);
		return;
	}
	if (dev->writes >= dev->cut_after) {
		cut(dev, ch, kind, op->iov, op->iovcnt, op->lba, op->count);
		fop_later(op, -EIO);
		return;
	}
	dev->writes++;
	if (dev->shadow != NULL) {
		cache_write(dev, kind, op->iov, op->iovcnt, op->lba, op->count);
		fop_later(op, 0);
		return;
	}
	switch (kind) {
	case W_DATA:
		dev->base->writev(dev->base, base_ch(ch), op->iov, op->iovcnt, op->lba,
				  (uint32_t)op->count, write_done, op);
		break;
	case W_ZEROES:
		dev->base->write_zeroes(dev->base, base_ch(ch), op->lba, op->count, write_done, op);
		break;
	case W_UNMAP:
		dev->base->unmap(dev->base, base_ch(ch), op->lba, op->count, write_done, op);
		break;
	}
}

static void
fault_write(struct bs_dev *bs, struct io_channel *ch, void *payload, uint64_t lba,
	    uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct fop *op = fop_new(to_fault(bs), ch, cb, cb_arg);

	op->one.iov_base = payload;
	op->one.iov_len = (size_t)count * bs->blocklen;
	op->iov = &op->one;
	op->iovcnt = 1;
	op->lba = lba;
	op->count = count;
	do_write(to_fault(bs), ch, op, W_DATA);
}

static void
fault_writev(struct bs_dev *bs, struct io_channel *ch, struct iovec *iov, int iovcnt,
	     uint64_t lba, uint32_t count, bs_dev_cb cb, void *cb_arg)
{
	struct fop *op = fop_new(to_fault(bs), ch, cb, cb_arg);

	op->iov = iov;
	op->iovcnt = iovcnt;
	op->lba = lba;
	op->count = count;
	do_write(to_fault(bs), ch, op, W_DATA);
}

static void
fault_write_zeroes(struct bs_dev *bs, struct io_channel *ch, uint64_t lba, uint64_t count,
		   bs_dev_cb cb, void *cb_arg)
{
	struct fop *op = fop_new(to_fault(bs), ch, cb, cb_arg);

	op->lba = lba;
	op->count = count;
	do_write(to_fault(bs), ch, op, W_ZEROES);
}

static void
fault_unmap(struct bs_dev *bs, struct io_channel *ch, uint64_t lba, uint64_t count,
	    bs_dev_cb cb, void *cb_arg)
{
	struct fop *op = fop_new(to_fault(bs), ch, cb, cb_arg);

	op->lba = lba;
	op->count = count;
	do_write(to_fault(bs), ch, op, W_UNMAP);
}

/* ---- flush ------------------------------------------------------------------- */

static void
flush_base_done(void *arg, int rc)
{
	struct fop *op = arg;

	if (rc == 0 && op->dev->powered)
		op->dev->flushes++;
	fop_now(op, rc);
}

/* One destaged run (or the guard) is done; the last one flushes the base. */
static void
flush_part_done(void *arg, int rc)
{
	struct fop *op = arg;
	struct fault_dev *dev = op->dev;

	if (rc != 0 && op->first_err == 0)
		op->first_err = rc;
	if (--op->pending > 0)
		return;
	if (op->first_err != 0 || !dev->powered) {
		fop_now(op, op->first_err != 0 ? op->first_err : -EIO);
		return;
	}
	dev->base->flush(dev->base, base_ch(op->ch), flush_base_done, op);
}

static void
destage(struct fault_dev *dev, struct fop *op, uint64_t start, uint64_t len, bool zero)
{
	op->pending++;
	if (zero)
		dev->base->write_zeroes(dev->base, base_ch(op->ch), start, len,
					flush_part_done, op);
	else
		dev->base->write(dev->base, base_ch(op->ch), dev->shadow + start * dev->bs.blocklen,
				 start, (uint32_t)len, flush_part_done, op);
}

static void
fault_flush(struct bs_dev *bs, struct io_channel *ch, bs_dev_cb cb, void *cb_arg)
{
	struct fault_dev *dev = to_fault(bs);
	struct fop *op = fop_new(dev, ch, cb, cb_arg);
	uint64_t b, s;
	int rc;

	if (!dev->powered) {
		fop_later(op, -EIO);
		return;
	}
	if (injected(dev, UT_FAULT_FLUSH, &rc)) {
		fop_later(op, rc);
		return;
	}
	if (dev->shadow == NULL) {
		dev->base->flush(dev->base, base_ch(ch), flush_base_done, op);
		return;
	}
	/* The guard keeps the count above zero while the runs are sent. */
	op->pending = 1;
	for (b = 0; b < bs->blockcnt && dev->ndirty > 0;) {
		bool zero;

		if (!bit_get(dev->dirty, b)) {
			b++;
			continue;
		}
		zero = bit_get(dev->zero, b);
		for (s = b; b < bs->blockcnt && b - s < FAULT_MAX_RUN && bit_get(dev->dirty, b) &&
		     bit_get(dev->zero, b) == zero; b++) {
			bit_put(dev->dirty, b, false);
			dev->ndirty--;
		}
		destage(dev, op, s, b - s, zero);
	}
	flush_part_done(op, 0);
}

/* ---- the rest of the table ----------------------------------------------------- */

static bool
fault_is_zeroes(struct bs_dev *bs, uint64_t lba, uint64_t count)
{
	struct fault_dev *dev = to_fault(bs);

	if (!range_ok(bs, lba, count))
		return false;
	if (dev->known != NULL) {
		for (uint64_t b = lba; b < lba + count; b++) {
			if (bit_get(dev->known, b))
				return false;
		}
	}
	return dev->base->is_zeroes(dev->base, lba, count);
}

static struct bdev *
fault_get_base_bdev(struct bs_dev *bs)
{
	struct fault_dev *dev = to_fault(bs);

	return dev->base->get_base_bdev(dev->base);
}

static int
fault_ch_create(void *io_device, void *ctx)
{
	struct fault_dev *dev = io_device;
	struct fault_ch *fch = ctx;

	fch->base_ch = dev->base->create_channel(dev->base);
	return fch->base_ch != NULL ? 0 : -ENOMEM;
}

static void
fault_ch_destroy(void *io_device, void *ctx)
{
	struct fault_dev *dev = io_device;
	struct fault_ch *fch = ctx;

	dev->base->destroy_channel(dev->base, fch->base_ch);
}

static struct io_channel *
fault_create_channel(struct bs_dev *bs)
{
	return io_channel_get(bs);
}

static void
fault_destroy_channel(struct bs_dev *bs, struct io_channel *ch)
{
	io_channel_put(ch);
}

static void
fault_release(struct fault_dev *dev)
{
	if (dev->opts.own_base)
		dev->base->destroy(dev->base);
	if (dev->shadow != NULL)
		munmap(dev->shadow, dev->len);
	free(dev->known);
	free(dev->dirty);
	free(dev->zero);
	free(dev->torn_buf);
	free(dev);
}

/* The last channel is gone. */
static void
fault_free(void *io_device)
{
	struct fault_dev *dev = io_device;

	if (dev->internal_inflight > 0) {
		/* Torn survivors still on their way: internal_done releases. */
		dev->freeing = true;
		return;
	}
	fault_release(dev);
}

/* Power off: the cache is simply never written back. */
static void
fault_destroy(struct bs_dev *bs)
{
	io_device_unregister(bs, fault_free);
}

/* ---- public ------------------------------------------------------------------ */

void
ut_fault_dev_opts_init(struct ut_fault_dev_opts *opts, size_t size)
{
	struct ut_fault_dev_opts def = { 0 };

	def.opts_size = size < sizeof(def) ? size : sizeof(def);
	memset(opts, 0, size);
	memcpy(opts, &def, def.opts_size);
}

struct bs_dev *
ut_fault_dev_create(struct bs_dev *base, const struct ut_fault_dev_opts *opts)
{
	struct fault_dev *dev;
	size_t words;

	if (base == NULL)
		return NULL;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return NULL;
	if (opts != NULL) {
		size_t n = opts->opts_size < sizeof(dev->opts) ? opts->opts_size : sizeof(dev->opts);

		memcpy(&dev->opts, opts, n);
	}
	dev->opts.opts_size = sizeof(dev->opts);
	if (dev->opts.atomic_unit == 0)
		dev->opts.atomic_unit = base->blocklen;
	if (dev->opts.atomic_unit % base->blocklen != 0) {
		fprintf(stderr, "ut_fault_dev: atomic_unit %u is not a multiple of %u\n",
			dev->opts.atomic_unit, base->blocklen);
		free(dev);
		return NULL;
	}
	dev->base = base;
	dev->unit_blocks = dev->opts.atomic_unit / base->blocklen;
	dev->powered = true;
	dev->cut_after = UT_FAULT_NEVER;
	for (int k = 0; k < UT_FAULT_NUM_KINDS; k++)
		dev->fail_at[k] = UT_FAULT_NEVER;
	dev->rng = dev->opts.seed ^ 0x9E3779B97F4A7C15ull;
	if (dev->rng == 0)
		dev->rng = 1;
	if (dev->opts.drop_unflushed) {
		words = (base->blockcnt + 63) / 64;
		dev->len = (size_t)base->blockcnt * base->blocklen;
		dev->shadow = mmap(NULL, dev->len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		dev->known = calloc(words, sizeof(uint64_t));
		dev->dirty = calloc(words, sizeof(uint64_t));
		dev->zero = calloc(words, sizeof(uint64_t));
		if (dev->shadow == MAP_FAILED || dev->known == NULL || dev->dirty == NULL ||
		    dev->zero == NULL) {
			if (dev->shadow != MAP_FAILED)
				munmap(dev->shadow, dev->len);
			free(dev->known);
			free(dev->dirty);
			free(dev->zero);
			free(dev);
			return NULL;
		}
	}
	dev->bs.blockcnt = base->blockcnt;
	dev->bs.blocklen = base->blocklen;
	dev->bs.phys_blocklen = base->phys_blocklen;
	dev->bs.create_channel = fault_create_channel;
	dev->bs.destroy_channel = fault_destroy_channel;
	dev->bs.destroy = fault_destroy;
	dev->bs.read = fault_read;
	dev->bs.write = fault_write;
	dev->bs.readv = fault_readv;
	dev->bs.writev = fault_writev;
	dev->bs.write_zeroes = fault_write_zeroes;
	dev->bs.unmap = fault_unmap;
	dev->bs.flush = fault_flush;
	dev->bs.is_zeroes = base->is_zeroes != NULL ? fault_is_zeroes : NULL;
	dev->bs.get_base_bdev = base->get_base_bdev != NULL ? fault_get_base_bdev : NULL;
	io_device_register(dev, fault_ch_create, fault_ch_destroy, sizeof(struct fault_ch),
			   "ut_fault_dev");
	return &dev->bs;
}

void
ut_fault_dev_set_cut_after_writes(struct bs_dev *bs, uint64_t n)
{
	to_fault(bs)->cut_after = n;
}

void
ut_fault_dev_cut_power(struct bs_dev *bs)
{
	struct fault_dev *dev = to_fault(bs);
	struct io_channel *ch;

	if (!dev->powered)
		return;
	if (!dev->opts.torn_writes || dev->shadow == NULL) {
		cut(dev, NULL, W_DATA, NULL, 0, 0, 0);
		return;
	}
	/* Survivors go to the base through this thread's channel. */
	ch = io_channel_get(bs);
	if (ch == NULL) {
		fprintf(stderr, "ut_fault_dev: no channel to tear the cache through\n");
		abort();
	}
	cut(dev, ch, W_DATA, NULL, 0, 0, 0);
	io_channel_put(ch);
}

bool
ut_fault_dev_has_power(const struct bs_dev *bs)
{
	return to_fault(bs)->powered;
}

uint64_t
ut_fault_dev_write_count(const struct bs_dev *bs)
{
	return to_fault(bs)->writes;
}

uint64_t
ut_fault_dev_flush_count(const struct bs_dev *bs)
{
	return to_fault(bs)->flushes;
}

uint64_t
ut_fault_dev_unflushed_blocks(const struct bs_dev *bs)
{
	return to_fault(bs)->ndirty;
}

void
ut_fault_dev_fail_nth(struct bs_dev *bs, enum ut_fault_kind kind, uint64_t n, int rc)
{
	struct fault_dev *dev = to_fault(bs);

	assert(kind < UT_FAULT_NUM_KINDS);
	dev->fail_at[kind] = n;
	dev->fail_rc[kind] = rc;
}

struct bs_dev *
ut_fault_dev_base(struct bs_dev *bs)
{
	return to_fault(bs)->base;
}
