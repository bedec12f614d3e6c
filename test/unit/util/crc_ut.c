/*
 * Unit tests for lib/util/crc.c: CRC-32C and CRC-16 T10-DIF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lvstor/util.h"

static const char g_check[] = "123456789";

static void
test_crc32c_check_value(void **state)
{
	assert_int_equal(crc32c(g_check, 9), 0xE3069283u);
	assert_int_equal(crc32c_finish(crc32c_update(g_check, 9, CRC32C_INIT)), 0xE3069283u);
}

static void
test_crc32c_known_vectors(void **state)
{
	uint8_t buf[32];

	/* RFC 3720 B.4 test vectors. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x113FDB5Cu);
	/* One byte. */
	assert_int_equal(crc32c("a", 1), 0xC1D04330u);
}

static void
test_crc32c_empty(void **state)
{
	/* No bytes: the running value is unchanged, the final CRC is 0. */
	assert_int_equal(crc32c_update(g_check, 0, CRC32C_INIT), CRC32C_INIT);
	assert_int_equal(crc32c_update(NULL, 0, 0x12345678u), 0x12345678u);
	assert_int_equal(crc32c(g_check, 0), 0);
	assert_int_equal(crc32c_iov_update(NULL, 0, CRC32C_INIT), CRC32C_INIT);
}

static void
test_crc32c_chaining(void **state)
{
	uint8_t buf[4096 + 7];
	uint32_t one_shot, crc;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	one_shot = crc32c(buf, sizeof(buf));

	/* Every split point of the check string. */
	for (size_t split = 0; split <= 9; split++) {
		crc = crc32c_update(g_check, split, CRC32C_INIT);
		crc = crc32c_update(g_check + split, 9 - split, crc);
		assert_int_equal(crc32c_finish(crc), 0xE3069283u);
	}
	/* Uneven pieces of a larger buffer. */
	crc = CRC32C_INIT;
	for (size_t off = 0, step = 1; off < sizeof(buf); off += step, step = step * 3 + 1) {
		size_t n = step < sizeof(buf) - off ? step : sizeof(buf) - off;

		crc = crc32c_update(buf + off, n, crc);
	}
	assert_int_equal(crc32c_finish(crc), one_shot);
	/* Byte at a time. */
	crc = CRC32C_INIT;
	for (size_t i = 0; i < sizeof(buf); i++)
		crc = crc32c_update(buf + i, 1, crc);
	assert_int_equal(crc32c_finish(crc), one_shot);
	/* A changed byte changes the CRC. */
	buf[100] ^= 1;
	assert_int_not_equal(crc32c(buf, sizeof(buf)), one_shot);
}

static void
test_crc32c_iov(void **state)
{
	char a[] = "1234", b[] = "", c[] = "56789";
	struct iovec iov[4] = {
		{ .iov_base = a, .iov_len = 4 },
		{ .iov_base = b, .iov_len = 0 },
		{ .iov_base = NULL, .iov_len = 0 },
		{ .iov_base = c, .iov_len = 5 },
	};
	uint32_t crc;

	crc = crc32c_iov_update(iov, 4, CRC32C_INIT);
	assert_int_equal(crc32c_finish(crc), 0xE3069283u);
	/* Chaining iov updates: first two, then the rest. */
	crc = crc32c_iov_update(iov, 2, CRC32C_INIT);
	crc = crc32c_iov_update(iov + 2, 2, crc);
	assert_int_equal(crc32c_finish(crc), 0xE3069283u);
	/* iovcnt 0 changes nothing. */
	assert_int_equal(crc32c_iov_update(iov, 0, 0xdeadbeefu), 0xdeadbeefu);
	/* Single iov equals the flat update. */
	assert_int_equal(crc32c_iov_update(&iov[3], 1, CRC32C_INIT),
			 crc32c_update(c, 5, CRC32C_INIT));
}

static void
test_crc16_t10dif(void **state)
{
	uint8_t zeros[512] = {0};
	uint16_t crc;

	assert_int_equal(crc16_t10dif_lv(0, g_check, 9), 0xD0DB);
	/* Chaining through the init value. */
	crc = crc16_t10dif_lv(0, g_check, 4);
	crc = crc16_t10dif_lv(crc, g_check + 4, 5);
	assert_int_equal(crc, 0xD0DB);
	/* Empty buffer returns the seed; all-zero data with seed 0 is 0. */
	assert_int_equal(crc16_t10dif_lv(0x1234, g_check, 0), 0x1234);
	assert_int_equal(crc16_t10dif_lv(0, zeros, sizeof(zeros)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_crc32c_known_vectors),
		cmocka_unit_test(test_crc32c_empty),
		cmocka_unit_test(test_crc32c_chaining),
		cmocka_unit_test(test_crc32c_iov),
		cmocka_unit_test(test_crc16_t10dif),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
