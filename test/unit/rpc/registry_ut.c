/*
 * lib/rpc registry and its core methods: lookup, aliases and their
 * deprecation warning, state masks and the exact wrong-state errors,
 * the --rpcs-allowed list, rpc_get_methods, spdk_get_version and the log
 * control methods (spec/rpc.md §1.11, §1.12, §2.1.1, §2.1.2, §2.1.9).
 * Calls go through jsonrpc_call_internal with rpc_dispatch as handler,
 * plus one real socket round trip through rpc_listen.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "lvstor/util.h"
#include "../common/ut_threads.h"
#include "../../../lib/jsonrpc/jsonrpc_internal.h"

LOG_REGISTER_COMPONENT(ut_registry_flag)

static const char *const STARTUP_ONLY_MSG =
	"Method may only be called before framework is initialized. Use --wait-for-rpc "
	"command line parameter and then issue this RPC before the framework_start_init RPC.";
static const char *const RUNTIME_ONLY_MSG =
	"Method may only be called after framework is initialized using framework_start_init RPC.";

/* ---- calling --------------------------------------------------------------- */

static int g_done;
static int g_code;
static char g_msg[512];
static char *g_result;	/* compact JSON of the result */

static void
call_done(void *arg, int code, const char *msg, const json_t *result)
{
	g_done++;
	g_code = code;
	snprintf(g_msg, sizeof(g_msg), "%s", msg != NULL ? msg : "");
	free(g_result);
	g_result = result != NULL ?
		   json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
}

/* Calls `method` with params given as JSON text (NULL: none). */
static void
call(const char *method, const char *params)
{
	json_t *p = NULL;
	int before = g_done;

	if (params != NULL) {
		p = jsonrpc_parse_value(params, strlen(params));
		assert_non_null(p);
	}
	jsonrpc_call_internal(rpc_dispatch, method, p, call_done, NULL);
	json_decref(p);
	assert_int_equal(g_done, before + 1);
}

static void
expect_result(const char *method, const char *params, const char *result)
{
	call(method, params);
	if (g_code != 0) {
		fail_msg("%s: error %d %s", method, g_code, g_msg);
	}
	assert_string_equal(g_result, result);
}

static void
expect_error(const char *method, const char *params, int code, const char *msg)
{
	call(method, params);
	assert_int_equal(g_code, code);
	assert_string_equal(g_msg, msg);
	assert_null(g_result);
}

/* ---- test methods ----------------------------------------------------------- */

static int g_ut_calls;

static void
ut_method(struct jsonrpc_request *req, const json_t *params)
{
	g_ut_calls++;
	jsonrpc_send_result(req, json_string(jsonrpc_request_method(req)));
}

static void
ut_noparams(struct jsonrpc_request *req, const json_t *params)
{
	if (!rpc_reject_params(req, params)) {
		jsonrpc_send_bool(req, true);
	}
}

RPC_REGISTER("ut_startup_only", ut_method, RPC_STATE_STARTUP)
RPC_REGISTER("ut_runtime_only", ut_noparams, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(ut_old_runtime, ut_runtime_only)
/* an alias whose target was never registered */
RPC_REGISTER_ALIAS(ut_dangling, ut_missing_target)

/* ---- log capture ------------------------------------------------------------- */

static int g_lines;
static char g_last_line[1024];
static int g_deprecations;

static void
sink(enum log_level level, const char *line)
{
	g_lines++;
	snprintf(g_last_line, sizeof(g_last_line), "%s", line);
	if (strstr(line, "is deprecated") != NULL) {
		g_deprecations++;
	}
}

static int
setup(void **state)
{
	rpc_set_state(RPC_STATE_STARTUP);
	rpc_set_allowed(NULL);
	g_ut_calls = 0;
	g_lines = 0;
	g_deprecations = 0;
	log_set_sink(sink);
	return 0;
}

static int
teardown(void **state)
{
	log_set_sink(NULL);
	rpc_set_allowed(NULL);
	rpc_set_state(RPC_STATE_STARTUP);
	free(g_result);
	g_result = NULL;
	return 0;
}

/* ---- registry ------------------------------------------------------------------ */

static void
test_method_not_found(void **state)
{
	expect_error("no_such_method", NULL, -32601, "Method not found");
	expect_error("ut_dangling", NULL, -32601, "Method not found");
	/* names are exact */
	expect_error("RPC_GET_METHODS", NULL, -32601, "Method not found");
	assert_false(rpc_method_exists("no_such_method"));
	assert_false(rpc_method_exists("ut_dangling"));
	assert_true(rpc_method_exists("rpc_get_methods"));
	assert_true(rpc_method_exists("get_rpc_methods"));
	assert_int_equal(rpc_method_state_mask("no_such_method"), 0);
	assert_int_equal(rpc_method_state_mask("ut_old_runtime"), RPC_STATE_RUNTIME);
	assert_int_equal(rpc_method_state_mask("spdk_get_version"), RPC_STATE_ANY);
}

static void
test_states(void **state)
{
	assert_int_equal(rpc_get_state(), RPC_STATE_STARTUP);
	expect_result("ut_startup_only", NULL, "\"ut_startup_only\"");
	expect_error("ut_runtime_only", NULL, -1, RUNTIME_ONLY_MSG);
	expect_error("ut_old_runtime", NULL, -1, RUNTIME_ONLY_MSG);

	rpc_set_state(RPC_STATE_RUNTIME);
	assert_int_equal(rpc_get_state(), RPC_STATE_RUNTIME);
	expect_error("ut_startup_only", NULL, -1, STARTUP_ONLY_MSG);
	expect_result("ut_runtime_only", NULL, "true");
	expect_result("spdk_get_version", NULL,
		      "{\"version\":\"lvstor v26.09-pre\",\"fields\":{\"major\":26,\"minor\":9,"
		      "\"patch\":0,\"suffix\":\"-pre\"}}");
	assert_int_equal(g_ut_calls, 1);
}

static void
test_alias_behaves_like_target_and_warns_once(void **state)
{
	rpc_set_state(RPC_STATE_RUNTIME);
	rpc_register_alias("ut_older_runtime", "ut_runtime_only");
	expect_result("ut_older_runtime", NULL, "true");
	assert_int_equal(g_deprecations, 1);
	assert_non_null(strstr(g_last_line,
			       "RPC method ut_older_runtime is deprecated. Use ut_runtime_only instead."));
	expect_result("ut_older_runtime", NULL, "true");
	assert_int_equal(g_deprecations, 1);
	/* each alias warns once on its own */
	expect_result("ut_old_runtime", NULL, "true");
	assert_true(g_deprecations <= 2);
	/* the no-params message names the method, not the alias */
	expect_error("ut_old_runtime", "{}", -32602,
		     "ut_runtime_only method requires no parameters");
	/* the request still carries the name that was called */
	rpc_set_state(RPC_STATE_STARTUP);
	rpc_register_alias("ut_old_startup", "ut_startup_only");
	expect_result("ut_old_startup", NULL, "\"ut_old_startup\"");
}

static void
test_duplicate_registration_ignored(void **state)
{
	rpc_register_method("ut_startup_only", ut_noparams, RPC_STATE_ANY);
	rpc_register_alias("rpc_get_methods", "spdk_get_version");
	assert_int_equal(rpc_method_state_mask("ut_startup_only"), RPC_STATE_STARTUP);
	expect_result("ut_startup_only", NULL, "\"ut_startup_only\"");
	assert_true(g_lines >= 2);
}

static bool
listed(const char *names_json, const char *name)
{
	char quoted[128];

	snprintf(quoted, sizeof(quoted), "\"%s\"", name);
	return strstr(names_json, quoted) != NULL;
}

static size_t
count_names(const char *names_json)
{
	json_t *v = json_loads(names_json, 0, NULL);
	size_t n = json_array_size(v);

	json_decref(v);
	return n;
}

static void
test_allow_list(void **state)
{
	assert_int_equal(rpc_set_allowed("rpc_get_methods, spdk_get_version,ut_old_runtime"), 0);
	expect_error("log_get_level", NULL, -32601, "Method not found");
	expect_error("ut_startup_only", NULL, -32601, "Method not found");
	assert_false(rpc_method_exists("log_get_level"));
	/* an allowed method's alias is allowed, and an allowed alias's target */
	expect_result("get_spdk_version", NULL,
		      "{\"version\":\"lvstor v26.09-pre\",\"fields\":{\"major\":26,\"minor\":9,"
		      "\"patch\":0,\"suffix\":\"-pre\"}}");
	assert_true(rpc_method_exists("ut_runtime_only"));
	/* hidden methods are not listed */
	call("rpc_get_methods", NULL);
	assert_true(listed(g_result, "rpc_get_methods"));
	assert_true(listed(g_result, "spdk_get_version"));
	assert_true(listed(g_result, "ut_runtime_only"));
	assert_int_equal(count_names(g_result), 3);
	call("rpc_get_methods", "{\"current\":true}");
	assert_false(listed(g_result, "ut_runtime_only"));
	assert_int_equal(count_names(g_result), 2);
	call("rpc_get_methods", "{\"include_aliases\":true}");
	assert_true(listed(g_result, "get_spdk_version"));
	assert_true(listed(g_result, "ut_old_runtime"));
	assert_false(listed(g_result, "get_log_level"));

	/* an empty list allows nothing; NULL lifts the restriction */
	assert_int_equal(rpc_set_allowed(""), 0);
	expect_error("rpc_get_methods", NULL, -32601, "Method not found");
	assert_int_equal(rpc_set_allowed(NULL), 0);
	assert_true(rpc_method_exists("log_get_level"));
}

static void
test_rpc_get_methods(void **state)
{
	static const char *methods[] = {
		"rpc_get_methods", "spdk_get_version", "log_set_level", "log_get_level",
		"log_set_print_level", "log_get_print_level", "log_set_flag", "log_clear_flag",
		"log_get_flags",
	};
	static const char *aliases[] = {
		"get_rpc_methods", "get_spdk_version", "set_log_level", "get_log_level",
		"set_log_print_level", "get_log_print_level", "set_log_flag", "clear_log_flag",
		"get_log_flags", "set_trace_flag", "clear_trace_flag", "get_trace_flags",
	};
	size_t i;

	call("rpc_get_methods", NULL);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		assert_true(listed(g_result, methods[i]));
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		assert_false(listed(g_result, aliases[i]));
	}
	assert_true(listed(g_result, "ut_runtime_only"));
	assert_false(listed(g_result, "ut_dangling"));

	call("get_rpc_methods", "{\"include_aliases\":true}");
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		assert_true(listed(g_result, aliases[i]));
	}
	assert_true(listed(g_result, "ut_old_runtime"));
	assert_false(listed(g_result, "ut_dangling"));

	/* current: only what this state allows */
	call("rpc_get_methods", "{\"current\":true}");
	assert_true(listed(g_result, "ut_startup_only"));
	assert_false(listed(g_result, "ut_runtime_only"));
	assert_true(listed(g_result, "spdk_get_version"));
	rpc_set_state(RPC_STATE_RUNTIME);
	call("rpc_get_methods", "{\"current\":true,\"include_aliases\":true}");
	assert_false(listed(g_result, "ut_startup_only"));
	assert_true(listed(g_result, "ut_runtime_only"));
	assert_true(listed(g_result, "ut_old_runtime"));
	call("rpc_get_methods", "{\"current\":false}");
	assert_true(listed(g_result, "ut_startup_only"));

	/* bad parameters */
	expect_error("rpc_get_methods", "{\"current\":1}", -32602, "Invalid parameters");
	expect_error("rpc_get_methods", "{\"bogus\":true}", -32602, "Invalid parameters");
	expect_error("rpc_get_methods", "[true]", -32602, "Invalid parameters");
	expect_error("rpc_get_methods", "{\"current\":true,\"current\":true}", -32602,
		     "Invalid parameters");
	/* null is absent */
	call("rpc_get_methods", "{\"current\":null}");
	assert_int_equal(g_code, 0);
}

static void
test_spdk_get_version(void **state)
{
	const char *expect = "{\"version\":\"lvstor v26.09-pre\",\"fields\":{\"major\":26,"
			     "\"minor\":9,\"patch\":0,\"suffix\":\"-pre\"}}";

	assert_string_equal(lvstor_version_string(), "lvstor v26.09-pre");
	expect_result("spdk_get_version", NULL, expect);
	expect_result("spdk_get_version", "null", expect);
	expect_result("get_spdk_version", NULL, expect);
	expect_error("spdk_get_version", "{}", -32602,
		     "spdk_get_version method requires no parameters");
	expect_error("get_spdk_version", "[]", -32602,
		     "spdk_get_version method requires no parameters");
}

/* ---- log control ---------------------------------------------------------------- */

static void
test_log_levels(void **state)
{
	enum log_level saved = log_get_level(), saved_print = log_get_print_level();

	expect_result("log_set_level", "{\"level\":\"DEBUG\"}", "true");
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	expect_result("log_get_level", NULL, "\"DEBUG\"");
	/* case-insensitive */
	expect_result("log_set_level", "{\"level\":\"warning\"}", "true");
	expect_result("get_log_level", NULL, "\"WARNING\"");
	expect_result("set_log_level", "{\"level\":\"Error\"}", "true");
	expect_result("log_get_level", NULL, "\"ERROR\"");

	expect_error("log_set_level", "{\"level\":\"LOUD\"}", -32602, "invalid log level");
	expect_error("log_set_level", NULL, -32603, "spdk_json_decode_object failed");
	expect_error("log_set_level", "{}", -32603, "spdk_json_decode_object failed");
	expect_error("log_set_level", "{\"level\":3}", -32603, "spdk_json_decode_object failed");
	expect_error("log_set_level", "{\"level\":\"INFO\",\"x\":1}", -32603,
		     "spdk_json_decode_object failed");
	expect_error("log_get_level", "{}", -32602, "log_get_level method requires no parameters");
	assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);

	expect_result("log_set_print_level", "{\"level\":\"notice\"}", "true");
	assert_int_equal(log_get_print_level(), LOG_LEVEL_NOTICE);
	expect_result("log_get_print_level", NULL, "\"NOTICE\"");
	expect_result("set_log_print_level", "{\"level\":\"INFO\"}", "true");
	expect_result("get_log_print_level", NULL, "\"INFO\"");
	expect_error("log_set_print_level", "{\"level\":\"x\"}", -32602, "invalid log level");
	expect_error("log_set_print_level", "{\"lvl\":\"INFO\"}", -32603,
		     "spdk_json_decode_object failed");
	expect_error("get_log_print_level", "{\"a\":1}", -32602,
		     "log_get_print_level method requires no parameters");

	log_set_level(saved);
	log_set_print_level(saved_print);
}

static void
test_log_flags(void **state)
{
	expect_result("log_set_flag", "{\"flag\":\"ut_registry_flag\"}", "true");
	assert_true(log_get_flag("ut_registry_flag"));
	call("log_get_flags", NULL);
	assert_int_equal(g_code, 0);
	assert_non_null(strstr(g_result, "\"ut_registry_flag\":true"));
	/* the libraries' own components are listed */
	assert_non_null(strstr(g_result, "\"rpc\":"));
	assert_non_null(strstr(g_result, "\"jsonrpc\":"));

	expect_result("log_clear_flag", "{\"flag\":\"ut_registry_flag\"}", "true");
	assert_false(log_get_flag("ut_registry_flag"));
	expect_result("set_trace_flag", "{\"flag\":\"ut_registry_flag\"}", "true");
	call("get_trace_flags", NULL);
	assert_non_null(strstr(g_result, "\"ut_registry_flag\":true"));
	expect_result("clear_trace_flag", "{\"flag\":\"ut_registry_flag\"}", "true");
	expect_result("set_log_flag", "{\"flag\":\"all\"}", "true");
	assert_true(log_get_flag("rpc"));
	expect_result("clear_log_flag", "{\"flag\":\"all\"}", "true");
	assert_false(log_get_flag("rpc"));
	call("get_log_flags", NULL);
	assert_null(strstr(g_result, "true"));

	expect_error("log_set_flag", "{\"flag\":\"no_such_flag\"}", -32602, "invalid log flag");
	expect_error("log_clear_flag", "{\"flag\":\"no_such_flag\"}", -32602, "invalid log flag");
	expect_error("log_set_flag", NULL, -32603, "spdk_json_decode_object failed");
	expect_error("log_set_flag", "{\"flag\":true}", -32603, "spdk_json_decode_object failed");
	expect_error("log_get_flags", "{}", -32602, "log_get_flags method requires no parameters");
}

/* ---- over the socket --------------------------------------------------------------- */

static void
test_rpc_listen_roundtrip(void **state)
{
	char dir[64], path[96], buf[4096];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"ut_runtime_only\",\"id\":1}"
			  "{\"jsonrpc\":\"2.0\",\"method\":\"get_spdk_version\",\"id\":2,\"params\":{}}";
	size_t len = 0;
	int fd, i;

	ut_threads_init(1);
	snprintf(dir, sizeof(dir), "/tmp/lvstor_rpc_ut.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rpc.sock", dir);
	assert_int_equal(rpc_listen(path), 0);
	assert_int_equal(rpc_listen(path), -EBUSY);

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	for (i = 0; i < 100 && len < 200; i++) {
		ssize_t n;

		ut_poll_threads();
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n > 0) {
			len += (size_t)n;
		}
	}
	buf[len] = '\0';
	assert_string_equal(buf,
			    "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\""
			    "Method may only be called after framework is initialized using "
			    "framework_start_init RPC.\"}}\n"
			    "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":\""
			    "spdk_get_version method requires no parameters\"}}\n");
	close(fd);
	rpc_pause();
	rpc_resume();
	rpc_close();
	rpc_close();	/* harmless twice */
	ut_poll_threads();
	ut_threads_fini();
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_method_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_behaves_like_target_and_warns_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_registration_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpc_get_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spdk_get_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpc_listen_roundtrip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
