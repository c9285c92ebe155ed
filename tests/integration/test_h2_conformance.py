# SPDX-License-Identifier: MIT
"""sluice's own HTTP/2 conformance suite (issue 43): one case for each
rule of RFC 9113 and RFC 7541 (HPACK) that h2spec checks, written from the
RFCs, against the real binary with a real YAML configuration and a real
upstream, driven by raw frames over a socket.

Each case names the h2spec test that checks the same rule ("h2spec
http2/5.1/9") and the section of the RFC it comes from. One sluice serves
every case (a listener speaking h2 and http/1.1, one speaking h2 only);
each case opens its own TCP connections.

What the cases accept, from the RFCs:
- a connection error: a GOAWAY with the code, then the connection closed
  (RFC 9113 section 5.4.1);
- a stream error: a RST_STREAM of the stream with the code, or a GOAWAY
  with the code and the close, since "an endpoint MAY choose to treat a
  stream error as a connection error" (section 5.4.1);
- where two rules meet (a CONTINUATION on a half-closed stream breaks
  section 5.1 and section 6.10) either code.
A case that waits for an error sends a PING after the frames under test,
and another once that one is answered: when the second answer comes
without the error, sluice had nothing to say about them (frames are
processed in order), and the case fails at once rather than at the bound.

KNOWN_FAILING lists what today's sluice gets wrong, with why (empty since
its own frame layer, issue 43, replaced libnghttp2 on the client side).
Every case runs; a case not in the list must pass; a case in the list must
fail, and when it passes the suite fails asking to remove it from the
list: the list only shrinks, as tests/layers-allowed.txt does. Run a few
cases by name: H2CONF_CASES=name,name."""

import os
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Upstream, check, main, make_config, start_sluice, \
    test  # noqa: E402
import h2test  # noqa: E402
from h2test import (ACK, CONTINUATION, DATA, END_HEADERS,  # noqa: E402
                    END_STREAM, FLOW_CONTROL_ERROR, GOAWAY, HEADERS,
                    PADDED, PING, PRIO, PRIORITY, PROTOCOL_ERROR,
                    PUSH_PROMISE, REFUSED_STREAM, RST_STREAM, SETTINGS,
                    WINDOW_UPDATE, RawH2, frame, settings_frame)

STREAM_CLOSED, FRAME_SIZE_ERROR, COMPRESSION_ERROR, CANCEL = 5, 6, 9, 8
WAIT = 3.0              # the bound of every wait for sluice
MAX_STREAMS = 8         # the listener's max_concurrent_streams

# case -> why today's sluice fails it. Remove a case once it passes.
KNOWN_FAILING = {
    # empty since sluice's own frame layer (issue 43) serves its clients
}

NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM",
         4: "SETTINGS", 5: "PUSH_PROMISE", 6: "PING", 7: "GOAWAY",
         8: "WINDOW_UPDATE", 9: "CONTINUATION"}

# ---------------------------------------------------------------------------
# The cases' registry and their environment

CASES = []


def case(ref):
    """Registers a conformance case; ref names the h2spec test and the
    RFC section."""
    def deco(fn):
        CASES.append((fn.__name__, ref, fn))
        return fn
    return deco


class Env:
    """The one sluice all cases share, its upstream and the connections
    the running case opened."""

    def __init__(self):
        self.up = Upstream("conf")
        cfg, self.port = make_config(
            {"conf": [self.up]}, limits={
                "max_concurrent_streams": MAX_STREAMS},
            listener_opts={"protocols": ["h2", "http/1.1"]})
        lst = cfg["listeners"][0]
        lst.pop("tls", None)
        sltest._tls_ports.discard(self.port)
        self.h2only = sltest.free_port()
        only = dict(lst, name="h2only", address="127.0.0.1:%d" % self.h2only,
                    protocols=["h2"])
        cfg["listeners"].append(only)
        self.sluice = start_sluice(cfg)
        self.conns = []

    def conn(self, settings=(), first=None, port=None, ready=True):
        """A raw connection (the preface and SETTINGS sent); with ready,
        once sluice's SETTINGS came."""
        r = Conn(port or self.port, settings, first)
        self.conns.append(r)
        if ready:
            check(r.wait(lambda: any(t == SETTINGS and not f & ACK
                                     for t, f, _, _ in r.frames), WAIT),
                  "no SETTINGS from sluice within %.0fs" % WAIT)
        return r

    def close_all(self):
        for r in self.conns:
            r.close()
        self.conns = []

    def targets(self):
        return [q.target for q in self.up.requests]


class Conn(RawH2):
    """RawH2 whose first bytes may be other than the preface."""

    def __init__(self, port, settings=(), first=None):
        self._first = first
        self.pings_sent = 0
        RawH2.__init__(self, port, timeout=WAIT, settings=settings)

    def send(self, b):
        if self._first is not None:
            b, self._first = self._first, None
        return RawH2.send(self, b)

    def block(self, path="/", method="GET", extra=()):
        return self.enc.encode(self.req_fields(path, method, extra))

    def ping(self):
        """Sends a PING with a payload of its own; returns the payload."""
        self.pings_sent += 1
        p = b"probe%03d" % self.pings_sent
        self.send(frame(PING, 0, 0, p))
        return p

    def acked(self, payload):
        return any(t == PING and f & ACK and p == payload
                   for t, f, _, p in self.frames)

    def round_trip(self):
        """A PING answered: whatever sluice had to say about the frames
        before it is out (True), or not within WAIT."""
        p = self.ping()
        return self.wait(lambda: self.acked(p), WAIT)

    def data(self, sid):
        """The DATA payloads sluice sent on sid, padding removed."""
        out = []
        for t, f, s, p in self.frames:
            if t == DATA and s == sid:
                out.append(p[1:len(p) - p[0]] if f & PADDED else p)
        return out

    def ended(self, sid):
        return any(s == sid and t in (DATA, HEADERS) and f & END_STREAM
                   for t, f, s, _ in self.frames)

    def summary(self):
        """What sluice sent, short, for a failure's message."""
        out = []
        for t, f, s, p in self.frames:
            n = NAMES.get(t, "type%d" % t)
            if t == GOAWAY:
                n += "(last=%d, code=%d)" % struct.unpack(">II", p[:8])
            elif t == RST_STREAM:
                n += "(%d, code=%d)" % (s, struct.unpack(">I", p[:4])[0])
            elif t in (DATA, HEADERS):
                n += "(%d%s)" % (s, ", END_STREAM" if f & END_STREAM else "")
            elif f & ACK and t in (SETTINGS, PING):
                n += "(ACK)"
            out.append(n)
        return ", ".join(out) + (", closed" if self.closed else "")


# ---------------------------------------------------------------------------
# Small helpers: HPACK by hand, frames by hand, the expectations


def hint(v, prefix, first=0):
    """An HPACK integer (RFC 7541 section 5.1) with a prefix of that many
    bits, OR-ed into first."""
    m = (1 << prefix) - 1
    if v < m:
        return bytes([first | v])
    out = [first | m]
    v -= m
    while v >= 128:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def hstr(b, huffman=False):
    """An HPACK string literal (section 5.2); b is already Huffman-coded
    when huffman is set."""
    return hint(len(b), 7, 0x80 if huffman else 0) + b


def lit(name, value, huffman_value=False):
    """A literal field without indexing, with a new name (section
    6.2.2)."""
    return b"\x00" + hstr(name) + hstr(value, huffman_value)


def reserved_frame(ftype, flags, sid, payload=b""):
    """A frame with the reserved bit of its stream identifier set."""
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags,
                       0x80000000 | sid) + payload


def padded(payload, pad):
    return bytes([pad]) + payload + b"\0" * pad


def settle(r, done, probe=True):
    """Waits until done(), or, with probe, until two PINGs sent after the
    frames under test are answered without it; or WAIT. Returns
    done()."""
    if not probe:
        r.wait(done, WAIT)
        return bool(done())
    first = [r.ping()]
    second = []

    def cond():
        if done():
            return True
        if not second and r.acked(first[0]):
            second.append(r.ping())
        return bool(second) and r.acked(second[0])
    r.wait(cond, WAIT)
    return bool(done())


def expect_conn_error(r, codes, what, probe=True):
    """A connection error (RFC 9113 section 5.4.1): a GOAWAY with one of
    codes, then the connection closed."""
    if isinstance(codes, int):
        codes = (codes,)
    settle(r, lambda: r.goaways() or r.closed, probe)
    got = [c for _, c in r.goaways()]
    check(any(c in codes for c in got),
          "%s: want a GOAWAY with %s; sluice sent: %s"
          % (what, "/".join(map(str, codes)), r.summary() or "nothing"))
    check(r.wait(lambda: r.closed, WAIT),
          "%s: the GOAWAY came but the connection stayed open" % what)


def expect_stream_error(r, sid, codes, what, probe=True):
    """A stream error (section 5.4.2) on sid: its RST_STREAM with one of
    codes, or the same as a connection error (section 5.4.1)."""
    if isinstance(codes, int):
        codes = (codes,)
    settle(r, lambda: sid in r.resets() or r.goaways() or r.closed, probe)
    if sid in r.resets():
        check(r.resets()[sid] in codes,
              "%s: RST_STREAM of stream %d with %d, want %s" % (
                  what, sid, r.resets()[sid], "/".join(map(str, codes))))
        return
    got = [c for _, c in r.goaways()]
    check(any(c in codes for c in got),
          "%s: want RST_STREAM(%d) or GOAWAY with %s; sluice sent: %s"
          % (what, sid, "/".join(map(str, codes)), r.summary() or "nothing"))
    check(r.wait(lambda: r.closed, WAIT),
          "%s: the GOAWAY came but the connection stayed open" % what)


def expect_fine(r, what):
    """The connection goes on: a PING answered with its payload, no
    GOAWAY, no RST_STREAM."""
    check(r.round_trip(), "%s: no PING ACK; sluice sent: %s"
          % (what, r.summary() or "nothing"))
    check(not r.goaways() and not r.resets(),
          "%s: sluice sent: %s" % (what, r.summary()))


def expect_response(r, sid, what, status=200):
    """A whole response on sid with that status."""
    check(r.wait(lambda: r.ended(sid) or r.goaways() or
                 sid in r.resets(), WAIT),
          "%s: no response on stream %d; sluice sent: %s"
          % (what, sid, r.summary() or "nothing"))
    check(r.ended(sid) and r.statuses().get(sid, [None])[-1] == status,
          "%s: want a whole %d on stream %d; sluice sent: %s"
          % (what, status, sid, r.summary()))


def malformed(env, fields, what, sid=1, end_stream=True, body=None):
    """A request malformed by RFC 9113 section 8.1.1 / 8.2 / 8.3: a stream
    error PROTOCOL_ERROR, and "intermediaries ... MUST NOT forward a
    malformed request" (section 8.1.1)."""
    r = env.conn()
    path = [v for k, v in fields if k == ":path"]
    r.send(frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0),
                 sid, r.enc.encode(fields)) +
           (frame(DATA, END_STREAM, sid, body) if body is not None else b""))
    expect_stream_error(r, sid, PROTOCOL_ERROR, what)
    for p in path:
        if p.startswith("/conf-"):
            check(p not in env.targets(),
                  "%s: forwarded upstream anyway" % what)


def fields(path, method="GET", scheme="http", authority="test.local"):
    out = []
    if method is not None:
        out.append((":method", method))
    if scheme is not None:
        out.append((":scheme", scheme))
    if path is not None:
        out.append((":path", path))
    out.append((":authority", authority))
    return out


def huffman(s):
    """s Huffman-coded (RFC 7541 appendix B) as hpack codes it."""
    import hpack.huffman
    import hpack.huffman_constants as hc
    return hpack.huffman.HuffmanEncoder(hc.REQUEST_CODES,
                                        hc.REQUEST_CODES_LENGTH).encode(s)


# ---------------------------------------------------------------------------
# RFC 9113 section 3.4: the connection preface


@case("h2spec http2/3.5/1; RFC 9113 3.4")
def preface_then_settings(env):
    """The server's preface is a SETTINGS frame, and ours gets its ACK."""
    r = env.conn()
    t, f, _, _ = r.frames[0]
    check(t == SETTINGS and not f & ACK,
          "sluice's first frame is not its SETTINGS: %s" % r.summary())
    check(r.wait(lambda: any(t == SETTINGS and f & ACK
                             for t, f, _, _ in r.frames), WAIT),
          "no ACK of the client's SETTINGS: %s" % r.summary())


@case("h2spec http2/3.5/2; RFC 9113 3.4")
def invalid_preface(env):
    """A preface that begins as HTTP/2's and then differs is a connection
    error PROTOCOL_ERROR (the GOAWAY may be omitted): the connection
    closes, and no HTTP/1.1 answer comes."""
    bad = b"PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n" + settings_frame()
    r = env.conn(first=bad, ready=False)
    check(r.wait(lambda: r.closed, WAIT),
          "the connection stayed open: %s" % r.summary())
    check(not r.buf.startswith(b"HTTP/"), "an HTTP/1.1 answer: %r" % r.buf)
    got = [c for _, c in r.goaways()]
    check(not got or PROTOCOL_ERROR in got, "GOAWAY %r" % got)


@case("h2spec http2/3.5/2; RFC 9113 3.4")
def invalid_preface_on_h2_only_listener(env):
    """On a listener that speaks only HTTP/2, bytes that are not the
    preface at all: a connection error PROTOCOL_ERROR."""
    bad = b"GET / HTTP/2.0\r\n\r\nSM\r\n\r\n" + settings_frame()
    r = env.conn(first=bad, port=env.h2only, ready=False)
    check(r.wait(lambda: r.closed, WAIT),
          "the connection stayed open: %s" % r.summary())
    got = [c for _, c in r.goaways()]
    check(not got or PROTOCOL_ERROR in got, "GOAWAY %r" % got)


# ---------------------------------------------------------------------------
# 4.1 frame format, 4.2 frame size, 4.3 field blocks


@case("h2spec http2/4.1/1; RFC 9113 4.1, 5.5")
def unknown_frame_type_is_ignored(env):
    """A frame of an unknown type is discarded."""
    r = env.conn()
    r.send(frame(0x2a, 0, 0, b"whatever") + frame(0x2a, 0xff, 1, b"x"))
    expect_fine(r, "unknown frame type")
    r.send(r.headers(1, r.req_fields("/conf-unknown-type")))
    expect_response(r, 1, "a request after it")


@case("h2spec http2/4.1/2; RFC 9113 4.1")
def undefined_flags_are_ignored(env):
    """Flags a frame type does not define are ignored: a PING with them
    (ACK clear) is answered with its payload."""
    r = env.conn()
    r.send(frame(PING, 0xfe, 0, b"flagged!"))
    check(r.wait(lambda: r.acked(b"flagged!"), WAIT),
          "no PING ACK: %s" % r.summary())
    r.send(frame(HEADERS, END_HEADERS | END_STREAM | 0xd2, 1,
                 r.block("/conf-flags")))
    expect_response(r, 1, "HEADERS with undefined flags")


@case("h2spec http2/4.1/3; RFC 9113 4.1")
def reserved_bit_is_ignored(env):
    """The reserved bit of the stream identifier is ignored."""
    r = env.conn()
    r.send(reserved_frame(HEADERS, END_HEADERS | END_STREAM, 1,
                          r.block("/conf-reserved")))
    expect_response(r, 1, "HEADERS with the reserved bit")


@case("h2spec http2/4.2/1; RFC 9113 4.2")
def data_of_16384_octets_is_accepted(env):
    """Every implementation can receive frames of 2^14 octets."""
    r = env.conn()
    body = bytes(range(256)) * 64
    r.send(r.headers(1, r.req_fields("/conf-16384", "POST", [
        ("content-length", "16384")]), end_stream=False) +
        frame(DATA, END_STREAM, 1, body))
    expect_response(r, 1, "a DATA of 16384")
    q = [q for q in env.up.requests if q.target == "/conf-16384"]
    check(q and q[0].body_sha == sltest.sha256(body), "the body upstream")


@case("h2spec http2/4.2/2; RFC 9113 4.2")
def data_over_max_frame_size(env):
    """A DATA frame over SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-bigdata", "POST"),
                     end_stream=False) + frame(DATA, 0, 1, b"x" * 16385))
    expect_stream_error(r, 1, FRAME_SIZE_ERROR, "DATA of 16385")


@case("h2spec http2/4.2/3; RFC 9113 4.2")
def headers_over_max_frame_size(env):
    """A HEADERS frame over SETTINGS_MAX_FRAME_SIZE carries a field block:
    a connection error FRAME_SIZE_ERROR."""
    r = env.conn()
    block = r.block("/conf-bigheaders") + lit(b"x-big", b"v" * 16400)
    r.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    expect_conn_error(r, FRAME_SIZE_ERROR, "HEADERS of %d" % len(block))


@case("h2spec http2/4.3/1; RFC 9113 4.3")
def undecodable_field_block(env):
    """A field block that cannot be decompressed: a connection error
    COMPRESSION_ERROR."""
    r = env.conn()
    # a literal whose name claims 10 octets and has 2
    block = r.block("/conf-trunc") + b"\x00\x0aab"
    r.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    expect_conn_error(r, COMPRESSION_ERROR, "a truncated literal")


@case("h2spec http2/4.3/2; RFC 9113 4.3, 6.2")
def priority_inside_a_field_block(env):
    """A field block is contiguous: a PRIORITY between the HEADERS and its
    CONTINUATION is a connection error PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-prio-inside")
    r.send(frame(HEADERS, END_STREAM, 1, block[:3]) +
           frame(PRIORITY, 0, 1, struct.pack(">IB", 0, 15)) +
           frame(CONTINUATION, END_HEADERS, 1, block[3:]))
    expect_conn_error(r, PROTOCOL_ERROR, "PRIORITY inside a field block",
                      probe=False)


@case("h2spec http2/4.3/3; RFC 9113 4.3, 6.2")
def headers_of_another_stream_inside_a_field_block(env):
    """A HEADERS of another stream between a HEADERS and its CONTINUATION:
    a connection error PROTOCOL_ERROR."""
    r = env.conn()
    b1 = r.block("/conf-interleave-1")
    r.send(frame(HEADERS, END_STREAM, 1, b1[:3]) +
           r.headers(3, r.req_fields("/conf-interleave-3")))
    expect_conn_error(r, PROTOCOL_ERROR, "HEADERS of stream 3 inside 1's",
                      probe=False)


# ---------------------------------------------------------------------------
# 5.1 stream states


@case("h2spec http2/5.1/1; RFC 9113 5.1 (idle)")
def data_on_idle_stream(env):
    """Only HEADERS and PRIORITY may be received on an idle stream: a DATA
    is a connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(DATA, END_STREAM, 1, b"idle"))
    expect_conn_error(r, PROTOCOL_ERROR, "DATA on idle stream 1")


@case("h2spec http2/5.1/2; RFC 9113 5.1 (idle), 6.4")
def rst_stream_on_idle_stream(env):
    """A RST_STREAM on an idle stream: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(RST_STREAM, 0, 1, struct.pack(">I", CANCEL)))
    expect_conn_error(r, PROTOCOL_ERROR, "RST_STREAM on idle stream 1")


@case("h2spec http2/5.1/3; RFC 9113 5.1 (idle)")
def window_update_on_idle_stream(env):
    """A WINDOW_UPDATE on an idle stream: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 100)))
    expect_conn_error(r, PROTOCOL_ERROR, "WINDOW_UPDATE on idle stream 1")


@case("h2spec http2/5.1/4; RFC 9113 5.1 (idle), 6.10")
def continuation_on_idle_stream(env):
    """A CONTINUATION on an idle stream: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(CONTINUATION, END_HEADERS, 1, r.block("/conf-idle-cont")))
    expect_conn_error(r, PROTOCOL_ERROR, "CONTINUATION on idle stream 1")


@case("h2spec http2/5.1/5; RFC 9113 5.1 (half-closed (remote))")
def data_on_half_closed_remote_stream(env):
    """After the client's END_STREAM, a DATA: a stream error
    STREAM_CLOSED. (Both go in one write: sluice reads them before any
    answer can close the stream.)"""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-hcr-data")) +
           frame(DATA, 0, 1, b"late"))
    expect_stream_error(r, 1, STREAM_CLOSED, "DATA after END_STREAM")


@case("h2spec http2/5.1/6; RFC 9113 5.1 (half-closed (remote))")
def headers_on_half_closed_remote_stream(env):
    """After the client's END_STREAM, a HEADERS: a stream error
    STREAM_CLOSED."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-hcr-headers")) +
           r.headers(1, [("x-late", "1")]))
    expect_stream_error(r, 1, STREAM_CLOSED, "HEADERS after END_STREAM")


@case("h2spec http2/5.1/7; RFC 9113 5.1 (half-closed (remote)), 6.10")
def continuation_on_half_closed_remote_stream(env):
    """After a complete HEADERS with END_STREAM, a CONTINUATION: STREAM_
    CLOSED (section 5.1) or PROTOCOL_ERROR (section 6.10)."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-hcr-cont")) +
           frame(CONTINUATION, END_HEADERS, 1, lit(b"x-late", b"1")))
    expect_stream_error(r, 1, (STREAM_CLOSED, PROTOCOL_ERROR),
                        "CONTINUATION after END_STREAM")


def after_client_reset(env, tail, what, codes=(STREAM_CLOSED,)):
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-rst", "POST"), end_stream=False)
           + frame(RST_STREAM, 0, 1, struct.pack(">I", CANCEL)))
    # the RST_STREAM is processed before the frame under test
    check(r.round_trip(), "no PING ACK after the RST_STREAM: %s"
          % r.summary())
    r.send(tail(r))
    expect_stream_error(r, 1, codes, what)


@case("h2spec http2/5.1/8; RFC 9113 5.1 (closed), RFC 7540 5.1")
def data_after_client_reset(env):
    """A DATA on a stream the client reset: STREAM_CLOSED (RFC 7540's MUST;
    RFC 9113 makes it a MAY, as a connection error)."""
    after_client_reset(env, lambda r: frame(DATA, 0, 1, b"late"),
                       "DATA after RST_STREAM")


@case("h2spec http2/5.1/9; RFC 9113 5.1 (closed), RFC 7540 5.1")
def headers_after_client_reset(env):
    """A HEADERS on a stream the client reset: STREAM_CLOSED."""
    after_client_reset(env, lambda r: r.headers(1, [("x-late", "1")]),
                       "HEADERS after RST_STREAM")


@case("h2spec http2/5.1/10; RFC 9113 5.1 (closed), 6.10")
def continuation_after_client_reset(env):
    """A CONTINUATION on a stream the client reset: STREAM_CLOSED, or
    PROTOCOL_ERROR as no open field block precedes it (section 6.10)."""
    after_client_reset(env, lambda r: frame(CONTINUATION, END_HEADERS, 1,
                                            lit(b"x-late", b"1")),
                       "CONTINUATION after RST_STREAM",
                       (STREAM_CLOSED, PROTOCOL_ERROR))


def on_closed_stream(env, tail, what, codes=(STREAM_CLOSED,)):
    """A request answered in full (END_STREAM both ways), then tail:
    RFC 7540 section 5.1 "MUST treat that as a connection error of type
    STREAM_CLOSED"; RFC 9113 section 5.1 allows it (MAY)."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-closed")))
    expect_response(r, 1, "the request")
    r.send(tail(r))
    expect_stream_error(r, 1, codes, what)


@case("h2spec http2/5.1/11; RFC 9113 5.1 (closed), RFC 7540 5.1")
def data_on_closed_stream(env):
    """A DATA on a stream closed by END_STREAM both ways: STREAM_CLOSED."""
    on_closed_stream(env, lambda r: frame(DATA, 0, 1, b"late"),
                     "DATA on a closed stream")


@case("h2spec http2/5.1/12; RFC 9113 5.1 (closed), RFC 7540 5.1")
def headers_on_closed_stream(env):
    """A HEADERS on a stream closed both ways: STREAM_CLOSED."""
    on_closed_stream(env, lambda r: r.headers(1, [("x-late", "1")]),
                     "HEADERS on a closed stream")


@case("h2spec http2/5.1/13; RFC 9113 5.1 (closed), 6.10")
def continuation_on_closed_stream(env):
    """A CONTINUATION on a stream closed both ways: STREAM_CLOSED or
    PROTOCOL_ERROR (section 6.10)."""
    on_closed_stream(env, lambda r: frame(CONTINUATION, END_HEADERS, 1,
                                          lit(b"x-late", b"1")),
                     "CONTINUATION on a closed stream",
                     (STREAM_CLOSED, PROTOCOL_ERROR))


# ---------------------------------------------------------------------------
# 5.1.1 stream identifiers, 5.1.2 concurrency


@case("h2spec http2/5.1.1/1; RFC 9113 5.1.1")
def even_stream_id_from_client(env):
    """A client's stream has an odd identifier: an even one is a
    connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(2, r.req_fields("/conf-even")))
    expect_conn_error(r, PROTOCOL_ERROR, "HEADERS on stream 2")


@case("h2spec http2/5.1.1/2; RFC 9113 5.1.1")
def stream_id_smaller_than_before(env):
    """A new stream's identifier is greater than all before: a smaller one
    is a connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(5, r.req_fields("/conf-five")))
    expect_response(r, 5, "stream 5")
    r.send(r.headers(3, r.req_fields("/conf-three")))
    expect_conn_error(r, PROTOCOL_ERROR, "stream 3 after stream 5")


@case("h2spec http2/5.1.2/1; RFC 9113 5.1.2")
def streams_over_max_concurrent_streams(env):
    """A HEADERS that opens a stream over the advertised
    SETTINGS_MAX_CONCURRENT_STREAMS: a stream error PROTOCOL_ERROR or
    REFUSED_STREAM."""
    r = env.conn()
    sent = [p for t, f, _, p in r.frames if t == SETTINGS and not f & ACK][0]
    vals = dict(struct.unpack(">HI", sent[i:i + 6])
                for i in range(0, len(sent), 6))
    n = vals.get(3)
    check(n == MAX_STREAMS, "SETTINGS_MAX_CONCURRENT_STREAMS %r" % n)
    check(r.wait(lambda: any(t == SETTINGS and f & ACK
                             for t, f, _, _ in r.frames), WAIT),
          "no SETTINGS ACK")
    # n streams left open (no END_STREAM), then one more
    r.send(b"".join(r.headers(1 + 2 * i, r.req_fields("/conf-conc", "POST"),
                              end_stream=False) for i in range(n + 1)))
    expect_stream_error(r, 1 + 2 * n, (PROTOCOL_ERROR, REFUSED_STREAM),
                        "stream %d of %d" % (n + 1, n))


# ---------------------------------------------------------------------------
# 5.3.1 dependencies (RFC 7540 section 5.3.1; RFC 9113 keeps the fields)


@case("h2spec http2/5.3.1/1; RFC 7540 5.3.1")
def headers_depending_on_itself(env):
    """A stream cannot depend on itself: a HEADERS saying so is a stream
    error PROTOCOL_ERROR."""
    r = env.conn()
    payload = struct.pack(">IB", 1, 15) + r.block("/conf-selfdep")
    r.send(frame(HEADERS, END_HEADERS | END_STREAM | PRIO, 1, payload))
    expect_stream_error(r, 1, PROTOCOL_ERROR, "HEADERS depending on itself")


@case("h2spec http2/5.3.1/2; RFC 7540 5.3.1")
def priority_depending_on_itself(env):
    """A PRIORITY making an open stream depend on itself: a stream error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-selfprio", "POST"),
                     end_stream=False) +
           frame(PRIORITY, 0, 1, struct.pack(">IB", 1, 15)))
    expect_stream_error(r, 1, PROTOCOL_ERROR, "PRIORITY depending on itself")


# ---------------------------------------------------------------------------
# 5.4.1 connection errors, 5.5 extensions


@case("h2spec http2/5.4.1/1; RFC 9113 5.4.1")
def connection_error_closes_the_connection(env):
    """After a connection error's GOAWAY the TCP connection is closed."""
    r = env.conn()
    r.send(frame(PING, 0, 0, b"123456"))
    expect_conn_error(r, FRAME_SIZE_ERROR, "a PING of 6 octets")


@case("h2spec http2/5.4.1/2; RFC 9113 5.4.1, 6.8")
def goaway_names_the_last_stream(env):
    """The GOAWAY of a connection error names the last stream the server
    processed."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-last")))
    expect_response(r, 1, "stream 1")
    r.send(frame(PING, 0, 0, b"1234567890"))
    expect_conn_error(r, FRAME_SIZE_ERROR, "a PING of 10 octets")
    check(r.goaways()[0][0] == 1, "last stream %d, want 1"
          % r.goaways()[0][0])


@case("h2spec http2/5.5/1; RFC 9113 5.5")
def unknown_extension_frame_is_ignored(env):
    """Frames of unknown types are discarded, on a stream too."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-ext", "POST"),
                     end_stream=False) + frame(0xee, 0, 1, b"ext") +
           frame(DATA, END_STREAM, 1, b"body"))
    expect_response(r, 1, "an extension frame on an open stream")
    expect_fine(r, "extension frames")


@case("h2spec http2/5.5/2; RFC 9113 5.5")
def unknown_frame_inside_a_field_block(env):
    """An extension frame in the middle of a field block: a connection
    error PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-ext-inside")
    r.send(frame(HEADERS, END_STREAM, 1, block[:3]) +
           frame(0xee, 0, 0, b"ext") +
           frame(CONTINUATION, END_HEADERS, 1, block[3:]))
    expect_conn_error(r, PROTOCOL_ERROR, "unknown frame inside a block",
                      probe=False)


# ---------------------------------------------------------------------------
# 6.1 DATA, 6.2 HEADERS


@case("h2spec http2/6.1/1; RFC 9113 6.1")
def data_on_stream_zero(env):
    """DATA frames belong to a stream: on stream 0, a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(DATA, 0, 0, b"zero"))
    expect_conn_error(r, PROTOCOL_ERROR, "DATA on stream 0")


@case("h2spec http2/6.1/2; RFC 9113 6.1")
def data_after_data_with_end_stream(env):
    """A DATA on a stream whose body ended (END_STREAM on DATA): not
    "open" nor "half-closed (local)", a stream error STREAM_CLOSED."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-data-end", "POST"),
                     end_stream=False) +
           frame(DATA, END_STREAM, 1, b"body") + frame(DATA, 0, 1, b"more"))
    expect_stream_error(r, 1, STREAM_CLOSED, "DATA after the last DATA")


@case("h2spec http2/6.1/3; RFC 9113 6.1")
def data_with_too_much_padding(env):
    """A Pad Length as long as the payload or more: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-data-pad", "POST"),
                     end_stream=False) +
           frame(DATA, PADDED | END_STREAM, 1, b"\x06abcde"))
    expect_conn_error(r, PROTOCOL_ERROR, "DATA padded past its length")


@case("h2spec generic/3.1 (padded DATA); RFC 9113 6.1")
def padded_data_is_accepted(env):
    """Padding is removed from DATA: the upstream gets the data only."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-padded-data", "POST", [
        ("content-length", "10")]), end_stream=False) +
        frame(DATA, PADDED, 1, padded(b"01234", 7)) +
        frame(DATA, PADDED | END_STREAM, 1, padded(b"56789", 0)))
    expect_response(r, 1, "padded DATA")
    q = [q for q in env.up.requests if q.target == "/conf-padded-data"]
    check(q and q[0].body == b"0123456789", "the body upstream: %r"
          % (q[0].body if q else None))


@case("h2spec http2/6.2/1; RFC 9113 6.2")
def headers_then_priority_of_another_stream(env):
    """A HEADERS without END_HEADERS must be followed by a CONTINUATION of
    its stream: a PRIORITY of another stream is a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-hp")
    r.send(frame(HEADERS, END_STREAM, 1, block[:3]) +
           frame(PRIORITY, 0, 3, struct.pack(">IB", 0, 15)) +
           frame(CONTINUATION, END_HEADERS, 1, block[3:]))
    expect_conn_error(r, PROTOCOL_ERROR, "PRIORITY of stream 3 in 1's block",
                      probe=False)


@case("h2spec http2/6.2/2; RFC 9113 6.2")
def headers_then_data_of_its_stream(env):
    """A HEADERS without END_HEADERS followed by a DATA of its own stream
    (any other type): a connection error PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-hd", "POST")
    r.send(frame(HEADERS, 0, 1, block[:3]) + frame(DATA, END_STREAM, 1, b"x"))
    expect_conn_error(r, PROTOCOL_ERROR, "DATA inside a field block",
                      probe=False)


@case("h2spec http2/6.2/3; RFC 9113 6.2")
def headers_on_stream_zero(env):
    """HEADERS on stream 0: a connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(HEADERS, END_HEADERS | END_STREAM, 0, r.block("/conf-h0")))
    expect_conn_error(r, PROTOCOL_ERROR, "HEADERS on stream 0")


@case("h2spec http2/6.2/4; RFC 9113 6.2")
def headers_with_too_much_padding(env):
    """A HEADERS whose Pad Length reaches past its payload: a connection
    error PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-hpad")
    r.send(frame(HEADERS, END_HEADERS | END_STREAM | PADDED, 1,
                 bytes([len(block) + 1]) + block))
    expect_conn_error(r, PROTOCOL_ERROR, "HEADERS padded past its length")


@case("h2spec generic/3.2 (padded HEADERS); RFC 9113 6.2")
def padded_headers_with_priority_are_accepted(env):
    """Padding and the (deprecated) priority fields of a HEADERS are
    accepted and skipped."""
    r = env.conn()
    block = struct.pack(">IB", 0, 200) + r.block("/conf-hpadded")
    r.send(frame(HEADERS, END_HEADERS | END_STREAM | PADDED | PRIO, 1,
                 padded(block, 40)))
    expect_response(r, 1, "padded HEADERS")
    check("/conf-hpadded" in env.targets(), "the request upstream")


# ---------------------------------------------------------------------------
# 6.3 PRIORITY, 6.4 RST_STREAM


@case("h2spec http2/6.3/1; RFC 9113 6.3")
def priority_on_stream_zero(env):
    """A PRIORITY on stream 0: a connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(PRIORITY, 0, 0, struct.pack(">IB", 1, 15)))
    expect_conn_error(r, PROTOCOL_ERROR, "PRIORITY on stream 0")


@case("h2spec http2/6.3/2; RFC 9113 6.3")
def priority_of_wrong_length(env):
    """A PRIORITY of other than 5 octets: a stream error
    FRAME_SIZE_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-prio-len", "POST"),
                     end_stream=False) +
           frame(PRIORITY, 0, 1, struct.pack(">IBB", 0, 15, 0)))
    expect_stream_error(r, 1, FRAME_SIZE_ERROR, "PRIORITY of 6 octets")


@case("h2spec generic/3.3 (PRIORITY); RFC 9113 6.3")
def priority_on_idle_and_open_streams_is_accepted(env):
    """A PRIORITY may be sent in any state, idle streams included."""
    r = env.conn()
    r.send(frame(PRIORITY, 0, 9, struct.pack(">IB", 0, 15)) +
           r.headers(1, r.req_fields("/conf-prio-ok")) +
           frame(PRIORITY, 0, 1, struct.pack(">IB", 0, 100)))
    expect_response(r, 1, "a request with PRIORITY frames")
    expect_fine(r, "PRIORITY frames")


@case("h2spec http2/6.4/1; RFC 9113 6.4")
def rst_stream_on_stream_zero(env):
    """A RST_STREAM on stream 0: a connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(RST_STREAM, 0, 0, struct.pack(">I", CANCEL)))
    expect_conn_error(r, PROTOCOL_ERROR, "RST_STREAM on stream 0")


@case("h2spec http2/6.4/2; RFC 9113 6.4")
def rst_stream_on_an_idle_stream_beyond(env):
    """A RST_STREAM naming an idle stream (past the open one): a
    connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-rst-idle", "POST"),
                     end_stream=False) +
           frame(RST_STREAM, 0, 3, struct.pack(">I", CANCEL)))
    expect_conn_error(r, PROTOCOL_ERROR, "RST_STREAM on idle stream 3")


@case("h2spec http2/6.4/3; RFC 9113 6.4")
def rst_stream_of_wrong_length(env):
    """A RST_STREAM of other than 4 octets: a connection error
    FRAME_SIZE_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-rst-len", "POST"),
                     end_stream=False) +
           frame(RST_STREAM, 0, 1, struct.pack(">IB", CANCEL, 0)))
    expect_conn_error(r, FRAME_SIZE_ERROR, "RST_STREAM of 5 octets")


# ---------------------------------------------------------------------------
# 6.5 SETTINGS


@case("h2spec http2/6.5/1; RFC 9113 6.5")
def settings_ack_with_payload(env):
    """A SETTINGS with ACK and a payload: a connection error
    FRAME_SIZE_ERROR."""
    r = env.conn()
    r.send(frame(SETTINGS, ACK, 0, struct.pack(">HI", 3, 100)))
    expect_conn_error(r, FRAME_SIZE_ERROR, "SETTINGS ACK of 6 octets")


@case("h2spec http2/6.5/2; RFC 9113 6.5")
def settings_on_a_stream(env):
    """A SETTINGS on a stream other than 0: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(SETTINGS, 0, 1, struct.pack(">HI", 3, 100)))
    expect_conn_error(r, PROTOCOL_ERROR, "SETTINGS on stream 1")


@case("h2spec http2/6.5/3; RFC 9113 6.5")
def settings_not_a_multiple_of_six(env):
    """A SETTINGS whose length is no multiple of 6: a connection error
    FRAME_SIZE_ERROR."""
    r = env.conn()
    r.send(frame(SETTINGS, 0, 0, struct.pack(">HIB", 3, 100, 0)))
    expect_conn_error(r, FRAME_SIZE_ERROR, "SETTINGS of 7 octets")


@case("h2spec http2/6.5.2/1; RFC 9113 6.5.2")
def enable_push_of_two(env):
    """SETTINGS_ENABLE_PUSH other than 0 or 1: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(settings_frame([(2, 2)]))
    expect_conn_error(r, PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH 2")


@case("h2spec http2/6.5.2/2; RFC 9113 6.5.2")
def initial_window_size_over_the_maximum(env):
    """SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1: a connection error
    FLOW_CONTROL_ERROR."""
    r = env.conn()
    r.send(settings_frame([(4, 0x80000000)]))
    expect_conn_error(r, FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE "
                      "2^31")


@case("h2spec http2/6.5.2/3; RFC 9113 6.5.2")
def max_frame_size_under_the_initial(env):
    """SETTINGS_MAX_FRAME_SIZE under 2^14: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(settings_frame([(5, 16383)]))
    expect_conn_error(r, PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE 16383")


@case("h2spec http2/6.5.2/4; RFC 9113 6.5.2")
def max_frame_size_over_the_maximum(env):
    """SETTINGS_MAX_FRAME_SIZE over 2^24-1: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(settings_frame([(5, 1 << 24)]))
    expect_conn_error(r, PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE 2^24")


@case("h2spec http2/6.5.2/5; RFC 9113 6.5.2, 5.5")
def unknown_setting_is_ignored(env):
    """A setting of an unknown identifier is ignored: the SETTINGS is
    acknowledged and the connection goes on."""
    r = env.conn()
    r.send(settings_frame([(0xff, 7), (0x4242, 1 << 31)]))
    check(r.wait(lambda: sum(1 for t, f, _, _ in r.frames
                             if t == SETTINGS and f & ACK) >= 2, WAIT),
          "no ACK of the SETTINGS: %s" % r.summary())
    expect_fine(r, "unknown settings")


@case("h2spec http2/6.5.3/1; RFC 9113 6.5.3")
def settings_values_apply_in_order(env):
    """Values of one SETTINGS apply in their order: the last
    SETTINGS_INITIAL_WINDOW_SIZE (1) is the one in force."""
    r = env.conn(settings=[(4, 100), (4, 1)])
    r.send(r.headers(1, r.req_fields("/conf-order")))
    check(r.wait(lambda: r.data(1) or r.goaways() or r.resets(), WAIT),
          "no DATA: %s" % r.summary())
    check(r.round_trip(), "no PING ACK")
    check([len(d) for d in r.data(1)] == [1],
          "DATA lengths %r, want one of 1" % [len(d) for d in r.data(1)])


@case("h2spec http2/6.5.3/2; RFC 9113 6.5.3")
def settings_get_their_ack(env):
    """A SETTINGS without ACK is acknowledged, once per SETTINGS."""
    r = env.conn()
    r.send(settings_frame([(4, 70000)]) + settings_frame([(1, 4096)]))
    check(r.wait(lambda: sum(1 for t, f, _, _ in r.frames
                             if t == SETTINGS and f & ACK) >= 3, WAIT),
          "want 3 ACKs (the preface's and 2): %s" % r.summary())


# ---------------------------------------------------------------------------
# 6.7 PING, 6.8 GOAWAY


@case("h2spec http2/6.7/1; RFC 9113 6.7")
def ping_gets_its_payload_back(env):
    """A PING is answered by a PING with ACK and the same payload."""
    r = env.conn()
    r.send(frame(PING, 0, 0, b"\x00\xff\x10sluic"))
    check(r.wait(lambda: r.acked(b"\x00\xff\x10sluic"), WAIT),
          "no PING ACK: %s" % r.summary())


@case("h2spec http2/6.7/2; RFC 9113 6.7")
def ping_ack_is_not_answered(env):
    """A PING with ACK gets no answer."""
    r = env.conn()
    r.send(frame(PING, ACK, 0, b"unasked!") + frame(PING, 0, 0, b"asked..."))
    check(r.wait(lambda: r.acked(b"asked..."), WAIT), "no PING ACK")
    check(not r.acked(b"unasked!"), "the PING ACK was answered")
    check(not r.goaways(), "a GOAWAY: %s" % r.summary())


@case("h2spec http2/6.7/3; RFC 9113 6.7")
def ping_on_a_stream(env):
    """A PING on a stream other than 0: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(PING, 0, 1, b"stream 1"))
    expect_conn_error(r, PROTOCOL_ERROR, "PING on stream 1")


@case("h2spec http2/6.7/4; RFC 9113 6.7")
def ping_of_wrong_length(env):
    """A PING of other than 8 octets: a connection error
    FRAME_SIZE_ERROR."""
    r = env.conn()
    r.send(frame(PING, 0, 0, b"123456789"))
    expect_conn_error(r, FRAME_SIZE_ERROR, "PING of 9 octets")


@case("h2spec http2/6.8/1; RFC 9113 6.8")
def goaway_on_a_stream(env):
    """A GOAWAY on a stream other than 0: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
    expect_conn_error(r, PROTOCOL_ERROR, "GOAWAY on stream 1")


# ---------------------------------------------------------------------------
# 6.9 WINDOW_UPDATE and flow control


@case("h2spec http2/6.9/1; RFC 9113 6.9")
def window_update_of_zero_on_the_connection(env):
    """A WINDOW_UPDATE of 0 on the connection: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
    expect_conn_error(r, PROTOCOL_ERROR, "WINDOW_UPDATE 0 on stream 0")


@case("h2spec http2/6.9/2; RFC 9113 6.9")
def window_update_of_zero_on_a_stream(env):
    """A WINDOW_UPDATE of 0 on a stream: a stream error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-wu0", "POST"),
                     end_stream=False) +
           frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0)))
    expect_stream_error(r, 1, PROTOCOL_ERROR, "WINDOW_UPDATE 0 on stream 1")


@case("h2spec http2/6.9/3; RFC 9113 6.9")
def window_update_of_wrong_length(env):
    """A WINDOW_UPDATE of other than 4 octets: a connection error
    FRAME_SIZE_ERROR."""
    r = env.conn()
    r.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">IB", 100, 0)))
    expect_conn_error(r, FRAME_SIZE_ERROR, "WINDOW_UPDATE of 5 octets")


@case("h2spec http2/6.9.1/1; RFC 9113 6.9.1")
def window_of_one_octet(env):
    """With SETTINGS_INITIAL_WINDOW_SIZE 1, the response's DATA comes one
    octet at a time: one frame of 1 until a WINDOW_UPDATE."""
    r = env.conn(settings=[(4, 1)])
    r.send(r.headers(1, r.req_fields("/conf-win1")))
    check(r.wait(lambda: r.data(1) or r.goaways(), WAIT),
          "no DATA: %s" % r.summary())
    check(r.round_trip(), "no PING ACK")
    check([len(d) for d in r.data(1)] == [1],
          "DATA lengths %r, want [1]" % [len(d) for d in r.data(1)])
    r.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 1)))
    check(r.wait(lambda: len(r.data(1)) >= 2, WAIT), "no more DATA")
    check(len(r.data(1)[1]) == 1, "then %d octets" % len(r.data(1)[1]))


@case("h2spec http2/6.9.1/2; RFC 9113 6.9.1")
def connection_window_over_the_maximum(env):
    """WINDOW_UPDATEs taking the connection's window over 2^31-1: a
    connection error FLOW_CONTROL_ERROR."""
    r = env.conn()
    r.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x40000000)) +
           frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x40000000)))
    expect_conn_error(r, FLOW_CONTROL_ERROR, "connection window 2^31+65535")


@case("h2spec http2/6.9.1/3; RFC 9113 6.9.1")
def stream_window_over_the_maximum(env):
    """WINDOW_UPDATEs taking a stream's window over 2^31-1: a stream error
    FLOW_CONTROL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-wu-max", "POST"),
                     end_stream=False) +
           frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x40000000)) +
           frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x40000000)))
    expect_stream_error(r, 1, FLOW_CONTROL_ERROR, "stream window over 2^31")


@case("h2spec http2/6.9.2/1; RFC 9113 6.9.2")
def initial_window_change_applies_to_open_streams(env):
    """A new SETTINGS_INITIAL_WINDOW_SIZE changes the windows of the
    streams already open: from 0 to 1, one octet of DATA comes."""
    r = env.conn(settings=[(4, 0)])
    r.send(r.headers(1, r.req_fields("/conf-win0")))
    check(r.wait(lambda: 1 in r.statuses() or r.goaways(), WAIT),
          "no response HEADERS: %s" % r.summary())
    check(r.round_trip() and not r.data(1),
          "DATA with a window of 0: %s" % r.summary())
    r.send(settings_frame([(4, 1)]))
    check(r.wait(lambda: r.data(1), WAIT), "no DATA: %s" % r.summary())
    check(r.round_trip(), "no PING ACK")
    check([len(d) for d in r.data(1)] == [1],
          "DATA lengths %r, want [1]" % [len(d) for d in r.data(1)])


@case("h2spec http2/6.9.2/2; RFC 9113 6.9.2")
def negative_window_is_tracked(env):
    """A smaller SETTINGS_INITIAL_WINDOW_SIZE can make a window negative:
    5 sent of 5, the setting down to 3 (-2), a WINDOW_UPDATE of 3: one
    octet more, no more."""
    r = env.conn(settings=[(4, 5)])
    r.send(r.headers(1, r.req_fields("/conf-winneg")))
    check(r.wait(lambda: sum(map(len, r.data(1))) >= 5 or r.goaways(),
                 WAIT), "no 5 octets of DATA: %s" % r.summary())
    r.send(settings_frame([(4, 3)]) +
           frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 3)))
    check(r.wait(lambda: sum(map(len, r.data(1))) > 5, WAIT),
          "no DATA after the WINDOW_UPDATE: %s" % r.summary())
    check(r.round_trip(), "no PING ACK")
    got = sum(map(len, r.data(1)))
    check(got == 6, "%d octets of DATA, want 6" % got)


@case("h2spec http2/6.9.2/3; RFC 9113 6.9.2")
def initial_window_change_over_the_maximum(env):
    """A SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream's window
    over 2^31-1: a connection error FLOW_CONTROL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-win-over", "POST"),
                     end_stream=False) +
           frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7fffffff - 65535))
           + settings_frame([(4, 65536)]))
    expect_conn_error(r, FLOW_CONTROL_ERROR, "stream window 2^31")


# ---------------------------------------------------------------------------
# 6.10 CONTINUATION


@case("h2spec http2/6.10/1; RFC 9113 6.10, 4.3")
def field_block_over_continuations(env):
    """A field block split over a HEADERS and several CONTINUATIONs is one
    request, its fields all passed on."""
    r = env.conn()
    block = r.enc.encode(r.req_fields("/conf-cont", extra=[
        ("x-split-%d" % i, "v%d" % i) for i in range(8)]))
    third = len(block) // 3
    r.send(frame(HEADERS, END_STREAM, 1, block[:third]) +
           frame(CONTINUATION, 0, 1, block[third:2 * third]) +
           frame(CONTINUATION, 0, 1, b"") +
           frame(CONTINUATION, END_HEADERS, 1, block[2 * third:]))
    expect_response(r, 1, "a split block")
    q = [q for q in env.up.requests if q.target == "/conf-cont"]
    check(q and all(q[0].header("x-split-%d" % i) == "v%d" % i
                    for i in range(8)), "the fields upstream: %r" % q)


@case("h2spec http2/6.10/2; RFC 9113 6.10")
def continuation_followed_by_another_frame(env):
    """A CONTINUATION without END_HEADERS followed by another type: a
    connection error PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-cont-other")
    r.send(frame(HEADERS, END_STREAM, 1, block[:2]) +
           frame(CONTINUATION, 0, 1, block[2:4]) +
           frame(PING, 0, 0, b"inblock!"))
    expect_conn_error(r, PROTOCOL_ERROR, "PING after a CONTINUATION",
                      probe=False)


@case("h2spec http2/6.10/3; RFC 9113 6.10")
def continuation_on_stream_zero(env):
    """The CONTINUATION of a field block on stream 0: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-cont-0")
    r.send(frame(HEADERS, END_STREAM, 1, block[:3]) +
           frame(CONTINUATION, END_HEADERS, 0, block[3:]))
    expect_conn_error(r, PROTOCOL_ERROR, "CONTINUATION on stream 0",
                      probe=False)


@case("h2spec http2/6.10/4; RFC 9113 6.10")
def continuation_after_end_headers(env):
    """A CONTINUATION after a HEADERS with END_HEADERS: a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-cont-after", "POST"),
                     end_stream=False) +
           frame(CONTINUATION, END_HEADERS, 1, lit(b"x-more", b"1")))
    expect_conn_error(r, PROTOCOL_ERROR, "CONTINUATION after END_HEADERS")


@case("h2spec http2/6.10/5; RFC 9113 6.10")
def continuation_after_continuation_with_end_headers(env):
    """A CONTINUATION after a CONTINUATION with END_HEADERS: a connection
    error PROTOCOL_ERROR."""
    r = env.conn()
    block = r.block("/conf-cont-twice", "POST")
    r.send(frame(HEADERS, 0, 1, block[:3]) +
           frame(CONTINUATION, END_HEADERS, 1, block[3:]) +
           frame(CONTINUATION, END_HEADERS, 1, lit(b"x-more", b"1")))
    expect_conn_error(r, PROTOCOL_ERROR,
                      "CONTINUATION after a CONTINUATION with END_HEADERS")


@case("h2spec http2/6.10/6; RFC 9113 6.10")
def continuation_after_data(env):
    """A CONTINUATION after a DATA: a connection error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-cont-data", "POST"),
                     end_stream=False) + frame(DATA, 0, 1, b"body") +
           frame(CONTINUATION, END_HEADERS, 1, lit(b"x-more", b"1")))
    expect_conn_error(r, PROTOCOL_ERROR, "CONTINUATION after DATA")


# ---------------------------------------------------------------------------
# 7 error codes


@case("h2spec http2/7/1; RFC 9113 7, 6.8")
def goaway_with_unknown_error_code(env):
    """An unknown error code triggers nothing special: after the client's
    GOAWAY with one, a PING is answered, or the connection closes as
    after any GOAWAY of a client without streams; no error of sluice's."""
    r = env.conn()
    r.send(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0xdeadbeef)))
    p = r.ping()
    check(r.wait(lambda: r.acked(p) or r.closed, WAIT),
          "neither a PING ACK nor a close: %s" % r.summary())
    check(all(c == 0 for _, c in r.goaways()) and not r.resets(),
          "an error after GOAWAY(0xdeadbeef): %s" % r.summary())


@case("h2spec http2/7/2; RFC 9113 7, 6.4")
def rst_stream_with_unknown_error_code(env):
    """A RST_STREAM with an unknown code closes the stream only."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-rst-unknown", "POST"),
                     end_stream=False) +
           frame(RST_STREAM, 0, 1, struct.pack(">I", 0xdeadbeef)))
    expect_fine(r, "RST_STREAM(0xdeadbeef)")
    r.send(r.headers(3, r.req_fields("/conf-rst-unknown-3")))
    expect_response(r, 3, "the next stream")


# ---------------------------------------------------------------------------
# 8.1 the exchange, malformed requests (RFC 9113 8.1 to 8.3)


@case("h2spec http2/8.1/1; RFC 9113 8.1")
def second_headers_without_end_stream(env):
    """Trailers end the stream: a second HEADERS without END_STREAM makes
    the request malformed, a stream error PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-2headers", "POST"),
                     end_stream=False) + frame(DATA, 0, 1, b"body") +
           r.headers(1, [("x-trailer", "1")], end_stream=False))
    expect_stream_error(r, 1, PROTOCOL_ERROR, "a second HEADERS w/o "
                        "END_STREAM")


@case("h2spec generic/4/4 (POST with trailers); RFC 9113 8.1")
def request_with_trailers(env):
    """A request of HEADERS, DATA and trailers: the trailers are passed on
    as the chunked trailer section."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-trailers", "POST", [
        ("te", "trailers")]), end_stream=False) +
        frame(DATA, 0, 1, b"abc") +
        r.headers(1, [("x-sum", "6")], end_stream=True))
    expect_response(r, 1, "a request with trailers")
    q = [q for q in env.up.requests if q.target == "/conf-trailers"]
    check(q and q[0].body == b"abc" and ("x-sum", "6") in q[0].trailers,
          "upstream: %r" % ([(x.body, x.trailers) for x in q],))


@case("h2spec http2/8.1.2/1; RFC 9113 8.2")
def uppercase_field_name(env):
    """Field names are lowercase: an uppercase one makes the request
    malformed."""
    malformed(env, fields("/conf-upper") + [("X-Upper", "1")],
              "an uppercase field name")


@case("h2spec http2/8.1.2.1/1; RFC 9113 8.3")
def unknown_pseudo_header(env):
    """A pseudo-header field that is not defined: malformed."""
    malformed(env, fields("/conf-pseudo") + [(":sluice", "1")],
              "an unknown pseudo-header")


@case("h2spec http2/8.1.2.1/2; RFC 9113 8.3")
def response_pseudo_header_in_a_request(env):
    """:status in a request: malformed."""
    malformed(env, fields("/conf-status") + [(":status", "200")],
              ":status in a request")


@case("h2spec http2/8.1.2.1/3; RFC 9113 8.3")
def pseudo_header_in_trailers(env):
    """Pseudo-header fields are not allowed in trailers: malformed."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-ptrail", "POST"),
                     end_stream=False) + frame(DATA, 0, 1, b"body") +
           r.headers(1, [(":method", "POST"), ("x-t", "1")]))
    expect_stream_error(r, 1, PROTOCOL_ERROR, "a pseudo-header in trailers")


@case("h2spec http2/8.1.2.1/4; RFC 9113 8.3")
def pseudo_header_after_a_regular_field(env):
    """Pseudo-header fields come before all others: malformed."""
    f = fields("/conf-late")
    malformed(env, f[:2] + [("x-first", "1")] + f[2:],
              "a pseudo-header after a regular field")


@case("h2spec http2/8.1.2.2/1; RFC 9113 8.2.2")
def connection_specific_field(env):
    """A connection-specific field (Connection, Keep-Alive, ...):
    malformed."""
    malformed(env, fields("/conf-connection") + [("connection", "close")],
              "Connection: close")


@case("h2spec http2/8.1.2.2/2; RFC 9113 8.2.2")
def te_other_than_trailers(env):
    """TE with any value but "trailers": malformed."""
    malformed(env, fields("/conf-te") + [("te", "trailers, deflate")],
              "TE: trailers, deflate")


@case("h2spec http2/8.1.2.3/1; RFC 9113 8.3.1")
def empty_path(env):
    """An empty :path (with http): malformed."""
    malformed(env, fields(""), "an empty :path")


@case("h2spec http2/8.1.2.3/2; RFC 9113 8.3.1")
def no_method(env):
    """No :method: malformed."""
    malformed(env, fields("/conf-nomethod", method=None), "no :method")


@case("h2spec http2/8.1.2.3/3; RFC 9113 8.3.1")
def no_scheme(env):
    """No :scheme: malformed."""
    malformed(env, fields("/conf-noscheme", scheme=None), "no :scheme")


@case("h2spec http2/8.1.2.3/4; RFC 9113 8.3.1")
def no_path(env):
    """No :path: malformed."""
    malformed(env, fields(None), "no :path")


@case("h2spec http2/8.1.2.3/5; RFC 9113 8.3")
def method_twice(env):
    """:method twice: malformed."""
    f = fields("/conf-2method")
    malformed(env, f[:1] + [(":method", "POST")] + f[1:], ":method twice")


@case("h2spec http2/8.1.2.3/6; RFC 9113 8.3")
def scheme_twice(env):
    """:scheme twice: malformed."""
    f = fields("/conf-2scheme")
    malformed(env, f[:2] + [(":scheme", "https")] + f[2:], ":scheme twice")


@case("h2spec http2/8.1.2.3/7; RFC 9113 8.3")
def path_twice(env):
    """:path twice: malformed."""
    f = fields("/conf-2path")
    malformed(env, f[:3] + [(":path", "/conf-2path-b")] + f[3:],
              ":path twice")


@case("h2spec http2/8.1.2.6/1; RFC 9113 8.1.1")
def content_length_over_the_data(env):
    """content-length not equal to the DATA's length: malformed."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-cl", "POST", [
        ("content-length", "5")]), end_stream=False) +
        frame(DATA, END_STREAM, 1, b"0123456789"))
    expect_stream_error(r, 1, PROTOCOL_ERROR, "content-length 5, 10 octets")


@case("h2spec http2/8.1.2.6/2; RFC 9113 8.1.1")
def content_length_over_several_data(env):
    """content-length not equal to the sum of several DATA: malformed."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-cl2", "POST", [
        ("content-length", "12")]), end_stream=False) +
        frame(DATA, 0, 1, b"0123") + frame(DATA, 0, 1, b"4567") +
        frame(DATA, END_STREAM, 1, b"89"))
    expect_stream_error(r, 1, PROTOCOL_ERROR, "content-length 12, 10 octets")


@case("h2spec http2/8.2/1; RFC 9113 8.4")
def push_promise_from_a_client(env):
    """A client cannot push: a PUSH_PROMISE is a connection error
    PROTOCOL_ERROR."""
    r = env.conn()
    r.send(r.headers(1, r.req_fields("/conf-push", "POST"),
                     end_stream=False) +
           frame(PUSH_PROMISE, END_HEADERS, 1,
                 struct.pack(">I", 2) + r.block("/conf-pushed")))
    expect_conn_error(r, PROTOCOL_ERROR, "PUSH_PROMISE from the client")


# ---------------------------------------------------------------------------
# RFC 7541 (HPACK)


def hpack_error(env, block, what):
    """A field block HPACK cannot decode: a connection error
    COMPRESSION_ERROR (RFC 9113 4.3)."""
    r = env.conn()
    r.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    expect_conn_error(r, COMPRESSION_ERROR, what)


def plain_block(path):
    """A request's fields, every one a literal without indexing."""
    return b"".join(lit(k.encode(), v.encode()) for k, v in fields(path))


@case("h2spec hpack/2.3.3/1; RFC 7541 2.3.3, 6.1")
def indexed_field_past_the_tables(env):
    """An index past the static table and the (empty) dynamic one."""
    hpack_error(env, plain_block("/conf-idx") + hint(62, 7, 0x80),
                "indexed field 62 with an empty dynamic table")


@case("h2spec hpack/2.3.3/2; RFC 7541 2.3.3, 6.2.1")
def literal_name_past_the_tables(env):
    """A literal whose name index is past both tables."""
    hpack_error(env, plain_block("/conf-lidx") + hint(70, 6, 0x40) +
                hstr(b"v"), "literal with name index 70")


@case("h2spec hpack/4.2/1; RFC 7541 4.2, 6.3")
def table_size_update_after_a_field(env):
    """A dynamic table size update comes at the beginning of a block:
    one after a field is a decoding error."""
    hpack_error(env, plain_block("/conf-tsu-end") + hint(0, 5, 0x20),
                "a size update at the end of the block")


@case("h2spec hpack/5.2/1; RFC 7541 5.2")
def huffman_padding_over_seven_bits(env):
    """Huffman padding longer than 7 bits is a decoding error."""
    # "a" is 00011 (5 bits): 00011111 11111111 pads it with 11 bits
    hpack_error(env, plain_block("/conf-huff1") +
                lit(b"x-h", b"\x1f\xff", huffman_value=True),
                "Huffman padding of 11 bits")


@case("h2spec hpack/5.2/2; RFC 7541 5.2")
def huffman_padding_of_zeros(env):
    """Padding that is not the EOS code's leading bits (ones) is a
    decoding error."""
    # "a" then 000 instead of 111
    hpack_error(env, plain_block("/conf-huff2") +
                lit(b"x-h", b"\x18", huffman_value=True),
                "Huffman padding of zeros")


@case("h2spec hpack/5.2/3; RFC 7541 5.2")
def huffman_string_with_eos(env):
    """A Huffman string holding the EOS symbol is a decoding error."""
    # EOS (30 ones), "a" (00011), 5 bits of padding
    hpack_error(env, plain_block("/conf-huff3") +
                lit(b"x-h", b"\xff\xff\xff\xfc\x7f", huffman_value=True),
                "EOS inside a Huffman string")


@case("h2spec hpack/6.1/1; RFC 7541 6.1")
def indexed_field_zero(env):
    """Index 0 is not used: a decoding error."""
    hpack_error(env, plain_block("/conf-idx0") + b"\x80", "index 0")


@case("h2spec hpack/6.3/1; RFC 7541 6.3, 4.2")
def table_size_update_over_the_setting(env):
    """A size update larger than SETTINGS_HEADER_TABLE_SIZE (sluice's, or
    4096) is a decoding error."""
    r = env.conn()
    sent = [p for t, f, _, p in r.frames if t == SETTINGS and not f & ACK][0]
    vals = dict(struct.unpack(">HI", sent[i:i + 6])
                for i in range(0, len(sent), 6))
    limit = vals.get(1, 4096)
    r.send(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                 hint(limit + 1, 5, 0x20) + plain_block("/conf-tsu-big")))
    expect_conn_error(r, COMPRESSION_ERROR, "size update to %d" % (limit + 1))


@case("h2spec generic/5 (HPACK); RFC 7541 6.1 to 6.3, 5.2")
def hpack_representations_decode(env):
    """Every representation decodes: a size update first, indexed
    fields, literals with incremental indexing (new and indexed names),
    without indexing, never indexed, Huffman and plain strings; a second
    block reuses the dynamic table's entries."""
    r = env.conn()
    b1 = (hint(256, 5, 0x20) +                      # size update
          hint(2, 7, 0x80) +                        # :method GET
          hint(6, 7, 0x80) +                        # :scheme http
          hint(4, 6, 0x40) + hstr(huffman(b"/conf-hpack-1"), True) +
          hint(1, 6, 0x40) + hstr(b"test.local") +  # :authority, indexed
          b"\x40" + hstr(b"x-inc") + hstr(huffman(b"one"), True) +
          hint(0, 4, 0x10) + hstr(b"x-never") + hstr(b"two") +
          lit(b"x-plain", b"three"))
    r.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, b1))
    expect_response(r, 1, "block 1")
    # dynamic table, newest first: x-inc (62), :authority (63), :path (64)
    b2 = (hint(2, 7, 0x80) + hint(6, 7, 0x80) +
          hint(4, 4, 0x00) + hstr(b"/conf-hpack-2") +
          hint(63, 7, 0x80) + hint(62, 7, 0x80))
    r.send(frame(HEADERS, END_HEADERS | END_STREAM, 3, b2))
    expect_response(r, 3, "block 2")
    q = {x.target: x for x in env.up.requests}
    one, two = q.get("/conf-hpack-1"), q.get("/conf-hpack-2")
    check(one and (one.header("x-inc"), one.header("x-never"),
                   one.header("x-plain"), one.header("host")) ==
          ("one", "two", "three", "test.local"), "block 1 upstream: %r" % one)
    check(two and (two.header("x-inc"), two.header("host")) ==
          ("one", "test.local"), "block 2 upstream: %r" % two)


# ---------------------------------------------------------------------------
# The runner


@test
def rfc9113_and_rfc7541_conformance():
    """Every case against one sluice; known failures must still fail."""
    check(h2test.HAVE_H2, "python3-h2 is missing (run with /usr/bin/python3)")
    only = [n for n in os.environ.get("H2CONF_CASES", "").split(",") if n]
    names = [n for n, _, _ in CASES]
    check(len(set(names)) == len(names), "two cases of one name")
    stale = sorted(set(KNOWN_FAILING) - set(names))
    check(not stale, "KNOWN_FAILING names no case: %s" % stale)
    env = Env()
    counts = {"ok": 0, "known failure": 0, "FAIL": 0}
    bad = []
    t_all = time.monotonic()
    for name, ref, fn in CASES:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        err = None
        try:
            fn(env)
        except AssertionError as e:
            err = str(e)
        except Exception:
            err = traceback.format_exc().rstrip().splitlines()[-1]
        finally:
            env.close_all()
        dt = time.monotonic() - t0
        if name in KNOWN_FAILING:
            if err is None:
                verdict = "FAIL"
                err = "passes now: remove it from KNOWN_FAILING"
            else:
                verdict = "known failure"
        else:
            verdict = "ok" if err is None else "FAIL"
        counts[verdict] += 1
        print("# %-13s %s [%s] (%.2fs)" % (verdict, name, ref, dt))
        if verdict != "ok":
            print("#   %s" % (err if verdict == "FAIL"
                              else "%s -- %s" % (err, KNOWN_FAILING[name])))
        if verdict == "FAIL":
            bad.append(name)
        sys.stdout.flush()
        check(env.sluice.proc.poll() is None,
              "sluice exited during %s (status %s)"
              % (name, env.sluice.proc.returncode))
    print("# %d cases: %d ok, %d known failures, %d FAIL (%.1fs)"
          % (sum(counts.values()), counts["ok"], counts["known failure"],
             counts["FAIL"], time.monotonic() - t_all))
    check(not bad, "%d case(s) failed: %s" % (len(bad), ", ".join(bad)))


if __name__ == "__main__":
    main()
