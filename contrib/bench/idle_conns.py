#!/usr/bin/env python3
"""Open N keep-alive connections, make ONE request on each, keep them idle.

Usage: idle_conns.py HOST PORT N [--window W] [--path /] [--hold SECONDS]
                     [--setup-timeout SECONDS] [--tls [--servername NAME]]
                     [--h2]
       idle_conns.py --serve HOST PORT [N] [--hold SECONDS]

At most W connections are being set up or waiting for their response at a
time (so the gateway needs about W upstream connections, as in the warm-up);
a connection whose response has fully arrived stays open and idle.

With --tls every connection completes a full TLS handshake first (Python's
ssl module, TLS 1.2 or 1.3, the certificate is not verified, no session is
offered for resumption), then makes its request over TLS; the TLS 1.3
session tickets the server sends are read with the response.

With --h2 every connection speaks HTTP/2: with --tls it offers ALPN
"h2, http/1.1" and a connection on which the server did not pick h2 counts
as failed; without --tls it is h2c with prior knowledge. It sends the
connection preface, a SETTINGS frame (ENABLE_PUSH 0) and one request (a
HEADERS frame with END_STREAM on stream 1, hand-encoded HPACK: indexed
:method GET, :scheme and :path "/" when it is, the others literal without
indexing). :authority is SERVERNAME:PORT with --tls (what a browser sends
for https://SERVERNAME:PORT/ after asking for that name by SNI), HOST:PORT
without. It acknowledges the server's SETTINGS, answers PINGs and reads
frames until stream 1 has ended with status 200 and the server has
acknowledged its SETTINGS; then the connection stays idle (with nothing
left to read but what the server may send later). A GOAWAY or RST_STREAM
before that, or another status, counts as failed.

Prints to stdout, one line each, flushed:
  READY ok=N failed=F secs=S       all connections are set up (or failed)
                                   (with --h2 also h2=N: of them on HTTP/2)
  OPEN open=N closed=C             after SIGUSR1: how many are still open
then closes everything and exits. Without SIGUSR1 it gives up after --hold
seconds (default 120), so it never outlives the benchmark by much. The
connections are closed with a reset (SO_LINGER 0), so that neither end
keeps them in TIME_WAIT: kernel memory that would otherwise be given back
during the next measurement, and seen there as a smaller cost.

--serve is the reference end of contrib/bench's kernel-memory measurement:
a trivial server on HOST:PORT (backlog 4096) that accepts every connection,
reads the request head, answers "200 OK" with an empty body and then holds
the socket without polling it (no epoll registration, nothing buffered):
the least a TCP endpoint can cost the kernel. N (optional) is how many
descriptors to make room for. It prints "LISTENING" once bound, and runs
until SIGTERM or SIGINT, or --hold seconds; it closes with a reset too.
"""
import argparse
import errno
import os
import resource
import select
import selectors
import signal
import socket
import struct
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--serve", action="store_true")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int, nargs="?")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--path", default="/")
    p.add_argument("--hold", type=float, default=120.0)
    p.add_argument("--setup-timeout", type=float, default=90.0)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--servername", default="localhost")
    p.add_argument("--h2", action="store_true")
    a = p.parse_args()
    if a.n is None and not a.serve:
        p.error("N is required (connections to open)")
    return a


def close_reset(s):
    """Close with a reset: no TIME_WAIT left behind on either end."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} < {need}", file=sys.stderr)


def response_complete(buf):
    """True once buf holds a whole response (Content-Length or chunked)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = buf[:end].decode("latin-1").lower()
    body = len(buf) - end - 4
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip()
        if name == "content-length":
            return body >= int(value.strip())
        if name == "transfer-encoding" and "chunked" in value:
            return buf.endswith(b"0\r\n\r\n")
    return True  # no body framing: head only (e.g. 204/304)


# ------------------------------------------------------------------ HTTP/2
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_RST_STREAM, H2_SETTINGS, H2_PING, H2_GOAWAY, H2_CONTINUATION = 0, 1, 3, 4, 6, 7, 9
H2_END_STREAM, H2_ACK, H2_END_HEADERS, H2_PADDED, H2_PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20


def h2_frame(ftype, flags, sid, payload=b""):
    return struct.pack("!I", len(payload))[1:] + struct.pack("!BBI", ftype, flags, sid) + payload


def hpack_int(value, prefix_bits, first):
    """RFC 7541 5.1: value with an N-bit prefix, first = the pattern bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name_index, value):
    """Literal header field without indexing, indexed name (RFC 7541 6.2.2),
    the value as a plain (not Huffman) string."""
    v = value.encode("latin-1")
    return hpack_int(name_index, 4, 0x00) + hpack_int(len(v), 7, 0x00) + v


def h2_request_block(authority, path, tls):
    """The HPACK block of GET path (static table: 2 :method GET, 4 :path /,
    6 :scheme http, 7 :scheme https, 1 :authority, 58 user-agent)."""
    b = bytes([0x82, 0x87 if tls else 0x86])
    b += bytes([0x84]) if path == "/" else hpack_literal(4, path)
    b += hpack_literal(1, authority)
    b += hpack_literal(58, "sluice-bench-idle")
    return b


# HPACK's Huffman codes of the digits (RFC 7541 Appendix B): enough for a
# :status value; anything else is not decoded.
HUFF_DIGITS = {(0b00000, 5): "0", (0b00001, 5): "1", (0b00010, 5): "2",
               (0b011001, 6): "3", (0b011010, 6): "4", (0b011011, 6): "5",
               (0b011100, 6): "6", (0b011101, 6): "7", (0b011110, 6): "8",
               (0b011111, 6): "9"}
STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}


def hpack_read_int(b, i, prefix_bits):
    limit = (1 << prefix_bits) - 1
    v = b[i] & limit
    i += 1
    if v < limit:
        return v, i
    m = 0
    while True:
        c = b[i]
        i += 1
        v += (c & 0x7f) << m
        m += 7
        if not c & 0x80:
            return v, i


def huff_digits(data):
    bits = "".join(f"{c:08b}" for c in data)
    out, code, n = "", 0, 0
    for bit in bits:
        code, n = code * 2 + (bit == "1"), n + 1
        if (code, n) in HUFF_DIGITS:
            out += HUFF_DIGITS[(code, n)]
            code, n = 0, 0
        elif n > 6:
            break
    # what is left must be padding: at most 7 one bits (EOS prefix)
    if n > 7 or code != (1 << n) - 1:
        raise ValueError("cannot decode the :status value")
    return out


def h2_status(block):
    """The :status of a response's HPACK block; it is the first field (RFC
    9113 8.3: pseudo-header fields come first). None if not decodable."""
    if not block:
        return None
    c = block[0]
    if c & 0x80:  # indexed field
        idx, _ = hpack_read_int(block, 0, 7)
        return STATIC_STATUS.get(idx)
    if c & 0xe0 == 0x20:  # a dynamic table size update first: skip it
        _, i = hpack_read_int(block, 0, 5)
        return h2_status(block[i:])
    if c & 0xc0 == 0x40:
        prefix = 6  # literal with incremental indexing
    else:
        prefix = 4  # literal without indexing / never indexed
    idx, i = hpack_read_int(block, 0, prefix)
    if idx not in STATIC_STATUS:  # name is not :status (or a literal name)
        return None
    huff = block[i] & 0x80
    n, i = hpack_read_int(block, i, 7)
    v = block[i:i + n]
    s = huff_digits(v) if huff else v.decode("latin-1")
    return int(s) if s.isdigit() else None


class H2Conn:
    """The client side of one HTTP/2 connection, up to one response."""

    def __init__(self):
        self.buf = b""
        self.block = b""  # header block of stream 1 (HEADERS + CONTINUATION)
        self.status = None
        self.end_stream = False
        self.stream_done = False
        self.settings_acked = False  # the server's ACK of our SETTINGS
        self.done = False  # both: nothing more is due from the server

    def feed(self, data):
        """Takes bytes from the server; returns the bytes to send back.
        Raises OSError on a GOAWAY, a reset of stream 1 or a bad status."""
        self.buf += data
        out = b""
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                break
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
            p = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            if ftype == H2_SETTINGS and flags & H2_ACK:
                self.settings_acked = True
            elif ftype == H2_SETTINGS:
                out += h2_frame(H2_SETTINGS, H2_ACK, 0)
            elif ftype == H2_PING and not flags & H2_ACK:
                out += h2_frame(H2_PING, H2_ACK, 0, p)
            elif ftype == H2_GOAWAY:
                code = int.from_bytes(p[4:8], "big") if len(p) >= 8 else -1
                raise OSError(f"GOAWAY error code {code}")
            elif ftype == H2_RST_STREAM and sid == 1:
                raise OSError(f"RST_STREAM error code {int.from_bytes(p[:4], 'big')}")
            elif ftype in (H2_HEADERS, H2_CONTINUATION) and sid == 1:
                if ftype == H2_HEADERS:
                    if flags & H2_PADDED:
                        p = p[1:len(p) - p[0]]
                    if flags & H2_PRIORITY:
                        p = p[5:]
                    self.end_stream = flags & H2_END_STREAM
                self.block += p
                if flags & H2_END_HEADERS:
                    if self.status is None:
                        self.status = h2_status(self.block)
                        if self.status != 200:
                            raise OSError(f"status {self.status}")
                    self.block = b""
                    if self.end_stream:
                        self.stream_done = True
            elif ftype == H2_DATA and sid == 1 and flags & H2_END_STREAM:
                self.stream_done = True
        self.done = self.stream_done and self.settings_acked
        return out


def serve(a):
    """The reference end: accept, answer one request, hold; see above."""
    raise_nofile((a.n or 20000) + 64)
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(4096)
    ls.setblocking(False)
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    held = []
    print("LISTENING", flush=True)
    deadline = time.monotonic() + a.hold
    while not stop and time.monotonic() < deadline:
        try:
            events = sel.select(timeout=0.5)
        except InterruptedError:
            continue
        for key, _ in events:
            if key.data is None:  # the listener: take everything queued
                for _ in range(256):
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:  # EMFILE and the like: try again later
                        break
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, [b""])
                continue
            c = key.fileobj
            try:
                data = c.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                close_reset(c)
                continue
            key.data[0] += data
            if b"\r\n\r\n" in key.data[0]:
                sel.unregister(c)  # held from now on, not polled
                try:
                    c.send(resp)  # tiny: fits in the empty send buffer
                except OSError:
                    close_reset(c)
                    continue
                held.append(c)
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    for c in held:
        close_reset(c)


def main():
    a = parse_args()
    if a.serve:
        serve(a)
        return
    raise_nofile(a.n + 64)
    # Block the signals we wait for, so sigtimedwait() sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM, signal.SIGINT})
    req = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
           f"User-Agent: sluice-bench-idle\r\n\r\n").encode()
    if a.h2:  # preface, SETTINGS (ENABLE_PUSH 0), HEADERS (END_STREAM | END_HEADERS)
        req = (H2_PREFACE + h2_frame(H2_SETTINGS, 0, 0, struct.pack("!HI", 2, 0)) +
               h2_frame(H2_HEADERS, H2_END_STREAM | H2_END_HEADERS, 1,
                        h2_request_block(f"{a.servername if a.tls else a.host}:{a.port}",
                                         a.path, a.tls)))
    ctx = None
    want = ()  # the exceptions that mean "try again when ready" (TLS only)
    if a.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        want = (ssl.SSLWantReadError, ssl.SSLWantWriteError)
        if a.h2:
            ctx.set_alpn_protocols(["h2", "http/1.1"])
    sel = selectors.DefaultSelector()
    idle = []
    failed = 0
    h2_ok = 0
    first_error = []
    started = 0
    t0 = time.monotonic()
    deadline = t0 + a.setup_timeout

    def start_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((a.host, a.port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            return False
        sel.register(s, selectors.EVENT_WRITE, ["connect", b""])
        return True

    def handshake(s, st):
        """One step of the TLS handshake; True once it is done."""
        try:
            s.do_handshake()
        except want as e:
            ev = selectors.EVENT_READ if isinstance(e, ssl.SSLWantReadError) else selectors.EVENT_WRITE
            sel.modify(s, ev, st)
            return False
        return True

    def send_request(s, st):
        if a.h2:
            if ctx is not None and s.selected_alpn_protocol() != "h2":
                raise OSError(f"ALPN: the server chose {s.selected_alpn_protocol()!r}, not h2")
            st.append(H2Conn())
        s.sendall(req)  # tiny; fits in the socket buffer (and in one record)
        st[0] = "read"
        sel.modify(s, selectors.EVENT_READ, st)

    while (started < a.n or sel.get_map()) and time.monotonic() < deadline:
        while started < a.n and len(sel.get_map()) < a.window:
            started += 1
            if not start_one():
                failed += 1
        for key, _ in sel.select(timeout=1.0):
            s, st = key.fileobj, key.data
            try:
                if st[0] == "connect":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    if ctx is None:
                        send_request(s, st)
                        continue
                    sel.unregister(s)
                    s = ctx.wrap_socket(s, server_hostname=a.servername,
                                        do_handshake_on_connect=False)
                    st[0] = "handshake"
                    sel.register(s, selectors.EVENT_WRITE, st)
                    if handshake(s, st):
                        send_request(s, st)
                    continue
                if st[0] == "handshake":
                    if handshake(s, st):
                        send_request(s, st)
                    continue
                try:
                    data = s.recv(65536)
                    while ctx is not None and data and s.pending():
                        data += s.recv(65536)  # decrypted, not in the kernel
                except want:  # TLS: a record that held no data (a ticket)
                    continue
                if not data:
                    raise OSError("closed before the response")
                if a.h2:
                    back = st[2].feed(data)
                    if back:
                        s.sendall(back)  # SETTINGS ACK, PING ACK: tiny
                    if st[2].done:
                        sel.unregister(s)
                        idle.append(s)
                        h2_ok += 1
                    continue
                st[1] += data
                if response_complete(st[1]):
                    if not st[1].startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                        raise OSError("status " + st[1][:12].decode("latin-1"))
                    sel.unregister(s)
                    idle.append(s)
            except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
                if not first_error:
                    first_error.append(repr(e))
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()
                failed += 1
    for key in list(sel.get_map().values()):  # timed out
        sel.unregister(key.fileobj)
        key.fileobj.close()
        failed += 1
    failed += a.n - started
    print(f"READY ok={len(idle)} failed={failed} secs={time.monotonic() - t0:.1f}"
          + (f" h2={h2_ok}" if a.h2 else ""), flush=True)
    if failed and first_error:
        print(f"first failure: {first_error[0]}", file=sys.stderr, flush=True)

    sig = signal.sigtimedwait({signal.SIGUSR1, signal.SIGTERM, signal.SIGINT}, a.hold)
    if sig is not None and sig.si_signo == signal.SIGUSR1:
        # A closed connection is readable and reads EOF (or an error).
        closed = 0
        p = select.poll()
        for s in idle:
            p.register(s, select.POLLIN | select.POLLRDHUP)
        events = p.poll(0)
        if ctx is None:
            ready = {fd for fd, _ in events}
            for s in idle:
                if s.fileno() in ready:
                    try:
                        if s.recv(1, socket.MSG_PEEK) == b"":
                            closed += 1
                    except OSError:
                        closed += 1
        else:
            # Under TLS a close_notify alert is data: count the connections
            # whose FIN has come (the gateway closed them).
            closed = sum(1 for _, ev in events
                         if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR))
        print(f"OPEN open={len(idle) - closed} closed={closed}", flush=True)
    for s in idle:
        close_reset(s)


if __name__ == "__main__":
    main()
