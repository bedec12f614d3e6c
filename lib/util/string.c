/*
 * lib/util/string.c: bounded string copies and strict number parsing
 * (STYLE.md: no strcpy, sprintf or atoi; every number is range-checked).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/util.h"

size_t
strlcpy_lv(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len) {
		size_t c = n < len - 1 ? n : len - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

char *
strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int
parse_u64(const char *str, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (str == NULL || *str == '\0' || isspace((unsigned char)*str) || *str == '-' ||
	    *str == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(str, &end, 0);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
parse_i64(const char *str, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (str == NULL || *str == '\0' || isspace((unsigned char)*str))
		return -EINVAL;
	errno = 0;
	v = strtoll(str, &end, 0);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
parse_capacity(const char *str, uint64_t *bytes)
{
	unsigned long long v;
	uint64_t shift = 0;
	char *end;

	if (str == NULL || !isdigit((unsigned char)*str))
		return -EINVAL;
	errno = 0;
	v = strtoull(str, &end, 10);
	if (errno == ERANGE)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default:
		return -EINVAL;
	}
	/* After the unit: nothing, "B" or "iB" (a bare "i" is not a suffix). */
	if (shift && *end == 'i' && (end[1] == 'B' || end[1] == 'b'))
		end += 2;
	else if (shift && (*end == 'B' || *end == 'b'))
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

const char *
lvstor_version_string(void)
{
	static char version[64];

	if (version[0] == '\0') {
		if (LVSTOR_VERSION_PATCH)
			snprintf(version, sizeof(version), "lvstor v%d.%02d.%d%s",
				 LVSTOR_VERSION_MAJOR, LVSTOR_VERSION_MINOR,
				 LVSTOR_VERSION_PATCH, LVSTOR_VERSION_SUFFIX);
		else
			snprintf(version, sizeof(version), "lvstor v%d.%02d%s",
				 LVSTOR_VERSION_MAJOR, LVSTOR_VERSION_MINOR,
				 LVSTOR_VERSION_SUFFIX);
	}
	return version;
}
