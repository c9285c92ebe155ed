# SPDX-License-Identifier: MIT
"""External authorization (doc/auth.md, "External authorization") through
the real binary, against an HTTP authorization service written here (an
Upstream whose answer depends on the Authorization the client sent): it
allows with fields for the upstream, denies with a status, fields and a
body of its own, redirects, answers 500, answers late, or is down.

What is proved: the service gets what the route names and no more; an
allowed request goes up with the service's fields and without what it
removed; a denial reaches the client as the service wrote it and nothing
reaches the upstream; every failure follows the route's on_failure, and a
403 of the service is never let through by on_failure: allow; a body sent
while the check runs reaches the upstream whole, once; the cache answers
a repeated request, never a failure. No time is asserted."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Reply, Upstream, check, eq, free_port, get,  # noqa: E402
                    main, make_config, metric_sum, metrics, run_sluice,
                    start_sluice, test, tmpdir, to_yaml, wait_until)


class AuthService:
    """Decides by the Authorization the check carries."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.up = Upstream(name="authz", handler=self.handle, port=port)
        self.port = self.up.port

    def handle(self, req):
        a = req.header("Authorization") or ""
        if a == "Bearer good":
            return Reply(200, b"", [
                ("X-Caller-Id", "alice"), ("X-Tenant", "acme"),
                ("X-Not-Named", "dropped"),
                ("x-envoy-auth-headers-to-remove",
                 "authorization, x-debug, host, content-length")])
        if a == "Bearer bad":
            return Reply(403, b'{"denied":"by policy"}', [
                ("Content-Type", "application/json"),
                ("WWW-Authenticate", 'Bearer realm="pay"'),
                ("X-Secret", "internal")])
        if a == "Bearer expired":
            return Reply(401, b"token expired\n", [
                ("Content-Type", "text/plain"),
                ("WWW-Authenticate", 'Bearer error="invalid_token"')])
        if a == "Bearer login":
            return Reply(302, b"", [("Location", "https://id.test/login")])
        if req.header("X-User-Id") is not None:
            # decides on the caller the token names
            if req.header("X-User-Id") == "alice":
                return Reply(200, b"", [("X-Caller-Id", "alice")])
            return Reply(403, b"not alice")
        if a == "Bearer flaky":
            # a pooled connection the service closes as the check comes
            with self.up.lock:
                n = self.up.conns[req.conn_id].nrequests
            if n >= 2:
                return Reply(action="close")
            return Reply(200, b"", [("X-Caller-Id", "flaky")])
        if a == "Bearer closebody":
            return Reply(403, b"bye, close-delimited",
                         [("Content-Type", "text/plain")], mode="close")
        if a == "Bearer garbage":
            return Reply(action="raw", raw=b"NOT HTTP AT ALL\r\n\r\n",
                         close=True)
        if a == "Bearer boom":
            return Reply(500, b"oops")
        if a == "Bearer slow":
            return Reply(200, b"", [("X-Caller-Id", "late")], delay=3.0)
        return Reply(401, b"", [("WWW-Authenticate", "Bearer")])

    def requests(self):
        return list(self.up.requests)

    def stop(self):
        self.up.stop()


def ext_config(up, authz_port, ext=None, routes_extra=(), workers=1,
               access_log=None):
    aport = free_port()
    x = {"cluster": "authz", "path": "/check", "timeout": "2s",
         "headers": ["Authorization", "X-Debug"],
         "upstream_headers": ["X-Caller-Id", "X-Tenant"]}
    x.update(ext or {})
    routes = [{"name": "pay", "match": {"path_prefix": "/pay"},
               "cluster": "c", "auth": {"external": x}}]
    routes.extend(routes_extra)
    routes.append({"name": "open", "cluster": "c"})
    cfg, port = make_config(
        {"c": [up], "authz": ["127.0.0.1:%d" % authz_port]}, routes=routes,
        workers=workers, access_log=access_log,
        extra={"admin": {"address": "127.0.0.1:%d" % aport}},
        listener_opts={"protocols": ["h2", "http/1.1"]})
    return cfg, port, aport


def setup(ext=None, routes_extra=(), access_log=None):
    az = AuthService()
    up = Upstream()
    cfg, port, aport = ext_config(up, az.port, ext, routes_extra,
                                  access_log=access_log)
    sl = start_sluice(cfg)
    return az, up, sl, port, aport


def auth(v):
    return {"Authorization": "Bearer " + v}


def decisions(aport, result, route="pay"):
    return metric_sum(metrics(aport), "sluice_auth_decisions_total",
                      route=route, kind="external", result=result)


# ---------------------------------------------------------------------------


@test
def an_allowed_request_goes_up_with_the_services_fields():
    log = os.path.join(tmpdir(), "access.log")
    az, up, sl, port, aport = setup(access_log=log)
    r = get(port, "/pay/v1?amount=5", headers=dict(
        auth("good"), **{"X-Caller-Id": "mallory", "X-Debug": "1",
                         "Cookie": "sid=secret"}))
    eq(r.status, 200, "allowed")
    u = up.requests[-1]
    eq(u.headers.get_all("X-Caller-Id"), ["alice"],
       "the service's caller, the client's own dropped")
    eq(u.header("X-Tenant"), "acme", "each upstream_headers field")
    eq(u.header("X-Not-Named"), None, "a field the route does not name")
    eq(u.header("Authorization"), None, "removed as the service said")
    eq(u.header("X-Debug"), None, "removed as the service said")
    check(u.header("Host") is not None, "Host is never removed")
    eq(u.header("Cookie"), "sid=secret", "the rest goes on")
    # what the service got
    c = az.requests()[-1]
    eq((c.method, c.target), ("GET", "/check/pay/v1?amount=5"),
       "the method, and the route's path before the target")
    eq(c.header("Authorization"), "Bearer good", "a named field")
    eq(c.header("X-Debug"), "1", "a named field")
    eq(c.header("Cookie"), None, "an unnamed field is not sent")
    eq(c.header("X-Forwarded-For"), "127.0.0.1", "the client's address")
    eq(c.header("X-Forwarded-Proto"), "http", "the scheme")
    eq(c.header("Host"), "test.local", "the request's Host")
    eq(c.header("X-Request-Id"), u.header("X-Request-Id"),
       "one request id for the check and the request")
    eq(decisions(aport, "allow"), 1, "counted")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_auth_external_duration_seconds_count",
                  route="pay"), 1, "the check's time observed")
    # a route without auth asks nobody
    n = len(az.requests())
    eq(get(port, "/other", headers=auth("bad")).status, 200, "open route")
    eq(len(az.requests()), n, "no check for a route without auth")
    sl.stop()
    lines = sltest.read_json_lines(log, min_count=2)
    eq(lines[0].get("auth"), "external", "the access log says so")


@test
def a_denial_reaches_the_client_as_the_service_wrote_it():
    az, up, sl, port, aport = setup()
    n0 = len(up.requests)
    r = get(port, "/pay", headers=auth("bad"))
    eq(r.status, 403, "the service's status")
    eq(r.body, b'{"denied":"by policy"}', "the service's body")
    eq(r.header("Content-Type"), "application/json", "its content type")
    eq(r.header("WWW-Authenticate"), 'Bearer realm="pay"', "its challenge")
    eq(r.header("X-Secret"), None, "a field not in client_headers")
    check(r.header("X-Request-Id") is not None, "sluice's request id")
    r = get(port, "/pay", headers=auth("expired"))
    eq((r.status, r.body), (401, b"token expired\n"), "a 401 as written")
    eq(r.header("WWW-Authenticate"), 'Bearer error="invalid_token"', "401")
    r = get(port, "/pay", headers=auth("login"))
    eq(r.status, 302, "a redirect to a login")
    eq(r.header("Location"), "https://id.test/login", "Location goes on "
       "(a default client_headers field)")
    r = get(port, "/pay", method="HEAD", headers=auth("bad"))
    eq((r.status, r.body), (403, b""), "HEAD: the status, no body")
    eq(len(up.requests), n0, "nothing reached the upstream")
    eq(decisions(aport, "deny"), 4, "denials counted")
    # HTTP/2: the same answer on a stream, the connection goes on
    import h2test
    if h2test.HAVE_H2:
        c = h2test.H2Client(port)
        r = c.get("/pay", headers=[("authorization", "Bearer bad")])
        eq(r.status, 403, "HTTP/2 denial")
        eq(r.body, b'{"denied":"by policy"}', "its body")
        r = c.get("/pay", headers=[("authorization", "Bearer good")])
        eq(r.status, 200, "the next stream allowed")
        c.close()
    sl.stop()
    check("403 ext_auth_denied" in sl.stderr(), "the info line")


@test
def failures_follow_on_failure_deny_and_a_403_is_never_let_through():
    az, up, sl, port, aport = setup({"timeout": "1s"}, routes_extra=[
        {"name": "soft", "match": {"path_prefix": "/soft"}, "cluster": "c",
         "auth": {"external": {
             "cluster": "authz", "timeout": "1s",
             "headers": ["Authorization"], "on_failure": "allow",
             "upstream_headers": ["X-Caller-Id"]}}},
        {"name": "strict", "match": {"path_prefix": "/strict"},
         "cluster": "c",
         "auth": {"external": {"cluster": "authz", "timeout": "1s",
                               "headers": ["Authorization"],
                               "failure_status": 403}}}])
    n0 = len(up.requests)
    for what in ("boom", "slow"):
        r = get(port, "/pay", headers=auth(what))
        eq(r.status, 503, "%s: deny by default" % what)
        eq(r.header("Retry-After"), "1", "%s: Retry-After" % what)
        eq(r.json().get("error"), "ext_auth_unavailable", what)
        eq(get(port, "/strict", headers=auth(what)).status, 403,
           "%s: failure_status 403" % what)
    eq(len(up.requests), n0, "no failure denied went up")
    eq(decisions(aport, "error_deny"), 2, "counted on pay")
    eq(decisions(aport, "error_deny", route="strict"), 2, "and strict")
    # on_failure: allow lets failures through, marked; never a denial
    for what in ("boom", "slow"):
        r = get(port, "/soft", headers=dict(auth(what),
                                            **{"X-Auth-Unchecked": "0"}))
        eq(r.status, 200, "%s: let through" % what)
        u = up.requests[-1]
        eq(u.headers.get_all("X-Auth-Unchecked"), ["1"],
           "%s: marked, the client's own dropped" % what)
        eq(u.header("X-Caller-Id"), None, "%s: no caller" % what)
    for what, status in (("bad", 403), ("expired", 401), ("none", 401)):
        eq(get(port, "/soft", headers=auth(what)).status, status,
           "on_failure: allow never lets a %d through" % status)
    eq(decisions(aport, "error_allow", route="soft"), 2, "counted")
    eq(decisions(aport, "deny", route="soft"), 3, "denials counted")
    # an allowed request is not marked
    eq(get(port, "/soft", headers=auth("good")).status, 200, "good")
    eq(up.requests[-1].header("X-Auth-Unchecked"), None, "not marked")
    # the service down
    az.stop()
    eq(get(port, "/pay", headers=auth("good")).status, 503, "down: 503")
    r = get(port, "/soft", headers=auth("good"))
    eq(r.status, 200, "down, on_failure allow: through")
    eq(up.requests[-1].header("X-Auth-Unchecked"), "1", "marked")
    sl.stop()
    check("external auth cluster=authz failed: timeout" in sl.stderr(),
          "the timeout logged")
    # issue 61: "(status 0)" left the reader guessing what 0 was
    check("failed: timeout (no answer)" in sl.stderr() and
          "(status 0)" not in sl.stderr(), "no answer said as such:\n%s"
          % sl.stderr())


@test
def a_body_sent_during_the_check_reaches_the_upstream_whole_once():
    az, up, sl, port, aport = setup()
    body = bytes(range(256)) * 300  # 76,800 bytes
    n0 = len(up.requests)
    r = get(port, "/pay/upload", method="POST", body=body,
            headers=auth("good"))
    eq(r.status, 200, "allowed")
    eq(len(up.requests), n0 + 1, "one request went up")
    eq(up.requests[-1].body, body, "its body whole")
    c = az.requests()[-1]
    eq(c.method, "POST", "the check has the method")
    eq(c.body, b"", "and no body")
    r = get(port, "/pay/upload", method="POST", body=body,
            headers=auth("bad"))
    eq(r.status, 403, "denied with a body sent")
    eq(len(up.requests), n0 + 1, "nothing more went up")
    # kept-alive connections to the service
    for _ in range(20):
        eq(get(port, "/pay", headers=auth("good")).status, 200, "allowed")
    check(az.up.accepts <= 3, "the checks share pooled connections: %d "
          "accepted" % az.up.accepts)
    sl.stop()


@test
def a_body_read_with_its_head_is_sent_whole_past_the_first_buffer():
    """A body that comes in the head's first read fills the small buffer a
    head starts in, which grows at the next read: the check waits for its
    body_bytes, and never takes the full first buffer for all there is
    (it sent 4 KiB, marked partial, before the fix)."""
    az, up, sl, port, aport = setup({"body_bytes": "16KiB"})
    body = bytes(range(256)) * 40  # 10,240 bytes, one write with the head
    r = get(port, "/pay/a", method="POST", body=body, headers=auth("good"))
    eq(r.status, 200, "allowed")
    c = az.requests()[-1]
    eq(len(c.body), len(body), "the check carried all of it")
    eq(c.body, body, "as sent")
    eq(c.header("X-Auth-Partial-Body"), None, "not partial")
    eq(up.requests[-1].body, body, "the upstream got it whole")


@test
def body_bytes_sends_the_bodys_first_bytes_with_the_check():
    """body_bytes: the check waits for the body's first bytes (they may
    come after the head) and carries them, marked partial when they are
    not the whole body; the upstream still gets the whole body, once."""
    import socket
    import time
    az, up, sl, port, aport = setup({"body_bytes": "1KiB"})
    big = bytes(range(256)) * 20  # 5,120 bytes
    r = get(port, "/pay/a", method="POST", body=big, headers=auth("good"))
    eq(r.status, 200, "allowed")
    c = az.requests()[-1]
    eq(c.body, big[:1024], "the first 1 KiB went with the check")
    eq(c.header("X-Auth-Partial-Body"), "true", "marked partial")
    eq(up.requests[-1].body, big, "the upstream got it whole")
    r = get(port, "/pay/b", method="POST", body=b"amount=5",
            headers=auth("good"))
    eq(r.status, 200, "allowed")
    c = az.requests()[-1]
    eq(c.body, b"amount=5", "a small body whole")
    eq(c.header("X-Auth-Partial-Body"), None, "not partial")
    # the body comes after the head, in two parts, the second late
    k = socket.create_connection(("127.0.0.1", port), timeout=10)
    k.sendall(b"POST /pay/c HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
              b"good\r\nContent-Length: 2000\r\n\r\n")
    time.sleep(0.2)
    k.sendall(big[:500])
    time.sleep(0.3)
    n = len(az.requests())
    eq([r.target for r in up.requests], ["/pay/a", "/pay/b"],
       "nothing went up while the check waits for its bytes")
    eq(az.requests()[-1].target, "/check/pay/b", "nor was it checked")
    k.sendall(big[500:2000])
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += k.recv(65536)
    check(buf.startswith(b"HTTP/1.1 200"), "allowed: %r" % buf[:40])
    k.close()
    check(len(az.requests()) == n + 1, "one check")
    eq(az.requests()[-1].body, big[:1024], "its first 1 KiB, late or not")
    check(up.wait_requests(3), "it went up")
    eq(up.requests[-1].body, big[:2000], "whole")
    # a chunked body: its payload, not its framing
    k = socket.create_connection(("127.0.0.1", port), timeout=10)
    k.sendall(b"POST /pay/d HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
              b"good\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += k.recv(65536)
    k.close()
    check(buf.startswith(b"HTTP/1.1 200"), "chunked allowed")
    eq(az.requests()[-1].body, b"hello world", "the decoded payload")
    eq(az.requests()[-1].header("X-Auth-Partial-Body"), None, "whole")
    # a denial with the body read
    r = get(port, "/pay/e", method="POST", body=big, headers=auth("bad"))
    eq(r.status, 403, "denied")
    eq(up.requests[-1].target, "/pay/d", "nothing more went up")
    sl.stop()


@test
def the_services_connections_closed_and_odd_answers():
    """A pooled connection the service closes as a check is written on it
    is tried once more on a new one (the check is a GET of no body: sent
    twice, it is still one decision); a close-delimited denial is read to
    its end; an answer that is no HTTP is a failure, never a decision."""
    az, up, sl, port, aport = setup()
    eq(get(port, "/pay/1", headers=auth("good")).status, 200, "first")
    r = get(port, "/pay/2", headers=auth("flaky"))
    eq(r.status, 200, "the closed pooled connection was tried again")
    eq(up.requests[-1].header("X-Caller-Id"), "flaky", "its decision")
    eq([q.target for q in az.requests()].count("/check/pay/2"), 2,
       "asked twice: once on the closed connection, once on a new one")
    r = get(port, "/pay/3", headers=auth("closebody"))
    eq((r.status, r.body), (403, b"bye, close-delimited"),
       "a close-delimited denial, whole")
    r = get(port, "/pay/4", headers=auth("garbage"))
    eq(r.status, 503, "no HTTP from the service: a failure")
    eq(decisions(aport, "error_deny"), 1, "counted as one")
    sl.stop()
    check("failed: bad_response" in sl.stderr(), "logged")


@test
def the_cache_answers_a_repeated_request_never_a_failure():
    # a ttl long enough for the asserts before its end on a loaded
    # machine, short enough to wait for
    az, up, sl, port, aport = setup({"cache": {"max_entries": 64,
                                               "ttl": "5s"}})
    for _ in range(5):
        eq(get(port, "/pay/a", headers=auth("good")).status, 200, "allow")
    eq(len(az.requests()), 1, "asked once")
    eq(up.requests[-1].header("X-Caller-Id"), "alice", "the cached "
       "decision's fields")
    for _ in range(3):
        eq(get(port, "/pay/a", headers=auth("bad")).status, 403, "deny")
    eq(len(az.requests()), 2, "another credential is another check")
    r = get(port, "/pay/a", headers=auth("bad"))
    eq(r.body, b'{"denied":"by policy"}', "a cached denial's body")
    eq(get(port, "/pay/b", headers=auth("good")).status, 200, "allow")
    eq(len(az.requests()), 3, "another target is another check")
    eq(get(port, "/pay/b", method="POST", body=b"x" * 10,
           headers=auth("good")).status, 200, "a POST")
    eq(get(port, "/pay/b", method="POST", body=b"x" * 20,
           headers=auth("good")).status, 200, "a larger POST")
    eq(len(az.requests()), 5, "a body of another size is another check")
    eq(get(port, "/pay/b", method="POST", body=b"y" * 20,
           headers=auth("good")).status, 200, "the same size again")
    eq(len(az.requests()), 5, "cached")
    for _ in range(2):
        eq(get(port, "/pay/a", headers=auth("boom")).status, 503, "fail")
    eq(len(az.requests()), 7, "a failure is never cached")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_auth_external_cache_hits_total", route="pay"),
       8, "hits counted")
    check(wait_until(lambda: get(port, "/pay/a", headers=auth("good"))
                     .status == 200 and len(az.requests()) > 7,
                     timeout=15), "asked again after the ttl")
    sl.stop()


NODE_AUTHZ = r"""
const http2 = require('http2');
const port = +process.argv[2];
let sessions = 0, checks = 0;
const srv = http2.createServer();
srv.on('session', () => { sessions++; });
srv.on('stream', (st, h) => {
  if (h[':path'] === '/stats') {
    st.respond({':status': 200});
    st.end(JSON.stringify({sessions: sessions - 1, checks: checks}));
    return;
  }
  checks++;
  if (h['authorization'] === 'Bearer good') {
    st.respond({':status': 200, 'x-caller-id': 'h2-' + h[':method'] +
                ' ' + h[':path']});
    st.end();
  } else {
    st.respond({':status': 403, 'content-type': 'text/plain'});
    st.end('no over h2');
  }
});
srv.listen(port, '127.0.0.1', () => console.log('ready'));
"""


@test
def an_http_check_over_an_h2c_cluster():
    """The service speaks HTTP/2 (Node's http2): the check is a stream of
    a shared connection, its answer read the same."""
    import json
    import shutil
    import subprocess
    import h2test
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise sltest.Skip("no node")
    nport = free_port()
    path = os.path.join(tmpdir(), "authz.js")
    with open(path, "w") as f:
        f.write(NODE_AUTHZ)
    proc = subprocess.Popen([node, path, str(nport)], stdout=subprocess.PIPE)
    sltest._all_procs.append(proc)
    check(proc.stdout.readline().strip() == b"ready", "Node started")
    up = Upstream()
    cfg, port, aport = ext_config(up, nport, {"path": "/ck"})
    cfg["clusters"][1]["protocol"] = "h2c"
    sl = start_sluice(cfg)
    for i in range(10):
        r = get(port, "/pay/%d" % i, headers=auth("good"))
        eq(r.status, 200, "allowed over h2c")
        eq(up.requests[-1].header("X-Caller-Id"), "h2-GET /ck/pay/%d" % i,
           "the service's field, for its method and path")
    r = get(port, "/pay", headers=auth("bad"))
    eq((r.status, r.body), (403, b"no over h2"), "a denial over h2c")
    c = h2test.H2Client(nport)
    sid = c.request("GET", "/stats")
    check(c.wait(lambda: c.streams[sid].done(), 10), "stats came")
    st = json.loads(bytes(c.streams[sid].body))
    c.close()
    eq(st["checks"], 11, "every check came")
    eq(st["sessions"], 1, "on one shared connection")
    sl.stop()
    proc.kill()
    proc.wait()


@test
def a_websocket_upgrade_is_checked_before_the_101():
    import base64
    import hashlib
    import socket
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())

    def switch(req):
        return Reply(101, headers=[
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept.decode())], mode="none",
            reason="Switching Protocols")
    az = AuthService()
    up = Upstream(handler=switch)
    routes = [{"name": "ws", "cluster": "c", "upgrade": ["websocket"],
               "auth": {"external": {"cluster": "authz",
                                     "headers": ["Authorization"],
                                     "upstream_headers": ["X-Caller-Id"]}}}]
    cfg, port = make_config(
        {"c": [up], "authz": ["127.0.0.1:%d" % az.port]}, routes=routes)
    sl = start_sluice(cfg)

    def handshake(tok):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /chat HTTP/1.1\r\nHost: t\r\n"
                  b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Key: " + key.encode() + b"\r\n"
                  b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " +
                  tok.encode() + b"\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        return buf.partition(b"\r\n\r\n")[0]
    head = handshake("bad")
    check(head.startswith(b"HTTP/1.1 403"), "denied before the 101: %r"
          % head[:40])
    eq(len(up.requests), 0, "the upstream never saw it")
    head = handshake("good")
    check(head.startswith(b"HTTP/1.1 101"), "allowed: the 101")
    eq(up.requests[-1].header("X-Caller-Id"), "alice", "with the field")
    sl.stop()


@test
def the_service_sees_the_tokens_claims_never_a_clients_copy():
    """With jwt and external on one route, a field the token's claim sets
    is what the service is sent: a client's own X-User-Id beside a token
    for bob is not (review of session 31: it was sent, and the service
    allowed a request the token did not). The token's allow is counted
    once though it is checked again after the wait."""
    from jwtkeys import AUD, ISS, Keys, claims, need_jwt
    need_jwt()
    import json as _json
    k = Keys()
    kp = os.path.join(tmpdir(), "jwks.json")
    with open(kp, "w") as f:
        _json.dump(k.jwks(), f)
    az = AuthService()
    up = Upstream()
    routes = [{"name": "pay", "cluster": "c", "auth": {
        "jwt": {"keys": kp, "issuer": ISS, "audience": AUD,
                "claims_to_headers": {"sub": "X-User-Id"}},
        "external": {"cluster": "authz", "headers": ["X-User-Id"],
                     "cache": {"max_entries": 16, "ttl": "30s"}}}}]
    aport = free_port()
    cfg, port = make_config(
        {"c": [up], "authz": ["127.0.0.1:%d" % az.port]}, routes=routes,
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    sl = start_sluice(cfg)
    bob = k.sign("ES256", claims(sub="bob"))
    alice = k.sign("ES256", claims(sub="alice"))
    r = get(port, "/pay", headers={"Authorization": "Bearer " + bob,
                                   "X-User-Id": "alice"})
    eq(r.status, 403, "the service saw bob, the token's")
    eq(az.requests()[-1].headers.get_all("X-User-Id"), ["bob"],
       "only the claim went to the service")
    # the cache is keyed on what was sent: alice's decision is not bob's
    r = get(port, "/pay", headers={"Authorization": "Bearer " + alice})
    eq(r.status, 200, "alice allowed")
    r = get(port, "/pay", headers={"Authorization": "Bearer " + bob,
                                   "X-User-Id": "alice"})
    eq(r.status, 403, "bob still denied, from the cache or not")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_auth_decisions_total", kind="jwt",
                  result="allow"), 3, "each token's allow counted once")
    sl.stop()


@test
def the_access_logs_auth_joins_the_tokens_and_the_services_word():
    """A route with jwt and external: the access log's auth is one field,
    "jwt,external", or "jwt,unchecked" when the service failed and
    on_failure let the request through; in the JSON line after the status
    and in the combined one at its end (issue 79: the two filters write
    it now, a value each)."""
    from jwtkeys import AUD, ISS, Keys, claims, need_jwt
    need_jwt()
    import json as _json
    k = Keys()
    kp = os.path.join(tmpdir(), "jwks.json")
    with open(kp, "w") as f:
        _json.dump(k.jwks(), f)
    tok = k.sign("ES256", claims(sub="alice"))
    for fmt in ("json", "combined"):
        az = AuthService()
        up = Upstream()
        # the service decides on the caller the token's claim names
        jwt = {"keys": kp, "issuer": ISS, "audience": AUD,
               "claims_to_headers": {"sub": "X-User-Id"}}
        routes = [
            {"name": "pay", "match": {"path_prefix": "/pay"},
             "cluster": "c", "auth": {
                 "jwt": jwt, "external": {"cluster": "authz",
                                          "headers": ["X-User-Id"]}}},
            {"name": "soft", "match": {"path_prefix": "/soft"},
             "cluster": "c", "auth": {
                 "jwt": jwt, "external": {"cluster": "authz",
                                          "timeout": "1s",
                                          "on_failure": "allow"}}}]
        log = os.path.join(tmpdir(), "access.log")
        cfg, port = make_config(
            {"c": [up], "authz": ["127.0.0.1:%d" % az.port]},
            routes=routes, access_log=log)
        cfg["log"]["access_format"] = fmt
        sl = start_sluice(cfg)
        bearer = {"Authorization": "Bearer " + tok}
        eq(get(port, "/pay", headers=bearer).status, 200, "allowed")
        az.stop()
        eq(get(port, "/soft", headers=bearer).status, 200,
           "the service down, on_failure allow: through")
        sl.stop()
        if fmt == "json":
            lines = sltest.read_json_lines(log, min_count=2)
            eq([ln.get("auth") for ln in lines],
               ["jwt,external", "jwt,unchecked"], "one field, two words")
            keys = list(lines[0])
            eq(keys.index("auth"), keys.index("status") + 1,
               "after the status, where it always stood")
        else:
            with open(log) as f:
                text = f.read().splitlines()
            eq(len(text), 2, "two lines")
            check(text[0].endswith(" auth=jwt,external"), text[0])
            check(text[1].endswith(" auth=jwt,unchecked"), text[1])


@test
def external_mistakes_are_refused_by_dash_t():
    d = tmpdir()
    base = {"workers": 1, "log": {"access": "off"},
            "listeners": [{"name": "l", "address": "127.0.0.1:%d" %
                           free_port(), "routes": []}],
            "clusters": [{"name": "c", "endpoints": ["127.0.0.1:9"]},
                         {"name": "g", "endpoints": ["127.0.0.1:9"],
                          "protocol": "h2c"}]}
    cases = [
        ({}, 'missing key "cluster"'),
        ({"cluster": "c", "protocol": "grpc"}, "needs a cluster of protocol"),
        ({"cluster": "g", "protocol": "grpc", "path": "/x"},
         '"path" is for protocol http'),
        ({"cluster": "c", "protocol": "soap"}, "expected http or grpc"),
        ({"cluster": "c", "path": "check"}, "not an absolute path"),
        ({"cluster": "c", "on_failure": "maybe"}, "expected deny or allow"),
        ({"cluster": "c", "failure_status": 500}, "503 or 403"),
        ({"cluster": "c", "upstream_headers": ["Content-Length"]},
         "is a field sluice controls"),
        ({"cluster": "c", "headers": ["Host"]}, "is a field sluice controls"),
        ({"cluster": "c", "headers": ["X-Forwarded-For"]},
         "is a field sluice controls"),
        ({"cluster": "c", "headers": ["X-Client-Subject"]},
         "is a field sluice controls"),
        ({"cluster": "c", "headers": ["bad name"]}, "not a valid header"),
        ({"cluster": "c", "cache": {"max_entries": 0}}, "max_entries"),
        ({"cluster": "c", "colour": 1}, "colour"),
    ]
    for ext, want in cases:
        import json
        cfg = json.loads(json.dumps(base))
        cfg["listeners"][0]["routes"] = [
            {"name": "r", "cluster": "c", "auth": {"external": ext}}]
        p = os.path.join(d, "c.yaml")
        with open(p, "w") as f:
            f.write(to_yaml(cfg))
        rc, out, err = run_sluice(["-t", "-c", p])
        check(rc != 0, "%r refused" % ext)
        check(want in err, "%r: %r in %r" % (ext, want, err))
    # a denial's Content-Type may be named with others
    cfg = json.loads(json.dumps(base))
    cfg["listeners"][0]["routes"] = [
        {"name": "r", "cluster": "c", "auth": {"external": {
            "cluster": "c", "headers": ["Authorization", "Cookie"],
            "client_headers": ["Content-Type", "Set-Cookie",
                               "WWW-Authenticate"]}}}]
    p = os.path.join(d, "ok.yaml")
    with open(p, "w") as f:
        f.write(to_yaml(cfg))
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 0, "client_headers with Content-Type: " + err)
    cfg = json.loads(json.dumps(base))
    cfg["listeners"][0]["routes"] = [
        {"name": "r", "cluster": "c", "auth": {}}]
    p = os.path.join(d, "e.yaml")
    with open(p, "w") as f:
        f.write(to_yaml(cfg))
    rc, out, err = run_sluice(["-t", "-c", p])
    check(rc != 0 and '"jwt", "external" or both' in err, err)


if __name__ == "__main__":
    main()
