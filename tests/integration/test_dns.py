# SPDX-License-Identifier: MIT
"""Endpoints by name (doc/fleet.md section 2), through the real binary:
a DNS server the test runs (dnstest.py, on Debian's python3-dnslib)
answers for the names of the clusters' endpoints, and the test changes
its answers while requests flow. An address replaced at its TTL takes the
traffic with no failed request; a vanished address finishes its request
in flight and its pooled connections close; SRV records give targets,
ports and weights; AAAA records; a resolver that stops answering, and an
NXDOMAIN, keep the last answer for keep_stale, after which the cluster
answers 503 no_upstream_address; an answer too large for UDP comes by TCP;
sluice -t warns about names that do not resolve; start-up and a reload
wait for new names' first answers; health state stays with an address
that remains. The upstreams listen on other loopback addresses
(127.0.0.2, ::1) to stand for other machines."""

import json
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Reply, Upstream, assert_error,  # noqa: E402
                    check, eq, free_port, get, main, make_config, metrics,
                    run_sluice, start_sluice, test, tmpdir, wait_until)

try:
    from dnstest import DnsServer
except ImportError:  # python3-dnslib missing: every test skips
    DnsServer = None


def dns_server():
    if DnsServer is None:
        raise sltest.Skip("python3-dnslib is not installed")
    d = DnsServer()
    sltest._register("upstreams", d)
    return d


def fleet_config(dns, endpoints, dns_opts=None, extra_clusters=None,
                 routes=None, attempts=1):
    """One cluster "pay" with endpoints (names or addresses), the test's
    nameserver, an admin listener. Returns (config, port, admin port)."""
    aport = free_port()
    opts = {"pay": {"dns": dict({"min_ttl": "200ms"}, **(dns_opts or {}))}}
    clusters = {"pay": endpoints}
    for name, (eps, o) in (extra_clusters or {}).items():
        clusters[name] = eps
        opts[name] = o
    cfg, port = make_config(
        clusters, routes=routes, workers=2, cluster_opts=opts,
        extra={"admin": {"address": "127.0.0.1:%d" % aport},
               "resolver": {"nameservers": [dns.addr], "timeout": "500ms",
                            "attempts": attempts}})
    return cfg, port, aport


def config_page(aport):
    r = get(aport, "/config")
    eq(r.status, 200, "/config")
    return r.json()


def resolved(aport, cluster="pay"):
    """{address: weight} the cluster's names resolve to now."""
    for c in config_page(aport)["clusters"]:
        if c["name"] == cluster:
            out = {}
            for e in c["endpoints"]:
                for r in e.get("resolved", []):
                    out[r["address"]] = r["weight"]
            return out
    raise AssertionError("no cluster %s" % cluster)


class Traffic:
    """Requests without pause from a thread, on a keep-alive connection
    and on new ones in turn, until stopped; every answer recorded."""

    def __init__(self, port, path="/"):
        self.port = port
        self.path = path
        self.stopping = threading.Event()
        self.statuses = []
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        ka = None
        n = 0
        while not self.stopping.is_set():
            try:
                if n % 2 == 0:
                    if ka is None:
                        ka = Client(self.port)
                    r = ka.request("GET", self.path)
                else:
                    c = Client(self.port)
                    r = c.request("GET", self.path)
                    c.close()
                self.statuses.append(r.status)
            except Exception as e:  # a failed request is a finding
                self.errors.append(repr(e))
                ka = None
            n += 1
            time.sleep(0.002)

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        return self

    def failed(self):
        return [s for s in self.statuses if s != 200] + self.errors


@test
def an_address_replaced_at_its_ttl_fails_no_request():
    dns = dns_server()
    port = free_port()
    u1 = Upstream("u1", port=port)
    u2 = Upstream("u2", port=port, host="127.0.0.2")
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % port],
                                     {"family": "ipv4"})
    s = start_sluice(cfg)
    eq(resolved(aport), {"127.0.0.1:%d" % port: 1}, "the first answer")
    t = Traffic(lport)
    check(u1.wait_requests(20, 5), "u1 serves")
    t0 = time.monotonic()
    dns.set("pay.test", a=["127.0.0.2"], ttl=1)
    check(wait_until(lambda: len(u2.requests) > 0, 10), "u2 gets requests")
    took = time.monotonic() - t0
    print("# the new address served %.2f s after the change (TTL 1 s)"
          % took)
    # each worker takes the new generation at its next turn: once u2 has
    # served a few, u1 gets nothing more
    check(u2.wait_requests(20, 10), "u2 serves")
    n1 = len(u1.requests)
    check(u2.wait_requests(70, 10), "u2 serves on")
    t.stop()
    eq(t.failed(), [], "failed requests while the address changed")
    eq(len(u1.requests), n1, "requests to u1 once u2 served 20")
    eq(resolved(aport), {"127.0.0.2:%d" % port: 1}, "the answer now")
    m = metrics(aport)
    check(m['sluice_dns_lookups_total{cluster="pay",name="pay.test:%d",'
            'result="ok"}' % port] >= 2, "lookups counted")
    eq(m['sluice_cluster_endpoints{cluster="pay"}'], 1, "endpoints")
    check(m["sluice_dns_updates_total"] >= 1, "a generation for the answer")
    s.stop()
    check("dns: cluster \"pay\": pay.test:%d: 1 address (ttl 1 s): "
          "+127.0.0.2:%d -127.0.0.1:%d" % (port, port, port) in s.stderr(),
          "the change is logged")


@test
def a_vanished_address_finishes_its_request_and_closes_its_pool():
    dns = dns_server()
    port = free_port()

    def slow(req):
        if req.target == "/slow":
            return Reply(200, b"slow done", delay=2.0)
        return Reply(200, b"u1")
    u1 = Upstream("u1", handler=slow, port=port)
    u2 = Upstream("u2", port=port, host="127.0.0.2")
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % port],
                                     {"family": "ipv4"})
    s = start_sluice(cfg)
    # a pooled connection to u1, then a slow request on another
    eq(get(lport, "/").status, 200, "a request to u1")
    slow_c = Client(lport)
    slow_c.send(sltest.build_request("GET", "/slow",
                                     [("Host", "test.local")]))
    check(wait_until(lambda: "/slow" in u1.paths(), 3), "the slow request "
          "reached u1")
    dns.set("pay.test", a=["127.0.0.2"], ttl=1)
    check(wait_until(lambda: "127.0.0.2:%d" % port in resolved(aport), 10),
          "the new answer runs")
    r = slow_c.read_response()
    eq((r.status, r.body), (200, b"slow done"), "the request in flight on "
       "the vanished address")
    slow_c.close()
    eq(get(lport, "/").status, 200, "a request after")
    check(len(u2.requests) >= 1, "u2 took it")
    # u1's pooled connections are closed by sluice (retired endpoint)
    check(wait_until(lambda: all(c.closed_by_peer.is_set()
                                 for c in u1.conns), 10),
          "u1's connections closed")
    s.stop()


@test
def srv_records_give_targets_ports_and_weights():
    dns = dns_server()
    a = Upstream("a")
    b = Upstream("b", host="127.0.0.2")
    dns.set("_http._tcp.pay.test",
            srv=[(0, 10, a.port, "a.pay.test"), (0, 30, b.port, "b.pay.test"),
                 (5, 100, 9, "backup.pay.test")],
            glue={"a.pay.test": ["127.0.0.1"]}, ttl=1)
    dns.set("b.pay.test", a=["127.0.0.2"], ttl=1)
    cfg, lport, aport = fleet_config(dns, [{"srv": "_http._tcp.pay.test"}],
                                     {"family": "ipv4"})
    s = start_sluice(cfg)
    eq(resolved(aport), {"127.0.0.1:%d" % a.port: 10,
                         "127.0.0.2:%d" % b.port: 30},
       "the lowest priority's targets, ports and weights")
    c = Client(lport)
    for _ in range(40):
        eq(c.request("GET", "/").status, 200, "status")
    eq((len(a.requests), len(b.requests)), (10, 30), "requests by weight")
    check(dns.count("b.pay.test", "A") >= 1, "a target without glue is "
          "looked up")
    # a target leaves
    t0 = time.monotonic()
    dns.set("_http._tcp.pay.test", srv=[(0, 10, b.port, "b.pay.test")],
            ttl=1)
    check(wait_until(lambda: resolved(aport) ==
                     {"127.0.0.2:%d" % b.port: 10}, 10),
          "the record set changed: %r" % resolved(aport))
    print("# the SRV change ran %.2f s after it (TTL 1 s)"
          % (time.monotonic() - t0))
    n = len(a.requests)
    for _ in range(10):
        eq(c.request("GET", "/").status, 200, "status")
    eq(len(a.requests), n, "a gets nothing more")
    c.close()
    s.stop()


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@test
def aaaa_records():
    if not have_ipv6():
        raise sltest.Skip("no IPv6 loopback")
    dns = dns_server()
    u = Upstream("u6", host="::1")
    dns.set("pay.test", a=["127.0.0.9"], aaaa=["::1"], ttl=2)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % u.port],
                                     {"family": "ipv6"})
    s = start_sluice(cfg)
    eq(resolved(aport), {"[::1]:%d" % u.port: 1}, "AAAA only")
    eq(get(lport, "/").status, 200, "served over IPv6")
    check(len(u.requests) == 1, "by the IPv6 upstream")
    check(dns.count("pay.test", "A") == 0, "no A query with family ipv6")
    s.stop()
    # any: both families
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % u.port])
    s = start_sluice(cfg)
    eq(resolved(aport), {"[::1]:%d" % u.port: 1,
                         "127.0.0.9:%d" % u.port: 1}, "A and AAAA")
    s.stop()
    # an AAAA answer that changes at its TTL: the IPv6 server goes, an
    # IPv4 one takes over, with no failed request
    u4 = Upstream("u4", port=u.port)
    dns.set("pay.test", aaaa=["::1"], ttl=1)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % u.port])
    s = start_sluice(cfg)
    eq(resolved(aport), {"[::1]:%d" % u.port: 1}, "AAAA alone")
    t = Traffic(lport)
    check(u.wait_requests(10, 5), "the IPv6 server serves")
    t0 = time.monotonic()
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    check(wait_until(lambda: len(u4.requests) > 0, 10),
          "the IPv4 server gets requests")
    print("# the AAAA answer's change served %.2f s after it (TTL 1 s)"
          % (time.monotonic() - t0))
    check(u4.wait_requests(20, 10), "the IPv4 server serves")
    t.stop()
    eq(t.failed(), [], "failed requests while the answer changed")
    eq(resolved(aport), {"127.0.0.1:%d" % u.port: 1}, "the answer now")
    s.stop()


@test
def a_resolver_that_stops_answering_keeps_the_last_answer():
    dns = dns_server()
    u = Upstream("u")
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % u.port],
                                     {"family": "ipv4"})
    s = start_sluice(cfg)
    dns.down = True
    t = Traffic(lport)
    key = ('sluice_dns_lookups_total{cluster="pay",name="pay.test:%d",'
           'result="timeout"}' % u.port)
    check(wait_until(lambda: metrics(aport).get(key, 0) >= 2, 15),
          "lookups time out")
    t.stop()
    eq(t.failed(), [], "failed requests while the resolver is down")
    check(len(t.statuses) > 50, "requests were made")
    eq(resolved(aport), {"127.0.0.1:%d" % u.port: 1}, "the last answer")
    age = metrics(aport)['sluice_dns_answer_age_seconds{cluster="pay",'
                         'name="pay.test:%d"}' % u.port]
    check(age >= 1.0, "the answer's age grows: %r" % age)
    page = config_page(aport)["clusters"][0]["endpoints"][0]["dns"]
    eq(page["result"], "timeout", "/config says the last lookup's result")
    check(page["stale_ms"] is not None, "and since when it is stale")
    dns.down = False
    check(wait_until(lambda: metrics(aport)[
        'sluice_dns_answer_age_seconds{cluster="pay",name="pay.test:%d"}'
        % u.port] < 1.0, 40), "answered again")
    s.stop()
    check("the last answer (1 address) stands for up to 600.0 s" in
          s.stderr(), "the warning says what stands and how long")


@test
def nxdomain_keeps_the_answer_for_keep_stale_then_503():
    dns = dns_server()
    u = Upstream("u")
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % u.port],
                                     {"family": "ipv4",
                                      "keep_stale": "3s"})
    s = start_sluice(cfg)
    dns.remove("pay.test")
    key = ('sluice_dns_lookups_total{cluster="pay",name="pay.test:%d",'
           'result="nxdomain"}' % u.port)
    check(wait_until(lambda: metrics(aport).get(key, 0) >= 1, 10),
          "an NXDOMAIN came")
    eq(get(lport, "/").status, 200, "kept while keep_stale lasts")
    check(wait_until(lambda: resolved(aport) == {}, 15),
          "dropped after keep_stale")
    r = get(lport, "/")
    assert_error(r, 503, "no_upstream_address")
    eq(r.header("retry-after"), "1", "Retry-After")
    eq(metrics(aport)['sluice_cluster_endpoints{cluster="pay"}'], 0,
       "no endpoint")
    # back
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    check(wait_until(lambda: get(lport, "/").status == 200, 40),
          "served again once the name is back")
    s.stop()
    check("its 1 address dropped" in s.stderr(), "the drop is logged")


@test
def an_answer_too_large_for_udp_comes_by_tcp():
    dns = dns_server()
    addrs = ["127.0.0.%d" % i for i in range(10, 90)]
    dns.set("many.test", a=addrs, ttl=30)
    cfg, lport, aport = fleet_config(dns, ["many.test:9"],
                                     {"family": "ipv4"})
    s = start_sluice(cfg)
    eq(sorted(resolved(aport)), sorted("%s:9" % a for a in addrs),
       "every address of the large answer")
    check(dns.count("many.test", "A") >= 2, "asked twice")
    with dns.lock:
        tcp = dns.queries.get(("many.test", "A", "tcp"), 0)
    check(tcp >= 1, "once by TCP")
    s.stop()


@test
def check_mode_warns_about_names_that_do_not_resolve():
    dns = dns_server()
    dns.set("pay.test", a=["127.0.0.1"])
    cfg, lport, aport = fleet_config(dns, ["pay.test:80", "nope.test:80",
                                           {"srv": "_x._tcp.nope.test"}],
                                     {"family": "ipv4"})
    path = os.path.join(tmpdir(), "t.yaml")
    with open(path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", path], timeout=20)
    eq(rc, 0, "exit status of -t: %s" % err)
    eq(out, "configuration OK\n", "stdout of -t")
    lines = [x for x in err.splitlines() if x]
    eq(len(lines), 2, "one warning per name that does not resolve: %r"
       % lines)
    check(lines[0].startswith(path + ":") and
          'warning: cluster "pay": nope.test:80 does not resolve '
          '(nxdomain)' in lines[0], "the first warning: %r" % lines[0])
    check("srv:_x._tcp.nope.test does not resolve (nxdomain)" in lines[1],
          "the second: %r" % lines[1])


@test
def start_up_and_a_reload_wait_for_first_answers():
    dns = dns_server()
    u = Upstream("u")
    dns.down = True
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % u.port],
                                     {"family": "ipv4"})
    # the resolver down: it starts after its tries, with no address
    s = start_sluice(cfg)
    assert_error(get(lport, "/"), 503, "no_upstream_address")
    dns.down = False
    check(wait_until(lambda: get(lport, "/").status == 200, 40),
          "served once the resolver answers")
    # a reload that adds a cluster by name: its first request is served
    v = Upstream("v")
    dns.set("new.test", a=["127.0.0.1"], ttl=5)
    cfg["clusters"].append({"name": "new",
                            "endpoints": ["new.test:%d" % v.port]})
    cfg["listeners"][0]["routes"].insert(
        0, {"name": "new", "match": {"path_prefix": "/new"},
            "cluster": "new"})
    with open(s.conf_path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    gen = config_page(aport)["generation"]
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: config_page(aport)["generation"] > gen, 10),
          "the reload applied")
    eq(get(lport, "/new").status, 200, "the new cluster's first request")
    eq(len(v.requests), 1, "served by it")
    s.stop()


@test
def health_state_stays_with_an_address_that_remains():
    dns = dns_server()
    port = free_port()

    def sick(req):
        return Reply(500 if req.target == "/health" else 200, b"x")
    good = Upstream("good", port=port)
    bad = Upstream("bad", handler=sick, port=port, host="127.0.0.2")
    third = Upstream("third", port=port, host="127.0.0.3")
    dns.set("pay.test", a=["127.0.0.1", "127.0.0.2"], ttl=1)
    cfg, lport, aport = fleet_config(dns, ["pay.test:%d" % port],
                                     {"family": "ipv4"})
    cfg["clusters"][0]["health_check"] = {"path": "/health",
                                          "interval": "200ms",
                                          "timeout": "100ms"}
    s = start_sluice(cfg)

    def state():
        out = {}
        for e in config_page(aport)["clusters"][0]["endpoints"][0][
                "resolved"]:
            out[e["address"]] = e.get("healthy")
        return out
    check(wait_until(lambda: state().get("127.0.0.2:%d" % port) is False,
                     10), "the bad address is out: %r" % state())
    failed0 = [e for e in config_page(aport)["clusters"][0]["endpoints"][0]
               ["resolved"] if e["address"].startswith("127.0.0.2")][0][
        "checks_failed"]
    dns.set("pay.test", a=["127.0.0.1", "127.0.0.2", "127.0.0.3"], ttl=1)
    check(wait_until(lambda: len(state()) == 3, 10), "three addresses")
    st = state()
    eq(st["127.0.0.2:%d" % port], False, "still out: its state stayed")
    after = [e for e in config_page(aport)["clusters"][0]["endpoints"][0]
             ["resolved"] if e["address"].startswith("127.0.0.2")][0][
        "checks_failed"]
    check(after >= failed0, "its counts went on: %d then %d"
          % (failed0, after))
    c = Client(lport)
    for _ in range(30):
        eq(c.request("GET", "/").status, 200, "status")
    c.close()
    eq(len([r for r in bad.requests if r.target == "/"]), 0,
       "no request to the unhealthy address")
    check(len([r for r in third.requests if r.target == "/"]) > 0,
          "the new address serves")
    s.stop()


if __name__ == "__main__":
    main()
