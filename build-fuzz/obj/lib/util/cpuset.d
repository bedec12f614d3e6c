build-fuzz/obj/lib/util/cpuset.o: lib/util/cpuset.c \
  include/lvstor/cpuset.h

include/lvstor/cpuset.h:
