/*
 * lib/blob/format.c: encode and decode of every on-disk structure of the
 * blobstore (spec: ../shared/spec/blobstore-format.md).
 *
 * This file is the only place that knows where a byte of the format
 * lives. It is pure: no I/O, no threads, no globals. The store, recovery
 * and metadata code (and the offline checker) call it with buffers they
 * read or are about to write.
 *
 * Invariants this file keeps:
 *
 *  - A descriptor is bounds-checked before it is dereferenced. The only
 *    way to look at a metadata page's descriptors is bsf_desc_iter_next(),
 *    which guarantees that a returned descriptor's header and body lie
 *    entirely inside the 4072-byte area; every body parser then checks
 *    its own length against the sizes it reads (an XATTR's name and value
 *    lengths against the descriptor length, etc.) before touching them.
 *    Sums that could overflow (offset + length, cluster + run length) are
 *    done in 64 bits.
 *
 *  - The parser never trusts a count to size an allocation before checking
 *    it against what the rest of the metadata allows: an extent table's
 *    group records are checked against ceil(num_clusters / 512) before
 *    they are expanded, RLE run totals against UINT32_MAX and the caller's
 *    limit, the chain length against md_len. A hostile chain therefore
 *    terminates (at most md_len pages; with continuation checks each page
 *    index can appear at most once, since its sequence number is fixed)
 *    and allocates at most the map its num_clusters describes.
 *
 *  - The serializer reproduces SPDK's encoder decision for decision
 *    (spec §4.10, §4.7, §4.9 capacities and the zero-size edge case), so
 *    a chain we write is byte-identical to the chain SPDK would write for
 *    the same blob and the same allocated page numbers. Where the code
 *    looks odd (an EXTENT_TABLE descriptor with no records at the bottom
 *    of a page, the root not getting an EXTENT_TABLE when fewer than 13
 *    bytes are left) it is because SPDK does exactly that.
 *
 *  - Validation follows the spec's order where the spec gives one (the
 *    superblock, §2.3) so callers see the same error class SPDK reports:
 *    -EILSEQ for corrupt bytes, -ENXIO for a bstype mismatch, -ENOTSUP for
 *    a blob from the future (unknown invalid_flags), -EINVAL for sizes that
 *    do not fit the device.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

/* ---- diagnostics ---------------------------------------------------------------- */

static int fail(struct bsf_diag *diag, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct bsf_diag *diag, int rc, const char *fmt, ...)
{
	va_list ap;

	if (diag != NULL) {
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void
diag_clear(struct bsf_diag *diag)
{
	if (diag != NULL)
		diag->msg[0] = '\0';
}

/* ---- checksum ------------------------------------------------------------------ */

uint32_t
bsf_crc(const uint8_t page[BSF_PAGE_SIZE])
{
	return crc32c(page, BSF_CRC_LEN);
}

void
bsf_set_crc(uint8_t page[BSF_PAGE_SIZE])
{
	bsf_store_le32(page + BSF_OFF_CRC, bsf_crc(page));
}

bool
bsf_crc_ok(const uint8_t page[BSF_PAGE_SIZE])
{
	return bsf_load_le32(page + BSF_OFF_CRC) == bsf_crc(page);
}

bool
bsf_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* Word-at-a-time would be faster; recovery reads each page from disk
	 * anyway, so the byte loop is never the bottleneck. */
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- superblock ------------------------------------------------------------------ */

void
bsf_super_init(struct bsf_super *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->version = BSF_SB_VERSION;
	sb->length = BSF_PAGE_SIZE;
	sb->super_blob = BSF_BLOBID_NONE;
}

void
bsf_bstype_set(uint8_t bstype[BS_BSTYPE_LEN], const char *name)
{
	size_t n = name ? strnlen(name, BS_BSTYPE_LEN) : 0;

	memset(bstype, 0, BS_BSTYPE_LEN);
	memcpy(bstype, name, n);
}

static void
super_store_fields(const struct bsf_super *sb, uint8_t *buf)
{
	memcpy(buf, BSF_SB_SIGNATURE, BSF_SB_SIGNATURE_LEN);
	bsf_store_le32(buf + BSF_SB_OFF_VERSION, sb->version);
	bsf_store_le32(buf + BSF_SB_OFF_LENGTH, sb->length);
	bsf_store_le32(buf + BSF_SB_OFF_CLEAN, sb->clean);
	bsf_store_le64(buf + BSF_SB_OFF_SUPER_BLOB, sb->super_blob);
	bsf_store_le32(buf + BSF_SB_OFF_CLUSTER_SIZE, sb->cluster_size);
	bsf_store_le32(buf + BSF_SB_OFF_PAGE_MASK_START, sb->used_page_mask_start);
	bsf_store_le32(buf + BSF_SB_OFF_PAGE_MASK_LEN, sb->used_page_mask_len);
	bsf_store_le32(buf + BSF_SB_OFF_CLUSTER_MASK_START, sb->used_cluster_mask_start);
	bsf_store_le32(buf + BSF_SB_OFF_CLUSTER_MASK_LEN, sb->used_cluster_mask_len);
	bsf_store_le32(buf + BSF_SB_OFF_MD_START, sb->md_start);
	bsf_store_le32(buf + BSF_SB_OFF_MD_LEN, sb->md_len);
	memcpy(buf + BSF_SB_OFF_BSTYPE, sb->bstype, BS_BSTYPE_LEN);
	bsf_store_le32(buf + BSF_SB_OFF_BLOBID_MASK_START, sb->used_blobid_mask_start);
	bsf_store_le32(buf + BSF_SB_OFF_BLOBID_MASK_LEN, sb->used_blobid_mask_len);
	bsf_store_le64(buf + BSF_SB_OFF_SIZE, sb->size);
	bsf_store_le32(buf + BSF_SB_OFF_IO_UNIT_SIZE, sb->io_unit_size);
	bsf_store_le32(buf + BSF_SB_OFF_MD_PAGE_SIZE, sb->md_page_size);
}

void
bsf_super_encode(const struct bsf_super *sb, uint8_t buf[BSF_PAGE_SIZE])
{
	memset(buf, 0, BSF_PAGE_SIZE);
	super_store_fields(sb, buf);
	bsf_set_crc(buf);
}

void
bsf_super_update(const struct bsf_super *sb, uint8_t buf[BSF_PAGE_SIZE])
{
	super_store_fields(sb, buf);
	bsf_set_crc(buf);
}

static void
super_load_fields(const uint8_t *buf, struct bsf_super *sb)
{
	sb->version = bsf_load_le32(buf + BSF_SB_OFF_VERSION);
	sb->length = bsf_load_le32(buf + BSF_SB_OFF_LENGTH);
	sb->clean = bsf_load_le32(buf + BSF_SB_OFF_CLEAN);
	sb->super_blob = bsf_load_le64(buf + BSF_SB_OFF_SUPER_BLOB);
	sb->cluster_size = bsf_load_le32(buf + BSF_SB_OFF_CLUSTER_SIZE);
	sb->used_page_mask_start = bsf_load_le32(buf + BSF_SB_OFF_PAGE_MASK_START);
	sb->used_page_mask_len = bsf_load_le32(buf + BSF_SB_OFF_PAGE_MASK_LEN);
	sb->used_cluster_mask_start = bsf_load_le32(buf + BSF_SB_OFF_CLUSTER_MASK_START);
	sb->used_cluster_mask_len = bsf_load_le32(buf + BSF_SB_OFF_CLUSTER_MASK_LEN);
	sb->md_start = bsf_load_le32(buf + BSF_SB_OFF_MD_START);
	sb->md_len = bsf_load_le32(buf + BSF_SB_OFF_MD_LEN);
	memcpy(sb->bstype, buf + BSF_SB_OFF_BSTYPE, BS_BSTYPE_LEN);
	sb->used_blobid_mask_start = bsf_load_le32(buf + BSF_SB_OFF_BLOBID_MASK_START);
	sb->used_blobid_mask_len = bsf_load_le32(buf + BSF_SB_OFF_BLOBID_MASK_LEN);
	sb->size = bsf_load_le64(buf + BSF_SB_OFF_SIZE);
	sb->io_unit_size = bsf_load_le32(buf + BSF_SB_OFF_IO_UNIT_SIZE);
	sb->md_page_size = bsf_load_le32(buf + BSF_SB_OFF_MD_PAGE_SIZE);
}

int
bsf_super_decode(const uint8_t buf[BSF_PAGE_SIZE], const uint8_t *want_bstype,
		 uint64_t dev_size, struct bsf_super *sb, struct bsf_diag *diag)
{
	struct bsf_layout l;

	diag_clear(diag);
	super_load_fields(buf, sb);
	/* §2.3, in SPDK's order. */
	if (sb->version < BSF_SB_VERSION_MIN || sb->version > BSF_SB_VERSION)
		return fail(diag, -EILSEQ, "superblock: unsupported version %u", sb->version);
	if (memcmp(buf, BSF_SB_SIGNATURE, BSF_SB_SIGNATURE_LEN) != 0)
		return fail(diag, -EILSEQ, "superblock: bad signature");
	if (!bsf_crc_ok(buf))
		return fail(diag, -EILSEQ, "superblock: bad CRC (stored 0x%08x, computed 0x%08x)",
			    bsf_load_le32(buf + BSF_OFF_CRC), bsf_crc(buf));
	if (want_bstype != NULL && !bsf_is_zero(want_bstype, BS_BSTYPE_LEN) &&
	    memcmp(want_bstype, sb->bstype, BS_BSTYPE_LEN) != 0)
		return fail(diag, -ENXIO, "superblock: bstype '%.16s' does not match '%.16s'",
			    (const char *)sb->bstype, (const char *)want_bstype);
	if (dev_size != 0 && sb->size > dev_size)
		return fail(diag, -EINVAL,
			    "superblock: store size %llu is larger than the device (%llu bytes)",
			    (unsigned long long)sb->size, (unsigned long long)dev_size);
	return bsf_layout_from_super(sb, dev_size, &l, diag);
}

/* ---- layout ------------------------------------------------------------------- */

void
bsf_layout_params_init(struct bsf_layout_params *p, size_t opts_size)
{
	memset(p, 0, opts_size < sizeof(*p) ? opts_size : sizeof(*p));
	if (opts_size >= sizeof(*p))
		p->opts_size = sizeof(*p);
}

uint32_t
bsf_mask_pages(uint64_t bits, uint32_t page_size)
{
	uint64_t bytes = BSF_MASK_HDR_SIZE + (bits + 7) / 8;

	return (uint32_t)((bytes + page_size - 1) / page_size);
}

uint32_t
bsf_md_pages_for_ratio(uint32_t total_clusters, uint32_t ratio_percent)
{
	return (uint32_t)((uint64_t)total_clusters * ratio_percent / 100);
}

uint64_t
bsf_layout_max_clusters(const struct bsf_layout *l)
{
	uint64_t bytes = (uint64_t)l->cluster_mask_reserved * l->md_page_size;
	uint64_t bits;

	if (bytes <= BSF_MASK_HDR_SIZE)
		return 0;
	bits = (bytes - BSF_MASK_HDR_SIZE) * 8;
	return bits > UINT32_MAX ? UINT32_MAX : bits;
}

static uint32_t
max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

int
bsf_layout_compute(const struct bsf_layout_params *p, struct bsf_layout *l)
{
	uint32_t page, phys;
	uint64_t total, md_len, pos, end;

	memset(l, 0, sizeof(*l));
	if (p->blocklen == 0 || p->cluster_size == 0)
		return -EINVAL;
	phys = p->phys_blocklen ? p->phys_blocklen : p->blocklen;
	page = max_u32(max_u32(phys, BSF_DEFAULT_MD_PAGE_SIZE), p->md_page_size);
	if (page % BSF_PAGE_SIZE != 0)
		return -EINVAL;
	if (p->cluster_size % BSF_PAGE_SIZE != 0 || p->cluster_size < page)
		return -EINVAL;
	if (p->dev_size < p->cluster_size)
		return -EINVAL;
	total = p->dev_size / p->cluster_size;
	if (total > UINT32_MAX)
		return -EINVAL;
	md_len = p->num_md_pages ? p->num_md_pages : total;

	l->md_page_size = page;
	l->io_unit_size = p->blocklen;
	l->cluster_size = p->cluster_size;
	l->size = p->dev_size;
	l->total_clusters = (uint32_t)total;
	l->pages_per_cluster = p->cluster_size / page;
	l->md_len = (uint32_t)md_len;

	/* Page 0 is the superblock; the masks follow one after another. */
	pos = 1;
	l->used_page_mask_start = (uint32_t)pos;
	l->used_page_mask_len = bsf_mask_pages(md_len, page);
	pos += l->used_page_mask_len;
	l->used_cluster_mask_start = (uint32_t)pos;
	l->used_cluster_mask_len = bsf_mask_pages(total, page);
	/* Room to grow: enough pages for as many clusters as metadata pages. */
	l->cluster_mask_reserved = max_u32(bsf_mask_pages(md_len, page), l->used_cluster_mask_len);
	pos += l->cluster_mask_reserved;
	l->used_blobid_mask_start = (uint32_t)pos;
	l->used_blobid_mask_len = bsf_mask_pages(md_len, page);
	pos += l->used_blobid_mask_len;
	l->md_start = (uint32_t)pos;
	end = pos + md_len;
	if (end > UINT32_MAX)
		return -EINVAL;
	l->num_md_clusters = (uint32_t)((end + l->pages_per_cluster - 1) / l->pages_per_cluster);
	/* SPDK refuses (-ENOMEM) only when the metadata needs more clusters
	 * than the device has; a store with no data cluster is legal. */
	if (l->num_md_clusters > l->total_clusters)
		return -ENOSPC;
	return 0;
}

void
bsf_layout_to_super(const struct bsf_layout *l, struct bsf_super *sb)
{
	sb->cluster_size = l->cluster_size;
	sb->used_page_mask_start = l->used_page_mask_start;
	sb->used_page_mask_len = l->used_page_mask_len;
	sb->used_cluster_mask_start = l->used_cluster_mask_start;
	sb->used_cluster_mask_len = l->used_cluster_mask_len;
	sb->used_blobid_mask_start = l->used_blobid_mask_start;
	sb->used_blobid_mask_len = l->used_blobid_mask_len;
	sb->md_start = l->md_start;
	sb->md_len = l->md_len;
	sb->size = l->size;
	sb->io_unit_size = l->io_unit_size;
	sb->md_page_size = l->md_page_size;
}

/* [s, s+len) inside [1, limit) and disjoint from [s2, s2+len2). */
static bool
ranges_overlap(uint64_t s1, uint64_t l1, uint64_t s2, uint64_t l2)
{
	return l1 != 0 && l2 != 0 && s1 < s2 + l2 && s2 < s1 + l1;
}

int
bsf_layout_from_super(const struct bsf_super *sb, uint64_t dev_size, struct bsf_layout *l,
		      struct bsf_diag *diag)
{
	uint32_t page = sb->md_page_size ? sb->md_page_size : BSF_DEFAULT_MD_PAGE_SIZE;
	uint32_t io = sb->io_unit_size ? sb->io_unit_size : BSF_PAGE_SIZE;
	uint64_t size = sb->size ? sb->size : dev_size;
	uint64_t total, md_end, cm_area_end;
	struct {
		const char *name;
		uint64_t start, len;
	} areas[4];

	memset(l, 0, sizeof(*l));
	if (page % BSF_PAGE_SIZE != 0)
		return fail(diag, -EINVAL, "superblock: md_page_size %u is not a multiple of 4096",
			    page);
	if (sb->cluster_size == 0 || sb->cluster_size % BSF_PAGE_SIZE != 0 ||
	    sb->cluster_size < page)
		return fail(diag, -EINVAL,
			    "superblock: cluster_size %u is not a multiple of 4096 >= md_page_size %u",
			    sb->cluster_size, page);
	if (!IS_POWER_OF_2(io) || sb->cluster_size % io != 0)
		return fail(diag, -EINVAL, "superblock: io_unit_size %u does not divide cluster_size",
			    io);
	if (size == 0)
		return fail(diag, -EINVAL, "superblock: size is 0 and the device size is unknown");
	total = size / sb->cluster_size;
	if (total == 0 || total > UINT32_MAX)
		return fail(diag, -EINVAL, "superblock: %llu clusters is out of range",
			    (unsigned long long)total);
	if (sb->md_len == 0)
		return fail(diag, -EINVAL, "superblock: md_len is 0");

	l->md_page_size = page;
	l->io_unit_size = io;
	l->cluster_size = sb->cluster_size;
	l->size = size;
	l->total_clusters = (uint32_t)total;
	l->pages_per_cluster = sb->cluster_size / page;
	l->used_page_mask_start = sb->used_page_mask_start;
	l->used_page_mask_len = sb->used_page_mask_len;
	l->used_cluster_mask_start = sb->used_cluster_mask_start;
	l->used_cluster_mask_len = sb->used_cluster_mask_len;
	l->used_blobid_mask_start = sb->used_blobid_mask_start;
	l->used_blobid_mask_len = sb->used_blobid_mask_len;
	l->md_start = sb->md_start;
	l->md_len = sb->md_len;

	md_end = (uint64_t)sb->md_start + sb->md_len;
	if (md_end > (uint64_t)l->total_clusters * l->pages_per_cluster)
		return fail(diag, -EINVAL,
			    "superblock: metadata region ends at page %llu, past the store's %u clusters",
			    (unsigned long long)md_end, l->total_clusters);
	l->num_md_clusters = (uint32_t)((md_end + l->pages_per_cluster - 1) / l->pages_per_cluster);

	/* The cluster mask may use the pages up to the next area (R). */
	cm_area_end = sb->used_blobid_mask_len ? sb->used_blobid_mask_start : sb->md_start;
	if (cm_area_end < sb->used_cluster_mask_start)
		return fail(diag, -EINVAL, "superblock: the cluster mask starts after what follows it");
	l->cluster_mask_reserved = (uint32_t)(cm_area_end - sb->used_cluster_mask_start);

	areas[0].name = "used page mask";
	areas[0].start = sb->used_page_mask_start;
	areas[0].len = sb->used_page_mask_len;
	areas[1].name = "used cluster mask";
	areas[1].start = sb->used_cluster_mask_start;
	areas[1].len = l->cluster_mask_reserved > sb->used_cluster_mask_len ?
		       l->cluster_mask_reserved : sb->used_cluster_mask_len;
	areas[2].name = "used blob id mask";
	areas[2].start = sb->used_blobid_mask_start;
	areas[2].len = sb->used_blobid_mask_len;
	areas[3].name = "metadata region";
	areas[3].start = sb->md_start;
	areas[3].len = sb->md_len;
	for (int i = 0; i < 4; i++) {
		if (areas[i].len == 0)
			continue;
		if (areas[i].start == 0)
			return fail(diag, -EINVAL, "superblock: %s overlaps the superblock",
				    areas[i].name);
		if (i < 3 && areas[i].start + areas[i].len > sb->md_start)
			return fail(diag, -EINVAL, "superblock: %s runs into the metadata region",
				    areas[i].name);
		for (int j = 0; j < i; j++)
			if (ranges_overlap(areas[i].start, areas[i].len, areas[j].start,
					   areas[j].len))
				return fail(diag, -EINVAL, "superblock: %s overlaps the %s",
					    areas[i].name, areas[j].name);
	}
	if (sb->used_page_mask_len == 0 || sb->used_cluster_mask_len == 0)
		return fail(diag, -EINVAL, "superblock: a mask has length 0");
	if ((uint64_t)sb->used_page_mask_len * page < BSF_MASK_HDR_SIZE + (sb->md_len + 7ull) / 8)
		return fail(diag, -EINVAL, "superblock: used page mask too short for %u pages",
			    sb->md_len);
	if ((uint64_t)sb->used_cluster_mask_len * page < BSF_MASK_HDR_SIZE + (total + 7) / 8)
		return fail(diag, -EINVAL, "superblock: used cluster mask too short for %llu clusters",
			    (unsigned long long)total);
	if (sb->used_blobid_mask_len != 0 &&
	    (uint64_t)sb->used_blobid_mask_len * page < BSF_MASK_HDR_SIZE + (sb->md_len + 7ull) / 8)
		return fail(diag, -EINVAL, "superblock: used blob id mask too short for %u pages",
			    sb->md_len);
	return 0;
}

/* ---- masks -------------------------------------------------------------------- */

int
bsf_mask_encode(enum bsf_mask_type type, const struct bit_array *ba, uint32_t length,
		uint8_t *buf, size_t buf_len)
{
	uint64_t need = BSF_MASK_HDR_SIZE + ((uint64_t)length + 7) / 8;
	uint32_t limit, bit;

	if (need > buf_len)
		return -ENOSPC;
	memset(buf, 0, buf_len);
	buf[0] = (uint8_t)type;
	bsf_store_le32(buf + 1, length);
	limit = bit_array_capacity(ba) < length ? bit_array_capacity(ba) : length;
	for (bit = bit_array_find_first_set(ba, 0); bit < limit;
	     bit = bit_array_find_first_set(ba, bit + 1)) {
		buf[BSF_MASK_HDR_SIZE + bit / 8] |= (uint8_t)(1u << (bit % 8));
		if (bit == UINT32_MAX - 1)
			break;
	}
	return 0;
}

static const char *
mask_name(unsigned type)
{
	switch (type) {
	case BSF_MASK_USED_PAGES:
		return "used page mask";
	case BSF_MASK_USED_CLUSTERS:
		return "used cluster mask";
	case BSF_MASK_USED_BLOBIDS:
		return "used blob id mask";
	}
	return "mask";
}

int
bsf_mask_decode(const uint8_t *buf, size_t buf_len, enum bsf_mask_type type, uint32_t expect_len,
		struct bit_array *ba, uint32_t *length, struct bsf_diag *diag)
{
	uint32_t len;
	const uint8_t *bits = buf + BSF_MASK_HDR_SIZE;

	diag_clear(diag);
	if (buf_len < BSF_MASK_HDR_SIZE)
		return fail(diag, -EILSEQ, "%s: area shorter than its header", mask_name(type));
	len = bsf_load_le32(buf + 1);
	if (length != NULL)
		*length = len;
	if (buf[0] != type)
		return fail(diag, -EILSEQ, "%s: type %u, expected %u", mask_name(type), buf[0],
			    (unsigned)type);
	if (type == BSF_MASK_USED_CLUSTERS ? len < expect_len : len != expect_len)
		return fail(diag, -EILSEQ, "%s: length %u, expected %s%u", mask_name(type), len,
			    type == BSF_MASK_USED_CLUSTERS ? "at least " : "", expect_len);
	if (BSF_MASK_HDR_SIZE + ((uint64_t)len + 7) / 8 > buf_len)
		return fail(diag, -EILSEQ, "%s: %u bits do not fit in %zu bytes", mask_name(type),
			    len, buf_len);
	if (bit_array_capacity(ba) < expect_len)
		return -EINVAL;
	bit_array_clear_all(ba);
	for (uint32_t byte = 0; byte < (expect_len + 7ull) / 8; byte++) {
		uint8_t v = bits[byte];

		while (v != 0) {
			uint32_t bit = byte * 8 + (uint32_t)__builtin_ctz(v);

			v &= (uint8_t)(v - 1);
			if (bit < expect_len)
				bit_array_set(ba, bit);
		}
	}
	return 0;
}

bool
bsf_mask_tail_is_zero(const uint8_t *buf, size_t buf_len, uint32_t length)
{
	uint64_t used = BSF_MASK_HDR_SIZE + ((uint64_t)length + 7) / 8;

	if (used > buf_len)
		return false;
	if (length % 8 != 0 && (buf[used - 1] >> (length % 8)) != 0)
		return false;
	return bsf_is_zero(buf + used, buf_len - used);
}

/* ---- pages and descriptors ------------------------------------------------------------ */

void
bsf_page_hdr_decode(const uint8_t page[BSF_PAGE_SIZE], struct bsf_page_hdr *hdr)
{
	hdr->id = bsf_load_le64(page + BSF_PAGE_OFF_ID);
	hdr->sequence_num = bsf_load_le32(page + BSF_PAGE_OFF_SEQ);
	hdr->reserved0 = bsf_load_le32(page + BSF_PAGE_OFF_RESERVED0);
	hdr->next = bsf_load_le32(page + BSF_PAGE_OFF_NEXT);
	hdr->crc = bsf_load_le32(page + BSF_OFF_CRC);
}

void
bsf_page_init(uint8_t page[BSF_PAGE_SIZE], blob_id id, uint32_t sequence_num, uint32_t next)
{
	memset(page, 0, BSF_PAGE_SIZE);
	bsf_store_le64(page + BSF_PAGE_OFF_ID, id);
	bsf_store_le32(page + BSF_PAGE_OFF_SEQ, sequence_num);
	bsf_store_le32(page + BSF_PAGE_OFF_NEXT, next);
}

bool
bsf_page_is_root(const uint8_t page[BSF_PAGE_SIZE], uint32_t page_idx)
{
	return bsf_load_le32(page + BSF_PAGE_OFF_SEQ) == 0 &&
	       bsf_load_le64(page + BSF_PAGE_OFF_ID) == bsf_page_to_blobid(page_idx) &&
	       bsf_crc_ok(page);
}

void
bsf_desc_iter_init(struct bsf_desc_iter *it, const uint8_t page[BSF_PAGE_SIZE])
{
	it->area = page + BSF_PAGE_OFF_DESC;
	it->off = 0;
	it->done = false;
}

const char *
bsf_desc_type_name(uint8_t type)
{
	static const char *const names[] = {
		"PADDING", "EXTENT_RLE", "XATTR", "FLAGS", "XATTR_INTERNAL", "EXTENT_TABLE",
		"EXTENT_PAGE",
	};

	return type < COUNTOF(names) ? names[type] : "unknown";
}

int
bsf_desc_iter_next(struct bsf_desc_iter *it, struct bsf_desc *d, struct bsf_diag *diag)
{
	while (!it->done) {
		uint32_t o = it->off;
		uint8_t type;
		uint32_t len;
		uint64_t end;

		/* §4.4 step 4 guarantees o + 5 <= 4072 here; re-check anyway so
		 * a corrupted iterator can never read past the area. */
		if ((uint64_t)o + BSF_DESC_HDR_SIZE > BSF_DESC_AREA_SIZE) {
			it->done = true;
			break;
		}
		type = it->area[o];
		len = bsf_load_le32(it->area + o + 1);
		if (type == BSF_DESC_PADDING && len == 0) {
			it->done = true; /* the terminator */
			break;
		}
		end = (uint64_t)o + BSF_DESC_HDR_SIZE + len;
		if (type != BSF_DESC_PADDING && end > BSF_DESC_AREA_SIZE) {
			it->done = true;
			return fail(diag, -EILSEQ,
				    "descriptor at offset %u (%s): length %u runs past the page", o,
				    bsf_desc_type_name(type), len);
		}
		if (end + BSF_DESC_HDR_SIZE > BSF_DESC_AREA_SIZE)
			it->done = true; /* no room for another header */
		else
			it->off = (uint32_t)end;
		if (type == BSF_DESC_PADDING)
			continue;
		d->type = type;
		d->length = len;
		d->body = it->area + o + BSF_DESC_HDR_SIZE;
		d->offset = o;
		return 1;
	}
	return 0;
}

/* ---- blob metadata: host form helpers ------------------------------------------------ */

static void
free_xattrs(struct bsf_xattr *x, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(x[i].name);
	free(x);
}

void
bsf_blob_md_free(struct bsf_blob_md *md)
{
	free_xattrs(md->xattrs, md->num_xattrs);
	free_xattrs(md->xattrs_internal, md->num_xattrs_internal);
	free(md->clusters);
	free(md->extent_pages);
	free(md->chain_pages);
	memset(md, 0, sizeof(*md));
}

const struct bsf_xattr *
bsf_blob_md_find_xattr(const struct bsf_blob_md *md, bool internal, const char *name)
{
	const struct bsf_xattr *x = internal ? md->xattrs_internal : md->xattrs;
	uint32_t n = internal ? md->num_xattrs_internal : md->num_xattrs;
	size_t len = strlen(name);

	for (uint32_t i = 0; i < n; i++)
		if (x[i].name_len == len && memcmp(x[i].name, name, len) == 0)
			return &x[i];
	return NULL;
}

/* ---- serialization ----------------------------------------------------------------- */

/*
 * The chain under construction: pages appended as SPDK's
 * blob_serialize_add_page does, the write position kept as an offset so
 * growing the buffer never leaves a dangling pointer.
 */
struct ser {
	blob_id id;
	uint8_t *buf;
	uint32_t count, cap;
	uint32_t pos;           /* offset in the current page's descriptor area */
	size_t remaining;       /* bytes left in it */
};

static int
ser_add_page(struct ser *s)
{
	if (s->count == s->cap) {
		uint32_t ncap = s->cap ? s->cap * 2 : 4;
		uint8_t *n = realloc(s->buf, (size_t)ncap * BSF_PAGE_SIZE);

		if (n == NULL)
			return -ENOMEM;
		s->buf = n;
		s->cap = ncap;
	}
	bsf_page_init(s->buf + (size_t)s->count * BSF_PAGE_SIZE, s->id, s->count,
		      BSF_PAGE_NEXT_NONE);
	s->count++;
	s->pos = 0;
	s->remaining = BSF_DESC_AREA_SIZE;
	return 0;
}

static uint8_t *
ser_cur(struct ser *s)
{
	return s->buf + (size_t)(s->count - 1) * BSF_PAGE_SIZE + BSF_PAGE_OFF_DESC + s->pos;
}

static void
ser_advance(struct ser *s, size_t n)
{
	s->pos += (uint32_t)n;
	s->remaining -= n;
}

static void
ser_flags(struct ser *s, const struct bsf_blob_md *md)
{
	uint8_t *p = ser_cur(s);

	p[0] = BSF_DESC_FLAGS;
	bsf_store_le32(p + 1, BSF_FLAGS_BODY_LEN);
	bsf_store_le64(p + 5, md->invalid_flags);
	bsf_store_le64(p + 13, md->data_ro_flags);
	bsf_store_le64(p + 21, md->md_ro_flags);
	ser_advance(s, BSF_FLAGS_DESC_SIZE);
}

static int
ser_xattrs(struct ser *s, const struct bsf_xattr *x, uint32_t n, uint8_t type)
{
	for (uint32_t i = 0; i < n; i++) {
		size_t need = BSF_DESC_HDR_SIZE + BSF_XATTR_HDR_BODY + x[i].name_len + x[i].value_len;
		uint8_t *p;
		int rc;

		if (need > s->remaining) {
			/* An xattr is never split: it starts a new page. */
			rc = ser_add_page(s);
			if (rc != 0)
				return rc;
		}
		p = ser_cur(s);
		p[0] = type;
		bsf_store_le32(p + 1, (uint32_t)(need - BSF_DESC_HDR_SIZE));
		bsf_store_le16(p + 5, x[i].name_len);
		bsf_store_le16(p + 7, x[i].value_len);
		if (x[i].name_len)
			memcpy(p + 9, x[i].name, x[i].name_len);
		if (x[i].value_len)
			memcpy(p + 9 + x[i].name_len, x[i].value, x[i].value_len);
		ser_advance(s, need);
	}
	return 0;
}

/*
 * One EXTENT_TABLE descriptor from group `start` on, as SPDK's
 * blob_serialize_extent_table_entry: nothing if fewer than 13 bytes are
 * left; otherwise as many records as fit, runs of zero pages merged (a
 * run never breaks across a page because the space check does not change
 * while a run grows). *next = first group not written.
 */
static void
ser_extent_table_entry(struct ser *s, const struct bsf_blob_md *md, uint32_t start,
		       uint32_t *next)
{
	size_t cur_sz = BSF_DESC_HDR_SIZE + BSF_ET_HDR_BODY;
	uint32_t i, ep_len = 1, et_idx = 0;
	uint8_t *p;

	if (s->remaining < cur_sz) {
		*next = start;
		return;
	}
	p = ser_cur(s);
	p[0] = BSF_DESC_EXTENT_TABLE;
	bsf_store_le64(p + 5, md->num_clusters);
	for (i = start; i < md->num_extent_pages; i++) {
		uint32_t ep = md->extent_pages[i];
		uint8_t *rec;

		if (s->remaining < cur_sz + BSF_ET_REC_SIZE)
			break;
		if (ep == 0 && i + 1 < md->num_extent_pages && md->extent_pages[i + 1] == 0) {
			ep_len++;
			continue;
		}
		rec = p + BSF_DESC_HDR_SIZE + BSF_ET_HDR_BODY + (size_t)et_idx * BSF_ET_REC_SIZE;
		bsf_store_le32(rec, ep);
		bsf_store_le32(rec + 4, ep_len);
		et_idx++;
		ep_len = 1;
		cur_sz += BSF_ET_REC_SIZE;
	}
	*next = i;
	bsf_store_le32(p + 1, BSF_ET_HDR_BODY + et_idx * BSF_ET_REC_SIZE);
	ser_advance(s, BSF_DESC_HDR_SIZE + BSF_ET_HDR_BODY + (size_t)et_idx * BSF_ET_REC_SIZE);
}

static int
ser_extent_table(struct ser *s, const struct bsf_blob_md *md)
{
	uint32_t last = 0;
	int rc;

	/* At least one descriptor, even at size 0 (if it fits). */
	ser_extent_table_entry(s, md, 0, &last);
	while (last < md->num_extent_pages) {
		rc = ser_add_page(s);
		if (rc != 0)
			return rc;
		ser_extent_table_entry(s, md, last, &last);
	}
	return 0;
}

/*
 * One EXTENT_RLE descriptor from slot `start` on, as SPDK's
 * blob_serialize_extent_rle: needs room for the header and one run; a run
 * is closed when the next slot is not its physical continuation (or not
 * also unallocated); stops when the next run would not fit.
 */
static void
ser_extent_rle(struct ser *s, const struct bsf_blob_md *md, uint64_t start, uint64_t *next)
{
	size_t cur_sz = BSF_DESC_HDR_SIZE + BSF_RLE_REC_SIZE;
	uint64_t i, cnt = 1;
	uint32_t c, idx = 0;
	uint8_t *p;

	if (s->remaining < cur_sz) {
		*next = start;
		return;
	}
	p = ser_cur(s);
	p[0] = BSF_DESC_EXTENT_RLE;
	c = md->clusters[start];
	for (i = start + 1; i < md->num_clusters; i++) {
		uint32_t ci = md->clusters[i];
		uint8_t *rec;

		if ((c != 0 && (uint64_t)c + cnt == ci) || (c == 0 && ci == 0)) {
			cnt++;
			continue;
		}
		rec = p + BSF_DESC_HDR_SIZE + (size_t)idx * BSF_RLE_REC_SIZE;
		bsf_store_le32(rec, c);
		bsf_store_le32(rec + 4, (uint32_t)cnt);
		idx++;
		cur_sz += BSF_RLE_REC_SIZE;
		if (s->remaining < cur_sz) {
			*next = i;
			break;
		}
		c = ci;
		cnt = 1;
	}
	if (s->remaining >= cur_sz) {
		uint8_t *rec = p + BSF_DESC_HDR_SIZE + (size_t)idx * BSF_RLE_REC_SIZE;

		bsf_store_le32(rec, c);
		bsf_store_le32(rec + 4, (uint32_t)cnt);
		idx++;
		*next = md->num_clusters;
	}
	bsf_store_le32(p + 1, idx * BSF_RLE_REC_SIZE);
	ser_advance(s, BSF_DESC_HDR_SIZE + (size_t)idx * BSF_RLE_REC_SIZE);
}

static int
ser_extents_rle(struct ser *s, const struct bsf_blob_md *md)
{
	uint64_t last = 0;
	int rc;

	while (last < md->num_clusters) {
		ser_extent_rle(s, md, last, &last);
		if (last == md->num_clusters)
			break;
		rc = ser_add_page(s);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
md_check_serializable(const struct bsf_blob_md *md)
{
	const struct bsf_xattr *lists[2] = {md->xattrs, md->xattrs_internal};
	uint32_t counts[2] = {md->num_xattrs, md->num_xattrs_internal};

	if (!bsf_blobid_is_valid(md->id) || md->num_clusters > UINT32_MAX)
		return -EINVAL;
	for (int l = 0; l < 2; l++) {
		for (uint32_t i = 0; i < counts[l]; i++) {
			const struct bsf_xattr *x = &lists[l][i];

			if ((uint32_t)x->name_len + x->value_len > BSF_XATTR_MAX_NAME_VALUE)
				return -EINVAL;
			if ((x->name_len && x->name == NULL) || (x->value_len && x->value == NULL))
				return -EINVAL;
			if (x->name_len && memchr(x->name, '\0', x->name_len) != NULL)
				return -EINVAL;
		}
	}
	if (md->format == BSF_EXTENT_TABLE) {
		if (md->num_extent_pages != bsf_extent_groups(md->num_clusters))
			return -EINVAL;
		if (md->num_extent_pages && md->extent_pages == NULL)
			return -EINVAL;
	} else if (md->format == BSF_EXTENT_RLE) {
		if (md->num_clusters && md->clusters == NULL)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int
ser_build(const struct bsf_blob_md *md, struct ser *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->id = md->id;
	rc = md_check_serializable(md);
	if (rc == 0)
		rc = ser_add_page(s);
	if (rc == 0) {
		ser_flags(s, md);
		rc = ser_xattrs(s, md->xattrs, md->num_xattrs, BSF_DESC_XATTR);
	}
	if (rc == 0)
		rc = ser_xattrs(s, md->xattrs_internal, md->num_xattrs_internal,
				BSF_DESC_XATTR_INTERNAL);
	if (rc == 0)
		rc = md->format == BSF_EXTENT_TABLE ? ser_extent_table(s, md) :
		     ser_extents_rle(s, md);
	if (rc != 0) {
		free(s->buf);
		s->buf = NULL;
		s->count = 0;
	}
	return rc;
}

uint32_t
bsf_md_count_pages(const struct bsf_blob_md *md)
{
	struct ser s;

	if (ser_build(md, &s) != 0)
		return 0;
	free(s.buf);
	return s.count;
}

int
bsf_md_serialize(const struct bsf_blob_md *md, bsf_page_alloc_fn alloc, void *alloc_ctx,
		 struct bsf_md_pages *out)
{
	struct ser s;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ser_build(md, &s);
	if (rc != 0)
		return rc;
	out->idx = calloc(s.count, sizeof(*out->idx));
	if (out->idx == NULL) {
		free(s.buf);
		return -ENOMEM;
	}
	out->idx[0] = bsf_blobid_to_page(md->id);
	out->count = 1;
	/* Pages are claimed only once the chain is built, in chain order, so
	 * the numbers match SPDK's lowest-free-first claims one for one. */
	for (uint32_t k = 1; k < s.count; k++) {
		if (alloc == NULL) {
			rc = -EINVAL;
		} else {
			rc = alloc(alloc_ctx, &out->idx[k]);
		}
		if (rc != 0) {
			free(s.buf);
			return rc;
		}
		out->count = k + 1;
	}
	for (uint32_t k = 0; k < s.count; k++) {
		uint8_t *page = s.buf + (size_t)k * BSF_PAGE_SIZE;

		bsf_store_le32(page + BSF_PAGE_OFF_NEXT,
			       k + 1 < s.count ? out->idx[k + 1] : BSF_PAGE_NEXT_NONE);
		bsf_set_crc(page);
	}
	out->buf = s.buf;
	return 0;
}

void
bsf_md_pages_free(struct bsf_md_pages *p)
{
	free(p->buf);
	free(p->idx);
	memset(p, 0, sizeof(*p));
}

int
bsf_extent_page_encode(blob_id id, const uint32_t *clusters, uint64_t num_clusters,
		       uint32_t group, uint8_t page[BSF_PAGE_SIZE])
{
	uint64_t start = (uint64_t)group * BSF_EXTENTS_PER_EP;
	uint32_t m;
	uint8_t *p;

	if (start >= num_clusters || start > UINT32_MAX || clusters == NULL)
		return -EINVAL;
	m = num_clusters - start < BSF_EXTENTS_PER_EP ? (uint32_t)(num_clusters - start) :
	    BSF_EXTENTS_PER_EP;
	bsf_page_init(page, id, 0, BSF_PAGE_NEXT_NONE);
	p = page + BSF_PAGE_OFF_DESC;
	p[0] = BSF_DESC_EXTENT_PAGE;
	bsf_store_le32(p + 1, 4 + 4 * m);
	bsf_store_le32(p + 5, (uint32_t)start);
	for (uint32_t i = 0; i < m; i++)
		bsf_store_le32(p + 9 + 4 * i, clusters[start + i]);
	bsf_set_crc(page);
	return 0;
}

/* ---- parsing ------------------------------------------------------------------- */

int
bsf_extent_page_decode(const uint8_t page[BSF_PAGE_SIZE], struct bsf_extent_page *ep,
		       struct bsf_diag *diag)
{
	const uint8_t *area = page + BSF_PAGE_OFF_DESC;
	struct bsf_page_hdr hdr;
	uint32_t len, end;

	diag_clear(diag);
	if (!bsf_crc_ok(page))
		return fail(diag, -EILSEQ, "extent page: bad CRC");
	bsf_page_hdr_decode(page, &hdr);
	ep->id = hdr.id;
	if (hdr.sequence_num != 0)
		return fail(diag, -EILSEQ, "extent page: sequence_num %u, expected 0",
			    hdr.sequence_num);
	if (hdr.next != BSF_PAGE_NEXT_NONE)
		return fail(diag, -EILSEQ, "extent page: next %u, expected none", hdr.next);
	if (area[0] != BSF_DESC_EXTENT_PAGE)
		return fail(diag, -EILSEQ, "extent page: first descriptor is %s, not EXTENT_PAGE",
			    bsf_desc_type_name(area[0]));
	len = bsf_load_le32(area + 1);
	if (len < 8 || (len - 4) % 4 != 0 || (len - 4) / 4 > BSF_EXTENTS_PER_EP)
		return fail(diag, -EILSEQ,
			    "extent page: EXTENT_PAGE length %u (must be 4 + 4m, 1 <= m <= 512)", len);
	end = BSF_DESC_HDR_SIZE + len; /* <= 2057, inside the area */
	if (end + BSF_DESC_HDR_SIZE <= BSF_DESC_AREA_SIZE && bsf_load_le32(area + end + 1) != 0)
		return fail(diag, -EILSEQ, "extent page: a second descriptor follows at offset %u",
			    end);
	ep->start_cluster_idx = bsf_load_le32(area + 5);
	ep->count = (len - 4) / 4;
	for (uint32_t i = 0; i < ep->count; i++)
		ep->clusters[i] = bsf_load_le32(area + 9 + 4 * i);
	return 0;
}

void
bsf_md_parse_opts_init(struct bsf_md_parse_opts *opts, size_t opts_size)
{
	memset(opts, 0, opts_size);
	opts->opts_size = opts_size;
	if (opts_size >= offsetof(struct bsf_md_parse_opts, check_continuation) + sizeof(bool))
		opts->check_continuation = true;
}

struct bsf_md_parser {
	struct bsf_md_parse_opts opts;
	struct bsf_blob_md md;          /* accumulating result */
	uint32_t next;                  /* page the caller must feed next */
	uint32_t xattr_cap, ixattr_cap, cluster_cap, chain_cap;
	bool seen_rle, seen_et;
	bool zero_run;                  /* an unallocated RLE run or extent group */
	uint64_t et_groups;             /* extent-table groups recorded so far */
	bool failed;
};

int
bsf_md_parser_create(blob_id id, const struct bsf_md_parse_opts *opts, struct bsf_md_parser **out)
{
	struct bsf_md_parser *p;

	*out = NULL;
	if (opts == NULL || opts->md_len == 0 || !bsf_blobid_is_valid(id))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	/* Fields the caller's (older, smaller) struct lacks keep their defaults. */
	bsf_md_parse_opts_init(&p->opts, sizeof(p->opts));
	memcpy(&p->opts, opts, opts->opts_size < sizeof(p->opts) ? opts->opts_size :
	       sizeof(p->opts));
	p->opts.opts_size = sizeof(p->opts);
	p->md.id = id;
	p->next = bsf_blobid_to_page(id);
	*out = p;
	return 0;
}

void
bsf_md_parser_free(struct bsf_md_parser *p)
{
	if (p == NULL)
		return;
	bsf_blob_md_free(&p->md);
	free(p);
}

/* Grows *arr (of elem-byte entries) so it holds at least `need`. */
static int
grow(void **arr, uint32_t *cap, uint64_t need, size_t elem)
{
	uint64_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	if (ncap > UINT32_MAX)
		ncap = UINT32_MAX;
	if (ncap < need || ncap > SIZE_MAX / elem)
		return -ENOMEM;
	n = realloc(*arr, (size_t)ncap * elem);
	if (n == NULL)
		return -ENOMEM;
	*arr = n;
	*cap = (uint32_t)ncap;
	return 0;
}

static int
parse_xattr(struct bsf_md_parser *p, const struct bsf_desc *d, const char *where,
	    struct bsf_diag *diag)
{
	bool internal = d->type == BSF_DESC_XATTR_INTERNAL;
	struct bsf_xattr **list = internal ? &p->md.xattrs_internal : &p->md.xattrs;
	uint32_t *n = internal ? &p->md.num_xattrs_internal : &p->md.num_xattrs;
	uint32_t *cap = internal ? &p->ixattr_cap : &p->xattr_cap;
	uint16_t nl, vl;
	struct bsf_xattr *x;
	char *block;

	if (d->length < BSF_XATTR_HDR_BODY)
		return fail(diag, -EILSEQ, "%s: %s at offset %u: length %u is too short", where,
			    bsf_desc_type_name(d->type), d->offset, d->length);
	nl = bsf_load_le16(d->body);
	vl = bsf_load_le16(d->body + 2);
	if (d->length != BSF_XATTR_HDR_BODY + (uint32_t)nl + vl)
		return fail(diag, -EILSEQ, "%s: %s at offset %u: length %u != 4 + %u + %u", where,
			    bsf_desc_type_name(d->type), d->offset, d->length, nl, vl);
	if (memchr(d->body + 4, '\0', nl) != NULL)
		return fail(diag, -EILSEQ, "%s: %s at offset %u: name contains NUL", where,
			    bsf_desc_type_name(d->type), d->offset);
	if (grow((void **)list, cap, (uint64_t)*n + 1, sizeof(**list)) != 0)
		return -ENOMEM;
	block = malloc((size_t)nl + 1 + vl);
	if (block == NULL)
		return -ENOMEM;
	memcpy(block, d->body + 4, nl);
	block[nl] = '\0';
	memcpy(block + nl + 1, d->body + 4 + nl, vl);
	x = &(*list)[*n];
	x->name = block;
	x->value = (uint8_t *)block + nl + 1;
	x->name_len = nl;
	x->value_len = vl;
	(*n)++;
	return 0;
}

static int
parse_rle(struct bsf_md_parser *p, const struct bsf_desc *d, const char *where,
	  struct bsf_diag *diag)
{
	uint64_t total = p->md.num_clusters;

	if (p->seen_et)
		return fail(diag, -EILSEQ, "%s: EXTENT_RLE mixed with EXTENT_TABLE", where);
	p->seen_rle = true;
	if (d->length == 0 || d->length % BSF_RLE_REC_SIZE != 0)
		return fail(diag, -EILSEQ, "%s: EXTENT_RLE at offset %u: length %u is not a "
			    "non-zero multiple of 8", where, d->offset, d->length);
	/* First pass: validate every run and the new total before allocating. */
	for (uint32_t r = 0; r < d->length / BSF_RLE_REC_SIZE; r++) {
		uint32_t c = bsf_load_le32(d->body + r * 8);
		uint32_t len = bsf_load_le32(d->body + r * 8 + 4);

		if (c != 0 && ((uint64_t)c + len > (uint64_t)UINT32_MAX + 1 ||
			       (p->opts.total_clusters && (uint64_t)c + len > p->opts.total_clusters)))
			return fail(diag, -EILSEQ, "%s: EXTENT_RLE run %u: clusters %u+%u are "
				    "outside the store", where, r, c, len);
		total += len;
	}
	if (total == 0)
		return fail(diag, -EILSEQ, "%s: EXTENT_RLE at offset %u leaves the blob empty",
			    where, d->offset);
	if (total > UINT32_MAX)
		return fail(diag, -EILSEQ, "%s: EXTENT_RLE: %llu clusters is too many", where,
			    (unsigned long long)total);
	if (grow((void **)&p->md.clusters, &p->cluster_cap, total, sizeof(uint32_t)) != 0)
		return -ENOMEM;
	for (uint32_t r = 0; r < d->length / BSF_RLE_REC_SIZE; r++) {
		uint32_t c = bsf_load_le32(d->body + r * 8);
		uint32_t len = bsf_load_le32(d->body + r * 8 + 4);
		uint32_t *map = p->md.clusters + p->md.num_clusters;

		if (c == 0) {
			memset(map, 0, (size_t)len * sizeof(*map));
			if (len)
				p->zero_run = true;
		} else {
			for (uint32_t i = 0; i < len; i++)
				map[i] = c + i;
		}
		p->md.num_clusters += len;
	}
	return 0;
}

static int
parse_extent_table(struct bsf_md_parser *p, const struct bsf_desc *d, const char *where,
		   struct bsf_diag *diag)
{
	uint64_t n, groups;
	uint32_t records;

	if (p->seen_rle)
		return fail(diag, -EILSEQ, "%s: EXTENT_TABLE mixed with EXTENT_RLE", where);
	if (d->length < BSF_ET_HDR_BODY || (d->length - BSF_ET_HDR_BODY) % BSF_ET_REC_SIZE != 0)
		return fail(diag, -EILSEQ, "%s: EXTENT_TABLE at offset %u: bad length %u", where,
			    d->offset, d->length);
	n = bsf_load_le64(d->body);
	if (!p->seen_et) {
		if (n > UINT32_MAX)
			return fail(diag, -EILSEQ, "%s: EXTENT_TABLE: num_clusters %llu is too large",
				    where, (unsigned long long)n);
		p->seen_et = true;
		p->md.num_clusters = n;
		p->md.num_extent_pages = bsf_extent_groups(n);
		if (p->md.num_extent_pages) {
			p->md.extent_pages = calloc(p->md.num_extent_pages, sizeof(uint32_t));
			if (p->md.extent_pages == NULL)
				return -ENOMEM;
		}
	} else if (n != p->md.num_clusters) {
		return fail(diag, -EILSEQ, "%s: EXTENT_TABLE: num_clusters %llu differs from %llu",
			    where, (unsigned long long)n, (unsigned long long)p->md.num_clusters);
	}
	groups = p->md.num_extent_pages;
	records = (d->length - BSF_ET_HDR_BODY) / BSF_ET_REC_SIZE;
	for (uint32_t r = 0; r < records; r++) {
		uint32_t page = bsf_load_le32(d->body + 8 + r * 8);
		uint32_t num = bsf_load_le32(d->body + 8 + r * 8 + 4);

		if (page != 0) {
			if (num != 1)
				return fail(diag, -EILSEQ, "%s: EXTENT_TABLE record %u: page %u with "
					    "num_pages %u (must be 1)", where, r, page, num);
			if (page >= p->opts.md_len)
				return fail(diag, -EILSEQ, "%s: EXTENT_TABLE record %u: page %u is past "
					    "the metadata region", where, r, page);
		}
		if (p->et_groups + num > groups)
			return fail(diag, -EILSEQ, "%s: EXTENT_TABLE: more groups than %llu clusters "
				    "need (%llu)", where, (unsigned long long)p->md.num_clusters,
				    (unsigned long long)groups);
		if (page != 0)
			p->md.extent_pages[p->et_groups] = page;
		else if (num != 0)
			p->zero_run = true;
		p->et_groups += num;
	}
	return 0;
}

static int
parse_desc(struct bsf_md_parser *p, const struct bsf_desc *d, const char *where,
	   struct bsf_diag *diag)
{
	switch (d->type) {
	case BSF_DESC_EXTENT_RLE:
		return parse_rle(p, d, where, diag);
	case BSF_DESC_XATTR:
	case BSF_DESC_XATTR_INTERNAL:
		return parse_xattr(p, d, where, diag);
	case BSF_DESC_FLAGS:
		if (d->length != BSF_FLAGS_BODY_LEN)
			return fail(diag, -EILSEQ, "%s: FLAGS at offset %u: length %u, expected 24",
				    where, d->offset, d->length);
		/* More than one: the last one wins (§4.6). */
		p->md.invalid_flags = bsf_load_le64(d->body);
		p->md.data_ro_flags = bsf_load_le64(d->body + 8);
		p->md.md_ro_flags = bsf_load_le64(d->body + 16);
		p->md.has_flags = true;
		if (p->md.invalid_flags & ~BSF_INVALID_FLAGS_MASK)
			return fail(diag, -ENOTSUP, "%s: unknown invalid_flags 0x%llx", where,
				    (unsigned long long)(p->md.invalid_flags &
							 ~BSF_INVALID_FLAGS_MASK));
		return 0;
	case BSF_DESC_EXTENT_TABLE:
		return parse_extent_table(p, d, where, diag);
	case BSF_DESC_EXTENT_PAGE:
		return fail(diag, -EILSEQ, "%s: EXTENT_PAGE descriptor inside a metadata chain",
			    where);
	default:
		if (p->opts.reject_unknown)
			return fail(diag, -EILSEQ, "%s: unknown descriptor type %u at offset %u",
				    where, d->type, d->offset);
		p->md.num_unknown_descs++;
		return 0;
	}
}

int
bsf_md_parser_feed(struct bsf_md_parser *p, uint32_t page_idx, const uint8_t page[BSF_PAGE_SIZE],
		   uint32_t *next, struct bsf_diag *diag)
{
	uint32_t k = p->md.num_chain_pages;
	struct bsf_page_hdr hdr;
	struct bsf_desc_iter it;
	struct bsf_desc d;
	char where[48];
	int rc;

	diag_clear(diag);
	*next = BSF_PAGE_NEXT_NONE;
	if (p->failed)
		return -EINVAL;
	if (page_idx != p->next) {
		p->failed = true;
		return fail(diag, -EINVAL, "page %u fed, page %u expected", page_idx, p->next);
	}
	snprintf(where, sizeof(where), "page %u (chain page %u)", page_idx, k);
	p->failed = true; /* until this page parses */
	if (k >= p->opts.md_len)
		return fail(diag, -EILSEQ, "%s: chain longer than the metadata region", where);
	if (!bsf_crc_ok(page))
		return fail(diag, -EILSEQ, "%s: bad CRC", where);
	bsf_page_hdr_decode(page, &hdr);
	if ((k == 0 || p->opts.check_continuation) && hdr.id != p->md.id)
		return fail(diag, -EILSEQ, "%s: id 0x%llx, expected 0x%llx", where,
			    (unsigned long long)hdr.id, (unsigned long long)p->md.id);
	if ((k == 0 || p->opts.check_continuation) && hdr.sequence_num != k)
		return fail(diag, -EILSEQ, "%s: sequence_num %u, expected %u", where,
			    hdr.sequence_num, k);
	if (hdr.next != BSF_PAGE_NEXT_NONE && hdr.next >= p->opts.md_len)
		return fail(diag, -EILSEQ, "%s: next %u is past the metadata region", where,
			    hdr.next);
	if (grow((void **)&p->md.chain_pages, &p->chain_cap, (uint64_t)k + 1, sizeof(uint32_t)))
		return -ENOMEM;
	p->md.chain_pages[k] = page_idx;
	p->md.num_chain_pages = k + 1;

	bsf_desc_iter_init(&it, page);
	while ((rc = bsf_desc_iter_next(&it, &d, diag)) == 1) {
		rc = parse_desc(p, &d, where, diag);
		if (rc != 0)
			return rc;
	}
	if (rc < 0) {
		char msg[sizeof(diag->msg)];

		if (diag != NULL) {
			snprintf(msg, sizeof(msg), "%s", diag->msg);
			fail(diag, rc, "%s: %s", where, msg);
		}
		return rc;
	}
	p->failed = false;
	p->next = hdr.next;
	*next = hdr.next;
	return 0;
}

int
bsf_md_parser_finish(struct bsf_md_parser *p, struct bsf_blob_md *md, struct bsf_diag *diag)
{
	struct bsf_blob_md *m = &p->md;
	const struct bsf_xattr *x;
	bool thin;
	int rc = 0;

	diag_clear(diag);
	memset(md, 0, sizeof(*md));
	if (p->failed || m->num_chain_pages == 0 || p->next != BSF_PAGE_NEXT_NONE) {
		rc = fail(diag, -EINVAL, "blob 0x%llx: chain not completely parsed",
			  (unsigned long long)m->id);
		goto out;
	}
	thin = bsf_blob_md_is_thin(m);
	if (p->seen_et) {
		m->format = BSF_EXTENT_TABLE;
		if (p->et_groups != m->num_extent_pages) {
			rc = fail(diag, -EILSEQ, "blob 0x%llx: extent table has %llu groups, %u needed "
				  "for %llu clusters", (unsigned long long)m->id,
				  (unsigned long long)p->et_groups, m->num_extent_pages,
				  (unsigned long long)m->num_clusters);
			goto out;
		}
		free(m->clusters);
		m->clusters = NULL;
		if (m->num_clusters) {
			m->clusters = calloc(m->num_clusters, sizeof(uint32_t));
			if (m->clusters == NULL) {
				rc = -ENOMEM;
				goto out;
			}
		}
	} else {
		m->format = BSF_EXTENT_RLE;
	}
	if (p->zero_run && !thin) {
		rc = fail(diag, -EILSEQ, "blob 0x%llx: unallocated clusters on a thick blob",
			  (unsigned long long)m->id);
		goto out;
	}
	x = bsf_blob_md_find_xattr(m, true, BSF_XATTR_SNAP);
	if (thin && !(m->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT) && x != NULL &&
	    x->value_len != sizeof(uint64_t)) {
		rc = fail(diag, -EILSEQ, "blob 0x%llx: SNAP xattr is %u bytes, not 8",
			  (unsigned long long)m->id, x->value_len);
		goto out;
	}
	if (m->invalid_flags & BSF_INVALID_EXTERNAL_SNAPSHOT) {
		x = bsf_blob_md_find_xattr(m, true, BSF_XATTR_EXTSNAP);
		if (x == NULL || x->value_len == 0) {
			rc = fail(diag, -EILSEQ, "blob 0x%llx: external snapshot clone without EXTSNAP",
				  (unsigned long long)m->id);
			goto out;
		}
	}
	*md = *m;
	memset(m, 0, sizeof(*m));
out:
	bsf_md_parser_free(p);
	return rc;
}

int
bsf_blob_md_apply_extent_page(struct bsf_blob_md *md, uint32_t group,
			      const uint8_t page[BSF_PAGE_SIZE], struct bsf_diag *diag)
{
	struct bsf_extent_page ep;
	uint64_t start = (uint64_t)group * BSF_EXTENTS_PER_EP;
	uint64_t want;
	int rc;

	if (md->format != BSF_EXTENT_TABLE || group >= md->num_extent_pages ||
	    start >= md->num_clusters || md->clusters == NULL)
		return -EINVAL;
	rc = bsf_extent_page_decode(page, &ep, diag);
	if (rc != 0)
		return rc;
	want = md->num_clusters - start < BSF_EXTENTS_PER_EP ? md->num_clusters - start :
	       BSF_EXTENTS_PER_EP;
	if (ep.start_cluster_idx != start)
		return fail(diag, -EILSEQ, "extent page: start_cluster_idx %u, expected %llu",
			    ep.start_cluster_idx, (unsigned long long)start);
	if (ep.count != want)
		return fail(diag, -EILSEQ, "extent page: %u entries, expected %llu", ep.count,
			    (unsigned long long)want);
	memcpy(md->clusters + start, ep.clusters, (size_t)ep.count * sizeof(uint32_t));
	return 0;
}

int
bsf_blob_md_check_map(const struct bsf_blob_md *md, uint32_t total_clusters,
		      struct bsf_diag *diag)
{
	bool thin = bsf_blob_md_is_thin(md);

	diag_clear(diag);
	if (md->num_clusters && md->clusters == NULL)
		return -EINVAL;
	for (uint64_t i = 0; i < md->num_clusters; i++) {
		uint32_t c = md->clusters[i];

		if (c == 0 && !thin)
			return fail(diag, -EILSEQ, "blob 0x%llx: slot %llu unallocated on a thick blob",
				    (unsigned long long)md->id, (unsigned long long)i);
		if (c != 0 && total_clusters != 0 && c >= total_clusters)
			return fail(diag, -EILSEQ, "blob 0x%llx: slot %llu maps cluster %u, past the "
				    "store's %u clusters", (unsigned long long)md->id,
				    (unsigned long long)i, c, total_clusters);
	}
	return 0;
}

int
bsf_md_parse_blob(blob_id id, const struct bsf_md_parse_opts *opts, bsf_read_page_fn read_page,
		  void *ctx, struct bsf_blob_md *md, struct bsf_diag *diag)
{
	uint8_t *page;
	struct bsf_md_parser *p;
	uint32_t idx = bsf_blobid_to_page(id);
	int rc;

	memset(md, 0, sizeof(*md));
	diag_clear(diag);
	page = malloc(BSF_PAGE_SIZE);
	if (page == NULL)
		return -ENOMEM;
	rc = bsf_md_parser_create(id, opts, &p);
	if (rc != 0)
		goto out;
	if (idx >= opts->md_len) {
		bsf_md_parser_free(p);
		rc = fail(diag, -EINVAL, "blob 0x%llx: root page past the metadata region",
			  (unsigned long long)id);
		goto out;
	}
	do {
		rc = read_page(ctx, idx, page);
		if (rc != 0) {
			fail(diag, rc, "page %u: read failed", idx);
			break;
		}
		rc = bsf_md_parser_feed(p, idx, page, &idx, diag);
	} while (rc == 0 && idx != BSF_PAGE_NEXT_NONE);
	if (rc != 0) {
		bsf_md_parser_free(p);
		goto out;
	}
	rc = bsf_md_parser_finish(p, md, diag);
	if (rc != 0)
		goto out;
	for (uint32_t k = 0; k < md->num_extent_pages && rc == 0; k++) {
		char msg[sizeof(diag->msg)];

		if (md->extent_pages[k] == 0)
			continue;
		rc = read_page(ctx, md->extent_pages[k], page);
		if (rc != 0) {
			fail(diag, rc, "page %u: read failed", md->extent_pages[k]);
			break;
		}
		rc = bsf_blob_md_apply_extent_page(md, k, page, diag);
		if (rc != 0 && diag != NULL) {
			snprintf(msg, sizeof(msg), "%s", diag->msg);
			fail(diag, rc, "page %u (extent page of group %u): %s", md->extent_pages[k], k,
			     msg);
		}
	}
	if (rc == 0)
		rc = bsf_blob_md_check_map(md, opts->total_clusters, diag);
	if (rc != 0)
		bsf_blob_md_free(md);
out:
	free(page);
	return rc;
}

/* ---- recovery claims ---------------------------------------------------------------- */

int
bsf_md_page_claims(const uint8_t page[BSF_PAGE_SIZE], const struct bsf_claim_ops *ops, void *ctx,
		   struct bsf_diag *diag)
{
	struct bsf_desc_iter it;
	struct bsf_desc d;
	int rc;

	diag_clear(diag);
	bsf_desc_iter_init(&it, page);
	while ((rc = bsf_desc_iter_next(&it, &d, diag)) == 1) {
		switch (d.type) {
		case BSF_DESC_EXTENT_RLE:
			for (uint32_t r = 0; r < d.length / BSF_RLE_REC_SIZE; r++) {
				uint32_t c = bsf_load_le32(d.body + r * 8);
				uint32_t len = bsf_load_le32(d.body + r * 8 + 4);

				if (c != 0 && len != 0 && ops->cluster_run != NULL) {
					rc = ops->cluster_run(ctx, c, len);
					if (rc != 0)
						return rc;
				}
			}
			break;
		case BSF_DESC_EXTENT_TABLE:
			if (d.length < BSF_ET_HDR_BODY)
				break;
			for (uint32_t r = 0; r < (d.length - BSF_ET_HDR_BODY) / BSF_ET_REC_SIZE; r++) {
				uint32_t pg = bsf_load_le32(d.body + 8 + r * 8);
				uint32_t num = bsf_load_le32(d.body + 8 + r * 8 + 4);

				if (pg == 0)
					continue;
				if (num != 1)
					return fail(diag, -EILSEQ, "EXTENT_TABLE record %u: page %u with "
						    "num_pages %u", r, pg, num);
				if (ops->extent_page != NULL) {
					rc = ops->extent_page(ctx, pg);
					if (rc != 0)
						return rc;
				}
			}
			break;
		case BSF_DESC_EXTENT_PAGE:
			/* Never written in a chain; SPDK's replay would claim its
			 * entries, so we do too. */
			for (uint32_t i = 1; i < d.length / 4; i++) {
				uint32_t c = bsf_load_le32(d.body + 4 * i);

				if (c != 0 && ops->cluster_run != NULL) {
					rc = ops->cluster_run(ctx, c, 1);
					if (rc != 0)
						return rc;
				}
			}
			break;
		case BSF_DESC_XATTR:
		case BSF_DESC_XATTR_INTERNAL:
		case BSF_DESC_FLAGS:
			break;
		default:
			return fail(diag, -EILSEQ, "unknown descriptor type %u at offset %u", d.type,
				    d.offset);
		}
	}
	return rc < 0 ? rc : 0;
}
