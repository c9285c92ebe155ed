# SPDX-License-Identifier: MIT
"""Counters across reloads, through the real binary: doc/operations.md
section 3 says a reload keeps them, so that rate() and increase() see no
reset. A counter's identity is its labels; what else a reload changes
(a rate limit's rate or burst, a split's weights, a cluster's endpoints,
weights and balance, a route's match, a listener's limits or address, a
name's address family, routes added and removed) must not take a counter
of labels that are still on the page back down.

One sluice with every kind of labelled counter in use (per listener,
route, rate limit local and fleet, split, mirror, cluster, endpoint,
health check, outlier ejection, TLS, PROXY protocol, listener limits,
names looked up in DNS) and traffic that makes them non-zero; then one
reload with one kind of change; /metrics is read before and after (once
every worker serves the new generation), and again after more traffic.
Every sample of a counter or histogram family (*_total, _bucket, _sum,
_count) present in two readings must not be lower in the later one. A
sample whose labels went away (a removed route or endpoint) may go;
gauges are not compared. Nothing is timed: each reading is taken once
the counters the test needs are non-zero, and a count that lands late
can only raise a later reading.

A listener that moves to another address, or two that swap addresses,
keep their own families (requests, responses, closes, refusals, TLS,
PROXY protocol): those live by the listener's name (struct sl_lcstate),
the connections' state by its address."""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Upstream, build_request, check, eq,  # noqa: E402
                    get, main, read_response, sighup_reload, start_sluice,
                    test, tls_get, to_yaml, wait_until)

try:
    from dnstest import DnsServer
except ImportError:  # python3-dnslib missing: no cluster by name
    DnsServer = None

# free_port() probes a random port: two calls in one test may return the
# same one. Every port handed out here is distinct from the last 64.
_given = []


def free_port():
    for _ in range(100):
        p = sltest.free_port()
        if p not in _given:
            break
    _given.append(p)
    del _given[:-64]
    return p


# ---------------------------------------------------------------------------
# Reading /metrics

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def scrape(aport):
    """/metrics -> {"name{labels}": (family type, value)}: the type of the
    family each sample belongs to (a histogram's _bucket, _sum and _count
    are its own)."""
    r = get(aport, "/metrics", timeout=5.0)
    eq(r.status, 200, "status of /metrics")
    types, out = {}, {}
    for line in r.body.decode("utf-8").splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "not a sample: %r" % line)
        name = m.group(1)
        kind = types.get(name)
        for suffix in ("_bucket", "_sum", "_count"):
            if kind is None and name.endswith(suffix) and \
                    types.get(name[:-len(suffix)]) == "histogram":
                kind = "histogram"
        out[name + (m.group(2) or "")] = (kind, float(m.group(3)))
    return out


def labels_of(key):
    return dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                           key))


def total(page, family, **labels):
    """The sum of family's samples whose labels include labels."""
    n = 0.0
    for key, (_, v) in page.items():
        if key.split("{", 1)[0] != family:
            continue
        ls = labels_of(key)
        if all(ls.get(k) == x for k, x in labels.items()):
            n += v
    return n


def gone_down(earlier, later, exempt=()):
    """The counter and histogram samples of both readings that are lower
    in the later one, as "key: before -> after" lines; and how many
    samples were compared. exempt: families not compared."""
    down, compared = [], 0
    for key, (kind, v) in earlier.items():
        if kind not in ("counter", "histogram") or key not in later or \
                key.split("{", 1)[0] in exempt:
            continue
        compared += 1
        if later[key][1] < v:
            down.append("%s: %g -> %g" % (key, v, later[key][1]))
    return sorted(down), compared


# ---------------------------------------------------------------------------
# The set-up: every kind of labelled counter in use


class Setup:
    """Upstreams, a DNS server when python3-dnslib is there, the ports
    and the configuration (self.cfg, which a test changes before
    reload())."""

    def __init__(self):
        self.ups = {n: Upstream(n) for n in
                    ("a1", "a2", "b1", "b2", "b3", "v1", "v2", "m", "d")}
        self.dead = free_port()     # an endpoint nothing listens on
        self.store = free_port()    # a rate limit store that is down
        self.aport = free_port()
        self.ports = {n: free_port() for n in ("main", "edge", "pp",
                                               "tight")}
        self.pki = sltest.transport_pki()
        self.dns = None
        if DnsServer is not None:
            self.dns = DnsServer()
            sltest._register("upstreams", self.dns)
            # looked up again every 200 ms (min_ttl)
            self.dns.set("svc.test", a=["127.0.0.1"], ttl=0)
        self.round = 0
        self.cfg = self.config()
        self.sl = None

    def addr(self, name):
        return "127.0.0.1:%d" % self.ports[name]

    def config(self):
        u = self.ups
        main_routes = [
            {"name": "limited", "match": {"path_prefix": "/limited"},
             "cluster": "b",
             "rate_limit": [{"name": "all", "key": "route", "rate": "1/h",
                             "burst": 5}]},
            {"name": "keys", "match": {"path_prefix": "/keys"},
             "cluster": "b",
             "rate_limit": [{"name": "per-key", "key": "header:X-Key",
                             "rate": "1/h", "burst": 1, "max_keys": 4}]},
            {"name": "fleet", "match": {"path_prefix": "/fleet"},
             "cluster": "b",
             "rate_limit": [{"name": "shared", "key": "route",
                             "rate": "1000/s", "scope": "fleet",
                             "on_store_error": "allow"}]},
            {"name": "split", "match": {"path_prefix": "/split"},
             "split": [{"cluster": "v1", "weight": 50},
                       {"cluster": "v2", "weight": 50}],
             "guard": {"window": "10s", "min_requests": 10}},
            {"name": "mirrored", "match": {"path_prefix": "/mirrored"},
             "cluster": "b", "mirror": {"cluster": "m"}},
        ]
        if self.dns is not None:
            main_routes.append({"name": "named",
                                "match": {"path_prefix": "/named"},
                                "cluster": "d"})
        main_routes.append({"name": "main", "cluster": "a"})
        cert = self.pki["listener"]
        listeners = [
            {"name": "main", "address": self.addr("main"),
             "limits": {"max_header_bytes": "32KiB"},
             "routes": main_routes},
            {"name": "edge", "address": self.addr("edge"),
             "tls": {"certificates": [{"cert": cert.cert,
                                       "key": cert.key}]},
             "routes": [{"name": "edge", "cluster": "b"}]},
            {"name": "pp", "address": self.addr("pp"),
             "proxy_protocol": {"from": ["127.0.0.1"]},
             "routes": [{"name": "pp", "cluster": "b"}]},
            {"name": "tight", "address": self.addr("tight"),
             "limits": {"max_connections": 1},
             "routes": [{"name": "tight", "cluster": "b"}]},
        ]
        clusters = [
            {"name": "a",
             "endpoints": [u["a1"].addr, u["a2"].addr,
                           "127.0.0.1:%d" % self.dead],
             "health_check": {"interval": "200ms"},
             "outlier": {"consecutive_errors": 1,
                         "max_ejected_percent": "50%"}},
            {"name": "b", "endpoints": [u["b1"].addr, u["b2"].addr]},
            {"name": "v1", "endpoints": [u["v1"].addr]},
            {"name": "v2", "endpoints": [u["v2"].addr]},
            {"name": "m", "endpoints": [u["m"].addr]},
        ]
        cfg = {"workers": 2, "drain_timeout": sltest.DEFAULT_DRAIN,
               "log": {"level": os.environ.get("SLTEST_LOG_LEVEL", "info"),
                       "access": "off"},
               "admin": {"address": "127.0.0.1:%d" % self.aport},
               "rate_limit_store": {"address": "127.0.0.1:%d" % self.store,
                                    "timeout": "50ms"},
               "listeners": listeners, "clusters": clusters}
        if self.dns is not None:
            clusters.append({"name": "d",
                             "endpoints": ["svc.test:%d" % u["d"].port],
                             "dns": {"min_ttl": "200ms"}})
            cfg["resolver"] = {"nameservers": [self.dns.addr],
                               "timeout": "500ms"}
        return cfg

    def listener(self, name):
        for lst in self.cfg["listeners"]:
            if lst["name"] == name:
                return lst
        raise KeyError(name)

    def route(self, name, listener="main"):
        for r in self.listener(listener)["routes"]:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def cluster(self, name):
        for c in self.cfg["clusters"]:
            if c["name"] == name:
                return c
        raise KeyError(name)

    def start(self):
        # the admin port only: a probe would count on the PROXY protocol
        # listener and hold the tight one's only connection
        self.sl = start_sluice(self.cfg, wait_ports=[self.aport])
        self.wait_listening()
        return self

    def wait_listening(self):
        """Every listener of cfg is on its address (the admin listener
        opens first, the others are logged as they open)."""
        def up():
            err = self.sl.stderr()
            return all('listener "%s" on %s' % (x["name"], x["address"])
                       in err for x in self.cfg["listeners"])
        check(wait_until(up, 10.0), "listeners not up:\n%s"
              % self.sl.stderr())

    def reload(self):
        """Writes cfg and reloads; every worker serves it on return."""
        tmp = self.sl.conf_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(to_yaml(self.cfg) + "\n")
        os.replace(tmp, self.sl.conf_path)
        st, log = sighup_reload(self.sl, self.aport)
        eq(st, "ok", "reload; its log:\n%s" % log)


def proxied(port, header):
    """A request after a PROXY protocol header; the response, or None
    when sluice closed the connection."""
    s = socket.create_connection(("127.0.0.1", port), 5.0)
    s.settimeout(5.0)
    try:
        s.sendall(header + build_request("GET", "/pp"))
        try:
            return read_response(sltest.BufSock(s), "GET")
        except (OSError, sltest.Closed):
            return None
    finally:
        s.close()


def closed_without_answer(port):
    """A request on a new connection (a silent one may never be accepted:
    TCP_DEFER_ACCEPT); True when sluice closes it without an answer."""
    k = Client(port)
    try:
        k.send(build_request("GET", "/over-the-limit"))
    except OSError:
        return True
    return k.wait_closed(3.0) and not k.buf


def drive(s):
    """Traffic that moves every counter of the set-up."""
    s.round += 1
    port = s.ports["main"]
    for _ in range(8):
        get(port, "/limited")
    for i in range(12):
        get(port, "/keys", headers={"X-Key": "k%d-%d" % (s.round, i)})
    for path, n in (("/fleet", 3), ("/split", 10), ("/mirrored", 3),
                    ("/", 6)):
        for _ in range(n):
            get(port, path)
    if s.dns is not None:
        for _ in range(3):
            eq(get(port, "/named").status, 200, "a request to cluster d")
    for _ in range(2):
        eq(tls_get(s.ports["edge"], "/", sni="test.local",
                   cafile=s.pki["ca"].cert).status, 200, "over TLS")
    r = proxied(s.ports["pp"], b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 443"
                b"\r\n")
    check(r is not None and r.status == 200, "a request after a PROXY "
          "header: %r" % r)
    check(proxied(s.ports["pp"], b"PROXY TCP4 192.0.2.07 127.0.0.1 1 2"
                  b"\r\n") is None, "a malformed PROXY header refused")
    # tight: max_connections held, the next one turned away
    most = s.listener("tight")["limits"]["max_connections"]
    held = [Client(s.ports["tight"]) for _ in range(most)]
    for k in held:
        eq(k.request("GET", "/held").status, 200, "a held connection")
    check(closed_without_answer(s.ports["tight"]), "a connection past "
          "max_connections %d was served" % most)
    for k in held:
        k.close()
    check(wait_until(lambda: total(scrape(s.aport),
                                   "sluice_listener_connections",
                                   listener="tight") == 0, 5.0),
          "the held connections are not counted out")


# Samples the traffic must have made non-zero before a reload: else the
# comparison would prove little. (family, labels)
NONZERO = [
    ("sluice_rate_limited_total", {"route": "limited", "limit": "all"}),
    ("sluice_rate_limit_admitted_total", {"route": "limited",
                                          "limit": "all"}),
    ("sluice_rate_limit_evictions_total", {"route": "keys",
                                           "limit": "per-key"}),
    ("sluice_rate_limit_store_allowed_total", {"route": "fleet",
                                               "limit": "shared"}),
    ("sluice_route_requests_total", {"route": "split"}),
    ("sluice_route_requests_total", {"route": "main"}),
    ("sluice_route_requests_total", {"listener": "edge"}),
    ("sluice_route_requests_total", {"listener": "pp"}),
    ("sluice_route_requests_total", {"listener": "tight"}),
    ("sluice_request_duration_seconds_count", {"route": "limited"}),
    ("sluice_listener_requests_total", {"listener": "main"}),
    ("sluice_listener_responses_total", {"listener": "edge"}),
    ("sluice_client_closed_total", {"listener": "pp"}),
    ("sluice_mirror_requests_total", {"route": "mirrored",
                                      "result": "sent"}),
    ("sluice_cluster_requests_total", {"cluster": "v1"}),
    ("sluice_cluster_requests_total", {"cluster": "v2"}),
    ("sluice_upstream_response_seconds_count", {"cluster": "b"}),
    ("sluice_health_checks_total", {"cluster": "a", "result": "ok"}),
    ("sluice_health_checks_total", {"cluster": "a", "result": "failed"}),
    ("sluice_tls_handshakes_total", {"listener": "edge"}),
    ("sluice_proxy_protocol_total", {"listener": "pp",
                                     "command": "proxy"}),
    ("sluice_proxy_protocol_errors_total", {"listener": "pp"}),
    ("sluice_connections_rejected_total", {"listener": "tight",
                                           "reason": "max_connections"}),
]


def settled(s, more=()):
    """A reading taken once every sample of NONZERO is above 0 (the last
    responses are counted a moment after they are sent), and each of
    more, (family, labels, least), at least at its least."""
    want = [(f, ls, 1) for f, ls in NONZERO] + list(more)
    if s.dns is not None:
        want.append(("sluice_dns_lookups_total", {"cluster": "d"}, 1))
        want.append(("sluice_cluster_requests_total", {"cluster": "d"}, 1))
    page = [None]

    def short():
        return [(f, ls, n) for f, ls, n in want
                if total(page[0], f, **ls) < n]

    def ready():
        page[0] = scrape(s.aport)
        return not short()
    check(wait_until(ready, 10.0, 0.05), "counters still short of what "
          "the traffic should make: %r" % short())
    return page[0]


def across(change, kept=(), more=(), exempt=()):
    """Starts the set-up, drives traffic, applies change(s) to its
    configuration and reloads; then checks that no counter or histogram
    sample present before and after went down, right after the reload
    and after more traffic. kept: (family, labels) that must be on both
    pages (the labels the change kept), so that they were compared;
    more: what else the first reading waits for (see settled); exempt:
    families not compared. Returns the set-up."""
    s = Setup().start()
    drive(s)
    before = settled(s, more)
    change(s)
    s.reload()  # a reload binds its new listeners before it counts
    after = scrape(s.aport)
    drive(s)
    later = scrape(s.aport)
    problems = []
    for what, a, b in (("right after the reload", before, after),
                       ("after more traffic", before, later),
                       ("between the two readings after the reload",
                        after, later)):
        down, compared = gone_down(a, b, exempt)
        check(compared > 100, "only %d samples compared %s"
              % (compared, what))
        if down:
            problems.append("%d of %d samples went down %s:\n  %s"
                            % (len(down), compared, what,
                               "\n  ".join(down)))
    for family, labels in kept:
        for page, when in ((before, "before"), (later, "after")):
            check(total(page, family, **labels) > 0, "%s %r is 0 or "
                  "missing %s the reload" % (family, labels, when))
    check(not problems, "\n".join(problems))
    return s


# ---------------------------------------------------------------------------
# One kind of change per test


@test
def rate_limit_burst_changed():
    # issue 41: burst 5 -> 4 took sluice_rate_limited_total from 18 to 0
    def change(s):
        s.route("limited")["rate_limit"][0]["burst"] = 4
    across(change, kept=[
        ("sluice_rate_limited_total", {"route": "limited", "limit": "all"}),
        ("sluice_rate_limit_admitted_total", {"route": "limited",
                                              "limit": "all"})])


@test
def rate_limit_rate_max_keys_and_fleet_rate_changed():
    def change(s):
        s.route("limited")["rate_limit"][0]["rate"] = "2/h"
        s.route("keys")["rate_limit"][0]["max_keys"] = 8
        s.route("fleet")["rate_limit"][0]["rate"] = "500/s"
    across(change, kept=[
        ("sluice_rate_limited_total", {"route": "limited", "limit": "all"}),
        ("sluice_rate_limit_evictions_total", {"route": "keys",
                                               "limit": "per-key"}),
        ("sluice_rate_limit_store_allowed_total", {"route": "fleet",
                                                   "limit": "shared"})])


@test
def split_weights_changed():
    def change(s):
        split = s.route("split")["split"]
        split[0]["weight"], split[1]["weight"] = 80, 20
    across(change, kept=[
        ("sluice_route_requests_total", {"route": "split"}),
        ("sluice_cluster_requests_total", {"cluster": "v2"})])


@test
def cluster_endpoints_weights_and_balance_changed():
    def change(s):
        u = s.ups
        # b: one endpoint kept, one removed, one added; a: weights and
        # balance
        s.cluster("b")["endpoints"] = [u["b1"].addr, u["b3"].addr]
        a = s.cluster("a")
        a["endpoints"] = [{"address": u["a1"].addr, "weight": 3},
                          u["a2"].addr, "127.0.0.1:%d" % s.dead]
        a["balance"] = "least_request"
    across(change, kept=[
        ("sluice_cluster_requests_total", {"cluster": "b"}),
        ("sluice_cluster_requests_total", {"cluster": "a"}),
        ("sluice_health_checks_total", {"cluster": "a"})])


@test
def route_match_changed():
    def change(s):
        for name in ("limited", "split", "mirrored"):
            s.route(name)["match"]["methods"] = ["GET", "HEAD"]
    across(change, kept=[
        ("sluice_route_requests_total", {"route": "limited"}),
        ("sluice_rate_limited_total", {"route": "limited"}),
        ("sluice_mirror_requests_total", {"route": "mirrored"})])


@test
def listener_limits_changed():
    def change(s):
        s.listener("main")["limits"]["max_header_bytes"] = "16KiB"
        s.listener("tight")["limits"]["max_connections"] = 2
    across(change, kept=[
        ("sluice_listener_requests_total", {"listener": "main"}),
        ("sluice_connections_rejected_total", {"listener": "tight"})])


@test
def routes_added_and_removed():
    def change(s):
        routes = s.listener("main")["routes"]
        routes.remove(s.route("mirrored"))
        routes.insert(0, {"name": "added", "match": {"path": "/added"},
                          "cluster": "b"})
    s = across(change, kept=[
        ("sluice_route_requests_total", {"route": "limited"}),
        ("sluice_route_requests_total", {"route": "main"})])
    page = scrape(s.aport)
    eq(total(page, "sluice_route_requests_total", route="mirrored"), 0,
       "the removed route's requests")
    check('sluice_route_requests_total{listener="main",route="added"}'
          in page, "the added route on the page")




@test
def listener_addresses_changed():
    # the same listeners (by name) on new ports: their routes' and rate
    # limits' counters go on
    def change(s):
        for name in s.ports:
            s.ports[name] = free_port()
            s.listener(name)["address"] = s.addr(name)
    across(change, kept=[
        ("sluice_listener_requests_total", {"listener": "main"}),
        ("sluice_client_closed_total", {"listener": "main"}),
        ("sluice_route_requests_total", {"listener": "main"}),
        ("sluice_route_requests_total", {"listener": "edge"}),
        ("sluice_request_duration_seconds_count", {"listener": "pp"}),
        ("sluice_mirror_requests_total", {"route": "mirrored"}),
        ("sluice_rate_limited_total", {"listener": "main"})])


@test
def listeners_swap_addresses():
    def change(s):
        s.ports["edge"], s.ports["pp"] = s.ports["pp"], s.ports["edge"]
        s.listener("edge")["address"] = s.addr("edge")
        s.listener("pp")["address"] = s.addr("pp")
    across(change, kept=[
        ("sluice_listener_requests_total", {"listener": "edge"}),
        ("sluice_route_requests_total", {"listener": "edge"}),
        ("sluice_route_requests_total", {"listener": "pp"})])


@test
def name_family_changed():
    if DnsServer is None:
        raise sltest.Skip("python3-dnslib is not installed")

    def change(s):
        s.cluster("d")["dns"]["family"] = "ipv4"
    # a few lookups (every 200 ms), so that a fresh count is seen lower
    across(change,
           more=[("sluice_dns_lookups_total", {"cluster": "d"}, 5)],
           kept=[("sluice_dns_lookups_total", {"cluster": "d"}),
                 ("sluice_cluster_requests_total", {"cluster": "d"})])


if __name__ == "__main__":
    main()
