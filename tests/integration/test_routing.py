# SPDX-License-Identifier: MIT
"""Routing (host exact and *.suffix, path vs path_prefix, methods, headers,
first match wins, no route -> 404), round robin with weights, workers: 2."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (wait_until, Client, Upstream, assert_error, build_request,  # noqa
                    check, eq, main, make_config, read_response,
                    start_sluice, test)


def routing_setup():
    ups = {n: Upstream(n) for n in ("exact", "wild", "path", "prefix",
                                    "post", "canary", "first", "second")}
    clusters = {n: [u] for n, u in ups.items()}
    routes = [
        {"name": "r-exact", "match": {"host": "api.example.com"},
         "cluster": "exact"},
        {"name": "r-wild", "match": {"host": "*.example.com"},
         "cluster": "wild"},
        {"name": "r-path", "match": {"path": "/exact"}, "cluster": "path"},
        {"name": "r-prefix", "match": {"path_prefix": "/v1/"},
         "cluster": "prefix"},
        {"name": "r-post", "match": {"path_prefix": "/m/",
                                     "methods": ["POST", "PUT"]},
         "cluster": "post"},
        {"name": "r-canary", "match": {"path_prefix": "/c/",
                                       "headers": {"X-Canary": "on"}},
         "cluster": "canary"},
        {"name": "r-first", "match": {"path_prefix": "/dup/"},
         "cluster": "first"},
        {"name": "r-second", "match": {"path_prefix": "/dup/x"},
         "cluster": "second"},
        {"name": "r-multi", "match": {"host": "multi.test",
                                      "path_prefix": "/both/",
                                      "methods": ["GET"],
                                      "headers": {"X-A": "1", "X-B": "2"}},
         "cluster": "canary"},
    ]
    cfg, port = make_config(clusters, routes=routes)
    start_sluice(cfg)
    return ups, port


CASES = [
    # (method, path, host, headers, expected upstream or None for 404)
    ("GET", "/", "api.example.com", [], "exact"),
    ("GET", "/", "API.Example.COM", [], "exact"),
    ("GET", "/", "api.example.com:8080", [], "exact"),
    ("GET", "/", "API.EXAMPLE.COM:1", [], "exact"),
    ("GET", "/", "foo.example.com", [], "wild"),
    ("GET", "/", "a.b.example.com", [], "wild"),
    ("GET", "/", "FOO.EXAMPLE.COM:443", [], "wild"),
    ("GET", "/", "example.com", [], None),
    ("GET", "/", "xexample.com", [], None),
    ("GET", "/", "api.example.com.evil", [], None),
    ("GET", "/exact", "t", [], "path"),
    ("GET", "/exact?q=1", "t", [], "path"),
    ("GET", "/exact/", "t", [], None),
    ("GET", "/exactly", "t", [], None),
    ("GET", "/EXACT", "t", [], None),
    ("GET", "/v1/", "t", [], "prefix"),
    ("GET", "/v1/pay/123", "t", [], "prefix"),
    ("GET", "/v1", "t", [], None),
    ("GET", "/v2/pay", "t", [], None),
    ("POST", "/m/x", "t", [], "post"),
    ("PUT", "/m/x", "t", [], "post"),
    ("GET", "/m/x", "t", [], None),
    ("DELETE", "/m/x", "t", [], None),
    ("GET", "/c/x", "t", [("X-Canary", "on")], "canary"),
    ("GET", "/c/x", "t", [("x-canary", "on")], "canary"),
    ("GET", "/c/x", "t", [("X-CANARY", "on")], "canary"),
    ("GET", "/c/x", "t", [("X-Canary", "ON")], None),
    ("GET", "/c/x", "t", [("X-Canary", "off")], None),
    ("GET", "/c/x", "t", [], None),
    ("GET", "/dup/x", "t", [], "first"),
    ("GET", "/dup/y", "t", [], "first"),
    ("GET", "/both/z", "multi.test", [("X-A", "1"), ("X-B", "2")], "canary"),
    ("GET", "/both/z", "multi.test", [("X-A", "1")], None),
    ("POST", "/both/z", "multi.test", [("X-A", "1"), ("X-B", "2")], None),
    ("GET", "/both/z", "other.test", [("X-A", "1"), ("X-B", "2")], None),
    ("GET", "/nothing", "t", [], None),
]


@test
def route_matching_table():
    ups, port = routing_setup()
    c = Client(port)
    failures = []
    for method, path, host, hdrs, want in CASES:
        body = b"x" if method in ("POST", "PUT") else None
        r = c.request(method, path, hdrs, body, host=host)
        if want is None:
            if r.status != 404:
                failures.append("%s %s Host %s %r: want 404, got %d %r"
                                % (method, path, host, hdrs, r.status,
                                   r.body[:80]))
            else:
                assert_error(r, 404, "no_route")
        else:
            got = r.json().get("upstream") if r.status == 200 else None
            if r.status != 200 or got != want:
                failures.append("%s %s Host %s %r: want %s, got %d %r"
                                % (method, path, host, hdrs, want, r.status,
                                   r.body[:80]))
        if r.wants_close() or c.eof:
            c.close()
            c = Client(port)
    check(not failures, "routing mismatches:\n  " + "\n  ".join(failures))


@test
def absolute_form_routes_by_authority():
    ups, port = routing_setup()
    c = Client(port)
    r = c.request("GET", "http://api.example.com/x", host="other.test")
    eq(r.status, 200, "status")
    eq(r.json()["upstream"], "exact", "routed by the absolute-form authority")


@test
def no_route_404_keeps_connection():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, routes=[
        {"name": "only", "match": {"path_prefix": "/yes/"}, "cluster": "a"}])
    start_sluice(cfg)
    c = Client(port)
    r = c.request("GET", "/no")
    assert_error(r, 404, "no_route", close=False)
    r = c.request("GET", "/no-again")
    assert_error(r, 404, "no_route", close=False)
    r = c.request("GET", "/yes/1")
    eq(r.status, 200, "second request on the same socket")
    eq(up.paths(), ["/yes/1"], "upstream requests")
    # HEAD 404 has no body on the wire
    c.send(build_request("HEAD", "/no") + build_request("GET", "/yes/2"))
    r = read_response(c, "HEAD")
    eq(r.status, 404, "HEAD no route")
    r = read_response(c)
    eq(r.status, 200, "request after HEAD 404")


@test
def no_route_with_unread_body_closes():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, routes=[
        {"name": "only", "match": {"path_prefix": "/yes/"}, "cluster": "a"}])
    start_sluice(cfg)
    c = Client(port)
    c.send(build_request("POST", "/no", body=b"B" * 100000))
    r = read_response(c, "POST")
    # the body was not read: the connection cannot be kept in sync
    assert_error(r, 404, "no_route", close=True)
    check(c.wait_closed(2.0), "Connection: close but not closed")
    eq(up.bytes_received, 0, "bytes at upstream")
    # a chunked body likewise
    c = Client(port)
    c.send(build_request("PUT", "/no", [("Transfer-Encoding", "chunked")])
           + b"5\r\nhello\r\n0\r\n\r\n")
    r = read_response(c, "PUT")
    assert_error(r, 404, "no_route", close=True)
    check(c.wait_closed(2.0), "Connection: close but not closed")


@test
def round_robin_weights_1_3():
    a = Upstream("w1")
    b = Upstream("w3")
    cfg, port = make_config({"rr": [(a, 1), (b, 3)]}, workers=1)
    start_sluice(cfg)
    for i in range(400):
        c = Client(port)
        r = c.request("GET", "/rr%d" % i, [("Connection", "close")])
        eq(r.status, 200, "status")
        c.close()
    na, nb = len(a.requests), len(b.requests)
    eq(na + nb, 400, "total")
    check(90 <= na <= 110 and 290 <= nb <= 310,
          "weights 1:3 over 400 requests gave %d:%d" % (na, nb))
    check(a.accepts <= 2 and b.accepts <= 2,
          "accepts %d/%d: pooled connections not reused" % (a.accepts,
                                                           b.accepts))


@test
def round_robin_smooth_interleaving():
    a = Upstream("w1")
    b = Upstream("w3")
    cfg, port = make_config({"rr": [(a, 1), (b, 3)]}, workers=1)
    start_sluice(cfg)
    c = Client(port)
    seq = []
    for i in range(40):
        seq.append(c.request("GET", "/s%d" % i).json()["upstream"])
    eq(seq.count("w1"), 10, "w1 count over 40 requests")
    # smooth weighted round robin never sends 4 in a row to w3 and never
    # two in a row to w1
    s = "".join("a" if x == "w1" else "b" for x in seq)
    check("aa" not in s and "bbbb" not in s,
          "round robin is not smooth: %s" % s)


@test
def round_robin_equal_weights_two_workers():
    ups = [Upstream("e%d" % i) for i in range(3)]
    cfg, port = make_config({"rr": ups}, workers=2)
    start_sluice(cfg)
    for i in range(300):
        c = Client(port)
        eq(c.request("GET", "/", [("Connection", "close")]).status, 200,
           "status")
        c.close()
    counts = [len(u.requests) for u in ups]
    eq(sum(counts), 300, "total")
    check(all(70 <= n <= 130 for n in counts),
          "equal weights over 3 endpoints gave %r" % counts)


@test
def workers_2_serves_and_runs_threads():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=2)
    sl = start_sluice(cfg)
    # the sockets listen (and queue connections) before the worker
    # threads exist: wait for them rather than race them
    ntasks = lambda: len(os.listdir("/proc/%d/task" % sl.pid))  # noqa
    check(wait_until(lambda: ntasks() >= 3, 3.0),
          "workers: 2 but only %d threads" % ntasks())
    for i in range(100):
        c = Client(port)
        eq(c.request("GET", "/w%d" % i).status, 200, "status")
        c.close()
    eq(len(up.requests), 100, "requests")
    check(up.accepts <= 2, "upstream accepts %d (one pool per worker)"
          % up.accepts)


@test
def workers_auto():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers="auto")
    start_sluice(cfg)
    for i in range(20):
        eq(Client(port).request("GET", "/").status, 200, "status")


if __name__ == "__main__":
    main()
