#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An open-loop HTTP/1.1 load generator for contrib/bench/waf.sh (waf-mix).

Usage: waf_openloop.py --port P --path PATH --rate R --duration SECS
           [--method GET|POST] [--body-file F] [--header 'Name: value']...
           [--warmup SECS] [--seed N] [--conns N] [--max-conns N]
           [--timeout SECS] [--source ADDR] [--cookies N] [--log FILE]
       waf_openloop.py --port P --path PATH --count N [--method ...]
           [--body-file F] [--header ...]

With --count: N requests one after the other on one keep-alive connection
(the counted load of waf.sh's count scenario); exits 1 unless every answer
is 2xx.

Sends requests to 127.0.0.1:P at R requests per second on average, with
exponential gaps between them (a Poisson process, from --seed), whatever the
answers do: a request that comes due while every connection is busy goes on
a new keep-alive connection (up to --max-conns; beyond, it waits for one,
and that wait is counted in its latency). --conns connections are opened
before the first request. The first --warmup seconds are sent but not
counted. Latency: from the moment the request is written to the socket (its
due time if it had to wait for a connection) to the last byte of the
answer, as wrk and h2load measure it. Python's select() sleeps in whole
milliseconds, so a request may leave up to ~1 ms after its due time; that
shifts the arrival, not the latency (the lateness is reported: late_p99).

--timeout SECS: a request without its whole answer SECS after that start
(or, waiting for a connection, SECS after its due time) is given up: its
connection is closed, it is counted in "timeouts", and a counted one
enters the percentiles as infinitely slow (printed "inf"), so that a p99
is never made good by leaving out the requests that got no answer.
Without --timeout, requests still unanswered 10 s after the end are
counted as errors (and not in the percentiles).
--source ADDR: connect from that local address (127.0.0.2 is on Linux's
loopback as much as 127.0.0.1 is: another client, to the gateway).
--cookies N: a Cookie field of N short cookies, "c0=v0; c1=v1; ..."
(2,500 of them: 30,278 bytes; the heavy Cookie of doc/operations.md
section 15.7 and of tests/integration/test_waf.py).

Prints one line:
RESULT sent=N done=N errors=N non2xx=N conns=N p50_us=X p90_us=X p99_us=X
       p999_us=X max_us=X late_p99_us=X rate=X counted=N timeouts=N
       statuses=CODE:N,...
(counted, timeouts and statuses: the requests due after the warm-up
only; the others, all of them) and with --log every counted latency in
microseconds, one a line.
"""

import argparse
import collections
import gc
import random
import selectors
import socket
import sys
import time


def pct(v, q):
    if not v:
        return float("nan")
    k = max(1, -(-len(v) * q // 100))
    return v[min(len(v), int(k)) - 1]


class Conn:
    __slots__ = ("sock", "inb", "out", "t0", "count")

    def __init__(self, port, source=None):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=5,
            source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.inb = b""
        self.out = b""
        self.t0 = None
        self.count = False


def response_end(b):
    """Length of the first complete response in b, or 0; its status."""
    j = b.find(b"\r\n\r\n")
    if j < 0:
        return 0, 0
    head = b[:j].split(b"\r\n")
    try:
        status = int(head[0].split()[1])
    except (IndexError, ValueError):
        return -1, 0
    cl = None
    chunked = False
    for line in head[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            cl = int(v)
        elif k == b"transfer-encoding" and b"chunked" in v.lower():
            chunked = True
    if chunked:
        p = j + 4
        while True:
            e = b.find(b"\r\n", p)
            if e < 0:
                return 0, status
            n = int(b[p:e].split(b";")[0], 16)
            if n == 0:
                t = b.find(b"\r\n\r\n", e)
                return (t + 4 if t >= 0 else 0), status
            p = e + 2 + n + 2
            if p > len(b):
                return 0, status
    n = j + 4 + (cl or 0)
    return (n if len(b) >= n else 0), status


def closed_loop(port, req, n):
    s = socket.create_connection(("127.0.0.1", port), timeout=600)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    for k in range(n):
        s.sendall(req)
        while True:
            end, status = response_end(buf)
            if end < 0:
                sys.exit("request %d: bad answer %r" % (k, buf[:200]))
            if end > 0:
                if not 200 <= status < 300:
                    sys.exit("request %d: status %d: %r" % (k, status, buf[:300]))
                buf = buf[end:]
                break
            d = s.recv(65536)
            if not d:
                sys.exit("request %d: connection closed" % k)
            buf += d
    s.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--method", default="GET")
    ap.add_argument("--body-file")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--rate", type=float)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--count", type=int)
    ap.add_argument("--warmup", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--max-conns", type=int, default=128)
    ap.add_argument("--timeout", type=float)
    ap.add_argument("--source")
    ap.add_argument("--cookies", type=int, default=0)
    ap.add_argument("--log")
    a = ap.parse_args()

    body = open(a.body_file, "rb").read() if a.body_file else b""
    head = "%s %s HTTP/1.1\r\n" % (a.method, a.path)
    for h in a.header:
        head += h + "\r\n"
    if a.cookies > 0:
        head += "Cookie: %s\r\n" % "; ".join("c%d=v%d" % (i, i) for i in range(a.cookies))
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    req = (head + "\r\n").encode() + body
    if a.count is not None:
        return closed_loop(a.port, req, a.count)
    if a.rate is None or a.duration is None:
        ap.error("--rate and --duration, or --count")

    rng = random.Random(a.seed)
    sel = selectors.DefaultSelector()
    idle = []
    conns = []
    waiting = collections.deque()  # due times of requests without a connection

    def new_conn():
        c = Conn(a.port, a.source)
        conns.append(c)
        sel.register(c.sock, selectors.EVENT_READ, c)
        return c

    def send(c, t0, count):
        c.t0 = t0
        c.count = count
        c.inb = b""
        c.out = req
        flush(c)

    def flush(c):
        try:
            n = c.sock.send(c.out)
        except BlockingIOError:
            n = 0
        c.out = c.out[n:]
        sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0), c)

    for _ in range(a.conns):
        idle.append(new_conn())

    gc.disable()
    lat = []
    late = []
    sent = done = errors = non2xx = 0
    counted = timeouts = 0
    statuses = collections.Counter()   # of the counted requests
    clock = time.perf_counter
    start = clock()
    t_measure = start + a.warmup
    t_end = start + a.warmup + a.duration
    t_next = start + rng.expovariate(a.rate)
    busy = 0
    while True:
        now = clock()
        while t_next <= now and t_next < t_end:
            count = t_next >= t_measure
            if count:
                late.append((now - t_next) * 1e6)
                counted += 1
            sent += 1
            if idle:
                c = idle.pop()
            elif len(conns) < a.max_conns:
                try:
                    c = new_conn()
                except OSError:
                    errors += 1
                    t_next += rng.expovariate(a.rate)
                    continue
            else:
                waiting.append((t_next, count))
                t_next += rng.expovariate(a.rate)
                continue
            send(c, clock(), count)
            busy += 1
            t_next += rng.expovariate(a.rate)
        if a.timeout is not None:
            # give up the requests past their time: their connections go
            for c in [c for c in conns if c.t0 is not None and now - c.t0 > a.timeout]:
                sel.unregister(c.sock)
                c.sock.close()
                conns.remove(c)
                timeouts += c.count
                c.t0 = None
                busy -= 1
            while waiting and now - waiting[0][0] > a.timeout:
                timeouts += waiting.popleft()[1]
        if t_next >= t_end and busy == 0 and not waiting:
            break
        if a.timeout is None and now > t_end + 10:
            errors += busy + len(waiting)
            break
        timeout = max(0.0, t_next - now) if t_next < t_end else 0.1
        if a.timeout is not None:
            timeout = min(timeout, 0.05)
        for key, mask in sel.select(timeout):
            c = key.data
            if mask & selectors.EVENT_WRITE and c.out:
                flush(c)
            if not mask & selectors.EVENT_READ:
                continue
            try:
                d = c.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                d = b""
            if not d:
                # closed: the request (if any) failed; the connection is gone
                sel.unregister(c.sock)
                c.sock.close()
                conns.remove(c)
                if c in idle:
                    idle.remove(c)
                if c.t0 is not None:
                    errors += 1
                    busy -= 1
                    c.t0 = None
                continue
            c.inb += d
            n, status = response_end(c.inb)
            if n == 0:
                continue
            t = clock()
            if n < 0:
                errors += 1
            else:
                done += 1
                if not 200 <= status < 300:
                    non2xx += 1
                if c.count:
                    lat.append((t - c.t0) * 1e6)
                    statuses[status] += 1
            c.t0 = None
            busy -= 1
            if waiting:
                due, count = waiting.popleft()
                send(c, due, count)
                busy += 1
            else:
                idle.append(c)
    secs = a.duration
    answered = len(lat)
    lat.extend([float("inf")] * timeouts)
    lat.sort()
    late.sort()
    if a.log:
        with open(a.log, "w") as f:
            f.write("".join("%.1f\n" % x for x in lat))
    print("RESULT sent=%d done=%d errors=%d non2xx=%d conns=%d p50_us=%.1f p90_us=%.1f "
          "p99_us=%.1f p999_us=%.1f max_us=%.1f late_p99_us=%.1f rate=%.1f "
          "counted=%d timeouts=%d statuses=%s" % (
              sent, done, errors, non2xx, len(conns), pct(lat, 50), pct(lat, 90),
              pct(lat, 99), pct(lat, 99.9), lat[-1] if lat else float("nan"),
              pct(late, 99), answered / secs, counted, timeouts,
              ",".join("%d:%d" % kv for kv in sorted(statuses.items())) or "-"))
    for c in conns:
        c.sock.close()


if __name__ == "__main__":
    sys.exit(main())
