/*
 * lvstor-check output: a human-readable summary (store, one line per
 * blob, then the findings) or, with --json, one JSON document with the
 * same content for tests and scripts. The verdict is in both: the first
 * line of the text says "consistent" or how many errors there are, the
 * JSON has "consistent". INFO findings and per-blob details (flags, chain
 * and extent pages, xattrs) are only printed with --verbose; the JSON
 * always has everything.
 */
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "check.h"

static const char *
sev_name(enum chk_severity s)
{
	return s == CHK_ERROR ? "error" : s == CHK_WARNING ? "warning" : "info";
}

static const char *
blob_label(const struct chk *c, const struct chk_blob *b)
{
	if (b->id == c->sb.super_blob)
		return c->lvol ? "(lvolstore)" : "(super blob)";
	return b->has_name ? b->name : "-";
}

static const char *
yes_no(bool v)
{
	return v ? "yes" : "no";
}

static void
print_xattrs(FILE *out, const char *kind, const struct bsf_xattr *x, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		char name[80], val[80];

		chk_printable(name, sizeof(name), (const uint8_t *)x[i].name, x[i].name_len);
		if (x[i].value_len == 8 && (strcmp(name, "SNAP") == 0 ||
					   strcmp(name, "SNAPTMP") == 0 || strcmp(name, "SNAPRM") == 0))
			snprintf(val, sizeof(val), "0x%" PRIx64, bsf_load_le64(x[i].value));
		else
			chk_printable(val, sizeof(val), x[i].value,
				      strnlen((const char *)x[i].value, x[i].value_len));
		fprintf(out, "      %s %s = \"%s\" (%u bytes)\n", kind, name, val, x[i].value_len);
	}
}

static void
print_blob_details(FILE *out, const struct chk_blob *b)
{
	const struct bsf_blob_md *md = &b->md;

	fprintf(out, "      flags invalid=0x%" PRIx64 " data_ro=0x%" PRIx64 " md_ro=0x%" PRIx64
		", %s format, chain pages:", md->invalid_flags, md->data_ro_flags, md->md_ro_flags,
		md->format == BSF_EXTENT_TABLE ? "extent table" : "RLE");
	for (uint32_t k = 0; k < md->num_chain_pages; k++)
		fprintf(out, " %u", md->chain_pages[k]);
	if (md->format == BSF_EXTENT_TABLE) {
		fprintf(out, ", extent pages:");
		for (uint32_t k = 0; k < md->num_extent_pages; k++)
			fprintf(out, " %u", md->extent_pages[k]);
	}
	fprintf(out, "\n");
	print_xattrs(out, "xattr", md->xattrs, md->num_xattrs);
	print_xattrs(out, "internal", md->xattrs_internal, md->num_xattrs_internal);
}

void
chk_report_text(struct chk *c, FILE *out)
{
	const struct bsf_layout *l = &c->l;

	if (c->num_errors)
		fprintf(out, "%s: INCONSISTENT: %u error(s), %u warning(s)\n", c->opts.path,
			c->num_errors, c->num_warnings);
	else
		fprintf(out, "%s: consistent, %u warning(s)\n", c->opts.path, c->num_warnings);
	if (c->sb_valid) {
		char bstype[BS_BSTYPE_LEN + 1];

		chk_printable(bstype, sizeof(bstype), c->sb.bstype,
			      strnlen((const char *)c->sb.bstype, BS_BSTYPE_LEN));
		fprintf(out, "store\n");
		fprintf(out, "  type      %s", bstype[0] ? bstype : "(untyped)");
		if (c->lvol)
			fprintf(out, ": lvolstore '%s', uuid %s", c->lvs_name,
				c->lvs_uuid[0] ? c->lvs_uuid : "-");
		fprintf(out, "\n  version   %u, %s\n", c->sb.version, c->sb.clean ? "clean" : "dirty");
		fprintf(out, "  size      %" PRIu64 " bytes (device %" PRIu64 ")\n", l->size,
			c->dev_size);
		fprintf(out, "  clusters  %u x %u bytes: %u metadata, %u data, %" PRIu64
			" used, %" PRIu64 " free\n", l->total_clusters, l->cluster_size,
			l->num_md_clusters, l->total_clusters - l->num_md_clusters,
			c->used_clusters - (c->used_clusters ? l->num_md_clusters : 0),
			(uint64_t)l->total_clusters - c->used_clusters);
		fprintf(out, "  metadata  page %u, io unit %u, region %u+%u, %u pages used\n",
			l->md_page_size, l->io_unit_size, l->md_start, l->md_len,
			c->rec_pages ? bit_array_count_set(c->rec_pages) : 0);
		fprintf(out, "  blobs     %u", c->num_blobs);
		if (c->sb.super_blob != BSF_BLOBID_NONE)
			fprintf(out, " (super blob 0x%" PRIx64 ")", c->sb.super_blob);
		fprintf(out, "\n");
	}
	if (c->num_blobs) {
		fprintf(out, "blobs\n  %-12s %-20s %9s %9s %-4s %-3s %s\n", "ID", "NAME", "CLUSTERS",
			"ALLOC", "THIN", "RO", "PARENT");
		for (uint32_t i = 0; i < c->num_blobs; i++) {
			const struct chk_blob *b = &c->blobs[i];

			if (!b->opened) {
				fprintf(out, "  0x%-10" PRIx64 " (fails to open)\n", b->id);
				continue;
			}
			fprintf(out, "  0x%-10" PRIx64 " %-20s %9" PRIu64 " %9" PRIu64 " %-4s %-3s ",
				b->id, blob_label(c, b), b->md.num_clusters, b->allocated,
				yes_no(bsf_blob_md_is_thin(&b->md)), yes_no(bsf_blob_md_data_ro(&b->md)));
			if (b->parent != BSF_BLOBID_NONE) {
				const struct chk_blob *p = chk_find_blob(c, b->parent);

				fprintf(out, "0x%" PRIx64 "%s%s%s", b->parent, p && p->has_name ? " (" : "",
					p && p->has_name ? p->name : "", p && p->has_name ? ")" : "");
			} else {
				fprintf(out, "%s", b->esnap ? "(external)" : "-");
			}
			fprintf(out, "\n");
			if (c->opts.verbose)
				print_blob_details(out, b);
		}
	}
	for (int pass = 0; pass < 3; pass++) {
		enum chk_severity want = pass == 0 ? CHK_ERROR : pass == 1 ? CHK_WARNING : CHK_INFO;

		if (want == CHK_INFO && !c->opts.verbose)
			break;
		for (uint32_t i = 0; i < c->num_issues; i++)
			if (c->issues[i].sev == want)
				fprintf(out, "%s: %s\n", want == CHK_ERROR ? "ERROR" :
					want == CHK_WARNING ? "WARNING" : "info",
					c->issues[i].msg ? c->issues[i].msg : "(out of memory)");
	}
}

static json_t *
u32_array(const uint32_t *v, uint32_t n)
{
	json_t *a = json_array();

	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static json_t *
xattrs_json(const struct bsf_xattr *x, uint32_t n)
{
	json_t *o = json_object();

	for (uint32_t i = 0; i < n; i++) {
		char name[128], val[256];

		chk_printable(name, sizeof(name), (const uint8_t *)x[i].name, x[i].name_len);
		if (x[i].value_len == 8 && (strcmp(name, "SNAP") == 0 ||
					   strcmp(name, "SNAPTMP") == 0 || strcmp(name, "SNAPRM") == 0))
			snprintf(val, sizeof(val), "0x%" PRIx64, bsf_load_le64(x[i].value));
		else
			chk_printable(val, sizeof(val), x[i].value,
				      strnlen((const char *)x[i].value, x[i].value_len));
		json_object_set_new(o, name, json_string(val));
	}
	return o;
}

static json_t *
blob_json(const struct chk *c, const struct chk_blob *b)
{
	json_t *o = json_object();
	char hex[24];

	snprintf(hex, sizeof(hex), "0x%" PRIx64, b->id);
	json_object_set_new(o, "id", json_integer((json_int_t)b->id));
	json_object_set_new(o, "id_hex", json_string(hex));
	json_object_set_new(o, "root_page", json_integer(b->root));
	json_object_set_new(o, "opened", json_boolean(b->opened));
	json_object_set_new(o, "super_blob", json_boolean(b->id == c->sb.super_blob));
	if (!b->opened)
		return o;
	json_object_set_new(o, "name", b->has_name ? json_string(b->name) : json_null());
	json_object_set_new(o, "uuid", b->has_uuid ? json_string(b->uuid) : json_null());
	json_object_set_new(o, "num_clusters", json_integer((json_int_t)b->md.num_clusters));
	json_object_set_new(o, "allocated_clusters", json_integer((json_int_t)b->allocated));
	json_object_set_new(o, "thin", json_boolean(bsf_blob_md_is_thin(&b->md)));
	json_object_set_new(o, "read_only", json_boolean(bsf_blob_md_data_ro(&b->md)));
	json_object_set_new(o, "esnap_clone", json_boolean(b->esnap));
	json_object_set_new(o, "clones", json_integer(b->num_clones));
	json_object_set_new(o, "clear_method",
			    json_integer((json_int_t)(b->md.md_ro_flags & BSF_MD_RO_CLEAR_METHOD_MASK)));
	if (b->parent != BSF_BLOBID_NONE) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, b->parent);
		json_object_set_new(o, "parent", json_string(hex));
	} else {
		json_object_set_new(o, "parent", json_null());
	}
	json_object_set_new(o, "format", json_string(b->md.format == BSF_EXTENT_TABLE ?
						     "extent_table" : "rle"));
	json_object_set_new(o, "invalid_flags", json_integer((json_int_t)b->md.invalid_flags));
	json_object_set_new(o, "data_ro_flags", json_integer((json_int_t)b->md.data_ro_flags));
	json_object_set_new(o, "md_ro_flags", json_integer((json_int_t)b->md.md_ro_flags));
	json_object_set_new(o, "chain_pages", u32_array(b->md.chain_pages, b->md.num_chain_pages));
	json_object_set_new(o, "extent_pages",
			    u32_array(b->md.extent_pages, b->md.format == BSF_EXTENT_TABLE ?
				      b->md.num_extent_pages : 0));
	json_object_set_new(o, "xattrs", xattrs_json(b->md.xattrs, b->md.num_xattrs));
	json_object_set_new(o, "internal_xattrs",
			    xattrs_json(b->md.xattrs_internal, b->md.num_xattrs_internal));
	return o;
}

void
chk_report_json(struct chk *c, FILE *out)
{
	json_t *root = json_object(), *blobs = json_array(), *issues = json_array();
	const struct bsf_layout *l = &c->l;

	json_object_set_new(root, "image", json_string(c->opts.path));
	json_object_set_new(root, "consistent", json_boolean(c->num_errors == 0 && !c->io_error));
	json_object_set_new(root, "errors", json_integer(c->num_errors));
	json_object_set_new(root, "warnings", json_integer(c->num_warnings));
	if (c->sb_valid) {
		json_t *s = json_object();
		char bstype[BS_BSTYPE_LEN + 1];

		chk_printable(bstype, sizeof(bstype), c->sb.bstype,
			      strnlen((const char *)c->sb.bstype, BS_BSTYPE_LEN));
		json_object_set_new(s, "bstype", json_string(bstype));
		json_object_set_new(s, "version", json_integer(c->sb.version));
		json_object_set_new(s, "clean", json_boolean(c->sb.clean != 0));
		json_object_set_new(s, "size", json_integer((json_int_t)l->size));
		json_object_set_new(s, "device_size", json_integer((json_int_t)c->dev_size));
		json_object_set_new(s, "cluster_size", json_integer(l->cluster_size));
		json_object_set_new(s, "md_page_size", json_integer(l->md_page_size));
		json_object_set_new(s, "io_unit_size", json_integer(l->io_unit_size));
		json_object_set_new(s, "total_clusters", json_integer(l->total_clusters));
		json_object_set_new(s, "metadata_clusters", json_integer(l->num_md_clusters));
		json_object_set_new(s, "data_clusters",
				    json_integer(l->total_clusters - l->num_md_clusters));
		json_object_set_new(s, "used_clusters", json_integer((json_int_t)c->used_clusters));
		json_object_set_new(s, "free_clusters",
				    json_integer((json_int_t)(l->total_clusters - c->used_clusters)));
		json_object_set_new(s, "md_start", json_integer(l->md_start));
		json_object_set_new(s, "md_len", json_integer(l->md_len));
		json_object_set_new(s, "used_md_pages",
				    json_integer(c->rec_pages ? bit_array_count_set(c->rec_pages) : 0));
		json_object_set_new(s, "super_blob", c->sb.super_blob == BSF_BLOBID_NONE ?
				    json_null() : json_integer((json_int_t)c->sb.super_blob));
		if (c->lvol) {
			json_t *lv = json_object();

			json_object_set_new(lv, "name", json_string(c->lvs_name));
			json_object_set_new(lv, "uuid", json_string(c->lvs_uuid));
			json_object_set_new(s, "lvolstore", lv);
		}
		json_object_set_new(root, "store", s);
	} else {
		json_object_set_new(root, "store", json_null());
	}
	for (uint32_t i = 0; i < c->num_blobs; i++)
		json_array_append_new(blobs, blob_json(c, &c->blobs[i]));
	json_object_set_new(root, "blobs", blobs);
	for (uint32_t i = 0; i < c->num_issues; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "severity", json_string(sev_name(c->issues[i].sev)));
		json_object_set_new(o, "blob", c->issues[i].blob == BSF_BLOBID_NONE ? json_null() :
				    json_integer((json_int_t)c->issues[i].blob));
		json_object_set_new(o, "message", json_string(c->issues[i].msg ? c->issues[i].msg :
							      "(out of memory)"));
		json_array_append_new(issues, o);
	}
	json_object_set_new(root, "issues", issues);
	json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(root);
}
