#!/usr/bin/env python3
"""Writes the seed corpus of test/fuzz/virtqueue_fuzz.c.

Each seed is the fuzz target's 8-byte header followed by guest memory
(layout in virtqueue_fuzz.c) holding a few requests on the split queue
and on the packed queue: good ones (direct, indirect, crossing the
R0/R1 boundary) and hostile ones (a loop, an out-of-range head, a bad
indirect table), so the fuzzer starts from inputs that get deep into the
parser. Usage: virtqueue_corpus_gen.py [outdir]
(default test/fuzz/corpus/virtqueue_fuzz).
"""
import os
import struct
import sys

SPLIT_DESC, SPLIT_AVAIL = 0x0000, 0x1000
PACKED_DRV_EV, PACKED_DESC = 0x1400, 0x1800
R2 = 0x8000  # offset in the input's memory part where gpa 0x10000 starts
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
P_AVAIL, P_USED = 1 << 7, 1 << 15


class Seed:
    def __init__(self, split_log2, packed_size, flags, split_base=0, packed_slot=0,
                 r2=False):
        self.split_size = 1 << split_log2
        self.packed_size = packed_size
        self.hdr = struct.pack("<BBBHHB", split_log2, packed_size - 1, flags, split_base,
                               packed_slot, 0)
        self.mem = bytearray(0x8000 + (0x2000 if r2 else 0))
        self.split_base = split_base
        self.avail_idx = split_base
        self.pslot = packed_slot
        self.pwrap = not (flags & 8)

    def off(self, gpa):
        return gpa if gpa < 0x8000 else R2 + gpa - 0x10000

    def desc(self, table_gpa, i, addr, length, flags, nxt=0):
        struct.pack_into("<QIHH", self.mem, self.off(table_gpa) + 16 * i, addr, length,
                         flags, nxt)

    def publish(self, head):
        slot = self.avail_idx % self.split_size
        struct.pack_into("<H", self.mem, SPLIT_AVAIL + 4 + 2 * slot, head)
        self.avail_idx = (self.avail_idx + 1) & 0xffff
        struct.pack_into("<H", self.mem, SPLIT_AVAIL + 2, self.avail_idx)

    def packed(self, bufs, buf_id):
        for i, (addr, length, flags) in enumerate(bufs):
            f = flags | (F_NEXT if i < len(bufs) - 1 else 0)
            f |= P_AVAIL if self.pwrap else P_USED
            struct.pack_into("<QIHH", self.mem, PACKED_DESC + 16 * self.pslot, addr, length,
                             buf_id, f)
            self.pslot += 1
            if self.pslot == self.packed_size:
                self.pslot = 0
                self.pwrap = not self.pwrap

    def bytes(self):
        # Memory past the input is zero: trailing zeros need not be stored.
        return self.hdr + bytes(self.mem).rstrip(b"\0")


def seeds():
    # 1: good requests on both rings, completed in order.
    s = Seed(4, 8, 0, r2=True)
    s.desc(SPLIT_DESC, 0, 0x4000 - 0x100, 16, F_NEXT, 1)
    s.desc(SPLIT_DESC, 1, 0x3f00 + 16, 0x200, F_WRITE | F_NEXT, 2)
    s.desc(SPLIT_DESC, 2, 0x3000, 1, F_WRITE)
    s.publish(0)
    s.desc(0x10000, 0, 0x3100, 16, F_NEXT, 1)
    s.desc(0x10000, 1, 0x3200, 512, F_WRITE)
    s.desc(SPLIT_DESC, 3, 0x10000, 32, F_INDIRECT)
    s.publish(3)
    s.packed([(0x3000, 16, 0), (0x3ff0, 0x40, F_WRITE), (0x3300, 1, F_WRITE)], 5)
    s.packed([(0x10100, 48, F_INDIRECT)], 2)
    struct.pack_into("<QIHH", s.mem, R2 + 0x100, 0x3400, 16, 0, 0)
    struct.pack_into("<QIHH", s.mem, R2 + 0x110, 0x3500, 64, 0, F_WRITE)
    struct.pack_into("<QIHH", s.mem, R2 + 0x120, 0x3600, 1, 0, F_WRITE)
    yield "good-in-order", s.bytes()

    # 2: event idx on both, reverse completion, split resumed near 2^16,
    # packed starting two slots before its end (a chain that wraps).
    s = Seed(3, 6, 1 | 2 | 4, split_base=0xfffe, packed_slot=4)
    for i in range(4):
        s.desc(SPLIT_DESC, i, 0x3000 + 0x10 * i, 8, F_WRITE)
        s.publish(i)
    struct.pack_into("<HH", s.mem, PACKED_DRV_EV, 0x8001, 2)  # DESC, slot 1 wrap 1
    s.packed([(0x3000, 16, 0), (0x3100, 16, F_WRITE), (0x3200, 1, F_WRITE)], 0)
    s.packed([(0x3300, 4, F_WRITE)], 1)
    yield "event-idx-reverse-wrap", s.bytes()

    # 3: hostile split: a loop, a head out of range; hostile packed: an
    # indirect table of bad length, then a buffer id out of range.
    s = Seed(2, 4, 8)
    s.desc(SPLIT_DESC, 0, 0x3000, 16, F_NEXT, 1)
    s.desc(SPLIT_DESC, 1, 0x3000, 16, F_NEXT, 0)
    s.publish(0)
    s.desc(SPLIT_DESC, 2, 0x3000, 1, F_WRITE | F_NEXT, 3)
    s.desc(SPLIT_DESC, 3, 0x3000, 16, 0)
    s.publish(2)
    s.publish(9)
    s.packed([(0x3000, 20, F_INDIRECT)], 3)
    s.packed([(0x3000, 16, 0), (0x50000, 16, F_WRITE)], 1)
    s.packed([(0x3000, 1, F_WRITE)], 7)
    yield "hostile", s.bytes()

    # 4: nested indirect and INDIRECT|NEXT on split, zero-length
    # descriptors on packed.
    s = Seed(1, 3, 0, r2=True)
    s.desc(0x10000, 0, 0x10040, 16, F_INDIRECT)
    s.desc(0x10040, 0, 0x3000, 16, 0)
    s.desc(SPLIT_DESC, 0, 0x10000, 16, F_INDIRECT | F_NEXT, 1)
    s.desc(SPLIT_DESC, 1, 0x10000, 16, F_INDIRECT)
    s.publish(0)
    s.publish(1)
    s.packed([(0x3000, 0, 0), (0x3000, 16, 0), (0x50000, 0, F_WRITE)], 2)
    yield "nested-and-zero", s.bytes()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "test/fuzz/corpus/virtqueue_fuzz"
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
