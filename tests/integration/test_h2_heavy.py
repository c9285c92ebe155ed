# SPDX-License-Identifier: MIT
"""Legitimate heavy HTTP/2 clients that no budget of doc/http2.md section 5
may cut (issue 41): many streams at once with bodies both ways, a
WINDOW_UPDATE for every DATA frame received (on the stream and on the
connection), a PING for every DATA frame (as gRPC's bandwidth probe may),
PRIORITY for every stream, RST_STREAM(CANCEL) of streams already answered,
and h2load's many streams of large downloads. Each must be served whole,
with no GOAWAY and no refusal counted.

An operator's trial found the first one cut: 200 streams, 100 at a time,
POSTs up to 512 KiB and GETs up to 1 MiB, a WINDOW_UPDATE per DATA frame
received, got GOAWAY ENHANCE_YOUR_CALM (window_update_flood) after 125-155
streams, where nginx and HAProxy served all 200. The window updates that
give back credit for DATA sluice sent are flow control, not a flood."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Reply, Skip, Upstream, check, eq, free_port,  # noqa: E402
                    main, make_config, metric_sum, metrics, start_sluice,
                    test)
import h2test  # noqa: E402

try:
    import h2.events
except ImportError:  # pragma: no cover
    pass

KIB = 1024


def heavy_handler(req):
    """GET /get/N: N bytes of a pattern; POST: the body's length and
    SHA-256 back."""
    m = re.match(r"^/get/(\d+)", req.target or "")
    if m:
        n = int(m.group(1))
        return Reply(200, (b"0123456789abcdef" * (n // 16 + 1))[:n])
    return Reply(200, ("%d %s" % (req.body_len, req.body_sha)).encode())


def heavy_sluice():
    if not h2test.HAVE_H2:
        raise Skip("python3-h2 not installed (apt-get install python3-h2)")
    up = Upstream("a", heavy_handler)
    aport = free_port()
    cfg, port = make_config(
        {"a": [up]}, workers=1,
        extra={"admin": {"address": "127.0.0.1:%d" % aport}},
        cluster_opts={"a": {"pool": {"max_idle": 128}}},
        listener_opts={"protocols": ["h2", "http/1.1"]})
    cfg["listeners"][0].pop("tls", None)
    sltest._tls_ports.discard(port)
    return up, start_sluice(cfg), port, aport


def no_refusals(aport):
    m = metrics(aport)
    eq(metric_sum(m, "sluice_http2_refused_total"), 0,
       "HTTP/2 refusals: %s" % {k: v for k, v in m.items()
                                if k.startswith("sluice_http2_refused")
                                and v})


class Careful(h2test.H2Client):
    """A client that gives back every DATA frame's credit at once, on the
    stream and on the connection, and may also PING for every DATA frame,
    send PRIORITY for every stream and reset every stream once its answer
    is whole."""

    def __init__(self, port, ping=False, priority=False, cancel=False):
        super().__init__(port, auto_window=False, timeout=30.0)
        self.ping_each = ping
        self.priority = priority
        self.cancel = cancel
        self.wus = self.npings = 0

    def _event(self, e):
        super()._event(e)
        if isinstance(e, h2.events.DataReceived) and \
                e.flow_controlled_length:
            n = e.flow_controlled_length
            try:
                self.conn.increment_flow_control_window(n, e.stream_id)
                self.wus += 1
            except Exception:
                pass  # the stream is over: its window is gone
            self.conn.increment_flow_control_window(n)
            self.wus += 1
            if self.ping_each:
                self.npings += 1
                self.conn.ping(self.npings.to_bytes(8, "big"))
        elif isinstance(e, h2.events.StreamEnded) and self.cancel:
            try:
                self.conn.reset_stream(e.stream_id, 8)  # CANCEL
            except Exception:
                pass

    def start(self, i, post_len, get_len):
        if i % 2:
            body = os.urandom(post_len)
            sid = self.request("POST", "/post/%d" % i, body=None, end=False,
                               headers=[("content-length", str(len(body)))])
            self.bodies[sid] = body
        else:
            sid = self.request("GET", "/get/%d" % get_len)
            self.bodies[sid] = get_len
        if self.priority:
            self.conn.prioritize(sid, weight=16 + i % 200)
            self.flush()
        return sid


def run_careful(port, n=200, at_once=100, post_max=512 * KIB,
                get_max=1024 * KIB, **kw):
    """n streams, at_once at a time: POSTs of up to post_max bytes and GETs
    of up to get_max. Returns the client."""
    c = Careful(port, **kw)
    c.bodies = {}
    pending = []
    done = 0
    i = 0
    sizes = [post_max, post_max // 4, 16 * KIB, post_max // 2]
    gets = [get_max, get_max // 2, 64 * KIB, get_max // 4]
    while done < n:
        while i < n and len(pending) < at_once:
            sid = c.start(i, sizes[i % 4], gets[i % 4])
            pending.append(sid)
            i += 1
        # the POST bodies, as the windows allow
        for sid in pending:
            b = c.bodies[sid]
            if isinstance(b, bytes) and not getattr(
                    c.streams[sid], "sent", False):
                c.streams[sid].sent = True
                c.send_body(sid, b)
        check(c.wait(lambda: any(c.streams[s].done() for s in pending),
                     30.0),
              "no stream ended; %d done, GOAWAY %r" % (done, c.goaway))
        for sid in [s for s in pending if c.streams[s].done()]:
            st = c.streams[sid]
            b = c.bodies[sid]
            check(st.reset is None or (c.cancel and st.ended),
                  "stream %d reset %r after %d streams (GOAWAY %r)"
                  % (sid, st.reset, done, c.goaway))
            eq(st.status, 200, "stream %d" % sid)
            if isinstance(b, bytes):
                eq(bytes(st.body).decode(), "%d %s" % (
                    len(b), hashlib.sha256(b).hexdigest()),
                   "stream %d: the body the upstream got" % sid)
            else:
                eq(len(st.body), b, "stream %d: the body's length" % sid)
            pending.remove(sid)
            done += 1
    eq(c.goaway, [], "GOAWAY")
    check(not c.closed, "the connection closed")
    return c


@test
def careful_client_window_update_per_data_frame():
    """The trial's client, as it was: 200 streams, 100 at a time."""
    up, sl, port, aport = heavy_sluice()
    c = run_careful(port)
    check(c.wus > 2000, "only %d WINDOW_UPDATEs sent" % c.wus)
    c.close()
    no_refusals(aport)
    sl.stop()


@test
def careful_client_that_pings_prioritizes_and_cancels():
    """A PING for every DATA frame, PRIORITY for every stream, and
    RST_STREAM(CANCEL) for every stream once its answer is whole, on top
    of the window updates."""
    up, sl, port, aport = heavy_sluice()
    c = run_careful(port, n=120, at_once=60, post_max=128 * KIB,
                    get_max=512 * KIB, ping=True, priority=True,
                    cancel=True)
    check(c.npings > 1000, "only %d PINGs sent" % c.npings)
    check(c.wait(lambda: c.pings >= c.npings, 10.0),
          "%d of %d PINGs answered" % (c.pings, c.npings))
    c.close()
    no_refusals(aport)
    sl.stop()


@test
def h2load_many_streams_of_large_downloads():
    """h2load (nghttp2's client, Debian's nghttp2-client): one connection,
    100 streams at a time, 300 downloads of 256 KiB."""
    if shutil.which("h2load") is None:
        raise Skip("h2load not installed (apt-get install nghttp2-client)")
    up, sl, port, aport = heavy_sluice()
    p = subprocess.run(["h2load", "-n", "300", "-c", "1", "-m", "100",
                        "http://127.0.0.1:%d/get/%d" % (port, 256 * KIB)],
                       capture_output=True, timeout=120)
    out = p.stdout.decode()
    check(re.search(r"300 succeeded, 0 failed, 0 errored", out) and
          re.search(r"status codes: 300 2xx", out), out)
    no_refusals(aport)
    sl.stop()


@test
def a_downloads_credit_buys_no_flood():
    """The credit DATA frames earn is for the frames they draw: a client
    that downloaded 1 MiB (64 DATA frames) and then sends WINDOW_UPDATEs
    or PINGs without end is still cut and counted."""
    import struct
    from h2test import (ENHANCE_YOUR_CALM, PING, WINDOW_UPDATE, RawH2,
                        frame)
    up, sl, port, aport = heavy_sluice()
    cases = [("window_update_flood",
              lambda i: frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1))),
             ("ping_flood",
              lambda i: frame(PING, 0, 0, struct.pack(">Q", i)))]
    for reason, make in cases:
        r = RawH2(port, settings=[(4, 0x7fffffff)])
        r.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fff0000)))
        r.send(r.headers(1, r.req_fields("/get/%d" % (1024 * KIB))))
        check(r.wait(lambda: any(f[0] == 0 and f[1] & 1 for f in r.frames),
                     10.0), "%s: the download did not end" % reason)
        i = 0
        while not r.closed and i < 200000:
            if not r.send(b"".join(make(i + k) for k in range(500))):
                break
            i += 500
            r.read(0)
        r.wait(lambda: r.goaways() or r.closed, 10)
        check(any(code == ENHANCE_YOUR_CALM for _, code in r.goaways()),
              "%s: GOAWAY(ENHANCE_YOUR_CALM): %r" % (reason, r.goaways()))
        check(i < 40000, "%s: %d frames taken" % (reason, i))
        check(metric_sum(metrics(aport), "sluice_http2_refused_total",
                         reason=reason) >= 1, "%s counted" % reason)
        r.sock.close()
    sl.stop()


@test
def a_slow_reader_gets_the_end_of_its_download():
    """A client that reads slowly fills the kernel's buffers, so the last
    frames of a download wait in sluice's write buffer after a write that
    would block. When the socket can take them again they must go, even
    though nothing is left to frame: the write event used to find nothing
    new and leave them there, and the download never ended (seen under
    load in a_downloads_credit_buys_no_flood)."""
    import socket
    import struct
    from h2test import (DATA, PREFACE, SETTINGS, WINDOW_UPDATE, frame,
                        parse_frames, settings_frame)
    import hpack
    up, sl, port, aport = heavy_sluice()
    size = 2 * 1024 * KIB
    for attempt in range(6):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.connect(("127.0.0.1", port))
        enc = hpack.Encoder()
        block = enc.encode([(":method", "GET"), (":scheme", "http"),
                            (":path", "/get/%d" % size),
                            (":authority", "test.local")])
        s.sendall(PREFACE + settings_frame([(4, 0x7fffffff)]) +
                  frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fff0000)) +
                  frame(1, 0x5, 1, block))
        buf, got, ended = b"", 0, False
        deadline = time.monotonic() + 30
        s.settimeout(5)
        while not ended and time.monotonic() < deadline:
            try:
                d = s.recv(4096)
            except socket.timeout:
                break
            if not d:
                break
            buf += d
            frames, buf = parse_frames(buf)
            for t, fl, sid, payload in frames:
                if t == SETTINGS and not fl & 1:
                    s.sendall(settings_frame(ack=True))
                if t == DATA and sid == 1:
                    # a pause every 32 KiB: the kernel's buffers fill
                    # and sluice's writes block, the end's too
                    if got // (32 * KIB) != (got + len(payload)) // (32 * KIB):
                        time.sleep(0.02)
                    got += len(payload)
                    ended = ended or bool(fl & 1)
        s.close()
        check(ended, "attempt %d: the download ended (%d of %d bytes)"
              % (attempt, got, size))
        eq(got, size, "attempt %d: bytes" % attempt)
    no_refusals(aport)
    sl.stop()


if __name__ == "__main__":
    main()
