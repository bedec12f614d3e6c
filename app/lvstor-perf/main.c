/*
 * lvstor-perf: a bdevperf-style benchmark of lvstor's block device layer.
 *
 *   lvstor-perf --json bdevs.json -q 128 -o 4k -w randread -t 10 -m 0x3
 *
 * It takes the same --json configuration as lvstord, so the bdevs under
 * test are created exactly as the daemon would create them, then runs one
 * job per (core of -m, target bdev). This file runs on the application
 * thread: options, choosing the targets, creating the jobs, the start
 * barrier, and the end.
 *
 * Start barrier: every job is set up on its own thread (channel, buffers)
 * and reports "ready"; only when all are ready does any get "go", so the
 * jobs' measurement windows overlap as closely as two messages allow and
 * no job measures while another is still allocating. If any set-up
 * fails, every job is aborted instead and nothing runs.
 *
 * Bad input ends in one line on stderr and exit code 1: unknown workload,
 * -q 0, an I/O size that is not a multiple of a target's block size, an
 * unknown -b bdev, a workload the bdev does not support. I/O errors and
 * verify miscompares make the exit code 1 after the report.
 *
 * Descriptors are opened and closed here on the application thread (a
 * descriptor belongs to the thread that opened it); each job's thread
 * gets its own channel from it.
 *
 * --blob (blob.c) puts a fresh blobstore and one blob on every target
 * before the jobs are made; a job's geometry is then the blob's (io unit,
 * io units) rather than the bdev's, and the stores are unloaded after the
 * report, before the end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvstor/app.h"
#include "lvstor/bdev.h"
#include "lvstor/cpuset.h"
#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/util.h"
#include "perf.h"

struct perf_config g_perf = {
	.workload = PERF_NUM_WORKLOADS,
	.queue_depth = 0,
	.io_size = 0,
	.run_seconds = 0,
	.rw_read_pct = 50,
};

static const char *const g_workload_names[PERF_NUM_WORKLOADS] = {
	[PERF_READ] = "read",
	[PERF_WRITE] = "write",
	[PERF_RANDREAD] = "randread",
	[PERF_RANDWRITE] = "randwrite",
	[PERF_RW] = "rw",
	[PERF_RANDRW] = "randrw",
	[PERF_VERIFY] = "verify",
	[PERF_UNMAP] = "unmap",
	[PERF_FLUSH] = "flush",
	[PERF_WRITE_ZEROES] = "write_zeroes",
};

/* The largest queue depth accepted: far beyond any device's, small enough
 * that -q typos do not ask for gigabytes of buffers. */
#define MAX_QUEUE_DEPTH 65536
/* The longest run: a day; a longer -t is almost certainly a typo. */
#define MAX_RUN_SECONDS 86400.0

static struct perf_job *g_jobs;
static uint32_t g_num_jobs;
static uint32_t g_pending;      /* jobs not yet ready / not yet done */
static bool g_setup_failed;
static bool g_rm_seen;

const char *
perf_workload_name(enum perf_workload w)
{
	return w < PERF_NUM_WORKLOADS ? g_workload_names[w] : "?";
}

bool
perf_workload_writes(enum perf_workload w)
{
	/* flush too: the layer, like SPDK's, takes it only on a writable descriptor. */
	return w != PERF_READ && w != PERF_RANDREAD;
}

bool
perf_workload_random(enum perf_workload w)
{
	return w == PERF_RANDREAD || w == PERF_RANDWRITE || w == PERF_RANDRW;
}

/* ---- command line ---------------------------------------------------------- */

enum {
	OPT_OUTPUT = 0x200,
	OPT_PREFILL,
	OPT_BLOB,
	OPT_THIN,
	OPT_CLUSTER_SIZE,
	OPT_BLOB_SIZE,
};

static const struct option g_long[] = {
	{"queue-depth", required_argument, NULL, 'q'},
	{"io-size", required_argument, NULL, 'o'},
	{"workload", required_argument, NULL, 'w'},
	{"time", required_argument, NULL, 't'},
	{"rwmixread", required_argument, NULL, 'M'},
	{"bdev", required_argument, NULL, 'b'},
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"prefill", no_argument, NULL, OPT_PREFILL},
	{"blob", no_argument, NULL, OPT_BLOB},
	{"thin", no_argument, NULL, OPT_THIN},
	{"cluster-size", required_argument, NULL, OPT_CLUSTER_SIZE},
	{"blob-size", required_argument, NULL, OPT_BLOB_SIZE},
	{NULL, 0, NULL, 0},
};

static void
usage_extra(void)
{
	printf("\nBenchmark options:\n"
	       " -q, --queue-depth N       I/Os in flight per job (required)\n"
	       " -o, --io-size SIZE        bytes per I/O, e.g. 4096, 4k, 1M (required)\n"
	       " -w, --workload NAME       read, write, randread, randwrite, rw, randrw,\n"
	       "                           verify, unmap, flush, write_zeroes (required)\n"
	       " -t, --time SEC            run time in seconds (required; decimals allowed)\n"
	       " -M, --rwmixread PCT       reads in %% for rw / randrw (default 50)\n"
	       " -b, --bdev NAME           target bdev, repeatable (default: every unclaimed bdev)\n"
	       "     --output json         print one JSON object instead of the table\n"
	       "     --prefill             write every target once, unmeasured, before the run\n"
	       "                           (steady state for back ends that allocate on first write)\n"
	       "     --blob                run on a blob instead: a new blobstore on each target\n"
	       "                           and one blob spanning it (blob I/O through the store)\n"
	       "     --thin                with --blob: a thin blob (clusters allocated on first write)\n"
	       "     --cluster-size SIZE   with --blob: the store's cluster size (default 1M)\n"
	       "     --blob-size SIZE      with --blob: the blob's size (default every free cluster)\n"
	       "\nOne job runs per core of -m per target bdev, on its own thread pinned\n"
	       "to that core. Jobs on the same bdev split it into disjoint regions.\n");
}

static int
bad(const char *what, const char *arg)
{
	fprintf(stderr, "lvstor-perf: %s '%s'\n", what, arg);
	return -EINVAL;
}

static int
parse_extra(int ch, const char *arg)
{
	uint64_t v;
	char *end;
	double d;
	const char **n;

	switch (ch) {
	case 'q':
		if (parse_u64(arg, MAX_QUEUE_DEPTH, &v) != 0 || v == 0)
			return bad("invalid queue depth (1.." "65536)", arg);
		g_perf.queue_depth = (uint32_t)v;
		return 0;
	case 'o':
		if (parse_capacity(arg, &v) != 0 || v == 0 || v > (1ull << 30))
			return bad("invalid I/O size", arg);
		g_perf.io_size = v;
		return 0;
	case 'w':
		for (int w = 0; w < PERF_NUM_WORKLOADS; w++) {
			if (strcmp(arg, g_workload_names[w]) == 0) {
				g_perf.workload = (enum perf_workload)w;
				return 0;
			}
		}
		return bad("unknown workload", arg);
	case 't':
		errno = 0;
		d = strtod(arg, &end);
		if (errno || end == arg || *end != '\0' || !(d > 0) || d > MAX_RUN_SECONDS)
			return bad("invalid run time", arg);
		g_perf.run_seconds = d;
		return 0;
	case 'M':
		if (parse_u64(arg, 100, &v) != 0)
			return bad("invalid read percentage (0..100)", arg);
		g_perf.rw_read_pct = (uint32_t)v;
		return 0;
	case 'b':
		n = realloc(g_perf.bdev_names, (g_perf.num_bdev_names + 1) * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		n[g_perf.num_bdev_names++] = arg;
		g_perf.bdev_names = n;
		return 0;
	case OPT_PREFILL:
		g_perf.prefill = true;
		return 0;
	case OPT_BLOB:
		g_perf.blob = true;
		return 0;
	case OPT_THIN:
		g_perf.blob_thin = true;
		return 0;
	case OPT_CLUSTER_SIZE:
		/* The store checks the rest (a power of two, at least a page). */
		if (parse_capacity(arg, &v) != 0 || v == 0 || v > UINT32_MAX / 2 + 1)
			return bad("invalid cluster size", arg);
		g_perf.cluster_size = v;
		return 0;
	case OPT_BLOB_SIZE:
		if (parse_capacity(arg, &v) != 0 || v == 0)
			return bad("invalid blob size", arg);
		g_perf.blob_size = v;
		return 0;
	case OPT_OUTPUT:
		if (strcmp(arg, "json") == 0)
			g_perf.json_output = true;
		else if (strcmp(arg, "table") == 0 || strcmp(arg, "text") == 0)
			g_perf.json_output = false;
		else
			return bad("unknown output format (json or table)", arg);
		return 0;
	default:
		return -EINVAL;
	}
}

static int
check_required(void)
{
	if (g_perf.queue_depth == 0) {
		fprintf(stderr, "lvstor-perf: the queue depth (-q) is required\n");
		return -EINVAL;
	}
	if (g_perf.io_size == 0) {
		fprintf(stderr, "lvstor-perf: the I/O size (-o) is required\n");
		return -EINVAL;
	}
	if (g_perf.workload == PERF_NUM_WORKLOADS) {
		fprintf(stderr, "lvstor-perf: the workload (-w) is required\n");
		return -EINVAL;
	}
	if (g_perf.run_seconds == 0) {
		fprintf(stderr, "lvstor-perf: the run time (-t) is required\n");
		return -EINVAL;
	}
	if (!g_perf.blob && (g_perf.blob_thin || g_perf.cluster_size || g_perf.blob_size)) {
		fprintf(stderr, "lvstor-perf: --thin, --cluster-size and --blob-size need --blob\n");
		return -EINVAL;
	}
	return 0;
}

/* ---- the end ---------------------------------------------------------------- */

/*
 * After a hot-remove the run ends only once the removed bdevs are gone
 * (their unregistration finishes when our descriptors are closed), and a
 * little after that: whoever removed them -- rpc.py bdev_malloc_delete on
 * our socket -- gets its answer then, and app_stop closes the RPC server
 * first thing. Ending at once left that caller with a connection closed
 * mid-answer. Bounded: a bdev that never goes does not hold the exit.
 */
#define REMOVED_WAIT_POLL_US 10000
#define REMOVED_WAIT_MAX_POLLS 200      /* 2 s */
#define REMOVED_GRACE_POLLS 5           /* 50 ms for the answer to be written */

static struct poller *g_removed_poller;
static uint32_t g_removed_polls;
static uint32_t g_removed_gone_polls;
static int g_exit_rc;

static bool
removed_bdevs_gone(void)
{
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		if (g_jobs[i].removed && g_jobs[i].removed_name[0] != '\0' &&
		    bdev_get_by_name(g_jobs[i].removed_name) != NULL)
			return false;
	}
	return true;
}

static void
free_jobs_and_stop(void)
{
	for (uint32_t i = 0; i < g_num_jobs; i++)
		histogram_free(g_jobs[i].hist);
	free(g_jobs);
	g_jobs = NULL;
	g_num_jobs = 0;
	app_stop(g_exit_rc);
}

static int
removed_wait_poll(void *arg)
{
	g_removed_polls++;
	if (removed_bdevs_gone())
		g_removed_gone_polls++;
	if (g_removed_gone_polls < REMOVED_GRACE_POLLS && g_removed_polls < REMOVED_WAIT_MAX_POLLS)
		return POLLER_IDLE;
	poller_unregister(&g_removed_poller);
	free_jobs_and_stop();
	return POLLER_BUSY;
}

static void finish_exit(void);

static void
finish_all(void)
{
	uint64_t errors = 0, miscompares = 0;
	int rc;

	for (uint32_t i = 0; i < g_num_jobs; i++) {
		struct perf_job *job = &g_jobs[i];

		if (job->desc)
			bdev_close(job->desc);
		job->desc = NULL;
		errors += job->errors;
		miscompares += job->miscompares;
		if (job->first_submit_error && job->first_submit_error != -ENODEV)
			fprintf(stderr, "%s: I/O could not be submitted: %s\n", job->name,
				strerror(-job->first_submit_error));
	}
	if (!g_setup_failed)
		perf_report(g_jobs, g_num_jobs);
	rc = g_setup_failed || errors || miscompares || g_rm_seen ? 1 : 0;
	g_exit_rc = rc;
	if (g_perf.blob) {
		/* The jobs have put their channels: the stores can go. */
		perf_blob_close_all(finish_exit);
		return;
	}
	finish_exit();
}

static void
finish_exit(void)
{
	if (g_rm_seen) {
		g_removed_poller = poller_register(removed_wait_poll, NULL, REMOVED_WAIT_POLL_US,
						   "perf_removed_wait");
		if (g_removed_poller != NULL)
			return;
	}
	free_jobs_and_stop();
}

static void
job_exit(void *arg)
{
	thread_exit(thread_get_current());
}

void
perf_job_done(void *arg)
{
	struct perf_job *job = arg;

	/*
	 * The job's thread waits for this answer before it exits, so until
	 * done_seen is set the application thread may still message it
	 * (bdev_event) without racing its destruction.
	 */
	job->done_seen = true;
	if (job->thread && thread_send_msg(job->thread, job_exit, job) != 0)
		fprintf(stderr, "%s: cannot end the job's thread\n", job->name);
	if (--g_pending == 0)
		finish_all();
}

void
perf_job_ready(void *arg)
{
	struct perf_job *job = arg;

	if (job->setup_rc != 0)
		g_setup_failed = true;
	if (--g_pending != 0)
		return;
	/* Everyone is set up (or failed to be): start all, or abort all. */
	g_pending = g_num_jobs;
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		struct perf_job *j = &g_jobs[i];

		if (j->thread == NULL) {
			perf_job_done(j);
			continue;
		}
		if (thread_send_msg(j->thread, g_setup_failed ? perf_job_abort : perf_job_go, j)
		    != 0) {
			/* Cannot happen with a live thread short of an empty message
			 * pool; leave the job's thread behind rather than hang. */
			fprintf(stderr, "%s: cannot start the job\n", j->name);
			g_setup_failed = true;
			perf_job_done(j);
		}
	}
}

/*
 * A target going away (hot-remove, or lvstord-style shutdown on SIGINT,
 * which removes the bdevs one after another) ends the whole run: the
 * numbers of the other jobs would otherwise mix a shared window with a
 * lone one. The run then exits 1: it did not do what was asked.
 */
static void
bdev_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	struct perf_job *job = ctx;

	if (type != BDEV_EVENT_REMOVE)
		return;
	job->removed = true;
	snprintf(job->removed_name, sizeof(job->removed_name), "%s", bdev_get_name(bdev));
	if (g_rm_seen)
		return;
	g_rm_seen = true;
	fprintf(stderr, "lvstor-perf: bdev %s is being removed; stopping every job\n",
		bdev_get_name(bdev));
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		struct perf_job *j = &g_jobs[i];

		if (j->thread && !j->done_seen)
			thread_send_msg(j->thread, perf_job_stop, j);
	}
}

void
perf_target_removed(struct bdev *bdev)
{
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		if (g_jobs[i].bdev == bdev)
			bdev_event(BDEV_EVENT_REMOVE, bdev, &g_jobs[i]);
	}
}

/* ---- start ------------------------------------------------------------------- */

/* A target's geometry as the jobs see it: the bdev's, or with --blob its blob's. */
static uint32_t
target_block_size(struct bdev *b)
{
	struct perf_blob_target *t = perf_blob_target_of(b);

	return t != NULL ? t->io_unit : bdev_get_block_size(b);
}

static uint64_t
target_num_blocks(struct bdev *b)
{
	struct perf_blob_target *t = perf_blob_target_of(b);

	return t != NULL ? t->num_io_units : bdev_get_num_blocks(b);
}

static int
pick_targets(struct bdev ***out, uint32_t *count)
{
	struct bdev **t = NULL, *b;
	uint32_t n = 0;

	if (g_perf.num_bdev_names) {
		t = calloc(g_perf.num_bdev_names, sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < g_perf.num_bdev_names; i++) {
			b = bdev_get_by_name(g_perf.bdev_names[i]);
			if (b == NULL) {
				fprintf(stderr, "lvstor-perf: no bdev named '%s'\n",
					g_perf.bdev_names[i]);
				free(t);
				return -ENODEV;
			}
			t[n++] = b;
		}
	} else {
		for (b = bdev_first(); b; b = bdev_next(b)) {
			struct bdev **nt;

			if (bdev_is_claimed(b))
				continue;
			nt = realloc(t, (n + 1) * sizeof(*t));
			if (nt == NULL) {
				free(t);
				return -ENOMEM;
			}
			t = nt;
			t[n++] = b;
		}
		if (n == 0) {
			fprintf(stderr, "lvstor-perf: no bdev to test: create some with --json "
				"or name one with -b\n");
			free(t);
			return -ENODEV;
		}
	}
	*out = t;
	*count = n;
	return 0;
}

static enum bdev_io_type
needed_io_type(enum perf_workload w)
{
	switch (w) {
	case PERF_UNMAP:
		return BDEV_IO_TYPE_UNMAP;
	case PERF_FLUSH:
		return BDEV_IO_TYPE_FLUSH;
	case PERF_READ:
	case PERF_RANDREAD:
		return BDEV_IO_TYPE_READ;
	default:
		/* write_zeroes is emulated by the layer when the back end lacks it. */
		return BDEV_IO_TYPE_WRITE;
	}
}

static int
check_target(struct bdev *b, uint32_t jobs_on_it)
{
	uint32_t bs = target_block_size(b);
	uint64_t io_blocks, ios;
	enum bdev_io_type need = needed_io_type(g_perf.workload);

	if (g_perf.io_size % bs != 0) {
		fprintf(stderr, "lvstor-perf: I/O size %" PRIu64 " is not a multiple of %s %s's "
			"block size %u\n", g_perf.io_size, g_perf.blob ? "the blob on" : "bdev",
			bdev_get_name(b), bs);
		return -EINVAL;
	}
	/* A blob takes every workload (unmap and flush are hints it passes on or drops). */
	if (g_perf.blob)
		need = BDEV_IO_TYPE_WRITE;
	if (!bdev_io_type_supported(b, need) ||
	    (g_perf.prefill && !bdev_io_type_supported(b, BDEV_IO_TYPE_WRITE)) ||
	    ((g_perf.workload == PERF_RW || g_perf.workload == PERF_RANDRW ||
	      g_perf.workload == PERF_VERIFY) && !bdev_io_type_supported(b, BDEV_IO_TYPE_READ))) {
		fprintf(stderr, "lvstor-perf: bdev %s does not support the %s workload\n",
			bdev_get_name(b), perf_workload_name(g_perf.workload));
		return -ENOTSUP;
	}
	io_blocks = g_perf.io_size / bs;
	ios = target_num_blocks(b) / io_blocks / jobs_on_it;
	if (ios == 0 || (g_perf.workload == PERF_VERIFY && ios < g_perf.queue_depth)) {
		fprintf(stderr, "lvstor-perf: bdev %s is too small for %u job(s) of %s%s\n",
			bdev_get_name(b), jobs_on_it,
			g_perf.workload == PERF_VERIFY ? "queue depth x I/O size " : "I/O size ",
			"(lower -q, -o or the number of cores)");
		return -EINVAL;
	}
	return 0;
}

static void start_jobs(struct bdev **targets, uint32_t num_targets);

static void
stop_failed(void)
{
	app_stop(1);
}

static struct bdev **g_blob_targets;
static uint32_t g_num_blob_targets;

static void
blob_targets_ready(int rc)
{
	struct bdev **targets = g_blob_targets;

	g_blob_targets = NULL;
	if (rc != 0) {
		free(targets);
		perf_blob_close_all(stop_failed);
		return;
	}
	start_jobs(targets, g_num_blob_targets);
}

static void
perf_start(void *ctx)
{
	struct bdev **targets = NULL;
	uint32_t num_targets = 0;
	int rc;

	rc = pick_targets(&targets, &num_targets);
	if (rc != 0) {
		if (rc == -ENOMEM)
			fprintf(stderr, "lvstor-perf: out of memory\n");
		app_stop(1);
		return;
	}
	if (g_perf.blob) {
		g_blob_targets = targets;
		g_num_blob_targets = num_targets;
		perf_blob_open_all(targets, num_targets, blob_targets_ready);
		return;
	}
	start_jobs(targets, num_targets);
}

/* Takes `targets` (frees it). */
static void
start_jobs(struct bdev **targets, uint32_t num_targets)
{
	uint32_t num_cores = 0, core, k;
	struct cpuset mask;
	int rc;

	ENV_FOREACH_CORE(core)
		num_cores++;
	for (uint32_t i = 0; i < num_targets; i++) {
		rc = check_target(targets[i], num_cores);
		if (rc != 0)
			goto fail;
	}

	g_num_jobs = num_cores * num_targets;
	g_jobs = calloc(g_num_jobs, sizeof(*g_jobs));
	if (g_jobs == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	k = 0;
	/* Job k of bdev t on the c-th core gets region c of that bdev. */
	for (uint32_t t = 0; t < num_targets; t++) {
		uint32_t c = 0;

		ENV_FOREACH_CORE(core) {
			struct perf_job *job = &g_jobs[k];
			struct bdev *b = targets[t];
			uint64_t ios;

			job->index = k++;
			job->core = core;
			job->bdev = b;
			if (g_perf.blob) {
				job->blob = perf_blob_target_of(b)->blob;
				job->bs = perf_blob_target_of(b)->bs;
			}
			job->block_size = target_block_size(b);
			job->io_blocks = g_perf.io_size / job->block_size;
			job->buf_align = bdev_get_buf_align(b);
			ios = target_num_blocks(b) / job->io_blocks / num_cores;
			job->region_ios = ios;
			job->region_start = (uint64_t)c * ios * job->io_blocks;
			snprintf(job->name, sizeof(job->name), "%s_core%u", bdev_get_name(b), core);
			job->hist = histogram_create(HISTOGRAM_DEFAULT_GRANULARITY, 0,
						     HISTOGRAM_MAX_RANGE(HISTOGRAM_DEFAULT_GRANULARITY));
			if (job->hist == NULL) {
				rc = -ENOMEM;
				goto fail_jobs;
			}
			c++;
		}
	}
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		struct perf_job *job = &g_jobs[i];

		bool write = perf_workload_writes(g_perf.workload) || g_perf.prefill;

		if (g_perf.blob)
			continue; /* the store's device holds the bdev open */
		rc = bdev_open(bdev_get_name(job->bdev), write, bdev_event, job, &job->desc);
		if (rc != 0) {
			fprintf(stderr, "lvstor-perf: cannot open bdev %s%s: %s\n",
				bdev_get_name(job->bdev), write ? " for writing" : "",
				rc == -EPERM ? "claimed by a module" : strerror(-rc));
			job->desc = NULL;
			goto fail_jobs;
		}
	}
	free(targets);
	targets = NULL;

	/* Every thread first, then the set-up messages: ready counts down from all. */
	g_pending = g_num_jobs;
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		struct perf_job *job = &g_jobs[i];

		cpuset_zero(&mask);
		cpuset_set(&mask, job->core, true);
		job->thread = thread_create(job->name, &mask);
	}
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		struct perf_job *job = &g_jobs[i];

		if (job->thread == NULL ||
		    thread_send_msg(job->thread, perf_job_setup, job) != 0) {
			fprintf(stderr, "%s: cannot create the job's thread on core %u\n",
				job->name, job->core);
			/* A created thread that got no set-up message is aborted later. */
			job->setup_rc = -ENOMEM;
			perf_job_ready(job);
		}
	}
	return;

fail_jobs:
	for (uint32_t i = 0; i < g_num_jobs; i++) {
		if (g_jobs[i].desc)
			bdev_close(g_jobs[i].desc);
		histogram_free(g_jobs[i].hist);
	}
	free(g_jobs);
	g_jobs = NULL;
	g_num_jobs = 0;
fail:
	if (rc == -ENOMEM)
		fprintf(stderr, "lvstor-perf: out of memory\n");
	free(targets);
	if (g_perf.blob) {
		perf_blob_close_all(stop_failed);
		return;
	}
	app_stop(1);
}

int
main(int argc, char **argv)
{
	struct app_opts opts;
	struct timespec ts;
	int rc;

	app_opts_init(&opts, sizeof(opts));
	opts.name = "lvstor-perf";
	opts.rpc_addr = NULL; /* no RPC server unless -r asks for one */
	/* Only warnings and errors: the report is the output. -L still works. */
	log_set_level(LOG_LEVEL_WARN);
	log_set_print_level(LOG_LEVEL_WARN);
	switch (app_parse_args(argc, argv, &opts, "q:o:w:t:M:b:", g_long, parse_extra,
			       usage_extra)) {
	case APP_PARSE_OK:
		break;
	case APP_PARSE_EXIT:
		return 0;
	default:
		return 1;
	}
	if (check_required() != 0)
		return 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	g_perf.seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec;
	rc = app_start(&opts, perf_start, NULL);
	free(g_perf.bdev_names);
	return rc == 0 ? 0 : 1;
}
