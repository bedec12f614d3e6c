"""The bdev_lvol_* methods against a real lvstord (spec/rpc.md §2.3, §2.2.1,
§3.3, §3.4): results and their shapes, every error convention (A: errno-coded,
B: -32602 + errno text, C: -32603 decode failure), the retired names, and the
rpc.py command lines with their output.

Bad input must change nothing: each error test compares the store and lvol
listings before and after.

Most tests use a 64 MiB malloc base with 512-byte blocks and the default
4 MiB clusters (15 data clusters), as in the spec's examples.
"""

import json
import re

import pytest

from daemon_util import error_printout, ok, pretty
from test_lvol_common import (DECODE_FAILED, GET_LVOLS_KEYS, LVOL_KEYS, LVS_KEYS, MIB, err,
                              errno_err, key_order_ok, lvol_bdevs, lvol_info, lvols_by_alias,
                              sparse_file)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ENODEV = errno_err(-19, "No such device")
EINVAL = errno_err(-22, "Invalid argument")
EEXIST = errno_err(-17, "File exists")
EPERM = errno_err(-1, "Operation not permitted")
B_EEXIST = errno_err(-32602, "File exists")
B_ENOSPC = errno_err(-32602, "No space left on device")
B_EINVAL = errno_err(-32602, "Invalid argument")
B_EPERM = errno_err(-32602, "Operation not permitted")


@pytest.fixture
def lvs(daemon):
    """A daemon with Malloc0 (64 MiB, 512 B blocks) and lvolstore lvs0 on it."""
    daemon.call("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 131072,
                                       "block_size": 512})
    uuid = daemon.call("bdev_lvol_create_lvstore", {"bdev_name": "Malloc0", "lvs_name": "lvs0"})
    daemon.lvs_uuid = uuid
    return daemon


def state(d):
    """Everything an error must leave alone."""
    return (d.call("bdev_lvol_get_lvstores"), d.call("bdev_lvol_get_lvols"),
            sorted((b["name"], tuple(b["aliases"]), b["num_blocks"], b["claimed"])
                   for b in d.call("bdev_get_bdevs")))


def create(d, name, mib, thin=False, lvs="lvs0"):
    return d.call("bdev_lvol_create", {"lvol_name": name, "size_in_mib": mib,
                                       "thin_provision": thin, "lvs_name": lvs})


# ---- lvolstores ----------------------------------------------------------------------

def test_create_lvstore_prints_uuid_and_claims_base(daemon):
    ok(daemon.rpc("bdev_malloc_create", "64", "512", "-b", "Malloc0"))
    out = ok(daemon.rpc("bdev_lvol_create_lvstore", "Malloc0", "lvs0", "-c", "4194304"))
    uuid = out.strip()
    assert out == uuid + "\n" and UUID_RE.match(uuid), out
    base = daemon.call("bdev_get_bdevs", {"name": "Malloc0"})[0]
    assert base["claimed"] is True and base["claim_type"] == "exclusive_write"
    stores = pretty(daemon.rpc("bdev_lvol_get_lvstores"))
    assert stores == [{"uuid": uuid, "name": "lvs0", "base_bdev": "Malloc0",
                       "total_data_clusters": 15, "free_clusters": 15, "block_size": 512,
                       "cluster_size": 4194304,
                       "max_growable_size": stores[0]["max_growable_size"]}]
    assert list(stores[0]) == LVS_KEYS
    assert stores[0]["max_growable_size"] >= 64 * MIB
    assert pretty(daemon.rpc("bdev_lvol_get_lvstores", "-l", "lvs0")) == stores
    assert pretty(daemon.rpc("bdev_lvol_get_lvstores", "-u", uuid)) == stores


def test_create_lvstore_options(daemon):
    daemon.call("bdev_malloc_create", {"name": "M1", "num_blocks": 65536, "block_size": 4096})
    daemon.call("bdev_lvol_create_lvstore", {"bdev_name": "M1", "lvs_name": "small",
                                             "cluster_sz": 1048576, "clear_method": "NONE",
                                             "num_md_pages_per_cluster_ratio": 200})
    s = daemon.call("bdev_lvol_get_lvstores", {"lvs_name": "small"})[0]
    assert s["cluster_size"] == 1048576 and s["block_size"] == 4096
    assert 240 <= s["total_data_clusters"] < 256


def test_create_lvstore_errors(lvs):
    d = lvs
    d.call("bdev_malloc_create", {"name": "Malloc1", "num_blocks": 131072, "block_size": 512})
    before = state(d)
    p = {"bdev_name": "Malloc1", "lvs_name": "x"}
    assert err(d, "bdev_lvol_create_lvstore", dict(p, bdev_name="nope")) == ENODEV
    assert err(d, "bdev_lvol_create_lvstore", dict(p, bdev_name="Malloc0")) == EPERM
    assert err(d, "bdev_lvol_create_lvstore", dict(p, lvs_name="lvs0")) == EEXIST
    assert err(d, "bdev_lvol_create_lvstore", dict(p, lvs_name="")) == EINVAL
    assert err(d, "bdev_lvol_create_lvstore", dict(p, lvs_name="n" * 64)) == EINVAL
    assert err(d, "bdev_lvol_create_lvstore", dict(p, clear_method="shred")) == \
        errno_err(-22, "Invalid clear_method parameter")
    assert err(d, "bdev_lvol_create_lvstore", dict(p, cluster_sz=1000))["code"] in (-22, -32602)
    assert err(d, "bdev_lvol_create_lvstore", {"bdev_name": "Malloc1"}) == DECODE_FAILED
    assert err(d, "bdev_lvol_create_lvstore", dict(p, bogus=1)) == DECODE_FAILED
    assert err(d, "bdev_lvol_create_lvstore", dict(p, cluster_sz="4")) == DECODE_FAILED
    assert state(d) == before
    # 63 characters is fine.
    d.call("bdev_lvol_create_lvstore", dict(p, lvs_name="n" * 63))


def test_get_lvstores_selector_errors(lvs):
    d = lvs
    with d.raw() as r:
        assert r.call("bdev_lvol_get_lvstores", {})["error"] == EINVAL
        assert r.call("bdev_lvol_get_lvstores",
                      {"uuid": d.lvs_uuid, "lvs_name": "lvs0"})["error"] == EINVAL
        assert r.call("bdev_lvol_get_lvstores", {"lvs_name": "nope"})["error"] == ENODEV
        assert r.call("bdev_lvol_get_lvstores",
                      {"uuid": "00000000-0000-0000-0000-000000000000"})["error"] == ENODEV
        assert r.call("bdev_lvol_get_lvstores", {"uuid": "garbage"})["error"] == ENODEV
        assert r.call("bdev_lvol_get_lvstores", {"name": "lvs0"})["error"] == DECODE_FAILED
        assert r.call("bdev_lvol_get_lvols", {})["error"] == EINVAL
        assert r.call("bdev_lvol_get_lvols", {"lvs_name": "nope"})["error"] == ENODEV


def test_rename_lvstore_moves_every_alias(lvs):
    d = lvs
    u0 = create(d, "a", 4, thin=True)
    u1 = create(d, "b", 4, thin=True)
    assert ok(d.rpc("bdev_lvol_rename_lvstore", "lvs0", "other")) == ""
    assert d.call("bdev_get_bdevs", {"name": u0})[0]["aliases"] == ["other/a"]
    assert d.call("bdev_get_bdevs", {"name": "other/b"})[0]["name"] == u1
    assert d.call("bdev_lvol_get_lvstores")[0]["name"] == "other"
    assert err(d, "bdev_get_bdevs", {"name": "lvs0/a"}) == ENODEV
    d.call("bdev_malloc_create", {"name": "Malloc1", "num_blocks": 131072, "block_size": 512})
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "Malloc1", "lvs_name": "lvs1"})
    before = state(d)
    assert err(d, "bdev_lvol_rename_lvstore", {"old_name": "nope", "new_name": "x"}) == \
        errno_err(-2, "Lvol store nope not found")
    assert err(d, "bdev_lvol_rename_lvstore", {"old_name": "other", "new_name": "lvs1"}) == \
        B_EEXIST
    assert err(d, "bdev_lvol_rename_lvstore", {"old_name": "other"}) == DECODE_FAILED
    assert state(d) == before


def test_delete_lvstore_releases_base(lvs):
    d = lvs
    create(d, "a", 4)
    create(d, "b", 4, thin=True)
    before = state(d)
    assert err(d, "bdev_lvol_delete_lvstore", {"lvs_name": "nope"}) == ENODEV
    assert err(d, "bdev_lvol_delete_lvstore", None) == EINVAL
    assert err(d, "bdev_lvol_delete_lvstore", {"uuid": d.lvs_uuid, "lvs_name": "lvs0"}) == EINVAL
    assert err(d, "bdev_lvol_delete_lvstore", {"lvs": "lvs0"}) == DECODE_FAILED
    assert state(d) == before
    assert ok(d.rpc("bdev_lvol_delete_lvstore", "-u", d.lvs_uuid)) == ""
    assert d.call("bdev_lvol_get_lvstores") == []
    assert d.call("bdev_lvol_get_lvols") == []
    assert lvol_bdevs(d) == {}
    assert d.call("bdev_get_bdevs", {"name": "Malloc0"})[0]["claimed"] is False
    # The device is free again: a new store goes on it (and nothing of the old one is found).
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "Malloc0", "lvs_name": "again"})
    assert d.call("bdev_lvol_get_lvols") == []


def test_grow_lvstore_prints_true(daemon, workdir):
    path = sparse_file(workdir + "/grow.img", 64 * MIB)
    daemon.call("bdev_aio_create", {"name": "AIO0", "filename": path, "block_size": 4096})
    daemon.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "g"})
    before = daemon.call("bdev_lvol_get_lvstores")[0]["total_data_clusters"]
    sparse_file(path, 128 * MIB)
    daemon.call("bdev_aio_rescan", {"name": "AIO0"})
    assert ok(daemon.rpc("bdev_lvol_grow_lvstore", "-l", "g")) == "true\n"
    after = daemon.call("bdev_lvol_get_lvstores")[0]
    assert after["total_data_clusters"] > before
    assert after["free_clusters"] == after["total_data_clusters"]
    assert err(daemon, "bdev_lvol_grow_lvstore", {"lvs_name": "nope"}) == ENODEV
    assert err(daemon, "bdev_lvol_grow_lvstore", None) == EINVAL


# ---- lvols -------------------------------------------------------------------------------

def test_create_lvol_bdev_matches_spec_example(lvs):
    d = lvs
    out = ok(d.rpc("bdev_lvol_create", "-l", "lvs0", "lv0", "128", "-t"))
    uuid = out.strip()
    assert UUID_RE.match(uuid) and out == uuid + "\n"
    b = pretty(d.rpc("bdev_get_bdevs", "-b", "lvs0/lv0"))[0]
    assert b["name"] == uuid and b["uuid"] == uuid
    assert b["aliases"] == ["lvs0/lv0"]
    assert b["product_name"] == "Logical Volume"
    assert b["block_size"] == 512 and b["num_blocks"] == 262144
    assert b["claimed"] is False and "claim_type" not in b
    io = b["supported_io_types"]
    # The spec's example (SPDK) has flush false; lvstor passes a flush on to
    # the base device so a guest's fsync is durable (doc/lvol.md).
    assert {k for k, v in io.items() if v} == {"read", "write", "unmap", "flush", "reset",
                                                "write_zeroes", "seek_hole", "seek_data"}
    assert b["driver_specific"] == {"lvol": {
        "lvol_store_uuid": d.lvs_uuid, "base_bdev": "Malloc0", "thin_provision": True,
        "num_allocated_clusters": 0, "snapshot": False, "clone": False, "esnap_clone": False}}
    assert key_order_ok(b["driver_specific"]["lvol"], LVOL_KEYS)
    # Found by name, alias and UUID alike.
    assert d.call("bdev_get_bdevs", {"name": uuid}) == d.call("bdev_get_bdevs",
                                                              {"name": "lvs0/lv0"})


def test_create_lvol_thick_rounds_up_and_allocates(lvs):
    d = lvs
    u = d.call("bdev_lvol_create", {"lvol_name": "thick", "size_in_mib": 5, "uuid": d.lvs_uuid})
    b = d.call("bdev_get_bdevs", {"name": u})[0]
    assert b["num_blocks"] * 512 == 8 * MIB
    assert b["driver_specific"]["lvol"]["thin_provision"] is False
    assert b["driver_specific"]["lvol"]["num_allocated_clusters"] == 2
    assert d.call("bdev_lvol_get_lvstores")[0]["free_clusters"] == 13
    # The retired 'size' key is in bytes.
    u2 = d.call("bdev_lvol_create", {"lvol_name": "old", "size": 4 * MIB, "lvs_name": "lvs0",
                                     "thin_provision": True, "clear_method": "write_zeroes"})
    assert d.call("bdev_get_bdevs", {"name": u2})[0]["num_blocks"] == 8192


def test_create_lvol_errors_change_nothing(lvs):
    d = lvs
    create(d, "lv0", 4, thin=True)
    before = state(d)
    p = {"lvol_name": "new", "size_in_mib": 4, "lvs_name": "lvs0"}
    assert err(d, "bdev_lvol_create", dict(p, lvs_name="nope")) == ENODEV
    assert err(d, "bdev_lvol_create", dict(p, uuid=d.lvs_uuid)) == EINVAL
    q = dict(p)
    del q["lvs_name"]
    assert err(d, "bdev_lvol_create", q) == EINVAL
    assert err(d, "bdev_lvol_create", dict(p, lvol_name="lv0")) == EEXIST
    assert err(d, "bdev_lvol_create", dict(p, lvol_name="")) == EINVAL
    assert err(d, "bdev_lvol_create", dict(p, lvol_name="x" * 64)) == EINVAL
    assert err(d, "bdev_lvol_create", dict(p, size_in_mib=61)) == B_ENOSPC
    assert err(d, "bdev_lvol_create", dict(p, clear_method="shred")) == \
        errno_err(-22, "Invalid clear_method parameter")
    assert err(d, "bdev_lvol_create", dict(p, size=4 * MIB)) == EINVAL
    q = dict(p)
    del q["size_in_mib"]
    assert err(d, "bdev_lvol_create", q) == DECODE_FAILED
    assert err(d, "bdev_lvol_create", dict(p, thin_provision="yes")) == DECODE_FAILED
    assert err(d, "bdev_lvol_create", dict(p, size_in_mib=-1)) == DECODE_FAILED
    assert err(d, "bdev_lvol_create", dict(p, extra=True)) == DECODE_FAILED
    assert state(d) == before
    # Thin lvols may exceed the free space; 63 characters is fine.
    create(d, "y" * 63, 1024, thin=True)


def test_get_lvols_shape(lvs):
    d = lvs
    u = create(d, "lv0", 4, thin=True)
    out = pretty(d.rpc("bdev_lvol_get_lvols"))
    assert out == [{"alias": "lvs0/lv0", "uuid": u, "name": "lv0", "is_thin_provisioned": True,
                    "is_snapshot": False, "is_clone": False, "is_esnap_clone": False,
                    "is_degraded": False, "num_allocated_clusters": 0,
                    "lvs": {"name": "lvs0", "uuid": d.lvs_uuid}}]
    assert list(out[0]) == GET_LVOLS_KEYS
    assert pretty(d.rpc("bdev_lvol_get_lvols", "-l", "lvs0")) == out
    assert pretty(d.rpc("bdev_lvol_get_lvols", "-u", d.lvs_uuid)) == out


def test_snapshot_and_clone(lvs):
    d = lvs
    u = create(d, "lv0", 8)
    out = ok(d.rpc("bdev_lvol_snapshot", "lvs0/lv0", "snap"))
    snap = out.strip()
    assert UUID_RE.match(snap) and out == snap + "\n"
    sb = d.call("bdev_get_bdevs", {"name": "lvs0/snap"})[0]
    assert sb["name"] == snap and sb["num_blocks"] == 16384
    io = sb["supported_io_types"]
    assert io["read"] and not io["write"] and not io["unmap"] and not io["write_zeroes"]
    si = sb["driver_specific"]["lvol"]
    assert si["snapshot"] is True and si["clone"] is False and si["clones"] == ["lv0"]
    assert si["num_allocated_clusters"] == 2 and "base_snapshot" not in si
    assert key_order_ok(si, LVOL_KEYS)
    li = lvol_info(d, u)
    assert li["clone"] is True and li["base_snapshot"] == "snap" and li["thin_provision"]
    assert li["num_allocated_clusters"] == 0 and "clones" not in li
    assert key_order_ok(li, LVOL_KEYS)

    clone = ok(d.rpc("bdev_lvol_clone", "lvs0/snap", "cl")).strip()
    assert UUID_RE.match(clone)
    assert lvol_info(d, clone)["base_snapshot"] == "snap"
    assert sorted(lvol_info(d, snap)["clones"]) == ["cl", "lv0"]
    lv = lvols_by_alias(d)
    assert lv["lvs0/snap"]["is_snapshot"] and lv["lvs0/cl"]["is_clone"]


def test_snapshot_clone_errors(lvs):
    d = lvs
    create(d, "lv0", 4)
    create(d, "other", 4, thin=True)
    d.call("bdev_lvol_snapshot", {"lvol_name": "lvs0/lv0", "snapshot_name": "snap"})
    before = state(d)
    assert err(d, "bdev_lvol_snapshot", {"lvol_name": "lvs0/nope", "snapshot_name": "s"}) == \
        ENODEV
    assert err(d, "bdev_lvol_snapshot", {"lvol_name": "Malloc0", "snapshot_name": "s"}) == ENODEV
    assert err(d, "bdev_lvol_snapshot", {"lvol_name": "lvs0/lv0", "snapshot_name": "other"}) == \
        B_EEXIST
    assert err(d, "bdev_lvol_snapshot", {"lvol_name": "lvs0/lv0"}) == DECODE_FAILED
    assert err(d, "bdev_lvol_clone", {"snapshot_name": "lvs0/nope", "clone_name": "c"}) == ENODEV
    assert err(d, "bdev_lvol_clone", {"snapshot_name": "lvs0/other", "clone_name": "c"}) == \
        B_EINVAL
    assert err(d, "bdev_lvol_clone", {"snapshot_name": "lvs0/snap", "clone_name": "lv0"}) == \
        B_EEXIST
    assert err(d, "bdev_lvol_clone", {"snapshot": "lvs0/snap", "clone_name": "c"}) == \
        DECODE_FAILED
    assert state(d) == before


def test_rename_lvol(lvs):
    d = lvs
    u = create(d, "lv0", 4, thin=True)
    create(d, "lv1", 4, thin=True)
    assert ok(d.rpc("bdev_lvol_rename", "lvs0/lv0", "renamed")) == ""
    b = d.call("bdev_get_bdevs", {"name": "lvs0/renamed"})[0]
    assert b["name"] == u and b["aliases"] == ["lvs0/renamed"]
    d.call("bdev_lvol_rename", {"old_name": u, "new_name": "again"})
    assert d.call("bdev_get_bdevs", {"name": u})[0]["aliases"] == ["lvs0/again"]
    before = state(d)
    assert err(d, "bdev_lvol_rename", {"old_name": "lvs0/nope", "new_name": "x"}) == ENODEV
    assert err(d, "bdev_lvol_rename", {"old_name": u, "new_name": "lv1"}) == B_EEXIST
    assert err(d, "bdev_lvol_rename", {"old_name": u, "new_name": ""}) == B_EINVAL
    assert err(d, "bdev_lvol_rename", {"old_name": u, "new_name": "z" * 64}) == B_EINVAL
    assert err(d, "bdev_lvol_rename", {"old_name": u}) == DECODE_FAILED
    assert state(d) == before


def test_resize(lvs):
    d = lvs
    u = create(d, "lv0", 4)
    assert ok(d.rpc("bdev_lvol_resize", "lvs0/lv0", "12")) == ""
    b = d.call("bdev_get_bdevs", {"name": u})[0]
    assert b["num_blocks"] * 512 == 12 * MIB
    assert b["driver_specific"]["lvol"]["num_allocated_clusters"] == 3
    d.call("bdev_lvol_resize", {"name": u, "size": 4 * MIB})
    assert d.call("bdev_get_bdevs", {"name": u})[0]["num_blocks"] * 512 == 4 * MIB
    assert d.call("bdev_lvol_get_lvstores")[0]["free_clusters"] == 14
    d.call("bdev_lvol_snapshot", {"lvol_name": u, "snapshot_name": "snap"})
    before = state(d)
    assert err(d, "bdev_lvol_resize", {"name": "lvs0/nope", "size_in_mib": 4}) == ENODEV
    assert err(d, "bdev_lvol_resize", {"name": "lvs0/snap", "size_in_mib": 8}) == B_EPERM
    d.call("bdev_lvol_create", {"lvol_name": "thick", "size_in_mib": 4, "lvs_name": "lvs0"})
    before = state(d)
    assert err(d, "bdev_lvol_resize", {"name": "lvs0/thick", "size_in_mib": 400}) == B_ENOSPC
    assert err(d, "bdev_lvol_resize", {"name": "lvs0/thick"}) == DECODE_FAILED
    assert err(d, "bdev_lvol_resize", {"name": "lvs0/thick", "size_in_mib": 4,
                                       "size": 4 * MIB}) == EINVAL
    assert state(d) == before


def test_set_read_only(lvs):
    d = lvs
    u = create(d, "lv0", 4, thin=True)
    assert ok(d.rpc("bdev_lvol_set_read_only", "lvs0/lv0")) == ""
    io = d.call("bdev_get_bdevs", {"name": u})[0]["supported_io_types"]
    assert io["read"] and not io["write"] and not io["unmap"] and not io["write_zeroes"]
    assert err(d, "bdev_lvol_set_read_only", {"name": "lvs0/nope"}) == ENODEV
    assert err(d, "bdev_lvol_set_read_only", None) == errno_err(-22, "Missing name parameter")
    assert err(d, "bdev_lvol_set_read_only", {"name": 7}) == DECODE_FAILED
    # A read-only lvol can be cloned.
    d.call("bdev_lvol_clone", {"snapshot_name": u, "clone_name": "cl"})


def test_delete_lvol(lvs):
    d = lvs
    u = create(d, "lv0", 8)
    assert ok(d.rpc("bdev_lvol_delete", "lvs0/lv0")) == ""
    assert u not in lvol_bdevs(d)
    assert d.call("bdev_lvol_get_lvols") == []
    assert d.call("bdev_lvol_get_lvstores")[0]["free_clusters"] == 15
    assert err(d, "bdev_lvol_delete", {"name": "lvs0/lv0"}) == ENODEV
    assert err(d, "bdev_lvol_delete", {"name": u}) == ENODEV
    assert err(d, "bdev_lvol_delete", {"name": "Malloc0"}) == ENODEV
    assert err(d, "bdev_lvol_delete", None) == DECODE_FAILED


def test_delete_snapshot_with_two_clones_refused(lvs):
    d = lvs
    create(d, "lv0", 4)
    snap = d.call("bdev_lvol_snapshot", {"lvol_name": "lvs0/lv0", "snapshot_name": "snap"})
    d.call("bdev_lvol_clone", {"snapshot_name": snap, "clone_name": "cl"})
    before = state(d)
    assert err(d, "bdev_lvol_delete", {"name": "lvs0/snap"}) == \
        errno_err(-32603, "Operation not permitted")
    assert state(d) == before


def test_delete_snapshot_with_one_clone_merges(lvs):
    d = lvs
    create(d, "lv0", 4)
    snap = d.call("bdev_lvol_snapshot", {"lvol_name": "lvs0/lv0", "snapshot_name": "snap"})
    d.call("bdev_lvol_clone", {"snapshot_name": snap, "clone_name": "cl"})
    d.call("bdev_lvol_delete", {"name": "lvs0/cl"})
    d.call("bdev_lvol_delete", {"name": "lvs0/snap"})
    assert lvol_info(d, "lvs0/lv0")["clone"] is False
    lv = lvols_by_alias(d)
    assert list(lv) == ["lvs0/lv0"]
    assert not lv["lvs0/lv0"]["is_clone"]
    assert lv["lvs0/lv0"]["num_allocated_clusters"] == 1


def test_delete_refused_while_open_for_writing(lvs):
    # An lvolstore inside an lvol holds it open (and claimed): the lvol stays.
    d = lvs
    u = create(d, "holder", 8)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": u, "lvs_name": "inner",
                                        "cluster_sz": 1048576})
    before = state(d)
    assert err(d, "bdev_lvol_delete", {"name": "lvs0/holder"}) == \
        errno_err(-32603, "Device or resource busy")
    assert state(d) == before
    d.call("bdev_lvol_delete_lvstore", {"lvs_name": "inner"})
    d.call("bdev_lvol_delete", {"name": "lvs0/holder"})


def test_inflate_and_decouple(lvs):
    d = lvs
    create(d, "lv0", 8, thin=True)
    d.call("bdev_lvol_snapshot", {"lvol_name": "lvs0/lv0", "snapshot_name": "snap"})
    d.call("bdev_lvol_clone", {"snapshot_name": "lvs0/snap", "clone_name": "cl"})
    assert ok(d.rpc("bdev_lvol_inflate", "lvs0/cl")) == ""
    ci = lvol_info(d, "lvs0/cl")
    assert ci["clone"] is False and ci["thin_provision"] is False
    assert ci["num_allocated_clusters"] == 2
    assert ok(d.rpc("bdev_lvol_decouple_parent", "lvs0/lv0")) == ""
    li = lvol_info(d, "lvs0/lv0")
    assert li["clone"] is False and li["thin_provision"] is True
    assert li["num_allocated_clusters"] == 0          # the snapshot had nothing allocated
    for m in ("bdev_lvol_inflate", "bdev_lvol_decouple_parent"):
        assert err(d, m, {"name": "lvs0/nope"}) == ENODEV
        assert err(d, m, {}) == DECODE_FAILED


def test_set_parent(lvs):
    d = lvs
    create(d, "src", 8, thin=True)
    snap = d.call("bdev_lvol_snapshot", {"lvol_name": "lvs0/src", "snapshot_name": "snap"})
    u = create(d, "orphan", 8, thin=True)
    assert ok(d.rpc("bdev_lvol_set_parent", "lvs0/orphan", "lvs0/snap")) == ""
    li = lvol_info(d, u)
    assert li["clone"] is True and li["base_snapshot"] == "snap"
    assert sorted(lvol_info(d, snap)["clones"]) == ["orphan", "src"]
    assert err(d, "bdev_lvol_set_parent", {"lvol_name": "lvs0/nope",
                                           "parent_name": "lvs0/snap"}) == ENODEV
    assert err(d, "bdev_lvol_set_parent", {"lvol_name": u, "parent_name": "lvs0/nope"}) == ENODEV
    create(d, "thick", 8)
    assert err(d, "bdev_lvol_set_parent", {"lvol_name": "lvs0/thick",
                                           "parent_name": "lvs0/snap"})["code"] == -32602


def test_clone_bdev_and_set_parent_bdev(lvs):
    d = lvs
    d.call("bdev_malloc_create", {"name": "Ext", "num_blocks": 16384, "block_size": 512})
    ext_uuid = d.call("bdev_get_bdevs", {"name": "Ext"})[0]["uuid"]
    out = ok(d.rpc("bdev_lvol_clone_bdev", "Ext", "lvs0", "ec"))
    ec = out.strip()
    assert UUID_RE.match(ec)
    b = d.call("bdev_get_bdevs", {"name": "lvs0/ec"})[0]
    assert b["num_blocks"] == 16384
    info = b["driver_specific"]["lvol"]
    assert info["esnap_clone"] is True and info["external_snapshot_name"] == ext_uuid
    assert info["thin_provision"] is True and info["clone"] is False
    assert key_order_ok(info, LVOL_KEYS)
    assert lvols_by_alias(d)["lvs0/ec"]["is_esnap_clone"] is True
    # By UUID too.
    d.call("bdev_lvol_clone_bdev", {"bdev": ext_uuid, "lvs_name": "lvs0", "clone_name": "ec2"})

    before = state(d)
    assert err(d, "bdev_lvol_clone_bdev", {"bdev": "Ext", "lvs_name": "nope",
                                           "clone_name": "x"}) == \
        errno_err(-32602, "lvs does not exist")
    assert err(d, "bdev_lvol_clone_bdev", {"bdev": "nope", "lvs_name": "lvs0",
                                           "clone_name": "x"}) == \
        errno_err(-32602, "bdev does not exist")
    assert err(d, "bdev_lvol_clone_bdev", {"bdev": "lvs0/ec", "lvs_name": "lvs0",
                                           "clone_name": "x"}) == \
        errno_err(-32602, "bdev is an lvol in same lvs as clone; use bdev_lvol_clone instead")
    assert err(d, "bdev_lvol_clone_bdev", {"bdev": "Ext", "lvs_name": "lvs0",
                                           "clone_name": "ec"}) == B_EEXIST
    assert err(d, "bdev_lvol_clone_bdev", {"bdev": "Ext", "lvs_name": "lvs0"}) == DECODE_FAILED
    assert state(d) == before

    u = create(d, "thin", 8, thin=True)
    assert ok(d.rpc("bdev_lvol_set_parent_bdev", "lvs0/thin", "Ext")) == ""
    info = lvol_info(d, u)
    assert info["esnap_clone"] is True and info["external_snapshot_name"] == ext_uuid
    assert err(d, "bdev_lvol_set_parent_bdev", {"lvol_name": "lvs0/nope",
                                                "parent_name": "Ext"}) == ENODEV
    assert err(d, "bdev_lvol_set_parent_bdev", {"lvol_name": u,
                                                "parent_name": "nope"})["code"] == -32602
    # Leave nothing depending on Ext: the teardown deletes everything in order.
    for name in ("lvs0/ec", "lvs0/ec2", "lvs0/thin"):
        d.call("bdev_lvol_delete", {"name": name})


# ---- retired names, rpc.py ---------------------------------------------------------------

RETIRED = {
    "construct_lvol_store": "bdev_lvol_create_lvstore",
    "destroy_lvol_store": "bdev_lvol_delete_lvstore",
    "rename_lvol_store": "bdev_lvol_rename_lvstore",
    "get_lvol_stores": "bdev_lvol_get_lvstores",
    "construct_lvol_bdev": "bdev_lvol_create",
    "snapshot_lvol_bdev": "bdev_lvol_snapshot",
    "clone_lvol_bdev": "bdev_lvol_clone",
    "rename_lvol_bdev": "bdev_lvol_rename",
    "resize_lvol_bdev": "bdev_lvol_resize",
    "set_read_only_lvol_bdev": "bdev_lvol_set_read_only",
    "destroy_lvol_bdev": "bdev_lvol_delete",
    "inflate_lvol_bdev": "bdev_lvol_inflate",
    "decouple_parent_lvol_bdev": "bdev_lvol_decouple_parent",
}
CURRENT = ["bdev_lvol_create_lvstore", "bdev_lvol_delete_lvstore", "bdev_lvol_rename_lvstore",
           "bdev_lvol_grow_lvstore", "bdev_lvol_get_lvstores", "bdev_lvol_create",
           "bdev_lvol_snapshot", "bdev_lvol_clone", "bdev_lvol_clone_bdev", "bdev_lvol_rename",
           "bdev_lvol_resize", "bdev_lvol_set_read_only", "bdev_lvol_delete",
           "bdev_lvol_inflate", "bdev_lvol_decouple_parent", "bdev_lvol_get_lvols",
           "bdev_lvol_set_parent", "bdev_lvol_set_parent_bdev"]


def test_methods_and_aliases_registered(daemon):
    names = set(daemon.call("rpc_get_methods"))
    assert set(CURRENT) <= names
    assert not set(RETIRED) & names
    with_aliases = set(daemon.call("rpc_get_methods", {"include_aliases": True}))
    assert set(RETIRED) <= with_aliases


def test_retired_names_work_on_the_wire(daemon):
    d = daemon
    d.call("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 131072, "block_size": 512})
    uuid = d.call("construct_lvol_store", {"bdev_name": "Malloc0", "lvs_name": "old"})
    assert d.call("get_lvol_stores")[0]["uuid"] == uuid
    d.call("rename_lvol_store", {"old_name": "old", "new_name": "lvs0"})
    u = d.call("construct_lvol_bdev", {"lvol_name": "a", "size": 4 * MIB, "lvs_name": "lvs0"})
    d.call("resize_lvol_bdev", {"name": u, "size": 8 * MIB})
    d.call("rename_lvol_bdev", {"old_name": u, "new_name": "b"})
    snap = d.call("snapshot_lvol_bdev", {"lvol_name": "lvs0/b", "snapshot_name": "s"})
    cl = d.call("clone_lvol_bdev", {"snapshot_name": snap, "clone_name": "c"})
    assert d.call("inflate_lvol_bdev", {"name": cl}) is True
    assert d.call("decouple_parent_lvol_bdev", {"name": u}) is True
    assert d.call("set_read_only_lvol_bdev", {"name": cl}) is True
    for name in (cl, u, snap):
        assert d.call("destroy_lvol_bdev", {"name": name}) is True
    assert d.call("destroy_lvol_store", {"lvs_name": "lvs0"}) is True
    assert d.call("get_lvol_stores") == []


def test_rpc_py_retired_spellings(daemon):
    d = daemon
    ok(d.rpc("construct_malloc_bdev", "64", "512", "-b", "Malloc0"))
    p = d.rpc("construct_lvol_store", "Malloc0", "lvs0")
    assert UUID_RE.match(ok(p).strip())
    assert "deprecated" in p.stderr
    u = ok(d.rpc("construct_lvol_bdev", "-l", "lvs0", "v", "4")).strip()
    assert UUID_RE.match(u)
    assert json.loads(ok(d.rpc("get_lvol_stores")))[0]["name"] == "lvs0"
    assert ok(d.rpc("resize_lvol_bdev", "lvs0/v", "8")) == ""
    assert ok(d.rpc("rename_lvol_bdev", "lvs0/v", "w")) == ""
    s = ok(d.rpc("snapshot_lvol_bdev", "lvs0/w", "s")).strip()
    c = ok(d.rpc("clone_lvol_bdev", "lvs0/s", "c")).strip()
    assert UUID_RE.match(s) and UUID_RE.match(c)
    for cmd, name in (("inflate_lvol_bdev", "lvs0/c"), ("decouple_parent_lvol_bdev", "lvs0/w"),
                      ("set_read_only_lvol_bdev", "lvs0/c"), ("destroy_lvol_bdev", "lvs0/c"),
                      ("destroy_lvol_bdev", "lvs0/w"), ("destroy_lvol_bdev", "lvs0/s")):
        assert ok(d.rpc(cmd, name)) == "", cmd
    assert ok(d.rpc("rename_lvol_store", "lvs0", "z")) == ""
    assert ok(d.rpc("destroy_lvol_store", "-l", "z")) == ""


def test_rpc_py_sends_spec_params_and_prints_errors(daemon):
    d = daemon
    p = d.rpc("--dry-run", "bdev_lvol_create", "-l", "lvs0", "lv0", "128", "-t")
    req = json.loads(ok(p).split("\n", 1)[1])
    assert req["params"] == {"lvol_name": "lv0", "size_in_mib": 128, "thin_provision": True,
                             "lvs_name": "lvs0"}
    assert list(req["params"]) == ["lvol_name", "size_in_mib", "thin_provision", "lvs_name"]
    p = d.rpc("--dry-run", "bdev_lvol_get_lvstores")
    assert "params" not in json.loads(ok(p).split("\n", 1)[1])
    p = d.rpc("--dry-run", "bdev_lvol_create_lvstore", "M", "l", "-c", "1048576",
              "--clear-method", "none", "-m", "50", "-s", "4096")
    assert json.loads(ok(p).split("\n", 1)[1])["params"] == {
        "bdev_name": "M", "lvs_name": "l", "cluster_sz": 1048576, "clear_method": "none",
        "num_md_pages_per_cluster_ratio": 50, "md_page_size": 4096}
    request, error = error_printout(d.rpc("bdev_lvol_delete", "lvs0/nope"))
    assert request == {"name": "lvs0/nope", "method": "bdev_lvol_delete", "req_id": 1}
    assert error == ENODEV


def test_create_lvstore_timeout_is_90s():
    from lvstor_rpc import cli      # daemon_util put scripts/ on sys.path
    parser = cli.build_parser()
    args = parser.parse_args(["bdev_lvol_create_lvstore", "M", "l"])
    assert args.command_timeout == 90.0
    args = parser.parse_args(["bdev_lvol_create", "v", "1", "-l", "l"])
    assert args.command_timeout is None
