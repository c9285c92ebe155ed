# SPDX-License-Identifier: MIT
"""Per-connection budgets of a listener: header_timeout (a deadline, not an
inactivity timer), body_timeout, send_timeout, idle_timeout, max_uri_bytes,
max_header_bytes, max_headers, max_body_bytes (Content-Length and chunked),
max_requests."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Upstream, assert_error,  # noqa: E402
                    build_request, check, chunked, eq, main, make_config,
                    read_response, start_sluice, test, wait_until)


def setup(limits, handler=None, **kw):
    up = Upstream("a", handler, **kw)
    cfg, port = make_config({"a": [up]}, limits=limits)
    sl = start_sluice(cfg)
    return up, sl, port


def send_quietly(c, data):
    try:
        c.send(data)
        return True
    except OSError:
        return False


@test
def header_timeout_is_a_deadline_even_when_bytes_trickle():
    up, sl, port = setup({"header_timeout": "1s"})
    c = Client(port)
    t0 = time.monotonic()
    c.send(b"GET /slow HTTP/1.1\r\nHost: a\r\n")
    i = 0
    while time.monotonic() - t0 < 5.0:
        if c.has_data(0.2):
            break
        if not send_quietly(c, b"X-Trickle-%d: v\r\n" % i):
            break
        i += 1
    dt = time.monotonic() - t0
    r = read_response(c)
    assert_error(r, 408, "request_timeout", close=True)
    check(0.8 <= dt <= 2.5, "408 after %.2fs with header_timeout 1s while "
          "bytes trickled every 0.2s" % dt)
    check(c.wait_closed(2.0), "connection not closed after 408")
    eq(up.bytes_received, 0, "bytes at upstream")


@test
def header_timeout_partial_head():
    up, sl, port = setup({"header_timeout": "500ms"})
    c = Client(port)
    t0 = time.monotonic()
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
    r = read_response(c)
    dt = time.monotonic() - t0
    assert_error(r, 408, "request_timeout", close=True)
    check(0.3 <= dt <= 2.0, "408 after %.2fs (header_timeout 500ms)" % dt)
    check(c.wait_closed(2.0), "connection not closed after 408")


@test
def header_timeout_starts_at_first_byte_not_during_idle():
    up, sl, port = setup({"header_timeout": "500ms", "idle_timeout": "5s"})
    c = Client(port)
    eq(c.request("GET", "/1").status, 200, "first request")
    time.sleep(1.2)        # idle keep-alive wait: not the header budget
    eq(c.request("GET", "/2").status, 200, "request after 1.2s idle")


@test
def body_timeout_when_body_stalls():
    up, sl, port = setup({"body_timeout": "1s"})
    c = Client(port)
    t0 = time.monotonic()
    c.send(build_request("POST", "/b", [("Content-Length", "100")])
           + b"0123456789")
    c.settimeout(5)
    r = read_response(c, "POST")
    dt = time.monotonic() - t0
    assert_error(r, 408, "request_timeout", close=True)
    check(0.8 <= dt <= 2.5, "408 after %.2fs (body_timeout 1s)" % dt)
    check(c.wait_closed(2.0), "connection not closed after 408")
    # one name for one event: the access log's error is body_timeout, and
    # the error log's line said "408 request_timeout" (issue 41)
    check(wait_until(lambda: "408 body_timeout" in sl.stderr(), 3.0),
          "no \"408 body_timeout\" line:\n" + sl.stderr()[-1500:])
    check("408 request_timeout" not in sl.stderr(), "the old name logged")


@test
def body_timeout_chunked_stall():
    up, sl, port = setup({"body_timeout": "1s"})
    c = Client(port)
    t0 = time.monotonic()
    c.send(build_request("POST", "/b", [("Transfer-Encoding", "chunked")])
           + b"5\r\nhello\r\n")
    r = read_response(c, "POST")
    dt = time.monotonic() - t0
    assert_error(r, 408, "request_timeout", close=True)
    check(0.8 <= dt <= 2.5, "408 after %.2fs (body_timeout 1s)" % dt)


@test
def body_timeout_is_a_gap_not_a_deadline():
    up, sl, port = setup({"body_timeout": "1s"})
    c = Client(port)
    body = b"abcdef"
    c.send(build_request("POST", "/trickle", [("Content-Length",
                                               str(len(body)))]))
    for b in body:
        time.sleep(0.4)     # 2.4 s in total, never more than 0.4 s of gap
        c.send(bytes([b]))
    r = read_response(c, "POST")
    eq(r.status, 200, "status of a slowly trickled body")
    eq(up.requests[0].body, body, "body")


@test
def max_uri_bytes_414():
    up, sl, port = setup({"max_uri_bytes": "64B"})
    c = Client(port)
    r = c.request("GET", "/" + "a" * 63)
    eq(r.status, 200, "target of exactly 64 bytes")
    c.close()
    c = Client(port)
    r = c.request("GET", "/" + "a" * 64)
    assert_error(r, 414, "uri_too_long", close=True)
    check(c.wait_closed(2.0), "connection not closed after 414")
    c = Client(port)
    r = c.request("GET", "/" + "a" * 100000)
    assert_error(r, 414, "uri_too_long", close=True)
    eq(len(up.requests), 1, "requests at upstream")


@test
def max_header_bytes_431():
    up, sl, port = setup({"max_header_bytes": "1KiB",
                          "max_uri_bytes": "512B"})
    c = Client(port)
    r = c.request("GET", "/", [("X-Fill", "f" * 600)])
    eq(r.status, 200, "head of ~650 bytes")
    c.close()
    c = Client(port)
    r = c.request("GET", "/", [("X-Fill", "f" * 2000)])
    assert_error(r, 431, "header_too_large", close=True)
    check(c.wait_closed(2.0), "connection not closed after 431")
    c = Client(port)
    r = c.request("GET", "/", [("X-F%d" % i, "v" * 40) for i in range(30)])
    assert_error(r, 431, "header_too_large", close=True)
    eq(len(up.requests), 1, "requests at upstream")


@test
def max_headers_431():
    up, sl, port = setup({"max_headers": 10})
    c = Client(port)
    r = c.request("GET", "/", [("X-H%d" % i, "v") for i in range(9)])
    eq(r.status, 200, "Host + 9 fields = 10")
    c.close()
    c = Client(port)
    r = c.request("GET", "/", [("X-H%d" % i, "v") for i in range(10)])
    assert_error(r, 431, "header_too_large", close=True)
    check(c.wait_closed(2.0), "connection not closed after 431")
    eq(len(up.requests), 1, "requests at upstream")


@test
def max_body_bytes_content_length_413():
    up, sl, port = setup({"max_body_bytes": "1KiB"})
    c = Client(port)
    r = c.request("POST", "/", body=b"x" * 1024)
    eq(r.status, 200, "body of exactly 1 KiB")
    c.close()
    c = Client(port)
    r = c.request("POST", "/", body=b"x" * 1025)
    assert_error(r, 413, "payload_too_large", close=True)
    check(c.wait_closed(2.0), "connection not closed after 413")
    c = Client(port)
    c.send(build_request("POST", "/", [("Content-Length", "1000000000")]))
    r = read_response(c, "POST")
    assert_error(r, 413, "payload_too_large", close=True)
    eq(len(up.requests), 1, "requests at upstream")


@test
def max_body_bytes_chunked_413():
    up, sl, port = setup({"max_body_bytes": "1KiB"})
    c = Client(port)
    c.send(build_request("POST", "/", [("Transfer-Encoding", "chunked")])
           + chunked(b"y" * 1024, 300))
    r = read_response(c, "POST")
    eq(r.status, 200, "chunked body of exactly 1 KiB")
    eq(up.requests[0].body, b"y" * 1024, "body")
    c.close()
    c = Client(port)
    c.send(build_request("POST", "/", [("Transfer-Encoding", "chunked")])
           + chunked(b"y" * 1025, 600))
    r = read_response(c, "POST")
    assert_error(r, 413, "payload_too_large", close=True)
    check(c.wait_closed(2.0), "connection not closed after 413")
    # one huge chunk whose bytes run past the limit
    c = Client(port)
    c.send(build_request("POST", "/", [("Transfer-Encoding", "chunked")])
           + b"100000\r\n" + b"z" * 2000)
    r = read_response(c, "POST")
    assert_error(r, 413, "payload_too_large", close=True)
    eq(len(up.requests), 1, "complete requests at upstream")


@test
def max_body_bytes_chunk_size_announced_too_large():
    # the announced size alone is enough: 413 at once, without waiting for
    # the bytes (a client that then stalls must not hold the connection
    # until body_timeout)
    up, sl, port = setup({"max_body_bytes": "1KiB", "body_timeout": "5s"})
    c = Client(port)
    t0 = time.monotonic()
    c.send(build_request("POST", "/", [("Transfer-Encoding", "chunked")])
           + b"401\r\n")
    r = read_response(c, "POST")
    assert_error(r, 413, "payload_too_large", close=True)
    check(time.monotonic() - t0 < 2.0, "413 waited for the chunk's bytes")
    check(c.wait_closed(2.0), "connection not closed after 413")
    c.close()
    c = Client(port)
    c.send(build_request("POST", "/", [("Transfer-Encoding", "chunked")])
           + b"200\r\n" + b"a" * 0x200 + b"\r\n201\r\n")
    r = read_response(c, "POST")
    assert_error(r, 413, "payload_too_large", close=True)
    check(time.monotonic() - t0 < 4.0, "413 waited for the chunk's bytes")


@test
def max_body_bytes_zero_is_unlimited():
    up, sl, port = setup({"max_body_bytes": "0B"})
    c = Client(port, timeout=15)
    data = os.urandom(17 << 20)     # above the 16 MiB default
    r = c.request("POST", "/", body=data)
    eq(r.status, 200, "status with max_body_bytes 0B")
    eq(up.requests[0].body_len, len(data), "length")


@test
def idle_timeout_closes_keepalive_connection():
    up, sl, port = setup({"idle_timeout": "500ms"})
    c = Client(port)
    eq(c.request("GET", "/").status, 200, "status")
    t0 = time.monotonic()
    closed = c.wait_closed(3.0)
    dt = time.monotonic() - t0
    check(closed, "idle keep-alive connection not closed within 3s "
          "(idle_timeout 500ms)")
    check(0.35 <= dt <= 2.0, "closed after %.2fs (idle_timeout 500ms)" % dt)
    # a connection that never sends anything is closed too
    c2 = Client(port)
    check(c2.wait_closed(3.0), "silent new connection not closed")


@test
def idle_timeout_not_applied_while_busy():
    # a response slower than idle_timeout is not cut off
    up, sl, port = setup({"idle_timeout": "300ms"},
                         handler=lambda req: Reply(200, b"late", delay=1.0))
    c = Client(port)
    r = c.request("GET", "/slow")
    eq(r.status, 200, "status")
    eq(r.body, b"late", "body")


@test
def max_requests_per_client_connection():
    up, sl, port = setup({"max_requests": 3})
    c = Client(port)
    for i in range(1, 4):
        r = c.request("GET", "/%d" % i)
        eq(r.status, 200, "status of #%d" % i)
        if i < 3:
            check(not r.wants_close(), "Connection: close before the "
                  "limit (#%d)" % i)
        else:
            check(r.wants_close(), "no Connection: close on request 3 of "
                  "max_requests 3: %r" % r.headers)
    check(c.wait_closed(2.0), "connection not closed after max_requests")
    # pipelined: exactly 3 answered
    c = Client(port)
    c.send(b"".join(build_request("GET", "/p%d" % i) for i in range(5)))
    for i in range(3):
        r = read_response(c)
        eq(r.status, 200, "pipelined #%d" % i)
    check(r.wants_close(), "third pipelined response lacks "
          "Connection: close")
    check(c.wait_closed(2.0), "connection not closed")
    eq(c.buf, bytearray(), "bytes after the third response")
    eq(up.paths()[3:], ["/p0", "/p1", "/p2"], "requests at upstream")
    # the last request answered locally (417 keeps a connection) still
    # ends it: nothing pipelined after it is processed
    c = Client(port)
    c.send(build_request("GET", "/q0") + build_request("GET", "/q1") +
           b"GET /q2 HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n" +
           build_request("GET", "/q3"))
    for want in (200, 200, 417):
        r = read_response(c)
        eq(r.status, want, "pipelined status")
    check(r.wants_close(), "417 as request 3 of max_requests 3 lacks "
          "Connection: close: %r" % r.headers)
    check(c.wait_closed(2.0), "connection not closed after the 417")
    eq(up.paths()[6:], ["/q0", "/q1"], "requests at upstream")


@test
def send_timeout_client_not_reading():
    big = b"s" * (40 << 20)
    up, sl, port = setup({"send_timeout": "1s"},
                         handler=lambda req: Reply(200, big),
                         keep_body=False)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(build_request("GET", "/big"))
    time.sleep(3.0)         # read nothing
    got = 0
    closed = False
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5.0:
        try:
            d = s.recv(1 << 20)
        except ConnectionResetError:
            closed = True
            break
        except socket.timeout:
            break
        if not d:
            closed = True
            break
        got += len(d)
    s.close()
    check(closed, "connection not closed (read %d bytes)" % got)
    check(got < len(big), "the whole response arrived although the client "
          "stalled longer than send_timeout")


if __name__ == "__main__":
    main()
