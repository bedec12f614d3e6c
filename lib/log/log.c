/*
 * lib/log/log.c: levelled logging with per-component flags.
 *
 * Two thresholds, as in SPDK: the log level decides what is logged at all
 * (default NOTICE), the print level what is echoed to stderr (default
 * INFO). With the default sink both go to stderr once: a line is written
 * if it passes either threshold. A test or the daemon can install a sink
 * to capture lines instead.
 *
 * Each line is formatted into a stack buffer and written with one
 * write(2)-sized fputs under the stdio lock, so lines from several
 * reactors never interleave. Flags form a list sorted by name, built by
 * constructors before main() and only read afterwards; enabling a flag is
 * a plain bool store, which is fine for a diagnostic switch.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "lvstor/log.h"

static enum log_level g_level = LOG_LEVEL_NOTICE;
static enum log_level g_print_level = LOG_LEVEL_INFO;
static struct log_flag *g_flags;
static log_sink_fn g_sink;

static const char *const g_level_names[] = {"ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"};

void
log_register_flag(struct log_flag *flag)
{
	struct log_flag **p = &g_flags;

	while (*p && strcmp((*p)->name, flag->name) < 0)
		p = &(*p)->next;
	if (*p && strcmp((*p)->name, flag->name) == 0)
		return; /* registered twice (same component in two objects) */
	flag->next = *p;
	*p = flag;
}

void
log_set_level(enum log_level level)
{
	g_level = level;
}

enum log_level
log_get_level(void)
{
	return g_level;
}

void
log_set_print_level(enum log_level level)
{
	g_print_level = level;
}

enum log_level
log_get_print_level(void)
{
	return g_print_level;
}

const char *
log_level_name(enum log_level level)
{
	if (level < LOG_LEVEL_ERROR || level > LOG_LEVEL_DEBUG)
		return NULL;
	return g_level_names[level];
}

int
log_level_parse(const char *name, enum log_level *level)
{
	if (name == NULL)
		return -EINVAL;
	for (int i = 0; i <= LOG_LEVEL_DEBUG; i++) {
		if (strcasecmp(name, g_level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "WARN") == 0) {
		*level = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

static int
set_flag(const char *name, bool value)
{
	struct log_flag *f;

	if (name == NULL)
		return -EINVAL;
	if (strcmp(name, "all") == 0) {
		for (f = g_flags; f; f = f->next)
			f->enabled = value;
		return 0;
	}
	for (f = g_flags; f; f = f->next) {
		if (strcmp(f->name, name) == 0) {
			f->enabled = value;
			return 0;
		}
	}
	return -EINVAL;
}

int
log_set_flag(const char *name)
{
	return set_flag(name, true);
}

int
log_clear_flag(const char *name)
{
	return set_flag(name, false);
}

bool
log_get_flag(const char *name)
{
	if (name == NULL)
		return false;
	for (struct log_flag *f = g_flags; f; f = f->next) {
		if (strcmp(f->name, name) == 0)
			return f->enabled;
	}
	return false;
}

struct log_flag *
log_get_first_flag(void)
{
	return g_flags;
}

struct log_flag *
log_get_next_flag(struct log_flag *flag)
{
	return flag->next;
}

void
log_set_sink(log_sink_fn sink)
{
	g_sink = sink;
}

void
log_vwrite(enum log_level level, const char *file, int line, const char *func,
	   const char *fmt, va_list ap)
{
	char msg[1024], out[1200], stamp[32];
	struct timespec ts;
	struct tm tm;
	const char *base;
	int n;

	/* Not a level a line can have (DISABLED, garbage): nothing to index. */
	if (level < LOG_LEVEL_ERROR || level > LOG_LEVEL_DEBUG)
		return;
	/* DEBUG lines were already filtered by their component flag. */
	if (level > g_level && level > g_print_level && level != LOG_LEVEL_DEBUG)
		return;
	if (level == LOG_LEVEL_DEBUG && g_level < LOG_LEVEL_DEBUG &&
	    g_print_level < LOG_LEVEL_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = (int)strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (g_sink) {
		g_sink(level, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	snprintf(out, sizeof(out), "[%s.%06ld] %s:%d:%s: *%s*: %s\n", stamp, ts.tv_nsec / 1000,
		 base, line, func, g_level_names[level], msg);
	fputs(out, stderr);
}

void
log_write(enum log_level level, const char *file, int line, const char *func,
	  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, file, line, func, fmt, ap);
	va_end(ap);
}
