"""Instructions per I/O of lvstor-perf runs, by where the code lives (callgrind).

Shared by bdev_profile.py (the bdev layer) and blob_bench.py profile (blob
and lvol): lvstor-perf runs under `valgrind --tool=callgrind` twice on the
same workload, a short and a longer run, and the difference in
instructions is divided by the difference in completed I/Os, so start-up
(the EAL, the dynamic loader, the --json replay) cancels out.
"""

import json
import os
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(\S+?):(\S+)")


def group_of(groups, path, fn):
    """The group of a function: `groups` is [(name, path fragment)], first match wins."""
    if fn.startswith("env_"):
        return "env"       # DPDK inlines (rte_*.h) inside lib/env's functions
    for name, prefix in groups:
        if prefix in path:
            return name
    return "libc"


def run(perf, cfg, target, workload, qd, seconds, extra, groups, key_parts, outdir,
        timeout=900):
    """One callgrind run: (I/Os completed, instructions per group, per function).

    Functions are keyed by the last `key_parts` components of their file's
    path and their name; the value is (group, instructions).
    """
    out = os.path.join(outdir, "cg.%s" % seconds)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, perf, "--json", cfg,
           "-m", "0x1", "-b", target, "-q", str(qd), "-o", "4096", "-w", workload, "-t",
           str(seconds), "--output", "json"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        sys.exit("callgrind run failed:\n" + p.stderr[-2000:])
    total = json.loads(p.stdout)["total"]
    ios = total["iops"] * total["runtime_s"]
    ann = subprocess.run(["callgrind_annotate", "--threshold=100", out], capture_output=True,
                         text=True).stdout
    by_group, funcs = {}, {}
    for line in ann.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        path, fn = m.group(2), m.group(3)
        g = group_of(groups, path, fn)
        by_group[g] = by_group.get(g, 0) + ir
        key = "%s:%s" % ("/".join(path.split("/")[-key_parts:]), fn)
        funcs[key] = (g, funcs.get(key, (g, 0))[1] + ir)
    return ios, by_group, funcs


def report(title, short, longer, group_names, top, width):
    """Prints the per-group table and the top functions of longer minus short."""
    n1, g1, f1 = short
    n2, g2, f2 = longer
    dn = n2 - n1
    if dn <= 0:
        sys.exit("the longer run did not complete more I/O")
    print("%s: %.0f I/Os more in the longer run" % (title, dn))
    print()
    print("| where | instructions / I/O |")
    print("|---|--:|")
    total = 0.0
    for name in group_names + ["libc"]:
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
    for v, key, g in sorted(rows, reverse=True)[:top]:
        print("    %6.1f  %-*s %s" % (v, width, g, key))
