/*
 * lib/jsonrpc/server.c: the listening socket and the connections
 * (spec/rpc.md §1.1, §1.2, §1.7).
 *
 * Everything here runs on the server's thread, driven by fd events
 * (thread_fd_register, level-triggered); nothing polls on a timer.
 *
 * A connection is in one of three states:
 *   open     - in server->conns, fd registered for what it wants;
 *   closing  - close_when_flushed: after a parse error, waiting only to
 *              send what is queued (no more reading or dispatching);
 *   closed   - fd closed, off the server's list, conn->server == NULL.
 * Its memory lives until the last reference goes: the open state holds
 * one, each unanswered request and batch holds one, each queued kick
 * message holds one, and every entry point holds one while it runs, so a
 * handler may close the connection (or the whole server) under our feet.
 * After any call that can reach a handler, code re-checks conn->closed.
 *
 * What a connection watches is recomputed after every change
 * (conn_update_events): IN while it may read (not paused, not past EOF,
 * output backlog below the high-water mark), OUT while output is queued.
 * When it wants nothing the fd is unregistered altogether, so a peer that
 * hung up cannot make a level-triggered HUP fire in a loop.
 *
 * Limits, and why:
 *  - JSONRPC_MAX_CONNS (64) are serviced at once; while that many are open
 *    the listening socket is not watched and newcomers wait in the kernel's
 *    backlog (512), as the spec describes.
 *  - The receive buffer grows from 4 KiB up to JSONRPC_RECV_BUF_SIZE
 *    (256 KiB); a value that does not fit is a parse error. 64 idle
 *    connections therefore cost 256 KiB, and a busy one at most 256 KiB.
 *  - Output: see JSONRPC_OUT_HIGH_WATER / JSONRPC_OUT_MAX.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "jsonrpc_internal.h"

LOG_REGISTER_COMPONENT(jsonrpc)

/* First receive buffer; most requests are well under 1 KiB. */
#define IN_BUF_MIN 4096u

static void conn_process(struct jsonrpc_conn *conn);
static void server_update_listen(struct jsonrpc_server *server);

/* ---- references ----------------------------------------------------------- */

void
jsonrpc_conn_get(struct jsonrpc_conn *conn)
{
	conn->refs++;
}

void
jsonrpc_conn_put(struct jsonrpc_conn *conn)
{
	assert(conn->refs > 0);
	if (--conn->refs > 0) {
		return;
	}
	assert(conn->closed);
	free(conn->in);
	free(conn->out);
	free(conn);
}

/* ---- state ------------------------------------------------------------------ */

static inline size_t
out_pending(const struct jsonrpc_conn *conn)
{
	return conn->out_len - conn->out_head;
}

static bool
conn_can_dispatch(const struct jsonrpc_conn *conn)
{
	return !conn->closed && !conn->close_when_flushed && conn->server != NULL &&
	       !conn->server->paused && out_pending(conn) < JSONRPC_OUT_HIGH_WATER;
}

static bool
conn_wants_in(const struct jsonrpc_conn *conn)
{
	return conn_can_dispatch(conn) && !conn->eof;
}

static int conn_fd_event(void *ctx, uint32_t events);

static void
conn_update_events(struct jsonrpc_conn *conn)
{
	uint32_t events = 0;

	if (conn->closed || conn->fd < 0) {
		return;
	}
	if (conn_wants_in(conn)) {
		events |= FD_EVENT_IN;
	}
	if (out_pending(conn) > 0) {
		events |= FD_EVENT_OUT;
	}
	if (events == 0) {
		thread_fd_unregister(&conn->fd_handler);
		conn->events = 0;
		return;
	}
	if (conn->fd_handler == NULL) {
		conn->fd_handler = thread_fd_register(conn->fd, events, conn_fd_event, conn,
						      "jsonrpc_conn");
		if (conn->fd_handler == NULL) {
			LOG_ERR("jsonrpc: cannot watch connection fd %d: %s", conn->fd,
				strerror(errno));
			jsonrpc_conn_close(conn);
			return;
		}
	} else if (events != conn->events) {
		int rc = thread_fd_set_events(conn->fd_handler, events);

		if (rc != 0) {
			LOG_ERR("jsonrpc: cannot watch connection fd %d: %s", conn->fd,
				strerror(-rc));
			jsonrpc_conn_close(conn);
			return;
		}
	}
	conn->events = events;
}

/*
 * A half-closed peer (it sent its requests, then shut down its side) still
 * gets every answer; the connection ends when nothing is left to do.
 */
static void
conn_check_finished(struct jsonrpc_conn *conn)
{
	if (!conn->closed && conn->eof && conn->drained && conn->pending == 0 &&
	    out_pending(conn) == 0) {
		jsonrpc_conn_close(conn);
	}
}

void
jsonrpc_conn_close(struct jsonrpc_conn *conn)
{
	struct jsonrpc_server *server = conn->server;

	if (conn->closed) {
		return;
	}
	conn->closed = true;
	thread_fd_unregister(&conn->fd_handler);
	if (conn->fd >= 0) {
		close(conn->fd);
		conn->fd = -1;
	}
	if (server != NULL) {
		TAILQ_REMOVE(&server->conns, conn, link);
		server->conn_count--;
		server->accept_blocked = false;
		conn->server = NULL;
		server_update_listen(server);
	}
	jsonrpc_conn_put(conn);
}

/* ---- output ------------------------------------------------------------------ */

static void
conn_flush(struct jsonrpc_conn *conn)
{
	while (conn->fd >= 0 && out_pending(conn) > 0) {
		ssize_t n = send(conn->fd, conn->out + conn->out_head, out_pending(conn),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			conn->out_head += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			LOG_DEBUG(jsonrpc, "jsonrpc: send: %s; closing connection",
				  n < 0 ? strerror(errno) : "no progress");
			jsonrpc_conn_close(conn);
			return;
		}
	}
	if (conn->out_head == conn->out_len) {
		conn->out_head = conn->out_len = 0;
	}
}

static void conn_kick(struct jsonrpc_conn *conn);

/* Called after output drained: maybe finish closing, maybe read again. */
static void
conn_after_output(struct jsonrpc_conn *conn)
{
	if (conn->closed) {
		return;
	}
	if (conn->close_when_flushed && out_pending(conn) == 0) {
		jsonrpc_conn_close(conn);
		return;
	}
	conn_check_finished(conn);
	if (conn->closed) {
		return;
	}
	conn_update_events(conn);
	/* Requests already buffered while we were backed up get dispatched. */
	if (!conn->drained && conn_can_dispatch(conn)) {
		conn_kick(conn);
	}
}

void
jsonrpc_conn_send(struct jsonrpc_conn *conn, const char *text, size_t len)
{
	size_t need;

	if (conn->closed || conn->close_when_flushed || len == 0) {
		return;
	}
	if (out_pending(conn) >= JSONRPC_OUT_MAX) {
		LOG_WARN("jsonrpc: client does not read its responses (%zu bytes queued); "
			 "closing the connection", out_pending(conn));
		jsonrpc_conn_close(conn);
		return;
	}
	need = out_pending(conn) + len;
	if (conn->out_head > 0 && conn->out_len + len > conn->out_cap) {
		memmove(conn->out, conn->out + conn->out_head, out_pending(conn));
		conn->out_len -= conn->out_head;
		conn->out_head = 0;
	}
	if (need > conn->out_cap) {
		size_t cap = conn->out_cap ? conn->out_cap : 1024;
		char *p;

		while (cap < need) {
			cap *= 2;
		}
		p = realloc(conn->out, cap);
		if (p == NULL) {
			LOG_ERR("jsonrpc: out of memory queueing a response; closing the connection");
			jsonrpc_conn_close(conn);
			return;
		}
		conn->out = p;
		conn->out_cap = cap;
	}
	memcpy(conn->out + conn->out_len, text, len);
	conn->out_len += len;
	if (conn->fd < 0) {
		return;		/* detached: the test reads conn->out */
	}
	conn_flush(conn);
	if (!conn->processing) {
		conn_after_output(conn);
	}
}

void
jsonrpc_conn_request_done(struct jsonrpc_conn *conn)
{
	assert(conn->pending > 0);
	conn->pending--;
	if (!conn->processing) {
		conn_check_finished(conn);
	}
}

/* ---- input ------------------------------------------------------------------- */

static void
conn_parse_error(struct jsonrpc_conn *conn, const char *why)
{
	LOG_NOTICE("jsonrpc: %s from a client; closing its connection", why);
	jsonrpc_conn_send(conn, jsonrpc_parse_error_text, strlen(jsonrpc_parse_error_text));
	conn->close_when_flushed = true;
	conn->in_len = 0;
	jsonrpc_scanner_reset(&conn->scan);
	if (conn->fd >= 0 && out_pending(conn) == 0) {
		jsonrpc_conn_close(conn);
	}
}

/* Drops consumed bytes and makes room; false if the buffer is full. */
static bool
conn_make_room(struct jsonrpc_conn *conn)
{
	size_t consumed = jsonrpc_scanner_consumed(&conn->scan);

	if (consumed > 0) {
		memmove(conn->in, conn->in + consumed, conn->in_len - consumed);
		conn->in_len -= consumed;
		jsonrpc_scanner_shift(&conn->scan, consumed);
	}
	if (conn->in_cap - conn->in_len < IN_BUF_MIN / 4 && conn->in_cap < JSONRPC_RECV_BUF_SIZE) {
		size_t cap = conn->in_cap ? conn->in_cap * 2 : IN_BUF_MIN;
		char *p;

		if (cap > JSONRPC_RECV_BUF_SIZE) {
			cap = JSONRPC_RECV_BUF_SIZE;
		}
		p = realloc(conn->in, cap);
		if (p != NULL) {
			conn->in = p;
			conn->in_cap = cap;
		}
	}
	return conn->in_len < conn->in_cap;
}

/*
 * Dispatches every complete value in the buffer, while dispatching is
 * allowed. Not re-entrant: a handler that answers synchronously, pauses,
 * or resumes does not recurse here; the outer loop re-checks its condition.
 */
static void
conn_process(struct jsonrpc_conn *conn)
{
	if (conn->processing || conn->closed) {
		return;
	}
	conn->processing = true;
	jsonrpc_conn_get(conn);
	conn->drained = false;
	while (conn_can_dispatch(conn)) {
		size_t start, end;
		json_t *value;
		int rc;

		rc = jsonrpc_scan(&conn->scan, conn->in, conn->in_len, &start, &end);
		if (rc == JSONRPC_SCAN_MORE) {
			if (conn->in_len - jsonrpc_scanner_consumed(&conn->scan) >=
			    JSONRPC_RECV_BUF_SIZE) {
				conn_parse_error(conn, "a request larger than 256 KiB");
				break;
			}
			conn->drained = true;
			break;
		}
		if (rc == JSONRPC_SCAN_ERROR) {
			conn_parse_error(conn, "malformed JSON");
			break;
		}
		value = jsonrpc_parse_value(conn->in + start, end - start);
		if (value == NULL) {
			conn_parse_error(conn, "malformed JSON");
			break;
		}
		if (jsonrpc_count_tokens(value, JSONRPC_MAX_TOKENS) > JSONRPC_MAX_TOKENS) {
			json_decref(value);
			conn_parse_error(conn, "a request of more than 8192 JSON tokens");
			break;
		}
		jsonrpc_handle_value(conn, value);
		json_decref(value);
	}
	conn->processing = false;
	if (!conn->closed) {
		if (conn->close_when_flushed) {
			conn_after_output(conn);
		} else {
			conn_check_finished(conn);
			conn_update_events(conn);
		}
	}
	jsonrpc_conn_put(conn);
}

static void
conn_kick_msg(void *ctx)
{
	struct jsonrpc_conn *conn = ctx;

	conn->kick_pending = false;
	conn_process(conn);
	jsonrpc_conn_put(conn);
}

/*
 * Runs conn_process later, from the thread's loop, rather than inside
 * whatever callback noticed that dispatching may continue (a handler
 * calling jsonrpc_server_resume, say). Without a thread (detached tests)
 * it runs now.
 */
static void
conn_kick(struct jsonrpc_conn *conn)
{
	int rc;

	if (conn->kick_pending || conn->closed || conn->processing) {
		return;
	}
	if (conn->thread == NULL) {
		conn_process(conn);
		return;
	}
	jsonrpc_conn_get(conn);
	conn->kick_pending = true;
	rc = thread_send_msg(conn->thread, conn_kick_msg, conn);
	if (rc != 0) {
		LOG_ERR("jsonrpc: cannot schedule request processing: %s", strerror(-rc));
		conn->kick_pending = false;
		jsonrpc_conn_put(conn);
	}
}

static void
conn_recv(struct jsonrpc_conn *conn)
{
	ssize_t n;

	if (!conn_make_room(conn)) {
		conn_parse_error(conn, "a request larger than 256 KiB");
		return;
	}
	n = recv(conn->fd, conn->in + conn->in_len, conn->in_cap - conn->in_len, MSG_DONTWAIT);
	if (n > 0) {
		conn->in_len += (size_t)n;
		conn_process(conn);
		return;
	}
	if (n == 0) {
		if (conn->in_len > jsonrpc_scanner_consumed(&conn->scan)) {
			LOG_DEBUG(jsonrpc, "jsonrpc: client closed in the middle of a request");
		}
		conn->eof = true;
		conn_process(conn);
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		return;
	}
	LOG_DEBUG(jsonrpc, "jsonrpc: recv: %s; closing connection", strerror(errno));
	jsonrpc_conn_close(conn);
}

static int
conn_fd_event(void *ctx, uint32_t events)
{
	struct jsonrpc_conn *conn = ctx;

	jsonrpc_conn_get(conn);
	if (events & FD_EVENT_OUT) {
		conn_flush(conn);
	}
	if (!conn->closed && (events & (FD_EVENT_IN | FD_EVENT_HUP | FD_EVENT_ERR)) &&
	    conn_wants_in(conn)) {
		conn_recv(conn);
	} else if (!conn->closed && (events & FD_EVENT_ERR)) {
		jsonrpc_conn_close(conn);
	}
	conn_after_output(conn);
	jsonrpc_conn_put(conn);
	return 1;
}

/* ---- connections ---------------------------------------------------------------- */

struct jsonrpc_conn *
jsonrpc_conn_open(struct jsonrpc_server *server, int fd)
{
	struct jsonrpc_conn *conn = calloc(1, sizeof(*conn));

	if (conn != NULL) {
		conn->in = malloc(IN_BUF_MIN);
	}
	if (conn == NULL || conn->in == NULL) {
		free(conn);
		if (fd >= 0) {
			close(fd);
		}
		return NULL;
	}
	conn->in_cap = IN_BUF_MIN;
	conn->server = server;
	conn->thread = server->thread;
	conn->fd = fd;
	conn->refs = 1;
	conn->drained = true;
	jsonrpc_scanner_reset(&conn->scan);
	TAILQ_INSERT_TAIL(&server->conns, conn, link);
	server->conn_count++;

	jsonrpc_conn_get(conn);
	conn_update_events(conn);
	if (conn->closed) {
		jsonrpc_conn_put(conn);
		return NULL;
	}
	jsonrpc_conn_put(conn);
	return conn;
}

int
jsonrpc_conn_feed(struct jsonrpc_conn *conn, const void *data, size_t len)
{
	const char *p = data;

	jsonrpc_conn_get(conn);
	while (len > 0 && !conn->closed && !conn->close_when_flushed) {
		size_t n;

		if (!conn_make_room(conn)) {
			conn_parse_error(conn, "a request larger than 256 KiB");
			break;
		}
		n = conn->in_cap - conn->in_len;
		if (n > len) {
			n = len;
		}
		memcpy(conn->in + conn->in_len, p, n);
		conn->in_len += n;
		p += n;
		len -= n;
		conn_process(conn);
	}
	len = conn->closed || conn->close_when_flushed;
	jsonrpc_conn_put(conn);
	return len ? -EPIPE : 0;
}

char *
jsonrpc_conn_take_output(struct jsonrpc_conn *conn)
{
	size_t n = out_pending(conn);
	char *s = malloc(n + 1);

	if (s == NULL) {
		return NULL;
	}
	if (n > 0) {
		memcpy(s, conn->out + conn->out_head, n);
	}
	s[n] = '\0';
	conn->out_head = conn->out_len = 0;
	return s;
}

/* ---- the listening socket -------------------------------------------------------- */

static int
listen_event(void *ctx, uint32_t events)
{
	struct jsonrpc_server *server = ctx;
	int accepted = 0;

	while (server->conn_count < JSONRPC_MAX_CONNS && !server->paused) {
		int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED) {
				continue;
			}
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Retried when a connection closes. */
				LOG_ERR("jsonrpc: accept: %s", strerror(errno));
				server->accept_blocked = true;
			}
			break;
		}
		if (jsonrpc_conn_open(server, fd) == NULL) {
			/* jsonrpc_conn_open closed the fd. */
			LOG_ERR("jsonrpc: cannot set up a connection");
		} else {
			accepted++;
		}
	}
	server_update_listen(server);
	return accepted > 0;
}

static void
server_update_listen(struct jsonrpc_server *server)
{
	bool want = server->listen_fd >= 0 && !server->paused && !server->accept_blocked &&
		    server->conn_count < JSONRPC_MAX_CONNS;

	if (want && server->listen_handler == NULL) {
		server->listen_handler = thread_fd_register(server->listen_fd, FD_EVENT_IN,
							    listen_event, server, "jsonrpc_listen");
		if (server->listen_handler == NULL) {
			LOG_ERR("jsonrpc: cannot watch the listening socket: %s", strerror(errno));
		}
	} else if (!want && server->listen_handler != NULL) {
		thread_fd_unregister(&server->listen_handler);
	}
}

static struct jsonrpc_server *
server_alloc(jsonrpc_handler_fn handler)
{
	struct jsonrpc_server *server = calloc(1, sizeof(*server));

	if (server == NULL) {
		return NULL;
	}
	server->handler = handler;
	server->thread = thread_get_current();
	server->listen_fd = -1;
	server->lock_fd = -1;
	TAILQ_INIT(&server->conns);
	return server;
}

struct jsonrpc_server *
jsonrpc_server_create_detached(jsonrpc_handler_fn handler)
{
	return server_alloc(handler);
}

static char *
dup_path(const char *path, const char *suffix)
{
	size_t a = strlen(path), b = strlen(suffix);
	char *s = malloc(a + b + 1);

	if (s != NULL) {
		memcpy(s, path, a);
		memcpy(s + a, suffix, b + 1);
	}
	return s;
}

struct jsonrpc_server *
jsonrpc_server_listen(const char *path, jsonrpc_handler_fn handler, int *rc)
{
	struct jsonrpc_server *server = NULL;
	struct sockaddr_un addr;
	bool locked = false, bound = false;
	int err;

	memset(&addr, 0, sizeof(addr));
	if (path == NULL || path[0] == '\0' || handler == NULL) {
		err = -EINVAL;
		goto fail;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		LOG_ERR("RPC socket path %s is too long (at most %zu characters)", path,
			sizeof(addr.sun_path) - 1);
		err = -ENAMETOOLONG;
		goto fail;
	}
	if (thread_get_current() == NULL) {
		LOG_ERR("jsonrpc: the server must be started on a thread");
		err = -EINVAL;
		goto fail;
	}
	server = server_alloc(handler);
	if (server == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	server->path = dup_path(path, "");
	server->lock_path = dup_path(path, ".lock");
	if (server->path == NULL || server->lock_path == NULL) {
		err = -ENOMEM;
		goto fail;
	}

	server->lock_fd = open(server->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (server->lock_fd < 0) {
		err = -errno;
		LOG_ERR("Cannot open RPC lock file %s: %s", server->lock_path, strerror(errno));
		goto fail;
	}
	if (flock(server->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		err = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		LOG_ERR("RPC Unix domain socket path %s in use (lock %s is held by another "
			"process). Specify another.", path, server->lock_path);
		goto fail;
	}
	locked = true;

	/* We hold the lock, so any socket file there is stale. */
	if (unlink(path) != 0 && errno != ENOENT) {
		LOG_WARN("Cannot remove stale RPC socket %s: %s", path, strerror(errno));
	}
	server->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (server->listen_fd < 0) {
		err = -errno;
		LOG_ERR("Cannot create the RPC socket: %s", strerror(errno));
		goto fail;
	}
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (bind(server->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		err = -errno;
		LOG_ERR("Cannot bind the RPC socket to %s: %s", path, strerror(errno));
		goto fail;
	}
	bound = true;
	if (listen(server->listen_fd, JSONRPC_LISTEN_BACKLOG) != 0) {
		err = -errno;
		LOG_ERR("Cannot listen on the RPC socket %s: %s", path, strerror(errno));
		goto fail;
	}
	server_update_listen(server);
	if (server->listen_handler == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	*rc = 0;
	return server;

fail:
	if (server != NULL) {
		if (server->listen_fd >= 0) {
			close(server->listen_fd);
		}
		if (bound) {
			unlink(path);
		}
		if (locked) {
			unlink(server->lock_path);
		}
		if (server->lock_fd >= 0) {
			close(server->lock_fd);
		}
		free(server->path);
		free(server->lock_path);
		free(server);
	}
	*rc = err;
	return NULL;
}

void
jsonrpc_server_pause(struct jsonrpc_server *server)
{
	struct jsonrpc_conn *conn, *next;

	server->paused = true;
	for (conn = TAILQ_FIRST(&server->conns); conn != NULL; conn = next) {
		next = TAILQ_NEXT(conn, link);
		conn_update_events(conn);
	}
	server_update_listen(server);
}

void
jsonrpc_server_resume(struct jsonrpc_server *server)
{
	struct jsonrpc_conn *conn, *next;

	server->paused = false;
	for (conn = TAILQ_FIRST(&server->conns); conn != NULL; conn = next) {
		next = TAILQ_NEXT(conn, link);
		jsonrpc_conn_get(conn);
		conn_update_events(conn);
		/* Requests read before the pause are still in the buffer. */
		if (!conn->drained) {
			conn_kick(conn);
		}
		jsonrpc_conn_put(conn);
	}
	server_update_listen(server);
}

void
jsonrpc_server_close(struct jsonrpc_server *server)
{
	struct jsonrpc_conn *conn;

	if (server == NULL) {
		return;
	}
	while ((conn = TAILQ_FIRST(&server->conns)) != NULL) {
		jsonrpc_conn_close(conn);
	}
	thread_fd_unregister(&server->listen_handler);
	if (server->listen_fd >= 0) {
		close(server->listen_fd);
		unlink(server->path);
	}
	if (server->lock_fd >= 0) {
		/* Unlink while still holding the lock, so nobody locks a file we remove. */
		unlink(server->lock_path);
		close(server->lock_fd);
	}
	free(server->path);
	free(server->lock_path);
	free(server);
}

size_t
jsonrpc_server_conn_count(const struct jsonrpc_server *server)
{
	return server->conn_count;
}
