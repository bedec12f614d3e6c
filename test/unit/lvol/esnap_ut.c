/*
 * External-snapshot hot-plug tests (lib/lvol/esnap.c on blob_esnap_attach):
 * an esnap clone whose external snapshot is missing at load comes up
 * degraded; lvs_esnap_hotplug with the id it waits for gives it the device
 * (reads then come from the external snapshot, the lvol is no longer
 * degraded, the counts follow), while a wrong id, an opener that still
 * fails or a device of the wrong geometry leave it as it was. Also: the
 * retry of every degraded lvol (id NULL), several lvols waiting for one
 * id, argument errors, a store that cannot unload under an attach,
 * counts that go back to zero when degraded lvols are deleted or unloaded,
 * and that a new lvol is never degraded by what happened to an old blob
 * with its id.
 *
 * The external snapshot is a memory device filled with a pattern, made by
 * the store's opener whenever the test says it exists.
 */
#include "ut_lvol.h"

#define BLK 4096
#define EXT_UUID "5b0e4c2a-0d1f-4b7e-9a55-2c3d4e5f6a7b"
#define EXT2_UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define OTHER_UUID "11111111-2222-4333-8444-555555555555"
/* The external snapshot: 4 MiB, i.e. four 1 MiB clusters of the store. */
#define EXT_BYTES (4 * MiB)

struct ext_env {
	bool present[2];                /* EXT_UUID, EXT2_UUID exist */
	uint32_t blocklen;              /* of the devices the opener makes */
	int calls;
};

static uint8_t g_ext[EXT_BYTES];

static int
ext_index(const void *id, uint32_t len)
{
	if (len == sizeof(EXT_UUID) && memcmp(id, EXT_UUID, len) == 0)
		return 0;
	if (len == sizeof(EXT2_UUID) && memcmp(id, EXT2_UUID, len) == 0)
		return 1;
	return -1;
}

static int
ext_open(void *bs_ctx, void *blob_ctx, struct blob *blob, const void *id, uint32_t len,
	 struct bs_dev **dev)
{
	struct ext_env *e = bs_ctx;
	int i = ext_index(id, len);
	struct bs_dev *d;

	e->calls++;
	if (i < 0 || !e->present[i])
		return -ENODEV;
	d = bs_dev_mem_create(EXT_BYTES / e->blocklen, e->blocklen);
	if (d == NULL)
		return -ENOMEM;
	memcpy(bs_dev_mem_data(d), g_ext, EXT_BYTES);
	*dev = d;
	return 0;
}

static int
setup(void **state)
{
	ut_threads_init(1);
	for (size_t i = 0; i < sizeof(g_ext); i++)
		g_ext[i] = (uint8_t)(i * 31 + i / BLK);
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
opts_for(struct lvs_opts *o, struct ext_env *env, const char *name)
{
	lvs_opts_init(o, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->cluster_sz = 1 * MiB;
	o->esnap_bs_dev_create = ext_open;
	o->esnap_ctx = env;
}

/* Every block of the external snapshot reads through the lvol (a few, spread out). */
static void
expect_ext_data(struct lvol *lvol)
{
	static uint8_t buf[BLK];

	for (uint64_t blk = 0; blk < EXT_BYTES / BLK; blk += 97) {
		assert_int_equal(ut_lvol_read_block(lvol, blk, buf), 0);
		assert_memory_equal(buf, g_ext + blk * BLK, BLK);
	}
}

/* What the callbacks of one lvs_esnap_hotplug saw. */
struct hp_res {
	int lvol_calls;
	int ok;
	int last_rc;
	struct lvol *lvols[4];
	int done_calls;
	int lvol_calls_at_done;
};

static void
hp_lvol_cb(void *arg, struct lvol *lvol, int rc)
{
	struct hp_res *r = arg;

	assert_int_equal(r->done_calls, 0);
	if (r->lvol_calls < 4)
		r->lvols[r->lvol_calls] = lvol;
	r->lvol_calls++;
	r->last_rc = rc;
	if (rc == 0) {
		r->ok++;
		/* Already usable from inside the callback (the bdev module registers it here). */
		assert_false(lvol_is_degraded(lvol));
	}
}

static void
hp_done(void *arg, int rc)
{
	struct hp_res *r = arg;

	assert_int_equal(rc, 0);
	r->done_calls++;
	r->lvol_calls_at_done = r->lvol_calls;
}

/* lvs_esnap_hotplug; when it started something, waits for it. Returns its count. */
static int
hotplug(struct lvol_store *lvs, const char *id, struct hp_res *r)
{
	int n;

	memset(r, 0, sizeof(*r));
	n = lvs_esnap_hotplug(lvs, id, id != NULL ? (uint32_t)strlen(id) + 1 : 0, hp_lvol_cb,
			      hp_done, r);
	assert_int_equal(r->lvol_calls + r->done_calls, 0);   /* never inside the call */
	ut_poll_threads();
	if (n > 0) {
		assert_int_equal(r->lvol_calls, n);
		assert_int_equal(r->done_calls, 1);
		assert_int_equal(r->lvol_calls_at_done, n);
	} else {
		assert_int_equal(r->lvol_calls + r->done_calls, 0);
	}
	return n;
}

static void
test_degraded_clone_comes_back_when_its_snapshot_appears(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(256 * MiB / BLK, BLK);
	struct ext_env env = { .present = { true, false }, .blocklen = 512 };
	struct lvol_store *lvs;
	struct lvs_opts o;
	struct lvol *ec;
	struct hp_res r;
	uint8_t buf[BLK];
	int calls;

	opts_for(&o, &env, "es");
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);
	assert_int_equal(ut_lvol_esnap_clone(EXT_UUID, EXT_BYTES, lvs, "ec", &ec), 0);
	assert_false(lvol_is_degraded(ec));
	expect_ext_data(ec);
	assert_int_equal(lvs_get_degraded_count(NULL), 0);

	/* Restart without the external snapshot: degraded, its reads fail. */
	env.present[0] = false;
	lvs = ut_lvs_reload(base, lvs, &o);
	ec = lvol_get_by_name(lvs, "ec");
	assert_non_null(ec);
	assert_true(lvol_is_degraded(ec));
	assert_int_equal(lvs_get_degraded_count(lvs), 1);
	assert_int_equal(lvs_get_degraded_count(NULL), 1);
	assert_int_equal(ut_lvol_read_block(ec, 0, buf), -ENODEV);

	/* Some other bdev appears: nothing is opened, nothing changes. */
	calls = env.calls;
	assert_int_equal(hotplug(lvs, OTHER_UUID, &r), 0);
	assert_int_equal(env.calls, calls);
	assert_true(lvol_is_degraded(ec));
	/* Its id, but the opener still fails: left as it was. */
	assert_int_equal(hotplug(lvs, EXT_UUID, &r), 0);
	assert_int_equal(env.calls, calls + 1);
	assert_true(lvol_is_degraded(ec));
	assert_int_equal(lvs_get_degraded_count(NULL), 1);

	/* Now it exists: attached, no longer degraded, reads come from it. */
	env.present[0] = true;
	assert_int_equal(hotplug(lvs, EXT_UUID, &r), 1);
	assert_int_equal(r.ok, 1);
	assert_ptr_equal(r.lvols[0], ec);
	assert_false(lvol_is_degraded(ec));
	assert_int_equal(lvs_get_degraded_count(lvs), 0);
	assert_int_equal(lvs_get_degraded_count(NULL), 0);
	expect_ext_data(ec);
	/* Copy-on-write from it works like after a load. */
	memset(buf, 0xa5, sizeof(buf));
	{
		struct io_channel *ch = bs_alloc_io_channel(lvs_get_blobstore(lvs));
		struct ut_lres w = { 0 };

		blob_io_write(lvol_get_blob(ec), ch, buf, 1, 1, ut_l_op_cb, &w);
		ut_poll_threads();
		assert_int_equal(w.rc, 0);
		bs_free_io_channel(ch);
		ut_poll_threads();
	}
	assert_int_equal(ut_lvol_read_block(ec, 0, buf), 0);
	assert_memory_equal(buf, g_ext, BLK);
	/* Again: nothing waits any more. */
	assert_int_equal(hotplug(lvs, EXT_UUID, &r), 0);

	/* Nothing about it was written: the next load opens it as usual. */
	lvs = ut_lvs_reload(base, lvs, &o);
	ec = lvol_get_by_name(lvs, "ec");
	assert_false(lvol_is_degraded(ec));
	assert_true(lvol_is_esnap_clone(ec));
	assert_int_equal(lvol_get_num_allocated_clusters(ec), 1);
	assert_int_equal(ut_lvol_read_block(ec, 2 * (MiB / BLK), buf), 0);
	assert_memory_equal(buf, g_ext + 2 * MiB, BLK);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_hotplug_picks_the_lvols_of_its_id_and_retry_takes_all(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(256 * MiB / BLK, BLK);
	struct ext_env env = { .present = { true, true }, .blocklen = BLK };
	struct lvol_store *lvs;
	struct lvs_opts o;
	struct lvol *a, *b, *c, *s;
	struct hp_res r;

	opts_for(&o, &env, "es");
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);
	assert_int_equal(ut_lvol_esnap_clone(EXT_UUID, EXT_BYTES, lvs, "a", &a), 0);
	assert_int_equal(ut_lvol_esnap_clone(EXT_UUID, EXT_BYTES, lvs, "b", &b), 0);
	assert_int_equal(ut_lvol_esnap_clone(EXT2_UUID, EXT_BYTES, lvs, "c", &c), 0);
	/* b's snapshot takes the external parent: b reads through it. */
	assert_int_equal(ut_lvol_snapshot(b, "s", &s), 0);
	env.present[0] = env.present[1] = false;
	lvs = ut_lvs_reload(base, lvs, &o);
	assert_int_equal(lvs_get_degraded_count(lvs), 3);       /* a, s, c */
	b = lvol_get_by_name(lvs, "b");
	assert_false(lvol_is_degraded(b));

	env.present[0] = true;
	assert_int_equal(hotplug(lvs, EXT_UUID, &r), 2);
	assert_int_equal(r.ok, 2);
	assert_false(lvol_is_degraded(lvol_get_by_name(lvs, "a")));
	assert_false(lvol_is_degraded(lvol_get_by_name(lvs, "s")));
	assert_true(lvol_is_degraded(lvol_get_by_name(lvs, "c")));
	assert_int_equal(lvs_get_degraded_count(NULL), 1);
	/* The clone of the snapshot reads the external snapshot through it. */
	expect_ext_data(b);

	/* A retry of everything (id NULL) finds c's device once it exists. */
	assert_int_equal(hotplug(lvs, NULL, &r), 0);
	env.present[1] = true;
	assert_int_equal(hotplug(lvs, NULL, &r), 1);
	assert_ptr_equal(r.lvols[0], lvol_get_by_name(lvs, "c"));
	assert_int_equal(lvs_get_degraded_count(NULL), 0);
	expect_ext_data(lvol_get_by_name(lvs, "c"));
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_hotplug_errors_leave_the_lvol_degraded(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(256 * MiB / BLK, BLK);
	struct ext_env env = { .present = { true, false }, .blocklen = BLK };
	struct lvol_store *lvs;
	struct lvs_opts o;
	struct lvol *ec;
	struct hp_res r, r2;
	struct ut_lres u = { 0 };
	uint8_t buf[BLK];

	opts_for(&o, &env, "es");
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);
	assert_int_equal(ut_lvol_esnap_clone(EXT_UUID, EXT_BYTES, lvs, "ec", &ec), 0);
	assert_int_equal(ut_lvol_create(lvs, "plain", 4 * MiB, true, NULL), 0);
	env.present[0] = false;
	lvs = ut_lvs_reload(base, lvs, &o);
	ec = lvol_get_by_name(lvs, "ec");
	assert_true(lvol_is_degraded(ec));

	/* Arguments. */
	assert_int_equal(lvs_esnap_hotplug(NULL, EXT_UUID, 37, hp_lvol_cb, hp_done, &r), -EINVAL);
	assert_int_equal(lvs_esnap_hotplug(lvs, EXT_UUID, 37, NULL, hp_done, &r), -EINVAL);
	assert_int_equal(lvs_esnap_hotplug(lvs, EXT_UUID, 37, hp_lvol_cb, NULL, &r), -EINVAL);
	assert_int_equal(lvs_esnap_hotplug(lvs, NULL, 37, hp_lvol_cb, hp_done, &r), -EINVAL);
	assert_int_equal(lvs_esnap_hotplug(lvs, EXT_UUID, 0, hp_lvol_cb, hp_done, &r), -EINVAL);

	/* A device whose blocks are larger than the store's io unit: refused. */
	env.present[0] = true;
	env.blocklen = 2 * BLK;
	assert_int_equal(hotplug(lvs, EXT_UUID, &r), 1);
	assert_int_equal(r.ok, 0);
	assert_int_equal(r.last_rc, -EINVAL);
	assert_true(lvol_is_degraded(ec));
	assert_int_equal(lvs_get_degraded_count(NULL), 1);
	assert_int_equal(ut_lvol_read_block(ec, 0, buf), -ENODEV);

	/*
	 * Two notices for one id back to back: one attach. Meanwhile the store
	 * cannot unload and the lvol cannot be deleted.
	 */
	env.blocklen = BLK;
	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	assert_int_equal(lvs_esnap_hotplug(lvs, EXT_UUID, 37, hp_lvol_cb, hp_done, &r), 1);
	assert_int_equal(lvs_esnap_hotplug(lvs, EXT_UUID, 37, hp_lvol_cb, hp_done, &r2), 0);
	assert_int_equal(lvs_unload(lvs, ut_l_op_cb, &u), -EBUSY);
	lvol_destroy(ec, ut_l_op_cb, &u);
	ut_poll_threads();
	assert_int_equal(u.calls, 1);
	assert_int_equal(u.rc, -EBUSY);
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r2.lvol_calls + r2.done_calls, 0);
	assert_false(lvol_is_degraded(ec));

	/* No snapshot of a degraded lvol: it would take the missing parent away. */
	env.present[0] = false;
	lvs = ut_lvs_reload(base, lvs, &o);
	ec = lvol_get_by_name(lvs, "ec");
	assert_true(lvol_is_degraded(ec));
	assert_int_equal(ut_lvol_snapshot(ec, "snap", NULL), -ENODEV);
	assert_null(lvol_get_by_name(lvs, "snap"));
	assert_true(lvol_is_degraded(ec));
	assert_true(blob_is_esnap_clone(lvol_get_blob(ec)));

	/* Degraded lvols that go (deleted, unloaded) leave the counts. */
	env.present[0] = false;
	lvs = ut_lvs_reload(base, lvs, &o);
	assert_int_equal(lvs_get_degraded_count(NULL), 1);
	assert_int_equal(ut_lvol_destroy(lvol_get_by_name(lvs, "ec")), 0);
	assert_int_equal(lvs_get_degraded_count(NULL), 0);
	assert_int_equal(ut_lvol_esnap_clone(EXT_UUID, EXT_BYTES, lvs, "ec", &ec), 0);
	assert_true(lvol_is_degraded(ec));      /* made while it is missing */
	assert_int_equal(lvs_get_degraded_count(NULL), 1);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(lvs_get_degraded_count(NULL), 0);

	/* A store without an opener has nothing to retry with. */
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_int_equal(lvs_get_degraded_count(lvs), 1);
	env.present[0] = true;
	assert_int_equal(hotplug(lvs, EXT_UUID, &r), 0);
	assert_true(lvol_is_degraded(lvol_get_by_name(lvs, "ec")));
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

/*
 * The delete of a clone re-opens its blob; if the external snapshot is
 * missing by then, that open fails to open it too. A new lvol that later
 * gets the same blob id must not come up degraded because of it (it did:
 * the failure was remembered by blob id until an lvol claimed it, and the
 * bdev_lvol_clone_bdev that made the new lvol then failed).
 */
static void
test_new_lvol_on_reused_blob_id_is_not_degraded_by_a_deleted_clone(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(256 * MiB / BLK, BLK);
	struct ext_env env = { .present = { true, false }, .blocklen = BLK };
	struct lvol_store *lvs;
	struct lvs_opts o;
	struct lvol *ec, *n;
	blob_id id;

	opts_for(&o, &env, "es");
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);
	assert_int_equal(ut_lvol_esnap_clone(EXT_UUID, EXT_BYTES, lvs, "ec", &ec), 0);
	id = blob_get_id(lvol_get_blob(ec));
	env.present[0] = false;         /* removed under the clone */
	assert_int_equal(ut_lvol_destroy(ec), 0);
	env.present[0] = true;
	assert_int_equal(ut_lvol_esnap_clone(EXT_UUID, EXT_BYTES, lvs, "ec2", &n), 0);
	assert_true(blob_get_id(lvol_get_blob(n)) == id);
	assert_false(lvol_is_degraded(n));
	assert_int_equal(ut_lvol_destroy(n), 0);
	assert_int_equal(ut_lvol_create(lvs, "plain", 4 * MiB, true, &n), 0);
	assert_false(lvol_is_degraded(n));
	assert_int_equal(lvs_get_degraded_count(NULL), 0);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_degraded_clone_comes_back_when_its_snapshot_appears, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_hotplug_picks_the_lvols_of_its_id_and_retry_takes_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hotplug_errors_leave_the_lvol_degraded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_new_lvol_on_reused_blob_id_is_not_degraded_by_a_deleted_clone, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
