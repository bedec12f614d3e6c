"""Helpers shared by the functional tests: start/stop a real lvstord, run
scripts/rpc.py as a subprocess, talk raw JSON-RPC over the socket.

Every wait here is bounded: a hung daemon fails a test, it never hangs the run.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LVSTORD = os.environ.get("LVSTORD", os.path.join(REPO, "build", "bin", "lvstord"))
RPC_PY = os.path.join(REPO, "scripts", "rpc.py")

sys.path.insert(0, os.path.join(REPO, "scripts"))
from lvstor_rpc.client import JSONRPCClient, JSONRPCException  # noqa: E402

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

WRONG_STATE_RUNTIME = ("Method may only be called before framework is initialized. "
                       "Use --wait-for-rpc command line parameter and then issue this RPC "
                       "before the framework_start_init RPC.")
WRONG_STATE_STARTUP = ("Method may only be called after framework is initialized using "
                       "framework_start_init RPC.")


METHODS = ["rpc_get_methods", "spdk_get_version", "framework_start_init",
           "framework_wait_init", "framework_get_reactors", "framework_get_subsystems",
           "framework_get_config", "thread_get_stats", "log_set_level", "log_get_level",
           "log_set_print_level", "log_get_print_level", "log_set_flag", "log_clear_flag",
           "log_get_flags"]
RUNTIME_ONLY = ["framework_get_reactors", "framework_get_subsystems", "framework_get_config",
                "thread_get_stats"]
ALIASES = {"get_rpc_methods": "rpc_get_methods", "get_spdk_version": "spdk_get_version",
           "start_subsystem_init": "framework_start_init",
           "wait_subsystem_init": "framework_wait_init",
           "get_subsystems": "framework_get_subsystems",
           "get_subsystem_config": "framework_get_config",
           "set_log_level": "log_set_level", "get_log_level": "log_get_level",
           "set_log_print_level": "log_set_print_level",
           "get_log_print_level": "log_get_print_level",
           "set_log_flag": "log_set_flag", "clear_log_flag": "log_clear_flag",
           "get_log_flags": "log_get_flags"}


def ok(p):
    assert p.returncode == 0, "rc=%d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout,
                                                                   p.stderr)
    return p.stdout


def pretty(p):
    """stdout of a command that prints JSON indented by 2; returns the value."""
    out = ok(p)
    value = json.loads(out)
    assert out == json.dumps(value, indent=2) + "\n", "not indent-2 JSON: %r" % out[:200]
    return value


def error_printout(p):
    """Check the section 3.3 error printout and exit 1; returns (request, error)."""
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "request:", p.stdout
    i = lines.index("Got JSON-RPC error response")
    request = json.loads("\n".join(lines[1:i]))
    assert "\n".join(lines[1:i]) == json.dumps(request, indent=2)
    assert lines[i + 1] == "response:"
    err = json.loads("\n".join(lines[i + 2:]))
    assert "\n".join(lines[i + 2:]) == json.dumps(err, indent=2)
    assert set(err) == {"code", "message"}
    assert isinstance(err["code"], int) and isinstance(err["message"], str)
    return request, err


def short_tmpdir():
    """A temp dir whose paths fit sun_path (pytest's tmp_path can be too long)."""
    return tempfile.mkdtemp(prefix="lvsft.", dir="/tmp")


def stop_all(daemons, log_tail=None):
    """Stops every daemon a test started that is still running (SIGTERM) and
    returns what went wrong: one message per daemon that had died during
    the test, failed to stop, or exited non-zero. Fixtures fail the test
    with them. log_tail: keep only that many characters of each output."""
    problems = []
    for d in daemons:
        if d.proc is None or d.returncode is not None:
            continue
        out = d.output
        if d.proc.poll() is not None:
            rc = d.proc.returncode
            d.stop()
            problems.append("lvstord (%s) died during the test with status %d\noutput:\n%s"
                            % (d.log_path, rc, out()[-log_tail:] if log_tail else out()))
            continue
        try:
            rc = d.stop()
        except AssertionError as ex:
            problems.append(str(ex))
            continue
        if rc != 0:
            problems.append("lvstord (%s) exited with %d on SIGTERM\noutput:\n%s"
                            % (d.log_path, rc, out()[-log_tail:] if log_tail else out()))
    return problems


class DaemonError(AssertionError):
    pass


class Daemon:
    """One lvstord process with its own socket in its own directory."""

    def __init__(self, workdir, args=(), mask="0x3", sock=None, name="lvstord"):
        self.workdir = workdir
        self.sock = sock or os.path.join(workdir, "%s.sock" % name)
        self.log_path = os.path.join(workdir, "%s.log" % name)
        self.argv = [LVSTORD]
        if mask is not None:
            self.argv += ["-m", mask]
        self.argv += ["-r", self.sock, "-S", workdir] + list(args)
        self.proc = None
        self.returncode = None
        self.start_failed = False

    @property
    def pid(self):
        return self.proc.pid

    def start(self, wait=True):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)
        if wait:
            try:
                self.wait_ready()
            except DaemonError:
                self.start_failed = True     # reported here; not again at teardown
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                self.returncode = self.proc.returncode
                self._log.close()
                raise
        return self

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait until spdk_get_version answers on the socket."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DaemonError("lvstord exited with %d during start-up: %s\noutput:\n%s"
                                  % (self.proc.returncode, " ".join(self.argv), self.output()))
            if os.path.exists(self.sock):
                try:
                    with JSONRPCClient(self.sock, timeout=1.0) as c:
                        c.call("spdk_get_version")
                    return
                except JSONRPCException as ex:
                    last = ex
            time.sleep(0.05)
        raise DaemonError("lvstord did not answer spdk_get_version within %.0f s (%s)\n"
                          "output:\n%s" % (timeout, last, self.output()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send ``sig`` and wait; returns the exit status.  If the daemon does
        not exit within ``timeout`` it is killed and DaemonError is raised."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = self.proc.returncode
                self._log.close()
                raise DaemonError("lvstord did not exit within %.0f s of signal %d; killed"
                                  "\noutput:\n%s" % (timeout, sig, self.output()))
        self.returncode = self.proc.returncode
        self._log.close()
        return self.returncode

    def client(self, timeout=10.0):
        return JSONRPCClient(self.sock, timeout=timeout)

    def call(self, method, params=None, timeout=10.0):
        with self.client(timeout) as c:
            return c.call(method, params)

    def rpc(self, *args, **kw):
        return run_rpc(["-s", self.sock] + list(args), **kw)

    def raw(self, timeout=5.0):
        return RawConn(self.sock, timeout)

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.pid)

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.pid) as f:
            data = f.read()
        fields = data[data.rindex(")") + 2:].split()
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        return int(fields[11]) + int(fields[12])


def run_rpc(args, input=None, timeout=60.0):
    """Run scripts/rpc.py with ``args``; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, RPC_PY] + list(args), input=input,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def run_daemon_expect_exit(argv, timeout=15.0, cwd=None):
    """Run lvstord expecting it to exit on its own; returns CompletedProcess."""
    try:
        return subprocess.run([LVSTORD] + list(argv), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)
    except subprocess.TimeoutExpired as ex:
        raise AssertionError("lvstord %s did not exit within %.0f s" % (argv, timeout)) from ex


class ConnectionClosed(Exception):
    pass


class RawConn:
    """A plain socket to the daemon, for protocol-level tests."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.buf = b""
        self.dec = json.JSONDecoder()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, (dict, list)):
            data = json.dumps(data)
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _decode_one(self):
        text = self.buf.decode("utf-8", "replace")
        start = len(text) - len(text.lstrip())
        if start == len(text):
            return None
        try:
            value, end = self.dec.raw_decode(text, start)
        except ValueError:
            return None
        raw = text[start:end]
        self.buf = text[end:].encode()
        return raw, value

    def recv_raw(self, timeout=None):
        """Next complete JSON value as (raw text, parsed value)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            got = self._decode_one()
            if got is not None:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete response; buffered %r" % self.buf[:200])
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                raise ConnectionClosed("closed; buffered %r" % self.buf[:200])
            self.buf += data

    def recv(self, timeout=None):
        return self.recv_raw(timeout)[1]

    def call(self, method, params=None, req_id=1):
        req = {"jsonrpc": "2.0", "method": method, "id": req_id}
        if params is not None:
            req["params"] = params
        self.send(req)
        return self.recv()

    def expect_nothing(self, duration=0.5):
        """Assert that no bytes arrive within ``duration`` seconds."""
        self.sock.settimeout(duration)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        raise AssertionError("unexpected data from server: %r" % data[:200])

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within ``timeout``
        (any bytes still arriving before the close are collected in buf)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not data:
                return True
            self.buf += data
