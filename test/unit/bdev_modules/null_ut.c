/*
 * Unit tests of module/bdev/null through the real bdev layer: every
 * supported I/O succeeds, reads leave the caller's buffer untouched (the
 * documented choice: nothing is written into it), compare is not
 * supported, creation errors, deletion and the saved configuration.
 */
#include <errno.h>
#include <jansson.h>

#include "ut_modules.h"
#include "../../../module/bdev/null/bdev_null.h"
#include "../../../module/bdev/malloc/bdev_malloc.h"

static const char *const g_modules[] = { "null", "malloc", NULL };

static int
setup(void **state)
{
	ut_layer_setup(g_modules);
	return 0;
}

static int
teardown(void **state)
{
	ut_layer_teardown();
	return 0;
}

static int
create(const char *name, uint64_t num_blocks, uint32_t block_size,
       void (*tweak)(struct null_opts *))
{
	struct null_opts o;

	null_opts_init(&o, sizeof(o));
	o.name = name;
	o.num_blocks = num_blocks;
	o.block_size = block_size;
	if (tweak != NULL) {
		tweak(&o);
	}
	return null_disk_create(&o, NULL);
}

static void
test_null_io_succeeds_and_reads_do_not_touch_the_buffer(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(8 * 4096, 0xab);
	struct iovec iov[2] = { { b, 4096 }, { b + 4096, 4096 } };
	struct bdev *bdev;

	assert_int_equal(create("Null0", 1024, 4096, NULL), 0);
	bdev = bdev_get_by_name("Null0");
	assert_string_equal(bdev_get_product_name(bdev), "Null disk");
	assert_false(bdev_io_type_supported(bdev, BDEV_IO_TYPE_COMPARE));
	ut_open("Null0", true, &ev);
	assert_int_equal(ut_rw_buf(&ev, true, b, 0, 8), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_rw_buf(&ev, false, b, 1016, 8), BDEV_IO_STATUS_SUCCESS);
	assert_true(ut_all_bytes(b, 8 * 4096, 0xab));
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_READ, iov, 2, 5, 2), BDEV_IO_STATUS_SUCCESS);
	assert_true(ut_all_bytes(b, 8 * 4096, 0xab));
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_UNMAP, NULL, 0, 0, 1024), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE_ZEROES, NULL, 0, 3, 9),
			 BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_FLUSH, NULL, 0, 0, 1024), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_RESET, NULL, 0, 0, 0), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_COMPARE, iov, 2, 0, 2), -ENOTSUP);
	assert_int_equal(ut_rw_buf(&ev, false, b, 1024, 1), -EINVAL);
	ut_close(&ev);
	free(b);
}

static void
read_cb(struct bdev_io *io, bool success, void *arg)
{
	struct ut_cpl *c = arg;

	c->done = true;
	c->success = success && io->u.iovs[0].iov_base != NULL;
	bdev_free_io(io);
}

static void
test_null_read_without_buffer_gets_one(void **state)
{
	struct ut_events ev;
	struct ut_cpl c = { 0 };

	assert_int_equal(create("Null0", 16, 512, NULL), 0);
	ut_open("Null0", false, &ev);
	assert_int_equal(bdev_read(ev.desc, ev.ch, NULL, 0, 4, read_cb, &c), 0);
	ut_wait_flag(&c.done);
	assert_true(c.success);
	ut_close(&ev);
}

/* Many I/Os from two threads at once: all complete, none lost. */
static void
test_null_many_ios_on_two_threads(void **state)
{
	struct ut_events ev[2];
	static struct ut_cpl cpl[2][256];
	static uint8_t buf[4096];
	int done = 0, i, t;

	assert_int_equal(create("Null0", 1 << 20, 4096, NULL), 0);
	for (t = 0; t < 2; t++) {
		ut_set_thread(t);
		ut_open("Null0", true, &ev[t]);
		for (i = 0; i < 256; i++) {
			memset(&cpl[t][i], 0, sizeof(cpl[t][i]));
			cpl[t][i].counter = &done;
			assert_int_equal(bdev_read(ev[t].desc, ev[t].ch, buf, (uint64_t)i * 7, 1,
						   ut_cpl_cb, &cpl[t][i]), 0);
		}
	}
	ut_wait_count(&done, 512);
	for (t = 0; t < 2; t++) {
		for (i = 0; i < 256; i++) {
			assert_true(cpl[t][i].success);
		}
		ut_set_thread(t);
		ut_close(&ev[t]);
	}
	ut_set_thread(0);
}

static void set_md(struct null_opts *o) { o->md_size = 8; }
static void set_dif(struct null_opts *o) { o->md_size = 8; o->dif_type = 1; }
static void set_pbs(struct null_opts *o) { o->physical_block_size = 700; }
static void set_hints(struct null_opts *o) { o->optimal_write_size = 16; }

static void
test_null_create_errors(void **state)
{
	assert_int_equal(create(NULL, 16, 512, NULL), -EINVAL);
	assert_int_equal(create("", 16, 512, NULL), -EINVAL);
	assert_int_equal(create("N", 0, 512, NULL), -EINVAL);
	assert_int_equal(create("N", 16, 520, NULL), -EINVAL);
	assert_int_equal(create("N", 16, 512, set_md), -EINVAL);
	assert_int_equal(create("N", 16, 512, set_dif), -EINVAL);
	assert_int_equal(create("N", 16, 512, set_pbs), -EINVAL);
	assert_null(bdev_get_by_name("N"));
	assert_int_equal(create("N", 16, 512, set_hints), 0);
	assert_int_equal(create("N", 16, 512, NULL), -EEXIST);
}

static void
test_null_delete_only_null_bdevs(void **state)
{
	struct malloc_opts m;
	int rc = 1;

	malloc_opts_init(&m, sizeof(m));
	m.name = "M";
	m.num_blocks = 8;
	m.block_size = 512;
	assert_int_equal(malloc_disk_create(&m, NULL), 0);
	assert_int_equal(null_disk_delete("M", ut_rc_done, &rc), -ENODEV);
	assert_int_equal(null_disk_delete("nope", ut_rc_done, &rc), -ENODEV);
	assert_int_equal(create("N", 16, 512, NULL), 0);
	assert_int_equal(null_disk_delete("N", ut_rc_done, &rc), 0);
	ut_poll_threads();
	assert_int_equal(rc, 0);
	assert_null(bdev_get_by_name("N"));
}

static void
test_null_write_config_json(void **state)
{
	json_t *config = json_array(), *params;
	struct bdev *bdev;

	assert_int_equal(create("N", 100, 4096, set_hints), 0);
	bdev = bdev_get_by_name("N");
	bdev->fn_table->write_config_json(bdev, config);
	assert_string_equal(json_string_value(json_object_get(json_array_get(config, 0), "method")),
			    "bdev_null_create");
	params = json_object_get(json_array_get(config, 0), "params");
	assert_string_equal(json_string_value(json_object_get(params, "name")), "N");
	assert_int_equal(json_integer_value(json_object_get(params, "num_blocks")), 100);
	assert_int_equal(json_integer_value(json_object_get(params, "block_size")), 4096);
	assert_int_equal(json_integer_value(json_object_get(params, "optimal_write_size")), 16);
	assert_null(json_object_get(params, "preferred_write_alignment"));
	assert_non_null(json_string_value(json_object_get(params, "uuid")));
	json_decref(config);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_null_io_succeeds_and_reads_do_not_touch_the_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_read_without_buffer_gets_one, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_null_many_ios_on_two_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_create_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_delete_only_null_bdevs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_write_config_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
