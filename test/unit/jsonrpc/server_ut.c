/*
 * lib/jsonrpc over a real Unix socket in a temporary directory, stepped by
 * the deterministic thread harness: the lock file, stale sockets, path
 * length, clients that vanish, send garbage or never read, the connection
 * limit, pause/resume, and closing the server under pending requests.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lvstor/thread.h"
#include "../common/ut_threads.h"
#include "../../../lib/jsonrpc/jsonrpc_internal.h"

#define OK_TRUE(ID) "{\"jsonrpc\":\"2.0\",\"id\":" ID ",\"result\":true}\n"
#define PARSE_ERROR \
	"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n"

static char g_dir[64];
static char g_path[128];
static struct jsonrpc_server *g_server;

#define MAX_HELD 64
static struct jsonrpc_request *g_held[MAX_HELD];
static int g_held_count;
static int g_calls;

static void
test_handler(struct jsonrpc_request *req, const char *method, const json_t *params)
{
	g_calls++;
	if (strcmp(method, "echo") == 0) {
		jsonrpc_send_result(req, params ? json_deep_copy(params) : json_true());
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
	int rc;

	ut_threads_init(1);
	snprintf(g_dir, sizeof(g_dir), "/tmp/lvstor_jsonrpc_ut.XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	snprintf(g_path, sizeof(g_path), "%s/rpc.sock", g_dir);
	g_server = jsonrpc_server_listen(g_path, test_handler, &rc);
	assert_non_null(g_server);
	assert_int_equal(rc, 0);
	g_held_count = 0;
	g_calls = 0;
	return 0;
}

static int
teardown(void **state)
{
	char lock[160];

	jsonrpc_server_close(g_server);
	g_server = NULL;
	ut_poll_threads();
	ut_threads_fini();
	/* close removed both files */
	snprintf(lock, sizeof(lock), "%s.lock", g_path);
	assert_int_equal(access(g_path, F_OK), -1);
	assert_int_equal(access(lock, F_OK), -1);
	assert_int_equal(rmdir(g_dir), 0);
	return 0;
}

/* ---- client helpers --------------------------------------------------------- */

static int
client_connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static int
client_connect(void)
{
	return client_connect_to(g_path);
}

/* Sends everything, letting the server run while the socket is full. */
static int
client_send_bytes(int fd, const void *data, size_t len)
{
	const char *p = data;
	int stuck = 0;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			stuck = 0;
			continue;
		}
		if (n < 0 && errno != EAGAIN) {
			return -errno;
		}
		if (ut_poll_threads() == 0 && ++stuck > 100) {
			return -EAGAIN;
		}
	}
	return 0;
}

static void
client_send(int fd, const char *text)
{
	assert_int_equal(client_send_bytes(fd, text, strlen(text)), 0);
}

static size_t
count_char(const char *s, size_t len, char c)
{
	size_t n = 0, i;

	for (i = 0; i < len; i++) {
		n += s[i] == c;
	}
	return n;
}

/*
 * Polls the server and reads until `lines` responses arrived, EOF, or the
 * server is idle with nothing to read. Returns the text (caller frees);
 * *eof tells whether the server closed the connection.
 */
static char *
client_read(int fd, size_t lines, bool *eof)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int idle = 0;

	assert_non_null(buf);
	if (eof != NULL) {
		*eof = false;
	}
	while (count_char(buf, len, '\n') < lines && idle < 3) {
		ssize_t n;

		if (cap - len < 65536) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ut_poll_threads();
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n > 0) {
			len += (size_t)n;
			idle = 0;
		} else if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			if (eof != NULL) {
				*eof = true;
			}
			break;
		} else {
			idle++;
		}
	}
	buf[len] = '\0';
	return buf;
}

static void
expect_response(int fd, const char *expected)
{
	char *out = client_read(fd, count_char(expected, strlen(expected), '\n'), NULL);

	assert_string_equal(out, expected);
	free(out);
}

static void
expect_eof(int fd)
{
	bool eof;
	char *out = client_read(fd, 1000, &eof);

	assert_true(eof);
	free(out);
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_basic_request(void **state)
{
	int fd = client_connect();

	client_send(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
	expect_response(fd, OK_TRUE("1"));
	assert_int_equal(jsonrpc_server_conn_count(g_server), 1);
	/* a persistent connection: more requests, pipelined */
	client_send(fd, "{\"method\":\"echo\",\"id\":2}{\"method\":\"echo\",\"id\":3}");
	expect_response(fd, OK_TRUE("2") OK_TRUE("3"));
	close(fd);
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
}

static void
test_lock_prevents_second_server(void **state)
{
	char lock[160];
	struct stat st;
	struct jsonrpc_server *second;
	int rc = 0, fd;

	snprintf(lock, sizeof(lock), "%s.lock", g_path);
	assert_int_equal(stat(lock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	second = jsonrpc_server_listen(g_path, test_handler, &rc);
	assert_null(second);
	assert_int_equal(rc, -EADDRINUSE);
	/* the first server and its files are untouched */
	assert_int_equal(access(g_path, F_OK), 0);
	assert_int_equal(access(lock, F_OK), 0);
	fd = client_connect();
	client_send(fd, "{\"method\":\"echo\",\"id\":1}");
	expect_response(fd, OK_TRUE("1"));
	close(fd);

	/* after close, the path is free again */
	jsonrpc_server_close(g_server);
	assert_int_equal(access(g_path, F_OK), -1);
	g_server = jsonrpc_server_listen(g_path, test_handler, &rc);
	assert_non_null(g_server);
}

static void
test_stale_socket_replaced(void **state)
{
	char path[160];
	struct jsonrpc_server *server;
	int rc, fd;

	/* a file left behind by a crashed daemon (no lock held) */
	snprintf(path, sizeof(path), "%s/stale.sock", g_dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	server = jsonrpc_server_listen(path, test_handler, &rc);
	assert_non_null(server);
	fd = client_connect_to(path);
	client_send(fd, "{\"method\":\"echo\",\"id\":7}");
	expect_response(fd, OK_TRUE("7"));
	close(fd);
	jsonrpc_server_close(server);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_path_length(void **state)
{
	struct sockaddr_un addr;
	char path[sizeof(addr.sun_path) + 8];
	struct jsonrpc_server *server;
	size_t prefix = strlen(g_dir) + 1;
	int rc = 0;

	/* sizeof(sun_path) characters: one too many */
	memset(path, 'a', sizeof(path));
	memcpy(path, g_dir, prefix - 1);
	path[prefix - 1] = '/';
	path[sizeof(addr.sun_path)] = '\0';
	server = jsonrpc_server_listen(path, test_handler, &rc);
	assert_null(server);
	assert_int_equal(rc, -ENAMETOOLONG);

	/* one fewer fits */
	path[sizeof(addr.sun_path) - 1] = '\0';
	server = jsonrpc_server_listen(path, test_handler, &rc);
	assert_non_null(server);
	jsonrpc_server_close(server);
}

static void
test_disconnect_mid_request(void **state)
{
	int fd = client_connect();

	/* an asynchronous request whose client leaves before the answer */
	client_send(fd, "{\"method\":\"hold\",\"id\":1}");
	ut_poll_threads();
	assert_int_equal(g_held_count, 1);
	close(fd);
	ut_poll_threads();
	jsonrpc_send_bool(g_held[0], true);
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);

	/* a truncated request, then close */
	fd = client_connect();
	client_send(fd, "{\"method\":\"echo\",\"id\":2,\"params\":{\"a\":[1,2");
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 1);
	close(fd);
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
	assert_int_equal(g_calls, 1);
}

static void
test_half_close_still_answered(void **state)
{
	int fd = client_connect();

	client_send(fd, "{\"method\":\"echo\",\"id\":1}{\"method\":\"hold\",\"id\":2}");
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect_response(fd, OK_TRUE("1"));
	assert_int_equal(g_held_count, 1);
	/* the connection waits for the pending answer */
	assert_int_equal(jsonrpc_server_conn_count(g_server), 1);
	jsonrpc_send_bool(g_held[0], true);
	expect_response(fd, OK_TRUE("2"));
	expect_eof(fd);
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
	close(fd);
}

static void
other_client_works(void)
{
	int fd = client_connect();

	client_send(fd, "{\"method\":\"echo\",\"id\":\"other\"}");
	expect_response(fd, OK_TRUE("\"other\""));
	close(fd);
	ut_poll_threads();
}

static void
send_flood(int fd, char first, char fill, size_t total)
{
	char chunk[65536];
	size_t sent = 0;
	int rc = 0;

	memset(chunk, fill, sizeof(chunk));
	chunk[0] = first;
	while (sent < total && rc == 0) {
		rc = client_send_bytes(fd, chunk, sizeof(chunk));
		chunk[0] = fill;
		sent += sizeof(chunk);
	}
	/* the server stopped reading and closed long before the end */
	assert_true(rc == -EPIPE || rc == -ECONNRESET || rc == -EAGAIN);
	assert_true(sent < total);
}

static void
test_garbage_10mb(void **state)
{
	int fd = client_connect();
	char *out;
	bool eof;

	send_flood(fd, '\x17', '\xa5', 10u << 20);
	out = client_read(fd, 1000, &eof);
	assert_string_equal(out, PARSE_ERROR);
	assert_true(eof);
	free(out);
	close(fd);
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
	other_client_works();
}

static void
test_endless_valid_prefix_10mb(void **state)
{
	/* "[1111..." never completes: the 256 KiB buffer overflows */
	int fd = client_connect();
	char *out;
	bool eof;

	send_flood(fd, '[', '1', 10u << 20);
	out = client_read(fd, 1000, &eof);
	assert_string_equal(out, PARSE_ERROR);
	assert_true(eof);
	free(out);
	close(fd);
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
	assert_int_equal(g_calls, 0);
	other_client_works();
}

#define NCLIENTS (JSONRPC_MAX_CONNS + 6)

static void
test_connection_limit(void **state)
{
	int fds[NCLIENTS], i;
	char req[64], resp[80];

	for (i = 0; i < NCLIENTS; i++) {
		fds[i] = client_connect();
		snprintf(req, sizeof(req), "{\"method\":\"echo\",\"id\":%d}", i);
		client_send(fds[i], req);
	}
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), JSONRPC_MAX_CONNS);
	for (i = 0; i < JSONRPC_MAX_CONNS; i++) {
		snprintf(resp, sizeof(resp), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":true}\n", i);
		expect_response(fds[i], resp);
	}
	/* the rest wait in the backlog, unanswered */
	for (i = JSONRPC_MAX_CONNS; i < NCLIENTS; i++) {
		char *out = client_read(fds[i], 1, NULL);

		assert_string_equal(out, "");
		free(out);
	}
	assert_int_equal(g_calls, JSONRPC_MAX_CONNS);
	/* slots free up: the waiting clients get in */
	for (i = 0; i < NCLIENTS - JSONRPC_MAX_CONNS; i++) {
		close(fds[i]);
	}
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), JSONRPC_MAX_CONNS);
	for (i = JSONRPC_MAX_CONNS; i < NCLIENTS; i++) {
		snprintf(resp, sizeof(resp), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":true}\n", i);
		expect_response(fds[i], resp);
	}
	for (i = NCLIENTS - JSONRPC_MAX_CONNS; i < NCLIENTS; i++) {
		close(fds[i]);
	}
	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
}

static struct jsonrpc_conn *
only_conn(void)
{
	assert_int_equal(jsonrpc_server_conn_count(g_server), 1);
	return TAILQ_FIRST(&g_server->conns);
}

static void
test_slow_reader_backpressure(void **state)
{
	/* 40 requests of 200 KB answers, 8 MB in all, and the client reads nothing */
	const int nreq = 40;
	int fd = client_connect(), i;
	struct jsonrpc_conn *conn;
	char *out;

	for (i = 0; i < nreq; i++) {
		char req[96];

		snprintf(req, sizeof(req), "{\"method\":\"big\",\"id\":%d,\"params\":{\"len\":200000}}",
			 i);
		client_send(fd, req);
	}
	ut_poll_threads();
	conn = only_conn();
	/* the server stopped dispatching once a megabyte was queued */
	assert_true(g_calls < nreq);
	assert_true(conn->out_len - conn->out_head < JSONRPC_OUT_HIGH_WATER + 300000);
	assert_false(conn->events & FD_EVENT_IN);
	/* reading drains it all, in order */
	out = client_read(fd, (size_t)nreq, NULL);
	assert_int_equal(count_char(out, strlen(out), '\n'), nreq);
	assert_int_equal(g_calls, nreq);
	assert_non_null(strstr(out, "{\"jsonrpc\":\"2.0\",\"id\":39,\"result\":\"xxx"));
	free(out);
	close(fd);
}

static void
test_slow_reader_hard_cap(void **state)
{
	/* answers already in flight may not pile up past the cap either */
	int fd = client_connect(), i;
	char *big;

	for (i = 0; i < 12; i++) {
		char req[64];

		snprintf(req, sizeof(req), "{\"method\":\"hold\",\"id\":%d}", i);
		client_send(fd, req);
	}
	ut_poll_threads();
	assert_int_equal(g_held_count, 12);
	big = malloc(1u << 20);
	assert_non_null(big);
	memset(big, 'y', (1u << 20) - 1);
	big[(1u << 20) - 1] = '\0';
	for (i = 0; i < 12; i++) {
		jsonrpc_send_result(g_held[i], json_string(big));
		ut_poll_threads();
	}
	free(big);
	/* closed once more than JSONRPC_OUT_MAX was queued; later answers dropped */
	assert_int_equal(jsonrpc_server_conn_count(g_server), 0);
	close(fd);
}

static void
test_pause_resume(void **state)
{
	int fd1 = client_connect(), fd2;
	char *out;

	ut_poll_threads();
	assert_int_equal(jsonrpc_server_conn_count(g_server), 1);
	jsonrpc_server_pause(g_server);
	client_send(fd1, "{\"method\":\"echo\",\"id\":1}");
	fd2 = client_connect();
	client_send(fd2, "{\"method\":\"echo\",\"id\":2}");
	out = client_read(fd1, 1, NULL);
	assert_string_equal(out, "");
	free(out);
	/* not even accepted while paused */
	assert_int_equal(jsonrpc_server_conn_count(g_server), 1);
	assert_int_equal(g_calls, 0);
	jsonrpc_server_resume(g_server);
	expect_response(fd1, OK_TRUE("1"));
	expect_response(fd2, OK_TRUE("2"));
	close(fd1);
	close(fd2);
}

/* Requests read before a pause (pipelined in one segment) run on resume. */
static void
test_pause_with_buffered_requests(void **state)
{
	int fd = client_connect();
	char *out;

	client_send(fd, "{\"method\":\"pause\",\"id\":1}{\"method\":\"echo\",\"id\":2}");
	out = client_read(fd, 2, NULL);
	assert_string_equal(out, OK_TRUE("1"));
	free(out);
	assert_int_equal(g_calls, 1);
	/* resumed from a message of the server's thread, as the app does */
	jsonrpc_server_resume(g_server);
	expect_response(fd, OK_TRUE("2"));
	close(fd);
}

static void
test_close_with_pending_request(void **state)
{
	int fd = client_connect();

	client_send(fd, "{\"method\":\"hold\",\"id\":1}");
	ut_poll_threads();
	assert_int_equal(g_held_count, 1);
	jsonrpc_server_close(g_server);
	g_server = NULL;
	assert_int_equal(access(g_path, F_OK), -1);
	expect_eof(fd);
	/* the handler finishes later; the answer goes nowhere */
	jsonrpc_send_bool(g_held[0], true);
	ut_poll_threads();
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_prevents_second_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_mid_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_close_still_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_10mb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endless_valid_prefix_10mb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader_hard_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_with_buffered_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_pending_request, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
