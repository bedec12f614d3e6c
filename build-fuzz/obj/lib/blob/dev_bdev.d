build-fuzz/obj/lib/blob/dev_bdev.o: lib/blob/dev_bdev.c \
  include/lvstor/bdev.h include/lvstor/util.h \
  include/lvstor/bdev_module.h include/lvstor/thread.h \
  include/lvstor/cpuset.h include/lvstor/bs_dev.h include/lvstor/log.h \
  lib/blob/dev_pool.h

include/lvstor/bdev.h:

include/lvstor/util.h:

include/lvstor/bdev_module.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

include/lvstor/bs_dev.h:

include/lvstor/log.h:

lib/blob/dev_pool.h:
