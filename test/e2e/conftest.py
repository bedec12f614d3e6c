"""Fixtures for the end-to-end tests (run: make e2e, or
/usr/bin/python3 -m pytest -q test/e2e).

``workdir``  a short temp dir (vhost-user and RPC socket paths must fit
             sun_path); removed after a passing test, kept after a failing one.
``lvstord``  factory: ``lvstord(*args, mask="0x1", name=..., sock=...)``
             starts build/bin/lvstord with -S workdir (the vhost socket
             directory) and waits until it answers; at teardown every daemon
             still running gets SIGTERM and must exit 0 within 10 s.
``guests``   factory: ``guests(name, tests, ...)`` makes a qemu.Guest; every
             guest still running at teardown is killed.
"""

import os
import shutil

import pytest

pytest.register_assert_rewrite("qemu")

import qemu  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.e2e_failed = rep.failed


@pytest.fixture
def workdir(request):
    d = qemu.short_tmpdir()
    yield d
    if getattr(request.node, "e2e_failed", True):
        print("e2e: kept %s for post-mortem" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lvstord(workdir):
    if not os.access(qemu.LVSTORD, os.X_OK):
        pytest.fail("%s not found: build it with 'make'" % qemu.LVSTORD)
    started = []

    def start(*args, mask="0x1", name=None, sock=None, wait=True):
        name = name or "lvstord%d" % len(started)
        d = qemu.Daemon(workdir, args, mask=mask, sock=sock, name=name)
        started.append(d)
        return d.start(wait=wait)

    yield start

    problems = qemu.stop_all(started, log_tail=4000)
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def guests():
    made = []

    def make(name, tests, **kw):
        g = qemu.Guest(name, tests, **kw)
        made.append(g)
        return g

    yield make
    for g in made:
        g.kill()
