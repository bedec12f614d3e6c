/*
 * lib/blob private: the data path's structures (request.c, io.c, thin.c,
 * dev_blob.c). The rest of the blobstore sees only the hooks declared in
 * blob_internal.h; it keeps our per-store and per-blob state behind
 * bs->io_priv and blob->io_priv, and the store's io_device is the store
 * pointer itself.
 *
 * Vocabulary used throughout the data path:
 *
 *   request   one user operation (read, write, write_zeroes, unmap) of
 *             [offset, offset + length) io units of one blob, from one
 *             channel's pool. It runs as a sequence of pieces.
 *   piece     the part of a request inside one cluster slot (or less, when
 *             the user's iovecs need more than BLOB_REQ_IOV_MAX entries
 *             for it, or when a back device ends inside the slot). A piece
 *             maps to one device operation, a zero fill, or a trip through
 *             thin provisioning (thin.c).
 *   parked    a submission that could not start yet: the channel had no
 *             free request, or its blob is frozen. It keeps only the
 *             caller's arguments.
 *   entry     an allocation or release of one cluster slot in flight on
 *             the metadata thread (thin.c), owned by the request that
 *             started it; other requests for the same slot wait on it.
 */
#ifndef LVSTOR_BLOB_REQUEST_H
#define LVSTOR_BLOB_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"

struct bs_channel;
struct blob_request;
struct poller;
struct thread;
struct io_channel_iter;

/*
 * iovec entries one piece may carry. A piece normally needs one more entry
 * than the user's iovecs it covers; 32 covers any guest request the
 * virtio layers produce inside one cluster (they rarely exceed 16
 * segments). A piece that would need more is cut short at the last whole
 * io unit that fits and the rest becomes the next piece, so any iovec
 * shape works; only a pathological one (more than 32 entries inside a
 * single io unit) is refused with -EINVAL.
 */
#define BLOB_REQ_IOV_MAX 32

enum blob_io_op {
	BLOB_IO_READ,
	BLOB_IO_WRITE,
	BLOB_IO_WRITE_ZEROES,
	BLOB_IO_UNMAP,
	/* Allocate the slot, copying from the back device; no user data. */
	BLOB_IO_ALLOCATE,
	/* A device flush (blob_io_flush). */
	BLOB_IO_FLUSH,
};

/* The caller's arguments: enough to start, or restart, an operation. */
struct blob_io_args {
	struct blob *blob;
	struct iovec *iov;          /* the caller's, or &single */
	int iovcnt;
	uint8_t op;                 /* enum blob_io_op */
	/* Slots at or past the blob's end read as zeroes (dev_blob reads). */
	bool zero_past_end;
	uint64_t offset;            /* io units */
	uint64_t length;            /* io units */
	struct iovec single;        /* payload of the non-vector calls */
	blob_op_complete cb;
	void *cb_arg;
};

struct blob_parked {
	struct blob_io_args args;
	int rc;                     /* for completions reported from the poller */
	TAILQ_ENTRY(blob_parked) link;
};

/* Where the data of an unallocated slot comes from (io.c, chain walk). */
enum blob_src_kind {
	BLOB_SRC_ZERO,              /* reads as zeroes */
	BLOB_SRC_CLUSTER,           /* an ancestor's cluster on the store device */
	BLOB_SRC_DEV,               /* an external back device (esnap) */
};

struct blob_src {
	uint8_t kind;               /* enum blob_src_kind */
	uint32_t cluster;           /* BLOB_SRC_CLUSTER */
	struct bs_dev *dev;         /* BLOB_SRC_DEV */
	/*
	 * io units of the slot (from the start of the slot) the source
	 * covers: an external device may end inside a slot, and what lies
	 * past its end reads as zeroes.
	 */
	uint64_t valid_units;
};

/* A barrier over every channel of a store (request.c). */
struct bs_drain {
	struct blob *blob;
	const struct blob_request *exclude;     /* and requests marked drain_exempt */
	uint64_t target_seq;        /* per channel: requests started before */
	struct io_channel_iter *iter;
	TAILQ_ENTRY(bs_drain) link;
	void (*cb)(struct bs_drain *drain, int rc);
	void *ctx;
};

enum thin_entry_kind {
	THIN_ENTRY_ALLOC,
	THIN_ENTRY_RELEASE,
};

/* One slot's allocation or release in flight (thin.c; md thread). */
struct thin_entry {
	TAILQ_ENTRY(thin_entry) link;          /* blob_io_priv.entries */
	TAILQ_HEAD(, blob_request) waiters;    /* requests for the same slot */
	uint64_t slot;
	uint32_t cluster;
	uint8_t kind;                          /* enum thin_entry_kind */
};

/*
 * A fast-path I/O touches only the first 128 bytes (one aligned pair of
 * cache lines, which CPUs fetch together): args, ch .. drain_exempt and
 * the head of dev_ctx, where the device keeps its callback (a dev_req).
 * At QD 128 the data copies evict every request between its submit and
 * its completion, so each further line touched would be one more miss.
 */
struct blob_request {
	_Alignas(128) struct blob_io_args args;
	struct bs_channel *ch;
	struct blob_request *free_next;        /* free stack */
	int rc;
	bool starting;                         /* inside its start: defer completion */
	bool in_flight;                        /* started, not finished (drains look) */
	bool drain_exempt;                     /* waiting for a release: drains skip it */

	/* Lent to the store device by the fast path (bs_dev.h readv_ctx). */
	struct bs_dev_io_ctx dev_ctx;

	TAILQ_ENTRY(blob_request) link;        /* done or retry list */
	TAILQ_ENTRY(blob_request) wait_link;   /* thin waiter, copy buffer queue */
	uint64_t seq;                          /* start order on the channel */
	uint64_t done;                         /* io units finished */

	/* The user's iovecs at `done`. */
	int iov_idx;
	size_t iov_off;

	/* The current piece. */
	uint64_t slot;
	uint64_t in_cluster;                   /* io units into the slot */
	uint64_t piece_len;                    /* io units */
	struct iovec piece_iov[BLOB_REQ_IOV_MAX];
	int piece_iovcnt;

	/* Thin provisioning of the current piece (thin.c). */
	struct thin_entry entry;
	uint32_t thin_cluster;                 /* cluster to use after the md reply */
	int thin_reply;                        /* enum thin_reply, or a negative errno */
	struct blob_src src;
	uint64_t copy_pos, copy_end;           /* io units into the slot to copy */
	uint64_t copy_len;                     /* io units of the chunk in flight */
	void (*retry_fn)(void *ctx);           /* message that failed to send */
	struct thread *retry_thread;
};

/*
 * Per-thread channel of a store: the context of the store's io_device
 * (bs_alloc_io_channel). Touched only on its thread.
 */
struct bs_back_ch;
struct bs_parked_chunk;

struct bs_channel {
	struct blob_store *bs;
	struct bs_dev *dev;
	struct io_channel *dev_ch;              /* the store device, this thread */
	uint32_t lpu;                           /* device blocks per io unit (1 normally) */
	uint64_t lpc;                           /* device blocks per cluster */
	/* log2(io units per cluster) when a power of two (always, in practice), else -1 */
	int upc_shift;
	struct thread *thread;
	struct blob_request *reqs;              /* max_channel_ops of them */
	uint32_t num_reqs;
	/*
	 * Free requests, a stack (the most recently used one is the warmest).
	 * Requests in flight carry in_flight and are counted; a drain finds
	 * them by a walk over reqs, which only drains pay for.
	 */
	struct blob_request *free_reqs;
	uint32_t inflight_count;
	TAILQ_HEAD(, blob_request) done;        /* completed, callback pending */
	TAILQ_HEAD(, blob_request) msg_retry;   /* a message to send again */
	uint64_t next_seq;
	TAILQ_HEAD(, blob_parked) waiting;      /* for a free request */
	TAILQ_HEAD(, blob_parked) frozen;       /* for their blob to thaw */
	TAILQ_HEAD(, blob_parked) parked_done;  /* completions to report */
	TAILQ_HEAD(, blob_parked) parked_free;
	struct bs_parked_chunk *chunks;
	struct poller *poller;                  /* paused while nothing is due */
	TAILQ_HEAD(, bs_drain) drains;
	struct bs_back_ch *back_chs;            /* external back devices */
	uint8_t *copy_buf;                      /* copy-on-write bounce, lazily */
	size_t copy_buf_len;
	bool copy_busy;
	TAILQ_HEAD(, blob_request) copy_waiters;
};

/* ---- per-store and per-blob state (bs->io_priv, blob->io_priv) ---------------- */

/* bs->io_priv: made by bs_io_init, freed by bs_io_fini (md thread). */
struct bs_io_priv {
	struct blob_store *bs;
	TAILQ_HEAD(, blob_request) md_retry;    /* md thread: replies to resend */
	struct poller *md_retry_poller;
	void (*fini_done)(struct blob_store *bs);
};

/*
 * blob->io_priv: made on the md thread by the blob's first thin-provisioning
 * operation (io_priv is published with a release store; I/O threads load it
 * with acquire and read NULL as "nothing in flight"), freed by
 * blob_io_release.
 */
struct blob_io_priv {
	/*
	 * Slots whose new cluster is visible in the map before its metadata
	 * committed (blob_insert_cluster publishes at once), and releases in
	 * progress. While non-zero, a write that finds its slot allocated asks
	 * the md thread before it writes (thin.c). md thread writes, any
	 * thread reads (atomics; no read-modify-write off the md thread).
	 */
	uint32_t alloc_pending;
	/* md thread only. */
	TAILQ_HEAD(, thin_entry) entries;       /* allocations / releases in flight */
	TAILQ_HEAD(, blob_request) releases;    /* release-by-unmap queue */
	bool releasing;                         /* the head of `releases` is running */
};

/* ---- request.c -------------------------------------------------------------- */

void bs_channel_submit(struct bs_channel *ch, const struct blob_io_args *args);
/* Completes a request: callback now, or from the poller if still starting. */
void bs_request_finish(struct blob_request *req);
static inline struct blob_request *
bs_request_free_peek(const struct bs_channel *ch)
{
	return ch->free_reqs;
}

static inline void
bs_request_free_push(struct bs_channel *ch, struct blob_request *req)
{
	req->free_next = ch->free_reqs;
	ch->free_reqs = req;
}

/*
 * Takes `req`, the top of the free stack, and puts it in flight: sequence
 * number, in_flight and the channel's count, so drains and freezes see
 * it. bs_channel_submit's requests start here, and so do those of io.c's
 * fast path (a one-piece read or write of an allocated slot), which copies
 * no argument record: it fills what completion reads (args.blob, args.cb,
 * args.cb_arg) itself and ends the request with bs_request_finish, having
 * checked what bs_channel_submit checks first (blob not frozen, nothing
 * parked in ch->waiting, a free request).
 */
static inline void
bs_request_begin(struct bs_channel *ch, struct blob_request *req)
{
	ch->free_reqs = req->free_next;
	req->ch = ch;
	req->seq = ch->next_seq++;
	req->rc = 0;
	req->drain_exempt = false;
	req->in_flight = true;
	ch->inflight_count++;
}

/* Posts a parked-style completion (argument errors) for the poller. */
void bs_channel_complete_later(struct bs_channel *ch, const struct blob_io_args *args, int rc);
/*
 * Sends fn(req) to `thread`; if the message pool is dry it retries from a
 * poller of the current thread (the request's channel, or the md thread).
 */
void bs_request_send(struct blob_request *req, struct thread *thread, void (*fn)(void *));
/* The channel of an external back device on this channel's thread (lazily). */
struct io_channel *bs_channel_back_ch(struct bs_channel *ch, struct bs_dev *dev);
/*
 * The channel's copy buffer for `req`: true if req holds it now (then
 * ch->copy_buf NULL means -ENOMEM), false if req was queued and
 * blob_thin_copy_resume(req) runs when it gets it.
 */
bool bs_channel_copy_buf_get(struct bs_channel *ch, struct blob_request *req);
void bs_channel_copy_buf_put(struct bs_channel *ch);
/* A request of `blob` became drain_exempt: drains may be able to go on. */
void bs_channel_drain_recheck(struct bs_channel *ch, const struct blob *blob);
/* Runs drain->cb once no channel has I/O of drain->blob started before it. */
void bs_drain_start(struct blob_store *bs, struct bs_drain *drain);

/* ---- io.c ------------------------------------------------------------------- */

void blob_request_start(struct blob_request *req);
/* The current piece finished (rc) : next piece or completion. */
void blob_request_piece_done(struct blob_request *req, int rc);
/* Redoes the current piece from its lookup (thin.c after a retry). */
void blob_request_piece_redo(struct blob_request *req);
/* Device op of the current piece on `cluster` (thin.c, after the md reply). */
void blob_request_piece_to_cluster(struct blob_request *req, uint32_t cluster);
/* Where the data of `slot` comes from when `blob` has not allocated it. */
int blob_resolve_src(struct blob *blob, uint64_t slot, struct blob_src *src);
/* A read in which slots past the blob's end read as zeroes (dev_blob.c). */
void blob_io_readv_past_end(struct blob *blob, struct io_channel *ch, struct iovec *iov,
			    int iovcnt, uint64_t offset, uint64_t length, blob_op_complete cb,
			    void *cb_arg);
/* Device LBA of io unit `in_cluster` of disk cluster `cluster`. */
static inline uint64_t
bs_cluster_lba(const struct bs_channel *ch, uint32_t cluster, uint64_t in_cluster)
{
	return (uint64_t)cluster * ch->lpc + in_cluster * ch->lpu;
}
/* cb(cb_arg, rc) later, from the channel's poller (no request used). */
void blob_io_complete_later(struct blob *blob, struct io_channel *ch, int rc,
			    blob_op_complete cb, void *cb_arg);
/* The device channel cb for pieces (cb_arg = request). */
void blob_request_dev_cb(void *cb_arg, int rc);

/* ---- thin.c ----------------------------------------------------------------- */

/* A write-type piece on an unallocated slot, or an allocated one while
 * alloc_pending is set: allocate / wait / confirm through the md thread. */
void blob_thin_write(struct blob_request *req, bool slot_allocated);
/* An unmap covering a whole allocated cluster of a parentless thin blob. */
void blob_thin_release(struct blob_request *req, uint32_t cluster);
/* The copy buffer became this request's (request.c). */
void blob_thin_copy_resume(struct blob_request *req);
/* Any thread: does a write to an allocated slot need the md thread? */
bool blob_thin_pending(const struct blob *blob);

/* ---- dev_blob.c -------------------------------------------------------------- */

/* The blob behind a device made by bs_dev_blob_create, or NULL. */
struct blob *bs_dev_blob_get_blob(const struct bs_dev *dev);

/* ---- for the rest of the blobstore (core, snapshot.c) -------------------------- */

/*
 * bs_io_init, bs_io_fini, blob_freeze_io, blob_unfreeze_io and
 * blob_io_release are declared in blob_internal.h (data-path hooks). The
 * functions below are declared there too, in its data-path section.
 */

/* The blob's io_priv, made on first use (md thread). NULL on -ENOMEM. */
struct blob_io_priv *blob_io_priv_get(struct blob *blob);
/* Freeze that does not wait for `exclude` (a request of the caller). */
void blob_freeze_io_except(struct blob *blob, const struct blob_request *exclude,
			   blob_op_complete cb, void *cb_arg);

/*
 * Allocates cluster slot `slot` of a thin blob through the first-write
 * path, copying its data from the back device (the chain, an external
 * device; nothing is copied when that reads as zeroes), and commits the
 * extent before cb runs. A slot already allocated completes with 0 at
 * once (later). For inflate and decouple (spec §5.6); ch is the caller's
 * bs channel. Errors: -ENOSPC, -EIO, -EPERM (read-only), -EINVAL (slot
 * past the end).
 */
void blob_cluster_allocate_and_copy(struct blob *blob, struct io_channel *ch, uint64_t slot,
				    blob_op_complete cb, void *cb_arg);

/*
 * Puts every channel that the store's channels opened on `dev` (an
 * external back device) and then calls cb on the md thread. Call before
 * destroying an esnap clone's back device while channels may still exist.
 */
void bs_channels_drop_back_dev(struct blob_store *bs, struct bs_dev *dev,
			       blob_op_complete cb, void *cb_arg);

/*
 * A read-only bs_dev that reads blob `parent` (a clone's back device):
 * blocks are the parent's io units; reads past the parent's end return
 * zeroes; writes fail with -EPERM; is_zeroes() is true where the whole
 * chain below reads zeroes. The device takes over one open reference on
 * `parent` and closes it when destroyed. NULL on -ENOMEM.
 */
struct bs_dev *bs_dev_blob_create(struct blob *parent);

#endif
