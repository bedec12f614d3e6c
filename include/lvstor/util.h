/*
 * lib/util: small helpers every library uses: checksums, bit arrays,
 * UUIDs, strings and bounded integer parsing.
 */
#ifndef LVSTOR_UTIL_H
#define LVSTOR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define LVSTOR_VERSION_MAJOR 26
#define LVSTOR_VERSION_MINOR 9
#define LVSTOR_VERSION_PATCH 0
#define LVSTOR_VERSION_SUFFIX "-pre"

#define COUNTOF(a) (sizeof(a) / sizeof((a)[0]))
#define CONTAINEROF(ptr, type, member) \
	((type *)((uintptr_t)(ptr) - offsetof(type, member)))
#define ALIGN_UP(x, a) ((((x) + (a) - 1) / (a)) * (a))
#define DIV_ROUND_UP(x, y) (((x) + (y) - 1) / (y))
#define IS_POWER_OF_2(x) ((x) != 0 && (((x) & ((x) - 1)) == 0))

/* ---- checksums (ISA-L) ---- */

/*
 * CRC-32C (Castagnoli) as used by iSCSI, NVMe and the blobstore. `crc` is
 * the running value: start with ~0u and finish with ~crc, i.e.
 * crc32c_finish(crc32c_update(buf, len, CRC32C_INIT)). The check value of
 * "123456789" is 0xE3069283.
 */
#define CRC32C_INIT 0xffffffffu
uint32_t crc32c_update(const void *buf, size_t len, uint32_t crc);
uint32_t crc32c_iov_update(const struct iovec *iov, int iovcnt, uint32_t crc);
static inline uint32_t crc32c_finish(uint32_t crc) { return crc ^ 0xffffffffu; }
/* One-shot CRC-32C of buf. */
uint32_t crc32c(const void *buf, size_t len);
/* CRC-16 T10-DIF (ISA-L crc16_t10dif). */
uint16_t crc16_t10dif_lv(uint16_t init, const void *buf, size_t len);

/* ---- bit arrays ---- */

/*
 * A fixed-capacity array of bits, resizable. Used for the blobstore's
 * cluster and metadata page maps, so find-first-clear is word-at-a-time.
 */
struct bit_array;
/* NULL on -ENOMEM. All bits clear. */
struct bit_array *bit_array_create(uint32_t num_bits);
void bit_array_free(struct bit_array **ba);
/* Grows (new bits clear) or shrinks. Returns 0 or -ENOMEM. */
int bit_array_resize(struct bit_array **ba, uint32_t num_bits);
uint32_t bit_array_capacity(const struct bit_array *ba);
bool bit_array_get(const struct bit_array *ba, uint32_t bit);
/* Returns 0 or -EINVAL (bit out of range). */
int bit_array_set(struct bit_array *ba, uint32_t bit);
void bit_array_clear(struct bit_array *ba, uint32_t bit);
/* First set / clear bit at or after start; UINT32_MAX if none. */
uint32_t bit_array_find_first_set(const struct bit_array *ba, uint32_t start);
uint32_t bit_array_find_first_clear(const struct bit_array *ba, uint32_t start);
uint32_t bit_array_count_set(const struct bit_array *ba);
uint32_t bit_array_count_clear(const struct bit_array *ba);
void bit_array_clear_all(struct bit_array *ba);

/* ---- UUIDs (libuuid) ---- */

struct lv_uuid {
	uint8_t u[16];
};
#define UUID_STRING_LEN 37 /* 36 characters and the NUL */
void uuid_generate_random_lv(struct lv_uuid *uuid);
/* Returns 0 or -EINVAL. Accepts either case; prints lower case. */
int uuid_parse_str(struct lv_uuid *uuid, const char *str);
void uuid_fmt_lower(char *buf, size_t len, const struct lv_uuid *uuid);
int uuid_compare_lv(const struct lv_uuid *a, const struct lv_uuid *b);
bool uuid_is_null_lv(const struct lv_uuid *uuid);

/* ---- strings and numbers ---- */

/*
 * Parses a whole string as an unsigned/signed integer in [min, max], base
 * 0 (decimal, 0x hex, 0 octal). Returns 0 or -EINVAL / -ERANGE.
 */
int parse_u64(const char *str, uint64_t max, uint64_t *out);
int parse_i64(const char *str, int64_t min, int64_t max, int64_t *out);
/*
 * Parses a capacity: a number with an optional unit suffix (k/K, m/M, g/G,
 * t/T, optionally followed by B or iB) in bytes. Returns 0 or -EINVAL.
 */
int parse_capacity(const char *str, uint64_t *bytes);
/* Copies at most len-1 bytes and always NUL-terminates; returns strlen(src). */
size_t strlcpy_lv(char *dst, const char *src, size_t len);
/* Duplicates a printf-formatted string; NULL on -ENOMEM. */
char *strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The version string "lvstor v26.09-pre" and its parts (spdk_get_version). */
const char *lvstor_version_string(void);

#endif
