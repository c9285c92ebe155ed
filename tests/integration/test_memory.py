# SPDX-License-Identifier: MIT
"""Bodies are streamed, never collected: a 100 MiB upload and a 100 MiB
download through sluice, with the slow side on purpose, must not grow the
gateway's resident memory by anything near the body size."""

import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Skip, Upstream, build_request,  # noqa
                    check, eq, main, make_config, read_response, sanitized,
                    start_sluice, test, wait_until)

SIZE = 100 << 20
LIMIT = 24 << 20    # allowed growth: buffers, not bodies


def rss(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler:
    def __init__(self, pid):
        self.pid = pid
        self.base = rss(pid)
        self.peak = self.base
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.02)

    def done(self):
        self.stop.set()
        self.t.join()
        return self.peak - self.base


@test
def upload_100mib_is_streamed():
    # the upstream reads the body slowly, so sluice must hold the client
    # back instead of buffering
    up = Upstream("a", keep_body=False, body_delay=0.0005)
    cfg, port = make_config({"a": [up]}, workers=1,
                            limits={"max_body_bytes": "0B"})
    sl = start_sluice(cfg)
    Client(port).request("GET", "/warm")     # steady state first
    s = Sampler(sl.pid)
    c = Client(port, timeout=60)
    block = os.urandom(1 << 20)
    h = hashlib.sha256()
    c.send(build_request("POST", "/up", [("Content-Length", str(SIZE))]))
    for _ in range(SIZE >> 20):
        c.send(block)
        h.update(block)
    r = read_response(c, "POST")
    growth = s.done()
    eq(r.status, 200, "status")
    eq(up.requests[-1].body_len, SIZE, "bytes at the upstream")
    eq(up.requests[-1].body_sha, h.hexdigest(), "sha256 at the upstream")
    check(growth < LIMIT, "RSS grew by %d MiB during a 100 MiB upload"
          % (growth >> 20))
    print("# upload: RSS growth %.1f MiB" % (growth / 1048576.0))


@test
def download_100mib_to_slow_reader_is_streamed():
    body = os.urandom(1 << 20) * (SIZE >> 20)
    up = Upstream("a", handler=lambda req: Reply(200, body))
    cfg, port = make_config({"a": [up]}, workers=1)
    sl = start_sluice(cfg)
    Client(port).request("GET", "/warm")
    s = Sampler(sl.pid)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.settimeout(60)
    sock.sendall(build_request("GET", "/down"))
    got = 0
    h = hashlib.sha256()
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    head, rest = head.split(b"\r\n\r\n", 1)
    h.update(rest)
    got = len(rest)
    while got < SIZE:
        d = sock.recv(65536)
        if not d:
            break
        h.update(d)
        got += len(d)
        if got < (8 << 20):
            time.sleep(0.002)   # slow at first: the upstream must wait
    growth = s.done()
    sock.close()
    eq(got, SIZE, "bytes at the client")
    eq(h.hexdigest(), hashlib.sha256(body).hexdigest(), "sha256")
    check(growth < LIMIT, "RSS grew by %d MiB during a 100 MiB download"
          % (growth >> 20))
    print("# download: RSS growth %.1f MiB" % (growth / 1048576.0))


@test
def memory_goes_back_after_a_burst():
    # 300 clients that ask for 1 MiB and never read: each exchange holds a
    # 64 KiB buffer. When they are gone, the freed buffers must not stay
    # in malloc's arena for good: RSS comes back down, to what the
    # worker's free lists keep (64 buffers per size class, 4 MiB of 64 KiB
    # ones) and a little more.
    n = 300
    big = os.urandom(1 << 20)
    up = Upstream("a", handler=lambda req: Reply(200, big))
    cfg, port = make_config({"a": [up]}, workers=1)
    sl = start_sluice(cfg)
    if sanitized(sl.pid):
        raise Skip("AddressSanitizer's allocator keeps freed memory in "
                   "its quarantine: RSS cannot come back")
    Client(port).request("GET", "/warm")
    time.sleep(0.5)
    base = rss(sl.pid)
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(build_request("GET", "/big%d" % i))
        socks.append(s)
    grown = wait_until(lambda: rss(sl.pid) - base >= 8 << 20, 10.0, 0.1)
    # the peak is where the burst stops growing, not where it crosses
    # 8 MiB: the free lists alone may keep 4 MiB afterwards
    peak = rss(sl.pid)
    t_end = time.monotonic() + 5.0
    while time.monotonic() < t_end:
        time.sleep(0.3)
        now = rss(sl.pid)
        if now - peak < 256 << 10:
            peak = max(peak, now)
            break
        peak = now
    check(grown, "the burst did not grow RSS by 8 MiB (%.1f MiB): the test "
          "tests nothing" % ((peak - base) / 1048576.0))
    for s in socks:
        s.close()
    back = wait_until(lambda: rss(sl.pid) - base <= (peak - base) / 2,
                      5.0, 0.1)
    after = rss(sl.pid)
    print("# burst: RSS %.1f -> %.1f -> %.1f MiB" % (
        base / 1048576.0, peak / 1048576.0, after / 1048576.0))
    check(back, "RSS stayed at %.1f MiB after the burst (base %.1f, peak "
          "%.1f)" % (after / 1048576.0, base / 1048576.0, peak / 1048576.0))
    # and the gateway still works
    eq(Client(port).request("GET", "/after").status, 200, "status after")


if __name__ == "__main__":
    main()
