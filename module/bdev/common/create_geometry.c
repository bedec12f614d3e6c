/*
 * module/bdev/common/create_geometry.c: the check of the geometry and
 * metadata parameters of bdev_malloc_create and bdev_null_create.
 *
 * The two methods take the same keys with the same rules, and a user who
 * gets one wrong should read the same sentence from either: so the rules
 * and their log lines live here once, and each module adds only what is
 * its own (null's required name before, malloc's NUMA node and address
 * space after). The checks run in a fixed order and stop at the first
 * failure, so exactly one line is logged per refused create.
 *
 * Metadata (md_size) and protection information (dif_type) are accepted
 * by the RPCs for compatibility but not implemented: a non-zero value is
 * refused here rather than silently ignored, since a caller that asked
 * for them expects them to be kept.
 */
#include <errno.h>

#include "lvstor/log.h"

#include "create_geometry.h"

int
bdev_create_geometry_check(const char *module, const struct bdev_create_geometry *g)
{
	if (g->num_blocks == 0) {
		LOG_ERR("%s: num_blocks must be greater than 0", module);
		return -EINVAL;
	}
	if (g->block_size < 512 || (g->block_size & (g->block_size - 1)) != 0) {
		LOG_ERR("%s: block_size %u is not a power of two of at least 512", module,
			g->block_size);
		return -EINVAL;
	}
	if (g->physical_block_size % 512 != 0) {
		LOG_ERR("%s: physical_block_size %u is not a multiple of 512", module,
			g->physical_block_size);
		return -EINVAL;
	}
	if (g->md_size != 0 || g->dif_type != 0) {
		LOG_ERR("%s: metadata is not supported (md_size %u, dif_type %d): "
			"create the bdev without md_size/dif_type", module, g->md_size,
			(int)g->dif_type);
		return -EINVAL;
	}
	if (g->dif_pi_format > 2) {
		LOG_ERR("%s: dif_pi_format %u is not 0, 1 or 2", module, g->dif_pi_format);
		return -EINVAL;
	}
	return 0;
}
