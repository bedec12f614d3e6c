/*
 * module/bdev/lvol private header: the state the lvol bdev module keeps
 * beside lib/lvol's stores and lvols, shared by its files:
 *
 *   lvol_store.c  the module, per-store state, examine ("tasting"),
 *                 hot-remove of a base bdev, shutdown
 *   lvol_bdev.c   one bdev per lvol: I/O, properties, aliases
 *   lvs_rpc.c     bdev_lvol_*_lvstore* methods
 *   lvol_rpc.c    the per-lvol bdev_lvol_* methods
 *
 * Everything here runs on the app thread except the I/O functions of
 * lvol_bdev.c, which run on the thread of the channel they are given.
 */
#ifndef LVSTOR_MODULE_LVOL_BDEV_H
#define LVSTOR_MODULE_LVOL_BDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lvstor/bdev_module.h"
#include "lvstor/lvol.h"

/* "<lvs_name>/<lvol_name>": two names of up to 63 characters, '/', NUL. */
#define LVOL_ALIAS_MAX (LVS_NAME_MAX + LVOL_NAME_MAX)

/*
 * The module's view of one loaded store. Lives from a successful
 * lvs_init/lvs_load until the store is unloaded or destroyed; it is also
 * the io_device whose per-thread channels hold the blobstore channels the
 * lvol bdevs of the store do I/O through.
 *
 * States: loaded -> (destroying | removing | unloading) -> freed. In any
 * of the three end states no new operation starts on the store (lookups
 * fail with -ENODEV) and no new lvol bdev is registered.
 */
struct lvs_bdev {
	struct lvol_store *lvs;
	struct bdev *base_bdev;            /* claimed by us while the store lives */
	TAILQ_ENTRY(lvs_bdev) link;
	uint32_t num_bdevs;                /* lvol bdevs registered, not yet destructed */
	uint32_t ops;                      /* operations (RPCs) in flight on the store */
	bool destroying;                   /* bdev_lvol_delete_lvstore */
	bool removing;                     /* base bdev hot-removed */
	bool unloading;                    /* shutdown */
	uint32_t loading_batches;          /* registering its lvol bdevs (not usable yet) */
	/* Runs once num_bdevs and ops are both zero (destroy, remove, unload). */
	void (*idle_fn)(struct lvs_bdev *lb);
	/* Completion of destroy: cb(cb_arg, rc). */
	void (*done_cb)(void *cb_arg, int rc);
	void *done_arg;
};

/* One lvol bdev. The bdev is named by the lvol UUID; its alias is lvs/lvol. */
struct lvol_bdev {
	struct bdev bdev;                  /* first: bdev->ctxt points back here */
	struct lvol *lvol;
	struct lvs_bdev *lvs_bdev;
	char name[64];                     /* UUID string, or "<lvs_uuid>_<blob_id>" */
	char alias[LVOL_ALIAS_MAX];        /* "" when the alias could not be added */
	bool module_unregister;            /* we unregistered it (delete, remove, destroy) */
};

extern struct bdev_module g_lvol_bdev_module;

/* ---- lvol_store.c ---------------------------------------------------------- */

/* Module state for a store (NULL if none: not loaded through this module). */
struct lvs_bdev *lvs_bdev_of(struct lvol_store *lvs);
/* Starts tracking a store just created or loaded (base_bdev claimed for it). */
struct lvs_bdev *lvs_bdev_add(struct lvol_store *lvs, struct bdev *base_bdev);
/* True if operations may start on the store (not being destroyed/removed/unloaded). */
bool lvs_bdev_usable(const struct lvs_bdev *lb);
/* Brackets an asynchronous operation on the store (keeps it from unloading). */
void lvs_bdev_op_begin(struct lvs_bdev *lb);
void lvs_bdev_op_end(struct lvs_bdev *lb);
/*
 * bdev_lvol_delete_lvstore: unregisters every lvol bdev of the store, then
 * destroys the store. cb(cb_arg, rc) on the app thread; rc is 0 or the
 * errno of lvs_destroy. Returns -EBUSY at once if the store is already
 * going away.
 */
int lvs_bdev_destroy(struct lvs_bdev *lb, void (*cb)(void *cb_arg, int rc), void *cb_arg);
/*
 * The store of a new lvstore on bdev `bdev_name`: opens and claims it,
 * returns the bs_dev in *dev (the caller hands it to lvs_init) and the
 * bdev in *bdev. 0, -ENODEV, -EPERM (claimed), -ENOMEM.
 */
int lvs_bdev_open_base(const char *bdev_name, struct bs_dev **dev, struct bdev **bdev);
/* The esnap device opener every store gets (lvs_opts.esnap_bs_dev_create). */
int lvs_bdev_esnap_dev_create(void *bs_ctx, void *blob_ctx, struct blob *blob,
			      const void *esnap_id, uint32_t id_len, struct bs_dev **dev);

/*
 * Shutdown has begun: unloads, cleanly, every store that has no lvol bdev
 * left. For a bdev-layer hook at the start of bdev_finish (see
 * lvol_store.c); lvol bdev destructs during shutdown do the same.
 */
void lvol_bdev_fini_start(void);

/* ---- lvol_bdev.c -------------------------------------------------------------- */

/*
 * Registers the bdev of `lvol` (a store member with no bdev yet), with its
 * alias. 0, -EEXIST (UUID taken by another bdev), -EINVAL (size 0 or a
 * degraded lvol), -ENOMEM.
 */
int lvol_bdev_register(struct lvol *lvol);
/* The lvol bdev of `lvol`, NULL if it has none. */
struct lvol_bdev *lvol_bdev_of(struct lvol *lvol);
/*
 * Unregisters lvol's bdev as the module (delete, hot-remove, store
 * destroy): consumers get BDEV_EVENT_REMOVE; cb(cb_arg, rc) once the bdev
 * is gone. Without a bdev, cb runs at once (later, by message).
 */
void lvol_bdev_unregister(struct lvol *lvol, void (*cb)(void *cb_arg, int rc), void *cb_arg);
/* The alias followed a rename of the lvol or of its store. */
void lvol_bdev_update_alias(struct lvol *lvol);
/* The lvol was resized: tells the bdev layer. 0 or the layer's errno. */
int lvol_bdev_resized(struct lvol *lvol);
/*
 * Finds an lvol by bdev name, alias or UUID, or (lvols without a bdev)
 * by lvol UUID or "lvs/lvol". NULL if none, or if its store is going away.
 */
struct lvol *lvol_bdev_lookup(const char *name);
/* Called by destruct for bdevs the module did not unregister (shutdown). */
int lvs_bdev_bdev_destructed_externally(struct lvol_bdev *lvb);
/* Bookkeeping when an lvol bdev is gone (lvol_store.c). */
void lvs_bdev_bdev_gone(struct lvs_bdev *lb);

/* ---- helpers shared by the RPC files (lvs_rpc.c) -------------------------------------- */

#define LVOL_RPC_DECODE_FAILED "spdk_json_decode_object failed"

/*
 * The lvs selector of spec §2.3: exactly one of uuid / name. -EINVAL for
 * neither or both, -ENODEV if not found (or going away).
 */
int lvs_rpc_select(const char *uuid, const char *name, struct lvs_bdev **lb);
/* 1..63 characters. */
bool lvol_rpc_name_ok(const char *name);
/* Sends convention B (-32602 + errno text). */
struct jsonrpc_request;
void lvol_rpc_send_b(struct jsonrpc_request *req, int rc);
/* The UUID string of lvol / store. */
json_t *lvol_rpc_uuid_json(const struct lv_uuid *uuid);

#endif
