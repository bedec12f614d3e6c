/*
 * lib/blob/dev_pool.c: operation contexts and deferred completions for the
 * bs_dev implementations (dev_bdev.c, dev_mem.c, dev_zeroes.c).
 *
 * Why it exists. A bs_dev operation carries only (cb, cb_arg); the device
 * needs a little memory per operation to remember them (plus, for a
 * bdev, what to resubmit after -ENOMEM). DESIGN.md forbids allocating in
 * the I/O path, so each channel owns a pool of such contexts, made when
 * the channel is created. And the threading contract forbids calling back
 * before the submit returns, which a memory device (it is done at once)
 * or a failed submit (it never started) would otherwise do: those
 * completions go on the channel's done list and a poller delivers them.
 *
 * Invariants:
 *  - A pool belongs to one io_channel and is touched only on that
 *    channel's thread (asserted): no lock, no atomic.
 *  - Every context of the pool is in exactly one place: the free list,
 *    the done list, or handed out (counted in `outstanding`). A lent
 *    context (the caller's memory) is only ever on the done list, and
 *    never counted.
 *  - The drain poller is paused exactly when the done list is empty, so an
 *    idle channel costs its reactor nothing and never keeps it awake
 *    (a paused poller does not count as active). A drain takes a snapshot
 *    of the list: a callback that submits again and completes at once
 *    lands in the next round, so there is no recursion and no starvation
 *    of the thread's other work.
 *  - The pool grows and never shrinks: after the first burst that reaches
 *    a new high-water mark, the path allocates nothing. Chunks are freed
 *    with the pool. If growing fails the process is out of memory for a
 *    few kilobytes; the device has nowhere to keep the caller's callback,
 *    so it aborts with a log line rather than lose an I/O silently.
 */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

#include "dev_pool.h"

struct dev_pool_chunk {
	struct dev_pool_chunk *next;
	alignas(max_align_t) unsigned char reqs[];
};

static int
pool_grow(struct dev_pool *pool)
{
	struct dev_pool_chunk *c;
	uint32_t i;

	c = malloc(sizeof(*c) + (size_t)pool->grow_by * pool->req_size);
	if (c == NULL)
		return -ENOMEM;
	c->next = pool->chunks;
	pool->chunks = c;
	for (i = 0; i < pool->grow_by; i++) {
		struct dev_req *req = (struct dev_req *)(void *)(c->reqs + (size_t)i * pool->req_size);

		TAILQ_INSERT_TAIL(&pool->free, req, link);
	}
	return 0;
}

static int
pool_drain(void *arg)
{
	struct dev_pool *pool = arg;
	TAILQ_HEAD(, dev_req) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct dev_req *req;

	if (TAILQ_EMPTY(&pool->done)) {
		poller_pause(pool->drain);
		return POLLER_IDLE;
	}
	TAILQ_CONCAT(&batch, &pool->done, link);
	poller_pause(pool->drain);
	while ((req = TAILQ_FIRST(&batch)) != NULL) {
		bs_dev_cb cb = req->cb;
		void *cb_arg = req->cb_arg;
		int rc = req->rc;

		TAILQ_REMOVE(&batch, req, link);
		if (!req->lent) {
			TAILQ_INSERT_HEAD(&pool->free, req, link);
			pool->outstanding--;
		}
		cb(cb_arg, rc);
	}
	return POLLER_BUSY;
}

int
dev_pool_init(struct dev_pool *pool, size_t req_size, uint32_t count, const char *name)
{
	assert(req_size >= sizeof(struct dev_req) && count > 0);
	pool->req_size = ALIGN_UP(req_size, alignof(max_align_t));
	pool->grow_by = count;
	pool->outstanding = 0;
	pool->thread = thread_get_current();
	pool->chunks = NULL;
	TAILQ_INIT(&pool->free);
	TAILQ_INIT(&pool->done);
	if (pool_grow(pool) != 0)
		return -ENOMEM;
	pool->drain = poller_register(pool_drain, pool, 0, name);
	if (pool->drain == NULL) {
		free(pool->chunks);
		pool->chunks = NULL;
		return -ENOMEM;
	}
	poller_pause(pool->drain);
	return 0;
}

void
dev_pool_fini(struct dev_pool *pool)
{
	struct dev_pool_chunk *c;

	assert(pool->thread == thread_get_current());
	/*
	 * A channel is destroyed by a message sent when its last reference
	 * is put, so completions posted before the put are normally gone by
	 * now. Deliver any that are not rather than drop them.
	 */
	while (!TAILQ_EMPTY(&pool->done))
		pool_drain(pool);
	if (pool->outstanding != 0)
		LOG_ERR("bs_dev channel destroyed with %u operations in flight",
			pool->outstanding);
	poller_unregister(&pool->drain);
	while ((c = pool->chunks) != NULL) {
		pool->chunks = c->next;
		free(c);
	}
	TAILQ_INIT(&pool->free);
}

struct dev_req *
dev_pool_get(struct dev_pool *pool, bs_dev_cb cb, void *cb_arg)
{
	struct dev_req *req;

	assert(pool->thread == thread_get_current());
	if (TAILQ_EMPTY(&pool->free) && pool_grow(pool) != 0) {
		LOG_ERR("bs_dev: out of memory for %u more operation contexts", pool->grow_by);
		abort();
	}
	req = TAILQ_FIRST(&pool->free);
	TAILQ_REMOVE(&pool->free, req, link);
	pool->outstanding++;
	req->cb = cb;
	req->cb_arg = cb_arg;
	req->rc = 0;
	req->lent = false;
	return req;
}

void
dev_pool_complete(struct dev_pool *pool, struct dev_req *req, int rc)
{
	bs_dev_cb cb = req->cb;
	void *cb_arg = req->cb_arg;

	assert(pool->thread == thread_get_current());
	if (!req->lent) {
		TAILQ_INSERT_HEAD(&pool->free, req, link);
		pool->outstanding--;
	}
	cb(cb_arg, rc);
}

void
dev_pool_complete_later(struct dev_pool *pool, struct dev_req *req, int rc)
{
	assert(pool->thread == thread_get_current());
	req->rc = rc;
	if (TAILQ_EMPTY(&pool->done))
		poller_resume(pool->drain);
	TAILQ_INSERT_TAIL(&pool->done, req, link);
}
