/*
 * Writes the seed corpus of blob_md_fuzz (test/fuzz/corpus/blob_md_fuzz/):
 * real stores made by lib/blob on the fuzzer's device geometry
 * (blob_md_fuzz.h), so that mutations start from bytes the loader
 * accepts and reach past the first checks. Run by `make fuzz-corpus`;
 * the files are committed, so `make fuzz` does not need it.
 *
 *   store-empty-clean     a new store, unloaded (clean flag, exact masks)
 *   store-blobs-clean     thick / thin / multi-page-chain / RLE-free blobs,
 *                         two extent groups, a snapshot and its clone,
 *                         lvol-style xattrs; unloaded
 *   store-blobs-dirty     the same store as a power cut would leave it
 *                         (clean = 0: the load runs recovery and fix-up)
 *   page-root-chain       the root page of a two-page chain alone, and
 *   page-extent           an extent page alone: inputs without a
 *                         superblock are parsed as a bare metadata region
 *   fixture-superblock    the superblock of the SPDK-written fixture
 *                         ($LVSTOR_FIXTURE, or ../shared/fixtures/...)
 *
 * Each file is cut after its last non-zero byte: the fuzzer pads inputs
 * with zeros to the device size, so the seeds stay a few KiB.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/blob.h"
#include "lvstor/bs_dev.h"
#include "lvstor/log.h"
#include "../unit/common/ut_fault_dev.h"
#include "../unit/common/ut_threads.h"
#include "../../lib/blob/format.h"
#include "blob_md_fuzz.h"

static const char *g_dir;

struct res {
	int calls, rc;
	struct blob_store *bs;
	struct blob *blob;
	blob_id id;
};

static void
op_cb(void *arg, int rc)
{
	((struct res *)arg)->calls++;
	((struct res *)arg)->rc = rc;
}

static void
bs_cb(void *arg, struct blob_store *bs, int rc)
{
	op_cb(arg, rc);
	((struct res *)arg)->bs = bs;
}

static void
blob_cb(void *arg, struct blob *blob, int rc)
{
	op_cb(arg, rc);
	((struct res *)arg)->blob = blob;
}

static void
id_cb(void *arg, blob_id id, int rc)
{
	op_cb(arg, rc);
	((struct res *)arg)->id = id;
}

static void
done(struct res *r, const char *what)
{
	ut_poll_threads();
	if (r->calls != 1 || r->rc != 0) {
		fprintf(stderr, "blob_md_corpus_gen: %s failed: %d\n", what, r->rc);
		exit(1);
	}
}

static void
save(const char *name, const uint8_t *buf, size_t len)
{
	char path[512];
	FILE *f;

	while (len > 0 && buf[len - 1] == 0)
		len--;
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "blob_md_corpus_gen: cannot write %s\n", path);
		exit(1);
	}
	printf("  %s (%zu bytes)\n", path, len);
}

static struct blob *
open_blob(struct blob_store *bs, blob_id id)
{
	struct res r = { 0 };

	bs_open_blob(bs, id, blob_cb, &r);
	done(&r, "open");
	return r.blob;
}

static void
close_blob(struct blob *blob)
{
	struct res r = { 0 };

	blob_close(blob, op_cb, &r);
	done(&r, "close");
}

/* A blob with lvol-style xattrs ("name", "uuid") and optionally a big one. */
static blob_id
create(struct blob_store *bs, uint64_t clusters, bool thin, const char *name, bool big)
{
	static uint8_t x[3000];
	struct blob_opts o;
	struct res r = { 0 };
	struct blob *blob;
	char uuid[37];

	memset(x, 'x', sizeof(x));
	blob_opts_init(&o, sizeof(o));
	o.num_clusters = clusters;
	o.thin_provision = thin;
	bs_create_blob(bs, &o, id_cb, &r);
	done(&r, "create");
	blob = open_blob(bs, r.id);
	snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012x", (unsigned)(uint32_t)r.id);
	if (blob_set_xattr(blob, "name", name, (uint16_t)(strlen(name) + 1)) != 0 ||
	    blob_set_xattr(blob, "uuid", uuid, sizeof(uuid)) != 0 ||
	    (big && (blob_set_xattr(blob, "big1", x, sizeof(x)) != 0 ||
		     blob_set_xattr(blob, "big2", x, sizeof(x)) != 0))) {
		fprintf(stderr, "blob_md_corpus_gen: set_xattr failed\n");
		exit(1);
	}
	close_blob(blob);
	return r.id;
}

static void
write_unit(struct blob_store *bs, struct io_channel *ch, blob_id id, uint64_t unit)
{
	static uint8_t data[FUZZ_BLOCK];
	struct blob *blob = open_blob(bs, id);
	struct res r = { 0 };

	memset(data, 0xa5, sizeof(data));
	blob_io_write(blob, ch, data, unit, 1, op_cb, &r);
	done(&r, "write");
	close_blob(blob);
}

static void
copy_fixture_superblock(void)
{
	const char *fx = getenv("LVSTOR_FIXTURE");
	uint8_t sb[BSF_PAGE_SIZE];
	char cmd[1024];
	FILE *p;

	if (fx == NULL || fx[0] == '\0')
		fx = "../shared/fixtures/spdk-lvs-4k.img.xz";
	snprintf(cmd, sizeof(cmd), "xz -dc '%s' 2>/dev/null | head -c %u", fx, BSF_PAGE_SIZE);
	p = popen(cmd, "r");
	if (p == NULL || fread(sb, 1, sizeof(sb), p) != sizeof(sb)) {
		fprintf(stderr, "blob_md_corpus_gen: %s: cannot read the fixture (skipped)\n", fx);
		if (p != NULL)
			pclose(p);
		return;
	}
	pclose(p);
	save("fixture-superblock", sb, sizeof(sb));
}

static void
init_or_load(struct bs_dev *base, bool init, struct blob_store **bs)
{
	struct bs_opts o;
	struct res r = { 0 };

	bs_opts_init(&o, sizeof(o));
	o.cluster_sz = FUZZ_CLUSTER;
	o.num_md_pages = FUZZ_MD_PAGES;
	/* Through a pass-through fault device: the store owns (and at unload
	 * destroys) that one, and base keeps the bytes. */
	if (init)
		bs_init(ut_fault_dev_create(base, NULL), &o, bs_cb, &r);
	else
		bs_load(ut_fault_dev_create(base, NULL), &o, bs_cb, &r);
	done(&r, init ? "bs_init" : "bs_load");
	*bs = r.bs;
}

static void
unload(struct blob_store *bs)
{
	struct res r = { 0 };

	bs_unload(bs, op_cb, &r);
	done(&r, "bs_unload");
}

int
main(int argc, char **argv)
{
	struct bs_dev *base;
	struct res r = { 0 };
	struct blob_store *bs;
	struct io_channel *ch;
	struct bsf_super sb;
	struct bsf_layout l;
	struct bsf_diag diag;
	blob_id a, c;
	const uint8_t *data;
	uint8_t *dirty;
	bool saved_ep = false;

	if (argc != 2) {
		fprintf(stderr, "usage: blob_md_corpus_gen DIR\n");
		return 2;
	}
	g_dir = argv[1];
	log_set_print_level(LOG_LEVEL_DISABLED);
	ut_threads_init(1);
	dirty = malloc(FUZZ_DEV_BYTES);
	if (dirty == NULL)
		return 1;

	/* 1. An empty store, unloaded. */
	base = bs_dev_mem_create(FUZZ_DEV_BYTES / FUZZ_BLOCK, FUZZ_BLOCK);
	data = bs_dev_mem_data(base);
	init_or_load(base, true, &bs);
	unload(bs);
	save("store-empty-clean", data, FUZZ_MAX_LEN);

	/* 2. Blobs of every kind. */
	init_or_load(base, false, &bs);
	ch = bs_alloc_io_channel(bs);
	a = create(bs, 3, false, "thick", false);
	{
		blob_id thin = create(bs, 600, true, "thin", false);

		write_unit(bs, ch, thin, 0);            /* group 0's extent page */
		write_unit(bs, ch, thin, 550);          /* group 1's */
	}
	c = create(bs, 1, false, "chain", true);        /* two-page chain */
	bs_create_snapshot(bs, a, NULL, id_cb, &r);
	done(&r, "snapshot");
	{
		blob_id snap = r.id;

		memset(&r, 0, sizeof(r));
		bs_create_clone(bs, snap, NULL, id_cb, &r);
		done(&r, "clone");
		write_unit(bs, ch, r.id, 1);            /* the clone's own cluster */
	}
	bs_free_io_channel(ch);
	ut_poll_threads();
	/* As a power cut now would leave it: dirty. */
	memcpy(dirty, data, FUZZ_DEV_BYTES);
	unload(bs);
	save("store-blobs-clean", data, FUZZ_MAX_LEN);
	save("store-blobs-dirty", dirty, FUZZ_MAX_LEN);

	/* 3. Single pages of that store, as bare regions. */
	if (bsf_super_decode(data, NULL, FUZZ_DEV_BYTES, &sb, &diag) != 0 ||
	    bsf_layout_from_super(&sb, FUZZ_DEV_BYTES, &l, &diag) != 0) {
		fprintf(stderr, "blob_md_corpus_gen: own superblock: %s\n", diag.msg);
		return 1;
	}
	save("page-root-chain", data + bsf_md_page_offset(&l, bsf_blobid_to_page(c)),
	     BSF_PAGE_SIZE);
	for (uint32_t i = 0; i < l.md_len && !saved_ep; i++) {
		struct bsf_extent_page ep;
		const uint8_t *pg = data + bsf_md_page_offset(&l, i);

		if (bsf_extent_page_decode(pg, &ep, &diag) == 0 && ep.start_cluster_idx > 0) {
			save("page-extent", pg, BSF_PAGE_SIZE);
			saved_ep = true;
		}
	}
	copy_fixture_superblock();

	base->destroy(base);
	ut_poll_threads();
	ut_threads_fini();
	free(dirty);
	return 0;
}
