/*
 * lib/app/framework_rpc.c: the framework methods of spec/rpc.md §2.1 that
 * belong to the application: start-up control, reactors, threads,
 * subsystems and their configuration.
 *
 * Per-thread facts are collected with thread_for_each: each thread
 * reports about itself on itself, so nothing reads another reactor's
 * thread list while it changes; the collection is handed from thread to
 * thread by message, which orders the appends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvstor/app.h"
#include "lvstor/cpuset.h"
#include "lvstor/env.h"
#include "lvstor/rpc.h"
#include "lvstor/thread.h"
#include "app_internal.h"

static void
rpc_framework_start_init(struct jsonrpc_request *req, const json_t *params)
{
	if (rpc_reject_params(req, params))
		return;
	app_start_init(req);
}
RPC_REGISTER("framework_start_init", rpc_framework_start_init, RPC_STATE_STARTUP)
RPC_REGISTER_ALIAS(start_subsystem_init, framework_start_init)

static void
rpc_framework_wait_init(struct jsonrpc_request *req, const json_t *params)
{
	if (rpc_reject_params(req, params))
		return;
	app_wait_init(req);
}
RPC_REGISTER("framework_wait_init", rpc_framework_wait_init, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(wait_subsystem_init, framework_wait_init)

/* ---- per-thread collection ----------------------------------------------- */

struct thread_collect {
	struct jsonrpc_request *req;
	json_t *threads;      /* one object per thread, with "_lcore" for reactors */
	bool for_reactors;
};

static json_t *
cpumask_json(const struct thread *t)
{
	char buf[CPUSET_MAX_CPUS / 4 + 1];
	const struct cpuset *mask = thread_get_cpumask(t);

	return json_string(cpuset_fmt(mask, buf, sizeof(buf)));
}

static void
collect_one(void *ctx)
{
	struct thread_collect *c = ctx;
	struct thread *t = thread_get_current();
	json_t *o;

	if (t == NULL)
		return;
	if (c->for_reactors) {
		o = json_pack("{s:s, s:I, s:o, s:I}", "name", thread_get_name(t),
			      "id", (json_int_t)thread_get_id(t), "cpumask", cpumask_json(t),
			      "elapsed", (json_int_t)thread_get_elapsed(t));
		json_object_set_new(o, "_lcore", json_integer(thread_get_lcore(t)));
	} else {
		struct thread_stats st;
		uint64_t active, timed, paused;

		thread_get_stats(t, &st);
		thread_get_poller_counts(t, &active, &timed, &paused);
		o = json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I}",
			      "name", thread_get_name(t), "id", (json_int_t)thread_get_id(t),
			      "cpumask", cpumask_json(t),
			      "busy", (json_int_t)st.busy_tsc, "idle", (json_int_t)st.idle_tsc,
			      "active_pollers_count", (json_int_t)active,
			      "timed_pollers_count", (json_int_t)timed,
			      "paused_pollers_count", (json_int_t)paused);
	}
	if (o)
		json_array_append_new(c->threads, o);
}

/* user, system, irq (+softirq) jiffies of one CPU from /proc/stat. */
static void
cpu_times(uint32_t cpu, json_int_t *usr, json_int_t *sys, json_int_t *irq)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[512], want[16];

	*usr = *sys = *irq = 0;
	if (f == NULL)
		return;
	snprintf(want, sizeof(want), "cpu%u ", cpu);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long u, n, s, idle, iow, hi, si;

		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu", &u, &n, &s,
			   &idle, &iow, &hi, &si) == 7) {
			*usr = (json_int_t)u;
			*sys = (json_int_t)s;
			*irq = (json_int_t)(hi + si);
		}
		break;
	}
	fclose(f);
}

static void
reactors_collected(void *ctx)
{
	struct thread_collect *c = ctx;
	json_t *result, *reactors = json_array();
	uint32_t lcore;

	ENV_FOREACH_CORE(lcore) {
		struct reactor_info info;
		json_t *r, *lw = json_array(), *t;
		json_int_t usr, sys, irq;
		size_t i;

		if (reactor_get_info(lcore, &info) != 0)
			continue;
		json_array_foreach(c->threads, i, t) {
			if (json_integer_value(json_object_get(t, "_lcore")) == (json_int_t)lcore) {
				json_t *copy = json_copy(t);

				json_object_del(copy, "_lcore");
				json_array_append_new(lw, copy);
			}
		}
		cpu_times(lcore, &usr, &sys, &irq);
		r = json_pack("{s:i, s:i, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:o}",
			      "lcore", (int)lcore, "numa_id", 0, "tid", (json_int_t)info.tid,
			      "busy", (json_int_t)info.busy_tsc, "idle", (json_int_t)info.idle_tsc,
			      "in_interrupt", info.in_interrupt, "irq", irq, "sys", sys, "usr", usr,
			      "lw_threads", lw);
		json_array_append_new(reactors, r);
	}
	result = json_pack("{s:I, s:I, s:o}", "tick_rate", (json_int_t)env_get_ticks_hz(),
			   "pid", (json_int_t)getpid(), "reactors", reactors);
	jsonrpc_send_result(c->req, result);
	json_decref(c->threads);
	free(c);
}

static void
threads_collected(void *ctx)
{
	struct thread_collect *c = ctx;

	jsonrpc_send_result(c->req, json_pack("{s:I, s:o}", "tick_rate",
					      (json_int_t)env_get_ticks_hz(), "threads",
					      c->threads));
	free(c);
}

static void
collect_threads(struct jsonrpc_request *req, bool for_reactors)
{
	struct thread_collect *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->threads = json_array()) == NULL) {
		free(c);
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, "Internal error");
		return;
	}
	c->req = req;
	c->for_reactors = for_reactors;
	thread_for_each(collect_one, c, for_reactors ? reactors_collected : threads_collected);
}

static void
rpc_framework_get_reactors(struct jsonrpc_request *req, const json_t *params)
{
	if (rpc_reject_params(req, params))
		return;
	collect_threads(req, true);
}
RPC_REGISTER("framework_get_reactors", rpc_framework_get_reactors, RPC_STATE_RUNTIME)

static void
rpc_thread_get_stats(struct jsonrpc_request *req, const json_t *params)
{
	if (params && !json_is_null(params)) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS,
				   "'thread_get_stats' requires no arguments");
		return;
	}
	collect_threads(req, false);
}
RPC_REGISTER("thread_get_stats", rpc_thread_get_stats, RPC_STATE_RUNTIME)

/* ---- subsystems ---------------------------------------------------------- */

static void
rpc_framework_get_subsystems(struct jsonrpc_request *req, const json_t *params)
{
	json_t *result;

	if (rpc_reject_params(req, params))
		return;
	result = json_array();
	for (struct subsystem *s = subsystem_get_first(); s; s = subsystem_get_next(s)) {
		json_t *deps = json_array();

		for (int i = 0; s->depends_on[i]; i++)
			json_array_append_new(deps, json_string(s->depends_on[i]));
		json_array_append_new(result, json_pack("{s:s, s:o}", "subsystem", s->name,
							"depends_on", deps));
	}
	jsonrpc_send_result(req, result);
}
RPC_REGISTER("framework_get_subsystems", rpc_framework_get_subsystems, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(get_subsystems, framework_get_subsystems)

struct get_config_params {
	char *name;
	bool with_batches;
};

static void
rpc_framework_get_config(struct jsonrpc_request *req, const json_t *params)
{
	static const struct rpc_object_decoder decoders[] = {
		{"name", offsetof(struct get_config_params, name), rpc_decode_string, false},
		{"with_batches", offsetof(struct get_config_params, with_batches), rpc_decode_bool,
		 true},
	};
	struct get_config_params p = {0};
	struct subsystem *s;
	json_t *config;

	if (rpc_decode_object(params, decoders, 2, &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "Invalid arguments");
		goto out;
	}
	s = subsystem_find(p.name);
	if (s == NULL) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "Subsystem '%s' not found",
				   p.name);
		goto out;
	}
	if (s->write_config == NULL) {
		jsonrpc_send_result(req, json_null());
		goto out;
	}
	config = json_array();
	s->write_config(config);
	jsonrpc_send_result(req, config);
out:
	free(p.name);
}
RPC_REGISTER("framework_get_config", rpc_framework_get_config, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(get_subsystem_config, framework_get_config)
