/*
 * The SPDK-written lvolstore of ../shared/fixtures (spdk-lvs-4k.img.xz, or
 * the file named by LVSTOR_FIXTURE) as a 1 GiB memory bs_dev, for the unit
 * tests that check lvstor against it (blob recovery and snapshot, lvol).
 */
#ifndef UT_SPDK_FIXTURE_H
#define UT_SPDK_FIXTURE_H

struct bs_dev;

/* LVSTOR_FIXTURE if set, else the default path (relative to the repository). */
const char *ut_spdk_fixture_path(void);

/*
 * The fixture decompressed with xz into a sparse memory device (zero
 * blocks are not copied), or NULL if it cannot be read whole.
 */
struct bs_dev *ut_spdk_fixture_load(void);

#endif
