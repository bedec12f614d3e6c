build-fuzz/obj/lib/blob/format.o: lib/blob/format.c lib/blob/format.h \
  include/lvstor/blob.h include/lvstor/bs_dev.h include/lvstor/util.h

lib/blob/format.h:

include/lvstor/blob.h:

include/lvstor/bs_dev.h:

include/lvstor/util.h:
