"""The malloc, null, aio and uring back ends against a real lvstord, through
scripts/rpc.py (spec/rpc.md sections 2.2.3 - 2.2.7, 3.3, 3.4): outputs,
errors, retired names, save_config / --json replay, memory and idle CPU."""

import json
import os
import time

import pytest

from daemon_util import JSONRPCException, error_printout, ok

DECODE_FAILED = {"code": -32603, "message": "spdk_json_decode_object failed"}
EEXIST = {"code": -17, "message": "File exists"}
ENODEV = {"code": -19, "message": "No such device"}
EINVAL = {"code": -22, "message": "Invalid argument"}
ENOENT = {"code": -2, "message": "No such file or directory"}
URING_FAILED = {"code": -32603, "message": "Unable to create URING bdev."}

UUID = "5b4e2a38-9f1d-4c55-9a3e-0d7c1f2e8a61"


def rpc_error(d, *args):
    """Run a command that must fail; returns the error object."""
    return error_printout(d.rpc(*args))[1]


def call_error(d, method, params=None):
    with pytest.raises(JSONRPCException) as ex:
        d.call(method, params)
    return ex.value.error


def bdev(d, name):
    got = d.call("bdev_get_bdevs", {"name": name})
    assert len(got) == 1
    return got[0]


def make_file(workdir, name, size):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


# -- malloc --------------------------------------------------------------------------

def test_malloc_create_get_delete(daemon):
    assert ok(daemon.rpc("bdev_malloc_create", "64", "512", "-b", "Malloc0")) == "Malloc0\n"
    b = bdev(daemon, "Malloc0")
    assert b["product_name"] == "Malloc disk"
    assert b["block_size"] == 512 and b["num_blocks"] == 131072
    assert b["driver_specific"] == {}
    assert b["aliases"] == [b["uuid"]]
    io = b["supported_io_types"]
    for t in ("read", "write", "unmap", "flush", "reset", "write_zeroes", "compare"):
        assert io[t] is True, t
    for t in ("nvme_admin", "nvme_io", "zone_append", "compare_and_write"):
        assert io[t] is False, t
    assert ok(daemon.rpc("bdev_malloc_delete", "Malloc0")) == ""
    assert call_error(daemon, "bdev_get_bdevs", {"name": "Malloc0"}) == ENODEV


def test_malloc_options_and_auto_names(daemon):
    out = ok(daemon.rpc("bdev_malloc_create", "-u", UUID, "-o", "32", "-p", "4096", "1",
                        "4096"))
    assert out == "Malloc0\n"
    b = bdev(daemon, "Malloc0")
    assert b["uuid"] == UUID and b["block_size"] == 4096 and b["num_blocks"] == 256
    assert ok(daemon.rpc("bdev_malloc_create", "0.5", "512")) == "Malloc1\n"
    assert bdev(daemon, "Malloc1")["num_blocks"] == 1024
    # Found by UUID too (it is an alias).
    assert bdev(daemon, UUID)["name"] == "Malloc0"
    # Every optional key of any release is accepted.
    assert daemon.call("bdev_malloc_create", {
        "name": "M2", "num_blocks": 8, "block_size": 512, "physical_block_size": 512,
        "optimal_io_boundary": 0, "md_size": 0, "md_interleave": False, "dif_type": 0,
        "dif_is_head_of_md": False, "dif_pi_format": 0, "numa_id": -1}) == "M2"


def test_malloc_errors(daemon):
    assert ok(daemon.rpc("bdev_malloc_create", "1", "512", "-b", "M")) == "M\n"
    assert rpc_error(daemon, "bdev_malloc_create", "1", "512", "-b", "M") == EEXIST
    assert rpc_error(daemon, "bdev_malloc_create", "1", "1000", "-b", "X") == EINVAL
    assert rpc_error(daemon, "bdev_malloc_create", "1", "256", "-b", "X") == EINVAL
    assert rpc_error(daemon, "bdev_malloc_create", "1", "512", "-m", "8") == EINVAL
    assert rpc_error(daemon, "bdev_malloc_create", "1", "512", "-t", "1") == EINVAL
    assert rpc_error(daemon, "bdev_malloc_create", "0", "512") == EINVAL
    assert ok(daemon.rpc("bdev_malloc_create", "1", "512", "-u", UUID, "-b", "Y")) == "Y\n"
    assert rpc_error(daemon, "bdev_malloc_create", "1", "512", "-u", UUID, "-b", "Z") == EEXIST
    request, err = error_printout(daemon.rpc("bdev_malloc_delete", "Malloc9"))
    assert request == {"name": "Malloc9", "method": "bdev_malloc_delete", "req_id": 1}
    assert err == ENODEV
    # Decoding: missing, mistyped, unknown keys.
    assert call_error(daemon, "bdev_malloc_create", {"num_blocks": 8}) == DECODE_FAILED
    assert call_error(daemon, "bdev_malloc_create",
                      {"num_blocks": 8, "block_size": "512"}) == DECODE_FAILED
    assert call_error(daemon, "bdev_malloc_create",
                      {"num_blocks": 8, "block_size": 512, "bogus": 1}) == DECODE_FAILED
    assert call_error(daemon, "bdev_malloc_create",
                      {"num_blocks": 8, "block_size": 512, "uuid": "nope"}) == DECODE_FAILED
    assert call_error(daemon, "bdev_malloc_delete", {}) == DECODE_FAILED
    assert call_error(daemon, "bdev_malloc_delete", None) == DECODE_FAILED


def test_malloc_retired_names(daemon):
    p = daemon.rpc("construct_malloc_bdev", "1", "512", "-b", "Old")
    assert ok(p) == "Old\n"
    assert "construct_malloc_bdev is deprecated, use bdev_malloc_create instead." in p.stderr
    assert daemon.call("construct_malloc_bdev",
                       {"name": "Old2", "num_blocks": 8, "block_size": 512}) == "Old2"
    assert ok(daemon.rpc("delete_malloc_bdev", "Old")) == ""
    assert daemon.call("delete_malloc_bdev", {"name": "Old2"}) is True
    assert daemon.call("bdev_get_bdevs") == []


def test_delete_checks_the_module(daemon):
    ok(daemon.rpc("bdev_malloc_create", "1", "512", "-b", "M"))
    ok(daemon.rpc("bdev_null_create", "N", "1", "512"))
    assert rpc_error(daemon, "bdev_malloc_delete", "N") == ENODEV
    assert rpc_error(daemon, "bdev_null_delete", "M") == ENODEV
    assert rpc_error(daemon, "bdev_aio_delete", "M") == ENODEV
    assert rpc_error(daemon, "bdev_uring_delete", "N") == ENODEV
    assert len(daemon.call("bdev_get_bdevs")) == 2


def test_one_gib_malloc_without_hugepages(daemon):
    before = daemon.rss_kib()
    assert ok(daemon.rpc("bdev_malloc_create", "1024", "4096", "-b", "Big")) == "Big\n"
    assert bdev(daemon, "Big")["num_blocks"] == 262144
    # The memory is taken only as blocks are written.
    assert daemon.rss_kib() - before < 64 * 1024
    ok(daemon.rpc("bdev_malloc_delete", "Big"))


# -- null ------------------------------------------------------------------------------

def test_null_create_get_delete(daemon):
    assert ok(daemon.rpc("bdev_null_create", "Null0", "100", "4096")) == "Null0\n"
    b = bdev(daemon, "Null0")
    assert b["product_name"] == "Null disk"
    assert b["block_size"] == 4096 and b["num_blocks"] == 25600
    io = b["supported_io_types"]
    for t in ("read", "write", "unmap", "flush", "reset", "write_zeroes"):
        assert io[t] is True, t
    assert io["compare"] is False
    assert ok(daemon.rpc("construct_null_bdev", "Null1", "1", "512", "-u", UUID)) == "Null1\n"
    assert bdev(daemon, "Null1")["uuid"] == UUID
    assert ok(daemon.rpc("bdev_null_delete", "Null0")) == ""
    assert ok(daemon.rpc("delete_null_bdev", "Null1")) == ""
    assert daemon.call("bdev_get_bdevs") == []


def test_null_errors(daemon):
    ok(daemon.rpc("bdev_null_create", "N", "1", "512"))
    assert rpc_error(daemon, "bdev_null_create", "N", "1", "512") == EEXIST
    assert rpc_error(daemon, "bdev_null_create", "X", "1", "520") == EINVAL
    assert rpc_error(daemon, "bdev_null_create", "X", "1", "512", "-m", "8") == EINVAL
    assert rpc_error(daemon, "bdev_null_delete", "X") == ENODEV
    assert call_error(daemon, "bdev_null_create", {"num_blocks": 8, "block_size": 512}) \
        == DECODE_FAILED
    # The client refuses a DIF type without metadata before sending anything.
    p = daemon.rpc("bdev_null_create", "X", "1", "512", "-t", "1")
    assert p.returncode == 1 and "md-size" in p.stderr
    # Hints (newest keys) are accepted.
    assert ok(daemon.rpc("bdev_null_create", "H", "1", "512", "-a", "1", "-g", "2", "-s", "4",
                         "-c", "1", "-r", "8")) == "H\n"


def test_null_hints_shown_and_saved(daemon):
    """The five preferred_* hints are stored: bdev_get_bdevs shows them (0 when
    not given) and save_config recreates them."""
    ok(daemon.rpc("bdev_null_create", "H", "1", "512", "-a", "1", "-g", "2", "-s", "4",
                  "-c", "16", "-r", "8"))
    ok(daemon.rpc("bdev_null_create", "N", "1", "512"))
    hints = ["preferred_write_alignment", "preferred_write_granularity", "optimal_write_size",
             "preferred_unmap_alignment", "preferred_unmap_granularity"]
    assert [bdev(daemon, "H")[k] for k in hints] == [1, 2, 4, 16, 8]
    assert [bdev(daemon, "N")[k] for k in hints] == [0, 0, 0, 0, 0]
    creates = {e["params"]["name"]: e["params"] for e in
               daemon.call("framework_get_config", {"name": "bdev"})
               if e["method"] == "bdev_null_create"}
    assert [creates["H"][k] for k in hints] == [1, 2, 4, 16, 8]
    assert not any(k in creates["N"] for k in hints)


def test_malloc_numa_id(daemon):
    """numa_id: the node asked for, else 0 (as the spec's example shows)."""
    ok(daemon.rpc("bdev_malloc_create", "1", "512", "-b", "M0"))
    ok(daemon.rpc("bdev_malloc_create", "1", "512", "-b", "M1", "-n", "0"))
    assert bdev(daemon, "M0")["numa_id"] == 0 and bdev(daemon, "M1")["numa_id"] == 0


# -- aio and uring ------------------------------------------------------------------------

def test_aio_create_get_rescan_delete(daemon, workdir):
    path = make_file(workdir, "aio0", 64 << 20)
    assert ok(daemon.rpc("bdev_aio_create", path, "AIO0")) == "AIO0\n"
    b = bdev(daemon, "AIO0")
    assert b["product_name"] == "AIO disk"
    assert b["block_size"] == 512 and b["num_blocks"] == (64 << 20) // 512
    assert b["driver_specific"] == {"aio": {"filename": path, "block_size_override": False,
                                            "readonly": False, "fallocate": False}}
    io = b["supported_io_types"]
    assert io["read"] and io["write"] and io["flush"] and io["reset"]
    assert io["unmap"] is False

    os.truncate(path, 96 << 20)
    assert ok(daemon.rpc("bdev_aio_rescan", "AIO0")) == ""
    assert bdev(daemon, "AIO0")["num_blocks"] == (96 << 20) // 512
    assert rpc_error(daemon, "bdev_aio_rescan", "nope") == ENODEV

    assert ok(daemon.rpc("bdev_aio_delete", "AIO0")) == ""
    assert daemon.call("bdev_get_bdevs") == []


def test_aio_options(daemon, workdir):
    path = make_file(workdir, "aio1", 8 << 20)
    assert ok(daemon.rpc("bdev_aio_create", path, "A", "4096", "-r", "--fallocate", "-u",
                         UUID)) == "A\n"
    b = bdev(daemon, "A")
    assert b["uuid"] == UUID and b["block_size"] == 4096 and b["num_blocks"] == 2048
    assert b["driver_specific"]["aio"] == {"filename": path, "block_size_override": True,
                                           "readonly": True, "fallocate": True}
    assert b["supported_io_types"]["write"] is False
    path2 = make_file(workdir, "aio2", 8 << 20)
    assert ok(daemon.rpc("construct_aio_bdev", path2, "B", "--fallocate")) == "B\n"
    io = bdev(daemon, "B")["supported_io_types"]
    assert io["unmap"] and io["write_zeroes"]
    assert ok(daemon.rpc("delete_aio_bdev", "B")) == ""


def test_aio_errors(daemon, workdir):
    path = make_file(workdir, "aio3", 1 << 20)
    ok(daemon.rpc("bdev_aio_create", path, "A"))
    assert rpc_error(daemon, "bdev_aio_create", path, "A") == EEXIST
    assert rpc_error(daemon, "bdev_aio_create", os.path.join(workdir, "missing"), "X") == ENOENT
    assert rpc_error(daemon, "bdev_aio_create", path, "X", "1000") == EINVAL
    assert rpc_error(daemon, "bdev_aio_create", path, "X", "--no-wait") == EINVAL
    assert rpc_error(daemon, "bdev_aio_delete", "X") == ENODEV
    assert call_error(daemon, "bdev_aio_create", {"name": "X"}) == DECODE_FAILED
    assert call_error(daemon, "bdev_aio_create",
                      {"name": "X", "filename": path, "readonly": 1}) == DECODE_FAILED


def test_uring_create_get_delete(daemon, workdir):
    path = make_file(workdir, "ur0", 16 << 20)
    assert ok(daemon.rpc("bdev_uring_create", path, "U0", "4096", "-u", UUID)) == "U0\n"
    b = bdev(daemon, "U0")
    assert b["product_name"] == "URING bdev"
    assert b["uuid"] == UUID and b["block_size"] == 4096 and b["num_blocks"] == 4096
    assert b["driver_specific"] == {"uring": {"filename": path}}
    assert rpc_error(daemon, "bdev_uring_create", path, "U0") == URING_FAILED
    assert rpc_error(daemon, "bdev_uring_create", os.path.join(workdir, "no"), "U1") \
        == URING_FAILED
    assert call_error(daemon, "bdev_uring_create", {"name": "U1"}) == DECODE_FAILED
    assert rpc_error(daemon, "bdev_aio_delete", "U0") == ENODEV
    assert ok(daemon.rpc("bdev_uring_delete", "U0")) == ""
    assert rpc_error(daemon, "bdev_uring_delete", "U0") == ENODEV


def test_uring_unavailable_falls_back_to_libaio(lvstord, workdir, monkeypatch):
    monkeypatch.setenv("LVSTOR_FILE_ENGINE", "aio")
    d = lvstord()
    path = make_file(workdir, "fb", 4 << 20)
    assert rpc_error(d, "bdev_uring_create", path, "U") == URING_FAILED
    assert ok(d.rpc("bdev_aio_create", path, "A")) == "A\n"
    assert "libaio" in d.output()


# -- persistence, memory, idle ----------------------------------------------------------

VOLATILE = ()    # nothing in these bdevs' objects changes across a restart


def test_save_config_replays_every_backend(lvstord, workdir):
    a = lvstord()
    f1 = make_file(workdir, "s1", 8 << 20)
    f2 = make_file(workdir, "s2", 8 << 20)
    ok(a.rpc("bdev_malloc_create", "8", "4096", "-b", "M", "-u", UUID, "-o", "16"))
    ok(a.rpc("bdev_malloc_create", "2", "512"))
    ok(a.rpc("bdev_null_create", "N", "10", "512", "-s", "8"))
    ok(a.rpc("bdev_aio_create", f1, "A", "4096", "--fallocate"))
    ok(a.rpc("bdev_uring_create", f2, "U"))
    doc = json.loads(ok(a.rpc("save_config")))
    bdev_cfg = [s for s in doc["subsystems"] if s["subsystem"] == "bdev"][0]["config"]
    methods = [c["method"] for c in bdev_cfg]
    for m in ("bdev_malloc_create", "bdev_null_create", "bdev_aio_create",
              "bdev_uring_create"):
        assert m in methods
    assert methods[-1] == "bdev_wait_for_examine"
    malloc = [c["params"] for c in bdev_cfg if c["method"] == "bdev_malloc_create"]
    assert set(malloc[0]) == {"name", "num_blocks", "block_size", "physical_block_size",
                              "uuid", "optimal_io_boundary", "md_size", "dif_type",
                              "dif_is_head_of_md", "dif_pi_format", "numa_id"}
    before = sorted(a.call("bdev_get_bdevs"), key=lambda b: b["name"])
    a.stop()

    path = os.path.join(workdir, "saved.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    b = lvstord("--json", path)
    after = sorted(b.call("bdev_get_bdevs"), key=lambda x: x["name"])
    for x in before + after:
        for k in VOLATILE:
            x.pop(k, None)
    assert after == before


def test_idle_daemon_with_file_bdevs_sleeps(daemon, workdir):
    f1 = make_file(workdir, "i1", 8 << 20)
    f2 = make_file(workdir, "i2", 8 << 20)
    ok(daemon.rpc("bdev_aio_create", f1, "A"))
    ok(daemon.rpc("bdev_uring_create", f2, "U"))
    ok(daemon.rpc("bdev_malloc_create", "8", "512"))
    time.sleep(0.5)
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.monotonic(), daemon.cpu_ticks()
    time.sleep(3.0)
    t1, c1 = time.monotonic(), daemon.cpu_ticks()
    cpu = (c1 - c0) / hz / (t1 - t0)
    assert cpu < 0.02, "idle lvstord with file bdevs uses %.1f%% CPU" % (cpu * 100)
