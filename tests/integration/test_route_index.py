# SPDX-License-Identifier: MIT
"""Routes at a platform's size through the real binary (issue 78): a file
of 20,000 routes (exact hosts, wildcards before and after them, path
prefixes and exact paths on one host, method-restricted routes, a
catch-all) serves the route the list order gives, checked against a walk
written here in Python over random requests (case, ports, trailing dots,
queries); a reload that adds and removes hosts serves the new index at
once. Each route names itself in an X-Route response field."""

import os
import random
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Sluice, Upstream, _register, check,  # noqa
                    free_port, main, test, wait_until)


def build_routes(nhosts=15000, nprefix=2000, nexact=2000, drop=(), add=()):
    """The routes as (name, host, wildcard, path, prefix, methods)."""
    r = []
    # a wildcard before the exact hosts it covers wins over them
    r.append(("w-early", ".early.pay.test", True, None, False, None))
    for i in range(nhosts):
        if i in drop:
            continue
        host = "h%05d.pay.test" % i
        if i % 1000 == 7:
            host = "e%d.early.pay.test" % i  # shadowed by w-early
        methods = ["POST"] if i % 997 == 3 else None
        r.append(("h%05d" % i, host, False, None, False, methods))
        if i % 1500 == 0:
            r.append(("w%05d" % i, ".w%d.pay.test" % i, True, None, False,
                      None))
    for name, host in add:
        r.append((name, host, False, None, False, None))
    for i in range(nprefix):
        r.append(("p%04d" % i, "api.pay.test", False, "/p/%04d/" % i, True,
                  None))
    for i in range(nexact):
        r.append(("x%04d" % i, "api.pay.test", False, "/x/%04d" % i, False,
                  ["GET"] if i % 2 else None))
    r.append(("short", "api.pay.test", False, "/p/", True, None))
    r.append(("w-late", ".pay.test", True, None, False, None))
    r.append(("all", None, False, "/", True, None))
    return r


def walk(routes, method, host, path):
    """route.c's walk: the first route whose parts all match."""
    path = path.split("?", 1)[0]
    if host is not None:
        if host.startswith("["):
            host = host[:host.index("]") + 1]
        else:
            host = host.split(":", 1)[0]
        if len(host) > 1 and host.endswith("."):
            host = host[:-1]
        host = host.lower()
    for name, h, wild, p, prefix, methods in routes:
        if h is not None:
            if host is None:
                continue
            if wild and not (len(host) > len(h) and host.endswith(h)):
                continue
            if not wild and host != h:
                continue
        if p is not None:
            if prefix and not path.startswith(p):
                continue
            if not prefix and path != p:
                continue
        if methods is not None and method not in methods:
            continue
        return name
    return None


def yaml_text(routes, port, up):
    out = ["workers: 2", "log: { level: warn, access: off }", "listeners:",
           "  - name: main", "    address: 127.0.0.1:%d" % port,
           "    routes:"]
    for name, h, wild, p, prefix, methods in routes:
        m = []
        if h is not None:
            m.append("host: \"%s\"" % (("*" + h) if wild else h))
        if p is not None:
            m.append("%s: %s" % ("path_prefix" if prefix else "path", p))
        if methods:
            m.append("methods: [%s]" % ", ".join(methods))
        out.append("      - { name: %s, %scluster: a, response_headers: "
                   "{ set: { X-Route: %s } } }"
                   % (name, ("match: { %s }, " % ", ".join(m)) if m else "",
                      name))
    out += ["clusters:", "  - name: a",
            "    endpoints: [127.0.0.1:%d]" % up.port]
    return "\n".join(out) + "\n"


def random_request(rng):
    k = rng.randrange(9)
    if k == 0:
        host = "h%05d.pay.test" % rng.randrange(15500)
    elif k == 1:
        host = "e%d.early.pay.test" % (rng.randrange(15) * 1000 + 7)
    elif k == 2:
        host = "%s.w%d.pay.test" % (rng.choice(["a", "b.c"]),
                                    rng.randrange(11) * 1500)
    elif k == 3:
        host = rng.choice(["pay.test", "x.pay.test", "early.pay.test",
                           "other.example"])
    else:
        host = "api.pay.test"
    if rng.randrange(4) == 0:
        host = host.upper()
    host += rng.choice(["", "", ":8443", ".", ".:80"])
    k = rng.randrange(5)
    if k == 0:
        path = "/p/%04d/%s" % (rng.randrange(2100), rng.choice(["", "x"]))
    elif k == 1:
        path = "/x/%04d" % rng.randrange(2100)
    elif k == 2:
        path = rng.choice(["/p/", "/p", "/x/", "/"])
    else:
        path = "/p/%04d" % rng.randrange(2000)
    path += rng.choice(["", "", "?q=/p/0001/"])
    return rng.choice(["GET", "POST"]), host, path


def check_requests(port, routes, rng, n, extra=()):
    c = Client(port)
    bad = []
    reqs = [random_request(rng) for _ in range(n)] + list(extra)
    for method, host, path in reqs:
        body = b"x" if method == "POST" else None
        r = c.request(method, path, None, body, host=host)
        want = walk(routes, method, host, path)
        got = r.header("X-Route") if r.status == 200 else None
        if got != want:
            bad.append("%s %s Host %s: want %s, got %s %s"
                       % (method, path, host, want, r.status, got))
        if r.wants_close() or c.eof:
            c.close()
            c = Client(port)
    c.close()
    check(not bad, "%d of %d requests routed unlike the walk:\n  %s"
          % (len(bad), len(reqs), "\n  ".join(bad[:20])))


@test
def twenty_thousand_routes_match_the_walk():
    up = Upstream("a")
    port = free_port()
    routes = build_routes()
    check(len(routes) > 19000, "the file has %d routes" % len(routes))
    sl = Sluice(yaml_text(routes, port, up), wait_ports=[port])
    _register("sluices", sl)
    sl.start(timeout=60)
    rng = random.Random(78)
    check_requests(port, routes, rng, 600, extra=[
        ("GET", routes[1][1], "/"), ("GET", "h14999.pay.test", "/"),
        ("GET", "api.pay.test", "/x/1999"), ("POST", "api.pay.test",
                                             "/x/1999"),
        ("GET", "api.pay.test", "/p/1999/z"), ("GET", "API.pay.test.",
                                               "/p/?a"),
        ("GET", "e7.early.pay.test", "/"), ("POST", "h00003.pay.test", "/"),
        ("GET", "h00003.pay.test", "/")])

    # a reload: hosts removed (their requests fall to the wildcards and
    # the catch-all) and added; the new generation's index serves them
    routes2 = build_routes(drop={5, 14999},
                           add=[("n1", "new1.pay.test"),
                                ("n2", "new2.early.pay.test")])
    with open(sl.conf_path, "w") as f:
        f.write(yaml_text(routes2, port, up))
    sl.send_signal(signal.SIGHUP)

    def applied():
        c = Client(port)
        try:
            r = c.request("GET", "/", host="new1.pay.test")
            return r.status == 200 and r.header("X-Route") == "n1"
        finally:
            c.close()
    check(wait_until(applied, timeout=60), "the reload's new host served")
    check_requests(port, routes2, rng, 300, extra=[
        ("GET", "h00005.pay.test", "/"), ("GET", "h14999.pay.test", "/z"),
        ("GET", "new2.early.pay.test", "/")])
    sl.stop()


if __name__ == "__main__":
    main()
