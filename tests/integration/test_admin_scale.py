# SPDX-License-Identifier: MIT
"""What an operator sees of a platform's file (doc/operations.md "A
platform's size", issue 78 item 4): admin.route_metrics writes the routes'
series per route or, summed, one per listener with route="*" (auto: per
route up to 1,000 routes), and says which at info; /status pages and
searches its routes and clusters; /config is written in pieces (chunked,
or up to the close for HTTP/1.0) and holds every route of the file; -t
names every error of a large file."""

import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Upstream, check, eq, free_port, get, main,  # noqa: E402
                    make_config, run_sluice, start_sluice, test, tmpdir,
                    to_yaml, wait_until)

sltest.TEST_TIMEOUT = 120.0


def host_routes(n, cluster="a", every=None):
    """n routes, each to its own host mNNNNNN.pay.test (the issue's
    platform file); every: clusters by route number instead."""
    return [{"match": {"host": "m%06d.pay.test" % i},
             "cluster": every(i) if every else cluster} for i in range(n)]


def start(n_routes, route_metrics=None, routes=None, clusters=None):
    up = Upstream("up")
    aport = free_port()
    admin = {"address": "127.0.0.1:%d" % aport}
    if route_metrics is not None:
        admin["route_metrics"] = route_metrics
    cfg, port = make_config(clusters or {"a": [up]},
                            routes=routes or host_routes(n_routes),
                            workers=2, extra={"admin": admin})
    return start_sluice(cfg), port, aport, up


def series(aport, name):
    """{labels: value} of one family of /metrics."""
    r = get(aport, "/metrics")
    eq(r.status, 200, "/metrics")
    out = {}
    for line in r.body.decode().splitlines():
        m = re.match(r"^%s\{(.*)\} (\S+)$" % re.escape(name), line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def lines_of(aport):
    r = get(aport, "/metrics")
    return [x for x in r.body.decode().splitlines()
            if x and not x.startswith("#")]


def send(port, hosts):
    for h in hosts:
        r = get(port, "/", host=h)
        eq(r.status, 200, "a request to %s" % h)


@test
def route_metrics_on_writes_a_series_per_route():
    s, port, aport, up = start(3, "on")
    send(port, ["m000000.pay.test", "m000001.pay.test", "m000001.pay.test"])
    want = {'listener="main",route="route-1"': 1,
            'listener="main",route="route-2"': 2,
            'listener="main",route="route-3"': 0}
    check(wait_until(lambda: series(aport, "sluice_route_requests_total")
                     == want), "per route: %r" %
          series(aport, "sluice_route_requests_total"))
    check(not any('route="*"' in x for x in lines_of(aport)),
          "no route=\"*\" series with route_metrics: on")
    check(wait_until(lambda: "route_metrics: on" in s.stderr()),
          "the choice is logged: %s" % s.stderr()[-600:])
    s.stop()


@test
def route_metrics_off_writes_the_sums_per_listener():
    s, port, aport, up = start(3, "off")
    send(port, ["m000000.pay.test", "m000001.pay.test", "m000001.pay.test",
                "m000002.pay.test"])
    key = 'listener="main",route="*"'
    check(wait_until(lambda: series(aport, "sluice_route_requests_total")
                     == {key: 4}), "the sum: %r" %
          series(aport, "sluice_route_requests_total"))
    resp = series(aport, "sluice_route_responses_total")
    eq(resp['%s,class="2xx"' % key], 4, "2xx summed")
    eq(resp['%s,class="5xx"' % key], 0, "5xx summed")
    eq(len(resp), 5, "one series a class")
    dur = series(aport, "sluice_request_duration_seconds_count")
    eq(dur, {key: 4}, "the durations' count summed")
    inf = series(aport, "sluice_request_duration_seconds_bucket")
    eq(inf['%s,le="+Inf"' % key], 4, "+Inf bucket summed")
    check(not any('route="route-' in x for x in lines_of(aport)),
          "no per-route series with route_metrics: off")
    # the listener's own count (404s included) is still there
    check("sluice_listener_requests_total" in get(aport, "/metrics")
          .body.decode(), "sluice_listener_requests_total kept")
    check(wait_until(lambda: "route_metrics: off" in s.stderr()),
          "the choice is logged")
    cfg = json.loads(get(aport, "/config").body)
    eq(cfg["admin"]["route_metrics"], "off", "/config's admin.route_metrics")
    eq(cfg["admin"]["route_series"], False, "/config's route_series")
    s.stop()


@test
def route_metrics_auto_turns_at_a_thousand_routes():
    for n, each in ((1000, True), (1001, False)):
        s, port, aport, up = start(n)
        send(port, ["m000999.pay.test"])
        got = series(aport, "sluice_route_requests_total")
        if each:
            eq(len(got), 1000, "a series per route at %d routes" % n)
            check(wait_until(lambda: series(
                aport, "sluice_route_requests_total").get(
                    'listener="main",route="route-1000"') == 1),
                  "the route's own count")
            why = "auto, 1000 routes, at most 1000"
        else:
            check(wait_until(lambda: series(
                aport, "sluice_route_requests_total") ==
                {'listener="main",route="*"': 1}),
                "the sum alone at %d routes: %r" % (n, got))
            why = "auto, 1001 routes, more than 1000"
        check(wait_until(lambda: why in s.stderr()),
              "logged at info with why (%s): %s" % (why, s.stderr()[-600:]))
        eq(s.stderr().count("admin.route_metrics"), 1, "logged once")
        s.stop()


def status(aport, query=""):
    r = get(aport, "/status" + query)
    eq(r.status, 200, "/status" + query)
    return r.json()


@test
def status_pages_and_searches_routes_and_clusters():
    names = ["c%d" % i for i in range(150)]
    up = Upstream("up")
    s, port, aport, _ = start(
        250, routes=host_routes(250, every=lambda i: names[i % 150]),
        clusters={n: [up] for n in names})
    st = status(aport)
    lst = st["listeners"][0]
    eq(len(lst["routes"]), 100, "100 routes by default")
    eq((lst["routes_total"], lst["routes_matched"], lst["routes_offset"]),
       (250, 250, 0), "the routes' totals")
    eq(lst["routes"][0]["name"], "route-1", "the first page")
    eq(len(st["clusters"]), 100, "100 clusters by default")
    eq((st["clusters_total"], st["clusters_matched"]), (150, 150),
       "the clusters' totals")
    st = status(aport, "?routes_offset=200&routes_limit=100")
    lst = st["listeners"][0]
    eq([r["name"] for r in lst["routes"]],
       ["route-%d" % i for i in range(201, 251)], "the last page")
    eq(lst["routes_offset"], 200, "its offset")
    # a host, in any case, percent-encoded
    st = status(aport, "?routes_q=M00012%33")
    lst = st["listeners"][0]
    eq([r["name"] for r in lst["routes"]], ["route-124"], "found by host")
    eq(lst["routes_matched"], 1, "routes_matched")
    eq(st["page"]["routes_q"], "m000123", "the search, decoded")
    # a cluster's name finds its routes
    lst = status(aport, "?routes_q=c149&routes_limit=10")["listeners"][0]
    eq([r["name"] for r in lst["routes"]], ["route-150"], "by cluster")
    st = status(aport, "?clusters_q=c14&clusters_offset=5&clusters_limit=3")
    eq(st["clusters_matched"], 11, "c14, c140..c149")
    eq([c["name"] for c in st["clusters"]], ["c144", "c145", "c146"],
       "a page of the clusters found")
    eq(len(st["listeners"][0]["routes"]), 100,
       "the clusters' search leaves the routes alone")
    # nonsense is the default, not an error
    st = status(aport, "?routes_limit=x&routes_offset=-3&zzz=1")
    eq(len(st["listeners"][0]["routes"]), 100, "a bad limit: the default")
    eq(st["listeners"][0]["routes_offset"], 0, "a bad offset: 0")
    eq(len(status(aport, "?routes_limit=0")["listeners"][0]["routes"]), 0,
       "routes_limit=0: totals only")
    s.stop()


def raw_get(aport, path, version):
    sock = socket.create_connection(("127.0.0.1", aport), timeout=10)
    sock.sendall(("GET %s HTTP/%s\r\nHost: 127.0.0.1:%d\r\n\r\n"
                  % (path, version, aport)).encode())
    data = b""
    while True:
        b = sock.recv(1 << 16)
        if not b:
            break
        data += b
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body


def dechunk(body):
    out, i = b"", 0
    while True:
        j = body.index(b"\r\n", i)
        n = int(body[i:j], 16)
        if n == 0:
            eq(body[j:], b"\r\n\r\n", "the chunked body's end")
            return out
        out += body[j + 2:j + 2 + n]
        eq(body[j + 2 + n:j + 4 + n], b"\r\n", "a chunk's end")
        i = j + 4 + n


@test
def config_is_written_in_pieces_and_holds_every_route():
    n = 5000
    s, port, aport, up = start(n)
    head, body = raw_get(aport, "/config", "1.1")
    check("Transfer-Encoding: chunked" in head and
          "Content-Length" not in head, "chunked: %s" % head)
    chunks = len(re.findall(rb"\r\n[0-9a-f]+\r\n", body)) + 1
    check(chunks > 10, "written in pieces: %d chunks" % chunks)
    cfg = json.loads(dechunk(body))
    routes = cfg["listeners"][0]["routes"]
    eq(len(routes), n, "every route")
    eq([r["match"]["host"] for r in routes],
       ["m%06d.pay.test" % i for i in range(n)], "in the file's order")
    head10, body10 = raw_get(aport, "/config", "1.0")
    check("chunked" not in head10 and "Content-Length" not in head10,
          "HTTP/1.0: up to the close: %s" % head10)
    eq(json.loads(body10), cfg, "the same page")
    s.stop()


@test
def check_names_every_error_of_a_large_file():
    n, bad = 20000, 200
    d = tmpdir()
    path = os.path.join(d, "big.yaml")
    routes = host_routes(n)
    for k in range(bad):
        routes[k * (n // bad) + 7]["cluster"] = "nosuch"
    cfg, _ = make_config({"a": ["127.0.0.1:9"]}, routes=routes)
    with open(path, "w") as f:
        f.write(to_yaml(cfg))
    rc, out, err = run_sluice(["-t", "-c", path], timeout=90)
    eq(rc, 1, "-t fails")
    errs = [x for x in err.splitlines() if ": error: " in x]
    eq(len(errs), bad, "every error named")
    eq([re.search(r'route "([^"]+)"', x).group(1) for x in errs],
       ["route-%d" % (k * (n // bad) + 8) for k in range(bad)],
       "each bad route, in the file's order")


if __name__ == "__main__":
    main()
