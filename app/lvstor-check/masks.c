/*
 * lvstor-check, stage 4: the three masks against the walk.
 *
 * On a clean store (clean != 0 and a blob-ID mask present) a load trusts
 * the masks completely: it allocates from them without looking at the
 * metadata (§3). So they must be exact: every page, blob id and cluster
 * the walk found used must be set, and nothing else. A bit set that the
 * walk does not explain is a leak; a bit clear that the walk needs is a
 * double allocation waiting to happen; both are ERRORs. Mask headers must
 * obey the clean-load rules (§6.9: type byte, exact length for pages and
 * blob ids, at least total_clusters for clusters), or the load fails.
 *
 * On a dirty store the masks are ignored by the next load, so they are
 * not compared; the report says a load will run recovery.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Reports up to this many differing bits per mask, then a count. */
#define MAX_DIFFS_LISTED 8

static const char *
mask_label(enum bsf_mask_type t)
{
	return t == BSF_MASK_USED_PAGES ? "used page mask" :
	       t == BSF_MASK_USED_CLUSTERS ? "used cluster mask" : "used blob id mask";
}

static void
check_one(struct chk *c, enum bsf_mask_type type, uint32_t start, uint32_t len_pages,
	  uint32_t bits, const struct bit_array *want)
{
	uint64_t area = (uint64_t)len_pages * c->l.md_page_size;
	uint64_t off = bsf_abs_page_offset(&c->l, start), need;
	uint8_t hdr[BSF_MASK_HDR_SIZE];
	uint8_t *buf = NULL;
	struct bit_array *got = bit_array_create(bits);
	struct bsf_diag diag;
	uint32_t recorded, diffs = 0;
	size_t bytes;
	int rc;

	if (got == NULL) {
		CHK_ERR(c, BSF_BLOBID_NONE, "out of memory");
		goto out;
	}
	/* Read only as much of the area as the header says is used (rounded
	 * to whole pages), so a hostile length cannot make us read gigabytes. */
	rc = chk_image_read(&c->img, off, hdr, sizeof(hdr));
	if (rc != 0 && rc != -ENODATA) {
		CHK_ERR(c, BSF_BLOBID_NONE, "%s: read failed", mask_label(type));
		c->io_error = true;
		goto out;
	}
	recorded = bsf_load_le32(hdr + 1);
	need = BSF_MASK_HDR_SIZE + ((uint64_t)(recorded > bits ? recorded : bits) + 7) / 8;
	need = (need + c->l.md_page_size - 1) / c->l.md_page_size * c->l.md_page_size;
	bytes = (size_t)(need < area ? need : area);
	buf = malloc(bytes);
	if (buf == NULL) {
		CHK_ERR(c, BSF_BLOBID_NONE, "out of memory");
		goto out;
	}
	rc = chk_image_read(&c->img, off, buf, bytes);
	if (rc != 0 && rc != -ENODATA) {
		CHK_ERR(c, BSF_BLOBID_NONE, "%s: read failed", mask_label(type));
		c->io_error = true;
		goto out;
	}
	rc = bsf_mask_decode(buf, bytes, type, bits, got, &recorded, &diag);
	if (rc != 0) {
		CHK_ERR(c, BSF_BLOBID_NONE, "%s: %s; a clean load would fail", mask_label(type),
			diag.msg);
		goto out;
	}
	if (recorded > bits)
		CHK_INFO_(c, BSF_BLOBID_NONE, "%s records %u bits, %u used (after a grow)",
			  mask_label(type), recorded, bits);
	else if (!bsf_mask_tail_is_zero(buf, bytes, recorded))
		CHK_WARN(c, BSF_BLOBID_NONE, "%s: bytes past its %u bits are not zero",
			 mask_label(type), recorded);
	for (uint32_t i = 0; i < bits; i++) {
		bool g = bit_array_get(got, i), w = bit_array_get(want, i);

		if (g == w)
			continue;
		if (diffs++ < MAX_DIFFS_LISTED)
			CHK_ERR(c, BSF_BLOBID_NONE, "%s: bit %u is %s but the metadata %s it",
				mask_label(type), i, g ? "set" : "clear",
				g ? "does not use" : "uses");
	}
	if (diffs > MAX_DIFFS_LISTED)
		CHK_ERR(c, BSF_BLOBID_NONE, "%s: %u bits differ from the metadata in all",
			mask_label(type), diffs);
out:
	free(buf);
	bit_array_free(&got);
}

void
chk_masks(struct chk *c)
{
	const struct bsf_layout *l = &c->l;

	if (!c->sb.clean) {
		CHK_INFO_(c, BSF_BLOBID_NONE, "the store is dirty: the masks are ignored and the "
			  "next load runs recovery");
		return;
	}
	if (l->used_blobid_mask_len == 0)
		return; /* recovery on every load; masks never trusted */
	check_one(c, BSF_MASK_USED_PAGES, l->used_page_mask_start, l->used_page_mask_len,
		  l->md_len, c->rec_pages);
	check_one(c, BSF_MASK_USED_BLOBIDS, l->used_blobid_mask_start, l->used_blobid_mask_len,
		  l->md_len, c->rec_ids);
	check_one(c, BSF_MASK_USED_CLUSTERS, l->used_cluster_mask_start, l->used_cluster_mask_len,
		  l->total_clusters, c->rec_clusters);
}
