/*
 * Unit tests of module/bdev/file (the aio and uring modules) through the
 * real bdev layer, on temporary files and real kernel I/O, with each test
 * run once per engine (io_uring, libaio): data round trips, flush,
 * read-only, fallocate unmap/write_zeroes, a file truncated under the
 * bdev, rescan after a resize, deletion with I/O in flight, the idle
 * state of the group channel, creation errors and the saved
 * configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>

#include "lvstor/util.h"
#include "ut_modules.h"
#include "../../../module/bdev/file/file_internal.h"

static const char *const g_modules[] = { "aio", "uring", "malloc", NULL };

struct engine_case {
	const char *env;                /* LVSTOR_FILE_ENGINE */
	enum file_engine_kind kind;
};

static const struct engine_case g_uring = { "uring", FILE_ENGINE_URING };
static const struct engine_case g_aio = { "aio", FILE_ENGINE_AIO };

static char g_path[64];
static const struct engine_case *g_case;

static int
setup(void **state)
{
	int fd;

	g_case = *state;
	setenv("LVSTOR_FILE_ENGINE", g_case->env, 1);
	snprintf(g_path, sizeof(g_path), "/tmp/lvstor_file_ut.XXXXXX");
	fd = mkstemp(g_path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);   /* 4 MiB */
	close(fd);
	ut_layer_setup(g_modules);
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

static int
create_opts(const char *name, uint32_t bs, bool readonly, bool fallocate, bool uring)
{
	struct file_opts o;
	struct bdev *bdev = NULL;
	int rc;

	file_opts_init(&o, sizeof(o));
	o.name = name;
	o.filename = g_path;
	o.block_size = bs;
	o.readonly = readonly;
	o.fallocate = fallocate;
	rc = file_disk_create(&o, uring, &bdev);
	if (rc == 0) {
		struct file_disk *disk = bdev->ctxt;

		/* The engine the test case asked for is the one in use. */
		assert_int_equal(disk->engine, g_case->kind);
	}
	return rc;
}

static struct bdev *
create(const char *name, uint32_t bs, bool readonly, bool fallocate)
{
	assert_int_equal(create_opts(name, bs, readonly, fallocate, false), 0);
	return bdev_get_by_name(name);
}

static void
test_file_round_trip(void **state)
{
	struct ut_events ev;
	size_t len = 64 * 1024;
	uint8_t *w = ut_aligned(len, 0), *r = ut_aligned(len, 0);
	struct iovec wiov[3] = { { w, 4096 }, { w + 4096, 32768 }, { w + 36864, len - 36864 } };
	struct iovec riov[2] = { { r, 8192 }, { r + 8192, len - 8192 } };
	struct bdev *bdev = create("F", 0, false, false);
	int fd;

	assert_string_equal(bdev_get_product_name(bdev), "AIO disk");
	assert_int_equal(bdev_get_block_size(bdev), 512);
	assert_int_equal(bdev_get_num_blocks(bdev), (4 << 20) / 512);
	ut_open("F", true, &ev);

	ut_pattern(w, len, 1);
	assert_int_equal(ut_rw_buf(&ev, true, w, 128, len / 512), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_rw_buf(&ev, false, r, 128, len / 512), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(r, w, len);

	ut_pattern(w, len, 2);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE, wiov, 3, 1000, len / 512),
			 BDEV_IO_STATUS_SUCCESS);
	memset(r, 0, len);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_READ, riov, 2, 1000, len / 512),
			 BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(r, w, len);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_FLUSH, NULL, 0, 0, bdev_get_num_blocks(bdev)),
			 BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_RESET, NULL, 0, 0, 0), BDEV_IO_STATUS_SUCCESS);
	/* Without the fallocate option: no unmap; write_zeroes is the layer's. */
	assert_false(bdev_io_type_supported(bdev, BDEV_IO_TYPE_UNMAP));
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_UNMAP, NULL, 0, 0, 8), -ENOTSUP);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE_ZEROES, NULL, 0, 1000, 8),
			 BDEV_IO_STATUS_SUCCESS);
	ut_close(&ev);

	/* The data really is in the file, at the right place. */
	fd = open(g_path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, len, 1000 * 512), (ssize_t)len);
	memset(w, 0, 8 * 512);
	assert_memory_equal(r, w, len);
	close(fd);
	free(w);
	free(r);
}

static void
test_file_4096_byte_blocks_on_uring_module(void **state)
{
	struct ut_events ev;
	uint8_t *w = ut_aligned(3 * 4096, 0), *r = ut_aligned(3 * 4096, 0);
	struct bdev *bdev;
	int rc = create_opts("U", 4096, false, false, true);

	if (g_case->kind == FILE_ENGINE_AIO) {
		/* io_uring counts as unavailable: uring bdevs cannot be made. */
		assert_int_equal(rc, -ENOTSUP);
		assert_null(bdev_get_by_name("U"));
		free(w);
		free(r);
		return;
	}
	assert_int_equal(rc, 0);
	bdev = bdev_get_by_name("U");
	assert_string_equal(bdev_get_product_name(bdev), "URING bdev");
	assert_int_equal(bdev_get_num_blocks(bdev), 1024);
	ut_open("U", true, &ev);
	ut_pattern(w, 3 * 4096, 4);
	assert_int_equal(ut_rw_buf(&ev, true, w, 1021, 3), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_rw_buf(&ev, false, r, 1021, 3), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(r, w, 3 * 4096);
	ut_close(&ev);
	free(w);
	free(r);
}

static void
test_file_readonly_refuses_writes(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(4096, 0x11);
	struct bdev *bdev = create("RO", 0, true, true);

	assert_false(bdev_io_type_supported(bdev, BDEV_IO_TYPE_WRITE));
	assert_false(bdev_io_type_supported(bdev, BDEV_IO_TYPE_UNMAP));
	ut_open("RO", true, &ev);
	assert_int_equal(ut_rw_buf(&ev, false, b, 0, 8), BDEV_IO_STATUS_SUCCESS);
	assert_true(ut_all_bytes(b, 4096, 0));
	memset(b, 0x11, 4096);
	/* The layer passes the write down; the file, opened O_RDONLY, refuses it. */
	assert_int_equal(ut_rw_buf(&ev, true, b, 0, 8), BDEV_IO_STATUS_FAILED);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_UNMAP, NULL, 0, 0, 8), -ENOTSUP);
	assert_int_equal(ut_rw_buf(&ev, false, b, 0, 8), BDEV_IO_STATUS_SUCCESS);
	assert_true(ut_all_bytes(b, 4096, 0));
	ut_close(&ev);
	free(b);
}

static long
allocated_kib(void)
{
	struct stat st;

	assert_int_equal(stat(g_path, &st), 0);
	return (long)st.st_blocks / 2;
}

static void
test_file_fallocate_unmap_punches_holes(void **state)
{
	struct ut_events ev;
	size_t len = 1 << 20;
	uint8_t *w = ut_aligned(len, 0x7e), *r = ut_aligned(len, 0);
	struct bdev *bdev = create("FA", 4096, false, true);
	long before, after;

	assert_true(bdev_io_type_supported(bdev, BDEV_IO_TYPE_UNMAP));
	assert_true(bdev_io_type_supported(bdev, BDEV_IO_TYPE_WRITE_ZEROES));
	ut_open("FA", true, &ev);
	assert_int_equal(ut_rw_buf(&ev, true, w, 0, len / 4096), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_FLUSH, NULL, 0, 0, 256), BDEV_IO_STATUS_SUCCESS);
	before = allocated_kib();
	assert_true(before >= 1024);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_UNMAP, NULL, 0, 64, 64), BDEV_IO_STATUS_SUCCESS);
	after = allocated_kib();
	assert_true(after <= before - 256);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE_ZEROES, NULL, 0, 200, 3),
			 BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_rw_buf(&ev, false, r, 0, len / 4096), BDEV_IO_STATUS_SUCCESS);
	memset(w + 64 * 4096, 0, 64 * 4096);
	memset(w + 200 * 4096, 0, 3 * 4096);
	assert_memory_equal(r, w, len);
	/* The file keeps its size. */
	{
		struct stat st;

		assert_int_equal(stat(g_path, &st), 0);
		assert_int_equal(st.st_size, 4 << 20);
	}
	ut_close(&ev);
	free(w);
	free(r);
}

/* A file cut short under the bdev: reads past the new end fail, and
 * never come back as success with stale or invented data. */
static void
test_file_truncated_under_the_bdev_reads_fail(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(8192, 0x42);

	create("T", 4096, false, false);
	ut_open("T", true, &ev);
	assert_int_equal(ut_rw_buf(&ev, true, b, 1000, 2), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(truncate(g_path, 2 << 20), 0);
	assert_int_equal(ut_rw_buf(&ev, false, b, 1000, 2), BDEV_IO_STATUS_FAILED);
	/* Straddling the new end: short, so failed too. */
	assert_int_equal(ut_rw_buf(&ev, false, b, 511, 2), BDEV_IO_STATUS_FAILED);
	assert_int_equal(ut_rw_buf(&ev, false, b, 10, 2), BDEV_IO_STATUS_SUCCESS);
	ut_close(&ev);
	free(b);
}

static void
test_file_rescan_after_resize(void **state)
{
	struct ut_events ev;
	struct bdev *bdev = create("R", 0, false, false);

	ut_open("R", false, &ev);
	assert_int_equal(file_disk_rescan("R", false), 0);       /* unchanged: no event */
	ut_poll_threads();
	assert_int_equal(ev.count[BDEV_EVENT_RESIZE], 0);
	assert_int_equal(truncate(g_path, 6 << 20), 0);
	assert_int_equal(file_disk_rescan("R", false), 0);
	ut_poll_threads();
	assert_int_equal(bdev_get_num_blocks(bdev), (6 << 20) / 512);
	assert_int_equal(ev.count[BDEV_EVENT_RESIZE], 1);
	/* Shrinking under an open descriptor is the layer's to refuse. */
	assert_int_equal(truncate(g_path, 1 << 20), 0);
	assert_int_equal(file_disk_rescan("R", false), -EBUSY);
	assert_int_equal(bdev_get_num_blocks(bdev), (6 << 20) / 512);
	ut_close(&ev);
	assert_int_equal(file_disk_rescan("R", false), 0);
	assert_int_equal(bdev_get_num_blocks(bdev), (1 << 20) / 512);
	assert_int_equal(file_disk_rescan("R", true), -ENODEV);  /* not a uring bdev */
	assert_int_equal(file_disk_rescan("nope", false), -ENODEV);
}

/* Delete while I/O is in flight on two threads: the descriptors get
 * REMOVE, every I/O still completes, the users close after their last
 * completion, and only then does the delete finish. */
static void
test_file_delete_with_io_in_flight(void **state)
{
	enum { PER_THREAD = 48 };
	struct ut_events ev[2];
	static struct ut_cpl cpl[2][PER_THREAD];
	uint8_t *buf = ut_aligned(PER_THREAD * 2 * 4096, 0);
	int done = 0, rc = 1, i, t;

	create("D", 4096, false, false);
	for (t = 0; t < 2; t++) {
		ut_set_thread(t);
		ut_open("D", true, &ev[t]);
		for (i = 0; i < PER_THREAD; i++) {
			memset(&cpl[t][i], 0, sizeof(cpl[t][i]));
			cpl[t][i].counter = &done;
			assert_int_equal(bdev_write(ev[t].desc, ev[t].ch,
						    buf + (t * PER_THREAD + i) * 4096,
						    (uint64_t)(t * PER_THREAD + i), 1, ut_cpl_cb,
						    &cpl[t][i]), 0);
		}
	}
	ut_set_thread(0);
	assert_int_equal(file_disk_delete("D", false, ut_rc_done, &rc), 0);
	ut_wait_count(&done, 2 * PER_THREAD);
	assert_int_equal(rc, 1);        /* descriptors still open */
	for (t = 0; t < 2; t++) {
		assert_int_equal(ev[t].count[BDEV_EVENT_REMOVE], 1);
		for (i = 0; i < PER_THREAD; i++) {
			assert_true(cpl[t][i].done);
		}
		ut_set_thread(t);
		ut_close(&ev[t]);
	}
	ut_set_thread(0);
	ut_wait_rc(&rc, 1);
	assert_int_equal(rc, 0);
	assert_null(bdev_get_by_name("D"));
	free(buf);
}

/*
 * The alignment the bdev reports is what the kernel needs: with O_DIRECT
 * a buffer off that alignment is bounced by the layer through an aligned
 * buffer (guest memory can be anywhere), so the kernel never sees it and
 * the data still round-trips; opened buffered (a file system without
 * O_DIRECT) any buffer goes straight through. Run on tmpfs, which
 * depending on the kernel takes O_DIRECT (>= 6.6) or not.
 */
static void
test_file_buffer_alignment_matches_the_kernel(void **state)
{
	char path[64];
	struct file_opts o;
	struct bdev *bdev = NULL;
	struct file_disk *disk;
	struct ut_events ev;
	uint8_t *w = ut_aligned(16384, 0), *r = ut_aligned(16384, 0);
	size_t align;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/lvstor_file_ut.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0) {
		skip();
	}
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	file_opts_init(&o, sizeof(o));
	o.name = "S";
	o.filename = path;
	assert_int_equal(file_disk_create(&o, false, &bdev), 0);
	disk = bdev->ctxt;
	align = bdev_get_buf_align(bdev);
	ut_open("S", true, &ev);
	ut_pattern(w, 16384, 8);
	if (disk->direct) {
		assert_true(align > 1);
		assert_int_equal(ut_rw_buf(&ev, true, w + align / 2, 3, 15), BDEV_IO_STATUS_SUCCESS);
		assert_int_equal(ut_rw_buf(&ev, false, r + align / 2 + 1, 3, 15),
				 BDEV_IO_STATUS_SUCCESS);
		assert_memory_equal(r + align / 2 + 1, w + align / 2, 15 * 512);
		assert_int_equal(ut_rw_buf(&ev, true, w + align, 3, 15), BDEV_IO_STATUS_SUCCESS);
		assert_int_equal(ut_rw_buf(&ev, false, r + align, 3, 15), BDEV_IO_STATUS_SUCCESS);
		assert_memory_equal(r + align, w + align, 15 * 512);
	} else {
		assert_true(align <= 1);
		assert_int_equal(ut_rw_buf(&ev, true, w + 1, 3, 15), BDEV_IO_STATUS_SUCCESS);
		assert_int_equal(ut_rw_buf(&ev, false, r + 3, 3, 15), BDEV_IO_STATUS_SUCCESS);
		assert_memory_equal(r + 3, w + 1, 15 * 512);
	}
	ut_close(&ev);
	unlink(path);
	free(w);
	free(r);
}

/* With nothing in flight the group channel's poller is paused, so the
 * reactor can sleep; the eventfd stays registered to wake it. */
static void
test_file_idle_channel_lets_the_thread_sleep(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(4096, 0);
	uint64_t active, timed, paused;

	create("I", 0, false, false);
	ut_open("I", true, &ev);
	assert_int_equal(ut_rw_buf(&ev, false, b, 0, 8), BDEV_IO_STATUS_SUCCESS);
	ut_poll_threads();
	assert_false(thread_has_active_pollers(ut_thread(0)));
	thread_get_poller_counts(ut_thread(0), &active, &timed, &paused);
	assert_true(paused >= 1);
	ut_close(&ev);
	free(b);
}

static void
test_file_create_errors(void **state)
{
	struct file_opts o;
	int fd;

	assert_int_equal(create_opts("E", 1000, false, false, false), -EINVAL);
	assert_int_equal(create_opts("E", 256, false, false, false), -EINVAL);
	assert_null(bdev_get_by_name("E"));
	file_opts_init(&o, sizeof(o));
	o.name = "E";
	o.filename = "/tmp/lvstor_file_ut.does-not-exist";
	assert_int_equal(file_disk_create(&o, false, NULL), -ENOENT);
	o.filename = "/tmp";
	assert_true(file_disk_create(&o, false, NULL) < 0);      /* a directory */
	o.filename = g_path;
	o.nowait = true;
	assert_int_equal(file_disk_create(&o, false, NULL), -EINVAL);   /* nowait on a file */
	/* Smaller than one block. */
	fd = open(g_path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4000), 0);
	close(fd);
	assert_int_equal(create_opts("E", 4096, false, false, false), -EINVAL);
	assert_int_equal(create_opts("E", 512, false, false, false), 0);
	assert_int_equal(bdev_get_num_blocks(bdev_get_by_name("E")), 7);
	assert_int_equal(create_opts("E", 512, false, false, false), -EEXIST);
	/* Deleting through the other module's RPC does not find it. */
	assert_int_equal(file_disk_delete("E", true, ut_rc_done, NULL), -ENODEV);
	assert_int_equal(file_disk_delete("nope", false, ut_rc_done, NULL), -ENODEV);
}

static void
test_file_info_and_config_json(void **state)
{
	struct bdev *bdev = create("C", 4096, true, true);
	json_t *ds = json_object(), *config = json_array(), *aio, *params;

	bdev->fn_table->dump_info_json(bdev->ctxt, ds);
	aio = json_object_get(ds, "aio");
	assert_non_null(aio);
	assert_string_equal(json_string_value(json_object_get(aio, "filename")), g_path);
	assert_true(json_is_true(json_object_get(aio, "block_size_override")));
	assert_true(json_is_true(json_object_get(aio, "readonly")));
	assert_true(json_is_true(json_object_get(aio, "fallocate")));
	bdev->fn_table->write_config_json(bdev, config);
	assert_string_equal(json_string_value(json_object_get(json_array_get(config, 0), "method")),
			    "bdev_aio_create");
	params = json_object_get(json_array_get(config, 0), "params");
	assert_string_equal(json_string_value(json_object_get(params, "name")), "C");
	assert_string_equal(json_string_value(json_object_get(params, "filename")), g_path);
	assert_int_equal(json_integer_value(json_object_get(params, "block_size")), 4096);
	assert_true(json_is_true(json_object_get(params, "readonly")));
	assert_true(json_is_true(json_object_get(params, "fallocate")));
	assert_non_null(json_string_value(json_object_get(params, "uuid")));
	json_decref(ds);
	json_decref(config);
}

#define ENGINE_TESTS(fn) \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&g_uring), \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&g_aio)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		ENGINE_TESTS(test_file_round_trip),
		ENGINE_TESTS(test_file_4096_byte_blocks_on_uring_module),
		ENGINE_TESTS(test_file_readonly_refuses_writes),
		ENGINE_TESTS(test_file_fallocate_unmap_punches_holes),
		ENGINE_TESTS(test_file_truncated_under_the_bdev_reads_fail),
		ENGINE_TESTS(test_file_rescan_after_resize),
		ENGINE_TESTS(test_file_delete_with_io_in_flight),
		ENGINE_TESTS(test_file_buffer_alignment_matches_the_kernel),
		ENGINE_TESTS(test_file_idle_channel_lets_the_thread_sleep),
		ENGINE_TESTS(test_file_create_errors),
		ENGINE_TESTS(test_file_info_and_config_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
