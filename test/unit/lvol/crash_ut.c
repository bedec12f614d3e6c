/*
 * Crash sweeps (issue 5: "a crash (kill -9) in the middle of any lvol
 * operation leaves a store that loads with every lvol either fully there
 * or fully absent").
 *
 * For each operation, run it once per write it makes, cutting the power
 * after 0, 1, 2, ... of its writes (the fault device drops what was not
 * flushed, like a disk's volatile cache), and once more to the end with a
 * cut right after the acknowledgement. Each time, the surviving image must
 * load, every lvol in it must be whole (a name, a valid UUID, its size),
 * an acknowledged operation must be visible, and no cluster may leak
 * (free clusters = data clusters minus what the lvols own).
 */
#include <inttypes.h>

#include "ut_lvol.h"

#define BLK 4096
#define STORE "crash"

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

struct scenario {
	const char *name;
	/* Builds the state before the operation (power on, nothing cut). */
	void (*prepare)(struct lvol_store *lvs);
	/* Starts the operation; r gets its completion. */
	void (*start)(struct lvol_store *lvs, struct ut_lres *r);
	/* Checks the reloaded store; acked = the operation reported success. */
	void (*check)(struct lvol_store *lvs, bool acked);
};

static struct lv_uuid g_uuid_a;

/* Every lvol whole, and no cluster leaked or lost. */
static void
check_whole(struct lvol_store *lvs)
{
	uint64_t owned = 0;
	struct lvol *l;

	for (l = lvol_first(lvs); l != NULL; l = lvol_next(l)) {
		assert_true(strlen(lvol_get_name(l)) > 0);
		assert_false(uuid_is_null_lv(lvol_get_uuid(l)));
		assert_ptr_equal(lvol_get_by_uuid(lvol_get_uuid(l)), l);
		assert_int_equal(ut_xattr_len(lvol_get_blob(l), "uuid"), 37);
		assert_true(lvol_get_num_clusters(l) > 0);
		owned += lvol_get_num_allocated_clusters(l);
	}
	assert_int_equal(lvs_get_free_clusters(lvs), lvs_get_total_data_clusters(lvs) - owned);
}

static void
prepare_a(struct lvol_store *lvs)
{
	struct lvol *a;

	assert_int_equal(ut_lvol_create(lvs, "a", 4 * MiB, false, &a), 0);
	g_uuid_a = *lvol_get_uuid(a);
}

static void
prepare_a_snap(struct lvol_store *lvs)
{
	struct lvol *s;

	prepare_a(lvs);
	assert_int_equal(ut_lvol_snapshot(lvol_get_by_name(lvs, "a"), "s", &s), 0);
}

/* create */
static void
start_create(struct lvol_store *lvs, struct ut_lres *r)
{
	assert_int_equal(lvol_create(lvs, "new", 3 * MiB, false, LVOL_CLEAR_WITH_DEFAULT,
				     ut_l_lvol_cb, r), 0);
}

static void
check_create(struct lvol_store *lvs, bool acked)
{
	struct lvol *n = lvol_get_by_name(lvs, "new");

	assert_non_null(lvol_get_by_uuid(&g_uuid_a));
	if (acked)
		assert_non_null(n);
	if (n != NULL) {
		assert_int_equal(lvol_get_num_clusters(n), 3);
		assert_int_equal(lvol_get_num_allocated_clusters(n), 3);
		assert_int_equal(ut_xattr_len(lvol_get_blob(n), "name"), 64);
	}
}

/* rename */
static void
start_rename(struct lvol_store *lvs, struct ut_lres *r)
{
	lvol_rename(lvol_get_by_name(lvs, "a"), "b", ut_l_op_cb, r);
}

static void
check_rename(struct lvol_store *lvs, bool acked)
{
	struct lvol *l = lvol_get_by_uuid(&g_uuid_a);

	assert_non_null(l);
	assert_true(strcmp(lvol_get_name(l), "a") == 0 || strcmp(lvol_get_name(l), "b") == 0);
	if (acked)
		assert_string_equal(lvol_get_name(l), "b");
	assert_int_equal(lvol_get_num_clusters(l), 4);
}

/* snapshot */
static void
start_snapshot(struct lvol_store *lvs, struct ut_lres *r)
{
	lvol_create_snapshot(lvol_get_by_name(lvs, "a"), "s", ut_l_lvol_cb, r);
}

static void
check_snapshot(struct lvol_store *lvs, bool acked)
{
	struct lvol *a = lvol_get_by_uuid(&g_uuid_a), *s = lvol_get_by_name(lvs, "s");

	assert_non_null(a);
	if (acked)
		assert_non_null(s);
	if (s != NULL) {
		assert_true(lvol_is_read_only(s));
		assert_ptr_equal(lvol_get_parent(a), s);
		assert_int_equal(lvol_get_num_allocated_clusters(s), 4);
	} else {
		assert_false(lvol_is_clone(a));
		assert_int_equal(lvol_get_num_allocated_clusters(a), 4);
	}
}

/* clone */
static void
start_clone(struct lvol_store *lvs, struct ut_lres *r)
{
	lvol_create_clone(lvol_get_by_name(lvs, "s"), "c", ut_l_lvol_cb, r);
}

static void
check_clone(struct lvol_store *lvs, bool acked)
{
	struct lvol *c = lvol_get_by_name(lvs, "c");

	if (acked)
		assert_non_null(c);
	if (c != NULL)
		assert_ptr_equal(lvol_get_parent(c), lvol_get_by_name(lvs, "s"));
}

/* destroy */
static void
start_destroy(struct lvol_store *lvs, struct ut_lres *r)
{
	lvol_destroy(lvol_get_by_name(lvs, "a"), ut_l_op_cb, r);
}

static void
check_destroy(struct lvol_store *lvs, bool acked)
{
	struct lvol *a = lvol_get_by_uuid(&g_uuid_a);

	if (acked)
		assert_null(a);
	if (a != NULL)
		assert_int_equal(lvol_get_num_allocated_clusters(a), 4);
}

/* store rename */
static void
start_lvs_rename(struct lvol_store *lvs, struct ut_lres *r)
{
	lvs_rename(lvs, "crash2", ut_l_op_cb, r);
}

static void
check_lvs_rename(struct lvol_store *lvs, bool acked)
{
	const char *n = lvs_get_name(lvs);

	assert_true(strcmp(n, STORE) == 0 || strcmp(n, "crash2") == 0);
	if (acked)
		assert_string_equal(n, "crash2");
	assert_non_null(lvol_get_by_uuid(&g_uuid_a));
}

static void
sweep(const struct scenario *sc)
{
	struct ut_fault_dev_opts fo;
	uint64_t n, cuts = 0;
	bool cut;

	ut_fault_dev_opts_init(&fo, sizeof(fo));
	fo.drop_unflushed = true;
	fo.atomic_unit = BLK;
	for (n = 0;; n++) {
		struct bs_dev *base = bs_dev_mem_create(64 * MiB / BLK, BLK);
		struct bs_dev *dev = ut_fault_dev_create(base, &fo), *image;
		struct lvol_store *lvs;
		struct ut_lres r = { 0 };
		bool acked;

		assert_non_null(dev);
		assert_int_equal(ut_lvs_init(dev, STORE, 1 * MiB, &lvs), 0);
		sc->prepare(lvs);
		ut_fault_dev_set_cut_after_writes(dev, ut_fault_dev_write_count(dev) + n);
		sc->start(lvs, &r);
		ut_poll_threads();
		assert_int_equal(r.calls, 1);
		acked = r.rc == 0;
		cut = !ut_fault_dev_has_power(dev);
		if (!cut) {
			/* The whole operation ran: crash right after the acknowledgement. */
			assert_true(acked);
			ut_fault_dev_cut_power(dev);
		}
		ut_poll_threads();
		image = ut_fault_dev_image(dev);
		assert_non_null(image);
		/* The old process dies: its unload fails against the dead device. */
		{
			struct ut_lres u = { 0 };

			assert_int_equal(lvs_unload(lvs, ut_l_op_cb, &u), 0);
			ut_poll_threads();
			assert_int_equal(u.calls, 1);
		}
		assert_null(lvs_first());
		assert_int_equal(ut_lvs_load(ut_dev(image), &lvs), 0);
		check_whole(lvs);
		sc->check(lvs, acked);
		assert_int_equal(ut_lvs_unload(lvs), 0);
		image->destroy(image);
		base->destroy(base);
		ut_poll_threads();
		if (!cut)
			break;
		cuts++;
	}
	print_message("  %s: %" PRIu64 " cut points\n", sc->name, cuts);
}

static const struct scenario g_create = { "create", prepare_a, start_create, check_create };
static const struct scenario g_rename = { "rename", prepare_a, start_rename, check_rename };
static const struct scenario g_snapshot = { "snapshot", prepare_a, start_snapshot,
					    check_snapshot };
static const struct scenario g_clone = { "clone", prepare_a_snap, start_clone, check_clone };
static const struct scenario g_destroy = { "destroy", prepare_a, start_destroy, check_destroy };
static const struct scenario g_lvs_rename = { "lvs_rename", prepare_a, start_lvs_rename,
					      check_lvs_rename };

static void
test_crash_during_lvol_create(void **state)
{
	sweep(&g_create);
}

static void
test_crash_during_lvol_rename(void **state)
{
	sweep(&g_rename);
}

static void
test_crash_during_snapshot(void **state)
{
	sweep(&g_snapshot);
}

static void
test_crash_during_clone(void **state)
{
	sweep(&g_clone);
}

static void
test_crash_during_lvol_destroy(void **state)
{
	sweep(&g_destroy);
}

static void
test_crash_during_lvs_rename(void **state)
{
	sweep(&g_lvs_rename);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_during_lvol_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_lvol_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_lvol_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_lvs_rename, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
