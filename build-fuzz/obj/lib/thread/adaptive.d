build-fuzz/obj/lib/thread/adaptive.o: lib/thread/adaptive.c \
  include/lvstor/env.h lib/thread/thread_internal.h \
  include/lvstor/thread.h include/lvstor/cpuset.h

include/lvstor/env.h:

lib/thread/thread_internal.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:
