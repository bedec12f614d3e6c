build-fuzz/obj/lib/blob/dev_zeroes.o: lib/blob/dev_zeroes.c \
  include/lvstor/bs_dev.h include/lvstor/log.h include/lvstor/thread.h \
  include/lvstor/cpuset.h lib/blob/dev_pool.h

include/lvstor/bs_dev.h:

include/lvstor/log.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

lib/blob/dev_pool.h:
