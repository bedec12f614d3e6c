build-fuzz/obj/lib/jsonrpc/request.o: lib/jsonrpc/request.c \
  include/lvstor/log.h lib/jsonrpc/jsonrpc_internal.h \
  include/lvstor/jsonrpc.h

include/lvstor/log.h:

lib/jsonrpc/jsonrpc_internal.h:

include/lvstor/jsonrpc.h:
