"""The generic bdev methods against a real lvstord (spec/rpc.md section 2.2:
bdev_get_bdevs, bdev_get_iostat, bdev_set_qos_limit, bdev_enable_histogram,
bdev_get_histogram, bdev_wait_for_examine, bdev_examine) and their rpc.py
commands (section 3.4), with malloc bdevs as the devices.

I/O for the statistics and histogram tests comes from build/bin/lvstor-perf,
which runs the same RPC server as lvstord when given -r: the counters are
read from it while it runs."""

import base64
import json
import os
import struct
import subprocess
import threading
import time

import pytest

from daemon_util import (REPO, WRONG_STATE_RUNTIME, WRONG_STATE_STARTUP, JSONRPCClient,
                         JSONRPCException, error_printout, ok, pretty)
from lvstor_rpc.bdev import decode_histogram, histogram_percentile

LVSTOR_PERF = os.path.join(REPO, "build", "bin", "lvstor-perf")
DECODE_FAILED = "spdk_json_decode_object failed"

# The spec's malloc example (section 2.2.1), keys in emission order. Our
# device is not claimed, so claim_type (present only when claimed) is absent.
EXAMPLE_KEYS = ["name", "aliases", "product_name", "block_size", "num_blocks",
                "preferred_write_alignment", "preferred_write_granularity",
                "optimal_write_size", "preferred_unmap_alignment",
                "preferred_unmap_granularity", "uuid", "numa_id", "assigned_rate_limits",
                "claimed", "zoned", "supported_io_types", "driver_specific"]
RATE_KEYS = ["rw_ios_per_sec", "rw_mbytes_per_sec", "r_mbytes_per_sec", "w_mbytes_per_sec"]
IO_TYPES = ["read", "write", "unmap", "flush", "reset", "nvme_admin", "nvme_io", "nvme_io_md",
            "write_zeroes", "zcopy", "get_zone_info", "zone_management", "zone_append",
            "compare", "compare_and_write", "abort", "seek_hole", "seek_data", "copy",
            "nvme_iov_md", "nvme_nssr", "write_uncorrectable"]
EXAMPLE_MALLOC_IO_TYPES = {
    "read": True, "write": True, "unmap": True, "flush": True, "reset": True,
    "nvme_admin": False, "nvme_io": False, "nvme_io_md": False, "write_zeroes": True,
    "zcopy": True, "get_zone_info": False, "zone_management": False, "zone_append": False,
    "compare": True, "compare_and_write": False, "abort": True, "seek_hole": False,
    "seek_data": False, "copy": True, "nvme_iov_md": False, "nvme_nssr": False,
    "write_uncorrectable": False}
IOSTAT_KEYS = ["name", "bytes_read", "num_read_ops", "bytes_written", "num_write_ops",
               "bytes_unmapped", "num_unmap_ops", "bytes_copied", "num_copy_ops",
               "read_latency_ticks", "max_read_latency_ticks", "min_read_latency_ticks",
               "write_latency_ticks", "max_write_latency_ticks", "min_write_latency_ticks",
               "unmap_latency_ticks", "max_unmap_latency_ticks", "min_unmap_latency_ticks",
               "copy_latency_ticks", "max_copy_latency_ticks", "min_copy_latency_ticks",
               "io_error"]
BDEV_METHODS = ["bdev_get_bdevs", "bdev_get_iostat", "bdev_set_qos_limit",
                "bdev_enable_histogram", "bdev_get_histogram", "bdev_wait_for_examine",
                "bdev_examine"]
BDEV_ALIASES = {"get_bdevs": "bdev_get_bdevs", "get_bdevs_iostat": "bdev_get_iostat",
                "set_bdev_qos_limit": "bdev_set_qos_limit",
                "enable_bdev_histogram": "bdev_enable_histogram",
                "get_bdev_histogram": "bdev_get_histogram"}


def malloc(d, name="Malloc0", size_mib=64, block_size=512, uuid=None):
    params = {"num_blocks": size_mib * 1048576 // block_size, "block_size": block_size,
              "name": name}
    if uuid is not None:
        params["uuid"] = uuid
    assert d.call("bdev_malloc_create", params) == name
    return name


def rpc_error(d, method, params=None):
    """(code, message) of a call that must fail. The params member is sent
    exactly as given (rpc.py's client would drop an empty {} or [])."""
    with d.raw() as conn:
        req = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            req["params"] = params
        conn.send(req)
        resp = conn.recv()
    assert "error" in resp, resp
    assert set(resp["error"]) == {"code", "message"}
    return resp["error"]["code"], resp["error"]["message"]


def ordered(raw):
    """Parse JSON text keeping every object as a list of (key, value) pairs,
    so that key order and repeated keys are visible."""
    return json.loads(raw, object_pairs_hook=lambda pairs: pairs)


def raw_result(d, method, params=None):
    with d.raw() as conn:
        req = {"jsonrpc": "2.0", "method": method, "id": 7}
        if params is not None:
            req["params"] = params
        conn.send(req)
        raw, value = conn.recv_raw()
    assert "result" in value, value
    pairs = dict(ordered(raw))["result"]
    return pairs, value["result"]


def keys(pairs):
    return [k for k, _ in pairs]


# -- bdev_get_bdevs ---------------------------------------------------------------------

def test_get_bdevs_malloc_shape_matches_spec_example(daemon):
    malloc(daemon)
    pairs, result = raw_result(daemon, "bdev_get_bdevs", {"name": "Malloc0"})
    assert len(pairs) == 1
    obj_pairs, b = pairs[0], result[0]
    assert keys(obj_pairs) == EXAMPLE_KEYS
    assert b["name"] == "Malloc0"
    assert b["product_name"] == "Malloc disk"
    assert b["block_size"] == 512 and b["num_blocks"] == 131072
    for k in EXAMPLE_KEYS[5:10]:
        assert b[k] == 0, k
    u = b["uuid"]
    assert len(u) == 36 and u == u.lower() and [len(x) for x in u.split("-")] == [8, 4, 4, 4, 12]
    assert b["aliases"] == [u]
    assert isinstance(b["numa_id"], int)
    assert keys(dict(obj_pairs)["assigned_rate_limits"]) == RATE_KEYS
    assert b["assigned_rate_limits"] == {k: 0 for k in RATE_KEYS}
    assert b["claimed"] is False and b["zoned"] is False
    assert keys(dict(obj_pairs)["supported_io_types"]) == IO_TYPES
    io = b["supported_io_types"]
    assert all(isinstance(v, bool) for v in io.values())
    for t in ("read", "write", "unmap", "flush", "reset", "write_zeroes"):
        assert io[t] is True, t
    for t in ("nvme_admin", "nvme_io", "nvme_io_md", "get_zone_info", "zone_management",
              "zone_append", "compare_and_write", "seek_hole", "seek_data", "nvme_iov_md",
              "nvme_nssr", "write_uncorrectable"):
        assert io[t] is False, t
    assert b["driver_specific"] == {}


def test_get_bdevs_malloc_io_types_are_what_it_supports(daemon):
    """The spec's example (2.2.1) shows a malloc bdev of SPDK's with zcopy,
    abort and copy true. lvstor's bdev API (include/lvstor/bdev.h) has no
    zero-copy, abort or copy calls, so no bdev can be sent those I/Os and
    reporting them would promise what nobody can use: a tool that branches
    on them (e.g. to issue a copy) would get -ENOTSUP. We report them false,
    on purpose -- this is our behaviour, not a deviation to fix. Everything
    else matches the example."""
    malloc(daemon)
    expected = dict(EXAMPLE_MALLOC_IO_TYPES, zcopy=False, abort=False, copy=False)
    assert daemon.call("bdev_get_bdevs", {"name": "Malloc0"})[0]["supported_io_types"] == \
        expected


def test_get_bdevs_lookup_by_name_alias_and_uuid(daemon):
    u = "5b4e2a38-9f1d-4c55-9a3e-0d7c1f2e8a61"
    malloc(daemon, "Malloc0", uuid=u)
    malloc(daemon, "Malloc1", size_mib=8, block_size=4096)
    by_name = daemon.call("bdev_get_bdevs", {"name": "Malloc0"})
    assert len(by_name) == 1 and by_name[0]["uuid"] == u and by_name[0]["aliases"] == [u]
    assert daemon.call("bdev_get_bdevs", {"name": u}) == by_name
    assert daemon.call("get_bdevs", {"name": "Malloc0"}) == by_name
    # rpc.py, current and retired spellings; -b takes a UUID too.
    assert pretty(daemon.rpc("bdev_get_bdevs", "-b", "Malloc0")) == by_name
    assert pretty(daemon.rpc("bdev_get_bdevs", "-b", u)) == by_name
    p = daemon.rpc("get_bdevs", "-b", "Malloc0")
    assert pretty(p) == by_name
    assert "get_bdevs is deprecated, use bdev_get_bdevs instead." in p.stderr
    one = daemon.call("bdev_get_bdevs", {"name": "Malloc1"})[0]
    assert one["block_size"] == 4096 and one["num_blocks"] == 2048


def test_get_bdevs_lists_every_bdev(daemon):
    assert daemon.call("bdev_get_bdevs") == []
    assert pretty(daemon.rpc("bdev_get_bdevs")) == []
    malloc(daemon, "Malloc0")
    malloc(daemon, "Malloc1", size_mib=8)
    all_ = pretty(daemon.rpc("bdev_get_bdevs"))
    assert sorted(b["name"] for b in all_) == ["Malloc0", "Malloc1"]
    assert len({b["uuid"] for b in all_}) == 2
    # Without a name, a timeout changes nothing.
    assert daemon.call("bdev_get_bdevs", {"timeout": 100}) == all_


def test_get_bdevs_unknown_name_is_enodev(daemon):
    assert rpc_error(daemon, "bdev_get_bdevs", {"name": "Nope"}) == (-19, "No such device")
    assert rpc_error(daemon, "bdev_get_bdevs", {"name": "Nope", "timeout": 0}) == \
        (-19, "No such device")
    request, err = error_printout(daemon.rpc("bdev_get_bdevs", "-b", "Nope"))
    assert err == {"code": -19, "message": "No such device"}
    assert request == {"name": "Nope", "method": "bdev_get_bdevs", "req_id": 1}


def test_get_bdevs_timeout_returns_bdev_created_meanwhile(daemon):
    got = {}

    def waiter():
        t0 = time.monotonic()
        try:
            got["result"] = daemon.call("bdev_get_bdevs", {"name": "Late0", "timeout": 5000})
        except JSONRPCException as ex:
            got["error"] = ex
        got["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.5)
    # The daemon keeps serving other clients while one waits.
    assert daemon.call("bdev_get_bdevs") == []
    malloc(daemon, "Late0", size_mib=1)
    th.join(10)
    assert not th.is_alive()
    assert "error" not in got, got["error"].message
    assert [b["name"] for b in got["result"]] == ["Late0"]
    assert 0.4 <= got["elapsed"] < 3.0, got["elapsed"]


def test_get_bdevs_timeout_by_alias_of_bdev_created_meanwhile(daemon):
    u = "0c2f7d4e-61b3-4a0e-8f55-2b9d3c7a1e40"
    conn = daemon.raw(timeout=10)
    conn.send({"jsonrpc": "2.0", "method": "bdev_get_bdevs", "id": 3,
               "params": {"name": u, "timeout": 5000}})
    time.sleep(0.3)
    malloc(daemon, "Late1", size_mib=1, uuid=u)
    resp = conn.recv()
    conn.close()
    assert resp["id"] == 3 and resp["result"][0]["name"] == "Late1"


def test_get_bdevs_timeout_expires_with_enodev(daemon):
    t0 = time.monotonic()
    assert rpc_error(daemon, "bdev_get_bdevs", {"name": "Never", "timeout": 300}) == \
        (-19, "No such device")
    elapsed = time.monotonic() - t0
    assert 0.28 <= elapsed < 3.0, elapsed
    # rpc.py's -t is the timeout in milliseconds here.
    t0 = time.monotonic()
    _, err = error_printout(daemon.rpc("bdev_get_bdevs", "-b", "Never", "-t", "200"))
    assert err["code"] == -19
    assert time.monotonic() - t0 >= 0.18


def test_get_bdevs_pending_wait_does_not_block_shutdown(lvstord):
    d = lvstord()
    conn = d.raw(timeout=10)
    conn.send({"jsonrpc": "2.0", "method": "bdev_get_bdevs", "id": 1,
               "params": {"name": "Never", "timeout": 600000}})
    time.sleep(0.2)
    t0 = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - t0 < 5.0
    conn.close()


@pytest.mark.parametrize("params", [
    {"name": 5}, {"timeout": -1}, {"timeout": "100"}, {"timeout": 1.5},
    {"name": "Malloc0", "bogus": 1}, {"name": None, "extra": True}, [], ["Malloc0"],
])
def test_get_bdevs_decode_failure(daemon, params):
    assert rpc_error(daemon, "bdev_get_bdevs", params) == (-32603, DECODE_FAILED)


def test_bdev_methods_are_runtime_only(lvstord):
    d = lvstord("--wait-for-rpc")
    for m in BDEV_METHODS:
        code, msg = rpc_error(d, m, {"name": "x"} if m != "bdev_wait_for_examine" else None)
        assert (code, msg) == (-1, WRONG_STATE_STARTUP), m
    d.call("framework_start_init")
    assert d.call("bdev_get_bdevs") == []


def test_bdev_methods_and_aliases_listed(daemon):
    plain = daemon.call("rpc_get_methods")
    assert set(BDEV_METHODS) | {"bdev_set_options"} <= set(plain)
    assert not set(BDEV_ALIASES) & set(plain)
    assert set(BDEV_ALIASES) <= set(daemon.call("rpc_get_methods", {"include_aliases": True}))


# -- bdev_get_iostat --------------------------------------------------------------------

def check_iostat_object(pairs, name):
    assert keys(pairs) == IOSTAT_KEYS
    d = dict(pairs)
    assert d["name"] == name
    for k in IOSTAT_KEYS[1:-1]:
        assert isinstance(d[k], int) and d[k] >= 0, k
    assert isinstance(d["io_error"], list)   # an object, as pairs
    return d


def test_iostat_shape_without_io(daemon):
    malloc(daemon, "Malloc0")
    malloc(daemon, "Malloc1", size_mib=8)
    pairs, r = raw_result(daemon, "bdev_get_iostat")
    assert keys(pairs) == ["tick_rate", "ticks", "bdevs"]
    assert isinstance(r["tick_rate"], int) and r["tick_rate"] > 0
    assert isinstance(r["ticks"], int) and r["ticks"] > 0
    bdevs = dict(pairs)["bdevs"]
    assert sorted(dict(b)["name"] for b in bdevs) == ["Malloc0", "Malloc1"]
    for b in bdevs:
        d = check_iostat_object(b, dict(b)["name"])
        for k in IOSTAT_KEYS[1:-1]:
            assert d[k] == 0, k          # min is 0 when no I/O happened
        assert d["io_error"] == []

    # One bdev by name (old form) and by names (new form), in the order asked.
    pairs, r = raw_result(daemon, "bdev_get_iostat", {"name": "Malloc1"})
    assert [b["name"] for b in r["bdevs"]] == ["Malloc1"]
    r = daemon.call("bdev_get_iostat", {"names": ["Malloc1", "Malloc0"], "per_channel": False})
    assert [b["name"] for b in r["bdevs"]] == ["Malloc1", "Malloc0"]
    # By UUID too.
    u = daemon.call("bdev_get_bdevs", {"name": "Malloc0"})[0]["uuid"]
    assert [b["name"] for b in daemon.call("bdev_get_iostat", {"name": u})["bdevs"]] == \
        ["Malloc0"]
    # ticks advance.
    assert daemon.call("bdev_get_iostat")["ticks"] > 0


def test_iostat_no_bdevs(daemon):
    r = daemon.call("bdev_get_iostat")
    assert list(r) == ["tick_rate", "ticks", "bdevs"] and r["bdevs"] == []


def test_iostat_rpc_py(daemon):
    malloc(daemon, "Malloc0")
    malloc(daemon, "Malloc1", size_mib=8)
    r = pretty(daemon.rpc("bdev_get_iostat"))
    assert len(r["bdevs"]) == 2
    assert [b["name"] for b in pretty(daemon.rpc("bdev_get_iostat", "-b", "Malloc0"))["bdevs"]] \
        == ["Malloc0"]
    r = pretty(daemon.rpc("bdev_get_iostat", "--names", "Malloc1,Malloc0"))
    assert [b["name"] for b in r["bdevs"]] == ["Malloc1", "Malloc0"]
    for mode in ("all", "maxmin", "error", "none"):
        pretty(daemon.rpc("bdev_get_iostat", "--names", "Malloc0", "--reset-mode", mode))
    p = daemon.rpc("get_bdevs_iostat", "-b", "Malloc0")
    assert [b["name"] for b in pretty(p)["bdevs"]] == ["Malloc0"]
    assert "deprecated" in p.stderr
    # HEAD rpc.py always sends per_channel.
    dry = ok(daemon.rpc("--dry-run", "bdev_get_iostat"))
    assert '"per_channel": false' in dry


def test_iostat_per_channel_shape(daemon):
    malloc(daemon, "Malloc0")
    pairs, r = raw_result(daemon, "bdev_get_iostat", {"name": "Malloc0", "per_channel": True})
    assert keys(pairs) == ["tick_rate", "ticks", "name", "channels"]
    assert r["name"] == "Malloc0" and isinstance(r["channels"], list)
    for ch in dict(pairs)["channels"]:
        assert keys(ch)[0] == "thread_id"
        assert keys(ch)[1:] == IOSTAT_KEYS[1:]
    r = pretty(daemon.rpc("bdev_get_iostat", "-b", "Malloc0", "-c"))
    assert r["name"] == "Malloc0"
    r = daemon.call("bdev_get_iostat", {"names": ["Malloc0"], "per_channel": True})
    assert r["name"] == "Malloc0"


def test_iostat_errors(daemon):
    malloc(daemon, "Malloc0")
    malloc(daemon, "Malloc1", size_mib=8)
    einval = (-22, "Invalid argument")
    enodev = (-19, "No such device")
    assert rpc_error(daemon, "bdev_get_iostat", {"name": "Malloc0", "names": ["Malloc1"]}) == \
        einval
    assert rpc_error(daemon, "bdev_get_iostat", {"per_channel": True}) == einval
    assert rpc_error(daemon, "bdev_get_iostat",
                     {"names": ["Malloc0", "Malloc1"], "per_channel": True}) == einval
    assert rpc_error(daemon, "bdev_get_iostat", {"name": "Nope"}) == enodev
    assert rpc_error(daemon, "bdev_get_iostat", {"names": ["Malloc0", "Nope"]}) == enodev
    assert rpc_error(daemon, "bdev_get_iostat", {"name": "Nope", "per_channel": True}) == \
        enodev
    for bad in ({"reset_mode": "sometimes"}, {"reset_mode": 1}, {"per_channel": 1},
                {"names": "Malloc0"}, {"names": [1]}, {"name": 3}, {"bogus": True},
                {"names": ["Malloc0"] * 1025}):
        assert rpc_error(daemon, "bdev_get_iostat", bad) == (-32603, DECODE_FAILED), bad
    # 1024 names is the limit, not an error by itself.
    r = daemon.call("bdev_get_iostat", {"names": ["Malloc0"] * 1024})
    assert len(r["bdevs"]) == 1024
    # Enumerations are accepted without regard to case.
    daemon.call("bdev_get_iostat", {"name": "Malloc0", "reset_mode": "ALL"})
    _, err = error_printout(daemon.rpc("bdev_get_iostat", "-b", "Nope"))
    assert err == {"code": -19, "message": "No such device"}


# -- bdev_set_qos_limit -----------------------------------------------------------------

def limits(d, name="Malloc0"):
    return d.call("bdev_get_bdevs", {"name": name})[0]["assigned_rate_limits"]


def test_qos_limits_visible_and_rounded(daemon):
    malloc(daemon, "Malloc0")
    assert daemon.call("bdev_set_qos_limit", {"name": "Malloc0", "rw_ios_per_sec": 1500}) \
        is True
    assert limits(daemon) == {"rw_ios_per_sec": 2000, "rw_mbytes_per_sec": 0,
                              "r_mbytes_per_sec": 0, "w_mbytes_per_sec": 0}
    # Omitted limits keep their value.
    assert daemon.call("bdev_set_qos_limit", {"name": "Malloc0", "rw_mbytes_per_sec": 100,
                                              "r_mbytes_per_sec": 50}) is True
    assert limits(daemon) == {"rw_ios_per_sec": 2000, "rw_mbytes_per_sec": 100,
                              "r_mbytes_per_sec": 50, "w_mbytes_per_sec": 0}
    assert daemon.call("bdev_set_qos_limit", {"name": "Malloc0", "w_mbytes_per_sec": 20,
                                              "rw_ios_per_sec": 10000}) is True
    assert limits(daemon) == {"rw_ios_per_sec": 10000, "rw_mbytes_per_sec": 100,
                              "r_mbytes_per_sec": 50, "w_mbytes_per_sec": 20}
    # 0 removes one limit; all of them at 0 disables QoS.
    assert daemon.call("bdev_set_qos_limit", {"name": "Malloc0", "rw_ios_per_sec": 0}) is True
    assert limits(daemon) == {"rw_ios_per_sec": 0, "rw_mbytes_per_sec": 100,
                              "r_mbytes_per_sec": 50, "w_mbytes_per_sec": 20}
    assert daemon.call("bdev_set_qos_limit", {"name": "Malloc0", "rw_mbytes_per_sec": 0,
                                              "r_mbytes_per_sec": 0,
                                              "w_mbytes_per_sec": 0}) is True
    assert limits(daemon) == {k: 0 for k in RATE_KEYS}
    # And it can be switched on again, by alias and via the UUID.
    u = daemon.call("bdev_get_bdevs", {"name": "Malloc0"})[0]["uuid"]
    assert daemon.call("set_bdev_qos_limit", {"name": u, "rw_ios_per_sec": 1}) is True
    assert limits(daemon)["rw_ios_per_sec"] == 1000


def test_qos_rpc_py(daemon):
    malloc(daemon, "Malloc0")
    p = daemon.rpc("bdev_set_qos_limit", "Malloc0", "--rw-ios-per-sec", "1500",
                   "--rw-mbytes-per-sec", "10", "--r-mbytes-per-sec", "5",
                   "--w-mbytes-per-sec", "7")
    assert ok(p) == ""
    assert limits(daemon) == {"rw_ios_per_sec": 2000, "rw_mbytes_per_sec": 10,
                              "r_mbytes_per_sec": 5, "w_mbytes_per_sec": 7}
    p = daemon.rpc("set_bdev_qos_limit", "Malloc0", "--rw_ios_per_sec", "0",
                   "--w_mbytes_per_sec", "0")
    assert ok(p) == ""
    assert "deprecated" in p.stderr
    assert limits(daemon) == {"rw_ios_per_sec": 0, "rw_mbytes_per_sec": 10,
                              "r_mbytes_per_sec": 5, "w_mbytes_per_sec": 0}


def test_qos_errors(daemon):
    malloc(daemon, "Malloc0")
    assert rpc_error(daemon, "bdev_set_qos_limit", {"name": "Nope", "rw_ios_per_sec": 1000}) \
        == (-19, "No such device")
    assert rpc_error(daemon, "bdev_set_qos_limit", {"name": "Malloc0"}) == \
        (-22, "No rate limits specified")
    _, err = error_printout(daemon.rpc("bdev_set_qos_limit", "Malloc0"))
    assert err == {"code": -22, "message": "No rate limits specified"}
    for bad in ({"rw_ios_per_sec": 1000}, {"name": "Malloc0", "rw_ios_per_sec": -1},
                {"name": "Malloc0", "rw_ios_per_sec": "1000"},
                {"name": "Malloc0", "rw_mbytes_per_sec": 1.5},
                {"name": "Malloc0", "iops": 1000}, {"name": 1, "rw_ios_per_sec": 1000}):
        assert rpc_error(daemon, "bdev_set_qos_limit", bad) == (-32603, DECODE_FAILED), bad
    # Nothing changed on the way.
    assert limits(daemon) == {k: 0 for k in RATE_KEYS}


# -- histograms -------------------------------------------------------------------------

def decode_buckets(h):
    raw = base64.b64decode(h["histogram"], validate=True)
    assert len(raw) % 8 == 0
    return struct.unpack("<%dQ" % (len(raw) // 8), raw)


def test_histogram_enable_get_disable(daemon):
    malloc(daemon, "Malloc0")
    bad_address = (-32603, "Bad address")
    assert rpc_error(daemon, "bdev_get_histogram", {"name": "Malloc0"}) == bad_address

    assert daemon.call("bdev_enable_histogram", {"name": "Malloc0", "enable": True}) is True
    pairs, h = raw_result(daemon, "bdev_get_histogram", {"name": "Malloc0"})
    assert keys(pairs) == ["histogram", "granularity", "min_range", "max_range", "tsc_rate"]
    assert h["granularity"] == 7
    assert 0 <= h["min_range"] <= h["max_range"] <= 64 - 7
    assert isinstance(h["tsc_rate"], int) and h["tsc_rate"] > 0
    counts = decode_buckets(h)
    assert len(counts) == (1 << 7) * (h["max_range"] - h["min_range"] + 1)
    assert sum(counts) == 0
    # Enabling twice is harmless; the old name works too.
    assert daemon.call("enable_bdev_histogram", {"name": "Malloc0", "enable": True}) is True
    assert daemon.call("get_bdev_histogram", {"name": "Malloc0"})["granularity"] == 7

    assert daemon.call("bdev_enable_histogram", {"name": "Malloc0", "enable": False}) is True
    assert rpc_error(daemon, "bdev_get_histogram", {"name": "Malloc0"}) == bad_address


def test_histogram_options(daemon):
    malloc(daemon, "Malloc0")
    assert daemon.call("bdev_enable_histogram",
                       {"name": "Malloc0", "enable": True, "opc": "write", "granularity": 4,
                        "min_nsec": 10000, "max_nsec": 10000000}) is True
    h = daemon.call("bdev_get_histogram", {"name": "Malloc0"})
    assert h["granularity"] == 4
    assert h["min_range"] <= h["max_range"]
    assert len(decode_buckets(h)) == 16 * (h["max_range"] - h["min_range"] + 1)
    # A narrower window than the default one stores fewer ranges.
    daemon.call("bdev_enable_histogram", {"name": "Malloc0", "enable": False})
    daemon.call("bdev_enable_histogram", {"name": "Malloc0", "enable": True})
    full = daemon.call("bdev_get_histogram", {"name": "Malloc0"})
    assert full["max_range"] - full["min_range"] > h["max_range"] - h["min_range"]


def test_histogram_errors(daemon):
    malloc(daemon, "Malloc0")
    enodev = (-19, "No such device")
    assert rpc_error(daemon, "bdev_enable_histogram", {"name": "Nope", "enable": True}) == enodev
    assert rpc_error(daemon, "bdev_get_histogram", {"name": "Nope"}) == enodev
    assert rpc_error(daemon, "bdev_enable_histogram",
                     {"name": "Malloc0", "enable": True, "opc": "frobnicate"}) == \
        (-32603, "Invalid Io type")
    for bad in ({"name": "Malloc0"}, {"enable": True}, {"name": "Malloc0", "enable": 1},
                {"name": "Malloc0", "enable": True, "granularity": 256},
                {"name": "Malloc0", "enable": True, "min_nsec": -1},
                {"name": "Malloc0", "enable": True, "opc": 2},
                {"name": "Malloc0", "enable": True, "bogus": 1}):
        assert rpc_error(daemon, "bdev_enable_histogram", bad) == (-32603, DECODE_FAILED), bad
    for bad in (None, {}, {"name": 1}, {"name": "Malloc0", "x": 1}):
        assert rpc_error(daemon, "bdev_get_histogram", bad) == (-32603, DECODE_FAILED), bad
    # Still off after all that.
    assert rpc_error(daemon, "bdev_get_histogram", {"name": "Malloc0"}) == \
        (-32603, "Bad address")


def test_histogram_rpc_py(daemon):
    malloc(daemon, "Malloc0")
    assert ok(daemon.rpc("bdev_enable_histogram", "Malloc0", "--histogram")) == ""
    h = pretty(daemon.rpc("bdev_get_histogram", "Malloc0"))
    assert h["granularity"] == 7
    assert ok(daemon.rpc("bdev_enable_histogram", "Malloc0", "--no-histogram")) == ""
    _, err = error_printout(daemon.rpc("bdev_get_histogram", "Malloc0"))
    assert err == {"code": -32603, "message": "Bad address"}
    # The old spellings: -e (default) / -d, and the retired command names.
    assert ok(daemon.rpc("enable_bdev_histogram", "Malloc0")) == ""
    assert pretty(daemon.rpc("get_bdev_histogram", "Malloc0"))["granularity"] == 7
    assert ok(daemon.rpc("bdev_enable_histogram", "Malloc0", "-d")) == ""
    error_printout(daemon.rpc("bdev_get_histogram", "Malloc0"))
    assert ok(daemon.rpc("bdev_enable_histogram", "Malloc0", "-e", "-o", "read",
                         "--granularity", "5", "--min-nsec", "2000",
                         "--max-nsec", "1000000000")) == ""
    assert pretty(daemon.rpc("bdev_get_histogram", "Malloc0"))["granularity"] == 5
    _, err = error_printout(daemon.rpc("bdev_enable_histogram", "Malloc0", "-o", "bogus"))
    assert err == {"code": -32603, "message": "Invalid Io type"}


# -- examine ----------------------------------------------------------------------------

def test_wait_for_examine(daemon):
    assert daemon.call("bdev_wait_for_examine") is True
    malloc(daemon, "Malloc0")
    assert daemon.call("bdev_wait_for_examine") is True
    assert ok(daemon.rpc("bdev_wait_for_examine")) == ""
    for params in ({}, {"x": 1}, []):
        assert rpc_error(daemon, "bdev_wait_for_examine", params) == \
            (-32602, "bdev_wait_for_examine requires no parameters"), params


def test_examine_with_auto_examine_on(daemon):
    malloc(daemon, "Malloc0")
    assert rpc_error(daemon, "bdev_examine", {"name": "Malloc0"}) == (-22, "Invalid argument")
    _, err = error_printout(daemon.rpc("bdev_examine", "-b", "Malloc0"))
    assert err["code"] == -22
    for bad in (None, {}, {"name": 1}, {"name": "Malloc0", "x": 1}):
        assert rpc_error(daemon, "bdev_examine", bad) == (-32602, DECODE_FAILED), bad


# -- bdev_set_options (startup state) ---------------------------------------------------

def bdev_config(d):
    return d.call("framework_get_config", {"name": "bdev"})


def test_set_options_before_init_shows_in_config(lvstord):
    d = lvstord("--wait-for-rpc")
    assert d.call("bdev_set_options", {"bdev_io_pool_size": 4096, "bdev_io_cache_size": 64,
                                       "iobuf_small_cache_size": 100,
                                       "iobuf_large_cache_size": 10}) is True
    # Keys of older releases are accepted too.
    assert d.call("bdev_set_options", {"small_buf_pool_size": 8192,
                                       "large_buf_pool_size": 1024}) is True
    d.call("framework_start_init")
    malloc(d, "Malloc0", size_mib=1)
    cfg = bdev_config(d)
    assert cfg[0] == {"method": "bdev_set_options", "params": {
        "bdev_io_pool_size": 4096, "bdev_io_cache_size": 64, "bdev_auto_examine": True,
        "iobuf_small_cache_size": 100, "iobuf_large_cache_size": 10}}
    assert cfg[-1] == {"method": "bdev_wait_for_examine"}
    # Runtime: too late.
    assert rpc_error(d, "bdev_set_options", {"bdev_io_pool_size": 1024}) == \
        (-1, WRONG_STATE_RUNTIME)


def test_set_options_rpc_py_and_errors(lvstord):
    d = lvstord("--wait-for-rpc")
    assert ok(d.rpc("bdev_set_options", "-p", "2048", "-c", "32")) == ""
    for bad in ({"bdev_io_pool_size": -1}, {"bdev_io_pool_size": "1"},
                {"bdev_auto_examine": 1}, {"bogus": 1}, []):
        assert rpc_error(d, "bdev_set_options", bad) == (-32603, DECODE_FAILED), bad
    code, _ = rpc_error(d, "bdev_set_options", {"bdev_io_pool_size": 64,
                                                "bdev_io_cache_size": 64})
    assert code == -32602
    code, _ = rpc_error(d, "bdev_set_options", {"bdev_io_pool_size": 1})
    assert code == -32602
    d.call("framework_start_init")
    params = bdev_config(d)[0]["params"]
    assert params["bdev_io_pool_size"] == 2048 and params["bdev_io_cache_size"] == 32


def test_set_options_config_round_trip(lvstord, workdir):
    d = lvstord("--wait-for-rpc")
    d.call("bdev_set_options", {"bdev_io_pool_size": 8192, "bdev_io_cache_size": 128})
    d.call("framework_start_init")
    malloc(d, "Malloc0", size_mib=1)
    d.call("bdev_set_qos_limit", {"name": "Malloc0", "rw_ios_per_sec": 3000})
    doc = {"subsystems": [{"subsystem": "bdev", "config": bdev_config(d)}]}
    path = os.path.join(workdir, "bdev.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    d2 = lvstord("--json", path, sock=os.path.join(workdir, "second.sock"))
    cfg = bdev_config(d2)
    assert cfg[0]["params"]["bdev_io_pool_size"] == 8192
    assert limits(d2)["rw_ios_per_sec"] == 3000


def test_examine_with_auto_examine_off(lvstord, workdir):
    """Spec 2.2.15: with bdev_auto_examine false, bdev_examine NAME answers
    true for an existing or a future bdev, -17 when NAME is already given;
    the list is saved (before the bdevs) and replays."""
    d = lvstord("--wait-for-rpc")
    assert d.call("bdev_set_options", {"bdev_auto_examine": False}) is True
    d.call("framework_start_init")
    assert bdev_config(d)[0]["params"]["bdev_auto_examine"] is False
    malloc(d, "Malloc0", size_mib=1)
    assert d.call("bdev_examine", {"name": "Malloc0"}) is True
    assert rpc_error(d, "bdev_examine", {"name": "Malloc0"}) == (-17, "File exists")
    # rpc.py: prints nothing; a future bdev is fine; errors as the spec says.
    assert ok(d.rpc("bdev_examine", "-b", "Later0")) == ""
    request, err = error_printout(d.rpc("bdev_examine", "-b", "Later0"))
    assert err == {"code": -17, "message": "File exists"}
    assert request == {"name": "Later0", "method": "bdev_examine", "req_id": 1}
    malloc(d, "Later0", size_mib=1)
    assert d.call("bdev_wait_for_examine") is True
    cfg = bdev_config(d)
    assert [e["method"] for e in cfg[:3]] == ["bdev_set_options", "bdev_examine",
                                               "bdev_examine"]
    assert [e["params"]["name"] for e in cfg[1:3]] == ["Malloc0", "Later0"]
    assert cfg[-1] == {"method": "bdev_wait_for_examine"}
    # Replayed by a second daemon from the saved document.
    path = os.path.join(workdir, "examine.json")
    with open(path, "w") as f:
        json.dump({"subsystems": [{"subsystem": "bdev", "config": cfg}]}, f)
    d2 = lvstord("--json", path, sock=os.path.join(workdir, "second.sock"))
    assert bdev_config(d2)[1:3] == cfg[1:3]
    assert rpc_error(d2, "bdev_examine", {"name": "Malloc0"}) == (-17, "File exists")


# -- with I/O (lvstor-perf serving the same RPCs) -----------------------------------------

def need_perf():
    if not os.access(LVSTOR_PERF, os.X_OK):
        pytest.skip("%s not built: the I/O-dependent assertions need it" % LVSTOR_PERF)


class Perf:
    """lvstor-perf on one malloc bdev, with an RPC socket, for `seconds`."""

    def __init__(self, workdir, workload="randrw", seconds=4.0, extra=()):
        conf = os.path.join(workdir, "perf.json")
        with open(conf, "w") as f:
            json.dump({"subsystems": [{"subsystem": "bdev", "config": [
                {"method": "bdev_malloc_create",
                 "params": {"name": "Malloc0", "num_blocks": 16384, "block_size": 512}}]}]},
                f)
        self.sock = os.path.join(workdir, "perf.sock")
        self.log = open(os.path.join(workdir, "perf.log"), "wb")
        self.proc = subprocess.Popen(
            [LVSTOR_PERF, "--json", conf, "-r", self.sock, "-m", "0x1", "-q", "4", "-o", "4096",
             "-w", workload, "-t", str(seconds)] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.log_path = self.log.name

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def call(self, method, params=None):
        with JSONRPCClient(self.sock, timeout=5.0) as c:
            return c.call(method, params)

    def wait_rpc(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "lvstor-perf exited early:\n" + self.output()
            if os.path.exists(self.sock):
                try:
                    self.call("spdk_get_version")
                    return
                except JSONRPCException:
                    pass
            time.sleep(0.05)
        raise AssertionError("lvstor-perf's RPC server did not answer:\n" + self.output())

    def finish(self):
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("lvstor-perf did not finish:\n" + self.output())
        self.log.close()
        return rc


def poll_until(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


def test_iostat_counters_move_with_io(workdir):
    need_perf()
    perf = Perf(workdir, "randrw", seconds=4.0)
    try:
        perf.wait_rpc()

        def moving():
            b = perf.call("bdev_get_iostat", {"name": "Malloc0"})["bdevs"][0]
            return b if b["num_read_ops"] > 0 and b["num_write_ops"] > 0 else None

        b = poll_until(moving)
        assert b, "counters did not move"
        assert b["bytes_read"] == 4096 * b["num_read_ops"]
        assert b["bytes_written"] == 4096 * b["num_write_ops"]
        for op in ("read", "write"):
            assert b["%s_latency_ticks" % op] >= b["max_%s_latency_ticks" % op] > 0
            assert 0 < b["min_%s_latency_ticks" % op] <= b["max_%s_latency_ticks" % op]
        assert b["num_unmap_ops"] == 0 and b["min_unmap_latency_ticks"] == 0
        assert b["io_error"] == {}

        # Counters only grow; per-channel figures add up to no more than the total.
        later = perf.call("bdev_get_iostat", {"names": ["Malloc0"]})["bdevs"][0]
        assert later["num_read_ops"] >= b["num_read_ops"]
        pc = perf.call("bdev_get_iostat", {"name": "Malloc0", "per_channel": True})
        assert pc["name"] == "Malloc0" and len(pc["channels"]) >= 1
        for ch in pc["channels"]:
            assert isinstance(ch["thread_id"], int)
        assert sum(ch["num_read_ops"] for ch in pc["channels"]) > 0

        # reset_mode all: the answer has the old values, the next starts again.
        before = perf.call("bdev_get_iostat", {"name": "Malloc0", "reset_mode": "all"})
        assert before["bdevs"][0]["num_read_ops"] > 0
        after = perf.call("bdev_get_iostat", {"name": "Malloc0"})["bdevs"][0]
        assert after["num_read_ops"] < before["bdevs"][0]["num_read_ops"]
    finally:
        rc = perf.finish()
    assert rc == 0, perf.output()


def test_histogram_counts_io(workdir):
    need_perf()
    perf = Perf(workdir, "randread", seconds=4.0)
    try:
        perf.wait_rpc()
        assert perf.call("bdev_enable_histogram", {"name": "Malloc0", "enable": True}) is True

        def counted():
            h = perf.call("bdev_get_histogram", {"name": "Malloc0"})
            return h if sum(decode_buckets(h)) > 0 else None

        h = poll_until(counted)
        assert h, "histogram stayed empty under I/O"
        # The rpc.py-side decoder agrees with the raw buckets.
        buckets = decode_histogram(h)
        assert [c for _, _, c in buckets] == list(decode_buckets(h))
        p50 = histogram_percentile(h, 50)
        assert 0 < p50 < 10e6          # microseconds: a RAM read under 10 s
        # Buckets tile the tick range without gaps.
        for (_, end, _), (start, _, _) in zip(buckets, buckets[1:]):
            assert start == end + 1
        assert perf.call("bdev_enable_histogram", {"name": "Malloc0", "enable": False}) is True
    finally:
        rc = perf.finish()
    assert rc == 0, perf.output()


# -- rpc.py's histogram decoder, on a hand-made result --------------------------------------

def test_decode_histogram_helper_layout():
    # g = 2, ranges 1..3: range 1 = 4..7 (width 1), 2 = 8..15 (width 2), 3 = 16..31 (width 4).
    counts = list(range(12))
    h = {"histogram": base64.b64encode(struct.pack("<12Q", *counts)).decode(),
         "granularity": 2, "min_range": 1, "max_range": 3, "tsc_rate": 1000000}
    b = decode_histogram(h)
    assert [(s, e) for s, e, _ in b] == [(4, 4), (5, 5), (6, 6), (7, 7), (8, 9), (10, 11),
                                         (12, 13), (14, 15), (16, 19), (20, 23), (24, 27),
                                         (28, 31)]
    assert [c for _, _, c in b] == counts
    # 66 values; the 50th percentile is the 33rd: bucket 8 (cum 36), which ends at 19
    # ticks = 19 us at 1 MHz.
    assert histogram_percentile(h, 50) == 19.0
    assert histogram_percentile(dict(h, histogram=base64.b64encode(bytes(96)).decode()),
                                50) == 0.0
    # The old form: bucket_shift instead of granularity, ranges from 0.
    old = {"histogram": base64.b64encode(struct.pack("<4Q", 1, 2, 3, 4)).decode(),
           "bucket_shift": 2, "tsc_rate": 1}
    assert [(s, e, c) for s, e, c in decode_histogram(old)] == [(0, 0, 1), (1, 1, 2),
                                                                 (2, 2, 3), (3, 3, 4)]
