build-fuzz/obj/test/fuzz/jsonrpc_fuzz.o: test/fuzz/jsonrpc_fuzz.c \
  include/lvstor/log.h test/fuzz/../../lib/jsonrpc/jsonrpc_internal.h \
  include/lvstor/jsonrpc.h

include/lvstor/log.h:

test/fuzz/../../lib/jsonrpc/jsonrpc_internal.h:

include/lvstor/jsonrpc.h:
