/*
 * lib/blob/blob.c: the life of a blob handle: create, open (reference
 * counted, with its parent chain), close, delete, resize, read-only,
 * iteration over the store, and the getters.
 *
 * States of a handle (enum blob_state), all on the md thread:
 *   LOADING   bs_open_blob is reading the metadata and opening the parent;
 *             further opens wait on open_waiters.
 *   OPEN      ref > 0 users.
 *   CLOSING   the last reference was dropped and dirty metadata is being
 *             persisted; an open in this state revives the handle.
 *   DELETING  blob_delete_opened is zeroing it; opens fail with -ENOENT.
 * Every handle in bs->blobs is in one of these states; a handle leaves the
 * list only to be freed. A blob has at most one handle, and it is also in
 * bs->open_index under its root page, so finding it is O(1) however many
 * blobs are open (the lvol layer keeps every lvol's blob open: a list walk
 * per open made loading 10,000 lvols quadratic).
 *
 * References: each bs_open_blob holds one; an open clone's parent handle
 * (blob->parent) holds one on its parent. A blob may be deleted when
 * nobody else holds it: the only references allowed besides the delete's
 * own are those parent handles, which for a deletable blob means at most
 * the one of the single clone a snapshot is merged into (see
 * delete_allowed_refs and the snapshot_delete_merge contract).
 *
 * Crash safety:
 *  create   The blob exists once its root page is written (the persist's
 *           commit). Before that its pages and clusters are claimed only
 *           in memory; recovery finds no root and claims nothing.
 *  resize   In memory only (spec §6.4); the next persist (sync / close)
 *           commits it in the safe order of metadata.c. Clusters and extent
 *           pages dropped by a shrink stay claimed until that commit.
 *  delete   Flush, zero the root page: THE COMMIT (a zero page is no root;
 *           recovery skips it), flush; only then are the continuation and
 *           extent pages zeroed and everything released. A power cut
 *           before the root write leaves the blob whole; after it, the
 *           leftover pages are not roots (sequence number or id does not
 *           match their index) and recovery frees them. Unlike SPDK we do
 *           not zero all chain pages in one parallel batch, which could
 *           leave a root with a broken chain.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"

#include "blob_internal.h"

struct blob_open_waiter {
	blob_op_with_handle_complete cb;
	void *cb_arg;
	TAILQ_ENTRY(blob_open_waiter) link;
};

/* ---- handles ------------------------------------------------------------------------- */

struct blob *
blob_alloc(struct blob_store *bs, blob_id id)
{
	struct blob *blob = calloc(1, sizeof(*blob));

	if (blob == NULL)
		return NULL;
	blob->bs = bs;
	blob->id = id;
	blob->format = BSF_EXTENT_TABLE;
	blob->parent_id = BLOB_ID_INVALID;
	TAILQ_INIT(&blob->md_ops);
	TAILQ_INIT(&blob->open_waiters);
	TAILQ_INIT(&blob->frozen_io);
	return blob;
}

void
blob_free(struct blob *blob)
{
	struct blob_store *bs = blob->bs;
	uint32_t page = bsf_blobid_to_page(blob->id);

	assert(TAILQ_EMPTY(&blob->md_ops));
	/* Never leave a dangling slot, even for a handle freed while linked. */
	if (bs->open_index != NULL && bsf_blobid_is_valid(blob->id) && page < bs->layout.md_len &&
	    bs->open_index[page] == blob)
		bs->open_index[page] = NULL;
	free(blob->active.clusters);
	free(blob->active.extent_pages);
	free(blob->active.ep_state);
	u32_vec_free(&blob->clean.pages);
	u32_vec_free(&blob->release.clusters);
	u32_vec_free(&blob->release.md_pages);
	blob_xattrs_free(&blob->xattrs);
	blob_xattrs_free(&blob->xattrs_internal);
	free(blob);
}

/* ---- the open index ---------------------------------------------------------------- */

struct blob *
bs_find_blob(struct blob_store *bs, blob_id id)
{
	uint32_t page = bsf_blobid_to_page(id);

	if (!bsf_blobid_is_valid(id) || page >= bs->layout.md_len)
		return NULL;
	return bs->open_index[page];
}

void
bs_blob_link(struct blob_store *bs, struct blob *blob)
{
	uint32_t page = bsf_blobid_to_page(blob->id);

	assert(bsf_blobid_is_valid(blob->id) && page < bs->layout.md_len);
	assert(bs->open_index[page] == NULL);
	TAILQ_INSERT_TAIL(&bs->blobs, blob, link);
	bs->open_index[page] = blob;
}

void
bs_blob_unlink(struct blob_store *bs, struct blob *blob)
{
	uint32_t page = bsf_blobid_to_page(blob->id);

	TAILQ_REMOVE(&bs->blobs, blob, link);
	if (bs->open_index[page] == blob)
		bs->open_index[page] = NULL;
}

void
blob_unref_held(struct blob *blob)
{
	assert(bs_on_md_thread(blob->bs));
	assert(blob->ref > 1);
	if (blob->ref > 1)
		blob->ref--;
}

/* Drops what an open handle holds outside itself, then frees it. */
static void
blob_teardown(struct blob *blob)
{
	struct blob_store *bs = blob->bs;
	struct blob *parent = blob->parent;

	bs_blob_unlink(bs, blob);
	blob_io_release(blob);
	if (blob->back_bs_dev != NULL)
		blob->back_bs_dev->destroy(blob->back_bs_dev);
	blob_free(blob);
	if (parent != NULL)
		blob_close(parent, bs_noop_complete, NULL);
}

void
bs_noop_complete(void *cb_arg, int bserrno)
{
	if (bserrno != 0)
		LOG_ERR("blobstore: background close failed: %d\n", bserrno);
}

/* ---- completions with a handle -------------------------------------------------------- */

struct handle_cpl {
	blob_op_with_handle_complete cb;
	void *cb_arg;
	struct blob *blob;
};

static void
handle_cpl_fn(void *arg, int rc)
{
	struct handle_cpl *h = arg;

	h->cb(h->cb_arg, rc == 0 ? h->blob : NULL, rc);
	free(h);
}

static void
handle_later(blob_op_with_handle_complete cb, void *cb_arg, struct blob *blob, int rc)
{
	struct handle_cpl *h = malloc(sizeof(*h));

	if (h == NULL)
		abort();
	h->cb = cb;
	h->cb_arg = cb_arg;
	h->blob = blob;
	bs_complete_later(handle_cpl_fn, h, rc);
}

struct id_cpl {
	blob_op_with_id_complete cb;
	void *cb_arg;
	blob_id id;
};

static void
id_cpl_fn(void *arg, int rc)
{
	struct id_cpl *c = arg;

	c->cb(c->cb_arg, rc == 0 ? c->id : BLOB_ID_INVALID, rc);
	free(c);
}

void
blob_id_complete_later(blob_op_with_id_complete cb, void *cb_arg, blob_id id, int rc)
{
	struct id_cpl *c = malloc(sizeof(*c));

	if (c == NULL)
		abort();
	c->cb = cb;
	c->cb_arg = cb_arg;
	c->id = id;
	bs_complete_later(id_cpl_fn, c, rc);
}

/* ---- resize (in memory, spec §6.4) ------------------------------------------------------ */

static uint32_t
group_count(uint64_t num_clusters, uint32_t k)
{
	uint64_t start = (uint64_t)k * BSF_EXTENTS_PER_EP;

	if (num_clusters <= start)
		return 0;
	return num_clusters - start < BSF_EXTENTS_PER_EP ? (uint32_t)(num_clusters - start) :
	       BSF_EXTENTS_PER_EP;
}

/*
 * Changes the in-memory size now. A thick grow claims its clusters and
 * extent pages at once (-ENOSPC before anything changes); a shrink puts
 * what it drops on blob->release. I/O must be frozen (or nobody else has
 * the blob).
 */
static int
blob_resize_now(struct blob *blob, uint64_t n)
{
	struct blob_store *bs = blob->bs;
	uint64_t old = blob->active.num_clusters;
	bool et = blob->format == BSF_EXTENT_TABLE;
	uint32_t old_groups = bsf_extent_groups(old), new_groups = bsf_extent_groups(n);
	int rc;

	if (n == old)
		return 0;
	if (n > UINT32_MAX)
		return -EINVAL;
	if (n > old) {
		bool thick = !blob_is_thin(blob);
		uint64_t need_clusters = thick ? n - old : 0;
		uint32_t need_pages = et && thick ? new_groups - old_groups : 0;

		if (need_clusters > bs->num_free_clusters ||
		    need_pages > bs_num_free_md_pages(bs))
			return -ENOSPC;
		rc = blob_map_reserve(blob, n);
		if (rc != 0)
			return rc;
		if (et && old_groups > 0 && blob->active.ep_state[old_groups - 1] != EP_NONE &&
		    group_count(old, old_groups - 1) != group_count(n, old_groups - 1))
			blob_ep_mark_changed(blob, old_groups - 1);
		for (uint64_t i = old; thick && i < n; i++) {
			uint32_t c;

			rc = bs_claim_cluster(bs, &c);
			assert(rc == 0);
			if (rc != 0)
				return rc;
			blob->active.clusters[i] = c;
		}
		for (uint32_t k = old_groups; et && k < new_groups; k++) {
			blob->active.extent_pages[k] = 0;
			blob->active.ep_state[k] = EP_NONE;
			if (thick) {
				uint32_t page;

				rc = bs_claim_md_page(bs, 1, &page);
				assert(rc == 0);
				if (rc != 0)
					return rc;
				blob->active.extent_pages[k] = page;
				blob->active.ep_state[k] = EP_FRESH;
			}
		}
		if (et)
			blob->active.num_extent_pages = new_groups;
		__atomic_store_n(&blob->active.num_clusters, n, __ATOMIC_RELEASE);
		blob_md_changed(blob);
		return 0;
	}

	/* Shrink: released after the commit that drops them (metadata.c). */
	for (uint64_t i = n; i < old; i++) {
		uint32_t c = blob->active.clusters[i];

		if (c == 0)
			continue;
		rc = u32_vec_push(&blob->release.clusters, c);
		if (rc != 0)
			LOG_ERR("blobstore: out of memory: cluster %u of 0x%" PRIx64 " leaked\n", c,
				blob->id);
		blob->active.clusters[i] = 0;
	}
	for (uint32_t k = new_groups; et && k < old_groups; k++) {
		uint32_t page = blob->active.extent_pages[k];

		if (page == 0)
			continue;
		if (blob->active.ep_state[k] == EP_FRESH)
			bs_release_md_page(bs, page);    /* never written */
		else if (u32_vec_push(&blob->release.md_pages, page) != 0)
			LOG_ERR("blobstore: out of memory: md page %u leaked\n", page);
		blob->active.extent_pages[k] = 0;
		blob->active.ep_state[k] = EP_NONE;
	}
	if (et && new_groups > 0 && blob->active.ep_state[new_groups - 1] != EP_NONE &&
	    group_count(old, new_groups - 1) != group_count(n, new_groups - 1))
		blob_ep_mark_changed(blob, new_groups - 1);
	if (et)
		blob->active.num_extent_pages = new_groups;
	__atomic_store_n(&blob->active.num_clusters, n, __ATOMIC_RELEASE);
	blob_md_changed(blob);
	return 0;
}

struct resize_ctx {
	struct blob *blob;
	uint64_t n;
	int rc;
	blob_op_complete cb;
	void *cb_arg;
};

static void
resize_unfrozen(void *arg, int rc)
{
	struct resize_ctx *c = arg;

	c->cb(c->cb_arg, c->rc);
	free(c);
}

static void
resize_frozen(void *arg, int rc)
{
	struct resize_ctx *c = arg;

	if (rc != 0) {
		c->cb(c->cb_arg, rc);
		free(c);
		return;
	}
	c->rc = c->blob->md_ro ? -EPERM : blob_resize_now(c->blob, c->n);
	blob_unfreeze_io(c->blob, resize_unfrozen, c);
}

void
blob_resize(struct blob *blob, uint64_t num_clusters, blob_op_complete cb, void *cb_arg)
{
	struct resize_ctx *c;

	assert(bs_on_md_thread(blob->bs));

	if (blob->md_ro) {
		bs_complete_later(cb, cb_arg, -EPERM);
		return;
	}
	if (num_clusters > UINT32_MAX) {
		bs_complete_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (num_clusters == blob->active.num_clusters) {
		bs_complete_later(cb, cb_arg, 0);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->blob = blob;
	c->n = num_clusters;
	c->cb = cb;
	c->cb_arg = cb_arg;
	/* The map array may move: no I/O may be reading it meanwhile. */
	blob_freeze_io(blob, resize_frozen, c);
}

void
blob_sync_md(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	if (blob->md_ro && !blob_md_is_dirty(blob)) {
		bs_complete_later(cb, cb_arg, 0);
		return;
	}
	blob_persist(blob, cb, cb_arg);
}

int
blob_set_read_only(struct blob *blob)
{
	if (blob->data_ro_flags & BSF_DATA_RO_READ_ONLY)
		return 0;
	/* Takes effect (data_ro, md_ro) when the next persist commits it. */
	blob->data_ro_flags |= BSF_DATA_RO_READ_ONLY;
	blob_md_changed(blob);
	return 0;
}

/* ---- create (spec §6.2) ---------------------------------------------------------------- */

void
blob_opts_init(struct blob_opts *opts, size_t opts_size)
{
	struct blob_opts d;

	memset(&d, 0, sizeof(d));
	d.opts_size = opts_size;
	d.clear_method = BLOB_CLEAR_WITH_DEFAULT;
	d.use_extent_table = true;
	memset(opts, 0, opts_size);
	memcpy(opts, &d, opts_size < sizeof(d) ? opts_size : sizeof(d));
}

struct create_ctx {
	struct blob *blob;
	blob_op_with_id_complete cb;
	void *cb_arg;
};

/* Gives back what a create claimed, when nothing of it reached the disk. */
static void
create_undo(struct blob *blob)
{
	struct blob_store *bs = blob->bs;
	uint32_t page = bsf_blobid_to_page(blob->id);

	for (uint64_t i = 0; i < blob->active.num_clusters; i++) {
		if (blob->active.clusters[i] != 0)
			bs_release_cluster(bs, blob->active.clusters[i]);
	}
	for (uint32_t k = 0; k < blob->active.num_extent_pages; k++) {
		if (blob->active.extent_pages[k] != 0)
			bs_release_md_page(bs, blob->active.extent_pages[k]);
	}
	bit_array_clear(bs->used_blobids, page);
	bs_release_md_page(bs, page);
}

static void
create_persisted(void *arg, int rc)
{
	struct create_ctx *c = arg;
	struct blob *blob = c->blob;
	blob_id id = blob->id;

	blob->bs->md_ops_in_flight--;
	if (rc == -ENOSPC || rc == -ENOMEM || rc == -EINVAL) {
		/* Refused before any write. */
		create_undo(blob);
	} else if (rc != 0) {
		/* A write failed: the root may be on disk. Keep everything claimed
		 * (leaked until the next load, never double-owned). */
		LOG_ERR("blobstore: create of blob 0x%" PRIx64 " failed: %d\n", id, rc);
	}
	blob_free(blob);
	c->cb(c->cb_arg, rc == 0 ? id : BLOB_ID_INVALID, rc);
	free(c);
}

void
bs_create_blob(struct blob_store *bs, const struct blob_opts *opts, blob_op_with_id_complete cb,
	       void *cb_arg)
{
	bs_create_blob_internal(bs, opts, NULL, cb, cb_arg);
}

/* Sets the xattrs of `xo` into one namespace (create). */
static int
create_set_xattrs(struct blob *blob, const struct blob_xattr_opts *xo, bool internal)
{
	int rc;

	for (size_t i = 0; xo != NULL && i < xo->count; i++) {
		const void *value = NULL;
		size_t len = 0;

		if (xo->names[i] == NULL)
			return -EINVAL;
		xo->get_value(xo->ctx, xo->names[i], &value, &len);
		if (len > UINT16_MAX)
			return -EINVAL;
		if (internal)
			rc = blob_set_xattr_internal(blob, xo->names[i], value, (uint16_t)len);
		else
			rc = blob_xattrs_set(&blob->xattrs, xo->names[i], value, (uint16_t)len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void
bs_create_blob_internal(struct blob_store *bs, const struct blob_opts *opts,
			const struct blob_xattr_opts *internal_xattrs, blob_op_with_id_complete cb,
			void *cb_arg)
{
	struct blob_opts o;
	struct create_ctx *c;
	struct blob *blob;
	uint32_t page;
	int rc;

	assert(bs_on_md_thread(bs));

	blob_opts_init(&o, sizeof(o));
	if (opts != NULL) {
		size_t n = opts->opts_size < sizeof(o) ? opts->opts_size : sizeof(o);

		if (n > sizeof(size_t))
			memcpy((uint8_t *)&o + sizeof(size_t), (const uint8_t *)opts + sizeof(size_t),
			       n - sizeof(size_t));
	}
	if (o.num_clusters > UINT32_MAX || (unsigned)o.clear_method > BLOB_CLEAR_WITH_WRITE_ZEROES ||
	    (o.esnap_id != NULL && (o.esnap_id_len == 0 ||
				    o.esnap_id_len > BSF_XATTR_MAX_NAME_VALUE - strlen(BSF_XATTR_EXTSNAP))) ||
	    (o.xattrs.count > 0 && (o.xattrs.names == NULL || o.xattrs.get_value == NULL)) ||
	    (internal_xattrs != NULL && internal_xattrs->count > 0 &&
	     (internal_xattrs->names == NULL || internal_xattrs->get_value == NULL))) {
		blob_id_complete_later(cb, cb_arg, BLOB_ID_INVALID, -EINVAL);
		return;
	}
	if (bs->unloading) {
		blob_id_complete_later(cb, cb_arg, BLOB_ID_INVALID, -EBUSY);
		return;
	}
	rc = bs_claim_md_page(bs, 0, &page);
	if (rc != 0) {
		blob_id_complete_later(cb, cb_arg, BLOB_ID_INVALID, rc);
		return;
	}
	bit_array_set(bs->used_blobids, page);
	blob = blob_alloc(bs, bsf_page_to_blobid(page));
	c = calloc(1, sizeof(*c));
	if (blob == NULL || c == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	blob->format = o.use_extent_table ? BSF_EXTENT_TABLE : BSF_EXTENT_RLE;
	blob->invalid_flags = o.use_extent_table ? BSF_INVALID_EXTENT_TABLE : 0;
	if (o.thin_provision || o.esnap_id != NULL)
		blob->invalid_flags |= BSF_INVALID_THIN_PROV;
	/* Spec §4.6 / §10.9: the creation value is ORed into md_ro. */
	blob->md_ro_flags |= (uint64_t)o.clear_method & BSF_MD_RO_CLEAR_METHOD_MASK;
	rc = create_set_xattrs(blob, &o.xattrs, false);
	if (rc == 0)
		rc = create_set_xattrs(blob, internal_xattrs, true);
	if (rc != 0)
		goto err;
	if (o.esnap_id != NULL) {
		rc = blob_set_xattr_internal(blob, BSF_XATTR_EXTSNAP, o.esnap_id,
					     (uint16_t)o.esnap_id_len);
		if (rc != 0)
			goto err;
		blob->invalid_flags |= BSF_INVALID_EXTERNAL_SNAPSHOT;
	}
	if (blob->format == BSF_EXTENT_TABLE) {
		rc = blob_map_reserve(blob, 0);
		if (rc != 0)
			goto err;
	}
	rc = blob_resize_now(blob, o.num_clusters);
	if (rc != 0)
		goto err;
	blob_md_changed(blob);
	c->blob = blob;
	c->cb = cb;
	c->cb_arg = cb_arg;
	bs->md_ops_in_flight++;
	blob_persist(blob, create_persisted, c);
	return;

err:
	if (blob != NULL) {
		create_undo(blob);
		blob_free(blob);
	} else {
		bit_array_clear(bs->used_blobids, page);
		bs_release_md_page(bs, page);
	}
	free(c);
	blob_id_complete_later(cb, cb_arg, BLOB_ID_INVALID, rc);
}

/* ---- open / close ------------------------------------------------------------------------ */

static void blob_open_ext(struct blob_store *bs, blob_id id, blob_op_with_handle_complete cb,
			  void *cb_arg);

static void
open_fail_all(struct blob *blob, int rc)
{
	struct blob_open_waiter *w;
	TAILQ_HEAD(, blob_open_waiter) waiters;

	TAILQ_INIT(&waiters);
	TAILQ_CONCAT(&waiters, &blob->open_waiters, link);
	bs_blob_unlink(blob->bs, blob);
	if (blob->back_bs_dev != NULL)
		blob->back_bs_dev->destroy(blob->back_bs_dev);
	blob_free(blob);
	while ((w = TAILQ_FIRST(&waiters)) != NULL) {
		TAILQ_REMOVE(&waiters, w, link);
		w->cb(w->cb_arg, NULL, rc);
		free(w);
	}
}

static void
open_finish(struct blob *blob)
{
	struct blob_open_waiter *w;

	blob->state = BLOB_STATE_OPEN;
	while ((w = TAILQ_FIRST(&blob->open_waiters)) != NULL) {
		TAILQ_REMOVE(&blob->open_waiters, w, link);
		blob->ref++;
		w->cb(w->cb_arg, blob, 0);
		free(w);
	}
}

static void
open_parent_done(void *arg, struct blob *parent, int rc)
{
	struct blob *blob = arg;

	if (rc != 0) {
		/* Spec §10.11: a clone whose parent is missing does not open. */
		LOG_ERR("blobstore: blob 0x%" PRIx64 ": parent 0x%" PRIx64 " does not open: %d\n",
			blob->id, blob->parent_id, rc);
		open_fail_all(blob, rc == -ENOENT ? -EILSEQ : rc);
		return;
	}
	blob->parent = parent;
	open_finish(blob);
}

/* True if opening `parent` for `blob` would wait on a cycle of loading blobs. */
static bool
parent_cycle(struct blob_store *bs, struct blob *blob)
{
	struct blob *cur;
	uint32_t steps = 0;

	if (blob->parent_id == blob->id)
		return true;
	cur = bs_find_blob(bs, blob->parent_id);
	while (cur != NULL && cur->state == BLOB_STATE_LOADING && steps++ <= bs->layout.md_len) {
		if (cur->parent_id == blob->id)
			return true;
		if (cur->parent_id == BLOB_ID_INVALID)
			return false;
		cur = bs_find_blob(bs, cur->parent_id);
	}
	return false;
}

static void
open_md_loaded(void *arg, int rc)
{
	struct blob *blob = arg;
	struct blob_store *bs = blob->bs;
	const struct bsf_xattr *x;

	if (rc != 0) {
		open_fail_all(blob, rc);
		return;
	}
	if ((blob->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT) &&
	    bs->opts.esnap_bs_dev_create != NULL) {
		x = blob_xattrs_find(&blob->xattrs_internal, BSF_XATTR_EXTSNAP);
		blob->esnap_rc = x == NULL ? -EILSEQ :
				 bs->opts.esnap_bs_dev_create(bs->opts.esnap_ctx, NULL, blob, x->value,
							      x->value_len, &blob->back_bs_dev);
		if (blob->esnap_rc != 0) {
			LOG_WARN("blobstore: esnap clone 0x%" PRIx64 ": external snapshot not "
				 "available (%d)\n", blob->id, blob->esnap_rc);
			blob->back_bs_dev = NULL;
		}
	}
	if (blob->parent_id != BLOB_ID_INVALID) {
		if (parent_cycle(bs, blob)) {
			LOG_ERR("blobstore: blob 0x%" PRIx64 ": SNAP chain loops\n", blob->id);
			open_fail_all(blob, -EILSEQ);
			return;
		}
		blob_open_ext(bs, blob->parent_id, open_parent_done, blob);
		return;
	}
	open_finish(blob);
}

static void
blob_open_ext(struct blob_store *bs, blob_id id, blob_op_with_handle_complete cb, void *cb_arg)
{
	struct blob_open_waiter *w;
	struct blob *blob;
	uint32_t page = bsf_blobid_to_page(id);

	if (!bsf_blobid_is_valid(id) || page >= bs->layout.md_len ||
	    !bit_array_get(bs->used_blobids, page)) {
		handle_later(cb, cb_arg, NULL, -ENOENT);
		return;
	}
	if (bs->bad_blobs != NULL && bit_array_get(bs->bad_blobs, page)) {
		handle_later(cb, cb_arg, NULL, -EILSEQ);
		return;
	}
	blob = bs_find_blob(bs, id);
	if (blob != NULL) {
		switch (blob->state) {
		case BLOB_STATE_CLOSING:
			blob->state = BLOB_STATE_OPEN;
			/* fallthrough */
		case BLOB_STATE_OPEN:
			blob->ref++;
			handle_later(cb, cb_arg, blob, 0);
			return;
		case BLOB_STATE_DELETING:
			handle_later(cb, cb_arg, NULL, -ENOENT);
			return;
		case BLOB_STATE_LOADING:
			break;
		}
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		handle_later(cb, cb_arg, NULL, -ENOMEM);
		return;
	}
	w->cb = cb;
	w->cb_arg = cb_arg;
	if (blob != NULL) {
		TAILQ_INSERT_TAIL(&blob->open_waiters, w, link);
		return;
	}
	blob = blob_alloc(bs, id);
	if (blob == NULL) {
		free(w);
		handle_later(cb, cb_arg, NULL, -ENOMEM);
		return;
	}
	blob->state = BLOB_STATE_LOADING;
	bs_blob_link(bs, blob);
	TAILQ_INSERT_TAIL(&blob->open_waiters, w, link);
	blob_load_md(blob, open_md_loaded, blob);
}

void
bs_open_blob(struct blob_store *bs, blob_id id, blob_op_with_handle_complete cb, void *cb_arg)
{
	assert(bs_on_md_thread(bs));
	if (bs->unloading) {
		handle_later(cb, cb_arg, NULL, -EBUSY);
		return;
	}
	blob_open_ext(bs, id, cb, cb_arg);
}

struct close_ctx {
	struct blob *blob;
	blob_op_complete cb;
	void *cb_arg;
};

static void
close_persisted(void *arg, int rc)
{
	struct close_ctx *c = arg;
	struct blob *blob = c->blob;

	blob->close_pending--;
	if (rc != 0)
		LOG_ERR("blobstore: blob 0x%" PRIx64 ": metadata not saved at close: %d\n", blob->id,
			rc);
	if (blob->ref == 0 && blob->close_pending == 0)
		blob_teardown(blob);
	c->cb(c->cb_arg, rc);
	free(c);
}

void
blob_close(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	struct close_ctx *c;

	assert(bs_on_md_thread(blob->bs));

	assert(blob->ref > 0);
	if (blob->ref == 0) {
		bs_complete_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (--blob->ref > 0) {
		bs_complete_later(cb, cb_arg, 0);
		return;
	}
	c = malloc(sizeof(*c));
	if (c == NULL) {
		blob->ref++;
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->blob = blob;
	c->cb = cb;
	c->cb_arg = cb_arg;
	blob->state = BLOB_STATE_CLOSING;
	blob->close_pending++;
	/* A persist with nothing to write completes at once (later). */
	blob_persist(blob, close_persisted, c);
}

/* ---- delete (spec §6.6) ------------------------------------------------------------------ */

struct delete_ctx {
	struct blob *blob;
	int step;
	struct u32_vec pages;           /* chain (non-root) and extent pages */
	struct u32_vec clusters;
	blob_op_complete cb;
	void *cb_arg;
};

static void
delete_finish(struct delete_ctx *c, int rc)
{
	struct blob *blob = c->blob;

	if (rc != 0)
		LOG_ERR("blobstore: delete of blob 0x%" PRIx64 " failed at step %d: %d\n", blob->id,
			c->step, rc);
	u32_vec_free(&c->pages);
	u32_vec_free(&c->clusters);
	blob_teardown(blob);
	c->cb(c->cb_arg, rc);
	free(c);
}

static void
delete_next(void *arg, int rc)
{
	struct delete_ctx *c = arg;
	struct blob *blob = c->blob;
	struct blob_store *bs = blob->bs;
	uint32_t root = bsf_blobid_to_page(blob->id);

	if (rc != 0) {
		if (c->step == 1) {
			/* Dirty marking failed: nothing written, the blob stays. */
			bit_array_set(bs->used_blobids, root);
			bs_parent_index_set(bs, blob->id, blob->parent_id);
			delete_finish(c, rc);
			return;
		}
		if (c->step >= 5) {
			/* After the commit: reclaiming failed; logged, not fatal. */
			delete_next(c, 0);
			return;
		}
		/* The root write may or may not have landed: keep every page and
		 * cluster claimed (leaked until the next load), the blob gone. */
		delete_finish(c, rc);
		return;
	}
	switch (c->step++) {
	case 0:
		bs_mark_dirty(bs, delete_next, c);
		return;
	case 1:
		bs_flush(bs, delete_next, c);
		return;
	case 2:
		bs->stat_md_writes++;
		bs->dev->write_zeroes(bs->dev, bs->md_ch,
				      ((uint64_t)bs->layout.md_start + root) * bs->lbas_per_md_page,
				      bs->lbas_per_md_page, delete_next, c);
		return;
	case 3:
		/* THE COMMIT is durable after this flush. */
		bs_flush(bs, delete_next, c);
		return;
	case 4:
		bs_zero_md_pages(bs, c->pages.v, c->pages.n, delete_next, c);
		return;
	case 5:
		bs_release_md_page(bs, root);
		bs_scrub_clusters(bs, c->clusters.v, c->clusters.n,
				  (enum blob_clear_method)(blob->md_ro_flags & BSF_MD_RO_CLEAR_METHOD_MASK),
				  true, delete_next, c);
		return;
	case 6:
		delete_finish(c, 0);
		return;
	}
}

void
blob_delete_opened(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	struct blob_store *bs = blob->bs;
	struct delete_ctx *c = calloc(1, sizeof(*c));
	int rc = 0;

	assert(blob->ref == 1);
	if (c == NULL) {
		blob_close(blob, bs_noop_complete, NULL);
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->blob = blob;
	c->cb = cb;
	c->cb_arg = cb_arg;
	for (uint32_t i = 1; i < blob->clean.pages.n; i++)
		rc |= u32_vec_push(&c->pages, blob->clean.pages.v[i]);
	for (uint32_t k = 0; k < blob->active.num_extent_pages; k++) {
		if (blob->active.extent_pages[k] != 0)
			rc |= u32_vec_push(&c->pages, blob->active.extent_pages[k]);
	}
	for (uint32_t i = 0; i < blob->release.md_pages.n; i++)
		rc |= u32_vec_push(&c->pages, blob->release.md_pages.v[i]);
	for (uint64_t i = 0; i < blob->active.num_clusters; i++) {
		if (blob->active.clusters[i] != 0)
			rc |= u32_vec_push(&c->clusters, blob->active.clusters[i]);
	}
	for (uint32_t i = 0; i < blob->release.clusters.n; i++)
		rc |= u32_vec_push(&c->clusters, blob->release.clusters.v[i]);
	if (rc != 0) {
		u32_vec_free(&c->pages);
		u32_vec_free(&c->clusters);
		free(c);
		blob_close(blob, bs_noop_complete, NULL);
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	blob->ref = 0;
	blob->state = BLOB_STATE_DELETING;
	bit_array_clear(bs->used_blobids, bsf_blobid_to_page(blob->id));
	bs_parent_index_set(bs, blob->id, BLOB_ID_INVALID);
	delete_next(c, 0);
}

struct bs_delete_ctx {
	struct blob_store *bs;
	blob_op_complete cb;
	void *cb_arg;
	int rc;
};

static void
bs_delete_done(void *arg, int rc)
{
	struct bs_delete_ctx *c = arg;

	c->bs->md_ops_in_flight--;
	c->cb(c->cb_arg, c->rc != 0 ? c->rc : rc);
	free(c);
}

/*
 * Who may hold a blob open when it is deleted. A blob is deletable when
 * nobody uses it: its only open references (besides the delete's own) are
 * the parent handles of its clones, which the delete takes care of. Only a
 * snapshot with exactly one clone can be deleted (merged into the clone),
 * so that is at most one reference, and it is there whenever the clone is
 * open: the lvol layer keeps every blob open, so refusing it would make
 * SPDK's "delete a snapshot with one clone while the clone is in use"
 * impossible. Any other reference (an application handle, an iteration,
 * an operation in flight, a blob still loading or closing) means -EBUSY,
 * as it does for SPDK.
 */
static uint32_t
delete_allowed_refs(struct blob_store *bs, const struct blob *blob)
{
	if (bs_parent_index_clone_count(bs, blob->id) != 1)
		return 0;
	return bs_clone_parent_refs(bs, blob);
}

static void
bs_delete_opened(void *arg, struct blob *blob, int rc)
{
	struct bs_delete_ctx *c = arg;
	struct blob_store *bs = c->bs;
	uint32_t clones;
	blob_id clone = BLOB_ID_INVALID;
	size_t count = 1;

	if (rc != 0) {
		bs_delete_done(c, rc);
		return;
	}
	clones = bs_parent_index_clone_count(bs, blob->id);
	if (clones > 1 || blob->ref != 1 + delete_allowed_refs(bs, blob)) {
		c->rc = -EBUSY;
		blob_close(blob, bs_delete_done, c);
		return;
	}
	if (clones == 1) {
		bs_get_clones(bs, blob->id, &clone, &count);
		snapshot_delete_merge(blob, clone, bs_delete_done, c);
		return;
	}
	blob_delete_opened(blob, bs_delete_done, c);
}

void
bs_delete_blob(struct blob_store *bs, blob_id id, blob_op_complete cb, void *cb_arg)
{
	struct bs_delete_ctx *c;
	struct blob *open;

	assert(bs_on_md_thread(bs));

	if (bs->unloading) {
		bs_complete_later(cb, cb_arg, -EBUSY);
		return;
	}
	open = bs_find_blob(bs, id);
	if (open != NULL && (open->state != BLOB_STATE_OPEN ||
			     open->ref != delete_allowed_refs(bs, open))) {
		bs_complete_later(cb, cb_arg, -EBUSY);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	bs->md_ops_in_flight++;
	blob_open_ext(bs, id, bs_delete_opened, c);
}

/* ---- iteration (spec §10.11) -------------------------------------------------------------- */

struct iter_ctx {
	struct blob_store *bs;
	uint32_t page;
	blob_op_with_handle_complete cb;
	void *cb_arg;
};

static void iter_opened(void *arg, struct blob *blob, int rc);

static void
iter_open_from(struct iter_ctx *c)
{
	struct blob_store *bs = c->bs;
	uint32_t page = c->page < bs->layout.md_len ?
			bit_array_find_first_set(bs->used_blobids, c->page) : UINT32_MAX;

	if (page == UINT32_MAX || page >= bs->layout.md_len) {
		handle_later(c->cb, c->cb_arg, NULL, -ENOENT);
		free(c);
		return;
	}
	c->page = page;
	blob_open_ext(bs, bsf_page_to_blobid(page), iter_opened, c);
}

static void
iter_opened(void *arg, struct blob *blob, int rc)
{
	struct iter_ctx *c = arg;

	if (rc != 0) {
		/* Skipped, as SPDK does; the log says why. */
		LOG_WARN("blobstore: blob 0x%" PRIx64 " does not open (%d): skipped\n",
			 bsf_page_to_blobid(c->page), rc);
		c->page++;
		iter_open_from(c);
		return;
	}
	c->cb(c->cb_arg, blob, 0);
	free(c);
}

static struct iter_ctx *
iter_ctx_new(struct blob_store *bs, uint32_t page, blob_op_with_handle_complete cb, void *cb_arg)
{
	struct iter_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->bs = bs;
	c->page = page;
	c->cb = cb;
	c->cb_arg = cb_arg;
	return c;
}

void
bs_iter_first(struct blob_store *bs, blob_op_with_handle_complete cb, void *cb_arg)
{
	struct iter_ctx *c = iter_ctx_new(bs, 0, cb, cb_arg);

	if (c == NULL) {
		handle_later(cb, cb_arg, NULL, -ENOMEM);
		return;
	}
	iter_open_from(c);
}

static void
iter_prev_closed(void *arg, int rc)
{
	iter_open_from(arg);
}

void
bs_iter_next(struct blob_store *bs, struct blob *prev, blob_op_with_handle_complete cb,
	     void *cb_arg)
{
	struct iter_ctx *c = iter_ctx_new(bs, bsf_blobid_to_page(prev->id) + 1, cb, cb_arg);

	if (c == NULL) {
		handle_later(cb, cb_arg, NULL, -ENOMEM);
		return;
	}
	blob_close(prev, iter_prev_closed, c);
}

/* ---- getters -------------------------------------------------------------------------------- */

blob_id
blob_get_id(const struct blob *blob)
{
	return blob->id;
}

uint64_t
blob_get_num_clusters(const struct blob *blob)
{
	return blob->active.num_clusters;
}

uint64_t
blob_get_num_allocated_clusters(const struct blob *blob)
{
	return blob_count_allocated(blob);
}

uint64_t
blob_get_num_io_units(const struct blob *blob)
{
	return blob->active.num_clusters * blob->bs->io_units_per_cluster;
}

bool
blob_is_thin_provisioned(const struct blob *blob)
{
	return blob_is_thin(blob);
}

bool
blob_is_read_only(const struct blob *blob)
{
	return blob->data_ro || (blob->data_ro_flags & BSF_DATA_RO_READ_ONLY) != 0;
}

bool
blob_is_snapshot(const struct blob *blob)
{
	return bs_parent_index_clone_count(blob->bs, blob->id) > 0;
}

bool
blob_is_clone(const struct blob *blob)
{
	return blob->parent_id != BLOB_ID_INVALID;
}

bool
blob_is_esnap_clone(const struct blob *blob)
{
	return (blob->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT) != 0;
}

bool
blob_esnap_dev_missing(const struct blob *blob)
{
	return blob_is_esnap_clone(blob) && blob->back_bs_dev == NULL;
}

enum blob_clear_method
blob_get_clear_method(const struct blob *blob)
{
	return (enum blob_clear_method)(blob->md_ro_flags & BSF_MD_RO_CLEAR_METHOD_MASK);
}

int
blob_get_esnap_id(struct blob *blob, const void **id, size_t *len)
{
	if (!blob_is_esnap_clone(blob))
		return -EINVAL;
	return blob_get_xattr_internal(blob, BSF_XATTR_EXTSNAP, id, len);
}

bool
blob_io_unit_is_allocated(const struct blob *blob, uint64_t offset)
{
	uint64_t slot = offset / blob->bs->io_units_per_cluster;

	return slot < blob->active.num_clusters && blob->active.clusters[slot] != 0;
}
