/*
 * lib/blob/snapshot.c: snapshots, clones, inflate, decouple, set parent
 * (to a snapshot or to an external device), handing an esnap clone the
 * external device it was missing, the delete of a snapshot with exactly
 * one clone (merge), and the load-time fix-up of snapshot operations a
 * power cut interrupted (spec §5.4-§5.7, §6.6, §6.10).
 *
 * Every operation here is a short sequence of blob persists (metadata.c),
 * each of which commits with ONE write: the blob's root page. The
 * operation is made crash safe by choosing that sequence so that the state
 * on disk after any prefix of the commits is either a complete state, or
 * one the §6.10 fix-up pass (snapshot_fixup_after_load, at every load)
 * turns into the state before or the state after the operation. Writes
 * that are not commits (fresh chain pages, fresh extent pages, the copies
 * of inflate) are unreferenced until their commit, and so invisible to a
 * load if the power goes first.
 *
 * ---- Crash-safety arguments, per operation ----------------------------------------
 *
 * snapshot (spec §5.4; origin B, new snapshot S)
 *   C1  persist S: thin, every slot unallocated, SNAPTMP = B.
 *   C2  persist S with a copy of B's cluster map and extent-page list (the
 *       extent pages are not rewritten: S's table names B's pages), B's
 *       flags, B's SNAP / EXTSNAP.
 *   C3  persist B: empty map, THIN_PROV, SNAP = S, no EXTSNAP.
 *   C4  persist S: SNAPTMP removed, READ_ONLY.
 *   Cut before C1: nothing changed (S's claims were in memory only).
 *   After C1 or C2, before C3: S carries SNAPTMP and B's SNAP is not S, so
 *   the fix-up deletes S, first dropping from S's map every cluster and
 *   extent page B also names (after C2 that is all of them): B is intact
 *   and owns everything it owned (recovery tolerates the shared clusters
 *   because S carries SNAPTMP, §10.12). After C3: B's SNAP is S, so the
 *   fix-up keeps S (removes SNAPTMP, sets READ_ONLY): the snapshot is
 *   complete, and C4 merely does that itself. B's data is the same in
 *   both outcomes: read from B's own clusters, or from S's, which are the
 *   same clusters. B's I/O is frozen from before its first metadata write
 *   until C3 has committed, so no write of B can land on a cluster whose
 *   ownership is moving, and the in-memory switch (B reads through S) is
 *   made while no I/O of B is in flight.
 *
 * clone (spec §5.5)
 *   One persist of the new blob C (thin, SNAP = S): its root write creates
 *   it, complete. Before it there is no root; recovery claims nothing.
 *
 * inflate / decouple (spec §5.6; clone C, parent P)
 *   The copies are first-write allocations (blob_cluster_allocate_and_copy
 *   -> blob_insert_cluster), each committed on its own (one extent-page
 *   write or one root write) and each leaving C reading exactly what it
 *   read before: the new cluster holds a copy of what the chain provided.
 *   Then, with C's I/O frozen (and every slot that needs one checked to be
 *   allocated, under that freeze: a resize or unmap meanwhile sends us back
 *   to copying), one persist of C drops / re-points SNAP (and clears
 *   THIN_PROV for inflate): its root write is the commit. Before it, C is
 *   still a clone of P with some clusters of its own; after it, C no longer
 *   needs P for any slot it reads. Either state reads the same data.
 *   Decouple re-points to P's parent; if P has none but is an esnap clone,
 *   C becomes an esnap clone of the same external snapshot (its own device
 *   from esnap_bs_dev_create), so it keeps reading what P read; else C
 *   keeps no parent and reads zeroes where P had nothing. Esnap clones are
 *   always inflated.
 *
 * set parent / set external parent (spec §5.7)
 *   One persist of the blob (SNAP / EXTSNAP and the flag changed), its
 *   root write is the commit; the blob's I/O is frozen around the switch
 *   of its back device.
 *
 * esnap attach (an esnap clone's missing external device arrives)
 *   No write at all: EXTSNAP already names the device; only the handle
 *   changes, with the blob's I/O frozen.
 *
 * delete of a snapshot S with one clone C (spec §6.6, with the safe order
 *   of doc/on-disk-format.md)
 *   M1  persist S with SNAPRM = C.
 *   M2  persist C with every unallocated slot filled from S (a group
 *       where C had no extent page adopts S's page as it is; a group where
 *       C had one gets a merged copy written to a FRESH page, C's old page
 *       being released only after the commit; never an in-place rewrite),
 *       and SNAP re-pointed to S's parent (or S's EXTSNAP, or none). The
 *       root write is the commit of both the sharing and the re-pointing.
 *   M3  delete S (blob_delete_opened): its root is zeroed first (that write
 *       deletes it), then its own pages; only clusters C did not take are
 *       freed, because S's map no longer names the ones C took.
 *   Cut before M1: nothing changed. After M1, before M2: C's SNAP is S, so
 *   the fix-up keeps S (removes SNAPRM); the merged extent pages written so
 *   far are unreferenced. After M2, before M3: C's SNAP is not S, so the
 *   fix-up deletes S after dropping everything C names from S's map: the
 *   merge completes. After M3: done; S's leftover pages are not roots.
 *   Unlike spec step 4 we do not persist S with its shared entries zeroed
 *   before deleting it: our delete commits with the zeroing of S's root
 *   alone, so there is no window in which a half-deleted S could free what
 *   C owns, and the extra persist would buy nothing.
 *   C's I/O is frozen while its map and back device change in memory, and
 *   so is the I/O of every open blob below C (when C is itself a snapshot):
 *   the data path walks the chain through the parent pointers, so a read of
 *   such a blob would otherwise pass through C and S while they change.
 *   C may be open (the lvol layer keeps every blob open; bs_delete_blob lets
 *   the clone's parent reference through): its handle re-points at once.
 *
 * load fix-up (spec §6.10), for every blob S carrying SNAPTMP or SNAPRM
 *   naming B: if B's SNAP is S, keep S (persist it without SNAPTMP/SNAPRM
 *   and with READ_ONLY: one root write); otherwise drop from S's map every
 *   cluster and extent page B names, and delete S (its root write first).
 *   Both are idempotent: a cut during the fix-up leaves a state the next
 *   fix-up handles the same way. A B that does not open for a reason other
 *   than not existing leaves S untouched (we cannot know what B owns).
 *
 * ---- Other invariants ----------------------------------------------------------------
 *
 *  - At most one operation of this file runs on a blob at a time:
 *    blob->snap_priv points to it meanwhile; others get -EBUSY.
 *  - A blob's parent handle (blob->parent) and back device (back_bs_dev)
 *    are changed only while its I/O is frozen (I/O threads read them).
 *    Each parent handle holds one open reference, moved or closed with it.
 *  - The parent index (bs_parent_index_set) is changed together with the
 *    in-memory SNAP, so bs_get_clones / blob_is_snapshot / blob_is_clone
 *    follow the in-memory state.
 *  - An esnap clone whose external device could not be opened (or for
 *    which the application gave no esnap_bs_dev_create) still opens; its
 *    reads of slots it has not allocated fail with -ENODEV (io.c), so the
 *    lvol layer can list it while its base bdev is missing.
 *  - Errors: an operation that fails before its commit leaves memory as it
 *    was (rolled back); one that fails with a device error at its commit
 *    may or may not have committed: memory is left so that no cluster can
 *    be freed that either outcome still names, and the next load settles
 *    the rest.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"

#include "blob_internal.h"

/* ---- small helpers ---------------------------------------------------------------------- */

/* True for the errors a persist reports when it wrote nothing (metadata.c). */
static bool
rc_nothing_written(int rc)
{
	return rc == -ENOSPC || rc == -ENOMEM || rc == -EINVAL;
}

static int
set_id_xattr(struct blob *blob, const char *name, blob_id id)
{
	uint8_t v[8];

	bsf_store_le64(v, id);
	return blob_set_xattr_internal(blob, name, v, sizeof(v));
}

/* The 8-byte id stored in an internal xattr, BLOB_ID_INVALID if absent or malformed. */
static blob_id
get_id_xattr(struct blob *blob, const char *name)
{
	const void *v;
	size_t len;

	if (blob_get_xattr_internal(blob, name, &v, &len) != 0 || len != sizeof(uint64_t))
		return BLOB_ID_INVALID;
	return bsf_load_le64(v);
}

static void
remove_internal_if_present(struct blob *blob, const char *name)
{
	(void)blob_remove_xattr_internal(blob, name);
}

static uint32_t
group_slots(uint64_t num_clusters, uint32_t k)
{
	uint64_t start = (uint64_t)k * BSF_EXTENTS_PER_EP;

	if (num_clusters <= start)
		return 0;
	return num_clusters - start < BSF_EXTENTS_PER_EP ? (uint32_t)(num_clusters - start) :
	       BSF_EXTENTS_PER_EP;
}

static inline void
slot_store(struct blob *blob, uint64_t k, uint32_t c)
{
	__atomic_store_n(&blob->active.clusters[k], c, __ATOMIC_RELEASE);
}

/* Closes up to 4 handles (NULLs skipped), then done(arg) once all closes completed. */
struct closer {
	uint32_t pending;
	void (*done)(void *arg);
	void *arg;
};

static void
closer_one(void *arg, int rc)
{
	struct closer *c = arg;

	if (rc != 0)
		LOG_ERR("blobstore: snapshot: close failed: %d\n", rc);
	if (--c->pending == 0) {
		c->done(c->arg);
		free(c);
	}
}

static void
close_then(struct blob *a, struct blob *b, struct blob *c3, void (*done)(void *arg), void *arg)
{
	struct blob *v[3] = { a, b, c3 };
	struct closer *c = calloc(1, sizeof(*c));

	if (c == NULL)
		abort();        /* as bs_complete_later: a few bytes, on a completion path */
	c->pending = 1;
	c->done = done;
	c->arg = arg;
	for (int i = 0; i < 3; i++) {
		if (v[i] != NULL) {
			c->pending++;
			blob_close(v[i], closer_one, c);
		}
	}
	/* blob_close always completes later: done never runs in here. */
	closer_one(c, 0);
}

/* Destroys an external back device once no channel holds a channel to it. */
static void
back_dev_destroyed(void *arg, int rc)
{
	struct bs_dev *dev = arg;

	dev->destroy(dev);
}

static void
back_dev_release(struct blob_store *bs, struct bs_dev *dev)
{
	if (dev != NULL)
		bs_channels_drop_back_dev(bs, dev, back_dev_destroyed, dev);
}

/*
 * A new blob handle for a snapshot or a clone: root page claimed, thin,
 * every slot unallocated, carrying the internal xattr id_xattr = id_value
 * (which names the blob it comes from), in state OPEN with one reference
 * (the caller's) and in bs->blobs, so that it is found by id like any open
 * blob. Nothing is on disk until its first persist.
 */
static int
new_blob(struct blob_store *bs, enum bsf_extent_format fmt, uint64_t num_clusters,
	 uint64_t clear_bits, const struct blob_xattr_opts *xo, const char *id_xattr,
	 blob_id id_value, struct blob **out)
{
	struct blob *blob;
	uint32_t page;
	int rc;

	rc = bs_claim_md_page(bs, 0, &page);
	if (rc != 0)
		return rc;
	bit_array_set(bs->used_blobids, page);
	blob = blob_alloc(bs, bsf_page_to_blobid(page));
	if (blob == NULL) {
		rc = -ENOMEM;
		goto err_page;
	}
	blob->format = fmt;
	blob->invalid_flags = BSF_INVALID_THIN_PROV |
			      (fmt == BSF_EXTENT_TABLE ? BSF_INVALID_EXTENT_TABLE : 0);
	blob->md_ro_flags = clear_bits & BSF_MD_RO_CLEAR_METHOD_MASK;
	for (size_t i = 0; xo != NULL && i < xo->count; i++) {
		const void *value = NULL;
		size_t len = 0;

		xo->get_value(xo->ctx, xo->names[i], &value, &len);
		if (len > UINT16_MAX) {
			rc = -EINVAL;
			goto err_blob;
		}
		rc = blob_xattrs_set(&blob->xattrs, xo->names[i], value, (uint16_t)len);
		if (rc != 0)
			goto err_blob;
	}
	rc = set_id_xattr(blob, id_xattr, id_value);
	if (rc != 0)
		goto err_blob;
	rc = blob_map_reserve(blob, num_clusters);
	if (rc != 0)
		goto err_blob;
	blob->active.num_clusters = num_clusters;
	if (fmt == BSF_EXTENT_TABLE)
		blob->active.num_extent_pages = bsf_extent_groups(num_clusters);
	blob_md_changed(blob);
	blob->state = BLOB_STATE_OPEN;
	blob->ref = 1;
	bs_blob_link(bs, blob);
	*out = blob;
	return 0;

err_blob:
	blob_free(blob);
err_page:
	bit_array_clear(bs->used_blobids, page);
	bs_release_md_page(bs, page);
	return rc;
}

static bool
xattr_opts_valid(const struct blob_xattr_opts *xo)
{
	if (xo == NULL || xo->count == 0)
		return true;
	if (xo->names == NULL || xo->get_value == NULL)
		return false;
	for (size_t i = 0; i < xo->count; i++) {
		if (xo->names[i] == NULL)
			return false;
	}
	return true;
}

/*
 * Forgets every cluster and extent page of `blob`'s map in memory (another
 * blob owns them, or they were never its own): a blob about to be deleted
 * then frees none of them. Thin, so that any persist of it stays valid.
 */
static void
map_forget_all(struct blob *blob)
{
	for (uint64_t i = 0; i < blob->active.num_clusters; i++)
		slot_store(blob, i, 0);
	for (uint32_t k = 0; k < blob->active.num_extent_pages; k++) {
		blob->active.extent_pages[k] = 0;
		blob->active.ep_state[k] = EP_NONE;
	}
	blob->invalid_flags |= BSF_INVALID_THIN_PROV;
	blob_md_changed(blob);
}

/*
 * Forgets, in `s`'s map, every cluster and extent page that `b` names
 * (spec §6.10 "zeroing first means the clusters B still uses are not
 * freed"). `b` may be NULL (forgets nothing). -ENOMEM.
 */
static int
map_forget_shared(struct blob *s, const struct blob *b)
{
	struct blob_store *bs = s->bs;
	struct bit_array *cl, *pg;

	if (b == NULL)
		return 0;
	cl = bit_array_create(bs->total_clusters);
	pg = bit_array_create(bs->layout.md_len);
	if (cl == NULL || pg == NULL) {
		bit_array_free(&cl);
		bit_array_free(&pg);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < b->active.num_clusters; i++) {
		uint32_t c = b->active.clusters[i];

		if (c != 0 && c < bs->total_clusters)
			bit_array_set(cl, c);
	}
	for (uint32_t k = 0; k < b->active.num_extent_pages; k++) {
		uint32_t p = b->active.extent_pages[k];

		if (p != 0 && p < bs->layout.md_len)
			bit_array_set(pg, p);
	}
	for (uint64_t i = 0; i < s->active.num_clusters; i++) {
		uint32_t c = s->active.clusters[i];

		if (c != 0 && c < bs->total_clusters && bit_array_get(cl, c))
			slot_store(s, i, 0);
	}
	for (uint32_t k = 0; k < s->active.num_extent_pages; k++) {
		uint32_t p = s->active.extent_pages[k];

		if (p != 0 && p < bs->layout.md_len && bit_array_get(pg, p)) {
			s->active.extent_pages[k] = 0;
			s->active.ep_state[k] = EP_NONE;
		} else if (p != 0) {
			blob_ep_mark_changed(s, k);
		}
	}
	s->invalid_flags |= BSF_INVALID_THIN_PROV;
	blob_md_changed(s);
	bit_array_free(&cl);
	bit_array_free(&pg);
	return 0;
}

/* ---- snapshot (spec §5.4) ---------------------------------------------------------------- */

struct snap_ctx {
	struct blob_store *bs;
	const struct blob_xattr_opts *xattrs;
	blob_id id;
	struct blob *b;                 /* the origin */
	struct blob *s;                 /* the new snapshot */
	bool frozen;
	bool switched;                  /* C3's in-memory change made */
	int rc;
	/* What C3 changes in B, for the rollback. */
	uint64_t b_flags;
	blob_id b_parent_id;
	uint8_t *b_extsnap;
	uint16_t b_extsnap_len;
	bool b_had_extsnap;
	blob_op_with_id_complete cb;
	void *cb_arg;
};

static void
snap_done(void *arg)
{
	struct snap_ctx *c = arg;
	c->bs->md_ops_in_flight--;
	c->cb(c->cb_arg, c->rc == 0 ? c->id : BLOB_ID_INVALID, c->rc);
	free(c->b_extsnap);
	free(c);
}

/* Releases the handles we hold; the snapshot's id was saved in c->id. */
static void
snap_finish(struct snap_ctx *c)
{
	struct blob *b = c->b, *s = c->s;

	if (b != NULL)
		b->snap_priv = NULL;
	if (s != NULL) {
		s->snap_priv = NULL;
		c->id = s->id;
	}
	close_then(b, s, NULL, snap_done, c);
}

static void
snap_s_dropped(void *arg, int rc)
{
	struct snap_ctx *c = arg;

	if (rc != 0)
		LOG_ERR("blobstore: snapshot: removing the unfinished snapshot failed: %d\n", rc);
	c->s = NULL;
	snap_finish(c);
}

/* Deletes the (unfinished) snapshot, which must own nothing B owns. */
static void
snap_drop_s(struct snap_ctx *c)
{
	struct blob *s = c->s;

	s->snap_priv = NULL;
	map_forget_all(s);
	if (s->ref != 1) {
		/* Someone opened it by id meanwhile: leave it to the fix-up. */
		LOG_ERR("blobstore: snapshot 0x%" PRIx64 " is open elsewhere: left with SNAPTMP\n",
			s->id);
		snap_finish(c);
		return;
	}
	blob_delete_opened(s, snap_s_dropped, c);
}

static void
snap_unfrozen_fail(void *arg, int rc)
{
	struct snap_ctx *c = arg;

	c->frozen = false;
	snap_drop_s(c);
}

/* A step before C3 failed: S goes, B is as it was. */
static void
snap_fail_early(struct snap_ctx *c, int rc)
{
	LOG_ERR("blobstore: snapshot of blob 0x%" PRIx64 " failed: %d\n", c->b->id, rc);
	c->rc = rc;
	if (c->frozen) {
		blob_unfreeze_io(c->b, snap_unfrozen_fail, c);
		return;
	}
	snap_drop_s(c);
}

static void
snap_s_final(void *arg, int rc)
{
	struct snap_ctx *c = arg;

	if (rc != 0) {
		/* B names S on disk: the fix-up finishes C4 at the next load. */
		LOG_ERR("blobstore: snapshot 0x%" PRIx64 ": final persist failed: %d\n", c->s->id,
			rc);
		c->rc = rc;
	}
	snap_finish(c);
}

static void
snap_b_thawed(void *arg, int rc)
{
	struct snap_ctx *c = arg;
	struct blob *s = c->s;

	c->frozen = false;
	if (c->rc != 0) {
		snap_finish(c);
		return;
	}
	/* C4. */
	remove_internal_if_present(s, BSF_XATTR_SNAPTMP);
	s->data_ro_flags |= BSF_DATA_RO_READ_ONLY;
	blob_md_changed(s);
	blob_persist(s, snap_s_final, c);
}

/* Undoes C3's in-memory change (B's persist wrote nothing). */
static void
snap_switch_undo(struct snap_ctx *c)
{
	struct blob *b = c->b, *s = c->s;

	for (uint64_t i = 0; i < b->active.num_clusters; i++)
		slot_store(b, i, s->active.clusters[i]);
	for (uint32_t k = 0; k < b->active.num_extent_pages; k++) {
		b->active.extent_pages[k] = s->active.extent_pages[k];
		b->active.ep_state[k] = s->active.extent_pages[k] != 0 ? EP_COMMITTED : EP_NONE;
	}
	b->invalid_flags = c->b_flags;
	remove_internal_if_present(b, BSF_XATTR_SNAP);
	if (c->b_parent_id != BLOB_ID_INVALID &&
	    set_id_xattr(b, BSF_XATTR_SNAP, c->b_parent_id) != 0)
		LOG_ERR("blobstore: out of memory restoring SNAP of 0x%" PRIx64 "\n", b->id);
	if (c->b_had_extsnap &&
	    blob_set_xattr_internal(b, BSF_XATTR_EXTSNAP, c->b_extsnap, c->b_extsnap_len) != 0)
		LOG_ERR("blobstore: out of memory restoring EXTSNAP of 0x%" PRIx64 "\n", b->id);
	b->invalid_flags = c->b_flags;
	blob_md_changed(b);

	b->parent = s->parent;
	b->parent_id = c->b_parent_id;
	b->back_bs_dev = s->back_bs_dev;
	b->esnap_rc = s->esnap_rc;
	s->parent = NULL;
	s->parent_id = BLOB_ID_INVALID;
	s->back_bs_dev = NULL;
	blob_unref_held(s);             /* B's reference */
	bs_parent_index_set(c->bs, b->id, b->parent_id);
	bs_parent_index_set(c->bs, s->id, BLOB_ID_INVALID);
	c->switched = false;
}

static void
snap_b_repointed(void *arg, int rc)
{
	struct snap_ctx *c = arg;

	if (rc != 0) {
		if (rc_nothing_written(rc)) {
			snap_switch_undo(c);
			snap_fail_early(c, rc);
			return;
		}
		/*
		 * C3 may or may not be on disk. Memory stays in the new state
		 * (B reads through S; S owns the clusters); nothing is freed,
		 * and the next load's fix-up settles S either way.
		 */
		LOG_ERR("blobstore: snapshot of 0x%" PRIx64 ": origin persist failed: %d\n",
			c->b->id, rc);
		c->rc = rc;
	}
	blob_unfreeze_io(c->b, snap_b_thawed, c);
}

/* True if B's map is still exactly what S copied (and all committed). */
static bool
snap_b_unchanged(const struct snap_ctx *c)
{
	const struct blob *b = c->b, *s = c->s;

	if (b->active.num_clusters != s->active.num_clusters || b->format != s->format ||
	    b->release.clusters.n != 0 || b->release.md_pages.n != 0)
		return false;
	if (b->active.num_clusters != 0 &&
	    memcmp(b->active.clusters, s->active.clusters,
		   b->active.num_clusters * sizeof(uint32_t)) != 0)
		return false;
	if (b->format != BSF_EXTENT_TABLE)
		return true;
	if (b->active.num_extent_pages != s->active.num_extent_pages)
		return false;
	for (uint32_t k = 0; k < b->active.num_extent_pages; k++) {
		if (b->active.extent_pages[k] != s->active.extent_pages[k] ||
		    (b->active.ep_state[k] != EP_COMMITTED && b->active.ep_state[k] != EP_NONE))
			return false;
	}
	return true;
}

/* C2 committed: make B a clone of S in memory (I/O frozen), then C3. */
static void
snap_s_filled(void *arg, int rc)
{
	struct snap_ctx *c = arg;
	struct blob *b = c->b, *s = c->s;
	const void *v;
	size_t len;

	if (rc != 0) {
		snap_fail_early(c, rc);
		return;
	}
	if (!snap_b_unchanged(c)) {
		/* Resized or unmapped meanwhile (SPDK refuses those during a
		 * snapshot; we notice instead). S still names only B's pages. */
		snap_fail_early(c, -EBUSY);
		return;
	}
	/* Save what we change in B. */
	c->b_flags = b->invalid_flags;
	c->b_parent_id = b->parent_id;
	if (blob_get_xattr_internal(b, BSF_XATTR_EXTSNAP, &v, &len) == 0) {
		c->b_extsnap = malloc(len ? len : 1);
		if (c->b_extsnap == NULL) {
			snap_fail_early(c, -ENOMEM);
			return;
		}
		memcpy(c->b_extsnap, v, len);
		c->b_extsnap_len = (uint16_t)len;
		c->b_had_extsnap = true;
	}
	rc = set_id_xattr(b, BSF_XATTR_SNAP, s->id);
	if (rc != 0) {
		snap_fail_early(c, rc);
		return;
	}
	remove_internal_if_present(b, BSF_XATTR_EXTSNAP);
	b->invalid_flags |= BSF_INVALID_THIN_PROV;
	b->invalid_flags &= ~BSF_INVALID_EXTERNAL_SNAPSHOT;
	for (uint64_t i = 0; i < b->active.num_clusters; i++)
		slot_store(b, i, 0);
	for (uint32_t k = 0; k < b->active.num_extent_pages; k++) {
		b->active.extent_pages[k] = 0;
		b->active.ep_state[k] = EP_NONE;
	}
	blob_md_changed(b);

	/* S takes B's parent reference and back device; B reads through S. */
	s->parent = b->parent;
	s->parent_id = b->parent_id;
	s->back_bs_dev = b->back_bs_dev;
	s->esnap_rc = b->esnap_rc;
	b->parent = s;
	b->parent_id = s->id;
	b->back_bs_dev = NULL;
	b->esnap_rc = 0;
	s->ref++;                       /* held by B as its parent */
	bs_parent_index_set(c->bs, s->id, s->parent_id);
	bs_parent_index_set(c->bs, b->id, s->id);
	c->switched = true;

	blob_persist(b, snap_b_repointed, c);     /* C3 */
}

/* B's pending changes are committed and its I/O frozen: C2. */
static void
snap_b_barrier(void *arg, int rc)
{
	struct snap_ctx *c = arg;
	struct blob *b = c->b, *s = c->s;
	const void *v;
	size_t len;

	if (rc != 0) {
		snap_fail_early(c, rc);
		return;
	}
	if (blob_md_is_dirty(b) || b->release.clusters.n != 0 || b->release.md_pages.n != 0) {
		snap_fail_early(c, -EBUSY);
		return;
	}
	rc = blob_map_reserve(s, b->active.num_clusters);
	if (rc != 0) {
		snap_fail_early(c, rc);
		return;
	}
	for (uint64_t i = 0; i < b->active.num_clusters; i++)
		s->active.clusters[i] = b->active.clusters[i];
	for (uint64_t i = b->active.num_clusters; i < s->active.num_clusters; i++)
		s->active.clusters[i] = 0;
	s->active.num_clusters = b->active.num_clusters;
	if (s->format == BSF_EXTENT_TABLE) {
		s->active.num_extent_pages = b->active.num_extent_pages;
		for (uint32_t k = 0; k < b->active.num_extent_pages; k++) {
			s->active.extent_pages[k] = b->active.extent_pages[k];
			s->active.ep_state[k] = b->active.extent_pages[k] != 0 ? EP_COMMITTED :
						EP_NONE;
		}
	}
	/* Flags as B's (thick if B was thick), keeping S's own internal-xattr bit. */
	s->invalid_flags = (b->invalid_flags & ~BSF_INVALID_INTERNAL_XATTR) |
			   (s->invalid_flags & BSF_INVALID_INTERNAL_XATTR);
	if (b->parent_id != BLOB_ID_INVALID)
		rc = set_id_xattr(s, BSF_XATTR_SNAP, b->parent_id);
	if (rc == 0 && blob_get_xattr_internal(b, BSF_XATTR_EXTSNAP, &v, &len) == 0)
		rc = blob_set_xattr_internal(s, BSF_XATTR_EXTSNAP, v, (uint16_t)len);
	if (rc != 0) {
		snap_fail_early(c, rc);
		return;
	}
	blob_md_changed(s);
	blob_persist(s, snap_s_filled, c);        /* C2 */
}

static void
snap_b_frozen(void *arg, int rc)
{
	struct snap_ctx *c = arg;

	if (rc != 0) {
		c->frozen = false;      /* the freeze did not take */
		snap_fail_early(c, rc);
		return;
	}
	/* Commit whatever B had pending, and wait for its metadata writes in
	 * flight: afterwards nothing of B's map is uncommitted. */
	blob_persist(c->b, snap_b_barrier, c);
}

static void
snap_s_created(void *arg, int rc)
{
	struct snap_ctx *c = arg;

	if (rc != 0) {
		snap_fail_early(c, rc);
		return;
	}
	/* Freeze before any metadata work is queued on B, so that a first
	 * write in flight (its allocation queued on B) can finish. */
	c->frozen = true;
	blob_freeze_io(c->b, snap_b_frozen, c);
}

static void
snap_b_opened(void *arg, struct blob *b, int rc)
{
	struct snap_ctx *c = arg;
	struct blob *s;

	if (rc != 0) {
		c->rc = rc;
		snap_done(c);
		return;
	}
	c->b = b;
	if (b->snap_priv != NULL) {
		c->rc = -EBUSY;
		snap_finish(c);
		return;
	}
	if (b->data_ro || b->md_ro || (b->data_ro_flags & BSF_DATA_RO_READ_ONLY)) {
		c->rc = -EINVAL;
		snap_finish(c);
		return;
	}
	rc = new_blob(c->bs, b->format, b->active.num_clusters,
		      b->md_ro_flags & BSF_MD_RO_CLEAR_METHOD_MASK, c->xattrs, BSF_XATTR_SNAPTMP,
		      b->id, &s);
	if (rc != 0) {
		c->rc = rc;
		snap_finish(c);
		return;
	}
	/* Nobody writes to a snapshot, not even before it is finished. */
	s->data_ro = true;
	s->md_ro = true;
	c->s = s;
	b->snap_priv = c;
	s->snap_priv = c;
	blob_persist(s, snap_s_created, c);       /* C1 */
}

/*
 * The checks snapshot and clone creation share before any work: xattr
 * options well formed (-EINVAL) and the store not unloading (-EBUSY).
 * Answers cb (later) and returns false when the operation may not start.
 */
static bool
new_blob_op_allowed(struct blob_store *bs, const struct blob_xattr_opts *xattrs,
		    blob_op_with_id_complete cb, void *cb_arg)
{
	int rc = !xattr_opts_valid(xattrs) ? -EINVAL : bs->unloading ? -EBUSY : 0;

	if (rc != 0)
		blob_id_complete_later(cb, cb_arg, BLOB_ID_INVALID, rc);
	return rc == 0;
}

void
bs_create_snapshot(struct blob_store *bs, blob_id id, const struct blob_xattr_opts *snapshot_xattrs,
		   blob_op_with_id_complete cb, void *cb_arg)
{
	struct snap_ctx *c;

	assert(bs_on_md_thread(bs));
	if (!new_blob_op_allowed(bs, snapshot_xattrs, cb, cb_arg))
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		blob_id_complete_later(cb, cb_arg, BLOB_ID_INVALID, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->xattrs = snapshot_xattrs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	c->id = BLOB_ID_INVALID;
	bs->md_ops_in_flight++;
	bs_open_blob(bs, id, snap_b_opened, c);
}

/* ---- clone (spec §5.5) ----------------------------------------------------------------- */

struct clone_ctx {
	struct blob_store *bs;
	const struct blob_xattr_opts *xattrs;
	struct blob *s;
	struct blob *c;
	blob_id id;
	int rc;
	blob_op_with_id_complete cb;
	void *cb_arg;
};

static void
clone_done(void *arg)
{
	struct clone_ctx *c = arg;

	c->bs->md_ops_in_flight--;
	c->cb(c->cb_arg, c->rc == 0 ? c->id : BLOB_ID_INVALID, c->rc);
	free(c);
}

static void
clone_dropped(void *arg, int rc)
{
	clone_done(arg);
}

static void
clone_persisted(void *arg, int rc)
{
	struct clone_ctx *c = arg;
	struct blob *blob = c->c;

	if (rc != 0) {
		LOG_ERR("blobstore: clone of 0x%" PRIx64 " failed: %d\n", c->s->id, rc);
		c->rc = rc;
		/* Owns nothing; its root may or may not be on disk: delete it
		 * (the delete drops its reference on the snapshot). */
		blob_delete_opened(blob, clone_dropped, c);
		return;
	}
	c->id = blob->id;
	bs_parent_index_set(c->bs, blob->id, c->s->id);
	close_then(blob, NULL, NULL, clone_done, c);
}

static void
clone_s_opened(void *arg, struct blob *s, int rc)
{
	struct clone_ctx *c = arg;
	struct blob *blob;

	if (rc != 0) {
		c->rc = rc;
		clone_done(c);
		return;
	}
	c->s = s;
	if (s->snap_priv != NULL) {
		/* A snapshot still being made, or being merged away. */
		c->rc = -EBUSY;
		close_then(s, NULL, NULL, clone_done, c);
		return;
	}
	if (!s->data_ro) {
		c->rc = -EINVAL;
		close_then(s, NULL, NULL, clone_done, c);
		return;
	}
	rc = new_blob(c->bs, s->format, s->active.num_clusters,
		      s->md_ro_flags & BSF_MD_RO_CLEAR_METHOD_MASK, c->xattrs, BSF_XATTR_SNAP,
		      s->id, &blob);
	if (rc != 0) {
		c->rc = rc;
		close_then(s, NULL, NULL, clone_done, c);
		return;
	}
	/* Our reference on S becomes the clone's parent reference. */
	blob->parent = s;
	blob->parent_id = s->id;
	c->c = blob;
	blob_persist(blob, clone_persisted, c);
}

void
bs_create_clone(struct blob_store *bs, blob_id snapshot_id,
		const struct blob_xattr_opts *clone_xattrs, blob_op_with_id_complete cb,
		void *cb_arg)
{
	struct clone_ctx *c;

	assert(bs_on_md_thread(bs));
	if (!new_blob_op_allowed(bs, clone_xattrs, cb, cb_arg))
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		blob_id_complete_later(cb, cb_arg, BLOB_ID_INVALID, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->xattrs = clone_xattrs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	bs->md_ops_in_flight++;
	bs_open_blob(bs, snapshot_id, clone_s_opened, c);
}

/* ---- re-pointing a blob's back device (inflate, decouple, set parent) ------------------------ */

/*
 * The back device of a thin blob, as its metadata and its handle see it:
 * SNAP (and the open parent it names), or EXTSNAP with the EXTERNAL_SNAPSHOT
 * flag (and the external device), or neither (zeroes); and THIN_PROV.
 */
struct back {
	bool thick;                     /* clear THIN_PROV (inflate) */
	struct blob *parent;            /* one reference */
	blob_id parent_id;
	uint8_t *extsnap;               /* malloc'd copy, or NULL */
	uint16_t extsnap_len;
	struct bs_dev *dev;
	int esnap_rc;
};

static void
back_free(struct back *bk)
{
	free(bk->extsnap);
	bk->extsnap = NULL;
}

/* Saves blob's current back device into *bk (the handle's references move there on apply). */
static int
back_save(struct blob *blob, struct back *bk)
{
	const void *v;
	size_t len;

	memset(bk, 0, sizeof(*bk));
	bk->thick = !blob_is_thin(blob);
	bk->parent = blob->parent;
	bk->parent_id = blob->parent_id;
	bk->dev = blob->back_bs_dev;
	bk->esnap_rc = blob->esnap_rc;
	if ((blob->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT) &&
	    blob_get_xattr_internal(blob, BSF_XATTR_EXTSNAP, &v, &len) == 0) {
		bk->extsnap = malloc(len ? len : 1);
		if (bk->extsnap == NULL)
			return -ENOMEM;
		memcpy(bk->extsnap, v, len);
		bk->extsnap_len = (uint16_t)len;
	}
	return 0;
}

/*
 * Makes *bk the blob's back device, in memory (I/O frozen): xattrs, flags,
 * handle pointers, parent index. The blob's previous parent reference and
 * device are NOT released (the caller saved them with back_save). On
 * -ENOMEM nothing is changed... except xattrs, which back_apply of the
 * saved state restores.
 */
static int
back_apply(struct blob *blob, const struct back *bk)
{
	int rc = 0;

	remove_internal_if_present(blob, BSF_XATTR_SNAP);
	remove_internal_if_present(blob, BSF_XATTR_EXTSNAP);
	if (bk->parent_id != BLOB_ID_INVALID)
		rc = set_id_xattr(blob, BSF_XATTR_SNAP, bk->parent_id);
	if (rc == 0 && bk->extsnap != NULL)
		rc = blob_set_xattr_internal(blob, BSF_XATTR_EXTSNAP, bk->extsnap, bk->extsnap_len);
	if (rc != 0)
		return rc;
	if (bk->extsnap != NULL)
		blob->invalid_flags |= BSF_INVALID_EXTERNAL_SNAPSHOT;
	else
		blob->invalid_flags &= ~BSF_INVALID_EXTERNAL_SNAPSHOT;
	if (bk->thick)
		blob->invalid_flags &= ~BSF_INVALID_THIN_PROV;
	else
		blob->invalid_flags |= BSF_INVALID_THIN_PROV;
	blob->parent = bk->parent;
	blob->parent_id = bk->parent_id;
	blob->back_bs_dev = bk->dev;
	blob->esnap_rc = bk->esnap_rc;
	blob_md_changed(blob);
	bs_parent_index_set(blob->bs, blob->id, bk->parent_id);
	return 0;
}

/*
 * One re-pointing: freeze the blob's I/O, apply the new back device,
 * persist (THE COMMIT), thaw, then release the old parent reference and
 * device. If the persist wrote nothing, the old back device is restored
 * and the new one released instead (the caller's device excepted: on
 * failure it stays the caller's). If it failed with a device error the
 * commit may have landed: memory keeps the new state (the old parent and
 * device are let go, which frees nothing on disk) and the error is
 * reported; the next load reads whichever root is on disk.
 */
struct repoint {
	struct blob *blob;
	struct back old, new;
	bool keep_new_dev;              /* the caller's device: not ours to destroy on failure */
	bool new_kept;                  /* memory holds the new state */
	/* Run with I/O frozen before anything changes: non-zero aborts (e.g.
	 * -EAGAIN: inflate finds a slot still to copy). May be NULL. */
	int (*check)(void *arg);
	int rc;
	void (*done)(void *arg, int rc);
	void *arg;
};

static void
repoint_finish(struct repoint *r)
{
	struct blob_store *bs = r->blob->bs;
	struct back *gone = r->new_kept ? &r->old : &r->new;

	if (gone->parent != NULL)
		blob_close(gone->parent, bs_noop_complete, NULL);
	if (gone->dev != NULL && !(gone == &r->new && r->keep_new_dev))
		back_dev_release(bs, gone->dev);
	back_free(&r->old);
	back_free(&r->new);
	r->done(r->arg, r->rc);
	free(r);
}

static void
repoint_thawed(void *arg, int rc)
{
	repoint_finish(arg);
}

static void
repoint_persisted(void *arg, int rc)
{
	struct repoint *r = arg;

	/* The caller's device (set external parent) must stay the caller's on
	 * any failure, so that case restores memory even after a device error
	 * (the next load reads whichever root is on disk). */
	if (rc != 0 && (rc_nothing_written(rc) || r->keep_new_dev)) {
		int rc2 = back_apply(r->blob, &r->old);

		if (rc2 != 0)
			LOG_ERR("blobstore: blob 0x%" PRIx64 ": cannot restore its parent: %d\n",
				r->blob->id, rc2);
		r->new_kept = false;
	} else if (rc != 0) {
		LOG_ERR("blobstore: blob 0x%" PRIx64 ": re-pointing persist failed: %d\n",
			r->blob->id, rc);
	}
	r->rc = rc;
	blob_unfreeze_io(r->blob, repoint_thawed, r);
}

static void
repoint_frozen(void *arg, int rc)
{
	struct repoint *r = arg;

	if (rc != 0) {
		r->rc = rc;
		repoint_finish(r);
		return;
	}
	rc = r->check != NULL ? r->check(r->arg) : 0;
	if (rc != 0) {
		r->rc = rc;
		blob_unfreeze_io(r->blob, repoint_thawed, r);
		return;
	}
	rc = back_apply(r->blob, &r->new);
	if (rc != 0) {
		(void)back_apply(r->blob, &r->old);
		r->rc = rc;
		blob_unfreeze_io(r->blob, repoint_thawed, r);
		return;
	}
	r->new_kept = true;
	blob_persist(r->blob, repoint_persisted, r);
}

static void
repoint_later(void *arg, int rc)
{
	struct repoint *r = arg;

	r->rc = rc;
	repoint_finish(r);
}

/*
 * Starts re-pointing `blob` to *nb (whose parent reference, extsnap copy
 * and device move into the operation; *nb is cleared). done(arg, rc)
 * runs later, with the blob still held by the caller.
 */
static void
repoint_start(struct blob *blob, struct back *nb, bool keep_dev, int (*check)(void *arg),
	      void (*done)(void *arg, int rc), void *arg)
{
	struct repoint *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL) {
		if (nb->parent != NULL)
			blob_close(nb->parent, bs_noop_complete, NULL);
		if (nb->dev != NULL && !keep_dev)
			back_dev_release(blob->bs, nb->dev);
		back_free(nb);
		bs_complete_later(done, arg, -ENOMEM);
		return;
	}
	r->blob = blob;
	r->new = *nb;
	memset(nb, 0, sizeof(*nb));
	r->keep_new_dev = keep_dev;
	r->check = check;
	r->done = done;
	r->arg = arg;
	rc = back_save(blob, &r->old);
	if (rc != 0) {
		/* old holds nothing to release: parent / dev pointers are the blob's. */
		r->old.parent = NULL;
		r->old.dev = NULL;
		bs_complete_later(repoint_later, r, rc);
		return;
	}
	blob_freeze_io(blob, repoint_frozen, r);
}

/* ---- set parent / set external parent (spec §5.7) ---------------------------------------- */

struct setp_ctx {
	struct blob_store *bs;
	blob_id id;
	blob_id snap_id;
	struct blob *blob;
	struct blob *snap;              /* opened; becomes the blob's parent reference */
	struct back nb;
	bool keep_dev;
	int rc;
	blob_op_complete cb;
	void *cb_arg;
};

static void
setp_done(void *arg)
{
	struct setp_ctx *c = arg;

	c->bs->md_ops_in_flight--;
	back_free(&c->nb);
	c->cb(c->cb_arg, c->rc);
	free(c);
}

static void
setp_finish(struct setp_ctx *c)
{
	if (c->blob != NULL && c->blob->snap_priv == c)
		c->blob->snap_priv = NULL;
	close_then(c->blob, c->snap, NULL, setp_done, c);
}

static void
setp_repointed(void *arg, int rc)
{
	struct setp_ctx *c = arg;

	c->rc = rc;
	c->snap = NULL;                 /* moved into the repoint (kept or closed there) */
	setp_finish(c);
}

/* True if `snap`'s chain of parents contains `id` (a cycle in the making). */
static bool
chain_contains(struct blob_store *bs, blob_id snap, blob_id id)
{
	blob_id cur = snap;

	for (uint32_t steps = 0; cur != BLOB_ID_INVALID && steps <= bs->layout.md_len; steps++) {
		if (cur == id)
			return true;
		cur = bs_parent_index_get(bs, cur);
	}
	return cur != BLOB_ID_INVALID;  /* a loop already: refuse */
}

/* Common checks of the blob being given a new parent. */
static int
setp_check_blob(struct setp_ctx *c)
{
	struct blob *blob = c->blob;

	if (blob->snap_priv != NULL)
		return -EBUSY;
	if (blob->md_ro || blob->data_ro)
		return -EPERM;
	if (!blob_is_thin(blob))
		return -EINVAL;
	return 0;
}

static void
setp_snap_opened(void *arg, struct blob *snap, int rc)
{
	struct setp_ctx *c = arg;

	if (rc != 0) {
		c->rc = rc == -ENOENT ? -EINVAL : rc;
		setp_finish(c);
		return;
	}
	c->snap = snap;
	if (!snap->data_ro || snap->snap_priv != NULL ||
	    snap->active.num_clusters != c->blob->active.num_clusters ||
	    chain_contains(c->bs, snap->id, c->blob->id)) {
		c->rc = snap->snap_priv != NULL ? -EBUSY : -EINVAL;
		setp_finish(c);
		return;
	}
	c->nb.parent = snap;
	c->nb.parent_id = snap->id;
	c->blob->snap_priv = c;
	repoint_start(c->blob, &c->nb, false, NULL, setp_repointed, c);
}

static void
setp_blob_opened(void *arg, struct blob *blob, int rc)
{
	struct setp_ctx *c = arg;

	if (rc != 0) {
		c->rc = rc;
		setp_done(c);
		return;
	}
	c->blob = blob;
	c->rc = setp_check_blob(c);
	if (c->rc == 0 && blob->parent_id == c->snap_id)
		c->rc = -EEXIST;
	if (c->rc != 0) {
		setp_finish(c);
		return;
	}
	bs_open_blob(c->bs, c->snap_id, setp_snap_opened, c);
}

void
bs_blob_set_parent(struct blob_store *bs, blob_id id, blob_id snapshot_id, blob_op_complete cb,
		   void *cb_arg)
{
	struct setp_ctx *c;

	assert(bs_on_md_thread(bs));
	if (id == snapshot_id || snapshot_id == BLOB_ID_INVALID || id == BLOB_ID_INVALID) {
		bs_complete_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (bs->unloading) {
		bs_complete_later(cb, cb_arg, -EBUSY);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->id = id;
	c->snap_id = snapshot_id;
	c->cb = cb;
	c->cb_arg = cb_arg;
	c->nb.parent_id = BLOB_ID_INVALID;
	bs->md_ops_in_flight++;
	bs_open_blob(bs, id, setp_blob_opened, c);
}

static void
setx_repointed(void *arg, int rc)
{
	struct setp_ctx *c = arg;

	c->rc = rc;
	setp_finish(c);
}

static void
setx_blob_opened(void *arg, struct blob *blob, int rc)
{
	struct setp_ctx *c = arg;
	const void *v;
	size_t len;

	if (rc != 0) {
		c->rc = rc;
		setp_done(c);
		return;
	}
	c->blob = blob;
	c->rc = setp_check_blob(c);
	if (c->rc == 0 && blob_is_esnap_clone(blob) &&
	    blob_get_xattr_internal(blob, BSF_XATTR_EXTSNAP, &v, &len) == 0 &&
	    len == c->nb.extsnap_len && memcmp(v, c->nb.extsnap, len) == 0)
		c->rc = -EEXIST;
	if (c->rc != 0) {
		setp_finish(c);
		return;
	}
	blob->snap_priv = c;
	/* The device becomes the blob's on success; on failure it stays the caller's. */
	repoint_start(blob, &c->nb, true, NULL, setx_repointed, c);
}

void
bs_blob_set_external_parent(struct blob_store *bs, blob_id id, struct bs_dev *esnap_dev,
			    const void *esnap_id, uint32_t id_len, blob_op_complete cb,
			    void *cb_arg)
{
	struct setp_ctx *c;

	assert(bs_on_md_thread(bs));
	if (esnap_dev == NULL || esnap_id == NULL || id_len == 0 ||
	    id_len > BSF_XATTR_MAX_NAME_VALUE - strlen(BSF_XATTR_EXTSNAP) ||
	    esnap_dev->blocklen == 0 || bs->io_unit_size % esnap_dev->blocklen != 0) {
		bs_complete_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (bs->unloading) {
		bs_complete_later(cb, cb_arg, -EBUSY);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->nb.extsnap = malloc(id_len);
	if (c->nb.extsnap == NULL) {
		free(c);
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	memcpy(c->nb.extsnap, esnap_id, id_len);
	c->nb.extsnap_len = (uint16_t)id_len;
	c->nb.parent_id = BLOB_ID_INVALID;
	c->nb.dev = esnap_dev;
	c->bs = bs;
	c->id = id;
	c->cb = cb;
	c->cb_arg = cb_arg;
	bs->md_ops_in_flight++;
	bs_open_blob(bs, id, setx_blob_opened, c);
}

/* ---- a missing external snapshot arrives (blob_esnap_attach) -------------------------------- */

/*
 * An esnap clone whose device did not open keeps back_bs_dev NULL (its
 * reads of what it does not own fail -ENODEV, io.c). When the device turns
 * up later the application hands it over here. Nothing on disk changes:
 * EXTSNAP already names the device, so there is nothing to commit and no
 * crash-safety argument beyond "no write".
 *
 * The pointer is set with the blob's I/O frozen, as every back-device
 * change is (see the invariants at the top). Blobs that read through this
 * one (its clones, when it is a snapshot) are not frozen: their I/O
 * threads see either NULL, and fail that read with -ENODEV as before, or
 * the device, complete (a release store publishes it). The channels need
 * nothing: they open a channel on a back device the first time a read
 * needs it (request.c), keyed by the device, and never cached one for the
 * NULL device.
 */
struct esnap_attach {
	struct blob *blob;
	struct bs_dev *dev;
	blob_op_complete cb;
	void *cb_arg;
};

static void
esnap_attach_finish(struct esnap_attach *a, int rc)
{
	a->blob->snap_priv = NULL;
	a->blob->bs->md_ops_in_flight--;
	a->cb(a->cb_arg, rc);
	free(a);
}

static void
esnap_attach_thawed(void *arg, int rc)
{
	struct esnap_attach *a = arg;

	/* An unfreeze that ran out of memory still thawed (request.c): held
	 * I/O restarts with the channel's next I/O. The device is attached. */
	if (rc != 0)
		LOG_WARN("blobstore: blob 0x%" PRIx64 ": thaw after attaching its external "
			 "snapshot: %d\n", a->blob->id, rc);
	esnap_attach_finish(a, 0);
}

static void
esnap_attach_frozen(void *arg, int rc)
{
	struct esnap_attach *a = arg;
	struct blob *blob = a->blob;

	if (rc != 0) {
		/* Nothing changed: the device is still the caller's. */
		esnap_attach_finish(a, rc);
		return;
	}
	__atomic_store_n(&blob->back_bs_dev, a->dev, __ATOMIC_RELEASE);
	blob->esnap_rc = 0;
	blob_unfreeze_io(blob, esnap_attach_thawed, a);
}

void
blob_esnap_attach(struct blob *blob, struct bs_dev *dev, blob_op_complete cb, void *cb_arg)
{
	struct blob_store *bs;
	struct esnap_attach *a;

	if (blob == NULL || dev == NULL) {
		LOG_ERR("blobstore: esnap attach without a blob or a device\n");
		bs_complete_later(cb, cb_arg, -EINVAL);
		return;
	}
	bs = blob->bs;
	assert(bs_on_md_thread(bs));
	if (!blob_is_esnap_clone(blob) || blob->back_bs_dev != NULL ||
	    dev->blocklen == 0 || bs->io_unit_size % dev->blocklen != 0) {
		/* Only a device the blob is missing, that can serve its io units (spec §5.3). */
		bs_complete_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (bs->unloading || blob->snap_priv != NULL) {
		bs_complete_later(cb, cb_arg, -EBUSY);
		return;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	a->blob = blob;
	a->dev = dev;
	a->cb = cb;
	a->cb_arg = cb_arg;
	/* One operation of this file per blob: a snapshot moving the EXTSNAP
	 * away meanwhile would leave the device on the wrong blob. */
	blob->snap_priv = a;
	bs->md_ops_in_flight++;
	blob_freeze_io(blob, esnap_attach_frozen, a);
}

/* ---- inflate and decouple (spec §5.6) ----------------------------------------------------- */

#define INFLATE_MAX_PASSES 8

struct infl_ctx {
	struct blob_store *bs;
	struct io_channel *ch;
	bool all;                       /* inflate (else decouple) */
	struct blob *blob;
	struct blob *parent;            /* the parent P at the start (the blob's handle) */
	uint64_t slot;
	uint32_t passes;
	struct back nb;                 /* where the blob points afterwards */
	int rc;
	blob_op_complete cb;
	void *cb_arg;
};

static void
infl_done(void *arg)
{
	struct infl_ctx *c = arg;

	c->bs->md_ops_in_flight--;
	if (c->nb.parent != NULL)
		blob_close(c->nb.parent, bs_noop_complete, NULL);
	if (c->nb.dev != NULL)
		back_dev_release(c->bs, c->nb.dev);
	back_free(&c->nb);
	c->cb(c->cb_arg, c->rc);
	free(c);
}

static void
infl_finish(struct infl_ctx *c)
{
	if (c->blob != NULL && c->blob->snap_priv == c)
		c->blob->snap_priv = NULL;
	close_then(c->blob, NULL, NULL, infl_done, c);
}

/* Does slot k still need a cluster of its own? */
static bool
infl_needs(const struct infl_ctx *c, uint64_t k)
{
	const struct blob *blob = c->blob, *p = c->parent;

	if (blob->active.clusters[k] != 0)
		return false;
	if (c->all)
		return true;
	return p != NULL && k < p->active.num_clusters && p->active.clusters[k] != 0;
}

/* Under the repoint's freeze: is every slot that needs a cluster allocated? */
static int
infl_check(void *arg)
{
	struct infl_ctx *c = arg;

	for (uint64_t k = 0; k < c->blob->active.num_clusters; k++) {
		if (infl_needs(c, k))
			return -EAGAIN;
	}
	/* Decouple: the parent must still be the one we copied from. */
	if (!c->all && c->blob->parent != c->parent)
		return -EBUSY;
	return 0;
}

static void infl_next(struct infl_ctx *c);

static void
infl_repointed(void *arg, int rc)
{
	struct infl_ctx *c = arg;

	if (rc == -EAGAIN && ++c->passes < INFLATE_MAX_PASSES) {
		/* Resized or unmapped while we copied: copy what is missing. */
		c->slot = 0;
		infl_next(c);
		return;
	}
	c->rc = rc == -EAGAIN ? -EBUSY : rc;
	infl_finish(c);
}

static void
infl_repoint(struct infl_ctx *c)
{
	struct blob *p = c->parent;
	const void *v;
	size_t len;

	memset(&c->nb, 0, sizeof(c->nb));
	c->nb.parent_id = BLOB_ID_INVALID;
	if (c->all) {
		c->nb.thick = true;
	} else if (p != NULL && p->parent != NULL) {
		/* Decouple: the grandparent. Its handle is open (P holds it). */
		c->nb.parent = p->parent;
		c->nb.parent_id = p->parent->id;
		p->parent->ref++;
	} else if (p != NULL && blob_is_esnap_clone(p) &&
		   blob_get_xattr_internal(p, BSF_XATTR_EXTSNAP, &v, &len) == 0) {
		/*
		 * Decouple from an esnap clone: the clone keeps reading what P
		 * read from the external snapshot, so it becomes an esnap clone
		 * of the same device (as SPDK does). Its own device comes from
		 * the application, as at open.
		 */
		c->nb.extsnap = malloc(len ? len : 1);
		if (c->nb.extsnap == NULL) {
			c->rc = -ENOMEM;
			infl_finish(c);
			return;
		}
		memcpy(c->nb.extsnap, v, len);
		c->nb.extsnap_len = (uint16_t)len;
		c->nb.esnap_rc = -ENODEV;
		if (c->bs->opts.esnap_bs_dev_create != NULL) {
			bs_esnap_dev_create fn = c->bs->opts.esnap_bs_dev_create;

			c->nb.esnap_rc = fn(c->bs->opts.esnap_ctx, NULL, c->blob, v, (uint32_t)len,
					    &c->nb.dev);
			if (c->nb.esnap_rc != 0)
				c->nb.dev = NULL;
		}
	}
	repoint_start(c->blob, &c->nb, false, infl_check, infl_repointed, c);
}

static void
infl_copied(void *arg, int rc)
{
	struct infl_ctx *c = arg;

	if (rc != 0) {
		/* Each copy committed on its own: the blob is consistent, with
		 * some clusters of its own, still reading through its parent. */
		LOG_ERR("blobstore: %s of blob 0x%" PRIx64 ": copy of slot %" PRIu64
			" failed: %d\n", c->all ? "inflate" : "decouple", c->blob->id, c->slot, rc);
		c->rc = rc;
		infl_finish(c);
		return;
	}
	c->slot++;
	infl_next(c);
}

static void
infl_next(struct infl_ctx *c)
{
	struct blob *blob = c->blob;

	while (c->slot < blob->active.num_clusters) {
		if (infl_needs(c, c->slot)) {
			blob_cluster_allocate_and_copy(blob, c->ch, c->slot, infl_copied, c);
			return;
		}
		c->slot++;
	}
	infl_repoint(c);
}

static void
infl_opened(void *arg, struct blob *blob, int rc)
{
	struct infl_ctx *c = arg;

	if (rc != 0) {
		c->rc = rc;
		infl_done(c);
		return;
	}
	c->blob = blob;
	if (blob->snap_priv != NULL) {
		c->rc = -EBUSY;
	} else if (blob->md_ro || blob->data_ro) {
		c->rc = -EPERM;
	} else if (!c->all && blob->parent_id == BLOB_ID_INVALID && !blob_is_esnap_clone(blob)) {
		/* Nothing to decouple from (SPDK: -EINVAL). */
		c->rc = -EINVAL;
	} else if (!blob_is_thin(blob)) {
		/* Already owns every cluster. */
		c->rc = 0;
	} else {
		/* Esnap clones are always inflated (spec §5.6). */
		if (blob_is_esnap_clone(blob))
			c->all = true;
		c->parent = blob->parent;
		blob->snap_priv = c;
		infl_next(c);
		return;
	}
	infl_finish(c);
}

static void
inflate_or_decouple(struct blob_store *bs, struct io_channel *ch, blob_id id, bool all,
		    blob_op_complete cb, void *cb_arg)
{
	struct infl_ctx *c;

	assert(bs_on_md_thread(bs));
	if (ch == NULL) {
		bs_complete_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (bs->unloading) {
		bs_complete_later(cb, cb_arg, -EBUSY);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->ch = ch;
	c->all = all;
	c->cb = cb;
	c->cb_arg = cb_arg;
	c->nb.parent_id = BLOB_ID_INVALID;
	bs->md_ops_in_flight++;
	bs_open_blob(bs, id, infl_opened, c);
}

/*
 * ch must be a blob channel of the md thread (the copies complete on its
 * thread, and this operation runs on the md thread).
 */
void
bs_inflate_blob(struct blob_store *bs, struct io_channel *ch, blob_id id, blob_op_complete cb,
		void *cb_arg)
{
	inflate_or_decouple(bs, ch, id, true, cb, cb_arg);
}

void
bs_blob_decouple_parent(struct blob_store *bs, struct io_channel *ch, blob_id id,
			blob_op_complete cb, void *cb_arg)
{
	inflate_or_decouple(bs, ch, id, false, cb, cb_arg);
}

/* ---- delete of a snapshot with one clone (spec §6.6, merge) ------------------------------ */

/* A saved copy of a blob's map, for the rollback of a merge that wrote nothing. */
struct map_copy {
	uint64_t num_clusters;
	uint32_t *clusters;
	uint32_t num_extent_pages;
	uint32_t *extent_pages;
	uint8_t *ep_state;
};

static void
map_copy_free(struct map_copy *m)
{
	free(m->clusters);
	free(m->extent_pages);
	free(m->ep_state);
	memset(m, 0, sizeof(*m));
}

static int
map_copy_save(const struct blob *blob, struct map_copy *m)
{
	size_t n = blob->active.num_clusters, g = blob->active.num_extent_pages;

	memset(m, 0, sizeof(*m));
	m->num_clusters = n;
	m->num_extent_pages = (uint32_t)g;
	m->clusters = malloc((n ? n : 1) * sizeof(uint32_t));
	m->extent_pages = malloc((g ? g : 1) * sizeof(uint32_t));
	m->ep_state = malloc(g ? g : 1);
	if (m->clusters == NULL || m->extent_pages == NULL || m->ep_state == NULL) {
		map_copy_free(m);
		return -ENOMEM;
	}
	if (n)
		memcpy(m->clusters, blob->active.clusters, n * sizeof(uint32_t));
	if (g) {
		memcpy(m->extent_pages, blob->active.extent_pages, g * sizeof(uint32_t));
		memcpy(m->ep_state, blob->active.ep_state, g);
	}
	return 0;
}

/* Puts a saved map back (same size: nothing resized it meanwhile). */
static void
map_copy_restore(struct blob *blob, const struct map_copy *m)
{
	for (uint64_t i = 0; i < m->num_clusters && i < blob->active.num_clusters; i++)
		slot_store(blob, i, m->clusters[i]);
	for (uint32_t k = 0; k < m->num_extent_pages && k < blob->active.num_extent_pages; k++) {
		blob->active.extent_pages[k] = m->extent_pages[k];
		blob->active.ep_state[k] = m->ep_state[k];
	}
	blob_md_changed(blob);
}

struct merge_ctx {
	struct blob_store *bs;
	struct blob *s;                 /* the snapshot being deleted (our reference) */
	struct blob *c;                 /* its only clone (our reference) */
	blob_id clone_id;
	bool frozen;
	int rc;
	/* For the rollback of M2. */
	struct map_copy c_saved, s_saved;
	uint64_t c_flags, s_flags;
	struct u32_vec fresh;           /* extent pages claimed for C */
	/*
	 * Frozen while C's map and parent change: every open blob that reads
	 * through S (C, and any blob below C when C is itself a snapshot: I/O
	 * walks the chain through the parent pointers, not through C's
	 * freeze). Each holds one extra reference while listed.
	 */
	struct frz_ent *frz;
	uint32_t nfrz;
	uint32_t frz_pending;
	int frz_rc;
	blob_op_complete frz_done;
	blob_op_complete cb;
	void *cb_arg;
};

static void
merge_free(struct merge_ctx *m)
{
	free(m->frz);
	map_copy_free(&m->c_saved);
	map_copy_free(&m->s_saved);
	u32_vec_free(&m->fresh);
	free(m);
}

static void
merge_done(void *arg)
{
	struct merge_ctx *m = arg;

	m->cb(m->cb_arg, m->rc);
	merge_free(m);
}

static bool
chain_has(const struct blob *b, const struct blob *s)
{
	for (uint32_t d = 0; b != NULL && d <= s->bs->layout.md_len; d++, b = b->parent) {
		if (b == s)
			return true;
	}
	return false;
}

struct frz_ent {
	struct merge_ctx *m;
	struct blob *blob;
	bool frozen;
};

static void
merge_frz_step(struct merge_ctx *m, int rc)
{
	if (rc != 0 && m->frz_rc == 0)
		m->frz_rc = rc;
	if (--m->frz_pending == 0)
		m->frz_done(m, m->frz_rc);
}

static void
merge_frz_one(void *arg, int rc)
{
	struct frz_ent *e = arg;

	e->frozen = rc == 0;
	merge_frz_step(e->m, rc);
}

/* Freezes every open blob reading through S; done(m, rc) when all are. */
static void
merge_freeze_all(struct merge_ctx *m, blob_op_complete done)
{
	struct blob *b;
	uint32_t n = 0;

	TAILQ_FOREACH(b, &m->bs->blobs, link) {
		if (b != m->s && b->state == BLOB_STATE_OPEN && chain_has(b->parent, m->s))
			n++;
	}
	m->frz = calloc(n ? n : 1, sizeof(*m->frz));
	if (m->frz == NULL) {
		bs_complete_later(done, m, -ENOMEM);
		return;
	}
	TAILQ_FOREACH(b, &m->bs->blobs, link) {
		if (b != m->s && b->state == BLOB_STATE_OPEN && chain_has(b->parent, m->s) &&
		    m->nfrz < n) {
			b->ref++;
			m->frz[m->nfrz].m = m;
			m->frz[m->nfrz].blob = b;
			m->nfrz++;
		}
	}
	m->frz_rc = 0;
	m->frz_done = done;
	m->frz_pending = m->nfrz + 1;
	for (uint32_t i = 0; i < m->nfrz; i++)
		blob_freeze_io(m->frz[i].blob, merge_frz_one, &m->frz[i]);
	merge_frz_step(m, 0);
}

static void
merge_frz_closed(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	if (--m->frz_pending == 0)
		m->frz_done(m, 0);
}

static void
merge_unfrz_one(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	if (--m->frz_pending > 0)
		return;
	/* All thawed: drop the references taken for the freeze. */
	m->frz_pending = m->nfrz + 1;
	for (uint32_t i = 0; i < m->nfrz; i++)
		blob_close(m->frz[i].blob, merge_frz_closed, m);
	m->nfrz = 0;
	merge_frz_closed(m, 0);
}

/* Thaws what merge_freeze_all froze; done(m, 0) when all are thawed and released. */
static void
merge_unfreeze_all(struct merge_ctx *m, blob_op_complete done)
{
	m->frz_done = done;
	m->frz_pending = 1;
	for (uint32_t i = 0; i < m->nfrz; i++) {
		if (m->frz[i].frozen) {
			m->frz_pending++;
			m->frz[i].frozen = false;
			blob_unfreeze_io(m->frz[i].blob, merge_unfrz_one, m);
		}
	}
	merge_unfrz_one(m, 0);
}

/* Gives up before M2 committed: S stays (without SNAPRM), C as it was. */
static void
merge_abort(struct merge_ctx *m, int rc)
{
	LOG_ERR("blobstore: delete of snapshot 0x%" PRIx64 " (merge into 0x%" PRIx64 ") failed: "
		"%d\n", m->s->id, m->clone_id, rc);
	m->rc = rc;
	if (m->s->snap_priv == m)
		m->s->snap_priv = NULL;
	if (m->c != NULL && m->c->snap_priv == m)
		m->c->snap_priv = NULL;
	/* The close persists S without SNAPRM (or the fix-up removes it). */
	remove_internal_if_present(m->s, BSF_XATTR_SNAPRM);
	close_then(m->c, m->s, NULL, merge_done, m);
}

static void
merge_s_deleted(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	/* The handle of S is gone, whatever rc says. */
	m->s = NULL;
	if (rc != 0) {
		/* C no longer names S; the fix-up deletes S at the next load. */
		LOG_ERR("blobstore: merged snapshot not deleted: %d\n", rc);
		m->rc = rc;
	}
	close_then(m->c, NULL, NULL, merge_done, m);
}

static void
merge_c_thawed(void *arg, int rc)
{
	struct merge_ctx *m = arg;
	struct blob *s = m->s;

	m->frozen = false;
	m->c->snap_priv = NULL;
	s->snap_priv = NULL;
	if (m->rc != 0) {
		/* M2's outcome is unknown (device error): S keeps its full map so
		 * nothing either outcome names is freed; the fix-up settles it. */
		map_copy_restore(s, &m->s_saved);
		close_then(m->c, s, NULL, merge_done, m);
		return;
	}
	if (s->ref != 1) {
		LOG_ERR("blobstore: snapshot 0x%" PRIx64 " still open: left for the load fix-up\n",
			s->id);
		close_then(m->c, s, NULL, merge_done, m);
		return;
	}
	blob_delete_opened(s, merge_s_deleted, m);      /* M3 */
}

static void
merge_c_rolled_back(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	m->frozen = false;
	merge_abort(m, m->rc);
}

/* Undoes M2's in-memory change (C's persist wrote nothing). */
static void
merge_undo(struct merge_ctx *m)
{
	struct blob *c = m->c, *s = m->s;

	map_copy_restore(c, &m->c_saved);
	map_copy_restore(s, &m->s_saved);
	for (uint32_t i = 0; i < m->fresh.n; i++)
		bs_release_md_page(m->bs, m->fresh.v[i]);
	m->fresh.n = 0;
	/* Back: S's parent reference and device return to S, C reads through S. */
	s->parent = c->parent;
	s->parent_id = c->parent_id;
	s->back_bs_dev = c->back_bs_dev;
	s->esnap_rc = c->esnap_rc;
	c->parent = s;
	c->parent_id = s->id;
	c->back_bs_dev = NULL;
	c->esnap_rc = 0;
	s->ref++;
	remove_internal_if_present(c, BSF_XATTR_EXTSNAP);
	if (set_id_xattr(c, BSF_XATTR_SNAP, s->id) != 0)
		LOG_ERR("blobstore: out of memory restoring SNAP of 0x%" PRIx64 "\n", c->id);
	c->invalid_flags = m->c_flags;
	s->invalid_flags = m->s_flags;
	blob_md_changed(c);
	bs_parent_index_set(m->bs, c->id, s->id);
}

static void
merge_c_persisted(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	if (rc != 0 && rc_nothing_written(rc)) {
		merge_undo(m);
		m->rc = rc;
		merge_unfreeze_all(m, merge_c_rolled_back);
		return;
	}
	if (rc != 0) {
		LOG_ERR("blobstore: merge into 0x%" PRIx64 ": clone persist failed: %d\n", m->c->id,
			rc);
		m->rc = rc;
	}
	merge_unfreeze_all(m, merge_c_thawed);
}

/*
 * Can C (no extent page in group k) take S's page of group k as it is? Only
 * if that page is committed, equal to S's map, and holds as many entries as
 * C's group (C had no cluster in the group, so C's merged group is exactly
 * S's).
 */
static bool
merge_adoptable(const struct blob *c, const struct blob *s, uint32_t k)
{
	return c->format == BSF_EXTENT_TABLE && s->format == BSF_EXTENT_TABLE &&
	       k < s->active.num_extent_pages && s->active.extent_pages[k] != 0 &&
	       s->active.ep_state[k] == EP_COMMITTED &&
	       group_slots(c->active.num_clusters, k) == group_slots(s->active.num_clusters, k);
}

/*
 * M2 in memory (C's I/O frozen, its pending metadata committed): C adopts
 * S's clusters and takes over S's back device; S forgets what C took.
 */
static int
merge_adopt(struct merge_ctx *m)
{
	struct blob *c = m->c, *s = m->s;
	uint64_t n = c->active.num_clusters < s->active.num_clusters ? c->active.num_clusters :
		     s->active.num_clusters;
	bool et = c->format == BSF_EXTENT_TABLE;
	const void *v;
	size_t len;
	int rc;

	/* Fresh extent pages a group of C may need (C had none and S's page
	 * cannot be adopted as it is): claim them first, all or nothing. */
	for (uint32_t k = 0; et && k < bsf_extent_groups(n); k++) {
		bool any = false;
		uint32_t page;

		for (uint64_t i = (uint64_t)k * BSF_EXTENTS_PER_EP;
		     i < n && i < (uint64_t)(k + 1) * BSF_EXTENTS_PER_EP; i++)
			any |= c->active.clusters[i] == 0 && s->active.clusters[i] != 0;
		if (!any || c->active.ep_state[k] != EP_NONE || merge_adoptable(c, s, k))
			continue;
		rc = bs_claim_md_page(m->bs, 1, &page);
		if (rc == 0)
			rc = u32_vec_push(&m->fresh, page);
		if (rc != 0) {
			for (uint32_t i = 0; i < m->fresh.n; i++)
				bs_release_md_page(m->bs, m->fresh.v[i]);
			m->fresh.n = 0;
			return rc;
		}
	}

	/* C's new SNAP / EXTSNAP first (the only step that can fail now). */
	remove_internal_if_present(c, BSF_XATTR_SNAP);
	rc = 0;
	if (s->parent_id != BLOB_ID_INVALID)
		rc = set_id_xattr(c, BSF_XATTR_SNAP, s->parent_id);
	else if (blob_is_esnap_clone(s) &&
		 blob_get_xattr_internal(s, BSF_XATTR_EXTSNAP, &v, &len) == 0)
		rc = blob_set_xattr_internal(c, BSF_XATTR_EXTSNAP, v, (uint16_t)len);
	if (rc != 0) {
		remove_internal_if_present(c, BSF_XATTR_EXTSNAP);
		(void)set_id_xattr(c, BSF_XATTR_SNAP, s->id);
		for (uint32_t i = 0; i < m->fresh.n; i++)
			bs_release_md_page(m->bs, m->fresh.v[i]);
		m->fresh.n = 0;
		return rc;
	}
	if (blob_is_esnap_clone(s) && s->parent_id == BLOB_ID_INVALID)
		c->invalid_flags |= BSF_INVALID_EXTERNAL_SNAPSHOT;

	/* The map. */
	for (uint32_t k = 0, f = 0; k < (et ? bsf_extent_groups(n) : 1); k++) {
		uint64_t lo = et ? (uint64_t)k * BSF_EXTENTS_PER_EP : 0;
		uint64_t hi = et ? lo + BSF_EXTENTS_PER_EP : n;
		bool any = false;

		if (hi > n)
			hi = n;
		for (uint64_t i = lo; i < hi; i++) {
			if (c->active.clusters[i] == 0 && s->active.clusters[i] != 0) {
				slot_store(c, i, s->active.clusters[i]);
				slot_store(s, i, 0);
				any = true;
			}
		}
		if (!any)
			continue;
		if (!et) {
			blob_md_changed(c);
			continue;
		}
		if (c->active.ep_state[k] != EP_NONE) {
			/* Merged copy to a fresh page at the persist (COW). */
			blob_ep_mark_changed(c, k);
		} else if (!merge_adoptable(c, s, k)) {
			assert(f < m->fresh.n);
			c->active.extent_pages[k] = m->fresh.v[f++];
			c->active.ep_state[k] = EP_FRESH;
			blob_md_changed(c);
		} else {
			/* Adopt S's page as it is: it holds exactly these entries
			 * (C had none in this group). S forgets it. */
			c->active.extent_pages[k] = s->active.extent_pages[k];
			c->active.ep_state[k] = EP_COMMITTED;
			s->active.extent_pages[k] = 0;
			s->active.ep_state[k] = EP_NONE;
			blob_md_changed(c);
		}
	}
	/* S's zeroed entries: thin, so that any persist of S stays valid. */
	s->invalid_flags |= BSF_INVALID_THIN_PROV;
	blob_md_changed(s);

	/* Re-point C: S's parent reference and back device move to C. */
	c->parent = s->parent;
	c->parent_id = s->parent_id;
	c->back_bs_dev = s->back_bs_dev;
	c->esnap_rc = s->esnap_rc;
	s->parent = NULL;
	s->back_bs_dev = NULL;
	blob_unref_held(s);             /* C's reference on S */
	bs_parent_index_set(m->bs, c->id, c->parent_id);
	blob_md_changed(c);
	return 0;
}

static void
merge_c_barrier(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	if (rc == 0 && (blob_md_is_dirty(m->c) || m->c->release.clusters.n != 0 ||
			m->c->release.md_pages.n != 0))
		rc = -EBUSY;
	if (rc == 0) {
		m->c_flags = m->c->invalid_flags;
		m->s_flags = m->s->invalid_flags;
		rc = map_copy_save(m->c, &m->c_saved);
		if (rc == 0)
			rc = map_copy_save(m->s, &m->s_saved);
	}
	if (rc == 0)
		rc = merge_adopt(m);
	if (rc != 0) {
		m->rc = rc;
		merge_unfreeze_all(m, merge_c_rolled_back);
		return;
	}
	blob_persist(m->c, merge_c_persisted, m);        /* M2 */
}

static void
merge_c_frozen(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	m->frozen = true;
	if (rc != 0) {
		m->rc = rc;
		merge_unfreeze_all(m, merge_c_rolled_back);
		return;
	}
	blob_persist(m->c, merge_c_barrier, m);
}

static void
merge_s_marked(void *arg, int rc)
{
	struct merge_ctx *m = arg;

	if (rc != 0) {
		merge_abort(m, rc);
		return;
	}
	/* Freeze C (and whatever reads through S) before queueing metadata
	 * work on C. */
	merge_freeze_all(m, merge_c_frozen);
}

static void
merge_c_opened(void *arg, struct blob *c, int rc)
{
	struct merge_ctx *m = arg;
	struct blob *s = m->s;

	if (rc != 0) {
		m->rc = rc;
		close_then(s, NULL, NULL, merge_done, m);
		return;
	}
	m->c = c;
	if (c->parent != s || s->snap_priv != NULL || c->snap_priv != NULL) {
		m->rc = c->parent != s ? -EINVAL : -EBUSY;
		close_then(c, s, NULL, merge_done, m);
		return;
	}
	s->snap_priv = m;
	c->snap_priv = m;
	rc = set_id_xattr(s, BSF_XATTR_SNAPRM, c->id);
	if (rc != 0) {
		merge_abort(m, rc);
		return;
	}
	blob_persist(s, merge_s_marked, m);              /* M1 */
}

void
snapshot_delete_merge(struct blob *snap, blob_id clone_id, blob_op_complete cb, void *cb_arg)
{
	struct merge_ctx *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		blob_close(snap, bs_noop_complete, NULL);
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	m->bs = snap->bs;
	m->s = snap;
	m->clone_id = clone_id;
	m->cb = cb;
	m->cb_arg = cb_arg;
	bs_open_blob(snap->bs, clone_id, merge_c_opened, m);
}

/* ---- load-time fix-up (spec §6.10) ---------------------------------------------------------- */

struct fixup_ctx {
	struct blob_store *bs;
	uint32_t page;                  /* next candidate root page */
	struct blob *s;
	struct blob *b;
	blob_id b_id;
	uint32_t kept, deleted, skipped;
	bs_op_complete cb;
	void *cb_arg;
};

static void fixup_next(struct fixup_ctx *f);

static void
fixup_step_done(void *arg)
{
	struct fixup_ctx *f = arg;

	f->s = NULL;
	f->b = NULL;
	fixup_next(f);
}

static void
fixup_deleted(void *arg, int rc)
{
	struct fixup_ctx *f = arg;

	if (rc != 0)
		LOG_ERR("blobstore: fix-up: deleting unfinished snapshot failed: %d\n", rc);
	else
		f->deleted++;
	fixup_step_done(f);
}

static void
fixup_b_closed(void *arg)
{
	struct fixup_ctx *f = arg;
	struct blob *s = f->s;

	if (s->ref != 1) {
		LOG_ERR("blobstore: fix-up: snapshot 0x%" PRIx64 " is in use: left as it is\n",
			s->id);
		f->skipped++;
		close_then(s, NULL, NULL, fixup_step_done, f);
		return;
	}
	blob_delete_opened(s, fixup_deleted, f);
}

static void
fixup_kept(void *arg, int rc)
{
	struct fixup_ctx *f = arg;

	if (rc != 0)
		LOG_ERR("blobstore: fix-up: snapshot 0x%" PRIx64 " not saved: %d\n", f->s->id, rc);
	else
		f->kept++;
	close_then(f->b, f->s, NULL, fixup_step_done, f);
}

static void
fixup_b_opened(void *arg, struct blob *b, int rc)
{
	struct fixup_ctx *f = arg;
	struct blob *s = f->s;

	if (rc != 0 && rc != -ENOENT) {
		/* We cannot know what B owns: touching S could free it. */
		LOG_ERR("blobstore: fix-up: blob 0x%" PRIx64 " named by unfinished snapshot 0x%"
			PRIx64 " does not open (%d): left as it is\n", f->b_id, s->id, rc);
		f->skipped++;
		close_then(s, NULL, NULL, fixup_step_done, f);
		return;
	}
	f->b = rc == 0 ? b : NULL;
	if (f->b != NULL && b->parent_id == s->id) {
		/* The creation reached C3, or the deletion did not reach M2: keep S. */
		LOG_NOTICE("blobstore: fix-up: keeping snapshot 0x%" PRIx64 "\n", s->id);
		remove_internal_if_present(s, BSF_XATTR_SNAPTMP);
		remove_internal_if_present(s, BSF_XATTR_SNAPRM);
		s->data_ro_flags |= BSF_DATA_RO_READ_ONLY;
		blob_md_changed(s);
		blob_persist(s, fixup_kept, f);
		return;
	}
	/* Otherwise S goes, without what B names. */
	LOG_NOTICE("blobstore: fix-up: removing unfinished snapshot 0x%" PRIx64 "\n", s->id);
	rc = map_forget_shared(s, f->b);
	if (rc != 0) {
		f->skipped++;
		close_then(f->b, s, NULL, fixup_step_done, f);
		return;
	}
	if (f->b != NULL) {
		close_then(f->b, NULL, NULL, fixup_b_closed, f);
		return;
	}
	fixup_b_closed(f);
}

static void
fixup_s_opened(void *arg, struct blob *s, int rc)
{
	struct fixup_ctx *f = arg;

	if (rc != 0) {
		LOG_ERR("blobstore: fix-up: unfinished snapshot 0x%" PRIx64 " does not open: %d\n",
			bsf_page_to_blobid(f->page - 1), rc);
		f->skipped++;
		fixup_next(f);
		return;
	}
	f->s = s;
	f->b_id = get_id_xattr(s, BSF_XATTR_SNAPTMP);
	if (f->b_id == BLOB_ID_INVALID)
		f->b_id = get_id_xattr(s, BSF_XATTR_SNAPRM);
	if (f->b_id == BLOB_ID_INVALID || f->b_id == s->id) {
		/* Neither marker (well formed): not ours to judge. */
		f->skipped++;
		close_then(s, NULL, NULL, fixup_step_done, f);
		return;
	}
	bs_open_blob(f->bs, f->b_id, fixup_b_opened, f);
}

static void
fixup_next(struct fixup_ctx *f)
{
	struct blob_store *bs = f->bs;
	uint32_t page = f->page < bs->layout.md_len ?
			bit_array_find_first_set(bs->snap_pending, f->page) : UINT32_MAX;
	bs_op_complete cb;
	void *cb_arg;

	if (page == UINT32_MAX || page >= bs->layout.md_len) {
		if (f->kept + f->deleted + f->skipped > 0)
			LOG_NOTICE("blobstore: fix-up: %u snapshot(s) finished, %u removed, "
				   "%u left\n", f->kept, f->deleted, f->skipped);
		bit_array_free(&bs->snap_pending);
		cb = f->cb;
		cb_arg = f->cb_arg;
		free(f);
		cb(cb_arg, 0);
		return;
	}
	bit_array_clear(bs->snap_pending, page);
	f->page = page + 1;
	bs_open_blob(bs, bsf_page_to_blobid(page), fixup_s_opened, f);
}

static void
fixup_start(void *arg, int rc)
{
	fixup_next(arg);
}

void
snapshot_fixup_after_load(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	struct fixup_ctx *f;

	if (bs->snap_pending == NULL || bit_array_count_set(bs->snap_pending) == 0) {
		bs_complete_later(cb, cb_arg, 0);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	f->bs = bs;
	f->cb = cb;
	f->cb_arg = cb_arg;
	/* Later, so the load's callback never runs inside this call. */
	bs_complete_later(fixup_start, f, 0);
}
