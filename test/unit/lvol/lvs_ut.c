/*
 * lvolstore tests (lib/lvol/store.c, load.c): init / unload / load round
 * trips with the on-disk identity of spec §7.1 and §7.5, option and name
 * validation, store-name uniqueness (at init, load and rename), rejection
 * of stores that are not lvolstores, destroy, grow, and the getters.
 */
#include "ut_lvol.h"
#include "../../../lib/blob/format.h"
#include "../../../lib/lvol/lvol_internal.h"

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

static void
test_lvs_init_unload_load_round_trip(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(1 * GiB / 4096, 4096);
	struct lvol_store *lvs;
	struct lv_uuid uuid;
	char bstype[BS_BSTYPE_LEN], buf[UUID_STRING_LEN];
	const void *v;
	size_t len;
	uint8_t *img;

	assert_int_equal(ut_lvs_init(ut_dev(base), "lvs0", 0, &lvs), 0);
	assert_string_equal(lvs_get_name(lvs), "lvs0");
	assert_false(uuid_is_null_lv(lvs_get_uuid(lvs)));
	uuid = *lvs_get_uuid(lvs);
	assert_ptr_equal(lvs_get_by_name("lvs0"), lvs);
	assert_ptr_equal(lvs_get_by_uuid(&uuid), lvs);
	assert_ptr_equal(lvs_first(), lvs);
	assert_null(lvs_next(lvs));
	assert_int_equal(lvs_get_cluster_size(lvs), 4 * MiB);
	assert_int_equal(lvs_get_block_size(lvs), 4096);
	/* 256 clusters; 256 md pages + 4 + masks fit in one cluster (spec §9). */
	assert_int_equal(lvs_get_total_data_clusters(lvs), 255);
	assert_int_equal(lvs_get_free_clusters(lvs), 255);
	/* Spec §8 / the rpc.md example: one mask page: ((4096-5)*8) clusters of 4 MiB. */
	assert_int_equal(lvs_get_max_growable_size(lvs), 137271181312ull);
	bs_get_bstype(lvs_get_blobstore(lvs), bstype);
	assert_memory_equal(bstype, "LVOLSTORE\0\0\0\0\0\0\0", BS_BSTYPE_LEN);

	/* Super blob identity (spec §7.1): uuid 37 bytes, then name strlen+1, in that order. */
	assert_int_equal(blob_get_xattr_value(lvs->super_blob, "uuid", &v, &len), 0);
	assert_int_equal(len, 37);
	assert_string_equal((const char *)v, ut_uuid_str(&uuid, buf));
	assert_int_equal(ut_xattr_len(lvs->super_blob, "name"), 5);
	{
		const char **names;
		size_t n;

		assert_int_equal(blob_get_xattr_names(lvs->super_blob, &names, &n), 0);
		assert_int_equal(n, 2);
		assert_string_equal(names[0], "uuid");
		assert_string_equal(names[1], "name");
		free(names);
	}
	assert_int_equal(blob_get_num_clusters(lvs->super_blob), 0);
	assert_false(blob_is_thin_provisioned(lvs->super_blob));
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_null(lvs_get_by_name("lvs0"));
	assert_null(lvs_first());

	/* Superblock: md_len = floor(100 * 256 / 100), clean, super blob recorded. */
	img = bs_dev_mem_data(base);
	assert_int_equal(bsf_load_le32(img + BSF_SB_OFF_MD_LEN), 256);
	assert_int_equal(bsf_load_le32(img + BSF_SB_OFF_CLEAN), 1);
	assert_int_equal(bsf_load_le32(img + BSF_SB_OFF_CLUSTER_SIZE), 4 * MiB);

	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_string_equal(lvs_get_name(lvs), "lvs0");
	assert_int_equal(uuid_compare_lv(lvs_get_uuid(lvs), &uuid), 0);
	assert_int_equal(lvs_get_cluster_size(lvs), 4 * MiB);
	assert_int_equal(lvs_get_free_clusters(lvs), 255);
	assert_int_equal(lvs_get_total_data_clusters(lvs), 255);
	assert_null(lvol_first(lvs));
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_lvs_md_ratio_and_cluster_size(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(1 * GiB / 512, 512);
	struct lvol_store *lvs;
	struct lvs_opts o;

	lvs_opts_init(&o, sizeof(o));
	snprintf(o.name, sizeof(o.name), "ratio");
	o.cluster_sz = 1 * MiB;
	o.num_md_pages_per_cluster_ratio = 30;
	o.clear_method = LVS_CLEAR_WITH_NONE;
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);
	assert_int_equal(lvs_get_cluster_size(lvs), 1 * MiB);
	/* io unit = the device block */
	assert_int_equal(lvs_get_block_size(lvs), 512);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	/* floor(30 * 1024 / 100) = 307 metadata pages (spec §7.5). */
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(base) + BSF_SB_OFF_MD_LEN), 307);
	base->destroy(base);
	ut_poll_threads();
}

static void
expect_init_einval(struct bs_dev *base, struct lvs_opts *o)
{
	struct bs_dev *dev = ut_dev(base);
	struct lvol_store *lvs;

	assert_int_equal(ut_lvs_init_opts(dev, o, &lvs), -EINVAL);
	/* A synchronous error leaves the device with the caller. */
	dev->destroy(dev);
	ut_poll_threads();
}

static void
test_lvs_init_rejects_bad_names_and_options(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(256 * MiB / 4096, 4096);
	struct bs_dev *base8k = bs_dev_mem_create(256 * MiB / 8192, 8192);
	struct lvol_store *lvs;
	struct lvs_opts o;
	char name63[64];

	lvs_opts_init(&o, sizeof(o));
	expect_init_einval(base, &o);                          /* empty name */
	memset(o.name, 'x', sizeof(o.name));                   /* 64 chars, no NUL */
	expect_init_einval(base, &o);

	lvs_opts_init(&o, sizeof(o));
	snprintf(o.name, sizeof(o.name), "ok");
	o.cluster_sz = 6144;                                   /* not a multiple of 4096 */
	expect_init_einval(base, &o);
	o.cluster_sz = 0;
	expect_init_einval(base, &o);
	o.cluster_sz = 8192;
	o.md_page_size = 16384;                                /* cluster < md page */
	expect_init_einval(base, &o);
	o.md_page_size = 5000;                                 /* not a power of two */
	expect_init_einval(base, &o);
	o.md_page_size = 131072;                               /* > 64 KiB */
	expect_init_einval(base, &o);
	o.md_page_size = 0;
	o.num_md_pages_per_cluster_ratio = 0;
	expect_init_einval(base, &o);
	o.num_md_pages_per_cluster_ratio = 100;
	o.clear_method = (enum lvs_clear_method)7;
	expect_init_einval(base, &o);
	o.clear_method = LVS_CLEAR_WITH_UNMAP;
	o.cluster_sz = 12288;                                  /* multiple of 4096, not of 8192 */
	expect_init_einval(base8k, &o);

	/* 63 characters is the longest name. */
	memset(name63, 'n', 63);
	name63[63] = '\0';
	lvs_opts_init(&o, sizeof(o));
	memcpy(o.name, name63, 64);
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);
	assert_string_equal(lvs_get_name(lvs), name63);
	assert_int_equal(ut_xattr_len(lvs->super_blob, "name"), 64);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	base8k->destroy(base8k);
	ut_poll_threads();
}

static void
test_lvs_duplicate_names(void **state)
{
	struct bs_dev *b1 = bs_dev_mem_create(128 * MiB / 4096, 4096);
	struct bs_dev *b2 = bs_dev_mem_create(128 * MiB / 4096, 4096);
	struct bs_dev *b3 = bs_dev_mem_create(128 * MiB / 4096, 4096);
	struct lvol_store *s1, *s2, *s3;
	struct bs_dev *dev;
	struct ut_lres r1 = { 0 };
	struct lvs_opts o;

	assert_int_equal(ut_lvs_init(ut_dev(b1), "dup", 1 * MiB, &s1), 0);
	/* A loaded store holds its name. */
	dev = ut_dev(b2);
	assert_int_equal(ut_lvs_init(dev, "dup", 1 * MiB, &s2), -EEXIST);
	dev->destroy(dev);
	/* So does an init still in flight. */
	lvs_opts_init(&o, sizeof(o));
	snprintf(o.name, sizeof(o.name), "inflight");
	o.cluster_sz = 1 * MiB;
	assert_int_equal(lvs_init(ut_dev(b2), &o, ut_l_lvs_cb, &r1), 0);
	dev = ut_dev(b3);
	assert_int_equal(lvs_init(dev, &o, ut_l_lvs_cb, &r1), -EEXIST);
	dev->destroy(dev);
	ut_poll_threads();
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r1.rc, 0);
	s2 = r1.lvs;
	assert_int_equal(ut_lvs_unload(s2), 0);

	/* b2 becomes a second "dup" while b1's is unloaded... */
	assert_int_equal(ut_lvs_unload(s1), 0);
	assert_int_equal(ut_lvs_init(ut_dev(b2), "dup", 1 * MiB, &s2), 0);
	/* ...so loading b1 collides: -EEXIST, and b1 stays unloaded. */
	assert_int_equal(ut_lvs_load(ut_dev(b1), &s1), -EEXIST);
	assert_ptr_equal(lvs_get_by_name("dup"), s2);
	assert_null(lvs_next(lvs_first()));
	/* Renaming the loaded one frees the name. */
	assert_int_equal(ut_lvs_init(ut_dev(b3), "other", 1 * MiB, &s3), 0);
	assert_int_equal(ut_lvs_rename(s2, "other"), -EEXIST);
	assert_int_equal(ut_lvs_rename(s2, ""), -EINVAL);
	assert_int_equal(ut_lvs_rename(s2, "dup"), 0);        /* same name: nothing to do */
	assert_int_equal(ut_lvs_rename(s2, "dup2"), 0);
	assert_int_equal(ut_lvs_load(ut_dev(b1), &s1), 0);
	assert_string_equal(lvs_get_name(s1), "dup");
	assert_int_equal(ut_lvs_unload(s1), 0);
	assert_int_equal(ut_lvs_unload(s2), 0);
	assert_int_equal(ut_lvs_unload(s3), 0);
	b1->destroy(b1);
	b2->destroy(b2);
	b3->destroy(b3);
	ut_poll_threads();
}

static void
test_lvs_rename_survives_reload(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(128 * MiB / 4096, 4096);
	struct lvol_store *lvs;
	char name63[64];

	assert_int_equal(ut_lvs_init(ut_dev(base), "before", 1 * MiB, &lvs), 0);
	assert_int_equal(ut_lvs_rename(lvs, "after"), 0);
	assert_string_equal(lvs_get_name(lvs), "after");
	assert_null(lvs_get_by_name("before"));
	assert_ptr_equal(lvs_get_by_name("after"), lvs);
	/* strlen + 1 after a rename too (spec §7.1). */
	assert_int_equal(ut_xattr_len(lvs->super_blob, "name"), 6);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_string_equal(lvs_get_name(lvs), "after");
	assert_int_equal(ut_xattr_len(lvs->super_blob, "name"), 6);
	memset(name63, 'z', 63);
	name63[63] = '\0';
	assert_int_equal(ut_lvs_rename(lvs, name63), 0);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_string_equal(lvs_get_name(lvs), name63);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

struct bs_res {
	int calls, rc;
	struct blob_store *bs;
	blob_id id;
};

static void
bs_res_cb(void *arg, struct blob_store *bs, int rc)
{
	struct bs_res *r = arg;

	r->calls++;
	r->rc = rc;
	r->bs = bs;
}

static void
bs_res_op_cb(void *arg, int rc)
{
	struct bs_res *r = arg;

	r->calls++;
	r->rc = rc;
}

static void
bs_res_id_cb(void *arg, blob_id id, int rc)
{
	struct bs_res *r = arg;

	r->calls++;
	r->rc = rc;
	r->id = id;
}

/* A blobstore of type `bstype` on base, with an identity-less super blob or none; unloaded. */
static void
make_plain_store(struct bs_dev *base, const char *bstype, bool with_super)
{
	struct bs_res r = { 0 };
	struct blob_opts bopts;
	struct bs_opts bo;
	struct blob_store *bs;

	bs_opts_init(&bo, sizeof(bo));
	bo.cluster_sz = 1 * MiB;
	memcpy(bo.bstype, bstype, strlen(bstype));
	bs_init(ut_dev(base), &bo, bs_res_cb, &r);
	ut_poll_threads();
	assert_int_equal(r.rc, 0);
	bs = r.bs;
	if (with_super) {
		blob_id id;

		memset(&r, 0, sizeof(r));
		blob_opts_init(&bopts, sizeof(bopts));
		bs_create_blob(bs, &bopts, bs_res_id_cb, &r);
		ut_poll_threads();
		assert_int_equal(r.rc, 0);
		id = r.id;
		memset(&r, 0, sizeof(r));
		bs_set_super(bs, id, bs_res_op_cb, &r);
		ut_poll_threads();
		assert_int_equal(r.rc, 0);
	}
	memset(&r, 0, sizeof(r));
	bs_unload(bs, bs_res_op_cb, &r);
	ut_poll_threads();
	assert_int_equal(r.rc, 0);
}

static void
test_lvs_load_rejects_non_lvolstores(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(64 * MiB / 4096, 4096);
	struct lvol_store *lvs;

	/* Nothing on it. */
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	/* A blobstore of another type (the blobstore says -ENXIO). */
	make_plain_store(base, "OTHER", false);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	/* An LVOLSTORE without a super blob. */
	make_plain_store(base, "LVOLSTORE", false);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	/* An LVOLSTORE whose super blob has no identity. */
	make_plain_store(base, "LVOLSTORE", true);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	assert_null(lvs_first());
	base->destroy(base);
	ut_poll_threads();
}

static void
test_lvs_destroy_zeroes_the_store(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(128 * MiB / 4096, 4096);
	struct lvol_store *lvs;
	struct lvol *a, *b;

	assert_int_equal(ut_lvs_init(ut_dev(base), "gone", 1 * MiB, &lvs), 0);
	assert_int_equal(ut_lvol_create(lvs, "a", 3 * MiB, false, &a), 0);
	assert_int_equal(ut_lvol_create(lvs, "b", 3 * MiB, true, &b), 0);
	lvol_open(a);
	assert_int_equal(ut_lvs_destroy(lvs), -EBUSY);
	assert_int_equal(ut_lvs_unload(lvs), -EBUSY);
	lvol_close(a);
	assert_int_equal(ut_lvs_destroy(lvs), 0);
	assert_null(lvs_get_by_name("gone"));
	assert_null(lvs_first());
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	/* The name is free again. */
	assert_int_equal(ut_lvs_init(ut_dev(base), "gone", 1 * MiB, &lvs), 0);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_lvs_grow_live(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(256 * MiB / 4096, 4096);
	struct bs_dev *dev = ut_dev(base);
	struct lvol_store *lvs;
	struct lvol *l;

	/* The store starts on the first 128 MiB of the device ... */
	dev->blockcnt = 128 * MiB / 4096;
	assert_int_equal(ut_lvs_init(dev, "grow", 1 * MiB, &lvs), 0);
	assert_int_equal(lvs_get_total_data_clusters(lvs), 127);
	assert_int_equal(ut_lvol_create(lvs, "l", 10 * MiB, false, &l), 0);
	/* ... and the device grows to 256 MiB. */
	dev->blockcnt = 256 * MiB / 4096;
	assert_int_equal(ut_lvs_grow(lvs), 0);
	assert_int_equal(lvs_get_total_data_clusters(lvs), 255);
	assert_int_equal(lvs_get_free_clusters(lvs), 245);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_int_equal(lvs_get_total_data_clusters(lvs), 255);
	assert_int_equal(lvs_get_free_clusters(lvs), 245);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lvs_init_unload_load_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvs_md_ratio_and_cluster_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvs_init_rejects_bad_names_and_options, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lvs_duplicate_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvs_rename_survives_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvs_load_rejects_non_lvolstores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvs_destroy_zeroes_the_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvs_grow_live, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
