"""`make run`'s embedded default (issue 5, item 5): the first run creates the
lvolstore lvs0 on the default file device, later runs find it by examine, and
a new user can go straight to `rpc.py bdev_lvol_create -l lvs0 vol0 1024`.

scripts/run-default.sh runs as `make run` would, with its state directory and
socket moved into the test's temp dir (LVSTOR_STATE_DIR, and -r passed
through to lvstord).
"""

import os
import signal
import subprocess
import time

from daemon_util import REPO, JSONRPCClient, JSONRPCException, run_rpc
from test_lvol_common import check_image

RUN_DEFAULT = os.path.join(REPO, "scripts", "run-default.sh")


def launch(state_dir, sock):
    env = dict(os.environ, LVSTOR_STATE_DIR=state_dir, LVSTOR_CPUMASK="0x1")
    os.makedirs(state_dir, exist_ok=True)
    log = open(os.path.join(state_dir, "run.log"), "ab")
    p = subprocess.Popen([RUN_DEFAULT, "-r", sock], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env, cwd=REPO)
    log.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert p.poll() is None, open(os.path.join(state_dir, "run.log")).read()
        if os.path.exists(sock):
            try:
                with JSONRPCClient(sock, timeout=2) as c:
                    # The first run creates lvs0 from --json, after the
                    # server already answers: ready is when lvs0 is listed.
                    c.call("bdev_lvol_get_lvstores", {"lvs_name": "lvs0"})
                return p
            except JSONRPCException:
                pass
        time.sleep(0.1)
    p.kill()
    raise AssertionError("run-default.sh did not come up")


def stop(p, state_dir):
    p.send_signal(signal.SIGINT)
    rc = p.wait(20)
    with open(os.path.join(state_dir, "run.log")) as f:
        assert rc == 0, f.read()


def test_make_run_default_has_lvs0(workdir):
    state = os.path.join(workdir, "var")
    sock = os.path.join(workdir, "d.sock")
    p = launch(state, sock)
    try:
        stores = JSONRPCClient(sock).call("bdev_lvol_get_lvstores")
        assert [(s["name"], s["base_bdev"]) for s in stores] == [("lvs0", "Default0")]
        r = run_rpc(["-s", sock, "bdev_lvol_create", "-l", "lvs0", "vol0", "1024"])
        assert r.returncode == 0, r.stdout + r.stderr
        vol0 = r.stdout.strip()
    finally:
        stop(p, state)
    img = os.path.join(state, "lvstor-default.img")
    check_image(img, expect_clean=True)

    # Second run: no create in the config; the store and vol0 come back by examine.
    p = launch(state, sock)
    try:
        with open(os.path.join(state, "default-config.json")) as f:
            assert "bdev_lvol_create_lvstore" not in f.read()
        c = JSONRPCClient(sock)
        assert [s["name"] for s in c.call("bdev_lvol_get_lvstores")] == ["lvs0"]
        assert c.call("bdev_get_bdevs", {"name": "lvs0/vol0"})[0]["name"] == vol0
    finally:
        stop(p, state)
    check_image(img, expect_clean=True)
