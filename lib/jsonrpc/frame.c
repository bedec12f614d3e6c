/*
 * lib/jsonrpc/frame.c: finding message boundaries in a byte stream and
 * parsing one message (spec/rpc.md §1.2).
 *
 * The wire has no delimiter: a request is one complete JSON value. Two
 * stages keep this linear and safe:
 *
 *  1. The scanner (jsonrpc_scan) looks at each received byte once. It knows
 *     only string/escape state and bracket depth, so it can tell when a
 *     top-level object or array might be complete, but not whether it is
 *     valid. Bytes that cannot start a JSON value fail at once, so a stream
 *     of garbage is rejected on its first byte rather than after 256 KiB.
 *  2. jansson then parses exactly the candidate span [start, end), once.
 *     A span the scanner accepted but jansson rejects is a parse error.
 *
 * Invariants: sc->start <= sc->pos; in JSONRPC_SCAN_IDLE no value is
 * partly scanned, so everything before sc->pos may be discarded; otherwise
 * everything before sc->start may. Depth never exceeds
 * JSONRPC_SCAN_MAX_DEPTH (deeper input is an error).
 *
 * Duplicate keys: jansson either rejects them (a parse error, which would
 * be the wrong answer: the spec makes them a parameter-decoding failure) or
 * silently keeps the last value. We parse with rejection first (the
 * common, duplicate-free case costs nothing more); only if that fails for a
 * duplicate key do we parse again leniently and walk the text alongside the
 * tree, marking each object that had a repeated key with a hidden member
 * (JSONRPC_DUP_KEY) whose name contains a NUL byte, something no client
 * can send. Decoders treat a marked object as invalid.
 */
#include <string.h>

#include "jsonrpc_internal.h"

void
jsonrpc_scanner_reset(struct jsonrpc_scanner *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->state = JSONRPC_SCAN_IDLE;
}

static inline bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Characters that end a bare number or literal. */
static inline bool
is_delim(unsigned char c)
{
	return is_ws(c) || c == '{' || c == '}' || c == '[' || c == ']' || c == ',' ||
	       c == ':' || c == '"';
}

static inline bool
can_start_scalar(unsigned char c)
{
	return c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n';
}

int
jsonrpc_scan(struct jsonrpc_scanner *sc, const char *buf, size_t len, size_t *start,
	     size_t *end)
{
	while (sc->pos < len) {
		unsigned char c = (unsigned char)buf[sc->pos];

		switch (sc->state) {
		case JSONRPC_SCAN_IDLE:
			if (is_ws(c)) {
				break;
			}
			sc->start = sc->pos;
			if (c == '{' || c == '[') {
				sc->depth = 1;
				sc->state = JSONRPC_SCAN_CONTAINER;
			} else if (c == '"') {
				sc->depth = 0;
				sc->state = JSONRPC_SCAN_STRING;
			} else if (can_start_scalar(c)) {
				sc->depth = 0;
				sc->state = JSONRPC_SCAN_SCALAR;
			} else {
				*start = sc->pos;
				*end = sc->pos + 1;
				return JSONRPC_SCAN_ERROR;
			}
			break;
		case JSONRPC_SCAN_CONTAINER:
			if (c == '"') {
				sc->state = JSONRPC_SCAN_STRING;
			} else if (c == '{' || c == '[') {
				if (++sc->depth > JSONRPC_SCAN_MAX_DEPTH) {
					*start = sc->start;
					*end = sc->pos + 1;
					return JSONRPC_SCAN_ERROR;
				}
			} else if (c == '}' || c == ']') {
				if (--sc->depth == 0) {
					goto value;
				}
			}
			break;
		case JSONRPC_SCAN_STRING:
			if (c == '\\') {
				sc->state = JSONRPC_SCAN_ESCAPE;
			} else if (c == '"') {
				if (sc->depth == 0) {
					goto value;
				}
				sc->state = JSONRPC_SCAN_CONTAINER;
			}
			break;
		case JSONRPC_SCAN_ESCAPE:
			sc->state = JSONRPC_SCAN_STRING;
			break;
		case JSONRPC_SCAN_SCALAR:
			if (is_delim(c)) {
				/* The delimiter belongs to whatever follows. */
				*start = sc->start;
				*end = sc->pos;
				sc->state = JSONRPC_SCAN_IDLE;
				sc->depth = 0;
				return JSONRPC_SCAN_VALUE;
			}
			break;
		default:
			*start = *end = sc->pos;
			return JSONRPC_SCAN_ERROR;
		}
		sc->pos++;
	}
	return JSONRPC_SCAN_MORE;

value:
	sc->pos++;
	*start = sc->start;
	*end = sc->pos;
	sc->state = JSONRPC_SCAN_IDLE;
	sc->depth = 0;
	return JSONRPC_SCAN_VALUE;
}

size_t
jsonrpc_scanner_consumed(const struct jsonrpc_scanner *sc)
{
	return sc->state == JSONRPC_SCAN_IDLE ? sc->pos : sc->start;
}

void
jsonrpc_scanner_shift(struct jsonrpc_scanner *sc, size_t n)
{
	sc->pos -= n;
	sc->start = sc->start >= n ? sc->start - n : 0;
}

/* ---- duplicate-key marking ---------------------------------------------- */

/*
 * The text here has just been parsed successfully by jansson, so it is
 * valid JSON; the walker still never reads past `end`. It pairs each text
 * value with the tree node jansson built for it. For a repeated key the
 * tree holds the last occurrence's value, so that occurrence pairs
 * correctly; earlier occurrences may pair with the wrong subtree and mark
 * it, which is harmless because its ancestor is marked too and decoding
 * that ancestor already fails. Recursion depth is bounded by jansson's own
 * depth limit (2048).
 */
static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws((unsigned char)*p)) {
		p++;
	}
	return p;
}

static const char *
skip_string(const char *p, const char *end)
{
	p++;
	while (p < end) {
		if (*p == '\\') {
			p += 2;
		} else if (*p == '"') {
			return p + 1;
		} else {
			p++;
		}
	}
	return end;
}

static const char *mark_value(const char *p, const char *end, json_t *node);

static const char *
mark_object(const char *p, const char *end, json_t *node)
{
	json_t *seen = json_object();
	bool dup = false;

	p++;
	while (p < end) {
		const char *key_start;
		json_t *key, *child = NULL;

		p = skip_ws(p, end);
		if (p >= end) {
			break;
		}
		if (*p == '}') {
			p++;
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		key_start = p;
		p = skip_string(p, end);
		key = json_loadb(key_start, (size_t)(p - key_start), JSON_DECODE_ANY, NULL);
		if (json_is_string(key)) {
			const char *k = json_string_value(key);
			size_t klen = json_string_length(key);

			if (json_object_getn(seen, k, klen) != NULL) {
				dup = true;
			} else {
				json_object_setn_new(seen, k, klen, json_null());
			}
			if (json_is_object(node)) {
				child = json_object_getn(node, k, klen);
			}
		}
		json_decref(key);
		p = skip_ws(p, end);
		if (p < end && *p == ':') {
			p++;
		}
		p = mark_value(p, end, child);
	}
	json_decref(seen);
	if (dup && json_is_object(node)) {
		json_object_setn_new_nocheck(node, JSONRPC_DUP_KEY, JSONRPC_DUP_KEY_LEN,
					     json_true());
	}
	return p;
}

static const char *
mark_array(const char *p, const char *end, json_t *node)
{
	size_t index = 0;

	p++;
	while (p < end) {
		p = skip_ws(p, end);
		if (p >= end) {
			break;
		}
		if (*p == ']') {
			p++;
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		p = mark_value(p, end, json_is_array(node) ? json_array_get(node, index) : NULL);
		index++;
	}
	return p;
}

static const char *
mark_value(const char *p, const char *end, json_t *node)
{
	p = skip_ws(p, end);
	if (p >= end) {
		return end;
	}
	switch (*p) {
	case '{':
		return mark_object(p, end, node);
	case '[':
		return mark_array(p, end, node);
	case '"':
		return skip_string(p, end);
	default:
		while (p < end && !is_delim((unsigned char)*p)) {
			p++;
		}
		return p;
	}
}

/*
 * Records the text of a real-number "id" of the request object at p (see
 * JSONRPC_RAW_ID_KEY). The text was just parsed by jansson, so it is
 * valid JSON; escaped spellings of the key are not recognised and simply
 * echo in jansson's form.
 */
static const char *
keep_raw_id(const char *p, const char *end, json_t *request)
{
	const char *raw = NULL, *raw_end = NULL;

	p = skip_ws(p, end);
	if (p >= end || *p != '{') {
		return mark_value(p, end, NULL);
	}
	p++;
	while (p < end) {
		const char *key_start, *v;
		bool is_id;

		p = skip_ws(p, end);
		if (p >= end) {
			break;
		}
		if (*p == '}') {
			p++;
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		key_start = p;
		p = skip_string(p, end);
		is_id = p - key_start == 4 && memcmp(key_start, "\"id\"", 4) == 0;
		p = skip_ws(p, end);
		if (p < end && *p == ':') {
			p++;
		}
		v = skip_ws(p, end);
		p = mark_value(v, end, NULL);
		if (is_id) {
			raw = v;
			raw_end = p;
		}
	}
	if (raw != NULL && json_is_real(json_object_get(request, "id"))) {
		json_object_setn_new_nocheck(request, JSONRPC_RAW_ID_KEY, JSONRPC_RAW_ID_KEY_LEN,
					     json_stringn(raw, (size_t)(raw_end - raw)));
	}
	return p;
}

/* keep_raw_id for a single request or for each object of a batch. */
static void
keep_raw_ids(const char *text, size_t len, json_t *value)
{
	const char *p = skip_ws(text, text + len), *end = text + len;
	size_t index = 0;

	if (json_is_object(value)) {
		keep_raw_id(p, end, value);
		return;
	}
	if (!json_is_array(value) || p >= end || *p != '[') {
		return;
	}
	p++;
	while (p < end) {
		p = skip_ws(p, end);
		if (p >= end || *p == ']') {
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		p = keep_raw_id(p, end, json_array_get(value, index++));
	}
}

json_t *
jsonrpc_parse_value(const char *text, size_t len)
{
	size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES;
	bool duplicates = false;
	json_error_t err;
	json_t *value = NULL;
	int attempt;

	/* At most one retry for each of the two relaxations. */
	for (attempt = 0; attempt < 3 && value == NULL; attempt++) {
		value = json_loadb(text, len, flags, &err);
		if (value != NULL) {
			break;
		}
		switch (json_error_code(&err)) {
		case json_error_duplicate_key:
			flags &= ~(size_t)JSON_REJECT_DUPLICATES;
			duplicates = true;
			break;
		case json_error_numeric_overflow:
			/*
			 * An integer beyond int64 (say 2^64) is valid JSON; as a real it
			 * reaches the decoders, which reject it as out of range, rather
			 * than failing the whole stream. Integers of that request then
			 * are reals; an id still echoes as its own text (keep_raw_id).
			 */
			if (flags & JSON_DECODE_INT_AS_REAL) {
				return NULL;
			}
			flags |= JSON_DECODE_INT_AS_REAL;
			break;
		default:
			return NULL;
		}
	}
	if (value != NULL && duplicates) {
		mark_value(text, text + len, value);
	}
	if (value != NULL) {
		keep_raw_ids(text, len, value);
	}
	return value;
}

bool
jsonrpc_object_has_duplicate_keys(const json_t *object)
{
	return json_is_object(object) &&
	       json_object_getn(object, JSONRPC_DUP_KEY, JSONRPC_DUP_KEY_LEN) != NULL;
}

size_t
jsonrpc_count_tokens(const json_t *value, size_t limit)
{
	const char *key;
	size_t i, n;
	json_t *child;

	if (json_is_object(value)) {
		n = 2;
		json_object_foreach((json_t *)value, key, child) {
			n += 1 + jsonrpc_count_tokens(child, limit);
			if (n > limit) {
				return n;
			}
		}
		return n;
	}
	if (json_is_array(value)) {
		n = 2;
		json_array_foreach(value, i, child) {
			n += jsonrpc_count_tokens(child, limit);
			if (n > limit) {
				return n;
			}
		}
		return n;
	}
	return 1;
}
