/*
 * lib/bdev/bdev.c: the registry of block devices: registration, names and
 * aliases, lookup, descriptors, claims, hot-remove and resize.
 *
 * Invariants:
 *  - Every string that finds a bdev (its name, each alias, its UUID
 *    string, which is registered as an alias unless it is the name) is
 *    unique across all registered bdevs, including those being removed:
 *    a name is free again only once the module's destruct has run.
 *    Every such string is in the name index (g_bdev_names, a hash table
 *    kept with the registry under g_bdev_lock), so lookups and the
 *    collision check of bdev_register cost O(1) however many bdevs exist.
 *  - The registry (g_bdevs, names, descriptor lists, claims, status) is
 *    changed only under g_bdev_lock. This is the control path; the I/O
 *    path never takes the lock: what it needs (removal, QoS) is copied
 *    into each channel, on the channel's thread, by io_device_for_each_channel.
 *  - A descriptor belongs to the thread that opened it. Events reach it by
 *    message; a descriptor closed while an event message is on its way is
 *    freed by that message (pending_events counts them), never before.
 *  - Removal: status READY -> REMOVING (new opens fail, channels fail new
 *    I/O with -ENODEV, descriptors get BDEV_EVENT_REMOVE); when the walk
 *    that marks the channels is done AND the last descriptor is closed,
 *    the io_device is unregistered; when its last channel is gone the bdev
 *    leaves the registry and the module's destruct runs. The bdev struct
 *    belongs to the module, so nothing here touches it after destruct
 *    returns 0 (or after bdev_destruct_done()).
 *  - Descriptors may be closed, and channels put, with I/O in flight: no
 *    bdev_io points at its descriptor, and a channel with live bdev_ios is
 *    held by the layer (io.c) until the last one is freed. So "its last
 *    channel is gone" above also means "its last I/O is done": destruct
 *    never runs under I/O still at the module.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "bdev_internal.h"

LOG_REGISTER_COMPONENT(bdev)

pthread_mutex_t g_bdev_lock = PTHREAD_MUTEX_INITIALIZER;
struct bdev_list g_bdevs = TAILQ_HEAD_INITIALIZER(g_bdevs);

static const char *const g_io_type_names[BDEV_NUM_IO_TYPES] = {
	[BDEV_IO_TYPE_READ] = "read",
	[BDEV_IO_TYPE_WRITE] = "write",
	[BDEV_IO_TYPE_UNMAP] = "unmap",
	[BDEV_IO_TYPE_FLUSH] = "flush",
	[BDEV_IO_TYPE_RESET] = "reset",
	[BDEV_IO_TYPE_NVME_ADMIN] = "nvme_admin",
	[BDEV_IO_TYPE_NVME_IO] = "nvme_io",
	[BDEV_IO_TYPE_NVME_IO_MD] = "nvme_io_md",
	[BDEV_IO_TYPE_WRITE_ZEROES] = "write_zeroes",
	[BDEV_IO_TYPE_ZCOPY] = "zcopy",
	[BDEV_IO_TYPE_GET_ZONE_INFO] = "get_zone_info",
	[BDEV_IO_TYPE_ZONE_MANAGEMENT] = "zone_management",
	[BDEV_IO_TYPE_ZONE_APPEND] = "zone_append",
	[BDEV_IO_TYPE_COMPARE] = "compare",
	[BDEV_IO_TYPE_COMPARE_AND_WRITE] = "compare_and_write",
	[BDEV_IO_TYPE_ABORT] = "abort",
	[BDEV_IO_TYPE_SEEK_HOLE] = "seek_hole",
	[BDEV_IO_TYPE_SEEK_DATA] = "seek_data",
	[BDEV_IO_TYPE_COPY] = "copy",
	[BDEV_IO_TYPE_NVME_IOV_MD] = "nvme_iov_md",
	[BDEV_IO_TYPE_NVME_NSSR] = "nvme_nssr",
	[BDEV_IO_TYPE_WRITE_UNCORRECTABLE] = "write_uncorrectable",
};

const char *
bdev_io_type_name(enum bdev_io_type type)
{
	if ((int)type < 0 || type >= BDEV_NUM_IO_TYPES)
		return NULL;
	return g_io_type_names[type];
}

int
bdev_io_type_parse(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	for (int i = 0; i < BDEV_NUM_IO_TYPES; i++) {
		if (strcmp(g_io_type_names[i], name) == 0)
			return i;
	}
	return -EINVAL;
}

/* ---- lookup ------------------------------------------------------------- */

/*
 * The name index: every name and alias of every registered bdev (removing
 * ones included), so that a lookup -- two per registration, one per open --
 * costs O(1) rather than a walk of all bdevs and their aliases, which made
 * loading thousands of lvols quadratic. Under g_bdev_lock.
 */
static struct hash_table g_bdev_names = HASH_TABLE_INITIALIZER;

/* Any bdev (removing ones included) known by `name`. Under the lock. */
static struct bdev_internal *
find_locked(const char *name)
{
	struct hash_entry *e;

	for (e = hash_table_first(&g_bdev_names, hash_str(name)); e != NULL;
	     e = hash_table_next(e)) {
		struct bdev_name *n = (struct bdev_name *)e;

		if (strcmp(n->name, name) == 0)
			return n->in;
	}
	return NULL;
}

static int
name_index_add_locked(struct bdev_name *n, struct bdev_internal *in, const char *name)
{
	n->in = in;
	n->name = name;
	return hash_table_insert(&g_bdev_names, &n->he, hash_str(name));
}

struct bdev *
bdev_get_by_name(const char *name)
{
	struct bdev_internal *in;
	struct bdev *bdev = NULL;

	if (name == NULL)
		return NULL;
	pthread_mutex_lock(&g_bdev_lock);
	in = find_locked(name);
	if (in != NULL && in->status == BDEV_STATUS_READY)
		bdev = in->bdev;
	pthread_mutex_unlock(&g_bdev_lock);
	return bdev;
}

static struct bdev *
next_ready_locked(struct bdev_internal *in)
{
	while (in != NULL && in->status != BDEV_STATUS_READY)
		in = TAILQ_NEXT(in, link);
	return in ? in->bdev : NULL;
}

struct bdev *
bdev_first(void)
{
	struct bdev *bdev;

	pthread_mutex_lock(&g_bdev_lock);
	bdev = next_ready_locked(TAILQ_FIRST(&g_bdevs));
	pthread_mutex_unlock(&g_bdev_lock);
	return bdev;
}

struct bdev *
bdev_next(struct bdev *prev)
{
	struct bdev *bdev;

	pthread_mutex_lock(&g_bdev_lock);
	bdev = next_ready_locked(TAILQ_NEXT(prev->internal, link));
	pthread_mutex_unlock(&g_bdev_lock);
	return bdev;
}

/* ---- getters ------------------------------------------------------------ */

const char *
bdev_get_name(const struct bdev *bdev)
{
	return bdev->name;
}

const char *
bdev_get_product_name(const struct bdev *bdev)
{
	return bdev->product_name ? bdev->product_name : "";
}

uint32_t
bdev_get_block_size(const struct bdev *bdev)
{
	return bdev->blocklen;
}

uint64_t
bdev_get_num_blocks(const struct bdev *bdev)
{
	return bdev->blockcnt;
}

const struct lv_uuid *
bdev_get_uuid(const struct bdev *bdev)
{
	return &bdev->uuid;
}

uint32_t
bdev_get_physical_block_size(const struct bdev *bdev)
{
	return bdev->phys_blocklen ? bdev->phys_blocklen : bdev->blocklen;
}

uint32_t
bdev_get_optimal_io_boundary(const struct bdev *bdev)
{
	return bdev->optimal_io_boundary;
}

uint32_t
bdev_get_max_transfer_blocks(const struct bdev *bdev)
{
	return bdev->max_transfer_blocks;
}

size_t
bdev_get_buf_align(const struct bdev *bdev)
{
	return bdev->required_alignment > 1 ? bdev->required_alignment : 1;
}

bool
bdev_io_type_supported(const struct bdev *bdev, enum bdev_io_type type)
{
	if ((int)type < 0 || type >= BDEV_NUM_IO_TYPES)
		return false;
	if (bdev->fn_table->io_type_supported(bdev->ctxt, type))
		return true;
	/* Emulated with writes of zeroes. */
	if (type == BDEV_IO_TYPE_WRITE_ZEROES)
		return bdev->fn_table->io_type_supported(bdev->ctxt, BDEV_IO_TYPE_WRITE);
	return false;
}

bool
bdev_is_claimed(const struct bdev *bdev)
{
	bool claimed;

	pthread_mutex_lock(&g_bdev_lock);
	claimed = bdev->internal->claim_module != NULL;
	pthread_mutex_unlock(&g_bdev_lock);
	return claimed;
}

struct bdev_module *
bdev_get_claim_module(const struct bdev *bdev)
{
	struct bdev_module *m;

	pthread_mutex_lock(&g_bdev_lock);
	m = bdev->internal->claim_module;
	pthread_mutex_unlock(&g_bdev_lock);
	return m;
}

const char *
bdev_get_claim_type(const struct bdev *bdev)
{
	return bdev_is_claimed(bdev) ? "exclusive_write" : NULL;
}

size_t
bdev_get_aliases(const struct bdev *bdev, const char **aliases, size_t max)
{
	const struct bdev_alias *a;
	size_t n = 0;

	pthread_mutex_lock(&g_bdev_lock);
	TAILQ_FOREACH(a, &bdev->internal->aliases, link) {
		if (n < max)
			aliases[n] = a->name;
		n++;
	}
	pthread_mutex_unlock(&g_bdev_lock);
	return n;
}

const char *
bdev_get_module_name(const struct bdev *bdev)
{
	return bdev->module ? bdev->module->name : "";
}

/* ---- registration ------------------------------------------------------- */

static int
alias_append_locked(struct bdev_internal *in, const char *name)
{
	size_t len = strlen(name);
	struct bdev_alias *a = malloc(sizeof(*a) + len + 1);

	if (a == NULL)
		return -ENOMEM;
	memcpy(a->name, name, len + 1);
	if (name_index_add_locked(&a->idx, in, a->name) != 0) {
		free(a);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&in->aliases, a, link);
	return 0;
}

/* Takes the bdev's name and aliases out of the index (under the lock). */
static void
names_unindex_locked(struct bdev_internal *in)
{
	struct bdev_alias *a;

	hash_table_remove(&g_bdev_names, &in->name_idx.he);
	TAILQ_FOREACH(a, &in->aliases, link) {
		hash_table_remove(&g_bdev_names, &a->idx.he);
	}
}

/* Frees the aliases, already out of the index. */
static void
aliases_free(struct bdev_internal *in)
{
	struct bdev_alias *a;

	while ((a = TAILQ_FIRST(&in->aliases)) != NULL) {
		TAILQ_REMOVE(&in->aliases, a, link);
		free(a);
	}
}

static bool
geometry_ok(const struct bdev *bdev)
{
	if (bdev->blocklen < 512 || !IS_POWER_OF_2(bdev->blocklen))
		return false;
	if (bdev->blockcnt == 0)
		return false;
	if (bdev->phys_blocklen != 0 &&
	    (bdev->phys_blocklen < bdev->blocklen || !IS_POWER_OF_2(bdev->phys_blocklen)))
		return false;
	if (bdev->required_alignment > 1 && !IS_POWER_OF_2(bdev->required_alignment))
		return false;
	return true;
}

int
bdev_register(struct bdev *bdev)
{
	struct bdev_internal *in;
	int rc;

	if (bdev == NULL || bdev->name == NULL || bdev->name[0] == '\0' ||
	    bdev->fn_table == NULL || bdev->fn_table->submit_request == NULL ||
	    bdev->fn_table->io_type_supported == NULL ||
	    bdev->fn_table->get_io_channel == NULL || bdev->fn_table->destruct == NULL) {
		LOG_ERR("bdev_register: incomplete bdev");
		return -EINVAL;
	}
	if (!geometry_ok(bdev)) {
		LOG_ERR("bdev %s: bad geometry (block %u x %lu)", bdev->name, bdev->blocklen,
			(unsigned long)bdev->blockcnt);
		return -EINVAL;
	}
	if (g_bdev_io_pool == NULL) {
		LOG_ERR("bdev %s: the bdev layer is not initialised", bdev->name);
		return -EINVAL;
	}
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return -ENOMEM;
	in->bdev = bdev;
	TAILQ_INIT(&in->aliases);
	TAILQ_INIT(&in->descs);
	in->status = BDEV_STATUS_READY;
	in->split_rw = bdev->max_transfer_blocks != 0 || bdev->max_segment_count != 0 ||
		       (bdev->split_on_optimal_io_boundary && bdev->optimal_io_boundary != 0);
	bdev_stat_init(&in->stat_gone);
	if (uuid_is_null_lv(&bdev->uuid))
		uuid_generate_random_lv(&bdev->uuid);
	uuid_fmt_lower(in->uuid_str, sizeof(in->uuid_str), &bdev->uuid);

	pthread_mutex_lock(&g_bdev_lock);
	if (find_locked(bdev->name) != NULL ||
	    (strcmp(in->uuid_str, bdev->name) != 0 && find_locked(in->uuid_str) != NULL)) {
		pthread_mutex_unlock(&g_bdev_lock);
		LOG_ERR("bdev %s: name or UUID %s already in use", bdev->name, in->uuid_str);
		free(in);
		return -EEXIST;
	}
	rc = name_index_add_locked(&in->name_idx, in, bdev->name);
	if (rc == 0 && strcmp(in->uuid_str, bdev->name) != 0) {
		rc = alias_append_locked(in, in->uuid_str);
		if (rc != 0)
			hash_table_remove(&g_bdev_names, &in->name_idx.he);
	}
	if (rc != 0) {
		pthread_mutex_unlock(&g_bdev_lock);
		free(in);
		return rc;
	}
	bdev->internal = in;
	TAILQ_INSERT_TAIL(&g_bdevs, in, link);
	pthread_mutex_unlock(&g_bdev_lock);

	io_device_register(in, bdev_channel_create, bdev_channel_destroy,
			   sizeof(struct bdev_channel), bdev->name);
	LOG_DEBUG(bdev, "registered bdev %s (%s)", bdev->name, in->uuid_str);
	bdev_examine_new(bdev);
	return 0;
}

int
bdev_alias_add(struct bdev *bdev, const char *alias)
{
	int rc;

	if (alias == NULL || alias[0] == '\0')
		return -EINVAL;
	pthread_mutex_lock(&g_bdev_lock);
	if (find_locked(alias) != NULL)
		rc = -EEXIST;
	else
		rc = alias_append_locked(bdev->internal, alias);
	pthread_mutex_unlock(&g_bdev_lock);
	return rc;
}

int
bdev_alias_del(struct bdev *bdev, const char *alias)
{
	struct bdev_alias *a;
	int rc = -ENOENT;

	pthread_mutex_lock(&g_bdev_lock);
	TAILQ_FOREACH(a, &bdev->internal->aliases, link) {
		if (strcmp(a->name, alias) == 0) {
			TAILQ_REMOVE(&bdev->internal->aliases, a, link);
			hash_table_remove(&g_bdev_names, &a->idx.he);
			free(a);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&g_bdev_lock);
	return rc;
}

/* ---- descriptors --------------------------------------------------------- */

static bool
other_writer_locked(const struct bdev_internal *in, const struct bdev_desc *except)
{
	const struct bdev_desc *d;

	TAILQ_FOREACH(d, &in->descs, link) {
		if (d != except && d->write)
			return true;
	}
	return false;
}

int
bdev_open(const char *name, bool write, bdev_event_cb event_cb, void *event_ctx,
	  struct bdev_desc **out)
{
	struct bdev_internal *in;
	struct bdev_desc *desc;
	struct thread *thread = thread_get_current();

	if (name == NULL || event_cb == NULL || out == NULL || thread == NULL)
		return -EINVAL;
	desc = calloc(1, sizeof(*desc));
	if (desc == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&g_bdev_lock);
	in = find_locked(name);
	if (in == NULL || in->status != BDEV_STATUS_READY) {
		pthread_mutex_unlock(&g_bdev_lock);
		free(desc);
		return -ENODEV;
	}
	if (write && in->claim_module != NULL) {
		pthread_mutex_unlock(&g_bdev_lock);
		LOG_ERR("bdev %s is claimed by %s: no write access", in->bdev->name,
			in->claim_module->name);
		free(desc);
		return -EPERM;
	}
	desc->bdev = in->bdev;
	desc->thread = thread;
	desc->event_cb = event_cb;
	desc->event_ctx = event_ctx;
	desc->write = write;
	TAILQ_INSERT_TAIL(&in->descs, desc, link);
	pthread_mutex_unlock(&g_bdev_lock);
	*out = desc;
	return 0;
}

static void unregister_maybe_finish_locked(struct bdev_internal *in);

void
bdev_close(struct bdev_desc *desc)
{
	struct bdev_internal *in = desc->bdev->internal;
	bool free_now;

	pthread_mutex_lock(&g_bdev_lock);
	TAILQ_REMOVE(&in->descs, desc, link);
	if (in->claim_desc == desc) {
		LOG_DEBUG(bdev, "bdev %s: claim by %s released on close", desc->bdev->name,
			  in->claim_module->name);
		in->claim_desc = NULL;
		in->claim_module = NULL;
	}
	desc->closed = true;
	free_now = desc->pending_events == 0;
	unregister_maybe_finish_locked(in);
	pthread_mutex_unlock(&g_bdev_lock);
	if (free_now)
		free(desc);
}

struct bdev *
bdev_desc_get_bdev(struct bdev_desc *desc)
{
	return desc->bdev;
}

bool
bdev_desc_is_writable(const struct bdev_desc *desc)
{
	return desc->write;
}

struct io_channel *
bdev_get_io_channel(struct bdev_desc *desc)
{
	return io_channel_get(desc->bdev->internal);
}

struct event_msg {
	struct bdev_desc *desc;
	enum bdev_event_type type;
};

static void
desc_event_msg(void *arg)
{
	struct event_msg *m = arg;
	struct bdev_desc *desc = m->desc;
	bool closed, free_desc;

	pthread_mutex_lock(&g_bdev_lock);
	desc->pending_events--;
	closed = desc->closed;
	free_desc = closed && desc->pending_events == 0;
	pthread_mutex_unlock(&g_bdev_lock);
	/* Closing is on this thread too: a desc open now stays open during the call. */
	if (!closed)
		desc->event_cb(m->type, desc->bdev, desc->event_ctx);
	else if (free_desc)
		free(desc);
	free(m);
}

/* Sends `type` to every open descriptor, on its thread. Under the lock. */
static void
notify_descs_locked(struct bdev_internal *in, enum bdev_event_type type)
{
	struct bdev_desc *desc;

	TAILQ_FOREACH(desc, &in->descs, link) {
		struct event_msg *m = malloc(sizeof(*m));

		if (m == NULL) {
			LOG_ERR("bdev %s: no memory for an event", in->bdev->name);
			continue;
		}
		m->desc = desc;
		m->type = type;
		desc->pending_events++;
		if (thread_send_msg(desc->thread, desc_event_msg, m) != 0) {
			LOG_ERR("bdev %s: cannot send an event to thread %s", in->bdev->name,
				thread_get_name(desc->thread));
			desc->pending_events--;
			free(m);
		}
	}
}

/* ---- claims ------------------------------------------------------------- */

int
bdev_module_claim_bdev(struct bdev *bdev, struct bdev_desc *desc, struct bdev_module *module)
{
	struct bdev_internal *in = bdev->internal;
	int rc = 0;

	pthread_mutex_lock(&g_bdev_lock);
	if (in->claim_module != NULL) {
		LOG_ERR("bdev %s already claimed by %s", bdev->name, in->claim_module->name);
		rc = -EPERM;
	} else if (desc != NULL && !desc->write) {
		LOG_ERR("bdev %s: a claim needs a writable descriptor", bdev->name);
		rc = -EPERM;
	} else if (other_writer_locked(in, desc)) {
		LOG_ERR("bdev %s: open for writing elsewhere, cannot claim", bdev->name);
		rc = -EPERM;
	} else {
		in->claim_module = module;
		in->claim_desc = desc;
	}
	pthread_mutex_unlock(&g_bdev_lock);
	return rc;
}

void
bdev_module_release_bdev(struct bdev *bdev)
{
	pthread_mutex_lock(&g_bdev_lock);
	bdev->internal->claim_module = NULL;
	bdev->internal->claim_desc = NULL;
	pthread_mutex_unlock(&g_bdev_lock);
}

/* ---- unregistration ------------------------------------------------------ */

static void
unregister_finalize(struct bdev_internal *in, int rc)
{
	void (*cb)(void *, int) = in->unregister_cb;
	void *cb_arg = in->unregister_cb_arg;

	LOG_DEBUG(bdev, "bdev unregistered (rc %d)", rc);
	aliases_free(in);
	bdev_stat_free_bdev(in);
	free(in);
	if (cb != NULL)
		cb(cb_arg, rc);
}

void
bdev_destruct_done(struct bdev *bdev, int rc)
{
	unregister_finalize(bdev->internal, rc);
}

/* The last channel is gone (unregistering thread). */
static void
io_device_gone(void *io_device)
{
	struct bdev_internal *in = io_device;
	struct bdev *bdev = in->bdev;
	int rc;

	pthread_mutex_lock(&g_bdev_lock);
	TAILQ_REMOVE(&g_bdevs, in, link);
	/* bdev->name may die with destruct; the names are free again from here. */
	names_unindex_locked(in);
	pthread_mutex_unlock(&g_bdev_lock);
	rc = bdev->fn_table->destruct(bdev->ctxt);
	if (rc == 1)
		return;    /* the module calls bdev_destruct_done() */
	/* `bdev` may be freed now: only `in` is used from here on. */
	unregister_finalize(in, rc < 0 ? rc : 0);
}

static void
unregister_finish_msg(void *arg)
{
	struct bdev_internal *in = arg;

	bdev_qos_teardown(in->bdev);
	io_device_unregister(in, io_device_gone);
}

/* Under the lock: once channels are marked and descriptors closed, go on. */
static void
unregister_maybe_finish_locked(struct bdev_internal *in)
{
	if (in->status != BDEV_STATUS_REMOVING || !in->removal_walk_done ||
	    !TAILQ_EMPTY(&in->descs) || in->unregister_finishing)
		return;
	in->unregister_finishing = true;
	if (thread_send_msg(in->unregister_thread, unregister_finish_msg, in) != 0)
		LOG_ERR("bdev %s: cannot finish unregistration", in->bdev->name);
}

static void
mark_channel_removing(struct io_channel_iter *iter)
{
	struct bdev_channel *ch = io_channel_get_ctx(io_channel_iter_get_channel(iter));

	ch->flags |= BDEV_CH_REMOVING;
	io_channel_iter_continue(iter, 0);
}

static void
channels_marked(struct io_channel_iter *iter, int status)
{
	struct bdev_internal *in = io_channel_iter_get_io_device(iter);

	pthread_mutex_lock(&g_bdev_lock);
	in->removal_walk_done = true;
	notify_descs_locked(in, BDEV_EVENT_REMOVE);
	unregister_maybe_finish_locked(in);
	pthread_mutex_unlock(&g_bdev_lock);
}

struct unreg_err {
	void (*cb)(void *cb_arg, int rc);
	void *cb_arg;
	int rc;
};

static void
unregister_err_msg(void *arg)
{
	struct unreg_err *e = arg;

	e->cb(e->cb_arg, e->rc);
	free(e);
}

static void
unregister_fail(void (*cb)(void *cb_arg, int rc), void *cb_arg, int rc)
{
	struct unreg_err *e;

	if (cb == NULL)
		return;
	e = malloc(sizeof(*e));
	if (e == NULL)
		return;
	e->cb = cb;
	e->cb_arg = cb_arg;
	e->rc = rc;
	if (thread_send_msg(thread_get_current(), unregister_err_msg, e) != 0)
		free(e);
}

void
bdev_unregister(struct bdev *bdev, void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	struct bdev_internal *in = bdev->internal;

	pthread_mutex_lock(&g_bdev_lock);
	if (in->status != BDEV_STATUS_READY) {
		pthread_mutex_unlock(&g_bdev_lock);
		unregister_fail(cb, cb_arg, -EBUSY);
		return;
	}
	in->status = BDEV_STATUS_REMOVING;
	in->unregister_cb = cb;
	in->unregister_cb_arg = cb_arg;
	in->unregister_thread = thread_get_current();
	pthread_mutex_unlock(&g_bdev_lock);
	LOG_DEBUG(bdev, "unregistering bdev %s", bdev->name);
	io_device_for_each_channel(in, mark_channel_removing, NULL, channels_marked);
}

int
bdev_unregister_by_name(const char *name, struct bdev_module *module,
			void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	struct bdev *bdev = bdev_get_by_name(name);
	struct bdev_module *claimer;

	if (bdev == NULL || (module != NULL && bdev->module != module))
		return -ENODEV;
	/*
	 * A module deleting its own bdev on request (bdev_malloc_delete, ...)
	 * must not pull it from under the module that claims it (an lvol
	 * store on it): the user deletes the claimer first. A hot-remove
	 * (module NULL) goes ahead; the claimer gets BDEV_EVENT_REMOVE.
	 */
	claimer = module != NULL ? bdev_get_claim_module(bdev) : NULL;
	if (claimer != NULL) {
		LOG_ERR("%s: %s is claimed by module %s; not deleting it", module->name,
			bdev->name, claimer->name);
		return -EBUSY;
	}
	bdev_unregister(bdev, cb, cb_arg);
	return 0;
}

/* ---- resize -------------------------------------------------------------- */

int
bdev_notify_blockcnt_change(struct bdev *bdev, uint64_t blockcnt)
{
	struct bdev_internal *in = bdev->internal;
	int rc = 0;

	if (blockcnt == 0)
		return -EINVAL;
	pthread_mutex_lock(&g_bdev_lock);
	if (blockcnt < bdev->blockcnt && !TAILQ_EMPTY(&in->descs)) {
		/* Shrinking under an open descriptor would cut off its I/O. */
		rc = -EBUSY;
	} else if (blockcnt != bdev->blockcnt) {
		bdev->blockcnt = blockcnt;
		if (in->status == BDEV_STATUS_READY)
			notify_descs_locked(in, BDEV_EVENT_RESIZE);
	}
	pthread_mutex_unlock(&g_bdev_lock);
	return rc;
}

/* ---- bdev_get_bdevs' object ---------------------------------------------- */

json_t *
bdev_info_json(struct bdev *bdev)
{
	struct bdev_internal *in = bdev->internal;
	json_t *o = json_object(), *aliases = json_array(), *limits, *io_types, *ds;
	uint64_t ql[BDEV_QOS_NUM_LIMITS];
	const struct bdev_alias *a;
	bool claimed;

	pthread_mutex_lock(&g_bdev_lock);
	TAILQ_FOREACH(a, &in->aliases, link)
		json_array_append_new(aliases, json_string(a->name));
	claimed = in->claim_module != NULL;
	pthread_mutex_unlock(&g_bdev_lock);
	bdev_get_qos_limits(bdev, ql);

	json_object_set_new(o, "name", json_string(bdev->name));
	json_object_set_new(o, "aliases", aliases);
	json_object_set_new(o, "product_name", json_string(bdev_get_product_name(bdev)));
	json_object_set_new(o, "block_size", json_integer(bdev->blocklen));
	json_object_set_new(o, "num_blocks", json_integer((json_int_t)bdev->blockcnt));
	json_object_set_new(o, "preferred_write_alignment",
			    json_integer(bdev->preferred_write_alignment));
	json_object_set_new(o, "preferred_write_granularity",
			    json_integer(bdev->preferred_write_granularity));
	json_object_set_new(o, "optimal_write_size", json_integer(bdev->optimal_write_size));
	json_object_set_new(o, "preferred_unmap_alignment",
			    json_integer(bdev->preferred_unmap_alignment));
	json_object_set_new(o, "preferred_unmap_granularity",
			    json_integer(bdev->preferred_unmap_granularity));
	json_object_set_new(o, "uuid", json_string(in->uuid_str));
	if (bdev->numa_id >= 0)
		json_object_set_new(o, "numa_id", json_integer(bdev->numa_id));
	limits = json_object();
	json_object_set_new(limits, "rw_ios_per_sec", json_integer((json_int_t)ql[BDEV_QOS_RW_IOPS]));
	json_object_set_new(limits, "rw_mbytes_per_sec",
			    json_integer((json_int_t)(ql[BDEV_QOS_RW_BPS] / (1024 * 1024))));
	json_object_set_new(limits, "r_mbytes_per_sec",
			    json_integer((json_int_t)(ql[BDEV_QOS_R_BPS] / (1024 * 1024))));
	json_object_set_new(limits, "w_mbytes_per_sec",
			    json_integer((json_int_t)(ql[BDEV_QOS_W_BPS] / (1024 * 1024))));
	json_object_set_new(o, "assigned_rate_limits", limits);
	json_object_set_new(o, "claimed", json_boolean(claimed));
	if (claimed)
		json_object_set_new(o, "claim_type", json_string("exclusive_write"));
	json_object_set_new(o, "zoned", json_false());
	io_types = json_object();
	for (int t = 0; t < BDEV_NUM_IO_TYPES; t++)
		json_object_set_new(io_types, g_io_type_names[t],
				    json_boolean(bdev_io_type_supported(bdev, t)));
	json_object_set_new(o, "supported_io_types", io_types);
	ds = json_object();
	if (bdev->fn_table->dump_info_json != NULL)
		bdev->fn_table->dump_info_json(bdev->ctxt, ds);
	json_object_set_new(o, "driver_specific", ds);
	return o;
}
