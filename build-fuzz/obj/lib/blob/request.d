build-fuzz/obj/lib/blob/request.o: lib/blob/request.c \
  include/lvstor/env.h include/lvstor/log.h include/lvstor/thread.h \
  include/lvstor/cpuset.h include/lvstor/util.h lib/blob/blob_internal.h \
  include/lvstor/blob.h include/lvstor/bs_dev.h lib/blob/format.h \
  lib/blob/request.h

include/lvstor/env.h:

include/lvstor/log.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

include/lvstor/util.h:

lib/blob/blob_internal.h:

include/lvstor/blob.h:

include/lvstor/bs_dev.h:

lib/blob/format.h:

lib/blob/request.h:
