/*
 * lib/blob/snapshot.c: snapshots, clones, inflate, decouple, set parent,
 * the delete of a snapshot with one clone, and the load-time fix-up of
 * interrupted snapshot operations (spec §5.4-§5.7, §6.6, §6.10).
 *
 * PLACEHOLDER. These are stubs that keep the tree linking while the
 * snapshot engineer writes the real file: the public calls complete with
 * -ENOTSUP, the load fix-up does nothing (a store without SNAPTMP /
 * SNAPRM blobs needs none), and the merge hook closes the snapshot and
 * refuses. Replace the whole file; the contracts of the two hooks are in
 * blob_internal.h (snapshot_fixup_after_load, snapshot_delete_merge).
 */
#include <errno.h>
#include <stdlib.h>

#include "blob_internal.h"

struct id_later {
	blob_op_with_id_complete cb;
	void *cb_arg;
};

static void
id_later_fn(void *arg, int rc)
{
	struct id_later *l = arg;

	l->cb(l->cb_arg, BLOB_ID_INVALID, rc);
	free(l);
}

static void
id_fail(blob_op_with_id_complete cb, void *cb_arg, int rc)
{
	struct id_later *l = malloc(sizeof(*l));

	if (l == NULL)
		abort();
	l->cb = cb;
	l->cb_arg = cb_arg;
	bs_complete_later(id_later_fn, l, rc);
}

void
snapshot_fixup_after_load(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	bs_complete_later(cb, cb_arg, 0);
}

struct merge_stub {
	blob_op_complete cb;
	void *cb_arg;
};

static void
merge_stub_closed(void *arg, int rc)
{
	struct merge_stub *m = arg;

	m->cb(m->cb_arg, -ENOTSUP);
	free(m);
}

void
snapshot_delete_merge(struct blob *snap, blob_id clone_id, blob_op_complete cb, void *cb_arg)
{
	struct merge_stub *m = malloc(sizeof(*m));

	if (m == NULL)
		abort();
	m->cb = cb;
	m->cb_arg = cb_arg;
	blob_close(snap, merge_stub_closed, m);
}

void
bs_create_snapshot(struct blob_store *bs, blob_id id,
		   const struct blob_xattr_opts *snapshot_xattrs,
		   blob_op_with_id_complete cb, void *cb_arg)
{
	id_fail(cb, cb_arg, -ENOTSUP);
}

void
bs_create_clone(struct blob_store *bs, blob_id snapshot_id,
		const struct blob_xattr_opts *clone_xattrs, blob_op_with_id_complete cb,
		void *cb_arg)
{
	id_fail(cb, cb_arg, -ENOTSUP);
}

void
bs_inflate_blob(struct blob_store *bs, struct io_channel *ch, blob_id id,
		blob_op_complete cb, void *cb_arg)
{
	bs_complete_later(cb, cb_arg, -ENOTSUP);
}

void
bs_blob_decouple_parent(struct blob_store *bs, struct io_channel *ch, blob_id id,
			blob_op_complete cb, void *cb_arg)
{
	bs_complete_later(cb, cb_arg, -ENOTSUP);
}

void
bs_blob_set_parent(struct blob_store *bs, blob_id id, blob_id snapshot_id,
		   blob_op_complete cb, void *cb_arg)
{
	bs_complete_later(cb, cb_arg, -ENOTSUP);
}

void
bs_blob_set_external_parent(struct blob_store *bs, blob_id id, struct bs_dev *esnap_dev,
			    const void *esnap_id, uint32_t id_len, blob_op_complete cb,
			    void *cb_arg)
{
	bs_complete_later(cb, cb_arg, -ENOTSUP);
}
