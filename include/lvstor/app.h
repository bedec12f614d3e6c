/*
 * lib/app: the application framework shared by lvstord and the tools that
 * take the same --json configuration (lvstor-perf, lvstor-dd).
 *
 * It owns the order of things: command line, environment (lib/env),
 * reactors (lib/thread), the RPC server (lib/rpc), subsystem start-up in
 * dependency order, the --json replay, and orderly shutdown on SIGINT /
 * SIGTERM or app_stop(), bounded in time.
 *
 * Subsystems (bdev, vhost_blk, ...) register with SUBSYSTEM_REGISTER and
 * are initialised when the framework enters the runtime state: at once
 * normally, or on framework_start_init with --wait-for-rpc.
 */
#ifndef LVSTOR_APP_H
#define LVSTOR_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <jansson.h>

#define APP_DEFAULT_RPC_ADDR "/var/tmp/lvstord.sock"
/* How long an orderly shutdown may take before the daemon gives up waiting
 * for subsystems and exits anyway (with a log line naming the laggard). */
#define APP_SHUTDOWN_TIMEOUT_MS 10000

struct app_opts {
	size_t opts_size;
	const char *name;              /* program name for logs and the EAL */
	const char *core_mask;         /* -m, default "0x1" */
	uint32_t main_core;            /* -p, UINT32_MAX = first core of the mask */
	const char *rpc_addr;          /* -r, NULL = no RPC server */
	const char *json_config_file;  /* --json / -c */
	bool json_ignore_init_errors;  /* --json-ignore-init-errors */
	bool wait_for_rpc;             /* --wait-for-rpc */
	const char *rpcs_allowed;      /* --rpcs-allowed */
	uint64_t mem_size_mb;          /* -s */
	const char *vhost_sock_dir;    /* -S (vhost sockets), NULL = cwd */
	const char *pid_file;          /* -f */
	uint64_t shutdown_timeout_ms;
};

void app_opts_init(struct app_opts *opts, size_t size);

enum app_parse_result {
	APP_PARSE_OK,
	APP_PARSE_EXIT,   /* -h / -v: printed what was asked, exit 0 */
	APP_PARSE_ERROR,  /* printed a one-line reason, exit non-zero */
};

/*
 * Parses the common options (spec/rpc.md §4). A tool adds its own:
 * `extra_short` (getopt letters), `extra_long`, and parse_extra(ch, optarg)
 * returning 0 or -EINVAL; usage_extra prints their help lines.
 */
enum app_parse_result app_parse_args(int argc, char **argv, struct app_opts *opts,
				     const char *extra_short, const struct option *extra_long,
				     int (*parse_extra)(int ch, const char *arg),
				     void (*usage_extra)(void));

/*
 * Brings everything up and runs the reactors on the calling thread until
 * the application stops. start_fn(ctx) runs on the application thread once
 * subsystems are initialised and the --json config is applied. Returns
 * the exit code: 0 on a clean stop, non-zero when start-up failed (a
 * one-line reason was logged) or app_stop() was given an error.
 */
typedef void (*app_start_fn)(void *ctx);
int app_start(const struct app_opts *opts, app_start_fn start_fn, void *ctx);

/* Starts an orderly shutdown with exit code `rc` (any thread). */
void app_stop(int rc);

/* The options app_start() runs with (valid while it runs). */
const struct app_opts *app_get_opts(void);

/* ---- subsystems ---------------------------------------------------------- */

struct subsystem {
	const char *name;
	/* Called on the app thread; must call subsystem_init_done(rc) (maybe later). */
	void (*init)(void);
	/* Called on the app thread in reverse order; must call subsystem_fini_done(). */
	void (*fini)(void);
	/*
	 * Appends replayable {"method","params"} objects to `config` for
	 * framework_get_config / save_config. NULL = no configuration writer
	 * (framework_get_config answers null).
	 */
	void (*write_config)(json_t *config);
	const char *depends_on[8];     /* names, NULL-terminated */
	struct subsystem *next;        /* registry, init order */
};

void subsystem_register(struct subsystem *subsystem);
#define SUBSYSTEM_REGISTER(S) \
	__attribute__((constructor)) static void subsystem_register_##S(void) \
	{ subsystem_register(&S); }
void subsystem_init_done(int rc);
void subsystem_fini_done(void);
struct subsystem *subsystem_find(const char *name);
/* Subsystems in initialisation order (dependencies first). */
struct subsystem *subsystem_get_first(void);
struct subsystem *subsystem_get_next(struct subsystem *s);

/* Internal to lib/app, exposed for its tests. */
int subsystem_sort(void);
void subsystems_init(void (*cb)(int rc, void *ctx), void *ctx);
void subsystems_fini(void (*cb)(void *ctx), void *ctx);
bool app_is_runtime(void);

#endif
