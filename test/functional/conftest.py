"""Fixtures for the functional tests (run: python3 -m pytest -q test/functional).

``lvstord``  - factory: ``lvstord("--wait-for-rpc", mask="0x3")`` starts a real
               build/bin/lvstord with its socket in a fresh short temp dir and
               waits until it answers spdk_get_version.  On teardown every
               daemon still running gets SIGTERM and must exit 0 within 10 s
               (otherwise it is killed with SIGKILL and the test errors).
``daemon``   - one default daemon (``-m 0x3``), started by the factory.
``workdir``  - a short temp dir (socket paths must fit sun_path).
"""

import os
import shutil

import pytest

pytest.register_assert_rewrite("daemon_util")

from daemon_util import LVSTORD, Daemon, short_tmpdir, stop_all  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "daemon_bug(reason): a known lvstord deviation from the spec. The test "
        "keeps its full assertions and runs as a strict xfail (an XPASS fails the run, so "
        "the marker must go when the daemon is fixed). LVSTOR_DAEMON_BUGS=fail runs them "
        "as ordinary tests.")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("LVSTOR_DAEMON_BUGS") == "fail":
        return
    for item in items:
        m = item.get_closest_marker("daemon_bug")
        if m is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason="lvstord bug: " + m.args[0]))


@pytest.fixture
def workdir():
    d = short_tmpdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lvstord(workdir):
    if not os.access(LVSTORD, os.X_OK):
        pytest.fail("%s not found: build it with 'make'" % LVSTORD)
    started = []

    def start(*args, mask="0x3", wait=True, sock=None):
        d = Daemon(workdir, args, mask=mask, sock=sock, name="lvstord%d" % len(started))
        started.append(d)
        return d.start(wait=wait)

    yield start

    problems = stop_all(started)
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def daemon(lvstord):
    return lvstord()
