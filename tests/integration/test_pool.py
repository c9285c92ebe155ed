# SPDX-License-Identifier: MIT
"""Upstream connection pooling, proven by counting the accepts the upstream
sees: keep-alive clients, short clients, pool limits, upstreams that close
idle connections, responses that forbid reuse."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Upstream, build_request, check,  # noqa
                    eq, main, make_config, read_response, start_sluice,
                    test, wait_until)


@test
def keepalive_1000_requests_one_upstream_connection():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=2)
    start_sluice(cfg)
    c = Client(port)
    for i in range(1000):
        c.send(build_request("GET", "/r%d" % i))
        r = read_response(c)
        if r.status != 200:
            raise AssertionError("request %d: status %d" % (i, r.status))
    eq(len(up.requests), 1000, "requests seen by the upstream")
    eq(up.accepts, 1, "upstream accepts for 1000 requests on one client "
       "connection")
    eq(up.paths()[-1], "/r999", "last path")


@test
def short_client_connections_reuse_pooled_upstream_connections():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=2)
    start_sluice(cfg)
    n = 300
    for i in range(n):
        c = Client(port)
        r = c.request("GET", "/s%d" % i, [("Connection", "close")])
        eq(r.status, 200, "status")
        check(r.wants_close(), "no Connection: close in the response")
        check(c.wait_closed(2.0), "client connection not closed")
        c.close()
    eq(len(up.requests), n, "requests at upstream")
    check(up.accepts <= 4, "upstream accepts for %d short client "
          "connections: %d (want <= 4, one pool per worker)"
          % (n, up.accepts))


@test
def http10_short_clients_reuse_pool():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=1)
    start_sluice(cfg)
    for i in range(50):
        c = Client(port)
        c.send(b"GET /h10 HTTP/1.0\r\n\r\n")
        r = read_response(c)
        eq(r.status, 200, "status")
        check(c.wait_closed(2.0), "HTTP/1.0 connection not closed")
        c.close()
    eq(len(up.requests), 50, "requests")
    eq(up.accepts, 1, "upstream accepts (workers: 1)")


@test
def concurrent_clients_bounded_upstream_connections():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=2)
    start_sluice(cfg)
    errors = []

    def run(k):
        try:
            c = Client(port)
            for i in range(25):
                r = c.request("GET", "/c%d/%d" % (k, i))
                if r.status != 200:
                    errors.append("client %d: status %d" % (k, r.status))
            c.close()
        except Exception as e:
            errors.append("client %d: %r" % (k, e))
    ts = [threading.Thread(target=run, args=(k,)) for k in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    eq(errors, [], "client errors")
    eq(len(up.requests), 16 * 25, "requests")
    check(up.accepts <= 16, "upstream accepts %d for 16 concurrent "
          "keep-alive clients (want <= 16)" % up.accepts)


@test
def upstream_closing_idle_pooled_connection_is_invisible():
    up = Upstream("a", idle_close=0.3)
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    for i in range(3):
        r = c.request("GET", "/i%d" % i)
        eq(r.status, 200, "status of request %d" % i)
        # the upstream closes the pooled connection: waited for, not
        # timed (a loaded machine runs its idle timer late)
        check(wait_until(lambda: all(x.closed.is_set() for x in up.conns),
                         10.0), "the upstream closed its idle connection")
        time.sleep(0.1)
    # a fresh client connection too
    r = Client(port).request("GET", "/fresh")
    eq(r.status, 200, "status on a fresh client connection")
    eq(len(up.requests), 4, "requests at upstream")
    eq(up.accepts, 4, "upstream accepts (each pooled connection was closed "
       "by the upstream)")


@test
def pool_max_requests_per_upstream_connection():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, cluster_opts={
        "a": {"pool": {"max_requests": 3}}})
    start_sluice(cfg)
    c = Client(port)
    for i in range(10):
        eq(c.request("GET", "/m%d" % i).status, 200, "status")
    eq(up.accepts, 4, "accepts for 10 requests with pool.max_requests 3")
    per = [conn.nrequests for conn in up.conns]
    eq(per, [3, 3, 3, 1], "requests per upstream connection")
    # the connection that reached its limit was closed by sluice
    check(wait_until(lambda: up.conns[0].closed_by_peer.is_set(), 2.0),
          "sluice did not close the exhausted upstream connection")


@test
def pool_idle_timeout_closes_upstream_connection():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, cluster_opts={
        "a": {"pool": {"idle_timeout": "300ms"}}})
    start_sluice(cfg)
    c = Client(port)
    eq(c.request("GET", "/1").status, 200, "status")
    t0 = time.monotonic()
    check(up.conns[0].closed_by_peer.wait(3.0),
          "pooled upstream connection not closed after pool.idle_timeout")
    dt = time.monotonic() - t0
    check(dt >= 0.2, "pooled connection closed too early (%.2fs)" % dt)
    eq(c.request("GET", "/2").status, 200, "status after pool idle close")
    eq(up.accepts, 2, "accepts")


@test
def pool_idle_timeout_counts_from_the_last_request():
    # The pool's idle timer is armed once and moved on when it fires
    # early (upstream.c): a connection used again before it fires is
    # neither closed at the first deadline nor kept past its own.
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=1, cluster_opts={
        "a": {"pool": {"idle_timeout": "600ms"}}})
    start_sluice(cfg)
    c = Client(port)
    eq(c.request("GET", "/1").status, 200, "status")
    time.sleep(0.4)
    eq(c.request("GET", "/2").status, 200, "status")
    # the timer armed by /1 fires at 0.6 s with the connection idle since
    # 0.4 s: it must not close it
    time.sleep(0.45)
    check(not up.conns[0].closed_by_peer.is_set(),
          "pooled connection closed at the first request's deadline")
    eq(c.request("GET", "/3").status, 200, "status")
    eq(up.accepts, 1, "accepts: the connection was reused")
    t3 = time.monotonic()
    check(up.conns[0].closed_by_peer.wait(3.0),
          "pooled upstream connection not closed after pool.idle_timeout")
    dt = time.monotonic() - t3
    check(dt >= 0.45, "closed %.2fs after its last request, before its "
          "idle_timeout" % dt)


@test
def pool_max_idle_bounds_idle_connections():
    up = Upstream("a", handler=lambda req: Reply(200, b"slow", delay=0.4))
    cfg, port = make_config({"a": [up]}, cluster_opts={
        "a": {"pool": {"max_idle": 1}}})
    start_sluice(cfg)
    res = []

    def run():
        try:
            res.append(Client(port).request("GET", "/x").status)
        except Exception as e:
            res.append(repr(e))
    ts = [threading.Thread(target=run) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    eq(res, [200] * 4, "statuses")
    eq(up.accepts, 4, "concurrent requests need 4 upstream connections")
    closed = wait_until(lambda: sum(1 for k in up.conns
                                    if k.closed_by_peer.is_set()) >= 3, 2.0)
    n = sum(1 for k in up.conns if k.closed_by_peer.is_set())
    check(closed, "with pool.max_idle 1, sluice closed %d of 4 upstream "
          "connections (want 3)" % n)
    eq(n, 3, "closed upstream connections")
    eq(Client(port).request("GET", "/again").status, 200, "status")
    eq(up.accepts, 4, "the kept idle connection is reused")


@test
def upstream_connection_close_not_reused():
    up = Upstream("a", handler=lambda req: Reply(200, b"bye", close=True))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    for i in range(3):
        r = c.request("GET", "/%d" % i)
        eq(r.status, 200, "status")
        eq(r.body, b"bye", "body")
    eq(up.accepts, 3, "accepts (Connection: close responses)")


@test
def upstream_http10_response_not_reused():
    # an HTTP/1.0 response without keep-alive ends the connection's
    # persistence even if the server does not close it
    up = Upstream("a", handler=lambda req: Reply(
        action="raw", raw=b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    c = Client(port)
    for i in range(3):
        r = c.request("GET", "/%d" % i)
        eq(r.status, 200, "status")
        eq(r.body, b"ok", "body")
    eq(up.accepts, 3, "accepts (HTTP/1.0 responses are not persistent)")


@test
def upstream_http10_keepalive_and_close_not_reused():
    # "close" ends persistence even next to "keep-alive" (RFC 9112
    # section 9.3); the server keeps its side open, so only sluice's own
    # reading of the response can keep the connection out of the pool
    for conn in (b"Connection: keep-alive, close\r\n",
                 b"Connection: keep-alive\r\nConnection: close\r\n"):
        up = Upstream("a", handler=lambda req, conn=conn: Reply(
            action="raw", raw=b"HTTP/1.0 200 OK\r\n" + conn +
            b"Content-Length: 2\r\n\r\nok"))
        cfg, port = make_config({"a": [up]})
        sl = start_sluice(cfg)
        c = Client(port)
        for i in range(3):
            r = c.request("GET", "/%d" % i)
            eq(r.status, 200, "status")
            eq(r.body, b"ok", "body")
        eq(up.accepts, 3, "accepts with %r" % conn)
        sl.stop()
        up.stop()


@test
def pool_shared_between_client_connections():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg)
    for i in range(20):
        c = Client(port)
        eq(c.request("GET", "/k%d" % i).status, 200, "status")
        eq(c.request("GET", "/k%d-2" % i).status, 200, "status")
        c.close()
    eq(up.accepts, 1, "accepts for 20 sequential keep-alive clients "
       "(workers: 1)")


@test
def pool_max_lifetime_retires_an_old_connection():
    """pool.max_lifetime 2s: requests close together share one pooled
    connection; one that comes after the connection's lifetime finds it
    retired (closed, not reused) and gets a new one."""
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=1, cluster_opts={
        "a": {"pool": {"max_lifetime": "2s"}}})
    start_sluice(cfg)
    c = Client(port)
    for i in range(3):
        eq(c.request("GET", "/a%d" % i).status, 200)
    eq(up.accepts, 1, "close together: one connection")
    time.sleep(2.2)
    eq(c.request("GET", "/b").status, 200)
    eq(up.accepts, 2, "past its lifetime: a new one")


if __name__ == "__main__":
    main()
