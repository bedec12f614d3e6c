/*
 * Unit tests for lib/util/string.c: number parsing, capacities, bounded
 * copies, strdup_printf and the version string.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvstor/util.h"

static void
test_parse_u64(void **state)
{
	uint64_t v;

	assert_int_equal(parse_u64("0", UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("42", UINT64_MAX, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64("0x10", UINT64_MAX, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(parse_u64("0XfF", UINT64_MAX, &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(parse_u64("010", UINT64_MAX, &v), 0);
	assert_int_equal(v, 8);
	assert_int_equal(parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("0xffffffffffffffff", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	/* Bounded by max. */
	assert_int_equal(parse_u64("100", 100, &v), 0);
	assert_int_equal(v, 100);

	v = 7;
	assert_int_equal(parse_u64("101", 100, &v), -ERANGE);
	assert_int_equal(parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("0x10000000000000000", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64(NULL, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("12a", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("-1", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("+1", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64(" 1", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("1 ", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("0x", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("08", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("abc", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("1.5", UINT64_MAX, &v), -EINVAL);
	/* Failures leave *out alone. */
	assert_int_equal(v, 7);
}

static void
test_parse_i64(void **state)
{
	int64_t v;

	assert_int_equal(parse_i64("0", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_i64("-42", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(parse_i64("42", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_i64("0x10", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(parse_i64("-0x10", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, -16);
	assert_int_equal(parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(parse_i64("-5", -5, 5, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(parse_i64("5", -5, 5, &v), 0);
	assert_int_equal(v, 5);

	v = 3;
	assert_int_equal(parse_i64("6", -5, 5, &v), -ERANGE);
	assert_int_equal(parse_i64("-6", -5, 5, &v), -ERANGE);
	assert_int_equal(parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_i64("", INT64_MIN, INT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_i64(NULL, INT64_MIN, INT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_i64(" 1", INT64_MIN, INT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_i64("1 ", INT64_MIN, INT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_i64("12a", INT64_MIN, INT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_i64("-", INT64_MIN, INT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_i64("--1", INT64_MIN, INT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 3);
}

static void
test_parse_capacity(void **state)
{
	uint64_t b;

	assert_int_equal(parse_capacity("0", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(parse_capacity("4096", &b), 0);
	assert_int_equal(b, 4096);
	assert_int_equal(parse_capacity("1k", &b), 0);
	assert_int_equal(b, 1024);
	assert_int_equal(parse_capacity("4K", &b), 0);
	assert_int_equal(b, 4096);
	assert_int_equal(parse_capacity("1M", &b), 0);
	assert_int_equal(b, 1024 * 1024);
	assert_int_equal(parse_capacity("1m", &b), 0);
	assert_int_equal(b, 1024 * 1024);
	assert_int_equal(parse_capacity("1MiB", &b), 0);
	assert_int_equal(b, 1024 * 1024);
	assert_int_equal(parse_capacity("1MB", &b), 0);
	assert_int_equal(b, 1024 * 1024);
	assert_int_equal(parse_capacity("1Mb", &b), 0);
	assert_int_equal(b, 1024 * 1024);
	assert_int_equal(parse_capacity("2G", &b), 0);
	assert_int_equal(b, 2ull << 30);
	assert_int_equal(parse_capacity("3GiB", &b), 0);
	assert_int_equal(b, 3ull << 30);
	assert_int_equal(parse_capacity("5T", &b), 0);
	assert_int_equal(b, 5ull << 40);
	assert_int_equal(parse_capacity("18446744073709551615", &b), 0);
	assert_true(b == UINT64_MAX);
	/* The largest number of TiB that fits. */
	assert_int_equal(parse_capacity("16777215T", &b), 0);
	assert_true(b == 16777215ull << 40);

	b = 99;
	assert_int_equal(parse_capacity("1x", &b), -EINVAL);
	assert_int_equal(parse_capacity("", &b), -EINVAL);
	assert_int_equal(parse_capacity(NULL, &b), -EINVAL);
	assert_int_equal(parse_capacity("M", &b), -EINVAL);
	assert_int_equal(parse_capacity("-1", &b), -EINVAL);
	assert_int_equal(parse_capacity(" 1", &b), -EINVAL);
	assert_int_equal(parse_capacity("1 M", &b), -EINVAL);
	assert_int_equal(parse_capacity("1M ", &b), -EINVAL);
	assert_int_equal(parse_capacity("1MM", &b), -EINVAL);
	assert_int_equal(parse_capacity("1MiBx", &b), -EINVAL);
	assert_int_equal(parse_capacity("1B", &b), -EINVAL);
	assert_int_equal(parse_capacity("1iB", &b), -EINVAL);
	/* "i" alone is not a suffix: only "B" or "iB" may follow the unit. */
	assert_int_equal(parse_capacity("1Mi", &b), -EINVAL);
	assert_int_equal(parse_capacity("1P", &b), -EINVAL);
	assert_int_equal(parse_capacity("0x10", &b), -EINVAL);
	/* Overflow. */
	assert_int_equal(parse_capacity("18446744073709551616", &b), -EINVAL);
	assert_int_equal(parse_capacity("16777216T", &b), -EINVAL);
	assert_int_equal(parse_capacity("17179869184G", &b), -EINVAL);
	assert_int_equal(parse_capacity("18014398509481984k", &b), -EINVAL);
	assert_int_equal(b, 99);
}

static void
test_strlcpy(void **state)
{
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(strlcpy_lv(buf, "abc", sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	/* Exactly fits. */
	assert_int_equal(strlcpy_lv(buf, "1234567", sizeof(buf)), 7);
	assert_string_equal(buf, "1234567");
	/* Truncated: returns the source length, always terminated. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(strlcpy_lv(buf, "123456789abc", sizeof(buf)), 12);
	assert_string_equal(buf, "1234567");
	assert_int_equal(strlcpy_lv(buf, "abc", 1), 3);
	assert_string_equal(buf, "");
	/* len 0 touches nothing. */
	buf[0] = 'q';
	assert_int_equal(strlcpy_lv(buf, "abc", 0), 3);
	assert_int_equal(buf[0], 'q');
	assert_int_equal(strlcpy_lv(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void
test_strdup_printf(void **state)
{
	char *s = strdup_printf("%s-%d-%#x", "abc", -5, 255);
	char big[5000];

	assert_non_null(s);
	assert_string_equal(s, "abc--5-0xff");
	free(s);
	s = strdup_printf("%s", "");
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = strdup_printf("<%s>", big);
	assert_non_null(s);
	assert_int_equal(strlen(s), sizeof(big) + 1);
	assert_int_equal(s[0], '<');
	assert_int_equal(s[sizeof(big)], '>');
	free(s);
}

static void
test_version(void **state)
{
	assert_string_equal(lvstor_version_string(), "lvstor v26.09-pre");
	/* Stable across calls. */
	assert_ptr_equal(lvstor_version_string(), lvstor_version_string());
}

static void
test_macros(void **state)
{
	int arr[7];

	assert_int_equal(COUNTOF(arr), 7);
	assert_int_equal(ALIGN_UP(0, 8), 0);
	assert_int_equal(ALIGN_UP(1, 8), 8);
	assert_int_equal(ALIGN_UP(8, 8), 8);
	assert_int_equal(ALIGN_UP(9, 4096), 4096);
	assert_int_equal(DIV_ROUND_UP(0, 3), 0);
	assert_int_equal(DIV_ROUND_UP(7, 3), 3);
	assert_int_equal(DIV_ROUND_UP(6, 3), 2);
	assert_true(IS_POWER_OF_2(1));
	assert_true(IS_POWER_OF_2(4096));
	assert_false(IS_POWER_OF_2(0));
	assert_false(IS_POWER_OF_2(6));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_parse_capacity),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_strdup_printf),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_macros),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
