# SPDX-License-Identifier: MIT
"""Replays after an upstream failure, the payment-safety rules: a pooled
connection that dies after taking a request gets an idempotent request
replayed once on a fresh connection, but a POST is never sent twice; a
connection that never took a byte is always safe to replace."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Upstream, assert_error, check,  # noqa
                    eq, free_port, main, make_config, start_sluice, test,
                    tmpdir, wait_until)


def dies_on_second_request(action="close"):
    """Answers the first request of each connection, then takes the
    second one and fails without answering (as an upstream whose
    keep-alive timeout fired while the request was in flight)."""
    def h(req):
        if req.conn_nrequests == 2:
            return Reply(action=action)
        return Reply(200, b"ok:" + req.method.encode())
    return h


class CountingUpstream(Upstream):
    """Tags each request with its position on its connection."""

    def __init__(self, *a, **kw):
        self._per_conn = {}
        Upstream.__init__(self, *a, **kw)

    def _dispatch(self, req):
        n = self._per_conn.get(req.conn_id, 0) + 1
        self._per_conn[req.conn_id] = n
        req.conn_nrequests = n
        return self._user_handler(req)


def setup(action="close"):
    handler = dies_on_second_request(action)
    up = CountingUpstream("a")
    up._user_handler = handler
    up.handler = up._dispatch
    log = os.path.join(tmpdir(), "access.log")
    cfg, port = make_config({"a": [up]}, access_log=log)
    sl = start_sluice(cfg)
    return up, sl, port, log


def access_lines(log, n):
    def ready():
        try:
            with open(log) as f:
                return len(f.read().splitlines()) >= n
        except OSError:
            return False
    check(wait_until(ready, 3.0), "access log lines")
    with open(log) as f:
        return [json.loads(x) for x in f.read().splitlines()]


@test
def idempotent_request_replayed_on_fresh_connection():
    for action in ("close", "reset"):
        up, sl, port, log = setup(action)
        c = Client(port)
        eq(c.request("GET", "/one").status, 200, "first request")
        r = c.request("GET", "/two")
        eq(r.status, 200, "GET on a pooled connection that died (%s)"
           % action)
        eq(r.body, b"ok:GET", "body of the replayed GET")
        eq(up.accepts, 2, "upstream accepts: the replay used a new one")
        eq(up.paths(), ["/one", "/two", "/two"], "requests seen upstream")
        lines = access_lines(log, 2)
        eq(lines[1]["retried"], True, "access log marks the replay")
        eq(lines[1]["status"], 200, "logged status")
        sl.stop()
        up.stop()


@test
def post_is_never_sent_twice():
    for action in ("close", "reset"):
        up, sl, port, log = setup(action)
        c = Client(port)
        eq(c.request("POST", "/charge", body=b"amount=1").status, 200,
           "first payment")
        r = c.request("POST", "/charge", body=b"amount=2")
        assert_error(r, 502, "upstream_reset", close=False)
        time.sleep(0.3)
        eq(up.paths(), ["/charge", "/charge"],
           "the second POST reached the upstream once and only once")
        eq(up.accepts, 1, "no new connection was opened to replay it")
        lines = access_lines(log, 2)
        eq(lines[1]["retried"], False, "not retried")
        # the client connection is still usable, and the next POST goes
        # out on a fresh upstream connection
        eq(c.request("POST", "/charge", body=b"amount=3").status, 200,
           "next POST")
        eq(up.accepts, 2, "accepts after the next POST")
        sl.stop()
        up.stop()


@test
def put_and_delete_are_idempotent_patch_is_not():
    for method, replay in (("PUT", True), ("DELETE", True),
                           ("OPTIONS", True), ("PATCH", False)):
        up, sl, port, log = setup("close")
        c = Client(port)
        eq(c.request(method, "/r").status, 200, "first")
        r = c.request(method, "/r")
        if replay:
            eq(r.status, 200, "%s replayed" % method)
            eq(len(up.requests), 3, "%s seen upstream" % method)
        else:
            assert_error(r, 502, "upstream_reset", close=False)
            eq(len(up.requests), 2, "%s seen upstream" % method)
        sl.stop()
        up.stop()


@test
def idempotent_request_whose_body_went_out_is_not_replayed():
    # a body larger than buffer_bytes is streamed, not kept: a PUT whose
    # body bytes reached the dead connection cannot be sent again
    up, sl, port, log = setup("close")
    c = Client(port)
    eq(c.request("PUT", "/r", body=b"v1").status, 200, "first")
    r = c.request("PUT", "/r", body=b"v" * (256 * 1024))
    assert_error(r, 502, "upstream_reset", close=False)
    eq(len(up.requests), 2, "PUT seen upstream")


@test
def idempotent_request_with_a_kept_body_is_replayed():
    # a body of up to buffer_bytes is kept until the answer: the PUT is
    # sent again, whole, on a fresh connection
    up, sl, port, log = setup("close")
    c = Client(port)
    eq(c.request("PUT", "/r", body=b"v1").status, 200, "first")
    body = bytes(range(256)) * 200
    r = c.request("PUT", "/r", body=body)
    eq(r.status, 200, "replayed PUT")
    eq(len(up.requests), 3, "PUT seen upstream")
    eq(up.requests[2].body, body, "the replay carried the whole body")


@test
def replay_happens_once_only():
    # every request after the first on any connection dies: the GET is
    # replayed once on a fresh connection, whose first request succeeds;
    # a second failure of the replay itself is not replayed again
    def h(req):
        if req.conn_nrequests >= 2 or req.target == "/always-dies":
            return Reply(action="close")
        return Reply(200, b"ok")
    up = CountingUpstream("a")
    up._user_handler = h
    up.handler = up._dispatch
    # attempts: 1, so that the route's own retries stay out of it: the
    # replay of a dead pooled connection is the pool's, not the policy's
    cfg, port = make_config({"a": [up]}, routes=[
        {"name": "main", "cluster": "a", "retry": {"attempts": 1}}])
    start_sluice(cfg)
    c = Client(port)
    eq(c.request("GET", "/one").status, 200, "first")
    r = c.request("GET", "/always-dies")
    assert_error(r, 502, "upstream_reset", close=False)
    eq(up.paths(), ["/one", "/always-dies", "/always-dies"],
       "one replay, no more")
    # with the default policy (attempts: 2) the replay is followed by
    # one retry of the GET
    eq(c.request("GET", "/one").status, 200, "first")


@test
def replay_from_endpoint_past_64_keeps_failed_endpoints_out():
    # The exchange remembers the endpoints it tried in a 64-bit mask
    # (endpoints past the 64th are not remembered). A replay from endpoint
    # 64 used to clear bit 64 & 63, which belongs to endpoint 0: an
    # endpoint that had already refused in this request was tried again.
    # Endpoint 0 refuses (closed port), 1..63 are closed ports that the
    # weights keep out of the way, 64 is the upstream. With smooth weighted
    # round robin and these weights, request 1 goes to 64 (new connection,
    # pooled), request 2 tries 0 (refused), then 64's pooled connection,
    # which dies and makes a replay on a fresh connection.
    up = CountingUpstream("a")
    up._user_handler = dies_on_second_request("close")
    up.handler = up._dispatch
    closed = set()
    while len(closed) < 64:
        closed.add(free_port())
    closed = sorted(closed)
    eps = [(closed[0], 999)] + [(p, 1) for p in closed[1:]] + [(up, 1000)]
    cfg, port = make_config({"a": eps})
    sl = start_sluice(cfg)
    refused = "upstream=127.0.0.1:%d: upstream_connect_failed" % closed[0]
    c = Client(port)
    eq(c.request("GET", "/one").status, 200, "first request")
    check(refused not in sl.stderr(), "request 1 went to endpoint 64")
    r = c.request("GET", "/two")
    eq(r.status, 200, "replayed GET")
    eq(up.accepts, 2, "the replay used a new upstream connection")
    eq(up.paths(), ["/one", "/two", "/two"], "requests seen upstream")
    eq(sl.stderr().count(refused), 1,
       "endpoint 0 refused once and was not tried again after the replay")


if __name__ == "__main__":
    main()
