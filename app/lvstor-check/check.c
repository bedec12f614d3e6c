/*
 * lvstor-check shared state: the issue list, metadata page reads through
 * a chunk cache, blob lookup and teardown.
 *
 * The walk reads the metadata region front to back, so pages are read in
 * chunks of CACHE_SLOTS slots: one pread per chunk instead of one per
 * page, which is what keeps a 10,000-blob store quick to check. Chains
 * and extent pages jump around and simply reload a chunk.
 *
 * Blobs are appended by the walk in ascending root-page order, hence in
 * ascending id order; chk_find_blob relies on that for a binary search.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* About 1 MiB per read (256 slots of 4 KiB): a good pread size on any
 * device; at least one slot when metadata pages are larger. */
#define CACHE_BYTES (1u << 20)

void
chk_issue(struct chk *c, enum chk_severity sev, blob_id blob, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (sev == CHK_ERROR)
		c->num_errors++;
	else if (sev == CHK_WARNING)
		c->num_warnings++;
	if (c->num_issues == c->issues_cap) {
		uint32_t ncap = c->issues_cap ? c->issues_cap * 2 : 32;
		struct chk_issue *n = realloc(c->issues, ncap * sizeof(*n));

		if (n == NULL) {
			free(msg);
			return;
		}
		c->issues = n;
		c->issues_cap = ncap;
	}
	c->issues[c->num_issues].sev = sev;
	c->issues[c->num_issues].blob = blob;
	c->issues[c->num_issues].msg = msg;
	c->num_issues++;
}

int
chk_read_md_page(struct chk *c, uint32_t idx, uint8_t page[BSF_PAGE_SIZE])
{
	uint64_t slot = c->l.md_page_size;
	uint64_t off = bsf_md_page_offset(&c->l, idx);
	int rc;

	uint32_t slots = slot >= CACHE_BYTES ? 1 : (uint32_t)(CACHE_BYTES / slot);

	if (idx >= c->l.md_len)
		return -EINVAL;
	if (c->cache == NULL) {
		/* Only the first 4096 bytes of a slot mean anything (§1.4); a
		 * single huge slot is read as just that. */
		c->cache = malloc(slots == 1 ? BSF_PAGE_SIZE : (size_t)slots * slot);
		if (c->cache == NULL) {
			CHK_ERR(c, BSF_BLOBID_NONE, "out of memory");
			c->io_error = true;
			return -ENOMEM;
		}
		c->cache_len = 0;
	}
	if (off < c->cache_off || off + BSF_PAGE_SIZE > c->cache_off + c->cache_len) {
		uint32_t n = c->l.md_len - idx < slots ? c->l.md_len - idx : slots;
		uint64_t len = slots == 1 ? BSF_PAGE_SIZE : (uint64_t)n * slot;

		rc = chk_image_read(&c->img, off, c->cache, len);
		if (rc != 0 && rc != -ENODATA) {
			if (!c->io_error)
				CHK_ERR(c, BSF_BLOBID_NONE, "metadata page %u: read failed: %s", idx,
					strerror(-rc));
			c->io_error = true;
			c->cache_len = 0;
			return rc;
		}
		/* Past the end of the image reads as zeros: an unused page. */
		c->cache_off = off;
		c->cache_len = len;
	}
	memcpy(page, c->cache + (off - c->cache_off), BSF_PAGE_SIZE);
	return 0;
}

int
chk_read_md_page_cb(void *ctx, uint32_t idx, uint8_t page[BSF_PAGE_SIZE])
{
	return chk_read_md_page(ctx, idx, page);
}

struct chk_blob *
chk_find_blob(struct chk *c, blob_id id)
{
	uint32_t lo = 0, hi = c->num_blobs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (c->blobs[mid].id == id)
			return &c->blobs[mid];
		if (c->blobs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
chk_printable(char *dst, size_t dst_len, const uint8_t *src, size_t src_len)
{
	size_t n = 0;

	if (dst_len == 0)
		return;
	for (size_t i = 0; i < src_len && n + 1 < dst_len; i++)
		dst[n++] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[n] = '\0';
}

void
chk_free(struct chk *c)
{
	for (uint32_t i = 0; i < c->num_blobs; i++)
		bsf_blob_md_free(&c->blobs[i].md);
	free(c->blobs);
	for (uint32_t i = 0; i < c->num_issues; i++)
		free(c->issues[i].msg);
	free(c->issues);
	free(c->cache);
	bit_array_free(&c->rec_pages);
	bit_array_free(&c->rec_ids);
	bit_array_free(&c->rec_clusters);
	chk_image_close(&c->img);
}
