"""Lvolstores across restarts, save_config, SPDK-written stores, hot-remove
(issue 5: "restarts preserve everything", the fixture, hot remove), and esnap
clones whose external bdev is missing at a restart and appears later.

Every store here lives on an aio bdev over a sparse file in the test's temp
dir, created from the daemon's --json config, so a restart with the same
--json finds it again by examine. Data goes in and out with lvstor-dd while
no daemon runs (test_lvol_common).
"""

import lzma
import os
import shutil
import time

import pytest

from daemon_util import ok
from test_lvol_common import (FIXTURE, MIB, aio_config, check_image, dd_in, dd_out, err,
                              errno_err, lvol_bdevs, lvol_info, lvols_by_alias, sha256_of,
                              sparse_file, start, write_json)


def pattern(tag, size):
    """Deterministic, incompressible-enough bytes (different per tag)."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += (b"%s-%08d-" % (tag.encode(), i)) * 16
        i += 1
    return bytes(out[:size])


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def snapshot_of_state(d):
    """What a restart must preserve: the lvol listing and every lvol bdev."""
    bdevs = {}
    for name, b in lvol_bdevs(d).items():
        bdevs[name] = (tuple(b["aliases"]), b["block_size"], b["num_blocks"], b["uuid"],
                       tuple(sorted(b["driver_specific"]["lvol"].items(),
                                    key=lambda kv: kv[0])))
    lvols = sorted(d.call("bdev_lvol_get_lvols"), key=lambda lv: lv["uuid"])
    return d.call("bdev_lvol_get_lvstores"), lvols, bdevs


@pytest.fixture
def disk(workdir):
    img = sparse_file(os.path.join(workdir, "disk.img"), 256 * MIB)
    cfg = write_json(workdir, aio_config(img))
    return img, cfg


def test_restart_preserves_names_uuids_relations_and_data(lvstord, workdir, disk):
    img, cfg = disk
    d = start(lvstord, cfg)
    lvs_uuid = d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0",
                                                   "cluster_sz": MIB})
    thick = d.call("bdev_lvol_create", {"lvol_name": "thick", "size_in_mib": 8,
                                        "lvs_name": "lvs0"})
    thin = d.call("bdev_lvol_create", {"lvol_name": "thin", "size_in_mib": 8,
                                       "thin_provision": True, "lvs_name": "lvs0"})
    assert d.stop() == 0
    check_image(img, expect_clean=True)

    a = write_file(os.path.join(workdir, "a.bin"), pattern("A", 8 * MIB))
    b = write_file(os.path.join(workdir, "b.bin"), pattern("B", 2 * MIB))
    dd_in(cfg, a, "lvs0/thick")
    dd_in(cfg, b, thin, bs=MIB, seek=3)

    d = start(lvstord, cfg)
    assert lvol_info(d, thin)["num_allocated_clusters"] == 2
    snap = d.call("bdev_lvol_snapshot", {"lvol_name": "lvs0/thick", "snapshot_name": "snap"})
    clone = d.call("bdev_lvol_clone", {"snapshot_name": "lvs0/snap", "clone_name": "clone"})
    d.call("bdev_lvol_rename", {"old_name": thin, "new_name": "thin2"})
    assert d.stop() == 0

    c = write_file(os.path.join(workdir, "c.bin"), pattern("C", MIB))
    dd_in(cfg, c, "lvs0/clone", bs=MIB, seek=2)

    d = start(lvstord, cfg)
    before = snapshot_of_state(d)
    assert before[0][0]["uuid"] == lvs_uuid
    lv = lvols_by_alias(d)
    assert set(lv) == {"lvs0/thick", "lvs0/thin2", "lvs0/snap", "lvs0/clone"}
    assert lv["lvs0/thick"]["uuid"] == thick and lv["lvs0/snap"]["uuid"] == snap
    assert lv["lvs0/clone"]["uuid"] == clone and lv["lvs0/thin2"]["uuid"] == thin
    assert sorted(lvol_info(d, snap)["clones"]) == ["clone", "thick"]
    assert lvol_info(d, clone)["base_snapshot"] == "snap"
    assert lvol_info(d, clone)["num_allocated_clusters"] == 1
    assert d.stop() == 0

    d = start(lvstord, cfg)
    assert snapshot_of_state(d) == before
    assert d.stop() == 0
    check_image(img, expect_clean=True)

    out = os.path.join(workdir, "out.bin")
    A, B, C = pattern("A", 8 * MIB), pattern("B", 2 * MIB), pattern("C", MIB)
    assert dd_out(cfg, "lvs0/thick", out) == A
    assert dd_out(cfg, "lvs0/snap", out) == A
    assert dd_out(cfg, "lvs0/clone", out) == A[:2 * MIB] + C + A[3 * MIB:]
    assert dd_out(cfg, "lvs0/thin2", out) == bytes(3 * MIB) + B + bytes(3 * MIB)


def test_save_config_round_trip(lvstord, workdir, disk):
    img, cfg = disk
    d = start(lvstord, cfg)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0"})
    d.call("bdev_lvol_create", {"lvol_name": "v", "size_in_mib": 4, "lvs_name": "lvs0",
                                "thin_provision": True})
    saved = ok(d.rpc("save_config"))
    before = snapshot_of_state(d)
    assert d.stop() == 0
    text = saved
    assert "bdev_aio_create" in text
    assert "bdev_lvol" not in text and "lvol_store" not in text
    path = os.path.join(workdir, "saved.json")
    with open(path, "w") as f:
        f.write(saved)
    d = start(lvstord, path)
    assert snapshot_of_state(d) == before, d.output()


def _decompress_sparse(src, dst):
    """xz → a sparse file (zero MiB chunks become holes)."""
    with lzma.open(src, "rb") as fin, open(dst, "wb") as fout:
        zero = bytes(MIB)
        while True:
            chunk = fin.read(MIB)
            if not chunk:
                break
            if chunk == zero[:len(chunk)]:
                fout.seek(len(chunk), os.SEEK_CUR)
            else:
                fout.write(chunk)
        fout.truncate()
    return dst


FIXTURE_LVOLS = {
    "vol_a": ("46e33bc9-522a-4f33-98b4-bf81c397f9d4",
              "e7ed0e9e8acd406b27863a548575b3b200d14a0705bfe1a1c5f7d47439fcc89e"),
    "snap_a": ("e1d8933d-c492-495c-95f4-f73a503f3540",
               "e7ed0e9e8acd406b27863a548575b3b200d14a0705bfe1a1c5f7d47439fcc89e"),
    "clone_a": ("19b7cc25-0233-42bf-8aaa-11cd949197bc",
                "c1466b3f0c6af9585afab15de21547fae162cdaa5d4cb6bcc0af34b1103bccfb"),
    "vol_thin": ("e0e52b3c-f7db-46b8-8bf7-fe21f227b207",
                 "a89c18d78b452c8cd23486af8a3dd4ab88ff2c1cbf8b389bc0c0ff03d5cff319"),
}


def test_spdk_fixture_loads_by_examine(lvstord, workdir):
    if not os.path.exists(FIXTURE):
        pytest.fail("fixture %s missing (LVSTOR_FIXTURE)" % FIXTURE)
    img = _decompress_sparse(FIXTURE, os.path.join(workdir, "spdk.img"))
    cfg = write_json(workdir, aio_config(img, name="Fx"))
    d = start(lvstord, cfg, bases=("Fx",))
    stores = d.call("bdev_lvol_get_lvstores")
    assert len(stores) == 1
    s = stores[0]
    assert (s["name"], s["uuid"], s["base_bdev"]) == \
        ("lvsf", "78fbab11-9fb0-4d37-b304-e14456150389", "Fx")
    assert (s["cluster_size"], s["block_size"], s["total_data_clusters"],
            s["free_clusters"]) == (4194304, 4096, 255, 236)
    lv = lvols_by_alias(d)
    assert set(lv) == {"lvsf/" + n for n in FIXTURE_LVOLS}
    for name, (uuid, _) in FIXTURE_LVOLS.items():
        assert lv["lvsf/" + name]["uuid"] == uuid
        b = d.call("bdev_get_bdevs", {"name": uuid})[0]
        assert b["aliases"] == ["lvsf/" + name]
        assert (b["block_size"], b["num_blocks"]) == (4096, 16384)
    info = {n: lvol_info(d, u) for n, (u, _) in FIXTURE_LVOLS.items()}
    assert info["vol_a"]["clone"] and info["vol_a"]["base_snapshot"] == "snap_a"
    assert info["vol_a"]["num_allocated_clusters"] == 0 and info["vol_a"]["thin_provision"]
    assert info["snap_a"]["snapshot"] and info["snap_a"]["num_allocated_clusters"] == 16
    assert sorted(info["snap_a"]["clones"]) == ["clone_a", "vol_a"]
    assert info["clone_a"]["base_snapshot"] == "snap_a"
    assert info["clone_a"]["num_allocated_clusters"] == 1
    assert not info["vol_thin"]["clone"] and info["vol_thin"]["thin_provision"]
    assert info["vol_thin"]["num_allocated_clusters"] == 2
    io = d.call("bdev_get_bdevs", {"name": "lvsf/snap_a"})[0]["supported_io_types"]
    assert not io["write"]
    assert d.stop() == 0
    check_image(img, expect_clean=True)
    out = os.path.join(workdir, "vol.bin")
    for name, (uuid, digest) in FIXTURE_LVOLS.items():
        dd_out(cfg, uuid, out)
        assert os.path.getsize(out) == 64 * MIB
        assert sha256_of(out) == digest, name


def test_hot_remove_cascades_into_store_inside_lvol(lvstord, workdir):
    # Deleting the outer store unregisters its lvol bdevs; one of them is the
    # base of another store, which sees a hot-remove of its base bdev.
    d = lvstord()
    d.call("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 65536, "block_size": 4096})
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "Malloc0", "lvs_name": "outer",
                                        "cluster_sz": MIB})
    u = d.call("bdev_lvol_create", {"lvol_name": "holder", "size_in_mib": 64,
                                    "lvs_name": "outer"})
    d.call("bdev_lvol_create_lvstore", {"bdev_name": u, "lvs_name": "inner",
                                        "cluster_sz": MIB})
    for i in range(3):
        d.call("bdev_lvol_create", {"lvol_name": "d%d" % i, "size_in_mib": 4,
                                    "lvs_name": "inner", "thin_provision": bool(i)})
    d.call("bdev_lvol_snapshot", {"lvol_name": "inner/d0", "snapshot_name": "s"})
    assert len(lvol_bdevs(d)) == 5
    assert d.call("bdev_lvol_delete_lvstore", {"lvs_name": "outer"}, timeout=20) is True
    deadline = time.monotonic() + 10
    while (lvol_bdevs(d) or d.call("bdev_lvol_get_lvstores")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lvol_bdevs(d) == {}
    assert d.call("bdev_lvol_get_lvstores") == []
    assert d.call("bdev_lvol_get_lvols") == []
    assert d.call("bdev_get_bdevs", {"name": "Malloc0"})[0]["claimed"] is False
    assert "base bdev %s is going away" % u in d.output()


def test_delete_of_claimed_base_bdev_is_refused(lvstord, workdir):
    # Issue 3 lists "deleting a bdev that is claimed" as bad input: it gets
    # its errno and changes nothing (SPDK would hot-remove the store). The
    # store's reaction to its base really going away is covered by
    # test/unit/bdev_lvol (base unregistered under it) and by the
    # lvol-inside-lvol removal above.
    img = sparse_file(os.path.join(workdir, "hot.img"), 128 * MIB)
    d = lvstord()
    d.call("bdev_aio_create", {"name": "AIO0", "filename": img, "block_size": 4096})
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0",
                                        "cluster_sz": MIB})
    u = d.call("bdev_lvol_create", {"lvol_name": "v0", "size_in_mib": 16, "lvs_name": "lvs0"})
    d.call("bdev_lvol_create", {"lvol_name": "v1", "size_in_mib": 8, "lvs_name": "lvs0",
                                "thin_provision": True})
    d.call("bdev_lvol_snapshot", {"lvol_name": "lvs0/v1", "snapshot_name": "s1"})
    # A store inside an lvol as well: nothing of either may change.
    d.call("bdev_lvol_create_lvstore", {"bdev_name": u, "lvs_name": "inner",
                                        "cluster_sz": MIB})
    d.call("bdev_lvol_create", {"lvol_name": "deep", "size_in_mib": 4, "lvs_name": "inner"})
    before = lvols_by_alias(d)
    assert len(lvol_bdevs(d)) == 4

    assert err(d, "bdev_aio_delete", {"name": "AIO0"}) == errno_err(-16, "Device or resource busy")
    assert "claimed" in d.output()
    assert lvols_by_alias(d) == before
    assert len(lvol_bdevs(d)) == 4
    assert d.stop() == 0
    check_image(img, expect_clean=True)


def test_store_name_collision_is_refused(lvstord, workdir, disk):
    img, cfg = disk
    d = start(lvstord, cfg)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "same"})
    d.call("bdev_lvol_create", {"lvol_name": "v", "size_in_mib": 4, "lvs_name": "same"})
    assert d.stop() == 0
    copy = os.path.join(workdir, "copy.img")
    shutil.copyfile(img, copy)
    doc = aio_config(img, extra=[{"method": "bdev_aio_create",
                                  "params": {"name": "AIO1", "filename": copy,
                                             "block_size": 4096}}])
    cfg2 = write_json(workdir, doc, "two.json")
    d = start(lvstord, cfg2, bases=("AIO0", "AIO1"))
    stores = d.call("bdev_lvol_get_lvstores")
    assert [s["base_bdev"] for s in stores] == ["AIO0"]
    assert d.call("bdev_get_bdevs", {"name": "AIO1"})[0]["claimed"] is False
    assert len(lvol_bdevs(d)) == 1
    assert "already used by a loaded store" in d.output()
    # The refused copy is usable: deleting the loaded store lets it load on a re-create.
    d.call("bdev_lvol_delete_lvstore", {"lvs_name": "same"})
    d.call("bdev_aio_delete", {"name": "AIO1"})
    d.call("bdev_aio_create", {"name": "AIO1", "filename": copy, "block_size": 4096})
    assert [s["base_bdev"] for s in d.call("bdev_lvol_get_lvstores")] == ["AIO1"]


def test_shutdown_unloads_clean(lvstord, workdir, disk):
    img, cfg = disk
    d = start(lvstord, cfg)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0"})
    for i in range(8):
        d.call("bdev_lvol_create", {"lvol_name": "v%d" % i, "size_in_mib": 4,
                                    "lvs_name": "lvs0", "thin_provision": bool(i % 2)})
    assert d.stop() == 0
    check_image(img, expect_clean=True)


def test_shutdown_unloads_empty_store_clean(lvstord, workdir, disk):
    img, cfg = disk
    d = start(lvstord, cfg)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0"})
    assert d.stop() == 0
    check_image(img, expect_clean=True)


# ---- external snapshots that appear later (degraded esnap clones come back) ----------------

EXT_UUID = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"


def ext_entry(path):
    """The external snapshot: an aio bdev whose UUID, the one EXTSNAP records, is fixed."""
    return {"method": "bdev_aio_create",
            "params": {"name": "Ext", "filename": path, "block_size": 4096, "uuid": EXT_UUID}}


def esnap_delete_behaviour(d, clone):
    """Deletes the bdev Ext under the esnap clone `clone` and reports what happens.

    (Whatever lvstord does for a clone whose external snapshot opened at load,
    a hot-plugged one must do the same: the caller compares.) The clone is
    deleted at the end, which lets the removal of Ext finish.
    """
    seen = {}
    with d.raw() as r:
        r.send({"jsonrpc": "2.0", "method": "bdev_aio_delete", "params": {"name": "Ext"},
                "id": 7})
        try:
            seen["answered_at_once"] = r.recv(timeout=1.0)
        except OSError:
            seen["answered_at_once"] = None
        names = {b["name"] for b in d.call("bdev_get_bdevs")}
        seen["ext_listed"] = "Ext" in names
        seen["clone_bdev"] = d.call("bdev_get_bdevs", {"name": clone})[0]["aliases"] == [clone]
        seen["clone_degraded"] = lvols_by_alias(d)[clone]["is_degraded"]
        d.call("bdev_lvol_delete", {"name": clone})
        if seen["answered_at_once"] is None:
            seen["answered_after_clone_delete"] = r.recv(timeout=10)["result"]
    seen["ext_gone"] = "Ext" not in {b["name"] for b in d.call("bdev_get_bdevs")}
    return seen


def test_esnap_clone_comes_back_when_its_bdev_appears(lvstord, workdir, disk):
    img, cfg = disk
    E = pattern("E", 8 * MIB)
    ext = write_file(os.path.join(workdir, "ext.img"), E)
    # Ext registered before the store is examined: the clone opens it at load.
    cfg_load = write_json(workdir, {"subsystems": [{"subsystem": "bdev", "config": [
        ext_entry(ext), aio_config(img)["subsystems"][0]["config"][0],
        {"method": "bdev_wait_for_examine"}]}]}, "load.json")
    # Ext registered only once the store is loaded: the clone comes back by hot-plug.
    cfg_late = write_json(workdir, aio_config(img, extra=[{"method": "bdev_wait_for_examine"},
                                                          ext_entry(ext)]), "late.json")

    d = start(lvstord, cfg)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0",
                                        "cluster_sz": MIB})
    d.call("bdev_aio_create", ext_entry(ext)["params"])
    ec = d.call("bdev_lvol_clone_bdev", {"bdev": "Ext", "lvs_name": "lvs0", "clone_name": "ec"})
    assert d.stop() == 0
    C = pattern("C", MIB)
    dd_in(cfg_load, write_file(os.path.join(workdir, "c.bin"), C), "lvs0/ec", bs=MIB, seek=2)

    # Restart without Ext: listed, degraded, no bdev.
    d = start(lvstord, cfg)
    lv = lvols_by_alias(d)["lvs0/ec"]
    assert lv["is_degraded"] is True and lv["is_esnap_clone"] is True
    assert err(d, "bdev_get_bdevs", {"name": "lvs0/ec"})["code"] == -19
    assert lvol_bdevs(d) == {}
    # Another bdev appearing changes nothing.
    d.call("bdev_malloc_create", {"name": "M0", "num_blocks": 2048, "block_size": 4096})
    d.call("bdev_wait_for_examine")
    assert lvols_by_alias(d)["lvs0/ec"]["is_degraded"] is True
    # No snapshot of a degraded clone (it would move the missing parent away).
    e = err(d, "bdev_lvol_snapshot", {"lvol_name": "lvs0/ec", "snapshot_name": "s"})
    assert e["code"] == -32602 and "No such device" in e["message"], e
    assert "lvs0/s" not in lvols_by_alias(d)
    # Ext appears: the clone gets its bdev (UUID name, lvs/lvol alias), not degraded.
    d.call("bdev_aio_create", ext_entry(ext)["params"])
    d.call("bdev_wait_for_examine")
    b = d.call("bdev_get_bdevs", {"name": "lvs0/ec", "timeout": 5000}, timeout=10)[0]
    assert b["name"] == ec and b["aliases"] == ["lvs0/ec"]
    assert b["num_blocks"] == 8 * MIB // 4096
    info = b["driver_specific"]["lvol"]
    assert info["esnap_clone"] is True and info["external_snapshot_name"] == EXT_UUID
    assert lvols_by_alias(d)["lvs0/ec"]["is_degraded"] is False
    assert "its external snapshot appeared" in d.output()
    assert d.stop() == 0
    check_image(img, expect_clean=True)

    # Reads go through to the external snapshot, also when it registers during a
    # --json start-up after the store has loaded (lvstor-dd runs cfg_late).
    out = os.path.join(workdir, "out.bin")
    assert dd_out(cfg_late, "lvs0/ec", out) == E[:2 * MIB] + C + E[3 * MIB:]
    assert dd_out(cfg_load, "lvs0/ec", out) == E[:2 * MIB] + C + E[3 * MIB:]

    # Deleting Ext under the clone: the same for a clone attached at load ...
    d = start(lvstord, cfg_load, bases=("Ext", "AIO0"))
    assert lvols_by_alias(d)["lvs0/ec"]["is_degraded"] is False
    at_load = esnap_delete_behaviour(d, "lvs0/ec")
    # (a new clone for the second half, while Ext is back; it reuses the deleted
    # clone's blob id, and must not come up degraded because the delete had
    # re-opened that blob while Ext was missing)
    d.call("bdev_aio_create", ext_entry(ext)["params"])
    d.call("bdev_lvol_clone_bdev", {"bdev": "Ext", "lvs_name": "lvs0", "clone_name": "ec2"})
    assert d.stop() == 0
    # ... and for one that came back by hot-plug.
    d = start(lvstord, cfg)
    assert lvols_by_alias(d)["lvs0/ec2"]["is_degraded"] is True
    d.call("bdev_aio_create", ext_entry(ext)["params"])
    d.call("bdev_wait_for_examine")
    assert lvols_by_alias(d)["lvs0/ec2"]["is_degraded"] is False
    hot_plugged = esnap_delete_behaviour(d, "lvs0/ec2")
    assert hot_plugged == at_load
    # What that behaviour is today: Ext is hidden at once, the clone keeps its
    # bdev (not degraded), and the delete is answered once the clone has gone.
    assert at_load == {"answered_at_once": None, "ext_listed": False, "clone_bdev": True,
                       "clone_degraded": False, "answered_after_clone_delete": True,
                       "ext_gone": True}
    assert d.stop() == 0
    check_image(img, expect_clean=True)


def test_thousand_lvols_create_list_restart_delete(lvstord, workdir):
    img = sparse_file(os.path.join(workdir, "k.img"), 2048 * MIB)
    cfg = write_json(workdir, aio_config(img))
    d = start(lvstord, cfg)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0",
                                        "cluster_sz": MIB, "clear_method": "none"})
    n = 1000
    t0 = time.monotonic()
    with d.client() as c:
        uuids = [c.call("bdev_lvol_create", {"lvol_name": "v%04d" % i, "size_in_mib": 1,
                                             "thin_provision": True, "lvs_name": "lvs0"})
                 for i in range(n)]
    created = time.monotonic() - t0
    print("created %d thin lvols in %.3f s" % (n, created))
    assert len(set(uuids)) == n
    assert len(d.call("bdev_lvol_get_lvols")) == n
    assert len(lvol_bdevs(d)) == n
    assert d.stop() == 0

    t0 = time.monotonic()
    d = start(lvstord, cfg)
    print("restart with %d lvols: %.3f s" % (n, time.monotonic() - t0))
    lv = {x["name"]: x["uuid"] for x in d.call("bdev_lvol_get_lvols")}
    assert lv == {"v%04d" % i: uuids[i] for i in range(n)}
    assert set(lvol_bdevs(d)) == set(uuids)
    with d.client() as c:
        for u in uuids:
            c.call("bdev_lvol_delete", {"name": u})
    assert d.call("bdev_lvol_get_lvols") == []
    assert d.stop() == 0
    d = start(lvstord, cfg)
    assert d.call("bdev_lvol_get_lvols") == []
    assert d.call("bdev_lvol_get_lvstores")[0]["free_clusters"] == \
        d.call("bdev_lvol_get_lvstores")[0]["total_data_clusters"]
