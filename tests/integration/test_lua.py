#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lua filters (doc/lua.md, issue 80) through the real binary, with the
doc's examples as the scripts: an API-key table that maps a key to a
partner and sets X-Partner for the upstream (an unknown key answered
401 by the script, never reaching it), a maintenance answer for one host
name, and a response function that sets and removes fields; each over
HTTP/1.1, HTTP/2 (curl, by name with SNI) and HTTP/3 (quic-go's slquic,
by name). Then the hard budgets: a loop, a loop that pcall catches, an
allocation without end and the pattern of lua-nginx-module's issue 770
are each cut and answered with the route's on_error, logged with the
script's FILE:LINE, counted by kind, and nothing reached the upstream; a
burst of looping calls does not hold up another route's requests (each
is answered while the loops still run: slices); what a script sets is
checked where it crosses into a head (a control character, a framing
field, a value too long: on_error, never forwarded); a reload that
replaces the script while a call runs lets that call finish on the
script it began with; -t names a syntax error's FILE:LINE and a missing
function. Skipped in a build without Lua; the HTTP/3 cases as
test_http3_names.py skips them. No time is asserted."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
_n = len(sltest._tests)
import test_http3_names as h3  # noqa: E402
import test_tracing as tr  # noqa: E402
from jwtkeys import ISS, AUD, Keys, bearer, claims, need_jwt  # noqa: E402
del sltest._tests[_n:]  # their gateway, client and receiver, not their tests
from sltest import (Skip, Upstream, check, eq, free_port,  # noqa: E402
                    main, make_config, metrics, read_json_lines,
                    run_sluice, start_sluice, test, tmpdir, to_yaml,
                    wait_until)

DOC = os.path.join(sltest.TOP_SRCDIR, "doc", "lua")


def check_file(cfg):
    """sluice -t on cfg, written to a file: (rc, stdout and stderr)."""
    p = os.path.join(tmpdir(), "c.yaml")
    with open(p, "w") as f:
        f.write(to_yaml(cfg))
    rc, out, err = run_sluice(["-t", "-c", p])
    return rc, out + err


def built_with_lua():
    d = tmpdir()
    s = os.path.join(d, "s.lua")
    with open(s, "w") as f:
        f.write("function f(r) end\n")
    cfg, _ = make_config({"a": ["127.0.0.1:1"]},
                         routes=[{"name": "r", "cluster": "a",
                                  "lua": {"file": s, "request": "f"}}])
    rc, said = check_file(cfg)
    if "built without Lua" in said:
        raise Skip("built without Lua")
    eq(rc, 0, "-t: %s" % said)


def doc_script(name):
    return os.path.join(DOC, name)


_scripts = [0]


def script(text):
    # a small number in the name: a long run of digits in a log line can
    # pass for a card number, which the logs mask (doc/operations.md)
    _scripts[0] += 1
    p = os.path.join(tmpdir(), "script-%d.lua" % _scripts[0])
    with open(p, "w") as f:
        f.write(text)
    return p


KEYS = {"k-acme-1": "acme", "k-globex-2": "globex"}


def partner_route(name="pay", **kw):
    r = {"name": name, "cluster": "app",
         "lua": {"file": doc_script("partners.lua"),
                 "request": "on_request",
                 "response": "on_response",
                 "consts": dict(KEYS)}}
    r.update(kw)
    return r


def check_partners(up, answers, what):
    """answers: [(key, status, body, headers)] as the client saw them."""
    for key, status, body, hdrs in answers:
        if key in KEYS:
            eq(status, 200, "%s: key %s" % (what, key))
            eq(hdrs.get("x-served-by"), "sluice-lua", what + ": resp:set")
            check(hdrs.get("server") is None, what + ": resp:del(server)")
        else:
            eq(status, 401, "%s: key %s" % (what, key))
            eq(json.loads(body)["error"], "unknown_api_key", what)
            eq(hdrs.get("www-authenticate"), "ApiKey", what)
    got = [(r.headers.get("x-partner"), r.headers.get("x-api-key"))
           for r in up.requests]
    return got


@test
def an_api_key_table_over_http1():
    built_with_lua()
    up = Upstream("app", handler=lambda req: sltest.Reply(
        200, b"ok", {"Server": "upstream/1"}))
    cfg, port = make_config({"app": [up]}, routes=[partner_route()])
    s = start_sluice(cfg)
    answers = []
    for key in ("k-acme-1", "k-globex-2", "nope", "k-acme-1"):
        r = sltest.get(port, "/pay", headers={"X-Api-Key": key})
        answers.append((key, r.status, r.body, r.headers))
    check_partners(up, answers, "HTTP/1.1")
    check(up.wait_requests(3), "three requests upstream")
    eq([(r.headers.get("x-partner"), r.headers.get("x-api-key"))
        for r in up.requests],
       [("acme", None), ("globex", None), ("acme", None)],
       "X-Partner set, the key itself not forwarded")
    # a client's own X-Partner never goes up beside the script's
    r = sltest.get(port, "/pay", headers={"X-Api-Key": "k-acme-1",
                                          "X-Partner": "evil"})
    eq(r.status, 200, "with a forged X-Partner")
    check(up.wait_requests(4), "four")
    eq(up.requests[-1].headers.get_all("x-partner"), ["acme"],
       "the script's value alone")
    s.stop()


def tls_gw(up, routes):
    """test_http3_names' gateway (TLS, h2 and HTTP/3 on one port, its
    certificates for pay.test and shop.test) with routes."""
    h3.require()
    return h3.Gw(up, routes=routes)


def h2_fetch(gw, path, host="pay.test", headers=(), body=None):
    """curl --http2 to the gateway by name (--resolve host to 127.0.0.1,
    its CA): a GET, or a POST of body (bytes). (status, body, the
    answer's fields by lower-case name)."""
    d = tmpdir()
    out, hfile = os.path.join(d, "b"), os.path.join(d, "h")
    args = ["curl", "-s", "--http2", "-o", out, "-D", hfile, "-w",
            "%{http_code} %{http_version}", "--resolve",
            "%s:%d:127.0.0.1" % (host, gw.port), "--cacert", gw.ca]
    if body is not None:
        f = os.path.join(d, "post")
        with open(f, "wb") as o:
            o.write(body)
        args += ["--data-binary", "@" + f]
    for k, v in headers:
        args += ["-H", "%s: %s" % (k, v)]
    r = subprocess.run(args + ["https://%s:%d%s" % (host, gw.port, path)],
                       capture_output=True, text=True, timeout=30)
    eq(r.returncode, 0, "curl: %s" % r.stderr)
    st, ver = r.stdout.split()
    eq(ver, "2", "curl spoke HTTP/2")
    with open(out, "rb") as f:
        b = f.read()
    hdrs = {}
    with open(hfile) as f:
        for line in f.read().splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
    return int(st), b, hdrs


@test
def an_api_key_table_over_http2_and_http3_by_name():
    built_with_lua()
    up = Upstream("app", handler=lambda req: sltest.Reply(
        200, b"ok", {"Server": "upstream/1"}))
    gw = tls_gw(up, [partner_route()])
    answers = []
    for key in ("k-acme-1", "nope"):
        st, b, hd = h2_fetch(gw, "/pay", headers=[("X-Api-Key", key)])
        answers.append((key, st, b, hd))
    check_partners(up, answers, "HTTP/2")
    for key in ("k-globex-2", "nope"):
        got, _ = gw.h3("/pay", headers=[("X-Api-Key", key)])
        a = got[0]
        hd = {k.lower(): v[0] for k, v in a["headers"].items()}
        answers.append((key, a["status"], a["body"].encode(), hd))
    check_partners(up, answers[2:], "HTTP/3")
    check(up.wait_requests(2), "two requests upstream")
    eq(sorted(r.headers.get("x-partner") for r in up.requests),
       ["acme", "globex"], "one a protocol, X-Partner set")
    gw.sl.stop()


@test
def a_maintenance_answer_for_one_host():
    built_with_lua()
    up = Upstream("app")
    route = {"name": "all", "cluster": "app",
             "lua": {"file": doc_script("maintenance.lua"),
                     "request": "on_request",
                     "consts": {"host": "shop.test"}}}
    gw = tls_gw(up, [route])
    st, b, hd = h2_fetch(gw, "/x", host="shop.test")
    eq((st, hd.get("retry-after")), (503, "600"), "HTTP/2 shop.test")
    check(b"maintenance" in b, "its page: %r" % b)
    st, b, hd = h2_fetch(gw, "/x", host="pay.test")
    eq(st, 200, "HTTP/2 pay.test")
    got, _ = gw.h3("/x", sni="shop.test")
    eq(got[0]["status"], 503, "HTTP/3 shop.test")
    got, _ = gw.h3("/x", sni="pay.test")
    eq(got[0]["status"], 200, "HTTP/3 pay.test")
    check(up.wait_requests(2), "two upstream")
    eq(sorted(q.headers.get("host").split(":")[0] for q in up.requests),
       ["pay.test", "pay.test"], "shop.test never reached the upstream")
    gw.sl.stop()


WEBHOOK_SECRET = "whsec_doc_example"


def signed(body, t=None, secret=WEBHOOK_SECRET):
    """Stripe-Signature's value for body, at time t (default now)."""
    import hashlib
    import hmac
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), b"%d." % t + body,
                   hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def webhook_route():
    return {"name": "hooks", "cluster": "app",
            "lua": {"file": doc_script("webhook.lua"),
                    "request": "on_request", "body": "64KiB",
                    "consts": {"secret": WEBHOOK_SECRET,
                               "tolerance": 300}}}


def webhook_cases():
    """(what, body, signature, status)."""
    b = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
    return [("good", b, signed(b), 200),
            ("two v1, one good", b, signed(b) + ",v1=" + "0" * 64, 200),
            ("another body", b + b" ", signed(b), 401),
            ("another secret", b, signed(b, secret="whsec_other"), 401),
            ("an hour old", b, signed(b, t=int(time.time()) - 3600), 401),
            ("none", b, None, 401)]


@test
def a_webhook_signature_over_http1():
    built_with_lua()
    up = Upstream("app")
    cfg, port = make_config({"app": [up]}, routes=[webhook_route()])
    s = start_sluice(cfg)
    good = []
    for what, body, sig, status in webhook_cases():
        h = {"Content-Type": "application/json"}
        if sig:
            h["Stripe-Signature"] = sig
        r = sltest.Client(port).request("POST", "/hook", headers=h,
                                        body=body)
        eq(r.status, status, what)
        if status == 200:
            good.append(sltest.sha256(body))
        else:
            eq(json.loads(r.body)["error"], "bad_signature", what)
    check(up.wait_requests(len(good)), "the good ones upstream")
    eq([q.body_sha for q in up.requests], good,
       "only the signed bodies reached the upstream, whole")
    # a body larger than lua.body: 413, never read by the script
    big = b"x" * (65 * 1024)
    r = sltest.Client(port).request(
        "POST", "/hook", headers={"Stripe-Signature": signed(big)},
        body=big)
    eq(r.status, 413, "over lua.body")
    eq(len(up.requests), len(good), "nothing more upstream")
    s.stop()


@test
def a_webhook_signature_over_http2_and_http3_by_name():
    built_with_lua()
    up = Upstream("app")
    gw = tls_gw(up, [webhook_route()])
    n = 0
    for what, body, sig, status in webhook_cases():
        hd = [("Content-Type", "application/json")]
        if sig:
            hd.append(("Stripe-Signature", sig))
        st, b, _ = h2_fetch(gw, "/hook", body=body, headers=hd)
        eq(st, status, "HTTP/2 " + what)
        got, _ = gw.h3("/hook", headers=hd, method="POST", data=body)
        eq(got[0]["status"], status, "HTTP/3 " + what)
        n += 2 if status == 200 else 0
    check(up.wait_requests(n), "%d upstream" % n)
    eq(len(up.requests), n, "only the signed ones")
    gw.sl.stop()


def currency_route():
    return {"name": "pay",
            "split": [{"cluster": "eu", "weight": 50},
                      {"cluster": "us", "weight": 50}],
            "lua": {"file": doc_script("route_by_body.lua"),
                    "request": "on_request", "body": "16KiB",
                    "consts": {"EUR": "eu", "USD": "us"}}}


CURRENCIES = [("EUR", "eu"), ("USD", "us"), ("EUR", "eu"), ("USD", "us"),
              ("USD", "us"), ("EUR", "eu")]


def payment(cur, i):
    return json.dumps({"amount": 1000 + i, "currency": cur,
                       "note": "caf\u00e9 \"%d\"" % i}).encode()


@test
def a_cluster_chosen_from_a_json_body_field():
    built_with_lua()
    eu, us = Upstream("eu"), Upstream("us")
    cfg, port = make_config({"eu": [eu], "us": [us]},
                            routes=[currency_route()])
    s = start_sluice(cfg)
    for i, (cur, want) in enumerate(CURRENCIES):
        r = sltest.Client(port).request(
            "POST", "/pay", headers={"Content-Type": "application/json"},
            body=payment(cur, i))
        eq(r.status, 200, cur)
        eq(json.loads(r.body)["upstream"], want, "%s -> %s" % (cur, want))
    # not JSON, another currency: the split's weights (both get some)
    for i in range(8):
        r = sltest.Client(port).request("POST", "/pay",
                                        body=b"not json %d" % i)
        eq(r.status, 200, "not JSON")
    eq(len(eu.requests) + len(us.requests), len(CURRENCIES) + 8, "all")
    check(len(eu.requests) > 3 and len(us.requests) > 3,
          "the weights for the rest: %d, %d"
          % (len(eu.requests), len(us.requests)))
    s.stop()


class TlsGw:
    """test_http3_names' gateway with clusters and routes of the
    caller's: a TLS listener with h2, http/1.1 and HTTP/3 on one port,
    the certificate for pay.test; its h3 is Gw's."""

    h3 = h3.Gw.h3

    def __init__(self, clusters, routes):
        h3.require()
        certs, self.ca = h3.pki(("pay",))
        cfg, self.port = make_config(
            clusters, routes=routes, workers=1,
            listener_opts={
                "tls": {"certificates": [{"cert": certs["pay"][0],
                                          "key": certs["pay"][1]}]},
                "protocols": ["h2", "http/1.1"],
                "http3": {"retry": "never"}})
        self.sl = start_sluice(cfg)


@test
def a_cluster_chosen_from_a_json_body_field_over_http2_and_http3():
    built_with_lua()
    eu, us = Upstream("eu"), Upstream("us")
    gw = TlsGw({"eu": [eu], "us": [us]}, [currency_route()])
    for i, (cur, want) in enumerate(CURRENCIES):
        body = payment(cur, i)
        st, b, _ = h2_fetch(gw, "/pay", body=body,
                            headers=[("Content-Type", "application/json")])
        eq((st, json.loads(b)["upstream"]), (200, want), "HTTP/2 " + cur)
        got, _ = gw.h3("/pay", method="POST", data=body,
                       headers=[("Content-Type", "application/json")])
        eq((got[0]["status"], json.loads(got[0]["body"])["upstream"]),
           (200, want), "HTTP/3 " + cur)
    gw.sl.stop()


@test
def a_field_set_before_a_slice_ends_goes_up_as_set():
    """A script sets a field, then runs past its slice (the request
    waits in the run queue, its head's fields kept), then sets another:
    both reach the upstream, the client's of the first name dropped."""
    built_with_lua()
    up = Upstream("app")
    aport = free_port()
    path = script("function on_request(r)\n"
                  "  r:set('X-First', 'one')\n"
                  "  local t0 = sluice.now()\n"
                  "  while sluice.now() - t0 < 0.02 do end\n"
                  "  r:set('X-Second', r:get('X-First') .. '+two')\n"
                  "end\n")
    cfg, port = make_config(
        {"app": [up]},
        routes=[{"name": "pay", "cluster": "app",
                 "lua": {"file": path, "request": "on_request",
                         "time": "1s", "instructions": 10 ** 10}}],
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    s = start_sluice(cfg)
    r = sltest.get(port, "/x", headers={"X-First": "client"})
    eq(r.status, 200, "served")
    check(up.wait_requests(1), "upstream")
    h = up.requests[0].headers
    eq((h.get_all("x-first"), h.get_all("x-second")),
       (["one"], ["one+two"]), "as the script set them")
    m = metrics(aport)
    check(m.get('sluice_lua_yields_total{listener="main",route="pay"}',
                0) >= 10, "it ran in slices: %r" % m)
    s.stop()


def authz_handler(req):
    key = req.headers.get("x-api-key")
    if key == "k-good":
        return sltest.Reply(200, b"ok", {"X-Partner": "acme"})
    if key == "k-slow":
        return sltest.Reply(200, b"late", {"X-Partner": "late"}, delay=1.0)
    return sltest.Reply(403, b"no")


def authz_route():
    return {"name": "pay", "cluster": "app",
            "lua": {"file": doc_script("authorize.lua"),
                    "request": "on_request", "calls": ["authz"]}}


AUTHZ_CASES = [("k-good", 200), ("k-bad", 403), ("k-slow", 503),
               ("k-good", 200)]


@test
def a_call_to_an_authorization_cluster_with_its_timeout():
    built_with_lua()
    up, authz = Upstream("app"), Upstream("authz", authz_handler)
    aport = free_port()
    cfg, port = make_config(
        {"app": [up], "authz": [authz]}, routes=[authz_route()],
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    s = start_sluice(cfg)
    for key, status in AUTHZ_CASES:
        r = sltest.get(port, "/pay", headers={"X-Api-Key": key})
        eq(r.status, status, key)
    check(up.wait_requests(2), "two upstream")
    eq([(q.headers.get("x-partner"), q.headers.get("x-api-key"))
        for q in up.requests], [("acme", None), ("acme", None)],
       "the authorization's partner, never the key")
    eq(sorted(q.headers.get("x-api-key") for q in authz.requests),
       ["k-bad", "k-good", "k-good", "k-slow"], "each asked")
    m = metrics(aport)
    eq(m.get('sluice_lua_answers_total{listener="main",route="pay"}'), 2,
       "the 403 and the 503 answered by the script")
    # while a call waits, the worker serves others: a slow authorization
    # and a quick one at once, the quick one answered first
    done = []
    t = threading.Thread(target=lambda: done.append(
        ("slow", sltest.get(port, "/pay",
                            headers={"X-Api-Key": "k-slow"}).status)))
    t.start()
    time.sleep(0.05)
    done.append(("good", sltest.get(port, "/pay",
                                    headers={"X-Api-Key": "k-good"}).status))
    t.join()
    eq(done, [("good", 200), ("slow", 503)], "the loop was not held")
    s.stop()


@test
def a_call_to_an_authorization_cluster_over_http2_and_http3():
    built_with_lua()
    up, authz = Upstream("app"), Upstream("authz", authz_handler)
    gw = TlsGw({"app": [up], "authz": [authz]}, [authz_route()])
    for key, status in AUTHZ_CASES:
        st, b, _ = h2_fetch(gw, "/pay", headers=[("X-Api-Key", key)])
        eq(st, status, "HTTP/2 " + key)
        got, _ = gw.h3("/pay", headers=[("X-Api-Key", key)])
        eq(got[0]["status"], status, "HTTP/3 " + key)
    check(up.wait_requests(4), "four upstream")
    eq({q.headers.get("x-partner") for q in up.requests}, {"acme"},
       "X-Partner from the authorization")
    gw.sl.stop()


@test
def a_word_for_the_access_log():
    """r:log's word is the access line's "lua" field, in both formats
    (the JSON line here), on a forwarded request as on one the script
    answered; a word of other bytes is an error of the call."""
    built_with_lua()
    up = Upstream("app")
    log = os.path.join(tmpdir(), "access.log")
    path = script("function on_request(r)\n"
                  "  if r:path() == '/bad' then r:log('a b') end\n"
                  "  r:log('partner:acme-1')\n"
                  "  if r:path() == '/answer' then r:answer(204) end\n"
                  "end\n")
    cfg, port = make_config(
        {"app": [up]}, access_log=log,
        routes=[{"name": "pay", "cluster": "app",
                 "lua": {"file": path, "request": "on_request"}}])
    s = start_sluice(cfg)
    eq(sltest.get(port, "/up").status, 200, "/up")
    eq(sltest.get(port, "/answer").status, 204, "/answer")
    eq(sltest.get(port, "/bad").status, 500, "/bad")
    lines = read_json_lines(log, min_count=3, timeout=5)
    by = {j["path"]: j.get("lua") for j in lines}
    eq(by, {"/up": "partner:acme-1", "/answer": "partner:acme-1",
            "/bad": None}, "the lua field")
    s.stop()


@test
def a_log_function_sees_the_exchange_once_it_is_over():
    """The log function runs once the exchange is over: it reads the
    request as the access line shows it (the method, the target with
    log.query applied, the host, the client, the route), the status, the
    error and the time; its word replaces the request function's in the
    line; a request method (r:get) or a loop is a failure of its own,
    counted and said, the answer already gone and the line written. A
    route with a log function alone runs it."""
    built_with_lua()
    up = Upstream("app")
    log = os.path.join(tmpdir(), "access.log")
    aport = free_port()
    path = script(
        "function on_request(r)\n"
        "  r:log('from-request')\n"
        "  if r:path() == '/fail' then error('no') end\n"
        "end\n"
        "function on_log(r)\n"
        "  local p = r:path()\n"
        "  if p == '/get' then r:get('host') end\n"
        "  if p == '/loop' then while true do end end\n"
        "  if p == '/quiet' then return end\n"
        "  assert(r:method() == 'GET' and r:host():match('^test.local'))\n"
        "  assert(r:target() == p .. (r:query() and '?' .. r:query() or ''))\n"
        "  assert(r:client() == '127.0.0.1')\n"
        "  assert(r:route() == (p == '/only' and 'only' or 'pay'))\n"
        "  assert(r:duration_ms() >= 0)\n"
        "  local n = (tonumber(sluice.kv_get('n')) or 0) + 1\n"
        "  sluice.kv_set('n', tostring(n), 60)\n"
        "  r:log('st-' .. r:status() .. '.' .. (r:error() or 'none') ..\n"
        "        '.q-' .. (r:query() or 'nil') .. '.n' .. n)\n"
        "end\n")
    cfg, port = make_config(
        {"app": [up]}, access_log=log,
        routes=[{"name": "only", "cluster": "app", "match": {"path": "/only"},
                 "lua": {"file": path, "log": "on_log"}},
                {"name": "pay", "cluster": "app",
                 "lua": {"file": path, "request": "on_request",
                         "log": "on_log", "time": "20ms"}}],
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    cfg["log"]["query"] = "off"
    s = start_sluice(cfg)
    eq(sltest.get(port, "/up?secret=1").status, 200, "/up")
    eq(sltest.get(port, "/fail").status, 500, "/fail: on_error")
    eq(sltest.get(port, "/quiet").status, 200, "/quiet")
    time.sleep(1.1)  # a state's failures are said once a second
    eq(sltest.get(port, "/get").status, 200, "/get: answered before")
    time.sleep(1.1)
    t0 = time.monotonic()
    eq(sltest.get(port, "/loop").status, 200, "/loop: answered before")
    eq(sltest.get(port, "/only").status, 200, "/only")
    check(time.monotonic() - t0 < 2, "a loop cut by its time")
    lines = read_json_lines(log, min_count=6, timeout=5)
    by = {j["path"]: j.get("lua") for j in lines}
    eq(by, {"/up": "st-200.none.q-nil.n1",
            "/fail": "st-500.lua_failed.q-nil.n2",
            "/quiet": "from-request",
            "/get": "from-request", "/loop": "from-request",
            "/only": "st-200.none.q-nil.n1"}, "the lua field (the route "
       "only's own state)")
    err = s.stderr()
    check("log function on_log failed (error)" in err and
          "not a method of the log function's object" in err,
          "r:get said: %s" % err[-2000:])
    check(wait_until(lambda: "instruction budget exhausted" in s.stderr()
                     or "time budget exhausted" in s.stderr(), 5),
          "the loop said")
    m = metrics(aport)
    eq(m.get('sluice_lua_calls_total{listener="main",route="pay",'
             'function="log"}'), 5, "five log calls")
    eq(m.get('sluice_lua_failures_total{listener="main",route="pay",'
             'kind="time"}') + m.get('sluice_lua_failures_total{listener='
                                     '"main",route="pay",kind='
                                     '"instructions"}'), 1, "the loop "
       "counted")
    eq(m.get('sluice_lua_failures_total{listener="main",route="pay",'
             'kind="error"}'), 2, "/fail's request function, /get's log")

    def features():
        r = sltest.get(aport, "/status")
        eq(r.status, 200, "/status")
        return {x["name"]: (x["features_1m"]["lua_calls"],
                            x["features_1m"]["lua_failures"])
                for x in r.json()["listeners"][0]["routes"]}
    got = {}
    check(wait_until(lambda: got.update(features()) or
                     got == {"only": (1, 0), "pay": (10, 3)}, 10),
          "the status page's minute: calls and failures: %r" % got)
    s.stop()


@test
def a_tokens_caller_and_claims_are_the_scripts_to_read():
    """After a route's token check: r:caller() is the token's issuer and
    subject, r:get reads a claim its claims_to_headers set (never the
    client's own field of that name), and the script maps it to a plan
    for the upstream; a request without a token never reaches it."""
    built_with_lua()
    need_jwt()
    k = Keys()
    kp = os.path.join(tmpdir(), "jwks.json")
    with open(kp, "w") as f:
        json.dump(k.jwks(), f)
    up = Upstream("app")
    path = script("function on_request(r, plans)\n"
                  "  r:set('X-Plan', plans[r:get('X-Tenant')] or 'none')\n"
                  "  local iss, sub = r:caller()\n"
                  "  r:set('X-Who', sub .. ' of ' .. iss)\n"
                  "end\n")
    cfg, port = make_config(
        {"app": [up]},
        routes=[{"name": "pay", "cluster": "app",
                 "auth": {"jwt": {"keys": kp, "issuer": ISS,
                                  "audience": [AUD],
                                  "claims_to_headers": {
                                      "tenant": "X-Tenant"}}},
                 "lua": {"file": path, "request": "on_request",
                         "consts": {"acme": "gold", "globex": "free"}}}])
    s = start_sluice(cfg)
    tok = k.sign("ES256", claims(tenant="acme"))
    r = sltest.get(port, "/pay", dict(bearer(tok),
                                      **{"X-Tenant": "globex"}))
    eq(r.status, 200, "a token")
    q = up.requests[-1]
    eq((q.headers.get("x-tenant"), q.headers.get("x-plan")),
       ("acme", "gold"), "the claim, not the client's field, and its plan")
    eq(q.headers.get("x-who"), "user-42 of " + ISS,
       "the caller: its issuer and subject")
    eq(sltest.get(port, "/pay", {"X-Tenant": "acme"}).status, 401,
       "no token")
    eq(len(up.requests), 1, "never reached the script's upstream")
    s.stop()


@test
def a_failed_response_function_answers_on_error_in_the_heads_place():
    """A response function that changes the head and then fails: the
    client gets the route's on_error, nothing of the upstream's answer
    (neither its fields, nor what the function set, nor its body), over
    HTTP/1.1, HTTP/2 and HTTP/3; counted and logged once each; the next
    request on the same connection is answered by the upstream again. A
    route with a response function alone runs it (its own filter)."""
    built_with_lua()
    fields = {"Server": "upstream/1"}
    for i in range(40):
        fields["X-F%d" % i] = str(i)

    def handler(req):
        if req.target.startswith("/fail"):
            return sltest.Reply(200, b"upstream body", fields)
        return sltest.Reply(200, b"ok", {"Server": "upstream/1"})
    up = Upstream("app", handler=handler)
    aport = free_port()
    path = script("function on_response(resp)\n"
                  "  resp:set('X-Seen', 'yes')\n"
                  "  if resp:get('X-F39') then\n"
                  "    resp:del('Server')\n"
                  "    resp:set('X-Added', 'yes')\n"
                  "    error('late')\n"
                  "  end\n"
                  "end\n")
    cfg, port = make_config(
        {"app": [up]},
        routes=[{"name": "pay", "cluster": "app",
                 "lua": {"file": path, "response": "on_response",
                         "on_error": 503}}],
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    s = start_sluice(cfg)
    c = sltest.Client(port)
    r = c.request("GET", "/fail")
    eq(r.status, 503, "on_error in the head's place")
    eq(json.loads(r.body).get("error"), "lua_failed", "its code")
    for k in ("server", "x-f39", "x-added", "x-seen"):
        eq(r.headers.get(k), None, "no %s of the upstream's or the "
           "script's" % k)
    check(b"upstream body" not in r.body, "nor the upstream's body")
    r = c.request("GET", "/ok")
    eq((r.status, r.headers.get("x-seen"), r.body), (200, "yes", b"ok"),
       "the next request on the connection, answered and seen")
    c.close()
    check("on_response failed (error)" in s.stderr(), "logged")
    check("lua_failed" in s.stderr(), "the access line says why")
    m = metrics(aport)
    eq(m.get('sluice_lua_failures_total{listener="main",route="pay",'
             'kind="error"}'), 1, "counted")
    eq(m.get('sluice_lua_calls_total{listener="main",route="pay",'
             'function="response"}'), 2, "two calls")
    eq(m.get('sluice_lua_calls_total{listener="main",route="pay",'
             'function="request"}'), 0, "no request function")
    s.stop()
    gw = tls_gw(up, [{"name": "pay", "cluster": "app",
                      "lua": {"file": path, "response": "on_response"}}])
    st, b, hd = h2_fetch(gw, "/fail")
    eq((st, hd.get("server"), hd.get("x-added")), (500, None, None),
       "HTTP/2: on_error (500 by default), nothing of the upstream's")
    st, b, hd = h2_fetch(gw, "/ok")
    eq((st, hd.get("x-seen")), (200, "yes"), "HTTP/2: the next one")
    got, _ = gw.h3("/fail", sni="pay.test")
    eq(got[0]["status"], 500, "HTTP/3: on_error")
    check("upstream body" not in got[0]["body"], "HTTP/3: no body of it")
    got, _ = gw.h3("/ok", sni="pay.test")
    eq(got[0]["status"], 200, "HTTP/3: the next one")
    gw.sl.stop()


@test
def span_attributes_from_a_script():
    """r:span's attributes on the request's server span (lua.NAME), a
    name set twice kept once with its last value, a card number in a
    value masked as the span's other values are; a request the script
    set none for carries none; a bad name or value is the call's error
    (on_error, nothing upstream)."""
    built_with_lua()
    rx = tr.Receiver()
    up = Upstream("app")
    path = script("function on_request(r)\n"
                  "  if r:path() == '/bad' then r:span('Bad Name', 'x') end\n"
                  "  if r:path() == '/none' then return end\n"
                  "  r:span('partner', 'first')\n"
                  "  r:span('partner', r:get('x-partner') or 'none')\n"
                  "  r:span('card', 'pan 4111111111111111')\n"
                  "  r:span('tier.level', 3)\n"
                  "end\n")
    cfg, port = tr.traced_config(
        up, rx, route={"lua": {"file": path, "request": "on_request"}})
    sl = start_sluice(cfg)
    eq(sltest.get(port, "/pay", [("X-Partner", "acme")]).status, 200,
       "traced")
    spans = rx.wait_spans(2)
    srv = tr.by_kind(spans, tr.SERVER)[0]
    a = srv["attributes"]
    eq(a.get("lua.partner"), "acme", "the last value of a name")
    eq(a.get("lua.tier.level"), "3", "a number, as a string")
    eq(a.get("lua.card"), "pan 411111******1111", "a card number masked")
    eq(sorted(k for k in a if k.startswith("lua.")),
       ["lua.card", "lua.partner", "lua.tier.level"], "three, once each")
    for sp in tr.by_kind(spans, tr.CLIENT):
        check(not any(k.startswith("lua.") for k in sp["attributes"]),
              "the attempt's span has none")
    rx.clear()
    eq(sltest.get(port, "/none").status, 200, "none set")
    spans = rx.wait_spans(2)
    srv = tr.by_kind(spans, tr.SERVER)[0]
    check(not any(k.startswith("lua.") for k in srv["attributes"]),
          "no attribute: %r" % srv["attributes"])
    eq(sltest.get(port, "/bad").status, 500, "a bad name: on_error")
    check(wait_until(lambda: "r:span: a name of a-z 0-9" in sl.stderr(), 5),
          "said")
    eq(len([q for q in up.requests if q.target == "/bad"]), 0,
       "nothing upstream")
    tr.no_decode_errors(rx)
    sl.stop()
    rx.stop()


@test
def check_refuses_each_bad_lua_key():
    """-t on each mistake a route's lua: can hold names the key and what
    is wrong; /config shows the budgets and how many constants, never
    their names or values."""
    built_with_lua()
    ok = script("function on_request(r) end\nfunction on_response(r) end\n")
    cases = [
        (True, "expected a mapping"),
        ({"request": "on_request"}, '"file" is missing'),
        ({"file": "/nonexistent/x.lua", "request": "f"}, "cannot read"),
        ({"file": ok}, "names no function"),
        ({"file": ok, "request": "on-request"}, "not the name of a function"),
        ({"file": ok, "request": "on_request", "consts": {"a": [1]}},
         "expected a string or a number"),
        ({"file": ok, "request": "on_request", "on_error": 404},
         "on_error"),
        ({"file": ok, "request": "on_request", "calls": ["nope"]},
         "nope"),
        ({"file": ok, "request": "on_request", "time": "2m"}, "time"),
        ({"file": ok, "request": "on_request", "budget": 1}, "budget"),
    ]
    for lua, want in cases:
        cfg, _ = make_config({"a": ["127.0.0.1:1"]},
                             routes=[{"name": "r", "cluster": "a",
                                      "lua": lua}])
        rc, said = check_file(cfg)
        check(rc != 0, "-t refused %r" % (lua,))
        check(want in said, "%r: -t says %r: %s" % (lua, want, said))
    # false is no lua at all
    cfg, _ = make_config({"a": ["127.0.0.1:1"]},
                         routes=[{"name": "r", "cluster": "a",
                                  "lua": False}])
    rc, said = check_file(cfg)
    eq(rc, 0, "lua: false: %s" % said)
    # /config: the budgets, the calls, the constants' count only
    up, authz = Upstream("app"), Upstream("authz")
    aport = free_port()
    cfg, port = make_config(
        {"app": [up], "authz": [authz]},
        routes=[{"name": "pay", "cluster": "app",
                 "lua": {"file": ok, "request": "on_request",
                         "response": "on_response", "calls": ["authz"],
                         "consts": {"k-secret-1": "initech-tier"},
                         "time": "7ms", "on_error": 503}}],
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    s = start_sluice(cfg)
    r = sltest.get(aport, "/config", host="127.0.0.1:%d" % aport)
    eq(r.status, 200, "/config")
    check(b"k-secret-1" not in r.body and b"initech-tier" not in r.body,
          "no constant's name or value on /config")
    lua = [x for x in json.loads(r.body)["listeners"][0]["routes"]
           if x["name"] == "pay"][0]["lua"]
    eq((lua["request"], lua["response"], lua["consts"], lua["calls"],
        lua["time_ms"], lua["on_error"]),
       ("on_request", "on_response", 1, ["authz"], 7, 503), "/config")
    s.stop()


@test
def what_a_script_may_not_put_in_a_head():
    """Each rule of a field crossing from Lua into a head (a name that is
    no token, an empty name, a value with white space at an end, a
    framing field set or dropped, in the request's head, an answer's and
    the response's): the call fails, the request gets on_error, nothing
    goes upstream, and the log says which rule."""
    built_with_lua()
    up = Upstream("app")
    path = script(
        "local bad = {\n"
        "  ['/token'] = function(r) r:set('X Bad', 'v') end,\n"
        "  ['/empty'] = function(r) r:set('', 'v') end,\n"
        "  ['/space'] = function(r) r:set('X-S', ' v') end,\n"
        "  ['/del-host'] = function(r) r:del('Host') end,\n"
        "  ['/answer-te'] = function(r)\n"
        "    r:answer(200, 'x', {['Transfer-Encoding'] = 'chunked'}) end,\n"
        "  ['/nil-value'] = function(r) r:set('X-N', nil) end,\n"
        "}\n"
        "function on_request(r)\n"
        "  local f = bad[r:path()]\n"
        "  if f then f(r) end\n"
        "end\n"
        "function on_response(resp)\n"
        "  resp:set('Content-Length', '0')\n"
        "end\n")
    cfg, port = make_config(
        {"app": [up]},
        routes=[{"name": "pay", "cluster": "app",
                 "lua": {"file": path, "request": "on_request",
                         "response": "on_response"}}])
    s = start_sluice(cfg)
    want = {"/token": "a byte a token does not", "/empty": "1 to 256 bytes",
            "/space": "white space", "/del-host": "framing",
            "/answer-te": "framing", "/nil-value": "a string or a number"}
    for p, why in want.items():
        r = sltest.get(port, p)
        eq(r.status, 500, p)
        time.sleep(1.05)  # the log's one line a second
        check(why in s.stderr(), "%s: %r in the log: %s"
              % (p, why, s.stderr()[-1500:]))
    eq(len(up.requests), 0, "nothing upstream")
    # the response function's Content-Length: on_error in the head's
    # place (the request went up; the answer did not come back)
    r = sltest.get(port, "/fine")
    eq((r.status, json.loads(r.body).get("error")), (500, "lua_failed"),
       "/fine")
    check(up.wait_requests(1), "one upstream")
    s.stop()


BUDGET_SCRIPT = r'''
function on_request(r)
  local p = r:path()
  if p == "/loop" or p == "/slow/loop" then while true do end end
  if p == "/pcall" then
    while true do pcall(function() while true do end end) end
  end
  if p == "/alloc" then
    local t = {}
    while true do t[#t + 1] = string.rep("x", 4096) .. #t end
  end
  if p == "/pattern" then
    return (("a"):rep(1e4):find(".-.-.-.-b$"))
  end
  if p == "/error" then error("no such partner") end
  if p == "/ctl" then r:set("X-Bad", "a\r\nX-Injected: 1") end
  if p == "/framing" then r:set("Content-Length", "0") end
  if p == "/long" then r:set("X-Long", ("v"):rep(9000)) end
end
'''

KINDS = {"/loop": "instructions", "/pcall": "instructions",
         "/alloc": "memory", "/pattern": "instructions",
         "/error": "error", "/ctl": "error", "/framing": "error",
         "/long": "error", "/slow/loop": "time"}
LINES = {"/loop": ":4:", "/pcall": ":6:", "/error": ":15:",
         "/ctl": "control character", "/framing": "framing",
         "/long": "at most 8192 bytes", "/alloc": "memory cap",
         "/pattern": "budget exhausted", "/slow/loop": ":4:"}


@test
def each_budget_cuts_its_case_and_nothing_goes_up():
    built_with_lua()
    up = Upstream("app")
    aport = free_port()
    path = script(BUDGET_SCRIPT)
    cfg, port = make_config(
        {"app": [up]},
        routes=[{"name": "slow", "match": {"path_prefix": "/slow"},
                 "cluster": "app",
                 "lua": {"file": path, "request": "on_request",
                         "time": "2ms", "instructions": 10 ** 12,
                         "on_error": 503}},
                {"name": "pay", "cluster": "app",
                 "lua": {"file": path, "request": "on_request",
                         "time": "1s", "instructions": 200000,
                         "memory": "4MiB", "on_error": 503}}],
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    s = start_sluice(cfg)
    for p in KINDS:
        r = sltest.get(port, p)
        eq(r.status, 503, p)
        eq(json.loads(r.body)["error"], "lua_failed", p)
        # one line a second at most: each case after a pause
        time.sleep(1.05)
    eq(len(up.requests), 0, "nothing reached the upstream")
    err = s.stderr()
    for p, line in LINES.items():
        check(any(line in x and "on_request failed (%s)" % KINDS[p] in x
                  for x in err.splitlines()),
              "%s: a line with %r: %s" % (p, line, err[-3000:]))
    check(path + ":4:" in err, "FILE:LINE: %s" % err[-2000:])
    m = metrics(aport)
    for kind in ("instructions", "memory", "error"):
        want = sum(1 for k in KINDS.values() if k == kind)
        eq(m.get('sluice_lua_failures_total{listener="main",route="pay",'
                 'kind="%s"}' % kind), want, kind)
    eq(m.get('sluice_lua_failures_total{listener="main",route="slow",'
             'kind="time"}'), 1, "time")
    eq(m.get('sluice_lua_calls_total{listener="main",route="pay",'
             'function="request"}'), len(KINDS) - 1, "calls")
    check(m.get('sluice_lua_yields_total{listener="main",route="slow"}',
                0) >= 1, "the time case ran in slices")
    # the state is still good
    r = sltest.get(port, "/fine")
    eq(r.status, 200, "after every cut")
    s.stop()


@test
def a_burst_of_loops_does_not_hold_another_route():
    """Twenty calls that each loop for their whole time budget (300 ms
    of running time) on one worker, and meanwhile requests of another
    route: each of those is answered before the loops are over (without
    slices it would queue behind 20 x 300 ms)."""
    built_with_lua()
    up = Upstream("app")
    path = script("function on_request(r) while true do end end\n")
    cfg, port = make_config(
        {"app": [up]}, workers=1,
        routes=[{"name": "loop", "match": {"path_prefix": "/loop"},
                 "cluster": "app",
                 "lua": {"file": path, "request": "on_request",
                         "time": "300ms", "instructions": 10 ** 12}},
                {"name": "other", "cluster": "app"}])
    s = start_sluice(cfg)
    done = []

    def loop(i):
        r = sltest.get(port, "/loop/%d" % i, timeout=60)
        done.append((time.monotonic(), r.status))

    ts = [threading.Thread(target=loop, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    others = []
    for i in range(5):
        r = sltest.get(port, "/other", timeout=60)
        others.append((time.monotonic(), r.status))
    for t in ts:
        t.join()
    eq({st for _, st in done}, {500}, "every loop cut")
    eq({st for _, st in others}, {200}, "the other route served")
    last_loop = max(t for t, _ in done)
    check(all(t < last_loop for t, _ in others),
          "each of the other route's answers came before the loops "
          "ended: %r, the last loop at %r" % (others, last_loop))
    s.stop()


@test
def a_reload_lets_a_running_call_finish_on_its_script():
    built_with_lua()
    up = Upstream("app")
    d = tmpdir()
    path = os.path.join(d, "v.lua")
    v1 = ("function on_request(r)\n"
          "  local t0 = sluice.now()\n"
          "  while sluice.now() - t0 < 0.4 do end\n"
          "  r:set('X-Version', '1')\n"
          "end\n")
    with open(path, "w") as f:
        f.write(v1)
    cfg, port = make_config(
        {"app": [up]}, workers=1,
        routes=[{"name": "pay", "cluster": "app",
                 "lua": {"file": path, "request": "on_request",
                         "time": "2s", "instructions": 10 ** 12}}])
    s = start_sluice(cfg)
    res = []
    t = threading.Thread(target=lambda: res.append(
        sltest.get(port, "/slow", timeout=30)))
    t.start()
    time.sleep(0.1)
    with open(path, "w") as f:
        f.write("function on_request(r) r:set('X-Version', '2') end\n")
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: "generation 2" in s.stderr(), timeout=10),
          "reloaded: %s" % s.stderr()[-2000:])
    r = sltest.get(port, "/new")
    eq(r.status, 200, "a new request")
    t.join()
    eq(res[0].status, 200, "the call begun before the reload")
    check(up.wait_requests(2), "both upstream")
    by = {q.target: q.headers.get("x-version") for q in up.requests}
    eq(by, {"/slow": "1", "/new": "2"}, "each on its generation's script")
    s.stop()


@test
def check_names_a_syntax_error_and_a_missing_function():
    built_with_lua()
    bad = script("function on_request(r)\n  x = = 1\nend\n")
    nofn = script("function other(r) end\n")
    for path, fn, want in ((bad, "on_request", bad + ":2:"),
                           (nofn, "on_request",
                            'no function "on_request"')):
        cfg, _ = make_config({"a": ["127.0.0.1:1"]},
                             routes=[{"name": "r", "cluster": "a",
                                      "lua": {"file": path,
                                              "request": fn}}])
        rc, said = check_file(cfg)
        check(rc != 0, "-t refused %s" % path)
        check(want in said, "-t says %r: %s" % (want, said))


if __name__ == "__main__":
    main()
