/*
 * The SPDK-written lvolstore (../shared/fixtures/spdk-lvs-4k.img.xz, see
 * its README): lvs_load must find store lvsf with its UUID and geometry,
 * the four volumes with their names and UUIDs, the snapshot/clone
 * relations, the allocation counts, and the data. LVSTOR_FIXTURE (set by
 * scripts/run-tests.sh) gives the image's path; the default is relative to
 * the repository root. Without xz or the image the test FAILS (the
 * fixture is part of the repository's contract, not optional).
 */
#include <fcntl.h>

#include "ut_lvol.h"
#include "lvstor/log.h"
#include "../common/ut_spdk_fixture.h"

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

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0)
			return false;
	}
	return true;
}

/* Block i of a README pattern: "SPDKREF <tag8> blk <i:08> " padded with '.', then bytes. */
static void
expect_pattern(const uint8_t *buf, const char *tag, uint64_t i)
{
	char head[65];
	uint8_t fill = (uint8_t)(tag[strlen(tag) - 1] + i);

	snprintf(head, sizeof(head), "SPDKREF %-8s blk %08llu ", tag, (unsigned long long)i);
	memset(head + strlen(head), '.', 64 - strlen(head));
	assert_memory_equal(buf, head, 64);
	for (size_t k = 64; k < 4096; k++)
		assert_int_equal(buf[k], fill);
}

static struct lvol *
expect_lvol(struct lvol_store *lvs, const char *name, const char *uuid_str)
{
	struct lvol *lvol = lvol_get_by_name(lvs, name);
	struct lv_uuid u;

	assert_non_null(lvol);
	assert_int_equal(uuid_parse_str(&u, uuid_str), 0);
	assert_int_equal(uuid_compare_lv(lvol_get_uuid(lvol), &u), 0);
	assert_ptr_equal(lvol_get_by_uuid(&u), lvol);
	assert_int_equal(lvol_get_size(lvol), 64 * MiB);
	assert_int_equal(lvol_get_num_clusters(lvol), 16);
	return lvol;
}

static void
test_spdk_fixture_loads_with_names_uuids_and_relations(void **state)
{
	struct bs_dev *base = ut_spdk_fixture_load();
	struct lvol_store *lvs;
	struct lvol *vol_a, *snap_a, *clone_a, *vol_thin, *clones[4], *l;
	struct lv_uuid u;
	char buf[UUID_STRING_LEN];
	static uint8_t data[4096];
	int n = 0;

	if (base == NULL)
		fail_msg("the SPDK fixture %s cannot be read with xz", ut_spdk_fixture_path());
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_string_equal(lvs_get_name(lvs), "lvsf");
	assert_string_equal(ut_uuid_str(lvs_get_uuid(lvs), buf),
			    "78fbab11-9fb0-4d37-b304-e14456150389");
	assert_int_equal(uuid_parse_str(&u, "78fbab11-9fb0-4d37-b304-e14456150389"), 0);
	assert_ptr_equal(lvs_get_by_uuid(&u), lvs);
	assert_int_equal(lvs_get_cluster_size(lvs), 4 * MiB);
	assert_int_equal(lvs_get_block_size(lvs), 4096);
	assert_int_equal(lvs_get_total_data_clusters(lvs), 255);
	assert_int_equal(lvs_get_free_clusters(lvs), 236);

	for (l = lvol_first(lvs); l != NULL; l = lvol_next(l))
		n++;
	assert_int_equal(n, 4);
	vol_a = expect_lvol(lvs, "vol_a", "46e33bc9-522a-4f33-98b4-bf81c397f9d4");
	snap_a = expect_lvol(lvs, "snap_a", "e1d8933d-c492-495c-95f4-f73a503f3540");
	clone_a = expect_lvol(lvs, "clone_a", "19b7cc25-0233-42bf-8aaa-11cd949197bc");
	vol_thin = expect_lvol(lvs, "vol_thin", "e0e52b3c-f7db-46b8-8bf7-fe21f227b207");

	/* vol_a: created thick, snapshotted: a thin clone of snap_a owning nothing. */
	assert_true(lvol_is_clone(vol_a));
	assert_true(lvol_is_thin(vol_a));
	assert_false(lvol_is_snapshot(vol_a));
	assert_ptr_equal(lvol_get_parent(vol_a), snap_a);
	assert_int_equal(lvol_get_num_allocated_clusters(vol_a), 0);
	/* snap_a: read-only snapshot, 16 clusters, clones vol_a and clone_a. */
	assert_true(lvol_is_snapshot(snap_a));
	assert_true(lvol_is_read_only(snap_a));
	assert_false(lvol_is_clone(snap_a));
	assert_null(lvol_get_parent(snap_a));
	assert_int_equal(lvol_get_num_allocated_clusters(snap_a), 16);
	assert_int_equal(lvol_get_clones(snap_a, clones, COUNTOF(clones)), 2);
	assert_true((clones[0] == vol_a && clones[1] == clone_a) ||
		    (clones[0] == clone_a && clones[1] == vol_a));
	assert_false(lvol_is_deletable(snap_a));
	/* clone_a: clone of snap_a owning one cluster. */
	assert_true(lvol_is_clone(clone_a));
	assert_ptr_equal(lvol_get_parent(clone_a), snap_a);
	assert_int_equal(lvol_get_num_allocated_clusters(clone_a), 1);
	/* vol_thin: thin, two clusters. */
	assert_true(lvol_is_thin(vol_thin));
	assert_false(lvol_is_clone(vol_thin));
	assert_false(lvol_is_snapshot(vol_thin));
	assert_int_equal(lvol_get_num_allocated_clusters(vol_thin), 2);
	/* SPDK wrote each name as 64 bytes at creation (spec §7.2). */
	assert_int_equal(ut_xattr_len(lvol_get_blob(vol_thin), "name"), 64);
	assert_int_equal(ut_xattr_len(lvol_get_blob(vol_thin), "uuid"), 37);

	/* Data, through the lvols' blobs. */
	assert_int_equal(ut_lvol_read_block(vol_a, 0, data), 0);
	expect_pattern(data, "PAT_A", 0);
	assert_int_equal(ut_lvol_read_block(vol_a, 2047, data), 0);
	expect_pattern(data, "PAT_A", 2047);
	assert_int_equal(ut_lvol_read_block(clone_a, 1024, data), 0);
	expect_pattern(data, "PAT_C", 0);
	assert_int_equal(ut_lvol_read_block(clone_a, 1023, data), 0);
	expect_pattern(data, "PAT_A", 1023);
	assert_int_equal(ut_lvol_read_block(vol_thin, 5000, data), 0);
	expect_pattern(data, "PAT_B", 0);
	assert_int_equal(ut_lvol_read_block(vol_thin, 4999, data), 0);
	assert_true(all_zero(data, sizeof(data)));

	/* A delete of the twice-cloned snapshot is refused; then a clean unload and reload. */
	assert_int_equal(ut_lvol_destroy(snap_a), -EPERM);
	assert_int_equal(ut_lvs_unload(lvs), 0);
	assert_int_equal(ut_lvs_load(ut_dev(base), &lvs), 0);
	assert_int_equal(lvs_get_free_clusters(lvs), 236);
	assert_ptr_equal(lvol_get_parent(lvol_get_by_name(lvs, "clone_a")),
			 lvol_get_by_name(lvs, "snap_a"));
	assert_int_equal(ut_lvs_unload(lvs), 0);
	base->destroy(base);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spdk_fixture_loads_with_names_uuids_and_relations,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
