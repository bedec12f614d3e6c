build-fuzz/obj/lib/util/uuid.o: lib/util/uuid.c include/lvstor/util.h

include/lvstor/util.h:
