/*
 * lib/jsonrpc private interface: the pieces shared by frame.c (finding and
 * parsing one JSON value in a byte stream), request.c (envelopes, requests,
 * batches, response text) and server.c (sockets and connections).
 *
 * Unit tests include this header to drive a connection without a socket
 * (jsonrpc_conn_feed on a detached connection) and the framer directly.
 */
#ifndef LVSTOR_JSONRPC_INTERNAL_H
#define LVSTOR_JSONRPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <jansson.h>

#include "lvstor/jsonrpc.h"

/* ---- frame.c ------------------------------------------------------------ */

/*
 * Incremental structural scanner. It never parses: it only tracks string
 * state and bracket depth over bytes it has not seen before, so that the
 * (expensive) jansson parse runs exactly once per complete value, on exactly
 * that value's bytes. Total work per connection is linear in the bytes
 * received, however the client slices its writes.
 */
enum jsonrpc_scan_state {
	JSONRPC_SCAN_IDLE,	/* between values: skipping whitespace */
	JSONRPC_SCAN_CONTAINER,	/* inside { } or [ ], outside a string */
	JSONRPC_SCAN_STRING,
	JSONRPC_SCAN_ESCAPE,	/* after a backslash inside a string */
	JSONRPC_SCAN_SCALAR,	/* a bare top-level number or literal */
};

enum jsonrpc_scan_result {
	JSONRPC_SCAN_MORE,	/* no complete value yet: wait for bytes */
	JSONRPC_SCAN_VALUE,	/* [*start, *end) is one candidate value */
	JSONRPC_SCAN_ERROR,	/* the bytes cannot be JSON: parse error */
};

struct jsonrpc_scanner {
	size_t pos;	/* next byte to examine (offset in the buffer) */
	size_t start;	/* first byte of the value being scanned */
	uint32_t depth;
	uint8_t state;
};

/*
 * Deeper nesting than jansson accepts (2048) can never parse, so the
 * scanner stops there instead of counting on.
 */
#define JSONRPC_SCAN_MAX_DEPTH 2048

void jsonrpc_scanner_reset(struct jsonrpc_scanner *sc);
int jsonrpc_scan(struct jsonrpc_scanner *sc, const char *buf, size_t len,
		 size_t *start, size_t *end);
/* Bytes at the front of the buffer the scanner no longer needs. */
size_t jsonrpc_scanner_consumed(const struct jsonrpc_scanner *sc);
/* The buffer's first n bytes were dropped: rebase the offsets. */
void jsonrpc_scanner_shift(struct jsonrpc_scanner *sc, size_t n);

/*
 * Parses exactly one JSON value (any type) from text[0, len). Returns a new
 * reference or NULL on malformed input. Objects that had a duplicate key
 * are marked (see jsonrpc_object_has_duplicate_keys).
 */
json_t *jsonrpc_parse_value(const char *text, size_t len);

/*
 * Tokens in a value the way the wire limit counts them: every scalar and
 * every member name is one, every object and array two (begin and end).
 * Stops counting once above `limit`.
 */
size_t jsonrpc_count_tokens(const json_t *value, size_t limit);

/* The hidden member that marks an object which had a duplicate key: its
 * name contains a NUL byte, which jansson never accepts from the wire. */
#define JSONRPC_DUP_KEY "\0dup"
#define JSONRPC_DUP_KEY_LEN 4
/*
 * The hidden member that keeps a real-number id's own text, so that the
 * response echoes the very token the client sent (spec §1.3: "4e0" stays
 * "4e0"); jansson itself keeps only the double. A NUL in the key means no
 * client can send it.
 */
#define JSONRPC_RAW_ID_KEY "\0rawid"
#define JSONRPC_RAW_ID_KEY_LEN 6

/* ---- server.c ----------------------------------------------------------- */

struct thread;
struct fd_handler;

struct jsonrpc_conn {
	struct jsonrpc_server *server;	/* NULL once the connection is closed */
	struct thread *thread;		/* the server's thread */
	int fd;				/* -1 when detached (tests) or closed */
	struct fd_handler *fd_handler;
	uint32_t events;		/* what fd_handler watches now */
	unsigned int refs;		/* 1 while open, +1 per request/batch/message */
	size_t pending;			/* requests dispatched but not answered */
	bool closed;
	bool eof;			/* peer finished sending */
	bool close_when_flushed;	/* after a parse error */
	bool processing;		/* inside conn_process (re-entry guard) */
	bool kick_pending;		/* a conn_process message is queued */
	bool drained;			/* last conn_process found no complete value */

	char *in;			/* received bytes not yet consumed */
	size_t in_len;
	size_t in_cap;
	struct jsonrpc_scanner scan;

	char *out;			/* response bytes not yet sent */
	size_t out_head;		/* first unsent byte */
	size_t out_len;			/* end of unsent bytes */
	size_t out_cap;

	TAILQ_ENTRY(jsonrpc_conn) link;
};

struct jsonrpc_server {
	jsonrpc_handler_fn handler;
	struct thread *thread;
	int listen_fd;
	int lock_fd;
	char *path;
	char *lock_path;
	struct fd_handler *listen_handler;
	bool accept_blocked;		/* accept() hit EMFILE/ENFILE */
	bool paused;
	TAILQ_HEAD(, jsonrpc_conn) conns;
	size_t conn_count;
};

/*
 * A server with no socket, and connections with no fd, for unit tests:
 * bytes go in with jsonrpc_conn_feed() and responses pile up in conn->out
 * (jsonrpc_conn_take_output() hands them over and empties the buffer).
 */
struct jsonrpc_server *jsonrpc_server_create_detached(jsonrpc_handler_fn handler);
/* Takes over `fd` (-1: detached). On failure closes fd and returns NULL. */
struct jsonrpc_conn *jsonrpc_conn_open(struct jsonrpc_server *server, int fd);
/* As if `data` had been received. -EPIPE once the connection is closing. */
int jsonrpc_conn_feed(struct jsonrpc_conn *conn, const void *data, size_t len);
char *jsonrpc_conn_take_output(struct jsonrpc_conn *conn);
void jsonrpc_conn_close(struct jsonrpc_conn *conn);
void jsonrpc_conn_get(struct jsonrpc_conn *conn);
void jsonrpc_conn_put(struct jsonrpc_conn *conn);

/* Queues response text (one value plus "\n") for the peer; drops it if the
 * connection is closed or closing. */
void jsonrpc_conn_send(struct jsonrpc_conn *conn, const char *text, size_t len);
/* A request of this connection was answered. */
void jsonrpc_conn_request_done(struct jsonrpc_conn *conn);

/*
 * Output buffering per connection. Above the high-water mark the server
 * stops reading and dispatching that connection's requests until the peer
 * reads (so pipelined requests cannot build up responses without bound).
 * Responses of requests already in flight are still queued, up to the hard
 * cap; a response that finds the backlog above the cap closes the
 * connection. A single response may be larger than either: the cap
 * bounds the backlog, not the answer.
 */
#define JSONRPC_OUT_HIGH_WATER (1u << 20)
#define JSONRPC_OUT_MAX (8u << 20)

/* ---- request.c ---------------------------------------------------------- */

/* Handles one parsed top-level value read from `conn`. */
void jsonrpc_handle_value(struct jsonrpc_conn *conn, json_t *value);
/* The standalone -32700 response text (with "\n"). */
extern const char jsonrpc_parse_error_text[];

#endif
