/*
 * lib/thread micro-benchmarks on two reactors (cores 0 and 1, --no-huge).
 * Prints one "metric: value" line each; no pass/fail.
 *
 *   msg_round_trip_ns          ping-pong between a thread on each reactor
 *   msgs_per_sec_one_to_one    one thread floods one on the other reactor
 *   msgs_per_sec_many_to_one   four threads on reactor 0 flood one on reactor 1
 *   wake_latency_us            reactor 1 asleep: send (stamped) -> handled, median
 *   wake_latency_p99_us
 *   idle_cpu_pct               whole process, both reactors idle, % of one core
 *
 * The main OS thread runs reactors_start() (it is the EAL main core); a
 * helper OS thread drives the scenarios and mostly sleeps.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "lvstor/cpuset.h"
#include "lvstor/env.h"
#include "lvstor/thread.h"

#define ROUND_TRIPS 200000
#define FLOOD_MSGS 2000000
#define SENDERS 4
#define WAKE_SAMPLES 200
/* Messages a sender poller queues per call before letting others run. */
#define SEND_BURST 128

static struct thread *g_a;	/* reactor 0 */
static struct thread *g_b;	/* reactor 1 */
static struct thread *g_senders[SENDERS];
static _Atomic int g_done;
static uint64_t g_start, g_end;
static uint64_t g_hz;

static void
wait_done(void)
{
	while (!atomic_load(&g_done))
		usleep(1000);
	atomic_store(&g_done, 0);
}

static void
must_send(struct thread *t, thread_msg_fn fn, void *ctx)
{
	while (thread_send_msg(t, fn, ctx) == -ENOMEM)
		;
}

static struct thread *
create_on(const char *name, uint32_t core)
{
	struct cpuset mask;

	cpuset_zero(&mask);
	cpuset_set(&mask, core, true);
	return thread_create(name, &mask);
}

/* ---- round trip --------------------------------------------------------- */

static uint64_t g_rt_count;
static void rt_ping(void *ctx);

static void
rt_pong(void *ctx)	/* on A */
{
	if (++g_rt_count == ROUND_TRIPS) {
		g_end = env_get_ticks();
		atomic_store(&g_done, 1);
		return;
	}
	must_send(g_b, rt_ping, NULL);
}

static void
rt_ping(void *ctx)	/* on B */
{
	must_send(g_a, rt_pong, NULL);
}

static void
rt_start(void *ctx)
{
	g_rt_count = 0;
	g_start = env_get_ticks();
	must_send(g_b, rt_ping, NULL);
}

/* ---- flood -------------------------------------------------------------- */

struct sender {
	struct poller *poller;
	uint64_t to_send;
};

static struct sender g_sender_state[SENDERS];
static uint64_t g_received, g_expected;

static void
count_msg(void *ctx)	/* on B */
{
	if (++g_received == g_expected) {
		g_end = env_get_ticks();
		atomic_store(&g_done, 1);
	}
}

static int
send_poller(void *ctx)
{
	struct sender *s = ctx;
	int n = 0;

	while (s->to_send > 0 && n < SEND_BURST) {
		if (thread_send_msg(g_b, count_msg, NULL) != 0)
			break;	/* pool empty: B is behind; try next iteration */
		s->to_send--;
		n++;
	}
	if (s->to_send == 0)
		poller_unregister(&s->poller);
	return n > 0 ? POLLER_BUSY : POLLER_IDLE;
}

static void
start_sender(void *ctx)
{
	struct sender *s = ctx;

	s->poller = poller_register(send_poller, s, 0, "flood");
}

static void
reset_count(void *ctx)
{
	g_received = 0;
	g_expected = (uint64_t)(uintptr_t)ctx;
	atomic_store(&g_done, 1);
}

static double
flood(int nsenders)
{
	int i;

	must_send(g_b, reset_count, (void *)(uintptr_t)FLOOD_MSGS);
	wait_done();
	g_start = env_get_ticks();
	for (i = 0; i < nsenders; i++) {
		g_sender_state[i].to_send = FLOOD_MSGS / nsenders;
		must_send(nsenders == 1 ? g_a : g_senders[i], start_sender, &g_sender_state[i]);
	}
	wait_done();
	return (double)FLOOD_MSGS * (double)g_hz / (double)(g_end - g_start);
}

/* ---- wake-up ------------------------------------------------------------ */

static uint64_t g_wake_sent;
static uint64_t g_wake_delta;

static void
wake_msg(void *ctx)	/* on B: the receiver computes the latency */
{
	g_wake_delta = env_get_ticks() - g_wake_sent;
	atomic_store(&g_done, 1);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
wait_asleep(uint32_t lcore)
{
	struct reactor_info info;

	do {
		usleep(300);
		reactor_get_info(lcore, &info);
	} while (!info.in_interrupt);
}

static uint64_t
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
exit_msg(void *ctx)
{
	thread_exit(thread_get_current());
}

static void *
driver(void *arg)
{
	static uint64_t samples[WAKE_SAMPLES];
	uint64_t c0, w0;
	int i;

	/* Spin while measuring throughput and round trips. */
	reactor_set_sleep_after_us(0);
	must_send(g_a, rt_start, NULL);
	wait_done();
	printf("msg_round_trip_ns: %.0f\n",
	       (double)(g_end - g_start) * 1e9 / (double)g_hz / ROUND_TRIPS);
	printf("msgs_per_sec_one_to_one: %.0f\n", flood(1));
	printf("msgs_per_sec_many_to_one: %.0f\n", flood(SENDERS));
	fflush(stdout);

	reactor_set_sleep_after_us(500);
	for (i = 0; i < WAKE_SAMPLES; i++) {
		wait_asleep(1);
		g_wake_sent = env_get_ticks();
		must_send(g_b, wake_msg, NULL);
		wait_done();
		samples[i] = g_wake_delta;
	}
	qsort(samples, WAKE_SAMPLES, sizeof(samples[0]), cmp_u64);
	printf("wake_latency_us: %.1f\n", (double)samples[WAKE_SAMPLES / 2] * 1e6 / (double)g_hz);
	printf("wake_latency_p99_us: %.1f\n",
	       (double)samples[WAKE_SAMPLES * 99 / 100] * 1e6 / (double)g_hz);

	wait_asleep(0);
	wait_asleep(1);
	c0 = cpu_us();
	w0 = wall_us();
	sleep(1);
	printf("idle_cpu_pct: %.2f\n", 100.0 * (double)(cpu_us() - c0) / (double)(wall_us() - w0));
	fflush(stdout);

	for (i = 0; i < SENDERS; i++)
		must_send(g_senders[i], exit_msg, NULL);
	must_send(g_a, exit_msg, NULL);
	must_send(g_b, exit_msg, NULL);
	while (thread_count() > 0)
		usleep(1000);
	reactors_stop();
	return NULL;
}

int
main(void)
{
	struct env_opts opts;
	pthread_t tid;
	int i, rc;

	env_opts_init(&opts, sizeof(opts));
	opts.name = "thread_bench";
	opts.core_mask = "0x3";
	opts.force_no_huge = true;
	rc = env_init(&opts);
	if (rc != 0) {
		fprintf(stderr, "thread_bench: env_init: %d\n", rc);
		return 1;
	}
	if (env_get_core_count() < 2) {
		fprintf(stderr, "thread_bench: needs two cores\n");
		return 1;
	}
	g_hz = env_get_ticks_hz();
	rc = reactors_init();
	if (rc != 0) {
		fprintf(stderr, "thread_bench: reactors_init: %d\n", rc);
		return 1;
	}
	g_a = create_on("bench_a", 0);
	g_b = create_on("bench_b", 1);
	for (i = 0; i < SENDERS; i++)
		g_senders[i] = create_on("bench_sender", 0);
	if (g_a == NULL || g_b == NULL || g_senders[SENDERS - 1] == NULL) {
		fprintf(stderr, "thread_bench: cannot create threads\n");
		return 1;
	}
	if (pthread_create(&tid, NULL, driver, NULL) != 0)
		return 1;
	reactors_start();
	pthread_join(tid, NULL);
	reactors_fini();
	env_fini();
	return 0;
}
