"""A scripted JSON-RPC server for testing rpc.py without lvstord.

It records every request (raw text and parsed) and answers through a handler:
``handler(request) -> reply`` where reply is
  * a dict / list: sent as compact JSON followed by "\\n";
  * bytes: sent as is;
  * a list of bytes chunks (tuple): sent one by one with a short pause;
  * None: nothing is sent.
"""

import json
import os
import socket
import threading
import time


def result(req, value):
    return {"jsonrpc": "2.0", "id": req.get("id"), "result": value}


def error(req, code, message):
    return {"jsonrpc": "2.0", "id": req.get("id"), "error": {"code": code, "message": message}}


class FakeServer:
    def __init__(self, handler, path=None, tcp=False):
        self.handler = handler
        self.requests = []      # (connection number, raw text, parsed)
        self.connections = 0
        self._stop = False
        if tcp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
        else:
            self.path = path
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def methods(self):
        return [r[2].get("method") for r in self.requests]

    def close(self):
        self._stop = True
        self.thread.join(5)
        self.sock.close()
        if getattr(self, "path", None) and os.path.exists(self.path):
            os.unlink(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept_loop(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections),
                             daemon=True).start()

    def _serve(self, conn, number):
        dec = json.JSONDecoder()
        buf = ""
        conn.settimeout(0.2)
        with conn:
            while not self._stop:
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buf += data.decode()
                while True:
                    stripped = buf.lstrip()
                    if not stripped:
                        buf = ""
                        break
                    try:
                        req, end = dec.raw_decode(stripped)
                    except ValueError:
                        buf = stripped
                        break
                    self.requests.append((number, stripped[:end], req))
                    buf = stripped[end:]
                    self._reply(conn, self.handler(req))

    @staticmethod
    def _reply(conn, reply):
        try:
            if reply is None:
                return
            if isinstance(reply, bytes):
                conn.sendall(reply)
            elif isinstance(reply, tuple):
                for chunk in reply:
                    conn.sendall(chunk)
                    time.sleep(0.02)
            else:
                conn.sendall(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
        except OSError:
            pass
