build-fuzz/obj/test/fuzz/blob_md_corpus_gen.o: \
  test/fuzz/blob_md_corpus_gen.c include/lvstor/blob.h \
  include/lvstor/bs_dev.h include/lvstor/log.h \
  test/fuzz/../unit/common/ut_fault_dev.h \
  test/fuzz/../unit/common/ut_threads.h \
  test/fuzz/../../lib/blob/format.h include/lvstor/util.h \
  test/fuzz/blob_md_fuzz.h

include/lvstor/blob.h:

include/lvstor/bs_dev.h:

include/lvstor/log.h:

test/fuzz/../unit/common/ut_fault_dev.h:

test/fuzz/../unit/common/ut_threads.h:

test/fuzz/../../lib/blob/format.h:

include/lvstor/util.h:

test/fuzz/blob_md_fuzz.h:
