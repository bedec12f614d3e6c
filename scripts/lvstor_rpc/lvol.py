"""Logical volume commands: lvolstores and lvols (spec/rpc.md section 2.3,
command reference section 3.4).

Create, snapshot and clone commands print the new UUID bare; the get
commands print indented JSON; bdev_lvol_grow_lvstore prints ``true``; the
other commands print nothing.  Retired spellings (construct_lvol_store, ...)
are argparse aliases that send the current method name.
bdev_lvol_create_lvstore waits up to 90 s for its answer unless -t is given
(clearing a large device takes a while).
"""

from .commands import add_command, params_of, print_json, print_string

MIB = 1024 * 1024
CREATE_LVSTORE_TIMEOUT = 90.0


# -- lvolstores -------------------------------------------------------------------

def bdev_lvol_create_lvstore(client, bdev_name, lvs_name, cluster_sz=None, clear_method=None,
                             num_md_pages_per_cluster_ratio=None, md_page_size=None):
    params = {"bdev_name": bdev_name, "lvs_name": lvs_name}
    params.update(params_of(cluster_sz=cluster_sz, clear_method=clear_method,
                            num_md_pages_per_cluster_ratio=num_md_pages_per_cluster_ratio,
                            md_page_size=md_page_size))
    return client.call("bdev_lvol_create_lvstore", params)


def bdev_lvol_delete_lvstore(client, uuid=None, lvs_name=None):
    return client.call("bdev_lvol_delete_lvstore", params_of(uuid=uuid, lvs_name=lvs_name))


def bdev_lvol_rename_lvstore(client, old_name, new_name):
    return client.call("bdev_lvol_rename_lvstore", {"old_name": old_name, "new_name": new_name})


def bdev_lvol_grow_lvstore(client, uuid=None, lvs_name=None):
    return client.call("bdev_lvol_grow_lvstore", params_of(uuid=uuid, lvs_name=lvs_name))


def bdev_lvol_get_lvstores(client, uuid=None, lvs_name=None):
    # No params member at all to list every store ({} is an error, spec 2.3.5).
    return client.call("bdev_lvol_get_lvstores",
                       params_of(uuid=uuid, lvs_name=lvs_name) or None)


# -- lvols ---------------------------------------------------------------------------

def bdev_lvol_create(client, lvol_name, size_in_mib, thin_provision=False, uuid=None,
                     lvs_name=None, clear_method=None):
    params = {"lvol_name": lvol_name, "size_in_mib": size_in_mib,
              "thin_provision": bool(thin_provision)}
    params.update(params_of(uuid=uuid, lvs_name=lvs_name, clear_method=clear_method))
    return client.call("bdev_lvol_create", params)


def bdev_lvol_snapshot(client, lvol_name, snapshot_name):
    return client.call("bdev_lvol_snapshot",
                       {"lvol_name": lvol_name, "snapshot_name": snapshot_name})


def bdev_lvol_clone(client, snapshot_name, clone_name):
    return client.call("bdev_lvol_clone", {"snapshot_name": snapshot_name,
                                           "clone_name": clone_name})


def bdev_lvol_clone_bdev(client, bdev, lvs_name, clone_name):
    return client.call("bdev_lvol_clone_bdev", {"bdev": bdev, "lvs_name": lvs_name,
                                                "clone_name": clone_name})


def bdev_lvol_rename(client, old_name, new_name):
    return client.call("bdev_lvol_rename", {"old_name": old_name, "new_name": new_name})


def bdev_lvol_resize(client, name, size_in_mib):
    return client.call("bdev_lvol_resize", {"name": name, "size_in_mib": size_in_mib})


def bdev_lvol_set_read_only(client, name):
    return client.call("bdev_lvol_set_read_only", {"name": name})


def bdev_lvol_delete(client, name):
    return client.call("bdev_lvol_delete", {"name": name})


def bdev_lvol_inflate(client, name):
    return client.call("bdev_lvol_inflate", {"name": name})


def bdev_lvol_decouple_parent(client, name):
    return client.call("bdev_lvol_decouple_parent", {"name": name})


def bdev_lvol_get_lvols(client, lvs_uuid=None, lvs_name=None):
    return client.call("bdev_lvol_get_lvols",
                       params_of(lvs_uuid=lvs_uuid, lvs_name=lvs_name) or None)


def bdev_lvol_set_parent(client, lvol_name, parent_name):
    return client.call("bdev_lvol_set_parent", {"lvol_name": lvol_name,
                                                "parent_name": parent_name})


def bdev_lvol_set_parent_bdev(client, lvol_name, parent_name):
    return client.call("bdev_lvol_set_parent_bdev", {"lvol_name": lvol_name,
                                                     "parent_name": parent_name})


def bdev_lvol_start_shallow_copy(client, src_lvol_name, dst_bdev_name):
    return client.call("bdev_lvol_start_shallow_copy", {"src_lvol_name": src_lvol_name,
                                                        "dst_bdev_name": dst_bdev_name})


def bdev_lvol_check_shallow_copy(client, operation_id):
    return client.call("bdev_lvol_check_shallow_copy", {"operation_id": operation_id})


# -- command line ----------------------------------------------------------------------

def _add_lvs_selector(p, uuid_dest="uuid", name_dest="lvs_name", long_uuid="--uuid",
                      long_name="--lvs-name"):
    p.add_argument("-u", long_uuid, dest=uuid_dest, help="lvol store UUID")
    p.add_argument("-l", long_name, dest=name_dest, help="lvol store name")


def _register_stores(sub):
    p = add_command(sub, "bdev_lvol_create_lvstore",
                    lambda c, a: bdev_lvol_create_lvstore(
                        c, a.bdev_name, a.lvs_name, cluster_sz=a.cluster_sz,
                        clear_method=a.clear_method,
                        num_md_pages_per_cluster_ratio=a.num_md_pages_per_cluster_ratio,
                        md_page_size=a.md_page_size),
                    help="Add a logical volume store on a bdev",
                    aliases=["construct_lvol_store"], output=print_string,
                    timeout=CREATE_LVSTORE_TIMEOUT)
    p.add_argument("bdev_name", help="base bdev name")
    p.add_argument("lvs_name", help="name for the lvol store")
    p.add_argument("-c", "--cluster-sz", dest="cluster_sz", type=int,
                   help="cluster size in bytes (default 4 MiB)")
    p.add_argument("--clear-method", dest="clear_method",
                   help="how the data area is cleared: none, unmap (default), write_zeroes")
    p.add_argument("-m", "--md-pages-per-cluster-ratio", dest="num_md_pages_per_cluster_ratio",
                   type=int, help="metadata pages reserved per 100 clusters (default 100)")
    p.add_argument("-s", "--md-page-size", dest="md_page_size", type=int,
                   help="metadata page size in bytes (power of two, 4096-65536)")

    p = add_command(sub, "bdev_lvol_delete_lvstore",
                    lambda c, a: bdev_lvol_delete_lvstore(c, uuid=a.uuid, lvs_name=a.lvs_name),
                    help="Destroy a logical volume store and every lvol in it",
                    aliases=["destroy_lvol_store"])
    _add_lvs_selector(p)

    p = add_command(sub, "bdev_lvol_rename_lvstore",
                    lambda c, a: bdev_lvol_rename_lvstore(c, a.old_name, a.new_name),
                    help="Rename a logical volume store", aliases=["rename_lvol_store"])
    p.add_argument("old_name", help="current name")
    p.add_argument("new_name", help="new name")

    p = add_command(sub, "bdev_lvol_grow_lvstore",
                    lambda c, a: bdev_lvol_grow_lvstore(c, uuid=a.uuid, lvs_name=a.lvs_name),
                    help="Grow a logical volume store to the size of its base bdev",
                    output=print_json)
    _add_lvs_selector(p)

    p = add_command(sub, "bdev_lvol_get_lvstores",
                    lambda c, a: bdev_lvol_get_lvstores(c, uuid=a.uuid, lvs_name=a.lvs_name),
                    help="Display logical volume stores", aliases=["get_lvol_stores"],
                    output=print_json)
    _add_lvs_selector(p)


def _register_lvols(sub):
    p = add_command(sub, "bdev_lvol_create",
                    lambda c, a: bdev_lvol_create(c, a.lvol_name, a.size_in_mib,
                                                  thin_provision=a.thin_provision, uuid=a.uuid,
                                                  lvs_name=a.lvs_name,
                                                  clear_method=a.clear_method),
                    help="Add a logical volume to a store", aliases=["construct_lvol_bdev"],
                    output=print_string)
    p.add_argument("-u", "--uuid", help="lvol store UUID")
    p.add_argument("-l", "--lvs-name", dest="lvs_name", help="lvol store name")
    p.add_argument("-t", "--thin-provision", dest="thin_provision", action="store_true",
                   help="allocate clusters on first write")
    p.add_argument("-c", "--clear-method", dest="clear_method",
                   help="on delete/resize: default, none, unmap, write_zeroes")
    p.add_argument("lvol_name", help="name for the lvol")
    p.add_argument("size_in_mib", type=int, help="size in MiB (rounded up to clusters)")

    p = add_command(sub, "bdev_lvol_snapshot",
                    lambda c, a: bdev_lvol_snapshot(c, a.lvol_name, a.snapshot_name),
                    help="Snapshot a logical volume", aliases=["snapshot_lvol_bdev"],
                    output=print_string)
    p.add_argument("lvol_name", help="lvol to snapshot (bdev name or lvs/lvol)")
    p.add_argument("snapshot_name", help="name for the snapshot")

    p = add_command(sub, "bdev_lvol_clone",
                    lambda c, a: bdev_lvol_clone(c, a.snapshot_name, a.clone_name),
                    help="Create a thin clone of a snapshot", aliases=["clone_lvol_bdev"],
                    output=print_string)
    p.add_argument("snapshot_name", help="snapshot to clone (bdev name or lvs/lvol)")
    p.add_argument("clone_name", help="name for the clone")

    p = add_command(sub, "bdev_lvol_clone_bdev",
                    lambda c, a: bdev_lvol_clone_bdev(c, a.bdev, a.lvs_name, a.clone_name),
                    help="Create a thin clone of any bdev (external snapshot)",
                    output=print_string)
    p.add_argument("bdev", help="bdev acting as read-only parent (name or UUID)")
    p.add_argument("lvs_name", help="lvol store for the clone")
    p.add_argument("clone_name", help="name for the clone")

    p = add_command(sub, "bdev_lvol_rename",
                    lambda c, a: bdev_lvol_rename(c, a.old_name, a.new_name),
                    help="Rename a logical volume", aliases=["rename_lvol_bdev"])
    p.add_argument("old_name", help="lvol (bdev name or lvs/lvol)")
    p.add_argument("new_name", help="new lvol name (without the store)")

    p = add_command(sub, "bdev_lvol_resize",
                    lambda c, a: bdev_lvol_resize(c, a.name, a.size_in_mib),
                    help="Resize a logical volume", aliases=["resize_lvol_bdev"])
    p.add_argument("name", help="lvol (bdev name or lvs/lvol)")
    p.add_argument("size_in_mib", type=int, help="new size in MiB (rounded up to clusters)")

    for name, alias, fn, text in (
            ("bdev_lvol_set_read_only", "set_read_only_lvol_bdev", bdev_lvol_set_read_only,
             "Mark a logical volume read-only"),
            ("bdev_lvol_delete", "destroy_lvol_bdev", bdev_lvol_delete,
             "Delete a logical volume"),
            ("bdev_lvol_inflate", "inflate_lvol_bdev", bdev_lvol_inflate,
             "Allocate every cluster of a thin lvol and cut it from its parent"),
            ("bdev_lvol_decouple_parent", "decouple_parent_lvol_bdev",
             bdev_lvol_decouple_parent,
             "Copy what the parent provides and cut the lvol from it")):
        p = add_command(sub, name, lambda c, a, fn=fn: fn(c, a.name), help=text,
                        aliases=[alias])
        p.add_argument("name", help="lvol (bdev name or lvs/lvol)")

    p = add_command(sub, "bdev_lvol_get_lvols",
                    lambda c, a: bdev_lvol_get_lvols(c, lvs_uuid=a.lvs_uuid,
                                                     lvs_name=a.lvs_name),
                    help="List logical volumes (also those without a bdev)",
                    output=print_json)
    _add_lvs_selector(p, uuid_dest="lvs_uuid", long_uuid="--lvs-uuid")

    p = add_command(sub, "bdev_lvol_set_parent",
                    lambda c, a: bdev_lvol_set_parent(c, a.lvol_name, a.parent_name),
                    help="Make an lvol a clone of a snapshot of the same store")
    p.add_argument("lvol_name", help="lvol (bdev name or lvs/lvol)")
    p.add_argument("parent_name", help="snapshot (bdev name or lvs/lvol)")

    p = add_command(sub, "bdev_lvol_set_parent_bdev",
                    lambda c, a: bdev_lvol_set_parent_bdev(c, a.lvol_name, a.parent_name),
                    help="Make an lvol a clone of an external bdev")
    p.add_argument("lvol_name", help="lvol (bdev name or lvs/lvol)")
    p.add_argument("parent_name", help="external bdev (name or UUID)")

    p = add_command(sub, "bdev_lvol_start_shallow_copy",
                    lambda c, a: bdev_lvol_start_shallow_copy(c, a.src_lvol_name,
                                                              a.dst_bdev_name),
                    help="Copy the allocated clusters of a read-only lvol to a bdev",
                    output=print_json)
    p.add_argument("src_lvol_name", help="read-only lvol")
    p.add_argument("dst_bdev_name", help="destination bdev")

    p = add_command(sub, "bdev_lvol_check_shallow_copy",
                    lambda c, a: bdev_lvol_check_shallow_copy(c, a.operation_id),
                    help="Progress of a shallow copy", output=print_json)
    p.add_argument("operation_id", type=int, help="id from bdev_lvol_start_shallow_copy")


def register(sub):
    _register_stores(sub)
    _register_lvols(sub)
