/*
 * A fault-injecting bs_dev for unit tests: it wraps another bs_dev (in
 * practice a bs_dev_mem) and can lose power after the N-th write, keep
 * writes in a volatile cache until a flush, tear the write in flight, and
 * fail single operations. It is the foundation of the blobstore's
 * crash-safety tests.
 *
 * ---- The model ----------------------------------------------------------
 *
 * "Writes" are write, writev, write_zeroes and unmap: each call counts as
 * one, whatever its size. Reads and flushes are not writes.
 *
 * Power. ut_fault_dev_set_cut_after_writes(dev, N) lets the first N writes
 * reach the device; the (N+1)-th write cuts the power: it fails with -EIO
 * (and, unless torn_writes is set, none of it reaches the medium), and so
 * does every operation submitted after it, reads and flushes included.
 * Operations already in flight when the power goes complete with -EIO too
 * (their acknowledgement is lost) even though their data may have landed,
 * exactly as on real hardware. ut_fault_dev_cut_power() cuts it at once.
 * Power never comes back: to "reboot", copy the surviving image into a
 * fresh device and load the store from that.
 *
 * Volatile write cache (opts.drop_unflushed). Writes complete at once but
 * only reach the wrapped device when a later flush runs; reads see them
 * (read-your-writes) in the meantime. At the power cut the unflushed
 * writes are lost. Destroying the device is a power-off too: whatever was
 * not flushed never reaches the base. Without drop_unflushed every write
 * goes straight through to the base device (a device with no cache or a
 * perfectly durable one).
 *
 * Torn writes (opts.torn_writes, needs a seed). At the power cut, the
 * write that triggers it and (with drop_unflushed) every unflushed write
 * reaches the medium only in part: each atomic unit (opts.atomic_unit
 * bytes, default one block) survives or not independently, chosen by a
 * PRNG seeded with opts.seed, so a test is reproducible and can sweep
 * seeds. A unit never tears inside itself: set atomic_unit to the
 * blobstore's md_page_size (4096) to model the device the format spec
 * requires (§6, "the device must write one metadata page atomically").
 *
 * Single errors. ut_fault_dev_fail_nth(dev, kind, n, rc) fails the n-th
 * (0 = next) operation of a kind with rc, once, and moves no data; a
 * failed write does not count as a write. For I/O error paths without a
 * power cut.
 *
 * Completions follow the bs_dev contract: on the channel's thread, never
 * before the submitting call returns. Operations the fault device answers
 * itself (failures, cached writes) complete by message; the rest complete
 * when the base device completes them.
 *
 * The device keeps global state (counters, the cache) shared by all its
 * channels: it is meant for the unit-test harness (test/unit/common/
 * ut_threads.h), which steps every thread on one OS thread.
 *
 * ---- A crash sweep --------------------------------------------------------
 *
 *   // 1. A successful run, to count the writes of the operation.
 *   base = bs_dev_mem_create(blocks, 512);
 *   dev = ut_fault_dev_create(base, &opts);       // own_base = false
 *   ... bs_init(dev) ... the operation ... ;
 *   total = ut_fault_dev_write_count(dev);         // writes of the run
 *   ... unload, destroy base ...
 *
 *   // 2. Cut after every write.
 *   for (n = 0; n < total; n++) {
 *       base = bs_dev_mem_create(blocks, 512);
 *       dev = ut_fault_dev_create(base, &opts);
 *       ... bs_init(dev), set up (count those writes too, or set the cut
 *           only now) ...
 *       ut_fault_dev_set_cut_after_writes(dev, ut_fault_dev_write_count(dev) + n);
 *       ... the operation: it fails with -EIO somewhere ...
 *       ut_poll_threads();
 *       image = ut_fault_dev_image(dev);          // or ut_mem_dev_copy(base)
 *       ... tear down the old store (it may fail; it cannot change base) ...
 *       ... bs_load(image): must load, every acknowledged write readable,
 *           no cluster leaked or owned twice ...
 *   }
 *
 * The base never changes after the cut (nothing more reaches it), so the
 * image may be copied before or after the old store is torn down.
 */
#ifndef UT_FAULT_DEV_H
#define UT_FAULT_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lvstor/bs_dev.h"

/* "Never": no cut / no injected error pending. */
#define UT_FAULT_NEVER UINT64_MAX

struct ut_fault_dev_opts {
	size_t opts_size;        /* sizeof(struct ut_fault_dev_opts), set by _init */
	/* Writes wait in a volatile cache until a flush (default false). */
	bool drop_unflushed;
	/* At the cut, tear the write in flight and the unflushed ones (default false). */
	bool torn_writes;
	/* Bytes that tear together: a multiple of the block size (0 = one block). */
	uint32_t atomic_unit;
	/* PRNG seed for torn_writes (any value; 0 is as good as another). */
	uint64_t seed;
	/*
	 * destroy() also destroys the base device (default false: the test
	 * keeps the base, which holds the surviving image, and destroys it).
	 */
	bool own_base;
};

/* Defaults into `opts` (size = sizeof(*opts) as the caller knows it). */
void ut_fault_dev_opts_init(struct ut_fault_dev_opts *opts, size_t size);

/*
 * Wraps `base` (same geometry). opts may be NULL for the defaults: a
 * write-through device that counts writes and never fails until told.
 * NULL on -ENOMEM or bad options (atomic_unit not a multiple of the block
 * size). Call on a harness thread (it registers an io_device).
 */
struct bs_dev *ut_fault_dev_create(struct bs_dev *base, const struct ut_fault_dev_opts *opts);

/*
 * Writes number 1..n since creation (as ut_fault_dev_write_count counts
 * them) reach the device; write n+1 cuts the power. UT_FAULT_NEVER (the
 * default) cancels. An n at or below the count already reached cuts at the
 * next write.
 */
void ut_fault_dev_set_cut_after_writes(struct bs_dev *dev, uint64_t n);
/* Cuts the power now (torn_writes applies to the unflushed writes). */
void ut_fault_dev_cut_power(struct bs_dev *dev);
bool ut_fault_dev_has_power(const struct bs_dev *dev);

/* Writes that reached the device (the one that cut the power excluded). */
uint64_t ut_fault_dev_write_count(const struct bs_dev *dev);
/* Flushes that completed successfully. */
uint64_t ut_fault_dev_flush_count(const struct bs_dev *dev);
/* Blocks written but not yet flushed (0 without drop_unflushed). */
uint64_t ut_fault_dev_unflushed_blocks(const struct bs_dev *dev);

enum ut_fault_kind {
	UT_FAULT_READ,           /* read, readv */
	UT_FAULT_WRITE,          /* write, writev, write_zeroes, unmap */
	UT_FAULT_FLUSH,
	UT_FAULT_NUM_KINDS,
};
/*
 * The n-th operation of `kind` from now (0 = the next one) fails with rc
 * (< 0) and moves no data. One pending error per kind; UT_FAULT_NEVER as
 * n cancels it.
 */
void ut_fault_dev_fail_nth(struct bs_dev *dev, enum ut_fault_kind kind, uint64_t n, int rc);

/* The wrapped device: after the cut (and a poll) it holds the surviving image. */
struct bs_dev *ut_fault_dev_base(struct bs_dev *dev);

/*
 * Helpers for bs_dev_mem bases. They are static inline so that only the
 * tests that use them reference lib/blob (this file's .c is linked into
 * every unit test).
 */

/*
 * A new mem device with the same geometry and bytes as `mem` (a
 * bs_dev_mem). Pages that are all zeroes are not copied, so the copy of a
 * mostly empty 1 GiB device stays cheap. NULL if `mem` is not a mem
 * device or on -ENOMEM.
 */
static inline struct bs_dev *
ut_mem_dev_copy(struct bs_dev *mem)
{
	static const uint8_t zero[4096];
	const uint8_t *src = bs_dev_mem_data(mem);
	struct bs_dev *copy;
	uint8_t *dst;
	size_t len, off, n;

	if (src == NULL)
		return NULL;
	copy = bs_dev_mem_create(mem->blockcnt, mem->blocklen);
	if (copy == NULL)
		return NULL;
	dst = bs_dev_mem_data(copy);
	len = (size_t)mem->blockcnt * mem->blocklen;
	for (off = 0; off < len; off += n) {
		n = len - off < sizeof(zero) ? len - off : sizeof(zero);
		if (memcmp(src + off, zero, n) != 0)
			memcpy(dst + off, src + off, n);
	}
	return copy;
}

/*
 * The surviving image of a fault device over a mem device, as a new mem
 * device to load the store from (the "reboot"). Poll the threads after
 * the cut first. NULL if the base is not a mem device.
 */
static inline struct bs_dev *
ut_fault_dev_image(struct bs_dev *dev)
{
	return ut_mem_dev_copy(ut_fault_dev_base(dev));
}

#endif
