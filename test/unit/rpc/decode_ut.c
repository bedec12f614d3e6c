/*
 * lib/rpc parameter decoders (spec/rpc.md §1.9): integer ranges and
 * integral reals, bools, strings, UUIDs, string arrays, and strict object
 * decoding (unknown, repeated, missing keys; null as absent).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lvstor/rpc.h"
#include "lvstor/util.h"
#include "../../../lib/jsonrpc/jsonrpc_internal.h"

/* Parses like the server does (duplicate keys marked, not refused). */
static json_t *
parse(const char *text)
{
	json_t *v = jsonrpc_parse_value(text, strlen(text));

	if (v == NULL) {
		fail_msg("test JSON does not parse: %s", text);
	}
	return v;
}

struct int_row {
	const char *json;
	int rc;
	int64_t value;
};

#define OK(J, V) { J, 0, V }
#define BAD(J) { J, -EINVAL, 0 }

static void
check_rows(const char *type, rpc_decode_fn fn, const struct int_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *v = parse(rows[i].json);
		union {
			uint8_t u8;
			uint16_t u16;
			uint32_t u32;
			uint64_t u64;
			int32_t i32;
			int64_t i64;
		} out;
		int64_t got = 0;
		int rc;

		memset(&out, 0xee, sizeof(out));
		rc = fn(v, &out);
		json_decref(v);
		if (rc != rows[i].rc) {
			fail_msg("%s row %zu (%s): rc %d, expected %d", type, i, rows[i].json, rc,
				 rows[i].rc);
		}
		if (rc != 0) {
			continue;
		}
		if (fn == rpc_decode_uint8) {
			got = out.u8;
		} else if (fn == rpc_decode_uint16) {
			got = out.u16;
		} else if (fn == rpc_decode_uint32) {
			got = out.u32;
		} else if (fn == rpc_decode_uint64) {
			got = (int64_t)out.u64;
		} else if (fn == rpc_decode_int32) {
			got = out.i32;
		} else {
			got = out.i64;
		}
		if (got != rows[i].value) {
			fail_msg("%s row %zu (%s): value %lld, expected %lld", type, i, rows[i].json,
				 (long long)got, (long long)rows[i].value);
		}
	}
}

static void
test_decode_uint8(void **state)
{
	static const struct int_row rows[] = {
		OK("0", 0), OK("255", 255), OK("4.0", 4), OK("4e0", 4), OK("2.55e2", 255),
		OK("-0.0", 0),
		BAD("256"), BAD("-1"), BAD("4.5"), BAD("\"4\""), BAD("true"), BAD("null"),
		BAD("[4]"), BAD("{}"), BAD("-1.0"), BAD("255.5"),
	};

	check_rows("uint8", rpc_decode_uint8, rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_decode_uint16_uint32(void **state)
{
	static const struct int_row rows16[] = {
		OK("65535", 65535), OK("1e3", 1000), BAD("65536"), BAD("-5"), BAD("0.5"),
	};
	static const struct int_row rows32[] = {
		OK("4294967295", 4294967295LL), OK("4294967295.0", 4294967295LL),
		BAD("4294967296"), BAD("-1"), BAD("1e10"), BAD("\"7\""),
	};

	check_rows("uint16", rpc_decode_uint16, rows16, sizeof(rows16) / sizeof(rows16[0]));
	check_rows("uint32", rpc_decode_uint32, rows32, sizeof(rows32) / sizeof(rows32[0]));
}

static void
test_decode_uint64(void **state)
{
	static const struct int_row rows[] = {
		OK("0", 0), OK("9223372036854775807", INT64_MAX),
		OK("1e18", 1000000000000000000LL),
		/* 2^63 as a real still fits an unsigned 64-bit value */
		OK("9.223372036854775808e18", INT64_MIN),
		BAD("-1"), BAD("1.8446744073709552e19"), BAD("1e30"), BAD("0.1"),
		BAD("false"),
	};

	check_rows("uint64", rpc_decode_uint64, rows, sizeof(rows) / sizeof(rows[0]));
}

static void
test_decode_signed(void **state)
{
	static const struct int_row rows32[] = {
		OK("-2147483648", INT32_MIN), OK("2147483647", INT32_MAX), OK("-4.0", -4),
		BAD("2147483648"), BAD("-2147483649"), BAD("-4.5"), BAD("\"-4\""),
	};
	static const struct int_row rows64[] = {
		OK("-9223372036854775808", INT64_MIN), OK("9223372036854775807", INT64_MAX),
		OK("-1e3", -1000),
		BAD("9.3e18"), BAD("-9.3e18"), BAD("1.5"), BAD("null"),
	};

	check_rows("int32", rpc_decode_int32, rows32, sizeof(rows32) / sizeof(rows32[0]));
	check_rows("int64", rpc_decode_int64, rows64, sizeof(rows64) / sizeof(rows64[0]));
}

static void
test_decode_bool(void **state)
{
	const char *bad[] = { "1", "0", "\"true\"", "null", "[]" };
	bool b = false;
	json_t *v;
	size_t i;

	assert_int_equal(rpc_decode_bool(json_true(), &b), 0);
	assert_true(b);
	assert_int_equal(rpc_decode_bool(json_false(), &b), 0);
	assert_false(b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = parse(bad[i]);
		assert_int_equal(rpc_decode_bool(v, &b), -EINVAL);
		json_decref(v);
	}
}

static void
test_decode_string(void **state)
{
	char *s = strdup("default");
	json_t *v;

	v = json_string("Malloc0");
	assert_int_equal(rpc_decode_string(v, &s), 0);	/* frees the default */
	assert_string_equal(s, "Malloc0");
	json_decref(v);

	v = json_integer(5);
	assert_int_equal(rpc_decode_string(v, &s), -EINVAL);
	assert_string_equal(s, "Malloc0");	/* untouched on failure */
	json_decref(v);

	/* a NUL inside cannot become a C string */
	v = json_stringn_nocheck("a\0b", 3);
	assert_int_equal(rpc_decode_string(v, &s), -EINVAL);
	json_decref(v);

	assert_int_equal(rpc_decode_string(json_null(), &s), -EINVAL);
	free(s);
}

static void
test_decode_uuid(void **state)
{
	struct lv_uuid u, expect;
	char text[UUID_STRING_LEN];
	json_t *v;

	v = json_string("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	assert_int_equal(rpc_decode_uuid(v, &u), 0);
	uuid_fmt_lower(text, sizeof(text), &u);
	assert_string_equal(text, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	json_decref(v);

	/* upper case accepted */
	v = json_string("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0");
	assert_int_equal(rpc_decode_uuid(v, &expect), 0);
	assert_int_equal(uuid_compare_lv(&u, &expect), 0);
	json_decref(v);

	v = json_string("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
	assert_int_equal(rpc_decode_uuid(v, &u), -EINVAL);
	json_decref(v);
	v = json_string("not-a-uuid");
	assert_int_equal(rpc_decode_uuid(v, &u), -EINVAL);
	json_decref(v);
	v = json_integer(1);
	assert_int_equal(rpc_decode_uuid(v, &u), -EINVAL);
	json_decref(v);
}

static void
test_decode_string_array(void **state)
{
	struct rpc_string_array arr = { 0 };
	json_t *v;

	v = parse("[\"a\",\"bc\"]");
	assert_int_equal(rpc_decode_string_array(v, &arr), 0);
	assert_int_equal(arr.count, 2);
	assert_string_equal(arr.strings[0], "a");
	assert_string_equal(arr.strings[1], "bc");
	json_decref(v);

	/* a failed decode keeps the previous contents */
	v = parse("[\"x\",1]");
	assert_int_equal(rpc_decode_string_array(v, &arr), -EINVAL);
	assert_int_equal(arr.count, 2);
	json_decref(v);
	v = parse("\"a\"");
	assert_int_equal(rpc_decode_string_array(v, &arr), -EINVAL);
	json_decref(v);

	v = parse("[]");
	assert_int_equal(rpc_decode_string_array(v, &arr), 0);
	assert_int_equal(arr.count, 0);
	json_decref(v);
	rpc_string_array_free(&arr);
}

/* ---- objects --------------------------------------------------------------- */

struct sample {
	char *name;
	uint32_t size;
	bool flag;
	int64_t delta;
};

static const struct rpc_object_decoder sample_decoders[] = {
	{ "name", offsetof(struct sample, name), rpc_decode_string, false },
	{ "size", offsetof(struct sample, size), rpc_decode_uint32, true },
	{ "flag", offsetof(struct sample, flag), rpc_decode_bool, true },
	{ "delta", offsetof(struct sample, delta), rpc_decode_int64, true },
	/* accepted and ignored (rpc.py sends it, we do not implement it) */
	{ "legacy", 0, NULL, true },
};
#define NDEC (sizeof(sample_decoders) / sizeof(sample_decoders[0]))

static int
decode_sample(const char *json, struct sample *s, bool relaxed)
{
	json_t *v = json != NULL ? parse(json) : NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	s->size = 512;	/* a default */
	rc = relaxed ? rpc_decode_object_relaxed(v, sample_decoders, NDEC, s) :
	     rpc_decode_object(v, sample_decoders, NDEC, s);
	json_decref(v);
	return rc;
}

static void
test_decode_object(void **state)
{
	struct sample s;

	assert_int_equal(decode_sample("{\"name\":\"m\",\"size\":4096.0,\"flag\":true,"
				       "\"delta\":-3,\"legacy\":[1]}", &s, false), 0);
	assert_string_equal(s.name, "m");
	assert_int_equal(s.size, 4096);
	assert_true(s.flag);
	assert_int_equal(s.delta, -3);
	free(s.name);

	/* optional keys keep their defaults */
	assert_int_equal(decode_sample("{\"name\":\"m\"}", &s, false), 0);
	assert_int_equal(s.size, 512);
	free(s.name);

	/* null counts as absent: fine for optional, fatal for required */
	assert_int_equal(decode_sample("{\"name\":\"m\",\"size\":null}", &s, false), 0);
	assert_int_equal(s.size, 512);
	free(s.name);
	assert_int_equal(decode_sample("{\"name\":null}", &s, false), -EINVAL);
	free(s.name);
}

static void
test_decode_object_failures(void **state)
{
	static const char *bad[] = {
		"{\"size\":1}",				/* missing required key */
		"{\"name\":\"m\",\"bogus\":1}",		/* unknown key */
		"{\"name\":\"m\",\"Name\":\"m\"}",	/* keys are case-sensitive */
		"{\"name\":\"m\",\"size\":-1}",		/* out of range */
		"{\"name\":\"m\",\"size\":4.5}",
		"{\"name\":\"m\",\"size\":\"4\"}",
		"{\"name\":\"m\",\"flag\":1}",
		"{\"name\":5}",
		"{\"name\":\"m\",\"size\":1,\"size\":2}",	/* repeated key */
		"{\"name\":\"a\",\"name\":\"b\"}",
		"[\"m\"]",				/* positional params */
		"\"m\"",
		"{}",
	};
	struct sample s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = decode_sample(bad[i], &s, false);

		free(s.name);
		if (rc != -EINVAL) {
			fail_msg("row %zu (%s) decoded", i, bad[i]);
		}
	}
	/* absent params: only when nothing is required */
	assert_int_equal(decode_sample(NULL, &s, false), -EINVAL);
	assert_int_equal(rpc_decode_object(NULL, &sample_decoders[1], NDEC - 1, &s), 0);
	assert_int_equal(rpc_decode_object(json_null(), &sample_decoders[1], NDEC - 1, &s), 0);
}

static void
test_decode_object_relaxed(void **state)
{
	struct sample s;

	assert_int_equal(decode_sample("{\"name\":\"m\",\"bogus\":1,\"other\":{}}", &s, true), 0);
	assert_string_equal(s.name, "m");
	free(s.name);
	/* still strict about everything else */
	assert_int_equal(decode_sample("{\"bogus\":1}", &s, true), -EINVAL);
	assert_int_equal(decode_sample("{\"name\":\"m\",\"size\":true}", &s, true), -EINVAL);
	free(s.name);
	assert_int_equal(decode_sample("{\"name\":\"m\",\"x\":1,\"x\":2}", &s, true), -EINVAL);
	free(s.name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_uint8),
		cmocka_unit_test(test_decode_uint16_uint32),
		cmocka_unit_test(test_decode_uint64),
		cmocka_unit_test(test_decode_signed),
		cmocka_unit_test(test_decode_bool),
		cmocka_unit_test(test_decode_string),
		cmocka_unit_test(test_decode_uuid),
		cmocka_unit_test(test_decode_string_array),
		cmocka_unit_test(test_decode_object),
		cmocka_unit_test(test_decode_object_failures),
		cmocka_unit_test(test_decode_object_relaxed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
