/*
 * lib/rpc: the method registry over lib/jsonrpc, with aliases (retired
 * names), per-method allowed states, the --rpcs-allowed list, and strict
 * parameter decoding (spec/rpc.md §1.9, §1.11, §1.12).
 *
 * Methods register at start-up (file-scope RPC_REGISTER); handlers run on
 * the application thread.
 */
#ifndef LVSTOR_RPC_H
#define LVSTOR_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lvstor/jsonrpc.h"

#define RPC_STATE_STARTUP 0x1u
#define RPC_STATE_RUNTIME 0x2u
#define RPC_STATE_ANY (RPC_STATE_STARTUP | RPC_STATE_RUNTIME)

typedef void (*rpc_method_fn)(struct jsonrpc_request *req, const json_t *params);

void rpc_register_method(const char *name, rpc_method_fn fn, uint32_t state_mask);
/* `alias` behaves exactly like `name`; its first use logs a deprecation warning. */
void rpc_register_alias(const char *alias, const char *name);

#define RPC_REGISTER(NAME, FN, MASK) \
	__attribute__((constructor)) static void rpc_register_##FN(void) \
	{ rpc_register_method(NAME, FN, MASK); }
#define RPC_REGISTER_ALIAS(ALIAS, NAME) \
	__attribute__((constructor)) static void rpc_register_alias_##NAME##_##ALIAS(void) \
	{ rpc_register_alias(#ALIAS, #NAME); }

void rpc_set_state(uint32_t state);
uint32_t rpc_get_state(void);
/*
 * Restricts callable methods to a comma-separated list (NULL = all; blanks
 * around names are ignored). A method and its aliases are one method:
 * listing any of their names allows all of them. 0 or -ENOMEM.
 */
int rpc_set_allowed(const char *comma_list);
/* True if `name` (method or alias) is registered and allowed. */
bool rpc_method_exists(const char *name);
/* State mask of a method or alias, 0 if unknown. */
uint32_t rpc_method_state_mask(const char *name);

/*
 * Method names, for rpc_get_methods: calls fn(name, ctx) for each method
 * (and each alias if include_aliases), only those callable in the current
 * state if `current`.
 */
void rpc_foreach_method(bool current, bool include_aliases,
			void (*fn)(const char *name, void *ctx), void *ctx);

/*
 * Starts the JSON-RPC server on `path` with the registry as handler, on the
 * current thread (which must be the application thread). 0, -EBUSY if
 * already listening, or jsonrpc_server_listen's error. rpc_pause/resume/
 * close do nothing when no server runs.
 */
int rpc_listen(const char *path);
void rpc_pause(void);
void rpc_resume(void);
void rpc_close(void);

/*
 * Dispatches one request to the registry (the jsonrpc handler): unknown or
 * hidden names get -32601 "Method not found"; a method not callable in the
 * current state gets -1 with the spec's text (§1.12); the first call through
 * each alias logs "RPC method X is deprecated. Use Y instead.".
 */
void rpc_dispatch(struct jsonrpc_request *req, const char *method, const json_t *params);

/* ---- parameter decoding ------------------------------------------------- */

/*
 * A decoder reads one JSON value into `out`. Returns 0 or -EINVAL (-ENOMEM
 * for a failed copy). The typed decoders below follow spec §1.9: integers
 * must be integral and in range (4.0 is 4; "4", 4.5 and -1 for unsigned are
 * rejected); bools and strings only from their own JSON type; strings are
 * strdup'ed (char **), freeing what the field held, so char * fields must
 * start NULL or hold a heap-allocated default. On failure the output is
 * left as it was.
 */
typedef int (*rpc_decode_fn)(const json_t *val, void *out);
int rpc_decode_string(const json_t *val, void *out);     /* char ** (malloc'ed) */
int rpc_decode_bool(const json_t *val, void *out);       /* bool * */
int rpc_decode_uint8(const json_t *val, void *out);
int rpc_decode_uint16(const json_t *val, void *out);
int rpc_decode_uint32(const json_t *val, void *out);
int rpc_decode_int32(const json_t *val, void *out);
int rpc_decode_uint64(const json_t *val, void *out);
int rpc_decode_int64(const json_t *val, void *out);
int rpc_decode_uuid(const json_t *val, void *out);       /* struct lv_uuid * */
int rpc_decode_string_array(const json_t *val, void *out); /* struct rpc_string_array * */

struct rpc_string_array {
	size_t count;
	char **strings;
};
void rpc_string_array_free(struct rpc_string_array *arr);

struct rpc_object_decoder {
	const char *name;
	size_t offset;
	rpc_decode_fn decode;	/* NULL: key accepted and ignored (offset unused) */
	bool optional;
};

/*
 * Decodes a params object field by field into `out` (offsets into it).
 * Strict: unknown keys, duplicate keys, a missing required key, a value of
 * the wrong type or a non-object fail with -EINVAL; JSON null counts as
 * absent. With relaxed set, unknown keys are ignored (repeated keys still
 * fail). `params` may be NULL (only succeeds when every key is optional).
 * On failure, fields decoded before the bad one keep their new values:
 * free the struct the same way on both paths.
 */
int rpc_decode_object(const json_t *params, const struct rpc_object_decoder *decoders,
		      size_t count, void *out);
int rpc_decode_object_relaxed(const json_t *params, const struct rpc_object_decoder *decoders,
			      size_t count, void *out);

/*
 * For methods without parameters: if params is present (and not null, even
 * {} or []), answers -32602 "<method> method requires no parameters" (the
 * method's current name, also when called through an alias) and returns
 * true.
 */
bool rpc_reject_params(struct jsonrpc_request *req, const json_t *params);

#endif
