build-fuzz/obj/lib/thread/poller.o: lib/thread/poller.c \
  include/lvstor/log.h lib/thread/thread_internal.h \
  include/lvstor/thread.h include/lvstor/cpuset.h

include/lvstor/log.h:

lib/thread/thread_internal.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:
