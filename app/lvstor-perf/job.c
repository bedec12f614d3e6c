/*
 * lvstor-perf/job.c: one job's I/O engine, on the job's own thread.
 *
 * A job owns `queue_depth` tasks. A task is one I/O slot: a DMA-able
 * buffer of io_size bytes and the I/O it is doing now. Each task is
 * always in exactly one of three states:
 *
 *   submitted  its bdev_io is with the bdev layer; io_done() will run
 *   waiting    submit returned -ENOMEM; its wait entry is parked with
 *              bdev_queue_io_wait() and task_retry() will run
 *   idle       the job is stopping (or the task hit a synchronous
 *              error); it holds nothing
 *
 * busy_tasks counts the first two. The job is finished when it is
 * stopping and busy_tasks reaches zero: nothing of the bdev layer's is
 * held any more, so the channel is put, and the job tells the application
 * thread, whose answer ends the job's thread (so the application thread
 * may message a job's thread until it has seen that job finish).
 *
 * Life of a job: setup (channel, buffers; with --prefill one unmeasured
 * sequential write pass over the job's region, using the same tasks) ->
 * "ready" -> "go" from the application thread once every job is ready ->
 * running -> stopping (timer, or the bdev being removed) -> finished.
 *
 * Completion resubmits at once from the callback, so the queue depth
 * never sags between polls; the layer promises the callback never runs
 * inside the submit call, so this does not recurse. Nothing here
 * allocates or locks once the job runs: the tasks, buffers and the
 * histogram were all made in perf_job_setup().
 *
 * Timing: the job's clock starts in perf_job_go() (every job gets "go"
 * only once all are set up) and stops when the timed poller fires. Only
 * I/O that completes successfully in between counts towards IOPS and
 * latency; failed I/O, and I/O drained afterwards, count towards errors
 * and miscompares only.
 *
 * --blob (blob.c): the same engine on a blob. The channel is the store's
 * (bs_alloc_io_channel), I/O goes through blob_io_readv / blob_io_writev
 * (one iovec per task, as a volume on the blob would send it),
 * blob_io_write_zeroes, blob_io_unmap and blob_io_flush, and completes
 * through blob_done(). The blobstore never refuses a submission for lack
 * of memory (it parks the request itself), so there is no wait entry to
 * park on that path. Every other line is shared, so the two modes differ
 * only by what is below the tool.
 *
 * verify: a task writes the pattern (pattern.c) to its slot, then reads
 * the slot back into the same buffer after poisoning it, and compares.
 * Two tasks of a job never hold the same slot at once (the busy bitmap),
 * and jobs on the same bdev own disjoint regions (main.c), so no write
 * races another I/O to the same blocks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/util.h"
#include "perf.h"

struct perf_task {
	struct perf_job *job;
	uint8_t *buf;
	uint64_t offset_blocks;
	uint64_t slot;
	uint64_t seed;
	uint64_t submit_tsc;
	enum bdev_io_type type;
	bool has_slot;             /* verify: holds `slot` in the busy bitmap */
	struct bdev_io_wait_entry wait;
	struct iovec iov;          /* --blob: the buffer, as blob_io_readv/writev take it */
};

/* Byte a verify read buffer is filled with before the read. */
#define VERIFY_POISON 0xA5
/* Miscompares a job describes on stderr; the rest are only counted. */
#define MAX_MISCOMPARE_REPORTS 5

static void task_next(struct perf_task *t, uint64_t now);
static void task_submit(struct perf_task *t, uint64_t now);
static void job_finish(struct perf_job *job);

static inline uint64_t
job_rand(struct perf_job *job)
{
	uint64_t x = job->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	job->rng = x;
	return x;
}

static inline bool
slot_busy(const struct perf_job *job, uint64_t slot)
{
	return (job->busy[slot / 64] >> (slot % 64)) & 1;
}

static inline void
slot_mark(struct perf_job *job, uint64_t slot, bool busy)
{
	if (busy)
		job->busy[slot / 64] |= 1ull << (slot % 64);
	else
		job->busy[slot / 64] &= ~(1ull << (slot % 64));
}

static inline void
task_release_slot(struct perf_task *t)
{
	if (t->has_slot) {
		slot_mark(t->job, t->slot, false);
		t->has_slot = false;
	}
}

static void
task_idle(struct perf_task *t)
{
	struct perf_job *job = t->job;

	task_release_slot(t);
	job->busy_tasks--;
	if (job->stopping && job->busy_tasks == 0)
		job_finish(job);
}

static void io_done(struct bdev_io *io, bool success, void *cb_arg);
static void blob_done(void *cb_arg, int bserrno);

/* --blob: one I/O on the blob; errors come back through blob_done. */
static void
task_submit_blob(struct perf_task *t)
{
	struct perf_job *job = t->job;
	uint64_t nb = job->io_blocks;

	switch (t->type) {
	case BDEV_IO_TYPE_READ:
		blob_io_readv(job->blob, job->ch, &t->iov, 1, t->offset_blocks, nb, blob_done, t);
		break;
	case BDEV_IO_TYPE_WRITE:
		blob_io_writev(job->blob, job->ch, &t->iov, 1, t->offset_blocks, nb, blob_done, t);
		break;
	case BDEV_IO_TYPE_UNMAP:
		blob_io_unmap(job->blob, job->ch, t->offset_blocks, nb, blob_done, t);
		break;
	case BDEV_IO_TYPE_FLUSH:
		blob_io_flush(job->blob, job->ch, blob_done, t);
		break;
	case BDEV_IO_TYPE_WRITE_ZEROES:
	default:
		blob_io_write_zeroes(job->blob, job->ch, t->offset_blocks, nb, blob_done, t);
		break;
	}
}

static void
task_retry(void *arg)
{
	task_submit(arg, env_get_ticks());
}

/*
 * `now` is the submission time. A resubmission from io_done() reuses the
 * completion's timestamp: a TSC read costs up to ~10 ns on the virtual
 * machines we measure on, against ~40 ns for a whole null-bdev I/O (see
 * doc/benchmarks-notes.md), and the few nanoseconds between the two
 * points are the tool's own bookkeeping, which then counts towards the
 * next I/O's latency.
 */
static void
task_submit(struct perf_task *t, uint64_t now)
{
	struct perf_job *job = t->job;
	uint64_t nb = job->io_blocks;
	int rc;

	t->submit_tsc = now;
	if (job->blob != NULL) {
		task_submit_blob(t);
		return;
	}
	switch (t->type) {
	case BDEV_IO_TYPE_READ:
		rc = bdev_read(job->desc, job->ch, t->buf, t->offset_blocks, nb, io_done, t);
		break;
	case BDEV_IO_TYPE_WRITE:
		rc = bdev_write(job->desc, job->ch, t->buf, t->offset_blocks, nb, io_done, t);
		break;
	case BDEV_IO_TYPE_UNMAP:
		rc = bdev_unmap(job->desc, job->ch, t->offset_blocks, nb, io_done, t);
		break;
	case BDEV_IO_TYPE_FLUSH:
		rc = bdev_flush(job->desc, job->ch, t->offset_blocks, nb, io_done, t);
		break;
	case BDEV_IO_TYPE_WRITE_ZEROES:
		rc = bdev_write_zeroes(job->desc, job->ch, t->offset_blocks, nb, io_done, t);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (rc == 0)
		return;
	if (rc == -ENOMEM) {
		t->wait.bdev = job->bdev;
		t->wait.cb_fn = task_retry;
		t->wait.cb_arg = t;
		rc = bdev_queue_io_wait(job->bdev, job->ch, &t->wait);
		if (rc == 0)
			return;
	}
	/*
	 * Not started and would not start next time either: retire the task.
	 * -ENODEV is the bdev going away: the removal event stops the job and
	 * is reported; the I/O it refused is not an I/O error.
	 */
	if (job->first_submit_error == 0)
		job->first_submit_error = rc;
	if (rc != -ENODEV)
		job->errors++;
	task_idle(t);
}

static uint64_t
next_slot(struct perf_job *job, struct perf_task *t)
{
	uint64_t slot;

	if (job->random) {
		/* Lemire's multiply-shift instead of %: no 64-bit divide per I/O. */
		slot = (uint64_t)(((unsigned __int128)job_rand(job) * job->region_ios) >> 64);
	} else {
		slot = job->next_slot;
		job->next_slot = slot + 1 == job->region_ios ? 0 : slot + 1;
	}
	if (job->busy) {
		/* At most queue_depth - 1 others are busy and region_ios >= queue_depth. */
		while (slot_busy(job, slot))
			slot = slot + 1 == job->region_ios ? 0 : slot + 1;
		slot_mark(job, slot, true);
		t->has_slot = true;
		if (!job->random)
			job->next_slot = slot + 1 == job->region_ios ? 0 : slot + 1;
	}
	return slot;
}

static void
task_next(struct perf_task *t, uint64_t now)
{
	struct perf_job *job = t->job;

	if (job->stopping) {
		task_idle(t);
		return;
	}
	t->slot = next_slot(job, t);
	t->offset_blocks = job->region_start + t->slot * job->io_blocks;
	switch (g_perf.workload) {
	case PERF_READ:
	case PERF_RANDREAD:
		t->type = BDEV_IO_TYPE_READ;
		break;
	case PERF_WRITE:
	case PERF_RANDWRITE:
		t->type = BDEV_IO_TYPE_WRITE;
		break;
	case PERF_RW:
	case PERF_RANDRW:
		t->type = job_rand(job) % 100 < g_perf.rw_read_pct ? BDEV_IO_TYPE_READ :
			  BDEV_IO_TYPE_WRITE;
		break;
	case PERF_VERIFY:
		t->type = BDEV_IO_TYPE_WRITE;
		t->seed = g_perf.seed + job->write_gen++;
		for (uint64_t b = 0; b < job->io_blocks; b++)
			perf_pattern_fill(t->buf + b * job->block_size, job->block_size,
					  t->offset_blocks + b, t->seed);
		break;
	case PERF_UNMAP:
		t->type = BDEV_IO_TYPE_UNMAP;
		break;
	case PERF_FLUSH:
		t->type = BDEV_IO_TYPE_FLUSH;
		break;
	case PERF_WRITE_ZEROES:
	default:
		t->type = BDEV_IO_TYPE_WRITE_ZEROES;
		break;
	}
	task_submit(t, now);
}

static void
verify_check(struct perf_task *t)
{
	struct perf_job *job = t->job;

	for (uint64_t b = 0; b < job->io_blocks; b++) {
		const uint8_t *blk = t->buf + b * job->block_size;
		long off = perf_pattern_check(blk, job->block_size, t->offset_blocks + b, t->seed);

		if (off < 0)
			continue;
		job->miscompares++;
		if (job->miscompare_reports < MAX_MISCOMPARE_REPORTS) {
			job->miscompare_reports++;
			fprintf(stderr, "%s: miscompare at LBA %" PRIu64 " byte %ld: the block "
				"says lba 0x%" PRIx64 " seed 0x%" PRIx64 ", expected lba 0x%" PRIx64
				" seed 0x%" PRIx64 "\n", job->name, t->offset_blocks + b, off,
				((const uint64_t *)blk)[0], ((const uint64_t *)blk)[1],
				t->offset_blocks + b, t->seed);
		}
		break; /* one miscompare per I/O: the rest of it is usually the same fault */
	}
}

/* The completion of either mode: statistics, then the task's next I/O. */
static inline __attribute__((always_inline)) void
task_done(struct perf_task *t, bool success)
{
	struct perf_job *job = t->job;
	uint64_t now = env_get_ticks();
	uint64_t lat = now - t->submit_tsc;

	if (!success)
		job->errors++;
	else if (g_perf.workload == PERF_VERIFY && t->type == BDEV_IO_TYPE_READ)
		verify_check(t);

	/* A failed I/O is an error, not throughput: a file truncated under the
	 * job fails reads in microseconds, and counting them made IOPS soar. */
	if (!job->stopping && success) {
		job->ios++;
		job->bytes += g_perf.io_size;
		job->lat_sum += lat;
		if (lat < job->lat_min)
			job->lat_min = lat;
		if (lat > job->lat_max)
			job->lat_max = lat;
		histogram_add(job->hist, lat);
	}

	if (g_perf.workload == PERF_VERIFY && t->type == BDEV_IO_TYPE_WRITE && success) {
		/* Read back what was just written, into a poisoned buffer. */
		memset(t->buf, VERIFY_POISON, g_perf.io_size);
		t->type = BDEV_IO_TYPE_READ;
		task_submit(t, env_get_ticks()); /* after the memset: not the tool's time */
		return;
	}
	task_release_slot(t);
	task_next(t, now);
}

static void
io_done(struct bdev_io *io, bool success, void *cb_arg)
{
	bdev_free_io(io);
	task_done(cb_arg, success);
}

static void
blob_done(void *cb_arg, int bserrno)
{
	task_done(cb_arg, bserrno == 0);
}

/* ---- life cycle ---------------------------------------------------------- */

static int
spin(void *arg)
{
	/*
	 * Exists only so the reactor keeps polling while the job runs: a
	 * benchmark measures the device and the layer, not the wake-up of a
	 * sleeping reactor between completions.
	 */
	return POLLER_IDLE;
}

static int
stop_timer(void *arg)
{
	perf_job_stop(arg);
	return POLLER_BUSY;
}

static void
setup_done(struct perf_job *job)
{
	if (thread_send_msg(thread_get_app_thread(), perf_job_ready, job) != 0)
		abort(); /* the app thread cannot be gone while jobs exist */
}

/*
 * --prefill: before the start barrier, write the job's whole region once,
 * sequentially, `queue_depth` writes in flight, unmeasured. Back ends that
 * allocate on first write (a fresh malloc bdev's pages, a thin lvol's
 * clusters, a sparse file's blocks) then measure their steady state
 * instead of first-touch costs, and reads read real data rather than a
 * shared zero page. Uses the same tasks; the job is "ready" when the last
 * task runs out of slots.
 */
static void prefill_next(struct perf_task *t);

static void
prefill_task_idle(struct perf_task *t)
{
	struct perf_job *job = t->job;

	if (--job->busy_tasks == 0) {
		job->next_slot = 0;
		setup_done(job);
	}
}

static void
prefill_fail(struct perf_task *t, int rc)
{
	struct perf_job *job = t->job;

	if (job->setup_rc == 0) {
		fprintf(stderr, "%s: prefill write at LBA %" PRIu64 " failed: %s\n", job->name,
			t->offset_blocks, strerror(-rc));
		job->setup_rc = rc;
	}
}

static void
prefill_io_done(struct bdev_io *io, bool success, void *arg)
{
	bdev_free_io(io);
	if (!success)
		prefill_fail(arg, -EIO);
	prefill_next(arg);
}

static void
prefill_blob_done(void *arg, int bserrno)
{
	if (bserrno != 0)
		prefill_fail(arg, bserrno);
	prefill_next(arg);
}

static void
prefill_submit(void *arg)
{
	struct perf_task *t = arg;
	struct perf_job *job = t->job;
	int rc;

	if (job->blob != NULL) {
		blob_io_writev(job->blob, job->ch, &t->iov, 1, t->offset_blocks, job->io_blocks,
			       prefill_blob_done, t);
		return;
	}
	rc = bdev_write(job->desc, job->ch, t->buf, t->offset_blocks, job->io_blocks,
			prefill_io_done, t);
	if (rc == -ENOMEM) {
		t->wait.bdev = job->bdev;
		t->wait.cb_fn = prefill_submit;
		t->wait.cb_arg = t;
		rc = bdev_queue_io_wait(job->bdev, job->ch, &t->wait);
	}
	if (rc != 0) {
		prefill_fail(t, rc);
		prefill_task_idle(t);
	}
}

static void
prefill_next(struct perf_task *t)
{
	struct perf_job *job = t->job;

	if (job->setup_rc != 0 || job->next_slot >= job->region_ios) {
		prefill_task_idle(t);
		return;
	}
	t->offset_blocks = job->region_start + job->next_slot++ * job->io_blocks;
	prefill_submit(t);
}

void
perf_job_setup(void *arg)
{
	struct perf_job *job = arg;
	size_t align = job->buf_align < 4096 ? 4096 : job->buf_align;
	uint32_t qd = g_perf.queue_depth;
	int rc = 0;

	job->ch = job->blob != NULL ? bs_alloc_io_channel(job->bs) : bdev_get_io_channel(job->desc);
	if (job->ch == NULL) {
		fprintf(stderr, "%s: cannot get an I/O channel for %s %s\n", job->name,
			job->blob != NULL ? "the blobstore on" : "bdev", bdev_get_name(job->bdev));
		rc = -ENOMEM;
		goto out;
	}
	job->tasks = calloc(qd, sizeof(*job->tasks));
	job->bufs = env_dma_malloc((size_t)qd * g_perf.io_size, align, NULL);
	if (job->tasks == NULL || job->bufs == NULL) {
		fprintf(stderr, "%s: cannot allocate %" PRIu64 " MiB of DMA buffers "
			"(give more memory with -s)\n", job->name,
			DIV_ROUND_UP((uint64_t)qd * g_perf.io_size, 1024 * 1024));
		rc = -ENOMEM;
		goto out;
	}
	if (g_perf.workload == PERF_VERIFY) {
		job->busy = calloc(DIV_ROUND_UP(job->region_ios, 64), sizeof(uint64_t));
		if (job->busy == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	/* Writes carry a recognisable, non-zero pattern (some devices compress zeroes). */
	for (size_t i = 0; i < (size_t)qd * g_perf.io_size; i += 8)
		*(uint64_t *)(job->bufs + i) = 0x6c7673746f720000ull + i;
	for (uint32_t i = 0; i < qd; i++) {
		job->tasks[i].job = job;
		job->tasks[i].buf = job->bufs + (size_t)i * g_perf.io_size;
		job->tasks[i].iov.iov_base = job->tasks[i].buf;
		job->tasks[i].iov.iov_len = g_perf.io_size;
	}
	job->rng = (g_perf.seed ^ ((uint64_t)job->index + 1) * 0x9E3779B97F4A7C15ull) | 1;
	job->lat_min = UINT64_MAX;
	job->random = perf_workload_random(g_perf.workload);
	if (g_perf.prefill) {
		job->setup_rc = 0;
		job->busy_tasks = qd;
		for (uint32_t i = 0; i < qd; i++)
			prefill_next(&job->tasks[i]);
		return;
	}
out:
	job->setup_rc = rc;
	setup_done(job);
}

void
perf_job_go(void *arg)
{
	struct perf_job *job = arg;
	uint64_t us = (uint64_t)(g_perf.run_seconds * 1e6);

	if (job->stopping) {
		/* Told to stop (bdev removed) before it started. */
		job_finish(job);
		return;
	}
	job->spin_poller = poller_register(spin, job, 0, "perf_spin");
	job->stop_timer = poller_register(stop_timer, job, us ? us : 1, "perf_stop");
	if (job->stop_timer == NULL) {
		fprintf(stderr, "%s: cannot register the run timer\n", job->name);
		job->errors++;
		job_finish(job);
		return;
	}
	job->start_tsc = env_get_ticks();
	job->busy_tasks = g_perf.queue_depth;
	for (uint32_t i = 0; i < g_perf.queue_depth; i++)
		task_next(&job->tasks[i], env_get_ticks());
}

void
perf_job_stop(void *arg)
{
	struct perf_job *job = arg;

	if (job->stopping)
		return;
	job->stopping = true;
	job->stop_tsc = env_get_ticks();
	poller_unregister(&job->stop_timer);
	if (job->start_tsc != 0 && job->busy_tasks == 0)
		job_finish(job);
}

void
perf_job_abort(void *arg)
{
	struct perf_job *job = arg;

	job->stopping = true;
	job_finish(job);
}

static void
job_finish(struct perf_job *job)
{
	if (job->finished)
		return;
	job->finished = true;
	if (job->stop_tsc == 0)
		job->stop_tsc = env_get_ticks();
	poller_unregister(&job->spin_poller);
	poller_unregister(&job->stop_timer);
	if (job->ch && job->blob != NULL)
		bs_free_io_channel(job->ch);
	else if (job->ch)
		io_channel_put(job->ch);
	job->ch = NULL;
	env_dma_free(job->bufs);
	job->bufs = NULL;
	free(job->tasks);
	job->tasks = NULL;
	free(job->busy);
	job->busy = NULL;
	/* The application thread answers with the message that ends this thread. */
	if (thread_send_msg(thread_get_app_thread(), perf_job_done, job) != 0)
		abort();
}
