/*
 * lib/blob/metadata.c: reading a blob's metadata at open, and every write
 * of blob metadata pages: blob_persist(), blob_insert_cluster(),
 * blob_remove_cluster().
 *
 * The commit point of every blob metadata change is ONE page write: the
 * root page (persist), or one extent page rewritten in place with the
 * same entry count (a single-slot change of a thin blob). Everything else
 * is arranged around that write (doc/on-disk-format.md, "Write orders"):
 *
 *   persist    1. mark the store dirty (spec §2.4);
 *              2. extent pages: groups in EP_FRESH are written to their
 *                 (unreferenced) page; groups in EP_COMMITTED_CHANGED are
 *                 copied to a freshly claimed page (never rewritten in
 *                 place, never written with zero entries);
 *              3. the chain, serialized by format.c, into freshly claimed
 *                 non-root pages;
 *              4. flush (skipped when 2 and 3 wrote nothing and the blob
 *                 names no cluster);  5. the root, in place: THE COMMIT;
 *              6. flush;
 *              7. zero and release the old non-root chain pages, the
 *                 replaced extent pages and the blob's release list (md
 *                 pages zeroed, clusters scrubbed with the clear method).
 *              Power cut before 5: the old root names the old chain and
 *              the old extent pages, none of which was written; the new
 *              pages are unreferenced, recovery does not claim them. After
 *              5 (once durable): the new chain is complete; steps 7 only
 *              reclaim space, and recovery rebuilds the bitmaps anyway.
 *              The flush in 4 makes the pages the root names durable
 *              before the root (a device with a volatile cache may
 *              otherwise keep the root and lose them); the flush in 6
 *              makes the commit durable before it is acknowledged.
 *   insert     (thin first write, group with a committed extent page)
 *              flush (the copied cluster data is durable before anything
 *              names it), rewrite the extent page in place: THE COMMIT (one
 *              atomic page write: either the old page, without the
 *              cluster, or the new one), flush. Otherwise: a persist.
 *   remove     (release by unmap) the caller unmapped the data; the slot is
 *              cleared like an insert; the cluster is freed in memory only
 *              after the commit.
 *
 * Invariants:
 *  - A persist writes before its commit only pages that no committed root
 *    references (EP_FRESH pages and freshly claimed ones). A committed
 *    extent page is only ever rewritten by the single-slot in-place update,
 *    which keeps its entry count.
 *  - Metadata writes of one blob are serialized by its md op queue, so a
 *    persist and an in-place extent update never overlap, and a persist's
 *    snapshot (chain and extent pages, encoded at its start) is taken while
 *    no other write of the blob is in flight.
 *  - A page or cluster leaves the bitmaps only after the commit that drops
 *    the last reference to it, and md pages only once zeroed. After a
 *    failed write the outcome on disk is unknown: every page that may be
 *    referenced is kept (and released only after a later commit that
 *    certainly does not reference it).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"

#include "blob_internal.h"

enum md_op_type {
	MD_OP_PERSIST,
	MD_OP_INSERT,
	MD_OP_REMOVE,
};

struct blob_md_op {
	enum md_op_type type;
	uint64_t slot;
	uint32_t cluster;
	blob_op_complete cb;
	void *cb_arg;
	TAILQ_ENTRY(blob_md_op) link;
};

/* ---- map helpers ------------------------------------------------------------------------ */

int
blob_map_reserve(struct blob *blob, uint64_t num_clusters)
{
	uint32_t groups = bsf_extent_groups(num_clusters);

	if (num_clusters > UINT32_MAX)
		return -EINVAL;
	if (num_clusters > blob->active.cluster_cap) {
		uint32_t *c = realloc(blob->active.clusters, num_clusters * sizeof(uint32_t));

		if (c == NULL)
			return -ENOMEM;
		memset(c + blob->active.cluster_cap, 0,
		       (num_clusters - blob->active.cluster_cap) * sizeof(uint32_t));
		blob->active.clusters = c;
		blob->active.cluster_cap = num_clusters;
	}
	if (blob->format == BSF_EXTENT_TABLE && groups > blob->active.ep_cap) {
		uint32_t *ep = realloc(blob->active.extent_pages, (size_t)groups * sizeof(uint32_t));
		uint8_t *st;

		if (ep == NULL)
			return -ENOMEM;
		blob->active.extent_pages = ep;
		st = realloc(blob->active.ep_state, groups);
		if (st == NULL)
			return -ENOMEM;
		blob->active.ep_state = st;
		memset(ep + blob->active.ep_cap, 0, (groups - blob->active.ep_cap) * sizeof(uint32_t));
		memset(st + blob->active.ep_cap, EP_NONE, groups - blob->active.ep_cap);
		blob->active.ep_cap = groups;
	}
	return 0;
}

uint64_t
blob_count_allocated(const struct blob *blob)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < blob->active.num_clusters; i++)
		n += blob->active.clusters[i] != 0;
	return n;
}

void
blob_ep_mark_changed(struct blob *blob, uint32_t group)
{
	uint8_t *st;

	assert(group < blob->active.num_extent_pages);
	st = &blob->active.ep_state[group];
	if (*st == EP_COMMITTED)
		*st = EP_COMMITTED_CHANGED;
	else if (*st == EP_WRITING)
		*st = EP_WRITING_CHANGED;
	blob_md_changed(blob);
}

void
blob_to_md(const struct blob *blob, struct bsf_blob_md *md)
{
	memset(md, 0, sizeof(*md));
	md->id = blob->id;
	md->invalid_flags = blob->invalid_flags;
	md->data_ro_flags = blob->data_ro_flags;
	md->md_ro_flags = blob->md_ro_flags;
	md->xattrs = blob->xattrs.x;
	md->num_xattrs = blob->xattrs.n;
	md->xattrs_internal = blob->xattrs_internal.x;
	md->num_xattrs_internal = blob->xattrs_internal.n;
	md->format = blob->format;
	md->num_clusters = blob->active.num_clusters;
	md->clusters = blob->active.clusters;
	if (blob->format == BSF_EXTENT_TABLE) {
		md->extent_pages = blob->active.extent_pages;
		md->num_extent_pages = blob->active.num_extent_pages;
	}
}

/* ---- the md op queue ------------------------------------------------------------------------ */

static void md_op_run(void *arg);

static void
md_op_submit(struct blob *blob, struct blob_md_op *op)
{
	TAILQ_INSERT_TAIL(&blob->md_ops, op, link);
	if (!blob->md_op_running) {
		blob->md_op_running = true;
		/* Always start by message: a callback never runs inside the call. */
		if (thread_send_msg(blob->bs->md_thread, md_op_run, blob) != 0)
			abort();
	}
}

/*
 * Ends the running op: the queue moves on (by message) before the
 * callbacks run, because a callback may free the blob (the last close).
 */
static void
md_op_next(struct blob *blob)
{
	if (TAILQ_EMPTY(&blob->md_ops)) {
		blob->md_op_running = false;
		return;
	}
	if (thread_send_msg(blob->bs->md_thread, md_op_run, blob) != 0)
		abort();
}

static struct blob_md_op *
md_op_new(enum md_op_type type, blob_op_complete cb, void *cb_arg)
{
	struct blob_md_op *op = calloc(1, sizeof(*op));

	if (op != NULL) {
		op->type = type;
		op->cb = cb;
		op->cb_arg = cb_arg;
	}
	return op;
}

/* ---- persist ---------------------------------------------------------------------------- */

struct persist {
	struct blob *blob;
	TAILQ_HEAD(, blob_md_op) ops;   /* completed together */
	int step;
	int rc;
	uint64_t gen;
	uint64_t num_clusters;
	uint64_t data_ro_flags;

	struct bsf_md_pages pages;      /* the new chain */
	uint8_t *chain_buf;             /* dma copy, md_page_size per page */
	uint32_t chain_pos;

	/* Extent pages written by this persist: group, page, and for a COW the
	 * page it replaces (0 for a fresh page), plus the encoded bytes. */
	struct u32_vec ep_groups;
	struct u32_vec ep_pages;
	struct u32_vec ep_old;
	uint8_t *ep_buf;
	uint32_t ep_pos;

	struct u32_vec old_chain;       /* non-root pages of the committed chain */
	struct blob_release rel;        /* taken from blob->release */
	struct u32_vec to_zero;         /* after the commit */
	/* For MD_OP_REMOVE: the cluster to free after the commit. */
	uint32_t free_cluster;
};

/*
 * The flush before the commit orders what this persist wrote ahead of the
 * root (extent pages, non-root chain pages) and, conservatively, whatever
 * the store wrote to clusters the root names. A persist of a one-page
 * blob that names no cluster (a thin volume being created, renamed or
 * given an xattr) wrote nothing the root depends on: the store's dirty
 * mark flushes itself (bs_mark_dirty), and earlier commits were flushed.
 * Skipping that flush halves the device flushes of an lvol create.
 */
static bool
persist_wrote_before_commit(const struct persist *p)
{
	const struct blob *blob = p->blob;

	if (p->ep_groups.n > 0 || p->pages.count > 1)
		return true;
	for (uint64_t i = 0; i < blob->active.num_clusters; i++) {
		if (blob->active.clusters[i] != 0)
			return true;
	}
	return false;
}

static int
persist_alloc_page(void *ctx, uint32_t *page_idx)
{
	return bs_claim_md_page(ctx, 0, page_idx);
}

static void
vec_move_append(struct u32_vec *dst, struct u32_vec *src)
{
	for (uint32_t i = 0; i < src->n; i++) {
		if (u32_vec_push(dst, src->v[i]) != 0)
			LOG_ERR("blobstore: out of memory: md page / cluster %u leaked\n", src->v[i]);
	}
	u32_vec_free(src);
}

static void
persist_free(struct persist *p)
{
	bsf_md_pages_free(&p->pages);
	env_dma_free(p->chain_buf);
	env_dma_free(p->ep_buf);
	u32_vec_free(&p->ep_groups);
	u32_vec_free(&p->ep_pages);
	u32_vec_free(&p->ep_old);
	u32_vec_free(&p->old_chain);
	u32_vec_free(&p->rel.clusters);
	u32_vec_free(&p->rel.md_pages);
	u32_vec_free(&p->to_zero);
	free(p);
}

/*
 * An insert / remove whose persist failed before writing anything: put the
 * slot back, so that the caller's contract holds (-ENOSPC / -ENOMEM: the
 * caller still owns the cluster; the map is as before).
 */
static void
persist_undo_slot(struct persist *p)
{
	struct blob *blob = p->blob;
	struct blob_md_op *op = TAILQ_FIRST(&p->ops);

	if (op == NULL || op->type == MD_OP_PERSIST || op->slot >= blob->active.num_clusters)
		return;
	if (op->type == MD_OP_INSERT && blob->active.clusters[op->slot] == op->cluster)
		__atomic_store_n(&blob->active.clusters[op->slot], 0, __ATOMIC_RELEASE);
	else if (op->type == MD_OP_REMOVE && blob->active.clusters[op->slot] == 0)
		__atomic_store_n(&blob->active.clusters[op->slot], op->cluster, __ATOMIC_RELEASE);
}

/* Completes every merged op with rc, after moving the queue on. */
static void
persist_done(struct persist *p, int rc)
{
	struct blob *blob = p->blob;
	struct blob_md_op *op;
	TAILQ_HEAD(, blob_md_op) ops;

	TAILQ_INIT(&ops);
	TAILQ_CONCAT(&ops, &p->ops, link);
	persist_free(p);
	md_op_next(blob);
	while ((op = TAILQ_FIRST(&ops)) != NULL) {
		TAILQ_REMOVE(&ops, op, link);
		op->cb(op->cb_arg, rc);
		free(op);
	}
}

/*
 * Undo of the preparation when nothing was written yet: the pages claimed
 * for the chain and the COW copies go back, the groups return to their
 * state.
 */
static void
persist_unprepare(struct persist *p)
{
	struct blob *blob = p->blob;

	for (uint32_t i = 1; i < p->pages.count; i++)
		bs_release_md_page(blob->bs, p->pages.idx[i]);
	p->pages.count = 0;
	for (uint32_t i = 0; i < p->ep_groups.n; i++) {
		uint32_t k = p->ep_groups.v[i];

		if (p->ep_old.v[i] != 0) {
			bs_release_md_page(blob->bs, p->ep_pages.v[i]);
			blob->active.extent_pages[k] = p->ep_old.v[i];
			blob->active.ep_state[k] = EP_COMMITTED_CHANGED;
		} else {
			blob->active.ep_state[k] = EP_FRESH;
		}
	}
	vec_move_append(&blob->release.clusters, &p->rel.clusters);
	vec_move_append(&blob->release.md_pages, &p->rel.md_pages);
}

/* A write failed: what we wrote may or may not be on disk (see the essay). */
static void
persist_failed(struct persist *p, int rc)
{
	struct blob *blob = p->blob;

	LOG_ERR("blobstore: persist of blob 0x%" PRIx64 " failed at step %d: %d\n", blob->id,
		p->step, rc);
	for (uint32_t i = 1; i < p->pages.count; i++) {
		if (u32_vec_push(&blob->release.md_pages, p->pages.idx[i]) != 0)
			LOG_ERR("blobstore: md page %u leaked\n", p->pages.idx[i]);
	}
	for (uint32_t i = 0; i < p->ep_groups.n; i++) {
		uint32_t k = p->ep_groups.v[i];

		if (k < blob->active.num_extent_pages &&
		    blob->active.extent_pages[k] == p->ep_pages.v[i])
			blob->active.ep_state[k] = EP_COMMITTED_CHANGED;
		if (p->ep_old.v[i] != 0 &&
		    u32_vec_push(&blob->release.md_pages, p->ep_old.v[i]) != 0)
			LOG_ERR("blobstore: md page %u leaked\n", p->ep_old.v[i]);
	}
	vec_move_append(&blob->release.clusters, &p->rel.clusters);
	vec_move_append(&blob->release.md_pages, &p->rel.md_pages);
	/* Still dirty: clean_gen was not advanced. Make sure of it even if
	 * the only change was a release. */
	if (!blob_md_is_dirty(blob))
		blob_md_changed(blob);
	persist_done(p, rc);
}

static void persist_next(void *arg, int rc);

/* Takes the snapshot: claims pages, encodes extent pages and the chain. */
static int
persist_prepare(struct persist *p)
{
	struct blob *blob = p->blob;
	struct blob_store *bs = blob->bs;
	struct bsf_blob_md md;
	uint32_t need = 0, chain;
	int rc;

	blob_to_md(blob, &md);
	chain = bsf_md_count_pages(&md);
	if (chain == 0)
		return -EINVAL;
	if (blob->format == BSF_EXTENT_TABLE) {
		for (uint32_t k = 0; k < blob->active.num_extent_pages; k++)
			need += blob->active.ep_state[k] == EP_COMMITTED_CHANGED;
	}
	if ((uint64_t)need + chain - 1 > bs_num_free_md_pages(bs))
		return -ENOSPC;

	/* Extent pages. */
	for (uint32_t k = 0; blob->format == BSF_EXTENT_TABLE && k < blob->active.num_extent_pages;
	     k++) {
		uint8_t *st = &blob->active.ep_state[k];
		uint32_t page, old = 0;

		if (*st == EP_NONE || *st == EP_COMMITTED)
			continue;
		assert(*st == EP_FRESH || *st == EP_COMMITTED_CHANGED);
		if (*st == EP_COMMITTED_CHANGED) {
			old = blob->active.extent_pages[k];
			rc = bs_claim_md_page(bs, 1, &page);
			if (rc != 0)
				return rc;
			blob->active.extent_pages[k] = page;
		} else {
			page = blob->active.extent_pages[k];
		}
		*st = EP_WRITING;
		if (u32_vec_push(&p->ep_groups, k) != 0 || u32_vec_push(&p->ep_pages, page) != 0 ||
		    u32_vec_push(&p->ep_old, old) != 0) {
			/* Keep the three vectors the same length for unprepare. */
			p->ep_groups.n = p->ep_pages.n = p->ep_old.n =
				p->ep_groups.n < p->ep_pages.n ? p->ep_groups.n : p->ep_pages.n;
			if (old != 0) {
				bs_release_md_page(bs, page);
				blob->active.extent_pages[k] = old;
				*st = EP_COMMITTED_CHANGED;
			} else {
				*st = EP_FRESH;
			}
			return -ENOMEM;
		}
	}
	if (p->ep_groups.n > 0) {
		p->ep_buf = bs_alloc_md_buf(bs, p->ep_groups.n);
		if (p->ep_buf == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < p->ep_groups.n; i++) {
			rc = bsf_extent_page_encode(blob->id, blob->active.clusters,
						    blob->active.num_clusters, p->ep_groups.v[i],
						    p->ep_buf + (size_t)i * bs->md_page_size);
			if (rc != 0)
				return rc;
		}
	}

	/* The chain (names the extent pages just chosen). */
	blob_to_md(blob, &md);
	rc = bsf_md_serialize(&md, persist_alloc_page, bs, &p->pages);
	if (rc != 0) {
		for (uint32_t i = 1; i < p->pages.count; i++)
			bs_release_md_page(bs, p->pages.idx[i]);
		bsf_md_pages_free(&p->pages);
		memset(&p->pages, 0, sizeof(p->pages));
		return rc;
	}
	p->chain_buf = bs_alloc_md_buf(bs, p->pages.count);
	if (p->chain_buf == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->pages.count; i++)
		memcpy(p->chain_buf + (size_t)i * bs->md_page_size,
		       p->pages.buf + (size_t)i * BSF_PAGE_SIZE, BSF_PAGE_SIZE);

	/* What the commit will let go of. */
	for (uint32_t i = 1; i < blob->clean.pages.n; i++) {
		if (u32_vec_push(&p->old_chain, blob->clean.pages.v[i]) != 0)
			return -ENOMEM;
	}
	p->rel = blob->release;
	memset(&blob->release, 0, sizeof(blob->release));
	p->gen = blob->md_gen;
	p->num_clusters = blob->active.num_clusters;
	p->data_ro_flags = blob->data_ro_flags;
	return 0;
}

/* The root is durable: the new state is the committed one. */
static void
persist_committed(struct persist *p)
{
	struct blob *blob = p->blob;

	blob->clean.pages.n = 0;
	for (uint32_t i = 0; i < p->pages.count; i++) {
		if (u32_vec_push(&blob->clean.pages, p->pages.idx[i]) != 0)
			LOG_ERR("blobstore: out of memory recording the chain of 0x%" PRIx64 "\n",
				blob->id);
	}
	blob->clean.num_clusters = p->num_clusters;
	for (uint32_t i = 0; i < p->ep_groups.n; i++) {
		uint32_t k = p->ep_groups.v[i];

		if (k >= blob->active.num_extent_pages ||
		    blob->active.extent_pages[k] != p->ep_pages.v[i])
			continue;
		if (blob->active.ep_state[k] == EP_WRITING)
			blob->active.ep_state[k] = EP_COMMITTED;
		else if (blob->active.ep_state[k] == EP_WRITING_CHANGED)
			blob->active.ep_state[k] = EP_COMMITTED_CHANGED;
		if (p->ep_old.v[i] != 0)
			u32_vec_push(&p->to_zero, p->ep_old.v[i]);
	}
	blob->clean_gen = p->gen;
	if (p->data_ro_flags & BSF_DATA_RO_READ_ONLY) {
		blob->data_ro = true;
		blob->md_ro = true;
	}
	for (uint32_t i = 0; i < p->old_chain.n; i++)
		u32_vec_push(&p->to_zero, p->old_chain.v[i]);
	for (uint32_t i = 0; i < p->rel.md_pages.n; i++)
		u32_vec_push(&p->to_zero, p->rel.md_pages.v[i]);
	blob->bs->stat_persists++;
}

static void
persist_next(void *arg, int rc)
{
	struct persist *p = arg;
	struct blob *blob = p->blob;
	struct blob_store *bs = blob->bs;

	if (rc != 0) {
		if (p->step <= 1) {
			/* Nothing written yet (dirty marking failed). */
			if (p->step == 1)
				persist_unprepare(p);
			persist_undo_slot(p);
			persist_done(p, rc);
		} else if (p->step >= 7) {
			/* After the commit: only reclaiming failed (logged by the
			 * scrubbers); the persist itself succeeded. */
			persist_next(p, 0);
		} else {
			persist_failed(p, rc);
		}
		return;
	}
	switch (p->step) {
	case 0:
		p->step = 1;
		bs_mark_dirty(bs, persist_next, p);
		return;
	case 1:
		p->step = 2;
		/* fallthrough */
	case 2:
		if (p->ep_pos < p->ep_groups.n) {
			uint32_t i = p->ep_pos++;

			bs_write_md_page(bs, p->ep_pages.v[i], p->ep_buf + (size_t)i * bs->md_page_size,
					 persist_next, p);
			return;
		}
		p->step = 3;
		p->chain_pos = 1;
		/* fallthrough */
	case 3:
		if (p->chain_pos < p->pages.count) {
			uint32_t i = p->chain_pos++;

			bs_write_md_page(bs, p->pages.idx[i],
					 p->chain_buf + (size_t)i * bs->md_page_size, persist_next, p);
			return;
		}
		p->step = 4;
		if (persist_wrote_before_commit(p)) {
			bs_flush(bs, persist_next, p);
			return;
		}
		/* fallthrough */
	case 4:
		p->step = 5;
		bs_write_md_page(bs, p->pages.idx[0], p->chain_buf, persist_next, p);
		return;
	case 5:
		p->step = 6;
		bs_flush(bs, persist_next, p);
		return;
	case 6:
		persist_committed(p);
		p->step = 7;
		bs_zero_md_pages(bs, p->to_zero.v, p->to_zero.n, persist_next, p);
		return;
	case 7:
		p->step = 8;
		bs_scrub_clusters(bs, p->rel.clusters.v, p->rel.clusters.n,
				  (enum blob_clear_method)(blob->md_ro_flags & BSF_MD_RO_CLEAR_METHOD_MASK),
				  true, persist_next, p);
		return;
	case 8:
		if (p->free_cluster != 0)
			bs_release_cluster(bs, p->free_cluster);
		persist_done(p, 0);
		return;
	}
}

/* Starts a persist covering `first` (and, for persist ops, every queued one). */
static void
persist_start(struct blob *blob, struct blob_md_op *first)
{
	struct persist *p = calloc(1, sizeof(*p));
	struct blob_md_op *op, *tmp;
	int rc;

	if (p == NULL) {
		md_op_next(blob);
		first->cb(first->cb_arg, -ENOMEM);
		free(first);
		return;
	}
	p->blob = blob;
	TAILQ_INIT(&p->ops);
	TAILQ_INSERT_TAIL(&p->ops, first, link);
	if (first->type == MD_OP_PERSIST) {
		/* One write covers every persist that was waiting: their changes
		 * are all in memory now. */
		for (op = TAILQ_FIRST(&blob->md_ops); op != NULL; op = tmp) {
			tmp = TAILQ_NEXT(op, link);
			if (op->type == MD_OP_PERSIST) {
				TAILQ_REMOVE(&blob->md_ops, op, link);
				TAILQ_INSERT_TAIL(&p->ops, op, link);
			}
		}
	}
	if (first->type == MD_OP_REMOVE)
		p->free_cluster = first->cluster;
	if (!blob_md_is_dirty(blob) && blob->release.clusters.n == 0 &&
	    blob->release.md_pages.n == 0) {
		persist_done(p, 0);
		return;
	}
	rc = persist_prepare(p);
	if (rc != 0) {
		LOG_ERR("blobstore: cannot persist blob 0x%" PRIx64 ": %d\n", blob->id, rc);
		persist_unprepare(p);
		persist_undo_slot(p);
		persist_done(p, rc);
		return;
	}
	p->step = 0;
	persist_next(p, 0);
}

void
blob_persist(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	struct blob_md_op *op = md_op_new(MD_OP_PERSIST, cb, cb_arg);

	if (op == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	md_op_submit(blob, op);
}

/* ---- single-slot updates (spec §6.5) ---------------------------------------------------- */

struct slot_write {
	struct blob *blob;
	struct blob_md_op *op;
	uint32_t group;
	uint32_t page;
	uint8_t *buf;
	int step;
};

static void
slot_write_done(struct slot_write *w, int rc)
{
	struct blob *blob = w->blob;
	struct blob_md_op *op = w->op;

	if (rc != 0) {
		/* Unknown whether the page landed: let the next persist copy the
		 * group to a fresh page, which commits the in-memory truth. */
		LOG_ERR("blobstore: extent page %u of blob 0x%" PRIx64 " not updated: %d\n", w->page,
			blob->id, rc);
		if (w->group < blob->active.num_extent_pages &&
		    blob->active.extent_pages[w->group] == w->page)
			blob_ep_mark_changed(blob, w->group);
	} else if (op->type == MD_OP_REMOVE) {
		bs_release_cluster(blob->bs, op->cluster);
	}
	env_dma_free(w->buf);
	free(w);
	md_op_next(blob);
	op->cb(op->cb_arg, rc);
	free(op);
}

static void
slot_write_next(void *arg, int rc)
{
	struct slot_write *w = arg;
	struct blob *blob = w->blob;
	struct blob_store *bs = blob->bs;

	if (rc != 0) {
		slot_write_done(w, rc);
		return;
	}
	switch (w->step++) {
	case 0:
		bs_mark_dirty(bs, slot_write_next, w);
		return;
	case 1:
		/* The cluster's data (the copy from the parent) before the page
		 * that names it. */
		bs_flush(bs, slot_write_next, w);
		return;
	case 2:
		/* Encoded now, from the whole current group: the slot change and
		 * nothing else differs from the committed page (EP_COMMITTED). */
		rc = bsf_extent_page_encode(blob->id, blob->active.clusters, blob->active.num_clusters,
					    w->group, w->buf);
		if (rc != 0) {
			slot_write_done(w, rc);
			return;
		}
		bs_write_md_page(bs, w->page, w->buf, slot_write_next, w);
		return;
	case 3:
		bs_flush(bs, slot_write_next, w);
		return;
	case 4:
		slot_write_done(w, 0);
		return;
	}
}

/* Finishes an op without a write (answer known). */
static void
op_finish_now(struct blob *blob, struct blob_md_op *op, int rc)
{
	md_op_next(blob);
	op->cb(op->cb_arg, rc);
	free(op);
}

static void
slot_op_run(struct blob *blob, struct blob_md_op *op)
{
	uint64_t slot = op->slot;
	uint32_t k = (uint32_t)(slot / BSF_EXTENTS_PER_EP);
	struct slot_write *w;
	uint32_t page;
	int rc;

	if (slot >= blob->active.num_clusters || blob->md_ro) {
		op_finish_now(blob, op, -EINVAL);
		return;
	}
	if (op->type == MD_OP_INSERT) {
		if (blob->active.clusters[slot] != 0) {
			op_finish_now(blob, op, -EEXIST);
			return;
		}
	} else {
		op->cluster = blob->active.clusters[slot];
		if (op->cluster == 0) {
			op_finish_now(blob, op, 0);
			return;
		}
	}
	if (blob->format == BSF_EXTENT_TABLE && blob->active.ep_state[k] == EP_NONE) {
		if (op->type == MD_OP_REMOVE) {
			/* Cannot be: an allocated slot has an extent page. */
			op_finish_now(blob, op, -EILSEQ);
			return;
		}
		rc = bs_claim_md_page(blob->bs, 1, &page);
		if (rc != 0) {
			op_finish_now(blob, op, rc);
			return;
		}
		blob->active.extent_pages[k] = page;
		blob->active.ep_state[k] = EP_FRESH;
	}
	__atomic_store_n(&blob->active.clusters[slot], op->type == MD_OP_INSERT ? op->cluster : 0,
			 __ATOMIC_RELEASE);

	if (blob->format == BSF_EXTENT_TABLE && blob->active.ep_state[k] == EP_COMMITTED) {
		w = calloc(1, sizeof(*w));
		if (w != NULL)
			w->buf = bs_alloc_md_buf(blob->bs, 1);
		if (w == NULL || w->buf == NULL) {
			free(w);
			/* Undo: nothing was written. */
			__atomic_store_n(&blob->active.clusters[slot],
					 op->type == MD_OP_INSERT ? 0 : op->cluster, __ATOMIC_RELEASE);
			op_finish_now(blob, op, -ENOMEM);
			return;
		}
		w->blob = blob;
		w->op = op;
		w->group = k;
		w->page = blob->active.extent_pages[k];
		slot_write_next(w, 0);
		return;
	}
	if (blob->format == BSF_EXTENT_TABLE)
		blob_ep_mark_changed(blob, k);
	else
		blob_md_changed(blob);
	persist_start(blob, op);
}

void
blob_insert_cluster(struct blob *blob, uint64_t slot, uint32_t cluster, blob_op_complete cb,
		    void *cb_arg)
{
	struct blob_md_op *op = md_op_new(MD_OP_INSERT, cb, cb_arg);

	if (op == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	op->slot = slot;
	op->cluster = cluster;
	md_op_submit(blob, op);
}

void
blob_remove_cluster(struct blob *blob, uint64_t slot, blob_op_complete cb, void *cb_arg)
{
	struct blob_md_op *op = md_op_new(MD_OP_REMOVE, cb, cb_arg);

	if (op == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	op->slot = slot;
	md_op_submit(blob, op);
}

static void
md_op_run(void *arg)
{
	struct blob *blob = arg;
	struct blob_md_op *op = TAILQ_FIRST(&blob->md_ops);

	if (op == NULL) {
		blob->md_op_running = false;
		return;
	}
	TAILQ_REMOVE(&blob->md_ops, op, link);
	if (op->type == MD_OP_PERSIST)
		persist_start(blob, op);
	else
		slot_op_run(blob, op);
}

/* ---- loading a blob's metadata (open) --------------------------------------------------- */

struct load_md {
	struct blob *blob;
	struct bsf_md_parser *parser;
	struct bsf_blob_md md;
	uint8_t *buf;
	uint32_t cur;                   /* page being read */
	uint32_t group;                 /* extent page being read */
	bool in_chain;
	blob_op_complete cb;
	void *cb_arg;
};

static void
load_md_done(struct load_md *l, int rc)
{
	blob_op_complete cb = l->cb;
	void *cb_arg = l->cb_arg;

	if (l->parser != NULL)
		bsf_md_parser_free(l->parser);
	bsf_blob_md_free(&l->md);
	env_dma_free(l->buf);
	free(l);
	cb(cb_arg, rc);
}

static int
xattrs_take(struct blob_xattrs *xs, struct bsf_xattr **x, uint32_t *n)
{
	xs->x = *x;
	xs->n = xs->cap = *n;
	*x = NULL;
	*n = 0;
	return 0;
}

/* Moves the parsed metadata into the handle. */
static int
blob_from_md(struct blob *blob, struct bsf_blob_md *md)
{
	const struct bsf_xattr *snap;
	uint32_t groups;

	blob->invalid_flags = md->invalid_flags;
	blob->data_ro_flags = md->data_ro_flags;
	blob->md_ro_flags = md->md_ro_flags;
	blob->data_ro = bsf_blob_md_data_ro(md);
	blob->md_ro = bsf_blob_md_md_ro(md);
	blob->format = md->format;

	blob->active.num_clusters = md->num_clusters;
	blob->active.clusters = md->clusters;
	blob->active.cluster_cap = md->num_clusters;
	md->clusters = NULL;
	if (blob->format == BSF_EXTENT_TABLE) {
		groups = md->num_extent_pages;
		blob->active.extent_pages = md->extent_pages;
		blob->active.num_extent_pages = groups;
		blob->active.ep_cap = groups;
		md->extent_pages = NULL;
		blob->active.ep_state = calloc(groups ? groups : 1, 1);
		if (blob->active.ep_state == NULL)
			return -ENOMEM;
		for (uint32_t k = 0; k < groups; k++)
			blob->active.ep_state[k] = blob->active.extent_pages[k] ? EP_COMMITTED : EP_NONE;
	}
	blob->clean.num_clusters = md->num_clusters;
	for (uint32_t i = 0; i < md->num_chain_pages; i++) {
		if (u32_vec_push(&blob->clean.pages, md->chain_pages[i]) != 0)
			return -ENOMEM;
	}
	xattrs_take(&blob->xattrs, &md->xattrs, &md->num_xattrs);
	xattrs_take(&blob->xattrs_internal, &md->xattrs_internal, &md->num_xattrs_internal);

	blob->parent_id = BLOB_ID_INVALID;
	if ((blob->invalid_flags & BSF_INVALID_THIN_PROV) &&
	    !(blob->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT)) {
		snap = blob_xattrs_find(&blob->xattrs_internal, BSF_XATTR_SNAP);
		if (snap != NULL && snap->value_len == sizeof(uint64_t))
			blob->parent_id = bsf_load_le64(snap->value);
	}
	return 0;
}

static void load_md_next(void *arg, int rc);

static void
load_md_read(struct load_md *l, uint32_t page)
{
	l->cur = page;
	bs_read_md_page(l->blob->bs, page, l->buf, load_md_next, l);
}

/* Reads the next extent page, or finishes. */
static void
load_md_extents(struct load_md *l)
{
	struct blob *blob = l->blob;
	struct blob_store *bs = blob->bs;
	struct bsf_diag diag = { "" };
	int rc;

	while (l->md.format == BSF_EXTENT_TABLE && l->group < l->md.num_extent_pages) {
		if (l->md.extent_pages[l->group] != 0) {
			load_md_read(l, l->md.extent_pages[l->group]);
			return;
		}
		l->group++;
	}
	rc = bsf_blob_md_check_map(&l->md, bs->total_clusters, &diag);
	if (rc != 0) {
		LOG_ERR("blobstore: blob 0x%" PRIx64 ": %s\n", blob->id, diag.msg);
		load_md_done(l, rc);
		return;
	}
	/* Spec §3: a load trusts the masks, so a cluster the blob names must be
	 * marked used (and not be a metadata cluster). */
	for (uint64_t i = 0; i < l->md.num_clusters; i++) {
		uint32_t c = l->md.clusters[i];

		if (c != 0 && (c < bs->num_md_clusters || !bit_array_get(bs->used_clusters, c))) {
			LOG_ERR("blobstore: blob 0x%" PRIx64 ": slot %" PRIu64 " names cluster %u, "
				"which is %s\n", blob->id, i, c,
				c < bs->num_md_clusters ? "a metadata cluster" : "not marked used");
			load_md_done(l, -EILSEQ);
			return;
		}
	}
	rc = blob_from_md(blob, &l->md);
	load_md_done(l, rc);
}

static void
load_md_next(void *arg, int rc)
{
	struct load_md *l = arg;
	struct blob *blob = l->blob;
	struct bsf_diag diag = { "" };
	uint32_t next;

	if (rc != 0) {
		LOG_ERR("blobstore: blob 0x%" PRIx64 ": reading md page %u failed: %d\n", blob->id,
			l->cur, rc);
		load_md_done(l, rc);
		return;
	}
	if (l->in_chain) {
		rc = bsf_md_parser_feed(l->parser, l->cur, l->buf, &next, &diag);
		if (rc == 0 && next != BSF_PAGE_NEXT_NONE) {
			load_md_read(l, next);
			return;
		}
		if (rc == 0) {
			l->in_chain = false;
			rc = bsf_md_parser_finish(l->parser, &l->md, &diag);
			l->parser = NULL;
		}
		if (rc != 0) {
			LOG_ERR("blobstore: blob 0x%" PRIx64 " (md page %u): %s\n", blob->id, l->cur,
				diag.msg);
			load_md_done(l, rc);
			return;
		}
		l->group = 0;
		load_md_extents(l);
		return;
	}
	rc = bsf_blob_md_apply_extent_page(&l->md, l->group, l->buf, &diag);
	if (rc != 0) {
		LOG_ERR("blobstore: blob 0x%" PRIx64 ": extent page %u: %s\n", blob->id, l->cur,
			diag.msg);
		load_md_done(l, rc);
		return;
	}
	l->group++;
	load_md_extents(l);
}

void
blob_load_md(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	struct blob_store *bs = blob->bs;
	struct bsf_md_parse_opts opts;
	struct load_md *l = calloc(1, sizeof(*l));
	int rc;

	if (l == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	l->blob = blob;
	l->cb = cb;
	l->cb_arg = cb_arg;
	l->in_chain = true;
	l->buf = bs_alloc_md_buf(bs, 1);
	bsf_md_parse_opts_init(&opts, sizeof(opts));
	opts.md_len = bs->layout.md_len;
	opts.total_clusters = bs->total_clusters;
	rc = l->buf == NULL ? -ENOMEM : bsf_md_parser_create(blob->id, &opts, &l->parser);
	if (rc != 0) {
		l->parser = NULL;
		env_dma_free(l->buf);
		free(l);
		bs_complete_later(cb, cb_arg, rc);
		return;
	}
	load_md_read(l, bsf_blobid_to_page(blob->id));
}
