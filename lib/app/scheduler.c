/*
 * lib/app/scheduler.c: the "scheduler" subsystem and its two methods,
 * framework_set_scheduler and framework_get_scheduler (spec §2.1.10).
 *
 * lvstor has one scheduler, "static": a thread stays on the reactor it
 * was placed on (least loaded in its cpumask). What SPDK's dynamic
 * scheduler buys with thread migration — idle cores that do not spin —
 * lvstor gets from adaptive polling in every reactor, so the knob that
 * matters here is `sleep_after_us`, how long a reactor's threads must be
 * idle before it sleeps. It travels as a scheduler option, which SPDK's
 * decoder tolerates as an unknown key, and is saved by save_config.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/app.h"
#include "lvstor/env.h"
#include "lvstor/rpc.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

#define SCHEDULER_DEFAULT_PERIOD_US 1000000

static uint64_t g_period_us = SCHEDULER_DEFAULT_PERIOD_US;

struct set_scheduler_params {
	char *name;
	uint64_t period;
	uint8_t load_limit, core_limit, core_busy;
	char *mappings;
	uint64_t sleep_after_us;
	bool has_sleep_after;
};

static int
decode_sleep_after(const json_t *val, void *out)
{
	struct set_scheduler_params *p =
		CONTAINEROF(out, struct set_scheduler_params, sleep_after_us);

	p->has_sleep_after = true;
	return rpc_decode_uint64(val, out);
}

static void
rpc_framework_set_scheduler(struct jsonrpc_request *req, const json_t *params)
{
	static const struct rpc_object_decoder decoders[] = {
		{"name", offsetof(struct set_scheduler_params, name), rpc_decode_string, false},
		{"period", offsetof(struct set_scheduler_params, period), rpc_decode_uint64, true},
		{"load_limit", offsetof(struct set_scheduler_params, load_limit), rpc_decode_uint8, true},
		{"core_limit", offsetof(struct set_scheduler_params, core_limit), rpc_decode_uint8, true},
		{"core_busy", offsetof(struct set_scheduler_params, core_busy), rpc_decode_uint8, true},
		{"mappings", offsetof(struct set_scheduler_params, mappings), rpc_decode_string, true},
		{"sleep_after_us", offsetof(struct set_scheduler_params, sleep_after_us),
		 decode_sleep_after, true},
	};
	struct set_scheduler_params p = {.period = g_period_us};

	/* Unknown keys are scheduler options of other schedulers: tolerated. */
	if (rpc_decode_object_relaxed(params, decoders, COUNTOF(decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "Invalid parameters");
		goto out;
	}
	if (strcmp(p.name, "static") != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, "%s", strerror(ENOENT));
		goto out;
	}
	if (p.period == 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, "%s", strerror(EINVAL));
		goto out;
	}
	g_period_us = p.period;
	if (p.has_sleep_after)
		reactor_set_sleep_after_us(p.sleep_after_us);
	jsonrpc_send_bool(req, true);
out:
	free(p.name);
	free(p.mappings);
}
RPC_REGISTER("framework_set_scheduler", rpc_framework_set_scheduler, RPC_STATE_ANY)

static void
rpc_framework_get_scheduler(struct jsonrpc_request *req, const json_t *params)
{
	if (rpc_reject_params(req, params))
		return;
	jsonrpc_send_result(req, json_pack("{s:s, s:I, s:s, s:i, s:I}",
					   "scheduler_name", "static",
					   "scheduler_period", (json_int_t)g_period_us,
					   "isolated_core_mask", "",
					   "scheduling_core", (int)env_get_main_core(),
					   "sleep_after_us",
					   (json_int_t)reactor_get_sleep_after_us()));
}
RPC_REGISTER("framework_get_scheduler", rpc_framework_get_scheduler, RPC_STATE_ANY)

static void
scheduler_write_config(json_t *config)
{
	json_array_append_new(config,
			      json_pack("{s:s, s:{s:s, s:I, s:I}}", "method",
					"framework_set_scheduler", "params", "name", "static",
					"period", (json_int_t)g_period_us, "sleep_after_us",
					(json_int_t)reactor_get_sleep_after_us()));
}

static struct subsystem g_scheduler_subsystem = {
	.name = "scheduler",
	.write_config = scheduler_write_config,
};
SUBSYSTEM_REGISTER(g_scheduler_subsystem)
