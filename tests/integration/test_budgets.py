# SPDX-License-Identifier: MIT
"""Slow-client isolation: min_body_rate and min_send_rate (sliding window
after a grace period; time the gateway itself holds bytes back is not
charged), the listener's max_connections and max_connections_per_ip
(closed at accept, counted), running out of file descriptors (accept
pauses instead of spinning), the cluster's max_connections, max_pending and
queue_timeout (503 upstream_overloaded), and the metrics of all of them."""

import os
import re
import select
import socket
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Reply, Upstream,  # noqa: E402
                    assert_error, build_request, check, eq, free_port, get,
                    main, make_config, nfds, one_upstream_admin,
                    read_response, sha256, start_sluice, test, tmpdir,
                    wait_until)

MiB = 1 << 20


# ---------------------------------------------------------------------------
# Local helpers


def setup(limits=None, handler=None, workers=1, cluster_opts=None,
          **up_kw):
    """An upstream, and sluice with an admin listener in front of it.
    Returns (upstream, sluice, listener port, admin port)."""
    return one_upstream_admin(limits, handler, workers, cluster_opts,
                              **up_kw)


metrics = sltest.metrics


def metric(aport, key):
    m = metrics(aport)
    check(key in m, "metric %s missing from /metrics: %r"
          % (key, sorted(m)))
    return m[key]


def timeouts(aport):
    """sluice_client_timeouts_total by reason."""
    m = metrics(aport)
    out = {}
    for k, v in m.items():
        g = re.match(r'^sluice_client_timeouts_total\{reason="([a-z_]+)"\}$',
                     k)
        if g:
            out[g.group(1)] = v
    for r in ("header_timeout", "body_timeout", "send_timeout",
              "min_body_rate", "min_send_rate"):
        check(r in out, "no sluice_client_timeouts_total{reason=%r}: %r"
              % (r, out))
    return out


def expect_timeouts(aport, want, what):
    """Checks that the timeout counters are exactly `want` (missing
    reasons: 0). The counters are written just before the close, so poll
    briefly."""
    got = {}

    def ok():
        nonlocal got
        got = timeouts(aport)
        return all(got.get(r, 0) == want.get(r, 0)
                   for r in set(got) | set(want))
    wait_until(ok, 2.0, 0.1)
    for r in sorted(set(got) | set(want)):
        eq(got.get(r, 0), want.get(r, 0),
           "%s: sluice_client_timeouts_total{reason=%r}" % (what, r))


class RawClient(Client):
    """A Client with control over the socket before connect: source
    address (127.0.0.0/8 is all local on Linux) and SO_RCVBUF."""

    def __init__(self, port, src=None, rcvbuf=None, timeout=5.0):
        Client.__init__(self, port, timeout, src=src, rcvbuf=rcvbuf)


def closed_without_bytes(c, timeout=3.0):
    """Waits for the peer to close c. Returns (closed, bytes seen)."""
    c.sock.settimeout(timeout)
    got = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            d = c.sock.recv(4096)
        except ConnectionResetError:
            return True, got
        except socket.timeout:
            return False, got
        if not d:
            return True, got
        got += d
    return False, got


def served(c, path="/"):
    """One request on c; True with a 200."""
    r = c.request("GET", path)
    return r.status == 200


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_kinds(pid):
    """What a process's descriptors are (sockets as their TCP state),
    for a failure message."""
    tcp = {}
    try:
        with open("/proc/net/tcp") as f:
            for line in f.read().splitlines()[1:]:
                x = line.split()
                tcp[x[9]] = "tcp %d->%d st%s" % (
                    int(x[1].split(":")[1], 16), int(x[2].split(":")[1], 16),
                    x[3])
    except OSError:
        pass
    out = []
    for fd in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            t = tcp.get(t[8:-1], t)
        out.append("%s=%s" % (fd, t))
    return ", ".join(out)


def catch(res, key, fn):
    """Runs fn() in a thread body; an exception goes to res[key]."""
    try:
        fn()
    except Exception as e:  # noqa: B902 - reported by the test
        res[key] = repr(e)


class SlowReader(threading.Thread):
    """GET path, then read `chunk` bytes every `interval` seconds (until
    .fast is set: then as fast as possible) until EOF, reset or `limit`
    seconds. Keeps the head, counts the body bytes."""

    def __init__(self, port, path, chunk, interval, rcvbuf=None, limit=40.0):
        threading.Thread.__init__(self, daemon=True)
        self.c = RawClient(port, rcvbuf=rcvbuf, timeout=10.0)
        self.path = path
        self.chunk = chunk
        self.interval = interval
        self.limit = limit
        self.fast = threading.Event()
        self.head = None
        self.status = None
        self.length = None
        self.body_bytes = 0
        self.t_head = None
        self.t_end = None
        self.end = None         # "eof", "reset", "timeout", "limit"
        self.body_sha = None
        self.error = None
        self.keep = bytearray()

    def run(self):
        s = self.c.sock
        buf = bytearray()
        t0 = time.monotonic()
        try:
            s.sendall(build_request("GET", self.path))
            while True:
                if time.monotonic() - t0 > self.limit:
                    self.end = "limit"
                    break
                n = (1 << 20) if self.fast.is_set() else self.chunk
                try:
                    d = s.recv(n)
                except ConnectionResetError:
                    self.end = "reset"
                    break
                except socket.timeout:
                    self.end = "timeout"
                    break
                if not d:
                    self.end = "eof"
                    break
                if self.head is None:
                    buf += d
                    i = buf.find(b"\r\n\r\n")
                    if i >= 0:
                        self.head = bytes(buf[:i + 4])
                        self.t_head = time.monotonic()
                        m = re.match(rb"HTTP/1\.1 (\d{3})", self.head)
                        self.status = int(m.group(1)) if m else None
                        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)",
                                      self.head)
                        self.length = int(m.group(1)) if m else None
                        self.body_bytes = len(buf) - (i + 4)
                        self.keep += buf[i + 4:]
                else:
                    self.body_bytes += len(d)
                    if len(self.keep) < 64 * MiB:
                        self.keep += d
                if self.length is not None and \
                        self.body_bytes >= self.length:
                    self.end = "complete"
                    break
                if not self.fast.is_set():
                    time.sleep(self.interval)
        except Exception as e:  # noqa: B902 - reported by the test
            self.error = repr(e)
        self.t_end = time.monotonic()


# ---------------------------------------------------------------------------
# min_body_rate


@test
def min_body_rate_cuts_slow_body_but_not_fast_one():
    # two clients at once: one at 100 B/s (cut), one at 4 KiB/s (served)
    up, sl, port, aport = setup({"min_body_rate": "1KiB",
                                 "body_timeout": "30s",
                                 "max_body_bytes": "1MiB"})
    res = {}

    def fast():
        c = Client(port, timeout=15.0)
        body = os.urandom(32 * 1024)          # 4 KiB/s for 8 s
        c.send(build_request("POST", "/fast",
                             [("Content-Length", str(len(body)))]))
        t0 = time.monotonic()
        for i in range(0, len(body), 512):
            c.send(body[i:i + 512])
            # keep to the schedule: 512 B every 125 ms
            time.sleep(max(0.0, t0 + (i + 512) / 4096.0 - time.monotonic()))
        r = read_response(c, "POST")
        res["fast"] = (r, sha256(body), time.monotonic() - t0)

    th = threading.Thread(target=lambda: catch(res, "fast_err", fast),
                          daemon=True)
    th.start()

    c = Client(port, timeout=15.0)
    c.send(build_request("POST", "/slow", [("Content-Length", "100000")]))
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < 12.0:
        if c.has_data(0.1):
            break
        try:
            c.send(b"x" * 10)                 # 100 B/s
            sent += 10
        except OSError:
            break
    dt = time.monotonic() - t0
    r = read_response(c, "POST")
    assert_error(r, 408, "request_timeout", close=True)
    check(4.8 <= dt <= 8.0, "408 %.2fs after the head with min_body_rate "
          "1KiB and a body at 100 B/s (want ~5-7s)" % dt)
    check(c.wait_closed(3.0), "connection not closed after the 408")

    th.join(15.0)
    check(not th.is_alive(), "fast client did not finish")
    check("fast_err" not in res, "fast client: %s" % res.get("fast_err"))
    r, want_sha, fdt = res["fast"]
    eq(r.status, 200, "status of the body sent at 4 KiB/s (body %r)"
       % r.body[:200])
    check(fdt >= 7.0, "fast body took only %.2fs: not a test of the "
          "window" % fdt)
    # the upstream saw the fast request whole, and never a complete slow one
    paths = up.paths()
    eq(paths, ["/fast"], "complete requests at the upstream")
    eq(up.requests[0].body_sha, want_sha, "body of the fast request")
    expect_timeouts(aport, {"min_body_rate": 1}, "after one slow body")


def upstream_paced_plain_only():
    """What these two tests prove is the upstream's pace kept from the
    client's account: the client's transport plays no part, and each
    takes 8-9 s of waiting. They run over plain TCP (test_budgets.py),
    not again over TLS (tls_test_budgets.py), to keep CI within its
    budget; the TLS transport's own rate accounting is proved by the
    other min_*_rate tests, which do run over both."""
    if sltest.over_tls():
        raise sltest.Skip("the upstream's pace, not the client's "
                          "transport: proved over plain TCP")


@test
def min_body_rate_not_charged_while_upstream_does_not_read():
    # the client sends at full speed, but the upstream reads nothing for
    # 9 s: sluice's buffer and the socket buffers fill and the client is
    # held back by the gateway, not by itself
    upstream_paced_plain_only()
    body_len = 48 * MiB
    up, sl, port, aport = setup({"min_body_rate": "1KiB",
                                 "body_timeout": "30s",
                                 "max_body_bytes": "0B"},
                                body_delay=9.0, keep_body=False)
    c = Client(port, timeout=20.0)
    progress = []
    state = {}

    def send():
        try:
            c.send(build_request("POST", "/held",
                                 [("Content-Length", str(body_len))]))
            chunk = b"h" * 65536
            n = 0
            while n < body_len:
                c.sock.sendall(chunk)
                n += len(chunk)
                progress.append((time.monotonic(), n))
            state["done"] = time.monotonic()
        except Exception as e:  # noqa: B902
            state["err"] = repr(e)

    t0 = time.monotonic()
    th = threading.Thread(target=send, daemon=True)
    th.start()
    time.sleep(2.0)
    n2 = progress[-1][1] if progress else 0
    time.sleep(2.0)
    n4 = progress[-1][1] if progress else 0
    check("done" not in state and n2 == n4 and n4 < body_len,
          "precondition: the client should be held back while the upstream "
          "does not read (sent %d by 2s, %d by 4s, of %d)"
          % (n2, n4, body_len))
    # the sender ends once the upstream reads: only then does this thread
    # use the connection (a TLS connection is not for two threads at once)
    th.join(20.0)
    r = read_response(c, "POST")
    dt = time.monotonic() - t0
    eq(r.status, 200, "status after the gateway held the body back for 9s "
       "(%.2fs; body %r; timeouts %r)" % (dt, r.body[:200],
                                          timeouts(aport)))
    check(dt >= 8.5, "answered after %.2fs, before the upstream read" % dt)
    expect_timeouts(aport, {}, "after a held-back body")


# ---------------------------------------------------------------------------
# min_send_rate


@test
def min_send_rate_cuts_slow_reader_not_fast_one():
    big = os.urandom(8 * MiB)
    up, sl, port, aport = setup({"min_send_rate": "16KiB",
                                 "send_timeout": "60s"},
                                handler=lambda req: Reply(200, big))
    # a client reading at full speed gets everything
    c = Client(port, timeout=15.0)
    r = c.request("GET", "/fast")
    eq(r.status, 200, "status for a fast reader")
    eq(sha256(r.body), sha256(big), "body for a fast reader")
    c.close()
    # ~4 KB/s with a small receive buffer
    rd = SlowReader(port, "/slow", 1024, 0.25, rcvbuf=4096)
    rd.start()
    check(wait_until(lambda: rd.t_head is not None, 5.0),
          "no response head for the slow reader (%s)" % rd.error)
    eq(rd.status, 200, "status for the slow reader")
    got = wait_until(lambda: timeouts(aport)["min_send_rate"] >= 1, 12.0,
                     0.2)
    dt = time.monotonic() - rd.t_head
    check(got, "slow reader (%d bytes read in %.1fs) not cut by "
          "min_send_rate 16KiB" % (rd.body_bytes, dt))
    check(4.7 <= dt <= 8.5, "slow reader cut %.2fs after the response "
          "head (want ~5-7s)" % dt)
    # whatever the kernel still holds drains; then the connection ends
    rd.fast.set()
    rd.join(20.0)
    check(rd.error is None, "slow reader: %s" % rd.error)
    check(rd.end in ("eof", "reset"), "slow reader's connection not closed "
          "(%s after %d bytes)" % (rd.end, rd.body_bytes))
    check(rd.body_bytes < len(big), "the slow reader got the whole body")
    expect_timeouts(aport, {"min_send_rate": 1}, "after one slow reader")
    lkey = 'sluice_listener_connections{listener="main"}'
    check(wait_until(lambda: metric(aport, lkey) == 0, 2.0, 0.1),
          "client connections open after the cut: %s" % metric(aport, lkey))


@test
def min_send_rate_spares_steady_reader_above_the_rate():
    # reads ~80 KB/s with an ordinary socket for 9 s, past the grace period
    # and a full window: 10x the minimum (a loaded machine can stall the
    # reader thread), so never cut
    big = os.urandom(16 * MiB)
    up, sl, port, aport = setup({"min_send_rate": "8KiB",
                                 "send_timeout": "60s"},
                                handler=lambda req: Reply(200, big))
    rd = SlowReader(port, "/steady", 8192, 0.1)
    rd.start()
    check(wait_until(lambda: rd.t_head is not None, 5.0),
          "no response head (%s)" % rd.error)
    time.sleep(9.0)
    eq(timeouts(aport)["min_send_rate"], 0,
       "min_send_rate cuts after 9s of reading %d bytes (%.0f B/s)"
       % (rd.body_bytes, rd.body_bytes / 9.0))
    rd.fast.set()
    rd.join(20.0)
    check(rd.error is None, "reader: %s" % rd.error)
    eq(rd.end, "complete", "end of a steady reader (%d of %d bytes)"
       % (rd.body_bytes, len(big)))
    eq(sha256(bytes(rd.keep)), sha256(big), "body")
    expect_timeouts(aport, {}, "after a steady reader")


@test
def min_send_rate_not_charged_for_a_slow_upstream():
    # waiting for the upstream is not the client's fault: a response head
    # after 7 s, and a body the upstream trickles for 8 s
    upstream_paced_plain_only()
    body = os.urandom(2 * MiB)
    up = None

    def handler(req):
        if req.target == "/late":
            return Reply(200, body, delay=7.0)
        # /trickle: head at once, then 250 B every 0.5 s for 8 s
        s = up.conns[req.conn_id].sock
        data = os.urandom(4000)
        # set before the last byte goes: the client may check it first
        handler.trickled = data
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                  % len(data))
        for i in range(0, len(data), 250):
            time.sleep(0.5)
            s.sendall(data[i:i + 250])
        return Reply(action="raw", raw=b"")

    up, sl, port, aport = setup({"min_send_rate": "16KiB",
                                 "send_timeout": "60s"}, handler=handler)
    res = {}

    def late():
        c = Client(port, timeout=15.0)
        t0 = time.monotonic()
        r = c.request("GET", "/late")
        res["late"] = (r, time.monotonic() - t0)

    th = threading.Thread(target=lambda: catch(res, "late_err", late),
                          daemon=True)
    th.start()
    c = Client(port, timeout=15.0)
    t0 = time.monotonic()
    r = c.request("GET", "/trickle")
    dt = time.monotonic() - t0
    eq(r.status, 200, "status of a trickled response")
    eq(r.body, handler.trickled, "trickled body")
    check(dt >= 7.5, "trickle took only %.2fs" % dt)
    th.join(15.0)
    check("late_err" not in res, "late response: %s" % res.get("late_err"))
    r, ldt = res["late"]
    eq(r.status, 200, "status of a response 7s late")
    eq(sha256(r.body), sha256(body), "body of the late response")
    check(ldt >= 6.9, "late response after %.2fs" % ldt)
    expect_timeouts(aport, {}, "after slow upstreams")


@test
def min_send_rate_not_charged_for_a_slow_upstream_over_http2():
    """As above for an HTTP/2 stream (whose codec reports nothing unacked
    in the kernel: what it wrote counts as taken): a body the upstream
    trickles for 3 s under min_send_rate 16 KiB reaches an HTTP/2 client
    whole, and no client timeout is counted."""
    import h2test
    if not h2test.HAVE_H2:
        raise sltest.Skip("no python3-h2")
    data = os.urandom(1500)
    up = None

    def handler(req):
        # head at once, then 250 B every 0.5 s
        s = up.conns[req.conn_id].sock
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                  % len(data))
        for i in range(0, len(data), 250):
            time.sleep(0.5)
            s.sendall(data[i:i + 250])
        return Reply(action="raw", raw=b"")

    up = Upstream("a", handler)
    aport = free_port()
    cfg, port = make_config({"a": [up]},
                            limits={"min_send_rate": "16KiB",
                                    "send_timeout": "60s"},
                            listener_opts={"protocols": ["h2", "http/1.1"]},
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    # prior knowledge on plain TCP, whatever the transport of the run
    cfg["listeners"][0].pop("tls", None)
    sltest._tls_ports.discard(port)
    start_sluice(cfg)
    c = h2test.H2Client(port, timeout=15.0)
    st = c.response(c.request("GET", "/trickle"), 15.0)
    eq(st.status, 200, "status of a trickled response")
    eq(bytes(st.body), data, "trickled body")
    check(st.reset is None, "not reset")
    c.close()
    expect_timeouts(aport, {}, "after a slow upstream")


# ---------------------------------------------------------------------------
# the other client timeouts are counted by reason


@test
def timeout_metrics_by_reason():
    big = b"s" * (40 * MiB)
    up, sl, port, aport = setup({"header_timeout": "1s",
                                 "body_timeout": "1s",
                                 "send_timeout": "1s"},
                                handler=lambda req: Reply(200, big),
                                keep_body=False)
    expect_timeouts(aport, {}, "at start")
    # header_timeout
    c = Client(port)
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
    assert_error(read_response(c), 408, "request_timeout", close=True)
    check(c.wait_closed(2.0), "not closed after header_timeout")
    expect_timeouts(aport, {"header_timeout": 1}, "after header_timeout")
    # body_timeout
    c = Client(port)
    c.send(build_request("POST", "/", [("Content-Length", "100")]) + b"12")
    assert_error(read_response(c, "POST"), 408, "request_timeout",
                 close=True)
    check(c.wait_closed(2.0), "not closed after body_timeout")
    expect_timeouts(aport, {"header_timeout": 1, "body_timeout": 1},
                    "after body_timeout")
    # send_timeout: a client that reads nothing
    c = RawClient(port, rcvbuf=4096)
    c.send(build_request("GET", "/big"))
    check(wait_until(lambda: timeouts(aport)["send_timeout"] >= 1, 6.0, 0.2),
          "send_timeout not counted for a client that reads nothing")
    expect_timeouts(aport, {"header_timeout": 1, "body_timeout": 1,
                            "send_timeout": 1}, "after send_timeout")


# ---------------------------------------------------------------------------
# listener connection limits


@test
def max_connections_closes_at_accept_across_workers():
    up, sl, port, aport = setup({"max_connections": 5}, workers=2)
    lkey = 'sluice_listener_connections{listener="main"}'
    rkey = ('sluice_connections_rejected_total{listener="main",'
            'reason="max_connections"}')
    # the start-up probe connection must be gone first
    check(wait_until(lambda: metric(aport, lkey) == 0, 3.0, 0.05),
          "listener connections at start: %s" % metric(aport, lkey))
    cs = []
    for i in range(5):
        c = Client(port)
        check(served(c), "connection %d of 5 not served" % (i + 1))
        cs.append(c)
    eq(metric(aport, lkey), 5, "sluice_listener_connections with 5 open")
    c6 = Client(port)
    closed, got = closed_without_bytes(c6, 3.0)
    check(closed, "6th connection not closed with max_connections 5")
    eq(got, b"", "bytes on the rejected connection")
    eq(metric(aport, rkey), 1, "rejected (max_connections)")
    # a request on a rejected connection is not answered either
    c7 = Client(port)
    try:
        c7.send(build_request("GET", "/7"))
    except OSError:
        pass
    closed, got = closed_without_bytes(c7, 3.0)
    check(closed and got == b"", "7th connection: closed=%s bytes=%r"
          % (closed, got[:100]))
    eq(metric(aport, rkey), 2, "rejected (max_connections)")
    # the five still work
    for i, c in enumerate(cs):
        check(served(c), "open connection %d after the rejections" % i)
    eq(len(up.requests), 10, "requests at upstream")
    # one closes: room for one more
    cs.pop().close()
    check(wait_until(lambda: metric(aport, lkey) == 4, 3.0, 0.05),
          "listener connections after closing one: %s" % metric(aport, lkey))
    c = Client(port)
    check(served(c), "new connection after one closed not served")
    cs.append(c)
    c8 = Client(port)
    check(closed_without_bytes(c8, 3.0)[0], "connection past the limit "
          "again not closed")
    eq(metric(aport, rkey), 3, "rejected (max_connections)")
    eq(metric(aport, 'sluice_connections_rejected_total{listener="main",'
                     'reason="max_connections_per_ip"}'), 0,
       "rejected (max_connections_per_ip)")


@test
def max_connections_per_ip():
    up, sl, port, aport = setup({"max_connections_per_ip": 3}, workers=2)
    lkey = 'sluice_listener_connections{listener="main"}'
    rkey = ('sluice_connections_rejected_total{listener="main",'
            'reason="max_connections_per_ip"}')
    check(wait_until(lambda: metric(aport, lkey) == 0, 3.0, 0.05),
          "listener connections at start")
    a = []
    for i in range(3):
        c = RawClient(port, src="127.0.0.2")
        check(served(c), "connection %d from 127.0.0.2 not served" % i)
        a.append(c)
    c4 = RawClient(port, src="127.0.0.2")
    closed, got = closed_without_bytes(c4, 3.0)
    check(closed, "4th connection from 127.0.0.2 not closed")
    eq(got, b"", "bytes on the rejected connection")
    eq(metric(aport, rkey), 1, "rejected (max_connections_per_ip)")
    # another address is not affected, up to its own 3
    b = []
    for i in range(3):
        c = RawClient(port, src="127.0.0.3")
        check(served(c), "connection %d from 127.0.0.3 not served while "
              "127.0.0.2 is at its limit" % i)
        b.append(c)
    check(closed_without_bytes(RawClient(port, src="127.0.0.3"), 3.0)[0],
          "4th connection from 127.0.0.3 not closed")
    eq(metric(aport, rkey), 2, "rejected (max_connections_per_ip)")
    eq(metric(aport, lkey), 6, "listener connections")
    for c in a + b:
        check(served(c), "open connection after the rejections")
    # one from 127.0.0.2 closes: 127.0.0.2 has room again
    a.pop().close()
    check(wait_until(lambda: metric(aport, lkey) == 5, 3.0, 0.05),
          "listener connections after a close")
    c = RawClient(port, src="127.0.0.2")
    check(served(c), "127.0.0.2 not served again after one of its "
          "connections closed")
    eq(metric(aport, 'sluice_connections_rejected_total{listener="main",'
                     'reason="max_connections"}'), 0,
       "rejected (max_connections)")


# ---------------------------------------------------------------------------
# out of file descriptors


@test
def out_of_descriptors_pauses_accept_without_spinning():
    # a wrapper that runs sluice with soft = hard = 64 descriptors
    d = tmpdir()
    wrap = os.path.join(d, "sluice-nofile")
    real = sltest.sluice_path()
    with open(wrap, "w") as f:
        f.write('#!/bin/sh\nulimit -n 64 || exit 99\nexec "%s" "$@"\n'
                % real)
    os.chmod(wrap, stat.S_IRWXU)
    up = Upstream("a")
    aport = free_port()
    cfg, port = make_config({"a": [up]}, workers=1,
                            limits={"idle_timeout": "60s"},
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    old = os.environ.get("SLUICE")
    os.environ["SLUICE"] = wrap
    try:
        sl = start_sluice(cfg)
    finally:
        if old is None:
            del os.environ["SLUICE"]
        else:
            os.environ["SLUICE"] = old
    with open("/proc/%d/limits" % sl.pid) as f:
        lim = [x for x in f.read().splitlines()
               if x.startswith("Max open files")]
    check(lim and lim[0].split()[3:5] == ["64", "64"],
          "descriptor limit of sluice: %r" % lim)
    # the baseline once a request went through: the listeners accept
    # (into their backlog) before the worker's loop has made its own
    # descriptors, and the pool then holds its upstream connection
    c = Client(port, timeout=5.0)
    check(served(c), "request before the test")
    c.close()
    time.sleep(0.3)     # sluice closes its side of c
    base = nfds(sl.pid)
    kinds0 = fd_kinds(sl.pid)
    cs = []
    waiting = None
    unsent = False
    for i in range(80):
        c = Client(port, timeout=1.5)
        try:
            c.send(build_request("GET", "/%d" % i))
        except socket.timeout:
            # over TLS the request waits for the handshake, which waits
            # for sluice to accept
            waiting, unsent = c, True
            break
        try:
            r = read_response(c)
        except socket.timeout:
            waiting = c         # accepted by the kernel, not by sluice
            break
        check(r.status in (200, 503), "status %d on connection %d"
              % (r.status, i))
        cs.append(c)
    check(waiting is not None, "80 connections served with 64 descriptors "
          "(%d at start)" % base)
    t_limit = time.monotonic()
    nlog0 = sl.stderr().count("accept paused")
    # at the limit: more clients knock, sluice must not spin
    more = [Client(port, timeout=1.0) for _ in range(3)]
    cpu0 = proc_cpu_seconds(sl.pid)
    time.sleep(2.0)
    cpu = proc_cpu_seconds(sl.pid) - cpu0
    check(cpu < 0.5, "sluice used %.2fs of CPU in 2s at the descriptor "
          "limit" % cpu)
    held = time.monotonic() - t_limit
    log = sl.stderr()
    n = log.count("accept paused")
    check(n >= 1, "no 'accept paused' in the error log at the descriptor "
          "limit")
    check(n <= held + 2, "'accept paused' logged %d times in %.1fs (%d at "
          "the limit)" % (n, held, nlog0))
    # free the descriptors: the waiting connection gets its answer, new
    # ones are served
    for c in cs:
        c.close()
    waiting.settimeout(5.0)
    if unsent:
        waiting.send(build_request("GET", "/%d" % len(cs)))
    r = read_response(waiting)
    eq(r.status, 200, "status for the connection that waited in the "
       "backlog")
    for c in more:
        c.close()
    for i in range(5):
        c = Client(port, timeout=5.0)
        check(served(c), "new connection %d after the descriptors were "
              "freed" % i)
        c.close()
    check(wait_until(lambda: nfds(sl.pid) <= base + 2, 5.0, 0.1),
          "descriptors: %d at start (%s), %d after the clients closed (%s)"
          % (base, kinds0, nfds(sl.pid), fd_kinds(sl.pid)))


# ---------------------------------------------------------------------------
# upstream overload: cluster max_connections, max_pending, queue_timeout


class Tracker:
    """Wraps a handler: counts requests in flight at the upstream and the
    most ever seen; samples the connections open at the upstream."""

    def __init__(self, delay, body=b"ok"):
        self.delay = delay
        self.body = body
        self.lock = threading.Lock()
        self.inflight = 0
        self.max_inflight = 0
        self.max_open = 0
        self.up = None
        self.stop = threading.Event()

    def handler(self, req):
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        time.sleep(self.delay)
        with self.lock:
            self.inflight -= 1
        return Reply(200, self.body)

    @staticmethod
    def _open(c):
        # A connection whose FIN has arrived is closed for this count even
        # if the upstream's thread has not read the EOF yet: sluice closes
        # a connection before it gives its max_connections slot to another
        # worker, and the kernel sees that before the thread does. Asked
        # with POLLRDHUP, which reads nothing and never waits.
        if c.closed.is_set():
            return False
        try:
            p = select.poll()
            p.register(c.sock.fileno(), select.POLLRDHUP)
            ev = p.poll(0)
        except (OSError, ValueError):
            return False        # closed by the upstream's thread meanwhile
        gone = select.POLLRDHUP | select.POLLHUP | select.POLLERR
        return not any(e & gone for _, e in ev)

    def sample(self):
        while not self.stop.is_set():
            # not under the upstream's lock: its threads need it
            with self.up.lock:
                conns = list(self.up.conns)
            n = sum(1 for c in conns if self._open(c))
            self.max_open = max(self.max_open, n)
            time.sleep(0.005)

    def start(self, up):
        self.up = up
        t = threading.Thread(target=self.sample, daemon=True)
        t.start()
        return t


def timed_request(port, path, res, key, delay=0.0, t_base=None):
    def run():
        try:
            if delay:
                time.sleep(max(0.0, t_base + delay - time.monotonic()))
            c = Client(port, timeout=15.0)
            t0 = time.monotonic()
            r = c.request("GET", path)
            res[key] = (r, time.monotonic() - t0)
        except Exception as e:  # noqa: B902
            res[key] = (e, None)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@test
def cluster_queue_then_overload():
    tr = Tracker(1.0)
    up, sl, port, aport = setup(
        handler=tr.handler,
        cluster_opts={"a": {"max_connections": 1, "max_pending": 1,
                            "queue_timeout": "3s"}})
    tr.start(up)
    res = {}
    t0 = time.monotonic()
    ths = [timed_request(port, "/%d" % i, res, i, 0.2 * i, t0)
           for i in range(3)]
    # while #1 is at the upstream and #2 waits
    time.sleep(0.6)
    m = metrics(aport)
    eq(m.get('sluice_upstream_pending{cluster="a"}'), 1,
       "sluice_upstream_pending while one request waits")
    eq(m.get('sluice_upstream_connections{cluster="a",endpoint="%s"}'
             % up.addr), 1, "sluice_upstream_connections")
    for t in ths:
        t.join(10.0)
    for i in range(3):
        check(not isinstance(res[i][0], Exception), "request %d: %r"
              % (i, res[i][0]))
    r, dt = res[0]
    eq(r.status, 200, "first request")
    check(0.9 <= dt <= 1.8, "first request took %.2fs (upstream 1s)" % dt)
    r, dt = res[1]
    eq(r.status, 200, "queued request (body %r)" % r.body[:200])
    check(1.5 <= dt <= 2.8, "queued request took %.2fs (want ~1.8s: it "
          "waits for the first)" % dt)
    r, dt = res[2]
    assert_error(r, 503, "upstream_overloaded")
    eq(r.header("retry-after"), "1", "Retry-After")
    check(dt < 0.5, "503 past max_pending after %.2fs (want at once)" % dt)
    tr.stop.set()
    eq(tr.max_inflight, 1, "most requests in flight at the upstream")
    eq(tr.max_open, 1, "most connections open at the upstream")
    eq(up.accepts, 1, "connections accepted by the upstream")
    m = metrics(aport)
    eq(m.get('sluice_upstream_overloaded_total{cluster="a"}'), 1,
       "sluice_upstream_overloaded_total")
    eq(m.get('sluice_upstream_pending{cluster="a"}'), 0,
       "sluice_upstream_pending at the end")
    eq(m.get('sluice_upstream_connections{cluster="a",endpoint="%s"}'
             % up.addr), 1, "sluice_upstream_connections (one idle)")


@test
def cluster_queue_timeout():
    tr = Tracker(2.0)
    up, sl, port, aport = setup(
        handler=tr.handler,
        cluster_opts={"a": {"max_connections": 1, "max_pending": 5,
                            "queue_timeout": "300ms"}})
    res = {}
    t0 = time.monotonic()
    ths = [timed_request(port, "/%d" % i, res, i, 0.3 * i, t0)
           for i in range(2)]
    for t in ths:
        t.join(10.0)
    r, dt = res[0]
    eq(r.status, 200, "first request")
    r, dt = res[1]
    assert_error(r, 503, "upstream_overloaded")
    eq(r.header("retry-after"), "1", "Retry-After")
    check(0.25 <= dt <= 1.0, "queued request answered 503 after %.2fs "
          "(queue_timeout 300ms)" % dt)
    eq(len(up.requests), 1, "requests at upstream")
    eq(metric(aport, 'sluice_upstream_overloaded_total{cluster="a"}'), 1,
       "sluice_upstream_overloaded_total")


@test
def cluster_limit_counts_across_two_workers():
    # six concurrent requests, two workers, one upstream connection: all
    # are served one after the other, the upstream never sees two
    tr = Tracker(0.3)
    up, sl, port, aport = setup(
        handler=tr.handler, workers=2,
        cluster_opts={"a": {"max_connections": 1, "max_pending": 10,
                            "queue_timeout": "10s"}})
    tr.start(up)
    res = {}
    t0 = time.monotonic()
    ths = [timed_request(port, "/%d" % i, res, i, 0.02 * i, t0)
           for i in range(6)]
    for t in ths:
        t.join(15.0)
    tr.stop.set()
    total = time.monotonic() - t0
    eq(tr.max_inflight, 1, "most requests in flight at the upstream")
    eq(tr.max_open, 1, "most connections open at the upstream")
    sts = []
    for i in range(6):
        r, dt = res[i]
        check(not isinstance(r, Exception), "request %d: %r" % (i, r))
        sts.append((r.status, round(dt, 2)))
    eq([s for s, _ in sts], [200] * 6, "statuses (status, seconds): %r"
       % sts)
    check(total >= 1.7, "6 requests of 0.3s through one connection in "
          "%.2fs" % total)


@test
def cluster_limit_idle_connection_of_other_worker():
    # one request at a time, each on a new client connection, so each may
    # land on either worker; nothing ever waits for a busy connection, so
    # every request must be served at once, whichever worker holds the one
    # idle upstream connection
    tr = Tracker(0.0)
    up, sl, port, aport = setup(
        handler=tr.handler, workers=2,
        cluster_opts={"a": {"max_connections": 1, "max_pending": 10,
                            "queue_timeout": "2s"}})
    tr.start(up)
    sts = []
    for i in range(10):
        t0 = time.monotonic()
        r = get(port, "/%d" % i, timeout=10.0)
        sts.append((r.status, round(time.monotonic() - t0, 2)))
    check(all(s == 200 and dt < 1.0 for s, dt in sts),
          "sequential requests (status, seconds) with max_connections 1 "
          "and 2 workers: %r" % sts)
    tr.stop.set()
    eq(tr.max_open, 1, "most connections open at the upstream")


if __name__ == "__main__":
    main()
