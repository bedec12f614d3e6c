/*
 * Unit tests for lib/env without the EAL: rings, pools, ticks and DMA
 * buffers before env_init(). env_eal_ut.c covers the EAL-up paths.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lvstor/env.h"
#include "lvstor/util.h"

static const enum env_ring_type g_types[] = {ENV_RING_SP_SC, ENV_RING_MP_SC, ENV_RING_MP_MC};

static void *
tag(uintptr_t v)
{
	return (void *)v;
}

static void
test_ring_create_bad(void **state)
{
	assert_null(env_ring_create(ENV_RING_SP_SC, 0));
	assert_null(env_ring_create((enum env_ring_type)42, 16));
	assert_null(env_ring_create(ENV_RING_MP_MC, SIZE_MAX));
	assert_null(env_ring_create(ENV_RING_MP_MC, (size_t)UINT32_MAX + 2));
	env_ring_free(NULL);
}

/* Fill a ring of `count` to the brim, check FIFO order and the exact capacity. */
static void
check_ring(enum env_ring_type type, size_t count)
{
	struct env_ring *ring = env_ring_create(type, count);
	void *objs[1100], *out[1100];
	size_t n;

	assert_true(count < COUNTOF(objs));
	if (ring == NULL)
		fail_msg("env_ring_create(type %d, count %zu) failed", type, count);
	assert_int_equal(env_ring_count(ring), 0);
	assert_int_equal(env_ring_dequeue(ring, out, 1), 0);
	for (size_t i = 0; i < COUNTOF(objs); i++)
		objs[i] = tag(i + 1);

	/* One at a time up to exactly `count`. */
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(env_ring_enqueue(ring, &objs[i], 1), 1);
		assert_int_equal(env_ring_count(ring), i + 1);
	}
	/* Full: nothing more fits. */
	assert_int_equal(env_ring_enqueue(ring, &objs[count], 1), 0);
	assert_int_equal(env_ring_count(ring), count);
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(env_ring_dequeue(ring, out, 1), 1);
		assert_ptr_equal(out[0], objs[i]);
	}
	assert_int_equal(env_ring_count(ring), 0);

	/* Bursts: asking for more than fits enqueues exactly `count`. */
	n = env_ring_enqueue(ring, objs, count + 5);
	assert_int_equal(n, count);
	assert_int_equal(env_ring_count(ring), count);
	n = env_ring_dequeue(ring, out, COUNTOF(out));
	assert_int_equal(n, count);
	for (size_t i = 0; i < count; i++)
		assert_ptr_equal(out[i], objs[i]);
	assert_int_equal(env_ring_count(ring), 0);

	/* Wrap around many times with partial bursts. */
	{
		size_t next_in = 0, next_out = 0;

		for (int round = 0; round < 50; round++) {
			size_t want = (size_t)round % (count + 1);

			n = env_ring_enqueue(ring, &objs[next_in % 1000], want < 1000 - next_in % 1000 ?
					     want : 1000 - next_in % 1000);
			for (size_t i = 0; i < n; i++)
				assert_int_equal((uintptr_t)objs[(next_in + i) % 1000], (next_in + i) % 1000 + 1);
			next_in += n;
			n = env_ring_dequeue(ring, out, (size_t)(round % 3) + 1);
			for (size_t i = 0; i < n; i++)
				assert_int_equal((uintptr_t)out[i], (next_out + i) % 1000 + 1);
			next_out += n;
			assert_int_equal(env_ring_count(ring), next_in - next_out);
			assert_true(next_in - next_out <= count);
		}
		n = env_ring_dequeue(ring, out, COUNTOF(out));
		for (size_t i = 0; i < n; i++)
			assert_int_equal((uintptr_t)out[i], (next_out + i) % 1000 + 1);
		next_out += n;
		assert_int_equal(next_in, next_out);
	}
	env_ring_free(ring);
}

static void
test_ring_types_and_sizes(void **state)
{
	const size_t sizes[] = {1, 2, 3, 7, 8, 63, 64, 100, 127, 128, 1000, 1024};

	for (size_t t = 0; t < COUNTOF(g_types); t++) {
		for (size_t s = 0; s < COUNTOF(sizes); s++)
			check_ring(g_types[t], sizes[s]);
	}
}

static void
test_ring_large(void **state)
{
	const size_t count = 100000;
	struct env_ring *ring = env_ring_create(ENV_RING_MP_MC, count);
	void *obj = tag(1);
	size_t n = 0;

	assert_non_null(ring);
	while (env_ring_enqueue(ring, &obj, 1) == 1)
		n++;
	assert_int_equal(n, count);
	assert_int_equal(env_ring_count(ring), count);
	env_ring_free(ring);
}

#define STRESS_PER_PRODUCER 100000u

struct producer {
	struct env_ring *ring;
	uintptr_t id;
};

static void *
producer_fn(void *arg)
{
	struct producer *p = arg;

	for (uintptr_t seq = 1; seq <= STRESS_PER_PRODUCER; seq++) {
		void *obj = tag((p->id << 32) | seq);

		while (env_ring_enqueue(p->ring, &obj, 1) != 1)
			;
	}
	return NULL;
}

static void
test_ring_mp_stress(void **state)
{
	struct env_ring *ring = env_ring_create(ENV_RING_MP_SC, 256);
	struct producer prod[2];
	pthread_t th[2];
	uint64_t last[2] = {0, 0}, total = 0;
	void *out[64];

	assert_non_null(ring);
	for (int i = 0; i < 2; i++) {
		prod[i].ring = ring;
		prod[i].id = (uintptr_t)i;
		assert_int_equal(pthread_create(&th[i], NULL, producer_fn, &prod[i]), 0);
	}
	while (total < 2ull * STRESS_PER_PRODUCER) {
		size_t n = env_ring_dequeue(ring, out, COUNTOF(out));

		for (size_t i = 0; i < n; i++) {
			uint64_t v = (uint64_t)(uintptr_t)out[i];
			uint64_t id = v >> 32, seq = v & 0xffffffffu;

			assert_true(id < 2);
			/* Per-producer order: exactly the next sequence number. */
			if (seq != last[id] + 1)
				fail_msg("producer %u: got %u after %u", (unsigned)id,
					 (unsigned)seq, (unsigned)last[id]);
			last[id] = seq;
		}
		total += n;
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(last[0], STRESS_PER_PRODUCER);
	assert_int_equal(last[1], STRESS_PER_PRODUCER);
	assert_int_equal(env_ring_count(ring), 0);
	assert_int_equal(env_ring_dequeue(ring, out, 1), 0);
	env_ring_free(ring);
}

static void
test_pool_basic(void **state)
{
	const size_t count = 100;
	struct env_pool *pool = env_pool_create("ut_pool", count, 24, ENV_POOL_DEFAULT_CACHE);
	void *objs[100];

	assert_non_null(pool);
	assert_int_equal(env_pool_count(pool), count);
	for (size_t i = 0; i < count; i++) {
		objs[i] = env_pool_get(pool);
		assert_non_null(objs[i]);
		/* Each element is usable memory of at least elt_size bytes. */
		memset(objs[i], (int)i, 24);
		assert_int_equal(env_pool_count(pool), count - i - 1);
	}
	/* Empty for now. */
	assert_null(env_pool_get(pool));
	assert_null(env_pool_get(pool));
	assert_int_equal(env_pool_count(pool), 0);
	/* All distinct and not overlapping. */
	for (size_t i = 0; i < count; i++) {
		for (size_t j = i + 1; j < count; j++) {
			uintptr_t a = (uintptr_t)objs[i], b = (uintptr_t)objs[j];

			assert_true(a + 24 <= b || b + 24 <= a);
		}
		/* 8-byte alignment at least. */
		assert_int_equal((uintptr_t)objs[i] % 8, 0);
	}
	for (size_t i = 0; i < count; i++) {
		uint8_t *p = objs[i];

		assert_int_equal(p[0], (uint8_t)i);
		assert_int_equal(p[23], (uint8_t)i);
	}
	/* Put back one: it is the next one handed out. */
	env_pool_put(pool, objs[5]);
	assert_int_equal(env_pool_count(pool), 1);
	assert_ptr_equal(env_pool_get(pool), objs[5]);
	assert_null(env_pool_get(pool));
	for (size_t i = 0; i < count; i++)
		env_pool_put(pool, objs[i]);
	assert_int_equal(env_pool_count(pool), count);
	env_pool_free(pool);
	env_pool_free(NULL);
}

static void
test_pool_bad(void **state)
{
	assert_null(env_pool_create("x", 0, 8, 0));
	assert_null(env_pool_create("x", 8, 0, 0));
}

static void
test_pool_small_caches(void **state)
{
	/* Odd cache sizes and counts, including cache 0 and 1. */
	const size_t caches[] = {0, 1, 2, 3, 64, 1000};
	const size_t counts[] = {1, 3, 4, 5, 17};

	for (size_t c = 0; c < COUNTOF(caches); c++) {
		for (size_t k = 0; k < COUNTOF(counts); k++) {
			struct env_pool *pool = env_pool_create(NULL, counts[k], 1, caches[c]);
			void *objs[17];

			assert_non_null(pool);
			for (int round = 0; round < 3; round++) {
				for (size_t i = 0; i < counts[k]; i++) {
					objs[i] = env_pool_get(pool);
					assert_non_null(objs[i]);
				}
				assert_null(env_pool_get(pool));
				assert_int_equal(env_pool_count(pool), 0);
				for (size_t i = 0; i < counts[k]; i++)
					env_pool_put(pool, objs[i]);
				assert_int_equal(env_pool_count(pool), counts[k]);
			}
			env_pool_free(pool);
		}
	}
}

static void
test_ticks(void **state)
{
	uint64_t hz = env_get_ticks_hz(), t0, t1, prev;
	struct timespec a, b;
	double elapsed_ns, ticks_ns;

	assert_true(hz > 100000000ull);     /* > 100 MHz */
	assert_true(hz < 10000000000ull);   /* < 10 GHz */
	/* Cached: the same value again. */
	assert_int_equal(env_get_ticks_hz(), hz);

	prev = env_get_ticks();
	for (int i = 0; i < 100000; i++) {
		uint64_t now = env_get_ticks();

		assert_true(now >= prev);
		prev = now;
	}

	/* env_delay_us waits about as long as asked, measured by the clock. */
	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = env_get_ticks();
	env_delay_us(20000);
	t1 = env_get_ticks();
	clock_gettime(CLOCK_MONOTONIC, &b);
	elapsed_ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	ticks_ns = (double)(t1 - t0) * 1e9 / (double)hz;
	assert_true(elapsed_ns >= 19e6);
	assert_true(t1 - t0 >= hz / 50);
	/*
	 * The tick rate agrees with the monotonic clock. Loose bound: the 10 ms
	 * calibration can be off by a preemption on a loaded machine.
	 */
	assert_true(ticks_ns > elapsed_ns * 0.75 && ticks_ns < elapsed_ns * 1.25);
}

static void
test_cores_before_init(void **state)
{
	uint32_t core, n = 0;

	assert_false(env_is_initialized());
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
	assert_int_equal(env_launch_on_core(1, NULL, NULL), -EINVAL);
	env_wait_cores();
	/* Safe without env_init(). */
	env_fini();
	assert_false(env_is_initialized());
}

static void
test_dma_before_init(void **state)
{
	const size_t aligns[] = {0, 1, 2, 8, 64, 512, 4096, 65536};
	uint64_t iova;
	uint8_t *buf;

	for (size_t i = 0; i < COUNTOF(aligns); i++) {
		size_t want = aligns[i] ? aligns[i] : 64;

		iova = 0;
		buf = env_dma_malloc(1000, aligns[i], &iova);
		assert_non_null(buf);
		assert_int_equal((uintptr_t)buf % want, 0);
		assert_int_equal(iova, (uint64_t)(uintptr_t)buf);
		memset(buf, 0xab, 1000);
		env_dma_free(buf);
	}
	/* Size not a multiple of the alignment, no iova wanted. */
	buf = env_dma_malloc(1, 4096, NULL);
	assert_non_null(buf);
	assert_int_equal((uintptr_t)buf % 4096, 0);
	env_dma_free(buf);

	buf = env_dma_zmalloc(8192, 4096, &iova);
	assert_non_null(buf);
	for (size_t i = 0; i < 8192; i++)
		assert_int_equal(buf[i], 0);
	/* Before the EAL nothing is translatable. */
	assert_true(env_vtophys(buf, NULL) == ENV_VTOPHYS_ERROR);
	env_dma_free(buf);
	env_dma_free(NULL);

	/* Bad arguments. */
	assert_null(env_dma_malloc(100, 3, NULL));
	assert_null(env_dma_malloc(100, 4097, NULL));
	assert_null(env_dma_malloc(0, 64, NULL));
	assert_null(env_dma_zmalloc(0, 64, NULL));
}

static void
test_opts_init(void **state)
{
	struct env_opts opts;

	memset(&opts, 0xff, sizeof(opts));
	env_opts_init(&opts, sizeof(opts));
	assert_int_equal(opts.opts_size, sizeof(opts));
	assert_non_null(opts.name);
	assert_null(opts.core_mask);
	assert_int_equal(opts.main_core, UINT32_MAX);
	assert_int_equal(opts.mem_size_mb, 0);
	assert_false(opts.enable_pci);
	assert_false(opts.force_no_huge);

	/* An older caller's smaller struct: nothing written past `size`. */
	{
		unsigned char raw[sizeof(struct env_opts) + 8];
		size_t small = offsetof(struct env_opts, core_mask);

		memset(raw, 0x5a, sizeof(raw));
		env_opts_init((struct env_opts *)(void *)raw, small);
		for (size_t i = small; i < sizeof(raw); i++)
			assert_int_equal(raw[i], 0x5a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_create_bad),
		cmocka_unit_test(test_ring_types_and_sizes),
		cmocka_unit_test(test_ring_large),
		cmocka_unit_test(test_ring_mp_stress),
		cmocka_unit_test(test_pool_basic),
		cmocka_unit_test(test_pool_bad),
		cmocka_unit_test(test_pool_small_caches),
		cmocka_unit_test(test_ticks),
		cmocka_unit_test(test_cores_before_init),
		cmocka_unit_test(test_dma_before_init),
		cmocka_unit_test(test_opts_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
