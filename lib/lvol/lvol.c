/*
 * lib/lvol/lvol.c: the life of an lvol: create, rename, resize, set
 * read-only, destroy, consumer open/close, lookups and getters. Making
 * lvols from other lvols (snapshot, clone, esnap clone) and changing
 * parents is lineage.c.
 *
 * On-disk (spec §7.2): every blob other than the super blob is an lvol,
 * with application xattrs "name" (64 bytes, NUL-padded, at creation;
 * strlen + 1 after a rename) and "uuid" (37 bytes). Everything else (size,
 * thin, read-only, parent, clear method) is the blob's own.
 *
 * Crash safety ("every lvol fully there or fully absent", issue 5):
 *  create   bs_create_blob with both xattrs in blob_opts.xattrs: the blob
 *           and its identity are written by the same root-page commit. A
 *           crash before it leaves nothing; after it, a complete lvol. No
 *           nameless blob can ever exist (which would fail the whole
 *           store's load, spec §7.2).
 *  rename   One set_xattr and one blob_sync_md: old name or new, on disk.
 *  resize   One blob_resize and one blob_sync_md (the blobstore makes the
 *           resize persist crash-safe, spec §10.6).
 *  read-only  One flag and one blob_sync_md.
 *  destroy  bs_delete_blob, whose root-page zeroing is the commit.
 *
 * Invariants:
 *  - a live lvol (on lvs->lvols) holds one blob reference (lvol->blob),
 *    except transiently inside a destroy (destroying = true);
 *  - lvs->by_name and lvs->by_id index exactly the live lvols; the global
 *    UUID index holds the live lvols of registered stores that have a UUID;
 *  - an operation in flight on an lvol is counted in lvol->ops and in
 *    lvs->ops; destroy and unload refuse (-EBUSY) while any is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"

#include "lvol_internal.h"

/* Every lvol of every registered store that has a UUID, by UUID. */
static struct lv_htable g_uuid_index;

static const char *const g_lvol_xattr_names[] = { LVOL_XATTR_NAME, LVOL_XATTR_UUID };

/* ---- names ------------------------------------------------------------------------------------- */

bool
lvol_name_in_use(const struct lvol_store *lvs, const char *name)
{
	const struct lv_name_resv *r;

	if (lvol_get_by_name((struct lvol_store *)lvs, name) != NULL)
		return true;
	TAILQ_FOREACH(r, &lvs->name_resv, link) {
		if (strcmp(r->name, name) == 0)
			return true;
	}
	return false;
}

void
lvol_reserve_name(struct lvol_store *lvs, struct lv_name_resv *r, const char *name)
{
	strlcpy_lv(r->name, name, sizeof(r->name));
	TAILQ_INSERT_TAIL(&lvs->name_resv, r, link);
}

void
lvol_release_name(struct lvol_store *lvs, struct lv_name_resv *r)
{
	TAILQ_REMOVE(&lvs->name_resv, r, link);
}

/* ---- objects and indices ------------------------------------------------------------------------ */

struct lvol *
lvol_alloc(struct lvol_store *lvs, const char *name, const struct lv_uuid *uuid)
{
	struct lvol *lvol = calloc(1, sizeof(*lvol));

	if (lvol == NULL)
		return NULL;
	lvol->lvs = lvs;
	lvol->id = BLOB_ID_INVALID;
	strlcpy_lv(lvol->name, name, sizeof(lvol->name));
	if (uuid != NULL)
		lvol->uuid = *uuid;
	return lvol;
}

int
lvol_attach(struct lvol *lvol, struct blob *blob)
{
	struct lvol_store *lvs = lvol->lvs;
	int rc;

	lvol->blob = blob;
	lvol->id = blob_get_id(blob);
	rc = lv_htable_insert(&lvs->by_name, &lvol->name_node, lv_hash_str(lvol->name));
	if (rc != 0)
		return rc;
	rc = lv_htable_insert(&lvs->by_id, &lvol->id_node, lv_hash_u64(lvol->id));
	if (rc != 0) {
		lv_htable_remove(&lvs->by_name, &lvol->name_node);
		return rc;
	}
	TAILQ_INSERT_TAIL(&lvs->lvols, lvol, link);
	lvs->lvol_count++;
	/* Asked of this handle, not remembered from some earlier open of the id. */
	if (blob_esnap_dev_missing(blob))
		lvol_set_degraded(lvol, true);
	if (lvs->registered)
		lvol_index_uuid(lvol);
	return 0;
}

void
lvol_index_uuid(struct lvol *lvol)
{
	if (lvol->in_uuid_index || uuid_is_null_lv(&lvol->uuid))
		return;
	/* A failure leaves the lvol findable by name only; the log says so. */
	if (lv_htable_insert(&g_uuid_index, &lvol->uuid_node, lv_hash_uuid(&lvol->uuid)) != 0) {
		LOG_ERR("lvol: %s: out of memory indexing the uuid\n", lvol->name);
		return;
	}
	lvol->in_uuid_index = true;
}

void
lvol_detach_free(struct lvol *lvol)
{
	struct lvol_store *lvs = lvol->lvs;

	lvol_set_degraded(lvol, false);
	if (lvol->in_uuid_index) {
		lv_htable_remove(&g_uuid_index, &lvol->uuid_node);
		if (g_uuid_index.count == 0)
			lv_htable_fini(&g_uuid_index);
	}
	lv_htable_remove(&lvs->by_name, &lvol->name_node);
	lv_htable_remove(&lvs->by_id, &lvol->id_node);
	TAILQ_REMOVE(&lvs->lvols, lvol, link);
	lvs->lvol_count--;
	free(lvol);
}

struct lvol *
lvol_get_by_id(struct lvol_store *lvs, blob_id id)
{
	uint64_t h = lv_hash_u64(id);
	struct lv_hnode *n;

	for (n = lv_htable_first(&lvs->by_id, h); n != NULL; n = lv_htable_next(n, h)) {
		struct lvol *lvol = CONTAINEROF(n, struct lvol, id_node);

		if (lvol->id == id)
			return lvol;
	}
	return NULL;
}

struct lvol *
lvol_get_by_name(struct lvol_store *lvs, const char *name)
{
	struct lv_hnode *n;
	uint64_t h;

	if (lvs == NULL || name == NULL)
		return NULL;
	h = lv_hash_str(name);
	for (n = lv_htable_first(&lvs->by_name, h); n != NULL; n = lv_htable_next(n, h)) {
		struct lvol *lvol = CONTAINEROF(n, struct lvol, name_node);

		if (strcmp(lvol->name, name) == 0)
			return lvol;
	}
	return NULL;
}

struct lvol *
lvol_get_by_uuid(const struct lv_uuid *uuid)
{
	struct lv_hnode *n;
	uint64_t h;

	if (uuid == NULL || uuid_is_null_lv(uuid))
		return NULL;
	h = lv_hash_uuid(uuid);
	for (n = lv_htable_first(&g_uuid_index, h); n != NULL; n = lv_htable_next(n, h)) {
		struct lvol *lvol = CONTAINEROF(n, struct lvol, uuid_node);

		if (uuid_compare_lv(&lvol->uuid, uuid) == 0)
			return lvol;
	}
	return NULL;
}

struct lvol *
lvol_first(struct lvol_store *lvs)
{
	return lvs == NULL ? NULL : TAILQ_FIRST(&lvs->lvols);
}

struct lvol *
lvol_next(struct lvol *prev)
{
	return prev == NULL ? NULL : TAILQ_NEXT(prev, link);
}

/* ---- making a new lvol ------------------------------------------------------------------------------ */

static void
create_xattr_value(void *ctx, const char *name, const void **value, size_t *value_len)
{
	struct lvol_create_xattrs *x = ctx;

	if (strcmp(name, LVOL_XATTR_NAME) == 0) {
		*value = x->name;
		*value_len = sizeof(x->name);     /* always 64 at creation (spec §7.2) */
	} else {
		*value = x->uuid;
		*value_len = sizeof(x->uuid);
	}
}

void
lvol_create_xattrs_init(struct lvol_create_xattrs *x, struct blob_xattr_opts *opts,
			const char *name, const struct lv_uuid *uuid)
{
	memset(x, 0, sizeof(*x));
	strlcpy_lv(x->name, name, sizeof(x->name));
	uuid_fmt_lower(x->uuid, sizeof(x->uuid), uuid);
	opts->count = COUNTOF(g_lvol_xattr_names);
	opts->names = g_lvol_xattr_names;
	opts->ctx = x;
	opts->get_value = create_xattr_value;
}

int
lvol_new_begin(struct lvol_store *lvs, const char *name, struct lvol *src,
	       lvol_op_with_handle_complete cb, void *cb_arg, struct lvol_new_ctx **out)
{
	struct lvol_new_ctx *c;
	struct lv_uuid uuid;

	*out = NULL;
	if (lvs == NULL || cb == NULL || !lv_name_valid(name, LVOL_NAME_MAX))
		return -EINVAL;
	if (lvs->unloading || (src != NULL && src->destroying))
		return -EBUSY;
	if (lvol_name_in_use(lvs, name))
		return -EEXIST;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	uuid_generate_random_lv(&uuid);
	c->lvol = lvol_alloc(lvs, name, &uuid);
	if (c->lvol == NULL) {
		free(c);
		return -ENOMEM;
	}
	c->lvs = lvs;
	c->src = src;
	c->cb = cb;
	c->cb_arg = cb_arg;
	lvol_create_xattrs_init(&c->x, &c->xo, name, &uuid);
	lvol_reserve_name(lvs, &c->resv, name);
	lvs->ops++;
	if (src != NULL)
		src->ops++;
	*out = c;
	return 0;
}

static void
new_finish(struct lvol_new_ctx *c, struct lvol *lvol, int rc)
{
	lvol_release_name(c->lvs, &c->resv);
	c->lvs->ops--;
	if (c->src != NULL)
		c->src->ops--;
	if (lvol == NULL)
		free(c->lvol);
	if (c->adopt_rc != 0) {
		/* Adopted after a late failure: live, but the caller hears the error. */
		lvol = NULL;
		rc = c->adopt_rc;
	}
	c->cb(c->cb_arg, lvol, rc);
	free(c);
}

static void
new_later_fn(void *arg, int rc)
{
	new_finish(arg, NULL, rc);
}

void
lvol_new_abort(struct lvol_new_ctx *c, int rc)
{
	lv_op_later(new_later_fn, c, rc);
}

static void
new_deleted(void *arg, int rc)
{
	struct lvol_new_ctx *c = arg;

	if (rc != 0)
		LOG_ERR("lvol: %s/%s: could not remove the unopenable new blob 0x%" PRIx64 ": %d\n",
			c->lvs->name, c->lvol->name, c->id, rc);
	new_finish(c, NULL, -EIO);
}

static void
new_opened(void *arg, struct blob *blob, int rc)
{
	struct lvol_new_ctx *c = arg;

	if (rc != 0) {
		/* Created but not openable: take it away again rather than leave a
		 * volume the caller was told failed. */
		LOG_ERR("lvol: %s/%s: the new blob does not open: %d\n", c->lvs->name,
			c->lvol->name, rc);
		bs_delete_blob(c->lvs->bs, c->id, new_deleted, c);
		return;
	}
	rc = lvol_attach(c->lvol, blob);
	if (rc != 0) {
		/* Out of memory for the first bucket array: the volume exists on
		 * disk and comes back at the next load. */
		blob_close(blob, new_later_fn, c);
		return;
	}
	new_finish(c, c->lvol, 0);
}

void
lvol_new_created(void *arg, blob_id id, int rc)
{
	struct lvol_new_ctx *c = arg;

	if (rc != 0) {
		/*
		 * A snapshot that failed after the source was re-pointed to it
		 * (its last persist): on disk it exists (the load fix-up finishes
		 * it) and the source's handle already reads through it. Adopt it,
		 * so that memory matches the disk, and still report the error.
		 */
		if (id != BLOB_ID_INVALID && c->src != NULL && c->src->blob != NULL &&
		    bs_get_parent_snapshot(c->lvs->bs, c->src->id) == id &&
		    lvol_get_by_id(c->lvs, id) == NULL) {
			c->adopt_rc = rc;
			c->id = id;
			bs_open_blob(c->lvs->bs, id, new_opened, c);
			return;
		}
		new_finish(c, NULL, rc);
		return;
	}
	c->id = id;
	bs_open_blob(c->lvs->bs, id, new_opened, c);
}

/* ---- create --------------------------------------------------------------------------------------------- */

static bool
clear_method_valid(enum lvol_clear_method m)
{
	return m == LVOL_CLEAR_WITH_DEFAULT || m == LVOL_CLEAR_WITH_NONE ||
	       m == LVOL_CLEAR_WITH_UNMAP || m == LVOL_CLEAR_WITH_WRITE_ZEROES;
}

int
lvol_create(struct lvol_store *lvs, const char *name, uint64_t size_bytes, bool thin,
	    enum lvol_clear_method clear_method, lvol_op_with_handle_complete cb, void *cb_arg)
{
	struct lvol_new_ctx *c;
	struct blob_opts bo;
	uint64_t cs;
	int rc;

	if (lvs == NULL || !clear_method_valid(clear_method))
		return -EINVAL;
	rc = lvol_new_begin(lvs, name, NULL, cb, cb_arg, &c);
	if (rc != 0)
		return rc;
	cs = bs_get_cluster_size(lvs->bs);
	blob_opts_init(&bo, sizeof(bo));
	bo.num_clusters = size_bytes / cs + (size_bytes % cs != 0);
	bo.thin_provision = thin;
	bo.clear_method = (enum blob_clear_method)clear_method;
	bo.xattrs = c->xo;
	bs_create_blob(lvs->bs, &bo, lvol_new_created, c);
	return 0;
}

/* ---- the per-lvol operation frame ----------------------------------------------------------------- */

/* -EINVAL / -EBUSY checks shared by every operation on an existing lvol. */
int
lvol_op_check(const struct lvol *lvol)
{
	if (lvol == NULL || lvol->blob == NULL)
		return lvol == NULL ? -EINVAL : -EBUSY;
	if (lvol->destroying || lvol->lvs->unloading)
		return -EBUSY;
	return 0;
}

static struct lvol_op *
lvol_op_begin(struct lvol *lvol, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->lvol = lvol;
	op->cb = cb;
	op->cb_arg = cb_arg;
	lvol->ops++;
	lvol->lvs->ops++;
	return op;
}

void
lvol_op_end(struct lvol_op *op, int rc)
{
	struct lvol *lvol = op->lvol;

	if (op->resv_held)
		lvol_release_name(lvol->lvs, &op->resv);
	lvol->ops--;
	lvol->lvs->ops--;
	op->cb(op->cb_arg, rc);
	free(op);
}

void
lvol_op_done(void *arg, int rc)
{
	lvol_op_end(arg, rc);
}

/* Starts an op or completes cb later with the reason it cannot start. */
struct lvol_op *
lvol_op_start(struct lvol *lvol, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op;
	int rc = lvol_op_check(lvol);

	if (rc == 0) {
		op = lvol_op_begin(lvol, cb, cb_arg);
		if (op != NULL)
			return op;
		rc = -ENOMEM;
	}
	lv_op_later(cb, cb_arg, rc);
	return NULL;
}

/* ---- rename ---------------------------------------------------------------------------------------------- */

static void
rename_synced(void *arg, int rc)
{
	struct lvol_op *op = arg;
	struct lvol *lvol = op->lvol;
	struct lvol_store *lvs = lvol->lvs;

	if (rc == 0) {
		lv_htable_remove(&lvs->by_name, &lvol->name_node);
		strlcpy_lv(lvol->name, op->resv.name, sizeof(lvol->name));
		/* Re-inserting a node never needs a first bucket array: cannot fail. */
		lv_htable_insert(&lvs->by_name, &lvol->name_node, lv_hash_str(lvol->name));
	} else {
		LOG_ERR("lvol: renaming %s/%s failed: %d\n", lvs->name, lvol->name, rc);
		blob_set_xattr(lvol->blob, LVOL_XATTR_NAME, op->old_value, (uint16_t)op->old_len);
	}
	lvol_op_end(op, rc);
}

void
lvol_rename(struct lvol *lvol, const char *new_name, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op;
	const void *v;
	size_t len;
	int rc;

	if (lvol == NULL || !lv_name_valid(new_name, LVOL_NAME_MAX)) {
		lv_op_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (lvol_op_check(lvol) == 0 && strcmp(lvol->name, new_name) == 0) {
		lv_op_later(cb, cb_arg, 0);
		return;
	}
	if (lvol_op_check(lvol) == 0 && lvol_name_in_use(lvol->lvs, new_name)) {
		lv_op_later(cb, cb_arg, -EEXIST);
		return;
	}
	op = lvol_op_start(lvol, cb, cb_arg);
	if (op == NULL)
		return;
	if (blob_get_xattr_value(lvol->blob, LVOL_XATTR_NAME, &v, &len) == 0 &&
	    len <= sizeof(op->old_value)) {
		memcpy(op->old_value, v, len);
		op->old_len = len;
	} else {
		op->old_len = strlen(lvol->name) + 1;
		memcpy(op->old_value, lvol->name, op->old_len);
	}
	/* Spec §7.2: after a rename the value is strlen + 1 bytes. */
	rc = blob_set_xattr(lvol->blob, LVOL_XATTR_NAME, new_name, (uint16_t)(strlen(new_name) + 1));
	if (rc != 0) {
		lv_op_later(lvol_op_done, op, rc);
		return;
	}
	lvol_reserve_name(lvol->lvs, &op->resv, new_name);
	op->resv_held = true;
	blob_sync_md(lvol->blob, rename_synced, op);
}

/* ---- resize / read-only ------------------------------------------------------------------------------ */

static void
resize_done(void *arg, int rc)
{
	struct lvol_op *op = arg;

	if (rc != 0) {
		lvol_op_end(op, rc);
		return;
	}
	blob_sync_md(op->lvol->blob, lvol_op_done, op);
}

void
lvol_resize(struct lvol *lvol, uint64_t size_bytes, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op;
	uint64_t cs;

	if (lvol_op_check(lvol) == 0 && blob_is_read_only(lvol->blob)) {
		/* Snapshots are read-only too: resizing one would change its clones. */
		lv_op_later(cb, cb_arg, -EPERM);
		return;
	}
	op = lvol_op_start(lvol, cb, cb_arg);
	if (op == NULL)
		return;
	cs = bs_get_cluster_size(lvol->lvs->bs);
	blob_resize(lvol->blob, size_bytes / cs + (size_bytes % cs != 0), resize_done, op);
}

void
lvol_set_read_only(struct lvol *lvol, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op = lvol_op_start(lvol, cb, cb_arg);
	int rc;

	if (op == NULL)
		return;
	rc = blob_set_read_only(lvol->blob);
	if (rc != 0) {
		lv_op_later(lvol_op_done, op, rc);
		return;
	}
	blob_sync_md(lvol->blob, lvol_op_done, op);
}

/* ---- destroy --------------------------------------------------------------------------------------------- */

static void
destroy_reopened(void *arg, struct blob *blob, int rc)
{
	struct lvol_op *op = arg;
	struct lvol *lvol = op->lvol;

	if (rc == 0) {
		lvol->blob = blob;
	} else {
		/* The blob is on disk but unusable now; it comes back at the next load. */
		LOG_ERR("lvol: %s/%s cannot be reopened after a failed delete: %d\n",
			lvol->lvs->name, lvol->name, rc);
	}
	lvol->destroying = false;
	lvol_op_end(op, op->rc);
}

static void
destroy_deleted(void *arg, int rc)
{
	struct lvol_op *op = arg;
	struct lvol *lvol = op->lvol;
	struct lvol_store *lvs = lvol->lvs;
	lvol_op_complete cb = op->cb;
	void *cb_arg = op->cb_arg;

	if (rc != 0) {
		LOG_ERR("lvol: deleting %s/%s failed: %d\n", lvs->name, lvol->name, rc);
		op->rc = rc;
		bs_open_blob(lvs->bs, lvol->id, destroy_reopened, op);
		return;
	}
	lvs->ops--;
	lvol_detach_free(lvol);
	free(op);
	cb(cb_arg, 0);
}

static void
destroy_closed(void *arg, int rc)
{
	struct lvol_op *op = arg;

	/* The handle is gone even if its final persist failed; delete anyway. */
	bs_delete_blob(op->lvol->lvs->bs, op->lvol->id, destroy_deleted, op);
}

bool
lvol_is_deletable(const struct lvol *lvol)
{
	size_t count = 0;

	if (lvol == NULL || lvol->blob == NULL || !blob_is_snapshot(lvol->blob))
		return true;
	bs_get_clones(lvol->lvs->bs, lvol->id, NULL, &count);
	return count <= 1;
}

void
lvol_destroy(struct lvol *lvol, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op;
	struct blob *blob;
	int rc = lvol_op_check(lvol);

	if (rc == 0 && (lvol->open_ref > 0 || lvol->ops > 0))
		rc = -EBUSY;
	if (rc == 0 && !lvol_is_deletable(lvol)) {
		LOG_ERR("lvol: %s/%s is a snapshot with more than one clone: not deleted\n",
			lvol->lvs->name, lvol->name);
		rc = -EPERM;
	}
	if (rc != 0) {
		lv_op_later(cb, cb_arg, rc);
		return;
	}
	op = lvol_op_start(lvol, cb, cb_arg);
	if (op == NULL)
		return;
	lvol->destroying = true;
	blob = lvol->blob;
	lvol->blob = NULL;
	blob_close(blob, destroy_closed, op);
}

/* ---- consumers --------------------------------------------------------------------------------------------- */

void
lvol_open(struct lvol *lvol)
{
	lvol->open_ref++;
}

void
lvol_close(struct lvol *lvol)
{
	if (lvol->open_ref > 0)
		lvol->open_ref--;
}

bool
lvol_is_open(const struct lvol *lvol)
{
	return lvol->open_ref > 0;
}

/* ---- getters ------------------------------------------------------------------------------------------------ */

const char *
lvol_get_name(const struct lvol *lvol)
{
	return lvol->name;
}

const struct lv_uuid *
lvol_get_uuid(const struct lvol *lvol)
{
	return &lvol->uuid;
}

struct lvol_store *
lvol_get_store(const struct lvol *lvol)
{
	return lvol->lvs;
}

struct blob *
lvol_get_blob(struct lvol *lvol)
{
	return lvol->blob;
}

uint64_t
lvol_get_num_clusters(const struct lvol *lvol)
{
	return lvol->blob == NULL ? 0 : blob_get_num_clusters(lvol->blob);
}

uint64_t
lvol_get_size(const struct lvol *lvol)
{
	return lvol_get_num_clusters(lvol) * bs_get_cluster_size(lvol->lvs->bs);
}

uint64_t
lvol_get_num_allocated_clusters(const struct lvol *lvol)
{
	return lvol->blob == NULL ? 0 : blob_get_num_allocated_clusters(lvol->blob);
}

bool
lvol_is_thin(const struct lvol *lvol)
{
	return lvol->blob != NULL && blob_is_thin_provisioned(lvol->blob);
}

bool
lvol_is_read_only(const struct lvol *lvol)
{
	return lvol->blob != NULL && blob_is_read_only(lvol->blob);
}

bool
lvol_is_snapshot(const struct lvol *lvol)
{
	return lvol->blob != NULL && blob_is_snapshot(lvol->blob);
}

bool
lvol_is_clone(const struct lvol *lvol)
{
	return lvol->blob != NULL && blob_is_clone(lvol->blob);
}

bool
lvol_is_esnap_clone(const struct lvol *lvol)
{
	return lvol->blob != NULL && blob_is_esnap_clone(lvol->blob);
}

bool
lvol_is_degraded(const struct lvol *lvol)
{
	return lvol->degraded;
}

enum lvol_clear_method
lvol_get_clear_method(const struct lvol *lvol)
{
	return lvol->blob == NULL ? LVOL_CLEAR_WITH_DEFAULT :
	       (enum lvol_clear_method)blob_get_clear_method(lvol->blob);
}

void
lvol_set_ctx(struct lvol *lvol, void *ctx)
{
	lvol->ctx = ctx;
}

void *
lvol_get_ctx(const struct lvol *lvol)
{
	return lvol->ctx;
}
