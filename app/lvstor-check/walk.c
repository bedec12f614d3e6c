/*
 * lvstor-check, stage 2: the metadata walk, which is the §6.9 recovery
 * algorithm run on paper.
 *
 * Scanning metadata-region pages in ascending order, a page is a root if
 * its CRC is valid, its sequence number 0 and its id names its own index;
 * its chain is followed (a bad CRC silently ends a chain, as in SPDK),
 * every page it reaches is marked used, its RLE runs claim clusters and its
 * extent-table records name extent pages, which must all decode or the
 * load would fail. After each root the scan continues at the next page not
 * yet marked used. The result is the three bitmaps a dirty load would
 * write (kept in struct chk for the mask comparison) and the list of blobs
 * a load would find. Anything that would make that load fail is an ERROR,
 * and sets recovery_fails.
 *
 * The walk guards against what SPDK's own replay does not: a chain whose
 * `next` leaves the region or revisits a used page stops with an error
 * instead of looping, and cluster claims past the store are reported
 * instead of being set.
 *
 * Afterwards every page the walk did not mark is looked at: all zero is
 * right (§6: released pages are zeroed); a page that looks like a root
 * but fails its CRC is a lost blob (ERROR); any other content is a stale
 * page, the expected debris of a crash between a commit and the zeroing
 * of the old chain (WARNING).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Extent pages named by one blob's chain, in table order. */
struct ep_list {
	uint32_t *pages;
	uint32_t count, cap;
};

struct claim_ctx {
	struct chk *c;
	blob_id id;
	struct ep_list eps;
	bool out_of_range;
};

static int
claim_clusters(void *arg, uint32_t first, uint32_t count)
{
	struct claim_ctx *x = arg;
	uint64_t end = (uint64_t)first + count;

	if (end > x->c->l.total_clusters) {
		if (!x->out_of_range)
			CHK_ERR(x->c, x->id, "blob 0x%" PRIx64 ": claims clusters %u..%" PRIu64
				" past the store's %u clusters", x->id, first, end - 1,
				x->c->l.total_clusters);
		x->out_of_range = true;
		end = x->c->l.total_clusters;
	}
	for (uint64_t i = first; i < end; i++)
		bit_array_set(x->c->rec_clusters, (uint32_t)i);
	return 0;
}

static int
claim_extent_page(void *arg, uint32_t page)
{
	struct claim_ctx *x = arg;

	if (x->eps.count == x->eps.cap) {
		uint32_t ncap = x->eps.cap ? x->eps.cap * 2 : 16;
		uint32_t *n = realloc(x->eps.pages, ncap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		x->eps.pages = n;
		x->eps.cap = ncap;
	}
	x->eps.pages[x->eps.count++] = page;
	return 0;
}

static int
add_blob(struct chk *c, uint32_t root)
{
	struct chk_blob *b;

	if (c->num_blobs == c->blobs_cap) {
		uint32_t ncap = c->blobs_cap ? c->blobs_cap * 2 : 64;
		struct chk_blob *n = realloc(c->blobs, ncap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		c->blobs = n;
		c->blobs_cap = ncap;
	}
	b = &c->blobs[c->num_blobs++];
	memset(b, 0, sizeof(*b));
	b->id = bsf_page_to_blobid(root);
	b->root = root;
	b->parent = BSF_BLOBID_NONE;
	return 0;
}

static void
recovery_fails(struct chk *c, blob_id id, const char *what, uint32_t page, const char *why)
{
	CHK_ERR(c, id, "blob 0x%" PRIx64 ": %s page %u: %s; a recovery load would reject the "
		"whole store", id, what, page, why);
	c->recovery_fails = true;
}

/* Recovery's handling of one root: chain, claims, extent pages. */
static void
walk_root(struct chk *c, uint32_t root, uint8_t *page)
{
	const struct bsf_claim_ops ops = {
		.cluster_run = claim_clusters,
		.extent_page = claim_extent_page,
	};
	struct claim_ctx x = {.c = c, .id = bsf_page_to_blobid(root)};
	struct bsf_page_hdr hdr;
	struct bsf_diag diag;
	uint32_t cur = root;
	int rc;

	bit_array_set(c->rec_pages, root);
	bit_array_set(c->rec_ids, root);
	if (add_blob(c, root) != 0) {
		CHK_ERR(c, x.id, "out of memory");
		return;
	}
	for (;;) {
		rc = bsf_md_page_claims(page, &ops, &x, &diag);
		if (rc == -ENOMEM) {
			CHK_ERR(c, x.id, "out of memory");
			break;
		}
		if (rc != 0)
			recovery_fails(c, x.id, cur == root ? "root" : "chain", cur, diag.msg);
		bsf_page_hdr_decode(page, &hdr);
		if (hdr.next == BSF_PAGE_NEXT_NONE)
			break;
		if (hdr.next >= c->l.md_len) {
			CHK_ERR(c, x.id, "blob 0x%" PRIx64 ": page %u: next %u is past the metadata "
				"region", x.id, cur, hdr.next);
			break;
		}
		if (bit_array_get(c->rec_pages, hdr.next)) {
			CHK_ERR(c, x.id, "blob 0x%" PRIx64 ": page %u: next %u is a page already in "
				"use (a loop or a shared page)", x.id, cur, hdr.next);
			break;
		}
		if (chk_read_md_page(c, hdr.next, page) != 0)
			break;
		if (!bsf_crc_ok(page))
			break; /* SPDK ends the chain silently; the open below reports it */
		cur = hdr.next;
		bit_array_set(c->rec_pages, cur);
	}
	for (uint32_t k = 0; k < x.eps.count; k++) {
		uint32_t ep = x.eps.pages[k];
		struct bsf_extent_page dec;

		if (ep >= c->l.md_len) {
			recovery_fails(c, x.id, "extent", ep, "past the metadata region");
			continue;
		}
		if (chk_read_md_page(c, ep, page) != 0)
			continue;
		if (bsf_extent_page_decode(page, &dec, &diag) != 0) {
			recovery_fails(c, x.id, "extent", ep, diag.msg);
			continue;
		}
		bit_array_set(c->rec_pages, ep);
		for (uint32_t i = 0; i < dec.count; i++)
			if (dec.clusters[i] != 0)
				claim_clusters(&x, dec.clusters[i], 1);
	}
	free(x.eps.pages);
}

static void
classify_unused(struct chk *c, uint8_t *page)
{
	uint32_t stale = 0, garbage = 0, first_stale = 0, first_garbage = 0;

	for (uint32_t i = 0; i < c->l.md_len; i++) {
		struct bsf_page_hdr hdr;

		if (bit_array_get(c->rec_pages, i))
			continue;
		if (chk_read_md_page(c, i, page) != 0)
			return;
		if (bsf_is_zero(page, BSF_PAGE_SIZE))
			continue;
		bsf_page_hdr_decode(page, &hdr);
		if (hdr.id == bsf_page_to_blobid(i) && hdr.sequence_num == 0 && !bsf_crc_ok(page)) {
			CHK_ERR(c, hdr.id, "blob 0x%" PRIx64 ": root page %u has a bad CRC (stored "
				"0x%08x, computed 0x%08x); the blob is lost", hdr.id, i, hdr.crc,
				bsf_crc(page));
		} else if (bsf_crc_ok(page)) {
			if (stale++ == 0)
				first_stale = i;
			CHK_INFO_(c, BSF_BLOBID_NONE, "page %u: unreferenced page of blob 0x%" PRIx64
				  " (sequence %u)", i, hdr.id, hdr.sequence_num);
		} else {
			if (garbage++ == 0)
				first_garbage = i;
		}
	}
	if (stale)
		CHK_WARN(c, BSF_BLOBID_NONE, "%u unreferenced metadata page(s) with a valid CRC "
			 "(first: %u); released pages should be zeroed", stale, first_stale);
	if (garbage)
		CHK_WARN(c, BSF_BLOBID_NONE, "%u unused metadata page(s) hold non-zero bytes "
			 "(first: %u)", garbage, first_garbage);
}

void
chk_walk(struct chk *c)
{
	uint8_t *page = malloc(BSF_PAGE_SIZE);
	uint32_t idx = 0;

	c->rec_pages = bit_array_create(c->l.md_len);
	c->rec_ids = bit_array_create(c->l.md_len);
	c->rec_clusters = bit_array_create(c->l.total_clusters);
	if (page == NULL || !c->rec_pages || !c->rec_ids || !c->rec_clusters) {
		CHK_ERR(c, BSF_BLOBID_NONE, "out of memory");
		c->io_error = true;
		free(page);
		return;
	}
	while (idx < c->l.md_len) {
		if (chk_read_md_page(c, idx, page) != 0)
			break;
		if (bsf_page_is_root(page, idx))
			walk_root(c, idx, page);
		if (idx == c->l.md_len - 1)
			break;
		idx = bit_array_find_first_clear(c->rec_pages, idx + 1);
	}
	for (uint32_t i = 0; i < c->l.num_md_clusters && i < c->l.total_clusters; i++)
		bit_array_set(c->rec_clusters, i);
	c->used_clusters = bit_array_count_set(c->rec_clusters);
	if (!c->io_error)
		classify_unused(c, page);
	free(page);
}
