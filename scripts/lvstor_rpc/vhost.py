"""vhost commands: vhost-blk controllers and the methods common to every
controller type (spec/rpc.md section 2.4, command reference section 3.4).

vhost_get_controllers prints indented JSON; the other commands print
nothing.  Retired spellings (construct_vhost_blk_controller,
get_vhost_controllers, remove_vhost_controller,
set_vhost_controller_coalescing) are argparse aliases that send the current
method name.  The vhost-scsi commands come with vhost-scsi.
"""

from .commands import add_command, params_of, print_json


def vhost_create_blk_controller(client, ctrlr, dev_name, cpumask=None, readonly=False,
                                packed_ring=False, transport=None):
    params = {"ctrlr": ctrlr, "dev_name": dev_name}
    params.update(params_of(cpumask=cpumask, transport=transport))
    # Sent even when false, as rpc.py HEAD does (spec section 2.4.5).
    params["readonly"] = bool(readonly)
    params["packed_ring"] = bool(packed_ring)
    return client.call("vhost_create_blk_controller", params)


def vhost_get_controllers(client, name=None):
    # No params member at all to list every controller.
    return client.call("vhost_get_controllers", params_of(name=name) or None)


def vhost_delete_controller(client, ctrlr):
    return client.call("vhost_delete_controller", {"ctrlr": ctrlr})


def vhost_controller_set_coalescing(client, ctrlr, delay_base_us, iops_threshold):
    return client.call("vhost_controller_set_coalescing",
                       {"ctrlr": ctrlr, "delay_base_us": delay_base_us,
                        "iops_threshold": iops_threshold})


# -- command line --------------------------------------------------------------------

def register(sub):
    p = add_command(sub, "vhost_create_blk_controller",
                    lambda c, a: vhost_create_blk_controller(c, a.ctrlr, a.dev_name,
                                                             cpumask=a.cpumask,
                                                             readonly=a.readonly,
                                                             packed_ring=a.packed_ring,
                                                             transport=a.transport),
                    help="Create a vhost-user block controller serving a bdev",
                    aliases=["construct_vhost_blk_controller"])
    p.add_argument("ctrlr", help="controller name (the socket file in the -S directory)")
    p.add_argument("dev_name", help="bdev to expose")
    p.add_argument("--cpumask", help="cores for the controller's poller, e.g. 0x2 or [1] "
                   "(default: the daemon's core mask)")
    p.add_argument("--transport", help="virtio-blk transport (default: vhost_user_blk)")
    p.add_argument("-r", "--readonly", action="store_true",
                   help="offer a read-only device (VIRTIO_BLK_F_RO); writes fail")
    p.add_argument("-p", "--packed-ring", "--packed_ring", dest="packed_ring",
                   action="store_true", help="offer virtio packed rings")

    p = add_command(sub, "vhost_get_controllers",
                    lambda c, a: vhost_get_controllers(c, a.name),
                    help="List vhost controllers", aliases=["get_vhost_controllers"],
                    output=print_json)
    p.add_argument("-n", "--name", help="only this controller")

    p = add_command(sub, "vhost_delete_controller",
                    lambda c, a: vhost_delete_controller(c, a.ctrlr),
                    help="Delete a vhost controller and its socket (refused while a VM "
                         "is connected)", aliases=["remove_vhost_controller"])
    p.add_argument("ctrlr", help="controller name")

    p = add_command(sub, "vhost_controller_set_coalescing",
                    lambda c, a: vhost_controller_set_coalescing(c, a.ctrlr,
                                                                 a.delay_base_us,
                                                                 a.iops_threshold),
                    help="Set the interrupt coalescing of a vhost controller",
                    aliases=["set_vhost_controller_coalescing"])
    p.add_argument("ctrlr", help="controller name")
    p.add_argument("delay_base_us", type=int,
                   help="base delay of a call notification in microseconds (0: off)")
    p.add_argument("iops_threshold", type=int,
                   help="requests per second above which notifications are coalesced")
