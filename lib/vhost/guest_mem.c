/*
 * Guest-physical to host-virtual translation over the vhost-user memory
 * table.
 *
 * Invariants this file keeps:
 *  - a range is translated only if every byte of it lies in some region;
 *    nothing is clamped, so a caller never gets a shorter buffer than the
 *    guest described and never one that reaches past a region's mapping;
 *  - arithmetic is done on offsets inside a region (gpa - region start,
 *    compared with the region size), never on gpa + len, so a guest
 *    address near 2^64 cannot wrap around into a region;
 *  - outputs are written only on success (*iovcnt is untouched on error).
 *
 * Regions are looked up linearly: QEMU hands us a handful (RAM below and
 * above the PCI hole, maybe a few hotplugged DIMMs), so a search structure
 * would cost more than it saves, and the table is immutable while a
 * virtqueue is being processed (the session code swaps it only with the
 * queues stopped).
 */
#include <errno.h>
#include <stddef.h>

#include "guest_mem.h"

/* The region holding gpa, or NULL. Overlapping regions are not expected;
 * if a memory table has them, the first match wins, which is still safe
 * because the length check is done against that region alone. */
static const struct guest_mem_region *
find_region(const struct guest_mem *mem, uint64_t gpa)
{
	uint32_t n = mem->nregions < GUEST_MEM_MAX_REGIONS ? mem->nregions :
		     GUEST_MEM_MAX_REGIONS;

	for (uint32_t i = 0; i < n; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		if (gpa >= r->guest_phys_addr && gpa - r->guest_phys_addr < r->size)
			return r;
	}
	return NULL;
}

int
guest_mem_to_iovs(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
		  struct iovec *iov, int *iovcnt, int max_iov)
{
	int cnt = *iovcnt;

	if (len == 0)
		return 0;
	if (gpa + len < gpa)
		return -EFAULT;

	/* Each step consumes at least one byte and appends one iovec, so
	 * the loop ends after at most max_iov steps or len bytes. */
	while (len > 0) {
		const struct guest_mem_region *r = find_region(mem, gpa);
		uint64_t off, chunk;

		if (r == NULL)
			return -EFAULT;
		if (cnt >= max_iov)
			return -E2BIG;
		off = gpa - r->guest_phys_addr;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		iov[cnt].iov_base = (void *)(uintptr_t)(r->host_addr + off);
		iov[cnt].iov_len = chunk;
		cnt++;
		gpa += chunk;
		len -= chunk;
	}
	*iovcnt = cnt;
	return 0;
}

void *
guest_mem_to_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct guest_mem_region *r;
	uint64_t off;

	if (len == 0 || gpa + len < gpa)
		return NULL;
	r = find_region(mem, gpa);
	if (r == NULL)
		return NULL;
	off = gpa - r->guest_phys_addr;
	if (len > r->size - off)
		return NULL;
	return (void *)(uintptr_t)(r->host_addr + off);
}
