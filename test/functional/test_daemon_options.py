"""lvstord command line, socket ownership, signals and idle cost
(spec/rpc.md sections 1.1 and 4; DESIGN.md "an idle lvstord must not burn a core")."""

import os
import signal
import socket
import time

import pytest

from daemon_util import run_daemon_expect_exit


def one_line_reason(p, *needles):
    """Option errors: non-zero exit and exactly one non-empty stderr line,
    mentioning one of ``needles`` (found before the daemon starts logging)."""
    assert p.returncode != 0, "expected failure; stdout:\n%s\nstderr:\n%s" % (p.stdout,
                                                                             p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, "want exactly one line on stderr, got:\n%s" % p.stderr
    if needles:
        assert any(n.lower() in lines[0].lower() for n in needles), \
            "stderr line %r does not mention any of %r" % (lines[0], needles)
    return lines[0]


def logged_reason(p, *needles):
    """Start-up errors found after logging began (socket path unusable): the
    daemon's log lines may precede it, but the reason is one self-contained
    error line on stderr naming the problem, and the exit status is non-zero."""
    assert p.returncode != 0, "expected failure; stdout:\n%s\nstderr:\n%s" % (p.stdout,
                                                                             p.stderr)
    errors = [line for line in p.stderr.splitlines()
              if "error" in line.lower() and any(n.lower() in line.lower() for n in needles)]
    assert errors, "no error line on stderr mentioning %r:\n%s" % (needles, p.stderr)
    assert "Usage" not in p.stderr
    return errors[-1]


def test_help(workdir):
    for opt in ("-h", "--help"):
        p = run_daemon_expect_exit([opt])
        assert p.returncode == 0, p.stderr
        text = p.stdout + p.stderr
        assert "usage" in text.lower()
        for word in ("-m", "-r", "--json", "--wait-for-rpc", "-S", "-L"):
            assert word in text, "usage does not mention %s" % word


def test_unknown_option(workdir):
    sock = os.path.join(workdir, "x.sock")
    p = run_daemon_expect_exit(["-r", sock, "--no-such-option"])
    one_line_reason(p, "no-such-option")
    p = run_daemon_expect_exit(["-r", sock, "-Q"])
    one_line_reason(p, "Q")
    p = run_daemon_expect_exit(["-r", sock, "-m"])      # missing argument
    one_line_reason(p, "m")
    assert not os.path.exists(sock)


@pytest.mark.parametrize("mask", ["0xZZ", "zap", "", "0x", "[0,1", "[]", "0x0", "-1"])
def test_bad_cpumask(workdir, mask):
    sock = os.path.join(workdir, "x.sock")
    p = run_daemon_expect_exit(["-m", mask, "-r", sock])
    one_line_reason(p, "mask", mask or "''")
    assert not os.path.exists(sock)


def test_cpumask_with_unavailable_core(workdir):
    ncpu = len(os.sched_getaffinity(0))
    sock = os.path.join(workdir, "x.sock")
    p = run_daemon_expect_exit(["-m", hex(1 << (ncpu + 2)), "-r", sock])
    one_line_reason(p)
    assert not os.path.exists(sock)


def test_cpumask_core_list(lvstord):
    d = lvstord(mask="[0,1]")
    assert sorted(x["lcore"] for x in d.call("framework_get_reactors")["reactors"]) == [0, 1]


def test_default_mask_one_reactor(lvstord):
    d = lvstord(mask=None)
    assert [x["lcore"] for x in d.call("framework_get_reactors")["reactors"]] == [0]


def test_socket_dir_missing(workdir):
    sock = os.path.join(workdir, "no", "such", "dir", "x.sock")
    p = run_daemon_expect_exit(["-r", sock])
    logged_reason(p, sock)


def test_socket_path_too_long(workdir):
    sock = os.path.join(workdir, "s" * (120 - len(workdir)) + ".sock")
    assert len(sock) > 107
    p = run_daemon_expect_exit(["-r", sock])
    one_line_reason(p, "long", "107", "108", sock[:40])
    assert not os.path.exists(sock)


def test_socket_path_limit_exact(lvstord, workdir):
    # 107 characters is the longest path that fits sun_path with its NUL.
    sock = os.path.join(workdir, "")
    sock += "s" * (107 - len(sock))
    assert len(sock) == 107
    d = lvstord(sock=sock)
    assert d.call("log_get_level") == "NOTICE"


def test_socket_in_use_by_running_daemon(lvstord, workdir):
    a = lvstord()
    st = os.stat(a.sock)
    p = run_daemon_expect_exit(["-m", "0x1", "-r", a.sock])
    line = logged_reason(p, a.sock)
    assert "in use" in line
    # The loser must not have touched the winner's socket or lock.
    assert os.path.exists(a.sock) and os.path.exists(a.sock + ".lock")
    assert os.stat(a.sock).st_ino == st.st_ino
    assert a.call("log_get_level") == "NOTICE"


def test_stale_socket_file_is_replaced(lvstord, workdir):
    sock = os.path.join(workdir, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)          # bound, never listening, then abandoned
    s.close()
    assert os.path.exists(sock)
    d = lvstord(sock=sock)
    assert d.call("log_get_level") == "NOTICE"


def test_lock_file_mode(daemon):
    st = os.stat(daemon.sock + ".lock")
    assert st.st_mode & 0o777 == 0o600


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_clean_exit(lvstord, sig):
    d = lvstord()
    # Leave a connection open and a request half-sent: shutdown must not wait for it.
    c = d.raw()
    c.send(b'{"jsonrpc":"2.0","method":"spdk_get_')
    t0 = time.monotonic()
    rc = d.stop(sig, timeout=5)
    elapsed = time.monotonic() - t0
    c.close()
    assert rc == 0, "exit status %d on %s\n%s" % (rc, sig, d.output())
    assert elapsed < 5
    assert not os.path.exists(d.sock), "socket file left behind"
    assert not os.path.exists(d.sock + ".lock"), "lock file left behind"


def test_signal_during_wait_for_rpc(lvstord):
    d = lvstord("--wait-for-rpc")
    assert d.stop(signal.SIGTERM, timeout=5) == 0
    assert not os.path.exists(d.sock) and not os.path.exists(d.sock + ".lock")


def test_restart_on_same_socket(lvstord, workdir):
    sock = os.path.join(workdir, "same.sock")
    a = lvstord(sock=sock)
    assert a.stop() == 0
    b = lvstord(sock=sock)
    assert b.call("log_get_level") == "NOTICE"


def test_log_flag_option(lvstord):
    probe = lvstord()
    flag = sorted(probe.call("log_get_flags"))[-1]
    assert probe.call("log_get_flags")[flag] is False
    d = lvstord("-L", flag)
    assert d.call("log_get_flags")[flag] is True


def test_unknown_log_flag_option(workdir):
    p = run_daemon_expect_exit(["-r", os.path.join(workdir, "x.sock"), "-L", "no_such_flag"])
    one_line_reason(p, "no_such_flag")


def test_idle_cpu_budget(lvstord):
    d = lvstord()
    time.sleep(3)
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.monotonic(), d.cpu_ticks()
    time.sleep(3)
    t1, c1 = time.monotonic(), d.cpu_ticks()
    share = (c1 - c0) / hz / (t1 - t0)
    assert share < 0.02, "idle lvstord used %.1f%% of a core (-m 0x3)" % (share * 100)
