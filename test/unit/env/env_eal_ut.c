/*
 * Unit tests for lib/env with the EAL up. rte_eal_init() can run only
 * once per process, so the tests run in order: the bad masks (rejected
 * before the EAL is touched), then one env_init(), then everything that
 * needs the EAL, then env_fini().
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/util.h"

static int
init_opts(struct env_opts *opts, const char *mask)
{
	env_opts_init(opts, sizeof(*opts));
	opts->name = "env_eal_ut";
	opts->core_mask = mask;
	return 0;
}

static void
test_bad_masks(void **state)
{
	static const char *const bad[] = {"0xzz", "", "0x0", "[1-0]", "[0,]", "zz"};
	struct env_opts opts;
	char mask[32];

	for (size_t i = 0; i < COUNTOF(bad); i++) {
		init_opts(&opts, bad[i]);
		if (env_init(&opts) != -EINVAL)
			fail_msg("env_init(core_mask \"%s\") did not fail", bad[i]);
		assert_false(env_is_initialized());
	}
	/* Cores that this host does not have (it has fewer than 64). */
	assert_true(sysconf(_SC_NPROCESSORS_CONF) < 64);
	init_opts(&opts, "[64]");
	assert_int_equal(env_init(&opts), -EINVAL);
	snprintf(mask, sizeof(mask), "[0,%ld]", sysconf(_SC_NPROCESSORS_CONF));
	init_opts(&opts, mask);
	assert_int_equal(env_init(&opts), -EINVAL);
	/* Beyond ENV_MAX_CORES and beyond CPUSET_MAX_CPUS. */
	init_opts(&opts, "[200]");
	assert_int_equal(env_init(&opts), -EINVAL);
	init_opts(&opts, "[5000]");
	assert_int_equal(env_init(&opts), -EINVAL);
	/* A main core outside the mask. */
	init_opts(&opts, "0x1");
	opts.main_core = 1;
	assert_int_equal(env_init(&opts), -EINVAL);
	assert_false(env_is_initialized());
}

static void
test_init(void **state)
{
	struct env_opts opts;

	init_opts(&opts, "0x1");
	assert_int_equal(env_init(&opts), 0);
	assert_true(env_is_initialized());
	/* The host has no hugepages: env_init must have chosen --no-huge. */
	assert_true(env_no_huge());
	/* Only once. */
	assert_int_equal(env_init(&opts), -EALREADY);
	assert_true(env_is_initialized());
}

static void
test_cores(void **state)
{
	uint32_t core, n = 0;

	assert_int_equal(env_get_core_count(), 1);
	assert_int_equal(env_get_main_core(), 0);
	assert_int_equal(env_get_current_core(), 0);
	assert_int_equal(env_get_first_core(), 0);
	assert_int_equal(env_get_next_core(0), UINT32_MAX);
	ENV_FOREACH_CORE(core) {
		assert_int_equal(core, 0);
		n++;
	}
	assert_int_equal(n, 1);
	/* Not on the main core, not on a disabled core. */
	assert_int_equal(env_launch_on_core(0, NULL, NULL), -EINVAL);
	assert_int_equal(env_launch_on_core(1, NULL, NULL), -EINVAL);
	env_wait_cores();
}

static void *
current_core_thread(void *arg)
{
	*(uint32_t *)arg = env_get_current_core();
	return NULL;
}

static void
test_current_core_off_eal(void **state)
{
	pthread_t th;
	uint32_t core = 0;

	assert_int_equal(pthread_create(&th, NULL, current_core_thread, &core), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(core, UINT32_MAX);
}

static void
test_ticks(void **state)
{
	uint64_t hz = env_get_ticks_hz(), t0 = env_get_ticks();

	assert_true(hz > 100000000ull);
	env_delay_us(1000);
	assert_true(env_get_ticks() - t0 >= hz / 1000);
}

static void
test_dma(void **state)
{
	uint64_t iova = 0, len, stack_var = 1;
	uint8_t *buf, *z;
	void *heap;

	buf = env_dma_malloc(8192, 4096, &iova);
	assert_non_null(buf);
	assert_int_equal((uintptr_t)buf % 4096, 0);
	assert_true(iova != 0 && iova != ENV_VTOPHYS_ERROR);
	assert_int_equal(iova % 4096, 0);
	memset(buf, 0x5a, 8192);
	assert_true(env_vtophys(buf, NULL) == iova);
	assert_true(env_vtophys(buf + 100, NULL) == iova + 100);
	/* The contiguous length never grows past what was asked. */
	len = 10;
	assert_true(env_vtophys(buf, &len) == iova);
	assert_int_equal(len, 10);
	len = 8192;
	assert_true(env_vtophys(buf, &len) == iova);
	/* At least to the end of its (4 KiB or larger) page. */
	assert_true(len >= 4096 && len <= 8192);

	/* Memory the EAL does not know. */
	assert_true(env_vtophys(&stack_var, NULL) == ENV_VTOPHYS_ERROR);
	heap = malloc(64);
	assert_non_null(heap);
	assert_true(env_vtophys(heap, NULL) == ENV_VTOPHYS_ERROR);
	free(heap);

	z = env_dma_zmalloc(4096, 0, NULL);
	assert_non_null(z);
	assert_int_equal((uintptr_t)z % 64, 0);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(z[i], 0);
	assert_true(env_vtophys(z, NULL) != ENV_VTOPHYS_ERROR);
	env_dma_free(z);
	env_dma_free(buf);

	/* Several buffers with different alignments. */
	for (size_t align = 8; align <= 65536; align *= 8) {
		uint64_t io;
		void *b = env_dma_malloc(100, align, &io);

		assert_non_null(b);
		assert_int_equal((uintptr_t)b % align, 0);
		assert_true(env_vtophys(b, NULL) == io);
		env_dma_free(b);
	}
	assert_null(env_dma_malloc(100, 3, NULL));
	assert_null(env_dma_malloc(0, 64, NULL));
}

struct drain_arg {
	struct env_pool *pool;
	size_t got;
	void *objs[128];
};

/* A thread that is not an EAL core: takes what it can from the shared ring. */
static void *
drain_thread(void *arg)
{
	struct drain_arg *d = arg;
	void *obj;

	while (d->got < COUNTOF(d->objs) && (obj = env_pool_get(d->pool)) != NULL)
		d->objs[d->got++] = obj;
	for (size_t i = 0; i < d->got; i++)
		env_pool_put(d->pool, d->objs[i]);
	return NULL;
}

static size_t
drain_from_other_thread(struct env_pool *pool)
{
	struct drain_arg d = { .pool = pool };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, drain_thread, &d), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	return d.got;
}

static void
check_pool_on_main_core(size_t count, size_t cache)
{
	struct env_pool *pool = env_pool_create("ut_eal_pool", count, 64, cache);
	size_t eff_cache = cache > count / 4 ? count / 4 : cache;
	void *objs[128];

	assert_true(count <= COUNTOF(objs));
	assert_non_null(pool);
	assert_int_equal(env_get_current_core(), 0);
	assert_int_equal(env_pool_count(pool), count);

	/* Get everything on the main core: the count follows every step. */
	for (size_t i = 0; i < count; i++) {
		objs[i] = env_pool_get(pool);
		assert_non_null(objs[i]);
		memset(objs[i], 0x11, 64);
		assert_int_equal(env_pool_count(pool), count - i - 1);
	}
	assert_null(env_pool_get(pool));
	assert_int_equal(env_pool_count(pool), 0);
	for (size_t i = 0; i < count; i++) {
		for (size_t j = i + 1; j < count; j++)
			assert_ptr_not_equal(objs[i], objs[j]);
	}

	/* Put one back: it comes straight back from the core's cache. */
	if (eff_cache > 0) {
		env_pool_put(pool, objs[0]);
		assert_int_equal(env_pool_count(pool), 1);
		assert_ptr_equal(env_pool_get(pool), objs[0]);
		assert_int_equal(env_pool_count(pool), 0);
	}

	/* Put everything back. */
	for (size_t i = 0; i < count; i++) {
		env_pool_put(pool, objs[i]);
		assert_int_equal(env_pool_count(pool), i + 1);
	}
	assert_int_equal(env_pool_count(pool), count);

	/*
	 * The cache parks at most cache_size elements on this core; everything
	 * else is in the shared ring where other threads can get it.
	 */
	{
		size_t got = drain_from_other_thread(pool);

		if (got < count - eff_cache)
			fail_msg("pool %zu/cache %zu: other thread got %zu, want >= %zu",
				 count, cache, got, count - eff_cache);
		/* ... and with a cache some are parked on this core, proving it is used. */
		if (eff_cache > 0)
			assert_true(got < count);
		else
			assert_int_equal(got, count);
	}
	assert_int_equal(env_pool_count(pool), count);

	/* And the main core can still get every element. */
	for (size_t i = 0; i < count; i++) {
		objs[i] = env_pool_get(pool);
		assert_non_null(objs[i]);
	}
	assert_null(env_pool_get(pool));
	for (size_t i = 0; i < count; i++)
		env_pool_put(pool, objs[i]);
	assert_int_equal(env_pool_count(pool), count);
	env_pool_free(pool);
}

static void
test_pool_cache(void **state)
{
	check_pool_on_main_core(100, ENV_POOL_DEFAULT_CACHE);
	check_pool_on_main_core(128, 16);
	check_pool_on_main_core(8, 1);
	check_pool_on_main_core(12, 3);
	check_pool_on_main_core(16, 2);
	check_pool_on_main_core(3, 64);
	check_pool_on_main_core(100, 0);
}

static void
test_ring_with_eal(void **state)
{
	struct env_ring *ring = env_ring_create(ENV_RING_MP_SC, 5);
	void *objs[6] = {(void *)1, (void *)2, (void *)3, (void *)4, (void *)5, (void *)6};
	void *out[6];

	assert_non_null(ring);
	assert_int_equal(env_ring_enqueue(ring, objs, 6), 5);
	assert_int_equal(env_ring_count(ring), 5);
	assert_int_equal(env_ring_dequeue(ring, out, 6), 5);
	assert_memory_equal(out, objs, 5 * sizeof(void *));
	env_ring_free(ring);
}

static void
test_fini(void **state)
{
	env_fini();
	assert_false(env_is_initialized());
	assert_int_equal(env_get_core_count(), 1);
	/* Twice is harmless. */
	env_fini();
	assert_false(env_is_initialized());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_masks),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_cores),
		cmocka_unit_test(test_current_core_off_eal),
		cmocka_unit_test(test_ticks),
		cmocka_unit_test(test_dma),
		cmocka_unit_test(test_pool_cache),
		cmocka_unit_test(test_ring_with_eal),
		cmocka_unit_test(test_fini),
	};

	/* env_init's error lines are expected here; keep them off the output. */
	log_set_level(LOG_LEVEL_DISABLED);
	log_set_print_level(LOG_LEVEL_DISABLED);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
