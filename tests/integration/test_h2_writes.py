# SPDX-License-Identifier: MIT
"""How an HTTP/2 connection's answers leave (doc/http2.md section 4, "One
write a turn"): what a turn of the worker's loop makes ready for one
connection goes out in one write, so over TLS in one record, however many
streams and frames it holds. The client here reads the socket's bytes
itself and hands them to an ssl.SSLObject (a memory BIO), so that it sees
the TLS records sluice wrote: what is counted is records, not time.

Before issue 62 a response took two writes at least, two records over
TLS: the HEADERS the exchange's flush put in the write buffer went out
first, alone, and its DATA after, in a second write of the same run."""

import os
import socket
import ssl
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Pki, Reply, Skip, Upstream, check, eq,  # noqa: E402
                    have_openssl, main, make_config,
                    start_sluice, test)
import h2test  # noqa: E402
from h2test import (ACK, DATA, END_HEADERS, END_STREAM, HEADERS,  # noqa: E402
                    PING, SETTINGS, frame, parse_frames, settings_frame)

APPDATA = 23  # a TLS record's content type: application_data


def need():
    if not h2test.HAVE_H2:
        raise Skip("python3-h2 not installed (apt-get install python3-h2)")
    if not have_openssl():
        raise Skip("openssl not installed")


PKI = {}


def pki():
    if "p" not in PKI:
        p = Pki()
        p.ca("ca", "/CN=writes test CA")
        p.leaf("a", "/CN=a.example.test", "ca", dns=("a.example.test",))
        PKI["p"] = p
    return PKI["p"]


def tls_sluice(up, routes=None):
    """sluice with one TLS listener speaking h2, no session tickets (a
    ticket is a record of its own after the handshake), routed to up.
    Returns (sluice, port)."""
    p = pki()
    lo = {"protocols": ["h2"],
          "tls": {"certificates": [{"cert": p["a"].cert,
                                    "key": p["a"].key}],
                  "session_tickets": False}}
    cfg, port = make_config({"a": [up]}, routes=routes, listener_opts=lo)
    sltest._tls_ports.discard(port)
    return start_sluice(cfg), port


class RecordClient:
    """HTTP/2 over TLS, the records read counted: the socket's bytes go
    to an SSLObject through a memory BIO, a whole record at a time."""

    def __init__(self, port, timeout=10.0):
        ctx = ssl.create_default_context(cafile=pki()["ca"].cert)
        ctx.set_alpn_protocols(["h2"])
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inb, self.outb,
                                server_hostname="a.example.test")
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.raw = b""      # bytes of a record not whole yet
        self.plain = b""    # decrypted bytes, not whole frames yet
        self.records = 0    # application data records read
        self.frames = []    # [(type, flags, stream, payload)]
        self.enc = h2test.hpack.Encoder()
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._send_out()
                self._recv_records()
        self._send_out()
        eq(self.tls.selected_alpn_protocol(), "h2", "ALPN")

    def _send_out(self):
        b = self.outb.read()
        if b:
            self.sock.sendall(b)

    def _recv_records(self):
        """Reads the socket once; the whole records it completes go to
        the TLS object. Returns False at the connection's end."""
        d = self.sock.recv(262144)
        if not d:
            return False
        self.raw += d
        while len(self.raw) >= 5:
            ctype, _, n = struct.unpack(">BHH", self.raw[:5])
            if len(self.raw) < 5 + n:
                break
            if ctype == APPDATA:
                self.records += 1
            self.inb.write(self.raw[:5 + n])
            self.raw = self.raw[5 + n:]
        return True

    def send(self, b):
        """b in one record (one SSL write of less than 16 KiB)."""
        self.tls.write(b)
        self._send_out()

    def read(self):
        """One read of the socket: its frames parsed (SETTINGS and PINGs
        acknowledged)."""
        if not self._recv_records():
            raise AssertionError("sluice closed the connection")
        while True:
            try:
                d = self.tls.read(262144)
            except ssl.SSLWantReadError:
                break
            if not d:
                break
            self.plain += d
        fr, self.plain = parse_frames(self.plain)
        for f in fr:
            if f[0] == SETTINGS and not (f[1] & ACK):
                self.send(settings_frame(ack=True))
            if f[0] == PING and not (f[1] & ACK):
                self.send(frame(PING, ACK, 0, f[3]))
        self.frames += fr

    def wait(self, pred):
        while not pred():
            self.read()

    def ended(self, sids):
        done = {sid for t, fl, sid, _ in self.frames
                if t in (HEADERS, DATA) and fl & END_STREAM}
        return set(sids) <= done

    def get(self, sid, path):
        block = self.enc.encode([(":method", "GET"), (":scheme", "https"),
                                 (":path", path),
                                 (":authority", "a.example.test")])
        return frame(HEADERS, END_HEADERS | END_STREAM, sid, block)

    def start(self):
        """The preface and SETTINGS both ways, acknowledged: what follows
        is the answers alone."""
        self.send(h2test.PREFACE + settings_frame())
        self.wait(lambda: any(t == SETTINGS and fl & ACK
                              for t, fl, _, _ in self.frames) and
                  any(t == SETTINGS and not fl & ACK
                      for t, fl, _, _ in self.frames))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def statuses(frames):
    dec = h2test.hpack.Decoder()
    out = {}
    for t, _, sid, p in frames:
        if t == HEADERS:
            for k, v in dec.decode(p):
                k = k.decode() if isinstance(k, bytes) else k
                if k == ":status":
                    out[sid] = int(v)
    return out


def in_order(frames, sids):
    """Each stream's HEADERS before its DATA, its END_STREAM last."""
    for sid in sids:
        mine = [(t, fl) for t, fl, s, _ in frames if s == sid]
        if not mine or mine[0][0] != HEADERS:
            return False
        if not mine[-1][1] & END_STREAM:
            return False
        if any(fl & END_STREAM for _, fl in mine[:-1]):
            return False
    return True


@test
def local_answers_of_one_read_leave_in_one_record():
    """Twenty requests in one record, each answered by sluice itself (no
    route: 404): the forty frames go in one record."""
    need()
    up = Upstream("a")
    sl, port = tls_sluice(up, routes=[{"name": "only",
                                       "match": {"path": "/only"},
                                       "cluster": "a"}])
    c = RecordClient(port)
    c.start()
    before, nframes = c.records, len(c.frames)
    sids = list(range(1, 41, 2))
    c.send(b"".join(c.get(sid, "/nowhere/%d" % sid) for sid in sids))
    c.wait(lambda: c.ended(sids))
    got = c.frames[nframes:]
    eq(statuses(got), {sid: 404 for sid in sids}, "the local answers")
    check(in_order(got, sids), "HEADERS then DATA, END_STREAM last")
    eq(c.records - before, 1, "records that carried the twenty answers")
    eq(len(up.requests), 0, "nothing upstream")
    c.close()


@test
def a_proxied_answer_leaves_in_one_record():
    """An upstream's answer, head and body in one read: HEADERS and DATA
    in one record (they were two)."""
    need()
    up = Upstream("a", lambda req: Reply(200, b"x" * 100))
    sl, port = tls_sluice(up)
    c = RecordClient(port)
    c.start()
    for sid in (1, 3, 5):
        before, nframes = c.records, len(c.frames)
        c.send(c.get(sid, "/one/%d" % sid))
        c.wait(lambda: c.ended([sid]))
        got = c.frames[nframes:]
        eq(statuses(got), {sid: 200}, "status")
        eq(sum(len(p) for t, _, s, p in got if t == DATA and s == sid),
           100, "body bytes")
        eq(c.records - before, 1, "records of answer %d" % sid)
    c.close()


@test
def answers_that_arrive_together_share_records():
    """Ten requests whose upstream answers are held until all ten came,
    then sent together: every answer arrives whole and in order, in fewer
    records than answers (how many turns the worker takes to read ten
    upstream sockets is the kernel's and the scheduler's, so only the
    bound is asserted: one record an answer at most, never the two of
    a HEADERS and a DATA apart)."""
    need()
    n = 10
    barrier = threading.Barrier(n, timeout=10)

    def handler(req):
        barrier.wait()
        return Reply(200, b"y" * 50)

    up = Upstream("a", handler)
    sl, port = tls_sluice(up)
    c = RecordClient(port)
    c.start()
    before, nframes = c.records, len(c.frames)
    sids = list(range(1, 2 * n, 2))
    c.send(b"".join(c.get(sid, "/t/%d" % sid) for sid in sids))
    c.wait(lambda: c.ended(sids))
    got = c.frames[nframes:]
    eq(statuses(got), {sid: 200 for sid in sids}, "the ten answers")
    check(in_order(got, sids), "HEADERS then DATA, END_STREAM last")
    check(c.records - before <= n,
          "%d records for %d answers" % (c.records - before, n))
    c.close()


if __name__ == "__main__":
    main()
