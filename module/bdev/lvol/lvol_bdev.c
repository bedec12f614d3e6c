/*
 * module/bdev/lvol/lvol_bdev.c: one bdev per logical volume ("Logical
 * Volume"), the path every guest request to a volume takes.
 *
 * Identity. The bdev is named by the lvol's UUID (so the name never
 * changes) and carries one alias, "<lvs_name>/<lvol_name>", which follows
 * renames of the lvol and of its store (spec/rpc.md §2.3). Its UUID is
 * the lvol's, so the layer adds no second UUID alias. Block size is the
 * store's io unit, so an offset in blocks is an offset in io units and
 * requests map 1:1 onto blob I/O with no arithmetic.
 *
 * I/O. submit_request turns the bdev_io into blob_io_readv / writev /
 * unmap / write_zeroes on the blob of the lvol, through the per-thread
 * channel of the store's io_device (a blobstore channel, see
 * lvol_store.c), with the bdev_io itself as the callback argument: no
 * context, no allocation, no lock. The blobstore splits at cluster
 * boundaries and reads through to the parent for unallocated clusters.
 * Reset has nothing to abort at this level (the blobstore has no queue
 * the lvol could drain) and succeeds. Flush goes to the base device
 * (blob_io_flush; unlike SPDK, see doc/lvol.md); seek_hole/seek_data are
 * advertised as SPDK does but the layer has no call that submits them.
 *
 * Read-only lvols (snapshots and lvols set read-only) report write, unmap
 * and write_zeroes unsupported, evaluated on every query so that
 * bdev_lvol_set_read_only and bdev_lvol_snapshot take effect at once;
 * a write already submitted on an old descriptor fails in the blobstore
 * with -EPERM.
 *
 * Life cycle. lvol_bdev_register() allocates a struct lvol_bdev and
 * registers it; destruct (after the layer has closed every descriptor and
 * drained every channel) frees it and detaches it from the lvol. The
 * module unregisters lvol bdevs itself on delete, store destroy and
 * hot-remove (module_unregister set); any other unregister is the bdev
 * layer shutting down, which lvol_store.c turns into a clean unload of the
 * store once its last bdev is gone.
 *
 * Invariants:
 *  - lvol_get_ctx(lvol) is the lvol's struct lvol_bdev while its bdev is
 *    registered (until destruct), NULL otherwise.
 *  - lvs_bdev->num_bdevs counts the registered bdevs of the store; the
 *    store's io_device outlives every channel of every one of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

#include "lvol_bdev.h"

/* ---- I/O ---------------------------------------------------------------------- */

static void
lvol_io_done(void *cb_arg, int bserrno)
{
	struct bdev_io *io = cb_arg;

	if (__builtin_expect(bserrno == 0, 1))
		bdev_io_complete(io, BDEV_IO_STATUS_SUCCESS);
	else if (bserrno == -ENOMEM)
		bdev_io_complete(io, BDEV_IO_STATUS_NOMEM);     /* the layer retries it */
	else
		bdev_io_complete(io, BDEV_IO_STATUS_FAILED);
}

static void
lvol_read_with_buf(struct io_channel *ch, struct bdev_io *io, bool success)
{
	struct lvol_bdev *lvb = io->bdev->ctxt;
	struct io_channel **bs_ch = io_channel_get_ctx(ch);

	if (!success) {
		bdev_io_complete(io, BDEV_IO_STATUS_NOMEM);
		return;
	}
	blob_io_readv(lvol_get_blob(lvb->lvol), *bs_ch, io->u.iovs, io->u.iovcnt,
		      io->u.offset_blocks, io->u.num_blocks, lvol_io_done, io);
}

/* Everything but reads and writes with their buffers. */
static void
lvol_submit_other(struct io_channel *bs_ch, struct blob *blob, struct bdev_io *io)
{
	uint64_t off = io->u.offset_blocks, len = io->u.num_blocks;

	switch (io->type) {
	case BDEV_IO_TYPE_READ:
		if (io->u.iovcnt > 0 && io->u.iovs[0].iov_base == NULL) {
			bdev_io_get_buf(io, lvol_read_with_buf, len * io->bdev->blocklen);
			return;
		}
		blob_io_readv(blob, bs_ch, io->u.iovs, io->u.iovcnt, off, len, lvol_io_done, io);
		return;
	case BDEV_IO_TYPE_UNMAP:
		blob_io_unmap(blob, bs_ch, off, len, lvol_io_done, io);
		return;
	case BDEV_IO_TYPE_WRITE_ZEROES:
		blob_io_write_zeroes(blob, bs_ch, off, len, lvol_io_done, io);
		return;
	case BDEV_IO_TYPE_FLUSH:
		/* A guest's cache flush must reach the base device (a file bdev
		 * with a volatile cache below), not stop at the volume. */
		blob_io_flush(blob, bs_ch, lvol_io_done, io);
		return;
	case BDEV_IO_TYPE_RESET:
		bdev_io_complete(io, BDEV_IO_STATUS_SUCCESS);
		return;
	default:
		bdev_io_complete(io, BDEV_IO_STATUS_FAILED);
		return;
	}
}

/*
 * Reads and writes (nearly every request) go straight to the blob's fast
 * path with the bdev_io as the callback argument; the rest takes a switch.
 */
static void
lvol_submit_request(struct io_channel *ch, struct bdev_io *io)
{
	struct lvol_bdev *lvb = io->bdev->ctxt;
	struct io_channel *bs_ch = *(struct io_channel **)io_channel_get_ctx(ch);
	struct blob *blob = lvol_get_blob(lvb->lvol);

	if (io->type == BDEV_IO_TYPE_WRITE) {
		blob_io_writev(blob, bs_ch, io->u.iovs, io->u.iovcnt, io->u.offset_blocks,
			       io->u.num_blocks, lvol_io_done, io);
		return;
	}
	if (__builtin_expect(io->type == BDEV_IO_TYPE_READ && io->u.iovcnt > 0 &&
			     io->u.iovs[0].iov_base != NULL, 1)) {
		blob_io_readv(blob, bs_ch, io->u.iovs, io->u.iovcnt, io->u.offset_blocks,
			      io->u.num_blocks, lvol_io_done, io);
		return;
	}
	lvol_submit_other(bs_ch, blob, io);
}

static bool
lvol_io_type_supported(void *ctx, enum bdev_io_type type)
{
	struct lvol_bdev *lvb = ctx;

	switch (type) {
	case BDEV_IO_TYPE_READ:
	case BDEV_IO_TYPE_RESET:
	case BDEV_IO_TYPE_SEEK_HOLE:
	case BDEV_IO_TYPE_SEEK_DATA:
		return true;
	case BDEV_IO_TYPE_WRITE:
	case BDEV_IO_TYPE_UNMAP:
	case BDEV_IO_TYPE_WRITE_ZEROES:
	case BDEV_IO_TYPE_FLUSH:
		return !lvol_is_read_only(lvb->lvol);
	default:
		return false;
	}
}

static struct io_channel *
lvol_get_io_channel(void *ctx)
{
	struct lvol_bdev *lvb = ctx;

	return io_channel_get(lvb->lvs_bdev);
}

/* ---- bdev_get_bdevs' driver_specific.lvol (spec §2.2.1, in its key order) ---- */

static void
lvol_dump_info_json(void *ctx, json_t *driver_specific)
{
	struct lvol_bdev *lvb = ctx;
	struct lvol *lvol = lvb->lvol;
	struct lvol_store *lvs = lvol_get_store(lvol);
	char uuid[UUID_STRING_LEN];
	json_t *o = json_object();

	if (o == NULL)
		return;
	uuid_fmt_lower(uuid, sizeof(uuid), lvs_get_uuid(lvs));
	json_object_set_new(o, "lvol_store_uuid", json_string(uuid));
	json_object_set_new(o, "base_bdev", json_string(bdev_get_name(lvb->lvs_bdev->base_bdev)));
	json_object_set_new(o, "thin_provision", json_boolean(lvol_is_thin(lvol)));
	json_object_set_new(o, "num_allocated_clusters",
			    json_integer((json_int_t)lvol_get_num_allocated_clusters(lvol)));
	json_object_set_new(o, "snapshot", json_boolean(lvol_is_snapshot(lvol)));
	json_object_set_new(o, "clone", json_boolean(lvol_is_clone(lvol)));
	if (lvol_is_clone(lvol)) {
		struct lvol *parent = lvol_get_parent(lvol);

		if (parent != NULL)
			json_object_set_new(o, "base_snapshot", json_string(lvol_get_name(parent)));
	}
	if (lvol_is_snapshot(lvol)) {
		struct lvol *few[16], **clones = few;
		size_t n = lvol_get_clones(lvol, few, COUNTOF(few)), i;

		if (n > COUNTOF(few)) {
			clones = calloc(n, sizeof(*clones));
			n = clones != NULL ? lvol_get_clones(lvol, clones, n) : 0;
		}
		if (n > 0) {
			json_t *arr = json_array();

			for (i = 0; i < n; i++)
				json_array_append_new(arr, json_string(lvol_get_name(clones[i])));
			json_object_set_new(o, "clones", arr);
		}
		if (clones != few)
			free(clones);
	}
	json_object_set_new(o, "esnap_clone", json_boolean(lvol_is_esnap_clone(lvol)));
	if (lvol_is_esnap_clone(lvol)) {
		const void *id;
		size_t len;

		/* The recorded id is a NUL-terminated UUID string (spec §7.4). */
		if (lvol_get_esnap_id(lvol, &id, &len) == 0 && len > 0 &&
		    ((const char *)id)[len - 1] == '\0')
			json_object_set_new(o, "external_snapshot_name", json_string(id));
	}
	json_object_set_new(driver_specific, "lvol", o);
}

/* ---- life cycle ------------------------------------------------------------------ */

static int
lvol_destruct(void *ctx)
{
	struct lvol_bdev *lvb = ctx;
	struct lvs_bdev *lb = lvb->lvs_bdev;

	lvol_set_ctx(lvb->lvol, NULL);
	if (!lvb->module_unregister)
		return lvs_bdev_bdev_destructed_externally(lvb);
	free(lvb);
	lvs_bdev_bdev_gone(lb);
	return 0;
}

static const struct bdev_fn_table g_lvol_fn_table = {
	.destruct = lvol_destruct,
	.submit_request = lvol_submit_request,
	.io_type_supported = lvol_io_type_supported,
	.get_io_channel = lvol_get_io_channel,
	.dump_info_json = lvol_dump_info_json,
	/* Lvols are not saved: they come back when the base bdev is examined. */
	.write_config_json = NULL,
};

static void
format_alias(struct lvol *lvol, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", lvs_get_name(lvol_get_store(lvol)), lvol_get_name(lvol));
}

struct lvol_bdev *
lvol_bdev_of(struct lvol *lvol)
{
	return lvol_get_ctx(lvol);
}

int
lvol_bdev_register(struct lvol *lvol)
{
	struct lvol_store *lvs = lvol_get_store(lvol);
	struct lvs_bdev *lb = lvs_bdev_of(lvs);
	uint32_t blocklen = lvs_get_block_size(lvs);
	struct lvol_bdev *lvb;
	int rc;

	if (lb == NULL || lvol_get_ctx(lvol) != NULL)
		return -EINVAL;
	if (lb->destroying || lb->removing || lb->unloading)
		return -ENODEV;
	if (lvol_is_degraded(lvol)) {
		LOG_NOTICE("lvol %s/%s: external snapshot missing, no bdev",
			   lvs_get_name(lvs), lvol_get_name(lvol));
		return -EINVAL;
	}
	if (lvol_get_size(lvol) / blocklen == 0) {
		LOG_WARN("lvol %s/%s has size 0: no bdev", lvs_get_name(lvs), lvol_get_name(lvol));
		return -EINVAL;
	}
	lvb = calloc(1, sizeof(*lvb));
	if (lvb == NULL)
		return -ENOMEM;
	lvb->lvol = lvol;
	lvb->lvs_bdev = lb;
	if (!uuid_is_null_lv(lvol_get_uuid(lvol))) {
		uuid_fmt_lower(lvb->name, sizeof(lvb->name), lvol_get_uuid(lvol));
	} else {
		/* A volume without a valid "uuid" xattr (spec §7.2): SPDK's unique id. */
		char lvs_uuid[UUID_STRING_LEN];

		uuid_fmt_lower(lvs_uuid, sizeof(lvs_uuid), lvs_get_uuid(lvs));
		snprintf(lvb->name, sizeof(lvb->name), "%s_%lu", lvs_uuid,
			 (unsigned long)blob_get_id(lvol_get_blob(lvol)));
	}
	lvb->bdev.name = lvb->name;
	lvb->bdev.product_name = "Logical Volume";
	lvb->bdev.blocklen = blocklen;
	lvb->bdev.blockcnt = lvol_get_size(lvol) / blocklen;
	lvb->bdev.uuid = *lvol_get_uuid(lvol);
	lvb->bdev.write_cache = false;
	lvb->bdev.ctxt = lvb;
	lvb->bdev.fn_table = &g_lvol_fn_table;
	lvb->bdev.module = &g_lvol_bdev_module;
	/*
	 * Registered before the alias exists: registration examines the new
	 * bdev, and our own examine of an lvol bdev only looks at the lvol.
	 */
	lvol_set_ctx(lvol, lvb);
	lb->num_bdevs++;
	rc = bdev_register(&lvb->bdev);
	if (rc != 0) {
		LOG_ERR("lvol %s/%s: cannot register bdev %s: %s", lvs_get_name(lvs),
			lvol_get_name(lvol), lvb->name, strerror(-rc));
		lvol_set_ctx(lvol, NULL);
		lb->num_bdevs--;
		free(lvb);
		return rc;
	}
	format_alias(lvol, lvb->alias, sizeof(lvb->alias));
	rc = bdev_alias_add(&lvb->bdev, lvb->alias);
	if (rc != 0) {
		LOG_ERR("lvol bdev %s: cannot add alias %s: %s", lvb->name, lvb->alias,
			strerror(-rc));
		lvb->alias[0] = '\0';
	}
	return 0;
}

void
lvol_bdev_update_alias(struct lvol *lvol)
{
	struct lvol_bdev *lvb = lvol_get_ctx(lvol);
	char alias[LVOL_ALIAS_MAX];
	int rc;

	if (lvb == NULL)
		return;
	format_alias(lvol, alias, sizeof(alias));
	if (strcmp(alias, lvb->alias) == 0)
		return;
	if (lvb->alias[0] != '\0')
		bdev_alias_del(&lvb->bdev, lvb->alias);
	rc = bdev_alias_add(&lvb->bdev, alias);
	if (rc != 0) {
		LOG_ERR("lvol bdev %s: cannot add alias %s: %s", lvb->name, alias, strerror(-rc));
		lvb->alias[0] = '\0';
		return;
	}
	memcpy(lvb->alias, alias, sizeof(alias));
}

int
lvol_bdev_resized(struct lvol *lvol)
{
	struct lvol_bdev *lvb = lvol_get_ctx(lvol);
	uint64_t blocks;

	if (lvb == NULL)
		return 0;
	blocks = lvol_get_size(lvol) / lvb->bdev.blocklen;
	if (blocks == lvb->bdev.blockcnt)
		return 0;
	return bdev_notify_blockcnt_change(&lvb->bdev, blocks);
}

struct unreg_ctx {
	void (*cb)(void *cb_arg, int rc);
	void *cb_arg;
};

static void
unreg_later(void *arg)
{
	struct unreg_ctx *u = arg;

	u->cb(u->cb_arg, 0);
	free(u);
}

void
lvol_bdev_unregister(struct lvol *lvol, void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	struct lvol_bdev *lvb = lvol_get_ctx(lvol);
	struct unreg_ctx *u;

	if (lvb != NULL && !lvb->module_unregister) {
		lvb->module_unregister = true;
		bdev_unregister(&lvb->bdev, cb, cb_arg);
		return;
	}
	/* No bdev (or already going: its destruct is someone else's wait). */
	u = malloc(sizeof(*u));
	if (u == NULL || thread_send_msg(thread_get_current(), unreg_later, u) != 0) {
		/* Out of memory for a message: the only way left is inline. */
		free(u);
		LOG_ERR("lvol: no memory to defer an unregister completion");
		cb(cb_arg, 0);
		return;
	}
	u->cb = cb;
	u->cb_arg = cb_arg;
}

/* "lvs/lvol" of a loaded store, for lvols that have no bdev. */
static struct lvol *
lookup_by_alias(const char *name)
{
	char lvs_name[LVS_NAME_MAX];
	const char *slash = strchr(name, '/');
	struct lvol_store *lvs;

	if (slash == NULL || (size_t)(slash - name) >= sizeof(lvs_name))
		return NULL;
	memcpy(lvs_name, name, (size_t)(slash - name));
	lvs_name[slash - name] = '\0';
	lvs = lvs_get_by_name(lvs_name);
	return lvs != NULL ? lvol_get_by_name(lvs, slash + 1) : NULL;
}

struct lvol *
lvol_bdev_lookup(const char *name)
{
	struct bdev *bdev;
	struct lvol *lvol = NULL;
	struct lv_uuid uuid;
	struct lvs_bdev *lb;

	if (name == NULL)
		return NULL;
	bdev = bdev_get_by_name(name);
	if (bdev != NULL) {
		if (bdev->module != &g_lvol_bdev_module)
			return NULL;
		lvol = ((struct lvol_bdev *)bdev->ctxt)->lvol;
	} else if (uuid_parse_str(&uuid, name) == 0) {
		lvol = lvol_get_by_uuid(&uuid);
	} else {
		lvol = lookup_by_alias(name);
	}
	if (lvol == NULL)
		return NULL;
	lb = lvs_bdev_of(lvol_get_store(lvol));
	return lb != NULL && lvs_bdev_usable(lb) ? lvol : NULL;
}
