#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The driver of contrib/soak.sh: hours of mixed traffic through one sluice,
with faults, watching what must not grow.

usage: contrib/soak.py --sluice BIN --work DIR [--minutes N] [--sample S]
                       [--hup S] [--restart S] [--clients N]

Traffic (loopback only): keep-alive clients and short-connection clients
over HTTP/1.1, and as many HTTP/2 clients (prior knowledge on the same
port, python3-h2 of Debian; skipped with a note where it is missing), each
with up to 8 streams at a time on one connection and now and then a
stream it resets before its answer
(GET of 0 B to 1 MiB, now and then 10 MiB, POST of 0 B to 1 MiB, some
chunked), about 0.1 % hostile requests (smuggling-shaped framing, bad
bytes: each must get a 400 and a close), and a few slow clients at a time
(slowloris, slow readers: each must be cut). The route splits between two
clusters v1 and v2 with a sticky header.

Faults: every --hup seconds the weights change and sluice gets SIGHUP;
every --restart seconds one upstream is stopped and started again 1 s
later on the same port. A 502/503/504 or a reset within 5 s of a restart
is explained; any other error is not.

Every --sample seconds: sluice's RSS, open descriptors, and its TCP sockets
by state. Every --restart seconds, before the restart, traffic pauses for
7 s (a quiet period, longer than the pools' idle_timeout) and the descriptors are read again: they must come
back to the baseline of the first quiet period.

Prints the samples as they come and a verdict; writes DIR/samples.tsv and
DIR/errors.tsv. Exit status 0 when RSS is flat after warm-up (the last
quarter's median within 10 % + 4 MiB of the second quarter's), descriptors
are back at every quiet period, CLOSE_WAIT does not build up, no client saw
an unexplained error, and sluice exits 0 on SIGTERM with no sanitizer
report; 1 otherwise.
"""

import argparse
import atexit
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

KiB, MiB = 1 << 10, 1 << 20
TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV",
              "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
              "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK",
              "0A": "LISTEN", "0B": "CLOSING"}
BLOB = os.urandom(1 * MiB)


_given = set()


def free_port():
    """A free port outside the kernel's ephemeral range: an upstream is
    stopped and started again on its port, and in between an outgoing
    connection (sluice's own, to that very port: a self-connect) could be
    given it as its local port, and the restart's bind would fail."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    ranges = [(a, b) for a, b in ((10000, lo - 1), (hi + 1, 65535))
              if b - a > 1000]
    for _ in range(500):
        a, b = random.choice(ranges) if ranges else (0, 0)
        p = random.randint(a, b) if ranges else 0
        if p in _given:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            p = s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
        _given.add(p)
        return p
    raise RuntimeError("no free port outside the ephemeral range")


# ---- upstreams -------------------------------------------------------------

def read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n"))


def read_body(f, headers):
    te = headers.get(b"transfer-encoding", b"").lower()
    if b"chunked" in te:
        n = 0
        while True:
            size = int(f.readline(1024).split(b";")[0], 16)
            if size == 0:
                while f.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                return n
            n += len(f.read(size))
            f.readline(16)
    cl = int(headers.get(b"content-length", b"0"))
    left = cl
    while left > 0:
        d = f.read(min(left, 256 * KiB))
        if not d:
            raise EOFError
        left -= len(d)
    return cl


class Upstream:
    """A small keep-alive HTTP/1.1 server: GET /bytes/N answers N bytes,
    anything else a short body. stop() closes everything; start() listens
    again on the same port."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.lsock = None
        self.conns = set()
        self.lock = threading.Lock()
        self.up = False

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(1024)
        self.lsock = s
        self.up = True
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def stop(self):
        self.up = False
        # shutdown() first: close() alone does not wake the thread blocked
        # in accept(), whose reference keeps the socket listening, and the
        # restart's bind() then fails (EADDRINUSE) unless a connection
        # happened to come in the meantime
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            with self.lock:
                self.conns.add(c)
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                head = read_head(f)
                if head is None:
                    break
                method, target = head[0].split(b" ")[:2]
                hs = {}
                for line in head[1:]:
                    k, _, v = line.partition(b":")
                    hs[k.strip().lower()] = v.strip()
                read_body(f, hs)
                n = 2
                m = re.match(rb"/bytes/(\d+)", target)
                if m:
                    n = int(m.group(1))
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                          b"X-Cluster: %s\r\n\r\n" % (n, self.name.encode()))
                while n > 0:
                    k = min(n, len(BLOB))
                    c.sendall(BLOB[:k] if method != b"HEAD" else b"")
                    n -= k
        except (OSError, ValueError, EOFError):
            pass
        finally:
            with self.lock:
                self.conns.discard(c)
            try:
                c.close()
            except OSError:
                pass


# ---- sluice ----------------------------------------------------------------

def config(port, aport, ups, w1):
    return """workers: 2
drain_timeout: 5s
log:
  level: info
  access: off
admin:
  address: 127.0.0.1:%d
listeners:
  - name: main
    address: 127.0.0.1:%d
    limits:
      header_timeout: 3s
      body_timeout: 5s
      min_send_rate: 1KiB
      send_timeout: 5s
      idle_timeout: 10s
      max_body_bytes: 16MiB
    protocols: [h2, http/1.1]
    routes:
      - name: main
        split:
          - { cluster: v1, weight: %d }
          - { cluster: v2, weight: %d }
        sticky: header:X-User
        timeout: 10s
clusters:
  - name: v1
    endpoints: [ "127.0.0.1:%d" ]
    pool: { idle_timeout: 5s }
  - name: v2
    endpoints: [ "127.0.0.1:%d" ]
    pool: { idle_timeout: 5s }
""" % (aport, port, w1, 100 - w1, ups[0].port, ups[1].port)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def socket_inodes(pid):
    """The inodes of the sockets pid holds open."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    return inodes


def tcp_states(pid):
    inodes = socket_inodes(pid)
    out = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            x = row.split()
            if x[9] in inodes:
                st = TCP_STATES.get(x[3], x[3])
                out[st] = out.get(st, 0) + 1
    return out


def held_ports(pid, lport):
    """The client ports of the connections to lport that pid still holds
    open (an orphaned socket has inode 0 and is not held)."""
    inodes = socket_inodes(pid)
    out = set()
    with open("/proc/net/tcp") as f:
        for row in f.read().splitlines()[1:]:
            x = row.split()
            if int(x[1].split(":")[1], 16) == lport and x[9] in inodes:
                out.add(int(x[2].split(":")[1], 16))
    return out


# ---- clients ---------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.hostile = 0
        self.slow = 0
        self.h2_ok = 0          # of ok, the HTTP/2 streams
        self.h2_resets = 0      # streams the HTTP/2 clients reset
        self.errors = []        # (time, kind, detail)

    def add_ok(self, n=1):
        with self.lock:
            self.ok += n

    def error(self, kind, detail):
        with self.lock:
            self.errors.append((time.time(), kind, str(detail)[:200]))


def recv_response(s, method="GET"):
    """Reads one response; returns (status, close?, body length)."""
    f = s.makefile("rb")
    try:
        line = f.readline(65536)
        if not line:
            raise EOFError("closed before a response")
        status = int(line.split(b" ")[1])
        hs = {}
        for h in read_head(f) or []:
            k, _, v = h.partition(b":")
            hs[k.strip().lower()] = v.strip()
        n = 0 if method == "HEAD" else read_body(f, hs)
        return status, hs.get(b"connection", b"").lower() == b"close", n
    finally:
        f.close()


def request_bytes(rnd, user):
    r = rnd.random()
    if r < 0.002:
        size = 10 * MiB
    elif r < 0.05:
        size = rnd.randint(64 * KiB, MiB)
    else:
        size = rnd.choice((0, 10, 100, 1000, 4000))
    if rnd.random() < 0.8:
        return ("GET /bytes/%d HTTP/1.1\r\nHost: soak\r\nX-User: %s\r\n\r\n"
                % (size, user)).encode(), size
    body = BLOB[:min(size, MiB)]
    if rnd.random() < 0.3:
        enc = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else \
            b"0\r\n\r\n"
        return (b"POST /pay HTTP/1.1\r\nHost: soak\r\nX-User: %s\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" % user.encode()) + enc, 2
    return (b"POST /pay HTTP/1.1\r\nHost: soak\r\nX-User: %s\r\n"
            b"Content-Length: %d\r\n\r\n" % (user.encode(), len(body))
            + body), 2


HOSTILE = [
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
    b"Content-Length: 2\r\n\r\nab",
    b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\nContent-Length: 5\r\n\r\n",
]


def client(port, stats, stop, pause, keepalive, seed):
    rnd = random.Random(seed)
    s = None
    while not stop.is_set():
        if pause.is_set():
            if s is not None:
                s.close()
                s = None
            time.sleep(0.1)
            continue
        try:
            if s is None:
                s = socket.create_connection(("127.0.0.1", port), timeout=15)
            if rnd.random() < 0.001:
                s.sendall(rnd.choice(HOSTILE))
                st, close, _ = recv_response(s)
                if st != 400 or not close:
                    stats.error("hostile", "status %d close %s" % (st, close))
                else:
                    with stats.lock:
                        stats.hostile += 1
                s.close()
                s = None
                continue
            req, want = request_bytes(rnd, "u%d" % rnd.randint(0, 9999))
            s.sendall(req)
            st, close, n = recv_response(s)
            if st != 200 or n != want:
                stats.error("status", "status %d, %d of %d bytes"
                            % (st, n, want))
            else:
                stats.add_ok()
            if close or not keepalive:
                s.close()
                s = None
        except (OSError, EOFError, ValueError) as e:
            stats.error("io", repr(e))
            if s is not None:
                s.close()
            s = None
            time.sleep(0.05)
    if s is not None:
        s.close()


try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    HAVE_H2 = True
except ImportError:
    HAVE_H2 = False


def h2_client(port, stats, stop, pause, seed):
    """An HTTP/2 client: one connection (prior knowledge), up to 8 streams
    at a time, GETs and POSTs as the HTTP/1.1 clients make them, checked
    by length; one stream in 200 reset right after its HEADERS (it must
    not cost the connection). A new connection after a GOAWAY or a close
    (the SIGHUPs send none; the upstream restarts may reset streams)."""
    rnd = random.Random(seed)
    while not stop.is_set():
        if pause.is_set():
            time.sleep(0.1)
            continue
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        except OSError as e:
            stats.error("io", repr(e))
            time.sleep(0.05)
            continue
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        open_ = {}              # stream -> [want, got, status]
        try:
            sock.sendall(conn.data_to_send())
            while not stop.is_set() and not pause.is_set():
                while len(open_) < 8:
                    sid = conn.get_next_available_stream_id()
                    size = rnd.choice((0, 10, 1000, 4000, 64 * KiB,
                                       rnd.randint(0, MiB)))
                    user = "u%d" % rnd.randint(0, 9999)
                    if rnd.random() < 0.8:
                        conn.send_headers(sid, [
                            (":method", "GET"), (":scheme", "http"),
                            (":authority", "soak"),
                            (":path", "/bytes/%d" % size),
                            ("x-user", user)], end_stream=True)
                        want = size
                    else:
                        body = BLOB[:size]
                        conn.send_headers(sid, [
                            (":method", "POST"), (":scheme", "http"),
                            (":authority", "soak"), (":path", "/pay"),
                            ("x-user", user)])
                        # what the windows let go now; the rest as they
                        # open (pending)
                        open_[sid] = [2, 0, 0, body]
                        want = None
                    if rnd.random() < 0.005:
                        conn.reset_stream(sid, 8)
                        open_.pop(sid, None)
                        with stats.lock:
                            stats.h2_resets += 1
                    elif want is not None:
                        open_[sid] = [want, 0, 0, None]
                for sid, st in list(open_.items()):
                    body = st[3]
                    if body is None:
                        continue
                    n = min(len(body), conn.local_flow_control_window(sid),
                            conn.max_outbound_frame_size)
                    if n > 0 or not body:
                        conn.send_data(sid, body[:n],
                                       end_stream=n == len(body))
                        st[3] = body[n:] if n < len(body) else None
                sock.sendall(conn.data_to_send())
                sock.settimeout(15)
                d = sock.recv(262144)
                if not d:
                    raise EOFError("closed")
                for e in conn.receive_data(d):
                    sid = getattr(e, "stream_id", None)
                    st = open_.get(sid)
                    if isinstance(e, h2.events.ResponseReceived) and st:
                        st[2] = int(dict(e.headers).get(":status", "0"))
                    elif isinstance(e, h2.events.DataReceived):
                        if st:
                            st[1] += len(e.data)
                        conn.acknowledge_received_data(
                            e.flow_controlled_length, sid)
                    elif isinstance(e, h2.events.StreamEnded) and st:
                        open_.pop(sid)
                        if st[2] != 200 or st[1] != st[0]:
                            stats.error("status", "h2 status %d, %d of %d "
                                        "bytes" % (st[2], st[1], st[0]))
                        else:
                            stats.add_ok()
                            with stats.lock:
                                stats.h2_ok += 1
                    elif isinstance(e, h2.events.StreamReset) and st:
                        open_.pop(sid)
                        stats.error("io", "h2 stream reset (%s)"
                                    % e.error_code)
                    elif isinstance(e, h2.events.ConnectionTerminated):
                        raise EOFError("GOAWAY %s" % e.error_code)
        except (OSError, EOFError, ValueError,
                h2.exceptions.ProtocolError) as e:
            if not pause.is_set() and not stop.is_set():
                stats.error("io", "h2: " + repr(e))
        try:
            sock.close()
        except OSError:
            pass


def slow_clients(port, pid, stats, stop, pause):
    """A few slowloris and slow readers at a time; each must be cut."""
    rnd = random.Random(7)
    while not stop.is_set():
        if pause.is_set():
            time.sleep(0.1)
            continue
        socks = []
        for i in range(10):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                if i % 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: soak\r\n\r\n"
                              % (4 * MiB))
                else:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: ")
                socks.append(s)
            except OSError as e:
                stats.error("slow-connect", repr(e))
        # slowloris (even) send a byte now and then and must get a 408
        # or a close; slow readers (odd) read a byte now and then and
        # must be cut before the end of their 4 MiB. Cut means sluice no
        # longer holds the connection (a FIN queued behind unread bytes
        # would take the client hours to see at this pace).
        t0 = time.monotonic()
        got = {s: 0 for s in socks}
        alive = list(socks)
        while alive and time.monotonic() < t0 + 20 and not pause.is_set() \
                and not stop.is_set():
            held = held_ports(pid, port)
            for s in list(alive):
                reader = socks.index(s) % 2 == 1
                try:
                    if s.getsockname()[1] not in held:
                        alive.remove(s)
                        continue
                    s.settimeout(0.01)
                    d = s.recv(1 if reader else 65536)
                    got[s] += len(d)
                    if d == b"":
                        alive.remove(s)
                except socket.timeout:
                    if not reader:
                        try:
                            s.send(b"a")
                        except OSError:
                            alive.remove(s)
                except OSError:
                    alive.remove(s)
            time.sleep(0.5 + rnd.random() * 0.5)
        if pause.is_set() or stop.is_set():
            for s in socks:
                s.close()
            continue
        whole = [s for s in socks if socks.index(s) % 2 == 1 and
                 got[s] >= 4 * MiB]
        if alive or whole:
            stats.error("slow", "of 10 slow clients %d not cut in 20 s, %d "
                        "slow readers got the whole body"
                        % (len(alive), len(whole)))
        with stats.lock:
            stats.slow += len(socks) - len(alive)
        for s in socks:
            s.close()


# ---- the run ---------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--sample", type=float, default=10.0)
    ap.add_argument("--hup", type=float, default=60.0)
    ap.add_argument("--restart", type=float, default=300.0)
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    ups = [Upstream("v1"), Upstream("v2")]
    for u in ups:
        u.start()
    port, aport = free_port(), free_port()
    cfg = os.path.join(a.work, "sluice.yaml")
    w1 = 90
    with open(cfg, "w") as f:
        f.write(config(port, aport, ups, w1))
    err = open(os.path.join(a.work, "sluice.err"), "wb")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    sl = subprocess.Popen([a.sluice, "-c", cfg], stdin=subprocess.DEVNULL,
                          stdout=err, stderr=err, env=env)
    # a failure of the harness itself must not leave sluice running
    atexit.register(lambda: sl.poll() is None and sl.kill())
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    stats = Stats()
    stop, pause = threading.Event(), threading.Event()
    ths = [threading.Thread(target=client,
                            args=(port, stats, stop, pause, i % 2 == 0, i),
                            daemon=True) for i in range(a.clients)]
    if HAVE_H2:
        ths += [threading.Thread(target=h2_client,
                                 args=(port, stats, stop, pause, 1000 + i),
                                 daemon=True) for i in range(a.clients)]
    else:
        print("soak: no python3-h2 for this Python: HTTP/2 clients skipped",
              flush=True)
    ths.append(threading.Thread(target=slow_clients,
                                args=(port, sl.pid, stats, stop, pause),
                                daemon=True))
    for t in ths:
        t.start()

    t0 = time.monotonic()
    end = t0 + a.minutes * 60
    next_sample, next_hup = t0, t0 + a.hup
    next_restart = t0 + a.restart
    restarts = []               # wall-clock times of upstream restarts
    samples = []                # (t, rss KiB, fds, CLOSE_WAIT, states)
    quiet = []                  # (t, fds) at quiet periods
    nrestart = 0
    out = open(os.path.join(a.work, "samples.tsv"), "w")
    out.write("seconds\trss_kib\tfds\tclose_wait\tstates\tok\terrors\n")
    print("soak: sluice pid %d on 127.0.0.1:%d, %.0f min, %d clients"
          % (sl.pid, port, a.minutes, a.clients), flush=True)
    while time.monotonic() < end and sl.poll() is None:
        now = time.monotonic()
        if now >= next_sample:
            st = tcp_states(sl.pid)
            row = (now - t0, rss_kib(sl.pid), fds(sl.pid),
                   st.get("CLOSE_WAIT", 0), st)
            samples.append(row)
            line = "%.0f\t%d\t%d\t%d\t%s\t%d\t%d" % (
                row[0], row[1], row[2], row[3],
                ",".join("%s=%d" % kv for kv in sorted(st.items())),
                stats.ok, len(stats.errors))
            out.write(line + "\n")
            out.flush()
            print("soak: " + line, flush=True)
            next_sample += a.sample
        if now >= next_hup:
            w1 = random.choice((0, 1, 5, 25, 50, 75, 90, 100))
            with open(cfg, "w") as f:
                f.write(config(port, aport, ups, w1))
            sl.send_signal(signal.SIGHUP)
            next_hup += a.hup
        if now >= next_restart:
            # a quiet period first: descriptors back to the baseline
            pause.set()
            time.sleep(7.0)     # pool.idle_timeout is 5 s
            quiet.append((now - t0, fds(sl.pid)))
            print("soak: quiet period at %.0f s: %d descriptors"
                  % (now - t0, quiet[-1][1]), flush=True)
            pause.clear()
            u = ups[nrestart % 2]
            nrestart += 1
            restarts.append(time.time())
            u.stop()
            time.sleep(1.0)
            u.start()
            next_restart += a.restart
        time.sleep(0.2)

    stop.set()
    for t in ths:
        t.join(20)
    pause.set()
    time.sleep(7.0)
    quiet.append((time.monotonic() - t0, fds(sl.pid)))
    died = sl.poll() is not None
    if not died:
        sl.send_signal(signal.SIGTERM)
        try:
            rc = sl.wait(30)
        except subprocess.TimeoutExpired:
            sl.kill()
            rc = "did not exit in 30 s"
    else:
        rc = "died during the run (%s)" % sl.returncode
    err.close()
    with open(os.path.join(a.work, "sluice.err"), "rb") as f:
        log = f.read().decode("utf-8", "replace")

    # ---- verdict ----
    bad = []

    def explained(e):
        return e[1] in ("status", "io") and any(
            abs(e[0] - r) < 5.0 for r in restarts)
    unexplained = [e for e in stats.errors if not explained(e)]
    with open(os.path.join(a.work, "errors.tsv"), "w") as f:
        for e in stats.errors:
            f.write("%.3f\t%s\t%s\t%s\n" % (e[0], e[1], e[2],
                                            "explained" if explained(e)
                                            else "UNEXPLAINED"))
    n = len(samples)
    if n >= 8:
        q2 = [s[1] for s in samples[n // 4:n // 2]]
        q4 = [s[1] for s in samples[3 * n // 4:]]
        m2, m4 = statistics.median(q2), statistics.median(q4)
        flat = m4 <= m2 * 1.10 + 4096
        print("soak: RSS median %.1f MiB in the second quarter, %.1f MiB in "
              "the last (max %.1f): %s" % (m2 / 1024, m4 / 1024,
                                           max(s[1] for s in samples) / 1024,
                                           "flat" if flat else "GROWS"))
        if not flat:
            bad.append("RSS grows")
    if quiet:
        base = quiet[0][1]
        grown = [q for q in quiet if q[1] > base + 4]
        print("soak: descriptors at quiet periods: %s"
              % ", ".join("%d" % q[1] for q in quiet))
        if grown:
            bad.append("descriptors not back at %d quiet period(s)"
                       % len(grown))
    cw = [s[3] for s in samples]
    if cw:
        print("soak: CLOSE_WAIT max %d, last %d" % (max(cw), cw[-1]))
        if cw[-1] > 10 and cw[-1] >= max(cw[:len(cw) // 2] or [0]) * 2:
            bad.append("CLOSE_WAIT builds up")
    print("soak: %d requests ok (%d of them HTTP/2 streams, %d streams "
          "reset by the clients), %d hostile refused, %d slow clients cut, "
          "%d errors (%d unexplained), %d reloads, %d upstream restarts"
          % (stats.ok, stats.h2_ok, stats.h2_resets, stats.hostile,
             stats.slow, len(stats.errors),
             len(unexplained), int(a.minutes * 60 / a.hup), len(restarts)))
    for e in unexplained[:10]:
        print("soak: unexplained: %s %s" % (e[1], e[2]))
    if unexplained:
        bad.append("%d unexplained client errors" % len(unexplained))
    if rc != 0:
        bad.append("sluice exit: %s" % rc)
    for pat in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                "runtime error:"):
        if pat in log:
            bad.append("sanitizer report in sluice's log (%s)" % pat)
    for u in ups:
        u.stop()
    print("soak: %s" % ("PASS" if not bad else "FAIL: " + "; ".join(bad)),
          flush=True)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
