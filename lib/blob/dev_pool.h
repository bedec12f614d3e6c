/*
 * lib/blob private: per-channel pools of bs_dev operation contexts, and
 * completion "later, on this thread" without a message per operation.
 *
 * The bs_dev interface hands a device only (cb, cb_arg): the device must
 * keep both somewhere until the operation completes, and for devices that
 * finish synchronously (memory, zeroes) or that fail a submit at once it
 * must also hold the completion back until the submitting call has
 * returned (bs_dev.h). A dev_pool does both for one io_channel of one
 * device: it hands out fixed-size request contexts whose first member is
 * a struct dev_req, and it runs completions posted with
 * dev_pool_complete_later() from a poller of the channel's thread.
 * A context lent by the caller (bs_dev.h, readv_ctx) is not the pool's:
 * dev_pool_lend() marks it, and the pool never puts it on its free list
 * or counts it, but can still hold back its completion.
 *
 * Used by dev_bdev.c, dev_mem.c and dev_zeroes.c, nowhere else.
 */
#ifndef LVSTOR_BLOB_DEV_POOL_H
#define LVSTOR_BLOB_DEV_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lvstor/bs_dev.h"

struct thread;
struct poller;
struct dev_pool_chunk;

/* The head of every request context a pool hands out. */
struct dev_req {
	bs_dev_cb cb;
	void *cb_arg;
	int rc;
	bool lent;                    /* the caller's memory, not the pool's */
	TAILQ_ENTRY(dev_req) link;    /* free list or done list */
};

struct dev_pool {
	size_t req_size;              /* bytes per context, aligned */
	uint32_t grow_by;             /* contexts per chunk */
	uint32_t outstanding;         /* handed out, not yet returned */
	struct thread *thread;        /* the channel's thread */
	TAILQ_HEAD(, dev_req) free;
	TAILQ_HEAD(, dev_req) done;   /* completed, callback not yet run */
	struct dev_pool_chunk *chunks;
	struct poller *drain;         /* paused while `done` is empty */
};

/*
 * Sets up a pool on the current thread (an io_channel's create callback):
 * `count` contexts of `req_size` bytes (>= sizeof(struct dev_req)), grown
 * by `count` more whenever it runs dry. Returns 0 or -ENOMEM.
 */
int dev_pool_init(struct dev_pool *pool, size_t req_size, uint32_t count, const char *name);
/*
 * Tears the pool down (the channel's destroy callback). Completions still
 * waiting are delivered first; contexts still handed out are a bug of the
 * caller (a channel put with I/O in flight) and are reported.
 */
void dev_pool_fini(struct dev_pool *pool);

/*
 * A context with cb/cb_arg recorded. Never NULL: a dry pool grows, which
 * allocates only when the number of operations in flight on this channel
 * exceeds every earlier high-water mark (never in a steady state).
 */
struct dev_req *dev_pool_get(struct dev_pool *pool, bs_dev_cb cb, void *cb_arg);
/*
 * Makes the caller's lent memory (at least the device's context size) a
 * context with cb/cb_arg recorded. No pool state changes; any thread.
 */
static inline struct dev_req *
dev_pool_lend(void *mem, bs_dev_cb cb, void *cb_arg)
{
	struct dev_req *req = mem;

	req->cb = cb;
	req->cb_arg = cb_arg;
	req->rc = 0;
	req->lent = true;
	return req;
}

/*
 * Returns `req` to the pool (unless lent) and calls its cb(cb_arg, rc) now. For
 * completions that already arrive later than the submit (a bdev_io
 * callback). The context is free again before cb runs, so cb may submit.
 */
void dev_pool_complete(struct dev_pool *pool, struct dev_req *req, int rc);
/* Same, but cb runs from the pool's poller, after the caller returns. */
void dev_pool_complete_later(struct dev_pool *pool, struct dev_req *req, int rc);

/* A context as the device's own type: DEV_REQ(req, struct mem_op). */
#define DEV_REQ(req, type) ((type *)(void *)(req))

#endif
