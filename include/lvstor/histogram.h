/*
 * lib/util/histogram.c: log-linear latency histograms, cheap enough to
 * leave on in the I/O path (one clz, one shift, one increment).
 *
 * Layout (spec/rpc.md §2.2.13): with granularity g, range 0 holds the
 * values 0 .. 2^g - 1, one per bucket; range r >= 1 covers
 * 2^(g+r-1) .. 2^(g+r) - 1 in 2^g equally wide buckets. Only ranges
 * min_range..max_range are stored; smaller values count in the first
 * stored bucket, larger ones in the last. Values are ticks (or any unit).
 */
#ifndef LVSTOR_HISTOGRAM_H
#define LVSTOR_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct histogram {
	uint8_t granularity;
	uint32_t min_range;
	uint32_t max_range;
	uint64_t count;          /* values added */
	uint64_t *buckets;       /* 2^g * (max_range - min_range + 1) */
};

#define HISTOGRAM_DEFAULT_GRANULARITY 7
#define HISTOGRAM_MAX_RANGE(g) (64 - (g))   /* ranges 0 .. 64-g cover uint64 */

/* NULL on -ENOMEM or bad arguments (g > 20, min > max, max > 64-g). */
struct histogram *histogram_create(uint8_t granularity, uint32_t min_range,
				   uint32_t max_range);
void histogram_free(struct histogram *h);
size_t histogram_num_buckets(const struct histogram *h);
/* The range a value falls into (before clamping to min/max). */
uint32_t histogram_value_range(uint8_t granularity, uint64_t value);
void histogram_add(struct histogram *h, uint64_t value);
/* dst += src; both must have the same shape. 0 or -EINVAL. */
int histogram_merge(struct histogram *dst, const struct histogram *src);
void histogram_reset(struct histogram *h);
/*
 * The smallest bucket upper bound below which `pct` percent (0..100) of
 * the values lie: an upper estimate of that percentile. 0 if empty.
 */
uint64_t histogram_percentile(const struct histogram *h, double pct);
/* Lowest / highest value bucket i covers. */
uint64_t histogram_bucket_start(const struct histogram *h, size_t i);
uint64_t histogram_bucket_end(const struct histogram *h, size_t i);

#endif
