/*
 * lib/blob: the blobstore. One block device (a bs_dev) becomes many blobs:
 * resizable arrays of clusters with metadata pages and extended attributes,
 * thin-provisioned on demand, with snapshots and clones. The on-disk format
 * is SPDK's (../shared/spec/blobstore-format.md), byte for byte, so stores
 * written by either load in the other.
 *
 * Threading: the store and its metadata belong to the thread that loaded
 * or created it (the metadata thread); every function here except the I/O
 * functions runs there. blob I/O runs on any thread through that thread's
 * blobstore channel (bs_alloc_io_channel); thin-provisioning allocations
 * are sent to the metadata thread and come back by message.
 *
 * Every operation completes through its callback on the calling thread,
 * never before the call returns. bserrno is 0 or a negative errno:
 * -ENOMEM, -ENOSPC (no free cluster / metadata page), -ENOENT (no such
 * blob), -EBUSY (blob open, or a snapshot with clones), -EPERM (read-only),
 * -EINVAL (bad argument), -EILSEQ (corrupt metadata), -EIO (device error).
 */
#ifndef LVSTOR_BLOB_H
#define LVSTOR_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lvstor/bs_dev.h"

typedef uint64_t blob_id;
#define BLOB_ID_INVALID UINT64_MAX
#define BS_BSTYPE_LEN 16

struct blob_store;
struct blob;
struct io_channel;

typedef void (*bs_op_complete)(void *cb_arg, int bserrno);
typedef void (*bs_op_with_handle_complete)(void *cb_arg, struct blob_store *bs, int bserrno);
typedef void (*blob_op_complete)(void *cb_arg, int bserrno);
typedef void (*blob_op_with_id_complete)(void *cb_arg, blob_id id, int bserrno);
typedef void (*blob_op_with_handle_complete)(void *cb_arg, struct blob *blob, int bserrno);

/* How the data area is scrubbed when a store is created (spec §6.1). */
enum bs_clear_method {
	BS_CLEAR_WITH_UNMAP,
	BS_CLEAR_WITH_WRITE_ZEROES,
	BS_CLEAR_WITH_NONE,
};

/* How a blob's released clusters are scrubbed (md_ro bits 0-1, spec §4.6). */
enum blob_clear_method {
	BLOB_CLEAR_WITH_DEFAULT = 0,
	BLOB_CLEAR_WITH_NONE = 1,
	BLOB_CLEAR_WITH_UNMAP = 2,
	BLOB_CLEAR_WITH_WRITE_ZEROES = 3,
};

/*
 * Opens the external snapshot named by an esnap clone's EXTSNAP bytes
 * (the application knows what they mean: the lvol layer stores a bdev
 * UUID). Returns 0 with *dev set, or a negative errno (the clone then
 * still opens, with a device that fails reads — spec: missing parents
 * make the blob unusable, not the store).
 */
typedef int (*bs_esnap_dev_create)(void *bs_ctx, void *blob_ctx, struct blob *blob,
				   const void *esnap_id, uint32_t id_len, struct bs_dev **dev);

struct bs_opts {
	size_t opts_size;
	uint32_t cluster_sz;           /* bytes; default 1 MiB (lvol: 4 MiB) */
	uint32_t num_md_pages;         /* 0 = one per cluster */
	uint32_t md_page_size;         /* 0 = max(phys block, 4096) */
	uint32_t max_md_ops;           /* concurrent metadata operations */
	uint32_t max_channel_ops;      /* concurrent I/O per channel */
	enum bs_clear_method clear_method;
	char bstype[BS_BSTYPE_LEN];    /* all zero = untyped / accept any */
	bool force_recover;            /* load: rebuild masks even if clean */
	bs_esnap_dev_create esnap_bs_dev_create;
	void *esnap_ctx;
};
void bs_opts_init(struct bs_opts *opts, size_t opts_size);

/* Creates a new store on dev (spec §6.1). The store owns dev from now on. */
void bs_init(struct bs_dev *dev, const struct bs_opts *opts, bs_op_with_handle_complete cb,
	     void *cb_arg);
/*
 * Loads the store on dev (spec §6.9): validates the superblock (-EILSEQ on
 * a bad signature/version/CRC, -ENXIO on a bstype mismatch), reads the
 * masks or recovers them after a dirty shutdown, and finishes interrupted
 * snapshot operations. On failure dev is destroyed.
 */
void bs_load(struct bs_dev *dev, const struct bs_opts *opts, bs_op_with_handle_complete cb,
	     void *cb_arg);
/* Writes the masks and a clean superblock (spec §6.8), then frees the store and dev. */
void bs_unload(struct blob_store *bs, bs_op_complete cb, void *cb_arg);
/* Zeroes the superblock and frees the store and dev. */
void bs_destroy(struct blob_store *bs, bs_op_complete cb, void *cb_arg);
/* The device grew: extend the cluster mask and size (spec §6.7 live grow). */
void bs_grow_live(struct blob_store *bs, bs_op_complete cb, void *cb_arg);

void bs_set_super(struct blob_store *bs, blob_id id, bs_op_complete cb, void *cb_arg);
blob_id bs_get_super(struct blob_store *bs);
uint64_t bs_get_cluster_size(const struct blob_store *bs);
uint32_t bs_get_md_page_size(const struct blob_store *bs);
uint32_t bs_get_io_unit_size(const struct blob_store *bs);
uint64_t bs_get_free_cluster_count(const struct blob_store *bs);
uint64_t bs_get_total_data_cluster_count(const struct blob_store *bs);
/*
 * The largest size in bytes the store could grow to with bs_grow_live (spec
 * §8): what the pages reserved for the cluster mask can describe,
 * ((R x md_page_size) - 5) x 8 clusters (at most 2^32 - 1) x cluster size.
 */
uint64_t bs_get_max_growable_size(const struct blob_store *bs);
struct bs_dev *bs_get_dev(struct blob_store *bs);
void bs_get_bstype(const struct blob_store *bs, char bstype[BS_BSTYPE_LEN]);

/* This thread's channel for blob I/O (put with bs_free_io_channel). */
struct io_channel *bs_alloc_io_channel(struct blob_store *bs);
void bs_free_io_channel(struct io_channel *ch);

/* ---- blobs ---------------------------------------------------------------- */

struct blob_xattr_opts {
	size_t count;
	const char *const *names;
	void *ctx;
	void (*get_value)(void *ctx, const char *name, const void **value, size_t *value_len);
};

struct blob_opts {
	size_t opts_size;
	uint64_t num_clusters;
	bool thin_provision;
	enum blob_clear_method clear_method;
	struct blob_xattr_opts xattrs;
	bool use_extent_table;          /* default true; false = RLE (old format) */
	const void *esnap_id;           /* non-NULL: create an esnap clone */
	uint32_t esnap_id_len;
};
void blob_opts_init(struct blob_opts *opts, size_t opts_size);

void bs_create_blob(struct blob_store *bs, const struct blob_opts *opts,
		    blob_op_with_id_complete cb, void *cb_arg);
/* Opens (or takes another reference on) a blob. */
void bs_open_blob(struct blob_store *bs, blob_id id, blob_op_with_handle_complete cb,
		  void *cb_arg);
/* Drops a reference; the last close persists pending metadata. */
void blob_close(struct blob *blob, blob_op_complete cb, void *cb_arg);
/*
 * Deletes a blob nobody has open (spec §6.6); -EBUSY if someone does. A
 * snapshot with one clone is merged into the clone, and may be deleted
 * while that clone is open and in use (the clone's own hold on its parent
 * does not count as "open"); one with more clones: -EBUSY.
 */
void bs_delete_blob(struct blob_store *bs, blob_id id, blob_op_complete cb, void *cb_arg);
/* Iterates every blob that opens (spec §10.11: blobs that fail to open are skipped). */
void bs_iter_first(struct blob_store *bs, blob_op_with_handle_complete cb, void *cb_arg);
/* Closes `prev` and opens the next; -ENOENT at the end. */
void bs_iter_next(struct blob_store *bs, struct blob *prev, blob_op_with_handle_complete cb,
		  void *cb_arg);

/* In-memory only until blob_sync_md (or close). -EPERM when read-only. */
void blob_resize(struct blob *blob, uint64_t num_clusters, blob_op_complete cb, void *cb_arg);
void blob_sync_md(struct blob *blob, blob_op_complete cb, void *cb_arg);
int blob_set_read_only(struct blob *blob);
int blob_set_xattr(struct blob *blob, const char *name, const void *value, uint16_t value_len);
int blob_remove_xattr(struct blob *blob, const char *name);
int blob_get_xattr_value(struct blob *blob, const char *name, const void **value,
			 size_t *value_len);
/* Names of the application xattrs, in order; *names is malloc'ed (free it). */
int blob_get_xattr_names(struct blob *blob, const char ***names, size_t *count);

blob_id blob_get_id(const struct blob *blob);
uint64_t blob_get_num_clusters(const struct blob *blob);
uint64_t blob_get_num_allocated_clusters(const struct blob *blob);
uint64_t blob_get_num_io_units(const struct blob *blob);
bool blob_is_thin_provisioned(const struct blob *blob);
bool blob_is_read_only(const struct blob *blob);
bool blob_is_snapshot(const struct blob *blob);      /* some blob names it in SNAP */
bool blob_is_clone(const struct blob *blob);         /* has a SNAP parent */
bool blob_is_esnap_clone(const struct blob *blob);
/*
 * An esnap clone without its external snapshot device (it did not open
 * when the blob did, or the store has no opener): reads of what it does
 * not own fail with -ENODEV until blob_esnap_attach gives it one.
 */
bool blob_esnap_dev_missing(const struct blob *blob);
enum blob_clear_method blob_get_clear_method(const struct blob *blob);
/* The EXTSNAP bytes of an esnap clone. */
int blob_get_esnap_id(struct blob *blob, const void **id, size_t *len);
/* True if the blob's cluster slot holding io unit `offset` is allocated. */
bool blob_io_unit_is_allocated(const struct blob *blob, uint64_t offset);

/* Parent snapshot of a clone, BLOB_ID_INVALID if none. */
blob_id bs_get_parent_snapshot(struct blob_store *bs, blob_id id);
/* Clones of a snapshot: fills ids (up to *count) and sets *count to the total; -ENOMEM if short. */
int bs_get_clones(struct blob_store *bs, blob_id id, blob_id *ids, size_t *count);

/* ---- I/O (any thread, through its channel; offsets/lengths in io units) --- */

void blob_io_read(struct blob *blob, struct io_channel *ch, void *payload, uint64_t offset,
		  uint64_t length, blob_op_complete cb, void *cb_arg);
void blob_io_write(struct blob *blob, struct io_channel *ch, void *payload, uint64_t offset,
		   uint64_t length, blob_op_complete cb, void *cb_arg);
void blob_io_readv(struct blob *blob, struct io_channel *ch, struct iovec *iov, int iovcnt,
		   uint64_t offset, uint64_t length, blob_op_complete cb, void *cb_arg);
void blob_io_writev(struct blob *blob, struct io_channel *ch, struct iovec *iov, int iovcnt,
		    uint64_t offset, uint64_t length, blob_op_complete cb, void *cb_arg);
void blob_io_write_zeroes(struct blob *blob, struct io_channel *ch, uint64_t offset,
			  uint64_t length, blob_op_complete cb, void *cb_arg);
void blob_io_unmap(struct blob *blob, struct io_channel *ch, uint64_t offset, uint64_t length,
		   blob_op_complete cb, void *cb_arg);
/*
 * Makes every write completed on the store's device so far durable (a
 * device flush through this channel): what a FLUSH of a volume on the blob
 * needs. Metadata commits (first writes included) flush on their own.
 */
void blob_io_flush(struct blob *blob, struct io_channel *ch, blob_op_complete cb, void *cb_arg);

/* ---- snapshots and clones (spec §5.4-5.7, §6.6) ------------------------------ */

/* Snapshot of blob `id` (which must be closed... or open: I/O is frozen meanwhile). */
void bs_create_snapshot(struct blob_store *bs, blob_id id,
			const struct blob_xattr_opts *snapshot_xattrs,
			blob_op_with_id_complete cb, void *cb_arg);
/* Clone of a read-only blob. */
void bs_create_clone(struct blob_store *bs, blob_id snapshot_id,
		     const struct blob_xattr_opts *clone_xattrs, blob_op_with_id_complete cb,
		     void *cb_arg);
/* Allocates every cluster (copying from the chain) and detaches from the parent. */
void bs_inflate_blob(struct blob_store *bs, struct io_channel *ch, blob_id id,
		     blob_op_complete cb, void *cb_arg);
/* Copies only what the parent provides, then re-points to the grandparent. */
void bs_blob_decouple_parent(struct blob_store *bs, struct io_channel *ch, blob_id id,
			     blob_op_complete cb, void *cb_arg);
void bs_blob_set_parent(struct blob_store *bs, blob_id id, blob_id snapshot_id,
			blob_op_complete cb, void *cb_arg);
void bs_blob_set_external_parent(struct blob_store *bs, blob_id id, struct bs_dev *esnap_dev,
				 const void *esnap_id, uint32_t id_len, blob_op_complete cb,
				 void *cb_arg);
/*
 * Gives an open esnap clone whose external snapshot was missing (its
 * device did not open at load, or there was no opener) that device now:
 * reads of what the blob does not own go to `dev` from then on, on every
 * channel, as if it had opened at load. Nothing on disk changes; the
 * caller is responsible for `dev` being the one EXTSNAP names
 * (blob_get_esnap_id). The blob's I/O is frozen for the switch. Metadata
 * thread only. cb(cb_arg, 0): the blob owns dev (destroyed with the
 * handle). Otherwise dev stays the caller's: -EINVAL when the blob is not
 * an esnap clone, already has its device, or dev's block size does not
 * divide the io unit; -EBUSY while the store unloads or another snapshot
 * operation runs on the blob; -ENOMEM.
 */
void blob_esnap_attach(struct blob *blob, struct bs_dev *dev, blob_op_complete cb, void *cb_arg);

#endif
