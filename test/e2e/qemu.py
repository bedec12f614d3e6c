"""Host side of the end-to-end tests: boot a real Linux guest in QEMU (TCG)
on the busybox initramfs of build-initramfs.sh, attach disks to it (QEMU's
own virtio-blk for harness self-tests, lvstord's vhost-user-blk sockets for
the real thing) and collect the results the guest prints on its serial
console (protocol: test/e2e/init).

Also: the guest test pattern (same bytes as guest/lib.sh's pattern), and
thin wrappers to start lvstord and call scripts/rpc.py (the functional tests'
daemon_util).

Every wait is bounded: a guest that hangs is killed at its timeout and the
test fails with the tail of its console log; nothing here can hang the run.
Python 3 standard library only.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
QEMU = os.environ.get("LVSTOR_QEMU", "qemu-system-x86_64")
OUT = os.path.join(REPO, "build", "e2e")
LOGS = os.path.join(OUT, "logs")

sys.path.insert(0, os.path.join(REPO, "test", "functional"))
from daemon_util import (LVSTORD, RPC_PY, Daemon, DaemonError, run_rpc,  # noqa: E402,F401
                         short_tmpdir, stop_all)

BLOCK = 4096            # the pattern's block size (guest/lib.sh: BS)
BOOT_TIMEOUT = 90.0     # one boot with its tests, TCG on a loaded 2-core box

RESULT_RE = re.compile(r"LVSTOR-RESULT name=(\S+) status=(ok|fail) detail=(.*?)\s*$")
READY_RE = re.compile(r"LVSTOR-READY (\S+) ?(.*?)\s*$")


class GuestError(AssertionError):
    pass


_kernel = None
_initrd = None


def kernel_dir():
    """The unpacked guest kernel (test/e2e/fetch-kernel.sh; downloads it the
    first time). Returns (vmlinuz path, kernel directory)."""
    global _kernel
    if _kernel is None:
        p = subprocess.run([os.path.join(HERE, "fetch-kernel.sh")], capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            raise GuestError("fetch-kernel.sh failed (%d): %s" % (p.returncode, p.stderr))
        d = p.stdout.strip().splitlines()[-1]
        vmlinuz = [f for f in os.listdir(os.path.join(d, "boot")) if f.startswith("vmlinuz-")]
        _kernel = (os.path.join(d, "boot", vmlinuz[0]), d)
    return _kernel


def initramfs():
    """The guest initramfs (build-initramfs.sh; rebuilt only when an input
    changed)."""
    global _initrd
    if _initrd is None:
        _, d = kernel_dir()
        p = subprocess.run([os.path.join(HERE, "build-initramfs.sh"), d, OUT],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise GuestError("build-initramfs.sh failed (%d): %s" % (p.returncode, p.stderr))
        _initrd = p.stdout.strip().splitlines()[-1]
    return _initrd


def pattern(seed, first, count):
    """Bytes of pattern blocks first..first+count-1 for ``seed`` (guest/lib.sh)."""
    out = []
    for b in range(first, first + count):
        for line in range(64):
            out.append(("lvstor-e2e seed=%s block=%d line=%d" % (seed, b, line))
                       .ljust(63).encode() + b"\n")
    return b"".join(out)


class Result:
    def __init__(self, name, status, detail):
        self.name = name
        self.ok = status == "ok"
        self.detail = detail
        self.fields = dict(kv.split("=", 1) for kv in detail.split() if "=" in kv)

    def __repr__(self):
        return "Result(%s, %s, %r)" % (self.name, "ok" if self.ok else "fail", self.detail)


class Guest:
    """One QEMU VM running guest tests.

    ``tests``: guest test names (test/e2e/guest/<name>.sh), run in order.
    ``params``: extra lvstor.<key>=<value> kernel parameters.
    Disks: add_vhost_blk() / add_virtio_blk() before start(); the first disk
    is /dev/vda in the guest.
    """

    def __init__(self, name, tests, params=None, smp=1, mem_mb=512, allow_reboot=False):
        self.name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self.tests = list(tests)
        self.params = dict(params or {})
        self.smp = smp
        self.mem_mb = mem_mb
        self.allow_reboot = allow_reboot
        self.devices = []
        self.proc = None
        self.lines = []
        self.results = []
        self.done = 0               # LVSTOR-DONE lines seen
        self.boots = 0              # LVSTOR-BOOT lines seen
        self.boot_times = []        # seconds from QEMU start to each LVSTOR-BOOT
        self.started_at = None
        self.ended_at = None
        self._cond = threading.Condition()
        self._reader = None
        os.makedirs(LOGS, exist_ok=True)
        self.log_path = os.path.join(LOGS, self.name + ".log")

    def add_vhost_blk(self, sock, num_queues=1, packed=False, reconnect=False):
        i = len(self.devices)
        chardev = "socket,id=vu%d,path=%s" % (i, sock)
        if reconnect:
            chardev += ",reconnect=1"
        dev = "vhost-user-blk-pci,chardev=vu%d,num-queues=%d" % (i, num_queues)
        if packed:
            dev += ",packed=on"
        self.devices += ["-chardev", chardev, "-device", dev]

    def add_virtio_blk(self, path, num_queues=1, readonly=False):
        """QEMU's own virtio-blk on a raw file (tests the harness itself)."""
        i = len(self.devices)
        drive = "file=%s,if=none,id=d%d,format=raw,discard=unmap" % (path, i)
        if readonly:
            drive += ",readonly=on"
        self.devices += ["-drive", drive,
                         "-device", "virtio-blk-pci,drive=d%d,num-queues=%d" % (i, num_queues)]

    def argv(self):
        vmlinuz, _ = kernel_dir()
        append = ["console=ttyS0", "panic=-1", "loglevel=4",
                  "lvstor.test=" + ",".join(self.tests)]
        append += ["lvstor.%s=%s" % kv for kv in sorted(self.params.items())]
        argv = [QEMU, "-accel", "tcg", "-m", str(self.mem_mb),
                "-smp", str(self.smp),
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                "-object", "memory-backend-memfd,id=mem,size=%dM,share=on" % self.mem_mb,
                "-numa", "node,memdev=mem",
                "-kernel", vmlinuz, "-initrd", initramfs(),
                "-append", " ".join(append)]
        if not self.allow_reboot:
            argv.append("-no-reboot")       # a panic or stray reset ends the VM
        return argv + self.devices

    def start(self):
        argv = self.argv()
        self._log = open(self.log_path, "w")
        self._log.write("# %s\n" % " ".join(argv))
        self._log.flush()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._log.write(line + "\n")
            self._log.flush()
            with self._cond:
                self.lines.append(line)
                m = RESULT_RE.search(line)
                if m:
                    self.results.append(Result(*m.groups()))
                if "LVSTOR-BOOT" in line:
                    self.boots += 1
                    self.boot_times.append(time.monotonic() - self.started_at)
                if "LVSTOR-DONE" in line:
                    self.done += 1
                self._cond.notify_all()
        with self._cond:
            self.ended_at = time.monotonic()
            self._cond.notify_all()

    def tail(self, n=40):
        with self._cond:
            return "\n".join(self.lines[-n:])

    def wait_line(self, regex, timeout=BOOT_TIMEOUT):
        """Wait until a console line matches ``regex``; returns the match."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self.ended_at is not None:
                    raise GuestError("guest %s ended before /%s/\n%s"
                                     % (self.name, regex, self.tail()))
                if left <= 0:
                    raise GuestError("guest %s: no /%s/ within %.0f s\n%s"
                                     % (self.name, regex, timeout, self.tail()))
                self._cond.wait(left)

    def wait_ready(self, test, timeout=BOOT_TIMEOUT):
        return self.wait_line(r"LVSTOR-READY %s\b" % re.escape(test), timeout)

    def wait(self, timeout=BOOT_TIMEOUT, dones=1):
        """Wait for the VM to power off after ``dones`` LVSTOR-DONE lines;
        returns {test name: Result} (the last result of each name). Raises
        GuestError on a timeout, a missing LVSTOR-DONE or a QEMU failure."""
        deadline = time.monotonic() + timeout
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise GuestError("guest %s did not finish within %.0f s (log %s)\n%s"
                             % (self.name, timeout, self.log_path, self.tail()))
        self._reader.join(10)
        self._log.close()
        if self.done < dones:
            raise GuestError("guest %s exited (QEMU status %s) after %d of %d LVSTOR-DONE "
                             "(log %s)\n%s" % (self.name, self.proc.returncode, self.done,
                                               dones, self.log_path, self.tail()))
        if self.proc.returncode != 0:
            raise GuestError("QEMU exited with %d (log %s)\n%s"
                             % (self.proc.returncode, self.log_path, self.tail()))
        return {r.name: r for r in self.results}

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(10)

    def elapsed(self):
        end = self.ended_at or time.monotonic()
        return end - self.started_at

    def run(self, timeout=BOOT_TIMEOUT, dones=1):
        self.start()
        try:
            return self.wait(timeout, dones)
        finally:
            self.kill()


def check_results(results, expected):
    """Assert every test in ``expected`` reported ok; returns the dict."""
    problems = []
    for name in expected:
        r = results.get(name)
        if r is None:
            problems.append("%s: no result" % name)
        elif not r.ok:
            problems.append("%s: FAILED: %s" % (name, r.detail))
    assert not problems, "guest tests failed:\n  " + "\n  ".join(problems)
    return results


def rpc(sock, *args, timeout=60.0):
    """scripts/rpc.py -s sock args...; returns stdout, raises on failure."""
    p = run_rpc(["-s", sock] + [str(a) for a in args], timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("rpc.py %s failed (%d):\n%s%s"
                             % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
    return p.stdout
