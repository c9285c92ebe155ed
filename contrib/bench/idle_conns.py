#!/usr/bin/env python3
"""Open N keep-alive connections, make ONE request on each, keep them idle.

Usage: idle_conns.py HOST PORT N [--window W] [--path /] [--hold SECONDS]
                     [--setup-timeout SECONDS] [--tls [--servername NAME]]
       idle_conns.py --serve HOST PORT [N] [--hold SECONDS]

At most W connections are being set up or waiting for their response at a
time (so the gateway needs about W upstream connections, as in the warm-up);
a connection whose response has fully arrived stays open and idle.

With --tls every connection completes a full TLS handshake first (Python's
ssl module, TLS 1.2 or 1.3, the certificate is not verified, no session is
offered for resumption), then makes its request over TLS; the TLS 1.3
session tickets the server sends are read with the response.

Prints to stdout, one line each, flushed:
  READY ok=N failed=F secs=S       all connections are set up (or failed)
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
    ctx = None
    want = ()  # the exceptions that mean "try again when ready" (TLS only)
    if a.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        want = (ssl.SSLWantReadError, ssl.SSLWantWriteError)
    sel = selectors.DefaultSelector()
    idle = []
    failed = 0
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
                st[1] += data
                if response_complete(st[1]):
                    if not st[1].startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                        raise OSError("status " + st[1][:12].decode("latin-1"))
                    sel.unregister(s)
                    idle.append(s)
            except (OSError, ValueError):  # ssl.SSLError is an OSError
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
    print(f"READY ok={len(idle)} failed={failed} secs={time.monotonic() - t0:.1f}", flush=True)

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
