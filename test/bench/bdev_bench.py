#!/usr/bin/env python3
"""The bdev standard set for `make bench` (scripts/run-bench.sh).

Runs build/bin/lvstor-perf on one core (-m 0x1) against a null and a
malloc bdev made by a --json config: 4 KiB randread and randwrite at
queue depth 1 and 128, and prints a Markdown table of IOPS, bandwidth and
latency. No pass/fail: the point is the record.

Each configuration runs REPEAT times and the run with the most IOPS is
reported (all its columns): on a small shared machine a run is easily
preempted for milliseconds (that shows in the max column), and the best
run is the one closest to what the code does undisturbed. --prefill writes
each bdev once first, so malloc measures memory that is really there
rather than first-touch page faults (writes) or the kernel's shared zero
page (reads).

    python3 test/bench/bdev_bench.py [SECONDS [REPEAT]]   (default 3 s, best of 3)

QoS accuracy (issue 3: "QoS limits hold within 5% on a 10 s run"):

    python3 test/bench/bdev_bench.py qos [SECONDS]         (default 10 s)

runs lvstor-perf flat out on two cores (-m 0x3, so half the I/O is
forwarded to the QoS thread) with its RPC socket (-r), sets each limit at
run time with scripts/rpc.py bdev_set_qos_limit, and measures the achieved
rate with bdev_get_iostat's own counters and clock over a SECONDS window
that opens after the limit is in force. The table shows limit, achieved and
the deviation; test/functional/test_bdev_qos.py checks the same within 5%
over 3 s.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PERF = os.path.join(REPO, "build", "bin", "lvstor-perf")

# 1 GiB each: large enough that random 4 KiB offsets miss the CPU caches
# on the malloc bdev (a small one would measure L2, not memory).
NUM_BLOCKS = 262144
BLOCK_SIZE = 4096

CONFIG = {"subsystems": [{"subsystem": "bdev", "config": [
    {"method": "bdev_null_create",
     "params": {"name": "Null0", "num_blocks": NUM_BLOCKS, "block_size": BLOCK_SIZE}},
    {"method": "bdev_malloc_create",
     "params": {"name": "Malloc0", "num_blocks": NUM_BLOCKS, "block_size": BLOCK_SIZE}},
]}]}

RUNS = [(bdev, wl, qd) for bdev in ("Null0", "Malloc0")
        for wl in ("randread", "randwrite") for qd in (1, 128)]


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="lvsbench.") as d:
        cfg = os.path.join(d, "bdevs.json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        rows = []
        for bdev, wl, qd in RUNS:
            cmd = [PERF, "--json", cfg, "-m", "0x1", "-b", bdev, "-q", str(qd), "-o", "4096",
                   "-w", wl, "-t", str(seconds), "--prefill", "--output", "json"]
            best = None
            for _ in range(repeat):
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
                if p.returncode != 0:
                    print("FAILED (%d): %s\n%s" % (p.returncode, " ".join(cmd[1:]), p.stderr))
                    continue
                t = json.loads(p.stdout)["total"]
                if best is None or t["iops"] > best["iops"]:
                    best = t
            if best:
                rows.append((bdev, wl, qd, best))
    print("`lvstor-perf --json <null+malloc config> -m 0x1 -b BDEV -q QD -o 4096 -w WORKLOAD "
          "-t %g --prefill` (1 GiB bdevs, 4 KiB blocks, one core; best of %d runs)"
          % (seconds, repeat))
    print()
    print("| bdev | workload | QD | IOPS | MiB/s | ns/I/O (1 core) | avg µs | p50 µs | "
          "p99 µs | p99.9 µs | max µs |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for bdev, wl, qd, t in rows:
        ns_per_io = 1e9 / t["iops"] if t["iops"] else 0
        print("| %s | %s | %d | %.0f | %.1f | %.0f | %.2f | %.2f | %.2f | %.2f | %.1f |"
              % (bdev, wl, qd, t["iops"], t["mibps"], ns_per_io, t["avg_lat_us"],
                 t["p50_lat_us"], t["p99_lat_us"], t["p999_lat_us"], t["max_lat_us"]))


# ---- QoS accuracy ---------------------------------------------------------

RPC_PY = os.path.join(REPO, "scripts", "rpc.py")
MIB = 1024 * 1024
QOS_CONFIG = {"subsystems": [{"subsystem": "bdev", "config": [
    {"method": "bdev_null_create",
     "params": {"name": "Null0", "num_blocks": NUM_BLOCKS, "block_size": BLOCK_SIZE}},
    {"method": "bdev_malloc_create",
     "params": {"name": "Malloc0", "num_blocks": 65536, "block_size": BLOCK_SIZE}},
]}]}
# (workload, io size, mix, {bdev: (rpc.py options, measured key, expected per s, label)})
QOS_RUNS = [
    ("randread", 4096, None, {
        "Null0": (["--rw-ios-per-sec", "20000"], "iops", 20000, "rw_ios_per_sec 20000"),
        "Malloc0": (["--rw-mbytes-per-sec", "50"], "bps", 50 * MIB, "rw_mbytes_per_sec 50")}),
    ("randread", 131072, None, {
        "Malloc0": (["--rw-mbytes-per-sec", "50"], "bps", 50 * MIB, "rw_mbytes_per_sec 50"),
        "Null0": (["--r-mbytes-per-sec", "100"], "bytes_read", 100 * MIB,
                  "r_mbytes_per_sec 100")}),
    ("randwrite", 131072, None, {
        "Malloc0": (["--w-mbytes-per-sec", "50"], "bytes_written", 50 * MIB,
                    "w_mbytes_per_sec 50"),
        "Null0": (["--rw-ios-per-sec", "1000"], "iops", 1000, "rw_ios_per_sec 1000")}),
    ("randrw", 4096, 50, {
        "Malloc0": (["--r-mbytes-per-sec", "20"], "bytes_read", 20 * MIB,
                    "r_mbytes_per_sec 20 (reads only)"),
        "Null0": (["--rw-ios-per-sec", "30000"], "iops", 30000, "rw_ios_per_sec 30000")}),
]


def _rpc(sock, *args):
    p = subprocess.run([sys.executable, RPC_PY, "-s", sock] + list(args),
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("rpc.py %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def _iostat(sock):
    s = json.loads(_rpc(sock, "bdev_get_iostat"))
    return s, {b["name"]: b for b in s["bdevs"]}


def _qos_run(d, workload, io_size, mix, limits, seconds):
    cfg = os.path.join(d, "qos.json")
    with open(cfg, "w") as f:
        json.dump(QOS_CONFIG, f)
    sock = os.path.join(d, "perf.sock")
    cmd = [PERF, "--json", cfg, "-r", sock, "-m", "0x3", "-q", "64", "-o", str(io_size),
           "-w", workload, "-t", str(seconds + 3), "--output", "json"]
    cmd += ["-b", "Null0", "-b", "Malloc0"]
    if mix is not None:
        cmd += ["-M", str(mix)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                try:
                    _rpc(sock, "spdk_get_version")
                    break
                except RuntimeError:
                    pass
            time.sleep(0.05)
        for name, (opts, _, _, _) in limits.items():
            _rpc(sock, "bdev_set_qos_limit", name, *opts)
        time.sleep(0.5)
        s0, a = _iostat(sock)
        time.sleep(seconds)
        s1, b = _iostat(sock)
        out, err = proc.communicate(timeout=seconds + 60)
        if proc.returncode != 0:
            raise RuntimeError("lvstor-perf failed: %s" % err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    dt = (s1["ticks"] - s0["ticks"]) / s1["tick_rate"]
    rows = []
    for name, (_, key, limit, label) in limits.items():
        r = {k: (b[name][k] - a[name][k]) / dt for k in
             ("num_read_ops", "num_write_ops", "bytes_read", "bytes_written")}
        r["iops"] = r["num_read_ops"] + r["num_write_ops"]
        r["bps"] = r["bytes_read"] + r["bytes_written"]
        rows.append((name, workload, io_size, mix, label, key, limit, r[key], dt))
    return rows


def qos_main(seconds):
    rows = []
    with tempfile.TemporaryDirectory(prefix="lvsqos.", dir="/tmp") as d:
        for workload, io_size, mix, limits in QOS_RUNS:
            try:
                rows += _qos_run(d, workload, io_size, mix, limits, seconds)
            except (RuntimeError, subprocess.TimeoutExpired) as ex:
                print("FAILED: %s %d: %s" % (workload, io_size, ex))
    print("`lvstor-perf --json <null+malloc config> -r SOCK -m 0x3 -b Null0 -b Malloc0 -q 64 "
          "-o SIZE -w WORKLOAD`, limits set at run time with `rpc.py bdev_set_qos_limit`, "
          "achieved rate from `bdev_get_iostat` counters over a %g s window (two cores: "
          "half the I/O forwarded to the QoS thread). Goal: within 5%%." % seconds)
    print()
    print("| bdev | workload | I/O size | limit | measured | limit /s | achieved /s | "
          "deviation |")
    print("|---|---|--:|---|---|--:|--:|--:|")
    for name, wl, size, mix, label, key, limit, got, dt in rows:
        unit = (lambda v: "%.2f MiB" % (v / MIB)) if key != "iops" else (lambda v: "%.0f" % v)
        wl_s = wl + (" %d%% reads" % mix if mix is not None else "")
        print("| %s | %s | %d KiB | %s | %s | %s | %s | %+.2f%% |"
              % (name, wl_s, size // 1024, label, key, unit(limit), unit(got),
                 100.0 * (got - limit) / limit))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "qos":
        qos_main(float(sys.argv[2]) if len(sys.argv) > 2 else 10.0)
    else:
        main()
