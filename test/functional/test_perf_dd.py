"""lvstor-perf and lvstor-dd: the two tools that take lvstord's --json config
and drive bdevs without a daemon (doc/tools.md).

Each test writes a --json config into a temp dir, runs the binary with a
time limit and checks its exit code and output. Numbers are never judged
here (no pass/fail on speed); only shapes, data and errors.
"""

import hashlib
import json
import os
import subprocess

import pytest

from daemon_util import REPO, short_tmpdir

# LVSTOR_TOOLS_DIR=build-asan/bin runs the same tests on the sanitizer build.
BIN = os.environ.get("LVSTOR_TOOLS_DIR", os.path.join(REPO, "build", "bin"))
PERF = os.path.join(BIN, "lvstor-perf")
DD = os.path.join(BIN, "lvstor-dd")
TIMEOUT = 30
BS = 4096
MALLOC_BLOCKS = 16384          # 64 MiB
FILE_SIZE = 32 * 1024 * 1024   # backing file of the aio bdev

WORKLOADS = ["read", "write", "randread", "randwrite", "rw", "randrw", "verify",
             "unmap", "flush", "write_zeroes"]
JOB_KEYS = {"name", "core", "bdev", "workload", "queue_depth", "io_size", "runtime_s", "iops",
            "mibps", "avg_lat_us", "min_lat_us", "max_lat_us", "p50_lat_us", "p99_lat_us",
            "p999_lat_us", "errors", "miscompares"}
TOTAL_KEYS = JOB_KEYS - {"name", "core", "bdev"}


@pytest.fixture
def tdir():
    d = short_tmpdir()
    yield d
    subprocess.run(["rm", "-rf", d])


def sparse_file(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def write_config(d, malloc=True, aio=None, null=False, name="bdevs.json"):
    """A --json config with Malloc0 (64 MiB), and AIO0 on file `aio` if given."""
    cfg = []
    if malloc:
        cfg.append({"method": "bdev_malloc_create",
                    "params": {"name": "Malloc0", "num_blocks": MALLOC_BLOCKS,
                               "block_size": BS}})
    if null:
        cfg.append({"method": "bdev_null_create",
                    "params": {"name": "Null0", "num_blocks": MALLOC_BLOCKS,
                               "block_size": BS}})
    if aio:
        cfg.append({"method": "bdev_aio_create",
                    "params": {"name": "AIO0", "filename": aio, "block_size": BS,
                               "fallocate": True}})
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump({"subsystems": [{"subsystem": "bdev", "config": cfg}]}, f)
    return path


def run(binary, *args, timeout=TIMEOUT):
    if not os.access(binary, os.X_OK):
        pytest.fail("%s not found: build it with 'make'" % binary)
    return subprocess.run([binary] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)


def ok(p):
    assert p.returncode == 0, "rc=%d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout,
                                                                   p.stderr)
    return p


def one_line_error(p, *needles):
    assert p.returncode != 0, "expected failure; stdout:\n%s\nstderr:\n%s" % (p.stdout,
                                                                             p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, "want exactly one line on stderr, got:\n%s" % p.stderr
    assert any(n.lower() in lines[0].lower() for n in needles), \
        "stderr line %r does not mention any of %r" % (lines[0], needles)
    return lines[0]


def perf_json(*args):
    p = ok(run(PERF, "--output", "json", *args))
    return json.loads(p.stdout)


def sha(path, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read() if length is None else f.read(length))
    return h.hexdigest()


def check_shape(doc, njobs):
    assert set(doc) == {"jobs", "total"}
    assert len(doc["jobs"]) == njobs
    for j in doc["jobs"]:
        assert set(j) == JOB_KEYS, set(j) ^ JOB_KEYS
    assert set(doc["total"]) == TOTAL_KEYS, set(doc["total"]) ^ TOTAL_KEYS


# ---- lvstor-perf ------------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS)
def test_perf_every_workload_on_malloc_null_and_file(tdir, workload):
    """One run per workload drives Malloc0, Null0 and AIO0 at once on both
    cores (-m 0x3: two jobs per bdev). Null0 sits out verify: it reads
    zeroes whatever was written (test_perf_verify_detects_foreign_data)."""
    cfg = write_config(tdir, null=True, aio=sparse_file(os.path.join(tdir, "aio.img"),
                                                        FILE_SIZE))
    bdevs = ["Malloc0", "AIO0"] + ([] if workload == "verify" else ["Null0"])
    args = []
    for b in bdevs:
        args += ["-b", b]
    doc = perf_json("--json", cfg, "-m", "0x3", "-q", 8, "-o", "4k", "-w", workload, "-t", 1,
                    *args)
    check_shape(doc, 2 * len(bdevs))
    assert sorted((j["bdev"], j["core"]) for j in doc["jobs"]) == \
        sorted((b, c) for b in bdevs for c in (0, 1))
    for j in doc["jobs"]:
        assert j["workload"] == workload and j["queue_depth"] == 8 and j["io_size"] == 4096
        assert j["errors"] == 0 and j["miscompares"] == 0
        assert j["iops"] > 0 and j["mibps"] > 0, j
        assert 0.9 < j["runtime_s"] < 3   # the timer fires late only if preempted
        assert 0 < j["min_lat_us"] <= j["avg_lat_us"] <= j["max_lat_us"]
        assert j["min_lat_us"] <= j["p50_lat_us"] <= j["p99_lat_us"] <= j["p999_lat_us"] \
            <= j["max_lat_us"]
    t = doc["total"]
    assert t["iops"] == pytest.approx(sum(j["iops"] for j in doc["jobs"]))
    assert t["min_lat_us"] == pytest.approx(min(j["min_lat_us"] for j in doc["jobs"]))
    assert t["max_lat_us"] == pytest.approx(max(j["max_lat_us"] for j in doc["jobs"]))


@pytest.mark.parametrize("mask,njobs", [("0x1", 1), ("0x3", 2)])
@pytest.mark.parametrize("bdev", ["Malloc0", "AIO0"])
def test_perf_verify_no_miscompare(tdir, mask, njobs, bdev):
    cfg = write_config(tdir, aio=sparse_file(os.path.join(tdir, "aio.img"), FILE_SIZE))
    doc = perf_json("--json", cfg, "-m", mask, "-q", 16, "-o", "8k", "-w", "verify",
                    "-t", 1, "-b", bdev)
    check_shape(doc, njobs)
    assert sorted(j["core"] for j in doc["jobs"]) == list(range(njobs))
    for j in doc["jobs"]:
        assert j["bdev"] == bdev
        assert j["miscompares"] == 0 and j["errors"] == 0
        assert j["iops"] > 0


def test_perf_verify_detects_foreign_data(tdir):
    """The verify read must really come from the device: a bdev that reads
    zeroes whatever was written (null) fails verify with miscompares."""
    cfg = write_config(tdir, malloc=False, null=True)
    p = run(PERF, "--json", cfg, "--output", "json", "-q", 4, "-o", "4k", "-w", "verify",
            "-t", 0.3)
    assert p.returncode != 0
    doc = json.loads(p.stdout)
    assert doc["total"]["miscompares"] > 0
    assert "miscompare at LBA" in p.stderr


def test_perf_table_and_default_targets(tdir):
    """Without -b every unclaimed bdev is a target; the table has a Total row."""
    cfg = write_config(tdir, null=True)
    p = ok(run(PERF, "--json", cfg, "-q", 32, "-o", 4096, "-w", "randread", "-t", 0.5))
    lines = p.stdout.splitlines()
    assert any(line.startswith("Malloc0_core0") for line in lines), p.stdout
    assert any(line.startswith("Null0_core0") for line in lines), p.stdout
    assert lines[-1].startswith("Total")
    assert "p99.9" in p.stdout and "IOPS" in p.stdout


def test_perf_rwmix_all_reads_on_null(tdir):
    cfg = write_config(tdir, malloc=False, null=True)
    doc = perf_json("--json", cfg, "-q", 4, "-o", "1M", "-w", "randrw", "-M", 100, "-t", 0.3)
    assert doc["jobs"][0]["io_size"] == 1024 * 1024 and doc["total"]["errors"] == 0


@pytest.mark.parametrize("args,needles", [
    (["-q", 8, "-o", 4096, "-w", "scribble", "-t", 1], ["workload"]),
    (["-q", 0, "-o", 4096, "-w", "read", "-t", 1], ["queue depth"]),
    (["-q", 8, "-o", "abc", "-w", "read", "-t", 1], ["I/O size"]),
    (["-q", 8, "-o", 4096, "-w", "read", "-t", 0], ["run time"]),
    (["-q", 8, "-o", 4096, "-w", "rw", "-M", 101, "-t", 1], ["percentage"]),
    (["-o", 4096, "-w", "read", "-t", 1], ["queue depth"]),
    (["-q", 8, "-o", 4096, "-w", "read", "-t", 1, "--output", "xml"], ["output"]),
])
def test_perf_bad_options(tdir, args, needles):
    one_line_error(run(PERF, *args), *needles)


def test_perf_io_size_not_multiple_of_block_size(tdir):
    cfg = write_config(tdir)
    one_line_error(run(PERF, "--json", cfg, "-q", 8, "-o", 1000, "-w", "read", "-t", 1),
                   "multiple")


def test_perf_unknown_bdev(tdir):
    cfg = write_config(tdir)
    one_line_error(run(PERF, "--json", cfg, "-q", 8, "-o", 4096, "-w", "read", "-t", 1,
                       "-b", "Nope0"), "Nope0")


def test_perf_no_bdev_at_all(tdir):
    one_line_error(run(PERF, "-q", 8, "-o", 4096, "-w", "read", "-t", 1), "no bdev")


# ---- lvstor-dd --------------------------------------------------------------


def random_file(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def test_dd_round_trip_through_bdevs(tdir):
    """file -> bdev -> file must give back the same bytes. A malloc bdev
    lives only as long as one process, so the malloc hop is checked by its
    exit status and byte count (and by test_dd_malloc_bdev_to_bdev_in_one_run);
    the byte-for-byte round trip goes through file bdevs: file -> AIO0 ->
    file, then AIO0 -> AIO1 (bdev to bdev)."""
    size = 3 * 1024 * 1024 + 8192          # not a multiple of --bs: short last chunk
    orig = random_file(os.path.join(tdir, "orig"), size)
    a = sparse_file(os.path.join(tdir, "a.img"), FILE_SIZE)
    cfg = write_config(tdir, aio=a)

    p = ok(run(DD, "--json", cfg, "--if", orig, "--ob", "Malloc0"))
    assert "%d bytes (3.0 MiB) copied" % size in p.stderr, p.stderr

    ok(run(DD, "--json", cfg, "--if", orig, "--ob", "AIO0", "--qd", 3))
    assert sha(a, size) == sha(orig)

    back = os.path.join(tdir, "back")
    ok(run(DD, "--json", cfg, "--ib", "AIO0", "--of", back, "--bs", "4k",
           "--count", size // 4096))
    assert os.path.getsize(back) == size and sha(back) == sha(orig)

    # bdev -> bdev: AIO0 -> AIO1 (a second file bdev in the same config)
    b = sparse_file(os.path.join(tdir, "b.img"), FILE_SIZE)
    cfg2 = os.path.join(tdir, "two.json")
    with open(cfg2, "w") as f:
        json.dump({"subsystems": [{"subsystem": "bdev", "config": [
            {"method": "bdev_aio_create", "params": {"name": "AIO0", "filename": a,
                                                     "block_size": BS}},
            {"method": "bdev_aio_create", "params": {"name": "AIO1", "filename": b,
                                                     "block_size": BS}}]}]}, f)
    ok(run(DD, "--json", cfg2, "--ib", "AIO0", "--ob", "AIO1", "--bs", "256k"))
    assert sha(b) == sha(a)


def test_dd_malloc_bdev_to_bdev_in_one_run(tdir):
    """Malloc0 -> AIO0 in one process: the malloc bdev's content (zeroes
    when new) lands on the file bdev, overwriting what was there."""
    a = random_file(os.path.join(tdir, "a.img"), FILE_SIZE)
    cfg = write_config(tdir, aio=a)
    ok(run(DD, "--json", cfg, "--ib", "Malloc0", "--ob", "AIO0", "--bs", "1M",
           "--count", 2, "--seek", 1))
    with open(a, "rb") as f:
        data = f.read()
    mib = 1024 * 1024
    assert data[mib:3 * mib] == bytes(2 * mib)
    assert data[:mib] != bytes(mib) and data[3 * mib:4 * mib] != bytes(mib)


def test_dd_skip_seek_count(tdir):
    chunk = 64 * 1024
    src = os.path.join(tdir, "src")
    with open(src, "wb") as f:
        for i in range(8):
            f.write(bytes([i + 1]) * chunk)
    a = random_file(os.path.join(tdir, "a.img"), 1024 * 1024)
    before = open(a, "rb").read()
    cfg = write_config(tdir, malloc=False, aio=a)

    # chunks 2..4 of src -> chunks 5..7 of AIO0; the rest of AIO0 untouched
    p = ok(run(DD, "--json", cfg, "--if", src, "--ob", "AIO0", "--bs", "64k",
               "--skip", 2, "--seek", 5, "--count", 3))
    assert "%d bytes" % (3 * chunk) in p.stderr
    after = open(a, "rb").read()
    assert after[5 * chunk:8 * chunk] == open(src, "rb").read()[2 * chunk:5 * chunk]
    assert after[:5 * chunk] == before[:5 * chunk]
    assert after[8 * chunk:] == before[8 * chunk:]

    # and back out: AIO0 chunk 6 -> file chunk 1; the output file is not truncated
    out = os.path.join(tdir, "out")
    with open(out, "wb") as f:
        f.write(b"\xee" * 4 * chunk)
    ok(run(DD, "--json", cfg, "--ib", "AIO0", "--of", out, "--bs", "64k",
           "--skip", 6, "--seek", 1, "--count", 1))
    data = open(out, "rb").read()
    assert len(data) == 4 * chunk
    assert data[chunk:2 * chunk] == bytes([4]) * chunk
    assert data[:chunk] == b"\xee" * chunk and data[2 * chunk:] == b"\xee" * 2 * chunk


def test_dd_sparse_keeps_target_thin(tdir):
    """With --sparse, all-zero chunks are not written: the file behind
    AIO0 stays sparse (st_blocks); without it, they are."""
    chunk = 1024 * 1024
    src = os.path.join(tdir, "src")
    with open(src, "wb") as f:
        for i in range(16):
            f.write(os.urandom(chunk) if i in (3, 11) else bytes(chunk))
    results = {}
    for mode in ("--sparse", "--no-sparse"):
        a = sparse_file(os.path.join(tdir, "a%s.img" % mode), FILE_SIZE)
        cfg = write_config(tdir, malloc=False, aio=a, name="c%s.json" % mode)
        p = ok(run(DD, "--json", cfg, "--if", src, "--ob", "AIO0", "--bs", "1M", mode))
        assert sha(a, 16 * chunk) == sha(src)
        results[mode] = (os.stat(a).st_blocks * 512, p.stderr)
    allocated, err = results["--sparse"]
    assert allocated <= 4 * chunk, "sparse copy allocated %d bytes" % allocated
    assert "%d bytes of zeroes not written" % (14 * chunk) in err, err
    assert results["--no-sparse"][0] >= 16 * chunk

    # a sparse file output keeps its holes and still gets its full length
    out = os.path.join(tdir, "out")
    a = os.path.join(tdir, "a--sparse.img")
    cfg = write_config(tdir, malloc=False, aio=a, name="c--sparse.json")
    ok(run(DD, "--json", cfg, "--ib", "AIO0", "--of", out, "--bs", "1M", "--count", 16,
           "--sparse"))
    assert os.path.getsize(out) == 16 * chunk and sha(out) == sha(src)
    assert os.stat(out).st_blocks * 512 <= 4 * chunk


def test_dd_errors(tdir):
    a = sparse_file(os.path.join(tdir, "a.img"), 1024 * 1024)
    cfg = write_config(tdir, aio=a)
    src = random_file(os.path.join(tdir, "src"), 2 * 1024 * 1024)
    one_line_error(run(DD, "--json", cfg, "--if", os.path.join(tdir, "missing"),
                       "--ob", "Malloc0"), "missing")
    one_line_error(run(DD, "--json", cfg, "--if", src, "--ob", "Nope0"), "Nope0")
    one_line_error(run(DD, "--json", cfg, "--if", src, "--ob", "Malloc0", "--bs", 1000),
                   "multiple")
    # 2 MiB do not fit in the 1 MiB file bdev; nor does a seek past its end
    one_line_error(run(DD, "--json", cfg, "--if", src, "--ob", "AIO0"), "beyond")
    one_line_error(run(DD, "--json", cfg, "--if", src, "--ob", "Malloc0", "--seek", 64,
                       "--count", 1), "beyond")
    one_line_error(run(DD, "--json", cfg, "--ib", "AIO0", "--of", src, "--count", 2),
                   "beyond")
    one_line_error(run(DD, "--json", cfg, "--if", src), "output")
    one_line_error(run(DD, "--json", cfg, "--if", src, "--ib", "AIO0", "--ob", "Malloc0"),
                   "input")
    one_line_error(run(DD, "--if", src, "--of", os.path.join(tdir, "x")), "bdev")
    one_line_error(run(DD, "--json", cfg, "--if", src, "--ob", "Malloc0", "--qd", 0),
                   "queue depth")
    # nothing was created or written by the failures
    assert not os.path.exists(os.path.join(tdir, "x"))
    assert os.stat(a).st_blocks == 0


def test_perf_prefill_read_workload(tdir):
    """--prefill writes every target once before a read workload (so the
    descriptor must be writable even though the workload only reads)."""
    cfg = write_config(tdir)
    doc = perf_json("--json", cfg, "-q", 8, "-o", "64k", "-w", "randread", "-t", 0.3,
                    "--prefill")
    assert doc["total"]["errors"] == 0 and doc["total"]["iops"] > 0
