# SPDX-License-Identifier: MIT
"""The canary guard of a split (doc/fleet.md section 4), through the real
binary: Node HTTP servers as the stable and canary versions (each fails a
share of its requests, or answers late, as the test tells it), wrk as the
load. A canary that starts failing is pulled to weight 0, and the
clients saw no error but the ones it served before the trip (counted at
the servers and by wrk); a healthy canary at 1 % is never pulled over
100,000 requests; sticky users go back to the stable cluster; a reload
that keeps the split keeps the trip, one that changes it clears it; two
gateways judge on their own and both trip; latency trips too."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from nodever import Version  # noqa: E402
from sltest import (Client, check, eq, free_port, main,  # noqa: E402
                    make_config, metrics, start_sluice, test, wait_until)

WRK = shutil.which("wrk")


def guarded(stable, canary, weights=(90, 10), guard=None, sticky=None,
            port=None, aport=None):
    """A config whose route splits between the two versions, guarded."""
    aport = aport or free_port()
    route = {"name": "pay",
             "split": [{"cluster": "v1", "weight": weights[0]},
                       {"cluster": "v2", "weight": weights[1]}],
             "guard": guard or {"window": "10s", "min_requests": 20},
             "expose_cluster_header": "X-Cluster"}
    if sticky:
        route["sticky"] = sticky
    cfg, port = make_config({"v1": [stable.addr], "v2": [canary.addr]},
                            routes=[route], port=port,
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    return cfg, port, aport


def config_page(aport):
    r = sltest.get(aport, "/config")
    eq(r.status, 200, "/config")
    return r.json()


def guard_of(aport):
    return config_page(aport)["listeners"][0]["routes"][0]["guard"]


def tripped(aport, cluster="v2"):
    for c in guard_of(aport)["clusters"]:
        if c["cluster"] == cluster:
            return c["tripped"]
    raise AssertionError("no cluster %s in the guard" % cluster)


class Load:
    """wrk in the background on port for secs (or until stopped)."""

    def __init__(self, port, secs, conns=8, headers=()):
        if WRK is None:
            raise sltest.Skip("no wrk")
        args = [WRK, "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency"]
        for h in headers:
            args += ["-H", h]
        args.append("http://127.0.0.1:%d/pay" % port)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        sltest._all_procs.append(self.proc)
        self.out = None

    def wait(self):
        self.out = self.proc.communicate(timeout=120)[0].decode()
        return self

    def requests(self):
        m = re.search(r"(\d+) requests in", self.out)
        check(m is not None, "wrk's output: %s" % self.out)
        return int(m.group(1))

    def errors(self):
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", self.out)
        bad = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), "
                      r"write (\d+), timeout (\d+)", self.out)
        sock = sum(int(x) for x in m.groups()) if m else 0
        return bad, sock


@test
def a_failing_canary_is_pulled_and_only_it_failed():
    stable, canary = Version("v1"), Version("v2")
    cfg, port, aport = guarded(stable, canary)
    s = start_sluice(cfg)
    load = Load(port, 14)
    time.sleep(3)
    check(not tripped(aport), "a healthy canary is not tripped")
    t0 = time.monotonic()
    canary.ctl(fail=0.3)
    check(wait_until(lambda: tripped(aport), timeout=30, interval=0.1),
          "the canary is tripped once it fails 30 %")
    took = time.monotonic() - t0
    print("# tripped %.1f s after the canary began failing 30 %%" % took)
    after = canary.stats()
    time.sleep(2)
    load.wait()
    # nothing more went to the canary, bar requests in flight at the trip
    later = canary.stats()
    check(later["ok"] + later["failed"] - after["ok"] - after["failed"] <= 8,
          "the canary gets no requests after its trip: %r then %r"
          % (after, later))
    # what the clients saw failing is exactly what the canary failed
    bad, sock = load.errors()
    eq(sock, 0, "socket errors at the clients")
    eq(bad, later["failed"], "failed responses at the clients and the "
       "canary's own failures")
    eq(stable.stats()["failed"], 0, "the stable version failed nothing")
    check(bad > 0, "the canary failed some before its trip")
    g = guard_of(aport)
    c2 = [c for c in g["clusters"] if c["cluster"] == "v2"][0]
    eq(c2["reason"], "failures", "why it tripped")
    split = config_page(aport)["listeners"][0]["routes"][0]["split"]
    eq([x["effective_weight"] for x in split], [90, 0],
       "the split's weights now")
    m = metrics(aport)
    eq(m['sluice_route_guard_tripped{listener="main",route="pay",'
         'cluster="v2"}'], 1, "sluice_route_guard_tripped")
    eq(m['sluice_route_guard_tripped{listener="main",route="pay",'
         'cluster="v1"}'], 0, "the stable one is never tripped")
    s.stop()
    check(re.search(r'warn: guard: listener "main" route "pay": cluster '
                    r'"v2" tripped \(failures\): \d+ of its \d+ requests '
                    r'failed \([\d.]+%\) against 0 of \d+ \(0.00%\) on '
                    r'"v1" in the last \d+ s', s.stderr()),
          "the warning names the numbers")


@test
def a_healthy_small_canary_is_never_pulled():
    stable, canary = Version("v1"), Version("v2")
    # both fail 1 % of their requests: the same, so no trip
    stable.ctl(fail=0.01)
    canary.ctl(fail=0.01)
    cfg, port, aport = guarded(stable, canary, weights=(99, 1),
                               guard={})
    s = start_sluice(cfg)
    total = 0
    while total < 100000:
        load = Load(port, 5, conns=16).wait()
        total += load.requests()
        check(not tripped(aport), "tripped after %d requests" % total)
    served = canary.stats()
    print("# %d requests, %d to the canary" %
          (total, served["ok"] + served["failed"]))
    check(served["ok"] + served["failed"] >= 500,
          "the canary had its 1 %%: %r" % served)
    m = metrics(aport)
    eq(m['sluice_route_guard_tripped{listener="main",route="pay",'
         'cluster="v2"}'], 0, "not tripped")
    s.stop()
    check("tripped" not in s.stderr(), "no trip in the log")


def reload(s, aport, cfg):
    """Writes cfg and reloads; returns once its generation runs."""
    with open(s.conf_path, "w") as f:
        f.write(sltest.to_yaml(cfg) + "\n")
    gen = config_page(aport)["generation"]
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: config_page(aport)["generation"] > gen,
                     timeout=10), "the reload applied")
    sltest.wait_applied(aport)


def users_on(port, cluster, n):
    """n X-User values the split gives cluster (its answers say)."""
    c = Client(port)
    got = []
    for i in range(2000):
        u = "user-%d" % i
        r = c.request("GET", "/pay", [("X-User", u)])
        if r.header("X-Cluster") == cluster:
            got.append(u)
            if len(got) == n:
                break
    c.close()
    eq(len(got), n, "users on %s" % cluster)
    return got


def served_by(port, users):
    c = Client(port)
    out = [c.request("GET", "/pay", [("X-User", u)]).header("X-Cluster")
           for u in users]
    c.close()
    return out


@test
def sticky_users_go_back_to_stable_and_a_reload_keeps_the_trip():
    stable, canary = Version("v1"), Version("v2")
    cfg, port, aport = guarded(stable, canary, sticky="header:X-User",
                               guard={"window": "10s", "min_requests": 10})
    s = start_sluice(cfg)
    # a fifth of the users, those the race gives the canary
    cfg["listeners"][0]["routes"][0]["split"][1]["weight"] = 25
    cfg["listeners"][0]["routes"][0]["split"][0]["weight"] = 75
    reload(s, aport, cfg)
    mine = users_on(port, "v2", 20)
    others = users_on(port, "v1", 40)
    canary.ctl(fail=1)
    # their requests fail until the trip; the others keep the stable one
    check(wait_until(lambda: (served_by(port, mine[:5] + others) and
                              tripped(aport)), timeout=30, interval=0.1),
          "the failing canary is tripped")
    eq(set(served_by(port, mine)), {"v1"}, "the canary's users, now")
    # a reload of the same split keeps it tripped
    reload(s, aport, cfg)
    check(tripped(aport), "still tripped after a reload of the same split")
    eq(set(served_by(port, mine)), {"v1"}, "the canary's users after it")
    # one that changes the split clears it: the users come back
    canary.ctl(fail=0)
    cfg["listeners"][0]["routes"][0]["split"][1]["weight"] = 26
    reload(s, aport, cfg)
    check(not tripped(aport), "a changed split starts untripped")
    back = served_by(port, mine)
    check(back.count("v2") >= 19,
          "the users come back to the canary (monotone race): %r" % back)
    s.stop()


@test
def two_gateways_trip_on_their_own():
    stable, canary = Version("v1"), Version("v2")
    gws = []
    for _ in range(2):
        cfg, port, aport = guarded(stable, canary)
        gws.append((start_sluice(cfg), port, aport))
    loads = [Load(p, 12, conns=4) for _, p, _ in gws]
    time.sleep(2)
    canary.ctl(fail=0.3)
    t0 = time.monotonic()
    when = [None, None]

    def both():
        for i, (_, _, a) in enumerate(gws):
            if when[i] is None and tripped(a):
                when[i] = time.monotonic() - t0
        return None not in when

    check(wait_until(both, timeout=30, interval=0.05),
          "both gateways trip: %r" % when)
    print("# trips %.2f s and %.2f s after the failures began: %.2f s "
          "apart" % (when[0], when[1], abs(when[0] - when[1])))
    for ld in loads:
        ld.wait()
    for s, _, _ in gws:
        s.stop()


@test
def a_slow_canary_is_pulled_on_latency():
    stable, canary = Version("v1"), Version("v2")
    cfg, port, aport = guarded(stable, canary, weights=(80, 20),
                               guard={"window": "10s", "min_requests": 20,
                                      "latency": "150ms",
                                      "percentile": 95})
    s = start_sluice(cfg)
    load = Load(port, 10, conns=16)
    time.sleep(1)
    canary.ctl(delay=400)
    check(wait_until(lambda: tripped(aport), timeout=30, interval=0.1),
          "the slow canary is tripped")
    g = guard_of(aport)
    c2 = [c for c in g["clusters"] if c["cluster"] == "v2"][0]
    eq(c2["reason"], "latency", "why it tripped")
    check(c2["window"]["slow"] > 0, "slow requests counted: %r" % c2)
    load.wait()
    bad, sock = load.errors()
    eq((bad, sock), (0, 0), "a slow canary fails no request")
    s.stop()


if __name__ == "__main__":
    main()
