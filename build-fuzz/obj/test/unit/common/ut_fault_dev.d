build-fuzz/obj/test/unit/common/ut_fault_dev.o: \
  test/unit/common/ut_fault_dev.c include/lvstor/thread.h \
  include/lvstor/cpuset.h test/unit/common/ut_fault_dev.h \
  include/lvstor/bs_dev.h

include/lvstor/thread.h:

include/lvstor/cpuset.h:

test/unit/common/ut_fault_dev.h:

include/lvstor/bs_dev.h:
