/*
 * lib/lvol/lineage.c: lvols made from other lvols and the links between
 * them: snapshot, clone, external-snapshot (esnap) clone, inflate,
 * decouple parent, set parent, set external parent, and the parent /
 * clones getters.
 *
 * The blobstore does the work (spec §5.4-§5.7); this file adds the lvol
 * rules and the identity of the new volume. A new snapshot or clone gets
 * its "name" (64 bytes, NUL-padded) and "uuid" through snapshot_xattrs /
 * clone_xattrs / blob_opts.xattrs, i.e. in the same metadata commit that
 * creates the blob, so a crash never leaves a nameless blob behind
 * (issue 5: every lvol fully there or fully absent).
 *
 * Relations are never cached here: the parent of an lvol and the clones
 * of a snapshot are asked of the blobstore (bs_get_parent_snapshot,
 * bs_get_clones) and mapped to lvols through the store's blob-id index.
 * So a merge (deleting a snapshot with one clone), an inflate or a
 * set_parent needs no bookkeeping in this layer.
 *
 * Rules checked here before the blobstore sees the request:
 *  - a clone's source must be read-only (-EINVAL);
 *  - set_parent: the parent must be a read-only lvol of the same store, of
 *    the same size, and not the lvol itself (-EINVAL);
 *  - an esnap clone needs a non-empty external id (-EINVAL).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"

#include "lvol_internal.h"

/* ---- snapshot / clone / esnap clone ------------------------------------------------------------- */

void
lvol_create_snapshot(struct lvol *lvol, const char *name, lvol_op_with_handle_complete cb,
		     void *cb_arg)
{
	struct lvol_new_ctx *c;
	int rc = lvol_op_check(lvol);

	/*
	 * A degraded lvol has no bdev, so SPDK finds no such device; and the
	 * snapshot would take over the missing external parent, leaving a
	 * degraded snapshot under a volume that looks whole.
	 */
	if (rc == 0 && lvol->degraded) {
		LOG_ERR("lvol: %s/%s: its external snapshot is missing: no snapshot of it\n",
			lvol->lvs->name, lvol->name);
		rc = -ENODEV;
	}
	if (rc == 0)
		rc = lvol_new_begin(lvol->lvs, name, lvol, cb, cb_arg, &c);
	if (rc != 0) {
		lv_handle_later(cb, cb_arg, rc);
		return;
	}
	/* The source's handle stays open and becomes the clone (the blobstore
	 * freezes its I/O meanwhile). */
	bs_create_snapshot(lvol->lvs->bs, lvol->id, &c->xo, lvol_new_created, c);
}

void
lvol_create_clone(struct lvol *snapshot, const char *name, lvol_op_with_handle_complete cb,
		  void *cb_arg)
{
	struct lvol_new_ctx *c;
	int rc = lvol_op_check(snapshot);

	if (rc == 0 && !blob_is_read_only(snapshot->blob)) {
		LOG_ERR("lvol: %s/%s is not read-only: cannot clone it\n", snapshot->lvs->name,
			snapshot->name);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = lvol_new_begin(snapshot->lvs, name, snapshot, cb, cb_arg, &c);
	if (rc != 0) {
		lv_handle_later(cb, cb_arg, rc);
		return;
	}
	bs_create_clone(snapshot->lvs->bs, snapshot->id, &c->xo, lvol_new_created, c);
}

void
lvol_create_esnap_clone(const void *esnap_id, uint32_t id_len, uint64_t size_bytes,
			struct lvol_store *lvs, const char *name,
			lvol_op_with_handle_complete cb, void *cb_arg)
{
	struct lvol_new_ctx *c;
	struct blob_opts bo;
	uint64_t cs;
	int rc = 0;

	if (esnap_id == NULL || id_len == 0 || lvs == NULL)
		rc = -EINVAL;
	if (rc == 0)
		rc = lvol_new_begin(lvs, name, NULL, cb, cb_arg, &c);
	if (rc != 0) {
		lv_handle_later(cb, cb_arg, rc);
		return;
	}
	cs = bs_get_cluster_size(lvs->bs);
	blob_opts_init(&bo, sizeof(bo));
	bo.num_clusters = size_bytes / cs + (size_bytes % cs != 0);
	bo.thin_provision = true;
	bo.esnap_id = esnap_id;
	bo.esnap_id_len = id_len;
	bo.xattrs = c->xo;
	bs_create_blob(lvs->bs, &bo, lvol_new_created, c);
}

/* ---- inflate / decouple ------------------------------------------------------------------------- */

static struct io_channel *
lvs_io_channel(struct lvol_store *lvs)
{
	if (lvs->io_ch == NULL)
		lvs->io_ch = bs_alloc_io_channel(lvs->bs);
	return lvs->io_ch;
}

static void
unparent_done(void *arg, int rc)
{
	struct lvol_op *op = arg;

	/* No longer an esnap clone: nothing is missing any more. */
	if (rc == 0 && op->lvol->blob != NULL && !blob_is_esnap_clone(op->lvol->blob))
		lvol_set_degraded(op->lvol, false);
	lvol_op_end(op, rc);
}

static void
unparent(struct lvol *lvol, bool inflate, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op = lvol_op_start(lvol, cb, cb_arg);
	struct io_channel *ch;

	if (op == NULL)
		return;
	ch = lvs_io_channel(lvol->lvs);
	if (ch == NULL) {
		lv_op_later(lvol_op_done, op, -ENOMEM);
		return;
	}
	if (inflate)
		bs_inflate_blob(lvol->lvs->bs, ch, lvol->id, unparent_done, op);
	else
		bs_blob_decouple_parent(lvol->lvs->bs, ch, lvol->id, unparent_done, op);
}

void
lvol_inflate(struct lvol *lvol, lvol_op_complete cb, void *cb_arg)
{
	unparent(lvol, true, cb, cb_arg);
}

void
lvol_decouple_parent(struct lvol *lvol, lvol_op_complete cb, void *cb_arg)
{
	unparent(lvol, false, cb, cb_arg);
}

/* ---- set parent --------------------------------------------------------------------------------- */

void
lvol_set_parent(struct lvol *lvol, struct lvol *snapshot, lvol_op_complete cb, void *cb_arg)
{
	struct lvol_op *op;
	int rc = lvol_op_check(lvol);

	if (rc == 0)
		rc = lvol_op_check(snapshot);
	if (rc == 0 && (lvol == snapshot || lvol->lvs != snapshot->lvs)) {
		LOG_ERR("lvol: set_parent needs a snapshot of the same store\n");
		rc = -EINVAL;
	}
	if (rc == 0 && !blob_is_read_only(snapshot->blob)) {
		LOG_ERR("lvol: %s/%s is not read-only: it cannot be a parent\n",
			snapshot->lvs->name, snapshot->name);
		rc = -EINVAL;
	}
	if (rc == 0 && blob_get_num_clusters(lvol->blob) != blob_get_num_clusters(snapshot->blob)) {
		LOG_ERR("lvol: %s and %s differ in size: not a parent\n", lvol->name,
			snapshot->name);
		rc = -EINVAL;
	}
	if (rc != 0) {
		lv_op_later(cb, cb_arg, rc);
		return;
	}
	op = lvol_op_start(lvol, cb, cb_arg);
	if (op == NULL)
		return;
	bs_blob_set_parent(lvol->lvs->bs, lvol->id, snapshot->id, unparent_done, op);
}

static void
set_external_done(void *arg, int rc)
{
	struct lvol_op *op = arg;

	if (rc == 0)
		lvol_set_degraded(op->lvol, false);
	else if (op->esnap_dev != NULL)
		/* The blobstore takes the device only when it succeeds. */
		op->esnap_dev->destroy(op->esnap_dev);
	lvol_op_end(op, rc);
}

void
lvol_set_external_parent(struct lvol *lvol, const void *esnap_id, uint32_t id_len,
			 lvol_op_complete cb, void *cb_arg)
{
	struct lvol_store *lvs;
	struct lvol_op *op;
	int rc = lvol_op_check(lvol);

	if (rc == 0 && (esnap_id == NULL || id_len == 0))
		rc = -EINVAL;
	if (rc != 0) {
		lv_op_later(cb, cb_arg, rc);
		return;
	}
	op = lvol_op_start(lvol, cb, cb_arg);
	if (op == NULL)
		return;
	lvs = lvol->lvs;
	rc = lvs->esnap_bs_dev_create == NULL ? -ENODEV :
	     lvs->esnap_bs_dev_create(lvs->esnap_ctx, lvs, lvol->blob, esnap_id, id_len,
				      &op->esnap_dev);
	if (rc != 0) {
		op->esnap_dev = NULL;
		lv_op_later(lvol_op_done, op, rc);
		return;
	}
	bs_blob_set_external_parent(lvs->bs, lvol->id, op->esnap_dev, esnap_id, id_len,
				    set_external_done, op);
}

/* ---- relations ------------------------------------------------------------------------------------ */

struct lvol *
lvol_get_parent(struct lvol *lvol)
{
	blob_id pid;

	if (lvol == NULL || lvol->blob == NULL)
		return NULL;
	pid = bs_get_parent_snapshot(lvol->lvs->bs, lvol->id);
	return pid == BLOB_ID_INVALID ? NULL : lvol_get_by_id(lvol->lvs, pid);
}

size_t
lvol_get_clones(struct lvol *lvol, struct lvol **clones, size_t max)
{
	blob_id *ids;
	size_t count = 0, total = 0;

	if (lvol == NULL || lvol->blob == NULL || !blob_is_snapshot(lvol->blob))
		return 0;
	bs_get_clones(lvol->lvs->bs, lvol->id, NULL, &count);
	if (count == 0)
		return 0;
	ids = calloc(count, sizeof(*ids));
	if (ids == NULL)
		return 0;
	if (bs_get_clones(lvol->lvs->bs, lvol->id, ids, &count) == 0) {
		for (size_t i = 0; i < count; i++) {
			struct lvol *c = lvol_get_by_id(lvol->lvs, ids[i]);

			if (c == NULL)
				continue;
			if (total < max && clones != NULL)
				clones[total] = c;
			total++;
		}
	}
	free(ids);
	return total;
}

int
lvol_get_esnap_id(struct lvol *lvol, const void **id, size_t *len)
{
	if (lvol == NULL || lvol->blob == NULL)
		return -EINVAL;
	return blob_get_esnap_id(lvol->blob, id, len);
}
