build-fuzz/obj/lib/thread/reactor.o: lib/thread/reactor.c \
  include/lvstor/env.h include/lvstor/log.h lib/thread/thread_internal.h \
  include/lvstor/thread.h include/lvstor/cpuset.h

include/lvstor/env.h:

include/lvstor/log.h:

lib/thread/thread_internal.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:
