/*
 * Synchronous helpers for the lvol unit tests. Each wraps one lib/lvol
 * call: it submits, checks that the callback has NOT run inside the call
 * (DESIGN.md), polls the ut_threads harness until it has, and returns the
 * result (a synchronous error return counts as the result). Everything
 * runs on harness thread 0.
 *
 * Devices: a test keeps a mem "base" device for the whole test and gives
 * the store a write-through fault-device wrapper of it (ut_dev), because
 * an unload or destroy releases the store's device: the base, holding the
 * image, survives for the next load.
 */
#ifndef UT_LVOL_H
#define UT_LVOL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/lvol.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"
#include "../common/ut_fault_dev.h"
#include "../common/ut_threads.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

struct ut_lres {
	int calls;
	int rc;
	struct lvol_store *lvs;
	struct lvol *lvol;
};

static inline void
ut_l_op_cb(void *arg, int rc)
{
	struct ut_lres *r = arg;

	r->calls++;
	r->rc = rc;
}

static inline void
ut_l_lvs_cb(void *arg, struct lvol_store *lvs, int rc)
{
	struct ut_lres *r = arg;

	r->calls++;
	r->rc = rc;
	r->lvs = lvs;
}

static inline void
ut_l_lvol_cb(void *arg, struct lvol *lvol, int rc)
{
	struct ut_lres *r = arg;

	r->calls++;
	r->rc = rc;
	r->lvol = lvol;
}

static inline void
ut_l_wait(struct ut_lres *r)
{
	assert_int_equal(r->calls, 0);  /* never inside the call */
	ut_poll_threads();
	assert_int_equal(r->calls, 1);
}

/* A fresh write-through wrapper of base for one store lifetime. */
static inline struct bs_dev *
ut_dev(struct bs_dev *base)
{
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);

	assert_non_null(dev);
	return dev;
}

static inline int
ut_lvs_init_opts(struct bs_dev *dev, const struct lvs_opts *o, struct lvol_store **lvs)
{
	struct ut_lres r = { 0 };
	int rc = lvs_init(dev, o, ut_l_lvs_cb, &r);

	if (rc != 0) {
		assert_int_equal(r.calls, 0);
		*lvs = NULL;
		return rc;
	}
	ut_l_wait(&r);
	*lvs = r.lvs;
	if (r.rc == 0)
		assert_non_null(r.lvs);
	return r.rc;
}

static inline int
ut_lvs_init(struct bs_dev *dev, const char *name, uint32_t cluster_sz, struct lvol_store **lvs)
{
	struct lvs_opts o;

	lvs_opts_init(&o, sizeof(o));
	snprintf(o.name, sizeof(o.name), "%s", name);
	if (cluster_sz != 0)
		o.cluster_sz = cluster_sz;
	return ut_lvs_init_opts(dev, &o, lvs);
}

static inline int
ut_lvs_load_opts(struct bs_dev *dev, const struct lvs_opts *o, struct lvol_store **lvs)
{
	struct ut_lres r = { 0 };

	lvs_load(dev, o, ut_l_lvs_cb, &r);
	ut_l_wait(&r);
	*lvs = r.lvs;
	if (r.rc == 0)
		assert_non_null(r.lvs);
	else
		assert_null(r.lvs);
	return r.rc;
}

static inline int
ut_lvs_load(struct bs_dev *dev, struct lvol_store **lvs)
{
	return ut_lvs_load_opts(dev, NULL, lvs);
}

static inline int
ut_lvs_unload(struct lvol_store *lvs)
{
	struct ut_lres r = { 0 };
	int rc = lvs_unload(lvs, ut_l_op_cb, &r);

	if (rc != 0) {
		assert_int_equal(r.calls, 0);
		return rc;
	}
	ut_l_wait(&r);
	return r.rc;
}

static inline int
ut_lvs_destroy(struct lvol_store *lvs)
{
	struct ut_lres r = { 0 };
	int rc = lvs_destroy(lvs, ut_l_op_cb, &r);

	if (rc != 0) {
		assert_int_equal(r.calls, 0);
		return rc;
	}
	ut_l_wait(&r);
	return r.rc;
}

static inline int
ut_lvs_rename(struct lvol_store *lvs, const char *name)
{
	struct ut_lres r = { 0 };

	lvs_rename(lvs, name, ut_l_op_cb, &r);
	ut_l_wait(&r);
	return r.rc;
}

static inline int
ut_lvol_create(struct lvol_store *lvs, const char *name, uint64_t size, bool thin,
	       struct lvol **lvol)
{
	struct ut_lres r = { 0 };
	int rc = lvol_create(lvs, name, size, thin, LVOL_CLEAR_WITH_DEFAULT, ut_l_lvol_cb, &r);

	if (lvol != NULL)
		*lvol = NULL;
	if (rc != 0) {
		assert_int_equal(r.calls, 0);
		return rc;
	}
	ut_l_wait(&r);
	if (lvol != NULL)
		*lvol = r.lvol;
	if (r.rc == 0)
		assert_non_null(r.lvol);
	else
		assert_null(r.lvol);
	return r.rc;
}

static inline int
ut_lvol_snapshot(struct lvol *lvol, const char *name, struct lvol **snap)
{
	struct ut_lres r = { 0 };

	lvol_create_snapshot(lvol, name, ut_l_lvol_cb, &r);
	ut_l_wait(&r);
	if (snap != NULL)
		*snap = r.lvol;
	return r.rc;
}

static inline int
ut_lvol_clone(struct lvol *snap, const char *name, struct lvol **clone)
{
	struct ut_lres r = { 0 };

	lvol_create_clone(snap, name, ut_l_lvol_cb, &r);
	ut_l_wait(&r);
	if (clone != NULL)
		*clone = r.lvol;
	return r.rc;
}

static inline int
ut_lvol_esnap_clone(const char *esnap_uuid, uint64_t size, struct lvol_store *lvs,
		    const char *name, struct lvol **clone)
{
	struct ut_lres r = { 0 };

	lvol_create_esnap_clone(esnap_uuid, (uint32_t)strlen(esnap_uuid) + 1, size, lvs, name,
				ut_l_lvol_cb, &r);
	ut_l_wait(&r);
	if (clone != NULL)
		*clone = r.lvol;
	return r.rc;
}

#define UT_LVOL_OP(fn_name, call)                                   \
	static inline int                                           \
	fn_name                                                     \
	{                                                           \
		struct ut_lres r = { 0 };                           \
		call;                                               \
		ut_l_wait(&r);                                      \
		return r.rc;                                        \
	}

UT_LVOL_OP(ut_lvol_rename(struct lvol *l, const char *n), lvol_rename(l, n, ut_l_op_cb, &r))
UT_LVOL_OP(ut_lvol_resize(struct lvol *l, uint64_t sz), lvol_resize(l, sz, ut_l_op_cb, &r))
UT_LVOL_OP(ut_lvol_set_ro(struct lvol *l), lvol_set_read_only(l, ut_l_op_cb, &r))
UT_LVOL_OP(ut_lvol_destroy(struct lvol *l), lvol_destroy(l, ut_l_op_cb, &r))
UT_LVOL_OP(ut_lvol_inflate(struct lvol *l), lvol_inflate(l, ut_l_op_cb, &r))
UT_LVOL_OP(ut_lvol_decouple(struct lvol *l), lvol_decouple_parent(l, ut_l_op_cb, &r))
UT_LVOL_OP(ut_lvol_set_parent(struct lvol *l, struct lvol *s),
	   lvol_set_parent(l, s, ut_l_op_cb, &r))
UT_LVOL_OP(ut_lvs_grow(struct lvol_store *s), lvs_grow_live(s, ut_l_op_cb, &r))

/*
 * Teardown after a failed test: unloads every store still loaded (after
 * dropping consumer opens), so one failure does not cascade into the
 * next test's setup. Base devices a failed test leaked stay leaked.
 */
/* Unloads the store and loads it again from base (with o, or the defaults). */
static inline struct lvol_store *
ut_lvs_reload(struct bs_dev *base, struct lvol_store *lvs, const struct lvs_opts *o)
{
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(ut_lvs_load_opts(ut_dev(base), o, &lvs), 0);
	return lvs;
}

/* Reads block `blk` of the lvol through the blobstore; the read's rc. */
static inline int
ut_lvol_read_block(struct lvol *lvol, uint64_t blk, uint8_t *buf)
{
	struct io_channel *ch = bs_alloc_io_channel(lvs_get_blobstore(lvol_get_store(lvol)));
	struct ut_lres r = { 0 };

	assert_non_null(ch);
	blob_io_read(lvol_get_blob(lvol), ch, buf, blk, 1, ut_l_op_cb, &r);
	ut_poll_threads();
	assert_int_equal(r.calls, 1);
	bs_free_io_channel(ch);
	ut_poll_threads();
	return r.rc;
}

static inline void
ut_lvol_cleanup(void)
{
	struct lvol_store *lvs;
	struct lvol *l;

	ut_poll_threads();
	while ((lvs = lvs_first()) != NULL) {
		struct ut_lres r = { 0 };

		for (l = lvol_first(lvs); l != NULL; l = lvol_next(l)) {
			while (lvol_is_open(l))
				lvol_close(l);
		}
		if (lvs_unload(lvs, ut_l_op_cb, &r) != 0)
			break;
		ut_poll_threads();
	}
}

/* The raw value length of an application xattr of the lvol's blob (-1 if absent). */
static inline long
ut_xattr_len(struct blob *blob, const char *name)
{
	const void *v;
	size_t len;

	if (blob_get_xattr_value(blob, name, &v, &len) != 0)
		return -1;
	return (long)len;
}

static inline const char *
ut_uuid_str(const struct lv_uuid *u, char buf[UUID_STRING_LEN])
{
	uuid_fmt_lower(buf, UUID_STRING_LEN, u);
	return buf;
}

/*
 * Marks a test whose feature the blobstore does not provide yet: it FAILS
 * (never silently passes or skips) with a message naming what it waits
 * for. Grep for "WAITS FOR" to find them.
 */
#define UT_WAITS_FOR_BLOB(rc, what)                                                      \
	do {                                                                             \
		if ((rc) == -ENOTSUP)                                                    \
			fail_msg("WAITS FOR lib/blob: %s returns -ENOTSUP (snapshot.c " \
				 "not landed yet)", what);                               \
	} while (0)

#endif
