# SPDX-License-Identifier: MIT
"""A route's hosts_file through the real binary (issue 78): a platform's
100,000 merchant hosts as the names of one route, read from their own
file. Each name (any case, with a port or a trailing dot, over HTTP/1.1
and HTTP/2) reaches the merchants' cluster; a wildcard line covers its
subdomains; any other host falls to the next route. A reload that adds a
name serves it; one that removes a name stops serving it; a file with a
bad line, or none left, is refused with the file's line in the log and
the running generation keeps serving. -t names every bad line; /config
shows the file and its count; the status page's search finds the route
by a merchant's host; watch: true follows the file."""

import json
import os
import signal
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Sluice, Upstream, _register, check,  # noqa: E402
                    eq, free_port, main, metrics, run_sluice, test, tmpdir,
                    wait_until)

try:
    from h2test import HAVE_H2, H2Client
except ImportError:  # pragma: no cover
    HAVE_H2 = False

N = 100000


def write_hosts(path, names):
    """The file written whole and renamed over the old one, as a
    platform's tooling should (a reload never reads half of it)."""
    with open(path + ".new", "w") as f:
        f.write("# merchants, one host a line\n")
        f.write("\n".join(names) + "\n")
    os.rename(path + ".new", path)


def names(n=N, drop=(), add=()):
    out = ["m%06d.shop.test" % i for i in range(n) if i not in drop]
    out.insert(500, "*.Tenants.Test   # every tenant's subdomain")
    return out + list(add)


def conf(port, aport, hosts, a, b, watch=False):
    return ("workers: 2\n"
            "log: { level: warn, access: off }\n"
            "%s"
            "admin: { address: 127.0.0.1:%d }\n"
            "listeners:\n"
            "  - name: main\n"
            "    address: 127.0.0.1:%d\n"
            "    protocols: [h2, http/1.1]\n"
            "    routes:\n"
            "      - name: merchants\n"
            "        match: { hosts_file: %s }\n"
            "        cluster: a\n"
            "      - name: rest\n"
            "        cluster: b\n"
            "clusters:\n"
            "  - { name: a, endpoints: [%s] }\n"
            "  - { name: b, endpoints: [%s] }\n"
            % ("watch: true\nwatch_debounce: 100ms\n" if watch else "",
               aport, port, hosts, a.addr, b.addr))


def served_by(port, host, path="/"):
    """The upstream that answered host (its name), or the status."""
    c = Client(port)
    try:
        r = c.request("GET", path, host=host)
        if r.status != 200:
            return r.status
        return json.loads(r.body)["upstream"]
    finally:
        c.close()


def hosts_metric(aport):
    """sluice_route_hosts_file_names of the merchants' route."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport,
                                timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith('sluice_route_hosts_file_names{listener="main",'
                           'route="merchants"} '):
            return int(line.rsplit(" ", 1)[1])
    return None


def start(watch=False):
    d = tmpdir()
    hp = os.path.join(d, "merchants.hosts")
    write_hosts(hp, names())
    a, b = Upstream("a"), Upstream("b")
    port, aport = free_port(), free_port()
    sl = Sluice(conf(port, aport, hp, a, b, watch), wait_ports=[port])
    _register("sluices", sl)
    sl.start(timeout=60)
    return sl, hp, port, aport


@test
def a_hundred_thousand_hosts_in_one_route():
    sl, hp, port, aport = start()
    for host in ("m000000.shop.test", "m099999.shop.test",
                 "M050000.Shop.TEST", "m000001.shop.test:8443",
                 "m099998.shop.test.", "pay.tenants.test",
                 "a.b.tenants.test:443"):
        eq(served_by(port, host), "a", "%s: the merchants' cluster" % host)
    for host in ("m100000.shop.test", "tenants.test", "shop.test",
                 "m000001.shop.test.evil.test", "127.0.0.1"):
        eq(served_by(port, host), "b", "%s: the next route" % host)
    # a Host longer than any name: only a wildcard can take it (probed,
    # never a walk of the 100,000 names)
    long_label = ".".join(["x" * 60] * 5)
    eq(served_by(port, long_label + ".tenants.test"), "a",
       "a 318-byte host under the wildcard")
    eq(served_by(port, long_label + ".shop.test"), "b",
       "a 315-byte host under no name")
    if HAVE_H2:
        h = H2Client(port, host="m099999.shop.test")
        st = h.get("/")
        eq(st.status, 200, "HTTP/2 :authority of the last name")
        eq(json.loads(bytes(st.body))["upstream"], "a", "over HTTP/2")
        h.close()

    # /config: the file and how many names it held
    with urllib.request.urlopen("http://127.0.0.1:%d/config" % aport,
                                timeout=10) as r:
        cfg = json.loads(r.read())
    m = cfg["listeners"][0]["routes"][0]["match"]
    eq((m["hosts_file"], m["hosts"], m["host"]), (hp, N + 1, None),
       "/config shows the file and its count")
    # the status page's search finds the route by a merchant's host
    with urllib.request.urlopen(
            "http://127.0.0.1:%d/status?routes_q=M077777" % aport, timeout=10) as r:
        st = json.loads(r.read())
    rows = [rt["name"] for lst in st["listeners"] for rt in lst["routes"]]
    eq(rows, ["merchants"], "a merchant's host finds its route")

    eq(hosts_metric(aport), N + 1, "sluice_route_hosts_file_names")

    # a reload: one name added, two removed
    write_hosts(hp, names(drop={7, 8}, add=["new.shop.test"]))
    res, _ = sltest.sighup_reload(sl, aport, timeout=30)
    eq(res, "ok", "the reload")
    eq(hosts_metric(aport), N, "the metric follows the file")
    eq(served_by(port, "new.shop.test"), "a", "the added name is served")
    eq(served_by(port, "m000007.shop.test"), "b", "the removed one is not")

    # a bad line: refused with the file's line; the generation keeps
    # serving what it had
    sl.expect_errors(r"is not valid; generation \d+ keeps running",
                     r"reload: .*merchants\.hosts:4: ")
    with open(hp, "w") as f:
        f.write("ok.shop.test\n\nnew.shop.test\nbad..shop.test\n")
    gen = metrics(aport).get("sluice_config_generation")
    sl.send_signal(signal.SIGHUP)
    check(wait_until(lambda: "merchants.hosts:4:" in sl.stderr(), 10),
          "the refusal names the file's line: %s" % sl.stderr()[-2000:])
    check('"bad..shop.test" is not a host name' in sl.stderr(),
          "and the name")
    eq(metrics(aport).get("sluice_config_generation"), gen,
       "no new generation")
    eq(served_by(port, "m099999.shop.test"), "a", "the old names serve")
    eq(served_by(port, "ok.shop.test"), "b", "the bad file's do not")

    # nothing left (a truncated file): refused too
    sl.expect_errors(r"holds no name")
    with open(hp, "w") as f:
        f.write("# emptied\n")
    sl.send_signal(signal.SIGHUP)
    check(wait_until(lambda: "holds no name" in sl.stderr(), 10),
          "an empty file is refused")
    eq(served_by(port, "m099999.shop.test"), "a", "still served")
    sl.stop()


@test
def the_check_names_every_bad_line():
    d = tmpdir()
    hp = os.path.join(d, "m.hosts")
    with open(hp, "w") as f:
        f.write("a.shop.test\nbad..x\nc.shop.test:80\nd e\n")
    a, b = Upstream("a"), Upstream("b")
    cp = os.path.join(d, "sluice.yaml")
    with open(cp, "w") as f:
        f.write(conf(free_port(), free_port(), hp, a, b))
    rc, out, err = run_sluice(["-t", "-c", cp])
    check(rc != 0, "-t refuses the file")
    for line, what in ((2, '"bad..x" is not a host name'),
                       (3, '"c.shop.test:80" must not contain a port'),
                       (4, '"d e" is not one name')):
        check("m.hosts:%d: %s" % (line, what) in err,
              "line %d said: %r" % (line, err))
    check("sluice.yaml:10:30: error" in err, "at the hosts_file key: %r" % err)
    write_hosts(hp, names())
    rc, out, err = run_sluice(["-t", "-c", cp], timeout=60)
    eq(rc, 0, "-t passes the good file: %s" % err)


@test
def the_watch_follows_the_hosts_file():
    """watch: true reloads when the hosts file changes (doc/fleet.md
    section 3): a merchant added to the file is served without a
    SIGHUP."""
    sl, hp, port, aport = start(watch=True)
    eq(served_by(port, "late.shop.test"), "b", "not yet a merchant")
    gen0 = metrics(aport).get("sluice_config_generation")
    write_hosts(hp, names(add=["late.shop.test"]))
    check(wait_until(lambda: metrics(aport).get(
        "sluice_config_generation", 0) > gen0, timeout=30, interval=0.1),
        "the file's change reloaded")
    sltest.wait_applied(aport, timeout=30)
    eq(served_by(port, "late.shop.test"), "a", "the added name is served")
    sl.stop()


if __name__ == "__main__":
    main()
