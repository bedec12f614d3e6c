/*
 * Unit tests for lib/util/histogram.c.
 *
 * The layout is checked against a reference written straight from the
 * spec's wording (spec/rpc.md §2.2.13: range 0 one value per bucket,
 * range r >= 1 from 2^(g+r-1) in 2^g buckets 2^(r-1) wide), so the
 * clz/shift fast path cannot drift from what bdev_get_histogram clients
 * decode.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lvstor/histogram.h"

/* The global bucket index of v per the spec text, by walking the ranges. */
static uint64_t
ref_global_index(uint8_t g, uint64_t v)
{
	uint32_t r;

	if (v < (1ull << g)) {
		return v;
	}
	for (r = 1; r <= 64u - g; r++) {
		uint64_t lo = 1ull << (g + r - 1);
		uint64_t hi = (g + r == 64) ? UINT64_MAX : (1ull << (g + r)) - 1;

		if (v >= lo && v <= hi) {
			return ((uint64_t)r << g) + (v - lo) / (1ull << (r - 1));
		}
	}
	fail_msg("value %llu has no range", (unsigned long long)v);
	return 0;
}

static uint64_t
sum_buckets(const struct histogram *h)
{
	uint64_t s = 0;

	for (size_t i = 0; i < histogram_num_buckets(h); i++) {
		s += h->buckets[i];
	}
	return s;
}

/* Index of the only non-zero bucket, asserting there is exactly one. */
static size_t
only_bucket(const struct histogram *h)
{
	size_t found = SIZE_MAX;

	for (size_t i = 0; i < histogram_num_buckets(h); i++) {
		if (h->buckets[i] != 0) {
			assert_int_equal(found, SIZE_MAX);
			found = i;
		}
	}
	assert_int_not_equal(found, SIZE_MAX);
	return found;
}

static void
test_create_rejects_bad_shapes(void **state)
{
	struct histogram *h;

	(void)state;
	assert_null(histogram_create(21, 0, 10));
	assert_null(histogram_create(7, 5, 4));
	assert_null(histogram_create(7, 0, 58));
	assert_null(histogram_create(0, 0, 65));

	h = histogram_create(7, 0, 57);
	assert_non_null(h);
	assert_int_equal(histogram_num_buckets(h), 58 * 128);
	assert_int_equal(h->granularity, 7);
	assert_int_equal(h->min_range, 0);
	assert_int_equal(h->max_range, 57);
	assert_int_equal(h->count, 0);
	assert_int_equal(sum_buckets(h), 0);
	histogram_free(h);

	h = histogram_create(0, 0, 64);
	assert_non_null(h);
	assert_int_equal(histogram_num_buckets(h), 65);
	histogram_free(h);

	h = histogram_create(20, 3, 3);
	assert_non_null(h);
	assert_int_equal(histogram_num_buckets(h), 1u << 20);
	histogram_free(h);

	histogram_free(NULL);
}

static void
test_value_range(void **state)
{
	(void)state;
	assert_int_equal(histogram_value_range(7, 0), 0);
	assert_int_equal(histogram_value_range(7, 127), 0);
	assert_int_equal(histogram_value_range(7, 128), 1);
	assert_int_equal(histogram_value_range(7, 255), 1);
	assert_int_equal(histogram_value_range(7, 256), 2);
	assert_int_equal(histogram_value_range(7, UINT64_MAX), 57);
	assert_int_equal(histogram_value_range(0, 0), 0);
	assert_int_equal(histogram_value_range(0, 1), 1);
	assert_int_equal(histogram_value_range(0, 2), 2);
	assert_int_equal(histogram_value_range(0, UINT64_MAX), 64);
	assert_int_equal(histogram_value_range(20, (1ull << 20) - 1), 0);
	assert_int_equal(histogram_value_range(20, 1ull << 20), 1);
	assert_int_equal(histogram_value_range(20, UINT64_MAX), 44);
}

/* Interesting values: small ones, every power of two and its neighbours, random. */
static size_t
probe_values(uint64_t *out, size_t max)
{
	size_t n = 0;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (uint64_t v = 0; v < 1100 && n < max; v++) {
		out[n++] = v;
	}
	for (int b = 1; b < 64 && n + 3 <= max; b++) {
		out[n++] = (1ull << b) - 1;
		out[n++] = 1ull << b;
		out[n++] = (1ull << b) + 1;
	}
	out[n++] = UINT64_MAX;
	out[n++] = UINT64_MAX - 1;
	while (n < max) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[n++] = x >> (x & 63);
	}
	return n;
}

static void
test_add_matches_spec_layout(void **state)
{
	static const uint8_t grans[] = { 0, 1, 3, 7, 12 };
	uint64_t values[1500];
	size_t nv = probe_values(values, 1500);

	(void)state;
	for (size_t gi = 0; gi < sizeof(grans); gi++) {
		uint8_t g = grans[gi];
		struct histogram *h = histogram_create(g, 0, HISTOGRAM_MAX_RANGE(g));

		assert_non_null(h);
		for (size_t k = 0; k < nv; k++) {
			uint64_t v = values[k];
			size_t idx;

			histogram_reset(h);
			histogram_add(h, v);
			idx = only_bucket(h);
			assert_int_equal(idx, ref_global_index(g, v));
			assert_int_equal(h->buckets[idx], 1);
			assert_int_equal(h->count, 1);
			assert_true(histogram_bucket_start(h, idx) <= v);
			assert_true(histogram_bucket_end(h, idx) >= v);
			assert_int_equal(histogram_value_range(g, v), idx >> g);
		}
		histogram_free(h);
	}
}

/* A known point of the wire format: g = 7, 1000 ticks -> bucket 506. */
static void
test_wire_layout_example(void **state)
{
	struct histogram *h = histogram_create(7, 0, 57);

	(void)state;
	assert_non_null(h);
	/* 1000 is in range 3 (512..1023, width 4): (1000-512)/4 = 122; 3*128+122. */
	histogram_add(h, 1000);
	assert_int_equal(h->buckets[506], 1);
	assert_int_equal(histogram_bucket_start(h, 506), 1000);
	assert_int_equal(histogram_bucket_end(h, 506), 1003);
	histogram_add(h, 5);
	assert_int_equal(h->buckets[5], 1);
	histogram_add(h, 128);
	assert_int_equal(h->buckets[128], 1);
	assert_int_equal(h->count, 3);
	histogram_free(h);
}

static void
test_buckets_tile_the_value_space(void **state)
{
	static const uint8_t grans[] = { 0, 2, 7 };

	(void)state;
	for (size_t gi = 0; gi < sizeof(grans); gi++) {
		uint8_t g = grans[gi];
		struct histogram *h = histogram_create(g, 0, HISTOGRAM_MAX_RANGE(g));
		size_t n = histogram_num_buckets(h);

		assert_int_equal(histogram_bucket_start(h, 0), 0);
		for (size_t i = 0; i + 1 < n; i++) {
			assert_true(histogram_bucket_start(h, i) <= histogram_bucket_end(h, i));
			assert_int_equal(histogram_bucket_end(h, i) + 1,
					 histogram_bucket_start(h, i + 1));
		}
		assert_int_equal(histogram_bucket_end(h, n - 1), UINT64_MAX);
		histogram_free(h);
	}
}

static void
test_window_clamps_outliers(void **state)
{
	/* g = 7, ranges 3..10: values 512 .. 2^17 - 1 are stored exactly. */
	struct histogram *h = histogram_create(7, 3, 10);
	size_t n;

	(void)state;
	assert_non_null(h);
	n = histogram_num_buckets(h);
	assert_int_equal(n, 8 * 128);
	assert_int_equal(histogram_bucket_start(h, 0), 512);
	assert_int_equal(histogram_bucket_end(h, n - 1), (1ull << 17) - 1);

	histogram_add(h, 0);
	histogram_add(h, 511);
	assert_int_equal(h->buckets[0], 2);
	histogram_add(h, 512);
	assert_int_equal(h->buckets[0], 3);
	histogram_add(h, 1000);
	assert_int_equal(h->buckets[506 - 3 * 128], 1);
	histogram_add(h, (1ull << 17) - 1);
	assert_int_equal(h->buckets[n - 1], 1);
	histogram_add(h, 1ull << 17);
	histogram_add(h, UINT64_MAX);
	assert_int_equal(h->buckets[n - 1], 3);
	assert_int_equal(h->count, 7);
	assert_int_equal(sum_buckets(h), 7);
	histogram_free(h);
}

static void
test_merge_and_reset(void **state)
{
	struct histogram *a = histogram_create(7, 0, 57);
	struct histogram *b = histogram_create(7, 0, 57);
	struct histogram *other_g = histogram_create(6, 0, 57);
	struct histogram *other_min = histogram_create(7, 1, 57);
	struct histogram *other_max = histogram_create(7, 0, 56);

	(void)state;
	for (uint64_t v = 0; v < 10000; v += 7) {
		histogram_add(a, v);
		histogram_add(b, v * 3);
	}
	histogram_add(b, UINT64_MAX);
	assert_int_equal(histogram_merge(a, other_g), -EINVAL);
	assert_int_equal(histogram_merge(a, other_min), -EINVAL);
	assert_int_equal(histogram_merge(a, other_max), -EINVAL);
	assert_int_equal(a->count, 1429);

	assert_int_equal(histogram_merge(a, b), 0);
	assert_int_equal(a->count, 1429 * 2 + 1);
	assert_int_equal(sum_buckets(a), a->count);
	assert_int_equal(a->buckets[histogram_num_buckets(a) - 1], 1);
	/* src untouched. */
	assert_int_equal(b->count, 1430);

	histogram_reset(a);
	assert_int_equal(a->count, 0);
	assert_int_equal(sum_buckets(a), 0);
	assert_int_equal(histogram_percentile(a, 50), 0);

	histogram_free(a);
	histogram_free(b);
	histogram_free(other_g);
	histogram_free(other_min);
	histogram_free(other_max);
}

static void
test_percentiles(void **state)
{
	struct histogram *h = histogram_create(7, 0, 57);

	(void)state;
	assert_int_equal(histogram_percentile(h, 50), 0);

	/* 1..100 land one per bucket (range 0 is exact below 128). */
	for (uint64_t v = 1; v <= 100; v++) {
		histogram_add(h, v);
	}
	assert_int_equal(histogram_percentile(h, 0), 1);
	assert_int_equal(histogram_percentile(h, 1), 1);
	assert_int_equal(histogram_percentile(h, 50), 50);
	assert_int_equal(histogram_percentile(h, 99), 99);
	assert_int_equal(histogram_percentile(h, 100), 100);
	assert_int_equal(histogram_percentile(h, 150), 100);
	assert_int_equal(histogram_percentile(h, -3), 1);

	/* One slow outlier moves only the top. 1000 sits in 1000..1003. */
	histogram_add(h, 1000);
	assert_int_equal(histogram_percentile(h, 50), 51);
	assert_int_equal(histogram_percentile(h, 100), 1003);

	/* The estimate is an upper bound within 2^-g of the true value. */
	histogram_reset(h);
	for (uint64_t v = 1000000; v < 2000000; v += 10) {
		histogram_add(h, v);
	}
	{
		uint64_t p50 = histogram_percentile(h, 50);
		uint64_t truth = 1000000 + 10 * 49999;

		assert_true(p50 >= truth);
		assert_true(p50 - truth <= truth / 128);
	}
	histogram_free(h);
}

static void
test_percentile_with_clamped_window(void **state)
{
	struct histogram *h = histogram_create(7, 5, 6);

	(void)state;
	/* Everything below the window counts in its first bucket. */
	histogram_add(h, 1);
	histogram_add(h, 2);
	assert_int_equal(histogram_percentile(h, 100), histogram_bucket_end(h, 0));
	histogram_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_rejects_bad_shapes),
		cmocka_unit_test(test_value_range),
		cmocka_unit_test(test_add_matches_spec_layout),
		cmocka_unit_test(test_wire_layout_example),
		cmocka_unit_test(test_buckets_tile_the_value_space),
		cmocka_unit_test(test_window_clamps_outliers),
		cmocka_unit_test(test_merge_and_reset),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_percentile_with_clamped_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
