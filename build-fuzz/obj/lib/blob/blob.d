build-fuzz/obj/lib/blob/blob.o: lib/blob/blob.c include/lvstor/log.h \
  lib/blob/blob_internal.h include/lvstor/blob.h include/lvstor/bs_dev.h \
  include/lvstor/thread.h include/lvstor/cpuset.h include/lvstor/util.h \
  lib/blob/format.h

include/lvstor/log.h:

lib/blob/blob_internal.h:

include/lvstor/blob.h:

include/lvstor/bs_dev.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

include/lvstor/util.h:

lib/blob/format.h:
