/*
 * Unit tests for lib/vhost/virtqueue.c. The test plays the guest driver:
 * it builds a fake guest memory, puts real split and packed rings into
 * it, posts requests (good and hostile) and checks what the device side
 * makes of them.
 *
 * Guest memory (each region a separate mapping between PROT_NONE guard
 * pages, so any access outside the regions faults, under ASan or not):
 *
 *   R0 gpa [0x0, 0x10000)        rings (split desc 0x0, avail 0x1000,
 *                                used 0x2000; packed desc 0x4000, driver
 *                                event 0x5000, device event 0x5010),
 *                                data from 0x8000
 *   R1 gpa [0x10000, 0x20000)    adjacent to R0 in guest-physical space
 *                                but mapped elsewhere: buffers crossing
 *                                0x10000 need two iovecs
 *   (gap)
 *   R2 gpa [0x100000, 0x108000)  indirect tables and more data
 *   R3 gpa [4 GiB, 4 GiB + 2 GiB + 4 KiB)   PROT_NONE reservation: only
 *                                for huge lengths, which must be
 *                                translated but never touched
 *
 * The hostile tests assert the exact return code, that the queue stays
 * usable (or is broken, for -EIO), and that pop wrote nothing outside the
 * split used ring (the only guest memory the device may write during pop
 * is avail_event, which lives there).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "../../../lib/vhost/virtqueue.h"

#define PAGE 4096ul
#define NREG 4
#define R3_GPA 0x100000000ull
#define R3_SIZE (0x80000000ull + PAGE)

#define SPLIT_DESC 0x0
#define SPLIT_AVAIL 0x1000
#define SPLIT_USED 0x2000
#define PACKED_DESC 0x4000
#define PACKED_DRV_EV 0x5000
#define PACKED_DEV_EV 0x5010

#define R 0
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT
#define I VRING_DESC_F_INDIRECT
#define PF_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PF_USED (1u << VRING_PACKED_DESC_F_USED)

static const uint64_t g_reg_gpa[NREG] = { 0x0, 0x10000, 0x100000, R3_GPA };
static const uint64_t g_reg_size[NREG] = { 0x10000, 0x10000, 0x8000, R3_SIZE };

static struct guest_mem g_mem;
static uint8_t *g_map[NREG];   /* the whole mapping, guards included */
static uint8_t *g_shadow[3];   /* snapshot of R0..R2 */
static struct virtqueue g_vq;
static struct vq_chain g_chain;

/* ---- fake guest memory ----------------------------------------------- */

static void *
gp(uint64_t gpa)
{
	void *p = guest_mem_to_ptr(&g_mem, gpa, 1);

	assert_non_null(p);
	return p;
}

static int
setup(void **state)
{
	memset(&g_mem, 0, sizeof(g_mem));
	for (int i = 0; i < NREG; i++) {
		size_t len = g_reg_size[i] + 2 * PAGE;

		g_map[i] = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
		assert_true(g_map[i] != MAP_FAILED);
		if (i < 3) {
			assert_int_equal(mprotect(g_map[i] + PAGE, g_reg_size[i],
						  PROT_READ | PROT_WRITE), 0);
			memset(g_map[i] + PAGE, 0xa5, g_reg_size[i]);
		}
		g_mem.regions[i].guest_phys_addr = g_reg_gpa[i];
		g_mem.regions[i].size = g_reg_size[i];
		g_mem.regions[i].host_addr = (uintptr_t)(g_map[i] + PAGE);
	}
	g_mem.nregions = NREG;
	/* Rings start zeroed, as a driver leaves them. */
	memset(gp(0), 0, 0x6000);
	memset(&g_vq, 0, sizeof(g_vq));
	return 0;
}

static int
teardown(void **state)
{
	for (int i = 0; i < NREG; i++)
		munmap(g_map[i], g_reg_size[i] + 2 * PAGE);
	for (int i = 0; i < 3; i++) {
		free(g_shadow[i]);
		g_shadow[i] = NULL;
	}
	return 0;
}

/* A fresh memory and queue in the middle of a test. */
static void
reset(void **state)
{
	teardown(state);
	setup(state);
}

static void
snapshot(void)
{
	for (int i = 0; i < 3; i++) {
		free(g_shadow[i]);
		g_shadow[i] = malloc(g_reg_size[i]);
		assert_non_null(g_shadow[i]);
		memcpy(g_shadow[i], g_map[i] + PAGE, g_reg_size[i]);
	}
}

/* Nothing changed since snapshot() except the split used ring. */
static void
assert_untouched(void)
{
	for (int i = 0; i < 3; i++) {
		const uint8_t *now = g_map[i] + PAGE;

		if (i == 0) {
			assert_memory_equal(now, g_shadow[0], SPLIT_USED);
			assert_memory_equal(now + SPLIT_USED + 0x1000, g_shadow[0] + SPLIT_USED + 0x1000,
					    g_reg_size[0] - SPLIT_USED - 0x1000);
		} else {
			assert_memory_equal(now, g_shadow[i], g_reg_size[i]);
		}
	}
}

/* Every iovec lies inside one region, and the chain's counters add up. */
static void
assert_chain_sane(const struct vq_chain *c)
{
	uint64_t rd = 0, wr = 0;

	assert_true(c->iovcnt >= 0 && c->iovcnt <= VQ_MAX_IOVS);
	assert_true(c->nreadable >= 0 && c->nreadable <= c->iovcnt);
	for (int i = 0; i < c->iovcnt; i++) {
		uintptr_t b = (uintptr_t)c->iov[i].iov_base;
		bool inside = false;

		assert_true(c->iov[i].iov_len > 0);
		for (int r = 0; r < NREG; r++) {
			uintptr_t lo = (uintptr_t)g_map[r] + PAGE;

			if (b >= lo && c->iov[i].iov_len <= g_reg_size[r] &&
			    b - lo <= g_reg_size[r] - c->iov[i].iov_len)
				inside = true;
		}
		assert_true(inside);
		if (i < c->nreadable)
			rd += c->iov[i].iov_len;
		else
			wr += c->iov[i].iov_len;
	}
	assert_int_equal(rd, c->readable_len);
	assert_int_equal(wr, c->writable_len);
}

/* ---- split driver ------------------------------------------------------ */

static struct vring_desc *g_desc;
static struct vring_avail *g_avail;
static struct vring_used *g_used;
static uint16_t g_size;

static void
split_setup(uint16_t size, bool event_idx)
{
	g_size = size;
	g_desc = gp(SPLIT_DESC);
	g_avail = gp(SPLIT_AVAIL);
	g_used = gp(SPLIT_USED);
	assert_int_equal(vq_init_split(&g_vq, size, g_desc, g_avail, g_used, event_idx, 0, 0), 0);
}

static void
sdesc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	g_desc[i].addr = addr;
	g_desc[i].len = len;
	g_desc[i].flags = flags;
	g_desc[i].next = next;
}

/* A descriptor in a table the test keeps in guest memory at gpa. */
static void
tdesc(uint64_t table_gpa, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
      uint16_t next)
{
	struct vring_desc *t = gp(table_gpa);

	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

static void
spublish(uint16_t head)
{
	g_avail->ring[g_avail->idx % g_size] = head;
	__atomic_store_n(&g_avail->idx, (uint16_t)(g_avail->idx + 1), __ATOMIC_RELEASE);
}

static uint16_t *
used_event(void)
{
	return &g_avail->ring[g_size];
}

static uint16_t *
avail_event(void)
{
	return (uint16_t *)&g_used->ring[g_size];
}

/* Posts a one-descriptor request at slot 15 and checks it pops fine:
 * the queue survived whatever came before. */
static void
assert_split_still_works(void)
{
	sdesc(15, 0x9000, 1, W, 0);
	spublish(15);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.id, 15);
	assert_int_equal(g_chain.iovcnt, 1);
	vq_push(&g_vq, 15, g_chain.ndesc, 1);
}

/* Publishes head, pops, expects -EINVAL with a completable chain, checks
 * that nothing was touched, completes it with 0 bytes. */
static void
expect_split_einval(uint16_t head)
{
	uint16_t used_before = g_used->idx;

	spublish(head);
	snapshot();
	memset(&g_chain, 0x5a, sizeof(g_chain));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), -EINVAL);
	assert_untouched();
	assert_false(g_vq.broken);
	assert_int_equal(g_chain.id, head);
	assert_int_equal(g_chain.ndesc, 1);
	assert_int_equal(g_chain.iovcnt, 0);
	assert_int_equal(g_chain.nreadable, 0);
	assert_int_equal(g_chain.readable_len, 0);
	assert_int_equal(g_chain.writable_len, 0);
	vq_push(&g_vq, g_chain.id, g_chain.ndesc, 0);
	assert_int_equal(g_used->idx, (uint16_t)(used_before + 1));
	assert_int_equal(g_used->ring[used_before % g_size].id, head);
	assert_int_equal(g_used->ring[used_before % g_size].len, 0);
	assert_split_still_works();
}

static void
expect_split_eio(void)
{
	snapshot();
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), -EIO);
	assert_untouched();
	assert_true(g_vq.broken);
	assert_false(vq_has_avail(&g_vq));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), -EIO);
}

/* ---- split: good requests --------------------------------------------- */

static void
test_split_init_args(void **state)
{
	struct vring_desc *d = gp(SPLIT_DESC);
	struct vring_avail *a = gp(SPLIT_AVAIL);
	struct vring_used *u = gp(SPLIT_USED);

	assert_int_equal(vq_init_split(&g_vq, 0, d, a, u, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_split(&g_vq, 12, d, a, u, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_split(&g_vq, 16, NULL, a, u, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_split(&g_vq, 16, d, NULL, u, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_split(&g_vq, 16, d, a, NULL, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_split(&g_vq, 1, d, a, u, false, 0, 0), 0);
	assert_int_equal(vq_init_split(&g_vq, 32768, d, a, u, false, 0, 0), 0);
	assert_false(g_vq.packed);
}

static void
test_split_direct_chain(void **state)
{
	split_setup(16, false);
	assert_false(vq_has_avail(&g_vq));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);

	/* header, data crossing R0 -> R1, status */
	sdesc(0, 0x8000, 16, R | N, 1);
	sdesc(1, 0xff00, 0x200, W | N, 2);
	sdesc(2, 0x9000, 1, W, 0);
	spublish(0);
	assert_true(vq_has_avail(&g_vq));
	snapshot();
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_untouched();
	assert_chain_sane(&g_chain);
	assert_int_equal(g_chain.id, 0);
	assert_int_equal(g_chain.iovcnt, 4);
	assert_int_equal(g_chain.nreadable, 1);
	assert_int_equal(g_chain.readable_len, 16);
	assert_int_equal(g_chain.writable_len, 0x201);
	assert_ptr_equal(g_chain.iov[0].iov_base, gp(0x8000));
	assert_ptr_equal(g_chain.iov[1].iov_base, gp(0xff00));
	assert_int_equal(g_chain.iov[1].iov_len, 0x100);
	assert_ptr_equal(g_chain.iov[2].iov_base, gp(0x10000));
	assert_int_equal(g_chain.iov[2].iov_len, 0x100);
	assert_ptr_equal(g_chain.iov[3].iov_base, gp(0x9000));
	assert_int_equal(g_chain.iov[3].iov_len, 1);
	assert_false(vq_has_avail(&g_vq));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);

	vq_push(&g_vq, 0, g_chain.ndesc, 0x201);
	assert_int_equal(g_used->idx, 1);
	assert_int_equal(g_used->ring[0].id, 0);
	assert_int_equal(g_used->ring[0].len, 0x201);
	assert_int_equal(vq_get_avail_base(&g_vq), 1);
	assert_int_equal(vq_get_used_base(&g_vq), 1);
}

static void
test_split_indirect(void **state)
{
	split_setup(16, false);
	/* Table entries linked out of order: 0 -> 2 -> 1. */
	tdesc(0x100000, 0, 0x8000, 16, R | N, 2);
	tdesc(0x100000, 2, 0x100800, 512, W | N, 1);
	tdesc(0x100000, 1, 0x9000, 1, W, 0);
	sdesc(5, 0x100000, 48, I, 0);
	spublish(5);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_chain_sane(&g_chain);
	assert_int_equal(g_chain.id, 5);
	assert_int_equal(g_chain.iovcnt, 3);
	assert_int_equal(g_chain.nreadable, 1);
	assert_ptr_equal(g_chain.iov[1].iov_base, gp(0x100800));
	assert_int_equal(g_chain.writable_len, 513);

	/* Direct descriptors, then an indirect table that ends the chain;
	 * WRITE on the indirect descriptor itself is ignored (2.6.5.3.2). */
	tdesc(0x100100, 0, 0x9000, 1, W, 0);
	sdesc(6, 0x8000, 16, R | N, 7);
	sdesc(7, 0x100100, 16, I | W, 0);
	spublish(6);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_chain_sane(&g_chain);
	assert_int_equal(g_chain.id, 6);
	assert_int_equal(g_chain.iovcnt, 2);
	assert_int_equal(g_chain.nreadable, 1);

	/* An indirect table at an unaligned address is read correctly. */
	{
		struct vring_desc d = { 0x8000, 7, R, 0 };

		memcpy(gp(0x100203), &d, sizeof(d));
	}
	sdesc(8, 0x100203, 16, I, 0);
	spublish(8);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.readable_len, 7);
}

static void
test_split_out_of_order_many_laps(void **state)
{
	static const uint16_t order[5] = { 3, 0, 4, 1, 2 };
	uint16_t used = 0;

	split_setup(8, false);
	for (int round = 0; round < 30; round++) {
		for (uint16_t i = 0; i < 5; i++) {
			sdesc(i, 0x8000 + i * 0x100, 0x10 + i, W, 0);
			spublish(i);
		}
		for (uint16_t i = 0; i < 5; i++) {
			assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
			assert_int_equal(g_chain.id, i);
			assert_int_equal(g_chain.writable_len, 0x10 + i);
		}
		assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);
		for (int i = 0; i < 5; i++)
			vq_push(&g_vq, order[i], 1, order[i] * 10);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(g_used->ring[(used + i) % 8].id, order[i]);
			assert_int_equal(g_used->ring[(used + i) % 8].len, order[i] * 10);
		}
		used += 5;
		assert_int_equal(g_used->idx, used);
	}
	assert_int_equal(vq_get_avail_base(&g_vq), 150);
	assert_int_equal(vq_get_used_base(&g_vq), 150);
}

static void
test_split_resume_across_index_wrap(void **state)
{
	split_setup(8, false);
	/* As if the queue had already run 65534 requests. */
	g_avail->idx = 65534;
	g_used->idx = 65534;
	assert_int_equal(vq_init_split(&g_vq, 8, g_desc, g_avail, g_used, false, 65534, 65534), 0);
	assert_false(vq_has_avail(&g_vq));
	for (uint16_t i = 0; i < 4; i++) {
		sdesc(i, 0x8000, 4, W, 0);
		spublish(i);
	}
	assert_int_equal(g_avail->idx, 2);
	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
		assert_int_equal(g_chain.id, i);
		vq_push(&g_vq, i, g_chain.ndesc, 4);
	}
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);
	assert_int_equal(g_used->idx, 2);
	assert_int_equal(g_used->ring[(65534 + 3) % 8].id, 3);
	assert_int_equal(vq_get_avail_base(&g_vq), 2);
	assert_int_equal(vq_get_used_base(&g_vq), 2);
}

static void
test_split_get_chain(void **state)
{
	split_setup(16, false);
	sdesc(3, 0x8000, 16, R | N, 4);
	sdesc(4, 0x9000, 1, W, 0);
	spublish(3);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);

	/* Re-read the in-flight head: same chain, index untouched. */
	memset(&g_chain, 0, sizeof(g_chain));
	assert_int_equal(vq_get_chain_split(&g_vq, &g_mem, 3, &g_chain), 1);
	assert_int_equal(g_chain.id, 3);
	assert_int_equal(g_chain.iovcnt, 2);
	assert_int_equal(vq_get_avail_base(&g_vq), 1);

	/* A malformed one is reported like vq_pop does... */
	sdesc(4, 0x50000, 1, W, 0);
	assert_int_equal(vq_get_chain_split(&g_vq, &g_mem, 3, &g_chain), -EINVAL);
	assert_int_equal(g_chain.id, 3);
	assert_int_equal(g_chain.iovcnt, 0);
	assert_false(g_vq.broken);
	/* ...and a head out of range breaks the queue. */
	assert_int_equal(vq_get_chain_split(&g_vq, &g_mem, 16, &g_chain), -EIO);
	assert_true(g_vq.broken);
}

static void
test_split_zero_length_descriptors(void **state)
{
	split_setup(16, false);
	/* Zero-length descriptors are skipped wherever they are, even with
	 * an address outside memory, and do not count as "writable" for the
	 * readable-before-writable rule. */
	sdesc(0, 0x8000, 0, R | N, 1);
	sdesc(1, 0x50000, 0, W | N, 2);
	sdesc(2, 0x8000, 16, R | N, 3);
	sdesc(3, 0x9000, 0, W | N, 4);
	sdesc(4, 0x9000, 1, W, 0);
	spublish(0);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_chain_sane(&g_chain);
	assert_int_equal(g_chain.iovcnt, 2);
	assert_int_equal(g_chain.nreadable, 1);

	/* A request of nothing at all is still a request. */
	sdesc(5, 0x8000, 0, R, 0);
	spublish(5);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.id, 5);
	assert_int_equal(g_chain.iovcnt, 0);
}

static void
test_split_length_limits(void **state)
{
	split_setup(16, false);
	/* Exactly UINT32_MAX in total is fine (R3 is never touched)... */
	sdesc(0, R3_GPA, 0x80000000u, R | N, 1);
	sdesc(1, R3_GPA + 8, 0x7fffffffu, W, 0);
	spublish(0);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_chain_sane(&g_chain);
	assert_int_equal(g_chain.readable_len + g_chain.writable_len, UINT32_MAX);
	vq_push(&g_vq, 0, 1, 0);

	/* ...one more byte is not. */
	sdesc(1, R3_GPA, 0x80000000u, W, 0);
	expect_split_einval(0);

	/* VQ_MAX_IOVS iovecs fit; one more does not. */
	for (uint16_t i = 0; i < VQ_MAX_IOVS; i++)
		tdesc(0x101000, i, 0x8000 + i, 1, W | N, i + 1);
	tdesc(0x101000, VQ_MAX_IOVS - 1, 0x8000, 1, W, 0);
	sdesc(2, 0x101000, VQ_MAX_IOVS * 16, I, 0);
	spublish(2);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.iovcnt, VQ_MAX_IOVS);
	assert_chain_sane(&g_chain);
	vq_push(&g_vq, 2, 1, 0);
	/* The last entry crossing R0 -> R1 makes it VQ_MAX_IOVS + 1. */
	tdesc(0x101000, VQ_MAX_IOVS - 1, 0xffff, 2, W, 0);
	expect_split_einval(2);
	/* So does a 137-entry table. */
	tdesc(0x101000, VQ_MAX_IOVS - 1, 0x8000, 1, W | N, VQ_MAX_IOVS);
	tdesc(0x101000, VQ_MAX_IOVS, 0x8000, 1, W, 0);
	sdesc(2, 0x101000, (VQ_MAX_IOVS + 1) * 16, I, 0);
	expect_split_einval(2);
}

/* ---- split: hostile requests ------------------------------------------ */

static void
test_split_bad_next(void **state)
{
	split_setup(16, false);
	sdesc(0, 0x8000, 16, R | N, 16);
	expect_split_einval(0);
	sdesc(0, 0x8000, 16, R | N, 0xffff);
	expect_split_einval(0);
	/* In an indirect table: next beyond the table (but inside the ring
	 * size) is out of range too. */
	tdesc(0x100000, 0, 0x8000, 16, R | N, 2);
	tdesc(0x100000, 1, 0x9000, 1, W, 0);
	sdesc(1, 0x100000, 32, I, 0);
	expect_split_einval(1);
}

static void
test_split_loops(void **state)
{
	split_setup(16, false);
	sdesc(0, 0x8000, 16, R | N, 1);
	sdesc(1, 0x9000, 16, R | N, 0);
	expect_split_einval(0);
	sdesc(3, 0x8000, 16, R | N, 3);
	expect_split_einval(3);
	/* Zero-length loops add no iovecs but must still end. */
	sdesc(4, 0x8000, 0, R | N, 4);
	expect_split_einval(4);
	/* A loop inside an indirect table. */
	tdesc(0x100000, 0, 0x8000, 0, R | N, 1);
	tdesc(0x100000, 1, 0x8000, 0, R | N, 0);
	sdesc(5, 0x100000, 32, I, 0);
	expect_split_einval(5);
	/* The whole ring as one chain is allowed (size descriptors). */
	for (uint16_t i = 0; i < 16; i++)
		sdesc(i, 0x8000 + i, 1, W | N, (i + 1) % 16);
	sdesc(15, 0x8000, 1, W, 0);
	spublish(0);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.iovcnt, 16);
	vq_push(&g_vq, 0, 1, 0);
	/* size + 1 (a loop back to the head) is not. */
	sdesc(15, 0x8000, 1, W | N, 0);
	expect_split_einval(0);
}

static void
test_split_bad_indirect(void **state)
{
	split_setup(16, false);
	tdesc(0x100000, 0, 0x9000, 1, W, 0);
	tdesc(0x100000, 1, 0x9000, 1, W, 0);
	/* length 0, not a multiple of 16, more than 65536 entries */
	sdesc(0, 0x100000, 0, I, 0);
	expect_split_einval(0);
	sdesc(0, 0x100000, 20, I, 0);
	expect_split_einval(0);
	sdesc(0, 0x100000, 65537 * 16, I, 0);
	expect_split_einval(0);
	/* outside memory, partly outside, crossing R0 -> R1 (a table must
	 * be contiguous), gpa + len overflowing */
	sdesc(0, 0x50000, 16, I, 0);
	expect_split_einval(0);
	sdesc(0, 0x107ff0, 32, I, 0);
	expect_split_einval(0);
	sdesc(0, 0xfff0, 32, I, 0);
	expect_split_einval(0);
	sdesc(0, 0xfffffffffffffff0ull, 32, I, 0);
	expect_split_einval(0);
	/* INDIRECT together with NEXT */
	sdesc(0, 0x100000, 16, I | N, 1);
	sdesc(1, 0x9000, 1, W, 0);
	expect_split_einval(0);
	/* indirect inside indirect */
	tdesc(0x100000, 0, 0x100100, 16, I, 0);
	tdesc(0x100100, 0, 0x9000, 1, W, 0);
	sdesc(0, 0x100000, 16, I, 0);
	expect_split_einval(0);
	/* a bad buffer inside a table */
	tdesc(0x100000, 0, 0x50000, 1, W, 0);
	expect_split_einval(0);
}

static void
test_split_bad_buffers(void **state)
{
	split_setup(16, false);
	/* in the gap, running off R2's end, running off R1 into the gap,
	 * gpa + len overflowing, a huge length from a valid address */
	sdesc(0, 0x8000, 16, R | N, 1);
	sdesc(1, 0x50000, 16, W, 0);
	expect_split_einval(0);
	sdesc(1, 0x107ff0, 0x11, W, 0);
	expect_split_einval(0);
	sdesc(1, 0x1fff0, 0x20, W, 0);
	expect_split_einval(0);
	sdesc(1, 0xffffffffffffff00ull, 0x200, W, 0);
	expect_split_einval(0);
	sdesc(1, 0x8000, 0xffffffffu, W, 0);
	expect_split_einval(0);
	/* readable after writable (a device write into a buffer the guest
	 * meant as read-only input would be the next mistake) */
	sdesc(0, 0x9000, 1, W | N, 1);
	sdesc(1, 0x8000, 16, R, 0);
	expect_split_einval(0);
	tdesc(0x100000, 0, 0x9000, 1, W | N, 1);
	tdesc(0x100000, 1, 0x8000, 16, R, 0);
	sdesc(0, 0x100000, 32, I, 0);
	expect_split_einval(0);
}

static void
test_split_bad_ring(void **state)
{
	split_setup(16, false);
	/* head index out of range */
	spublish(16);
	expect_split_eio();

	/* more available than the ring holds */
	reset(state);
	split_setup(16, false);
	g_avail->idx = 17;
	expect_split_eio();

	/* exactly a full ring is fine */
	reset(state);
	split_setup(16, false);
	for (uint16_t i = 0; i < 16; i++) {
		sdesc(i, 0x8000, 1, W, 0);
		spublish(i);
	}
	for (uint16_t i = 0; i < 16; i++)
		assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);
	/* the guest moving avail->idx backwards looks like 65535 entries */
	g_avail->idx = 10;
	expect_split_eio();
}

/* ---- split: notifications ---------------------------------------------- */

static void
test_split_notify_flags(void **state)
{
	split_setup(16, false);
	vq_push(&g_vq, 0, 1, 0);
	assert_true(vq_should_notify(&g_vq));
	/* nothing new since the last decision */
	assert_false(vq_should_notify(&g_vq));
	g_avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vq_push(&g_vq, 1, 1, 0);
	assert_false(vq_should_notify(&g_vq));
	g_avail->flags = 0;
	vq_push(&g_vq, 2, 1, 0);
	assert_true(vq_should_notify(&g_vq));
	/* used_event is ignored without event idx */
	*used_event() = 100;
	vq_push(&g_vq, 3, 1, 0);
	assert_true(vq_should_notify(&g_vq));
}

static void
test_split_notify_event_idx(void **state)
{
	split_setup(16, true);
	/* NO_INTERRUPT is ignored with event idx. */
	g_avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vq_push(&g_vq, 0, 1, 0);
	assert_true(vq_should_notify(&g_vq)); /* first decision: no history */

	/* The guest wants an interrupt once entry 5 is used (idx 5 -> 6). */
	*used_event() = 5;
	vq_push(&g_vq, 1, 1, 0);
	vq_push(&g_vq, 2, 1, 0);
	assert_false(vq_should_notify(&g_vq)); /* used idx 3 */
	vq_push(&g_vq, 3, 1, 0);
	vq_push(&g_vq, 4, 1, 0);
	assert_false(vq_should_notify(&g_vq)); /* 5 */
	vq_push(&g_vq, 5, 1, 0);
	assert_true(vq_should_notify(&g_vq));  /* 6: crossed */
	vq_push(&g_vq, 6, 1, 0);
	assert_false(vq_should_notify(&g_vq)); /* 7: event behind us */
	/* A batch that crosses the event as a whole. */
	*used_event() = 8;
	vq_push(&g_vq, 7, 1, 0);
	vq_push(&g_vq, 8, 1, 0);
	vq_push(&g_vq, 9, 1, 0);
	assert_true(vq_should_notify(&g_vq));  /* 7 -> 10 covers 8 */
	assert_false(vq_should_notify(&g_vq)); /* nothing new */
	/* Across the 16-bit wrap. */
	*used_event() = 65535;
	for (uint32_t i = 10; i < 65535; i++)
		vq_push(&g_vq, 0, 1, 0);
	assert_false(vq_should_notify(&g_vq)); /* 65535 */
	vq_push(&g_vq, 0, 1, 0);
	vq_push(&g_vq, 0, 1, 0);
	assert_true(vq_should_notify(&g_vq));  /* 1 */
}

static void
test_split_kick_suppression(void **state)
{
	split_setup(16, false);
	vq_enable_kick(&g_vq, false);
	assert_int_equal(g_used->flags, VRING_USED_F_NO_NOTIFY);
	vq_enable_kick(&g_vq, true);
	assert_int_equal(g_used->flags, 0);

	reset(state);
	split_setup(16, true);
	sdesc(0, 0x8000, 1, W, 0);
	vq_enable_kick(&g_vq, true);
	assert_int_equal(*avail_event(), 0);
	/* The driver publishing entry 0 (0 -> 1) must kick. */
	assert_true(vring_need_event(*avail_event(), 1, 0));
	spublish(0);
	/* While kicks are wanted, popping moves the event along. */
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(*avail_event(), 1);
	assert_true(vring_need_event(*avail_event(), 2, 1));
	spublish(0);
	vq_enable_kick(&g_vq, false);
	assert_int_equal(g_used->flags, 0); /* must stay 0 with event idx */
	/* Disabled: the driver's next publications do not kick... */
	assert_false(vring_need_event(*avail_event(), 3, 2));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	/* ...and popping leaves the event alone. */
	assert_int_equal(*avail_event(), 0);
	spublish(0);
	assert_false(vring_need_event(*avail_event(), 3, 2));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	vq_enable_kick(&g_vq, true);
	assert_int_equal(*avail_event(), 3);
	assert_false(vq_has_avail(&g_vq));
}

/* ---- packed driver ------------------------------------------------------ */

static struct vring_packed_desc *g_pdesc;
static struct vring_packed_desc_event *g_drv_ev, *g_dev_ev;

static struct {
	uint16_t size, avail_idx, used_idx, free;
	bool avail_wrap, used_wrap;
	uint16_t ndesc[64];
} g_pd;

struct tbuf {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

static void
packed_setup(uint16_t size, bool event_idx)
{
	g_pdesc = gp(PACKED_DESC);
	g_drv_ev = gp(PACKED_DRV_EV);
	g_dev_ev = gp(PACKED_DEV_EV);
	memset(&g_pd, 0, sizeof(g_pd));
	g_pd.size = size;
	g_pd.free = size;
	g_pd.avail_wrap = true;
	g_pd.used_wrap = true;
	/* A fresh packed ring starts with both wrap counters at 1. */
	assert_int_equal(vq_init_packed(&g_vq, size, g_pdesc, g_drv_ev, g_dev_ev, event_idx,
					0x8000, 0x8000), 0);
}

static uint16_t
pflags(bool wrap, uint16_t f)
{
	return f | (wrap ? PF_AVAIL : PF_USED);
}

/* Makes a buffer of n descriptors available, NEXT added between them,
 * the head's flags written last. */
static void
padd(const struct tbuf *b, int n, uint16_t id)
{
	uint16_t head = g_pd.avail_idx, head_flags = 0;

	assert_true(n <= g_pd.free);
	for (int i = 0; i < n; i++) {
		struct vring_packed_desc *d = &g_pdesc[g_pd.avail_idx];
		uint16_t f = pflags(g_pd.avail_wrap, b[i].flags | (i < n - 1 ? N : 0));

		d->addr = b[i].addr;
		d->len = b[i].len;
		d->id = id;
		if (i == 0)
			head_flags = f;
		else
			d->flags = f;
		if (++g_pd.avail_idx == g_pd.size) {
			g_pd.avail_idx = 0;
			g_pd.avail_wrap = !g_pd.avail_wrap;
		}
	}
	__atomic_store_n(&g_pdesc[head].flags, head_flags, __ATOMIC_RELEASE);
	if (id < 64)
		g_pd.ndesc[id] = n;
	g_pd.free -= n;
}

static bool
preap(uint16_t *id, uint32_t *len)
{
	struct vring_packed_desc *d = &g_pdesc[g_pd.used_idx];
	uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);

	if (!!(f & PF_AVAIL) != g_pd.used_wrap || !!(f & PF_USED) != g_pd.used_wrap)
		return false;
	*id = d->id;
	*len = d->len;
	assert_int_equal(!!(f & W), *len != 0);
	g_pd.free += g_pd.ndesc[*id];
	g_pd.used_idx += g_pd.ndesc[*id];
	if (g_pd.used_idx >= g_pd.size) {
		g_pd.used_idx -= g_pd.size;
		g_pd.used_wrap = !g_pd.used_wrap;
	}
	return true;
}

static void
assert_packed_still_works(void)
{
	struct tbuf b = { 0x9000, 1, W };
	uint16_t id;
	uint32_t len;

	padd(&b, 1, 1);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.id, 1);
	assert_int_equal(g_chain.iovcnt, 1);
	vq_push(&g_vq, 1, g_chain.ndesc, 1);
	assert_true(preap(&id, &len));
	assert_int_equal(id, 1);
	assert_int_equal(len, 1);
}

static void
expect_packed_einval(const struct tbuf *b, int n, uint16_t id)
{
	uint16_t rid;
	uint32_t len;

	padd(b, n, id);
	snapshot();
	memset(&g_chain, 0x5a, sizeof(g_chain));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), -EINVAL);
	assert_untouched();
	assert_false(g_vq.broken);
	assert_int_equal(g_chain.id, id);
	assert_int_equal(g_chain.ndesc, n);
	assert_int_equal(g_chain.iovcnt, 0);
	assert_int_equal(g_chain.readable_len + g_chain.writable_len, 0);
	vq_push(&g_vq, g_chain.id, g_chain.ndesc, 0);
	assert_true(preap(&rid, &len));
	assert_int_equal(rid, id);
	assert_int_equal(len, 0);
	assert_packed_still_works();
}

/* ---- packed: good requests ---------------------------------------------- */

static void
test_packed_init_args(void **state)
{
	struct vring_packed_desc *d = gp(PACKED_DESC);
	struct vring_packed_desc_event *e = gp(PACKED_DRV_EV);

	assert_int_equal(vq_init_packed(&g_vq, 0, d, e, e, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_packed(&g_vq, 32769, d, e, e, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_packed(&g_vq, 5, NULL, e, e, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_packed(&g_vq, 5, d, NULL, e, false, 0, 0), -EINVAL);
	assert_int_equal(vq_init_packed(&g_vq, 5, d, e, NULL, false, 0, 0), -EINVAL);
	/* resume indexes beyond the ring */
	assert_int_equal(vq_init_packed(&g_vq, 5, d, e, e, false, 0x8005, 0x8000), -EINVAL);
	assert_int_equal(vq_init_packed(&g_vq, 5, d, e, e, false, 0x8000, 5), -EINVAL);
	assert_int_equal(vq_init_packed(&g_vq, 5, d, e, e, false, 0x8004, 3), 0);
	assert_true(g_vq.packed);
	assert_int_equal(vq_get_avail_base(&g_vq), 0x8004);
	assert_int_equal(vq_get_used_base(&g_vq), 3);
	assert_int_equal(vq_get_chain_split(&g_vq, &g_mem, 0, &g_chain), -ENOTSUP);
}

static void
test_packed_chain(void **state)
{
	struct tbuf b[3] = { { 0x8000, 16, R }, { 0xff00, 0x200, W }, { 0x9000, 1, W } };
	uint16_t id;
	uint32_t len;

	packed_setup(8, false);
	assert_false(vq_has_avail(&g_vq));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);
	padd(b, 3, 7);
	assert_true(vq_has_avail(&g_vq));
	snapshot();
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_untouched();
	assert_chain_sane(&g_chain);
	assert_int_equal(g_chain.id, 7);
	assert_int_equal(g_chain.ndesc, 3);
	assert_int_equal(g_chain.iovcnt, 4);
	assert_int_equal(g_chain.nreadable, 1);
	assert_int_equal(g_chain.writable_len, 0x201);
	assert_ptr_equal(g_chain.iov[2].iov_base, gp(0x10000));
	assert_false(vq_has_avail(&g_vq));
	assert_int_equal(vq_get_avail_base(&g_vq), 0x8003);

	vq_push(&g_vq, 7, 3, 0x201);
	assert_int_equal(g_pdesc[0].flags, PF_AVAIL | PF_USED | W);
	assert_true(preap(&id, &len));
	assert_int_equal(id, 7);
	assert_int_equal(len, 0x201);
	assert_int_equal(vq_get_used_base(&g_vq), 0x8003);
	assert_false(preap(&id, &len));
}

static void
test_packed_indirect(void **state)
{
	struct vring_packed_desc *t = gp(0x100000);
	struct tbuf b = { 0x100000, 48, I };

	packed_setup(8, false);
	t[0] = (struct vring_packed_desc){ 0x8000, 16, 0, R };
	/* NEXT inside a packed table means nothing: entries run in order. */
	t[1] = (struct vring_packed_desc){ 0x100800, 512, 0, W | N };
	t[2] = (struct vring_packed_desc){ 0x9000, 1, 0, W };
	padd(&b, 1, 2);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_chain_sane(&g_chain);
	assert_int_equal(g_chain.id, 2);
	assert_int_equal(g_chain.ndesc, 1);
	assert_int_equal(g_chain.iovcnt, 3);
	assert_int_equal(g_chain.nreadable, 1);
	assert_int_equal(g_chain.writable_len, 513);
}

/* Runs `rounds` rounds of: fill the ring with buffers of 1..3
 * descriptors, pop them all, complete them in reverse order, reap. */
static void
packed_laps(int rounds, int *seq)
{
	for (int round = 0; round < rounds; round++) {
		uint16_t ids[64], nids = 0, id;
		uint32_t len;

		while (nids < g_pd.size) {
			int n = 1 + (*seq)++ % 3;
			struct tbuf b[3] = { { 0x8000, 16, R }, { 0xfff8, 16, W },
					     { 0x9000 + nids, 1, W } };

			if (n > g_pd.free)
				break;
			padd(b, n, nids);
			ids[nids++] = n;
		}
		for (uint16_t i = 0; i < nids; i++) {
			assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
			assert_chain_sane(&g_chain);
			assert_int_equal(g_chain.id, i);
			assert_int_equal(g_chain.ndesc, ids[i]);
		}
		assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);
		for (int i = nids - 1; i >= 0; i--)
			vq_push(&g_vq, i, ids[i], 100 + i);
		for (int i = nids - 1; i >= 0; i--) {
			assert_true(preap(&id, &len));
			assert_int_equal(id, i);
			assert_int_equal(len, 100 + i);
		}
		assert_false(preap(&id, &len));
		assert_int_equal(g_pd.free, g_pd.size);
		assert_int_equal(vq_get_avail_base(&g_vq),
				 g_pd.avail_idx | (g_pd.avail_wrap ? 0x8000 : 0));
		assert_int_equal(vq_get_used_base(&g_vq),
				 g_pd.used_idx | (g_pd.used_wrap ? 0x8000 : 0));
	}
}

static void
test_packed_laps_and_resume(void **state)
{
	int seq = 0;
	uint16_t ab, ub;

	packed_setup(5, false);
	packed_laps(20, &seq); /* ~20 * 4 slots = 16 laps of a 5-slot ring */

	/* Resume from the vring base into a fresh virtqueue. */
	ab = vq_get_avail_base(&g_vq);
	ub = vq_get_used_base(&g_vq);
	memset(&g_vq, 0xff, sizeof(g_vq));
	assert_int_equal(vq_init_packed(&g_vq, 5, g_pdesc, g_drv_ev, g_dev_ev, false, ab, ub), 0);
	packed_laps(20, &seq);
}

/* ---- packed: hostile requests ------------------------------------------- */

static void
test_packed_bad_requests(void **state)
{
	struct vring_packed_desc *t = gp(0x100000);
	struct tbuf ind_next[2] = { { 0x100000, 16, I }, { 0x9000, 1, W } };
	struct tbuf ind_second[2] = { { 0x8000, 16, R }, { 0x100000, 16, I } };
	struct tbuf ind_bad_len = { 0x100000, 24, I };
	struct tbuf ind_zero = { 0x100000, 0, I };
	struct tbuf ind_huge = { 0x100000, 65537 * 16, I };
	struct tbuf ind_out = { 0x50000, 16, I };
	struct tbuf ind_cross = { 0xfff0, 32, I };
	struct tbuf ind_nested = { 0x100000, 16, I };
	struct tbuf gap[3] = { { 0x8000, 16, R }, { 0x50000, 16, W }, { 0x9000, 1, W } };
	struct tbuf overflow[2] = { { 0x8000, 16, R }, { 0xffffffffffffff00ull, 0x200, W } };
	struct tbuf order[2] = { { 0x9000, 1, W }, { 0x8000, 16, R } };
	struct tbuf too_long[2] = { { R3_GPA, 0x80000000u, R }, { R3_GPA, 0x80000000u, W } };
	struct tbuf zero[3] = { { 0x50000, 0, W }, { 0x8000, 16, R }, { 0x9000, 1, W } };

	packed_setup(7, false);
	t[0] = (struct vring_packed_desc){ 0x9000, 1, 0, W };
	expect_packed_einval(ind_next, 2, 3);
	expect_packed_einval(ind_second, 2, 4);
	expect_packed_einval(&ind_bad_len, 1, 0);
	expect_packed_einval(&ind_zero, 1, 0);
	expect_packed_einval(&ind_huge, 1, 0);
	expect_packed_einval(&ind_out, 1, 6);
	expect_packed_einval(&ind_cross, 1, 6);
	t[0] = (struct vring_packed_desc){ 0x100100, 16, 0, I };
	expect_packed_einval(&ind_nested, 1, 5);
	t[0] = (struct vring_packed_desc){ 0x50000, 1, 0, W };
	expect_packed_einval(&ind_nested, 1, 5);
	expect_packed_einval(gap, 3, 2);
	expect_packed_einval(overflow, 2, 0);
	expect_packed_einval(order, 2, 0);
	expect_packed_einval(too_long, 2, 0);

	/* zero-length descriptors are skipped */
	padd(zero, 3, 0);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.ndesc, 3);
	assert_int_equal(g_chain.iovcnt, 2);
	assert_int_equal(g_chain.nreadable, 1);
}

static void
test_packed_too_many_iovs(void **state)
{
	struct vring_packed_desc *t = gp(0x101000);
	struct tbuf b = { 0x101000, (VQ_MAX_IOVS + 1) * 16, I };

	packed_setup(8, false);
	for (int i = 0; i <= VQ_MAX_IOVS; i++)
		t[i] = (struct vring_packed_desc){ 0x8000 + i, 1, 0, W };
	expect_packed_einval(&b, 1, 0);
	b.len = VQ_MAX_IOVS * 16;
	padd(&b, 1, 0);
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 1);
	assert_int_equal(g_chain.iovcnt, VQ_MAX_IOVS);
}

static void
test_packed_bad_ring(void **state)
{
	struct tbuf b = { 0x9000, 1, W };

	/* buffer id out of range */
	packed_setup(8, false);
	padd(&b, 1, 8);
	snapshot();
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), -EIO);
	assert_untouched();
	assert_true(g_vq.broken);
	assert_false(vq_has_avail(&g_vq));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), -EIO);

	/* a chain that never ends: every slot available with NEXT */
	reset(state);
	packed_setup(8, false);
	for (int i = 0; i < 8; i++) {
		g_pdesc[i] = (struct vring_packed_desc){ 0x8000, 16, 0, pflags(true, R | N) };
	}
	snapshot();
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), -EIO);
	assert_untouched();
	assert_true(g_vq.broken);

	/* a driver that used the wrong wrap counter: nothing available */
	reset(state);
	packed_setup(8, false);
	g_pdesc[0] = (struct vring_packed_desc){ 0x8000, 16, 0, pflags(false, R) };
	assert_false(vq_has_avail(&g_vq));
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);
	g_pdesc[0].flags = PF_AVAIL | PF_USED;
	assert_int_equal(vq_pop(&g_vq, &g_mem, &g_chain), 0);
	assert_false(g_vq.broken);
}

/* ---- packed: notifications ---------------------------------------------- */

static void
test_packed_notify(void **state)
{
	packed_setup(8, true);
	g_drv_ev->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	vq_push(&g_vq, 0, 1, 0);
	assert_false(vq_should_notify(&g_vq));
	g_drv_ev->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	vq_push(&g_vq, 0, 1, 0);
	assert_true(vq_should_notify(&g_vq));
	assert_false(vq_should_notify(&g_vq)); /* nothing new */

	/* DESC: interrupt once the used descriptor at slot 3 (lap with
	 * wrap 1) has been written. */
	g_drv_ev->off_wrap = 3 | 0x8000;
	g_drv_ev->flags = VRING_PACKED_EVENT_FLAG_DESC;
	vq_push(&g_vq, 0, 1, 0);                /* slot 2 */
	assert_false(vq_should_notify(&g_vq));
	vq_push(&g_vq, 0, 1, 0);                /* slot 3 */
	assert_true(vq_should_notify(&g_vq));
	for (int i = 0; i < 4; i++)
		vq_push(&g_vq, 0, 1, 0);        /* slots 4..7, wraps */
	assert_int_equal(vq_get_used_base(&g_vq), 0);
	assert_false(vq_should_notify(&g_vq));  /* slot 3 is a lap behind */
	/* next lap (wrap 0), slot 1, reached by a batch of two */
	g_drv_ev->off_wrap = 1;
	vq_push(&g_vq, 0, 1, 0);
	vq_push(&g_vq, 0, 1, 0);
	assert_true(vq_should_notify(&g_vq));
	/* an event in the future */
	g_drv_ev->off_wrap = 6;
	vq_push(&g_vq, 0, 3, 0);                /* slots 2..4 */
	assert_false(vq_should_notify(&g_vq));
	/* a batch of several descriptors passing over it */
	vq_push(&g_vq, 0, 3, 0);                /* slots 5..7 */
	assert_true(vq_should_notify(&g_vq));
	/* an offset the ring cannot hold */
	g_drv_ev->off_wrap = 9 | 0x8000;
	vq_push(&g_vq, 0, 1, 0);
	assert_false(vq_should_notify(&g_vq));

	/* without event idx, DESC is treated as ENABLE */
	reset(state);
	packed_setup(8, false);
	g_drv_ev->off_wrap = 5 | 0x8000;
	g_drv_ev->flags = VRING_PACKED_EVENT_FLAG_DESC;
	vq_push(&g_vq, 0, 1, 0);
	assert_true(vq_should_notify(&g_vq));
	vq_push(&g_vq, 0, 1, 0);
	assert_true(vq_should_notify(&g_vq));
}

static void
test_packed_kick_suppression(void **state)
{
	packed_setup(8, true);
	vq_enable_kick(&g_vq, false);
	assert_int_equal(g_dev_ev->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	vq_enable_kick(&g_vq, true);
	assert_int_equal(g_dev_ev->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_split_init_args),
		T(test_split_direct_chain),
		T(test_split_indirect),
		T(test_split_out_of_order_many_laps),
		T(test_split_resume_across_index_wrap),
		T(test_split_get_chain),
		T(test_split_zero_length_descriptors),
		T(test_split_length_limits),
		T(test_split_bad_next),
		T(test_split_loops),
		T(test_split_bad_indirect),
		T(test_split_bad_buffers),
		T(test_split_bad_ring),
		T(test_split_notify_flags),
		T(test_split_notify_event_idx),
		T(test_split_kick_suppression),
		T(test_packed_init_args),
		T(test_packed_chain),
		T(test_packed_indirect),
		T(test_packed_laps_and_resume),
		T(test_packed_bad_requests),
		T(test_packed_too_many_iovs),
		T(test_packed_bad_ring),
		T(test_packed_notify),
		T(test_packed_kick_suppression),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
