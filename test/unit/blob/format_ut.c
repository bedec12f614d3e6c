/*
 * Unit tests for lib/blob/format.c: the on-disk codec.
 *
 * The spec's test vectors are checked byte for byte (§2.2 CRC, §9.3
 * superblocks, §9.4 minimal root page, §9.1/§9.5 layouts); every
 * rejection rule of §4.5-§4.9 gets a crafted page; corrupt pages are
 * thrown at the parser in bulk so ASan can see any out-of-bounds read;
 * and the SPDK-written fixture is parsed, walked and re-encoded to the
 * identical bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../lib/blob/format.h"

#define PAGE BSF_PAGE_SIZE

/* ---- helpers --------------------------------------------------------------------- */

/* An in-memory metadata region, pages addressed by region index. */
struct region {
	uint8_t *pages;
	uint32_t md_len;
	uint32_t next_free;     /* sequential allocator */
	uint32_t alloc_fail_at; /* fail the n-th allocation (1-based), 0 = never */
	uint32_t allocs;
};

static struct region *
region_create(uint32_t md_len)
{
	struct region *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->pages = calloc(md_len, PAGE);
	assert_non_null(r->pages);
	r->md_len = md_len;
	r->next_free = 1;
	return r;
}

static void
region_free(struct region *r)
{
	free(r->pages);
	free(r);
}

static uint8_t *
region_page(struct region *r, uint32_t idx)
{
	assert_true(idx < r->md_len);
	return r->pages + (size_t)idx * PAGE;
}

static int
region_read(void *ctx, uint32_t idx, uint8_t page[PAGE])
{
	struct region *r = ctx;

	if (idx >= r->md_len)
		return -EIO;
	memcpy(page, r->pages + (size_t)idx * PAGE, PAGE);
	return 0;
}

static int
region_alloc(void *ctx, uint32_t *idx)
{
	struct region *r = ctx;

	r->allocs++;
	if (r->alloc_fail_at && r->allocs == r->alloc_fail_at)
		return -ENOSPC;
	if (r->next_free >= r->md_len)
		return -ENOSPC;
	*idx = r->next_free++;
	return 0;
}

static void
region_store_chain(struct region *r, const struct bsf_md_pages *p)
{
	for (uint32_t k = 0; k < p->count; k++)
		memcpy(region_page(r, p->idx[k]), p->buf + (size_t)k * PAGE, PAGE);
}

static void
parse_opts(struct bsf_md_parse_opts *o, uint32_t md_len, uint32_t total_clusters)
{
	bsf_md_parse_opts_init(o, sizeof(*o));
	o->md_len = md_len;
	o->total_clusters = total_clusters;
}

/* Serializes md (and its extent pages) into r, returns the chain length. */
static uint32_t
store_blob(struct region *r, struct bsf_blob_md *md)
{
	struct bsf_md_pages p;
	uint32_t count;

	if (md->format == BSF_EXTENT_TABLE) {
		for (uint32_t k = 0; k < md->num_extent_pages; k++) {
			if (md->extent_pages[k] == 0)
				continue;
			assert_int_equal(bsf_extent_page_encode(md->id, md->clusters,
								md->num_clusters, k,
								region_page(r, md->extent_pages[k])), 0);
		}
	}
	assert_int_equal(bsf_md_serialize(md, region_alloc, r, &p), 0);
	assert_int_equal(p.count, bsf_md_count_pages(md));
	region_store_chain(r, &p);
	count = p.count;
	bsf_md_pages_free(&p);
	return count;
}

static void
assert_md_equal(const struct bsf_blob_md *a, const struct bsf_blob_md *b)
{
	assert_true(a->id == b->id);
	assert_true(a->invalid_flags == b->invalid_flags);
	assert_true(a->data_ro_flags == b->data_ro_flags);
	assert_true(a->md_ro_flags == b->md_ro_flags);
	assert_int_equal(a->format, b->format);
	assert_true(a->num_clusters == b->num_clusters);
	if (a->num_clusters)
		assert_memory_equal(a->clusters, b->clusters, a->num_clusters * sizeof(uint32_t));
	if (a->format == BSF_EXTENT_TABLE) {
		assert_int_equal(a->num_extent_pages, b->num_extent_pages);
		if (a->num_extent_pages)
			assert_memory_equal(a->extent_pages, b->extent_pages,
					    a->num_extent_pages * sizeof(uint32_t));
	}
	assert_int_equal(a->num_xattrs, b->num_xattrs);
	for (uint32_t i = 0; i < a->num_xattrs; i++) {
		assert_int_equal(a->xattrs[i].name_len, b->xattrs[i].name_len);
		assert_int_equal(a->xattrs[i].value_len, b->xattrs[i].value_len);
		assert_memory_equal(a->xattrs[i].name, b->xattrs[i].name, a->xattrs[i].name_len);
		if (a->xattrs[i].value_len)
			assert_memory_equal(a->xattrs[i].value, b->xattrs[i].value,
					    a->xattrs[i].value_len);
	}
	assert_int_equal(a->num_xattrs_internal, b->num_xattrs_internal);
	for (uint32_t i = 0; i < a->num_xattrs_internal; i++) {
		assert_int_equal(a->xattrs_internal[i].name_len, b->xattrs_internal[i].name_len);
		assert_memory_equal(a->xattrs_internal[i].name, b->xattrs_internal[i].name,
				    a->xattrs_internal[i].name_len);
		assert_int_equal(a->xattrs_internal[i].value_len, b->xattrs_internal[i].value_len);
	}
}

static bool g_quiet; /* the corruption loop rejects thousands of pages */

/* Parses blob `id` from r and returns the parser's result. */
static int
parse(struct region *r, blob_id id, struct bsf_blob_md *out, uint32_t total_clusters)
{
	struct bsf_md_parse_opts o;
	struct bsf_diag diag;
	int rc;

	parse_opts(&o, r->md_len, total_clusters);
	rc = bsf_md_parse_blob(id, &o, region_read, r, out, &diag);
	if (rc != 0 && !g_quiet)
		print_message("  parse: %d %s\n", rc, diag.msg);
	return rc;
}

/* A hand-built root page: header + descriptors appended with put_desc. */
struct craft {
	uint8_t page[PAGE];
	uint32_t off;
};

static void
craft_init(struct craft *c, blob_id id, uint32_t seq, uint32_t next)
{
	bsf_page_init(c->page, id, seq, next);
	c->off = 0;
}

static uint8_t *
craft_desc(struct craft *c, uint8_t type, uint32_t len)
{
	uint8_t *p = c->page + BSF_PAGE_OFF_DESC + c->off;

	assert_true(c->off + 5 + len <= BSF_DESC_AREA_SIZE);
	p[0] = type;
	bsf_store_le32(p + 1, len);
	c->off += 5 + len;
	return p + 5;
}

static void
craft_flags(struct craft *c, uint64_t inv, uint64_t dro, uint64_t mro)
{
	uint8_t *b = craft_desc(c, BSF_DESC_FLAGS, 24);

	bsf_store_le64(b, inv);
	bsf_store_le64(b + 8, dro);
	bsf_store_le64(b + 16, mro);
}

static void
craft_xattr(struct craft *c, uint8_t type, const char *name, const void *val, uint16_t vl)
{
	uint16_t nl = (uint16_t)strlen(name);
	uint8_t *b = craft_desc(c, type, 4u + nl + vl);

	bsf_store_le16(b, nl);
	bsf_store_le16(b + 2, vl);
	memcpy(b + 4, name, nl);
	memcpy(b + 4 + nl, val, vl);
}

static void
craft_rle(struct craft *c, const uint32_t *recs, uint32_t nrec)
{
	uint8_t *b = craft_desc(c, BSF_DESC_EXTENT_RLE, nrec * 8);

	for (uint32_t i = 0; i < nrec * 2; i++)
		bsf_store_le32(b + 4 * i, recs[i]);
}

static void
craft_et(struct craft *c, uint64_t n, const uint32_t *recs, uint32_t nrec)
{
	uint8_t *b = craft_desc(c, BSF_DESC_EXTENT_TABLE, 8 + nrec * 8);

	bsf_store_le64(b, n);
	for (uint32_t i = 0; i < nrec * 2; i++)
		bsf_store_le32(b + 8 + 4 * i, recs[i]);
}

/* Stores the crafted page (with CRC) at region page idx. */
static void
craft_put(struct craft *c, struct region *r, uint32_t idx)
{
	bsf_set_crc(c->page);
	memcpy(region_page(r, idx), c->page, PAGE);
}

static int
parse_crafted(struct region *r, uint32_t root, struct bsf_blob_md *md)
{
	return parse(r, bsf_page_to_blobid(root), md, 0);
}

static uint32_t g_rng = 12345;

static uint32_t
rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 17;
	g_rng ^= g_rng << 5;
	return g_rng;
}

/* ---- checksum and superblock (§2) ------------------------------------------------ */

static void
test_crc_vectors(void **state)
{
	uint8_t page[PAGE] = {0};

	assert_int_equal(bsf_crc(page), 0xA732586Eu);
	assert_false(bsf_crc_ok(page)); /* an erased page never passes */
	bsf_set_crc(page);
	assert_true(bsf_crc_ok(page));
	assert_int_equal(bsf_load_le32(page + 4092), 0xA732586Eu);
}

static const uint8_t g_sb93[96] = {
	0x53, 0x50, 0x44, 0x4b, 0x42, 0x4c, 0x4f, 0x42, 0x03, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x4c, 0x56, 0x4f, 0x4c, 0x53, 0x54, 0x4f, 0x52,
	0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
};

static void
layout_1g(struct bsf_layout *l, uint32_t cluster, uint32_t phys)
{
	struct bsf_layout_params p;

	bsf_layout_params_init(&p, sizeof(p));
	p.dev_size = 1ull << 30;
	p.blocklen = 4096;
	p.phys_blocklen = phys;
	p.cluster_size = cluster;
	assert_int_equal(bsf_layout_compute(&p, l), 0);
}

static void
make_sb93(struct bsf_super *sb, bool lvol, uint32_t clean)
{
	struct bsf_layout l;

	layout_1g(&l, 4u << 20, 4096);
	bsf_super_init(sb);
	bsf_layout_to_super(&l, sb);
	sb->clean = clean;
	if (lvol) {
		bsf_bstype_set(sb->bstype, BSF_BSTYPE_LVOLSTORE);
		sb->super_blob = BSF_BLOBID_BASE;
	}
}

static void
test_super_vectors(void **state)
{
	struct bsf_super sb, back;
	uint8_t buf[PAGE];

	make_sb93(&sb, true, 1);
	bsf_super_encode(&sb, buf);
	assert_memory_equal(buf, g_sb93, sizeof(g_sb93));
	assert_true(bsf_is_zero(buf + 96, 4092 - 96));
	assert_int_equal(bsf_load_le32(buf + 4092), 0xD03A31A7u);
	assert_int_equal(buf[4092], 0xa7);
	assert_int_equal(buf[4095], 0xd0);

	make_sb93(&sb, true, 0);
	bsf_super_encode(&sb, buf);
	assert_int_equal(bsf_load_le32(buf + 4092), 0xA80CAC15u);

	make_sb93(&sb, false, 0);
	bsf_super_encode(&sb, buf);
	assert_int_equal(bsf_load_le32(buf + 4092), 0x0D578916u);
	make_sb93(&sb, false, 1);
	bsf_super_encode(&sb, buf);
	assert_int_equal(bsf_load_le32(buf + 4092), 0x756114A4u);

	/* Decode gives the same fields back (padding zeroed on both sides). */
	make_sb93(&sb, true, 1);
	memset(&back, 0, sizeof(back));
	bsf_super_encode(&sb, buf);
	assert_int_equal(bsf_super_decode(buf, (const uint8_t *)"LVOLSTORE\0\0\0\0\0\0\0",
					  1ull << 30, &back, NULL), 0);
	assert_memory_equal(&sb, &back, sizeof(sb));
}

static void
test_super_update_keeps_reserved(void **state)
{
	struct bsf_super sb;
	uint8_t buf[PAGE];

	make_sb93(&sb, true, 0);
	bsf_super_encode(&sb, buf);
	buf[200] = 0x5a; /* some other writer's reserved byte */
	sb.clean = 1;
	bsf_super_update(&sb, buf);
	assert_int_equal(buf[200], 0x5a);
	assert_true(bsf_crc_ok(buf));
	assert_int_equal(bsf_load_le32(buf + BSF_SB_OFF_CLEAN), 1);
}

static void
test_super_decode_order(void **state)
{
	struct bsf_super sb, out;
	struct bsf_diag diag;
	uint8_t good[PAGE], buf[PAGE];
	uint8_t want[16] = {0};

	make_sb93(&sb, true, 1);
	bsf_super_encode(&sb, good);

	/* 1. version, checked before the signature. */
	memcpy(buf, good, PAGE);
	bsf_store_le32(buf + BSF_SB_OFF_VERSION, 4);
	buf[0] = 'X';
	assert_int_equal(bsf_super_decode(buf, NULL, 0, &out, &diag), -EILSEQ);
	assert_non_null(strstr(diag.msg, "version"));
	bsf_store_le32(buf + BSF_SB_OFF_VERSION, 0);
	assert_int_equal(bsf_super_decode(buf, NULL, 0, &out, NULL), -EILSEQ);
	/* 2. signature, checked before the CRC. */
	bsf_store_le32(buf + BSF_SB_OFF_VERSION, 3);
	assert_int_equal(bsf_super_decode(buf, NULL, 0, &out, &diag), -EILSEQ);
	assert_non_null(strstr(diag.msg, "signature"));
	/* Versions 1 and 2 are accepted (with a valid CRC). */
	memcpy(buf, good, PAGE);
	bsf_store_le32(buf + BSF_SB_OFF_VERSION, 1);
	bsf_set_crc(buf);
	assert_int_equal(bsf_super_decode(buf, NULL, 0, &out, NULL), 0);
	/* 3. CRC. */
	memcpy(buf, good, PAGE);
	buf[300] ^= 1; /* reserved, but covered */
	assert_int_equal(bsf_super_decode(buf, NULL, 0, &out, &diag), -EILSEQ);
	assert_non_null(strstr(diag.msg, "CRC"));
	/* 4. bstype: zero accepts anything; a different tag is -ENXIO. */
	assert_int_equal(bsf_super_decode(good, want, 0, &out, NULL), 0);
	bsf_bstype_set(want, "LVOLSTORE");
	assert_int_equal(bsf_super_decode(good, want, 0, &out, NULL), 0);
	bsf_bstype_set(want, "LVOLSTOR");
	assert_int_equal(bsf_super_decode(good, want, 0, &out, NULL), -ENXIO);
	bsf_bstype_set(want, "OTHER");
	assert_int_equal(bsf_super_decode(good, want, 0, &out, NULL), -ENXIO);
	/* 5. size larger than the device; a larger device is fine. */
	assert_int_equal(bsf_super_decode(good, NULL, (1ull << 30) - 4096, &out, NULL), -EINVAL);
	assert_int_equal(bsf_super_decode(good, NULL, 2ull << 30, &out, NULL), 0);
	/* Legacy zeros: size 0 takes the device size. */
	sb.size = 0;
	sb.io_unit_size = 0;
	sb.md_page_size = 0;
	bsf_super_encode(&sb, buf);
	assert_int_equal(bsf_super_decode(buf, NULL, 1ull << 30, &out, NULL), 0);
	assert_int_equal(bsf_super_decode(buf, NULL, 0, &out, NULL), -EINVAL);
}

static void
test_super_decode_hostile_geometry(void **state)
{
	struct bsf_super sb, out;
	struct bsf_diag diag;
	uint8_t buf[PAGE];
	struct {
		const char *what;
		size_t off;
		uint32_t val;
	} cases[] = {
		{"cluster 0", BSF_SB_OFF_CLUSTER_SIZE, 0},
		{"cluster not 4k", BSF_SB_OFF_CLUSTER_SIZE, 4096 * 3 + 512},
		{"md page 5000", BSF_SB_OFF_MD_PAGE_SIZE, 5000},
		{"page > cluster", BSF_SB_OFF_MD_PAGE_SIZE, 8u << 20},
		{"io unit 3000", BSF_SB_OFF_IO_UNIT_SIZE, 3000},
		{"md_len 0", BSF_SB_OFF_MD_LEN, 0},
		{"md past end", BSF_SB_OFF_MD_LEN, 0xFFFFFFF0u},
		{"md_start huge", BSF_SB_OFF_MD_START, 0xFFFFFFFFu},
		{"page mask at 0", BSF_SB_OFF_PAGE_MASK_START, 0},
		{"page mask overlaps cluster mask", BSF_SB_OFF_PAGE_MASK_LEN, 2},
		{"cluster mask in md region", BSF_SB_OFF_CLUSTER_MASK_START, 4},
		{"blobid mask overlaps", BSF_SB_OFF_BLOBID_MASK_START, 2},
		{"page mask len 0", BSF_SB_OFF_PAGE_MASK_LEN, 0},
		{"cluster mask len 0", BSF_SB_OFF_CLUSTER_MASK_LEN, 0},
	};

	for (size_t i = 0; i < COUNTOF(cases); i++) {
		make_sb93(&sb, true, 1);
		bsf_super_encode(&sb, buf);
		bsf_store_le32(buf + cases[i].off, cases[i].val);
		bsf_set_crc(buf);
		if (bsf_super_decode(buf, NULL, 0, &out, &diag) != -EINVAL)
			fail_msg("case '%s' was accepted", cases[i].what);
	}
	/* A size of 0 with no device size; a size smaller than one cluster. */
	make_sb93(&sb, true, 1);
	sb.size = 4096;
	bsf_super_encode(&sb, buf);
	assert_int_equal(bsf_super_decode(buf, NULL, 0, &out, NULL), -EINVAL);
}

/* ---- layout (§9.1, §9.5) ---------------------------------------------------------- */

static void
test_layout_1g_4m(void **state)
{
	struct bsf_layout l;

	layout_1g(&l, 4u << 20, 0);
	assert_int_equal(l.md_page_size, 4096);
	assert_int_equal(l.total_clusters, 256);
	assert_int_equal(l.pages_per_cluster, 1024);
	assert_int_equal(l.md_len, 256);
	assert_int_equal(l.used_page_mask_start, 1);
	assert_int_equal(l.used_page_mask_len, 1);
	assert_int_equal(l.used_cluster_mask_start, 2);
	assert_int_equal(l.used_cluster_mask_len, 1);
	assert_int_equal(l.cluster_mask_reserved, 1);
	assert_int_equal(l.used_blobid_mask_start, 3);
	assert_int_equal(l.used_blobid_mask_len, 1);
	assert_int_equal(l.md_start, 4);
	assert_int_equal(l.num_md_clusters, 1);
	assert_true(l.size == (1ull << 30));
	assert_int_equal(l.io_unit_size, 4096);
	assert_true(bsf_layout_max_clusters(&l) == 32728);
	assert_true(bsf_layout_max_clusters(&l) * (4u << 20) == 137271181312ull);
	assert_true(bsf_md_page_offset(&l, 0) == 0x4000);
	assert_true(bsf_md_page_offset(&l, 2) == 0x6000);
	assert_true(bsf_cluster_offset(&l, 1) == 0x400000);
	/* lvolstore ratio 100 gives the same md_len. */
	assert_int_equal(bsf_md_pages_for_ratio(256, 100), 256);
	assert_int_equal(bsf_md_pages_for_ratio(256, 50), 128);
}

static void
test_layout_1g_1m(void **state)
{
	struct bsf_layout l;

	layout_1g(&l, 1u << 20, 0);
	assert_int_equal(l.total_clusters, 1024);
	assert_int_equal(l.md_len, 1024);
	assert_int_equal(l.used_page_mask_start, 1);
	assert_int_equal(l.used_cluster_mask_start, 2);
	assert_int_equal(l.used_blobid_mask_start, 3);
	assert_int_equal(l.md_start, 4);
	assert_int_equal(l.pages_per_cluster, 256);
	assert_int_equal(l.num_md_clusters, 5);
}

static void
test_layout_16k_pages(void **state)
{
	struct bsf_layout l;

	layout_1g(&l, 4u << 20, 16384);
	assert_int_equal(l.md_page_size, 16384);
	assert_int_equal(l.pages_per_cluster, 256);
	assert_true(bsf_abs_page_offset(&l, l.used_page_mask_start) == 0x4000);
	assert_true(bsf_abs_page_offset(&l, l.used_cluster_mask_start) == 0x8000);
	assert_true(bsf_abs_page_offset(&l, l.used_blobid_mask_start) == 0xC000);
	assert_int_equal(l.md_start, 4);
	assert_int_equal(l.md_len, 256);
	assert_true(bsf_md_page_offset(&l, l.md_len) == 0x410000);
	assert_int_equal(l.num_md_clusters, 2);
	assert_true(bsf_md_page_offset(&l, 3) == 0x10000 + 3 * 0x4000);
}

static void
test_layout_multipage_masks_and_errors(void **state)
{
	struct bsf_layout_params p;
	struct bsf_layout l, from;
	struct bsf_super sb;

	/* 64 GiB, 64 KiB clusters: 1M clusters, 1M md pages -> 32+ mask pages. */
	bsf_layout_params_init(&p, sizeof(p));
	p.dev_size = 64ull << 30;
	p.blocklen = 512;
	p.cluster_size = 64 << 10;
	p.num_md_pages = 0;
	assert_int_equal(bsf_layout_compute(&p, &l), 0);
	assert_int_equal(l.total_clusters, 1u << 20);
	assert_int_equal(l.used_page_mask_len, bsf_mask_pages(1u << 20, 4096));
	assert_int_equal(l.used_page_mask_len, 33); /* 5 + 131072 bytes */
	assert_int_equal(l.used_cluster_mask_start, 34);
	assert_int_equal(l.used_blobid_mask_start, 34 + 33);
	assert_int_equal(l.md_start, 34 + 33 + 33);
	assert_int_equal(l.io_unit_size, 512);
	/* Round trip through a superblock. */
	bsf_super_init(&sb);
	bsf_layout_to_super(&l, &sb);
	assert_int_equal(bsf_layout_from_super(&sb, p.dev_size, &from, NULL), 0);
	assert_memory_equal(&l, &from, sizeof(l));

	/* Fewer md pages than clusters: R follows the cluster mask. */
	p.num_md_pages = 100;
	assert_int_equal(bsf_layout_compute(&p, &l), 0);
	assert_int_equal(l.used_page_mask_len, 1);
	assert_int_equal(l.cluster_mask_reserved, 33);

	/* Constraint violations. */
	p.num_md_pages = 0;
	p.cluster_size = 0;
	assert_int_equal(bsf_layout_compute(&p, &l), -EINVAL);
	p.cluster_size = 6000;
	assert_int_equal(bsf_layout_compute(&p, &l), -EINVAL);
	p.cluster_size = 4096;
	p.md_page_size = 8192; /* cluster smaller than the page */
	assert_int_equal(bsf_layout_compute(&p, &l), -EINVAL);
	p.md_page_size = 0;
	p.dev_size = 2048;
	assert_int_equal(bsf_layout_compute(&p, &l), -EINVAL);
	/* Metadata does not fit: 16 MiB device, 4 KiB clusters, huge md_len. */
	p.dev_size = 16 << 20;
	p.num_md_pages = 100000;
	assert_int_equal(bsf_layout_compute(&p, &l), -ENOSPC);
}

/* ---- masks (§3) ----------------------------------------------------------------- */

static void
test_mask_roundtrip(void **state)
{
	uint32_t bits[] = {0, 1, 7, 8, 255, 256, 32767, 32768, 40000, 65535};
	struct bit_array *ba = bit_array_create(70000), *back = bit_array_create(70000);
	size_t len = 2 * PAGE + 5000; /* spans pages */
	uint8_t *buf = malloc(len);
	uint32_t recorded;

	for (size_t i = 0; i < COUNTOF(bits); i++)
		bit_array_set(ba, bits[i]);
	bit_array_set(ba, 69999); /* past `length`: not written */
	assert_int_equal(bsf_mask_encode(BSF_MASK_USED_CLUSTERS, ba, 65536, buf, len), 0);
	assert_int_equal(buf[0], 1);
	assert_int_equal(bsf_load_le32(buf + 1), 65536);
	assert_int_equal(buf[5], 0x83);           /* bits 0, 1, 7 */
	assert_int_equal(buf[5 + 1], 0x01);       /* bit 8 */
	assert_int_equal(buf[5 + 32767 / 8], 0x80);
	assert_true(bsf_mask_tail_is_zero(buf, len, 65536));
	assert_int_equal(bsf_mask_decode(buf, len, BSF_MASK_USED_CLUSTERS, 65536, back, &recorded,
					 NULL), 0);
	assert_int_equal(recorded, 65536);
	assert_int_equal(bit_array_count_set(back), COUNTOF(bits));
	for (size_t i = 0; i < COUNTOF(bits); i++)
		assert_true(bit_array_get(back, bits[i]));
	/* A longer cluster mask (interrupted grow) is truncated. */
	assert_int_equal(bsf_mask_decode(buf, len, BSF_MASK_USED_CLUSTERS, 40000, back, NULL,
					 NULL), 0);
	assert_int_equal(bit_array_count_set(back), 8); /* bits < 40000 */
	assert_false(bit_array_get(back, 40000));
	/* Too small a buffer. */
	assert_int_equal(bsf_mask_encode(BSF_MASK_USED_PAGES, ba, 65536, buf, 5 + 8191), -ENOSPC);
	/* A bit array smaller than length writes zeros past its end. */
	assert_int_equal(bsf_mask_encode(BSF_MASK_USED_PAGES, ba, 80000, buf, len), 0);
	assert_int_equal(bsf_load_le32(buf + 1), 80000);
	free(buf);
	bit_array_free(&ba);
	bit_array_free(&back);
}

static void
test_mask_decode_rules(void **state)
{
	struct bit_array *ba = bit_array_create(256), *small = bit_array_create(10);
	uint8_t buf[PAGE];
	struct bsf_diag diag;

	bit_array_set(ba, 0);
	bit_array_set(ba, 3);
	assert_int_equal(bsf_mask_encode(BSF_MASK_USED_BLOBIDS, ba, 256, buf, PAGE), 0);
	/* §9.3 illustration: "02 | 00 01 00 00 | 09". */
	assert_int_equal(buf[0], 2);
	assert_int_equal(bsf_load_le32(buf + 1), 256);
	assert_int_equal(buf[5], 0x09);
	/* Type mismatch. */
	assert_int_equal(bsf_mask_decode(buf, PAGE, BSF_MASK_USED_PAGES, 256, ba, NULL, &diag),
			 -EILSEQ);
	assert_non_null(strstr(diag.msg, "type"));
	/* Page and blob-id masks need the exact length. */
	assert_int_equal(bsf_mask_decode(buf, PAGE, BSF_MASK_USED_BLOBIDS, 255, ba, NULL, NULL),
			 -EILSEQ);
	assert_int_equal(bsf_mask_decode(buf, PAGE, BSF_MASK_USED_BLOBIDS, 257, ba, NULL, NULL),
			 -EILSEQ);
	/* A cluster mask shorter than total_clusters is rejected. */
	buf[0] = 1;
	assert_int_equal(bsf_mask_decode(buf, PAGE, BSF_MASK_USED_CLUSTERS, 257, ba, NULL, NULL),
			 -EILSEQ);
	/* A length whose bits run past the area. */
	bsf_store_le32(buf + 1, 0xFFFFFFFF);
	assert_int_equal(bsf_mask_decode(buf, PAGE, BSF_MASK_USED_CLUSTERS, 256, ba, NULL, NULL),
			 -EILSEQ);
	assert_false(bsf_mask_tail_is_zero(buf, PAGE, 0xFFFFFFFF));
	/* A header-only buffer. */
	assert_int_equal(bsf_mask_decode(buf, 3, BSF_MASK_USED_CLUSTERS, 0, ba, NULL, NULL),
			 -EILSEQ);
	/* Capacity too small for expect_len. */
	bsf_store_le32(buf + 1, 256);
	assert_int_equal(bsf_mask_decode(buf, PAGE, BSF_MASK_USED_CLUSTERS, 256, small, NULL,
					 NULL), -EINVAL);
	/* Tail checks: a stray bit past length, a stray byte at the end. */
	assert_true(bsf_mask_tail_is_zero(buf, PAGE, 256));
	bsf_store_le32(buf + 1, 2);
	assert_false(bsf_mask_tail_is_zero(buf, PAGE, 2)); /* bit 3 set */
	bsf_store_le32(buf + 1, 256);
	buf[PAGE - 1] = 1;
	assert_false(bsf_mask_tail_is_zero(buf, PAGE, 256));
	bit_array_free(&ba);
	bit_array_free(&small);
}

/* ---- descriptor framing (§4.4) ------------------------------------------------------ */

static int
count_descs(const uint8_t *page, int *err)
{
	struct bsf_desc_iter it;
	struct bsf_desc d;
	int n = 0, rc;

	bsf_desc_iter_init(&it, page);
	while ((rc = bsf_desc_iter_next(&it, &d, NULL)) == 1) {
		assert_true(d.offset + 5 + (uint64_t)d.length <= BSF_DESC_AREA_SIZE);
		n++;
	}
	*err = rc;
	return n;
}

static void
test_desc_iter_framing(void **state)
{
	uint8_t page[PAGE];
	uint8_t *a = page + BSF_PAGE_OFF_DESC;
	int err;

	/* Empty page. */
	memset(page, 0, PAGE);
	assert_int_equal(count_descs(page, &err), 0);
	assert_int_equal(err, 0);
	/* Padding is skipped; the zero header terminates. */
	a[0] = 0;
	bsf_store_le32(a + 1, 10);
	a[15] = BSF_DESC_XATTR;
	bsf_store_le32(a + 16, 4);
	assert_int_equal(count_descs(page, &err), 1);
	/* Data after the terminator is never seen. */
	a[24] = 0;
	bsf_store_le32(a + 25, 0);
	a[29] = BSF_DESC_FLAGS;
	bsf_store_le32(a + 30, 24);
	assert_int_equal(count_descs(page, &err), 1);
	/* A descriptor ending exactly at the end of the area. */
	memset(page, 0, PAGE);
	a[0] = 9;
	bsf_store_le32(a + 1, BSF_DESC_AREA_SIZE - 5);
	assert_int_equal(count_descs(page, &err), 1);
	assert_int_equal(err, 0);
	/* One byte too long: rejected, never read. */
	bsf_store_le32(a + 1, BSF_DESC_AREA_SIZE - 4);
	assert_int_equal(count_descs(page, &err), 0);
	assert_int_equal(err, -EILSEQ);
	bsf_store_le32(a + 1, 0xFFFFFFFF);
	assert_int_equal(count_descs(page, &err), 0);
	assert_int_equal(err, -EILSEQ);
	/* Padding that runs past the end just ends the page. */
	a[0] = 0;
	assert_int_equal(count_descs(page, &err), 0);
	assert_int_equal(err, 0);
	/* "o + 5 > 4072: stop": a descriptor leaving 4 bytes; the garbage
	 * in those 4 bytes is not a header. */
	memset(page, 0, PAGE);
	a[0] = BSF_DESC_XATTR;
	bsf_store_le32(a + 1, BSF_DESC_AREA_SIZE - 5 - 4);
	memset(a + BSF_DESC_AREA_SIZE - 4, 0xff, 4);
	assert_int_equal(count_descs(page, &err), 1);
	assert_int_equal(err, 0);
	/* Leaving exactly 5 bytes: a header is read there. */
	bsf_store_le32(a + 1, BSF_DESC_AREA_SIZE - 5 - 5);
	a[BSF_DESC_AREA_SIZE - 5] = 7;
	bsf_store_le32(a + BSF_DESC_AREA_SIZE - 4, 0);
	assert_int_equal(count_descs(page, &err), 2);
	assert_int_equal(err, 0);
	assert_string_equal(bsf_desc_type_name(5), "EXTENT_TABLE");
	assert_string_equal(bsf_desc_type_name(200), "unknown");
}

/* ---- serialization: §9.4 vector, capacities, round trips ---------------------------- */

static void
test_minimal_root_page_vector(void **state)
{
	struct bsf_blob_md md = {
		.id = BSF_BLOBID_BASE,
		.invalid_flags = BSF_INVALID_EXTENT_TABLE,
		.format = BSF_EXTENT_TABLE,
	};
	struct bsf_md_pages p;
	static const uint8_t head[] = {
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* id */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq, reserved0 */
		0x03, 0x18, 0x00, 0x00, 0x00,                   /* FLAGS, 24 */
		0x04, 0, 0, 0, 0, 0, 0, 0,                      /* invalid */
		0, 0, 0, 0, 0, 0, 0, 0,                         /* data_ro */
		0, 0, 0, 0, 0, 0, 0, 0,                         /* md_ro */
		0x05, 0x08, 0x00, 0x00, 0x00,                   /* EXTENT_TABLE, 8 */
		0, 0, 0, 0, 0, 0, 0, 0,                         /* num_clusters 0 */
	};
	struct region *r = region_create(4);

	assert_int_equal(bsf_md_count_pages(&md), 1);
	assert_int_equal(bsf_md_serialize(&md, region_alloc, r, &p), 0);
	assert_int_equal(p.count, 1);
	assert_int_equal(p.idx[0], 0);
	assert_memory_equal(p.buf, head, sizeof(head));
	assert_true(bsf_is_zero(p.buf + sizeof(head), 0xFF8 - sizeof(head)));
	assert_int_equal(bsf_load_le32(p.buf + 0xFF8), 0xFFFFFFFFu);
	assert_int_equal(bsf_load_le32(p.buf + 0xFFC), 0x3C5B3A12u);
	assert_int_equal(r->allocs, 0);
	assert_true(bsf_page_is_root(p.buf, 0));
	assert_false(bsf_page_is_root(p.buf, 1));
	bsf_md_pages_free(&p);
	region_free(r);
}

/* A blob with `runs` RLE runs: alternating allocated runs and holes. */
static void
make_rle_blob(struct bsf_blob_md *md, blob_id id, uint32_t runs, bool thin)
{
	uint64_t n = 0;
	uint32_t c = 10;

	memset(md, 0, sizeof(*md));
	md->id = id;
	md->format = BSF_EXTENT_RLE;
	md->invalid_flags = thin ? BSF_INVALID_THIN_PROV : 0;
	md->clusters = calloc((size_t)runs * 3 + 1, sizeof(uint32_t));
	for (uint32_t r = 0; r < runs; r++) {
		uint32_t len = 1 + r % 3;

		if (thin && r % 2 == 1) {
			for (uint32_t i = 0; i < len; i++)
				md->clusters[n++] = 0;
		} else {
			for (uint32_t i = 0; i < len; i++)
				md->clusters[n++] = c + i;
			c += len + 1; /* a gap, so the next run is not contiguous */
		}
	}
	md->num_clusters = n;
}

static void
free_host_md(struct bsf_blob_md *md)
{
	free(md->clusters);
	free(md->extent_pages);
	memset(md, 0, sizeof(*md));
}

static void
test_rle_capacity(void **state)
{
	struct bsf_blob_md md, back;
	struct region *r = region_create(64);

	/* 504 runs fit in the root after FLAGS; 505 need a second page. */
	make_rle_blob(&md, BSF_BLOBID_BASE, 504, false);
	assert_int_equal(bsf_md_count_pages(&md), 1);
	free_host_md(&md);
	make_rle_blob(&md, BSF_BLOBID_BASE, 505, false);
	assert_int_equal(bsf_md_count_pages(&md), 2);
	free_host_md(&md);
	/* 504 + 508 in two pages, one more needs a third. */
	make_rle_blob(&md, BSF_BLOBID_BASE, 504 + 508, false);
	assert_int_equal(bsf_md_count_pages(&md), 2);
	free_host_md(&md);
	make_rle_blob(&md, BSF_BLOBID_BASE, 504 + 509, true);
	assert_int_equal(bsf_md_count_pages(&md), 3);
	assert_int_equal(store_blob(r, &md), 3);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	assert_int_equal(back.num_chain_pages, 3);
	/* Page 2 starts a fresh EXTENT_RLE with 508 records, page 3 with 1. */
	assert_int_equal(region_page(r, back.chain_pages[1])[16], BSF_DESC_EXTENT_RLE);
	assert_int_equal(bsf_load_le32(region_page(r, back.chain_pages[1]) + 17), 508 * 8);
	assert_int_equal(bsf_load_le32(region_page(r, back.chain_pages[2]) + 17), 8);
	bsf_blob_md_free(&back);
	free_host_md(&md);
	/* An RLE blob of size 0 has no extent descriptor at all. */
	memset(&md, 0, sizeof(md));
	md.id = bsf_page_to_blobid(5);
	md.format = BSF_EXTENT_RLE;
	assert_int_equal(store_blob(r, &md), 1);
	assert_int_equal(region_page(r, 5)[16 + 29], 0);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_int_equal(back.format, BSF_EXTENT_RLE);
	assert_true(back.num_clusters == 0);
	bsf_blob_md_free(&back);
	region_free(r);
}

static void
test_rle_big_roundtrip(void **state)
{
	struct bsf_blob_md md, back;
	struct region *r = region_create(64);
	uint32_t pages;

	/* Thousands of clusters, thousands of runs over several pages. */
	make_rle_blob(&md, bsf_page_to_blobid(3), 5000, true);
	md.data_ro_flags = BSF_DATA_RO_READ_ONLY;
	md.md_ro_flags = 3;
	r->next_free = 10;
	pages = store_blob(r, &md);
	assert_int_equal(pages, 1 + DIV_ROUND_UP(5000 - 504, 508));
	assert_int_equal(parse(r, md.id, &back, 100000), 0);
	assert_md_equal(&md, &back);
	assert_true(bsf_blob_md_data_ro(&back));
	assert_int_equal(back.chain_pages[0], 3);
	assert_int_equal(back.chain_pages[1], 10);
	bsf_blob_md_free(&back);
	/* Clusters past total_clusters are rejected. */
	assert_int_equal(parse(r, md.id, &back, 50), -EILSEQ);
	free_host_md(&md);

	/* A contiguous thick blob is one run. */
	memset(&md, 0, sizeof(md));
	md.id = bsf_page_to_blobid(0);
	md.format = BSF_EXTENT_RLE;
	md.num_clusters = 3000;
	md.clusters = malloc(3000 * sizeof(uint32_t));
	for (uint32_t i = 0; i < 3000; i++)
		md.clusters[i] = 100 + i;
	assert_int_equal(store_blob(r, &md), 1);
	assert_int_equal(bsf_load_le32(region_page(r, 0) + 16 + 29 + 1), 8);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	bsf_blob_md_free(&back);
	free_host_md(&md);
	region_free(r);
}

/* Extent-table blob with `groups` groups, every `hole`-th group without a page. */
static void
make_et_blob(struct bsf_blob_md *md, blob_id id, uint64_t n, uint32_t hole, uint32_t *next_page)
{
	memset(md, 0, sizeof(*md));
	md->id = id;
	md->format = BSF_EXTENT_TABLE;
	md->invalid_flags = BSF_INVALID_EXTENT_TABLE | (hole ? BSF_INVALID_THIN_PROV : 0);
	md->num_clusters = n;
	md->clusters = calloc(n ? n : 1, sizeof(uint32_t));
	md->num_extent_pages = bsf_extent_groups(n);
	md->extent_pages = calloc(md->num_extent_pages + 1, sizeof(uint32_t));
	for (uint32_t k = 0; k < md->num_extent_pages; k++) {
		if (hole && k % hole != 0)
			continue;
		md->extent_pages[k] = (*next_page)++;
		for (uint64_t i = (uint64_t)k * 512; i < n && i < (uint64_t)k * 512 + 512; i++)
			md->clusters[i] = (i % 7 == 3 && hole) ? 0 : (uint32_t)(1000 + i);
	}
}

static void
test_extent_table_capacity(void **state)
{
	struct bsf_blob_md md, back;
	struct region *r = region_create(8192);
	uint32_t next = 100;

	/* 503 non-mergeable records fit in the root; 504 do not. */
	make_et_blob(&md, BSF_BLOBID_BASE, 503 * 512, 0, &next);
	assert_int_equal(bsf_md_count_pages(&md), 1);
	free_host_md(&md);
	make_et_blob(&md, BSF_BLOBID_BASE, 504 * 512, 0, &next);
	assert_int_equal(bsf_md_count_pages(&md), 2);
	free_host_md(&md);
	/* 503 + 507 in two pages; one more group needs a third. */
	make_et_blob(&md, BSF_BLOBID_BASE, (503 + 507) * 512ull, 0, &next);
	assert_int_equal(bsf_md_count_pages(&md), 2);
	free_host_md(&md);
	next = 100;
	make_et_blob(&md, BSF_BLOBID_BASE, (503 + 507) * 512ull + 1, 0, &next);
	assert_int_equal(bsf_md_count_pages(&md), 3);
	r->next_free = 1;
	assert_int_equal(store_blob(r, &md), 3);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	/* Every page carries a descriptor with the same num_clusters. */
	for (uint32_t k = 0; k < 3; k++) {
		const uint8_t *pg = region_page(r, back.chain_pages[k]);
		uint32_t off = 16 + (k == 0 ? 29 : 0);

		assert_int_equal(pg[off], BSF_DESC_EXTENT_TABLE);
		assert_true(bsf_load_le64(pg + off + 5) == md.num_clusters);
		assert_int_equal(bsf_load_le32(pg + off + 1),
				 8 + 8 * (k == 0 ? 503 : k == 1 ? 507 : 1));
	}
	bsf_blob_md_free(&back);
	free_host_md(&md);
	region_free(r);
}

static void
test_extent_table_big_thin_roundtrip(void **state)
{
	struct bsf_blob_md md, back;
	struct region *r = region_create(4096);
	uint32_t next = 2000;

	/* 2,000,000 clusters = 3907 groups, every third with a page: zero
	 * runs of two merge into one record. */
	make_et_blob(&md, bsf_page_to_blobid(7), 2000000, 3, &next);
	r->next_free = 8;
	store_blob(r, &md);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	assert_true(back.num_chain_pages > 1);
	/* Extent pages record the (possibly stale) id and their start. */
	{
		struct bsf_extent_page ep;

		assert_int_equal(bsf_extent_page_decode(region_page(r, md.extent_pages[3]), &ep,
							NULL), 0);
		assert_int_equal(ep.start_cluster_idx, 3 * 512);
		assert_int_equal(ep.count, 512);
		assert_true(ep.id == md.id);
	}
	bsf_blob_md_free(&back);
	free_host_md(&md);

	/* A thin blob with no extent pages at all: one merged zero record. */
	make_et_blob(&md, bsf_page_to_blobid(9), 1000 * 512, 1000000, &next);
	md.extent_pages[0] = 0;
	memset(md.clusters, 0, md.num_clusters * sizeof(uint32_t));
	assert_int_equal(bsf_md_count_pages(&md), 1);
	store_blob(r, &md);
	assert_int_equal(bsf_load_le32(region_page(r, 9) + 16 + 29 + 1), 16);
	assert_int_equal(bsf_load_le32(region_page(r, 9) + 16 + 29 + 13), 0);
	assert_int_equal(bsf_load_le32(region_page(r, 9) + 16 + 29 + 17), 1000);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	bsf_blob_md_free(&back);
	free_host_md(&md);
	region_free(r);
}

static void
test_many_xattrs_span_pages(void **state)
{
	struct bsf_blob_md md, back;
	struct region *r = region_create(64);
	struct bsf_xattr x[300], ix[3];
	char names[300][16];
	uint8_t val[600];
	uint32_t next = 40;
	const struct bsf_xattr *found;

	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)i;
	make_et_blob(&md, bsf_page_to_blobid(2), 2000, 0, &next);
	for (int i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "attr%03d", i);
		x[i].name = names[i];
		x[i].name_len = (uint16_t)strlen(names[i]);
		x[i].value = val;
		x[i].value_len = (uint16_t)(i * 2 % 600);
	}
	ix[0] = (struct bsf_xattr){.name = "SNAP", .name_len = 4, .value = val, .value_len = 8};
	ix[1] = (struct bsf_xattr){.name = "big", .name_len = 3, .value = val, .value_len = 0};
	ix[2] = (struct bsf_xattr){.name = "e", .name_len = 1, .value = val, .value_len = 500};
	md.xattrs = x;
	md.num_xattrs = 300;
	md.xattrs_internal = ix;
	md.num_xattrs_internal = 3;
	md.invalid_flags |= BSF_INVALID_INTERNAL_XATTR;
	r->next_free = 10;
	assert_true(store_blob(r, &md) > 20);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	found = bsf_blob_md_find_xattr(&back, false, "attr123");
	assert_non_null(found);
	assert_int_equal(found->value_len, 246);
	assert_memory_equal(found->value, val, 246);
	assert_string_equal(found->name, "attr123");
	assert_null(bsf_blob_md_find_xattr(&back, true, "attr123"));
	assert_non_null(bsf_blob_md_find_xattr(&back, true, "SNAP"));
	assert_null(bsf_blob_md_find_xattr(&back, false, "SNAP"));
	bsf_blob_md_free(&back);
	md.xattrs = NULL;
	md.xattrs_internal = NULL;
	free_host_md(&md);
	region_free(r);
}

static void
test_largest_xattr_and_limits(void **state)
{
	struct bsf_blob_md md = {.id = BSF_BLOBID_BASE, .format = BSF_EXTENT_RLE}, back;
	struct region *r = region_create(8);
	static uint8_t val[4063];
	struct bsf_xattr x = {.name = "n", .name_len = 1, .value = val,
			      .value_len = BSF_XATTR_MAX_NAME_VALUE - 1};
	struct bsf_md_pages p;

	/* name + value = 4063: a page of its own, filling it exactly. */
	md.xattrs = &x;
	md.num_xattrs = 1;
	assert_int_equal(store_blob(r, &md), 2);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	bsf_blob_md_free(&back);
	/* One byte more is refused. */
	x.value_len++;
	assert_int_equal(bsf_md_serialize(&md, region_alloc, r, &p), -EINVAL);
	assert_int_equal(bsf_md_count_pages(&md), 0);
	/* A name containing NUL is refused. */
	x.value_len = 4;
	x.name = "a\0b";
	x.name_len = 3;
	assert_int_equal(bsf_md_serialize(&md, region_alloc, r, &p), -EINVAL);
	/* Bad ids and bad extent arrays. */
	x.name = "ab";
	x.name_len = 2;
	md.id = 5;
	assert_int_equal(bsf_md_serialize(&md, region_alloc, r, &p), -EINVAL);
	md.id = BSF_BLOBID_BASE;
	md.format = BSF_EXTENT_TABLE;
	md.num_clusters = 513;
	md.num_extent_pages = 1;
	assert_int_equal(bsf_md_serialize(&md, region_alloc, r, &p), -EINVAL);
	region_free(r);
}

static void
test_zero_size_table_edge_case(void **state)
{
	/* Fill the root so that fewer than 13 bytes remain: SPDK then writes
	 * no EXTENT_TABLE and the blob reads back as a size-0 RLE blob. */
	struct bsf_blob_md md = {.id = BSF_BLOBID_BASE, .format = BSF_EXTENT_TABLE,
				 .invalid_flags = BSF_INVALID_EXTENT_TABLE}, back;
	struct region *r = region_create(8);
	static uint8_t val[4063];
	/* 4072 - 29 - 9 - name(1) - value = 12 bytes left. */
	struct bsf_xattr x = {.name = "n", .name_len = 1, .value = val,
			      .value_len = 4072 - 29 - 9 - 1 - 12};

	md.xattrs = &x;
	md.num_xattrs = 1;
	assert_int_equal(store_blob(r, &md), 1);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_int_equal(back.format, BSF_EXTENT_RLE);
	assert_true(back.num_clusters == 0);
	assert_true(back.invalid_flags & BSF_INVALID_EXTENT_TABLE);
	bsf_blob_md_free(&back);
	/* 13 bytes left: an empty EXTENT_TABLE is written. */
	x.value_len--;
	assert_int_equal(store_blob(r, &md), 1);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_int_equal(back.format, BSF_EXTENT_TABLE);
	bsf_blob_md_free(&back);
	/* 13..20 bytes left with groups to write: an EXTENT_TABLE without
	 * records closes the root, the records go to page 2. */
	md.num_clusters = 10;
	md.num_extent_pages = 1;
	md.extent_pages = (uint32_t[]){6};
	md.clusters = (uint32_t[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	assert_int_equal(store_blob(r, &md), 2);
	assert_int_equal(bsf_load_le32(region_page(r, 0) + 16 + 29 + 9 + 1 + x.value_len + 1), 8);
	assert_int_equal(parse(r, md.id, &back, 0), 0);
	assert_md_equal(&md, &back);
	bsf_blob_md_free(&back);
	region_free(r);
}

static void
test_serialize_alloc_failure_lists_pages(void **state)
{
	struct bsf_blob_md md;
	struct region *r = region_create(64);
	struct bsf_md_pages p;

	make_rle_blob(&md, BSF_BLOBID_BASE, 2000, true);
	r->alloc_fail_at = 3;
	assert_int_equal(bsf_md_serialize(&md, region_alloc, r, &p), -ENOSPC);
	assert_null(p.buf);
	assert_int_equal(p.count, 3); /* root + the two pages handed out */
	assert_int_equal(p.idx[1], 1);
	assert_int_equal(p.idx[2], 2);
	bsf_md_pages_free(&p);
	free_host_md(&md);
	region_free(r);
}

/* ---- rejection rules (§4.5-§4.9) --------------------------------------------------- */

static void
test_reject_flags(void **state)
{
	struct region *r = region_create(8);
	struct bsf_blob_md md;
	struct craft c;
	uint8_t *b;

	/* FLAGS length 23. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	b = craft_desc(&c, BSF_DESC_FLAGS, 23);
	(void)b;
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Unknown invalid_flags bit: -ENOTSUP. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0x10, 0, 0);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -ENOTSUP);
	/* Unknown data_ro bit: opens read-only. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0, 0x2, 0);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	assert_true(bsf_blob_md_data_ro(&md));
	assert_true(bsf_blob_md_md_ro(&md));
	bsf_blob_md_free(&md);
	/* Unknown md_ro bit: metadata read-only only. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0, 0, 0x4 | 2);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	assert_false(bsf_blob_md_data_ro(&md));
	assert_true(bsf_blob_md_md_ro(&md));
	bsf_blob_md_free(&md);
	/* No FLAGS (version 1/2 blob): all zero; two FLAGS: the last wins. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	assert_false(md.has_flags);
	bsf_blob_md_free(&md);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_flags(&c, 0, 1, 2);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	assert_true(md.invalid_flags == 0 && md.data_ro_flags == 1 && md.md_ro_flags == 2);
	bsf_blob_md_free(&md);
	region_free(r);
}

static void
test_reject_rle(void **state)
{
	struct region *r = region_create(8);
	struct bsf_blob_md md;
	struct craft c;

	/* Length 0 and length not a multiple of 8. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_desc(&c, BSF_DESC_EXTENT_RLE, 0);
	craft_put(&c, r, 0);
	/* A zero-length RLE is type 1 length 0: not the terminator. */
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, BSF_DESC_EXTENT_RLE, 12);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* A descriptor leaving the total at 0. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_rle(&c, (uint32_t[]){5, 0, 0, 0}, 2);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* An unallocated run on a thick blob; fine when thin. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0, 0, 0);
	craft_rle(&c, (uint32_t[]){5, 2, 0, 3}, 2);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_rle(&c, (uint32_t[]){5, 2, 0, 3}, 2);
	craft_rle(&c, (uint32_t[]){9, 1}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	assert_true(md.num_clusters == 6);
	assert_int_equal(md.clusters[0], 5);
	assert_int_equal(md.clusters[1], 6);
	assert_int_equal(md.clusters[2], 0);
	assert_int_equal(md.clusters[5], 9);
	bsf_blob_md_free(&md);
	/* A run whose end wraps past 2^32. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_rle(&c, (uint32_t[]){0xFFFFFFF0u, 0x20}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* RLE mixed with EXTENT_TABLE, in either order. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_rle(&c, (uint32_t[]){5, 2}, 1);
	craft_et(&c, 2, (uint32_t[]){0, 1}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 2, (uint32_t[]){0, 1}, 1);
	craft_rle(&c, (uint32_t[]){5, 2}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	region_free(r);
}

static void
test_reject_xattr(void **state)
{
	struct region *r = region_create(8);
	struct bsf_blob_md md;
	struct craft c;
	uint8_t *b;

	/* length != 4 + name_length + value_length. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	b = craft_desc(&c, BSF_DESC_XATTR, 10);
	bsf_store_le16(b, 2);
	bsf_store_le16(b + 2, 5);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Lengths that claim more than the page holds. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	b = craft_desc(&c, BSF_DESC_XATTR_INTERNAL, 10);
	bsf_store_le16(b, 0xFFFF);
	bsf_store_le16(b + 2, 0xFFFF);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Shorter than its own header. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, BSF_DESC_XATTR, 3);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* A name with a NUL. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_xattr(&c, BSF_DESC_XATTR, "ab", "v", 1);
	c.page[16 + 9] = 0;
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* The last descriptor of a page, claiming to continue past it. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, BSF_DESC_PADDING, 4072 - 5 - 20);
	b = c.page + 16 + 4072 - 20;
	b[0] = BSF_DESC_XATTR;
	bsf_store_le32(b + 1, 40);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* SNAP of 7 bytes on a thin blob; allowed on a thick one (not consulted). */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_xattr(&c, BSF_DESC_XATTR_INTERNAL, "SNAP", "1234567", 7);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0, 0, 0);
	craft_xattr(&c, BSF_DESC_XATTR_INTERNAL, "SNAP", "1234567", 7);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	bsf_blob_md_free(&md);
	/* External snapshot flag without EXTSNAP; with it. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, BSF_INVALID_EXTERNAL_SNAPSHOT | 1, 0, 0);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, BSF_INVALID_EXTERNAL_SNAPSHOT | 3, 0, 0);
	craft_xattr(&c, BSF_DESC_XATTR_INTERNAL, "EXTSNAP", "x", 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	bsf_blob_md_free(&md);
	region_free(r);
}

static void
test_reject_extent_table(void **state)
{
	struct region *r = region_create(8);
	struct bsf_blob_md md;
	struct craft c;
	uint32_t clusters[600];

	for (int i = 0; i < 600; i++)
		clusters[i] = 10 + i;
	/* Bad length. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, BSF_DESC_EXTENT_TABLE, 12);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, BSF_DESC_EXTENT_TABLE, 4);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Too few groups for num_clusters, too many. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 600, (uint32_t[]){0, 1}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 600, (uint32_t[]){0, 3}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 600, (uint32_t[]){0, 0xFFFFFFFFu}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* A page with num_pages != 1; a page past the region. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 600, (uint32_t[]){3, 2}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 600, (uint32_t[]){3, 1, 8, 1}, 2);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Groups without a page on a thick blob. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0, 0, 0);
	craft_et(&c, 600, (uint32_t[]){0, 2}, 1);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* num_clusters differing between two descriptors (two pages). */
	craft_init(&c, BSF_BLOBID_BASE, 0, 1);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 600, (uint32_t[]){0, 1}, 1);
	craft_put(&c, r, 0);
	craft_init(&c, BSF_BLOBID_BASE, 1, BSF_PAGE_NEXT_NONE);
	craft_et(&c, 601, (uint32_t[]){0, 1}, 1);
	craft_put(&c, r, 1);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 1, BSF_PAGE_NEXT_NONE);
	craft_et(&c, 600, (uint32_t[]){0, 1}, 1);
	craft_put(&c, r, 1);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	assert_true(md.num_clusters == 600);
	bsf_blob_md_free(&md);

	/* Extent pages: a valid one, then every broken variant. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 1, 0, 0);
	craft_et(&c, 600, (uint32_t[]){3, 1, 4, 1}, 2);
	craft_put(&c, r, 0);
	assert_int_equal(bsf_extent_page_encode(BSF_BLOBID_BASE + 5, clusters, 600, 0,
						region_page(r, 3)), 0);
	assert_int_equal(bsf_extent_page_encode(BSF_BLOBID_BASE + 5, clusters, 600, 1,
						region_page(r, 4)), 0);
	assert_int_equal(bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 2,
						region_page(r, 5)), -EINVAL);
	assert_int_equal(parse_crafted(r, 0, &md), 0); /* stale id is fine */
	assert_memory_equal(md.clusters, clusters, sizeof(clusters));
	bsf_blob_md_free(&md);
	/* Group 1's page holding group 0's entries (start mismatch). */
	memcpy(region_page(r, 4), region_page(r, 3), PAGE);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Zero entries. */
	bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 1, region_page(r, 4));
	bsf_store_le32(region_page(r, 4) + 17, 4);
	bsf_set_crc(region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Fewer entries than the group needs (87). */
	bsf_store_le32(region_page(r, 4) + 17, 4 + 4 * 86);
	bsf_set_crc(region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* More than 512 entries. */
	bsf_store_le32(region_page(r, 4) + 17, 4 + 4 * 513);
	bsf_set_crc(region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* A second descriptor after it. */
	bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 1, region_page(r, 4));
	region_page(r, 4)[16 + 5 + 4 + 4 * 88] = 2;
	bsf_store_le32(region_page(r, 4) + 16 + 5 + 4 + 4 * 88 + 1, 4);
	bsf_set_crc(region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* sequence_num, next, CRC, type. */
	bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 1, region_page(r, 4));
	bsf_store_le32(region_page(r, 4) + 8, 1);
	bsf_set_crc(region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 1, region_page(r, 4));
	bsf_store_le32(region_page(r, 4) + BSF_PAGE_OFF_NEXT, 2);
	bsf_set_crc(region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 1, region_page(r, 4));
	region_page(r, 4)[100] ^= 1;
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 1, region_page(r, 4));
	region_page(r, 4)[16] = BSF_DESC_EXTENT_RLE;
	bsf_set_crc(region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* A thick blob whose extent page has a zero entry. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0, 0, 0);
	craft_et(&c, 600, (uint32_t[]){3, 1, 4, 1}, 2);
	craft_put(&c, r, 0);
	clusters[550] = 0;
	bsf_extent_page_encode(BSF_BLOBID_BASE, clusters, 600, 1, region_page(r, 4));
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* An EXTENT_PAGE descriptor inside a chain. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, BSF_DESC_EXTENT_PAGE, 8);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	region_free(r);
}

static void
test_reject_chain(void **state)
{
	struct region *r = region_create(8);
	struct bsf_blob_md md;
	struct bsf_md_parse_opts o;
	struct bsf_diag diag;
	struct craft c;

	/* Root id mismatch, root sequence_num, bad CRC. */
	craft_init(&c, BSF_BLOBID_BASE + 1, 0, BSF_PAGE_NEXT_NONE);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 1, BSF_PAGE_NEXT_NONE);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_put(&c, r, 0);
	region_page(r, 0)[4000] = 1;
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* next past the region. */
	craft_init(&c, BSF_BLOBID_BASE, 0, 8);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* A continuation page with the wrong sequence number / id... */
	craft_init(&c, BSF_BLOBID_BASE, 0, 2);
	craft_put(&c, r, 0);
	craft_init(&c, BSF_BLOBID_BASE, 5, BSF_PAGE_NEXT_NONE);
	craft_put(&c, r, 2);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* ... accepted when continuation checks are off (SPDK's behaviour). */
	parse_opts(&o, r->md_len, 0);
	o.check_continuation = false;
	assert_int_equal(bsf_md_parse_blob(BSF_BLOBID_BASE, &o, region_read, r, &md, NULL), 0);
	assert_int_equal(md.num_chain_pages, 2);
	bsf_blob_md_free(&md);
	/* A loop (page 2 -> 2): caught by the sequence number... */
	craft_init(&c, BSF_BLOBID_BASE, 1, 2);
	craft_put(&c, r, 2);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* ... and bounded by md_len without it. */
	assert_int_equal(bsf_md_parse_blob(BSF_BLOBID_BASE, &o, region_read, r, &md, &diag),
			 -EILSEQ);
	assert_non_null(strstr(diag.msg, "longer"));
	/* A broken continuation (zeroed page). */
	memset(region_page(r, 2), 0, PAGE);
	assert_int_equal(parse_crafted(r, 0, &md), -EILSEQ);
	/* Unknown descriptor types: skipped and counted, or rejected. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, 42, 7);
	craft_flags(&c, 0, 0, 0);
	craft_put(&c, r, 0);
	assert_int_equal(parse_crafted(r, 0, &md), 0);
	assert_int_equal(md.num_unknown_descs, 1);
	bsf_blob_md_free(&md);
	parse_opts(&o, r->md_len, 0);
	o.reject_unknown = true;
	assert_int_equal(bsf_md_parse_blob(BSF_BLOBID_BASE, &o, region_read, r, &md, &diag),
			 -EILSEQ);
	assert_non_null(strstr(diag.msg, "page 0"));
	region_free(r);
}

static void
test_parser_api_misuse(void **state)
{
	struct bsf_md_parse_opts o;
	struct bsf_md_parser *p;
	struct bsf_blob_md md;
	uint8_t page[PAGE];
	uint32_t next;

	parse_opts(&o, 0, 0);
	assert_int_equal(bsf_md_parser_create(BSF_BLOBID_BASE, &o, &p), -EINVAL);
	parse_opts(&o, 16, 0);
	assert_int_equal(bsf_md_parser_create(7, &o, &p), -EINVAL);
	assert_int_equal(bsf_md_parser_create(BSF_BLOBID_BASE + 3, &o, &p), 0);
	bsf_page_init(page, BSF_BLOBID_BASE + 3, 0, BSF_PAGE_NEXT_NONE);
	bsf_set_crc(page);
	/* The wrong page fed. */
	assert_int_equal(bsf_md_parser_feed(p, 4, page, &next, NULL), -EINVAL);
	bsf_md_parser_free(p);
	/* Finishing before the end of the chain. */
	assert_int_equal(bsf_md_parser_create(BSF_BLOBID_BASE + 3, &o, &p), 0);
	assert_int_equal(bsf_md_parser_finish(p, &md, NULL), -EINVAL);
	/* The normal sequence. */
	assert_int_equal(bsf_md_parser_create(BSF_BLOBID_BASE + 3, &o, &p), 0);
	assert_int_equal(bsf_md_parser_feed(p, 3, page, &next, NULL), 0);
	assert_int_equal(next, BSF_PAGE_NEXT_NONE);
	assert_int_equal(bsf_md_parser_finish(p, &md, NULL), 0);
	assert_int_equal(md.num_chain_pages, 1);
	assert_int_equal(md.chain_pages[0], 3);
	bsf_blob_md_free(&md);
}

/* ---- recovery claims (§6.9) ----------------------------------------------------------- */

struct claims {
	uint32_t runs[16][2];
	uint32_t nruns;
	uint32_t eps[16];
	uint32_t neps;
};

static int
claim_run(void *ctx, uint32_t first, uint32_t count)
{
	struct claims *c = ctx;

	c->runs[c->nruns][0] = first;
	c->runs[c->nruns][1] = count;
	c->nruns++;
	return 0;
}

static int
claim_ep(void *ctx, uint32_t page)
{
	struct claims *c = ctx;

	c->eps[c->neps++] = page;
	return 0;
}

static void
test_recovery_claims(void **state)
{
	const struct bsf_claim_ops ops = {.cluster_run = claim_run, .extent_page = claim_ep};
	struct claims cl = {0};
	struct craft c;

	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_flags(&c, 0, 0, 0);
	craft_desc(&c, BSF_DESC_FLAGS, 3); /* bad FLAGS: recovery does not care */
	craft_xattr(&c, BSF_DESC_XATTR, "name", "x", 1);
	craft_rle(&c, (uint32_t[]){5, 2, 0, 9, 20, 1}, 3);
	craft_et(&c, 2000, (uint32_t[]){0, 2, 7, 1}, 2);
	bsf_set_crc(c.page);
	assert_int_equal(bsf_md_page_claims(c.page, &ops, &cl, NULL), 0);
	assert_int_equal(cl.nruns, 2);
	assert_int_equal(cl.runs[0][0], 5);
	assert_int_equal(cl.runs[0][1], 2);
	assert_int_equal(cl.runs[1][0], 20);
	assert_int_equal(cl.neps, 1);
	assert_int_equal(cl.eps[0], 7);
	/* num_pages != 1 with a page fails the load. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_et(&c, 2000, (uint32_t[]){7, 2}, 1);
	assert_int_equal(bsf_md_page_claims(c.page, &ops, &cl, NULL), -EILSEQ);
	/* So does an unknown descriptor type. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	craft_desc(&c, 9, 1);
	assert_int_equal(bsf_md_page_claims(c.page, &ops, &cl, NULL), -EILSEQ);
	/* And a descriptor running off the page. */
	craft_init(&c, BSF_BLOBID_BASE, 0, BSF_PAGE_NEXT_NONE);
	c.page[16] = 1;
	bsf_store_le32(c.page + 17, 5000);
	assert_int_equal(bsf_md_page_claims(c.page, &ops, &cl, NULL), -EILSEQ);
}

/* ---- corruption: nothing read out of bounds (run under ASan) ------------------------- */

static void
test_corrupt_pages_never_read_out_of_bounds(void **state)
{
	struct region *r = region_create(16);
	struct bsf_blob_md md, back;
	struct bsf_xattr x[4];
	uint32_t next = 10;
	uint8_t *good;
	int accepted = 0;

	/* A realistic root page: flags, xattrs, an extent table. */
	make_et_blob(&md, BSF_BLOBID_BASE, 2000, 2, &next);
	for (int i = 0; i < 4; i++) {
		x[i].name = (char *)"attr";
		x[i].name_len = (uint16_t)(1 + i);
		x[i].value = (uint8_t *)"valuevaluevalue";
		x[i].value_len = (uint16_t)(3 * i);
	}
	md.xattrs = x;
	md.num_xattrs = 4;
	store_blob(r, &md);
	good = malloc(PAGE);
	memcpy(good, region_page(r, 0), PAGE);
	g_quiet = true;
	/* Each page is parsed out of its own exactly-sized heap buffer by
	 * bsf_md_parse_blob (malloc(4096)), so any read past it trips ASan. */
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t *pg = region_page(r, 0);
		int flips = 1 + (int)(rnd() % 8);

		memcpy(pg, good, PAGE);
		for (int f = 0; f < flips; f++) {
			uint32_t off = 16 + rnd() % 200;

			switch (rnd() % 3) {
			case 0:
				pg[off] = (uint8_t)rnd();
				break;
			case 1:
				bsf_store_le32(pg + off, rnd());
				break;
			default:
				bsf_store_le32(pg + off, rnd() % 8192);
				break;
			}
		}
		bsf_set_crc(pg);
		if (parse(r, BSF_BLOBID_BASE, &back, 0) == 0) {
			accepted++;
			bsf_blob_md_free(&back);
		}
	}
	print_message("  %d of 20000 mutated pages parsed\n", accepted);
	/* Random garbage in the whole descriptor area. */
	for (int iter = 0; iter < 5000; iter++) {
		uint8_t *pg = region_page(r, 0);
		struct claims cl;
		const struct bsf_claim_ops ops = {0};
		struct bsf_extent_page ep;

		for (uint32_t i = 16; i < 4088; i += 4)
			bsf_store_le32(pg + i, rnd() & (iter % 2 ? 0x000000FFu : 0xFFFFFFFFu));
		bsf_set_crc(pg);
		if (parse(r, BSF_BLOBID_BASE, &back, 0) == 0)
			bsf_blob_md_free(&back);
		memset(&cl, 0, sizeof(cl));
		bsf_md_page_claims(pg, &ops, &cl, NULL);
		bsf_extent_page_decode(pg, &ep, NULL);
	}
	g_quiet = false;
	free(good);
	md.xattrs = NULL;
	free_host_md(&md);
	region_free(r);
}

/* ---- the SPDK fixture ---------------------------------------------------------------- */

/* LVSTOR_FIXTURE overrides the location (the functional tests honour it too). */
#define FIXTURE_DEFAULT "../shared/fixtures/spdk-lvs-4k.img.xz" /* from the repo root */
#define FIXTURE_MD_BYTES (4u << 20) /* cluster 0 holds all metadata */

static uint8_t *
load_fixture(void)
{
	const char *path = getenv("LVSTOR_FIXTURE") ? getenv("LVSTOR_FIXTURE") : FIXTURE_DEFAULT;
	char cmd[512];
	uint8_t *img;
	size_t got = 0;
	FILE *f;

	if (access(path, R_OK) != 0 || strchr(path, '\'') != NULL)
		return NULL;
	/* Only cluster 0 is needed: stream it, no temp file. */
	snprintf(cmd, sizeof(cmd), "xz -dc '%s' 2>/dev/null | head -c %u", path, FIXTURE_MD_BYTES);
	f = popen(cmd, "r");
	if (f == NULL)
		return NULL;
	img = calloc(1, FIXTURE_MD_BYTES);
	assert_non_null(img);
	while (got < FIXTURE_MD_BYTES) {
		size_t n = fread(img + got, 1, FIXTURE_MD_BYTES - got, f);

		if (n == 0)
			break;
		got += n;
	}
	pclose(f);
	if (got != FIXTURE_MD_BYTES) {
		free(img);
		return NULL;
	}
	return img;
}

struct fx_ctx {
	const uint8_t *img;
	const struct bsf_layout *l;
};

static int
fx_read(void *ctx, uint32_t idx, uint8_t page[PAGE])
{
	struct fx_ctx *c = ctx;
	uint64_t off = bsf_md_page_offset(c->l, idx);

	if (idx >= c->l->md_len || off + PAGE > FIXTURE_MD_BYTES)
		return -EIO;
	memcpy(page, c->img + off, PAGE);
	return 0;
}

static const char *
fx_xattr_str(const struct bsf_blob_md *md, const char *name)
{
	const struct bsf_xattr *x = bsf_blob_md_find_xattr(md, false, name);

	assert_non_null(x);
	assert_true(x->value_len >= 1 && x->value[x->value_len - 1] == 0);
	return (const char *)x->value;
}

static int
fx_alloc_from_list(void *ctx, uint32_t *idx)
{
	const uint32_t **p = ctx;

	*idx = *(*p)++;
	return 0;
}

static int
fx_claim_run(void *ctx, uint32_t first, uint32_t count)
{
	struct bit_array *clusters = ctx;

	for (uint32_t i = 0; i < count; i++)
		if (bit_array_set(clusters, first + i) != 0)
			return -ERANGE;
	return 0;
}

static void
test_spdk_fixture(void **state)
{
	uint8_t *img = load_fixture();
	uint8_t want[16];
	struct bsf_super sb;
	struct bsf_layout l, formula;
	struct bsf_layout_params lp;
	struct bsf_md_parse_opts o;
	struct bsf_diag diag;
	struct fx_ctx ctx;
	struct bit_array *pages, *ids, *clusters, *disk;
	struct bsf_blob_md blobs[8];
	uint32_t nblobs = 0;
	const struct bsf_blob_md *vol_a = NULL, *snap_a = NULL, *clone_a = NULL, *vol_thin = NULL,
				 *super = NULL;

	if (img == NULL) {
		print_message("  fixture not available, skipped\n");
		skip();
	}
	/* Superblock: an lvolstore on a 1 GiB device, clean. */
	bsf_bstype_set(want, BSF_BSTYPE_LVOLSTORE);
	assert_int_equal(bsf_super_decode(img, want, 1ull << 30, &sb, &diag), 0);
	assert_int_equal(sb.version, 3);
	assert_int_equal(sb.clean, 1);
	assert_int_equal(sb.cluster_size, 4u << 20);
	assert_true(sb.super_blob == BSF_BLOBID_BASE);
	assert_int_equal(bsf_layout_from_super(&sb, 1ull << 30, &l, NULL), 0);
	assert_int_equal(l.total_clusters - l.num_md_clusters, 255);
	/* The recorded layout is exactly the §9.1 formula's. */
	bsf_layout_params_init(&lp, sizeof(lp));
	lp.dev_size = sb.size;
	lp.blocklen = sb.io_unit_size;
	lp.cluster_size = sb.cluster_size;
	lp.md_page_size = sb.md_page_size;
	lp.num_md_pages = sb.md_len;
	assert_int_equal(bsf_layout_compute(&lp, &formula), 0);
	assert_memory_equal(&formula, &l, sizeof(l));
	/* Our encoder reproduces the superblock byte for byte. */
	{
		uint8_t buf[PAGE];

		bsf_super_encode(&sb, buf);
		assert_memory_equal(buf, img, PAGE);
	}

	/* Walk the metadata region as recovery does. */
	ctx.img = img;
	ctx.l = &l;
	pages = bit_array_create(l.md_len);
	ids = bit_array_create(l.md_len);
	clusters = bit_array_create(l.total_clusters);
	disk = bit_array_create(l.total_clusters);
	parse_opts(&o, l.md_len, l.total_clusters);
	for (uint32_t i = 0; i < l.md_len; i++) {
		const uint8_t *pg = img + bsf_md_page_offset(&l, i);
		struct bsf_blob_md *md = &blobs[nblobs];
		struct bsf_md_pages ser;
		const uint32_t *chain_rest;
		const struct bsf_claim_ops ops = {.cluster_run = fx_claim_run};

		if (bsf_is_zero(pg, PAGE) || !bsf_page_is_root(pg, i))
			continue;
		assert_true(nblobs < COUNTOF(blobs));
		assert_int_equal(bsf_md_parse_blob(bsf_page_to_blobid(i), &o, fx_read, &ctx, md,
						   &diag), 0);
		assert_int_equal(md->num_unknown_descs, 0);
		assert_int_equal(bsf_md_page_claims(pg, &ops, clusters, NULL), 0);
		bit_array_set(ids, i);
		for (uint32_t k = 0; k < md->num_chain_pages; k++)
			bit_array_set(pages, md->chain_pages[k]);
		for (uint32_t k = 0; k < md->num_extent_pages; k++) {
			uint8_t ep[PAGE];
			struct bsf_extent_page dec;

			if (md->extent_pages[k] == 0)
				continue;
			bit_array_set(pages, md->extent_pages[k]);
			/* Re-encode it, with the id it carries (maybe stale). */
			assert_int_equal(bsf_extent_page_decode(img + bsf_md_page_offset(
						&l, md->extent_pages[k]), &dec, NULL), 0);
			assert_int_equal(bsf_extent_page_encode(dec.id, md->clusters, md->num_clusters,
								k, ep), 0);
			assert_memory_equal(ep, img + bsf_md_page_offset(&l, md->extent_pages[k]),
					    PAGE);
		}
		for (uint64_t s = 0; s < md->num_clusters; s++)
			if (md->clusters[s] != 0)
				bit_array_set(clusters, md->clusters[s]);
		/* Re-serialize the chain onto the same pages: identical bytes. */
		chain_rest = md->chain_pages + 1;
		assert_int_equal(bsf_md_serialize(md, fx_alloc_from_list, &chain_rest, &ser), 0);
		assert_int_equal(ser.count, md->num_chain_pages);
		for (uint32_t k = 0; k < ser.count; k++)
			assert_memory_equal(ser.buf + (size_t)k * PAGE,
					    img + bsf_md_page_offset(&l, md->chain_pages[k]), PAGE);
		bsf_md_pages_free(&ser);
		nblobs++;
	}
	assert_int_equal(nblobs, 5);
	for (uint32_t c = 0; c < l.num_md_clusters; c++)
		bit_array_set(clusters, c);

	/* The clean masks equal what the walk found. */
	{
		struct bit_array *m = bit_array_create(l.total_clusters);
		uint8_t enc[PAGE];

		assert_int_equal(bsf_mask_decode(img + bsf_abs_page_offset(&l, l.used_page_mask_start),
						 (size_t)l.used_page_mask_len * PAGE,
						 BSF_MASK_USED_PAGES, l.md_len, m, NULL, &diag), 0);
		for (uint32_t i = 0; i < l.md_len; i++)
			assert_int_equal(bit_array_get(m, i), bit_array_get(pages, i));
		assert_int_equal(bsf_mask_decode(img + bsf_abs_page_offset(&l,
						 l.used_blobid_mask_start), PAGE,
						 BSF_MASK_USED_BLOBIDS, l.md_len, m, NULL, NULL), 0);
		for (uint32_t i = 0; i < l.md_len; i++)
			assert_int_equal(bit_array_get(m, i), bit_array_get(ids, i));
		assert_int_equal(bsf_mask_decode(img + bsf_abs_page_offset(&l,
						 l.used_cluster_mask_start), PAGE,
						 BSF_MASK_USED_CLUSTERS, l.total_clusters, disk, NULL,
						 NULL), 0);
		for (uint32_t i = 0; i < l.total_clusters; i++)
			assert_int_equal(bit_array_get(disk, i), bit_array_get(clusters, i));
		assert_int_equal(l.total_clusters - bit_array_count_set(disk), 236);
		/* And re-encoding the walk's bitmaps gives the on-disk pages. */
		bsf_mask_encode(BSF_MASK_USED_CLUSTERS, clusters, l.total_clusters, enc, PAGE);
		assert_memory_equal(enc, img + bsf_abs_page_offset(&l, l.used_cluster_mask_start),
				    PAGE);
		bsf_mask_encode(BSF_MASK_USED_PAGES, pages, l.md_len, enc, PAGE);
		assert_memory_equal(enc, img + bsf_abs_page_offset(&l, l.used_page_mask_start), PAGE);
		bsf_mask_encode(BSF_MASK_USED_BLOBIDS, ids, l.md_len, enc, PAGE);
		assert_memory_equal(enc, img + bsf_abs_page_offset(&l, l.used_blobid_mask_start),
				    PAGE);
		bit_array_free(&m);
	}

	/* The volumes of the README. */
	for (uint32_t b = 0; b < nblobs; b++) {
		const struct bsf_blob_md *md = &blobs[b];
		const char *name = fx_xattr_str(md, "name");

		if (md->id == sb.super_blob)
			super = md;
		else if (strcmp(name, "vol_a") == 0)
			vol_a = md;
		else if (strcmp(name, "snap_a") == 0)
			snap_a = md;
		else if (strcmp(name, "clone_a") == 0)
			clone_a = md;
		else if (strcmp(name, "vol_thin") == 0)
			vol_thin = md;
	}
	assert_non_null(super);
	assert_non_null(vol_a);
	assert_non_null(snap_a);
	assert_non_null(clone_a);
	assert_non_null(vol_thin);
	assert_string_equal(fx_xattr_str(super, "name"), "lvsf");
	assert_string_equal(fx_xattr_str(super, "uuid"), "78fbab11-9fb0-4d37-b304-e14456150389");
	assert_true(super->invalid_flags == BSF_INVALID_EXTENT_TABLE);
	assert_true(super->num_clusters == 0);
	assert_string_equal(fx_xattr_str(vol_a, "uuid"), "46e33bc9-522a-4f33-98b4-bf81c397f9d4");
	assert_string_equal(fx_xattr_str(snap_a, "uuid"), "e1d8933d-c492-495c-95f4-f73a503f3540");
	assert_string_equal(fx_xattr_str(clone_a, "uuid"), "19b7cc25-0233-42bf-8aaa-11cd949197bc");
	assert_string_equal(fx_xattr_str(vol_thin, "uuid"), "e0e52b3c-f7db-46b8-8bf7-fe21f227b207");
	/* Names at creation are 64 bytes, NUL-padded (§7.2). */
	assert_int_equal(bsf_blob_md_find_xattr(vol_a, false, "name")->value_len, 64);
	for (uint32_t b = 0; b < nblobs; b++)
		if (&blobs[b] != super)
			assert_true(blobs[b].num_clusters == 16);

	/* snap_a: thick, read-only, 16 clusters. */
	assert_false(bsf_blob_md_is_thin(snap_a));
	assert_true(bsf_blob_md_data_ro(snap_a));
	for (int s = 0; s < 16; s++)
		assert_int_not_equal(snap_a->clusters[s], 0);
	/* vol_a: thin clone of snap_a, no clusters of its own. */
	assert_true(bsf_blob_md_is_thin(vol_a));
	assert_true(bsf_load_le64(bsf_blob_md_find_xattr(vol_a, true, "SNAP")->value) ==
		    snap_a->id);
	for (int s = 0; s < 16; s++)
		assert_int_equal(vol_a->clusters[s], 0);
	/* clone_a: one cluster, at slot 1; SNAP -> snap_a. */
	assert_true(bsf_load_le64(bsf_blob_md_find_xattr(clone_a, true, "SNAP")->value) ==
		    snap_a->id);
	for (int s = 0; s < 16; s++)
		assert_true((clone_a->clusters[s] != 0) == (s == 1));
	/* vol_thin: slots 4 and 5, no parent. */
	assert_null(bsf_blob_md_find_xattr(vol_thin, true, "SNAP"));
	for (int s = 0; s < 16; s++)
		assert_true((vol_thin->clusters[s] != 0) == (s == 4 || s == 5));
	/* snap_a's extent page still carries vol_a's id (§4.9: stale ids). */
	{
		struct bsf_extent_page ep;

		assert_int_equal(bsf_extent_page_decode(img + bsf_md_page_offset(
					&l, snap_a->extent_pages[0]), &ep, NULL), 0);
		assert_true(ep.id == vol_a->id);
	}

	for (uint32_t b = 0; b < nblobs; b++)
		bsf_blob_md_free(&blobs[b]);
	bit_array_free(&pages);
	bit_array_free(&ids);
	bit_array_free(&clusters);
	bit_array_free(&disk);
	free(img);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vectors),
		cmocka_unit_test(test_super_vectors),
		cmocka_unit_test(test_super_update_keeps_reserved),
		cmocka_unit_test(test_super_decode_order),
		cmocka_unit_test(test_super_decode_hostile_geometry),
		cmocka_unit_test(test_layout_1g_4m),
		cmocka_unit_test(test_layout_1g_1m),
		cmocka_unit_test(test_layout_16k_pages),
		cmocka_unit_test(test_layout_multipage_masks_and_errors),
		cmocka_unit_test(test_mask_roundtrip),
		cmocka_unit_test(test_mask_decode_rules),
		cmocka_unit_test(test_desc_iter_framing),
		cmocka_unit_test(test_minimal_root_page_vector),
		cmocka_unit_test(test_rle_capacity),
		cmocka_unit_test(test_rle_big_roundtrip),
		cmocka_unit_test(test_extent_table_capacity),
		cmocka_unit_test(test_extent_table_big_thin_roundtrip),
		cmocka_unit_test(test_many_xattrs_span_pages),
		cmocka_unit_test(test_largest_xattr_and_limits),
		cmocka_unit_test(test_zero_size_table_edge_case),
		cmocka_unit_test(test_serialize_alloc_failure_lists_pages),
		cmocka_unit_test(test_reject_flags),
		cmocka_unit_test(test_reject_rle),
		cmocka_unit_test(test_reject_xattr),
		cmocka_unit_test(test_reject_extent_table),
		cmocka_unit_test(test_reject_chain),
		cmocka_unit_test(test_parser_api_misuse),
		cmocka_unit_test(test_recovery_claims),
		cmocka_unit_test(test_corrupt_pages_never_read_out_of_bounds),
		cmocka_unit_test(test_spdk_fixture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
