/*
 * lvstor-check image access: the image is a regular file or a block
 * device, opened O_RDONLY and read with pread. The checker never writes:
 * running it on a store that is in use elsewhere gives a possibly torn
 * view but can never damage it.
 *
 * Reads past the end of the image return zeros and -ENODATA, so a
 * truncated image is reported as a finding ("metadata region past the
 * end of the image") rather than as a crash or a failed tool.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

int
chk_image_open(struct chk_image *img, const char *path)
{
	struct stat st;

	memset(img, 0, sizeof(*img));
	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0)
		return -errno;
	if (fstat(img->fd, &st) != 0)
		goto err;
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;
		int bs;

		if (ioctl(img->fd, BLKGETSIZE64, &bytes) != 0)
			goto err;
		img->size = bytes;
		img->is_blockdev = true;
		if (ioctl(img->fd, BLKSSZGET, &bs) == 0 && bs > 0)
			img->dev_block_size = (uint32_t)bs;
	} else if (S_ISREG(st.st_mode)) {
		img->size = (uint64_t)st.st_size;
	} else {
		errno = EINVAL;
		goto err;
	}
	return 0;
err:
	{
		int rc = -errno;

		close(img->fd);
		img->fd = -1;
		return rc;
	}
}

int
chk_image_read(const struct chk_image *img, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (off + done >= img->size)
			break;
		n = pread(img->fd, p + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (done < len) {
		memset(p + done, 0, len - done);
		return -ENODATA;
	}
	return 0;
}

void
chk_image_close(struct chk_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}
