/*
 * lvol tests (lib/lvol/lvol.c): create (thick, thin, size rounding, clear
 * method), name rules and uniqueness (also against creates in flight),
 * -ENOSPC, rename (xattr lengths of spec §7.2: 64 at creation, strlen + 1
 * after a rename), resize, read-only, destroy (busy while open), lookups,
 * esnap clones (degraded without their external snapshot), the load rules
 * of spec §7.2 (nameless or over-long names fail the store; a missing uuid
 * does not), and that everything survives a reload.
 */
#include "ut_lvol.h"
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

/* A 1 GiB store with 4 MiB clusters (255 data clusters) on a fresh base. */
static struct lvol_store *
new_store(struct bs_dev **base, const char *name)
{
	struct lvol_store *lvs;

	*base = bs_dev_mem_create(1 * GiB / 4096, 4096);
	assert_non_null(*base);
	assert_int_equal(ut_lvs_init(ut_dev(*base), name, 0, &lvs), 0);
	return lvs;
}

static void
finish(struct bs_dev *base, struct lvol_store *lvs)
{
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_lvol_create_thick_thin_rounding(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, "lvs");
	struct lvol *thick, *thin, *one, *l;
	struct lv_uuid u_thick, u_thin;
	const void *v;
	size_t len;
	char buf[UUID_STRING_LEN];

	assert_int_equal(ut_lvol_create(lvs, "thick", 10 * MiB, false, &thick), 0);
	assert_int_equal(ut_lvol_create(lvs, "thin", 64 * MiB + 1, true, &thin), 0);
	assert_int_equal(ut_lvol_create(lvs, "one", 1, false, &one), 0);
	/* Rounded up to whole 4 MiB clusters. */
	assert_int_equal(lvol_get_num_clusters(thick), 3);
	assert_int_equal(lvol_get_size(thick), 12 * MiB);
	assert_int_equal(lvol_get_num_clusters(thin), 17);
	assert_int_equal(lvol_get_num_clusters(one), 1);
	assert_true(lvol_is_thin(thin));
	assert_false(lvol_is_thin(thick));
	assert_int_equal(lvol_get_num_allocated_clusters(thick), 3);
	assert_int_equal(lvol_get_num_allocated_clusters(thin), 0);
	assert_int_equal(lvs_get_free_clusters(lvs), 255 - 4);
	assert_false(lvol_is_read_only(thick));
	assert_false(lvol_is_snapshot(thick));
	assert_false(lvol_is_clone(thick));
	assert_false(lvol_is_esnap_clone(thick));
	assert_false(lvol_is_degraded(thick));
	assert_ptr_equal(lvol_get_store(thick), lvs);
	assert_null(lvol_get_parent(thick));
	assert_int_equal(lvol_get_clones(thick, NULL, 0), 0);

	/* Identity: "name" 64 bytes NUL-padded, then "uuid" 37 (spec §7.2). */
	assert_int_equal(blob_get_xattr_value(lvol_get_blob(thick), "name", &v, &len), 0);
	assert_int_equal(len, 64);
	assert_string_equal((const char *)v, "thick");
	for (size_t i = strlen("thick"); i < 64; i++)
		assert_int_equal(((const uint8_t *)v)[i], 0);
	assert_int_equal(blob_get_xattr_value(lvol_get_blob(thick), "uuid", &v, &len), 0);
	assert_int_equal(len, 37);
	assert_string_equal((const char *)v, ut_uuid_str(lvol_get_uuid(thick), buf));
	{
		const char **names;
		size_t n;

		assert_int_equal(blob_get_xattr_names(lvol_get_blob(thick), &names, &n), 0);
		assert_int_equal(n, 2);
		assert_string_equal(names[0], "name");
		assert_string_equal(names[1], "uuid");
		free(names);
	}

	/* Lookups. */
	assert_ptr_equal(lvol_get_by_name(lvs, "thin"), thin);
	assert_ptr_equal(lvol_get_by_uuid(lvol_get_uuid(thin)), thin);
	assert_null(lvol_get_by_name(lvs, "nope"));
	u_thick = *lvol_get_uuid(thick);
	u_thin = *lvol_get_uuid(thin);
	assert_int_not_equal(uuid_compare_lv(&u_thick, &u_thin), 0);

	/* Reload: same names, uuids, sizes, thinness, free clusters. */
	lvs = ut_lvs_reload(base, lvs, NULL);
	thick = lvol_get_by_uuid(&u_thick);
	thin = lvol_get_by_uuid(&u_thin);
	assert_non_null(thick);
	assert_non_null(thin);
	assert_string_equal(lvol_get_name(thick), "thick");
	assert_string_equal(lvol_get_name(thin), "thin");
	assert_int_equal(lvol_get_num_clusters(thin), 17);
	assert_true(lvol_is_thin(thin));
	assert_false(lvol_is_thin(thick));
	assert_int_equal(lvol_get_num_allocated_clusters(thick), 3);
	assert_int_equal(lvs_get_free_clusters(lvs), 255 - 4);
	assert_int_equal(ut_xattr_len(lvol_get_blob(thick), "name"), 64);
	/* Every lvol listed once. */
	{
		int n = 0;

		for (l = lvol_first(lvs); l != NULL; l = lvol_next(l))
			n++;
		assert_int_equal(n, 3);
	}
	finish(base, lvs);
}

static void
test_lvol_names_and_space(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, "lvs");
	struct ut_lres r1 = { 0 }, r2 = { 0 };
	struct lvol *l;
	char name63[64], name64[65];

	memset(name63, 'a', 63);
	name63[63] = '\0';
	memset(name64, 'b', 64);
	name64[64] = '\0';
	assert_int_equal(ut_lvol_create(lvs, "", 1 * MiB, true, &l), -EINVAL);
	assert_int_equal(ut_lvol_create(lvs, NULL, 1 * MiB, true, &l), -EINVAL);
	assert_int_equal(ut_lvol_create(lvs, name64, 1 * MiB, true, &l), -EINVAL);
	assert_int_equal(ut_lvol_create(lvs, name63, 1 * MiB, true, &l), 0);
	assert_string_equal(lvol_get_name(l), name63);
	assert_int_equal(ut_lvol_create(lvs, name63, 1 * MiB, true, &l), -EEXIST);
	assert_int_equal(lvol_create(lvs, "cm", 1, true, (enum lvol_clear_method)9, ut_l_lvol_cb,
				     &r1), -EINVAL);

	/* Two creates of one name in flight: the second is refused at once. */
	assert_int_equal(lvol_create(lvs, "race", 1 * MiB, true, LVOL_CLEAR_WITH_DEFAULT,
				     ut_l_lvol_cb, &r1), 0);
	assert_int_equal(lvol_create(lvs, "race", 1 * MiB, true, LVOL_CLEAR_WITH_DEFAULT,
				     ut_l_lvol_cb, &r2), -EEXIST);
	ut_poll_threads();
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r1.rc, 0);
	assert_int_equal(r2.calls, 0);

	/* Thick beyond the free space: -ENOSPC through the callback, nothing left behind. */
	assert_int_equal(ut_lvol_create(lvs, "huge", 2 * GiB, false, &l), -ENOSPC);
	assert_null(lvol_get_by_name(lvs, "huge"));
	assert_int_equal(lvs_get_free_clusters(lvs), 255);
	/* Thin beyond the store's size is fine. */
	assert_int_equal(ut_lvol_create(lvs, "huge", 2 * GiB, true, &l), 0);
	/* The same name in another store is fine. */
	{
		struct bs_dev *base2;
		struct lvol_store *lvs2 = new_store(&base2, "lvs2");

		assert_int_equal(ut_lvol_create(lvs2, "huge", 1 * MiB, true, &l), 0);
		finish(base2, lvs2);
	}
	/* Clear method is the blob's (spec §7.2). */
	assert_int_equal(lvol_create(lvs, "cm", 4 * MiB, false, LVOL_CLEAR_WITH_WRITE_ZEROES,
				     ut_l_lvol_cb, &r1), 0);
	r1.calls = 0;
	ut_poll_threads();
	assert_int_equal(r1.rc, 0);
	assert_int_equal(lvol_get_clear_method(r1.lvol), LVOL_CLEAR_WITH_WRITE_ZEROES);
	lvs = ut_lvs_reload(base, lvs, NULL);
	assert_int_equal(lvol_get_clear_method(lvol_get_by_name(lvs, "cm")),
			 LVOL_CLEAR_WITH_WRITE_ZEROES);
	finish(base, lvs);
}

static void
test_lvol_rename_xattr_lengths_survive_reload(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, "lvs");
	struct lvol *a, *b;
	struct lv_uuid ua;

	assert_int_equal(ut_lvol_create(lvs, "a", 4 * MiB, true, &a), 0);
	assert_int_equal(ut_lvol_create(lvs, "b", 4 * MiB, true, &b), 0);
	ua = *lvol_get_uuid(a);
	assert_int_equal(ut_xattr_len(lvol_get_blob(a), "name"), 64);
	assert_int_equal(ut_lvol_rename(a, "b"), -EEXIST);
	assert_int_equal(ut_lvol_rename(a, ""), -EINVAL);
	assert_int_equal(ut_lvol_rename(a, "a"), 0);             /* unchanged: nothing written */
	assert_int_equal(ut_xattr_len(lvol_get_blob(a), "name"), 64);
	assert_int_equal(ut_lvol_rename(a, "renamed"), 0);
	assert_string_equal(lvol_get_name(a), "renamed");
	assert_int_equal(ut_xattr_len(lvol_get_blob(a), "name"), 8);
	assert_null(lvol_get_by_name(lvs, "a"));
	assert_ptr_equal(lvol_get_by_name(lvs, "renamed"), a);
	/* The old name is free again. */
	assert_int_equal(ut_lvol_rename(b, "a"), 0);
	lvs = ut_lvs_reload(base, lvs, NULL);
	a = lvol_get_by_uuid(&ua);
	assert_non_null(a);
	assert_string_equal(lvol_get_name(a), "renamed");
	assert_int_equal(ut_xattr_len(lvol_get_blob(a), "name"), 8);
	assert_ptr_equal(lvol_get_by_name(lvs, "renamed"), a);
	assert_non_null(lvol_get_by_name(lvs, "a"));
	assert_int_equal(ut_xattr_len(lvol_get_blob(lvol_get_by_name(lvs, "a")), "name"), 2);
	finish(base, lvs);
}

static void
test_lvol_resize_and_read_only(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, "lvs");
	struct lvol *thick, *thin;
	struct lv_uuid u;

	assert_int_equal(ut_lvol_create(lvs, "thick", 8 * MiB, false, &thick), 0);
	assert_int_equal(ut_lvol_create(lvs, "thin", 8 * MiB, true, &thin), 0);
	u = *lvol_get_uuid(thick);
	assert_int_equal(ut_lvol_resize(thick, 20 * MiB + 5), 0);
	assert_int_equal(lvol_get_num_clusters(thick), 6);
	assert_int_equal(lvs_get_free_clusters(lvs), 255 - 6);
	assert_int_equal(ut_lvol_resize(thick, 4 * MiB), 0);
	assert_int_equal(lvol_get_num_clusters(thick), 1);
	assert_int_equal(lvs_get_free_clusters(lvs), 255 - 1);
	assert_int_equal(ut_lvol_resize(thick, 2 * GiB), -ENOSPC);
	assert_int_equal(ut_lvol_resize(thin, 2 * GiB), 0);
	assert_int_equal(lvol_get_size(thin), 2 * GiB);

	assert_int_equal(ut_lvol_set_ro(thick), 0);
	assert_true(lvol_is_read_only(thick));
	assert_int_equal(ut_lvol_resize(thick, 8 * MiB), -EPERM);
	lvs = ut_lvs_reload(base, lvs, NULL);
	thick = lvol_get_by_uuid(&u);
	assert_true(lvol_is_read_only(thick));
	assert_int_equal(lvol_get_num_clusters(thick), 1);
	assert_int_equal(lvol_get_size(lvol_get_by_name(lvs, "thin")), 2 * GiB);
	assert_int_equal(ut_lvol_resize(thick, 8 * MiB), -EPERM);
	finish(base, lvs);
}

static void
test_lvol_destroy_busy_while_open(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, "lvs");
	struct lvol *a, *b;
	struct lv_uuid ua;

	assert_int_equal(ut_lvol_create(lvs, "a", 40 * MiB, false, &a), 0);
	assert_int_equal(ut_lvol_create(lvs, "b", 4 * MiB, false, &b), 0);
	ua = *lvol_get_uuid(a);
	assert_int_equal(lvs_get_free_clusters(lvs), 255 - 11);
	lvol_open(a);
	lvol_open(a);
	assert_true(lvol_is_open(a));
	assert_int_equal(ut_lvol_destroy(a), -EBUSY);
	lvol_close(a);
	assert_int_equal(ut_lvol_destroy(a), -EBUSY);
	lvol_close(a);
	assert_false(lvol_is_open(a));
	assert_true(lvol_is_deletable(a));
	assert_int_equal(ut_lvol_destroy(a), 0);
	assert_null(lvol_get_by_name(lvs, "a"));
	assert_null(lvol_get_by_uuid(&ua));
	assert_int_equal(lvs_get_free_clusters(lvs), 255 - 1);
	/* Its name can be used again at once. */
	assert_int_equal(ut_lvol_create(lvs, "a", 4 * MiB, true, &a), 0);
	lvs = ut_lvs_reload(base, lvs, NULL);
	assert_null(lvol_get_by_uuid(&ua));
	assert_non_null(lvol_get_by_name(lvs, "a"));
	assert_int_equal(lvs_get_free_clusters(lvs), 255 - 1);
	finish(base, lvs);
}

/* ---- esnap clones ----------------------------------------------------------------------------- */

#define ESNAP_UUID "5b0e4c2a-0d1f-4b7e-9a55-2c3d4e5f6a7b"

struct esnap_env {
	int calls;
	int fail;
	void *last_blob_ctx;
};

static int
esnap_create(void *bs_ctx, void *blob_ctx, struct blob *blob, const void *id, uint32_t len,
	     struct bs_dev **dev)
{
	struct esnap_env *e = bs_ctx;

	e->calls++;
	e->last_blob_ctx = blob_ctx;
	assert_int_equal(len, 37);
	assert_string_equal((const char *)id, ESNAP_UUID);
	if (e->fail)
		return -ENODEV;
	*dev = bs_dev_zeroes_create(64 * MiB / 4096, 4096);
	return *dev == NULL ? -ENOMEM : 0;
}

static void
test_lvol_esnap_clone_degraded_without_parent(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(1 * GiB / 4096, 4096);
	struct esnap_env env = { 0 };
	struct lvol_store *lvs;
	struct lvs_opts o;
	struct lvol *c, *n;
	const void *id;
	size_t len;

	lvs_opts_init(&o, sizeof(o));
	snprintf(o.name, sizeof(o.name), "es");
	o.esnap_bs_dev_create = esnap_create;
	o.esnap_ctx = &env;
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);
	assert_int_equal(ut_lvol_esnap_clone(ESNAP_UUID, 64 * MiB, lvs, "ec", &c), 0);
	assert_true(env.calls >= 1);
	assert_ptr_equal(env.last_blob_ctx, lvs);
	assert_true(lvol_is_esnap_clone(c));
	assert_true(lvol_is_thin(c));
	assert_false(lvol_is_degraded(c));
	assert_int_equal(lvol_get_num_clusters(c), 16);
	assert_int_equal(lvol_get_esnap_id(c, &id, &len), 0);
	assert_int_equal(len, 37);
	assert_string_equal((const char *)id, ESNAP_UUID);
	assert_int_equal(ut_xattr_len(lvol_get_blob(c), "name"), 64);
	assert_int_equal(ut_lvol_create(lvs, "plain", 4 * MiB, true, &n), 0);
	assert_int_not_equal(lvol_get_esnap_id(n, &id, &len), 0);
	assert_int_equal(ut_lvs_unload(lvs), 0);

	/* Parent missing at load: the lvol is listed, degraded; the store loads. */
	env.fail = 1;
	assert_int_equal(ut_lvs_load_opts(ut_dev(base), &o, &lvs), 0);
	c = lvol_get_by_name(lvs, "ec");
	assert_non_null(c);
	assert_true(lvol_is_esnap_clone(c));
	assert_true(lvol_is_degraded(c));
	assert_false(lvol_is_degraded(lvol_get_by_name(lvs, "plain")));
	/* A degraded lvol can still be deleted. */
	assert_int_equal(ut_lvol_destroy(c), 0);
	assert_int_equal(ut_lvs_unload(lvs), 0);

	/* No opener at all: esnap clones made now are degraded from the start. */
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_int_equal(ut_lvol_esnap_clone(ESNAP_UUID, 4 * MiB, lvs, "ec2", &c), 0);
	assert_true(lvol_is_degraded(c));
	assert_int_equal(ut_lvol_esnap_clone(ESNAP_UUID, 4 * MiB, lvs, "ec2", &c), -EEXIST);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	env.fail = 0;
	assert_int_equal(ut_lvs_load_opts(ut_dev(base), &o, &lvs), 0);
	assert_false(lvol_is_degraded(lvol_get_by_name(lvs, "ec2")));
	finish(base, lvs);
}

/* ---- the load rules of spec §7.2 ------------------------------------------------------------------ */

/* Sets or removes an lvol's xattr behind the library's back, and persists it. */
static void
poke_xattr(struct lvol *lvol, const char *name, const void *value, uint16_t len)
{
	struct ut_lres r = { 0 };
	struct blob *blob = lvol_get_blob(lvol);

	if (value == NULL)
		assert_int_equal(blob_remove_xattr(blob, name), 0);
	else
		assert_int_equal(blob_set_xattr(blob, name, value, len), 0);
	blob_sync_md(blob, ut_l_op_cb, &r);
	ut_l_wait(&r);
	assert_int_equal(r.rc, 0);
}

static void
test_load_lvol_without_uuid_still_loads(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, "lvs");
	struct lvol *a, *b;
	char bad[37];

	assert_int_equal(ut_lvol_create(lvs, "a", 4 * MiB, true, &a), 0);
	assert_int_equal(ut_lvol_create(lvs, "b", 4 * MiB, true, &b), 0);
	poke_xattr(a, "uuid", NULL, 0);
	memset(bad, 'q', sizeof(bad));
	bad[36] = '\0';
	poke_xattr(b, "uuid", bad, sizeof(bad));
	lvs = ut_lvs_reload(base, lvs, NULL);
	a = lvol_get_by_name(lvs, "a");
	b = lvol_get_by_name(lvs, "b");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(uuid_is_null_lv(lvol_get_uuid(a)));
	assert_true(uuid_is_null_lv(lvol_get_uuid(b)));
	assert_null(lvol_get_by_uuid(lvol_get_uuid(a)));
	finish(base, lvs);
}

static void
test_load_fails_on_nameless_or_long_named_lvol(void **state)
{
	struct bs_dev *base;
	struct lvol_store *lvs = new_store(&base, "lvs");
	struct lvol *a;
	char long_name[65];

	/* A renamed value of strlen+1, and one without any NUL: both read. */
	assert_int_equal(ut_lvol_create(lvs, "a", 4 * MiB, true, &a), 0);
	poke_xattr(a, "name", "abc", 3);
	lvs = ut_lvs_reload(base, lvs, NULL);
	assert_non_null(lvol_get_by_name(lvs, "abc"));
	a = lvol_get_by_name(lvs, "abc");

	/* Over 64 bytes: the whole store is rejected. */
	memset(long_name, 'l', sizeof(long_name));
	poke_xattr(a, "name", long_name, sizeof(long_name));
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	assert_null(lvs_get_by_name("lvs"));
	base->destroy(base);
	ut_poll_threads();

	/* No name at all: likewise. */
	lvs = new_store(&base, "lvs");
	assert_int_equal(ut_lvol_create(lvs, "a", 4 * MiB, true, &a), 0);
	assert_int_equal(ut_lvol_create(lvs, "b", 4 * MiB, true, NULL), 0);
	poke_xattr(a, "name", NULL, 0);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), -EILSEQ);
	assert_null(lvs_first());
	base->destroy(base);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lvol_create_thick_thin_rounding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvol_names_and_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvol_rename_xattr_lengths_survive_reload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lvol_resize_and_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvol_destroy_busy_while_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvol_esnap_clone_degraded_without_parent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_load_lvol_without_uuid_still_loads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_load_fails_on_nameless_or_long_named_lvol, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
