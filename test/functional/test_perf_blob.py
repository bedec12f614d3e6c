"""lvstor-perf --blob: the bench app on a blob in a fresh blobstore over a
bdev (doc/tools.md, issue 4 item 8).

Shapes, data and errors only; no numbers are judged. verify writes a
pattern through blob_io_writev and reads it back through blob_io_readv,
on a thick blob and on a thin one (every first write allocates a cluster;
with two cores, two threads allocate in one store at once).
"""

import json
import os
import subprocess

import pytest

from daemon_util import REPO, short_tmpdir

BIN = os.environ.get("LVSTOR_TOOLS_DIR", os.path.join(REPO, "build", "bin"))
PERF = os.path.join(BIN, "lvstor-perf")
BS = 4096
BLOCKS = 16384      # 64 MiB


@pytest.fixture
def tdir():
    d = short_tmpdir()
    yield d
    subprocess.run(["rm", "-rf", d])


def config(d):
    path = os.path.join(d, "bdevs.json")
    with open(path, "w") as f:
        json.dump({"subsystems": [{"subsystem": "bdev", "config": [
            {"method": "bdev_malloc_create",
             "params": {"name": "Malloc0", "num_blocks": BLOCKS, "block_size": BS}},
            {"method": "bdev_null_create",
             "params": {"name": "Null0", "num_blocks": BLOCKS, "block_size": BS}},
        ]}]}, f)
    return path


def perf(*args, timeout=30):
    if not os.access(PERF, os.X_OK):
        pytest.fail("%s not found: build it with 'make'" % PERF)
    return subprocess.run([PERF] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)


def perf_json(*args):
    p = perf("--output", "json", *args)
    assert p.returncode == 0, "rc=%d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout,
                                                                   p.stderr)
    return json.loads(p.stdout)


@pytest.mark.parametrize("thin", [False, True], ids=["thick", "thin"])
def test_blob_verify_on_malloc(tdir, thin):
    """Two jobs (-m 0x3) verify disjoint halves of one blob; 64 KiB clusters
    so the thin blob allocates hundreds of clusters from both threads."""
    extra = ["--thin"] if thin else []
    doc = perf_json("--json", config(tdir), "-m", "0x3", "-b", "Malloc0", "--blob",
                    "--cluster-size", "64k", "-q", 16, "-o", "8k", "-w", "verify", "-t", 0.5,
                    *extra)
    assert len(doc["jobs"]) == 2
    for j in doc["jobs"]:
        assert j["bdev"] == "Malloc0"
        assert j["iops"] > 0
        assert j["errors"] == 0 and j["miscompares"] == 0


def test_blob_on_null_keeps_metadata_in_memory(tdir):
    """A null bdev stores nothing; the blobstore's metadata is kept in memory
    so the store opens its blob, and I/O still reaches the null bdev."""
    for wl in ("randwrite", "randread"):
        doc = perf_json("--json", config(tdir), "-b", "Null0", "--blob", "--blob-size", "16M",
                        "-q", 32, "-o", "4k", "-w", wl, "-t", 0.3)
        assert doc["total"]["iops"] > 0 and doc["total"]["errors"] == 0


def test_blob_thin_prefill_then_unmap_and_flush(tdir):
    """--prefill allocates every cluster of a thin blob; unmap then releases
    whole clusters (4 MiB I/Os over 1 MiB clusters) and flush reaches the
    device. The blob's size sets the jobs' regions."""
    cfg = config(tdir)
    for wl in ("unmap", "flush"):
        doc = perf_json("--json", cfg, "-b", "Malloc0", "--blob", "--thin", "--prefill",
                        "--blob-size", "32M", "-q", 4, "-o", "4M", "-w", wl, "-t", 0.3)
        assert doc["total"]["iops"] > 0 and doc["total"]["errors"] == 0


@pytest.mark.parametrize("args,needle", [
    (["--thin"], "need --blob"),
    (["--cluster-size", "64k"], "need --blob"),
    (["--blob", "--blob-size", "1G"], "does not fit"),
    (["--blob", "--cluster-size", "3k"], "cannot create a blobstore"),
    (["--blob", "--cluster-size", "x"], "invalid cluster size"),
])
def test_blob_bad_options(tdir, args, needle):
    p = perf("--json", config(tdir), "-b", "Malloc0", "-q", 1, "-o", "4k", "-w", "read",
             "-t", 0.1, *args)
    assert p.returncode != 0
    assert needle in p.stderr, p.stderr
