/*
 * Unit tests for lib/util/cpuset.c: the three spellings, errors, fmt and
 * set operations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lvstor/cpuset.h"
#include "lvstor/util.h"

/* Parses `str` and checks the set holds exactly `cpus`. */
static void
check_parse(const char *str, const uint32_t *cpus, size_t n)
{
	struct cpuset set, want;

	cpuset_zero(&want);
	for (size_t i = 0; i < n; i++)
		cpuset_set(&want, cpus[i], true);
	memset(&set, 0xa5, sizeof(set));
	assert_int_equal(cpuset_parse(&set, str), 0);
	assert_int_equal(cpuset_count(&set), n);
	for (size_t i = 0; i < n; i++)
		assert_true(cpuset_get(&set, cpus[i]));
	assert_true(cpuset_equal(&set, &want));
}

#define CHECK_PARSE(str, ...) do { \
	const uint32_t cpus_[] = { __VA_ARGS__ }; \
	check_parse(str, cpus_, COUNTOF(cpus_)); \
} while (0)

static void
test_parse_hex(void **state)
{
	CHECK_PARSE("0x3", 0, 1);
	CHECK_PARSE("0x1", 0);
	CHECK_PARSE("0X1F", 0, 1, 2, 3, 4);
	CHECK_PARSE("0x1f", 0, 1, 2, 3, 4);
	CHECK_PARSE("0xAa", 1, 3, 5, 7);
	/* A bare string of hex digits is a mask: "3" is cpus 0 and 1, "2" is cpu 1. */
	CHECK_PARSE("3", 0, 1);
	CHECK_PARSE("2", 1);
	CHECK_PARSE("10", 4);
	CHECK_PARSE("f0", 4, 5, 6, 7);
	CHECK_PARSE(" 0x1 ", 0);
	CHECK_PARSE("\t0x2\n", 1);
	/* Leading zeros are fine. */
	CHECK_PARSE("0x0001", 0);
	/* Word boundaries. */
	CHECK_PARSE("0x8000000000000000", 63);
	CHECK_PARSE("0x10000000000000000", 64);
	CHECK_PARSE("0x18000000000000000", 63, 64);
}

static void
test_parse_hex_long(void **state)
{
	char buf[300];
	struct cpuset set;

	/* The highest cpu: "0x8" followed by 255 zeros is cpu 1023. */
	buf[0] = '0';
	buf[1] = 'x';
	buf[2] = '8';
	memset(buf + 3, '0', 255);
	buf[258] = '\0';
	CHECK_PARSE(buf, 1023);
	/* Bare form, too. */
	CHECK_PARSE(buf + 2, 1023);
	/* All 1024 cpus. */
	memset(buf + 2, 'f', 256);
	buf[258] = '\0';
	assert_int_equal(cpuset_parse(&set, buf), 0);
	assert_int_equal(cpuset_count(&set), 1024);
	/* cpu 1024: one nibble too many. */
	buf[2] = '1';
	memset(buf + 3, '0', 256);
	buf[259] = '\0';
	assert_int_equal(cpuset_parse(&set, buf), -EINVAL);
	assert_int_equal(cpuset_count(&set), 0);
	assert_int_equal(cpuset_parse(&set, buf + 2), -EINVAL);
	/* Very long hex masks. */
	memset(buf + 2, 'f', sizeof(buf) - 3);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(cpuset_parse(&set, buf), -EINVAL);
	assert_int_equal(cpuset_parse(&set, buf + 2), -EINVAL);
	assert_int_equal(cpuset_count(&set), 0);
}

static void
test_parse_list(void **state)
{
	CHECK_PARSE("[0,1]", 0, 1);
	CHECK_PARSE("[0-2,5]", 0, 1, 2, 5);
	CHECK_PARSE("[3]", 3);
	CHECK_PARSE("[10]", 10);
	CHECK_PARSE("[1023]", 1023);
	CHECK_PARSE("[0-0]", 0);
	CHECK_PARSE("[5,1,5]", 1, 5);
	CHECK_PARSE("[0, 2 ,4]", 0, 2, 4);
	CHECK_PARSE("[62-65]", 62, 63, 64, 65);
	CHECK_PARSE("0-1", 0, 1);
	CHECK_PARSE("0,3", 0, 3);
	CHECK_PARSE("2-4,8", 2, 3, 4, 8);
	CHECK_PARSE(" 0,3 ", 0, 3);
	/* ... and the whole range really is set. */
	{
		struct cpuset set;

		assert_int_equal(cpuset_parse(&set, "[0-1023]"), 0);
		assert_int_equal(cpuset_count(&set), 1024);
	}
}

static void
test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", " ", "0x", "0X", "x1", "[", "]", "[]", "[ ]", "[1-0]", "[0,]", "[,0]", "[0,,1]",
		"zz", "0xzz", "0x1g", "0x0", "0", "00", "[1024]", "[0-1024]", "1024,0",
		"[0", "0]", "[a]", "[-1]", "[1-]", "1-", "-1", "0,", ",0", "0x-1", "[0x1]",
		"[1]x", "0x1 2", "[99999999999999999999]",
	};
	struct cpuset set;

	for (size_t i = 0; i < COUNTOF(bad); i++) {
		cpuset_set(&set, 7, true);
		if (cpuset_parse(&set, bad[i]) != -EINVAL)
			fail_msg("cpuset_parse(\"%s\") did not fail", bad[i]);
		/* A failed parse leaves an empty set. */
		assert_int_equal(cpuset_count(&set), 0);
	}
	assert_int_equal(cpuset_parse(&set, NULL), -EINVAL);
}

static void
test_fmt(void **state)
{
	struct cpuset set;
	char buf[CPUSET_MAX_CPUS / 4 + 1], small[3];
	char expect[CPUSET_MAX_CPUS / 4 + 1];

	cpuset_zero(&set);
	assert_string_equal(cpuset_fmt(&set, buf, sizeof(buf)), "0");
	assert_int_equal(cpuset_parse(&set, "0x3"), 0);
	assert_ptr_equal(cpuset_fmt(&set, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "3");
	assert_int_equal(cpuset_parse(&set, "[0-2,5]"), 0);
	assert_string_equal(cpuset_fmt(&set, buf, sizeof(buf)), "27");
	assert_int_equal(cpuset_parse(&set, "0X1F"), 0);
	assert_string_equal(cpuset_fmt(&set, buf, sizeof(buf)), "1f");
	assert_int_equal(cpuset_parse(&set, "[4]"), 0);
	assert_string_equal(cpuset_fmt(&set, buf, sizeof(buf)), "10");
	assert_int_equal(cpuset_parse(&set, "[64]"), 0);
	assert_string_equal(cpuset_fmt(&set, buf, sizeof(buf)), "10000000000000000");
	assert_int_equal(cpuset_parse(&set, "[0,127]"), 0);
	assert_string_equal(cpuset_fmt(&set, buf, sizeof(buf)),
			    "80000000000000000000000000000001");
	/* The highest cpu: 256 hex digits. */
	assert_int_equal(cpuset_parse(&set, "[1023]"), 0);
	expect[0] = '8';
	memset(expect + 1, '0', 255);
	expect[256] = '\0';
	assert_string_equal(cpuset_fmt(&set, buf, sizeof(buf)), expect);
	/* fmt output parses back to the same set. */
	{
		struct cpuset back;

		assert_int_equal(cpuset_parse(&set, "[1,5,63,64,500,1023]"), 0);
		cpuset_fmt(&set, buf, sizeof(buf));
		assert_int_equal(cpuset_parse(&back, buf), 0);
		assert_true(cpuset_equal(&set, &back));
	}
	/* A short buffer is truncated but NUL-terminated. */
	assert_int_equal(cpuset_parse(&set, "0x1234"), 0);
	memset(small, 'x', sizeof(small));
	cpuset_fmt(&set, small, sizeof(small));
	assert_int_equal(small[2], '\0');
	assert_int_equal(strlen(small), 2);
	/* len 0 writes nothing. */
	small[0] = 'q';
	cpuset_fmt(&set, small, 0);
	assert_int_equal(small[0], 'q');
}

static void
test_set_get_out_of_range(void **state)
{
	struct cpuset set, zero;

	cpuset_zero(&set);
	cpuset_zero(&zero);
	cpuset_set(&set, CPUSET_MAX_CPUS, true);
	cpuset_set(&set, UINT32_MAX, true);
	assert_true(cpuset_equal(&set, &zero));
	assert_false(cpuset_get(&set, CPUSET_MAX_CPUS));
	assert_false(cpuset_get(&set, UINT32_MAX));
	cpuset_set(&set, 1023, true);
	assert_true(cpuset_get(&set, 1023));
	cpuset_set(&set, 1023, false);
	assert_false(cpuset_get(&set, 1023));
	assert_int_equal(cpuset_count(&set), 0);
}

static void
test_next_count(void **state)
{
	struct cpuset set;
	uint32_t cpu, n = 0;
	const uint32_t want[] = {0, 63, 64, 127, 128, 700, 1023};

	cpuset_zero(&set);
	assert_int_equal(cpuset_next(&set, 0), UINT32_MAX);
	assert_int_equal(cpuset_count(&set), 0);
	for (size_t i = 0; i < COUNTOF(want); i++)
		cpuset_set(&set, want[i], true);
	assert_int_equal(cpuset_count(&set), COUNTOF(want));
	for (cpu = cpuset_next(&set, 0); cpu != UINT32_MAX; cpu = cpuset_next(&set, cpu + 1)) {
		assert_true(n < COUNTOF(want));
		assert_int_equal(cpu, want[n]);
		n++;
	}
	assert_int_equal(n, COUNTOF(want));
	assert_int_equal(cpuset_next(&set, 1), 63);
	assert_int_equal(cpuset_next(&set, 65), 127);
	assert_int_equal(cpuset_next(&set, 129), 700);
	assert_int_equal(cpuset_next(&set, 1023), 1023);
	assert_int_equal(cpuset_next(&set, 1024), UINT32_MAX);
	assert_int_equal(cpuset_next(&set, UINT32_MAX), UINT32_MAX);
	cpuset_set(&set, 1023, false);
	assert_int_equal(cpuset_next(&set, 701), UINT32_MAX);
	assert_int_equal(cpuset_count(&set), COUNTOF(want) - 1);
}

static void
test_ops(void **state)
{
	struct cpuset a, b, c, empty;

	cpuset_zero(&empty);
	assert_int_equal(cpuset_parse(&a, "[0-3]"), 0);
	assert_int_equal(cpuset_parse(&b, "[2-5,100]"), 0);
	/* equal */
	assert_true(cpuset_equal(&a, &a));
	assert_false(cpuset_equal(&a, &b));
	assert_int_equal(cpuset_parse(&c, "0xf"), 0);
	assert_true(cpuset_equal(&a, &c));
	/* subset */
	assert_true(cpuset_is_subset(&a, &a));
	assert_true(cpuset_is_subset(&empty, &a));
	assert_false(cpuset_is_subset(&a, &empty));
	assert_false(cpuset_is_subset(&a, &b));
	assert_int_equal(cpuset_parse(&c, "[2,3]"), 0);
	assert_true(cpuset_is_subset(&c, &a));
	assert_true(cpuset_is_subset(&c, &b));
	assert_false(cpuset_is_subset(&b, &c));
	/* A cpu in a high word outside super. */
	assert_int_equal(cpuset_parse(&c, "[2,1000]"), 0);
	assert_false(cpuset_is_subset(&c, &a));
	/* and */
	c = a;
	cpuset_and(&c, &b);
	assert_int_equal(cpuset_count(&c), 2);
	assert_true(cpuset_get(&c, 2));
	assert_true(cpuset_get(&c, 3));
	/* or */
	c = a;
	cpuset_or(&c, &b);
	assert_int_equal(cpuset_count(&c), 7);
	for (uint32_t i = 0; i <= 5; i++)
		assert_true(cpuset_get(&c, i));
	assert_true(cpuset_get(&c, 100));
	/* and with empty empties; or with empty keeps. */
	c = a;
	cpuset_or(&c, &empty);
	assert_true(cpuset_equal(&c, &a));
	cpuset_and(&c, &empty);
	assert_true(cpuset_equal(&c, &empty));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_hex),
		cmocka_unit_test(test_parse_hex_long),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_set_get_out_of_range),
		cmocka_unit_test(test_next_count),
		cmocka_unit_test(test_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
