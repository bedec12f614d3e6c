/*
 * lib/env: the one wrapper over DPDK's EAL.
 *
 * Nothing outside lib/env calls rte_* (lib/vhost's use of rte_vhost
 * excepted). Everything here that does not need the EAL (rings, pools,
 * ticks, ordinary buffers) also works before env_init(), so unit tests
 * and tools can use it without bringing up DPDK.
 */
#ifndef LVSTOR_ENV_H
#define LVSTOR_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENV_MAX_CORES 128

struct env_opts {
	size_t opts_size;        /* sizeof(struct env_opts) as the caller knows it */
	const char *name;        /* program name for the EAL */
	const char *core_mask;   /* "0x3", "[0,1]", "0-1"; NULL = core 0 */
	uint32_t main_core;      /* UINT32_MAX = lowest core of core_mask */
	uint64_t mem_size_mb;    /* DMA heap to reserve; 0 = EAL default */
	bool enable_pci;         /* PCI bus scanning (off unless asked) */
	bool force_no_huge;      /* use --no-huge even if hugepages exist */
};

/* Fills opts with defaults. `size` is sizeof(*opts) as the caller sees it. */
void env_opts_init(struct env_opts *opts, size_t size);

/*
 * Brings up the EAL on the cores of opts->core_mask. Adds --no-huge when the
 * host has no free hugepages (or force_no_huge), --no-shconf always, and
 * --no-pci unless enable_pci. Returns 0, or a negative errno with one log
 * line saying why (bad mask, EAL failure). Call once per process.
 */
int env_init(const struct env_opts *opts);

/* Tears the EAL down. Safe to call when env_init() was never called. */
void env_fini(void);

/* True between a successful env_init() and env_fini(). */
bool env_is_initialized(void);

/* True when the EAL runs without hugepages (set by env_init). */
bool env_no_huge(void);

/*
 * DMA-able memory: buffers a device reads or writes. From DPDK's heap when
 * the EAL is up, from ordinary page-aligned memory before that (tests).
 * `align` must be a power of two (0 = cache line). Returns NULL on failure.
 * If iova is non-NULL it receives the buffer's I/O virtual address.
 */
void *env_dma_malloc(size_t size, size_t align, uint64_t *iova);
void *env_dma_zmalloc(size_t size, size_t align, uint64_t *iova);
void env_dma_free(void *buf);

/*
 * I/O virtual address of `buf`. If size is non-NULL, on entry it is the
 * length the caller wants translated and on return the number of bytes that
 * are contiguous in IOVA space from buf (<= *size). Returns ENV_VTOPHYS_ERROR
 * for memory the EAL does not know.
 */
#define ENV_VTOPHYS_ERROR UINT64_MAX
uint64_t env_vtophys(const void *buf, uint64_t *size);

/* Timestamp counter (TSC) and its frequency. Work before env_init(). */
uint64_t env_get_ticks(void);
uint64_t env_get_ticks_hz(void);
void env_delay_us(uint32_t us);

/* Cores. Before env_init(): one core, 0. */
uint32_t env_get_core_count(void);           /* cores in the mask */
uint32_t env_get_main_core(void);
uint32_t env_get_current_core(void);         /* UINT32_MAX off an EAL core */
uint32_t env_get_first_core(void);
uint32_t env_get_next_core(uint32_t prev);   /* UINT32_MAX after the last */
#define ENV_FOREACH_CORE(i) \
	for (i = env_get_first_core(); i != UINT32_MAX; i = env_get_next_core(i))

/*
 * Runs fn(arg) on worker core `core` (not the main core) in its pinned OS
 * thread. Returns 0 or -EBUSY/-EINVAL. env_wait_cores() waits for every
 * launched function to return.
 */
int env_launch_on_core(uint32_t core, int (*fn)(void *), void *arg);
void env_wait_cores(void);

/*
 * Lock-free rings of pointers (DPDK rte_ring, set up on ordinary memory so
 * they work before env_init()). A ring holds exactly `count` objects.
 */
enum env_ring_type {
	ENV_RING_SP_SC,	/* one producer thread, one consumer thread */
	ENV_RING_MP_SC,	/* many producers, one consumer: thread message rings */
	ENV_RING_MP_MC,	/* many producers, many consumers: pools */
};
struct env_ring;

/* Creates a ring for at least `count` pointers. NULL on -ENOMEM/-EINVAL. */
struct env_ring *env_ring_create(enum env_ring_type type, size_t count);
void env_ring_free(struct env_ring *ring);
/* Enqueues up to `count` objects; returns how many were enqueued (all or as many as fit). */
size_t env_ring_enqueue(struct env_ring *ring, void **objs, size_t count);
/* Dequeues up to `max` objects into objs; returns how many. */
size_t env_ring_dequeue(struct env_ring *ring, void **objs, size_t max);
size_t env_ring_count(struct env_ring *ring);

/*
 * Object pools: `count` fixed-size elements allocated up front, handed out
 * without locks. Each EAL core has its own cache of up to `cache_size`
 * elements, so a get/put on a reactor touches only core-local memory in the
 * common case; threads that are not EAL cores use the shared ring directly.
 * Elements come from ordinary memory (not DMA-able). A NULL from
 * env_pool_get() means "empty for now": callers queue and retry, never fail
 * I/O because of it.
 */
struct env_pool;
#define ENV_POOL_DEFAULT_CACHE 64
struct env_pool *env_pool_create(const char *name, size_t count, size_t elt_size,
				 size_t cache_size);
void *env_pool_get(struct env_pool *pool);
void env_pool_put(struct env_pool *pool, void *obj);
/* Elements currently available (in the ring and in every core's cache). */
size_t env_pool_count(const struct env_pool *pool);
/* Frees the pool; every element must have been put back. */
void env_pool_free(struct env_pool *pool);

#endif
