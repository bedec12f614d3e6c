/*
 * lib/bdev/bdev_rpc.c: the generic bdev methods of spec/rpc.md §2.2 —
 * bdev_get_bdevs, bdev_get_iostat, bdev_set_qos_limit,
 * bdev_enable_histogram, bdev_get_histogram, bdev_wait_for_examine,
 * bdev_examine and bdev_set_options — written only against the public bdev
 * API (bdev.h, and bdev_module.h for bdev_info_json and the layer's
 * options). Back-end specific methods (bdev_malloc_create, ...) live with
 * their modules; the delete methods they all have in the same form share
 * rpc_bdev_delete_reply, here.
 *
 * Error conventions, per method as the spec lists them: a parameter set
 * that does not decode answers -32603 "spdk_json_decode_object failed"
 * (bdev_examine alone uses -32602); an unknown bdev is errno-coded -19;
 * asynchronous failures are errno-coded except for bdev_set_qos_limit,
 * which wraps the errno text in a -32602 sentence.
 *
 * Lifetime: every handler runs on the application thread. A handler that
 * waits for the layer (statistics, QoS, histograms) first opens a
 * read-only descriptor on each bdev it names and closes it when the
 * answer has been sent, so a bdev cannot be destructed under a request in
 * flight; its removal simply waits for the answer. The descriptor's event
 * callback ignores events for the same reason. Each request is answered
 * exactly once, on the application thread, and frees its own context.
 *
 * Latencies, tick_rate, ticks and tsc_rate are in env_get_ticks() units,
 * the clock the layer stamps I/O with (lib/bdev/stat.c).
 *
 * bdev_get_bdevs with a timeout waits for a name that does not exist yet.
 * The layer offers no "bdev registered" notification, so a timed poller
 * re-checks the name (GET_BDEVS_RECHECK_US) until it appears or the
 * deadline passes; the reactor can sleep between checks.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lvstor/bdev.h"
#include "lvstor/bdev_module.h"
#include "lvstor/env.h"
#include "lvstor/histogram.h"
#include "lvstor/rpc.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

#define DECODE_FAILED "spdk_json_decode_object failed"

/*
 * How often a waiting bdev_get_bdevs looks for its name again: 10 ms adds
 * at most that much to a wait that tooling counts in seconds, and costs a
 * hundred wake-ups a second only while someone is waiting.
 */
#define GET_BDEVS_RECHECK_US 10000

/* bdev_get_iostat's "names" limit (spec §2.2.2). */
#define IOSTAT_MAX_NAMES 1024

/* Histogram defaults of bdev_enable_histogram (spec §2.2.12). */
#define HISTOGRAM_DEFAULT_MIN_NSEC 1000ull
#define HISTOGRAM_DEFAULT_MAX_NSEC 120000000000ull

static void
ignore_bdev_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	(void)type;
	(void)bdev;
	(void)ctx;
}

/* Opens `name` read-only to pin the bdev while a request is in flight. */
static int
pin_bdev(const char *name, struct bdev_desc **desc)
{
	return bdev_open(name, false, ignore_bdev_event, NULL, desc);
}

static json_t *
json_u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

/* ---- bdev_get_bdevs ---------------------------------------------------- */

struct get_bdevs_params {
	char *name;
	uint64_t timeout;
};

static const struct rpc_object_decoder get_bdevs_decoders[] = {
	{ "name", offsetof(struct get_bdevs_params, name), rpc_decode_string, true },
	{ "timeout", offsetof(struct get_bdevs_params, timeout), rpc_decode_uint64, true },
};

struct get_bdevs_wait {
	struct jsonrpc_request *req;
	char *name;
	uint64_t deadline;      /* thread_get_ticks() */
	struct poller *poller;
};

/* Appends bdev's object to arr; false on allocation failure. */
static bool
append_bdev_info(json_t *arr, struct bdev *bdev)
{
	json_t *info = bdev_info_json(bdev);

	return info != NULL && json_array_append_new(arr, info) == 0;
}

static void
answer_one_bdev(struct jsonrpc_request *req, struct bdev *bdev)
{
	json_t *arr = json_array();

	if (arr == NULL || !append_bdev_info(arr, bdev)) {
		json_decref(arr);
		jsonrpc_send_errno(req, -ENOMEM);
		return;
	}
	jsonrpc_send_result(req, arr);
}

static void
answer_all_bdevs(struct jsonrpc_request *req)
{
	json_t *arr = json_array();
	struct bdev *bdev;

	if (arr == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return;
	}
	for (bdev = bdev_first(); bdev != NULL; bdev = bdev_next(bdev)) {
		if (!append_bdev_info(arr, bdev)) {
			json_decref(arr);
			jsonrpc_send_errno(req, -ENOMEM);
			return;
		}
	}
	jsonrpc_send_result(req, arr);
}

/* now + ms milliseconds in thread ticks, saturating instead of wrapping. */
static uint64_t
deadline_after_ms(uint64_t ms)
{
	uint64_t hz = thread_get_ticks_hz(), now = thread_get_ticks();
	uint64_t delta;

	if (hz != 0 && ms / 1000 > UINT64_MAX / hz) {
		return UINT64_MAX;
	}
	delta = (ms / 1000) * hz + (ms % 1000) * hz / 1000;
	return delta > UINT64_MAX - now ? UINT64_MAX : now + delta;
}

static int
get_bdevs_wait_poll(void *ctx)
{
	struct get_bdevs_wait *w = ctx;
	struct bdev *bdev = bdev_get_by_name(w->name);

	if (bdev != NULL) {
		answer_one_bdev(w->req, bdev);
	} else if (thread_get_ticks() >= w->deadline ||
		   !thread_is_running(thread_get_current())) {
		/* Timed out, or the daemon is stopping: don't hold its thread. */
		jsonrpc_send_errno(w->req, -ENODEV);
	} else {
		return POLLER_IDLE;
	}
	poller_unregister(&w->poller);
	free(w->name);
	free(w);
	return POLLER_BUSY;
}

static void
rpc_bdev_get_bdevs(struct jsonrpc_request *req, const json_t *params)
{
	struct get_bdevs_params p = { 0 };
	struct get_bdevs_wait *w;
	struct bdev *bdev;

	if (rpc_decode_object(params, get_bdevs_decoders, COUNTOF(get_bdevs_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		free(p.name);
		return;
	}
	if (p.name == NULL) {
		answer_all_bdevs(req);
		return;
	}
	bdev = bdev_get_by_name(p.name);
	if (bdev != NULL) {
		answer_one_bdev(req, bdev);
	} else if (p.timeout == 0) {
		jsonrpc_send_errno(req, -ENODEV);
	} else if ((w = calloc(1, sizeof(*w))) == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
	} else {
		w->req = req;
		w->name = p.name;
		w->deadline = deadline_after_ms(p.timeout);
		w->poller = poller_register(get_bdevs_wait_poll, w, GET_BDEVS_RECHECK_US,
					    "bdev_get_bdevs_wait");
		if (w->poller == NULL) {
			free(w);
			jsonrpc_send_errno(req, -ENOMEM);
		} else {
			return;   /* the poller owns p.name now */
		}
	}
	free(p.name);
}
RPC_REGISTER("bdev_get_bdevs", rpc_bdev_get_bdevs, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(get_bdevs, bdev_get_bdevs)

/* ---- bdev_get_iostat --------------------------------------------------- */

struct iostat_params {
	char *name;
	struct rpc_string_array names;
	bool names_given;
	bool per_channel;
	enum bdev_reset_stat_mode reset;
};

/* "names": a string array of at most IOSTAT_MAX_NAMES; presence recorded. */
static int
decode_iostat_names(const json_t *val, void *out)
{
	struct iostat_params *p = CONTAINEROF(out, struct iostat_params, names);
	int rc;

	if (!json_is_array(val) || json_array_size(val) > IOSTAT_MAX_NAMES) {
		return -EINVAL;
	}
	rc = rpc_decode_string_array(val, out);
	if (rc == 0) {
		p->names_given = true;
	}
	return rc;
}

/* Enumerations are accepted without regard to case (spec §1.9). */
static int
decode_reset_mode(const json_t *val, void *out)
{
	static const struct {
		const char *name;
		enum bdev_reset_stat_mode mode;
	} modes[] = {
		{ "all", BDEV_RESET_STAT_ALL },
		{ "maxmin", BDEV_RESET_STAT_MAXMIN },
		{ "error", BDEV_RESET_STAT_ERROR },
		{ "none", BDEV_RESET_STAT_NONE },
	};
	const char *s = json_string_value(val);
	size_t i;

	if (s == NULL) {
		return -EINVAL;
	}
	for (i = 0; i < COUNTOF(modes); i++) {
		if (strcasecmp(s, modes[i].name) == 0) {
			*(enum bdev_reset_stat_mode *)out = modes[i].mode;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct rpc_object_decoder iostat_decoders[] = {
	{ "name", offsetof(struct iostat_params, name), rpc_decode_string, true },
	{ "names", offsetof(struct iostat_params, names), decode_iostat_names, true },
	{ "per_channel", offsetof(struct iostat_params, per_channel), rpc_decode_bool, true },
	{ "reset_mode", offsetof(struct iostat_params, reset), decode_reset_mode, true },
};

/* The counters, in the spec's emission order. */
static const struct {
	const char *key;
	size_t offset;
	bool is_min;    /* the layer may keep "no I/O yet" as UINT64_MAX: report 0 */
} iostat_fields[] = {
#define F(field, is_min) { #field, offsetof(struct bdev_io_stat, field), is_min }
	F(bytes_read, false), F(num_read_ops, false),
	F(bytes_written, false), F(num_write_ops, false),
	F(bytes_unmapped, false), F(num_unmap_ops, false),
	F(bytes_copied, false), F(num_copy_ops, false),
	F(read_latency_ticks, false), F(max_read_latency_ticks, false),
	F(min_read_latency_ticks, true),
	F(write_latency_ticks, false), F(max_write_latency_ticks, false),
	F(min_write_latency_ticks, true),
	F(unmap_latency_ticks, false), F(max_unmap_latency_ticks, false),
	F(min_unmap_latency_ticks, true),
	F(copy_latency_ticks, false), F(max_copy_latency_ticks, false),
	F(min_copy_latency_ticks, true),
#undef F
};

/* io_error's keys, indexed by -status (bdev.h's bdev_io_stat.io_error). */
static const char *const io_error_names[8] = {
	[-BDEV_IO_STATUS_FAILED] = "failed",
	[-BDEV_IO_STATUS_NOMEM] = "nomem",
	[-BDEV_IO_STATUS_ABORTED] = "aborted",
	[-BDEV_IO_STATUS_MISCOMPARE] = "miscompare",
};

/* Appends the counters and io_error of `stat` to obj. */
static int
add_stat_fields(json_t *obj, const struct bdev_io_stat *stat)
{
	json_t *errors = json_object();
	char fallback[32];
	size_t i;
	int rc = 0;

	if (errors == NULL) {
		return -ENOMEM;
	}
	for (i = 0; i < COUNTOF(iostat_fields); i++) {
		uint64_t v = *(const uint64_t *)((const uint8_t *)stat + iostat_fields[i].offset);

		if (iostat_fields[i].is_min && v == UINT64_MAX) {
			v = 0;
		}
		rc |= json_object_set_new(obj, iostat_fields[i].key, json_u64(v));
	}
	for (i = 0; i < COUNTOF(stat->io_error); i++) {
		const char *key = io_error_names[i];

		if (stat->io_error[i] == 0) {
			continue;
		}
		if (key == NULL) {
			snprintf(fallback, sizeof(fallback), "status_%d", -(int)i);
			key = fallback;
		}
		rc |= json_object_set_new(errors, key, json_u64(stat->io_error[i]));
	}
	rc |= json_object_set_new(obj, "io_error", errors);
	return rc != 0 ? -ENOMEM : 0;
}

struct iostat_ctx;

struct iostat_entry {
	struct iostat_ctx *ctx;
	struct bdev_desc *desc;
	json_t *obj;            /* this bdev's result object, once collected */
};

struct iostat_ctx {
	struct jsonrpc_request *req;
	bool per_channel;
	enum bdev_reset_stat_mode reset;
	int rc;                 /* first failure, 0 if none */
	json_t *channels;       /* per_channel: the channel objects so far */
	size_t count;
	size_t outstanding;
	struct iostat_entry entries[];
};

static void
iostat_finish(struct iostat_ctx *ctx)
{
	json_t *result = NULL, *bdevs = NULL;
	size_t i;
	int rc = ctx->rc;

	if (rc == 0) {
		result = json_object();
		if (result == NULL ||
		    json_object_set_new(result, "tick_rate", json_u64(env_get_ticks_hz())) ||
		    json_object_set_new(result, "ticks", json_u64(env_get_ticks()))) {
			rc = -ENOMEM;
		} else if (ctx->per_channel) {
			rc = json_object_set_new(result, "name", json_string(bdev_get_name(
					bdev_desc_get_bdev(ctx->entries[0].desc)))) ||
			     json_object_set(result, "channels", ctx->channels) ? -ENOMEM : 0;
		} else if ((bdevs = json_array()) == NULL ||
			   json_object_set(result, "bdevs", bdevs) != 0) {
			rc = -ENOMEM;
		} else {
			for (i = 0; i < ctx->count && rc == 0; i++) {
				if (json_array_append(bdevs, ctx->entries[i].obj) != 0) {
					rc = -ENOMEM;
				}
			}
		}
	}
	if (rc == 0) {
		jsonrpc_send_result(ctx->req, result);
	} else {
		json_decref(result);
		jsonrpc_send_errno(ctx->req, rc);
	}
	json_decref(bdevs);
	json_decref(ctx->channels);
	for (i = 0; i < ctx->count; i++) {
		json_decref(ctx->entries[i].obj);
		bdev_close(ctx->entries[i].desc);
	}
	free(ctx);
}

/*
 * The layer's answer for one bdev. Without per_channel it calls once. With
 * per_channel it calls once per channel and then once with thread_id
 * UINT64_MAX (also after a failure): only that last call ends the bdev.
 */
static void
iostat_collected(struct bdev *bdev, const struct bdev_io_stat *stat, uint64_t thread_id,
		 int rc, void *cb_arg)
{
	struct iostat_entry *e = cb_arg;
	struct iostat_ctx *ctx = e->ctx;
	bool channel = ctx->per_channel && thread_id != UINT64_MAX;
	json_t *obj = NULL;

	if (rc != 0 || (stat == NULL && (channel || !ctx->per_channel))) {
		ctx->rc = ctx->rc != 0 ? ctx->rc : (rc != 0 ? rc : -EIO);
	} else if (channel) {
		obj = json_object();
		if (obj == NULL || json_object_set_new(obj, "thread_id", json_u64(thread_id)) ||
		    add_stat_fields(obj, stat) != 0) {
			json_decref(obj);
			ctx->rc = ctx->rc != 0 ? ctx->rc : -ENOMEM;
		} else if (json_array_append_new(ctx->channels, obj) != 0) {
			ctx->rc = ctx->rc != 0 ? ctx->rc : -ENOMEM;
		}
	} else if (!ctx->per_channel) {
		obj = json_object();
		if (obj == NULL ||
		    json_object_set_new(obj, "name", json_string(bdev_get_name(bdev))) ||
		    add_stat_fields(obj, stat) != 0) {
			json_decref(obj);
			ctx->rc = ctx->rc != 0 ? ctx->rc : -ENOMEM;
		} else {
			e->obj = obj;
		}
	}
	if (!channel && --ctx->outstanding == 0) {
		iostat_finish(ctx);
	}
}

static struct iostat_ctx *
iostat_ctx_alloc(struct jsonrpc_request *req, size_t count, const struct iostat_params *p)
{
	struct iostat_ctx *ctx = calloc(1, sizeof(*ctx) + count * sizeof(ctx->entries[0]));

	if (ctx == NULL) {
		return NULL;
	}
	ctx->req = req;
	ctx->per_channel = p->per_channel;
	ctx->reset = p->reset;
	if (p->per_channel && (ctx->channels = json_array()) == NULL) {
		free(ctx);
		return NULL;
	}
	return ctx;
}

static void
iostat_ctx_abort(struct iostat_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->count; i++) {
		bdev_close(ctx->entries[i].desc);
	}
	json_decref(ctx->channels);
	free(ctx);
}

/* Opens the named bdevs (or every bdev) into a fresh context; -errno on failure. */
static int
iostat_open(struct jsonrpc_request *req, const struct iostat_params *p,
	    struct iostat_ctx **out)
{
	struct iostat_ctx *ctx;
	struct bdev *bdev;
	size_t n = 0, i;
	int rc;

	if (p->name != NULL || p->names_given) {
		const char *const *names = p->name != NULL ? (const char *const *)&p->name :
					   (const char *const *)p->names.strings;

		n = p->name != NULL ? 1 : p->names.count;
		ctx = iostat_ctx_alloc(req, n, p);
		if (ctx == NULL) {
			return -ENOMEM;
		}
		for (i = 0; i < n; i++) {
			rc = pin_bdev(names[i], &ctx->entries[i].desc);
			if (rc != 0) {
				iostat_ctx_abort(ctx);
				return rc == -ENOMEM ? rc : -ENODEV;
			}
			ctx->count++;
		}
	} else {
		for (bdev = bdev_first(); bdev != NULL; bdev = bdev_next(bdev)) {
			n++;
		}
		ctx = iostat_ctx_alloc(req, n, p);
		if (ctx == NULL) {
			return -ENOMEM;
		}
		for (bdev = bdev_first(); bdev != NULL && ctx->count < n; bdev = bdev_next(bdev)) {
			rc = pin_bdev(bdev_get_name(bdev), &ctx->entries[ctx->count].desc);
			if (rc == -ENOMEM) {
				iostat_ctx_abort(ctx);
				return rc;
			}
			/* A bdev being removed is simply no longer listed. */
			if (rc == 0) {
				ctx->count++;
			}
		}
	}
	*out = ctx;
	return 0;
}

static void
rpc_bdev_get_iostat(struct jsonrpc_request *req, const json_t *params)
{
	struct iostat_params p = { 0 };
	struct iostat_ctx *ctx = NULL;
	size_t i, count;
	int rc;

	if (rpc_decode_object(params, iostat_decoders, COUNTOF(iostat_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		goto out;
	}
	if (p.name != NULL && p.names_given) {
		jsonrpc_send_errno(req, -EINVAL);
		goto out;
	}
	/* Per-channel figures are for exactly one bdev. */
	if (p.per_channel && !(p.name != NULL || (p.names_given && p.names.count == 1))) {
		jsonrpc_send_errno(req, -EINVAL);
		goto out;
	}
	rc = iostat_open(req, &p, &ctx);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	count = ctx->count;
	if (count == 0) {
		iostat_finish(ctx);
		goto out;
	}
	/* Set before the first call so that no completion can finish early. */
	ctx->outstanding = count;
	for (i = 0; i < count; i++) {
		ctx->entries[i].ctx = ctx;
	}
	for (i = 0; i < count; i++) {
		/* ctx may be gone after the last call: use only locals here. */
		struct iostat_entry *e = &ctx->entries[i];

		bdev_get_io_stat(bdev_desc_get_bdev(e->desc), p.per_channel, p.reset,
				 iostat_collected, e);
	}
out:
	free(p.name);
	rpc_string_array_free(&p.names);
}
RPC_REGISTER("bdev_get_iostat", rpc_bdev_get_iostat, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(get_bdevs_iostat, bdev_get_iostat)

/* ---- bdev_set_qos_limit ------------------------------------------------ */

/* An optional uint64 whose absence must be told apart from any value. */
struct opt_u64 {
	bool set;
	uint64_t value;
};

static int
decode_opt_u64(const json_t *val, void *out)
{
	struct opt_u64 *o = out;
	int rc = rpc_decode_uint64(val, &o->value);

	if (rc == 0) {
		o->set = true;
	}
	return rc;
}

struct qos_params {
	char *name;
	struct opt_u64 limits[BDEV_QOS_NUM_LIMITS];
};

static const struct rpc_object_decoder qos_decoders[] = {
	{ "name", offsetof(struct qos_params, name), rpc_decode_string, false },
	{ "rw_ios_per_sec", offsetof(struct qos_params, limits[BDEV_QOS_RW_IOPS]),
	  decode_opt_u64, true },
	{ "rw_mbytes_per_sec", offsetof(struct qos_params, limits[BDEV_QOS_RW_BPS]),
	  decode_opt_u64, true },
	{ "r_mbytes_per_sec", offsetof(struct qos_params, limits[BDEV_QOS_R_BPS]),
	  decode_opt_u64, true },
	{ "w_mbytes_per_sec", offsetof(struct qos_params, limits[BDEV_QOS_W_BPS]),
	  decode_opt_u64, true },
};

/* The request and the pinning descriptor of an asynchronous bdev call. */
struct bdev_call {
	struct jsonrpc_request *req;
	struct bdev_desc *desc;
};

/* Pins `name` for an asynchronous call; answers and returns NULL on failure. */
static struct bdev_call *
bdev_call_start(struct jsonrpc_request *req, const char *name)
{
	struct bdev_call *call;
	int rc;

	if (bdev_get_by_name(name) == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		return NULL;
	}
	call = calloc(1, sizeof(*call));
	if (call == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return NULL;
	}
	rc = pin_bdev(name, &call->desc);
	if (rc != 0) {
		free(call);
		jsonrpc_send_errno(req, rc == -ENOMEM ? rc : -ENODEV);
		return NULL;
	}
	call->req = req;
	return call;
}

static void
bdev_call_end(struct bdev_call *call)
{
	bdev_close(call->desc);
	free(call);
}

static void
qos_done(void *cb_arg, int rc)
{
	struct bdev_call *call = cb_arg;

	if (rc != 0) {
		jsonrpc_send_error(call->req, JSONRPC_ERROR_INVALID_PARAMS,
				   "Failed to configure rate limit: %s", strerror(-rc));
	} else {
		jsonrpc_send_bool(call->req, true);
	}
	bdev_call_end(call);
}

static void
rpc_bdev_set_qos_limit(struct jsonrpc_request *req, const json_t *params)
{
	struct qos_params p = { 0 };
	uint64_t limits[BDEV_QOS_NUM_LIMITS];
	struct bdev_call *call;
	bool any = false, bad = false;
	int i;

	if (rpc_decode_object(params, qos_decoders, COUNTOF(qos_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		goto out;
	}
	if (bdev_get_by_name(p.name) == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		goto out;
	}
	for (i = 0; i < BDEV_QOS_NUM_LIMITS; i++) {
		uint64_t v = p.limits[i].value;

		limits[i] = BDEV_QOS_LIMIT_NOT_SET;
		if (!p.limits[i].set) {
			continue;
		}
		any = true;
		if (i == BDEV_QOS_RW_IOPS) {
			/* The layer rounds up to a multiple of 1000: keep room for it. */
			bad |= v > UINT64_MAX - 1000;
			limits[i] = v;
		} else {
			/* MiB/s on the wire, bytes/s in the layer. */
			bad |= v > (UINT64_MAX >> 20);
			limits[i] = v << 20;
		}
	}
	if (!any) {
		jsonrpc_send_error(req, -EINVAL, "No rate limits specified");
	} else if (bad) {
		jsonrpc_send_errno(req, -EINVAL);
	} else if ((call = bdev_call_start(req, p.name)) != NULL) {
		bdev_set_qos_limits(bdev_desc_get_bdev(call->desc), limits, qos_done, call);
	}
out:
	free(p.name);
}
RPC_REGISTER("bdev_set_qos_limit", rpc_bdev_set_qos_limit, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(set_bdev_qos_limit, bdev_set_qos_limit)

/* ---- bdev_enable_histogram / bdev_get_histogram ------------------------- */

struct enable_histogram_params {
	char *name;
	bool enable;
	char *opc;
	uint8_t granularity;
	uint64_t min_nsec;
	uint64_t max_nsec;
};

static const struct rpc_object_decoder enable_histogram_decoders[] = {
	{ "name", offsetof(struct enable_histogram_params, name), rpc_decode_string, false },
	{ "enable", offsetof(struct enable_histogram_params, enable), rpc_decode_bool, false },
	{ "opc", offsetof(struct enable_histogram_params, opc), rpc_decode_string, true },
	{ "granularity", offsetof(struct enable_histogram_params, granularity),
	  rpc_decode_uint8, true },
	{ "min_nsec", offsetof(struct enable_histogram_params, min_nsec),
	  rpc_decode_uint64, true },
	{ "max_nsec", offsetof(struct enable_histogram_params, max_nsec),
	  rpc_decode_uint64, true },
};

static void
histogram_enabled(void *cb_arg, int rc)
{
	struct bdev_call *call = cb_arg;

	if (rc != 0) {
		jsonrpc_send_errno(call->req, rc);
	} else {
		jsonrpc_send_bool(call->req, true);
	}
	bdev_call_end(call);
}

static void
rpc_bdev_enable_histogram(struct jsonrpc_request *req, const json_t *params)
{
	struct enable_histogram_params p = {
		.granularity = HISTOGRAM_DEFAULT_GRANULARITY,
		.min_nsec = HISTOGRAM_DEFAULT_MIN_NSEC,
		.max_nsec = HISTOGRAM_DEFAULT_MAX_NSEC,
	};
	struct histogram_opts opts;
	struct bdev_call *call;
	int io_type = -1;

	if (rpc_decode_object(params, enable_histogram_decoders,
			      COUNTOF(enable_histogram_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		goto out;
	}
	if (bdev_get_by_name(p.name) == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		goto out;
	}
	if (p.opc != NULL && (io_type = bdev_io_type_parse(p.opc)) < 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, "Invalid Io type");
		goto out;
	}
	call = bdev_call_start(req, p.name);
	if (call != NULL) {
		opts = (struct histogram_opts) {
			.granularity = p.granularity,
			.min_nsec = p.min_nsec,
			.max_nsec = p.max_nsec,
			.io_type = io_type,
		};
		bdev_histogram_enable(bdev_desc_get_bdev(call->desc), p.enable, &opts,
				      histogram_enabled, call);
	}
out:
	free(p.name);
	free(p.opc);
}
RPC_REGISTER("bdev_enable_histogram", rpc_bdev_enable_histogram, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(enable_bdev_histogram, bdev_enable_histogram)

/*
 * Standard base64 (RFC 4648, with padding) of len bytes into a fresh
 * NUL-terminated string; NULL on -ENOMEM. Python's base64.b64decode is
 * what rpc.py's histogram helper reads it with.
 */
static char *
base64_encode(const uint8_t *src, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1);
	char *o = out;
	size_t i;

	if (out == NULL) {
		return NULL;
	}
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* The wire form of bdev_get_histogram's result (spec §2.2.13). */
static json_t *
histogram_json(const struct histogram *h)
{
	size_t i, n = histogram_num_buckets(h);
	uint64_t *le = malloc(n * sizeof(*le));
	char *text = NULL;
	json_t *result = NULL;

	if (le == NULL) {
		return NULL;
	}
	/* Little-endian on the wire whatever the host (the spec's x86 order). */
	for (i = 0; i < n; i++) {
		le[i] = htole64(h->buckets[i]);
	}
	text = base64_encode((const uint8_t *)le, n * sizeof(*le));
	if (text != NULL) {
		result = json_pack("{s:s, s:I, s:I, s:I, s:I}", "histogram", text,
				   "granularity", (json_int_t)h->granularity,
				   "min_range", (json_int_t)h->min_range,
				   "max_range", (json_int_t)h->max_range,
				   "tsc_rate", (json_int_t)env_get_ticks_hz());
	}
	free(text);
	free(le);
	return result;
}

static void
histogram_got(void *cb_arg, int rc, const struct histogram *h)
{
	struct bdev_call *call = cb_arg;
	json_t *result;

	if (rc == 0 && h == NULL) {
		rc = -EFAULT;
	}
	if (rc != 0) {
		/* -EFAULT ("Bad address") means the histogram is off. */
		jsonrpc_send_error(call->req, JSONRPC_ERROR_INTERNAL_ERROR, "%s", strerror(-rc));
	} else if ((result = histogram_json(h)) == NULL) {
		jsonrpc_send_error(call->req, JSONRPC_ERROR_INTERNAL_ERROR, "%s",
				   strerror(ENOMEM));
	} else {
		jsonrpc_send_result(call->req, result);
	}
	bdev_call_end(call);
}

struct name_params {
	char *name;
};

static const struct rpc_object_decoder name_decoders[] = {
	{ "name", offsetof(struct name_params, name), rpc_decode_string, false },
};

static void
rpc_bdev_get_histogram(struct jsonrpc_request *req, const json_t *params)
{
	struct name_params p = { 0 };
	struct bdev_call *call;

	if (rpc_decode_object(params, name_decoders, COUNTOF(name_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
	} else if ((call = bdev_call_start(req, p.name)) != NULL) {
		bdev_histogram_get(bdev_desc_get_bdev(call->desc), histogram_got, call);
	}
	free(p.name);
}
RPC_REGISTER("bdev_get_histogram", rpc_bdev_get_histogram, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(get_bdev_histogram, bdev_get_histogram)

/* ---- bdev_wait_for_examine / bdev_examine ------------------------------- */

static void
examine_done(void *cb_arg)
{
	jsonrpc_send_bool(cb_arg, true);
}

static void
rpc_bdev_wait_for_examine(struct jsonrpc_request *req, const json_t *params)
{
	int rc;

	/* The spec's text lacks the word "method" of rpc_reject_params. */
	if (params != NULL && !json_is_null(params)) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS,
				   "bdev_wait_for_examine requires no parameters");
		return;
	}
	/* Refused (no memory): answer now, or the caller would wait forever. */
	rc = bdev_wait_for_examine(examine_done, req);
	if (rc != 0)
		jsonrpc_send_errno(req, rc);
}
RPC_REGISTER("bdev_wait_for_examine", rpc_bdev_wait_for_examine, RPC_STATE_RUNTIME)

/*
 * bdev_examine only means something when automatic examination was
 * switched off (bdev_set_options); with it on, the spec's answer is -22.
 * The name may be of a bdev that does not exist yet (examined when it
 * registers); naming one twice is -17.
 */
static void
rpc_bdev_examine(struct jsonrpc_request *req, const json_t *params)
{
	struct name_params p = { 0 };
	int rc;

	if (rpc_decode_object(params, name_decoders, COUNTOF(name_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, DECODE_FAILED);
	} else if ((rc = bdev_examine(p.name)) != 0) {
		jsonrpc_send_errno(req, rc);
	} else {
		jsonrpc_send_bool(req, true);
	}
	free(p.name);
}
RPC_REGISTER("bdev_examine", rpc_bdev_examine, RPC_STATE_RUNTIME)

/* ---- the back ends' bdev_<kind>_delete ------------------------------------ */

static void
delete_unregistered(void *cb_arg, int rc)
{
	struct jsonrpc_request *req = cb_arg;

	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
	} else {
		jsonrpc_send_bool(req, true);
	}
}

void
rpc_bdev_delete_reply(struct jsonrpc_request *req, const json_t *params,
		      struct bdev_module *module)
{
	struct name_params p = { 0 };
	int rc;

	if (rpc_decode_object(params, name_decoders, COUNTOF(name_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
	} else {
		rc = bdev_unregister_by_name(p.name, module, delete_unregistered, req);
		if (rc != 0) {
			jsonrpc_send_errno(req, rc);
		}
	}
	free(p.name);
}

/* ---- bdev_set_options ---------------------------------------------------- */

struct set_options_params {
	struct bdev_opts opts;
	uint32_t ignored;       /* target of the keys accepted for old clients */
};

/*
 * small_buf_pool_size / large_buf_pool_size: bdev_set_options keys of
 * older releases (buffer pools moved elsewhere later); saved configs of
 * those releases carry them, so they are accepted and have no effect here.
 */
static const struct rpc_object_decoder set_options_decoders[] = {
	{ "bdev_io_pool_size", offsetof(struct set_options_params, opts.bdev_io_pool_size),
	  rpc_decode_uint32, true },
	{ "bdev_io_cache_size", offsetof(struct set_options_params, opts.bdev_io_cache_size),
	  rpc_decode_uint32, true },
	{ "bdev_auto_examine", offsetof(struct set_options_params, opts.bdev_auto_examine),
	  rpc_decode_bool, true },
	{ "iobuf_small_cache_size",
	  offsetof(struct set_options_params, opts.iobuf_small_cache_size),
	  rpc_decode_uint32, true },
	{ "iobuf_large_cache_size",
	  offsetof(struct set_options_params, opts.iobuf_large_cache_size),
	  rpc_decode_uint32, true },
	{ "small_buf_pool_size", offsetof(struct set_options_params, ignored),
	  rpc_decode_uint32, true },
	{ "large_buf_pool_size", offsetof(struct set_options_params, ignored),
	  rpc_decode_uint32, true },
};

/* Startup state only: the pool is sized when the bdev subsystem starts. */
static void
rpc_bdev_set_options(struct jsonrpc_request *req, const json_t *params)
{
	struct set_options_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	bdev_get_opts(&p.opts, sizeof(p.opts));
	if (rpc_decode_object(params, set_options_decoders, COUNTOF(set_options_decoders),
			      &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		return;
	}
	rc = bdev_set_opts(&p.opts);
	if (rc != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS,
				   "Invalid bdev options (pool %u, cache %u): %s",
				   p.opts.bdev_io_pool_size, p.opts.bdev_io_cache_size,
				   strerror(-rc));
		return;
	}
	jsonrpc_send_bool(req, true);
}
RPC_REGISTER("bdev_set_options", rpc_bdev_set_options, RPC_STATE_STARTUP)
