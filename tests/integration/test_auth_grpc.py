# SPDX-License-Identifier: MIT
"""External authorization over gRPC (doc/auth.md, "External
authorization"): sluice asks Envoy's envoy.service.auth.v3.Authorization/
Check, here served by python3-grpcio. The messages are read and written
by python3-protobuf, from descriptors of the fields sluice uses built
below with their numbers in Envoy's published protos: the protobuf
library parses what sluice's hand-written encoder sends, and sluice's
decoder reads what the library writes.

What is proved: the CheckRequest carries the method, path, host, scheme,
protocol, request id, the named fields (joined) and the client's address;
an OK status allows with the response's headers set and headers_to_remove
removed; any other status denies with the denied_response's HTTP status,
headers and body (403 when it gives none); an RPC error, a late answer or
the service down is a failure under on_failure. A gRPC client's own call
through the route is refused with PERMISSION_DENIED when the service
denies it."""

import os
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Skip, Upstream, check, eq, free_port, get,  # noqa: E402
                    main, make_config, metric_sum, metrics, start_sluice,
                    test)

try:
    import grpc  # Debian: python3-grpcio
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf import message_factory
    HAVE = True
except ImportError:
    HAVE = False

SERVICE = "envoy.service.auth.v3.Authorization"
T = descriptor_pb2.FieldDescriptorProto if HAVE else None

# message -> [(name, number, type, label, message type)]: the fields of
# Envoy's messages that sluice writes or reads, by their numbers
MESSAGES = {
    "CheckRequest": [("attributes", 1, "msg", 1, "AttributeContext")],
    "AttributeContext": [("source", 1, "msg", 1, "Peer"),
                         ("destination", 2, "msg", 1, "Peer"),
                         ("request", 4, "msg", 1, "Request")],
    "Peer": [("address", 1, "msg", 1, "Address"),
             ("principal", 4, "string", 1, None)],
    "Address": [("socket_address", 1, "msg", 1, "SocketAddress")],
    "SocketAddress": [("address", 2, "string", 1, None),
                      ("port_value", 3, "uint32", 1, None)],
    "Request": [("time", 1, "msg", 1, "Timestamp"),
                ("http", 2, "msg", 1, "HttpRequest")],
    "Timestamp": [("seconds", 1, "int64", 1, None),
                  ("nanos", 2, "int32", 1, None)],
    "HttpRequest": [("id", 1, "string", 1, None),
                    ("method", 2, "string", 1, None),
                    ("headers", 3, "msg", 3, "HeadersEntry"),
                    ("path", 4, "string", 1, None),
                    ("host", 5, "string", 1, None),
                    ("scheme", 6, "string", 1, None),
                    ("size", 9, "int64", 1, None),
                    ("protocol", 10, "string", 1, None),
                    ("raw_body", 12, "bytes", 1, None)],
    "HeadersEntry": [("key", 1, "string", 1, None),
                     ("value", 2, "string", 1, None)],
    "CheckResponse": [("status", 1, "msg", 1, "Status"),
                      ("denied_response", 2, "msg", 1,
                       "DeniedHttpResponse"),
                      ("ok_response", 3, "msg", 1, "OkHttpResponse")],
    "Status": [("code", 1, "int32", 1, None),
               ("message", 2, "string", 1, None)],
    "DeniedHttpResponse": [("status", 1, "msg", 1, "HttpStatus"),
                           ("headers", 2, "msg", 3, "HeaderValueOption"),
                           ("body", 3, "string", 1, None)],
    "HttpStatus": [("code", 1, "int32", 1, None)],
    "OkHttpResponse": [("headers", 2, "msg", 3, "HeaderValueOption"),
                       ("headers_to_remove", 5, "string", 3, None)],
    "HeaderValueOption": [("header", 1, "msg", 1, "HeaderValue"),
                          ("append", 2, "msg", 1, "BoolValue")],
    "HeaderValue": [("key", 1, "string", 1, None),
                    ("value", 2, "string", 1, None)],
    "BoolValue": [("value", 1, "bool", 1, None)],
}


def classes():
    types = {"msg": T.TYPE_MESSAGE, "string": T.TYPE_STRING,
             "uint32": T.TYPE_UINT32, "int64": T.TYPE_INT64,
             "int32": T.TYPE_INT32, "bytes": T.TYPE_BYTES,
             "bool": T.TYPE_BOOL}
    fd = descriptor_pb2.FileDescriptorProto(
        name="sluice_test_authz.proto", package="sltest.authz",
        syntax="proto3")
    for name, fields in MESSAGES.items():
        m = fd.message_type.add(name=name)
        for fname, num, typ, label, mtype in fields:
            f = m.field.add(name=fname, number=num, type=types[typ],
                            label=label)
            if mtype:
                f.type_name = ".sltest.authz." + mtype
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    fac = message_factory.MessageFactory(pool)
    return {n: fac.GetPrototype(pool.FindMessageTypeByName(
        "sltest.authz." + n)) for n in MESSAGES}


def need():
    if not HAVE:
        raise Skip("python3-grpcio and python3-protobuf are needed")


class GrpcAuthz:
    """An Authorization service: decides by the check's authorization."""

    def __init__(self):
        self.c = classes()
        self.lock = threading.Lock()
        self.checks = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "Check": grpc.unary_unary_rpc_method_handler(
                self.check,
                request_deserializer=self.c["CheckRequest"].FromString,
                response_serializer=lambda m: m.SerializeToString())})
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def hvo(self, k, v):
        o = self.c["HeaderValueOption"]()
        o.header.key = k
        o.header.value = v
        return o

    def check(self, req, ctx):
        with self.lock:
            self.checks.append(req)
        h = {e.key: e.value for e in req.attributes.request.http.headers}
        a = h.get("authorization", "")
        r = self.c["CheckResponse"]()
        if a == "Bearer good":
            r.status.code = 0
            r.ok_response.headers.append(self.hvo("x-caller-id", "alice"))
            r.ok_response.headers.append(self.hvo("host", "evil"))
            r.ok_response.headers_to_remove.append("authorization")
            r.ok_response.headers_to_remove.append("content-length")
        elif a == "Bearer bad":
            r.status.code = 7  # PERMISSION_DENIED
            r.denied_response.status.code = 401
            r.denied_response.headers.append(
                self.hvo("www-authenticate", 'Bearer realm="grpc"'))
            r.denied_response.headers.append(
                self.hvo("content-type", "text/plain"))
            r.denied_response.body = "denied by policy\n"
        elif a == "Bearer framing":
            r.status.code = 7
            r.denied_response.status.code = 403
            for k, v in (("content-length", "999"), ("connection", "close"),
                         ("transfer-encoding", "chunked"),
                         ("x-secret", "internal"),
                         ("content-type", "text/plain")):
                r.denied_response.headers.append(self.hvo(k, v))
            r.denied_response.body = "no\n"
        elif a == "Bearer bare":
            r.status.code = 16  # no denied_response: 403
        elif a == "Bearer error":
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "backend down")
        elif a == "Bearer slow":
            time.sleep(3.0)
            r.status.code = 0
        else:
            r.status.code = 16
        return r

    def stop(self):
        self.server.stop(0)


def setup(on_failure="deny"):
    need()
    az = GrpcAuthz()
    up = Upstream()
    aport = free_port()
    routes = [{"name": "pay", "match": {"path_prefix": "/pay"},
               "cluster": "c",
               "auth": {"external": {
                   "cluster": "authz", "protocol": "grpc",
                   "timeout": "1s", "on_failure": on_failure,
                   "body_bytes": "3B",
                   "headers": ["Authorization", "X-Tag"]}}},
              {"name": "open", "cluster": "c"}]
    cfg, port = make_config(
        {"c": [up], "authz": ["127.0.0.1:%d" % az.port]}, routes=routes,
        cluster_opts={"authz": {"protocol": "h2c"}},
        extra={"admin": {"address": "127.0.0.1:%d" % aport}},
        listener_opts={"protocols": ["h2", "http/1.1"]})
    sl = start_sluice(cfg)
    return az, up, sl, port, aport


def auth(v, **kw):
    h = {"Authorization": "Bearer " + v}
    h.update(kw)
    return h


@test
def the_check_request_says_what_the_route_sends():
    az, up, sl, port, aport = setup()
    r = get(port, "/pay/v1?x=1", method="POST", body=b"12345",
            headers=auth("good", **{"X-Tag": "a", "Cookie": "s=1"}))
    eq(r.status, 200, "allowed")
    q = az.checks[-1].attributes
    http = q.request.http
    eq(http.method, "POST", "method")
    eq(http.path, "/pay/v1?x=1", "path, the query with it")
    eq(http.host, "test.local", "host")
    eq(http.scheme, "http", "scheme")
    eq(http.protocol, "HTTP/1.1", "protocol")
    eq(http.size, 5, "the body's size")
    eq(http.raw_body, b"123", "its first body_bytes")
    eq(http.id, up.requests[-1].header("X-Request-Id"), "the request id")
    h = {e.key: e.value for e in http.headers}
    eq(h, {"authorization": "Bearer good", "x-tag": "a"},
       "the named fields only, lower case")
    eq(q.source.address.socket_address.address, "127.0.0.1",
       "the client's address")
    check(q.request.time.seconds > 1700000000, "the time it came")
    u = up.requests[-1]
    eq(u.header("X-Caller-Id"), "alice", "the service's field")
    eq(u.header("Authorization"), None, "removed as the service said")
    eq(u.header("Host"), "test.local", "Host is never set by the service")
    eq(u.body, b"12345", "the body whole")
    # two values of a field go joined, as the proto's map says
    c = sltest_client(port)
    c.send(b"GET /pay HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good"
           b"\r\nX-Tag: a\r\nX-Tag: b\r\n\r\n")
    eq(c.read_response().status, 200, "allowed")
    c.close()
    h = {e.key: e.value for e in az.checks[-1].attributes.request.http
         .headers}
    eq(h["x-tag"], "a,b", "joined")
    sl.stop()
    az.stop()


def sltest_client(port):
    import sltest
    return sltest.Client(port)


@test
def a_denied_check_answers_with_the_denied_response():
    az, up, sl, port, aport = setup()
    n0 = len(up.requests)
    r = get(port, "/pay", headers=auth("bad"))
    eq(r.status, 401, "denied_response's status")
    eq(r.body, b"denied by policy\n", "its body")
    eq(r.header("WWW-Authenticate"), 'Bearer realm="grpc"', "its header")
    eq(r.header("Content-Type"), "text/plain", "its content type")
    r = get(port, "/pay", headers=auth("bare"))
    eq(r.status, 403, "no denied_response: 403")
    # a denial's fields that frame the message, or that client_headers
    # does not name, never reach the client (review of session 31)
    r = get(port, "/pay", headers=auth("framing"))
    eq((r.status, r.body), (403, b"no\n"), "the denial, framed by sluice")
    eq(r.headers.get_all("Content-Length"), ["3"], "one Content-Length")
    eq(r.header("Transfer-Encoding"), None, "no Transfer-Encoding")
    eq(r.header("X-Secret"), None, "not a client_headers field")
    eq(r.header("Content-Type"), "text/plain", "a client_headers field")
    eq(len(up.requests), n0, "nothing went up")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_auth_decisions_total", kind="external",
                  result="deny"), 3, "counted")
    # a gRPC client's call: the denial is its status
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        stub = ch.unary_unary("/pay.Svc/Do")
        try:
            stub(b"\x00", timeout=5,
                 metadata=(("authorization", "Bearer bare"),))
            check(False, "the call was refused")
        except grpc.RpcError as e:
            eq(e.code(), grpc.StatusCode.PERMISSION_DENIED,
               "a 403 is PERMISSION_DENIED to a gRPC client")
    sl.stop()
    az.stop()


@test
def an_rpc_error_a_late_answer_and_the_service_down_are_failures():
    az, up, sl, port, aport = setup()
    for what in ("error", "slow"):
        eq(get(port, "/pay", headers=auth(what)).status, 503,
           "%s: on_failure deny" % what)
    m = metrics(aport)
    eq(metric_sum(m, "sluice_auth_decisions_total", kind="external",
                  result="error_deny"), 2, "counted")
    az.stop()
    eq(get(port, "/pay", headers=auth("good")).status, 503, "down")
    sl.stop()
    log = sl.stderr()
    check("failed: grpc_status" in log, "the RPC's status logged")
    check("failed: timeout" in log, "the timeout logged")
    az2, up2, sl2, port2, aport2 = setup(on_failure="allow")
    r = get(port2, "/pay", headers=auth("error"))
    eq(r.status, 200, "on_failure allow")
    eq(up2.requests[-1].header("X-Auth-Unchecked"), "1", "marked")
    eq(get(port2, "/pay", headers=auth("bare")).status, 403,
       "a denial is never a failure")
    sl2.stop()
    az2.stop()


@test
def an_http3_request_is_http3_to_the_service():
    # the protocol the check names came from the codec's kind: a request
    # over HTTP/3 said HTTP/2 (a codec of fields), now its own
    need()
    import test_http3
    test_http3.require()
    az = GrpcAuthz()
    up = Upstream()
    c, k = test_http3.cert()
    routes = [{"name": "pay", "cluster": "c",
               "auth": {"external": {"cluster": "authz", "protocol": "grpc",
                                     "timeout": "1s"}}}]
    cfg, port = make_config(
        {"c": [up], "authz": ["127.0.0.1:%d" % az.port]}, routes=routes,
        cluster_opts={"authz": {"protocol": "h2c"}},
        listener_opts={"tls": {"certificates": [{"cert": c, "key": k}]},
                       "protocols": ["h2", "http/1.1"],
                       "http3": {"retry": "never"}})
    sl = start_sluice(cfg)
    test_http3.h3(port, "/pay/x")
    eq(az.checks[-1].attributes.request.http.protocol, "HTTP/3",
       "protocol of a request over HTTP/3")
    sl.stop()
    az.stop()

if __name__ == "__main__":
    main()
