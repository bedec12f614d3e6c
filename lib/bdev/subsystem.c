/*
 * lib/bdev/subsystem.c: the layer's life cycle: the module registry, the
 * options, bringing the layer up and down, and the "bdev" subsystem with
 * its saved configuration.
 *
 * Start-up: the bdev_io pool is sized from the largest per-I/O context any
 * registered module asks for, then each module's module_init runs in
 * registration order (an async_init module reports with
 * bdev_module_init_done()). Shut-down: each module's fini_start runs first
 * (one at a time, each reporting with bdev_module_fini_start_done()), then
 * bdevs are unregistered one at a time, leaves first (an unclaimed bdev
 * before a claimed one, so an lvol goes before the base bdev its store
 * claims), then module_fini runs in reverse order and the pool is freed.
 *
 * Invariants:
 *  - Modules register from constructors, before main(); the list is only
 *    read after that, on the app thread.
 *  - Options change only before bdev_initialize() (-EPERM after).
 *  - Saved configuration replays in order: bdev_set_options (when the RPC
 *    exists), the bdev_examine list, module options, one creation call per
 *    bdev, QoS limits, histograms, and bdev_wait_for_examine last.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/app.h"
#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "bdev_internal.h"

/*
 * Pool and cache defaults as in the reference implementation: 65535
 * bdev_ios cover every queue of a large host; the per-core cache of 256
 * keeps a reactor at QD 128 off the shared ring.
 */
struct bdev_opts g_bdev_opts = {
	.opts_size = sizeof(struct bdev_opts),
	.bdev_io_pool_size = 65535,
	.bdev_io_cache_size = 256,
	.bdev_auto_examine = true,
	.iobuf_small_cache_size = 128,
	.iobuf_large_cache_size = 16,
};

static struct bdev_module *g_modules;
static bool g_initialized;
/* Modules, from the first, whose module_init ran (and succeeded): fini undoes those. */
static unsigned g_modules_inited;

/* ---- modules ---------------------------------------------------------------- */

void
bdev_module_register(struct bdev_module *module)
{
	struct bdev_module **p = &g_modules;

	if (bdev_module_find(module->name) != NULL) {
		LOG_ERR("bdev module %s registered twice", module->name);
		return;
	}
	while (*p != NULL)
		p = &(*p)->next;
	module->next = NULL;
	*p = module;
}

struct bdev_module *
bdev_module_find(const char *name)
{
	for (struct bdev_module *m = g_modules; m != NULL; m = m->next) {
		if (strcmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}

struct bdev_module *
bdev_module_first(void)
{
	return g_modules;
}

void
bdev_module_list_clear_for_test(void)
{
	g_modules = NULL;
}

/* ---- options -------------------------------------------------------------------- */

void
bdev_get_opts(struct bdev_opts *opts, size_t size)
{
	struct bdev_opts tmp = g_bdev_opts;

	if (size > sizeof(tmp))
		size = sizeof(tmp);
	tmp.opts_size = size;
	memcpy(opts, &tmp, size);
}

int
bdev_set_opts(const struct bdev_opts *opts)
{
	struct bdev_opts tmp = g_bdev_opts;
	size_t size = opts->opts_size < sizeof(tmp) ? opts->opts_size : sizeof(tmp);

	if (g_initialized)
		return -EPERM;
	memcpy(&tmp, opts, size);
	tmp.opts_size = sizeof(tmp);
	if (tmp.bdev_io_pool_size < 2)
		return -EINVAL;
	/* A cache that could hold the whole pool would starve the other cores. */
	if (tmp.bdev_io_cache_size > tmp.bdev_io_pool_size / 2)
		return -EINVAL;
	g_bdev_opts = tmp;
	return 0;
}

/* ---- start-up ------------------------------------------------------------------- */

static struct {
	void (*cb)(void *cb_arg, int rc);
	void *cb_arg;
	struct bdev_module *next;      /* next module to initialise */
	struct bdev_module *waiting;   /* async module we wait for */
} g_init;

struct init_done_msg {
	void (*cb)(void *cb_arg, int rc);
	void *cb_arg;
	int rc;
};

static void
init_done_run(void *arg)
{
	struct init_done_msg *m = arg;

	m->cb(m->cb_arg, m->rc);
	free(m);
}

static void
init_complete(int rc)
{
	struct init_done_msg *m = malloc(sizeof(*m));

	if (rc == 0)
		g_initialized = true;
	if (g_init.cb == NULL) {
		free(m);
		return;
	}
	if (m == NULL) {
		g_init.cb(g_init.cb_arg, rc);
		return;
	}
	m->cb = g_init.cb;
	m->cb_arg = g_init.cb_arg;
	m->rc = rc;
	/* Never inside bdev_initialize() itself. */
	if (thread_send_msg(thread_get_current(), init_done_run, m) != 0) {
		free(m);
		g_init.cb(g_init.cb_arg, rc);
	}
}

static void
modules_init_continue(void)
{
	while (g_init.next != NULL) {
		struct bdev_module *m = g_init.next;
		int rc;

		g_init.next = m->next;
		if (m->module_init == NULL) {
			g_modules_inited++;
			continue;
		}
		if (m->async_init)
			g_init.waiting = m;
		rc = m->module_init();
		if (rc != 0) {
			LOG_ERR("bdev module %s failed to initialise: %s", m->name, strerror(-rc));
			g_init.waiting = NULL;
			init_complete(rc);
			return;
		}
		g_modules_inited++;
		if (m->async_init)
			return;    /* bdev_module_init_done() continues */
	}
	init_complete(0);
}

void
bdev_module_init_done(struct bdev_module *module)
{
	if (g_init.waiting != module) {
		LOG_ERR("bdev module %s: unexpected init_done", module->name);
		return;
	}
	g_init.waiting = NULL;
	modules_init_continue();
}

void
bdev_initialize(void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	size_t ctx_size = 0;

	g_init.cb = cb;
	g_init.cb_arg = cb_arg;
	for (struct bdev_module *m = g_modules; m != NULL; m = m->next) {
		if (m->get_ctx_size != NULL && m->get_ctx_size() > ctx_size)
			ctx_size = m->get_ctx_size();
	}
	if (g_bdev_io_pool == NULL) {
		/* No per-core cache in the pool: each thread keeps its own
		 * (bdev_io_cache_size, in its mgmt channel, io.c). */
		g_bdev_io_pool = env_pool_create("bdev_io", g_bdev_opts.bdev_io_pool_size,
						 bdev_io_element_size(ctx_size), 0);
		if (g_bdev_io_pool == NULL) {
			LOG_ERR("bdev: cannot create the pool of %u bdev_ios",
				g_bdev_opts.bdev_io_pool_size);
			init_complete(-ENOMEM);
			return;
		}
		g_bdev_zero_buf = env_dma_zmalloc(BDEV_ZERO_BUF_SIZE, 4096, NULL);
		if (g_bdev_zero_buf == NULL) {
			env_pool_free(g_bdev_io_pool);
			g_bdev_io_pool = NULL;
			init_complete(-ENOMEM);
			return;
		}
		io_device_register(&g_bdev_mgmt, bdev_mgmt_channel_create,
				   bdev_mgmt_channel_destroy, sizeof(struct bdev_mgmt_channel),
				   "bdev_mgmt");
	}
	g_init.next = g_modules;
	g_modules_inited = 0;
	modules_init_continue();
}

/* ---- shut-down ------------------------------------------------------------------ */

static struct {
	void (*cb)(void *cb_arg);
	void *cb_arg;
	struct poller *retry;
	/* fini_start: the next module to call, the one being waited for. */
	struct bdev_module *next;
	unsigned next_index;
	struct bdev_module *waiting;
	bool in_call;		/* inside a module's fini_start */
	bool done_inline;	/* the waited module reported from inside its call */
} g_fini;

static void unregister_next(void);

static int
fini_retry(void *arg)
{
	poller_unregister(&g_fini.retry);
	unregister_next();
	return POLLER_BUSY;
}

static void
fini_unregistered(void *cb_arg, int rc)
{
	unregister_next();
}

static void
modules_fini_reverse(struct bdev_module *m, unsigned n)
{
	if (m == NULL || n == 0)
		return;
	modules_fini_reverse(m->next, n - 1);
	if (m->module_fini != NULL)
		m->module_fini();
}

static void
mgmt_gone(void *io_device)
{
	env_pool_free(g_bdev_io_pool);
	g_bdev_io_pool = NULL;
	env_dma_free(g_bdev_zero_buf);
	g_bdev_zero_buf = NULL;
	g_initialized = false;
	if (g_fini.cb != NULL)
		g_fini.cb(g_fini.cb_arg);
}

static void
unregister_next(void)
{
	struct bdev_internal *in, *pick = NULL;
	bool busy;

	/* The last unclaimed bdev that is not already going; else the last one. */
	pthread_mutex_lock(&g_bdev_lock);
	TAILQ_FOREACH_REVERSE(in, &g_bdevs, bdev_list, link) {
		if (in->status != BDEV_STATUS_READY)
			continue;
		if (in->claim_module == NULL) {
			pick = in;
			break;
		}
		if (pick == NULL)
			pick = in;
	}
	pthread_mutex_unlock(&g_bdev_lock);
	if (pick != NULL) {
		bdev_unregister(pick->bdev, fini_unregistered, NULL);
		return;
	}
	pthread_mutex_lock(&g_bdev_lock);
	busy = !TAILQ_EMPTY(&g_bdevs);
	pthread_mutex_unlock(&g_bdev_lock);
	if (busy) {
		/* Others are being removed by someone else: look again shortly. */
		g_fini.retry = poller_register(fini_retry, NULL, 1000, "bdev_fini_retry");
		if (g_fini.retry != NULL)
			return;
		LOG_ERR("bdev: cannot wait for bdevs being removed; finishing anyway");
	}
	bdev_examine_fini();
	modules_fini_reverse(g_modules, g_modules_inited);
	g_modules_inited = 0;
	if (g_bdev_io_pool != NULL)
		io_device_unregister(&g_bdev_mgmt, mgmt_gone);
	else if (g_fini.cb != NULL)
		g_fini.cb(g_fini.cb_arg);
}

/*
 * Calls the fini_start of each initialised module in turn; a module that
 * reports later (bdev_module_fini_start_done) resumes the walk from there.
 * A report from inside the call is noted and the loop goes on, so a chain
 * of synchronous modules does not recurse.
 */
static void
fini_start_continue(void)
{
	while (g_fini.next != NULL && g_fini.next_index < g_modules_inited) {
		struct bdev_module *m = g_fini.next;

		g_fini.next = m->next;
		g_fini.next_index++;
		if (m->fini_start == NULL)
			continue;
		g_fini.waiting = m;
		g_fini.done_inline = false;
		g_fini.in_call = true;
		m->fini_start();
		g_fini.in_call = false;
		if (!g_fini.done_inline)
			return;    /* bdev_module_fini_start_done() continues */
	}
	g_fini.next = NULL;
	unregister_next();
}

void
bdev_module_fini_start_done(struct bdev_module *module)
{
	if (g_fini.waiting != module) {
		LOG_ERR("bdev module %s: unexpected fini_start_done", module->name);
		return;
	}
	g_fini.waiting = NULL;
	if (g_fini.in_call)
		g_fini.done_inline = true;    /* the loop in fini_start_continue goes on */
	else
		fini_start_continue();
}

void
bdev_finish(void (*cb)(void *cb_arg), void *cb_arg)
{
	g_fini.cb = cb;
	g_fini.cb_arg = cb_arg;
	g_fini.next = g_modules;
	g_fini.next_index = 0;
	g_fini.waiting = NULL;
	fini_start_continue();
}

/* ---- the "bdev" subsystem ------------------------------------------------------- */

static void
subsystem_init_cb(void *cb_arg, int rc)
{
	subsystem_init_done(rc);
}

static void
bdev_subsystem_init(void)
{
	bdev_initialize(subsystem_init_cb, NULL);
}

static void
subsystem_fini_cb(void *cb_arg)
{
	subsystem_fini_done();
}

static void
bdev_subsystem_fini(void)
{
	if (g_bdev_io_pool == NULL) {
		subsystem_fini_done();
		return;
	}
	bdev_finish(subsystem_fini_cb, NULL);
}

static void
write_qos_and_histogram(json_t *config, struct bdev *bdev)
{
	struct bdev_internal *in = bdev->internal;
	static const char *const keys[BDEV_QOS_NUM_LIMITS] = {
		"rw_ios_per_sec", "rw_mbytes_per_sec", "r_mbytes_per_sec", "w_mbytes_per_sec",
	};
	uint64_t limits[BDEV_QOS_NUM_LIMITS];
	json_t *params = NULL;
	bool histogram;

	bdev_get_qos_limits(bdev, limits);
	for (int i = 0; i < BDEV_QOS_NUM_LIMITS; i++) {
		uint64_t v = i == BDEV_QOS_RW_IOPS ? limits[i] : limits[i] / (1024 * 1024);

		if (v == 0)
			continue;
		if (params == NULL)
			params = json_pack("{s:s}", "name", bdev->name);
		json_object_set_new(params, keys[i], json_integer((json_int_t)v));
	}
	if (params != NULL)
		json_array_append_new(config, json_pack("{s:s, s:o}", "method",
							"bdev_set_qos_limit", "params", params));
	pthread_mutex_lock(&g_bdev_lock);
	histogram = in->histogram_enabled;
	pthread_mutex_unlock(&g_bdev_lock);
	if (histogram)
		json_array_append_new(config, json_pack("{s:s, s:{s:s, s:b}}", "method",
							"bdev_enable_histogram", "params", "name",
							bdev->name, "enable", 1));
}

static void
bdev_subsystem_write_config(json_t *config)
{
	struct bdev *bdev;

	if (rpc_method_exists("bdev_set_options"))
		json_array_append_new(config, json_pack(
			"{s:s, s:{s:I, s:I, s:b, s:I, s:I}}", "method", "bdev_set_options",
			"params", "bdev_io_pool_size", (json_int_t)g_bdev_opts.bdev_io_pool_size,
			"bdev_io_cache_size", (json_int_t)g_bdev_opts.bdev_io_cache_size,
			"bdev_auto_examine", (int)g_bdev_opts.bdev_auto_examine,
			"iobuf_small_cache_size", (json_int_t)g_bdev_opts.iobuf_small_cache_size,
			"iobuf_large_cache_size", (json_int_t)g_bdev_opts.iobuf_large_cache_size));
	/* Before the bdevs they name, so that those are examined on creation. */
	bdev_examine_write_config(config);
	for (struct bdev_module *m = g_modules; m != NULL; m = m->next) {
		if (m->config_json != NULL)
			m->config_json(config);
	}
	for (bdev = bdev_first(); bdev != NULL; bdev = bdev_next(bdev)) {
		if (bdev->fn_table->write_config_json != NULL)
			bdev->fn_table->write_config_json(bdev, config);
	}
	for (bdev = bdev_first(); bdev != NULL; bdev = bdev_next(bdev))
		write_qos_and_histogram(config, bdev);
	json_array_append_new(config, json_pack("{s:s}", "method", "bdev_wait_for_examine"));
}

static struct subsystem g_bdev_subsystem = {
	.name = "bdev",
	.init = bdev_subsystem_init,
	.fini = bdev_subsystem_fini,
	.write_config = bdev_subsystem_write_config,
};
SUBSYSTEM_REGISTER(g_bdev_subsystem)
