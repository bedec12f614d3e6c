"""Helpers shared by the lvol functional tests (test_lvol_*.py); no tests here.

Data goes in and out of lvols with lvstor-dd, which loads the same --json
config as lvstord (the base bdev; the lvols appear by examine). A store must
never be open in two processes at once, so lvstor-dd runs only while no
daemon uses the image.
"""

import hashlib
import json
import os
import subprocess

from daemon_util import REPO, JSONRPCException

BIN = os.environ.get("LVSTOR_TOOLS_DIR", os.path.join(REPO, "build", "bin"))
DD = os.path.join(BIN, "lvstor-dd")
CHECK = os.path.join(BIN, "lvstor-check")
FIXTURE = os.environ.get("LVSTOR_FIXTURE",
                         os.path.join(REPO, "..", "shared", "fixtures", "spdk-lvs-4k.img.xz"))
MIB = 1024 * 1024
DECODE_FAILED = {"code": -32603, "message": "spdk_json_decode_object failed"}

LVOL_KEYS = ["lvol_store_uuid", "base_bdev", "thin_provision", "num_allocated_clusters",
             "snapshot", "clone", "base_snapshot", "clones", "esnap_clone",
             "external_snapshot_name"]
LVS_KEYS = ["uuid", "name", "base_bdev", "total_data_clusters", "free_clusters", "block_size",
            "cluster_size", "max_growable_size"]
GET_LVOLS_KEYS = ["alias", "uuid", "name", "is_thin_provisioned", "is_snapshot", "is_clone",
                  "is_esnap_clone", "is_degraded", "num_allocated_clusters", "lvs"]


def err(d, method, params=None):
    """The error object of a call that must fail."""
    with d.client() as c:
        try:
            result = c.call(method, params)
        except JSONRPCException as ex:
            assert ex.error is not None, str(ex)
            return ex.error
    raise AssertionError("%s %r succeeded (%r) but should have failed" % (method, params, result))


def errno_err(code, message):
    return {"code": code, "message": message}


def sparse_file(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def aio_config(path, name="AIO0", block_size=4096, extra=()):
    """A --json document with one aio bdev on `path` (plus `extra` entries)."""
    cfg = [{"method": "bdev_aio_create",
            "params": {"name": name, "filename": path, "block_size": block_size}}]
    cfg += list(extra)
    cfg.append({"method": "bdev_wait_for_examine"})
    return {"subsystems": [{"subsystem": "bdev", "config": cfg}]}


def write_json(workdir, doc, name="config.json"):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def run_tool(binary, *args, timeout=120, check=True):
    p = subprocess.run([binary] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert p.returncode == 0, "%s %s: rc=%d\nstdout:\n%s\nstderr:\n%s" % (
            os.path.basename(binary), " ".join(str(a) for a in args), p.returncode,
            p.stdout, p.stderr[-4000:])
    return p


def dd_in(config, data_path, bdev, bs=4096, seek=0):
    """Write the file `data_path` into `bdev` (daemon stopped)."""
    return run_tool(DD, "--json", config, "--if", data_path, "--ob", bdev, "--bs", bs,
                    "--seek", seek, "--no-progress")


def dd_out(config, bdev, out_path, bs=MIB, count=None):
    """Read `bdev` (all of it, or `count` chunks) into `out_path`; returns its bytes."""
    if os.path.exists(out_path):
        os.unlink(out_path)
    args = ["--json", config, "--ib", bdev, "--of", out_path, "--bs", bs, "--no-progress"]
    if count is not None:
        args += ["--count", count]
    run_tool(DD, *args)
    with open(out_path, "rb") as f:
        return f.read()


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def check_image(path, expect_clean=None):
    """lvstor-check must accept the image; returns its stdout."""
    p = run_tool(CHECK, path, check=False)
    assert p.returncode == 0, "lvstor-check %s: rc=%d\n%s\n%s" % (path, p.returncode,
                                                                  p.stdout, p.stderr)
    if expect_clean is not None:
        state = "clean" if expect_clean else "dirty"
        assert (", %s" % state) in p.stdout, p.stdout
    return p.stdout


def lvol_info(d, name):
    """driver_specific.lvol of bdev `name`."""
    b = d.call("bdev_get_bdevs", {"name": name})
    assert len(b) == 1
    return b[0]["driver_specific"]["lvol"]


def lvols_by_alias(d, **sel):
    return {lv["alias"]: lv for lv in d.call("bdev_lvol_get_lvols", sel or None)}


def lvol_bdevs(d):
    return {b["name"]: b for b in d.call("bdev_get_bdevs") if b["product_name"] == "Logical Volume"}


def key_order_ok(obj, order):
    """Keys of obj appear in the spec's relative order."""
    keys = list(obj)
    filtered = [k for k in order if k in obj]
    return keys == filtered


def start(lvstord, config, bases=("AIO0",)):
    """lvstord --json config, returned once its base bdevs exist and are examined.

    The daemon answers RPCs while it still replays the runtime part of --json
    (as SPDK does), so "ready" is not "stores loaded": wait for each base bdev
    to appear (the examine of a bdev starts when it registers), then for
    examine to finish.
    """
    d = lvstord("--json", config)
    for b in bases:
        d.call("bdev_get_bdevs", {"name": b, "timeout": 10000}, timeout=15)
    d.call("bdev_wait_for_examine", timeout=60)
    return d
