/*
 * Unit tests of module/bdev/lvol through the real bdev layer, lib/lvol and
 * lib/blob on the deterministic thread harness: I/O through an lvol bdev,
 * a base bdev hot-removed under an open lvol consumer (the path no RPC can
 * reach while the back ends refuse to delete a claimed bdev), the clean
 * unload at shutdown followed by a reload through examine, and a degraded
 * esnap clone that gets its bdev when a bdev with its external snapshot's
 * UUID registers. Run under ASan they are also the leak check of those
 * paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "lvstor/lvol.h"
#include "lvstor/util.h"
#include "../bdev_modules/ut_modules.h"
#include "../../../module/bdev/file/file_internal.h"
#include "../../../module/bdev/lvol/lvol_bdev.h"
#include "../../../module/bdev/malloc/bdev_malloc.h"

static const char *const g_modules[] = { "lvol", "malloc", "aio", NULL };
static char g_path[64];

static int
setup(void **state)
{
	int fd;

	snprintf(g_path, sizeof(g_path), "/tmp/lvstor_lvol_ut.XXXXXX");
	fd = mkstemp(g_path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	close(fd);
	setenv("LVSTOR_FILE_ENGINE", "aio", 1);
	ut_layer_setup(g_modules);
	ut_set_thread(0);
	return 0;
}

static int
teardown(void **state)
{
	ut_layer_teardown();
	unlink(g_path);
	unsetenv("LVSTOR_FILE_ENGINE");
	return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static struct lvol_store *g_lvs;
static struct lvol *g_lvol;

static void
lvs_done(void *arg, struct lvol_store *lvs, int rc)
{
	g_lvs = lvs;
	*(int *)arg = rc;
}

static void
lvol_done(void *arg, struct lvol *lvol, int rc)
{
	g_lvol = lvol;
	*(int *)arg = rc;
}

/* What bdev_lvol_create_lvstore does. */
static struct lvol_store *
create_store(const char *bdev_name, const char *name)
{
	struct lvs_opts opts;
	struct bs_dev *dev;
	struct bdev *base;
	int rc = 1;

	assert_int_equal(lvs_bdev_open_base(bdev_name, &dev, &base), 0);
	lvs_opts_init(&opts, sizeof(opts));
	strlcpy_lv(opts.name, name, sizeof(opts.name));
	opts.cluster_sz = 1 << 20;
	opts.clear_method = LVS_CLEAR_WITH_NONE;
	opts.esnap_bs_dev_create = lvs_bdev_esnap_dev_create;
	assert_int_equal(lvs_init(dev, &opts, lvs_done, &rc), 0);
	ut_wait_rc(&rc, 1);
	assert_int_equal(rc, 0);
	assert_non_null(lvs_bdev_add(g_lvs, base));
	return g_lvs;
}

/* What bdev_lvol_create does. */
static struct lvol *
create_lvol(struct lvol_store *lvs, const char *name, uint64_t mib, bool thin)
{
	int rc = 1;

	assert_int_equal(lvol_create(lvs, name, mib << 20, thin, LVOL_CLEAR_WITH_DEFAULT,
				     lvol_done, &rc), 0);
	ut_wait_rc(&rc, 1);
	assert_int_equal(rc, 0);
	assert_int_equal(lvol_bdev_register(g_lvol), 0);
	ut_poll_threads();
	return g_lvol;
}

static struct bdev *
create_malloc(const char *name, uint64_t blocks, uint32_t bs)
{
	struct malloc_opts o;
	struct bdev *bdev;

	malloc_opts_init(&o, sizeof(o));
	o.name = name;
	o.num_blocks = blocks;
	o.block_size = bs;
	assert_int_equal(malloc_disk_create(&o, &bdev), 0);
	ut_poll_threads();
	return bdev;
}

static struct bdev *
create_aio(const char *name)
{
	struct file_opts o;
	struct bdev *bdev;

	file_opts_init(&o, sizeof(o));
	o.name = name;
	o.filename = g_path;
	o.block_size = 4096;
	assert_int_equal(file_disk_create(&o, false, &bdev), 0);
	return bdev;
}

static void
examine_done(void *arg)
{
	*(bool *)arg = true;
}

static void
wait_examine(void)
{
	bool done = false;

	assert_int_equal(bdev_wait_for_examine(examine_done, &done), 0);
	ut_wait_flag(&done);
}

static int
count_lvol_bdevs(void)
{
	struct bdev *b;
	int n = 0;

	for (b = bdev_first(); b != NULL; b = bdev_next(b)) {
		if (strcmp(bdev_get_product_name(b), "Logical Volume") == 0)
			n++;
	}
	return n;
}

/* ---- tests ----------------------------------------------------------------------- */

static void
test_io_through_lvol_bdev(void **state)
{
	struct lvol_store *lvs;
	struct ut_events ev;
	struct iovec iov;
	struct bdev *b;
	uint8_t *wbuf = aligned_alloc(4096, 8192), *rbuf = aligned_alloc(4096, 8192);
	size_t i;

	create_malloc("M0", 16384, 4096);
	lvs = create_store("M0", "lvs0");
	create_lvol(lvs, "thin", 8, true);
	b = bdev_get_by_name("lvs0/thin");
	assert_non_null(b);
	assert_int_equal(bdev_get_block_size(b), 4096);
	assert_int_equal(bdev_get_num_blocks(b), 2048);
	assert_true(bdev_is_claimed(bdev_get_by_name("M0")));

	for (i = 0; i < 8192; i++)
		wbuf[i] = (uint8_t)(i * 7 + 3);
	ut_open("lvs0/thin", true, &ev);
	iov.iov_base = wbuf;
	iov.iov_len = 8192;
	/* Across a cluster boundary (256 blocks of 4 KiB per 1 MiB cluster). */
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE, &iov, 1, 255, 2), BDEV_IO_STATUS_SUCCESS);
	memset(rbuf, 0xee, 8192);
	iov.iov_base = rbuf;
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_READ, &iov, 1, 255, 2), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(wbuf, rbuf, 8192);
	assert_int_equal(lvol_get_num_allocated_clusters(g_lvol), 2);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE_ZEROES, NULL, 0, 255, 1),
			 BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_READ, &iov, 1, 255, 2), BDEV_IO_STATUS_SUCCESS);
	for (i = 0; i < 4096; i++)
		assert_int_equal(rbuf[i], 0);
	assert_memory_equal(wbuf + 4096, rbuf + 4096, 4096);
	ut_close(&ev);
	free(wbuf);
	free(rbuf);
}

static void
unregistered(void *arg, int rc)
{
	*(int *)arg = rc;
}

static void
test_base_hot_remove_under_open_consumer(void **state)
{
	struct lvol_store *lvs;
	struct ut_events ev;
	struct bdev *base = create_malloc("M0", 16384, 4096);
	int rc = 1;

	lvs = create_store("M0", "lvs0");
	create_lvol(lvs, "a", 4, false);
	create_lvol(lvs, "b", 4, true);
	create_lvol(lvs, "c", 2, true);
	assert_int_equal(count_lvol_bdevs(), 3);
	ut_open("lvs0/a", true, &ev);
	ev.close_on_remove = true;

	bdev_unregister(base, unregistered, &rc);
	ut_wait_rc(&rc, 1);
	assert_int_equal(rc, 0);
	/* The consumer was told and closed; every lvol bdev and the store are gone. */
	assert_int_equal(ev.count[BDEV_EVENT_REMOVE], 1);
	assert_null(ev.desc);
	assert_int_equal(count_lvol_bdevs(), 0);
	assert_null(lvs_first());
	assert_null(bdev_get_by_name("M0"));
}

static uint32_t
superblock_clean_flag(void)
{
	uint32_t clean = 0;
	int fd = open(g_path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &clean, sizeof(clean), 16), (ssize_t)sizeof(clean));
	close(fd);
	return clean;
}

static void
test_shutdown_unloads_clean_and_examine_reloads(void **state)
{
	struct lvol_store *lvs;
	char uuid[UUID_STRING_LEN];
	struct bdev *b;

	create_aio("AIO0");
	wait_examine();
	lvs = create_store("AIO0", "lvs0");
	create_lvol(lvs, "v0", 4, false);
	uuid_fmt_lower(uuid, sizeof(uuid), lvol_get_uuid(g_lvol));
	create_lvol(lvs, "v1", 8, true);

	/* bdev_finish: the lvol bdevs go first, then the store unloads clean. */
	ut_layer_teardown();
	assert_int_equal(superblock_clean_flag(), 1);

	ut_layer_setup(g_modules);
	ut_set_thread(0);
	create_aio("AIO0");
	wait_examine();
	assert_non_null(lvs_get_by_name("lvs0"));
	b = bdev_get_by_name("lvs0/v0");
	assert_non_null(b);
	assert_string_equal(bdev_get_name(b), uuid);
	assert_non_null(bdev_get_by_name("lvs0/v1"));
	assert_true(bdev_is_claimed(bdev_get_by_name("AIO0")));
	assert_int_equal(count_lvol_bdevs(), 2);
}

static void
test_examine_leaves_other_bdevs_unclaimed(void **state)
{
	create_aio("AIO0");
	wait_examine();
	assert_false(bdev_is_claimed(bdev_get_by_name("AIO0")));
	assert_null(lvs_first());
	/* And a store can go on it right away. */
	create_store("AIO0", "fresh");
}

/* ---- external snapshots ------------------------------------------------------------- */

#define EXT_UUID "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"

static struct bdev *
create_malloc_uuid(const char *name, uint64_t blocks, const char *uuid)
{
	struct malloc_opts o;
	struct bdev *bdev;

	malloc_opts_init(&o, sizeof(o));
	o.name = name;
	o.num_blocks = blocks;
	o.block_size = 4096;
	assert_int_equal(uuid_parse_str(&o.uuid, uuid), 0);
	assert_int_equal(malloc_disk_create(&o, &bdev), 0);
	return bdev;
}

/* Writes the pattern into the first `blocks` blocks of `name`. */
static void
fill_pattern(const char *name, uint8_t *buf, uint64_t blocks)
{
	struct ut_events ev;

	ut_pattern(buf, blocks * 4096, 9);
	ut_open(name, true, &ev);
	assert_int_equal(ut_rw_buf(&ev, true, buf, 0, blocks), BDEV_IO_STATUS_SUCCESS);
	ut_close(&ev);
}

/* The first `blocks` blocks of `name` are `want`. */
static void
expect_blocks(const char *name, const uint8_t *want, uint64_t blocks)
{
	struct ut_events ev;
	uint8_t *buf = ut_aligned(blocks * 4096, 0xee);

	ut_open(name, false, &ev);
	assert_int_equal(ut_rw_buf(&ev, false, buf, 0, blocks), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(buf, want, blocks * 4096);
	ut_close(&ev);
	free(buf);
}

static const char *
ut_uuid(const struct lv_uuid *u, char buf[UUID_STRING_LEN])
{
	uuid_fmt_lower(buf, UUID_STRING_LEN, u);
	return buf;
}

static struct lvol *
lvol_named(const char *lvs_name, const char *name)
{
	return lvol_get_by_name(lvs_get_by_name(lvs_name), name);
}

static void
test_esnap_clone_comes_back_when_its_bdev_registers(void **state)
{
	uint8_t *pat = ut_aligned(16 * 4096, 0);
	char uuid[UUID_STRING_LEN];
	struct lvol_store *lvs;
	struct lvol *ec;
	struct bdev *b;
	int rc = 1;

	/* An esnap clone of Ext in a store on AIO0, reading Ext's data. */
	create_malloc_uuid("Ext", 1024, EXT_UUID);
	fill_pattern("Ext", pat, 16);
	create_aio("AIO0");
	wait_examine();
	lvs = create_store("AIO0", "lvs0");
	lvol_create_esnap_clone(EXT_UUID, sizeof(EXT_UUID), 1024 * 4096, lvs, "ec", lvol_done,
				&rc);
	ut_wait_rc(&rc, 1);
	assert_int_equal(rc, 0);
	assert_int_equal(lvol_bdev_register(g_lvol), 0);
	expect_blocks("lvs0/ec", pat, 16);

	/* Restart without Ext: listed, degraded, no bdev. */
	ut_layer_teardown();
	ut_layer_setup(g_modules);
	ut_set_thread(0);
	create_aio("AIO0");
	wait_examine();
	ec = lvol_named("lvs0", "ec");
	assert_non_null(ec);
	assert_true(lvol_is_degraded(ec));
	assert_null(bdev_get_by_name("lvs0/ec"));
	assert_int_equal(count_lvol_bdevs(), 0);

	/* A bdev with another UUID changes nothing. */
	create_malloc("M1", 1024, 4096);
	wait_examine();
	assert_true(lvol_is_degraded(ec));
	assert_int_equal(count_lvol_bdevs(), 0);

	/* Ext comes back under another name, same UUID: so does the clone. */
	create_malloc_uuid("Ext2", 1024, EXT_UUID);
	wait_examine();
	assert_false(lvol_is_degraded(ec));
	b = bdev_get_by_name("lvs0/ec");
	assert_non_null(b);
	/* Named by the lvol's UUID, aliased lvs/lvol: as at load. */
	assert_string_equal(bdev_get_name(b), ut_uuid(lvol_get_uuid(ec), uuid));
	assert_int_equal(lvs_get_degraded_count(NULL), 0);
	/* Its content is new (RAM): write the pattern again and read it through the clone. */
	fill_pattern("Ext2", pat, 16);
	expect_blocks("lvs0/ec", pat, 16);
	free(pat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_through_lvol_bdev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base_hot_remove_under_open_consumer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_unloads_clean_and_examine_reloads,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_examine_leaves_other_bdevs_unclaimed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_esnap_clone_comes_back_when_its_bdev_registers,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
