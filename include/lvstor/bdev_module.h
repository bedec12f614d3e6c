/*
 * lib/bdev: the interface back ends (modules) implement.
 *
 * A module fills a struct bdev (name, geometry, function table, its own
 * context) and registers it. The layer owns everything else: lookup,
 * descriptors, claims, channels, bdev_io allocation, splitting, QoS,
 * statistics, examine and hot-remove.
 *
 * Threading: bdev_register/unregister and claims run on the app thread.
 * submit_request runs on the thread of the channel it is given, and the
 * module completes the I/O with bdev_io_complete() on that same thread
 * (later, or from inside submit_request: the layer defers the user's
 * callback so it never runs before the submit function returns).
 */
#ifndef LVSTOR_BDEV_MODULE_H
#define LVSTOR_BDEV_MODULE_H

#include <jansson.h>

#include "lvstor/bdev.h"
#include "lvstor/thread.h"

struct bdev_module {
	const char *name;
	/*
	 * Called on the app thread when the bdev subsystem starts (in
	 * registration order). Return 0 or a negative errno; async_init
	 * modules call bdev_module_init_done() later instead.
	 */
	int (*module_init)(void);
	bool async_init;
	/* Called on the app thread at shutdown, after all its bdevs are gone. */
	void (*module_fini)(void);
	/*
	 * Optional: called on the app thread at the very start of bdev_finish,
	 * before any bdev is unregistered, so the module can wind down what
	 * no bdev unregistration would tell it about (e.g. an lvolstore with
	 * no lvol). The module must call bdev_module_fini_start_done() once,
	 * from inside the call or later; modules run one after another in
	 * registration order (only those whose module_init ran).
	 */
	void (*fini_start)(void);
	/* Bytes of per-I/O context the module needs in each bdev_io. */
	size_t (*get_ctx_size)(void);
	/*
	 * examine_config: synchronous look at a new bdev (from configuration).
	 * examine_disk: may read the bdev; must call bdev_module_examine_done()
	 * exactly once per call, maybe later. Either may be NULL.
	 */
	void (*examine_config)(struct bdev *bdev);
	void (*examine_disk)(struct bdev *bdev);
	/* Appends module-wide options to the bdev subsystem's saved config. */
	void (*config_json)(json_t *config);
	struct bdev_module *next;
};

void bdev_module_register(struct bdev_module *module);
#define BDEV_MODULE_REGISTER(NAME, MODULE) \
	__attribute__((constructor)) static void bdev_module_register_##NAME(void) \
	{ bdev_module_register(MODULE); }
void bdev_module_init_done(struct bdev_module *module);
void bdev_module_examine_done(struct bdev_module *module);
/* The module's fini_start work is done: bdev_finish goes on. */
void bdev_module_fini_start_done(struct bdev_module *module);
struct bdev_module *bdev_module_find(const char *name);

struct bdev_fn_table {
	/*
	 * Frees the module's context after unregistration. Return 0 when done,
	 * or 1 and call bdev_destruct_done() later.
	 */
	int (*destruct)(void *ctx);
	/* Starts an I/O on ch's thread; completes with bdev_io_complete(). */
	void (*submit_request)(struct io_channel *ch, struct bdev_io *io);
	bool (*io_type_supported)(void *ctx, enum bdev_io_type type);
	/* The module's channel for this bdev on the current thread. */
	struct io_channel *(*get_io_channel)(void *ctx);
	/* Fills bdev_get_bdevs' driver_specific object. May be NULL. */
	void (*dump_info_json)(void *ctx, json_t *driver_specific);
	/* Appends the call that recreates this bdev ({"method","params"}). May be NULL. */
	void (*write_config_json)(struct bdev *bdev, json_t *config);
};

struct bdev_internal;

struct bdev {
	/* Set by the module before bdev_register(). */
	char *name;                       /* owned by the module */
	const char *product_name;
	uint32_t blocklen;                /* bytes: 512 or 4096 (any power of two >= 512) */
	uint32_t phys_blocklen;           /* 0 = same as blocklen */
	uint64_t blockcnt;
	struct lv_uuid uuid;              /* null = generate */
	uint32_t optimal_io_boundary;     /* blocks; 0 = none */
	bool split_on_optimal_io_boundary;
	uint32_t max_transfer_blocks;     /* split larger I/O; 0 = no limit */
	uint32_t max_segment_count;       /* iovecs per child I/O; 0 = no limit */
	uint32_t max_unmap_blocks;        /* per unmap child; 0 = no limit */
	uint32_t max_write_zeroes_blocks; /* per write-zeroes child; 0 = no limit */
	size_t required_alignment;        /* buffer alignment, bytes; 0/1 = none */
	bool write_cache;                 /* flush means something */
	/*
	 * Hints for users, in blocks (0 = no preference), reported by
	 * bdev_get_bdevs; the layer does not act on them.
	 */
	uint32_t preferred_write_alignment;
	uint32_t preferred_write_granularity;
	uint32_t optimal_write_size;
	uint32_t preferred_unmap_alignment;
	uint32_t preferred_unmap_granularity;
	/*
	 * NUMA node of the back end's memory or device, reported by
	 * bdev_get_bdevs when >= 0; -1 = unknown (not reported). A zeroed
	 * struct says node 0, which is right on one-node hosts.
	 */
	int32_t numa_id;
	void *ctxt;                       /* the module's context */
	const struct bdev_fn_table *fn_table;
	struct bdev_module *module;

	/* The layer's own state. Modules don't touch it. */
	struct bdev_internal *internal;
};

/*
 * Registers a bdev: name and UUID (string) must be unused by any bdev name
 * or alias (-EEXIST); block length and count must be sane (-EINVAL). Then
 * every module examines it. App thread.
 */
int bdev_register(struct bdev *bdev);
/*
 * Starts removal: open descriptors get BDEV_EVENT_REMOVE, new opens fail,
 * I/O already submitted completes (new I/O fails with -ENODEV); once
 * every descriptor is closed the module's destruct runs and cb(cb_arg, rc)
 * is called on the calling thread.
 */
void bdev_unregister(struct bdev *bdev, void (*cb)(void *cb_arg, int rc), void *cb_arg);
/*
 * Unregisters the bdev `name` (app thread), as bdev_unregister. With a
 * module (a back end deleting its own bdev on request): -ENODEV if there
 * is no such bdev or it is not that module's, -EBUSY (and a log line
 * naming the claimer) if a module claims it. With module NULL (hot-remove):
 * any bdev, claimed or not; -ENODEV if there is none. Otherwise 0, and
 * cb(cb_arg, rc) runs once it is gone.
 */
int bdev_unregister_by_name(const char *name, struct bdev_module *module,
			    void (*cb)(void *cb_arg, int rc), void *cb_arg);
void bdev_destruct_done(struct bdev *bdev, int rc);
/* Adds / removes an alias (unique across names and aliases). 0, -EEXIST, -ENOENT. */
int bdev_alias_add(struct bdev *bdev, const char *alias);
int bdev_alias_del(struct bdev *bdev, const char *alias);
/* The back end changed size: updates blockcnt and notifies descriptors. */
int bdev_notify_blockcnt_change(struct bdev *bdev, uint64_t blockcnt);

/*
 * Claims: a module (e.g. the lvol store on its base bdev) takes exclusive
 * write ownership. The claim needs a descriptor opened for writing by the
 * claimer; other writers are refused (-EPERM) while it holds. Returns 0 or
 * -EPERM (already claimed or another writer is open).
 */
int bdev_module_claim_bdev(struct bdev *bdev, struct bdev_desc *desc,
			   struct bdev_module *module);
void bdev_module_release_bdev(struct bdev *bdev);
struct bdev_module *bdev_get_claim_module(const struct bdev *bdev);

/* ---- the bdev_io, as a module sees it ----------------------------------- */

struct bdev_io_params {
	struct iovec *iovs;
	int iovcnt;
	uint64_t offset_blocks;
	uint64_t num_blocks;
};

struct bdev_io {
	/* The layer's bookkeeping (callbacks, parent, timestamps, links).
	 * First, so that it shares a cache line with bdev, type and u: at
	 * QD 128 the data copies evict every bdev_io between its submit and
	 * its completion, and each line touched again costs a miss. */
	struct bdev_io_internal *internal;
	struct bdev *bdev;
	enum bdev_io_type type;
	struct bdev_io_params u;          /* what the module must do */
	struct iovec iov;                 /* storage for single-buffer I/O */
	/* Module context of get_ctx_size() bytes, aligned to 16. */
	uint8_t driver_ctx[] __attribute__((aligned(16)));
};

/*
 * Completes an I/O (module side), on the channel's thread. BDEV_IO_STATUS_NOMEM
 * makes the layer retry it later instead of failing it.
 */
void bdev_io_complete(struct bdev_io *io, enum bdev_io_status status);
static inline void *
bdev_io_driver_ctx(struct bdev_io *io)
{
	return io->driver_ctx;
}
static inline struct bdev_io *
bdev_io_from_ctx(void *ctx)
{
	return (struct bdev_io *)((uint8_t *)ctx - offsetof(struct bdev_io, driver_ctx));
}
/* The thread-local io_channel the I/O was submitted on (the layer's). */
struct io_channel *bdev_io_get_io_channel(struct bdev_io *io);

/*
 * For reads submitted without a buffer (iovs[0].iov_base == NULL): gets a
 * buffer of len bytes from the layer's per-thread pool, then cb(ch, io,
 * success). The buffer is freed with the bdev_io.
 */
typedef void (*bdev_io_get_buf_cb)(struct io_channel *ch, struct bdev_io *io, bool success);
void bdev_io_get_buf(struct bdev_io *io, bdev_io_get_buf_cb cb, uint64_t len);

/*
 * The body of a back end's bdev_<kind>_delete method (lib/bdev/bdev_rpc.c;
 * app thread): decodes {"name"} and calls bdev_unregister_by_name(name,
 * module), module not NULL. Answers true once the bdev is gone; -19 when
 * there is no such bdev of that module, -16 when it is claimed, the errno
 * of a failed unregistration; -32603 "spdk_json_decode_object failed" when
 * the parameters do not decode.
 */
struct jsonrpc_request;
void rpc_bdev_delete_reply(struct jsonrpc_request *req, const json_t *params,
			   struct bdev_module *module);

/* Module-name of a bdev (for RPCs that only delete their own kind). */
const char *bdev_get_module_name(const struct bdev *bdev);
/* bdev_get_bdevs' object for one bdev (the layer's fields + driver_specific). */
json_t *bdev_info_json(struct bdev *bdev);

/* ---- layer options and life cycle (added by lib/bdev) -------------------- */

/*
 * Options of the layer (bdev_set_options). Pool and cache sizes take effect
 * at bdev_initialize(); bdev_set_opts() after it returns -EPERM.
 */
struct bdev_opts {
	size_t opts_size;              /* sizeof(struct bdev_opts) as the caller knows it */
	uint32_t bdev_io_pool_size;    /* bdev_ios in the global pool (default 65535) */
	uint32_t bdev_io_cache_size;   /* per-core cache of them (default 256) */
	bool bdev_auto_examine;        /* examine new bdevs (default true) */
	uint32_t iobuf_small_cache_size;  /* reported only (default 128) */
	uint32_t iobuf_large_cache_size;  /* reported only (default 16) */
};
void bdev_get_opts(struct bdev_opts *opts, size_t size);
/* 0, -EINVAL (pool smaller than 2 or cache too big for it), -EPERM (after init). */
int bdev_set_opts(const struct bdev_opts *opts);

/*
 * Brings the layer up (the "bdev" subsystem does this): the bdev_io pool,
 * then every module's module_init in registration order. cb(cb_arg, rc) on
 * the calling thread, never before this returns. Unit tests and tools call
 * it directly.
 */
void bdev_initialize(void (*cb)(void *cb_arg, int rc), void *cb_arg);
/*
 * Runs every module's fini_start, then unregisters every bdev (leaves first: unclaimed before claimed), then
 * runs every module's module_fini (reverse order) and frees the pool.
 * cb(cb_arg) on the calling thread.
 */
void bdev_finish(void (*cb)(void *cb_arg), void *cb_arg);
/* Mode name of a claim ("exclusive_write"), NULL when not claimed. */
const char *bdev_get_claim_type(const struct bdev *bdev);

#endif
