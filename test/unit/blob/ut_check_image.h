/*
 * ut_check_image(): run the offline checker, app/lvstor-check, on the
 * image a unit test holds in memory (issue 4: "use it in tests after
 * every power-cut case").
 *
 * The crash sweeps already load every surviving image and run their own
 * oracle (ut_bs_check) on the loaded store. That proves the blobstore can
 * repair what it left; it does not prove what it left is a store any
 * reader would accept as it is, nor that the masks a clean unload writes
 * agree with the metadata. lvstor-check answers both from the bytes
 * alone, with the same codec but none of the blobstore's load code, so
 * the sweeps call it twice per cut point:
 *
 *   UT_CHECK_CRASHED  the image exactly as the power cut left it, before
 *                     any load has written to it (usually dirty: the
 *                     checker must accept a dirty store as it is, since
 *                     that is what a dirty load starts from);
 *   UT_CHECK_CLEAN    the same store after the reload (recovery, fix-up)
 *                     and a clean unload: clean flag set, masks exact.
 *
 * The checker must exit 0 (no ERROR). WARNINGs are legal but unusual;
 * each one the checker prints must be on the mode's allow list below:
 *  - §10.12 (crashed only): a snapshot create or delete interrupted by the
 *    cut leaves SNAPTMP / SNAPRM and clusters or extent pages shared by
 *    two blobs until the next load's fix-up (§6.10) resolves them. After
 *    the reload and unload none of these may remain.
 *  - Stale pages (both modes): a cut between a commit and the zeroing of
 *    the pages it unreferenced (an old chain, a replaced extent page, the
 *    continuation pages of a deleted blob) leaves those pages on disk with
 *    a valid CRC. They are never roots, recovery skips them, and nothing
 *    zeroes them until they are allocated again (recovery only reads), so
 *    they survive the reload too. Any other warning fails the test.
 *
 * How. The image (a bs_dev_mem: bs_dev_mem_data) is written to a sparse
 * in-memory file (memfd): ftruncate to the device size, then pwrite of
 * only the non-zero 4 KiB blocks, so a 16 MiB store costs a few dozen
 * writes. The checker is run with posix_spawn (no shell) on /dev/fd/N,
 * its text report captured in a second memfd. On failure the image is
 * written to a file in $TMPDIR (or /tmp) and kept, and its path printed
 * with the report, for `lvstor-check -v`.
 *
 * Which checker. $LVSTOR_CHECK if set (scripts/run-tests.sh sets
 * build/bin/lvstor-check for `unit`, build-asan/bin/lvstor-check for
 * `asan`): it must exist, or the test fails. Otherwise the checker of the
 * build directory the test binary lives in (<build>/test/unit/blob/x_ut
 * -> <build>/bin/lvstor-check, from /proc/self/exe); if that is not built
 * (only `make unit-build` ran), the checks are skipped with one message.
 * Tests are run from the repository root.
 *
 * At exit, one line reports how many images were checked and which
 * warnings were seen (the sweeps' "checker results").
 */
#ifndef UT_CHECK_IMAGE_H
#define UT_CHECK_IMAGE_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lvstor/bs_dev.h"

enum ut_check_mode {
	UT_CHECK_CRASHED,       /* as the power cut left it: dirty, crash debris allowed */
	UT_CHECK_CLEAN,         /* after reload and clean unload: no transient state */
};

/* Warning texts (substrings of the checker's messages) each mode allows. */
#define UT_CHECK_W_STALE "unreferenced metadata page(s) with a valid CRC"
#define UT_CHECK_W_SNAPOP "an interrupted snapshot"            /* SNAPTMP / SNAPRM */
#define UT_CHECK_W_SHARED "during an interrupted snapshot operation"

struct ut_check_stats {
	uint64_t images;        /* checker runs */
	uint64_t stale[2];      /* runs that warned about stale pages, per mode */
	uint64_t snapop;        /* runs that warned about §10.12 states */
	bool skipped;
};

static struct ut_check_stats g_ut_check_stats;

__attribute__((destructor, unused)) static void
ut_check_report_stats(void)
{
	const struct ut_check_stats *s = &g_ut_check_stats;

	if (s->images == 0)
		return;
	fprintf(stdout, "lvstor-check: %" PRIu64 " image(s) checked, all consistent; warnings: "
		"stale pages in %" PRIu64 " crashed and %" PRIu64 " clean image(s), an "
		"interrupted snapshot operation (§10.12) in %" PRIu64 "\n", s->images,
		s->stale[UT_CHECK_CRASHED], s->stale[UT_CHECK_CLEAN], s->snapop);
}

/* The checker's path, or NULL when it is not built (checks skipped). */
static inline const char *
ut_check_binary(void)
{
	static char path[PATH_MAX];
	static int state;       /* 0: not looked up, 1: found, -1: skipped */
	const char *env = getenv("LVSTOR_CHECK");
	char exe[PATH_MAX];
	ssize_t n;

	if (state != 0)
		return state > 0 ? path : NULL;
	if (env != NULL && env[0] != '\0') {
		if (access(env, X_OK) != 0)
			fail_msg("LVSTOR_CHECK=%s: not an executable (build it: make all)", env);
		snprintf(path, sizeof(path), "%s", env);
		state = 1;
		return path;
	}
	/* <build>/test/unit/<dir>/<name>: strip four components. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int i = 0; i < 4; i++) {
			char *slash = strrchr(exe, '/');

			if (slash == NULL) {
				exe[0] = '\0';
				break;
			}
			*slash = '\0';
		}
		if (exe[0] != '\0' &&
		    (size_t)snprintf(path, sizeof(path), "%s/bin/lvstor-check", exe) < sizeof(path) &&
		    access(path, X_OK) == 0) {
			state = 1;
			return path;
		}
	}
	print_message("  lvstor-check not built (make all): image checks skipped\n");
	g_ut_check_stats.skipped = true;
	state = -1;
	return NULL;
}

/*
 * Writes the non-zero 4 KiB blocks of `mem` into fd (an empty file),
 * sparse: ftruncate to the device size, then pwrite block by block.
 */
static inline void
ut_check_write_image(struct bs_dev *mem, int fd, const char *name)
{
	static const uint8_t zero[4096];
	const uint8_t *src = bs_dev_mem_data(mem);
	uint64_t len = mem->blockcnt * (uint64_t)mem->blocklen;

	assert_non_null(src);
	if (ftruncate(fd, (off_t)len) != 0)
		fail_msg("ftruncate %s: %s", name, strerror(errno));
	for (uint64_t off = 0; off < len; off += sizeof(zero)) {
		size_t n = len - off < sizeof(zero) ? (size_t)(len - off) : sizeof(zero);

		if (memcmp(src + off, zero, n) == 0)
			continue;
		if (pwrite(fd, src + off, n, (off_t)off) != (ssize_t)n)
			fail_msg("pwrite %s: %s", name, strerror(errno));
	}
}

/* Keeps a copy of a failing image in a file, for `lvstor-check -v`. */
static inline void
ut_check_keep_image(struct bs_dev *mem, char *path, size_t path_len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, path_len, "%s/lvstor-ut-check-XXXXXX.img",
		 dir != NULL && dir[0] != '\0' ? dir : "/tmp");
	fd = mkstemps(path, 4);
	if (fd < 0) {
		snprintf(path, path_len, "(not kept: %s)", strerror(errno));
		return;
	}
	ut_check_write_image(mem, fd, path);
	close(fd);
}

/*
 * Checks the store held by `mem` (a bs_dev_mem, not modified) with
 * lvstor-check and fails the test on any error, or on a warning the mode
 * does not allow. `fmt` names the case for the failure message.
 */
__attribute__((format(printf, 3, 4))) static inline void
ut_check_image(struct bs_dev *mem, enum ut_check_mode mode, const char *fmt, ...)
{
	const char *check = ut_check_binary();
	char img[64], kept[PATH_MAX], bs[16], what[256], line[512];
	bool bad = false, stale = false, snapop = false;
	int img_fd, out_fd, status, rc;
	va_list ap;
	FILE *f;
	pid_t pid;

	if (check == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	/*
	 * The image and the report live in memfds: a file on a disk
	 * filesystem costs a few ms per create/unlink, hundreds of times per
	 * sweep. The checker opens the image as /dev/fd/N (inherited).
	 */
	img_fd = memfd_create("lvstor-ut-image", 0);
	out_fd = memfd_create("lvstor-ut-report", 0);
	if (img_fd < 0 || out_fd < 0)
		fail_msg("memfd_create: %s", strerror(errno));
	ut_check_write_image(mem, img_fd, "memfd");
	snprintf(img, sizeof(img), "/dev/fd/%d", img_fd);
	snprintf(bs, sizeof(bs), "%u", mem->blocklen);

	/* posix_spawn (vfork underneath): a test process holding many mem
	 * devices would pay for copying its page tables on every fork. */
	fflush(NULL);
	{
		char *const argv[] = { (char *)check, img, (char *)"--block-size", bs, NULL };
		posix_spawn_file_actions_t fa;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
		rc = posix_spawn(&pid, check, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (rc != 0)
			fail_msg("posix_spawn %s: %s", check, strerror(rc));
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
	}
	close(img_fd);

	f = fdopen(out_fd, "r");
	assert_non_null(f);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "WARNING: ", 9) != 0)
			continue;
		if (strstr(line, UT_CHECK_W_STALE) != NULL) {
			stale = true;
		} else if (mode == UT_CHECK_CRASHED && (strstr(line, UT_CHECK_W_SNAPOP) != NULL ||
							strstr(line, UT_CHECK_W_SHARED) != NULL)) {
			snapop = true;
		} else {
			bad = true;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad = true;
	if (bad) {
		ut_check_keep_image(mem, kept, sizeof(kept));
		rewind(f);
		print_error("lvstor-check on the %s image of %s -> %s %d; image kept: %s\n",
			    mode == UT_CHECK_CRASHED ? "crashed" : "clean", what,
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), kept);
		while (fgets(line, sizeof(line), f) != NULL)
			print_error("  | %s", line);
		fclose(f);
		fail_msg("lvstor-check rejects the %s image of %s",
			 mode == UT_CHECK_CRASHED ? "crashed" : "clean", what);
	}
	fclose(f);
	g_ut_check_stats.images++;
	g_ut_check_stats.stale[mode] += stale;
	g_ut_check_stats.snapop += snapop;
}

#endif
