/*
 * lib/jsonrpc request handling on a detached connection (no socket, no
 * thread): bytes go in with jsonrpc_conn_feed(), response text comes out
 * of the connection's output buffer. Covers the envelope rules (spec §1.3,
 * every row), response shape (§1.4), notifications (§1.5), batches (§1.6),
 * framing (§1.2), pause/resume, late answers and internal calls.
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

#include "../../../lib/jsonrpc/jsonrpc_internal.h"

static struct jsonrpc_server *g_server;
static struct jsonrpc_conn *g_conn;

#define MAX_HELD 16
static struct jsonrpc_request *g_held[MAX_HELD];
static int g_held_count;
static int g_calls;
static const json_t *g_last_params;
static bool g_last_params_set;

/*
 * Methods: echo (result = params, or true without), fail (-EINVAL,
 * convention A), hold (answered later by the test), pause (pauses the
 * server, answers true), big (a string of params.len bytes); anything
 * else -32601.
 */
static void
test_handler(struct jsonrpc_request *req, const char *method, const json_t *params)
{
	g_calls++;
	g_last_params = params;
	g_last_params_set = true;
	if (strcmp(method, "echo") == 0) {
		jsonrpc_send_result(req, params ? json_deep_copy(params) : json_true());
	} else if (strcmp(method, "fail") == 0) {
		jsonrpc_send_errno(req, -EINVAL);
	} else if (strcmp(method, "hold") == 0) {
		assert_true(g_held_count < MAX_HELD);
		g_held[g_held_count++] = req;
	} else if (strcmp(method, "pause") == 0) {
		jsonrpc_server_pause(g_server);
		jsonrpc_send_bool(req, true);
	} else if (strcmp(method, "big") == 0) {
		size_t len = (size_t)json_integer_value(json_object_get(params, "len"));
		char *s = malloc(len + 1);

		assert_non_null(s);
		memset(s, 'x', len);
		s[len] = '\0';
		jsonrpc_send_result(req, json_string(s));
		free(s);
	} else {
		jsonrpc_send_error(req, JSONRPC_ERROR_METHOD_NOT_FOUND, "Method not found");
	}
}

static int
setup(void **state)
{
	g_server = jsonrpc_server_create_detached(test_handler);
	assert_non_null(g_server);
	g_conn = jsonrpc_conn_open(g_server, -1);
	assert_non_null(g_conn);
	jsonrpc_conn_get(g_conn);	/* the test's own reference */
	g_held_count = 0;
	g_calls = 0;
	g_last_params = NULL;
	g_last_params_set = false;
	return 0;
}

static int
teardown(void **state)
{
	jsonrpc_server_close(g_server);
	g_server = NULL;
	assert_true(g_conn->closed);
	jsonrpc_conn_put(g_conn);
	g_conn = NULL;
	return 0;
}

static int
feed(const char *text)
{
	return jsonrpc_conn_feed(g_conn, text, strlen(text));
}

static void
expect_output(const char *expected)
{
	char *out = jsonrpc_conn_take_output(g_conn);

	assert_non_null(out);
	assert_string_equal(out, expected);
	free(out);
}

/* Feeds one request and checks the whole output it produced. */
static void
roundtrip(const char *request, const char *expected)
{
	assert_int_equal(feed(request), 0);
	expect_output(expected);
}

#define OK_TRUE(ID) "{\"jsonrpc\":\"2.0\",\"id\":" ID ",\"result\":true}\n"
#define INVALID(ID) \
	"{\"jsonrpc\":\"2.0\",\"id\":" ID ",\"error\":{\"code\":-32600,\"message\":\"Invalid request\"}}\n"
#define EINVAL_ERR(ID) \
	"{\"jsonrpc\":\"2.0\",\"id\":" ID ",\"error\":{\"code\":-22,\"message\":\"Invalid argument\"}}\n"
#define PARSE_ERROR \
	"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n"

/* ---- §1.3 envelope, row by row ------------------------------------------ */

static void
test_envelope_table(void **state)
{
	static const struct {
		const char *request;
		const char *response;
	} rows[] = {
		/* jsonrpc: optional, must be "2.0" if present */
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}", OK_TRUE("1") },
		{ "{\"method\":\"echo\",\"id\":1}", OK_TRUE("1") },
		{ "{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":1}", INVALID("1") },
		{ "{\"jsonrpc\":2.0,\"method\":\"echo\",\"id\":1}", INVALID("1") },
		{ "{\"jsonrpc\":null,\"method\":\"echo\",\"id\":1}", INVALID("1") },
		/* method: required string */
		{ "{\"jsonrpc\":\"2.0\",\"id\":1}", INVALID("1") },
		{ "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}", INVALID("1") },
		{ "{\"jsonrpc\":\"2.0\",\"method\":null,\"id\":1}", INVALID("1") },
		{ "{\"jsonrpc\":\"2.0\",\"method\":[\"echo\"],\"id\":1}", INVALID("1") },
		/* params: object, array or null; null is absent */
		{ "{\"method\":\"echo\",\"params\":{\"a\":1},\"id\":1}",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":1}}\n" },
		{ "{\"method\":\"echo\",\"params\":[1,2],\"id\":1}",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[1,2]}\n" },
		{ "{\"method\":\"echo\",\"params\":null,\"id\":1}", OK_TRUE("1") },
		{ "{\"method\":\"echo\",\"params\":\"x\",\"id\":1}", INVALID("1") },
		{ "{\"method\":\"echo\",\"params\":5,\"id\":1}", INVALID("1") },
		{ "{\"method\":\"echo\",\"params\":true,\"id\":1}", INVALID("1") },
		/* id: string, number or null, echoed verbatim */
		{ "{\"method\":\"echo\",\"id\":\"abc\"}", OK_TRUE("\"abc\"") },
		{ "{\"method\":\"echo\",\"id\":1.0}", OK_TRUE("1.0") },
		{ "{\"method\":\"echo\",\"id\":-7}", OK_TRUE("-7") },
		{ "{\"method\":\"echo\",\"id\":0.1}", OK_TRUE("0.1") },
		{ "{\"method\":\"echo\",\"id\":2.5e-3}", OK_TRUE("2.5e-3") },
		{ "{\"method\":\"echo\",\"id\":9007199254740993}", OK_TRUE("9007199254740993") },
		{ "{\"method\":\"echo\",\"id\":\"\\u00e9\\\"\"}", OK_TRUE("\"\xc3\xa9\\\"\"") },
		{ "{\"method\":\"echo\",\"id\":{}}", INVALID("null") },
		{ "{\"method\":\"echo\",\"id\":[1]}", INVALID("null") },
		{ "{\"method\":\"echo\",\"id\":true}", INVALID("null") },
		/* any other member, or a repeated one: invalid, id unknown */
		{ "{\"method\":\"echo\",\"id\":1,\"extra\":0}", INVALID("null") },
		{ "{\"method\":\"echo\",\"id\":1,\"id\":2}", INVALID("null") },
		{ "{\"method\":\"echo\",\"method\":\"echo\",\"id\":1}", INVALID("null") },
		/* the top-level value must be an object (or a batch array) */
		{ "\"echo\"", INVALID("null") },
		{ "12 ", INVALID("null") },
		{ "null ", INVALID("null") },
		{ "{}", INVALID("null") },
		/* errors from the handler, unknown method */
		{ "{\"method\":\"fail\",\"id\":3}", EINVAL_ERR("3") },
		{ "{\"method\":\"nope\",\"id\":4}",
		  "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32601,"
		  "\"message\":\"Method not found\"}}\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out;

		if (feed(rows[i].request) != 0) {
			fail_msg("row %zu: connection closed on %s", i, rows[i].request);
		}
		out = jsonrpc_conn_take_output(g_conn);
		if (strcmp(out, rows[i].response) != 0) {
			fail_msg("row %zu: %s\n  got      %s  expected %s", i, rows[i].request, out,
				 rows[i].response);
		}
		free(out);
	}
	assert_int_equal(jsonrpc_server_conn_count(g_server), 1);
}

static void
test_envelope_parse_api(void **state)
{
	const char *method;
	const json_t *params, *id;
	json_t *req;

	req = json_loads("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":null,\"id\":null}", 0,
			 NULL);
	assert_int_equal(jsonrpc_parse_envelope(req, &method, &params, &id), 0);
	assert_string_equal(method, "m");
	assert_null(params);
	assert_non_null(id);
	assert_true(json_is_null(id));
	json_decref(req);

	req = json_loads("{\"method\":\"m\",\"params\":{\"k\":1}}", 0, NULL);
	assert_int_equal(jsonrpc_parse_envelope(req, &method, &params, &id), 0);
	assert_true(json_is_object(params));
	assert_null(id);
	json_decref(req);

	req = json_loads("{\"method\":1,\"id\":\"x\"}", 0, NULL);
	assert_int_equal(jsonrpc_parse_envelope(req, &method, &params, &id),
			 JSONRPC_ERROR_INVALID_REQUEST);
	assert_string_equal(json_string_value(id), "x");
	json_decref(req);

	req = json_loads("[1]", 0, NULL);
	assert_int_equal(jsonrpc_parse_envelope(req, &method, &params, &id),
			 JSONRPC_ERROR_INVALID_REQUEST);
	json_decref(req);
}

static void
test_params_reach_handler(void **state)
{
	roundtrip("{\"method\":\"echo\",\"params\":null,\"id\":1}", OK_TRUE("1"));
	assert_true(g_last_params_set);
	assert_null(g_last_params);
	roundtrip("{\"method\":\"echo\",\"id\":1}", OK_TRUE("1"));
	assert_null(g_last_params);
	/* an array reaches the handler as is */
	roundtrip("{\"method\":\"hold\",\"params\":[\"a\"],\"id\":1}", "");
	assert_true(json_is_array(g_last_params));
	jsonrpc_send_bool(g_held[0], false);
	expect_output("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":false}\n");
}

/* ---- §1.5 notifications -------------------------------------------------- */

static void
test_notifications(void **state)
{
	/* success: nothing at all, but the method ran */
	roundtrip("{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}", "");
	assert_int_equal(g_calls, 1);
	roundtrip("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":null}", "");
	assert_int_equal(g_calls, 2);
	/* failure: an error with id null */
	roundtrip("{\"jsonrpc\":\"2.0\",\"method\":\"fail\"}", EINVAL_ERR("null"));
	roundtrip("{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":null}", EINVAL_ERR("null"));
	roundtrip("{\"method\":\"nope\"}",
		  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
		  "\"message\":\"Method not found\"}}\n");
	assert_int_equal(g_calls, 5);
	/* answered later: still nothing */
	roundtrip("{\"method\":\"hold\"}", "");
	jsonrpc_send_result(g_held[0], json_string("ignored"));
	expect_output("");
}

/* ---- §1.6 batches -------------------------------------------------------- */

static void
test_batch_sync(void **state)
{
	roundtrip("[{\"method\":\"echo\",\"id\":1},{\"method\":\"fail\",\"id\":2},5,"
		  "{\"method\":\"echo\"},{\"method\":\"fail\"},{\"id\":9}]",
		  "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":true},"
		  "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-22,\"message\":\"Invalid argument\"}},"
		  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid request\"}},"
		  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-22,\"message\":\"Invalid argument\"}},"
		  "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32600,\"message\":\"Invalid request\"}}]\n");
	/* every valid element ran, the invalid ones did not reach the handler */
	assert_int_equal(g_calls, 4);
}

static void
test_batch_empty_and_silent(void **state)
{
	/* [] is one error object, not an array */
	roundtrip("[]", INVALID("null"));
	/* only successful notifications: nothing is sent */
	roundtrip("[{\"method\":\"echo\"},{\"method\":\"echo\",\"id\":null}]", "");
	assert_int_equal(g_calls, 2);
	/* nested arrays are not requests */
	roundtrip("[[]]", "[" "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
		  "\"message\":\"Invalid request\"}}]\n");
}

static void
test_batch_async_completion_order(void **state)
{
	roundtrip("[{\"method\":\"hold\",\"id\":\"a\"},{\"method\":\"echo\",\"id\":\"b\"},"
		  "{\"method\":\"hold\",\"id\":\"c\"}]", "");
	assert_int_equal(g_held_count, 2);
	/* nothing until the last element is answered */
	jsonrpc_send_bool(g_held[1], true);
	expect_output("");
	/* a request pipelined behind the batch is answered on its own meanwhile */
	roundtrip("{\"method\":\"echo\",\"id\":\"d\"}", OK_TRUE("\"d\""));
	jsonrpc_send_error(g_held[0], -5, "late %s", "error");
	expect_output("[{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"result\":true},"
		      "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"result\":true},"
		      "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-5,"
		      "\"message\":\"late error\"}}]\n");
}

/* ---- §1.2 framing -------------------------------------------------------- */

static void
test_framing_pipelined(void **state)
{
	roundtrip("{\"method\":\"echo\",\"id\":1}{\"method\":\"echo\",\"id\":2} \r\n\t "
		  "{\"method\":\"echo\",\"id\":3}\n\n",
		  OK_TRUE("1") OK_TRUE("2") OK_TRUE("3"));
	/* a request split after the first value */
	roundtrip("{\"method\":\"echo\",\"id\":4}{\"method\":\"ec", OK_TRUE("4"));
	roundtrip("ho\",\"id\":5}", OK_TRUE("5"));
}

static void
test_framing_tiny_writes(void **state)
{
	/* pretty-printed like rpc.py, with a multi-byte character split */
	const char *req = "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"echo\",\n"
			  "  \"params\": {\"name\": \"caf\xc3\xa9 }\\\"]\"},\n  \"id\": 1\n}";
	size_t i, len = strlen(req);

	for (i = 0; i < len - 1; i++) {
		assert_int_equal(jsonrpc_conn_feed(g_conn, req + i, 1), 0);
		expect_output("");
	}
	assert_int_equal(jsonrpc_conn_feed(g_conn, req + len - 1, 1), 0);
	expect_output("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"name\":\"caf\xc3\xa9 }\\\"]\"}}\n");
	assert_int_equal(g_calls, 1);
}

static void
test_framing_malformed_closes(void **state)
{
	/* the error comes after the answers to what preceded it */
	assert_int_equal(feed("{\"method\":\"echo\",\"id\":1} {\"method\":}"), -EPIPE);
	expect_output(OK_TRUE("1") PARSE_ERROR);
	/* nothing after it is read */
	assert_int_equal(feed("{\"method\":\"echo\",\"id\":2}"), -EPIPE);
	expect_output("");
	assert_int_equal(g_calls, 1);
}

static void
test_framing_garbage_first_byte(void **state)
{
	assert_int_equal(feed("GET / HTTP/1.1\r\n\r\n"), -EPIPE);
	expect_output(PARSE_ERROR);
	assert_int_equal(g_calls, 0);
}

static void
test_framing_stray_close_bracket(void **state)
{
	assert_int_equal(feed("{\"method\":\"echo\",\"id\":1}]"), -EPIPE);
	expect_output(OK_TRUE("1") PARSE_ERROR);
}

static void
test_framing_duplicate_keys_in_params(void **state)
{
	/* reaches the handler, marked, rather than a parse error */
	roundtrip("{\"method\":\"hold\",\"params\":{\"a\":1,\"a\":2},\"id\":1}", "");
	assert_true(jsonrpc_object_has_duplicate_keys(g_last_params));
	jsonrpc_send_bool(g_held[0], true);
	expect_output(OK_TRUE("1"));
}

static char *
request_with_string(size_t len)
{
	const char *head = "{\"method\":\"echo\",\"id\":1,\"params\":{\"s\":\"";
	size_t hl = strlen(head);
	char *req = malloc(hl + len + 4);

	assert_non_null(req);
	memcpy(req, head, hl);
	memset(req + hl, 'a', len);
	memcpy(req + hl + len, "\"}}", 4);
	return req;
}

static void
test_framing_largest_request_fits(void **state)
{
	/* exactly 256 KiB: accepted */
	size_t overhead = strlen("{\"method\":\"echo\",\"id\":1,\"params\":{\"s\":\"\"}}");
	char *req = request_with_string(JSONRPC_RECV_BUF_SIZE - overhead);
	char *out;

	assert_int_equal(strlen(req), JSONRPC_RECV_BUF_SIZE);
	assert_int_equal(feed(req), 0);
	out = jsonrpc_conn_take_output(g_conn);
	assert_non_null(strstr(out, "\"result\":{\"s\":\"aaaa"));
	free(out);
	free(req);
	/* and the buffer is usable again afterwards */
	roundtrip("{\"method\":\"echo\",\"id\":2}", OK_TRUE("2"));
}

static void
test_framing_overflow(void **state)
{
	char *req = request_with_string(JSONRPC_RECV_BUF_SIZE);

	assert_int_equal(feed(req), -EPIPE);
	expect_output(PARSE_ERROR);
	assert_int_equal(g_calls, 0);
	free(req);
}

/* Also an overflow when the bytes arrive in small pieces. */
static void
test_framing_overflow_incremental(void **state)
{
	char chunk[1000];
	size_t sent = 0;
	int rc = 0;

	assert_int_equal(feed("[\"x\""), 0);
	memset(chunk, ' ', sizeof(chunk));
	while (sent < 2 * JSONRPC_RECV_BUF_SIZE && rc == 0) {
		rc = jsonrpc_conn_feed(g_conn, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	assert_int_equal(rc, -EPIPE);
	assert_true(sent >= JSONRPC_RECV_BUF_SIZE - sizeof(chunk));
	assert_true(sent <= JSONRPC_RECV_BUF_SIZE + sizeof(chunk));
	expect_output(PARSE_ERROR);
}

static char *
request_with_numbers(size_t n)
{
	size_t cap = 64 + 2 * n, len;
	char *req = malloc(cap);
	size_t i;

	assert_non_null(req);
	len = (size_t)snprintf(req, cap, "{\"method\":\"echo\",\"id\":1,\"params\":[");
	for (i = 0; i < n; i++) {
		req[len++] = '1';
		req[len++] = i + 1 < n ? ',' : ']';
	}
	req[len++] = '}';
	req[len] = '\0';
	return req;
}

static void
test_framing_token_limit(void **state)
{
	/* envelope 9 tokens + n numbers */
	char *req = request_with_numbers(JSONRPC_MAX_TOKENS - 9);
	char *out;

	assert_int_equal(feed(req), 0);
	out = jsonrpc_conn_take_output(g_conn);
	assert_non_null(strstr(out, "\"result\":[1,1,1"));
	free(out);
	free(req);

	req = request_with_numbers(JSONRPC_MAX_TOKENS - 8);
	assert_int_equal(feed(req), -EPIPE);
	expect_output(PARSE_ERROR);
	free(req);
	assert_int_equal(g_calls, 1);
}

/* ---- lifetimes ----------------------------------------------------------- */

static void
test_answer_after_close_is_dropped(void **state)
{
	roundtrip("{\"method\":\"hold\",\"id\":1}[{\"method\":\"hold\",\"id\":2}]", "");
	assert_int_equal(g_held_count, 2);
	jsonrpc_conn_close(g_conn);
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
	/* the requests still work; their answers go nowhere */
	assert_string_equal(jsonrpc_request_method(g_held[0]), "hold");
	jsonrpc_send_bool(g_held[0], true);
	jsonrpc_send_errno(g_held[1], -ENODEV);
	expect_output("");
}

static void
test_pause_resume(void **state)
{
	roundtrip("{\"method\":\"pause\",\"id\":1}{\"method\":\"echo\",\"id\":2}", OK_TRUE("1"));
	/* the second request waits while paused */
	assert_int_equal(g_calls, 1);
	assert_int_equal(feed("{\"method\":\"echo\",\"id\":3}"), 0);
	expect_output("");
	jsonrpc_server_resume(g_server);
	expect_output(OK_TRUE("2") OK_TRUE("3"));
	assert_int_equal(g_calls, 3);
}

static void
test_error_message_formats(void **state)
{
	roundtrip("{\"method\":\"hold\",\"id\":1}", "");
	jsonrpc_send_error(g_held[0], -32602, "bdev '%s' has %d \"quotes\"\n", "x", 2);
	expect_output("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,"
		      "\"message\":\"bdev 'x' has 2 \\\"quotes\\\"\\n\"}}\n");
	roundtrip("{\"method\":\"hold\",\"id\":2}", "");
	jsonrpc_send_errno_invalid_params(g_held[1], -EEXIST);
	expect_output("{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,"
		      "\"message\":\"File exists\"}}\n");
	/* bytes that are not UTF-8 do not break the response */
	roundtrip("{\"method\":\"hold\",\"id\":3}", "");
	jsonrpc_send_error(g_held[2], -1, "bad \xff byte");
	expect_output("{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-1,"
		      "\"message\":\"bad ? byte\"}}\n");
	/* a NULL result is null */
	roundtrip("{\"method\":\"hold\",\"id\":4}", "");
	jsonrpc_send_result(g_held[3], NULL);
	expect_output("{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":null}\n");
}

/* ---- internal calls ------------------------------------------------------- */

static int g_cb_calls;
static int g_cb_code;
static char g_cb_msg[128];
static char *g_cb_result;

static void
internal_cb(void *arg, int code, const char *msg, const json_t *result)
{
	g_cb_calls++;
	g_cb_code = code;
	snprintf(g_cb_msg, sizeof(g_cb_msg), "%s", msg ? msg : "");
	free(g_cb_result);
	g_cb_result = result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	assert_ptr_equal(arg, &g_cb_calls);
}

static void
test_internal_call(void **state)
{
	json_t *params = json_pack("{s:i}", "a", 1);

	g_cb_calls = 0;
	jsonrpc_call_internal(test_handler, "echo", params, internal_cb, &g_cb_calls);
	json_decref(params);
	assert_int_equal(g_cb_calls, 1);
	assert_int_equal(g_cb_code, 0);
	assert_string_equal(g_cb_result, "{\"a\":1}");

	jsonrpc_call_internal(test_handler, "fail", NULL, internal_cb, &g_cb_calls);
	assert_int_equal(g_cb_calls, 2);
	assert_int_equal(g_cb_code, -22);
	assert_string_equal(g_cb_msg, "Invalid argument");
	assert_null(g_cb_result);

	/* asynchronous; params stay valid although the caller dropped them */
	params = json_pack("[s]", "kept");
	jsonrpc_call_internal(test_handler, "hold", params, internal_cb, &g_cb_calls);
	json_decref(params);
	assert_int_equal(g_cb_calls, 2);
	assert_string_equal(json_string_value(json_array_get(g_last_params, 0)), "kept");
	assert_string_equal(jsonrpc_request_method(g_held[0]), "hold");
	jsonrpc_send_result(g_held[0], json_deep_copy(g_last_params));
	assert_int_equal(g_cb_calls, 3);
	assert_string_equal(g_cb_result, "[\"kept\"]");

	/* JSON null params reach the handler as NULL */
	jsonrpc_call_internal(test_handler, "echo", json_null(), internal_cb, &g_cb_calls);
	assert_null(g_last_params);
	assert_string_equal(g_cb_result, "true");
	free(g_cb_result);
	g_cb_result = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelope_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_parse_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_reach_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifications, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_empty_and_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_async_completion_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_tiny_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_malformed_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_garbage_first_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_stray_close_bracket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_duplicate_keys_in_params, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_framing_largest_request_fits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_overflow_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_token_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_after_close_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_message_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_internal_call, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
