/*
 * lib/util/histogram.c: log-linear histograms for I/O latencies.
 *
 * The bucket layout is the one bdev_get_histogram puts on the wire
 * (spec/rpc.md §2.2.13), so the stored array can be base64'd as is. With
 * granularity g every power-of-two range is split into 2^g buckets:
 *
 *   range 0       values 0 .. 2^g - 1           one value per bucket
 *   range r >= 1  values 2^(g+r-1) .. 2^(g+r)-1  buckets 2^(r-1) wide
 *
 * so the relative error of a bucket is at most 2^-g whatever the
 * magnitude, and ranges 0 .. 64-g cover every uint64. Range r starts at
 * global bucket index r << g (range 0 has 2^g buckets, like the others).
 * A histogram stores only ranges min_range .. max_range; its bucket i is
 * global bucket i + (min_range << g).
 *
 * Why the index needs no table and no branch that depends on the data:
 * let msb be the index of the value's highest set bit and
 * s = max(0, msb - g). For a value in range r >= 1, s = r - 1, the value
 * shifted right by s lies in [2^g, 2^(g+1)), and the global index
 * (r << g) + ((v >> (r-1)) - 2^g) equals (s << g) + (v >> s). For a value
 * in range 0, s = 0 and that same expression is v itself. So
 * histogram_add is: one clz, one max, two shifts and an add, then a clamp
 * to the stored window (values below min_range count in the first stored
 * bucket, values above max_range in the last) and an increment. It runs
 * in the I/O path on the channel's own histogram: no lock, no allocation.
 *
 * Invariant: count equals the sum of the buckets (add, merge and reset
 * keep both in step), so percentiles may use either.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/histogram.h"

/*
 * Granularity cap: 2^20 buckets per range already gives a relative error
 * below one part per million; beyond that the array (up to 45 ranges x
 * 2^20 x 8 bytes) stops being something to allocate per channel.
 */
#define HISTOGRAM_MAX_GRANULARITY 20

struct histogram *
histogram_create(uint8_t granularity, uint32_t min_range, uint32_t max_range)
{
	struct histogram *h;
	size_t n;

	if (granularity > HISTOGRAM_MAX_GRANULARITY || min_range > max_range ||
	    max_range > (uint32_t)HISTOGRAM_MAX_RANGE(granularity)) {
		return NULL;
	}
	n = ((size_t)(max_range - min_range) + 1) << granularity;
	/* One allocation: the buckets follow the header (which is 8-aligned). */
	h = calloc(1, sizeof(*h) + n * sizeof(uint64_t));
	if (h == NULL) {
		return NULL;
	}
	h->granularity = granularity;
	h->min_range = min_range;
	h->max_range = max_range;
	h->buckets = (uint64_t *)(h + 1);
	return h;
}

void
histogram_free(struct histogram *h)
{
	free(h);
}

size_t
histogram_num_buckets(const struct histogram *h)
{
	return ((size_t)(h->max_range - h->min_range) + 1) << h->granularity;
}

uint32_t
histogram_value_range(uint8_t granularity, uint64_t value)
{
	if ((value >> granularity) == 0) {
		return 0;
	}
	return 64 - (uint32_t)__builtin_clzll(value) - granularity;
}

void
histogram_add(struct histogram *h, uint64_t value)
{
	uint32_t g = h->granularity;
	uint32_t msb = 63 - (uint32_t)__builtin_clzll(value | 1);
	uint32_t s = msb > g ? msb - g : 0;
	uint64_t idx = ((uint64_t)s << g) + (value >> s);
	uint64_t lo = (uint64_t)h->min_range << g;
	uint64_t hi = (((uint64_t)h->max_range + 1) << g) - 1;

	idx = idx < lo ? lo : idx;
	idx = idx > hi ? hi : idx;
	h->buckets[idx - lo]++;
	h->count++;
}

int
histogram_merge(struct histogram *dst, const struct histogram *src)
{
	size_t i, n;

	if (dst->granularity != src->granularity || dst->min_range != src->min_range ||
	    dst->max_range != src->max_range) {
		return -EINVAL;
	}
	n = histogram_num_buckets(dst);
	for (i = 0; i < n; i++) {
		dst->buckets[i] += src->buckets[i];
	}
	dst->count += src->count;
	return 0;
}

void
histogram_reset(struct histogram *h)
{
	memset(h->buckets, 0, histogram_num_buckets(h) * sizeof(uint64_t));
	h->count = 0;
}

uint64_t
histogram_bucket_start(const struct histogram *h, size_t i)
{
	uint32_t g = h->granularity;
	uint64_t global = (uint64_t)i + ((uint64_t)h->min_range << g);
	uint64_t r = global >> g;
	uint64_t within = global & ((1ull << g) - 1);

	if (r == 0) {
		return within;
	}
	/* 2^(g+r-1) plus `within` buckets of width 2^(r-1). */
	return (1ull << (g + r - 1)) + (within << (r - 1));
}

uint64_t
histogram_bucket_end(const struct histogram *h, size_t i)
{
	uint64_t global = (uint64_t)i + ((uint64_t)h->min_range << h->granularity);
	uint64_t r = global >> h->granularity;

	/* Width 1 in range 0, 2^(r-1) above; the last one ends at UINT64_MAX. */
	return histogram_bucket_start(h, i) + (r == 0 ? 0 : (1ull << (r - 1)) - 1);
}

uint64_t
histogram_percentile(const struct histogram *h, double pct)
{
	size_t i, n = histogram_num_buckets(h);
	uint64_t total = 0, cum = 0;
	double target;

	for (i = 0; i < n; i++) {
		total += h->buckets[i];
	}
	if (total == 0) {
		return 0;
	}
	if (pct < 0) {
		pct = 0;
	} else if (pct > 100) {
		pct = 100;
	}
	target = pct / 100.0 * (double)total;
	for (i = 0; i < n; i++) {
		cum += h->buckets[i];
		/* cum > 0: pct 0 means the first bucket holding any value. */
		if (cum > 0 && (double)cum >= target) {
			return histogram_bucket_end(h, i);
		}
	}
	/* Rounding can leave target a hair above total: the last used bucket. */
	for (i = n; i > 0; i--) {
		if (h->buckets[i - 1] != 0) {
			return histogram_bucket_end(h, i - 1);
		}
	}
	return 0;
}
