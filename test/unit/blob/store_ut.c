/*
 * Blobstore lifecycle tests (lib/blob/store.c): init, load, unload,
 * destroy, grow, super blob, the superblock bytes of spec §9.3 after an
 * lvolstore's clean unload, the bstype check, corrupt superblocks.
 */
#include "ut_bs.h"

#define MiB (1024u * 1024u)

static int
setup(void **state)
{
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
test_init_unload_load_round_trip(void **state)
{
	struct bs_dev *dev = bs_dev_mem_create(64 * MiB / 512, 512);
	struct bs_opts o = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	uint8_t *img;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	/* 64 clusters, md_len 64: md area = 4 + 64 pages = 68 pages < 256: 1 md cluster. */
	assert_int_equal(bs_get_cluster_size(bs), 1 * MiB);
	assert_int_equal(bs_get_io_unit_size(bs), 512);
	assert_int_equal(bs_get_md_page_size(bs), 4096);
	assert_int_equal(bs_get_total_data_cluster_count(bs), 63);
	assert_int_equal(bs_get_free_cluster_count(bs), 63);
	assert_true(bs_get_super(bs) == BLOB_ID_INVALID);
	assert_ptr_equal(bs_get_dev(bs), dev);

	/* Straight after init: a dirty superblock, all-zero masks (§6.1). */
	img = bs_dev_mem_data(dev);
	assert_memory_equal(img, "SPDKBLOB", 8);
	assert_int_equal(bsf_load_le32(img + BSF_SB_OFF_CLEAN), 0);

	assert_int_equal(ut_bs_unload(bs), 0);
	/* The device is the store's: unload destroyed it. Use a fresh one. */
}

static void
test_unload_then_load_keeps_everything(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(64 * MiB / 4096, 4096);
	struct bs_opts o = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	struct bs_dev *copy;
	blob_id id;

	/* Keep the base device alive across unload with a fault-dev wrapper. */
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	id = ut_create_simple(bs, 5, false);
	assert_int_equal(bs_get_free_cluster_count(bs), 58);
	{
		struct ut_res r = { 0 };

		bs_set_super(bs, id, ut_op_cb, &r);
		ut_wait(&r);
		assert_int_equal(r.rc, 0);
	}
	assert_int_equal(ut_bs_unload(bs), 0);
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(base) + BSF_SB_OFF_CLEAN), 1);

	copy = ut_mem_dev_copy(base);
	assert_int_equal(ut_bs_load(copy, &o, &bs), 0);
	assert_false(bs->recovered);
	assert_int_equal(bs_get_free_cluster_count(bs), 58);
	assert_int_equal(bs_get_total_data_cluster_count(bs), 63);
	assert_true(bs_get_super(bs) == id);
	assert_int_equal(ut_bs_check(bs), 1);
	assert_int_equal(ut_bs_unload(bs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_bare_store_superblock_crcs(void **state)
{
	/* §9.3: a bare blobstore on 1 GiB / 4 MiB clusters: dirty CRC 0x0D578916
	 * straight after creation, clean 0x756114A4 after unload. */
	struct bs_dev *base = bs_dev_mem_create((1024ull * MiB) / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(4 * MiB, NULL);
	struct blob_store *bs;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(base) + BSF_OFF_CRC), 0x0D578916);
	assert_int_equal(bs_get_total_data_cluster_count(bs), 255);
	assert_int_equal(ut_bs_unload(bs), 0);
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(base) + BSF_OFF_CRC), 0x756114A4);
	base->destroy(base);
	ut_poll_threads();
}

static const uint8_t g_sb_9_3[96] = {
	0x53, 0x50, 0x44, 0x4b, 0x42, 0x4c, 0x4f, 0x42, 0x03, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x4c, 0x56, 0x4f, 0x4c, 0x53, 0x54, 0x4f, 0x52,
	0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
};

static void
test_lvolstore_superblock_matches_spec_9_3(void **state)
{
	struct bs_dev *base = bs_dev_mem_create((1024ull * MiB) / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(4 * MiB, "LVOLSTORE");
	struct blob_store *bs;
	struct ut_res r = { 0 };
	uint8_t *img = bs_dev_mem_data(base);
	blob_id id;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	/* The super blob: default options, page 0 (spec §7.1). */
	id = ut_create_simple(bs, 0, false);
	assert_true(id == 0x100000000ull);
	/* §9.4: the minimal root page, CRC 0x3C5B3A12. */
	assert_int_equal(bsf_load_le32(img + 0x4FFC), 0x3C5B3A12);
	assert_int_equal(img[0x4010], 3);
	assert_int_equal(img[0x4015], 4);
	assert_int_equal(img[0x402D], 5);
	assert_int_equal(bsf_load_le32(img + 0x4FF8), 0xFFFFFFFFu);
	bs_set_super(bs, id, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(ut_bs_unload(bs), 0);

	assert_memory_equal(img, g_sb_9_3, sizeof(g_sb_9_3));
	assert_true(bsf_is_zero(img + 96, 4092 - 96));
	assert_int_equal(bsf_load_le32(img + 4092), 0xD03A31A7);
	/* Masks: page 0 used, cluster 0 used, blob ID 0 used (§9.3). */
	assert_int_equal(img[0x1000], 0);
	assert_int_equal(bsf_load_le32(img + 0x1001), 256);
	assert_int_equal(img[0x1005], 0x01);
	assert_int_equal(img[0x2000], 1);
	assert_int_equal(bsf_load_le32(img + 0x2001), 256);
	assert_int_equal(img[0x2005], 0x01);
	assert_int_equal(img[0x3000], 2);
	assert_int_equal(img[0x3005], 0x01);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_bstype_mismatch_is_enxio(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(16 * MiB / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(1 * MiB, "LVOLSTORE");
	struct bs_opts other = ut_bs_opts(1 * MiB, "OTHERTYPE");
	struct bs_opts any = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	char type[BS_BSTYPE_LEN];

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	assert_int_equal(ut_bs_load(ut_mem_dev_copy(base), &other, &bs), -ENXIO);
	assert_null(bs);
	assert_int_equal(ut_bs_load(ut_mem_dev_copy(base), &any, &bs), 0);
	bs_get_bstype(bs, type);
	assert_memory_equal(type, "LVOLSTORE\0\0\0\0\0\0\0", 16);
	assert_int_equal(ut_bs_unload(bs), 0);
	assert_int_equal(ut_bs_load(ut_mem_dev_copy(base), &o, &bs), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_corrupt_superblock_is_eilseq(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(16 * MiB / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	struct bs_dev *copy;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	assert_int_equal(ut_bs_unload(bs), 0);

	copy = ut_mem_dev_copy(base);
	bs_dev_mem_data(copy)[100] ^= 0x40;          /* reserved byte: CRC */
	assert_int_equal(ut_bs_load(copy, &o, &bs), -EILSEQ);
	copy = ut_mem_dev_copy(base);
	bs_dev_mem_data(copy)[0] = 'X';              /* signature */
	assert_int_equal(ut_bs_load(copy, &o, &bs), -EILSEQ);
	copy = bs_dev_mem_create(16 * MiB / 4096, 4096); /* all zero */
	assert_int_equal(ut_bs_load(copy, &o, &bs), -EILSEQ);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_destroy_zeroes_superblock(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(16 * MiB / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	struct ut_res r = { 0 };

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	bs_destroy(bs, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_true(bsf_is_zero(bs_dev_mem_data(base), 4096));
	assert_int_equal(ut_bs_load(ut_mem_dev_copy(base), &o, &bs), -EILSEQ);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_unload_with_open_blob_is_ebusy(void **state)
{
	struct bs_dev *dev = bs_dev_mem_create(16 * MiB / 4096, 4096);
	struct bs_opts o = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	struct blob *blob;
	blob_id id;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	id = ut_create_simple(bs, 1, false);
	assert_int_equal(ut_open(bs, id, &blob), 0);
	assert_int_equal(ut_bs_unload(bs), -EBUSY);
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
}

static void
test_grow_live(void **state)
{
	/* A mem device whose visible size we shrink before init and restore. */
	struct bs_dev *base = bs_dev_mem_create(32 * MiB / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	struct ut_res r = { 0 };
	struct bs_dev *copy;
	uint64_t full = dev->blockcnt;

	dev->blockcnt = full / 2;
	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	assert_int_equal(bs_get_total_data_cluster_count(bs), 15);
	ut_create_simple(bs, 3, false);
	dev->blockcnt = full;
	bs_grow_live(bs, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(bs_get_total_data_cluster_count(bs), 31);
	assert_int_equal(bs_get_free_cluster_count(bs), 28);
	/* The grown clusters are usable. */
	ut_create_simple(bs, 20, false);
	assert_int_equal(bs_get_free_cluster_count(bs), 8);
	assert_int_equal(ut_bs_unload(bs), 0);

	copy = ut_mem_dev_copy(base);
	assert_int_equal(ut_bs_load(copy, &o, &bs), 0);
	assert_int_equal(bs_get_total_data_cluster_count(bs), 31);
	assert_int_equal(bs_get_free_cluster_count(bs), 8);
	assert_int_equal(ut_bs_check(bs), 2);
	assert_int_equal(ut_bs_unload(bs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_first_change_after_clean_load_marks_dirty(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(16 * MiB / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(1 * MiB, NULL);
	struct blob_store *bs;
	struct bs_dev *copy, *copy_dev;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	copy = ut_mem_dev_copy(base);
	copy_dev = ut_fault_dev_create(copy, NULL);
	assert_int_equal(ut_bs_load(copy_dev, &o, &bs), 0);
	/* Nothing written by a clean load. */
	assert_int_equal(ut_fault_dev_write_count(copy_dev), 0);
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(copy) + BSF_SB_OFF_CLEAN), 1);
	ut_create_simple(bs, 1, false);
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(copy) + BSF_SB_OFF_CLEAN), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(copy) + BSF_SB_OFF_CLEAN), 1);
	copy->destroy(copy);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_init_rejects_bad_geometry(void **state)
{
	struct bs_opts o = ut_bs_opts(1000, NULL);   /* not a multiple of 4096 */
	struct blob_store *bs;

	assert_int_equal(ut_bs_init(bs_dev_mem_create(2048, 4096), &o, &bs), -EINVAL);
	o = ut_bs_opts(16 * MiB, NULL);              /* device smaller than a cluster */
	assert_int_equal(ut_bs_init(bs_dev_mem_create(1024, 4096), &o, &bs), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_unload_load_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unload_then_load_keeps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bare_store_superblock_crcs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvolstore_superblock_matches_spec_9_3, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bstype_mismatch_is_enxio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_superblock_is_eilseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_zeroes_superblock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unload_with_open_blob_is_ebusy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grow_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_change_after_clean_load_marks_dirty, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_init_rejects_bad_geometry, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
