/*
 * lib/blob/thin.c: thin provisioning in the data path. A write to an
 * unallocated slot of a thin blob allocates a cluster for it (spec §5.3,
 * §6.5); an unmap that covers a whole cluster of a thin blob without
 * parent gives it back ("release by unmap").
 *
 * Threads. Cluster claims and metadata belong to the md thread. The
 * request that finds its slot unallocated (on any thread) sends itself to
 * the md thread, which answers by message:
 *
 *   I/O thread                         md thread
 *   ----------                         ---------
 *   piece: slot unallocated  --claim-->  slot has an entry? wait on it.
 *                                        slot allocated?  -> ALREADY(c)
 *                                        bs_claim_cluster -> -ENOSPC, or
 *                                        record an entry  -> CLAIMED(c)
 *   fill cluster c: copy what the
 *   write does not cover from the
 *   back device (unless it reads as
 *   zeroes), write the user's data
 *   (or zeroes) into c      --commit-->  blob_insert_cluster(slot, c):
 *                                        flush, extent page in place (or
 *                                        new page + chain persist), flush
 *                            <--DONE---  waiters get ALREADY(c)
 *   piece done
 *
 * Concurrent first writes to one slot, from any threads: the first to
 * reach the md thread owns the entry; the others wait on it and, once it
 * commits, write to its cluster like any write to an allocated slot. Only
 * one cluster is ever claimed per slot.
 *
 * Crash safety (the commit is blob_insert_cluster's single page write, or
 * its root write, see metadata.c). The new cluster is referenced by no
 * committed metadata until that write; everything written into it before
 * is invisible after a crash, and recovery does not claim it. We write
 * the copy AND the user's data into the cluster before the commit (spec
 * §6.5 writes the user's data after it; ours is the stronger order, and
 * the on-disk result is identical): blob_insert_cluster flushes before
 * its commit and after it, so when the write is acknowledged the data
 * and the extent are durable, and a power cut at any point leaves either
 * the slot unallocated (the parent's data shows, nothing leaked) or the
 * slot allocated with the copy and the user's data in it. Never the copy
 * without the data of a write that was acknowledged, never a committed
 * slot whose cluster holds neither.
 *
 * Visibility. blob_insert_cluster puts the cluster in the map before its
 * commit, where other threads see it. A write that went straight to the
 * device then would be acknowledged on an allocation that a power cut
 * can still undo. So while any allocation of the blob is uncommitted,
 * blob_io_priv.alloc_pending is non-zero (raised before the insert,
 * lowered after it completes) and a write that finds its slot allocated
 * asks the md thread ("confirm"): if the slot has an entry, it waits for
 * the commit like a concurrent first write. Reads need no such care: an
 * uncommitted cluster holds the same data as the parent (plus writes not
 * yet acknowledged).
 *
 * Failure. A claim that finds no free cluster fails the piece with
 * -ENOSPC. A fill that fails (device error) gives the claimed cluster
 * back: nothing references it. A commit that fails with -EEXIST (the slot
 * got allocated elsewhere), -EINVAL (the blob shrank) or -ENOSPC (no md
 * page for a new extent page) leaves the cluster ours and unreferenced:
 * given back, and the owner retries (-EEXIST) or fails. A cluster given
 * back may hold what the fill wrote, so it is scrubbed (the blob's clear
 * method) before it is free again. Any other commit
 * failure (-EIO) may or may not have reached the disk: the cluster stays
 * claimed (blob_insert_cluster keeps it in the map), never handed out
 * twice; the next load's recovery settles it. Waiters of a failed entry
 * start over from the lookup.
 *
 * Release by unmap (spec §6.5). The request unmaps the cluster's data,
 * then the md thread freezes the blob (new I/O parked, I/O in flight
 * drained: no request may still target the cluster once it is free),
 * calls blob_remove_cluster (slot to 0 and its commit, then the bitmap),
 * and thaws. Releases of one blob run one at a time; a request waiting
 * for its turn is exempt from the freeze's drain, which would otherwise
 * wait for it.
 *
 * The copy buffer belongs to the channel (request.c): copies on one
 * thread take turns; a copy runs in chunks of its size.
 */
#include <assert.h>
#include <errno.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "blob_internal.h"
#include "request.h"

/* Answers of the md thread (req->thin_reply), besides negative errnos. */
enum thin_reply {
	THIN_REPLY_CLAIMED = 1,     /* thin_cluster is ours: fill it */
	THIN_REPLY_ALREADY,         /* the slot is committed at thin_cluster */
	THIN_REPLY_RETRY,           /* start the piece over */
	THIN_REPLY_DONE,            /* our commit / release is done */
};

static void io_reply(void *ctx);

bool
blob_thin_pending(const struct blob *blob)
{
	const struct blob_io_priv *p = __atomic_load_n(&blob->io_priv, __ATOMIC_ACQUIRE);

	return p != NULL && __atomic_load_n(&p->alloc_pending, __ATOMIC_ACQUIRE) != 0;
}

static void
pending_add(struct blob_io_priv *p, int delta)
{
	__atomic_store_n(&p->alloc_pending, (uint32_t)((int)p->alloc_pending + delta),
			 __ATOMIC_RELEASE);
	/*
	 * Keep the map store that follows (blob_insert_cluster's release
	 * store) after this one on every CPU, so a thread that sees the new
	 * cluster sees the count raised.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* md thread: answers `req` on its channel's thread. */
static void
reply(struct blob_request *req, int code, uint32_t cluster)
{
	req->thin_reply = code;
	req->thin_cluster = cluster;
	bs_request_send(req, req->ch->thread, io_reply);
}

static struct thin_entry *
entry_find(struct blob_io_priv *p, uint64_t slot)
{
	struct thin_entry *e;

	TAILQ_FOREACH(e, &p->entries, link) {
		if (e->slot == slot)
			return e;
	}
	return NULL;
}

static void
entry_wake(struct thin_entry *e, int code, uint32_t cluster)
{
	struct blob_request *w;

	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, wait_link);
		reply(w, code, cluster);
	}
}

static void
give_back_done(void *cb_arg, int rc)
{
	if (rc != 0)
		LOG_ERR("blob: scrubbing an unused cluster failed (%d): kept until the next load",
			rc);
}

/*
 * Returns a claimed cluster that no metadata references. We may have
 * written into it, and a thin blob without parent trusts a new cluster to
 * read zeroes (spec §5.3), so it is scrubbed with the blob's clear method
 * first; it stays claimed until the scrub is done (and for good if the
 * scrub fails).
 */
static void
give_back(struct blob *blob, uint32_t cluster)
{
	bs_scrub_clusters(blob->bs, &cluster, 1, blob_get_clear_method(blob), true, give_back_done,
			  NULL);
}

/* ---- md thread: claim, confirm, commit, abort ------------------------------------- */

static void
md_claim(void *ctx)
{
	struct blob_request *req = ctx;
	struct blob *blob = req->args.blob;
	struct blob_io_priv *p;
	struct thin_entry *e;
	uint32_t c;
	int rc;

	if (req->slot >= blob->active.num_clusters) {
		reply(req, -EINVAL, 0);
		return;
	}
	p = blob_io_priv_get(blob);
	if (p == NULL) {
		reply(req, -ENOMEM, 0);
		return;
	}
	e = entry_find(p, req->slot);
	if (e != NULL) {
		TAILQ_INSERT_TAIL(&e->waiters, req, wait_link);
		return;
	}
	c = blob->active.clusters[req->slot];
	if (c != 0) {
		reply(req, THIN_REPLY_ALREADY, c);
		return;
	}
	rc = bs_claim_cluster(blob->bs, &c);
	if (rc != 0) {
		reply(req, rc, 0);
		return;
	}
	e = &req->entry;
	e->slot = req->slot;
	e->cluster = c;
	e->kind = THIN_ENTRY_ALLOC;
	TAILQ_INIT(&e->waiters);
	TAILQ_INSERT_TAIL(&p->entries, e, link);
	reply(req, THIN_REPLY_CLAIMED, c);
}

static void
md_confirm(void *ctx)
{
	struct blob_request *req = ctx;
	struct blob *blob = req->args.blob;
	struct blob_io_priv *p = blob->io_priv;
	struct thin_entry *e;
	uint32_t c;

	if (req->slot >= blob->active.num_clusters) {
		reply(req, -EINVAL, 0);
		return;
	}
	e = p != NULL ? entry_find(p, req->slot) : NULL;
	if (e != NULL) {
		TAILQ_INSERT_TAIL(&e->waiters, req, wait_link);
		return;
	}
	c = blob->active.clusters[req->slot];
	reply(req, c != 0 ? THIN_REPLY_ALREADY : THIN_REPLY_RETRY, c);
}

static void
md_commit_done(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;
	struct blob *blob = req->args.blob;
	struct blob_io_priv *p = blob->io_priv;
	struct thin_entry *e = &req->entry;

	pending_add(p, -1);
	TAILQ_REMOVE(&p->entries, e, link);
	if (rc == 0) {
		entry_wake(e, THIN_REPLY_ALREADY, e->cluster);
		reply(req, THIN_REPLY_DONE, e->cluster);
		return;
	}
	entry_wake(e, THIN_REPLY_RETRY, 0);
	switch (rc) {
	case -EEXIST:
		/* Someone else allocated the slot: our copy goes, our data is redone there. */
		give_back(blob, e->cluster);
		reply(req, THIN_REPLY_RETRY, 0);
		break;
	case -EINVAL:
	case -ENOSPC:
		give_back(blob, e->cluster);
		reply(req, rc, 0);
		break;
	default:
		/* Maybe on disk already: leave the cluster claimed (see above). */
		LOG_ERR("blob 0x%lx: committing slot %lu failed: %d", (unsigned long)blob->id,
			(unsigned long)e->slot, rc);
		reply(req, rc, 0);
		break;
	}
}

static void
md_commit(void *ctx)
{
	struct blob_request *req = ctx;
	struct blob *blob = req->args.blob;
	struct thin_entry *e = &req->entry;

	pending_add(blob->io_priv, 1);
	blob_insert_cluster(blob, e->slot, e->cluster, md_commit_done, req);
}

static void
md_abort(void *ctx)
{
	struct blob_request *req = ctx;
	struct blob *blob = req->args.blob;
	struct blob_io_priv *p = blob->io_priv;
	struct thin_entry *e = &req->entry;

	TAILQ_REMOVE(&p->entries, e, link);
	/* Nothing references the cluster: back to the free pool. */
	give_back(blob, e->cluster);
	entry_wake(e, THIN_REPLY_RETRY, 0);
	reply(req, req->rc != 0 ? req->rc : -EIO, 0);
}

/* ---- I/O thread: fill the new cluster ----------------------------------------------- */

static void
fill_abort(struct blob_request *req, int rc)
{
	req->rc = rc;
	bs_request_send(req, req->args.blob->bs->md_thread, md_abort);
}

/* The part of the slot the piece's own data covers: [*start, *end). */
static void
data_range(const struct blob_request *req, uint64_t *start, uint64_t *end)
{
	if (req->args.op == BLOB_IO_ALLOCATE) {
		*start = *end = 0;
		return;
	}
	*start = req->in_cluster;
	*end = req->in_cluster + req->piece_len;
}

static void
data_done(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;

	if (rc != 0) {
		fill_abort(req, rc);
		return;
	}
	bs_request_send(req, req->args.blob->bs->md_thread, md_commit);
}

static void
data_write(struct blob_request *req)
{
	struct blob_store *bs = req->args.blob->bs;
	struct bs_dev *dev = bs->dev;
	uint64_t lba = bs_cluster_lba(req->ch, req->thin_cluster, req->in_cluster);
	uint64_t n = req->piece_len * req->ch->lpu;

	switch (req->args.op) {
	case BLOB_IO_WRITE:
		dev->writev(dev, req->ch->dev_ch, req->piece_iov, req->piece_iovcnt, lba, (uint32_t)n,
			    data_done, req);
		break;
	case BLOB_IO_WRITE_ZEROES:
		dev->write_zeroes(dev, req->ch->dev_ch, lba, n, data_done, req);
		break;
	default:
		/* ALLOCATE: the copy was all there was to write. */
		data_done(req, 0);
		break;
	}
}

static void copy_next(struct blob_request *req);

static void
copy_write_done(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;

	if (rc != 0) {
		bs_channel_copy_buf_put(req->ch);
		fill_abort(req, rc);
		return;
	}
	req->copy_pos += req->copy_len;
	copy_next(req);
}

static void
copy_read_done(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;
	struct blob_store *bs = req->args.blob->bs;

	if (rc != 0) {
		bs_channel_copy_buf_put(req->ch);
		fill_abort(req, rc);
		return;
	}
	bs->dev->write(bs->dev, req->ch->dev_ch, req->ch->copy_buf,
		       bs_cluster_lba(req->ch, req->thin_cluster, req->copy_pos),
		       (uint32_t)(req->copy_len * req->ch->lpu), copy_write_done, req);
}

/* Copies the next chunk of [copy_pos, copy_end) that the piece's data does not cover. */
static void
copy_next(struct blob_request *req)
{
	struct bs_channel *ch = req->ch;
	struct blob_store *bs = req->args.blob->bs;
	uint64_t ds, de, pos = req->copy_pos, end, chunk;
	struct io_channel *bch;
	struct bs_dev *src;
	uint64_t byte;

	data_range(req, &ds, &de);
	if (pos >= ds && pos < de)
		pos = de;
	if (pos >= req->copy_end) {
		bs_channel_copy_buf_put(ch);
		data_write(req);
		return;
	}
	end = pos < ds && ds < req->copy_end ? ds : req->copy_end;
	chunk = end - pos;
	if (chunk > ch->copy_buf_len / bs->io_unit_size)
		chunk = ch->copy_buf_len / bs->io_unit_size;
	req->copy_pos = pos;
	req->copy_len = chunk;
	if (req->src.kind == BLOB_SRC_CLUSTER) {
		bs->dev->read(bs->dev, ch->dev_ch, ch->copy_buf,
			      bs_cluster_lba(ch, req->src.cluster, pos), (uint32_t)(chunk * ch->lpu),
			      copy_read_done, req);
		return;
	}
	src = req->src.dev;
	bch = bs_channel_back_ch(ch, src);
	if (bch == NULL) {
		bs_channel_copy_buf_put(ch);
		fill_abort(req, -ENOMEM);
		return;
	}
	byte = (req->slot * bs->io_units_per_cluster + pos) * bs->io_unit_size;
	src->read(src, bch, ch->copy_buf, byte / src->blocklen,
		  (uint32_t)(chunk * bs->io_unit_size / src->blocklen), copy_read_done, req);
}

void
blob_thin_copy_resume(struct blob_request *req)
{
	if (req->ch->copy_buf == NULL) {
		bs_channel_copy_buf_put(req->ch);
		fill_abort(req, -ENOMEM);
		return;
	}
	copy_next(req);
}

static void
fill_start(struct blob_request *req)
{
	uint64_t ds, de, upc = req->args.blob->bs->io_units_per_cluster;
	int rc;

	rc = blob_resolve_src(req->args.blob, req->slot, &req->src);
	if (rc != 0) {
		fill_abort(req, rc);
		return;
	}
	data_range(req, &ds, &de);
	/*
	 * Nothing to copy when the back device reads zeroes there (a new
	 * cluster reads zeroes: the data area is scrubbed at creation and
	 * released clusters by their clear method, spec §5.3), or when the
	 * piece's data covers the whole cluster.
	 */
	if (req->src.kind == BLOB_SRC_ZERO || (ds == 0 && de == upc)) {
		data_write(req);
		return;
	}
	req->copy_pos = 0;
	req->copy_end = req->src.kind == BLOB_SRC_DEV ? req->src.valid_units : upc;
	if (!bs_channel_copy_buf_get(req->ch, req))
		return;             /* queued: blob_thin_copy_resume */
	blob_thin_copy_resume(req);
}

/* ---- release by unmap (md thread) ---------------------------------------------------- */

static void release_next(struct blob *blob);

static void
release_thawed(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;
	struct blob *blob = req->args.blob;
	struct blob_io_priv *p = blob->io_priv;
	struct thin_entry *e = &req->entry;

	TAILQ_REMOVE(&p->entries, e, link);
	entry_wake(e, THIN_REPLY_RETRY, 0);
	TAILQ_REMOVE(&p->releases, req, wait_link);
	reply(req, req->thin_reply, 0);
	release_next(blob);
}

static void
release_removed(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;

	req->thin_reply = rc != 0 ? rc : THIN_REPLY_DONE;
	blob_unfreeze_io(req->args.blob, release_thawed, req);
}

static void
release_frozen(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;
	struct blob *blob = req->args.blob;
	struct blob_io_priv *p = blob->io_priv;
	struct thin_entry *e = &req->entry;

	if (rc != 0) {
		/* Not frozen (no memory): skip the release, the unmap itself is done. */
		TAILQ_REMOVE(&p->releases, req, wait_link);
		reply(req, THIN_REPLY_DONE, 0);
		release_next(blob);
		return;
	}
	/*
	 * Requests that raced to this slot's md work while we drained now
	 * wait on the entry, and restart from the lookup after the release.
	 */
	e->slot = req->slot;
	e->cluster = req->thin_cluster;
	e->kind = THIN_ENTRY_RELEASE;
	TAILQ_INIT(&e->waiters);
	TAILQ_INSERT_TAIL(&p->entries, e, link);
	if (req->slot >= blob->active.num_clusters ||
	    blob->active.clusters[req->slot] != req->thin_cluster) {
		release_removed(req, 0);    /* changed meanwhile: nothing to release */
		return;
	}
	blob_remove_cluster(blob, req->slot, release_removed, req);
}

static void
release_next(struct blob *blob)
{
	struct blob_io_priv *p = blob->io_priv;
	struct blob_request *req;

	while ((req = TAILQ_FIRST(&p->releases)) != NULL) {
		if (req->slot < blob->active.num_clusters &&
		    blob->active.clusters[req->slot] == req->thin_cluster &&
		    entry_find(p, req->slot) == NULL) {
			p->releasing = true;
			blob_freeze_io_except(blob, req, release_frozen, req);
			return;
		}
		/* The slot changed since the unmap saw it: nothing to release. */
		TAILQ_REMOVE(&p->releases, req, wait_link);
		reply(req, THIN_REPLY_DONE, 0);
	}
	p->releasing = false;
}

static void
md_release(void *ctx)
{
	struct blob_request *req = ctx;
	struct blob *blob = req->args.blob;
	struct blob_io_priv *p = blob_io_priv_get(blob);

	if (p == NULL) {
		reply(req, THIN_REPLY_DONE, 0);   /* the unmap is done; keep the cluster */
		return;
	}
	TAILQ_INSERT_TAIL(&p->releases, req, wait_link);
	if (!p->releasing)
		release_next(blob);
}

static void
release_unmapped(void *cb_arg, int rc)
{
	struct blob_request *req = cb_arg;

	if (rc != 0) {
		blob_request_piece_done(req, rc);
		return;
	}
	req->drain_exempt = true;
	bs_channel_drain_recheck(req->ch, req->args.blob);
	bs_request_send(req, req->args.blob->bs->md_thread, md_release);
}

void
blob_thin_release(struct blob_request *req, uint32_t cluster)
{
	struct blob_store *bs = req->args.blob->bs;

	req->thin_cluster = cluster;
	bs->dev->unmap(bs->dev, req->ch->dev_ch, (uint64_t)cluster * bs->lbas_per_cluster,
		       bs->lbas_per_cluster, release_unmapped, req);
}

/* ---- I/O thread: entry points and answers --------------------------------------------- */

static void
io_reply(void *ctx)
{
	struct blob_request *req = ctx;
	int code = req->thin_reply;

	req->drain_exempt = false;
	switch (code) {
	case THIN_REPLY_CLAIMED:
		fill_start(req);
		break;
	case THIN_REPLY_ALREADY:
		blob_request_piece_to_cluster(req, req->thin_cluster);
		break;
	case THIN_REPLY_RETRY:
		blob_request_piece_redo(req);
		break;
	case THIN_REPLY_DONE:
		blob_request_piece_done(req, 0);
		break;
	default:
		assert(code < 0);
		blob_request_piece_done(req, code);
		break;
	}
}

void
blob_thin_write(struct blob_request *req, bool slot_allocated)
{
	struct blob_store *bs = req->args.blob->bs;

	bs_request_send(req, bs->md_thread, slot_allocated ? md_confirm : md_claim);
}
