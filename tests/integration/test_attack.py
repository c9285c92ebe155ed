# SPDX-License-Identifier: MIT
"""A short slow-client attack for `make check`: a few hundred slowloris,
slow-body and slow-read connections at once, while one normal keep-alive
client must see nothing of it. Functional outcome only: every attacker is
cut (408 or closed), the normal client gets all its 200s, sluice gives its
descriptors back, and the cuts are counted in the metrics. Timing bounds are
generous so that a loaded two-core machine passes."""

import os
import re
import resource
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Reply, Upstream, check, eq,  # noqa: E402
                    free_port, get, main, make_config, nfds,
                    sanitized, start_sluice, test)

MiB = 1 << 20
RUN = 9.0               # seconds the normal client runs
N_SLOWLORIS = 200
N_SLOWBODY = 200
N_SLOWREAD = 100
BIG = os.urandom(4 * MiB)
SMALL = b"s" * 100

HEADER_TIMEOUT = 2.0
TOL = 3.5               # tolerance on any deadline (loaded machine)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


metrics = sltest.metrics


class Conn:
    __slots__ = ("s", "t_first", "t_resp", "t_end", "sent", "head",
                 "nbytes", "outcome")

    def __init__(self, s):
        self.s = s
        self.t_first = None     # first byte sent
        self.t_resp = None      # first byte received
        self.t_end = None       # EOF, reset or given up
        self.sent = 0
        self.head = b""         # first bytes received
        self.nbytes = 0         # bytes received
        self.outcome = None     # "eof", "reset", "open"


def connect_many(port, n, rcvbuf=None, errors=None):
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sltest._register("clients", s)
        try:
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(5.0)
            s.connect(("127.0.0.1", port))
        except OSError as e:
            errors.append("connect: %r" % e)
            s.close()
            continue
        s.setblocking(False)
        out.append(Conn(s))
    return out


class Trickle(threading.Thread):
    """n connections; each sends `first` at once, then one byte of `rest`
    every `interval` seconds until a byte comes back; records when the
    answer came and when the connection ended. Never blocks; gives up at
    `until` (monotonic)."""

    def __init__(self, port, n, first, rest, interval, until):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.n = port, n
        self.first, self.rest = first, rest
        self.interval, self.until = interval, until
        self.conns = []
        self.errors = []

    def end(self, poller, c, how, now):
        try:
            poller.unregister(c.s.fileno())
        except (KeyError, ValueError, OSError):
            pass
        c.outcome = how
        c.t_end = now
        c.s.close()

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: B902 - reported by the test
            self.errors.append("thread: %r" % e)

    def _run(self):
        self.conns = connect_many(self.port, self.n, errors=self.errors)
        poller = select.poll()
        byfd = {}
        for c in self.conns:
            poller.register(c.s.fileno(), select.POLLIN)
            byfd[c.s.fileno()] = c
        tick = time.monotonic()
        while True:
            now = time.monotonic()
            live = [c for c in self.conns if c.t_end is None]
            if not live:
                return
            if now >= self.until:
                for c in live:
                    self.end(poller, c, "open", now)
                return
            if now >= tick:
                for c in live:
                    if c.t_resp is not None:
                        continue        # answered: stop sending
                    if c.sent == 0:
                        data = self.first or self.rest[:1]
                    else:
                        i = c.sent - 1 + (0 if self.first else 1)
                        data = self.rest[i % len(self.rest):][:1]
                    try:
                        n = c.s.send(data)
                    except BlockingIOError:
                        continue
                    except OSError:
                        continue        # reset: seen by recv below
                    if n > 0:
                        if c.t_first is None:
                            c.t_first = now
                        c.sent += 1
                tick += self.interval
            wait = max(0.0, min(tick, self.until) - time.monotonic())
            for fd, ev in poller.poll(wait * 1000):
                c = byfd.get(fd)
                if c is None or c.t_end is not None:
                    continue
                now = time.monotonic()
                try:
                    d = c.s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    self.end(poller, c, "reset", now)
                    continue
                if not d:
                    self.end(poller, c, "eof", now)
                    continue
                if c.t_resp is None:
                    c.t_resp = now
                if len(c.head) < 512:
                    c.head += d[:512]
                c.nbytes += len(d)


class SlowRead(threading.Thread):
    """n connections with a small receive buffer, each GET /big, then one
    byte per second until `drain_at`; then everything as fast as possible
    until EOF or reset, or `until`."""

    def __init__(self, port, n, drain_at, until):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.n = port, n
        self.drain_at, self.until = drain_at, until
        self.conns = []
        self.errors = []

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: B902
            self.errors.append("thread: %r" % e)

    def _recv(self, c, n, now):
        try:
            d = c.s.recv(n)
        except BlockingIOError:
            return
        except OSError:
            c.outcome, c.t_end = "reset", now
            c.s.close()
            return
        if not d:
            c.outcome, c.t_end = "eof", now
            c.s.close()
            return
        if c.t_resp is None:
            c.t_resp = now
        if len(c.head) < 1024:
            c.head += d[:1024 - len(c.head)]
        c.nbytes += len(d)

    def _run(self):
        self.conns = connect_many(self.port, self.n, rcvbuf=4096,
                                  errors=self.errors)
        req = b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n"
        for c in self.conns:
            try:
                c.s.send(req)
                c.t_first = time.monotonic()
            except OSError as e:
                self.errors.append("send: %r" % e)
        while time.monotonic() < self.drain_at:
            now = time.monotonic()
            for c in self.conns:
                if c.t_end is None:
                    self._recv(c, 1, now)
            time.sleep(max(0.0, min(1.0, self.drain_at - time.monotonic())))
        while True:
            live = [c for c in self.conns if c.t_end is None]
            now = time.monotonic()
            if not live:
                return
            if now >= self.until:
                for c in live:
                    c.outcome, c.t_end = "open", now
                    c.s.close()
                return
            r, _, _ = select.select([c.s for c in live], [], [],
                                    min(0.5, self.until - now))
            byfd = {c.s: c for c in live}
            for s in r:
                self._recv(byfd[s], 1 << 20, time.monotonic())


class Normal(threading.Thread):
    """One keep-alive client doing GET /small in a loop until `until`."""

    def __init__(self, port, until):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.until = port, until
        self.statuses = []
        self.errors = []
        self.worst = 0.0
        self.reconnects = 0

    def run(self):
        c = None
        while time.monotonic() < self.until:
            try:
                if c is None:
                    c = Client(self.port, timeout=5.0)
                t0 = time.monotonic()
                r = c.request("GET", "/small")
                self.worst = max(self.worst, time.monotonic() - t0)
                self.statuses.append(r.status)
                if r.status != 200 or r.body != SMALL:
                    self.errors.append("status %d body %r"
                                       % (r.status, r.body[:100]))
                if r.wants_close():
                    self.errors.append("Connection: close on a keep-alive "
                                       "response")
                    c.close()
                    c = None
                    self.reconnects += 1
            except Exception as e:  # noqa: B902
                self.errors.append(repr(e))
                if c is not None:
                    c.close()
                c = None
                self.reconnects += 1
                time.sleep(0.05)
            time.sleep(0.02)
        if c is not None:
            c.close()


def status_of(head):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(m.group(1)) if m else None


def summarize(conns, key):
    out = {}
    for c in conns:
        k = key(c)
        out[k] = out.get(k, 0) + 1
    return out


@test
def slow_client_attack_does_not_disturb_normal_client():
    raise_nofile()

    def handler(req):
        if req.target == "/big":
            # stream the shared buffer without copying it per request
            s = up.conns[req.conn_id].sock
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                      % len(BIG))
            s.sendall(BIG)
            return Reply(action="raw", raw=b"")
        return Reply(200, SMALL)

    up = Upstream("a", handler, backlog=1024, keep_body=False)
    aport = free_port()
    cfg, port = make_config(
        {"a": [up]}, workers=2,
        limits={"header_timeout": "2s", "body_timeout": "2s",
                "min_body_rate": "1KiB", "min_send_rate": "1KiB",
                "send_timeout": "3s"},
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    sl = start_sluice(cfg)
    # Under AddressSanitizer sluice runs two to three times slower while
    # this test's attack threads compete with it for the CPU: the
    # tolerance on every deadline, and the bound on a normal request,
    # double (the deadlines themselves do not change).
    slow = 2.0 if sanitized(sl.pid) else 1.0
    tol = TOL * slow
    # warm up: one request through, the pooled connection is in the
    # baseline
    eq(get(port, "/small").status, 200, "status before the attack")
    time.sleep(0.3)
    base = nfds(sl.pid)

    t0 = time.monotonic()
    normal = Normal(port, t0 + RUN)
    loris = Trickle(port, N_SLOWLORIS, b"",
                    b"GET /small HTTP/1.1\r\nHost: a\r\nX-Slow: "
                    + b"a" * 100, 0.5, t0 + RUN + 4.0)
    body = Trickle(port, N_SLOWBODY,
                   b"POST /upload HTTP/1.1\r\nHost: a\r\n"
                   b"Content-Length: 100000\r\n\r\n", b"b", 0.5,
                   t0 + RUN + 4.0)
    reader = SlowRead(port, N_SLOWREAD, t0 + RUN, t0 + RUN + 8.0)
    ths = [normal, loris, body, reader]
    for t in ths:
        t.start()
    for t in ths:
        t.join(max(1.0, t0 + RUN + 12.0 - time.monotonic()))
    for t in ths:
        check(not t.is_alive(), "%s thread did not finish"
              % t.__class__.__name__)
    elapsed = time.monotonic() - t0

    # the normal client
    check(not normal.errors, "normal client: %d errors, first: %r"
          % (len(normal.errors), normal.errors[:5]))
    check(len(normal.statuses) >= 20, "normal client got only %d responses "
          "in %.0fs" % (len(normal.statuses), RUN))
    eq(set(normal.statuses), {200}, "statuses of the normal client")
    check(normal.worst < 2.0 * slow, "a normal request took %.2fs during "
          "the attack" % normal.worst)

    # slowloris: 408 (or closed) by header_timeout from the first byte
    check(not loris.errors, "slowloris: %r" % loris.errors[:5])
    eq(len(loris.conns), N_SLOWLORIS, "slowloris connections made")
    bad = []
    for c in loris.conns:
        st = status_of(c.head)
        t_cut = c.t_resp if c.t_resp is not None else c.t_end
        if c.outcome == "open" or (c.head and st != 408) or \
                c.t_first is None or \
                t_cut - c.t_first > HEADER_TIMEOUT + tol:
            bad.append((c.outcome, st, c.head[:40],
                        None if c.t_first is None else
                        round(t_cut - c.t_first, 2)))
    check(not bad, "%d of %d slowloris connections not cut by "
          "header_timeout 2s (outcome, status, head, seconds): %r"
          % (len(bad), len(loris.conns), bad[:5]))

    # slow bodies: 408 (or closed) by min_body_rate (5 s grace + 1 s)
    check(not body.errors, "slow body: %r" % body.errors[:5])
    eq(len(body.conns), N_SLOWBODY, "slow-body connections made")
    bad = []
    for c in body.conns:
        st = status_of(c.head)
        t_cut = c.t_resp if c.t_resp is not None else c.t_end
        if c.outcome == "open" or (c.head and st != 408) or \
                c.t_first is None or t_cut - c.t_first > 6.0 + tol:
            bad.append((c.outcome, st, c.head[:40],
                        None if c.t_first is None else
                        round(t_cut - c.t_first, 2)))
    check(not bad, "%d of %d slow-body connections not cut "
          "(outcome, status, head, seconds): %r"
          % (len(bad), len(body.conns), bad[:5]))
    posts = [r for r in up.requests if r.method == "POST"]
    eq(len(posts), 0, "complete slow-body requests at the upstream")

    # slow readers: cut before the whole 4 MiB
    check(not reader.errors, "slow reader: %r" % reader.errors[:5])
    eq(len(reader.conns), N_SLOWREAD, "slow-read connections made")
    bad = []
    for c in reader.conns:
        i = c.head.find(b"\r\n\r\n")
        body_bytes = c.nbytes - (i + 4) if i >= 0 else 0
        if c.outcome not in ("eof", "reset") or status_of(c.head) != 200 \
                or body_bytes >= len(BIG):
            bad.append((c.outcome, status_of(c.head), body_bytes))
    check(not bad, "%d of %d slow readers not cut before the end of the "
          "body (outcome, status, body bytes): %r"
          % (len(bad), len(reader.conns), bad[:5]))

    # descriptors come back
    ok = sltest.wait_until(lambda: nfds(sl.pid) <= base + 4, 5.0, 0.1)
    check(ok, "sluice holds %d descriptors after the attack (%d before)"
          % (nfds(sl.pid), base))

    m = metrics(aport)

    def to(r):
        return m.get('sluice_client_timeouts_total{reason="%s"}' % r, 0)
    check(to("header_timeout") > 0, "header_timeout not counted: %r"
          % {k: v for k, v in m.items() if "timeouts" in k})
    check(to("min_body_rate") + to("body_timeout") > 0,
          "min_body_rate / body_timeout not counted")
    check(to("min_send_rate") + to("send_timeout") > 0,
          "min_send_rate / send_timeout not counted")
    eq(m.get('sluice_listener_connections{listener="main"}'), 0,
       "client connections open after the attack")
    check(elapsed < 25.0, "attack run took %.1fs" % elapsed)
    sys.stdout.write("# normal: %d requests, worst %.3fs; slowloris %r; "
                     "slow body %r; slow read %r; timeouts %r\n"
                     % (len(normal.statuses), normal.worst,
                        summarize(loris.conns, lambda c: (
                            c.outcome, status_of(c.head))),
                        summarize(body.conns, lambda c: (
                            c.outcome, status_of(c.head))),
                        summarize(reader.conns, lambda c: c.outcome),
                        {r: to(r) for r in ("header_timeout",
                                            "body_timeout", "send_timeout",
                                            "min_body_rate",
                                            "min_send_rate")}))


if __name__ == "__main__":
    main()
