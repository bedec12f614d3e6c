/*
 * lib/blob/store.c: the blobstore as a whole. Creating a store (bs_init),
 * loading it (bs_load), unloading, destroying and growing it, the super
 * blob, dirty marking, and the allocators of clusters and metadata pages.
 *
 * Invariants while a store is loaded:
 *  - used_clusters, used_md_pages and used_blobids are exact: a bit is set
 *    iff the cluster / page / ID belongs to some blob's committed or
 *    in-flight state (or to the metadata clusters), and a cluster is owned
 *    by exactly one blob or free. num_free_clusters counts the clear bits.
 *  - A bit is cleared only once nothing on disk can still refer to it:
 *    after the commit that dropped the reference, and for md pages after
 *    the zero write over the page has completed (so a page is never handed
 *    out while a write to it is in flight).
 *  - The superblock on disk says clean = 0 before any metadata write that
 *    follows a load (bs->dirty, spec §2.4), so every crash after that write
 *    is recovered by the §6.9 walk and stale masks are never trusted.
 *  - Every function runs on bs->md_thread.
 *
 * Crash safety of the store-level operations (what commits each, and why a
 * power cut before or after that write is safe):
 *
 *  bs_init      Zero the metadata area, scrub the data area, then write
 *               the superblock (clean = 0, zero masks), then flush. The
 *               superblock write commits the store: before it there is no
 *               valid superblock (the load fails: "not a blobstore"), after
 *               it the store loads through recovery, which finds no blobs.
 *  dirty mark   One superblock write (clean = 0) before the first md change
 *               after a clean load, flushed before that change is written.
 *               Before it the store is clean and unchanged; after it any
 *               state is recovered.
 *  bs_unload    Flush, write the three masks, flush, write the superblock
 *               with clean = 1, flush. The clean superblock commits; before
 *               it the superblock still says clean = 0 and the (partly
 *               written) masks are ignored. The flushes make the masks
 *               durable before the flag that vouches for them.
 *  bs_set_super One superblock write, flushed; clean keeps its on-disk
 *               value. Atomic (one 4 KiB structure).
 *  bs_grow_live Mark dirty, then one superblock write with the new size and
 *               cluster-mask length. Before it the old size stands; after
 *               it, recovery sizes the masks from the new superblock.
 *  bs_destroy   Zero the superblock: the store is gone.
 *
 * Allocation policy (spec §6.2, informative): lowest-numbered free cluster
 * and md page first, found from a hint below which nothing is free, so a
 * thick blob of n clusters costs O(n) and not O(n * total / 64).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"

#include "blob_internal.h"

/* Default cluster size of a plain blobstore (spec §1.1). */
#define BS_DEFAULT_CLUSTER_SZ (1024u * 1024u)
/* Concurrent metadata operations / channel I/O: SPDK's defaults. */
#define BS_DEFAULT_MAX_MD_OPS 32u
#define BS_DEFAULT_MAX_CHANNEL_OPS 512u

struct bs_dirty_waiter {
	bs_op_complete cb;
	void *cb_arg;
	TAILQ_ENTRY(bs_dirty_waiter) link;
};

/* ---- small helpers --------------------------------------------------------------- */

int
u32_vec_push(struct u32_vec *vec, uint32_t x)
{
	if (vec->n == vec->cap) {
		uint32_t cap = vec->cap ? vec->cap * 2 : 8;
		uint32_t *v = realloc(vec->v, (size_t)cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = x;
	return 0;
}

void
u32_vec_free(struct u32_vec *vec)
{
	free(vec->v);
	vec->v = NULL;
	vec->n = vec->cap = 0;
}

struct later {
	blob_op_complete cb;
	void *cb_arg;
	int rc;
};

static void
later_fn(void *ctx)
{
	struct later *l = ctx;
	blob_op_complete cb = l->cb;
	void *cb_arg = l->cb_arg;
	int rc = l->rc;

	free(l);
	cb(cb_arg, rc);
}

void
bs_complete_later(blob_op_complete cb, void *cb_arg, int rc)
{
	struct later *l = malloc(sizeof(*l));

	if (l == NULL || thread_send_msg(thread_get_current(), later_fn, l) != 0) {
		/* Both pools are sized for far more than any test or daemon keeps
		 * in flight; running out is a bug we want to see at once. */
		LOG_ERR("blobstore: cannot defer a completion (out of memory)\n");
		abort();
	}
	l->cb = cb;
	l->cb_arg = cb_arg;
	l->rc = rc;
}

struct handle_later {
	bs_op_with_handle_complete cb;
	void *cb_arg;
	int rc;
};

static void
handle_later_fn(void *ctx)
{
	struct handle_later *l = ctx;
	bs_op_with_handle_complete cb = l->cb;
	void *cb_arg = l->cb_arg;
	int rc = l->rc;

	free(l);
	cb(cb_arg, NULL, rc);
}

/* cb(cb_arg, NULL, rc) later on this thread: a failed init / load. */
static void
handle_fail_later(bs_op_with_handle_complete cb, void *cb_arg, int rc)
{
	struct handle_later *l = malloc(sizeof(*l));

	if (l == NULL || thread_send_msg(thread_get_current(), handle_later_fn, l) != 0) {
		LOG_ERR("blobstore: cannot defer a completion (out of memory)\n");
		abort();
	}
	l->cb = cb;
	l->cb_arg = cb_arg;
	l->rc = rc;
}

int
bs_send_md_msg(struct blob_store *bs, thread_msg_fn fn, void *ctx)
{
	return thread_send_msg(bs->md_thread, fn, ctx);
}

void *
bs_alloc_md_buf(struct blob_store *bs, uint32_t pages)
{
	return env_dma_zmalloc((size_t)pages * bs->md_page_size, 4096, NULL);
}

/* ---- device access on the md channel ------------------------------------------------ */

static uint64_t
md_page_lba(const struct blob_store *bs, uint32_t idx)
{
	return ((uint64_t)bs->layout.md_start + idx) * bs->lbas_per_md_page;
}

void
bs_read_md_page(struct blob_store *bs, uint32_t idx, void *buf, bs_dev_cb cb, void *cb_arg)
{
	bs->dev->read(bs->dev, bs->md_ch, buf, md_page_lba(bs, idx), (uint32_t)bs->lbas_per_md_page,
		      cb, cb_arg);
}

void
bs_write_md_page(struct blob_store *bs, uint32_t idx, void *buf, bs_dev_cb cb, void *cb_arg)
{
	bs->stat_md_writes++;
	bs->dev->write(bs->dev, bs->md_ch, buf, md_page_lba(bs, idx), (uint32_t)bs->lbas_per_md_page,
		       cb, cb_arg);
}

void
bs_flush(struct blob_store *bs, bs_dev_cb cb, void *cb_arg)
{
	bs->dev->flush(bs->dev, bs->md_ch, cb, cb_arg);
}

/* Blocks of the 4096-byte superblock structure (a whole block if larger). */
static uint32_t
super_lbas(const struct bs_dev *dev)
{
	return (uint32_t)DIV_ROUND_UP(BSF_PAGE_SIZE, dev->blocklen);
}

static size_t
super_buf_len(const struct bs_dev *dev)
{
	return (size_t)super_lbas(dev) * dev->blocklen;
}

/* ---- allocation ------------------------------------------------------------------------- */

int
bs_claim_cluster(struct blob_store *bs, uint32_t *cluster)
{
	uint32_t c;

	if (bs->num_free_clusters == 0)
		return -ENOSPC;
	c = bit_array_find_first_clear(bs->used_clusters, bs->cluster_hint);
	if (c == UINT32_MAX || c >= bs->total_clusters)
		return -ENOSPC;
	bit_array_set(bs->used_clusters, c);
	bs->num_free_clusters--;
	bs->cluster_hint = c + 1;
	*cluster = c;
	return 0;
}

void
bs_release_cluster(struct blob_store *bs, uint32_t cluster)
{
	assert(cluster >= bs->num_md_clusters && cluster < bs->total_clusters);
	if (cluster < bs->num_md_clusters || cluster >= bs->total_clusters ||
	    !bit_array_get(bs->used_clusters, cluster)) {
		LOG_ERR("blobstore: release of cluster %u that is not in use\n", cluster);
		return;
	}
	bit_array_clear(bs->used_clusters, cluster);
	bs->num_free_clusters++;
	if (cluster < bs->cluster_hint)
		bs->cluster_hint = cluster;
}

int
bs_claim_md_page(struct blob_store *bs, uint32_t min, uint32_t *page)
{
	uint32_t start = bs->md_page_hint > min ? bs->md_page_hint : min;
	uint32_t p = bit_array_find_first_clear(bs->used_md_pages, start);

	if (p == UINT32_MAX || p >= bs->layout.md_len)
		return -ENOSPC;
	bit_array_set(bs->used_md_pages, p);
	bs->num_free_md_pages--;
	/* Everything below p from the hint on is used: move the hint past it. */
	if (min <= bs->md_page_hint)
		bs->md_page_hint = p + 1;
	*page = p;
	return 0;
}

void
bs_release_md_page(struct blob_store *bs, uint32_t page)
{
	assert(page < bs->layout.md_len);
	if (page >= bs->layout.md_len || !bit_array_get(bs->used_md_pages, page)) {
		LOG_ERR("blobstore: release of md page %u that is not in use\n", page);
		return;
	}
	bit_array_clear(bs->used_md_pages, page);
	bs->num_free_md_pages++;
	if (page < bs->md_page_hint)
		bs->md_page_hint = page;
}

uint32_t
bs_num_free_md_pages(const struct blob_store *bs)
{
	return bs->num_free_md_pages;
}

/* ---- scrubbing clusters and zeroing md pages ---------------------------------------- */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct run_ctx {
	struct blob_store *bs;
	uint32_t *items;          /* sorted copy */
	uint32_t count;
	uint32_t pos;             /* first item of the run in flight */
	uint32_t run;             /* items in the run in flight */
	bool pages;               /* md pages (zero) vs clusters (scrub) */
	enum blob_clear_method method;
	bool release;
	int rc;
	bs_op_complete cb;
	void *cb_arg;
};

static void run_next(void *arg, int rc);

static void
run_issue(struct run_ctx *c)
{
	struct blob_store *bs = c->bs;
	uint32_t first = c->items[c->pos];
	uint64_t lba, n;

	c->run = 1;
	while (c->pos + c->run < c->count && c->items[c->pos + c->run] == first + c->run)
		c->run++;
	if (c->pages) {
		lba = md_page_lba(bs, first);
		n = (uint64_t)c->run * bs->lbas_per_md_page;
		bs->stat_md_writes++;
		bs->dev->write_zeroes(bs->dev, bs->md_ch, lba, n, run_next, c);
		return;
	}
	lba = (uint64_t)first * bs->lbas_per_cluster;
	n = (uint64_t)c->run * bs->lbas_per_cluster;
	if (c->method == BLOB_CLEAR_WITH_WRITE_ZEROES)
		bs->dev->write_zeroes(bs->dev, bs->md_ch, lba, n, run_next, c);
	else
		bs->dev->unmap(bs->dev, bs->md_ch, lba, n, run_next, c);
}

static void
run_next(void *arg, int rc)
{
	struct run_ctx *c = arg;

	if (c->run > 0) {
		if (rc != 0) {
			/* Not released: a page / cluster whose scrub failed stays in use
			 * (leaked until the next load) rather than be handed out dirty. */
			LOG_ERR("blobstore: %s of %u %s at %u failed: %d\n",
				c->pages ? "zeroing" : "scrub", c->run,
				c->pages ? "md pages" : "clusters", c->items[c->pos], rc);
			if (c->rc == 0)
				c->rc = rc;
		} else if (c->release) {
			for (uint32_t i = 0; i < c->run; i++) {
				if (c->pages)
					bs_release_md_page(c->bs, c->items[c->pos + i]);
				else
					bs_release_cluster(c->bs, c->items[c->pos + i]);
			}
		}
		c->pos += c->run;
		c->run = 0;
	}
	if (c->pos < c->count) {
		run_issue(c);
		return;
	}
	c->cb(c->cb_arg, c->rc);
	free(c->items);
	free(c);
}

static void
run_start(struct blob_store *bs, const uint32_t *items, uint32_t count, bool pages,
	  enum blob_clear_method method, bool release, bs_op_complete cb, void *cb_arg)
{
	struct run_ctx *c;
	bool scrub = pages || (method != BLOB_CLEAR_WITH_NONE);

	if (count == 0) {
		bs_complete_later(cb, cb_arg, 0);
		return;
	}
	if (!scrub) {
		if (release) {
			for (uint32_t i = 0; i < count; i++)
				bs_release_cluster(bs, items[i]);
		}
		bs_complete_later(cb, cb_arg, 0);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c != NULL)
		c->items = malloc((size_t)count * sizeof(uint32_t));
	if (c == NULL || c->items == NULL) {
		free(c);
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	memcpy(c->items, items, (size_t)count * sizeof(uint32_t));
	qsort(c->items, count, sizeof(uint32_t), cmp_u32);
	c->bs = bs;
	c->count = count;
	c->pages = pages;
	c->method = method;
	c->release = release;
	c->cb = cb;
	c->cb_arg = cb_arg;
	run_issue(c);
}

void
bs_scrub_clusters(struct blob_store *bs, const uint32_t *clusters, uint32_t count,
		  enum blob_clear_method method, bool release, bs_op_complete cb, void *cb_arg)
{
	run_start(bs, clusters, count, false, method, release, cb, cb_arg);
}

void
bs_zero_md_pages(struct blob_store *bs, const uint32_t *pages, uint32_t count,
		 bs_op_complete cb, void *cb_arg)
{
	run_start(bs, pages, count, true, BLOB_CLEAR_WITH_WRITE_ZEROES, true, cb, cb_arg);
}

/* ---- parent index --------------------------------------------------------------------- */

static bool
index_page(const struct blob_store *bs, blob_id id, uint32_t *page)
{
	if (!bsf_blobid_is_valid(id) || bsf_blobid_to_page(id) >= bs->layout.md_len)
		return false;
	*page = bsf_blobid_to_page(id);
	return true;
}

void
bs_parent_index_set(struct blob_store *bs, blob_id child, blob_id parent)
{
	uint32_t c, p, old;

	if (!index_page(bs, child, &c))
		return;
	old = bs->parent_of[c];
	if (old != 0 && bs->clones_of[old - 1] > 0)
		bs->clones_of[old - 1]--;
	bs->parent_of[c] = 0;
	if (index_page(bs, parent, &p)) {
		bs->parent_of[c] = p + 1;
		bs->clones_of[p]++;
	}
}

blob_id
bs_parent_index_get(const struct blob_store *bs, blob_id child)
{
	uint32_t c;

	if (!index_page(bs, child, &c) || bs->parent_of[c] == 0)
		return BLOB_ID_INVALID;
	return bsf_page_to_blobid(bs->parent_of[c] - 1);
}

uint32_t
bs_parent_index_clone_count(const struct blob_store *bs, blob_id parent)
{
	uint32_t p;

	if (!index_page(bs, parent, &p))
		return 0;
	return bs->clones_of[p];
}

uint32_t
bs_clone_parent_refs(struct blob_store *bs, const struct blob *blob)
{
	uint32_t p, total, seen = 0, refs = 0;

	if (!index_page(bs, blob->id, &p))
		return 0;
	total = bs->clones_of[p];
	for (uint32_t c = 0; c < bs->layout.md_len && seen < total; c++) {
		struct blob *clone;

		if (bs->parent_of[c] != p + 1)
			continue;
		seen++;
		clone = bs_find_blob(bs, bsf_page_to_blobid(c));
		if (clone != NULL && clone->parent == blob)
			refs++;
	}
	return refs;
}

blob_id
bs_get_parent_snapshot(struct blob_store *bs, blob_id id)
{
	return bs_parent_index_get(bs, id);
}

int
bs_get_clones(struct blob_store *bs, blob_id id, blob_id *ids, size_t *count)
{
	uint32_t p, total, n = 0;

	if (count == NULL)
		return -EINVAL;
	if (!index_page(bs, id, &p)) {
		*count = 0;
		return 0;
	}
	total = bs->clones_of[p];
	if (total > *count || (total > 0 && ids == NULL)) {
		*count = total;
		return -ENOMEM;
	}
	for (uint32_t c = 0; c < bs->layout.md_len && n < total; c++) {
		if (bs->parent_of[c] == p + 1)
			ids[n++] = bsf_page_to_blobid(c);
	}
	*count = n;
	return 0;
}

/* ---- options --------------------------------------------------------------------------- */

void
bs_opts_init(struct bs_opts *opts, size_t opts_size)
{
	struct bs_opts d;

	memset(&d, 0, sizeof(d));
	d.opts_size = opts_size;
	d.cluster_sz = BS_DEFAULT_CLUSTER_SZ;
	d.max_md_ops = BS_DEFAULT_MAX_MD_OPS;
	d.max_channel_ops = BS_DEFAULT_MAX_CHANNEL_OPS;
	d.clear_method = BS_CLEAR_WITH_UNMAP;
	memset(opts, 0, opts_size);
	memcpy(opts, &d, opts_size < sizeof(d) ? opts_size : sizeof(d));
}

static void
opts_copy(struct bs_opts *dst, const struct bs_opts *src)
{
	size_t n;

	bs_opts_init(dst, sizeof(*dst));
	if (src == NULL)
		return;
	n = src->opts_size < sizeof(*dst) ? src->opts_size : sizeof(*dst);
	if (n > sizeof(size_t))
		memcpy((uint8_t *)dst + sizeof(size_t), (const uint8_t *)src + sizeof(size_t),
		       n - sizeof(size_t));
	dst->opts_size = sizeof(*dst);
}

/* ---- store allocation and teardown ----------------------------------------------------- */

static struct blob_store *
bs_alloc(struct bs_dev *dev, const struct bs_opts *opts)
{
	struct blob_store *bs = calloc(1, sizeof(*bs));

	if (bs == NULL)
		return NULL;
	bs->dev = dev;
	bs->md_thread = thread_get_current();
	opts_copy(&bs->opts, opts);
	TAILQ_INIT(&bs->blobs);
	TAILQ_INIT(&bs->dirty_waiters);
	TAILQ_INIT(&bs->sb_queue);
	bs->super_blob = BLOB_ID_INVALID;
	bs->super_buf = env_dma_zmalloc(super_buf_len(dev), 4096, NULL);
	bs->md_ch = dev->create_channel(dev);
	if (bs->super_buf == NULL || bs->md_ch == NULL) {
		if (bs->md_ch != NULL)
			dev->destroy_channel(dev, bs->md_ch);
		env_dma_free(bs->super_buf);
		free(bs);
		return NULL;
	}
	return bs;
}

/* Derived constants and in-memory masks from bs->layout; -EINVAL / -ENOMEM. */
static int
bs_setup_geometry(struct blob_store *bs)
{
	const struct bsf_layout *l = &bs->layout;
	uint32_t bl = bs->dev->blocklen;

	if (bl == 0 || l->md_page_size % bl != 0 || l->cluster_size % bl != 0 ||
	    l->io_unit_size < bl || l->io_unit_size % bl != 0) {
		LOG_ERR("blobstore: device block size %u does not fit the store (md page %u, "
			"cluster %u, io unit %u)\n", bl, l->md_page_size, l->cluster_size,
			l->io_unit_size);
		return -EINVAL;
	}
	bs->cluster_sz = l->cluster_size;
	bs->md_page_size = l->md_page_size;
	bs->io_unit_size = l->io_unit_size;
	bs->io_units_per_cluster = l->cluster_size / l->io_unit_size;
	bs->lbas_per_cluster = l->cluster_size / bl;
	bs->lbas_per_md_page = l->md_page_size / bl;
	bs->total_clusters = l->total_clusters;
	bs->num_md_clusters = l->num_md_clusters;

	bs->used_md_pages = bit_array_create(l->md_len);
	bs->used_blobids = bit_array_create(l->md_len);
	bs->used_clusters = bit_array_create(l->total_clusters);
	bs->parent_of = calloc(l->md_len, sizeof(uint32_t));
	bs->clones_of = calloc(l->md_len, sizeof(uint32_t));
	bs->open_index = calloc(l->md_len, sizeof(struct blob *));
	if (bs->used_md_pages == NULL || bs->used_blobids == NULL || bs->used_clusters == NULL ||
	    bs->parent_of == NULL || bs->clones_of == NULL || bs->open_index == NULL)
		return -ENOMEM;
	return 0;
}

/* Marks the metadata clusters used and recounts the free clusters and md pages. */
static void
bs_count_free(struct blob_store *bs)
{
	for (uint32_t c = 0; c < bs->num_md_clusters && c < bs->total_clusters; c++)
		bit_array_set(bs->used_clusters, c);
	bs->num_free_clusters = bs->total_clusters - bit_array_count_set(bs->used_clusters);
	bs->num_free_md_pages = bs->layout.md_len - bit_array_count_set(bs->used_md_pages);
	bs->cluster_hint = bs->num_md_clusters;
	bs->md_page_hint = 0;
}

/* Frees the store and destroys the device (channel first). */
static void
bs_free(struct blob_store *bs)
{
	struct bs_dev *dev = bs->dev;

	bit_array_free(&bs->used_md_pages);
	bit_array_free(&bs->used_blobids);
	bit_array_free(&bs->used_clusters);
	bit_array_free(&bs->snap_pending);
	bit_array_free(&bs->bad_blobs);
	free(bs->parent_of);
	free(bs->clones_of);
	free(bs->open_index);
	env_dma_free(bs->super_buf);
	if (bs->md_ch != NULL)
		dev->destroy_channel(dev, bs->md_ch);
	free(bs);
	dev->destroy(dev);
}

/* ---- data-path hooks: weak fallbacks until io.c defines them ------------------------- */

/*
 * The build links every archive with --whole-archive, so io.c's strong
 * definitions replace these when io.c exists; until then the store works
 * without blob I/O.
 */
__attribute__((weak)) int
bs_io_init(struct blob_store *bs)
{
	return 0;
}

struct io_fini_later {
	struct blob_store *bs;
	void (*done)(struct blob_store *bs);
};

static void
io_fini_later_fn(void *ctx)
{
	struct io_fini_later *l = ctx;

	l->done(l->bs);
	free(l);
}

__attribute__((weak)) void
bs_io_fini(struct blob_store *bs, void (*done)(struct blob_store *bs))
{
	struct io_fini_later *l = malloc(sizeof(*l));

	if (l == NULL || thread_send_msg(thread_get_current(), io_fini_later_fn, l) != 0)
		abort();
	l->bs = bs;
	l->done = done;
}

__attribute__((weak)) void
blob_freeze_io(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	blob->frozen_refcnt++;
	bs_complete_later(cb, cb_arg, 0);
}

__attribute__((weak)) void
blob_unfreeze_io(struct blob *blob, blob_op_complete cb, void *cb_arg)
{
	assert(blob->frozen_refcnt > 0);
	blob->frozen_refcnt--;
	bs_complete_later(cb, cb_arg, 0);
}

__attribute__((weak)) void
blob_io_release(struct blob *blob)
{
}

/* ---- dirty marking (spec §2.4) -------------------------------------------------------- */

static void
dirty_done(struct blob_store *bs, int rc)
{
	struct bs_dirty_waiter *w;

	bs->dirty = rc == 0 ? BS_SB_DIRTY_ON_DISK : BS_SB_CLEAN_ON_DISK;
	if (rc != 0)
		bs->super.clean = 1;
	while ((w = TAILQ_FIRST(&bs->dirty_waiters)) != NULL) {
		TAILQ_REMOVE(&bs->dirty_waiters, w, link);
		w->cb(w->cb_arg, rc);
		free(w);
	}
}

static void
dirty_flushed(void *arg, int rc)
{
	dirty_done(arg, rc);
}

static void
dirty_written(void *arg, int rc)
{
	struct blob_store *bs = arg;

	if (rc != 0) {
		dirty_done(bs, rc);
		return;
	}
	bs_flush(bs, dirty_flushed, bs);
}

void
bs_mark_dirty(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	struct bs_dirty_waiter *w;

	if (bs->dirty == BS_SB_DIRTY_ON_DISK) {
		bs_complete_later(cb, cb_arg, 0);
		return;
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	w->cb = cb;
	w->cb_arg = cb_arg;
	TAILQ_INSERT_TAIL(&bs->dirty_waiters, w, link);
	if (bs->dirty == BS_SB_MARKING)
		return;
	bs->dirty = BS_SB_MARKING;
	bs->super.clean = 0;
	if (bs->super.size == 0)
		bs->super.size = bs->layout.size;
	bsf_super_update(&bs->super, bs->super_buf);
	bs->dev->write(bs->dev, bs->md_ch, bs->super_buf, 0, super_lbas(bs->dev), dirty_written, bs);
}

/* ---- bs_init (spec §6.1) --------------------------------------------------------------- */

struct init_ctx {
	struct blob_store *bs;
	int step;
	bs_op_with_handle_complete cb;
	void *cb_arg;
};

static void
init_fail(struct init_ctx *c, int rc)
{
	bs_op_with_handle_complete cb = c->cb;
	void *cb_arg = c->cb_arg;

	bs_free(c->bs);
	free(c);
	cb(cb_arg, NULL, rc);
}

static void
init_next(void *arg, int rc)
{
	struct init_ctx *c = arg;
	struct blob_store *bs = c->bs;
	struct bs_dev *dev = bs->dev;
	uint64_t md_end = ((uint64_t)bs->layout.md_start + bs->layout.md_len) * bs->lbas_per_md_page;

	if (rc != 0) {
		LOG_ERR("blobstore: init failed at step %d: %d\n", c->step, rc);
		init_fail(c, rc);
		return;
	}
	switch (c->step++) {
	case 0:
		/* Zero the whole metadata area: recovery scans every page (§6). */
		dev->write_zeroes(dev, bs->md_ch, 0, md_end, init_next, c);
		return;
	case 1:
		/* Scrub the data area as asked (§6.1 step 3). */
		if (md_end < dev->blockcnt && bs->clear_method != BS_CLEAR_WITH_NONE) {
			if (bs->clear_method == BS_CLEAR_WITH_WRITE_ZEROES)
				dev->write_zeroes(dev, bs->md_ch, md_end, dev->blockcnt - md_end,
						  init_next, c);
			else
				dev->unmap(dev, bs->md_ch, md_end, dev->blockcnt - md_end,
					   init_next, c);
			return;
		}
		init_next(c, 0);
		return;
	case 2:
		/* Flush the zeroes before the superblock that makes them a store. */
		bs_flush(bs, init_next, c);
		return;
	case 3:
		bsf_super_encode(&bs->super, bs->super_buf);
		dev->write(dev, bs->md_ch, bs->super_buf, 0, super_lbas(dev), init_next, c);
		return;
	case 4:
		bs_flush(bs, init_next, c);
		return;
	case 5:
		rc = bs_io_init(bs);
		if (rc != 0) {
			init_fail(c, rc);
			return;
		}
		c->cb(c->cb_arg, bs, 0);
		free(c);
		return;
	}
}

void
bs_init(struct bs_dev *dev, const struct bs_opts *opts, bs_op_with_handle_complete cb,
	void *cb_arg)
{
	struct bsf_layout_params p;
	struct blob_store *bs;
	struct init_ctx *c;
	int rc;

	bs = bs_alloc(dev, opts);
	c = calloc(1, sizeof(*c));
	if (bs == NULL || c == NULL) {
		free(c);
		if (bs != NULL)
			bs_free(bs);
		else
			dev->destroy(dev);
		handle_fail_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->cb = cb;
	c->cb_arg = cb_arg;

	bsf_layout_params_init(&p, sizeof(p));
	p.dev_size = dev->blockcnt * dev->blocklen;
	p.blocklen = dev->blocklen;
	p.phys_blocklen = dev->phys_blocklen;
	p.cluster_size = bs->opts.cluster_sz;
	p.md_page_size = bs->opts.md_page_size;
	p.num_md_pages = bs->opts.num_md_pages;
	rc = bsf_layout_compute(&p, &bs->layout);
	if (rc == 0)
		rc = bs_setup_geometry(bs);
	if (rc != 0) {
		LOG_ERR("blobstore: cannot lay out a store on %" PRIu64 " blocks of %u bytes with "
			"%u-byte clusters: %d\n", dev->blockcnt, dev->blocklen, p.cluster_size, rc);
		bs_free(bs);
		free(c);
		handle_fail_later(cb, cb_arg, rc);
		return;
	}
	bsf_super_init(&bs->super);
	bsf_layout_to_super(&bs->layout, &bs->super);
	memcpy(bs->super.bstype, bs->opts.bstype, BS_BSTYPE_LEN);
	memcpy(bs->bstype, bs->opts.bstype, BS_BSTYPE_LEN);
	bs->super.clean = 0;
	bs->dirty = BS_SB_DIRTY_ON_DISK;
	bs->clear_method = bs->opts.clear_method;
	bs_count_free(bs);
	init_next(c, 0);
}

/* ---- masks ------------------------------------------------------------------------------ */

struct masks_ctx {
	struct blob_store *bs;
	int step;
	uint8_t *buf;
	bs_op_complete cb;
	void *cb_arg;
};

static void
masks_next(void *arg, int rc)
{
	struct masks_ctx *c = arg;
	struct blob_store *bs = c->bs;
	const struct bsf_layout *l = &bs->layout;
	enum bsf_mask_type type;
	struct bit_array *ba;
	uint32_t start, len, bits;

	for (;;) {
		if (rc != 0 || c->step == 3) {
			env_dma_free(c->buf);
			c->cb(c->cb_arg, rc);
			free(c);
			return;
		}
		/* Spec §6.8 / §6.9 step 4: page mask, blob-ID mask, cluster mask. */
		switch (c->step++) {
		case 0:
			type = BSF_MASK_USED_PAGES;
			ba = bs->used_md_pages;
			start = l->used_page_mask_start;
			len = l->used_page_mask_len;
			bits = l->md_len;
			break;
		case 1:
			type = BSF_MASK_USED_BLOBIDS;
			ba = bs->used_blobids;
			start = l->used_blobid_mask_start;
			len = l->used_blobid_mask_len;
			bits = l->md_len;
			break;
		default:
			type = BSF_MASK_USED_CLUSTERS;
			ba = bs->used_clusters;
			start = l->used_cluster_mask_start;
			len = l->used_cluster_mask_len;
			bits = bs->total_clusters;
			break;
		}
		if (len == 0)
			continue;   /* a legacy store without a blob-ID mask (§2.1) */
		env_dma_free(c->buf);
		c->buf = bs_alloc_md_buf(bs, len);
		if (c->buf == NULL) {
			rc = -ENOMEM;
			continue;
		}
		rc = bsf_mask_encode(type, ba, bits, c->buf, (size_t)len * bs->md_page_size);
		if (rc != 0)
			continue;
		bs->stat_md_writes++;
		bs->dev->write(bs->dev, bs->md_ch, c->buf, (uint64_t)start * bs->lbas_per_md_page,
			       (uint32_t)(len * bs->lbas_per_md_page), masks_next, c);
		return;
	}
}

/* Writes the three masks from the in-memory bitmaps (no flush). */
static void
bs_write_masks(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	struct masks_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	masks_next(c, 0);
}

struct wmf_ctx {
	struct blob_store *bs;
	bs_op_complete cb;
	void *cb_arg;
};

static void
wmf_flushed(void *arg, int rc)
{
	struct wmf_ctx *c = arg;

	c->cb(c->cb_arg, rc);
	free(c);
}

static void
wmf_written(void *arg, int rc)
{
	struct wmf_ctx *c = arg;

	if (rc != 0) {
		wmf_flushed(c, rc);
		return;
	}
	bs_flush(c->bs, wmf_flushed, c);
}

void
bs_write_masks_flush(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	struct wmf_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	bs_write_masks(bs, wmf_written, c);
}

/* ---- bs_load (spec §2.3, §6.9) ------------------------------------------------------------ */

struct load_ctx {
	struct blob_store *bs;
	int step;
	bool io_inited;
	uint8_t *buf;
	bs_op_with_handle_complete cb;
	void *cb_arg;
};

static void load_next(void *arg, int rc);

static void
load_failed_io_fini(struct blob_store *bs)
{
	bs_free(bs);
}

static void
load_fail(struct load_ctx *c, int rc)
{
	bs_op_with_handle_complete cb = c->cb;
	void *cb_arg = c->cb_arg;

	env_dma_free(c->buf);
	if (c->io_inited)
		bs_io_fini(c->bs, load_failed_io_fini);
	else
		bs_free(c->bs);
	free(c);
	cb(cb_arg, NULL, rc);
}

/* Reads mask area k (0 page, 1 cluster, 2 blob ID) into c->buf. */
static void
load_read_mask(struct load_ctx *c, uint32_t start, uint32_t len)
{
	struct blob_store *bs = c->bs;

	env_dma_free(c->buf);
	c->buf = bs_alloc_md_buf(bs, len);
	if (c->buf == NULL) {
		load_fail(c, -ENOMEM);
		return;
	}
	bs->dev->read(bs->dev, bs->md_ch, c->buf, (uint64_t)start * bs->lbas_per_md_page,
		      (uint32_t)(len * bs->lbas_per_md_page), load_next, c);
}

static int
load_decode_mask(struct load_ctx *c, enum bsf_mask_type type, uint32_t len, uint32_t bits,
		 struct bit_array *ba)
{
	struct bsf_diag diag = { "" };
	int rc;

	rc = bsf_mask_decode(c->buf, (size_t)len * c->bs->md_page_size, type, bits, ba, NULL,
			     &diag);
	if (rc != 0)
		LOG_ERR("blobstore: bad mask (type %d): %s\n", (int)type, diag.msg);
	return rc;
}

static int
load_super(struct load_ctx *c)
{
	struct blob_store *bs = c->bs;
	struct bsf_diag diag = { "" };
	uint64_t dev_size = bs->dev->blockcnt * bs->dev->blocklen;
	int rc;

	rc = bsf_super_decode(bs->super_buf, (const uint8_t *)bs->opts.bstype, dev_size,
			      &bs->super, &diag);
	if (rc == 0)
		rc = bsf_layout_from_super(&bs->super, dev_size, &bs->layout, &diag);
	if (rc != 0) {
		if (rc == -ENXIO)
			LOG_NOTICE("blobstore: bstype mismatch: %s\n", diag.msg);
		else
			LOG_ERR("blobstore: cannot load superblock: %s (%d)\n", diag.msg, rc);
		return rc;
	}
	rc = bs_setup_geometry(bs);
	if (rc != 0)
		return rc;
	bs->super_blob = bs->super.super_blob;
	memcpy(bs->bstype, bs->super.bstype, BS_BSTYPE_LEN);
	bs->dirty = bs->super.clean ? BS_SB_CLEAN_ON_DISK : BS_SB_DIRTY_ON_DISK;
	bs->clear_method = bs->opts.clear_method;
	return 0;
}

static bool
load_needs_recovery(const struct blob_store *bs)
{
	return bs->super.clean == 0 || bs->super.used_blobid_mask_len == 0 ||
	       bs->opts.force_recover;
}

static void
load_next(void *arg, int rc)
{
	struct load_ctx *c = arg;
	struct blob_store *bs = c->bs;
	const struct bsf_layout *l = &bs->layout;

	if (rc != 0) {
		LOG_ERR("blobstore: load failed at step %d: %d\n", c->step, rc);
		load_fail(c, rc);
		return;
	}
	switch (c->step++) {
	case 0:
		/* The superblock was read into bs->super_buf. */
		rc = load_super(c);
		if (rc != 0) {
			load_fail(c, rc);
			return;
		}
		if (load_needs_recovery(bs)) {
			c->step = 10;
			/* A forced recovery of a clean store rewrites masks the
			 * superblock vouches for: mark it dirty first. (A legacy
			 * store without a blob-ID mask recovers on every load,
			 * so its flag vouches for nothing: left alone, §2.1.) */
			if (bs->super.clean && bs->super.used_blobid_mask_len != 0) {
				bs_mark_dirty(bs, load_next, c);
				return;
			}
			load_next(c, 0);
			return;
		}
		load_read_mask(c, l->used_page_mask_start, l->used_page_mask_len);
		return;
	case 1:
		rc = load_decode_mask(c, BSF_MASK_USED_PAGES, l->used_page_mask_len, l->md_len,
				      bs->used_md_pages);
		if (rc != 0) {
			load_fail(c, rc);
			return;
		}
		load_read_mask(c, l->used_cluster_mask_start, l->used_cluster_mask_len);
		return;
	case 2:
		rc = load_decode_mask(c, BSF_MASK_USED_CLUSTERS, l->used_cluster_mask_len,
				      bs->total_clusters, bs->used_clusters);
		if (rc != 0) {
			load_fail(c, rc);
			return;
		}
		load_read_mask(c, l->used_blobid_mask_start, l->used_blobid_mask_len);
		return;
	case 3:
		rc = load_decode_mask(c, BSF_MASK_USED_BLOBIDS, l->used_blobid_mask_len, l->md_len,
				      bs->used_blobids);
		if (rc != 0) {
			load_fail(c, rc);
			return;
		}
		bs_count_free(bs);
		c->step = 20;
		bs_scan_blobs(bs, load_next, c);
		return;

	case 10:
		bs->recovered = true;
		bs_recover(bs, load_next, c);
		return;
	case 11:
		bs_count_free(bs);
		c->step = 20;
		load_next(c, 0);
		return;

	case 20:
		rc = bs_io_init(bs);
		if (rc != 0) {
			load_fail(c, rc);
			return;
		}
		c->io_inited = true;
		snapshot_fixup_after_load(bs, load_next, c);
		return;
	case 21:
		env_dma_free(c->buf);
		c->buf = NULL;
		c->cb(c->cb_arg, bs, 0);
		free(c);
		return;
	}
}

void
bs_load(struct bs_dev *dev, const struct bs_opts *opts, bs_op_with_handle_complete cb,
	void *cb_arg)
{
	struct blob_store *bs = bs_alloc(dev, opts);
	struct load_ctx *c = calloc(1, sizeof(*c));

	if (bs == NULL || c == NULL) {
		free(c);
		if (bs != NULL)
			bs_free(bs);
		else
			dev->destroy(dev);
		handle_fail_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->bs = bs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	if (dev->blockcnt == 0 || dev->blocklen == 0) {
		load_fail(c, -EINVAL);
		return;
	}
	dev->read(dev, bs->md_ch, bs->super_buf, 0, super_lbas(dev), load_next, c);
}

/* ---- bs_unload (spec §6.8) and bs_destroy ----------------------------------------------- */

struct unload_ctx {
	struct blob_store *bs;
	int step;
	bool destroy;
	int rc;
	bs_op_complete cb;
	void *cb_arg;
};

static void unload_next(void *arg, int rc);

static void
unload_io_done(struct blob_store *bs)
{
	struct unload_ctx *c = bs->unload_ctx;

	bs->unload_ctx = NULL;
	assert(c != NULL && c->bs == bs);
	unload_next(c, 0);
}

static void
unload_finish(struct unload_ctx *c, int rc)
{
	bs_op_complete cb = c->cb;
	void *cb_arg = c->cb_arg;

	bs_free(c->bs);
	free(c);
	cb(cb_arg, rc);
}

static void
unload_next(void *arg, int rc)
{
	struct unload_ctx *c = arg;
	struct blob_store *bs = c->bs;
	struct bs_dev *dev = bs->dev;

	if (rc != 0) {
		/* The store is unusable now (its channels are gone): free it and
		 * report. The superblock still says clean = 0 unless the last
		 * write is what failed; the next load recovers. */
		LOG_ERR("blobstore: %s failed at step %d: %d\n", c->destroy ? "destroy" : "unload",
			c->step, rc);
		unload_finish(c, rc);
		return;
	}
	switch (c->step++) {
	case 0:
		bs->unload_ctx = c;
		bs_io_fini(bs, unload_io_done);
		return;
	case 1:
		/* Everything written so far (data and metadata) is durable before
		 * the masks that describe it. */
		bs_flush(bs, unload_next, c);
		return;
	case 2:
		if (c->destroy) {
			bs->stat_md_writes++;
			dev->write_zeroes(dev, bs->md_ch, 0, super_lbas(dev), unload_next, c);
			c->step = 5;
			return;
		}
		bs_write_masks(bs, unload_next, c);
		return;
	case 3:
		bs_flush(bs, unload_next, c);
		return;
	case 4:
		bs->super.clean = 1;
		bs->super.super_blob = bs->super_blob;
		memcpy(bs->super.bstype, bs->bstype, BS_BSTYPE_LEN);
		if (bs->super.size == 0)
			bs->super.size = bs->layout.size;
		bsf_super_update(&bs->super, bs->super_buf);
		bs->stat_md_writes++;
		dev->write(dev, bs->md_ch, bs->super_buf, 0, super_lbas(dev), unload_next, c);
		return;
	case 5:
		bs_flush(bs, unload_next, c);
		return;
	case 6:
		unload_finish(c, 0);
		return;
	}
}

static void
unload_or_destroy(struct blob_store *bs, bool destroy, bs_op_complete cb, void *cb_arg)
{
	struct unload_ctx *c;

	if (!TAILQ_EMPTY(&bs->blobs) || bs->md_ops_in_flight > 0 || bs->unloading ||
	    bs->dirty == BS_SB_MARKING || !TAILQ_EMPTY(&bs->sb_queue)) {
		bs_complete_later(cb, cb_arg, -EBUSY);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	bs->unloading = true;
	c->bs = bs;
	c->destroy = destroy;
	c->cb = cb;
	c->cb_arg = cb_arg;
	unload_next(c, 0);
}

void
bs_unload(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	unload_or_destroy(bs, false, cb, cb_arg);
}

void
bs_destroy(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	unload_or_destroy(bs, true, cb, cb_arg);
}

/* ---- super blob and live grow (spec §6.7) ---------------------------------------------- */

/*
 * Superblock rewrites are queued (bs->sb_queue) so that two of them are
 * never in flight together: the device may land concurrent writes to one
 * block in any order, and each carries the whole structure. Each first
 * marks the store dirty (a no-op once done), so it also never races the
 * dirty-marking write.
 */
struct sb_write_ctx {
	struct blob_store *bs;
	int step;
	uint8_t *buf;                 /* the new superblock */
	struct bsf_super super;
	bool grow;
	blob_id super_blob;           /* set_super */
	uint32_t new_total;           /* grow */
	uint64_t new_size;
	bs_op_complete cb;
	void *cb_arg;
	TAILQ_ENTRY(sb_write_ctx) link;
};

static void sb_write_next(void *arg, int rc);

static void
sb_queue_kick(struct blob_store *bs)
{
	struct sb_write_ctx *c = TAILQ_FIRST(&bs->sb_queue);

	if (c != NULL && c->step == 0) {
		c->step = 1;
		bs_mark_dirty(bs, sb_write_next, c);
	}
}

static void
sb_write_next(void *arg, int rc)
{
	struct sb_write_ctx *c = arg;
	struct blob_store *bs = c->bs;

	if (rc == 0) {
		switch (c->step++) {
		case 1:
			c->super = bs->super;
			if (c->grow) {
				c->super.size = c->new_size;
				c->super.used_cluster_mask_len =
					bsf_mask_pages(c->new_total, bs->md_page_size);
			} else {
				c->super.super_blob = c->super_blob;
			}
			memcpy(c->buf, bs->super_buf, super_buf_len(bs->dev));
			bsf_super_update(&c->super, c->buf);
			bs->stat_md_writes++;
			bs->dev->write(bs->dev, bs->md_ch, c->buf, 0, super_lbas(bs->dev),
				       sb_write_next, c);
			return;
		case 2:
			bs_flush(bs, sb_write_next, c);
			return;
		default:
			break;
		}
	}
	if (rc == 0) {
		memcpy(bs->super_buf, c->buf, super_buf_len(bs->dev));
		bs->super = c->super;
		if (c->grow) {
			bs->num_free_clusters += c->new_total - bs->total_clusters;
			bs->total_clusters = c->new_total;
			bs->layout.total_clusters = c->new_total;
			bs->layout.size = c->super.size;
			bs->layout.used_cluster_mask_len = c->super.used_cluster_mask_len;
		}
	} else if (c->grow) {
		LOG_ERR("blobstore: grow failed: %d\n", rc);
		bit_array_resize(&bs->used_clusters, bs->total_clusters);
	} else {
		LOG_ERR("blobstore: writing the super blob id failed: %d\n", rc);
	}
	TAILQ_REMOVE(&bs->sb_queue, c, link);
	bs->md_ops_in_flight--;
	env_dma_free(c->buf);
	c->cb(c->cb_arg, rc);
	free(c);
	sb_queue_kick(bs);
}

static struct sb_write_ctx *
sb_write_ctx_new(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	struct sb_write_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->buf = env_dma_zmalloc(super_buf_len(bs->dev), 4096, NULL);
	if (c->buf == NULL) {
		free(c);
		return NULL;
	}
	c->bs = bs;
	c->cb = cb;
	c->cb_arg = cb_arg;
	return c;
}

static void
sb_queue_add(struct blob_store *bs, struct sb_write_ctx *c)
{
	bs->md_ops_in_flight++;
	TAILQ_INSERT_TAIL(&bs->sb_queue, c, link);
	sb_queue_kick(bs);
}

void
bs_set_super(struct blob_store *bs, blob_id id, bs_op_complete cb, void *cb_arg)
{
	struct sb_write_ctx *c = sb_write_ctx_new(bs, cb, cb_arg);

	if (c == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	/* Takes effect in memory now: the clean unload writes it in any case. */
	bs->super_blob = id;
	c->super_blob = id;
	sb_queue_add(bs, c);
}

void
bs_grow_live(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	uint64_t dev_size = bs->dev->blockcnt * bs->dev->blocklen;
	uint64_t new_total = dev_size / bs->cluster_sz;
	struct sb_write_ctx *c;

	if (new_total <= bs->total_clusters || !TAILQ_EMPTY(&bs->sb_queue)) {
		/* Nothing to do; or a grow / set_super is in flight: growing is
		 * idempotent, so a concurrent request just reports that one's
		 * outcome as busy. */
		bs_complete_later(cb, cb_arg, new_total <= bs->total_clusters ? 0 : -EBUSY);
		return;
	}
	if (new_total > bsf_layout_max_clusters(&bs->layout)) {
		LOG_ERR("blobstore: cannot grow to %" PRIu64 " clusters: the cluster mask has room "
			"for %" PRIu64 "\n", new_total, bsf_layout_max_clusters(&bs->layout));
		bs_complete_later(cb, cb_arg, -ENOSPC);
		return;
	}
	c = sb_write_ctx_new(bs, cb, cb_arg);
	if (c == NULL || bit_array_resize(&bs->used_clusters, (uint32_t)new_total) != 0) {
		if (c != NULL) {
			env_dma_free(c->buf);
			free(c);
		}
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	c->grow = true;
	c->new_total = (uint32_t)new_total;
	c->new_size = dev_size;
	sb_queue_add(bs, c);
}

/* ---- getters ----------------------------------------------------------------------------- */

blob_id
bs_get_super(struct blob_store *bs)
{
	return bs->super_blob;
}

uint64_t
bs_get_cluster_size(const struct blob_store *bs)
{
	return bs->cluster_sz;
}

uint32_t
bs_get_md_page_size(const struct blob_store *bs)
{
	return bs->md_page_size;
}

uint32_t
bs_get_io_unit_size(const struct blob_store *bs)
{
	return bs->io_unit_size;
}

uint64_t
bs_get_free_cluster_count(const struct blob_store *bs)
{
	return bs->num_free_clusters;
}

uint64_t
bs_get_total_data_cluster_count(const struct blob_store *bs)
{
	return bs->total_clusters - bs->num_md_clusters;
}

/* Spec §8: ((R × md_page_size) − 5) × 8 × cluster_size, R = cluster-mask pages. */
uint64_t
bs_get_max_growable_size(const struct blob_store *bs)
{
	return bsf_layout_max_clusters(&bs->layout) * (uint64_t)bs->cluster_sz;
}

struct bs_dev *
bs_get_dev(struct blob_store *bs)
{
	return bs->dev;
}

void
bs_get_bstype(const struct blob_store *bs, char bstype[BS_BSTYPE_LEN])
{
	memcpy(bstype, bs->bstype, BS_BSTYPE_LEN);
}
