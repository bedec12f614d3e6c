/*
 * lib/vhost/vhost_rpc.c: the vhost-blk and common vhost methods of
 * spec/rpc.md §2.4 -- vhost_create_blk_controller, vhost_get_controllers,
 * vhost_delete_controller, vhost_controller_set_coalescing -- and their
 * retired names (construct_vhost_blk_controller, get_vhost_controllers,
 * remove_vhost_controller, set_vhost_controller_coalescing). The SCSI
 * methods come with vhost-scsi.
 *
 * This file is only a translation layer: it decodes parameters, calls the
 * public API of include/lvstor/vhost.h and turns the negative errno it
 * gets back into the answer. It keeps no state of its own; every handler
 * runs on the application thread, which is also where the controller API
 * must be called, and answers exactly once before returning (all the
 * controller calls it makes are synchronous).
 *
 * Error conventions (spec §2.4): every method answers -32602 with the C
 * library's text of the errno ("No such device", "File exists", ...),
 * parameter-decoding failures included ("Invalid argument"), except
 * vhost_get_controllers, which uses -32603 for the same texts.
 *
 * Decoding is strict (unknown keys fail) except for
 * vhost_create_blk_controller: since v22.05 extra keys are handed to the
 * virtio-blk transport, and tools send some (packed_ring_recovery, from
 * v21.01 - v23.x), so unknown keys are ignored there. Keys it does know
 * must still have their type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "lvstor/rpc.h"
#include "lvstor/util.h"
#include "lvstor/vhost.h"

LOG_REGISTER_COMPONENT(vhost_rpc)

/* ---- vhost_create_blk_controller (§2.4.5) ------------------------------ */

struct create_blk_params {
	char *ctrlr;
	char *dev_name;
	char *cpumask;
	char *transport;
	bool readonly;
	bool packed_ring;
};

#define F(field) offsetof(struct create_blk_params, field)
static const struct rpc_object_decoder create_blk_decoders[] = {
	{ "ctrlr", F(ctrlr), rpc_decode_string, false },
	{ "dev_name", F(dev_name), rpc_decode_string, false },
	{ "cpumask", F(cpumask), rpc_decode_string, true },
	{ "readonly", F(readonly), rpc_decode_bool, true },
	{ "packed_ring", F(packed_ring), rpc_decode_bool, true },
	{ "transport", F(transport), rpc_decode_string, true },
	/*
	 * An option of v21.01 - v23.x that old tools still send; lvstor has
	 * no separate switch for it, so the key is taken and ignored (a
	 * type check would refuse what HEAD, which hands it to the
	 * transport, accepts).
	 */
	{ "packed_ring_recovery", 0, NULL, true },
};
#undef F

static void
rpc_vhost_create_blk_controller(struct jsonrpc_request *req, const json_t *params)
{
	struct create_blk_params p = { 0 };
	struct vhost_blk_opts opts;
	int rc;

	if (rpc_decode_object_relaxed(params, create_blk_decoders,
				      COUNTOF(create_blk_decoders), &p) != 0) {
		jsonrpc_send_errno_invalid_params(req, -EINVAL);
		goto out;
	}
	vhost_blk_opts_init(&opts, sizeof(opts));
	opts.cpumask = p.cpumask;
	opts.readonly = p.readonly;
	opts.packed_ring = p.packed_ring;
	opts.transport = p.transport;
	rc = vhost_blk_controller_create(p.ctrlr, p.dev_name, &opts);
	if (rc != 0) {
		LOG_DEBUG(vhost_rpc, "vhost_create_blk_controller %s on %s: %s", p.ctrlr,
			  p.dev_name, strerror(-rc));
		jsonrpc_send_errno_invalid_params(req, rc);
		goto out;
	}
	jsonrpc_send_bool(req, true);
out:
	free(p.ctrlr);
	free(p.dev_name);
	free(p.cpumask);
	free(p.transport);
}
RPC_REGISTER("vhost_create_blk_controller", rpc_vhost_create_blk_controller, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(construct_vhost_blk_controller, vhost_create_blk_controller)

/* ---- vhost_get_controllers (§2.4.6) ------------------------------------ */

struct get_controllers_params {
	char *name;
};

static const struct rpc_object_decoder get_controllers_decoders[] = {
	{ "name", offsetof(struct get_controllers_params, name), rpc_decode_string, true },
};

/* Appends ctrlr's element to arr; false on allocation failure. */
static bool
append_controller(json_t *arr, const struct vhost_controller *ctrlr)
{
	json_t *info = vhost_controller_info_json(ctrlr);

	return info != NULL && json_array_append_new(arr, info) == 0;
}

static void
send_internal_errno(struct jsonrpc_request *req, int neg_errno)
{
	jsonrpc_send_error(req, JSONRPC_ERROR_INTERNAL_ERROR, "%s", strerror(-neg_errno));
}

static void
rpc_vhost_get_controllers(struct jsonrpc_request *req, const json_t *params)
{
	struct get_controllers_params p = { 0 };
	struct vhost_controller *ctrlr;
	json_t *arr = NULL;

	if (rpc_decode_object(params, get_controllers_decoders,
			      COUNTOF(get_controllers_decoders), &p) != 0) {
		send_internal_errno(req, -EINVAL);
		goto out;
	}
	if (p.name != NULL) {
		ctrlr = vhost_controller_find(p.name);
		if (ctrlr == NULL) {
			send_internal_errno(req, -ENODEV);
			goto out;
		}
		arr = json_array();
		if (arr == NULL || !append_controller(arr, ctrlr))
			goto nomem;
	} else {
		arr = json_array();
		if (arr == NULL)
			goto nomem;
		for (ctrlr = vhost_controller_first(); ctrlr != NULL;
		     ctrlr = vhost_controller_next(ctrlr)) {
			if (!append_controller(arr, ctrlr))
				goto nomem;
		}
	}
	jsonrpc_send_result(req, arr);
	goto out;
nomem:
	json_decref(arr);
	send_internal_errno(req, -ENOMEM);
out:
	free(p.name);
}
RPC_REGISTER("vhost_get_controllers", rpc_vhost_get_controllers, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(get_vhost_controllers, vhost_get_controllers)

/* ---- vhost_delete_controller (§2.4.7) ---------------------------------- */

struct ctrlr_params {
	char *ctrlr;
};

static const struct rpc_object_decoder ctrlr_decoders[] = {
	{ "ctrlr", offsetof(struct ctrlr_params, ctrlr), rpc_decode_string, false },
};

/*
 * A connected VM makes this fail at once with -EBUSY (the ≤ v24.05
 * behaviour the spec lets a replacement choose, and what the tools
 * written for it expect) rather than holding the answer until the VM
 * goes away.
 */
static void
rpc_vhost_delete_controller(struct jsonrpc_request *req, const json_t *params)
{
	struct ctrlr_params p = { 0 };
	int rc;

	if (rpc_decode_object(params, ctrlr_decoders, COUNTOF(ctrlr_decoders), &p) != 0) {
		jsonrpc_send_errno_invalid_params(req, -EINVAL);
		goto out;
	}
	rc = vhost_controller_delete(p.ctrlr);
	if (rc != 0) {
		LOG_DEBUG(vhost_rpc, "vhost_delete_controller %s: %s", p.ctrlr, strerror(-rc));
		jsonrpc_send_errno_invalid_params(req, rc);
		goto out;
	}
	jsonrpc_send_bool(req, true);
out:
	free(p.ctrlr);
}
RPC_REGISTER("vhost_delete_controller", rpc_vhost_delete_controller, RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(remove_vhost_controller, vhost_delete_controller)

/* ---- vhost_controller_set_coalescing (§2.4.8) -------------------------- */

struct coalescing_params {
	char *ctrlr;
	uint32_t delay_base_us;
	uint32_t iops_threshold;
};

#define F(field) offsetof(struct coalescing_params, field)
static const struct rpc_object_decoder coalescing_decoders[] = {
	{ "ctrlr", F(ctrlr), rpc_decode_string, false },
	{ "delay_base_us", F(delay_base_us), rpc_decode_uint32, false },
	{ "iops_threshold", F(iops_threshold), rpc_decode_uint32, false },
};
#undef F

static void
rpc_vhost_controller_set_coalescing(struct jsonrpc_request *req, const json_t *params)
{
	struct coalescing_params p = { 0 };
	struct vhost_controller *ctrlr;
	int rc;

	if (rpc_decode_object(params, coalescing_decoders, COUNTOF(coalescing_decoders),
			      &p) != 0) {
		jsonrpc_send_errno_invalid_params(req, -EINVAL);
		goto out;
	}
	ctrlr = vhost_controller_find(p.ctrlr);
	if (ctrlr == NULL) {
		jsonrpc_send_errno_invalid_params(req, -ENODEV);
		goto out;
	}
	rc = vhost_controller_set_coalescing(ctrlr, p.delay_base_us, p.iops_threshold);
	if (rc != 0) {
		jsonrpc_send_errno_invalid_params(req, rc);
		goto out;
	}
	jsonrpc_send_bool(req, true);
out:
	free(p.ctrlr);
}
RPC_REGISTER("vhost_controller_set_coalescing", rpc_vhost_controller_set_coalescing,
	     RPC_STATE_RUNTIME)
RPC_REGISTER_ALIAS(set_vhost_controller_coalescing, vhost_controller_set_coalescing)
