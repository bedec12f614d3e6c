/*
 * lib/rpc/registry.c: the method registry and dispatcher over lib/jsonrpc
 * (spec/rpc.md §1.1 allow-list, §1.11 registry and aliases, §1.12 states).
 *
 * Methods and aliases register from constructors, before main(), in an
 * order the linker picks; so an alias names its target and is resolved at
 * lookup time, never at registration. The list is only appended to before
 * main() and read afterwards, on the application thread; it is a plain
 * list because a lookup over a few hundred names costs far less than the
 * JSON parse that precedes it.
 *
 * Invariants: names are unique across methods and aliases (a second
 * registration of a name is refused with an error line); an alias behaves
 * exactly as its target, including the state mask and the allow-list
 * (listing either name allows both); the first call through each alias
 * logs one deprecation warning.
 *
 * The startup state is RPC_STATE_STARTUP until the application moves it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "lvstor/rpc.h"

LOG_REGISTER_COMPONENT(rpc)

struct rpc_method {
	char *name;
	rpc_method_fn fn;	/* NULL for an alias */
	uint32_t state_mask;
	char *alias_of;		/* target's name, for an alias */
	bool warned;		/* deprecation logged (aliases) */
	struct rpc_method *next;
};

static struct rpc_method *g_methods;	/* newest first */
static uint32_t g_state = RPC_STATE_STARTUP;
static char **g_allowed;		/* NULL: every method is allowed */
static size_t g_allowed_count;
static struct jsonrpc_server *g_server;

/*
 * The methods that live in lib/rpc register from constructors in their own
 * object files, which a static link would leave out because nothing calls
 * into them. Referencing an anchor in each pulls them in with this file.
 */
extern const int rpc_core_methods_anchor;
extern const int rpc_log_methods_anchor;
__attribute__((used)) static const int *const g_method_anchors[] = {
	&rpc_core_methods_anchor,
	&rpc_log_methods_anchor,
};

static struct rpc_method *
lookup(const char *name)
{
	struct rpc_method *m;

	for (m = g_methods; m != NULL; m = m->next) {
		if (strcmp(m->name, name) == 0) {
			return m;
		}
	}
	return NULL;
}

/* The method an entry stands for; NULL for an alias of nothing. */
static struct rpc_method *
resolve(struct rpc_method *m)
{
	int hops;

	/* An alias of an alias is followed a few steps; a cycle is not. */
	for (hops = 0; m != NULL && m->fn == NULL && hops < 4; hops++) {
		m = lookup(m->alias_of);
	}
	return m != NULL && m->fn != NULL ? m : NULL;
}

static bool
name_allowed(const char *name)
{
	size_t i;

	for (i = 0; i < g_allowed_count; i++) {
		if (strcmp(g_allowed[i], name) == 0) {
			return true;
		}
	}
	return false;
}

static struct rpc_method *resolve(struct rpc_method *m);

/*
 * The allow-list names methods; an alias and its target are one method,
 * so listing any of its names allows all of them.
 */
static bool
allowed(const struct rpc_method *target)
{
	struct rpc_method *m;

	if (g_allowed == NULL) {
		return true;
	}
	for (m = g_methods; m != NULL; m = m->next) {
		if (name_allowed(m->name) && resolve(m) == target) {
			return true;
		}
	}
	return false;
}

static void
add_entry(const char *name, rpc_method_fn fn, uint32_t state_mask, const char *alias_of)
{
	struct rpc_method *m;

	if (lookup(name) != NULL) {
		LOG_ERR("RPC method %s registered twice; the second registration is ignored",
			name);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->name = strdup(name)) == NULL ||
	    (alias_of != NULL && (m->alias_of = strdup(alias_of)) == NULL)) {
		LOG_ERR("Out of memory registering RPC method %s", name);
		if (m != NULL) {
			free(m->name);
		}
		free(m);
		return;
	}
	m->fn = fn;
	m->state_mask = state_mask;
	m->next = g_methods;
	g_methods = m;
}

void
rpc_register_method(const char *name, rpc_method_fn fn, uint32_t state_mask)
{
	if (fn == NULL) {
		LOG_ERR("RPC method %s registered without a handler", name);
		return;
	}
	add_entry(name, fn, state_mask, NULL);
}

void
rpc_register_alias(const char *alias, const char *name)
{
	add_entry(alias, NULL, 0, name);
}

void
rpc_set_state(uint32_t state)
{
	g_state = state;
}

uint32_t
rpc_get_state(void)
{
	return g_state;
}

static void
free_allowed(void)
{
	size_t i;

	for (i = 0; i < g_allowed_count; i++) {
		free(g_allowed[i]);
	}
	free(g_allowed);
	g_allowed = NULL;
	g_allowed_count = 0;
}

int
rpc_set_allowed(const char *comma_list)
{
	const char *p;
	size_t n = 1;

	free_allowed();
	if (comma_list == NULL) {
		return 0;
	}
	for (p = comma_list; *p != '\0'; p++) {
		n += *p == ',';
	}
	/* An empty list still restricts: then nothing is callable. */
	g_allowed = calloc(n, sizeof(*g_allowed));
	if (g_allowed == NULL) {
		return -ENOMEM;
	}
	p = comma_list;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
			len--;
		}
		if (len > 0) {
			g_allowed[g_allowed_count] = strndup(p, len);
			if (g_allowed[g_allowed_count] == NULL) {
				free_allowed();
				return -ENOMEM;
			}
			g_allowed_count++;
		}
		if (end == NULL) {
			break;
		}
		p = end + 1;
	}
	return 0;
}

bool
rpc_method_exists(const char *name)
{
	struct rpc_method *m = lookup(name);
	struct rpc_method *target = resolve(m);

	return target != NULL && allowed(target);
}

uint32_t
rpc_method_state_mask(const char *name)
{
	struct rpc_method *m = lookup(name);
	struct rpc_method *target = resolve(m);

	return target != NULL && allowed(target) ? target->state_mask : 0;
}

void
rpc_foreach_method(bool current, bool include_aliases,
		   void (*fn)(const char *name, void *ctx), void *ctx)
{
	struct rpc_method *m, *target;

	for (m = g_methods; m != NULL; m = m->next) {
		if (m->fn == NULL && !include_aliases) {
			continue;
		}
		target = resolve(m);
		if (target == NULL || !allowed(target)) {
			continue;
		}
		if (current && (target->state_mask & g_state) == 0) {
			continue;
		}
		fn(m->name, ctx);
	}
}

void
rpc_dispatch(struct jsonrpc_request *req, const char *method, const json_t *params)
{
	struct rpc_method *m = lookup(method);
	struct rpc_method *target = resolve(m);

	if (target == NULL || !allowed(target)) {
		LOG_DEBUG(rpc, "RPC method %s not found", method);
		jsonrpc_send_error(req, JSONRPC_ERROR_METHOD_NOT_FOUND, "Method not found");
		return;
	}
	if (m != target && !m->warned) {
		m->warned = true;
		LOG_WARN("RPC method %s is deprecated. Use %s instead.", m->name, target->name);
	}
	if ((target->state_mask & g_state) == 0) {
		if (g_state == RPC_STATE_RUNTIME) {
			jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_STATE,
					   "Method may only be called before framework is "
					   "initialized. Use --wait-for-rpc command line parameter "
					   "and then issue this RPC before the framework_start_init "
					   "RPC.");
		} else {
			jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_STATE,
					   "Method may only be called after framework is "
					   "initialized using framework_start_init RPC.");
		}
		return;
	}
	target->fn(req, params);
}

bool
rpc_reject_params(struct jsonrpc_request *req, const json_t *params)
{
	const char *name = jsonrpc_request_method(req);
	struct rpc_method *target;

	if (params == NULL || json_is_null(params)) {
		return false;
	}
	/* Name the method, not the retired alias the client may have used. */
	target = name != NULL ? resolve(lookup(name)) : NULL;
	jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "%s method requires no parameters",
			   target != NULL ? target->name : (name != NULL ? name : "this"));
	return true;
}

int
rpc_listen(const char *path)
{
	int rc;

	if (g_server != NULL) {
		LOG_ERR("The RPC server is already listening");
		return -EBUSY;
	}
	g_server = jsonrpc_server_listen(path, rpc_dispatch, &rc);
	return g_server != NULL ? 0 : rc;
}

void
rpc_pause(void)
{
	if (g_server != NULL) {
		jsonrpc_server_pause(g_server);
	}
}

void
rpc_resume(void)
{
	if (g_server != NULL) {
		jsonrpc_server_resume(g_server);
	}
}

void
rpc_close(void)
{
	jsonrpc_server_close(g_server);
	g_server = NULL;
}
