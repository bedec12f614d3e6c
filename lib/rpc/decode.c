/*
 * lib/rpc/decode.c: strict parameter decoding (spec/rpc.md §1.9).
 *
 * Rules every decoder keeps:
 *  - a value is taken only from its own JSON type: no "4" for 4, no 1 for
 *    true;
 *  - an integer must be integral and in the target's range; a real that is
 *    exactly integral (4.0, 4e0) counts as that integer, 4.5 does not, and
 *    a negative number never fits an unsigned type;
 *  - an object's members are matched by exact name; an unknown member, a
 *    repeated member (marked by lib/jsonrpc, see
 *    jsonrpc_object_has_duplicate_keys) or a missing required member fails
 *    the whole decode; JSON null counts as absent.
 *
 * Ownership: string decoders free what the field held before and store a
 * fresh copy, so fields must start out NULL (or hold a heap default). On
 * failure, fields already decoded keep their new values; the caller frees
 * its struct the same way on both paths.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/rpc.h"
#include "lvstor/util.h"

/* 2^63 and 2^64 exactly, as doubles. */
#define TWO_POW_63 9223372036854775808.0
#define TWO_POW_64 18446744073709551616.0

static int
decode_unsigned(const json_t *val, uint64_t max, uint64_t *out)
{
	if (json_is_integer(val)) {
		json_int_t v = json_integer_value(val);

		if (v < 0 || (uint64_t)v > max) {
			return -EINVAL;
		}
		*out = (uint64_t)v;
		return 0;
	}
	if (json_is_real(val)) {
		double d = json_real_value(val);
		uint64_t v;

		if (!isfinite(d) || d != floor(d) || d < 0 || d >= TWO_POW_64) {
			return -EINVAL;
		}
		v = (uint64_t)d;
		if (v > max) {
			return -EINVAL;
		}
		*out = v;
		return 0;
	}
	return -EINVAL;
}

static int
decode_signed(const json_t *val, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (json_is_integer(val)) {
		v = json_integer_value(val);
	} else if (json_is_real(val)) {
		double d = json_real_value(val);

		if (!isfinite(d) || d != floor(d) || d < -TWO_POW_63 || d >= TWO_POW_63) {
			return -EINVAL;
		}
		v = (int64_t)d;
	} else {
		return -EINVAL;
	}
	if (v < min || v > max) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int
rpc_decode_uint8(const json_t *val, void *out)
{
	uint64_t v;
	int rc = decode_unsigned(val, UINT8_MAX, &v);

	if (rc == 0) {
		*(uint8_t *)out = (uint8_t)v;
	}
	return rc;
}

int
rpc_decode_uint16(const json_t *val, void *out)
{
	uint64_t v;
	int rc = decode_unsigned(val, UINT16_MAX, &v);

	if (rc == 0) {
		*(uint16_t *)out = (uint16_t)v;
	}
	return rc;
}

int
rpc_decode_uint32(const json_t *val, void *out)
{
	uint64_t v;
	int rc = decode_unsigned(val, UINT32_MAX, &v);

	if (rc == 0) {
		*(uint32_t *)out = (uint32_t)v;
	}
	return rc;
}

int
rpc_decode_uint64(const json_t *val, void *out)
{
	uint64_t v;
	int rc = decode_unsigned(val, UINT64_MAX, &v);

	if (rc == 0) {
		*(uint64_t *)out = v;
	}
	return rc;
}

int
rpc_decode_int32(const json_t *val, void *out)
{
	int64_t v;
	int rc = decode_signed(val, INT32_MIN, INT32_MAX, &v);

	if (rc == 0) {
		*(int32_t *)out = (int32_t)v;
	}
	return rc;
}

int
rpc_decode_int64(const json_t *val, void *out)
{
	int64_t v;
	int rc = decode_signed(val, INT64_MIN, INT64_MAX, &v);

	if (rc == 0) {
		*(int64_t *)out = v;
	}
	return rc;
}

int
rpc_decode_bool(const json_t *val, void *out)
{
	if (!json_is_boolean(val)) {
		return -EINVAL;
	}
	*(bool *)out = json_is_true(val);
	return 0;
}

/* A JSON string as a C string: no NUL inside (only internal callers can
 * build one; the wire parser refuses \u0000). */
static const char *
c_string(const json_t *val)
{
	const char *s;

	if (!json_is_string(val)) {
		return NULL;
	}
	s = json_string_value(val);
	return strlen(s) == json_string_length(val) ? s : NULL;
}

int
rpc_decode_string(const json_t *val, void *out)
{
	const char *s = c_string(val);
	char **field = out;
	char *copy;

	if (s == NULL) {
		return -EINVAL;
	}
	copy = strdup(s);
	if (copy == NULL) {
		return -ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

int
rpc_decode_uuid(const json_t *val, void *out)
{
	const char *s = c_string(val);

	if (s == NULL) {
		return -EINVAL;
	}
	return uuid_parse_str(out, s) == 0 ? 0 : -EINVAL;
}

void
rpc_string_array_free(struct rpc_string_array *arr)
{
	size_t i;

	for (i = 0; i < arr->count; i++) {
		free(arr->strings[i]);
	}
	free(arr->strings);
	arr->strings = NULL;
	arr->count = 0;
}

int
rpc_decode_string_array(const json_t *val, void *out)
{
	struct rpc_string_array *arr = out, tmp = { 0 };
	size_t i, n;

	if (!json_is_array(val)) {
		return -EINVAL;
	}
	n = json_array_size(val);
	if (n > 0) {
		tmp.strings = calloc(n, sizeof(*tmp.strings));
		if (tmp.strings == NULL) {
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		const char *s = c_string(json_array_get(val, i));

		if (s == NULL || (tmp.strings[i] = strdup(s)) == NULL) {
			tmp.count = i;
			rpc_string_array_free(&tmp);
			return s == NULL ? -EINVAL : -ENOMEM;
		}
	}
	tmp.count = n;
	rpc_string_array_free(arr);
	*arr = tmp;
	return 0;
}

static const struct rpc_object_decoder *
find_decoder(const struct rpc_object_decoder *decoders, size_t count, const char *key,
	     size_t key_len)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strlen(decoders[i].name) == key_len &&
		    memcmp(decoders[i].name, key, key_len) == 0) {
			return &decoders[i];
		}
	}
	return NULL;
}

static int
decode_object(const json_t *params, const struct rpc_object_decoder *decoders, size_t count,
	      void *out, bool relaxed)
{
	const struct rpc_object_decoder *d;
	const char *key;
	size_t key_len, i;
	json_t *val;

	if (params != NULL && !json_is_null(params)) {
		if (!json_is_object(params) || jsonrpc_object_has_duplicate_keys(params)) {
			return -EINVAL;
		}
		json_object_keylen_foreach((json_t *)params, key, key_len, val) {
			d = find_decoder(decoders, count, key, key_len);
			if (d == NULL) {
				if (relaxed) {
					continue;
				}
				return -EINVAL;
			}
			if (json_is_null(val) || d->decode == NULL) {
				continue;
			}
			if (d->decode(val, (char *)out + d->offset) != 0) {
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < count; i++) {
		if (decoders[i].optional) {
			continue;
		}
		val = params != NULL && json_is_object(params) ?
		      json_object_get(params, decoders[i].name) : NULL;
		if (val == NULL || json_is_null(val)) {
			return -EINVAL;
		}
	}
	return 0;
}

int
rpc_decode_object(const json_t *params, const struct rpc_object_decoder *decoders, size_t count,
		  void *out)
{
	return decode_object(params, decoders, count, out, false);
}

int
rpc_decode_object_relaxed(const json_t *params, const struct rpc_object_decoder *decoders,
			  size_t count, void *out)
{
	return decode_object(params, decoders, count, out, true);
}
