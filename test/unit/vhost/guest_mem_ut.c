/*
 * Unit tests for lib/vhost/guest_mem.c: translation of guest-physical
 * ranges over a memory table with adjacent regions (as QEMU splits RAM
 * around the PCI hole) and gaps. Translation never touches memory, so the
 * host addresses here are plain numbers; the ring tests in virtqueue_ut.c
 * use real mappings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../lib/vhost/guest_mem.h"

/*
 * gpa [0x0, 0x10000) -> host 0x7000000000
 * gpa [0x10000, 0x30000) -> host 0x7100000000   (adjacent to the first)
 * gap
 * gpa [0x100000, 0x101000) -> host 0x7200000000
 */
static void
make_mem(struct guest_mem *mem)
{
	memset(mem, 0, sizeof(*mem));
	mem->nregions = 3;
	mem->regions[0] = (struct guest_mem_region){ 0x0, 0x10000, 0x7000000000ull };
	mem->regions[1] = (struct guest_mem_region){ 0x10000, 0x20000, 0x7100000000ull };
	mem->regions[2] = (struct guest_mem_region){ 0x100000, 0x1000, 0x7200000000ull };
}

static void
test_iovs_inside_one_region(void **state)
{
	struct guest_mem mem;
	struct iovec iov[4];
	int cnt = 0;

	make_mem(&mem);
	assert_int_equal(guest_mem_to_iovs(&mem, 0x1234, 0x100, iov, &cnt, 4), 0);
	assert_int_equal(cnt, 1);
	assert_ptr_equal(iov[0].iov_base, (void *)0x7000001234ull);
	assert_int_equal(iov[0].iov_len, 0x100);

	/* The last byte of a region, and a whole region. */
	assert_int_equal(guest_mem_to_iovs(&mem, 0x100fff, 1, iov, &cnt, 4), 0);
	assert_int_equal(cnt, 2);
	assert_ptr_equal(iov[1].iov_base, (void *)0x7200000fffull);
	assert_int_equal(guest_mem_to_iovs(&mem, 0x100000, 0x1000, iov, &cnt, 4), 0);
	assert_int_equal(cnt, 3);
	assert_int_equal(iov[2].iov_len, 0x1000);
}

static void
test_iovs_across_adjacent_regions(void **state)
{
	struct guest_mem mem;
	struct iovec iov[4];
	int cnt = 1;

	make_mem(&mem);
	/* Appended after the existing entry. */
	assert_int_equal(guest_mem_to_iovs(&mem, 0xff00, 0x200, iov, &cnt, 4), 0);
	assert_int_equal(cnt, 3);
	assert_ptr_equal(iov[1].iov_base, (void *)0x700000ff00ull);
	assert_int_equal(iov[1].iov_len, 0x100);
	assert_ptr_equal(iov[2].iov_base, (void *)0x7100000000ull);
	assert_int_equal(iov[2].iov_len, 0x100);
}

static void
test_iovs_refuses_gaps_and_edges(void **state)
{
	struct guest_mem mem;
	struct iovec iov[4];
	int cnt = 0;

	make_mem(&mem);
	/* Entirely in the gap, starting in the gap, running into it, one
	 * byte past the end of the last region, past the end of all. */
	assert_int_equal(guest_mem_to_iovs(&mem, 0x40000, 1, iov, &cnt, 4), -EFAULT);
	assert_int_equal(guest_mem_to_iovs(&mem, 0xfffff, 2, iov, &cnt, 4), -EFAULT);
	assert_int_equal(guest_mem_to_iovs(&mem, 0x2ff00, 0x101, iov, &cnt, 4), -EFAULT);
	assert_int_equal(guest_mem_to_iovs(&mem, 0x100000, 0x1001, iov, &cnt, 4), -EFAULT);
	assert_int_equal(guest_mem_to_iovs(&mem, 0x101000, 1, iov, &cnt, 4), -EFAULT);
	/* Overflowing gpa + len, even one that would wrap into region 0. */
	assert_int_equal(guest_mem_to_iovs(&mem, UINT64_MAX - 0xff, 0x200, iov, &cnt, 4),
			 -EFAULT);
	assert_int_equal(guest_mem_to_iovs(&mem, 0x10, UINT64_MAX, iov, &cnt, 4), -EFAULT);
	assert_int_equal(cnt, 0);
	/* Length 0 succeeds and adds nothing, even outside memory. */
	assert_int_equal(guest_mem_to_iovs(&mem, 0x40000, 0, iov, &cnt, 4), 0);
	assert_int_equal(cnt, 0);
}

static void
test_iovs_max_iov(void **state)
{
	struct guest_mem mem;
	struct iovec iov[4];
	int cnt = 3;

	make_mem(&mem);
	/* Needs two, only one left: -E2BIG and the count is unchanged. */
	assert_int_equal(guest_mem_to_iovs(&mem, 0xff00, 0x200, iov, &cnt, 4), -E2BIG);
	assert_int_equal(cnt, 3);
	assert_int_equal(guest_mem_to_iovs(&mem, 0xff00, 0x100, iov, &cnt, 4), 0);
	assert_int_equal(cnt, 4);
	assert_int_equal(guest_mem_to_iovs(&mem, 0x0, 1, iov, &cnt, 4), -E2BIG);
	assert_int_equal(cnt, 4);
}

static void
test_ptr(void **state)
{
	struct guest_mem mem;

	make_mem(&mem);
	assert_ptr_equal(guest_mem_to_ptr(&mem, 0x10000, 0x20000), (void *)0x7100000000ull);
	assert_ptr_equal(guest_mem_to_ptr(&mem, 0x100ff0, 0x10), (void *)0x7200000ff0ull);
	/* Contiguity is required: no crossing even into an adjacent region. */
	assert_null(guest_mem_to_ptr(&mem, 0xfff0, 0x20));
	assert_null(guest_mem_to_ptr(&mem, 0x100ff0, 0x11));
	assert_null(guest_mem_to_ptr(&mem, 0x40000, 1));
	assert_null(guest_mem_to_ptr(&mem, 0x0, 0));
	assert_null(guest_mem_to_ptr(&mem, UINT64_MAX, 2));
	assert_null(guest_mem_to_ptr(&mem, 0x10, UINT64_MAX));
}

static void
test_empty_and_oversized_tables(void **state)
{
	struct guest_mem mem;
	struct iovec iov[1];
	int cnt = 0;

	memset(&mem, 0, sizeof(mem));
	assert_int_equal(guest_mem_to_iovs(&mem, 0, 1, iov, &cnt, 1), -EFAULT);
	assert_null(guest_mem_to_ptr(&mem, 0, 1));
	/* A corrupt region count is clamped to the array, not trusted. */
	make_mem(&mem);
	mem.nregions = 1000000;
	assert_ptr_equal(guest_mem_to_ptr(&mem, 0x10, 1), (void *)0x7000000010ull);
	assert_null(guest_mem_to_ptr(&mem, 0x40000, 1));
	/* Zero-sized regions match nothing. */
	mem.nregions = 1;
	mem.regions[0].size = 0;
	assert_null(guest_mem_to_ptr(&mem, 0, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iovs_inside_one_region),
		cmocka_unit_test(test_iovs_across_adjacent_regions),
		cmocka_unit_test(test_iovs_refuses_gaps_and_edges),
		cmocka_unit_test(test_iovs_max_iov),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_empty_and_oversized_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
