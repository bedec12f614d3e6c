/*
 * lib/blob/io.c: blob I/O (blob_io_read/write/readv/writev/write_zeroes/
 * unmap): argument checks, the split of a request into pieces on cluster
 * boundaries, and what each piece does.
 *
 * Addressing (spec §1.3). Offsets and lengths are io units: the device
 * block size at creation, so normally one device block (lpu = 1 device
 * block per io unit; a store opened on a device with smaller blocks gets
 * lpu > 1, computed in bytes as the spec's ambiguity note advises). Io
 * unit u of a blob lives in slot k = u / io_units_per_cluster at
 *     LBA = map[k] * lbas_per_cluster + (u % io_units_per_cluster) * lpu,
 * one array load and a multiply: the lookup is O(1) and needs nothing but
 * the map, which I/O threads read without a lock (blob_internal.h says
 * when it may change under them).
 *
 * Pieces. A request runs its pieces one after another. A piece lies in
 * one slot, so it is one device operation: a 4 KiB guest I/O is always
 * exactly one. A request that spans slots runs them in turn (the lvol
 * bdev splits guest I/O on cluster boundaries above us, so in practice
 * such requests are rare and large). The piece's iovecs are a slice of
 * the caller's, copied into the request (BLOB_REQ_IOV_MAX entries, see
 * request.h): no allocation, and the caller's array is never modified.
 *
 * The fast path. A read or write that lies in one slot that is already
 * allocated (on a blob that is not frozen, and, for a write, with no
 * allocation awaiting its metadata commit) is what a volume does nearly
 * all the time; fast_submit() sends it straight to the device on the
 * caller's iovecs, with the same request-pool and in-flight bookkeeping
 * but no argument record, slice or advance, and lends the device the
 * request's own operation context (bs_dev.h readv_ctx) when the device
 * takes one. Everything else, errors
 * included, takes the general path below, which gives the same result.
 *
 * What a piece does, by kind of slot:
 *   allocated (map[k] != 0)
 *       read/write/write_zeroes/unmap go straight to the device; except a
 *       write-type piece while the blob has an allocation whose metadata
 *       is not yet committed (blob_thin_pending), which asks the md
 *       thread first (thin.c) so that no write is acknowledged on a
 *       cluster whose allocation could still be lost; and an unmap that
 *       covers the whole cluster of a thin blob without parent, which
 *       releases the cluster (thin.c, spec §6.5 "Release by unmap").
 *   unallocated
 *       read: from the back device, found by walking the chain
 *       (blob_resolve_src): the first ancestor that has the slot
 *       allocated is read directly from the store device, at any depth;
 *       an external snapshot device is read through this thread's
 *       channel to it; a slot past a parent's end, or a chain ending in
 *       no device, reads zeroes, filled here without any I/O.
 *       write: allocation on first write (thin.c).
 *       write_zeroes: nothing when the back device reads zeroes there,
 *       otherwise allocation (the copy, then zeroes over the range).
 *       unmap: nothing (the slot holds no data of this blob).
 *
 * Completion. Every callback runs on the channel's thread after the
 * submitting call returned: errors found at submit and requests that
 * finish without I/O complete through the channel's poller (request.c).
 * The first error ends a request; pieces already written stay written
 * (as with any block device, a failed write leaves its range undefined).
 *
 * Invariants:
 *  - req->done counts the io units of finished pieces, and (iov_idx,
 *    iov_off) is the caller's iovec position of io unit `done`.
 *  - A piece never crosses a slot boundary, never carries more than
 *    BLOB_REQ_IOV_MAX iovecs, and is at least one io unit long.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "blob_internal.h"
#include "request.h"

/*
 * Longest parent chain we follow. Chains come from metadata (SNAP
 * xattrs) and the loader refuses loops, so this is only a guard against
 * a bug turning into an endless loop on an I/O thread; real chains are a
 * few snapshots deep.
 */
#define CHAIN_MAX_DEPTH 4096

static inline uint32_t
map_get(const struct blob *blob, uint64_t slot)
{
	return __atomic_load_n(&blob->active.clusters[slot], __ATOMIC_ACQUIRE);
}

static inline uint64_t
blob_slots(const struct blob *blob)
{
	return __atomic_load_n(&blob->active.num_clusters, __ATOMIC_ACQUIRE);
}

static bool
op_writes(uint8_t op)
{
	return op != BLOB_IO_READ;
}

/* ---- the chain ------------------------------------------------------------------ */

int
blob_resolve_src(struct blob *blob, uint64_t slot, struct blob_src *src)
{
	const struct blob_store *bs = blob->bs;
	struct blob *b = blob;
	int depth;

	src->kind = BLOB_SRC_ZERO;
	src->cluster = 0;
	src->dev = NULL;
	src->valid_units = bs->io_units_per_cluster;
	for (depth = 0; depth < CHAIN_MAX_DEPTH; depth++) {
		struct blob *p = b->parent;
		struct bs_dev *dev;
		uint64_t dev_bytes, start, valid;

		if (p != NULL) {
			uint32_t c;

			/* Offsets past the parent's end read zeroes (spec §5.3). */
			if (slot >= blob_slots(p))
				return 0;
			c = map_get(p, slot);
			if (c != 0) {
				src->kind = BLOB_SRC_CLUSTER;
				src->cluster = c;
				return 0;
			}
			b = p;
			continue;
		}
		dev = b->back_bs_dev;
		if (dev == NULL) {
			/* An esnap clone whose device did not open is unusable
			 * (but listed): its reads of the device fail -ENODEV. */
			if (b->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT)
				return -ENODEV;
			return 0;          /* thin without parent, or thick */
		}
		if (dev->blocklen == 0 || bs->io_unit_size % dev->blocklen != 0)
			return -EIO;       /* spec §5.3: io unit must be a multiple */
		dev_bytes = dev->blockcnt > UINT64_MAX / dev->blocklen ?
			    UINT64_MAX : dev->blockcnt * dev->blocklen;
		start = slot * (uint64_t)bs->cluster_sz;
		if (dev_bytes <= start)
			return 0;
		valid = (dev_bytes - start) / bs->io_unit_size;
		if (valid > bs->io_units_per_cluster)
			valid = bs->io_units_per_cluster;
		if (valid == 0)
			return 0;
		if (dev->is_zeroes != NULL &&
		    dev->is_zeroes(dev, start / dev->blocklen,
				   valid * bs->io_unit_size / dev->blocklen))
			return 0;
		src->kind = BLOB_SRC_DEV;
		src->dev = dev;
		src->valid_units = valid;
		return 0;
	}
	LOG_ERR("blob 0x%lx: parent chain longer than %d", (unsigned long)blob->id,
		CHAIN_MAX_DEPTH);
	return -EIO;
}

/* ---- pieces ----------------------------------------------------------------------- */

/* Copies the caller's iovecs of the piece into req->piece_iov, maybe shortening it. */
static int
piece_slice(struct blob_request *req)
{
	const struct blob_io_args *a = &req->args;
	uint32_t unit = a->blob->bs->io_unit_size;
	uint64_t want = req->piece_len * unit, got = 0, keep, extra;
	int idx = req->iov_idx, n = 0;
	size_t off = req->iov_off;

	while (got < want && idx < a->iovcnt) {
		size_t avail = a->iov[idx].iov_len - off, take;

		if (avail == 0) {
			idx++;
			off = 0;
			continue;
		}
		if (n == BLOB_REQ_IOV_MAX)
			break;
		take = avail < want - got ? avail : (size_t)(want - got);
		req->piece_iov[n].iov_base = (uint8_t *)a->iov[idx].iov_base + off;
		req->piece_iov[n].iov_len = take;
		n++;
		got += take;
		off += take;
	}
	if (got < want) {
		/* Out of entries: end the piece at the last whole io unit. */
		keep = got / unit * unit;
		if (keep == 0) {
			LOG_ERR("blob: more than %d iovecs inside one io unit", BLOB_REQ_IOV_MAX);
			return -EINVAL;
		}
		extra = got - keep;
		while (extra > 0) {
			if (req->piece_iov[n - 1].iov_len <= extra) {
				extra -= req->piece_iov[n - 1].iov_len;
				n--;
			} else {
				req->piece_iov[n - 1].iov_len -= extra;
				extra = 0;
			}
		}
		req->piece_len = keep / unit;
	}
	req->piece_iovcnt = n;
	return 0;
}

static void
piece_zero_fill(struct blob_request *req)
{
	int i;

	for (i = 0; i < req->piece_iovcnt; i++)
		memset(req->piece_iov[i].iov_base, 0, req->piece_iov[i].iov_len);
}

static void
request_advance(struct blob_request *req)
{
	const struct blob_io_args *a = &req->args;

	if (a->op == BLOB_IO_READ || a->op == BLOB_IO_WRITE) {
		uint64_t bytes = req->piece_len * a->blob->bs->io_unit_size;

		while (bytes > 0) {
			size_t avail = a->iov[req->iov_idx].iov_len - req->iov_off;

			if (avail > bytes) {
				req->iov_off += bytes;
				bytes = 0;
			} else {
				bytes -= avail;
				req->iov_idx++;
				req->iov_off = 0;
			}
		}
	}
	req->done += req->piece_len;
}

void
blob_request_dev_cb(void *cb_arg, int rc)
{
	blob_request_piece_done(cb_arg, rc);
}

/* Reads the piece from an external back device. */
static bool
read_back_dev(struct blob_request *req, struct bs_dev *dev)
{
	struct blob_store *bs = req->args.blob->bs;
	struct io_channel *bch = bs_channel_back_ch(req->ch, dev);
	uint64_t byte = (req->slot * bs->io_units_per_cluster + req->in_cluster) * bs->io_unit_size;
	uint64_t len = req->piece_len * bs->io_unit_size;

	if (bch == NULL) {
		req->rc = -ENOMEM;
		return false;
	}
	dev->readv(dev, bch, req->piece_iov, req->piece_iovcnt, byte / dev->blocklen,
		   (uint32_t)(len / dev->blocklen), blob_request_dev_cb, req);
	return true;
}

static bool
piece_read(struct blob_request *req)
{
	struct blob *blob = req->args.blob;
	struct blob_store *bs = blob->bs;
	struct blob_src src;
	uint32_t c;
	int rc;

	if (req->slot >= blob_slots(blob)) {
		/* Only zero_past_end requests get here (checked at submit). */
		if (piece_slice(req) != 0)
			goto einval;
		piece_zero_fill(req);
		return false;
	}
	c = map_get(blob, req->slot);
	if (c == 0) {
		rc = blob_resolve_src(blob, req->slot, &src);
		if (rc != 0) {
			req->rc = rc;
			return false;
		}
		if (src.kind == BLOB_SRC_DEV) {
			if (req->in_cluster >= src.valid_units) {
				src.kind = BLOB_SRC_ZERO;
			} else if (req->in_cluster + req->piece_len > src.valid_units) {
				req->piece_len = src.valid_units - req->in_cluster;
			}
		}
		if (piece_slice(req) != 0)
			goto einval;
		switch (src.kind) {
		case BLOB_SRC_ZERO:
			piece_zero_fill(req);
			return false;
		case BLOB_SRC_DEV:
			return read_back_dev(req, src.dev);
		default:
			c = src.cluster;
			break;
		}
	} else if (piece_slice(req) != 0) {
		goto einval;
	}
	bs->dev->readv(bs->dev, req->ch->dev_ch, req->piece_iov, req->piece_iovcnt,
		       bs_cluster_lba(req->ch, c, req->in_cluster),
		       (uint32_t)(req->piece_len * req->ch->lpu),
		       blob_request_dev_cb, req);
	return true;
einval:
	req->rc = -EINVAL;
	return false;
}

/* The device operation of a write-type piece on `cluster`. */
static void
piece_dev_write(struct blob_request *req, uint32_t cluster)
{
	struct blob_store *bs = req->args.blob->bs;
	struct bs_dev *dev = bs->dev;
	uint64_t lba = bs_cluster_lba(req->ch, cluster, req->in_cluster);
	uint64_t n = req->piece_len * req->ch->lpu;

	switch (req->args.op) {
	case BLOB_IO_WRITE:
		dev->writev(dev, req->ch->dev_ch, req->piece_iov, req->piece_iovcnt, lba,
			    (uint32_t)n, blob_request_dev_cb, req);
		break;
	case BLOB_IO_WRITE_ZEROES:
		dev->write_zeroes(dev, req->ch->dev_ch, lba, n, blob_request_dev_cb, req);
		break;
	case BLOB_IO_UNMAP:
		dev->unmap(dev, req->ch->dev_ch, lba, n, blob_request_dev_cb, req);
		break;
	default:
		/* ALLOCATE of a slot that turned out allocated: nothing to do. */
		blob_request_piece_done(req, 0);
		break;
	}
}

void
blob_request_piece_to_cluster(struct blob_request *req, uint32_t cluster)
{
	piece_dev_write(req, cluster);
}

/* True when the parentless thin blob's unmap piece covers the whole slot. */
static bool
unmap_releases(const struct blob_request *req)
{
	const struct blob *blob = req->args.blob;

	return blob_is_thin(blob) && blob->parent == NULL && blob->back_bs_dev == NULL &&
	       !(blob->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT) && req->in_cluster == 0 &&
	       req->piece_len == blob->bs->io_units_per_cluster;
}

static bool
piece_write(struct blob_request *req)
{
	struct blob *blob = req->args.blob;
	uint8_t op = req->args.op;
	struct blob_src src;
	uint32_t c;
	int rc;

	if (op == BLOB_IO_WRITE && piece_slice(req) != 0) {
		req->rc = -EINVAL;
		return false;
	}
	c = map_get(blob, req->slot);
	if (c != 0) {
		if (op == BLOB_IO_ALLOCATE)
			return false;
		if (op == BLOB_IO_UNMAP && unmap_releases(req)) {
			blob_thin_release(req, c);
			return true;
		}
		if (blob_thin_pending(blob)) {
			blob_thin_write(req, true);
			return true;
		}
		piece_dev_write(req, c);
		return true;
	}
	if (op == BLOB_IO_UNMAP)
		return false;           /* nothing of this blob there */
	if (!blob_is_thin(blob)) {
		LOG_ERR("blob 0x%lx: thick blob without cluster in slot %lu",
			(unsigned long)blob->id, (unsigned long)req->slot);
		req->rc = -EIO;
		return false;
	}
	if (op == BLOB_IO_WRITE_ZEROES) {
		rc = blob_resolve_src(blob, req->slot, &src);
		if (rc != 0) {
			req->rc = rc;
			return false;
		}
		/* Already zeroes: nothing to allocate (spec §5.3 reads). */
		if (src.kind == BLOB_SRC_ZERO ||
		    (src.kind == BLOB_SRC_DEV && req->in_cluster >= src.valid_units))
			return false;
	}
	blob_thin_write(req, false);
	return true;
}

/* Sets up the piece at req->done and runs it: true if it completes later. */
static bool
piece_run(struct blob_request *req)
{
	const struct blob_io_args *a = &req->args;
	uint64_t upc = a->blob->bs->io_units_per_cluster;
	uint64_t off = a->offset + req->done;
	uint64_t left = a->length - req->done;

	req->slot = off / upc;
	req->in_cluster = off - req->slot * upc;
	req->piece_len = upc - req->in_cluster < left ? upc - req->in_cluster : left;
	req->piece_iovcnt = 0;
	if (a->op == BLOB_IO_READ)
		return piece_read(req);
	return piece_write(req);
}

static void
request_next(struct blob_request *req)
{
	for (;;) {
		if (req->rc != 0 || req->done >= req->args.length) {
			bs_request_finish(req);
			return;
		}
		if (piece_run(req))
			return;
		if (req->rc == 0)
			request_advance(req);
	}
}

void
blob_request_piece_done(struct blob_request *req, int rc)
{
	if (rc != 0)
		req->rc = rc;
	else
		request_advance(req);
	request_next(req);
}

void
blob_request_piece_redo(struct blob_request *req)
{
	request_next(req);
}

static void
flush_done(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;

	req->rc = rc;
	bs_request_finish(req);
}

void
blob_request_start(struct blob_request *req)
{
	if (req->args.op == BLOB_IO_FLUSH) {
		struct bs_dev *dev = req->ch->dev;

		dev->flush(dev, req->ch->dev_ch, flush_done, req);
		return;
	}
	request_next(req);
}

/* ---- submission ------------------------------------------------------------------- */

static int
args_check(const struct blob_io_args *a)
{
	const struct blob *blob = a->blob;
	uint64_t end, units, want, total = 0;
	int i;

	if (op_writes(a->op) && a->op != BLOB_IO_FLUSH && blob->data_ro)
		return -EPERM;
	if (a->op == BLOB_IO_FLUSH)
		return 1;
	end = a->offset + a->length;
	units = blob_slots(blob) * blob->bs->io_units_per_cluster;
	if (end < a->offset || (!a->zero_past_end && end > units))
		return -EINVAL;
	if (a->length == 0)
		return 0;
	if (a->op == BLOB_IO_READ || a->op == BLOB_IO_WRITE) {
		if (a->iov == NULL || a->iovcnt <= 0)
			return -EINVAL;
		if (a->length > UINT64_MAX / blob->bs->io_unit_size)
			return -EINVAL;
		want = a->length * blob->bs->io_unit_size;
		for (i = 0; i < a->iovcnt; i++) {
			total += a->iov[i].iov_len;
			if (total > want)
				return -EINVAL;
		}
		if (total != want)
			return -EINVAL;
	}
	return 1;
}

static void
submit(struct blob *blob, struct io_channel *io_ch, uint8_t op, void *payload,
       struct iovec *iov, int iovcnt, uint64_t offset, uint64_t length, bool zero_past_end,
       blob_op_complete cb, void *cb_arg)
{
	struct bs_channel *ch = io_channel_get_ctx(io_ch);
	struct blob_io_args a;
	int rc;

	a.blob = blob;
	a.op = op;
	a.zero_past_end = zero_past_end;
	a.offset = offset;
	a.length = length;
	a.cb = cb;
	a.cb_arg = cb_arg;
	if (payload != NULL || (op != BLOB_IO_READ && op != BLOB_IO_WRITE) || iov == NULL) {
		a.single.iov_base = payload;
		a.single.iov_len = payload != NULL ? length * blob->bs->io_unit_size : 0;
		a.iov = payload != NULL ? &a.single : NULL;
		a.iovcnt = payload != NULL ? 1 : 0;
	} else {
		a.single.iov_base = NULL;
		a.single.iov_len = 0;
		a.iov = iov;
		a.iovcnt = iovcnt;
	}
	rc = args_check(&a);
	if (rc <= 0) {
		bs_channel_complete_later(ch, &a, rc);
		return;
	}
	bs_channel_submit(ch, &a);
}

/* ---- the fast path ------------------------------------------------------------------ */

static void
fast_dev_cb(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;

	req->rc = rc;
	bs_request_finish(req);
}

/*
 * A read or write inside one allocated slot, which is what nearly every
 * guest I/O is: one device operation on the caller's own iovecs (or the
 * payload), the LBA from one map load, no argument record, no piece
 * slice, no advance walk. It takes exactly the branches the general path
 * would take (piece_read / piece_write on an allocated slot), so it only
 * decides whether it applies and otherwise leaves everything to submit():
 * any error (read-only, bounds, bad iovecs), a frozen blob or parked
 * submissions ahead, no free request, an unallocated slot, a write while
 * an allocation is uncommitted (blob_thin_pending: thin.c must confirm
 * it), or more than one slot. The request is still taken from the pool
 * and is in flight like any other, so freezes and drains wait for it;
 * its completion goes through bs_request_finish (the poller if the
 * device were ever to call back inside the submission). Returns true if
 * it submitted.
 */
static inline __attribute__((always_inline)) bool
fast_submit(struct blob *blob, struct io_channel *io_ch, uint8_t op, void *payload,
	    struct iovec *iov, int iovcnt, uint64_t offset, uint64_t length,
	    blob_op_complete cb, void *cb_arg)
{
	const struct blob_store *bs = blob->bs;
	uint64_t upc = bs->io_units_per_cluster;
	struct bs_channel *ch = io_channel_get_ctx(io_ch);
	struct blob_request *req;
	struct bs_dev *dev;
	uint64_t slot, in, lba;
	uint32_t c, n;

	/* Clusters are a power of two io units in any real store: no divide. */
	if (__builtin_expect(ch->upc_shift >= 0, 1))
		slot = offset >> ch->upc_shift;
	else
		slot = offset / upc;
	in = offset - slot * upc;
	if (length == 0 || length > upc - in || slot >= blob_slots(blob))
		return false;
	if (op == BLOB_IO_WRITE && (blob->data_ro || blob_thin_pending(blob)))
		return false;
	if (payload == NULL) {
		uint64_t want = length * bs->io_unit_size, total = 0;
		int i;

		/*
		 * More entries than a piece carries: the general path may have
		 * to cut the I/O, or refuse it (request.h); keep its answer.
		 */
		if (iov == NULL || iovcnt <= 0 || iovcnt > BLOB_REQ_IOV_MAX)
			return false;
		for (i = 0; i < iovcnt; i++) {
			total += iov[i].iov_len;
			if (total > want)
				return false;
		}
		if (total != want)
			return false;
	}
	req = bs_request_free_peek(ch);
	if (req == NULL || !TAILQ_EMPTY(&ch->waiting) ||
	    __atomic_load_n(&blob->frozen_refcnt, __ATOMIC_ACQUIRE) != 0)
		return false;
	/* After the freeze check: a freeze drains before the map may change. */
	c = map_get(blob, slot);
	if (c == 0)
		return false;
	bs_request_begin(ch, req);
	req->args.blob = blob;
	req->args.op = op;
	req->args.offset = offset;
	req->args.length = length;
	req->args.cb = cb;
	req->args.cb_arg = cb_arg;
	if (payload != NULL) {
		req->args.single.iov_base = payload;
		req->args.single.iov_len = length * bs->io_unit_size;
		iov = &req->args.single;
		iovcnt = 1;
	}
	req->args.iov = iov;
	req->args.iovcnt = iovcnt;
	dev = ch->dev;
	lba = bs_cluster_lba(ch, c, in);
	n = (uint32_t)(length * ch->lpu);
	req->starting = true;
	/* The request lends the device its operation context (bs_dev.h). */
	if (op == BLOB_IO_READ) {
		if (dev->readv_ctx != NULL)
			dev->readv_ctx(dev, ch->dev_ch, iov, iovcnt, lba, n, &req->dev_ctx,
				       fast_dev_cb, req);
		else
			dev->readv(dev, ch->dev_ch, iov, iovcnt, lba, n, fast_dev_cb, req);
	} else if (dev->writev_ctx != NULL) {
		dev->writev_ctx(dev, ch->dev_ch, iov, iovcnt, lba, n, &req->dev_ctx, fast_dev_cb,
				req);
	} else {
		dev->writev(dev, ch->dev_ch, iov, iovcnt, lba, n, fast_dev_cb, req);
	}
	req->starting = false;
	return true;
}

void
blob_io_read(struct blob *blob, struct io_channel *ch, void *payload, uint64_t offset,
	     uint64_t length, blob_op_complete cb, void *cb_arg)
{
	if (fast_submit(blob, ch, BLOB_IO_READ, payload, NULL, 0, offset, length, cb, cb_arg))
		return;
	submit(blob, ch, BLOB_IO_READ, payload, NULL, 0, offset, length, false, cb, cb_arg);
}

void
blob_io_write(struct blob *blob, struct io_channel *ch, void *payload, uint64_t offset,
	      uint64_t length, blob_op_complete cb, void *cb_arg)
{
	if (fast_submit(blob, ch, BLOB_IO_WRITE, payload, NULL, 0, offset, length, cb, cb_arg))
		return;
	submit(blob, ch, BLOB_IO_WRITE, payload, NULL, 0, offset, length, false, cb, cb_arg);
}

void
blob_io_readv(struct blob *blob, struct io_channel *ch, struct iovec *iov, int iovcnt,
	      uint64_t offset, uint64_t length, blob_op_complete cb, void *cb_arg)
{
	if (fast_submit(blob, ch, BLOB_IO_READ, NULL, iov, iovcnt, offset, length, cb, cb_arg))
		return;
	submit(blob, ch, BLOB_IO_READ, NULL, iov, iovcnt, offset, length, false, cb, cb_arg);
}

void
blob_io_writev(struct blob *blob, struct io_channel *ch, struct iovec *iov, int iovcnt,
	       uint64_t offset, uint64_t length, blob_op_complete cb, void *cb_arg)
{
	if (fast_submit(blob, ch, BLOB_IO_WRITE, NULL, iov, iovcnt, offset, length, cb, cb_arg))
		return;
	submit(blob, ch, BLOB_IO_WRITE, NULL, iov, iovcnt, offset, length, false, cb, cb_arg);
}

void
blob_io_write_zeroes(struct blob *blob, struct io_channel *ch, uint64_t offset,
		     uint64_t length, blob_op_complete cb, void *cb_arg)
{
	submit(blob, ch, BLOB_IO_WRITE_ZEROES, NULL, NULL, 0, offset, length, false, cb, cb_arg);
}

void
blob_io_unmap(struct blob *blob, struct io_channel *ch, uint64_t offset, uint64_t length,
	      blob_op_complete cb, void *cb_arg)
{
	submit(blob, ch, BLOB_IO_UNMAP, NULL, NULL, 0, offset, length, false, cb, cb_arg);
}

void
blob_io_flush(struct blob *blob, struct io_channel *ch, blob_op_complete cb, void *cb_arg)
{
	submit(blob, ch, BLOB_IO_FLUSH, NULL, NULL, 0, 0, 0, false, cb, cb_arg);
}

void
blob_io_readv_past_end(struct blob *blob, struct io_channel *ch, struct iovec *iov,
		       int iovcnt, uint64_t offset, uint64_t length, blob_op_complete cb,
		       void *cb_arg)
{
	submit(blob, ch, BLOB_IO_READ, NULL, iov, iovcnt, offset, length, true, cb, cb_arg);
}

void
blob_io_complete_later(struct blob *blob, struct io_channel *io_ch, int rc, blob_op_complete cb,
		       void *cb_arg)
{
	struct blob_io_args a = { .blob = blob, .cb = cb, .cb_arg = cb_arg };

	bs_channel_complete_later(io_channel_get_ctx(io_ch), &a, rc);
}

void
blob_cluster_allocate_and_copy(struct blob *blob, struct io_channel *ch, uint64_t slot,
			       blob_op_complete cb, void *cb_arg)
{
	uint64_t upc = blob->bs->io_units_per_cluster;

	if (slot >= blob_slots(blob)) {
		submit(blob, ch, BLOB_IO_ALLOCATE, NULL, NULL, 0, UINT64_MAX, 1, false, cb, cb_arg);
		return;
	}
	submit(blob, ch, BLOB_IO_ALLOCATE, NULL, NULL, 0, slot * upc, upc, false, cb, cb_arg);
}
