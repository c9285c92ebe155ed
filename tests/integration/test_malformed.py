# SPDX-License-Identifier: MIT
"""Malformed and smuggling requests get 400 (or their own status) and never
reach the upstream: the upstream sees no bytes at all."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Upstream, assert_error, build_request,  # noqa
                    check, eq, main, make_config, read_response,
                    start_sluice, test)


def setup():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]})
    sl = start_sluice(cfg)
    return up, sl, port


def expect_rejected(port, up, raw, status, code, close, method="GET"):
    c = Client(port)
    c.send(raw)
    r = read_response(c, method)
    assert_error(r, status, code, close=close)
    if close:
        check(c.wait_closed(2.0), "connection not closed after %d" % status)
    time.sleep(0.15)
    eq(up.bytes_received, 0, "bytes the upstream received for %r" % raw[:80])
    return c, r


BAD_400 = [
    ("cl_and_te",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("te_and_cl",
     b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n"),
    ("duplicate_cl_same",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     b"Content-Length: 5\r\n\r\nhello"),
    ("duplicate_cl_differ",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello!"),
    ("cl_list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"
     b"hello"),
    ("cl_not_a_number",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n"),
    ("cl_negative",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
    ("cl_overflow", b"POST / HTTP/1.1\r\nHost: a\r\n"
     b"Content-Length: 99999999999999999999999\r\n\r\n"),
    ("bad_chunk_size",
     b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nhello\r\n0\r\n\r\n"),
    ("chunk_size_overflow",
     b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"1ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
    ("chunk_missing_crlf",
     b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhelloXX0\r\n\r\n"),
    ("bare_lf_everywhere", b"GET / HTTP/1.1\nHost: a\n\n"),
    ("bare_lf_in_header", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\n\r\n"),
    ("bare_cr_in_header", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"),
    ("obs_fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n"),
    ("obs_fold_tab", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"),
    ("missing_host_http11", b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n"),
    ("duplicate_host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("duplicate_host_same", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
    ("space_before_colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
    ("space_before_colon_other",
     b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n"),
    ("nul_in_value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n"),
    ("ctl_in_value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n"),
    ("bad_field_name", b"GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n"),
    ("empty_field_name", b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"),
    ("no_colon", b"GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n"),
    ("double_space_request_line", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("extra_token_request_line", b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n"),
    ("not_origin_form", b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("ctl_in_target", b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("bad_version_token", b"GET / HTTX/1.1\r\nHost: a\r\n\r\n"),
    ("bad_method_char", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("te_in_http10",
     b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("bad_host_value", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
]


def make_400(name, raw):
    def t():
        up, sl, port = setup()
        method = raw.split(b" ", 1)[0].decode("latin-1")
        expect_rejected(port, up, raw, 400, "bad_request", True,
                        method if method in ("GET", "POST") else "GET")
    t.__name__ = "rejects_400_" + name
    return test(t)


for _n, _raw in BAD_400:
    make_400(_n, _raw)


@test
def all_400_cases_on_one_daemon_upstream_sees_nothing():
    # the same cases again against one long-running daemon, also checking
    # the daemon survives each of them
    up, sl, port = setup()
    for name, raw in BAD_400:
        c = Client(port)
        c.send(raw)
        r = read_response(c)
        eq(r.status, 400, "status for %s" % name)
        c.close()
    time.sleep(0.2)
    eq(up.bytes_received, 0, "bytes at upstream")
    eq(Client(port).request("GET", "/fine").status, 200,
       "daemon still serves")


@test
def smuggled_request_never_reaches_upstream():
    up, sl, port = setup()
    c = Client(port)
    c.send(b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
           b"POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
           b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
    r = read_response(c)
    eq(r.status, 200, "first pipelined request")
    r = read_response(c, "POST")
    assert_error(r, 400, "bad_request", close=True)
    check(c.wait_closed(2.0), "connection not closed")
    time.sleep(0.2)
    eq(up.paths(), ["/first"], "requests seen by the upstream")


@test
def empty_lines_before_a_request_line_are_ignored():
    # RFC 9112 section 2.2: a server SHOULD ignore at least one empty line
    # (CRLF) received before a request line; a bare LF there is a 400
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, limits={"idle_timeout": "1s"})
    start_sluice(cfg)
    c = Client(port)
    c.send(b"\r\n\r\n" + build_request("GET", "/first"))
    eq(read_response(c).status, 200, "after two empty lines")
    # between keep-alive requests, and split across reads
    c.send(b"\r")
    time.sleep(0.05)
    c.send(b"\n\r\n" + build_request("GET", "/second"))
    eq(read_response(c).status, 200, "after empty lines in pieces")
    eq([r.target for r in up.requests], ["/first", "/second"],
       "the upstream sees the requests, no empty line")
    check(b"\r\n\r\nGET" not in up.requests[0].raw_head,
          "empty lines reached the upstream")
    c.close()
    # a bare LF before the request line stays a 400
    c = Client(port)
    c.send(b"\n" + build_request("GET", "/lf"))
    r = read_response(c)
    assert_error(r, 400, "bad_request", close=True)
    # nothing but empty lines: an idle connection, closed at idle_timeout
    c = Client(port)
    c.send(b"\r\n" * 10)
    check(c.wait_closed(5.0), "a connection sending only empty lines "
          "outlived idle_timeout")
    eq(len(up.requests), 2, "requests at the upstream")


@test
def transfer_encoding_gzip_501():
    up, sl, port = setup()
    expect_rejected(port, up, b"POST / HTTP/1.1\r\nHost: a\r\n"
                    b"Transfer-Encoding: gzip\r\n\r\n", 501,
                    "not_implemented", True, "POST")
    expect_rejected(port, up, b"POST / HTTP/1.1\r\nHost: a\r\n"
                    b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                    501, "not_implemented", True, "POST")


@test
def expect_other_than_100_continue_417_keeps_connection():
    up, sl, port = setup()
    c, r = expect_rejected(port, up, b"GET / HTTP/1.1\r\nHost: a\r\n"
                           b"Expect: foo\r\n\r\n", 417,
                           "expectation_failed", False)
    r = c.request("GET", "/after")
    eq(r.status, 200, "request after 417 on the same connection")
    eq(up.paths(), ["/after"], "upstream requests")


@test
def expect_417_still_closes_when_the_request_asks_to():
    # found by a network fuzz: the 417 path kept the connection and served
    # the next pipelined request, "Connection: close" or HTTP/1.0 or not
    up, sl, port = setup()
    nxt = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    expect_rejected(port, up, b"GET / HTTP/1.1\r\nHost: a\r\n"
                    b"Connection: close\r\nExpect: foo\r\n\r\n" + nxt,
                    417, "expectation_failed", True)
    expect_rejected(port, up, b"GET / HTTP/1.0\r\nExpect: foo\r\n\r\n" +
                    nxt, 417, "expectation_failed", True)
    # HTTP/1.0 with keep-alive keeps it, and is told so
    c, r = expect_rejected(port, up, b"GET / HTTP/1.0\r\n"
                           b"Connection: keep-alive\r\nExpect: foo\r\n\r\n",
                           417, "expectation_failed", False)
    eq((r.header("connection") or "").lower(), "keep-alive",
       "Connection of a 417 to an HTTP/1.0 keep-alive request")


@test
def http10_keepalive_and_close_closes():
    # "close" wins over "keep-alive" in any version (RFC 9112 section
    # 9.3): the pipelined request after it must not be processed
    nxt = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    for conn in (b"Connection: keep-alive, close\r\n",
                 b"Connection: keep-alive\r\nConnection: close\r\n"):
        up, sl, port = setup()
        c = Client(port)
        c.send(b"GET /first HTTP/1.0\r\n" + conn + b"\r\n" + nxt)
        r = read_response(c)
        eq(r.status, 200, "status with %r" % conn)
        check(r.wants_close(), "response lacks Connection: close: %r" %
              r.headers)
        check(c.wait_closed(2.0), "connection not closed with %r" % conn)
        eq(up.paths(), ["/first"], "upstream requests with %r" % conn)
        sl.stop()
        up.stop()


@test
def expect_417_to_head_has_no_body():
    # the connection stays open after a 417, so a body after a HEAD
    # response would be read as the start of the next response
    up, sl, port = setup()
    c = Client(port)
    c.send(b"HEAD / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n")
    r = read_response(c, "HEAD")
    eq(r.status, 417, "status of HEAD with Expect: foo")
    check(not r.wants_close(), "a 417 closes the connection")
    check(r.header("x-request-id"), "417 without X-Request-Id")
    r = c.request("GET", "/after")
    eq(r.status, 200, "request after a 417 to HEAD on the same connection")
    eq(up.paths(), ["/after"], "upstream requests")


@test
def connect_405_with_allow():
    up, sl, port = setup()
    c, r = expect_rejected(port, up, b"CONNECT example.com:443 HTTP/1.1\r\n"
                           b"Host: example.com:443\r\n\r\n", 405,
                           "method_not_allowed", True)
    allow = r.header("allow")
    check(allow, "405 without Allow: %r" % r.headers)
    toks = [t.strip().upper() for t in allow.split(",")]
    check("GET" in toks, "Allow does not list GET: %r" % allow)
    check("CONNECT" not in toks, "Allow lists CONNECT: %r" % allow)


@test
def http2_request_line_505():
    up, sl, port = setup()
    expect_rejected(port, up, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505,
                    "version_not_supported", True)
    expect_rejected(port, up, b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505,
                    "version_not_supported", True)


@test
def garbage_and_tls_handshake_get_400_or_close():
    up, sl, port = setup()
    # a TLS ClientHello on the plaintext port
    hello = bytes.fromhex("16030100a1010000") + b"\x03\x03" + b"\x00" * 40
    for raw in (hello, b"\x00\x01\x02\x03\r\n\r\n", b"HELLO\r\n\r\n"):
        c = Client(port)
        c.send(raw)
        c.wait_closed(3.0)
        if c.buf:
            r = read_response(c)
            eq(r.status, 400, "status for garbage %r" % raw[:10])
        check(c.eof, "garbage %r: connection not closed" % raw[:10])
    time.sleep(0.1)
    eq(up.bytes_received, 0, "bytes at upstream")
    eq(Client(port).request("GET", "/").status, 200, "daemon still serves")


@test
def huge_chunk_size_line_is_rejected():
    up, sl, port = setup()
    c = Client(port)
    c.send(build_request("POST", "/", [("Transfer-Encoding", "chunked")])
           + b"1;" + b"e" * 100000 + b"\r\n")
    c.wait_closed(3.0)
    check(c.eof, "connection not closed after an endless chunk extension")
    if c.buf:
        r = read_response(c, "POST")
        check(r.status in (400, 413, 431), "status %d" % r.status)


if __name__ == "__main__":
    main()
