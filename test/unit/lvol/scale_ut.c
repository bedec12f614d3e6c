/*
 * Scale test (issue 5): a store with 10,000 thin lvols loads in under a
 * second and with little memory. Creates them through the API on a 10 GiB
 * sparse mem device (4 MiB clusters, metadata ratio 500 so 12,800
 * metadata pages hold 10,001 blobs), unloads, then times lvs_load and
 * measures the heap it takes (mallinfo2: the lvol objects, blob handles
 * and indices; the device's bytes are an mmap and not counted).
 *
 * Memory is asserted (in the optimised build; ASan's allocator adds its
 * own); time is only printed: timing belongs to `make bench`
 * (build/test/bench/blob_load_bench and the lvol restart benchmark),
 * which records the 10,000-lvol load against its 1 s goal.
 */
#include <malloc.h>
#include <time.h>

#include "ut_lvol.h"
#include "lvstor/log.h"

#define NUM_LVOLS 10000
/* In flight at once while creating: enough to keep the harness busy. */
#define CREATE_BATCH 128

#if defined(__SANITIZE_ADDRESS__)
#define UT_SANITIZED 1
#else
#define UT_SANITIZED 0
#endif

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

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_load_10000_thin_lvols(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(10 * GiB / 4096, 4096);
	static struct ut_lres res[CREATE_BATCH];
	struct lvol_store *lvs;
	struct lvs_opts o;
	struct lvol *l;
	double t0, t_create, t_load, t_unload;
	size_t heap0, heap1;
	char name[32];
	int n, i;

	assert_non_null(base);
	lvs_opts_init(&o, sizeof(o));
	snprintf(o.name, sizeof(o.name), "big");
	o.num_md_pages_per_cluster_ratio = 500;
	o.clear_method = LVS_CLEAR_WITH_NONE;
	assert_int_equal(ut_lvs_init_opts(ut_dev(base), &o, &lvs), 0);

	t0 = now_s();
	for (n = 0; n < NUM_LVOLS; n += CREATE_BATCH) {
		int batch = NUM_LVOLS - n < CREATE_BATCH ? NUM_LVOLS - n : CREATE_BATCH;

		memset(res, 0, sizeof(res));
		for (i = 0; i < batch; i++) {
			snprintf(name, sizeof(name), "lvol%05d", n + i);
			assert_int_equal(lvol_create(lvs, name, 4 * MiB, true,
						     LVOL_CLEAR_WITH_DEFAULT, ut_l_lvol_cb,
						     &res[i]), 0);
		}
		ut_poll_threads();
		for (i = 0; i < batch; i++) {
			assert_int_equal(res[i].calls, 1);
			assert_int_equal(res[i].rc, 0);
		}
	}
	t_create = now_s() - t0;
	t0 = now_s();
	assert_int_equal(ut_lvs_unload(lvs), 0);
	t_unload = now_s() - t0;

	/* The load, as lvstord's examine does it. */
	log_set_print_level(LOG_LEVEL_WARN);
	heap0 = mallinfo2().uordblks;
	t0 = now_s();
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	t_load = now_s() - t0;
	heap1 = mallinfo2().uordblks;

	n = 0;
	for (l = lvol_first(lvs); l != NULL; l = lvol_next(l))
		n++;
	assert_int_equal(n, NUM_LVOLS);
	assert_non_null(lvol_get_by_name(lvs, "lvol00000"));
	assert_non_null(lvol_get_by_name(lvs, "lvol09999"));
	l = lvol_get_by_name(lvs, "lvol04242");
	assert_ptr_equal(lvol_get_by_uuid(lvol_get_uuid(l)), l);

	print_message("  10,000 thin lvols: create %.2f s (%.0f/s), unload %.3f s, "
		      "load %.3f s, load heap %.1f MiB (%zu bytes/lvol)%s\n",
		      t_create, NUM_LVOLS / t_create, t_unload, t_load,
		      (double)(heap1 - heap0) / (double)MiB, (heap1 - heap0) / NUM_LVOLS,
		      UT_SANITIZED ? " [ASan build]" : "");
	if (!UT_SANITIZED)
		assert_true(heap1 - heap0 < 200 * MiB);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_10000_thin_lvols, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
