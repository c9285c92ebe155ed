# SPDX-License-Identifier: MIT
"""The admin listener's status page (doc/dashboard.md), through the real
binary and a real browser: Debian's chromium, headless, on the DevTools
protocol (chrome.py), against Node versions of a service under steady
traffic. The page shows a split ramped by SIGHUP, an endpoint killed and
a canary the guard pulls, each within two refreshes of /status saying
so, with its console free of errors; a screenshot is kept. It shows a
cluster's DNS names with their answers (and a resolver that stopped
answering) and an endpoint ejected by outlier detection. Without a
browser: /status's schema, admin.auth, the headers, the masking of a
refused reload's error, -t's warning. Opened as
http://user:password@host/ (basic admin.auth), the page reads /status;
a page that cannot read it says so (a password changed under it, reads
blocked from the start) instead of showing empty or stale panels. Without credentials, only the
admin's own names are answered: a page rebound to its address (DNS
rebinding, shown in chromium) reads nothing."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import base64

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
import chrome  # noqa: E402
from nodever import Version  # noqa: E402
from sltest import (check, eq, free_port, main, make_config,  # noqa: E402
                    run_sluice, start_sluice, test, tmpdir, wait_until)


# the browser's test runs 15 s on an idle machine, longer under ASan on
# two loaded CPUs
sltest.TEST_TIMEOUT = 120.0


def status(aport, headers=None):
    r = sltest.get(aport, "/status", headers=headers)
    eq(r.status, 200, "/status")
    return r.json()


def config(v1, v2, api, aport, weights=(90, 10), extra=None):
    routes = [{"name": "api", "match": {"path_prefix": "/api/"},
               "cluster": "api"},
              {"name": "limited", "match": {"path_prefix": "/limited/"},
               "cluster": "api",
               "rate_limit": [{"name": "one", "key": "route",
                               "rate": "1/m", "burst": 1}]},
              {"name": "pay", "sticky": "header:X-User-Id",
               "split": [{"cluster": "v1", "weight": weights[0]},
                         {"cluster": "v2", "weight": weights[1]}],
               "guard": {"window": "10s", "min_requests": 20}}]
    ex = {"admin": {"address": "127.0.0.1:%d" % aport}}
    ex.update(extra or {})
    cfg, port = make_config(
        {"v1": [v1.addr], "v2": [v2.addr], "api": [a.addr for a in api]},
        routes=routes, workers=2, extra=ex,
        cluster_opts={"api": {"health_check": {
            "path": "/", "interval": "300ms", "unhealthy": 2,
            "healthy": 1}}})
    return cfg, port


class Traffic:
    """Keep-alive GETs of each path in turn, about 200 a second, until
    stopped."""

    def __init__(self, port, paths):
        self.port, self.paths = port, paths
        self.stop_ = False
        self.n = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        c = None
        while not self.stop_:
            for p in self.paths:
                try:
                    if c is None:
                        c = sltest.Client(self.port)
                    c.request("GET", p)
                    self.n += 1
                except Exception:
                    c = None
                time.sleep(0.005)

    def stop(self):
        self.stop_ = True
        self.t.join(10)


def reload(s, aport, cfg):
    with open(s.conf_path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    gen = status(aport)["sluice"]["config"]["generation"]
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: status(aport)["sluice"]["config"]["generation"]
                     > gen, timeout=10), "the reload applied")


def refreshes(b):
    return b.eval("Number((document.body && "
                  "document.body.dataset.refreshes) || 0)")


def shown_within_two_refreshes(b, js, what, timeout=15):
    """Once /status says something, the page says it by its second
    refresh after: js (an expression) becomes true. The page itself
    notes the refresh that first shows it (a MutationObserver runs once
    a refresh has drawn), so a slow poll from here cannot miscount."""
    start = refreshes(b)
    n = b.eval("""new Promise((resolve) => {
      const now = () => Number(document.body.dataset.refreshes || 0);
      const ok = () => { try { return !!(%s); } catch (e) { return false; } };
      if (ok()) { resolve(now()); return; }
      const o = new MutationObserver(() => {
        if (ok()) { o.disconnect(); resolve(now()); }
      });
      o.observe(document.body, {subtree: true, childList: true,
                                characterData: true, attributes: true});
      setTimeout(() => { o.disconnect(); resolve(-1); }, %d);
    })""" % (js, timeout * 1000), wait=timeout)
    check(n != -1, "%s: not shown in %d s (%s)" % (what, timeout, js))
    check(n - start <= 2, "%s: shown after %d refreshes" % (what, n - start))
    print("# %s: shown after %d refreshes" % (what, n - start))


def text(sel):
    return ("(document.querySelector(%s) || {textContent: ''}).textContent"
            % json.dumps(sel))


def artefact(name):
    d = os.environ.get("SLTEST_ARTEFACTS") or os.path.join(
        os.environ.get("top_builddir", "."), "tests", "artefacts")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


@test
def the_page_follows_a_ramp_a_dead_endpoint_and_a_trip():
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1"), Version("a2")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    s = start_sluice(cfg)
    b = chrome.Browser()
    load = Traffic(port, ["/pay", "/api/x"])
    try:
        b.open("http://127.0.0.1:%d/" % aport)
        check(wait_until(lambda: refreshes(b) >= 2, timeout=20),
              "the page refreshed twice")
        eq(b.eval("document.title"), "sluice", "the page's title")
        # traffic: the route's rate and its 2xx
        check(wait_until(lambda: b.eval(text('tr[data-route="main/pay"] .rps'))
                         not in ("", "0", "\u2013"), timeout=15),
              "the route's rate shows")
        # a feature's doing: a rate limit's refusals
        c = sltest.Client(port)
        for _ in range(3):
            c.request("GET", "/limited/x")
        check(wait_until(lambda: "rate-limited 2" in b.eval(
            text('tr[data-route="main/limited"] .features')), timeout=10),
            "the route's refusals show")
        # a ramp by SIGHUP: 90/10 to 50/50
        cfg2, _ = config(v1, v2, api, aport, weights=(50, 50))
        cfg2["listeners"][0]["address"] = cfg["listeners"][0]["address"]
        reload(s, aport, cfg2)
        shown_within_two_refreshes(
            b, text('tr[data-split="main/pay/v2"] .weight') + " === '50'",
            "the ramp to 50/50")
        check("applied" in b.eval(text("#reload")), "the reload shows")
        # a user's requests, sent by its sticky key: counted on the page
        for _ in range(3):
            c.request("GET", "/pay", headers={"X-User-Id": "u-42"})
        check(wait_until(lambda: any(
            "\u22481 user" in b.eval(
                text('tr[data-split="main/pay/%s"] .sticky' % v))
            for v in ("v1", "v2")), timeout=15),
            "the sticky user shows: %r" % [b.eval(text(
                'tr[data-split="main/pay/%s"] .sticky' % v))
                for v in ("v1", "v2")])
        # an endpoint killed: its checks take it down
        dead = api[1]
        dead.stop()
        check(wait_until(lambda: [e["state"] for e in
                                  status(aport)["clusters"][2]["endpoints"]]
                         == ["up", "down"], timeout=15),
              "/status says the endpoint is down")
        shown_within_two_refreshes(
            b, text('tr[data-endpoint="api/%s"] .badge' % dead.addr)
            + " === 'down'", "the dead endpoint")
        # the canary fails: the guard pulls it
        v2.ctl(fail=1)
        check(wait_until(lambda: status(aport)["listeners"][0]["routes"][2]
                         ["split"][1]["guard"]["state"] == "tripped",
                         timeout=30), "/status says the guard tripped")
        shown_within_two_refreshes(
            b, text('tr[data-split="main/pay/v2"] .guard')
            + ".startsWith('tripped')", "the guard's trip")
        check(b.eval(text('tr[data-split="main/pay/v2"] .weight'))
              == "50 \u2192 0", "the canary's weight now")
        time.sleep(2.5)
        path = artefact("dashboard.png")
        b.screenshot(path)
        print("# screenshot: %s" % path)
        eq(b.errors(), [], "the page's console and log errors")
    finally:
        load.stop()
        b.close()
    check(load.n > 500, "traffic ran: %d requests" % load.n)
    s.stop()


def dns_server():
    try:
        from dnstest import DnsServer
    except ImportError:  # python3-dnslib missing
        raise sltest.Skip("python3-dnslib is not installed")
    d = DnsServer()
    sltest._register("upstreams", d)
    return d


DNS = {"name": str, "srv": bool, "result": str, "addresses": int,
       "answer_age_s": int, "ttl_s": int}


def cluster_of(st, name):
    return [c for c in st["clusters"] if c["name"] == name][0]


@test
def the_page_shows_names_their_answers_and_an_ejection():
    """A cluster of endpoints by name (the test's DNS server answers for
    them) and one with outlier detection: /status and the page give the
    name's result, addresses and answer age, the resolver failing, and an
    endpoint ejected with its reason and since when."""
    dns = dns_server()
    named = Version("named")
    f1, f2 = Version("f1"), Version("f2")
    dns.set("pay.test", a=["127.0.0.1"], ttl=1)
    name = "pay.test:%d" % named.port
    aport = free_port()
    routes = [{"name": "named", "match": {"path_prefix": "/named/"},
               "cluster": "named"},
              {"name": "flaky", "match": {"path_prefix": "/flaky/"},
               "cluster": "flaky"}]
    cfg, port = make_config(
        {"named": [name], "flaky": [f1.addr, f2.addr]}, routes=routes,
        workers=2,
        cluster_opts={"named": {"dns": {"min_ttl": "200ms",
                                        "family": "ipv4"}},
                      "flaky": {"outlier": {
                          "consecutive_errors": 3, "ejection_time": "60s",
                          "max_ejected_percent": "50%"}}},
        extra={"admin": {"address": "127.0.0.1:%d" % aport},
               "resolver": {"nameservers": [dns.addr],
                            "timeout": "500ms", "attempts": 1}})
    s = start_sluice(cfg)
    c = sltest.Client(port)
    for _ in range(5):
        eq(c.request("GET", "/named/x").status, 200, "GET /named/x")
    st = status(aport)
    nc = cluster_of(st, "named")
    conforms(nc["dns"], [DNS], "status.named.dns")
    d = nc["dns"][0]
    eq((d["name"], d["srv"], d["result"], d["addresses"], d["ttl_s"]),
       (name, False, "ok", 1, 1), "the name's answer")
    check(d["answer_age_s"] <= 5, "the answer's age: %r" % d)
    eq([(e["address"], e["name"]) for e in nc["endpoints"]],
       [(named.addr, name)], "the endpoint the name gave")
    eq(cluster_of(st, "flaky")["dns"], [], "no names in flaky")
    b = chrome.Browser()
    try:
        b.open("http://127.0.0.1:%d/" % aport)
        check(wait_until(lambda: refreshes(b) >= 1, timeout=20),
              "the page refreshed")
        detail = text('tr[data-cluster="named"] td.detail')
        check(wait_until(lambda: "%s: ok, 1 addresses" % name
                         in b.eval(detail), timeout=10),
              "the name's answer on the page: %r" % b.eval(detail))
        eq(b.eval(text('tr[data-endpoint="named/%s"] td' % named.addr)),
           "%s (%s)" % (named.addr, name), "the endpoint and its name")
        # the resolver stops answering: the last answer is kept, and
        # said so (a SERVFAIL is counted as a timeout too: doc/fleet.md)
        dns.fail("pay.test", "drop")
        check(wait_until(lambda: cluster_of(status(aport), "named")
                         ["dns"][0]["result"] == "timeout", timeout=10),
              "/status says the lookup failed")
        shown_within_two_refreshes(
            b, text('tr[data-cluster="named"] td.detail') +
            ".includes(%s)" % json.dumps("%s: timeout, 1 addresses"
                                         % name), "the failed lookup")
        d = cluster_of(status(aport), "named")["dns"][0]
        eq(d["addresses"], 1, "the last answer kept")
        eq(c.request("GET", "/named/x").status, 200, "served on the "
           "last answer")
        # an endpoint that fails every request: three errors in a row
        # eject it for 60 s
        f1.ctl(fail=1)
        for _ in range(12):
            c.request("GET", "/flaky/x")
        eps = cluster_of(status(aport), "flaky")["endpoints"]
        eq([e["state"] for e in eps], ["ejected", "up"], "/status: f1 "
           "ejected: %r" % eps)
        e1 = eps[0]
        eq((e1["reason"], e1["ejections"]),
           ("outlier: 3 errors in a row", 1), "the ejection's reason")
        check(isinstance(e1["since_s_ago"], int) and
              0 <= e1["since_s_ago"] <= 5, "since when: %r" % e1)
        eq(eps[1]["since_s_ago"], None, "f2 (no checks): no since")
        row = 'tr[data-endpoint="flaky/%s"]' % f1.addr
        shown_within_two_refreshes(
            b, text(row + ' .badge') + " === 'ejected'", "the ejection")
        check(b.eval(text(row + ' td.reason')).startswith(
            "outlier: 3 errors in a row, since "),
            "the reason on the page: %r" % b.eval(text(row + ' td.reason')))
        check("1 ejections" in b.eval(text(row + ' td.reason')),
              "the ejections counted on the page")
        eq(b.eval(text('tr[data-cluster="flaky"] td:nth-child(2)')),
           "1/2 up", "the cluster's endpoints up")
        eq(b.errors(), [], "the page's console and log errors")
    finally:
        b.close()
    c.close()
    s.stop()
    line = ("dns: cluster \"named\": %s: lookup timeout: the last answer "
            "(1 address) stands for up to 600.0 s (keep_stale)" % name)
    check(line in s.stderr(), "the failed lookup is logged: %r" % line)


# /status's keys, and the types of their values (a list: of each item;
# None: any value)
NUM = (int, float, type(None))
SCHEMA = {
    "schema": int,
    "acme": None,   # null without ACME (test_acme.py reads it)
    "sluice": {
        "version": str, "pid": int, "time_s": int, "uptime_s": int,
        "workers": int, "draining": bool,
        "config": {"generation": int, "sha256": str, "path": str},
        "reloads": {"applied": int, "refused": int, "last": None},
        "connections": {"http1": int, "http2": int, "http3": int}},
    "listeners": [{
        "name": str, "address": str, "tls": bool, "http3": bool,
        "connections": int, "window_s": int, "rps": NUM,
        "requests": int, "requests_1m": int,
        "status_1m": {"1xx": int, "2xx": int, "3xx": int, "4xx": int,
                      "5xx": int},
        "p50_ms": NUM, "p95_ms": NUM,
        "p99_ms": NUM,
        "spark": {"step_s": int, "rps": list, "errors": list,
                  "p99_ms": list},
        "routes": [{
            "name": str, "cluster": None, "window_s": int, "rps": NUM,
            "requests": int, "requests_1m": int, "status_1m": dict,
            "p50_ms": NUM, "p95_ms": NUM, "p99_ms": NUM,
            "spark": {"step_s": int, "rps": list, "errors": list,
                      "p99_ms": list},
            "features_1m": {"rate_limited": NUM, "auth_refused": NUM,
                            "waf_blocked": NUM,
                            "idempotency_replayed": NUM,
                            "idempotency_conflicts": NUM,
                            "compress_ratio": NUM, "lua_calls": NUM,
                            "lua_failures": NUM},
            "split": None, "guard": None}],
        "routes_total": int, "routes_matched": int, "routes_offset": int}],
    "clusters_total": int, "clusters_matched": int, "clusters_offset": int,
    "page": {"routes_offset": int, "routes_limit": int, "routes_q": str,
             "clusters_offset": int, "clusters_limit": int,
             "clusters_q": str},
    "clusters": [{
        "name": str, "window_s": int, "rps": NUM, "requests": int,
        "requests_1m": int, "status_1m": dict, "p50_ms": NUM,
        "p95_ms": NUM, "p99_ms": NUM, "spark": dict,
        "retries_1m": {"class1": int, "class2": int}, "pending": int,
        "no_healthy_1m": int, "overloaded_1m": int,
        "endpoints": [{
            "address": str, "name": None, "weight": int, "state": str,
            "reason": None, "since_s_ago": None, "in_flight": int,
            "pool": {"idle": int, "busy": int,
                     "connects_per_s": NUM},
            "checks": None, "ejections": int}],
        "dns": list}],
}


SPLIT = {"cluster": str, "weight": int, "effective_weight": int,
         "share_1m": NUM, "requests_1m": NUM, "sticky_1m": NUM,
         "users_1m": NUM,
         "guard": {"role": str, "state": str,
                   "window": {"requests": int, "failures": int,
                              "slow": int}}}
GUARD = {"stable": str, "window_ms": int, "min_requests": int,
         "margin_percent": int, "latency_ms": int}


def conforms(doc, schema, where="status"):
    if schema is None:          # any value, null included
        return
    if isinstance(schema, dict):
        check(isinstance(doc, dict), "%s: an object" % where)
        eq(sorted(doc), sorted(schema), "%s's keys" % where)
        for k, v in schema.items():
            conforms(doc[k], v, where + "." + k)
    elif isinstance(schema, list):
        check(isinstance(doc, list) and doc, "%s: a list" % where)
        for i, x in enumerate(doc):
            conforms(x, schema[0], "%s[%d]" % (where, i))
    else:
        check(isinstance(doc, schema) and not (schema is int and
                                                isinstance(doc, bool)),
              "%s: %r is not %r" % (where, doc, schema))


@test
def status_keeps_its_schema_and_its_figures_add_up():
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    s = start_sluice(cfg)
    c = sltest.Client(port)
    for _ in range(100):
        eq(c.request("GET", "/pay").status, 200, "GET /pay")
    eq([c.request("GET", "/limited/x").status for _ in range(4)],
       [200, 429, 429, 429], "a rate limit of 1 a minute")
    # read by a tick
    check(wait_until(lambda: status(aport)["listeners"][0]["routes"][1]
                     ["features_1m"]["rate_limited"] == 3, timeout=10),
          "the ticks read the counts")
    st = status(aport)
    conforms(st, SCHEMA)
    conforms(st["listeners"][0]["routes"][2]["split"], [SPLIT],
             "status.pay.split")
    conforms(st["listeners"][0]["routes"][2]["guard"], GUARD,
             "status.pay.guard")
    eq(st["schema"], 1, "schema")
    pay = st["listeners"][0]["routes"][2]
    eq(pay["name"], "pay", "route")
    eq(pay["requests"], 100, "the route's requests")
    eq(pay["requests_1m"], 100, "in the last minute")
    eq(pay["status_1m"]["2xx"], 100, "2xx")
    split = pay["split"]
    eq([x["requests_1m"] for x in split], [90, 10],
       "the split's requests: smooth round robin at 90/10")
    eq([x["share_1m"] for x in split], [0.9, 0.1], "shares")
    eq(sum(x["requests"] for x in st["clusters"][:2]), 100,
       "the clusters' requests")
    check(0 < pay["p50_ms"] <= pay["p95_ms"] <= pay["p99_ms"],
          "percentiles in order: %r" % pay)
    eq(len(pay["spark"]["rps"]), 60, "sparkline points")
    eq(st["sluice"]["workers"], 2, "workers")
    lim = st["listeners"][0]["routes"][1]
    eq(lim["features_1m"]["rate_limited"], 3, "rate-limited in the minute")
    eq(lim["status_1m"]["4xx"], 3, "the 429s")
    eq(pay["features_1m"]["rate_limited"], None, "pay has no limit")
    eq(st["sluice"]["reloads"]["last"], None, "no reload yet")
    eq([x["users_1m"] for x in split], [0, 0], "no sticky key yet")
    # 40 users, three requests each: the sticky key sends each user's to
    # one side, and the page counts the users (an estimate: users.h)
    for rnd in range(3):
        for u in range(40):
            eq(c.request("GET", "/pay", headers={
                "X-User-Id": "user-%d" % u}).status, 200, "sticky GET")
    check(wait_until(lambda: sum(x["sticky_1m"] for x in status(aport)
                                 ["listeners"][0]["routes"][2]["split"])
                     == 120, timeout=10), "the ticks read the sticky counts")
    split = status(aport)["listeners"][0]["routes"][2]["split"]
    users = [x["users_1m"] for x in split]
    print("# sticky requests %r, users %r" %
          ([x["sticky_1m"] for x in split], users))
    check(38 <= sum(users) <= 42, "40 users: %r" % users)
    for x in split:
        check(x["users_1m"] * 3 - 6 <= x["sticky_1m"] <= x["users_1m"] * 3 + 6,
              "three requests a user on %s: %r" % (x["cluster"], x))
    check(users[1] >= 1, "some users on the canary: %r" % users)
    s.stop()


@test
def admin_auth_headers_and_masking():
    d = tmpdir()
    token = "tok-" + "7" * 40
    tf, bf = os.path.join(d, "token"), os.path.join(d, "basic")
    for path, body in ((tf, token + "\n"), (bf, "ops:s3cret pass\n")):
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, 0o600)
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    cfg["admin"]["auth"] = {"token_file": tf, "basic_file": bf}
    s = start_sluice(cfg)
    bearer = {"Authorization": "Bearer " + token}
    basic = {"Authorization": "Basic " +
             base64.b64encode(b"ops:s3cret pass").decode()}
    for path in ("/", "/status", "/config", "/metrics", "/dash.js"):
        r = sltest.get(aport, path)
        eq(r.status, 401, "%s without credentials" % path)
        eq(r.headers.get("www-authenticate"),
           'Basic realm="sluice admin", charset="UTF-8"', "the challenge")
        eq(sltest.get(aport, path, headers=bearer).status, 200,
           "%s with the token" % path)
        eq(sltest.get(aport, path, headers=basic).status, 200,
           "%s with the user" % path)
        for bad in ("Bearer " + token[:-1], "Bearer " + token + "x",
                    "Basic " + base64.b64encode(b"ops:s3cret").decode(),
                    token):
            eq(sltest.get(aport, path,
                          headers={"Authorization": bad}).status, 401,
               "%s with %r" % (path, bad))
    for path in ("/healthz", "/readyz"):
        eq(sltest.get(aport, path).status, 200, "%s stays open" % path)
    # the headers of every answer
    r = sltest.get(aport, "/", headers=bearer)
    eq(r.headers.get("content-type"), "text/html; charset=utf-8", "type")
    csp = r.headers.get("content-security-policy")
    check("script-src 'self'" in csp and "unsafe-inline" not in csp and
          "frame-ancestors 'none'" in csp, "the CSP: %r" % csp)
    eq(r.headers.get("x-frame-options"), "DENY", "X-Frame-Options")
    eq(r.headers.get("x-content-type-options"), "nosniff", "nosniff")
    check(b"<script" in r.body and b"<script>" not in r.body and
          b" style=" not in r.body, "no inline script or style")
    # read only
    c = socket.create_connection(("127.0.0.1", aport), timeout=10)
    c.sendall(b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
              b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")
    check(c.recv(100).startswith(b"HTTP/1.1 405"), "POST is refused")
    c.close()
    # no secret, anywhere
    for path in ("/status", "/config", "/"):
        body = sltest.get(aport, path, headers=bearer).body
        check(token.encode() not in body and b"s3cret" not in body,
              "%s holds a credential" % path)
    eq(status(aport, bearer)["sluice"]["reloads"]["last"], None, "none")
    # a refused reload: its first error line, card number masked
    s.expect_errors(r"reload: ")
    with open(s.conf_path, "a") as f:
        f.write("4111111111111111: 1\n")
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: status(aport, bearer)["sluice"]["reloads"]
                     ["last"] is not None, timeout=10), "the reload ended")
    last = status(aport, bearer)["sluice"]["reloads"]["last"]
    eq(last["result"], "refused", "the reload's result")
    eq(last["why"], "reload", "why")
    check("4111111111111111" not in last["error"] and
          "unknown key" in last["error"], "the error, masked: %r" % last)
    eq(status(aport, bearer)["sluice"]["reloads"]["refused"], 1, "refused")
    check(re.search(r"info: admin: /\S* refused \(401\)", s.stderr()),
          "the refusal is logged")
    # the scheme in any case, spaces, several fields, a query
    for h in ({"Authorization": "bearer " + token},
              {"Authorization": "BEARER   " + token},
              [("Authorization", "Bearer nope"),
               ("Authorization", "Bearer " + token)]):
        eq(sltest.get(aport, "/status?x=1", headers=h).status, 200,
           "credentials %r" % (h,))
    eq(sltest.get(aport, "/healthz?probe=1").status, 200,
       "/healthz with a query stays open")
    eq(sltest.get(aport, "/status?x=1").status, 401, "a query is no key")
    # a reload of a file without "admin": the listener stays, and so do
    # its credentials
    cfg2 = dict(cfg)
    del cfg2["admin"]
    with open(s.conf_path, "w") as f:
        f.write(sltest.to_yaml(cfg2) + "\n")
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: status(aport, bearer)["sluice"]["reloads"]
                     ["applied"] == 1, timeout=10), "the reload applied")
    eq(sltest.get(aport, "/status").status, 401,
       "no credentials after a reload without admin")
    eq(sltest.get(aport, "/status", headers=bearer).status, 200,
       "the token still")
    check("the admin listener stays on 127.0.0.1:%d, with the credentials, "
          "TLS and hosts it had" % aport in s.stderr(), "the reload says so")
    eq(sltest.get(aport, "/config", headers=bearer).json()["admin"]["auth"],
       {"kept": True}, "/config says the credentials were kept")
    # paths are case-sensitive: /HEALTHZ is no probe's
    eq(sltest.get(aport, "/HEALTHZ").status, 401, "/HEALTHZ")
    s.stop()


@test
def the_admin_answers_only_its_own_names_without_credentials():
    """DNS rebinding (doc/dashboard.md 6.7): without admin.auth, a page of
    another site whose name resolves to the admin's address reads
    nothing: only an address, localhost or a name of admin.hosts is
    answered. Shown in chromium, its resolver told to map the name here,
    as a rebinding DNS server would."""
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    cfg["admin"]["hosts"] = ["gw.example", "Ops.Example."]
    s = start_sluice(cfg)
    for host in ("127.0.0.1:%d" % aport, "127.0.0.1", "[::1]:%d" % aport,
                 "localhost:%d" % aport, "LOCALHOST.", "app.localhost",
                 "gw.example:%d" % aport, "GW.example.", "ops.example"):
        eq(sltest.get(aport, "/status", host=host).status, 200,
           "Host %s" % host)
    for host in ("evil.example:%d" % aport, "gw.example.evil.example",
                 "localhost.evil.example", "127.0.0.1.evil.example",
                 "example", "[::1"):
        r = sltest.get(aport, "/status", host=host)
        eq((r.status, r.body), (400 if host == "[::1" else 403,
                                b'{"error":"bad_request"}\n'
                                if host == "[::1" else
                                b'{"error":"host_not_allowed"}\n'),
           "Host %s" % host)
        if r.status == 403:
            eq(r.headers.get("x-frame-options"), "DENY", "headers kept")
    for path in ("/healthz", "/readyz"):
        eq(sltest.get(aport, path, host="evil.example").status, 200,
           "%s answers any Host (probes)" % path)
    # an unknown path: 404 by an allowed name, 403 by another
    r = sltest.get(aport, "/nope", host="gw.example")
    eq((r.status, r.body), (404, b'{"error":"not_found"}\n'), "/nope")
    eq(sltest.get(aport, "/nope", host="evil.example").status, 403,
       "/nope by another name")
    # no Host (HTTP/1.0): no browser's request
    eq(sltest.get(aport, "/status", host=None, version="1.0").status, 200,
       "HTTP/1.0 without Host")
    # an absolute-form target names the host: it is the one checked,
    # whatever Host says
    for target, host, want in ((b"http://evil.example/status",
                                b"127.0.0.1", b"403"),
                               (b"http://127.0.0.1/status",
                                b"evil.example", b"200")):
        c = socket.create_connection(("127.0.0.1", aport), timeout=10)
        c.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host +
                  b"\r\n\r\n")
        check(c.recv(100).startswith(b"HTTP/1.1 " + want),
              "absolute form %r, Host %r" % (target, host))
        c.close()
    check(re.search(r'info: admin: /status refused \(403\): Host '
                    r'"evil\.example:\d+" is not an address, localhost '
                    r'or a name of admin\.hosts', s.stderr()),
          "the refusal is logged")
    # at most once a second: a burst of refusals, a second after the
    # last, is one line or two
    time.sleep(1.1)
    n0, t0 = s.stderr().count("refused (403)"), time.monotonic()
    for _ in range(20):
        sltest.get(aport, "/status", host="evil.example")
    lines = s.stderr().count("refused (403)") - n0
    check(1 <= lines <= time.monotonic() - t0 + 1, "20 refusals in %.1f s "
          "logged %d times" % (time.monotonic() - t0, lines))
    eq(sltest.get(aport, "/config").json()["admin"]["hosts"],
       ["gw.example", "ops.example"], "/config's hosts")
    # a browser on this machine, led to the admin by another name
    b = chrome.Browser(["--host-resolver-rules=MAP evil.example "
                        "127.0.0.1, MAP gw.example 127.0.0.1"])
    try:
        b.open("http://evil.example:%d/" % aport)
        eq(b.eval("document.body.textContent"),
           '{"error":"host_not_allowed"}\n', "the rebound page")
        eq(b.eval("fetch('/status').then((r) => r.status)", wait=10), 403,
           "the rebound page's read of /status")
        errs = b.errors()
        check(errs and all("403" in e for e in errs),
              "the refusals are the browser's errors: %r" % errs)
        b.open("http://gw.example:%d/" % aport)
        check(wait_until(lambda: refreshes(b) >= 1, timeout=20),
              "the page by a name of admin.hosts refreshed")
        # the rebound page's own (its favicon's 403 may come late)
        eq([e for e in b.errors() if "evil.example" not in e or
            "403" not in e], [], "the page's console and log errors")
    finally:
        b.close()
    # a file without "admin" keeps the running names
    cfg2 = json.loads(json.dumps(cfg))
    del cfg2["admin"]
    reload(s, aport, cfg2)
    eq([sltest.get(aport, "/status", host=h).status
        for h in ("gw.example", "evil.example")], [200, 403],
       "gw.example and evil.example after a reload without admin")
    # "*": any name; taken out, the check is back
    cfg2 = json.loads(json.dumps(cfg))
    cfg2["admin"]["hosts"] = ["*"]
    reload(s, aport, cfg2)
    eq(sltest.get(aport, "/status", host="evil.example").status, 200,
       "evil.example with hosts [*]")
    cfg2["admin"]["hosts"] = ["gw.example"]
    reload(s, aport, cfg2)
    eq(sltest.get(aport, "/status", host="evil.example").status, 403,
       "evil.example with hosts [gw.example]")
    # credentials: the check is theirs (a rebound page has none)
    d = tmpdir()
    tf = os.path.join(d, "token")
    with open(tf, "w") as f:
        f.write("tok-" + "5" * 40 + "\n")
    os.chmod(tf, 0o600)
    del cfg2["admin"]["hosts"]
    cfg2["admin"]["auth"] = {"token_file": tf}
    with open(s.conf_path, "w") as f:
        f.write(sltest.to_yaml(cfg2) + "\n")
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: sltest.get(aport, "/status").status == 401,
                     timeout=10), "the token applied")
    eq(sltest.get(aport, "/status", host="evil.example").status, 401,
       "another name without the token")
    eq(sltest.get(aport, "/status", host="evil.example", headers={
        "Authorization": "Bearer tok-" + "5" * 40}).status, 200,
       "another name with the token")
    s.stop()


def basic_admin(user_pass):
    """A sluice whose admin asks for the basic user user_pass
    ("USER:PASSWORD"), with the split of config(): (sluice, admin port,
    the basic file's path)."""
    bf = os.path.join(tmpdir(), "basic")
    with open(bf, "w") as f:
        f.write(user_pass + "\n")
    os.chmod(bf, 0o600)
    v1, v2 = Version("v1"), Version("v2")
    aport = free_port()
    cfg, port = config(v1, v2, [Version("a1")], aport)
    cfg["admin"]["auth"] = {"basic_file": bf}
    return start_sluice(cfg), aport, bf


def visible(sel):
    return ("(() => { const e = document.querySelector(%s); return !!e && "
            "!e.closest('[hidden]') && e.getClientRects().length > 0; })()"
            % json.dumps(sel))


@test
def the_page_pages_and_searches_its_routes():
    # issue 78: 100,000 routes made one table of 100,000 rows, rebuilt
    # every 2 s; the page now shows 100 at a time, with a search
    up = sltest.Upstream("up")
    aport = free_port()
    routes = [{"match": {"host": "m%06d.pay.test" % i}, "cluster": "a"}
              for i in range(250)]
    cfg, port = make_config({"a": [up]}, routes=routes,
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    s = start_sluice(cfg)
    rows = "document.querySelectorAll('#listeners tr.child').length"
    b = chrome.Browser()
    try:
        b.open("http://127.0.0.1:%d/" % aport)
        check(wait_until(lambda: refreshes(b) >= 1, timeout=20),
              "the page read /status")
        eq(b.eval(rows), 100, "100 routes shown")
        eq(b.eval(text("#routes-range")), "1\u2013100 of 250", "the range")
        check(b.eval("document.getElementById('routes-prev').disabled"),
              "no previous page")
        b.eval("document.getElementById('routes-next').click()")
        shown_within_two_refreshes(
            b, text("#routes-range") + " === '101\u2013200 of 250'",
            "the next page")
        eq(b.eval("document.querySelector('#listeners tr.child')"
                  ".dataset.route"), "main/route-101", "its first route")
        b.eval("(() => { const q = document.getElementById('routes-q'); "
               "q.value = 'M00012'; q.dispatchEvent(new Event('input')); "
               "})()")
        shown_within_two_refreshes(
            b, text("#routes-range") + ".startsWith('1\u201310 of 10 "
            "matching')", "the search")
        eq(b.eval(rows), 10, "the routes found")
        check(b.eval("document.getElementById('routes-next').disabled"),
              "no next page of the search")
        eq(b.errors(), [], "the page's console and log errors")
    finally:
        b.close()
    s.stop()


@test
def the_page_opened_with_credentials_in_its_url_reads_status():
    # issue 77: opened as http://user:password@host:port/ (how a browser
    # is given basic credentials in one line), the page read nothing:
    # fetch() refuses a URL that holds credentials, and the page's reads
    # were relative to its own URL. It showed empty panels and "No route
    # splits its traffic" as if they were facts
    s, aport, _ = basic_admin("ops:s3cret")
    b = chrome.Browser()
    try:
        b.open("http://ops:s3cret@127.0.0.1:%d/" % aport)
        check(wait_until(lambda: refreshes(b) >= 2, timeout=20),
              "the page read /status twice (updated line: %r, banner: %r)"
              % (b.eval(text("#updated")), b.eval(text("#unread"))))
        check(b.eval(visible('tr[data-split="main/pay/v2"]')),
              "the route's split shows")
        check(not b.eval(visible("#nosplits")), "'no split' is not said")
        check(not b.eval(visible("#unread")), "no banner")
        check(b.eval(text("#updated")).startswith("updated "),
              "the updated line: %r" % b.eval(text("#updated")))
        eq(b.errors(), [], "the page's console and log errors")
    finally:
        b.close()
    s.stop()


@test
def a_page_that_cannot_read_status_says_so():
    # a page that cannot read /status must say so, not show what it has
    # (nothing, or figures gone stale) as the gateway's state: the
    # admin's password changed under an open page (its reads answered
    # 401), and a browser that blocks the reads from the start
    s, aport, bf = basic_admin("ops:first")
    b = chrome.Browser()
    try:
        b.open("http://ops:first@127.0.0.1:%d/" % aport)
        check(wait_until(lambda: refreshes(b) >= 1, timeout=20),
              "the page read /status")
        with open(bf + ".new", "w") as f:
            f.write("ops:second\n")
        os.chmod(bf + ".new", 0o600)
        os.rename(bf + ".new", bf)
        s.send_signal(signal.SIGHUP)
        second = {"Authorization": "Basic " +
                  base64.b64encode(b"ops:second").decode()}
        check(wait_until(lambda: sltest.get(aport, "/status",
                                            headers=second).status == 200,
                         timeout=10), "the new password applied")
        # (chromium holds a read that was answered 401 with a challenge
        # for its login prompt, which no one fills in here: the page
        # says it had no answer)
        check(wait_until(lambda: b.eval(visible("#unread")), timeout=15),
              "no banner once /status answers 401 (updated line: %r)"
              % b.eval(text("#updated")))
        banner = b.eval(text("#unread"))
        check(banner.startswith("cannot read /status: ")
              and "the figures below were read at" in banner,
              "the banner: %r" % banner)
        check("admin: /status refused (401)" in s.stderr(),
              "the admin refused the page's read")
        check(b.eval("document.querySelector('main').classList"
                     ".contains('stale')"), "the figures are marked stale")
        # the page read nothing: no panel says anything
        b.open("about:blank")
        b.call("Network.enable")
        b.call("Network.setBlockedURLs", {"urls": ["*/status"]})
        b.call("Page.navigate",
               {"url": "http://ops:second@127.0.0.1:%d/" % aport})
        check(wait_until(lambda: b.eval(visible("#unread")), timeout=15),
              "no banner when the page read nothing (updated line: %r)"
              % b.eval(text("#updated")))
        banner = b.eval(text("#unread"))
        check(banner.startswith("cannot read /status: ") and
              "nothing read yet" in banner, "the banner: %r" % banner)
        eq(refreshes(b), 0, "refreshes")
        check(not b.eval(visible("#nosplits")),
              "'No route splits its traffic' said of nothing read")
        check(not b.eval(visible("main")), "empty panels shown")
    finally:
        b.close()
    s.stop()


@test
def the_watch_follows_the_token_file():
    d = tmpdir()
    tf = os.path.join(d, "token")
    with open(tf, "w") as f:
        f.write("first-token\n")
    os.chmod(tf, 0o600)
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    cfg["admin"]["auth"] = {"token_file": tf}
    cfg["watch"] = True
    s = start_sluice(cfg)
    first = {"Authorization": "Bearer first-token"}
    second = {"Authorization": "Bearer second-token"}
    eq(sltest.get(aport, "/status", headers=first).status, 200, "first")
    with open(tf + ".new", "w") as f:
        f.write("second-token\n")
    os.chmod(tf + ".new", 0o600)
    os.rename(tf + ".new", tf)
    check(wait_until(lambda: sltest.get(aport, "/status", headers=second)
                     .status == 200, timeout=15), "the new token works")
    eq(sltest.get(aport, "/status", headers=first).status, 401,
       "the old one no longer")
    s.stop()


@test
def t_warns_of_an_open_admin_and_checks_the_files():
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    cfg, port = config(v1, v2, api, free_port())
    cfg["admin"]["address"] = "0.0.0.0:%d" % free_port()
    d = tmpdir()
    path = os.path.join(d, "s.yaml")
    with open(path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", path])
    eq(rc, 0, "-t: %s" % err)
    check(re.search(r"warning: admin: 0\.0\.0\.0:\d+ is not a loopback "
                    r"address and \"auth\" is not set", err),
          "the warning: %r" % err)
    tf = os.path.join(d, "token")
    cfg["admin"]["auth"] = {"token_file": tf}
    with open(path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", path])
    eq(rc, 1, "-t with a missing token file")
    check('"token_file": cannot read' in err, "why: %r" % err)
    with open(tf, "w") as f:
        f.write("a\nb\n")
    rc, out, err = run_sluice(["-t", "-c", path])
    eq(rc, 1, "-t with two lines")
    with open(tf, "w") as f:
        f.write("tok\n")
    os.chmod(tf, 0o644)
    rc, out, err = run_sluice(["-t", "-c", path])
    eq(rc, 0, "-t: %s" % err)
    check("readable by others" in err and "loopback" not in err,
          "warned of the mode only: %r" % err)
    cfg["admin"]["auth"] = {}
    with open(path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", path])
    eq(rc, 1, "-t with an empty auth")
    check('needs "token_file" or "basic_file"' in err, "why: %r" % err)


def admin_pki():
    if not sltest.have_openssl():
        raise sltest.Skip("the openssl command is not installed")
    p = sltest.Pki()
    p.ca("ca", "/O=Sluice Test/CN=Admin CA")
    p.leaf("admin", "/CN=admin.test", "ca", ["admin.test"],
           ips=["127.0.0.1"])
    p.leaf("ops", "/O=Ops/CN=ops", "ca")
    return p


@test
def the_admin_over_tls_with_client_certificates():
    p = admin_pki()
    p.ca("other", "/O=Elsewhere/CN=Other CA")
    p.leaf("stranger", "/CN=stranger", "other")
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    cfg["admin"]["tls"] = {
        "certificates": [{"cert": p["admin"].cert,
                          "key": p["admin"].key}],
        "client_ca": p["ca"].cert}
    s = start_sluice(cfg)
    ca = p["ca"].cert
    ops = {"cert": p["ops"].cert, "key": p["ops"].key}
    for path in ("/", "/status", "/healthz"):
        r = sltest.tls_get(aport, path, cafile=ca, **ops)
        eq(r.status, 200, "%s over TLS with a client certificate" % path)
    eq(sltest.tls_get(aport, "/status", cafile=ca, **ops).json()["schema"],
       1, "/status over TLS")
    # without a certificate, or with one of another CA: no answer
    for kw in ({}, {"cert": p["stranger"].cert,
                    "key": p["stranger"].key}):
        try:
            r = sltest.tls_get(aport, "/status", cafile=ca, **kw)
            raise AssertionError("answered %d without a certificate of "
                                 "the CA (%r)" % (r.status, kw))
        except (OSError, sltest.Closed):
            pass
    # plain HTTP on it: no answer either
    c = socket.create_connection(("127.0.0.1", aport))
    c.settimeout(5)
    c.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        got = c.recv(100)
    except ConnectionResetError:
        got = b""
    check(not got.startswith(b"HTTP/"), "plain HTTP answered")
    c.close()
    # a real client, curl
    out = subprocess.run(
        ["curl", "-sS", "--cacert", ca, "--cert", ops["cert"], "--key",
         ops["key"], "https://127.0.0.1:%d/status" % aport],
        capture_output=True, timeout=20)
    eq(out.returncode, 0, "curl: %r" % out.stderr)
    eq(json.loads(out.stdout)["schema"], 1, "curl's /status")
    s.stop()
    # client certificates required are credentials: no warning for an
    # address others reach
    cfg["admin"]["address"] = "0.0.0.0:%d" % free_port()
    path = os.path.join(tmpdir(), "s.yaml")
    with open(path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", path])
    eq(rc, 0, "-t: %s" % err)
    check("loopback" not in err, "no warning: %r" % err)
    cfg["admin"]["tls"]["client_verify"] = "optional"
    with open(path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", path])
    check("is not a loopback address" in err, "optional: warned: %r" % err)


def admin_tls_reload(s, cfg):
    """Writes cfg, reloads, and waits until the generation runs."""
    with open(s.conf_path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    n = s.stderr().count("reload: generation")
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: s.stderr().count("reload: generation") > n,
                     timeout=10), "the reload applied")


@test
def a_handshake_begun_before_a_reload_ends_after_it():
    """An admin connection holds its generation: the TLS context of the
    one it was accepted under (SNI's callback reads it) outlives a
    reload. Under ASan, before the fix, a use-after-free."""
    p = admin_pki()
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    cfg["admin"]["tls"] = {"certificates": [{"cert": p["admin"].cert,
                                             "key": p["admin"].key}]}
    s = start_sluice(cfg)
    ctx = sltest.tls_client_context(p["ca"].cert)
    held = socket.create_connection(("127.0.0.1", aport), timeout=10)
    time.sleep(0.3)
    cfg["drain_timeout"] = "6s"   # another file: another generation
    admin_tls_reload(s, cfg)
    time.sleep(1.5)               # the old generation let go
    c = ctx.wrap_socket(held, server_hostname="admin.test")
    c.sendall(b"GET /status HTTP/1.1\r\nHost: admin.test\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        d = c.recv(4096)
        if not d:
            break
        got += d
    check(got.startswith(b"HTTP/1.1 200"), "answered: %r" % got[:60])
    c.close()
    s.stop()


@test
def a_session_of_before_the_client_ca_is_not_resumed_after_it():
    """Sessions (and tickets) made without client certificates are not
    resumed once a reload requires them, nor under another CA."""
    p = admin_pki()
    v1, v2 = Version("v1"), Version("v2")
    api = [Version("a1")]
    aport = free_port()
    cfg, port = config(v1, v2, api, aport)
    cfg["admin"]["tls"] = {"certificates": [{"cert": p["admin"].cert,
                                             "key": p["admin"].key}]}
    s = start_sluice(cfg)
    ctxs, sessions = {}, {}
    for ver in ("TLSv1.2", "TLSv1.3"):
        ctx = ctxs[ver] = sltest.tls_client_context(p["ca"].cert,
                                                     max_version=ver)
        c = sltest.TLSClient(aport, sni="admin.test", ctx=ctx)
        eq(c.request("GET", "/healthz").status, 200, "no client_ca " + ver)
        sess = c.session
        c.close()
        c = sltest.TLSClient(aport, sni="admin.test", ctx=ctx,
                             session=sess)
        check(c.session_reused, "resumed before the reload " + ver)
        sessions[ver] = c.session
        c.close()
    cfg["admin"]["tls"]["client_ca"] = p["ca"].cert
    admin_tls_reload(s, cfg)
    for ver, sess in sessions.items():
        try:
            c = sltest.TLSClient(aport, sni="admin.test", ctx=ctxs[ver],
                                 session=sess)
            r = c.request("GET", "/status")
            raise AssertionError("%s: an old session got %d without a "
                                 "certificate (reused %s)"
                                 % (ver, r.status, c.session_reused))
        except (OSError, sltest.Closed):
            pass
    # with the certificate now required, a client that has one is in
    c = sltest.TLSClient(aport, sni="admin.test", cafile=p["ca"].cert,
                         cert=p["ops"].cert, key=p["ops"].key)
    eq(c.request("GET", "/status").status, 200, "with a certificate")
    c.close()
    s.stop()


if __name__ == "__main__":
    main()
