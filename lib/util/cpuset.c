/*
 * lib/util/cpuset.c: CPU sets and the three spellings users type for them.
 *
 *   "0x3", "0X1f", "3"   hexadecimal mask, bit n = cpu n. A bare string of
 *                        hex digits is a mask, as with SPDK's -m: "2" is
 *                        cpu 1, not cpu 2.
 *   "[0,1,4-6]"          bracketed list with inclusive ranges.
 *   "0-1", "0,3"         bare list; told apart from a mask by its ',' or '-'.
 *
 * An empty set is an error: nothing can run on no core.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lvstor/cpuset.h"

void
cpuset_zero(struct cpuset *set)
{
	memset(set, 0, sizeof(*set));
}

void
cpuset_set(struct cpuset *set, uint32_t cpu, bool on)
{
	if (cpu >= CPUSET_MAX_CPUS)
		return;
	if (on)
		set->bits[cpu / 64] |= 1ull << (cpu % 64);
	else
		set->bits[cpu / 64] &= ~(1ull << (cpu % 64));
}

bool
cpuset_get(const struct cpuset *set, uint32_t cpu)
{
	return cpu < CPUSET_MAX_CPUS && ((set->bits[cpu / 64] >> (cpu % 64)) & 1);
}

uint32_t
cpuset_count(const struct cpuset *set)
{
	uint32_t n = 0;

	for (size_t i = 0; i < CPUSET_MAX_CPUS / 64; i++)
		n += (uint32_t)__builtin_popcountll(set->bits[i]);
	return n;
}

bool
cpuset_equal(const struct cpuset *a, const struct cpuset *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

bool
cpuset_is_subset(const struct cpuset *sub, const struct cpuset *super)
{
	for (size_t i = 0; i < CPUSET_MAX_CPUS / 64; i++) {
		if (sub->bits[i] & ~super->bits[i])
			return false;
	}
	return true;
}

void
cpuset_and(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < CPUSET_MAX_CPUS / 64; i++)
		dst->bits[i] &= src->bits[i];
}

void
cpuset_or(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < CPUSET_MAX_CPUS / 64; i++)
		dst->bits[i] |= src->bits[i];
}

uint32_t
cpuset_next(const struct cpuset *set, uint32_t from)
{
	for (uint32_t cpu = from; cpu < CPUSET_MAX_CPUS; cpu++) {
		uint64_t word = set->bits[cpu / 64] >> (cpu % 64);

		if (word == 0) {
			cpu = (cpu / 64) * 64 + 63;
			continue;
		}
		return cpu + (uint32_t)__builtin_ctzll(word);
	}
	return UINT32_MAX;
}

static int
parse_hex_mask(struct cpuset *set, const char *s)
{
	size_t len = strlen(s);

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[len - 1 - i];
		int v;

		if (!isxdigit((unsigned char)c))
			return -EINVAL;
		v = isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
		for (int b = 0; b < 4; b++) {
			if (!(v & (1 << b)))
				continue;
			if (i * 4 + (size_t)b >= CPUSET_MAX_CPUS)
				return -EINVAL;
			cpuset_set(set, (uint32_t)(i * 4 + (size_t)b), true);
		}
	}
	return 0;
}

static int
parse_number(const char **p, uint32_t *out)
{
	unsigned long v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v >= CPUSET_MAX_CPUS)
			return -EINVAL;
		s++;
	}
	*out = (uint32_t)v;
	*p = s;
	return 0;
}

/* "0,2-3" up to `end` (exclusive). */
static int
parse_list(struct cpuset *set, const char *s, const char *end)
{
	while (s < end) {
		uint32_t lo, hi;

		while (s < end && isspace((unsigned char)*s))
			s++;
		if (parse_number(&s, &lo) != 0)
			return -EINVAL;
		hi = lo;
		if (s < end && *s == '-') {
			s++;
			if (parse_number(&s, &hi) != 0 || hi < lo)
				return -EINVAL;
		}
		for (uint32_t c = lo; c <= hi; c++)
			cpuset_set(set, c, true);
		while (s < end && isspace((unsigned char)*s))
			s++;
		if (s < end) {
			if (*s != ',' || s + 1 == end)
				return -EINVAL;
			s++;
		}
	}
	return 0;
}

int
cpuset_parse(struct cpuset *set, const char *str)
{
	size_t len;
	int rc;

	cpuset_zero(set);
	if (str == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*str))
		str++;
	len = strlen(str);
	while (len > 0 && isspace((unsigned char)str[len - 1]))
		len--;
	if (len == 0)
		return -EINVAL;
	if (str[0] == '[') {
		if (str[len - 1] != ']' || len < 3)
			return -EINVAL;
		rc = parse_list(set, str + 1, str + len - 1);
	} else if (len > 2 && str[0] == '0' && (str[1] == 'x' || str[1] == 'X')) {
		char buf[CPUSET_MAX_CPUS / 4 + 1];

		if (len - 2 >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, str + 2, len - 2);
		buf[len - 2] = '\0';
		rc = parse_hex_mask(set, buf);
	} else if (strpbrk(str, ",-") != NULL) {
		rc = parse_list(set, str, str + len);
	} else {
		char buf[CPUSET_MAX_CPUS / 4 + 1];

		if (len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, str, len);
		buf[len] = '\0';
		rc = parse_hex_mask(set, buf);
	}
	if (rc == 0 && cpuset_count(set) == 0)
		rc = -EINVAL;
	if (rc != 0)
		cpuset_zero(set);
	return rc;
}

const char *
cpuset_fmt(const struct cpuset *set, char *buf, size_t len)
{
	int top = -1;
	size_t pos = 0;

	for (int i = CPUSET_MAX_CPUS / 4 - 1; i >= 0; i--) {
		if ((set->bits[i / 16] >> ((i % 16) * 4)) & 0xf) {
			top = i;
			break;
		}
	}
	if (len == 0)
		return buf;
	if (top < 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	for (int i = top; i >= 0 && pos + 1 < len; i--) {
		unsigned v = (unsigned)((set->bits[i / 16] >> ((i % 16) * 4)) & 0xf);

		buf[pos++] = "0123456789abcdef"[v];
	}
	buf[pos] = '\0';
	return buf;
}
