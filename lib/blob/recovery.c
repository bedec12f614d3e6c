/*
 * lib/blob/recovery.c: the load-time walks over the metadata region.
 *
 *  bs_recover     the recovery path of spec §6.9: after a dirty shutdown
 *                 (or on a legacy store without a blob-ID mask, or when
 *                 forced) the three bitmaps are rebuilt from the metadata
 *                 alone, then written (page mask, blob-ID mask, cluster
 *                 mask) and flushed. The superblock is not rewritten: it
 *                 stays clean = 0 until the next clean unload (§10.8).
 *  bs_scan_blobs  the clean path's companion: reads every live blob's
 *                 chain (not its extent pages) to build the parent index
 *                 (which blobs are snapshots, §5.2) and to find blobs left
 *                 with SNAPTMP / SNAPRM for the fix-up pass (§6.10).
 *
 * Both walk region pages in ascending order and read them in chunks of
 * SCAN_CHUNK_PAGES (one device round trip per chunk instead of per page);
 * chain continuations and extent pages outside the chunk are read one by
 * one. The walk is a small state machine (scan_run) that runs as far as
 * the cached pages allow and re-enters from the read completion.
 *
 * Recovery rules, as lenient as SPDK's replay (format.c's
 * bsf_md_page_claims does the per-page part):
 *  - a root is a page with a valid CRC, sequence 0 and the id of its own
 *    index; pages already claimed by an earlier chain are skipped;
 *  - a chain continues through pages with a valid CRC; a bad CRC (or a
 *    page already claimed, which only a corrupt or looping chain can
 *    produce) silently ends it;
 *  - an unknown descriptor, a table record with num_pages != 1, a claim
 *    past the store, or an invalid extent page fails the whole load
 *    (-EILSEQ), as in SPDK.
 * Beyond SPDK, recovery never lets one cluster (or extent page) belong to
 * two blobs: the second blob to claim it is quarantined (its blob-ID bit
 * stays clear, so it is invisible and cannot be opened; its pages and
 * other clusters stay claimed, so nothing it names is ever reused). The
 * one exception is the transient sharing of an interrupted snapshot
 * create or delete (§10.12): when either blob carries SNAPTMP or SNAPRM,
 * the cluster is simply claimed twice and the fix-up pass resolves it.
 *
 * Invariant: the walk only reads; the bitmaps it builds are the store's
 * from the moment it succeeds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"

#include "blob_internal.h"

/*
 * Pages per sequential read: 1 MiB of 4 KiB pages. Large enough that a
 * store of 10,000 blobs loads in a few dozen reads, small enough that the
 * buffer is no burden (4 MiB with 16 KiB pages).
 */
#define SCAN_CHUNK_PAGES 256u

enum scan_state {
	SCAN_FIND,      /* looking for the next root */
	SCAN_CHAIN,     /* following the current root's chain */
	SCAN_EXTENTS,   /* reading its extent pages (recovery) */
	SCAN_ROOT_DONE,
};

struct scan {
	struct blob_store *bs;
	bool recovery;
	int rc;
	bs_op_complete cb;
	void *cb_arg;

	uint8_t *chunk;
	uint32_t chunk_first;
	uint32_t chunk_count;           /* valid pages in chunk */
	uint32_t chunk_pending;         /* pages of the chunk read in flight */
	uint8_t *one;                   /* single-page reads */
	uint32_t one_idx;
	bool one_valid;

	enum scan_state state;
	uint32_t idx;                   /* scan position */
	uint32_t root;
	uint32_t cur;                   /* chain page wanted next */
	struct bsf_md_parser *parser;
	bool parse_ok;
	struct u32_vec runs;            /* (first, count) pairs */
	struct u32_vec eps;             /* extent pages named by the table */
	uint32_t ep_pos;
	struct u32_vec ep_clusters;

	uint32_t *owner;                /* recovery: cluster -> root + 1 */
	uint32_t *md_owner;             /* recovery: md page -> root + 1 */
	struct bit_array *snapop;       /* recovery: roots with SNAPTMP / SNAPRM */
	uint32_t num_blobs;
	uint32_t num_quarantined;
};

static void scan_run(struct scan *s);

static void
scan_free(struct scan *s)
{
	if (s->parser != NULL)
		bsf_md_parser_free(s->parser);
	env_dma_free(s->chunk);
	env_dma_free(s->one);
	u32_vec_free(&s->runs);
	u32_vec_free(&s->eps);
	u32_vec_free(&s->ep_clusters);
	free(s->owner);
	free(s->md_owner);
	bit_array_free(&s->snapop);
	free(s);
}

static void
scan_complete(void *arg, int rc)
{
	struct scan *s = arg;
	bs_op_complete cb = s->cb;
	void *cb_arg = s->cb_arg;

	scan_free(s);
	cb(cb_arg, rc);
}

static const uint8_t *
scan_page(struct scan *s, uint32_t idx)
{
	if (idx >= s->chunk_first && idx - s->chunk_first < s->chunk_count)
		return s->chunk + (size_t)(idx - s->chunk_first) * s->bs->md_page_size;
	if (s->one_valid && s->one_idx == idx)
		return s->one;
	return NULL;
}

static void
chunk_read_done(void *arg, int rc)
{
	struct scan *s = arg;

	if (rc != 0) {
		LOG_ERR("blobstore: reading metadata pages %u..%u failed: %d\n", s->chunk_first,
			s->chunk_first + s->chunk_pending - 1, rc);
		s->rc = rc;
	} else {
		s->chunk_count = s->chunk_pending;
	}
	scan_run(s);
}

static void
one_read_done(void *arg, int rc)
{
	struct scan *s = arg;

	if (rc != 0) {
		LOG_ERR("blobstore: reading metadata page %u failed: %d\n", s->one_idx, rc);
		s->rc = rc;
	} else {
		s->one_valid = true;
	}
	scan_run(s);
}

/* Reads page idx: a whole chunk from idx when sequential, else one page. */
static void
scan_fetch(struct scan *s, uint32_t idx, bool sequential)
{
	struct blob_store *bs = s->bs;
	uint32_t n;

	if (sequential) {
		n = bs->layout.md_len - idx;
		if (n > SCAN_CHUNK_PAGES)
			n = SCAN_CHUNK_PAGES;
		s->chunk_first = idx;
		s->chunk_count = 0;
		s->chunk_pending = n;
		bs->dev->read(bs->dev, bs->md_ch, s->chunk,
			      ((uint64_t)bs->layout.md_start + idx) * bs->lbas_per_md_page,
			      (uint32_t)(n * bs->lbas_per_md_page), chunk_read_done, s);
		return;
	}
	s->one_valid = false;
	s->one_idx = idx;
	bs_read_md_page(bs, idx, s->one, one_read_done, s);
}

/* ---- claims (recovery) ---------------------------------------------------------------------- */

static int
claim_run(void *ctx, uint32_t first, uint32_t count)
{
	struct scan *s = ctx;

	if (u32_vec_push(&s->runs, first) != 0 || u32_vec_push(&s->runs, count) != 0)
		return -ENOMEM;
	return 0;
}

static int
claim_extent_page(void *ctx, uint32_t page_idx)
{
	struct scan *s = ctx;

	if (page_idx >= s->bs->layout.md_len) {
		LOG_ERR("blobstore: blob 0x%" PRIx64 ": extent page %u past the metadata region\n",
			bsf_page_to_blobid(s->root), page_idx);
		return -EILSEQ;
	}
	return u32_vec_push(&s->eps, page_idx);
}

static const struct bsf_claim_ops g_claim_ops = {
	.cluster_run = claim_run,
	.extent_page = claim_extent_page,
};

/* True if root r (region index) carries SNAPTMP / SNAPRM. */
static bool
is_snapop(const struct scan *s, uint32_t owner_plus1)
{
	return owner_plus1 != 0 && bit_array_get(s->snapop, owner_plus1 - 1);
}

/* Claims cluster c for the current root; *conflict if it may not. */
static void
claim_cluster(struct scan *s, uint32_t c, bool snapop, bool *conflict)
{
	struct blob_store *bs = s->bs;

	if (c < bs->num_md_clusters) {
		*conflict = true;
		return;
	}
	if (bit_array_get(bs->used_clusters, c)) {
		if (s->owner[c] != s->root + 1 && !snapop && !is_snapop(s, s->owner[c]))
			*conflict = true;
		return;
	}
	bit_array_set(bs->used_clusters, c);
	s->owner[c] = s->root + 1;
}

/* ---- one root ------------------------------------------------------------------------------- */

static int
root_begin(struct scan *s, uint32_t idx)
{
	struct bsf_md_parse_opts opts;
	int rc;

	s->root = idx;
	s->cur = idx;
	s->runs.n = s->eps.n = s->ep_clusters.n = 0;
	s->ep_pos = 0;
	bsf_md_parse_opts_init(&opts, sizeof(opts));
	opts.md_len = s->bs->layout.md_len;
	opts.total_clusters = s->bs->total_clusters;
	rc = bsf_md_parser_create(bsf_page_to_blobid(idx), &opts, &s->parser);
	if (rc != 0) {
		s->parser = NULL;
		return rc;
	}
	s->parse_ok = true;
	s->state = SCAN_CHAIN;
	return 0;
}

/* Handles chain page s->cur; moves s->cur on or changes state. */
static int
chain_page(struct scan *s, const uint8_t *page)
{
	struct blob_store *bs = s->bs;
	struct bsf_diag diag = { "" };
	struct bsf_page_hdr hdr;
	uint32_t idx = s->cur, pnext = BSF_PAGE_NEXT_NONE;
	int rc;

	if (s->recovery) {
		if (!bsf_crc_ok(page) || bit_array_get(bs->used_md_pages, idx)) {
			/* §6.9: a bad CRC silently ends the chain. */
			s->state = SCAN_EXTENTS;
			return 0;
		}
		bit_array_set(bs->used_md_pages, idx);
		s->md_owner[idx] = s->root + 1;
		rc = bsf_md_page_claims(page, &g_claim_ops, s, &diag);
		if (rc != 0) {
			LOG_ERR("blobstore: recovery: blob 0x%" PRIx64 ", md page %u: %s\n",
				bsf_page_to_blobid(s->root), idx, diag.msg);
			return rc;
		}
	}
	if (s->parse_ok) {
		rc = bsf_md_parser_feed(s->parser, idx, page, &pnext, &diag);
		if (rc != 0) {
			s->parse_ok = false;
			LOG_WARN("blobstore: blob 0x%" PRIx64 " will not open (md page %u): %s\n",
				 bsf_page_to_blobid(s->root), idx, diag.msg);
		}
	}
	if (!s->recovery) {
		if (!s->parse_ok || pnext == BSF_PAGE_NEXT_NONE)
			s->state = SCAN_ROOT_DONE;
		else
			s->cur = pnext;
		return 0;
	}
	bsf_page_hdr_decode(page, &hdr);
	if (hdr.next == BSF_PAGE_NEXT_NONE || hdr.next >= bs->layout.md_len)
		s->state = SCAN_EXTENTS;
	else
		s->cur = hdr.next;
	return 0;
}

static int
extent_page(struct scan *s, const uint8_t *page)
{
	struct bsf_diag diag = { "" };
	struct bsf_extent_page ep;
	int rc;

	rc = bsf_extent_page_decode(page, &ep, &diag);
	if (rc != 0) {
		/* §6.9 step 4: an invalid extent page fails the load. */
		LOG_ERR("blobstore: recovery: blob 0x%" PRIx64 ", extent page %u: %s\n",
			bsf_page_to_blobid(s->root), s->eps.v[s->ep_pos], diag.msg);
		return -EILSEQ;
	}
	for (uint32_t i = 0; i < ep.count; i++) {
		if (ep.clusters[i] != 0 && u32_vec_push(&s->ep_clusters, ep.clusters[i]) != 0)
			return -ENOMEM;
	}
	s->ep_pos++;
	return 0;
}

/* The root's chain (and extent pages) are read: record what it says. */
static int
root_end(struct scan *s)
{
	struct blob_store *bs = s->bs;
	struct bsf_diag diag = { "" };
	struct bsf_blob_md md;
	const struct bsf_xattr *x;
	blob_id parent = BLOB_ID_INVALID;
	bool snapop = false, conflict = false, parsed = false;
	int rc;

	memset(&md, 0, sizeof(md));
	if (s->parse_ok) {
		rc = bsf_md_parser_finish(s->parser, &md, &diag);
		s->parser = NULL;
		if (rc == 0)
			parsed = true;
		else
			LOG_WARN("blobstore: blob 0x%" PRIx64 " will not open: %s\n",
				 bsf_page_to_blobid(s->root), diag.msg);
	} else if (s->parser != NULL) {
		bsf_md_parser_free(s->parser);
		s->parser = NULL;
	}
	if (parsed) {
		snapop = bsf_blob_md_find_xattr(&md, true, BSF_XATTR_SNAPTMP) != NULL ||
			 bsf_blob_md_find_xattr(&md, true, BSF_XATTR_SNAPRM) != NULL;
		if (bsf_blob_md_is_thin(&md) && !(md.invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT)) {
			x = bsf_blob_md_find_xattr(&md, true, BSF_XATTR_SNAP);
			if (x != NULL && x->value_len == sizeof(uint64_t))
				parent = bsf_load_le64(x->value);
		}
	}
	bsf_blob_md_free(&md);

	if (s->recovery) {
		if (snapop)
			bit_array_set(s->snapop, s->root);
		for (uint32_t i = 0; i + 1 < s->runs.n; i += 2) {
			uint64_t first = s->runs.v[i], count = s->runs.v[i + 1];

			if (first + count > bs->total_clusters) {
				LOG_ERR("blobstore: recovery: blob 0x%" PRIx64 " claims clusters %"
					PRIu64 "..%" PRIu64 ", past the store (%u clusters)\n",
					bsf_page_to_blobid(s->root), first, first + count - 1,
					bs->total_clusters);
				return -EILSEQ;
			}
			for (uint64_t c = first; c < first + count; c++)
				claim_cluster(s, (uint32_t)c, snapop, &conflict);
		}
		for (uint32_t i = 0; i < s->eps.n; i++) {
			uint32_t p = s->eps.v[i];

			if (bit_array_get(bs->used_md_pages, p)) {
				if (s->md_owner[p] != s->root + 1 && !snapop &&
				    !is_snapop(s, s->md_owner[p]))
					conflict = true;
				continue;
			}
			bit_array_set(bs->used_md_pages, p);
			s->md_owner[p] = s->root + 1;
		}
		for (uint32_t i = 0; i < s->ep_clusters.n; i++) {
			uint32_t c = s->ep_clusters.v[i];

			if (c >= bs->total_clusters) {
				LOG_ERR("blobstore: recovery: blob 0x%" PRIx64 " claims cluster %u, "
					"past the store\n", bsf_page_to_blobid(s->root), c);
				return -EILSEQ;
			}
			claim_cluster(s, c, snapop, &conflict);
		}
		if (conflict) {
			LOG_ERR("blobstore: recovery: blob 0x%" PRIx64 " names a cluster or page "
				"another blob owns: quarantined (not opened, nothing it names is "
				"reused)\n", bsf_page_to_blobid(s->root));
			if (bs->bad_blobs == NULL)
				bs->bad_blobs = bit_array_create(bs->layout.md_len);
			if (bs->bad_blobs != NULL)
				bit_array_set(bs->bad_blobs, s->root);
			s->num_quarantined++;
			return 0;
		}
		bit_array_set(bs->used_blobids, s->root);
	}
	s->num_blobs++;
	if (parent != BLOB_ID_INVALID)
		bs_parent_index_set(bs, bsf_page_to_blobid(s->root), parent);
	if (snapop) {
		if (bs->snap_pending == NULL)
			bs->snap_pending = bit_array_create(bs->layout.md_len);
		if (bs->snap_pending == NULL)
			return -ENOMEM;
		bit_array_set(bs->snap_pending, s->root);
	}
	return 0;
}

/* ---- the walk ------------------------------------------------------------------------------- */

static void
scan_finish(struct scan *s)
{
	struct blob_store *bs = s->bs;

	if (!s->recovery) {
		scan_complete(s, 0);
		return;
	}
	/* §6.9 step 3, then step 4. */
	for (uint32_t c = 0; c < bs->num_md_clusters; c++)
		bit_array_set(bs->used_clusters, c);
	LOG_NOTICE("blobstore: recovered %u blob(s)%s, %u of %u clusters in use\n", s->num_blobs,
		   s->num_quarantined ? " (some quarantined)" : "",
		   bit_array_count_set(bs->used_clusters), bs->total_clusters);
	bs_write_masks_flush(bs, scan_complete, s);
}

static void
scan_run(struct scan *s)
{
	struct blob_store *bs = s->bs;
	const uint8_t *page;
	int rc;

	for (;;) {
		if (s->rc != 0) {
			scan_complete(s, s->rc);
			return;
		}
		switch (s->state) {
		case SCAN_FIND:
			if (s->recovery) {
				while (s->idx < bs->layout.md_len &&
				       bit_array_get(bs->used_md_pages, s->idx))
					s->idx++;
			} else if (s->idx < bs->layout.md_len) {
				s->idx = bit_array_find_first_set(bs->used_blobids, s->idx);
			}
			if (s->idx >= bs->layout.md_len) {
				scan_finish(s);
				return;
			}
			page = scan_page(s, s->idx);
			if (page == NULL) {
				scan_fetch(s, s->idx, true);
				return;
			}
			if (s->recovery && !bsf_page_is_root(page, s->idx)) {
				s->idx++;
				continue;
			}
			s->rc = root_begin(s, s->idx);
			break;
		case SCAN_CHAIN:
			page = scan_page(s, s->cur);
			if (page == NULL) {
				scan_fetch(s, s->cur, false);
				return;
			}
			s->rc = chain_page(s, page);
			break;
		case SCAN_EXTENTS:
			if (s->ep_pos >= s->eps.n) {
				s->state = SCAN_ROOT_DONE;
				break;
			}
			page = scan_page(s, s->eps.v[s->ep_pos]);
			if (page == NULL) {
				scan_fetch(s, s->eps.v[s->ep_pos], false);
				return;
			}
			s->rc = extent_page(s, page);
			break;
		case SCAN_ROOT_DONE:
			rc = root_end(s);
			if (rc != 0) {
				s->rc = rc;
				break;
			}
			s->idx = s->root + 1;
			s->state = SCAN_FIND;
			break;
		}
	}
}

static void
scan_kick(void *arg)
{
	scan_run(arg);
}

static void
scan_start(struct blob_store *bs, bool recovery, bs_op_complete cb, void *cb_arg)
{
	struct scan *s = calloc(1, sizeof(*s));
	uint32_t chunk = bs->layout.md_len < SCAN_CHUNK_PAGES ? bs->layout.md_len : SCAN_CHUNK_PAGES;

	if (s == NULL) {
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	s->bs = bs;
	s->recovery = recovery;
	s->cb = cb;
	s->cb_arg = cb_arg;
	s->chunk = bs_alloc_md_buf(bs, chunk);
	s->one = bs_alloc_md_buf(bs, 1);
	if (recovery) {
		s->owner = calloc(bs->total_clusters, sizeof(uint32_t));
		s->md_owner = calloc(bs->layout.md_len, sizeof(uint32_t));
		s->snapop = bit_array_create(bs->layout.md_len);
	}
	if (s->chunk == NULL || s->one == NULL ||
	    (recovery && (s->owner == NULL || s->md_owner == NULL || s->snapop == NULL))) {
		scan_free(s);
		bs_complete_later(cb, cb_arg, -ENOMEM);
		return;
	}
	if (recovery) {
		bit_array_clear_all(bs->used_md_pages);
		bit_array_clear_all(bs->used_blobids);
		bit_array_clear_all(bs->used_clusters);
	}
	s->state = SCAN_FIND;
	/* Start by message, so that even an empty walk completes later. */
	if (thread_send_msg(bs->md_thread, scan_kick, s) != 0) {
		scan_free(s);
		bs_complete_later(cb, cb_arg, -ENOMEM);
	}
}

void
bs_recover(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	scan_start(bs, true, cb, cb_arg);
}

void
bs_scan_blobs(struct blob_store *bs, bs_op_complete cb, void *cb_arg)
{
	scan_start(bs, false, cb, cb_arg);
}
