build-fuzz/obj/lib/jsonrpc/server.o: lib/jsonrpc/server.c \
  include/lvstor/log.h include/lvstor/thread.h include/lvstor/cpuset.h \
  lib/jsonrpc/jsonrpc_internal.h include/lvstor/jsonrpc.h

include/lvstor/log.h:

include/lvstor/thread.h:

include/lvstor/cpuset.h:

lib/jsonrpc/jsonrpc_internal.h:

include/lvstor/jsonrpc.h:
