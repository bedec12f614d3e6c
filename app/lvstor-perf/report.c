/*
 * lvstor-perf/report.c: turning the jobs' counters into the report.
 *
 * Latencies are kept in TSC ticks while the jobs run (no division in the
 * I/O path) and converted to microseconds here. Percentiles come from the
 * log-linear histogram: with the default granularity (128 buckets per
 * power of two) a percentile is an upper estimate at most 1/128 (< 0.8 %)
 * above the true value, which is finer than run-to-run noise.
 *
 * The total is what the jobs did together: IOPS and MiB/s add up (jobs
 * run at the same time), the average latency is weighted by I/O count,
 * min and max are the extremes, percentiles come from the merged
 * histograms, and the runtime is the longest job's.
 *
 * Rates are per job over the job's own measured window (go to timer), so
 * a job that started a few microseconds after another is not penalised.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lvstor/env.h"
#include "lvstor/histogram.h"
#include "perf.h"

struct perf_result {
	const char *name;
	const char *bdev;
	uint32_t core;            /* UINT32_MAX for the total */
	double runtime_s;
	double iops, mibps;
	double avg_us, min_us, max_us, p50_us, p99_us, p999_us;
	uint64_t ios, errors, miscompares;
};

static double
ticks_to_us(uint64_t ticks)
{
	return (double)ticks * 1e6 / (double)env_get_ticks_hz();
}

static void
fill_latency(struct perf_result *r, const struct histogram *h, uint64_t ios, uint64_t sum,
	     uint64_t min, uint64_t max)
{
	if (ios == 0) {
		r->avg_us = r->min_us = r->max_us = r->p50_us = r->p99_us = r->p999_us = 0;
		return;
	}
	r->avg_us = ticks_to_us(sum) / (double)ios;
	r->min_us = ticks_to_us(min);
	r->max_us = ticks_to_us(max);
	/* A bucket's upper bound may exceed the largest value seen: clamp. */
	r->p50_us = ticks_to_us(histogram_percentile(h, 50.0));
	r->p99_us = ticks_to_us(histogram_percentile(h, 99.0));
	r->p999_us = ticks_to_us(histogram_percentile(h, 99.9));
	if (r->p50_us > r->max_us)
		r->p50_us = r->max_us;
	if (r->p99_us > r->max_us)
		r->p99_us = r->max_us;
	if (r->p999_us > r->max_us)
		r->p999_us = r->max_us;
}

static void
job_result(const struct perf_job *job, struct perf_result *r)
{
	uint64_t ticks = job->stop_tsc > job->start_tsc ? job->stop_tsc - job->start_tsc : 0;

	memset(r, 0, sizeof(*r));
	r->name = job->name;
	r->bdev = bdev_get_name(job->bdev);
	r->core = job->core;
	r->runtime_s = ticks ? (double)ticks / (double)env_get_ticks_hz() : 0;
	r->ios = job->ios;
	r->errors = job->errors;
	r->miscompares = job->miscompares;
	if (r->runtime_s > 0) {
		r->iops = (double)job->ios / r->runtime_s;
		r->mibps = (double)job->bytes / r->runtime_s / (1024.0 * 1024.0);
	}
	fill_latency(r, job->hist, job->ios, job->lat_sum, job->lat_min, job->lat_max);
}

static json_t *
result_json(const struct perf_result *r, bool total)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (!total) {
		json_object_set_new(o, "name", json_string(r->name));
		json_object_set_new(o, "core", json_integer(r->core));
		json_object_set_new(o, "bdev", json_string(r->bdev));
	}
	json_object_set_new(o, "workload", json_string(perf_workload_name(g_perf.workload)));
	json_object_set_new(o, "queue_depth", json_integer(g_perf.queue_depth));
	json_object_set_new(o, "io_size", json_integer((json_int_t)g_perf.io_size));
	json_object_set_new(o, "runtime_s", json_real(r->runtime_s));
	json_object_set_new(o, "iops", json_real(r->iops));
	json_object_set_new(o, "mibps", json_real(r->mibps));
	json_object_set_new(o, "avg_lat_us", json_real(r->avg_us));
	json_object_set_new(o, "min_lat_us", json_real(r->min_us));
	json_object_set_new(o, "max_lat_us", json_real(r->max_us));
	json_object_set_new(o, "p50_lat_us", json_real(r->p50_us));
	json_object_set_new(o, "p99_lat_us", json_real(r->p99_us));
	json_object_set_new(o, "p999_lat_us", json_real(r->p999_us));
	json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
	json_object_set_new(o, "miscompares", json_integer((json_int_t)r->miscompares));
	return o;
}

static void
print_row(const struct perf_result *r)
{
	char core[16] = "";

	if (r->core != UINT32_MAX)
		snprintf(core, sizeof(core), "%u", r->core);
	printf("%-24s %4s %8.2f %12.1f %9.1f %9.2f %9.2f %10.2f %9.2f %9.2f %10.2f %7" PRIu64
	       " %7" PRIu64 "\n",
	       r->name, core, r->runtime_s, r->iops, r->mibps, r->avg_us, r->min_us, r->max_us,
	       r->p50_us, r->p99_us, r->p999_us, r->errors, r->miscompares);
}

void
perf_report(struct perf_job *jobs, uint32_t num_jobs)
{
	struct perf_result r, total;
	struct histogram *merged = NULL;
	uint64_t ios = 0, sum = 0, min = UINT64_MAX, max = 0;
	json_t *doc = NULL, *arr = NULL;

	memset(&total, 0, sizeof(total));
	total.name = "Total";
	total.core = UINT32_MAX;
	if (num_jobs)
		merged = histogram_create(jobs[0].hist->granularity, jobs[0].hist->min_range,
					  jobs[0].hist->max_range);
	if (g_perf.json_output) {
		doc = json_object();
		arr = json_array();
	} else {
		printf("lvstor-perf: workload %s, queue depth %u, I/O size %" PRIu64 " bytes, "
		       "%u job(s)\n\n", perf_workload_name(g_perf.workload), g_perf.queue_depth,
		       g_perf.io_size, num_jobs);
		printf("%-24s %4s %8s %12s %9s %9s %9s %10s %9s %9s %10s %7s %7s\n", "Job", "Core",
		       "Time(s)", "IOPS", "MiB/s", "Avg(us)", "Min(us)", "Max(us)", "p50(us)",
		       "p99(us)", "p99.9(us)", "Errors", "Miscmp");
	}
	for (uint32_t i = 0; i < num_jobs; i++) {
		job_result(&jobs[i], &r);
		total.iops += r.iops;
		total.mibps += r.mibps;
		total.errors += r.errors;
		total.miscompares += r.miscompares;
		if (r.runtime_s > total.runtime_s)
			total.runtime_s = r.runtime_s;
		ios += jobs[i].ios;
		sum += jobs[i].lat_sum;
		if (jobs[i].ios && jobs[i].lat_min < min)
			min = jobs[i].lat_min;
		if (jobs[i].lat_max > max)
			max = jobs[i].lat_max;
		if (merged)
			histogram_merge(merged, jobs[i].hist);
		if (g_perf.json_output) {
			json_array_append_new(arr, result_json(&r, false));
		} else {
			print_row(&r);
		}
	}
	total.ios = ios;
	if (merged)
		fill_latency(&total, merged, ios, sum, min, max);
	if (g_perf.json_output) {
		json_object_set_new(doc, "jobs", arr);
		json_object_set_new(doc, "total", result_json(&total, true));
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		printf("\n");
		json_decref(doc);
	} else {
		print_row(&total);
	}
	fflush(stdout);
	histogram_free(merged);
}
