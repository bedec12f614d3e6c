/*
 * lib/bdev private header: the layer's own state behind struct bdev,
 * struct bdev_io and the per-thread channels, shared by the files of
 * lib/bdev (and by its unit tests, which include it by relative path).
 *
 * Objects and who owns them:
 *
 *  - struct bdev_internal: allocated by bdev_register(), freed after the
 *    module's destruct. Its registry fields (names, descriptors, claim,
 *    status, QoS limits as configured, statistics of destroyed channels)
 *    change only under g_bdev_lock; nothing in the I/O path takes it.
 *    Its address is the bdev's io_device.
 *  - struct bdev_channel: one per (bdev, thread), the io_channel context.
 *    Touched only on its thread. Holds the module's channel, the per-thread
 *    statistics and histogram, and the NOMEM retry queue. While any user
 *    bdev_io taken on it is alive (io_refs > 0) the layer holds a reference
 *    of its own on the io_channel, so a user that puts the channel with I/O
 *    in flight does not free it (io.c explains).
 *  - struct bdev_mgmt_channel: one per thread that has any bdev channel
 *    (io_device &g_bdev_mgmt). Holds the deferred-completion list, the
 *    -ENOMEM waiters, the get_buf buffer cache and the bounce buffers.
 *  - struct bdev_io_internal: lives in the same pool element as its
 *    struct bdev_io, just before it: [internal][bdev_io][driver ctx].
 *    Belongs to whoever holds the bdev_io.
 *  - struct bdev_desc: belongs to the thread that opened it.
 */
#ifndef LVSTOR_BDEV_INTERNAL_H
#define LVSTOR_BDEV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lvstor/bdev.h"
#include "lvstor/bdev_module.h"
#include "lvstor/hash.h"
#include "lvstor/histogram.h"
#include "lvstor/thread.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * iovecs each split child carries. 32 covers a 128 KiB child made of 4 KiB
 * pages; a child whose blocks span more segments is cut shorter (at a block
 * boundary). The cost is 512 bytes in every pooled bdev_io.
 */
#define BDEV_IO_CHILD_IOVS 32
/*
 * Children of one split parent in flight at a time: enough to keep a
 * device busy with a large I/O, few enough that one huge I/O cannot drain
 * the pool that other I/O on the thread needs.
 */
#define BDEV_SPLIT_MAX_OUTSTANDING 16
/* The zero buffer write_zeroes is emulated with (bytes). */
#define BDEV_ZERO_BUF_SIZE (1024 * 1024)
/*
 * Bounce buffers (bounce.c), per thread, for buffers the back end cannot
 * take as they are. 64 KiB covers the common guest request (4-64 KiB) in
 * one piece; larger misaligned I/O is split into children of that size.
 * 16 of them (1 MiB per thread, allocated when the thread gets its first
 * channel of a bdev with an alignment requirement) keep 16 misaligned
 * requests in flight; more wait for a free one in FIFO order. Each buffer
 * is aligned to its size, so any required_alignment up to 64 KiB is met.
 */
#define BDEV_BOUNCE_BUF_SIZE (64 * 1024)
#define BDEV_BOUNCE_BUFS 16

enum bdev_status {
	BDEV_STATUS_READY,
	BDEV_STATUS_REMOVING,
};

/* struct bdev_io_internal.flags */
#define BDEV_IO_F_EMULATED_WZ 0x1     /* write_zeroes done as writes of zeroes */
#define BDEV_IO_F_SPLIT       0x2     /* parent of split children */
#define BDEV_IO_F_RESET_WALK  0x4     /* reset walking the channels */
#define BDEV_IO_F_BOUNCE      0x8     /* a buffer the back end cannot take: bounce */
#define BDEV_IO_F_BOUNCED     0x10    /* holds a bounce buffer (at the module) */
#define BDEV_IO_F_CHILD       0x20    /* a split child: parent is set */
#define BDEV_IO_F_BUF         0x40    /* holds a bdev_io_get_buf buffer: buf is set */

struct bdev_qos;

/*
 * What a submit and a completion touch is in the first cache line (cb ..
 * flags, 58 bytes): parent and buf are tested through flags (F_CHILD,
 * F_BUF) so that the fast path never reads the lines after it.
 */
struct bdev_io_internal {
	bdev_io_cb cb;
	void *cb_arg;
	/* Channel the I/O runs on (where the module got it). */
	struct bdev_channel *ch;
	/* The user's channel: statistics and the callback. Differs from ch
	 * only while QoS forwards the I/O to its thread. Counts the I/O in
	 * its io_refs from the submit until bdev_free_io(). (No pointer to
	 * the descriptor is kept: a descriptor may be closed, and freed, with
	 * its I/O still in flight.) */
	struct bdev_channel *origin_ch;
	struct bdev_io *next;          /* in at most one list at a time */
	uint64_t submit_tsc;
	struct bdev_qos *qos;          /* admitted by QoS (counts in its inflight) */
	int8_t status;
	uint8_t flags;

	/* Split children: their parent; parents: the split cursor. */
	struct bdev_io *parent;
	uint64_t split_offset;
	uint64_t split_remaining;
	int split_iov_idx;
	size_t split_iov_off;
	uint32_t split_outstanding;
	int8_t split_status;
	struct bdev_io_wait_entry split_wait;

	/* bdev_io_get_buf */
	void *buf;
	size_t buf_len;
	bdev_io_get_buf_cb get_buf_cb;

	/* Bounce (BDEV_IO_F_BOUNCED): the module sees bounce_iov; the I/O's
	 * own iovecs wait here for the copy out and are put back after. */
	struct iovec bounce_iov;
	struct iovec *bounce_orig_iovs;
	int bounce_orig_iovcnt;

	struct iovec child_iovs[BDEV_IO_CHILD_IOVS];
};

/*
 * One string that finds a bdev (its name or an alias), as an entry of
 * bdev.c's name index (a hash table under g_bdev_lock).
 */
struct bdev_name {
	struct hash_entry he;
	struct bdev_internal *in;
	const char *name;
};

struct bdev_alias {
	TAILQ_ENTRY(bdev_alias) link;
	struct bdev_name idx;
	char name[];
};

struct bdev_desc {
	struct bdev *bdev;
	struct thread *thread;
	bdev_event_cb event_cb;
	void *event_ctx;
	bool write;
	bool closed;
	uint32_t pending_events;     /* event messages not yet run (under lock) */
	TAILQ_ENTRY(bdev_desc) link;
};

struct bdev_internal {
	struct bdev *bdev;
	TAILQ_ENTRY(bdev_internal) link;
	TAILQ_HEAD(, bdev_alias) aliases;
	struct bdev_name name_idx;	/* bdev->name in the name index */
	char uuid_str[UUID_STRING_LEN];
	enum bdev_status status;
	TAILQ_HEAD(, bdev_desc) descs;
	struct bdev_module *claim_module;
	struct bdev_desc *claim_desc;

	/* Splitting, fixed at registration. */
	bool split_rw;                /* any read/write limit set */

	/* Unregistration. */
	void (*unregister_cb)(void *cb_arg, int rc);
	void *unregister_cb_arg;
	struct thread *unregister_thread;
	bool removal_walk_done;
	bool unregister_finishing;

	/* QoS: limits as configured (under lock) and the live state. */
	uint64_t qos_limits[BDEV_QOS_NUM_LIMITS];
	struct bdev_qos *qos;
	bool qos_changing;

	/* Statistics of channels already destroyed (under lock). */
	struct bdev_io_stat stat_gone;

	/* Histogram settings (under lock) and merged histograms of gone channels. */
	bool histogram_enabled;
	bool histogram_changing;
	struct histogram_opts histogram_opts;
	struct histogram *histogram_gone;
};

struct bdev_mgmt_channel {
	/* Completions deferred because they happened inside a submit. */
	struct bdev_io *done_head;
	struct bdev_io **done_tail;
	struct poller *done_poller;
	bool done_poller_active;
	/* > 0 while a submit is on this thread's stack. */
	uint32_t in_submit;
	/* The clock read at the start of the drain in progress, 0 outside one. */
	uint64_t drain_tsc;
	/* Channels whose last bdev_io was freed during this drain: their hold
	 * is released at its end unless a callback submitted again (io.c). */
	struct bdev_channel *parked;
	/* Free bdev_ios kept by this thread (linked through internal->next),
	 * at most bdev_opts.bdev_io_cache_size: the pool is touched only when
	 * the cache runs dry or overflows. */
	struct bdev_io *io_cache;
	uint32_t io_cache_count;
	/* -ENOMEM waiters (users' and split parents'). */
	struct bdev_io_wait_entry *wait_head;
	struct bdev_io_wait_entry *wait_tail;
	/* get_buf caches: small and large buffers. */
	void *buf_cache[2][32];
	uint32_t buf_count[2];
	/* Bounce buffers: one allocation cut in BDEV_BOUNCE_BUFS (NULL until a
	 * channel of a bdev with an alignment requirement exists here), the
	 * free ones as a stack, and the I/O waiting for one (FIFO). */
	void *bounce_pool;
	void *bounce_free[BDEV_BOUNCE_BUFS];
	uint32_t bounce_nfree;
	struct bdev_io *bounce_wait_head;
	struct bdev_io **bounce_wait_tail;
};

#define BDEV_CH_REMOVING 0x1
#define BDEV_CH_QOS      0x2

struct bdev_channel {
	struct bdev *bdev;
	struct io_channel *module_ch;
	struct bdev_mgmt_channel *mgmt;
	struct thread *thread;
	uint32_t flags;               /* BDEV_CH_*: any bit set = slow path */
	/* User bdev_ios taken on this channel and not yet freed; while > 0 the
	 * layer holds a reference on the io_channel (io.c). */
	uint32_t io_refs;
	uint64_t io_outstanding;      /* at the module */
	struct bdev_qos *qos;
	/* Module said NOMEM: retried on completions and by a timed poller. */
	struct bdev_io *nomem_head;
	struct bdev_io **nomem_tail;
	struct poller *nomem_poller;
	bool nomem_requeued;          /* an I/O went back on the queue (retry stops) */
	struct bdev_io_stat stat;
	struct histogram *histogram;
	int histogram_io_type;
	/* The hold while io_refs is 0 inside a completion drain (io.c). */
	bool hold_parked;
	bool park_listed;
	struct bdev_channel *park_next;
};

/* ---- globals (bdev.c / subsystem.c) ---- */
extern pthread_mutex_t g_bdev_lock;
extern struct env_pool *g_bdev_io_pool;
extern void *g_bdev_zero_buf;
extern int g_bdev_mgmt;   /* its address is the per-thread io_device */
TAILQ_HEAD(bdev_list, bdev_internal);
extern struct bdev_list g_bdevs;
extern struct bdev_opts g_bdev_opts;

/* ---- io.c ---- */
/* Bytes of one pool element for modules needing ctx_size bytes each. */
size_t bdev_io_element_size(size_t ctx_size);
struct bdev_io *bdev_io_alloc(struct bdev_channel *ch);
/* Submits to the module (or requeues); counts in io_outstanding. */
void bdev_io_do_submit(struct bdev_channel *ch, struct bdev_io *io);
/* The I/O (read/write/... of a user) enters the layer: split or submit. */
void bdev_io_submit_admitted(struct bdev_io *io);
/* A finished I/O: deferred if a submit is on the stack, else completed now. */
void bdev_io_finish(struct bdev_io *io);
void bdev_io_complete_now(struct bdev_io *io);
/* Final completion on the origin thread: statistics, then the callback. */
void bdev_io_complete_user(struct bdev_io *io);
void bdev_io_release(struct bdev_io *io, struct bdev_mgmt_channel *mgmt);
void bdev_channel_abort_nomem(struct bdev_channel *ch);
/* Is the bdev_io a misaligned one (F_BOUNCE) whose data must bounce? */
static inline bool
bdev_io_bounces(const struct bdev_io *io)
{
	return (io->internal->flags & BDEV_IO_F_BOUNCE) != 0;
}
int bdev_mgmt_channel_create(void *io_device, void *ctx);
void bdev_mgmt_channel_destroy(void *io_device, void *ctx);
int bdev_channel_create(void *io_device, void *ctx);
void bdev_channel_destroy(void *io_device, void *ctx);

static inline struct bdev_io_internal *
bdev_io_internal_of(struct bdev_io *io)
{
	return io->internal;
}

/* ---- bounce.c ---- */
/*
 * The bounce test: 0 when every segment suits the back end as it is, 1 when
 * some must bounce, -EINVAL when it would have to but cannot (a block or an
 * alignment larger than a bounce buffer). Always 0 for a bdev without an
 * alignment requirement (required_alignment <= 1).
 */
int bdev_iovs_need_bounce(const struct bdev *bdev, const struct iovec *iov, int iovcnt);
/*
 * Submits an I/O of at most BDEV_BOUNCE_BUF_SIZE bytes to the module on ch,
 * through a bounce buffer if its buffers need one (waiting for a free one
 * if need be), else as it is.
 */
void bdev_io_bounce_submit(struct bdev_channel *ch, struct bdev_io *io);
/* Completion of a bounced I/O (F_BOUNCED): copy out, give the buffer back. */
void bdev_io_bounce_finish(struct bdev_io *io);
/* The thread's bounce buffers: allocated once, on its first channel that
 * needs them (0 or -ENOMEM); freed with the mgmt channel. */
int bdev_bounce_pool_init(struct bdev_mgmt_channel *mgmt);
void bdev_bounce_pool_fini(struct bdev_mgmt_channel *mgmt);

/* ---- split.c ---- */
bool bdev_io_needs_split(const struct bdev *bdev, const struct bdev_io *io);
void bdev_io_split(struct bdev_io *io);
void bdev_io_split_child_done(struct bdev_io *child);

/* ---- qos.c ---- */
void bdev_qos_submit(struct bdev_channel *ch, struct bdev_io *io, int *rc);
void bdev_qos_io_done(struct bdev_io *io);
/* On unregistration: stop QoS (flush, drop its channel). App thread. */
void bdev_qos_teardown(struct bdev *bdev);
void bdev_qos_channel_init(struct bdev_channel *ch);

/* ---- stat.c ---- */
void bdev_stat_init(struct bdev_io_stat *stat);
void bdev_stat_add(struct bdev_io_stat *dst, const struct bdev_io_stat *src);
void bdev_stat_channel_init(struct bdev_channel *ch);
void bdev_stat_channel_fini(struct bdev_channel *ch);
void bdev_stat_free_bdev(struct bdev_internal *internal);
void bdev_histogram_add(struct bdev_channel *ch, struct bdev_io *io, uint64_t ticks);

static inline void
bdev_stat_update(struct bdev_channel *ch, struct bdev_io *io, uint64_t now)
{
	struct bdev_io_stat *s = &ch->stat;
	uint64_t lat = now - io->internal->submit_tsc;
	uint64_t bytes = io->u.num_blocks * io->bdev->blocklen;
	int8_t status = io->internal->status;

	if (unlikely(status != BDEV_IO_STATUS_SUCCESS)) {
		if (status < 0 && -status < (int)COUNTOF(s->io_error))
			s->io_error[-status]++;
		return;
	}
	switch (io->type) {
	case BDEV_IO_TYPE_READ:
		s->bytes_read += bytes;
		s->num_read_ops++;
		s->read_latency_ticks += lat;
		if (lat > s->max_read_latency_ticks)
			s->max_read_latency_ticks = lat;
		if (lat < s->min_read_latency_ticks)
			s->min_read_latency_ticks = lat;
		break;
	case BDEV_IO_TYPE_WRITE:
		s->bytes_written += bytes;
		s->num_write_ops++;
		s->write_latency_ticks += lat;
		if (lat > s->max_write_latency_ticks)
			s->max_write_latency_ticks = lat;
		if (lat < s->min_write_latency_ticks)
			s->min_write_latency_ticks = lat;
		break;
	case BDEV_IO_TYPE_UNMAP:
		s->bytes_unmapped += bytes;
		s->num_unmap_ops++;
		s->unmap_latency_ticks += lat;
		if (lat > s->max_unmap_latency_ticks)
			s->max_unmap_latency_ticks = lat;
		if (lat < s->min_unmap_latency_ticks)
			s->min_unmap_latency_ticks = lat;
		break;
	case BDEV_IO_TYPE_COPY:
		s->bytes_copied += bytes;
		s->num_copy_ops++;
		s->copy_latency_ticks += lat;
		if (lat > s->max_copy_latency_ticks)
			s->max_copy_latency_ticks = lat;
		if (lat < s->min_copy_latency_ticks)
			s->min_copy_latency_ticks = lat;
		break;
	default:
		break;
	}
	if (unlikely(ch->histogram != NULL))
		bdev_histogram_add(ch, io, lat);
}

/* ---- examine.c ---- */
/* A bdev registered: examine it (automatically, or because bdev_examine named it). */
void bdev_examine_new(struct bdev *bdev);
/* The bdev_examine list as bdev_examine calls, for the saved configuration. */
void bdev_examine_write_config(json_t *config);
/* Forgets the bdev_examine list (bdev_finish). */
void bdev_examine_fini(void);

/* ---- subsystem.c ---- */
struct bdev_module *bdev_module_first(void);

/* ---- for unit tests ---- */
/* Forgets every registered module, so a test registers only its own. */
void bdev_module_list_clear_for_test(void);

#endif
