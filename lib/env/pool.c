/*
 * lib/env/pool.c: fixed-size object pools with per-core caches.
 *
 * Invariants:
 *  - Every element is in exactly one place: the shared ring, one core's
 *    cache, or the hands of a caller.
 *  - A core's cache is touched only by the EAL thread of that core, so it
 *    needs no synchronisation; only the shared MP/MC ring is lock-free
 *    shared state.
 *  - Threads that are not EAL cores (unit tests, the EAL's own helper
 *    threads) go straight to the ring.
 *
 * Elements live in one anonymous mapping made at creation: ordinary
 * memory, never hugepages, since no device DMAs into pool elements
 * (request descriptors, messages); DMA buffers come from env_dma_malloc.
 * Caches trade a little memory (at most cache_size elements parked per
 * core) for not touching the shared ring on every get/put; the refill
 * and flush move half a cache at a time so that a core alternating get
 * and put at the boundary does not bounce on the ring.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_lcore.h>

#include "lvstor/env.h"
#include "lvstor/util.h"

struct pool_cache {
	size_t count;
	void *objs[];
};

struct env_pool {
	struct env_ring *ring;
	void *mem;
	size_t mem_len;
	size_t count;
	size_t elt_size;
	size_t cache_size;
	struct pool_cache *caches[ENV_MAX_CORES];
	char name[32];
};

struct env_pool *
env_pool_create(const char *name, size_t count, size_t elt_size, size_t cache_size)
{
	struct env_pool *pool;
	size_t i;

	if (count == 0 || elt_size == 0)
		return NULL;
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return NULL;
	strlcpy_lv(pool->name, name ? name : "pool", sizeof(pool->name));
	pool->count = count;
	pool->elt_size = ALIGN_UP(elt_size, 8);
	/* A cache bigger than the pool would hide elements from other cores. */
	pool->cache_size = cache_size > count / 4 ? count / 4 : cache_size;
	pool->mem_len = ALIGN_UP(pool->elt_size * count, 4096);
	pool->mem = mmap(NULL, pool->mem_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool->mem == MAP_FAILED)
		goto err;
	pool->ring = env_ring_create(ENV_RING_MP_MC, count);
	if (pool->ring == NULL)
		goto err_unmap;
	for (i = 0; i < count; i++) {
		void *obj = (char *)pool->mem + i * pool->elt_size;

		env_ring_enqueue(pool->ring, &obj, 1);
	}
	return pool;
err_unmap:
	munmap(pool->mem, pool->mem_len);
err:
	free(pool);
	return NULL;
}

/* This core's cache, made on first use; NULL off an EAL core. */
static struct pool_cache *
core_cache(struct env_pool *pool)
{
	unsigned core = rte_lcore_id();
	struct pool_cache *cache;

	if (pool->cache_size == 0 || core >= ENV_MAX_CORES)
		return NULL;
	cache = pool->caches[core];
	if (cache == NULL) {
		cache = calloc(1, sizeof(*cache) + pool->cache_size * sizeof(void *));
		pool->caches[core] = cache;
	}
	return cache;
}

void *
env_pool_get(struct env_pool *pool)
{
	struct pool_cache *cache = core_cache(pool);
	void *obj;

	if (cache == NULL)
		return env_ring_dequeue(pool->ring, &obj, 1) == 1 ? obj : NULL;
	if (cache->count == 0) {
		cache->count = env_ring_dequeue(pool->ring, cache->objs,
						(pool->cache_size + 1) / 2);
		if (cache->count == 0)
			return NULL;
	}
	return cache->objs[--cache->count];
}

void
env_pool_put(struct env_pool *pool, void *obj)
{
	struct pool_cache *cache = core_cache(pool);

	if (cache == NULL) {
		env_ring_enqueue(pool->ring, &obj, 1);
		return;
	}
	if (cache->count == pool->cache_size) {
		/* At least one, or a cache of 1 would never drain (and overflow). */
		size_t half = (pool->cache_size + 1) / 2;

		cache->count -= env_ring_enqueue(pool->ring, cache->objs + cache->count - half,
						 half);
	}
	if (cache->count == pool->cache_size) {
		/* The ring took nothing (cannot happen while elements are only ours). */
		env_ring_enqueue(pool->ring, &obj, 1);
		return;
	}
	cache->objs[cache->count++] = obj;
}

size_t
env_pool_count(const struct env_pool *pool)
{
	size_t n = env_ring_count(pool->ring);

	for (size_t i = 0; i < ENV_MAX_CORES; i++) {
		if (pool->caches[i])
			n += pool->caches[i]->count;
	}
	return n;
}

void
env_pool_free(struct env_pool *pool)
{
	if (pool == NULL)
		return;
	for (size_t i = 0; i < ENV_MAX_CORES; i++)
		free(pool->caches[i]);
	env_ring_free(pool->ring);
	munmap(pool->mem, pool->mem_len);
	free(pool);
}
