build-fuzz/obj/lib/blob/io.o: lib/blob/io.c include/lvstor/log.h \
  include/lvstor/thread.h include/lvstor/cpuset.h \
  lib/blob/blob_internal.h include/lvstor/blob.h include/lvstor/bs_dev.h \
  include/lvstor/util.h lib/blob/format.h lib/blob/request.h

include/lvstor/log.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

lib/blob/blob_internal.h:

include/lvstor/blob.h:

include/lvstor/bs_dev.h:

include/lvstor/util.h:

lib/blob/format.h:

lib/blob/request.h:
