"""Start-up states, --wait-for-rpc, --json and save_config/load_config
(spec/rpc.md sections 1.12 and 2.1.7)."""

import json
import os

import pytest

from daemon_util import (METHODS, RUNTIME_ONLY, WRONG_STATE_RUNTIME, WRONG_STATE_STARTUP,
                         JSONRPCException, error_printout, ok, run_daemon_expect_exit)

SKIPPED = "Some configs were skipped because the RPC state that can call them passed over.\n"


def wrong_state(daemon, method, params=None):
    with pytest.raises(JSONRPCException) as ei:
        daemon.call(method, params)
    return ei.value.error


def test_wait_for_rpc(lvstord):
    d = lvstord("--wait-for-rpc")
    # Startup state: runtime-only methods refuse with the exact text.
    for method in RUNTIME_ONLY:
        params = {"name": "bdev"} if method == "framework_get_config" else None
        assert wrong_state(d, method, params) == {"code": -1, "message": WRONG_STATE_STARTUP}
    _, err = error_printout(d.rpc("framework_get_reactors"))
    assert err == {"code": -1, "message": WRONG_STATE_STARTUP}

    current = d.call("rpc_get_methods", {"current": True})
    assert "framework_start_init" in current
    assert not set(RUNTIME_ONLY) & set(current)
    assert set(METHODS) - set(RUNTIME_ONLY) <= set(current)
    assert set(METHODS) <= set(d.call("rpc_get_methods"))

    # S+R methods work in startup state.
    assert ok(d.rpc("log_set_level", "INFO")) == ""
    assert d.call("log_get_level") == "INFO"

    # framework_wait_init is held until initialisation completes.
    waiter = d.raw(timeout=10)
    waiter.send({"jsonrpc": "2.0", "method": "framework_wait_init", "id": 1})
    waiter.expect_nothing(0.5)

    p = d.rpc("framework_start_init")
    assert (p.returncode, p.stdout) == (0, ""), p.stdout + p.stderr
    assert waiter.recv() == {"jsonrpc": "2.0", "id": 1, "result": True}
    waiter.close()

    # Runtime now: start_init again is the other wrong-state error.
    _, err = error_printout(d.rpc("framework_start_init"))
    assert err == {"code": -1, "message": WRONG_STATE_RUNTIME}
    current = d.call("rpc_get_methods", {"current": True})
    assert "framework_start_init" not in current
    assert set(RUNTIME_ONLY) <= set(current)
    assert sorted(x["lcore"] for x in d.call("framework_get_reactors")["reactors"]) == [0, 1]
    p = d.rpc("framework_wait_init")
    assert (p.returncode, p.stdout) == (0, "")
    assert d.call("log_get_level") == "INFO", "startup-state settings survive init"


def test_start_subsystem_init_alias(lvstord):
    d = lvstord("--wait-for-rpc")
    assert d.call("start_subsystem_init") is True
    assert d.call("wait_subsystem_init") is True
    assert d.call("framework_get_subsystems") is not None


def save(daemon, *args):
    out = ok(daemon.rpc("save_config", *args))
    doc = json.loads(out)
    return out, doc


def check_document(daemon, doc):
    subs = daemon.call("framework_get_subsystems")
    assert list(doc) == ["subsystems"]
    assert [s["subsystem"] for s in doc["subsystems"]] == [s["subsystem"] for s in subs]
    for s in doc["subsystems"]:
        assert list(s) == ["subsystem", "config"]
        assert s["config"] == daemon.call("framework_get_config", {"name": s["subsystem"]})


def has_entries(doc):
    return any(s["config"] for s in doc["subsystems"])


def test_save_config_structure_and_options(daemon):
    out, doc = save(daemon)
    assert out == json.dumps(doc, indent=2) + "\n"
    check_document(daemon, doc)
    compact, _ = save(daemon, "-i", "-1")
    assert json.loads(compact) == doc and compact.count("\n") == 1
    subs = daemon.call("framework_get_subsystems")
    if subs:
        last = subs[-1]
        _, part = save(daemon, "-s", last["subsystem"])
        names = [s["subsystem"] for s in part["subsystems"]]
        assert last["subsystem"] in names
        assert set(last["depends_on"]) <= set(names)


def test_save_config_roundtrip_with_json(lvstord, workdir):
    a = lvstord()
    ok(a.rpc("log_set_level", "DEBUG"))
    ok(a.rpc("log_set_flag", sorted(a.call("log_get_flags"))[0]))
    _, doc = save(a)
    check_document(a, doc)
    path = os.path.join(workdir, "saved.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)

    # A fresh daemon started with --json comes up with the same configuration.
    b = lvstord("--json", path)
    assert "framework_start_init" not in b.call("rpc_get_methods", {"current": True})
    _, doc_b = save(b)
    assert doc_b == doc

    # The same file through load_config into a --wait-for-rpc daemon: loads
    # the startup entries, calls framework_start_init, loads the rest.
    c = lvstord("--wait-for-rpc")
    p = c.rpc("load_config", "-j", path)
    assert (p.returncode, p.stdout) == (0, ""), p.stdout + p.stderr
    assert "framework_start_init" not in c.call("rpc_get_methods", {"current": True})
    assert sorted(x["lcore"] for x in c.call("framework_get_reactors")["reactors"]) == [0, 1]
    _, doc_c = save(c)
    assert doc_c == doc

    # And into a running daemon, from stdin: startup-only entries are skipped
    # with the message, the rest is applied.
    if has_entries(doc):
        d = lvstord()
        p = d.rpc("load_config", input=json.dumps(doc))
        assert p.returncode == 0, p.stdout + p.stderr
        assert p.stdout in ("", SKIPPED)


def test_load_config_unknown_method(daemon, workdir):
    subs = daemon.call("framework_get_subsystems")
    name = subs[0]["subsystem"] if subs else "bdev"
    doc = {"subsystems": [{"subsystem": name, "config": [
        {"method": "log_set_level", "params": {"level": "DEBUG"}},
        {"method": "no_such_method_xyz", "params": {}}]}]}
    p = daemon.rpc("load_config", input=json.dumps(doc))
    assert p.returncode == 1
    assert "Unknown method was included in the config file" in p.stdout
    assert daemon.call("log_get_level") == "NOTICE", "nothing may be called before the check"


def _first_subsystem(lvstord):
    probe = lvstord()
    subs = probe.call("framework_get_subsystems")
    flag = sorted(probe.call("log_get_flags"))[0]
    assert probe.stop() == 0
    return (subs[0]["subsystem"] if subs else "log"), flag


def test_json_startup_entries_run_before_wait(lvstord, workdir):
    sub, flag = _first_subsystem(lvstord)
    path = os.path.join(workdir, "c.json")
    with open(path, "w") as f:
        json.dump({"subsystems": [{"subsystem": sub, "config": [
            {"method": "log_set_flag", "params": {"flag": flag}},
            {"method": "log_set_print_level", "params": {"level": "WARNING"}}]}]}, f)
    d = lvstord("--json", path, "--wait-for-rpc")
    # Startup pass done, still waiting for framework_start_init.
    assert "framework_start_init" in d.call("rpc_get_methods", {"current": True})
    assert d.call("log_get_flags")[flag] is True
    assert d.call("log_get_print_level") == "WARNING"
    assert d.call("framework_start_init") is True
    assert d.call("framework_get_reactors")["reactors"]


def test_json_unknown_method_aborts_startup(lvstord, workdir):
    sub, _ = _first_subsystem(lvstord)
    path = os.path.join(workdir, "bad.json")
    with open(path, "w") as f:
        json.dump({"subsystems": [{"subsystem": sub, "config": [
            {"method": "no_such_method_xyz", "params": {}}]}]}, f)
    sock = os.path.join(workdir, "bad.sock")
    p = run_daemon_expect_exit(["-m", "0x1", "-r", sock, "--json", path])
    assert p.returncode != 0, p.stdout + p.stderr
    assert not os.path.exists(sock) and not os.path.exists(sock + ".lock")

    d = lvstord("--json", path, "--json-ignore-init-errors")
    assert d.call("log_get_level") == "NOTICE"


def test_json_missing_or_invalid_file(workdir):
    sock = os.path.join(workdir, "x.sock")
    p = run_daemon_expect_exit(["-m", "0x1", "-r", sock, "--json",
                                os.path.join(workdir, "missing.json")])
    assert p.returncode != 0
    bad = os.path.join(workdir, "broken.json")
    with open(bad, "w") as f:
        f.write('{"subsystems": [')
    p = run_daemon_expect_exit(["-m", "0x1", "-r", sock, "--json", bad])
    assert p.returncode != 0
    assert not os.path.exists(sock)


def test_scheduler_settable_in_startup_state(lvstord):
    d = lvstord("--wait-for-rpc")
    name = "static"
    assert ok(d.rpc("framework_set_scheduler", name, "-p", "300000")) == ""
    assert d.call("framework_start_init") is True
    s = d.call("framework_get_scheduler")
    assert (s["scheduler_name"], s["scheduler_period"]) == (name, 300000)


def test_waiter_disconnects_before_init(lvstord):
    d = lvstord("--wait-for-rpc")
    for i in range(3):
        w = d.raw()
        w.send({"jsonrpc": "2.0", "method": "framework_wait_init", "id": i})
        w.close()
    # framework_start_init sent as a notification: executed, no response.
    with d.raw() as c:
        c.send({"jsonrpc": "2.0", "method": "framework_start_init"})
        c.send({"jsonrpc": "2.0", "method": "framework_wait_init", "id": 5})
        assert c.recv(timeout=10) == {"jsonrpc": "2.0", "id": 5, "result": True}
    assert "framework_start_init" not in d.call("rpc_get_methods", {"current": True})
    assert d.alive()


def test_requests_queued_during_init_are_answered(lvstord):
    d = lvstord("--wait-for-rpc")
    with d.raw(timeout=10) as c:
        c.send("".join(json.dumps(r) for r in [
            {"jsonrpc": "2.0", "method": "framework_start_init", "id": 1},
            {"jsonrpc": "2.0", "method": "framework_get_subsystems", "id": 2},
            {"jsonrpc": "2.0", "method": "framework_start_init", "id": 3}]))
        got = {}
        for _ in range(3):
            r = c.recv()
            got[r["id"]] = r
    assert got[1]["result"] is True
    # Requests behind framework_start_init are processed after initialisation.
    assert isinstance(got[2]["result"], list), got[2]
    assert got[3]["error"] == {"code": -1, "message": WRONG_STATE_RUNTIME}
