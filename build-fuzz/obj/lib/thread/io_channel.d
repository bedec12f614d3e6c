build-fuzz/obj/lib/thread/io_channel.o: lib/thread/io_channel.c \
  include/lvstor/log.h lib/thread/thread_internal.h \
  include/lvstor/thread.h include/lvstor/cpuset.h

include/lvstor/log.h:

lib/thread/thread_internal.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:
