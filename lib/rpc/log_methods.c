/*
 * lib/rpc/log_methods.c: run-time log control (spec/rpc.md §2.1.9), over
 * lib/log's API. All callable in every state.
 *
 * Errors follow the spec's current column: parameters that do not decode
 * (missing, mistyped, unknown key) get -32603 "spdk_json_decode_object
 * failed"; a level name that is not one of the five (compared without
 * regard to case) gets -32602 "invalid log level"; a flag that no component
 * registered gets -32602 "invalid log flag". Getters take no parameters.
 */
#include <errno.h>
#include <stdlib.h>

#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "lvstor/util.h"

/* Referenced by registry.c so that a static link keeps this file. */
const int rpc_log_methods_anchor = 1;

#define DECODE_FAILED "spdk_json_decode_object failed"

struct level_params {
	char *level;
};

static const struct rpc_object_decoder level_decoders[] = {
	{ "level", offsetof(struct level_params, level), rpc_decode_string, false },
};

struct flag_params {
	char *flag;
};

static const struct rpc_object_decoder flag_decoders[] = {
	{ "flag", offsetof(struct flag_params, flag), rpc_decode_string, false },
};

/* Decodes {"level": ...} and answers errors; false if it answered. */
static bool
decode_level(struct jsonrpc_request *req, const json_t *params, enum log_level *level)
{
	struct level_params p = { 0 };
	bool ok = false;

	if (rpc_decode_object(params, level_decoders, COUNTOF(level_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
	} else if (log_level_parse(p.level, level) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "invalid log level");
	} else {
		ok = true;
	}
	free(p.level);
	return ok;
}

static json_t *
level_string(enum log_level level)
{
	const char *name = log_level_name(level);

	return json_string(name != NULL ? name : "DISABLED");
}

static void
rpc_log_set_level(struct jsonrpc_request *req, const json_t *params)
{
	enum log_level level;

	if (decode_level(req, params, &level)) {
		log_set_level(level);
		jsonrpc_send_bool(req, true);
	}
}
RPC_REGISTER("log_set_level", rpc_log_set_level, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(set_log_level, log_set_level)

static void
rpc_log_get_level(struct jsonrpc_request *req, const json_t *params)
{
	if (!rpc_reject_params(req, params)) {
		jsonrpc_send_result(req, level_string(log_get_level()));
	}
}
RPC_REGISTER("log_get_level", rpc_log_get_level, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(get_log_level, log_get_level)

static void
rpc_log_set_print_level(struct jsonrpc_request *req, const json_t *params)
{
	enum log_level level;

	if (decode_level(req, params, &level)) {
		log_set_print_level(level);
		jsonrpc_send_bool(req, true);
	}
}
RPC_REGISTER("log_set_print_level", rpc_log_set_print_level, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(set_log_print_level, log_set_print_level)

static void
rpc_log_get_print_level(struct jsonrpc_request *req, const json_t *params)
{
	if (!rpc_reject_params(req, params)) {
		jsonrpc_send_result(req, level_string(log_get_print_level()));
	}
}
RPC_REGISTER("log_get_print_level", rpc_log_get_print_level, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(get_log_print_level, log_get_print_level)

static void
set_or_clear_flag(struct jsonrpc_request *req, const json_t *params, bool set)
{
	struct flag_params p = { 0 };

	if (rpc_decode_object(params, flag_decoders, COUNTOF(flag_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
	} else if ((set ? log_set_flag(p.flag) : log_clear_flag(p.flag)) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "invalid log flag");
	} else {
		jsonrpc_send_bool(req, true);
	}
	free(p.flag);
}

static void
rpc_log_set_flag(struct jsonrpc_request *req, const json_t *params)
{
	set_or_clear_flag(req, params, true);
}
RPC_REGISTER("log_set_flag", rpc_log_set_flag, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(set_log_flag, log_set_flag)
RPC_REGISTER_ALIAS(set_trace_flag, log_set_flag)

static void
rpc_log_clear_flag(struct jsonrpc_request *req, const json_t *params)
{
	set_or_clear_flag(req, params, false);
}
RPC_REGISTER("log_clear_flag", rpc_log_clear_flag, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(clear_log_flag, log_clear_flag)
RPC_REGISTER_ALIAS(clear_trace_flag, log_clear_flag)

static void
rpc_log_get_flags(struct jsonrpc_request *req, const json_t *params)
{
	struct log_flag *flag;
	json_t *flags;

	if (rpc_reject_params(req, params)) {
		return;
	}
	flags = json_object();
	if (flags == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return;
	}
	for (flag = log_get_first_flag(); flag != NULL; flag = log_get_next_flag(flag)) {
		json_object_set_new(flags, flag->name, json_boolean(flag->enabled));
	}
	jsonrpc_send_result(req, flags);
}
RPC_REGISTER("log_get_flags", rpc_log_get_flags, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(get_log_flags, log_get_flags)
RPC_REGISTER_ALIAS(get_trace_flags, log_get_flags)
