/*
 * module/bdev/common: the create parameters that the RAM-like back ends
 * (bdev_malloc_create, bdev_null_create) share, and their one check.
 */
#ifndef LVSTOR_BDEV_CREATE_GEOMETRY_H
#define LVSTOR_BDEV_CREATE_GEOMETRY_H

#include <stdint.h>

/* Geometry and metadata as the create RPCs give them (spec/rpc.md §2.2.3, §2.2.5). */
struct bdev_create_geometry {
	uint64_t num_blocks;          /* > 0 */
	uint32_t block_size;          /* power of two, >= 512 */
	uint32_t physical_block_size; /* 0 = block_size; else a multiple of 512 */
	uint32_t md_size;             /* must be 0: metadata is not implemented */
	int32_t dif_type;             /* must be 0 */
	uint32_t dif_pi_format;       /* 0..2, recorded only */
};

/*
 * 0 if g is acceptable; else -EINVAL and one log line, prefixed
 * "<module>: ", naming the first bad parameter in the order above.
 */
int bdev_create_geometry_check(const char *module, const struct bdev_create_geometry *g);

#endif
