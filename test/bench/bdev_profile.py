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
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind_profile  # noqa: E402

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
        runs = [callgrind_profile.run(PERF, cfg, bdev, workload, qd, seconds, [], GROUPS, 1, d,
                                      timeout=600) for seconds in (1, 3)]
    callgrind_profile.report("%s %s QD %d, 4 KiB, one core" % (bdev, workload, qd), runs[0],
                             runs[1], [g for g, _ in GROUPS], 20, 9)

if __name__ == "__main__":
    main()
