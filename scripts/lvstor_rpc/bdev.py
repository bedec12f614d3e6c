"""Generic block-device commands (spec/rpc.md section 2.2): listing, I/O
statistics, QoS limits, latency histograms and examine.  Back-end commands
(bdev_malloc_create, ...) live in their own modules.

Also a decoder for bdev_get_histogram's result (:func:`decode_histogram`),
so scripts can turn the base64 bucket array into latencies."""

import base64
import struct

from .commands import add_command, params_of, print_json


def bdev_get_bdevs(client, name=None, timeout=None):
    return client.call("bdev_get_bdevs", params_of(name=name, timeout=timeout))


def bdev_get_iostat(client, name=None, names=None, per_channel=False, reset_mode=None):
    """``names``: a list, or a comma-separated string (``--names A,B``)."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    return client.call("bdev_get_iostat",
                       params_of(name=name, names=names, per_channel=bool(per_channel),
                                 reset_mode=reset_mode))


def bdev_set_qos_limit(client, name, rw_ios_per_sec=None, rw_mbytes_per_sec=None,
                       r_mbytes_per_sec=None, w_mbytes_per_sec=None):
    return client.call("bdev_set_qos_limit",
                       params_of(name=name, rw_ios_per_sec=rw_ios_per_sec,
                                 rw_mbytes_per_sec=rw_mbytes_per_sec,
                                 r_mbytes_per_sec=r_mbytes_per_sec,
                                 w_mbytes_per_sec=w_mbytes_per_sec))


def bdev_enable_histogram(client, name, enable=True, opc=None, granularity=None,
                          min_nsec=None, max_nsec=None):
    return client.call("bdev_enable_histogram",
                       params_of(name=name, enable=bool(enable), opc=opc,
                                 granularity=granularity, min_nsec=min_nsec,
                                 max_nsec=max_nsec))


def bdev_get_histogram(client, name):
    return client.call("bdev_get_histogram", {"name": name})


def bdev_wait_for_examine(client):
    return client.call("bdev_wait_for_examine")


def bdev_examine(client, name):
    return client.call("bdev_examine", {"name": name})


def bdev_set_options(client, bdev_io_pool_size=None, bdev_io_cache_size=None,
                     bdev_auto_examine=None, small_buf_pool_size=None,
                     large_buf_pool_size=None, iobuf_small_cache_size=None,
                     iobuf_large_cache_size=None):
    """Startup state only (daemon started with --wait-for-rpc)."""
    return client.call("bdev_set_options",
                       params_of(bdev_io_pool_size=bdev_io_pool_size,
                                 bdev_io_cache_size=bdev_io_cache_size,
                                 bdev_auto_examine=bdev_auto_examine,
                                 small_buf_pool_size=small_buf_pool_size,
                                 large_buf_pool_size=large_buf_pool_size,
                                 iobuf_small_cache_size=iobuf_small_cache_size,
                                 iobuf_large_cache_size=iobuf_large_cache_size))


# -- histogram decoding (layout of spec/rpc.md section 2.2.13) ----------------

def _bucket_bounds(granularity, global_index):
    """Lowest and highest tick value of global bucket ``global_index``."""
    r, within = divmod(global_index, 1 << granularity)
    if r == 0:
        return within, within
    width = 1 << (r - 1)
    start = (1 << (granularity + r - 1)) + within * width
    return start, start + width - 1


def decode_histogram(result):
    """bdev_get_histogram's result -> list of (start_ticks, end_ticks, count)
    for every bucket, in order.  Understands both the current keys
    (granularity, min_range, max_range) and the old bucket_shift."""
    raw = base64.b64decode(result["histogram"])
    counts = struct.unpack("<%dQ" % (len(raw) // 8), raw[:len(raw) // 8 * 8])
    g = result.get("granularity", result.get("bucket_shift", 7))
    first = result.get("min_range", 0) << g
    return [_bucket_bounds(g, first + i) + (c,) for i, c in enumerate(counts)]


def histogram_percentile(result, pct):
    """Upper estimate of the ``pct`` percentile, in microseconds (0 if empty)."""
    buckets = decode_histogram(result)
    total = sum(c for _, _, c in buckets)
    if total == 0:
        return 0.0
    cum = 0
    for _, end, c in buckets:
        cum += c
        if cum and cum >= pct / 100.0 * total:
            return end * 1e6 / result["tsc_rate"]
    return buckets[-1][1] * 1e6 / result["tsc_rate"]


# -- command line ----------------------------------------------------------------

def _add_qos_option(p, name, help):
    """--rw-ios-per-sec, and the v21-and-older spelling --rw_ios_per_sec."""
    p.add_argument("--" + name.replace("_", "-"), "--" + name, dest=name, type=int,
                   help=help)


def register(sub):
    p = add_command(sub, "bdev_get_bdevs",
                    lambda c, a: bdev_get_bdevs(c, name=a.name, timeout=a.timeout),
                    help="List block devices (all, or one by name, alias or UUID)",
                    aliases=["get_bdevs"], output=print_json)
    p.add_argument("-b", "--name", help="name, alias or UUID of one bdev")
    p.add_argument("-t", "--timeout", type=int,
                   help="milliseconds to wait for the bdev to appear (default 0)")

    p = add_command(sub, "bdev_get_iostat",
                    lambda c, a: bdev_get_iostat(c, name=a.name, names=a.names,
                                                 per_channel=a.per_channel,
                                                 reset_mode=a.reset_mode),
                    help="I/O statistics of block devices",
                    aliases=["get_bdevs_iostat"], output=print_json)
    p.add_argument("-b", "--name", help="one bdev (old form; see --names)")
    p.add_argument("--names", help="comma-separated list of bdevs")
    p.add_argument("-c", "--per-channel", dest="per_channel", action="store_true",
                   help="statistics of each I/O channel (exactly one bdev)")
    p.add_argument("--reset-mode", dest="reset_mode",
                   choices=["all", "maxmin", "error", "none"],
                   help="reset counters after reading them")

    p = add_command(sub, "bdev_set_qos_limit",
                    lambda c, a: bdev_set_qos_limit(
                        c, a.name, rw_ios_per_sec=a.rw_ios_per_sec,
                        rw_mbytes_per_sec=a.rw_mbytes_per_sec,
                        r_mbytes_per_sec=a.r_mbytes_per_sec,
                        w_mbytes_per_sec=a.w_mbytes_per_sec),
                    help="Set QoS rate limits of a bdev (0 removes a limit)",
                    aliases=["set_bdev_qos_limit"])
    p.add_argument("name", help="bdev name")
    _add_qos_option(p, "rw_ios_per_sec", "read+write I/O per second (multiple of 1000)")
    _add_qos_option(p, "rw_mbytes_per_sec", "read+write MiB per second")
    _add_qos_option(p, "r_mbytes_per_sec", "read MiB per second")
    _add_qos_option(p, "w_mbytes_per_sec", "write MiB per second")

    p = add_command(sub, "bdev_enable_histogram",
                    lambda c, a: bdev_enable_histogram(
                        c, a.name, enable=a.enable, opc=a.opc, granularity=a.granularity,
                        min_nsec=a.min_nsec, max_nsec=a.max_nsec),
                    help="Start or stop collecting a latency histogram on a bdev",
                    aliases=["enable_bdev_histogram"])
    p.add_argument("name", help="bdev name")
    p.add_argument("--histogram", "-e", "--enable", dest="enable", action="store_true",
                   default=True, help="start collecting (the default)")
    p.add_argument("--no-histogram", "-d", "--disable", dest="enable", action="store_false",
                   help="stop collecting")
    p.add_argument("-o", "--opc", help="only this I/O type (read, write, unmap, ...)")
    p.add_argument("--granularity", type=int,
                   help="log2 of the buckets per power of two (default 7)")
    p.add_argument("--min-nsec", dest="min_nsec", type=int,
                   help="lowest latency tracked, ns (default 1000)")
    p.add_argument("--max-nsec", dest="max_nsec", type=int,
                   help="highest latency tracked, ns (default 120 s)")

    p = add_command(sub, "bdev_get_histogram", lambda c, a: bdev_get_histogram(c, a.name),
                    help="Get a bdev's latency histogram",
                    aliases=["get_bdev_histogram"], output=print_json)
    p.add_argument("name", help="bdev name")

    add_command(sub, "bdev_wait_for_examine", lambda c, a: bdev_wait_for_examine(c),
                help="Wait until every bdev has been examined by every module")

    p = add_command(sub, "bdev_set_options",
                    lambda c, a: bdev_set_options(
                        c, bdev_io_pool_size=a.bdev_io_pool_size,
                        bdev_io_cache_size=a.bdev_io_cache_size,
                        bdev_auto_examine=a.bdev_auto_examine,
                        small_buf_pool_size=a.small_buf_pool_size,
                        large_buf_pool_size=a.large_buf_pool_size,
                        iobuf_small_cache_size=a.iobuf_small_cache_size,
                        iobuf_large_cache_size=a.iobuf_large_cache_size),
                    help="Set bdev layer options (before framework_start_init)")
    p.add_argument("-p", "--bdev-io-pool-size", dest="bdev_io_pool_size", type=int,
                   help="bdev_io objects in the pool")
    p.add_argument("-c", "--bdev-io-cache-size", dest="bdev_io_cache_size", type=int,
                   help="bdev_io objects cached per thread")
    p.add_argument("-s", "--small-buf-pool-size", dest="small_buf_pool_size", type=int,
                   help="accepted for old scripts; no effect")
    p.add_argument("-l", "--large-buf-pool-size", dest="large_buf_pool_size", type=int,
                   help="accepted for old scripts; no effect")
    p.add_argument("--iobuf-small-cache-size", dest="iobuf_small_cache_size", type=int,
                   help="small buffers cached per thread")
    p.add_argument("--iobuf-large-cache-size", dest="iobuf_large_cache_size", type=int,
                   help="large buffers cached per thread")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-e", "--enable-auto-examine", dest="bdev_auto_examine",
                   action="store_true", help="examine new bdevs automatically (default)")
    g.add_argument("-d", "--disable-auto-examine", dest="bdev_auto_examine",
                   action="store_false", help="examine only bdevs named by bdev_examine")
    p.set_defaults(bdev_auto_examine=True)

    p = add_command(sub, "bdev_examine", lambda c, a: bdev_examine(c, a.name),
                    help="Examine a bdev (only with automatic examine switched off)")
    p.add_argument("-b", "--name", required=True, help="bdev name")

