/*
 * lib/bdev/io.c: the I/O path: bdev_io objects, the submit functions,
 * completion, the per-thread channels and their lifetime, -ENOMEM waiting
 * and NOMEM retry. (Bounce buffers for misaligned data: bounce.c.)
 *
 * The path of a read, for orientation: bdev_readv() checks the request
 * (-EBADF, -ENODEV, -EINVAL), takes a bdev_io from the thread's cache (the
 * global pool when the cache is empty; -ENOMEM when both are), and hands
 * it to the module's submit_request on the thread's module channel. The
 * module calls bdev_io_complete(); the layer updates the channel's
 * statistics and calls the user back.
 *
 * Lifetime contract (what a user may let go of while its I/O is in flight):
 *  - Every I/O that a submit function accepted (returned 0) completes
 *    exactly once through its callback, on the submitting thread, even if
 *    the user has meanwhile put its channel, closed its descriptor, or the
 *    bdev is being hot-removed. The user submitted it; the callback is
 *    how it learns the outcome, and it still owes bdev_free_io().
 *  - A bdev channel lives until its user has put it AND every bdev_io
 *    taken on it has been freed: while io_refs > 0 the layer holds a
 *    reference of its own on the io_channel (taken when io_refs leaves 0,
 *    dropped by the bdev_free_io() that brings it back to 0). So the
 *    channel's NOMEM queue and poller, its statistics, the module channel
 *    it holds and the thread's mgmt channel (completion list, bounce
 *    buffers) all outlive the I/O that uses them, and a channel that is
 *    draining is still an ordinary channel to every walk (reset, QoS,
 *    statistics, removal). A user that never frees a bdev_io keeps its
 *    channel, and the bdev, alive: that is the price of never touching
 *    freed memory.
 *  - The bdev's destruct waits for the same thing: it runs once the
 *    io_device has no channel left, so after the last bdev_io of every
 *    channel is freed, however early the descriptors were closed.
 *  - No bdev_io keeps a pointer to its descriptor: bdev_close() may free
 *    it at once, with I/O still in flight. (A claim held by the closing
 *    descriptor is released at the close, not when its I/O drains.)
 *  - SPDK asks users to wait for their completions before putting channels;
 *    careful users still should (the channel's memory stays in use until
 *    then), but forgetting to is no longer a use-after-free.
 *  The hold costs nothing at queue depth > 1. Taking it is a look-up of the
 *  thread's channel (a short list walk, no lock; ~80-100 instructions with
 *  the put), which at depth 1 would come with every I/O; but a callback that
 *  frees its bdev_io and submits the next one does so inside a drain of
 *  the completion list, so a hold whose count drops to 0 there is parked
 *  until the drain ends and simply taken over by the next submit. Only a
 *  channel still idle at the end of the drain is let go.
 *
 * Invariants:
 *  - No allocation, no lock, no atomic and no message on that path: the
 *    thread's bdev_io cache, the channel (this thread's) and plain counters
 *    are all it touches. QoS and splitting leave it through one
 *    unlikely() branch each.
 *  - A user callback never runs before the submit function returns. Each
 *    thread's mgmt channel counts the submits on its stack (in_submit);
 *    a completion that happens inside one (a module completing inline,
 *    a split child failing at once) goes on the thread's done list instead
 *    of calling back. The list is drained by one poller per thread, paused
 *    while the list is empty, taking a snapshot each time: a callback that
 *    resubmits and completes inline again lands in the next batch, so
 *    there is no recursion and no starvation of the rest of the thread.
 *    Completions outside any submit (a module's own poller) call back at
 *    once, with no extra hop.
 *  - A bdev_io is in at most one list at a time (done list, NOMEM queue,
 *    QoS queue), linked through internal->next.
 *  - io_outstanding counts I/O handed to the module and not yet completed
 *    by it on this channel. NOMEM from the module is not an error: the I/O
 *    waits on the channel's NOMEM queue and is resubmitted when another
 *    I/O on the channel completes or, if none is in flight, by a timed
 *    poller that exists only while the queue is non-empty.
 *  - Time stamps (statistics, histograms) cost a TSC read each, which is
 *    not cheap on every CPU (16 ns here, a fifth of the budget per I/O).
 *    A drain reads the clock once: the completions it delivers and the
 *    I/O its callbacks submit share that stamp. The error this adds to a
 *    latency is bounded by the time one drain takes (microseconds at QD
 *    128); I/O submitted or completed anywhere else reads the clock.
 *  - Every freed bdev_io wakes at most one waiter of the freeing thread
 *    (a user's bdev_io_wait_entry or a split parent short of children).
 *  - Buffers: for a bdev with required_alignment > 1 the submit functions
 *    test each buffer once (one masked compare for the single aligned
 *    buffer, as before); a misaligned one no longer fails with -EINVAL but
 *    marks the I/O BDEV_IO_F_BOUNCE, which sends it off the fast path to
 *    bounce.c. Aligned I/O reaches the module with the user's own iovecs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "bdev_internal.h"

/* The internal part in front of each bdev_io: a cache line multiple. */
#define BDEV_IO_INTERNAL_SIZE ALIGN_UP(sizeof(struct bdev_io_internal), 64)
/*
 * How often a channel with NOMEM-queued I/O and nothing in flight retries.
 * Short, since a back end out of resources usually recovers within its own
 * completion time; the poller exists only while something is queued.
 */
#define BDEV_NOMEM_RETRY_US 100
/* get_buf size classes: one page-multiple small buffer and a large one. */
#define BDEV_BUF_SMALL (64 * 1024)
#define BDEV_BUF_LARGE (1024 * 1024)

struct env_pool *g_bdev_io_pool;
void *g_bdev_zero_buf;
int g_bdev_mgmt;

size_t
bdev_io_element_size(size_t ctx_size)
{
	/* Whole cache lines, so that every element starts on one. */
	return ALIGN_UP(BDEV_IO_INTERNAL_SIZE + sizeof(struct bdev_io) + ALIGN_UP(ctx_size, 16),
			64);
}

/* A bdev_io from the thread's cache, or from the shared pool when it is empty. */
static inline struct bdev_io *
io_alloc(struct bdev_channel *ch)
{
	struct bdev_mgmt_channel *mgmt = ch->mgmt;
	struct bdev_io *io = mgmt->io_cache;
	uint8_t *elt;

	if (likely(io != NULL)) {
		mgmt->io_cache = io->internal->next;
		mgmt->io_cache_count--;
		return io;
	}
	elt = env_pool_get(g_bdev_io_pool);
	if (unlikely(elt == NULL))
		return NULL;
	io = (struct bdev_io *)(elt + BDEV_IO_INTERNAL_SIZE);
	io->internal = (struct bdev_io_internal *)elt;
	return io;
}

struct bdev_io *
bdev_io_alloc(struct bdev_channel *ch)
{
	return io_alloc(ch);
}

static void
wake_one_waiter(struct bdev_mgmt_channel *mgmt)
{
	struct bdev_io_wait_entry *e = mgmt->wait_head;

	mgmt->wait_head = e->next;
	if (mgmt->wait_head == NULL)
		mgmt->wait_tail = NULL;
	e->next = NULL;
	e->cb_fn(e->cb_arg);
}

static void buf_put(struct bdev_mgmt_channel *mgmt, void *buf, size_t len);

static inline void
io_release(struct bdev_io *io, struct bdev_mgmt_channel *mgmt)
{
	struct bdev_io_internal *in = io->internal;

	if (unlikely(in->flags & BDEV_IO_F_BUF)) {
		buf_put(mgmt, in->buf, in->buf_len);
		in->buf = NULL;
		in->flags &= (uint8_t)~BDEV_IO_F_BUF;
	}
	if (likely(mgmt->io_cache_count < g_bdev_opts.bdev_io_cache_size)) {
		in->next = mgmt->io_cache;
		mgmt->io_cache = io;
		mgmt->io_cache_count++;
	} else {
		env_pool_put(g_bdev_io_pool, in);
	}
	if (unlikely(mgmt->wait_head != NULL))
		wake_one_waiter(mgmt);
}

void
bdev_io_release(struct bdev_io *io, struct bdev_mgmt_channel *mgmt)
{
	io_release(io, mgmt);
}

/*
 * Drops the layer's hold on the channel (io_refs is back to 0). Inside a
 * drain the callback may well submit again at once: the hold is parked
 * and done_poll() releases it at the end of the drain if it is still
 * unused by then.
 */
static void
channel_unhold(struct bdev_channel *ch)
{
	struct bdev_mgmt_channel *mgmt = ch->mgmt;

	if (mgmt->drain_tsc != 0) {
		ch->hold_parked = true;
		if (!ch->park_listed) {
			ch->park_listed = true;
			ch->park_next = mgmt->parked;
			mgmt->parked = ch;
		}
		return;
	}
	io_channel_put(io_channel_from_ctx(ch));
}

/* End of a drain: let go of the holds nobody took over. */
static void
channels_unpark(struct bdev_mgmt_channel *mgmt)
{
	struct bdev_channel *ch;

	while ((ch = mgmt->parked) != NULL) {
		mgmt->parked = ch->park_next;
		ch->park_listed = false;
		if (ch->hold_parked) {
			ch->hold_parked = false;
			io_channel_put(io_channel_from_ctx(ch));
		}
	}
}

/*
 * Frees a user's bdev_io. The last one of a channel drops the layer's hold
 * on it: if the user has put the channel already, that makes it go (by
 * message, never inside this call, so the caller's frames may still use it).
 */
void
bdev_free_io(struct bdev_io *io)
{
	struct bdev_channel *ch = io->internal->origin_ch;

	io_release(io, ch->mgmt);
	if (unlikely(--ch->io_refs == 0))
		channel_unhold(ch);
}

enum bdev_io_status
bdev_io_get_status(const struct bdev_io *io)
{
	return (enum bdev_io_status)io->internal->status;
}

struct io_channel *
bdev_io_get_io_channel(struct bdev_io *io)
{
	return io_channel_from_ctx(io->internal->ch);
}

int
bdev_queue_io_wait(struct bdev *bdev, struct io_channel *ioch, struct bdev_io_wait_entry *entry)
{
	struct bdev_channel *ch = io_channel_get_ctx(ioch);
	struct bdev_mgmt_channel *mgmt = ch->mgmt;

	if (entry == NULL || entry->bdev != bdev || entry->cb_fn == NULL || ch->bdev != bdev)
		return -EINVAL;
	entry->next = NULL;
	if (mgmt->wait_tail != NULL)
		mgmt->wait_tail->next = entry;
	else
		mgmt->wait_head = entry;
	mgmt->wait_tail = entry;
	return 0;
}

/* ---- submission ----------------------------------------------------------- */

static int nomem_poll(void *arg);

/*
 * The hot path is written as static inline functions (io_*) so that a
 * submit or a completion is one call frame, not five; the bdev_io_* names
 * other files of the layer use are thin wrappers around them. An lvol pays
 * the layer twice per I/O, so every frame counts double there.
 */
static inline void
io_do_submit(struct bdev_channel *ch, struct bdev_io *io)
{
	struct bdev_mgmt_channel *mgmt = ch->mgmt;

	ch->io_outstanding++;
	mgmt->in_submit++;
	io->bdev->fn_table->submit_request(ch->module_ch, io);
	mgmt->in_submit--;
}

void
bdev_io_do_submit(struct bdev_channel *ch, struct bdev_io *io)
{
	io_do_submit(ch, io);
}

static void submit_admitted_slow(struct bdev_io *io);

static inline void
io_submit_admitted(struct bdev_io *io)
{
	/* Reads and writes of a bdev without limits, in buffers it can take:
	 * no call to decide. */
	if (likely(io->type <= BDEV_IO_TYPE_WRITE && !io->bdev->internal->split_rw &&
		   !(io->internal->flags & BDEV_IO_F_BOUNCE))) {
		io_do_submit(io->internal->ch, io);
		return;
	}
	submit_admitted_slow(io);
}

void
bdev_io_submit_admitted(struct bdev_io *io)
{
	io_submit_admitted(io);
}

static void
submit_admitted_slow(struct bdev_io *io)
{
	struct bdev_channel *ch = io->internal->ch;

	if (unlikely(bdev_io_needs_split(io->bdev, io))) {
		bdev_io_split(io);
		return;
	}
	if (unlikely(io->internal->flags & BDEV_IO_F_BOUNCE)) {
		bdev_io_bounce_submit(ch, io);
		return;
	}
	io_do_submit(ch, io);
}

/*
 * The layer's own reference on the channel, taken when its first live
 * bdev_io is prepared (io_refs leaves 0). io_channel_get() on the thread
 * that owns the channel finds this very channel and counts one more
 * reference; it fails only when the bdev's io_device is already
 * unregistered (every descriptor closed) or the thread is exiting, and
 * then nothing may be started on the channel anyway.
 */
static bool
channel_hold(struct bdev_channel *ch)
{
	struct io_channel *self = io_channel_from_ctx(ch);
	struct io_channel *got = io_channel_get(ch->bdev->internal);

	if (likely(got == self))
		return true;
	/* Not this thread's channel of the bdev (a caller's error), or the
	 * thread is exiting / the bdev already unregistered. */
	if (got != NULL)
		io_channel_put(got);
	LOG_ERR("bdev %s: refusing I/O: channel of another thread, thread exiting, or bdev gone",
		ch->bdev->name);
	return false;
}

/* A user's bdev_io, counted in io_refs; NULL with *rc = -ENOMEM or -ENODEV. */
static inline __attribute__((always_inline)) struct bdev_io *
io_prepare(struct bdev_channel *ch, enum bdev_io_type type, uint64_t offset, uint64_t num,
	   uint8_t flags, bdev_io_cb cb, void *cb_arg, int *rc)
{
	struct bdev_io *io;
	struct bdev_io_internal *in;

	if (unlikely(ch->io_refs == 0)) {
		if (ch->hold_parked) {
			ch->hold_parked = false;       /* taken over, see channel_unhold() */
		} else if (unlikely(!channel_hold(ch))) {
			*rc = -ENODEV;
			return NULL;
		}
	}
	io = io_alloc(ch);
	if (unlikely(io == NULL)) {
		if (ch->io_refs == 0)
			channel_unhold(ch);      /* the user still holds it: no destroy */
		*rc = -ENOMEM;
		return NULL;
	}
	ch->io_refs++;
	in = io->internal;
	in->cb = cb;
	in->cb_arg = cb_arg;
	in->ch = ch;
	in->origin_ch = ch;
	in->qos = NULL;
	in->status = BDEV_IO_STATUS_PENDING;
	in->flags = flags;
	io->bdev = ch->bdev;
	io->type = type;
	io->u.offset_blocks = offset;
	io->u.num_blocks = num;
	return io;
}

/* Hands a prepared I/O to QoS or the module; 0 or -ENOMEM (io released). */
static inline int
io_submit_user(struct bdev_channel *ch, struct bdev_io *io)
{
	struct bdev_mgmt_channel *mgmt = ch->mgmt;
	int rc = 0;

	io->internal->submit_tsc = mgmt->drain_tsc ? mgmt->drain_tsc : env_get_ticks();
	mgmt->in_submit++;
	if (unlikely(ch->flags & BDEV_CH_QOS)) {
		bdev_qos_submit(ch, io, &rc);
		if (rc != 0)
			bdev_free_io(io);
	} else {
		io_submit_admitted(io);
	}
	mgmt->in_submit--;
	return rc;
}

static inline int
check_blocks(const struct bdev *bdev, uint64_t offset, uint64_t num)
{
	if (unlikely(num == 0 || offset + num < offset || offset + num > bdev->blockcnt))
		return -EINVAL;
	return 0;
}

/* The checks every block request shares. */
static inline int
check_request(struct bdev_desc *desc, struct bdev_channel *ch, bool write, uint64_t offset,
	      uint64_t num)
{
	if (unlikely(write && !desc->write))
		return -EBADF;
	if (unlikely(ch->flags & BDEV_CH_REMOVING))
		return -ENODEV;
	return check_blocks(ch->bdev, offset, num);
}

static inline bool
buf_aligned(const struct bdev *bdev, const void *buf)
{
	return bdev->required_alignment <= 1 ||
	       ((uintptr_t)buf & (bdev->required_alignment - 1)) == 0;
}

/* The iovecs of anything but one aligned buffer: 0, 1 (must bounce) or -EINVAL. */
static int
check_iovs(const struct bdev *bdev, const struct iovec *iov, int iovcnt, uint64_t num)
{
	uint64_t len = 0;

	if (iov == NULL || iovcnt <= 0)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len != num * bdev->blocklen)
		return -EINVAL;
	return bdev_iovs_need_bounce(bdev, iov, iovcnt);
}

static inline __attribute__((always_inline)) int
submit_buf(struct bdev_desc *desc, struct io_channel *ioch, enum bdev_io_type type, void *buf,
	   uint64_t offset, uint64_t num, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = io_channel_get_ctx(ioch);
	struct bdev *bdev = ch->bdev;
	struct bdev_io *io;
	uint8_t flags = 0;
	int rc;

	rc = check_request(desc, ch, type == BDEV_IO_TYPE_WRITE, offset, num);
	if (unlikely(rc != 0))
		return rc;
	if (unlikely(buf == NULL && type != BDEV_IO_TYPE_READ))
		return -EINVAL;
	if (unlikely(!buf_aligned(bdev, buf))) {
		struct iovec v = { .iov_base = buf, .iov_len = num * bdev->blocklen };

		rc = bdev_iovs_need_bounce(bdev, &v, 1);
		if (rc < 0)
			return rc;
		flags = BDEV_IO_F_BOUNCE;
	}
	io = io_prepare(ch, type, offset, num, flags, cb, cb_arg, &rc);
	if (unlikely(io == NULL))
		return rc;
	io->iov.iov_base = buf;
	io->iov.iov_len = num * bdev->blocklen;
	io->u.iovs = &io->iov;
	io->u.iovcnt = 1;
	return io_submit_user(ch, io);
}

static inline __attribute__((always_inline)) int
submit_iov(struct bdev_desc *desc, struct io_channel *ioch, enum bdev_io_type type,
	   struct iovec *iov, int iovcnt, uint64_t offset, uint64_t num, bdev_io_cb cb,
	   void *cb_arg)
{
	struct bdev_channel *ch = io_channel_get_ctx(ioch);
	struct bdev_io *io;
	uint8_t flags = 0;
	int rc;

	rc = check_request(desc, ch, type == BDEV_IO_TYPE_WRITE, offset, num);
	if (unlikely(rc != 0))
		return rc;
	if (unlikely(!(iovcnt == 1 && iov != NULL && iov[0].iov_len == num * ch->bdev->blocklen &&
		       buf_aligned(ch->bdev, iov[0].iov_base)))) {
		rc = check_iovs(ch->bdev, iov, iovcnt, num);
		if (rc < 0)
			return rc;
		if (rc > 0)
			flags = BDEV_IO_F_BOUNCE;
	}
	io = io_prepare(ch, type, offset, num, flags, cb, cb_arg, &rc);
	if (unlikely(io == NULL))
		return rc;
	io->u.iovs = iov;
	io->u.iovcnt = iovcnt;
	return io_submit_user(ch, io);
}

int
bdev_read(struct bdev_desc *desc, struct io_channel *ch, void *buf, uint64_t offset_blocks,
	  uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_buf(desc, ch, BDEV_IO_TYPE_READ, buf, offset_blocks, num_blocks, cb, cb_arg);
}

int
bdev_write(struct bdev_desc *desc, struct io_channel *ch, void *buf, uint64_t offset_blocks,
	   uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_buf(desc, ch, BDEV_IO_TYPE_WRITE, buf, offset_blocks, num_blocks, cb, cb_arg);
}

int
bdev_readv(struct bdev_desc *desc, struct io_channel *ch, struct iovec *iov, int iovcnt,
	   uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_iov(desc, ch, BDEV_IO_TYPE_READ, iov, iovcnt, offset_blocks, num_blocks,
			  cb, cb_arg);
}

int
bdev_writev(struct bdev_desc *desc, struct io_channel *ch, struct iovec *iov, int iovcnt,
	    uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_iov(desc, ch, BDEV_IO_TYPE_WRITE, iov, iovcnt, offset_blocks, num_blocks,
			  cb, cb_arg);
}

int
bdev_comparev(struct bdev_desc *desc, struct io_channel *ioch, struct iovec *iov, int iovcnt,
	      uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = io_channel_get_ctx(ioch);

	if (!ch->bdev->fn_table->io_type_supported(ch->bdev->ctxt, BDEV_IO_TYPE_COMPARE))
		return -ENOTSUP;
	return submit_iov(desc, ioch, BDEV_IO_TYPE_COMPARE, iov, iovcnt, offset_blocks,
			  num_blocks, cb, cb_arg);
}

/* Unmap, write_zeroes, flush: no data buffer. */
static int
submit_nodata(struct bdev_desc *desc, struct io_channel *ioch, enum bdev_io_type type,
	      uint64_t offset, uint64_t num, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = io_channel_get_ctx(ioch);
	struct bdev *bdev = ch->bdev;
	struct bdev_io *io;
	uint8_t flags = 0;
	int rc;

	if (!desc->write)
		return -EBADF;
	if (ch->flags & BDEV_CH_REMOVING)
		return -ENODEV;
	if (type == BDEV_IO_TYPE_FLUSH) {
		if (offset + num < offset || offset + num > bdev->blockcnt)
			return -EINVAL;
	} else {
		rc = check_blocks(bdev, offset, num);
		if (rc != 0)
			return rc;
	}
	if (!bdev->fn_table->io_type_supported(bdev->ctxt, type)) {
		if (type != BDEV_IO_TYPE_WRITE_ZEROES ||
		    !bdev->fn_table->io_type_supported(bdev->ctxt, BDEV_IO_TYPE_WRITE))
			return -ENOTSUP;
		flags = BDEV_IO_F_EMULATED_WZ;
	}
	io = io_prepare(ch, type, offset, num, flags, cb, cb_arg, &rc);
	if (io == NULL)
		return rc;
	io->u.iovs = NULL;
	io->u.iovcnt = 0;
	return io_submit_user(ch, io);
}

int
bdev_write_zeroes(struct bdev_desc *desc, struct io_channel *ch, uint64_t offset_blocks,
		  uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_nodata(desc, ch, BDEV_IO_TYPE_WRITE_ZEROES, offset_blocks, num_blocks, cb,
			     cb_arg);
}

int
bdev_unmap(struct bdev_desc *desc, struct io_channel *ch, uint64_t offset_blocks,
	   uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_nodata(desc, ch, BDEV_IO_TYPE_UNMAP, offset_blocks, num_blocks, cb, cb_arg);
}

int
bdev_flush(struct bdev_desc *desc, struct io_channel *ch, uint64_t offset_blocks,
	   uint64_t num_blocks, bdev_io_cb cb, void *cb_arg)
{
	return submit_nodata(desc, ch, BDEV_IO_TYPE_FLUSH, offset_blocks, num_blocks, cb, cb_arg);
}

/* ---- reset ------------------------------------------------------------------ */

static void
reset_abort_channel(struct io_channel_iter *iter)
{
	struct bdev_channel *ch = io_channel_get_ctx(io_channel_iter_get_channel(iter));

	bdev_channel_abort_nomem(ch);
	io_channel_iter_continue(iter, 0);
}

static void
reset_channels_done(struct io_channel_iter *iter, int status)
{
	struct bdev_io *io = io_channel_iter_get_ctx(iter);

	bdev_io_do_submit(io->internal->ch, io);
}

int
bdev_reset(struct bdev_desc *desc, struct io_channel *ioch, bdev_io_cb cb, void *cb_arg)
{
	struct bdev_channel *ch = io_channel_get_ctx(ioch);
	struct bdev *bdev = ch->bdev;
	struct bdev_io *io;
	int rc;

	if (ch->flags & BDEV_CH_REMOVING)
		return -ENODEV;
	if (!bdev->fn_table->io_type_supported(bdev->ctxt, BDEV_IO_TYPE_RESET))
		return -ENOTSUP;
	io = io_prepare(ch, BDEV_IO_TYPE_RESET, 0, 0, BDEV_IO_F_RESET_WALK, cb, cb_arg, &rc);
	if (io == NULL)
		return rc;
	io->u.iovs = NULL;
	io->u.iovcnt = 0;
	io->internal->submit_tsc = env_get_ticks();
	/* I/O the module refused for lack of resources is aborted, not retried. */
	io_device_for_each_channel(bdev->internal, reset_abort_channel, io, reset_channels_done);
	return 0;
}

/* ---- completion ------------------------------------------------------------ */

static inline void
io_complete_user(struct bdev_io *io)
{
	struct bdev_io_internal *in = io->internal;
	uint64_t now = in->origin_ch->mgmt->drain_tsc;

	bdev_stat_update(in->origin_ch, io, now ? now : env_get_ticks());
	in->cb(io, in->status == BDEV_IO_STATUS_SUCCESS, in->cb_arg);
}

void
bdev_io_complete_user(struct bdev_io *io)
{
	io_complete_user(io);
}

static inline void
io_complete_now(struct bdev_io *io)
{
	struct bdev_io_internal *in = io->internal;

	/* First, on the buffer's own thread: the data, then the buffer, go back. */
	if (unlikely(in->flags & BDEV_IO_F_BOUNCED))
		bdev_io_bounce_finish(io);
	if (unlikely(in->flags & BDEV_IO_F_CHILD)) {
		bdev_io_split_child_done(io);
		return;
	}
	if (unlikely(in->qos != NULL)) {
		bdev_qos_io_done(io);
		return;
	}
	io_complete_user(io);
}

void
bdev_io_complete_now(struct bdev_io *io)
{
	io_complete_now(io);
}

/* A completion inside a submit waits on the thread's done list (see above). */
static void
io_defer(struct bdev_mgmt_channel *mgmt, struct bdev_io *io)
{
	io->internal->next = NULL;
	*mgmt->done_tail = io;
	mgmt->done_tail = &io->internal->next;
	if (!mgmt->done_poller_active) {
		mgmt->done_poller_active = true;
		poller_resume(mgmt->done_poller);
	}
}

static inline void
io_finish(struct bdev_io *io)
{
	struct bdev_mgmt_channel *mgmt = io->internal->ch->mgmt;

	if (likely(mgmt->in_submit == 0))
		io_complete_now(io);
	else
		io_defer(mgmt, io);
}

void
bdev_io_finish(struct bdev_io *io)
{
	io_finish(io);
}

static int
done_poll(void *arg)
{
	struct bdev_mgmt_channel *mgmt = arg;
	struct bdev_io *io = mgmt->done_head, *next;

	if (io == NULL) {
		mgmt->done_poller_active = false;
		poller_pause(mgmt->done_poller);
		return POLLER_IDLE;
	}
	/* A snapshot: what these callbacks complete inline waits for the next round. */
	mgmt->done_head = NULL;
	mgmt->done_tail = &mgmt->done_head;
	mgmt->drain_tsc = env_get_ticks();
	do {
		next = io->internal->next;
		io_complete_now(io);
		io = next;
	} while (io != NULL);
	mgmt->drain_tsc = 0;
	if (mgmt->parked != NULL)
		channels_unpark(mgmt);
	if (mgmt->done_head == NULL) {
		mgmt->done_poller_active = false;
		poller_pause(mgmt->done_poller);
	}
	return POLLER_BUSY;
}

static void
nomem_enqueue(struct bdev_channel *ch, struct bdev_io *io)
{
	io->internal->next = NULL;
	*ch->nomem_tail = io;
	ch->nomem_tail = &io->internal->next;
	ch->nomem_requeued = true;
	if (ch->nomem_poller == NULL) {
		ch->nomem_poller = poller_register(nomem_poll, ch, BDEV_NOMEM_RETRY_US,
						   "bdev_nomem_retry");
		if (ch->nomem_poller == NULL)
			LOG_ERR("bdev %s: no retry poller; NOMEM I/O waits for a completion",
				ch->bdev->name);
	}
}

static struct bdev_io *
nomem_pop(struct bdev_channel *ch)
{
	struct bdev_io *io = ch->nomem_head;

	if (io != NULL) {
		ch->nomem_head = io->internal->next;
		if (ch->nomem_head == NULL)
			ch->nomem_tail = &ch->nomem_head;
	}
	return io;
}

/* Resubmits queued I/O until the module says NOMEM again. */
static void
nomem_retry(struct bdev_channel *ch)
{
	struct bdev_io *io;

	while ((io = nomem_pop(ch)) != NULL) {
		ch->nomem_requeued = false;
		bdev_io_do_submit(ch, io);
		if (ch->nomem_requeued)
			break;
	}
	if (ch->nomem_head == NULL && ch->nomem_poller != NULL)
		poller_unregister(&ch->nomem_poller);
}

static int
nomem_poll(void *arg)
{
	struct bdev_channel *ch = arg;

	if (ch->nomem_head == NULL) {
		poller_unregister(&ch->nomem_poller);
		return POLLER_IDLE;
	}
	nomem_retry(ch);
	return POLLER_BUSY;
}

void
bdev_channel_abort_nomem(struct bdev_channel *ch)
{
	struct bdev_io *io;

	while ((io = nomem_pop(ch)) != NULL) {
		io->internal->status = BDEV_IO_STATUS_ABORTED;
		bdev_io_finish(io);
	}
	if (ch->nomem_poller != NULL)
		poller_unregister(&ch->nomem_poller);
}

void
bdev_io_complete(struct bdev_io *io, enum bdev_io_status status)
{
	struct bdev_io_internal *in = io->internal;
	struct bdev_channel *ch = in->ch;

	ch->io_outstanding--;
	if (unlikely(status == BDEV_IO_STATUS_NOMEM)) {
		nomem_enqueue(ch, io);
		return;
	}
	in->status = status;
	if (unlikely(ch->nomem_head != NULL) && ch->mgmt->in_submit == 0)
		nomem_retry(ch);
	io_finish(io);
}

/* ---- buffers for I/O submitted without one ---------------------------------- */

static void
buf_put(struct bdev_mgmt_channel *mgmt, void *buf, size_t len)
{
	int cls = len <= BDEV_BUF_SMALL ? 0 : 1;

	if (mgmt->buf_count[cls] < COUNTOF(mgmt->buf_cache[cls]))
		mgmt->buf_cache[cls][mgmt->buf_count[cls]++] = buf;
	else
		env_dma_free(buf);
}

void
bdev_io_get_buf(struct bdev_io *io, bdev_io_get_buf_cb cb, uint64_t len)
{
	struct bdev_io_internal *in = io->internal;
	struct bdev_mgmt_channel *mgmt = in->ch->mgmt;
	struct io_channel *ioch = io_channel_from_ctx(in->ch);
	size_t cls_len;
	void *buf;
	int cls;

	if (io->u.iovs != NULL && io->u.iovcnt > 0 && io->u.iovs[0].iov_base != NULL) {
		cb(ioch, io, true);
		return;
	}
	if (len > BDEV_BUF_LARGE) {
		cb(ioch, io, false);
		return;
	}
	cls = len <= BDEV_BUF_SMALL ? 0 : 1;
	cls_len = cls == 0 ? BDEV_BUF_SMALL : BDEV_BUF_LARGE;
	if (mgmt->buf_count[cls] > 0)
		buf = mgmt->buf_cache[cls][--mgmt->buf_count[cls]];
	else
		buf = env_dma_malloc(cls_len, 4096, NULL);
	if (buf == NULL) {
		cb(ioch, io, false);
		return;
	}
	in->buf = buf;
	in->flags |= BDEV_IO_F_BUF;
	in->buf_len = cls_len;
	io->iov.iov_base = buf;
	io->iov.iov_len = len;
	io->u.iovs = &io->iov;
	io->u.iovcnt = 1;
	cb(ioch, io, true);
}

/* ---- channels ------------------------------------------------------------------- */

int
bdev_mgmt_channel_create(void *io_device, void *ctx)
{
	struct bdev_mgmt_channel *mgmt = ctx;

	memset(mgmt, 0, sizeof(*mgmt));
	mgmt->done_tail = &mgmt->done_head;
	mgmt->bounce_wait_tail = &mgmt->bounce_wait_head;
	mgmt->done_poller = poller_register(done_poll, mgmt, 0, "bdev_completions");
	if (mgmt->done_poller == NULL)
		return -ENOMEM;
	poller_pause(mgmt->done_poller);
	return 0;
}

void
bdev_mgmt_channel_destroy(void *io_device, void *ctx)
{
	struct bdev_mgmt_channel *mgmt = ctx;

	if (mgmt->done_head != NULL)
		LOG_ERR("bdev: thread channel destroyed with completions pending");
	poller_unregister(&mgmt->done_poller);
	while (mgmt->io_cache != NULL) {
		struct bdev_io *io = mgmt->io_cache;

		mgmt->io_cache = io->internal->next;
		env_pool_put(g_bdev_io_pool, io->internal);
	}
	mgmt->io_cache_count = 0;
	for (int c = 0; c < 2; c++) {
		while (mgmt->buf_count[c] > 0)
			env_dma_free(mgmt->buf_cache[c][--mgmt->buf_count[c]]);
	}
	bdev_bounce_pool_fini(mgmt);
}

int
bdev_channel_create(void *io_device, void *ctx)
{
	struct bdev_internal *in = io_device;
	struct bdev *bdev = in->bdev;
	struct bdev_channel *ch = ctx;
	struct io_channel *mgmt_ioch;

	memset(ch, 0, sizeof(*ch));
	ch->bdev = bdev;
	ch->thread = thread_get_current();
	ch->nomem_tail = &ch->nomem_head;
	mgmt_ioch = io_channel_get(&g_bdev_mgmt);
	if (mgmt_ioch == NULL)
		return -ENOMEM;
	ch->mgmt = io_channel_get_ctx(mgmt_ioch);
	/* Bounce buffers now, so that misaligned I/O never has to allocate. */
	if (bdev->required_alignment > 1 && bdev_bounce_pool_init(ch->mgmt) != 0) {
		io_channel_put(mgmt_ioch);
		return -ENOMEM;
	}
	ch->module_ch = bdev->fn_table->get_io_channel(bdev->ctxt);
	if (ch->module_ch == NULL) {
		LOG_ERR("bdev %s: the module gave no channel", bdev->name);
		io_channel_put(mgmt_ioch);
		return -ENOMEM;
	}
	bdev_stat_channel_init(ch);
	pthread_mutex_lock(&g_bdev_lock);
	if (in->status == BDEV_STATUS_REMOVING)
		ch->flags |= BDEV_CH_REMOVING;
	pthread_mutex_unlock(&g_bdev_lock);
	bdev_qos_channel_init(ch);
	return 0;
}

/*
 * Runs once the user has put the channel and the last bdev_io taken on it
 * has been freed (the layer's hold, see bdev_free_io): nothing can be in
 * flight on it any more, so the module channel and the thread's mgmt
 * channel may go.
 */
void
bdev_channel_destroy(void *io_device, void *ctx)
{
	struct bdev_channel *ch = ctx;

	if (ch->io_refs != 0 || ch->io_outstanding != 0 || ch->nomem_head != NULL)
		LOG_ERR("bdev %s: BUG: channel destroyed with %u I/O alive, %lu at the module",
			ch->bdev->name, ch->io_refs, (unsigned long)ch->io_outstanding);
	if (ch->nomem_poller != NULL)
		poller_unregister(&ch->nomem_poller);
	bdev_stat_channel_fini(ch);
	io_channel_put(ch->module_ch);
	io_channel_put(io_channel_from_ctx(ch->mgmt));
}
