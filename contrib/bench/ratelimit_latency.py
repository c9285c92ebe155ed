#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Latency of requests through a route without a rate limit, with a local
one and with a fleet one (Redis), side by side: the distribution, to show
that a fleet limit adds no Redis round trip to the median request
(doc/edge.md section 6).

Usage: ratelimit_latency.py [--sluice PATH] [--requests N] [--conns N]
                            [--keys N] [--workers N] [--fleet-rate R]

Starts, on 127.0.0.1 and free ports: a redis-server (nothing on disk), a
small keep-alive upstream, and one sluice with four routes:
  /plain   no limit
  /local   one local limit (key header:X-Key)
  /fleet   one fleet limit (key header:X-Key), by default high enough
           never to refuse (--fleet-rate 1000/s: leases of 20 cells, and
           refusals: their latency counts too)
  /first   the same fleet limit, every request with a key this sluice has
           never seen: the first request of a key, which goes through
           before Redis is asked
Then, for each route in turn (interleaved in rounds, so that the machine's
noise falls on all alike), N requests over --conns keep-alive connections,
one at a time, each timed from its send to its last byte; --keys keys
spread over the requests (the fleet route leases cells per key). Prints
the percentiles in microseconds, and the lease requests sluice sent to
Redis (its /metrics). Everything started is stopped at the end.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


BODY = b"x" * 99 + b"\n"
RESP = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


def upstream(lsock):
    def serve(c):
        buf = b""
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            while b"\r\n\r\n" in buf:
                buf = buf[buf.index(b"\r\n\r\n") + 4:]
                c.sendall(RESP)
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def read_response(s, buf):
    while True:
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            cl = 0
            for line in buf[:i].split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    cl = int(line.split(b":")[1])
            if len(buf) >= i + 4 + cl:
                return buf[:12], buf[i + 4 + cl:]
        d = s.recv(65536)
        if not d:
            raise SystemExit("connection closed")
        buf += d


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
        "src", "sluice"))
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fleet-rate", default="1000000/s")
    a = ap.parse_args()
    redis = shutil.which("redis-server")
    if redis is None:
        sys.exit("redis-server is not installed (contrib/deps.sh)")
    work = tempfile.mkdtemp(prefix="sluice-rl-lat.")
    procs = []
    try:
        rport, gport, aport = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen(
            [redis, "--port", str(rport), "--bind", "127.0.0.1", "--save",
             "", "--appendonly", "no"], stdout=subprocess.DEVNULL))
        up = socket.socket()
        up.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        up.bind(("127.0.0.1", 0))
        up.listen(256)
        threading.Thread(target=upstream, args=(up,), daemon=True).start()
        big = "1000000/s"
        fleet = ("{ name: fleet, key: \"header:X-Key\", rate: %s, "
                 "scope: fleet }" % a.fleet_rate)
        conf = """workers: %d
log: { level: warn, access: off }
admin: { address: "127.0.0.1:%d" }
rate_limit_store: { address: "127.0.0.1:%d", timeout: 50ms }
listeners:
  - name: bench
    address: 127.0.0.1:%d
    routes:
      - { name: plain, match: { path: /plain }, cluster: a }
      - name: local
        match: { path: /local }
        cluster: a
        rate_limit:
          - { name: local, key: "header:X-Key", rate: %s, burst: 100000 }
      - { name: fleet, match: { path: /fleet }, cluster: a,
          rate_limit: [ %s ] }
      - { name: first, match: { path: /first }, cluster: a,
          rate_limit: [ %s ] }
clusters:
  - name: a
    endpoints: [ "127.0.0.1:%d" ]
    pool: { max_idle: 64, max_requests: 0 }
""" % (a.workers, aport, rport, gport, big, fleet, fleet,
       up.getsockname()[1])
        path = os.path.join(work, "sluice.yaml")
        with open(path, "w") as f:
            f.write(conf)
        procs.append(subprocess.Popen([a.sluice, "-c", path]))
        if not (wait_port(rport) and wait_port(gport)):
            sys.exit("redis-server or sluice did not start")
        socks = [socket.create_connection(("127.0.0.1", gport))
                 for _ in range(a.conns)]
        for s in socks:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        bufs = [b""] * a.conns
        routes = ["plain", "local", "fleet", "first"]
        lat = {r: [] for r in routes}
        refused = {r: 0 for r in routes}
        n = 0
        rounds = 10
        per = a.requests // rounds
        for _ in range(rounds):
            for r in routes:
                for k in range(per):
                    i = n % a.conns
                    key = ("new-%d" % n) if r == "first" else \
                        ("k%d" % (k % a.keys))
                    req = ("GET /%s HTTP/1.1\r\nHost: b\r\nX-Key: %s\r\n\r\n"
                           % (r, key)).encode()
                    t0 = time.perf_counter()
                    socks[i].sendall(req)
                    st, bufs[i] = read_response(socks[i], bufs[i])
                    lat[r].append((time.perf_counter() - t0) * 1e6)
                    if st.startswith(b"HTTP/1.1 429"):
                        refused[r] += 1
                    elif not st.startswith(b"HTTP/1.1 200"):
                        sys.exit("%s: %r" % (r, st))
                    n += 1
        print("route   requests  429s     p50     p90     p99   p99.9     max"
              "  (us)")
        for r in routes:
            v = sorted(lat[r])
            print("%-6s %9d %5d %7.0f %7.0f %7.0f %7.0f %7.0f" % (
                r, len(v), refused[r], pct(v, 50), pct(v, 90), pct(v, 99),
                pct(v, 99.9), v[-1]))
        s = socket.create_connection(("127.0.0.1", aport))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n"
                  b"Connection: close\r\n\r\n")
        text = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            text += d
        for line in text.decode().splitlines():
            if line.startswith(("sluice_rate_limit_store_requests_total",
                                "sluice_rate_limit_store_seconds_count",
                                "sluice_rate_limit_store_seconds_sum")):
                print(line)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
