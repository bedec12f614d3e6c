"""QoS rate limits hold within 5% on real I/O (issue 3: "QoS limits hold
within 5%").

lvstor-perf drives the bdevs flat out (-m 0x3, one job per core, so I/O from
the second core is forwarded to the QoS thread) and serves JSON-RPC on its
own socket (-r); the limits are set at run time with scripts/rpc.py
bdev_set_qos_limit, exactly as an operator would.

What is judged is a correctness property of the rate limiter, not speed: the
achieved rate is measured with the bdev's own counters (bdev_get_iostat:
bytes and ops, and its `ticks` / `tick_rate` clock) over a ~3 s window that
opens after the limit is in force and closes before the run ends, so neither
start-up, the enable walk nor the run's end is in it. The tolerance is 5%
either way. A host so loaded that the unlimited rate is not well above the
limit cannot judge a limiter: those cases are skipped, saying so.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from daemon_util import REPO, JSONRPCClient, JSONRPCException, run_rpc, short_tmpdir

BIN = os.environ.get("LVSTOR_TOOLS_DIR", os.path.join(REPO, "build", "bin"))
PERF = os.path.join(BIN, "lvstor-perf")
MIB = 1024 * 1024
BS = 4096
WINDOW_S = 3.0          # measurement window
SETTLE_S = 0.3          # after the limit is set, before the window opens
TOLERANCE = 0.05


@pytest.fixture
def tdir():
    d = short_tmpdir()
    yield d
    subprocess.run(["rm", "-rf", d])


class Perf:
    """lvstor-perf running a workload on Malloc0 and Null0, with its RPC socket."""

    def __init__(self, d, workload, io_size, qd, seconds, mix=None):
        cfg = os.path.join(d, "bdevs.json")
        with open(cfg, "w") as f:
            json.dump({"subsystems": [{"subsystem": "bdev", "config": [
                {"method": "bdev_malloc_create",
                 "params": {"name": "Malloc0", "num_blocks": 16384, "block_size": BS}},
                {"method": "bdev_null_create",
                 "params": {"name": "Null0", "num_blocks": 262144, "block_size": BS}},
            ]}]}, f)
        self.sock = os.path.join(d, "perf.sock")
        argv = [PERF, "--json", cfg, "-r", self.sock, "-m", "0x3", "-b", "Malloc0",
                "-b", "Null0", "-q", str(qd), "-o", str(io_size), "-w", workload,
                "-t", str(seconds), "--output", "json"]
        if mix is not None:
            argv += ["-M", str(mix)]
        if not os.access(PERF, os.X_OK):
            pytest.fail("%s not found: build it with 'make'" % PERF)
        self.seconds = seconds
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.poll() is None, "lvstor-perf exited early:\n%s" % (
                self.proc.communicate()[1])
            assert time.monotonic() < deadline, "lvstor-perf's RPC socket never answered"
            if os.path.exists(self.sock):
                try:
                    self.call("spdk_get_version")
                    break
                except (JSONRPCException, OSError):
                    pass
            time.sleep(0.05)

    def call(self, method, params=None):
        with JSONRPCClient(self.sock, timeout=10.0) as c:
            return c.call(method, params)

    def rpc(self, *args):
        p = run_rpc(["-s", self.sock] + [str(a) for a in args])
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    def stat(self):
        s = self.call("bdev_get_iostat", {"names": ["Malloc0", "Null0"]})
        return s, {b["name"]: b for b in s["bdevs"]}

    def rates(self, window):
        """Per bdev: read/write ops and bytes per second over `window` s."""
        s0, a = self.stat()
        time.sleep(window)
        s1, b = self.stat()
        dt = (s1["ticks"] - s0["ticks"]) / s1["tick_rate"]
        out = {}
        for name in a:
            r = {k: (b[name][k] - a[name][k]) / dt for k in
                 ("num_read_ops", "num_write_ops", "bytes_read", "bytes_written")}
            r["iops"] = r["num_read_ops"] + r["num_write_ops"]
            r["bps"] = r["bytes_read"] + r["bytes_written"]
            out[name] = r
        return out

    def finish(self):
        out, err = self.proc.communicate(timeout=self.seconds + 30)
        assert self.proc.returncode == 0, "rc=%d\n%s\n%s" % (self.proc.returncode, out, err)
        doc = json.loads(out)
        assert doc["total"]["errors"] == 0 and doc["total"]["miscompares"] == 0
        return doc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def within(achieved, limit, what):
    assert abs(achieved - limit) <= TOLERANCE * limit, \
        "%s: achieved %.1f vs limit %.1f (%+.2f%%, tolerance %.0f%%)" % (
            what, achieved, limit, 100.0 * (achieved - limit) / limit, 100 * TOLERANCE)


def skip_if_too_slow(unlimited, limits):
    for name, key, limit in limits:
        if unlimited[name][key] < 1.5 * limit:
            pytest.skip("host too loaded to judge a limiter: %s %s unlimited %.0f, limit %.0f"
                        % (name, key, unlimited[name][key], limit))


def run_case(d, workload, io_size, qd, limits, checks, mix=None):
    """limits: {bdev: [rpc.py options]}; checks: [(bdev, key, expected per s)]."""
    perf = Perf(d, workload, io_size, qd, seconds=SETTLE_S * 2 + 0.6 + WINDOW_S + 1.5, mix=mix)
    try:
        unlimited = perf.rates(0.4)
        skip_if_too_slow(unlimited, checks)
        for name, opts in limits.items():
            assert perf.rpc("bdev_set_qos_limit", name, *opts) == ""
        time.sleep(SETTLE_S)
        got = perf.rates(WINDOW_S)
        for name, key, limit in checks:
            within(got[name][key], limit, "%s %s %s" % (name, workload, key))
        doc = perf.finish()
    finally:
        perf.kill()
    return got, doc


def test_qos_iops_and_bandwidth_limits_4k_randread(tdir):
    """Null0: 20000 IOPS; Malloc0: 50 MiB/s, both with 4 KiB reads."""
    run_case(tdir, "randread", 4096, 64,
             {"Null0": ["--rw-ios-per-sec", 20000], "Malloc0": ["--rw-mbytes-per-sec", 50]},
             [("Null0", "iops", 20000), ("Malloc0", "bps", 50 * MIB)])


def test_qos_bandwidth_limits_128k(tdir):
    """128 KiB writes under a write limit (Malloc0) and a read+write limit
    (Null0): each I/O is 2.5 ms worth of the Malloc0 budget, so admission
    runs ahead on debt and the long-run rate must still be exact."""
    run_case(tdir, "randwrite", 128 * 1024, 32,
             {"Malloc0": ["--w-mbytes-per-sec", 50], "Null0": ["--rw-mbytes-per-sec", 30]},
             [("Malloc0", "bytes_written", 50 * MIB), ("Null0", "bps", 30 * MIB)])


def test_qos_read_only_limit_under_rw_mix(tdir):
    """Read bandwidth limits under a 50/50 random mix: reads are held to the
    limit; writes are not charged to it (Malloc0 also has a larger write
    limit, which must not be exceeded). Under a fixed queue depth the held
    reads occupy most slots, so the write rate follows the read rate: that
    is the benchmark's closed loop, not the limiter, and is not judged."""
    got, _ = run_case(tdir, "randrw", 4096, 64,
                      {"Null0": ["--r-mbytes-per-sec", 20],
                       "Malloc0": ["--r-mbytes-per-sec", 10, "--w-mbytes-per-sec", 20]},
                      [("Null0", "bytes_read", 20 * MIB),
                       ("Malloc0", "bytes_read", 10 * MIB)], mix=50)
    assert got["Null0"]["bytes_written"] > 0
    assert got["Malloc0"]["bytes_written"] <= (1 + TOLERANCE) * 20 * MIB


def test_qos_changed_and_removed_at_run_time(tdir):
    """Lower a limit, then remove it, during one run: each phase's rate
    follows; bdev_get_bdevs shows the limits in force (rounded up)."""
    perf = Perf(tdir, "randread", 4096, 64, seconds=12)
    try:
        unlimited = perf.rates(0.4)
        skip_if_too_slow(unlimited, [("Null0", "iops", 30000)])
        perf.rpc("bdev_set_qos_limit", "Null0", "--rw-ios-per-sec", 29001)
        info = json.loads(perf.rpc("bdev_get_bdevs", "-b", "Null0"))[0]
        assert info["assigned_rate_limits"] == {"rw_ios_per_sec": 30000,
                                                "rw_mbytes_per_sec": 0,
                                                "r_mbytes_per_sec": 0,
                                                "w_mbytes_per_sec": 0}
        time.sleep(SETTLE_S)
        within(perf.rates(2.0)["Null0"]["iops"], 30000, "Null0 30000 IOPS")

        perf.rpc("bdev_set_qos_limit", "Null0", "--rw-ios-per-sec", 10000)
        time.sleep(SETTLE_S)
        within(perf.rates(2.0)["Null0"]["iops"], 10000, "Null0 lowered to 10000 IOPS")

        perf.rpc("bdev_set_qos_limit", "Null0", "--rw-ios-per-sec", 0)
        info = json.loads(perf.rpc("bdev_get_bdevs", "-b", "Null0"))[0]
        assert info["assigned_rate_limits"]["rw_ios_per_sec"] == 0
        time.sleep(SETTLE_S)
        assert perf.rates(1.0)["Null0"]["iops"] > 1.5 * 10000
        # Malloc0 never had a limit.
        assert json.loads(perf.rpc("bdev_get_bdevs", "-b", "Malloc0"))[0][
            "assigned_rate_limits"]["rw_ios_per_sec"] == 0
    finally:
        perf.kill()


def test_qos_errors_through_rpc_py(tdir):
    perf = Perf(tdir, "randread", 4096, 4, seconds=5)
    try:
        for args, code, msg in [
            (["bdev_set_qos_limit", "Nope0", "--rw-ios-per-sec", 1000], -19, "No such device"),
            (["bdev_set_qos_limit", "Null0"], -22, "No rate limits specified"),
        ]:
            p = run_rpc(["-s", perf.sock] + [str(a) for a in args])
            assert p.returncode == 1, p.stdout
            assert '"code": %d' % code in p.stdout and msg in p.stdout, p.stdout
    finally:
        perf.kill()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
