/*
 * lib/blob/xattr.c: a blob's extended attributes, application (descriptor
 * type 2) and internal (type 4), spec §4.8.
 *
 * Invariants:
 *  - Each namespace is an array in disk order: a new name is appended, a
 *    replaced value keeps its position (spec §4.10: the order in which
 *    xattrs were created is the order on disk, and stays so after reload).
 *  - A name appears at most once per namespace; names contain no NUL (they
 *    are C strings) and name + value <= 4063 bytes, so that the whole
 *    descriptor fits in one page (an xattr is never split, §4.8).
 *  - The INTERNAL_XATTR flag (invalid bit 1) is set exactly while the blob
 *    has an internal xattr.
 *  - Changes are in memory until the next persist (spec §6.7); md_ro
 *    blobs refuse application xattr changes with -EPERM. Internal xattrs
 *    are the blobstore's own bookkeeping (SNAP, SNAPTMP, ...) and are
 *    changed on read-only snapshots too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blob_internal.h"

static int32_t
xattrs_index(const struct blob_xattrs *xs, const char *name, size_t name_len)
{
	for (uint32_t i = 0; i < xs->n; i++) {
		if (xs->x[i].name_len == name_len && memcmp(xs->x[i].name, name, name_len) == 0)
			return (int32_t)i;
	}
	return -1;
}

const struct bsf_xattr *
blob_xattrs_find(const struct blob_xattrs *xs, const char *name)
{
	int32_t i = name == NULL ? -1 : xattrs_index(xs, name, strlen(name));

	return i < 0 ? NULL : &xs->x[i];
}

int
blob_xattrs_set(struct blob_xattrs *xs, const char *name, const void *value, uint16_t value_len)
{
	size_t name_len;
	struct bsf_xattr x;
	int32_t i;
	char *block;

	if (name == NULL || (value == NULL && value_len > 0))
		return -EINVAL;
	name_len = strlen(name);
	if (name_len > UINT16_MAX)
		return -EINVAL;
	if (name_len + value_len > BSF_XATTR_MAX_NAME_VALUE)
		return -ENOSPC;
	block = malloc(name_len + 1 + value_len);
	if (block == NULL)
		return -ENOMEM;
	memcpy(block, name, name_len + 1);
	if (value_len > 0)
		memcpy(block + name_len + 1, value, value_len);
	x.name = block;
	x.value = (uint8_t *)block + name_len + 1;
	x.name_len = (uint16_t)name_len;
	x.value_len = value_len;

	i = xattrs_index(xs, name, name_len);
	if (i >= 0) {
		free(xs->x[i].name);
		xs->x[i] = x;
		return 0;
	}
	if (xs->n == xs->cap) {
		uint32_t cap = xs->cap ? xs->cap * 2 : 4;
		struct bsf_xattr *nx = realloc(xs->x, (size_t)cap * sizeof(*nx));

		if (nx == NULL) {
			free(block);
			return -ENOMEM;
		}
		xs->x = nx;
		xs->cap = cap;
	}
	xs->x[xs->n++] = x;
	return 0;
}

int
blob_xattrs_remove(struct blob_xattrs *xs, const char *name)
{
	int32_t i = name == NULL ? -1 : xattrs_index(xs, name, strlen(name));

	if (i < 0)
		return -ENOENT;
	free(xs->x[i].name);
	memmove(&xs->x[i], &xs->x[i + 1], (xs->n - (uint32_t)i - 1) * sizeof(xs->x[0]));
	xs->n--;
	return 0;
}

void
blob_xattrs_free(struct blob_xattrs *xs)
{
	for (uint32_t i = 0; i < xs->n; i++)
		free(xs->x[i].name);
	free(xs->x);
	xs->x = NULL;
	xs->n = xs->cap = 0;
}

static int
get_value(const struct blob_xattrs *xs, const char *name, const void **value, size_t *value_len)
{
	const struct bsf_xattr *x = blob_xattrs_find(xs, name);

	if (x == NULL)
		return -ENOENT;
	if (value != NULL)
		*value = x->value;
	if (value_len != NULL)
		*value_len = x->value_len;
	return 0;
}

/* ---- application xattrs ---------------------------------------------------------------- */

int
blob_set_xattr(struct blob *blob, const char *name, const void *value, uint16_t value_len)
{
	int rc;

	if (blob->md_ro)
		return -EPERM;
	rc = blob_xattrs_set(&blob->xattrs, name, value, value_len);
	if (rc == 0)
		blob_md_changed(blob);
	return rc;
}

int
blob_remove_xattr(struct blob *blob, const char *name)
{
	int rc;

	if (blob->md_ro)
		return -EPERM;
	rc = blob_xattrs_remove(&blob->xattrs, name);
	if (rc == 0)
		blob_md_changed(blob);
	return rc;
}

int
blob_get_xattr_value(struct blob *blob, const char *name, const void **value, size_t *value_len)
{
	return get_value(&blob->xattrs, name, value, value_len);
}

int
blob_get_xattr_names(struct blob *blob, const char ***names, size_t *count)
{
	const char **v = malloc((blob->xattrs.n ? blob->xattrs.n : 1) * sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < blob->xattrs.n; i++)
		v[i] = blob->xattrs.x[i].name;
	*names = v;
	*count = blob->xattrs.n;
	return 0;
}

/* ---- internal xattrs ------------------------------------------------------------------- */

int
blob_set_xattr_internal(struct blob *blob, const char *name, const void *value,
			uint16_t value_len)
{
	int rc = blob_xattrs_set(&blob->xattrs_internal, name, value, value_len);

	if (rc == 0) {
		blob->invalid_flags |= BSF_INVALID_INTERNAL_XATTR;
		blob_md_changed(blob);
	}
	return rc;
}

int
blob_remove_xattr_internal(struct blob *blob, const char *name)
{
	int rc = blob_xattrs_remove(&blob->xattrs_internal, name);

	if (rc == 0) {
		if (blob->xattrs_internal.n == 0)
			blob->invalid_flags &= ~BSF_INVALID_INTERNAL_XATTR;
		blob_md_changed(blob);
	}
	return rc;
}

int
blob_get_xattr_internal(struct blob *blob, const char *name, const void **value,
			size_t *value_len)
{
	return get_value(&blob->xattrs_internal, name, value, value_len);
}
