/*
 * lib/lvol/store.c: lvolstores: create (lvs_init), unload, destroy,
 * rename, grow, the process-wide registry of loaded stores, and the
 * store getters. Loading is load.c.
 *
 * An lvolstore is a blobstore of type "LVOLSTORE" whose super blob holds
 * the store's identity (spec §7.1): xattr "uuid" (37 bytes: 36 lowercase
 * characters and the NUL) and "name" (strlen + 1 bytes), in that order.
 * We keep the super blob open for the store's life (a rename is then one
 * set_xattr and one sync).
 *
 * Crash safety:
 *  init     bs_init writes a dirty superblock; the super blob is created
 *           WITH its two xattrs in its first persist (blob_opts.xattrs),
 *           so there is never a super blob without identity on disk; then
 *           bs_set_super records it. A crash before bs_set_super leaves a
 *           store without super blob: lvs_load rejects it (-EILSEQ), and
 *           the create was never acknowledged. The final bytes are those of
 *           spec §7.5's sequence (create, set super, add xattrs, persist).
 *  rename   One xattr change, one persist: old or new name, never neither.
 *  destroy  Deletes the lvols (each delete commits by itself), the super
 *           blob, then zeroes the superblock. A crash part-way leaves a
 *           store that loads with the lvols not yet deleted.
 *
 * Registry invariants (app thread only):
 *  - a store is on `stores` iff lvs->registered; its lvols with a UUID are
 *    then in the global UUID index;
 *  - store names are unique among registered stores and the names
 *    reserved by in-flight inits, loads and renames (`store_resv`).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "lvol_internal.h"

static TAILQ_HEAD(, lvol_store) g_stores = TAILQ_HEAD_INITIALIZER(g_stores);
static struct lv_name_resv_list g_store_resv = TAILQ_HEAD_INITIALIZER(g_store_resv);

/* ---- options ------------------------------------------------------------------------------ */

void
lvs_opts_init(struct lvs_opts *opts, size_t opts_size)
{
	struct lvs_opts d;

	memset(&d, 0, sizeof(d));
	d.opts_size = opts_size;
	d.cluster_sz = LVS_DEFAULT_CLUSTER_SIZE;
	d.clear_method = LVS_CLEAR_WITH_UNMAP;
	d.num_md_pages_per_cluster_ratio = LVS_DEFAULT_MD_PAGES_RATIO;
	d.md_page_size = 0;
	memset(opts, 0, opts_size);
	memcpy(opts, &d, opts_size < sizeof(d) ? opts_size : sizeof(d));
}

/* A full-size copy of the caller's options (older, shorter structs get defaults). */
static void
lvs_opts_copy(struct lvs_opts *dst, const struct lvs_opts *src)
{
	size_t n;

	lvs_opts_init(dst, sizeof(*dst));
	if (src == NULL)
		return;
	n = src->opts_size < sizeof(*dst) ? src->opts_size : sizeof(*dst);
	if (n > sizeof(size_t))
		memcpy((uint8_t *)dst + sizeof(size_t), (const uint8_t *)src + sizeof(size_t),
		       n - sizeof(size_t));
	dst->opts_size = sizeof(*dst);
}

/* ---- objects and registry ------------------------------------------------------------------ */

struct lvol_store *
lvs_alloc(const struct lvs_opts *opts)
{
	struct lvol_store *lvs = calloc(1, sizeof(*lvs));
	struct lvs_opts o;

	if (lvs == NULL)
		return NULL;
	TAILQ_INIT(&lvs->lvols);
	TAILQ_INIT(&lvs->name_resv);
	TAILQ_INIT(&lvs->degraded);
	lvs_opts_copy(&o, opts);
	lvs->esnap_bs_dev_create = o.esnap_bs_dev_create;
	lvs->esnap_ctx = o.esnap_ctx;
	return lvs;
}

void
lvs_free(struct lvol_store *lvs)
{
	struct lvol *lvol;

	if (lvs == NULL)
		return;
	while ((lvol = TAILQ_FIRST(&lvs->lvols)) != NULL)
		lvol_detach_free(lvol);
	lvs_release_store_name(lvs);
	if (lvs->registered) {
		TAILQ_REMOVE(&g_stores, lvs, link);
		lvs->registered = false;
	}
	lv_htable_fini(&lvs->by_name);
	lv_htable_fini(&lvs->by_id);
	free(lvs);
}

bool
lvs_name_in_use(const char *name, const struct lvol_store *except)
{
	struct lvol_store *lvs;
	struct lv_name_resv *r;

	TAILQ_FOREACH(lvs, &g_stores, link) {
		if (lvs != except && strcmp(lvs->name, name) == 0)
			return true;
	}
	TAILQ_FOREACH(r, &g_store_resv, link) {
		if (strcmp(r->name, name) == 0)
			return true;
	}
	return false;
}

void
lvs_reserve_store_name(struct lvol_store *lvs, const char *name)
{
	lvs_release_store_name(lvs);
	strlcpy_lv(lvs->store_resv.name, name, sizeof(lvs->store_resv.name));
	TAILQ_INSERT_TAIL(&g_store_resv, &lvs->store_resv, link);
	lvs->store_resv_held = true;
}

void
lvs_release_store_name(struct lvol_store *lvs)
{
	if (lvs->store_resv_held) {
		TAILQ_REMOVE(&g_store_resv, &lvs->store_resv, link);
		lvs->store_resv_held = false;
	}
}

/* Publishes a complete store: list, and its lvols in the UUID index. */
int
lvs_register(struct lvol_store *lvs)
{
	struct lvol *lvol;

	TAILQ_FOREACH(lvol, &lvs->lvols, link)
		lvol_index_uuid(lvol);
	lvs_release_store_name(lvs);
	TAILQ_INSERT_TAIL(&g_stores, lvs, link);
	lvs->registered = true;
	return 0;
}

struct lvol_store *
lvs_get_by_name(const char *name)
{
	struct lvol_store *lvs;

	if (name == NULL)
		return NULL;
	TAILQ_FOREACH(lvs, &g_stores, link) {
		if (strcmp(lvs->name, name) == 0)
			return lvs;
	}
	return NULL;
}

struct lvol_store *
lvs_get_by_uuid(const struct lv_uuid *uuid)
{
	struct lvol_store *lvs;

	if (uuid == NULL)
		return NULL;
	TAILQ_FOREACH(lvs, &g_stores, link) {
		if (uuid_compare_lv(&lvs->uuid, uuid) == 0)
			return lvs;
	}
	return NULL;
}

struct lvol_store *
lvs_first(void)
{
	return TAILQ_FIRST(&g_stores);
}

struct lvol_store *
lvs_next(struct lvol_store *prev)
{
	return prev == NULL ? NULL : TAILQ_NEXT(prev, link);
}

/* ---- ordering: clones before their parents --------------------------------------------------- */

uint32_t
lvs_lvol_depth(struct lvol_store *lvs, const struct lvol *lvol)
{
	uint32_t depth = 0;
	blob_id id = bs_get_parent_snapshot(lvs->bs, lvol->id);

	/* The bound only guards against a SNAP cycle the blobstore let through. */
	while (id != BLOB_ID_INVALID && depth <= lvs->lvol_count) {
		depth++;
		id = bs_get_parent_snapshot(lvs->bs, id);
	}
	return depth;
}

struct depth_ent {
	uint32_t depth;
	struct lvol *lvol;
};

static int
cmp_depth_desc(const void *a, const void *b)
{
	const struct depth_ent *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return x->lvol->id < y->lvol->id ? -1 : x->lvol->id > y->lvol->id;
}

struct lvol **
lvs_lvols_leaves_first(struct lvol_store *lvs, uint64_t *n)
{
	struct depth_ent *e;
	struct lvol **v;
	struct lvol *lvol;
	uint64_t i = 0;

	*n = lvs->lvol_count;
	if (*n == 0)
		return NULL;
	e = calloc(*n, sizeof(*e));
	v = calloc(*n, sizeof(*v));
	if (e == NULL || v == NULL) {
		free(e);
		free(v);
		return NULL;
	}
	TAILQ_FOREACH(lvol, &lvs->lvols, link) {
		e[i].depth = lvs_lvol_depth(lvs, lvol);
		e[i].lvol = lvol;
		i++;
	}
	qsort(e, *n, sizeof(*e), cmp_depth_desc);
	for (i = 0; i < *n; i++)
		v[i] = e[i].lvol;
	free(e);
	return v;
}

/* ---- closing every blob ------------------------------------------------------------------------ */

/*
 * Closing clones before their snapshots matters: a clone's handle holds a
 * reference on its parent and drops it when its own close finishes. With
 * the parent closed last by us, our final close is the one that tears the
 * parent down, so when lvs_close_all completes no close is still running
 * in the background and bs_unload finds the store idle.
 */
struct close_all_ctx {
	struct lvol_store *lvs;
	struct lvol **order;
	uint64_t n, i;
	int rc;
	lvs_op_complete cb;
	void *cb_arg;
};

static void close_all_next(void *arg, int rc);

static void
close_all_next(void *arg, int rc)
{
	struct close_all_ctx *c = arg;
	struct lvol_store *lvs = c->lvs;
	struct lvol *lvol;

	if (rc != 0 && c->rc == 0)
		c->rc = rc;
	if (c->i < c->n) {
		lvol = c->order[c->i++];
		if (lvol->blob != NULL) {
			struct blob *blob = lvol->blob;

			lvol->blob = NULL;
			blob_close(blob, close_all_next, c);
			return;
		}
		close_all_next(c, 0);
		return;
	}
	if (lvs->super_blob != NULL) {
		struct blob *blob = lvs->super_blob;

		lvs->super_blob = NULL;
		blob_close(blob, close_all_next, c);
		return;
	}
	free(c->order);
	c->cb(c->cb_arg, c->rc);
	free(c);
}

void
lvs_close_all(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg)
{
	struct close_all_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		lv_op_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->lvs = lvs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	c->order = lvs_lvols_leaves_first(lvs, &c->n);
	if (c->order == NULL && c->n > 0) {
		free(c);
		lv_op_later(cb, cb_arg, -ENOMEM);
		return;
	}
	if (lvs->io_ch != NULL) {
		bs_free_io_channel(lvs->io_ch);
		lvs->io_ch = NULL;
	}
	close_all_next(c, 0);
}

/*
 * bs_unload and bs_destroy refuse (-EBUSY) while any blob handle is open or closing.
 * After lvs_close_all that can still be the case for a blob no lvol holds
 * (the parent of a failed operation's blob, released by a clone's
 * teardown in the background): its last persist is a few device round
 * trips away. So a refusal is retried, one message at a time. The bound
 * only stops a bug from spinning for ever (it is far more rounds than any
 * close takes); then the error is reported and the store leaks.
 */
#define LVS_UNLOAD_RETRIES 1000000u

struct unload_retry {
	struct blob_store *bs;
	bool destroy;
	uint32_t tries;
	bs_op_complete cb;
	void *cb_arg;
};

static void unload_retry_msg(void *arg);

static void
unload_retry_done(void *arg, int rc)
{
	struct unload_retry *u = arg;

	if (rc == -EBUSY && ++u->tries < LVS_UNLOAD_RETRIES &&
	    thread_send_msg(thread_get_current(), unload_retry_msg, u) == 0)
		return;
	u->cb(u->cb_arg, rc);
	free(u);
}

static void
unload_retry_msg(void *arg)
{
	struct unload_retry *u = arg;

	if (u->destroy)
		bs_destroy(u->bs, unload_retry_done, u);
	else
		bs_unload(u->bs, unload_retry_done, u);
}

void
lvs_bs_unload(struct blob_store *bs, bool destroy, bs_op_complete cb, void *cb_arg)
{
	struct unload_retry *u = calloc(1, sizeof(*u));

	if (u == NULL) {
		(destroy ? bs_destroy : bs_unload)(bs, cb, cb_arg);
		return;
	}
	u->bs = bs;
	u->destroy = destroy;
	u->cb = cb;
	u->cb_arg = cb_arg;
	unload_retry_msg(u);
}

/* ---- lvs_init --------------------------------------------------------------------------------- */

struct init_ctx {
	struct lvol_store *lvs;
	struct lvs_opts opts;
	char uuid_str[UUID_STRING_LEN];
	blob_id super_id;
	int rc;
	lvs_op_with_handle_complete cb;
	void *cb_arg;
};

static const char *const g_super_xattr_names[] = { LVOL_XATTR_UUID, LVOL_XATTR_NAME };

static void
super_xattr_value(void *ctx, const char *name, const void **value, size_t *value_len)
{
	struct init_ctx *c = ctx;

	if (strcmp(name, LVOL_XATTR_UUID) == 0) {
		*value = c->uuid_str;
		*value_len = UUID_STRING_LEN;
	} else {
		*value = c->lvs->name;
		*value_len = strlen(c->lvs->name) + 1;
	}
}

static void
init_finish(struct init_ctx *c, struct lvol_store *lvs, int rc)
{
	c->cb(c->cb_arg, lvs, rc);
	free(c);
}

static void
init_destroyed(void *arg, int rc)
{
	struct init_ctx *c = arg;

	lvs_free(c->lvs);
	init_finish(c, NULL, c->rc);
}

/* A failure after bs_init: zero the superblock, so no half store remains. */
static void
init_undo(struct init_ctx *c, int rc)
{
	LOG_ERR("lvol: creating lvolstore %s failed: %d\n", c->lvs->name, rc);
	c->rc = rc;
	lvs_bs_unload(c->lvs->bs, true, init_destroyed, c);
}

static void
init_super_opened(void *arg, struct blob *blob, int rc)
{
	struct init_ctx *c = arg;
	struct lvol_store *lvs = c->lvs;

	if (rc != 0) {
		init_undo(c, rc);
		return;
	}
	lvs->super_blob = blob;
	lvs_register(lvs);
	init_finish(c, lvs, 0);
}

static void
init_super_set(void *arg, int rc)
{
	struct init_ctx *c = arg;

	if (rc != 0) {
		init_undo(c, rc);
		return;
	}
	bs_open_blob(c->lvs->bs, c->super_id, init_super_opened, c);
}

static void
init_super_created(void *arg, blob_id id, int rc)
{
	struct init_ctx *c = arg;

	if (rc != 0) {
		init_undo(c, rc);
		return;
	}
	c->super_id = id;
	bs_set_super(c->lvs->bs, id, init_super_set, c);
}

static void
init_bs_done(void *arg, struct blob_store *bs, int rc)
{
	struct init_ctx *c = arg;
	struct blob_opts bo;

	if (rc != 0) {
		/* bs_init released the device. */
		LOG_ERR("lvol: blobstore init for lvolstore %s failed: %d\n", c->lvs->name, rc);
		lvs_free(c->lvs);
		init_finish(c, NULL, rc);
		return;
	}
	c->lvs->bs = bs;
	/* The super blob: thick, no clusters, extent table; identity in its first persist. */
	blob_opts_init(&bo, sizeof(bo));
	bo.num_clusters = 0;
	bo.thin_provision = false;
	bo.xattrs.count = COUNTOF(g_super_xattr_names);
	bo.xattrs.names = g_super_xattr_names;
	bo.xattrs.ctx = c;
	bo.xattrs.get_value = super_xattr_value;
	bs_create_blob(bs, &bo, init_super_created, c);
}

bool
lv_name_valid(const char *name, size_t max)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strnlen(name, max);
	return len > 0 && len < max;
}

int
lvs_init(struct bs_dev *dev, const struct lvs_opts *opts, lvs_op_with_handle_complete cb,
	 void *cb_arg)
{
	struct init_ctx *c;
	struct bs_opts bo;
	uint32_t md_page, blocklen;
	uint64_t total_clusters, md_pages;

	if (dev == NULL || opts == NULL || cb == NULL || dev->blocklen == 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	lvs_opts_copy(&c->opts, opts);
	if (!lv_name_valid(c->opts.name, LVS_NAME_MAX)) {
		LOG_ERR("lvol: lvolstore name must be 1 to %d characters\n", LVS_NAME_MAX - 1);
		free(c);
		return -EINVAL;
	}
	if (lvs_name_in_use(c->opts.name, NULL)) {
		LOG_ERR("lvol: lvolstore name %s is in use\n", c->opts.name);
		free(c);
		return -EEXIST;
	}
	blocklen = dev->blocklen;
	md_page = c->opts.md_page_size;
	if (md_page != 0 && (!IS_POWER_OF_2(md_page) || md_page < 4096 || md_page > 65536)) {
		LOG_ERR("lvol: md_page_size %u is not a power of two from 4096 to 65536\n", md_page);
		free(c);
		return -EINVAL;
	}
	if (md_page == 0)
		md_page = dev->phys_blocklen > 4096 ? dev->phys_blocklen : 4096;
	if (c->opts.cluster_sz == 0 || c->opts.cluster_sz % 4096 != 0 ||
	    c->opts.cluster_sz % blocklen != 0 || c->opts.cluster_sz < md_page) {
		LOG_ERR("lvol: cluster size %u must be a multiple of 4096 and of the block size "
			"%u, and at least the metadata page size %u\n", c->opts.cluster_sz,
			blocklen, md_page);
		free(c);
		return -EINVAL;
	}
	if (c->opts.clear_method != LVS_CLEAR_WITH_UNMAP &&
	    c->opts.clear_method != LVS_CLEAR_WITH_WRITE_ZEROES &&
	    c->opts.clear_method != LVS_CLEAR_WITH_NONE) {
		free(c);
		return -EINVAL;
	}
	if (c->opts.num_md_pages_per_cluster_ratio == 0) {
		LOG_ERR("lvol: num_md_pages_per_cluster_ratio must be at least 1\n");
		free(c);
		return -EINVAL;
	}
	/* Spec §7.5: floor(ratio × total_clusters / 100), total in whole clusters. */
	total_clusters = dev->blockcnt / (c->opts.cluster_sz / blocklen);
	md_pages = (uint64_t)c->opts.num_md_pages_per_cluster_ratio * total_clusters / 100;
	if (md_pages > UINT32_MAX) {
		free(c);
		return -EINVAL;
	}
	/* 0 would mean "the blobstore's default" to bs_init; the floor of a tiny
	 * store still needs the super blob's page. */
	if (md_pages == 0)
		md_pages = 1;

	c->lvs = lvs_alloc(&c->opts);
	if (c->lvs == NULL) {
		free(c);
		return -ENOMEM;
	}
	strlcpy_lv(c->lvs->name, c->opts.name, sizeof(c->lvs->name));
	lvs_reserve_store_name(c->lvs, c->opts.name);
	uuid_generate_random_lv(&c->lvs->uuid);
	uuid_fmt_lower(c->uuid_str, sizeof(c->uuid_str), &c->lvs->uuid);
	c->cb = cb;
	c->cb_arg = cb_arg;

	bs_opts_init(&bo, sizeof(bo));
	bo.cluster_sz = c->opts.cluster_sz;
	bo.num_md_pages = (uint32_t)md_pages;
	bo.md_page_size = c->opts.md_page_size;
	bo.clear_method = (enum bs_clear_method)c->opts.clear_method;
	memset(bo.bstype, 0, sizeof(bo.bstype));
	memcpy(bo.bstype, LVS_BSTYPE, strlen(LVS_BSTYPE));
	bo.esnap_bs_dev_create = lvs_esnap_dev_create;
	bo.esnap_ctx = c->lvs;
	bs_init(dev, &bo, init_bs_done, c);
	return 0;
}

/* ---- lvs_unload / lvs_destroy ------------------------------------------------------------------- */

struct unload_ctx {
	struct lvol_store *lvs;
	struct lvol **order;
	uint64_t n, i;
	struct lvol *cur;
	blob_id super_id;
	int rc;
	lvs_op_complete cb;
	void *cb_arg;
};

static int
lvs_check_idle(const struct lvol_store *lvs)
{
	const struct lvol *lvol;

	if (lvs->unloading || lvs->ops > 0)
		return -EBUSY;
	TAILQ_FOREACH(lvol, &lvs->lvols, link) {
		if (lvol->open_ref > 0) {
			LOG_ERR("lvol: lvolstore %s: lvol %s is open\n", lvs->name, lvol->name);
			return -EBUSY;
		}
	}
	return 0;
}

static void
unload_done(void *arg, int rc)
{
	struct unload_ctx *c = arg;

	if (rc != 0)
		LOG_ERR("lvol: lvolstore %s: unload failed: %d\n", c->lvs->name, rc);
	lvs_free(c->lvs);
	c->cb(c->cb_arg, rc != 0 ? rc : c->rc);
	free(c);
}

static void
unload_closed(void *arg, int rc)
{
	struct unload_ctx *c = arg;

	c->rc = rc;
	lvs_bs_unload(c->lvs->bs, false, unload_done, c);
}

int
lvs_unload(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg)
{
	struct unload_ctx *c;
	int rc;

	if (lvs == NULL || cb == NULL)
		return -EINVAL;
	rc = lvs_check_idle(lvs);
	if (rc != 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->lvs = lvs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	lvs->unloading = true;
	lvs_close_all(lvs, unload_closed, c);
	return 0;
}

static void destroy_next(void *arg, int rc);

static void
destroy_done(void *arg, int rc)
{
	struct unload_ctx *c = arg;

	if (rc != 0)
		LOG_ERR("lvol: lvolstore %s: destroy failed: %d\n", c->lvs->name, rc);
	free(c->order);
	lvs_free(c->lvs);
	c->cb(c->cb_arg, rc);
	free(c);
}

/* A delete failed: the lvol stays (its blob re-opened), the store stays loaded. */
static void
destroy_reopened(void *arg, struct blob *blob, int rc)
{
	struct unload_ctx *c = arg;

	if (rc == 0)
		c->cur->blob = blob;
	else
		LOG_ERR("lvol: %s/%s cannot be reopened: %d\n", c->lvs->name, c->cur->name, rc);
	c->cur->destroying = false;
	c->lvs->unloading = false;
	free(c->order);
	c->cb(c->cb_arg, c->rc);
	free(c);
}

static void
destroy_deleted(void *arg, int rc)
{
	struct unload_ctx *c = arg;

	if (rc != 0) {
		LOG_ERR("lvol: lvolstore %s: deleting lvol %s failed: %d\n", c->lvs->name,
			c->cur->name, rc);
		c->rc = rc;
		bs_open_blob(c->lvs->bs, c->cur->id, destroy_reopened, c);
		return;
	}
	lvol_detach_free(c->cur);
	c->cur = NULL;
	destroy_next(c, 0);
}

static void
destroy_closed(void *arg, int rc)
{
	struct unload_ctx *c = arg;

	/* A close that could not persist still dropped the handle. */
	bs_delete_blob(c->lvs->bs, c->cur->id, destroy_deleted, c);
}

static void
destroy_super_deleted(void *arg, int rc)
{
	struct unload_ctx *c = arg;

	/* Informative order (spec §7.5): super blob, then the superblock. */
	if (rc != 0)
		LOG_WARN("lvol: lvolstore %s: super blob delete failed (%d); zeroing the "
			 "superblock anyway\n", c->lvs->name, rc);
	lvs_bs_unload(c->lvs->bs, true, destroy_done, c);
}

static void
destroy_super_closed(void *arg, int rc)
{
	struct unload_ctx *c = arg;

	bs_delete_blob(c->lvs->bs, c->super_id, destroy_super_deleted, c);
}

static void
destroy_next(void *arg, int rc)
{
	struct unload_ctx *c = arg;
	struct lvol_store *lvs = c->lvs;
	struct blob *blob;

	if (c->i < c->n) {
		c->cur = c->order[c->i++];
		c->cur->destroying = true;
		blob = c->cur->blob;
		c->cur->blob = NULL;
		blob_close(blob, destroy_closed, c);
		return;
	}
	if (lvs->io_ch != NULL) {
		bs_free_io_channel(lvs->io_ch);
		lvs->io_ch = NULL;
	}
	blob = lvs->super_blob;
	lvs->super_blob = NULL;
	c->super_id = blob_get_id(blob);
	blob_close(blob, destroy_super_closed, c);
}

int
lvs_destroy(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg)
{
	struct unload_ctx *c;
	int rc;

	if (lvs == NULL || cb == NULL)
		return -EINVAL;
	rc = lvs_check_idle(lvs);
	if (rc != 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->lvs = lvs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	/* Clones and leaves first: every snapshot has no clone left when its turn comes. */
	c->order = lvs_lvols_leaves_first(lvs, &c->n);
	if (c->order == NULL && c->n > 0) {
		free(c);
		return -ENOMEM;
	}
	lvs->unloading = true;
	destroy_next(c, 0);
	return 0;
}

/* ---- lvs_rename --------------------------------------------------------------------------------- */

struct rename_ctx {
	struct lvol_store *lvs;
	char old_value[LVS_NAME_MAX];
	size_t old_len;
	lvs_op_complete cb;
	void *cb_arg;
};

static void
rename_synced(void *arg, int rc)
{
	struct rename_ctx *c = arg;
	struct lvol_store *lvs = c->lvs;

	if (rc == 0) {
		strlcpy_lv(lvs->name, lvs->store_resv.name, sizeof(lvs->name));
	} else {
		LOG_ERR("lvol: renaming lvolstore %s failed: %d\n", lvs->name, rc);
		/* Memory back to what the disk still says. */
		blob_set_xattr(lvs->super_blob, LVOL_XATTR_NAME, c->old_value,
			       (uint16_t)c->old_len);
	}
	lvs_release_store_name(lvs);
	lvs->ops--;
	c->cb(c->cb_arg, rc);
	free(c);
}

void
lvs_rename(struct lvol_store *lvs, const char *new_name, lvs_op_complete cb, void *cb_arg)
{
	struct rename_ctx *c;
	const void *v;
	size_t len;
	int rc;

	if (lvs == NULL || !lv_name_valid(new_name, LVS_NAME_MAX)) {
		lv_op_later(cb, cb_arg, -EINVAL);
		return;
	}
	if (lvs->unloading || lvs->store_resv_held) {
		lv_op_later(cb, cb_arg, -EBUSY);
		return;
	}
	if (strcmp(lvs->name, new_name) == 0) {
		lv_op_later(cb, cb_arg, 0);
		return;
	}
	if (lvs_name_in_use(new_name, lvs)) {
		lv_op_later(cb, cb_arg, -EEXIST);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		lv_op_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->lvs = lvs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	if (blob_get_xattr_value(lvs->super_blob, LVOL_XATTR_NAME, &v, &len) == 0 &&
	    len <= sizeof(c->old_value)) {
		memcpy(c->old_value, v, len);
		c->old_len = len;
	} else {
		c->old_len = strlen(lvs->name) + 1;
		memcpy(c->old_value, lvs->name, c->old_len);
	}
	/* Spec §7.1: strlen + 1 bytes, after a rename as at creation. */
	rc = blob_set_xattr(lvs->super_blob, LVOL_XATTR_NAME, new_name,
			    (uint16_t)(strlen(new_name) + 1));
	if (rc != 0) {
		free(c);
		lv_op_later(cb, cb_arg, rc);
		return;
	}
	lvs_reserve_store_name(lvs, new_name);
	lvs->ops++;
	blob_sync_md(lvs->super_blob, rename_synced, c);
}

/* ---- lvs_grow_live ------------------------------------------------------------------------------ */

struct grow_ctx {
	struct lvol_store *lvs;
	lvs_op_complete cb;
	void *cb_arg;
};

static void
grow_done(void *arg, int rc)
{
	struct grow_ctx *c = arg;

	c->lvs->ops--;
	c->cb(c->cb_arg, rc);
	free(c);
}

void
lvs_grow_live(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg)
{
	struct grow_ctx *c;

	if (lvs == NULL || lvs->unloading) {
		lv_op_later(cb, cb_arg, lvs == NULL ? -EINVAL : -EBUSY);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		lv_op_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->lvs = lvs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	lvs->ops++;
	bs_grow_live(lvs->bs, grow_done, c);
}

/* ---- getters --------------------------------------------------------------------------------------- */

const char *
lvs_get_name(const struct lvol_store *lvs)
{
	return lvs->name;
}

const struct lv_uuid *
lvs_get_uuid(const struct lvol_store *lvs)
{
	return &lvs->uuid;
}

struct blob_store *
lvs_get_blobstore(struct lvol_store *lvs)
{
	return lvs->bs;
}

uint64_t
lvs_get_cluster_size(const struct lvol_store *lvs)
{
	return bs_get_cluster_size(lvs->bs);
}

uint64_t
lvs_get_total_data_clusters(const struct lvol_store *lvs)
{
	return bs_get_total_data_cluster_count(lvs->bs);
}

uint64_t
lvs_get_free_clusters(const struct lvol_store *lvs)
{
	return bs_get_free_cluster_count(lvs->bs);
}

uint32_t
lvs_get_block_size(const struct lvol_store *lvs)
{
	return bs_get_io_unit_size(lvs->bs);
}

/* Spec §8: ((R × md_page_size) − 5) × 8 × cluster_size, R = cluster-mask pages. */
uint64_t
lvs_get_max_growable_size(const struct lvol_store *lvs)
{
	return bs_get_max_growable_size(lvs->bs);
}

void
lvs_set_ctx(struct lvol_store *lvs, void *ctx)
{
	lvs->ctx = ctx;
}

void *
lvs_get_ctx(const struct lvol_store *lvs)
{
	return lvs->ctx;
}
