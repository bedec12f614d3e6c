/*
 * lib/bdev/split.c: cutting an I/O the back end cannot take in one piece
 * into children it can, and write_zeroes emulated with writes of zeroes.
 *
 * Limits (all from struct bdev, fixed at registration): max_transfer_blocks,
 * optimal_io_boundary when split_on_optimal_io_boundary, max_segment_count
 * (iovecs per child), max_unmap_blocks, max_write_zeroes_blocks; an emulated
 * write_zeroes becomes writes of the shared zero buffer, at most
 * BDEV_ZERO_BUF_SIZE each. One limit comes from the I/O rather than the
 * bdev: data in buffers the back end cannot take (BDEV_IO_F_BOUNCE) goes
 * through bounce buffers of BDEV_BOUNCE_BUF_SIZE bytes, so such an I/O is
 * cut into children of at most that size, each bounced on its own
 * (bounce.c) -- or passed as it is, if its slice happens to be aligned.
 *
 * Invariants:
 *  - The parent is never given to the module. Children are ordinary
 *    bdev_ios with internal->parent set; they carry their own iovec array
 *    (child_iovs) sliced from the parent's iovecs, so splitting allocates
 *    nothing and never writes to the user's iovec array.
 *  - The parent's cursor (split_offset, split_remaining, split_iov_idx,
 *    split_iov_off) always points at the first byte not yet given to a
 *    child; children are issued in order, at most
 *    BDEV_SPLIT_MAX_OUTSTANDING at a time.
 *  - Every child is block-aligned: when a child runs out of iovec slots
 *    mid-block it is cut back to the last whole block.
 *  - Children never fail for want of a bdev_io: when the pool is empty and
 *    no child is in flight, the parent waits on its thread's wait queue
 *    (split_wait) and resumes when any bdev_io is freed there; when a child
 *    is in flight, its completion resumes the parent.
 *  - The parent completes exactly once, when no child is outstanding and
 *    either everything was issued or a child failed (first failure wins).
 */
#include <errno.h>
#include <string.h>

#include "lvstor/log.h"
#include "bdev_internal.h"

bool
bdev_io_needs_split(const struct bdev *bdev, const struct bdev_io *io)
{
	switch (io->type) {
	case BDEV_IO_TYPE_READ:
	case BDEV_IO_TYPE_WRITE:
	case BDEV_IO_TYPE_COMPARE:
		if (unlikely(bdev_io_bounces(io)) &&
		    io->u.num_blocks * bdev->blocklen > BDEV_BOUNCE_BUF_SIZE)
			return true;
		if (likely(!bdev->internal->split_rw))
			return false;
		if (bdev->max_transfer_blocks != 0 && io->u.num_blocks > bdev->max_transfer_blocks)
			return true;
		if (bdev->max_segment_count != 0 && io->u.iovcnt > (int)bdev->max_segment_count)
			return true;
		if (bdev->split_on_optimal_io_boundary && bdev->optimal_io_boundary != 0)
			return io->u.offset_blocks % bdev->optimal_io_boundary + io->u.num_blocks >
			       bdev->optimal_io_boundary;
		return false;
	case BDEV_IO_TYPE_UNMAP:
		return bdev->max_unmap_blocks != 0 && io->u.num_blocks > bdev->max_unmap_blocks;
	case BDEV_IO_TYPE_WRITE_ZEROES:
		return (io->internal->flags & BDEV_IO_F_EMULATED_WZ) ||
		       (bdev->max_write_zeroes_blocks != 0 &&
			io->u.num_blocks > bdev->max_write_zeroes_blocks);
	default:
		return false;
	}
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Blocks the next child may cover, before iovec limits. */
static uint64_t
child_blocks(const struct bdev *bdev, const struct bdev_io *parent)
{
	const struct bdev_io_internal *pin = parent->internal;
	uint64_t n = pin->split_remaining;

	switch (parent->type) {
	case BDEV_IO_TYPE_UNMAP:
		if (bdev->max_unmap_blocks != 0)
			n = min_u64(n, bdev->max_unmap_blocks);
		return n;
	case BDEV_IO_TYPE_WRITE_ZEROES:
		if (!(pin->flags & BDEV_IO_F_EMULATED_WZ)) {
			if (bdev->max_write_zeroes_blocks != 0)
				n = min_u64(n, bdev->max_write_zeroes_blocks);
			return n;
		}
		n = min_u64(n, BDEV_ZERO_BUF_SIZE / bdev->blocklen);
		break;
	default:
		break;
	}
	if (bdev->max_transfer_blocks != 0)
		n = min_u64(n, bdev->max_transfer_blocks);
	if (bdev_io_bounces(parent))
		n = min_u64(n, BDEV_BOUNCE_BUF_SIZE / bdev->blocklen);
	if (bdev->split_on_optimal_io_boundary && bdev->optimal_io_boundary != 0) {
		uint64_t b = bdev->optimal_io_boundary;

		n = min_u64(n, b - pin->split_offset % b);
	}
	return n;
}

/* Moves the parent's iovec cursor forward by `bytes`. */
static void
cursor_advance(struct bdev_io *parent, size_t bytes)
{
	struct bdev_io_internal *pin = parent->internal;

	while (bytes > 0) {
		size_t avail = parent->u.iovs[pin->split_iov_idx].iov_len - pin->split_iov_off;

		if (bytes < avail) {
			pin->split_iov_off += bytes;
			return;
		}
		bytes -= avail;
		pin->split_iov_idx++;
		pin->split_iov_off = 0;
	}
}

/*
 * Fills child's iovecs with up to *blocks blocks of the parent's data from
 * the cursor; sets *blocks to what fit (0: a single block needs more
 * segments than a child may have).
 */
static void
child_iovs_fill(const struct bdev *bdev, struct bdev_io *parent, struct bdev_io *child,
		uint64_t *blocks)
{
	struct bdev_io_internal *pin = parent->internal;
	struct iovec *civ = child->internal->child_iovs;
	size_t want = *blocks * bdev->blocklen, got = 0;
	int max_segs = BDEV_IO_CHILD_IOVS, idx = pin->split_iov_idx, n = 0;
	size_t off = pin->split_iov_off;

	if (bdev->max_segment_count != 0 && bdev->max_segment_count < (uint32_t)max_segs)
		max_segs = (int)bdev->max_segment_count;
	while (got < want && n < max_segs && idx < parent->u.iovcnt) {
		const struct iovec *piov = &parent->u.iovs[idx];
		size_t take = min_u64(piov->iov_len - off, want - got);

		if (take > 0) {
			civ[n].iov_base = (uint8_t *)piov->iov_base + off;
			civ[n].iov_len = take;
			n++;
			got += take;
			off += take;
		}
		if (off == piov->iov_len) {
			idx++;
			off = 0;
		}
	}
	if (got < want) {
		/* Out of segments: cut back to the last whole block. */
		size_t excess = got % bdev->blocklen;

		got -= excess;
		while (excess > 0) {
			if (civ[n - 1].iov_len <= excess) {
				excess -= civ[n - 1].iov_len;
				n--;
			} else {
				civ[n - 1].iov_len -= excess;
				excess = 0;
			}
		}
	}
	cursor_advance(parent, got);
	child->u.iovs = civ;
	child->u.iovcnt = n;
	*blocks = got / bdev->blocklen;
}

static void split_continue(struct bdev_io *parent);

static void
split_resume(void *arg)
{
	struct bdev_io *parent = arg;
	struct bdev_mgmt_channel *mgmt = parent->internal->ch->mgmt;

	/* Woken from inside a bdev_io release: anything completing now must wait. */
	mgmt->in_submit++;
	split_continue(parent);
	mgmt->in_submit--;
}

static void
split_continue(struct bdev_io *parent)
{
	struct bdev_io_internal *pin = parent->internal;
	struct bdev_channel *ch = pin->ch;
	struct bdev *bdev = parent->bdev;

	while (pin->split_remaining > 0 && pin->split_status == BDEV_IO_STATUS_SUCCESS &&
	       pin->split_outstanding < BDEV_SPLIT_MAX_OUTSTANDING) {
		struct bdev_io *child = bdev_io_alloc(ch);
		struct bdev_io_internal *cin;
		uint64_t blocks;

		if (child == NULL) {
			if (pin->split_outstanding == 0) {
				pin->split_wait.bdev = bdev;
				pin->split_wait.cb_fn = split_resume;
				pin->split_wait.cb_arg = parent;
				bdev_queue_io_wait(bdev, io_channel_from_ctx(ch), &pin->split_wait);
			}
			return;
		}
		cin = child->internal;
		cin->cb = NULL;
		cin->cb_arg = NULL;
		cin->ch = ch;
		cin->origin_ch = ch;
		cin->qos = NULL;
		cin->status = BDEV_IO_STATUS_PENDING;
		cin->flags = BDEV_IO_F_CHILD;
		cin->parent = parent;
		cin->buf = NULL;
		cin->submit_tsc = pin->submit_tsc;
		child->bdev = bdev;
		child->type = parent->type;
		child->u.offset_blocks = pin->split_offset;
		blocks = child_blocks(bdev, parent);

		switch (parent->type) {
		case BDEV_IO_TYPE_READ:
		case BDEV_IO_TYPE_WRITE:
		case BDEV_IO_TYPE_COMPARE:
			child_iovs_fill(bdev, parent, child, &blocks);
			if (blocks == 0) {
				LOG_ERR("bdev %s: one block spans more iovecs than a child may have",
					bdev->name);
				pin->split_status = BDEV_IO_STATUS_FAILED;
				bdev_io_release(child, ch->mgmt);
				continue;
			}
			break;
		case BDEV_IO_TYPE_WRITE_ZEROES:
			if (pin->flags & BDEV_IO_F_EMULATED_WZ) {
				child->type = BDEV_IO_TYPE_WRITE;
				child->iov.iov_base = g_bdev_zero_buf;
				child->iov.iov_len = blocks * bdev->blocklen;
				child->u.iovs = &child->iov;
				child->u.iovcnt = 1;
				break;
			}
			/* fall through */
		default:
			child->u.iovs = NULL;
			child->u.iovcnt = 0;
			break;
		}
		child->u.num_blocks = blocks;
		pin->split_offset += blocks;
		pin->split_remaining -= blocks;
		pin->split_outstanding++;
		if (unlikely(bdev_io_bounces(parent)))
			bdev_io_bounce_submit(ch, child);
		else
			bdev_io_do_submit(ch, child);
	}
	if (pin->split_outstanding == 0 &&
	    (pin->split_remaining == 0 || pin->split_status != BDEV_IO_STATUS_SUCCESS)) {
		pin->status = pin->split_status;
		pin->flags &= ~BDEV_IO_F_SPLIT;
		bdev_io_finish(parent);
	}
}

void
bdev_io_split(struct bdev_io *io)
{
	struct bdev_io_internal *in = io->internal;

	in->flags |= BDEV_IO_F_SPLIT;
	in->split_offset = io->u.offset_blocks;
	in->split_remaining = io->u.num_blocks;
	in->split_iov_idx = 0;
	in->split_iov_off = 0;
	in->split_outstanding = 0;
	in->split_status = BDEV_IO_STATUS_SUCCESS;
	split_continue(io);
}

void
bdev_io_split_child_done(struct bdev_io *child)
{
	struct bdev_io_internal *cin = child->internal;
	struct bdev_io *parent = cin->parent;
	struct bdev_io_internal *pin = parent->internal;
	struct bdev_channel *ch = cin->ch;

	if (cin->status != BDEV_IO_STATUS_SUCCESS && pin->split_status == BDEV_IO_STATUS_SUCCESS)
		pin->split_status = cin->status;
	pin->split_outstanding--;
	cin->parent = NULL;
	cin->flags &= (uint8_t)~BDEV_IO_F_CHILD;
	bdev_io_release(child, ch->mgmt);
	split_continue(parent);
}
