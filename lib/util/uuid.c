/*
 * lib/util/uuid.c: UUIDs over libuuid, always printed in lower case
 * (spec/rpc.md: "lower case on output").
 */
#include <errno.h>
#include <string.h>
#include <uuid/uuid.h>

#include "lvstor/util.h"

_Static_assert(sizeof(struct lv_uuid) == sizeof(uuid_t), "uuid size");

void
uuid_generate_random_lv(struct lv_uuid *uuid)
{
	uuid_generate_random(uuid->u);
}

int
uuid_parse_str(struct lv_uuid *uuid, const char *str)
{
	if (str == NULL || strlen(str) != UUID_STRING_LEN - 1)
		return -EINVAL;
	return uuid_parse(str, uuid->u) == 0 ? 0 : -EINVAL;
}

void
uuid_fmt_lower(char *buf, size_t len, const struct lv_uuid *uuid)
{
	char tmp[UUID_STRING_LEN];

	uuid_unparse_lower(uuid->u, tmp);
	strlcpy_lv(buf, tmp, len);
}

int
uuid_compare_lv(const struct lv_uuid *a, const struct lv_uuid *b)
{
	return memcmp(a->u, b->u, sizeof(a->u));
}

bool
uuid_is_null_lv(const struct lv_uuid *uuid)
{
	return uuid_is_null(uuid->u) != 0;
}
