"""kill -9 in the middle of lvol operations (issue 5: "a crash in the middle of
any lvol operation leaves a store that loads with every lvol either fully
there or fully absent").

Each round starts lvstord on the same image, checks what the last crash
left, fires a burst of creates / snapshots / clones / renames / resizes /
deletes down one connection without waiting for the answers, kills the
daemon with SIGKILL at a random moment, and runs lvstor-check on the image
(the offline checker must accept it; warnings about transient states are
fine). The next round's start is the load test: the store must come up,
and every lvol it lists must have its bdev, its size, and parents and
clones that exist.
"""

import json
import os
import random
import signal
import time

from test_lvol_common import (MIB, aio_config, check_image, lvol_bdevs, sparse_file, start,
                              write_json)

ROUNDS = int(os.environ.get("LVSTOR_CRASH_ROUNDS", "20"))
BURST = 40


def check_consistent(d):
    """Every listed lvol is whole: a bdev of its size, parents and clones that exist."""
    stores = d.call("bdev_lvol_get_lvstores")
    assert [s["name"] for s in stores] == ["lvs0"], stores
    lvols = d.call("bdev_lvol_get_lvols")
    bdevs = lvol_bdevs(d)
    names = [lv["name"] for lv in lvols]
    assert len(set(names)) == len(names), names
    by_name = {lv["name"]: lv for lv in lvols}
    for lv in lvols:
        assert not lv["is_degraded"], lv
        b = bdevs.get(lv["uuid"])
        assert b is not None, "lvol %s has no bdev" % lv["alias"]
        assert b["aliases"] == [lv["alias"]]
        assert b["num_blocks"] > 0
        info = b["driver_specific"]["lvol"]
        if info["clone"]:
            assert info["base_snapshot"] in by_name, (lv, info)
            parent = lvol_bdevs_info(bdevs, by_name[info["base_snapshot"]])
            assert lv["name"] in parent.get("clones", []), (lv, parent)
        for c in info.get("clones", []):
            assert c in by_name, (lv, info)
    assert len(bdevs) == len(lvols)
    used = sum(lv["num_allocated_clusters"] for lv in lvols)
    s = stores[0]
    assert s["total_data_clusters"] - s["free_clusters"] == used, (s, used)
    return lvols


def lvol_bdevs_info(bdevs, lv):
    return bdevs[lv["uuid"]]["driver_specific"]["lvol"]


def burst(rng, lvols, seq):
    """BURST requests over the names that exist now (some will fail: fine)."""
    names = [lv["name"] for lv in lvols]
    snaps = [lv["name"] for lv in lvols if lv["is_snapshot"]]
    reqs = []
    for _ in range(BURST):
        seq[0] += 1
        n = seq[0]
        op = rng.random()
        if op < 0.35 or not names:
            p = ("bdev_lvol_create", {"lvol_name": "v%d" % n, "size_in_mib": rng.choice([1, 2, 3]),
                                      "thin_provision": rng.random() < 0.5, "lvs_name": "lvs0"})
        elif op < 0.5:
            p = ("bdev_lvol_snapshot", {"lvol_name": "lvs0/" + rng.choice(names),
                                        "snapshot_name": "s%d" % n})
        elif op < 0.6 and snaps:
            p = ("bdev_lvol_clone", {"snapshot_name": "lvs0/" + rng.choice(snaps),
                                     "clone_name": "c%d" % n})
        elif op < 0.7:
            p = ("bdev_lvol_rename", {"old_name": "lvs0/" + rng.choice(names),
                                      "new_name": "r%d" % n})
        elif op < 0.78:
            p = ("bdev_lvol_resize", {"name": "lvs0/" + rng.choice(names),
                                      "size_in_mib": rng.choice([1, 2, 4])})
        else:
            p = ("bdev_lvol_delete", {"name": "lvs0/" + rng.choice(names)})
        reqs.append({"jsonrpc": "2.0", "id": n, "method": p[0], "params": p[1]})
    return reqs


def test_kill_9_during_lvol_operations(lvstord, workdir):
    rng = random.Random(int(os.environ.get("LVSTOR_CRASH_SEED", "5")))
    img = sparse_file(os.path.join(workdir, "crash.img"), 512 * MIB)
    cfg = write_json(workdir, aio_config(img))
    d = start(lvstord, cfg)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0",
                                        "cluster_sz": MIB, "clear_method": "none"})
    seq = [0]
    for rnd in range(ROUNDS):
        lvols = check_consistent(d)
        reqs = burst(rng, lvols, seq)
        with d.raw(timeout=10) as r:
            for q in reqs:
                r.send(json.dumps(q))
            time.sleep(rng.uniform(0.0, 0.06))
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(10)
        d.returncode = d.proc.returncode
        d._log.close()
        check_image(img)
        d = start(lvstord, cfg)
    check_consistent(d)
    assert d.stop() == 0
    check_image(img, expect_clean=True)
