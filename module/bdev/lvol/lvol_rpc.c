/*
 * module/bdev/lvol/lvol_rpc.c: the per-volume methods of spec/rpc.md §2.3
 * — create, snapshot, clone, clone_bdev, rename, resize, set_read_only,
 * delete, inflate, decouple_parent, get_lvols, set_parent,
 * set_parent_bdev — with their retired names.
 *
 * Conventions as in lvs_rpc.c: decode failures -32603 (C); lookups and
 * up-front checks errno-coded (A); the asynchronous step's failure -32602
 * with its errno text (B) — except bdev_lvol_delete, which answers every
 * failure after the lookup with -32603 and the errno text, and
 * bdev_lvol_clone_bdev, which answers everything with -32602 and its own
 * sentences.
 *
 * "Lvol name" parameters accept the bdev name (UUID) or the alias
 * lvs/lvol; lvols that have no bdev (degraded esnap clones) are also found
 * by their UUID or lvs/lvol (lvol_bdev_lookup).
 *
 * Volumes created here (create, snapshot, clone, esnap clone) get their
 * bdev before the answer goes out, so the UUID a client receives names a
 * bdev it can open at once.
 *
 * Delete. A volume open by a consumer is refused with -EBUSY rather than
 * pulled from under it. The bdev layer has no count of open descriptors,
 * so the module asks the way a consumer would: it opens the bdev for
 * writing and claims it. The claim fails if any other writer has it open
 * (a VM, lvstor-perf, a store inside the volume); if it succeeds, no
 * writer can appear any more, the bdev is unregistered (our own
 * descriptor closes on the REMOVE event) and lib/lvol deletes the volume.
 * Read-only openers are not seen that way; they get BDEV_EVENT_REMOVE, as
 * in SPDK. If lib/lvol then refuses, the bdev is registered again: the
 * call changed nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "lvstor/util.h"

#include "lvol_bdev.h"

#define MIB (1024ull * 1024ull)

/* One asynchronous lvol operation answering a request. */
struct lvol_op {
	struct jsonrpc_request *req;
	struct lvs_bdev *lb;
	struct lvol *lvol;
	struct bdev_desc *claim_desc;      /* delete: our claiming descriptor */
	bool had_bdev;                     /* delete: re-register on failure */
};

static struct lvol_op *
op_start(struct jsonrpc_request *req, struct lvol *lvol)
{
	struct lvol_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		return NULL;
	}
	op->req = req;
	op->lvol = lvol;
	op->lb = lvs_bdev_of(lvol_get_store(lvol));
	lvs_bdev_op_begin(op->lb);
	return op;
}

static void
op_end(struct lvol_op *op)
{
	lvs_bdev_op_end(op->lb);
	free(op);
}

static void
decode_failed(struct jsonrpc_request *req)
{
	jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, LVOL_RPC_DECODE_FAILED);
}

/* Answers true, or convention B. */
static void
op_done_true(void *cb_arg, int rc)
{
	struct lvol_op *op = cb_arg;

	if (rc != 0)
		lvol_rpc_send_b(op->req, rc);
	else
		jsonrpc_send_bool(op->req, true);
	op_end(op);
}

/*
 * A new volume exists: give it its bdev and answer its UUID (B on failure).
 * If the bdev cannot be registered the volume is deleted again, so a
 * failed call leaves nothing behind.
 */
static void
new_lvol_undone(void *cb_arg, int rc)
{
	struct lvol_op *op = cb_arg;

	if (rc != 0)
		LOG_ERR("lvol: cannot delete the volume whose bdev failed: %s", strerror(-rc));
	op_end(op);
}

static void
op_new_lvol(void *cb_arg, struct lvol *lvol, int rc)
{
	struct lvol_op *op = cb_arg;
	struct lvol_bdev *lvb;

	if (rc != 0) {
		lvol_rpc_send_b(op->req, rc);
		op_end(op);
		return;
	}
	rc = lvol_bdev_register(lvol);
	if (rc != 0) {
		lvol_rpc_send_b(op->req, rc);
		op->lvol = lvol;
		lvol_destroy(lvol, new_lvol_undone, op);
		return;
	}
	lvb = lvol_bdev_of(lvol);
	jsonrpc_send_result(op->req, json_string(lvb->name));
	op_end(op);
}

static int
parse_lvol_clear_method(const char *s, enum lvol_clear_method *out)
{
	if (s == NULL || strcasecmp(s, "default") == 0)
		*out = LVOL_CLEAR_WITH_DEFAULT;
	else if (strcasecmp(s, "none") == 0)
		*out = LVOL_CLEAR_WITH_NONE;
	else if (strcasecmp(s, "unmap") == 0)
		*out = LVOL_CLEAR_WITH_UNMAP;
	else if (strcasecmp(s, "write_zeroes") == 0)
		*out = LVOL_CLEAR_WITH_WRITE_ZEROES;
	else
		return -EINVAL;
	return 0;
}

/*
 * size_in_mib (current) or size in bytes (≤ v24.01): exactly one. Neither
 * is what a decode failure of the required key looks like (C); both is -22.
 * Returns 0, 1 (answered C), or a negative errno for A.
 */
static int
size_bytes(bool has_mib, uint64_t mib, bool has_bytes, uint64_t bytes, uint64_t *out)
{
	if (!has_mib && !has_bytes)
		return 1;
	if (has_mib && has_bytes)
		return -EINVAL;
	if (has_mib) {
		if (mib > UINT64_MAX / MIB)
			return -EINVAL;
		*out = mib * MIB;
	} else {
		*out = bytes;
	}
	return 0;
}

/* ---- bdev_lvol_create ---------------------------------------------------------------------- */

struct create_params {
	char *lvol_name;
	uint64_t size_in_mib;
	uint64_t size;
	bool thin_provision;
	char *uuid;
	char *lvs_name;
	char *clear_method;
};

/* Distinguishes "absent" from 0 for the two size keys. */
struct size_key {
	bool present;
	uint64_t value;
};

static int
decode_size_key(const json_t *val, void *out)
{
	struct size_key *k = out;
	int rc = rpc_decode_uint64(val, &k->value);

	if (rc == 0)
		k->present = true;
	return rc;
}

struct create_params_ext {
	struct create_params p;
	struct size_key mib;
	struct size_key bytes;
};

#define F(field) offsetof(struct create_params_ext, field)
static const struct rpc_object_decoder create_decoders[] = {
	{ "lvol_name", F(p.lvol_name), rpc_decode_string, false },
	{ "size_in_mib", F(mib), decode_size_key, true },
	{ "size", F(bytes), decode_size_key, true },
	{ "thin_provision", F(p.thin_provision), rpc_decode_bool, true },
	{ "uuid", F(p.uuid), rpc_decode_string, true },
	{ "lvs_name", F(p.lvs_name), rpc_decode_string, true },
	{ "clear_method", F(p.clear_method), rpc_decode_string, true },
};
#undef F

static void
rpc_bdev_lvol_create(struct jsonrpc_request *req, const json_t *params)
{
	struct create_params_ext x = { 0 };
	struct create_params *p = &x.p;
	enum lvol_clear_method cm;
	struct lvs_bdev *lb;
	struct lvol_op *op;
	uint64_t bytes = 0;
	int rc;

	if (rpc_decode_object(params, create_decoders, COUNTOF(create_decoders), &x) != 0) {
		decode_failed(req);
		goto out;
	}
	rc = size_bytes(x.mib.present, x.mib.value, x.bytes.present, x.bytes.value, &bytes);
	if (rc == 1) {
		decode_failed(req);
		goto out;
	}
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	rc = lvs_rpc_select(p->uuid, p->lvs_name, &lb);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	if (parse_lvol_clear_method(p->clear_method, &cm) != 0) {
		jsonrpc_send_error(req, -EINVAL, "Invalid clear_method parameter");
		goto out;
	}
	if (!lvol_rpc_name_ok(p->lvol_name) || bytes == 0) {
		jsonrpc_send_errno(req, -EINVAL);
		goto out;
	}
	if (lvol_get_by_name(lb->lvs, p->lvol_name) != NULL) {
		jsonrpc_send_errno(req, -EEXIST);
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
	rc = lvol_create(lb->lvs, p->lvol_name, bytes, p->thin_provision, cm, op_new_lvol, op);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		op_end(op);
	}
out:
	free(p->lvol_name);
	free(p->uuid);
	free(p->lvs_name);
	free(p->clear_method);
}
RPC_REGISTER("bdev_lvol_create", rpc_bdev_lvol_create, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(construct_lvol_bdev, bdev_lvol_create)

/* ---- two-name methods: snapshot, clone, rename, set_parent ----------------------------------- */

struct two_names {
	char *a;
	char *b;
};

static bool
decode_two(struct jsonrpc_request *req, const json_t *params, const char *key_a,
	   const char *key_b, struct two_names *out)
{
	const struct rpc_object_decoder dec[] = {
		{ key_a, offsetof(struct two_names, a), rpc_decode_string, false },
		{ key_b, offsetof(struct two_names, b), rpc_decode_string, false },
	};

	if (rpc_decode_object(params, dec, COUNTOF(dec), out) != 0) {
		decode_failed(req);
		return false;
	}
	return true;
}

static void
two_free(struct two_names *t)
{
	free(t->a);
	free(t->b);
}

/*
 * The start every "lvol + new name" method shares: decodes {key_a, key_b},
 * finds the lvol named by key_a (-19 if none) and starts its operation.
 * Returns the op (t->b holds the new name), or NULL once answered.
 */
static struct lvol_op *
start_named_op(struct jsonrpc_request *req, const json_t *params, const char *key_a,
	       const char *key_b, struct two_names *t)
{
	struct lvol *lvol;

	if (!decode_two(req, params, key_a, key_b, t))
		return NULL;
	lvol = lvol_bdev_lookup(t->a);
	if (lvol == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		return NULL;
	}
	return op_start(req, lvol);
}

static void
rpc_bdev_lvol_snapshot(struct jsonrpc_request *req, const json_t *params)
{
	struct two_names t = { 0 };
	struct lvol_op *op = start_named_op(req, params, "lvol_name", "snapshot_name", &t);

	if (op != NULL)
		lvol_create_snapshot(op->lvol, t.b, op_new_lvol, op);
	two_free(&t);
}
RPC_REGISTER("bdev_lvol_snapshot", rpc_bdev_lvol_snapshot, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(snapshot_lvol_bdev, bdev_lvol_snapshot)

static void
rpc_bdev_lvol_clone(struct jsonrpc_request *req, const json_t *params)
{
	struct two_names t = { 0 };
	struct lvol_op *op = start_named_op(req, params, "snapshot_name", "clone_name", &t);

	if (op != NULL)
		lvol_create_clone(op->lvol, t.b, op_new_lvol, op);
	two_free(&t);
}
RPC_REGISTER("bdev_lvol_clone", rpc_bdev_lvol_clone, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(clone_lvol_bdev, bdev_lvol_clone)

static void
renamed(void *cb_arg, int rc)
{
	struct lvol_op *op = cb_arg;

	if (rc == 0)
		lvol_bdev_update_alias(op->lvol);
	op_done_true(op, rc);
}

static void
rpc_bdev_lvol_rename(struct jsonrpc_request *req, const json_t *params)
{
	struct two_names t = { 0 };
	struct lvol_op *op = start_named_op(req, params, "old_name", "new_name", &t);

	if (op != NULL)
		lvol_rename(op->lvol, t.b, renamed, op);
	two_free(&t);
}
RPC_REGISTER("bdev_lvol_rename", rpc_bdev_lvol_rename, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(rename_lvol_bdev, bdev_lvol_rename)

static void
rpc_bdev_lvol_set_parent(struct jsonrpc_request *req, const json_t *params)
{
	struct two_names t = { 0 };
	struct lvol *lvol, *parent;
	struct lvol_op *op;

	if (!decode_two(req, params, "lvol_name", "parent_name", &t))
		goto out;
	lvol = lvol_bdev_lookup(t.a);
	parent = lvol_bdev_lookup(t.b);
	if (lvol == NULL || parent == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		goto out;
	}
	op = op_start(req, lvol);
	if (op != NULL)
		lvol_set_parent(lvol, parent, op_done_true, op);
out:
	two_free(&t);
}
RPC_REGISTER("bdev_lvol_set_parent", rpc_bdev_lvol_set_parent, RPC_STATE_RUNTIME)

static void
rpc_bdev_lvol_set_parent_bdev(struct jsonrpc_request *req, const json_t *params)
{
	struct two_names t = { 0 };
	char id[UUID_STRING_LEN];
	struct lvol *lvol;
	struct bdev *parent;
	struct lvol_op *op;

	if (!decode_two(req, params, "lvol_name", "parent_name", &t))
		goto out;
	lvol = lvol_bdev_lookup(t.a);
	if (lvol == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		goto out;
	}
	parent = bdev_get_by_name(t.b);
	if (parent == NULL) {
		lvol_rpc_send_b(req, -ENODEV);
		goto out;
	}
	if (parent->module == &g_lvol_bdev_module &&
	    ((struct lvol_bdev *)parent->ctxt)->lvs_bdev->lvs == lvol_get_store(lvol)) {
		/* A volume of the same store is a snapshot parent, not an external one. */
		lvol_rpc_send_b(req, -EINVAL);
		goto out;
	}
	/* The external parent is recorded by its UUID string, NUL included (spec §7.4). */
	uuid_fmt_lower(id, sizeof(id), bdev_get_uuid(parent));
	op = op_start(req, lvol);
	if (op != NULL)
		lvol_set_external_parent(lvol, id, sizeof(id), op_done_true, op);
out:
	two_free(&t);
}
RPC_REGISTER("bdev_lvol_set_parent_bdev", rpc_bdev_lvol_set_parent_bdev, RPC_STATE_RUNTIME)

/* ---- bdev_lvol_clone_bdev (external-snapshot clone) ---------------------------------------- */

struct clone_bdev_params {
	char *bdev;
	char *lvs_name;
	char *clone_name;
};

static const struct rpc_object_decoder clone_bdev_decoders[] = {
	{ "bdev", offsetof(struct clone_bdev_params, bdev), rpc_decode_string, false },
	{ "lvs_name", offsetof(struct clone_bdev_params, lvs_name), rpc_decode_string, false },
	{ "clone_name", offsetof(struct clone_bdev_params, clone_name), rpc_decode_string, false },
};

static void
rpc_bdev_lvol_clone_bdev(struct jsonrpc_request *req, const json_t *params)
{
	struct clone_bdev_params p = { 0 };
	char id[UUID_STRING_LEN];
	struct lvs_bdev *lb;
	struct bdev *bdev;
	struct lvol_op *op;

	if (rpc_decode_object(params, clone_bdev_decoders, COUNTOF(clone_bdev_decoders), &p)) {
		decode_failed(req);
		goto out;
	}
	if (lvs_rpc_select(NULL, p.lvs_name, &lb) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "lvs does not exist");
		goto out;
	}
	bdev = bdev_get_by_name(p.bdev);
	if (bdev == NULL) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS, "bdev does not exist");
		goto out;
	}
	if (bdev->module == &g_lvol_bdev_module &&
	    ((struct lvol_bdev *)bdev->ctxt)->lvs_bdev == lb) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INVALID_PARAMS,
				   "bdev is an lvol in same lvs as clone; use bdev_lvol_clone instead");
		goto out;
	}
	uuid_fmt_lower(id, sizeof(id), bdev_get_uuid(bdev));
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		jsonrpc_send_errno(req, -ENOMEM);
		goto out;
	}
	op->req = req;
	op->lb = lb;
	lvs_bdev_op_begin(lb);
	lvol_create_esnap_clone(id, sizeof(id),
				bdev_get_num_blocks(bdev) * bdev_get_block_size(bdev), lb->lvs,
				p.clone_name, op_new_lvol, op);
out:
	free(p.bdev);
	free(p.lvs_name);
	free(p.clone_name);
}
RPC_REGISTER("bdev_lvol_clone_bdev", rpc_bdev_lvol_clone_bdev, RPC_STATE_RUNTIME)

/* ---- bdev_lvol_resize ------------------------------------------------------------------------ */

struct resize_params {
	char *name;
	struct size_key mib;
	struct size_key bytes;
};

static const struct rpc_object_decoder resize_decoders[] = {
	{ "name", offsetof(struct resize_params, name), rpc_decode_string, false },
	{ "size_in_mib", offsetof(struct resize_params, mib), decode_size_key, true },
	{ "size", offsetof(struct resize_params, bytes), decode_size_key, true },
};

static void
resized(void *cb_arg, int rc)
{
	struct lvol_op *op = cb_arg;

	if (rc == 0) {
		int brc = lvol_bdev_resized(op->lvol);

		if (brc != 0)
			LOG_ERR("lvol %s: resized, but the bdev layer refused the new size: %s",
				lvol_get_name(op->lvol), strerror(-brc));
	}
	op_done_true(op, rc);
}

static void
rpc_bdev_lvol_resize(struct jsonrpc_request *req, const json_t *params)
{
	struct resize_params p = { 0 };
	struct lvol *lvol;
	struct lvol_op *op;
	uint64_t bytes = 0;
	int rc;

	if (rpc_decode_object(params, resize_decoders, COUNTOF(resize_decoders), &p) != 0) {
		decode_failed(req);
		goto out;
	}
	rc = size_bytes(p.mib.present, p.mib.value, p.bytes.present, p.bytes.value, &bytes);
	if (rc == 1) {
		decode_failed(req);
		goto out;
	}
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	lvol = lvol_bdev_lookup(p.name);
	if (lvol == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		goto out;
	}
	if (bytes == 0) {
		/* A bdev cannot have 0 blocks. */
		lvol_rpc_send_b(req, -EINVAL);
		goto out;
	}
	op = op_start(req, lvol);
	if (op != NULL)
		lvol_resize(lvol, bytes, resized, op);
out:
	free(p.name);
}
RPC_REGISTER("bdev_lvol_resize", rpc_bdev_lvol_resize, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(resize_lvol_bdev, bdev_lvol_resize)

/* ---- one-name methods: set_read_only, inflate, decouple_parent, delete ---------------------- */

struct name_param {
	char *name;
};

static const struct rpc_object_decoder name_decoders[] = {
	{ "name", offsetof(struct name_param, name), rpc_decode_string, false },
};

/* Decodes {"name"} and finds the lvol; answers the request itself on failure. */
static struct lvol *
decode_lvol(struct jsonrpc_request *req, const json_t *params)
{
	struct name_param p = { 0 };
	struct lvol *lvol = NULL;

	if (rpc_decode_object(params, name_decoders, COUNTOF(name_decoders), &p) != 0) {
		decode_failed(req);
	} else {
		lvol = lvol_bdev_lookup(p.name);
		if (lvol == NULL)
			jsonrpc_send_errno(req, -ENODEV);
	}
	free(p.name);
	return lvol;
}

static const struct rpc_object_decoder name_optional_decoders[] = {
	{ "name", offsetof(struct name_param, name), rpc_decode_string, true },
};

static void
rpc_bdev_lvol_set_read_only(struct jsonrpc_request *req, const json_t *params)
{
	struct name_param p = { 0 };
	struct lvol *lvol;
	struct lvol_op *op;

	if (rpc_decode_object(params, name_optional_decoders, COUNTOF(name_optional_decoders),
			      &p) != 0) {
		decode_failed(req);
		goto out;
	}
	if (p.name == NULL) {
		jsonrpc_send_error(req, -EINVAL, "Missing name parameter");
		goto out;
	}
	lvol = lvol_bdev_lookup(p.name);
	if (lvol == NULL) {
		jsonrpc_send_errno(req, -ENODEV);
		goto out;
	}
	op = op_start(req, lvol);
	if (op != NULL)
		lvol_set_read_only(lvol, op_done_true, op);
out:
	free(p.name);
}
RPC_REGISTER("bdev_lvol_set_read_only", rpc_bdev_lvol_set_read_only, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(set_read_only_lvol_bdev, bdev_lvol_set_read_only)

/* {name} -> true: inflate and decouple_parent. */
static void
run_named_lvol_op(struct jsonrpc_request *req, const json_t *params,
		  void (*fn)(struct lvol *lvol, lvol_op_complete cb, void *cb_arg))
{
	struct lvol *lvol = decode_lvol(req, params);
	struct lvol_op *op;

	if (lvol == NULL)
		return;
	op = op_start(req, lvol);
	if (op != NULL)
		fn(lvol, op_done_true, op);
}

static void
rpc_bdev_lvol_inflate(struct jsonrpc_request *req, const json_t *params)
{
	run_named_lvol_op(req, params, lvol_inflate);
}
RPC_REGISTER("bdev_lvol_inflate", rpc_bdev_lvol_inflate, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(inflate_lvol_bdev, bdev_lvol_inflate)

static void
rpc_bdev_lvol_decouple_parent(struct jsonrpc_request *req, const json_t *params)
{
	run_named_lvol_op(req, params, lvol_decouple_parent);
}
RPC_REGISTER("bdev_lvol_decouple_parent", rpc_bdev_lvol_decouple_parent, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(decouple_parent_lvol_bdev, bdev_lvol_decouple_parent)

/* -- delete -- */

static void
delete_send_error(struct jsonrpc_request *req, int rc)
{
	jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, "%s", strerror(-rc));
}

static void
deleted(void *cb_arg, int rc)
{
	struct lvol_op *op = cb_arg;

	if (rc == 0) {
		jsonrpc_send_bool(op->req, true);
	} else {
		LOG_ERR("lvol %s: delete failed: %s", lvol_get_name(op->lvol), strerror(-rc));
		if (op->had_bdev && lvol_bdev_register(op->lvol) != 0)
			LOG_ERR("lvol %s: cannot register its bdev again", lvol_get_name(op->lvol));
		delete_send_error(op->req, rc);
	}
	op_end(op);
}

static void
delete_unregistered(void *cb_arg, int rc)
{
	struct lvol_op *op = cb_arg;

	lvol_destroy(op->lvol, deleted, op);
}

static void
delete_claim_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	struct lvol_op *op = ctx;

	if (type == BDEV_EVENT_REMOVE && op->claim_desc != NULL) {
		bdev_close(op->claim_desc);    /* releases the claim too */
		op->claim_desc = NULL;
	}
}

static void
rpc_bdev_lvol_delete(struct jsonrpc_request *req, const json_t *params)
{
	struct lvol *lvol = decode_lvol(req, params);
	struct lvol_bdev *lvb;
	struct lvol_op *op;
	int rc;

	if (lvol == NULL)
		return;
	/* Up front, before the bdev goes: a snapshot with more than one clone. */
	if (!lvol_is_deletable(lvol)) {
		delete_send_error(req, -EPERM);
		return;
	}
	op = op_start(req, lvol);
	if (op == NULL)
		return;
	lvb = lvol_bdev_of(lvol);
	if (lvb == NULL) {
		lvol_destroy(lvol, deleted, op);
		return;
	}
	op->had_bdev = true;
	rc = bdev_open(lvb->name, true, delete_claim_event, op, &op->claim_desc);
	if (rc == 0) {
		rc = bdev_module_claim_bdev(&lvb->bdev, op->claim_desc, &g_lvol_bdev_module);
		if (rc != 0) {
			bdev_close(op->claim_desc);
			op->claim_desc = NULL;
		}
	}
	if (rc != 0) {
		LOG_ERR("lvol %s: not deleted: its bdev %s is open for writing", lvol_get_name(lvol),
			lvb->name);
		delete_send_error(req, -EBUSY);
		op_end(op);
		return;
	}
	lvb->module_unregister = true;
	bdev_unregister(&lvb->bdev, delete_unregistered, op);
}
RPC_REGISTER("bdev_lvol_delete", rpc_bdev_lvol_delete, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(destroy_lvol_bdev, bdev_lvol_delete)

/* ---- bdev_lvol_get_lvols --------------------------------------------------------------------- */

struct get_lvols_params {
	char *lvs_uuid;
	char *lvs_name;
};

static const struct rpc_object_decoder get_lvols_decoders[] = {
	{ "lvs_uuid", offsetof(struct get_lvols_params, lvs_uuid), rpc_decode_string, true },
	{ "lvs_name", offsetof(struct get_lvols_params, lvs_name), rpc_decode_string, true },
};

static json_t *
lvol_json(struct lvol *lvol)
{
	struct lvol_store *lvs = lvol_get_store(lvol);
	char alias[LVOL_ALIAS_MAX];

	snprintf(alias, sizeof(alias), "%s/%s", lvs_get_name(lvs), lvol_get_name(lvol));
	return json_pack("{s:s, s:o, s:s, s:b, s:b, s:b, s:b, s:b, s:I, s:{s:s, s:o}}",
			 "alias", alias,
			 "uuid", lvol_rpc_uuid_json(lvol_get_uuid(lvol)),
			 "name", lvol_get_name(lvol),
			 "is_thin_provisioned", (int)lvol_is_thin(lvol),
			 "is_snapshot", (int)lvol_is_snapshot(lvol),
			 "is_clone", (int)lvol_is_clone(lvol),
			 "is_esnap_clone", (int)lvol_is_esnap_clone(lvol),
			 "is_degraded", (int)lvol_is_degraded(lvol),
			 "num_allocated_clusters",
			 (json_int_t)lvol_get_num_allocated_clusters(lvol),
			 "lvs", "name", lvs_get_name(lvs), "uuid",
			 lvol_rpc_uuid_json(lvs_get_uuid(lvs)));
}

static void
append_lvols(json_t *arr, struct lvs_bdev *lb)
{
	struct lvol *lvol;

	for (lvol = lvol_first(lb->lvs); lvol != NULL; lvol = lvol_next(lvol))
		json_array_append_new(arr, lvol_json(lvol));
}

static void
rpc_bdev_lvol_get_lvols(struct jsonrpc_request *req, const json_t *params)
{
	struct get_lvols_params p = { 0 };
	struct lvol_store *lvs;
	struct lvs_bdev *lb;
	json_t *arr;
	int rc;

	if (params == NULL) {
		arr = json_array();
		for (lvs = lvs_first(); lvs != NULL; lvs = lvs_next(lvs)) {
			lb = lvs_bdev_of(lvs);
			if (lb != NULL && lvs_bdev_usable(lb))
				append_lvols(arr, lb);
		}
		jsonrpc_send_result(req, arr);
		return;
	}
	if (rpc_decode_object(params, get_lvols_decoders, COUNTOF(get_lvols_decoders), &p)) {
		decode_failed(req);
		goto out;
	}
	rc = lvs_rpc_select(p.lvs_uuid, p.lvs_name, &lb);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	arr = json_array();
	append_lvols(arr, lb);
	jsonrpc_send_result(req, arr);
out:
	free(p.lvs_uuid);
	free(p.lvs_name);
}
RPC_REGISTER("bdev_lvol_get_lvols", rpc_bdev_lvol_get_lvols, RPC_STATE_RUNTIME)
