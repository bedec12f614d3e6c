/*
 * Unit tests of lib/blob/snapshot.c: snapshots, clones, inflate,
 * decouple, set parent (snapshot and external), esnap clones (and the
 * late attach of an external device that was missing), the delete
 * of a snapshot with one clone (merge), the load-time fix-up of
 * interrupted snapshot operations (spec §6.10), and the SPDK fixture's
 * snapshot / clone relationships and data.
 *
 * Every test checks data, not only metadata: each blob's expected bytes
 * are kept in memory and compared with a full read, before and after the
 * operation, after a clean unload / load, and after a dirty load
 * (recovery) of a copy of the live image. ut_bs_check() (no cluster owned
 * twice, nothing leaked) runs after every reload.
 *
 * Geometry: 4 KiB blocks, 16 KiB clusters (4 io units), 2048 clusters,
 * 256 metadata pages, a write-through fault device over a memory device.
 */
#include <fcntl.h>
#include <unistd.h>

#include "lvstor/log.h"
#include "snap_ut_helpers.h"
#include "../common/ut_spdk_fixture.h"

#define BL 4096u
#define CL (16u * 1024u)
#define UPC (CL / BL)
#define DEV_CLUSTERS 2048u
#define MiB (1024ull * 1024ull)

struct rig {
	struct bs_dev *base;
	struct bs_dev *dev;
	struct blob_store *bs;
	struct io_channel *ch;
	struct bs_opts o;
};

/* ---- the external snapshot device (esnap tests) ------------------------------------------- */

#define EXT_CLUSTERS 6u
static uint8_t g_ext[EXT_CLUSTERS * CL];
static int g_esnap_calls;
/* "ext1" is missing too (its bdev has not appeared yet): esnap attach tests. */
static bool g_ext_missing;

static int
esnap_create(void *bs_ctx, void *blob_ctx, struct blob *blob, const void *id, uint32_t len,
	     struct bs_dev **dev)
{
	struct bs_dev *d;

	g_esnap_calls++;
	if (len == 4 && memcmp(id, "ext1", 4) == 0 && !g_ext_missing) {
		d = bs_dev_mem_create(sizeof(g_ext) / BL, BL);
		if (d == NULL)
			return -ENOMEM;
		memcpy(bs_dev_mem_data(d), g_ext, sizeof(g_ext));
		*dev = d;
		return 0;
	}
	return -ENODEV;
}

static struct bs_dev *
ext_dev(void)
{
	struct bs_dev *d = bs_dev_mem_create(sizeof(g_ext) / BL, BL);

	assert_non_null(d);
	memcpy(bs_dev_mem_data(d), g_ext, sizeof(g_ext));
	return d;
}

/* ---- rig ------------------------------------------------------------------------------------- */

static int
setup(void **state)
{
	g_ext_missing = false;
	ut_threads_init(1);
	return 0;
}

/* Two threads: a second thread's channel must see what the first sees. */
static int
setup2(void **state)
{
	g_ext_missing = false;
	ut_threads_init(2);
	return 0;
}

static int
teardown(void **state)
{
	ut_threads_fini();
	return 0;
}

static void
rig_up(struct rig *rig)
{
	memset(rig, 0, sizeof(*rig));
	rig->o = ut_bs_opts(CL, NULL);
	rig->o.num_md_pages = 256;
	rig->o.esnap_bs_dev_create = esnap_create;
	rig->base = bs_dev_mem_create((uint64_t)DEV_CLUSTERS * CL / BL, BL);
	assert_non_null(rig->base);
	rig->dev = ut_fault_dev_create(rig->base, NULL);
	assert_non_null(rig->dev);
	assert_int_equal(ut_bs_init(rig->dev, &rig->o, &rig->bs), 0);
	rig->ch = bs_alloc_io_channel(rig->bs);
	assert_non_null(rig->ch);
	ut_pattern(g_ext, sizeof(g_ext), 4242);
}

static void
rig_down(struct rig *rig)
{
	bs_free_io_channel(rig->ch);
	ut_poll_threads();
	ut_bs_check(rig->bs);
	assert_int_equal(ut_bs_unload(rig->bs), 0);
	rig->base->destroy(rig->base);
	ut_poll_threads();
}

/* Clean unload and load again (the masks path). */
static void
rig_reload(struct rig *rig)
{
	bs_free_io_channel(rig->ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(rig->bs), 0);
	rig->dev = ut_fault_dev_create(rig->base, NULL);
	assert_int_equal(ut_bs_load(rig->dev, &rig->o, &rig->bs), 0);
	assert_false(rig->bs->recovered);
	rig->ch = bs_alloc_io_channel(rig->bs);
	ut_bs_check(rig->bs);
}

/*
 * A dirty load: the live image is copied (as after a power cut with every
 * write durable) and loaded through recovery; the old store is dropped
 * and the copy becomes the rig's device.
 */
static void
rig_reload_dirty(struct rig *rig)
{
	struct bs_dev *copy = ut_mem_dev_copy(rig->base);
	struct bs_opts o;

	assert_non_null(copy);
	bs_free_io_channel(rig->ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_unload(rig->bs), 0);
	rig->base->destroy(rig->base);
	ut_poll_threads();
	rig->base = copy;
	/* The copy was taken before the unload: dirty, unless nothing was
	 * written since the last clean load; recover in any case. */
	rig->dev = ut_fault_dev_create(rig->base, NULL);
	o = rig->o;
	o.force_recover = true;
	assert_int_equal(ut_bs_load(rig->dev, &o, &rig->bs), 0);
	assert_true(rig->bs->recovered);
	rig->ch = bs_alloc_io_channel(rig->bs);
	ut_bs_check(rig->bs);
}

static blob_id
mk(struct rig *rig, uint64_t clusters, bool thin)
{
	return ut_create_simple(rig->bs, clusters, thin);
}

static struct blob *
op(struct rig *rig, blob_id id)
{
	struct blob *blob = NULL;

	assert_int_equal(ut_open(rig->bs, id, &blob), 0);
	return blob;
}

static void
cl(struct blob *blob)
{
	assert_int_equal(ut_close(blob), 0);
}

/* Writes `len` io units of pattern `seed` at `off` into the blob and the model. */
static void
wr(struct rig *rig, blob_id id, uint8_t *model, uint64_t off, uint64_t len, uint32_t seed)
{
	struct blob *blob = op(rig, id);
	uint8_t *buf = malloc(len * BL);

	assert_non_null(buf);
	ut_pattern(buf, len * BL, seed);
	assert_int_equal(ut_bwrite(blob, rig->ch, buf, off, len), 0);
	if (model != NULL)
		memcpy(model + off * BL, buf, len * BL);
	free(buf);
	cl(blob);
}

/* The whole blob reads back as `model` (n clusters). */
static void
ck(struct rig *rig, blob_id id, const uint8_t *model, uint64_t n)
{
	struct blob *blob = op(rig, id);
	uint8_t *buf = malloc(n * CL + 1);

	assert_non_null(buf);
	assert_int_equal(blob_get_num_clusters(blob), n);
	assert_int_equal(ut_bread(blob, rig->ch, buf, 0, n * UPC), 0);
	for (uint64_t i = 0; i < n * CL; i++) {
		if (buf[i] != model[i])
			fail_msg("blob 0x%lx: byte %lu (cluster %lu) is %02x, want %02x",
				 (unsigned long)id, (unsigned long)i, (unsigned long)(i / CL), buf[i],
				 model[i]);
	}
	free(buf);
	cl(blob);
}

static uint64_t
nalloc(struct rig *rig, blob_id id)
{
	struct blob *blob = op(rig, id);
	uint64_t n = blob_get_num_allocated_clusters(blob);

	cl(blob);
	return n;
}

static bool
is_thin(struct rig *rig, blob_id id)
{
	struct blob *blob = op(rig, id);
	bool t = blob_is_thin_provisioned(blob);

	cl(blob);
	return t;
}

static size_t
nclones(struct rig *rig, blob_id id)
{
	blob_id ids[8];
	size_t count = 8;

	assert_int_equal(bs_get_clones(rig->bs, id, ids, &count), 0);
	return count;
}

static bool
has_xattr_internal(struct rig *rig, blob_id id, const char *name)
{
	struct blob *blob = op(rig, id);
	bool has = blob_get_xattr_internal(blob, name, NULL, NULL) == 0;

	cl(blob);
	return has;
}

static uint8_t *
model_new(uint64_t clusters)
{
	uint8_t *m = calloc(clusters ? clusters : 1, CL);

	assert_non_null(m);
	return m;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static void
get_name(void *ctx, const char *name, const void **value, size_t *len)
{
	*value = ctx;
	*len = strlen(ctx) + 1;
}

static void
snapshot_of(bool thin)
{
	static const char *const names[] = { "name" };
	struct blob_xattr_opts xo = { 1, names, (void *)"snap1", get_name };
	struct rig rig;
	uint8_t *m = model_new(8), *ms;
	uint64_t free0;
	blob_id b, s;
	struct blob *blob, *sb;
	const void *v;
	size_t len;
	uint8_t buf[BL];

	rig_up(&rig);
	b = mk(&rig, 8, thin);
	wr(&rig, b, m, 0, 2, 1);                /* cluster 0, part */
	wr(&rig, b, m, 3 * UPC + 1, 3, 2);      /* cluster 3, part */
	free0 = bs_get_free_cluster_count(rig.bs);

	assert_int_equal(ut_snapshot(rig.bs, b, &xo, &s), 0);
	assert_true(s != b && s != BLOB_ID_INVALID);
	/* No cluster claimed or freed: S took B's. */
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0);
	assert_int_equal(nalloc(&rig, s), thin ? 2 : 8);
	assert_int_equal(nalloc(&rig, b), 0);
	assert_true(is_thin(&rig, b));
	assert_int_equal(is_thin(&rig, s), thin);
	assert_true(bs_get_parent_snapshot(rig.bs, b) == s);
	assert_true(bs_get_parent_snapshot(rig.bs, s) == BLOB_ID_INVALID);
	assert_int_equal(nclones(&rig, s), 1);
	assert_false(has_xattr_internal(&rig, s, BSF_XATTR_SNAPTMP));
	ms = model_new(8);
	memcpy(ms, m, 8 * CL);
	ck(&rig, b, m, 8);
	ck(&rig, s, ms, 8);

	sb = op(&rig, s);
	assert_true(blob_is_read_only(sb));
	assert_true(blob_is_snapshot(sb));
	assert_false(blob_is_clone(sb));
	assert_int_equal(blob_get_xattr_value(sb, "name", &v, &len), 0);
	assert_string_equal(v, "snap1");
	/* A snapshot refuses writes. */
	memset(buf, 1, sizeof(buf));
	assert_int_equal(ut_bwrite(sb, rig.ch, buf, 0, 1), -EPERM);
	cl(sb);
	blob = op(&rig, b);
	assert_true(blob_is_clone(blob));
	assert_false(blob_is_snapshot(blob));
	cl(blob);

	/* Writes to the original do not reach the snapshot. */
	wr(&rig, b, m, 1, 1, 3);
	wr(&rig, b, m, 5 * UPC, UPC, 4);
	ck(&rig, b, m, 8);
	ck(&rig, s, ms, 8);
	assert_int_equal(nalloc(&rig, b), 2);

	rig_reload(&rig);
	ck(&rig, b, m, 8);
	ck(&rig, s, ms, 8);
	assert_true(bs_get_parent_snapshot(rig.bs, b) == s);
	rig_reload_dirty(&rig);
	ck(&rig, b, m, 8);
	ck(&rig, s, ms, 8);
	assert_true(bs_get_parent_snapshot(rig.bs, b) == s);
	assert_int_equal(nclones(&rig, s), 1);
	rig_down(&rig);
	free(m);
	free(ms);
}

static void
test_snapshot_thick(void **state)
{
	snapshot_of(false);
}

static void
test_snapshot_thin(void **state)
{
	snapshot_of(true);
}

/* A snapshot of a blob that is open and doing I/O: its handle reads through S at once. */
static void
test_snapshot_open_blob(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(4), *ms = model_new(4), buf[2 * BL];
	struct ut_res w = { 0 };
	struct blob *blob;
	blob_id b, s;

	rig_up(&rig);
	b = mk(&rig, 4, true);
	wr(&rig, b, m, 0, 2, 10);
	blob = op(&rig, b);
	/* A first write in flight when the snapshot starts. */
	ut_pattern(buf, sizeof(buf), 11);
	blob_io_write(blob, rig.ch, buf, 2 * UPC, 2, ut_op_cb, &w);
	memcpy(m + 2 * UPC * BL, buf, sizeof(buf));
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.rc, 0);
	memcpy(ms, m, 4 * CL);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 0);
	assert_true(blob->parent != NULL && blob->parent->id == s);
	ut_pattern(buf, sizeof(buf), 12);
	assert_int_equal(ut_bwrite(blob, rig.ch, buf, 1, 2), 0);
	memcpy(m + BL, buf, sizeof(buf));
	cl(blob);
	ck(&rig, b, m, 4);
	ck(&rig, s, ms, 4);
	rig_reload_dirty(&rig);
	ck(&rig, b, m, 4);
	ck(&rig, s, ms, 4);
	rig_down(&rig);
	free(m);
	free(ms);
}

/* Chains of depth 4: each snapshot keeps the data of its time. */
static void
test_snapshot_chain(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(6), *ms[4];
	blob_id b, s[4], c;

	rig_up(&rig);
	b = mk(&rig, 6, false);
	for (int i = 0; i < 4; i++) {
		wr(&rig, b, m, (uint64_t)i * UPC + 1, 2, 20 + i);
		assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s[i]), 0);
		ms[i] = model_new(6);
		memcpy(ms[i], m, 6 * CL);
	}
	wr(&rig, b, m, 5 * UPC, 1, 30);
	assert_true(bs_get_parent_snapshot(rig.bs, b) == s[3]);
	for (int i = 1; i < 4; i++)
		assert_true(bs_get_parent_snapshot(rig.bs, s[i]) == s[i - 1]);
	assert_true(bs_get_parent_snapshot(rig.bs, s[0]) == BLOB_ID_INVALID);
	ck(&rig, b, m, 6);
	for (int i = 0; i < 4; i++)
		ck(&rig, s[i], ms[i], 6);
	/* The thick origin's clusters all went to the first snapshot. */
	assert_int_equal(nalloc(&rig, s[0]), 6);
	assert_int_equal(nalloc(&rig, s[1]), 1);
	/* A clone of the oldest reads its data. */
	assert_int_equal(ut_clone(rig.bs, s[0], NULL, &c), 0);
	ck(&rig, c, ms[0], 6);
	rig_reload(&rig);
	ck(&rig, b, m, 6);
	for (int i = 0; i < 4; i++)
		ck(&rig, s[i], ms[i], 6);
	ck(&rig, c, ms[0], 6);
	rig_down(&rig);
	free(m);
	for (int i = 0; i < 4; i++)
		free(ms[i]);
}

/* Snapshot of a clone: the new snapshot sits between the clone and its parent. */
static void
test_snapshot_of_clone(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(4), *mc = model_new(4), *msc = model_new(4);
	blob_id b, s, c, sc;

	rig_up(&rig);
	b = mk(&rig, 4, false);
	wr(&rig, b, m, 0, 4 * UPC, 40);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(ut_clone(rig.bs, s, NULL, &c), 0);
	memcpy(mc, m, 4 * CL);
	wr(&rig, c, mc, UPC + 1, 1, 41);
	assert_int_equal(ut_snapshot(rig.bs, c, NULL, &sc), 0);
	memcpy(msc, mc, 4 * CL);
	wr(&rig, c, mc, 2 * UPC, 1, 42);
	assert_true(bs_get_parent_snapshot(rig.bs, c) == sc);
	assert_true(bs_get_parent_snapshot(rig.bs, sc) == s);
	assert_int_equal(nclones(&rig, s), 2);     /* b and sc */
	assert_int_equal(nalloc(&rig, sc), 1);
	ck(&rig, c, mc, 4);
	ck(&rig, sc, msc, 4);
	ck(&rig, b, m, 4);
	rig_reload_dirty(&rig);
	ck(&rig, c, mc, 4);
	ck(&rig, sc, msc, 4);
	rig_down(&rig);
	free(m);
	free(mc);
	free(msc);
}

static void
test_snapshot_errors(void **state)
{
	struct rig rig;
	blob_id b, s, s2;

	rig_up(&rig);
	b = mk(&rig, 2, false);
	assert_int_equal(ut_snapshot(rig.bs, 0x1000000ffull, NULL, NULL), -ENOENT);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	/* A snapshot of a read-only blob is refused (SPDK: -EINVAL). */
	assert_int_equal(ut_snapshot(rig.bs, s, NULL, &s2), -EINVAL);
	rig_down(&rig);
}

/* ---- clones ------------------------------------------------------------------------------------ */

static void
test_clone(void **state)
{
	static const char *const names[] = { "name" };
	struct blob_xattr_opts xo = { 1, names, (void *)"clone1", get_name };
	struct rig rig;
	uint8_t *m = model_new(4), *mc = model_new(4);
	blob_id b, s, c, c2;
	struct blob *blob;
	const void *v;
	size_t len;

	rig_up(&rig);
	b = mk(&rig, 4, false);
	wr(&rig, b, m, 0, 4 * UPC, 50);
	/* Not read-only: -EINVAL. */
	assert_int_equal(ut_clone(rig.bs, b, NULL, &c), -EINVAL);
	assert_int_equal(ut_clone(rig.bs, 0x1000000f0ull, NULL, &c), -ENOENT);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(ut_clone(rig.bs, s, &xo, &c), 0);
	assert_int_equal(ut_clone(rig.bs, s, NULL, &c2), 0);
	assert_int_equal(nclones(&rig, s), 3);
	assert_true(bs_get_parent_snapshot(rig.bs, c) == s);
	blob = op(&rig, c);
	assert_true(blob_is_clone(blob));
	assert_true(blob_is_thin_provisioned(blob));
	assert_int_equal(blob_get_num_allocated_clusters(blob), 0);
	assert_int_equal(blob_get_xattr_value(blob, "name", &v, &len), 0);
	assert_string_equal(v, "clone1");
	cl(blob);
	memcpy(mc, m, 4 * CL);
	ck(&rig, c, mc, 4);
	/* Copy-on-write: a partial write copies the rest of the cluster. */
	wr(&rig, c, mc, 2 * UPC + 1, 1, 51);
	assert_int_equal(nalloc(&rig, c), 1);
	ck(&rig, c, mc, 4);
	ck(&rig, c2, m, 4);
	ck(&rig, s, m, 4);
	/* Deleting a snapshot with several clones: -EBUSY. */
	assert_int_equal(ut_delete(rig.bs, s), -EBUSY);
	rig_reload(&rig);
	ck(&rig, c, mc, 4);
	assert_int_equal(nclones(&rig, s), 3);
	rig_down(&rig);
	free(m);
	free(mc);
}

/* ---- inflate and decouple ----------------------------------------------------------------------- */

/* G (slots 0,1,2) <- P (slots 1, 3) <- C (slot 2 written) */
struct chain3 {
	blob_id b, g, p, c;
	uint8_t *mg, *mp, *mc;
};

static void
chain3_make(struct rig *rig, struct chain3 *t)
{
	uint8_t *m = model_new(6);

	t->b = mk(rig, 6, true);
	wr(rig, t->b, m, 0, 3 * UPC, 60);
	assert_int_equal(ut_snapshot(rig->bs, t->b, NULL, &t->g), 0);
	t->mg = model_new(6);
	memcpy(t->mg, m, 6 * CL);
	wr(rig, t->b, m, UPC + 2, 1, 61);
	wr(rig, t->b, m, 3 * UPC, 1, 62);
	assert_int_equal(ut_snapshot(rig->bs, t->b, NULL, &t->p), 0);
	t->mp = model_new(6);
	memcpy(t->mp, m, 6 * CL);
	assert_int_equal(ut_clone(rig->bs, t->p, NULL, &t->c), 0);
	t->mc = model_new(6);
	memcpy(t->mc, t->mp, 6 * CL);
	wr(rig, t->c, t->mc, 2 * UPC + 3, 1, 63);
	free(m);
}

static void
chain3_free(struct chain3 *t)
{
	free(t->mg);
	free(t->mp);
	free(t->mc);
}

static void
test_inflate(void **state)
{
	struct rig rig;
	struct chain3 t;
	uint64_t free0;
	uint8_t *z = model_new(5);
	blob_id th;

	rig_up(&rig);
	chain3_make(&rig, &t);
	free0 = bs_get_free_cluster_count(rig.bs);
	assert_int_equal(ut_inflate(rig.bs, rig.ch, t.c), 0);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 5);
	assert_int_equal(nalloc(&rig, t.c), 6);
	assert_false(is_thin(&rig, t.c));
	assert_true(bs_get_parent_snapshot(rig.bs, t.c) == BLOB_ID_INVALID);
	assert_false(has_xattr_internal(&rig, t.c, BSF_XATTR_SNAP));
	assert_int_equal(nclones(&rig, t.p), 1);
	ck(&rig, t.c, t.mc, 6);
	/* Inflating a thick blob: nothing to do. */
	assert_int_equal(ut_inflate(rig.bs, rig.ch, t.c), 0);
	/* A thin blob without parent: every cluster allocated, zeroes. */
	th = mk(&rig, 5, true);
	wr(&rig, th, z, UPC, 1, 64);
	assert_int_equal(ut_inflate(rig.bs, rig.ch, th), 0);
	assert_int_equal(nalloc(&rig, th), 5);
	assert_false(is_thin(&rig, th));
	ck(&rig, th, z, 5);
	/* Read-only blobs are refused. */
	assert_int_equal(ut_inflate(rig.bs, rig.ch, t.p), -EPERM);
	rig_reload_dirty(&rig);
	ck(&rig, t.c, t.mc, 6);
	ck(&rig, th, z, 5);
	assert_false(is_thin(&rig, t.c));
	rig_down(&rig);
	chain3_free(&t);
	free(z);
}

static void
test_decouple(void **state)
{
	struct rig rig;
	struct chain3 t;
	uint64_t free0;
	struct blob *blob;
	blob_id lone;

	rig_up(&rig);
	chain3_make(&rig, &t);
	free0 = bs_get_free_cluster_count(rig.bs);
	assert_int_equal(ut_decouple(rig.bs, rig.ch, t.c), 0);
	/* Only what P itself owns (slots 1 and 3) was copied. */
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 - 2);
	blob = op(&rig, t.c);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 3);
	assert_true(blob->active.clusters[1] != 0 && blob->active.clusters[2] != 0 &&
		    blob->active.clusters[3] != 0);
	assert_true(blob->active.clusters[0] == 0);
	assert_true(blob_is_thin_provisioned(blob));
	cl(blob);
	assert_true(bs_get_parent_snapshot(rig.bs, t.c) == t.g);
	assert_int_equal(nclones(&rig, t.p), 1);   /* b only */
	assert_int_equal(nclones(&rig, t.g), 2);   /* p and c */
	ck(&rig, t.c, t.mc, 6);
	/* Again: now from G, the last parent: SNAP goes, the blob stays thin. */
	assert_int_equal(ut_decouple(rig.bs, rig.ch, t.c), 0);
	assert_true(bs_get_parent_snapshot(rig.bs, t.c) == BLOB_ID_INVALID);
	assert_true(is_thin(&rig, t.c));
	assert_int_equal(nalloc(&rig, t.c), 4);
	ck(&rig, t.c, t.mc, 6);
	/* Nothing to decouple from. */
	assert_int_equal(ut_decouple(rig.bs, rig.ch, t.c), -EINVAL);
	lone = mk(&rig, 2, false);
	assert_int_equal(ut_decouple(rig.bs, rig.ch, lone), -EINVAL);
	rig_reload(&rig);
	ck(&rig, t.c, t.mc, 6);
	ck(&rig, t.p, t.mp, 6);
	ck(&rig, t.g, t.mg, 6);
	rig_down(&rig);
	chain3_free(&t);
}

/* ---- delete of a snapshot with one clone -------------------------------------------------------- */

static void
test_delete_merge(void **state)
{
	struct rig rig;
	struct chain3 t;
	uint64_t free0;
	struct blob *blob;

	rig_up(&rig);
	chain3_make(&rig, &t);
	/* P has two clones (b, c): refused. */
	assert_int_equal(ut_delete(rig.bs, t.p), -EBUSY);
	/* Give b its own everything, then delete b: P has one clone, c. */
	assert_int_equal(ut_delete(rig.bs, t.b), 0);
	assert_int_equal(nclones(&rig, t.p), 1);
	free0 = bs_get_free_cluster_count(rig.bs);
	/* P owns slots 1 and 3; c owns slot 2. c takes 1 and 3: nothing freed. */
	assert_int_equal(ut_delete(rig.bs, t.p), 0);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0);
	blob = op(&rig, t.c);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 3);
	assert_true(blob->parent != NULL && blob->parent->id == t.g);
	cl(blob);
	assert_true(bs_get_parent_snapshot(rig.bs, t.c) == t.g);
	assert_int_equal(nclones(&rig, t.g), 1);
	ck(&rig, t.c, t.mc, 6);
	/* Now G with its one clone c: c takes 0 (it has 1, 2, 3); G's 1 and 2 are freed. */
	free0 = bs_get_free_cluster_count(rig.bs);
	assert_int_equal(ut_delete(rig.bs, t.g), 0);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 + 2);
	assert_true(bs_get_parent_snapshot(rig.bs, t.c) == BLOB_ID_INVALID);
	assert_false(has_xattr_internal(&rig, t.c, BSF_XATTR_SNAP));
	assert_int_equal(nalloc(&rig, t.c), 4);
	ck(&rig, t.c, t.mc, 6);
	rig_reload(&rig);
	ck(&rig, t.c, t.mc, 6);
	rig_reload_dirty(&rig);
	ck(&rig, t.c, t.mc, 6);
	assert_int_equal(ut_bs_check(rig.bs), 1);  /* c alone */
	rig_down(&rig);
	chain3_free(&t);
}

/*
 * Merge across extent groups (600 clusters = 2 groups, the second partial):
 * group 0, where the clone has an extent page, gets a merged copy on a
 * fresh page; group 1, where it has none, adopts the snapshot's page.
 */
static void
test_delete_merge_groups(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(600), *mc;
	blob_id b, s, c;
	uint64_t free0;
	struct blob *blob;
	uint32_t sp1, cp0;

	rig_up(&rig);
	b = mk(&rig, 600, true);
	wr(&rig, b, m, 3 * UPC, 1, 70);
	wr(&rig, b, m, 5 * UPC, 1, 75);
	wr(&rig, b, m, 520 * UPC, 2, 71);
	wr(&rig, b, m, 599 * UPC + 3, 1, 72);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(ut_delete(rig.bs, b), 0);
	assert_int_equal(ut_clone(rig.bs, s, NULL, &c), 0);
	mc = model_new(600);
	memcpy(mc, m, 600 * CL);
	wr(&rig, c, mc, 3 * UPC + 2, 1, 73);     /* c has its own slot 3 */
	wr(&rig, c, mc, 10 * UPC, 1, 74);        /* and slot 10 */
	blob = op(&rig, s);
	sp1 = blob->active.extent_pages[1];
	cl(blob);
	blob = op(&rig, c);
	cp0 = blob->active.extent_pages[0];
	assert_true(cp0 != 0 && blob->active.extent_pages[1] == 0);
	cl(blob);
	free0 = bs_get_free_cluster_count(rig.bs);
	assert_int_equal(ut_delete(rig.bs, s), 0);
	/* Only S's slot 3 (c had its own) is freed. */
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 + 1);
	blob = op(&rig, c);
	assert_int_equal(blob_get_num_allocated_clusters(blob), 5);
	assert_true(blob->active.extent_pages[1] == sp1);      /* adopted */
	assert_true(blob->active.extent_pages[0] != cp0);      /* merged copy */
	assert_true(blob->parent == NULL);
	cl(blob);
	ck(&rig, c, mc, 600);
	rig_reload_dirty(&rig);
	ck(&rig, c, mc, 600);
	rig_down(&rig);
	free(m);
	free(mc);
}

/*
 * S's only clone C is itself a snapshot (of a clone), with a clone D below
 * it: the merge changes a read-only blob's map and parent, and D, which
 * reads through C and S, keeps reading the same data.
 */
static void
test_delete_merge_into_snapshot(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(4), *mx = model_new(4);
	blob_id b, s, x, c, d;

	rig_up(&rig);
	b = mk(&rig, 4, false);
	wr(&rig, b, m, 0, 4 * UPC, 130);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(ut_delete(rig.bs, b), 0);
	assert_int_equal(ut_clone(rig.bs, s, NULL, &x), 0);
	memcpy(mx, m, 4 * CL);
	wr(&rig, x, mx, 2 * UPC, 1, 131);
	assert_int_equal(ut_snapshot(rig.bs, x, NULL, &c), 0);  /* c: read-only, S's clone */
	assert_int_equal(ut_clone(rig.bs, c, NULL, &d), 0);
	assert_int_equal(nclones(&rig, s), 1);
	assert_int_equal(ut_delete(rig.bs, s), 0);
	assert_true(bs_get_parent_snapshot(rig.bs, c) == BLOB_ID_INVALID);
	assert_int_equal(nalloc(&rig, c), 4);
	assert_int_equal(nclones(&rig, c), 2);                 /* x and d */
	ck(&rig, c, mx, 4);
	ck(&rig, d, mx, 4);
	ck(&rig, x, mx, 4);
	rig_reload_dirty(&rig);
	ck(&rig, d, mx, 4);
	assert_int_equal(ut_bs_check(rig.bs), 3);
	rig_down(&rig);
	free(m);
	free(mx);
}

/*
 * Delete of a snapshot whose only clone is open (the lvol layer keeps every
 * blob open), with a first write to the clone in flight: the clone's I/O is
 * frozen while it adopts the snapshot's clusters, its handle re-points at
 * once, and the write lands in the clone's own new cluster.
 */
static void
test_delete_merge_open_clone(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(4), *mc = model_new(4), buf[BL];
	struct ut_res w = { 0 }, r = { 0 };
	struct blob *cb, *sb;
	blob_id b, s, c;
	uint64_t free0;

	rig_up(&rig);
	b = mk(&rig, 4, false);
	wr(&rig, b, m, 0, 4 * UPC, 140);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(ut_delete(rig.bs, b), 0);
	assert_int_equal(ut_clone(rig.bs, s, NULL, &c), 0);
	memcpy(mc, m, 4 * CL);
	wr(&rig, c, mc, 2 * UPC, 1, 141);
	cb = op(&rig, c);
	/* Opened by someone else as well: refused. */
	sb = op(&rig, s);
	assert_int_equal(ut_delete(rig.bs, s), -EBUSY);
	cl(sb);
	free0 = bs_get_free_cluster_count(rig.bs);
	ut_pattern(buf, BL, 142);
	blob_io_write(cb, rig.ch, buf, UPC + 3, 1, ut_op_cb, &w);   /* first write, in flight */
	memcpy(mc + (UPC + 3) * BL, buf, BL);
	bs_delete_blob(rig.bs, s, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.rc, 0);
	/* c allocated slot 1 itself (one new cluster) and took 0 and 3; S's
	 * clusters of slots 1 and 2 were freed. */
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 + 1);
	assert_null(cb->parent);
	assert_int_equal(blob_get_num_allocated_clusters(cb), 4);
	assert_int_equal(ut_open(rig.bs, s, &sb), -ENOENT);
	ut_pattern(buf, BL, 143);
	assert_int_equal(ut_bwrite(cb, rig.ch, buf, 3 * UPC, 1), 0);
	memcpy(mc + 3 * UPC * BL, buf, BL);
	cl(cb);
	ck(&rig, c, mc, 4);
	rig_reload_dirty(&rig);
	ck(&rig, c, mc, 4);
	rig_down(&rig);
	free(m);
	free(mc);
}

/* ---- set parent ------------------------------------------------------------------------------ */

static void
test_set_parent(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(4), *mt = model_new(4);
	blob_id b, s, t, thick, small, s2;

	rig_up(&rig);
	b = mk(&rig, 4, false);
	wr(&rig, b, m, 0, 4 * UPC, 80);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	t = mk(&rig, 4, true);
	wr(&rig, t, mt, UPC + 1, 1, 81);
	/* T's other slots read zeroes; after set parent, S's data. Its own
	 * slot 1 keeps zeroes around the unit written. */
	for (uint64_t k = 0; k < 4; k++) {
		if (k != 1)
			memcpy(mt + k * CL, m + k * CL, CL);
	}
	assert_int_equal(ut_set_parent(rig.bs, t, s), 0);
	assert_true(bs_get_parent_snapshot(rig.bs, t) == s);
	assert_int_equal(nclones(&rig, s), 2);
	ck(&rig, t, mt, 4);
	assert_int_equal(ut_set_parent(rig.bs, t, s), -EEXIST);
	/* Validation. */
	thick = mk(&rig, 4, false);
	assert_int_equal(ut_set_parent(rig.bs, thick, s), -EINVAL);
	small = mk(&rig, 3, true);
	assert_int_equal(ut_set_parent(rig.bs, small, s), -EINVAL);
	assert_int_equal(ut_set_parent(rig.bs, t, b), -EINVAL);     /* not read-only */
	assert_int_equal(ut_set_parent(rig.bs, t, t), -EINVAL);
	assert_int_equal(ut_set_parent(rig.bs, s, s), -EINVAL);
	/* A snapshot of t, then t's parent set to ... its own snapshot's chain is fine,
	 * but a read-only blob cannot be re-pointed (no cycles can be made). */
	assert_int_equal(ut_snapshot(rig.bs, t, NULL, &s2), 0);
	assert_int_equal(ut_set_parent(rig.bs, s2, s), -EPERM);
	rig_reload(&rig);
	ck(&rig, t, mt, 4);
	assert_true(bs_get_parent_snapshot(rig.bs, s2) == s);
	rig_down(&rig);
	free(m);
	free(mt);
}

/* ---- external snapshots ---------------------------------------------------------------------------- */

static blob_id
mk_esnap(struct rig *rig, uint64_t clusters, const char *eid)
{
	struct blob_opts o;
	blob_id id;

	blob_opts_init(&o, sizeof(o));
	o.num_clusters = clusters;
	o.esnap_id = eid;
	o.esnap_id_len = (uint32_t)strlen(eid);
	assert_int_equal(ut_create(rig->bs, &o, &id), 0);
	return id;
}

static void
test_esnap_clone(void **state)
{
	struct rig rig;
	/* 8 clusters over a 6-cluster device: the last two read zeroes. */
	uint8_t *m = model_new(8), *ms;
	blob_id e, s, c;
	struct blob *blob;

	rig_up(&rig);
	memcpy(m, g_ext, sizeof(g_ext));
	e = mk_esnap(&rig, 8, "ext1");
	g_esnap_calls = 0;
	blob = op(&rig, e);
	assert_int_equal(g_esnap_calls, 1);
	assert_true(blob_is_esnap_clone(blob));
	assert_non_null(blob->back_bs_dev);
	cl(blob);
	ck(&rig, e, m, 8);
	wr(&rig, e, m, 2 * UPC + 1, 1, 90);       /* copy-on-write from the device */
	wr(&rig, e, m, 7 * UPC, 1, 91);           /* past its end */
	assert_int_equal(nalloc(&rig, e), 2);
	ck(&rig, e, m, 8);

	/* Snapshot of an esnap clone: EXTSNAP moves to the snapshot. */
	assert_int_equal(ut_snapshot(rig.bs, e, NULL, &s), 0);
	ms = model_new(8);
	memcpy(ms, m, 8 * CL);
	blob = op(&rig, s);
	assert_true(blob_is_esnap_clone(blob));
	assert_true(blob_is_read_only(blob));
	cl(blob);
	blob = op(&rig, e);
	assert_false(blob_is_esnap_clone(blob));
	assert_true(blob_is_clone(blob));
	assert_int_equal(blob_get_num_allocated_clusters(blob), 0);
	cl(blob);
	assert_false(has_xattr_internal(&rig, e, BSF_XATTR_EXTSNAP));
	wr(&rig, e, m, 4 * UPC, 1, 92);
	ck(&rig, e, m, 8);
	ck(&rig, s, ms, 8);
	/* A clone of that snapshot reads the device through it. */
	assert_int_equal(ut_clone(rig.bs, s, NULL, &c), 0);
	ck(&rig, c, ms, 8);
	rig_reload_dirty(&rig);
	ck(&rig, e, m, 8);
	ck(&rig, s, ms, 8);
	ck(&rig, c, ms, 8);

	/* Delete of the esnap snapshot with one clone after e goes: c becomes the esnap clone. */
	assert_int_equal(ut_delete(rig.bs, e), 0);
	assert_int_equal(ut_delete(rig.bs, s), 0);
	blob = op(&rig, c);
	assert_true(blob_is_esnap_clone(blob));
	assert_false(blob_is_clone(blob));
	assert_non_null(blob->back_bs_dev);
	cl(blob);
	ck(&rig, c, ms, 8);
	rig_reload(&rig);
	ck(&rig, c, ms, 8);

	/* Decouple of an esnap clone inflates it. */
	assert_int_equal(ut_decouple(rig.bs, rig.ch, c), 0);
	blob = op(&rig, c);
	assert_false(blob_is_esnap_clone(blob));
	assert_false(blob_is_thin_provisioned(blob));
	assert_int_equal(blob_get_num_allocated_clusters(blob), 8);
	assert_null(blob->back_bs_dev);
	cl(blob);
	ck(&rig, c, ms, 8);
	rig_down(&rig);
	free(m);
	free(ms);
}

static void
test_esnap_missing_device(void **state)
{
	struct rig rig;
	blob_id e;
	struct blob *blob;
	uint8_t buf[BL];

	rig_up(&rig);
	e = mk_esnap(&rig, 4, "gone");
	/* Listed and opened, but reads of what it does not own fail. */
	blob = op(&rig, e);
	assert_true(blob_is_esnap_clone(blob));
	assert_null(blob->back_bs_dev);
	assert_int_equal(ut_bread(blob, rig.ch, buf, 0, 1), -ENODEV);
	cl(blob);
	assert_int_equal(ut_bs_check(rig.bs), 1);
	rig_down(&rig);
}

static int
ut_esnap_attach(struct blob *blob, struct bs_dev *dev)
{
	struct ut_res r = { 0 };

	blob_esnap_attach(blob, dev, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

/* One io unit at `off` through channel `ch` of thread `t` (then back to thread 0). */
static int
read_on(int t, struct io_channel *ch, struct blob *blob, uint8_t *buf, uint64_t off)
{
	int rc;

	ut_set_thread(t);
	rc = ut_bread(blob, ch, buf, off, 1);
	ut_set_thread(0);
	return rc;
}

static void
test_esnap_attach_after_missing_device(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(8), buf[BL];
	struct bs_dev *d;
	struct io_channel *ch1;
	struct ut_res r = { 0 }, r2 = { 0 };
	struct blob *blob;
	blob_id e;

	rig_up(&rig);
	memcpy(m, g_ext, sizeof(g_ext));
	g_ext_missing = true;
	e = mk_esnap(&rig, 8, "ext1");
	ut_set_thread(1);
	ch1 = bs_alloc_io_channel(rig.bs);
	assert_non_null(ch1);
	ut_set_thread(0);

	/* Degraded: both channels fail the reads the device should serve. */
	blob = op(&rig, e);
	assert_null(blob->back_bs_dev);
	assert_int_not_equal(blob->esnap_rc, 0);
	assert_int_equal(read_on(0, rig.ch, blob, buf, 0), -ENODEV);
	assert_int_equal(read_on(1, ch1, blob, buf, UPC), -ENODEV);

	/* The device arrives: the same channels now read through to it. */
	g_ext_missing = false;
	d = ext_dev();
	blob_esnap_attach(blob, d, ut_op_cb, &r);
	/* A second attach while the first runs: busy, and it changes nothing. */
	blob_esnap_attach(blob, d, ut_op_cb, &r2);
	assert_int_equal(r.calls + r2.calls, 0);
	ut_poll_threads();
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.rc, -EBUSY);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, 0);
	assert_ptr_equal(blob->back_bs_dev, d);
	assert_int_equal(blob->esnap_rc, 0);
	assert_int_equal(read_on(0, rig.ch, blob, buf, 0), 0);
	assert_memory_equal(buf, g_ext, BL);
	assert_int_equal(read_on(1, ch1, blob, buf, UPC), 0);
	assert_memory_equal(buf, g_ext + CL, BL);
	ck(&rig, e, m, 8);
	/* Copy-on-write from the attached device, then everything once more. */
	wr(&rig, e, m, 2 * UPC + 1, 1, 77);
	ck(&rig, e, m, 8);

	/* It has its device now: a second one is refused and stays ours. */
	d = ext_dev();
	assert_int_equal(ut_esnap_attach(blob, d), -EINVAL);
	assert_ptr_not_equal(blob->back_bs_dev, d);
	d->destroy(d);
	cl(blob);
	ut_set_thread(1);
	bs_free_io_channel(ch1);
	ut_set_thread(0);

	/* Nothing was written about it: a reload opens the device as usual. */
	rig_reload(&rig);
	ck(&rig, e, m, 8);
	rig_down(&rig);
	free(m);
}

static void
test_esnap_attach_refuses_wrong_blobs_and_devices(void **state)
{
	struct rig rig;
	struct bs_dev *d, *big;
	struct blob *blob;
	uint8_t buf[BL];
	blob_id t, e;

	rig_up(&rig);
	/* A thin blob that is no esnap clone has no external device to get. */
	t = mk(&rig, 4, true);
	blob = op(&rig, t);
	d = ext_dev();
	assert_int_equal(ut_esnap_attach(blob, d), -EINVAL);
	assert_null(blob->back_bs_dev);
	cl(blob);
	/* An esnap clone that has its device (it opened at load). */
	e = mk_esnap(&rig, 4, "ext1");
	blob = op(&rig, e);
	assert_non_null(blob->back_bs_dev);
	assert_int_equal(ut_esnap_attach(blob, d), -EINVAL);
	cl(blob);
	/* A degraded one, but a device whose blocks are larger than an io unit. */
	g_ext_missing = true;
	blob = op(&rig, e);
	assert_null(blob->back_bs_dev);
	big = bs_dev_mem_create(EXT_CLUSTERS * CL / (2 * BL), 2 * BL);
	assert_non_null(big);
	assert_int_equal(ut_esnap_attach(blob, big), -EINVAL);
	assert_int_equal(ut_esnap_attach(blob, NULL), -EINVAL);
	assert_null(blob->back_bs_dev);
	assert_int_equal(ut_bread(blob, rig.ch, buf, 0, 1), -ENODEV);
	cl(blob);
	big->destroy(big);
	d->destroy(d);
	ut_poll_threads();
	rig_down(&rig);
}

static void
test_esnap_attach_to_snapshot_serves_its_clones(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(6), *mc;
	struct blob *blob;
	blob_id e, s;

	rig_up(&rig);
	memcpy(m, g_ext, sizeof(g_ext));
	e = mk_esnap(&rig, 6, "ext1");
	/* The snapshot takes the EXTSNAP; e reads the device through it. */
	assert_int_equal(ut_snapshot(rig.bs, e, NULL, &s), 0);
	mc = model_new(6);
	memcpy(mc, m, 6 * CL);
	wr(&rig, e, mc, 3 * UPC, 1, 55);
	g_ext_missing = true;
	rig_reload(&rig);
	blob = op(&rig, s);
	assert_null(blob->back_bs_dev);
	{
		struct blob *c = op(&rig, e);
		uint8_t buf[BL];

		/* Through the degraded snapshot: its own cluster reads, the rest fails. */
		assert_int_equal(ut_bread(c, rig.ch, buf, 3 * UPC, 1), 0);
		assert_int_equal(ut_bread(c, rig.ch, buf, 0, 1), -ENODEV);
		cl(c);
	}
	assert_int_equal(ut_esnap_attach(blob, ext_dev()), 0);
	ck(&rig, s, m, 6);
	ck(&rig, e, mc, 6);
	cl(blob);
	rig_down(&rig);
	free(m);
	free(mc);
}

static void
test_set_external_parent(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(6), one[BL];
	struct bs_dev *d;
	blob_id t, b, s;

	rig_up(&rig);
	t = mk(&rig, 6, true);
	wr(&rig, t, NULL, 1, 1, 100);
	/* Slot 0 is t's own (zeroes around the unit written); the rest is the device's. */
	memcpy(m, g_ext, sizeof(g_ext));
	memset(m, 0, CL);
	ut_pattern(one, BL, 100);
	memcpy(m + BL, one, BL);
	d = ext_dev();
	assert_int_equal(ut_set_ext_parent(rig.bs, t, d, "ext1", 4), 0);
	ck(&rig, t, m, 6);
	assert_true(has_xattr_internal(&rig, t, BSF_XATTR_EXTSNAP));
	/* Same id again: -EEXIST; the device stays ours. */
	d = ext_dev();
	assert_int_equal(ut_set_ext_parent(rig.bs, t, d, "ext1", 4), -EEXIST);
	/* Thick: -EINVAL. */
	b = mk(&rig, 6, false);
	assert_int_equal(ut_set_ext_parent(rig.bs, b, d, "ext1", 4), -EINVAL);
	assert_int_equal(ut_set_ext_parent(rig.bs, t, d, "", 0), -EINVAL);
	d->destroy(d);
	ut_poll_threads();
	/* From a snapshot parent to an external one and back. */
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(ut_set_parent(rig.bs, t, s), 0);
	assert_false(has_xattr_internal(&rig, t, BSF_XATTR_EXTSNAP));
	assert_int_equal(nclones(&rig, s), 2);
	d = ext_dev();
	assert_int_equal(ut_set_ext_parent(rig.bs, t, d, "ext1", 4), 0);
	assert_int_equal(nclones(&rig, s), 1);
	assert_true(bs_get_parent_snapshot(rig.bs, t) == BLOB_ID_INVALID);
	ck(&rig, t, m, 6);
	rig_reload(&rig);
	ck(&rig, t, m, 6);
	/* Inflate of an esnap clone: all its data becomes its own. */
	assert_int_equal(ut_inflate(rig.bs, rig.ch, t), 0);
	assert_int_equal(nalloc(&rig, t), 6);
	assert_false(is_thin(&rig, t));
	ck(&rig, t, m, 6);
	rig_down(&rig);
	free(m);
}

/* ---- load-time fix-up (spec §6.10) ---------------------------------------------------------------- */

/* Sets an internal xattr through the internal API and persists it. */
static void
set_internal(struct rig *rig, blob_id id, const char *name, blob_id value)
{
	struct blob *blob = op(rig, id);
	uint8_t v[8];

	bsf_store_le64(v, value);
	assert_int_equal(blob_set_xattr_internal(blob, name, v, 8), 0);
	assert_int_equal(ut_sync(blob), 0);
	cl(blob);
}

static void
test_fixup(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(4), *mc = model_new(4);
	blob_id b, s, c, x, y;
	struct blob *blob;
	uint64_t free0;

	rig_up(&rig);
	b = mk(&rig, 4, false);
	wr(&rig, b, m, 0, 4 * UPC, 110);
	assert_int_equal(ut_snapshot(rig.bs, b, NULL, &s), 0);
	assert_int_equal(ut_clone(rig.bs, s, NULL, &c), 0);
	memcpy(mc, m, 4 * CL);
	wr(&rig, c, mc, 1, 1, 111);
	/* 1. SNAPTMP left on a completed snapshot (B names it): kept. */
	set_internal(&rig, s, BSF_XATTR_SNAPTMP, b);
	/* 2. SNAPRM left on a snapshot its clone still names: kept. */
	/* (both on s: the first that matches decides; both say keep) */
	set_internal(&rig, s, BSF_XATTR_SNAPRM, c);
	/* 3. An unfinished snapshot x of c (SNAPTMP = c, c's SNAP is not x):
	 *    deleted, and what it names that c also names is not freed. */
	x = mk(&rig, 4, true);
	wr(&rig, x, NULL, 0, 1, 112);            /* x's own cluster: freed */
	set_internal(&rig, x, BSF_XATTR_SNAPTMP, c);
	/* 4. SNAPRM naming a blob that does not exist: deleted. */
	y = mk(&rig, 2, false);
	set_internal(&rig, y, BSF_XATTR_SNAPRM, 0x1000000eeull);
	free0 = bs_get_free_cluster_count(rig.bs);

	rig_reload(&rig);          /* clean load: the scan finds them */
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0 + 1 + 2);
	assert_false(has_xattr_internal(&rig, s, BSF_XATTR_SNAPTMP));
	assert_false(has_xattr_internal(&rig, s, BSF_XATTR_SNAPRM));
	blob = op(&rig, s);
	assert_true(blob_is_read_only(blob));
	cl(blob);
	assert_int_equal(ut_open(rig.bs, x, &blob), -ENOENT);
	assert_int_equal(ut_open(rig.bs, y, &blob), -ENOENT);
	ck(&rig, b, m, 4);
	ck(&rig, s, m, 4);
	ck(&rig, c, mc, 4);
	assert_int_equal(ut_bs_check(rig.bs), 3);

	/* The same through recovery (dirty load). */
	x = mk(&rig, 4, true);
	wr(&rig, x, NULL, UPC, 1, 113);
	set_internal(&rig, x, BSF_XATTR_SNAPTMP, b);
	rig_reload_dirty(&rig);
	assert_int_equal(ut_open(rig.bs, x, &blob), -ENOENT);
	ck(&rig, b, m, 4);
	ck(&rig, c, mc, 4);
	rig_down(&rig);
	free(m);
	free(mc);
}

/*
 * A crafted interrupted creation after C2: S holds a copy of B's map
 * (shared clusters and extent pages), SNAPTMP = B, B does not name S.
 * The fix-up must delete S without freeing anything B owns.
 */
static void
test_fixup_shared_map(void **state)
{
	struct rig rig;
	uint8_t *m = model_new(3);
	struct blob *bb, *xb;
	blob_id b, x;
	uint64_t free0;

	rig_up(&rig);
	b = mk(&rig, 3, false);
	wr(&rig, b, m, 0, 3 * UPC, 120);
	x = mk(&rig, 3, true);
	bb = op(&rig, b);
	xb = op(&rig, x);
	for (int i = 0; i < 3; i++)
		xb->active.clusters[i] = bb->active.clusters[i];
	xb->active.extent_pages[0] = bb->active.extent_pages[0];
	xb->active.ep_state[0] = EP_COMMITTED;
	blob_md_changed(xb);
	{
		uint8_t v[8];

		bsf_store_le64(v, b);
		assert_int_equal(blob_set_xattr_internal(xb, BSF_XATTR_SNAPTMP, v, 8), 0);
	}
	assert_int_equal(ut_sync(xb), 0);
	/* Drop the handle without releasing anything: this is a crash image. */
	cl(bb);
	free0 = bs_get_free_cluster_count(rig.bs);
	{
		struct bs_dev *copy = ut_mem_dev_copy(rig.base);

		/* Forget the live store's view of x's map before closing it. */
		for (int i = 0; i < 3; i++)
			xb->active.clusters[i] = 0;
		xb->active.extent_pages[0] = 0;
		xb->active.ep_state[0] = EP_NONE;
		cl(xb);
		bs_free_io_channel(rig.ch);
		ut_poll_threads();
		assert_int_equal(ut_bs_unload(rig.bs), 0);
		rig.base->destroy(rig.base);
		ut_poll_threads();
		rig.base = copy;
		rig.dev = ut_fault_dev_create(rig.base, NULL);
		assert_int_equal(ut_bs_load(rig.dev, &rig.o, &rig.bs), 0);
		rig.ch = bs_alloc_io_channel(rig.bs);
	}
	assert_int_equal(ut_open(rig.bs, x, &xb), -ENOENT);
	assert_int_equal(bs_get_free_cluster_count(rig.bs), free0);
	ck(&rig, b, m, 3);
	assert_int_equal(ut_bs_check(rig.bs), 1);
	rig_down(&rig);
	free(m);
}

/* ---- the SPDK fixture ------------------------------------------------------------------------------ */

#define FX_VOL_A 0x100000001ull
#define FX_VOL_THIN 0x100000003ull
#define FX_SNAP_A 0x100000005ull
#define FX_CLONE_A 0x100000006ull

/* sha256 of the whole 64 MiB volume. */
static void
fx_sha(struct blob_store *bs, struct io_channel *ch, blob_id id, char hex[65])
{
	struct blob *blob;
	struct ut_sha256 sh;
	uint8_t *buf = malloc(4 * MiB);

	assert_non_null(buf);
	assert_int_equal(ut_open(bs, id, &blob), 0);
	assert_int_equal(blob_get_num_io_units(blob), 16384);
	ut_sha256_init(&sh);
	for (uint64_t off = 0; off < 16384; off += 1024) {
		assert_int_equal(ut_bread(blob, ch, buf, off, 1024), 0);
		ut_sha256_update(&sh, buf, 4 * MiB);
	}
	ut_sha256_hex(&sh, hex);
	assert_int_equal(ut_close(blob), 0);
	free(buf);
}

/* Block i of pattern `tag`: the 64-byte header and the fill byte. */
static void
fx_check_block(struct blob_store *bs, struct io_channel *ch, blob_id id, uint64_t lba,
	       const char *tag, uint64_t i)
{
	struct blob *blob;
	uint8_t buf[4096];
	char hdr[65];

	assert_int_equal(ut_open(bs, id, &blob), 0);
	assert_int_equal(ut_bread(blob, ch, buf, lba, 1), 0);
	assert_int_equal(ut_close(blob), 0);
	snprintf(hdr, sizeof(hdr), "SPDKREF %-8s blk %08lu ", tag, (unsigned long)i);
	memset(hdr + strlen(hdr), '.', 64 - strlen(hdr));
	assert_memory_equal(buf, hdr, 64);
	for (int k = 64; k < 4096; k++)
		assert_int_equal(buf[k], (uint8_t)(tag[strlen(tag) - 1] + i));
}

static void
test_spdk_fixture(void **state)
{
	struct bs_dev *img = ut_spdk_fixture_load();
	struct bs_opts o = ut_bs_opts(0, "LVOLSTORE");
	struct blob_store *bs;
	struct io_channel *ch;
	struct blob *blob;
	blob_id clones[4];
	size_t count = 4;
	char hex[65];

	if (img == NULL) {
		print_message("  fixture not available, skipped\n");
		skip();
	}
	assert_int_equal(ut_bs_load(ut_fault_dev_create(img, NULL), &o, &bs), 0);
	ch = bs_alloc_io_channel(bs);
	assert_non_null(ch);

	/* Relationships. */
	assert_int_equal(bs_get_clones(bs, FX_SNAP_A, clones, &count), 0);
	assert_int_equal(count, 2);
	assert_true((clones[0] == FX_VOL_A && clones[1] == FX_CLONE_A) ||
		    (clones[1] == FX_VOL_A && clones[0] == FX_CLONE_A));
	assert_true(bs_get_parent_snapshot(bs, FX_VOL_A) == FX_SNAP_A);
	assert_true(bs_get_parent_snapshot(bs, FX_CLONE_A) == FX_SNAP_A);
	assert_true(bs_get_parent_snapshot(bs, FX_SNAP_A) == BLOB_ID_INVALID);
	assert_int_equal(ut_open(bs, FX_SNAP_A, &blob), 0);
	assert_true(blob_is_snapshot(blob));
	assert_true(blob_is_read_only(blob));
	assert_int_equal(ut_close(blob), 0);

	/* Data: pattern headers, and the README's digests. */
	fx_check_block(bs, ch, FX_VOL_A, 0, "PAT_A", 0);
	fx_check_block(bs, ch, FX_VOL_A, 2047, "PAT_A", 2047);
	fx_check_block(bs, ch, FX_SNAP_A, 1500, "PAT_A", 1500);
	fx_check_block(bs, ch, FX_CLONE_A, 1023, "PAT_A", 1023);
	fx_check_block(bs, ch, FX_CLONE_A, 1024, "PAT_C", 0);
	fx_check_block(bs, ch, FX_CLONE_A, 2047, "PAT_C", 1023);
	fx_check_block(bs, ch, FX_VOL_THIN, 5000, "PAT_B", 0);
	fx_sha(bs, ch, FX_CLONE_A, hex);
	assert_string_equal(hex, "c1466b3f0c6af9585afab15de21547fae162cdaa5d4cb6bcc0af34b1103bccfb");
	fx_sha(bs, ch, FX_VOL_A, hex);
	assert_string_equal(hex, "e7ed0e9e8acd406b27863a548575b3b200d14a0705bfe1a1c5f7d47439fcc89e");

	/* Operations on SPDK's snapshot. */
	assert_int_equal(ut_delete(bs, FX_SNAP_A), -EBUSY);       /* two clones */
	assert_int_equal(ut_inflate(bs, ch, FX_CLONE_A), 0);
	assert_int_equal(bs_get_free_cluster_count(bs), 236 - 15);
	fx_sha(bs, ch, FX_CLONE_A, hex);
	assert_string_equal(hex, "c1466b3f0c6af9585afab15de21547fae162cdaa5d4cb6bcc0af34b1103bccfb");
	/* Now vol_a is snap_a's only clone: deleting snap_a merges into it. */
	assert_int_equal(ut_delete(bs, FX_SNAP_A), 0);
	assert_true(bs_get_parent_snapshot(bs, FX_VOL_A) == BLOB_ID_INVALID);
	assert_int_equal(bs_get_free_cluster_count(bs), 236 - 15);
	fx_sha(bs, ch, FX_VOL_A, hex);
	assert_string_equal(hex, "e7ed0e9e8acd406b27863a548575b3b200d14a0705bfe1a1c5f7d47439fcc89e");
	bs_free_io_channel(ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_check(bs), 4);
	assert_int_equal(ut_bs_unload(bs), 0);

	/* And it all survives a reload. */
	assert_int_equal(ut_bs_load(ut_fault_dev_create(img, NULL), &o, &bs), 0);
	ch = bs_alloc_io_channel(bs);
	fx_sha(bs, ch, FX_VOL_A, hex);
	assert_string_equal(hex, "e7ed0e9e8acd406b27863a548575b3b200d14a0705bfe1a1c5f7d47439fcc89e");
	fx_sha(bs, ch, FX_CLONE_A, hex);
	assert_string_equal(hex, "c1466b3f0c6af9585afab15de21547fae162cdaa5d4cb6bcc0af34b1103bccfb");
	bs_free_io_channel(ch);
	ut_poll_threads();
	assert_int_equal(ut_bs_check(bs), 4);
	assert_int_equal(ut_bs_unload(bs), 0);
	img->destroy(img);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_snapshot_thick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_thin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_open_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_of_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decouple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_merge_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_merge_into_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_merge_open_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_esnap_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_esnap_missing_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_esnap_attach_after_missing_device, setup2,
						teardown),
		cmocka_unit_test_setup_teardown(test_esnap_attach_refuses_wrong_blobs_and_devices,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_esnap_attach_to_snapshot_serves_its_clones,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_external_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixup_shared_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spdk_fixture, setup, teardown),
	};

	if (getenv("UT_LOG") == NULL)
		log_set_print_level(LOG_LEVEL_DISABLED);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
