/*
 * module/bdev/lvol/lvs_rpc.c: the lvolstore methods of spec/rpc.md §2.3 —
 * bdev_lvol_create_lvstore, _delete_lvstore, _rename_lvstore,
 * _grow_lvstore, _get_lvstores — with their retired names, and the
 * helpers every lvol RPC shares.
 *
 * Error conventions (spec §1.8.2, §2.3), which tools branch on:
 *  - parameters that do not decode: -32603 "spdk_json_decode_object
 *    failed" (C);
 *  - what the handler finds wrong before anything starts (unknown store or
 *    bdev, bad name, name in use, claimed bdev): errno-coded, -19, -22,
 *    -17, -1 (A);
 *  - what the asynchronous operation reports: -32602 with the errno's
 *    text (B).
 * Nothing is changed when an error is returned: every check that can be
 * made up front is made before the first side effect (claiming the base
 * bdev is the first one for create, and it is undone on failure).
 *
 * Handlers run on the app thread, as lib/lvol wants. An operation in
 * flight holds its store (lvs_bdev_op_begin) so that a hot-remove or a
 * shutdown waits for it before freeing the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "lvstor/util.h"

#include "lvol_bdev.h"

/* ---- shared helpers ----------------------------------------------------------------- */

int
lvs_rpc_select(const char *uuid, const char *name, struct lvs_bdev **out)
{
	struct lvol_store *lvs = NULL;
	struct lvs_bdev *lb;
	struct lv_uuid u;

	if ((uuid == NULL) == (name == NULL))
		return -EINVAL;
	if (uuid != NULL) {
		if (uuid_parse_str(&u, uuid) == 0)
			lvs = lvs_get_by_uuid(&u);
	} else {
		lvs = lvs_get_by_name(name);
	}
	lb = lvs_bdev_of(lvs);
	if (lb == NULL || !lvs_bdev_usable(lb))
		return -ENODEV;
	*out = lb;
	return 0;
}

bool
lvol_rpc_name_ok(const char *name)
{
	size_t len = name != NULL ? strlen(name) : 0;

	return len > 0 && len < LVOL_NAME_MAX;
}

void
lvol_rpc_send_b(struct jsonrpc_request *req, int rc)
{
	jsonrpc_send_errno_invalid_params(req, rc);
}

json_t *
lvol_rpc_uuid_json(const struct lv_uuid *uuid)
{
	char s[UUID_STRING_LEN];

	uuid_fmt_lower(s, sizeof(s), uuid);
	return json_string(s);
}

/* ---- bdev_lvol_create_lvstore ---------------------------------------------------------- */

struct create_lvs_params {
	char *bdev_name;
	char *lvs_name;
	uint32_t cluster_sz;
	char *clear_method;
	uint32_t num_md_pages_per_cluster_ratio;
	uint32_t md_page_size;
};

#define F(field) offsetof(struct create_lvs_params, field)
static const struct rpc_object_decoder create_lvs_decoders[] = {
	{ "bdev_name", F(bdev_name), rpc_decode_string, false },
	{ "lvs_name", F(lvs_name), rpc_decode_string, false },
	{ "cluster_sz", F(cluster_sz), rpc_decode_uint32, true },
	{ "clear_method", F(clear_method), rpc_decode_string, true },
	{ "num_md_pages_per_cluster_ratio", F(num_md_pages_per_cluster_ratio), rpc_decode_uint32,
	  true },
	{ "md_page_size", F(md_page_size), rpc_decode_uint32, true },
};
#undef F

struct create_lvs_ctx {
	struct jsonrpc_request *req;
	struct bdev *base;
};

static int
parse_lvs_clear_method(const char *s, enum lvs_clear_method *out)
{
	if (s == NULL)
		*out = LVS_CLEAR_WITH_UNMAP;
	else if (strcasecmp(s, "unmap") == 0)
		*out = LVS_CLEAR_WITH_UNMAP;
	else if (strcasecmp(s, "write_zeroes") == 0)
		*out = LVS_CLEAR_WITH_WRITE_ZEROES;
	else if (strcasecmp(s, "none") == 0)
		*out = LVS_CLEAR_WITH_NONE;
	else
		return -EINVAL;
	return 0;
}

static void
lvs_created(void *cb_arg, struct lvol_store *lvs, int rc)
{
	struct create_lvs_ctx *c = cb_arg;

	if (rc != 0) {
		lvol_rpc_send_b(c->req, rc);
	} else if (lvs_bdev_add(lvs, c->base) == NULL) {
		/* The store exists on disk; it comes back on the next examine. */
		LOG_ERR("lvolstore %s: out of memory after creation", lvs_get_name(lvs));
		lvol_rpc_send_b(c->req, -ENOMEM);
	} else {
		LOG_NOTICE("lvolstore %s created on bdev %s", lvs_get_name(lvs),
			   bdev_get_name(c->base));
		jsonrpc_send_result(c->req, lvol_rpc_uuid_json(lvs_get_uuid(lvs)));
	}
	free(c);
}

static void
rpc_bdev_lvol_create_lvstore(struct jsonrpc_request *req, const json_t *params)
{
	struct create_lvs_params p = { 0 };
	struct create_lvs_ctx *c = NULL;
	enum lvs_clear_method cm;
	struct lvs_opts opts;
	struct bs_dev *dev;
	int rc;

	if (rpc_decode_object(params, create_lvs_decoders, COUNTOF(create_lvs_decoders), &p)) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, LVOL_RPC_DECODE_FAILED);
		goto out;
	}
	if (!lvol_rpc_name_ok(p.lvs_name)) {
		jsonrpc_send_errno(req, -EINVAL);
		goto out;
	}
	if (parse_lvs_clear_method(p.clear_method, &cm) != 0) {
		jsonrpc_send_error(req, -EINVAL, "Invalid clear_method parameter");
		goto out;
	}
	if (lvs_get_by_name(p.lvs_name) != NULL) {
		jsonrpc_send_errno(req, -EEXIST);
		goto out;
	}
	if (bdev_get_by_name(p.bdev_name) == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		goto out;
	}
	rc = lvs_bdev_open_base(p.bdev_name, &dev, &c->base);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	lvs_opts_init(&opts, sizeof(opts));
	if (p.cluster_sz != 0)
		opts.cluster_sz = p.cluster_sz;
	opts.clear_method = cm;
	strlcpy_lv(opts.name, p.lvs_name, sizeof(opts.name));
	if (p.num_md_pages_per_cluster_ratio != 0)
		opts.num_md_pages_per_cluster_ratio = p.num_md_pages_per_cluster_ratio;
	opts.md_page_size = p.md_page_size;
	opts.esnap_bs_dev_create = lvs_bdev_esnap_dev_create;
	c->req = req;
	rc = lvs_init(dev, &opts, lvs_created, c);
	if (rc != 0) {
		/* Refused before it started: the device is still ours to release. */
		dev->destroy(dev);
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	c = NULL;
out:
	free(c);
	free(p.bdev_name);
	free(p.lvs_name);
	free(p.clear_method);
}
RPC_REGISTER("bdev_lvol_create_lvstore", rpc_bdev_lvol_create_lvstore, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(construct_lvol_store, bdev_lvol_create_lvstore)

/* ---- the lvs selector methods: delete, grow, get -------------------------------------------- */

struct select_params {
	char *uuid;
	char *lvs_name;
};

static const struct rpc_object_decoder select_decoders[] = {
	{ "uuid", offsetof(struct select_params, uuid), rpc_decode_string, true },
	{ "lvs_name", offsetof(struct select_params, lvs_name), rpc_decode_string, true },
};

/* Decodes and selects; answers the request itself on failure (returns false). */
static bool
decode_select(struct jsonrpc_request *req, const json_t *params, struct lvs_bdev **lb)
{
	struct select_params p = { 0 };
	bool ok = false;
	int rc;

	if (rpc_decode_object(params, select_decoders, COUNTOF(select_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, LVOL_RPC_DECODE_FAILED);
	} else if ((rc = lvs_rpc_select(p.uuid, p.lvs_name, lb)) != 0) {
		jsonrpc_send_errno(req, rc);
	} else {
		ok = true;
	}
	free(p.uuid);
	free(p.lvs_name);
	return ok;
}

static void
send_true_or_b(void *cb_arg, int rc)
{
	struct jsonrpc_request *req = cb_arg;

	if (rc != 0)
		lvol_rpc_send_b(req, rc);
	else
		jsonrpc_send_bool(req, true);
}

static void
rpc_bdev_lvol_delete_lvstore(struct jsonrpc_request *req, const json_t *params)
{
	struct lvs_bdev *lb;
	int rc;

	if (!decode_select(req, params, &lb))
		return;
	LOG_NOTICE("lvolstore %s: destroying", lvs_get_name(lb->lvs));
	rc = lvs_bdev_destroy(lb, send_true_or_b, req);
	if (rc != 0)
		lvol_rpc_send_b(req, rc);
}
RPC_REGISTER("bdev_lvol_delete_lvstore", rpc_bdev_lvol_delete_lvstore, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(destroy_lvol_store, bdev_lvol_delete_lvstore)

struct lvs_op {
	struct jsonrpc_request *req;
	struct lvs_bdev *lb;
};

static void
grown(void *cb_arg, int rc)
{
	struct lvs_op *op = cb_arg;

	lvs_bdev_op_end(op->lb);
	send_true_or_b(op->req, rc);
	free(op);
}

static void
rpc_bdev_lvol_grow_lvstore(struct jsonrpc_request *req, const json_t *params)
{
	struct lvs_bdev *lb;
	struct lvs_op *op;

	if (!decode_select(req, params, &lb))
		return;
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return;
	}
	op->req = req;
	op->lb = lb;
	lvs_bdev_op_begin(lb);
	lvs_grow_live(lb->lvs, grown, op);
}
RPC_REGISTER("bdev_lvol_grow_lvstore", rpc_bdev_lvol_grow_lvstore, RPC_STATE_RUNTIME)

static json_t *
lvs_json(struct lvs_bdev *lb)
{
	struct lvol_store *lvs = lb->lvs;

	return json_pack("{s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
			 "uuid", lvol_rpc_uuid_json(lvs_get_uuid(lvs)),
			 "name", lvs_get_name(lvs),
			 "base_bdev", bdev_get_name(lb->base_bdev),
			 "total_data_clusters", (json_int_t)lvs_get_total_data_clusters(lvs),
			 "free_clusters", (json_int_t)lvs_get_free_clusters(lvs),
			 "block_size", (json_int_t)lvs_get_block_size(lvs),
			 "cluster_size", (json_int_t)lvs_get_cluster_size(lvs),
			 "max_growable_size", (json_int_t)lvs_get_max_growable_size(lvs));
}

static void
rpc_bdev_lvol_get_lvstores(struct jsonrpc_request *req, const json_t *params)
{
	struct lvs_bdev *lb;
	struct lvol_store *lvs;
	json_t *arr;

	if (params != NULL) {
		if (!decode_select(req, params, &lb))
			return;
		arr = json_array();
		json_array_append_new(arr, lvs_json(lb));
		jsonrpc_send_result(req, arr);
		return;
	}
	arr = json_array();
	for (lvs = lvs_first(); lvs != NULL; lvs = lvs_next(lvs)) {
		lb = lvs_bdev_of(lvs);
		if (lb != NULL && lvs_bdev_usable(lb))
			json_array_append_new(arr, lvs_json(lb));
	}
	jsonrpc_send_result(req, arr);
}
RPC_REGISTER("bdev_lvol_get_lvstores", rpc_bdev_lvol_get_lvstores, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(get_lvol_stores, bdev_lvol_get_lvstores)

/* ---- bdev_lvol_rename_lvstore -------------------------------------------------------------- */

struct rename_lvs_params {
	char *old_name;
	char *new_name;
};

static const struct rpc_object_decoder rename_lvs_decoders[] = {
	{ "old_name", offsetof(struct rename_lvs_params, old_name), rpc_decode_string, false },
	{ "new_name", offsetof(struct rename_lvs_params, new_name), rpc_decode_string, false },
};

static void
lvs_renamed(void *cb_arg, int rc)
{
	struct lvs_op *op = cb_arg;
	struct lvol *lvol;

	if (rc == 0) {
		for (lvol = lvol_first(op->lb->lvs); lvol != NULL; lvol = lvol_next(lvol))
			lvol_bdev_update_alias(lvol);
	}
	lvs_bdev_op_end(op->lb);
	send_true_or_b(op->req, rc);
	free(op);
}

static void
rpc_bdev_lvol_rename_lvstore(struct jsonrpc_request *req, const json_t *params)
{
	struct rename_lvs_params p = { 0 };
	struct lvs_bdev *lb;
	struct lvs_op *op;

	if (rpc_decode_object(params, rename_lvs_decoders, COUNTOF(rename_lvs_decoders), &p)) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, LVOL_RPC_DECODE_FAILED);
		goto out;
	}
	if (lvs_rpc_select(NULL, p.old_name, &lb) != 0) {
		jsonrpc_send_error(req, -ENOENT, "Lvol store %s not found", p.old_name);
		goto out;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		goto out;
	}
	op->req = req;
	op->lb = lb;
	lvs_bdev_op_begin(lb);
	lvs_rename(lb->lvs, p.new_name, lvs_renamed, op);
out:
	free(p.old_name);
	free(p.new_name);
}
RPC_REGISTER("bdev_lvol_rename_lvstore", rpc_bdev_lvol_rename_lvstore, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(rename_lvol_store, bdev_lvol_rename_lvstore)
