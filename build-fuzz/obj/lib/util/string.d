build-fuzz/obj/lib/util/string.o: lib/util/string.c include/lvstor/util.h

include/lvstor/util.h:
