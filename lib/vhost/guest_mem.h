/*
 * Guest memory as the vhost-user memory table describes it: the regions of
 * guest-physical address space, each mapped somewhere in lvstord's address
 * space. Every address a guest hands us (descriptor buffers, indirect
 * tables) goes through here, and here is where a hostile address stops: a
 * range that is not wholly inside the regions is refused, never clamped.
 *
 * Pure code: no rte_vhost, no threads; unit-tested and fuzzed alone.
 */
#ifndef LVSTOR_VHOST_GUEST_MEM_H
#define LVSTOR_VHOST_GUEST_MEM_H

#include <stdint.h>
#include <sys/uio.h>

/* vhost-user allows up to 509 slots with CONFIGURE_MEM_SLOTS; QEMU uses few. */
#define GUEST_MEM_MAX_REGIONS 64

struct guest_mem_region {
	uint64_t guest_phys_addr;
	uint64_t size;
	uint64_t host_addr; /* where [guest_phys_addr, +size) is mapped here */
};

struct guest_mem {
	uint32_t nregions;
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
};

/*
 * Translates [gpa, gpa + len) into host iovecs appended at iov[*iovcnt],
 * one per region the range crosses (adjacent regions are common: QEMU
 * splits RAM around the PCI hole). len 0 appends nothing and succeeds.
 * Returns 0, -EFAULT if any byte of the range is outside every region or
 * gpa + len overflows, -E2BIG if more than max_iov iovecs would be needed.
 * On error *iovcnt is unchanged.
 */
int guest_mem_to_iovs(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
		      struct iovec *iov, int *iovcnt, int max_iov);

/*
 * Returns the host address of [gpa, gpa + len) when the whole range lies in
 * one region (ring structures and indirect descriptor tables must be
 * contiguous), NULL otherwise (including overflow and len 0).
 */
void *guest_mem_to_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

#endif
