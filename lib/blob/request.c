/*
 * lib/blob/request.c: the blobstore's per-thread I/O channels and the
 * life of a request object, apart from what a request does (io.c) and
 * how it allocates (thin.c).
 *
 * Channels. The store is an io_device (the store pointer); each thread that
 * does blob I/O gets a channel (struct bs_channel) holding its channel to
 * the store device, a pool of max_channel_ops request objects made when
 * the channel is created, and the queues below. A channel is touched only
 * on its own thread: no lock, no atomic read-modify-write.
 *
 * No allocation in the path. A submission takes a request from the free
 * list. When there is none, the caller's arguments are parked (a small
 * record: struct blob_parked) and started, in order, as requests come
 * back; the caller never sees an error for lack of objects. Parked
 * records come from chunks that grow only past a new high-water mark of
 * parked submissions, so a steady load allocates nothing; they are
 * freed with the channel. The same records report argument errors
 * (bounds, read-only) from the poller, and hold the I/O of a frozen blob.
 *
 * Completions never run inside the submitting call (DESIGN.md). A
 * request that finishes while it is still starting (a read of zeroes,
 * an error found at once) is put on the done list and its callback runs
 * from the channel's poller. The poller is paused whenever it has nothing
 * to do, so an idle channel costs its reactor nothing.
 *
 * Freeze and drain. Every started request is on the channel's in-flight
 * list, in start order, with a sequence number. A drain (bs_drain_start)
 * visits every channel with io_device_for_each_channel and, on each,
 * waits until no request of the blob that started before the visit is
 * still in flight; new requests do not hold it up, so a drain ends under
 * any load. A freeze raises the blob's `frozen` count on the md thread
 * and then drains: a channel that had not yet seen the count when it
 * started a request is waited for by the drain, and after the visit the
 * count is visible there (the visit is a message), so from then on new
 * I/O of the blob is parked on that channel until the unfreeze restarts it.
 *
 * Messages. thin provisioning sends requests to the md thread and back.
 * thread_send_msg fails only when the global message pool is dry; then
 * the request waits on a retry list and the sending thread's poller (the
 * channel's, or the store's md poller) tries again, so no request is lost.
 *
 * Back devices. An esnap clone's back device is a bs_dev outside the
 * store with its own channels. A channel opens the channel of such a
 * device the first time one of its requests reads from it (one small
 * allocation per thread and device, like any channel creation) and keeps
 * it until the channel goes or bs_channels_drop_back_dev() asks.
 *
 * Invariants:
 *  - A request is in exactly one of: the free stack, in flight (started,
 *    in_flight set and counted in inflight_count; while a message of it
 *    waits to be resent it is also on a retry list), or the done list
 *    (finished, callback due).
 *  - Releases by unmap waiting for their turn are drain_exempt: a freeze
 *    does not wait for them (they wait for it), so freezes cannot deadlock
 *    on each other.
 *  - A parked record is in exactly one of: parked_free, waiting, frozen,
 *    parked_done.
 *  - A channel is destroyed only with nothing in flight (a user that puts
 *    its channel with I/O outstanding has a bug, which is logged).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

#include "blob_internal.h"
#include "request.h"

/*
 * Parked records per chunk: a burst of this many submissions past the
 * pool's size costs one allocation. Each record is about 100 bytes.
 */
#define PARKED_CHUNK 64

/*
 * Largest copy-on-write bounce buffer of a channel: a first write to a
 * cluster copies the cluster from its back device through this buffer,
 * in chunks of this size (the whole cluster when it is smaller). 1 MiB
 * copies a default blobstore cluster in one read and one write and an
 * lvol cluster (4 MiB) in four; larger buffers would buy little, since a
 * first write is dominated by the metadata commit, while costing every
 * thread that ever copies that much memory.
 */
#define COPY_BUF_MAX (1024u * 1024u)

struct bs_parked_chunk {
	struct bs_parked_chunk *next;
	struct blob_parked recs[PARKED_CHUNK];
};

struct bs_back_ch {
	struct bs_back_ch *next;
	struct bs_dev *dev;
	struct io_channel *ch;
};

static int channel_poll(void *arg);

/* ---- parked records ---------------------------------------------------------- */

static struct blob_parked *
parked_get(struct bs_channel *ch)
{
	struct blob_parked *p;

	if (TAILQ_EMPTY(&ch->parked_free)) {
		struct bs_parked_chunk *c = calloc(1, sizeof(*c));
		int i;

		if (c == NULL)
			return NULL;
		c->next = ch->chunks;
		ch->chunks = c;
		for (i = 0; i < PARKED_CHUNK; i++)
			TAILQ_INSERT_TAIL(&ch->parked_free, &c->recs[i], link);
	}
	p = TAILQ_FIRST(&ch->parked_free);
	TAILQ_REMOVE(&ch->parked_free, p, link);
	return p;
}

static void
parked_put(struct bs_channel *ch, struct blob_parked *p)
{
	TAILQ_INSERT_HEAD(&ch->parked_free, p, link);
}

/* Copies args, re-pointing the single-buffer iovec at the copy. */
static void
args_copy(struct blob_io_args *dst, const struct blob_io_args *src)
{
	*dst = *src;
	if (src->iov == &src->single)
		dst->iov = &dst->single;
}

static void
wake(struct bs_channel *ch)
{
	poller_resume(ch->poller);
}

/* ---- starting and finishing requests ---------------------------------------- */

static bool
blob_frozen(const struct blob *blob)
{
	return __atomic_load_n(&blob->frozen_refcnt, __ATOMIC_ACQUIRE) != 0;
}

static void
request_start(struct bs_channel *ch, struct blob_request *req, const struct blob_io_args *args)
{
	args_copy(&req->args, args);
	bs_request_begin(ch, req);
	req->done = 0;
	req->iov_idx = 0;
	req->iov_off = 0;
	req->starting = true;
	blob_request_start(req);
	req->starting = false;
}

/* Starts parked submissions while there are requests for them. */
static void
pump(struct bs_channel *ch)
{
	struct blob_parked *p;
	struct blob_request *req;

	while ((p = TAILQ_FIRST(&ch->waiting)) != NULL &&
	       (req = bs_request_free_peek(ch)) != NULL) {
		TAILQ_REMOVE(&ch->waiting, p, link);
		if (blob_frozen(p->args.blob)) {
			TAILQ_INSERT_TAIL(&ch->frozen, p, link);
			continue;
		}
		/*
		 * Started from a completion: mark it starting so that anything
		 * it finishes at once goes through the poller and completions
		 * cannot nest without bound.
		 */
		request_start(ch, req, &p->args);
		parked_put(ch, p);
	}
}

void
bs_channel_submit(struct bs_channel *ch, const struct blob_io_args *args)
{
	struct blob_request *req;
	struct blob_parked *p;

	if (!blob_frozen(args->blob) && TAILQ_EMPTY(&ch->waiting) &&
	    (req = bs_request_free_peek(ch)) != NULL) {
		request_start(ch, req, args);
		return;
	}
	p = parked_get(ch);
	if (p == NULL) {
		/*
		 * Out of memory for a 6 KiB chunk with every request busy:
		 * nowhere to keep the callback but a request's done slot,
		 * which we do not have. Report it the only way left.
		 */
		LOG_ERR("blob: out of memory parking an I/O");
		args->cb(args->cb_arg, -ENOMEM);
		return;
	}
	args_copy(&p->args, args);
	if (blob_frozen(args->blob))
		TAILQ_INSERT_TAIL(&ch->frozen, p, link);
	else
		TAILQ_INSERT_TAIL(&ch->waiting, p, link);
}

void
bs_channel_complete_later(struct bs_channel *ch, const struct blob_io_args *args, int rc)
{
	struct blob_parked *p = parked_get(ch);

	if (p == NULL) {
		LOG_ERR("blob: out of memory reporting an I/O error");
		args->cb(args->cb_arg, rc);
		return;
	}
	args_copy(&p->args, args);
	p->rc = rc;
	if (TAILQ_EMPTY(&ch->parked_done) && TAILQ_EMPTY(&ch->done))
		wake(ch);
	TAILQ_INSERT_TAIL(&ch->parked_done, p, link);
}

static void drain_check_channel(struct bs_channel *ch, const struct blob *blob);

void
bs_channel_drain_recheck(struct bs_channel *ch, const struct blob *blob)
{
	if (!TAILQ_EMPTY(&ch->drains))
		drain_check_channel(ch, blob);
}

/* Returns the request to its channel and calls back; the request is free before cb runs. */
static void
request_release_and_call(struct blob_request *req)
{
	struct bs_channel *ch = req->ch;
	blob_op_complete cb = req->args.cb;
	void *cb_arg = req->args.cb_arg;
	struct blob *blob = req->args.blob;
	int rc = req->rc;

	bs_request_free_push(ch, req);
	if (!TAILQ_EMPTY(&ch->drains))
		drain_check_channel(ch, blob);
	pump(ch);
	cb(cb_arg, rc);
}

static __attribute__((noinline)) void
request_finish_slow(struct blob_request *req)
{
	struct bs_channel *ch = req->ch;

	if (req->starting) {
		if (TAILQ_EMPTY(&ch->parked_done) && TAILQ_EMPTY(&ch->done))
			wake(ch);
		TAILQ_INSERT_TAIL(&ch->done, req, link);
		return;
	}
	request_release_and_call(req);
}

/*
 * The completion of every blob I/O. Requests finishing inside their start,
 * drains waiting on the channel and parked submissions are rare; without
 * them, finishing is two list operations and a tail call of the callback.
 */
void
bs_request_finish(struct blob_request *req)
{
	struct bs_channel *ch = req->ch;
	blob_op_complete cb;
	void *cb_arg;
	int rc;

	req->in_flight = false;
	ch->inflight_count--;
	if (__builtin_expect(req->starting || !TAILQ_EMPTY(&ch->drains) ||
			     !TAILQ_EMPTY(&ch->waiting), 0)) {
		request_finish_slow(req);
		return;
	}
	cb = req->args.cb;
	cb_arg = req->args.cb_arg;
	rc = req->rc;
	bs_request_free_push(ch, req);
	cb(cb_arg, rc);
}

static int
channel_poll(void *arg)
{
	struct bs_channel *ch = arg;
	TAILQ_HEAD(, blob_request) batch = TAILQ_HEAD_INITIALIZER(batch);
	TAILQ_HEAD(, blob_parked) pbatch = TAILQ_HEAD_INITIALIZER(pbatch);
	TAILQ_HEAD(, blob_request) rbatch = TAILQ_HEAD_INITIALIZER(rbatch);
	struct blob_request *req;
	struct blob_parked *p;
	int work = 0;

	/* Snapshots of the lists: what callbacks add waits for the next round. */
	TAILQ_CONCAT(&batch, &ch->done, link);
	TAILQ_CONCAT(&pbatch, &ch->parked_done, link);
	TAILQ_CONCAT(&rbatch, &ch->msg_retry, link);
	poller_pause(ch->poller);

	while ((req = TAILQ_FIRST(&rbatch)) != NULL) {
		TAILQ_REMOVE(&rbatch, req, link);
		work++;
		bs_request_send(req, req->retry_thread, req->retry_fn);
	}
	while ((p = TAILQ_FIRST(&pbatch)) != NULL) {
		blob_op_complete cb = p->args.cb;
		void *cb_arg = p->args.cb_arg;
		int rc = p->rc;

		TAILQ_REMOVE(&pbatch, p, link);
		parked_put(ch, p);
		work++;
		cb(cb_arg, rc);
	}
	while ((req = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, req, link);
		work++;
		request_release_and_call(req);
	}
	return work ? POLLER_BUSY : POLLER_IDLE;
}

/* ---- messages that must not be lost --------------------------------------------- */

static int
md_retry_poll(void *arg)
{
	struct bs_io_priv *io = arg;
	TAILQ_HEAD(, blob_request) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct blob_request *req;
	int work = 0;

	TAILQ_CONCAT(&batch, &io->md_retry, link);
	poller_pause(io->md_retry_poller);
	while ((req = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, req, link);
		work++;
		bs_request_send(req, req->retry_thread, req->retry_fn);
	}
	return work ? POLLER_BUSY : POLLER_IDLE;
}

void
bs_request_send(struct blob_request *req, struct thread *thread, void (*fn)(void *))
{
	struct bs_channel *ch = req->ch;
	struct bs_io_priv *io;

	if (thread_send_msg(thread, fn, req) == 0)
		return;
	/* The pool is dry: try again from this thread's poller. */
	req->retry_fn = fn;
	req->retry_thread = thread;
	if (thread_get_current() == ch->thread) {
		if (TAILQ_EMPTY(&ch->parked_done) && TAILQ_EMPTY(&ch->done) &&
		    TAILQ_EMPTY(&ch->msg_retry))
			wake(ch);
		TAILQ_INSERT_TAIL(&ch->msg_retry, req, link);
		return;
	}
	io = ch->bs->io_priv;
	assert(thread_get_current() == ch->bs->md_thread);
	if (TAILQ_EMPTY(&io->md_retry))
		poller_resume(io->md_retry_poller);
	TAILQ_INSERT_TAIL(&io->md_retry, req, link);
}

/* ---- external back devices ------------------------------------------------------- */

struct io_channel *
bs_channel_back_ch(struct bs_channel *ch, struct bs_dev *dev)
{
	struct bs_back_ch *b;

	for (b = ch->back_chs; b != NULL; b = b->next) {
		if (b->dev == dev)
			return b->ch;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->ch = dev->create_channel(dev);
	if (b->ch == NULL) {
		free(b);
		return NULL;
	}
	b->dev = dev;
	b->next = ch->back_chs;
	ch->back_chs = b;
	return b->ch;
}

static void
back_chs_drop(struct bs_channel *ch, struct bs_dev *dev)
{
	struct bs_back_ch **pp = &ch->back_chs, *b;

	while ((b = *pp) != NULL) {
		if (dev == NULL || b->dev == dev) {
			*pp = b->next;
			b->dev->destroy_channel(b->dev, b->ch);
			free(b);
		} else {
			pp = &b->next;
		}
	}
}

struct drop_ctx {
	struct bs_dev *dev;
	blob_op_complete cb;
	void *cb_arg;
};

static void
drop_channel(struct io_channel_iter *iter)
{
	struct drop_ctx *ctx = io_channel_iter_get_ctx(iter);
	struct bs_channel *ch = io_channel_get_ctx(io_channel_iter_get_channel(iter));

	back_chs_drop(ch, ctx->dev);
	io_channel_iter_continue(iter, 0);
}

static void
drop_done(struct io_channel_iter *iter, int status)
{
	struct drop_ctx *ctx = io_channel_iter_get_ctx(iter);

	ctx->cb(ctx->cb_arg, status);
	free(ctx);
}

void
bs_channels_drop_back_dev(struct blob_store *bs, struct bs_dev *dev, blob_op_complete cb,
			  void *cb_arg)
{
	struct drop_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		cb(cb_arg, -ENOMEM);
		return;
	}
	ctx->dev = dev;
	ctx->cb = cb;
	ctx->cb_arg = cb_arg;
	io_device_for_each_channel(bs, drop_channel, ctx, drop_done);
}

/* ---- the copy buffer ------------------------------------------------------------------ */

bool
bs_channel_copy_buf_get(struct bs_channel *ch, struct blob_request *req)
{
	if (ch->copy_busy) {
		TAILQ_INSERT_TAIL(&ch->copy_waiters, req, wait_link);
		return false;
	}
	if (ch->copy_buf == NULL) {
		size_t len = bs_get_cluster_size(ch->bs) < COPY_BUF_MAX ?
			     bs_get_cluster_size(ch->bs) : COPY_BUF_MAX;

		ch->copy_buf = env_dma_malloc(len, 4096, NULL);
		if (ch->copy_buf == NULL)
			return true;        /* the caller sees copy_buf NULL: -ENOMEM */
		ch->copy_buf_len = len;
	}
	ch->copy_busy = true;
	return true;
}

void
bs_channel_copy_buf_put(struct bs_channel *ch)
{
	struct blob_request *next;

	ch->copy_busy = false;
	next = TAILQ_FIRST(&ch->copy_waiters);
	if (next != NULL) {
		TAILQ_REMOVE(&ch->copy_waiters, next, wait_link);
		ch->copy_busy = true;
		blob_thin_copy_resume(next);
	}
}

/* ---- drains, freeze ------------------------------------------------------------------- */

static bool
drain_blocked(const struct bs_channel *ch, const struct bs_drain *d)
{
	if (ch->inflight_count == 0)
		return false;
	for (uint32_t i = 0; i < ch->num_reqs; i++) {
		const struct blob_request *req = &ch->reqs[i];

		if (req->in_flight && req->seq < d->target_seq && req->args.blob == d->blob &&
		    req != d->exclude && !req->drain_exempt)
			return true;
	}
	return false;
}

static void
drain_check_channel(struct bs_channel *ch, const struct blob *blob)
{
	struct bs_drain *d, *next;

	for (d = TAILQ_FIRST(&ch->drains); d != NULL; d = next) {
		next = TAILQ_NEXT(d, link);
		if (d->blob != blob || drain_blocked(ch, d))
			continue;
		TAILQ_REMOVE(&ch->drains, d, link);
		io_channel_iter_continue(d->iter, 0);
	}
}

static void
drain_channel(struct io_channel_iter *iter)
{
	struct bs_drain *d = io_channel_iter_get_ctx(iter);
	struct bs_channel *ch = io_channel_get_ctx(io_channel_iter_get_channel(iter));

	d->target_seq = ch->next_seq;
	d->iter = iter;
	if (!drain_blocked(ch, d)) {
		io_channel_iter_continue(iter, 0);
		return;
	}
	TAILQ_INSERT_TAIL(&ch->drains, d, link);
}

static void
drain_done(struct io_channel_iter *iter, int status)
{
	struct bs_drain *d = io_channel_iter_get_ctx(iter);

	d->cb(d, status);
}

void
bs_drain_start(struct blob_store *bs, struct bs_drain *drain)
{
	io_device_for_each_channel(bs, drain_channel, drain, drain_done);
}

struct freeze_ctx {
	struct bs_drain drain;
	blob_op_complete cb;
	void *cb_arg;
};

static void
freeze_done(struct bs_drain *drain, int rc)
{
	struct freeze_ctx *ctx = drain->ctx;

	ctx->cb(ctx->cb_arg, rc);
	free(ctx);
}

void
blob_freeze_io_except(struct blob *blob, const struct blob_request *exclude,
		      blob_op_complete cb, void *cb_arg)
{
	struct freeze_ctx *ctx = calloc(1, sizeof(*ctx));

	assert(bs_on_md_thread(blob->bs));
	if (ctx == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	__atomic_store_n(&blob->frozen_refcnt, blob->frozen_refcnt + 1, __ATOMIC_RELEASE);
	ctx->cb = cb;
	ctx->cb_arg = cb_arg;
	ctx->drain.blob = blob;
	ctx->drain.exclude = exclude;
	ctx->drain.cb = freeze_done;
	ctx->drain.ctx = ctx;
	bs_drain_start(blob->bs, &ctx->drain);
}

void
blob_freeze_io(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	blob_freeze_io_except(blob, NULL, cb, cb_arg);
}

static void
thaw_channel(struct io_channel_iter *iter)
{
	struct freeze_ctx *ctx = io_channel_iter_get_ctx(iter);
	struct bs_channel *ch = io_channel_get_ctx(io_channel_iter_get_channel(iter));
	struct blob_parked *p, *next;
	TAILQ_HEAD(, blob_parked) thawed = TAILQ_HEAD_INITIALIZER(thawed);

	if (!blob_frozen(ctx->drain.blob)) {
		/* Back to the head of the wait queue, in their order. */
		for (p = TAILQ_FIRST(&ch->frozen); p != NULL; p = next) {
			next = TAILQ_NEXT(p, link);
			if (p->args.blob != ctx->drain.blob)
				continue;
			TAILQ_REMOVE(&ch->frozen, p, link);
			TAILQ_INSERT_TAIL(&thawed, p, link);
		}
		TAILQ_CONCAT(&thawed, &ch->waiting, link);
		TAILQ_CONCAT(&ch->waiting, &thawed, link);
		pump(ch);
	}
	io_channel_iter_continue(iter, 0);
}

static void
thaw_done(struct io_channel_iter *iter, int status)
{
	struct freeze_ctx *ctx = io_channel_iter_get_ctx(iter);

	ctx->cb(ctx->cb_arg, status);
	free(ctx);
}

void
blob_unfreeze_io(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	struct freeze_ctx *ctx;

	assert(bs_on_md_thread(blob->bs));
	assert(blob->frozen_refcnt > 0);
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		/* Thaw anyway (the count is what I/O threads look at); the parked
		 * I/O then starts with the next I/O or unfreeze on its channel. */
		__atomic_store_n(&blob->frozen_refcnt, blob->frozen_refcnt - 1, __ATOMIC_RELEASE);
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	__atomic_store_n(&blob->frozen_refcnt, blob->frozen_refcnt - 1, __ATOMIC_RELEASE);
	ctx->cb = cb;
	ctx->cb_arg = cb_arg;
	ctx->drain.blob = blob;
	io_device_for_each_channel(blob->bs, thaw_channel, ctx, thaw_done);
}

/* ---- channels ----------------------------------------------------------------------- */

static int
channel_create(void *io_device, void *ctx_buf)
{
	struct blob_store *bs = io_device;
	struct bs_channel *ch = ctx_buf;
	uint32_t i, n = bs->opts.max_channel_ops ? bs->opts.max_channel_ops : 1;

	memset(ch, 0, sizeof(*ch));
	ch->bs = bs;
	ch->dev = bs->dev;
	ch->lpu = bs->io_unit_size / bs->dev->blocklen;
	ch->lpc = bs->lbas_per_cluster;
	ch->upc_shift = bs->io_units_per_cluster != 0 &&
			(bs->io_units_per_cluster & (bs->io_units_per_cluster - 1)) == 0 ?
			__builtin_ctzll(bs->io_units_per_cluster) : -1;
	ch->thread = thread_get_current();
	TAILQ_INIT(&ch->done);
	TAILQ_INIT(&ch->msg_retry);
	TAILQ_INIT(&ch->waiting);
	TAILQ_INIT(&ch->frozen);
	TAILQ_INIT(&ch->parked_done);
	TAILQ_INIT(&ch->parked_free);
	TAILQ_INIT(&ch->drains);
	TAILQ_INIT(&ch->copy_waiters);
	/* Aligned, so that each request's hot pair of lines is a pair (above). */
	ch->reqs = aligned_alloc(128, ALIGN_UP(n * sizeof(*ch->reqs), 128));
	if (ch->reqs == NULL)
		return -ENOMEM;
	memset(ch->reqs, 0, n * sizeof(*ch->reqs));
	ch->num_reqs = n;
	/* Pushed in reverse: reqs[0] is on top, the first one used. */
	for (i = n; i-- > 0;)
		bs_request_free_push(ch, &ch->reqs[i]);
	ch->dev_ch = bs->dev->create_channel(bs->dev);
	if (ch->dev_ch == NULL)
		goto err;
	ch->poller = poller_register(channel_poll, ch, 0, "blob_channel");
	if (ch->poller == NULL)
		goto err;
	poller_pause(ch->poller);
	return 0;
err:
	if (ch->dev_ch != NULL)
		bs->dev->destroy_channel(bs->dev, ch->dev_ch);
	free(ch->reqs);
	return -ENOMEM;
}

static void
channel_destroy(void *io_device, void *ctx_buf)
{
	struct bs_channel *ch = ctx_buf;
	struct bs_parked_chunk *c;

	/* Completions posted before the last put are normally delivered by now. */
	while (!TAILQ_EMPTY(&ch->done) || !TAILQ_EMPTY(&ch->parked_done) ||
	       !TAILQ_EMPTY(&ch->msg_retry))
		channel_poll(ch);
	if (ch->inflight_count != 0 || !TAILQ_EMPTY(&ch->waiting) ||
	    !TAILQ_EMPTY(&ch->frozen))
		LOG_ERR("blob channel destroyed with I/O outstanding");
	poller_unregister(&ch->poller);
	back_chs_drop(ch, NULL);
	ch->dev->destroy_channel(ch->dev, ch->dev_ch);
	env_dma_free(ch->copy_buf);
	while ((c = ch->chunks) != NULL) {
		ch->chunks = c->next;
		free(c);
	}
	free(ch->reqs);
}

struct io_channel *
bs_alloc_io_channel(struct blob_store *bs)
{
	return io_channel_get(bs);
}

void
bs_free_io_channel(struct io_channel *ch)
{
	io_channel_put(ch);
}

int
bs_io_init(struct blob_store *bs)
{
	struct bs_io_priv *io;

	assert(bs_on_md_thread(bs));
	/* store.c checked that an io unit is a whole number of device blocks. */
	assert(bs->io_unit_size % bs->dev->blocklen == 0);
	io = calloc(1, sizeof(*io));
	if (io == NULL)
		return -ENOMEM;
	io->bs = bs;
	TAILQ_INIT(&io->md_retry);
	io->md_retry_poller = poller_register(md_retry_poll, io, 0, "blob_md_retry");
	if (io->md_retry_poller == NULL) {
		free(io);
		return -ENOMEM;
	}
	poller_pause(io->md_retry_poller);
	bs->io_priv = io;
	io_device_register(bs, channel_create, channel_destroy, sizeof(struct bs_channel),
			   "blobstore");
	return 0;
}

static void
io_unregistered(void *io_device)
{
	struct blob_store *bs = io_device;
	struct bs_io_priv *io = bs->io_priv;
	void (*done)(struct blob_store *bs) = io->fini_done;

	poller_unregister(&io->md_retry_poller);
	bs->io_priv = NULL;
	free(io);
	done(bs);
}

void
bs_io_fini(struct blob_store *bs, void (*done)(struct blob_store *bs))
{
	struct bs_io_priv *io = bs->io_priv;

	assert(io != NULL && bs_on_md_thread(bs));
	io->fini_done = done;
	io_device_unregister(bs, io_unregistered);
}

struct blob_io_priv *
blob_io_priv_get(struct blob *blob)
{
	struct blob_io_priv *p = blob->io_priv;

	assert(bs_on_md_thread(blob->bs));
	if (p != NULL)
		return p;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	TAILQ_INIT(&p->entries);
	TAILQ_INIT(&p->releases);
	__atomic_store_n(&blob->io_priv, p, __ATOMIC_RELEASE);
	return p;
}

void
blob_io_release(struct blob *blob)
{
	struct blob_io_priv *p = blob->io_priv;

	if (p == NULL)
		return;
	if (!TAILQ_EMPTY(&p->entries) || !TAILQ_EMPTY(&p->releases))
		LOG_ERR("blob 0x%lx freed with cluster allocations in flight",
			(unsigned long)blob->id);
	assert(TAILQ_EMPTY(&p->entries) && TAILQ_EMPTY(&p->releases));
	blob->io_priv = NULL;
	free(p);
}
