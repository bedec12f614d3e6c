/*
 * Unit tests for lib/util/bit_array.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lvstor/util.h"

static void
test_create_set_get_clear(void **state)
{
	struct bit_array *ba = bit_array_create(100);

	assert_non_null(ba);
	assert_int_equal(bit_array_capacity(ba), 100);
	assert_int_equal(bit_array_count_set(ba), 0);
	assert_int_equal(bit_array_count_clear(ba), 100);
	for (uint32_t i = 0; i < 100; i++)
		assert_false(bit_array_get(ba, i));

	assert_int_equal(bit_array_set(ba, 0), 0);
	assert_int_equal(bit_array_set(ba, 63), 0);
	assert_int_equal(bit_array_set(ba, 64), 0);
	assert_int_equal(bit_array_set(ba, 99), 0);
	/* Setting twice is harmless. */
	assert_int_equal(bit_array_set(ba, 99), 0);
	assert_true(bit_array_get(ba, 0));
	assert_true(bit_array_get(ba, 63));
	assert_true(bit_array_get(ba, 64));
	assert_true(bit_array_get(ba, 99));
	assert_false(bit_array_get(ba, 1));
	assert_false(bit_array_get(ba, 62));
	assert_false(bit_array_get(ba, 65));
	assert_false(bit_array_get(ba, 98));
	assert_int_equal(bit_array_count_set(ba), 4);
	assert_int_equal(bit_array_count_clear(ba), 96);

	bit_array_clear(ba, 63);
	assert_false(bit_array_get(ba, 63));
	assert_true(bit_array_get(ba, 64));
	assert_int_equal(bit_array_count_set(ba), 3);
	/* Clearing a clear bit is harmless. */
	bit_array_clear(ba, 63);
	assert_int_equal(bit_array_count_set(ba), 3);

	bit_array_clear_all(ba);
	assert_int_equal(bit_array_count_set(ba), 0);
	assert_int_equal(bit_array_count_clear(ba), 100);
	assert_int_equal(bit_array_capacity(ba), 100);

	bit_array_free(&ba);
	assert_null(ba);
}

static void
test_out_of_range(void **state)
{
	struct bit_array *ba = bit_array_create(65);

	assert_non_null(ba);
	assert_int_equal(bit_array_set(ba, 64), 0);
	assert_int_equal(bit_array_set(ba, 65), -EINVAL);
	assert_int_equal(bit_array_set(ba, 127), -EINVAL);
	assert_int_equal(bit_array_set(ba, UINT32_MAX), -EINVAL);
	assert_false(bit_array_get(ba, 65));
	assert_false(bit_array_get(ba, UINT32_MAX));
	/* Clear out of range is ignored and must not touch bit 64. */
	bit_array_clear(ba, 65);
	bit_array_clear(ba, UINT32_MAX);
	assert_true(bit_array_get(ba, 64));
	assert_int_equal(bit_array_count_set(ba), 1);
	assert_int_equal(bit_array_find_first_set(ba, 65), UINT32_MAX);
	assert_int_equal(bit_array_find_first_clear(ba, 65), UINT32_MAX);
	assert_int_equal(bit_array_find_first_set(ba, UINT32_MAX), UINT32_MAX);
	bit_array_free(&ba);
}

static void
test_zero_size(void **state)
{
	struct bit_array *ba = bit_array_create(0);

	assert_non_null(ba);
	assert_int_equal(bit_array_capacity(ba), 0);
	assert_int_equal(bit_array_set(ba, 0), -EINVAL);
	assert_false(bit_array_get(ba, 0));
	assert_int_equal(bit_array_count_set(ba), 0);
	assert_int_equal(bit_array_count_clear(ba), 0);
	assert_int_equal(bit_array_find_first_set(ba, 0), UINT32_MAX);
	assert_int_equal(bit_array_find_first_clear(ba, 0), UINT32_MAX);
	assert_int_equal(bit_array_resize(&ba, 10), 0);
	assert_int_equal(bit_array_count_clear(ba), 10);
	assert_int_equal(bit_array_resize(&ba, 0), 0);
	assert_int_equal(bit_array_capacity(ba), 0);
	bit_array_free(&ba);
}

static void
test_find_first_set(void **state)
{
	struct bit_array *ba = bit_array_create(300);

	assert_non_null(ba);
	assert_int_equal(bit_array_find_first_set(ba, 0), UINT32_MAX);
	assert_int_equal(bit_array_set(ba, 200), 0);
	/* Skips whole empty words. */
	assert_int_equal(bit_array_find_first_set(ba, 0), 200);
	assert_int_equal(bit_array_find_first_set(ba, 63), 200);
	assert_int_equal(bit_array_find_first_set(ba, 64), 200);
	assert_int_equal(bit_array_find_first_set(ba, 200), 200);
	assert_int_equal(bit_array_find_first_set(ba, 201), UINT32_MAX);
	assert_int_equal(bit_array_set(ba, 63), 0);
	assert_int_equal(bit_array_set(ba, 64), 0);
	assert_int_equal(bit_array_find_first_set(ba, 0), 63);
	assert_int_equal(bit_array_find_first_set(ba, 63), 63);
	assert_int_equal(bit_array_find_first_set(ba, 64), 64);
	assert_int_equal(bit_array_find_first_set(ba, 65), 200);
	assert_int_equal(bit_array_set(ba, 299), 0);
	assert_int_equal(bit_array_find_first_set(ba, 201), 299);
	assert_int_equal(bit_array_find_first_set(ba, 299), 299);
	assert_int_equal(bit_array_find_first_set(ba, 300), UINT32_MAX);
	bit_array_free(&ba);
}

static void
test_find_first_clear(void **state)
{
	struct bit_array *ba = bit_array_create(300);

	assert_non_null(ba);
	assert_int_equal(bit_array_find_first_clear(ba, 0), 0);
	assert_int_equal(bit_array_find_first_clear(ba, 299), 299);
	for (uint32_t i = 0; i < 300; i++)
		assert_int_equal(bit_array_set(ba, i), 0);
	assert_int_equal(bit_array_count_clear(ba), 0);
	/* Full: the padding bits past 300 must not be reported as clear. */
	assert_int_equal(bit_array_find_first_clear(ba, 0), UINT32_MAX);
	assert_int_equal(bit_array_find_first_clear(ba, 299), UINT32_MAX);
	bit_array_clear(ba, 130);
	assert_int_equal(bit_array_find_first_clear(ba, 0), 130);
	assert_int_equal(bit_array_find_first_clear(ba, 64), 130);
	assert_int_equal(bit_array_find_first_clear(ba, 130), 130);
	assert_int_equal(bit_array_find_first_clear(ba, 131), UINT32_MAX);
	bit_array_clear(ba, 64);
	bit_array_clear(ba, 63);
	assert_int_equal(bit_array_find_first_clear(ba, 0), 63);
	assert_int_equal(bit_array_find_first_clear(ba, 64), 64);
	assert_int_equal(bit_array_find_first_clear(ba, 65), 130);
	bit_array_clear(ba, 299);
	assert_int_equal(bit_array_find_first_clear(ba, 131), 299);
	bit_array_free(&ba);
}

/* Fill an array of `n` bits and check the edges of its last word. */
static void
check_capacity_edges(uint32_t n)
{
	struct bit_array *ba = bit_array_create(n);

	assert_non_null(ba);
	assert_int_equal(bit_array_capacity(ba), n);
	assert_int_equal(bit_array_find_first_clear(ba, 0), 0);
	assert_int_equal(bit_array_find_first_clear(ba, n - 1), n - 1);
	assert_int_equal(bit_array_find_first_clear(ba, n), UINT32_MAX);
	assert_int_equal(bit_array_set(ba, n - 1), 0);
	assert_int_equal(bit_array_set(ba, n), -EINVAL);
	assert_int_equal(bit_array_find_first_set(ba, 0), n - 1);
	assert_int_equal(bit_array_find_first_set(ba, n - 1), n - 1);
	assert_int_equal(bit_array_find_first_set(ba, n), UINT32_MAX);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(bit_array_set(ba, i), 0);
	assert_int_equal(bit_array_count_set(ba), n);
	assert_int_equal(bit_array_count_clear(ba), 0);
	assert_int_equal(bit_array_find_first_clear(ba, 0), UINT32_MAX);
	bit_array_clear(ba, n - 1);
	assert_int_equal(bit_array_find_first_clear(ba, 0), n - 1);
	assert_int_equal(bit_array_count_clear(ba), 1);
	bit_array_free(&ba);
}

static void
test_capacity_edges(void **state)
{
	const uint32_t sizes[] = {1, 2, 63, 64, 65, 100, 127, 128, 129, 1000, 4097};

	for (size_t i = 0; i < COUNTOF(sizes); i++)
		check_capacity_edges(sizes[i]);
}

static void
test_resize_grow(void **state)
{
	struct bit_array *ba = bit_array_create(10);

	assert_non_null(ba);
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(bit_array_set(ba, i), 0);
	/* Grow within the same word. */
	assert_int_equal(bit_array_resize(&ba, 60), 0);
	assert_int_equal(bit_array_capacity(ba), 60);
	assert_int_equal(bit_array_count_set(ba), 10);
	assert_int_equal(bit_array_count_clear(ba), 50);
	assert_int_equal(bit_array_find_first_clear(ba, 0), 10);
	/* Grow across several words: new bits are clear, old ones kept. */
	assert_int_equal(bit_array_resize(&ba, 1000), 0);
	assert_int_equal(bit_array_capacity(ba), 1000);
	assert_int_equal(bit_array_count_set(ba), 10);
	for (uint32_t i = 0; i < 10; i++)
		assert_true(bit_array_get(ba, i));
	for (uint32_t i = 10; i < 1000; i++)
		assert_false(bit_array_get(ba, i));
	assert_int_equal(bit_array_find_first_set(ba, 10), UINT32_MAX);
	assert_int_equal(bit_array_set(ba, 999), 0);
	assert_int_equal(bit_array_find_first_set(ba, 10), 999);
	bit_array_free(&ba);
}

static void
test_resize_shrink(void **state)
{
	struct bit_array *ba = bit_array_create(200);

	assert_non_null(ba);
	for (uint32_t i = 0; i < 200; i++)
		assert_int_equal(bit_array_set(ba, i), 0);

	/* Shrink to a non-multiple of 64: bits beyond are gone. */
	assert_int_equal(bit_array_resize(&ba, 70), 0);
	assert_int_equal(bit_array_capacity(ba), 70);
	assert_int_equal(bit_array_count_set(ba), 70);
	assert_int_equal(bit_array_count_clear(ba), 0);
	assert_false(bit_array_get(ba, 70));
	assert_int_equal(bit_array_set(ba, 70), -EINVAL);
	assert_int_equal(bit_array_find_first_clear(ba, 0), UINT32_MAX);
	assert_int_equal(bit_array_find_first_set(ba, 70), UINT32_MAX);

	/* Grow again: the bits dropped by the shrink stay clear. */
	assert_int_equal(bit_array_resize(&ba, 200), 0);
	assert_int_equal(bit_array_count_set(ba), 70);
	assert_int_equal(bit_array_count_clear(ba), 130);
	for (uint32_t i = 70; i < 200; i++)
		assert_false(bit_array_get(ba, i));
	assert_int_equal(bit_array_find_first_clear(ba, 0), 70);
	assert_int_equal(bit_array_find_first_set(ba, 70), UINT32_MAX);

	/* Shrink to a multiple of 64, then grow within the next word. */
	for (uint32_t i = 0; i < 200; i++)
		assert_int_equal(bit_array_set(ba, i), 0);
	assert_int_equal(bit_array_resize(&ba, 128), 0);
	assert_int_equal(bit_array_count_set(ba), 128);
	assert_int_equal(bit_array_resize(&ba, 150), 0);
	assert_int_equal(bit_array_count_set(ba), 128);
	assert_int_equal(bit_array_find_first_clear(ba, 0), 128);
	assert_int_equal(bit_array_find_first_set(ba, 128), UINT32_MAX);

	/* Shrink within the same word, then grow within it again. */
	assert_int_equal(bit_array_resize(&ba, 130), 0);
	assert_int_equal(bit_array_set(ba, 129), 0);
	assert_int_equal(bit_array_resize(&ba, 129), 0);
	assert_int_equal(bit_array_count_set(ba), 128);
	assert_int_equal(bit_array_resize(&ba, 191), 0);
	assert_false(bit_array_get(ba, 129));
	assert_int_equal(bit_array_count_set(ba), 128);
	assert_int_equal(bit_array_count_clear(ba), 63);

	/* Shrink to one bit. */
	assert_int_equal(bit_array_resize(&ba, 1), 0);
	assert_int_equal(bit_array_count_set(ba), 1);
	assert_int_equal(bit_array_resize(&ba, 64), 0);
	assert_int_equal(bit_array_count_set(ba), 1);
	assert_int_equal(bit_array_find_first_clear(ba, 0), 1);
	bit_array_free(&ba);
}

static void
test_pattern(void **state)
{
	const uint32_t n = 1000;
	struct bit_array *ba = bit_array_create(n);
	uint32_t count = 0, bit, seen;

	assert_non_null(ba);
	for (uint32_t i = 0; i < n; i += 7) {
		assert_int_equal(bit_array_set(ba, i), 0);
		count++;
	}
	assert_int_equal(bit_array_count_set(ba), count);
	assert_int_equal(bit_array_count_clear(ba), n - count);
	/* Iterate set bits. */
	seen = 0;
	for (bit = bit_array_find_first_set(ba, 0); bit != UINT32_MAX;
	     bit = bit_array_find_first_set(ba, bit + 1)) {
		assert_int_equal(bit % 7, 0);
		seen++;
	}
	assert_int_equal(seen, count);
	/* Iterate clear bits. */
	seen = 0;
	for (bit = bit_array_find_first_clear(ba, 0); bit != UINT32_MAX;
	     bit = bit_array_find_first_clear(ba, bit + 1)) {
		assert_int_not_equal(bit % 7, 0);
		assert_true(bit < n);
		seen++;
	}
	assert_int_equal(seen, n - count);
	bit_array_free(&ba);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_set_get_clear),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_zero_size),
		cmocka_unit_test(test_find_first_set),
		cmocka_unit_test(test_find_first_clear),
		cmocka_unit_test(test_capacity_edges),
		cmocka_unit_test(test_resize_grow),
		cmocka_unit_test(test_resize_shrink),
		cmocka_unit_test(test_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
