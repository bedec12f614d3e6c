#!/usr/bin/env python3
"""Daemon-level benchmarks of the foundation, printed as `name: value` lines.

- rpc_round_trip_us_{avg,p50,p99}: spdk_get_version over one connection
  (client and daemon on this machine; includes the Python client's cost)
- idle_cpu_percent: CPU used by an idle `lvstord -m 0x3` over 10 s,
  from utime+stime in /proc/PID/stat
- idle_rss_mib: resident memory of that idle daemon (VmRSS)
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LVSTORD = os.path.join(ROOT, "build", "bin", "lvstord")


def call(sock, buf, method, req_id):
    sock.sendall(json.dumps({"jsonrpc": "2.0", "method": method, "id": req_id}).encode())
    dec = json.JSONDecoder()
    while True:
        text = buf[0].decode(errors="replace").lstrip()
        if text:
            try:
                obj, end = dec.raw_decode(text)
                buf[0] = text[end:].encode()
                return obj
            except ValueError:
                pass
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("connection closed")
        buf[0] += data


def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    idle_seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    tmp = tempfile.mkdtemp(prefix="lvstor-bench-")
    sock_path = os.path.join(tmp, "rpc.sock")
    proc = subprocess.Popen([LVSTORD, "-m", "0x3", "-r", sock_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while not os.path.exists(sock_path):
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("lvstord did not start")
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        buf = [b""]
        for i in range(200):  # warm up
            call(s, buf, "spdk_get_version", i)
        lat = []
        for i in range(5000):
            t0 = time.perf_counter()
            r = call(s, buf, "spdk_get_version", i)
            lat.append(time.perf_counter() - t0)
            assert "result" in r
        s.close()
        lat.sort()
        print(f"rpc_round_trip_us_avg: {sum(lat) / len(lat) * 1e6:.1f}")
        print(f"rpc_round_trip_us_p50: {lat[len(lat) // 2] * 1e6:.1f}")
        print(f"rpc_round_trip_us_p99: {lat[int(len(lat) * 0.99)] * 1e6:.1f}")

        time.sleep(1.0)  # let the reactors fall asleep
        hz = os.sysconf("SC_CLK_TCK")
        c0, t0 = proc_cpu_ticks(proc.pid), time.time()
        time.sleep(idle_seconds)
        c1, t1 = proc_cpu_ticks(proc.pid), time.time()
        print(f"idle_cpu_percent: {(c1 - c0) / hz / (t1 - t0) * 100:.2f}")
        print(f"idle_rss_mib: {rss_kib(proc.pid) / 1024:.1f}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
