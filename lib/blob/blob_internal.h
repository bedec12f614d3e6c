/*
 * lib/blob/blob_internal.h: the blobstore's private structures and the
 * internal functions its files call on each other.
 *
 *   API STABLE (struct layout and function list are settled; fields and
 *   functions may be ADDED, nothing here will be renamed or removed
 *   without telling io.c / thin.c / snapshot.c).
 *
 * Who owns what:
 *   store.c      struct blob_store lifecycle: init, load, unload, destroy,
 *                grow, super blob, dirty marking, cluster / md page
 *                allocation, the parent index, md-thread helpers.
 *   recovery.c   the §6.9 recovery walk and the load-time blob scan.
 *   metadata.c   reading a blob's metadata (open) and blob_persist(),
 *                blob_insert_cluster(), blob_remove_cluster(): every write
 *                of blob metadata pages, in the safe orders of
 *                doc/on-disk-format.md.
 *   blob.c       blob lifecycle: create, open, close, delete, resize,
 *                read-only, iteration, getters, parent queries.
 *   xattr.c      application and internal xattrs.
 *   io.c/thin.c  (data path engineer) channels, blob_io_*, first-write
 *                allocation; implement the "data-path hooks" below.
 *   snapshot.c   (snapshot engineer) snapshots, clones, inflate, decouple,
 *                set parent, delete-with-one-clone merge, load fix-up.
 *
 * ---- Threads ---------------------------------------------------------------
 *
 * The store has one metadata thread (bs->md_thread): the thread that called
 * bs_init() or bs_load(). Every function in this header runs on the md
 * thread unless its comment says otherwise; struct blob_store and every
 * field of struct blob except those marked "any thread" are touched only
 * there. An I/O thread that needs metadata work (thin allocation) sends a
 * message with bs_send_md_msg() and gets its answer back by message.
 *
 * Callbacks: every asynchronous function here completes through its
 * callback on the md thread, never before the function returns (use
 * bs_complete_later() when an answer is known at once).
 *
 * ---- The cluster map, seen from I/O threads -------------------------------
 *
 * blob->active.clusters[k] is the disk cluster of slot k (0 = unallocated).
 * I/O threads read it without a lock ("any thread"): a slot changes from 0
 * to a cluster (blob_insert_cluster) or back (blob_remove_cluster) with one
 * aligned 32-bit store on the md thread; the array itself is reallocated
 * (resize, snapshot swap) only between blob_freeze_io() and
 * blob_unfreeze_io(), when no I/O of the blob is in flight.
 * active.num_clusters follows the same rule.
 *
 * ---- Metadata state and safe persist --------------------------------------
 *
 * "active" is the blob as it is now in memory; what the on-disk root
 * currently commits is described by `clean` (its chain pages) and by the
 * per-group extent-page states (enum blob_ep_state). The rule that makes
 * every persist atomic: before the root write (the commit), a persist
 * writes only pages that no committed root references (fresh pages);
 * pages the old state referenced are zeroed and released only after the
 * commit. A committed extent page is rewritten in place only by a
 * single-slot change that keeps its entry count (blob_insert_cluster /
 * blob_remove_cluster), where that one atomic write is itself the commit.
 *
 * Releases are explicit, never derived from diffs (a snapshot moves maps
 * between blobs, and a diff would free clusters that only changed owner):
 * whoever drops a cluster or a page from the active state of a blob puts it
 * on blob->release; the next successful persist of that blob releases it
 * after its commit (scrubbing clusters with the blob's clear method, zeroing
 * md pages, then clearing the bits).
 *
 * ---- Notes for snapshot.c ------------------------------------------------
 *
 *  - Moving a map (§5.4 step 2, with B's I/O frozen): swap the whole
 *    `active` structs of B and S (clusters, extent_pages AND ep_state move
 *    together). B's extent pages stay EP_COMMITTED in S: S's root will name
 *    them without rewriting them (their id stays B's, as in SPDK), and no
 *    persist ever writes a committed page. Leave `clean` and `release` of
 *    each blob where they are (they describe that blob's own chain), put
 *    nothing on release, and call blob_md_changed() on both.
 *  - Merging S into its clone C (§6.6, copy-on-write): per group k, if C
 *    has no page and S has one, C adopts it (C: page, EP_COMMITTED; S:
 *    page 0, EP_NONE, so deleting S neither zeroes nor frees it); if both
 *    have one, fill C's empty slots from S and blob_ep_mark_changed(C, k):
 *    C's next persist copies that page instead of rewriting it, and that
 *    same root write re-points SNAP. Then zero in S every slot C took, and
 *    finish with blob_delete_opened(S).
 *  - bs_create_blob_internal() creates a blob with its internal xattrs
 *    (SNAPTMP, SNAP) in one commit; bs_parent_index_set() keeps the
 *    snapshot index right after every SNAP change.
 */
#ifndef LVSTOR_BLOB_INTERNAL_H
#define LVSTOR_BLOB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

#include "format.h"

struct blob;
struct blob_store;
struct bs_request;        /* io.c: one blob I/O (frozen-I/O queue) */
struct blob_md_op;        /* metadata.c: one queued metadata write */
struct blob_open_waiter;  /* blob.c */

/* ---- small growable arrays ---------------------------------------------------- */

struct u32_vec {
	uint32_t *v;
	uint32_t n;
	uint32_t cap;
};
/* Appends; 0 or -ENOMEM. */
int u32_vec_push(struct u32_vec *vec, uint32_t x);
void u32_vec_free(struct u32_vec *vec);

/* ---- the store ---------------------------------------------------------------------- */

/* Dirty marking (spec §2.4): has the superblock been written with clean = 0? */
enum bs_dirty_state {
	BS_SB_CLEAN_ON_DISK,      /* loaded clean: mark dirty before any md write */
	BS_SB_MARKING,            /* the clean = 0 write is in flight (waiters queue) */
	BS_SB_DIRTY_ON_DISK,      /* superblock says clean = 0: nothing to do */
};

struct bs_dirty_waiter;
struct sb_write_ctx;

struct blob_store {
	struct bs_dev *dev;
	struct thread *md_thread;         /* thread of bs_init / bs_load */
	struct io_channel *md_ch;         /* dev channel of the md thread */

	struct bs_opts opts;              /* as given (esnap_bs_dev_create, ctx, ...) */
	struct bsf_layout layout;         /* effective geometry */
	struct bsf_super super;           /* host form of the superblock on disk */
	uint8_t *super_buf;               /* the 4096 bytes last read / written (dma) */

	/* Derived constants. */
	uint32_t cluster_sz;              /* bytes */
	uint32_t md_page_size;            /* bytes */
	uint32_t io_unit_size;            /* bytes */
	uint64_t io_units_per_cluster;
	uint64_t lbas_per_cluster;        /* cluster_sz / dev->blocklen */
	uint64_t lbas_per_md_page;        /* md_page_size / dev->blocklen */
	uint32_t total_clusters;          /* bits of used_clusters */
	uint32_t num_md_clusters;

	/* Allocation state (spec §3), exact while the store is loaded. */
	struct bit_array *used_md_pages;  /* md_len bits */
	struct bit_array *used_blobids;   /* md_len bits */
	struct bit_array *used_clusters;  /* total_clusters bits */
	uint64_t num_free_clusters;
	uint32_t num_free_md_pages;       /* clear bits of used_md_pages */
	uint32_t md_page_hint;            /* no free md page below it */
	uint32_t cluster_hint;            /* no free cluster below it */

	blob_id super_blob;
	uint8_t bstype[BS_BSTYPE_LEN];
	enum bs_clear_method clear_method;

	enum bs_dirty_state dirty;
	TAILQ_HEAD(, bs_dirty_waiter) dirty_waiters;

	/* Open (and opening / deleting) blobs. */
	TAILQ_HEAD(blob_list, blob) blobs;
	uint32_t num_open_blobs;
	/*
	 * The same handles indexed by root page (blob.c): open_index[p] is the
	 * handle of the blob whose id names page p, or NULL. It makes
	 * bs_find_blob O(1) (a store keeps thousands of blobs open: the lvol
	 * layer holds every lvol's blob). Put handles in and take them out
	 * with bs_blob_link / bs_blob_unlink only: nothing else may change
	 * the list, so the two always agree.
	 */
	struct blob **open_index;         /* [md_len] */
	/* Metadata operations in flight that hold no open blob (deletes, set_super). */
	uint32_t md_ops_in_flight;
	bool unloading;
	void *unload_ctx;                 /* store.c: the unload waiting for bs_io_fini */
	TAILQ_HEAD(, sb_write_ctx) sb_queue; /* store.c: superblock rewrites, one at a time */

	/*
	 * Parent index (spec §5.2: a blob is a snapshot because others name it
	 * in SNAP). parent_of[p] = 1 + region page of the parent snapshot of
	 * the blob whose root is page p, 0 = none; clones_of[p] = how many
	 * blobs name blob p as parent. Built at load, kept by create, delete,
	 * and through bs_parent_index_set() by snapshot.c.
	 */
	uint32_t *parent_of;              /* [md_len] */
	uint32_t *clones_of;              /* [md_len] */
	/*
	 * Blobs found at load carrying SNAPTMP or SNAPRM (spec §6.10), for
	 * snapshot_fixup_after_load(); bit = root page index. May be NULL if
	 * none was found.
	 */
	struct bit_array *snap_pending;
	/* Roots that recovery quarantined (double ownership): not openable. */
	struct bit_array *bad_blobs;      /* md_len bits, or NULL */

	/*
	 * The io_device of blob I/O channels is the store pointer itself; io.c
	 * registers it in bs_io_init() and unregisters it in bs_io_fini().
	 */
	void *io_priv;                    /* io.c private, store-wide */
	void *snap_priv;                  /* snapshot.c private, store-wide */

	/* Counters (tests, RPC output). */
	uint64_t stat_md_writes;
	uint64_t stat_persists;
	bool recovered;                   /* the last load ran recovery */
};

/* ---- blobs -------------------------------------------------------------------------- */

enum blob_state {
	BLOB_STATE_LOADING,               /* bs_open_blob reading metadata */
	BLOB_STATE_OPEN,
	BLOB_STATE_CLOSING,               /* last close persisting */
	BLOB_STATE_DELETING,
};

/*
 * State of one extent-page group (ET blobs). The page number lives in
 * active.extent_pages[k] (0 = none; then the state is EP_NONE).
 */
enum blob_ep_state {
	EP_NONE = 0,              /* no extent page: every slot of the group is 0 */
	EP_FRESH,                 /* claimed, referenced by no committed root: the
	                             next persist writes it in place, freely */
	EP_COMMITTED,             /* referenced by the committed root (of this
	                             blob or, after a snapshot, another) and equal
	                             to the map: never written by a persist */
	EP_COMMITTED_CHANGED,     /* referenced by a committed root but the map
	                             changed (count or merged entries): the next
	                             persist copies it to a fresh page (COW) and
	                             releases this one after the commit */
	EP_WRITING,               /* a persist in flight is writing it */
	EP_WRITING_CHANGED,       /* ... and the map changed meanwhile */
};

/* The blob as it is in memory now. */
struct blob_active {
	uint64_t num_clusters;            /* any thread (see the header comment) */
	uint32_t *clusters;               /* [num_clusters] (any thread); cap below */
	uint64_t cluster_cap;
	/* BSF_EXTENT_TABLE only: [num_extent_pages] = ceil(num_clusters / 512). */
	uint32_t *extent_pages;           /* region page of group k, 0 = none */
	uint8_t *ep_state;                /* enum blob_ep_state per group */
	uint32_t num_extent_pages;
	uint32_t ep_cap;
};

/* What the committed root describes (besides the extent-page states). */
struct blob_clean {
	struct u32_vec pages;             /* chain pages, root first (root = id's page) */
	uint64_t num_clusters;            /* committed size */
};

/* Things to give back after the next successful commit of this blob. */
struct blob_release {
	struct u32_vec clusters;          /* scrub with the clear method, then free */
	struct u32_vec md_pages;          /* zero, then free */
};

struct blob_xattrs {
	struct bsf_xattr *x;              /* in disk order; each owns its block */
	uint32_t n;
	uint32_t cap;
};

struct blob {
	struct blob_store *bs;            /* any thread */
	blob_id id;                       /* any thread */
	uint32_t ref;                     /* bs_open_blob references */
	enum blob_state state;
	TAILQ_ENTRY(blob) link;           /* bs->blobs */

	/* FLAGS (spec §4.6), as they will be persisted. */
	uint64_t invalid_flags;
	uint64_t data_ro_flags;
	uint64_t md_ro_flags;
	/*
	 * Effective read-only state (any thread): set at open from the flags,
	 * and by a successful persist after blob_set_read_only(). data_ro
	 * implies md_ro.
	 */
	bool data_ro;
	bool md_ro;

	enum bsf_extent_format format;
	struct blob_active active;
	struct blob_clean clean;
	struct blob_release release;

	struct blob_xattrs xattrs;        /* application (type 2) */
	struct blob_xattrs xattrs_internal; /* internal (type 4) */

	/*
	 * Unsaved changes: bumped by every in-memory metadata change. A persist
	 * records it at its start; the blob is clean when md_gen == clean_gen.
	 */
	uint64_t md_gen;
	uint64_t clean_gen;

	/* Queued metadata writes (persists, in-place extent updates): one at a time. */
	TAILQ_HEAD(, blob_md_op) md_ops;
	bool md_op_running;

	/* Closes whose final persist is still running (blob.c). */
	uint32_t close_pending;

	/* Openers waiting while state == LOADING. */
	TAILQ_HEAD(, blob_open_waiter) open_waiters;

	/*
	 * Parent (spec §5.3). parent_id: the SNAP value of a thin non-esnap
	 * blob, else BLOB_ID_INVALID. parent: that blob, opened (one reference
	 * held by this blob) when this blob was opened. back_bs_dev: the
	 * external snapshot device of an esnap clone (from
	 * opts.esnap_bs_dev_create), NULL when it could not be opened or for
	 * other blobs (a thin blob without parent reads zeroes). Any thread
	 * may read these three while it has I/O on the blob.
	 */
	blob_id parent_id;
	struct blob *parent;
	struct bs_dev *back_bs_dev;
	int esnap_rc;                     /* result of esnap_bs_dev_create */

	/*
	 * Frozen I/O (snapshot create, resize): io.c's freeze counter and the
	 * queue of requests held meanwhile. Owned by io.c.
	 */
	uint32_t frozen_refcnt;
	TAILQ_HEAD(, bs_request) frozen_io;

	void *io_priv;                    /* io.c / thin.c private, per blob */
	void *snap_priv;                  /* snapshot.c private, per blob */
};

static inline bool
blob_is_thin(const struct blob *blob)
{
	return (blob->invalid_flags & BSF_INVALID_THIN_PROV) != 0;
}

/* Mark the in-memory metadata changed (the next persist / close writes it). */
static inline void
blob_md_changed(struct blob *blob)
{
	blob->md_gen++;
}

static inline bool
blob_md_is_dirty(const struct blob *blob)
{
	return blob->md_gen != blob->clean_gen;
}

/* ---- md thread and completions (store.c) --------------------------------------------- */

static inline bool
bs_on_md_thread(const struct blob_store *bs)
{
	return thread_get_current() == bs->md_thread;
}

/* A completion that only logs a failure (background closes). */
void bs_noop_complete(void *cb_arg, int bserrno);

/* Runs fn(ctx) on the md thread (any thread may call). 0 or thread_send_msg's errno. */
int bs_send_md_msg(struct blob_store *bs, thread_msg_fn fn, void *ctx);

/*
 * Calls cb(cb_arg, rc) later, on the current thread (by message), so that
 * a function that knows its answer at once still keeps the "never before
 * the call returns" rule. Aborts on message-pool exhaustion (programmer
 * error: the pool is sized for this).
 */
void bs_complete_later(blob_op_complete cb, void *cb_arg, int rc);
/* bs_complete_later for callbacks that also take a blob id (BLOB_ID_INVALID on error). */
void blob_id_complete_later(blob_op_with_id_complete cb, void *cb_arg, blob_id id, int rc);

/* ---- allocation (store.c; md thread; bitmaps and counters in memory only) ---------- */

/* Lowest free cluster: marks it used, *cluster = its index. -ENOSPC. */
int bs_claim_cluster(struct blob_store *bs, uint32_t *cluster);
/* Frees a cluster in the bitmap (no scrub: see blob_release / bs_scrub_clusters). */
void bs_release_cluster(struct blob_store *bs, uint32_t cluster);
/*
 * Lowest free metadata-region page at or above `min` (0 for roots, 1 for
 * extent pages: page 0 means "none" in an extent table). Marks it used.
 * -ENOSPC.
 */
int bs_claim_md_page(struct blob_store *bs, uint32_t min, uint32_t *page);
/* Frees a md page in the bitmap. Its disk content must already be zero. */
void bs_release_md_page(struct blob_store *bs, uint32_t page);
uint32_t bs_num_free_md_pages(const struct blob_store *bs);

/*
 * Scrubs `count` clusters (clusters[i], in any order: merged into runs)
 * with the blob clear method `method` (default and unmap: unmap;
 * write-zeroes; none), then, when `release` is set, frees them in the
 * bitmap. cb on the md thread.
 */
void bs_scrub_clusters(struct blob_store *bs, const uint32_t *clusters, uint32_t count,
		       enum blob_clear_method method, bool release, bs_op_complete cb, void *cb_arg);
/* Writes zeros over `count` md pages, then frees them in the bitmap. */
void bs_zero_md_pages(struct blob_store *bs, const uint32_t *pages, uint32_t count,
		      bs_op_complete cb, void *cb_arg);

/* ---- device helpers (store.c; md thread; on bs->md_ch) -------------------------------- */

/* One md page (md_page_size bytes, buf dma) at region page idx. */
void bs_read_md_page(struct blob_store *bs, uint32_t idx, void *buf, bs_dev_cb cb, void *cb_arg);
void bs_write_md_page(struct blob_store *bs, uint32_t idx, void *buf, bs_dev_cb cb, void *cb_arg);
void bs_flush(struct blob_store *bs, bs_dev_cb cb, void *cb_arg);
/* A zeroed dma buffer of one md page (md_page_size bytes); free with env_dma_free. */
void *bs_alloc_md_buf(struct blob_store *bs, uint32_t pages);

/*
 * Dirty marking (spec §2.4): before the first metadata write after a clean
 * load, rewrite the superblock with clean = 0 (and flush). Completes at
 * once (later) when that is already done. Every function that writes
 * metadata calls it first.
 */
void bs_mark_dirty(struct blob_store *bs, bs_op_complete cb, void *cb_arg);

/* ---- parent index (store.c) ------------------------------------------------------------- */

/* Records that `child` has parent snapshot `parent` (BLOB_ID_INVALID: none). */
void bs_parent_index_set(struct blob_store *bs, blob_id child, blob_id parent);
blob_id bs_parent_index_get(const struct blob_store *bs, blob_id child);
uint32_t bs_parent_index_clone_count(const struct blob_store *bs, blob_id parent);

/* ---- blobs (blob.c / metadata.c; md thread) ---------------------------------------------- */

/*
 * bs_create_blob with internal xattrs (e.g. SNAPTMP for a snapshot being
 * created, SNAP for a clone) in the same, single persist, so no crash can
 * leave the blob without them. The caller records a SNAP parent in the
 * parent index itself (bs_parent_index_set) once cb reports success.
 */
void bs_create_blob_internal(struct blob_store *bs, const struct blob_opts *opts,
			     const struct blob_xattr_opts *internal_xattrs,
			     blob_op_with_id_complete cb, void *cb_arg);

/* The open (or loading / closing / deleting) blob with this id, or NULL. O(1). */
struct blob *bs_find_blob(struct blob_store *bs, blob_id id);

/*
 * Adds a handle to bs->blobs and the open index (blob.c). Its id must be
 * valid and have no handle yet (a blob has at most one).
 */
void bs_blob_link(struct blob_store *bs, struct blob *blob);
/* Takes a handle out of bs->blobs and the open index; the caller frees it. */
void bs_blob_unlink(struct blob_store *bs, struct blob *blob);

/*
 * How many of blob's open references are held by the parent handles of
 * its clones (open handles c with c->parent == blob; each holds exactly
 * one, see struct blob). O(md_len) when blob has clones, else O(1).
 */
uint32_t bs_clone_parent_refs(struct blob_store *bs, const struct blob *blob);

/*
 * Persists the blob (spec §6.3 in the safe order of doc/on-disk-format.md):
 * mark the store dirty; write every EP_FRESH extent page and copy every
 * EP_COMMITTED_CHANGED one to a fresh page; serialize the chain into fresh
 * non-root pages and write them; flush; write the root in place (THE
 * COMMIT); flush; then zero and release the old chain pages and everything
 * on blob->release. Persists of one blob are queued and run one at a
 * time; queued persists are merged (one write covers all that were waiting
 * when it started). Completes at once (later) when nothing changed.
 * Errors: -ENOSPC (no free md page for the chain), -EIO (device; then the
 * blob stays dirty, nothing is released, and pages that may or may not
 * have been committed are kept: leaked until the next load, never reused).
 */
void blob_persist(struct blob *blob, blob_op_complete cb, void *cb_arg);

/*
 * Thin first-write allocation, spec §6.5 (thin.c calls it on the md thread
 * after claiming `cluster` with bs_claim_cluster() and copying the parent's
 * data into it). When the op reaches the head of the blob's md queue, it
 * sets slot `slot` to `cluster` (visible to I/O threads from then on,
 * BEFORE the metadata write completes: the cluster already holds the right
 * data, but a write acknowledged on it before this completes could be lost
 * in a crash, so io.c holds such writes until cb) and records it on disk:
 *  - ET blob whose group has a committed extent page: flush, rewrite that
 *    page in place (one atomic write = the commit), flush;
 *  - ET blob whose group has no page: claim one (EP_FRESH) and persist;
 *  - otherwise (RLE, or the group's page is fresh / changed): persist.
 * Queued behind the blob's other metadata writes. Results:
 *   0        done; the cluster belongs to the blob.
 *   -EEXIST  the slot was already allocated (another allocation won): the
 *            map is unchanged and the caller still owns `cluster`
 *            (bs_release_cluster it).
 *   -EINVAL  slot past the end (the blob shrank), or metadata read-only:
 *            the caller still owns `cluster`.
 *   -ENOSPC  no md page for a new extent page: the caller still owns it.
 *   other    (-EIO...) the metadata write failed: the slot keeps the
 *            cluster (it may be on disk already), the blob stays dirty and
 *            the caller must NOT release it; fail the user's write.
 */
void blob_insert_cluster(struct blob *blob, uint64_t slot, uint32_t cluster,
			 blob_op_complete cb, void *cb_arg);

/*
 * Release by unmap, spec §6.5 (thin blob, no parent, whole cluster, the
 * data already unmapped by the caller): sets the slot to 0 and records it
 * (in-place extent-page rewrite as in blob_insert_cluster, or persist),
 * then frees the cluster in the bitmap. 0 also when the slot was already 0.
 */
void blob_remove_cluster(struct blob *blob, uint64_t slot, blob_op_complete cb, void *cb_arg);

/*
 * Marks extent group `group` changed in memory (its map entries differ
 * from its page): EP_COMMITTED -> EP_COMMITTED_CHANGED, EP_WRITING ->
 * EP_WRITING_CHANGED, EP_FRESH stays. The group must have a page. Also
 * counts as a metadata change (blob_md_changed). For snapshot.c's merge.
 */
void blob_ep_mark_changed(struct blob *blob, uint32_t group);

/*
 * Resizes the in-memory map arrays (clusters and, for ET blobs, extent
 * pages and states) to hold `num_clusters` slots; new slots and groups are
 * 0 / EP_NONE. Does not claim, release or persist anything and does not
 * change active.num_clusters. -ENOMEM. Call only with I/O frozen (or on a
 * blob nobody else has open).
 */
int blob_map_reserve(struct blob *blob, uint64_t num_clusters);

/* Number of non-zero slots. */
uint64_t blob_count_allocated(const struct blob *blob);

/*
 * Deletes an open blob that the caller holds as its only reference
 * (ref == 1), in the safe simple order of spec §6.6 / doc/on-disk-format.md:
 * clear its blob-ID bit, mark dirty, zero the root (THE COMMIT, flushed),
 * then zero the other chain pages and the extent pages this blob owns
 * (EP_COMMITTED / _CHANGED / FRESH pages of active, and blob->release),
 * release them, scrub and release every allocated cluster of its map with
 * its clear method. Frees the handle. Drops its parent reference and its
 * parent-index entry. snapshot.c calls it at the end of a merge, after
 * zeroing the slots and extent-page entries the clone took over.
 */
void blob_delete_opened(struct blob *blob, blob_op_complete cb, void *cb_arg);

/* Internal xattrs (xattr.c): same rules as the public ones, namespace type 4. */
int blob_set_xattr_internal(struct blob *blob, const char *name, const void *value,
			    uint16_t value_len);
int blob_remove_xattr_internal(struct blob *blob, const char *name);
int blob_get_xattr_internal(struct blob *blob, const char *name, const void **value,
			    size_t *value_len);
/* Frees every xattr of a set. */
void blob_xattrs_free(struct blob_xattrs *xs);
/* Sets / replaces in one namespace, without the md_ro check. */
int blob_xattrs_set(struct blob_xattrs *xs, const char *name, const void *value,
		    uint16_t value_len);
int blob_xattrs_remove(struct blob_xattrs *xs, const char *name);
const struct bsf_xattr *blob_xattrs_find(const struct blob_xattrs *xs, const char *name);

/*
 * Reads the blob's metadata (chain, extent pages) from disk into a handle
 * in state LOADING whose bs and id are set (metadata.c). Checks what SPDK
 * checks at open (spec §4.3-§4.9, §3: every cluster it names is marked
 * used) and fails with -EILSEQ / -ENOTSUP / -EIO otherwise. Does not open
 * the parent.
 */
void blob_load_md(struct blob *blob, blob_op_complete cb, void *cb_arg);

/*
 * Drops one open reference of `blob` that is known not to be the last
 * (ref > 1), synchronously: no persist, no teardown, no callback. For
 * references a structure holds on behalf of another (a clone's parent
 * handle) when that structure lets go while a reference of the caller
 * keeps the blob open.
 */
void blob_unref_held(struct blob *blob);

/* A zeroed handle for blob `id` (blob.c); NULL on -ENOMEM. */
struct blob *blob_alloc(struct blob_store *bs, blob_id id);
/* Frees a handle and everything it owns (not its parent / esnap device). */
void blob_free(struct blob *blob);

/* Fills a bsf_blob_md that points into the blob (no copies; do not free it). */
void blob_to_md(const struct blob *blob, struct bsf_blob_md *md);

/* ---- data-path hooks (io.c implements them; store.c / blob.c have weak stubs) --------- */

/*
 * Called at the end of bs_init / bs_load, on the md thread, before the
 * user's callback: register the store's io_device (the bs pointer) and
 * any per-store I/O state. Return 0 or a negative errno (the load fails).
 * Weak stub: returns 0.
 */
int bs_io_init(struct blob_store *bs);
/*
 * Called by bs_unload / bs_destroy (after every blob is closed) and on a
 * failed load after bs_io_init succeeded: unregister the io_device and
 * call done(bs) on the md thread when every channel is gone. Weak stub:
 * done later.
 */
void bs_io_fini(struct blob_store *bs, void (*done)(struct blob_store *bs));
/*
 * Holds new I/O of `blob` and waits for its I/O in flight on every channel
 * (spec §5.4 "freeze"), then cb on the md thread. Nests (counted). Weak
 * stub: completes later, holds nothing.
 */
void blob_freeze_io(struct blob *blob, blob_op_complete cb, void *cb_arg);
/* Releases one freeze; resumes held I/O when the count reaches 0. */
void blob_unfreeze_io(struct blob *blob, blob_op_complete cb, void *cb_arg);
/*
 * Called when a blob handle is about to be freed (last close, delete),
 * on the md thread, to drop io.c / thin.c per-blob state (io_priv).
 * Weak stub: nothing.
 */
void blob_io_release(struct blob *blob);

/* ---- snapshot hooks (snapshot.c; stubs until the snapshot engineer replaces them) ----- */

/*
 * Load-time fix-up of interrupted snapshot create / delete (spec §6.10),
 * run at the end of bs_load on the md thread (blobs are not open; the
 * bits of bs->snap_pending name the candidates). cb(0) to finish the
 * load, or an error to fail it. Stub: completes 0 without doing anything.
 */
void snapshot_fixup_after_load(struct blob_store *bs, bs_op_complete cb, void *cb_arg);

/*
 * Delete of a snapshot with exactly one clone (spec §6.6 second part, with
 * the copy-on-write extent-page merge of doc/on-disk-format.md).
 *
 * bs_delete_blob calls it only when all of these hold, on the md thread:
 *  - the parent index names exactly one clone of `snap`: clone_id
 *    (bs_parent_index_clone_count(bs, snap->id) == 1);
 *  - snap->state == BLOB_STATE_OPEN and snap->ref == 1 + r, where
 *    r = bs_clone_parent_refs(bs, snap) is 0 or 1:
 *      * 1 reference is the delete's own (bs_delete_blob opened snap). The
 *        hook owns it and must end with blob_delete_opened(snap, ...) once
 *        snap->ref is back to 1, or blob_close(snap, ...) to give up;
 *      * r == 1 when the clone is open (OPEN or CLOSING) with
 *        clone->parent == snap: that reference belongs to the clone's
 *        parent handle (not to a bs_dev: io.c reads a clone's parent
 *        through clone->parent; dev_blob.c is not involved). The clone may
 *        be held open by anyone (the lvol layer keeps every blob open) and
 *        have I/O in flight that reads through snap, and so may any open
 *        blob whose chain passes through the clone.
 *    No other reference exists: nobody else has snap open, and no
 *    operation holds it (an operation of snapshot.c on the CLONE may
 *    still be running: check clone->snap_priv).
 *  - When r == 0 the clone is closed (or still LOADING for another opener:
 *    its open then gives snap one more parent reference when it
 *    completes). Opening the clone (bs_open_blob) makes it r == 1.
 * What the hook must do about the clone's reference: with the clone's I/O
 * (and that of every open blob reading through snap) frozen, move
 * snap->parent / snap->back_bs_dev to the clone and drop the reference
 * the clone held on snap with blob_unref_held(snap) (never blob_close:
 * that reference is not the last). The delete's own reference then
 * remains alone (ref == 1) for blob_delete_opened.
 * Errors the hook reports reach bs_delete_blob's caller as they are.
 * Stub: closes snap and completes -ENOTSUP.
 */
void snapshot_delete_merge(struct blob *snap, blob_id clone_id, blob_op_complete cb,
			   void *cb_arg);

/* ---- load-time helpers (recovery.c) ----------------------------------------------------- */

/*
 * The §6.9 recovery walk: rebuild used_md_pages, used_blobids and
 * used_clusters from the metadata; quarantine roots that would double-own
 * a cluster or md page (outside the SNAPTMP / SNAPRM case, spec §10.12);
 * fill parent_of / clones_of / snap_pending. -EILSEQ for the image faults
 * the spec says fail the load (unknown descriptor, bad extent page).
 */
void bs_recover(struct blob_store *bs, bs_op_complete cb, void *cb_arg);
/*
 * Clean-load scan: reads each blob's chain (no extent pages) to fill the
 * parent index and snap_pending. Blobs that fail to parse are skipped.
 */
void bs_scan_blobs(struct blob_store *bs, bs_op_complete cb, void *cb_arg);

/* Writes the three masks from the bitmaps (§6.9 step 4 / §6.8 steps 2-4), then flushes. */
void bs_write_masks_flush(struct blob_store *bs, bs_op_complete cb, void *cb_arg);

/* data path needs (added by io engineer) ------------------------------------------------
 *
 * Declarations only; implemented in lib/blob/io.c, thin.c, request.c and
 * dev_blob.c (whose private header is lib/blob/request.h).
 *
 * Map publication: blob_insert_cluster() publishes the new cluster before
 * its commit, so thin.c raises a per-blob "alloc pending" count (with a
 * release fence) before calling it and lowers it in its callback; writes
 * that find an allocated slot while the count is raised wait for the
 * commit on the md thread, so no write is acknowledged on a cluster whose
 * allocation could still be lost. Stores to active.clusters[] that I/O
 * threads may see must stay release stores (__atomic_store_n, as
 * metadata.c does), so a thread that sees the cluster sees the count.
 */

/*
 * Allocates slot `slot` of a thin blob through the first-write path: claim
 * a cluster, copy the slot's data from the back device (chain or external
 * device; nothing is copied where it reads as zeroes), commit with
 * blob_insert_cluster(), then cb. A slot already allocated completes 0.
 * Any thread; `ch` is the caller's blob channel (bs_alloc_io_channel), cb
 * runs on its thread. For inflate / decouple (spec §5.6). Errors: -ENOSPC,
 * -EIO, -EPERM (read-only), -EINVAL (slot past the end).
 */
void blob_cluster_allocate_and_copy(struct blob *blob, struct io_channel *ch, uint64_t slot,
				    blob_op_complete cb, void *cb_arg);

/*
 * Puts the channels the store's I/O channels opened on `dev` (an external
 * snapshot device), on every thread, then cb on the md thread. Call
 * before destroying an esnap clone's back device.
 */
void bs_channels_drop_back_dev(struct blob_store *bs, struct bs_dev *dev,
			       blob_op_complete cb, void *cb_arg);

/*
 * A read-only bs_dev reading blob `parent` (io units as blocks; past its
 * end: zeroes; writes -EPERM; is_zeroes() where the chain reads zeroes).
 * Takes over one open reference of `parent`, closed on destroy. NULL on
 * -ENOMEM.
 */
struct bs_dev *bs_dev_blob_create(struct blob *parent);

#endif
