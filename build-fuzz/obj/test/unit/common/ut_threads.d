build-fuzz/obj/test/unit/common/ut_threads.o: \
  test/unit/common/ut_threads.c include/lvstor/thread.h \
  include/lvstor/cpuset.h test/unit/common/ut_threads.h

include/lvstor/thread.h:

include/lvstor/cpuset.h:

test/unit/common/ut_threads.h:
