/*
 * Power-cut sweeps over the snapshot operations (lib/blob/snapshot.c):
 * snapshot, clone, delete of a snapshot with one clone (merge), inflate,
 * decouple and set parent.
 *
 * For each operation: a clean run must succeed; then for N = 0, 1, ...
 * a fresh store is built the same way (its data written and flushed),
 * the power is cut after the operation's N-th device write (with a
 * volatile write cache: writes not yet flushed are lost, and the device
 * writes 4 KiB atomically), and the surviving image is loaded (dirty:
 * recovery, then the §6.10 fix-up). It must load, and then:
 *  - every blob is either entirely in its state before the operation or
 *    entirely in its state after it (the after state whenever the
 *    operation was acknowledged); in both, every byte written before the
 *    operation reads back;
 *  - no cluster is owned twice and none is leaked (ut_bs_check: the free
 *    count equals what the blobs own), and no metadata page is leaked
 *    (the used pages are exactly the blobs' chains and extent pages);
 *  - no blob is left with SNAPTMP / SNAPRM;
 *  - the offline checker, lvstor-check, accepts the image as the cut left
 *    it and after the reload and a clean unload (ut_check_image.h).
 * The sweep ends with the first N at which the operation finished with
 * power left. A second pass tears the writes in flight at the cut in
 * 4 KiB units.
 */
#include <inttypes.h>

#include "lvstor/log.h"
#include "snap_ut_helpers.h"
#include "ut_check_image.h"

#define BL 4096u
#define CL (16u * 1024u)
#define UPC (CL / BL)
#define DEV_BLOCKS (1024u * CL / BL)   /* 1024 clusters of 16 KiB */
#define NC 4u                           /* clusters of the small blobs */
#define BIGC 600u                       /* two extent groups, the second partial */

static bool g_torn;
static uint64_t g_seed;

static int
setup(void **state)
{
	ut_threads_init(1);
	return 0;
}

static int
teardown(void **state)
{
	ut_threads_fini();
	return 0;
}

/* ---- scenario plumbing ----------------------------------------------------------------------- */

struct sc {
	struct io_channel *ch;          /* the store's md-thread channel during prepare / op */
	blob_id b, s, c, g, p, t;       /* the blobs a scenario uses */
	blob_id other;                  /* a bystander */
	uint64_t n;                     /* clusters of the blobs involved */
	uint8_t *mb, *ms, *mc, *mp, *mt_old, *mt_new;   /* expected contents */
};

struct scenario {
	const char *name;
	void (*prepare)(struct blob_store *bs, struct sc *sc);
	int (*op)(struct blob_store *bs, struct sc *sc);
	bool (*is_old)(struct blob_store *bs, struct sc *sc);
	bool (*is_new)(struct blob_store *bs, struct sc *sc);
};

static uint8_t *
model(uint64_t n)
{
	uint8_t *m = calloc(n, CL);

	assert_non_null(m);
	return m;
}

static void
sc_free(struct sc *sc)
{
	free(sc->mb);
	free(sc->ms);
	free(sc->mc);
	free(sc->mp);
	free(sc->mt_old);
	free(sc->mt_new);
	memset(sc, 0, sizeof(*sc));
}

/* Writes pattern `seed` at io unit `off` of blob `id` (and into `m`, if given). */
static void
put(struct blob_store *bs, struct sc *sc, blob_id id, uint8_t *m, uint64_t off, uint64_t len,
    uint32_t seed)
{
	struct blob *blob;
	uint8_t *buf = malloc(len * BL);

	assert_non_null(buf);
	ut_pattern(buf, len * BL, seed);
	assert_int_equal(ut_open(bs, id, &blob), 0);
	assert_int_equal(ut_bwrite(blob, sc->ch, buf, off, len), 0);
	assert_int_equal(ut_close(blob), 0);
	if (m != NULL)
		memcpy(m + off * BL, buf, len * BL);
	free(buf);
}

/* Makes everything written so far durable (the prepared data is "acknowledged"). */
static void
flush_all(struct blob_store *bs, struct sc *sc, blob_id id)
{
	struct ut_res r = { 0 };
	struct blob *blob;

	assert_int_equal(ut_open(bs, id, &blob), 0);
	blob_io_flush(blob, sc->ch, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(ut_close(blob), 0);
}

/* Opens id and checks: it reads as m (n clusters); false if not, or if it does not open. */
static bool
reads_as(struct blob_store *bs, struct io_channel *ch, blob_id id, const uint8_t *m, uint64_t n)
{
	struct blob *blob;
	uint8_t *buf;
	bool ok;

	if (ut_open(bs, id, &blob) != 0)
		return false;
	buf = malloc(n * CL);
	assert_non_null(buf);
	ok = blob_get_num_clusters(blob) == n && ut_bread(blob, ch, buf, 0, n * UPC) == 0 &&
	     memcmp(buf, m, n * CL) == 0;
	free(buf);
	assert_int_equal(ut_close(blob), 0);
	return ok;
}

static bool
absent(struct blob_store *bs, blob_id id)
{
	struct blob *blob;
	int rc = ut_open(bs, id, &blob);

	if (rc == 0)
		assert_int_equal(ut_close(blob), 0);
	return rc == -ENOENT;
}

struct shape {
	int thin;                       /* -1: any */
	int ro;
	int64_t allocated;              /* -1: any */
	blob_id parent;
	bool esnap;
};

static bool
has_shape(struct blob_store *bs, blob_id id, const struct shape *want)
{
	struct blob *blob;
	bool ok;

	if (ut_open(bs, id, &blob) != 0)
		return false;
	ok = (want->thin < 0 || blob_is_thin_provisioned(blob) == (want->thin != 0)) &&
	     (want->ro < 0 || blob_is_read_only(blob) == (want->ro != 0)) &&
	     (want->allocated < 0 ||
	      blob_get_num_allocated_clusters(blob) == (uint64_t)want->allocated) &&
	     bs_get_parent_snapshot(bs, id) == want->parent &&
	     blob_is_esnap_clone(blob) == want->esnap &&
	     blob_get_xattr_internal(blob, BSF_XATTR_SNAPTMP, NULL, NULL) != 0 &&
	     blob_get_xattr_internal(blob, BSF_XATTR_SNAPRM, NULL, NULL) != 0;
	assert_int_equal(ut_close(blob), 0);
	return ok;
}

/* The store's io channel for checks after the load (set by the sweep). */
static struct io_channel *g_ch;

/* ---- snapshot -------------------------------------------------------------------------------- */

static void
snap_prepare(struct blob_store *bs, struct sc *sc)
{
	sc->n = NC;
	sc->b = ut_create_simple(bs, NC, false);
	sc->mb = model(NC);
	put(bs, sc, sc->b, sc->mb, 0, 2, 1);
	put(bs, sc, sc->b, sc->mb, 2 * UPC + 1, 2, 2);
	flush_all(bs, sc, sc->b);
	/* The snapshot gets the lowest free root page: known in advance. */
	sc->s = bsf_page_to_blobid(bit_array_find_first_clear(bs->used_md_pages, 0));
}

static int
snap_op(struct blob_store *bs, struct sc *sc)
{
	blob_id s;
	int rc = ut_snapshot(bs, sc->b, NULL, &s);

	if (rc == 0)
		assert_true(s == sc->s);
	return rc;
}

static bool
snap_is_old(struct blob_store *bs, struct sc *sc)
{
	struct shape b = { 0, 0, NC, BLOB_ID_INVALID, false };

	return absent(bs, sc->s) && has_shape(bs, sc->b, &b) &&
	       reads_as(bs, g_ch, sc->b, sc->mb, NC);
}

static bool
snap_is_new(struct blob_store *bs, struct sc *sc)
{
	struct shape b = { 1, 0, 0, sc->s, false };
	struct shape s = { 0, 1, NC, BLOB_ID_INVALID, false };

	return has_shape(bs, sc->b, &b) && has_shape(bs, sc->s, &s) &&
	       reads_as(bs, g_ch, sc->b, sc->mb, NC) && reads_as(bs, g_ch, sc->s, sc->mb, NC);
}

/* ---- clone ------------------------------------------------------------------------------------- */

static void
clone_prepare(struct blob_store *bs, struct sc *sc)
{
	snap_prepare(bs, sc);
	assert_int_equal(ut_snapshot(bs, sc->b, NULL, &sc->s), 0);
	sc->c = bsf_page_to_blobid(bit_array_find_first_clear(bs->used_md_pages, 0));
}

static int
clone_op(struct blob_store *bs, struct sc *sc)
{
	blob_id c;
	int rc = ut_clone(bs, sc->s, NULL, &c);

	if (rc == 0)
		assert_true(c == sc->c);
	return rc;
}

static bool
clone_is_old(struct blob_store *bs, struct sc *sc)
{
	return absent(bs, sc->c) && snap_is_new(bs, sc);
}

static bool
clone_is_new(struct blob_store *bs, struct sc *sc)
{
	struct shape c = { 1, 0, 0, sc->s, false };

	return has_shape(bs, sc->c, &c) && reads_as(bs, g_ch, sc->c, sc->mb, NC) &&
	       snap_is_new(bs, sc);
}

/* ---- delete of a snapshot with one clone (merge) ---------------------------------------------------- */

/*
 * B (600 clusters, thin) has slots 3, 5, 520, 599; snapshot S takes them;
 * B is deleted; clone C writes slots 3 and 10. Deleting S: C adopts 5
 * (merged copy of its group-0 page), 520 and 599 (S's group-1 page,
 * adopted as it is); S's slot 3 is freed.
 */
static void
merge_prepare(struct blob_store *bs, struct sc *sc)
{
	blob_id b = ut_create_simple(bs, BIGC, true);

	sc->n = BIGC;
	sc->ms = model(BIGC);
	put(bs, sc, b, sc->ms, 3 * UPC, 1, 10);
	put(bs, sc, b, sc->ms, 5 * UPC + 1, 1, 11);
	put(bs, sc, b, sc->ms, 520 * UPC, 2, 12);
	put(bs, sc, b, sc->ms, 599 * UPC + 3, 1, 13);
	assert_int_equal(ut_snapshot(bs, b, NULL, &sc->s), 0);
	assert_int_equal(ut_delete(bs, b), 0);
	assert_int_equal(ut_clone(bs, sc->s, NULL, &sc->c), 0);
	sc->mc = model(BIGC);
	memcpy(sc->mc, sc->ms, BIGC * CL);
	put(bs, sc, sc->c, sc->mc, 3 * UPC + 2, 1, 14);
	put(bs, sc, sc->c, sc->mc, 10 * UPC, 1, 15);
	flush_all(bs, sc, sc->c);
}

static int
merge_op(struct blob_store *bs, struct sc *sc)
{
	return ut_delete(bs, sc->s);
}

static bool
merge_is_old(struct blob_store *bs, struct sc *sc)
{
	struct shape s = { 1, 1, 4, BLOB_ID_INVALID, false };
	struct shape c = { 1, 0, 2, sc->s, false };

	return has_shape(bs, sc->s, &s) && has_shape(bs, sc->c, &c) &&
	       reads_as(bs, g_ch, sc->c, sc->mc, BIGC) && reads_as(bs, g_ch, sc->s, sc->ms, BIGC);
}

static bool
merge_is_new(struct blob_store *bs, struct sc *sc)
{
	struct shape c = { 1, 0, 5, BLOB_ID_INVALID, false };

	return absent(bs, sc->s) && has_shape(bs, sc->c, &c) &&
	       reads_as(bs, g_ch, sc->c, sc->mc, BIGC);
}

/* A merge into a clone that re-points to a grandparent (small, thick origin). */
static void
merge_gp_prepare(struct blob_store *bs, struct sc *sc)
{
	snap_prepare(bs, sc);                    /* b: thick, data */
	assert_int_equal(ut_snapshot(bs, sc->b, NULL, &sc->g), 0);      /* g owns all 4 */
	put(bs, sc, sc->b, sc->mb, UPC, 1, 20);  /* b owns slot 1 */
	assert_int_equal(ut_snapshot(bs, sc->b, NULL, &sc->s), 0);      /* s owns slot 1 */
	put(bs, sc, sc->b, sc->mb, 3 * UPC, 1, 21);                     /* b owns slot 3 */
	flush_all(bs, sc, sc->b);
}

static bool
merge_gp_is_old(struct blob_store *bs, struct sc *sc)
{
	struct shape s = { 1, 1, 1, sc->g, false };
	struct shape b = { 1, 0, 1, sc->s, false };

	return has_shape(bs, sc->s, &s) && has_shape(bs, sc->b, &b) &&
	       reads_as(bs, g_ch, sc->b, sc->mb, NC);
}

static bool
merge_gp_is_new(struct blob_store *bs, struct sc *sc)
{
	struct shape b = { 1, 0, 2, sc->g, false };

	return absent(bs, sc->s) && has_shape(bs, sc->b, &b) &&
	       reads_as(bs, g_ch, sc->b, sc->mb, NC);
}

/* ---- inflate / decouple ---------------------------------------------------------------------- */

/* G (all 4) <- P (slot 1) <- C (slot 2 written); b, P's other clone. */
static void
chain_prepare(struct blob_store *bs, struct sc *sc)
{
	snap_prepare(bs, sc);
	assert_int_equal(ut_snapshot(bs, sc->b, NULL, &sc->g), 0);
	put(bs, sc, sc->b, sc->mb, UPC + 2, 1, 30);
	assert_int_equal(ut_snapshot(bs, sc->b, NULL, &sc->p), 0);
	assert_int_equal(ut_clone(bs, sc->p, NULL, &sc->c), 0);
	sc->mc = model(NC);
	memcpy(sc->mc, sc->mb, NC * CL);
	put(bs, sc, sc->c, sc->mc, 2 * UPC + 1, 1, 31);
	flush_all(bs, sc, sc->c);
}

static int
inflate_op(struct blob_store *bs, struct sc *sc)
{
	return ut_inflate(bs, sc->ch, sc->c);
}

static bool
inflate_is_old(struct blob_store *bs, struct sc *sc)
{
	/* Copies commit one by one: any number of clusters, still P's clone. */
	struct shape c = { 1, 0, -1, sc->p, false };

	return has_shape(bs, sc->c, &c) && reads_as(bs, g_ch, sc->c, sc->mc, NC);
}

static bool
inflate_is_new(struct blob_store *bs, struct sc *sc)
{
	struct shape c = { 0, 0, NC, BLOB_ID_INVALID, false };

	return has_shape(bs, sc->c, &c) && reads_as(bs, g_ch, sc->c, sc->mc, NC);
}

static int
decouple_op(struct blob_store *bs, struct sc *sc)
{
	return ut_decouple(bs, sc->ch, sc->c);
}

static bool
decouple_is_new(struct blob_store *bs, struct sc *sc)
{
	struct shape c = { 1, 0, 2, sc->g, false };

	return has_shape(bs, sc->c, &c) && reads_as(bs, g_ch, sc->c, sc->mc, NC);
}

/* ---- set parent ------------------------------------------------------------------------------- */

static void
setp_prepare(struct blob_store *bs, struct sc *sc)
{
	snap_prepare(bs, sc);
	assert_int_equal(ut_snapshot(bs, sc->b, NULL, &sc->s), 0);
	sc->t = ut_create_simple(bs, NC, true);
	sc->mt_old = model(NC);
	put(bs, sc, sc->t, sc->mt_old, UPC + 1, 1, 40);
	sc->mt_new = model(NC);
	memcpy(sc->mt_new, sc->mb, NC * CL);
	memcpy(sc->mt_new + CL, sc->mt_old + CL, CL);
	flush_all(bs, sc, sc->t);
}

static int
setp_op(struct blob_store *bs, struct sc *sc)
{
	return ut_set_parent(bs, sc->t, sc->s);
}

static bool
setp_is_old(struct blob_store *bs, struct sc *sc)
{
	struct shape t = { 1, 0, 1, BLOB_ID_INVALID, false };

	return has_shape(bs, sc->t, &t) && reads_as(bs, g_ch, sc->t, sc->mt_old, NC);
}

static bool
setp_is_new(struct blob_store *bs, struct sc *sc)
{
	struct shape t = { 1, 0, 1, sc->s, false };

	return has_shape(bs, sc->t, &t) && reads_as(bs, g_ch, sc->t, sc->mt_new, NC);
}

/* ---- the sweep --------------------------------------------------------------------------------- */

static const struct scenario g_scenarios[] = {
	{ "snapshot", snap_prepare, snap_op, snap_is_old, snap_is_new },
	{ "clone", clone_prepare, clone_op, clone_is_old, clone_is_new },
	{ "delete snapshot (merge, 2 groups)", merge_prepare, merge_op, merge_is_old,
	  merge_is_new },
	{ "delete snapshot (merge, to grandparent)", merge_gp_prepare, merge_op, merge_gp_is_old,
	  merge_gp_is_new },
	{ "inflate", chain_prepare, inflate_op, inflate_is_old, inflate_is_new },
	{ "decouple", chain_prepare, decouple_op, inflate_is_old, decouple_is_new },
	{ "set parent", setp_prepare, setp_op, setp_is_old, setp_is_new },
};

struct run {
	struct bs_dev *base;
	struct bs_dev *dev;
	struct blob_store *bs;
	struct sc sc;
};

static struct bs_opts
store_opts(void)
{
	struct bs_opts o = ut_bs_opts(CL, NULL);

	o.num_md_pages = 64;
	return o;
}

static void
run_begin(struct run *run)
{
	struct ut_fault_dev_opts fo;
	struct bs_opts o = store_opts();

	memset(run, 0, sizeof(*run));
	ut_fault_dev_opts_init(&fo, sizeof(fo));
	fo.drop_unflushed = true;
	fo.atomic_unit = 4096;
	fo.torn_writes = g_torn;
	fo.seed = g_seed;
	run->base = bs_dev_mem_create(DEV_BLOCKS, BL);
	assert_non_null(run->base);
	run->dev = ut_fault_dev_create(run->base, &fo);
	assert_non_null(run->dev);
	assert_int_equal(ut_bs_init(run->dev, &o, &run->bs), 0);
	run->sc.ch = bs_alloc_io_channel(run->bs);
	assert_non_null(run->sc.ch);
	run->sc.other = ut_create_simple(run->bs, 3, false);
}

/* After the op (and maybe a cut): drop the store. */
static void
run_end(struct run *run, bool must_succeed)
{
	int rc;

	bs_free_io_channel(run->sc.ch);
	run->sc.ch = NULL;
	ut_poll_threads();
	rc = ut_bs_unload(run->bs);
	if (must_succeed)
		assert_int_equal(rc, 0);
	else
		assert_true(rc == 0 || rc == -EIO);
	ut_poll_threads();
}

/* Used md pages are exactly the blobs' chains and extent pages (nothing leaked). */
static void
check_md_pages(struct blob_store *bs)
{
	struct ut_res r = { 0 };
	uint32_t pages = 0;
	struct blob *blob;

	bs_iter_first(bs, ut_blob_cb, &r);
	ut_poll_threads();
	while (r.rc == 0) {
		blob = r.blob;
		pages += blob->clean.pages.n;
		for (uint32_t k = 0; k < blob->active.num_extent_pages; k++)
			pages += blob->active.extent_pages[k] != 0;
		memset(&r, 0, sizeof(r));
		bs_iter_next(bs, blob, ut_blob_cb, &r);
		ut_poll_threads();
	}
	assert_int_equal(r.rc, -ENOENT);
	assert_int_equal(bit_array_count_set(bs->used_md_pages), pages);
}

static void
sweep(const struct scenario *s)
{
	struct bs_opts o = store_opts();
	struct run run;
	uint64_t total, n;
	int rc;

	/* 1. A clean run must succeed. */
	run_begin(&run);
	s->prepare(run.bs, &run.sc);
	assert_int_equal(s->op(run.bs, &run.sc), 0);
	run_end(&run, true);
	run.base->destroy(run.base);
	ut_poll_threads();
	sc_free(&run.sc);

	/* 2. Cut after the operation's n-th write, until it finishes first. */
	for (n = 0, total = UINT64_MAX; n <= total; n++) {
		struct blob_store *bs;
		struct bs_dev *image;
		bool acked, is_old, is_new;

		run_begin(&run);
		s->prepare(run.bs, &run.sc);
		ut_fault_dev_set_cut_after_writes(run.dev, ut_fault_dev_write_count(run.dev) + n);
		rc = s->op(run.bs, &run.sc);
		acked = rc == 0;
		if (ut_fault_dev_has_power(run.dev))
			total = n;
		assert_true(n < 2000);
		ut_poll_threads();
		run_end(&run, false);
		image = ut_mem_dev_copy(run.base);
		assert_non_null(image);
		run.base->destroy(run.base);
		ut_poll_threads();

		/* lvstor-check accepts the image as the cut left it (dirty)... */
		ut_check_image(image, UT_CHECK_CRASHED, "%s%s, cut after write %" PRIu64, s->name,
			       g_torn ? " (torn)" : "", n);
		rc = ut_bs_load(ut_fault_dev_create(image, NULL), &o, &bs);
		if (rc != 0)
			fail_msg("%s: cut after write %" PRIu64 ": load failed: %d", s->name, n, rc);
		ut_bs_check(bs);
		check_md_pages(bs);
		g_ch = bs_alloc_io_channel(bs);
		assert_non_null(g_ch);
		is_new = s->is_new(bs, &run.sc);
		is_old = is_new ? false : s->is_old(bs, &run.sc);
		if (!is_new && !is_old)
			fail_msg("%s: cut after write %" PRIu64 ": neither the old nor the new state",
				 s->name, n);
		if (acked && !is_new)
			fail_msg("%s: cut after write %" PRIu64 ": acknowledged but lost", s->name, n);
		/* The bystander is untouched. */
		{
			struct shape other = { 0, 0, 3, BLOB_ID_INVALID, false };

			assert_true(has_shape(bs, run.sc.other, &other));
		}
		bs_free_io_channel(g_ch);
		g_ch = NULL;
		ut_poll_threads();
		assert_int_equal(ut_bs_unload(bs), 0);
		ut_poll_threads();
		/* ...and as the reload (fix-up included) and a clean unload left it. */
		ut_check_image(image, UT_CHECK_CLEAN, "%s%s, cut after write %" PRIu64, s->name,
			       g_torn ? " (torn)" : "", n);
		image->destroy(image);
		ut_poll_threads();
		sc_free(&run.sc);
	}
	print_message("  %s%s: %" PRIu64 " cut points\n", s->name, g_torn ? " (torn)" : "",
		      total + 1);
}

static void
test_sweep(void **state)
{
	g_torn = false;
	sweep(*state);
}

static void
test_sweep_torn(void **state)
{
	g_torn = true;
	for (g_seed = 1; g_seed <= 2; g_seed++)
		sweep(*state);
	g_torn = false;
}

int
main(void)
{
	struct CMUnitTest tests[2 * COUNTOF(g_scenarios)];
	static char names[2 * COUNTOF(g_scenarios)][80];
	size_t n = 0;

	/* Every cut makes the store log its failed writes: expected here. */
	log_set_print_level(LOG_LEVEL_DISABLED);

	for (size_t i = 0; i < COUNTOF(g_scenarios); i++) {
		snprintf(names[n], sizeof(names[n]), "crash sweep: %s", g_scenarios[i].name);
		tests[n] = (struct CMUnitTest){ names[n], test_sweep, setup, teardown,
						(void *)&g_scenarios[i] };
		n++;
	}
	for (size_t i = 0; i < COUNTOF(g_scenarios); i++) {
		snprintf(names[n], sizeof(names[n]), "crash sweep, torn writes: %s",
			 g_scenarios[i].name);
		tests[n] = (struct CMUnitTest){ names[n], test_sweep_torn, setup, teardown,
						(void *)&g_scenarios[i] };
		n++;
	}
	return _cmocka_run_group_tests("snapshot_crash_ut", tests, n, NULL, NULL);
}
