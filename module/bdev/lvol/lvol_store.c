/*
 * module/bdev/lvol/lvol_store.c: the "lvol" bdev module — lvolstores as
 * the bdev layer sees them: finding them on new bdevs ("tasting"),
 * bringing back degraded esnap clones when their external snapshot bdev
 * appears (at the end of the file), following their base bdev's removal,
 * and unloading them cleanly when the daemon stops.
 *
 * Tasting. Every new bdev is examined. The cheap part comes first: the
 * bdev is opened read-only, without a claim, and its first 4 KiB are read;
 * only a superblock that says SPDKBLOB with the LVOLSTORE type (or no
 * type: version 1 stores) goes on to lvs_load, which needs a claimed,
 * writable bs_dev. So a bdev that holds no store is never claimed, not
 * even for an instant, and a bdev_lvol_create_lvstore sent right after a
 * bdev_malloc_create cannot lose a race against our examine. Lvol bdevs
 * are tasted too (a store may live inside a volume), but only if the
 * volume is writable and its first io unit is allocated somewhere in its
 * parent chain (or an external snapshot may provide it): an lvol whose
 * cluster 0 was never written reads zeroes there and cannot hold a store.
 * That test costs no I/O, which is what keeps the examine of 10,000 new
 * thin lvol bdevs of a loading store linear and cheap. Malloc and null
 * bdevs are not read at all: they are all zeroes when they appear. At most
 * TASTE_MAX_INFLIGHT reads are in flight; further bdevs wait their turn.
 *
 * Loading. lvs_load opens the store and every lvol in it (lib/lvol bounds
 * its own concurrency). Then each lvol gets its bdev, REGISTER_BATCH at a
 * time with a message in between so the app thread keeps serving RPCs and
 * pollers while thousands register; meanwhile the store counts as loading
 * (RPC lookups do not find it), so no lvol can vanish under the loop. A
 * store whose name is already taken by a loaded store is not loaded
 * (lvs_load says -EEXIST and releases the bdev); the log says which.
 *
 * Per-store state (struct lvs_bdev) is also the io_device of the store:
 * its per-thread channel holds the thread's blobstore channel, which every
 * lvol bdev of the store uses for I/O on that thread (lvol_bdev.c).
 *
 * Ending a store. Three ways, all the same shape: stop new operations,
 * unregister every lvol bdev (consumers get BDEV_EVENT_REMOVE), wait for
 * the last bdev and the last operation in flight (idle_fn), unregister the
 * io_device (its last channel goes with the last bdev), then
 *  - destroy (bdev_lvol_delete_lvstore): lvs_destroy; on failure the store
 *    is alive again and its bdevs are registered again;
 *  - remove (the base bdev is hot-removed; the bs_dev says REMOVE): the
 *    device already refuses I/O, so lvs_unload cannot write; it frees the
 *    store (whatever it reports) and that closes the base descriptor,
 *    which lets the base bdev's removal finish;
 *  - unload (shutdown): lvs_unload writes a clean superblock.
 *
 * Shutdown. The bdev layer's bdev_finish unregisters unclaimed bdevs
 * first — all lvol bdevs — and a claimed base only when nothing unclaimed
 * is left. An lvol bdev that the module did not unregister itself means
 * exactly that, so its destruct unloads every store that has no bdev left
 * and holds the destruct (returns 1) until those unloads are written:
 * the bdev layer moves on to the base bdevs only after that, by which
 * time they are released. A store with no lvol bdev at all has nothing
 * that tells it shutdown began; bdev_finish unregisters its base and the
 * store is dropped as on hot-remove, without a clean superblock (it loads
 * through recovery) -- unless the bdev layer's fini_start hook
 * (lvol_fini_start -> lvol_bdev_fini_start) runs first, at the start of
 * bdev_finish: it unloads those stores cleanly and holds bdev_finish
 * until the unloads are written.
 *
 * Invariants:
 *  - A bdev claimed by this module is the base of exactly one lvs_bdev
 *    in g_stores, or one being created or tasted.
 *  - An lvs_bdev is freed only with num_bdevs == 0, ops == 0 and its
 *    io_device unregistered, after lib/lvol has freed the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "lvstor/util.h"

#include "lvol_bdev.h"

LOG_REGISTER_COMPONENT(vbdev_lvol)

/*
 * Taste reads in flight at once. Each holds a descriptor, a channel and a
 * 4 KiB buffer; 64 keeps a slow device busy and bounds what a burst of
 * thousands of new bdevs can pin.
 */
#define TASTE_MAX_INFLIGHT 64
/* Superblock bytes the taste reads (spec/blobstore-format.md §2). */
#define TASTE_BYTES 4096
/*
 * Lvol bdevs registered per app-thread turn while a store loads: ~100 us
 * of work each turn, so RPCs and pollers wait at most that long.
 */
#define REGISTER_BATCH 128

static const char g_lvs_bstype[BS_BSTYPE_LEN] = "LVOLSTORE";

static int lvol_module_init(void);
static void lvol_module_fini(void);
static void lvol_examine_disk(struct bdev *bdev);
static void examine_taste(struct bdev *bdev);
static void lvol_fini_start(void);

struct bdev_module g_lvol_bdev_module = {
	.name = "lvol",
	.module_init = lvol_module_init,
	.module_fini = lvol_module_fini,
	.fini_start = lvol_fini_start,
	.examine_disk = lvol_examine_disk,
};
BDEV_MODULE_REGISTER(lvol, &g_lvol_bdev_module)

static TAILQ_HEAD(, lvs_bdev) g_stores = TAILQ_HEAD_INITIALIZER(g_stores);
static bool g_shutdown_started;

/* Lvol bdevs whose destruct waits for the shutdown unloads (see top). */
struct held_destruct {
	struct lvol_bdev *lvb;
	struct held_destruct *next;
};
static struct held_destruct *g_held;
static uint32_t g_unloads_pending;
/* bdev_finish waits in fini_start until g_unloads_pending drops to 0. */
static bool g_fini_start_waiting;

static int
lvol_module_init(void)
{
	g_shutdown_started = false;
	return 0;
}

static void
lvol_module_fini(void)
{
	struct lvs_bdev *lb;

	TAILQ_FOREACH(lb, &g_stores, link) {
		LOG_ERR("lvolstore %s still loaded at module fini", lvs_get_name(lb->lvs));
	}
}

/* ---- per-store state ------------------------------------------------------------- */

struct lvs_channel {
	struct io_channel *bs_ch;     /* first: lvol_bdev.c reads it as such */
};

static int
lvs_channel_create(void *io_device, void *ctx)
{
	struct lvs_bdev *lb = io_device;
	struct lvs_channel *c = ctx;

	c->bs_ch = bs_alloc_io_channel(lvs_get_blobstore(lb->lvs));
	return c->bs_ch != NULL ? 0 : -ENOMEM;
}

static void
lvs_channel_destroy(void *io_device, void *ctx)
{
	struct lvs_channel *c = ctx;

	bs_free_io_channel(c->bs_ch);
}

struct lvs_bdev *
lvs_bdev_of(struct lvol_store *lvs)
{
	return lvs != NULL ? lvs_get_ctx(lvs) : NULL;
}

static void
lvs_bdev_register_channels(struct lvs_bdev *lb)
{
	io_device_register(lb, lvs_channel_create, lvs_channel_destroy,
			   sizeof(struct lvs_channel), "lvol_store");
}

struct lvs_bdev *
lvs_bdev_add(struct lvol_store *lvs, struct bdev *base_bdev)
{
	struct lvs_bdev *lb = calloc(1, sizeof(*lb));

	if (lb == NULL)
		return NULL;
	lb->lvs = lvs;
	lb->base_bdev = base_bdev;
	lvs_set_ctx(lvs, lb);
	lvs_bdev_register_channels(lb);
	TAILQ_INSERT_TAIL(&g_stores, lb, link);
	return lb;
}

static void
lvs_bdev_free(struct lvs_bdev *lb)
{
	TAILQ_REMOVE(&g_stores, lb, link);
	free(lb);
}

bool
lvs_bdev_usable(const struct lvs_bdev *lb)
{
	return !lb->destroying && !lb->removing && !lb->unloading && lb->idle_fn == NULL &&
	       lb->loading_batches == 0;
}

static void
check_idle(struct lvs_bdev *lb)
{
	void (*fn)(struct lvs_bdev *);

	if (lb->num_bdevs != 0 || lb->ops != 0 || lb->idle_fn == NULL)
		return;
	fn = lb->idle_fn;
	lb->idle_fn = NULL;
	fn(lb);
}

void
lvs_bdev_op_begin(struct lvs_bdev *lb)
{
	lb->ops++;
}

void
lvs_bdev_op_end(struct lvs_bdev *lb)
{
	lb->ops--;
	check_idle(lb);
}

void
lvs_bdev_bdev_gone(struct lvs_bdev *lb)
{
	lb->num_bdevs--;
	check_idle(lb);
}

static void
ignore_unregistered(void *cb_arg, int rc)
{
}

/* Every lvol bdev of the store goes (the module's own unregister). */
static void
unregister_all(struct lvs_bdev *lb)
{
	struct lvol *lvol;

	for (lvol = lvol_first(lb->lvs); lvol != NULL; lvol = lvol_next(lvol)) {
		if (lvol_bdev_of(lvol) != NULL)
			lvol_bdev_unregister(lvol, ignore_unregistered, NULL);
	}
}

static void
release_channels(struct lvs_bdev *lb, void (*next)(void *io_device))
{
	io_device_unregister(lb, next);
}

/* -- remove (base bdev hot-removed) -- */

static void
removed_unloaded(void *cb_arg, int rc)
{
	struct lvs_bdev *lb = cb_arg;

	if (rc != 0)
		LOG_DEBUG(vbdev_lvol, "removed lvolstore unloaded with %d (expected: no device)", rc);
	if (lb->done_cb != NULL) {
		/* A destroy was in progress when the base went away. */
		lb->done_cb(lb->done_arg, -ENODEV);
	}
	lvs_bdev_free(lb);
}

static void
remove_after_channels(void *io_device)
{
	struct lvs_bdev *lb = io_device;
	char name[LVS_NAME_MAX];
	int rc;

	strlcpy_lv(name, lvs_get_name(lb->lvs), sizeof(name));
	rc = lvs_unload(lb->lvs, removed_unloaded, lb);
	if (rc != 0) {
		/* Cannot happen: the module never holds lvol_open references. */
		LOG_ERR("lvolstore %s: unload after hot-remove refused: %s", name, strerror(-rc));
		return;
	}
	LOG_NOTICE("lvolstore %s: base bdev removed, store dropped", name);
}

static void
remove_when_idle(struct lvs_bdev *lb)
{
	release_channels(lb, remove_after_channels);
}

static void
base_removed(struct lvs_bdev *lb)
{
	if (lb->removing)
		return;
	LOG_NOTICE("lvolstore %s: base bdev %s is going away: removing its lvol bdevs",
		   lvs_get_name(lb->lvs), bdev_get_name(lb->base_bdev));
	lb->removing = true;
	if (lb->unloading || lb->destroying) {
		/* Their own end runs; the device simply refuses the writes. */
		return;
	}
	lb->idle_fn = remove_when_idle;
	unregister_all(lb);
	check_idle(lb);
}

static void
base_event(int event, struct bdev *bdev, void *ctx)
{
	struct lvs_bdev *lb;

	if (event != BDEV_EVENT_REMOVE)
		return;   /* growth is explicit: bdev_lvol_grow_lvstore */
	/*
	 * Found by the bdev, not by ctx: the event may arrive after the
	 * store is gone (the descriptor closes only when the bs_dev is
	 * freed), and then there is nothing left to do.
	 */
	TAILQ_FOREACH(lb, &g_stores, link) {
		if (lb->base_bdev == bdev) {
			base_removed(lb);
			return;
		}
	}
}

int
lvs_bdev_open_base(const char *bdev_name, struct bs_dev **dev, struct bdev **bdev)
{
	int rc = bs_dev_bdev_create(bdev_name, &g_lvol_bdev_module, base_event, NULL, dev);

	if (rc != 0)
		return rc;
	*bdev = (*dev)->get_base_bdev(*dev);
	return 0;
}

/* -- destroy (bdev_lvol_delete_lvstore) -- */

static void register_all(struct lvs_bdev *lb);

static void
revive(struct lvs_bdev *lb)
{
	lb->destroying = false;
	lvs_bdev_register_channels(lb);
	register_all(lb);
}

/*
 * Whether lib/lvol still has the store: a failed destroy keeps it when an
 * lvol could not be deleted, but frees it when the last step (zeroing the
 * superblock) failed. Compared by address only; nothing is dereferenced.
 */
static bool
store_still_loaded(const struct lvol_store *lvs)
{
	struct lvol_store *l;

	for (l = lvs_first(); l != NULL; l = lvs_next(l)) {
		if (l == lvs)
			return true;
	}
	return false;
}

static void
destroyed(void *cb_arg, int rc)
{
	struct lvs_bdev *lb = cb_arg;
	void (*cb)(void *, int) = lb->done_cb;
	void *arg = lb->done_arg;

	lb->done_cb = NULL;
	if (rc == 0 || !store_still_loaded(lb->lvs)) {
		if (rc != 0)
			LOG_ERR("lvolstore destroy failed at its end: %s", strerror(-rc));
		lvs_bdev_free(lb);
	} else if (lb->removing) {
		lb->destroying = false;
		lb->done_cb = NULL;
		remove_after_channels(lb);
	} else {
		LOG_ERR("lvolstore %s: destroy failed: %s", lvs_get_name(lb->lvs), strerror(-rc));
		revive(lb);
	}
	cb(arg, rc);
}

static void
destroy_after_channels(void *io_device)
{
	struct lvs_bdev *lb = io_device;
	int rc = lvs_destroy(lb->lvs, destroyed, lb);

	if (rc != 0)
		destroyed(lb, rc);
}

static void
destroy_when_idle(struct lvs_bdev *lb)
{
	release_channels(lb, destroy_after_channels);
}

int
lvs_bdev_destroy(struct lvs_bdev *lb, void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	if (!lvs_bdev_usable(lb))
		return -EBUSY;
	lb->destroying = true;
	lb->done_cb = cb;
	lb->done_arg = cb_arg;
	lb->idle_fn = destroy_when_idle;
	unregister_all(lb);
	check_idle(lb);
	return 0;
}

/* -- unload (shutdown) -- */

static void
release_held(void)
{
	struct held_destruct *h = g_held, *next;

	g_held = NULL;
	for (; h != NULL; h = next) {
		next = h->next;
		bdev_destruct_done(&h->lvb->bdev, 0);
		free(h->lvb);
		free(h);
	}
	if (g_fini_start_waiting) {
		g_fini_start_waiting = false;
		bdev_module_fini_start_done(&g_lvol_bdev_module);
	}
}

static void
unloaded(void *cb_arg, int rc)
{
	struct lvs_bdev *lb = cb_arg;

	if (rc != 0)
		LOG_ERR("lvolstore unload failed: %s", strerror(-rc));
	lvs_bdev_free(lb);
	if (--g_unloads_pending == 0)
		release_held();
}

static void
unload_after_channels(void *io_device)
{
	struct lvs_bdev *lb = io_device;
	int rc;

	LOG_INFO("lvolstore %s: unloading", lvs_get_name(lb->lvs));
	rc = lvs_unload(lb->lvs, unloaded, lb);
	if (rc != 0) {
		LOG_ERR("lvolstore %s: unload refused: %s", lvs_get_name(lb->lvs), strerror(-rc));
		lb->unloading = false;
		if (--g_unloads_pending == 0)
			release_held();
	}
}

static void
unload_when_idle(struct lvs_bdev *lb)
{
	release_channels(lb, unload_after_channels);
}

/* Starts the clean unload of every store that has no bdev left. Returns how many. */
static uint32_t
unload_idle_stores(void)
{
	struct lvs_bdev *lb;
	uint32_t n = 0;

	TAILQ_FOREACH(lb, &g_stores, link) {
		if (lb->num_bdevs != 0 || !lvs_bdev_usable(lb))
			continue;
		lb->unloading = true;
		lb->idle_fn = unload_when_idle;
		g_unloads_pending++;
		n++;
	}
	/* Started after the walk: an unload may complete and free its entry. */
	TAILQ_FOREACH(lb, &g_stores, link) {
		if (lb->unloading && lb->idle_fn == unload_when_idle)
			check_idle(lb);
	}
	return n;
}

void
lvol_bdev_fini_start(void)
{
	g_shutdown_started = true;
	unload_idle_stores();
}

/* The bdev layer's fini_start: bdev_finish goes on once those unloads are written. */
static void
lvol_fini_start(void)
{
	lvol_bdev_fini_start();
	if (g_unloads_pending == 0)
		bdev_module_fini_start_done(&g_lvol_bdev_module);
	else
		g_fini_start_waiting = true;
}

int
lvs_bdev_bdev_destructed_externally(struct lvol_bdev *lvb)
{
	struct lvs_bdev *lb = lvb->lvs_bdev;
	struct held_destruct *h;

	g_shutdown_started = true;
	lb->num_bdevs--;
	/* A store already on its way out (destroy, remove) goes on with its own end. */
	check_idle(lb);
	if (unload_idle_stores() == 0 && g_unloads_pending == 0) {
		free(lvb);
		return 0;
	}
	h = malloc(sizeof(*h));
	if (h == NULL) {
		/* The unloads still run; only the ordering guarantee is lost. */
		free(lvb);
		return 0;
	}
	h->lvb = lvb;
	h->next = g_held;
	g_held = h;
	return 1;
}

/* ---- registering the lvol bdevs of a store --------------------------------- */

struct register_walk {
	struct lvs_bdev *lb;
	struct lvol *next;
	void (*done)(void *arg);
	void *arg;
};

static void
register_batch(void *arg)
{
	struct register_walk *w = arg;
	struct lvol *lvol = w->next;
	unsigned n;

	for (n = 0; lvol != NULL && n < REGISTER_BATCH; n++, lvol = lvol_next(lvol)) {
		if (lvol_bdev_of(lvol) == NULL && !w->lb->removing)
			lvol_bdev_register(lvol);
	}
	w->next = lvol;
	if (lvol != NULL && thread_send_msg(thread_get_current(), register_batch, w) == 0)
		return;
	/* Done (or no message to spare: the rest registers right here). */
	for (; lvol != NULL; lvol = lvol_next(lvol)) {
		if (lvol_bdev_of(lvol) == NULL && !w->lb->removing)
			lvol_bdev_register(lvol);
	}
	w->lb->loading_batches--;
	lvs_bdev_op_end(w->lb);
	if (w->done != NULL)
		w->done(w->arg);
	free(w);
}

static void
register_all_then(struct lvs_bdev *lb, void (*done)(void *arg), void *arg)
{
	struct register_walk *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		struct lvol *lvol;

		for (lvol = lvol_first(lb->lvs); lvol != NULL; lvol = lvol_next(lvol))
			lvol_bdev_register(lvol);
		if (done != NULL)
			done(arg);
		return;
	}
	w->lb = lb;
	w->next = lvol_first(lb->lvs);
	w->done = done;
	w->arg = arg;
	lb->loading_batches++;
	lvs_bdev_op_begin(lb);
	register_batch(w);
}

static void
register_all(struct lvs_bdev *lb)
{
	register_all_then(lb, NULL, NULL);
}

/* ---- external snapshots ---------------------------------------------------------- */

static void
esnap_event(int event, struct bdev *bdev, void *ctx)
{
	if (event == BDEV_EVENT_REMOVE)
		LOG_WARN("bdev %s is the external snapshot of lvol clones: its removal "
			 "completes when they are closed", bdev_get_name(bdev));
}

int
lvs_bdev_esnap_dev_create(void *bs_ctx, void *blob_ctx, struct blob *blob,
			  const void *esnap_id, uint32_t id_len, struct bs_dev **dev)
{
	const char *id = esnap_id;
	struct lv_uuid uuid;
	int rc;

	/* A bdev UUID string with its NUL, 37 bytes (spec §7.4). */
	if (id_len != UUID_STRING_LEN || id[id_len - 1] != '\0' || uuid_parse_str(&uuid, id) != 0) {
		LOG_ERR("lvol blob 0x%lx: external snapshot id is not a UUID string",
			(unsigned long)blob_get_id(blob));
		return -EINVAL;
	}
	rc = bs_dev_bdev_create_ro(id, esnap_event, NULL, dev);
	if (rc != 0)
		LOG_NOTICE("external snapshot bdev %s: %s", id, rc == -ENODEV ? "missing" :
			   strerror(-rc));
	return rc;
}

/* ---- examine ---------------------------------------------------------------------- */

struct taste {
	char *name;
	struct bdev_desc *desc;
	struct io_channel *ch;
	void *buf;
	uint64_t blocks;
	struct bdev *base;
	struct bdev_io_wait_entry wait;
	uint32_t hops;                    /* waiting for the claim to go (taste_done_msg) */
	TAILQ_ENTRY(taste) link;
};

static TAILQ_HEAD(, taste) g_taste_queue = TAILQ_HEAD_INITIALIZER(g_taste_queue);
static uint32_t g_tastes_inflight;

static void taste_start(struct taste *t);

/* Starts queued tastes up to the limit. Not re-entered: a taste that ends
 * inside taste_start comes back here, and the outer loop carries on. */
static void
taste_next(void)
{
	static bool running;
	struct taste *t;

	if (running)
		return;
	running = true;
	while (g_tastes_inflight < TASTE_MAX_INFLIGHT && (t = TAILQ_FIRST(&g_taste_queue))) {
		TAILQ_REMOVE(&g_taste_queue, t, link);
		taste_start(t);
	}
	running = false;
}

static void
taste_free(struct taste *t)
{
	if (t->ch != NULL)
		io_channel_put(t->ch);
	if (t->desc != NULL)
		bdev_close(t->desc);
	free(t->buf);
	free(t->name);
	free(t);
}

/* One examine_disk call is over (its store loaded, or nothing there). */
static void
taste_done(struct taste *t)
{
	taste_free(t);
	g_tastes_inflight--;
	bdev_module_examine_done(&g_lvol_bdev_module);
	taste_next();
}

/*
 * After a failed lvs_load the bs_dev releases its claim once its channels
 * are gone, which takes a few message hops of its own. wait_for_examine
 * must not say the bdev was examined while our claim still holds it (a
 * bdev_lvol_create_lvstore sent next would get -EPERM), so the examine
 * ends only once the claim is gone: we look again after each hop, a
 * bounded number of times.
 */
#define CLAIM_RELEASE_HOPS 10000

static void
taste_done_msg(void *arg)
{
	struct taste *t = arg;
	struct bdev *bdev = bdev_get_by_name(t->name);

	if (bdev != NULL && bdev_get_claim_module(bdev) == &g_lvol_bdev_module &&
	    ++t->hops < CLAIM_RELEASE_HOPS &&
	    thread_send_msg(thread_get_current(), taste_done_msg, t) == 0)
		return;
	taste_done(t);
}

static void
taste_done_later(struct taste *t)
{
	if (thread_send_msg(thread_get_current(), taste_done_msg, t) != 0)
		taste_done(t);
}

static void
registered_all(void *arg)
{
	struct taste *t = arg;

	taste_done(t);
}

static void
unload_ignored(void *cb_arg, int rc)
{
}

static void register_loaded(struct lvs_bdev *lb, struct taste *t);

static void
loaded(void *cb_arg, struct lvol_store *lvs, int rc)
{
	struct taste *t = cb_arg;
	struct lvs_bdev *lb;

	if (rc != 0) {
		if (rc == -EEXIST)
			LOG_ERR("bdev %s holds an lvolstore whose name is already used by a loaded "
				"store: not loading it", t->name);
		else if (rc == -EILSEQ || rc == -ENXIO)
			LOG_DEBUG(vbdev_lvol, "bdev %s: no lvolstore (%d)", t->name, rc);
		else
			LOG_ERR("bdev %s: cannot load its lvolstore: %s", t->name, strerror(-rc));
		taste_done_later(t);
		return;
	}
	lb = lvs_bdev_add(lvs, t->base);
	if (lb == NULL) {
		LOG_ERR("lvolstore %s: out of memory; unloading it", lvs_get_name(lvs));
		if (lvs_unload(lvs, unload_ignored, NULL) != 0)
			LOG_ERR("lvolstore %s: cannot unload", lvs_get_name(lvs));
		taste_done_later(t);
		return;
	}
	LOG_NOTICE("lvolstore %s loaded from bdev %s", lvs_get_name(lvs), t->name);
	register_loaded(lb, t);
}

static void
taste_load(struct taste *t)
{
	struct lvs_opts opts;
	struct bs_dev *dev;
	int rc;

	rc = lvs_bdev_open_base(t->name, &dev, &t->base);
	if (rc != 0) {
		LOG_DEBUG(vbdev_lvol, "bdev %s: cannot claim it for its lvolstore: %s", t->name,
			  strerror(-rc));
		taste_done(t);
		return;
	}
	lvs_opts_init(&opts, sizeof(opts));
	opts.esnap_bs_dev_create = lvs_bdev_esnap_dev_create;
	opts.esnap_ctx = NULL;
	lvs_load(dev, &opts, loaded, t);
}

static bool
looks_like_lvolstore(const uint8_t *sb)
{
	static const uint8_t no_type[BS_BSTYPE_LEN];

	if (memcmp(sb, "SPDKBLOB", 8) != 0)
		return false;
	/* bstype at offset 56 (spec §2); version 1 stores have none. */
	return memcmp(sb + 56, g_lvs_bstype, BS_BSTYPE_LEN) == 0 ||
	       memcmp(sb + 56, no_type, BS_BSTYPE_LEN) == 0;
}

static void
taste_read_done(struct bdev_io *io, bool success, void *cb_arg)
{
	struct taste *t = cb_arg;
	bool store;

	bdev_free_io(io);
	store = success && looks_like_lvolstore(t->buf);
	io_channel_put(t->ch);
	t->ch = NULL;
	bdev_close(t->desc);
	t->desc = NULL;
	if (!store) {
		taste_done(t);
		return;
	}
	taste_load(t);
}

static void taste_submit(void *arg);

static void
taste_submit(void *arg)
{
	struct taste *t = arg;
	struct bdev *bdev = bdev_desc_get_bdev(t->desc);
	int rc;

	rc = bdev_read(t->desc, t->ch, t->buf, 0, t->blocks, taste_read_done, t);
	if (rc == -ENOMEM) {
		t->wait.bdev = bdev;
		t->wait.cb_fn = taste_submit;
		t->wait.cb_arg = t;
		if (bdev_queue_io_wait(bdev, t->ch, &t->wait) == 0)
			return;
	}
	if (rc != 0)
		taste_done(t);
}

static void
taste_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	/* The read in flight completes (with an error); then we close. */
}

static void
taste_start(struct taste *t)
{
	struct bdev *bdev;
	size_t align, len;
	int rc;

	g_tastes_inflight++;
	rc = bdev_open(t->name, false, taste_event, t, &t->desc);
	if (rc != 0) {
		t->desc = NULL;
		taste_done(t);
		return;
	}
	bdev = bdev_desc_get_bdev(t->desc);
	t->blocks = DIV_ROUND_UP(TASTE_BYTES, bdev_get_block_size(bdev));
	if (t->blocks > bdev_get_num_blocks(bdev)) {
		taste_done(t);
		return;
	}
	len = t->blocks * bdev_get_block_size(bdev);
	align = bdev_get_buf_align(bdev);
	if (align < 4096)
		align = 4096;
	t->buf = aligned_alloc(align, ALIGN_UP(len, align));
	t->ch = bdev_get_io_channel(t->desc);
	if (t->buf == NULL || t->ch == NULL) {
		taste_done(t);
		return;
	}
	taste_submit(t);
}

/* Could this lvol hold a store? Only if data can be at its io unit 0. */
static bool
lvol_may_hold_store(struct lvol *lvol)
{
	struct lvol *l;

	if (lvol_is_read_only(lvol))
		return false;
	for (l = lvol; l != NULL; l = lvol_get_parent(l)) {
		if (blob_io_unit_is_allocated(lvol_get_blob(l), 0))
			return true;
		if (lvol_is_esnap_clone(l))
			return true;
	}
	return false;
}

/*
 * Bdevs that are all zeroes when they appear: a new RAM disk or a null
 * bdev cannot hold a store yet, and reading it would only put an I/O in
 * its statistics that its user never made.
 */
static bool
born_empty(const struct bdev *bdev)
{
	const char *m = bdev_get_module_name(bdev);

	return m != NULL && (strcmp(m, "malloc") == 0 || strcmp(m, "null") == 0);
}

/* Looks for a store on the bdev; ends the examine (bdev_module_examine_done) one way or another. */
static void
examine_taste(struct bdev *bdev)
{
	struct taste *t;

	if (born_empty(bdev) || (bdev->module == &g_lvol_bdev_module &&
				 !lvol_may_hold_store(((struct lvol_bdev *)bdev->ctxt)->lvol))) {
		bdev_module_examine_done(&g_lvol_bdev_module);
		return;
	}
	if (bdev_is_claimed(bdev) || g_shutdown_started) {
		bdev_module_examine_done(&g_lvol_bdev_module);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (t != NULL)
		t->name = strdup(bdev_get_name(bdev));
	if (t == NULL || t->name == NULL) {
		LOG_ERR("bdev %s: no memory to examine it for an lvolstore", bdev_get_name(bdev));
		free(t);
		bdev_module_examine_done(&g_lvol_bdev_module);
		return;
	}
	TAILQ_INSERT_TAIL(&g_taste_queue, t, link);
	taste_next();
}

/* ---- external snapshots appearing ------------------------------------------------------ */

/*
 * Every new bdev may be the external snapshot some degraded esnap clone
 * waits for (lib/lvol/esnap.c): its UUID string is what EXTSNAP holds
 * (spec §7.4). When lib/lvol counts no degraded lvol at all, which is the
 * common case and the one that matters while a store registers 10,000
 * lvol bdevs, that costs one counter read. Otherwise each store that has
 * degraded lvols is asked (a walk of its degraded list, not of its lvols);
 * the lvols that come back get their bdevs as at load. Stores that start
 * attaches hold the examine, so that bdev_wait_for_examine (and a --json
 * start-up) ends with those bdevs registered; the taste of the new bdev
 * comes after, as for any bdev.
 *
 * A store that has just loaded is asked once more for all its degraded
 * lvols, whatever they wait for: a bdev that appeared while the store was
 * loading (after the open of its clone failed, before the store was in
 * g_stores) was looked for nowhere.
 *
 * The attach opens the bdev read-only without a claim
 * (lvs_bdev_esnap_dev_create), as a load does: that works whoever else
 * examines or claims it.
 */

/* Someone waiting for the attaches of several stores. */
struct esnap_wait {
	uint32_t pending;               /* stores still attaching, + 1 while starting */
	void (*then)(void *arg);
	void *arg;
};

/* One store's part (counted as an operation on the store meanwhile). */
struct esnap_store_hotplug {
	struct esnap_wait *w;
	struct lvs_bdev *lb;
};

static void
esnap_wait_put(struct esnap_wait *w)
{
	if (--w->pending > 0)
		return;
	w->then(w->arg);
	free(w);
}

/* lib/lvol attached one lvol (or failed to): its bdev goes up as at load. */
static void
esnap_lvol_attached(void *cb_arg, struct lvol *lvol, int rc)
{
	if (rc != 0)
		return;         /* still degraded; lib/lvol said why */
	/* A store still registering its bdevs may have got to this one first. */
	if (lvol_bdev_of(lvol) == NULL)
		lvol_bdev_register(lvol);
}

static void
esnap_store_done(void *cb_arg, int rc)
{
	struct esnap_store_hotplug *sh = cb_arg;
	struct esnap_wait *w = sh->w;
	struct lvs_bdev *lb = sh->lb;

	free(sh);
	/*
	 * What comes next (the registration of a loaded store's bdevs) starts
	 * while this operation still holds the store: a removal that began
	 * meanwhile cannot free it in between.
	 */
	esnap_wait_put(w);
	lvs_bdev_op_end(lb);
}

/*
 * Hot-plugs, in every store (or only in `only`), the degraded lvols that
 * wait for `id` (NULL: for anything). Returns true if some store started
 * attaches: then w->then(w->arg) runs once they are all over; otherwise
 * nothing runs and w is the caller's to free.
 */
static bool
esnap_hotplug_stores(struct lvs_bdev *only, const char *id, struct esnap_wait *w)
{
	struct lvs_bdev *lb;
	uint32_t stores = 0;

	w->pending = 1;
	TAILQ_FOREACH(lb, &g_stores, link) {
		struct esnap_store_hotplug *sh;
		int n;

		if ((only != NULL && lb != only) || lvs_get_degraded_count(lb->lvs) == 0 ||
		    lb->destroying || lb->removing || lb->unloading)
			continue;
		sh = calloc(1, sizeof(*sh));
		if (sh == NULL) {
			LOG_ERR("lvolstore %s: no memory to attach external snapshots",
				lvs_get_name(lb->lvs));
			continue;
		}
		sh->w = w;
		sh->lb = lb;
		n = lvs_esnap_hotplug(lb->lvs, id, id != NULL ? UUID_STRING_LEN : 0,
				      esnap_lvol_attached, esnap_store_done, sh);
		if (n <= 0) {
			if (n < 0)
				LOG_ERR("lvolstore %s: cannot attach external snapshots: %s",
					lvs_get_name(lb->lvs), strerror(-n));
			free(sh);
			continue;
		}
		/* The store must not unload under the attaches (check_idle waits). */
		lvs_bdev_op_begin(lb);
		w->pending++;
		stores++;
	}
	if (stores == 0)
		return false;
	esnap_wait_put(w);
	return true;
}

/* -- a new bdev -- */

static void
examine_after_esnaps(void *arg)
{
	char *name = arg;
	/* The bdev may have gone meanwhile: then there is nothing to taste. */
	struct bdev *bdev = bdev_get_by_name(name);

	free(name);
	if (bdev != NULL && !g_shutdown_started)
		examine_taste(bdev);
	else
		bdev_module_examine_done(&g_lvol_bdev_module);
}

/* True if the examine of `bdev` now waits for attaches (then tastes it). */
static bool
esnap_examine_start(struct bdev *bdev)
{
	struct esnap_wait *w;
	char id[UUID_STRING_LEN];

	if (g_shutdown_started || lvs_get_degraded_count(NULL) == 0)
		return false;
	w = calloc(1, sizeof(*w));
	if (w != NULL)
		w->arg = strdup(bdev_get_name(bdev));
	if (w == NULL || w->arg == NULL) {
		LOG_ERR("bdev %s: no memory to look for lvols waiting for it", bdev_get_name(bdev));
		free(w);
		return false;
	}
	w->then = examine_after_esnaps;
	uuid_fmt_lower(id, sizeof(id), bdev_get_uuid(bdev));
	if (esnap_hotplug_stores(NULL, id, w))
		return true;
	free(w->arg);
	free(w);
	return false;
}

static void
lvol_examine_disk(struct bdev *bdev)
{
	if (esnap_examine_start(bdev))
		return;
	examine_taste(bdev);
}

/* -- a store just loaded -- */

struct load_retry {
	struct lvs_bdev *lb;
	struct taste *t;
};

static void
register_after_esnaps(void *arg)
{
	struct load_retry *r = arg;
	struct lvs_bdev *lb = r->lb;
	struct taste *t = r->t;

	free(r);
	lb->loading_batches--;
	register_all_then(lb, registered_all, t);
}

/* Registers the new store's bdevs, after one more try of its missing external snapshots. */
static void
register_loaded(struct lvs_bdev *lb, struct taste *t)
{
	struct esnap_wait *w;
	struct load_retry *r;

	if (lvs_get_degraded_count(lb->lvs) == 0 || g_shutdown_started)
		goto now;
	w = calloc(1, sizeof(*w));
	r = calloc(1, sizeof(*r));
	if (w == NULL || r == NULL) {
		free(w);
		free(r);
		goto now;
	}
	r->lb = lb;
	r->t = t;
	w->then = register_after_esnaps;
	w->arg = r;
	/* Still loading for RPC lookups meanwhile (lvs_bdev_usable). */
	lb->loading_batches++;
	if (esnap_hotplug_stores(lb, NULL, w))
		return;
	lb->loading_batches--;
	free(w);
	free(r);
now:
	register_all_then(lb, registered_all, t);
}
