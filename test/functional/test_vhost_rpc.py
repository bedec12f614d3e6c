"""vhost-blk controllers through JSON-RPC against a real lvstord (spec/rpc.md
section 2.4, issue 6): creating, listing, coalescing and deleting
controllers, their sockets in the -S directory, the errors tools branch on,
the retired method names, rpc.py's commands, and save_config / --json
restarts.

No guest runs here (test/e2e boots QEMU). Where a test needs a VM on the
other end of a socket it uses VhostUserClient, a few lines of the
vhost-user protocol: connecting makes a session (rte_vhost reports the
connection at once), and VHOST_USER_GET_FEATURES shows the feature bits a
controller offers (read-only, packed ring) without any guest memory.
"""

import json
import os
import socket
import stat
import struct
import time

import pytest

from daemon_util import Daemon, error_printout, ok, pretty
from test_lvol_common import MIB, aio_config, sparse_file, write_json

# Error answers of spec section 2.4: -32602 with the errno text, except
# vhost_get_controllers (-32603).
INVALID = -32602
INTERNAL = -32603
ENODEV = "No such device"
EEXIST = "File exists"
EINVAL = "Invalid argument"
EIO = "Input/output error"
EBUSY = "Device or resource busy"
EPERM = "Operation not permitted"

SUN_PATH_MAX = 107          # characters of a Unix socket path (108 with the NUL)

CONTROLLER_KEYS = {"ctrlr", "cpumask", "delay_base_us", "iops_threshold", "socket",
                   "sessions", "backend_specific"}
SESSION_KEYS = {"vid", "id", "name", "started", "max_queues", "inflight_task_cnt"}
DEFAULT_DELAY_BASE_US = 0
DEFAULT_IOPS_THRESHOLD = 60000

# Feature bits (virtio 1.1 spec, vhost-user spec).
VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_RO = 5
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_FLUSH = 9
VIRTIO_BLK_F_MQ = 12
VIRTIO_BLK_F_DISCARD = 13
VIRTIO_BLK_F_WRITE_ZEROES = 14
VIRTIO_RING_F_INDIRECT_DESC = 28
VIRTIO_RING_F_EVENT_IDX = 29
VHOST_USER_F_PROTOCOL_FEATURES = 30
VIRTIO_F_VERSION_1 = 32
VIRTIO_F_RING_PACKED = 34
VHOST_USER_PROTOCOL_F_MQ = 0
VHOST_USER_PROTOCOL_F_CONFIG = 9
VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12

ALIASES = {"construct_vhost_blk_controller": "vhost_create_blk_controller",
           "get_vhost_controllers": "vhost_get_controllers",
           "remove_vhost_controller": "vhost_delete_controller",
           "set_vhost_controller_coalescing": "vhost_controller_set_coalescing"}


# -- helpers ------------------------------------------------------------------------------

class VhostUserClient:
    """The front-end side of a vhost-user socket, as far as these tests need it:
    connect, and the two feature queries (each message: u32 request, u32 flags
    with version 1, u32 payload size, payload)."""

    GET_FEATURES = 1
    GET_PROTOCOL_FEATURES = 15
    GET_CONFIG = 24
    VERSION = 0x1
    REPLY = 0x4

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("vhost-user socket closed by lvstord")
            data += chunk
        return data

    def _get_u64(self, request):
        self.sock.sendall(struct.pack("<III", request, self.VERSION, 0))
        req, flags, size = struct.unpack("<III", self._recv_exact(12))
        assert req == request and flags & self.REPLY and size == 8, (req, flags, size)
        return struct.unpack("<Q", self._recv_exact(8))[0]

    def get_features(self):
        return self._get_u64(self.GET_FEATURES)

    def get_protocol_features(self):
        return self._get_u64(self.GET_PROTOCOL_FEATURES)

    def get_config(self, size=60, offset=0):
        """The device's config space (struct virtio_blk_config), as QEMU reads it."""
        body = struct.pack("<III", offset, size, 0) + bytes(size)
        self.sock.sendall(struct.pack("<III", self.GET_CONFIG, self.VERSION, len(body)) + body)
        req, flags, rsize = struct.unpack("<III", self._recv_exact(12))
        payload = self._recv_exact(rsize)
        assert req == self.GET_CONFIG and flags & self.REPLY, (req, flags)
        roff, rlen, _ = struct.unpack("<III", payload[:12])
        assert (roff, rlen) == (offset, size) and rsize == 12 + size, (roff, rlen, rsize)
        return payload[12:]


def bit(features, n):
    return bool(features >> n & 1)


def malloc(d, name="Malloc0", size_mib=16, block_size=512):
    assert d.call("bdev_malloc_create", {"num_blocks": size_mib * MIB // block_size,
                                         "block_size": block_size, "name": name}) == name
    return name


def create(d, ctrlr, dev_name="Malloc0", **opts):
    params = {"ctrlr": ctrlr, "dev_name": dev_name}
    params.update(opts)
    assert d.call("vhost_create_blk_controller", params) is True
    return os.path.join(d.workdir, ctrlr)


def raw_error(d, method, params=None, send_params=True):
    """The error object of a call that must fail; params sent exactly as given
    (also [], {} or a scalar, which rpc.py's client would not send)."""
    with d.raw() as conn:
        req = {"jsonrpc": "2.0", "method": method, "id": 1}
        if send_params:
            req["params"] = params
        conn.send(req)
        resp = conn.recv()
    assert "error" in resp, "%s %r succeeded: %r" % (method, params, resp)
    assert set(resp["error"]) == {"code", "message"}
    return resp["error"]["code"], resp["error"]["message"]


def controllers(d, name=None):
    return d.call("vhost_get_controllers", {"name": name} if name is not None else None)


def one(d, name):
    got = controllers(d, name)
    assert isinstance(got, list) and len(got) == 1, got
    return got[0]


def by_name(d):
    return {c["ctrlr"]: c for c in controllers(d)}


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def wait_for(cond, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


def stale_socket(path):
    """A socket file nobody listens on (what a killed daemon leaves behind)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    assert is_socket(path)


@pytest.fixture
def d(lvstord):
    """lvstord -m 0x3 -S <workdir> with a 16 MiB malloc bdev Malloc0."""
    daemon = lvstord()
    malloc(daemon)
    return daemon


# -- create and list ------------------------------------------------------------------------

def test_create_makes_socket_and_lists_every_field(d):
    path = create(d, "vhost.0")
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode), oct(st.st_mode)
    assert st.st_uid == os.getuid()
    # QEMU (same user) must be able to connect: owner read+write.
    assert stat.S_IMODE(st.st_mode) & 0o600 == 0o600, oct(st.st_mode)
    assert not stat.S_IMODE(st.st_mode) & 0o002, "socket is world-writable: %o" % st.st_mode

    c = one(d, "vhost.0")
    assert set(c) == CONTROLLER_KEYS, c
    assert c["ctrlr"] == "vhost.0"
    assert c["cpumask"] == "0x3"                  # default: the application mask
    assert c["delay_base_us"] == DEFAULT_DELAY_BASE_US
    assert c["iops_threshold"] == DEFAULT_IOPS_THRESHOLD
    assert c["socket"] == path
    assert c["sessions"] == []
    assert c["backend_specific"] == {"block": {"readonly": False, "bdev": "Malloc0",
                                               "transport": "vhost_user_blk"}}
    assert controllers(d) == [c]


def test_key_order_follows_spec(d):
    create(d, "vhost.0")
    with d.raw() as conn:
        conn.send({"jsonrpc": "2.0", "method": "vhost_get_controllers", "id": 1})
        raw, _ = conn.recv_raw()
    pairs = json.loads(raw, object_pairs_hook=lambda p: p)
    result = dict(pairs)["result"]
    assert [k for k, _ in result[0]] == ["ctrlr", "cpumask", "delay_base_us",
                                         "iops_threshold", "socket", "sessions",
                                         "backend_specific"]


def test_list_empty_and_filter_by_name(d):
    assert controllers(d) == []
    malloc(d, "Malloc1")
    create(d, "vhost.0")
    create(d, "vhost.1", "Malloc1", readonly=True)
    all_ = by_name(d)
    assert set(all_) == {"vhost.0", "vhost.1"}
    assert controllers(d, "vhost.1") == [all_["vhost.1"]]
    assert all_["vhost.1"]["backend_specific"]["block"] == {
        "readonly": True, "bdev": "Malloc1", "transport": "vhost_user_blk"}
    assert raw_error(d, "vhost_get_controllers", {"name": "vhost.9"}) == (INTERNAL, ENODEV)


@pytest.mark.parametrize("mask,shown", [("0x2", "0x2"), ("2", "0x2"), ("0x1", "0x1"),
                                        ("[0,1]", "0x3"), ("[1]", "0x2"), ("0x3", "0x3")])
def test_cpumask_forms(d, mask, shown):
    create(d, "vhost.0", cpumask=mask)
    assert one(d, "vhost.0")["cpumask"] == shown


def test_several_controllers_on_one_bdev_and_explicit_transport(d):
    # Nothing claims the bdev: a second controller (e.g. read-only) may share it.
    create(d, "vhost.0")
    create(d, "vhost.1", readonly=True, transport="vhost_user_blk")
    c = by_name(d)
    assert c["vhost.0"]["backend_specific"]["block"]["bdev"] == "Malloc0"
    assert c["vhost.1"]["backend_specific"]["block"]["bdev"] == "Malloc0"
    b = d.call("bdev_get_bdevs", {"name": "Malloc0"})[0]
    assert b["claimed"] is False          # open, not claimed (spec 2.2.1)


def test_unknown_keys_tolerated_by_create_only(d):
    # Extra keys go to the transport (>= v22.05); old tools send packed_ring_recovery.
    create(d, "vhost.0", packed_ring_recovery=False, some_transport_option=7)
    assert one(d, "vhost.0")["ctrlr"] == "vhost.0"
    assert raw_error(d, "vhost_delete_controller", {"ctrlr": "vhost.0", "x": 1}) == \
        (INVALID, EINVAL)
    assert raw_error(d, "vhost_get_controllers", {"name": "vhost.0", "x": 1}) == \
        (INTERNAL, EINVAL)
    assert raw_error(d, "vhost_controller_set_coalescing",
                     {"ctrlr": "vhost.0", "delay_base_us": 0, "iops_threshold": 60000,
                      "x": 1}) == (INVALID, EINVAL)


def test_feature_bits_follow_readonly_and_packed_ring(d):
    create(d, "plain")
    create(d, "ro", readonly=True)
    create(d, "packed", packed_ring=True)
    always = (VIRTIO_F_VERSION_1, VHOST_USER_F_PROTOCOL_FEATURES, VIRTIO_BLK_F_SEG_MAX,
              VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ,
              VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX)
    with VhostUserClient(os.path.join(d.workdir, "plain")) as v:
        f = v.get_features()
        assert all(bit(f, b) for b in always), hex(f)
        # A malloc bdev supports unmap: discard and write-zeroes are offered.
        assert bit(f, VIRTIO_BLK_F_DISCARD) and bit(f, VIRTIO_BLK_F_WRITE_ZEROES)
        assert not bit(f, VIRTIO_BLK_F_RO) and not bit(f, VIRTIO_F_RING_PACKED)
        pf = v.get_protocol_features()
        assert bit(pf, VHOST_USER_PROTOCOL_F_MQ) and bit(pf, VHOST_USER_PROTOCOL_F_CONFIG)
        # Surviving a daemon restart needs inflight tracking (issue 6, item 4).
        assert bit(pf, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)
    with VhostUserClient(os.path.join(d.workdir, "ro")) as v:
        f = v.get_features()
        assert all(bit(f, b) for b in always), hex(f)
        assert bit(f, VIRTIO_BLK_F_RO) and not bit(f, VIRTIO_F_RING_PACKED)
        assert not bit(f, VIRTIO_BLK_F_DISCARD) and not bit(f, VIRTIO_BLK_F_WRITE_ZEROES)
    with VhostUserClient(os.path.join(d.workdir, "packed")) as v:
        f = v.get_features()
        assert bit(f, VIRTIO_F_RING_PACKED) and not bit(f, VIRTIO_BLK_F_RO)


def test_config_space(d):
    malloc(d, "Malloc4k", size_mib=8, block_size=4096)
    create(d, "vhost.0", "Malloc4k")
    with VhostUserClient(os.path.join(d.workdir, "vhost.0")) as v:
        cfg = v.get_config()
        capacity, = struct.unpack_from("<Q", cfg, 0)
        seg_max, = struct.unpack_from("<I", cfg, 12)
        blk_size, = struct.unpack_from("<I", cfg, 20)
        num_queues, = struct.unpack_from("<H", cfg, 34)
        assert capacity == 8 * MIB // 512          # always in 512-byte sectors
        assert blk_size == 4096
        assert seg_max >= 1 and num_queues >= 1
        # A slice of it, as a guest driver may read one field.
        assert v.get_config(size=4, offset=20) == cfg[20:24]


def test_config_space_follows_resize(d):
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "Malloc0", "lvs_name": "lvs0",
                                        "cluster_sz": MIB})
    d.call("bdev_lvol_create", {"lvol_name": "lv0", "size_in_mib": 2, "lvs_name": "lvs0"})
    create(d, "vhost.0", "lvs0/lv0")
    with VhostUserClient(os.path.join(d.workdir, "vhost.0")) as v:
        assert struct.unpack_from("<Q", v.get_config(), 0)[0] == 2 * MIB // 512
        assert d.call("bdev_lvol_resize", {"name": "lvs0/lv0", "size_in_mib": 4}) is True
        wait_for(lambda: struct.unpack_from("<Q", v.get_config(), 0)[0] == 4 * MIB // 512,
                 what="the new capacity in the config space")


def test_controller_on_lvol_by_alias(d):
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "Malloc0", "lvs_name": "lvs0",
                                        "cluster_sz": MIB})
    uuid = d.call("bdev_lvol_create", {"lvol_name": "lv0", "size_in_mib": 4,
                                       "lvs_name": "lvs0"})
    create(d, "vm0", "lvs0/lv0")
    # The controller shows the bdev's name (an lvol bdev is named by its UUID).
    assert one(d, "vm0")["backend_specific"]["block"]["bdev"] == uuid
    # The base bdev is claimed by the lvolstore: no controller on it.
    assert raw_error(d, "vhost_create_blk_controller",
                     {"ctrlr": "vm1", "dev_name": "Malloc0"}) == (INVALID, EPERM)
    assert not os.path.exists(os.path.join(d.workdir, "vm1"))


def test_socket_dir_option(lvstord, workdir):
    sub = os.path.join(workdir, "sockets")
    os.mkdir(sub)
    d = lvstord("-S", sub)             # the later -S wins over the fixture's
    malloc(d)
    create(d, "vhost.0")
    assert one(d, "vhost.0")["socket"] == sub + "/vhost.0"
    assert is_socket(os.path.join(sub, "vhost.0"))
    assert not os.path.exists(os.path.join(workdir, "vhost.0"))

    sub2 = os.path.join(workdir, "with-slash")
    os.mkdir(sub2)
    d2 = lvstord("-S", sub2 + "/")
    malloc(d2)
    create(d2, "vhost.1")
    assert one(d2, "vhost.1")["socket"] == sub2 + "/vhost.1"


def test_stale_socket_is_replaced(d):
    path = os.path.join(d.workdir, "vhost.0")
    stale_socket(path)
    create(d, "vhost.0")
    with VhostUserClient(path) as v:      # someone listens on it now
        v.get_features()


# -- create errors ------------------------------------------------------------------------

def create_error(d, params):
    return raw_error(d, "vhost_create_blk_controller", params)


def test_duplicate_name_is_eexist(d):
    create(d, "vhost.0")
    assert create_error(d, {"ctrlr": "vhost.0", "dev_name": "Malloc0"}) == (INVALID, EEXIST)
    assert len(controllers(d)) == 1


def test_unknown_bdev_is_enodev(d):
    assert create_error(d, {"ctrlr": "vhost.0", "dev_name": "nope"}) == (INVALID, ENODEV)
    assert controllers(d) == []
    assert not os.path.exists(os.path.join(d.workdir, "vhost.0"))


@pytest.mark.parametrize("mask", ["0xZZ", "zz", "", "[0,", "[a]", "0x4", "0x7", "[2]",
                                  "0x10000000000000000000"])
def test_bad_or_foreign_cpumask_is_einval(d, mask):
    # The app mask is 0x3: 0x4, 0x7 and [2] name cores lvstord does not run on.
    assert create_error(d, {"ctrlr": "vhost.0", "dev_name": "Malloc0", "cpumask": mask}) == \
        (INVALID, EINVAL)
    assert controllers(d) == []
    assert not os.path.exists(os.path.join(d.workdir, "vhost.0"))


def test_unknown_transport_is_einval(d):
    assert create_error(d, {"ctrlr": "vhost.0", "dev_name": "Malloc0",
                            "transport": "vfio_user_blk"}) == (INVALID, EINVAL)
    assert controllers(d) == []


def test_socket_path_length_limit(d):
    room = SUN_PATH_MAX - len(d.workdir) - 1      # characters left for the name
    longest = "n" * room
    create(d, longest)
    assert len(one(d, longest)["socket"]) == SUN_PATH_MAX
    assert is_socket(os.path.join(d.workdir, longest))
    too_long = "m" * (room + 1)
    assert create_error(d, {"ctrlr": too_long, "dev_name": "Malloc0"}) == (INVALID, EINVAL)
    assert create_error(d, {"ctrlr": "x" * 300, "dev_name": "Malloc0"}) == (INVALID, EINVAL)
    assert set(by_name(d)) == {longest}


def test_regular_file_at_socket_path_is_eio(d):
    path = os.path.join(d.workdir, "vhost.0")
    with open(path, "w") as f:
        f.write("not a socket\n")
    assert create_error(d, {"ctrlr": "vhost.0", "dev_name": "Malloc0"}) == (INVALID, EIO)
    with open(path) as f:
        assert f.read() == "not a socket\n"        # left alone
    assert controllers(d) == []


def test_directory_at_socket_path_is_eio(d):
    os.mkdir(os.path.join(d.workdir, "vhost.0"))
    assert create_error(d, {"ctrlr": "vhost.0", "dev_name": "Malloc0"}) == (INVALID, EIO)
    assert os.path.isdir(os.path.join(d.workdir, "vhost.0"))


@pytest.mark.parametrize("name", ["", "a/b", "../escape", "."])
def test_names_that_are_not_a_file_name_fail(d, name):
    code, _ = create_error(d, {"ctrlr": name, "dev_name": "Malloc0"})
    assert code == INVALID
    assert controllers(d) == []
    assert not os.path.exists(os.path.join(os.path.dirname(d.workdir), "escape"))


@pytest.mark.parametrize("params", [
    None,                                             # no params at all
    {},
    [],
    {"dev_name": "Malloc0"},                          # ctrlr missing
    {"ctrlr": "vhost.0"},                             # dev_name missing
    {"ctrlr": 5, "dev_name": "Malloc0"},
    {"ctrlr": "vhost.0", "dev_name": ["Malloc0"]},
    {"ctrlr": "vhost.0", "dev_name": "Malloc0", "readonly": "yes"},
    {"ctrlr": "vhost.0", "dev_name": "Malloc0", "readonly": 1},
    {"ctrlr": "vhost.0", "dev_name": "Malloc0", "packed_ring": "true"},
    {"ctrlr": "vhost.0", "dev_name": "Malloc0", "cpumask": 3},
    {"ctrlr": "vhost.0", "dev_name": "Malloc0", "transport": True},
], ids=lambda p: json.dumps(p))
def test_create_malformed_params(d, params):
    assert raw_error(d, "vhost_create_blk_controller", params,
                     send_params=params is not None) == (INVALID, EINVAL)
    assert controllers(d) == []


def test_create_duplicate_key_fails(d):
    with d.raw() as conn:
        conn.send('{"jsonrpc":"2.0","id":1,"method":"vhost_create_blk_controller",'
                  '"params":{"ctrlr":"a","dev_name":"Malloc0","ctrlr":"b"}}')
        resp = conn.recv()
    assert resp["error"] == {"code": INVALID, "message": EINVAL}
    assert controllers(d) == []


def test_null_optional_keys_are_absent(d):
    create(d, "vhost.0", cpumask=None, readonly=None, packed_ring=None, transport=None)
    c = one(d, "vhost.0")
    assert c["cpumask"] == "0x3" and c["backend_specific"]["block"]["readonly"] is False


# -- coalescing ----------------------------------------------------------------------------

def coalescing(d, name):
    c = one(d, name)
    return c["delay_base_us"], c["iops_threshold"]


def set_coalescing(d, name, delay, iops):
    return d.call("vhost_controller_set_coalescing",
                  {"ctrlr": name, "delay_base_us": delay, "iops_threshold": iops})


def test_coalescing_set_and_get(d):
    create(d, "vhost.0")
    assert set_coalescing(d, "vhost.0", 50, 1000) is True
    assert coalescing(d, "vhost.0") == (50, 1000)
    assert set_coalescing(d, "vhost.0", 0, 60000) is True
    assert coalescing(d, "vhost.0") == (0, 60000)
    assert set_coalescing(d, "vhost.0", 1, 100) is True      # the smallest threshold
    assert coalescing(d, "vhost.0") == (1, 100)
    assert set_coalescing(d, "vhost.0", 10.0, 2e3) is True   # integral reals are integers
    assert coalescing(d, "vhost.0") == (10, 2000)


def test_coalescing_errors(d):
    create(d, "vhost.0")
    set_coalescing(d, "vhost.0", 20, 5000)

    def err(params):
        return raw_error(d, "vhost_controller_set_coalescing", params)

    assert err({"ctrlr": "nope", "delay_base_us": 10, "iops_threshold": 1000}) == \
        (INVALID, ENODEV)
    # iops_threshold must be >= 100 (below, 0 requests per 10 ms window).
    assert err({"ctrlr": "vhost.0", "delay_base_us": 10, "iops_threshold": 99}) == \
        (INVALID, EINVAL)
    assert err({"ctrlr": "vhost.0", "delay_base_us": 10, "iops_threshold": 0}) == \
        (INVALID, EINVAL)
    # The delay must convert to fewer than 2^32 CPU ticks.
    tick_rate = d.call("framework_get_reactors")["tick_rate"]
    over = (2 ** 32 * 10 ** 6) // tick_rate + 1
    if over <= 0xFFFFFFFF:
        assert err({"ctrlr": "vhost.0", "delay_base_us": over, "iops_threshold": 1000}) == \
            (INVALID, EINVAL)
    assert err({"ctrlr": "vhost.0", "delay_base_us": 0xFFFFFFFF, "iops_threshold": 1000}) == \
        (INVALID, EINVAL)
    for bad in ({"ctrlr": "vhost.0", "delay_base_us": -1, "iops_threshold": 1000},
                {"ctrlr": "vhost.0", "delay_base_us": 2 ** 32, "iops_threshold": 1000},
                {"ctrlr": "vhost.0", "delay_base_us": 1.5, "iops_threshold": 1000},
                {"ctrlr": "vhost.0", "delay_base_us": "10", "iops_threshold": 1000},
                {"ctrlr": "vhost.0", "delay_base_us": 10},
                {"ctrlr": "vhost.0", "iops_threshold": 1000},
                {"delay_base_us": 10, "iops_threshold": 1000},
                {}, []):
        assert err(bad) == (INVALID, EINVAL), bad
    assert raw_error(d, "vhost_controller_set_coalescing", None, send_params=False) == \
        (INVALID, EINVAL)
    assert coalescing(d, "vhost.0") == (20, 5000)        # nothing changed


def test_coalescing_threshold_is_checked_with_delay_off_too(d):
    # spec 2.4.8: iops_threshold must be >= 100, whatever the delay.
    create(d, "vhost.0")
    assert raw_error(d, "vhost_controller_set_coalescing",
                     {"ctrlr": "vhost.0", "delay_base_us": 0, "iops_threshold": 50}) == \
        (INVALID, EINVAL)
    assert coalescing(d, "vhost.0") == (DEFAULT_DELAY_BASE_US, DEFAULT_IOPS_THRESHOLD)


# -- delete ----------------------------------------------------------------------------------

def test_delete_removes_controller_and_socket(d):
    path = create(d, "vhost.0")
    create(d, "vhost.1")
    assert d.call("vhost_delete_controller", {"ctrlr": "vhost.0"}) is True
    assert not os.path.exists(path)
    assert set(by_name(d)) == {"vhost.1"}
    assert raw_error(d, "vhost_get_controllers", {"name": "vhost.0"}) == (INTERNAL, ENODEV)
    # The name is free again, and the bdev is no longer held by the deleted one.
    create(d, "vhost.0")
    assert d.call("vhost_delete_controller", {"ctrlr": "vhost.0"}) is True
    assert d.call("vhost_delete_controller", {"ctrlr": "vhost.1"}) is True
    assert controllers(d) == []
    assert d.call("bdev_malloc_delete", {"name": "Malloc0"}) is True


def test_delete_errors(d):
    assert raw_error(d, "vhost_delete_controller", {"ctrlr": "nope"}) == (INVALID, ENODEV)
    for bad in ({}, [], {"ctrlr": 1}, {"name": "vhost.0"}):
        assert raw_error(d, "vhost_delete_controller", bad) == (INVALID, EINVAL), bad
    assert raw_error(d, "vhost_delete_controller", None, send_params=False) == \
        (INVALID, EINVAL)


def test_get_malformed_params(d):
    for bad in ({"name": 5}, {"ctrlr": "x"}, []):
        assert raw_error(d, "vhost_get_controllers", bad) == (INTERNAL, EINVAL), bad
    # {} and null mean "all".
    assert d.call("vhost_get_controllers", {}) == []


def test_bdev_deleted_under_controller(d):
    path = create(d, "vhost.0")
    assert d.call("bdev_malloc_delete", {"name": "Malloc0"}) is True
    c = one(d, "vhost.0")
    assert c["backend_specific"]["block"]["bdev"] is None
    assert c["backend_specific"]["block"]["readonly"] is False
    assert is_socket(path)            # the controller stays until deleted
    # The name can be reused by a new bdev without reviving the old controller.
    malloc(d)
    assert one(d, "vhost.0")["backend_specific"]["block"]["bdev"] is None
    assert d.call("vhost_delete_controller", {"ctrlr": "vhost.0"}) is True
    assert not os.path.exists(path)


# -- a connected "VM" --------------------------------------------------------------------

def test_session_listed_and_delete_refused_while_connected(d):
    path = create(d, "vhost.0")
    v = VhostUserClient(path)
    try:
        v.get_features()           # the daemon has seen the connection by now
        sessions = wait_for(lambda: one(d, "vhost.0")["sessions"], what="a session")
        assert len(sessions) == 1
        s = sessions[0]
        assert set(s) == SESSION_KEYS, s
        assert s["name"] == "vhost.0s%d" % s["vid"]
        assert s["started"] is False          # no virtqueue was set up
        assert isinstance(s["id"], int) and isinstance(s["max_queues"], int)
        assert s["inflight_task_cnt"] == 0
        assert raw_error(d, "vhost_delete_controller", {"ctrlr": "vhost.0"}) == \
            (INVALID, EBUSY)
        assert is_socket(path)
        assert one(d, "vhost.0")["ctrlr"] == "vhost.0"
    finally:
        v.close()
    wait_for(lambda: one(d, "vhost.0")["sessions"] == [], what="the session to go")
    assert d.call("vhost_delete_controller", {"ctrlr": "vhost.0"}) is True
    assert not os.path.exists(path)


def test_reconnect_after_disconnect(d):
    path = create(d, "vhost.0")
    for _ in range(3):
        with VhostUserClient(path) as v:
            v.get_features()
        wait_for(lambda: one(d, "vhost.0")["sessions"] == [], what="the session to go")


def test_shutdown_with_connected_client(lvstord):
    d = lvstord()
    malloc(d)
    path = create(d, "vhost.0")
    with VhostUserClient(path) as v:
        v.get_features()
        wait_for(lambda: one(d, "vhost.0")["sessions"], what="a session")
        assert d.stop() == 0
    assert not os.path.exists(path)


# -- names, subsystem, state --------------------------------------------------------------

def test_old_method_names(d):
    assert d.call("construct_vhost_blk_controller",
                  {"ctrlr": "vhost.0", "dev_name": "Malloc0", "readonly": True}) is True
    assert d.call("set_vhost_controller_coalescing",
                  {"ctrlr": "vhost.0", "delay_base_us": 5, "iops_threshold": 500}) is True
    old = d.call("get_vhost_controllers")
    assert old == controllers(d)
    assert d.call("get_vhost_controllers", {"name": "vhost.0"}) == old
    assert (old[0]["delay_base_us"], old[0]["iops_threshold"]) == (5, 500)
    assert raw_error(d, "get_vhost_controllers", {"name": "x"}) == (INTERNAL, ENODEV)
    assert raw_error(d, "remove_vhost_controller", {"ctrlr": "x"}) == (INVALID, ENODEV)
    assert d.call("remove_vhost_controller", {"ctrlr": "vhost.0"}) is True
    assert controllers(d) == []


def test_methods_listed_and_runtime_only(lvstord):
    d = lvstord("--wait-for-rpc")
    methods = set(d.call("rpc_get_methods"))
    assert set(ALIASES.values()) <= methods
    assert not set(ALIASES) & methods
    assert set(ALIASES) <= set(d.call("rpc_get_methods", {"include_aliases": True}))
    # vhost-scsi is a later issue: not registered yet.
    assert "vhost_create_scsi_controller" not in methods
    current = set(d.call("rpc_get_methods", {"current": True}))
    assert not set(ALIASES.values()) & current
    code, msg = raw_error(d, "vhost_get_controllers", None, send_params=False)
    assert code == -1 and "after framework is initialized" in msg
    assert d.call("framework_start_init") is True
    assert set(ALIASES.values()) <= set(d.call("rpc_get_methods", {"current": True}))
    assert controllers(d) == []


def test_subsystem_vhost_blk_depends_on_bdev(d):
    subs = d.call("framework_get_subsystems")
    names = [s["subsystem"] for s in subs]
    assert "vhost_blk" in names
    vb = subs[names.index("vhost_blk")]
    assert vb["depends_on"] == ["bdev"]
    assert names.index("bdev") < names.index("vhost_blk")
    assert "vhost_scsi" not in names and "vhost" not in names
    assert d.call("framework_get_config", {"name": "vhost_blk"}) == []


def test_log_flag_vhost_rpc(d):
    assert "vhost_rpc" in d.call("log_get_flags")
    assert d.call("log_set_flag", {"flag": "vhost_rpc"}) is True
    create(d, "vhost.0")
    assert raw_error(d, "vhost_create_blk_controller",
                     {"ctrlr": "vhost.0", "dev_name": "Malloc0"}) == (INVALID, EEXIST)


# -- saved configuration --------------------------------------------------------------------

def vhost_config(d):
    return d.call("framework_get_config", {"name": "vhost_blk"})


def comparable(c):
    """A controller's listing without what legitimately changes over a restart."""
    c = dict(c)
    c.pop("sessions")
    return c


def test_config_entries(d):
    malloc(d, "Malloc1")
    create(d, "vhost.0")
    create(d, "vhost.1", "Malloc1", cpumask="0x2", readonly=True, packed_ring=True)
    set_coalescing(d, "vhost.1", 30, 3000)
    cfg = vhost_config(d)
    creates = [e for e in cfg if e["method"] == "vhost_create_blk_controller"]
    assert len(creates) == 2
    params = {e["params"]["ctrlr"]: e["params"] for e in creates}
    for name, dev, mask, ro in (("vhost.0", "Malloc0", "3", False),
                                ("vhost.1", "Malloc1", "2", True)):
        p = params[name]
        assert {"ctrlr", "dev_name", "cpumask", "readonly", "transport"} <= set(p), p
        assert p["dev_name"] == dev
        assert p["cpumask"] == mask                 # hex without 0x (spec 2.1.6)
        assert p["readonly"] is ro
        assert p["transport"] == "vhost_user_blk"
    # packed_ring is not among SPDK's saved keys; if saved, it must be right.
    assert params["vhost.0"].get("packed_ring", False) is False
    assert params["vhost.1"].get("packed_ring", True) is True
    # Coalescing only where the delay is not 0, after its controller's creation.
    co = [e for e in cfg if e["method"] == "vhost_controller_set_coalescing"]
    assert co == [{"method": "vhost_controller_set_coalescing",
                   "params": {"ctrlr": "vhost.1", "delay_base_us": 30,
                              "iops_threshold": 3000}}]
    assert cfg.index(co[0]) > cfg.index([e for e in creates
                                         if e["params"]["ctrlr"] == "vhost.1"][0])
    assert {e["method"] for e in cfg} <= {"vhost_create_blk_controller",
                                          "vhost_controller_set_coalescing"}


def test_save_config_restart_with_json(lvstord, workdir):
    img = sparse_file(os.path.join(workdir, "disk.img"), 64 * MIB)
    cfg0 = write_json(workdir, aio_config(img, block_size=512))
    d = lvstord("--json", cfg0)
    d.call("bdev_lvol_create_lvstore", {"bdev_name": "AIO0", "lvs_name": "lvs0",
                                        "cluster_sz": MIB})
    lv = d.call("bdev_lvol_create", {"lvol_name": "lv0", "size_in_mib": 8,
                                     "lvs_name": "lvs0"})
    malloc(d)
    create(d, "vm0", "lvs0/lv0", cpumask="0x2")
    create(d, "vm1", "Malloc0", readonly=True)
    create(d, "vm2", "Malloc0", packed_ring=True, cpumask="[0]")
    set_coalescing(d, "vm0", 40, 2000)
    set_coalescing(d, "vm2", 0, 7000)       # delay 0: not saved, back to default
    before = {n: comparable(c) for n, c in by_name(d).items()}
    with VhostUserClient(os.path.join(workdir, "vm2")) as v:
        packed_before = bit(v.get_features(), VIRTIO_F_RING_PACKED)
    assert packed_before

    saved = pretty(d.rpc("save_config"))
    names = [s["subsystem"] for s in saved["subsystems"]]
    assert names.index("bdev") < names.index("vhost_blk")
    cfg = write_json(workdir, saved, "saved.json")
    assert d.stop() == 0
    for n in ("vm0", "vm1", "vm2"):
        assert not os.path.exists(os.path.join(workdir, n)), "socket %s left behind" % n

    d2 = lvstord("--json", cfg)
    after = {n: comparable(c) for n, c in by_name(d2).items()}
    expect = dict(before)
    expect["vm2"] = dict(before["vm2"], iops_threshold=DEFAULT_IOPS_THRESHOLD)
    assert after == expect
    assert after["vm0"]["backend_specific"]["block"]["bdev"] == lv
    for n in ("vm0", "vm1", "vm2"):
        assert is_socket(os.path.join(workdir, n))
    with VhostUserClient(os.path.join(workdir, "vm2")) as v:
        assert bit(v.get_features(), VIRTIO_F_RING_PACKED) == packed_before
    with VhostUserClient(os.path.join(workdir, "vm1")) as v:
        assert bit(v.get_features(), VIRTIO_BLK_F_RO)
    assert d2.call("framework_get_config", {"name": "vhost_blk"}) == \
        [e for s in saved["subsystems"] if s["subsystem"] == "vhost_blk" for e in s["config"]]


def test_load_config_into_running_daemon(lvstord, workdir):
    d = lvstord()
    malloc(d)
    create(d, "vhost.0", cpumask="0x1", readonly=True)
    set_coalescing(d, "vhost.0", 15, 900)
    before = comparable(one(d, "vhost.0"))
    saved = pretty(d.rpc("save_config"))
    assert d.stop() == 0

    d2 = lvstord()
    ok(d2.rpc("load_config", input=json.dumps(saved)))
    assert comparable(one(d2, "vhost.0")) == before


def test_restart_with_stale_sockets_after_kill(lvstord, workdir):
    d = lvstord()
    malloc(d)
    create(d, "vhost.0")
    saved = pretty(d.rpc("save_config"))
    cfg = write_json(workdir, saved, "saved.json")
    d.proc.kill()               # SIGKILL: the socket file stays behind
    d.proc.wait()
    d.returncode = d.proc.returncode
    d._log.close()
    assert is_socket(os.path.join(workdir, "vhost.0"))
    d2 = lvstord("--json", cfg)
    assert one(d2, "vhost.0")["socket"] == os.path.join(workdir, "vhost.0")
    with VhostUserClient(os.path.join(workdir, "vhost.0")) as v:
        v.get_features()


# -- rpc.py ------------------------------------------------------------------------------------

def test_rpc_py_commands(d):
    assert ok(d.rpc("vhost_create_blk_controller", "--cpumask", "0x1", "-r", "vhost.1",
                    "Malloc0")) == ""
    assert ok(d.rpc("vhost_create_blk_controller", "vhost.2", "Malloc0", "-p",
                    "--transport", "vhost_user_blk")) == ""
    assert pretty(d.rpc("vhost_get_controllers")) == controllers(d)
    listed = pretty(d.rpc("vhost_get_controllers", "-n", "vhost.1"))
    assert len(listed) == 1 and listed[0]["cpumask"] == "0x1"
    assert listed[0]["backend_specific"]["block"]["readonly"] is True
    assert ok(d.rpc("vhost_controller_set_coalescing", "vhost.1", "25", "1500")) == ""
    assert coalescing(d, "vhost.1") == (25, 1500)

    request, err = error_printout(d.rpc("vhost_create_blk_controller", "vhost.1", "Malloc0"))
    assert err == {"code": INVALID, "message": EEXIST}
    assert request["method"] == "vhost_create_blk_controller"
    assert request["readonly"] is False and request["packed_ring"] is False
    _, err = error_printout(d.rpc("vhost_get_controllers", "-n", "nope"))
    assert err == {"code": INTERNAL, "message": ENODEV}
    _, err = error_printout(d.rpc("vhost_delete_controller", "nope"))
    assert err == {"code": INVALID, "message": ENODEV}

    assert ok(d.rpc("vhost_delete_controller", "vhost.1")) == ""
    assert ok(d.rpc("vhost_delete_controller", "vhost.2")) == ""
    assert controllers(d) == []


def test_rpc_py_old_command_names(d):
    p = d.rpc("construct_vhost_blk_controller", "vhost.0", "Malloc0", "--packed_ring")
    assert ok(p) == ""
    assert "construct_vhost_blk_controller is deprecated" in p.stderr
    assert pretty(d.rpc("get_vhost_controllers", "-n", "vhost.0")) == controllers(d)
    assert ok(d.rpc("set_vhost_controller_coalescing", "vhost.0", "5", "200")) == ""
    assert coalescing(d, "vhost.0") == (5, 200)
    assert ok(d.rpc("remove_vhost_controller", "vhost.0")) == ""
    assert controllers(d) == []
