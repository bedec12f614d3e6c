/*
 * lvstor-perf/pattern.c: the data the verify workload writes and expects.
 *
 * Every block carries its own identity, so a read that returns the wrong
 * block, a stale block or a torn one is caught, not just a flipped bit:
 *
 *   bytes 0..7   the block's LBA (little-endian, as the CPU stores it)
 *   bytes 8..15  the seed of the write that produced it
 *   bytes 16..   a xorshift64 stream seeded from (LBA, seed)
 *
 * The seed changes with every write a job issues (run seed + a per-job
 * generation), so data left by an earlier write of the same LBA, by an
 * earlier run or by another job does not pass for the new one. The
 * stream costs a few cycles per 8 bytes: generating and checking a 4 KiB
 * block is well under a microsecond, small against a device round trip.
 */
#include <stdint.h>
#include <string.h>

#include "perf.h"

static inline uint64_t
stream_start(uint64_t lba, uint64_t seed)
{
	/* Mix both into one non-zero state (xorshift never leaves zero). */
	uint64_t x = (lba + 1) * 0x9E3779B97F4A7C15ull ^ seed;

	x ^= x >> 31;
	return x ? x : 0x2545F4914F6CDD1Dull;
}

static inline uint64_t
stream_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

void
perf_pattern_fill(void *block, uint32_t block_size, uint64_t lba, uint64_t seed)
{
	uint64_t *w = block, x = stream_start(lba, seed);
	uint32_t n = block_size / 8;

	w[0] = lba;
	w[1] = seed;
	for (uint32_t i = 2; i < n; i++)
		w[i] = stream_next(&x);
}

long
perf_pattern_check(const void *block, uint32_t block_size, uint64_t lba, uint64_t seed)
{
	const uint64_t *w = block;
	uint64_t x = stream_start(lba, seed);
	uint32_t n = block_size / 8;

	if (w[0] != lba)
		return 0;
	if (w[1] != seed)
		return 8;
	for (uint32_t i = 2; i < n; i++) {
		if (w[i] != stream_next(&x)) {
			const uint8_t *got = (const uint8_t *)&w[i];
			uint64_t want = x;
			const uint8_t *exp = (const uint8_t *)&want;
			uint32_t b = 0;

			while (b < 8 && got[b] == exp[b])
				b++;
			return (long)i * 8 + b;
		}
	}
	return -1;
}
