# SPDX-License-Identifier: MIT
"""Hot reload on SIGHUP and graceful drain, against the real binary.

Invalid files of every kind are refused with FILE:LINE:COL errors while the
running generation keeps serving; a valid file becomes generation N+1 and
its routes, limits and endpoint weights apply from the next request (same
keep-alive connection or a new one); a request in flight (or queued, or
uploading) finishes byte-exact under the generation it started with;
listeners come and go (an unchanged address keeps its very sockets);
pooled upstream connections and shared counters survive reloads (counted
as accepts at the upstream); hundreds of reloads cost no memory and no
descriptors; start-only settings log a restart warning; SIGTERM drains
(Connection: close, idle connections closed, drain_timeout bounds it, a
SIGHUP meanwhile changes nothing); SIGUSR1 reopens a renamed access log.

Route splits are not tested: this version refuses "split" and "sticky"
("not supported in this version"), so weight changes are tested on
endpoint weights."""

import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Reply, Upstream, build_request,  # noqa: E402
                    check, connect_refused, eq, get, kernel_sndbuf, main,
                    make_config, nfds, read_in_bursts, read_json_lines,
                    read_response, sha256, sluice_sndbuf, start_sluice,
                    test, tmpdir, to_yaml, wait_until)

MiB = 1 << 20

# free_port() probes a random port: two calls in one test may return the
# same one. Every port handed out here (make_config's included) is
# distinct from the last 64.
_free_port = sltest.free_port
_given = []


def free_port():
    for _ in range(100):
        p = _free_port()
        if p not in _given:
            break
    _given.append(p)
    del _given[:-64]
    return p


sltest.free_port = free_port


# ---------------------------------------------------------------------------
# Local helpers


def conf(clusters, routes=None, port=None, aport=None, workers=2,
         listeners_extra=None, **kw):
    """make_config with an admin listener on aport; listeners_extra is a
    list of (name, port[, routes]) appended as further listeners (same
    routes as the first one unless given)."""
    extra = dict(kw.pop("extra", None) or {})
    if aport is not None:
        extra["admin"] = {"address": "127.0.0.1:%d" % aport}
    cfg, port = make_config(clusters, routes=routes, port=port,
                            workers=workers, extra=extra, **kw)
    for x in listeners_extra or []:
        name, p = x[0], x[1]
        lst = {"name": name, "address": "127.0.0.1:%d" % p,
               "routes": x[2] if len(x) > 2 else cfg["listeners"][0]["routes"]}
        cfg["listeners"].append(sltest.listener_transport(lst))
    return cfg, port


def write_conf(sl, cfg, tail=""):
    """Replaces sl's configuration file (atomically: a reload never reads
    half a file). Returns the text written."""
    text = (cfg if isinstance(cfg, str) else to_yaml(cfg)) + "\n" + tail
    tmp = sl.conf_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, sl.conf_path)
    return text


def where(sl, value):
    """FILE:LINE:COL of the first occurrence of value in sl's file, as
    sluice names a place (1-based)."""
    with open(sl.conf_path) as f:
        for n, line in enumerate(f, 1):
            if value in line:
                return "%s:%d:%d" % (sl.conf_path, n, line.index(value) + 1)
    raise AssertionError("%r not in %s" % (value, sl.conf_path))


metrics = sltest.metrics


OK = 'sluice_reloads_total{result="ok"}'
FAILED = 'sluice_reloads_total{result="failed"}'
GEN = "sluice_config_generation"


def reload_state(aport):
    m = metrics(aport)
    for k in (OK, FAILED, GEN):
        check(k in m, "metric %s missing from /metrics" % k)
    return int(m[OK]), int(m[FAILED]), int(m[GEN])


def reload(sl, aport, cfg=None, expect="ok", tail="", timeout=5.0):
    """Optionally writes cfg, sends SIGHUP and waits (bounded) until the
    admin counters show the reload's result. Checks it is `expect` and that
    the other counter and the generation moved accordingly. Returns the
    stderr written by this reload."""
    if cfg is not None:
        write_conf(sl, cfg, tail)
    ok0, failed0, gen0 = reload_state(aport)
    n0 = len(sl.stderr())
    sl.send_signal(signal.SIGHUP)
    st = [None]

    def done():
        st[0] = reload_state(aport)
        return st[0][0] + st[0][1] > ok0 + failed0
    check(wait_until(done, timeout, 0.01),
          "no reload counted within %.0fs of SIGHUP" % timeout)
    ok1, failed1, gen1 = st[0]
    # and every worker serves it (CI once had a request, sent right after
    # the count, served by the generation before)
    sltest.wait_applied(aport, timeout)
    # the admin thread is the thread that reloads: once the counter moved,
    # the reload's log lines are written
    log = sl.stderr()[n0:]
    if expect == "ok":
        eq((ok1, failed1, gen1), (ok0 + 1, failed0, gen0 + 1),
           "(ok, failed, generation) after a valid reload; log:\n%s" % log)
        check(re.search(r"info: reload: generation %d from %s: "
                        % (gen1, re.escape(sl.conf_path)), log),
              "no 'reload: generation %d from FILE' line in:\n%s"
              % (gen1, log))
    elif expect == "failed_bind":
        eq((ok1, failed1, gen1), (ok0, failed0 + 1, gen0),
           "(ok, failed, generation) after a refused reload; log:\n%s"
           % log)
    else:
        eq((ok1, failed1, gen1), (ok0, failed0 + 1, gen0),
           "(ok, failed, generation) after an invalid reload; log:\n%s"
           % log)
        check(re.search(r"error: reload: %s is not valid; generation %d "
                        r"keeps running" % (re.escape(sl.conf_path), gen0),
                        log),
              "no 'reload: FILE is not valid; generation %d keeps running' "
              "line in:\n%s" % (gen0, log))
    return log


def upstream_of(r):
    check(r.status == 200, "status %d (body %r)" % (r.status, r.body[:200]))
    return r.json()["upstream"]


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def settled_nfds(pid, t=3.0):
    """nfds once it stopped changing: just after start, a worker may still
    be opening its own (seen once in CI under ASan: 16, then 17)."""
    return sltest.settled(lambda: nfds(pid), t, 0.05, 4)


def binary_has_asan():
    try:
        with open(sltest.sluice_path(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def listen_inodes(pid, port):
    """Inodes of the listening TCP sockets of process pid on port."""
    mine = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", t)
        if m:
            mine.add(m.group(1))
    out = set()
    with open("/proc/%d/net/tcp" % pid) as f:
        f.readline()
        for line in f:
            x = line.split()
            if x[3] != "0A":
                break       # listening sockets come first: stop there
            if int(x[1].split(":")[1], 16) == port and x[9] in mine:
                out.add(x[9])
    return out


def closed_without_answer(port, timeout=2.0):
    """Connects and sends a request (a silent connection may never be
    accepted: TCP_DEFER_ACCEPT); True when sluice closes the connection
    without a byte of answer."""
    k = Client(port)
    try:
        k.send(build_request("GET", "/over-the-limit"))
    except OSError:
        return True         # reset already
    return k.wait_closed(timeout) and not k.buf


def line_of(text, needle):
    """1-based line number of the first line of text containing needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in the config text" % needle)


def reload_errors(log, path):
    """The (line, col, message) of every 'reload: FILE:L:C: error: M'."""
    return [(int(m.group(1)), int(m.group(2)), m.group(3))
            for m in re.finditer(r"error: reload: %s:(\d+):(\d+): error: "
                                 r"(.*)" % re.escape(path), log)]


# ---------------------------------------------------------------------------
# Invalid files


@test
def invalid_configs_rejected_while_serving_continues():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    good, port = conf({"a": [a], "b": [b]},
                      routes=[{"name": "r", "cluster": "a"}], aport=aport)
    sl = start_sluice(good)
    sl.expect_errors(r"^reload: ")    # refused reloads, on purpose
    c = Client(port)
    eq(upstream_of(c.request("GET", "/0")), "a", "before any reload")
    # every invalid file also moves the route to b: if any part of it were
    # applied, requests would reach b
    to_b, _ = conf({"a": [a], "b": [b]},
                   routes=[{"name": "r", "cluster": "b"}], port=port,
                   aport=aport)
    to_b_text = to_yaml(to_b) + "\n"

    def still_serving(what):
        eq(upstream_of(c.request("GET", "/ka")), "a",
           "keep-alive client after %s" % what)
        eq(upstream_of(get(port, "/new")), "a",
           "new connection after %s" % what)
        check(sl.proc.poll() is None, "sluice exited after %s" % what)

    # 1. YAML syntax error
    bad = to_b_text + "listeners: [\n"
    log = reload(sl, aport, bad, expect="failed")
    errs = reload_errors(log, sl.conf_path)
    check(errs, "no 'reload: FILE:LINE:COL: error:' line for a YAML "
          "syntax error:\n%s" % log)
    check(any(ln >= bad.count("\n") - 1 for ln, _, _ in errs),
          "YAML error not located at the broken last line: %r" % errs)
    still_serving("a YAML syntax error")

    # 2. two unknown keys: both reported, at their lines
    bad = to_b_text + "bogus_top: 1\n"
    bad = bad.replace("  - name: a\n", "  - name: a\n    bogus_cl: 2\n", 1)
    log = reload(sl, aport, bad, expect="failed")
    errs = reload_errors(log, sl.conf_path)
    want = {line_of(bad, "bogus_top"), line_of(bad, "bogus_cl")}
    got = {ln for ln, _, m in errs if "bogus_" in m}
    eq(got, want, "lines of the unknown-key errors (log:\n%s)" % log)
    still_serving("unknown keys")

    # 3. a route to an unknown cluster
    nope, _ = conf({"a": [a], "b": [b]},
                   routes=[{"name": "r", "cluster": "nope"}], port=port,
                   aport=aport)
    log = reload(sl, aport, nope, expect="failed")
    errs = reload_errors(log, sl.conf_path)
    text = to_yaml(nope)
    check(any(ln == line_of(text, "cluster: nope") and "nope" in m
              for ln, _, m in errs),
          "no located error naming the unknown cluster:\n%s" % log)
    still_serving("an unknown cluster")

    # 4. a bad value (a duration without its unit) and a weight of 0
    badv = dict(to_b)
    badv["drain_timeout"] = 10
    badv["clusters"] = [dict(to_b["clusters"][0]),
                        dict(to_b["clusters"][1])]
    badv["clusters"][0]["endpoints"] = [{"address": a.addr, "weight": 0}]
    log = reload(sl, aport, badv, expect="failed")
    errs = reload_errors(log, sl.conf_path)
    text = to_yaml(badv)
    got = {ln for ln, _, _ in errs}
    check(line_of(text, "drain_timeout") in got,
          "no error at the drain_timeout line:\n%s" % log)
    check(line_of(text, "weight: 0") in got,
          "no error at the weight: 0 line:\n%s" % log)
    still_serving("bad values")

    # 5. the file is gone (tests may run as root: chmod 000 would not stop
    #    root from reading it)
    write_conf(sl, to_b)
    os.rename(sl.conf_path, sl.conf_path + ".away")
    log = reload(sl, aport, None, expect="failed")
    check(re.search(r"error: reload: %s: .*error" % re.escape(sl.conf_path),
                    log),
          "no 'reload: FILE: error: ...' line for a missing file:\n%s" % log)
    still_serving("a missing file")
    os.rename(sl.conf_path + ".away", sl.conf_path)

    # 6. unreadable by permissions, when not root
    if os.geteuid() != 0:
        os.chmod(sl.conf_path, 0)
        try:
            log = reload(sl, aport, None, expect="failed")
        finally:
            os.chmod(sl.conf_path, 0o644)
        still_serving("an unreadable file")

    # 7. a directory where the file was
    os.rename(sl.conf_path, sl.conf_path + ".away")
    os.mkdir(sl.conf_path)
    log = reload(sl, aport, None, expect="failed")
    still_serving("a directory instead of the file")
    os.rmdir(sl.conf_path)

    # every failure left generation 1 in place; a valid file still works
    eq(reload_state(aport), (0, 7 if os.geteuid() != 0 else 6, 1),
       "(ok, failed, generation) after the invalid files")
    reload(sl, aport, to_b)
    eq(upstream_of(c.request("GET", "/after")), "b",
       "keep-alive client after the valid reload")
    eq(upstream_of(get(port, "/after")), "b", "new connection after the "
       "valid reload")
    # the failed reloads emptied no pool: one connection per worker at most
    check(a.accepts <= 2, "upstream a saw %d accepts for 2 workers"
          % a.accepts)


# ---------------------------------------------------------------------------
# What a valid reload changes


@test
def lower_buffer_bytes_does_not_shrink_a_growing_send_buffer():
    # The listening socket is kept across a reload, and with it the send
    # buffer it gives new connections: the old buffer_bytes. A fast reader
    # that earns more must grow from that, never below it.
    body = b"g" * (8 * MiB)
    up = Upstream("a", handler=lambda req: Reply(200, body))
    aport = free_port()
    cfg, port = conf({"a": [up]}, aport=aport, workers=1,
                     limits={"buffer_bytes": "1MiB"})
    sl = start_sluice(cfg)
    cfg2, _ = conf({"a": [up]}, port=port, aport=aport, workers=1,
                   limits={"buffer_bytes": "64KiB"})
    reload(sl, aport, cfg2)
    c = Client(port)
    c.send(build_request("GET", "/"))
    got = read_in_bursts(c.sock, len(body))
    check(got.startswith(b"HTTP/1.1 200 OK\r\n"), "status line")
    check(sluice_sndbuf(port, c.sock) >= kernel_sndbuf(MiB),
          "send buffer below what the kept listening socket gave: %d < %d"
          % (sluice_sndbuf(port, c.sock), kernel_sndbuf(MiB)))


@test
def route_change_applies_to_next_request():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    routes1 = [{"name": "x", "match": {"path_prefix": "/x/"}, "cluster": "a"},
               {"name": "rest", "cluster": "b"}]
    routes2 = [{"name": "x", "match": {"path_prefix": "/x/"}, "cluster": "b"},
               {"name": "y", "match": {"path_prefix": "/y/"}, "cluster": "a"},
               {"name": "rest", "cluster": "b"}]
    cfg1, port = conf({"a": [a], "b": [b]}, routes1, aport=aport)
    sl = start_sluice(cfg1)
    ka = [Client(port) for _ in range(4)]     # both workers, likely
    for k in ka:
        eq(upstream_of(k.request("GET", "/x/1")), "a", "/x/ before")
        eq(upstream_of(k.request("GET", "/y/1")), "b", "/y/ before")
    cfg2, _ = conf({"a": [a], "b": [b]}, routes2, port=port, aport=aport)
    reload(sl, aport, cfg2)
    for i, k in enumerate(ka):
        eq(upstream_of(k.request("GET", "/x/2")), "b",
           "/x/ on kept keep-alive connection %d after the reload" % i)
        eq(upstream_of(k.request("GET", "/y/2")), "a",
           "/y/ on kept keep-alive connection %d after the reload" % i)
    for i in range(10):
        eq(upstream_of(get(port, "/x/3")), "b", "/x/ on a new connection")
        eq(upstream_of(get(port, "/y/3")), "a", "/y/ on a new connection")
    # limits of the kept listener change too, on the kept connections
    cfg2l, _ = conf({"a": [a], "b": [b]}, routes2, port=port, aport=aport,
                    limits={"max_uri_bytes": "64B"})
    reload(sl, aport, cfg2l)
    long_path = "/y/" + "z" * 100
    r = ka.pop().request("GET", long_path)      # 414 closes it
    eq(r.status, 414, "a 103-byte URI on a kept connection after "
       "max_uri_bytes became 64B")
    r = get(port, long_path)
    eq(r.status, 414, "same on a new connection")
    j = get(aport, "/config").json()
    eq(j.get("generation"), 3, "/config generation")
    # and back: a route removed by a reload is gone at once
    reload(sl, aport, cfg1)
    for k in ka:
        eq(upstream_of(k.request("GET", "/x/4")), "a", "/x/ after reload 2")
        eq(upstream_of(k.request("GET", "/y/4")), "b", "/y/ after reload 2")


def split_share(port, n, path="/s"):
    """Sends n requests on fresh connections; returns {upstream: count}."""
    seen = {}
    for i in range(n):
        u = upstream_of(get(port, "%s%d" % (path, i)))
        seen[u] = seen.get(u, 0) + 1
    return seen


@test
def endpoint_weight_change_applies():
    # the endpoints keep their identity (cluster + address), so they and
    # their pools survive; their weight must still follow the new file
    e1, e2 = Upstream("e1"), Upstream("e2")
    aport = free_port()
    cfg1, port = conf({"c": [(e1, 1), (e2, 1)]}, aport=aport)
    sl = start_sluice(cfg1)
    n = 200
    s1 = split_share(port, n)
    check(0.35 * n <= s1.get("e2", 0) <= 0.65 * n,
          "endpoint weights 1:1 sent %r of %d requests" % (s1, n))
    cfg2, _ = conf({"c": [(e1, 1), (e2, 9)]}, port=port, aport=aport)
    reload(sl, aport, cfg2)
    s2 = split_share(port, n)
    check(s2.get("e2", 0) >= 0.8 * n and s2.get("e1", 0) >= 0.02 * n,
          "endpoint weights 1:9 after the reload sent %r of %d requests"
          % (s2, n))
    check(e1.accepts <= 2 and e2.accepts <= 2,
          "pooled connections did not survive the weight change: "
          "accepts e1=%d e2=%d (2 workers)" % (e1.accepts, e2.accepts))


@test
def inflight_request_finishes_under_old_routing():
    body_a = os.urandom(2 * MiB)
    a = Upstream("a", handler=lambda req: Reply(
        200, body_a, [("X-From", "a")], delay=1.5 if req.target == "/slow"
        else 0.0))
    b = Upstream("b")
    aport = free_port()
    cfg1, port = conf({"a": [a], "b": [b]},
                      [{"name": "r", "cluster": "a"}], aport=aport)
    sl = start_sluice(cfg1)
    c = Client(port)
    c.send(build_request("GET", "/slow"))
    # a second client pipelines its next request behind a slow one: it was
    # received before the reload but starts after it
    pc = Client(port)
    pc.send(build_request("GET", "/slow") + build_request("GET", "/piped"))
    check(a.wait_requests(2, 3.0), "requests did not reach upstream a")
    t0 = time.monotonic()
    # the new generation removes cluster a altogether
    cfg2, _ = conf({"b": [b]}, [{"name": "r", "cluster": "b"}], port=port,
                   aport=aport)
    reload(sl, aport, cfg2)
    check(time.monotonic() - t0 < 1.3, "the reload completed only after "
          "the in-flight response (%.2fs)" % (time.monotonic() - t0))
    eq(upstream_of(get(port, "/new")), "b", "new connection during the "
       "in-flight request")
    r = read_response(c)
    eq(r.status, 200, "status of the in-flight request")
    eq(r.header("x-from"), "a", "in-flight response from the old upstream")
    eq(sha256(r.body), sha256(body_a), "sha256 of the in-flight body "
       "(%d of %d bytes)" % (len(r.body), len(body_a)))
    check(not r.wants_close(), "in-flight response closes the connection")
    eq(upstream_of(c.request("GET", "/next")), "b",
       "next request on the same connection")
    r = read_response(pc)
    eq(sha256(r.body), sha256(body_a), "pipelining client: in-flight body")
    r = read_response(pc)
    eq(upstream_of(r), "b", "pipelined request that started after the "
       "reload")
    eq(len(a.requests), 2, "requests at a")
    # a was removed: its (busy, then idle) pooled connection is closed
    check(wait_until(lambda: all(k.closed_by_peer.is_set()
                                 for k in a.conns), 2.0),
          "connection to the removed endpoint a not closed after its "
          "exchange")


@test
def inflight_request_keeps_its_route_timeout():
    up = Upstream("a", handler=lambda req: Reply(200, b"late", delay=1.2))
    aport = free_port()
    cfg1, port = conf({"a": [up]}, [{"name": "r", "cluster": "a",
                                     "timeout": "5s"}], aport=aport)
    sl = start_sluice(cfg1)
    c = Client(port)
    c.send(build_request("GET", "/1"))
    check(up.wait_requests(1, 2.0), "request did not reach the upstream")
    cfg2, _ = conf({"a": [up]}, [{"name": "r", "cluster": "a",
                                  "timeout": "400ms"}], port=port,
                   aport=aport)
    reload(sl, aport, cfg2)
    r = read_response(c)
    eq(r.status, 200, "in-flight request under its generation's timeout "
       "(5s) after a reload to 400ms (body %r)" % r.body[:200])
    # the next request runs under the new timeout
    t0 = time.monotonic()
    r = c.request("GET", "/2")
    eq(r.status, 504, "next request under the new 400ms timeout")
    check(time.monotonic() - t0 < 1.0, "504 after %.2fs"
          % (time.monotonic() - t0))


@test
def inflight_upload_spanning_reload_reaches_old_upstream():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg1, port = conf({"a": [a], "b": [b]}, [{"name": "r", "cluster": "a"}],
                      aport=aport)
    sl = start_sluice(cfg1)
    data = os.urandom(3 * MiB)
    c = Client(port)
    c.send(build_request("POST", "/up", [("Content-Length",
                                          str(len(data)))]) + data[:MiB])
    check(wait_until(lambda: a.accepts >= 1 and a.bytes_received > 1000,
                     3.0), "upload did not start at a")
    cfg2, _ = conf({"b": [b]}, [{"name": "r", "cluster": "b"}], port=port,
                   aport=aport)
    reload(sl, aport, cfg2)
    c.send(data[MiB:])
    r = read_response(c, "POST")
    j = r.json()
    eq(j["upstream"], "a", "upstream of the upload that started before "
       "the reload")
    eq(j["body_sha256"], sha256(data), "sha256 of the upload at a")
    eq(upstream_of(c.request("POST", "/up2", body=b"x" * 100)), "b",
       "next request")


# ---------------------------------------------------------------------------
# Listeners


@test
def listener_added_answers_removed_refuses():
    a = Upstream("a", handler=lambda req: Reply(
        200, b"slow-" * 1000, delay=1.5 if req.target == "/slow" else 0.0))
    aport = free_port()
    p2 = free_port()
    cfg1, p1 = conf({"a": [a]}, aport=aport)
    sl = start_sluice(cfg1)
    check(connect_refused(p2), "port %d answers before it is configured"
          % p2)
    idle1 = Client(p1)
    eq(idle1.request("GET", "/1").status, 200, "status on listener 1")
    # add listener 2
    cfg2, _ = conf({"a": [a]}, port=p1, aport=aport,
                   listeners_extra=[("second", p2)])
    socks1 = listen_inodes(sl.pid, p1)
    eq(len(socks1), 2, "listening sockets on %d (one per worker)" % p1)
    reload(sl, aport, cfg2)
    eq(listen_inodes(sl.pid, p1), socks1, "listening sockets of the "
       "unchanged address after the reload (inodes)")
    eq(len(listen_inodes(sl.pid, p2)), 2, "listening sockets of the new "
       "listener")
    eq(get(p2, "/on-2").status, 200, "new listener right after the reload")
    for i in range(10):
        eq(get(p2, "/on-2-%d" % i).status, 200, "new listener")
    eq(idle1.request("GET", "/2").status, 200, "listener 1 kept its "
       "keep-alive connection")
    # remove listener 1 while one of its connections is idle and one busy
    idle2 = Client(p2)
    eq(idle2.request("GET", "/3").status, 200, "status on listener 2")
    # one that has sent half of its next request head
    half1 = Client(p1)
    eq(half1.request("GET", "/5").status, 200, "status")
    half1.send(b"GET /half HTTP/1.1\r\nHost: t\r\n")
    socks2 = listen_inodes(sl.pid, p2)
    busy1 = Client(p1)
    eq(busy1.request("GET", "/4").status, 200, "status")
    busy1.send(build_request("GET", "/slow"))
    check(wait_until(lambda: a.paths()[-1:] == ["/slow"], 2.0),
          "slow request did not reach the upstream")
    cfg3, _ = conf({"a": [a]}, port=p2, aport=aport,
                   listener_name="second")
    reload(sl, aport, cfg3)
    check(not busy1.has_data(), "the slow response came before the reload "
          "(machine too slow for this test)")
    eq(listen_inodes(sl.pid, p2), socks2, "listening sockets of the kept "
       "listener (inodes)")
    check(wait_until(lambda: not listen_inodes(sl.pid, p1), 1.0),
          "listening sockets of the removed listener still open")
    check(wait_until(lambda: connect_refused(p1), 0.5, 0.02),
          "removed listener still accepts connections")
    for _ in range(5):
        check(connect_refused(p1), "removed listener accepts a connection")
    check(idle1.wait_closed(1.0), "idle keep-alive connection of the "
          "removed listener not closed")
    eq(idle1.buf, bytearray(), "bytes sent on the idle connection of the "
       "removed listener")
    r = read_response(busy1)
    eq(r.status, 200, "busy connection of the removed listener: status")
    eq(r.body, b"slow-" * 1000, "busy connection: body")
    check(r.wants_close(), "last response on the removed listener lacks "
          "Connection: close: %r" % r.headers)
    check(busy1.wait_closed(1.0), "busy connection of the removed listener "
          "not closed after its exchange")
    half1.send(b"\r\n")
    try:
        r = read_response(half1)
        eq(r.status, 200, "half-sent request on the removed listener")
        check(r.wants_close(), "response to the half-sent request on the "
              "removed listener lacks Connection: close")
    except (sltest.Closed, OSError):
        check("/half" not in a.paths(), "half-sent request forwarded but "
              "the client got no response")
    check(half1.wait_closed(1.0), "connection with a half-sent request on "
          "the removed listener not closed")
    # listener 2 (same address in both files) kept everything
    eq(idle2.request("GET", "/5").status, 200, "listener 2 keep-alive "
       "connection after listener 1 was removed")
    eq(get(p2, "/6").status, 200, "listener 2 new connection")
    # and listener 1 can come back
    reload(sl, aport, cfg2)
    eq(get(p1, "/back").status, 200, "re-added listener")


@test
def reload_with_unavailable_port_is_refused():
    a = Upstream("a")
    aport = free_port()
    cfg1, port = conf({"a": [a]}, aport=aport)
    sl = start_sluice(cfg1)
    sl.expect_errors(r"^reload: ")    # refused reloads, on purpose
    c = Client(port)
    eq(c.request("GET", "/1").status, 200, "status")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(8)
    bport = busy.getsockname()[1]
    free = free_port()
    try:
        fd0 = settled_nfds(sl.pid)
        # a free new address first (opened for each worker), then a taken
        # one: the whole reload is refused and nothing stays open
        cfg2, _ = conf({"a": [a]}, port=port, aport=aport,
                       listeners_extra=[("free", free), ("taken", bport)])
        log = reload(sl, aport, cfg2, expect="failed_bind")
        # a refused reload names no generation of its own: the next good
        # one is generation 2, and "generation 2" must name only that
        check(re.search(r"error: reload: %s not applied; generation 1 "
                        r"keeps running" % re.escape(sl.conf_path), log),
              "no 'FILE not applied; generation 1 keeps running' "
              "line:\n%s" % log)
        check("generation 2" not in log, "a refused reload names "
              "generation 2:\n%s" % log)
        # the bind failure names who holds the address, at its place in
        # the file, as -t and start-up do (issue 41: it named no place)
        with open("/proc/self/comm") as f:
            me = "pid %d (%s)" % (os.getpid(), f.read().strip())
        want = ('error: reload: %s: error: listener "taken" 127.0.0.1:%d: '
                'cannot listen: address already in use by %s'
                % (where(sl, "127.0.0.1:%d" % bport), bport, me))
        check(want in log, "no %r line:\n%s" % (want, log))
        check(connect_refused(free), "the free address of a refused reload "
              "accepts connections")
        eq(listen_inodes(sl.pid, free), set(), "sockets of the refused "
           "reload left open")
        check(wait_until(lambda: nfds(sl.pid) == fd0, 2.0),
              "descriptors %d -> %d after a refused reload"
              % (fd0, nfds(sl.pid)))
        eq(c.request("GET", "/2").status, 200, "keep-alive after")
        eq(get(port, "/3").status, 200, "new connection after")
    finally:
        busy.close()
    # the port is free now: the same file applies as generation 2
    reload(sl, aport)
    eq(reload_state(aport)[2], 2, "generation")
    eq(get(aport, "/config").json()["generation"], 2, "/config generation")
    gen2 = [ln for ln in sl.stderr().splitlines() if "generation 2" in ln]
    eq(len(gen2), 1, "log lines naming generation 2: %r" % gen2)
    check(re.search(r"info: reload: generation 2 from %s: "
                    % re.escape(sl.conf_path), gen2[0]),
          "the line naming generation 2 is not the applied one: %r"
          % gen2[0])
    eq(get(bport, "/4").status, 200, "listener on the freed port")
    eq(get(free, "/5").status, 200, "listener on the free port")


@test
def reload_refused_for_a_port_a_connection_holds_names_it():
    # issue 41: a port held by a connection (no listener) made a bare
    # "Address already in use"; the refusal names the connection, at the
    # address's place in the file
    a = Upstream("a")
    aport = free_port()
    cfg1, port = conf({"a": [a]}, aport=aport)
    sl = start_sluice(cfg1)
    sl.expect_errors(r"^reload: ")    # refused reloads, on purpose
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    client = socket.socket()
    client.bind(("127.0.0.1", 0))
    client.connect(lst.getsockname())
    accepted, _ = lst.accept()
    cport = client.getsockname()[1]
    try:
        cfg2, _ = conf({"a": [a]}, port=port, aport=aport,
                       listeners_extra=[("held", cport)])
        log = reload(sl, aport, cfg2, expect="failed_bind")
        with open("/proc/self/comm") as f:
            me = "pid %d (%s)" % (os.getpid(), f.read().strip())
        want = ('error: reload: %s: error: listener "held" 127.0.0.1:%d: '
                'cannot listen: address already in use by a connection '
                '(state ESTABLISHED, to 127.0.0.1:%d) owned by %s'
                % (where(sl, "127.0.0.1:%d" % cport), cport,
                   lst.getsockname()[1], me))
        check(want in log, "no %r line:\n%s" % (want, log))
        eq(get(port, "/still").status, 200, "the running generation")
    finally:
        client.close()
        accepted.close()
        lst.close()


@test
def reload_refuses_new_address_another_process_listens_on():
    # another process listening with SO_REUSEPORT would be let into the
    # new listener's group silently: the reload is refused instead
    a = Upstream("a")
    aport = free_port()
    cfg1, port = conf({"a": [a]}, aport=aport)
    sl = start_sluice(cfg1)
    sl.expect_errors(r"^reload: ")    # refused reloads, on purpose
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    oport = other.getsockname()[1]
    try:
        fd0 = settled_nfds(sl.pid)
        cfg2, _ = conf({"a": [a]}, port=port, aport=aport,
                       listeners_extra=[("shared", oport)])
        log = reload(sl, aport, cfg2, expect="failed_bind")
        check(re.search(r'error: reload: %s: error: listener "shared" '
                        r'127\.0\.0\.1:%d: address already in use by pid %d'
                        % (re.escape(where(sl, "127.0.0.1:%d" % oport)),
                           oport, os.getpid()),
                        log), "no 'FILE:LINE:COL: error: ... already in use' "
              "line:\n%s" % log)
        eq(listen_inodes(sl.pid, oport), set(), "sockets of the refused "
           "reload left open")
        # (fd0 may include an admin connection still closing)
        check(wait_until(lambda: nfds(sl.pid) <= fd0, 2.0),
              "descriptors %d -> %d after a refused reload"
              % (fd0, nfds(sl.pid)))
        eq(get(port, "/still").status, 200, "the running generation")
    finally:
        other.close()
    reload(sl, aport)
    eq(get(oport, "/now").status, 200, "listener once the port is free")


@test
def reload_moves_listener_to_the_wildcard_of_its_port():
    # the old 127.0.0.1 sockets overlap the new 0.0.0.0 address, but they
    # are sluice's own: not a reason to refuse
    a = Upstream("a")
    aport = free_port()
    cfg1, port = conf({"a": [a]}, aport=aport)
    sl = start_sluice(cfg1)
    cfg2, _ = conf({"a": [a]}, port=port, aport=aport)
    cfg2["listeners"][0]["address"] = "0.0.0.0:%d" % port
    for cfg in (cfg2, cfg1):
        old = listen_inodes(sl.pid, port)
        reload(sl, aport, cfg)
        # the workers close the old sockets a moment after the main
        # thread counts the reload; a connection queued on one of them
        # then is reset by the kernel (a removed listener's backlog)
        check(wait_until(lambda: not (listen_inodes(sl.pid, port) & old),
                         3.0), "the old listening sockets stay open")
        eq(get(port, "/moved").status, 200, "status through %s"
           % cfg["listeners"][0]["address"])


@test
def rapid_sighups_end_on_the_last_file():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfgs = []
    for i in range(2):
        cfg, port = conf({"a": [a], "b": [b]},
                         [{"name": "r", "cluster": "ab"[i]}],
                         port=cfgs[0][1] if cfgs else None, aport=aport)
        cfgs.append((cfg, port))
    sl = start_sluice(cfgs[0][0])
    sl.expect_errors(r"^reload: ")    # refused reloads, on purpose
    port = cfgs[0][1]
    c = Client(port)
    # signals faster than workers acknowledge generations: they coalesce or
    # wait, but the last file written before the last signal wins
    for i in range(41):
        write_conf(sl, cfgs[i % 2][0])
        if i % 10 == 9:
            write_conf(sl, "listeners: [\n")
        sl.send_signal(signal.SIGHUP)
        eq(c.request("GET", "/r%d" % i).status, 200, "status during "
           "the signals")
    write_conf(sl, cfgs[1][0])
    sl.send_signal(signal.SIGHUP)
    prev = [None]

    def settled():
        st = reload_state(aport)
        same = st == prev[0]
        prev[0] = st
        if not same:
            time.sleep(0.15)
        return same
    check(wait_until(settled, 5.0, 0.0), "reload counters never settled")
    ok, _, gen = prev[0]
    check(ok >= 1, "no reload applied: %r" % (prev[0],))
    eq(gen, ok + 1, "generation vs ok reloads")
    eq(upstream_of(c.request("GET", "/last")), "b", "keep-alive client "
       "after the last SIGHUP")
    eq(upstream_of(get(port, "/last")), "b", "new connection after the "
       "last SIGHUP")
    check(sl.proc.poll() is None, "sluice exited")


@test
def listeners_swapping_addresses_follow_the_file():
    # listener "x" on p1 routes to a, "y" on p2 to b; the new file swaps
    # the addresses: what answers on a port is the listener the file puts
    # there, on kept sockets and kept connections alike
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    p2 = free_port()
    cfg1, p1 = conf({"a": [a], "b": [b]}, [{"name": "ra", "cluster": "a"}],
                    aport=aport, listener_name="x",
                    listeners_extra=[("y", p2, [{"name": "rb",
                                                 "cluster": "b"}])])
    sl = start_sluice(cfg1)
    k1, k2 = Client(p1), Client(p2)
    eq(upstream_of(k1.request("GET", "/1")), "a", "p1 before")
    eq(upstream_of(k2.request("GET", "/2")), "b", "p2 before")
    s1, s2 = listen_inodes(sl.pid, p1), listen_inodes(sl.pid, p2)
    cfg2, _ = conf({"a": [a], "b": [b]}, [{"name": "ra", "cluster": "a"}],
                   port=p2, aport=aport, listener_name="x",
                   listeners_extra=[("y", p1, [{"name": "rb",
                                                "cluster": "b"}])])
    reload(sl, aport, cfg2)
    eq((listen_inodes(sl.pid, p1), listen_inodes(sl.pid, p2)), (s1, s2),
       "listening sockets (inodes) of the two addresses")
    eq(upstream_of(k1.request("GET", "/3")), "b", "kept connection on p1")
    eq(upstream_of(k2.request("GET", "/4")), "a", "kept connection on p2")
    eq(upstream_of(get(p1, "/5")), "b", "new connection on p1")
    eq(upstream_of(get(p2, "/6")), "a", "new connection on p2")


# ---------------------------------------------------------------------------
# Pools


@test
def pooled_upstream_connections_survive_reloads():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg1, port = conf({"a": [a]}, aport=aport,
                      routes=[{"name": "r", "cluster": "a",
                               "timeout": "30s"}])
    # a second file with other routes, limits, pool settings and an extra
    # cluster, but the same endpoint a in cluster a
    cfg2, _ = conf({"a": [a], "b": [b]}, port=port, aport=aport,
                   routes=[{"name": "bb", "match": {"path": "/only-b"},
                            "cluster": "b"},
                           {"name": "r2", "cluster": "a", "timeout": "20s"}],
                   limits={"idle_timeout": "50s"},
                   cluster_opts={"a": {"pool": {"max_idle": 32}}})
    sl = start_sluice(cfg1)
    c = Client(port)
    reloads = 0
    for i in range(50):
        r = c.request("GET", "/p%d" % i)
        eq(upstream_of(r), "a", "request %d" % i)
        if i % 5 == 4:
            reload(sl, aport, cfg2 if reloads % 2 == 0 else cfg1)
            reloads += 1
    eq(reloads, 10, "reloads")
    eq(len(a.requests), 50, "requests at a")
    eq(a.accepts, 1, "upstream accepts for 50 requests on one client "
       "connection with 10 reloads interleaved")
    check(not a.conns[0].closed_by_peer.is_set(), "pooled connection "
          "closed by sluice")


@test
def removed_endpoint_idle_connection_closes():
    e1, e2 = Upstream("e1"), Upstream("e2")
    aport = free_port()
    cfg1, port = conf({"c": [e1]}, aport=aport, workers=1)
    sl = start_sluice(cfg1)
    c = Client(port)
    eq(upstream_of(c.request("GET", "/1")), "e1", "before")
    check(e1.accepts == 1, "e1 accepts")
    # same cluster, endpoint e1 replaced by e2
    cfg2, _ = conf({"c": [e2]}, port=port, aport=aport, workers=1)
    reload(sl, aport, cfg2)
    check(e1.conns[0].closed_by_peer.wait(2.0), "idle pooled connection to "
          "the removed endpoint not closed")
    eq(upstream_of(c.request("GET", "/2")), "e2", "after")
    # the same address under a new cluster name is a new endpoint: new pool
    cfg3, _ = conf({"d": [e2]}, port=port, aport=aport, workers=1)
    reload(sl, aport, cfg3)
    check(e2.conns[0].closed_by_peer.wait(2.0), "idle pooled connection of "
          "endpoint (c, e2) not closed after cluster c was removed")
    eq(upstream_of(c.request("GET", "/3")), "e2", "after the rename")
    eq(e2.accepts, 2, "e2 accepts")


@test
def queued_request_survives_reload():
    # one upstream connection allowed: the second request waits in the
    # cluster's queue of the old generation while the reload happens
    up = Upstream("a", handler=lambda req: Reply(
        200, b"ok:" + req.target.encode(),
        delay=1.5 if req.target == "/slow" else 0.0))
    aport = free_port()
    opts = {"a": {"max_connections": 1, "max_pending": 4,
                  "queue_timeout": "5s"}}
    cfg1, port = conf({"a": [up]}, [{"name": "r", "cluster": "a"}],
                      aport=aport, workers=1, cluster_opts=opts)
    sl = start_sluice(cfg1)
    c1, c2 = Client(port), Client(port)
    c1.send(build_request("GET", "/slow"))
    check(up.wait_requests(1, 2.0), "slow request did not reach upstream")
    c2.send(build_request("GET", "/queued"))
    time.sleep(0.1)
    eq(len(up.requests), 1, "the second request is not waiting")
    cfg2, _ = conf({"a": [up]}, [{"name": "r2", "cluster": "a",
                                  "timeout": "20s"}],
                   port=port, aport=aport, workers=1, cluster_opts=opts)
    reload(sl, aport, cfg2)
    t0 = time.monotonic()
    check(not c1.has_data() and not c2.has_data(), "a response came "
          "before the reload (machine too slow for this test)")
    eq(read_response(c1).body, b"ok:/slow", "slow response")
    r = read_response(c2)
    eq(r.status, 200, "queued request after the reload (body %r)"
       % r.body[:200])
    eq(r.body, b"ok:/queued", "queued response")
    check(time.monotonic() - t0 < 1.5, "queued request waited %.2fs after "
          "the reload" % (time.monotonic() - t0))
    eq(up.accepts, 1, "upstream accepts (the queued request reused the "
       "one connection)")


@test
def listener_counts_carried_across_reloads():
    up = Upstream("a")
    aport = free_port()
    cfg1, port = conf({"a": [up]}, aport=aport,
                      limits={"max_connections": 3})
    sl = start_sluice(cfg1)
    key = 'sluice_listener_connections{listener="main"}'

    def probe_gone():
        # start_sluice's probe connection must have been accepted and
        # counted out (a closed connection still waiting in the backlog
        # would be counted when accepted)
        m = metrics(aport)
        return m.get("sluice_connections_accepted_total", 0) >= 1 and \
            m.get(key) == 0.0
    check(wait_until(probe_gone, 2.0), "%s not 0 before the test" % key)
    held = [Client(port) for _ in range(3)]
    for k in held:
        eq(k.request("GET", "/h").status, 200, "status")
    cfg2, _ = conf({"a": [up]}, [{"name": "other", "cluster": "a"}],
                   port=port, aport=aport, limits={"max_connections": 3})
    reload(sl, aport, cfg2)
    eq(metrics(aport).get(key), 3.0, key + " after the reload")
    check(closed_without_answer(port), "a 4th connection was served after "
          "a reload with max_connections 3 and 3 open (count reset?)")
    # a new limit applies against the carried count at once
    cfg3, _ = conf({"a": [up]}, port=port, aport=aport,
                   limits={"max_connections": 4})
    reload(sl, aport, cfg3)
    fourth = Client(port)
    eq(fourth.request("GET", "/4").status, 200, "4th connection with "
       "max_connections 4")
    check(closed_without_answer(port), "5th connection served with "
          "max_connections 4")
    held[0].close()
    check(wait_until(lambda: metrics(aport).get(key) == 3.0, 2.0),
          "closed connection not counted out")
    eq(get(port, "/again").status, 200, "connection after one closed")


@test
def endpoint_counts_follow_retire_and_return():
    # max_connections 1 per endpoint: if the count of a retired endpoint's
    # connection were never given back, the endpoint could not be used
    # again when a later file names it
    up = Upstream("e", handler=lambda req: Reply(
        200, b"e", delay=0.6 if req.target == "/slow" else 0.0))
    other = Upstream("o")
    aport = free_port()
    opts = {"c": {"max_connections": 1, "max_pending": 2,
                  "queue_timeout": "500ms"}}
    # one worker: an idle connection pooled by one worker counts against
    # the limit for the others too
    cfg_e, port = conf({"c": [up]}, aport=aport, cluster_opts=opts,
                       workers=1)
    cfg_o, _ = conf({"c": [other]}, port=port, aport=aport,
                    cluster_opts=opts, workers=1)
    sl = start_sluice(cfg_e)
    key = 'sluice_upstream_connections{cluster="c",endpoint="%s"}' % up.addr
    c = Client(port)
    eq(c.request("GET", "/1").status, 200, "status")
    # retire it while idle
    reload(sl, aport, cfg_o)
    check(up.conns[0].closed_by_peer.wait(2.0), "idle connection of the "
          "removed endpoint not closed")
    reload(sl, aport, cfg_e)
    r = c.request("GET", "/2")
    eq(r.status, 200, "endpoint named again after an idle retire (body "
       "%r)" % r.body[:200])
    # retire it while busy
    c.send(build_request("GET", "/slow"))
    check(wait_until(lambda: "/slow" in up.paths(), 2.0), "slow request")
    reload(sl, aport, cfg_o)
    eq(read_response(c).status, 200, "busy request on the retired endpoint")
    check(wait_until(lambda: all(k.closed_by_peer.is_set()
                                 for k in up.conns), 2.0),
          "busy connection of the removed endpoint not closed after its "
          "exchange")
    reload(sl, aport, cfg_e)
    m = metrics(aport)
    check(m.get(key, 0.0) == 0.0, "%s = %r with no connection open"
          % (key, m.get(key)))
    for _ in range(2):
        k = Client(port)
        r = k.request("GET", "/3")
        eq(r.status, 200, "endpoint named again after a busy retire (body "
           "%r)" % r.body[:200])


# ---------------------------------------------------------------------------
# Cost of reloads


@test
def reload_loop_no_memory_or_fd_growth():
    ua, ub = Upstream("a"), Upstream("b")
    aport = free_port()
    p2 = free_port()
    # A: one listener, cluster a. B: a second listener, a second cluster,
    # another route: every reload opens or closes a listening socket per
    # worker and creates or retires an endpoint. Both carry 60 more
    # clusters and routes so that a generation that is never freed costs
    # enough memory to be seen.
    pad = {"pad%d" % i: [ua] for i in range(60)}
    padr = [{"name": "pad%d" % i, "match": {"path": "/pad/%d" % i},
             "cluster": "pad%d" % i} for i in range(60)]
    cfgA, port = conf(dict({"a": [ua]}, **pad), aport=aport,
                      routes=padr + [{"name": "a", "cluster": "a"}])
    cfgB, _ = conf(dict({"a": [ua], "b": [ub]}, **pad), port=port,
                   aport=aport,
                   routes=[{"name": "b", "match": {"path_prefix": "/b"},
                            "cluster": "b"}] + padr[::-1] +
                   [{"name": "a", "cluster": "a"}],
                   listeners_extra=[("two", p2)])
    textA, textB = to_yaml(cfgA), to_yaml(cfgB)
    asan = binary_has_asan()
    saved = os.environ.get("ASAN_OPTIONS")
    if asan:
        # the quarantine keeps freed memory resident (up to 256 MiB): RSS
        # would measure it, not sluice. LeakSanitizer still runs at exit.
        os.environ["ASAN_OPTIONS"] = ((saved + ":") if saved else
                                      "detect_leaks=1:") + \
            "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    try:
        sl = start_sluice(cfgA)
    finally:
        if saved is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = saved
    pid = sl.pid
    c = Client(port)
    eq(upstream_of(c.request("GET", "/first")), "a", "first request")
    fd_start = nfds(pid)

    def cycle(n):
        for i in range(n):
            reload(sl, aport, textB if i % 2 == 0 else textA)
            eq(upstream_of(c.request("GET", "/k%d" % i)), "a", "keep-alive")
            if i % 2 == 0:
                eq(upstream_of(get(p2, "/b%d" % i)), "b", "listener two")
    cycle(40)                                   # warm-up, ends on A
    time.sleep(0.3)
    rss0, fd0 = vm_rss_kib(pid), nfds(pid)
    eq(fd0, fd_start, "descriptors after 40 reloads that end on the first "
       "file vs before the first reload")
    t0 = time.monotonic()
    cycle(200)
    dt = time.monotonic() - t0
    # pooled connections to b and listener two's sockets are gone on A
    check(wait_until(lambda: nfds(pid) == fd0, 3.0),
          "descriptors: %d before 200 reloads, %d after" % (fd0, nfds(pid)))
    rss1 = vm_rss_kib(pid)
    eq(reload_state(aport)[2], 241, "generation after 240 reloads")
    limit = 2048
    check(rss1 - rss0 < limit,
          "VmRSS grew by %d KiB over 200 reloads (%d -> %d KiB; limit "
          "%d KiB)" % (rss1 - rss0, rss0, rss1, limit))
    sys.stdout.write("# 200 reloads in %.1fs: VmRSS %d -> %d KiB, fds %d\n"
                     % (dt, rss0, rss1, fd0))


@test
def reloads_under_load_lose_nothing():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    # A routes everything to cluster a; B to cluster ab, whose endpoints
    # are a and b with weights 1:3 (both files name both clusters)
    clusters = {"a": [a], "ab": [(a, 1), (b, 3)]}
    cfgA, port = conf(clusters, [{"name": "r", "cluster": "a"}],
                      aport=aport)
    # B also raises max_headers past the workers' header scratch (256),
    # which is reallocated while requests are in flight
    cfgB, _ = conf(clusters, [{"name": "r", "cluster": "ab"}], port=port,
                   aport=aport, limits={"max_headers": 600})
    sl = start_sluice(cfgA)
    sl.expect_errors(r"^reload: ")    # refused reloads, on purpose
    stop = threading.Event()
    errors = []
    counts = {"ka": 0, "new": 0}
    lock = threading.Lock()

    def keepalive(k):
        try:
            cl = Client(port)
            i = 0
            while not stop.is_set():
                body = b"%d-%d" % (k, i)
                r = cl.request("POST", "/ka/%d/%d" % (k, i), body=body)
                j = r.json()
                if r.status != 200 or j["upstream"] not in ("a", "b") or \
                        j["body_sha256"] != sha256(body) or r.wants_close():
                    errors.append("ka %d/%d: %r" % (k, i, r))
                    return
                i += 1
                with lock:
                    counts["ka"] += 1
        except Exception as e:
            errors.append("keep-alive client %d: %r" % (k, e))

    def fresh(k):
        i = 0
        while not stop.is_set():
            try:
                r = get(port, "/new/%d/%d" % (k, i))
            except Exception as e:
                errors.append("new connection %d/%d: %r" % (k, i, e))
                return
            if r.status != 200:
                errors.append("new %d/%d: %r" % (k, i, r))
                return
            i += 1
            with lock:
                counts["new"] += 1
    ts = [threading.Thread(target=keepalive, args=(k,)) for k in range(6)]
    ts += [threading.Thread(target=fresh, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    try:
        time.sleep(0.2)
        for i in range(24):
            if i % 6 == 5:
                reload(sl, aport, "listeners: [\n", expect="failed")
            else:
                reload(sl, aport, cfgB if i % 2 == 0 else cfgA)
            time.sleep(0.05)
    finally:
        stop.set()
        for t in ts:
            t.join(10)
    eq(errors, [], "client errors during reloads")
    check(counts["ka"] > 100 and counts["new"] > 30,
          "too little traffic during the reloads: %r" % counts)
    eq(len(a.requests) + len(b.requests), counts["ka"] + counts["new"],
       "requests at the upstreams vs answered requests")
    check(len(b.requests) > 0, "cluster ab (generation B) never used")
    # 6 keep-alive clients stay on their worker, 3 short ones may use both
    # workers: at most 12 connections per endpoint (a in cluster a, a in
    # cluster ab, b in cluster ab) if no reload empties a pool; 24 reloads
    # that emptied pools would cost hundreds
    check(a.accepts + b.accepts <= 3 * 12,
          "upstream accepts %d+%d for 9 concurrent clients: pools emptied "
          "by reloads?" % (a.accepts, b.accepts))


# ---------------------------------------------------------------------------
# Start-only settings


@test
def workers_and_admin_changes_log_restart_warning():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    d = tmpdir()
    cfg1, port = conf({"a": [a], "b": [b]}, [{"name": "r", "cluster": "a"}],
                      aport=aport, workers=1,
                      access_log=os.path.join(d, "one.log"))
    sl = start_sluice(cfg1)
    eq(metrics(aport).get("sluice_workers"), 1.0, "sluice_workers")
    cfg2, _ = conf({"a": [a], "b": [b]}, [{"name": "r", "cluster": "b"}],
                   port=port, aport=aport, workers=3,
                   access_log=os.path.join(d, "two.log"))
    log = reload(sl, aport, cfg2)
    check(re.search(r'warn: reload: "workers" changes need an upgrade '
                    r'\(SIGUSR2\) or a restart', log),
          "no restart warning for workers:\n%s" % log)
    check(re.search(r'warn: reload: "log.access" changes need an upgrade '
                    r'\(SIGUSR2\) or a restart',
                    log), "no restart warning for log.access:\n%s" % log)
    eq(metrics(aport).get("sluice_workers"), 1.0, "sluice_workers after "
       "the reload")
    # the rest of the file applied
    eq(upstream_of(get(port, "/x", [("X-Request-Id", "after-reload-1")])),
       "b", "route of the new file")
    check(read_json_lines(os.path.join(d, "one.log"),
                          lambda o: o.get("request_id") == "after-reload-1"),
          "access line not in the running access log")
    check(not os.path.exists(os.path.join(d, "two.log")),
          "the access log of the new file was opened")
    # admin moved: warning, admin stays where it was
    aport2 = free_port()
    cfg3, _ = conf({"a": [a], "b": [b]}, [{"name": "r", "cluster": "a"}],
                   port=port, aport=aport2, workers=1,
                   access_log=os.path.join(d, "one.log"))
    log = reload(sl, aport, cfg3)
    check(re.search(r'warn: reload: "admin" changes need an upgrade '
                    r'\(SIGUSR2\) or a restart', log),
          "no restart warning for admin:\n%s" % log)
    check(connect_refused(aport2), "admin opened on the new address")
    eq(upstream_of(get(port, "/y")), "a", "route of the third file")
    # access_format applies at once (log.access itself needs a restart)
    cfg4, _ = conf({"a": [a], "b": [b]}, [{"name": "r", "cluster": "a"}],
                   port=port, aport=aport, workers=1,
                   access_log=os.path.join(d, "one.log"))
    cfg4["log"]["access_format"] = "combined"
    reload(sl, aport, cfg4)
    eq(get(port, "/combined-now").status, 200, "status")

    def combined_line():
        with open(os.path.join(d, "one.log")) as f:
            return [x for x in f.read().splitlines()
                    if "/combined-now" in x]
    check(wait_until(combined_line, 2.0), "no access line for the request "
          "after access_format changed")
    line = combined_line()[0]
    check(not line.startswith("{") and '"GET /combined-now HTTP/1.1" 200'
          in line, "access line after the reload to access_format "
          "combined: %r" % line)


@test
def restart_warnings_compare_with_what_runs():
    # the warnings used to compare with the previous file: putting the
    # original values back warned again, naming a log never opened
    a = Upstream("a")
    aport = free_port()
    d = tmpdir()
    one, two = os.path.join(d, "one.log"), os.path.join(d, "two.log")
    cfg1, port = conf({"a": [a]}, aport=aport, workers=1, access_log=one)
    sl = start_sluice(cfg1)
    cfg2, _ = conf({"a": [a]}, port=port, aport=aport, workers=2,
                   access_log=two)
    log = reload(sl, aport, cfg2)
    check(re.search(r'warn: reload: "workers" changes need an upgrade '
                    r'\(SIGUSR2\) or a restart; the '
                    r'file asks for 2, 1 worker keep running', log),
          "no workers warning naming what runs:\n%s" % log)
    check(re.search(r'warn: reload: "log.access" changes need an upgrade '
                    r'\(SIGUSR2\) or a restart; '
                    r'access lines still go to %s' % re.escape(one), log),
          "no log.access warning naming the open log:\n%s" % log)
    # back to what runs: nothing needs a restart
    log = reload(sl, aport, cfg1)
    check("or a restart" not in log, "restart warning although the file "
          "asks for what runs:\n%s" % log)
    check(two not in log, "a log file that was never opened is named:\n%s"
          % log)
    # workers: auto resolves to the CPU count before comparing
    cfg3, _ = conf({"a": [a]}, port=port, aport=aport, workers=None,
                   access_log=one)
    cfg3["workers"] = "auto"
    log = reload(sl, aport, cfg3)
    if os.cpu_count() == 1:
        check("need a restart" not in log, "auto == 1 warned:\n%s" % log)
    else:
        check(re.search(r'asks for %d, 1 worker keep running'
                        % os.cpu_count(), log), "auto not resolved:\n%s"
              % log)


@test
def reload_refused_when_the_new_access_log_cannot_open():
    # a file that could not start must not be taken in by a reload either
    a = Upstream("a")
    aport = free_port()
    d = tmpdir()
    cfg1, port = conf({"a": [a]}, aport=aport, access_log=os.path.join(
        d, "one.log"))
    sl = start_sluice(cfg1)
    sl.expect_errors(r"^reload: ")    # refused reloads, on purpose
    bad = os.path.join(d, "missing", "two.log")
    cfg2, _ = conf({"a": [a]}, port=port, aport=aport, access_log=bad)
    log = reload(sl, aport, cfg2, expect="failed_bind")
    check(re.search(r"error: reload: %s cannot start as it is; generation 1 "
                    r"keeps running" % re.escape(sl.conf_path), log),
          "no 'cannot start as it is' line:\n%s" % log)
    check(re.search(r'error: reload: %s:\d+:\d+: error: "access": cannot '
                    r'open "%s" for appending: the directory' % (
                        re.escape(sl.conf_path), re.escape(bad)), log),
          "no FILE:LINE:COL line for the access log:\n%s" % log)
    eq(get(port, "/still").status, 200, "the running generation")


# ---------------------------------------------------------------------------
# Drain and other signals


@test
def sigterm_drain_keepalive_gets_connection_close():
    body = os.urandom(MiB)
    up = Upstream("a", handler=lambda req: Reply(
        200, body if req.target == "/slow" else b"quick",
        delay=1.2 if req.target == "/slow" else 0.0))
    aport = free_port()
    cfg, port = conf({"a": [up]}, aport=aport,
                     extra={"drain_timeout": "5s"})
    sl = start_sluice(cfg)
    inflight = Client(port)
    idle = Client(port)
    eq(idle.request("GET", "/idle-1").status, 200, "status")
    half = Client(port)
    eq(half.request("GET", "/half-1").status, 200, "status")
    # the next request on `half` has started (part of its head) before the
    # signal and completes after it
    half.send(b"GET /half-2 HTTP/1.1\r\nHost: t\r\n")
    inflight.send(build_request("GET", "/slow"))
    check(wait_until(lambda: "/slow" in up.paths(), 2.0),
          "slow request did not reach the upstream")
    t0 = time.monotonic()
    sl.send_signal(signal.SIGTERM)
    check(wait_until(lambda: connect_refused(port), 2.0, 0.02),
          "listener still accepts after SIGTERM")
    # SIGHUP during the drain changes nothing
    sl.send_signal(signal.SIGHUP)
    # the idle keep-alive client sends its next request after the signal:
    # a response must carry Connection: close, or the connection is closed
    # without one and the request never reached the upstream
    try:
        idle.send(build_request("GET", "/idle-2"))
        r = read_response(idle)
        eq(r.status, 200, "status of a request sent during the drain")
        check(r.wants_close(), "response during the drain lacks "
              "Connection: close: %r" % r.headers)
        check(idle.wait_closed(1.0), "connection not closed after its "
              "drain response")
    except (sltest.Closed, OSError):
        check("/idle-2" not in up.paths(), "request forwarded upstream "
              "but the client got no response")
    half.send(b"\r\n")
    r = read_response(half)
    eq(r.status, 200, "status of the request completed during the drain")
    eq(r.body, b"quick", "body")
    check(r.wants_close(), "request completed during the drain: response "
          "lacks Connection: close: %r" % r.headers)
    check(half.wait_closed(1.0), "connection not closed after its drain "
          "response")
    r = read_response(inflight)
    eq(r.status, 200, "in-flight status")
    eq(sha256(r.body), sha256(body), "in-flight body")
    check(r.wants_close(), "in-flight response during the drain lacks "
          "Connection: close")
    check(inflight.wait_closed(1.0), "in-flight connection not closed")
    rc = sl.wait(4.0)
    dt = time.monotonic() - t0
    eq(rc, 0, "exit status after the drain")
    check(dt < 3.0, "drain took %.1fs (slow request 1.2s)" % dt)
    check("reload: generation" not in sl.stderr(), "SIGHUP during the "
          "drain reloaded")
    p = sl.sanitizer_problem()
    check(p is None, p)


@test
def drain_timeout_bounds_slow_request():
    up = Upstream("a", handler=lambda req: Reply(200, b"late", delay=5.0))
    cfg, port = make_config({"a": [up]}, workers=2,
                            extra={"drain_timeout": "1s"},
                            routes=[{"name": "r", "cluster": "a",
                                     "timeout": "30s"}])
    sl = start_sluice(cfg)
    c = Client(port)
    c.send(build_request("GET", "/slow"))
    check(up.wait_requests(1, 2.0), "request did not reach the upstream")
    t0 = time.monotonic()
    sl.send_signal(signal.SIGTERM)
    rc = sl.wait(4.0)
    dt = time.monotonic() - t0
    check(rc is not None, "sluice still running 4s after SIGTERM with "
          "drain_timeout 1s and a 5s request")
    eq(rc, 0, "exit status")
    check(0.8 <= dt <= 2.5, "exit %.2fs after SIGTERM (drain_timeout 1s)"
          % dt)
    check(c.wait_closed(1.0), "client connection not closed at exit")
    check(not c.buf.startswith(b"HTTP/1.1 200"), "a 200 was sent for a "
          "request the upstream never answered")


@test
def drain_timeout_change_applies_on_reload():
    up = Upstream("hang", handler=lambda req: Reply(action="hang"))
    aport = free_port()
    cfg1, port = conf({"hang": [up]}, [{"name": "h", "cluster": "hang",
                                        "timeout": "30s"}],
                      aport=aport, extra={"drain_timeout": "30s"})
    sl = start_sluice(cfg1)
    cfg2, _ = conf({"hang": [up]}, [{"name": "h", "cluster": "hang",
                                     "timeout": "30s"}],
                   port=port, aport=aport, extra={"drain_timeout": "1s"})
    reload(sl, aport, cfg2)
    c = Client(port)
    c.send(build_request("GET", "/never"))
    check(up.wait_requests(1, 2.0), "request did not reach the upstream")
    t0 = time.monotonic()
    sl.send_signal(signal.SIGTERM)
    rc = sl.wait(4.0)
    dt = time.monotonic() - t0
    check(rc is not None, "still running 4s after SIGTERM: drain_timeout "
          "1s of the reloaded file not used")
    eq(rc, 0, "exit status")
    check(dt <= 2.5, "exit %.2fs after SIGTERM (reloaded drain_timeout 1s)"
          % dt)


@test
def sigusr1_reopens_renamed_access_log():
    up = Upstream("a")
    aport = free_port()
    d = tmpdir()
    logp = os.path.join(d, "access.log")
    cfg, port = conf({"a": [up]}, aport=aport, access_log=logp)
    sl = start_sluice(cfg)
    c = Client(port)
    eq(c.request("GET", "/", [("X-Request-Id", "line-1-xxxx")]).status, 200,
       "status")
    check(read_json_lines(logp, lambda o: o.get("request_id")
                          == "line-1-xxxx"), "first line not logged")
    reload(sl, aport, cfg)      # a reload keeps the access log working
    eq(c.request("GET", "/", [("X-Request-Id", "line-2-xxxx")]).status, 200,
       "status")
    check(read_json_lines(logp, lambda o: o.get("request_id")
                          == "line-2-xxxx"), "line after a reload not "
          "logged")
    os.rename(logp, logp + ".1")
    n0 = len(sl.stderr())
    sl.send_signal(signal.SIGUSR1)
    check(wait_until(lambda: "access log reopened" in sl.stderr()[n0:], 2.0),
          "no 'access log reopened' line after SIGUSR1")
    check(os.path.exists(logp), "SIGUSR1 did not create a new access log")
    for i in range(3):
        eq(c.request("GET", "/", [("X-Request-Id", "line-3-%d-xx" % i)])
           .status, 200, "status")
    eq(get(port, "/", [("X-Request-Id", "line-4-xxxx")]).status, 200,
       "status")
    got = read_json_lines(logp, lambda o: str(o.get("request_id"))
                          .startswith(("line-3", "line-4")), min_count=4)
    eq(len(got), 4, "lines in the new file after SIGUSR1")
    time.sleep(0.3)     # batches are flushed every 200 ms
    with open(logp + ".1") as f:
        old = f.read()
    check("line-3" not in old and "line-4" not in old,
          "lines after SIGUSR1 went to the renamed file")
    check("line-2-xxxx" in old, "renamed file lost its lines")


@test
def http2_connection_of_a_removed_listener_drains():
    """An HTTP/2 connection whose listener a reload removes ends as a
    drain ends it (RFC 9113 section 6.8): a first GOAWAY naming the
    largest stream id and a PING, then the last GOAWAY naming the stream
    begun; that stream finishes whole, then the connection closes. (Raw
    frames: python3-h2 takes the first GOAWAY for the end.)"""
    import h2test
    if not h2test.HAVE_H2:
        raise sltest.Skip("no python3-h2")
    H = h2test
    a = Upstream("a", handler=lambda req: Reply(
        200, b"slow-" * 100, delay=1.0 if req.target == "/slow" else 0.0))
    aport = free_port()
    p2 = free_port()
    cfg1, p1 = conf({"a": [a]}, aport=aport, workers=1,
                    listeners_extra=[("second", p2)],
                    listener_opts={"protocols": ["h2", "http/1.1"]})
    # prior knowledge on plain TCP, whatever the transport of the run
    cfg1["listeners"][0].pop("tls", None)
    sltest._tls_ports.discard(p1)
    sl = start_sluice(cfg1)
    r = H.RawH2(p1)
    r.send(r.headers(1, r.req_fields("/1")))
    check(r.wait(lambda: 1 in r.statuses()), "a request first")
    r.send(r.headers(3, r.req_fields("/slow")))
    check(wait_until(lambda: "/slow" in a.paths(), 5.0),
          "the slow request reached the upstream")
    cfg2, _ = conf({"a": [a]}, port=p2, aport=aport, workers=1,
                   listener_name="second")
    reload(sl, aport, cfg2)
    check(r.wait(lambda: r.closed, 10), "the connection closed")
    eq(r.statuses(), {1: [200], 3: [200]}, "both streams answered")
    eq(r.goaways(), [(0x7fffffff, H.NO_ERROR), (3, H.NO_ERROR)],
       "the two GOAWAYs")
    check(any(t == H.PING and not f & H.ACK for t, f, _, _ in r.frames),
          "a PING between them")
    body = b"".join(p for t, _, sid, p in r.frames
                    if t == H.DATA and sid == 3)
    eq(body, b"slow-" * 100, "the stream in flight, whole")
    check(any(t == H.DATA and sid == 3 and f & H.END_STREAM
              for t, f, sid, _ in r.frames), "ended")
    eq(r.resets(), {}, "no stream reset")
    r.close()
    check(connect_refused(p1), "the removed listener accepts no connection")


if __name__ == "__main__":
    main()
