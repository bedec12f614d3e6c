/*
 * Device side of one virtqueue, split (virtio 1.1 section 2.6) or packed
 * (section 2.7): pop a descriptor chain as iovecs into guest memory, push
 * it back as used, decide about interrupts and kicks.
 *
 * The guest owns the rings and may rewrite them at any moment, including
 * while we read them. The invariants that keep a hostile guest harmless:
 *
 *  - A descriptor is bounds-checked before it is dereferenced: ring
 *    indexes are checked against the queue size (or an indirect table's
 *    length), and buffers and indirect tables go through guest_mem, which
 *    refuses any range not wholly inside the memory table.
 *  - Every guest-written value is read once into a local (ring_load() for
 *    naturally aligned ring fields, read_desc() for whole descriptors,
 *    which may be unaligned inside an indirect table) and only the local
 *    is checked and used, so a value cannot change between the check and
 *    the use.
 *  - Every walk is bounded: a split chain visits at most `size`
 *    descriptors of the ring and at most the table length of one indirect
 *    table (nested indirection is refused), a packed chain at most `size`
 *    slots. A loop is therefore just a chain that is too long.
 *  - Ordering: an acquire fence separates "the guest says it is available"
 *    (avail->idx, packed avail/used flags) from reading the descriptors;
 *    a release store publishes a used entry (split used->idx, packed
 *    descriptor flags) after its contents; a full fence separates our
 *    publishing from reading the guest's suppression fields (interrupts)
 *    and our kick-enable from re-reading the ring (kicks).
 *
 * Errors come in two kinds (see virtqueue.h): a malformed request is
 * consumed and completed with 0 bytes (-EINVAL), so one bad request
 * cannot wedge the guest's driver; a malformed ring (an index no correct
 * driver could produce) breaks the queue (-EIO), because nothing after it
 * can be trusted.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "virtqueue.h"

/* Longest indirect table we walk: next fields are 16 bits, so a longer
 * table could not be addressed by a split chain anyway. */
#define VQ_MAX_INDIRECT 65536u

#define PACKED_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PACKED_F_USED (1u << VRING_PACKED_DESC_F_USED)
#define WRAP_BIT (1u << 15)

/* One relaxed, single-copy-atomic load of an aligned guest-written ring
 * field; the compiler may neither repeat nor tear it. */
#define ring_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/*
 * Copies a 16-byte descriptor (split or packed layout) out of guest
 * memory. memcpy because an indirect table's address is the guest's
 * choice and need not be aligned; the empty asm with *out as an in/out
 * operand stops the compiler from dropping the copy and re-reading the
 * guest's memory later (a double fetch).
 */
static inline void
read_desc(void *out, const void *src)
{
	memcpy(out, src, 16);
	__asm__ volatile("" : "+m"(*(char (*)[16])out));
}

static void
chain_reset(struct vq_chain *chain)
{
	chain->iovcnt = 0;
	chain->nreadable = 0;
	chain->readable_len = 0;
	chain->writable_len = 0;
}

/*
 * Appends one data descriptor to chain. Zero-length descriptors are legal
 * but carry nothing: skipped entirely (they do not count as "writable"
 * for the ordering rule either). Returns 0 or -EINVAL.
 */
static int
chain_add(struct vq_chain *chain, const struct guest_mem *mem, uint64_t addr, uint32_t len,
	  bool writable, bool *seen_writable)
{
	if (len == 0)
		return 0;
	/* Device-readable buffers come first (virtio 1.1 2.6.4.2). */
	if (!writable && *seen_writable)
		return -EINVAL;
	if (guest_mem_to_iovs(mem, addr, len, chain->iov, &chain->iovcnt, VQ_MAX_IOVS) != 0)
		return -EINVAL;
	if (writable) {
		*seen_writable = true;
		chain->writable_len += len;
	} else {
		chain->nreadable = chain->iovcnt;
		chain->readable_len += len;
	}
	/* A request's length must fit the 32-bit used length. */
	if (chain->readable_len + chain->writable_len > UINT32_MAX)
		return -EINVAL;
	return 0;
}

/* Maps an indirect table after checking its shape; NULL if malformed. */
static const void *
indirect_table(const struct guest_mem *mem, uint64_t addr, uint32_t len, uint32_t *nent)
{
	if (len == 0 || len % 16 != 0 || len / 16 > VQ_MAX_INDIRECT)
		return NULL;
	*nent = len / 16;
	return guest_mem_to_ptr(mem, addr, len);
}

/* ---- split ring ------------------------------------------------------- */

static inline uint16_t *
split_used_event(const struct virtqueue *vq)
{
	return (uint16_t *)&vq->avail->ring[vq->size];
}

static inline uint16_t *
split_avail_event(const struct virtqueue *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

/*
 * Walks the chain starting at head (< size) through the descriptor table
 * and at most one indirect table. Bounded by `size` ring descriptors plus
 * the indirect table's length. Returns 0 or -EINVAL.
 */
static int
split_walk(const struct virtqueue *vq, const struct guest_mem *mem, uint16_t head,
	   struct vq_chain *chain)
{
	const struct vring_desc *table = vq->desc;
	uint32_t table_len = vq->size, visited = 0, idx = head;
	bool indirect = false, seen_writable = false;

	for (;;) {
		struct vring_desc d;
		uint16_t flags;
		uint64_t addr;
		uint32_t len;

		if (++visited > table_len)
			return -EINVAL; /* longer than the table: a loop */
		read_desc(&d, &table[idx]);
		flags = le16toh(d.flags);
		addr = le64toh(d.addr);
		len = le32toh(d.len);

		if (flags & VRING_DESC_F_INDIRECT) {
			uint32_t nent;

			/* No nesting; and INDIRECT with NEXT is forbidden
			 * (2.6.5.3.1), so the table ends the chain. */
			if (indirect || (flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			table = indirect_table(mem, addr, len, &nent);
			if (table == NULL)
				return -EINVAL;
			table_len = nent;
			indirect = true;
			visited = 0;
			idx = 0;
			continue;
		}
		if (chain_add(chain, mem, addr, len, flags & VRING_DESC_F_WRITE,
			      &seen_writable) != 0)
			return -EINVAL;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		idx = le16toh(d.next);
		if (idx >= table_len)
			return -EINVAL;
	}
}

static int
split_fill(struct virtqueue *vq, const struct guest_mem *mem, uint16_t head,
	   struct vq_chain *chain)
{
	chain_reset(chain);
	chain->id = head;
	chain->ndesc = 1; /* one avail-ring slot; vq_push ignores it for split */
	if (split_walk(vq, mem, head, chain) != 0) {
		chain_reset(chain);
		return -EINVAL;
	}
	return 1;
}

static int
split_pop(struct virtqueue *vq, const struct guest_mem *mem, struct vq_chain *chain)
{
	uint16_t avail_idx = le16toh(ring_load(&vq->avail->idx));
	uint16_t pending = avail_idx - vq->last_avail_idx;
	uint16_t head;

	if (pending == 0)
		return 0;
	if (pending > vq->size) {
		vq->broken = true;
		return -EIO;
	}
	/* The ring entry and descriptors were written before avail->idx. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = le16toh(ring_load(&vq->avail->ring[vq->last_avail_idx & (vq->size - 1)]));
	if (head >= vq->size) {
		vq->broken = true;
		return -EIO;
	}
	vq->last_avail_idx++;
	/* While kicks are wanted, ask for one when the guest publishes the
	 * entry after the ones we have taken (2.6.7.2). */
	if (vq->event_idx && vq->kick_enabled)
		__atomic_store_n(split_avail_event(vq), htole16(vq->last_avail_idx),
				 __ATOMIC_RELAXED);
	return split_fill(vq, mem, head, chain);
}

/* ---- packed ring ------------------------------------------------------ */

/* Available to us: AVAIL matches the driver's wrap counter, USED does not
 * (2.7.1). */
static inline bool
packed_is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & PACKED_F_AVAIL) == wrap && !!(flags & PACKED_F_USED) != wrap;
}

/* Appends the entries of a packed indirect table (2.7.5): used in order,
 * no NEXT links; only WRITE is meaningful in them. */
static int
packed_indirect(struct vq_chain *chain, const struct guest_mem *mem, uint64_t addr,
		uint32_t len, bool *seen_writable)
{
	const struct vring_packed_desc *table;
	uint32_t nent;

	table = indirect_table(mem, addr, len, &nent);
	if (table == NULL)
		return -EINVAL;
	for (uint32_t i = 0; i < nent; i++) {
		struct vring_packed_desc d;
		uint16_t flags;

		read_desc(&d, &table[i]);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		if (chain_add(chain, mem, le64toh(d.addr), le32toh(d.len),
			      flags & VRING_DESC_F_WRITE, seen_writable) != 0)
			return -EINVAL;
	}
	return 0;
}

/*
 * The chain's extent (how many slots, which buffer id) is determined even
 * when its contents are bad, so a bad request can still be completed and
 * the ring stays in step with the driver. Only a chain that never ends
 * within the ring, or a buffer id out of range, breaks the queue.
 */
static int
packed_pop(struct virtqueue *vq, const struct guest_mem *mem, struct vq_chain *chain)
{
	uint16_t slot = vq->last_avail_idx, head_flags, ndesc = 0, id;
	bool seen_writable = false;
	int err = 0;

	head_flags = le16toh(ring_load(&vq->desc_packed[slot].flags));
	if (!packed_is_avail(head_flags, vq->avail_wrap))
		return 0;
	/* The head's flags are written last: everything else is ready. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);

	chain_reset(chain);
	for (;;) {
		struct vring_packed_desc d;
		uint16_t flags;

		read_desc(&d, &vq->desc_packed[slot]);
		/* For the head, use the flags we checked, not a re-read. */
		flags = ndesc == 0 ? head_flags : le16toh(d.flags);
		ndesc++;
		if (err == 0) {
			uint64_t addr = le64toh(d.addr);
			uint32_t len = le32toh(d.len);

			if (flags & VRING_DESC_F_INDIRECT) {
				/* An indirect descriptor stands alone (2.7.7). */
				if (ndesc != 1 || (flags & VRING_DESC_F_NEXT))
					err = -EINVAL;
				else
					err = packed_indirect(chain, mem, addr, len,
							      &seen_writable);
			} else {
				err = chain_add(chain, mem, addr, len,
						flags & VRING_DESC_F_WRITE, &seen_writable);
			}
		}
		if (!(flags & VRING_DESC_F_NEXT)) {
			id = le16toh(d.id); /* the last descriptor carries it */
			break;
		}
		if (ndesc == vq->size) {
			/* More descriptors than the ring holds. */
			chain_reset(chain);
			vq->broken = true;
			return -EIO;
		}
		if (++slot == vq->size)
			slot = 0;
	}
	if (id >= vq->size) {
		chain_reset(chain);
		vq->broken = true;
		return -EIO;
	}
	chain->id = id;
	chain->ndesc = ndesc;
	vq->last_avail_idx += ndesc;
	if (vq->last_avail_idx >= vq->size) {
		vq->last_avail_idx -= vq->size;
		vq->avail_wrap = !vq->avail_wrap;
	}
	if (err != 0) {
		chain_reset(chain);
		return -EINVAL;
	}
	return 1;
}

/* ---- public API -------------------------------------------------------- */

int
vq_init_split(struct virtqueue *vq, uint16_t size, struct vring_desc *desc,
	      struct vring_avail *avail, struct vring_used *used, bool event_idx,
	      uint16_t last_avail, uint16_t last_used)
{
	if (size == 0 || size > 32768 || (size & (size - 1)) != 0 || desc == NULL ||
	    avail == NULL || used == NULL)
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->event_idx = event_idx;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail_idx = last_avail;
	vq->last_used_idx = last_used;
	vq->kick_enabled = true;
	return 0;
}

int
vq_init_packed(struct virtqueue *vq, uint16_t size, struct vring_packed_desc *desc,
	       struct vring_packed_desc_event *driver_event,
	       struct vring_packed_desc_event *device_event, bool event_idx,
	       uint16_t last_avail, uint16_t last_used)
{
	if (size == 0 || size > 32768 || desc == NULL || driver_event == NULL ||
	    device_event == NULL || (last_avail & ~WRAP_BIT) >= size ||
	    (last_used & ~WRAP_BIT) >= size)
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->packed = true;
	vq->event_idx = event_idx;
	vq->desc_packed = desc;
	vq->driver_event = driver_event;
	vq->device_event = device_event;
	vq->last_avail_idx = last_avail & ~WRAP_BIT;
	vq->avail_wrap = !!(last_avail & WRAP_BIT);
	vq->last_used_idx = last_used & ~WRAP_BIT;
	vq->used_wrap = !!(last_used & WRAP_BIT);
	vq->kick_enabled = true;
	return 0;
}

uint16_t
vq_get_avail_base(const struct virtqueue *vq)
{
	if (vq->packed)
		return vq->last_avail_idx | (vq->avail_wrap ? WRAP_BIT : 0);
	return vq->last_avail_idx;
}

uint16_t
vq_get_used_base(const struct virtqueue *vq)
{
	if (vq->packed)
		return vq->last_used_idx | (vq->used_wrap ? WRAP_BIT : 0);
	return vq->last_used_idx;
}

bool
vq_has_avail(const struct virtqueue *vq)
{
	if (vq->broken)
		return false;
	if (vq->packed)
		return packed_is_avail(le16toh(ring_load(&vq->desc_packed[vq->last_avail_idx].flags)),
				       vq->avail_wrap);
	return le16toh(ring_load(&vq->avail->idx)) != vq->last_avail_idx;
}

int
vq_pop(struct virtqueue *vq, const struct guest_mem *mem, struct vq_chain *chain)
{
	if (vq->broken)
		return -EIO;
	return vq->packed ? packed_pop(vq, mem, chain) : split_pop(vq, mem, chain);
}

int
vq_get_chain_split(struct virtqueue *vq, const struct guest_mem *mem, uint16_t head,
		   struct vq_chain *chain)
{
	if (vq->packed)
		return -ENOTSUP;
	if (vq->broken)
		return -EIO;
	if (head >= vq->size) {
		vq->broken = true;
		return -EIO;
	}
	return split_fill(vq, mem, head, chain);
}

void
vq_push(struct virtqueue *vq, uint16_t id, uint16_t ndesc, uint32_t written)
{
	if (vq->packed) {
		struct vring_packed_desc *d = &vq->desc_packed[vq->last_used_idx];
		uint16_t flags = vq->used_wrap ? PACKED_F_AVAIL | PACKED_F_USED : 0;

		/* WRITE tells the driver len is meaningful (2.7.4). */
		if (written != 0)
			flags |= VRING_DESC_F_WRITE;
		__atomic_store_n(&d->id, htole16(id), __ATOMIC_RELAXED);
		__atomic_store_n(&d->len, htole32(written), __ATOMIC_RELAXED);
		__atomic_store_n(&d->flags, htole16(flags), __ATOMIC_RELEASE);
		/* ndesc comes from vq_pop: 1..size. Skip the chain's slots. */
		if (ndesc == 0 || ndesc > vq->size)
			ndesc = 1;
		vq->last_used_idx += ndesc;
		if (vq->last_used_idx >= vq->size) {
			vq->last_used_idx -= vq->size;
			vq->used_wrap = !vq->used_wrap;
		}
	} else {
		struct vring_used_elem *e = &vq->used->ring[vq->last_used_idx & (vq->size - 1)];

		__atomic_store_n(&e->id, htole32(id), __ATOMIC_RELAXED);
		__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
		vq->last_used_idx++;
		__atomic_store_n(&vq->used->idx, htole16(vq->last_used_idx), __ATOMIC_RELEASE);
	}
}

/*
 * Position of a packed slot on a circle of 2 * size positions (slot plus
 * one lap per wrap-counter value), so that the distances vring_need_event
 * takes modulo 2^16 on a split ring are taken modulo 2 * size here.
 */
static inline uint32_t
packed_pos(const struct virtqueue *vq, uint16_t slot, bool wrap)
{
	return slot + (wrap ? 0u : vq->size);
}

static bool
packed_should_notify(struct virtqueue *vq, uint16_t old, bool valid)
{
	uint16_t flags = le16toh(ring_load(&vq->driver_event->flags)) & 0x3;
	uint16_t off_wrap = le16toh(ring_load(&vq->driver_event->off_wrap));
	uint32_t ring = 2u * vq->size, now, batch, back;

	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	/* DESC means something only with event idx; the reserved value 3
	 * is treated like ENABLE: a spurious interrupt beats a hang. */
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx)
		return !valid || old != vq_get_used_base(vq);
	if (!valid)
		return true;
	now = packed_pos(vq, vq->last_used_idx, vq->used_wrap);
	batch = (now + ring - packed_pos(vq, old & ~WRAP_BIT, old & WRAP_BIT)) % ring;
	/* An offset the ring cannot hold never matches. */
	if ((off_wrap & ~WRAP_BIT) >= vq->size)
		return false;
	back = (now + ring - packed_pos(vq, off_wrap & ~WRAP_BIT, off_wrap & WRAP_BIT)) % ring;
	/* Notify when the event slot was written in this batch:
	 * now - batch <= event < now. */
	return back >= 1 && back <= batch;
}

bool
vq_should_notify(struct virtqueue *vq)
{
	/* packed: signalled_used holds the slot with the wrap bit (15) */
	uint16_t old = vq->signalled_used, now = vq_get_used_base(vq);
	bool valid = vq->signalled_used_valid;

	/* Our used entries must be visible before we read whether the guest
	 * wants to hear about them; the guest orders the other way round
	 * (enable interrupts, full barrier, re-check used). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = now;
	vq->signalled_used_valid = true;
	if (vq->packed)
		return packed_should_notify(vq, old, valid);
	if (valid && old == now)
		return false; /* nothing completed since the last decision */
	if (!vq->event_idx)
		return !(le16toh(ring_load(&vq->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	return vring_need_event(le16toh(ring_load(split_used_event(vq))), now, old);
}

void
vq_enable_kick(struct virtqueue *vq, bool enable)
{
	vq->kick_enabled = enable;
	if (vq->packed) {
		/* ENABLE rather than DESC even with event idx: we only turn
		 * kicks on to go to sleep, and then want the first one. */
		__atomic_store_n(&vq->device_event->off_wrap, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&vq->device_event->flags,
				 htole16(enable ? VRING_PACKED_EVENT_FLAG_ENABLE :
					 VRING_PACKED_EVENT_FLAG_DISABLE),
				 __ATOMIC_RELAXED);
	} else if (vq->event_idx) {
		/* With event idx the driver ignores used->flags (2.6.7.2), and
		 * the device must leave them 0. Enabled: kick for the next
		 * entry. Disabled: an event index just behind what we have
		 * taken, which the driver's index has already passed, so it
		 * will not kick until it laps 2^16 entries. */
		uint16_t ev = enable ? vq->last_avail_idx : (uint16_t)(vq->last_avail_idx - 1);

		__atomic_store_n(split_avail_event(vq), htole16(ev), __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&vq->used->flags, htole16(enable ? 0 : VRING_USED_F_NO_NOTIFY),
				 __ATOMIC_RELAXED);
	}
	/* The caller re-checks vq_has_avail() after enabling: that read
	 * must not be ordered before our store (store-load ordering needs a
	 * full fence, even on x86). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
