/*
 * Load and recovery tests (lib/blob/recovery.c, store.c's load): a dirty
 * load rebuilds exactly the masks a clean unload writes; forced recovery;
 * the SPDK-written fixture (clean load, the parent index, free clusters,
 * unload and reload, and lvstor-check on what we wrote back); quarantine
 * of a blob that would double-own a cluster; the image faults that fail a
 * recovery load (unknown descriptor) but not a clean one.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "ut_bs.h"
#include "../common/ut_spdk_fixture.h"

#define MiB (1024u * 1024u)
#define CL (16u * 1024u)
#define DEV_BLOCKS (1024u * CL / 4096u)

static int
setup(void **state)
{
	ut_threads_init(1);
	return 0;
}

static int
teardown(void **state)
{
	ut_threads_fini();
	return 0;
}

static void
fill_store(struct blob_store *bs, blob_id *ids)
{
	static uint8_t big[3000];
	struct ut_res r = { 0 };
	struct blob_opts o;
	struct blob *blob;
	uint32_t c;

	ids[0] = ut_create_simple(bs, 600, false);
	ids[1] = ut_create_simple(bs, 900, true);
	blob_opts_init(&o, sizeof(o));
	o.use_extent_table = false;
	o.num_clusters = 30;
	assert_int_equal(ut_create(bs, &o, &ids[2]), 0);
	ids[3] = ut_create_simple(bs, 5, false);
	ids[4] = ut_create_simple(bs, 7, false);

	assert_int_equal(ut_open(bs, ids[1], &blob), 0);
	assert_int_equal(bs_claim_cluster(bs, &c), 0);
	blob_insert_cluster(blob, 600, c, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(blob_set_xattr(blob, "a", big, sizeof(big)), 0);
	assert_int_equal(blob_set_xattr(blob, "b", big, sizeof(big)), 0);
	assert_int_equal(ut_sync(blob), 0);
	assert_int_equal(ut_close(blob), 0);

	assert_int_equal(ut_open(bs, ids[0], &blob), 0);
	assert_int_equal(ut_resize(blob, 100), 0);
	assert_int_equal(ut_sync(blob), 0);
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_delete(bs, ids[3]), 0);
}

static void
mask_area(struct bs_dev *mem, uint8_t **start, size_t *len)
{
	/* Pages 1 .. md_start-1: the three masks (and reserved pages). */
	uint8_t *img = bs_dev_mem_data(mem);
	uint32_t md_start = bsf_load_le32(img + BSF_SB_OFF_MD_START);

	*start = img + 4096;
	*len = (size_t)(md_start - 1) * 4096;
}

static void
test_dirty_load_rebuilds_the_clean_masks(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	struct bs_dev *dirty, *dirty_dev;
	blob_id ids[5];
	uint8_t *a, *b;
	size_t la, lb;
	uint64_t free_clean;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	fill_store(bs, ids);
	free_clean = bs_get_free_cluster_count(bs);
	dirty = ut_mem_dev_copy(base);          /* as if the power went now */
	assert_int_equal(ut_bs_unload(bs), 0);

	dirty_dev = ut_fault_dev_create(dirty, NULL);
	assert_int_equal(ut_bs_load(dirty_dev, &o, &bs), 0);
	assert_true(bs->recovered);
	assert_int_equal(bs_get_free_cluster_count(bs), free_clean);
	assert_int_equal(ut_bs_check(bs), 4);
	/* §10.8: the superblock stays dirty after a recovery load. */
	assert_int_equal(bsf_load_le32(bs_dev_mem_data(dirty) + BSF_SB_OFF_CLEAN), 0);
	/* ... but the masks it wrote are the clean ones. */
	mask_area(base, &a, &la);
	mask_area(dirty, &b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_int_equal(ut_bs_unload(bs), 0);
	mask_area(dirty, &b, &lb);
	assert_memory_equal(a, b, la);
	/* The whole metadata area is now byte-identical too. */
	assert_memory_equal(bs_dev_mem_data(base), bs_dev_mem_data(dirty),
			    (size_t)(4 + 1024) * 4096);
	dirty->destroy(dirty);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_force_recover_on_clean_store(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	blob_id ids[5];
	uint64_t free_clean;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	fill_store(bs, ids);
	free_clean = bs_get_free_cluster_count(bs);
	assert_int_equal(ut_bs_unload(bs), 0);
	o.force_recover = true;
	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
	assert_true(bs->recovered);
	assert_int_equal(bs_get_free_cluster_count(bs), free_clean);
	assert_int_equal(ut_bs_check(bs), 4);
	assert_int_equal(ut_bs_unload(bs), 0);
	base->destroy(base);
	ut_poll_threads();
}

/* Sets clean = 0 in an image's superblock (recomputing the CRC). */
static void
make_dirty(struct bs_dev *mem)
{
	uint8_t *img = bs_dev_mem_data(mem);

	bsf_store_le32(img + BSF_SB_OFF_CLEAN, 0);
	bsf_set_crc(img);
}

static uint8_t *
md_page(struct bs_dev *mem, uint32_t idx)
{
	uint8_t *img = bs_dev_mem_data(mem);

	return img + (size_t)(bsf_load_le32(img + BSF_SB_OFF_MD_START) + idx) * 4096;
}

static void
test_recovery_quarantines_a_double_owner(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	struct blob *blob;
	blob_id a, b;
	uint32_t a_cluster, b_ep;
	uint8_t *ep;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	a = ut_create_simple(bs, 1, false);
	b = ut_create_simple(bs, 1, false);
	assert_int_equal(ut_open(bs, a, &blob), 0);
	a_cluster = blob->active.clusters[0];
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_open(bs, b, &blob), 0);
	b_ep = blob->active.extent_pages[0];
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_bs_unload(bs), 0);

	/* B's extent page now names A's cluster. */
	ep = md_page(base, b_ep);
	bsf_store_le32(ep + BSF_PAGE_OFF_DESC + 9, a_cluster);
	bsf_set_crc(ep);
	make_dirty(base);
	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
	assert_int_equal(ut_open(bs, a, &blob), 0);
	assert_int_equal(ut_close(blob), 0);
	assert_int_not_equal(ut_open(bs, b, &blob), 0);
	assert_int_equal(ut_bs_check(bs), 1);
	assert_int_equal(ut_bs_unload(bs), 0);
	/* And it stays so on the next (clean) load. */
	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
	assert_int_not_equal(ut_open(bs, b, &blob), 0);
	assert_int_equal(ut_bs_check(bs), 1);
	assert_int_equal(ut_bs_unload(bs), 0);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_unknown_descriptor_fails_recovery_not_clean_load(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	struct blob *blob;
	uint8_t *root;
	blob_id id;
	uint32_t off;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	id = ut_create_simple(bs, 2, false);
	assert_int_equal(ut_bs_unload(bs), 0);
	/* Append a descriptor of type 9 after the extent table (FLAGS 29 +
	 * EXTENT_TABLE 13 + 8 = 50 bytes in). */
	root = md_page(base, bsf_blobid_to_page(id));
	off = BSF_PAGE_OFF_DESC + 29 + 13 + 8;
	assert_true(bsf_is_zero(root + off, 10));
	root[off] = 9;
	bsf_store_le32(root + off + 1, 2);
	bsf_set_crc(root);

	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
	assert_int_equal(ut_open(bs, id, &blob), 0);  /* a normal open skips it */
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	make_dirty(base);
	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), -EILSEQ);
	base->destroy(base);
	ut_poll_threads();
}

static void
test_broken_continuation_page_fails_only_its_blob(void **state)
{
	static uint8_t big[3000];
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	struct blob *blob;
	blob_id id, other;
	uint32_t page2;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	other = ut_create_simple(bs, 3, false);
	id = ut_create_simple(bs, 3, false);
	assert_int_equal(ut_open(bs, id, &blob), 0);
	assert_int_equal(blob_set_xattr(blob, "a", big, sizeof(big)), 0);
	assert_int_equal(blob_set_xattr(blob, "b", big, sizeof(big)), 0);
	assert_int_equal(blob_set_xattr(blob, "c", big, sizeof(big)), 0);
	assert_int_equal(ut_sync(blob), 0);
	assert_int_equal(blob->clean.pages.n, 3);
	page2 = blob->clean.pages.v[2];
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	md_page(base, page2)[200] ^= 1;
	make_dirty(base);
	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
	assert_int_equal(ut_open(bs, id, &blob), -EILSEQ);
	assert_int_equal(ut_open(bs, other, &blob), 0);
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	base->destroy(base);
	ut_poll_threads();
}

/*
 * Regression (found by make fuzz): a dirty store whose root page names
 * itself as its next page made recovery claim the root again on every
 * pass, forever. The chain must end at the already-claimed page, the
 * store must load, and the other blob must still open.
 */
static void
test_recovery_of_root_page_pointing_to_itself_terminates(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	struct blob *blob;
	blob_id id, other;
	uint8_t *root;

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	other = ut_create_simple(bs, 2, false);
	id = ut_create_simple(bs, 2, false);
	assert_int_equal(ut_bs_unload(bs), 0);
	root = md_page(base, bsf_blobid_to_page(id));
	bsf_store_le32(root + BSF_PAGE_OFF_NEXT, bsf_blobid_to_page(id));
	bsf_set_crc(root);
	make_dirty(base);
	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
	assert_int_equal(ut_open(bs, other, &blob), 0);
	assert_int_equal(ut_close(blob), 0);
	assert_int_equal(ut_bs_unload(bs), 0);
	base->destroy(base);
	ut_poll_threads();
}

/* ---- the SPDK fixture ------------------------------------------------------------------- */

/* Writes a mem image to a sparse file and runs lvstor-check on it, if built. */
static void
run_lvstor_check(struct bs_dev *mem, const char *tag)
{
	const char *check = "build/bin/lvstor-check";
	const uint8_t *src = bs_dev_mem_data(mem);
	size_t len = (size_t)mem->blockcnt * mem->blocklen;
	char path[128], cmd[256];
	int fd, rc;

	if (access(check, X_OK) != 0) {
		print_message("  %s not built, check skipped\n", check);
		return;
	}
	snprintf(path, sizeof(path), "/tmp/lvstor-blob-ut-%d-%s.img", (int)getpid(), tag);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	for (size_t off = 0; off < len; off += 4096) {
		if (!bsf_is_zero(src + off, 4096))
			assert_int_equal(pwrite(fd, src + off, 4096, (off_t)off), 4096);
	}
	assert_int_equal(ftruncate(fd, (off_t)len), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s %s > /dev/null 2>&1", check, path);
	rc = system(cmd);
	if (rc != 0) {
		snprintf(cmd, sizeof(cmd), "%s %s", check, path);
		(void)system(cmd);
	}
	unlink(path);
	assert_int_equal(rc, 0);
}

struct fx_blob {
	const char *name;
	blob_id id;
	uint64_t clusters;
	uint64_t allocated;
	bool thin;
	bool ro;
	blob_id parent;
};

static const struct fx_blob g_fx[] = {
	{ "lvsf", 0x100000000ull, 0, 0, false, false, BLOB_ID_INVALID },
	{ "vol_a", 0x100000001ull, 16, 0, true, false, 0x100000005ull },
	{ "vol_thin", 0x100000003ull, 16, 2, true, false, BLOB_ID_INVALID },
	{ "snap_a", 0x100000005ull, 16, 16, false, true, BLOB_ID_INVALID },
	{ "clone_a", 0x100000006ull, 16, 1, true, false, 0x100000005ull },
};

static void
check_fixture_store(struct blob_store *bs)
{
	struct ut_res r = { 0 };
	char type[BS_BSTYPE_LEN];
	blob_id clones[4];
	size_t count = 4;
	int n = 0;

	bs_get_bstype(bs, type);
	assert_memory_equal(type, "LVOLSTORE\0\0\0\0\0\0\0", 16);
	assert_true(bs_get_super(bs) == 0x100000000ull);
	assert_int_equal(bs_get_total_data_cluster_count(bs), 255);
	assert_int_equal(bs_get_free_cluster_count(bs), 236);
	assert_int_equal(bs_get_clones(bs, 0x100000005ull, clones, &count), 0);
	assert_int_equal(count, 2);

	bs_iter_first(bs, ut_blob_cb, &r);
	ut_poll_threads();
	while (r.rc == 0) {
		struct blob *b = r.blob;
		const struct fx_blob *fx = &g_fx[n];
		const void *v;
		size_t len;

		assert_true(n < 5);
		assert_true(b->id == fx->id);
		assert_int_equal(blob_get_xattr_value(b, "name", &v, &len), 0);
		assert_string_equal(v, fx->name);
		assert_int_equal(blob_get_xattr_value(b, "uuid", &v, &len), 0);
		assert_int_equal(len, 37);
		assert_int_equal(blob_get_num_clusters(b), fx->clusters);
		assert_int_equal(blob_get_num_allocated_clusters(b), fx->allocated);
		assert_int_equal(blob_is_thin_provisioned(b), fx->thin);
		assert_int_equal(blob_is_read_only(b), fx->ro);
		assert_true(bs_get_parent_snapshot(bs, b->id) == fx->parent);
		assert_int_equal(blob_is_clone(b), fx->parent != BLOB_ID_INVALID);
		assert_int_equal(blob_is_snapshot(b), fx->id == 0x100000005ull);
		if (fx->parent != BLOB_ID_INVALID) {
			assert_non_null(b->parent);
			assert_true(b->parent->id == fx->parent);
		}
		if (fx->id == 0x100000006ull) {
			/* clone_a owns its slot 1 (bytes 4-8 MiB), holding pattern C. */
			const uint8_t *img = bs_dev_mem_data(ut_fault_dev_base(bs->dev));

			assert_int_not_equal(b->active.clusters[1], 0);
			assert_memory_equal(img + (size_t)b->active.clusters[1] * 4 * MiB,
					    "SPDKREF PAT_C", 13);
		}
		n++;
		memset(&r, 0, sizeof(r));
		bs_iter_next(bs, b, ut_blob_cb, &r);
		ut_poll_threads();
	}
	assert_int_equal(r.rc, -ENOENT);
	assert_int_equal(n, 5);
	assert_int_equal(ut_bs_check(bs), 5);
}

static void
test_spdk_fixture_loads(void **state)
{
	struct bs_dev *img = ut_spdk_fixture_load();
	struct bs_opts o = ut_bs_opts(0, "LVOLSTORE");
	struct bs_opts other = ut_bs_opts(0, "SOMETHING");
	struct blob_store *bs;
	struct bs_dev *copy;

	if (img == NULL) {
		print_message("  fixture not available, skipped\n");
		skip();
	}
	assert_int_equal(ut_bs_load(ut_mem_dev_copy(img), &other, &bs), -ENXIO);

	/* Clean load; then unload (masks rewritten) and load again. */
	assert_int_equal(ut_bs_load(ut_fault_dev_create(img, NULL), &o, &bs), 0);
	assert_false(bs->recovered);
	check_fixture_store(bs);
	assert_int_equal(ut_bs_unload(bs), 0);
	run_lvstor_check(img, "fixture-unloaded");
	assert_int_equal(ut_bs_load(ut_fault_dev_create(img, NULL), &o, &bs), 0);
	check_fixture_store(bs);
	assert_int_equal(ut_bs_unload(bs), 0);

	/* Recovery gives the same store. */
	copy = ut_mem_dev_copy(img);
	make_dirty(copy);
	assert_int_equal(ut_bs_load(ut_fault_dev_create(copy, NULL), &o, &bs), 0);
	assert_true(bs->recovered);
	check_fixture_store(bs);
	assert_int_equal(ut_bs_unload(bs), 0);
	assert_memory_equal(bs_dev_mem_data(img), bs_dev_mem_data(copy), 260 * 4096);

	copy->destroy(copy);
	img->destroy(img);
	ut_poll_threads();
}

static void
test_store_we_write_passes_lvstor_check(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	blob_id ids[5];

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	fill_store(bs, ids);
	assert_int_equal(ut_bs_unload(bs), 0);
	run_lvstor_check(base, "ours");
	base->destroy(base);
	ut_poll_threads();
}

static void
test_legacy_store_without_blobid_mask_always_recovers(void **state)
{
	struct bs_dev *base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	uint8_t *img = bs_dev_mem_data(base);
	uint8_t blobid_mask[4096];
	blob_id ids[5];

	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	fill_store(bs, ids);
	assert_int_equal(ut_bs_unload(bs), 0);
	/* As an old store: no blob-ID mask (spec §2.1). */
	bsf_store_le32(img + BSF_SB_OFF_BLOBID_MASK_LEN, 0);
	bsf_set_crc(img);
	memcpy(blobid_mask, img + 3 * 4096, sizeof(blobid_mask));
	memset(img + 3 * 4096, 0xA5, 4096);      /* must be neither read nor written */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
		assert_true(bs->recovered);
		assert_int_equal(ut_bs_check(bs), 4);
		assert_int_equal(ut_bs_unload(bs), 0);
		assert_int_equal(bsf_load_le32(img + BSF_SB_OFF_BLOBID_MASK_LEN), 0);
		assert_int_equal(img[3 * 4096 + 17], 0xA5);
	}
	base->destroy(base);
	ut_poll_threads();
}

static void
test_ten_thousand_blobs_load(void **state)
{
	/* 64 MiB, 16 KiB clusters: 4096 clusters; md pages: 12000 (ratio). */
	struct bs_dev *base = bs_dev_mem_create(64u * 1024 * 1024 / 4096, 4096);
	struct bs_dev *dev = ut_fault_dev_create(base, NULL);
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct blob_store *bs;
	struct ut_res r = { 0 };
	struct bs_dev *copy;
	uint32_t n = 0;

	o.num_md_pages = 12000;
	assert_int_equal(ut_bs_init(dev, &o, &bs), 0);
	for (int i = 0; i < 10000; i++) {
		struct blob_opts bo;

		blob_opts_init(&bo, sizeof(bo));
		bo.thin_provision = true;
		bo.num_clusters = 4;
		bs_create_blob(bs, &bo, ut_id_cb, &r);
	}
	ut_poll_threads();
	assert_int_equal(r.calls, 10000);
	assert_int_equal(r.rc, 0);
	copy = ut_mem_dev_copy(base);           /* a dirty image */
	assert_int_equal(ut_bs_unload(bs), 0);

	assert_int_equal(ut_bs_load(ut_fault_dev_create(base, NULL), &o, &bs), 0);
	memset(&r, 0, sizeof(r));
	bs_iter_first(bs, ut_blob_cb, &r);
	ut_poll_threads();
	while (r.rc == 0) {
		struct blob *b = r.blob;

		n++;
		memset(&r, 0, sizeof(r));
		bs_iter_next(bs, b, ut_blob_cb, &r);
		ut_poll_threads();
	}
	assert_int_equal(n, 10000);
	assert_int_equal(ut_bs_unload(bs), 0);

	assert_int_equal(ut_bs_load(ut_fault_dev_create(copy, NULL), &o, &bs), 0);
	assert_true(bs->recovered);
	assert_int_equal(bit_array_count_set(bs->used_blobids), 10000);
	assert_int_equal(ut_bs_unload(bs), 0);
	copy->destroy(copy);
	base->destroy(base);
	ut_poll_threads();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recovery_of_root_page_pointing_to_itself_terminates,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_load_rebuilds_the_clean_masks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_force_recover_on_clean_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_quarantines_a_double_owner, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_descriptor_fails_recovery_not_clean_load,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_continuation_page_fails_only_its_blob,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_spdk_fixture_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_we_write_passes_lvstor_check, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_legacy_store_without_blobid_mask_always_recovers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ten_thousand_blobs_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
