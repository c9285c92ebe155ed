#!/usr/bin/env python3
"""Open N connections that ask for a large response and never read it.

Usage: slow_readers.py HOST PORT N [--window W] [--path /256k]
                       [--rcvbuf BYTES] [--hold SECONDS]

Each connection sets a small receive buffer (--rcvbuf, default 4096) before
it connects, sends one GET for --path and reads only the response head
(a few bytes at a time, so that the body stays in the kernel buffers and
the gateway): the slow-read attack (slowhttptest -X) without its trickle,
so that what the gateway holds per connection can be read off its RSS.
At most W connections are waiting for their head at a time.

Prints to stdout, one line each, flushed:
  READY ok=N failed=F secs=S       every connection has its response head
                                   (or failed)
  OPEN open=N closed=C             after SIGUSR1: how many are still open
then closes everything (RST) and exits. Without SIGUSR1 it gives up after
--hold seconds (default 120). Traffic to HOST only; use 127.0.0.1.
"""
import argparse
import select
import signal
import socket
import struct
import sys
import time

from idle_conns import raise_nofile  # the same directory


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--path", default="/256k")
    p.add_argument("--rcvbuf", type=int, default=4096)
    p.add_argument("--hold", type=float, default=120.0)
    p.add_argument("--setup-timeout", type=float, default=90.0)
    return p.parse_args()


def still_open(s):
    """True while the peer has neither closed nor reset the connection.
    Reads nothing: POLLRDHUP and POLLERR say it, the queued body does
    not."""
    p = select.poll()
    p.register(s, select.POLLRDHUP | select.POLLERR | select.POLLHUP)
    return not p.poll(0)


def main():
    a = parse_args()
    raise_nofile(a.n + 64)
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % a.path).encode()
    usr1 = []
    signal.signal(signal.SIGUSR1, lambda *_: usr1.append(1))
    t0 = time.monotonic()
    done, pending, failed = [], {}, 0
    started = 0
    poller = select.poll()
    deadline = t0 + a.setup_timeout
    while (started < a.n or pending) and time.monotonic() < deadline:
        while started < a.n and len(pending) < a.window:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
            try:
                s.connect((a.host, a.port))
                s.sendall(req)
            except OSError:
                s.close()
                failed += 1
                started += 1
                continue
            s.setblocking(False)
            pending[s.fileno()] = [s, b""]
            poller.register(s, select.POLLIN)
            started += 1
        for fd, ev in poller.poll(100):
            s, head = pending[fd]
            try:
                d = s.recv(64)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                poller.unregister(fd)
                del pending[fd]
                s.close()
                failed += 1
                continue
            head += d
            pending[fd][1] = head
            if b"\r\n\r\n" in head:
                poller.unregister(fd)
                del pending[fd]
                if head.startswith(b"HTTP/1.1 200"):
                    done.append(s)
                else:
                    s.close()
                    failed += 1
    for s, _ in pending.values():
        s.close()
        failed += 1
    print("READY ok=%d failed=%d secs=%.1f"
          % (len(done), failed, time.monotonic() - t0), flush=True)
    end = time.monotonic() + a.hold
    while not usr1 and time.monotonic() < end:
        time.sleep(0.1)
    n_open = sum(1 for s in done if still_open(s))
    print("OPEN open=%d closed=%d" % (n_open, len(done) - n_open),
          flush=True)
    linger = struct.pack("ii", 1, 0)
    for s in done:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
