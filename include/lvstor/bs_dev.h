/*
 * The blobstore's only path to storage: a block device seen through a
 * small function table (lib/blob never calls the bdev layer directly).
 *
 * Implementations: on a bdev (bs_dev_bdev_create, claims the bdev), in
 * memory (bs_dev_mem_create, for unit tests and tools), a read-only
 * device of zeroes (for thin blobs without a parent), a blob seen as a
 * device (clones), and in tests a fault-injecting twin that can cut
 * power after the N-th write.
 *
 * Offsets and lengths are in the device's blocks (blocklen bytes). Every
 * operation completes through cb(cb_arg, rc) on the thread of the channel
 * it was given, never before the call returns; rc is 0 or a negative
 * errno.
 *
 * Lent contexts. A device must remember (cb, cb_arg) and maybe more until
 * an operation completes; by default it keeps them in memory of its own
 * (a per-channel pool). readv_ctx / writev_ctx, when a device has them,
 * take that memory from the caller instead: a struct bs_dev_io_ctx the
 * caller owns and leaves alone from the call until cb runs. The blob data
 * path lends one from each request, which saves the device a pool get and
 * put per I/O. The result is the same as readv / writev in every other
 * respect.
 */
#ifndef LVSTOR_BS_DEV_H
#define LVSTOR_BS_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct io_channel;
struct bdev;
struct bdev_module;

typedef void (*bs_dev_cb)(void *cb_arg, int rc);

/* Bytes of per-operation memory a caller lends (readv_ctx, writev_ctx). */
#define BS_DEV_IO_CTX_SIZE 160

struct bs_dev_io_ctx {
	_Alignas(16) unsigned char opaque[BS_DEV_IO_CTX_SIZE];
};

struct bs_dev {
	uint64_t blockcnt;
	uint32_t blocklen;
	uint32_t phys_blocklen;    /* 0 = blocklen */

	struct io_channel *(*create_channel)(struct bs_dev *dev);
	void (*destroy_channel)(struct bs_dev *dev, struct io_channel *ch);
	/* Releases the device (and its claim). */
	void (*destroy)(struct bs_dev *dev);

	void (*read)(struct bs_dev *dev, struct io_channel *ch, void *payload,
		     uint64_t lba, uint32_t lba_count, bs_dev_cb cb, void *cb_arg);
	void (*write)(struct bs_dev *dev, struct io_channel *ch, void *payload,
		      uint64_t lba, uint32_t lba_count, bs_dev_cb cb, void *cb_arg);
	void (*readv)(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		      uint64_t lba, uint32_t lba_count, bs_dev_cb cb, void *cb_arg);
	void (*writev)(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov, int iovcnt,
		       uint64_t lba, uint32_t lba_count, bs_dev_cb cb, void *cb_arg);
	void (*write_zeroes)(struct bs_dev *dev, struct io_channel *ch, uint64_t lba,
			     uint64_t lba_count, bs_dev_cb cb, void *cb_arg);
	void (*unmap)(struct bs_dev *dev, struct io_channel *ch, uint64_t lba,
		      uint64_t lba_count, bs_dev_cb cb, void *cb_arg);
	/*
	 * Optional (NULL: use readv / writev): the same with a context lent
	 * by the caller, untouched by it until cb runs (see above).
	 */
	void (*readv_ctx)(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov,
			  int iovcnt, uint64_t lba, uint32_t lba_count, struct bs_dev_io_ctx *ctx,
			  bs_dev_cb cb, void *cb_arg);
	void (*writev_ctx)(struct bs_dev *dev, struct io_channel *ch, struct iovec *iov,
			   int iovcnt, uint64_t lba, uint32_t lba_count, struct bs_dev_io_ctx *ctx,
			   bs_dev_cb cb, void *cb_arg);
	/* Makes every completed write durable. */
	void (*flush)(struct bs_dev *dev, struct io_channel *ch, bs_dev_cb cb, void *cb_arg);

	/*
	 * For back devices of thin blobs: true if [lba, lba+count) reads as
	 * zeroes without reading it (the zeroes device: always). May be NULL.
	 */
	bool (*is_zeroes)(struct bs_dev *dev, uint64_t lba, uint64_t lba_count);
	/* The bdev behind it, if any (for RPC output); may be NULL. */
	struct bdev *(*get_base_bdev)(struct bs_dev *dev);
};

/*
 * A bs_dev on the bdev `name`, opened for writing and claimed by `module`
 * (claim_type exclusive_write). event_cb forwards bdev hot-remove/resize.
 * Returns 0, -ENODEV, -EPERM (claimed elsewhere), -ENOMEM. App thread.
 */
typedef void (*bs_dev_event_cb)(int event, struct bdev *bdev, void *ctx);
int bs_dev_bdev_create(const char *name, struct bdev_module *claim_module,
		       bs_dev_event_cb event_cb, void *event_ctx, struct bs_dev **dev);
/* A read-only view of a bdev (external snapshots): no claim. */
int bs_dev_bdev_create_ro(const char *name, bs_dev_event_cb event_cb, void *event_ctx,
			  struct bs_dev **dev);

/*
 * An in-memory device of blockcnt blocks (sparse: untouched blocks read as
 * zeroes). For tests and tools. NULL on -ENOMEM.
 */
struct bs_dev *bs_dev_mem_create(uint64_t blockcnt, uint32_t blocklen);
/* Direct access to its bytes (tests inspect and corrupt images). */
uint8_t *bs_dev_mem_data(struct bs_dev *dev);

/* A device of `blockcnt` blocks that reads as zeroes and refuses writes. */
struct bs_dev *bs_dev_zeroes_create(uint64_t blockcnt, uint32_t blocklen);

#endif
