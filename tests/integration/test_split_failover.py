# SPDX-License-Identifier: MIT
"""A split fails over (doc/weighted-routes.md, section 5): a request that no
upstream saw (retry class 1: a refused connect, a cluster with no endpoint
up) moves to another cluster of its split, under the retry policy and that
cluster's retry budget; a sticky user is served elsewhere for that request
only; split_failover: false keeps the 502. Counted at the upstreams
themselves, read back from the access log and /metrics."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Upstream, build_request,  # noqa: E402
                    check, eq, free_port, main, make_config, metrics,
                    read_json_lines, start_sluice, test, tmpdir,
                    wait_until)


def failover_config(dead, live, sticky=None, route_extra=None,
                    cluster_opts=None, workers=1, live_name="live"):
    """A 50/50 split of cluster "dead" (dead: endpoints) and live_name
    (live: endpoints), an admin listener and a JSON access log; returns
    (config, port, admin port, access log path)."""
    aport = free_port()
    log = os.path.join(tmpdir(), "access.log")
    route = {"name": "migrate",
             "split": [{"cluster": "dead", "weight": 50},
                       {"cluster": live_name, "weight": 50}]}
    if sticky:
        route["sticky"] = sticky
    if route_extra:
        route.update(route_extra)
    cfg, port = make_config({"dead": dead, live_name: live}, routes=[route],
                            workers=workers, access_log=log,
                            cluster_opts=cluster_opts,
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    return cfg, port, aport, log


def log_lines(log, n):
    """The first n access log entries, once there are n."""
    got = read_json_lines(log, min_count=n, timeout=5.0)
    check(len(got) >= n, "%d access log lines, want %d" % (len(got), n))
    return got


def users_of(port, cluster, n, tries=400):
    """n X-User-Id values that the split assigns to cluster, found by asking
    (the clusters' answers name them) while both are up."""
    c = Client(port)
    got = []
    for i in range(tries):
        u = "user-%d" % i
        r = c.request("GET", "/who", [("X-User-Id", u)])
        eq(r.status, 200, "status while both clusters are up")
        if r.json()["upstream"] == cluster:
            got.append(u)
            if len(got) == n:
                break
    c.close()
    check(len(got) == n, "found %d users of %s" % (len(got), cluster))
    return got


@test
def requests_no_upstream_saw_move_to_the_live_cluster():
    # one cluster's only endpoint is a closed port: half of the requests
    # (one worker: smooth round robin alternates) meet it first; the
    # refusal is class 1, so GETs and POSTs alike go to the other cluster,
    # each reaching an upstream exactly once
    live = Upstream("live")
    dead = free_port()
    cfg, port, aport, log = failover_config([dead], [live])
    sl = start_sluice(cfg)
    c = Client(port)
    n = 20
    for i in range(2 * n):
        # GET, GET, POST, POST: both methods meet each cluster first
        method = "POST" if i // 2 % 2 else "GET"
        body = b"amount=%d" % i if method == "POST" else None
        r = c.request(method, "/pay/%s/%d" % (method, i),
                      [("X-Request-Id", "fo-%s-%d" % (method, i))],
                      body=body)
        eq(r.status, 200, "%s %d with a dead cluster (%r)"
           % (method, i, r.body[:200]))
        eq(r.json()["upstream"], "live", "answered by")
    paths = live.paths()
    eq(len(paths), 2 * n, "requests the live cluster read")
    eq(len(set(paths)), 2 * n, "each request read once")
    lines = log_lines(log, 2 * n)
    moved = [e for e in lines if e["failures"]]
    eq(len(moved), n, "requests that met the dead cluster first")
    for e in lines:
        eq(e["status"], 200, "logged status")
        eq(e["cluster"], "live", "logged cluster: the one that served")
        check(e["upstream"] == live.addr, "logged upstream %r" % e)
    for e in moved:
        eq(e["failures"], [{"class": 1, "error": "upstream_connect_failed",
                            "upstream": "127.0.0.1:%d" % dead}],
           "failures of %s" % e["request_id"])
        eq((e["retried"], e["retries"]), (True, 1), "retried, retries")
    eq(sorted(e["method"] for e in moved), ["GET"] * (n // 2) +
       ["POST"] * (n // 2), "methods of the requests that moved")
    m = metrics(aport)
    eq(m.get('sluice_cluster_retries_total{cluster="dead",class="1"}'), n,
       "retries counted on the cluster that failed")
    eq(m.get('sluice_cluster_requests_total{cluster="live"}'), 2 * n,
       "requests counted on the cluster that served")
    eq(m.get('sluice_cluster_requests_total{cluster="dead"}', 0), 0,
       "requests counted on the dead cluster")
    eq(m.get('sluice_route_responses_total{listener="main",route="migrate",'
             'class="2xx"}'), 2 * n, "2xx of the route")
    eq(m.get('sluice_upstream_pending{cluster="dead"}', 0)
       + m.get('sluice_upstream_pending{cluster="live"}', 0), 0,
       "requests still counted as waiting")
    check("upstream=127.0.0.1:%d: upstream_connect_failed" % dead
          in sl.stderr(), "the refusals are in the error log")


@test
def sticky_users_are_served_elsewhere_for_that_request_only():
    # users of v2 while v2 is down get v1's answer; their assignment does
    # not change: once v2 listens again, they are on v2 again
    v1 = Upstream("v1")
    v2 = Upstream("v2")
    v2_port = v2.port
    cfg, port, aport, log = failover_config(
        [v2], [v1], sticky="header:X-User-Id", workers=2)
    # the clusters are named after the split's roles: "dead" holds v2
    start_sluice(cfg)
    users = users_of(port, "v2", 8)
    v2.stop()
    conns = [Client(port) for _ in range(4)]
    for rnd in range(2):
        for i, u in enumerate(users):
            r = conns[i % 4].request("POST", "/pay", [("X-User-Id", u)],
                                     body=b"x")
            eq(r.status, 200, "%s while v2 is down (%r)" % (u, r.body[:200]))
            eq(r.json()["upstream"], "v1", "%s served by" % u)
    back = Upstream("v2", port=v2_port)
    for i, u in enumerate(users):
        r = conns[i % 4].request("GET", "/pay", [("X-User-Id", u)])
        eq(r.status, 200, "%s once v2 is back" % u)
        eq(r.json()["upstream"], "v2", "%s served by, v2 back" % u)
    eq(len(back.requests), len(users), "requests v2 read once back")
    m = metrics(aport)
    check(m.get('sluice_cluster_retries_total{cluster="dead",class="1"}', 0)
          >= 2 * len(users), "retries counted on v2's cluster: %r" % m.get(
              'sluice_cluster_retries_total{cluster="dead",class="1"}'))


@test
def split_failover_false_keeps_the_502():
    live = Upstream("live")
    dead = free_port()
    cfg, port, aport, log = failover_config(
        [dead], [live], route_extra={"split_failover": False})
    start_sluice(cfg)
    c = Client(port)
    got = {}
    for i in range(10):
        r = c.request("POST" if i % 4 == 0 else "GET", "/x/%d" % i,
                      body=b"b" if i % 4 == 0 else None)
        got[r.status] = got.get(r.status, 0) + 1
        if r.status == 502:
            eq(r.json()["error"], "upstream_connect_failed", "error")
    eq(got, {200: 5, 502: 5}, "statuses with split_failover: false")
    eq(len(live.requests), 5, "requests the live cluster read")
    for e in log_lines(log, 10):
        check(e["cluster"] in ("dead", "live"), "cluster %r" % e)
        if e["status"] == 502:
            eq(e["cluster"], "dead", "cluster of a 502")


@test
def failover_stays_within_the_live_clusters_budget():
    # Three requests of users of the dead cluster moved to the live one
    # and held there: the live cluster has 3 requests in a retry, its
    # budget's floor (20 % of 4 active is less). A fourth such request is
    # refused at once with the dead cluster's 502 and counted as
    # no_budget; once the three are answered, moves are possible again.
    release = threading.Event()

    def hold(req):
        if req.target.startswith("/hold"):
            release.wait(20)
        return None

    live = Upstream("live", handler=hold)
    dead = Upstream("dead")
    dead_port = dead.port
    cfg, port, aport, log = failover_config(
        [dead], [live], sticky="header:X-User-Id")
    sl = start_sluice(cfg)
    users = users_of(port, "dead", 5)
    dead.stop()
    held = []
    for u in users[:3]:
        c = Client(port, timeout=30.0)
        c.send(build_request("GET", "/hold", {"X-User-Id": u}))
        held.append(c)
    check(wait_until(lambda: len([r for r in live.requests
                                  if r.target == "/hold"]) == 3, 5.0),
          "three requests of the dead cluster's users held by live: %r"
          % live.paths())
    c = Client(port)
    r = c.request("GET", "/more", [("X-User-Id", users[3])])
    eq(r.status, 502, "a fourth move, over the budget (%r)" % r.body[:200])
    eq(r.json()["error"], "upstream_connect_failed", "its error")
    m = metrics(aport)
    eq(m.get('sluice_cluster_not_retried_total{cluster="dead",'
             'reason="no_budget"}'), 1, "refusals for the budget")
    release.set()
    for h in held:
        r = h.read_response()
        eq(r.status, 200, "a held request, released")
        eq(r.json()["upstream"], "live", "served by")
    r = c.request("GET", "/more", [("X-User-Id", users[4])])
    eq(r.status, 200, "a move once the budget has room (%r)" % r.body[:200])
    eq(r.json()["upstream"], "live", "served by")
    check("not moved from cluster dead to live (no_budget)" in sl.stderr(),
          "the refusal is in the error log")
    e = read_json_lines(log, lambda x: x["path"] == "/more", 5.0, 2)
    eq(len(e), 2, "access log lines of /more")
    # (a pooled connection to the dead cluster found closed may come
    # first: the connect that was refused is the last failure)
    eq(e[0]["failures"][-1], {"class": 1, "error": "upstream_connect_failed",
                              "upstream": "127.0.0.1:%d" % dead_port},
       "the refused move's last failure")
    eq((e[0]["status"], e[0]["cluster"]), (502, "dead"), "status, cluster")
    eq((e[1]["status"], e[1]["cluster"]), (200, "live"), "status, cluster")


@test
def a_cluster_with_no_endpoint_up_is_passed_over():
    # the health checks took the dead cluster's endpoint out: requests of
    # that cluster go to the other one without an attempt, counted in
    # sluice_cluster_no_healthy_total and logged as a failure that named
    # no upstream
    live = Upstream("live")
    dead = free_port()
    hc = {"health_check": {"interval": "100ms", "timeout": "50ms",
                           "unhealthy": 1, "healthy": 1}}
    cfg, port, aport, log = failover_config([dead], [live],
                                            cluster_opts={"dead": hc})
    start_sluice(cfg)
    key = 'sluice_endpoint_healthy{cluster="dead",endpoint="127.0.0.1:%d"}' \
        % dead
    check(wait_until(lambda: metrics(aport).get(key) == 0, 5.0),
          "the dead endpoint marked down")
    m0 = metrics(aport)
    c = Client(port)
    for i in range(10):
        r = c.request("GET", "/h/%d" % i, [("X-Request-Id", "hc-%d" % i)])
        eq(r.status, 200, "request %d (%r)" % (i, r.body[:200]))
        eq(r.json()["upstream"], "live", "served by")
    m = metrics(aport)
    passed = m.get('sluice_cluster_no_healthy_total{cluster="dead"}', 0) \
        - m0.get('sluice_cluster_no_healthy_total{cluster="dead"}', 0)
    eq(passed, 5, "requests that passed the dead cluster over")
    eq(m.get('sluice_cluster_retries_total{cluster="dead",class="1"}', 0),
       m0.get('sluice_cluster_retries_total{cluster="dead",class="1"}', 0),
       "retries: none, no attempt was made")
    lines = [e for e in log_lines(log, 10)
             if e["request_id"].startswith("hc-")]
    skipped = [e for e in lines if e["failures"]]
    eq(len(skipped), 5, "logged as passed over")
    for e in skipped:
        eq(e["failures"], [{"class": 1, "error": "no_healthy_upstream",
                            "upstream": "-"}], "failures")
        eq((e["retried"], e["cluster"]), (False, "live"), "retried, cluster")


@test
def hash_balancer_keeps_its_key_across_a_move():
    # both clusters balance by hash of X-Key; the live one has two
    # endpoints: a request that moved there reaches the endpoint its key
    # chooses, the same as a request assigned there directly
    a = Upstream("a")
    b = Upstream("b")
    dead = free_port()
    opts = {n: {"balance": "hash", "hash_key": "header:X-Key"}
            for n in ("dead", "live")}
    cfg, port, aport, log = failover_config([dead], [a, b],
                                            cluster_opts=opts)
    start_sluice(cfg)
    c = Client(port)
    ends = set()
    for k in range(12):
        at = set()
        # one worker: the two requests of a key alternate between the
        # clusters, so one of them moved
        for j in range(2):
            r = c.request("GET", "/k%d/%d" % (k, j), [("X-Key", "k%d" % k)])
            eq(r.status, 200, "status (%r)" % r.body[:200])
            at.add(r.json()["upstream"])
        eq(len(at), 1, "endpoints of key k%d, moved or not" % k)
        ends |= at
    eq(ends, {"a", "b"}, "the keys spread over the live endpoints")
    moved = [e for e in log_lines(log, 24) if e["failures"]]
    eq(len(moved), 12, "requests that moved")


@test
def a_queued_request_moves_and_gives_its_place_back():
    # the dead cluster has room for one connection: a second request
    # waits in its queue. The endpoint goes away: the held request (a GET,
    # closed after it was sent: retried on its cluster, refused there,
    # then moved: three attempts) and the queued one (refused once woken)
    # both end on the live cluster, and neither cluster counts a request
    # as waiting afterwards
    release = threading.Event()

    def hold(req):
        release.wait(20)
        return None

    slow = Upstream("slow", handler=hold)
    live = Upstream("live")
    opts = {"dead": {"max_connections": 1, "max_pending": 10,
                     "queue_timeout": "10s"}}
    cfg, port, aport, log = failover_config(
        [slow], [live], sticky="header:X-User-Id", cluster_opts=opts,
        route_extra={"retry": {"attempts": 3}})
    start_sluice(cfg)
    # users of the dead cluster, found while the slow endpoint answers
    release.set()
    users = users_of(port, "slow", 2)
    release.clear()
    # pooled connections would let a request in without the queue
    slow.drop_connections()
    c1 = Client(port, timeout=30.0)
    c1.send(build_request("GET", "/first", {"X-User-Id": users[0]}))
    check(wait_until(lambda: any(r.target == "/first"
                                 for r in slow.requests), 5.0),
          "the first request held by the slow endpoint")
    c2 = Client(port, timeout=30.0)
    c2.send(build_request("GET", "/second", {"X-User-Id": users[1]}))
    check(wait_until(lambda: metrics(aport).get(
        'sluice_upstream_pending{cluster="dead"}') == 1, 5.0),
        "the second request waits in the dead cluster's queue")
    slow.stop()
    release.set()
    for cl, what in ((c1, "held"), (c2, "queued")):
        r = cl.read_response()
        eq(r.status, 200, "the %s request (%r)" % (what, r.body[:200]))
        eq(r.json()["upstream"], "live", "the %s request served by" % what)
    m = metrics(aport)
    for cl in ("dead", "live"):
        eq(m.get('sluice_upstream_pending{cluster="%s"}' % cl, 0), 0,
           "requests counted as waiting for %s" % cl)
    eq(sorted(r.target for r in live.requests
              if r.target in ("/first", "/second")), ["/first", "/second"],
       "requests the live cluster read")
    # and moves go on afterwards
    for i in range(4):
        r = Client(port).request("GET", "/after", [("X-User-Id", users[0])])
        eq(r.status, 200, "a move after the queue (%r)" % r.body[:200])



@test
def a_queued_request_moves_when_its_cluster_goes_down():
    # a request waits in the queue of a cluster whose one connection is
    # busy; the health checks take the cluster's endpoint out: the next
    # look at the queue finds no endpoint up, and the request leaves that
    # queue (its place given back) for the other cluster, while the
    # request in flight on the endpoint that went down finishes there
    release = threading.Event()
    health = {"status": 200}

    def handler(req):
        if req.target == "/health":
            return Reply(health["status"], b"")
        if req.target == "/first":
            release.wait(20)
        return None

    slow = Upstream("slow", handler=handler)
    live = Upstream("live")
    opts = {"dead": {"max_connections": 1, "max_pending": 10,
                     "queue_timeout": "10s",
                     # two failed checks take the endpoint out, with a
                     # timeout a loaded machine under ASan keeps: in CI a
                     # single failed check (the check's connection closed
                     # by drop_connections below, or 50 ms passed) took it
                     # out for one interval, and the second request,
                     # sent then, went straight to the live cluster
                     "health_check": {"path": "/health",
                                      "interval": "500ms",
                                      "timeout": "400ms", "unhealthy": 2,
                                      "healthy": 1}}}
    cfg, port, aport, log = failover_config(
        [slow], [live], sticky="header:X-User-Id", cluster_opts=opts)
    start_sluice(cfg)
    users = users_of(port, "slow", 2)
    slow.drop_connections()
    c1 = Client(port, timeout=30.0)
    c1.send(build_request("GET", "/first", {"X-User-Id": users[0]}))
    check(wait_until(lambda: any(r.target == "/first"
                                 for r in slow.requests), 5.0),
          "the first request held by the slow endpoint")
    c2 = Client(port, timeout=30.0)
    c2.send(build_request("POST", "/second", {"X-User-Id": users[1]},
                          body=b"amount=2"))
    check(wait_until(lambda: metrics(aport).get(
        'sluice_upstream_pending{cluster="dead"}') == 1, 5.0),
        "the second request waits in the dead cluster's queue")
    health["status"] = 503
    r = c2.read_response()
    eq(r.status, 200, "the queued request (%r)" % r.body[:200])
    eq(r.json()["upstream"], "live", "the queued request served by")
    m = metrics(aport)
    for cl in ("dead", "live"):
        eq(m.get('sluice_upstream_pending{cluster="%s"}' % cl, 0), 0,
           "requests counted as waiting for %s" % cl)
    check(m.get('sluice_cluster_no_healthy_total{cluster="dead"}', 0) >= 1,
          "the dead cluster counted as passed over")
    release.set()
    r = c1.read_response()
    eq(r.status, 200, "the request in flight on the endpoint taken out")
    eq(r.json()["upstream"], "slow", "served by")
    e = read_json_lines(log, lambda x: x["path"] == "/second", 5.0)
    eq(e[0]["failures"], [{"class": 1, "error": "no_healthy_upstream",
                           "upstream": "-"}], "failures of the queued one")


if __name__ == "__main__":
    main()
