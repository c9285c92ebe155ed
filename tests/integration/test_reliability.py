# SPDX-License-Identifier: MIT
"""Upstream reliability, proved with a ledger: every upstream writes down
each request it reads (its X-Request-Id and the endpoint), so a test can
count how many times one client request reached any upstream. A refused
connect is retried anywhere (class 1); a request that went out and met a
reset or a per-try timeout is sent again only when it is idempotent or
carries an Idempotency-Key the route honours (class 2); once part of an
answer went to the client nothing is retried and the client sees a reset
(class 3); a malformed answer is never retried. The retry budget caps the
extra load of a total outage; the route timeout is one deadline across all
attempts; the Keep-Alive timeout an upstream announces retires pooled
connections before the upstream closes them; health checks and outlier
ejection keep failing endpoints out and let them back; a reload that
changes the check or the cluster's TLS judges the endpoints again at once
(one pass of the new check brings one back, an ejection earned under the
old TLS is lifted), one that does not keeps their state. Run against a
real upstream process killed with SIGKILL too."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Upstream, assert_error,  # noqa: E402
                    build_request, check, connect_refused, eq, free_port,
                    get, have_openssl, main, make_config, metrics, Pki,
                    read_json_lines, Skip, sighup_reload, start_sluice, test,
                    TLSUpstream, tls_server_context, tmpdir, to_yaml,
                    wait_until)

HEALTH_UA = "sluice-health-check"

# ---------------------------------------------------------------------------
# The ledger


class Ledger:
    """What every upstream of a test received: (request id, endpoint name,
    request) in arrival order, across all the upstreams sharing it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []

    def add(self, rid, where, req):
        with self.lock:
            self.entries.append((rid, where, req))

    def where(self, rid):
        """The endpoints that saw rid, in order."""
        with self.lock:
            return [w for r, w, _ in self.entries if r == rid]

    def count(self, rid):
        return len(self.where(rid))

    def requests(self, rid):
        with self.lock:
            return [(w, q) for r, w, q in self.entries if r == rid]

    def total(self):
        with self.lock:
            return len(self.entries)

    def by_endpoint(self, name):
        with self.lock:
            return [r for r, w, _ in self.entries if w == name]


class LedgerUpstream(Upstream):
    """An Upstream that writes each request it reads into a ledger before
    acting on it. behave(req) returns a Reply, None (the default 200 JSON
    answer naming the endpoint) or a function of the socket: an action of
    its own, after which the connection is closed. Health checks (sluice's
    User-Agent) are answered with health_status and kept out of the
    ledger."""

    def __init__(self, name, ledger, behave=None, **kw):
        self.ledger = ledger
        self.behave = behave
        self.health_status = 200
        self.checks = []
        Upstream.__init__(self, name, handler=self._record, **kw)

    def _record(self, req):
        if req.header("user-agent") == HEALTH_UA:
            self.checks.append(req)
            return Reply(self.health_status, b"", close=True,
                         reason="OK" if self.health_status == 200
                         else "Service Unavailable")
        self.ledger.add(req.header("x-request-id"), self.name, req)
        if self.behave is None:
            return None
        return self.behave(req)

    def _reply(self, conn, bs, req, r):
        if callable(r):
            r(conn.sock)
            return False
        return Upstream._reply(self, conn, bs, req, r)


def rst(sock):
    """Closes with SO_LINGER 0: the peer gets a reset, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


_seq = [0]


def new_rid(tag):
    """A fresh request id (sluice forwards a client's valid one)."""
    _seq[0] += 1
    return "rel-%s-%d-%s" % (tag, _seq[0], os.urandom(4).hex())


def send(port, method, path, rid, body=None, headers=None, timeout=5.0):
    """One request with X-Request-Id rid on a fresh connection."""
    h = [("X-Request-Id", rid)] + list(headers or [])
    if body is None and method in ("POST", "PUT"):
        body = b"amount=1"
    return get(port, path, headers=h, method=method, body=body,
               timeout=timeout)


def aimed(ledger, target, method, port, path, tag, tries=4, **kw):
    """Sends requests with fresh ids until one whose first attempt reached
    the endpoint named target (round robin alternates between endpoints:
    a request that started elsewhere is not the case under test). Returns
    (rid, response, seconds it took)."""
    for _ in range(tries):
        rid = new_rid(tag)
        t0 = time.monotonic()
        r = send(port, method, path, rid, **kw)
        dt = time.monotonic() - t0
        seen = ledger.where(rid)
        if seen and seen[0] == target:
            return rid, r, dt
    raise AssertionError("no %s request started at %s in %d tries"
                         % (method, target, tries))


def access_entry(log, rid):
    """The access log line of request rid."""
    got = read_json_lines(log, lambda o: o.get("request_id") == rid)
    eq(len(got), 1, "access log lines of %s" % rid)
    return got[0]


def failure(cls, error, up):
    return {"class": cls, "error": error, "upstream": up.addr
            if hasattr(up, "addr") else "127.0.0.1:%d" % up}


def admin_extra():
    aport = free_port()
    return aport, {"admin": {"address": "127.0.0.1:%d" % aport}}


def get_config(aport):
    r = get(aport, "/config", timeout=3.0)
    eq(r.status, 200, "status of /config")
    return r.json()


def config_endpoint(aport, cluster, address):
    for c in get_config(aport)["clusters"]:
        if c["name"] == cluster:
            for e in c["endpoints"]:
                if e["address"] == address:
                    return e
    raise AssertionError("endpoint %s of %s not in /config"
                         % (address, cluster))


def ep_metric(name, cluster, up):
    return '%s{cluster="%s",endpoint="%s"}' % (name, cluster, up.addr)


# ---------------------------------------------------------------------------
# 1. Class 1: nothing was sent


@test
def refused_connect_is_retried_once_on_the_live_endpoint():
    # a closed port first in the cluster: round robin sends every other
    # request there first; the refusal is class 1 (not a byte went out),
    # safe for a POST without any key
    ledger = Ledger()
    live = LedgerUpstream("live", ledger)
    dead = free_port()
    log = os.path.join(tmpdir(), "access.log")
    cfg, port = make_config({"c": [dead, live]}, access_log=log)
    sl = start_sluice(cfg)
    rids = []
    for method in ("POST",) * 4 + ("GET",) * 4:
        rid = new_rid("refused")
        r = send(port, method, "/pay", rid)
        eq(r.status, 200, "%s with a dead endpoint in the cluster (%r)"
           % (method, r.body[:200]))
        eq(r.json()["upstream"], "live", "answered by")
        rids.append((method, rid))
    retried = {"POST": 0, "GET": 0}
    for method, rid in rids:
        eq(ledger.where(rid), ["live"],
           "%s %s reached the upstreams exactly once" % (method, rid))
        e = access_entry(log, rid)
        if e["failures"]:
            eq(e["failures"], [failure(1, "upstream_connect_failed", dead)],
               "failures logged for %s" % method)
            eq(e["retried"], True, "retried")
            eq(e["retries"], 1, "retries")
            retried[method] += 1
        else:
            eq(e["retries"], 0, "retries of a request that went to live")
    check(retried["POST"] >= 1 and retried["GET"] >= 1,
          "some POST and some GET met the dead port first: %r" % retried)
    check("upstream=127.0.0.1:%d: upstream_connect_failed" % dead
          in sl.stderr(), "the refusal is in sluice's log")


@test
def refused_connects_under_load_are_outside_the_retry_budget():
    # One endpoint of three is a closed port; 60 concurrent POSTs, each on
    # its own connection, answered 300 ms late: about 20 meet the closed
    # port first while 60 are active. A refused connect put no request on
    # any upstream, so its retry is not held to the budget (20% of 60 =
    # 12, fewer per worker): every POST is answered, none refused for the
    # budget, and each reached the upstreams exactly once.
    ledger = Ledger()
    ups = [LedgerUpstream(n, ledger, lambda req: Reply(
        200, b"ok", delay=0.3)) for n in ("a", "b")]
    dead = free_port()
    aport, extra = admin_extra()
    cfg, port = make_config({"c": [dead] + ups}, workers=2, extra=extra)
    start_sluice(cfg)
    n = 60
    clients = [Client(port, timeout=10.0) for _ in range(n)]
    rids = [new_rid("unseen") for _ in range(n)]
    for c, rid in zip(clients, rids):
        c.send(build_request("POST", "/pay", {"X-Request-Id": rid},
                             body=b"amount=1"))
    for c, rid in zip(clients, rids):
        r = c.read_response()
        eq(r.status, 200, "POST %s (%r)" % (rid, r.body[:200]))
        c.close()
    for rid in rids:
        eq(ledger.count(rid), 1, "%s reached the upstreams once" % rid)
    m = metrics(aport)
    retries = m['sluice_cluster_retries_total{cluster="c",class="1"}']
    check(retries >= 10, "refused connects retried: %d" % retries)
    eq(m.get('sluice_cluster_not_retried_total{cluster="c",'
             'reason="no_budget"}', 0), 0, "retries refused for the budget")


# ---------------------------------------------------------------------------
# 2. Class 2: sent, then a reset


def reset_cluster():
    """Endpoint "rst" reads each request whole, then resets; "good"
    answers. Route "keyed" (/keyed) honours Idempotency-Key, route "plain"
    has the default policy."""
    ledger = Ledger()
    bad = LedgerUpstream("rst", ledger, lambda req: rst)
    good = LedgerUpstream("good", ledger)
    log = os.path.join(tmpdir(), "access.log")
    routes = [{"name": "keyed", "match": {"path_prefix": "/keyed"},
               "cluster": "c", "retry": {"idempotency_key": True}},
              {"name": "plain", "cluster": "c"}]
    cfg, port = make_config({"c": [bad, good]}, routes=routes,
                            access_log=log)
    sl = start_sluice(cfg)
    return ledger, bad, good, sl, port, log


@test
def reset_after_request_retries_only_what_may_be_sent_twice():
    ledger, bad, good, sl, port, log = reset_cluster()

    # GET: idempotent, so the reset (class 2) is retried on the other
    # endpoint: seen twice, once per endpoint, and that is expected
    rid, r, _ = aimed(ledger, "rst", "GET", port, "/item", "get")
    eq(r.status, 200, "GET after a reset")
    eq(r.json()["upstream"], "good", "answered by")
    eq(ledger.where(rid), ["rst", "good"], "GET seen at")
    e = access_entry(log, rid)
    eq(e["failures"], [failure(2, "upstream_reset", bad)], "GET failures")
    eq((e["retried"], e["retries"]), (True, 1), "GET retried, retries")

    # POST without a key: it may have been processed; never sent again
    rid, r, _ = aimed(ledger, "rst", "POST", port, "/charge", "post")
    assert_error(r, 502, "upstream_reset")
    time.sleep(0.3)     # a late retry would show up by now
    eq(ledger.where(rid), ["rst"], "POST without a key seen at")
    e = access_entry(log, rid)
    eq(e["failures"], [failure(2, "upstream_reset", bad)], "POST failures")
    eq(e["retried"], False, "POST retried")

    # POST with an Idempotency-Key on a route that honours it: the
    # upstream deduplicates by key, so sending it again is safe
    key = [("Idempotency-Key", "k-" + os.urandom(6).hex())]
    rid, r, _ = aimed(ledger, "rst", "POST", port, "/keyed/charge", "key",
                      headers=key)
    eq(r.status, 200, "keyed POST on the keyed route (%r)" % r.body[:200])
    eq(ledger.where(rid), ["rst", "good"], "keyed POST seen at")
    eq([q.header("idempotency-key") for _, q in ledger.requests(rid)],
       [key[0][1]] * 2, "the key went with both attempts")

    # the same key on a route that does not honour keys: not retried
    rid, r, _ = aimed(ledger, "rst", "POST", port, "/charge", "nokey",
                      headers=key)
    assert_error(r, 502, "upstream_reset")
    time.sleep(0.3)
    eq(ledger.where(rid), ["rst"], "keyed POST on the plain route seen at")

    # a PUT's 10 KiB body is kept until an answer comes: the retry sends
    # it again whole
    body = bytes(range(256)) * 40
    rid, r, _ = aimed(ledger, "rst", "PUT", port, "/doc", "put", body=body)
    eq(r.status, 200, "PUT after a reset")
    seen = ledger.requests(rid)
    eq([w for w, _ in seen], ["rst", "good"], "PUT seen at")
    eq(seen[0][1].body, body, "body the first endpoint read")
    eq(seen[1][1].body, body, "body the retry carried")
    eq(seen[1][1].header("content-length"), str(len(body)),
       "Content-Length of the retry")


# ---------------------------------------------------------------------------
# 3. Class 3: part of the answer went out


def partial_then_reset(sock):
    """The head and 1000 of 100000 body bytes, a pause (so that sluice
    passes them on), then a reset."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
                 b"Content-Type: application/octet-stream\r\n\r\n"
                 + b"p" * 1000)
    time.sleep(0.3)
    rst(sock)


@test
def reset_after_partial_answer_resets_client_and_is_never_retried():
    ledger = Ledger()
    part = LedgerUpstream("partial", ledger, lambda req: partial_then_reset)
    good = LedgerUpstream("good", ledger)
    log = os.path.join(tmpdir(), "access.log")
    # a GET with the default policy (reset retried): only the class keeps
    # it from being retried
    cfg, port = make_config({"c": [part, good]}, access_log=log)
    sl = start_sluice(cfg)
    for attempt in range(4):
        rid = new_rid("partial")
        c = Client(port)
        c.send(build_request("GET", "/download", {"X-Request-Id": rid}))
        head = c.read_until(b"\r\n\r\n")
        if ledger.where(rid)[:1] == ["partial"]:
            break
        c.close()       # started at "good": not the case under test
    else:
        raise AssertionError("no request started at the partial endpoint")
    check(head.startswith(b"HTTP/1.1 200 "), "head passed on: %r" % head)
    check(b"content-length: 100000" in head.lower(),
          "Content-Length passed on: %r" % head)
    # the body: 1000 bytes, then the connection must be reset. A clean
    # EOF (FIN) would look like a normal end to a client that does not
    # count bytes; recv() raises ConnectionResetError only on an RST
    got = len(c.buf)
    outcome = None
    c.settimeout(5.0)
    while outcome is None:
        try:
            d = c.sock.recv(65536)
        except ConnectionResetError:
            outcome = "reset"
            break
        except socket.timeout:
            outcome = "timeout (the connection stayed open)"
            break
        if not d:
            outcome = "clean EOF (FIN)"
            break
        got += len(d)
    eq(outcome, "reset", "how the client connection ended")
    eq(got, 1000, "body bytes the client got before the reset")
    time.sleep(0.3)
    eq(ledger.where(rid), ["partial"], "the GET was not retried")
    e = access_entry(log, rid)
    eq(len(e["failures"]), 1, "failures: %r" % e["failures"])
    f = e["failures"][0]
    eq((f["class"], f["upstream"]), (3, part.addr), "class 3 failure")
    check(f["error"].startswith("upstream_"), "failure error %r" % f)
    eq(e["retried"], False, "retried")
    # the gateway is fine: the next request is answered
    r = send(port, "GET", "/after", new_rid("after"))
    eq(r.status, 200, "request after the reset")
    check(sl.proc.poll() is None, "sluice still running")


# ---------------------------------------------------------------------------
# 4. A malformed answer


@test
def malformed_answer_is_502_and_never_retried():
    ledger = Ledger()
    bad = LedgerUpstream("bad", ledger, lambda req: Reply(
        action="raw", raw=b"NOT HTTP\r\n\r\n", close=True))
    good = LedgerUpstream("good", ledger)
    # the widest policy there is: a malformed answer is still not retried
    # (the upstream did answer; what it did with the request is unknown)
    route = {"name": "main", "cluster": "c", "retry": {
        "attempts": 3, "on": ["connect-failure", "reset", "timeout",
                              502, 503, 504]}}
    cfg, port = make_config({"c": [bad, good]}, routes=[route])
    start_sluice(cfg)
    for method in ("GET", "POST"):
        rid, r, _ = aimed(ledger, "bad", method, port, "/x", "bad")
        assert_error(r, 502, "upstream_bad_response")
        time.sleep(0.2)
        eq(ledger.where(rid), ["bad"], "%s seen at" % method)


# ---------------------------------------------------------------------------
# 5. Per-try timeout


@test
def per_try_timeout_moves_get_on_and_answers_post_504():
    ledger = Ledger()
    slow = LedgerUpstream("slow", ledger, lambda req: Reply(action="hang"))
    fast = LedgerUpstream("fast", ledger)
    log = os.path.join(tmpdir(), "access.log")
    route = {"name": "main", "cluster": "c", "timeout": "3s",
             "retry": {"on": ["timeout"], "per_try_timeout": "300ms"}}
    cfg, port = make_config({"c": [slow, fast]}, routes=[route],
                            access_log=log)
    start_sluice(cfg)
    rid, r, dt = aimed(ledger, "slow", "GET", port, "/q", "slowget")
    eq(r.status, 200, "GET whose first attempt hung")
    eq(r.json()["upstream"], "fast", "answered by")
    # 300 ms of silence, a short backoff, the fast answer: far from 3 s
    check(0.25 <= dt < 2.0, "GET answered after %.2fs" % dt)
    eq(ledger.where(rid), ["slow", "fast"], "GET seen at")
    e = access_entry(log, rid)
    eq(e["failures"], [failure(2, "upstream_timeout", slow)], "failures")

    rid, r, dt = aimed(ledger, "slow", "POST", port, "/q", "slowpost")
    assert_error(r, 504, "upstream_timeout")
    check(0.25 <= dt < 2.0,
          "POST answered 504 after %.2fs (per-try 300ms, route 3s)" % dt)
    time.sleep(0.3)
    eq(ledger.where(rid), ["slow"], "POST seen at")


# ---------------------------------------------------------------------------
# 6. A real upstream process killed mid-request

KILLABLE = r'''
import http.server, sys, time
port, ledger = int(sys.argv[1]), sys.argv[2]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def any(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        # written down before the work starts, and flushed: a SIGKILL
        # does not lose it
        with open(ledger, "a") as f:
            f.write("%s %s %s\n" % (self.headers.get("X-Request-Id"),
                                    self.command, self.path))
            f.flush()
        if self.path.startswith("/slow"):
            time.sleep(60)
        out = b"killable"
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = any

    def log_message(self, *a):
        pass

class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

S(("127.0.0.1", port), H).serve_forever()
'''


def file_ledger(path):
    try:
        with open(path) as f:
            return [line.split()[0] for line in f.read().splitlines()
                    if line.strip()]
    except OSError:
        return []


@test
def upstream_process_killed_mid_request():
    d = tmpdir()
    flog = os.path.join(d, "killable.log")
    kport = free_port()
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(kport),
                             flog], stdin=subprocess.DEVNULL)
    try:
        check(wait_until(lambda: not connect_refused(kport, 0.3), 10.0),
              "the upstream process did not listen")
        ledger = Ledger()
        good = LedgerUpstream("good", ledger)
        # weights: both requests go to the process first (smooth weighted
        # round robin picks it 100 times out of 101)
        cfg, port = make_config({"c": [(kport, 100), (good, 1)]})
        start_sluice(cfg)
        out = {}
        rids = {"GET": new_rid("kget"), "POST": new_rid("kpost")}

        def run(method):
            try:
                out[method] = send(port, method, "/slow", rids[method],
                                   timeout=10.0)
            except Exception as e:  # noqa: B902 - reported below
                out[method] = e
        ths = [threading.Thread(target=run, args=(m,), daemon=True)
               for m in rids]
        for t in ths:
            t.start()
        check(wait_until(lambda: set(rids.values())
                         <= set(file_ledger(flog)), 5.0),
              "both requests reached the process: %r" % file_ledger(flog))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        for t in ths:
            t.join(10.0)
        g, p = out.get("GET"), out.get("POST")
        check(not isinstance(g, Exception) and g is not None,
              "GET: %r" % (g,))
        check(not isinstance(p, Exception) and p is not None,
              "POST: %r" % (p,))
        eq(g.status, 200, "GET in flight when the upstream died (%r)"
           % g.body[:200])
        eq(g.json()["upstream"], "good", "GET answered by")
        assert_error(p, 502, "upstream_reset")
        time.sleep(0.3)
        killed = file_ledger(flog)
        eq(killed.count(rids["GET"]), 1, "GET at the killed process")
        eq(ledger.count(rids["GET"]), 1, "GET at the other endpoint")
        eq(killed.count(rids["POST"]), 1, "POST at the killed process")
        eq(ledger.count(rids["POST"]), 0,
           "POST at the other endpoint: a payment is never sent twice")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


# ---------------------------------------------------------------------------
# 7. The retry budget in a total outage


@test
def retry_budget_caps_extra_load_in_total_outage():
    # Both endpoints answer 503 after 600 ms; 503 is retried, 3 attempts,
    # budget 20%. Why 100 concurrent requests, each its own connection,
    # all sent before any answer can come: the budget caps the requests
    # *in a retry at once* in a worker at max(3, 20% of the cluster's
    # active requests). With the delay every request is active when the
    # first 503s come back, so at most 20 of 100 enter a retry (wave 2);
    # those hold their places, so the others are refused (no_budget).
    # When the 20 fail again, 20% of the few still active is below the
    # floor, and only the last 3 find fewer than 3 others in a retry and
    # get a third attempt. At most 100 + 20 + 3 = 123 attempts: 1.23 per
    # request, under 1.3. With a few requests at a time instead, the floor
    # of 3 would let every one of them retry (3 attempts each): the floor
    # is for small loads, the percentage for an outage.
    ledger = Ledger()
    ups = [LedgerUpstream(n, ledger, lambda req: Reply(
        503, b"down", reason="Service Unavailable", delay=0.6))
        for n in ("a", "b")]
    aport, extra = admin_extra()
    route = {"name": "main", "cluster": "c",
             "retry": {"on": [503], "attempts": 3, "budget": "20%"}}
    cfg, port = make_config({"c": ups}, routes=[route], extra=extra)
    start_sluice(cfg)
    n, rounds = 100, 3
    sent = []
    for rnd in range(rounds):
        clients = [Client(port, timeout=10.0) for _ in range(n)]
        rids = [new_rid("budget%d" % rnd) for _ in range(n)]
        for c, rid in zip(clients, rids):
            c.send(build_request("GET", "/pay", {"X-Request-Id": rid}))
        for c, rid in zip(clients, rids):
            r = c.read_response()
            eq(r.status, 503, "status of %s (%r)" % (rid, r.body[:100]))
            c.close()
        sent += rids
        # every attempt of this round was read upstream
        time.sleep(0.1)
    attempts = sum(ledger.count(rid) for rid in sent)
    eq(ledger.total(), attempts, "attempts without a known request id")
    for rid in sent:
        check(1 <= ledger.count(rid) <= 3,
              "attempts of %s: %d" % (rid, ledger.count(rid)))
    ratio = attempts / float(len(sent))
    m = metrics(aport)
    no_budget = m['sluice_cluster_not_retried_total{cluster="c",'
                  'reason="no_budget"}']
    retries = m['sluice_cluster_retries_total{cluster="c",class="2"}']
    check(ratio <= 1.3, "%d attempts for %d requests: %.2f per request "
          "(no_budget %d, retries %d)" % (attempts, len(sent), ratio,
                                          no_budget, retries))
    check(no_budget > 0, "retries refused for the budget: %r" % no_budget)
    eq(retries, attempts - len(sent), "retries counted vs attempts seen")


# ---------------------------------------------------------------------------
# 8. Keep-Alive: timeout=1


@test
def keepalive_timeout_retires_pooled_connections_before_upstream_closes():
    # The upstream closes an idle connection exactly 1.0 s after its last
    # answer and says so (Keep-Alive: timeout=1). A request sent on the
    # pooled connection around then would race the close: a POST would
    # get 502. sluice retires the connection after 750 ms idle instead.
    ledger = Ledger()
    up = LedgerUpstream("ka", ledger, lambda req: Reply(
        200, b"ok", [("Keep-Alive", "timeout=1")]), idle_close=1.0)
    cfg, port = make_config({"c": [up]})
    start_sluice(cfg)
    c = Client(port)
    # the race is narrow (the upstream's close against sluice's send):
    # several gaps close to 1 s
    gaps = [0.7, 0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.1]
    sent = []
    eq(c.request("GET", "/warm", {"X-Request-Id": new_rid("warm")}).status,
       200, "first request")
    for rnd in range(2):
        for i, gap in enumerate(gaps):
            time.sleep(gap)
            method = ("POST", "GET")[(i + rnd) % 2]
            rid = new_rid("ka")
            r = c.request(method, "/ka", {"X-Request-Id": rid},
                          body=b"amount=1" if method == "POST" else None)
            eq(r.status, 200, "%s after %.2fs idle (%r)"
               % (method, gap, r.body[:200]))
            sent.append((method, gap, rid))
    for method, gap, rid in sent:
        eq(ledger.count(rid), 1, "%s after %.2fs seen upstream" % (method,
                                                                 gap))
    check(up.accepts > 1, "pooled connections were retired (accepts %d)"
          % up.accepts)


# ---------------------------------------------------------------------------
# 9. Active health checks


@test
def health_checks_take_endpoint_out_and_back():
    ledger = Ledger()
    a = LedgerUpstream("a", ledger)
    b = LedgerUpstream("b", ledger)
    aport, extra = admin_extra()
    hc = {"health_check": {"path": "/health", "interval": "200ms",
                           "timeout": "100ms", "unhealthy": 2,
                           "healthy": 2}}
    cfg, port = make_config({"c": [a, b]}, cluster_opts={"c": hc},
                            extra=extra)
    sl = start_sluice(cfg)
    hkey_a = ep_metric("sluice_endpoint_healthy", "c", a)
    hkey_b = ep_metric("sluice_endpoint_healthy", "c", b)
    ok_a = '%s{cluster="c",endpoint="%s",result="ok"}' % (
        "sluice_health_checks_total", a.addr)
    check(wait_until(lambda: metrics(aport).get(ok_a, 0) >= 1, 3.0),
          "health checks of a ran")
    q = a.checks[0]
    eq((q.method, q.target), ("GET", "/health"), "the check's request")
    check("close" in q.headers.tokens("connection"),
          "the check asks for Connection: close: %r" % q.headers)

    # a fails its checks: out after 2 failures (2 x 200 ms)
    a.health_status = 503
    t0 = time.monotonic()
    check(wait_until(lambda: metrics(aport)[hkey_a] == 0, 3.0),
          "a marked unhealthy within 3s")
    dt = time.monotonic() - t0
    # not at the first failure: the second check starts 200 ms after the
    # first, which may have begun up to its 100 ms timeout before the flip
    check(dt >= 0.1, "a went down after %.2fs: 2 checks 200 ms apart"
          % dt)
    eq(metrics(aport)[hkey_b], 1, "b healthy")
    down = "health: c %s is down after 2 failed checks in a row" % a.addr
    check(down in sl.stderr(), "log line %r" % down)
    e = config_endpoint(aport, "c", a.addr)
    eq(e["healthy"], False, "/config healthy of a")
    check(e["checks_failed"] >= 2, "/config checks_failed %r" % e)
    eq(e["last_check"]["status"], 503, "/config last_check %r" % e)
    eq(config_endpoint(aport, "c", b.addr)["healthy"], True, "b in /config")
    rids = [new_rid("hc") for _ in range(20)]
    for rid in rids:
        eq(send(port, "GET", "/x", rid).status, 200, "request with a down")
    eq([ledger.where(rid) for rid in rids], [["b"]] * 20,
       "all 20 requests went to b")

    # a passes again: back after 2 passed checks, and takes requests
    a.health_status = 200
    check(wait_until(lambda: metrics(aport)[hkey_a] == 1, 3.0),
          "a healthy again within 3s")
    up = "health: c %s is up after 2 passed checks in a row" % a.addr
    check(up in sl.stderr(), "log line %r" % up)
    rids = [new_rid("back") for _ in range(4)]
    for rid in rids:
        eq(send(port, "GET", "/x", rid).status, 200, "request after")
    check(any(ledger.where(rid) == ["a"] for rid in rids),
          "a took requests again: %r" % [ledger.where(r) for r in rids])

    # both down: 503 no_healthy_upstream with Retry-After, nothing sent
    a.health_status = b.health_status = 503
    check(wait_until(lambda: (metrics(aport)[hkey_a],
                              metrics(aport)[hkey_b]) == (0, 0), 3.0),
          "both unhealthy within 3s")
    rid = new_rid("none")
    r = send(port, "GET", "/x", rid)
    assert_error(r, 503, "no_healthy_upstream")
    check(r.header("retry-after"), "Retry-After on the 503: %r" % r.headers)
    eq(ledger.count(rid), 0, "request sent upstream")
    check(metrics(aport)['sluice_cluster_no_healthy_total{cluster="c"}']
          >= 1, "no_healthy counted")
    for u in (a, b):
        eq(config_endpoint(aport, "c", u.addr)["healthy"], False,
           "/config healthy of %s" % u.name)


# ---------------------------------------------------------------------------
# 10. Outlier ejection


class RawServer:
    """A listening socket whose every connection gets act(sock) in a
    thread: for health checks that fail in each way."""

    def __init__(self, act):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.act = act
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.act, args=(c,), daemon=True).start()


def _read_head(c):
    data = b""
    c.settimeout(5)
    while b"\r\n\r\n" not in data:
        try:
            x = c.recv(4096)
        except OSError:
            return data
        if not x:
            break
        data += x
    return data


@test
def health_check_failures_are_named():
    # each way a check can fail takes its endpoint out (unhealthy: 1) and
    # says why: a closed port, a malformed answer, no answer within the
    # timeout, a close before a complete head
    def garbage(c):
        _read_head(c)
        c.sendall(b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")

    def silent(c):
        _read_head(c)
        time.sleep(3)

    def closes(c):
        _read_head(c)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-")
        c.close()

    servers = {"bad": RawServer(garbage), "slow": RawServer(silent),
               "cut": RawServer(closes)}
    dead = free_port()
    hc = {"health_check": {"path": "/h", "interval": "300ms",
                           "timeout": "150ms", "unhealthy": 1}}
    clusters = {"dead": [dead]}
    clusters.update({n: ["127.0.0.1:%d" % s.port]
                     for n, s in servers.items()})
    aport, extra = admin_extra()
    cfg, port = make_config(clusters, cluster_opts={n: hc for n in clusters},
                            extra=extra)
    sl = start_sluice(cfg)
    want = {"dead": (dead, "connect_failed"),
            "bad": (servers["bad"].port, "bad_response"),
            "slow": (servers["slow"].port, "timeout"),
            "cut": (servers["cut"].port, "closed")}
    for name, (p, why) in want.items():
        line = ("health: %s 127.0.0.1:%d is down after 1 failed checks in "
                "a row (last: %s" % (name, p, why))
        check(wait_until(lambda: line in sl.stderr(), 3.0),
              "log line %r" % line)
        key = ('sluice_endpoint_healthy{cluster="%s",endpoint="127.0.0.1:%d"}'
               % (name, p))
        eq(metrics(aport)[key], 0, "%s is out" % name)
    # a cluster with every endpoint out answers 503 at once
    r = send(port, "GET", "/x", new_rid("hcdown"))
    assert_error(r, 503, "no_healthy_upstream")


@test
def outlier_ejects_failing_endpoint_then_lets_it_back():
    ledger = Ledger()
    a = LedgerUpstream("a", ledger, lambda req: Reply(500, b"broken"))
    b = LedgerUpstream("b", ledger)
    aport, extra = admin_extra()
    ol = {"outlier": {"consecutive_errors": 3, "ejection_time": "1s",
                      "max_ejected_percent": "50%"}}
    cfg, port = make_config({"c": [a, b]}, cluster_opts={"c": ol},
                            extra=extra)
    sl = start_sluice(cfg)
    # 500 is not retried (default policy): each request is one attempt
    t_third = None
    for _ in range(12):
        rid = new_rid("err")
        t = time.monotonic()
        r = send(port, "GET", "/x", rid)
        if ledger.where(rid) == ["a"]:
            eq(r.status, 500, "a's answer passed on")
            if len(ledger.by_endpoint("a")) == 3:
                t_third = t     # the ejection comes after this was sent
                break
        else:
            eq(r.status, 200, "b's answer")
    check(t_third is not None, "a got 3 requests: %r"
          % ledger.by_endpoint("a"))
    m = metrics(aport)
    eq(m[ep_metric("sluice_endpoint_ejected", "c", a)], 1, "a ejected")
    eq(m[ep_metric("sluice_endpoint_ejections_total", "c", a)], 1,
       "ejections of a")
    eq(m[ep_metric("sluice_endpoint_ejected", "c", b)], 0, "b ejected")
    e = config_endpoint(aport, "c", a.addr)
    eq((e["ejected"], e["ejections"]), (True, 1), "/config of a: %r" % e)
    check(0 < e["ejected_ms_left"] <= 1000, "ejected_ms_left %r" % e)
    line = ("outlier: cluster c endpoint %s ejected for 1000 ms after 3 "
            "errors in a row" % a.addr)
    check(line in sl.stderr(), "log line %r" % line)

    # while out, every request goes to b. Only requests answered before
    # 1 s (minus a margin) after the third error was *sent* count: the
    # ejection started later than that, so they were surely chosen while
    # a was out, however slow the machine
    during = []
    while time.monotonic() < t_third + 0.6:
        rid = new_rid("out")
        eq(send(port, "GET", "/x", rid).status, 200, "request while a out")
        if time.monotonic() < t_third + 0.95:
            during.append(rid)
        time.sleep(0.02)
    check(len(during) >= 3, "requests during the ejection: %d"
          % len(during))
    eq(sorted(set(w for rid in during for w in ledger.where(rid))), ["b"],
       "endpoints that took %d requests during the ejection"
       % len(during))

    # after ejection_time, a takes requests again
    def a_back():
        rid = new_rid("back")
        send(port, "GET", "/x", rid)
        return ledger.where(rid) == ["a"]
    check(wait_until(a_back, 5.0, 0.05), "a took requests again after 1s")
    eq(metrics(aport)[ep_metric("sluice_endpoint_ejections_total", "c",
                                a)], 1, "ejections of a")


@test
def outlier_never_ejects_every_endpoint():
    # both endpoints fail everything; max_ejected_percent 50% of 2 allows
    # one out at a time: the other keeps answering (its 500s pass on),
    # never 503 no_healthy_upstream
    ledger = Ledger()
    ups = [LedgerUpstream(n, ledger, lambda req: Reply(500, b"broken"))
           for n in ("a", "b")]
    aport, extra = admin_extra()
    ol = {"outlier": {"consecutive_errors": 3, "ejection_time": "1s",
                      "max_ejected_percent": "50%"}}
    cfg, port = make_config({"c": ups}, cluster_opts={"c": ol},
                            extra=extra)
    sl = start_sluice(cfg)
    most = 0
    for i in range(20):
        r = send(port, "GET", "/x", new_rid("both"))
        eq(r.status, 500, "request %d with both failing" % i)
        m = metrics(aport)
        out = sum(m[ep_metric("sluice_endpoint_ejected", "c", u)]
                  for u in ups)
        check(out <= 1, "%d of 2 endpoints ejected after request %d"
              % (out, i))
        most = max(most, out)
    eq(most, 1, "one endpoint was ejected")
    m = metrics(aport)
    eq(sum(m[ep_metric("sluice_endpoint_ejections_total", "c", u)]
           for u in ups), 1, "ejections in all (20 requests, well under 1s)")
    eq(sl.stderr().count("ejected for"), 1, "ejection log lines")


# ---------------------------------------------------------------------------
# 11. The route timeout is one deadline for all attempts


@test
def route_timeout_bounds_all_attempts():
    ledger = Ledger()
    ups = [LedgerUpstream(n, ledger, lambda req: Reply(action="hang"))
           for n in ("a", "b", "c")]
    log = os.path.join(tmpdir(), "access.log")
    route = {"name": "main", "cluster": "c", "timeout": "1s",
             "retry": {"attempts": 5,
                       "on": ["connect-failure", "reset", "timeout", 503],
                       "per_try_timeout": "400ms"}}
    cfg, port = make_config({"c": ups}, routes=[route], access_log=log)
    start_sluice(cfg)
    rid = new_rid("deadline")
    t0 = time.monotonic()
    r = send(port, "GET", "/slow", rid)
    dt = time.monotonic() - t0
    assert_error(r, 504, "upstream_timeout")
    # 5 attempts of 400 ms would take 2 s and more; the deadline cuts the
    # third at 1 s
    check(0.9 <= dt <= 2.5, "504 after %.2fs (route timeout 1s)" % dt)
    time.sleep(0.2)
    n = ledger.count(rid)
    check(2 <= n <= 3, "attempts within a 1 s deadline, 400 ms each: %d"
          % n)
    eq(len(set(ledger.where(rid))), n, "each attempt on another endpoint")
    e = access_entry(log, rid)
    check(e["retries"] <= 2, "retries logged: %r" % e)
    check(all(f["error"] == "upstream_timeout" for f in e["failures"]),
          "failures: %r" % e["failures"])


# ---------------------------------------------------------------------------
# 12. The default policy


@test
def default_policy_retries_get_once_and_never_post():
    # a route without retry: attempts 2, on connect-failure and reset.
    # The upstream resets the first attempt of every request id and
    # answers later ones: a wrong retry of the POST would succeed, and
    # show up twice in the ledger
    ledger = Ledger()

    def first_resets(req):
        if ledger.count(req.header("x-request-id")) == 1:
            return rst
        return None
    up = LedgerUpstream("a", ledger, first_resets)
    log = os.path.join(tmpdir(), "access.log")
    aport, extra = admin_extra()
    cfg, port = make_config({"c": [up]}, access_log=log, extra=extra)
    start_sluice(cfg)
    retry = get_config(aport)["listeners"][0]["routes"][0]["retry"]
    eq((retry["attempts"], retry["on"], retry["idempotency_key"],
        retry["budget_percent"]),
       (2, ["connect-failure", "reset"], False, 20), "default policy")

    # the very first request: a fresh upstream connection, so the pool's
    # replay of a dead idle connection does not apply
    rid = new_rid("post")
    r = send(port, "POST", "/charge", rid)
    assert_error(r, 502, "upstream_reset")
    time.sleep(0.3)
    eq(ledger.count(rid), 1, "POST seen upstream")
    eq(up.accepts, 1, "upstream connections after the POST")
    e = access_entry(log, rid)
    eq((e["retried"], e["retries"]), (False, 0), "POST retried, retries")

    # the GET's first attempt is on a fresh connection too (the reset one
    # is gone): the retry is the policy's
    rid = new_rid("get")
    r = send(port, "GET", "/item", rid)
    eq(r.status, 200, "GET after a reset (%r)" % r.body[:200])
    eq(ledger.count(rid), 2, "GET seen upstream")
    eq(up.accepts, 3, "upstream connections after the GET")
    e = access_entry(log, rid)
    eq((e["retried"], e["retries"]), (True, 1), "GET retried, retries")
    eq(e["failures"], [failure(2, "upstream_reset", up)], "GET failures")


# ---------------------------------------------------------------------------
# 13. A reload that changes how endpoints are judged


_pki = []


def pki():
    """A CA and the certificate of up.internal it signed (made once)."""
    if not have_openssl():
        raise Skip("the openssl command is not installed")
    if not _pki:
        p = Pki()
        p.ca("ca", "/O=Sluice Test/CN=Sluice Test CA")
        p.leaf("up", "/O=Example Corp/CN=up.internal", "ca",
               ["up.internal"])
        _pki.append(p)
    return _pki[0]


def tls_up(name, handler=None):
    p = pki()
    return TLSUpstream(name, tls_server_context(p["up"].cert, p["up"].key),
                       handler)


def health_by_path(path):
    """An upstream handler: health checks pass on path only (404
    elsewhere); every other request gets the default answer."""
    def handler(req):
        if req.header("user-agent") == HEALTH_UA:
            return Reply(200 if req.target == path else 404, b"",
                         close=True)
        return None
    return handler


def rewrite(sl, cfg):
    with open(sl.conf_path, "w") as f:
        f.write(to_yaml(cfg) + "\n")


def served(port):
    return get(port, "/x", timeout=3.0).status == 200


# The interval is long: an endpoint that had to wait for the next
# scheduled check, let alone for `healthy` passes in a row, would stay out
# for 10 s or more; each test waits 5 s at most for what it expects.
SLOW_HC = {"interval": "10s", "timeout": "1s", "unhealthy": 1,
           "healthy": 2}


@test
def fixed_health_path_brings_endpoint_back_at_once_after_reload():
    up = Upstream("a", health_by_path("/health"))
    aport, extra = admin_extra()
    hc = dict(SLOW_HC, path="/wrong")
    cfg, port = make_config({"c": [up]}, cluster_opts={"c": {
        "health_check": hc}}, extra=extra)
    sl = start_sluice(cfg)
    hkey = ep_metric("sluice_endpoint_healthy", "c", up)
    check(wait_until(lambda: metrics(aport).get(hkey) == 0, 5.0),
          "the endpoint failing its check (404 on /wrong) went out")
    assert_error(get(port, "/x"), 503, "no_healthy_upstream")
    # the operator fixes the path: the new check runs at once and its
    # first pass counts, not two passes 10 s apart
    hc["path"] = "/health"
    rewrite(sl, cfg)
    eq(sighup_reload(sl, aport)[0], "ok", "reload")
    check(wait_until(lambda: served(port), 5.0, 0.05),
          "requests still refused 5 s after the reload that fixed the "
          "health check's path (interval 10s, healthy 2)")
    eq(metrics(aport)[hkey], 1, "healthy after the fixed check")
    check("health: c %s: the check changed" % up.addr in sl.stderr(),
          "log line of the changed check")
    eq(config_endpoint(aport, "c", up.addr)["last_check"]["status"], 200,
       "/config last_check")


@test
def fixed_tls_sni_brings_endpoint_back_at_once_after_reload():
    # the case of the report: a wrong sni fails every check's handshake;
    # with it fixed, clients were kept on 503 until two checks passed
    up = tls_up("a")
    aport, extra = admin_extra()
    tls = {"sni": "wrong.internal", "ca": pki()["ca"].cert}
    hc = dict(SLOW_HC, path="/")
    cfg, port = make_config({"c": [up]}, cluster_opts={"c": {
        "tls": tls, "health_check": hc}}, extra=extra)
    sl = start_sluice(cfg)
    hkey = ep_metric("sluice_endpoint_healthy", "c", up)
    check(wait_until(lambda: metrics(aport).get(hkey) == 0, 5.0),
          "the endpoint whose name does not match the sni went out")
    eq(config_endpoint(aport, "c", up.addr)["last_check"]["result"], "tls",
       "/config last_check")
    assert_error(get(port, "/x"), 503, "no_healthy_upstream")
    tls["sni"] = "up.internal"
    rewrite(sl, cfg)
    eq(sighup_reload(sl, aport)[0], "ok", "reload")
    check(wait_until(lambda: served(port), 5.0, 0.05),
          "requests still refused 5 s after the reload that fixed the "
          "sni (interval 10s, healthy 2)")
    eq(get(port, "/x").json()["tls_sni"], "up.internal", "sni sent")
    eq(metrics(aport)[hkey], 1, "healthy after the fixed sni")


@test
def unchanged_health_check_keeps_state_across_reload():
    # a reload does not forget health: the endpoint went out, its checks
    # pass again but it needs 2 passes 10 s apart; a reload that changes
    # neither the check nor TLS (only the interval, the thresholds and a
    # route) keeps it out, and keeps the passes it has
    state = {"ok": False}

    def handler(req):
        if req.header("user-agent") == HEALTH_UA:
            return Reply(200 if state["ok"] else 503, b"", close=True)
        return None
    up = Upstream("a", handler)
    aport, extra = admin_extra()
    hc = dict(SLOW_HC, path="/health")
    cfg, port = make_config({"c": [up]}, cluster_opts={"c": {
        "health_check": hc}}, extra=extra)
    sl = start_sluice(cfg)
    hkey = ep_metric("sluice_endpoint_healthy", "c", up)
    check(wait_until(lambda: metrics(aport).get(hkey) == 0, 5.0),
          "the endpoint failing its check went out")
    state["ok"] = True
    hc.update(interval="9s", unhealthy=2)
    cfg["listeners"][0]["routes"][0]["timeout"] = "20s"
    rewrite(sl, cfg)
    eq(sighup_reload(sl, aport)[0], "ok", "reload")
    for _ in range(5):
        assert_error(get(port, "/x"), 503, "no_healthy_upstream")
        e = config_endpoint(aport, "c", up.addr)
        eq((e["healthy"], e["checks_ok"]), (False, 0),
           "/config of the endpoint after a reload that kept its check")
        time.sleep(0.1)
    eq(metrics(aport)[hkey], 0, "still out after the reload")
    check("the check changed" not in sl.stderr(), "no re-check logged")


@test
def fixed_tls_lifts_outlier_ejection_on_reload():
    # real traffic with a wrong sni fails its handshakes: one of the two
    # endpoints is ejected for a minute (never both). A reload that keeps
    # the TLS settings keeps the ejection; the one that fixes the sni
    # lifts it: errors earned under the old TLS say nothing of the new
    ups = [tls_up("a"), tls_up("b")]
    aport, extra = admin_extra()
    tls = {"sni": "wrong.internal", "ca": pki()["ca"].cert}
    ol = {"consecutive_errors": 2, "ejection_time": "60s",
          "max_ejected_percent": "50%"}
    cfg, port = make_config({"c": ups}, cluster_opts={"c": {
        "tls": tls, "outlier": ol}}, extra=extra)
    sl = start_sluice(cfg)

    def ejected():
        m = metrics(aport)
        return [u for u in ups
                if m[ep_metric("sluice_endpoint_ejected", "c", u)] == 1]
    for _ in range(10):
        assert_error(get(port, "/x"), 502, "upstream_tls")
        if ejected():
            break
    out = ejected()
    eq(len(out), 1, "endpoints ejected")
    out = out[0]
    cfg["listeners"][0]["routes"][0]["timeout"] = "20s"
    rewrite(sl, cfg)
    eq(sighup_reload(sl, aport)[0], "ok", "reload keeping TLS")
    eq([u.name for u in ejected()], [out.name],
       "ejected after a reload that kept the TLS settings")
    tls["sni"] = "up.internal"
    rewrite(sl, cfg)
    eq(sighup_reload(sl, aport)[0], "ok", "reload fixing the sni")
    eq(ejected(), [], "ejected after the reload that fixed the sni")
    eq(config_endpoint(aport, "c", out.addr)["ejected"], False,
       "/config ejected")
    line = ("outlier: cluster c endpoint %s: TLS settings changed, "
            "ejection lifted" % out.addr)
    check(line in sl.stderr(), "log line %r" % line)
    n0 = len(out.requests)
    check(wait_until(lambda: served(port) and len(out.requests) > n0, 5.0,
                     0.05),
          "the endpoint ejected under the wrong sni took no request after "
          "the reload that fixed it")


if __name__ == "__main__":
    main()
