"""Bdev back-end commands: malloc, null, aio and uring bdevs
(spec/rpc.md sections 2.2.3 - 2.2.7, command reference section 3.4).

Create commands print the new bdev's bare name; delete and rescan commands
print nothing.  Retired spellings (construct_malloc_bdev, ...) are argparse
aliases that send the current method name.
"""

from .commands import add_command, params_of, print_string

MIB = 1024 * 1024


# -- malloc ---------------------------------------------------------------------

def bdev_malloc_create(client, num_blocks, block_size, name=None, uuid=None,
                       physical_block_size=None, optimal_io_boundary=None, md_size=None,
                       md_interleave=False, dif_type=None, dif_is_head_of_md=False,
                       dif_pi_format=None, numa_id=None):
    params = {"num_blocks": num_blocks, "block_size": block_size}
    params.update(params_of(name=name, uuid=uuid, physical_block_size=physical_block_size,
                            optimal_io_boundary=optimal_io_boundary, md_size=md_size))
    params["md_interleave"] = bool(md_interleave)
    params.update(params_of(dif_type=dif_type))
    params["dif_is_head_of_md"] = bool(dif_is_head_of_md)
    params.update(params_of(dif_pi_format=dif_pi_format, numa_id=numa_id))
    return client.call("bdev_malloc_create", params)


def bdev_malloc_delete(client, name):
    return client.call("bdev_malloc_delete", {"name": name})


# -- null -------------------------------------------------------------------------

def bdev_null_create(client, name, num_blocks, block_size, uuid=None,
                     physical_block_size=None, md_size=None, dif_type=None,
                     dif_is_head_of_md=False, dif_pi_format=None,
                     preferred_write_alignment=None, preferred_write_granularity=None,
                     optimal_write_size=None, preferred_unmap_alignment=None,
                     preferred_unmap_granularity=None):
    params = {"name": name, "num_blocks": num_blocks, "block_size": block_size}
    params.update(params_of(uuid=uuid, physical_block_size=physical_block_size,
                            md_size=md_size, dif_type=dif_type))
    params["dif_is_head_of_md"] = bool(dif_is_head_of_md)
    params.update(params_of(dif_pi_format=dif_pi_format,
                            preferred_write_alignment=preferred_write_alignment,
                            preferred_write_granularity=preferred_write_granularity,
                            optimal_write_size=optimal_write_size,
                            preferred_unmap_alignment=preferred_unmap_alignment,
                            preferred_unmap_granularity=preferred_unmap_granularity))
    return client.call("bdev_null_create", params)


def bdev_null_delete(client, name):
    return client.call("bdev_null_delete", {"name": name})


# -- aio and uring ---------------------------------------------------------------

def bdev_aio_create(client, filename, name, block_size=None, readonly=False,
                    fallocate=False, uuid=None, nowait=False):
    params = {"name": name, "filename": filename}
    params.update(params_of(block_size=block_size))
    params["readonly"] = bool(readonly)
    params["fallocate"] = bool(fallocate)
    params.update(params_of(uuid=uuid))
    if nowait:
        # Only when asked: daemons older than the key refuse it (strict decoding).
        params["nowait"] = True
    return client.call("bdev_aio_create", params)


def bdev_aio_delete(client, name):
    return client.call("bdev_aio_delete", {"name": name})


def bdev_aio_rescan(client, name):
    return client.call("bdev_aio_rescan", {"name": name})


def bdev_uring_create(client, filename, name, block_size=None, uuid=None):
    params = {"name": name, "filename": filename}
    params.update(params_of(block_size=block_size, uuid=uuid))
    return client.call("bdev_uring_create", params)


def bdev_uring_delete(client, name):
    return client.call("bdev_uring_delete", {"name": name})


def bdev_uring_rescan(client, name):
    return client.call("bdev_uring_rescan", {"name": name})


# -- command line --------------------------------------------------------------------

def _malloc_create(client, a):
    num_blocks = int(a.total_size * MIB) // a.block_size
    return bdev_malloc_create(client, num_blocks, a.block_size, name=a.name, uuid=a.uuid,
                              physical_block_size=a.physical_block_size,
                              optimal_io_boundary=a.optimal_io_boundary, md_size=a.md_size,
                              md_interleave=a.md_interleave, dif_type=a.dif_type,
                              dif_is_head_of_md=a.dif_is_head_of_md,
                              dif_pi_format=a.dif_pi_format, numa_id=a.numa_id)


def _null_create(client, a):
    if a.dif_type and not a.md_size:
        raise SystemExit("ERROR: --md-size must be > 0 when --dif-type is > 0")
    num_blocks = a.total_size * MIB // a.block_size
    return bdev_null_create(client, a.name, num_blocks, a.block_size, uuid=a.uuid,
                            physical_block_size=a.physical_block_size, md_size=a.md_size,
                            dif_type=a.dif_type, dif_is_head_of_md=a.dif_is_head_of_md,
                            dif_pi_format=a.dif_pi_format,
                            preferred_write_alignment=a.preferred_write_alignment,
                            preferred_write_granularity=a.preferred_write_granularity,
                            optimal_write_size=a.optimal_write_size,
                            preferred_unmap_alignment=a.preferred_unmap_alignment,
                            preferred_unmap_granularity=a.preferred_unmap_granularity)


def _register_malloc(sub):
    p = add_command(sub, "bdev_malloc_create", _malloc_create,
                    help="Create a bdev with malloc backend",
                    aliases=["construct_malloc_bdev"], output=print_string)
    p.add_argument("-b", "--name", help="name of the bdev (default: MallocN)")
    p.add_argument("-u", "--uuid", help="UUID of the bdev")
    p.add_argument("-p", "--physical-block-size", dest="physical_block_size", type=int,
                   help="physical block size in bytes (multiple of 512)")
    p.add_argument("-o", "--optimal-io-boundary", dest="optimal_io_boundary", type=int,
                   help="split I/O at this boundary, in blocks")
    p.add_argument("-m", "--md-size", dest="md_size", type=int,
                   help="metadata size per block in bytes")
    p.add_argument("-i", "--md-interleave", dest="md_interleave", action="store_true",
                   help="metadata interleaved with data")
    p.add_argument("-t", "--dif-type", dest="dif_type", type=int,
                   help="protection information type (0-3)")
    p.add_argument("-d", "--dif-is-head-of-md", dest="dif_is_head_of_md",
                   action="store_true", help="protection information in the first "
                   "8 bytes of metadata")
    p.add_argument("-f", "--dif-pi-format", dest="dif_pi_format", type=int,
                   help="protection information format (0: 16-bit, 1: 32-bit, 2: 64-bit guard)")
    p.add_argument("-n", "--numa-id", dest="numa_id", type=int,
                   help="NUMA node for the memory (-1: any)")
    p.add_argument("total_size", type=float, help="size of the bdev in MiB (float)")
    p.add_argument("block_size", type=int, help="data block size in bytes")

    p = add_command(sub, "bdev_malloc_delete", lambda c, a: bdev_malloc_delete(c, a.name),
                    help="Delete a malloc bdev", aliases=["delete_malloc_bdev"])
    p.add_argument("name", help="malloc bdev name")


def _register_null(sub):
    p = add_command(sub, "bdev_null_create", _null_create,
                    help="Create a null bdev (writes are discarded, reads do not "
                         "touch the buffer)",
                    aliases=["construct_null_bdev"], output=print_string)
    p.add_argument("name", help="name of the bdev")
    p.add_argument("total_size", type=int, help="size of the bdev in MiB (integer)")
    p.add_argument("block_size", type=int, help="data block size in bytes")
    p.add_argument("-u", "--uuid", help="UUID of the bdev")
    p.add_argument("-p", "--physical-block-size", dest="physical_block_size", type=int,
                   help="physical block size in bytes (multiple of 512)")
    p.add_argument("-m", "--md-size", dest="md_size", type=int,
                   help="metadata size per block in bytes")
    p.add_argument("-t", "--dif-type", dest="dif_type", type=int,
                   help="protection information type (0-3); needs --md-size")
    p.add_argument("-d", "--dif-is-head-of-md", dest="dif_is_head_of_md",
                   action="store_true", help="protection information in the first "
                   "8 bytes of metadata")
    p.add_argument("-f", "--dif-pi-format", dest="dif_pi_format", type=int,
                   help="protection information format (0: 16-bit, 1: 32-bit, 2: 64-bit guard)")
    p.add_argument("-a", "--preferred-write-alignment", dest="preferred_write_alignment",
                   type=int, help="preferred write alignment, in blocks")
    p.add_argument("-g", "--preferred-write-granularity", dest="preferred_write_granularity",
                   type=int, help="preferred write granularity, in blocks")
    p.add_argument("-s", "--optimal-write-size", dest="optimal_write_size", type=int,
                   help="optimal write size, in blocks")
    p.add_argument("-c", "--preferred-unmap-alignment", dest="preferred_unmap_alignment",
                   type=int, help="preferred unmap alignment, in blocks")
    p.add_argument("-r", "--preferred-unmap-granularity", dest="preferred_unmap_granularity",
                   type=int, help="preferred unmap granularity, in blocks")

    p = add_command(sub, "bdev_null_delete", lambda c, a: bdev_null_delete(c, a.name),
                    help="Delete a null bdev", aliases=["delete_null_bdev"])
    p.add_argument("name", help="null bdev name")


def _register_file(sub):
    p = add_command(sub, "bdev_aio_create",
                    lambda c, a: bdev_aio_create(c, a.filename, a.name,
                                                 block_size=a.block_size,
                                                 readonly=a.readonly, fallocate=a.fallocate,
                                                 uuid=a.uuid, nowait=a.nowait),
                    help="Create a bdev on a file or block device (Linux AIO / io_uring)",
                    aliases=["construct_aio_bdev"], output=print_string)
    p.add_argument("filename", help="path to a file or block device")
    p.add_argument("name", help="name of the bdev")
    p.add_argument("block_size", type=int, nargs="?", default=None,
                   help="block size in bytes (default: detected, 512 for files)")
    p.add_argument("-r", "--readonly", action="store_true", help="open read-only")
    p.add_argument("--fallocate", action="store_true",
                   help="support unmap and write_zeroes with fallocate")
    p.add_argument("-u", "--uuid", help="UUID of the bdev")
    p.add_argument("--no-wait", "--nowait", dest="nowait", action="store_true",
                   help="submit with RWF_NOWAIT (block devices only)")

    p = add_command(sub, "bdev_aio_delete", lambda c, a: bdev_aio_delete(c, a.name),
                    help="Delete an aio bdev", aliases=["delete_aio_bdev"])
    p.add_argument("name", help="aio bdev name")

    p = add_command(sub, "bdev_aio_rescan", lambda c, a: bdev_aio_rescan(c, a.name),
                    help="Re-read the size of an aio bdev's file or device")
    p.add_argument("name", help="aio bdev name")

    p = add_command(sub, "bdev_uring_create",
                    lambda c, a: bdev_uring_create(c, a.filename, a.name,
                                                   block_size=a.block_size, uuid=a.uuid),
                    help="Create a bdev on a file or block device with io_uring",
                    output=print_string)
    p.add_argument("filename", help="path to a file or block device")
    p.add_argument("name", help="name of the bdev")
    p.add_argument("block_size", type=int, nargs="?", default=None,
                   help="block size in bytes (default: detected, 512 for files)")
    p.add_argument("-u", "--uuid", help="UUID of the bdev")

    p = add_command(sub, "bdev_uring_delete", lambda c, a: bdev_uring_delete(c, a.name),
                    help="Delete a uring bdev")
    p.add_argument("name", help="uring bdev name")

    p = add_command(sub, "bdev_uring_rescan", lambda c, a: bdev_uring_rescan(c, a.name),
                    help="Re-read the size of a uring bdev's file or device")
    p.add_argument("name", help="uring bdev name")


def register(sub):
    _register_malloc(sub)
    _register_null(sub)
    _register_file(sub)
