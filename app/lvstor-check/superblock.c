/*
 * lvstor-check, stage 1: the superblock and the layout.
 *
 * The superblock is validated exactly as a load would (bsf_super_decode:
 * version, signature, CRC, size against the device, then the geometry
 * sanity checks), with no bstype requested so any store is checked. If
 * that fails nothing else can be trusted and the check stops there.
 *
 * Then the recorded layout is compared with the §9.1 formulas. A
 * difference is a WARNING, not an error: SPDK loads any layout whose
 * areas do not overlap (bsf_layout_from_super already refused the ones
 * that do), and stores written by older versions or grown since creation
 * legitimately differ. The reserved cluster-mask pages R depend on the
 * size at creation, which is not recorded, so R is taken from the image
 * and only checked to be large enough for the current mask.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "check.h"

static const uint8_t g_lvolstore[BS_BSTYPE_LEN] = "LVOLSTORE";

static void
compare_layout(struct chk *c)
{
	const struct bsf_layout *l = &c->l;
	struct bsf_layout_params p;
	struct bsf_layout f;
	uint32_t md_mask_pages;
	int rc;

	bsf_layout_params_init(&p, sizeof(p));
	p.dev_size = l->size;
	p.blocklen = l->io_unit_size;
	p.cluster_size = l->cluster_size;
	p.md_page_size = l->md_page_size;
	p.num_md_pages = l->md_len;
	rc = bsf_layout_compute(&p, &f);
	if (rc != 0) {
		CHK_WARN(c, BSF_BLOBID_NONE, "layout: the §9.1 formulas reject these parameters (%d)",
			 rc);
		return;
	}
	if (l->used_page_mask_start != f.used_page_mask_start ||
	    l->used_page_mask_len != f.used_page_mask_len)
		CHK_WARN(c, BSF_BLOBID_NONE, "layout: used page mask at %u+%u, formula gives %u+%u",
			 l->used_page_mask_start, l->used_page_mask_len, f.used_page_mask_start,
			 f.used_page_mask_len);
	if (l->used_cluster_mask_start != f.used_cluster_mask_start ||
	    l->used_cluster_mask_len != f.used_cluster_mask_len)
		CHK_WARN(c, BSF_BLOBID_NONE,
			 "layout: used cluster mask at %u+%u, formula gives %u+%u",
			 l->used_cluster_mask_start, l->used_cluster_mask_len,
			 f.used_cluster_mask_start, f.used_cluster_mask_len);
	md_mask_pages = bsf_mask_pages(l->md_len, l->md_page_size);
	if (l->used_blobid_mask_len != 0) {
		if (l->cluster_mask_reserved < md_mask_pages)
			CHK_WARN(c, BSF_BLOBID_NONE,
				 "layout: %u pages reserved for the cluster mask, formula needs at "
				 "least %u", l->cluster_mask_reserved, md_mask_pages);
		if (l->used_blobid_mask_len != f.used_blobid_mask_len)
			CHK_WARN(c, BSF_BLOBID_NONE,
				 "layout: used blob id mask length %u, formula gives %u",
				 l->used_blobid_mask_len, f.used_blobid_mask_len);
		if (l->md_start != l->used_blobid_mask_start + l->used_blobid_mask_len)
			CHK_WARN(c, BSF_BLOBID_NONE,
				 "layout: md_start %u does not follow the blob id mask (%u+%u)",
				 l->md_start, l->used_blobid_mask_start, l->used_blobid_mask_len);
	} else if (l->md_start != l->used_cluster_mask_start + l->cluster_mask_reserved) {
		CHK_WARN(c, BSF_BLOBID_NONE, "layout: md_start %u does not follow the cluster mask",
			 l->md_start);
	}
	CHK_INFO_(c, BSF_BLOBID_NONE,
		  "layout: masks at pages %u/%u/%u, metadata region %u+%u, %u metadata cluster(s), "
		  "grow limit %" PRIu64 " clusters", l->used_page_mask_start,
		  l->used_cluster_mask_start, l->used_blobid_mask_start, l->md_start, l->md_len,
		  l->num_md_clusters, bsf_layout_max_clusters(l));
}

int
chk_superblock(struct chk *c)
{
	uint8_t buf[BSF_PAGE_SIZE];
	struct bsf_diag diag;
	uint32_t bs;
	int rc;

	rc = chk_image_read(&c->img, 0, buf, sizeof(buf));
	if (rc == -ENODATA) {
		CHK_ERR(c, BSF_BLOBID_NONE, "superblock: the image is smaller than 4096 bytes");
		return -1;
	}
	if (rc != 0) {
		CHK_ERR(c, BSF_BLOBID_NONE, "superblock: read failed: %s", strerror(-rc));
		c->io_error = true;
		return -1;
	}
	if (bsf_is_zero(buf, sizeof(buf))) {
		CHK_ERR(c, BSF_BLOBID_NONE,
			"superblock: all zeros (no store here, or a destroyed one)");
		return -1;
	}
	/* The device as a load would see it: whole blocks only. */
	bs = c->opts.block_size ? c->opts.block_size : c->img.dev_block_size;
	c->dev_size = bs ? c->img.size / bs * bs : c->img.size;
	rc = bsf_super_decode(buf, NULL, c->dev_size, &c->sb, &diag);
	if (rc != 0) {
		CHK_ERR(c, BSF_BLOBID_NONE, "%s", diag.msg);
		return -1;
	}
	rc = bsf_layout_from_super(&c->sb, c->dev_size, &c->l, &diag);
	if (rc != 0) {
		CHK_ERR(c, BSF_BLOBID_NONE, "%s", diag.msg);
		return -1;
	}
	c->sb_valid = true;
	c->lvol = memcmp(c->sb.bstype, g_lvolstore, BS_BSTYPE_LEN) == 0;
	if (!c->lvol && memcmp(c->sb.bstype, "LVOLSTORE", 9) == 0)
		CHK_WARN(c, BSF_BLOBID_NONE,
			 "superblock: bstype starts with LVOLSTORE but is not NUL-padded; the lvol "
			 "layer will not load it");

	if (c->sb.version < BSF_SB_VERSION)
		CHK_WARN(c, BSF_BLOBID_NONE, "superblock: version %u (old store)", c->sb.version);
	if (c->sb.length != BSF_PAGE_SIZE)
		CHK_WARN(c, BSF_BLOBID_NONE, "superblock: length field %u, written as 4096",
			 c->sb.length);
	if (!bsf_is_zero(buf + BSF_SB_OFF_RESERVED, BSF_CRC_LEN - BSF_SB_OFF_RESERVED))
		CHK_WARN(c, BSF_BLOBID_NONE, "superblock: reserved bytes are not zero");
	if (c->sb.size == 0 || c->sb.io_unit_size == 0 || c->sb.md_page_size == 0)
		CHK_WARN(c, BSF_BLOBID_NONE,
			 "superblock: legacy zero in size/io_unit_size/md_page_size (%" PRIu64
			 "/%u/%u); defaults apply", c->sb.size, c->sb.io_unit_size,
			 c->sb.md_page_size);
	if (bs != 0 && bs != c->l.io_unit_size)
		CHK_WARN(c, BSF_BLOBID_NONE,
			 "superblock: io_unit_size %u differs from the block size %u; the store "
			 "should only be opened with %u-byte blocks (§1.3)", c->l.io_unit_size, bs,
			 c->l.io_unit_size);
	if (c->sb.used_blobid_mask_len == 0)
		CHK_WARN(c, BSF_BLOBID_NONE,
			 "superblock: no used blob id mask; every load runs recovery");
	if (c->dev_size > c->l.size)
		CHK_INFO_(c, BSF_BLOBID_NONE,
			  "superblock: the device is %" PRIu64 " bytes larger than the store "
			  "(room to grow)", c->dev_size - c->l.size);
	if (c->sb.super_blob != BSF_BLOBID_NONE && !bsf_blobid_is_valid(c->sb.super_blob))
		CHK_ERR(c, BSF_BLOBID_NONE, "superblock: super_blob 0x%" PRIx64
			" is not a blob id", c->sb.super_blob);
	compare_layout(c);
	return 0;
}
