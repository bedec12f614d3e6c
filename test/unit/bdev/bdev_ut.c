/*
 * lib/bdev core: registration and lookup, descriptors and claims, request
 * checks, deferred completion, each I/O type, bdev_info_json, the saved
 * configuration and examine.
 */
#include "ut_bdev.h"

#include "lvstor/app.h"

static void
test_register_names_and_aliases(void **state)
{
	struct ut_disk *d1, *d2, *d3, *d4, *d5;
	const char *aliases[4];
	char uuid[UUID_STRING_LEN];
	struct bdev *b;
	int n;

	ut_bdev_setup(1, 64);
	d1 = ut_disk_create("d1", 512, 1024, false);
	assert_int_equal(ut_disk_register(d1), 0);
	assert_int_equal(g_ut_examine_config_calls, 1);
	assert_int_equal(g_ut_examine_disk_calls, 1);
	assert_ptr_equal(bdev_get_by_name("d1"), &d1->bdev);
	assert_null(bdev_get_by_name("nope"));

	/* The UUID (generated) is the first alias and finds the bdev. */
	uuid_fmt_lower(uuid, sizeof(uuid), bdev_get_uuid(&d1->bdev));
	assert_false(uuid_is_null_lv(bdev_get_uuid(&d1->bdev)));
	n = (int)bdev_get_aliases(&d1->bdev, aliases, 4);
	assert_int_equal(n, 1);
	assert_string_equal(aliases[0], uuid);
	assert_ptr_equal(bdev_get_by_name(uuid), &d1->bdev);

	/* Collisions: same name, same UUID, a name equal to another's UUID. */
	d2 = ut_disk_create("d1", 512, 1024, false);
	assert_int_equal(ut_disk_register(d2), -EEXIST);
	d3 = ut_disk_create("d3", 512, 1024, false);
	d3->bdev.uuid = d1->bdev.uuid;
	assert_int_equal(ut_disk_register(d3), -EEXIST);
	d4 = ut_disk_create(uuid, 512, 1024, false);
	assert_int_equal(ut_disk_register(d4), -EEXIST);

	/* Bad geometry. */
	d5 = ut_disk_create("d5", 100, 1024, false);
	assert_int_equal(ut_disk_register(d5), -EINVAL);
	d5->bdev.blocklen = 4096;
	d5->bdev.blockcnt = 0;
	assert_int_equal(ut_disk_register(d5), -EINVAL);
	d5->bdev.blockcnt = 8;
	assert_int_equal(ut_disk_register(d5), 0);

	/* Aliases are unique across names and aliases. */
	assert_int_equal(bdev_alias_add(&d1->bdev, "a1"), 0);
	assert_ptr_equal(bdev_get_by_name("a1"), &d1->bdev);
	assert_int_equal(bdev_alias_add(&d5->bdev, "a1"), -EEXIST);
	assert_int_equal(bdev_alias_add(&d5->bdev, "d1"), -EEXIST);
	assert_int_equal(bdev_alias_add(&d5->bdev, uuid), -EEXIST);
	n = (int)bdev_get_aliases(&d1->bdev, aliases, 4);
	assert_int_equal(n, 2);
	assert_string_equal(aliases[1], "a1");
	assert_int_equal(bdev_alias_del(&d1->bdev, "a1"), 0);
	assert_int_equal(bdev_alias_del(&d1->bdev, "a1"), -ENOENT);
	assert_null(bdev_get_by_name("a1"));

	/* Iteration in registration order. */
	b = bdev_first();
	assert_ptr_equal(b, &d1->bdev);
	b = bdev_next(b);
	assert_ptr_equal(b, &d5->bdev);
	assert_null(bdev_next(b));

	/* A bdev named by its own UUID (an lvol) has no UUID alias. */
	{
		struct ut_disk *d6 = ut_disk_create("x", 512, 8, false);
		char u6[UUID_STRING_LEN];

		uuid_generate_random_lv(&d6->bdev.uuid);
		uuid_fmt_lower(u6, sizeof(u6), &d6->bdev.uuid);
		snprintf(d6->name, sizeof(d6->name), "%s", u6);
		assert_int_equal(ut_disk_register(d6), 0);
		assert_int_equal(bdev_get_aliases(&d6->bdev, aliases, 4), 0);
		assert_ptr_equal(bdev_get_by_name(u6), &d6->bdev);
	}

	/* Unregistration frees the name. */
	ut_disk_destroy(d1);
	assert_int_equal(d1->destruct_calls, 1);
	assert_null(bdev_get_by_name("d1"));
	assert_null(bdev_get_by_name(uuid));
	assert_int_equal(ut_disk_register(d2), 0);
	ut_bdev_teardown();
}

static void
test_open_read_only_and_claims(void **state)
{
	struct ut_disk *d;
	struct bdev_desc *ro, *rw, *rw2, *tmp;
	struct io_channel *ch;
	struct ut_cpl cpl = {0};
	char buf[512];

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, false);
	d->complete_inline = true;
	assert_int_equal(ut_disk_register(d), 0);
	assert_int_equal(bdev_open("nope", false, ut_event_cb, NULL, &tmp), -ENODEV);
	assert_int_equal(bdev_open("d", false, NULL, NULL, &tmp), -EINVAL);

	ro = ut_open("d", false, NULL);
	assert_false(bdev_desc_is_writable(ro));
	assert_ptr_equal(bdev_desc_get_bdev(ro), &d->bdev);
	ch = bdev_get_io_channel(ro);
	assert_non_null(ch);
	assert_int_equal(bdev_write(ro, ch, buf, 0, 1, ut_cpl_cb, &cpl), -EBADF);
	assert_int_equal(bdev_writev(ro, ch, &(struct iovec){buf, 512}, 1, 0, 1, ut_cpl_cb, &cpl),
			 -EBADF);
	assert_int_equal(bdev_unmap(ro, ch, 0, 1, ut_cpl_cb, &cpl), -EBADF);
	assert_int_equal(bdev_write_zeroes(ro, ch, 0, 1, ut_cpl_cb, &cpl), -EBADF);
	assert_int_equal(bdev_flush(ro, ch, 0, 1, ut_cpl_cb, &cpl), -EBADF);
	assert_int_equal(bdev_read(ro, ch, buf, 0, 1, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);

	/* A claim needs a writable descriptor and no other writer. */
	rw = ut_open("d", true, NULL);
	assert_int_equal(bdev_module_claim_bdev(&d->bdev, ro, &g_ut_module), -EPERM);
	rw2 = ut_open("d", true, NULL);
	assert_int_equal(bdev_module_claim_bdev(&d->bdev, rw, &g_ut_module), -EPERM);
	bdev_close(rw2);
	assert_int_equal(bdev_module_claim_bdev(&d->bdev, rw, &g_ut_module), 0);
	assert_true(bdev_is_claimed(&d->bdev));
	assert_ptr_equal(bdev_get_claim_module(&d->bdev), &g_ut_module);
	assert_string_equal(bdev_get_claim_type(&d->bdev), "exclusive_write");
	assert_int_equal(bdev_module_claim_bdev(&d->bdev, rw, &g_ut_module), -EPERM);
	/* Other writers are refused while it holds; readers are fine. */
	assert_int_equal(bdev_open("d", true, ut_event_cb, NULL, &tmp), -EPERM);
	tmp = ut_open("d", false, NULL);
	bdev_close(tmp);
	bdev_module_release_bdev(&d->bdev);
	assert_false(bdev_is_claimed(&d->bdev));
	assert_null(bdev_get_claim_type(&d->bdev));
	tmp = ut_open("d", true, NULL);
	bdev_close(tmp);

	/* Closing the claiming descriptor releases the claim. */
	assert_int_equal(bdev_module_claim_bdev(&d->bdev, rw, &g_ut_module), 0);
	bdev_close(rw);
	assert_false(bdev_is_claimed(&d->bdev));

	io_channel_put(ch);
	bdev_close(ro);
	ut_poll_threads();
	ut_bdev_teardown();
}

static void
test_request_checks(void **state)
{
	struct ut_disk *d, *a;
	struct bdev_desc *desc, *adesc;
	struct io_channel *ch, *ach;
	struct ut_cpl cpl = {0};
	static char buf[8192] __attribute__((aligned(4096)));
	struct iovec iov[2] = {{buf, 512}, {buf + 512, 512}};

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, false);
	d->complete_inline = true;
	d->supported[BDEV_IO_TYPE_UNMAP] = false;
	d->supported[BDEV_IO_TYPE_COMPARE] = false;
	assert_int_equal(ut_disk_register(d), 0);
	desc = ut_open("d", true, NULL);
	ch = bdev_get_io_channel(desc);

	assert_int_equal(bdev_read(desc, ch, buf, 64, 1, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_read(desc, ch, buf, 63, 2, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_read(desc, ch, buf, 0, 0, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_read(desc, ch, buf, UINT64_MAX, 2, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_write(desc, ch, NULL, 0, 1, ut_cpl_cb, &cpl), -EINVAL);
	/* iovecs must add up to the blocks exactly. */
	assert_int_equal(bdev_readv(desc, ch, iov, 2, 0, 1, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_readv(desc, ch, iov, 1, 0, 2, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_readv(desc, ch, iov, 0, 0, 1, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_readv(desc, ch, NULL, 1, 0, 1, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_unmap(desc, ch, 0, 65, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_write_zeroes(desc, ch, 60, 5, ut_cpl_cb, &cpl), -EINVAL);
	assert_int_equal(bdev_flush(desc, ch, 0, 65, ut_cpl_cb, &cpl), -EINVAL);
	/* Types the back end lacks. */
	assert_int_equal(bdev_unmap(desc, ch, 0, 1, ut_cpl_cb, &cpl), -ENOTSUP);
	assert_int_equal(bdev_comparev(desc, ch, iov, 1, 0, 1, ut_cpl_cb, &cpl), -ENOTSUP);
	assert_false(bdev_io_type_supported(&d->bdev, BDEV_IO_TYPE_UNMAP));
	assert_int_equal(cpl.calls, 0);
	assert_int_equal(g_ut_nlog, 0);
	/* The good ones go through. */
	assert_int_equal(bdev_readv(desc, ch, iov, 2, 62, 2, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_flush(desc, ch, 0, 64, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 2);

	/* Buffer alignment the back end asks for: buffers off it are no error,
	 * they go through bounce buffers (bounce_ut.c has the details). */
	a = ut_disk_create("a", 512, 64, false);
	a->complete_inline = true;
	a->bdev.required_alignment = 4096;
	assert_int_equal(ut_disk_register(a), 0);
	assert_int_equal(bdev_get_buf_align(&a->bdev), 4096);
	adesc = ut_open("a", true, NULL);
	ach = bdev_get_io_channel(adesc);
	assert_int_equal(bdev_read(adesc, ach, buf + 512, 0, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_readv(adesc, ach, iov, 2, 0, 2, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_read(adesc, ach, buf, 0, 1, ut_cpl_cb, &cpl), 0);
	/* The length checks still come first. */
	assert_int_equal(bdev_readv(adesc, ach, iov, 2, 0, 1, ut_cpl_cb, &cpl), -EINVAL);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 5);
	assert_true(cpl.success);

	io_channel_put(ach);
	bdev_close(adesc);
	io_channel_put(ch);
	bdev_close(desc);
	ut_poll_threads();
	ut_bdev_teardown();
}

/* ---- deferred completion ---- */

static int g_depth, g_max_depth, g_resubmits;
static struct bdev_desc *g_desc;
static struct io_channel *g_ch;
static char g_buf[4096];

static void
resubmit_cb(struct bdev_io *io, bool success, void *arg)
{
	g_depth++;
	if (g_depth > g_max_depth)
		g_max_depth = g_depth;
	bdev_free_io(io);
	if (g_resubmits > 0) {
		g_resubmits--;
		assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, resubmit_cb, NULL), 0);
	}
	g_depth--;
}

static void
test_callback_never_before_submit_returns(void **state)
{
	struct ut_disk *d;
	struct ut_cpl cpl = {0};

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, false);
	d->complete_inline = true;
	assert_int_equal(ut_disk_register(d), 0);
	g_desc = ut_open("d", true, NULL);
	g_ch = bdev_get_io_channel(g_desc);

	/* The module completes inside submit_request: the user hears later. */
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(cpl.calls, 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);

	/* Failure status travels. */
	d->inline_status = BDEV_IO_STATUS_FAILED;
	assert_int_equal(bdev_write(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(cpl.calls, 1);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 2);
	assert_false(cpl.success);
	assert_int_equal(cpl.status, BDEV_IO_STATUS_FAILED);

	/* A callback resubmitting to an inline module does not recurse. */
	d->inline_status = BDEV_IO_STATUS_SUCCESS;
	g_resubmits = 1000;
	g_max_depth = 0;
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, resubmit_cb, NULL), 0);
	ut_poll_threads();
	assert_int_equal(g_resubmits, 0);
	assert_int_equal(g_max_depth, 1);

	/* A module completing later (outside any submit) calls back at once. */
	d->complete_inline = false;
	assert_int_equal(bdev_read(g_desc, g_ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(ut_pending_count(), 1);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 2);
	assert_int_equal(ut_complete(-1, BDEV_IO_STATUS_SUCCESS), 1);
	assert_int_equal(cpl.calls, 3);
	assert_true(cpl.success);

	io_channel_put(g_ch);
	bdev_close(g_desc);
	ut_poll_threads();
	ut_bdev_teardown();
}

/* ---- each I/O type ---- */

static void
test_io_types_reach_the_module(void **state)
{
	struct ut_disk *d;
	struct bdev_desc *desc;
	struct io_channel *ch;
	struct ut_cpl cpl = {0};
	static uint8_t wbuf[4 * 512], rbuf[4 * 512];
	struct iovec iov = {rbuf, sizeof(rbuf)};

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 64, true);
	d->complete_inline = true;
	assert_int_equal(ut_disk_register(d), 0);
	desc = ut_open("d", true, NULL);
	ch = bdev_get_io_channel(desc);

	memset(wbuf, 0xa5, sizeof(wbuf));
	assert_int_equal(bdev_write(desc, ch, wbuf, 8, 4, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_readv(desc, ch, &iov, 1, 8, 4, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 2);
	assert_memory_equal(wbuf, rbuf, sizeof(rbuf));
	assert_int_equal(g_ut_log[0].type, BDEV_IO_TYPE_WRITE);
	assert_int_equal(g_ut_log[0].offset, 8);
	assert_int_equal(g_ut_log[0].num, 4);
	assert_int_equal(g_ut_log[1].type, BDEV_IO_TYPE_READ);

	/* Native write_zeroes. */
	assert_int_equal(bdev_write_zeroes(desc, ch, 8, 2, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(g_ut_log[2].type, BDEV_IO_TYPE_WRITE_ZEROES);
	assert_int_equal(g_ut_log[2].iovcnt, 0);
	assert_true(cpl.success);
	assert_int_equal(d->data[8 * 512], 0);
	assert_int_equal(d->data[10 * 512], 0xa5);

	assert_int_equal(bdev_unmap(desc, ch, 10, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_flush(desc, ch, 0, 64, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_comparev(desc, ch, &iov, 1, 8, 4, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_reset(desc, ch, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 7);
	assert_int_equal(g_ut_log[3].type, BDEV_IO_TYPE_UNMAP);
	assert_int_equal(g_ut_log[4].type, BDEV_IO_TYPE_FLUSH);
	assert_int_equal(g_ut_log[5].type, BDEV_IO_TYPE_COMPARE);
	assert_int_equal(g_ut_log[6].type, BDEV_IO_TYPE_RESET);

	/* Compare's miscompare reaches the user as a failure with its status. */
	d->inline_status = BDEV_IO_STATUS_MISCOMPARE;
	assert_int_equal(bdev_comparev(desc, ch, &iov, 1, 8, 4, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	assert_false(cpl.success);
	assert_int_equal(cpl.status, BDEV_IO_STATUS_MISCOMPARE);

	io_channel_put(ch);
	bdev_close(desc);
	ut_poll_threads();
	ut_bdev_teardown();
}

static void
test_write_zeroes_emulated_with_writes(void **state)
{
	struct ut_disk *d;
	struct bdev_desc *desc;
	struct io_channel *ch;
	struct ut_cpl cpl = {0};
	uint64_t blocks = 3 * 2048 + 100;     /* 3 MiB + 100 blocks of 512 */

	ut_bdev_setup(1, 64);
	d = ut_disk_create("d", 512, 8192, true);
	d->complete_inline = true;
	d->supported[BDEV_IO_TYPE_WRITE_ZEROES] = false;
	memset(d->data, 0xff, 8192 * 512);
	assert_int_equal(ut_disk_register(d), 0);
	assert_true(bdev_io_type_supported(&d->bdev, BDEV_IO_TYPE_WRITE_ZEROES));
	desc = ut_open("d", true, NULL);
	ch = bdev_get_io_channel(desc);

	assert_int_equal(bdev_write_zeroes(desc, ch, 10, blocks, ut_cpl_cb, &cpl), 0);
	assert_int_equal(cpl.calls, 0);
	ut_poll_threads();
	assert_int_equal(cpl.calls, 1);
	assert_true(cpl.success);
	/* Writes of at most the 1 MiB zero buffer, in order, covering the range. */
	assert_int_equal(g_ut_nlog, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g_ut_log[i].type, BDEV_IO_TYPE_WRITE);
		assert_int_equal(g_ut_log[i].offset, 10 + (uint64_t)i * 2048);
		assert_int_equal(g_ut_log[i].num, i < 3 ? 2048 : 100);
		assert_int_equal(g_ut_log[i].iovcnt, 1);
	}
	assert_int_equal(d->data[9 * 512 + 511], 0xff);
	for (uint64_t b = 10; b < 10 + blocks; b++)
		assert_int_equal(d->data[b * 512], 0);
	assert_int_equal(d->data[(10 + blocks) * 512], 0xff);

	io_channel_put(ch);
	bdev_close(desc);
	ut_poll_threads();
	ut_bdev_teardown();
}

/* ---- bdev_get_bdevs' object, saved config ---- */

static void
dump_info(void *ctx, json_t *ds)
{
	json_object_set_new(ds, "ut", json_true());
}

static void
write_config(struct bdev *bdev, json_t *config)
{
	json_array_append_new(config, json_pack("{s:s, s:{s:s}}", "method", "ut_create",
						"params", "name", bdev->name));
}

static void
test_info_json_matches_spec(void **state)
{
	static const char *const keys[] = {
		"name", "aliases", "product_name", "block_size", "num_blocks",
		"preferred_write_alignment", "preferred_write_granularity", "optimal_write_size",
		"preferred_unmap_alignment", "preferred_unmap_granularity", "uuid", "numa_id",
		"assigned_rate_limits", "claimed", "zoned", "supported_io_types", "driver_specific",
	};
	static const char *const types[] = {
		"read", "write", "unmap", "flush", "reset", "nvme_admin", "nvme_io", "nvme_io_md",
		"write_zeroes", "zcopy", "get_zone_info", "zone_management", "zone_append",
		"compare", "compare_and_write", "abort", "seek_hole", "seek_data", "copy",
		"nvme_iov_md", "nvme_nssr", "write_uncorrectable",
	};
	struct bdev_fn_table fn = g_ut_fn_table;
	struct ut_disk *d;
	struct bdev_desc *desc;
	json_t *o, *io, *config;
	const char *key;
	json_t *val;
	size_t i = 0;
	char uuid[UUID_STRING_LEN];

	ut_bdev_setup(1, 64);
	d = ut_disk_create("Malloc0", 512, 131072, false);
	d->supported[BDEV_IO_TYPE_WRITE_ZEROES] = false;
	fn.dump_info_json = dump_info;
	fn.write_config_json = write_config;
	d->bdev.fn_table = &fn;
	assert_int_equal(ut_disk_register(d), 0);
	uuid_fmt_lower(uuid, sizeof(uuid), bdev_get_uuid(&d->bdev));

	o = bdev_info_json(&d->bdev);
	json_object_foreach(o, key, val) {
		assert_true(i < COUNTOF(keys));
		assert_string_equal(key, keys[i]);
		i++;
	}
	assert_int_equal(i, COUNTOF(keys));
	assert_string_equal(json_string_value(json_object_get(o, "name")), "Malloc0");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "aliases"), 0)),
			    uuid);
	assert_string_equal(json_string_value(json_object_get(o, "uuid")), uuid);
	assert_string_equal(json_string_value(json_object_get(o, "product_name")), "UT disk");
	assert_int_equal(json_integer_value(json_object_get(o, "num_blocks")), 131072);
	assert_int_equal(json_integer_value(json_object_get(o, "numa_id")), 0);
	assert_true(json_is_false(json_object_get(o, "claimed")));
	assert_true(json_is_false(json_object_get(o, "zoned")));
	io = json_object_get(o, "supported_io_types");
	i = 0;
	json_object_foreach(io, key, val) {
		assert_string_equal(key, types[i]);
		i++;
	}
	assert_int_equal(i, 22);
	assert_true(json_is_true(json_object_get(io, "write_zeroes")));   /* emulated */
	assert_true(json_is_false(json_object_get(io, "zcopy")));
	assert_true(json_is_true(json_object_get(json_object_get(o, "driver_specific"), "ut")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o,
			 "assigned_rate_limits"), "rw_mbytes_per_sec")), 0);
	json_decref(o);

	/* Claimed: claimed true and claim_type right after it. */
	desc = ut_open("Malloc0", true, NULL);
	assert_int_equal(bdev_module_claim_bdev(&d->bdev, desc, &g_ut_module), 0);
	o = bdev_info_json(&d->bdev);
	i = 0;
	json_object_foreach(o, key, val) {
		if (strcmp(key, "claimed") == 0) {
			assert_true(json_is_true(val));
			i = 1;
		} else if (i == 1) {
			assert_string_equal(key, "claim_type");
			assert_string_equal(json_string_value(val), "exclusive_write");
			i = 2;
		}
	}
	assert_int_equal(i, 2);
	json_decref(o);
	bdev_close(desc);

	/* Saved config: the bdev's creation call, bdev_wait_for_examine last. */
	config = json_array();
	subsystem_find("bdev")->write_config(config);
	assert_true(json_array_size(config) >= 2);
	val = json_array_get(config, json_array_size(config) - 2);
	assert_string_equal(json_string_value(json_object_get(val, "method")), "ut_create");
	val = json_array_get(config, json_array_size(config) - 1);
	assert_string_equal(json_string_value(json_object_get(val, "method")),
			    "bdev_wait_for_examine");
	assert_null(json_object_get(val, "params"));
	json_decref(config);

	ut_bdev_teardown();
}

/* ---- examine ---- */

static void
examined(void *arg)
{
	(*(int *)arg)++;
}

static void
test_wait_for_examine(void **state)
{
	struct ut_disk *d1, *d2;
	int waited = 0;

	ut_bdev_setup(1, 64);
	/* Nothing pending: still called back later, not inside. */
	bdev_wait_for_examine(examined, &waited);
	assert_int_equal(waited, 0);
	ut_poll_threads();
	assert_int_equal(waited, 1);

	g_ut_examine_hold = true;
	d1 = ut_disk_create("d1", 512, 64, false);
	d2 = ut_disk_create("d2", 512, 64, false);
	assert_int_equal(ut_disk_register(d1), 0);
	assert_int_equal(ut_disk_register(d2), 0);
	assert_int_equal(g_ut_examine_held, 2);
	bdev_wait_for_examine(examined, &waited);
	ut_poll_threads();
	assert_int_equal(waited, 1);
	bdev_module_examine_done(&g_ut_module);
	ut_poll_threads();
	assert_int_equal(waited, 1);
	bdev_module_examine_done(&g_ut_module);
	assert_int_equal(waited, 1);
	ut_poll_threads();
	assert_int_equal(waited, 2);
	ut_bdev_teardown();
}

/*
 * bdev_examine with automatic examination off: a bdev is examined only when
 * named -- at once when it exists, at registration when it comes later (by
 * name or by an alias such as its UUID); naming it twice is -EEXIST; with
 * automatic examination on it is -EINVAL. The list is saved in the config
 * before the bdevs, and wait_for_examine covers examinations it starts.
 */
static void
test_examine_by_name_with_auto_examine_off(void **state)
{
	struct bdev_opts opts;
	struct ut_disk *d1, *d2, *d3;
	json_t *config, *e;
	int waited = 0;
	const char *u3 = "5b4e2a38-9f1d-4c55-9a3e-0d7c1f2e8a61";

	bdev_get_opts(&opts, sizeof(opts));
	opts.bdev_auto_examine = false;
	assert_int_equal(bdev_set_opts(&opts), 0);
	ut_bdev_setup(1, 64);

	d1 = ut_disk_create("d1", 512, 64, false);
	assert_int_equal(ut_disk_register(d1), 0);
	assert_int_equal(g_ut_examine_config_calls, 0);
	assert_int_equal(g_ut_examine_disk_calls, 0);

	g_ut_examine_hold = true;
	assert_int_equal(bdev_examine("d1"), 0);
	assert_int_equal(g_ut_examine_config_calls, 1);
	assert_int_equal(g_ut_examine_disk_calls, 1);
	assert_int_equal(bdev_wait_for_examine(examined, &waited), 0);
	ut_poll_threads();
	assert_int_equal(waited, 0);        /* d1's examine_disk has not reported */
	bdev_module_examine_done(&g_ut_module);
	ut_poll_threads();
	assert_int_equal(waited, 1);
	g_ut_examine_hold = false;
	assert_int_equal(bdev_examine("d1"), -EEXIST);
	assert_int_equal(g_ut_examine_disk_calls, 1);

	/* Not there yet: examined when it registers. */
	assert_int_equal(bdev_examine("d2"), 0);
	assert_int_equal(g_ut_examine_disk_calls, 1);
	d2 = ut_disk_create("d2", 512, 64, false);
	assert_int_equal(ut_disk_register(d2), 0);
	assert_int_equal(g_ut_examine_disk_calls, 2);

	/* By alias: the UUID string. */
	assert_int_equal(bdev_examine(u3), 0);
	d3 = ut_disk_create("d3", 512, 64, false);
	assert_int_equal(uuid_parse_str(&d3->bdev.uuid, u3), 0);
	assert_int_equal(ut_disk_register(d3), 0);
	assert_int_equal(g_ut_examine_disk_calls, 3);

	/* Saved: right after bdev_set_options, in the order given. */
	config = json_array();
	subsystem_find("bdev")->write_config(config);
	e = json_array_get(config, 0);
	assert_string_equal(json_string_value(json_object_get(e, "method")), "bdev_set_options");
	assert_true(json_is_false(json_object_get(json_object_get(e, "params"),
						  "bdev_auto_examine")));
	e = json_array_get(config, 1);
	assert_string_equal(json_string_value(json_object_get(e, "method")), "bdev_examine");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "params"),
							      "name")), "d1");
	e = json_array_get(config, 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "params"),
							      "name")), u3);
	json_decref(config);
	ut_bdev_teardown();

	/* The list went with bdev_finish; with automatic examination on: -EINVAL. */
	opts.bdev_auto_examine = true;
	assert_int_equal(bdev_set_opts(&opts), 0);
	ut_bdev_setup(1, 64);
	assert_int_equal(bdev_examine("d1"), -EINVAL);
	d1 = ut_disk_create("d1", 512, 64, false);
	assert_int_equal(ut_disk_register(d1), 0);
	assert_int_equal(g_ut_examine_disk_calls, 1);
	ut_bdev_teardown();
}

static void
test_options_and_io_type_names(void **state)
{
	struct bdev_opts opts;

	assert_string_equal(bdev_io_type_name(BDEV_IO_TYPE_WRITE_ZEROES), "write_zeroes");
	assert_string_equal(bdev_io_type_name(BDEV_IO_TYPE_WRITE_UNCORRECTABLE),
			    "write_uncorrectable");
	assert_null(bdev_io_type_name(BDEV_NUM_IO_TYPES));
	assert_int_equal(bdev_io_type_parse("unmap"), BDEV_IO_TYPE_UNMAP);
	assert_int_equal(bdev_io_type_parse("bogus"), -EINVAL);

	ut_bdev_setup(1, 64);
	bdev_get_opts(&opts, sizeof(opts));
	assert_int_equal(opts.bdev_io_pool_size, 64);
	assert_int_equal(bdev_set_opts(&opts), -EPERM);
	ut_bdev_teardown();
	opts.bdev_io_pool_size = 1;
	assert_int_equal(bdev_set_opts(&opts), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_names_and_aliases),
		cmocka_unit_test(test_open_read_only_and_claims),
		cmocka_unit_test(test_request_checks),
		cmocka_unit_test(test_callback_never_before_submit_returns),
		cmocka_unit_test(test_io_types_reach_the_module),
		cmocka_unit_test(test_write_zeroes_emulated_with_writes),
		cmocka_unit_test(test_info_json_matches_spec),
		cmocka_unit_test(test_wait_for_examine),
		cmocka_unit_test(test_examine_by_name_with_auto_examine_off),
		cmocka_unit_test(test_options_and_io_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
