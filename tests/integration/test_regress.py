# SPDX-License-Identifier: MIT
"""Regression tests for the defects fixed in "Fix nine defects found in
review of the connection code": one test per defect, each failing before
the fix.

Three cases use an LD_PRELOAD shim (shim_sndbuf.c, shim_blockw.c,
shim_outq.c next to this file), compiled here with the system's C
compiler; they are skipped when there is none."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import *  # noqa: E402,F401,F403
from sltest import (BufSock, Client, Closed, RawUpstream, Reply,  # noqa: E402
                    Skip, Upstream, build_request, check, eq, main, make_config,
                    parse_head, run_sluice, start_sluice,
                    test, tmpdir, to_yaml, wait_until, _register)

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# Helpers


def find_cc():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc.split()[0]):
            return cc
    return None


def shim_env(name):
    """Compiles tests/integration/shim_NAME.c into a temporary directory;
    returns the environment that preloads it into sluice. Skips the test
    when no C compiler is found."""
    cc = find_cc()
    if cc is None:
        raise Skip("no C compiler to build the %s shim" % name)
    src = os.path.join(HERE, "shim_%s.c" % name)
    so = os.path.join(tmpdir(), "shim.so")
    p = subprocess.run(cc.split() + ["-shared", "-fPIC", "-o", so, src,
                                     "-ldl"],
                       capture_output=True, timeout=120)
    check(p.returncode == 0, "building %s failed:\n%s"
          % (src, p.stderr.decode("utf-8", "replace")))
    pre = os.environ.get("LD_PRELOAD")
    asan = os.environ.get("ASAN_OPTIONS", "detect_leaks=1")
    return {"LD_PRELOAD": so + (":" + pre if pre else ""),
            "ASAN_OPTIONS": asan + ":verify_asan_link_order=0"}


def serve_simple(s, log, body=b"ok"):
    """Answers every request on s (Content-Length bodies) with 200."""
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            return
        log += d
        buf += d
        while b"\r\n\r\n" in buf:
            head, buf = buf.split(b"\r\n\r\n", 1)
            cl = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    cl = int(line.split(b":", 1)[1])
            while len(buf) < cl:
                d = s.recv(65536)
                if not d:
                    return
                log += d
                buf += d
            buf = buf[cl:]
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)


class SmallClient(Client):
    """A Client whose receive buffer is set before connecting."""

    def __init__(self, port, rcvbuf, timeout=5.0):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        BufSock.__init__(self, s)
        self.port = port
        _register("clients", self)


def read_framed(c, what):
    """Reads one response head and checks that it carries its own framing
    (Content-Length or chunked) before reading the body."""
    start, hdrs = parse_head(c.read_until(b"\r\n\r\n"))
    names = [k.lower() for k, _ in hdrs]
    check("content-length" in names or "transfer-encoding" in names,
          "%s: response %r has no framing field: %r" % (what, start, hdrs))
    cl = [v for k, v in hdrs if k.lower() == "content-length"]
    body = c.read_exact(int(cl[0])) if cl else None
    return start, hdrs, body


setup = one_upstream


# ---------------------------------------------------------------------------
# 1. Connection cannot remove Content-Length from a request (smuggling)


@test
def connection_cannot_strip_request_content_length():
    up, sl, port = setup()
    c = Client(port)
    smug = b"GET /admin/secret HTTP/1.1\r\nHost: internal\r\n\r\n"
    c.send(b"POST /public HTTP/1.1\r\nHost: a\r\n"
           b"Connection: Content-Length\r\n"
           b"Content-Length: %d\r\n\r\n" % len(smug) + smug)
    r = c.read_response()
    eq(r.status, 200, "status of the POST")
    # give a smuggled second request time to show up
    up.wait_requests(2, timeout=1.0)
    eq(up.paths(), ["/public"], "requests seen by the upstream")
    eq(up.requests[0].method, "POST", "method at upstream")
    eq(up.requests[0].header("content-length"), str(len(smug)),
       "Content-Length at upstream")
    eq(up.requests[0].body, smug, "POST body at upstream")


# ---------------------------------------------------------------------------
# 2. Connection cannot remove the framing of a response


@test
def connection_cannot_strip_response_framing():
    def h(req):
        return Reply(200, b"hello",
                     [("Connection", "Content-Length, Transfer-Encoding")])
    up, sl, port = setup(h)
    c = Client(port, timeout=3.0)
    c.send(build_request("GET", "/1") + build_request("GET", "/2"))
    for i in (1, 2):
        start, hdrs, body = read_framed(c, "response #%d" % i)
        check(start.startswith("HTTP/1.1 200"), "status line %r" % start)
        eq([v for k, v in hdrs if k.lower() == "content-length"], ["5"],
           "Content-Length of response #%d" % i)
        eq(body, b"hello", "body of response #%d" % i)
    check(not c.has_data(0.3), "stray bytes after two responses: %r"
          % bytes(c.buf[:200]))
    eq(up.paths(), ["/1", "/2"], "requests at upstream")


# ---------------------------------------------------------------------------
# 3. An upstream that answers before the request head is written: the rest
#    of the head is not dropped and the connection is not reused after a
#    truncated head


@test
def early_answer_during_head_write_not_pooled_truncated():
    env = shim_env("sndbuf")       # 4 KiB send buffers upstream
    BODY = 8000000
    pad = b"p" * 200000

    def handler(s, idx, log):
        if idx == 0:
            # answer at once, before reading the request head
            def answer():
                try:
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                              % BODY + b"x" * BODY)
                except OSError:
                    pass
            threading.Thread(target=answer, daemon=True).start()
            time.sleep(0.7)
            s.settimeout(10)
            while True:
                try:
                    d = s.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                log += d
        else:
            serve_simple(s, log)

    up = RawUpstream(handler, rcvbuf=2048)
    limits = {"max_header_bytes": "1MiB", "buffer_bytes": "1MiB",
              "max_uri_bytes": "8KiB"}
    cfg, port = make_config({"a": [up.addr]}, limits=limits)
    start_sluice(cfg, env=env)
    c = SmallClient(port, 4096, timeout=10.0)
    c.send(b"GET /first HTTP/1.1\r\nHost: a\r\nX-Pad: " + pad + b"\r\n\r\n")
    time.sleep(1.5)
    r = c.read_response()
    eq(r.status, 200, "status of the first response")
    eq(len(r.body), BODY, "length of the first body")
    c.send(b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
    ok = wait_until(lambda: any(b"GET /second" in x for x in up.snapshot()),
                    3.0)
    logs = up.snapshot()
    check(ok, "the second request never reached the upstream (%d "
          "connections, %r bytes)" % (len(logs), [len(x) for x in logs]))
    full_line = b"\r\nX-Pad: " + pad + b"\r\n"
    for idx, log in enumerate(logs):
        i = log.find(b"GET /second")
        if i <= 0:
            continue
        before = log[:i]
        check(full_line in before and before.endswith(b"\r\n\r\n"),
              "upstream connection %d: the second request follows a "
              "truncated first head (%d bytes before it, complete X-Pad "
              "line: %s, ends with: %r)"
              % (idx, len(before), full_line in before, before[-40:]))
    r2 = c.read_response()
    eq(r2.status, 200, "status of the second response")


# ---------------------------------------------------------------------------
# 4. Pipelined requests, then a half-close: every request is answered


@test
def pipelined_then_half_close_all_answered():
    def h(req):
        return Reply(200, ("resp %s" % req.target).encode(),
                     delay=0.3 if req.target == "/1" else 0.0)
    up, sl, port = setup(h)
    c = Client(port)
    c.send(build_request("GET", "/1") + build_request("GET", "/2"))
    c.sock.shutdown(socket.SHUT_WR)
    got = []
    for i in (1, 2):
        try:
            r = c.read_response()
        except Closed as e:
            raise AssertionError("after %d response(s) of 2: %s"
                                 % (len(got), e))
        got.append(r)
        eq(r.status, 200, "status of response #%d" % i)
        eq(r.body, b"resp /%d" % i, "body of response #%d" % i)
    eq(up.paths(), ["/1", "/2"], "requests at upstream")
    check(c.wait_closed(3.0), "connection not closed after the answers")


# ---------------------------------------------------------------------------
# 5. Many pipelined local answers in one read do not stall


@test
def many_pipelined_local_answers_do_not_stall():
    up, sl, port = setup()
    N = 600
    c = Client(port, timeout=3.0)
    # a request body makes sluice grow the input buffer to its whole
    # budget, so that the pipelined requests below arrive in one read
    c.send(b"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345")
    time.sleep(0.3)
    c.send(b"67890" + b"GET /x HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n"
           * N)
    r = c.read_response()
    eq(r.status, 200, "status of the POST")
    n = 0
    try:
        while n < N:
            r = c.read_response()
            eq(r.status, 417, "status of pipelined request #%d" % (n + 1))
            check(not r.wants_close(), "417 #%d closes the connection"
                  % (n + 1))
            n += 1
    except (socket.timeout, Closed) as e:
        raise AssertionError("only %d of %d pipelined requests answered "
                             "(%r)" % (n, N, e))
    eq(up.paths(), ["/b"], "requests at upstream")


# ---------------------------------------------------------------------------
# 6. An upstream head that exactly fills the buffer, CR last


@test
def upstream_head_filling_buffer_gets_502():
    first = b"HTTP/1.1 200 OK\r\nX-Pad: "
    head = first + b"a" * (4096 - len(first) - 1) + b"\r"
    eq(len(head), 4096, "length of the upstream head")

    def h(req):
        return Reply(action="raw", raw=head)     # and nothing more
    up = Upstream("a", h)
    limits = {"buffer_bytes": "4KiB", "max_header_bytes": "4KiB",
              "max_uri_bytes": "1KiB"}
    routes = [{"name": "main", "cluster": "a", "timeout": "30s"}]
    cfg, port = make_config({"a": [up]}, limits=limits, routes=routes)
    p = os.path.join(tmpdir(), "check.yaml")
    with open(p, "w") as f:
        f.write(to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 0, "sluice -t on buffer_bytes == max_header_bytes == 4KiB (%s)"
       % err.strip())
    start_sluice(cfg)
    c = Client(port, timeout=4.0)
    t0 = time.monotonic()
    c.send(build_request("GET", "/x"))
    try:
        r = c.read_response()
    except socket.timeout:
        raise AssertionError("no response within %.1fs"
                             % (time.monotonic() - t0))
    dt = time.monotonic() - t0
    eq(r.status, 502, "status")
    check(dt < 2.0, "502 took %.2fs" % dt)


# ---------------------------------------------------------------------------
# 7. A queued request answered locally leaves the queue (answered once)


@test
def queued_request_answered_locally_answered_once():
    env = shim_env("blockw")    # the first 400 cannot be written for 1.5s
    mark = os.path.join(tmpdir(), "blockw.mark")
    env["SHIM_MARK"] = mark

    def h(req):
        if req.target == "/a":
            return Reply(200, b"a", delay=3.0)
        return None
    up = Upstream("a", h)
    opts = {"a": {"max_connections": 1, "max_pending": 10,
                  "queue_timeout": "1s"}}
    cfg, port = make_config({"a": [up]}, cluster_opts=opts)
    start_sluice(cfg, env=env)
    a = Client(port, timeout=6.0)
    a.send(build_request("GET", "/a"))   # holds the only upstream connection
    up.wait_requests(1, 2.0)
    time.sleep(0.2)
    b = Client(port, timeout=6.0)
    r = b.request("GET", "/e", headers=[("Expect", "foo")])
    eq(r.status, 417, "warm-up status")
    b.send(b"POST /b HTTP/1.1\r\nHost: a\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n")      # queued
    time.sleep(0.2)
    b.send(b"zz\r\n")              # bad chunk size: a local 400 while queued
    r = b.read_response()
    eq(r.status, 400, "status of the bad chunked request")
    check(b.wait_closed(4.0), "connection not closed after the 400")
    check(not b.buf, "a second answer for the same request: %r"
          % bytes(b.buf[:300]))
    ra = a.read_response()
    eq(ra.status, 200, "status of the request holding the connection")
    eq(up.paths(), ["/a"], "requests at upstream")
    check(os.path.exists(mark), "the shim never blocked the 400: the "
          "test did not test anything (does sluice write another way?)")


# ---------------------------------------------------------------------------
# 8. HTTP/1.0 without Host goes upstream with a Host


@test
def http10_without_host_gets_host_upstream():
    up, sl, port = setup()
    c = Client(port)
    r = c.request("GET", "/x", host=None, version="1.0")
    eq(r.status, 200, "status")
    eq(len(up.requests), 1, "requests at upstream")
    u = up.requests[0]
    eq(u.version, "HTTP/1.1", "version at upstream")
    hosts = u.headers.get_all("host")
    eq(len(hosts), 1, "Host fields at upstream (%r)" % u.headers)
    check(hosts[0].strip() != "", "empty Host at upstream")


# ---------------------------------------------------------------------------
# 9. max_connections across workers: an idle pooled connection in one
#    worker does not starve requests queued in another


@test
def idle_pool_does_not_starve_other_worker():
    up = Upstream("a")
    opts = {"a": {"max_connections": 1, "pool": {"max_idle": 1}}}
    cfg, port = make_config({"a": [up]}, workers=2, cluster_opts=opts)
    start_sluice(cfg)
    got = []
    for i in range(12):
        c = Client(port, timeout=5.0)
        r = c.request("GET", "/%d" % i, headers=[("Connection", "close")])
        got.append(r.status)
        c.close()
    eq(got, [200] * 12, "statuses of 12 sequential requests")


# ---------------------------------------------------------------------------
# 10. An upstream that answers early (413) and closes without reading the
#     body: its answer reaches the client, not a 502


@test
def early_413_and_close_forwarded():
    early_answer_case(b"", {"max_body_bytes": "128MiB"})


@test
def early_413_with_a_large_head_and_close_forwarded():
    # the answer's head (20 KB) is larger than the first response buffer
    # (8 KiB): the one read made after the failed write must go on into a
    # larger buffer, not leave half a head and a 502
    early_answer_case(b"X-Big: " + b"v" * 20000 + b"\r\n",
                      {"max_body_bytes": "128MiB",
                       "max_header_bytes": "32KiB"})


def early_answer_case(extra, limits):
    BODY = 64 << 20            # more than the socket buffers hold
    answer = (b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
              + extra + b"Content-Length: 9\r\n\r\ntoo large")

    def handler(s, idx, log):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return
            buf += d
        log += buf
        time.sleep(0.3)        # sluice is stuck writing the body by now
        s.sendall(answer)
        s.close()              # unread body: the kernel resets

    up = RawUpstream(handler)
    cfg, port = make_config({"a": [up.addr]}, limits=limits)
    start_sluice(cfg)
    c = Client(port, timeout=5.0)
    c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
           % BODY)
    sent = [0]
    done = threading.Event()

    def feed():
        chunk = b"u" * 65536
        try:
            while sent[0] < BODY:
                c.sock.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass
        done.set()
    threading.Thread(target=feed, daemon=True).start()
    r = c.read_response()
    still_sending = not done.is_set()
    eq(r.status, 413, "status (body %r)" % r.body[:200])
    eq(r.body, b"too large", "body")
    check(still_sending, "the client had sent its whole body (%d bytes) "
          "before the answer came" % sent[0])


# ---------------------------------------------------------------------------
# 11. A local answer to a keep-alive HTTP/1.0 client says keep-alive


@test
def http10_keepalive_local_answer_keeps_alive():
    up = Upstream("a")
    routes = [{"name": "r", "match": {"path_prefix": "/routed"},
               "cluster": "a"}]
    cfg, port = make_config({"a": [up]}, routes=routes)
    start_sluice(cfg)
    c = Client(port, timeout=3.0)
    ka = [("Connection", "keep-alive")]
    r = c.request("GET", "/nowhere", headers=ka, version="1.0")
    eq(r.status, 404, "status of the unrouted request")
    check("keep-alive" in r.headers.tokens("connection"),
          "404 to an HTTP/1.0 keep-alive client lacks Connection: "
          "keep-alive: %r" % r.headers)
    check(not c.wait_closed(0.3), "connection closed after the 404")
    r = c.request("GET", "/routed/x", headers=ka, version="1.0")
    eq(r.status, 200, "status of the second request")
    eq(up.paths(), ["/routed/x"], "requests at upstream")


# ---------------------------------------------------------------------------
# 12. Drain closes an idle connection that holds a lone CR


@test
def drain_closes_idle_connection_with_lone_cr():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, extra={"drain_timeout": "10s"})
    sl = start_sluice(cfg)
    c = Client(port)
    c.send(b"\r")
    time.sleep(0.3)
    t0 = time.monotonic()
    sl.send_signal(signal.SIGTERM)
    rc = sl.wait(8.0)
    dt = time.monotonic() - t0
    check(rc is not None, "sluice still running %.1fs after SIGTERM" % dt)
    eq(rc, 0, "exit status")
    check(dt < 3.0, "sluice took %.2fs to exit (drain_timeout 10s)" % dt)
    check(sl.sanitizer_problem() is None, "sanitizer report")
    check(c.wait_closed(1.0), "idle connection not closed")


@test
def halfclose_with_incomplete_pipelined_body_closes():
    # 13 (found while testing 4): GET /1 and a POST whose body is cut
    # short, then SHUT_WR. /1 is answered; /2 can never complete, so the
    # connection must close at once instead of holding an upstream
    # connection with no timer armed.
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    got = bytearray()
    upstream_closed = threading.Event()

    def serve():
        s, _ = ls.accept()
        s.settimeout(10)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        got.extend(buf)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got.extend(d)
        except OSError:
            pass
        upstream_closed.set()
    threading.Thread(target=serve, daemon=True).start()
    cfg, port = make_config({"a": ["127.0.0.1:%d" % ls.getsockname()[1]]},
                            limits={"body_timeout": "30s"},
                            routes=[{"name": "main", "cluster": "a",
                                     "timeout": "30s"}])
    start_sluice(cfg)
    c = Client(port, timeout=5)
    c.send(build_request("GET", "/1") + b"POST /2 HTTP/1.1\r\nHost: a\r\n"
           b"Content-Length: 10\r\n\r\nabc")
    c.sock.shutdown(socket.SHUT_WR)
    eq(c.read_response().status, 200, "first pipelined request")
    check(c.wait_closed(3.0), "connection still open with a body that can "
          "never complete")
    check(upstream_closed.wait(3.0), "the upstream connection carrying the "
          "incomplete request was not closed")


@test
def close_asks_what_is_unsent_only_when_it_may_be():
    """The linger check (ioctl SIOCOUTQNSD) on a close is for a response
    that may still sit in the kernel: after a large one, not after a small
    one written whole (issue 29: one system call a closed connection)."""
    env = shim_env("outq")
    log = os.path.join(tmpdir(), "outq.log")
    env["SHIM_OUTQ_LOG"] = log
    BIG = 300000

    def h(req):
        if req.target == "/big":
            return Reply(200, b"b" * BIG)
        return Reply(200, b"small")
    up = Upstream("a", h)
    cfg, port = make_config({"a": [up]})
    start_sluice(cfg, env=env)

    def asked():
        if not os.path.exists(log):
            return 0
        with open(log) as f:
            return len(f.read().splitlines())
    for i in range(20):
        c = Client(port, timeout=5.0)
        r = c.request("GET", "/s%d" % i, headers=[("Connection", "close")])
        eq(r.status, 200, "status of small response %d" % i)
        eq(r.body, b"small", "body of small response %d" % i)
        check(c.wait_closed(3.0), "connection %d not closed" % i)
        c.close()
    eq(asked(), 0, "closes that asked what is unsent after small responses")
    c = Client(port, timeout=5.0, rcvbuf=4096)
    c.send(build_request("GET", "/big", [("Connection", "close")]))
    time.sleep(0.5)            # the response fills the client's window
    r = read_response(c, "GET")
    eq(r.status, 200, "status of the large response")
    eq(len(r.body), BIG, "length of the large response")
    check(c.wait_closed(3.0), "connection not closed after the large one")
    check(wait_until(lambda: asked() >= 1, 3.0),
          "the close after a large response did not ask what is unsent")


if __name__ == "__main__":
    main()
