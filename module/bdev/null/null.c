/*
 * module/bdev/null: bdevs that store nothing ("Null disk").
 *
 * A null bdev is the benchmark target for the stack itself: it measures
 * what the bdev layer (and everything above it) costs, with no storage
 * behind. So its submit path is as short as it can be: every supported
 * I/O completes successfully inside submit_request, and the data is never
 * touched. Writes are discarded; reads leave the caller's buffer as it was.
 *
 * That last point departs from the spec's one-line description ("returns
 * zeroes", spec/rpc.md §2.2.5) on purpose: zeroing would add a memset of
 * every read buffer to the very path the null bdev exists to measure, and
 * the bytes are meaningless by definition. doc/bdev-backends.md says so;
 * anyone who needs zeroes reads from a malloc bdev instead.
 *
 * Completing inline keeps the threading contract because the layer defers
 * the user's callback. Nothing is ever in flight, so unregistering is just
 * freeing the context. Reads submitted without a buffer (iov_base NULL)
 * get one from the layer first, so the caller always receives a valid
 * buffer.
 *
 * Metadata (md_size) and protection information (dif_type) are accepted
 * by the RPC but not implemented: a non-zero value is refused with
 * -EINVAL and a log line saying so. That check and the geometry's are the
 * malloc module's too, and live in module/bdev/common/create_geometry.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/bdev_module.h"
#include "lvstor/log.h"
#include "lvstor/util.h"

#include "../common/create_geometry.h"
#include "bdev_null.h"

struct null_disk {
	struct bdev bdev;
	/* Recorded for write_config_json (not otherwise used). */
	uint32_t md_size;
	int32_t dif_type;
	bool dif_is_head_of_md;
	uint32_t dif_pi_format;
};

/* In the order of the hints array of null_write_config_json. */
static const char *const g_hint_names[5] = {
	"preferred_write_alignment", "preferred_write_granularity", "optimal_write_size",
	"preferred_unmap_alignment", "preferred_unmap_granularity",
};

/* The io_device all null bdevs share (its channels carry no state). */
static int g_null_io_device;

void
null_opts_init(struct null_opts *opts, size_t size)
{
	struct null_opts defaults = { .size = sizeof(defaults) };

	memset(opts, 0, size);
	memcpy(opts, &defaults, size < sizeof(defaults) ? size : sizeof(defaults));
	opts->size = size;
}

/* ---- I/O ------------------------------------------------------------------ */

static void
null_read_with_buf(struct io_channel *ch, struct bdev_io *io, bool success)
{
	bdev_io_complete(io, success ? BDEV_IO_STATUS_SUCCESS : BDEV_IO_STATUS_NOMEM);
}

static void
null_submit_request(struct io_channel *ch, struct bdev_io *io)
{
	if (io->type == BDEV_IO_TYPE_READ && io->u.iovcnt > 0 && io->u.iovs[0].iov_base == NULL) {
		bdev_io_get_buf(io, null_read_with_buf,
				io->u.num_blocks * (uint64_t)io->bdev->blocklen);
		return;
	}
	/* The layer only passes the types io_type_supported accepts. */
	bdev_io_complete(io, BDEV_IO_STATUS_SUCCESS);
}

static bool
null_io_type_supported(void *ctx, enum bdev_io_type type)
{
	switch (type) {
	case BDEV_IO_TYPE_READ:
	case BDEV_IO_TYPE_WRITE:
	case BDEV_IO_TYPE_UNMAP:
	case BDEV_IO_TYPE_FLUSH:
	case BDEV_IO_TYPE_RESET:
	case BDEV_IO_TYPE_WRITE_ZEROES:
		return true;
	default:
		return false;
	}
}

static struct io_channel *
null_get_io_channel(void *ctx)
{
	return io_channel_get(&g_null_io_device);
}

/* ---- life cycle ----------------------------------------------------------- */

static void
null_disk_free(struct null_disk *disk)
{
	free(disk->bdev.name);
	free(disk);
}

static int
null_destruct(void *ctx)
{
	null_disk_free(ctx);
	return 0;
}

static void
null_write_config_json(struct bdev *bdev, json_t *config)
{
	struct null_disk *disk = bdev->ctxt;
	const uint32_t hints[] = {
		bdev->preferred_write_alignment, bdev->preferred_write_granularity,
		bdev->optimal_write_size, bdev->preferred_unmap_alignment,
		bdev->preferred_unmap_granularity,
	};
	char uuid[UUID_STRING_LEN];
	json_t *params;
	size_t i;

	uuid_fmt_lower(uuid, sizeof(uuid), bdev_get_uuid(bdev));
	params = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:s}",
			   "name", bdev_get_name(bdev),
			   "num_blocks", (json_int_t)bdev_get_num_blocks(bdev),
			   "block_size", (json_int_t)bdev_get_block_size(bdev),
			   "physical_block_size", (json_int_t)bdev_get_physical_block_size(bdev),
			   "md_size", (json_int_t)disk->md_size,
			   "dif_type", (json_int_t)disk->dif_type,
			   "dif_is_head_of_md", (int)disk->dif_is_head_of_md,
			   "dif_pi_format", (json_int_t)disk->dif_pi_format,
			   "uuid", uuid);
	if (params == NULL) {
		return;
	}
	/* Only the hints that were given: older daemons do not know the keys. */
	for (i = 0; i < COUNTOF(g_hint_names); i++) {
		if (hints[i] != 0) {
			json_object_set_new(params, g_hint_names[i], json_integer(hints[i]));
		}
	}
	json_array_append_new(config, json_pack("{s:s, s:o}", "method", "bdev_null_create",
						"params", params));
}

static const struct bdev_fn_table g_null_fn_table = {
	.destruct = null_destruct,
	.submit_request = null_submit_request,
	.io_type_supported = null_io_type_supported,
	.get_io_channel = null_get_io_channel,
	.dump_info_json = NULL,
	.write_config_json = null_write_config_json,
};

static int
check_opts(const struct null_opts *o)
{
	const struct bdev_create_geometry g = {
		.num_blocks = o->num_blocks, .block_size = o->block_size,
		.physical_block_size = o->physical_block_size, .md_size = o->md_size,
		.dif_type = o->dif_type, .dif_pi_format = o->dif_pi_format,
	};

	if (o->name == NULL || o->name[0] == '\0') {
		LOG_ERR("null: a name is required");
		return -EINVAL;
	}
	return bdev_create_geometry_check("null", &g);
}

int
null_disk_create(const struct null_opts *opts_in, struct bdev **bdev_out)
{
	struct null_opts o;
	struct null_disk *disk;
	int rc;

	null_opts_init(&o, sizeof(o));
	memcpy(&o, opts_in, opts_in->size < sizeof(o) ? opts_in->size : sizeof(o));
	rc = check_opts(&o);
	if (rc != 0) {
		return rc;
	}
	disk = calloc(1, sizeof(*disk));
	if (disk == NULL) {
		return -ENOMEM;
	}
	disk->bdev.name = strdup(o.name);
	if (disk->bdev.name == NULL) {
		null_disk_free(disk);
		return -ENOMEM;
	}
	disk->md_size = o.md_size;
	disk->dif_type = o.dif_type;
	disk->dif_is_head_of_md = o.dif_is_head_of_md;
	disk->dif_pi_format = o.dif_pi_format;
	disk->bdev.preferred_write_alignment = o.preferred_write_alignment;
	disk->bdev.preferred_write_granularity = o.preferred_write_granularity;
	disk->bdev.optimal_write_size = o.optimal_write_size;
	disk->bdev.preferred_unmap_alignment = o.preferred_unmap_alignment;
	disk->bdev.preferred_unmap_granularity = o.preferred_unmap_granularity;

	disk->bdev.product_name = "Null disk";
	disk->bdev.blocklen = o.block_size;
	disk->bdev.phys_blocklen = o.physical_block_size;
	disk->bdev.blockcnt = o.num_blocks;
	disk->bdev.uuid = o.uuid;
	disk->bdev.ctxt = disk;
	disk->bdev.fn_table = &g_null_fn_table;
	disk->bdev.module = &g_null_module;

	rc = bdev_register(&disk->bdev);
	if (rc != 0) {
		LOG_ERR("null: cannot register %s: %s", disk->bdev.name, strerror(-rc));
		null_disk_free(disk);
		return rc;
	}
	if (bdev_out != NULL) {
		*bdev_out = &disk->bdev;
	}
	return 0;
}

int
null_disk_delete(const char *name, void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	return bdev_unregister_by_name(name, &g_null_module, cb, cb_arg);
}

/* ---- module --------------------------------------------------------------- */

static int
null_module_init(void)
{
	io_device_register(&g_null_io_device, NULL, NULL, 0, "bdev_null");
	return 0;
}

static void
null_module_fini(void)
{
	io_device_unregister(&g_null_io_device, NULL);
}

struct bdev_module g_null_module = {
	.name = "null",
	.module_init = null_module_init,
	.module_fini = null_module_fini,
};
BDEV_MODULE_REGISTER(null, &g_null_module)
