build-fuzz/obj/lib/util/bit_array.o: lib/util/bit_array.c \
  include/lvstor/util.h

include/lvstor/util.h:
