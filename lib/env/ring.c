/*
 * lib/env/ring.c: lock-free rings of pointers.
 *
 * These are DPDK rte_rings, but initialised on memory we allocate
 * ourselves (rte_ring_init) instead of from an EAL memzone, so they work
 * before env_init() (unit tests) and never need hugepages. RING_F_EXACT_SZ
 * makes the capacity exactly what the caller asked for.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ring.h>

#include "lvstor/env.h"

struct env_ring *
env_ring_create(enum env_ring_type type, size_t count)
{
	static atomic_uint g_ring_seq;
	unsigned int flags = RING_F_EXACT_SZ;
	struct rte_ring *r;
	ssize_t size;
	char name[RTE_RING_NAMESIZE];

	if (count == 0 || count > RTE_RING_SZ_MASK)
		return NULL;
	switch (type) {
	case ENV_RING_SP_SC:
		flags |= RING_F_SP_ENQ | RING_F_SC_DEQ;
		break;
	case ENV_RING_MP_SC:
		flags |= RING_F_SC_DEQ;
		break;
	case ENV_RING_MP_MC:
		break;
	default:
		return NULL;
	}
	/*
	 * With RING_F_EXACT_SZ the ring's slot array is the next power of two
	 * above count (one slot always stays empty), as rte_ring_create()
	 * computes it; sizing for `count` itself fails for any count that is
	 * not a power of two and is too small for one that is.
	 */
	size = rte_ring_get_memsize_elem(sizeof(void *), rte_align32pow2((uint32_t)count + 1));
	if (size < 0)
		return NULL;
	r = aligned_alloc(RTE_CACHE_LINE_SIZE, ((size_t)size + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE * RTE_CACHE_LINE_SIZE);
	if (r == NULL)
		return NULL;
	/* The name only matters for DPDK's ring list, which we do not use. */
	snprintf(name, sizeof(name), "lv_ring%u", atomic_fetch_add(&g_ring_seq, 1));
	if (rte_ring_init(r, name, (unsigned)count, flags) != 0) {
		free(r);
		return NULL;
	}
	return (struct env_ring *)r;
}

void
env_ring_free(struct env_ring *ring)
{
	free(ring);
}

size_t
env_ring_enqueue(struct env_ring *ring, void **objs, size_t count)
{
	return rte_ring_enqueue_burst((struct rte_ring *)ring, objs, (unsigned)count, NULL);
}

size_t
env_ring_dequeue(struct env_ring *ring, void **objs, size_t max)
{
	return rte_ring_dequeue_burst((struct rte_ring *)ring, objs, (unsigned)max, NULL);
}

size_t
env_ring_count(struct env_ring *ring)
{
	return rte_ring_count((struct rte_ring *)ring);
}
