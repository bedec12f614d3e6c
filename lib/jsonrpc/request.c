/*
 * lib/jsonrpc/request.c: one parsed value becomes requests, requests become
 * response text (spec/rpc.md §1.3 – §1.6).
 *
 * Lifetimes. A request holds a reference on the parsed top-level value (so
 * `method`, `params` and `id` stay valid until it is answered) and on its
 * connection (so a request answered after its client left touches only
 * memory that still exists; the connection is then closed and the answer
 * is dropped). A batch holds one reference on the connection and collects
 * its elements' response texts; it is sent when its last element is
 * answered. While a batch is being dispatched it holds one extra pending
 * count, so elements answered synchronously cannot complete it early.
 *
 * Every request is answered exactly once: jsonrpc_send_* free it. A
 * successful notification (no id, or id null) produces no text; an error
 * always does, with id null for notifications (§1.5).
 *
 * Response text is assembled by hand around jansson's compact dump of the
 * result or error, so member order is fixed (jsonrpc, id, result|error)
 * and a number id is echoed the way it was sent (1 stays 1, 1.0 stays 1.0).
 */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "jsonrpc_internal.h"

struct jsonrpc_batch {
	struct jsonrpc_conn *conn;
	size_t pending;		/* elements not answered (+1 while dispatching) */
	size_t count;		/* responses collected */
	char *text;		/* "[" resp "," resp ... */
	size_t len;
	size_t cap;
};

struct jsonrpc_request {
	struct jsonrpc_conn *conn;	/* NULL for internal calls */
	struct jsonrpc_batch *batch;	/* NULL unless a batch element */
	json_t *root;			/* keeps method/params/id alive */
	const json_t *id;		/* NULL: none */
	const char *method;
	bool notification;
	/* internal calls (jsonrpc_call_internal) */
	jsonrpc_internal_cb internal_cb;
	void *internal_arg;
	char *method_copy;
};

const char jsonrpc_parse_error_text[] =
	"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n";

/* A response we could not build for lack of memory still gets an answer. */
static const char internal_error_body[] = "{\"code\":-32603,\"message\":\"Internal error\"}";

/* ---- text helpers -------------------------------------------------------- */

static char *
vformat(const char *fmt, va_list ap)
{
	va_list copy;
	char *s;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0) {
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (s != NULL) {
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	}
	return s;
}

static char *
format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

/* Shortest text that reads back as the same double, always looking real. */
static char *
format_real(double v)
{
	char buf[64];
	int prec;

	if (!isfinite(v)) {
		return format("null");
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v) {
			break;
		}
	}
	if (strpbrk(buf, ".eE") == NULL) {
		return format("%s.0", buf);
	}
	return format("%s", buf);
}

static char *
format_id(const json_t *id, const json_t *raw)
{
	if (id == NULL || json_is_null(id)) {
		return format("null");
	}
	if (json_is_real(id)) {
		if (json_is_string(raw)) {
			return format("%s", json_string_value(raw));
		}
		return format_real(json_real_value(id));
	}
	return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
}

/*
 * {"jsonrpc":"2.0","id":ID,"MEMBER":BODY} (no newline), or NULL on -ENOMEM.
 * `request` (may be NULL) supplies the id's original text, if it kept one.
 */
static char *
build_response(const json_t *id, const json_t *request, const char *member, const char *body)
{
	const json_t *raw = json_is_object(request) ?
			    json_object_getn(request, JSONRPC_RAW_ID_KEY, JSONRPC_RAW_ID_KEY_LEN) :
			    NULL;
	char *id_text = format_id(id, raw);
	char *text;

	if (id_text == NULL) {
		return NULL;
	}
	text = format("{\"jsonrpc\":\"2.0\",\"id\":%s,\"%s\":%s}", id_text, member, body);
	free(id_text);
	return text;
}

/* A JSON string from bytes that may not be valid UTF-8 (handler text). */
static json_t *
message_string(const char *msg)
{
	json_t *s = json_string(msg);
	char *copy;
	size_t i;

	if (s != NULL) {
		return s;
	}
	copy = strdup(msg);
	if (copy == NULL) {
		return NULL;
	}
	for (i = 0; copy[i] != '\0'; i++) {
		if ((unsigned char)copy[i] >= 0x80 || (unsigned char)copy[i] < 0x20) {
			copy[i] = '?';
		}
	}
	s = json_string(copy);
	free(copy);
	return s;
}

static char *
error_body(int code, const char *msg)
{
	json_t *err = json_object();
	char *body = NULL;

	if (err != NULL &&
	    json_object_set_new(err, "code", json_integer(code)) == 0 &&
	    json_object_set_new(err, "message", message_string(msg != NULL ? msg : "")) == 0) {
		body = json_dumps(err, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	json_decref(err);
	return body;
}

/* ---- batches ------------------------------------------------------------- */

static void
batch_add(struct jsonrpc_batch *batch, const char *text)
{
	size_t len = strlen(text);
	size_t need = batch->len + len + 3;	/* separator, "]\n" */

	if (need > batch->cap) {
		size_t cap = batch->cap ? batch->cap : 256;
		char *p;

		while (cap < need) {
			cap *= 2;
		}
		p = realloc(batch->text, cap);
		if (p == NULL) {
			LOG_ERR("jsonrpc: out of memory collecting a batch response; entry dropped");
			return;
		}
		batch->text = p;
		batch->cap = cap;
	}
	batch->text[batch->len++] = batch->count == 0 ? '[' : ',';
	memcpy(batch->text + batch->len, text, len);
	batch->len += len;
	batch->count++;
}

static void
batch_put(struct jsonrpc_batch *batch)
{
	assert(batch->pending > 0);
	if (--batch->pending > 0) {
		return;
	}
	if (batch->count > 0) {
		/* batch_add always leaves room for these two bytes. */
		batch->text[batch->len++] = ']';
		batch->text[batch->len++] = '\n';
		jsonrpc_conn_send(batch->conn, batch->text, batch->len);
	}
	jsonrpc_conn_put(batch->conn);
	free(batch->text);
	free(batch);
}

/* ---- answering ----------------------------------------------------------- */

static void
request_free(struct jsonrpc_request *req)
{
	json_decref(req->root);
	free(req->method_copy);
	free(req);
}

/* Delivers `text` (owned; NULL = nothing to send) and frees the request. */
static void
request_finish(struct jsonrpc_request *req, char *text)
{
	struct jsonrpc_conn *conn = req->conn;

	if (req->batch != NULL) {
		if (text != NULL) {
			batch_add(req->batch, text);
		}
		batch_put(req->batch);
	} else if (text != NULL) {
		size_t len = strlen(text);
		char *line = realloc(text, len + 2);

		if (line != NULL) {
			text = line;
			text[len] = '\n';
			text[len + 1] = '\0';
			jsonrpc_conn_send(conn, text, len + 1);
		} else {
			LOG_ERR("jsonrpc: out of memory sending a response; dropped");
		}
	}
	free(text);
	jsonrpc_conn_request_done(conn);
	jsonrpc_conn_put(conn);
	request_free(req);
}

void
jsonrpc_send_result(struct jsonrpc_request *req, json_t *result)
{
	char *body, *text = NULL;

	assert(req != NULL);
	if (result == NULL) {
		result = json_null();
	}
	if (req->internal_cb != NULL) {
		req->internal_cb(req->internal_arg, 0, NULL, result);
		json_decref(result);
		request_free(req);
		return;
	}
	if (!req->notification) {
		body = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
		text = build_response(req->id, req->root, body != NULL ? "result" : "error",
				      body != NULL ? body : internal_error_body);
		free(body);
	}
	json_decref(result);
	request_finish(req, text);
}

void
jsonrpc_send_bool(struct jsonrpc_request *req, bool value)
{
	jsonrpc_send_result(req, json_boolean(value));
}

static void
send_error_msg(struct jsonrpc_request *req, int code, const char *msg)
{
	char *body, *text;

	if (req->internal_cb != NULL) {
		req->internal_cb(req->internal_arg, code, msg != NULL ? msg : "Internal error", NULL);
		request_free(req);
		return;
	}
	body = error_body(code, msg);
	/* A notification's id is null or absent: both are sent as null. */
	text = build_response(req->notification ? NULL : req->id, req->root, "error",
			      body != NULL ? body : internal_error_body);
	free(body);
	request_finish(req, text);
}

void
jsonrpc_send_error(struct jsonrpc_request *req, int code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	assert(req != NULL);
	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	send_error_msg(req, code, msg);
	free(msg);
}

void
jsonrpc_send_errno(struct jsonrpc_request *req, int neg_errno)
{
	send_error_msg(req, neg_errno, strerror(-neg_errno));
}

void
jsonrpc_send_errno_invalid_params(struct jsonrpc_request *req, int neg_errno)
{
	send_error_msg(req, JSONRPC_ERROR_INVALID_PARAMS, strerror(-neg_errno));
}

const char *
jsonrpc_request_method(const struct jsonrpc_request *req)
{
	return req->method;
}

/* ---- envelopes ----------------------------------------------------------- */

int
jsonrpc_parse_envelope(const json_t *request, const char **method, const json_t **params,
		       const json_t **id)
{
	const json_t *version = NULL, *m = NULL, *p = NULL, *i = NULL;
	const char *key;
	size_t key_len;
	json_t *value;
	bool invalid = false;

	*method = NULL;
	*params = NULL;
	*id = NULL;
	if (!json_is_object(request)) {
		return JSONRPC_ERROR_INVALID_REQUEST;
	}
	/* Strict: any other member (including a repeated one) is invalid. */
	json_object_keylen_foreach((json_t *)request, key, key_len, value) {
		if (key_len == JSONRPC_RAW_ID_KEY_LEN &&
		    memcmp(key, JSONRPC_RAW_ID_KEY, JSONRPC_RAW_ID_KEY_LEN) == 0) {
			continue; /* ours, not the client's */
		} else if (key_len != strlen(key)) {
			return JSONRPC_ERROR_INVALID_REQUEST;
		} else if (strcmp(key, "jsonrpc") == 0) {
			version = value;
		} else if (strcmp(key, "method") == 0) {
			m = value;
		} else if (strcmp(key, "params") == 0) {
			p = value;
		} else if (strcmp(key, "id") == 0) {
			i = value;
		} else {
			return JSONRPC_ERROR_INVALID_REQUEST;
		}
	}
	if (version != NULL &&
	    !(json_is_string(version) && json_string_length(version) == 3 &&
	      memcmp(json_string_value(version), "2.0", 3) == 0)) {
		invalid = true;
	}
	if (json_is_string(m)) {
		*method = json_string_value(m);
	} else {
		invalid = true;
	}
	if (i != NULL) {
		if (json_is_string(i) || json_is_number(i) || json_is_null(i)) {
			*id = i;
		} else {
			invalid = true;
		}
	}
	if (p != NULL) {
		if (json_is_object(p) || json_is_array(p)) {
			*params = p;
		} else if (!json_is_null(p)) {
			invalid = true;
		}
	}
	return invalid ? JSONRPC_ERROR_INVALID_REQUEST : 0;
}

/* ---- dispatch ------------------------------------------------------------- */

static void
handle_single(struct jsonrpc_conn *conn, struct jsonrpc_batch *batch, json_t *value)
{
	struct jsonrpc_request *req;
	const json_t *params, *id;
	const char *method;
	int rc;

	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		char *text = build_response(NULL, NULL, "error", internal_error_body);

		LOG_ERR("jsonrpc: out of memory for a request");
		if (text != NULL) {
			if (batch != NULL) {
				batch_add(batch, text);
			} else {
				jsonrpc_conn_send(conn, text, strlen(text));
				jsonrpc_conn_send(conn, "\n", 1);
			}
		}
		free(text);
		return;
	}
	req->conn = conn;
	jsonrpc_conn_get(conn);
	conn->pending++;
	req->batch = batch;
	if (batch != NULL) {
		batch->pending++;
	}
	req->root = json_incref(value);

	rc = jsonrpc_parse_envelope(value, &method, &params, &id);
	req->id = id;
	req->method = method;
	if (rc != 0) {
		req->notification = false;
		send_error_msg(req, JSONRPC_ERROR_INVALID_REQUEST, "Invalid request");
		return;
	}
	req->notification = id == NULL || json_is_null(id);
	conn->server->handler(req, method, params);
}

void
jsonrpc_handle_value(struct jsonrpc_conn *conn, json_t *value)
{
	struct jsonrpc_batch *batch;
	json_t *element;
	size_t i;

	if (!json_is_array(value)) {
		handle_single(conn, NULL, value);
		return;
	}
	if (json_array_size(value) == 0) {
		static const char empty[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
					    "{\"code\":-32600,\"message\":\"Invalid request\"}}\n";

		jsonrpc_conn_send(conn, empty, sizeof(empty) - 1);
		return;
	}
	batch = calloc(1, sizeof(*batch));
	if (batch == NULL) {
		static const char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
					  "{\"code\":-32603,\"message\":\"Internal error\"}}\n";

		LOG_ERR("jsonrpc: out of memory for a batch");
		jsonrpc_conn_send(conn, oom, sizeof(oom) - 1);
		return;
	}
	batch->conn = conn;
	jsonrpc_conn_get(conn);
	batch->pending = 1;
	json_array_foreach(value, i, element) {
		/* A handler may close the connection or the server mid-batch. */
		if (conn->closed) {
			break;
		}
		handle_single(conn, batch, element);
	}
	batch_put(batch);
}

/* ---- internal calls ------------------------------------------------------- */

void
jsonrpc_call_internal(jsonrpc_handler_fn handler, const char *method, const json_t *params,
		      jsonrpc_internal_cb cb, void *cb_arg)
{
	struct jsonrpc_request *req = calloc(1, sizeof(*req));

	if (req == NULL || (req->method_copy = strdup(method)) == NULL) {
		free(req);
		cb(cb_arg, JSONRPC_ERROR_INTERNAL_ERROR, "Internal error", NULL);
		return;
	}
	req->method = req->method_copy;
	req->internal_cb = cb;
	req->internal_arg = cb_arg;
	if (params != NULL && !json_is_null(params)) {
		req->root = json_incref((json_t *)params);
	}
	handler(req, req->method, req->root);
}
