build-fuzz/obj/lib/thread/fd.o: lib/thread/fd.c include/lvstor/log.h \
  lib/thread/thread_internal.h include/lvstor/thread.h \
  include/lvstor/cpuset.h

include/lvstor/log.h:

lib/thread/thread_internal.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:
