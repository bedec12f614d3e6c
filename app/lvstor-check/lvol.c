/*
 * lvstor-check, stage 5: the lvol layer's rules (§7), on stores whose
 * bstype is LVOLSTORE.
 *
 * The severities follow what SPDK's lvol loader does with a violation:
 * it rejects the whole lvolstore when the super blob's uuid is not a
 * 37-byte NUL-terminated UUID, when the store name is longer than 64
 * bytes, or when any volume's name is missing or longer than 64 bytes,
 * and when an esnap clone's EXTSNAP is not a 37-byte UUID (ERRORs). A
 * volume without a valid uuid still loads, without one; duplicate names
 * are only refused in memory when created (WARNINGs).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static bool
valid_uuid_value(const struct bsf_xattr *x, bool *lowercase)
{
	struct lv_uuid u;
	const char *s = (const char *)x->value;

	if (x->value_len != BSF_LVOL_UUID_LEN || s[BSF_LVOL_UUID_LEN - 1] != '\0' ||
	    strlen(s) != BSF_LVOL_UUID_LEN - 1 || uuid_parse_str(&u, s) != 0)
		return false;
	*lowercase = true;
	for (size_t i = 0; i < BSF_LVOL_UUID_LEN - 1; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			*lowercase = false;
	return true;
}

static void
check_super_blob(struct chk *c, struct chk_blob *s)
{
	const struct bsf_xattr *x;
	bool lower;

	x = bsf_blob_md_find_xattr(&s->md, false, BSF_LVOL_XATTR_UUID);
	if (x == NULL || !valid_uuid_value(x, &lower))
		CHK_ERR(c, s->id, "lvolstore: the super blob's uuid is %s; the lvol layer rejects "
			"the store", x ? "not a 37-byte NUL-terminated UUID" : "missing");
	else if (!lower)
		CHK_WARN(c, s->id, "lvolstore: uuid is not lower case");
	else
		memcpy(c->lvs_uuid, x->value, BSF_LVOL_UUID_LEN);
	x = bsf_blob_md_find_xattr(&s->md, false, BSF_LVOL_XATTR_NAME);
	if (x == NULL || x->value_len > BSF_LVOL_NAME_MAX) {
		CHK_ERR(c, s->id, "lvolstore: the store name is %s; the lvol layer rejects the store",
			x ? "longer than 64 bytes" : "missing");
	} else {
		size_t n = strnlen((const char *)x->value, x->value_len);

		chk_printable(c->lvs_name, sizeof(c->lvs_name), x->value, n);
		if (n == 0)
			CHK_ERR(c, s->id, "lvolstore: the store name is empty");
		else if (n == x->value_len)
			CHK_WARN(c, s->id, "lvolstore: the store name is not NUL-terminated");
	}
	if (s->md.num_clusters != 0 || bsf_blob_md_is_thin(&s->md))
		CHK_WARN(c, s->id, "lvolstore: the super blob has %" PRIu64 " clusters%s",
			 s->md.num_clusters, bsf_blob_md_is_thin(&s->md) ? " and is thin" : "");
}

static void
check_volume(struct chk *c, struct chk_blob *b)
{
	const struct bsf_xattr *x;
	bool lower;

	x = bsf_blob_md_find_xattr(&b->md, false, BSF_LVOL_XATTR_NAME);
	if (x == NULL || x->value_len == 0 || x->value_len > BSF_LVOL_NAME_MAX)
		CHK_ERR(c, b->id, "lvol 0x%" PRIx64 ": name %s; the lvol layer rejects the whole "
			"store", b->id, x == NULL ? "missing" : "length out of 1..64");
	else if (x->value[0] == '\0')
		CHK_WARN(c, b->id, "lvol 0x%" PRIx64 ": empty name", b->id);
	x = bsf_blob_md_find_xattr(&b->md, false, BSF_LVOL_XATTR_UUID);
	if (x == NULL || !valid_uuid_value(x, &lower))
		CHK_WARN(c, b->id, "lvol 0x%" PRIx64 " (%s): uuid %s; it loads without a UUID",
			 b->id, b->name, x ? "malformed" : "missing");
	if (b->esnap) {
		x = bsf_blob_md_find_xattr(&b->md, true, BSF_XATTR_EXTSNAP);
		if (x != NULL && !valid_uuid_value(x, &lower))
			CHK_ERR(c, b->id, "lvol 0x%" PRIx64 " (%s): EXTSNAP is not a 37-byte UUID",
				b->id, b->name);
	}
}

struct key_ref {
	const char *key;
	blob_id id;
};

static int
key_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	return r ? r : (x->id < y->id ? -1 : x->id > y->id);
}

/* Duplicates by sorting: a store may hold tens of thousands of volumes. */
static void
check_duplicates(struct chk *c, const struct chk_blob *s, bool uuids)
{
	struct key_ref *keys = calloc(c->num_blobs ? c->num_blobs : 1, sizeof(*keys));
	uint32_t n = 0;

	if (keys == NULL)
		return;
	for (uint32_t i = 0; i < c->num_blobs; i++) {
		const struct chk_blob *b = &c->blobs[i];

		if (b == s || !b->opened || !(uuids ? b->has_uuid : b->has_name))
			continue;
		if ((uuids ? b->uuid : b->name)[0] == '\0')
			continue;
		keys[n].key = uuids ? b->uuid : b->name;
		keys[n].id = b->id;
		n++;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (uint32_t i = 1; i < n; i++)
		if (strcmp(keys[i - 1].key, keys[i].key) == 0)
			CHK_WARN(c, keys[i].id, "lvols 0x%" PRIx64 " and 0x%" PRIx64 " %s '%s'",
				 keys[i - 1].id, keys[i].id, uuids ? "share uuid" : "are both named",
				 keys[i].key);
	free(keys);
}

void
chk_lvol(struct chk *c)
{
	struct chk_blob *s = NULL;

	if (c->sb.super_blob == BSF_BLOBID_NONE)
		CHK_ERR(c, BSF_BLOBID_NONE, "lvolstore: no super blob");
	else
		s = chk_find_blob(c, c->sb.super_blob);
	if (s != NULL && s->opened)
		check_super_blob(c, s);
	for (uint32_t i = 0; i < c->num_blobs; i++) {
		struct chk_blob *b = &c->blobs[i];

		if (b != s && b->opened)
			check_volume(c, b);
	}
	check_duplicates(c, s, false);
	check_duplicates(c, s, true);
}
