/*
 * module/bdev/malloc/malloc_rpc.c: bdev_malloc_create / bdev_malloc_delete
 * (spec/rpc.md §2.2.3-4) and their retired names.
 *
 * Errors follow convention A (errno-coded) for everything the module
 * decides and convention C for parameters that do not decode: -32603
 * "spdk_json_decode_object failed". Every optional key of any release is
 * accepted (strict decoding would otherwise refuse what rpc.py sends).
 * Create answers with the name once the bdev is registered; delete answers
 * true once the layer has finished unregistering it.
 */
#include <errno.h>
#include <stdlib.h>

#include "lvstor/bdev_module.h"
#include "lvstor/rpc.h"
#include "lvstor/util.h"

#include "bdev_malloc.h"

#define DECODE_FAILED "spdk_json_decode_object failed"

/* The keys decode straight into the module's options, defaults first. */
#define F(field) offsetof(struct malloc_opts, field)
static const struct rpc_object_decoder create_decoders[] = {
	{ "name", F(name), rpc_decode_string, true },
	{ "num_blocks", F(num_blocks), rpc_decode_uint64, false },
	{ "block_size", F(block_size), rpc_decode_uint32, false },
	{ "physical_block_size", F(physical_block_size), rpc_decode_uint32, true },
	{ "uuid", F(uuid), rpc_decode_uuid, true },
	{ "optimal_io_boundary", F(optimal_io_boundary), rpc_decode_uint32, true },
	{ "md_size", F(md_size), rpc_decode_uint32, true },
	{ "md_interleave", F(md_interleave), rpc_decode_bool, true },
	{ "dif_type", F(dif_type), rpc_decode_int32, true },
	{ "dif_is_head_of_md", F(dif_is_head_of_md), rpc_decode_bool, true },
	{ "dif_pi_format", F(dif_pi_format), rpc_decode_uint32, true },
	{ "numa_id", F(numa_id), rpc_decode_int32, true },
};
#undef F

static void
rpc_bdev_malloc_create(struct jsonrpc_request *req, const json_t *params)
{
	struct malloc_opts opts;
	struct bdev *bdev;
	int rc;

	malloc_opts_init(&opts, sizeof(opts));
	if (rpc_decode_object(params, create_decoders, COUNTOF(create_decoders), &opts) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		goto out;
	}
	rc = malloc_disk_create(&opts, &bdev);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	jsonrpc_send_result(req, json_string(bdev_get_name(bdev)));
out:
	free((char *)opts.name);	/* rpc_decode_string's copy */
}
RPC_REGISTER("bdev_malloc_create", rpc_bdev_malloc_create, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(construct_malloc_bdev, bdev_malloc_create)

static void
rpc_bdev_malloc_delete(struct jsonrpc_request *req, const json_t *params)
{
	rpc_bdev_delete_reply(req, params, &g_malloc_module);
}
RPC_REGISTER("bdev_malloc_delete", rpc_bdev_malloc_delete, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(delete_malloc_bdev, bdev_malloc_delete)
