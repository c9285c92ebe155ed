# SPDX-License-Identifier: MIT
"""Spliced request bodies (doc/design-notes.md, "Spliced request bodies"):
a Content-Length body of limits.splice_min_bytes or more goes from the
client's socket to the upstream's by splice(2). Byte-exact at the upstream
(sha256), never a byte of the next request, the same answers as the
buffered path when a side stops or fails, the limits still hold, no pipe
leaks, and the buffered path takes over when no pipe can be had."""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, build_request, check, eq, free_port,  # noqa
                    main, make_config, metrics, nfds, one_upstream_admin,
                    over_tls, read_json_lines, read_response, sha256,
                    start_sluice, test, tmpdir, wait_until)

KIB = 1024
MIB = 1 << 20


def payload(n, seed=1):
    import random
    return random.Random(seed).randbytes(n)


def setup(limits=None, up_kw=None, workers=1, access_log=None):
    return one_upstream_admin(limits, workers=workers, access_log=access_log,
                              **(up_kw or {}))


def head(method, path, n):
    """A request head announcing an n-byte body, sent apart."""
    return build_request(method, path, [("Content-Length", str(n))])


def spliced(aport):
    return metrics(aport).get("sluice_spliced_bytes_total", -1)


def pipes(sl):
    n = 0
    for f in os.listdir("/proc/%d/fd" % sl.pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (sl.pid, f)).startswith(
                    "pipe:"):
                n += 1
        except OSError:
            pass
    return n


@test
def spliced_upload_is_byte_exact_and_counted():
    up, sl, port, aport = setup()
    n = 3 * MIB + 12345
    data = payload(n)
    c = Client(port, timeout=15)
    # the head alone, then the body in pieces of odd sizes
    c.send(build_request("POST", "/up", [
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", str(n))]))
    for i in range(0, n, 777777):
        c.send(data[i:i + 777777])
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    eq(r.json()["body_len"], n, "length at the upstream")
    eq(r.json()["body_sha256"], sha256(data), "sha256 at the upstream")
    got = spliced(aport)
    if over_tls():
        eq(got, 0, "bytes spliced from a TLS client")
        return
    # all but what the buffer took before splicing began
    check(n - 64 * KIB <= got <= n, "bytes spliced: %d of %d" % (got, n))
    m = metrics(aport)
    check(m["sluice_client_received_bytes_total"] >= n,
          "spliced bytes counted as received")
    check(m["sluice_upstream_sent_bytes_total"] >= n,
          "spliced bytes counted as sent")
    eq(m.get("sluice_splice_no_pipe_total"), 0, "bodies without a pipe")
    eq(c.request("GET", "/after").status, 200, "keep-alive after it")


@test
def next_request_right_behind_a_spliced_body_is_its_own():
    # the body and the next two requests in one write: a splice takes the
    # body's bytes only, never the next head's
    up, sl, port, aport = setup()
    n = MIB + 1
    data = payload(n, 2)
    c = Client(port, timeout=15)
    c.send(build_request("PUT", "/first", None, data)
           + build_request("POST", "/second", None, b"tail-of-it")
           + build_request("GET", "/third"))
    r1 = read_response(c, "PUT")
    r2 = read_response(c, "POST")
    r3 = read_response(c, "GET")
    eq([r1.status, r2.status, r3.status], [200, 200, 200], "statuses")
    eq(r1.json()["body_sha256"], sha256(data), "first body")
    eq(r2.json()["body_sha256"], sha256(b"tail-of-it"), "second body")
    eq(up.paths(), ["/first", "/second", "/third"], "requests upstream")
    eq(up.accepts, 1, "one upstream connection")
    check(over_tls() or spliced(aport) > MIB // 2, "the body was spliced")


@test
def small_bodies_and_splice_off_go_through_the_buffer():
    up, sl, port, aport = setup()
    c = Client(port, timeout=15)
    # under the default splice_min_bytes (128 KiB)
    data = payload(100 * KIB, 3)
    r = c.request("POST", "/small", body=data)
    eq(r.json()["body_sha256"], sha256(data), "sha256")
    eq(spliced(aport), 0, "bytes spliced of a 100 KiB body")
    sl.stop()
    up, sl, port, aport = setup(limits={"splice_min_bytes": "0B"})
    data = payload(2 * MIB, 4)
    r = Client(port, timeout=15).request("POST", "/big", body=data)
    eq(r.json()["body_sha256"], sha256(data), "sha256")
    eq(spliced(aport), 0, "bytes spliced with splice_min_bytes: 0B")
    # chunked bodies are read through their framing, never spliced
    c = Client(port, timeout=15)
    sl.stop()
    up, sl, port, aport = setup(limits={"splice_min_bytes": "64KiB"})
    c = Client(port, timeout=15)
    enc = b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in
                   (data[i:i + 65536] for i in range(0, len(data), 65536)))
    c.send(build_request("POST", "/chunked",
                         [("Transfer-Encoding", "chunked")]) + enc
           + b"0\r\n\r\n")
    r = read_response(c, "POST")
    eq(r.json()["body_sha256"], sha256(data), "sha256 of the chunked body")
    eq(spliced(aport), 0, "bytes spliced of a chunked body")


@test
def slow_upstream_reader_holds_the_client_back():
    # the upstream waits 1 s before it reads: the pipe fills, reading from
    # the client stops (backpressure), and the body still arrives whole
    up, sl, port, aport = setup(up_kw={"body_delay": 1.0})
    data = payload(6 * MIB, 5)
    t0 = time.monotonic()
    r = Client(port, timeout=20).request("POST", "/slow", body=data)
    eq(r.status, 200, "status")
    eq(r.json()["body_sha256"], sha256(data), "sha256")
    check(time.monotonic() - t0 >= 0.9, "the upstream's delay not seen")
    if not over_tls():
        check(spliced(aport) > 5 * MIB, "the body was spliced")


@test
def held_spliced_uploads_give_their_request_buffer_back():
    # 50 uploads held by an upstream that does not read: buffered, each
    # holds a request buffer of buffer_bytes (64 KiB); spliced, its bytes
    # wait in the kernel (the pipe, the sockets) and sluice gives the
    # empty request buffer back (what is left is the upstream connection's
    # buffer for the answer, the same both ways)
    held = {}
    for name, lim in (("buffered", {"splice_min_bytes": "0B"}),
                      ("spliced", {})):
        up, sl, port, aport = setup(limits=lim,
                                    up_kw={"body_delay": 30.0,
                                           "keep_body": False})
        socks = []
        for i in range(50):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(head("POST", "/held%d" % i, MIB))
            s.setblocking(False)
            try:
                for _ in range(8):
                    s.send(b"h" * (64 * KIB))
            except BlockingIOError:
                pass
            socks.append(s)
        # every upload went as far as it can (the gauge is sampled every
        # 200 ms: read it once the sent bytes stop moving)
        last = [-1]

        def settled():
            m = metrics(aport)
            v = m["sluice_client_received_bytes_total"]
            done = v == last[0] and v > 0
            last[0] = v
            held[name] = m["sluice_buffer_bytes"]
            return done
        check(wait_until(settled, 10.0, 0.5), "%s uploads settle" % name)
        if name == "spliced":
            check(spliced(aport) > 0, "the uploads were spliced")
        for s in socks:
            s.close()
        up.stop()
        sl.stop()
    check(held["buffered"] >= 50 * 64 * KIB,
          "buffered uploads hold their buffers: %d bytes" % held["buffered"])
    check(held["buffered"] - held["spliced"] >= 50 * 64 * KIB,
          "spliced uploads hold request buffers: %d bytes (buffered %d)"
          % (held["spliced"], held["buffered"]))


@test
def client_gone_mid_body_leaks_nothing():
    alog = os.path.join(tmpdir(), "access.log")
    up, sl, port, aport = setup(access_log=alog)
    base_fds, base_pipes = nfds(sl.pid), pipes(sl)
    n = 8 * MIB
    data = payload(2 * MIB, 6)
    for i in range(12):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(head("POST", "/cut%d" % i, n) + data)
        time.sleep(0.05)
        if i % 2:
            # a reset, with bytes in flight
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    # each one logged as the client's: 499, closed in its body (or a read
    # error, for a reset)
    lines = read_json_lines(alog, lambda j: j.get("status") == 499,
                            timeout=5.0, min_count=12)
    eq(sorted(set(j.get("error") for j in lines)) <=
       ["client_closed_in_body", "client_read_error"], True,
       "errors logged: %s" % [j.get("error") for j in lines])
    # no request went whole to the upstream: each one stopped short
    time.sleep(0.5)
    eq(up.paths(), [], "complete requests upstream")
    # pipes that held bytes were closed, empty ones kept (at most 16)
    check(wait_until(lambda: pipes(sl) <= base_pipes + 32, 5.0),
          "pipes open: %d (at the start %d)" % (pipes(sl), base_pipes))
    check(wait_until(lambda: nfds(sl.pid) <= base_fds + 32, 5.0),
          "descriptors: %d (at the start %d)" % (nfds(sl.pid), base_fds))
    # and the gateway still serves, spliced
    data = payload(MIB, 7)
    r = Client(port, timeout=15).request("POST", "/after", body=data)
    eq(r.json()["body_sha256"], sha256(data), "sha256 after the cuts")


@test
def urgent_data_in_a_spliced_body_is_read_past():
    # splice(2) stops at TCP urgent data (a byte sent with MSG_OOB) and
    # moves nothing more while the socket stays readable: sluice spun a
    # worker until body_timeout, then answered 408. It now reads the rest
    # as any body (recv() passes the mark, and the byte is not part of
    # the stream), and the upstream gets the body whole.
    if over_tls():
        return
    up, sl, port, aport = setup(limits={"body_timeout": "5s"})
    n = 2 * MIB
    data = payload(n, 11)
    c = Client(port, timeout=15)
    c.send(head("POST", "/urgent", n) + data[:512 * KIB])
    check(wait_until(lambda: spliced(aport) > 0, 5.0), "splicing began")
    c.sock.send(b"U", socket.MSG_OOB)
    c.send(data[512 * KIB:])
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    eq(r.json()["body_len"], n, "length at the upstream")
    eq(r.json()["body_sha256"], sha256(data), "sha256 at the upstream")
    eq(c.request("GET", "/after").status, 200, "keep-alive after it")


def post_16mib_to(up, lim, path, seed, answer):
    """sluice with limits lim in front of RawEarly up: a 16 MiB POST sent
    until the connection takes no more, then its answer, as answer(r)
    makes of it (or the exception that came instead). Returns it, and
    the bytes spliced."""
    aport = free_port()
    cfg, port = make_config({"a": ["127.0.0.1:%d" % up.port]}, limits=lim,
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    sl = start_sluice(cfg)
    c = Client(port, timeout=15)
    n = 16 * MIB
    c.send(head("POST", path, n))
    sent = 0
    try:
        chunk = payload(256 * KIB, seed)
        while sent < n:
            c.send(chunk)
            sent += len(chunk)
    except OSError:
        pass
    try:
        got = answer(read_response(c, "POST"))
    except Exception as e:  # noqa: B902 - recorded for the compare
        got = repr(e)[:40]
    check(sl.proc.poll() is None, "sluice still runs")
    n_spliced = spliced(aport)
    up.close()
    sl.stop()
    return got, n_spliced


@test
def upstream_answering_early_is_the_same_spliced_or_not():
    # an upstream that answers before it has read the body (it reads it
    # only to answer, then closes): the client gets the upstream's answer
    # either way, and the connection ends
    results = [post_16mib_to(RawEarly(), lim, "/early", 8,
                             lambda r: r.status)[0]
               for lim in ({"splice_min_bytes": "0B"}, {})]
    eq(results[1], results[0], "answer spliced, against buffered")
    eq(results[0], 413, "the upstream's answer")


@test
def upstream_reset_mid_body_is_a_502_spliced_or_not():
    # an upstream that resets the connection in the middle of the body,
    # without a word: the write fails, nothing is retried (body bytes
    # went out), the client gets 502 either way
    results = []
    for lim in ({"splice_min_bytes": "0B"}, {}):
        got, n_spliced = post_16mib_to(
            RawEarly(reset=True), lim, "/reset", 12,
            lambda r: (r.status, r.json().get("error")))
        results.append(got)
        if lim == {}:
            check(n_spliced > 0, "the body was spliced")
    eq(results[1], results[0], "answer spliced, against buffered")
    eq(results[0][0], 502, "status")


class RawEarly:
    """Reads a head and 300 KiB of the body, then answers 413 and closes,
    or (reset) resets the connection."""

    def __init__(self, reset=False):
        import threading
        self.reset = reset
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            got = b""
            try:
                while len(got) < 300 * KIB:
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
                if self.reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                    continue
                s.sendall(b"HTTP/1.1 413 Payload Too Large\r\n"
                          b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            s.close()

    def close(self):
        self.ls.close()


@test
def body_timeout_and_limits_hold_while_spliced():
    up, sl, port, aport = setup(limits={"body_timeout": "1s",
                                        "max_body_bytes": "4MiB"})
    # stalls after 512 KiB: 408 after body_timeout
    c = Client(port, timeout=10)
    c.send(head("POST", "/stall", 2 * MIB) + payload(512 * KIB, 9))
    t0 = time.monotonic()
    r = read_response(c, "POST")
    eq(r.status, 408, "status of a stalled spliced body")
    check(time.monotonic() - t0 >= 0.8, "408 before body_timeout")
    check(wait_until(lambda: metrics(aport).get(
        'sluice_client_timeouts_total{reason="body_timeout"}', 0) == 1,
        3.0), "body_timeout counted")
    # over max_body_bytes: refused from its Content-Length, never spliced
    c = Client(port, timeout=10)
    c.send(head("POST", "/huge", 5 * MIB))
    eq(read_response(c, "POST").status, 413, "status over max_body_bytes")
    eq([p for p in up.paths() if p == "/huge"], [], "refused reached it")


@test
def no_pipe_no_splice():
    # the process may open no more descriptors when the body starts: the
    # pipe cannot be made, the body goes through the buffer, whole, and the
    # shortage is counted
    if over_tls():
        return
    up, sl, port, aport = setup()
    c = Client(port, timeout=15)
    n = 2 * MIB
    c.send(head("POST", "/nopipe", n))
    # the head is upstream (its connection open) before the limit
    check(wait_until(lambda: up.accepts == 1 and up.conns[0].bytes > 0,
                     5.0), "the upstream got the head")
    time.sleep(0.2)
    soft = subprocess.run(["prlimit", "--pid", str(sl.pid), "--nofile",
                           "--raw", "--noheadings", "-o", "SOFT"],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
    subprocess.run(["prlimit", "--pid", str(sl.pid),
                    "--nofile=%d:" % nfds(sl.pid)], check=True)
    data = payload(n, 10)
    c.send(data)
    r = read_response(c, "POST")
    subprocess.run(["prlimit", "--pid", str(sl.pid),
                    "--nofile=%s:" % soft], check=True)
    eq(r.status, 200, "status")
    eq(r.json()["body_sha256"], sha256(data), "sha256")
    m = metrics(aport)
    eq(m.get("sluice_splice_no_pipe_total"), 1, "bodies without a pipe")
    eq(m.get("sluice_spliced_bytes_total"), 0, "bytes spliced")


if __name__ == "__main__":
    main()
