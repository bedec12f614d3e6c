build-fuzz/obj/lib/util/crc.o: lib/util/crc.c include/lvstor/util.h

include/lvstor/util.h:
