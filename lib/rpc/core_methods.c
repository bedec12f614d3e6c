/*
 * lib/rpc/core_methods.c: the methods every daemon answers whatever it was
 * built with (spec/rpc.md §2.1.1 rpc_get_methods, §2.1.2 spdk_get_version).
 *
 * Both are callable in every state; rpc_get_methods with current:true is
 * what load_config relies on to learn which methods the present state
 * allows, so it reports exactly the registry's view (state masks and the
 * allow-list included).
 */
#include <errno.h>

#include "lvstor/rpc.h"
#include "lvstor/util.h"

/* Referenced by registry.c so that a static link keeps this file. */
const int rpc_core_methods_anchor = 1;

struct get_methods_params {
	bool current;
	bool include_aliases;
};

static const struct rpc_object_decoder get_methods_decoders[] = {
	{ "current", offsetof(struct get_methods_params, current), rpc_decode_bool, true },
	{ "include_aliases", offsetof(struct get_methods_params, include_aliases),
	  rpc_decode_bool, true },
};

static void
append_name(const char *name, void *ctx)
{
	json_array_append_new(ctx, json_string(name));
}

static void
rpc_method_get_methods(struct jsonrpc_request *req, const json_t *params)
{
	struct get_methods_params p = { 0 };
	json_t *names;

	if (rpc_decode_object(params, get_methods_decoders, COUNTOF(get_methods_decoders), &p)) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	names = json_array();
	if (names == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return;
	}
	rpc_foreach_method(p.current, p.include_aliases, append_name, names);
	jsonrpc_send_result(req, names);
}
RPC_REGISTER("rpc_get_methods", rpc_method_get_methods, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(get_rpc_methods, rpc_get_methods)

static void
rpc_method_get_version(struct jsonrpc_request *req, const json_t *params)
{
	json_t *result;

	if (rpc_reject_params(req, params)) {
		return;
	}
	result = json_pack("{s:s, s:{s:i, s:i, s:i, s:s}}",
			   "version", lvstor_version_string(),
			   "fields",
			   "major", LVSTOR_VERSION_MAJOR,
			   "minor", LVSTOR_VERSION_MINOR,
			   "patch", LVSTOR_VERSION_PATCH,
			   "suffix", LVSTOR_VERSION_SUFFIX);
	if (result == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return;
	}
	jsonrpc_send_result(req, result);
}
RPC_REGISTER("spdk_get_version", rpc_method_get_version, RPC_STATE_ANY)
RPC_REGISTER_ALIAS(get_spdk_version, spdk_get_version)
