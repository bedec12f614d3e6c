/*
 * module/bdev/file: bdevs on a regular file or a kernel block device,
 * private interface shared by the files of the module and the unit tests.
 *
 * Two bdev modules live here, "aio" (bdev_aio_create) and "uring"
 * (bdev_uring_create). They share everything but their names, their RPCs
 * and their saved configuration: one disk structure, one per-thread group
 * channel per kernel interface ("engine"), one completion path.
 *
 *   file_bdev.c     disks: open, geometry, register, delete, rescan, config
 *   file_channel.c  the per-thread group channel: submit, reap, idle, drain
 *   file_uring.c    the io_uring engine
 *   file_aio.c      the libaio engine
 *   file_rpc.c      the RPC methods
 */
#ifndef LVSTOR_BDEV_FILE_INTERNAL_H
#define LVSTOR_BDEV_FILE_INTERNAL_H

#include <libaio.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "lvstor/bdev_module.h"
#include "lvstor/util.h"

/*
 * I/Os in flight per group channel (per thread and engine): the ring's
 * submission queue size and the libaio context's capacity. 512 keeps a
 * deep NVMe queue busy from one thread while bounding the kernel memory a
 * ring pins (about 40 KiB for SQ + CQ); past it the layer is told NOMEM
 * and retries, which is cheaper than a bigger ring that is rarely full.
 */
#define FILE_QUEUE_DEPTH 512u
/* Completions taken per reap: bounds the stack array of one batch. */
#define FILE_REAP_BATCH 64u

enum file_engine_kind {
	FILE_ENGINE_URING,
	FILE_ENGINE_AIO,
	FILE_ENGINE_COUNT,
};

/* A file or block device exposed as a bdev. Owned by the app thread. */
struct file_disk {
	struct bdev bdev;
	char *filename;
	int fd;
	enum file_engine_kind engine;
	bool uring_module;            /* created by bdev_uring_create */
	uint32_t block_size_override; /* as given; 0 = detected */
	bool readonly;
	bool fallocate;               /* unmap/write_zeroes through fallocate */
	bool nowait;                  /* RWF_NOWAIT on reads and writes */
	bool direct;                  /* opened with O_DIRECT */
	bool is_blockdev;
};

/* Per-I/O context (the bdev_io's driver_ctx). */
struct file_io {
	struct iocb iocb;             /* libaio engine only */
	struct file_io *next, *prev;  /* the group channel's in-flight list */
	struct file_disk *disk;
	uint64_t expected;            /* bytes the transfer must move; 0 = any */
};

struct file_drain;
struct file_engine_ops;

/*
 * Per (thread, engine) state: the ring or AIO context every file bdev of
 * that engine on that thread submits to. The ctx of an io_channel of the
 * engine's io_device; touched only on its thread.
 */
struct file_group_ch {
	const struct file_engine_ops *ops;
	struct poller *poller;        /* busy-polls completions; paused when idle */
	bool poller_paused;
	struct fd_handler *efd_handler;
	int efd;                      /* the kernel signals completions here */
	uint32_t inflight;            /* I/Os handed to the engine, not completed */
	uint32_t queued;              /* prepared but not yet submitted (io_uring) */
	struct file_io *head;         /* the in-flight I/Os, for draining */
	struct file_drain *drains;    /* disk drains waiting on this channel */
	bool discarding;              /* teardown: reap without completing */
	union {
		struct io_uring ring;
		io_context_t aio_ctx;
	} u;
};

struct file_engine_ops {
	const char *name;
	/* Sets up the kernel queue and makes it signal `efd`. 0 or -errno. */
	int (*init)(struct file_group_ch *g, int efd);
	void (*fini)(struct file_group_ch *g);
	/*
	 * Starts fio (already on the in-flight list). 0 = started, or already
	 * completed with file_io_done(); -EAGAIN = no room (layer retries);
	 * other -errno = failed before reaching the kernel.
	 */
	int (*submit)(struct file_group_ch *g, struct file_io *fio, struct bdev_io *io);
	/* Hands queued submissions to the kernel; returns how many. */
	int (*flush)(struct file_group_ch *g);
	/* Completes up to max finished I/Os with file_io_done(); returns how many. */
	int (*reap)(struct file_group_ch *g, unsigned int max);
	/* Blocks until at least one I/O finishes (channel teardown only). */
	void (*wait)(struct file_group_ch *g);
};

extern const struct file_engine_ops file_uring_ops;
extern const struct file_engine_ops file_aio_ops;

/* file_channel.c */
/* The io_device of each engine (a channel's ctx is a struct file_group_ch). */
void *file_engine_io_device(enum file_engine_kind kind);
/* Registers the engines' io_devices (uring only if available); refcounted. */
void file_engines_init(void);
void file_engines_fini(void);
/* True if io_uring works here and LVSTOR_FILE_ENGINE does not say "aio". */
bool file_uring_available(void);
void file_submit_request(struct io_channel *ch, struct bdev_io *io);
/* An engine finished fio with result res (bytes, or -errno). */
void file_io_done(struct file_group_ch *g, struct file_io *fio, int64_t res);
/*
 * Waits, on every thread, until no I/O of `disk` is in flight, then
 * cb(cb_arg) on the calling thread. 0 or -ENOMEM.
 */
int file_disk_drain(struct file_disk *disk, void (*cb)(void *cb_arg), void *cb_arg);

/* file_bdev.c */
struct file_opts {
	size_t size;            /* sizeof(struct file_opts), set by file_opts_init */
	const char *name;
	const char *filename;
	uint32_t block_size;    /* 0 = detect (block device) or 512 (file) */
	bool readonly;
	bool fallocate;
	bool nowait;
	struct lv_uuid uuid;    /* null = generated by the layer */
};
void file_opts_init(struct file_opts *opts, size_t size);

/* The two modules: bdev->module of "aio" and of "uring" bdevs. */
extern struct bdev_module g_aio_module;
extern struct bdev_module g_uring_module;

/*
 * Opens and registers a file bdev (app thread). uring: a "uring" bdev on
 * the io_uring engine (-ENOTSUP when io_uring is unavailable); otherwise
 * an "aio" bdev on io_uring when available, else libaio. Returns 0 and
 * *bdev, or -errno from open (-ENOENT, -EACCES, ...), -EINVAL (bad block
 * size, not a file or block device, smaller than one block, nowait on a
 * file), -EEXIST (name or UUID in use), -ENOMEM.
 */
int file_disk_create(const struct file_opts *opts, bool uring, struct bdev **bdev);
/*
 * Unregisters the aio (uring: the uring) bdev `name`: -ENODEV if none,
 * -EBUSY if claimed; else 0 and cb(cb_arg, rc) once it is gone, which is
 * after every I/O in flight on it has completed.
 */
int file_disk_delete(const char *name, bool uring, void (*cb)(void *cb_arg, int rc),
		     void *cb_arg);
/*
 * Re-reads the size of the file or device behind `name` and tells the
 * layer if the block count changed. 0, -ENODEV, or the error of the size
 * query or of bdev_notify_blockcnt_change.
 */
int file_disk_rescan(const char *name, bool uring);

#endif
