# SPDX-License-Identifier: MIT
"""Rate limits (doc/edge.md section 6) through the real binary: a local
limit exact across two workers, keys by client address, header, cookie and
route, requests without the key, the 429 and its fields, nothing at the
upstream for a refused request, the counters, reloads that keep or reset a
limit's buckets, a bounded table.

No time is asserted: counts are compared with what the limit allows over
the time measured around a run (rate x elapsed + burst, an upper bound),
and the lower bounds are generous."""

import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (BufSock, Client, Closed, Upstream,  # noqa: E402
                    assert_error, build_request, check, eq, free_port, get,
                    main, make_config, metric_sum, metrics, read_response,
                    sighup_reload, start_sluice, test, to_yaml, wait_until)

# ---------------------------------------------------------------------------
# Helpers


def admin():
    port = free_port()
    return port, {"admin": {"address": "127.0.0.1:%d" % port}}


def limited_config(up, limits, workers=1, extra=None, routes=None):
    """One listener, one route "pay" to cluster c with the limits given;
    an admin listener. Returns (config, port, admin port)."""
    aport, adm = admin()
    extra = dict(extra or {}, **adm)
    if routes is None:
        routes = [{"name": "pay", "cluster": "c", "rate_limit": limits}]
    cfg, port = make_config({"c": [up]}, routes=routes, workers=workers,
                            extra=extra)
    return cfg, port, aport


def request_from(port, source, headers=None, method="GET", path="/"):
    """One request on a new connection from the source address given."""
    s = socket.create_connection(("127.0.0.1", port), 5.0,
                                 source_address=(source, 0))
    s.settimeout(5.0)
    try:
        s.sendall(build_request(method, path, headers))
        return read_response(BufSock(s), method)
    finally:
        s.close()


def hammer(ports, seconds, threads, headers=None):
    """Requests on new connections (spread over the workers) from
    `threads` threads to each port in turn for `seconds`. Returns (the
    statuses counted, elapsed seconds measured around the whole run, the
    longest single request in seconds)."""
    counts = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    longest = [0.0]

    def run(i):
        n = 0
        while time.monotonic() < stop:
            port = ports[n % len(ports)]
            n += 1
            t0 = time.monotonic()
            try:
                st = get(port, "/", headers=headers, timeout=5.0).status
            except (OSError, Closed):
                st = "error"
            dt = time.monotonic() - t0
            with lock:
                counts[st] = counts.get(st, 0) + 1
                longest[0] = max(longest[0], dt)
    th = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    t0 = time.monotonic()
    for t in th:
        t.start()
    for t in th:
        t.join()
    return counts, time.monotonic() - t0, longest[0]


RETRY_AFTER = re.compile(r"^[1-9][0-9]*$")


def check_429(r, name, q, w):
    """A rate limit's refusal: the JSON error, Retry-After, and the
    fields of draft-ietf-httpapi-ratelimit-headers."""
    assert_error(r, 429, "rate_limited")
    ra = r.header("retry-after") or ""
    check(RETRY_AFTER.match(ra), "Retry-After %r" % ra)
    eq(r.header("ratelimit-policy"), '"%s";q=%d;w=%d' % (name, q, w),
       "RateLimit-Policy")
    eq(r.header("ratelimit"), '"%s";r=0;t=%s' % (name, ra), "RateLimit")
    return int(ra)


# ---------------------------------------------------------------------------
# Local limits


@test
def local_limit_exact_across_two_workers():
    up = Upstream()
    rate, burst = 40, 10
    cfg, port, aport = limited_config(
        up, [{"name": "all", "key": "route", "rate": "%d/s" % rate,
              "burst": burst}], workers=2)
    start_sluice(cfg)
    counts, elapsed, _ = hammer([port], 2.5, 6)
    ok, refused = counts.get(200, 0), counts.get(429, 0)
    eq(set(counts) - {200, 429}, set(), "statuses other than 200 and 429")
    # exact across the workers: never more than one bucket's worth (two
    # tables would admit twice that)
    bound = rate * elapsed + burst
    print("# %d admitted, %d refused in %.2f s: %.1f %% of rate x elapsed "
          "+ burst" % (ok, refused, elapsed, 100.0 * ok / bound))
    check(ok <= bound, "%d admitted in %.2f s: more than %.1f (rate x "
          "elapsed + burst)" % (ok, elapsed, bound))
    check(ok >= burst and refused > ok,
          "admitted %d, refused %d: the clients did not reach the limit"
          % (ok, refused))
    eq(len(up.requests), ok, "requests the upstream saw")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_rate_limited_total", listener="main",
                  route="pay", limit="all"), refused, "rate_limited_total")
    eq(metric_sum(m, "sluice_rate_limit_admitted_total", route="pay",
                  limit="all"), ok, "rate_limit_admitted_total")


@test
def refusal_fields_keepalive_and_nothing_upstream():
    up = Upstream()
    cfg, port, aport = limited_config(
        up, [{"name": "per-key", "key": "header:X-Api-Key", "rate": "6/m",
              "burst": 2}])
    start_sluice(cfg)
    c = Client(port)
    for i in range(2):
        eq(c.request(headers={"X-Api-Key": "k1"}).status, 200,
           "request %d within the burst" % (i + 1))
    r = c.request(headers={"X-Api-Key": "k1"})
    ra = check_429(r, "per-key", 6, 60)
    # one per 10 s: the next cell is 10 s away, said whole
    check(1 <= ra <= 10, "Retry-After %d" % ra)
    check(not r.wants_close(), "a 429 keeps the connection: %r" % r)
    # the same connection carries on; another key is not limited
    eq(c.request(headers={"X-Api-Key": "k2"}).status, 200, "another key")
    eq(len(up.requests), 3, "requests the upstream saw")
    # a body already here is read: the connection is kept
    r = c.request("POST", headers={"X-Api-Key": "k1"}, body=b"amount=100")
    check_429(r, "per-key", 6, 60)
    check(not r.wants_close(), "a 429 after the whole body keeps the "
          "connection: %r" % r)
    eq(c.request(headers={"X-Api-Key": "k2"}).status, 200,
       "the next request on it")
    eq(len(up.requests), 4, "requests the upstream saw")
    # a request whose body was not read closes the connection
    c2 = Client(port)
    c2.send(b"POST / HTTP/1.1\r\nHost: x\r\nX-Api-Key: k1\r\n"
            b"Content-Length: 10\r\n\r\n")
    r = c2.read_response()
    check_429(r, "per-key", 6, 60)
    check(r.wants_close(), "a 429 before the body was read closes: %r" % r)
    check(c2.wait_closed(), "the connection closes")
    # HEAD: the fields, no body
    c3 = Client(port)
    r = c3.request("HEAD", headers={"X-Api-Key": "k1"})
    eq((r.status, r.body), (429, b""), "HEAD refused")
    check(r.header("ratelimit") is not None, "RateLimit on HEAD")
    eq(len(up.requests), 4, "requests the upstream saw")
    eq(metric_sum(metrics(aport), "sluice_rate_limited_total",
                  limit="per-key"), 4, "refusals counted")


@test
def keys_by_address_header_cookie_and_route():
    up = Upstream()
    limits = [
        {"name": "ip", "key": "client_ip", "rate": "1/h", "burst": 3},
        {"name": "key", "key": "header:X-Api-Key", "rate": "1/h",
         "burst": 2},
        {"name": "session", "key": "cookie:sid", "rate": "1/h",
         "burst": 1},
    ]
    routes = [{"name": "pay", "match": {"path_prefix": "/pay"},
               "cluster": "c", "rate_limit": limits},
              {"name": "all", "match": {"path_prefix": "/all"},
               "cluster": "c",
               "rate_limit": [{"name": "breaker", "key": "route",
                               "rate": "1/h", "burst": 2}]}]
    cfg, port, aport = limited_config(up, None, routes=routes)
    start_sluice(cfg)

    def st(src, headers=None, path="/pay"):
        return request_from(port, src, headers, path=path).status
    # by header: a request without the key is not limited by that limit
    eq(st("127.0.0.2", {"X-Api-Key": "a"}), 200, "key a #1")
    eq(st("127.0.0.3", {"X-Api-Key": "a"}), 200, "key a #2")
    eq(st("127.0.0.4", {"X-Api-Key": "a"}), 429, "key a #3")
    eq(st("127.0.0.4", {"X-Api-Key": "b"}), 200, "key b")
    # by cookie, among others
    eq(st("127.0.0.5", {"Cookie": "x=1; sid=s1"}), 200, "cookie s1 #1")
    eq(st("127.0.0.6", {"Cookie": "sid=s1"}), 429, "cookie s1 #2")
    eq(st("127.0.0.6", {"Cookie": "sid=s2"}), 200, "cookie s2")
    # by address: 127.0.0.6 has had one (the refused one gave its cell
    # back: the cookie limit after it refused), two more, then no more
    eq(st("127.0.0.6"), 200, "address 127.0.0.6, 2nd")
    eq(st("127.0.0.6"), 200, "address 127.0.0.6, 3rd")
    eq(st("127.0.0.6"), 429, "address 127.0.0.6, 4th")
    eq(st("127.0.0.7"), 200, "address 127.0.0.7")
    # the refused ones reached nobody
    eq(len(up.requests), 8, "requests the upstream saw")
    # one bucket for the route, whoever asks
    eq(st("127.0.0.8", path="/all"), 200, "route #1")
    eq(st("127.0.0.9", path="/all"), 200, "route #2")
    eq(st("127.0.0.10", path="/all"), 429, "route #3")
    m = metrics(aport)
    for name, n in (("ip", 1), ("key", 1), ("session", 1), ("breaker", 1)):
        eq(metric_sum(m, "sluice_rate_limited_total", limit=name), n,
           "refusals of %s" % name)


@test
def a_refusal_gives_back_what_earlier_limits_took():
    up = Upstream()
    # the key limit refuses after the address limit took a cell: the
    # address gets it back, and keeps its three
    cfg, port, aport = limited_config(
        up, [{"name": "ip", "key": "client_ip", "rate": "1/h", "burst": 3},
             {"name": "key", "key": "header:X-Api-Key", "rate": "1/h",
              "burst": 1}])
    start_sluice(cfg)
    eq(request_from(port, "127.0.0.2", {"X-Api-Key": "a"}).status, 200,
       "first")
    for i in range(5):
        eq(request_from(port, "127.0.0.2", {"X-Api-Key": "a"}).status, 429,
           "key a again, #%d" % i)
    eq(request_from(port, "127.0.0.2", {"X-Api-Key": "b"}).status, 200,
       "key b: the address has cells left")
    eq(request_from(port, "127.0.0.2", {"X-Api-Key": "c"}).status, 200,
       "key c")
    r = request_from(port, "127.0.0.2", {"X-Api-Key": "d"})
    check_429(r, "ip", 1, 3600)
    m = metrics(aport)
    eq(metric_sum(m, "sluice_rate_limit_admitted_total", limit="ip"), 3,
       "admitted by the address limit")


def write_config(sl, cfg):
    with open(sl.conf_path, "w") as f:
        f.write(to_yaml(cfg) + "\n")


@test
def reload_keeps_an_unchanged_limit_and_resets_a_changed_one():
    up = Upstream()
    lim = {"name": "per-key", "key": "header:X-Api-Key", "rate": "1/h",
           "burst": 2}
    cfg, port, aport = limited_config(up, [dict(lim)])
    sl = start_sluice(cfg)
    hdr = {"X-Api-Key": "k"}
    eq([get(port, headers=hdr).status for _ in range(3)], [200, 200, 429],
       "at the limit")
    # a reload that changes something else (a new route) keeps the
    # limit's buckets
    cfg["listeners"][0]["routes"].insert(0, {
        "name": "probe", "match": {"path": "/probe"}, "cluster": "c"})
    write_config(sl, cfg)
    eq(sighup_reload(sl, aport)[0], "ok", "reload")
    check(wait_until(lambda: get(port, "/probe").status == 200, 5.0),
          "the new generation is not applied")
    eq(get(port, headers=hdr).status, 429, "still limited after SIGHUP")
    # changed (another burst): fresh buckets
    cfg["listeners"][0]["routes"][1]["rate_limit"][0]["burst"] = 3
    cfg["listeners"][0]["routes"][0]["match"]["path"] = "/probe2"
    write_config(sl, cfg)
    eq(sighup_reload(sl, aport)[0], "ok", "reload")
    check(wait_until(lambda: get(port, "/probe2").status == 200, 5.0),
          "the new generation is not applied")
    eq([get(port, headers=hdr).status for _ in range(4)],
       [200, 200, 200, 429], "a changed limit starts over")


@test
def max_keys_bounds_the_table():
    up = Upstream()
    cfg, port, aport = limited_config(
        up, [{"name": "per-key", "key": "header:X-Api-Key", "rate": "1/h",
              "burst": 1, "max_keys": 16}])
    start_sluice(cfg)
    c = Client(port)
    eq(c.request(headers={"X-Api-Key": "warm-up"}).status, 200, "warm-up")

    def rss():
        return metrics(aport)["process_resident_memory_bytes"]
    rss0 = rss()
    n = 1500
    for i in range(n):
        eq(c.request(headers={"X-Api-Key": "key-%d" % i}).status, 200,
           "key %d, new" % i)
    # more keys than slots: the oldest go (and would start over)
    m = metrics(aport)
    ev = metric_sum(m, "sluice_rate_limit_evictions_total", limit="per-key")
    check(ev >= n - 16, "evictions %d for %d keys in 16 slots" % (ev, n))
    # a table of 16 slots does not grow with the keys
    check(rss() - rss0 < 4 << 20, "resident memory grew by %d bytes"
          % (rss() - rss0))


if __name__ == "__main__":
    main()
