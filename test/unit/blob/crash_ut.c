/*
 * Power-cut sweeps over the blobstore's metadata operations (spec §6,
 * doc/on-disk-format.md "Write orders").
 *
 * For each operation: one clean run counts the device writes W the
 * operation makes; then for every N in 0..W a fresh store is built the
 * same way, the power is cut after the operation's N-th write (with a
 * volatile write cache: unflushed writes are lost too), and the surviving
 * image is loaded. It must load; the consistency oracle (ut_bs_check)
 * must find no cluster owned twice and nothing leaked; and the blob the
 * operation touched must be entirely in its old state or entirely in its
 * new state, and in the new state whenever the operation was
 * acknowledged. A second pass tears the writes in flight at the cut in
 * 4 KiB units (the atomic unit the format requires). The offline checker,
 * lvstor-check, must accept every image twice: as the cut left it, and
 * after the reload and a clean unload (ut_check_image.h).
 */
#include <inttypes.h>

#include "lvstor/log.h"
#include "ut_bs.h"
#include "ut_check_image.h"

#define CL (16u * 1024u)
#define DEV_BLOCKS (1024u * CL / 4096u)   /* 1024 clusters of 16 KiB */

static bool g_torn;
static bool g_cached = true;
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

/* ---- scenario plumbing ------------------------------------------------------------------ */

struct sc {
	blob_id id;                     /* the blob the operation changes */
	blob_id other;                  /* a bystander */
	bool unloaded;                  /* the operation unloaded the store */
};

struct scenario {
	const char *name;
	void (*prepare)(struct blob_store *bs, struct sc *sc);
	int (*op)(struct blob_store *bs, struct sc *sc);
	/* old: the state before the op; new: after. Returns true if matched. */
	bool (*is_old)(struct blob_store *bs, struct sc *sc);
	bool (*is_new)(struct blob_store *bs, struct sc *sc);
};

static uint8_t g_big_x[3000];
static uint8_t g_big_y[3000];

static bool
xattr_is(struct blob *blob, const char *name, const uint8_t *val, size_t len)
{
	const void *v;
	size_t l;

	if (blob_get_xattr_value(blob, name, &v, &l) != 0)
		return val == NULL;
	return val != NULL && l == len && memcmp(v, val, len) == 0;
}

/* Opens sc->id and checks its size and allocation; false if it does not open. */
static bool
blob_shape(struct blob_store *bs, blob_id id, uint64_t clusters, uint64_t allocated,
	   struct blob **out)
{
	struct blob *blob;

	if (ut_open(bs, id, &blob) != 0)
		return false;
	if (blob_get_num_clusters(blob) != clusters ||
	    blob_get_num_allocated_clusters(blob) != allocated) {
		ut_close(blob);
		return false;
	}
	if (out != NULL) {
		*out = blob;
		return true;
	}
	ut_close(blob);
	return true;
}

static bool
blob_absent(struct blob_store *bs, blob_id id)
{
	struct blob *blob;
	int rc = ut_open(bs, id, &blob);

	if (rc == 0)
		ut_close(blob);
	return rc == -ENOENT;
}

static void
prepare_bystander(struct blob_store *bs, struct sc *sc)
{
	sc->other = ut_create_simple(bs, 3, false);
}

/* ---- create ---------------------------------------------------------------------------------- */

static void
create_prepare(struct blob_store *bs, struct sc *sc)
{
	prepare_bystander(bs, sc);
	sc->id = 0x100000000ull + 2; /* root 0 and extent page 1 are the bystander's */
}

static void
get_x(void *ctx, const char *name, const void **value, size_t *len)
{
	*value = g_big_x;
	*len = sizeof(g_big_x);
}

static int
create_op(struct blob_store *bs, struct sc *sc)
{
	static const char *const names[] = { "a", "b" };
	struct blob_opts o;
	blob_id id;
	int rc;

	blob_opts_init(&o, sizeof(o));
	o.num_clusters = 600;
	o.xattrs.count = 2;
	o.xattrs.names = names;
	o.xattrs.get_value = get_x;
	rc = ut_create(bs, &o, &id);
	if (rc == 0)
		assert_true(id == sc->id);
	return rc;
}

static bool
create_is_old(struct blob_store *bs, struct sc *sc)
{
	return blob_absent(bs, sc->id);
}

static bool
create_is_new(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;
	bool ok;

	if (!blob_shape(bs, sc->id, 600, 600, &blob))
		return false;
	ok = xattr_is(blob, "a", g_big_x, 3000) && xattr_is(blob, "b", g_big_x, 3000);
	ut_close(blob);
	return ok;
}

/* ---- resize ---------------------------------------------------------------------------------- */

static void
resize_prepare_10(struct blob_store *bs, struct sc *sc)
{
	prepare_bystander(bs, sc);
	sc->id = ut_create_simple(bs, 10, false);
}

static void
resize_prepare_600(struct blob_store *bs, struct sc *sc)
{
	prepare_bystander(bs, sc);
	sc->id = ut_create_simple(bs, 600, false);
}

static int
resize_to(struct blob_store *bs, struct sc *sc, uint64_t n)
{
	struct blob *blob;
	int rc, rc2;

	rc = ut_open(bs, sc->id, &blob);
	if (rc != 0)
		return rc;
	rc = ut_resize(blob, n);
	if (rc == 0)
		rc = ut_sync(blob);
	rc2 = ut_close(blob);
	return rc != 0 ? rc : rc2;
}

static int
grow_op(struct blob_store *bs, struct sc *sc)
{
	return resize_to(bs, sc, 600);
}

static int
shrink_op(struct blob_store *bs, struct sc *sc)
{
	return resize_to(bs, sc, 10);
}

static bool
is_10(struct blob_store *bs, struct sc *sc)
{
	return blob_shape(bs, sc->id, 10, 10, NULL);
}

static bool
is_600(struct blob_store *bs, struct sc *sc)
{
	return blob_shape(bs, sc->id, 600, 600, NULL);
}

/* A thin extent-table blob grown from a partial group: its last extent
 * page changes entry count and must be copied, not rewritten. */
static void
thin_grow_prepare(struct blob_store *bs, struct sc *sc)
{
	struct ut_res r = { 0 };
	struct blob *blob;
	uint32_t c;

	prepare_bystander(bs, sc);
	sc->id = ut_create_simple(bs, 100, true);
	assert_int_equal(ut_open(bs, sc->id, &blob), 0);
	assert_int_equal(bs_claim_cluster(bs, &c), 0);
	blob_insert_cluster(blob, 50, c, ut_op_cb, &r);
	ut_wait(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(ut_close(blob), 0);
}

static int
thin_grow_op(struct blob_store *bs, struct sc *sc)
{
	return resize_to(bs, sc, 700);
}

static bool
thin_is_100(struct blob_store *bs, struct sc *sc)
{
	return blob_shape(bs, sc->id, 100, 1, NULL);
}

static bool
thin_is_700(struct blob_store *bs, struct sc *sc)
{
	return blob_shape(bs, sc->id, 700, 1, NULL);
}

/* ---- xattr update ------------------------------------------------------------------------- */

static void
xattr_prepare(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;

	prepare_bystander(bs, sc);
	sc->id = ut_create_simple(bs, 4, false);
	assert_int_equal(ut_open(bs, sc->id, &blob), 0);
	assert_int_equal(blob_set_xattr(blob, "a", g_big_x, sizeof(g_big_x)), 0);
	assert_int_equal(blob_set_xattr(blob, "b", g_big_x, sizeof(g_big_x)), 0);
	assert_int_equal(ut_sync(blob), 0);
	assert_int_equal(ut_close(blob), 0);
}

static int
xattr_op(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;
	int rc, rc2;

	rc = ut_open(bs, sc->id, &blob);
	if (rc != 0)
		return rc;
	assert_int_equal(blob_set_xattr(blob, "a", g_big_y, sizeof(g_big_y)), 0);
	assert_int_equal(blob_set_xattr(blob, "c", g_big_y, sizeof(g_big_y)), 0);
	assert_int_equal(blob_remove_xattr(blob, "b"), 0);
	rc = ut_sync(blob);
	rc2 = ut_close(blob);
	return rc != 0 ? rc : rc2;
}

static bool
xattr_is_old(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;
	bool ok;

	if (!blob_shape(bs, sc->id, 4, 4, &blob))
		return false;
	ok = xattr_is(blob, "a", g_big_x, 3000) && xattr_is(blob, "b", g_big_x, 3000) &&
	     xattr_is(blob, "c", NULL, 0);
	ut_close(blob);
	return ok;
}

static bool
xattr_is_new(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;
	bool ok;

	if (!blob_shape(bs, sc->id, 4, 4, &blob))
		return false;
	ok = xattr_is(blob, "a", g_big_y, 3000) && xattr_is(blob, "b", NULL, 0) &&
	     xattr_is(blob, "c", g_big_y, 3000);
	ut_close(blob);
	return ok;
}

/* ---- delete --------------------------------------------------------------------------------- */

static void
delete_prepare(struct blob_store *bs, struct sc *sc)
{
	xattr_prepare(bs, sc);
	assert_int_equal(resize_to(bs, sc, 600), 0);
}

static int
delete_op(struct blob_store *bs, struct sc *sc)
{
	return ut_delete(bs, sc->id);
}

static bool
delete_is_old(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;
	bool ok;

	if (!blob_shape(bs, sc->id, 600, 600, &blob))
		return false;
	ok = xattr_is(blob, "a", g_big_x, 3000) && xattr_is(blob, "b", g_big_x, 3000);
	ut_close(blob);
	return ok;
}

static bool
delete_is_new(struct blob_store *bs, struct sc *sc)
{
	return blob_absent(bs, sc->id);
}

/* ---- thin first-write metadata (insert cluster) -------------------------------------------- */

static int
insert_op(struct blob_store *bs, struct sc *sc)
{
	struct ut_res r = { 0 };
	struct blob *blob;
	uint32_t c;
	int rc, rc2;

	rc = ut_open(bs, sc->id, &blob);
	if (rc != 0)
		return rc;
	/* Same group as the existing cluster: in place. */
	assert_int_equal(bs_claim_cluster(bs, &c), 0);
	blob_insert_cluster(blob, 60, c, ut_op_cb, &r);
	ut_wait(&r);
	rc = r.rc;
	if (rc == 0) {
		/* Grow to two groups first (in memory), then a slot of the new
		 * group: a new extent page and a persist. */
		memset(&r, 0, sizeof(r));
		rc = ut_resize(blob, 700);
		if (rc == 0) {
			assert_int_equal(bs_claim_cluster(bs, &c), 0);
			blob_insert_cluster(blob, 650, c, ut_op_cb, &r);
			ut_wait(&r);
			rc = r.rc;
		}
	}
	rc2 = ut_close(blob);
	return rc != 0 ? rc : rc2;
}

static bool
insert_is_old(struct blob_store *bs, struct sc *sc)
{
	return thin_is_100(bs, sc);
}

static bool
insert_is_mid(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;
	bool ok;

	if (!blob_shape(bs, sc->id, 100, 2, &blob))
		return false;
	ok = blob->active.clusters[60] != 0;
	ut_close(blob);
	return ok;
}

static bool
insert_is_new(struct blob_store *bs, struct sc *sc)
{
	struct blob *blob;
	bool ok;

	if (!blob_shape(bs, sc->id, 700, 3, &blob))
		return false;
	ok = blob->active.clusters[60] != 0 && blob->active.clusters[650] != 0;
	ut_close(blob);
	return ok;
}

/* The insert op commits twice: accept the state in between as "old". */
static bool
insert_is_old_or_mid(struct blob_store *bs, struct sc *sc)
{
	return insert_is_old(bs, sc) || insert_is_mid(bs, sc);
}

/* ---- unload ---------------------------------------------------------------------------------- */

static void
unload_prepare(struct blob_store *bs, struct sc *sc)
{
	xattr_prepare(bs, sc);
	assert_int_equal(xattr_op(bs, sc), 0);
}

static int
unload_op(struct blob_store *bs, struct sc *sc)
{
	sc->unloaded = true;
	return ut_bs_unload(bs);
}

static bool
unload_state(struct blob_store *bs, struct sc *sc)
{
	return xattr_is_new(bs, sc);
}

/* ---- the sweep --------------------------------------------------------------------------------- */

static const struct scenario g_scenarios[] = {
	{ "create", create_prepare, create_op, create_is_old, create_is_new },
	{ "resize grow 10->600", resize_prepare_10, grow_op, is_10, is_600 },
	{ "resize shrink 600->10", resize_prepare_600, shrink_op, is_600, is_10 },
	{ "thin grow 100->700", thin_grow_prepare, thin_grow_op, thin_is_100, thin_is_700 },
	{ "xattr update + sync", xattr_prepare, xattr_op, xattr_is_old, xattr_is_new },
	{ "delete", delete_prepare, delete_op, delete_is_old, delete_is_new },
	{ "thin insert cluster", thin_grow_prepare, insert_op, insert_is_old_or_mid, insert_is_new },
	{ "unload", unload_prepare, unload_op, unload_state, unload_state },
};

struct run {
	struct bs_dev *base;
	struct bs_dev *dev;
	struct blob_store *bs;
	struct sc sc;
};

static void
run_begin(struct run *run)
{
	struct ut_fault_dev_opts fo;
	struct bs_opts o = ut_bs_opts(CL, NULL);

	memset(run, 0, sizeof(*run));
	ut_fault_dev_opts_init(&fo, sizeof(fo));
	fo.drop_unflushed = g_cached;
	fo.atomic_unit = 4096;
	fo.torn_writes = g_torn;
	fo.seed = g_seed;
	run->base = bs_dev_mem_create(DEV_BLOCKS, 4096);
	assert_non_null(run->base);
	run->dev = ut_fault_dev_create(run->base, &fo);
	assert_non_null(run->dev);
	assert_int_equal(ut_bs_init(run->dev, &o, &run->bs), 0);
}

/* Drops the old store after the cut: every write fails now. */
static void
run_abandon(struct run *run)
{
	if (!run->sc.unloaded) {
		int rc = ut_bs_unload(run->bs);

		assert_true(rc == 0 || rc == -EIO);
	}
}

static void
sweep(const struct scenario *s)
{
	struct bs_opts o = ut_bs_opts(CL, NULL);
	struct run run;
	uint64_t total, n;
	int rc;

	/* 1. A clean run must succeed. */
	run_begin(&run);
	s->prepare(run.bs, &run.sc);
	rc = s->op(run.bs, &run.sc);
	assert_int_equal(rc, 0);
	if (!run.sc.unloaded)
		assert_int_equal(ut_bs_unload(run.bs), 0);
	ut_poll_threads();
	run.base->destroy(run.base);
	ut_poll_threads();

	/*
	 * 2. Cut after the operation's n-th write, n = 0, 1, ... until the
	 * operation no longer reaches the cut. (The devices die with the
	 * store, so the writes are not counted up front.)
	 */
	for (n = 0, total = UINT64_MAX; n <= total; n++) {
		struct blob_store *bs;
		struct bs_dev *image;
		bool acked, is_old, is_new;

		run_begin(&run);
		s->prepare(run.bs, &run.sc);
		ut_fault_dev_set_cut_after_writes(run.dev, ut_fault_dev_write_count(run.dev) + n);
		rc = s->op(run.bs, &run.sc);
		acked = rc == 0;
		/* The last round: the operation ended before the cut. (Writes
		 * that only reclaim space after a commit may fail without
		 * failing the operation, so an ack alone does not say so.) */
		if (run.sc.unloaded ? acked : ut_fault_dev_has_power(run.dev))
			total = n;
		assert_true(n < 10000);
		ut_poll_threads();
		run_abandon(&run);
		ut_poll_threads();
		image = ut_mem_dev_copy(run.base);
		assert_non_null(image);
		run.base->destroy(run.base);
		ut_poll_threads();

		/* lvstor-check accepts the image as the cut left it (dirty)... */
		ut_check_image(image, UT_CHECK_CRASHED, "%s%s, cut after write %" PRIu64, s->name,
			       g_torn ? " (torn)" : g_cached ? "" : " (write-through)", n);
		rc = ut_bs_load(ut_fault_dev_create(image, NULL), &o, &bs);
		if (rc != 0)
			fail_msg("%s: cut after write %" PRIu64 " of %" PRIu64 ": load failed: %d",
				 s->name, n, total, rc);
		ut_bs_check(bs);
		is_new = s->is_new(bs, &run.sc);
		is_old = is_new ? false : s->is_old(bs, &run.sc);
		if (!is_new && !is_old)
			fail_msg("%s: cut after write %" PRIu64 " of %" PRIu64 ": blob neither in "
				 "its old nor its new state", s->name, n, total);
		if (acked && !is_new)
			fail_msg("%s: cut after write %" PRIu64 " of %" PRIu64 ": acknowledged but "
				 "lost", s->name, n, total);
		/* The bystander is untouched. */
		assert_true(blob_shape(bs, run.sc.other, 3, 3, NULL));
		assert_int_equal(ut_bs_unload(bs), 0);
		/* ...and as the reload and a clean unload left it. */
		ut_check_image(image, UT_CHECK_CLEAN, "%s%s, cut after write %" PRIu64, s->name,
			       g_torn ? " (torn)" : g_cached ? "" : " (write-through)", n);
		image->destroy(image);
		ut_poll_threads();
	}
	print_message("  %s%s: %" PRIu64 " cut points\n", s->name,
		      g_torn ? " (torn)" : g_cached ? "" : " (write-through)", total + 1);
}

static void
test_crash_sweep(void **state)
{
	const struct scenario *s = *state;

	memset(g_big_x, 'x', sizeof(g_big_x));
	memset(g_big_y, 'y', sizeof(g_big_y));
	g_torn = false;
	sweep(s);
}

static void
test_crash_sweep_write_through(void **state)
{
	const struct scenario *s = *state;

	memset(g_big_x, 'x', sizeof(g_big_x));
	memset(g_big_y, 'y', sizeof(g_big_y));
	g_torn = false;
	g_cached = false;
	sweep(s);
	g_cached = true;
}

static void
test_crash_sweep_torn(void **state)
{
	const struct scenario *s = *state;

	memset(g_big_x, 'x', sizeof(g_big_x));
	memset(g_big_y, 'y', sizeof(g_big_y));
	g_torn = true;
	for (g_seed = 1; g_seed <= 3; g_seed++)
		sweep(s);
	g_torn = false;
}

int
main(void)
{
	struct CMUnitTest tests[3 * COUNTOF(g_scenarios)];
	size_t n = 0;
	static char names[3 * COUNTOF(g_scenarios)][64];

	/* Every cut makes the store log its failed writes: expected here. */
	log_set_print_level(LOG_LEVEL_DISABLED);

	for (size_t i = 0; i < COUNTOF(g_scenarios); i++) {
		snprintf(names[n], sizeof(names[n]), "crash sweep: %s", g_scenarios[i].name);
		tests[n] = (struct CMUnitTest){ names[n], test_crash_sweep, setup, teardown,
						(void *)&g_scenarios[i] };
		n++;
	}
	for (size_t i = 0; i < COUNTOF(g_scenarios); i++) {
		snprintf(names[n], sizeof(names[n]), "crash sweep, write-through: %s",
			 g_scenarios[i].name);
		tests[n] = (struct CMUnitTest){ names[n], test_crash_sweep_write_through, setup,
						teardown, (void *)&g_scenarios[i] };
		n++;
	}
	for (size_t i = 0; i < COUNTOF(g_scenarios); i++) {
		snprintf(names[n], sizeof(names[n]), "crash sweep, torn writes: %s",
			 g_scenarios[i].name);
		tests[n] = (struct CMUnitTest){ names[n], test_crash_sweep_torn, setup, teardown,
						(void *)&g_scenarios[i] };
		n++;
	}
	return _cmocka_run_group_tests("crash_ut", tests, n, NULL, NULL);
}
