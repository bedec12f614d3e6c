"""The bdev under a connected vhost-blk controller goes away (issue 6, item 4):
the guest's new requests fail with an I/O error, the daemon does not crash,
and vhost_get_controllers shows the controller with bdev null until it is
deleted."""

import json

from qemu import check_results, rpc


def test_vhost_blk_bdev_removed_under_guest(workdir, lvstord, guests):
    d = lvstord()
    rpc(d.sock, "bdev_malloc_create", "-b", "Malloc0", "16", "512")
    rpc(d.sock, "vhost_create_blk_controller", "vblk0", "Malloc0")
    g = guests("vhost_blk_hotremove", ["hotremove"])
    g.add_vhost_blk("%s/vblk0" % d.workdir)
    g.start()
    g.wait_ready("hotremove")
    rpc(d.sock, "bdev_malloc_delete", "Malloc0")
    check_results(g.wait(), ["hotremove"])
    ctrlr = json.loads(rpc(d.sock, "vhost_get_controllers", "-n", "vblk0"))[0]
    assert ctrlr["backend_specific"]["block"]["bdev"] is None, ctrlr
    assert json.loads(rpc(d.sock, "bdev_get_bdevs")) == []
    # The VM has gone: the controller can be deleted now.
    rpc(d.sock, "vhost_delete_controller", "vblk0")
    assert json.loads(rpc(d.sock, "vhost_get_controllers")) == []
