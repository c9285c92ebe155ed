#!/usr/bin/env python3
"""Open N keep-alive connections, make ONE request on each, keep them idle.

Usage: idle_conns.py HOST PORT N [--window W] [--path /] [--hold SECONDS]

At most W connections are being set up or waiting for their response at a
time (so the gateway needs about W upstream connections, as in the warm-up);
a connection whose response has fully arrived stays open and idle.

Prints to stdout, one line each, flushed:
  READY ok=N failed=F secs=S       all connections are set up (or failed)
  OPEN open=N closed=C             after SIGUSR1: how many are still open
then closes everything and exits. Without SIGUSR1 it gives up after --hold
seconds (default 120), so it never outlives the benchmark by much.
"""
import argparse
import errno
import os
import resource
import select
import selectors
import signal
import socket
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--path", default="/")
    p.add_argument("--hold", type=float, default=120.0)
    p.add_argument("--setup-timeout", type=float, default=90.0)
    return p.parse_args()


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


def main():
    a = parse_args()
    raise_nofile(a.n + 64)
    # Block the signals we wait for, so sigtimedwait() sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM, signal.SIGINT})
    req = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
           f"User-Agent: sluice-bench-idle\r\n\r\n").encode()
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
                    s.sendall(req)  # tiny; fits in the socket buffer
                    st[0] = "read"
                    sel.modify(s, selectors.EVENT_READ, st)
                    continue
                data = s.recv(65536)
                if not data:
                    raise OSError("closed before the response")
                st[1] += data
                if response_complete(st[1]):
                    if not st[1].startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                        raise OSError("status " + st[1][:12].decode("latin-1"))
                    sel.unregister(s)
                    idle.append(s)
            except OSError:
                sel.unregister(s)
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
        ready = {fd for fd, _ in p.poll(0)}
        for s in idle:
            if s.fileno() in ready:
                try:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        closed += 1
                except OSError:
                    closed += 1
        print(f"OPEN open={len(idle) - closed} closed={closed}", flush=True)
    for s in idle:
        s.close()


if __name__ == "__main__":
    main()
