#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The helper of contrib/chaos.sh: an upstream that keeps a ledger, and the
driver that loads sluice while it SIGKILLs and restarts those upstreams.

usage: contrib/chaos.py upstream PORT LEDGER
       contrib/chaos.py run --work DIR --gateway PORT --admin PORT
                            --ports P1,P2,P3 [--duration S] [--clients N]
                            [--interval S] [--label TEXT]

upstream: an HTTP/1.1 keep-alive server on 127.0.0.1:PORT (threaded,
  Content-Length bodies). For every request but GET /health it appends
  "start ID METHOD TIME" to LEDGER once the request is read whole, then
  waits 0-20 ms, answers 200 in one write, and appends "done ID TIME". ID
  is the request's X-Request-Id (sluice forwards the client's). The
  lines are written with write(2) on an O_APPEND descriptor, so a SIGKILL
  loses none that was written. Exits when its parent goes.

run: starts the three upstreams (one ledger per upstream per life,
  DIR/ledger-uN-G.log) and says so (DIR/upstreams.ready); once chaos.sh
  has started sluice (DIR/sluice.ready), checks that sluice on --gateway
  reaches all three; then for --duration seconds runs --clients
  keep-alive clients (GET /item/N and POST /pay, half each, every request
  with its own X-Request-Id) while every --interval seconds one upstream,
  in turn, is SIGKILLed and started again 0.5-1 s later on the same port.
  Then it
  reads the ledgers, the clients' records and sluice's /metrics on
  --admin, prints the table and the verdict, and exits 0 (PASS), 1 (FAIL)
  or 2 (setup error). Writes DIR/requests.tsv and DIR/kills.tsv.

In flight on a killed upstream: a request whose "start" line that life
of the upstream wrote, and whose "done" line it did not (read whole, not
answered when the SIGKILL came). A request sluice wrote but the upstream
had not read yet is in no ledger: such an error is counted apart.

Python 3 standard library only; 127.0.0.1 only.
"""

import argparse
import collections
import http.client
import json
import os
import random
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_DELAY = 0.020       # upstream answer delay, s (uniform from 0)
CLIENT_TIMEOUT = 8.0    # client socket timeout, s (route timeout is 5 s)
PAUSE = (0.5, 1.0)      # dead time of a killed upstream, s
READY_TIMEOUT = 5.0     # an upstream must answer /health within, s


def log(msg):
    sys.stderr.write("%s chaos: %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---- upstream -------------------------------------------------------------

class Ledger:
    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line):
        os.write(self.fd, line.encode("ascii", "replace"))


class UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "chaos-upstream/1"
    timeout = 300               # idle keep-alive: longer than any run

    def log_message(self, *args):
        pass

    def _serve(self):
        srv = self.server
        te = self.headers.get("Transfer-Encoding")
        if te:
            self._answer(400, b'{"error":"no chunked bodies here"}\n', True)
            return
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._answer(400, b'{"error":"bad content-length"}\n', True)
            return
        body = self.rfile.read(n) if n > 0 else b""
        if len(body) != n:
            self.close_connection = True
            return
        if self.path == "/health":
            self._answer(200, b"ok\n")
            return
        rid = self.headers.get("X-Request-Id") or "-"
        srv.ledger.write("start %s %s %.6f\n" % (rid, self.command,
                                                   time.time()))
        time.sleep(srv.rng.uniform(0, MAX_DELAY))
        out = json.dumps({"id": rid, "method": self.command,
                          "port": srv.port, "bytes": n}).encode() + b"\n"
        self._answer(200, out)
        srv.ledger.write("done %s %.6f\n" % (rid, time.time()))

    def _answer(self, status, body, close=False):
        if close:
            self.close_connection = True
        head = ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nX-Upstream: %d\r\n%s\r\n" %
                (status, "OK" if status == 200 else "Bad Request", len(body),
                 self.server.port,
                 "Connection: close\r\n" if self.close_connection else ""))
        self.wfile.write(head.encode() + body)   # one write: all or nothing

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def server_bind(self):
        # no getfqdn(): a slow resolver must not delay a restart
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]


def main_upstream(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    port, ledger = int(argv[0]), argv[1]
    parent = os.getppid()

    def orphan_watch():
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.2)

    threading.Thread(target=orphan_watch, daemon=True).start()
    srv = UpstreamServer(("127.0.0.1", port), UpstreamHandler)
    srv.port = port
    srv.ledger = Ledger(ledger)
    srv.rng = random.Random()
    srv.serve_forever(poll_interval=0.2)
    return 0


# ---- driver: upstream processes -------------------------------------------

class Upstream:
    def __init__(self, idx, port, work, pidfile):
        self.idx, self.port, self.work, self.pidfile = idx, port, work, pidfile
        self.gen = 0
        self.proc = None
        self.ledger = None

    def start(self):
        self.gen += 1
        self.ledger = os.path.join(self.work, "ledger-u%d-%d.log" %
                                   (self.idx, self.gen))
        err = open(os.path.join(self.work, "upstream-u%d.err" % self.idx),
                   "ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "upstream",
                 str(self.port), self.ledger],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, close_fds=True)
        finally:
            err.close()
        with open(self.pidfile, "a") as f:
            f.write("%d\n" % self.proc.pid)

    def ready(self, timeout=READY_TIMEOUT):
        """Until it answers GET /health 200; False if it died or timed out."""
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=1)
                c.request("GET", "/health")
                ok = c.getresponse().status == 200
                c.close()
                if ok:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.02)
        return False

    def kill(self):
        """SIGKILL; returns the time of the kill and the time its death
        was seen (reaped: every socket of it closed by then)."""
        t = time.time()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return t, time.time()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---- driver: load ---------------------------------------------------------

Rec = collections.namedtuple("Rec", "rid method status err start end")


def client_loop(tid, a, tag, stop, out, seed):
    rng = random.Random(seed)
    conn = None
    seq = 0
    while not stop.is_set():
        seq += 1
        post = rng.random() < 0.5
        method = "POST" if post else "GET"
        rid = "%s-%s%02d-%06d" % (tag, "p" if post else "g", tid, seq)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", a.gateway,
                                              timeout=CLIENT_TIMEOUT)
        status, err = 0, ""
        start = time.time()
        try:
            if post:
                body = json.dumps({"payment": rid, "amount_cents":
                                   rng.randint(100, 99999),
                                   "currency": "EUR"}).encode()
                conn.request("POST", "/pay", body=body, headers={
                    "X-Request-Id": rid,
                    "Content-Type": "application/json"})
            else:
                conn.request("GET", "/item/%d" % seq,
                             headers={"X-Request-Id": rid})
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
            if status >= 400:
                try:
                    err = json.loads(data).get("error", "?")
                except ValueError:
                    err = "?"
            if resp.will_close:
                conn.close()
                conn = None
        except socket.timeout:
            err = "timeout"
        except http.client.RemoteDisconnected:
            err = "closed"
        except ConnectionResetError:
            err = "reset"
        except (OSError, http.client.HTTPException) as e:
            err = "conn:" + type(e).__name__
        end = time.time()
        if status == 0 and conn is not None:
            conn.close()
            conn = None
        out.append(Rec(rid, method, status, err, start, end))
    if conn is not None:
        conn.close()


def gateway_get(port, rid, timeout=2):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/item/0", headers={"X-Request-Id": rid})
        r = c.getresponse()
        r.read()
        return r.status, r.getheader("X-Upstream")
    finally:
        c.close()


def metrics(admin):
    m = {}
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            "http://127.0.0.1:%d/metrics" % admin, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if not line or line.startswith("#"):
                continue
            k, _, v = line.rpartition(" ")
            try:
                m[k] = float(v)
            except ValueError:
                pass
    return m


# ---- driver: analysis -----------------------------------------------------

def read_ledger(path):
    """-> ({id: (method, t)}, {id: t}) of one life of one upstream"""
    starts, dones = {}, {}
    try:
        f = open(path)
    except OSError:
        return starts, dones
    with f:
        for line in f:
            p = line.split()
            if len(p) == 4 and p[0] == "start":
                starts[p[1]] = (p[2], float(p[3]))
            elif len(p) == 3 and p[0] == "done":
                dones[p[1]] = float(p[2])
    return starts, dones


def run(a):
    work = a.work
    pidfile = os.path.join(work, "upstream.pids")
    ports = [int(p) for p in a.ports.split(",")]
    ups = [Upstream(i + 1, p, work, pidfile) for i, p in enumerate(ports)]
    stop = threading.Event()
    threads = []
    try:
        return _run(a, work, ups, stop, threads)
    finally:
        stop.set()
        for u in ups:
            u.stop()


def _run(a, work, ups, stop, threads):
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tag = "%05x" % rng.randrange(1 << 20)

    # -- upstreams up, sluice reaching all three
    for u in ups:
        u.start()
    for u in ups:
        if not u.ready():
            log("upstream %d (port %d) did not start" % (u.idx, u.port))
            return 2
    # chaos.sh starts sluice once the upstreams answer (so that its first
    # health checks pass), and says so in sluice.ready
    open(os.path.join(work, "upstreams.ready"), "w").close()
    end = time.time() + 15
    while not os.path.exists(os.path.join(work, "sluice.ready")):
        if time.time() > end:
            log("sluice was not started within 15 s")
            return 2
        time.sleep(0.02)
    seen = set()
    end = time.time() + 10
    n = 0
    while time.time() < end and len(seen) < len(ups):
        n += 1
        try:
            st, who = gateway_get(a.gateway, "warm-%s-%d" % (tag, n))
            if st == 200 and who:
                seen.add(who)
        except (OSError, http.client.HTTPException):
            pass
        if len(seen) < len(ups):
            time.sleep(0.05)
    if len(seen) < len(ups):
        log("sluice on %d reached only upstreams %s" %
            (a.gateway, sorted(seen) or "none"))
        return 2
    try:
        m0 = metrics(a.admin)
    except (OSError, ValueError) as e:
        log("no /metrics on admin port %d: %s" % (a.admin, e))
        return 2

    # -- load and chaos
    results = []
    for i in range(a.clients):
        t = threading.Thread(target=client_loop, daemon=True,
                             args=(i, a, tag, stop, results,
                                   rng.randrange(1 << 30)))
        threads.append(t)
    t0 = time.time()
    t_end = t0 + a.duration
    for t in threads:
        t.start()
    log("load: %d clients for %d s; a SIGKILL every %g s (seed %d)" %
        (a.clients, a.duration, a.interval, seed))
    kills = []  # (n, upstream, gen, ledger, t_kill, t_dead, t_back, t_ready)
    k = 0
    next_kill = t0 + a.interval
    while True:
        pause = rng.uniform(*PAUSE)
        # the upstream must be back (and ready) before the load stops
        if next_kill + pause + 1.0 > t_end:
            break
        time.sleep(max(0.0, next_kill - time.time()))
        u = ups[k % len(ups)]
        gen, ledger = u.gen, u.ledger
        tk, td = u.kill()
        time.sleep(pause)
        tb = time.time()
        u.start()
        ok = u.ready()
        tr = time.time()
        if not ok:
            log("upstream %d (port %d) did not come back" % (u.idx, u.port))
            stop.set()
            return 2
        kills.append((k + 1, u.idx, gen, ledger, tk, td, tb, tr))
        log("kill %d: upstream %d (port %d) at +%.3f s, dead %.1f ms later,"
            " started again %.2f s later, ready after %.0f ms more" %
            (k + 1, u.idx, u.port, tk - t0, (td - tk) * 1000, tb - tk,
             (tr - tb) * 1000))
        k += 1
        next_kill += a.interval
    time.sleep(max(0.0, t_end - time.time()))
    stop.set()
    t_stop = time.time()
    for t in threads:
        t.join(max(0.1, t_stop + CLIENT_TIMEOUT + 2 - time.time()))
    hung = sum(t.is_alive() for t in threads)
    if hung:
        log("%d clients still waiting for an answer" % hung)
    time.sleep(0.2)     # the last "done" lines
    try:
        m1 = metrics(a.admin)
    except (OSError, ValueError) as e:
        log("no /metrics after the run: %s" % e)
        m1 = None
    recs = list(results)
    return report(a, work, ups, kills, recs, m0, m1, t0, hung, seed)


def report(a, work, ups, kills, recs, m0, m1, t0, hung, seed):
    # ledgers: every life of every upstream
    lives = {}
    for u in ups:
        for g in range(1, u.gen + 1):
            lives[(u.idx, g)] = read_ledger(
                os.path.join(work, "ledger-u%d-%d.log" % (u.idx, g)))
    seen = collections.Counter()          # id -> times an upstream read it
    where = collections.defaultdict(list)
    for (ui, g), (starts, dones) in sorted(lives.items()):
        for rid in starts:
            if rid.startswith("warm-"):
                continue
            seen[rid] += 1
            where[rid].append("u%d/%d%s" % (ui, g, "" if rid in dones
                                            else "(no answer)"))

    # in flight at each kill: read whole by the killed life, not answered
    inflight = {}                         # id -> method
    kill_rows = []
    for (n, ui, g, ledger, tk, td, tb, tr) in kills:
        starts, dones = lives[(ui, g)]
        fl = [r for r in starts if r not in dones and not
              r.startswith("warm-")]
        ng = sum(starts[r][0] == "GET" for r in fl)
        kill_rows.append((n, ui, tk - t0, tb - tk, ng, len(fl) - ng))
        for r in fl:
            inflight[r] = starts[r][0]
    kill_times = [k[4] for k in kills]
    kill_spans = [(k[4], k[5]) for k in kills]     # SIGKILL .. reaped

    by = {"GET": [], "POST": []}
    for r in recs:
        by[r.method].append(r)

    def count(pred, method=None):
        if method:
            return sum(1 for r in by[method] if pred(r))
        return sum(1 for r in recs if pred(r))

    def is_err(r):
        return r.status == 0 or r.status >= 500

    rows = []

    def row(label, pred):
        g, p = count(pred, "GET"), count(pred, "POST")
        rows.append((label, g, p, g + p))
        return g, p

    row("requests sent", lambda r: True)
    row("answered 2xx", lambda r: 200 <= r.status < 300)
    row("502 upstream_reset", lambda r: r.status == 502 and
        r.err == "upstream_reset")
    other502 = sorted(set(r.err for r in recs if r.status == 502 and
                          r.err != "upstream_reset"))
    row("502 other%s" % (" (" + ", ".join(other502) + ")" if other502
                         else ""),
        lambda r: r.status == 502 and r.err != "upstream_reset")
    row("503", lambda r: r.status == 503)
    row("504", lambda r: r.status == 504)
    oth = sorted(set(str(r.status) for r in recs
                     if r.status and not (200 <= r.status < 300) and
                     r.status not in (502, 503, 504)))
    if oth:
        row("other status (%s)" % ", ".join(oth), lambda r: r.status and
            not (200 <= r.status < 300) and r.status not in (502, 503, 504))
    ckinds = collections.Counter(r.err for r in recs if r.status == 0)
    row("connection errors (%s)" % (", ".join(
        "%s %d" % kv for kv in sorted(ckinds.items())) or
        "reset/closed/timeout"), lambda r: r.status == 0)
    eg, ep = row("client-visible errors", is_err)
    errors = eg + ep

    # every error, by how a kill explains it
    killed_done = set()
    for (n, ui, g, ledger, tk, td, tb, tr) in kills:
        killed_done.update(lives[(ui, g)][1])

    def overlaps_kill(r):
        """sent before the upstream was gone, not answered before the
        SIGKILL"""
        return any(r.start <= td and r.end >= tk for tk, td in kill_spans)

    def on_inflight(r):
        return is_err(r) and r.rid in inflight

    def on_unread(r):
        return (is_err(r) and r.status == 502 and r.err == "upstream_reset"
                and r.rid not in seen and overlaps_kill(r))

    def on_lost(r):
        return (is_err(r) and r.rid not in inflight and r.rid in killed_done
                and overlaps_kill(r))

    row("  on requests in flight on the killed upstream", on_inflight)
    row("  on requests sent into it as it died (never read)", on_unread)
    row("  on requests it answered as it died (answer lost)", on_lost)
    unexplained = [r for r in recs if is_err(r) and not (
        on_inflight(r) or on_unread(r) or on_lost(r))]
    ug = sum(r.method == "GET" for r in unexplained)
    rows.append(("  other: not in flight at any kill", ug,
                 len(unexplained) - ug, len(unexplained)))

    fg = sum(1 for m in inflight.values() if m == "GET")
    fp = len(inflight) - fg
    rows.append(("in flight on a killed upstream (read, not answered)", fg,
                 fp, fg + fp))

    sent = {r.rid: r.method for r in recs}
    dup_get = [r for r, c in seen.items() if c > 1 and sent.get(r) == "GET"]
    dup_post = [r for r, c in seen.items() if c > 1 and
                sent.get(r) == "POST"]
    rows.append(("duplicates: read by the upstreams more than once",
                 len(dup_get), len(dup_post), len(dup_get) + len(dup_post)))
    ghost = [r for r in recs if 200 <= r.status < 300 and r.rid not in seen]
    gg = sum(r.method == "GET" for r in ghost)
    rows.append(("2xx no upstream logged (accounting check: 0)", gg,
                 len(ghost) - gg, len(ghost)))

    # sluice's counters over the run
    mrows = []
    if m1 is not None:
        def d(key):
            return int(m1.get(key, 0) - m0.get(key, 0))

        def dsum(prefix):
            return int(sum(v for k, v in m1.items() if k.startswith(prefix))
                       - sum(v for k, v in m0.items()
                             if k.startswith(prefix)))
        mrows.append(("sluice_upstream_retries_total",
                      d("sluice_upstream_retries_total")))
        for cls in (1, 2):
            mrows.append(('sluice_cluster_retries_total{class="%d"}' % cls,
                          d('sluice_cluster_retries_total{cluster="up",'
                            'class="%d"}' % cls)))
        nr = []
        for k in sorted(m1):
            if k.startswith('sluice_cluster_not_retried_total{cluster="up"'):
                v = d(k)
                if v:
                    nr.append("%s %d" % (k.split('reason="')[1].rstrip('"}'),
                                         v))
        mrows.append(("sluice_cluster_not_retried_total",
                      ", ".join(nr) if nr else "0"))
        mrows.append(("sluice_upstream_failures_total",
                      d("sluice_upstream_failures_total")))
        mrows.append(("sluice_endpoint_ejections_total (3 endpoints)",
                      dsum("sluice_endpoint_ejections_total{")))
        mrows.append(("sluice_cluster_no_healthy_total",
                      d('sluice_cluster_no_healthy_total{cluster="up"}')))

    # ---- print
    variant = ("plain: no health_check, no outlier" if a.plain else
               "health_check 500ms/200ms + outlier 3 errors/2s")
    dur = max([r.end for r in recs] + [t0]) - t0
    print()
    print("sluice chaos (%s): %d s, %d clients, GET and POST /pay half each,"
          " 3 upstreams, %d SIGKILLs (one every %g s, back after 0.5-1 s);"
          " retry: defaults (attempts 2, on [connect-failure, reset]);"
          " %.0f req/s; seed %d" %
          (variant, a.duration, a.clients, len(kills), a.interval,
           len(recs) / dur if dur > 0 else 0, seed))
    print()
    w = max(len(r[0]) for r in rows + [(x[0],) for x in mrows])
    print("| %-*s | %6s | %6s | %6s |" % (w, "", "GET", "POST", "all"))
    print("|%s|%s:|%s:|%s:|" % ("-" * (w + 2), "-" * 7, "-" * 7, "-" * 7))
    for label, g, p, t in rows:
        print("| %-*s | %6s | %6s | %6s |" % (w, label, g, p, t))
    for label, v in mrows:
        print("| %-*s | %6s | %6s | %6s |" % (w, label, "", "", v))
    print()
    print("kills (upstream, at, back after, in flight GET/POST): " +
          "; ".join("u%d +%.1fs %.2fs %d/%d" % (ui, at, back, ng, np_)
                    for (n, ui, at, back, ng, np_) in kill_rows))

    # details of what needs a look
    def show(title, lst):
        if not lst:
            return
        print("%s (%d; first 10):" % (title, len(lst)))
        for r in lst[:10]:
            near = ""
            if kills:
                k = min(kills, key=lambda k: abs(k[4] - r.start))
                near = ("; sent %+.1f ms after the SIGKILL of u%d, which "
                        "was reaped %.1f ms after it" %
                        ((r.start - k[4]) * 1000, k[1], (k[5] - k[4]) * 1000))
            print("  %s %s %s %s at +%.3fs, took %.1f ms%s; upstreams that "
                  "read it: %s"
                  % (r.rid, r.method, r.status or "-", r.err or "",
                     r.start - t0, (r.end - r.start) * 1000, near,
                     ", ".join(where.get(r.rid, [])) or "none"))
    recmap = {r.rid: r for r in recs}
    show("POST read twice by the upstreams",
         [recmap[r] for r in dup_post if r in recmap])
    show("errors on requests not in flight at any kill", unexplained)
    show("2xx that no upstream logged", ghost)

    fails = []
    if dup_post:
        fails.append("%d POST duplicates (target 0)" % len(dup_post))
    total_inflight = len(inflight)
    if errors > total_inflight:
        fails.append("%d client-visible errors > %d in flight on killed "
                     "upstreams" % (errors, total_inflight))
    if ghost:
        fails.append("%d answers not in any ledger (accounting)" %
                     len(ghost))
    if hung:
        fails.append("%d clients hung" % hung)
    if not kills:
        fails.append("no kill happened (--duration too short?)")
    verdict = "FAIL" if fails else "PASS"
    print("verdict: %s (POST duplicates %d, target 0; client-visible errors "
          "%d <= %d in flight on killed upstreams%s)%s" %
          (verdict, len(dup_post), errors, total_inflight,
           "; %d errors on requests not in flight at any kill" %
           len(unexplained)
           if unexplained else "",
           ": " + "; ".join(fails) if fails else ""))
    sys.stdout.flush()

    with open(os.path.join(work, "requests.tsv"), "w") as f:
        f.write("id\tmethod\tstatus\terror\tstart\tend\tupstreams\n")
        for r in recs:
            f.write("%s\t%s\t%d\t%s\t%.6f\t%.6f\t%s\n" %
                    (r.rid, r.method, r.status, r.err or "-", r.start,
                     r.end, ",".join(where.get(r.rid, [])) or "-"))
    with open(os.path.join(work, "kills.tsv"), "w") as f:
        f.write("n\tupstream\tport\tkill\tdead\tback\tready\tinflight_get\t"
                "inflight_post\n")
        for (n, ui, g, ledger, tk, td, tb, tr), kr in zip(kills, kill_rows):
            f.write("%d\t%d\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%d\t%d\n" %
                    (n, ui, ups[ui - 1].port, tk, td, tb, tr, kr[4],
                     kr[5]))
    return 1 if fails else 0


def main(argv):
    if argv and argv[0] == "upstream":
        return main_upstream(argv[1:])
    if not argv or argv[0] != "run":
        sys.stdout.write(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    p = argparse.ArgumentParser(prog="chaos.py run")
    p.add_argument("--work", required=True)
    p.add_argument("--gateway", type=int, required=True)
    p.add_argument("--admin", type=int, required=True)
    p.add_argument("--ports", required=True)
    p.add_argument("--duration", type=int, default=30)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--interval", type=float, default=3.0)
    p.add_argument("--plain", action="store_true")
    p.add_argument("--seed", type=int)
    a = p.parse_args(argv[1:])

    def on_term(signum, frame):
        raise SystemExit(130)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    return run(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
