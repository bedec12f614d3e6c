/*
 * module/bdev/null/null_rpc.c: bdev_null_create / bdev_null_delete
 * (spec/rpc.md §2.2.5) and their retired names.
 *
 * Errors: errno-coded (convention A) for what the module decides, -32603
 * "spdk_json_decode_object failed" when the parameters do not decode.
 * Every optional key of any release is accepted.
 */
#include <errno.h>
#include <stdlib.h>

#include "lvstor/bdev_module.h"
#include "lvstor/rpc.h"
#include "lvstor/util.h"

#include "bdev_null.h"

#define DECODE_FAILED "spdk_json_decode_object failed"

/* The keys decode straight into the module's options, defaults first. */
#define F(field) offsetof(struct null_opts, field)
static const struct rpc_object_decoder create_decoders[] = {
	{ "name", F(name), rpc_decode_string, false },
	{ "num_blocks", F(num_blocks), rpc_decode_uint64, false },
	{ "block_size", F(block_size), rpc_decode_uint32, false },
	{ "physical_block_size", F(physical_block_size), rpc_decode_uint32, true },
	{ "uuid", F(uuid), rpc_decode_uuid, true },
	{ "md_size", F(md_size), rpc_decode_uint32, true },
	{ "dif_type", F(dif_type), rpc_decode_int32, true },
	{ "dif_is_head_of_md", F(dif_is_head_of_md), rpc_decode_bool, true },
	{ "dif_pi_format", F(dif_pi_format), rpc_decode_uint32, true },
	{ "preferred_write_alignment", F(preferred_write_alignment), rpc_decode_uint32, true },
	{ "preferred_write_granularity", F(preferred_write_granularity), rpc_decode_uint32, true },
	{ "optimal_write_size", F(optimal_write_size), rpc_decode_uint32, true },
	{ "preferred_unmap_alignment", F(preferred_unmap_alignment), rpc_decode_uint32, true },
	{ "preferred_unmap_granularity", F(preferred_unmap_granularity), rpc_decode_uint32, true },
};
#undef F

static void
rpc_bdev_null_create(struct jsonrpc_request *req, const json_t *params)
{
	struct null_opts opts;
	struct bdev *bdev;
	int rc;

	null_opts_init(&opts, sizeof(opts));
	if (rpc_decode_object(params, create_decoders, COUNTOF(create_decoders), &opts) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		goto out;
	}
	rc = null_disk_create(&opts, &bdev);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	jsonrpc_send_result(req, json_string(bdev_get_name(bdev)));
out:
	free((char *)opts.name);	/* rpc_decode_string's copy */
}
RPC_REGISTER("bdev_null_create", rpc_bdev_null_create, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(construct_null_bdev, bdev_null_create)

static void
rpc_bdev_null_delete(struct jsonrpc_request *req, const json_t *params)
{
	rpc_bdev_delete_reply(req, params, &g_null_module);
}
RPC_REGISTER("bdev_null_delete", rpc_bdev_null_delete, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(delete_null_bdev, bdev_null_delete)
