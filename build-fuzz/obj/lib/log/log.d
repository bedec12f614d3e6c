build-fuzz/obj/lib/log/log.o: lib/log/log.c include/lvstor/log.h

include/lvstor/log.h:
