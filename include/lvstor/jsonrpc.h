/*
 * lib/jsonrpc: JSON-RPC 2.0 over a Unix stream socket (spec/rpc.md §1).
 *
 * The server lives on one light-weight thread (the application thread).
 * Its listening socket and every connection are registered with
 * thread_fd_register(), so a request wakes a sleeping reactor at once; no
 * timer polls the socket. Each connection buffers at most 256 KiB of
 * request text; a request is one complete JSON value (no delimiter), parsed
 * with jansson. Malformed JSON or more than 8192 tokens gets -32700 and the
 * connection is closed. Responses are compact JSON plus "\n", sent in
 * completion order.
 *
 * A handler may answer later (after messages to other threads); it must
 * answer exactly once, on the server's thread. If the client went away,
 * the answer is dropped.
 */
#ifndef LVSTOR_JSONRPC_H
#define LVSTOR_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define JSONRPC_ERROR_PARSE_ERROR      -32700
#define JSONRPC_ERROR_INVALID_REQUEST  -32600
#define JSONRPC_ERROR_METHOD_NOT_FOUND -32601
#define JSONRPC_ERROR_INVALID_PARAMS   -32602
#define JSONRPC_ERROR_INTERNAL_ERROR   -32603
#define JSONRPC_ERROR_INVALID_STATE    -1

#define JSONRPC_RECV_BUF_SIZE   (256 * 1024)  /* one request must fit (spec §1.2) */
#define JSONRPC_MAX_TOKENS      8192          /* spec §1.2 */
#define JSONRPC_MAX_CONNS       64            /* serviced at once (spec §1.1) */
#define JSONRPC_LISTEN_BACKLOG  512

struct jsonrpc_server;
struct jsonrpc_request;

/*
 * Called for each valid request envelope. `params` is NULL when absent or
 * null (borrowed: valid until the request is answered). The handler must
 * eventually call one of the jsonrpc_send_* functions for `req`.
 */
typedef void (*jsonrpc_handler_fn)(struct jsonrpc_request *req, const char *method,
				   const json_t *params);

/*
 * Listens on `path` from the current thread: takes an exclusive flock on
 * "<path>.lock" (fails with -EADDRINUSE if another daemon holds it),
 * unlinks a stale socket, binds and listens. -ENAMETOOLONG if the path does
 * not fit sun_path. Returns NULL and sets *rc on failure.
 */
struct jsonrpc_server *jsonrpc_server_listen(const char *path, jsonrpc_handler_fn handler,
					     int *rc);
/*
 * Stops reading requests (they wait in the socket, and new clients in the
 * backlog) / starts again. Requests already received when the pause came
 * are dispatched after resume. Answers keep flowing while paused.
 */
void jsonrpc_server_pause(struct jsonrpc_server *server);
void jsonrpc_server_resume(struct jsonrpc_server *server);
/*
 * Closes every connection and the listening socket and removes the socket
 * and lock files. Requests still being handled complete into nothing.
 * Like every server function, call it on the server's thread. NULL is a
 * no-op.
 */
void jsonrpc_server_close(struct jsonrpc_server *server);
size_t jsonrpc_server_conn_count(const struct jsonrpc_server *server);

/*
 * A request made inside the process (the --json config replay) rather
 * than read from a socket. cb runs once, with either result (error_code
 * 0) or an error; result is borrowed for the duration of cb.
 */
typedef void (*jsonrpc_internal_cb)(void *cb_arg, int error_code, const char *error_msg,
				    const json_t *result);
void jsonrpc_call_internal(jsonrpc_handler_fn handler, const char *method,
			   const json_t *params, jsonrpc_internal_cb cb, void *cb_arg);

/*
 * Answers, exactly once per request, on the server's thread; the request
 * is freed by the call. `result` is stolen (json_decref'ed by the library;
 * NULL sends null). A successful notification sends nothing; an error
 * always goes out, with id null for a notification (spec §1.5).
 */
void jsonrpc_send_result(struct jsonrpc_request *req, json_t *result);
void jsonrpc_send_bool(struct jsonrpc_request *req, bool value);
void jsonrpc_send_error(struct jsonrpc_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Convention A of spec §1.8.2: code = -errno, message = strerror(errno). */
void jsonrpc_send_errno(struct jsonrpc_request *req, int neg_errno);
/* Convention B: code -32602, message = strerror(errno). */
void jsonrpc_send_errno_invalid_params(struct jsonrpc_request *req, int neg_errno);

const char *jsonrpc_request_method(const struct jsonrpc_request *req);

/*
 * Parses the text of one request envelope (spec §1.3) — exposed for tests
 * and fuzzing. On success returns 0 and sets *method, *params (may be NULL)
 * and *id (may be NULL: notification), all borrowed from `request`.
 * Otherwise returns JSONRPC_ERROR_INVALID_REQUEST; *id is then still set
 * when the envelope's members were known and its id had a valid type, so
 * the error can echo it (an unknown or repeated member leaves it NULL).
 */
int jsonrpc_parse_envelope(const json_t *request, const char **method,
			   const json_t **params, const json_t **id);

/*
 * True if `object` was received with a repeated member name. jansson keeps
 * only the last value of a repeated key; the server marks such objects so
 * that strict parameter decoding (lib/rpc) can reject them (spec §1.9).
 */
bool jsonrpc_object_has_duplicate_keys(const json_t *object);

#endif
