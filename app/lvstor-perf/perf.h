/*
 * lvstor-perf: what the files of the benchmark share.
 *
 *   main.c     command line, choosing targets, creating jobs, the start
 *              barrier and the end (runs on the application thread)
 *   job.c      one job's I/O engine (runs on the job's own thread)
 *   pattern.c  the verify pattern: fill and check one block at a time
 *   report.c   the table and the --output json document
 *   blob.c     --blob: a blobstore and one blob per target, made and
 *              unloaded on the application thread
 *   blob_mdmem.c  --blob on a null bdev: the metadata region in memory
 *
 * A job is (core, bdev): a light-weight thread pinned to that core keeps
 * `queue_depth` I/Os in flight on one bdev. Everything in struct perf_job
 * below the "job thread only" line is touched only by the job's thread
 * while the job runs; the application thread reads it after the job has
 * told it, by message, that it finished (the message ring orders the
 * writes before the read).
 */
#ifndef LVSTOR_PERF_H
#define LVSTOR_PERF_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/uio.h>

#include "lvstor/bdev.h"
#include "lvstor/blob.h"
#include "lvstor/histogram.h"
#include "lvstor/thread.h"

enum perf_workload {
	PERF_READ,
	PERF_WRITE,
	PERF_RANDREAD,
	PERF_RANDWRITE,
	PERF_RW,
	PERF_RANDRW,
	PERF_VERIFY,
	PERF_UNMAP,
	PERF_FLUSH,
	PERF_WRITE_ZEROES,
	PERF_NUM_WORKLOADS,
};

struct perf_config {
	enum perf_workload workload;
	uint32_t queue_depth;
	uint64_t io_size;          /* bytes */
	double run_seconds;
	uint32_t rw_read_pct;      /* -M, for rw / randrw */
	bool json_output;
	bool prefill;              /* --prefill: write every region once first */
	const char **bdev_names;   /* -b, NULL = every unclaimed bdev */
	uint32_t num_bdev_names;
	uint64_t seed;             /* run seed stamped into verify blocks */
	/* --blob: run on a blob in a blobstore made on each target (blob.c). */
	bool blob;
	bool blob_thin;            /* --thin: the blob allocates on first write */
	uint64_t cluster_size;     /* --cluster-size, bytes; 0 = the store's default */
	uint64_t blob_size;        /* --blob-size, bytes; 0 = every free cluster */
};

extern struct perf_config g_perf;

const char *perf_workload_name(enum perf_workload w);
/* True if the workload writes (the descriptor must be writable). */
bool perf_workload_writes(enum perf_workload w);
bool perf_workload_random(enum perf_workload w);

struct perf_task;

struct perf_job {
	/* Set by the application thread before the job starts. */
	char name[64];
	uint32_t core;
	uint32_t index;            /* position in the job list */
	struct bdev *bdev;
	struct bdev_desc *desc;    /* NULL with --blob */
	struct blob *blob;         /* --blob: the target's blob, else NULL */
	struct blob_store *bs;
	struct thread *thread;
	uint32_t block_size;
	uint64_t io_blocks;        /* blocks per I/O */
	uint64_t region_start;     /* first block of this job's share of the bdev */
	uint64_t region_ios;       /* I/O-sized slots in the share */
	size_t buf_align;
	struct histogram *hist;    /* latency in ticks */
	int setup_rc;              /* job_setup's result, read after "ready" */
	bool removed;              /* the bdev went away under the job */
	char removed_name[64];     /* its name, to see it gone after the close */
	bool done_seen;            /* app thread got perf_job_done */

	/* ---- job thread only ------------------------------------------ */
	struct io_channel *ch;     /* the bdev's, or with --blob the store's */
	struct perf_task *tasks;
	uint8_t *bufs;             /* queue_depth * io_size, DMA-able */
	uint64_t *busy;            /* verify: slot bitmap of I/Os in flight */
	struct poller *stop_timer;
	struct poller *spin_poller;
	bool random;               /* random offsets (copied from the workload) */
	uint64_t next_slot;        /* sequential workloads */
	uint64_t rng;              /* xorshift64 state */
	uint64_t write_gen;        /* verify: seed generation */
	uint32_t busy_tasks;       /* submitted or waiting for a bdev_io */
	bool stopping;
	bool finished;
	uint32_t miscompare_reports;

	/* Results (job thread while running, app thread after). */
	uint64_t start_tsc, stop_tsc;
	uint64_t ios, bytes;
	uint64_t lat_sum, lat_min, lat_max;   /* ticks */
	uint64_t errors, miscompares;
	int first_submit_error;
};

/* job.c: messages sent to the job's thread. */
void perf_job_setup(void *job);
void perf_job_go(void *job);
void perf_job_stop(void *job);
void perf_job_abort(void *job);

/* main.c: messages the job's thread sends back to the application thread. */
void perf_job_ready(void *job);
void perf_job_done(void *job);

/* main.c: a target bdev is going away (--blob: from its bs_dev's event). */
void perf_target_removed(struct bdev *bdev);

/* blob.c: one per target bdev with --blob; touched on the application thread only. */
struct perf_blob_target {
	struct bdev *bdev;
	struct bs_dev *dev;
	struct blob_store *bs;
	blob_id blob_id;
	struct blob *blob;
	uint32_t io_unit;          /* bytes: the blob's block size for the jobs */
	uint64_t num_io_units;
	bool mdmem;                /* metadata in memory (null bdev) */
};

/* Makes the store and the open blob of every target, then done(0) or done(-errno). */
void perf_blob_open_all(struct bdev **bdevs, uint32_t n, void (*done)(int rc));
/* The target of `bdev`, NULL if none (or not --blob). */
struct perf_blob_target *perf_blob_target_of(const struct bdev *bdev);
/* Closes every blob and unloads every store (after the jobs put their channels). */
void perf_blob_close_all(void (*done)(void));

/* blob_mdmem.c */
struct bs_dev *perf_mdmem_create(struct bs_dev *inner, uint64_t md_bytes_max);
int perf_mdmem_set_limit(struct bs_dev *dev, uint64_t md_bytes);

/* pattern.c */
void perf_pattern_fill(void *block, uint32_t block_size, uint64_t lba, uint64_t seed);
/* Offset of the first wrong byte in the block, or -1 if it matches. */
long perf_pattern_check(const void *block, uint32_t block_size, uint64_t lba, uint64_t seed);

/* report.c: prints every job and the total (table or JSON). */
void perf_report(struct perf_job *jobs, uint32_t num_jobs);

#endif
