/*
 * lib/lvol internals: the store and lvol objects, their indices, and the
 * helpers the files of the library share (store.c, load.c, lvol.c,
 * lineage.c, esnap.c, index.c, later.c).
 *
 * Ownership and lifetime:
 *  - A struct lvol_store exists from lvs_init / lvs_load until its unload
 *    or destroy completes. It is "registered" (on the global list, its
 *    lvols in the global UUID index) only once it is complete, so lookups
 *    never see a half-loaded store.
 *  - A struct lvol exists from the moment its blob is open until the blob
 *    is closed by an unload or deleted. It always holds exactly one
 *    reference on its blob (lvol->blob); consumers' opens (lvol_open) are
 *    counted separately in open_ref and never touch the blob.
 *  - In-flight creates and renames reserve their names (struct
 *    lv_name_resv on the store's or the global list), so two racing
 *    requests for one name cannot both succeed.
 *
 * Everything here is touched only on the thread that owns the store (the
 * app thread), so there are no locks; the global list and UUID index are
 * likewise app-thread only.
 */
#ifndef LVOL_INTERNAL_H
#define LVOL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lvstor/blob.h"
#include "lvstor/lvol.h"

/* 16-byte blobstore type of an lvolstore (spec §7.1). */
#define LVS_BSTYPE "LVOLSTORE"

#define LVOL_XATTR_NAME "name"
#define LVOL_XATTR_UUID "uuid"

/* ---- hash index (index.c) ---------------------------------------------------------------- */

/*
 * An intrusive chained hash table: the node lives inside the indexed
 * object, so indexing costs no allocation per object (10,000 lvols load
 * with three indices each and no extra mallocs). The caller compares keys:
 * walk lv_htable_first/lv_htable_next for a hash and check the container.
 */
struct lv_hnode {
	struct lv_hnode *next;
	uint64_t hash;
};

struct lv_htable {
	struct lv_hnode **buckets;
	uint64_t mask;          /* buckets - 1; 0 with no bucket array yet */
	uint64_t count;
};

/* -ENOMEM only when the very first bucket array cannot be allocated. */
int lv_htable_insert(struct lv_htable *t, struct lv_hnode *node, uint64_t hash);
void lv_htable_remove(struct lv_htable *t, struct lv_hnode *node);
struct lv_hnode *lv_htable_first(const struct lv_htable *t, uint64_t hash);
struct lv_hnode *lv_htable_next(const struct lv_hnode *node, uint64_t hash);
void lv_htable_fini(struct lv_htable *t);

uint64_t lv_hash_str(const char *s);
uint64_t lv_hash_u64(uint64_t x);
uint64_t lv_hash_uuid(const struct lv_uuid *u);

/* ---- objects ----------------------------------------------------------------------------- */

/* A name held by an operation that is still in flight. */
struct lv_name_resv {
	TAILQ_ENTRY(lv_name_resv) link;
	char name[LVOL_NAME_MAX];
};
TAILQ_HEAD(lv_name_resv_list, lv_name_resv);

struct lvol {
	struct lvol_store *lvs;
	struct blob *blob;              /* our one reference */
	blob_id id;
	struct lv_uuid uuid;            /* all zero: the volume has no valid "uuid" */
	char name[LVOL_NAME_MAX];
	struct lv_hnode name_node;      /* lvs->by_name */
	struct lv_hnode id_node;        /* lvs->by_id */
	struct lv_hnode uuid_node;      /* global UUID index (registered stores only) */
	TAILQ_ENTRY(lvol) link;         /* lvs->lvols */
	void *ctx;
	uint32_t open_ref;              /* consumers (lvol_open) */
	uint16_t ops;                   /* operations in flight on this lvol */
	bool destroying;
	bool degraded;                  /* esnap clone without its external snapshot */
	bool esnap_attaching;           /* a hot-plug is giving it its device (esnap.c) */
	bool in_uuid_index;
	TAILQ_ENTRY(lvol) degraded_link;    /* lvs->degraded, while degraded */
};
TAILQ_HEAD(lvol_list, lvol);
TAILQ_HEAD(lvol_degraded_list, lvol);

struct lvol_store {
	struct blob_store *bs;
	struct blob *super_blob;        /* kept open for the store's life */
	struct lv_uuid uuid;
	char name[LVS_NAME_MAX];
	struct lvol_list lvols;
	uint64_t lvol_count;
	struct lv_htable by_name;
	struct lv_htable by_id;
	struct lv_name_resv_list name_resv;   /* lvol names of in-flight operations */
	struct lv_name_resv store_resv;       /* our store name while loading / initing */
	bool store_resv_held;
	struct io_channel *io_ch;       /* for inflate / decouple, allocated on first use */
	uint32_t ops;                   /* operations in flight on the store or its lvols */
	bool unloading;                 /* unload / destroy under way: no new operation */
	bool registered;
	/* The application's external-snapshot opener (lvs_opts). */
	bs_esnap_dev_create esnap_bs_dev_create;
	void *esnap_ctx;
	/* Its degraded lvols (esnap.c): what a hot-plug looks through. */
	struct lvol_degraded_list degraded;
	uint64_t degraded_count;
	void *ctx;
	TAILQ_ENTRY(lvol_store) link;
};

/* ---- store.c ----------------------------------------------------------------------------- */

struct lvol_store *lvs_alloc(const struct lvs_opts *opts);
void lvs_free(struct lvol_store *lvs);
/* Global registry: store names (registered and reserved), store list. */
bool lvs_name_in_use(const char *name, const struct lvol_store *except);
void lvs_reserve_store_name(struct lvol_store *lvs, const char *name);
void lvs_release_store_name(struct lvol_store *lvs);
int lvs_register(struct lvol_store *lvs);
/* Closes every lvol blob (clones before parents) and the super blob. */
void lvs_close_all(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg);
/* bs_unload / bs_destroy, retried while a background close still holds the store (-EBUSY). */
void lvs_bs_unload(struct blob_store *bs, bool destroy, bs_op_complete cb, void *cb_arg);

/* ---- lvol.c -------------------------------------------------------------------------------- */

bool lv_name_valid(const char *name, size_t max);
/* True if `name` is an lvol of lvs or reserved by an operation on it. */
bool lvol_name_in_use(const struct lvol_store *lvs, const char *name);
void lvol_reserve_name(struct lvol_store *lvs, struct lv_name_resv *r, const char *name);
void lvol_release_name(struct lvol_store *lvs, struct lv_name_resv *r);
struct lvol *lvol_alloc(struct lvol_store *lvs, const char *name, const struct lv_uuid *uuid);
/* Adds an lvol whose blob is open to the store's list and indices. */
int lvol_attach(struct lvol *lvol, struct blob *blob);
/* Removes it from every index and list and frees it (the blob is not touched). */
void lvol_detach_free(struct lvol *lvol);
void lvol_index_uuid(struct lvol *lvol);
struct lvol *lvol_get_by_id(struct lvol_store *lvs, blob_id id);
/* The creation xattrs (spec §7.2): "name" as 64 NUL-padded bytes, then "uuid". */
struct lvol_create_xattrs {
	char name[LVOL_NAME_MAX];
	char uuid[UUID_STRING_LEN];
};
void lvol_create_xattrs_init(struct lvol_create_xattrs *x, struct blob_xattr_opts *opts,
			     const char *name, const struct lv_uuid *uuid);
/*
 * An operation that makes a new lvol (create, snapshot, clone, esnap
 * clone). lvol_new_begin checks and reserves the name and counts the
 * operation on the store (and on `src`, the lvol it starts from); the
 * blobstore call is then given lvol_new_created as its completion, which
 * opens the new blob, makes the lvol live and calls cb.
 */
struct lvol_new_ctx {
	struct lvol_store *lvs;
	struct lvol *lvol;              /* not live yet */
	struct lvol *src;               /* its ops counted, or NULL */
	struct lv_name_resv resv;
	struct lvol_create_xattrs x;
	struct blob_xattr_opts xo;
	blob_id id;
	int adopt_rc;                   /* != 0: a failed snapshot adopted anyway */
	lvol_op_with_handle_complete cb;
	void *cb_arg;
};
/* 0, or -EINVAL (bad name / store), -EEXIST, -EBUSY (unloading), -ENOMEM. */
int lvol_new_begin(struct lvol_store *lvs, const char *name, struct lvol *src,
		   lvol_op_with_handle_complete cb, void *cb_arg, struct lvol_new_ctx **out);
/* blob_op_with_id_complete for the blobstore call that made the blob. */
void lvol_new_created(void *arg, blob_id id, int rc);
/* Ends an operation that failed before reaching the blobstore (cb deferred). */
void lvol_new_abort(struct lvol_new_ctx *c, int rc);

/* One operation on an existing lvol, counted in lvol->ops and lvs->ops. */
struct lvol_op {
	struct lvol *lvol;
	struct lv_name_resv resv;
	bool resv_held;
	char old_value[LVOL_NAME_MAX];
	size_t old_len;
	int rc;
	struct bs_dev *esnap_dev;
	lvol_op_complete cb;
	void *cb_arg;
};
/* 0, or -EINVAL (no lvol) / -EBUSY (being destroyed, store unloading). */
int lvol_op_check(const struct lvol *lvol);
/* Starts an op, or completes cb later with why it cannot start (NULL). */
struct lvol_op *lvol_op_start(struct lvol *lvol, lvol_op_complete cb, void *cb_arg);
void lvol_op_end(struct lvol_op *op, int rc);
/* lvol_op_end as a blob_op_complete. */
void lvol_op_done(void *arg, int rc);

/* ---- later.c ------------------------------------------------------------------------------- */

/* Completions deferred to this thread: callbacks never run inside the call. */
void lv_op_later(lvol_op_complete cb, void *cb_arg, int rc);
void lv_handle_later(lvol_op_with_handle_complete cb, void *cb_arg, int rc);
void lvs_handle_later(lvs_op_with_handle_complete cb, void *cb_arg, int rc);

/* ---- esnap.c ------------------------------------------------------------------------------- */

/* The esnap opener installed in every lvolstore's bs_opts. */
int lvs_esnap_dev_create(void *bs_ctx, void *blob_ctx, struct blob *blob,
			 const void *esnap_id, uint32_t id_len, struct bs_dev **dev);
/*
 * The one way lvol->degraded changes: it also keeps the lvol on (or off)
 * its store's degraded list and the counts. lvol_detach_free calls it
 * with false.
 */
void lvol_set_degraded(struct lvol *lvol, bool degraded);

/* ---- helpers shared by the files ------------------------------------------------------------ */

uint32_t lvs_lvol_depth(struct lvol_store *lvs, const struct lvol *lvol);
/*
 * The lvols of lvs ordered so that every clone comes before its parent
 * snapshot (deepest first); malloc'ed, *n entries. NULL with *n = 0 when
 * there are none; NULL with *n > 0 on -ENOMEM.
 */
struct lvol **lvs_lvols_leaves_first(struct lvol_store *lvs, uint64_t *n);

#endif
