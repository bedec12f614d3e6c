/*
 * lib/blob/format.h: the blobstore's on-disk format, as pure functions.
 *
 * Everything here turns bytes into host structures and back, following
 * ../shared/spec/blobstore-format.md ("the spec", section numbers §n).
 * Nothing here does I/O, touches a thread or keeps global state, so every
 * function can be called from any thread, from the offline checker
 * (app/lvstor-check) and from a fuzzer.
 *
 * Byte order. Every on-disk integer is little-endian and every structure
 * is byte-packed (spec conventions). We never overlay a C struct on a
 * buffer: fields are read and written with the bsf_load_le* / bsf_store_le*
 * helpers at the offsets the spec gives (the BSF_SB_OFF_* / BSF_PAGE_OFF_*
 * constants below). That keeps the code independent of host endianness,
 * alignment and compiler packing, and makes every access an explicit,
 * bounds-checkable offset.
 *
 * Errors. Functions return 0 or a negative errno:
 *   -EILSEQ  the bytes are corrupt or break a rule of the spec;
 *   -ENOTSUP the blob uses a feature this version does not know
 *            (an unknown bit in invalid_flags, spec §4.6);
 *   -ENXIO   superblock bstype mismatch (spec §2.3 step 4);
 *   -EINVAL  a bad argument, or a superblock geometry that cannot be
 *            right (size larger than the device, overlapping areas, ...);
 *   -ENOSPC  the result does not fit (layout larger than the device, mask
 *            larger than its area);
 *   -ENOMEM  allocation failed (only the metadata-chain parser and
 *            serializer allocate).
 * Most decoders take an optional `struct bsf_diag *` (may be NULL) that
 * receives a one-line human-readable reason, e.g. "page 12: descriptor at
 * offset 40 (XATTR): length 30 != 4 + 5 + 22". Callers prefix it with the
 * page or blob they were reading; it is meant for logs and the checker.
 *
 * Robustness contract (spec "Bad input"): every decoder bounds-checks each
 * length before it dereferences the bytes it covers. A hostile page can
 * make a decoder fail, never read outside the 4096 bytes it was given,
 * never loop forever and never allocate more than the limits documented
 * at each function.
 *
 * Naming: bsf_ = "blobstore format". Page indices called `idx` or
 * `page_idx` are metadata-region indices (spec §1.3) unless named `abs_`.
 */
#ifndef LVSTOR_BLOB_FORMAT_H
#define LVSTOR_BLOB_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvstor/blob.h"
#include "lvstor/util.h"

/* ---- constants (spec §8) ------------------------------------------------- */

/* Superblock, metadata pages and extent pages are 4096-byte structures. */
#define BSF_PAGE_SIZE 4096u
/* Default metadata page size; larger when the device's physical block is. */
#define BSF_DEFAULT_MD_PAGE_SIZE 4096u
/* Bytes covered by the CRC of every checksummed structure: all but the CRC. */
#define BSF_CRC_LEN 4092u

/* Superblock (spec §2): field offsets. */
#define BSF_SB_SIGNATURE "SPDKBLOB"
#define BSF_SB_SIGNATURE_LEN 8
#define BSF_SB_VERSION 3u          /* written by new stores */
#define BSF_SB_VERSION_MIN 1u      /* oldest version a loader accepts */
#define BSF_SB_OFF_VERSION 8
#define BSF_SB_OFF_LENGTH 12
#define BSF_SB_OFF_CLEAN 16
#define BSF_SB_OFF_SUPER_BLOB 20
#define BSF_SB_OFF_CLUSTER_SIZE 28
#define BSF_SB_OFF_PAGE_MASK_START 32
#define BSF_SB_OFF_PAGE_MASK_LEN 36
#define BSF_SB_OFF_CLUSTER_MASK_START 40
#define BSF_SB_OFF_CLUSTER_MASK_LEN 44
#define BSF_SB_OFF_MD_START 48
#define BSF_SB_OFF_MD_LEN 52
#define BSF_SB_OFF_BSTYPE 56
#define BSF_SB_OFF_BLOBID_MASK_START 72
#define BSF_SB_OFF_BLOBID_MASK_LEN 76
#define BSF_SB_OFF_SIZE 80
#define BSF_SB_OFF_IO_UNIT_SIZE 88
#define BSF_SB_OFF_MD_PAGE_SIZE 92
#define BSF_SB_OFF_RESERVED 96
#define BSF_OFF_CRC 4092           /* superblock, metadata and extent pages */

/* Metadata / extent page (spec §4.2). */
#define BSF_PAGE_OFF_ID 0
#define BSF_PAGE_OFF_SEQ 8
#define BSF_PAGE_OFF_RESERVED0 12
#define BSF_PAGE_OFF_DESC 16
#define BSF_DESC_AREA_SIZE 4072u   /* page offsets 16 ... 4087 */
#define BSF_PAGE_OFF_NEXT 4088
#define BSF_PAGE_NEXT_NONE 0xFFFFFFFFu /* end of chain */

/* Descriptors (spec §4.4, §4.5). */
#define BSF_DESC_HDR_SIZE 5u       /* u8 type, u32 length */
enum bsf_desc_type {
	BSF_DESC_PADDING = 0,
	BSF_DESC_EXTENT_RLE = 1,
	BSF_DESC_XATTR = 2,
	BSF_DESC_FLAGS = 3,
	BSF_DESC_XATTR_INTERNAL = 4,
	BSF_DESC_EXTENT_TABLE = 5,
	BSF_DESC_EXTENT_PAGE = 6,
};
#define BSF_FLAGS_BODY_LEN 24u
#define BSF_FLAGS_DESC_SIZE (BSF_DESC_HDR_SIZE + BSF_FLAGS_BODY_LEN) /* 29 */
#define BSF_RLE_REC_SIZE 8u        /* {u32 cluster_idx; u32 length} */
#define BSF_ET_REC_SIZE 8u         /* {u32 page_idx; u32 num_pages} */
#define BSF_ET_HDR_BODY 8u         /* u64 num_clusters */
#define BSF_XATTR_HDR_BODY 4u      /* u16 name_length, u16 value_length */
/* name_length + value_length, so a whole XATTR fits in one page (§4.8). */
#define BSF_XATTR_MAX_NAME_VALUE (BSF_DESC_AREA_SIZE - BSF_DESC_HDR_SIZE - BSF_XATTR_HDR_BODY)
/* Cluster slots per extent page (EXTENTS_PER_EP, §4.9). */
#define BSF_EXTENTS_PER_EP 512u

/* FLAGS bits (spec §4.6). */
#define BSF_INVALID_THIN_PROV 0x1ull
#define BSF_INVALID_INTERNAL_XATTR 0x2ull
#define BSF_INVALID_EXTENT_TABLE 0x4ull
#define BSF_INVALID_EXTERNAL_SNAPSHOT 0x8ull
#define BSF_INVALID_FLAGS_MASK 0xFull
#define BSF_DATA_RO_READ_ONLY 0x1ull
#define BSF_DATA_RO_FLAGS_MASK 0x1ull
#define BSF_MD_RO_CLEAR_METHOD_MASK 0x3ull
#define BSF_MD_RO_FLAGS_MASK 0x3ull

/* Mask pages (spec §3). */
#define BSF_MASK_HDR_SIZE 5u       /* u8 type, u32 length (bits) */
enum bsf_mask_type {
	BSF_MASK_USED_PAGES = 0,
	BSF_MASK_USED_CLUSTERS = 1,
	BSF_MASK_USED_BLOBIDS = 2,
};

/* Blob IDs (spec §4.1): 0x100000000 | root page index; all ones = none. */
#define BSF_BLOBID_BASE 0x100000000ull
#define BSF_BLOBID_NONE BLOB_ID_INVALID

/* Internal xattrs defined by the blobstore (spec §5.2), matched as bytes. */
#define BSF_XATTR_SNAP "SNAP"         /* u64 parent snapshot id, 8 bytes */
#define BSF_XATTR_EXTSNAP "EXTSNAP"   /* external snapshot id bytes */
#define BSF_XATTR_SNAPTMP "SNAPTMP"   /* u64: snapshot creation in progress */
#define BSF_XATTR_SNAPRM "SNAPRM"     /* u64: snapshot deletion in progress */

/* lvol layer conventions (spec §7): application xattrs, bstype. */
#define BSF_BSTYPE_LVOLSTORE "LVOLSTORE" /* padded with NULs to 16 bytes */
#define BSF_LVOL_XATTR_NAME "name"
#define BSF_LVOL_XATTR_UUID "uuid"
#define BSF_LVOL_NAME_MAX 64u         /* value bytes, NUL included */
#define BSF_LVOL_UUID_LEN 37u         /* 36 lowercase characters + NUL */

static inline blob_id
bsf_page_to_blobid(uint32_t page_idx)
{
	return BSF_BLOBID_BASE | page_idx;
}

static inline uint32_t
bsf_blobid_to_page(blob_id id)
{
	return (uint32_t)id;
}

/* True for the 0x1_xxxxxxxx form (bit 32 set, bits 33-63 clear). */
static inline bool
bsf_blobid_is_valid(blob_id id)
{
	return (id >> 32) == 1;
}

/* ---- little-endian access --------------------------------------------------- */

static inline uint16_t
bsf_load_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t
bsf_load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t
bsf_load_le64(const uint8_t *p)
{
	return (uint64_t)bsf_load_le32(p) | ((uint64_t)bsf_load_le32(p + 4) << 32);
}

static inline void
bsf_store_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
bsf_store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
bsf_store_le64(uint8_t *p, uint64_t v)
{
	bsf_store_le32(p, (uint32_t)v);
	bsf_store_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- diagnostics ---------------------------------------------------------------- */

struct bsf_diag {
	char msg[192];
};

/* ---- checksum (spec §2.2) ------------------------------------------------------ */

/* CRC-32C of bytes 0..4091 of a 4096-byte structure. */
uint32_t bsf_crc(const uint8_t page[BSF_PAGE_SIZE]);
/* Stores bsf_crc(page) at offset 4092. */
void bsf_set_crc(uint8_t page[BSF_PAGE_SIZE]);
/* The CRC stored at 4092 matches the content. An all-zero page never does. */
bool bsf_crc_ok(const uint8_t page[BSF_PAGE_SIZE]);
/* All `len` bytes are zero (an erased / free page). */
bool bsf_is_zero(const void *buf, size_t len);

/* ---- superblock (spec §2) ------------------------------------------------------- */

/*
 * Host form of the superblock: the raw recorded values. Legacy zeros in
 * size / io_unit_size / md_page_size are kept as zero here; use
 * bsf_layout_from_super() for the effective values.
 */
struct bsf_super {
	uint32_t version;
	uint32_t length;
	uint32_t clean;                 /* any non-zero value counts as clean */
	blob_id super_blob;             /* BSF_BLOBID_NONE if none */
	uint32_t cluster_size;
	uint32_t used_page_mask_start;
	uint32_t used_page_mask_len;
	uint32_t used_cluster_mask_start;
	uint32_t used_cluster_mask_len;
	uint32_t md_start;
	uint32_t md_len;
	uint8_t bstype[BS_BSTYPE_LEN];
	uint32_t used_blobid_mask_start;
	uint32_t used_blobid_mask_len;  /* 0: no blob-ID mask, always recover */
	uint64_t size;                  /* bytes; 0 = the device size */
	uint32_t io_unit_size;          /* 0 = 4096 */
	uint32_t md_page_size;          /* 0 = 4096 */
};

/* version 3, length 4096, clean 0, super_blob none, everything else 0. */
void bsf_super_init(struct bsf_super *sb);

/*
 * Writes the whole 4096-byte superblock: signature, every field, a zeroed
 * reserved area and the CRC. This is what a new store writes.
 */
void bsf_super_encode(const struct bsf_super *sb, uint8_t buf[BSF_PAGE_SIZE]);

/*
 * Rewrites the fields of a superblock previously read into buf, keeping
 * its reserved bytes 96..4091 as they are, and recomputes the CRC. This is
 * what SPDK does when it rewrites the superblock (dirty marking, set super
 * blob, clean unload): it writes back the structure it read, so reserved
 * bytes written by another implementation survive.
 */
void bsf_super_update(const struct bsf_super *sb, uint8_t buf[BSF_PAGE_SIZE]);

/*
 * Decodes and validates a superblock in SPDK's order (spec §2.3):
 *   1. 1 <= version <= 3                      else -EILSEQ
 *   2. signature "SPDKBLOB"                   else -EILSEQ
 *   3. CRC                                    else -EILSEQ
 *   4. bstype: if want_bstype is non-NULL and not all zero, all 16 bytes
 *      must equal the recorded bstype         else -ENXIO
 *   5. size <= dev_size (when size and dev_size are non-zero) else -EINVAL
 * and then, because a hostile superblock must not crash the loader, the
 * geometry checks of bsf_layout_from_super() (-EINVAL). dev_size is the
 * device size in bytes; 0 means unknown (skips step 5, and the geometry
 * checks then use `size`). *sb is filled on success and, as far as
 * decoded, on failure (for diagnostics).
 */
int bsf_super_decode(const uint8_t buf[BSF_PAGE_SIZE], const uint8_t *want_bstype,
		     uint64_t dev_size, struct bsf_super *sb, struct bsf_diag *diag);

/* Copies a C string into a NUL-padded 16-byte bstype (truncating). */
void bsf_bstype_set(uint8_t bstype[BS_BSTYPE_LEN], const char *name);

/* ---- layout (spec §1.2, §3, §9.1) --------------------------------------------------- */

/* Inputs of store creation. */
struct bsf_layout_params {
	size_t opts_size;               /* sizeof(struct bsf_layout_params) */
	uint64_t dev_size;              /* bytes: blockcnt * blocklen */
	uint32_t blocklen;              /* logical block size; becomes io_unit_size */
	uint32_t phys_blocklen;         /* 0 = blocklen */
	uint32_t cluster_size;          /* bytes; multiple of 4096, >= md_page_size */
	uint32_t md_page_size;          /* requested; 0 = default */
	uint32_t num_md_pages;          /* md_len; 0 = one per cluster */
};
void bsf_layout_params_init(struct bsf_layout_params *p, size_t opts_size);

/*
 * The store's geometry, computed at creation or derived from a superblock.
 * All page numbers are absolute page indices in md_page_size units.
 */
struct bsf_layout {
	uint32_t md_page_size;
	uint32_t io_unit_size;
	uint32_t cluster_size;
	uint64_t size;                  /* bytes */
	uint32_t total_clusters;        /* floor(size / cluster_size) */
	uint32_t pages_per_cluster;     /* cluster_size / md_page_size */
	uint32_t used_page_mask_start, used_page_mask_len;
	uint32_t used_cluster_mask_start, used_cluster_mask_len;
	uint32_t cluster_mask_reserved; /* R: pages reserved for the cluster mask */
	uint32_t used_blobid_mask_start, used_blobid_mask_len;
	uint32_t md_start, md_len;
	uint32_t num_md_clusters;       /* ceil((md_start + md_len) / pages_per_cluster) */
};

/*
 * Computes the layout SPDK would choose (spec §9.1): md_page_size =
 * max(phys_blocklen, 4096, requested); masks at pages 1, 2, ... with the
 * §3 lengths; R = max(pages for md_len bits, cluster mask pages);
 * md_start after the blob-ID mask. Returns -EINVAL when the §1.1
 * constraints fail (cluster size 0 / not a multiple of 4096 / smaller than
 * the page size, device smaller than a cluster, blocklen 0, page size not
 * a multiple of 4096, more than 2^32-1 clusters), -ENOSPC when the
 * metadata area would not leave the store a cluster of its own
 * (num_md_clusters > total_clusters).
 */
int bsf_layout_compute(const struct bsf_layout_params *p, struct bsf_layout *l);

/* Pages a mask of `bits` bits needs: ceil((5 + ceil(bits/8)) / page_size). */
uint32_t bsf_mask_pages(uint64_t bits, uint32_t page_size);
/* md_len for an lvolstore ratio (spec §7.5): floor(ratio * total / 100). */
uint32_t bsf_md_pages_for_ratio(uint32_t total_clusters, uint32_t ratio_percent);
/*
 * The largest total_clusters a store can grow to: what fits in the R
 * pages reserved for the cluster mask, ((R * page) - 5) * 8, capped at
 * UINT32_MAX.
 */
uint64_t bsf_layout_max_clusters(const struct bsf_layout *l);

/*
 * Fills every geometry field of *sb from the layout (positions, lengths,
 * cluster size, size, io_unit_size, md_page_size). Leaves version, clean,
 * super_blob and bstype alone.
 */
void bsf_layout_to_super(const struct bsf_layout *l, struct bsf_super *sb);

/*
 * Derives the effective geometry from a recorded superblock: legacy zeros
 * become their defaults (size from dev_size), total_clusters from size,
 * R = used_blobid_mask_start - used_cluster_mask_start (or the cluster
 * mask length when the store has no blob-ID mask). Checks what must hold
 * for any reader to work without overflow, and returns -EINVAL otherwise:
 * cluster_size a non-zero multiple of 4096 and >= md_page_size, the page
 * size a multiple of 4096, io_unit_size a power of two dividing the
 * cluster size, size known (non-zero or a dev_size given), at least one
 * cluster, each mask area large enough for its bits, the masks and the
 * metadata region inside the first clusters of the store, in order after
 * the superblock and not overlapping, md_len >= 1. It does NOT require
 * the §9.1 formulas: a store laid out differently still loads in SPDK.
 * Use bsf_layout_compute() to compare (the checker does).
 */
int bsf_layout_from_super(const struct bsf_super *sb, uint64_t dev_size, struct bsf_layout *l,
			  struct bsf_diag *diag);

/* Byte offsets. */
static inline uint64_t
bsf_abs_page_offset(const struct bsf_layout *l, uint64_t abs_page)
{
	return abs_page * l->md_page_size;
}

static inline uint64_t
bsf_md_page_offset(const struct bsf_layout *l, uint32_t page_idx)
{
	return ((uint64_t)l->md_start + page_idx) * l->md_page_size;
}

static inline uint64_t
bsf_cluster_offset(const struct bsf_layout *l, uint32_t cluster)
{
	return (uint64_t)cluster * l->cluster_size;
}

/* ---- mask pages (spec §3) -------------------------------------------------------- */

/*
 * Encodes a mask area: buf (buf_len bytes, normally mask_len *
 * md_page_size) becomes header {type, length} followed by the bits of ba,
 * least significant bit first, and zeros to the end of buf. Bit n is
 * written set iff n < bit_array_capacity(ba) and it is set in ba; bits of
 * ba at or past `length` are not written. Returns 0, or -ENOSPC if
 * 5 + ceil(length/8) > buf_len.
 */
int bsf_mask_encode(enum bsf_mask_type type, const struct bit_array *ba, uint32_t length,
		    uint8_t *buf, size_t buf_len);

/*
 * Decodes a mask area on the clean load path (spec §6.9). Checks the type
 * byte, and the length rule: USED_PAGES and USED_BLOBIDS must record
 * exactly expect_len bits; USED_CLUSTERS at least expect_len (a longer
 * mask, left by an interrupted grow, is truncated). -EILSEQ when a rule
 * fails or the recorded bits would run past buf_len. On success ba (whose
 * capacity must be >= expect_len, else -EINVAL) holds exactly the first
 * expect_len bits and nothing else; *length (optional) receives the
 * recorded length.
 */
int bsf_mask_decode(const uint8_t *buf, size_t buf_len, enum bsf_mask_type type,
		    uint32_t expect_len, struct bit_array *ba, uint32_t *length,
		    struct bsf_diag *diag);

/*
 * True if every bit after the first `length` bits, and every byte after
 * them, is zero, as writers must leave it (spec §3). Loaders do not check
 * this; the checker warns.
 */
bool bsf_mask_tail_is_zero(const uint8_t *buf, size_t buf_len, uint32_t length);

/* ---- metadata pages and descriptors (spec §4.2-§4.4) --------------------------------- */

struct bsf_page_hdr {
	blob_id id;
	uint32_t sequence_num;
	uint32_t reserved0;
	uint32_t next;                  /* region index or BSF_PAGE_NEXT_NONE */
	uint32_t crc;                   /* as stored */
};

/* Reads the header fields; no checks (check bsf_crc_ok() first). */
void bsf_page_hdr_decode(const uint8_t page[BSF_PAGE_SIZE], struct bsf_page_hdr *hdr);

/*
 * Zeroes the page and writes id, sequence_num, reserved0 = 0 and next.
 * Descriptors go into page + BSF_PAGE_OFF_DESC; call bsf_set_crc() last.
 */
void bsf_page_init(uint8_t page[BSF_PAGE_SIZE], blob_id id, uint32_t sequence_num,
		   uint32_t next);

/*
 * Recovery's root test (spec §6.9): a valid CRC, sequence_num 0 and
 * id == 0x100000000 + page_idx.
 */
bool bsf_page_is_root(const uint8_t page[BSF_PAGE_SIZE], uint32_t page_idx);

/* One descriptor, as handed out by the iterator. */
struct bsf_desc {
	uint8_t type;                   /* enum bsf_desc_type, or unknown */
	uint32_t length;                /* body bytes */
	const uint8_t *body;            /* `length` bytes, all inside the area */
	uint32_t offset;                /* offset of the header in the area */
};

struct bsf_desc_iter {
	const uint8_t *area;            /* the page's 4072-byte descriptor area */
	uint32_t off;
	bool done;
};

/* Starts iterating the descriptor area of a 4096-byte page. */
void bsf_desc_iter_init(struct bsf_desc_iter *it, const uint8_t page[BSF_PAGE_SIZE]);

/*
 * Next descriptor, following spec §4.4 exactly: stops at a zero header
 * (type 0, length 0) and when fewer than 5 bytes remain after a
 * descriptor; skips padding (type 0, non-zero length), and a padding body
 * that runs past the area simply ends the page. Returns 1 with *d filled,
 * 0 at the end of the page, or -EILSEQ when a non-padding descriptor's
 * body would run past the 4072-byte area (the iterator is then done).
 * Unknown types are returned as they are: a normal open skips them,
 * recovery rejects them (spec §4.4).
 */
int bsf_desc_iter_next(struct bsf_desc_iter *it, struct bsf_desc *d, struct bsf_diag *diag);

/* Human-readable descriptor type name ("FLAGS", ..., "unknown"). */
const char *bsf_desc_type_name(uint8_t type);

/* ---- blob metadata: host form ------------------------------------------------------ */

/*
 * One xattr. For serialization the caller points name/value at its own
 * bytes. Parsed xattrs own one malloc'd block each: name (NUL-terminated
 * for convenience; name_len excludes the NUL) followed by the value;
 * freeing `name` frees both.
 */
struct bsf_xattr {
	char *name;
	uint8_t *value;
	uint16_t name_len;
	uint16_t value_len;
};

enum bsf_extent_format {
	BSF_EXTENT_RLE = 0,             /* EXTENT_RLE descriptors (§4.7) */
	BSF_EXTENT_TABLE = 1,           /* EXTENT_TABLE + extent pages (§4.9) */
};

/*
 * A blob's metadata in host form: what the chain and its extent pages
 * say. Also the input of the serializer.
 */
struct bsf_blob_md {
	blob_id id;
	uint64_t invalid_flags;
	uint64_t data_ro_flags;
	uint64_t md_ro_flags;

	/* Application (type 2) and internal (type 4) xattrs, in disk order. */
	struct bsf_xattr *xattrs;
	uint32_t num_xattrs;
	struct bsf_xattr *xattrs_internal;
	uint32_t num_xattrs_internal;

	enum bsf_extent_format format;
	uint64_t num_clusters;          /* size in clusters; <= UINT32_MAX */
	/* [num_clusters] disk cluster of each slot, 0 = unallocated. The
	 * serializer reads it only for RLE blobs. */
	uint32_t *clusters;
	/* BSF_EXTENT_TABLE: [num_extent_pages] region page holding group k's
	 * extent page, 0 = none; num_extent_pages = ceil(num_clusters/512). */
	uint32_t *extent_pages;
	uint32_t num_extent_pages;

	/* Parser output only. */
	uint32_t *chain_pages;          /* region indices of the chain, root first */
	uint32_t num_chain_pages;
	uint32_t num_unknown_descs;     /* descriptors of unknown type skipped */
	bool has_flags;                 /* a FLAGS descriptor was present */
};

/* Frees everything the parser allocated and zeroes *md. */
void bsf_blob_md_free(struct bsf_blob_md *md);

/* First xattr with this exact name in one namespace (§4.8), or NULL. */
const struct bsf_xattr *bsf_blob_md_find_xattr(const struct bsf_blob_md *md, bool internal,
					       const char *name);

static inline bool
bsf_blob_md_is_thin(const struct bsf_blob_md *md)
{
	return (md->invalid_flags & BSF_INVALID_THIN_PROV) != 0;
}

/* READ_ONLY or any unknown data_ro bit: data and metadata read-only (§4.6). */
static inline bool
bsf_blob_md_data_ro(const struct bsf_blob_md *md)
{
	return md->data_ro_flags != 0;
}

/* Metadata read-only: data_ro, or an unknown md_ro bit (§4.6). */
static inline bool
bsf_blob_md_md_ro(const struct bsf_blob_md *md)
{
	return md->data_ro_flags != 0 || (md->md_ro_flags & ~BSF_MD_RO_FLAGS_MASK) != 0;
}

static inline uint32_t
bsf_extent_groups(uint64_t num_clusters)
{
	return (uint32_t)((num_clusters + BSF_EXTENTS_PER_EP - 1) / BSF_EXTENTS_PER_EP);
}

/* ---- blob metadata: serialization (spec §4.10) ------------------------------------- */

/*
 * Number of chain pages bsf_md_serialize() will produce for md, so a
 * caller can check it has that many free metadata pages first. Returns 0
 * when md is invalid (see bsf_md_serialize).
 */
uint32_t bsf_md_count_pages(const struct bsf_blob_md *md);

/* Hands out the region index of a free metadata page, or a negative errno. */
typedef int (*bsf_page_alloc_fn)(void *ctx, uint32_t *page_idx);

/* A serialized chain: page k is buf + k * BSF_PAGE_SIZE, at region idx[k]. */
struct bsf_md_pages {
	uint8_t *buf;
	uint32_t *idx;                  /* idx[0] = bsf_blobid_to_page(md->id) */
	uint32_t count;
};

/*
 * Serializes md into a chain exactly as SPDK does (spec §4.10): FLAGS at
 * offset 0 of the root, the application xattrs, the internal xattrs (an
 * xattr that does not fit starts a new page), then the EXTENT_TABLE or
 * EXTENT_RLE descriptors, split across pages as §4.7 / §4.9 describe
 * (503/507 table records, 504/508 RLE runs per root/other page; zero-size
 * blobs get one empty EXTENT_TABLE, or none if fewer than 13 bytes are
 * left; RLE blobs of size 0 get none). Every page carries md->id and its
 * sequence number; next pointers and CRCs are filled in.
 *
 * The root is at bsf_blobid_to_page(md->id). The region index of every
 * other page comes from alloc(), called once per non-root page in chain
 * order, after the pages have been built. On success *out owns buf and
 * idx (free with bsf_md_pages_free). On failure *out is freed, except that
 * out->idx[1 .. out->count-1] still lists the pages alloc() handed out, so
 * the caller can release them before calling bsf_md_pages_free.
 *
 * -EINVAL: id not a valid blob ID, an xattr longer than one page allows
 * (name + value > 4063) or whose name contains NUL, num_clusters >
 * UINT32_MAX, a NULL clusters map (RLE, num_clusters > 0), or
 * num_extent_pages != ceil(num_clusters / 512) (table format).
 */
int bsf_md_serialize(const struct bsf_blob_md *md, bsf_page_alloc_fn alloc, void *alloc_ctx,
		     struct bsf_md_pages *out);
void bsf_md_pages_free(struct bsf_md_pages *p);

/*
 * Writes the extent page of group `group` (slots 512*group ...) of a blob
 * with `num_clusters` slots mapped by `clusters`: one EXTENT_PAGE
 * descriptor with start_cluster_idx and min(512, remaining) entries; id,
 * sequence_num 0, next none, CRC. -EINVAL if the group is past the end
 * (an extent page with zero entries is never valid, spec §6.3).
 */
int bsf_extent_page_encode(blob_id id, const uint32_t *clusters, uint64_t num_clusters,
			   uint32_t group, uint8_t page[BSF_PAGE_SIZE]);

/* ---- blob metadata: parsing (spec §4.3-§4.9) --------------------------------------- */

struct bsf_extent_page {
	blob_id id;                     /* may be stale (§4.9): never compare */
	uint32_t start_cluster_idx;
	uint32_t count;                 /* 1 .. 512 */
	uint32_t clusters[BSF_EXTENTS_PER_EP];
};

/*
 * Decodes an extent page: valid CRC, sequence_num 0, next none, exactly
 * one EXTENT_PAGE descriptor at offset 0 with 1..512 entries and a
 * following header of length 0. -EILSEQ otherwise.
 */
int bsf_extent_page_decode(const uint8_t page[BSF_PAGE_SIZE], struct bsf_extent_page *ep,
			   struct bsf_diag *diag);

struct bsf_md_parse_opts {
	size_t opts_size;               /* sizeof(struct bsf_md_parse_opts) */
	/* Metadata region length: next pointers and extent-table pages must be
	 * below it, and it bounds the chain length. Required (non-zero). */
	uint32_t md_len;
	/* When non-zero, every allocated cluster must be below it. */
	uint32_t total_clusters;
	/* Reject descriptors of unknown type, as recovery does (§4.4). Default
	 * false: a normal open skips them (counted in num_unknown_descs). */
	bool reject_unknown;
	/* Check id and sequence_num of continuation pages (§10.4: SPDK does
	 * not, but writers must set them). Default true. */
	bool check_continuation;
};
void bsf_md_parse_opts_init(struct bsf_md_parse_opts *opts, size_t opts_size);

/*
 * Incremental chain parser, for the asynchronous loader: create it, feed
 * the chain's pages in order as they are read, then finish.
 *
 *   bsf_md_parser_create(id, &opts, &p);
 *   idx = bsf_blobid_to_page(id);
 *   do { read page idx; rc = bsf_md_parser_feed(p, idx, page, &idx, diag); }
 *   while (rc == 0 && idx != BSF_PAGE_NEXT_NONE);
 *   rc = bsf_md_parser_finish(p, &md, diag);    (also frees p)
 *   for each k with md.extent_pages[k] != 0:
 *       read it; rc = bsf_blob_md_apply_extent_page(&md, k, page, diag);
 *   rc = bsf_blob_md_check_map(&md, diag);
 *
 * Memory: the parser grows its arrays as descriptors arrive. A chain can
 * never have more than md_len pages, xattrs are bounded by the page bytes,
 * and the cluster map by num_clusters <= UINT32_MAX (16 GiB worst case for
 * a hostile page: the allocation then fails with -ENOMEM; SPDK would try
 * to allocate the same map).
 */
struct bsf_md_parser;
int bsf_md_parser_create(blob_id id, const struct bsf_md_parse_opts *opts,
			 struct bsf_md_parser **p);

/*
 * Parses chain page number k (0 = root), read from region index page_idx.
 * Checks its CRC, for the root id == the blob ID and sequence_num 0 (for
 * continuation pages too when check_continuation), each descriptor (§4.5
 * to §4.9 rules that concern one descriptor), and the next pointer
 * (< md_len, chain not longer than md_len pages). Returns 0 with *next =
 * the next region index or BSF_PAGE_NEXT_NONE; -EILSEQ / -ENOTSUP /
 * -ENOMEM on failure (the parser must then only be freed).
 */
int bsf_md_parser_feed(struct bsf_md_parser *p, uint32_t page_idx,
		       const uint8_t page[BSF_PAGE_SIZE], uint32_t *next, struct bsf_diag *diag);

/*
 * Completes the parse (cross-descriptor rules: unknown invalid_flags ->
 * -ENOTSUP; RLE mixed with EXTENT_TABLE -> -EILSEQ; extent-table group
 * count == ceil(num_clusters/512); unallocated RLE runs or groups only on
 * thin blobs; SNAP on a thin non-esnap blob is 8 bytes; EXTERNAL_SNAPSHOT
 * has EXTSNAP) and moves the result into *md. For BSF_EXTENT_TABLE blobs
 * md->clusters is allocated zeroed: fill it with
 * bsf_blob_md_apply_extent_page(). Always frees p.
 */
int bsf_md_parser_finish(struct bsf_md_parser *p, struct bsf_blob_md *md, struct bsf_diag *diag);
void bsf_md_parser_free(struct bsf_md_parser *p);

/*
 * Decodes the extent page of group k of an extent-table blob and copies
 * its entries into md->clusters: checks bsf_extent_page_decode() rules,
 * start_cluster_idx == 512*k and count == min(512, num_clusters - 512k).
 */
int bsf_blob_md_apply_extent_page(struct bsf_blob_md *md, uint32_t group,
				  const uint8_t page[BSF_PAGE_SIZE], struct bsf_diag *diag);

/*
 * Final map check after the extent pages are applied: a thick blob has
 * every slot allocated (§5.1); every allocated cluster is below
 * total_clusters when that is non-zero. -EILSEQ otherwise.
 */
int bsf_blob_md_check_map(const struct bsf_blob_md *md, uint32_t total_clusters,
			  struct bsf_diag *diag);

/*
 * Synchronous convenience for in-memory images (checker, tests, fuzzer):
 * parses the whole chain of blob `id` and its extent pages through
 * read_page (which fills 4096 bytes of region page idx, or returns a
 * negative errno), then checks the map. On failure *md is freed.
 */
typedef int (*bsf_read_page_fn)(void *ctx, uint32_t page_idx, uint8_t page[BSF_PAGE_SIZE]);
int bsf_md_parse_blob(blob_id id, const struct bsf_md_parse_opts *opts, bsf_read_page_fn read_page,
		      void *ctx, struct bsf_blob_md *md, struct bsf_diag *diag);

/* ---- recovery (spec §6.9) --------------------------------------------------------- */

/*
 * What recovery claims for one chain page, as leniently as SPDK's replay:
 * flags and xattrs are ignored; each RLE record with cluster_idx != 0
 * claims clusters [cluster_idx, cluster_idx + length) through
 * cluster_run(); each EXTENT_TABLE record with page_idx != 0 is handed to
 * extent_page() (num_pages != 1 there fails with -EILSEQ); an unknown
 * descriptor type fails with -EILSEQ. A callback's non-zero return stops
 * the walk and is returned. The CRC is not checked here (the caller has,
 * and decides what a bad one means).
 */
struct bsf_claim_ops {
	int (*cluster_run)(void *ctx, uint32_t first, uint32_t count);
	int (*extent_page)(void *ctx, uint32_t page_idx);
};
int bsf_md_page_claims(const uint8_t page[BSF_PAGE_SIZE], const struct bsf_claim_ops *ops,
		       void *ctx, struct bsf_diag *diag);

#endif
