/*
 * CPU sets: which cores a reactor, thread or controller may use.
 * Parsed from the three spellings users type: "0x3", "[0,1,4-6]", "0-1".
 */
#ifndef LVSTOR_CPUSET_H
#define LVSTOR_CPUSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPUSET_MAX_CPUS 1024

struct cpuset {
	uint64_t bits[CPUSET_MAX_CPUS / 64];
};

void cpuset_zero(struct cpuset *set);
void cpuset_set(struct cpuset *set, uint32_t cpu, bool on);
bool cpuset_get(const struct cpuset *set, uint32_t cpu);
uint32_t cpuset_count(const struct cpuset *set);
bool cpuset_equal(const struct cpuset *a, const struct cpuset *b);
bool cpuset_is_subset(const struct cpuset *sub, const struct cpuset *super);
void cpuset_and(struct cpuset *dst, const struct cpuset *src);
void cpuset_or(struct cpuset *dst, const struct cpuset *src);
/* Lowest cpu in the set at or after `from`, UINT32_MAX if none. */
uint32_t cpuset_next(const struct cpuset *set, uint32_t from);

/*
 * Parses "0x1f" / "1f" (hex mask), "[0,2-3]" (list with ranges) or "0-3"
 * / "2" (bare list). Returns 0 or -EINVAL (empty, malformed, cpu >= 1024).
 */
int cpuset_parse(struct cpuset *set, const char *str);

/* Hex mask without "0x", e.g. "3" (what the RPCs print). */
const char *cpuset_fmt(const struct cpuset *set, char *buf, size_t len);

#endif
