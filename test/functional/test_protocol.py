"""JSON-RPC wire protocol of lvstord over a raw socket (spec/rpc.md section 1)."""

import json
import socket
import threading
import time

import pytest

from daemon_util import RawConn

RSS_LIMIT_KIB = 200 * 1024


def req(method, req_id=1, params=None, **extra):
    r = {"jsonrpc": "2.0", "method": method}
    if req_id is not None:
        r["id"] = req_id
    if params is not None:
        r["params"] = params
    r.update(extra)
    return r


def assert_alive(daemon):
    assert daemon.alive(), "lvstord died:\n" + daemon.output()
    with daemon.raw() as c:
        assert "version" in c.call("spdk_get_version", req_id=99)["result"]


# -- framing ----------------------------------------------------------------------------

def test_response_format(daemon):
    with daemon.raw() as c:
        c.send(req("log_get_level", 1))
        deadline = time.monotonic() + 5
        while b"\n" not in c.buf and time.monotonic() < deadline:
            c.sock.settimeout(deadline - time.monotonic())
            c.buf += c.sock.recv(4096)
        raw = c.buf.decode()
        assert raw == '{"jsonrpc":"2.0","id":1,"result":"NOTICE"}\n'
        c.buf = b""
        c.send(req("spdk_get_version", 2))
        text, value = c.recv_raw()
        assert text == json.dumps(value, separators=(",", ":")), "response must be compact"
        assert list(value) == ["jsonrpc", "id", "result"]
        assert value["id"] == 2


def test_pretty_printed_request_no_trailing_newline(daemon):
    with daemon.raw() as c:
        c.send(json.dumps(req("spdk_get_version", 1), indent=2))
        assert c.recv()["id"] == 1


def test_request_split_across_writes(daemon):
    data = json.dumps(req("log_get_level", 5), indent=2).encode()
    with daemon.raw() as c:
        for i in range(0, len(data), 3):
            c.send(data[i:i + 3])
            time.sleep(0.005)
        assert c.recv() == {"jsonrpc": "2.0", "id": 5, "result": "NOTICE"}


def test_pipelined_requests_matched_by_id(daemon):
    reqs = [req("spdk_get_version", 11), req("log_get_level", 12),
            req("no_such_method", 13), req("log_get_print_level", "x14"),
            req("framework_get_subsystems", 15)]
    blob = "".join(json.dumps(r) for r in reqs[:2]) + "\n  \n" + \
        "".join(json.dumps(r, indent=1) for r in reqs[2:])
    with daemon.raw() as c:
        c.send(blob)
        got = {}
        for _ in reqs:
            r = c.recv()
            got[r["id"]] = r
        c.expect_nothing(0.3)
    assert set(got) == {11, 12, 13, "x14", 15}
    assert got[11]["result"]["version"]
    assert got[12]["result"] == "NOTICE"
    assert got[13]["error"] == {"code": -32601, "message": "Method not found"}
    assert got["x14"]["result"] == "INFO"
    assert isinstance(got[15]["result"], list)


def test_many_requests_on_one_connection(daemon):
    with daemon.raw() as c:
        for i in range(1, 201):
            assert c.call("log_get_level", req_id=i) == {"jsonrpc": "2.0", "id": i,
                                                          "result": "NOTICE"}


@pytest.mark.parametrize("token", [
    '"abc"', "1.0", "-7", "0", '""', "12345678901", "4e0", "1E+2", "-0.50e-3", "2.50",
])
def test_id_echoed_verbatim(daemon, token):
    with daemon.raw() as c:
        c.send('{"jsonrpc":"2.0","method":"log_get_level","id":%s}' % token)
        text, value = c.recv_raw()
        assert text.startswith('{"jsonrpc":"2.0","id":%s,' % token), (token, text)
        assert value["result"] == "NOTICE"
        # Error responses echo it too.
        c.send('{"jsonrpc":"2.0","method":"no_such_method","id":%s}' % token)
        text, value = c.recv_raw()
        assert text.startswith('{"jsonrpc":"2.0","id":%s,' % token), (token, text)
        assert value["error"]["code"] == -32601


def test_jsonrpc_member_optional_and_params_null(daemon):
    with daemon.raw() as c:
        c.send({"method": "log_get_level", "id": 1})
        assert c.recv()["result"] == "NOTICE"
        c.send({"jsonrpc": "2.0", "method": "spdk_get_version", "id": 2, "params": None})
        assert "version" in c.recv()["result"]


def test_params_array_reaches_handler(daemon):
    with daemon.raw() as c:
        c.send(req("log_set_level", 1, ["DEBUG"]))
        r = c.recv()
        assert r["error"]["code"] != -32600, "an array params is a valid envelope"
        assert r["error"]["code"] in (-32602, -32603)
        assert c.call("log_get_level", req_id=2)["result"] == "NOTICE"


# -- invalid envelopes ------------------------------------------------------------------

INVALID_ENVELOPES = [
    {"jsonrpc": "1.0", "method": "spdk_get_version", "id": 1},
    {"jsonrpc": 2.0, "method": "spdk_get_version", "id": 1},
    {"jsonrpc": "2.0", "id": 1},
    {"jsonrpc": "2.0", "method": 5, "id": 1},
    {"jsonrpc": "2.0", "method": None, "id": 1},
    {"jsonrpc": "2.0", "method": "spdk_get_version", "params": "x", "id": 1},
    {"jsonrpc": "2.0", "method": "spdk_get_version", "params": 5, "id": 1},
    {"jsonrpc": "2.0", "method": "spdk_get_version", "params": True, "id": 1},
    {"jsonrpc": "2.0", "method": "spdk_get_version", "id": {}},
    {"jsonrpc": "2.0", "method": "spdk_get_version", "id": [1]},
    {"jsonrpc": "2.0", "method": "spdk_get_version", "id": True},
    {"jsonrpc": "2.0", "method": "spdk_get_version", "id": 1, "foo": 1},
    "abc",
]


@pytest.mark.parametrize("envelope", INVALID_ENVELOPES,
                         ids=[json.dumps(e) for e in INVALID_ENVELOPES])
def test_invalid_envelope(daemon, envelope):
    with daemon.raw() as c:
        c.send(json.dumps(envelope))
        r = c.recv()
        assert set(r) == {"jsonrpc", "id", "error"}
        assert r["error"] == {"code": -32600, "message": "Invalid request"}
        assert r["id"] in (1, None)
        # The connection stays usable after an invalid request.
        assert c.call("log_get_level", req_id=2) == {"jsonrpc": "2.0", "id": 2,
                                                     "result": "NOTICE"}


def test_invalid_envelope_does_not_run_method(daemon):
    with daemon.raw() as c:
        c.send(req("log_set_level", 1, {"level": "DEBUG"}, extra_member=True))
        assert c.recv()["error"]["code"] == -32600
        assert c.call("log_get_level", req_id=2)["result"] == "NOTICE"


# -- notifications ----------------------------------------------------------------------

def test_notifications(daemon):
    with daemon.raw() as c:
        c.send(req("log_set_level", None, {"level": "INFO"}))           # no id
        c.send(req("log_set_print_level", None, {"level": "ERROR"}, id=None))
        c.send(req("log_get_level", 7))
        assert c.recv() == {"jsonrpc": "2.0", "id": 7, "result": "INFO"}, \
            "a notification must get no response"
        c.expect_nothing(0.3)
        # Both notifications were executed.
        assert c.call("log_get_print_level", req_id=8)["result"] == "ERROR"


def test_failed_notification_gets_error_with_null_id(daemon):
    with daemon.raw() as c:
        c.send(req("no_such_method", None))
        assert c.recv() == {"jsonrpc": "2.0", "id": None,
                            "error": {"code": -32601, "message": "Method not found"}}
        c.send(req("log_set_flag", None, {"flag": "no_such_flag_xyz"}, id=None))
        r = c.recv()
        assert r["id"] is None and r["error"]["code"] == -32602


# -- batches (>= v26.05) ----------------------------------------------------------------

def test_batch(daemon):
    with daemon.raw() as c:
        c.send([req("spdk_get_version", 1), req("log_get_level", "two"), 5,
                req("no_such_method", 4)])
        text, r = c.recv_raw()
        assert isinstance(r, list) and len(r) == 4
        by_id = {}
        for e in r:
            by_id.setdefault(e["id"], []).append(e)
        assert by_id[1][0]["result"]["version"]
        assert by_id["two"][0]["result"] == "NOTICE"
        assert by_id[None] == [{"jsonrpc": "2.0", "id": None,
                                "error": {"code": -32600, "message": "Invalid request"}}]
        assert by_id[4][0]["error"]["code"] == -32601
        if not c.buf:
            c.sock.settimeout(2)
            c.buf += c.sock.recv(1)
        assert c.buf.startswith(b"\n"), "a batch response is followed by a newline"
        c.buf = c.buf[1:]
        c.expect_nothing(0.3)


def test_empty_batch(daemon):
    with daemon.raw() as c:
        c.send("[]")
        assert c.recv() == {"jsonrpc": "2.0", "id": None,
                            "error": {"code": -32600, "message": "Invalid request"}}


def test_batch_notifications(daemon):
    with daemon.raw() as c:
        c.send([req("log_set_level", None, {"level": "ERROR"}),
                req("log_get_level", None)])
        c.send(req("log_get_level", 9))
        assert c.recv() == {"jsonrpc": "2.0", "id": 9, "result": "ERROR"}, \
            "a batch of successful notifications gets no response"
        c.send([req("no_such_method", None), req("log_get_level", 3)])
        r = c.recv()
        assert isinstance(r, list) and len(r) == 2
        assert {"jsonrpc": "2.0", "id": None,
                "error": {"code": -32601, "message": "Method not found"}} in r
        assert {"jsonrpc": "2.0", "id": 3, "result": "ERROR"} in r


# -- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02garbage\xff\xfe",
    b'{"jsonrpc":"2.0","method":"spdk_get_version","id":1,,}',
    b'{"jsonrpc":"2.0","method":"spdk_get_version","id":1,}',
    b'/* comment */ {"jsonrpc":"2.0","method":"spdk_get_version","id":1}',
    b'{"jsonrpc":"2.0","method":spdk_get_version,"id":1}',
    b'}',
], ids=["binary", "double-comma", "trailing-comma", "comment", "bare-word", "close-brace"])
def test_parse_error_closes_connection(daemon, garbage):
    with daemon.raw() as c:
        c.send(garbage)
        r = c.recv()
        assert r == {"jsonrpc": "2.0", "id": None,
                     "error": {"code": -32700, "message": "Parse error"}}
        assert c.wait_closed(5), "connection must be closed after a parse error"
    assert_alive(daemon)


def test_token_limit(daemon):
    with daemon.raw() as c:
        c.send(req("log_set_level", 1, {"level": "INFO", "pad": list(range(9000))}))
        r = c.recv()
        assert r["error"] == {"code": -32700, "message": "Parse error"}
        assert c.wait_closed(5)
    with daemon.raw() as c:
        # Well under 8192 tokens: decoded normally (and rejected for the unknown key).
        c.send(req("log_set_level", 1, {"level": "INFO", "pad": list(range(4000))}))
        r = c.recv()
        assert r["error"]["code"] != -32700
    assert_alive(daemon)


def test_truncated_request_then_disconnect(daemon):
    with daemon.raw() as c:
        c.send(b'{"jsonrpc":"2.0","method":"spdk_get_ver')
    with daemon.raw() as c:
        c.send(b'{"jsonrpc":"2.0","method":"log_set_level","params":{"level":"DEB')
        time.sleep(0.1)
    for _ in range(3):
        assert_alive(daemon)
    assert daemon.call("log_get_level") == "NOTICE"


def _stream_until_closed(sock, prefix, filler, total):
    """Send prefix then filler until ``total`` bytes or the peer stops us.
    Returns (bytes sent, how it ended)."""
    sent = 0
    sock.settimeout(20)
    try:
        sock.sendall(prefix)
        sent += len(prefix)
        while sent < total:
            sock.sendall(filler)
            sent += len(filler)
    except (BrokenPipeError, ConnectionResetError):
        return sent, "closed"
    except socket.timeout:
        return sent, "stalled"
    return sent, "all sent"


def test_huge_unterminated_request_is_cut_off(daemon):
    base = daemon.rss_kib()
    with daemon.raw() as c:
        sent, how = _stream_until_closed(
            c.sock, b'{"jsonrpc":"2.0","id":1,"method":"', b"a" * (1 << 20), 100 << 20)
        assert how != "stalled", ("server stopped reading after %d bytes but did not close "
                                  "the connection" % sent)
        assert how == "closed" or c.wait_closed(5), "connection not closed"
        # Anything it sent before closing must be a -32700.
        if c.buf.strip():
            r = json.loads(c.buf)
            assert r["error"]["code"] == -32700
        rss = daemon.rss_kib()
    assert rss < RSS_LIMIT_KIB, "RSS %d KiB (was %d KiB before)" % (rss, base)
    assert_alive(daemon)
    assert daemon.rss_kib() < RSS_LIMIT_KIB


def test_huge_whitespace_stream_memory_bounded(daemon):
    with daemon.raw() as c:
        sent, how = _stream_until_closed(c.sock, b"", b" \n\t" * (1 << 18), 100 << 20)
        assert how != "stalled", "server stopped reading without closing"
        assert daemon.rss_kib() < RSS_LIMIT_KIB
    assert_alive(daemon)
    assert daemon.rss_kib() < RSS_LIMIT_KIB


def test_idle_client_does_not_block_others(daemon):
    idle = daemon.raw()
    half = daemon.raw()
    try:
        half.send(b'{"jsonrpc":"2.0","method":"spdk_get_version"')
        t0 = time.monotonic()
        with daemon.raw(timeout=2) as c:
            assert c.call("log_get_level")["result"] == "NOTICE"
        assert time.monotonic() - t0 < 2
        # The half-sent request still completes later.
        half.send(b',"id":3}')
        assert half.recv()["id"] == 3
    finally:
        idle.close()
        half.close()


def test_70_concurrent_connections(daemon):
    n, per_conn = 70, 5
    barrier = threading.Barrier(n, timeout=20)
    errors = []

    def worker(k):
        try:
            with RawConn(daemon.sock, timeout=30) as c:
                barrier.wait()
                for i in range(per_conn):
                    rid = k * 100 + i
                    r = c.call("spdk_get_version" if i % 2 else "log_get_level", req_id=rid)
                    assert r["id"] == rid and "result" in r, r
        except Exception as ex:    # collected and reported below
            errors.append("conn %d: %r" % (k, ex))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "some connections hung"
    assert not errors, "\n".join(errors[:10])
    assert_alive(daemon)
    assert daemon.rss_kib() < RSS_LIMIT_KIB


def test_many_connects_and_disconnects(daemon):
    for i in range(300):
        with daemon.raw() as c:
            if i % 3 == 0:
                c.send(req("log_get_level", i))
            if i % 3 == 1:
                assert c.call("log_get_level", req_id=i)["id"] == i
    assert_alive(daemon)


# -- hostile and odd input ----------------------------------------------------------------

def test_deep_nesting(daemon):
    with daemon.raw() as c:
        c.send(b"[" * 200000)
        r = c.recv()
        assert r["error"] == {"code": -32700, "message": "Parse error"}
        assert c.wait_closed(5)
    with daemon.raw() as c:
        # Valid JSON with fewer than 8192 tokens but deeply nested: either
        # refused as a parse error (SPDK's parser caps nesting) or decoded and
        # rejected by the handler -- never a crash, never executed.
        depth = 3000
        c.send('{"jsonrpc":"2.0","method":"log_set_level","id":1,"params":{"level":%s"x"%s}}'
               % ("[" * depth, "]" * depth))
        r = c.recv()
        if r["error"]["code"] == -32700:
            assert r["id"] is None and c.wait_closed(5)
        else:
            assert r["id"] == 1 and r["error"]["code"] in (-32602, -32603)
    assert daemon.call("log_get_level") == "NOTICE"
    assert_alive(daemon)


def test_nul_in_method_name(daemon):
    """"\u0000" inside a string must not truncate it: either the request is
    refused as unparseable, or the name simply does not match."""
    with daemon.raw() as c:
        r = c.call("spdk_get_version\u0000junk")
        assert r["id"] in (1, None)
        assert r["error"] in ({"code": -32601, "message": "Method not found"},
                              {"code": -32700, "message": "Parse error"})
    with daemon.raw() as c:
        r = c.call("log_set_flag", {"flag": "all\u0000"}, req_id=2)
        assert "error" in r, "flag 'all\\0' must not be taken for 'all'"
    assert not any(daemon.call("log_get_flags").values())


def test_unicode_and_escapes(daemon):
    with daemon.raw() as c:
        c.send(b'{"jsonrpc":"2.0","method":"\\u006cog_get_level","id":"\xc3\xa9\\n"}')
        r = c.recv()
        assert r == {"jsonrpc": "2.0", "id": "\u00e9\n", "result": "NOTICE"}


@pytest.mark.parametrize("method,params,code", [
    ("rpc_get_methods", {"current": 1}, -32602),
    ("rpc_get_methods", {"current": "true"}, -32602),
    ("rpc_get_methods", {"bogus": True}, -32602),
    ("framework_get_config", {"nam": "scheduler"}, -32602),
    ("framework_get_config", {"name": "scheduler", "with_batches": "no"}, -32602),
    ("framework_get_config", {"name": 5}, -32602),
    ("log_set_level", {"level": 3}, -32603),
    ("log_set_level", {"level": None}, None),
])
def test_param_decoding(daemon, method, params, code):
    with daemon.raw() as c:
        r = c.call(method, params)
    if code is None:
        assert "error" in r, r      # missing required value
    else:
        assert r["error"]["code"] == code, r


def test_duplicate_param_key(daemon):
    with daemon.raw() as c:
        c.send(b'{"jsonrpc":"2.0","method":"log_set_level","id":1,'
               b'"params":{"level":"DEBUG","level":"INFO"}}')
        r = c.recv()
        assert r["error"]["code"] == -32603, r
        assert c.call("log_get_level", req_id=2)["result"] == "NOTICE"


def test_integer_forms(daemon):
    d = daemon
    for period, good in ((400000.0, True), ("4e5", True), (400000.5, False), (-1, False),
                         ("400000", False)):
        body = ('{"jsonrpc":"2.0","method":"framework_set_scheduler","id":1,'
                '"params":{"name":"static","period":%s}}'
                % (json.dumps(period) if not isinstance(period, str) or not good else period))
        with d.raw() as c:
            c.send(body)
            r = c.recv()
        if good:
            assert r.get("result") is True, (period, r)
            assert d.call("framework_get_scheduler")["scheduler_period"] == 400000
        else:
            assert "error" in r, (period, r)


def test_reader_that_never_reads_does_not_block_others(daemon):
    """A client pipelining requests without reading the answers must not stall
    the server for everyone else, nor make it hoard memory."""
    hog = daemon.raw(timeout=0.2)
    one = json.dumps(req("spdk_get_version", 1)).encode()
    sent = 0
    deadline = time.monotonic() + 10
    try:
        while sent < (64 << 20) and time.monotonic() < deadline:
            try:
                hog.sock.send(one * 256)
                sent += len(one) * 256
            except socket.timeout:
                break           # the server stopped reading from us: backpressure
            except (BrokenPipeError, ConnectionResetError):
                break           # or it dropped us
        t0 = time.monotonic()
        with daemon.raw(timeout=3) as c:
            assert c.call("log_get_level")["result"] == "NOTICE"
        assert time.monotonic() - t0 < 3
        assert daemon.rss_kib() < RSS_LIMIT_KIB
    finally:
        hog.close()
    assert_alive(daemon)
