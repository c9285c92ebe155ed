#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Chaos for the Idempotency-Key store in Redis (a route's idempotency:
with store: redis): payments with random client-side cuts and retries
through two gateways sharing one redis-server, which is killed and
started again once during the run; then the upstream's ledger says
whether each payment was executed at most once, and whether every client
that got a final answer got the payment the upstream made for its key.

Usage: idem_chaos.py [--sluice PATH] [--payments N] [--clients N]
                     [--cut-rate P] [--budget N] [--restart-at F]
                     [--outage S] [--persist none|aof] [--workers N]
                     [--store-timeout D] [--seed N] [--work DIR] [--keep]
                     [--debug]

Starts, on 127.0.0.1 and free ports: a redis-server (--persist aof, the
default and what doc/operations.md asks of the store: an append-only
file fsynced at every write, in the work directory; none: nothing on
disk, as a cache, which loses the kept answers at the restart), the ledger upstream, and two sluice
gateways of --workers workers with one route (store: redis, required:
true, fail: closed, timeout 5s, ttl 1h) to it, one key_file for both.

The ledger upstream (threaded, HTTP/1.1 keep-alive) executes every
POST it receives: the payment takes the next number and is written to
the ledger under the request's Idempotency-Key; it answers 201 with the
number and the key after a random 0-50 ms.

--payments payments (each its own key and body) are made by --clients
client threads. A payment's tries alternate between the gateways (the
first one random), each on a new connection; with probability
--cut-rate a try is cut by its client: closed (FIN) or reset (RST)
0-60 ms after the request is sent, or once the answer's first bytes are
in. A 409, a 503, a cut or a connection error is retried after a backoff
(10 ms doubling to 500 ms, jittered); any other answer is final. A
payment without one after --budget tries is given up. Once --restart-at
of the payments are finished, redis-server is killed (SIGKILL) and
started again --outage seconds later on the same port.

Prints the counts (tries, cuts by kind, 409s, 503s, replays, final
statuses, give-ups), the gateways' idempotency counters, and the
verdict: at-most-once (no key executed twice by the upstream), and one
answer (every final 201 names the payment the upstream made for its
key). For every key that breaks either, prints its story: its tries
(gateway, X-Request-Id, cut, status), its executions in the ledger, the
Redis restart's times, and the gateways' log lines and access-log
entries of its requests (--debug: sluice logs at debug). Exits 0 only
when both hold and both gateways exit 0 without a sanitizer report, 1
otherwise, 2 on a setup error. The work directory (configurations,
logs, ledger.tsv, tries.tsv) is removed unless --keep or a check fails.

With --persist none a payment is executed twice when its answer was
kept and the restart lost it: the run shows what a Redis without
persistence costs. An answer that comes while Redis is down is sent
again until the store takes it (or its lease ends: "the store ... did
not take it before the lease's end"), so that with --persist aof the
run holds. --restart-at 2 runs without the restart.

Python 3 standard library only.
"""

import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UP_DELAY = 0.050          # the upstream's answer delay, s (uniform from 0)
CUT_WAIT = 0.060          # a cut after sending comes within, s
CLIENT_TIMEOUT = 15.0     # a try's socket timeout (route timeout: 5 s)
BACKOFF_MIN, BACKOFF_MAX = 0.010, 0.500
CUTS = ("close-after-send", "reset-after-send", "close-mid-response",
        "reset-mid-response")


def log(msg):
    sys.stderr.write("%s idem_chaos: %s\n" % (time.strftime("%H:%M:%S"),
                                              msg))
    sys.stderr.flush()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


# ---- the ledger upstream ----------------------------------------------------

class LedgerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "idem-chaos-ledger/1"
    timeout = 300

    def log_message(self, *args):
        pass

    def do_POST(self):
        srv = self.server
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        if len(body) != n:
            self.close_connection = True
            return
        key = self.headers.get("Idempotency-Key") or ""
        rid = self.headers.get("X-Request-Id") or "-"
        with srv.lock:
            srv.executed += 1
            num = srv.executed
            srv.ledger[key].append((num, time.time(), rid))
            srv.out.write("%d\t%.6f\t%s\t%s\n" % (num, time.time(), key, rid))
        time.sleep(random.uniform(0, UP_DELAY))
        out = json.dumps({"payment": num, "key": key}).encode()
        self.wfile.write(b"HTTP/1.1 201 Created\r\nContent-Type: "
                         b"application/json\r\nLocation: /payments/%d\r\n"
                         b"Content-Length: %d\r\n\r\n" % (num, len(out)) +
                         out)

    def do_GET(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")


class LedgerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, path):
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), LedgerHandler)
        self.lock = threading.Lock()
        self.executed = 0
        self.ledger = collections.defaultdict(list)
        self.out = open(path, "w", buffering=1)

    def server_bind(self):
        # no getfqdn()
        import socketserver
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]


# ---- redis-server -----------------------------------------------------------

class Redis:
    def __init__(self, work, persist):
        self.exe = shutil.which("redis-server")
        if self.exe is None:
            raise SystemExit("redis-server is not installed (contrib/deps.sh)")
        self.port = free_port()
        self.dir = os.path.join(work, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.persist = persist
        self.proc = None
        self.lives = 0

    def start(self):
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--dir", self.dir, "--daemonize", "no"]
        if self.persist == "aof":
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.lives += 1
        out = open(os.path.join(self.dir, "redis-%d.log" % self.lives), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT)
        out.close()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.ping():
                return
            time.sleep(0.02)
        raise SystemExit("redis-server did not start")

    def ping(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), 0.5)
        except OSError:
            return False
        try:
            s.settimeout(1.0)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False
        finally:
            s.close()

    def dbsize(self):
        s = socket.create_connection(("127.0.0.1", self.port), 1.0)
        try:
            s.settimeout(2.0)
            s.sendall(b"DBSIZE\r\n")
            return int(s.recv(64).strip()[1:])
        finally:
            s.close()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# ---- the gateways -----------------------------------------------------------

CONF = """workers: %(workers)d
drain_timeout: 5s
log: { level: %(level)s, access: "%(access)s", access_format: json }
admin: { address: "127.0.0.1:%(aport)d" }
rate_limit_store: { address: "127.0.0.1:%(rport)d", timeout: %(tmo)s }
idempotency: { key_file: "%(key)s" }
listeners:
  - name: main
    address: "127.0.0.1:%(port)d"
    routes:
      - name: pay
        match: { path_prefix: / }
        cluster: ledger
        timeout: 5s
        idempotency: { store: redis, required: true, fail: closed, ttl: 1h }
clusters:
  - name: ledger
    endpoints: [ "127.0.0.1:%(up)d" ]
"""


class Gateway:
    def __init__(self, name, sluice, work, **kw):
        self.name = name
        self.port, self.aport = free_port(), free_port()
        self.stderr_path = os.path.join(work, "sluice-%s.log" % name)
        self.access = os.path.join(work, "access-%s.log" % name)
        conf = os.path.join(work, "sluice-%s.yaml" % name)
        with open(conf, "w") as f:
            f.write(CONF % dict(kw, port=self.port, aport=self.aport,
                                access=self.access))
        err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sluice, "-c", conf],
                                     stdin=subprocess.DEVNULL, stdout=err,
                                     stderr=subprocess.STDOUT)
        err.close()
        if not (wait_port(self.port) and wait_port(self.aport)):
            raise SystemExit("sluice %s did not start: see %s"
                             % (name, self.stderr_path))

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                    % self.aport, timeout=5) as r:
            text = r.read().decode()
        out = collections.Counter()
        for line in text.splitlines():
            m = re.match(r"^(sluice_idempotency_\w+|sluice_rate_limit_store_"
                         r"(?!seconds)\w+)(\{[^}]*\})? (\S+)$", line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            k = m.group(1)
            for lab in ("outcome", "reason", "result"):
                if lab in labels:
                    k += "{%s}" % labels[lab]
            out[k] += float(m.group(3))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


# ---- the clients ------------------------------------------------------------

def cut(s, reset):
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    s.close()


def read_response(s):
    """(status, {lower-case name: value}, body) of one response."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before the head (%d bytes)"
                                  % len(buf))
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hs = {}
    for line in lines[1:]:
        n, _, v = line.partition(":")
        hs[n.strip().lower()] = v.strip()
    cl = int(hs.get("content-length", "0"))
    while len(rest) < cl:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed within the body")
        rest += d
    return status, hs, rest[:cl]


def one_try(port, key, body, rid, how):
    """One try on a new connection. Returns (kind, status, headers, body):
    kind "answer", "cut" (status: what was seen, or None) or "error"."""
    try:
        s = socket.create_connection(("127.0.0.1", port), CLIENT_TIMEOUT)
    except OSError as e:
        return "error", None, {}, repr(e)
    try:
        s.settimeout(CLIENT_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"POST /payments HTTP/1.1\r\nHost: bank.test\r\n"
                  b"Idempotency-Key: %s\r\nX-Request-Id: %s\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % (key.encode(), rid.encode(),
                                                   len(body)) + body)
        if how in ("close-after-send", "reset-after-send"):
            time.sleep(random.uniform(0, CUT_WAIT))
            cut(s, how.startswith("reset"))
            return "cut", None, {}, b""
        if how in ("close-mid-response", "reset-mid-response"):
            first = s.recv(16)
            cut(s, how.startswith("reset"))
            st = int(first[9:12]) if first[:5] == b"HTTP/" and \
                len(first) >= 12 else None
            return "cut", st, {}, first
        st, hs, b = read_response(s)
        return "answer", st, hs, b
    except (OSError, ValueError) as e:
        return "error", None, {}, repr(e)
    finally:
        try:
            s.close()
        except OSError:
            pass


class Run:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.finals = {}            # key -> (status, payment, replayed, tries)
        self.tries = collections.defaultdict(list)
        self.gave_up = []
        self.bad_final = []         # a final answer that is not a receipt
        self.done = 0
        self.t0 = time.monotonic()

    def payment(self, i, gws, rng):
        a = self.a
        key = "chaos-%s-%06d" % (a.run_id, i)
        body = json.dumps({"amount": "%d.%02d" % (rng.randrange(1, 5000),
                                                 rng.randrange(100)),
                           "to": "DE%020d" % rng.randrange(10 ** 20),
                           "ref": key}).encode()
        first = rng.randrange(2)
        for t in range(a.budget):
            gw = gws[(first + t) % 2]
            how = rng.choice(CUTS) if rng.random() < a.cut_rate else None
            rid = "%s-t%02d" % (key, t)
            kind, st, hs, b = one_try(gw.port, key, body, rid, how)
            rec = (time.time(), gw.name, rid, how or "-", kind,
                   st if st is not None else "-",
                   hs.get("idempotent-replayed", "-"))
            with self.lock:
                self.tries[key].append(rec)
                self.counts["tries"] += 1
                if kind == "cut":
                    self.counts["cut " + how] += 1
                elif kind == "error":
                    self.counts["connection errors"] += 1
                else:
                    self.counts["status %d" % st] += 1
                    if hs.get("idempotent-replayed") == "true":
                        self.counts["replays read whole"] += 1
                if kind == "cut" and st is not None:
                    self.counts["cut after a %d's first bytes" % st] += 1
            if kind == "answer" and st not in (409, 503):
                num = None
                try:
                    j = json.loads(b)
                    num = j["payment"] if j.get("key") == key else None
                except (ValueError, KeyError, TypeError, AttributeError):
                    pass
                with self.lock:
                    self.finals[key] = (st, num,
                                        hs.get("idempotent-replayed") ==
                                        "true", t + 1)
                    if st != 201 or num is None:
                        self.bad_final.append((key, st, b[:200]))
                    self.done += 1
                return
            time.sleep(min(BACKOFF_MAX, BACKOFF_MIN * 2 ** t) *
                       rng.uniform(0.5, 1.5))
        with self.lock:
            self.gave_up.append(key)
            self.done += 1


def chaos(a, work):
    key = os.path.join(work, "idem.key")
    with open(key, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(key, 0o600)
    ledger = LedgerServer(os.path.join(work, "ledger.tsv"))
    threading.Thread(target=ledger.serve_forever, daemon=True).start()
    redis = Redis(work, a.persist)
    redis.start()
    gws = []
    rc = 2
    try:
        for name in ("a", "b"):
            gws.append(Gateway(name, a.sluice, work, workers=a.workers,
                               level="debug" if a.debug else "info",
                               rport=redis.port, tmo=a.store_timeout,
                               key=key, up=ledger.server_port))
        rc = drive(a, work, ledger, redis, gws)
    finally:
        for gw in gws:
            st = gw.stop()
            with open(gw.stderr_path, errors="replace") as f:
                san = [line for line in f if "Sanitizer" in line]
            if st != 0 or san:
                log("sluice %s exited with %s%s: see %s"
                    % (gw.name, st, ", a sanitizer report" if san else "",
                       gw.stderr_path))
                rc = 1
        redis.kill()
        ledger.shutdown()
    return rc


def drive(a, work, ledger, redis, gws):
    run = Run(a)
    restart = {}
    todo = list(range(a.payments))
    todo_lock = threading.Lock()

    def client(ci):
        rng = random.Random("%s-%d" % (a.seed, ci))
        while True:
            with todo_lock:
                if not todo:
                    return
                i = todo.pop()
            run.payment(i, gws, rng)

    def chaos_monkey():
        while run.done < a.payments * a.restart_at:
            if run.done >= a.payments:
                return
            time.sleep(0.01)
        restart["kill"] = time.time()
        restart["done_at_kill"] = run.done
        restart["keys_at_kill"] = redis.dbsize()
        redis.kill()
        log("redis-server killed after %d payments (%d keys in it)"
            % (run.done, restart["keys_at_kill"]))
        time.sleep(a.outage)
        redis.start()
        restart["start"] = time.time()
        restart["keys_at_start"] = redis.dbsize()
        log("redis-server started again (%d keys in it)"
            % restart["keys_at_start"])

    log("%d payments, %d clients, cut rate %.2f, gateways :%d :%d, "
        "redis :%d (persist %s), work %s"
        % (a.payments, a.clients, a.cut_rate, gws[0].port, gws[1].port,
           redis.port, a.persist, work))
    monkey = threading.Thread(target=chaos_monkey, daemon=True)
    monkey.start()
    th = [threading.Thread(target=client, args=(ci,), daemon=True)
          for ci in range(a.clients)]
    t0 = time.monotonic()
    for t in th:
        t.start()
    last = 0
    while any(t.is_alive() for t in th):
        time.sleep(0.5)
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            log("%d/%d payments finished" % (run.done, a.payments))
    elapsed = time.monotonic() - t0
    monkey.join(a.outage + 15)
    # the gateways' orphans and commits settle
    time.sleep(1.0)
    return report(a, work, run, ledger, restart, gws, elapsed)


def grep_lines(path, needles, limit=40):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if any(n in line for n in needles):
                    out.append(line.rstrip())
                    if len(out) >= limit:
                        break
    except OSError:
        pass
    return out


def story(key, run, ledger, restart, gws):
    print("---- %s" % key)
    for rec in run.tries.get(key, []):
        print("  try  %.3f gw=%s rid=%s cut=%s -> %s %s replayed=%s" % rec)
    for num, t, rid in ledger.ledger.get(key, []):
        print("  exec %.3f payment %d (X-Request-Id %s)" % (t, num, rid))
    if restart:
        print("  redis killed %.3f, started %.3f"
              % (restart.get("kill", 0), restart.get("start", 0)))
    rids = [rec[2] for rec in run.tries.get(key, [])]
    for gw in gws:
        for line in grep_lines(gw.stderr_path, rids):
            print("  %s log: %s" % (gw.name, line))
        for line in grep_lines(gw.access, rids):
            print("  %s access: %s" % (gw.name, line[:400]))


def report(a, work, run, ledger, restart, gws, elapsed):
    with open(os.path.join(work, "tries.tsv"), "w") as f:
        for k in sorted(run.tries):
            for rec in run.tries[k]:
                f.write("%s\t%.6f\t%s\t%s\t%s\t%s\t%s\t%s\n" % ((k,) + rec))
    twice = sorted(k for k, v in ledger.ledger.items() if len(v) > 1)
    unknown = sorted(k for k in ledger.ledger
                     if k not in run.tries)
    # a final 201 that is not the upstream's one payment: a number the
    # upstream never made for the key (wrong), or one of several (split)
    wrong, split = [], []
    for k, (st, num, replayed, ntries) in run.finals.items():
        ex = [n for n, _, _ in ledger.ledger.get(k, [])]
        if st == 201 and num not in ex:
            wrong.append(k)
        elif st == 201 and len(ex) > 1:
            split.append(k)
    executed = sum(len(v) for v in ledger.ledger.values())
    c = run.counts
    replayed_finals = sum(1 for v in run.finals.values() if v[2])
    print()
    print("payments                      %d in %.1f s (%d clients, cut "
          "rate %.2f, budget %d tries)" % (a.payments, elapsed, a.clients,
                                            a.cut_rate, a.budget))
    if "start" in restart:
        print("redis-server                  killed after %d payments "
              "finished, %d of its %d keys lost; back %.2f s later "
              "(persist: %s)"
              % (restart["done_at_kill"],
                 max(0, restart["keys_at_kill"] - restart["keys_at_start"]),
                 restart["keys_at_kill"],
                 restart["start"] - restart["kill"], a.persist))
    else:
        print("redis-server                  not restarted")
    print("tries                         %d" % c["tries"])
    for k in sorted(c):
        if k != "tries":
            print("  %-27s %d" % (k, c[k]))
    print("final answers                 %d (%d replays, %d from the "
          "upstream)" % (len(run.finals), replayed_finals,
                         len(run.finals) - replayed_finals))
    tries_hist = collections.Counter(v[3] for v in run.finals.values())
    print("  tries to a final answer     %s" % ", ".join(
        "%d: %d" % kv for kv in sorted(tries_hist.items())))
    print("gave up (budget exhausted)    %d" % len(run.gave_up))
    print("final answers not a receipt   %d" % len(run.bad_final))
    print("upstream executions           %d for %d keys"
          % (executed, len(ledger.ledger)))
    print("keys executed more than once  %d (%d of their clients got the "
          "first payment, %d a later one)"
          % (len(twice), sum(1 for k in split
                             if run.finals[k][1] ==
                             ledger.ledger[k][0][0]),
             sum(1 for k in split if run.finals[k][1] !=
                 ledger.ledger[k][0][0])))
    print("final 201 of a payment the upstream did not make for the key %d"
          % len(wrong))
    if unknown:
        print("keys at the upstream no client sent %d" % len(unknown))
    for gw in gws:
        try:
            m = gw.metrics()
        except OSError as e:
            print("gateway %s: /metrics: %s" % (gw.name, e))
            continue
        print("gateway %s" % gw.name)
        for k in sorted(m):
            if m[k]:
                print("  %-55s %d" % (k, m[k]))
    ok = not twice and not wrong and not split and not unknown
    for k in run.bad_final[:10]:
        print("not a receipt: %r" % (k,))
    if twice or wrong:
        print()
        print("==== the keys that break at-most-once or the one answer")
        for k in (twice + [k for k in wrong if k not in twice])[:a.stories]:
            story(k, run, ledger, restart, gws)
    print()
    print("at-most-once: %s; one answer per finished client: %s"
          % ("HOLDS" if not twice else "VIOLATED (%d keys)" % len(twice),
             "HOLDS" if not wrong and not split else
             "VIOLATED (%d keys)" % (len(wrong) + len(split))))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "..")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sluice", default=os.environ.get("SLUICE") or
                    os.path.join(top, "build", "src", "sluice"))
    ap.add_argument("--payments", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--cut-rate", type=float, default=0.3)
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--restart-at", type=float, default=0.4)
    ap.add_argument("--outage", type=float, default=1.0)
    ap.add_argument("--persist", choices=("none", "aof"), default="aof")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--store-timeout", default="200ms")
    ap.add_argument("--seed", default=str(os.getpid()))
    ap.add_argument("--stories", type=int, default=20,
                    help="keys whose story is printed, at most")
    ap.add_argument("--work")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--debug", action="store_true")
    a = ap.parse_args()
    a.run_id = "%s%04x" % (time.strftime("%H%M%S"), random.getrandbits(16))
    random.seed(a.seed)
    if not os.access(a.sluice, os.X_OK):
        log("no sluice at %s (--sluice, or SLUICE)" % a.sluice)
        return 2
    work = a.work or tempfile.mkdtemp(prefix="sluice-idem-chaos.")
    os.makedirs(work, exist_ok=True)
    rc = 2
    try:
        rc = chaos(a, work)
    finally:
        if rc == 0 and not a.keep and not a.work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("work directory kept: %s" % work)
    return rc


if __name__ == "__main__":
    sys.exit(main())
