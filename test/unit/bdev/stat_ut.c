/*
 * lib/bdev statistics and histograms: counters per type summed across two
 * threads, per-channel reports, counters of destroyed channels kept, the
 * reset modes, errors by status; histograms enabled on every channel
 * (also ones created later), merged across threads, filtered by type,
 * off = -EFAULT; histogram and QoS entries in the saved configuration.
 */
#include "ut_bdev.h"

#include "lvstor/app.h"

static char g_buf[64 * 512];

struct opened {
	struct bdev_desc *desc;
	struct io_channel *ch;
};

static void
open_on(struct opened *o, int thread, const char *name)
{
	ut_set_thread(thread);
	o->desc = ut_open(name, true, NULL);
	o->ch = bdev_get_io_channel(o->desc);
}

static void
close_on(struct opened *o, int thread)
{
	ut_set_thread(thread);
	if (o->ch != NULL)
		io_channel_put(o->ch);
	bdev_close(o->desc);
	o->ch = NULL;
}

struct stat_result {
	int calls;
	struct bdev_io_stat total;
	struct bdev_io_stat chans[4];
	uint64_t thread_ids[4];
	int nchans;
	int rc;
};

static void
stat_cb(struct bdev *bdev, const struct bdev_io_stat *stat, uint64_t thread_id, int rc, void *arg)
{
	struct stat_result *r = arg;

	r->calls++;
	r->rc = rc;
	if (thread_id == UINT64_MAX) {
		r->total = *stat;
	} else {
		assert_true(r->nchans < 4);
		r->thread_ids[r->nchans] = thread_id;
		r->chans[r->nchans++] = *stat;
	}
}

static void
get_stat(struct bdev *bdev, bool per_channel, enum bdev_reset_stat_mode mode,
	 struct stat_result *r)
{
	memset(r, 0, sizeof(*r));
	ut_set_thread(0);
	bdev_get_io_stat(bdev, per_channel, mode, stat_cb, r);
	ut_poll_threads();
	assert_int_equal(r->total.num_read_ops + 1 > 0, 1);
	assert_true(r->calls >= 1);
}

static void
test_stats_summed_across_two_threads(void **state)
{
	struct opened o0, o1;
	struct ut_cpl cpl = {0};
	struct stat_result r;
	struct ut_disk *d;

	ut_bdev_setup(2, 64);
	d = ut_disk_create("d", 512, 1024, false);
	d->complete_inline = true;
	assert_int_equal(ut_disk_register(d), 0);
	open_on(&o0, 0, "d");
	open_on(&o1, 1, "d");

	ut_set_thread(0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bdev_read(o0.desc, o0.ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	ut_set_thread(1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(bdev_write(o1.desc, o1.ch, g_buf, 0, 2, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_unmap(o1.desc, o1.ch, 0, 8, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_read(o1.desc, o1.ch, g_buf, 0, 4, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	/* A failed read counts as an error, not as a read. */
	d->inline_status = BDEV_IO_STATUS_FAILED;
	assert_int_equal(bdev_read(o1.desc, o1.ch, g_buf, 0, 4, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	d->inline_status = BDEV_IO_STATUS_SUCCESS;
	assert_int_equal(cpl.calls, 8);

	get_stat(&d->bdev, false, BDEV_RESET_STAT_NONE, &r);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.total.num_read_ops, 4);
	assert_int_equal(r.total.bytes_read, 3 * 512 + 4 * 512);
	assert_int_equal(r.total.num_write_ops, 2);
	assert_int_equal(r.total.bytes_written, 2 * 1024);
	assert_int_equal(r.total.num_unmap_ops, 1);
	assert_int_equal(r.total.bytes_unmapped, 8 * 512);
	assert_int_equal(r.total.num_copy_ops, 0);
	assert_int_equal(r.total.min_copy_latency_ticks, 0);    /* none: reported 0 */
	assert_int_equal(r.total.io_error[-BDEV_IO_STATUS_FAILED], 1);
	assert_true(r.total.max_read_latency_ticks >= r.total.min_read_latency_ticks);
	assert_true(r.total.read_latency_ticks >= r.total.max_read_latency_ticks);

	/* Per channel: one report per thread, then the total. */
	get_stat(&d->bdev, true, BDEV_RESET_STAT_NONE, &r);
	assert_int_equal(r.calls, 3);
	assert_int_equal(r.nchans, 2);
	assert_int_equal(r.chans[0].num_read_ops + r.chans[1].num_read_ops, 4);
	assert_true(r.thread_ids[0] != r.thread_ids[1]);
	for (int i = 0; i < 2; i++) {
		if (r.thread_ids[i] == thread_get_id(ut_thread(0))) {
			assert_int_equal(r.chans[i].num_read_ops, 3);
		} else {
			assert_int_equal(r.thread_ids[i], thread_get_id(ut_thread(1)));
			assert_int_equal(r.chans[i].num_write_ops, 2);
		}
	}
	assert_int_equal(r.total.num_read_ops, 4);

	/* A destroyed channel's counters stay in the bdev's totals. */
	ut_set_thread(1);
	io_channel_put(o1.ch);
	o1.ch = NULL;
	ut_poll_threads();
	get_stat(&d->bdev, false, BDEV_RESET_STAT_NONE, &r);
	assert_int_equal(r.total.num_write_ops, 2);
	assert_int_equal(r.total.num_read_ops, 4);

	/* Reset modes. */
	get_stat(&d->bdev, false, BDEV_RESET_STAT_ERROR, &r);
	assert_int_equal(r.total.io_error[1], 1);
	get_stat(&d->bdev, false, BDEV_RESET_STAT_MAXMIN, &r);
	assert_int_equal(r.total.io_error[1], 0);
	assert_true(r.total.max_read_latency_ticks > 0 || r.total.read_latency_ticks == 0);
	get_stat(&d->bdev, false, BDEV_RESET_STAT_ALL, &r);
	assert_int_equal(r.total.max_read_latency_ticks, 0);
	assert_int_equal(r.total.min_read_latency_ticks, 0);
	assert_int_equal(r.total.num_read_ops, 4);
	get_stat(&d->bdev, false, BDEV_RESET_STAT_NONE, &r);
	assert_int_equal(r.total.num_read_ops, 0);
	assert_int_equal(r.total.num_write_ops, 0);

	close_on(&o0, 0);
	close_on(&o1, 1);
	ut_poll_threads();
	ut_bdev_teardown();
}

struct histo_result {
	int calls;
	int rc;
	uint64_t count;
	uint8_t granularity;
};

static void
histo_cb(void *arg, int rc, const struct histogram *h)
{
	struct histo_result *r = arg;

	r->calls++;
	r->rc = rc;
	r->count = h ? h->count : 0;
	r->granularity = h ? h->granularity : 0;
	if (h != NULL) {
		uint64_t sum = 0;

		for (size_t i = 0; i < histogram_num_buckets(h); i++)
			sum += h->buckets[i];
		assert_int_equal(sum, h->count);
	}
}

static void
enable_cb(void *arg, int rc)
{
	int *p = arg;

	p[0]++;
	p[1] = rc;
}

static void
histogram_set(struct bdev *bdev, bool enable, const struct histogram_opts *opts, int expect)
{
	int done[2] = {0, 1};

	ut_set_thread(0);
	bdev_histogram_enable(bdev, enable, opts, enable_cb, done);
	assert_int_equal(done[0], 0);
	ut_poll_threads();
	assert_int_equal(done[0], 1);
	assert_int_equal(done[1], expect);
}

static void
histogram_get(struct bdev *bdev, struct histo_result *r)
{
	memset(r, 0, sizeof(*r));
	ut_set_thread(0);
	bdev_histogram_get(bdev, histo_cb, r);
	assert_int_equal(r->calls, 0);
	ut_poll_threads();
	assert_int_equal(r->calls, 1);
}

static void
test_histogram_merged_across_threads(void **state)
{
	struct opened o0, o1, o2;
	struct ut_cpl cpl = {0};
	struct histo_result r;
	struct histogram_opts opts = {.granularity = 5, .min_nsec = 100, .max_nsec = 1000000000,
				      .io_type = -1};
	struct ut_disk *d;
	json_t *config, *e;
	size_t n;

	ut_bdev_setup(3, 64);
	d = ut_disk_create("d", 512, 1024, false);
	d->complete_inline = true;
	assert_int_equal(ut_disk_register(d), 0);
	open_on(&o0, 0, "d");
	open_on(&o1, 1, "d");

	assert_false(bdev_histogram_is_enabled(&d->bdev));
	histogram_get(&d->bdev, &r);
	assert_int_equal(r.rc, -EFAULT);

	histogram_set(&d->bdev, true, &opts, 0);
	assert_true(bdev_histogram_is_enabled(&d->bdev));
	ut_set_thread(0);
	assert_int_equal(bdev_read(o0.desc, o0.ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	assert_int_equal(bdev_read(o0.desc, o0.ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	ut_set_thread(1);
	assert_int_equal(bdev_write(o1.desc, o1.ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	/* A channel created after enabling has a histogram too. */
	open_on(&o2, 2, "d");
	assert_int_equal(bdev_write(o2.desc, o2.ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	histogram_get(&d->bdev, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.count, 4);
	assert_int_equal(r.granularity, 5);

	/* A destroyed channel's histogram still counts. */
	close_on(&o2, 2);
	ut_poll_threads();
	histogram_get(&d->bdev, &r);
	assert_int_equal(r.count, 4);

	/* Saved config: histogram (and QoS) entries before wait_for_examine. */
	{
		uint64_t l[BDEV_QOS_NUM_LIMITS] = {1000, 0, 0, 0};
		int done[2] = {0, 1};

		ut_set_thread(0);
		bdev_set_qos_limits(&d->bdev, l, enable_cb, done);
		ut_poll_threads();
		assert_int_equal(done[1], 0);
	}
	config = json_array();
	subsystem_find("bdev")->write_config(config);
	n = json_array_size(config);
	e = json_array_get(config, n - 3);
	assert_string_equal(json_string_value(json_object_get(e, "method")), "bdev_set_qos_limit");
	e = json_array_get(config, n - 2);
	assert_string_equal(json_string_value(json_object_get(e, "method")),
			    "bdev_enable_histogram");
	e = json_object_get(e, "params");
	assert_string_equal(json_string_value(json_object_get(e, "name")), "d");
	assert_true(json_is_true(json_object_get(e, "enable")));
	json_decref(config);
	{
		uint64_t l[BDEV_QOS_NUM_LIMITS] = {0, 0, 0, 0};
		int done[2] = {0, 1};

		bdev_set_qos_limits(&d->bdev, l, enable_cb, done);
		ut_poll_threads();
		assert_int_equal(done[1], 0);
	}

	/* Only one type. */
	opts.io_type = BDEV_IO_TYPE_WRITE;
	histogram_set(&d->bdev, true, &opts, 0);
	ut_set_thread(0);
	assert_int_equal(bdev_read(o0.desc, o0.ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	ut_set_thread(1);
	assert_int_equal(bdev_write(o1.desc, o1.ch, g_buf, 0, 1, ut_cpl_cb, &cpl), 0);
	ut_poll_threads();
	histogram_get(&d->bdev, &r);
	assert_int_equal(r.count, 1);

	/* Bad options are refused; defaults with NULL. */
	opts.io_type = BDEV_NUM_IO_TYPES;
	histogram_set(&d->bdev, true, &opts, -EINVAL);
	histogram_set(&d->bdev, true, NULL, 0);
	histogram_get(&d->bdev, &r);
	assert_int_equal(r.granularity, HISTOGRAM_DEFAULT_GRANULARITY);
	assert_int_equal(r.count, 0);

	histogram_set(&d->bdev, false, NULL, 0);
	assert_false(bdev_histogram_is_enabled(&d->bdev));
	histogram_get(&d->bdev, &r);
	assert_int_equal(r.rc, -EFAULT);

	close_on(&o0, 0);
	close_on(&o1, 1);
	ut_poll_threads();
	ut_bdev_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_summed_across_two_threads),
		cmocka_unit_test(test_histogram_merged_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
