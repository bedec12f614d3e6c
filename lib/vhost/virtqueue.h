/*
 * One virtqueue as the device (lvstord) sees it: take the next request the
 * guest made available, turn its descriptor chain into iovecs that point
 * into guest memory, and hand the buffer back through the used ring (split)
 * or the descriptor ring (packed), deciding when the guest wants an
 * interrupt and when it should kick us.
 *
 * Everything in the rings is guest-controlled and may change under us, so
 * each index and flag is read once (READ_ONCE style) into a local before it
 * is checked and used; every descriptor is bounds-checked through
 * guest_mem; chains are limited to the queue size (and an indirect table
 * to its own length), which also makes them loop-proof.
 *
 * Shared by vhost-blk and the later vhost-scsi/nvme device types. Pure
 * code: no rte_vhost and no threads, so it is unit-tested and fuzzed alone.
 * The caller (lib/vhost session code) owns the rings' mapping: it gets the
 * ring pointers from rte_vhost, which has translated and bounds-checked
 * them for the whole queue size.
 */
#ifndef LVSTOR_VHOST_VIRTQUEUE_H
#define LVSTOR_VHOST_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"

/*
 * Most iovecs one request may have: 128 data segments (the seg_max we
 * advertise) plus header and status, plus slack for buffers that cross a
 * memory-region boundary.
 */
#define VQ_MAX_IOVS 136

struct vq_chain {
	uint16_t id;       /* what goes back in the used ring: head index (split)
			      or buffer id (packed) */
	uint16_t ndesc;    /* ring slots the chain took (packed: to advance) */
	int iovcnt;
	int nreadable;     /* iov[0, nreadable) are device-readable (guest->us),
			      iov[nreadable, iovcnt) device-writable */
	uint64_t readable_len;
	uint64_t writable_len;
	struct iovec iov[VQ_MAX_IOVS];
};

struct virtqueue {
	uint16_t size;       /* power of two for split; any 1..32768 for packed */
	bool packed;
	bool event_idx;      /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool broken;         /* a fatal ring error was seen: stop using the queue */

	/* split ring */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	/* packed ring */
	struct vring_packed_desc *desc_packed;
	struct vring_packed_desc_event *driver_event; /* guest: when to interrupt */
	struct vring_packed_desc_event *device_event; /* us: when to kick */
	bool avail_wrap;     /* wrap counter of the next slot we read */
	bool used_wrap;      /* wrap counter of the next slot we write */

	uint16_t last_avail_idx; /* split: free-running; packed: slot index */
	uint16_t last_used_idx;  /* split: free-running; packed: slot index */

	/* event-idx bookkeeping: used index when we last decided about an
	 * interrupt, so coalesced completions are judged as one batch */
	uint16_t signalled_used;
	bool signalled_used_valid;

	/* Private to virtqueue.c: the last vq_enable_kick() choice (true
	 * after init). With event idx, vq_pop keeps avail_event current
	 * only while kicks are wanted. */
	bool kick_enabled;
};

/* Sets up vq over already mapped split rings (size must be a power of two,
 * 1..32768). Returns 0 or -EINVAL. last_avail/last_used resume a queue
 * (vring base from rte_vhost). */
int vq_init_split(struct virtqueue *vq, uint16_t size, struct vring_desc *desc,
		  struct vring_avail *avail, struct vring_used *used, bool event_idx,
		  uint16_t last_avail, uint16_t last_used);

/* Same for a packed ring. last_avail/last_used carry the wrap counter in
 * bit 15 as vhost-user's vring base does for packed rings. */
int vq_init_packed(struct virtqueue *vq, uint16_t size, struct vring_packed_desc *desc,
		   struct vring_packed_desc_event *driver_event,
		   struct vring_packed_desc_event *device_event, bool event_idx,
		   uint16_t last_avail, uint16_t last_used);

/* The vring base to report back (GET_VRING_BASE): split indexes as they
 * are; packed with the wrap counter in bit 15. */
uint16_t vq_get_avail_base(const struct virtqueue *vq);
uint16_t vq_get_used_base(const struct virtqueue *vq);

/* True when the guest made at least one request available that we have
 * not taken. */
bool vq_has_avail(const struct virtqueue *vq);

/*
 * Takes the next available request and fills chain. Returns
 *   1        a request; chain is complete
 *   0        nothing available
 *  -EINVAL   the chain is malformed (loop, too long, readable after
 *            writable, bad indirect table, address outside guest memory,
 *            zero-length indirect table, nested indirect ...): the
 *            request was consumed; chain->id and chain->ndesc are valid so
 *            the caller completes it with vq_push(vq, chain, 0) and the
 *            guest is not left waiting. chain->iovcnt is 0.
 *  -EIO     the ring itself is unusable (head index or buffer id out of
 *            range, more requests claimed available than the queue holds):
 *            vq->broken is set, the caller stops the queue.
 */
int vq_pop(struct virtqueue *vq, const struct guest_mem *mem, struct vq_chain *chain);

/*
 * Re-reads the chain of an already consumed split-ring head (inflight
 * resubmission after a reconnect). Same returns as vq_pop without
 * touching last_avail_idx. Split rings only (-ENOTSUP for packed).
 */
int vq_get_chain_split(struct virtqueue *vq, const struct guest_mem *mem, uint16_t head,
		       struct vq_chain *chain);

/*
 * Returns a buffer to the guest with `written` bytes written into its
 * device-writable part. The element becomes visible to the guest only
 * after the data it describes (release ordering). id and ndesc come from
 * the chain vq_pop filled.
 */
void vq_push(struct virtqueue *vq, uint16_t id, uint16_t ndesc, uint32_t written);

/*
 * After one or more vq_push calls: does the guest want an interrupt now?
 * Honours VRING_AVAIL_F_NO_INTERRUPT, used_event (event idx) and the packed
 * driver event suppression structure. Call it once per batch, and call
 * the guest's callfd only when it returns true.
 */
bool vq_should_notify(struct virtqueue *vq);

/*
 * Asks the guest to kick (enable true) or not to bother (false) when it
 * makes requests available: VRING_USED_F_NO_NOTIFY / avail_event for
 * split, device_event for packed. After enabling, the caller must check
 * vq_has_avail() again (a request may have arrived before the guest saw
 * the change); vq_enable_kick issues the full barrier that makes that
 * re-check valid.
 */
void vq_enable_kick(struct virtqueue *vq, bool enable);

#endif
