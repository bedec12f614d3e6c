/* Private to lib/app. */
#ifndef LVSTOR_APP_INTERNAL_H
#define LVSTOR_APP_INTERNAL_H

#include <jansson.h>
#include "lvstor/jsonrpc.h"

/*
 * The --json document: loaded and checked before anything starts, then
 * replayed in two passes (json_config.c).
 */
int json_config_load(const char *path, json_t **doc);
/*
 * Replays the entries of `doc` allowed in `pass` (RPC_STATE_STARTUP: those
 * callable in the startup state; RPC_STATE_RUNTIME: the rest), one at a
 * time through the RPC registry, then cb(rc). rc is 0, or the negative
 * errno / JSON-RPC code of the first failure (already logged).
 */
void json_config_replay(json_t *doc, uint32_t pass, bool ignore_errors,
			void (*cb)(int rc, void *ctx), void *ctx);

/* framework_start_init's work: init subsystems, go to runtime, replay. */
void app_start_init(struct jsonrpc_request *req);
/* Parks a framework_wait_init request until the runtime state. */
void app_wait_init(struct jsonrpc_request *req);

/* Forgets every registered subsystem, so a test can register its own. */
void subsystem_list_clear_for_test(void);

#endif
