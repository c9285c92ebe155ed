# SPDX-License-Identifier: MIT
"""/metrics read whole and strictly: every line a comment or a valid
sample, HELP and TYPE before a metric's samples, labels well formed,
histograms cumulative and ending in +Inf equal to _count; then exact
counts and histogram buckets after known traffic."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Reply, Upstream, check, eq, free_port, get,  # noqa: E402
                    main, make_config, start_sluice, test)

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r"^(%s)(\{(%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL,
                                                           LABEL))


def parse_strict(text):
    """Checks the exposition; returns {name: {"type": t, "samples":
    [(name, labels dict, value)]}} keyed by metric family."""
    fams = {}
    cur = None
    check(text.endswith("\n"), "exposition ends with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        check(line != "", "line %d is empty" % n)
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            check(re.fullmatch(NAME, name), "line %d: HELP name %r"
                  % (n, name))
            check(name not in fams, "line %d: %s described twice" % (n, name))
            fams[name] = {"type": None, "samples": [], "help": True}
            cur = name
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            check(len(parts) == 4 and parts[2] == cur,
                  "line %d: TYPE not right after its HELP: %r" % (n, line))
            check(parts[3] in ("counter", "gauge", "histogram"),
                  "line %d: type %r" % (n, parts[3]))
            fams[cur]["type"] = parts[3]
            continue
        check(not line.startswith("#"), "line %d: unknown comment %r"
              % (n, line))
        m = SAMPLE.match(line)
        check(m is not None, "line %d is not a sample: %r" % (n, line))
        name, value = m.group(1), m.group(4)
        fam = cur
        check(fam is not None and fams[fam]["type"] is not None,
              "line %d: sample before HELP/TYPE: %r" % (n, line))
        if fams[fam]["type"] == "histogram":
            check(name in (fam + "_bucket", fam + "_sum", fam + "_count"),
                  "line %d: %s in histogram %s" % (n, name, fam))
        else:
            eq(name, fam, "line %d: sample of another family" % n)
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 m.group(3) or ""))
        try:
            v = float(value)
        except ValueError:
            raise AssertionError("line %d: value %r" % (n, value))
        if fams[fam]["type"] == "counter":
            check(v >= 0, "line %d: negative counter" % n)
        fams[fam]["samples"].append((name, labels, v))
    for fam, f in fams.items():
        if f["type"] != "histogram":
            continue
        series = {}
        for name, labels, v in f["samples"]:
            key = tuple(sorted((k, x) for k, x in labels.items()
                               if k != "le"))
            series.setdefault(key, {"buckets": [], "sum": None,
                                    "count": None})
            if name.endswith("_bucket"):
                series[key]["buckets"].append((labels["le"], v))
            elif name.endswith("_sum"):
                series[key]["sum"] = v
            else:
                series[key]["count"] = v
        for key, s in series.items():
            les = [le for le, _ in s["buckets"]]
            eq(les[-1], "+Inf", "%s%r: last bucket" % (fam, key))
            bounds = [float(le) for le in les[:-1]]
            eq(bounds, sorted(bounds), "%s%r: bounds in order" % (fam, key))
            vals = [v for _, v in s["buckets"]]
            eq(vals, sorted(vals), "%s%r: buckets cumulative" % (fam, key))
            eq(vals[-1], s["count"], "%s%r: +Inf equals _count"
               % (fam, key))
            check(s["sum"] is not None and s["sum"] >= 0,
                  "%s%r: _sum" % (fam, key))
        f["series"] = series
    return fams


def scrape(aport):
    r = get(aport, "/metrics", timeout=3.0)
    eq(r.status, 200, "status of /metrics")
    return parse_strict(r.body.decode("utf-8"))


def scrape_when(aport, ready, timeout=3.0):
    """Scrapes until ready(fams) holds: a response reaches the client a
    moment before its worker counts it."""
    import time as _t
    deadline = _t.monotonic() + timeout
    while True:
        fams = scrape(aport)
        try:
            if ready(fams):
                return fams
        except KeyError:
            pass
        if _t.monotonic() > deadline:
            return fams
        _t.sleep(0.02)


def hist(fams, fam, **labels):
    key = tuple(sorted(labels.items()))
    s = fams[fam]["series"][key]
    return dict(s["buckets"]), s["count"], s["sum"]


@test
def histograms_count_known_traffic_exactly():
    def handler(req):
        if req.target.startswith("/slow"):
            return Reply(200, b"slow", delay=0.3)
        return Reply(200, b"fast")
    up = Upstream("up", handler)
    aport = free_port()
    routes = [{"name": "slow", "match": {"path_prefix": "/slow"},
               "cluster": "c"},
              {"name": "fast", "cluster": "c"}]
    cfg, port = make_config({"c": [up]}, routes=routes,
                            extra={"admin": {"address": "127.0.0.1:%d"
                                             % aport}})
    start_sluice(cfg)
    before = scrape(aport)
    b, n, _ = hist(before, "sluice_request_duration_seconds",
                   listener="main", route="fast")
    eq(n, 0, "no request yet")
    for _ in range(5):
        eq(get(port, "/fast").status, 200, "fast request")
    for _ in range(3):
        eq(get(port, "/slow").status, 200, "slow request")
    fams = scrape_when(aport, lambda f: hist(
        f, "sluice_upstream_response_seconds", cluster="c")[1] == 8 and
        hist(f, "sluice_request_duration_seconds", listener="main",
             route="slow")[1] == 3)
    b, n, s = hist(fams, "sluice_request_duration_seconds",
                   listener="main", route="fast")
    eq(n, 5, "fast requests counted")
    eq(b["0.1"], 5, "fast requests under 100 ms")
    b, n, s = hist(fams, "sluice_request_duration_seconds",
                   listener="main", route="slow")
    eq(n, 3, "slow requests counted")
    eq(b["0.25"], 0, "no slow request under 250 ms")
    eq(b["0.5"], 3, "slow requests under 500 ms (%r)" % b)
    check(0.9 <= s <= 1.5, "sum of 3 x 300 ms: %r" % s)
    b, n, s = hist(fams, "sluice_upstream_response_seconds", cluster="c")
    eq(n, 8, "upstream responses of the cluster")
    eq(b["0.25"], 5, "5 fast upstream answers (%r)" % b)
    eq(b["0.5"], 8, "all 8 under 500 ms (%r)" % b)
    # the counters the histograms sit beside agree
    reqs = [v for name, labels, v in
            fams["sluice_route_requests_total"]["samples"]
            if labels.get("route") == "fast"]
    eq(reqs, [5.0], "sluice_route_requests_total of fast")
    lreq = [v for name, labels, v in
            fams["sluice_listener_requests_total"]["samples"]
            if labels.get("listener") == "main"]
    eq(lreq, [8.0], "sluice_listener_requests_total of main")
    # a feature configured nowhere has no family (a hosts_file's names)
    check("sluice_route_hosts_file_names" not in fams,
          "no hosts_file, no sluice_route_hosts_file_names")
    l2xx = [v for name, labels, v in
            fams["sluice_listener_responses_total"]["samples"]
            if labels == {"listener": "main", "class": "2xx"}]
    eq(l2xx, [8.0], "sluice_listener_responses_total 2xx of main")
    # one request at a time: one pooled connection, idle now
    idle = [v for name, labels, v in
            fams["sluice_upstream_idle_connections"]["samples"]
            if labels.get("cluster") == "c"]
    conns = [v for name, labels, v in
             fams["sluice_upstream_connections"]["samples"]
             if labels.get("cluster") == "c"]
    eq((idle, conns), ([1.0], [1.0]), "idle and open upstream connections")


@test
def a_local_answer_has_a_duration_but_no_upstream_time():
    up = Upstream("up")
    aport = free_port()
    routes = [{"name": "only", "match": {"path": "/x"}, "cluster": "c"}]
    cfg, port = make_config({"c": [up]}, routes=routes,
                            extra={"admin": {"address": "127.0.0.1:%d"
                                             % aport}})
    start_sluice(cfg)
    eq(get(port, "/nowhere").status, 404, "no route")
    eq(get(port, "/x").status, 200, "routed")
    fams = scrape_when(aport, lambda f: hist(
        f, "sluice_upstream_response_seconds", cluster="c")[1] >= 1 and
        hist(f, "sluice_request_duration_seconds", listener="main",
             route="only")[1] >= 1)
    _, n, _ = hist(fams, "sluice_request_duration_seconds",
                   listener="main", route="only")
    eq(n, 1, "the routed request only (a 404 has no route)")
    _, n, _ = hist(fams, "sluice_upstream_response_seconds", cluster="c")
    eq(n, 1, "one upstream response")


@test
def process_metrics_and_build_info():
    import time as _t
    up = Upstream("up")
    aport = free_port()
    cfg, port = make_config({"c": [up]}, extra={
        "admin": {"address": "127.0.0.1:%d" % aport}})
    sl = start_sluice(cfg)
    fams = scrape(aport)

    def one(fam):
        samples = fams[fam]["samples"]
        eq(len(samples), 1, "one sample of %s" % fam)
        return samples[0]
    _, _, start = one("process_start_time_seconds")
    check(abs(start - _t.time()) < 60, "start time %r" % start)
    _, _, fds = one("process_open_fds")
    n = len(os.listdir("/proc/%d/fd" % sl.pid))
    check(abs(fds - n) <= 4, "open fds %r, /proc says %d" % (fds, n))
    _, _, rss = one("process_resident_memory_bytes")
    check(1 << 20 < rss < 1 << 31, "resident memory %r" % rss)
    _, _, cpu = one("process_cpu_seconds_total")
    check(0 <= cpu < 60, "cpu seconds %r" % cpu)
    _, labels, v = one("sluice_build_info")
    eq(v, 1, "build_info value")
    check(re.fullmatch(r"\d+\.\d+\.\d+.*", labels["version"]),
          "version label %r" % labels)


@test
def config_shows_the_file_digest_and_load_time_and_readyz_drains():
    import hashlib
    import json
    import signal
    import threading
    import time as _t
    from sltest import Client, Reply, to_yaml, wait_until

    def handler(req):
        if req.target == "/slow":
            return Reply(200, b"slow", delay=1.5)
        return None
    up = Upstream("up", handler)
    aport = free_port()
    cfg, port = make_config({"c": [up]}, extra={
        "admin": {"address": "127.0.0.1:%d" % aport},
        "drain_timeout": "5s"})
    sl = start_sluice(cfg)
    with open(sl.conf_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    conf = json.loads(get(aport, "/config").body)
    eq(conf["sha256"], digest, "/config sha256 of the file")
    loaded = _t.mktime(_t.strptime(conf["loaded_at"], "%Y-%m-%dT%H:%M:%SZ"))
    check(abs(loaded - _t.mktime(_t.gmtime())) < 60,
          "loaded_at %r" % conf["loaded_at"])
    # a reload of a changed file: a new digest
    cfg["drain_timeout"] = "6s"
    with open(sl.conf_path, "w") as f:
        f.write(to_yaml(cfg))
    with open(sl.conf_path, "rb") as f:
        digest2 = hashlib.sha256(f.read()).hexdigest()
    sl.send_signal(signal.SIGHUP)
    check(wait_until(lambda: json.loads(get(aport, "/config").body)
                     ["sha256"] == digest2, 5.0), "digest after a reload")
    eq(get(aport, "/readyz").status, 200, "/readyz while serving")
    # a request in flight keeps the drain going; /readyz says 503 then
    c = Client(port)
    c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    check(wait_until(lambda: len(up.requests) >= 1, 3.0), "slow request out")
    sl.send_signal(signal.SIGTERM)
    check(wait_until(lambda: get(aport, "/readyz").status == 503, 1.0),
          "/readyz 503 while draining")
    eq(json.loads(get(aport, "/readyz").body)["status"], "draining",
       "/readyz body")
    eq(c.read_response().status, 200, "the request in flight finished")
    # the drain ends with that response: sluice exits by itself (waited
    # for, or the harness would find it gone and call it a death)
    eq(sl.wait(10.0), 0, "exit status after the drain")


@test
def bytes_counters_are_exact_on_the_client_side():
    import socket
    body = b"b" * 10000
    up = Upstream("up", lambda req: Reply(200, body))
    aport = free_port()
    cfg, port = make_config({"c": [up]}, extra={
        "admin": {"address": "127.0.0.1:%d" % aport}})
    start_sluice(cfg)

    def counters():
        fams = scrape(aport)
        return {n: fams[n]["samples"][0][2] for n in (
            "sluice_client_received_bytes_total",
            "sluice_client_sent_bytes_total",
            "sluice_upstream_received_bytes_total",
            "sluice_upstream_sent_bytes_total")}
    before = counters()
    req = (b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           b"Connection: close\r\n\r\nhello")
    k = socket.create_connection(("127.0.0.1", port))
    k.sendall(req)
    got = b""
    while True:
        x = k.recv(65536)
        if not x:
            break
        got += x
    k.close()
    check(got.startswith(b"HTTP/1.1 200") and got.endswith(body),
          "response %r" % got[:60])
    after = counters()
    d = {n: after[n] - before[n] for n in after}
    eq(d["sluice_client_received_bytes_total"], len(req),
       "bytes from the client")
    eq(d["sluice_client_sent_bytes_total"], len(got), "bytes to the client")
    check(d["sluice_upstream_sent_bytes_total"] >= len(req),
          "bytes to the upstream: %r" % d)
    check(len(body) < d["sluice_upstream_received_bytes_total"] < len(got)
          + 200, "bytes from the upstream: %r" % d)


@test
def upstream_closes_are_counted_by_reason():
    import time as _t
    from sltest import wait_until
    a = Upstream("a")                       # kept until the pool lets go
    b = Upstream("b", idle_close=0.2)       # closes idle connections
    cl = Upstream("c", lambda req: Reply(200, b"x",
                                         [("Connection", "close")]))
    aport = free_port()
    routes = [{"name": "a", "match": {"path": "/a"}, "cluster": "a"},
              {"name": "b", "match": {"path": "/b"}, "cluster": "b"},
              {"name": "c", "match": {"path": "/c"}, "cluster": "c"}]
    cfg, port = make_config(
        {"a": [a], "b": [b], "c": [cl]}, routes=routes,
        cluster_opts={"a": {"pool": {"idle_timeout": "200ms"}}},
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    start_sluice(cfg)

    def closed():
        return {labels["reason"]: v for _, labels, v in
                scrape(aport)["sluice_upstream_closed_total"]["samples"]}
    before = closed()
    for path in ("/a", "/b", "/c"):
        eq(get(port, path).status, 200, path)

    def grew():
        now = closed()
        return {k: now[k] - before[k] for k in now}
    check(wait_until(lambda: grew()["idle_timeout"] == 1 and
                     grew()["closed_by_upstream"] == 1, 3.0),
          "closes after the pool's and the upstream's idle time: %r"
          % grew())
    eq(grew(), {"done": 1, "idle_timeout": 1, "closed_by_upstream": 1,
                "unexpected_bytes": 0, "connect_failed": 0, "shed": 0},
       "closes by reason")


@test
def client_closes_are_counted_by_listener_and_kind():
    import socket
    from sltest import wait_until
    up = Upstream("up")
    aport = free_port()
    cfg, port = make_config({"c": [up]}, limits={
        "idle_timeout": "300ms", "header_timeout": "300ms"},
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    start_sluice(cfg)

    def closed():
        return {labels["reason"]: v for _, labels, v in
                scrape(aport)["sluice_client_closed_total"]["samples"]
                if labels["listener"] == "main"}
    before = closed()

    def talk(data, wait_close=True):
        k = socket.create_connection(("127.0.0.1", port))
        k.settimeout(5)
        if data:
            k.sendall(data)
        got = b""
        while wait_close:
            x = k.recv(65536)
            if not x:
                break
            got += x
        return k, got
    # Connection: close
    k, got = talk(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    k.close()
    # the client closes a kept connection
    k, _ = talk(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait_close=False)
    k.recv(65536)
    k.close()
    # idle past idle_timeout after a request
    k, got = talk(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    k.close()
    # a refused request
    k, got = talk(b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400"), "400: %r" % got[:30])
    k.close()
    # half a head past header_timeout
    k, got = talk(b"GET / HTTP/1.1\r\nHost: x\r\n")
    check(got.startswith(b"HTTP/1.1 408"), "408: %r" % got[:30])
    k.close()
    # client_closed: at least ours (the start-up probe's connection,
    # accepted late under TCP_DEFER_ACCEPT, may come on top)
    want = {"connection_close": 1, "idle_timeout": 1, "refused": 1,
            "request_timeout": 1}

    def grew():
        now = closed()
        return {k: now[k] - before[k] for k in now if now[k] != before[k]}

    def ok():
        g = dict(grew())
        return g.pop("client_closed", 0) >= 1 and g == want
    check(wait_until(ok, 3.0), "client closes by kind: %r" % grew())


@test
def grpc_status_labels_are_the_documented_values():
    # sluice(8): source="sluice" by the status of sluice's own answer,
    # source="upstream" every status 0 to 16 and "other" (one outside
    # them); no other value (once there was an "other0")
    up = Upstream("up")
    aport = free_port()
    cfg, port = make_config({"c": [up]}, extra={
        "admin": {"address": "127.0.0.1:%d" % aport}})
    start_sluice(cfg)
    statuses = [str(n) for n in range(17)]
    seen = {"sluice": [], "upstream": []}
    for _, labels, _ in scrape(aport)["sluice_grpc_responses_total"][
            "samples"]:
        check(labels.get("source") in seen, "source label %r" % labels)
        seen[labels["source"]].append(labels.get("grpc_status"))
    for source, values in seen.items():
        bad = [v for v in values if v not in statuses + ["other"]]
        eq(bad, [], "grpc_status values of source=%s outside 0..16 and "
           "other" % source)
        eq(len(values), len(set(values)), "grpc_status values of "
           "source=%s named twice: %r" % (source, values))
    eq(sorted(seen["upstream"]), sorted(statuses + ["other"]),
       "grpc_status values of source=upstream")
    check(set(seen["sluice"]) <= set(statuses) and seen["sluice"],
          "grpc_status values of source=sluice: %r" % seen["sluice"])


if __name__ == "__main__":
    main()
