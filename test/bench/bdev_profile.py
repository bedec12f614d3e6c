#!/usr/bin/env python3
"""Instructions per I/O in the bdev path, by layer, measured with callgrind.

Runs build/bin/lvstor-perf under `valgrind --tool=callgrind` twice on the
same workload (a short and a longer run) and divides the difference in
instructions by the difference in completed I/Os, so start-up (the EAL,
the dynamic loader, the --json replay) cancels out. Instructions are
grouped by where the code lives:

  tool      app/lvstor-perf (offsets, statistics, the completion callback)
  histogram lib/util/histogram.c (the tool's per-I/O latency histogram)
  bdev      lib/bdev (the generic layer: the thing under test)
  env       lib/env (bdev_io pool get/put, TSC)
  thread    lib/thread (the reactor loop and pollers)
  backend   module/bdev/* (the back end: null, malloc, ...)
  libc      everything else (memcpy for malloc, ...)

Instruction counts are exact and do not depend on machine load, which
makes them the stable half of "where does the time go"; wall-clock
nanoseconds come from test/bench/bdev_bench.py.

    python3 test/bench/bdev_profile.py [BDEV] [WORKLOAD] [QD]   (default Null0 randread 128)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PERF = os.path.join(REPO, "build", "bin", "lvstor-perf")

CONFIG = {"subsystems": [{"subsystem": "bdev", "config": [
    {"method": "bdev_null_create",
     "params": {"name": "Null0", "num_blocks": 262144, "block_size": 4096}},
    {"method": "bdev_malloc_create",
     "params": {"name": "Malloc0", "num_blocks": 262144, "block_size": 4096}},
]}]}

GROUPS = [("tool", "app/lvstor-perf/"), ("histogram", "lib/util/histogram"),
          ("bdev", "lib/bdev/"), ("env", "lib/env/"), ("thread", "lib/thread/"),
          ("backend", "module/bdev/")]
LINE = re.compile(r"^\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(\S+?):(\S+)")


def group_of(path, fn):
    if fn.startswith("env_"):
        return "env"       # DPDK inlines (rte_*.h) inside lib/env's functions
    for name, prefix in GROUPS:
        if prefix in path:
            return name
    return "libc"


def profile(d, cfg, bdev, workload, qd, seconds):
    out = os.path.join(d, "cg.%s" % seconds)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, PERF, "--json", cfg,
           "-m", "0x1", "-b", bdev, "-q", str(qd), "-o", "4096", "-w", workload, "-t",
           str(seconds), "--output", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        sys.exit("callgrind run failed:\n" + p.stderr[-2000:])
    total = json.loads(p.stdout)["total"]
    ios = total["iops"] * total["runtime_s"]
    ann = subprocess.run(["callgrind_annotate", "--threshold=100", out], capture_output=True,
                         text=True).stdout
    groups, funcs = {}, {}
    for line in ann.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        path, fn = m.group(2), m.group(3)
        g = group_of(path, fn)
        groups[g] = groups.get(g, 0) + ir
        key = "%s:%s" % (os.path.basename(path), fn)
        funcs[key] = (g, funcs.get(key, (g, 0))[1] + ir)
    return ios, groups, funcs


def main():
    bdev = sys.argv[1] if len(sys.argv) > 1 else "Null0"
    workload = sys.argv[2] if len(sys.argv) > 2 else "randread"
    qd = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        sys.exit("valgrind (callgrind) is not installed")
    with tempfile.TemporaryDirectory(prefix="lvsprof.") as d:
        cfg = os.path.join(d, "bdevs.json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        n1, g1, f1 = profile(d, cfg, bdev, workload, qd, 1)
        n2, g2, f2 = profile(d, cfg, bdev, workload, qd, 3)
    dn = n2 - n1
    if dn <= 0:
        sys.exit("the longer run did not complete more I/O")
    print("%s %s QD %d, 4 KiB, one core: %.0f I/Os more in the longer run" % (bdev, workload, qd,
                                                                              dn))
    print()
    print("| where | instructions / I/O |")
    print("|---|--:|")
    total = 0.0
    for name in [g for g, _ in GROUPS] + ["libc"]:
        v = (g2.get(name, 0) - g1.get(name, 0)) / dn
        total += v
        print("| %s | %.0f |" % (name, v))
    print("| **total** | **%.0f** |" % total)
    print()
    print("Top functions (instructions / I/O, self):")
    print()
    rows = []
    for key, (g, ir2) in f2.items():
        v = (ir2 - f1.get(key, (g, 0))[1]) / dn
        if v >= 1:
            rows.append((v, key, g))
    for v, key, g in sorted(rows, reverse=True)[:20]:
        print("    %6.1f  %-9s %s" % (v, g, key))


if __name__ == "__main__":
    main()
