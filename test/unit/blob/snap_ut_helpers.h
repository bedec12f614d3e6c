/*
 * Helpers shared by the snapshot unit tests (snapshot_ut.c,
 * snapshot_crash_ut.c), on top of ut_bs.h: synchronous wrappers of the
 * snapshot calls and of blob I/O, a data-pattern model (each blob's
 * expected bytes), and a small SHA-256 for checking whole volumes of the
 * SPDK fixture against its README.
 *
 * Every wrapper checks, as ut_bs.h's do, that the callback did not run
 * inside the call (DESIGN.md) and ran exactly once.
 */
#ifndef SNAP_UT_HELPERS_H
#define SNAP_UT_HELPERS_H

#include "ut_bs.h"

static inline int
ut_snapshot(struct blob_store *bs, blob_id id, const struct blob_xattr_opts *xo, blob_id *sid)
{
	struct ut_res r = { 0 };

	bs_create_snapshot(bs, id, xo, ut_id_cb, &r);
	ut_wait(&r);
	if (sid != NULL)
		*sid = r.id;
	return r.rc;
}

static inline int
ut_clone(struct blob_store *bs, blob_id sid, const struct blob_xattr_opts *xo, blob_id *cid)
{
	struct ut_res r = { 0 };

	bs_create_clone(bs, sid, xo, ut_id_cb, &r);
	ut_wait(&r);
	if (cid != NULL)
		*cid = r.id;
	return r.rc;
}

static inline int
ut_inflate(struct blob_store *bs, struct io_channel *ch, blob_id id)
{
	struct ut_res r = { 0 };

	bs_inflate_blob(bs, ch, id, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_decouple(struct blob_store *bs, struct io_channel *ch, blob_id id)
{
	struct ut_res r = { 0 };

	bs_blob_decouple_parent(bs, ch, id, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_set_parent(struct blob_store *bs, blob_id id, blob_id sid)
{
	struct ut_res r = { 0 };

	bs_blob_set_parent(bs, id, sid, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_set_ext_parent(struct blob_store *bs, blob_id id, struct bs_dev *dev, const void *eid,
		  uint32_t len)
{
	struct ut_res r = { 0 };

	bs_blob_set_external_parent(bs, id, dev, eid, len, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_bread(struct blob *blob, struct io_channel *ch, void *buf, uint64_t off, uint64_t len)
{
	struct ut_res r = { 0 };

	blob_io_read(blob, ch, buf, off, len, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

static inline int
ut_bwrite(struct blob *blob, struct io_channel *ch, void *buf, uint64_t off, uint64_t len)
{
	struct ut_res r = { 0 };

	blob_io_write(blob, ch, buf, off, len, ut_op_cb, &r);
	ut_wait(&r);
	return r.rc;
}

/* A byte pattern that differs per (seed, position); never zero. */
static inline void
ut_pattern(void *p, size_t len, uint32_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 131u) ^ (seed * 2654435761u) ^ (i >> 9) ^ (seed >> 3)) | 1u;
}

/* ---- SHA-256 (FIPS 180-4), for the fixture's volume digests ---------------------------- */

struct ut_sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len;
	uint32_t fill;
};

static inline uint32_t
ut_ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline void
ut_sha256_block(struct ut_sha256 *s, const uint8_t *p)
{
	static const uint32_t k[64] = {
		0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
		0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
		0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
		0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
		0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
		0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
		0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
		0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
		0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
		0xc67178f2,
	};
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ut_ror(w[i - 15], 7) ^ ut_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ut_ror(w[i - 2], 17) ^ ut_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ut_ror(e, 6) ^ ut_ror(e, 11) ^ ut_ror(e, 25)) +
			      ((e & f) ^ (~e & g)) + k[i] + w[i];
		uint32_t t2 = (ut_ror(a, 2) ^ ut_ror(a, 13) ^ ut_ror(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));

		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static inline void
ut_sha256_init(struct ut_sha256 *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
	s->fill = 0;
}

static inline void
ut_sha256_update(struct ut_sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	while (len > 0) {
		size_t n = 64 - s->fill < len ? 64 - s->fill : len;

		memcpy(s->buf + s->fill, p, n);
		s->fill += (uint32_t)n;
		p += n;
		len -= n;
		if (s->fill == 64) {
			ut_sha256_block(s, s->buf);
			s->fill = 0;
		}
	}
}

/* Finishes into a 65-byte lowercase hex string. */
static inline void
ut_sha256_hex(struct ut_sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, lenb[8];

	ut_sha256_update(s, &pad, 1);
	while (s->fill != 56)
		ut_sha256_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	ut_sha256_update(s, lenb, 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

#endif
