/*
 * Geometry shared by the blobstore metadata fuzzer (blob_md_fuzz.c) and
 * the generator of its seed corpus (blob_md_corpus_gen.c): an input is the
 * first bytes of a FUZZ_DEV_BYTES device of FUZZ_BLOCK-byte blocks, and
 * the seeds are stores made on exactly such a device, so that a seed
 * loads as it is and every mutation starts from a real store.
 *
 * With 4 KiB clusters and FUZZ_MD_PAGES metadata pages the whole
 * metadata of a seed store (superblock, three masks, region) lies in the
 * first FUZZ_MAX_LEN bytes: page 0 superblock, 1 used-page mask, 2
 * used-cluster mask, 3 blob-ID mask, 4..19 the metadata region (spec
 * §9.1). Bytes past the input are zero: unused data clusters.
 */
#ifndef BLOB_MD_FUZZ_H
#define BLOB_MD_FUZZ_H

#define FUZZ_BLOCK 4096u
#define FUZZ_DEV_BYTES (1024u * 1024u)   /* 256 clusters */
#define FUZZ_CLUSTER 4096u
#define FUZZ_MD_PAGES 16u
#define FUZZ_MAX_LEN (80u * 1024u)       /* make fuzz: -max_len */

#endif
