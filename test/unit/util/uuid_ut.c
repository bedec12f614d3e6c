/*
 * Unit tests for lib/util/uuid.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lvstor/util.h"

static const uint8_t g_bytes[16] = {
	0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
	0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
};

static void
test_parse_lower_upper(void **state)
{
	struct lv_uuid a, b;
	char buf[UUID_STRING_LEN];

	assert_int_equal(uuid_parse_str(&a, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"), 0);
	assert_memory_equal(a.u, g_bytes, 16);
	assert_int_equal(uuid_parse_str(&b, "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"), 0);
	assert_memory_equal(b.u, g_bytes, 16);
	assert_int_equal(uuid_compare_lv(&a, &b), 0);
	/* Mixed case. */
	assert_int_equal(uuid_parse_str(&b, "6Ba7b810-9dAD-11d1-80B4-00c04fd430C8"), 0);
	assert_int_equal(uuid_compare_lv(&a, &b), 0);
	/* Always printed lower case. */
	uuid_fmt_lower(buf, sizeof(buf), &b);
	assert_string_equal(buf, "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
	assert_int_equal(strlen(buf), UUID_STRING_LEN - 1);
}

static void
test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c",     /* 35 chars */
		"6ba7b810-9dad-11d1-80b4-00c04fd430c80",   /* 37 chars */
		"6ba7b810-9dad-11d1-80b4-00c04fd430cg",    /* bad hex */
		"6ba7b810-9dad-11d1-80b4-00c04fd430c ",    /* space */
		"6ba7b810x9dad-11d1-80b4-00c04fd430c8",    /* bad separator */
		"6ba7b8109-dad-11d1-80b4-00c04fd430c8",    /* dash moved */
		"6ba7b810-9dad-11d1-80b400c04fd430c8ab",   /* dash missing */
		"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",  /* braces */
		"6ba7b8109dad11d180b400c04fd430c8",        /* no dashes */
		" 6ba7b810-9dad-11d1-80b4-00c04fd430c8",   /* leading space */
		"zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
	};
	struct lv_uuid u;

	for (size_t i = 0; i < COUNTOF(bad); i++) {
		if (uuid_parse_str(&u, bad[i]) != -EINVAL)
			fail_msg("uuid_parse_str(\"%s\") did not fail", bad[i]);
	}
	assert_int_equal(uuid_parse_str(&u, NULL), -EINVAL);
}

static void
test_fmt_short_buffer(void **state)
{
	struct lv_uuid u;
	char buf[9];

	memcpy(u.u, g_bytes, 16);
	memset(buf, 'x', sizeof(buf));
	uuid_fmt_lower(buf, sizeof(buf), &u);
	assert_string_equal(buf, "6ba7b810");
}

static void
test_null_and_compare(void **state)
{
	struct lv_uuid zero, a, b;
	char buf[UUID_STRING_LEN];

	memset(&zero, 0, sizeof(zero));
	assert_true(uuid_is_null_lv(&zero));
	uuid_fmt_lower(buf, sizeof(buf), &zero);
	assert_string_equal(buf, "00000000-0000-0000-0000-000000000000");
	assert_int_equal(uuid_parse_str(&a, "00000000-0000-0000-0000-000000000000"), 0);
	assert_true(uuid_is_null_lv(&a));
	assert_int_equal(uuid_parse_str(&a, "00000000-0000-0000-0000-000000000001"), 0);
	assert_false(uuid_is_null_lv(&a));

	/* Ordering is bytewise. */
	assert_true(uuid_compare_lv(&zero, &a) < 0);
	assert_true(uuid_compare_lv(&a, &zero) > 0);
	assert_int_equal(uuid_parse_str(&b, "00000000-0000-0000-0000-000000000002"), 0);
	assert_true(uuid_compare_lv(&a, &b) < 0);
	assert_int_equal(uuid_parse_str(&b, "ff000000-0000-0000-0000-000000000000"), 0);
	assert_true(uuid_compare_lv(&a, &b) < 0);
	assert_true(uuid_compare_lv(&b, &a) > 0);
	assert_int_equal(uuid_compare_lv(&b, &b), 0);
}

static void
test_generate_roundtrip(void **state)
{
	struct lv_uuid a, b, c;
	char buf[UUID_STRING_LEN];

	uuid_generate_random_lv(&a);
	uuid_generate_random_lv(&b);
	assert_false(uuid_is_null_lv(&a));
	assert_int_not_equal(uuid_compare_lv(&a, &b), 0);
	/* Version 4, RFC 4122 variant. */
	assert_int_equal(a.u[6] >> 4, 4);
	assert_int_equal(a.u[8] & 0xc0, 0x80);
	uuid_fmt_lower(buf, sizeof(buf), &a);
	assert_int_equal(strlen(buf), 36);
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(buf[i], '-');
		else
			assert_true((buf[i] >= '0' && buf[i] <= '9') ||
				    (buf[i] >= 'a' && buf[i] <= 'f'));
	}
	assert_int_equal(uuid_parse_str(&c, buf), 0);
	assert_int_equal(uuid_compare_lv(&a, &c), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_lower_upper),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_fmt_short_buffer),
		cmocka_unit_test(test_null_and_compare),
		cmocka_unit_test(test_generate_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
