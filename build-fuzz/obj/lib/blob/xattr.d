build-fuzz/obj/lib/blob/xattr.o: lib/blob/xattr.c \
  lib/blob/blob_internal.h include/lvstor/blob.h include/lvstor/bs_dev.h \
  include/lvstor/thread.h include/lvstor/cpuset.h include/lvstor/util.h \
  lib/blob/format.h

lib/blob/blob_internal.h:

include/lvstor/blob.h:

include/lvstor/bs_dev.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

include/lvstor/util.h:

lib/blob/format.h:
