/*
 * libFuzzer target for lib/vhost's virtqueue parser: the input is guest
 * memory as a hostile guest would lay it out (rings, descriptors,
 * indirect tables), and the device side pops everything from a split and
 * a packed queue over it. Built and run by `make fuzz` (clang with
 * -fsanitize=fuzzer,address,undefined; lib/vhost/guest_mem.c and
 * virtqueue.c are compiled into the target alone, without the rte_vhost
 * parts of lib/vhost). By hand:
 *
 *   make fuzz-build && build-fuzz/bin/virtqueue_fuzz -max_total_time=60 \
 *       test/fuzz/corpus/virtqueue_fuzz
 *
 * Input: an 8-byte header, then guest memory from gpa 0 (the rest of
 * memory is zero):
 *   byte 0  split queue size: 1 << (b % 9)      (1..256)
 *   byte 1  packed queue size: b + 1           (1..256)
 *   byte 2  bit 0: split EVENT_IDX, bit 1: packed EVENT_IDX,
 *           bit 2: complete in reverse order after popping everything
 *           (else each right after its pop), bit 3: packed queue starts
 *           with wrap counters 0 instead of 1
 *   byte 3-4  split last_avail/last_used to resume from (LE)
 *   byte 5-6  packed start slot (LE, modulo size)
 *   byte 7  unused
 * Guest memory: R0 gpa [0, 0x4000) and R1 [0x4000, 0x8000) (adjacent,
 * mapped apart), R2 [0x10000, 0x12000) after a gap; input bytes past
 * 0x8000 fill R2. Each region sits between PROT_NONE guard pages.
 *   0x0000 split desc   0x1000 split avail   0x1400 packed driver event
 *   0x1404 packed device event   0x1800 packed desc   0x2800 split used
 *
 * Checked: no crash or sanitizer report; every iovec of every popped
 * chain lies inside one region (and its first and last bytes are read,
 * the writable ones written); counters add up; a malformed request comes
 * back with no iovecs and a completable id/ndesc; vq_has_avail agrees
 * with vq_pop; re-reading a split head gives the same chain.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../lib/vhost/virtqueue.h"

#define HDR 8
#define PAGE 4096u
#define NREG 3
#define SPLIT_DESC 0x0000
#define SPLIT_AVAIL 0x1000
#define PACKED_DRV_EV 0x1400
#define PACKED_DEV_EV 0x1404
#define PACKED_DESC 0x1800
#define SPLIT_USED 0x2800

static const uint64_t g_gpa[NREG] = { 0x0, 0x4000, 0x10000 };
static const uint64_t g_len[NREG] = { 0x4000, 0x4000, 0x2000 };
static uint8_t *g_host[NREG];
static struct guest_mem g_mem;
static struct vq_chain g_chain, g_again;
static struct {
	uint16_t id, ndesc;
} g_done[1024];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
map_memory(void)
{
	for (int i = 0; i < NREG; i++) {
		uint8_t *m = mmap(NULL, g_len[i] + 2 * PAGE, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		assert(m != MAP_FAILED);
		assert(mprotect(m + PAGE, g_len[i], PROT_READ | PROT_WRITE) == 0);
		g_host[i] = m + PAGE;
		g_mem.regions[i].guest_phys_addr = g_gpa[i];
		g_mem.regions[i].size = g_len[i];
		g_mem.regions[i].host_addr = (uintptr_t)g_host[i];
	}
	g_mem.nregions = NREG;
}

static void *
gp(uint64_t gpa)
{
	void *p = guest_mem_to_ptr(&g_mem, gpa, 1);

	assert(p != NULL);
	return p;
}

static void
check_chain(const struct virtqueue *vq, const struct vq_chain *c, int rc)
{
	uint64_t rd = 0, wr = 0;
	volatile uint8_t sink;

	assert(c->id < vq->size);
	assert(c->ndesc >= 1 && c->ndesc <= vq->size);
	if (rc == -EINVAL) {
		assert(c->iovcnt == 0 && c->nreadable == 0);
		assert(c->readable_len == 0 && c->writable_len == 0);
		return;
	}
	assert(c->iovcnt >= 0 && c->iovcnt <= VQ_MAX_IOVS);
	assert(c->nreadable >= 0 && c->nreadable <= c->iovcnt);
	for (int i = 0; i < c->iovcnt; i++) {
		uint8_t *b = c->iov[i].iov_base;
		size_t l = c->iov[i].iov_len;
		bool inside = false;

		assert(l > 0);
		for (int r = 0; r < NREG; r++) {
			if (b >= g_host[r] && l <= g_len[r] && (size_t)(b - g_host[r]) <= g_len[r] - l)
				inside = true;
		}
		assert(inside);
		if (i < c->nreadable) {
			sink = b[0];
			sink = b[l - 1];
			rd += l;
		} else {
			b[0] = 0x77;
			b[l - 1] = 0x77;
			wr += l;
		}
	}
	(void)sink;
	assert(rd == c->readable_len && wr == c->writable_len);
	assert(rd + wr <= UINT32_MAX);
}

/* Pops until nothing or a broken ring, completing as the flags say. */
static void
drain(struct virtqueue *vq, bool reverse)
{
	int n = 0, cap = 2 * vq->size + 8;

	for (int iter = 0; iter < cap; iter++) {
		bool has = vq_has_avail(vq);
		int rc = vq_pop(vq, &g_mem, &g_chain);

		assert(rc == 1 || rc == 0 || rc == -EINVAL || rc == -EIO);
		assert(has == (rc != 0) || (rc == -EIO && !has));
		if (rc == 0)
			break;
		if (rc == -EIO) {
			assert(vq->broken);
			break;
		}
		if (!vq->packed && !vq->event_idx) {
			/* Re-reading the head (inflight resubmission) before
			 * we write into the buffers gives the same chain.
			 * (Not with event idx: pop writes avail_event, which
			 * an indirect table may overlap.) */
			int rc2 = vq_get_chain_split(vq, &g_mem, g_chain.id, &g_again);

			assert(rc2 == rc);
			assert(g_again.iovcnt == g_chain.iovcnt);
			assert(memcmp(g_again.iov, g_chain.iov,
				      sizeof(struct iovec) * g_chain.iovcnt) == 0);
		}
		check_chain(vq, &g_chain, rc);
		if (reverse) {
			g_done[n].id = g_chain.id;
			g_done[n].ndesc = g_chain.ndesc;
			n++;
		} else {
			vq_push(vq, g_chain.id, g_chain.ndesc, (uint32_t)g_chain.writable_len);
			(void)vq_should_notify(vq);
		}
	}
	while (n > 0) {
		n--;
		vq_push(vq, g_done[n].id, g_done[n].ndesc, 1);
	}
	(void)vq_should_notify(vq);
	vq_enable_kick(vq, true);
	(void)vq_has_avail(vq);
	vq_enable_kick(vq, false);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtqueue vq;
	uint16_t ssize, psize, sbase, pslot, avail_base, used_base;
	uint8_t flags;
	size_t off = 0;

	if (g_mem.nregions == 0)
		map_memory();
	if (size < HDR)
		return 0;
	ssize = 1u << (data[0] % 9);
	psize = data[1] + 1u;
	flags = data[2];
	sbase = data[3] | data[4] << 8;
	pslot = (data[5] | data[6] << 8) % psize;
	data += HDR;
	size -= HDR;
	for (int r = 0; r < NREG; r++) {
		size_t n = size - off < g_len[r] ? size - off : g_len[r];

		memset(g_host[r], 0, g_len[r]);
		memcpy(g_host[r], data + off, n);
		off += n;
	}

	assert(vq_init_split(&vq, ssize, gp(SPLIT_DESC), gp(SPLIT_AVAIL), gp(SPLIT_USED),
			     flags & 1, sbase, sbase) == 0);
	drain(&vq, flags & 4);

	avail_base = pslot | (flags & 8 ? 0 : 0x8000);
	used_base = avail_base;
	assert(vq_init_packed(&vq, psize, gp(PACKED_DESC), gp(PACKED_DRV_EV), gp(PACKED_DEV_EV),
			      flags & 2, avail_base, used_base) == 0);
	drain(&vq, flags & 4);
	/* Resume from the base we would report, and go on. */
	if (!vq.broken) {
		avail_base = vq_get_avail_base(&vq);
		used_base = vq_get_used_base(&vq);
		assert(vq_init_packed(&vq, psize, gp(PACKED_DESC), gp(PACKED_DRV_EV),
				      gp(PACKED_DEV_EV), flags & 2, avail_base, used_base) == 0);
		drain(&vq, !(flags & 4));
	}
	return 0;
}
