"""rpc.py against a scripted fake server: what goes on the wire and what the
command line prints (spec/rpc.md sections 1.2-1.4 and 3).  No lvstord needed."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from daemon_util import RPC_PY, run_rpc
from fake_server import FakeServer, error, result

import lvstor_rpc.cli as cli
from lvstor_rpc import commands, framework
from lvstor_rpc.client import JSONRPCClient, JSONRPCException

VERSION = {"version": "SPDK v24.01", "fields": {"major": 24, "minor": 1, "patch": 0,
                                                "suffix": ""}}


def default_handler(req):
    m = req.get("method")
    if m == "spdk_get_version":
        return result(req, VERSION)
    if m == "log_get_level":
        return result(req, "NOTICE")
    if m == "framework_get_config":
        return result(req, None)
    if m == "rpc_get_methods":
        return result(req, ["rpc_get_methods", "spdk_get_version"])
    return result(req, True)


@pytest.fixture
def fake(workdir):
    servers = []

    def make(handler=default_handler, **kw):
        s = FakeServer(handler, path=os.path.join(workdir, "fake%d.sock" % len(servers)), **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def rpc(server, *args, **kw):
    return run_rpc(["-s", server.path] + list(args), **kw)


# -- wire format ---------------------------------------------------------------

def test_request_is_pretty_json_without_params_when_empty(fake):
    srv = fake()
    p = rpc(srv, "spdk_get_version")
    assert p.returncode == 0, p.stdout + p.stderr
    assert len(srv.requests) == 1
    _, raw, req = srv.requests[0]
    assert req == {"jsonrpc": "2.0", "method": "spdk_get_version", "id": 1}
    assert "\n" in raw, "request must be pretty-printed"
    assert raw == json.dumps(req, indent=2)
    # Objects are printed as JSON indented by 2.
    assert p.stdout == json.dumps(VERSION, indent=2) + "\n"


def test_params_and_false_booleans_sent(fake):
    srv = fake()
    assert rpc(srv, "rpc_get_methods").returncode == 0
    assert rpc(srv, "rpc_get_methods", "-c", "-i").returncode == 0
    assert rpc(srv, "framework_get_config", "bdev").returncode == 0
    assert rpc(srv, "framework_get_config", "bdev", "--with-batches").returncode == 0
    assert rpc(srv, "log_set_print_level", "DEBUG").returncode == 0
    params = [r[2].get("params") for r in srv.requests]
    assert params == [
        {"current": False, "include_aliases": False},
        {"current": True, "include_aliases": True},
        {"name": "bdev", "with_batches": False},
        {"name": "bdev", "with_batches": True},
        {"level": "DEBUG"},
    ]


@pytest.mark.parametrize("old,new,extra", [
    ("get_rpc_methods", "rpc_get_methods", []),
    ("get_spdk_version", "spdk_get_version", []),
    ("start_subsystem_init", "framework_start_init", []),
    ("wait_subsystem_init", "framework_wait_init", []),
    ("get_subsystems", "framework_get_subsystems", []),
    ("get_subsystem_config", "framework_get_config", ["bdev"]),
    ("set_log_level", "log_set_level", ["INFO"]),
    ("get_log_level", "log_get_level", []),
    ("set_log_print_level", "log_set_print_level", ["INFO"]),
    ("get_log_print_level", "log_get_print_level", []),
    ("set_log_flag", "log_set_flag", ["bdev"]),
    ("clear_log_flag", "log_clear_flag", ["bdev"]),
    ("get_log_flags", "log_get_flags", []),
])
def test_retired_spelling_sends_new_method(fake, old, new, extra):
    srv = fake()
    p = rpc(srv, old, *extra)
    assert p.returncode == 0, p.stdout + p.stderr
    assert srv.methods == [new]
    assert "%s is deprecated, use %s instead." % (old, new) in p.stderr


def test_response_in_pieces_without_newline(fake):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": VERSION}).encode()
    pieces = tuple(body[i:i + 7] for i in range(0, len(body), 7))
    srv = fake(lambda req: pieces)
    t0 = time.monotonic()
    p = rpc(srv, "-t", "20", "spdk_get_version")
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout) == VERSION
    assert elapsed < 10, "client waited for something after the complete response"


def test_two_responses_in_one_segment_are_kept_apart():
    """The client keeps bytes after one response for the next recv()."""
    a, b = socket.socketpair()
    with a, b:
        c = JSONRPCClient.__new__(JSONRPCClient)
        c.__dict__.update(addr="pair", port=None, timeout=2.0, _next_id=0, _sock=a,
                          _decoder=json.JSONDecoder(), _buf="")
        import codecs
        c._utf8 = codecs.getincrementaldecoder("utf-8")()
        b.sendall(b'{"jsonrpc":"2.0","id":1,"result":"x\xc3\xa9"}'
                  b'{"jsonrpc":"2.0","id":2,"result":[1,2]}')
        assert c.call("m1") == "x\u00e9"
        assert c.call("m2") == [1, 2]


def test_ids_increment_per_connection(fake):
    srv = fake()
    with JSONRPCClient(srv.path, timeout=5) as c:
        for _ in range(3):
            c.call("spdk_get_version")
    with JSONRPCClient(srv.path, timeout=5) as c:
        c.call("spdk_get_version")
    assert [r[2]["id"] for r in srv.requests] == [1, 2, 3, 1]


def test_tcp_when_address_is_ip(fake):
    srv = fake(tcp=True)
    p = run_rpc(["-s", "127.0.0.1", "-p", str(srv.port), "spdk_get_version"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout) == VERSION


# -- output formats ---------------------------------------------------------------

def test_output_formats(fake):
    srv = fake()
    p = rpc(srv, "log_get_level")
    assert (p.returncode, p.stdout) == (0, '"NOTICE"\n')
    p = rpc(srv, "framework_get_config", "scsi")
    assert (p.returncode, p.stdout) == (0, "null\n")
    p = rpc(srv, "log_set_flag", "bdev")
    assert (p.returncode, p.stdout) == (0, "")
    p = rpc(srv, "framework_start_init")
    assert (p.returncode, p.stdout) == (0, "")


def test_printers(capsys):
    commands.print_string("Malloc0")
    commands.print_string(0)
    commands.print_array(["Nvme0n1", "a b"])
    commands.print_json("NOTICE")
    commands.print_nothing(True)
    assert capsys.readouterr().out == "Malloc0\n0\nNvme0n1 'a b'\n\"NOTICE\"\n"


def test_error_printout(fake):
    srv = fake(lambda req: error(req, -19, "No such device"))
    p = rpc(srv, "log_set_flag", "nosuch")
    assert p.returncode == 1
    assert p.stdout == "\n".join([
        "request:",
        "{",
        '  "flag": "nosuch",',
        '  "method": "log_set_flag",',
        '  "req_id": 1',
        "}",
        "Got JSON-RPC error response",
        "response:",
        "{",
        '  "code": -19,',
        '  "message": "No such device"',
        "}",
    ]) + "\n"


def test_client_exception_fields(fake):
    srv = fake(lambda req: error(req, -32601, "Method not found"))
    with JSONRPCClient(srv.path, timeout=5) as c:
        with pytest.raises(JSONRPCException) as ei:
            c.call("nope", {"a": 1})
    assert ei.value.code == -32601
    assert ei.value.error == {"code": -32601, "message": "Method not found"}
    assert ei.value.server_message == "Method not found"
    assert "Got JSON-RPC error response" in ei.value.message


def test_connection_failure_message(workdir):
    path = os.path.join(workdir, "nobody.sock")
    p = run_rpc(["-s", path, "spdk_get_version"])
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[0] == "Error while connecting to %s" % path
    assert lines[1] == "Is SPDK application running?"
    assert lines[2].startswith("Error details: ")


def test_timeout_message(fake):
    srv = fake(lambda req: None)
    t0 = time.monotonic()
    p = rpc(srv, "-t", "0.5", "spdk_get_version")
    assert p.returncode == 1
    assert p.stdout.startswith("Timeout while waiting for response:")
    assert time.monotonic() - t0 < 10


def test_retries_wait_for_socket(workdir):
    path = os.path.join(workdir, "late.sock")
    holder = {}

    def start_late():
        time.sleep(1.0)
        holder["srv"] = FakeServer(default_handler, path=path)

    t = threading.Thread(target=start_late)
    t.start()
    try:
        p = run_rpc(["-s", path, "-r", "50", "spdk_get_version"])
    finally:
        t.join()
        holder["srv"].close()
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout) == VERSION


def test_dry_run_sends_nothing(workdir):
    path = os.path.join(workdir, "nobody.sock")
    for opt in ("--dry-run", "--dry_run"):
        p = run_rpc(["-s", path, opt, "log_set_flag", "bdev"])
        assert p.returncode == 0, p.stdout + p.stderr
        assert "Request:" in p.stdout
        body = json.loads(p.stdout.split("Request:", 1)[1])
        assert body["method"] == "log_set_flag"
        assert body["params"] == {"flag": "bdev"}


def test_help_and_no_command():
    p = run_rpc(["-h"])
    assert p.returncode == 0
    for name in ("rpc_get_methods", "framework_get_config", "save_config", "load_config",
                 "log_get_flags", "thread_get_stats"):
        assert name in p.stdout
    p = run_rpc(["save_config", "-h"])
    assert p.returncode == 0 and "--indent" in p.stdout and "--subsystems" in p.stdout


def test_area_modules_discovered():
    names = {m.__name__.rsplit(".", 1)[1] for m in cli.area_modules()}
    assert {"framework", "log"} <= names


# -- stdin and server modes --------------------------------------------------------

def test_stdin_mode_one_connection(fake):
    srv = fake()
    script = "\n".join(["# a comment", "spdk_get_version", "", "log_set_flag bdev",
                        "  # indented comment", "log_get_level"]) + "\n"
    p = rpc(srv, input=script)
    assert p.returncode == 0, p.stdout + p.stderr
    assert srv.connections == 1
    assert srv.methods == ["spdk_get_version", "log_set_flag", "log_get_level"]
    assert [r[2]["id"] for r in srv.requests] == [1, 2, 3]
    assert p.stdout == json.dumps(VERSION, indent=2) + "\n" + '"NOTICE"\n'


def test_stdin_mode_aborts_on_error(fake):
    def handler(req):
        if req["method"] == "log_set_flag":
            return error(req, -32602, "invalid log flag")
        return default_handler(req)
    srv = fake(handler)
    p = rpc(srv, input="log_get_level\nlog_set_flag bogus\nspdk_get_version\n")
    assert p.returncode == 1
    assert srv.methods == ["log_get_level", "log_set_flag"]
    out = p.stdout.splitlines()
    assert out[0] == '"NOTICE"'
    assert out[1] == "Exception:"
    assert out[2] == "log_get_level"
    assert out[3] == "log_set_flag bogus <<<"
    assert out[4] == "request:"
    assert "\n".join(out[5:]) == "\n".join([
        "{", '  "flag": "bogus",', '  "method": "log_set_flag",', '  "req_id": 2', "}",
        "Got JSON-RPC error response", "response:",
        "{", '  "code": -32602,', '  "message": "invalid log flag"', "}"])


def test_server_mode(fake):
    def handler(req):
        if req["method"] == "log_set_flag":
            return error(req, -32602, "invalid log flag")
        return default_handler(req)
    srv = fake(handler)
    p = rpc(srv, "--server", input="log_get_level\nlog_set_flag x\nno_such_command\n"
                                   "log_clear_flag y\n")
    assert p.returncode == 0
    statuses = [l for l in p.stdout.splitlines() if l.startswith("**STATUS=")]
    assert statuses == ["**STATUS=0", "**STATUS=1", "**STATUS=1", "**STATUS=0"]
    assert srv.connections == 3
    assert srv.methods == ["log_get_level", "log_set_flag", "log_clear_flag"]


def test_plugin_adds_commands(fake):
    srv = fake()
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, RPC_PY, "-s", srv.path, "--plugin", "rpc_test_plugin",
                        "lvstor_test_call", "some_method", '{"a": 1}'],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert srv.requests[0][2] == {"jsonrpc": "2.0", "method": "some_method", "id": 1,
                                  "params": {"a": 1}}


# -- save_config / load_config composites ----------------------------------------

SUBSYSTEMS = [{"subsystem": "accel", "depends_on": []},
              {"subsystem": "bdev", "depends_on": ["accel"]},
              {"subsystem": "scsi", "depends_on": ["bdev"]},
              {"subsystem": "vhost_blk", "depends_on": ["bdev"]}]
CONFIGS = {"accel": [], "bdev": [{"method": "bdev_set_options", "params": {"x": 1}},
                                 {"method": "bdev_wait_for_examine"}],
           "scsi": None, "vhost_blk": []}


def config_handler(req):
    if req["method"] == "framework_get_subsystems":
        return result(req, SUBSYSTEMS)
    if req["method"] == "framework_get_config":
        return result(req, CONFIGS[req["params"]["name"]])
    return default_handler(req)


def test_save_config(fake):
    srv = fake(config_handler)
    p = rpc(srv, "save_config")
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    assert doc == {"subsystems": [{"subsystem": s["subsystem"], "config": CONFIGS[s["subsystem"]]}
                                  for s in SUBSYSTEMS]}
    assert p.stdout == json.dumps(doc, indent=2) + "\n"
    assert srv.methods == ["framework_get_subsystems"] + ["framework_get_config"] * 4
    assert [r[2]["params"] for r in srv.requests[1:]] == [{"name": s["subsystem"]}
                                                          for s in SUBSYSTEMS]


def test_save_config_subset_and_indent(fake):
    srv = fake(config_handler)
    p = rpc(srv, "save_config", "-s", "scsi", "-i", "-1")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "\n" not in p.stdout.rstrip("\n")
    doc = json.loads(p.stdout)
    assert [s["subsystem"] for s in doc["subsystems"]] == ["accel", "bdev", "scsi"]
    p = rpc(srv, "save_config", "--indent", "4")
    assert p.stdout == json.dumps(json.loads(p.stdout), indent=4) + "\n"


class StateServer:
    """Emulates the start-up state machine of spec section 1.12 for load_config."""

    STATES = {"rpc_get_methods": "SR", "framework_start_init": "S",
              "bdev_set_options": "S", "log_set_flag": "SR", "bdev_malloc_create": "R",
              "bdev_wait_for_examine": "R"}

    def __init__(self, runtime=False):
        self.runtime = runtime
        self.calls = []

    def __call__(self, req):
        m = req["method"]
        self.calls.append((m, req.get("params")))
        state = "R" if self.runtime else "S"
        if m == "rpc_get_methods":
            cur = (req.get("params") or {}).get("current")
            return result(req, [k for k, v in self.STATES.items() if not cur or state in v])
        if m not in self.STATES:
            return error(req, -32601, "Method not found")
        if state not in self.STATES[m]:
            return error(req, -1, "wrong state")
        if m == "framework_start_init":
            self.runtime = True
        return result(req, "Malloc0" if m == "bdev_malloc_create" else True)


def write_config(workdir, doc):
    path = os.path.join(workdir, "config.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


LOAD_DOC = {"subsystems": [
    {"subsystem": "scsi", "config": None},
    {"subsystem": "accel", "config": []},
    {"subsystem": "bdev", "config": [
        {"method": "bdev_set_options", "params": {"bdev_io_pool_size": 65535}},
        {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 8,
                                                    "block_size": 512}},
        {"method": "bdev_wait_for_examine"}]},
    {"subsystem": "log", "config": [{"method": "log_set_flag", "params": {"flag": "bdev"}}]},
]}


def test_load_config_startup_then_runtime(fake, workdir):
    state = StateServer(runtime=False)
    srv = fake(state)
    path = write_config(workdir, LOAD_DOC)
    p = rpc(srv, "load_config", "-j", path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == ""
    assert srv.connections == 1
    assert state.calls == [
        ("rpc_get_methods", {"include_aliases": False}),
        ("rpc_get_methods", {"current": True, "include_aliases": False}),
        ("bdev_set_options", {"bdev_io_pool_size": 65535}),
        ("log_set_flag", {"flag": "bdev"}),
        ("framework_start_init", None),
        ("rpc_get_methods", {"current": True, "include_aliases": False}),
        ("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 8, "block_size": 512}),
        ("bdev_wait_for_examine", None),
    ]


def test_load_config_runtime_skips_startup_methods(fake, workdir):
    state = StateServer(runtime=True)
    srv = fake(state)
    path = write_config(workdir, LOAD_DOC)
    p = rpc(srv, "load_config", "--json-conf", path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == ("Some configs were skipped because the RPC state that can call them "
                        "passed over.\n")
    called = [c[0] for c in state.calls if c[0] != "rpc_get_methods"]
    assert called == ["bdev_malloc_create", "bdev_wait_for_examine", "log_set_flag"]


def test_load_config_from_stdin_and_unknown_method(fake, workdir):
    state = StateServer(runtime=True)
    srv = fake(state)
    doc = {"subsystems": [{"subsystem": "bdev", "config": [
        {"method": "log_set_flag", "params": {"flag": "x"}},
        {"method": "bdev_frobnicate", "params": {}}]}]}
    p = rpc(srv, "load_config", input=json.dumps(doc))
    assert p.returncode == 1
    assert "Unknown method was included in the config file" in p.stdout
    assert [c[0] for c in state.calls] == ["rpc_get_methods"]


def test_load_config_empty_starts_framework(fake, workdir):
    state = StateServer(runtime=False)
    srv = fake(state)
    path = write_config(workdir, {"subsystems": [{"subsystem": "scsi", "config": None}]})
    p = rpc(srv, "load_config", "-j", path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert [c[0] for c in state.calls] == ["rpc_get_methods", "framework_start_init"]
    assert state.runtime


def test_load_config_api_returns_status():
    class Fake:
        dry_run = False

        def __init__(self):
            self.state = StateServer(runtime=True)

        def call(self, method, params=None):
            resp = self.state({"method": method, "params": params, "id": 1})
            if "error" in resp:
                raise JSONRPCException("x", error=resp["error"])
            return resp["result"]

    doc = json.loads(json.dumps(LOAD_DOC))
    assert framework.load_config(Fake(), doc) is False
    only_runtime = {"subsystems": [{"subsystem": "bdev",
                                    "config": [{"method": "bdev_wait_for_examine"}]}]}
    assert framework.load_config(Fake(), only_runtime) is True


def test_verbose_logs_to_stderr(fake):
    srv = fake()
    p = rpc(srv, "-v", "log_get_level")
    assert p.returncode == 0
    assert p.stdout == '"NOTICE"\n'
    assert "request:" in p.stderr and '"method": "log_get_level"' in p.stderr
    assert "response:" in p.stderr
    p = rpc(srv, "--verbose", "ERROR", "log_get_level")
    assert p.returncode == 0 and p.stderr == ""
    p = rpc(srv, "log_get_level")
    assert p.stderr == ""


def test_scheduler_params(fake):
    srv = fake()
    assert rpc(srv, "framework_set_scheduler", "dynamic", "-p", "1000", "--load-limit", "10",
               "--core-limit", "20", "--core-busy", "30").returncode == 0
    assert rpc(srv, "framework_set_scheduler", "static", "--mappings", "0:1").returncode == 0
    p = rpc(srv, "framework_set_scheduler", "static")
    assert (p.returncode, p.stdout) == (0, "")
    assert [r[2].get("params") for r in srv.requests] == [
        {"name": "dynamic", "period": 1000, "load_limit": 10, "core_limit": 20,
         "core_busy": 30},
        {"name": "static", "mappings": "0:1"},
        {"name": "static"}]
