/*
 * lvstor-check internals: the state one check run builds up, shared by
 * the files of app/lvstor-check (one stage each):
 *
 *   image.c       read-only access to the image file or block device
 *   superblock.c  superblock validation and layout against §9.1
 *   walk.c        the §6.9 recovery scan: what a dirty load would rebuild
 *   blobs.c       every blob opened as a normal load would, ownership of
 *                 clusters and pages, parents
 *   masks.c       clean masks against the walk
 *   lvol.c        the lvol layer's xattr rules (§7) on LVOLSTORE stores
 *   report.c      text and JSON output
 *   main.c        options and the order of the stages
 *
 * Everything the check finds is an issue with a severity: an ERROR makes
 * the image inconsistent (exit 1), a WARNING is legal but unusual (for
 * example the transient states a crash may leave, which the next load
 * repairs), INFO is context printed with --verbose.
 */
#ifndef LVSTOR_CHECK_H
#define LVSTOR_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../lib/blob/format.h"

enum chk_severity {
	CHK_INFO,
	CHK_WARNING,
	CHK_ERROR,
};

struct chk_issue {
	enum chk_severity sev;
	blob_id blob;                   /* BSF_BLOBID_NONE when not about one blob */
	char *msg;
};

/* An opened image: a regular file or a block device, read-only. */
struct chk_image {
	int fd;
	uint64_t size;                  /* bytes */
	bool is_blockdev;
	uint32_t dev_block_size;        /* logical block size of a block device, else 0 */
};

int chk_image_open(struct chk_image *img, const char *path);
/* Reads len bytes at off; bytes past the end of the image read as zero
 * and make the call return -ENODATA (the caller decides how bad that is). */
int chk_image_read(const struct chk_image *img, uint64_t off, void *buf, size_t len);
void chk_image_close(struct chk_image *img);

/* One blob found by the recovery walk (a valid root page). */
struct chk_blob {
	blob_id id;
	uint32_t root;                  /* metadata-region page */
	bool opened;                    /* the strict parse (a normal open) succeeded */
	struct bsf_blob_md md;          /* valid when opened */
	uint64_t allocated;             /* slots with a cluster */
	bool has_name, has_uuid;
	char name[BSF_LVOL_NAME_MAX + 1];
	char uuid[BSF_LVOL_UUID_LEN];
	blob_id parent;                 /* SNAP, BSF_BLOBID_NONE if none */
	bool esnap;                     /* EXTERNAL_SNAPSHOT */
	bool snap_op;                   /* SNAPTMP or SNAPRM: interrupted snapshot op */
	uint32_t num_clones;
};

struct chk_opts {
	const char *path;
	uint32_t block_size;            /* --block-size, 0 = take the recorded io unit */
	bool verbose;
	bool json;
};

struct chk {
	struct chk_opts opts;
	struct chk_image img;
	uint64_t dev_size;              /* usable bytes: whole blocks of block_size */

	/* superblock.c */
	bool sb_valid;                  /* decoded; later stages may run */
	struct bsf_super sb;
	struct bsf_layout l;
	bool lvol;                      /* bstype is LVOLSTORE */

	/* walk.c: the bitmaps a recovery load would rebuild */
	struct bit_array *rec_pages, *rec_ids, *rec_clusters;
	bool recovery_fails;            /* a dirty load would reject the store */

	/* blobs.c */
	struct chk_blob *blobs;
	uint32_t num_blobs, blobs_cap;
	uint64_t used_clusters;         /* per the walk, metadata clusters included */

	/* lvol.c */
	char lvs_name[BSF_LVOL_NAME_MAX + 1];
	char lvs_uuid[BSF_LVOL_UUID_LEN];

	/* md page read cache (a chunk of consecutive slots) */
	uint8_t *cache;
	uint64_t cache_off, cache_len;

	struct chk_issue *issues;
	uint32_t num_issues, issues_cap;
	uint32_t num_errors, num_warnings;
	bool io_error;                  /* the image could not be read: exit 2 */
};

void chk_issue(struct chk *c, enum chk_severity sev, blob_id blob, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define CHK_ERR(c, blob, ...) chk_issue((c), CHK_ERROR, (blob), __VA_ARGS__)
#define CHK_WARN(c, blob, ...) chk_issue((c), CHK_WARNING, (blob), __VA_ARGS__)
#define CHK_INFO_(c, blob, ...) chk_issue((c), CHK_INFO, (blob), __VA_ARGS__)

/* First 4096 bytes of metadata-region page idx (through the cache). */
int chk_read_md_page(struct chk *c, uint32_t idx, uint8_t page[BSF_PAGE_SIZE]);
/* bsf_read_page_fn adapter. */
int chk_read_md_page_cb(void *ctx, uint32_t idx, uint8_t page[BSF_PAGE_SIZE]);
struct chk_blob *chk_find_blob(struct chk *c, blob_id id);
/* Printable copy of a byte string (non-printables become '?'). */
void chk_printable(char *dst, size_t dst_len, const uint8_t *src, size_t src_len);

int chk_superblock(struct chk *c);
void chk_walk(struct chk *c);
void chk_blobs(struct chk *c);
void chk_masks(struct chk *c);
void chk_lvol(struct chk *c);
void chk_report_text(struct chk *c, FILE *out);
void chk_report_json(struct chk *c, FILE *out);
void chk_free(struct chk *c);

#endif
