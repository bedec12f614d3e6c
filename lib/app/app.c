/*
 * lib/app/app.c: start-up and orderly shutdown.
 *
 * Start-up, in this order, each step able to fail with one log line and
 * a non-zero exit:
 *   1. the --json document is read and checked (before any resource);
 *   2. SIGINT/SIGTERM are blocked in every OS thread (the EAL's included,
 *      which inherit the mask) and read through a signalfd on the
 *      application thread, so a signal is an ordinary event and never
 *      interrupts a reactor in the middle of a ring operation;
 *   3. the environment (DPDK EAL) on the core mask, then the reactors;
 *   4. on the application thread: the RPC server, the startup pass of
 *      the --json document, then — unless --wait-for-rpc — subsystem
 *      init, the runtime state, the runtime pass, and the program's
 *      start function.
 *
 * Shutdown (app_stop from anywhere, or a signal) runs on the application
 * thread: close the RPC server, finish subsystems in reverse order, stop
 * the reactors. A timed poller bounds the whole thing: if subsystems have
 * not finished after shutdown_timeout_ms the reactors are stopped anyway
 * and the exit code says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lvstor/app.h"
#include "lvstor/cpuset.h"
#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"
#include "app_internal.h"

static struct app_opts g_opts;
static app_start_fn g_start_fn;
static void *g_start_ctx;
static json_t *g_config;
static int g_exit_code;
static bool g_stopping;
static bool g_runtime;
static bool g_rpc_up;
static int g_signal_fd = -1;
static struct fd_handler *g_signal_handler;
static struct poller *g_shutdown_timer;
static struct thread *g_app_thread;

const struct app_opts *
app_get_opts(void)
{
	return &g_opts;
}

bool
app_is_runtime(void)
{
	return g_runtime;
}

/* ---- shutdown ------------------------------------------------------------ */

static void
shutdown_finished(void *ctx)
{
	poller_unregister(&g_shutdown_timer);
	thread_fd_unregister(&g_signal_handler);
	LOG_NOTICE("%s stopped", g_opts.name);
	reactors_stop();
}

static int
shutdown_timeout(void *ctx)
{
	LOG_ERR("shutdown did not finish within %" PRIu64 " ms; stopping anyway",
		g_opts.shutdown_timeout_ms);
	if (g_exit_code == 0)
		g_exit_code = 1;
	poller_unregister(&g_shutdown_timer);
	thread_fd_unregister(&g_signal_handler);
	reactors_stop();
	return POLLER_BUSY;
}

static void
app_stop_on_app_thread(void *ctx)
{
	int rc = (int)(intptr_t)ctx;

	if (rc != 0 && g_exit_code == 0)
		g_exit_code = rc;
	if (g_stopping)
		return;
	g_stopping = true;
	LOG_NOTICE("%s shutting down", g_opts.name);
	g_shutdown_timer = poller_register(shutdown_timeout, NULL,
					   g_opts.shutdown_timeout_ms * 1000, "shutdown_timeout");
	if (g_rpc_up) {
		rpc_close();
		g_rpc_up = false;
	}
	subsystems_fini(shutdown_finished, NULL);
}

void
app_stop(int rc)
{
	if (g_app_thread == NULL)
		return;
	if (thread_send_msg(g_app_thread, app_stop_on_app_thread, (void *)(intptr_t)rc) != 0)
		reactors_stop(); /* the app thread is gone: nothing left to finish */
}

static int
signal_ready(void *ctx, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(g_signal_fd, &si, sizeof(si)) == sizeof(si)) {
		LOG_NOTICE("received signal %u", si.ssi_signo);
		app_stop_on_app_thread((void *)(intptr_t)0);
	}
	return POLLER_BUSY;
}

/* ---- start-up ------------------------------------------------------------ */

static void
run_start_fn(void)
{
	if (g_start_fn)
		g_start_fn(g_start_ctx);
}

static struct jsonrpc_request *g_start_init_req;
static struct jsonrpc_request **g_wait_reqs;
static size_t g_wait_count;

static void
answer_waiters(void)
{
	for (size_t i = 0; i < g_wait_count; i++)
		jsonrpc_send_bool(g_wait_reqs[i], true);
	free(g_wait_reqs);
	g_wait_reqs = NULL;
	g_wait_count = 0;
}

void
app_wait_init(struct jsonrpc_request *req)
{
	struct jsonrpc_request **n;

	if (g_runtime) {
		jsonrpc_send_bool(req, true);
		return;
	}
	n = realloc(g_wait_reqs, (g_wait_count + 1) * sizeof(*n));
	if (n == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return;
	}
	g_wait_reqs = n;
	g_wait_reqs[g_wait_count++] = req;
}

/*
 * The daemon is ready: subsystems up and the --json document applied (its
 * bdev section ends with bdev_wait_for_examine, so lvolstores on those
 * bdevs are loaded). Only now does the RPC server read requests again, so
 * a client that gets an answer sees the configured daemon (spec §1.12:
 * "state becomes runtime before the socket is serviced").
 */
static void
app_ready(void)
{
	if (g_rpc_up)
		rpc_resume();
	answer_waiters();
	LOG_NOTICE("%s running", g_opts.name);
	run_start_fn();
}

static void
runtime_pass_done(int rc, void *ctx)
{
	if (rc != 0 && !g_opts.json_ignore_init_errors) {
		LOG_ERR("--json %s: start-up aborted", g_opts.json_config_file);
		app_stop_on_app_thread((void *)(intptr_t)1);
		return;
	}
	app_ready();
}

static void
subsystems_ready(int rc, void *ctx)
{
	if (rc != 0) {
		if (g_start_init_req) {
			jsonrpc_send_error(g_start_init_req, JSONRPC_ERROR_INTERNAL_ERROR,
					   "framework_initialization failed");
			g_start_init_req = NULL;
		}
		app_stop_on_app_thread((void *)(intptr_t)1);
		return;
	}
	g_runtime = true;
	rpc_set_state(RPC_STATE_RUNTIME);
	/* framework_start_init answers now; the runtime entries follow (§1.12). */
	if (g_start_init_req) {
		jsonrpc_send_bool(g_start_init_req, true);
		g_start_init_req = NULL;
	}
	if (g_config)
		json_config_replay(g_config, RPC_STATE_RUNTIME, g_opts.json_ignore_init_errors,
				   runtime_pass_done, NULL);
	else
		app_ready();
}

void
app_start_init(struct jsonrpc_request *req)
{
	g_start_init_req = req;
	/* Requests wait in the socket while subsystems come up (spec §1.7). */
	if (g_rpc_up)
		rpc_pause();
	subsystems_init(subsystems_ready, NULL);
}

static void
startup_pass_done(int rc, void *ctx)
{
	if (rc != 0 && !g_opts.json_ignore_init_errors) {
		LOG_ERR("--json %s: start-up aborted", g_opts.json_config_file);
		app_stop_on_app_thread((void *)(intptr_t)1);
		return;
	}
	if (g_opts.wait_for_rpc) {
		LOG_NOTICE("waiting for framework_start_init");
		return;
	}
	app_start_init(NULL);
}

static void
app_thread_start(void *ctx)
{
	int rc;

	g_signal_handler = thread_fd_register(g_signal_fd, FD_EVENT_IN, signal_ready, NULL,
					      "signals");
	if (g_signal_handler == NULL) {
		LOG_ERR("cannot watch signals: %s", strerror(errno));
		app_stop_on_app_thread((void *)(intptr_t)1);
		return;
	}
	rpc_set_state(RPC_STATE_STARTUP);
	if (g_opts.rpc_addr) {
		rc = rpc_listen(g_opts.rpc_addr);
		if (rc != 0) {
			LOG_ERR("cannot listen on RPC socket %s: %s", g_opts.rpc_addr,
				rc == -EADDRINUSE ? "socket path in use by another process" :
				strerror(-rc));
			app_stop_on_app_thread((void *)(intptr_t)1);
			return;
		}
		g_rpc_up = true;
		LOG_NOTICE("RPC server listening on %s", g_opts.rpc_addr);
		/* Without --wait-for-rpc nobody may talk to a half-started daemon. */
		if (!g_opts.wait_for_rpc)
			rpc_pause();
	}
	if (g_config)
		json_config_replay(g_config, RPC_STATE_STARTUP, g_opts.json_ignore_init_errors,
				   startup_pass_done, NULL);
	else
		startup_pass_done(0, NULL);
}

static int
write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0 ? 0 : -errno;
}

int
app_start(const struct app_opts *opts, app_start_fn start_fn, void *ctx)
{
	struct env_opts eopts;
	struct cpuset main_mask;
	sigset_t sigs;
	int rc;

	memset(&g_opts, 0, sizeof(g_opts));
	memcpy(&g_opts, opts, opts->opts_size < sizeof(g_opts) ? opts->opts_size : sizeof(g_opts));
	g_opts.opts_size = sizeof(g_opts);
	g_start_fn = start_fn;
	g_start_ctx = ctx;
	g_exit_code = 0;
	g_stopping = g_runtime = g_rpc_up = false;

	if (g_opts.json_config_file) {
		rc = json_config_load(g_opts.json_config_file, &g_config);
		if (rc != 0)
			return 1;
	}
	if (rpc_set_allowed(g_opts.rpcs_allowed) != 0) {
		LOG_ERR("invalid --rpcs-allowed list");
		return 1;
	}
	rc = subsystem_sort();
	if (rc != 0)
		return 1;
	if (g_opts.pid_file && (rc = write_pid_file(g_opts.pid_file)) != 0) {
		LOG_ERR("cannot write pid file %s: %s", g_opts.pid_file, strerror(-rc));
		return 1;
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_signal_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g_signal_fd < 0) {
		LOG_ERR("signalfd: %s", strerror(errno));
		return 1;
	}

	env_opts_init(&eopts, sizeof(eopts));
	eopts.name = g_opts.name;
	eopts.core_mask = g_opts.core_mask;
	eopts.main_core = g_opts.main_core;
	eopts.mem_size_mb = g_opts.mem_size_mb;
	rc = env_init(&eopts);
	if (rc != 0) {
		close(g_signal_fd);
		return 1;
	}
	rc = thread_lib_init(NULL, 0);
	if (rc == 0)
		rc = reactors_init();
	if (rc != 0) {
		LOG_ERR("cannot start reactors: %s", strerror(-rc));
		env_fini();
		close(g_signal_fd);
		return 1;
	}
	cpuset_zero(&main_mask);
	cpuset_set(&main_mask, env_get_main_core(), true);
	g_app_thread = thread_create("app_thread", &main_mask);
	if (g_app_thread == NULL ||
	    thread_send_msg(g_app_thread, app_thread_start, NULL) != 0) {
		LOG_ERR("cannot create the application thread");
		reactors_fini();
		env_fini();
		close(g_signal_fd);
		return 1;
	}

	LOG_NOTICE("%s starting on cores %s", lvstor_version_string(), g_opts.core_mask);
	reactors_start();

	reactors_fini();
	thread_lib_fini();
	g_app_thread = NULL;
	env_fini();
	close(g_signal_fd);
	g_signal_fd = -1;
	json_decref(g_config);
	g_config = NULL;
	if (g_opts.pid_file)
		unlink(g_opts.pid_file);
	return g_exit_code;
}
