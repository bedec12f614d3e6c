#!/usr/bin/env python3
"""Blob and lvol benchmarks for `make bench` (scripts/run-bench.sh).

No pass/fail: each subcommand prints Markdown (a table, or `name: value`
lines) for doc/benchmarks.md, with the goal next to the number.

    python3 test/bench/blob_bench.py perf [SECONDS [REPEAT]]   (default 3 s, best of 3)

4 KiB randread / randwrite, QD 128, one core (-m 0x1), each through
build/bin/lvstor-perf on the bare bdev and on what is layered over an
identical bdev: a thick blob (`--blob`, a fresh blobstore spanning the
bdev), a thin blob after --prefill (every cluster allocated: its steady
state), and a thick lvol (bdev_lvol_create_lvstore + bdev_lvol_create in
the --json config). Issue 4's goal: a blob loses under 5 % of the bdev's
IOPS; issue 5's: the same for an lvol. Every run uses --prefill (malloc
then measures memory that is really there, see bdev_bench.py). The bare
bdev and the layered runs alternate, REPEAT rounds, best run of each
kept: on a small shared machine that is the fairest pair.

    python3 test/bench/blob_bench.py profile [WORKLOAD [TARGET]]   (default randread blob)

Instructions per I/O at QD 128, by where the code lives, with callgrind
(the two-run difference of bdev_profile.py, so start-up cancels out).
TARGET: blob (a thick blob on Null0, the default), null (bare Null0),
lvol (a thick lvol on Malloc1, after --prefill) or malloc (bare Malloc0,
after --prefill); lvol minus malloc is what the lvol stack adds (an
lvolstore cannot live on a null bdev, which keeps no metadata).

    python3 test/bench/blob_bench.py lvol [NUM_CREATE [NUM_RESTART]]   (default 1000, 10000)

Issue 5: the time to create NUM_CREATE thin lvols one RPC at a time over
one connection (goal < 0.5 s for 1,000), and restart time and memory of
an lvstord with NUM_RESTART lvols (goal < 1 s, < 200 MiB), after a clean
stop and after kill -9. The lvolstore lives on an aio bdev over a sparse
file (on /dev/shm when it exists), so a restart with the same --json finds it by
examine; "restart
time" runs from starting the process until bdev_lvol_get_lvols lists
every lvol; memory is VmRSS then (and VmHWM, the peak).
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PERF = os.path.join(REPO, "build", "bin", "lvstor-perf")
LVSTORD = os.path.join(REPO, "build", "bin", "lvstord")
sys.path.insert(0, os.path.join(REPO, "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind_profile  # noqa: E402

NUM_BLOCKS = 262144      # 1 GiB of 4 KiB blocks, as bdev_bench.py
BLOCK_SIZE = 4096
MIB = 1024 * 1024


def bdev(method, name, **extra):
    params = {"name": name, "num_blocks": NUM_BLOCKS, "block_size": BLOCK_SIZE}
    params.update(extra)
    return {"method": method, "params": params}


# Two identical bdevs of each kind: one bare, one under the layer, so the
# layered run does not share a bdev (or its pages) with the bare one.
PERF_CONFIG = {"subsystems": [{"subsystem": "bdev", "config": [
    bdev("bdev_null_create", "Null0"),
    bdev("bdev_malloc_create", "Malloc0"),
    bdev("bdev_malloc_create", "Malloc1"),
    {"method": "bdev_lvol_create_lvstore",
     "params": {"bdev_name": "Malloc1", "lvs_name": "lvs0", "clear_method": "none"}},
    # 4 MiB clusters (the lvol default): 1 GiB holds 255 after metadata.
    {"method": "bdev_lvol_create",
     "params": {"lvs_name": "lvs0", "lvol_name": "lvol0", "size_in_mib": 1000}},
]}]}

# (label, base bdev, bdev for the layered run, extra lvstor-perf options)
LAYERS = [
    ("blob (thick)", "Null0", "Null0", ["--blob"]),
    ("blob (thick)", "Malloc0", "Malloc0", ["--blob"]),
    ("blob (thin, allocated)", "Malloc0", "Malloc0", ["--blob", "--thin"]),
    ("lvol (thick)", "Malloc0", "lvs0/lvol0", []),
]
WORKLOADS = ("randread", "randwrite")
QD = 128


def perf_run(cfg, target, workload, seconds, extra):
    cmd = [PERF, "--json", cfg, "-m", "0x1", "-b", target, "-q", str(QD), "-o", "4096",
           "-w", workload, "-t", str(seconds), "--prefill", "--output", "json"] + extra
    for attempt in range(10):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
            break
        except OSError:
            # The binary is being relinked by a concurrent build: try again shortly.
            if attempt == 9:
                raise
            time.sleep(1)
    if p.returncode != 0:
        print("FAILED (%d): %s\n%s" % (p.returncode, " ".join(cmd[1:]), p.stderr))
        return None
    return json.loads(p.stdout)["total"]


def file_pair_config(d):
    """Two 1 GiB files on tmpfs as aio (io_uring) bdevs, a thick lvol on the second."""
    files = [os.path.join(d, "f%d.img" % i) for i in range(2)]
    cfg = {"subsystems": [{"subsystem": "bdev", "config": [
        {"method": "bdev_aio_create",
         "params": {"name": "AIO%d" % i, "filename": files[i], "block_size": BLOCK_SIZE}}
        for i in range(2)] + [
        {"method": "bdev_lvol_create_lvstore",
         "params": {"bdev_name": "AIO1", "lvs_name": "lvs1", "clear_method": "none"}},
        {"method": "bdev_lvol_create",
         "params": {"lvs_name": "lvs1", "lvol_name": "lvol1", "size_in_mib": 1000}},
    ]}]}
    return files, cfg


def fresh_files(files):
    """Empty 1 GiB files: each run creates its store anew, as with malloc."""
    for path in files:
        with open(path, "wb") as f:
            f.truncate(NUM_BLOCKS * BLOCK_SIZE)


def cmd_pairs(args):
    """lvol vs its base: many alternating short runs, the median of the per-pair losses.

    On a shared virtual machine single runs of the same bdev spread over
    +-20 %; a pair run back to back sees mostly the same conditions, and
    the median over many pairs is what is left of the difference. Two
    bases: malloc (a memcpy per I/O, the harshest case for any layer on
    top) and a file on tmpfs through io_uring (a real back end, with
    system calls, still no device latency).
    """
    seconds = float(args[0]) if args else 2.0
    n = int(args[1]) if len(args) > 1 else 15
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="lvsblob.", dir=shm) as d:
        cfg = os.path.join(d, "bdevs.json")
        with open(cfg, "w") as f:
            json.dump(PERF_CONFIG, f)
        files, fcfg_doc = file_pair_config(d)
        fcfg = os.path.join(d, "files.json")
        with open(fcfg, "w") as f:
            json.dump(fcfg_doc, f)
        cases = [("malloc", cfg, "Malloc0", "lvs0/lvol0", None),
                 ("file (io_uring, tmpfs)", fcfg, "AIO0", "lvs1/lvol1", files)]
        print("`lvstor-perf ... -q %d -o 4096 -t %g --prefill`: the bare base bdev and a thick "
              "lvol on an identical second one, alternating, %d pairs per row; loss = "
              "1 - lvol/bare per pair." % (QD, seconds, n))
        print()
        print("| base | workload | median loss | quartiles | bare IOPS (median) | "
              "lvol IOPS (median) |")
        print("|---|---|--:|--:|--:|--:|")
        for label, c, base, lvol, fl in cases:
            for wl in WORKLOADS:
                losses, bare, lay = [], [], []
                for _ in range(n):
                    # Every run builds its store from the config (an old one
                    # on the file would be found by examine and the create
                    # would fail): fresh files before each.
                    if fl:
                        fresh_files(fl)
                    a = perf_run(c, base, wl, seconds, [])
                    if fl:
                        fresh_files(fl)
                    b = perf_run(c, lvol, wl, seconds, [])
                    if a is None or b is None:
                        continue
                    bare.append(a["iops"])
                    lay.append(b["iops"])
                    losses.append(100.0 * (1 - b["iops"] / a["iops"]))
                if not losses:
                    print("| %s | %s | failed | | | |" % (label, wl))
                    continue
                q = statistics.quantiles(losses, n=4) if len(losses) > 1 else losses * 3
                print("| %s | %s | %.1f %% | %.1f .. %.1f %% | %.0f | %.0f |"
                      % (label, wl, statistics.median(losses), q[0], q[2],
                         statistics.median(bare), statistics.median(lay)))


def better(a, b):
    """The best of two runs: the higher IOPS, and separately the lower median latency."""
    if a is None or b is None:
        return b if a is None else a
    best = dict(b if b["iops"] > a["iops"] else a)
    best["p50_lat_us"] = min(a["p50_lat_us"], b["p50_lat_us"])
    return best


def cmd_perf(args):
    seconds = float(args[0]) if args else 3.0
    repeat = int(args[1]) if len(args) > 1 else 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="lvsblob.") as d:
        cfg = os.path.join(d, "bdevs.json")
        with open(cfg, "w") as f:
            json.dump(PERF_CONFIG, f)
        for label, base, target, extra in LAYERS:
            for wl in WORKLOADS:
                bare = layered = None
                for _ in range(repeat):
                    bare = better(bare, perf_run(cfg, base, wl, seconds, []))
                    layered = better(layered, perf_run(cfg, target, wl, seconds, extra))
                rows.append((label, base, wl, bare, layered))
    print("`lvstor-perf --json <config> -m 0x1 -b BDEV -q %d -o 4096 -w WORKLOAD -t %g "
          "--prefill [--blob [--thin]]` (1 GiB bdevs, one core; bare bdev and layered run "
          "alternate, best of %d each: highest IOPS, lowest p50). Goal (issues 4 and 5): under 5%% IOPS loss. "
          "At QD %d on one core the median latency is about %d times the cost of one I/O "
          "and is not dragged down by a preempted stretch of a run as IOPS are: the p50 "
          "loss column is a second view of the same loss (on malloc both still move by "
          "several %% between rounds on a shared machine)."
          % (QD, seconds, repeat, QD, QD))
    print()
    print("| layer | over | workload | bdev IOPS | layered IOPS | loss | ns/I/O added | "
          "bdev p50 µs | layered p50 µs | p50 loss | layered p99 µs |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for label, base, wl, bare, lay in rows:
        if bare is None or lay is None or not bare["iops"] or not lay["iops"]:
            print("| %s | %s | %s | failed | | | | | | | |" % (label, base, wl))
            continue
        loss = 100.0 * (1 - lay["iops"] / bare["iops"])
        added = 1e9 / lay["iops"] - 1e9 / bare["iops"]
        p50_loss = (100.0 * (1 - bare["p50_lat_us"] / lay["p50_lat_us"])
                    if lay["p50_lat_us"] else 0.0)
        print("| %s | %s | %s | %.0f | %.0f | %.1f%% | %.0f | %.2f | %.2f | %.1f%% | %.2f |"
              % (label, base, wl, bare["iops"], lay["iops"], loss, added, bare["p50_lat_us"],
                 lay["p50_lat_us"], p50_loss, lay["p99_lat_us"]))


# ---- callgrind ------------------------------------------------------------------

GROUPS = [("tool", "app/lvstor-perf/job.c"), ("tool", "app/lvstor-perf/report.c"),
          ("null-md overlay", "app/lvstor-perf/blob_mdmem"),
          ("histogram", "lib/util/histogram"),
          ("blob: bs_dev on bdev", "lib/blob/dev_"), ("blob: request/io", "lib/blob/"),
          ("bdev", "lib/bdev/"), ("env", "lib/env/"), ("thread", "lib/thread/"),
          ("lvol bdev", "module/bdev/lvol/"), ("backend", "module/bdev/")]
GROUP_NAMES = []
for _g, _p in GROUPS:
    if _g not in GROUP_NAMES:
        GROUP_NAMES.append(_g)
# profile targets: (bdev, lvstor-perf options, what it is)
PROFILE_TARGETS = {
    "blob": ("Null0", ["--blob"], "Thick blob on Null0 (`--blob`)"),
    "null": ("Null0", [], "Bare Null0"),
    "malloc": ("Malloc0", ["--prefill"], "Bare Malloc0 (`--prefill`)"),
    "lvol": ("lvs0/lvol0", ["--prefill"], "Thick lvol on Malloc1 (`--prefill`)"),
}


def cmd_profile(args):
    workload = args[0] if args else "randread"
    which = args[1] if len(args) > 1 else "blob"
    if which not in PROFILE_TARGETS:
        sys.exit("profile target must be one of " + ", ".join(PROFILE_TARGETS))
    target, extra, what = PROFILE_TARGETS[which]
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        sys.exit("valgrind (callgrind) is not installed")
    with tempfile.TemporaryDirectory(prefix="lvsblobprof.") as d:
        cfg = os.path.join(d, "bdevs.json")
        with open(cfg, "w") as f:
            json.dump(PERF_CONFIG, f)
        runs = [callgrind_profile.run(PERF, cfg, target, workload, QD, seconds, extra, GROUPS,
                                      2, d) for seconds in (1, 3)]
    callgrind_profile.report("%s, %s QD %d, 4 KiB, one core" % (what, workload, QD),
                             runs[0], runs[1], GROUP_NAMES, 30, 21)


# ---- lvol: create rate, restart ---------------------------------------------------

LIVE = []     # daemons started here, stopped on the way out whatever happens


class Daemon:
    """An lvstord on one core with its own socket, started from a --json config."""

    def __init__(self, d, cfg, tag):
        self.sock = os.path.join(d, "%s.sock" % tag)
        self.log = open(os.path.join(d, "%s.log" % tag), "w")
        self.cfg = cfg
        self.proc = None
        self.t0 = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.t0 = time.monotonic()
        LIVE.append(self)
        self.proc = subprocess.Popen([LVSTORD, "-m", "0x1", "-r", self.sock, "--json", self.cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        from lvstor_rpc.client import JSONRPCClient
        for _ in range(3000):
            if self.proc.poll() is not None:
                raise RuntimeError("lvstord exited with %d" % self.proc.returncode)
            if os.path.exists(self.sock):
                try:
                    self.client = JSONRPCClient(self.sock, timeout=120.0)
                    return self
                except Exception:
                    pass
            time.sleep(0.002)
        raise RuntimeError("lvstord did not come up")

    def call(self, method, params=None):
        return self.client.call(method, params)

    def mem_mib(self):
        vals = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    vals[k] = int(v.split()[0]) / 1024.0
        return vals

    def stop(self, sig=signal.SIGTERM):
        if self in LIVE:
            LIVE.remove(self)
        try:
            self.client.close()
        except Exception:
            pass
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def aio_config(img):
    return {"subsystems": [{"subsystem": "bdev", "config": [
        {"method": "bdev_aio_create",
         "params": {"name": "AIO0", "filename": img, "block_size": BLOCK_SIZE}}]}]}


def wait_lvols(dmn, n, timeout=120.0):
    """Seconds from the process start until every lvol is there.

    Polls with a cheap call (one bdev by name: the last lvol made) rather
    than listing all, which would itself load the app thread while the
    store loads; the full listing is checked once at the end."""
    end = time.monotonic() + timeout
    last = "lvs0/v%05d" % (n - 1)
    while time.monotonic() < end:
        try:
            dmn.call("bdev_get_bdevs", {"name": last})
            secs = time.monotonic() - dmn.t0
            if len(dmn.call("bdev_lvol_get_lvols")) >= n:
                return secs
        except Exception:
            pass
        time.sleep(0.002)
    raise RuntimeError("only some lvols came back")


def create_thin_lvols(dmn, n):
    """Seconds to create n thin 4 MiB lvols in lvs0, one RPC at a time."""
    t0 = time.monotonic()
    for i in range(n):
        dmn.call("bdev_lvol_create", {"lvs_name": "lvs0", "lvol_name": "v%05d" % i,
                                      "size_in_mib": 4, "thin_provision": True})
    return time.monotonic() - t0


def cmd_lvol(args):
    n_create = int(args[0]) if args else 1000
    n_restart = int(args[1]) if len(args) > 1 else 10000
    # The image goes on tmpfs when there is one: a restart then measures
    # lvstor reading metadata, not the disk (and filling it does not wait
    # for an fdatasync per lvol).
    d = tempfile.mkdtemp(prefix="lvslvol.",
                         dir="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    try:
        # ---- create rate: malloc, one connection, one RPC at a time ----
        cfg = os.path.join(d, "malloc.json")
        with open(cfg, "w") as f:
            json.dump({"subsystems": [{"subsystem": "bdev", "config": [
                bdev("bdev_malloc_create", "Malloc0")]}]}, f)
        dmn = Daemon(d, cfg, "create").start()
        # 4 MiB clusters over 1 GiB: 256; ratio 1000 % gives ~10 metadata pages each.
        dmn.call("bdev_lvol_create_lvstore", {"bdev_name": "Malloc0", "lvs_name": "lvs0",
                                              "num_md_pages_per_cluster_ratio": 1000})
        dt = create_thin_lvols(dmn, n_create)
        dmn.stop()
        print("lvol_create_%d_thin_s: %.3f   (goal < 0.5 s; %.0f µs per RPC)"
              % (n_create, dt, dt * 1e6 / n_create))

        # ---- the same on a disk-backed file: every create waits for one
        # device flush, so this measures the disk as much as lvstor ----
        dd = tempfile.mkdtemp(prefix="lvslvol.", dir="/var/tmp")
        try:
            img = os.path.join(dd, "disk.img")
            with open(img, "wb") as f:
                f.truncate(16384 * MIB)
            cfg = os.path.join(d, "aio_disk.json")
            with open(cfg, "w") as f:
                json.dump(aio_config(img), f)
            dmn = Daemon(d, cfg, "create_disk").start()
            dmn.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0"})
            dt = create_thin_lvols(dmn, n_create)
            dmn.stop()
            print("lvol_create_%d_thin_disk_file_s: %.3f   (aio on a file in /var/tmp; one "
                  "device flush per create; %.0f µs per RPC)" % (n_create, dt, dt * 1e6 / n_create))
        finally:
            shutil.rmtree(dd, ignore_errors=True)

        # ---- restart with many lvols: aio on a sparse file ----
        img = os.path.join(d, "disk.img")
        with open(img, "wb") as f:
            f.truncate(4096 * MIB)
        cfg = os.path.join(d, "aio.json")
        with open(cfg, "w") as f:
            json.dump(aio_config(img), f)
        dmn = Daemon(d, cfg, "fill").start()
        # 4 MiB clusters over 4 GiB: 1,024 clusters; ratio 1500 % gives
        # ~15 metadata pages per cluster, room for the NUM_RESTART lvols.
        dmn.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0",
                                              "clear_method": "none",
                                              "num_md_pages_per_cluster_ratio": 1500})
        fill_s = create_thin_lvols(dmn, n_restart)
        mem = dmn.mem_mib()
        dmn.stop()
        print("lvol_create_%d_thin_aio_s: %.2f   (on the aio bdev, for the restarts below)"
              % (n_restart, fill_s))
        print("rss_mib_after_creating_%d: %.1f" % (n_restart, mem.get("VmRSS", 0)))

        for kind in ("clean", "kill9"):
            dmn = Daemon(d, cfg, "restart_" + kind).start()
            secs = wait_lvols(dmn, n_restart)
            mem = dmn.mem_mib()
            print("restart_%s_%d_lvols_s: %.3f   (goal < 1 s)" % (kind, n_restart, secs))
            print("restart_%s_rss_mib: %.1f   (goal < 200 MiB; peak %.1f)"
                  % (kind, mem.get("VmRSS", 0), mem.get("VmHWM", 0)))
            if kind == "clean":
                # Dirty the store (a metadata change after load), then kill -9.
                dmn.call("bdev_lvol_create", {"lvs_name": "lvs0", "lvol_name": "dirty",
                                              "size_in_mib": 4, "thin_provision": True})
                dmn.call("bdev_lvol_delete", {"name": "lvs0/dirty"})
                dmn.stop(signal.SIGKILL)
            else:
                dmn.stop()
    finally:
        for dmn in list(LIVE):
            dmn.stop(signal.SIGKILL)
        shutil.rmtree(d, ignore_errors=True)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "perf"
    args = sys.argv[2:]
    if cmd == "perf":
        cmd_perf(args)
    elif cmd == "profile":
        cmd_profile(args)
    elif cmd == "pairs":
        cmd_pairs(args)
    elif cmd == "lvol":
        cmd_lvol(args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
