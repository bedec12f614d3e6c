/*
 * lib/bdev: the generic block device, as its users see it.
 *
 * Every volume, physical device and vhost LUN is a bdev. A user opens a
 * descriptor by name (name, alias or UUID), gets a per-thread io_channel
 * from it, and submits I/O on that channel; the completion callback runs
 * on the same thread. bdev_io objects come from per-thread caches filled
 * at start-up: the I/O path never allocates and never takes a lock.
 *
 * When no bdev_io is available a submit function returns -ENOMEM and
 * nothing was started; the caller parks a bdev_io_wait_entry with
 * bdev_queue_io_wait() and resubmits from its callback. I/O that the bdev
 * layer itself splits or throttles (QoS) is queued inside the layer and
 * never fails for lack of objects.
 *
 * Buffers may be anywhere: one that the back end cannot take as it is
 * (not aligned as bdev_get_buf_align() says, or a segment that is not a
 * whole number of blocks) goes through the layer's aligned bounce buffers.
 *
 * Every I/O accepted (submit returned 0) completes exactly once through
 * its callback, also when the user has put its channel or closed its
 * descriptor meanwhile; the channel, and the bdev, stay alive until the
 * last such bdev_io is freed with bdev_free_io().
 *
 * Errors returned synchronously mean the I/O was not started: -EINVAL
 * (range, zero blocks, iovecs whose lengths do not add up to exactly
 * num_blocks * block size, or an alignment no bounce buffer can meet:
 * more than 64 KiB), -EBADF (write on a read-only descriptor),
 * -ENOTSUP (type not supported), -ENOMEM (see above), -ENODEV (bdev is
 * being removed). Everything else arrives through the callback.
 */
#ifndef LVSTOR_BDEV_H
#define LVSTOR_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lvstor/util.h"

struct bdev;
struct bdev_desc;
struct bdev_io;
struct io_channel;

/* In the order of spec/rpc.md's supported_io_types. */
enum bdev_io_type {
	BDEV_IO_TYPE_READ,
	BDEV_IO_TYPE_WRITE,
	BDEV_IO_TYPE_UNMAP,
	BDEV_IO_TYPE_FLUSH,
	BDEV_IO_TYPE_RESET,
	BDEV_IO_TYPE_NVME_ADMIN,
	BDEV_IO_TYPE_NVME_IO,
	BDEV_IO_TYPE_NVME_IO_MD,
	BDEV_IO_TYPE_WRITE_ZEROES,
	BDEV_IO_TYPE_ZCOPY,
	BDEV_IO_TYPE_GET_ZONE_INFO,
	BDEV_IO_TYPE_ZONE_MANAGEMENT,
	BDEV_IO_TYPE_ZONE_APPEND,
	BDEV_IO_TYPE_COMPARE,
	BDEV_IO_TYPE_COMPARE_AND_WRITE,
	BDEV_IO_TYPE_ABORT,
	BDEV_IO_TYPE_SEEK_HOLE,
	BDEV_IO_TYPE_SEEK_DATA,
	BDEV_IO_TYPE_COPY,
	BDEV_IO_TYPE_NVME_IOV_MD,
	BDEV_IO_TYPE_NVME_NSSR,
	BDEV_IO_TYPE_WRITE_UNCORRECTABLE,
	BDEV_NUM_IO_TYPES,
};
/* "read", "write", ... as in supported_io_types; NULL if out of range. */
const char *bdev_io_type_name(enum bdev_io_type type);
/* Returns the type for a name, or -EINVAL. */
int bdev_io_type_parse(const char *name);

enum bdev_io_status {
	BDEV_IO_STATUS_MISCOMPARE = -5,
	BDEV_IO_STATUS_ABORTED = -4,
	BDEV_IO_STATUS_NOMEM = -3,     /* back end out of resources: layer retries */
	BDEV_IO_STATUS_FAILED = -1,
	BDEV_IO_STATUS_PENDING = 0,
	BDEV_IO_STATUS_SUCCESS = 1,
};

enum bdev_event_type {
	BDEV_EVENT_REMOVE,   /* the bdev is going away: close the descriptor */
	BDEV_EVENT_RESIZE,   /* num_blocks changed */
};
typedef void (*bdev_event_cb)(enum bdev_event_type type, struct bdev *bdev, void *event_ctx);

/* ---- lookup and properties --------------------------------------------- */

/* By name, alias or UUID string; NULL if none. App thread. */
struct bdev *bdev_get_by_name(const char *name);
struct bdev *bdev_first(void);
struct bdev *bdev_next(struct bdev *prev);

const char *bdev_get_name(const struct bdev *bdev);
const char *bdev_get_product_name(const struct bdev *bdev);
uint32_t bdev_get_block_size(const struct bdev *bdev);
uint64_t bdev_get_num_blocks(const struct bdev *bdev);
const struct lv_uuid *bdev_get_uuid(const struct bdev *bdev);
uint32_t bdev_get_physical_block_size(const struct bdev *bdev);
uint32_t bdev_get_optimal_io_boundary(const struct bdev *bdev);
/* Largest I/O (in blocks) the layer passes down unsplit; 0 = no limit. */
uint32_t bdev_get_max_transfer_blocks(const struct bdev *bdev);
/* Buffer alignment the back end needs (bytes, power of two; 1 = none). */
size_t bdev_get_buf_align(const struct bdev *bdev);
bool bdev_io_type_supported(const struct bdev *bdev, enum bdev_io_type type);
bool bdev_is_claimed(const struct bdev *bdev);
/* Aliases in registration order; the UUID string is always the first. */
size_t bdev_get_aliases(const struct bdev *bdev, const char **aliases, size_t max);

/* ---- descriptors -------------------------------------------------------- */

/*
 * Opens `name` (name, alias or UUID). event_cb is required: it runs on
 * the opening thread when the bdev is removed or resized. Returns 0,
 * -ENODEV (unknown or being removed), -EPERM (write access to a bdev
 * claimed by a module for exclusive writes), or -ENOMEM.
 */
int bdev_open(const char *name, bool write, bdev_event_cb event_cb, void *event_ctx,
	      struct bdev_desc **desc);
/* Closes on the thread that opened it; every channel must have been put. */
void bdev_close(struct bdev_desc *desc);
struct bdev *bdev_desc_get_bdev(struct bdev_desc *desc);
bool bdev_desc_is_writable(const struct bdev_desc *desc);
/* This thread's channel for the bdev: put it with io_channel_put(). */
struct io_channel *bdev_get_io_channel(struct bdev_desc *desc);

/* ---- I/O ---------------------------------------------------------------- */

/*
 * The completion of an I/O: runs on the submitting thread. The callee
 * must call bdev_free_io(io) (after reading anything it needs from it).
 */
typedef void (*bdev_io_cb)(struct bdev_io *io, bool success, void *cb_arg);

int bdev_read(struct bdev_desc *desc, struct io_channel *ch, void *buf,
	      uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
int bdev_readv(struct bdev_desc *desc, struct io_channel *ch, struct iovec *iov, int iovcnt,
	       uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
int bdev_write(struct bdev_desc *desc, struct io_channel *ch, void *buf,
	       uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
int bdev_writev(struct bdev_desc *desc, struct io_channel *ch, struct iovec *iov, int iovcnt,
		uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
/* Compare: succeeds if the data on the device equals buf; else MISCOMPARE. */
int bdev_comparev(struct bdev_desc *desc, struct io_channel *ch, struct iovec *iov, int iovcnt,
		  uint64_t offset_blocks, uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
/* Emulated with writes of a zero buffer when the back end lacks it. */
int bdev_write_zeroes(struct bdev_desc *desc, struct io_channel *ch, uint64_t offset_blocks,
		      uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
int bdev_unmap(struct bdev_desc *desc, struct io_channel *ch, uint64_t offset_blocks,
	       uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
int bdev_flush(struct bdev_desc *desc, struct io_channel *ch, uint64_t offset_blocks,
	       uint64_t num_blocks, bdev_io_cb cb, void *cb_arg);
/* Aborts / drains everything on the bdev (all channels), then resets it. */
int bdev_reset(struct bdev_desc *desc, struct io_channel *ch, bdev_io_cb cb, void *cb_arg);

void bdev_free_io(struct bdev_io *io);
enum bdev_io_status bdev_io_get_status(const struct bdev_io *io);

/* Waiting for a bdev_io after -ENOMEM. The entry is the caller's memory. */
struct bdev_io_wait_entry {
	struct bdev *bdev;
	void (*cb_fn)(void *cb_arg);
	void *cb_arg;
	struct bdev_io_wait_entry *next;   /* owned by the layer while queued */
};
/* cb_fn runs on this thread when a bdev_io is free. 0 or -EINVAL. */
int bdev_queue_io_wait(struct bdev *bdev, struct io_channel *ch,
		       struct bdev_io_wait_entry *entry);

/* ---- statistics --------------------------------------------------------- */

struct bdev_io_stat {
	uint64_t bytes_read, num_read_ops;
	uint64_t bytes_written, num_write_ops;
	uint64_t bytes_unmapped, num_unmap_ops;
	uint64_t bytes_copied, num_copy_ops;
	uint64_t read_latency_ticks, max_read_latency_ticks, min_read_latency_ticks;
	uint64_t write_latency_ticks, max_write_latency_ticks, min_write_latency_ticks;
	uint64_t unmap_latency_ticks, max_unmap_latency_ticks, min_unmap_latency_ticks;
	uint64_t copy_latency_ticks, max_copy_latency_ticks, min_copy_latency_ticks;
	uint64_t io_error[8];           /* by -status: failed, nomem, aborted, miscompare... */
};

enum bdev_reset_stat_mode {
	BDEV_RESET_STAT_NONE,
	BDEV_RESET_STAT_ALL,
	BDEV_RESET_STAT_MAXMIN,
	BDEV_RESET_STAT_ERROR,
};

/*
 * Sums the statistics of every channel of `bdev` (plus those of channels
 * already gone) by visiting each channel on its thread, then cb(stat)
 * on the calling thread. With per_channel, cb is called once per channel
 * (thread_id set) and then once with thread_id UINT64_MAX.
 */
typedef void (*bdev_stat_cb)(struct bdev *bdev, const struct bdev_io_stat *stat,
			     uint64_t thread_id, int rc, void *cb_arg);
void bdev_get_io_stat(struct bdev *bdev, bool per_channel, enum bdev_reset_stat_mode reset,
		      bdev_stat_cb cb, void *cb_arg);

/* ---- QoS ---------------------------------------------------------------- */

enum bdev_qos_limit_type {
	BDEV_QOS_RW_IOPS,
	BDEV_QOS_RW_BPS,
	BDEV_QOS_R_BPS,
	BDEV_QOS_W_BPS,
	BDEV_QOS_NUM_LIMITS,
};
#define BDEV_QOS_LIMIT_NOT_SET UINT64_MAX
/*
 * Sets limits (IOPS, bytes/s; 0 = remove that limit, NOT_SET = unchanged).
 * IOPS round up to a multiple of 1000, bandwidth to 1 MiB/s. cb(rc) runs on
 * the calling thread once every channel enforces them.
 */
void bdev_set_qos_limits(struct bdev *bdev, const uint64_t limits[BDEV_QOS_NUM_LIMITS],
			 void (*cb)(void *cb_arg, int rc), void *cb_arg);
void bdev_get_qos_limits(const struct bdev *bdev, uint64_t limits[BDEV_QOS_NUM_LIMITS]);

/* ---- latency histogram --------------------------------------------------- */

/*
 * Turns the per-bdev latency histogram on or off (all channels), optionally
 * for one I/O type only (-1 = all). cb(rc) on the calling thread.
 */
struct histogram_opts {
	uint8_t granularity;     /* log2 buckets per power of two, default 7 */
	uint64_t min_nsec;       /* default 1000 */
	uint64_t max_nsec;       /* default 120 s */
	int io_type;             /* -1 = all types */
};
void bdev_histogram_enable(struct bdev *bdev, bool enable, const struct histogram_opts *opts,
			   void (*cb)(void *cb_arg, int rc), void *cb_arg);
bool bdev_histogram_is_enabled(const struct bdev *bdev);
struct histogram;
/* Merges every channel's histogram; cb gets it (NULL + -EFAULT when off). */
void bdev_histogram_get(struct bdev *bdev,
			void (*cb)(void *cb_arg, int rc, const struct histogram *h),
			void *cb_arg);

/* ---- examine ------------------------------------------------------------- */

/*
 * cb runs (on the calling thread, never inside this call) once every
 * registered bdev has been examined by every module. Returns 0, or -ENOMEM
 * when the wait cannot be recorded: cb will then not run.
 */
int bdev_wait_for_examine(void (*cb)(void *cb_arg), void *cb_arg);
/*
 * With automatic examination off (bdev_opts.bdev_auto_examine false), has
 * the bdev `name` examined by every module: at once if it exists, else
 * when a bdev with that name or alias registers. App thread. Returns 0,
 * -EINVAL (automatic examination is on), -EEXIST (name already given),
 * -ENOMEM.
 */
int bdev_examine(const char *name);

#endif
