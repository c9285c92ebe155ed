# SPDX-License-Identifier: MIT
"""Forwarding basics: methods, HEAD/204/304, pipelining, 100-continue,
absolute-form, hop-by-hop headers, X-Forwarded-*, X-Request-Id, response
framing from the upstream, HTTP/1.0 clients, access log."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import *  # noqa: E402,F401,F403
from sltest import (Client, Reply, Upstream, check, curl,  # noqa: E402
                    eq, main, make_config, parse_curl_headers,
                    read_json_lines, sha256, start_sluice, test, tmpdir,
                    REQID_RE, build_request)


setup = one_upstream


@test
def get_via_curl():
    up, sl, port = setup()
    d = tmpdir()
    hdr = os.path.join(d, "h")
    rc, out, err = curl(["-D", hdr, "http://127.0.0.1:%d/hello?x=1" % port])
    eq(rc, 0, "curl exit status (%s)" % err)
    with open(hdr, newline="") as f:
        resps = parse_curl_headers(f.read())
    eq(resps[-1][0], 200, "status")
    j = __import__("json").loads(out)
    eq(j["upstream"], "a", "answering upstream")
    eq(j["path"], "/hello?x=1", "path seen by upstream")
    eq(j["method"], "GET", "method seen by upstream")
    check(resps[-1][1].get("x-request-id"), "response lacks X-Request-Id")


@test
def request_forwarded_verbatim():
    up, sl, port = setup()
    c = Client(port)
    body = b"payload-\x00\xff-bytes"
    r = c.request("PUT", "/a/b%20c?q=1&r=%2F", [("X-Custom", "v1"),
                                               ("X-Multi", "one"),
                                               ("X-Multi", "two"),
                                               ("Content-Type", "x/y")],
                  body, host="svc.example:8080")
    eq(r.status, 200, "status")
    eq(len(up.requests), 1, "requests at upstream")
    u = up.requests[0]
    eq(u.method, "PUT", "method")
    eq(u.target, "/a/b%20c?q=1&r=%2F", "target")
    eq(u.version, "HTTP/1.1", "upstream request version")
    eq(u.header("host"), "svc.example:8080", "Host")
    eq(u.header("x-custom"), "v1", "X-Custom")
    eq(u.headers.get_all("x-multi"), ["one", "two"],
       "repeated field kept in order")
    eq(u.header("content-type"), "x/y", "Content-Type")
    eq(u.body, body, "body")
    # a second request on the same client connection works
    r = c.request("DELETE", "/z")
    eq(r.status, 200, "second status")
    eq(up.requests[1].method, "DELETE", "second method")
    eq(up.accepts, 1, "upstream accepts")


@test
def head_response_has_no_body_and_connection_stays_usable():
    def h(req):
        return Reply(200, b"x" * 1000, [("Content-Type", "text/plain")])
    up, sl, port = setup(h)
    c = Client(port)
    r = c.request("HEAD", "/h")
    eq(r.status, 200, "HEAD status")
    eq(r.header("content-length"), "1000", "Content-Length of HEAD")
    eq(up.requests[0].method, "HEAD", "method at upstream")
    # no body bytes may follow: the next response must start right away
    r2 = c.request("GET", "/g")
    eq(r2.status, 200, "GET after HEAD")
    eq(r2.body, b"x" * 1000, "GET body after HEAD")
    r3 = c.request("HEAD", "/h2")
    eq(r3.status, 200, "second HEAD")
    if c.has_data(0.3):
        c.wait_closed(0.3)
        raise AssertionError("bytes after a HEAD response: %r"
                             % bytes(c.buf[:200]))
    eq(up.accepts, 1, "upstream accepts (pooled connection reused)")


@test
def status_204_and_304_without_body():
    def h(req):
        if req.target == "/204":
            return Reply(204, mode="none", headers=[("X-A", "1")])
        if req.target == "/304":
            # a 304 may announce the representation's length: no body
            return Reply(304, mode="none", headers=[("Content-Length", "50"),
                                                    ("ETag", '"e"')])
        return Reply(200, b"after")
    up, sl, port = setup(h)
    c = Client(port)
    for _ in range(2):
        r = c.request("GET", "/204")
        eq(r.status, 204, "204")
        eq(r.header("x-a"), "1", "204 header")
        check(not r.headers.has("transfer-encoding"),
              "Transfer-Encoding on a 204")
        r = c.request("GET", "/304", [("If-None-Match", '"e"')])
        eq(r.status, 304, "304")
        eq(r.header("etag"), '"e"', "ETag")
        r = c.request("GET", "/ok")
        eq(r.status, 200, "request after 204/304")
        eq(r.body, b"after", "body after 204/304")
    check(not c.has_data(0.2), "stray bytes after responses")
    eq(up.accepts, 1, "upstream accepts")


@test
def pipelined_requests_answered_in_order():
    def h(req):
        d = 0.3 if req.target == "/p1" else 0.0
        return Reply(200, ("resp %s" % req.target).encode(), delay=d)
    up, sl, port = setup(h)
    c = Client(port)
    raw = b"".join(build_request("GET", "/p%d" % i) for i in range(1, 5))
    raw += build_request("POST", "/p5", body=b"B" * 3000)
    raw += build_request("GET", "/p6")
    c.send(raw)
    for i in range(1, 7):
        r = c.read_response()
        eq(r.status, 200, "status of pipelined #%d" % i)
        eq(r.body, b"resp /p%d" % i, "order of pipelined responses")
    eq([q.target for q in up.requests], ["/p%d" % i for i in range(1, 7)],
       "order at upstream")
    eq(up.requests[4].body, b"B" * 3000, "pipelined POST body")


@test
def pipelined_after_a_chunked_body_with_trailers():
    """The HTTP/1.1 codec decodes a chunked body as it reads it
    (doc/design-notes.md, "HTTP/1.1 as a codec of fields"): the requests
    after its last chunk wait untouched while the exchange lasts, however
    the bytes are cut, and each body reaches the upstream as its payload
    and its trailers, framed again by the writer."""
    up, sl, port = setup(lambda req: Reply(200, b"got " + req.body))
    te = {"Transfer-Encoding": "chunked", "Trailer": "X-Sum"}
    one = (build_request("POST", "/c1", headers=te) + b"3;ext=1\r\nabc\r\n"
           b"2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n")
    two = build_request("POST", "/c2", headers={"Transfer-Encoding":
                                                "chunked"}) + chunked(b"x" * 70, 7)
    three = build_request("GET", "/c3")
    raw = one + two + three
    # all at once, then cut at every few bytes (sizes, trailers, the next
    # head)
    for cut in (len(raw), 5, 17):
        c = Client(port)
        for i in range(0, len(raw), cut):
            c.send(raw[i:i + cut])
            if cut < len(raw):
                time.sleep(0.002)
        for path, body in (("/c1", b"abcde"), ("/c2", b"x" * 70),
                           ("/c3", b"")):
            r = c.read_response()
            eq(r.status, 200, "%s (cut %d)" % (path, cut))
            eq(r.body, b"got " + body, "%s's body (cut %d)" % (path, cut))
        c.close()
    got = [(q.target, q.body, q.trailers) for q in up.requests]
    eq(got, [("/c1", b"abcde", [("X-Sum", "5")]), ("/c2", b"x" * 70, []),
             ("/c3", b"", [])] * 3, "the upstream's requests")
    # one Transfer-Encoding: the writer's, where the client's stood
    for q in up.requests[:2]:
        eq(q.headers.tokens("transfer-encoding"), ["chunked"],
           "%s's framing field" % q.target)
    sl.stop()
    up.stop()


@test
def pipelined_head_and_get():
    def h(req):
        return Reply(200, b"0123456789")
    up, sl, port = setup(h)
    c = Client(port)
    c.send(build_request("HEAD", "/1") + build_request("GET", "/2")
           + build_request("HEAD", "/3") + build_request("GET", "/4"))
    for m in ("HEAD", "GET", "HEAD", "GET"):
        r = c.read_response(m)
        eq(r.status, 200, m)
        eq(r.body, b"" if m == "HEAD" else b"0123456789", "body for " + m)


@test
def expect_100_continue():
    up, sl, port = setup()
    c = Client(port)
    body = os.urandom(200000)
    c.send(build_request("POST", "/upload", [("Expect", "100-continue"),
                                             ("Content-Length",
                                              str(len(body)))]))
    c.settimeout(3.0)
    first = c.read_response(stop_at_interim=True)
    eq(first.status, 100, "first response to Expect: 100-continue")
    eq(first.version, "1.1", "version of the 100 response")
    c.send(body)
    r = c.read_response("POST")
    eq(r.status, 200, "final status")
    eq(r.json()["body_sha256"], sha256(body), "body hash at upstream")
    eq(up.requests[0].body_sha, sha256(body), "recorded body hash")
    # the connection stays usable
    eq(c.request("GET", "/next").status, 200, "request after 100-continue")


@test
def expect_100_continue_via_curl():
    up, sl, port = setup()
    d = tmpdir()
    p = os.path.join(d, "body")
    data = os.urandom(3 << 20)
    with open(p, "wb") as f:
        f.write(data)
    hdr = os.path.join(d, "h")
    rc, out, err = curl(["-D", hdr, "-H", "Expect: 100-continue",
                         "--expect100-timeout", "10",
                         "--data-binary", "@" + p,
                         "http://127.0.0.1:%d/up" % port])
    eq(rc, 0, "curl exit (%s)" % err)
    with open(hdr, newline="") as f:
        resps = parse_curl_headers(f.read())
    eq([s for s, _ in resps], [100, 200], "statuses seen by curl")
    eq(__import__("json").loads(out)["body_sha256"], sha256(data),
       "upload hash")


@test
def absolute_form_target_becomes_origin_form():
    up, sl, port = setup()
    c = Client(port)
    r = c.request("GET", "http://abs.example/x/y?q=1",
                  host="ignored.example")
    eq(r.status, 200, "status")
    u = up.requests[0]
    eq(u.target, "/x/y?q=1", "target forwarded in origin-form")
    eq(u.headers.get_all("host"), ["abs.example"], "Host = authority")
    r = c.request("GET", "http://abs.example:8080", host="abs.example:8080")
    eq(r.status, 200, "status")
    u = up.requests[1]
    eq(u.target, "/", "empty path forwarded as /")
    eq(u.headers.get_all("host"), ["abs.example:8080"],
       "Host = authority with port")


HOP = ["connection", "keep-alive", "te", "trailer", "upgrade",
       "proxy-connection"]


@test
def hop_by_hop_request_headers_removed():
    up, sl, port = setup()
    c = Client(port)
    r = c.request("GET", "/hop", [
        ("Connection", "X-Hop-A, x-hop-b, keep-alive"),
        ("X-Hop-A", "1"), ("X-Hop-B", "2"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Upgrade", "websocket"),
        ("Proxy-Connection", "keep-alive"),
        ("X-End-To-End", "kept")])
    eq(r.status, 200, "status")
    u = up.requests[0]
    names = u.headers.names()
    for n in ["x-hop-a", "x-hop-b", "keep-alive", "te", "trailer", "upgrade",
              "proxy-connection"]:
        check(n not in names, "%s forwarded upstream: %r" % (n, u.headers))
    # sluice may send its own "Connection: keep-alive", never the client's
    for t in u.headers.tokens("connection"):
        check(t == "keep-alive", "client Connection tokens forwarded: %r"
              % u.headers.get_all("connection"))
    eq(u.header("x-end-to-end"), "kept", "end-to-end header")


@test
def hop_by_hop_response_headers_removed():
    def h(req):
        return Reply(200, b"body", [
            ("Connection", "X-Resp-Hop"), ("X-Resp-Hop", "1"),
            ("Keep-Alive", "timeout=5, max=100"),
            ("Proxy-Connection", "keep-alive"),
            ("Upgrade", "foo"),
            ("Trailer", "X-Nothing"),
            ("X-Resp-Kept", "yes")])
    up, sl, port = setup(h)
    c = Client(port)
    r = c.request("GET", "/")
    eq(r.status, 200, "status")
    eq(r.body, b"body", "body")
    names = r.headers.names()
    for n in ["x-resp-hop", "keep-alive", "proxy-connection", "upgrade",
              "trailer"]:
        check(n not in names, "%s forwarded to the client: %r"
              % (n, r.headers))
    check("x-resp-hop" not in r.headers.tokens("connection"),
          "upstream Connection forwarded: %r" % r.headers)
    eq(r.header("x-resp-kept"), "yes", "end-to-end response header")
    eq(c.request("GET", "/2").status, 200, "connection still usable")


@test
def x_forwarded_for_appended():
    up, sl, port = setup()
    c = Client(port)
    c.request("GET", "/1", [("X-Forwarded-For", "1.2.3.4")])
    c.request("GET", "/2")
    c.request("GET", "/3", [("X-Forwarded-For", "10.0.0.1, 10.0.0.2")])
    eq(up.requests[0].headers.get_all("x-forwarded-for"),
       ["1.2.3.4, 127.0.0.1"], "appended X-Forwarded-For")
    eq(up.requests[1].headers.get_all("x-forwarded-for"), ["127.0.0.1"],
       "new X-Forwarded-For")
    eq(up.requests[2].headers.get_all("x-forwarded-for"),
       ["10.0.0.1, 10.0.0.2, 127.0.0.1"], "appended to a list")


@test
def x_forwarded_proto_http():
    # "https" on a TLS listener (SLTEST_TRANSPORT=tls)
    up, sl, port = setup()
    c = Client(port)
    c.request("GET", "/1")
    other = "http" if over_tls() else "https"
    c.request("GET", "/2", [("X-Forwarded-Proto", other)])
    eq(up.requests[0].headers.get_all("x-forwarded-proto"), [scheme()],
       "X-Forwarded-Proto")
    eq(up.requests[1].headers.get_all("x-forwarded-proto"), [scheme()],
       "client's X-Forwarded-Proto replaced")


@test
def x_request_id_kept_when_sane():
    up, sl, port = setup()
    c = Client(port)
    r = c.request("GET", "/", [("X-Request-Id", "abc-123")])
    eq(r.status, 200, "status")
    eq(up.requests[0].headers.get_all("x-request-id"), ["abc-123"],
       "X-Request-Id upstream")
    eq(r.headers.get_all("x-request-id"), ["abc-123"],
       "X-Request-Id in the response")


@test
def x_request_id_generated_and_returned():
    def h(req):
        # an upstream that echoes the id must not duplicate it
        return Reply(200, b"x", [("X-Request-Id",
                                  req.header("x-request-id") or "none")])
    up, sl, port = setup(h)
    c = Client(port)
    ids = []
    for i in range(3):
        r = c.request("GET", "/%d" % i)
        eq(r.status, 200, "status")
        u = up.requests[i]
        got = u.headers.get_all("x-request-id")
        eq(len(got), 1, "one X-Request-Id upstream")
        check(REQID_RE.match(got[0]), "generated id looks odd: %r" % got[0])
        eq(r.headers.get_all("x-request-id"), got,
           "response carries the generated id")
        ids.append(got[0])
    eq(len(set(ids)), 3, "generated ids are distinct: %r" % ids)


@test
def x_request_id_replaced_when_insane():
    up, sl, port = setup()
    c = Client(port)
    for bad in ['a"b<c>', "x" * 2000, "a b"]:
        r = c.request("GET", "/", [("X-Request-Id", bad)])
        eq(r.status, 200, "status")
        u = up.requests[-1]
        got = u.headers.get_all("x-request-id")
        eq(len(got), 1, "one X-Request-Id upstream for %r" % bad[:20])
        check(got[0] != bad, "insane X-Request-Id %r kept" % bad[:40])
        check(REQID_RE.match(got[0]), "generated id looks odd: %r" % got[0])
        eq(r.header("x-request-id"), got[0], "response id")


@test
def every_response_carries_request_id():
    up, sl, port = setup(routes=[{"name": "only", "match":
                                  {"path_prefix": "/in/"}, "cluster": "a"}])
    c = Client(port)
    r = c.request("GET", "/in/x")
    check(r.header("x-request-id"), "200 without X-Request-Id")
    r = c.request("GET", "/out")
    eq(r.status, 404, "no route")
    check(r.header("x-request-id"), "404 without X-Request-Id")
    eq(r.json().get("request_id"), r.header("x-request-id"),
       "JSON request_id")
    r = c.request("GET", "/out", [("X-Request-Id", "given-id-1")])
    eq(r.header("x-request-id"), "given-id-1", "404 echoes the given id")
    eq(r.json().get("request_id"), "given-id-1", "JSON echoes the given id")


BIG = bytes(range(256)) * 300


@test
def upstream_framing_content_length_chunked_close():
    def h(req):
        if req.target == "/cl":
            return Reply(200, BIG)
        if req.target == "/chunked":
            return Reply(200, BIG, mode="chunked", chunk_size=1000)
        if req.target == "/close":
            return Reply(200, BIG, mode="close")
        if req.target == "/empty-chunked":
            return Reply(200, b"", mode="chunked")
        return Reply(404, b"")
    up, sl, port = setup(h)
    c = Client(port)
    for p in ("/cl", "/chunked", "/cl", "/empty-chunked", "/close"):
        r = c.request("GET", p)
        eq(r.status, 200, p)
        eq(r.body, b"" if p == "/empty-chunked" else BIG, "body of " + p)
        if r.framing == "close":
            check(c.eof, "close-delimited body without close")
    eq(up.accepts, 1, "accepts before the close-delimited response")
    # after a close-delimited upstream response the upstream connection is
    # gone: the next request uses a new one
    c2 = Client(port)
    eq(c2.request("GET", "/cl").body, BIG, "after close-delimited")
    eq(up.accepts, 2, "accepts after a close-delimited response")


@test
def upstream_1xx_before_final_response():
    # RFC 9110 section 15.2: a proxy passes on the 1xx it did not ask for,
    # in order, before the final response. 100 Continue is sluice's own
    # business (the upstream never sees Expect) and is not passed on.
    def h(req):
        return Reply(200, b"final", interim=[
            (103, "Early Hints", [("Link", "</s.css>; rel=preload"),
                                  ("Connection", "X-Hop"),
                                  ("X-Hop", "1")]),
            (100, "Continue", []),
            (102, "Processing", []),
            (103, "Early Hints", [("Link", "</t.js>; rel=preload")])])
    up, sl, port = setup(h)
    c = Client(port)
    for _ in range(2):
        r = c.request("GET", "/")
        eq(r.status, 200, "final status")
        eq(r.body, b"final", "final body")
        eq([i.status for i in r.interim], [103, 102, 103],
           "interim responses passed on, in order")
        eq(r.interim[0].headers.get("link"), "</s.css>; rel=preload",
           "Link of the first 103")
        eq(r.interim[2].headers.get("link"), "</t.js>; rel=preload",
           "Link of the second 103")
        for i in r.interim:
            check(not i.headers.has("x-hop") and
                  not i.headers.has("connection"),
                  "hop-by-hop field in a 1xx: %r" % i.headers)
            check(not i.headers.has("x-request-id"),
                  "sluice's own field in a 1xx: %r" % i.headers)
            eq(i.version, "1.1", "version of the 1xx")
        check(r.headers.get("x-request-id"), "final response id")
    eq(up.accepts, 1, "upstream connection reused after 1xx")


@test
def upstream_1xx_not_passed_to_http10_client():
    def h(req):
        return Reply(200, b"final", interim=[
            (103, "Early Hints", [("Link", "</s.css>; rel=preload")])])
    up, sl, port = setup(h)
    c = Client(port)
    c.send(b"GET /old HTTP/1.0\r\nHost: a\r\n\r\n")
    first = c.read_response(stop_at_interim=True)
    eq(first.status, 200, "first response an HTTP/1.0 client sees")
    eq(first.body, b"final", "body")


@test
def upstream_1xx_goes_out_before_the_final_response():
    # a 103 is useful only if the browser gets it while the upstream
    # still works on the answer: it is not held back for the final head
    def h(req):
        s = up.conns[req.conn_id].sock
        s.sendall(b"HTTP/1.1 103 Early Hints\r\n"
                  b"Link: </s.css>; rel=preload\r\n\r\n")
        time.sleep(1.5)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return Reply(action="raw", raw=b"")
    up, sl, port = setup(h)
    c = Client(port)
    c.settimeout(5.0)
    t0 = time.monotonic()
    c.send(build_request("GET", "/slow"))
    first = c.read_response(stop_at_interim=True)
    t1 = time.monotonic() - t0
    eq(first.status, 103, "first response")
    r = c.read_response()
    t2 = time.monotonic() - t0
    eq((r.status, r.body), (200, b"ok"), "final response")
    check(t1 < t2 - 0.5, "the 103 came at %.2fs, the final response at "
          "%.2fs: the 103 was held back" % (t1, t2))


@test
def upstream_1xx_over_head_limit_is_502():
    # every 1xx head of one request counts against max_header_bytes
    hint = (103, "Early Hints", [("Link", "</%s>; rel=preload" % ("x" * 900))])

    def h(req):
        return Reply(200, b"final", interim=[hint] * 8)
    up, sl, port = setup(h, limits={"max_header_bytes": "4KiB",
                                    "max_uri_bytes": "2KiB"})
    c = Client(port)
    r = c.request("GET", "/")
    eq(r.status, 502, "status after 8 KiB of 1xx heads")
    check(1 <= len(r.interim) <= 4, "1xx passed on before the limit: %d"
          % len(r.interim))
    check("upstream_head_too_large" in sl.stderr(), "log: %s"
          % sl.stderr()[-500:])


@test
def http10_client_gets_dechunked_body():
    def h(req):
        return Reply(200, BIG, mode="chunked", chunk_size=777)
    up, sl, port = setup(h)
    c = Client(port)
    c.send(b"GET /old HTTP/1.0\r\nHost: a\r\n\r\n")
    r = c.read_response()
    eq(r.status, 200, "status")
    check(r.version in ("1.0", "1.1"), "version")
    check(not r.headers.has("transfer-encoding"),
          "Transfer-Encoding sent to an HTTP/1.0 client: %r" % r.headers)
    eq(r.body, BIG, "de-chunked body")
    check(c.wait_closed(2.0), "HTTP/1.0 connection without keep-alive "
          "not closed")
    eq(up.requests[0].target, "/old", "target")


@test
def http10_client_gets_no_1xx():
    def h(req):
        return Reply(200, b"final", interim=[
            (103, "Early Hints", [("Link", "</s.css>; rel=preload")])])
    up, sl, port = setup(h)
    c = Client(port)
    c.send(b"GET /old HTTP/1.0\r\nHost: a\r\n\r\n")
    r = c.read_response()
    eq([i.status for i in r.interim], [], "1xx sent to an HTTP/1.0 client")
    eq(r.status, 200, "status")
    eq(r.body, b"final", "body")


@test
def http10_client_without_host():
    up, sl, port = setup()
    c = Client(port)
    c.send(b"GET /nohost HTTP/1.0\r\n\r\n")
    r = c.read_response()
    eq(r.status, 200, "HTTP/1.0 without Host is valid")
    eq(up.requests[0].target, "/nohost", "target")


@test
def client_connection_close_honoured():
    up, sl, port = setup()
    c = Client(port)
    r = c.request("GET", "/", [("Connection", "close")])
    eq(r.status, 200, "status")
    check(r.wants_close(), "response lacks Connection: close: %r"
          % r.headers)
    check(c.wait_closed(2.0), "connection not closed after "
          "Connection: close")
    eq(up.requests[0].headers.tokens("connection").count("close"), 0,
       "client's Connection: close forwarded upstream")


@test
def pipelined_after_connection_close_not_forwarded():
    up, sl, port = setup()
    c = Client(port)
    c.send(build_request("GET", "/last", [("Connection", "close")])
           + build_request("GET", "/ignored"))
    r = c.read_response()
    eq(r.status, 200, "status")
    check(r.wants_close(), "no Connection: close")
    check(c.wait_closed(2.0), "connection not closed")
    eq(c.buf, bytearray(), "a second response after Connection: close")
    eq(up.paths(), ["/last"], "requests at upstream")


@test
def transfer_coding_names_case_insensitive():
    up, sl, port = setup()
    c = Client(port)
    c.send(build_request("POST", "/ci", [("Transfer-Encoding", "Chunked")])
           + b"3\r\nabc\r\n0\r\n\r\n")
    r = c.read_response("POST")
    eq(r.status, 200, "Transfer-Encoding: Chunked")
    eq(up.requests[0].body, b"abc", "body")
    r = c.request("GET", "/ka", [("Connection", "Keep-Alive")])
    eq(r.status, 200, "Connection: Keep-Alive")
    r = c.request("GET", "/cl", [("CONNECTION", "CLOSE")])
    check(r.wants_close(), "CONNECTION: CLOSE not honoured")
    check(c.wait_closed(2.0), "connection not closed")


@test
def access_log_json():
    up = Upstream("a")
    d = tmpdir()
    logp = os.path.join(d, "access.log")
    cfg, port = make_config({"a": [up]}, access_log=logp, routes=[
        {"name": "logged", "match": {"path_prefix": "/in"}, "cluster": "a"}])
    start_sluice(cfg)
    c = Client(port)
    r = c.request("POST", "/in/x", body=b"12345",
                  headers=[("X-Request-Id", "log-req-1")])
    eq(r.status, 200, "status")
    r = c.request("GET", "/nowhere", headers=[("X-Request-Id", "log-req-2")])
    eq(r.status, 404, "status")
    e1 = read_json_lines(logp, lambda o: o.get("request_id") == "log-req-1")
    check(e1, "no access log entry for log-req-1")
    e = e1[0]
    eq(e.get("status"), 200, "logged status")
    eq(e.get("method"), "POST", "logged method")
    check(str(e.get("path", "")).startswith("/in/x"), "logged path %r"
          % e.get("path"))
    eq(e.get("route"), "logged", "logged route")
    check(str(up.port) in str(e.get("upstream")), "logged upstream %r"
          % e.get("upstream"))
    e2 = read_json_lines(logp, lambda o: o.get("request_id") == "log-req-2")
    check(e2, "no access log entry for the 404")
    eq(e2[0].get("status"), 404, "logged 404")


if __name__ == "__main__":
    main()
