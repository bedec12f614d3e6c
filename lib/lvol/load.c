/*
 * lib/lvol/load.c: lvs_load, bringing up an lvolstore and every lvol in
 * it from disk (spec §7).
 *
 * Steps: bs_load with bstype LVOLSTORE; open the super blob named by the
 * superblock and check its identity ("uuid" exactly 37 bytes, NUL-ended,
 * parses; "name" at most 64 bytes); refuse a store whose name a loaded
 * store already has; then walk every blob with bs_iter_first/next and make
 * an lvol of each one other than the super blob.
 *
 * Rules from spec §7.2, as SPDK applies them:
 *  - an lvol's "name" is required; missing, empty-valued or longer than 64
 *    bytes fails the load of the WHOLE store (-EILSEQ). The name is read up
 *    to its first NUL (64 bytes at creation, strlen + 1 after a rename);
 *  - "uuid" is optional: missing or malformed, the lvol loads without a
 *    UUID (all zero; lvol_get_by_uuid never finds it) and a warning says so;
 *  - duplicate lvol names inside a store are not checked (nothing on disk
 *    prevents them); lookups by name return the first;
 *  - blobs that do not open are skipped by the blobstore (spec §10.11).
 *
 * Cost: one blob open per lvol, strictly one at a time (the concurrency is
 * bounded by construction, whatever the lvol count), plus O(1) index
 * inserts. The iteration's own reference is dropped by bs_iter_next after
 * we have taken the lvol's: the second open of an open blob is a counter
 * increment. Per lvol we keep ~200 bytes beyond the blob handle.
 *
 * On any failure the store is taken down again (blobs closed, clean
 * bs_unload, which also releases the device), and cb gets the error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"

#include "lvol_internal.h"

struct load_ctx {
	struct lvol_store *lvs;
	blob_id super_id;
	struct blob *iter_blob;         /* the iteration's reference, while we hold it */
	struct lvol *cur;               /* the lvol being opened */
	int rc;
	lvs_op_with_handle_complete cb;
	void *cb_arg;
};

static void
load_finish(struct load_ctx *c, struct lvol_store *lvs, int rc)
{
	c->cb(c->cb_arg, lvs, rc);
	free(c);
}

static void
load_unloaded(void *arg, int rc)
{
	struct load_ctx *c = arg;

	if (rc != 0)
		LOG_ERR("lvol: unloading a rejected lvolstore failed: %d\n", rc);
	lvs_free(c->lvs);
	load_finish(c, NULL, c->rc);
}

static void
load_closed_all(void *arg, int rc)
{
	struct load_ctx *c = arg;

	lvs_bs_unload(c->lvs->bs, false, load_unloaded, c);
}

static void
load_iter_closed(void *arg, int rc)
{
	struct load_ctx *c = arg;

	lvs_close_all(c->lvs, load_closed_all, c);
}

static void
load_fail(struct load_ctx *c, int rc)
{
	struct blob *blob = c->iter_blob;

	c->rc = rc;
	if (blob != NULL) {
		c->iter_blob = NULL;
		blob_close(blob, load_iter_closed, c);
		return;
	}
	lvs_close_all(c->lvs, load_closed_all, c);
}

/* Reads a name xattr: 1..64 bytes, up to the first NUL. false if absent or too long. */
static bool
read_name(struct blob *blob, char name[LVOL_NAME_MAX])
{
	const void *v;
	size_t len;

	if (blob_get_xattr_value(blob, LVOL_XATTR_NAME, &v, &len) != 0 || len == 0 ||
	    len > LVOL_NAME_MAX)
		return false;
	/* 64 bytes without a NUL keep 63 characters: a name is at most 63. */
	memset(name, 0, LVOL_NAME_MAX);
	memcpy(name, v, len < LVOL_NAME_MAX ? len : LVOL_NAME_MAX - 1);
	return true;
}

/* Reads a "uuid" xattr: exactly 37 bytes, NUL-ended, parses. */
static bool
read_uuid(struct blob *blob, struct lv_uuid *uuid)
{
	const void *v;
	size_t len;

	memset(uuid, 0, sizeof(*uuid));
	if (blob_get_xattr_value(blob, LVOL_XATTR_UUID, &v, &len) != 0 ||
	    len != UUID_STRING_LEN || ((const char *)v)[UUID_STRING_LEN - 1] != '\0')
		return false;
	if (uuid_parse_str(uuid, v) != 0) {
		memset(uuid, 0, sizeof(*uuid));
		return false;
	}
	return true;
}

static void load_iter_cb(void *arg, struct blob *blob, int rc);

static void
load_iter_advance(struct load_ctx *c)
{
	struct blob *prev = c->iter_blob;

	c->iter_blob = NULL;
	bs_iter_next(c->lvs->bs, prev, load_iter_cb, c);
}

static void
load_attach_failed(void *arg, int rc)
{
	struct load_ctx *c = arg;

	load_fail(c, c->rc);
}

static void
load_lvol_opened(void *arg, struct blob *blob, int rc)
{
	struct load_ctx *c = arg;
	struct lvol *lvol = c->cur;

	c->cur = NULL;
	if (rc != 0) {
		free(lvol);
		load_fail(c, rc);
		return;
	}
	rc = lvol_attach(lvol, blob);
	if (rc != 0) {
		free(lvol);
		c->rc = rc;
		blob_close(blob, load_attach_failed, c);
		return;
	}
	load_iter_advance(c);
}

static void
load_iter_cb(void *arg, struct blob *blob, int rc)
{
	struct load_ctx *c = arg;
	struct lvol_store *lvs = c->lvs;
	char name[LVOL_NAME_MAX];
	struct lv_uuid uuid;
	blob_id id;

	if (rc == -ENOENT) {
		/* Every blob seen: publish. */
		lvs_register(lvs);
		LOG_INFO("lvol: lvolstore %s loaded with %" PRIu64 " lvols\n", lvs->name,
			 lvs->lvol_count);
		load_finish(c, lvs, 0);
		return;
	}
	if (rc != 0) {
		load_fail(c, rc);
		return;
	}
	c->iter_blob = blob;
	id = blob_get_id(blob);
	if (id == c->super_id) {
		load_iter_advance(c);
		return;
	}
	if (!read_name(blob, name)) {
		LOG_ERR("lvol: lvolstore %s: blob 0x%" PRIx64 " has no valid name: store "
			"rejected (spec 7.2)\n", lvs->name, id);
		load_fail(c, -EILSEQ);
		return;
	}
	if (!read_uuid(blob, &uuid))
		LOG_WARN("lvol: lvolstore %s: lvol %s (blob 0x%" PRIx64 ") has no valid uuid\n",
			 lvs->name, name, id);
	c->cur = lvol_alloc(lvs, name, &uuid);
	if (c->cur == NULL) {
		load_fail(c, -ENOMEM);
		return;
	}
	/* The lvol's own reference; the iteration's is dropped by bs_iter_next. */
	bs_open_blob(lvs->bs, id, load_lvol_opened, c);
}

static void
load_super_opened(void *arg, struct blob *blob, int rc)
{
	struct load_ctx *c = arg;
	struct lvol_store *lvs = c->lvs;
	const void *v;
	size_t len;

	if (rc != 0) {
		LOG_ERR("lvol: the super blob does not open: %d\n", rc);
		load_fail(c, rc == -ENOENT ? -EILSEQ : rc);
		return;
	}
	lvs->super_blob = blob;
	if (!read_uuid(blob, &lvs->uuid)) {
		LOG_ERR("lvol: the super blob has no valid uuid: not an lvolstore\n");
		load_fail(c, -EILSEQ);
		return;
	}
	if (blob_get_xattr_value(blob, LVOL_XATTR_NAME, &v, &len) != 0 || len == 0 ||
	    len > LVS_NAME_MAX) {
		LOG_ERR("lvol: the super blob has no valid name: not an lvolstore\n");
		load_fail(c, -EILSEQ);
		return;
	}
	memset(lvs->name, 0, sizeof(lvs->name));
	memcpy(lvs->name, v, len < LVS_NAME_MAX ? len : LVS_NAME_MAX - 1);
	if (lvs->name[0] == '\0') {
		LOG_ERR("lvol: the lvolstore name is empty\n");
		load_fail(c, -EILSEQ);
		return;
	}
	if (lvs_name_in_use(lvs->name, NULL)) {
		LOG_ERR("lvol: an lvolstore named %s is already loaded\n", lvs->name);
		load_fail(c, -EEXIST);
		return;
	}
	lvs_reserve_store_name(lvs, lvs->name);
	bs_iter_first(lvs->bs, load_iter_cb, c);
}

static void
load_bs_done(void *arg, struct blob_store *bs, int rc)
{
	struct load_ctx *c = arg;

	if (rc != 0) {
		/* bs_load released the device. Another bstype is "not an lvolstore". */
		if (rc == -ENXIO)
			rc = -EILSEQ;
		lvs_free(c->lvs);
		load_finish(c, NULL, rc);
		return;
	}
	c->lvs->bs = bs;
	c->super_id = bs_get_super(bs);
	if (c->super_id == BLOB_ID_INVALID) {
		LOG_ERR("lvol: the blobstore has no super blob: not an lvolstore\n");
		load_fail(c, -EILSEQ);
		return;
	}
	bs_open_blob(bs, c->super_id, load_super_opened, c);
}

void
lvs_load(struct bs_dev *dev, const struct lvs_opts *opts, lvs_op_with_handle_complete cb,
	 void *cb_arg)
{
	struct load_ctx *c;
	struct bs_opts bo;

	if (dev == NULL || cb == NULL) {
		if (dev != NULL)
			dev->destroy(dev);
		if (cb != NULL)
			lvs_handle_later(cb, cb_arg, -EINVAL);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c != NULL)
		c->lvs = lvs_alloc(opts);
	if (c == NULL || c->lvs == NULL) {
		free(c);
		dev->destroy(dev);
		lvs_handle_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->cb = cb;
	c->cb_arg = cb_arg;
	bs_opts_init(&bo, sizeof(bo));
	memset(bo.bstype, 0, sizeof(bo.bstype));
	memcpy(bo.bstype, LVS_BSTYPE, strlen(LVS_BSTYPE));
	bo.esnap_bs_dev_create = lvs_esnap_dev_create;
	bo.esnap_ctx = c->lvs;
	bs_load(dev, &bo, load_bs_done, c);
}
