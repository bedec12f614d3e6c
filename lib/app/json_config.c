/*
 * lib/app/json_config.c: the --json document (the save_config format,
 * spec/rpc.md §2.1.7 and §1.12).
 *
 * The whole file is read and checked before the daemon takes any
 * resource, so a typo fails start-up with one line and nothing to clean
 * up. Replay goes through the same RPC registry as a socket client
 * (jsonrpc_call_internal), so a config entry behaves exactly like the
 * call rpc.py would make. Entries run one at a time, in file order: later
 * entries may depend on earlier ones (a bdev before the lvolstore on it).
 *
 * Pass STARTUP runs every entry whose method may be called in the
 * startup state (such entries run only once, here); pass RUNTIME runs the
 * rest after subsystems are up. An unknown method fails the start unless
 * --json-ignore-init-errors, or unless its subsystem is not part of this
 * program (a vhost section given to lvstor-perf), which is skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/app.h"
#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "lvstor/thread.h"
#include "app_internal.h"

int
json_config_load(const char *path, json_t **doc)
{
	json_error_t err;
	json_t *root, *subsystems, *s;
	size_t i;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		LOG_ERR("--json %s: line %d: %s", path, err.line, err.text);
		return -EINVAL;
	}
	subsystems = json_object_get(root, "subsystems");
	if (!json_is_object(root) || !json_is_array(subsystems)) {
		LOG_ERR("--json %s: expected an object with a \"subsystems\" array", path);
		json_decref(root);
		return -EINVAL;
	}
	json_array_foreach(subsystems, i, s) {
		json_t *name = json_object_get(s, "subsystem");
		json_t *config = json_object_get(s, "config");
		json_t *entry;
		size_t j;

		if (!json_is_object(s) || !json_is_string(name)) {
			LOG_ERR("--json %s: subsystem #%zu has no \"subsystem\" name", path, i);
			goto bad;
		}
		if (config == NULL || json_is_null(config))
			continue;
		if (!json_is_array(config)) {
			LOG_ERR("--json %s: config of %s is not an array", path,
				json_string_value(name));
			goto bad;
		}
		json_array_foreach(config, j, entry) {
			json_t *params = json_object_get(entry, "params");

			if (!json_is_object(entry) ||
			    !json_is_string(json_object_get(entry, "method")) ||
			    (params && !json_is_object(params) && !json_is_null(params))) {
				LOG_ERR("--json %s: entry #%zu of %s needs a \"method\" string and "
					"object \"params\"", path, j, json_string_value(name));
				goto bad;
			}
		}
	}
	*doc = root;
	return 0;
bad:
	json_decref(root);
	return -EINVAL;
}

struct replay {
	json_t *doc;
	uint32_t pass;
	bool ignore_errors;
	size_t subsystem_idx;
	size_t entry_idx;
	int rc;
	void (*cb)(int rc, void *ctx);
	void *ctx;
};

static void replay_next(struct replay *r);
static void replay_next_msg(void *ctx);

static void
replay_entry_done(void *cb_arg, int error_code, const char *error_msg, const json_t *result)
{
	struct replay *r = cb_arg;
	json_t *s = json_array_get(json_object_get(r->doc, "subsystems"), r->subsystem_idx);
	json_t *entry = json_array_get(json_object_get(s, "config"), r->entry_idx);

	if (error_code != 0) {
		LOG_ERR("--json: %s failed: %s (%d)",
			json_string_value(json_object_get(entry, "method")),
			error_msg ? error_msg : "", error_code);
		if (!r->ignore_errors && r->rc == 0)
			r->rc = error_code;
	}
	r->entry_idx++;
	if (r->rc != 0) {
		r->cb(r->rc, r->ctx);
		free(r);
		return;
	}
	/*
	 * Continue from the message loop, not from inside this callback: a
	 * handler that answers at once would otherwise recurse once per entry.
	 */
	if (thread_send_msg(thread_get_current(), replay_next_msg, r) != 0)
		replay_next(r);
}

static void
replay_next_msg(void *ctx)
{
	replay_next(ctx);
}

static void
replay_next(struct replay *r)
{
	json_t *subsystems = json_object_get(r->doc, "subsystems");

	for (; r->subsystem_idx < json_array_size(subsystems); r->subsystem_idx++, r->entry_idx = 0) {
		json_t *s = json_array_get(subsystems, r->subsystem_idx);
		const char *sname = json_string_value(json_object_get(s, "subsystem"));
		json_t *config = json_object_get(s, "config");

		for (; r->entry_idx < json_array_size(config); r->entry_idx++) {
			json_t *entry = json_array_get(config, r->entry_idx);
			const char *method = json_string_value(json_object_get(entry, "method"));
			json_t *params = json_object_get(entry, "params");
			uint32_t mask = rpc_method_state_mask(method);

			if (mask == 0) {
				if (subsystem_find(sname) == NULL) {
					if (r->pass == RPC_STATE_STARTUP)
						LOG_NOTICE("--json: skipping %s: subsystem %s is not "
							   "part of this program", method, sname);
					continue;
				}
				if (r->pass != RPC_STATE_STARTUP)
					continue; /* reported in the startup pass */
				LOG_ERR("--json: unknown method %s", method);
				if (!r->ignore_errors) {
					r->rc = -EINVAL;
					r->cb(r->rc, r->ctx);
					free(r);
					return;
				}
				continue;
			}
			if ((r->pass == RPC_STATE_STARTUP) != ((mask & RPC_STATE_STARTUP) != 0))
				continue;
			jsonrpc_call_internal(rpc_dispatch, method,
					      json_is_null(params) ? NULL : params,
					      replay_entry_done, r);
			return;
		}
	}
	r->cb(r->rc, r->ctx);
	free(r);
}

void
json_config_replay(json_t *doc, uint32_t pass, bool ignore_errors,
		   void (*cb)(int rc, void *ctx), void *ctx)
{
	struct replay *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		cb(-ENOMEM, ctx);
		return;
	}
	r->doc = doc;
	r->pass = pass;
	r->ignore_errors = ignore_errors;
	r->cb = cb;
	r->ctx = ctx;
	replay_next(r);
}
