build-fuzz/obj/lib/blob/dev_mem.o: lib/blob/dev_mem.c \
  include/lvstor/bs_dev.h include/lvstor/log.h include/lvstor/thread.h \
  include/lvstor/cpuset.h lib/blob/dev_pool.h

include/lvstor/bs_dev.h:

include/lvstor/log.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

lib/blob/dev_pool.h:
