/*
 * lib/util/crc.c: CRC-32C and CRC-16 T10-DIF through ISA-L.
 *
 * ISA-L's crc32_iscsi() takes and returns the raw register without the
 * final inversion, which is exactly our "running value" convention: start
 * from CRC32C_INIT, chain calls, invert once at the end.
 */
#include <isa-l/crc.h>

#include "lvstor/util.h"

uint32_t
crc32c_update(const void *buf, size_t len, uint32_t crc)
{
	/* crc32_iscsi takes an int length; feed huge buffers in pieces. */
	const unsigned char *p = buf;

	while (len > 0) {
		size_t n = len > (1u << 30) ? (1u << 30) : len;

		crc = crc32_iscsi((unsigned char *)p, (int)n, crc);
		p += n;
		len -= n;
	}
	return crc;
}

uint32_t
crc32c_iov_update(const struct iovec *iov, int iovcnt, uint32_t crc)
{
	for (int i = 0; i < iovcnt; i++)
		crc = crc32c_update(iov[i].iov_base, iov[i].iov_len, crc);
	return crc;
}

uint32_t
crc32c(const void *buf, size_t len)
{
	return crc32c_finish(crc32c_update(buf, len, CRC32C_INIT));
}

uint16_t
crc16_t10dif_lv(uint16_t init, const void *buf, size_t len)
{
	return crc16_t10dif(init, (const unsigned char *)buf, (uint64_t)len);
}
