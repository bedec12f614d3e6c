/*
 * module/bdev/file/file_bdev.c: bdevs on a regular file or a kernel block
 * device — the "aio" module (bdev_aio_create, "AIO disk") and the "uring"
 * module (bdev_uring_create, "URING bdev").
 *
 * Engines. An aio bdev uses io_uring when the kernel offers it and libaio
 * otherwise: io_uring batches submissions, is asynchronous for buffered
 * files too, and does flush and fallocate without blocking; libaio is the
 * fallback that works everywhere. A uring bdev uses io_uring only, and its
 * creation fails when io_uring is unavailable. LVSTOR_FILE_ENGINE=aio in
 * the environment makes io_uring count as unavailable (tests use it to
 * exercise libaio and the failure path); the choice is made per bdev at
 * creation and logged.
 *
 * Opening. O_DIRECT keeps the page cache out of the data path, so it is
 * tried first; a file system that refuses it (EINVAL: tmpfs before Linux
 * 6.6) gets the file opened buffered, with a NOTICE. Block size: the one given (a power of
 * two, at least 512), else the device's logical block size (BLKSSZGET),
 * else 512 for a regular file — raised to the file system's direct-I/O
 * offset alignment when statx reports a larger one. A block size below
 * the device's logical block size is refused; on a regular file it makes
 * the bdev fall back to buffered I/O instead, since O_DIRECT could not
 * honour it. The size is BLKGETSIZE64 or st_size, rounded down to whole
 * blocks. Buffers must be aligned to what O_DIRECT needs (statx's
 * dio_mem_align, else the block size), reported as required_alignment;
 * the layer bounces misaligned ones through aligned buffers of its own.
 *
 * Supported I/O: read, flush, reset always; write unless read-only;
 * unmap (punch a hole) and write_zeroes (zero the range) only with the
 * fallocate option — without it the layer emulates write_zeroes with
 * writes and unmap is unsupported.
 *
 * Resize. bdev_aio_rescan / bdev_uring_rescan re-read the size and tell
 * the layer (bdev_notify_blockcnt_change). A file truncated under the bdev
 * is not noticed by itself, but a read past the new end comes back short
 * and fails; it never returns stale or invented data.
 *
 * Life cycle (app thread): create opens, sizes and registers; the layer
 * calls destruct once every descriptor is closed; destruct waits until no
 * I/O of the disk is in flight on any thread (file_disk_drain) and only
 * then closes the fd and frees the disk, so a late completion never
 * touches freed memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvstor/log.h"
#include "lvstor/util.h"

#include "file_internal.h"

LOG_REGISTER_COMPONENT(aio)

/* Largest transfer handed to the kernel in one request (1 GiB, a power of
 * two below its ~2 GiB per-call limit, so any block size divides it). */
#define FILE_MAX_TRANSFER (1u << 30)

void
file_opts_init(struct file_opts *opts, size_t size)
{
	struct file_opts defaults = { .size = sizeof(defaults) };

	memset(opts, 0, size);
	memcpy(opts, &defaults, size < sizeof(defaults) ? size : sizeof(defaults));
	opts->size = size;
}

/* ---- the bdev function table ------------------------------------------------ */

static bool
file_io_type_supported(void *ctx, enum bdev_io_type type)
{
	struct file_disk *disk = ctx;

	switch (type) {
	case BDEV_IO_TYPE_READ:
	case BDEV_IO_TYPE_FLUSH:
	case BDEV_IO_TYPE_RESET:
		return true;
	case BDEV_IO_TYPE_WRITE:
		return !disk->readonly;
	case BDEV_IO_TYPE_UNMAP:
	case BDEV_IO_TYPE_WRITE_ZEROES:
		return disk->fallocate && !disk->readonly;
	default:
		return false;
	}
}

static struct io_channel *
file_get_io_channel(void *ctx)
{
	struct file_disk *disk = ctx;

	return io_channel_get(file_engine_io_device(disk->engine));
}

static void
file_disk_free(struct file_disk *disk)
{
	if (disk->fd >= 0) {
		close(disk->fd);
	}
	free(disk->filename);
	free(disk->bdev.name);
	free(disk);
}

static void
destruct_drained(void *cb_arg)
{
	struct file_disk *disk = cb_arg;
	int rc = 0;

	if (close(disk->fd) != 0) {
		rc = -errno;
	}
	disk->fd = -1;
	bdev_destruct_done(&disk->bdev, rc);
	file_disk_free(disk);
}

static int
file_destruct(void *ctx)
{
	struct file_disk *disk = ctx;

	if (file_disk_drain(disk, destruct_drained, disk) != 0) {
		/* No memory to walk the threads: the layer has no I/O of ours left. */
		LOG_ERR("%s: cannot wait for in-flight I/O (out of memory); closing now",
			disk->bdev.name);
		file_disk_free(disk);
		return 0;
	}
	return 1;
}

static void
file_dump_info_json(void *ctx, json_t *driver_specific)
{
	struct file_disk *disk = ctx;
	json_t *o;

	if (disk->uring_module) {
		o = json_pack("{s:s}", "filename", disk->filename);
		json_object_set_new(driver_specific, "uring", o);
	} else {
		o = json_pack("{s:s, s:b, s:b, s:b}", "filename", disk->filename,
			      "block_size_override", (int)(disk->block_size_override != 0),
			      "readonly", (int)disk->readonly, "fallocate", (int)disk->fallocate);
		json_object_set_new(driver_specific, "aio", o);
	}
}

static void
file_write_config_json(struct bdev *bdev, json_t *config)
{
	struct file_disk *disk = bdev->ctxt;
	char uuid[UUID_STRING_LEN];
	json_t *params;

	uuid_fmt_lower(uuid, sizeof(uuid), bdev_get_uuid(bdev));
	params = json_pack("{s:s, s:s, s:s}", "name", bdev_get_name(bdev),
			   "filename", disk->filename, "uuid", uuid);
	if (params == NULL) {
		return;
	}
	if (disk->uring_module) {
		json_object_set_new(params, "block_size", json_integer(bdev->blocklen));
	} else {
		/* Like SPDK: a detected block size is detected again on replay. */
		if (disk->block_size_override != 0) {
			json_object_set_new(params, "block_size", json_integer(bdev->blocklen));
		}
		json_object_set_new(params, "readonly", json_boolean(disk->readonly));
		json_object_set_new(params, "fallocate", json_boolean(disk->fallocate));
		if (disk->nowait) {
			json_object_set_new(params, "nowait", json_true());
		}
	}
	json_array_append_new(config, json_pack("{s:s, s:o}", "method", disk->uring_module ?
						"bdev_uring_create" : "bdev_aio_create",
						"params", params));
}

static const struct bdev_fn_table g_file_fn_table = {
	.destruct = file_destruct,
	.submit_request = file_submit_request,
	.io_type_supported = file_io_type_supported,
	.get_io_channel = file_get_io_channel,
	.dump_info_json = file_dump_info_json,
	.write_config_json = file_write_config_json,
};

/* ---- opening and sizing ------------------------------------------------------ */

/* Bytes behind fd (regular file or block device), or -errno. */
static int
query_size(int fd, bool is_blockdev, uint64_t *size)
{
	struct stat st;

	if (is_blockdev) {
		return ioctl(fd, BLKGETSIZE64, size) == 0 ? 0 : -errno;
	}
	if (fstat(fd, &st) != 0) {
		return -errno;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Direct-I/O alignment the kernel reports for fd (statx), 0 if unknown. */
static void
query_dio_align(int fd, uint32_t *mem_align, uint32_t *offset_align)
{
	struct statx stx;

	*mem_align = *offset_align = 0;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) != 0) {
		*mem_align = stx.stx_dio_mem_align;
		*offset_align = stx.stx_dio_offset_align;
	}
}

static int
open_file(struct file_disk *disk, bool try_direct)
{
	int flags = (disk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;

	disk->fd = open(disk->filename, flags | (try_direct ? O_DIRECT : 0));
	disk->direct = try_direct && disk->fd >= 0;
	if (try_direct && disk->fd < 0 && errno == EINVAL) {
		LOG_NOTICE("%s: O_DIRECT is not supported on %s; using buffered I/O",
			   disk->bdev.name, disk->filename);
		disk->fd = open(disk->filename, flags);
	}
	if (disk->fd < 0) {
		int rc = -errno;

		LOG_ERR("%s: cannot open %s: %s", disk->bdev.name, disk->filename, strerror(-rc));
		return rc;
	}
	return 0;
}

static bool
valid_block_size(uint32_t bs)
{
	return bs >= 512 && (bs & (bs - 1)) == 0;
}

/* Sets blocklen, blockcnt and required_alignment from the open file. */
static int
size_disk(struct file_disk *disk, uint32_t block_size)
{
	struct stat st;
	uint32_t logical = 0, mem_align, off_align;
	uint64_t size;
	int rc;

	if (fstat(disk->fd, &st) != 0) {
		return -errno;
	}
	if (S_ISBLK(st.st_mode)) {
		disk->is_blockdev = true;
		if (ioctl(disk->fd, BLKSSZGET, &logical) != 0) {
			return -errno;
		}
	} else if (!S_ISREG(st.st_mode)) {
		LOG_ERR("%s: %s is neither a regular file nor a block device", disk->bdev.name,
			disk->filename);
		return -EINVAL;
	}
	if (block_size != 0 && !valid_block_size(block_size)) {
		LOG_ERR("%s: block size %u is not a power of two of at least 512",
			disk->bdev.name, block_size);
		return -EINVAL;
	}
	if (disk->nowait && !disk->is_blockdev) {
		LOG_ERR("%s: nowait needs a block device; %s is a file", disk->bdev.name,
			disk->filename);
		return -EINVAL;
	}
	query_dio_align(disk->fd, &mem_align, &off_align);
	if (disk->is_blockdev) {
		if (block_size != 0 && block_size < logical) {
			LOG_ERR("%s: block size %u is smaller than %s's logical block size %u",
				disk->bdev.name, block_size, disk->filename, logical);
			return -EINVAL;
		}
		disk->bdev.blocklen = block_size != 0 ? block_size : logical;
	} else {
		uint32_t dflt = 512;

		if (disk->direct && valid_block_size(off_align) && off_align > dflt) {
			dflt = off_align;
		}
		disk->bdev.blocklen = block_size != 0 ? block_size : dflt;
		if (disk->direct && off_align > disk->bdev.blocklen) {
			LOG_NOTICE("%s: %u-byte blocks are below the %u-byte direct I/O alignment "
				   "of %s; using buffered I/O", disk->bdev.name,
				   disk->bdev.blocklen, off_align, disk->filename);
			close(disk->fd);
			disk->fd = -1;
			rc = open_file(disk, false);
			if (rc != 0) {
				return rc;
			}
		}
	}
	rc = query_size(disk->fd, disk->is_blockdev, &size);
	if (rc != 0) {
		return rc;
	}
	disk->bdev.blockcnt = size / disk->bdev.blocklen;
	if (disk->bdev.blockcnt == 0) {
		LOG_ERR("%s: %s is smaller than one %u-byte block", disk->bdev.name,
			disk->filename, disk->bdev.blocklen);
		return -EINVAL;
	}
	if (disk->direct) {
		disk->bdev.required_alignment = mem_align > 1 ? mem_align : disk->bdev.blocklen;
	}
	return 0;
}

/* ---- create, delete, rescan ---------------------------------------------------- */

int
file_disk_create(const struct file_opts *opts_in, bool uring, struct bdev **bdev_out)
{
	struct file_opts o;
	struct file_disk *disk;
	int rc;

	file_opts_init(&o, sizeof(o));
	memcpy(&o, opts_in, opts_in->size < sizeof(o) ? opts_in->size : sizeof(o));
	if (o.name == NULL || o.name[0] == '\0' || o.filename == NULL || o.filename[0] == '\0') {
		return -EINVAL;
	}
	if (uring && !file_uring_available()) {
		LOG_ERR("%s: io_uring is not available", o.name);
		return -ENOTSUP;
	}
	disk = calloc(1, sizeof(*disk));
	if (disk == NULL) {
		return -ENOMEM;
	}
	disk->fd = -1;
	disk->bdev.name = strdup(o.name);
	disk->filename = strdup(o.filename);
	if (disk->bdev.name == NULL || disk->filename == NULL) {
		file_disk_free(disk);
		return -ENOMEM;
	}
	disk->uring_module = uring;
	disk->engine = file_uring_available() ? FILE_ENGINE_URING : FILE_ENGINE_AIO;
	disk->block_size_override = o.block_size;
	disk->readonly = o.readonly;
	disk->fallocate = o.fallocate;
	disk->nowait = o.nowait;

	rc = open_file(disk, true);
	if (rc == 0) {
		rc = size_disk(disk, o.block_size);
	}
	if (rc != 0) {
		file_disk_free(disk);
		return rc;
	}
	disk->bdev.product_name = uring ? "URING bdev" : "AIO disk";
	/* The kernel moves at most ~2 GiB per call and takes at most IOV_MAX
	 * iovecs: have the layer split beyond that instead of failing short. */
	disk->bdev.max_transfer_blocks = FILE_MAX_TRANSFER / disk->bdev.blocklen;
	disk->bdev.max_segment_count = IOV_MAX;
	disk->bdev.phys_blocklen = 0;
	disk->bdev.uuid = o.uuid;
	disk->bdev.write_cache = true;
	disk->bdev.ctxt = disk;
	disk->bdev.fn_table = &g_file_fn_table;
	disk->bdev.module = uring ? &g_uring_module : &g_aio_module;

	rc = bdev_register(&disk->bdev);
	if (rc != 0) {
		LOG_ERR("%s: cannot register: %s", disk->bdev.name, strerror(-rc));
		file_disk_free(disk);
		return rc;
	}
	LOG_NOTICE("%s: %s, %lu blocks of %u bytes, %s, %s%s%s", disk->bdev.name,
		   disk->filename, (unsigned long)disk->bdev.blockcnt, disk->bdev.blocklen,
		   disk->engine == FILE_ENGINE_URING ? "io_uring" : "libaio",
		   disk->direct ? "O_DIRECT" : "buffered", disk->readonly ? ", read-only" : "",
		   disk->fallocate ? ", fallocate" : "");
	if (bdev_out != NULL) {
		*bdev_out = &disk->bdev;
	}
	return 0;
}

static struct bdev *
find_disk(const char *name, bool uring)
{
	struct bdev *bdev = bdev_get_by_name(name);

	if (bdev == NULL || bdev->module != (uring ? &g_uring_module : &g_aio_module)) {
		return NULL;
	}
	return bdev;
}

int
file_disk_delete(const char *name, bool uring, void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	return bdev_unregister_by_name(name, uring ? &g_uring_module : &g_aio_module, cb, cb_arg);
}

int
file_disk_rescan(const char *name, bool uring)
{
	struct bdev *bdev = find_disk(name, uring);
	struct file_disk *disk;
	uint64_t size, blockcnt;
	int rc;

	if (bdev == NULL) {
		return -ENODEV;
	}
	disk = bdev->ctxt;
	rc = query_size(disk->fd, disk->is_blockdev, &size);
	if (rc != 0) {
		LOG_ERR("%s: cannot read the size of %s: %s", disk->bdev.name, disk->filename,
			strerror(-rc));
		return rc;
	}
	blockcnt = size / disk->bdev.blocklen;
	if (blockcnt == bdev_get_num_blocks(bdev)) {
		return 0;
	}
	LOG_NOTICE("%s: %s changed size: %lu -> %lu blocks", disk->bdev.name, disk->filename,
		   (unsigned long)bdev_get_num_blocks(bdev), (unsigned long)blockcnt);
	rc = bdev_notify_blockcnt_change(bdev, blockcnt);
	if (rc != 0) {
		LOG_ERR("%s: the layer refused the new size: %s", disk->bdev.name, strerror(-rc));
	}
	return rc;
}

/* ---- the two modules ------------------------------------------------------------ */

static int
file_module_init(void)
{
	file_engines_init();
	return 0;
}

static void
file_module_fini(void)
{
	file_engines_fini();
}

static size_t
file_get_ctx_size(void)
{
	return sizeof(struct file_io);
}

struct bdev_module g_aio_module = {
	.name = "aio",
	.module_init = file_module_init,
	.module_fini = file_module_fini,
	.get_ctx_size = file_get_ctx_size,
};
BDEV_MODULE_REGISTER(aio, &g_aio_module)

struct bdev_module g_uring_module = {
	.name = "uring",
	.module_init = file_module_init,
	.module_fini = file_module_fini,
	.get_ctx_size = file_get_ctx_size,
};
BDEV_MODULE_REGISTER(uring, &g_uring_module)
