# SPDX-License-Identifier: MIT
"""Per-listener and per-route policy (doc/edge.md sections 4 and 5):
allow and deny lists on the request's client address, header rules on
requests and responses, and a route's own max_body_bytes.

Clients connect from several loopback addresses (127.0.0.1, 127.0.0.2,
...: the whole of 127.0.0.0/8 is the loopback on Linux) and from ::1, so
that one sluice sees clients a rule tells apart. A refused request must
never reach the upstream: the upstreams here count what they get."""

import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (BufSock, Client, Pki, Reply, Skip,  # noqa: E402
                    TLSClient, Upstream, assert_error, build_request, check,
                    chunked, eq, free_port, have_openssl, main, make_config,
                    metric_sum, metrics, read_json_lines, run_sluice,
                    start_sluice, test, tmpdir, wait_until)

REJECTED = "sluice_requests_rejected_total"


class From(Client):
    """A client connection to host:port from the local address src."""

    def __init__(self, port, src="127.0.0.1", host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(sltest.SOCK_TIMEOUT)
        s.bind((src, 0))
        s.connect((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        BufSock.__init__(self, s)
        self.port = port
        sltest._register("clients", self)


def admin_extra():
    aport = free_port()
    return aport, {"admin": {"address": "127.0.0.1:%d" % aport}}


def line_of(sl, text):
    """The line number (from 1) of the first line of sl's configuration
    file that holds text."""
    with open(sl.conf_path) as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return i
    raise AssertionError("%r not in %s" % (text, sl.conf_path))


def rule_logged(sl, rule):
    """Waits for the info line of a 403 naming rule; returns it."""
    pat = re.compile(r"403 forbidden reason=access_denied rule=\"%s\""
                     % re.escape(rule))
    found = []

    def seen():
        found[:] = [ln for ln in sl.stderr().splitlines()
                    if pat.search(ln)]
        return bool(found)
    check(wait_until(seen, 3.0), "no log line with rule %r in:\n%s"
          % (rule, sl.stderr()[-3000:]))
    return found[0]


# ---------------------------------------------------------------------------
# 4. Allow and deny


@test
def listener_deny_wins_over_allow_403_kept_counted_logged():
    up = Upstream("a")
    aport, extra = admin_extra()
    d = tmpdir()
    alog = os.path.join(d, "access.log")
    cfg, port = make_config(
        {"a": [up]}, access_log=alog, extra=extra,
        listener_opts={"allow": ["127.0.0.0/8"],
                       "deny": ["10.66.0.0/16", "127.0.0.66/32"]})
    sl = start_sluice(cfg)
    # an allowed client passes
    c = From(port, "127.0.0.1")
    eq(c.request("GET", "/ok").status, 200, "status from 127.0.0.1")
    eq(len(up.requests), 1, "requests at the upstream")
    # in allow and in deny: deny wins, and the connection stays
    c = From(port, "127.0.0.66")
    for i in range(2):
        r = c.request("GET", "/denied/%d" % i)
        j = assert_error(r, 403, "forbidden", close=False)
        eq(j["request_id"], r.header("x-request-id"), "request id")
    # a request whose body was not read closes, as after a 404
    r = c.request("POST", "/denied/body", body=b"x" * 100)
    assert_error(r, 403, "forbidden", close=True)
    check(c.wait_closed(), "connection open after a 403 with a body")
    eq(len(up.requests), 1, "requests at the upstream after the 403s")
    m = metrics(aport)
    eq(metric_sum(m, REJECTED, reason="access_denied"), 3.0,
       "rejected{access_denied}")
    rule = "deny 127.0.0.66/32 (%s:%d)" % (
        sl.conf_path, line_of(sl, "127.0.0.66/32"))
    ln = rule_logged(sl, rule)
    check(" info: " in ln, "logged at info: %r" % ln)
    check('target="/denied/0"' in ln, "target in the line: %r" % ln)
    logs = read_json_lines(alog, lambda o: o["status"] == 403, min_count=3)
    eq(set(o["error"] for o in logs), {"access_denied"},
       "access log error field")
    eq(set(o["peer"] for o in logs), {"127.0.0.66"}, "access log peer")
    eq(logs[0]["route"], "-", "route of a request refused before routing")


@test
def listener_allow_refuses_others_before_routing():
    up = Upstream("a")
    aport, extra = admin_extra()
    cfg, port = make_config(
        {"a": [up]}, extra=extra,
        routes=[{"name": "only", "match": {"path_prefix": "/v1/"},
                 "cluster": "a"}],
        listener_opts={"allow": ["127.0.0.1/32", "2001:db8::/32"]})
    sl = start_sluice(cfg)
    eq(From(port, "127.0.0.1").request("GET", "/v1/x").status, 200,
       "status of an allowed client")
    # not in allow: 403, even where no route matches (the listener's
    # lists come before routing)
    c = From(port, "127.0.0.2")
    assert_error(c.request("GET", "/v1/x"), 403, "forbidden", close=False)
    assert_error(c.request("GET", "/nowhere"), 403, "forbidden",
                 close=False)
    eq(len(up.requests), 1, "requests at the upstream")
    rule_logged(sl, "not in allow (%s:%d)" % (
        sl.conf_path, line_of(sl, "allow:")))
    eq(metric_sum(metrics(aport), REJECTED, reason="access_denied"), 2.0,
       "rejected{access_denied}")


@test
def route_allow_and_deny_after_routing():
    up = Upstream("a")
    cfg, port = make_config(
        {"a": [up]},
        routes=[{"name": "admin", "match": {"path_prefix": "/admin/"},
                 "cluster": "a", "allow": ["127.0.0.1/32"]},
                {"name": "pub", "cluster": "a",
                 "deny": ["::ffff:127.0.0.3/128"]}])
    sl = start_sluice(cfg)
    # the route's list applies to its requests only
    eq(From(port, "127.0.0.1").request("GET", "/admin/a").status, 200,
       "admin from 127.0.0.1")
    c = From(port, "127.0.0.2")
    assert_error(c.request("GET", "/admin/a"), 403, "forbidden",
                 close=False)
    eq(c.request("GET", "/pub").status, 200, "pub from 127.0.0.2")
    # a range written as IPv4-mapped IPv6 is the IPv4 range it maps
    c = From(port, "127.0.0.3")
    assert_error(c.request("GET", "/pub"), 403, "forbidden", close=False)
    eq(c.request("GET", "/admin/x").status, 403, "admin from 127.0.0.3")
    eq(sorted(up.paths()), ["/admin/a", "/pub"], "what the upstream saw")
    ln = rule_logged(sl, "not in allow (%s:%d)" % (
        sl.conf_path, line_of(sl, "allow:")))
    check("route=admin" in ln, "the route in the line: %r" % ln)
    rule_logged(sl, "deny 127.0.0.3/32 (%s:%d)" % (
        sl.conf_path, line_of(sl, "::ffff:127.0.0.3/128")))


def v6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@test
def ipv6_client_on_an_ipv6_listener():
    if not v6_available():
        raise Skip("no IPv6 loopback")
    up = Upstream("a")
    cfg, port = make_config(
        {"a": [up]},
        routes=[{"name": "in", "match": {"path": "/in"}, "cluster": "a",
                 "allow": ["::1/128"]},
                {"name": "out", "match": {"path": "/out"}, "cluster": "a",
                 "allow": ["2001:db8::/32", "127.0.0.0/8"]},
                {"name": "deny", "cluster": "a", "deny": ["::/0"]}])
    cfg["listeners"][0]["address"] = "[::1]:%d" % port
    sl = start_sluice(cfg, wait_ports=[])
    wait_until(lambda: not _refused6(port) or sl.proc.poll() is not None,
               5.0)
    check(sl.proc.poll() is None, "sluice exited:\n%s" % sl.stderr())
    check(not _refused6(port), "sluice does not listen on [::1]:%d" % port)
    c = From(port, "::1", "::1")
    eq(c.request("GET", "/in").status, 200, "/in from ::1")
    assert_error(c.request("GET", "/out"), 403, "forbidden", close=False)
    assert_error(c.request("GET", "/x"), 403, "forbidden", close=False)
    eq(up.paths(), ["/in"], "what the upstream saw")
    rule_logged(sl, "deny ::/0 (%s:%d)" % (sl.conf_path,
                                           line_of(sl, "::/0")))
    sl.stop()


def _refused6(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(("::1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# ---------------------------------------------------------------------------
# 5. Header rules


@test
def request_rules_listener_then_route_with_variables():
    up = Upstream("a")
    cfg, port = make_config(
        {"backend": [up]},
        routes=[{"name": "api", "cluster": "backend",
                 "request_headers": {
                     "set": {"X-Route": "${route}/${cluster}",
                             "X-Tier": "api",
                             "X-Tls": "v=${tls_version}",
                             "X-Subject": "${tls_client_subject}",
                             "X-Price": "$$5 for ${client_ip}"},
                     "add": {"X-Req": "${request_id}"},
                     "remove": ["X-Layer"]}}],
        listener_opts={"request_headers": {
            "set": {"X-Client-IP": "${client_ip}", "X-Env": "prod",
                    "X-Tier": "gw"},
            "add": {"Via": "1.1 sluice", "X-Layer": "listener"},
            "remove": ["X-Debug", "x-internal-token"]}})
    start_sluice(cfg)
    c = From(port, "127.0.0.5")
    r = c.request("GET", "/p", [
        ("X-Debug", "1"), ("x-DEBUG", "2"), ("X-Internal-Token", "s3cr3t"),
        ("X-Env", "dev"), ("X-Env", "qa"), ("Via", "1.0 edge"),
        ("X-Request-Id", "client-rid-1"), ("Accept", "*/*")])
    eq(r.status, 200, "status")
    h = up.requests[0].headers
    eq(h.get_all("x-client-ip"), ["127.0.0.5"], "X-Client-IP")
    # remove drops every field of the name, whatever its case
    eq(h.get_all("x-debug"), [], "X-Debug")
    eq(h.get_all("x-internal-token"), [], "X-Internal-Token")
    # set replaces every field of the name
    eq(h.get_all("x-env"), ["prod"], "X-Env")
    # add appends one more
    eq(h.get_all("via"), ["1.0 edge", "1.1 sluice"], "Via")
    # the route's rules come after the listener's: they replace and
    # remove what the listener's set and added
    eq(h.get_all("x-tier"), ["api"], "X-Tier")
    eq(h.get_all("x-layer"), [], "X-Layer")
    eq(h.get_all("x-route"), ["api/backend"], "X-Route")
    eq(h.get_all("x-req"), ["client-rid-1"], "X-Req")
    eq(h.get_all("x-request-id"), ["client-rid-1"], "X-Request-Id")
    eq(h.get_all("x-tls"), ["v="], "X-Tls on plain HTTP")
    # a value that expands to nothing is not sent
    eq(h.get_all("x-subject"), [], "X-Subject without a certificate")
    eq(h.get_all("x-price"), ["$5 for 127.0.0.5"], "X-Price")
    eq(h.get_all("accept"), ["*/*"], "a field no rule names")
    eq(h.get_all("x-forwarded-for"), ["127.0.0.5"], "X-Forwarded-For")


@test
def response_rules_and_hsts_on_sluices_own_answers():
    def handler(req):
        return Reply(200, b"hello", [
            ("Server", "gunicorn/20"), ("X-Powered-By", "PHP/5"),
            ("x-powered-by", "Express"), ("Cache-Control", "public"),
            ("Cache-Control", "max-age=600"), ("Set-Cookie", "a=1"),
            ("Content-Type", "text/plain")])
    up = Upstream("a", handler)
    hsts = "max-age=63072000; includeSubDomains"
    cfg, port = make_config(
        {"pay": [up]},
        routes=[{"name": "pay", "match": {"path_prefix": "/v1/"},
                 "cluster": "pay",
                 "response_headers": {
                     "set": {"Cache-Control": "no-store",
                             "X-Served": "${route}@${cluster}",
                             "Content-Type": "application/x-pay"},
                     "add": {"X-Trace": "${request_id} ${client_ip}"}}}],
        listener_opts={"response_headers": {
            "set": {"Strict-Transport-Security": hsts,
                    "X-Content-Type-Options": "nosniff"},
            "remove": ["Server", "X-Powered-By"]}})
    start_sluice(cfg)
    c = From(port, "127.0.0.1")
    r = c.request("GET", "/v1/charge")
    eq(r.status, 200, "status")
    eq(r.body, b"hello", "body")
    h = r.headers
    eq(h.get_all("strict-transport-security"), [hsts], "HSTS")
    eq(h.get_all("x-content-type-options"), ["nosniff"], "nosniff")
    eq(h.get_all("server"), [], "Server")
    eq(h.get_all("x-powered-by"), [], "X-Powered-By")
    eq(h.get_all("cache-control"), ["no-store"], "Cache-Control")
    eq(h.get_all("set-cookie"), ["a=1"], "Set-Cookie")
    eq(h.get_all("content-type"), ["application/x-pay"], "Content-Type")
    eq(h.get_all("x-served"), ["pay@pay"], "X-Served")
    rid = r.header("x-request-id")
    eq(h.get_all("x-trace"), ["%s 127.0.0.1" % rid], "X-Trace")
    # sluice's own 404: the listener's set and add, its own framing and
    # Content-Type untouched
    r = c.request("GET", "/nowhere")
    assert_error(r, 404, "no_route", close=False)
    eq(r.headers.get_all("strict-transport-security"), [hsts], "HSTS on 404")
    eq(r.headers.get_all("x-content-type-options"), ["nosniff"],
       "nosniff on 404")
    eq(r.headers.get_all("x-served"), [], "a route's rule on a 404")
    # an answer after routing gets the route's too, but for the fields
    # sluice's answer has of its own (Content-Type)
    up.stop()
    r = c.request("GET", "/v1/down")
    assert_error(r, 502, "upstream_connect_failed")
    eq(r.headers.get_all("strict-transport-security"), [hsts], "HSTS on 502")
    eq(r.headers.get_all("x-served"), ["pay@pay"], "X-Served on 502")
    eq(r.headers.get_all("content-type"), ["application/json"],
       "Content-Type of sluice's 502")
    eq(r.headers.get_all("cache-control"), ["no-store"],
       "Cache-Control on 502")


@test
def mirror_copies_carry_the_request_rules():
    up = Upstream("a")
    shadow = Upstream("shadow")
    cfg, port = make_config(
        {"a": [up], "shadow": [shadow]},
        routes=[{"name": "m", "cluster": "a",
                 "mirror": {"cluster": "shadow", "percent": 100},
                 "request_headers": {"set": {"X-Real-IP": "${client_ip}"},
                                     "remove": ["Cookie"]}}])
    start_sluice(cfg)
    r = From(port, "127.0.0.9").request("GET", "/m", [("Cookie", "s=1")])
    eq(r.status, 200, "status")
    check(shadow.wait_requests(1), "the mirror got no copy")
    for u in (up, shadow):
        h = u.requests[0].headers
        eq(h.get_all("x-real-ip"), ["127.0.0.9"], "X-Real-IP at %s" % u.name)
        eq(h.get_all("cookie"), [], "Cookie at %s" % u.name)


@test
def head_too_large_with_the_added_fields():
    # past the buffer a head of max_header_bytes has (its size class)
    big = "v" * 9000

    def handler(req):
        return Reply(200, b"ok", [("X-Pad", "p" * 500)])
    up = Upstream("a", handler)
    cfg, port = make_config(
        {"a": [up]},
        limits={"max_header_bytes": "1KiB", "max_uri_bytes": "512B"},
        routes=[{"name": "req", "match": {"path": "/req"}, "cluster": "a",
                 "request_headers": {"set": {"X-Big": big}}},
                {"name": "resp", "match": {"path": "/resp"}, "cluster": "a",
                 "response_headers": {"set": {"X-Big": big}}}])
    sl = start_sluice(cfg)
    c = From(port)
    # a head within max_header_bytes that the rules push past the buffer
    r = c.request("GET", "/req", [("X-Pad", "p" * 900)])
    assert_error(r, 431, "header_too_large", close=True)
    eq(len(up.requests), 0, "requests at the upstream")
    # a response head: the upstream's bad answer (502), logged as too
    # large; sluice's own answer goes out all the same
    c = From(port)
    r = c.request("GET", "/resp")
    assert_error(r, 502, "upstream_bad_response")
    check(wait_until(lambda: "upstream_head_too_large" in sl.stderr()),
          "no upstream_head_too_large in the log")


@test
def rules_that_add_more_than_the_head_reach_the_upstream():
    # the upstream head's buffer is sized for the client's head and grows
    # when the rules add more (20 KB here, within max_header_bytes' 32 KiB
    # and its buffer)
    grow = "g" * 20000
    up = Upstream("a")
    cfg, port = make_config(
        {"a": [up]},
        routes=[{"name": "grow", "match": {"path_prefix": "/"},
                 "cluster": "a",
                 "request_headers": {"set": {"X-Grow": grow}}}])
    start_sluice(cfg)
    c = From(port)
    for i in range(3):
        r = c.request("GET", "/g%d" % i, [("X-Small", "s")])
        eq(r.status, 200, "status %d" % i)
    eq(len(up.requests), 3, "requests at the upstream")
    for q in up.requests:
        eq(q.headers.get_all("x-grow"), [grow], "X-Grow whole")
        eq(q.headers.get_all("x-small"), ["s"], "the client's field")


# ---------------------------------------------------------------------------
# TLS variables

_pki = []


def pki():
    if not have_openssl():
        raise Skip("the openssl command is not installed")
    if not _pki:
        p = Pki()
        p.ca("ca", "/O=Sluice Test/CN=Sluice Test CA")
        p.leaf("srv", "/O=Example Corp/CN=pay.example.test", "ca",
               ["pay.example.test"])
        p.ca("cca", "/O=Example Corp/CN=Example Client CA")
        p.leaf("alice", "/O=Example Corp/CN=alice", "cca")
        p.leaf("bob", "/O=Example, Inc/CN=bob", "cca")
        _pki.append(p)
    return _pki[0]


@test
def tls_variables_version_and_verified_client_subject():
    p = pki()
    up = Upstream("a")
    tls = {"certificates": [{"cert": p["srv"].cert, "key": p["srv"].key}],
           "client_ca": p["cca"].cert, "client_verify": "optional"}
    cfg, port = make_config(
        {"a": [up]}, listener_opts={"tls": tls},
        routes=[{"name": "mtls", "cluster": "a",
                 "request_headers": {
                     "set": {"X-Tls": "${tls_version}",
                             "X-Client-Cert": "${tls_client_subject}"}},
                 "response_headers": {
                     "set": {"X-Seen-Subject": "${tls_client_subject}"}}}])
    start_sluice(cfg)
    for ver, who, want in (("TLSv1.3", "alice", "CN=alice,O=Example Corp"),
                           ("TLSv1.2", "bob", "CN=bob,O=Example\\, Inc"),
                           ("TLSv1.3", None, None)):
        n = len(up.requests)
        kw = {}
        if who:
            kw = {"cert": p[who].cert, "key": p[who].key}
        c = TLSClient(port, sni="pay.example.test", cafile=p["ca"].cert,
                      max_version=ver, **kw)
        c.send(build_request("GET", "/t", [("X-Client-Cert", "CN=forged")]))
        r = c.read_response()
        eq(r.status, 200, "status (%s, %s)" % (ver, who))
        h = up.requests[n].headers
        eq(h.get_all("x-tls"), [ver], "X-Tls")
        # set replaces the client's own, and an empty value sends none
        eq(h.get_all("x-client-cert"), [want] if want else [],
           "X-Client-Cert (%s)" % who)
        eq(r.headers.get_all("x-seen-subject"), [want] if want else [],
           "X-Seen-Subject (%s)" % who)


# ---------------------------------------------------------------------------
# Checked at load


@test
def a_rule_on_a_framing_field_is_refused_by_sluice_t():
    d = tmpdir()
    path = os.path.join(d, "bad.yaml")
    port = free_port()
    with open(path, "w") as f:
        f.write("""listeners:
  - name: public
    address: 127.0.0.1:%d
    request_headers:
      set: { Transfer-Encoding: chunked, X-Ok: "${client_ip}" }
    routes:
      - cluster: demo
        response_headers:
          remove: [X-Powered-By, Content-Length]
          add: { X-Who: "${nobody}" }
clusters:
  - name: demo
    endpoints: [127.0.0.1:9]
""" % port)
    rc, out, err = run_sluice(["-t", "-c", path])
    eq(rc, 1, "exit status of sluice -t (stderr %r)" % err)
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    eq(lines, [
        '%s:5:14: error: "request_headers": "Transfer-Encoding" frames the '
        'message: no rule may touch it' % path,
        # the route's own messages name it (issue 61)
        '%s:9:34: error: route "route-1": "response_headers": '
        '"Content-Length" frames the message: no rule may touch it' % path,
        '%s:10:25: error: route "route-1": "response_headers": unknown '
        'variable "${nobody}" '
        'in the value of "X-Who" (known: client_ip, request_id, route, '
        'cluster, tls_version, tls_client_subject)' % path,
    ], "errors")


# ---------------------------------------------------------------------------
# A route's max_body_bytes


@test
def route_max_body_bytes_overrides_the_listeners():
    up = Upstream("a")
    aport, extra = admin_extra()
    cfg, port = make_config(
        {"a": [up]}, limits={"max_body_bytes": "4KiB"}, extra=extra,
        routes=[{"name": "small", "match": {"path": "/small"},
                 "cluster": "a", "max_body_bytes": "1KiB"},
                {"name": "big", "match": {"path": "/big"}, "cluster": "a",
                 "max_body_bytes": "0B"},
                {"name": "default", "cluster": "a"}])
    start_sluice(cfg)

    def post(path, n, chunks=False):
        c = From(port)
        body = b"b" * n
        if chunks:
            c.send(build_request("POST", path, [("Transfer-Encoding",
                                                 "chunked")]) +
                   chunked(body, 512))
        else:
            c.send(build_request("POST", path, body=body))
        return c.read_response("POST")

    for chunks in (False, True):
        how = "chunked" if chunks else "Content-Length"
        eq(post("/small", 1024, chunks).status, 200, "/small 1KiB " + how)
        assert_error(post("/small", 2048, chunks), 413, "payload_too_large",
                     close=True)
        eq(post("/default", 2048, chunks).status, 200,
           "/default 2KiB " + how)
        assert_error(post("/default", 8192, chunks), 413,
                     "payload_too_large", close=True)
        r = post("/big", 64 * 1024, chunks)
        eq(r.status, 200, "/big 64KiB " + how)
        eq(json.loads(r.body)["body_len"], 64 * 1024, "body at the upstream")
    eq(sorted(x.target for x in up.requests),
       sorted(["/small", "/default", "/big"] * 2), "what the upstream saw")
    eq(metric_sum(metrics(aport), REJECTED, reason="body_too_large"), 4.0,
       "rejected{body_too_large}")



@test
def route_deny_is_said_before_its_body_limit_and_a_limit_passes_waiters():
    """The route's allow and deny rules run before its max_body_bytes
    (doc/design-notes.md, "Filters": the ACCESS phase): a refused client
    hears 403, not 413, whatever it sends; an allowed one hears 413 for a
    body past the limit, before the route's rate limit counts it, so the
    one token of a fleet of one is still there for its next request."""
    up = Upstream("a")
    cfg, port = make_config(
        {"a": [up]},
        routes=[{"name": "pay", "cluster": "a", "max_body_bytes": "1KiB",
                 "deny": ["127.0.0.3/32"],
                 "rate_limit": [{"name": "one", "key": "client_ip",
                                  "rate": "1/m", "burst": 1}]}])
    start_sluice(cfg)

    def post(src, n):
        c = From(port, src)
        c.send(build_request("POST", "/pay", body=b"b" * n))
        return c.read_response("POST")

    assert_error(post("127.0.0.3", 4096), 403, "forbidden", close=True)
    assert_error(post("127.0.0.1", 4096), 413, "payload_too_large",
                 close=True)
    eq(post("127.0.0.1", 10).status, 200, "the limit's token was not spent")
    eq(post("127.0.0.1", 10).status, 429, "... and is now")
    eq([x.target for x in up.requests], ["/pay"], "what the upstream saw")


if __name__ == "__main__":
    main()
