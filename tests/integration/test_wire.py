# SPDX-License-Identifier: MIT
"""What sluice puts on the wire, beyond the bytes of the messages: a
Content-Length response head waits for the first bytes of its body (one
segment instead of two); a chunked head does not wait; a held head whose
upstream fails becomes an error response, and waiting for the upstream
is not charged to the client's send rate; the last response before a
close still arrives whole; body bytes sent with MSG_MORE (more of a
known length to come) do not wait for the rest; a client that reads fast
earns a bigger kernel send buffer and a slow reader keeps the small one.

The upstreams are raw sockets that write the head and the body with a
pause in between, the way nginx does (writev, then sendfile)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import *  # noqa: E402,F401,F403
from sltest import (WOULD_BLOCK, Client, RawUpstream,  # noqa: E402
                    build_request, check, eq, kernel_sndbuf, main,
                    make_config, read_in_bursts, sluice_sndbuf,
                    sluice_tcp_info, start_sluice, test)


def read_request(s):
    """Reads one request head (no body) from s; None at end of stream."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None
        buf += d
    return buf


def split_upstream(head, parts, pause, repeat=True):
    """An upstream that answers each request with `head`, then each of
    `parts` after `pause` seconds; with repeat=False it then stops
    answering and keeps the connection open."""
    def handler(s, idx, log):
        while True:
            req = read_request(s)
            if req is None:
                return
            log += req
            s.sendall(head)
            for p in parts:
                time.sleep(pause)
                if p is None:           # close here
                    return
                s.sendall(p)
            if not repeat:
                time.sleep(30)
                return
    return RawUpstream(handler)


def setup(up, limits=None, timeout=None):
    route = {"name": "main", "cluster": "a"}
    if timeout:
        route["timeout"] = timeout
    cfg, port = make_config({"a": [up.addr]}, routes=[route],
                            limits=limits)
    start_sluice(cfg)
    return port


def first_read(c, timeout):
    """The bytes of the first recv() on the client's socket, or b"" when
    nothing arrived within timeout."""
    c.sock.settimeout(timeout)
    try:
        return c.sock.recv(65536)
    except socket.timeout:
        return b""


@test
def content_length_head_waits_for_first_body_bytes():
    body = b"x" * 100
    up = split_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
                        [body], 0.6)
    port = setup(up)
    c = Client(port, timeout=5.0)
    c.send(build_request("GET", "/"))
    t0 = time.monotonic()
    got = first_read(c, 0.4)
    eq(got, b"", "bytes the client had 0.4 s into the upstream's 0.6 s "
       "pause between head and body (the head went alone)")
    got = first_read(c, 3.0)
    dt = time.monotonic() - t0
    check(got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(body),
          "first read after the pause is not head and body together "
          "(%.2fs): %r" % (dt, got[:200]))
    # the next exchange on the same connections is not disturbed
    c.sock.settimeout(5.0)
    r = c.request("GET", "/again")
    eq(r.status, 200, "second request")
    eq(r.body, body, "second body")


@test
def chunked_head_is_not_held():
    up = split_upstream(b"HTTP/1.1 200 OK\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n",
                        [b"5\r\nhello\r\n0\r\n\r\n"], 1.0)
    port = setup(up)
    c = Client(port, timeout=5.0)
    c.send(build_request("GET", "/events"))
    got = first_read(c, 0.8)
    check(got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"\r\n\r\n"),
          "a chunked (streamed) response head must go out at once, "
          "before its first chunk: %r" % got[:200])
    c.buf += got
    c.sock.settimeout(5.0)
    r = c.read_response()
    eq(r.body, b"hello", "body")


@test
def held_head_then_upstream_closes_is_502():
    up = split_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
                        [None], 0.2)
    port = setup(up)
    c = Client(port, timeout=5.0)
    r = c.request("GET", "/")
    eq(r.status, 502, "status when the upstream closed after a held head")
    eq(r.json().get("error"), "upstream_reset", "error code")
    eq(len(up.snapshot()), 1, "upstream connections (no replay of a "
       "request the upstream answered)")


@test
def held_head_then_upstream_stalls_is_504():
    up = split_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
                        [], 0, repeat=False)
    port = setup(up, timeout="500ms")
    c = Client(port, timeout=5.0)
    t0 = time.monotonic()
    r = c.request("GET", "/")
    dt = time.monotonic() - t0
    eq(r.status, 504, "status when the body never came after a held head")
    eq(r.json().get("error"), "upstream_timeout", "error code")
    check(dt < 3.0, "504 took %.2fs with a 500ms route timeout" % dt)


@test
def held_head_is_not_charged_to_send_rate():
    # min_send_rate is judged after a 5 s grace: a body that comes 7 s
    # after its head must not make the client look like a slow reader
    body = b"y" * 1000
    up = split_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
                        [body], 7.0)
    port = setup(up, limits={"min_send_rate": "1KiB"}, timeout="20s")
    c = Client(port, timeout=15.0)
    r = c.request("GET", "/")
    eq(r.status, 200, "status")
    eq(r.body, body, "body")


def close_request_then_more(port, wait):
    """Sends a Connection: close request, then more requests every 10 ms
    while it reads the response to the end of the stream, starting after
    `wait` seconds; returns the response. One thread does both (a TLS
    connection is not to be used by two threads at once); a send that
    would block is skipped."""
    c = Client(port, timeout=5.0)
    c.send(build_request("GET", "/", headers=[("Connection", "close")]))
    more = b"GET /more HTTP/1.1\r\nHost: a\r\n\r\n"
    sending = True
    t0 = time.monotonic()
    try:
        while not c.eof:
            check(time.monotonic() - t0 < 5.0, "response not read to the "
                  "end in 5s (%d bytes)" % len(c.buf))
            if sending:
                c.sock.settimeout(0)
                try:
                    c.sock.send(more)
                except WOULD_BLOCK:
                    pass
                except OSError:
                    sending = False
                finally:
                    c.sock.settimeout(5.0)
            if time.monotonic() - t0 < wait:
                time.sleep(0.01)
            elif c.has_data(0.01):
                c.fill_now()
        return c.read_response()
    finally:
        c.close()


@test
def last_response_before_close_arrives_whole():
    body = os.urandom(300000)
    up = split_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                        % len(body), [body], 0.05)
    port = setup(up)
    for i in range(20):
        c = Client(port, timeout=5.0)
        r = c.request("GET", "/", headers=[("Connection", "close")])
        eq(r.status, 200, "status %d" % i)
        eq(r.body, body, "body %d" % i)
        check(c.wait_closed(2.0), "connection %d not closed" % i)
    # a client that sends more after its Connection: close request: the
    # response must still arrive in full
    r = close_request_then_more(port, 0.0)
    eq(r.status, 200, "status with input after Connection: close")
    eq(r.body, body, "body with input after Connection: close")


@test
def last_response_to_a_reader_that_waits_and_sends_more_arrives_whole():
    # as above, but the client reads only after a pause: when sluice has
    # written the last bytes, part of them is not even sent (the client's
    # window is full), and input it did not read made close() a reset
    # that dropped them (114,645 of 300,000 bytes arrived, every time).
    # sluice now lingers while bytes are unsent.
    body = os.urandom(300000)
    up = split_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                        % len(body), [body], 0.0)
    port = setup(up)
    for i in range(3):
        r = close_request_then_more(port, 0.3)
        eq(r.status, 200, "status %d" % i)
        eq(r.body, body, "body %d" % i)


@test
def bulk_body_part_is_not_held_back_for_the_rest():
    # 100 KiB of a 200 KiB body, then a 1 s pause. A write with MSG_MORE
    # (more of the body is due) would leave its last partial segment in
    # sluice's kernel queue, unsent, for up to 200 ms: none may be there
    # while the upstream pauses
    part = b"p" * (100 << 10)
    up = split_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                        % (2 * len(part)), [part, part], 1.0)
    port = setup(up)
    c = Client(port, timeout=5.0)
    c.send(build_request("GET", "/"))
    got = c.sock.recv(1 << 20)
    check(got, "sluice closed the connection")
    c.sock.setblocking(False)
    until = time.monotonic() + 0.1
    while time.monotonic() < until:
        try:
            got += c.sock.recv(1 << 20)
        except WOULD_BLOCK:
            time.sleep(0.005)
    eq(sluice_tcp_info(port, c.sock, "notsent"), 0,
       "bytes left unsent in sluice's socket while the upstream pauses")
    c.sock.setblocking(True)
    end = got.find(b"\r\n\r\n")
    check(end != -1, "response head")
    rest = 2 * len(part) - (len(got) - end - 4)
    while rest > 0:
        d = c.sock.recv(1 << 20)
        check(d, "sluice closed the connection")
        rest -= len(d)
    eq(rest, 0, "body bytes")


def big_upstream(n):
    body = b"z" * n
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n
    return split_upstream(head, [body], 0)


@test
def fast_reader_earns_a_bigger_send_buffer():
    # buffer_bytes 64 KiB: SO_SNDBUF starts there and may double 3 times,
    # once for each stall that ends within 100 ms. A loaded machine (a
    # CI run beside benchmarks, ASan) starves the reader too, and fewer
    # than three of a 4 MiB download's twenty-odd stalls ended in time
    # once (524,288 bytes): 16 MiB gives it about eighty
    n = 16 << 20
    port = setup(big_upstream(n), limits={"buffer_bytes": "64KiB"})
    c = Client(port, timeout=5.0)
    c.send(build_request("GET", "/"))
    got = read_in_bursts(c.sock, n)
    check(got.startswith(b"HTTP/1.1 200 OK\r\n"), "status line")
    eq(sluice_sndbuf(port, c.sock), kernel_sndbuf(512 << 10),
       "send buffer after a fast 4 MiB download (64 KiB doubled 3 times)")


@test
def slow_reader_keeps_the_small_send_buffer():
    # a slow reader with a small receive window, as slowhttptest -X makes
    # them: its side never takes data fast, so its stalls never end fast.
    # (Growth measures the client's TCP, not its application: behind a
    # large window a slow application may earn a doubling or two, which
    # the per-worker budget bounds.)
    n = 4 << 20
    port = setup(big_upstream(n), limits={"buffer_bytes": "64KiB"})
    s = Client(port, timeout=5.0, rcvbuf=4096).sock
    s.sendall(build_request("GET", "/"))
    got = 0
    for _ in range(25):            # about 40 KiB/s for 2.5 s
        d = s.recv(4096)
        check(d, "sluice closed the connection")
        got += len(d)
        time.sleep(0.1)
    check(got < n, "the slow reader got the whole body")
    eq(sluice_sndbuf(port, s), kernel_sndbuf(64 << 10),
       "send buffer of a slow reader")
    s.close()


if __name__ == "__main__":
    main()
