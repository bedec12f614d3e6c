/*
 * Synchronous helpers for blobstore unit tests (store_ut, blob_ut,
 * recovery_ut, crash_ut; the data-path and snapshot tests may use them
 * too). Each wraps one asynchronous call: it submits, checks that the
 * callback has NOT run inside the call (DESIGN.md: never before the call
 * returns), polls the ut_threads harness until it has, and returns the
 * result. Everything runs on harness thread 0 unless a test says
 * otherwise.
 *
 * ut_bs_check() is the consistency oracle of the crash sweeps: it opens
 * every blob and checks that no cluster is owned twice, that every owned
 * cluster is marked used, and that the free count equals what the blobs
 * own (nothing leaked).
 */
#ifndef UT_BS_H
#define UT_BS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/thread.h"
#include "../common/ut_fault_dev.h"
#include "../common/ut_threads.h"
#include "../../../lib/blob/blob_internal.h"

struct ut_res {
	int calls;
	int rc;
	struct blob_store *bs;
	struct blob *blob;
	blob_id id;
};

static inline void
ut_op_cb(void *arg, int rc)
{
	struct ut_res *r = arg;

	r->calls++;
	r->rc = rc;
}

static inline void
ut_bs_cb(void *arg, struct blob_store *bs, int rc)
{
	struct ut_res *r = arg;

	r->calls++;
	r->rc = rc;
	r->bs = bs;
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
ut_id_cb(void *arg, blob_id id, int rc)
{
	struct ut_res *r = arg;

	r->calls++;
	r->rc = rc;
	r->id = id;
}

static inline void
ut_wait(struct ut_res *r)
{
	assert_int_equal(r->calls, 0);  /* never inside the call */
	ut_poll_threads();
	assert_int_equal(r->calls, 1);
}

static inline struct bs_opts
ut_bs_opts(uint32_t cluster_sz, const char *bstype)
{
	struct bs_opts o;

	bs_opts_init(&o, sizeof(o));
	o.cluster_sz = cluster_sz;
	if (bstype != NULL)
		strncpy(o.bstype, bstype, sizeof(o.bstype));
	return o;
}

static inline int
ut_bs_init(struct bs_dev *dev, const struct bs_opts *o, struct blob_store **bs)
{
	struct ut_res r = { 0 };

	bs_init(dev, o, ut_bs_cb, &r);
	ut_wait(&r);
	*bs = r.bs;
	return r.rc;
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

static inline int
ut_create(struct blob_store *bs, const struct blob_opts *o, blob_id *id)
{
	struct ut_res r = { 0 };

	bs_create_blob(bs, o, ut_id_cb, &r);
	ut_wait(&r);
	if (id != NULL)
		*id = r.id;
	return r.rc;
}

static inline blob_id
ut_create_simple(struct blob_store *bs, uint64_t clusters, bool thin)
{
	struct blob_opts o;
	blob_id id = BLOB_ID_INVALID;

	blob_opts_init(&o, sizeof(o));
	o.num_clusters = clusters;
	o.thin_provision = thin;
	assert_int_equal(ut_create(bs, &o, &id), 0);
	return id;
}

static inline int
ut_open(struct blob_store *bs, blob_id id, struct blob **blob)
{
	struct ut_res r = { 0 };

	bs_open_blob(bs, id, ut_blob_cb, &r);
	ut_wait(&r);
	*blob = r.blob;
	return r.rc;
}

static inline int
ut_close(struct blob *blob)
{
	struct ut_res r = { 0 };

	blob_close(blob, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_delete(struct blob_store *bs, blob_id id)
{
	struct ut_res r = { 0 };

	bs_delete_blob(bs, id, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_resize(struct blob *blob, uint64_t n)
{
	struct ut_res r = { 0 };

	blob_resize(blob, n, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_sync(struct blob *blob)
{
	struct ut_res r = { 0 };

	blob_sync_md(blob, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

/* A mem device wrapped by a fault device (write-back cache model). */
struct ut_rig {
	struct bs_dev *base;
	struct bs_dev *dev;
};

static inline void
ut_rig_create(struct ut_rig *rig, uint64_t blocks, uint32_t blocklen, bool cached)
{
	struct ut_fault_dev_opts fo;

	ut_fault_dev_opts_init(&fo, sizeof(fo));
	fo.drop_unflushed = cached;
	fo.atomic_unit = 4096 > blocklen ? 4096 : blocklen;
	rig->base = bs_dev_mem_create(blocks, blocklen);
	assert_non_null(rig->base);
	rig->dev = ut_fault_dev_create(rig->base, &fo);
	assert_non_null(rig->dev);
}

/* After the store on rig->dev is gone: destroy the base. */
static inline void
ut_rig_destroy(struct ut_rig *rig)
{
	ut_poll_threads();
	rig->base->destroy(rig->base);
	ut_poll_threads();
}

/*
 * Consistency oracle. Opens every blob through iteration, and checks:
 * no cluster is named by two blobs (or is a metadata cluster), every
 * named cluster is marked used, and the used count equals the metadata
 * clusters plus what the blobs own (no leak). Returns the number of
 * blobs seen. The blobs are closed again.
 */
static inline uint32_t
ut_bs_check(struct blob_store *bs)
{
	uint32_t total = bs->total_clusters;
	uint8_t *owned = calloc(total ? total : 1, 1);
	uint64_t owned_count = 0;
	uint32_t n = 0;
	struct ut_res r = { 0 };
	struct blob *blob;

	assert_non_null(owned);
	bs_iter_first(bs, ut_blob_cb, &r);
	ut_poll_threads();
	assert_int_equal(r.calls, 1);
	while (r.rc == 0) {
		blob = r.blob;
		n++;
		for (uint64_t i = 0; i < blob->active.num_clusters; i++) {
			uint32_t c = blob->active.clusters[i];

			if (c == 0)
				continue;
			assert_true(c >= bs->num_md_clusters);
			assert_true(c < total);
			if (owned[c])
				fail_msg("cluster %u owned twice (blob 0x%lx)", c,
					 (unsigned long)blob->id);
			owned[c] = 1;
			owned_count++;
			assert_true(bit_array_get(bs->used_clusters, c));
		}
		memset(&r, 0, sizeof(r));
		bs_iter_next(bs, blob, ut_blob_cb, &r);
		ut_poll_threads();
		assert_int_equal(r.calls, 1);
	}
	assert_int_equal(r.rc, -ENOENT);
	/* No leak: used = metadata clusters + owned. */
	assert_int_equal(bs_get_free_cluster_count(bs), total - bs->num_md_clusters - owned_count);
	free(owned);
	return n;
}

#endif
