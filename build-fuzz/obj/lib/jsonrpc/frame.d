build-fuzz/obj/lib/jsonrpc/frame.o: lib/jsonrpc/frame.c \
  lib/jsonrpc/jsonrpc_internal.h include/lvstor/jsonrpc.h

lib/jsonrpc/jsonrpc_internal.h:

include/lvstor/jsonrpc.h:
