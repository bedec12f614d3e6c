/*
 * Unit tests for the bdev_module fini_start hook of bdev_finish, and for
 * the name index that makes lookups O(1) (lib/bdev/bdev.c): what they
 * reproduce is an lvolstore with no lvol that was never told shutdown
 * began, and a registry whose lookups walked every bdev.
 */
#include "ut_bdev.h"

static int g_order[8];
static int g_norder;
static bool g_async_waiting;

static struct bdev_module g_sync_module;
static struct bdev_module g_async_module;

/* Reports from inside its fini_start. */
static void
sync_fini_start(void)
{
	g_order[g_norder++] = 1;
	bdev_module_fini_start_done(&g_sync_module);
}

/* Reports later, when the test says so. */
static void
async_fini_start(void)
{
	g_order[g_norder++] = 2;
	g_async_waiting = true;
}

static struct bdev_module g_sync_module = {
	.name = "ut_sync_fini",
	.fini_start = sync_fini_start,
};

static struct bdev_module g_async_module = {
	.name = "ut_async_fini",
	.fini_start = async_fini_start,
};

static void
setup_with_fini_modules(void)
{
	struct bdev_opts opts;
	int rc = 1;

	ut_threads_init(1);
	g_ut_disks = NULL;
	bdev_module_list_clear_for_test();
	bdev_module_register(&g_ut_module);
	bdev_module_register(&g_sync_module);
	bdev_module_register(&g_async_module);
	bdev_get_opts(&opts, sizeof(opts));
	opts.bdev_io_pool_size = 64;
	opts.bdev_io_cache_size = 0;
	assert_int_equal(bdev_set_opts(&opts), 0);
	g_norder = 0;
	g_async_waiting = false;
	bdev_initialize(ut_init_done, &rc);
	ut_poll_threads();
	assert_int_equal(rc, 0);
}

static void
free_disks(void)
{
	while (g_ut_disks != NULL) {
		struct ut_disk *d = g_ut_disks;

		g_ut_disks = d->next;
		io_device_unregister(d, ut_io_device_gone);
	}
	ut_poll_threads();
	ut_threads_fini();
}

static void
test_fini_start_runs_before_any_bdev_is_unregistered(void **state)
{
	struct ut_disk *d;
	bool done = false;

	setup_with_fini_modules();
	d = ut_disk_create("disk0", 512, 64, false);
	assert_int_equal(ut_disk_register(d), 0);
	ut_poll_threads();

	bdev_finish(ut_fini_done, &done);
	ut_poll_threads();
	/* Modules in registration order; the inline report went straight on. */
	assert_int_equal(g_norder, 2);
	assert_int_equal(g_order[0], 1);
	assert_int_equal(g_order[1], 2);
	assert_true(g_async_waiting);
	/* bdev_finish waits for the async module: the bdev is still there. */
	assert_false(done);
	assert_ptr_equal(bdev_get_by_name("disk0"), &d->bdev);
	assert_int_equal(d->destruct_calls, 0);

	/* A report from a module nobody waits for is refused. */
	bdev_module_fini_start_done(&g_sync_module);
	assert_false(done);

	bdev_module_fini_start_done(&g_async_module);
	ut_poll_threads();
	assert_true(done);
	assert_int_equal(d->destruct_calls, 1);
	assert_int_equal(g_norder, 2);	/* each fini_start ran once */
	free_disks();
}

static void
test_name_index_finds_every_name_alias_and_uuid(void **state)
{
	enum { N = 2000 };
	static struct ut_disk *disks[N];
	char name[64], uuid[UUID_STRING_LEN];

	ut_bdev_setup(1, 64);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		disks[i] = ut_disk_create(name, 512, 8, false);
		assert_int_equal(ut_disk_register(disks[i]), 0);
	}
	ut_poll_threads();
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		assert_ptr_equal(bdev_get_by_name(name), &disks[i]->bdev);
		uuid_fmt_lower(uuid, sizeof(uuid), &disks[i]->bdev.uuid);
		assert_ptr_equal(bdev_get_by_name(uuid), &disks[i]->bdev);
	}
	/* An alias is found, unique, and gone after its deletion. */
	assert_int_equal(bdev_alias_add(&disks[7]->bdev, "lvs/x"), 0);
	assert_int_equal(bdev_alias_add(&disks[8]->bdev, "lvs/x"), -EEXIST);
	assert_int_equal(bdev_alias_add(&disks[8]->bdev, "d7"), -EEXIST);
	assert_ptr_equal(bdev_get_by_name("lvs/x"), &disks[7]->bdev);
	assert_int_equal(bdev_alias_del(&disks[7]->bdev, "lvs/x"), 0);
	assert_null(bdev_get_by_name("lvs/x"));
	assert_int_equal(bdev_alias_add(&disks[8]->bdev, "lvs/x"), 0);
	assert_ptr_equal(bdev_get_by_name("lvs/x"), &disks[8]->bdev);

	/* After unregistration, the name, UUID and aliases are free again. */
	uuid_fmt_lower(uuid, sizeof(uuid), &disks[8]->bdev.uuid);
	ut_disk_destroy(disks[8]);
	assert_null(bdev_get_by_name("d8"));
	assert_null(bdev_get_by_name("lvs/x"));
	assert_null(bdev_get_by_name(uuid));
	disks[8] = ut_disk_create("d8", 512, 8, false);
	assert_int_equal(ut_disk_register(disks[8]), 0);
	assert_int_equal(bdev_alias_add(&disks[8]->bdev, "lvs/x"), 0);
	ut_poll_threads();
	ut_bdev_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fini_start_runs_before_any_bdev_is_unregistered),
		cmocka_unit_test(test_name_index_finds_every_name_alias_and_uuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
