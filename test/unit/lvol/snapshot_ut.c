/*
 * Snapshot and clone tests (lib/lvol/lineage.c on lib/blob/snapshot.c):
 * snapshot (the source stays open and becomes the clone), clone (only of
 * a read-only lvol), the delete rules (a snapshot with two clones is
 * refused with -EPERM; with one clone it merges into it), inflate,
 * decouple, set parent, set external parent, store destroy with chains,
 * and that all relations and data survive a reload.
 *
 * A blobstore call that still answers -ENOTSUP makes the test FAIL with
 * "WAITS FOR lib/blob" (UT_WAITS_FOR_BLOB): never a silent skip.
 */
#include "ut_lvol.h"

#define BLK 4096

static int
setup(void **state)
{
	ut_threads_init(1);
	return 0;
}

static int
teardown(void **state)
{
	ut_lvol_cleanup();
	ut_threads_fini();
	return 0;
}

static struct lvol_store *
new_store(struct bs_dev **base, const struct lvs_opts *extra)
{
	struct lvol_store *lvs;
	struct lvs_opts o;

	*base = bs_dev_mem_create(256 * MiB / BLK, BLK);
	assert_non_null(*base);
	if (extra != NULL)
		o = *extra;
	else
		lvs_opts_init(&o, sizeof(o));
	snprintf(o.name, sizeof(o.name), "snaps");
	o.cluster_sz = 1 * MiB;
	assert_int_equal(ut_lvs_init_opts(ut_dev(*base), &o, &lvs), 0);
	return lvs;
}

static void
finish(struct bs_dev *base, struct lvol_store *lvs)
{
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

/* ---- data helpers ---------------------------------------------------------------------------- */

static void
io_cb(void *arg, int rc)
{
	ut_l_op_cb(arg, rc);
}

static void
io_block(struct lvol *lvol, uint64_t blk, uint8_t *buf, bool write)
{
	struct io_channel *ch = bs_alloc_io_channel(lvs_get_blobstore(lvol_get_store(lvol)));
	struct ut_lres r = { 0 };

	assert_non_null(ch);
	if (write)
		blob_io_write(lvol_get_blob(lvol), ch, buf, blk, 1, io_cb, &r);
	else
		blob_io_read(lvol_get_blob(lvol), ch, buf, blk, 1, io_cb, &r);
	ut_poll_threads();
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, 0);
	bs_free_io_channel(ch);
	ut_poll_threads();
}

static void
write_tag(struct lvol *lvol, uint64_t blk, uint8_t tag)
{
	static uint8_t buf[BLK];

	memset(buf, tag, sizeof(buf));
	io_block(lvol, blk, buf, true);
}

static void
expect_tag(struct lvol *lvol, uint64_t blk, uint8_t tag)
{
	static uint8_t buf[BLK];

	io_block(lvol, blk, buf, false);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], tag);
}

/* Blocks per 1 MiB cluster. */
#define BPC (1 * MiB / BLK)

/* ---- tests ------------------------------------------------------------------------------------- */

static void
test_snapshot_and_clone_relations_survive_reload(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, NULL);
	struct lvol *vol, *snap, *clone, *l, *clones[4];
	struct lv_uuid uv, us, uc;
	int rc;

	assert_int_equal(ut_lvol_create(lvs, "vol", 4 * MiB, false, &vol), 0);
	write_tag(vol, 0, 0xa1);
	write_tag(vol, 3 * BPC, 0xa4);
	uv = *lvol_get_uuid(vol);

	rc = ut_lvol_snapshot(vol, "snap", &snap);
	UT_WAITS_FOR_BLOB(rc, "bs_create_snapshot");
	assert_int_equal(rc, 0);
	us = *lvol_get_uuid(snap);
	/* The source keeps its handle and identity and becomes a thin clone. */
	assert_ptr_equal(lvol_get_by_name(lvs, "vol"), vol);
	assert_true(lvol_is_clone(vol));
	assert_true(lvol_is_thin(vol));
	assert_ptr_equal(lvol_get_parent(vol), snap);
	assert_int_equal(lvol_get_num_allocated_clusters(vol), 0);
	assert_true(lvol_is_snapshot(snap));
	assert_true(lvol_is_read_only(snap));
	assert_int_equal(lvol_get_num_allocated_clusters(snap), 4);
	assert_int_equal(lvol_get_size(snap), 4 * MiB);
	assert_int_equal(ut_xattr_len(lvol_get_blob(snap), "name"), 64);
	assert_int_equal(ut_xattr_len(lvol_get_blob(snap), "uuid"), 37);
	expect_tag(vol, 0, 0xa1);
	expect_tag(snap, 3 * BPC, 0xa4);
	/* Writing the clone leaves the snapshot alone. */
	write_tag(vol, 0, 0xb1);
	expect_tag(snap, 0, 0xa1);

	/* Name rules apply to snapshots and clones too. */
	assert_int_equal(ut_lvol_snapshot(vol, "snap", &l), -EEXIST);
	assert_int_equal(ut_lvol_snapshot(vol, "", &l), -EINVAL);
	/* A writable lvol cannot be cloned. */
	assert_int_equal(ut_lvol_clone(vol, "bad", &l), -EINVAL);
	assert_int_equal(ut_lvol_clone(snap, "clone", &clone), 0);
	uc = *lvol_get_uuid(clone);
	assert_true(lvol_is_clone(clone));
	assert_ptr_equal(lvol_get_parent(clone), snap);
	assert_int_equal(ut_xattr_len(lvol_get_blob(clone), "name"), 64);
	expect_tag(clone, 0, 0xa1);
	assert_int_equal(lvol_get_clones(snap, clones, COUNTOF(clones)), 2);
	assert_int_equal(lvol_get_clones(snap, clones, 1), 2);      /* total, even if short */
	assert_false(lvol_is_deletable(snap));
	assert_int_equal(ut_lvol_destroy(snap), -EPERM);
	/* A snapshot cannot be resized. */
	assert_int_equal(ut_lvol_resize(snap, 8 * MiB), -EPERM);

	lvs = ut_lvs_reload(base, lvs, NULL);
	vol = lvol_get_by_uuid(&uv);
	snap = lvol_get_by_uuid(&us);
	clone = lvol_get_by_uuid(&uc);
	assert_non_null(vol);
	assert_non_null(snap);
	assert_non_null(clone);
	assert_string_equal(lvol_get_name(snap), "snap");
	assert_ptr_equal(lvol_get_parent(vol), snap);
	assert_ptr_equal(lvol_get_parent(clone), snap);
	assert_true(lvol_is_snapshot(snap));
	assert_int_equal(lvol_get_clones(snap, clones, COUNTOF(clones)), 2);
	expect_tag(vol, 0, 0xb1);
	expect_tag(clone, 0, 0xa1);
	expect_tag(clone, 3 * BPC, 0xa4);
	finish(base, lvs);
}

static void
test_delete_snapshot_with_one_clone_merges(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, NULL);
	struct lvol *vol, *snap, *clone;
	uint64_t free0;
	int rc;

	assert_int_equal(ut_lvol_create(lvs, "vol", 4 * MiB, false, &vol), 0);
	write_tag(vol, 0, 0x11);
	write_tag(vol, BPC, 0x12);
	free0 = lvs_get_free_clusters(lvs);
	rc = ut_lvol_snapshot(vol, "snap", &snap);
	UT_WAITS_FOR_BLOB(rc, "bs_create_snapshot");
	assert_int_equal(rc, 0);
	write_tag(vol, BPC, 0x22);
	assert_int_equal(ut_lvol_clone(snap, "clone", &clone), 0);
	/* With two clones: refused; delete one clone, then the snapshot merges. */
	assert_int_equal(ut_lvol_destroy(snap), -EPERM);
	assert_int_equal(ut_lvol_destroy(clone), 0);
	assert_true(lvol_is_deletable(snap));
	rc = ut_lvol_destroy(snap);
	if (rc == -EBUSY)
		fail_msg("WAITS FOR lib/blob: bs_delete_blob of a snapshot whose one clone is "
			 "open (held by the lvol layer) returns -EBUSY");
	assert_int_equal(rc, 0);
	assert_null(lvol_get_by_name(lvs, "snap"));
	assert_false(lvol_is_clone(vol));
	assert_null(lvol_get_parent(vol));
	expect_tag(vol, 0, 0x11);
	expect_tag(vol, BPC, 0x22);
	/* Everything the snapshot had, the volume now owns: no leak, no loss. */
	assert_int_equal(lvs_get_free_clusters(lvs), free0);
	lvs = ut_lvs_reload(base, lvs, NULL);
	vol = lvol_get_by_name(lvs, "vol");
	assert_false(lvol_is_clone(vol));
	expect_tag(vol, 0, 0x11);
	expect_tag(vol, BPC, 0x22);
	assert_int_equal(lvs_get_free_clusters(lvs), free0);
	finish(base, lvs);
}

static void
test_inflate_and_decouple(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, NULL);
	struct lvol *vol, *s1, *s2, *thin;
	int rc;

	/* s1 <- s2 <- vol, with data at different levels. */
	assert_int_equal(ut_lvol_create(lvs, "vol", 4 * MiB, true, &vol), 0);
	write_tag(vol, 0, 0x01);
	rc = ut_lvol_snapshot(vol, "s1", &s1);
	UT_WAITS_FOR_BLOB(rc, "bs_create_snapshot");
	assert_int_equal(rc, 0);
	write_tag(vol, BPC, 0x02);
	assert_int_equal(ut_lvol_snapshot(vol, "s2", &s2), 0);
	assert_ptr_equal(lvol_get_parent(vol), s2);
	assert_ptr_equal(lvol_get_parent(s2), s1);
	assert_true(lvol_is_clone(s2));
	assert_true(lvol_is_snapshot(s2));

	/* Decouple: vol takes what s2 provides and points at s1. */
	rc = ut_lvol_decouple(vol);
	UT_WAITS_FOR_BLOB(rc, "bs_blob_decouple_parent");
	assert_int_equal(rc, 0);
	assert_ptr_equal(lvol_get_parent(vol), s1);
	assert_int_equal(lvol_get_num_allocated_clusters(vol), 1);
	expect_tag(vol, 0, 0x01);
	expect_tag(vol, BPC, 0x02);
	assert_int_equal(lvol_get_clones(s2, NULL, 0), 0);

	/* Inflate: every cluster allocated, no parent, not thin. */
	rc = ut_lvol_inflate(vol);
	UT_WAITS_FOR_BLOB(rc, "bs_inflate_blob");
	assert_int_equal(rc, 0);
	assert_false(lvol_is_clone(vol));
	assert_null(lvol_get_parent(vol));
	assert_false(lvol_is_thin(vol));
	assert_int_equal(lvol_get_num_allocated_clusters(vol), 4);
	expect_tag(vol, 0, 0x01);
	expect_tag(vol, BPC, 0x02);

	/* A thin lvol with no parent decouples / inflates too (nothing to copy for decouple). */
	assert_int_equal(ut_lvol_create(lvs, "thin", 2 * MiB, true, &thin), 0);
	assert_int_equal(ut_lvol_inflate(thin), 0);
	assert_int_equal(lvol_get_num_allocated_clusters(thin), 2);

	lvs = ut_lvs_reload(base, lvs, NULL);
	vol = lvol_get_by_name(lvs, "vol");
	assert_false(lvol_is_clone(vol));
	expect_tag(vol, 0, 0x01);
	expect_tag(vol, BPC, 0x02);
	/* Both snapshots are now unreferenced: plain deletes. */
	assert_int_equal(ut_lvol_destroy(lvol_get_by_name(lvs, "s2")), 0);
	assert_int_equal(ut_lvol_destroy(lvol_get_by_name(lvs, "s1")), 0);
	finish(base, lvs);
}

static void
test_set_parent_rules(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, NULL);
	struct bs_dev *base2;
	struct lvol_store *other;
	struct lvol *vol, *snap, *t, *small, *w, *o;
	struct lvs_opts oo;
	int rc;

	assert_int_equal(ut_lvol_create(lvs, "vol", 4 * MiB, false, &vol), 0);
	write_tag(vol, 0, 0x5a);
	rc = ut_lvol_snapshot(vol, "snap", &snap);
	UT_WAITS_FOR_BLOB(rc, "bs_create_snapshot");
	assert_int_equal(rc, 0);
	assert_int_equal(ut_lvol_create(lvs, "t", 4 * MiB, true, &t), 0);
	assert_int_equal(ut_lvol_create(lvs, "small", 2 * MiB, true, &small), 0);
	assert_int_equal(ut_lvol_create(lvs, "w", 4 * MiB, false, &w), 0);

	assert_int_equal(ut_lvol_set_parent(t, w), -EINVAL);        /* parent writable */
	assert_int_equal(ut_lvol_set_parent(small, snap), -EINVAL); /* size differs */
	assert_int_equal(ut_lvol_set_parent(snap, snap), -EINVAL);  /* itself */
	lvs_opts_init(&oo, sizeof(oo));
	other = NULL;
	base2 = bs_dev_mem_create(64 * MiB / BLK, BLK);
	assert_int_equal(ut_lvs_init(ut_dev(base2), "other", 1 * MiB, &other), 0);
	assert_int_equal(ut_lvol_create(other, "o", 4 * MiB, true, &o), 0);
	assert_int_equal(ut_lvol_set_parent(o, snap), -EINVAL);     /* another store */
	assert_int_equal(ut_lvs_unload(other), 0);
	base2->destroy(base2);

	rc = ut_lvol_set_parent(t, snap);
	UT_WAITS_FOR_BLOB(rc, "bs_blob_set_parent");
	assert_int_equal(rc, 0);
	assert_ptr_equal(lvol_get_parent(t), snap);
	assert_true(lvol_is_clone(t));
	expect_tag(t, 0, 0x5a);
	assert_int_equal(lvol_get_clones(snap, NULL, 0), 2);
	lvs = ut_lvs_reload(base, lvs, NULL);
	assert_ptr_equal(lvol_get_parent(lvol_get_by_name(lvs, "t")),
			 lvol_get_by_name(lvs, "snap"));
	finish(base, lvs);
}

#define EXT_UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

static int
zeroes_opener(void *bs_ctx, void *blob_ctx, struct blob *blob, const void *id, uint32_t len,
	      struct bs_dev **dev)
{
	int *fail = bs_ctx;

	if (*fail)
		return -ENODEV;
	*dev = bs_dev_zeroes_create(4 * MiB / BLK, BLK);
	return *dev == NULL ? -ENOMEM : 0;
}

static void
test_set_external_parent(void **state)
{
	struct bs_dev *base;
	struct lvs_opts o;
	struct lvol_store *lvs;
	struct lvol *t, *s;
	const void *id;
	size_t len;
	int fail = 0, rc;
	struct ut_lres r = { 0 };

	lvs_opts_init(&o, sizeof(o));
	o.esnap_bs_dev_create = zeroes_opener;
	o.esnap_ctx = &fail;
	lvs = new_store(&base, &o);
	assert_int_equal(ut_lvol_create(lvs, "t", 4 * MiB, true, &t), 0);
	lvol_set_external_parent(t, EXT_UUID, sizeof(EXT_UUID), ut_l_op_cb, &r);
	ut_l_wait(&r);
	UT_WAITS_FOR_BLOB(r.rc, "bs_blob_set_external_parent");
	assert_int_equal(r.rc, 0);
	assert_true(lvol_is_esnap_clone(t));
	assert_false(lvol_is_degraded(t));
	assert_int_equal(lvol_get_esnap_id(t, &id, &len), 0);
	assert_int_equal(len, 37);
	assert_string_equal((const char *)id, EXT_UUID);
	/* A snapshot of an esnap clone takes over the external parent (spec §5.4). */
	rc = ut_lvol_snapshot(t, "s", &s);
	assert_int_equal(rc, 0);
	assert_true(lvol_is_esnap_clone(s));
	assert_ptr_equal(lvol_get_parent(t), s);

	/* The opener fails: the call fails, nothing changes. */
	fail = 1;
	assert_int_equal(ut_lvol_create(lvs, "u", 4 * MiB, true, &t), 0);
	memset(&r, 0, sizeof(r));
	lvol_set_external_parent(t, EXT_UUID, sizeof(EXT_UUID), ut_l_op_cb, &r);
	ut_l_wait(&r);
	assert_int_equal(r.rc, -ENODEV);
	assert_false(lvol_is_esnap_clone(t));
	/* Reload with the parent missing: s degraded, t (its clone) still listed. */
	lvs = ut_lvs_reload(base, lvs, &o);
	assert_true(lvol_is_degraded(lvol_get_by_name(lvs, "s")));
	assert_non_null(lvol_get_by_name(lvs, "t"));
	fail = 0;
	lvs = ut_lvs_reload(base, lvs, &o);
	assert_false(lvol_is_degraded(lvol_get_by_name(lvs, "s")));
	finish(base, lvs);
}

static void
test_lvs_destroy_with_chains(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, NULL);
	struct lvol *vol, *s1, *s2, *c1, *c2;
	int rc;

	assert_int_equal(ut_lvol_create(lvs, "vol", 4 * MiB, false, &vol), 0);
	rc = ut_lvol_snapshot(vol, "s1", &s1);
	UT_WAITS_FOR_BLOB(rc, "bs_create_snapshot");
	assert_int_equal(rc, 0);
	assert_int_equal(ut_lvol_snapshot(vol, "s2", &s2), 0);
	assert_int_equal(ut_lvol_clone(s1, "c1", &c1), 0);
	assert_int_equal(ut_lvol_clone(s2, "c2", &c2), 0);
	assert_int_equal(ut_lvol_clone(s2, "c3", NULL), 0);
	lvs = ut_lvs_reload(base, lvs, NULL);
	assert_int_equal(ut_lvs_destroy(lvs), 0);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	base->destroy(base);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_snapshot_and_clone_relations_survive_reload,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_snapshot_with_one_clone_merges, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inflate_and_decouple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_parent_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_external_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvs_destroy_with_chains, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
