# SPDX-License-Identifier: MIT
"""gRPC calls through sluice (doc/grpc.md): sluice's own errors as gRPC
statuses in trailers-only answers, and grpc-timeout shortening the route's
deadline (never lengthening it). The clients are real: Debian's
python3-grpcio (generic calls on raw bytes, no protobuf needed) and a raw
HTTP/2 client (python3-h2) for what the library hides (the frames, the
fields of the answer). Upstreams are raw sockets: with no HTTP/2 upstream
yet (doc/grpc.md, "Status"), what is tested is what sluice answers
itself."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (check, eq, free_port, main, make_config,  # noqa: E402
                    metrics, read_json_lines, start_sluice, test, tmpdir,
                    wait_until)

import grpc  # noqa: E402  (Debian: python3-grpcio)
import h2test  # noqa: E402

METHOD = "/sluice.test.Echo/Call"


def silent_upstream():
    """An upstream that takes connections and requests and never
    answers; returns (address, accepted sockets)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    conns = []

    def run():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            conns.append(c)
    threading.Thread(target=run, daemon=True).start()
    return "127.0.0.1:%d" % ls.getsockname()[1], conns


def grpc_sluice(endpoints, routes=None, route_opts=None, listener_opts=None):
    """sluice with an h2c listener (HTTP/2 by prior knowledge, as gRPC
    clients speak it), an access log and an admin listener; returns
    (sluice, port, admin port, access log)."""
    aport = free_port()
    log = os.path.join(tmpdir(), "access.log")
    route = {"name": "rpc", "cluster": "svc"}
    route.update(route_opts or {})
    opts = {"protocols": ["h2", "http/1.1"]}
    opts.update(listener_opts or {})
    cfg, port = make_config({"svc": endpoints}, routes=routes or [route],
                            access_log=log, listener_opts=opts,
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    # gRPC's clients speak cleartext HTTP/2 here: no TLS on the listener
    cfg["listeners"][0].pop("tls", None)
    sltest._tls_ports.discard(port)
    return start_sluice(cfg), port, aport, log


def call(port, timeout=10.0, metadata=None, method=METHOD):
    """One unary call through sluice; returns the RpcError (or None when
    it succeeded)."""
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        stub = ch.unary_unary(method)
        try:
            stub(b"\x00\x01payload", timeout=timeout, metadata=metadata)
        except grpc.RpcError as e:
            return e
    return None


def grpc_log(log):
    check(wait_until(lambda: read_json_lines(log), 5), "a log line")
    return read_json_lines(log)[-1]


def grpc_count(aport, status):
    return metrics(aport).get(
        'sluice_grpc_responses_total{source="sluice",grpc_status="%d"}'
        % status, 0)


def raw_call(port, fields=(), path=METHOD):
    """A gRPC call by hand (python3-h2): returns the stream, ended."""
    c = h2test.H2Client(port)
    sid = c.request("POST", path,
                    headers=[("content-type", "application/grpc"),
                             ("te", "trailers")] + list(fields),
                    body=b"\x00\x00\x00\x00\x02hi", end=True)
    st = c.streams[sid]
    check(c.wait(lambda: st.ended or st.reset is not None, 15),
          "the call ended")
    c.close()
    return st


def fields_of(hs):
    return {(k.decode() if isinstance(k, bytes) else k):
            (v.decode() if isinstance(v, bytes) else v) for k, v in hs}


@test
def no_upstream_is_unavailable_in_a_trailers_only_answer():
    """The cluster's endpoint refuses connections: the client gets
    UNAVAILABLE (14), what gRPC clients retry, in HEADERS that end the
    stream (a trailers-only answer); the log line and the metric say so;
    a plain HTTP/2 request on the same route still gets the JSON 502."""
    dead = "127.0.0.1:%d" % free_port()
    sl, port, aport, log = grpc_sluice([dead])
    e = call(port)
    check(e is not None, "the call failed")
    eq(e.code(), grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE")
    check(e.details(), "a grpc-message: %r" % e.details())
    j = grpc_log(log)
    eq((j["status"], j.get("grpc_status")), (200, 14), "logged: %r" % j)
    check(j["error"], "the error code logged: %r" % j)
    eq(grpc_count(aport, 14), 1, "counted")
    # the frames: one HEADERS with END_STREAM, no DATA
    st = raw_call(port)
    f = fields_of(st.headers)
    eq(f.get(":status"), "200", ":status")
    eq(f.get("grpc-status"), "14", "grpc-status in the HEADERS")
    eq(f.get("content-type"), "application/grpc", "content-type")
    check(f.get("x-request-id"), "x-request-id")
    check("content-length" not in f, "no content-length: %r" % f)
    eq(st.body, b"", "no DATA")
    eq(st.trailers, None, "nothing after the HEADERS")
    # not gRPC: the usual JSON error
    c = h2test.H2Client(port)
    r = c.get("/plain")
    eq(r.status, 502, "a plain request's 502")
    c.close()


@test
def an_http1_upstreams_empty_answer_is_trailers_only():
    """An HTTP/1.1 upstream's head-only answer to a call (its
    Content-Length: 0 frames the text) reaches the client as a
    trailers-only answer: one HEADERS that ends the stream, the
    upstream's fields without that Content-Length; grpcio reads the
    status."""
    def handler(s, idx, log):
        bs = sltest.BufSock(s)
        while True:
            try:
                head = bs.read_until(b"\r\n\r\n", 65536)
                h = sltest.Headers(sltest.parse_head(head)[1])
                if "chunked" in h.tokens("transfer-encoding"):
                    sltest.read_chunked(bs)
                elif h.get("content-length"):
                    bs.read_exact(int(h.get("content-length")))
            except sltest.Closed:
                return
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/grpc"
                      b"\r\nGrpc-Status: 9\r\nGrpc-Message: closed\r\n"
                      b"Content-Length: 0\r\n\r\n")
    up = sltest.RawUpstream(handler)
    sl, port, aport, log = grpc_sluice([up.addr])
    st = raw_call(port)
    f = fields_of(st.headers)
    eq(f.get(":status"), "200", ":status")
    eq(f.get("grpc-status"), "9", "the upstream's grpc-status")
    eq(f.get("grpc-message"), "closed")
    check("content-length" not in f, "no content-length: %r" % f)
    eq(st.body, b"", "no DATA")
    eq(st.trailers, None, "nothing after the HEADERS")
    e = call(port)
    check(e is not None, "the call failed")
    eq(e.code(), grpc.StatusCode.FAILED_PRECONDITION)


@test
def grpc_timeout_shortens_the_routes_deadline():
    """An upstream that never answers, a route timeout of 30 s: a call
    with grpc-timeout 400m is answered DEADLINE_EXCEEDED (4) by sluice
    after about 400 ms (well before the route's), logged as
    deadline_exceeded, and the endpoint is not blamed for it."""
    addr, conns = silent_upstream()
    sl, port, aport, log = grpc_sluice([addr],
                                       route_opts={"timeout": "30s"})
    t0 = time.monotonic()
    st = raw_call(port, fields=[("grpc-timeout", "400m")])
    took = time.monotonic() - t0
    f = fields_of(st.headers)
    eq(f.get("grpc-status"), "4", "DEADLINE_EXCEEDED")
    check(0.35 < took < 10, "after the call's deadline: %.2f s" % took)
    j = grpc_log(log)
    eq((j["error"], j.get("grpc_status")), ("deadline_exceeded", 4),
       "logged: %r" % j)
    check(j["duration_ms"] < 10000, "not the route's 30 s: %r" % j)
    check(conns, "the request went upstream")
    eq(metrics(aport)["sluice_upstream_failures_total"], 0,
       "no upstream failure counted")
    # the library's own call: its deadline and sluice's agree
    e = call(port, timeout=0.5)
    eq(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED, "grpcio: deadline")


@test
def grpc_timeout_never_lengthens_the_route_timeout():
    """A route timeout of 500 ms and grpc-timeout 1M (a minute): the
    route's timeout holds (504 upstream_timeout, as DEADLINE_EXCEEDED);
    a malformed grpc-timeout is no deadline at all."""
    addr, conns = silent_upstream()
    sl, port, aport, log = grpc_sluice([addr],
                                       route_opts={"timeout": "500ms"})
    t0 = time.monotonic()
    st = raw_call(port, fields=[("grpc-timeout", "1M")])
    took = time.monotonic() - t0
    eq(fields_of(st.headers).get("grpc-status"), "4", "DEADLINE_EXCEEDED")
    check(0.45 < took < 10, "at the route's timeout: %.2f s" % took)
    eq(grpc_log(log)["error"], "upstream_timeout", "the route's timeout")
    st = raw_call(port, fields=[("grpc-timeout", "12x")])
    eq(fields_of(st.headers).get("grpc-status"), "4", "the route's again")
    eq(grpc_log(log)["error"], "upstream_timeout", "not the call's")


@test
def rate_limited_forbidden_and_no_route_statuses():
    """A rate limit's refusal is RESOURCE_EXHAUSTED (8) with its
    Retry-After; a route deny list's PERMISSION_DENIED (7); a path no
    route matches UNIMPLEMENTED (12)."""
    addr, _ = silent_upstream()
    routes = [{"name": "limited", "match": {"path_prefix": "/limited."},
               "cluster": "svc", "timeout": "300ms",
               "rate_limit": [{"name": "one", "key": "route",
                               "rate": "1/h", "burst": 1}]},
              {"name": "closed", "match": {"path_prefix": "/closed."},
               "cluster": "svc", "deny": ["127.0.0.0/8"]},
              {"name": "rpc", "match": {"path_prefix": "/sluice."},
               "cluster": "svc", "timeout": "300ms"}]
    sl, port, aport, log = grpc_sluice([addr], routes=routes)
    # the first passes the limit (and times out upstream), the second
    # is refused
    call(port, method="/limited.Svc/Call")
    st = raw_call(port, path="/limited.Svc/Call")
    f = fields_of(st.headers)
    eq(f.get("grpc-status"), "8", "RESOURCE_EXHAUSTED")
    check(f.get("retry-after"), "the limit's Retry-After: %r" % f)
    e = call(port, method="/limited.Svc/Call")
    eq(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, "grpcio: 8")
    e = call(port, method="/closed.Svc/Call")
    eq(e.code(), grpc.StatusCode.PERMISSION_DENIED, "grpcio: 7")
    e = call(port, method="/other.Svc/Call")
    eq(e.code(), grpc.StatusCode.UNIMPLEMENTED, "grpcio: 12")
    eq((grpc_count(aport, 8), grpc_count(aport, 7), grpc_count(aport, 12)),
       (2, 1, 1), "counted by status")


if __name__ == "__main__":
    main()
