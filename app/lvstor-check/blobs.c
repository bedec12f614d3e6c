/*
 * lvstor-check, stage 3: every blob the walk found, opened as a normal
 * load would open it, and the ownership rules between blobs.
 *
 * Opening is bsf_md_parse_blob with every check of §4.3-§4.9 (CRC of each
 * chain page, ids and sequence numbers of continuation pages, descriptor
 * rules, extent pages, thick blobs fully allocated, clusters inside the
 * store). A blob that fails is an ERROR naming the blob: SPDK would skip
 * it silently (§10.11), which is exactly the kind of loss a checker exists
 * to report.
 *
 * Ownership invariant: a cluster, and a metadata page, belongs to at most
 * one blob, and no blob cluster lies in the metadata clusters. The one
 * legal exception is the transient double reference of an interrupted
 * snapshot create or delete (§10.12): while either blob carries SNAPTMP or
 * SNAPRM, sharing is reported as a WARNING, because the next load's fix-up
 * (§6.10) resolves it.
 *
 * Parents: SNAP must name a blob that opens, the SNAP chain must end (no
 * cycles), and EXTSNAP must be present exactly when the EXTERNAL_SNAPSHOT
 * flag is set (§11 step 4).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* owner arrays hold blob index + 1; 0 = free */
#define NO_OWNER 0u

static bool
snap_op_pair(const struct chk *c, uint32_t a, uint32_t b)
{
	return c->blobs[a].snap_op || c->blobs[b].snap_op;
}

static void
extract_props(struct chk *c, struct chk_blob *b)
{
	const struct bsf_blob_md *md = &b->md;
	const struct bsf_xattr *x;
	bool thin = bsf_blob_md_is_thin(md);

	x = bsf_blob_md_find_xattr(md, false, BSF_LVOL_XATTR_NAME);
	if (x != NULL) {
		size_t n = strnlen((const char *)x->value, x->value_len);

		b->has_name = true;
		chk_printable(b->name, sizeof(b->name), x->value,
			      n < BSF_LVOL_NAME_MAX ? n : BSF_LVOL_NAME_MAX);
	}
	x = bsf_blob_md_find_xattr(md, false, BSF_LVOL_XATTR_UUID);
	if (x != NULL) {
		size_t n = strnlen((const char *)x->value, x->value_len);

		b->has_uuid = true;
		chk_printable(b->uuid, sizeof(b->uuid), x->value,
			      n < BSF_LVOL_UUID_LEN - 1 ? n : BSF_LVOL_UUID_LEN - 1);
	}
	b->esnap = (md->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT) != 0;
	x = bsf_blob_md_find_xattr(md, true, BSF_XATTR_SNAP);
	if (x != NULL) {
		if (x->value_len == sizeof(uint64_t)) {
			if (thin && !b->esnap)
				b->parent = bsf_load_le64(x->value);
			else
				CHK_WARN(c, b->id, "blob 0x%" PRIx64 ": SNAP on a %s blob is ignored",
					 b->id, thin ? "esnap clone" : "thick");
		} else if (!thin) {
			CHK_WARN(c, b->id, "blob 0x%" PRIx64 ": SNAP is %u bytes (ignored: thick)",
				 b->id, x->value_len);
		}
	}
	if (b->esnap != (bsf_blob_md_find_xattr(md, true, BSF_XATTR_EXTSNAP) != NULL))
		CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": EXTSNAP %s but the EXTERNAL_SNAPSHOT flag is "
			"%s", b->id, b->esnap ? "missing" : "present", b->esnap ? "set" : "clear");
	for (int i = 0; i < 2; i++) {
		const char *name = i ? BSF_XATTR_SNAPRM : BSF_XATTR_SNAPTMP;

		x = bsf_blob_md_find_xattr(md, true, name);
		if (x == NULL)
			continue;
		b->snap_op = true;
		if (x->value_len != sizeof(uint64_t))
			CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": %s is %u bytes, not 8", b->id, name,
				x->value_len);
		else
			CHK_WARN(c, b->id, "blob 0x%" PRIx64 ": %s = 0x%" PRIx64 ": an interrupted "
				 "snapshot %s; the next load completes or undoes it (§6.10)", b->id,
				 name, bsf_load_le64(x->value), i ? "delete" : "create");
	}
	if (((md->invalid_flags & BSF_INVALID_INTERNAL_XATTR) != 0) !=
	    (md->num_xattrs_internal != 0))
		CHK_WARN(c, b->id, "blob 0x%" PRIx64 ": INTERNAL_XATTR flag %s, %u internal xattr(s)",
			 b->id, (md->invalid_flags & BSF_INVALID_INTERNAL_XATTR) ? "set" : "clear",
			 md->num_xattrs_internal);
	if (md->data_ro_flags & ~BSF_DATA_RO_FLAGS_MASK)
		CHK_WARN(c, b->id, "blob 0x%" PRIx64 ": unknown data_ro_flags 0x%" PRIx64
			 " (opens read-only)", b->id, md->data_ro_flags);
	if (md->md_ro_flags & ~BSF_MD_RO_FLAGS_MASK)
		CHK_WARN(c, b->id, "blob 0x%" PRIx64 ": unknown md_ro_flags 0x%" PRIx64
			 " (metadata read-only)", b->id, md->md_ro_flags);
	if (md->num_unknown_descs)
		CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": %u descriptor(s) of unknown type", b->id,
			md->num_unknown_descs);
}

static void
open_blob(struct chk *c, struct chk_blob *b)
{
	struct bsf_md_parse_opts o;
	struct bsf_diag diag;
	int rc;

	bsf_md_parse_opts_init(&o, sizeof(o));
	o.md_len = c->l.md_len;
	o.total_clusters = c->l.total_clusters;
	rc = bsf_md_parse_blob(b->id, &o, chk_read_md_page_cb, c, &b->md, &diag);
	if (rc == -ENOMEM) {
		CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": out of memory", b->id);
		return;
	}
	if (rc != 0) {
		CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": fails to open: %s", b->id, diag.msg);
		return;
	}
	b->opened = true;
	for (uint64_t s = 0; s < b->md.num_clusters; s++)
		if (b->md.clusters[s] != 0)
			b->allocated++;
	extract_props(c, b);
}

static void
check_pages(struct chk *c, uint32_t *page_owner)
{
	for (uint32_t i = 0; i < c->num_blobs; i++) {
		struct chk_blob *b = &c->blobs[i];
		const struct bsf_blob_md *md = &b->md;

		if (!b->opened)
			continue;
		for (uint32_t k = 0; k < md->num_chain_pages + md->num_extent_pages; k++) {
			bool chain = k < md->num_chain_pages;
			uint32_t p = chain ? md->chain_pages[k] : md->extent_pages[k -
										   md->num_chain_pages];
			uint32_t o;

			if (!chain && p == 0)
				continue;
			o = page_owner[p];
			if (o == NO_OWNER) {
				page_owner[p] = i + 1;
				continue;
			}
			if (o == i + 1) {
				CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": metadata page %u used twice",
					b->id, p);
			} else if (!chain && snap_op_pair(c, o - 1, i)) {
				CHK_WARN(c, b->id, "extent page %u shared by blobs 0x%" PRIx64 " and 0x%"
					 PRIx64 " during an interrupted snapshot operation", p,
					 c->blobs[o - 1].id, b->id);
			} else {
				CHK_ERR(c, b->id, "metadata page %u is used by blobs 0x%" PRIx64
					" and 0x%" PRIx64, p, c->blobs[o - 1].id, b->id);
			}
		}
	}
}

static void
check_clusters(struct chk *c, uint32_t *owner)
{
	for (uint32_t i = 0; i < c->num_blobs; i++) {
		struct chk_blob *b = &c->blobs[i];
		uint32_t reported = 0;

		if (!b->opened)
			continue;
		for (uint64_t s = 0; s < b->md.num_clusters; s++) {
			uint32_t cl = b->md.clusters[s], o;

			if (cl == 0)
				continue;
			if (cl < c->l.num_md_clusters) {
				CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": slot %" PRIu64 " maps cluster %u, "
					"inside the metadata area", b->id, s, cl);
				continue;
			}
			o = owner[cl];
			if (o == NO_OWNER) {
				owner[cl] = i + 1;
				continue;
			}
			if (reported++ >= 8)
				continue; /* one corrupt map should not flood the report */
			if (o == i + 1)
				CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": cluster %u mapped twice (slot %"
					PRIu64 ")", b->id, cl, s);
			else if (snap_op_pair(c, o - 1, i))
				CHK_WARN(c, b->id, "cluster %u shared by blobs 0x%" PRIx64 " and 0x%"
					 PRIx64 " during an interrupted snapshot operation", cl,
					 c->blobs[o - 1].id, b->id);
			else
				CHK_ERR(c, b->id, "cluster %u is claimed by blobs 0x%" PRIx64 " and 0x%"
					PRIx64 " (slot %" PRIu64 ")", cl, c->blobs[o - 1].id, b->id, s);
		}
	}
}

static void
check_parents(struct chk *c)
{
	for (uint32_t i = 0; i < c->num_blobs; i++) {
		struct chk_blob *b = &c->blobs[i], *p;
		uint32_t depth = 0;

		if (!b->opened || b->parent == BSF_BLOBID_NONE)
			continue;
		p = chk_find_blob(c, b->parent);
		if (p == NULL || !p->opened) {
			CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": parent snapshot 0x%" PRIx64 " %s", b->id,
				b->parent, p ? "fails to open" : "does not exist");
			continue;
		}
		p->num_clones++;
		if (!bsf_blob_md_data_ro(&p->md) && !p->snap_op)
			CHK_WARN(c, b->id, "blob 0x%" PRIx64 ": parent 0x%" PRIx64 " is not read-only",
				 b->id, p->id);
		/* Follow the chain; more steps than blobs means a cycle. */
		for (p = b; p != NULL && p->parent != BSF_BLOBID_NONE; p = chk_find_blob(c, p->parent)) {
			if (++depth > c->num_blobs) {
				CHK_ERR(c, b->id, "blob 0x%" PRIx64 ": its SNAP chain loops", b->id);
				break;
			}
		}
	}
}

void
chk_blobs(struct chk *c)
{
	uint32_t *owner = calloc((size_t)c->l.total_clusters + 1, sizeof(uint32_t));
	uint32_t *page_owner = calloc((size_t)c->l.md_len + 1, sizeof(uint32_t));

	if (owner == NULL || page_owner == NULL) {
		CHK_ERR(c, BSF_BLOBID_NONE, "out of memory");
		c->io_error = true;
		goto out;
	}
	for (uint32_t i = 0; i < c->num_blobs; i++)
		open_blob(c, &c->blobs[i]);
	check_pages(c, page_owner);
	check_clusters(c, owner);
	check_parents(c);
	if (c->sb.super_blob != BSF_BLOBID_NONE) {
		struct chk_blob *s = chk_find_blob(c, c->sb.super_blob);

		if (s == NULL)
			CHK_ERR(c, BSF_BLOBID_NONE, "super blob 0x%" PRIx64 " does not exist",
				c->sb.super_blob);
		else if (!s->opened)
			CHK_ERR(c, s->id, "super blob 0x%" PRIx64 " fails to open", s->id);
	}
out:
	free(owner);
	free(page_owner);
}
