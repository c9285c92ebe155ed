# SPDX-License-Identifier: MIT
"""Replacing the running binary (doc/upgrade.md): SIGUSR2 hands the
listening sockets and the counters to a new process of the binary's path,
the old one drains; systemd socket activation. Real binaries, real
sockets, under load: no refused connect, no failed request, no request
lost or answered twice.

sluice runs here through a symbolic link in a scratch directory, as a
package installs it: an upgrade starts whatever the link names then, so
that pointing it at another build (the ASan one and back) is an upgrade
to another binary. The process that serves changes with every upgrade,
so these tests follow it by its pid file, not by sltest's Sluice."""

import atexit
import collections
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (TOP_SRCDIR, BufSock, Client, Reply,  # noqa: E402
                    Upstream, check, eq, free_port, get, main, make_config,
                    metrics, read_response, sluice_path, ss_line, test,
                    tmpdir, to_yaml, transport_pki, wait_until)


def other_build():
    """The other of the werror and ASan builds, when both exist: the
    upgrades alternate between them."""
    alt = os.environ.get("SLUICE_ALT")
    if alt:
        return alt if os.access(alt, os.X_OK) else None
    me = os.path.realpath(sluice_path())
    # only a build of these sources: contrib/check.sh runs the strict
    # build's tests before it rebuilds the ASan one, which may be a
    # build of older sources (one that knows no upgrade) until then
    src = os.path.join(TOP_SRCDIR, "src")
    newest = max(os.path.getmtime(os.path.join(d, f))
                 for d, _, files in os.walk(src) for f in files
                 if f.endswith((".c", ".h")))
    for d in ("build-werror", "build-asan"):
        p = os.path.join(TOP_SRCDIR, d, "src", "sluice")
        if (os.access(p, os.X_OK) and os.path.realpath(p) != me and
                os.path.getmtime(p) >= newest):
            return p
    return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child, not reaped yet) is gone
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


_gateways = []


def _kill_gateways():
    """At exit, whatever a failed test left running: the processes an
    upgrade started are not this script's children, so sltest's own
    clean-up does not see them."""
    for gw in _gateways:
        if getattr(gw, "first", None) is not None and gw.first.poll() is None:
            gw.first.kill()
        for pid in set(gw.pids + [gw.pid()]):
            if pid is not None and alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


atexit.register(_kill_gateways)
sltest.on_watchdog(_kill_gateways)   # the watchdog exits without atexit


class Gateway:
    """sluice started through a link, followed across upgrades."""

    def __init__(self, cfg, binary=None, env=None):
        self.dir = tmpdir()
        self.link = os.path.join(self.dir, "sluice")
        self.conf = os.path.join(self.dir, "sluice.yaml")
        self.pidfile = os.path.join(self.dir, "sluice.pid")
        self.errpath = os.path.join(self.dir, "stderr.log")
        self.write(cfg)
        self.point(binary or sluice_path())
        self.err = open(self.errpath, "ab")
        env = dict(os.environ, **(env or {}))
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.pids = []
        _gateways.append(self)
        self.first = subprocess.Popen(
            [self.link, "-c", self.conf, "-p", self.pidfile],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.err, env=env)
        check(wait_until(lambda: self.pid() is not None, 10.0),
              "sluice wrote no pid file:\n%s" % self.stderr())
        self.pids = [self.pid()]

    def write(self, cfg):
        with open(self.conf + ".tmp", "w") as f:
            f.write(cfg if isinstance(cfg, str) else to_yaml(cfg))
            f.write("\n")
        os.rename(self.conf + ".tmp", self.conf)

    def point(self, binary):
        tmp = self.link + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(binary, tmp)
        os.rename(tmp, self.link)

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stderr(self):
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def upgrade(self, expect_ok=True, timeout=40.0):
        """SIGUSR2 to the serving process; with expect_ok, waits until a
        new one serves and the old one has exited. Returns the new pid."""
        old = self.pid()
        n_ok = self.stderr().count("hands over and drains")
        n_failed = self.stderr().count("upgrade: failed")
        os.kill(old, signal.SIGUSR2)
        if not expect_ok:
            check(wait_until(lambda: self.stderr().count("upgrade: failed")
                             > n_failed, timeout),
                  "no failed upgrade logged:\n%s" % self.stderr())
            eq(self.pid(), old, "the pid file after a failed upgrade")
            check(alive(old), "the old process died")
            return old
        check(wait_until(lambda: self.stderr().count("hands over and "
                                                     "drains") > n_ok,
                         timeout),
              "the upgrade did not happen:\n%s" % self.stderr()[-3000:])
        check(wait_until(lambda: self.pid() not in (None, old), timeout),
              "the pid file still names %s" % old)
        check(wait_until(lambda: not alive(old), timeout),
              "the old process %d did not exit" % old)
        new = self.pid()
        self.pids.append(new)
        return new

    def stop(self):
        pid = self.pid()
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGTERM)
            check(wait_until(lambda: not alive(pid), 30.0),
                  "sluice %d did not stop" % pid)
        try:
            self.first.wait(5)
        except subprocess.TimeoutExpired:
            self.first.kill()
        self.err.close()
        err = self.stderr()
        for pat in ("ERROR: AddressSanitizer", "runtime error:",
                    "ERROR: LeakSanitizer"):
            check(pat not in err, "sanitizer report:\n%s" % err[-4000:])


class Load:
    """Clients that send requests until stopped, each with an id of its
    own: keep-alive ones (a request on a reused connection that ends
    before any byte of its answer is sent again on a new connection, as
    HTTP clients do, RFC 9112 section 9.3.1) and short ones (a connection
    per request). A refused connect, a reset or any status but 200 is a
    failure."""

    def __init__(self, port, keepalive=4, short=2):
        self.port = port
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = []
        self.failures = []
        self.resent = 0
        self.threads = [threading.Thread(target=self.keepalive, args=(i,),
                                         daemon=True)
                        for i in range(keepalive)]
        self.threads += [threading.Thread(target=self.short, args=(i,),
                                          daemon=True)
                         for i in range(short)]
        for t in self.threads:
            t.start()

    def _request(self, sock, rid):
        sock.sendall(("GET /r/%s HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s"
                      "\r\n\r\n" % (rid, rid)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                return None if not buf else ("cut", buf)
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        cl = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                cl = int(line.split(b":")[1])
        while len(rest) < cl:
            d = sock.recv(65536)
            if not d:
                return ("cut", head)
            rest += d
        status = int(head.split(b" ")[1])
        close = b"\r\nconnection: close" in head.lower()
        return (status, close)

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), 5)
        s.settimeout(10)
        return s

    def keepalive(self, i):
        n = 0
        sock = None
        reused = False
        while not self.stopping.is_set():
            n += 1
            rid = "k%d-%d" % (i, n)
            try:
                if sock is None:
                    sock = self._connect()
                    reused = False
                r = self._request(sock, rid)
                if r is None and reused:
                    # closed before a byte of the answer: send it again
                    with self.lock:
                        self.resent += 1
                    sock.close()
                    sock = self._connect()
                    r = self._request(sock, rid)
                reused = True
                if r is None or r[0] != 200:
                    raise OSError("answer %r" % (r,))
                with self.lock:
                    self.ok.append(rid)
                if r[1]:
                    sock.close()
                    sock = None
            except OSError as e:
                with self.lock:
                    self.failures.append("%s: %r" % (rid, e))
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def short(self, i):
        n = 0
        while not self.stopping.is_set():
            n += 1
            rid = "s%d-%d" % (i, n)
            try:
                sock = self._connect()
                try:
                    r = self._request(sock, rid)
                finally:
                    sock.close()
                if r is None or r[0] != 200:
                    raise OSError("answer %r" % (r,))
                with self.lock:
                    self.ok.append(rid)
            except OSError as e:
                with self.lock:
                    self.failures.append("%s: %r" % (rid, e))

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def count(self):
        with self.lock:
            return len(self.ok)


class Wrk:
    """wrk's keep-alive load beside Load's (wrk retries nothing: a
    connection closed under a request it sent is a read error); stopped
    with SIGINT, after which it prints its summary."""

    def __init__(self, port, conns=8):
        if shutil.which("wrk") is None:
            raise AssertionError("wrk is missing (contrib/deps.sh)")
        self.p = subprocess.Popen(
            ["wrk", "-t", "1", "-c", str(conns), "-d", "600s",
             "http://127.0.0.1:%d/wrk" % port],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

    def stop(self):
        """The summary: (requests, socket errors line or "", non-2xx)."""
        self.p.send_signal(signal.SIGINT)
        out = self.p.communicate(timeout=30)[0]
        m = re.search(r"(\d+) requests in", out)
        check(m, "no summary from wrk:\n%s" % out)
        errs = re.search(r"Socket errors:.*", out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return (int(m.group(1)), errs.group(0) if errs else "",
                int(non2xx.group(1)) if non2xx else 0)


def upstream_ids(up):
    """The request ids the upstream saw, in order."""
    with up.lock:
        return [r.headers.get("x-request-id") for r in up.requests
                if r.headers.get("x-request-id") is not None]


def listening(port):
    """Whether something listens on 127.0.0.1:port, read from the kernel's
    table (a connect would be a connection)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, st = line.split()[1], line.split()[3]
            if st == "0A" and local == "0100007F:%04X" % port:
                return True
    return False


def config(up, port, aport, workers=2, extra_listeners=()):
    cfg, _ = make_config({"a": [up]}, port=port, workers=workers,
                         extra={"admin": {"address": "127.0.0.1:%d" % aport},
                                "drain_timeout": "10s"})
    for name, p in extra_listeners:
        cfg["listeners"].append({"name": name,
                                 "address": "127.0.0.1:%d" % p,
                                 "routes": [{"cluster": "a"}]})
    return cfg


@test
def twenty_upgrades_under_load_lose_nothing():
    up = Upstream("a")
    port, aport = free_port(), free_port()
    gw = Gateway(config(up, port, aport))
    builds = [sluice_path()]
    alt = other_build()
    if alt is not None:
        builds.append(alt)
    load = Load(port)
    wrk = Wrk(port)
    try:
        check(wait_until(lambda: load.count() > 50, 10.0),
              "no traffic: %r" % load.failures[:5])
        for i in range(20):
            gw.point(builds[(i + 1) % len(builds)])
            gw.upgrade()
            seen = load.count()
            check(wait_until(lambda: load.count() > seen + 20, 10.0),
                  "traffic stopped after upgrade %d" % (i + 1))
    finally:
        load.stop()
        nwrk, wrk_errors, wrk_non2xx = wrk.stop()
    eq(load.failures, [], "failed requests (of %d)" % load.count())
    check(nwrk > 100, "wrk's load: %d requests" % nwrk)
    eq((wrk_errors, wrk_non2xx), ("", 0),
       "wrk's errors and non-2xx answers (of %d)" % nwrk)
    ids = upstream_ids(up)
    # counted once each: ids.count per id was quadratic, minutes for the
    # 100,000-odd requests wrk makes when the gateway is fast
    dup = sorted(x for x, k in collections.Counter(ids).items() if k > 1)
    eq(dup, [], "requests the upstream got twice")
    missing = sorted(set(load.ok) - set(ids))
    eq(missing, [], "answered requests the upstream never got")
    check(len(gw.pids) == 21 and len(set(gw.pids)) == 21,
          "pids of the upgrades: %r" % gw.pids)
    # the counters carried on through every hand-over
    m = metrics(aport)
    eq(m.get('sluice_upgrades_total{result="ok"}'), 20.0, "upgrades done")
    check(m.get("sluice_requests_total", 0) >= len(load.ok),
          "requests_total %r < %d answered" % (
              m.get("sluice_requests_total"), len(load.ok)))
    gw.stop()


@test
def a_request_in_flight_finishes_on_the_old_process():
    def slow(req):
        if req.target == "/slow":
            return Reply(200, b"slow and whole", delay=5.0)
        return None
    up = Upstream("a", slow)
    port, aport = free_port(), free_port()
    gw = Gateway(config(up, port, aport))
    old = gw.pid()
    c = Client(port, timeout=20)
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    check(wait_until(lambda: len(up.requests) >= 1, 5.0), "slow request "
          "not out")
    os.kill(old, signal.SIGUSR2)
    check(wait_until(lambda: gw.pid() not in (None, old), 10.0),
          "no new process")
    new = gw.pid()
    # the new one serves at once; the old one still holds the request
    eq(get(port, "/fast").status, 200, "a request to the new process")
    check(alive(old), "the old process left before its request finished")
    r = c.read_response()
    eq((r.status, r.body), (200, b"slow and whole"), "the slow answer")
    check(r.wants_close(), "the old process kept the connection open")
    check(wait_until(lambda: not alive(old), 10.0), "the old process did "
          "not exit after its last request")
    check(alive(new), "the new process is gone")
    gw.stop()


@test
def a_failed_upgrade_leaves_the_old_process_serving():
    up = Upstream("a")
    port, aport = free_port(), free_port()
    cfg = config(up, port, aport)
    gw = Gateway(cfg)
    real = os.readlink(gw.link)
    # a binary that exits at start
    bad = os.path.join(gw.dir, "exits")
    with open(bad, "w") as f:
        f.write("#!/bin/sh\necho 'not a sluice' >&2\nexit 3\n")
    os.chmod(bad, 0o755)
    gw.point(bad)
    gw.upgrade(expect_ok=False)
    eq(get(port, "/").status, 200, "served after a binary that exits")
    check("exited with status 3" in gw.stderr(), "the new process's exit "
          "status is not logged:\n%s" % gw.stderr())
    # a file that does not load
    gw.point(real)
    gw.write("listeners: [oops\n")
    gw.upgrade(expect_ok=False)
    eq(get(port, "/").status, 200, "served after a file that does not load")
    # a port the new file adds that someone else holds
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    gw.write(config(up, port, aport,
                    extra_listeners=[("taken", held.getsockname()[1])]))
    gw.upgrade(expect_ok=False)
    held.close()
    eq(get(port, "/").status, 200, "served after a port it cannot bind")
    m = metrics(aport)
    eq(m.get('sluice_upgrades_total{result="failed"}'), 3.0,
       "failed upgrades counted")
    # and the next good one works
    gw.write(cfg)
    gw.upgrade()
    eq(get(port, "/").status, 200, "served after a good upgrade")
    gw.stop()


# the time and level that begin every line of the error log (log.c)
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug): "


@test
def a_failed_upgrade_logs_the_new_processs_errors_as_log_lines():
    # issue 41: the new process wrote its errors to the old one's error
    # log as bare "FILE:LINE:COL: error: ..." lines, without the time and
    # level of every other line there
    up = Upstream("a")
    port, aport = free_port(), free_port()
    cfg = config(up, port, aport)
    gw = Gateway(cfg)
    with open("/proc/self/comm") as f:
        me = "pid %d (%s)" % (os.getpid(), f.read().strip())
    conf = re.escape(gw.conf)
    # a file that does not load
    n0 = len(gw.stderr())
    gw.write("listeners: [oops\n")
    gw.upgrade(expect_ok=False)
    log = gw.stderr()[n0:]
    check(re.search(r"^\S+ error: upgrade: %s:1:\d+: error: unclosed "
                    % conf, log, re.M),
          "no 'TIME error: upgrade: FILE:1:COL: error: unclosed ...' "
          "line:\n%s" % log)
    # an address the new file adds that another process holds
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    hport = held.getsockname()[1]
    try:
        n1 = len(gw.stderr())
        gw.write(config(up, port, aport, extra_listeners=[("taken", hport)]))
        gw.upgrade(expect_ok=False)
        log = gw.stderr()[n1:]
        check(re.search(r'^\S+ error: upgrade: %s:\d+:\d+: error: listener '
                        r'"taken" 127\.0\.0\.1:%d: address already in use '
                        r'by %s$' % (conf, hport, re.escape(me)), log, re.M),
              "no 'TIME error: upgrade: FILE:LINE:COL: error: listener "
              "\"taken\" ...' line:\n%s" % log)
    finally:
        held.close()
    # every line of the shared log has its time and level
    bare = [ln for ln in gw.stderr().splitlines()
            if not re.match(STAMP, ln)]
    eq(bare, [], "lines of the error log without a time and a level")
    eq(get(port, "/").status, 200, "served after the failed upgrades")
    gw.write(cfg)
    gw.upgrade()
    eq(get(port, "/").status, 200, "served after a good upgrade")
    gw.stop()


@test
def an_upgrade_adds_and_removes_listeners_and_changes_workers():
    up = Upstream("a")
    port, aport, extra = free_port(), free_port(), free_port()
    gw = Gateway(config(up, port, aport, workers=1))
    eq(metrics(aport).get("sluice_workers"), 1.0, "workers at start")
    gw.write(config(up, port, aport, workers=3,
                    extra_listeners=[("more", extra)]))
    gw.upgrade()
    eq(get(extra, "/").status, 200, "the listener the upgrade added")
    eq(get(port, "/").status, 200, "the listener kept")
    eq(metrics(aport).get("sluice_workers"), 3.0, "workers after upgrade")
    # back to one worker: three sockets per listener were handed over to
    # one worker, which serves them all
    gw.write(config(up, port, aport, workers=1))
    gw.upgrade()
    for i in range(20):
        eq(get(port, "/%d" % i).status, 200, "request %d" % i)
    check(wait_until(lambda: socket_refused(extra), 5.0),
          "the removed listener still accepts")
    gw.stop()


def next_request(sock, rid, post):
    """Sends the next request of an idle keep-alive connection (a POST
    with a body, or a GET, carrying id rid) and reads its answer: (status,
    the answer wants the connection closed), or a string that says how
    the connection ended without one."""
    body = ("order %s" % rid).encode()
    head = ("%s /next/%s HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n"
            % ("POST" if post else "GET", rid, rid))
    if post:
        head += "Content-Type: text/plain\r\nContent-Length: %d\r\n" % (
            len(body))
    try:
        sock.sendall(head.encode() + b"\r\n" + (body if post else b""))
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                return "closed (FIN) after %d bytes of an answer" % len(buf)
            buf += d
    except OSError as e:
        return "closed: %r" % e
    head, rest = buf.split(b"\r\n\r\n", 1)
    fields = head.lower().split(b"\r\n")
    cl = [int(f.split(b":")[1]) for f in fields
          if f.startswith(b"content-length:")]
    while cl and len(rest) < cl[0]:
        d = sock.recv(65536)
        if not d:
            return "cut in the answer's body"
        rest += d
    return (int(head.split(b" ")[1]),
            any(f.startswith(b"connection:") and b"close" in f
                for f in fields))


def once_each(up, rids):
    """Checks that the upstream got each of rids exactly once."""
    seen = collections.Counter(upstream_ids(up))
    eq(sorted(r for r in rids if seen[r] != 1), [],
       "request ids the upstream did not get exactly once")


@test
def idle_keepalive_connections_are_served_after_an_upgrade():
    """Issue 41, item 4: idle keep-alive connections whose clients pace
    their requests (the next one seconds after the SIGUSR2) each get an
    answer, GETs and POSTs alike; none meets a FIN instead (a POST so
    lost is lost for good: most clients do not send one again). The
    paces span well past the second a stop gives, within drain_timeout
    (10 s)."""
    up = Upstream("a")
    port, aport = free_port(), free_port()
    gw = Gateway(config(up, port, aport))
    old = gw.pid()
    socks = []
    for i in range(10):
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.settimeout(10)
        eq(next_request(s, "first-%d" % i, False), (200, False),
           "the first request of connection %d" % i)
        socks.append(s)
    n_ok = gw.stderr().count("hands over and drains")
    os.kill(old, signal.SIGUSR2)
    check(wait_until(lambda: gw.stderr().count("hands over and drains")
                     > n_ok, 20.0), "no hand-over:\n%s" % gw.stderr())
    t0 = time.monotonic()
    failures, rids = [], []
    for i, s in enumerate(socks):
        # the client's pace is the scenario: its i-th next request
        # 0.35 s after the one before
        time.sleep(max(0.0, t0 + 0.35 * (i + 1) - time.monotonic()))
        rid = "next-%d" % i
        rids.append(rid)
        r = next_request(s, rid, post=i % 2 == 1)
        if not isinstance(r, tuple) or r[0] != 200:
            failures.append("%s, %.2f s after the hand-over: %s" % (
                rid, time.monotonic() - t0, r))
        s.close()
    eq(failures, [], "next requests on idle keep-alive connections")
    once_each(up, rids)
    check(wait_until(lambda: not alive(old), 15.0),
          "the old process %d did not exit" % old)
    gw.stop()


class PacedClient(threading.Thread):
    """A keep-alive client that pauses 0.5-5 s between requests (GETs and
    POSTs, each with an id of its own) and sends nothing twice: a request
    without an answer is a failure."""

    def __init__(self, port, i, stopping):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.i, self.stopping = port, i, stopping
        self.rand = random.Random(i)
        self.ok, self.failures = [], []
        self.start()

    def run(self):
        sock, n = None, 0
        while not self.stopping.is_set():
            n += 1
            rid = "p%d-%d" % (self.i, n)
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port),
                                                    5)
                    sock.settimeout(10)
            except OSError as e:
                self.failures.append("%s: connect: %r" % (rid, e))
                return
            r = next_request(sock, rid, post=n % 2 == 0)
            if isinstance(r, tuple) and r[0] == 200:
                self.ok.append(rid)
            else:
                self.failures.append("%s: %s" % (rid, r))
            if not isinstance(r, tuple) or r[1]:
                sock.close()
                sock = None
            self.stopping.wait(self.rand.uniform(0.5, 5.0))
        if sock is not None:
            sock.close()


@test
def an_upgrade_under_paced_keepalive_load_loses_no_request():
    """Clients that pause 0.5-5 s between requests on keep-alive
    connections, through a hand-over: every request is answered, and the
    upstream gets each exactly once."""
    up = Upstream("a")
    port, aport = free_port(), free_port()
    gw = Gateway(config(up, port, aport))
    stopping = threading.Event()
    clients = [PacedClient(port, i, stopping) for i in range(12)]
    try:
        check(wait_until(lambda: all(c.ok for c in clients), 10.0),
              "the clients did not start")
        gw.upgrade(timeout=20.0)
        after = [len(c.ok) for c in clients]
        # each client's next request or two, on the new process
        check(wait_until(lambda: all(len(c.ok) >= k + 2 or c.failures
                                     for c, k in zip(clients, after)),
                         15.0), "the clients stopped")
    finally:
        stopping.set()
        for c in clients:
            c.join(15)
    eq([f for c in clients for f in c.failures], [], "failed requests")
    ok = [r for c in clients for r in c.ok]
    once_each(up, ok)
    gw.stop()


def taken_over(gw, pid):
    """How many idle connections the new process logged it took over from
    pid."""
    return sum(int(n) for n in re.findall(
        r"upgrade: (\d+) idle keep-alive connections taken over from pid "
        r"%d\b" % pid, gw.stderr()))


def still_open(sock):
    """Whether the other end has neither closed nor sent anything: an
    idle connection that nothing has happened to."""
    r, _, _ = select.select([sock], [], [], 0)
    return not r


@test
def idle_connections_move_to_the_new_process():
    """Idle plain HTTP/1.1 keep-alive connections go to the new process
    with the listening sockets: the old one exits at once (not at
    drain_timeout, 10 s), the connections stay open without a byte, and
    the new process answers their next requests keeping them alive; a
    second upgrade hands them on again."""
    up = Upstream("a")
    port, aport = free_port(), free_port()
    gw = Gateway(config(up, port, aport))
    socks = []
    for i in range(6):
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.settimeout(10)
        eq(next_request(s, "first-%d" % i, False), (200, False),
           "the first request of connection %d" % i)
        socks.append(s)
    rids = []
    for k in range(2):
        old = gw.pid()
        t0 = time.monotonic()
        new = gw.upgrade(timeout=20.0)
        dt = time.monotonic() - t0
        check(dt < 8.0, "upgrade %d: the old process took %.1f s to exit "
              "(drain_timeout 10 s): connections not handed over" % (k, dt))
        eq(taken_over(gw, old), 6, "connections the new process took "
           "over at upgrade %d" % k)
        check(not alive(old), "the old process is alive")
        # (its final counters are in)
        check(wait_until(lambda: "upgrade: pid %d has finished" % old
                         in gw.stderr(), 5.0), "no final counters from %d"
              % old)
        for i, s in enumerate(socks):
            check(still_open(s), "connection %d was closed or sent "
                  "something at upgrade %d" % (i, k))
        for i, s in enumerate(socks):
            rid = "up%d-%d" % (k, i)
            rids.append(rid)
            eq(next_request(s, rid, post=i % 2 == 0), (200, False),
               "connection %d's request after upgrade %d (to pid %d)"
               % (i, k, new))
    # a connection handed over is one connection: not counted as closed
    # (the counters carried through both upgrades included)
    closed = {k: v for k, v in metrics(aport).items()
              if k.startswith("sluice_client_closed_total") and v}
    eq(closed, {}, "client connections counted as closed")
    for s in socks:
        s.close()
    once_each(up, rids)
    gw.stop()


@test
def requests_on_the_way_during_hand_overs_are_answered_once():
    """Keep-alive clients that send their requests back to back, with
    pauses of 0-30 ms, through three upgrades: a request that reaches a
    connection while it is on its way to the new process waits in the
    socket and is answered there. No request fails (a client reconnects
    only after an answer that says Connection: close), none reaches the
    upstream twice."""
    up = Upstream("a")
    port, aport = free_port(), free_port()
    gw = Gateway(config(up, port, aport))
    stopping = threading.Event()
    lock = threading.Lock()
    ok, failures = [], []

    def client(i):
        rand = random.Random(100 + i)
        sock, n = None, 0
        while not stopping.is_set():
            n += 1
            rid = "r%d-%d" % (i, n)
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), 5)
                    sock.settimeout(10)
            except OSError as e:
                with lock:
                    failures.append("%s: connect: %r" % (rid, e))
                return
            r = next_request(sock, rid, post=n % 3 == 0)
            with lock:
                if isinstance(r, tuple) and r[0] == 200:
                    ok.append(rid)
                else:
                    failures.append("%s: %s" % (rid, r))
            if not isinstance(r, tuple) or r[1]:
                sock.close()
                sock = None
            stopping.wait(rand.uniform(0, 0.03))
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True)
               for i in range(16)]
    for t in threads:
        t.start()
    try:
        for k in range(3):
            seen = len(ok)
            check(wait_until(lambda: len(ok) > seen + 100, 10.0),
                  "no traffic before upgrade %d: %r" % (k, failures[:3]))
            gw.upgrade(timeout=20.0)
        seen = len(ok)
        check(wait_until(lambda: len(ok) > seen + 100, 10.0),
              "no traffic after the upgrades")
    finally:
        stopping.set()
        for t in threads:
            t.join(15)
    eq(failures, [], "failed requests (of %d)" % len(ok))
    once_each(up, ok)
    check(sum(taken_over(gw, pid) for pid in gw.pids) > 0,
          "no connection was handed over:\n%s" % gw.stderr()[-3000:])
    gw.stop()


def server_read_all(port, sock):
    """Whether sluice has read everything sock sent (its socket's Recv-Q
    is 0)."""
    return ss_line(port, sock, "-t").split()[0] == "0"


@test
def what_cannot_be_handed_over_is_held_until_its_next_request():
    """A TLS connection (its state is the old process's) and one with half
    a request head read (bytes the new process would not have) stay with
    the old process, which answers their next request with Connection:
    close, then exits; the idle plain connection beside them goes to the
    new process."""
    up = Upstream("a")
    port, aport, tport = free_port(), free_port(), free_port()
    cfg = config(up, port, aport)
    pki = transport_pki()["listener"]
    cfg["listeners"].append({
        "name": "tls", "address": "127.0.0.1:%d" % tport,
        "tls": {"certificates": [{"cert": pki.cert, "key": pki.key}]},
        "routes": [{"cluster": "a"}]})
    gw = Gateway(cfg)
    old = gw.pid()
    tls = Client(tport, timeout=10, tls=True)
    r = tls.request("GET", "/tls-first")
    eq((r.status, r.wants_close()), (200, False), "TLS: the first answer")
    plain = socket.create_connection(("127.0.0.1", port), 5)
    plain.settimeout(10)
    eq(next_request(plain, "plain-first", False), (200, False),
       "plain: the first answer")
    half = socket.create_connection(("127.0.0.1", port), 5)
    half.settimeout(10)
    half.sendall(b"GET /half HTTP/1.1\r\nHost: t\r\n")
    check(wait_until(lambda: server_read_all(port, half), 5.0),
          "sluice did not read the half head")
    n_ok = gw.stderr().count("hands over and drains")
    os.kill(old, signal.SIGUSR2)
    check(wait_until(lambda: gw.stderr().count("hands over and drains")
                     > n_ok, 20.0), "no hand-over:\n%s" % gw.stderr())
    check(wait_until(lambda: taken_over(gw, old) == 1, 5.0),
          "the plain connection was not handed over:\n%s"
          % gw.stderr()[-3000:])
    # the old process holds the two others for their next request
    check(alive(old), "the old process left its connections")
    eq(next_request(plain, "plain-next", False), (200, False),
       "plain: the answer of the new process")
    half.sendall(b"X-Request-Id: half-rest\r\n\r\n")
    r = read_response(BufSock(half))
    eq((r.status, r.wants_close()), (200, True), "the half head's answer")
    r = tls.request("GET", "/tls-next", headers={"X-Request-Id": "tls-next"})
    eq((r.status, r.wants_close()), (200, True), "TLS: the next answer")
    check(wait_until(lambda: not alive(old), 5.0),
          "the old process did not exit after its last connections")
    once_each(up, ["plain-next", "half-rest", "tls-next"])
    for s in (plain, half):
        s.close()
    tls.close()
    gw.stop()


def socket_refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return False
    except OSError:
        return True


def activation_setup():
    """What the socket-activation tests share: systemd-socket-activate
    (Debian's systemd package), an upstream, two ports and a file in a
    scratch directory. Returns (upstream, port, admin port, directory,
    file)."""
    if not os.access("/usr/bin/systemd-socket-activate", os.X_OK):
        raise AssertionError("systemd-socket-activate is missing (Debian's "
                             "systemd package)")
    up = Upstream("a")
    port, aport = free_port(), free_port()
    d = tmpdir()
    conf = os.path.join(d, "sluice.yaml")
    with open(conf, "w") as f:
        f.write(to_yaml(config(up, port, aport)) + "\n")
    return up, port, aport, d, conf


def stop_manager(mgr):
    """Stops a systemd-socket-activate (and the sluice it became)."""
    mgr.send_signal(signal.SIGTERM)
    try:
        mgr.wait(30)
    except subprocess.TimeoutExpired:
        mgr.kill()
        mgr.wait()


@test
def socket_activation_and_a_restart_without_refused_connects():
    up, port, aport, d, conf = activation_setup()
    err = open(os.path.join(d, "stderr.log"), "ab")
    # the socket's owner, as systemd is: it keeps the socket across
    # restarts of the service; each start goes through the real
    # systemd-socket-activate, which passes the socket on (LISTEN_FDS)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    fd = sock.fileno()

    def start():
        # fd 3 is the socket in the child: kept open (pass_fds) after
        # preexec_fn has put it there
        def child():
            os.dup2(fd, 3)
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_FDNAMES"] = "main"
            os.environ["LISTEN_PID"] = str(os.getpid())
        p = subprocess.Popen(
            ["/usr/bin/systemd-socket-activate", "--fdname=main",
             sluice_path(), "-c", conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err, preexec_fn=child, pass_fds=(fd, 3))
        # killed at exit if a failed check leaves it running
        sltest._all_procs.append(p)
        return p
    p = start()
    # systemd-socket-activate starts the service at the first connection
    try:
        r = get(port, "/", timeout=20)
    except OSError:
        raise AssertionError("no answer through systemd's socket:\n%s"
                             % open(os.path.join(d, "stderr.log")).read())
    eq(r.status, 200, "through systemd's socket")
    # the workers serve before the main thread logs the start: the
    # answer can come before the line
    check(wait_until(lambda: "socket activation: 1 sockets" in
                     open(os.path.join(d, "stderr.log")).read(), 10.0),
          "no socket activation logged")
    load = Load(port, keepalive=2, short=2)
    try:
        check(wait_until(lambda: load.count() > 30, 10.0), "no traffic")
        # a restart: the process goes, the socket stays; connections
        # wait in its queue until the next process takes them
        p.send_signal(signal.SIGTERM)
        eq(p.wait(30), 0, "exit status of the stop")
        # the next start, at the next connection (the load makes it)
        p = start()
        seen = load.count()
        check(wait_until(lambda: load.count() > seen + 30, 15.0),
              "no traffic after the restart")
    finally:
        load.stop()
    refused = [f for f in load.failures if "refused" in f.lower()]
    eq(refused, [], "refused connects")
    eq(load.failures, [], "failed requests")
    p.send_signal(signal.SIGTERM)
    eq(p.wait(30), 0, "exit status")
    err.close()
    sock.close()


@test
def check_under_socket_activation_accepts_the_managers_socket():
    """ExecStartPre's "sluice -t" gets no LISTEN_FDS: the address is held
    by the service manager then, which SLUICE_SOCKET_ACTIVATION=1 (the
    drop-in sets it) tells -t to accept; another holder stays an error."""
    up, port, aport, d, conf = activation_setup()
    # the manager binds and listens, and starts sluice only at the first
    # connection: until then it alone holds the address
    mgr = subprocess.Popen(
        ["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
         sluice_path(), "-c", conf],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        check(wait_until(lambda: listening(port), 10.0),
              "systemd-socket-activate does not listen")
        env = dict(os.environ)
        env.pop("SLUICE_SOCKET_ACTIVATION", None)
        r = subprocess.run([sluice_path(), "-t", "-c", conf], env=env,
                           capture_output=True, text=True, timeout=30)
        eq(r.returncode, 1, "-t without the variable")
        check("address already in use by pid %d" % mgr.pid in r.stderr,
              "-t does not name the manager: %r" % r.stderr)
        env["SLUICE_SOCKET_ACTIVATION"] = "1"
        r = subprocess.run([sluice_path(), "-t", "-c", conf], env=env,
                           capture_output=True, text=True, timeout=30)
        eq((r.returncode, r.stderr), (0, ""), "-t with the variable")
        # another process on the admin address is still refused
        other = socket.socket()
        other.bind(("127.0.0.1", aport))
        other.listen(1)
        r = subprocess.run([sluice_path(), "-t", "-c", conf], env=env,
                           capture_output=True, text=True, timeout=30)
        other.close()
        eq(r.returncode, 1, "-t with another process on the admin address")
        check("admin listener 127.0.0.1:%d: address already in use by pid "
              "%d" % (aport, os.getpid()) in r.stderr,
              "-t does not name the other holder: %r" % r.stderr)
        # and what -t passed starts: the first connection starts sluice
        # on the manager's socket
        eq(get(port, "/", timeout=20).status, 200, "through the socket")
    finally:
        stop_manager(mgr)


@test
def a_socket_named_for_a_listener_on_another_address_stops_the_start():
    """FileDescriptorName= names the listener, but the socket listens
    elsewhere: the unit and the file disagree, and serving would listen
    where the file does not say. The start stops, saying both."""
    up = Upstream("a")
    port, aport, other = free_port(), free_port(), free_port()
    d = tmpdir()
    conf = os.path.join(d, "sluice.yaml")
    with open(conf, "w") as f:
        f.write(to_yaml(config(up, port, aport)) + "\n")
    errpath = os.path.join(d, "stderr.log")
    with open(errpath, "wb") as err:
        mgr = subprocess.Popen(
            ["/usr/bin/systemd-socket-activate", "-l",
             "127.0.0.1:%d" % other, "--fdname=main", sluice_path(), "-c",
             conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err)
    try:
        check(wait_until(lambda: listening(other), 10.0),
              "systemd-socket-activate does not listen")
        # the first connection starts sluice (if it has not started
        # already: the socket can be gone by the time it connects, when
        # sluice has refused to start and closed it)
        try:
            socket.create_connection(("127.0.0.1", other), 5).close()
        except OSError:
            pass
        want = ('listener "main" 127.0.0.1:%d: the socket systemd named '
                '"main" listens on 127.0.0.1:%d' % (port, other))
        check(wait_until(lambda: want in open(errpath).read(), 20.0),
              "no refusal logged:\n%s" % open(errpath).read())
        check(not listening(port), "sluice listens on the file's address")
    finally:
        stop_manager(mgr)


class Notify:
    """A stand-in for systemd's notification socket: a datagram socket
    that records each message with its sender's pid (SO_PASSCRED, as
    systemd reads it)."""

    def __init__(self):
        self.path = os.path.join(tmpdir(), "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.got = []

    def poll(self):
        while True:
            try:
                msg, anc, _, _ = self.sock.recvmsg(4096, 256)
            except socket.timeout:
                return self.got
            pid = None
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == 0x02:
                    pid = int.from_bytes(data[0:4], sys.byteorder)
            self.got.append((pid, msg.decode()))

    def wait(self, what, timeout=20.0):
        return wait_until(lambda: what in self.poll(), timeout)


@test
def systemd_hears_ready_the_new_main_pid_and_stopping():
    """Type=notify: READY=1 from the process that serves, MAINPID= of the
    new process from the old one at an upgrade (NotifyAccess=main accepts
    it from the main pid only), STOPPING=1 from the main pid at the stop;
    the new process of an upgrade says nothing itself."""
    up = Upstream("a")
    port, aport = free_port(), free_port()
    n = Notify()
    gw = Gateway(config(up, port, aport), env={"NOTIFY_SOCKET": n.path})
    try:
        first = gw.pid()
        check(n.wait((first, "READY=1")), "no READY=1 from %d: %r"
              % (first, n.got))
        eq(get(port, "/").status, 200, "serving")
        new = gw.upgrade()
        check(n.wait((first, "MAINPID=%d" % new)),
              "no MAINPID=%d from %d: %r" % (new, first, n.got))
        eq([m for m in n.poll() if m[0] == new], [],
           "messages from the new process before it is the main pid")
        check((first, "STOPPING=1") not in n.got,
              "the old process said STOPPING=1 after handing over")
        eq(get(port, "/").status, 200, "serving after the upgrade")
        # a chain: the new main pid tells of the next upgrade itself (a
        # MAINPID= systemd never heard would make the exit of the process
        # it follows the end of the service)
        third = gw.upgrade()
        check(n.wait((new, "MAINPID=%d" % third)),
              "no MAINPID=%d from %d: %r" % (third, new, n.got))
        os.kill(third, signal.SIGTERM)
        check(n.wait((third, "STOPPING=1")), "no STOPPING=1 from %d: %r"
              % (third, n.got))
    finally:
        gw.stop()
        n.sock.close()


if __name__ == "__main__":
    main()
