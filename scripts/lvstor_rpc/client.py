"""JSON-RPC 2.0 client for lvstord (and any SPDK-compatible target).

Wire rules this client follows (spec/rpc.md section 1):

* A request is one pretty-printed JSON object
  ``{"jsonrpc": "2.0", "method": M, "id": N}`` plus ``"params"`` only when there
  is at least one parameter.  Nothing is written after it: the server finds the
  end of a request by parsing, not by a delimiter.
* Ids start at 1 on every connection and increase by one per request.
* A response is located by incremental JSON decoding of the bytes received so
  far (``json.JSONDecoder.raw_decode``), never by waiting for a newline.  Bytes
  after one decoded response stay buffered for the next one.
* Any response carrying ``error`` raises :class:`JSONRPCException`; the id is
  not checked (the client never pipelines, so it needs no matching).

The client connects to a Unix socket unless the address looks like a network
host (an IP literal, or a name without ``/`` that is not an existing file), in
which case it uses TCP on ``port``.
"""

import codecs
import ipaddress
import json
import logging
import os
import socket
import time

DEFAULT_SOCKET = "/var/tmp/lvstord.sock"
DEFAULT_PORT = 5260
DEFAULT_TIMEOUT = 60.0
# Pause between connection attempts when retries were asked for (rpc.py -r).
RETRY_INTERVAL = 0.2
RECV_CHUNK = 65536

log = logging.getLogger("lvstor_rpc")


class JSONRPCException(Exception):
    """A failed call.

    ``message`` is the text rpc.py prints.  For an error response from the
    server ``error`` is the server's error object and ``code`` its code;
    for a transport problem (connection, timeout, closed socket) both are None.
    """

    def __init__(self, message, error=None, request=None):
        super().__init__(message)
        self.message = message
        self.error = error
        self.request = request
        self.code = error.get("code") if isinstance(error, dict) else None
        self.server_message = error.get("message") if isinstance(error, dict) else None


def _is_network_address(addr):
    try:
        ipaddress.ip_address(addr.strip("[]"))
        return True
    except ValueError:
        pass
    return "/" not in addr and not os.path.exists(addr)


class JSONRPCClient:
    """One connection to the server; ``call()`` sends a request and waits for its answer."""

    dry_run = False

    def __init__(self, addr=DEFAULT_SOCKET, port=None, timeout=DEFAULT_TIMEOUT,
                 conn_retries=0, log_level=None):
        self.addr = addr
        self.port = DEFAULT_PORT if port is None else port
        self.timeout = timeout
        self._next_id = 0
        self._sock = None
        self._decoder = json.JSONDecoder()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        if log_level:
            log.setLevel(getattr(logging, log_level))
        self._connect(conn_retries)

    # -- connection ------------------------------------------------------

    def _open_socket(self):
        if _is_network_address(self.addr):
            host = self.addr.strip("[]")
            last = None
            for family, stype, proto, _, sockaddr in socket.getaddrinfo(
                    host, self.port, type=socket.SOCK_STREAM):
                s = socket.socket(family, stype, proto)
                try:
                    s.settimeout(self.timeout)
                    s.connect(sockaddr)
                    return s
                except OSError as ex:
                    last = ex
                    s.close()
            raise last if last else OSError("no address for %s" % host)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self.addr)
        except OSError:
            s.close()
            raise
        return s

    def _connect(self, retries):
        attempt = 0
        while True:
            try:
                self._sock = self._open_socket()
                return
            except (OSError, socket.gaierror) as ex:
                if attempt >= retries:
                    raise JSONRPCException(
                        "Error while connecting to %s\n"
                        "Is SPDK application running?\n"
                        "Error details: %s" % (self.addr, ex))
                attempt += 1
                time.sleep(RETRY_INTERVAL)

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ------------------------------------------------------------

    def send(self, method, params=None):
        """Send one request without waiting; returns its id."""
        self._next_id += 1
        req = {"jsonrpc": "2.0", "method": method, "id": self._next_id}
        if params:
            req["params"] = params
        text = json.dumps(req, indent=2)
        log.info("request:\n%s\n", text)
        try:
            self._sock.sendall(text.encode("utf-8"))
        except OSError as ex:
            raise JSONRPCException("Error while sending request to %s\n"
                                   "Error details: %s" % (self.addr, ex))
        return self._next_id

    def _take_buffered(self):
        start = len(self._buf) - len(self._buf.lstrip())
        if start == len(self._buf):
            self._buf = ""
            return None
        try:
            value, end = self._decoder.raw_decode(self._buf, start)
        except ValueError:
            return None
        self._buf = self._buf[end:]
        return value

    def recv(self):
        """Wait up to ``timeout`` seconds for the next complete JSON value."""
        deadline = time.monotonic() + self.timeout
        while True:
            value = self._take_buffered()
            if value is not None:
                log.info("response:\n%s\n", json.dumps(value, indent=2))
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise JSONRPCException("Timeout while waiting for response:\n%s\n" % self._buf)
            self._sock.settimeout(left)
            try:
                data = self._sock.recv(RECV_CHUNK)
            except socket.timeout:
                raise JSONRPCException("Timeout while waiting for response:\n%s\n" % self._buf)
            except OSError as ex:
                raise JSONRPCException("Connection to %s failed while waiting for response\n"
                                       "Error details: %s" % (self.addr, ex))
            if not data:
                raise JSONRPCException("Connection closed with partial response:\n%s\n" % self._buf)
            self._buf += self._utf8.decode(data)

    def call(self, method, params=None):
        """Call ``method``; return its result or raise JSONRPCException."""
        params = {} if params is None else params
        req_id = self.send(method, params)
        response = self.recv()
        if not isinstance(response, dict):
            raise JSONRPCException("Unexpected response:\n%s" % json.dumps(response, indent=2))
        if "error" in response:
            shown = dict(params) if isinstance(params, dict) else {"params": params}
            shown["method"] = method
            shown["req_id"] = req_id
            msg = "\n".join(["request:", json.dumps(shown, indent=2),
                             "Got JSON-RPC error response",
                             "response:", json.dumps(response["error"], indent=2)])
            raise JSONRPCException(msg, error=response["error"], request=shown)
        return response.get("result")


class DryRunClient:
    """Stands in for JSONRPCClient under --dry-run: prints each request, sends nothing."""

    dry_run = True

    def __init__(self, *args, **kwargs):
        self._next_id = 0

    def call(self, method, params=None):
        self._next_id += 1
        req = {"jsonrpc": "2.0", "method": method, "id": self._next_id}
        if params:
            req["params"] = params
        print("Request:\n" + json.dumps(req, indent=2))
        return None

    def close(self):
        pass
