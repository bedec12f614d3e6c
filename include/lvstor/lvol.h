/*
 * lib/lvol: logical volumes on a blobstore (spec/blobstore-format.md §7).
 *
 * An lvolstore ("lvs") is a blobstore of type LVOLSTORE whose super blob
 * carries the store's name and UUID; every other blob is an lvol (plain
 * volume, snapshot, clone or esnap clone) with "name" and "uuid" xattrs.
 * Names: 1..63 characters, unique among loaded stores (stores) and within
 * a store (lvols); the UUID is the stable identity.
 *
 * Threading: a store and its lvols belong to the thread that created or
 * loaded it (the app thread for lvstord); every function here runs there,
 * and callbacks run there too, never before the call returns. Errors are
 * negative errnos: -EINVAL (bad name/size), -EEXIST (name in use),
 * -ENOSPC, -EBUSY (open by a consumer, or a snapshot with several clones),
 * -EPERM (read-only), -ENODEV, -ENOMEM, -EILSEQ (corrupt store).
 */
#ifndef LVSTOR_LVOL_H
#define LVSTOR_LVOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvstor/blob.h"
#include "lvstor/util.h"

#define LVS_NAME_MAX 64    /* bytes including the NUL: 63 characters */
#define LVOL_NAME_MAX 64
#define LVS_DEFAULT_CLUSTER_SIZE (4u * 1024 * 1024)
#define LVS_DEFAULT_MD_PAGES_RATIO 100

struct lvol_store;
struct lvol;

enum lvs_clear_method {
	LVS_CLEAR_WITH_UNMAP = BS_CLEAR_WITH_UNMAP,
	LVS_CLEAR_WITH_WRITE_ZEROES = BS_CLEAR_WITH_WRITE_ZEROES,
	LVS_CLEAR_WITH_NONE = BS_CLEAR_WITH_NONE,
};

/* Values equal the blob's (spec §7.2). */
enum lvol_clear_method {
	LVOL_CLEAR_WITH_DEFAULT = BLOB_CLEAR_WITH_DEFAULT,
	LVOL_CLEAR_WITH_NONE = BLOB_CLEAR_WITH_NONE,
	LVOL_CLEAR_WITH_UNMAP = BLOB_CLEAR_WITH_UNMAP,
	LVOL_CLEAR_WITH_WRITE_ZEROES = BLOB_CLEAR_WITH_WRITE_ZEROES,
};

struct lvs_opts {
	size_t opts_size;
	uint32_t cluster_sz;                      /* default 4 MiB */
	enum lvs_clear_method clear_method;       /* default unmap */
	char name[LVS_NAME_MAX];
	uint32_t num_md_pages_per_cluster_ratio;  /* default 100 */
	uint32_t md_page_size;                    /* 0 = max(4096, phys block) */
	/*
	 * Opens external snapshots of esnap clones (the bdev module supplies
	 * it). Called as esnap_bs_dev_create(esnap_ctx, blob_ctx = the struct
	 * lvol_store *, blob, id, id_len, &dev), also while the store is still
	 * loading; a non-zero return makes that lvol degraded (still listed).
	 */
	bs_esnap_dev_create esnap_bs_dev_create;
	void *esnap_ctx;
};
void lvs_opts_init(struct lvs_opts *opts, size_t opts_size);

typedef void (*lvs_op_complete)(void *cb_arg, int lvserrno);
typedef void (*lvs_op_with_handle_complete)(void *cb_arg, struct lvol_store *lvs, int lvserrno);
typedef void (*lvol_op_complete)(void *cb_arg, int lvolerrno);
typedef void (*lvol_op_with_handle_complete)(void *cb_arg, struct lvol *lvol, int lvolerrno);

/* ---- stores --------------------------------------------------------------- */

/*
 * Creates a store on dev (which it then owns): blobstore init with type
 * LVOLSTORE, super blob with "uuid" and "name" (spec §7.5). Returns
 * -EEXIST at once if the name is taken, -EINVAL for a bad name/options
 * (the caller then still owns dev); otherwise cb later (on failure the
 * device has been released).
 */
int lvs_init(struct bs_dev *dev, const struct lvs_opts *opts, lvs_op_with_handle_complete cb,
	     void *cb_arg);
/*
 * Loads the store on dev and every lvol in it (opened, bounded
 * concurrency). -EILSEQ if it is not an lvolstore or is corrupt, -EEXIST if
 * a loaded store has the same name. On failure dev is released.
 */
void lvs_load(struct bs_dev *dev, const struct lvs_opts *opts, lvs_op_with_handle_complete cb,
	      void *cb_arg);
/* Closes every lvol and unloads cleanly. -EBUSY if a consumer has one open. */
int lvs_unload(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg);
/* Deletes every lvol, then the store (superblock zeroed). -EBUSY as above. */
int lvs_destroy(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg);
void lvs_rename(struct lvol_store *lvs, const char *new_name, lvs_op_complete cb, void *cb_arg);
/* The device grew: extend the store (bounded by the reserved metadata). */
void lvs_grow_live(struct lvol_store *lvs, lvs_op_complete cb, void *cb_arg);

struct lvol_store *lvs_get_by_name(const char *name);
struct lvol_store *lvs_get_by_uuid(const struct lv_uuid *uuid);
struct lvol_store *lvs_first(void);
struct lvol_store *lvs_next(struct lvol_store *prev);

const char *lvs_get_name(const struct lvol_store *lvs);
const struct lv_uuid *lvs_get_uuid(const struct lvol_store *lvs);
struct blob_store *lvs_get_blobstore(struct lvol_store *lvs);
uint64_t lvs_get_cluster_size(const struct lvol_store *lvs);
uint64_t lvs_get_total_data_clusters(const struct lvol_store *lvs);
uint64_t lvs_get_free_clusters(const struct lvol_store *lvs);
uint32_t lvs_get_block_size(const struct lvol_store *lvs);
uint64_t lvs_get_max_growable_size(const struct lvol_store *lvs);
/* The application's pointer (the bdev module keeps its per-store state here). */
void lvs_set_ctx(struct lvol_store *lvs, void *ctx);
void *lvs_get_ctx(const struct lvol_store *lvs);

/* ---- lvols ------------------------------------------------------------------ */

/*
 * Creates an lvol of size_bytes (rounded up to clusters). Returns -EINVAL
 * (bad name) or -EEXIST at once; -ENOSPC etc. through cb.
 */
int lvol_create(struct lvol_store *lvs, const char *name, uint64_t size_bytes, bool thin,
		enum lvol_clear_method clear_method, lvol_op_with_handle_complete cb,
		void *cb_arg);
/* Snapshot of `lvol` named `name` in the same store (lvol becomes its clone). */
void lvol_create_snapshot(struct lvol *lvol, const char *name, lvol_op_with_handle_complete cb,
			  void *cb_arg);
/* Clone of a snapshot (read-only lvol); -EINVAL if `snapshot` is writable. */
void lvol_create_clone(struct lvol *snapshot, const char *name, lvol_op_with_handle_complete cb,
		       void *cb_arg);
/*
 * Clone of an external snapshot identified by esnap_id (the bdev module
 * passes the external bdev's UUID string, 37 bytes with the NUL, spec §7.4)
 * of size_bytes.
 */
void lvol_create_esnap_clone(const void *esnap_id, uint32_t id_len, uint64_t size_bytes,
			     struct lvol_store *lvs, const char *name,
			     lvol_op_with_handle_complete cb, void *cb_arg);
void lvol_rename(struct lvol *lvol, const char *new_name, lvol_op_complete cb, void *cb_arg);
void lvol_resize(struct lvol *lvol, uint64_t size_bytes, lvol_op_complete cb, void *cb_arg);
void lvol_set_read_only(struct lvol *lvol, lvol_op_complete cb, void *cb_arg);
/*
 * Deletes the lvol. -EBUSY while a consumer has it open (lvol_open) or an
 * operation on it is in flight; -EPERM when it is a snapshot with more
 * than one clone (the RPC's "Operation not permitted"); a snapshot with
 * one clone is merged into that clone.
 */
void lvol_destroy(struct lvol *lvol, lvol_op_complete cb, void *cb_arg);
/* False for a snapshot with more than one clone (lvol_destroy would refuse). */
bool lvol_is_deletable(const struct lvol *lvol);
void lvol_inflate(struct lvol *lvol, lvol_op_complete cb, void *cb_arg);
void lvol_decouple_parent(struct lvol *lvol, lvol_op_complete cb, void *cb_arg);
void lvol_set_parent(struct lvol *lvol, struct lvol *snapshot, lvol_op_complete cb,
		     void *cb_arg);
void lvol_set_external_parent(struct lvol *lvol, const void *esnap_id, uint32_t id_len,
			      lvol_op_complete cb, void *cb_arg);

/*
 * Degraded lvols of `lvs` (esnap clones whose external snapshot is
 * missing), or of every store in memory when lvs is NULL. O(1): callers
 * check it before looking for lvols that wait for a new device.
 */
uint64_t lvs_get_degraded_count(const struct lvol_store *lvs);
/*
 * An external snapshot has appeared: hot-plug. For every degraded lvol of
 * `lvs` whose EXTSNAP bytes equal esnap_id (the bdev module passes the new
 * bdev's UUID string, 37 bytes with its NUL, spec §7.4), or for every
 * degraded lvol when esnap_id is NULL and id_len 0 (retry them all), the
 * store's opener (lvs_opts.esnap_bs_dev_create) is called again; an lvol
 * whose device now opens is given it (blob_esnap_attach; nothing is
 * written) and stops being degraded, as if the device had been there at
 * load. An lvol whose opener fails again is left as it was, and no
 * callback mentions it.
 *
 * Returns how many lvols are being attached. When that is > 0,
 * lvol_cb(cb_arg, lvol, rc) runs later for each of them, once its attach
 * is over (rc 0: no longer degraded; otherwise still degraded, rc says
 * why), then done(cb_arg, 0) once. When it is 0 (nothing waits for that
 * id, the store has no opener, or it is unloading) neither runs.
 * -EINVAL (no store or callbacks, id NULL with a length or a length
 * without id) and -ENOMEM start nothing. The store cannot unload while an
 * attach runs (its operations count).
 */
int lvs_esnap_hotplug(struct lvol_store *lvs, const void *esnap_id, uint32_t id_len,
		      lvol_op_with_handle_complete lvol_cb, lvs_op_complete done, void *cb_arg);

/* Consumer references (the lvol bdev's open descriptors). */
void lvol_open(struct lvol *lvol);
void lvol_close(struct lvol *lvol);
bool lvol_is_open(const struct lvol *lvol);

struct lvol *lvol_get_by_name(struct lvol_store *lvs, const char *name);
struct lvol *lvol_get_by_uuid(const struct lv_uuid *uuid);   /* any loaded store */
struct lvol *lvol_first(struct lvol_store *lvs);
struct lvol *lvol_next(struct lvol *prev);

const char *lvol_get_name(const struct lvol *lvol);
/* All zero when the volume's "uuid" xattr was missing or malformed (spec §7.2). */
const struct lv_uuid *lvol_get_uuid(const struct lvol *lvol);
struct lvol_store *lvol_get_store(const struct lvol *lvol);
struct blob *lvol_get_blob(struct lvol *lvol);
uint64_t lvol_get_size(const struct lvol *lvol);         /* bytes */
uint64_t lvol_get_num_clusters(const struct lvol *lvol);
uint64_t lvol_get_num_allocated_clusters(const struct lvol *lvol);
bool lvol_is_thin(const struct lvol *lvol);
bool lvol_is_read_only(const struct lvol *lvol);
bool lvol_is_snapshot(const struct lvol *lvol);
bool lvol_is_clone(const struct lvol *lvol);
bool lvol_is_esnap_clone(const struct lvol *lvol);
/*
 * An esnap clone whose external parent is missing: listed, no bdev. It
 * stops being degraded when the parent appears (lvs_esnap_hotplug).
 */
bool lvol_is_degraded(const struct lvol *lvol);
enum lvol_clear_method lvol_get_clear_method(const struct lvol *lvol);
/* Parent snapshot lvol of a clone, or NULL. */
struct lvol *lvol_get_parent(struct lvol *lvol);
/* Clones of a snapshot: up to max into clones[], returns the total. */
size_t lvol_get_clones(struct lvol *lvol, struct lvol **clones, size_t max);
/* EXTSNAP bytes of an esnap clone. */
int lvol_get_esnap_id(struct lvol *lvol, const void **id, size_t *len);
void lvol_set_ctx(struct lvol *lvol, void *ctx);
void *lvol_get_ctx(const struct lvol *lvol);

#endif
