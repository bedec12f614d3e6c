/*
 * module/bdev/file/file_rpc.c: bdev_aio_create / _delete / _rescan and
 * bdev_uring_create / _delete / _rescan (spec/rpc.md §2.2.6-7).
 *
 * aio methods report errors errno-coded (convention A: -2 for a missing
 * file, -17 for a name in use, -22 for a bad block size, ...). The uring
 * create method reports every failure as -32603 "Unable to create URING
 * bdev.", as SPDK does; its delete is errno-coded. Parameters that do not
 * decode get -32603 "spdk_json_decode_object failed" everywhere.
 *
 * A create answers with the name only after every module has examined the
 * new bdev (bdev_wait_for_examine), so a client that asks for the lvstores
 * next already sees the one on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/rpc.h"
#include "lvstor/util.h"

#include "file_internal.h"

#define DECODE_FAILED "spdk_json_decode_object failed"
#define URING_CREATE_FAILED "Unable to create URING bdev."

struct create_params {
	char *name;
	char *filename;
	uint32_t block_size;
	bool readonly;
	bool fallocate;
	bool nowait;
	struct lv_uuid uuid;
};

#define F(field) offsetof(struct create_params, field)
static const struct rpc_object_decoder aio_create_decoders[] = {
	{ "name", F(name), rpc_decode_string, false },
	{ "filename", F(filename), rpc_decode_string, false },
	{ "block_size", F(block_size), rpc_decode_uint32, true },
	{ "readonly", F(readonly), rpc_decode_bool, true },
	{ "fallocate", F(fallocate), rpc_decode_bool, true },
	{ "uuid", F(uuid), rpc_decode_uuid, true },
	{ "nowait", F(nowait), rpc_decode_bool, true },
};

static const struct rpc_object_decoder uring_create_decoders[] = {
	{ "name", F(name), rpc_decode_string, false },
	{ "filename", F(filename), rpc_decode_string, false },
	{ "block_size", F(block_size), rpc_decode_uint32, true },
	{ "uuid", F(uuid), rpc_decode_uuid, true },
};
#undef F

struct name_params {
	char *name;
};

static const struct rpc_object_decoder name_decoders[] = {
	{ "name", offsetof(struct name_params, name), rpc_decode_string, false },
};

struct examine_wait {
	struct jsonrpc_request *req;
	char *name;
};

static void
create_examined(void *cb_arg)
{
	struct examine_wait *w = cb_arg;

	jsonrpc_send_result(w->req, json_string(w->name));
	free(w->name);
	free(w);
}

static void
do_create(struct jsonrpc_request *req, const json_t *params, bool uring)
{
	struct create_params p = { 0 };
	struct file_opts opts;
	struct examine_wait *w;
	struct bdev *bdev;
	int rc;

	rc = uring ? rpc_decode_object(params, uring_create_decoders,
				       COUNTOF(uring_create_decoders), &p) :
	     rpc_decode_object(params, aio_create_decoders, COUNTOF(aio_create_decoders), &p);
	if (rc != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		goto out;
	}
	file_opts_init(&opts, sizeof(opts));
	opts.name = p.name;
	opts.filename = p.filename;
	opts.block_size = p.block_size;
	opts.readonly = p.readonly;
	opts.fallocate = p.fallocate;
	opts.nowait = p.nowait;
	opts.uuid = p.uuid;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		rc = -ENOMEM;
	} else {
		rc = file_disk_create(&opts, uring, &bdev);
	}
	if (rc != 0) {
		free(w);
		if (uring) {
			jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, URING_CREATE_FAILED);
		} else {
			jsonrpc_send_errno(req, rc);
		}
		goto out;
	}
	w->req = req;
	w->name = p.name;
	p.name = NULL;
	/* The bdev exists; if the wait cannot be recorded, answer now rather
	 * than never (the examination still happens, just not awaited). */
	if (bdev_wait_for_examine(create_examined, w) != 0)
		create_examined(w);
out:
	free(p.name);
	free(p.filename);
}

static void
rpc_bdev_aio_create(struct jsonrpc_request *req, const json_t *params)
{
	do_create(req, params, false);
}
RPC_REGISTER("bdev_aio_create", rpc_bdev_aio_create, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(construct_aio_bdev, bdev_aio_create)

static void
rpc_bdev_uring_create(struct jsonrpc_request *req, const json_t *params)
{
	do_create(req, params, true);
}
RPC_REGISTER("bdev_uring_create", rpc_bdev_uring_create, RPC_STATE_RUNTIME)

static void
rpc_bdev_aio_delete(struct jsonrpc_request *req, const json_t *params)
{
	rpc_bdev_delete_reply(req, params, &g_aio_module);
}
RPC_REGISTER("bdev_aio_delete", rpc_bdev_aio_delete, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(delete_aio_bdev, bdev_aio_delete)

static void
rpc_bdev_uring_delete(struct jsonrpc_request *req, const json_t *params)
{
	rpc_bdev_delete_reply(req, params, &g_uring_module);
}
RPC_REGISTER("bdev_uring_delete", rpc_bdev_uring_delete, RPC_STATE_RUNTIME)

static void
do_rescan(struct jsonrpc_request *req, const json_t *params, bool uring)
{
	struct name_params p = { 0 };
	int rc;

	if (rpc_decode_object(params, name_decoders, COUNTOF(name_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
	} else {
		rc = file_disk_rescan(p.name, uring);
		if (rc != 0) {
			jsonrpc_send_errno(req, rc);
		} else {
			jsonrpc_send_bool(req, true);
		}
	}
	free(p.name);
}

static void
rpc_bdev_aio_rescan(struct jsonrpc_request *req, const json_t *params)
{
	do_rescan(req, params, false);
}
RPC_REGISTER("bdev_aio_rescan", rpc_bdev_aio_rescan, RPC_STATE_RUNTIME)

static void
rpc_bdev_uring_rescan(struct jsonrpc_request *req, const json_t *params)
{
	do_rescan(req, params, true);
}
RPC_REGISTER("bdev_uring_rescan", rpc_bdev_uring_rescan, RPC_STATE_RUNTIME)
