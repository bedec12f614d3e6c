build-fuzz/obj/lib/util/histogram.o: lib/util/histogram.c \
  include/lvstor/histogram.h

include/lvstor/histogram.h:
