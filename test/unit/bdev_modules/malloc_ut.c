/*
 * Unit tests of module/bdev/malloc through the real bdev layer: data
 * round trips at both block sizes, iovecs, zeroing (memset and the
 * madvise path), compare, the layer's range checks, creation errors,
 * automatic names, deletion rules and the saved configuration.
 */
#include <errno.h>
#include <jansson.h>

#include "ut_modules.h"
#include "../../../module/bdev/malloc/bdev_malloc.h"
#include "../../../module/bdev/null/bdev_null.h"

static const char *const g_modules[] = { "malloc", "null", NULL };

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

static struct bdev *
create(const char *name, uint64_t num_blocks, uint32_t block_size)
{
	struct malloc_opts o;
	struct bdev *bdev = NULL;

	malloc_opts_init(&o, sizeof(o));
	o.name = name;
	o.num_blocks = num_blocks;
	o.block_size = block_size;
	assert_int_equal(malloc_disk_create(&o, &bdev), 0);
	assert_non_null(bdev);
	return bdev;
}

static int
create_rc(uint64_t num_blocks, uint32_t block_size, void (*tweak)(struct malloc_opts *))
{
	struct malloc_opts o;

	malloc_opts_init(&o, sizeof(o));
	o.name = "Bad";
	o.num_blocks = num_blocks;
	o.block_size = block_size;
	if (tweak != NULL) {
		tweak(&o);
	}
	return malloc_disk_create(&o, NULL);
}

static void
round_trip(uint32_t bs)
{
	struct bdev *bdev = create("M", 64, bs);
	struct ut_events ev;
	uint8_t *w = ut_aligned(8 * bs, 0), *r = ut_aligned(8 * bs, 0xee);

	assert_string_equal(bdev_get_product_name(bdev), "Malloc disk");
	assert_int_equal(bdev_get_block_size(bdev), bs);
	assert_int_equal(bdev_get_num_blocks(bdev), 64);
	ut_open("M", true, &ev);

	/* A fresh disk reads as zeroes. */
	assert_int_equal(ut_rw_buf(&ev, false, r, 0, 8), BDEV_IO_STATUS_SUCCESS);
	assert_true(ut_all_bytes(r, 8 * bs, 0));

	ut_pattern(w, 8 * bs, bs);
	assert_int_equal(ut_rw_buf(&ev, true, w, 56, 8), BDEV_IO_STATUS_SUCCESS);
	memset(r, 0xee, 8 * bs);
	assert_int_equal(ut_rw_buf(&ev, false, r, 56, 8), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(r, w, 8 * bs);
	/* The neighbours were not touched. */
	assert_int_equal(ut_rw_buf(&ev, false, r, 48, 8), BDEV_IO_STATUS_SUCCESS);
	assert_true(ut_all_bytes(r, 8 * bs, 0));

	ut_close(&ev);
	free(w);
	free(r);
}

static void
test_malloc_round_trip_512(void **state)
{
	round_trip(512);
}

static void
test_malloc_round_trip_4096(void **state)
{
	round_trip(4096);
}

static void
test_malloc_iovecs_split_differently(void **state)
{
	struct ut_events ev;
	uint8_t *w = ut_aligned(4 * 512, 0), *r = ut_aligned(4 * 512, 0);
	struct iovec wiov[3] = {
		{ w, 100 }, { w + 100, 1000 }, { w + 1100, 4 * 512 - 1100 },
	};
	struct iovec riov[2] = { { r, 1536 }, { r + 1536, 512 } };

	create("M", 16, 512);
	ut_open("M", true, &ev);
	ut_pattern(w, 4 * 512, 3);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE, wiov, 3, 5, 4), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_READ, riov, 2, 5, 4), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(r, w, 4 * 512);
	ut_close(&ev);
	free(w);
	free(r);
}

/* Zeroing a range must zero exactly that range, on both the memset path
 * (small) and the madvise path (>= 1 MiB, with partial pages at the ends). */
static void
test_malloc_unmap_and_write_zeroes_zero_exactly_the_range(void **state)
{
	const uint32_t bs = 512;
	const uint64_t blocks = 8192;   /* 4 MiB */
	size_t len = blocks * bs;
	struct ut_events ev;
	uint8_t *w = ut_aligned(len, 0), *r = ut_aligned(len, 0);
	uint64_t u_off = 3, u_num = 2 * 2048 + 5;    /* ~2 MiB, odd page edges */
	uint64_t z_off = 7000, z_num = 9;
	size_t i;

	create("M", blocks, bs);
	ut_open("M", true, &ev);
	ut_pattern(w, len, 9);
	for (i = 0; i < len; i++) {
		w[i] |= 1;      /* no zero bytes, so any zeroed byte shows */
	}
	assert_int_equal(ut_rw_buf(&ev, true, w, 0, blocks), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_UNMAP, NULL, 0, u_off, u_num),
			 BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_WRITE_ZEROES, NULL, 0, z_off, z_num),
			 BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_rw_buf(&ev, false, r, 0, blocks), BDEV_IO_STATUS_SUCCESS);
	memset(w + u_off * bs, 0, u_num * bs);
	memset(w + z_off * bs, 0, z_num * bs);
	assert_memory_equal(r, w, len);
	/* Zeroed pages can be written again. */
	ut_pattern(w, bs, 77);
	assert_int_equal(ut_rw_buf(&ev, true, w, 1000, 1), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_rw_buf(&ev, false, r, 1000, 1), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(r, w, bs);
	ut_close(&ev);
	free(w);
	free(r);
}

static void
test_malloc_compare_reports_miscompare(void **state)
{
	struct ut_events ev;
	uint8_t *w = ut_aligned(2 * 4096, 0);
	struct iovec iov = { w, 2 * 4096 };

	create("M", 8, 4096);
	assert_true(bdev_io_type_supported(bdev_get_by_name("M"), BDEV_IO_TYPE_COMPARE));
	ut_open("M", true, &ev);
	ut_pattern(w, 2 * 4096, 5);
	assert_int_equal(ut_rw_buf(&ev, true, w, 2, 2), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_COMPARE, &iov, 1, 2, 2), BDEV_IO_STATUS_SUCCESS);
	w[4096 + 17] ^= 0x40;
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_COMPARE, &iov, 1, 2, 2),
			 BDEV_IO_STATUS_MISCOMPARE);
	ut_close(&ev);
	free(w);
}

static void
test_malloc_flush_reset_and_out_of_range(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(2 * 512, 0);

	create("M", 16, 512);
	ut_open("M", true, &ev);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_FLUSH, NULL, 0, 0, 16), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_RESET, NULL, 0, 0, 0), BDEV_IO_STATUS_SUCCESS);
	/* The layer refuses a range past the end before the module sees it. */
	assert_int_equal(ut_rw_buf(&ev, false, b, 15, 2), -EINVAL);
	assert_int_equal(ut_rw_buf(&ev, true, b, 16, 1), -EINVAL);
	assert_int_equal(ut_io(&ev, BDEV_IO_TYPE_UNMAP, NULL, 0, 10, 7), -EINVAL);
	ut_close(&ev);
	free(b);
}

static void
read_without_buffer_cb(struct bdev_io *io, bool success, void *arg)
{
	struct ut_cpl *c = arg;

	c->done = true;
	c->success = success && io->u.iovs[0].iov_base != NULL &&
		     ut_all_bytes(io->u.iovs[0].iov_base, 512, 0x5a);
	bdev_free_io(io);
}

/* A read without a buffer gets one from the layer, filled from the disk. */
static void
test_malloc_read_without_buffer(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(512, 0x5a);
	struct ut_cpl c = { 0 };

	create("M", 16, 512);
	ut_open("M", true, &ev);
	assert_int_equal(ut_rw_buf(&ev, true, b, 4, 1), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(bdev_read(ev.desc, ev.ch, NULL, 4, 1, read_without_buffer_cb, &c), 0);
	ut_wait_flag(&c.done);
	assert_true(c.success);
	ut_close(&ev);
	free(b);
}

static void set_md(struct malloc_opts *o) { o->md_size = 8; }
static void set_dif(struct malloc_opts *o) { o->dif_type = 1; }
static void set_pbs(struct malloc_opts *o) { o->physical_block_size = 1000; }
static void set_pi(struct malloc_opts *o) { o->dif_pi_format = 3; }
static void set_numa(struct malloc_opts *o) { o->numa_id = 4096; }
static void set_md_interleave(struct malloc_opts *o) { o->md_interleave = true; }

static void
test_malloc_create_errors(void **state)
{
	assert_int_equal(create_rc(0, 512, NULL), -EINVAL);
	assert_int_equal(create_rc(16, 256, NULL), -EINVAL);
	assert_int_equal(create_rc(16, 1000, NULL), -EINVAL);
	assert_int_equal(create_rc(16, 1536, NULL), -EINVAL);   /* multiple of 512, not 2^n */
	assert_int_equal(create_rc(16, 512, set_md), -EINVAL);
	assert_int_equal(create_rc(16, 512, set_dif), -EINVAL);
	assert_int_equal(create_rc(16, 512, set_pbs), -EINVAL);
	assert_int_equal(create_rc(16, 512, set_pi), -EINVAL);
	assert_int_equal(create_rc(16, 512, set_numa), -EINVAL);
	assert_int_equal(create_rc(UINT64_MAX / 512, 4096, NULL), -ENOMEM);
	/* 64 TiB fits the address space but not this machine: refused up front. */
	assert_int_equal(create_rc((1ull << 46) / 4096, 4096, NULL), -ENOMEM);
	assert_null(bdev_get_by_name("Bad"));
	/* md_interleave without metadata is harmless. */
	assert_int_equal(create_rc(16, 512, set_md_interleave), 0);
	assert_non_null(bdev_get_by_name("Bad"));
	/* The name (and the UUID) must be unique. */
	assert_int_equal(create_rc(16, 512, NULL), -EEXIST);
}

static void
test_malloc_auto_names_skip_used_ones(void **state)
{
	struct malloc_opts o;
	struct bdev *a = NULL, *b = NULL, *c = NULL;

	create("Malloc1", 8, 512);
	malloc_opts_init(&o, sizeof(o));
	o.num_blocks = 8;
	o.block_size = 512;
	assert_int_equal(malloc_disk_create(&o, &a), 0);
	assert_int_equal(malloc_disk_create(&o, &b), 0);
	assert_int_equal(malloc_disk_create(&o, &c), 0);
	assert_string_equal(bdev_get_name(a), "Malloc0");
	assert_string_equal(bdev_get_name(b), "Malloc2");
	assert_string_equal(bdev_get_name(c), "Malloc3");
}

static struct bdev_module g_claimer = { .name = "claimer" };

static void
claim_event_cb(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
}

static void
test_malloc_delete_rules(void **state)
{
	struct bdev_desc *desc = NULL;
	int rc = 1;

	create("M", 8, 512);
	assert_int_equal(malloc_disk_delete("nope", ut_rc_done, &rc), -ENODEV);
	/* A bdev of another module is not ours to delete. */
	{
		struct null_opts n;

		null_opts_init(&n, sizeof(n));
		n.name = "N";
		n.num_blocks = 8;
		n.block_size = 512;
		assert_int_equal(null_disk_create(&n, NULL), 0);
		assert_int_equal(malloc_disk_delete("N", ut_rc_done, &rc), -ENODEV);
		assert_non_null(bdev_get_by_name("N"));
	}
	/* Claimed: refused, and the bdev stays. */
	assert_int_equal(bdev_open("M", true, claim_event_cb, NULL, &desc), 0);
	assert_int_equal(bdev_module_claim_bdev(bdev_get_by_name("M"), desc, &g_claimer), 0);
	assert_int_equal(malloc_disk_delete("M", ut_rc_done, &rc), -EBUSY);
	assert_non_null(bdev_get_by_name("M"));
	bdev_module_release_bdev(bdev_get_by_name("M"));
	bdev_close(desc);
	ut_poll_threads();

	assert_int_equal(malloc_disk_delete("M", ut_rc_done, &rc), 0);
	assert_int_equal(rc, 1);        /* not before the call returns */
	ut_poll_threads();
	assert_int_equal(rc, 0);
	assert_null(bdev_get_by_name("M"));
	/* The name is free again. */
	create("M", 8, 512);
}

static void
test_malloc_hot_remove_with_open_descriptor(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(512, 1);
	int rc = 1;

	create("M", 8, 512);
	ut_open("M", true, &ev);
	ev.close_on_remove = true;
	assert_int_equal(ut_rw_buf(&ev, true, b, 0, 1), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(malloc_disk_delete("M", ut_rc_done, &rc), 0);
	ut_poll_threads();
	assert_int_equal(ev.count[BDEV_EVENT_REMOVE], 1);
	assert_int_equal(rc, 0);
	assert_null(bdev_get_by_name("M"));
	free(b);
}

static void
test_malloc_write_config_json(void **state)
{
	struct malloc_opts o;
	struct bdev *bdev = NULL;
	json_t *config = json_array(), *params;
	char uuid[UUID_STRING_LEN];

	malloc_opts_init(&o, sizeof(o));
	o.name = "Cfg";
	o.num_blocks = 256;
	o.block_size = 4096;
	o.optimal_io_boundary = 16;
	o.physical_block_size = 8192;
	assert_int_equal(uuid_parse_str(&o.uuid, "5b4e2a38-9f1d-4c55-9a3e-0d7c1f2e8a61"), 0);
	assert_int_equal(malloc_disk_create(&o, &bdev), 0);
	assert_int_equal(bdev_get_optimal_io_boundary(bdev), 16);
	bdev->fn_table->write_config_json(bdev, config);
	assert_int_equal(json_array_size(config), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(config, 0), "method")),
			    "bdev_malloc_create");
	params = json_object_get(json_array_get(config, 0), "params");
	assert_string_equal(json_string_value(json_object_get(params, "name")), "Cfg");
	assert_int_equal(json_integer_value(json_object_get(params, "num_blocks")), 256);
	assert_int_equal(json_integer_value(json_object_get(params, "block_size")), 4096);
	assert_int_equal(json_integer_value(json_object_get(params, "physical_block_size")), 8192);
	assert_int_equal(json_integer_value(json_object_get(params, "optimal_io_boundary")), 16);
	uuid_fmt_lower(uuid, sizeof(uuid), bdev_get_uuid(bdev));
	assert_string_equal(json_string_value(json_object_get(params, "uuid")),
			    "5b4e2a38-9f1d-4c55-9a3e-0d7c1f2e8a61");
	assert_string_equal(uuid, "5b4e2a38-9f1d-4c55-9a3e-0d7c1f2e8a61");
	assert_int_equal(json_integer_value(json_object_get(params, "md_size")), 0);
	assert_int_equal(json_integer_value(json_object_get(params, "dif_type")), 0);
	assert_true(json_is_false(json_object_get(params, "dif_is_head_of_md")));
	assert_int_equal(json_integer_value(json_object_get(params, "dif_pi_format")), 0);
	assert_int_equal(json_integer_value(json_object_get(params, "numa_id")), -1);
	assert_int_equal(json_object_size(params), 11);
	json_decref(config);
}

/* 1 GiB of RAM disk costs nothing until written: no hugepages, no -s. */
static void
test_malloc_one_gib_is_lazy(void **state)
{
	struct ut_events ev;
	uint8_t *b = ut_aligned(4096, 0x33), *r = ut_aligned(4096, 0);
	uint64_t blocks = (1ull << 30) / 4096;

	create("Big", blocks, 4096);
	ut_open("Big", true, &ev);
	assert_int_equal(ut_rw_buf(&ev, true, b, blocks - 1, 1), BDEV_IO_STATUS_SUCCESS);
	assert_int_equal(ut_rw_buf(&ev, false, r, blocks - 1, 1), BDEV_IO_STATUS_SUCCESS);
	assert_memory_equal(r, b, 4096);
	ut_close(&ev);
	free(b);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_malloc_round_trip_512, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_round_trip_4096, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_iovecs_split_differently, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_malloc_unmap_and_write_zeroes_zero_exactly_the_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_compare_reports_miscompare, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malloc_flush_reset_and_out_of_range, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malloc_read_without_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_create_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_auto_names_skip_used_ones, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malloc_delete_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_hot_remove_with_open_descriptor, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malloc_write_config_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_one_gib_is_lazy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
