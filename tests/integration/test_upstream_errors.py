# SPDX-License-Identifier: MIT
"""Upstream failures: refused (502), never answers (504), connect timeout
(504), reset / EOF / malformed response (502, connection not reused),
truncated bodies, upstreams that close pooled connections."""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Blackhole, Client, Closed, Reply, Upstream,  # noqa
                    assert_error, build_request, check, eq, free_port, main,
                    make_config, read_response, start_sluice, test,
                    wait_until)


@test
def upstream_refused_502_keeps_connection():
    dead = free_port()
    good = Upstream("good")
    cfg, port = make_config({"dead": [dead], "good": [good]}, routes=[
        {"name": "dead", "match": {"path_prefix": "/dead"},
         "cluster": "dead"},
        {"name": "good", "cluster": "good"}])
    start_sluice(cfg)
    c = Client(port)
    t0 = time.monotonic()
    r = c.request("GET", "/dead/1")
    check(time.monotonic() - t0 < 1.5, "refused connect took long")
    assert_error(r, 502, "upstream_connect_failed", close=False)
    r = c.request("POST", "/dead/2", body=b"x" * 5000)
    assert_error(r, 502, "upstream_connect_failed", close=False)
    r = c.request("GET", "/ok")
    eq(r.status, 200, "request after 502 on the same connection")


@test
def upstream_never_answers_504():
    hang = Upstream("hang", handler=lambda req: Reply(action="hang"))
    good = Upstream("good")
    cfg, port = make_config({"hang": [hang], "good": [good]}, routes=[
        {"name": "hang", "match": {"path_prefix": "/hang"},
         "cluster": "hang", "timeout": "500ms"},
        {"name": "good", "cluster": "good"}])
    start_sluice(cfg)
    c = Client(port)
    t0 = time.monotonic()
    r = c.request("GET", "/hang")
    dt = time.monotonic() - t0
    assert_error(r, 504, "upstream_timeout", close=False)
    check(0.4 <= dt <= 2.0, "504 after %.2fs with route timeout 500ms" % dt)
    check(hang.conns and hang.conns[0].closed_by_peer.wait(2.0),
          "the timed-out upstream connection was not closed")
    r = c.request("GET", "/fine")
    eq(r.status, 200, "request after 504 on the same connection")
    # the timed-out connection is never reused
    r = c.request("GET", "/hang2")
    assert_error(r, 504, "upstream_timeout", close=False)
    eq(hang.accepts, 2, "accepts at the hanging upstream")


@test
def route_timeout_not_hit_by_slow_but_timely_upstream():
    up = Upstream("slow", handler=lambda req: Reply(200, b"late", delay=0.6))
    cfg, port = make_config({"slow": [up]}, routes=[
        {"name": "slow", "cluster": "slow", "timeout": "2s"}])
    start_sluice(cfg)
    r = Client(port).request("GET", "/")
    eq(r.status, 200, "status")
    eq(r.body, b"late", "body")


@test
def route_timeout_covers_head_not_body():
    # the head arrives in time; the body trickles for longer than the
    # route timeout: the response completes
    class Slow(Upstream):
        def _reply(self, conn, bs, req, r):
            s = conn.sock
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
            for b in b"abcdef":
                time.sleep(0.2)
                s.sendall(bytes([b]))
            return True
    up = Slow("slowbody")
    cfg, port = make_config({"s": [up]}, routes=[
        {"name": "s", "cluster": "s", "timeout": "500ms"}])
    start_sluice(cfg)
    r = Client(port).request("GET", "/")
    eq(r.status, 200, "status")
    eq(r.body, b"abcdef", "body delivered after the route timeout")


@test
def upstream_connect_timeout_504():
    bh = Blackhole()
    if not bh.works():
        raise AssertionError("test setup: cannot make a connect hang")
    cfg, port = make_config({"bh": [bh.addr]}, cluster_opts={
        "bh": {"connect_timeout": "300ms"}})
    start_sluice(cfg)
    c = Client(port)
    t0 = time.monotonic()
    r = c.request("GET", "/")
    dt = time.monotonic() - t0
    assert_error(r, 504, "upstream_connect_timeout", close=False)
    check(0.2 <= dt <= 2.0, "504 after %.2fs with connect_timeout 300ms"
          % dt)


def flaky(first_reply):
    """First request gets first_reply, later ones a normal answer."""
    state = {"n": 0}

    def h(req):
        state["n"] += 1
        if state["n"] == 1:
            return first_reply
        return Reply(200, b"fine")
    return h


def check_502_not_reused(reply, code):
    # a POST: a GET that meets a reset is retried (test_reliability.py)
    up = Upstream("a", handler=flaky(reply))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    r = c.request("POST", "/first", body=b"charge")
    assert_error(r, 502, code, close=False)
    check(wait_until(lambda: up.conns[0].closed.is_set(), 2.0),
          "sluice kept the upstream connection that failed open")
    r = c.request("GET", "/second")
    eq(r.status, 200, "request after 502 on the same client connection")
    eq(r.body, b"fine", "body")
    eq(up.accepts, 2, "upstream accepts (failed connection not reused)")
    eq(up.conns[1].nrequests, 1, "requests on the new upstream connection")


@test
def upstream_reset_502():
    check_502_not_reused(Reply(action="reset"), "upstream_reset")


@test
def upstream_eof_before_response_502():
    check_502_not_reused(Reply(action="close"), "upstream_reset")


@test
def upstream_partial_head_then_eof_502():
    check_502_not_reused(Reply(action="raw", close=True,
                               raw=b"HTTP/1.1 200 OK\r\nContent-Le"),
                         "upstream_reset")


def forged_head_block():
    """A head block (src/http/hblock.h: the form an HTTP/2 upstream's codec
    hands a head over in, its values checked by that codec) sent by an
    HTTP/1.1 upstream: a 200 with no body whose field value holds CR LF.
    sluice took any answer whose first byte is the block's mark (a NUL) as
    a block, whatever the upstream, and wrote the value to the client as
    it was: a header line of the upstream's own making (found by the
    session 41 reader's review)."""
    recs = b""
    for n, v in ((b"x-a", b"1\r\nInjected: yes"),):
        recs += struct.pack("<HI", len(n), len(v)) + n + v
    total = 32 + len(recs)
    # mark, body (none), nfields, status, digits, flags, len, text_len,
    # length
    return struct.pack("<BBHH3sBxxIIxxxxQ", 0, 0, 1, 200, b"200", 0, total,
                       0, 0) + recs


BAD_RESPONSES = [
    ("garbage", b"NOT HTTP AT ALL\r\n\r\n"),
    ("cl_and_te", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("two_cl", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello!"),
    ("te_gzip", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
    ("bad_status", b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
    ("status_999", b"HTTP/1.1 999 Internal\r\nContent-Length: 0\r\n\r\n"),
    ("bare_lf", b"HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
    ("obs_fold", b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n"
     b"Content-Length: 0\r\n\r\n"),
    ("bad_cl", b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n"),
    ("space_before_colon", b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"),
    ("http2_version", b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("head_block_from_http1", forged_head_block()),
]


def make_bad_response(name, raw):
    def t():
        check_502_not_reused(Reply(action="raw", raw=raw),
                             "upstream_bad_response")
    t.__name__ = "upstream_malformed_response_502_" + name
    return test(t)


for _n, _raw in BAD_RESPONSES:
    make_bad_response(_n, _raw)


@test
def upstream_equal_duplicate_content_length_forwarded_once():
    # accepted (RFC 9110 section 8.6 lets a recipient keep one value),
    # but a client must never see the list: strict clients reject it
    up = Upstream("a", handler=lambda req: Reply(
        action="raw", raw=b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
        b"content-length: 003\r\n\r\nabc"))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    for method in ("GET", "HEAD", "GET"):
        c.send(build_request(method, "/"))
        r = read_response(c, method)
        eq(r.status, 200, "status of %s" % method)
        cls = r.headers.get_all("content-length")
        eq(cls, ["3"], "Content-Length fields the client got for %s" %
           method)
        eq(r.body, b"" if method == "HEAD" else b"abc", "body")


@test
def upstream_bad_chunked_body_closes_client():
    # the head was already forwarded: sluice cannot send a 502 any more;
    # it must cut the client connection (not hang, not pretend success)
    up = Upstream("a", handler=flaky(Reply(
        action="raw", raw=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n5\r\nhello\r\nZZ\r\n")))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    c.send(build_request("GET", "/"))
    complete = True
    try:
        r = read_response(c)
    except (Closed, AssertionError, ValueError):
        complete = False
    if complete:
        eq(r.status, 502, "complete response to a broken chunked upstream")
    check(c.wait_closed(3.0) or complete,
          "client connection neither answered nor closed")
    c2 = Client(port)
    eq(c2.request("GET", "/").status, 200, "next request")
    eq(up.accepts, 2, "broken upstream connection not reused")


@test
def upstream_truncated_body_closes_client():
    up = Upstream("a", handler=flaky(Reply(
        action="raw", close=True,
        raw=b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    c.send(build_request("GET", "/"))
    r = None
    try:
        r = read_response(c)
    except Closed:
        pass
    check(r is None, "a truncated upstream body was delivered as complete: "
          "%r" % r)
    check(c.eof, "client connection not closed after a truncated body")
    eq(Client(port).request("GET", "/").status, 200, "next request")
    eq(up.accepts, 2, "accepts")


@test
def upstream_eof_on_pooled_connection_between_requests():
    # the upstream answers with keep-alive, then closes right away: the
    # next request must not fail
    class Closer(Upstream):
        def _reply(self, conn, bs, req, r):
            Upstream._reply(self, conn, bs, req, r)
            time.sleep(0.05)
            conn.sock.close()
            return False
    up = Closer("a")
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    for i in range(5):
        r = c.request("GET", "/%d" % i)
        eq(r.status, 200, "status of request %d" % i)
        time.sleep(0.2)
    eq(up.accepts, 5, "accepts")


@test
def upstream_error_response_passed_through():
    up = Upstream("a", handler=lambda req: Reply(
        500, b"upstream says no", [("Content-Type", "text/plain")]))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    for _ in range(2):
        r = c.request("GET", "/")
        eq(r.status, 500, "status")
        eq(r.body, b"upstream says no", "body")
    eq(up.accepts, 1, "an upstream 500 is a normal response: reused")


@test
def refused_then_up_again():
    port_up = free_port()
    cfg, port = make_config({"a": [port_up]})
    start_sluice(cfg)
    c = Client(port)
    assert_error(c.request("GET", "/"), 502, "upstream_connect_failed",
                 close=False)
    late = Upstream("late", port=port_up)
    r = c.request("GET", "/again")
    eq(r.status, 200, "request once the upstream is up")
    eq(late.accepts, 1, "accepts")


@test
def client_abort_while_waiting_for_upstream():
    up = Upstream("a", handler=lambda req: Reply(
        200, b"late " + req.target.encode(), delay=0.5))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    c.send(build_request("GET", "/abandoned"))
    check(up.wait_requests(1, 2.0), "request did not reach the upstream")
    c.close()
    time.sleep(0.8)
    c2 = Client(port)
    r = c2.request("GET", "/next")
    eq(r.status, 200, "request after a client abort")
    eq(r.body, b"late /next", "the answer belongs to the new request")


@test
def client_abort_mid_upload_upstream_connection_not_reused():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    c.send(build_request("POST", "/partial", [("Content-Length", "100000")])
           + b"p" * 1000)
    check(wait_until(lambda: up.bytes_received > 0, 2.0),
          "nothing reached the upstream")
    c.close()
    check(up.conns[0].closed_by_peer.wait(2.0), "sluice kept the upstream "
          "connection with a half-sent body")
    r = Client(port).request("GET", "/next")
    eq(r.status, 200, "request after an aborted upload")
    eq(r.json()["path"], "/next", "the answer belongs to the new request")
    eq(up.accepts, 2, "accepts")
    eq(up.paths(), ["/next"], "complete requests at upstream")


@test
def client_abort_mid_download():
    big = b"d" * (20 << 20)
    up = Upstream("a", handler=lambda req: Reply(200, big if req.target ==
                                                 "/big" else b"small"),
                  keep_body=False)
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    c.send(build_request("GET", "/big"))
    got = 0
    while got < 200000:
        got += len(c.sock.recv(65536))
    c.close()
    time.sleep(0.3)
    c2 = Client(port)
    r = c2.request("GET", "/small")
    eq(r.status, 200, "request after an aborted download")
    eq(r.body, b"small", "body")


if __name__ == "__main__":
    main()
