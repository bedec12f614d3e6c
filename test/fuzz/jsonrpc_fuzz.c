/*
 * libFuzzer target for lib/jsonrpc's request path: framing (scanner),
 * parsing with duplicate-key marking, token limit, envelopes, batches and
 * answers that arrive after the connection is gone. Not built by default:
 * `make fuzz` builds it (with clang-built, instrumented archives of
 * lib/{jsonrpc,thread,env,util,log} in build-fuzz/) and runs it for
 * FUZZ_SECONDS from test/fuzz/corpus/jsonrpc_fuzz/; by hand:
 *
 *   make fuzz-build && build-fuzz/bin/jsonrpc_fuzz -max_total_time=60
 *
 * The input's first byte picks the write size, so the same text is also
 * delivered in slices, the way a socket may deliver it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "../../lib/jsonrpc/jsonrpc_internal.h"

#define MAX_HELD 32
static struct jsonrpc_request *g_held[MAX_HELD];
static int g_held_count;
static struct jsonrpc_server *g_server;

static void
handler(struct jsonrpc_request *req, const char *method, const json_t *params)
{
	if (strcmp(method, "hold") == 0 && g_held_count < MAX_HELD) {
		g_held[g_held_count++] = req;
	} else if (strcmp(method, "pause") == 0) {
		jsonrpc_server_pause(g_server);
		jsonrpc_send_bool(req, true);
	} else if (strcmp(method, "resume") == 0) {
		jsonrpc_server_resume(g_server);
		jsonrpc_send_bool(req, true);
	} else if (params != NULL && jsonrpc_object_has_duplicate_keys(params)) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "dup in %s", method);
	} else {
		jsonrpc_send_result(req, params ? json_deep_copy(params) : json_true());
	}
}

static void
quiet_sink(enum log_level level, const char *line)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_conn *conn;
	size_t slice, off = 0;
	json_t *v;
	char *out;
	int i;

	log_set_sink(quiet_sink);
	if (size == 0) {
		return 0;
	}
	slice = data[0] == 0 ? size : data[0];
	data++;
	size--;

	v = jsonrpc_parse_value((const char *)data, size);
	if (v != NULL) {
		jsonrpc_count_tokens(v, JSONRPC_MAX_TOKENS);
		json_decref(v);
	}

	g_held_count = 0;
	g_server = jsonrpc_server_create_detached(handler);
	conn = jsonrpc_conn_open(g_server, -1);
	jsonrpc_conn_get(conn);
	while (off < size) {
		size_t n = size - off < slice ? size - off : slice;

		if (jsonrpc_conn_feed(conn, data + off, n) != 0) {
			break;
		}
		off += n;
		/* keep the output buffer from pausing dispatch forever */
		free(jsonrpc_conn_take_output(conn));
	}
	/* half the held requests answered while open, half after close */
	for (i = 0; i < g_held_count / 2; i++) {
		jsonrpc_send_error(g_held[i], -5, "late");
	}
	out = jsonrpc_conn_take_output(conn);
	free(out);
	jsonrpc_server_close(g_server);
	for (; i < g_held_count; i++) {
		jsonrpc_send_bool(g_held[i], true);
	}
	jsonrpc_conn_put(conn);
	return 0;
}
