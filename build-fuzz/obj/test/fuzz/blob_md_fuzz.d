build-fuzz/obj/test/fuzz/blob_md_fuzz.o: test/fuzz/blob_md_fuzz.c \
  include/lvstor/blob.h include/lvstor/bs_dev.h include/lvstor/log.h \
  include/lvstor/thread.h include/lvstor/cpuset.h include/lvstor/util.h \
  test/fuzz/../../lib/blob/format.h \
  test/fuzz/../unit/common/ut_threads.h test/fuzz/blob_md_fuzz.h

include/lvstor/blob.h:

include/lvstor/bs_dev.h:

include/lvstor/log.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

include/lvstor/util.h:

test/fuzz/../../lib/blob/format.h:

test/fuzz/../unit/common/ut_threads.h:

test/fuzz/blob_md_fuzz.h:
