/*
 * Helpers shared by the blob data-path unit tests (io_ut.c, thin_ut.c):
 * synchronous wrappers over the asynchronous blobstore API, run on the
 * ut_threads harness (thread 0 is the md thread), and data patterns.
 *
 * Each wrapper submits, checks that the callback did not run inside the
 * submitting call (DESIGN.md), polls every thread until idle and checks
 * that the callback ran exactly once.
 */
#ifndef IO_UT_HELPERS_H
#define IO_UT_HELPERS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/thread.h"
#include "../common/ut_threads.h"

struct ut_res {
	int calls;
	int rc;
	blob_id id;
	struct blob *blob;
	struct blob_store *bs;
};

static inline void
ut_op_cb(void *arg, int rc)
{
	struct ut_res *r = arg;

	r->calls++;
	r->rc = rc;
}

static inline void
ut_id_cb(void *arg, blob_id id, int rc)
{
	struct ut_res *r = arg;

	r->calls++;
	r->rc = rc;
	r->id = id;
}

static inline void
ut_blob_cb(void *arg, struct blob *blob, int rc)
{
	struct ut_res *r = arg;

	r->calls++;
	r->rc = rc;
	r->blob = blob;
}

static inline void
ut_bs_cb(void *arg, struct blob_store *bs, int rc)
{
	struct ut_res *r = arg;

	r->calls++;
	r->rc = rc;
	r->bs = bs;
}

/* Polls until the callback of r ran, and checks it ran once. */
static inline void
ut_wait(struct ut_res *r)
{
	assert_int_equal(r->calls, 0);
	ut_poll_threads();
	assert_int_equal(r->calls, 1);
}

static inline void
ut_bs_opts(struct bs_opts *o, uint32_t cluster_sz, uint32_t max_channel_ops)
{
	bs_opts_init(o, sizeof(*o));
	o->cluster_sz = cluster_sz;
	if (max_channel_ops != 0)
		o->max_channel_ops = max_channel_ops;
}

static inline struct blob_store *
ut_bs_init(struct bs_dev *dev, const struct bs_opts *o)
{
	struct ut_res r = { 0 };

	bs_init(dev, o, ut_bs_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_non_null(r.bs);
	return r.bs;
}

static inline int
ut_bs_load(struct bs_dev *dev, const struct bs_opts *o, struct blob_store **bs)
{
	struct ut_res r = { 0 };

	bs_load(dev, o, ut_bs_cb, &r);
	ut_wait(&r);
	*bs = r.bs;
	return r.rc;
}

static inline int
ut_bs_unload(struct blob_store *bs)
{
	struct ut_res r = { 0 };

	bs_unload(bs, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline blob_id
ut_create(struct blob_store *bs, uint64_t clusters, bool thin)
{
	struct blob_opts o;
	struct ut_res r = { 0 };

	blob_opts_init(&o, sizeof(o));
	o.num_clusters = clusters;
	o.thin_provision = thin;
	bs_create_blob(bs, &o, ut_id_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	return r.id;
}

static inline struct blob *
ut_open(struct blob_store *bs, blob_id id)
{
	struct ut_res r = { 0 };

	bs_open_blob(bs, id, ut_blob_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_non_null(r.blob);
	return r.blob;
}

static inline void
ut_close(struct blob *blob)
{
	struct ut_res r = { 0 };

	blob_close(blob, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
}

static inline int
ut_sync_md(struct blob *blob)
{
	struct ut_res r = { 0 };

	blob_sync_md(blob, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

enum ut_io { UT_RD, UT_WR, UT_RDV, UT_WRV, UT_WZ, UT_UNMAP };

static inline void
ut_io_submit(enum ut_io op, struct blob *blob, struct io_channel *ch, void *buf,
	     struct iovec *iov, int iovcnt, uint64_t off, uint64_t len, struct ut_res *r)
{
	switch (op) {
	case UT_RD:
		blob_io_read(blob, ch, buf, off, len, ut_op_cb, r);
		break;
	case UT_WR:
		blob_io_write(blob, ch, buf, off, len, ut_op_cb, r);
		break;
	case UT_RDV:
		blob_io_readv(blob, ch, iov, iovcnt, off, len, ut_op_cb, r);
		break;
	case UT_WRV:
		blob_io_writev(blob, ch, iov, iovcnt, off, len, ut_op_cb, r);
		break;
	case UT_WZ:
		blob_io_write_zeroes(blob, ch, off, len, ut_op_cb, r);
		break;
	case UT_UNMAP:
		blob_io_unmap(blob, ch, off, len, ut_op_cb, r);
		break;
	}
}

static inline int
ut_io(enum ut_io op, struct blob *blob, struct io_channel *ch, void *buf, struct iovec *iov,
      int iovcnt, uint64_t off, uint64_t len)
{
	struct ut_res r = { 0 };

	ut_io_submit(op, blob, ch, buf, iov, iovcnt, off, len, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_read(struct blob *blob, struct io_channel *ch, void *buf, uint64_t off, uint64_t len)
{
	return ut_io(UT_RD, blob, ch, buf, NULL, 0, off, len);
}

static inline int
ut_write(struct blob *blob, struct io_channel *ch, void *buf, uint64_t off, uint64_t len)
{
	return ut_io(UT_WR, blob, ch, buf, NULL, 0, off, len);
}

/* A byte pattern that differs per (seed, position). */
static inline void
ut_fill(void *p, size_t len, uint32_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 131u) ^ (seed * 2654435761u) ^ (i >> 9) ^ (seed >> 3)) | 1u;
}

static inline bool
ut_is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		if (b[i] != 0)
			return false;
	}
	return true;
}

#endif
