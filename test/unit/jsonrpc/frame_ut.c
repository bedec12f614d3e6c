/*
 * lib/jsonrpc/frame.c on its own: the incremental scanner that finds value
 * boundaries, the one-shot parse with duplicate-key marking, and token
 * counting. No sockets, no threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../lib/jsonrpc/jsonrpc_internal.h"

/* Scans `text` fed in one piece; returns the result and the span. */
static int
scan_all(const char *text, size_t *start, size_t *end)
{
	struct jsonrpc_scanner sc;

	jsonrpc_scanner_reset(&sc);
	return jsonrpc_scan(&sc, text, strlen(text), start, end);
}

static void
test_scan_complete_values(void **state)
{
	static const struct {
		const char *text;
		int result;
		size_t start, end;
	} rows[] = {
		{ "{}", JSONRPC_SCAN_VALUE, 0, 2 },
		{ "  \n\t{\"a\":1}", JSONRPC_SCAN_VALUE, 4, 11 },
		{ "[1,[2,{\"x\":[]}]]  ", JSONRPC_SCAN_VALUE, 0, 16 },
		/* brackets inside strings do not count, escaped quotes do not end them */
		{ "{\"a\":\"}]\\\"{[\"}", JSONRPC_SCAN_VALUE, 0, 14 },
		{ "\"abc\"", JSONRPC_SCAN_VALUE, 0, 5 },
		{ "123 ", JSONRPC_SCAN_VALUE, 0, 3 },
		{ "true,", JSONRPC_SCAN_VALUE, 0, 4 },
		/* incomplete */
		{ "{\"a\":1", JSONRPC_SCAN_MORE, 0, 0 },
		{ "{\"a\":\"}", JSONRPC_SCAN_MORE, 0, 0 },
		{ "123", JSONRPC_SCAN_MORE, 0, 0 },	/* 1234 may follow */
		{ "   ", JSONRPC_SCAN_MORE, 0, 0 },
		{ "", JSONRPC_SCAN_MORE, 0, 0 },
		/* cannot start a JSON value */
		{ "xyz", JSONRPC_SCAN_ERROR, 0, 1 },
		{ "  }", JSONRPC_SCAN_ERROR, 2, 3 },
		{ "\x01\x02", JSONRPC_SCAN_ERROR, 0, 1 },
	};
	size_t i, start, end;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = scan_all(rows[i].text, &start, &end);

		if (rc != rows[i].result) {
			fail_msg("row %zu (%s): result %d, expected %d", i, rows[i].text, rc,
				 rows[i].result);
		}
		if (rc != JSONRPC_SCAN_MORE) {
			assert_int_equal(start, rows[i].start);
			assert_int_equal(end, rows[i].end);
		}
	}
}

static void
test_scan_pipelined(void **state)
{
	const char *text = "{\"id\":1} [2]\n{\"id\":\"}\"}{";
	struct jsonrpc_scanner sc;
	size_t start, end, len = strlen(text);

	jsonrpc_scanner_reset(&sc);
	assert_int_equal(jsonrpc_scan(&sc, text, len, &start, &end), JSONRPC_SCAN_VALUE);
	assert_int_equal(start, 0);
	assert_int_equal(end, 8);
	assert_int_equal(jsonrpc_scanner_consumed(&sc), 8);
	assert_int_equal(jsonrpc_scan(&sc, text, len, &start, &end), JSONRPC_SCAN_VALUE);
	assert_int_equal(start, 9);
	assert_int_equal(end, 12);
	assert_int_equal(jsonrpc_scan(&sc, text, len, &start, &end), JSONRPC_SCAN_VALUE);
	assert_int_equal(start, 13);
	assert_int_equal(end, 23);
	/* the last "{" starts a value that is not complete */
	assert_int_equal(jsonrpc_scan(&sc, text, len, &start, &end), JSONRPC_SCAN_MORE);
	assert_int_equal(jsonrpc_scanner_consumed(&sc), 23);
}

/* One byte at a time, as a client slicing its writes: same boundaries. */
static void
test_scan_byte_by_byte(void **state)
{
	const char *text = " {\"method\":\"a\\\\\",\"params\":[1,{\"x\":\"]\"}]} [] ";
	struct jsonrpc_scanner sc;
	size_t len = strlen(text), i, start = 0, end = 0;
	int values = 0;

	jsonrpc_scanner_reset(&sc);
	for (i = 1; i <= len; i++) {
		int rc;

		while ((rc = jsonrpc_scan(&sc, text, i, &start, &end)) == JSONRPC_SCAN_VALUE) {
			values++;
			if (values == 1) {
				assert_int_equal(start, 1);
				assert_int_equal(end, len - 4);
			}
		}
		assert_int_equal(rc, JSONRPC_SCAN_MORE);
	}
	assert_int_equal(values, 2);
}

static void
test_scan_shift(void **state)
{
	char buf[64];
	struct jsonrpc_scanner sc;
	size_t start, end, consumed;

	snprintf(buf, sizeof(buf), "%s", "{\"a\":1}  {\"b\":");
	jsonrpc_scanner_reset(&sc);
	assert_int_equal(jsonrpc_scan(&sc, buf, strlen(buf), &start, &end), JSONRPC_SCAN_VALUE);
	assert_int_equal(jsonrpc_scan(&sc, buf, strlen(buf), &start, &end), JSONRPC_SCAN_MORE);
	consumed = jsonrpc_scanner_consumed(&sc);
	assert_int_equal(consumed, 9);
	memmove(buf, buf + consumed, strlen(buf) - consumed + 1);
	jsonrpc_scanner_shift(&sc, consumed);
	memcpy(buf + strlen(buf), "2}", 3);
	assert_int_equal(jsonrpc_scan(&sc, buf, strlen(buf), &start, &end), JSONRPC_SCAN_VALUE);
	assert_int_equal(start, 0);
	assert_int_equal(end, strlen(buf));
}

static void
test_scan_depth_limit(void **state)
{
	size_t n = JSONRPC_SCAN_MAX_DEPTH + 10, start, end;
	char *text = malloc(n + 1);

	assert_non_null(text);
	memset(text, '[', n);
	text[n] = '\0';
	assert_int_equal(scan_all(text, &start, &end), JSONRPC_SCAN_ERROR);
	free(text);
}

static void
test_parse_value(void **state)
{
	const char *text;
	json_t *v;

	v = jsonrpc_parse_value("{\"a\":[1,2.5,\"x\"]}", 17);
	assert_non_null(v);
	assert_true(json_is_object(v));
	assert_false(jsonrpc_object_has_duplicate_keys(v));
	json_decref(v);

	/* malformed, comments, trailing commas: all rejected (§1.2 rule 5) */
	assert_null(jsonrpc_parse_value("{\"a\":}", 6));
	assert_null(jsonrpc_parse_value("[1,]", 4));
	assert_null(jsonrpc_parse_value("{/*c*/}", 7));
	assert_null(jsonrpc_parse_value("{\"a\":\"\\u0000\"}", 14));
	/* invalid UTF-8 */
	assert_null(jsonrpc_parse_value("[\"\xff\"]", 5));

	/* an integer beyond int64 is valid JSON: it arrives as a real */
	text = "{\"a\":18446744073709551616,\"a\":1}";
	v = jsonrpc_parse_value(text, strlen(text));
	assert_non_null(v);
	assert_true(json_is_real(json_object_get(v, "a")));
	assert_true(jsonrpc_object_has_duplicate_keys(v));
	json_decref(v);
	v = jsonrpc_parse_value("[1e999]", 7);
	assert_null(v);

	/* any value type parses; the envelope check rejects it later */
	v = jsonrpc_parse_value("42", 2);
	assert_true(json_is_integer(v));
	json_decref(v);
}

static void
test_parse_duplicate_keys_marked(void **state)
{
	const char *text = "{\"id\":1,\"params\":{\"a\":1,\"b\":{\"c\":1,\"c\":2},\"a\":3},"
			   "\"method\":\"m\"}";
	json_t *v, *params;

	v = jsonrpc_parse_value(text, strlen(text));
	assert_non_null(v);
	/* the envelope itself has no repeated key */
	assert_false(jsonrpc_object_has_duplicate_keys(v));
	params = json_object_get(v, "params");
	assert_true(jsonrpc_object_has_duplicate_keys(params));
	/* jansson kept the last value */
	assert_int_equal(json_integer_value(json_object_get(params, "a")), 3);
	assert_true(jsonrpc_object_has_duplicate_keys(json_object_get(params, "b")));
	json_decref(v);

	/* an escaped spelling of the same key is the same key */
	text = "{\"ab\":1,\"a\\u0062\":2}";
	v = jsonrpc_parse_value(text, strlen(text));
	assert_non_null(v);
	assert_true(jsonrpc_object_has_duplicate_keys(v));
	json_decref(v);

	/* inside arrays too */
	text = "[{\"x\":1},{\"y\":1,\"y\":1}]";
	v = jsonrpc_parse_value(text, strlen(text));
	assert_non_null(v);
	assert_false(jsonrpc_object_has_duplicate_keys(json_array_get(v, 0)));
	assert_true(jsonrpc_object_has_duplicate_keys(json_array_get(v, 1)));
	json_decref(v);

	assert_false(jsonrpc_object_has_duplicate_keys(NULL));
}

static void
test_count_tokens(void **state)
{
	json_t *v;

	v = json_loads("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1}", 0, NULL);
	assert_int_equal(jsonrpc_count_tokens(v, 8192), 8);
	json_decref(v);
	v = json_loads("[[],{},1,\"s\",null]", 0, NULL);
	assert_int_equal(jsonrpc_count_tokens(v, 8192), 2 + 2 + 2 + 3);
	json_decref(v);
	v = json_loads("7", JSON_DECODE_ANY, NULL);
	assert_int_equal(jsonrpc_count_tokens(v, 8192), 1);
	json_decref(v);
	/* counting stops early once over the limit */
	v = json_loads("[1,2,3,4,5,6,7,8,9,10]", 0, NULL);
	assert_true(jsonrpc_count_tokens(v, 4) > 4);
	assert_true(jsonrpc_count_tokens(v, 4) < 12);
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_complete_values),
		cmocka_unit_test(test_scan_pipelined),
		cmocka_unit_test(test_scan_byte_by_byte),
		cmocka_unit_test(test_scan_shift),
		cmocka_unit_test(test_scan_depth_limit),
		cmocka_unit_test(test_parse_value),
		cmocka_unit_test(test_parse_duplicate_keys_marked),
		cmocka_unit_test(test_count_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
