/*
 * module/bdev/malloc: RAM-backed bdevs ("Malloc disk").
 *
 * A malloc bdev is one anonymous private mapping of num_blocks *
 * block_size bytes. It is ordinary process memory, not DPDK's heap: no
 * device DMAs into it, so it needs no hugepages and a 1 GiB disk works
 * with no -s option (DESIGN.md, "Memory"). The kernel hands out zero
 * pages, and only the pages a write touches take real memory, so a fresh
 * disk reads as zeroes and costs nothing until used. The mapping is made
 * without MAP_NORESERVE on purpose: with the default overcommit policy the
 * kernel then refuses a disk larger than RAM + swap at creation
 * (-ENOMEM, which the RPC reports) instead of letting a later write kill
 * the daemon.
 *
 * Every I/O completes inside submit_request: reads and writes are memcpy
 * between the iovecs and the mapping, unmap and write_zeroes write zeroes,
 * compare is memcmp, flush and reset have nothing to do. The layer defers
 * the user's callback, so completing inline keeps the threading contract
 * (no callback before the submit function returns). Nothing is ever in
 * flight, so unregistering with I/O "in flight" needs no draining: destruct
 * runs after the layer has finished with every bdev_io, and only unmaps.
 *
 * Zeroing large ranges uses madvise(MADV_DONTNEED) on the whole pages in
 * the range: for a private anonymous mapping the next access sees a fresh
 * zero page, which is exactly "reads return zeroes", and the memory goes
 * back to the system (an lvol store's unmap on a malloc base thins it).
 * It is a system call and a TLB shootdown on the other reactor cores, so
 * it is only worth it for big ranges; below MALLOC_DONTNEED_MIN, and for
 * the partial pages at either end, plain memset is cheaper.
 *
 * Invariants:
 *  - disk->buf maps exactly disk->len = blockcnt * blocklen bytes, from
 *    creation until destruct; the layer never passes an out-of-range
 *    offset (it checks ranges before submit_request).
 *  - All malloc bdevs share one io_device, whose channels hold nothing:
 *    the module keeps no per-thread state.
 *
 * Metadata (md_size) and protection information (dif_type) are accepted
 * by the RPC but not implemented: a non-zero value is refused with
 * -EINVAL and a log line saying so. That check and the geometry's are the
 * null module's too, and live in module/bdev/common/create_geometry.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lvstor/bdev_module.h"
#include "lvstor/log.h"
#include "lvstor/util.h"

#include "../common/create_geometry.h"
#include "bdev_malloc.h"

/*
 * Smallest zeroed range (bytes) worth a madvise() instead of memset: about
 * where a memset of the range costs as much as the system call plus the
 * cross-core TLB flush (~20-40 us).
 */
#define MALLOC_DONTNEED_MIN (1024u * 1024u)

struct malloc_disk {
	struct bdev bdev;
	uint8_t *buf;
	size_t len;
	/* Recorded for write_config_json (not otherwise used). */
	uint32_t md_size;
	int32_t dif_type;
	bool dif_is_head_of_md;
	uint32_t dif_pi_format;
	int32_t numa_id;
};

/* The io_device all malloc bdevs share (its channels carry no state). */
static int g_malloc_io_device;
/* Next N tried for an automatic "MallocN" name. */
static unsigned int g_malloc_next_index;
static uintptr_t g_page_size = 4096;	/* set from sysconf at module init */

void
malloc_opts_init(struct malloc_opts *opts, size_t size)
{
	struct malloc_opts defaults = {
		.size = sizeof(defaults),
		.numa_id = -1,
	};

	memset(opts, 0, size);
	memcpy(opts, &defaults, size < sizeof(defaults) ? size : sizeof(defaults));
	opts->size = size;
}

/* ---- I/O ------------------------------------------------------------------ */

/*
 * Copies len bytes between the iovecs and dev (to_dev: a write). Returns
 * false if the iovecs hold fewer than len bytes (the layer never does
 * that, but a short copy must not pass for success).
 */
static bool
copy_iovs(struct iovec *iovs, int iovcnt, uint8_t *dev, size_t len, bool to_dev)
{
	int i;

	for (i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iovs[i].iov_len < len ? iovs[i].iov_len : len;

		if (to_dev) {
			memcpy(dev, iovs[i].iov_base, n);
		} else {
			memcpy(iovs[i].iov_base, dev, n);
		}
		dev += n;
		len -= n;
	}
	return len == 0;
}

static enum bdev_io_status
compare_iovs(struct iovec *iovs, int iovcnt, const uint8_t *dev, size_t len)
{
	int i;

	for (i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iovs[i].iov_len < len ? iovs[i].iov_len : len;

		if (memcmp(iovs[i].iov_base, dev, n) != 0) {
			return BDEV_IO_STATUS_MISCOMPARE;
		}
		dev += n;
		len -= n;
	}
	return len == 0 ? BDEV_IO_STATUS_SUCCESS : BDEV_IO_STATUS_FAILED;
}

static void
zero_range(uint8_t *start, size_t len)
{
	uintptr_t page = g_page_size;
	uintptr_t lo = ((uintptr_t)start + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)start + len) & ~(page - 1);

	if (len >= MALLOC_DONTNEED_MIN && hi > lo &&
	    madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0) {
		memset(start, 0, lo - (uintptr_t)start);
		memset((void *)hi, 0, (uintptr_t)start + len - hi);
		return;
	}
	memset(start, 0, len);
}

static void
malloc_read_with_buf(struct io_channel *ch, struct bdev_io *io, bool success)
{
	struct malloc_disk *disk = io->bdev->ctxt;
	size_t off = io->u.offset_blocks * disk->bdev.blocklen;
	size_t len = io->u.num_blocks * disk->bdev.blocklen;

	if (!success) {
		bdev_io_complete(io, BDEV_IO_STATUS_NOMEM);
		return;
	}
	bdev_io_complete(io, copy_iovs(io->u.iovs, io->u.iovcnt, disk->buf + off, len, false) ?
			 BDEV_IO_STATUS_SUCCESS : BDEV_IO_STATUS_FAILED);
}

static void
malloc_submit_request(struct io_channel *ch, struct bdev_io *io)
{
	struct malloc_disk *disk = io->bdev->ctxt;
	size_t off = io->u.offset_blocks * disk->bdev.blocklen;
	size_t len = io->u.num_blocks * disk->bdev.blocklen;
	enum bdev_io_status status = BDEV_IO_STATUS_SUCCESS;

	switch (io->type) {
	case BDEV_IO_TYPE_READ:
		if (io->u.iovcnt > 0 && io->u.iovs[0].iov_base == NULL) {
			bdev_io_get_buf(io, malloc_read_with_buf, len);
			return;
		}
		if (!copy_iovs(io->u.iovs, io->u.iovcnt, disk->buf + off, len, false)) {
			status = BDEV_IO_STATUS_FAILED;
		}
		break;
	case BDEV_IO_TYPE_WRITE:
		if (!copy_iovs(io->u.iovs, io->u.iovcnt, disk->buf + off, len, true)) {
			status = BDEV_IO_STATUS_FAILED;
		}
		break;
	case BDEV_IO_TYPE_UNMAP:
	case BDEV_IO_TYPE_WRITE_ZEROES:
		zero_range(disk->buf + off, len);
		break;
	case BDEV_IO_TYPE_COMPARE:
		status = compare_iovs(io->u.iovs, io->u.iovcnt, disk->buf + off, len);
		break;
	case BDEV_IO_TYPE_FLUSH:
	case BDEV_IO_TYPE_RESET:
		break;
	default:
		status = BDEV_IO_STATUS_FAILED;
		break;
	}
	bdev_io_complete(io, status);
}

static bool
malloc_io_type_supported(void *ctx, enum bdev_io_type type)
{
	switch (type) {
	case BDEV_IO_TYPE_READ:
	case BDEV_IO_TYPE_WRITE:
	case BDEV_IO_TYPE_UNMAP:
	case BDEV_IO_TYPE_FLUSH:
	case BDEV_IO_TYPE_RESET:
	case BDEV_IO_TYPE_WRITE_ZEROES:
	case BDEV_IO_TYPE_COMPARE:
		return true;
	default:
		return false;
	}
}

static struct io_channel *
malloc_get_io_channel(void *ctx)
{
	return io_channel_get(&g_malloc_io_device);
}

/* ---- life cycle ----------------------------------------------------------- */

static void
malloc_disk_free(struct malloc_disk *disk)
{
	if (disk->buf != NULL) {
		munmap(disk->buf, disk->len);
	}
	free(disk->bdev.name);
	free(disk);
}

static int
malloc_destruct(void *ctx)
{
	malloc_disk_free(ctx);
	return 0;
}

static void
malloc_write_config_json(struct bdev *bdev, json_t *config)
{
	struct malloc_disk *disk = bdev->ctxt;
	char uuid[UUID_STRING_LEN];
	json_t *params;

	uuid_fmt_lower(uuid, sizeof(uuid), bdev_get_uuid(bdev));
	params = json_pack("{s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:b, s:I, s:I}",
			   "name", bdev_get_name(bdev),
			   "num_blocks", (json_int_t)bdev_get_num_blocks(bdev),
			   "block_size", (json_int_t)bdev_get_block_size(bdev),
			   "physical_block_size", (json_int_t)bdev_get_physical_block_size(bdev),
			   "uuid", uuid,
			   "optimal_io_boundary", (json_int_t)bdev_get_optimal_io_boundary(bdev),
			   "md_size", (json_int_t)disk->md_size,
			   "dif_type", (json_int_t)disk->dif_type,
			   "dif_is_head_of_md", (int)disk->dif_is_head_of_md,
			   "dif_pi_format", (json_int_t)disk->dif_pi_format,
			   "numa_id", (json_int_t)disk->numa_id);
	if (params != NULL) {
		json_array_append_new(config, json_pack("{s:s, s:o}", "method",
							"bdev_malloc_create", "params", params));
	}
}

static const struct bdev_fn_table g_malloc_fn_table = {
	.destruct = malloc_destruct,
	.submit_request = malloc_submit_request,
	.io_type_supported = malloc_io_type_supported,
	.get_io_channel = malloc_get_io_channel,
	.dump_info_json = NULL,	/* driver_specific stays {} (spec §2.2.1) */
	.write_config_json = malloc_write_config_json,
};

static bool
numa_node_exists(int32_t id)
{
	char path[64];

	if (id == -1) {
		return true;
	}
	if (id < 0) {
		return false;
	}
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", (int)id);
	return access(path, F_OK) == 0;
}

static int
check_opts(const struct malloc_opts *o)
{
	const struct bdev_create_geometry g = {
		.num_blocks = o->num_blocks, .block_size = o->block_size,
		.physical_block_size = o->physical_block_size, .md_size = o->md_size,
		.dif_type = o->dif_type, .dif_pi_format = o->dif_pi_format,
	};
	int rc = bdev_create_geometry_check("malloc", &g);

	if (rc != 0) {
		return rc;
	}
	if (!numa_node_exists(o->numa_id)) {
		LOG_ERR("malloc: NUMA node %d does not exist", (int)o->numa_id);
		return -EINVAL;
	}
	if (o->num_blocks > SIZE_MAX / o->block_size) {
		LOG_ERR("malloc: %lu blocks of %u bytes do not fit the address space",
			(unsigned long)o->num_blocks, o->block_size);
		return -ENOMEM;
	}
	return 0;
}

/* The first "MallocN" from the running counter that no bdev uses. */
static char *
next_auto_name(void)
{
	for (;;) {
		char *name = strdup_printf("Malloc%u", g_malloc_next_index++);

		if (name == NULL || bdev_get_by_name(name) == NULL) {
			return name;
		}
		free(name);
	}
}

int
malloc_disk_create(const struct malloc_opts *opts_in, struct bdev **bdev_out)
{
	struct malloc_opts o;
	struct malloc_disk *disk;
	void *buf;
	int rc;

	malloc_opts_init(&o, sizeof(o));
	memcpy(&o, opts_in, opts_in->size < sizeof(o) ? opts_in->size : sizeof(o));
	rc = check_opts(&o);
	if (rc != 0) {
		return rc;
	}
	disk = calloc(1, sizeof(*disk));
	if (disk == NULL) {
		return -ENOMEM;
	}
	disk->len = (size_t)o.num_blocks * o.block_size;
	buf = mmap(NULL, disk->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		LOG_ERR("malloc: cannot map %zu bytes: %s", disk->len, strerror(errno));
		free(disk);
		return -ENOMEM;
	}
	disk->buf = buf;
	disk->bdev.name = o.name != NULL ? strdup(o.name) : next_auto_name();
	if (disk->bdev.name == NULL) {
		malloc_disk_free(disk);
		return -ENOMEM;
	}
	disk->md_size = o.md_size;
	disk->dif_type = o.dif_type;
	disk->dif_is_head_of_md = o.dif_is_head_of_md;
	disk->dif_pi_format = o.dif_pi_format;
	disk->numa_id = o.numa_id;

	disk->bdev.product_name = "Malloc disk";
	disk->bdev.blocklen = o.block_size;
	disk->bdev.phys_blocklen = o.physical_block_size;
	disk->bdev.blockcnt = o.num_blocks;
	disk->bdev.uuid = o.uuid;
	disk->bdev.optimal_io_boundary = o.optimal_io_boundary;
	disk->bdev.split_on_optimal_io_boundary = o.optimal_io_boundary != 0;
	disk->bdev.write_cache = false;
	/* "Any node" (-1) is mapped wherever the kernel puts it: reported as 0,
	 * right on one-node hosts and what the spec's example shows. */
	disk->bdev.numa_id = o.numa_id >= 0 ? o.numa_id : 0;
	disk->bdev.ctxt = disk;
	disk->bdev.fn_table = &g_malloc_fn_table;
	disk->bdev.module = &g_malloc_module;

	rc = bdev_register(&disk->bdev);
	if (rc != 0) {
		LOG_ERR("malloc: cannot register %s: %s", disk->bdev.name, strerror(-rc));
		malloc_disk_free(disk);
		return rc;
	}
	if (bdev_out != NULL) {
		*bdev_out = &disk->bdev;
	}
	return 0;
}

int
malloc_disk_delete(const char *name, void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	return bdev_unregister_by_name(name, &g_malloc_module, cb, cb_arg);
}

/* ---- module --------------------------------------------------------------- */

static int
malloc_module_init(void)
{
	long page = sysconf(_SC_PAGESIZE);

	if (page > 0) {
		g_page_size = (uintptr_t)page;
	}
	io_device_register(&g_malloc_io_device, NULL, NULL, 0, "bdev_malloc");
	return 0;
}

static void
malloc_module_fini(void)
{
	io_device_unregister(&g_malloc_io_device, NULL);
}

struct bdev_module g_malloc_module = {
	.name = "malloc",
	.module_init = malloc_module_init,
	.module_fini = malloc_module_fini,
};
BDEV_MODULE_REGISTER(malloc, &g_malloc_module)
