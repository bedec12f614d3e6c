build-fuzz/obj/lib/blob/dev_pool.o: lib/blob/dev_pool.c \
  include/lvstor/log.h include/lvstor/thread.h include/lvstor/cpuset.h \
  include/lvstor/util.h lib/blob/dev_pool.h include/lvstor/bs_dev.h

include/lvstor/log.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

include/lvstor/util.h:

lib/blob/dev_pool.h:

include/lvstor/bs_dev.h:
