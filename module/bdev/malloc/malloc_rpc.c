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

struct create_params {
	char *name;
	uint64_t num_blocks;
	uint32_t block_size;
	uint32_t physical_block_size;
	struct lv_uuid uuid;
	uint32_t optimal_io_boundary;
	uint32_t md_size;
	bool md_interleave;
	int32_t dif_type;
	bool dif_is_head_of_md;
	uint32_t dif_pi_format;
	int32_t numa_id;
};

#define F(field) offsetof(struct create_params, field)
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
	struct create_params p = { .numa_id = -1 };
	struct malloc_opts opts;
	struct bdev *bdev;
	int rc;

	if (rpc_decode_object(params, create_decoders, COUNTOF(create_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
		goto out;
	}
	malloc_opts_init(&opts, sizeof(opts));
	opts.name = p.name;
	opts.num_blocks = p.num_blocks;
	opts.block_size = p.block_size;
	opts.physical_block_size = p.physical_block_size;
	opts.uuid = p.uuid;
	opts.optimal_io_boundary = p.optimal_io_boundary;
	opts.md_size = p.md_size;
	opts.md_interleave = p.md_interleave;
	opts.dif_type = p.dif_type;
	opts.dif_is_head_of_md = p.dif_is_head_of_md;
	opts.dif_pi_format = p.dif_pi_format;
	opts.numa_id = p.numa_id;
	rc = malloc_disk_create(&opts, &bdev);
	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
		goto out;
	}
	jsonrpc_send_result(req, json_string(bdev_get_name(bdev)));
out:
	free(p.name);
}
RPC_REGISTER("bdev_malloc_create", rpc_bdev_malloc_create, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(construct_malloc_bdev, bdev_malloc_create)

struct delete_params {
	char *name;
};

static const struct rpc_object_decoder delete_decoders[] = {
	{ "name", offsetof(struct delete_params, name), rpc_decode_string, false },
};

static void
delete_done(void *cb_arg, int rc)
{
	struct jsonrpc_request *req = cb_arg;

	if (rc != 0) {
		jsonrpc_send_errno(req, rc);
	} else {
		jsonrpc_send_bool(req, true);
	}
}

static void
rpc_bdev_malloc_delete(struct jsonrpc_request *req, const json_t *params)
{
	struct delete_params p = { 0 };
	int rc;

	if (rpc_decode_object(params, delete_decoders, COUNTOF(delete_decoders), &p) != 0) {
		jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, DECODE_FAILED);
	} else {
		rc = malloc_disk_delete(p.name, delete_done, req);
		if (rc != 0) {
			jsonrpc_send_errno(req, rc);
		}
	}
	free(p.name);
}
RPC_REGISTER("bdev_malloc_delete", rpc_bdev_malloc_delete, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(delete_malloc_bdev, bdev_malloc_delete)
