/*
 * lib/env/env.c: bringing DPDK's EAL up and down, cores, time, DMA memory.
 *
 * The EAL is optional for most of this file: before env_init() the core
 * list is {0}, ticks come from the TSC calibrated against CLOCK_MONOTONIC,
 * and DMA buffers come from aligned ordinary memory. That lets unit tests
 * and tools run without DPDK while the daemon gets the real thing.
 *
 * Hugepages: lvstor must run without them (DESIGN.md). We ask the kernel
 * how many free hugepages there are; with none we pass --no-huge, and in
 * that mode DPDK's heap is plain anonymous memory whose IOVA equals its
 * virtual address. --no-shconf keeps several daemons (tests) from fighting
 * over /var/run/dpdk; --no-pci keeps the EAL from touching devices nobody
 * asked for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "lvstor/cpuset.h"
#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/util.h"

static bool g_eal_up;
static bool g_no_huge;
static uint64_t g_tsc_hz;

void
env_opts_init(struct env_opts *opts, size_t size)
{
	struct env_opts defaults = {
		.opts_size = size,
		.name = "lvstor",
		.core_mask = NULL,
		.main_core = UINT32_MAX,
		.mem_size_mb = 0,
		.enable_pci = false,
		.force_no_huge = false,
	};

	memset(opts, 0, size);
	memcpy(opts, &defaults, size < sizeof(defaults) ? size : sizeof(defaults));
}

/* Free hugepages of the default size, from /proc/meminfo. */
static uint64_t
free_hugepages(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	uint64_t free_pages = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long v;

		if (sscanf(line, "HugePages_Free: %llu", &v) == 1) {
			free_pages = v;
			break;
		}
	}
	fclose(f);
	return free_pages;
}

/* Builds "--lcores" for the EAL from a cpuset: "0,1,5". */
static int
lcores_arg(const struct cpuset *set, char *buf, size_t len)
{
	size_t used = 0;
	uint32_t cpu;

	buf[0] = '\0';
	for (cpu = cpuset_next(set, 0); cpu != UINT32_MAX; cpu = cpuset_next(set, cpu + 1)) {
		int n;

		if (cpu >= ENV_MAX_CORES)
			return -EINVAL;
		n = snprintf(buf + used, len - used, "%s%u", used ? "," : "", cpu);
		if (n < 0 || (size_t)n >= len - used)
			return -EINVAL;
		used += (size_t)n;
	}
	return used ? 0 : -EINVAL;
}

int
env_init(const struct env_opts *opts)
{
	struct cpuset set;
	char lcores[512], main_core[16], mem[32], prefix[64];
	char *argv[32];
	int argc = 0, rc;
	uint32_t main = opts->main_core;

	if (g_eal_up)
		return -EALREADY;
	rc = cpuset_parse(&set, opts->core_mask ? opts->core_mask : "0x1");
	if (rc != 0) {
		LOG_ERR("invalid core mask '%s'", opts->core_mask);
		return rc;
	}
	if (lcores_arg(&set, lcores, sizeof(lcores)) != 0) {
		LOG_ERR("core mask '%s' names a core beyond %u", opts->core_mask,
			ENV_MAX_CORES - 1);
		return -EINVAL;
	}
	for (uint32_t cpu = cpuset_next(&set, 0); cpu != UINT32_MAX; cpu = cpuset_next(&set, cpu + 1)) {
		if (cpu >= (uint32_t)sysconf(_SC_NPROCESSORS_CONF)) {
			LOG_ERR("core %u in mask '%s' does not exist on this host", cpu,
				opts->core_mask);
			return -EINVAL;
		}
	}
	if (main == UINT32_MAX)
		main = cpuset_next(&set, 0);
	else if (!cpuset_get(&set, main)) {
		LOG_ERR("main core %u is not in the core mask", main);
		return -EINVAL;
	}

	g_no_huge = opts->force_no_huge || free_hugepages() == 0;
	argv[argc++] = (char *)(opts->name ? opts->name : "lvstor");
	argv[argc++] = "--lcores";
	argv[argc++] = lcores;
	snprintf(main_core, sizeof(main_core), "%u", main);
	argv[argc++] = "--main-lcore";
	argv[argc++] = main_core;
	argv[argc++] = "--no-shconf";
	argv[argc++] = "--no-telemetry";
	/* Keep the EAL's own chatter to warnings; ours goes through lib/log. */
	argv[argc++] = "--log-level=lib.eal:warning";
	/* rte_vhost logs every vhost-user message at info; lib/vhost logs
	 * what matters (connect, start, stop, errors) itself. */
	argv[argc++] = "--log-level=lib.vhost.*:warning";
	if (!opts->enable_pci)
		argv[argc++] = "--no-pci";
	if (g_no_huge)
		argv[argc++] = "--no-huge";
	if (opts->mem_size_mb) {
		snprintf(mem, sizeof(mem), "%" PRIu64, opts->mem_size_mb);
		argv[argc++] = "-m";
		argv[argc++] = mem;
	}
	/* A per-process prefix: several daemons (and tests) may run at once. */
	snprintf(prefix, sizeof(prefix), "--file-prefix=lvstor%d", (int)getpid());
	argv[argc++] = prefix;
	argv[argc] = NULL;

	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		LOG_ERR("DPDK EAL init failed: %s", rte_strerror(rte_errno));
		return -(rte_errno ? rte_errno : EINVAL);
	}
	g_eal_up = true;
	g_tsc_hz = rte_get_tsc_hz();
	LOG_INFO("environment up: cores %s, main core %u%s", lcores, main,
		 g_no_huge ? ", no hugepages" : "");
	return 0;
}

void
env_fini(void)
{
	if (!g_eal_up)
		return;
	rte_eal_cleanup();
	g_eal_up = false;
}

bool
env_is_initialized(void)
{
	return g_eal_up;
}

bool
env_no_huge(void)
{
	return g_no_huge;
}

/* ---- DMA-able memory ----------------------------------------------------- */

/*
 * Before the EAL is up, buffers come from aligned_alloc; a one-byte tag in
 * front is not possible without wasting alignment, so we remember which
 * allocator was used by asking DPDK whether it knows the address.
 */
void *
env_dma_malloc(size_t size, size_t align, uint64_t *iova)
{
	void *buf;

	if (align == 0)
		align = 64;
	if (!IS_POWER_OF_2(align) || size == 0)
		return NULL;
	if (g_eal_up) {
		buf = rte_malloc(NULL, size, align);
		if (buf && iova)
			*iova = rte_malloc_virt2iova(buf);
		return buf;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	buf = aligned_alloc(align, ALIGN_UP(size, align));
	if (buf && iova)
		*iova = (uint64_t)(uintptr_t)buf;
	return buf;
}

void *
env_dma_zmalloc(size_t size, size_t align, uint64_t *iova)
{
	void *buf = env_dma_malloc(size, align, iova);

	if (buf)
		memset(buf, 0, size);
	return buf;
}

void
env_dma_free(void *buf)
{
	if (buf == NULL)
		return;
	if (g_eal_up && rte_mem_virt2memseg(buf, NULL) != NULL)
		rte_free(buf);
	else
		free(buf);
}

uint64_t
env_vtophys(const void *buf, uint64_t *size)
{
	const struct rte_memseg *ms;
	uint64_t iova, contiguous;

	if (!g_eal_up)
		return ENV_VTOPHYS_ERROR;
	ms = rte_mem_virt2memseg(buf, NULL);
	if (ms == NULL)
		return ENV_VTOPHYS_ERROR;
	iova = rte_mem_virt2iova(buf);
	if (iova == RTE_BAD_IOVA)
		return ENV_VTOPHYS_ERROR;
	if (size) {
		/* Contiguous to the end of this segment at least. */
		contiguous = (uint64_t)((uintptr_t)ms->addr + ms->len - (uintptr_t)buf);
		if (*size > contiguous)
			*size = contiguous;
	}
	return iova;
}

/* ---- time ---------------------------------------------------------------- */

static uint64_t
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
env_get_ticks(void)
{
	return rte_rdtsc();
}

uint64_t
env_get_ticks_hz(void)
{
	uint64_t t0, n0, t1, n1;

	if (g_tsc_hz)
		return g_tsc_hz;
	/* Calibrate once against the monotonic clock (10 ms). */
	n0 = monotonic_ns();
	t0 = rte_rdtsc();
	do {
		n1 = monotonic_ns();
	} while (n1 - n0 < 10000000ull);
	t1 = rte_rdtsc();
	g_tsc_hz = (t1 - t0) * 1000000000ull / (n1 - n0);
	return g_tsc_hz;
}

void
env_delay_us(uint32_t us)
{
	uint64_t end = env_get_ticks() + env_get_ticks_hz() * us / 1000000u;

	while (env_get_ticks() < end)
		;
}

/* ---- cores --------------------------------------------------------------- */

uint32_t
env_get_core_count(void)
{
	return g_eal_up ? rte_lcore_count() : 1;
}

uint32_t
env_get_main_core(void)
{
	return g_eal_up ? rte_get_main_lcore() : 0;
}

uint32_t
env_get_current_core(void)
{
	unsigned id = rte_lcore_id();

	if (!g_eal_up)
		return 0;
	return id == LCORE_ID_ANY ? UINT32_MAX : id;
}

uint32_t
env_get_first_core(void)
{
	return g_eal_up ? rte_get_next_lcore(-1, 0, 0) : 0;
}

uint32_t
env_get_next_core(uint32_t prev)
{
	unsigned next;

	if (!g_eal_up)
		return UINT32_MAX;
	next = rte_get_next_lcore(prev, 0, 0);
	return next >= RTE_MAX_LCORE ? UINT32_MAX : next;
}

int
env_launch_on_core(uint32_t core, int (*fn)(void *), void *arg)
{
	if (!g_eal_up || core == rte_get_main_lcore() || !rte_lcore_is_enabled(core))
		return -EINVAL;
	return rte_eal_remote_launch(fn, arg, core) == 0 ? 0 : -EBUSY;
}

void
env_wait_cores(void)
{
	if (g_eal_up)
		rte_eal_mp_wait_lcore();
}
