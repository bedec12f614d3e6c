/* test/unit/common/ut_spdk_fixture.c: see ut_spdk_fixture.h. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvstor/bs_dev.h"
#include "ut_spdk_fixture.h"

#define FIXTURE_DEFAULT "../shared/fixtures/spdk-lvs-4k.img.xz"
#define FIXTURE_BYTES (1024ull * 1024 * 1024)

const char *
ut_spdk_fixture_path(void)
{
	const char *env = getenv("LVSTOR_FIXTURE");

	return env != NULL ? env : FIXTURE_DEFAULT;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0)
			return false;
	}
	return true;
}

struct bs_dev *
ut_spdk_fixture_load(void)
{
	const char *path = ut_spdk_fixture_path();
	static uint8_t blk[65536];
	char cmd[1024];
	struct bs_dev *mem;
	uint8_t *dst;
	size_t off = 0, n;
	FILE *f;

	/* The path goes into a shell command inside single quotes. */
	if (access(path, R_OK) != 0 || strchr(path, '\'') != NULL)
		return NULL;
	snprintf(cmd, sizeof(cmd), "xz -dc '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	if (f == NULL)
		return NULL;
	mem = bs_dev_mem_create(FIXTURE_BYTES / 4096, 4096);
	if (mem == NULL) {
		/* Not a missing fixture, which a test may skip: a broken run. */
		fprintf(stderr, "ut_spdk_fixture_load: no memory for a 1 GiB device\n");
		abort();
	}
	dst = bs_dev_mem_data(mem);
	while (off < FIXTURE_BYTES && (n = fread(blk, 1, sizeof(blk), f)) > 0) {
		if (n > FIXTURE_BYTES - off)
			n = FIXTURE_BYTES - off;
		if (!all_zero(blk, n))
			memcpy(dst + off, blk, n);
		off += n;
	}
	pclose(f);
	if (off != FIXTURE_BYTES) {
		mem->destroy(mem);
		return NULL;
	}
	return mem;
}
