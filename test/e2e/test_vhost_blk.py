"""vhost-user-blk end to end: a real Linux guest (QEMU, TCG) on an lvstord
vhost-blk controller.

Each test is one VM (a boot costs ~5 s of TCG, the guest checks a few more);
the guest runs several checks per boot (test/e2e/guest/*.sh) and reports on
its serial console, parsed by qemu.py. Most tests use an lvol on a file bdev,
so data can be checked on the host after the VM exits (lvstor-dd reads the
lvol with the daemon stopped).

test_reference_virtio_blk runs the same guest checks on QEMU's own virtio-blk
(no lvstord): when it passes and a vhost test fails, the fault is on the
lvstord side, not in the harness.
"""

import hashlib
import json
import os
import random
import signal
import subprocess
import time

import pytest

import qemu
from qemu import BLOCK, check_results, pattern, rpc

LVSTOR_DD = os.environ.get("LVSTOR_DD", os.path.join(qemu.REPO, "build", "bin", "lvstor-dd"))

FILE_MIB = 64           # the file under the lvstore
LVOL_MIB = 32           # the lvol the guest sees: 8192 blocks of 4 KiB
# Block ranges (4 KiB blocks) the guest tests use, apart from each other.
WP_FIRST, WP_COUNT = 0, 256         # guest-written pattern, checked on the host
HD_FIRST, HD_COUNT = 512, 256       # host-written data, checked in the guest
IDLE_SECS = 4           # the idle CPU measurement window
MAIN_TESTS = ["info", "host_data", "write_pattern", "discard", "flush", "dmesg_clean"]


def seed():
    return random.randrange(1, 1 << 30)


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return path


def bdev_config(workdir, backing):
    """--json config: AIO0 on ``backing``; the lvstore on it loads by examine."""
    return write_json(os.path.join(workdir, "bdev.json"), {"subsystems": [
        {"subsystem": "bdev", "config": [
            {"method": "bdev_aio_create",
             "params": {"name": "AIO0", "filename": backing, "block_size": BLOCK}}]}]})


def lvstor_dd(config, *args):
    p = subprocess.run([LVSTOR_DD, "--json", config, "--no-rpc-server", "--no-progress"]
                       + [str(a) for a in args], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "lvstor-dd %s failed (%d):\n%s%s" % (
        " ".join(map(str, args)), p.returncode, p.stdout, p.stderr)


def make_lvol(workdir, lvstord):
    """A 64 MiB file with lvstore lvs0 and a thick 32 MiB lvol vol0, made by a
    daemon that is stopped again. Returns the bdev-only --json config."""
    backing = os.path.join(workdir, "aio.img")
    with open(backing, "wb") as f:
        f.truncate(FILE_MIB << 20)
    cfg = bdev_config(workdir, backing)
    d = lvstord("--json", cfg, name="lvstord-setup")
    rpc(d.sock, "bdev_lvol_create_lvstore", "AIO0", "lvs0")
    rpc(d.sock, "bdev_lvol_create", "-l", "lvs0", "vol0", LVOL_MIB)
    assert d.stop() == 0
    return cfg


def bdev_bytes(sock, name):
    b = json.loads(rpc(sock, "bdev_get_bdevs", "-b", name, "-t", 5000))[0]
    return b["num_blocks"] * b["block_size"]


def iostat(sock, name="lvs0/vol0"):
    return json.loads(rpc(sock, "bdev_get_iostat", "-b", name))["bdevs"][0]


def features(res, **want):
    """Assert negotiated virtio features from the guest's info line."""
    info = res["info"].fields
    got = {k: info.get("f_" + k) for k in want}
    assert got == {k: str(v) for k, v in want.items()}, "virtio features: %s" % info


def start_target(lvstord, cfg, ctrlr="vblk0", bdev="lvs0/vol0", extra=(), mask="0x1",
                 name="lvstord"):
    """lvstord on ``cfg`` with a vhost-blk controller on ``bdev``; returns
    (daemon, vhost socket path)."""
    d = lvstord("--json", cfg, mask=mask, name=name)
    bdev_bytes(d.sock, bdev)        # waits for the lvol to be examined
    rpc(d.sock, "vhost_create_blk_controller", *extra, ctrlr, bdev)
    sock = os.path.join(d.workdir, ctrlr)
    assert os.path.exists(sock), "no vhost socket at %s" % sock
    return d, sock


def test_reference_virtio_blk(workdir, guests):
    """The guest checks on QEMU's own virtio-blk (2 queues, 2 vCPUs): proves
    the kernel, initramfs, guest scripts and result parsing."""
    img = os.path.join(workdir, "ref.img")
    host = os.urandom(HD_COUNT * BLOCK)
    with open(img, "wb") as f:
        f.truncate(LVOL_MIB << 20)
        f.seek(HD_FIRST * BLOCK)
        f.write(host)
    s = seed()
    g = guests("reference", MAIN_TESTS + ["multiqueue"], smp=2, params={
        "seed": s, "wp_first": WP_FIRST, "wp_count": WP_COUNT, "hd_first": HD_FIRST,
        "hd_count": HD_COUNT, "hd_sha256": hashlib.sha256(host).hexdigest(), "queues": 2})
    g.add_virtio_blk(img, num_queues=2)
    res = check_results(g.run(), MAIN_TESTS + ["multiqueue"])
    assert int(res["info"].fields["size"]) == LVOL_MIB << 20
    with open(img, "rb") as f:
        f.seek(WP_FIRST * BLOCK)
        assert f.read(WP_COUNT * BLOCK) == pattern(s, WP_FIRST, WP_COUNT)
    print("reference: kernel to /init's tests %.1f s, whole VM %.1f s"
          % (g.boot_times[0], g.elapsed()))


def test_vhost_blk_lvol_data(workdir, lvstord, guests):
    """/dev/vda has the lvol's size; host-written data reads right in the
    guest; the guest's pattern is on the lvol after the VM exits; discard and
    flush from the guest work."""
    cfg = make_lvol(workdir, lvstord)
    host = os.urandom(HD_COUNT * BLOCK)
    src = os.path.join(workdir, "host.bin")
    with open(src, "wb") as f:
        f.write(host)
    lvstor_dd(cfg, "--if", src, "--ob", "lvs0/vol0", "--bs", "4k", "--seek", HD_FIRST)

    d, sock = start_target(lvstord, cfg)
    size = bdev_bytes(d.sock, "lvs0/vol0")
    s = seed()
    g = guests("vhost_blk_lvol_data", MAIN_TESTS, params={
        "seed": s, "wp_first": WP_FIRST, "wp_count": WP_COUNT, "hd_first": HD_FIRST,
        "hd_count": HD_COUNT, "hd_sha256": hashlib.sha256(host).hexdigest()})
    g.add_vhost_blk(sock)
    res = check_results(g.run(), MAIN_TESTS)
    info = res["info"].fields
    assert int(info["size"]) == size, info
    assert int(info["getsize64"]) == size, info
    assert info["ro"] == "0" and info["queues"] == "1", info
    assert info["write_cache"] == "write_back", info
    features(res, version_1=1, flush=1, discard=1, ro=0, mq=0, packed=0)
    assert int(info["discard_max"]) > 0, info
    # GET_ID: the serial is the bdev's name (the lvol's UUID), cut to 20 bytes.
    name = json.loads(rpc(d.sock, "bdev_get_bdevs", "-b", "lvs0/vol0"))[0]["name"]
    assert info["serial"] == name[:20], info
    st = iostat(d.sock)
    assert st["num_write_ops"] > 0 and st["num_read_ops"] > 0 and st["num_unmap_ops"] > 0, st
    print("vhost-blk: kernel to /init's tests %.1f s, whole VM %.1f s"
          % (g.boot_times[0], g.elapsed()))

    assert d.stop() == 0
    dump = os.path.join(workdir, "dump.bin")
    lvstor_dd(cfg, "--ib", "lvs0/vol0", "--of", dump, "--bs", "4k", "--skip", WP_FIRST,
              "--count", WP_COUNT)
    with open(dump, "rb") as f:
        got = f.read()
    want = pattern(s, WP_FIRST, WP_COUNT)
    assert len(got) == len(want)
    bad = [b for b in range(WP_COUNT)
           if got[b * BLOCK:(b + 1) * BLOCK] != want[b * BLOCK:(b + 1) * BLOCK]]
    assert not bad, "%d blocks differ on the host, first %d: %r" % (
        len(bad), bad[0], got[bad[0] * BLOCK:bad[0] * BLOCK + 64])


def test_vhost_blk_readonly(workdir, lvstord, guests):
    """A read-only controller: the guest sees ro=1, reads work, a write fails."""
    cfg = make_lvol(workdir, lvstord)
    d, sock = start_target(lvstord, cfg, extra=["-r"])
    g = guests("vhost_blk_readonly", ["info", "readonly"])
    g.add_vhost_blk(sock)
    res = check_results(g.run(), ["info", "readonly"])
    assert res["info"].fields["ro"] == "1"
    features(res, ro=1)
    assert iostat(d.sock)["num_write_ops"] == 0


def test_vhost_blk_two_queues_idle(workdir, lvstord, guests):
    """num-queues=2 with 2 vCPUs: blk-mq has two hardware queues and I/O
    pinned to each CPU works. Then the guest idles: lvstord, with the guest
    connected and both queues set up, must use under 5% of a core."""
    cfg = make_lvol(workdir, lvstord)
    d, sock = start_target(lvstord, cfg)
    s = seed()
    tests = ["info", "multiqueue", "write_pattern", "dmesg_clean", "idle"]
    g = guests("vhost_blk_two_queues", tests, smp=2,
               params={"queues": 2, "seed": s, "idle_secs": IDLE_SECS + 3})
    g.add_vhost_blk(sock, num_queues=2)
    g.start()
    g.wait_ready("idle")
    time.sleep(1.0)         # the reactor's idle detection
    t0, c0 = time.monotonic(), d.cpu_ticks()
    time.sleep(IDLE_SECS)
    t1, c1 = time.monotonic(), d.cpu_ticks()
    res = check_results(g.wait(), tests)
    assert res["info"].fields["queues"] == "2"
    features(res, mq=1)
    share = (c1 - c0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    print("idle lvstord with a connected guest: %.1f%% of a core" % (100 * share))
    assert share < 0.05, "idle lvstord used %.1f%% of a core" % (100 * share)


def test_vhost_blk_packed_ring(workdir, lvstord, guests):
    """A controller offering packed rings, with QEMU's packed=on, and
    interrupt coalescing switched on."""
    cfg = make_lvol(workdir, lvstord)
    d, sock = start_target(lvstord, cfg, extra=["-p"])
    # Coalescing on, with a threshold (100/s) even a TCG guest exceeds, so
    # calls are delayed: the guest must still see every completion.
    rpc(d.sock, "vhost_controller_set_coalescing", "vblk0", 100, 100)
    s = seed()
    tests = ["info", "write_pattern", "flush", "dmesg_clean"]
    g = guests("vhost_blk_packed", tests, params={"seed": s})
    g.add_vhost_blk(sock, packed=True)
    res = check_results(g.run(), tests)
    features(res, packed=1, version_1=1)


def test_vhost_blk_guest_reboot(workdir, lvstord, guests):
    """The guest reboots (reboot -f); the second boot reconnects and does I/O."""
    cfg = make_lvol(workdir, lvstord)
    d, sock = start_target(lvstord, cfg)
    g = guests("vhost_blk_reboot", ["info", "reboot"], allow_reboot=True,
               params={"seed": seed()})
    g.add_vhost_blk(sock)
    res = check_results(g.run(timeout=2 * qemu.BOOT_TIMEOUT), ["info", "reboot"])
    assert g.boots == 2, "%d boots" % g.boots
    assert res["reboot"].fields.get("second_boot") == "yes"


def test_vhost_blk_daemon_restart(workdir, lvstord, guests):
    """lvstord is killed (SIGKILL) and restarted with its saved config while
    the guest runs write/verify rounds; with reconnect=1 QEMU reconnects and
    the guest sees no I/O error and no wrong data."""
    cfg = make_lvol(workdir, lvstord)
    d, sock = start_target(lvstord, cfg, name="lvstord-first")
    saved = os.path.join(workdir, "saved.json")
    with open(saved, "w") as f:
        f.write(rpc(d.sock, "save_config"))
    tests = ["stress", "dmesg_clean"]
    g = guests("vhost_blk_restart", tests, params={"st_secs": 25})
    g.add_vhost_blk(sock, reconnect=True)
    g.start()
    g.wait_ready("stress")
    time.sleep(1.0)         # the guest's reader always has requests in flight
    before = iostat(d.sock)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.stop()
    killed_at = time.monotonic()
    d2 = lvstord("--json", saved, name="lvstord-restarted", sock=d.sock)
    ctrlrs = json.loads(rpc(d2.sock, "vhost_get_controllers"))
    assert [c["ctrlr"] for c in ctrlrs] == ["vblk0"], ctrlrs
    # QEMU retries the socket once a second; the guest's I/O must resume
    # on the new daemon.
    deadline = time.monotonic() + 20
    while iostat(d2.sock)["num_read_ops"] == 0:
        assert time.monotonic() < deadline, "no guest I/O reached the restarted lvstord"
        time.sleep(0.2)
    resumed = time.monotonic() - killed_at
    res = check_results(g.wait(timeout=qemu.BOOT_TIMEOUT), tests)
    after = iostat(d2.sock)
    print("restart: I/O resumed %.1f s after the kill; reads before %d, after %d; %s"
          % (resumed, before["num_read_ops"], after["num_read_ops"], res["stress"].detail))
    assert before["num_write_ops"] > 0 and after["num_write_ops"] > 0
    assert int(res["stress"].fields["rounds"]) >= 2
