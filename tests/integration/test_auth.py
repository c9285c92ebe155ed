# SPDX-License-Identifier: MIT
"""Authentication at the edge (doc/auth.md): JSON Web Tokens checked by a
route against a JSON Web Key set file, through the real binary.

Keys are made here with python3-cryptography and tokens signed with
python3-jwt (PyJWT), an implementation that shares nothing with sluice's;
the attacks (alg none, HS256 signed with the public key, a forged
signature, a key the token carries, a kid nobody knows) are written by
hand. A refused request must never reach the upstream: the upstream here
counts what it gets. No time is asserted."""

import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Skip, Upstream, check, eq,  # noqa: E402
                    free_port, get, main, make_config, metric_sum, metrics,
                    run_sluice, sighup_reload, start_sluice, test, tmpdir,
                    to_yaml, wait_until)

from jwtkeys import (AUD, ISS, Keys, b64u, bearer, claims,  # noqa: E402
                     ec, need_jwt, pyjwt, rsa, serialization)

def unsigned(header, payload, sig=b""):
    return "%s.%s.%s" % (b64u(json.dumps(header).encode()),
                         b64u(json.dumps(payload).encode()), b64u(sig))


def write_keys(path, jwks):
    with open(path, "w") as f:
        json.dump(jwks, f)


def auth_config(up, keys_path, jwt_opts=None, workers=1, routes=None):
    aport = free_port()
    j = {"keys": keys_path, "issuer": ISS, "audience": [AUD],
         "claims_to_headers": {"sub": "X-User-Id", "tenant": "X-Tenant"}}
    j.update(jwt_opts or {})
    if routes is None:
        routes = [{"name": "pay", "match": {"path_prefix": "/pay"},
                   "cluster": "c", "auth": {"jwt": j}},
                  {"name": "open", "cluster": "c"}]
    cfg, port = make_config(
        {"c": [up]}, routes=routes, workers=workers,
        extra={"admin": {"address": "127.0.0.1:%d" % aport}},
        listener_opts={"protocols": ["h2", "http/1.1"]})
    return cfg, port, aport


def setup(jwt_opts=None, workers=1, access_log=None):
    need_jwt()
    k = Keys()
    d = tmpdir()
    kp = os.path.join(d, "jwks.json")
    write_keys(kp, k.jwks())
    up = Upstream()
    cfg, port, aport = auth_config(up, kp, jwt_opts, workers)
    if access_log:
        cfg["log"] = dict(cfg.get("log", {}), access=access_log)
    sl = start_sluice(cfg)
    return k, kp, up, sl, port, aport


def refused(r, status=401, error="invalid_token"):
    eq(r.status, status, "status")
    w = r.header("WWW-Authenticate")
    check(w is not None, "WWW-Authenticate on a %d" % status)
    if error is None:
        eq(w, "Bearer", "no error for a request without a token")
    else:
        eq(w, 'Bearer error="%s"' % error, "WWW-Authenticate")


# ---------------------------------------------------------------------------


@test
def valid_tokens_of_each_algorithm_pass_with_their_claims_as_fields():
    log = os.path.join(tmpdir(), "access.log")
    k, kp, up, sl, port, aport = setup(access_log=log)
    for alg in ("ES256", "ES384", "RS256", "RS512", "PS256", "EdDSA"):
        tok = k.sign(alg, claims(tenant="acme"))
        r = get(port, "/pay/x", headers=dict(
            bearer(tok), **{"X-User-Id": "spoofed", "x-tenant": "evil"}))
        eq(r.status, 200, "%s token passes" % alg)
        req = up.requests[-1]
        eq(req.headers.get_all("X-User-Id"), ["user-42"],
           "%s: the claim, the client's own dropped" % alg)
        eq(req.headers.get_all("X-Tenant"), ["acme"], "tenant claim")
        eq(req.header("Authorization"), "Bearer " + tok,
           "the token goes on by default")
    # a route without auth is untouched: the client's field goes on
    r = get(port, "/other", headers={"X-User-Id": "any"})
    eq(r.status, 200, "open route")
    eq(up.requests[-1].header("X-User-Id"), "any", "no auth, no change")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_auth_decisions_total", route="pay",
                  result="allow"), 6, "allowed counted")
    sl.stop()
    # the access log: "auth":"jwt" on the allowed, not on the open route
    lines = sltest.read_json_lines(log, min_count=7)
    eq([x.get("auth") for x in lines[-7:]], ["jwt"] * 6 + [None],
       "the access log says which requests a token let through")


@test
def no_token_is_401_with_the_scheme_and_never_reaches_the_upstream():
    k, kp, up, sl, port, aport = setup()
    n0 = len(up.requests)
    refused(get(port, "/pay"), 401, None)
    # another scheme is no bearer token
    refused(get(port, "/pay", headers={"Authorization": "Basic dTpw"}), 401,
            None)
    # two tokens are none
    tok = k.sign("ES256", claims())
    c = Client(port)
    c.send(b"GET /pay HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           tok.encode() + b"\r\nAuthorization: Bearer " + tok.encode() +
           b"\r\n\r\n")
    r = c.read_response()
    refused(r, 401, None)
    c.close()
    eq(len(up.requests), n0, "nothing reached the upstream")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_auth_decisions_total", route="pay",
                  result="missing"), 3, "missing counted")
    sl.stop()


@test
def bad_tokens_are_401_invalid_token_and_logged_without_the_token():
    k, kp, up, sl, port, aport = setup()
    now = int(time.time())
    pem = k.rsa.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    good = k.sign("ES256", claims())
    h, p, s = good.split(".")
    forged_payload = b64u(json.dumps(claims(sub="admin")).encode())
    hs_head = b64u(json.dumps({"alg": "HS256", "kid": "rsa1"}).encode())
    hs_body = b64u(json.dumps(claims()).encode())
    hs_sig = b64u(hmac.new(pem, (hs_head + "." + hs_body).encode(),
                           hashlib.sha256).digest())
    cases = [
        ("expired", k.sign("ES256", claims(exp=now - 120)), "jwt_expired"),
        ("not yet valid", k.sign("ES256", claims(nbf=now + 600)),
         "jwt_not_yet_valid"),
        ("no exp", k.sign("ES256", claims(exp=None)), "jwt_no_exp"),
        ("wrong issuer", k.sign("ES256", claims(iss="https://evil")),
         "jwt_issuer"),
        ("wrong audience", k.sign("ES256", claims(aud=["other"])),
         "jwt_audience"),
        ("alg none", unsigned({"alg": "none"}, claims()), "jwt_algorithm"),
        ("alg none, lower case key", unsigned({"alg": "None", "kid": "ec1"},
                                               claims()), "jwt_algorithm"),
        ("alg none with a signature", unsigned({"alg": "none"}, claims(),
                                               b"sig"), "jwt_algorithm"),
        ("no signature for a taken algorithm",
         unsigned({"alg": "ES256", "kid": "ec1"}, claims()),
         "jwt_malformed"),
        ("HS256 with the RSA public key as secret",
         hs_head + "." + hs_body + "." + hs_sig, "jwt_algorithm"),
        ("payload swapped under a good signature",
         h + "." + forged_payload + "." + s, "jwt_signature"),
        ("signature of another token", k.sign("ES256", claims(sub="x"))
         .rsplit(".", 1)[0] + "." + s, "jwt_signature"),
        ("unknown kid", k.sign("ES256", claims(), kid="nobody"),
         "jwt_no_key"),
        ("RS256 header on the EC key's kid",
         k.sign("RS256", claims(), kid="ec1"), "jwt_no_key"),
        ("a key carried in the token", k.sign(
            "ES256", claims(), kid="nobody",
            headers={"jwk": json.loads(pyjwt.algorithms.ECAlgorithm.to_jwk(
                k.ec.public_key()))}), "jwt_no_key"),
        ("crit", k.sign("ES256", claims(), headers={"crit": ["exp"]}),
         "jwt_crit"),
        ("two parts", h + "." + p, "jwt_malformed"),
        ("padding", good + "=", "jwt_malformed"),
        ("not base64", "@@@." + p + "." + s, "jwt_malformed"),
        ("duplicate exp", unsigned({"alg": "ES256", "kid": "ec1"}, {})
         .replace(b64u(b"{}"), b64u(b'{"exp": 1, "exp": 99999999999}')),
         "jwt_malformed"),
        ("too large", k.sign("ES256", claims(pad="x" * 9000)),
         "jwt_too_large"),
    ]
    n0 = len(up.requests)
    for what, tok, error in cases:
        # each token's own decision: an unsecured token (alg none, an
        # empty third part) once counted as malformed, which an alert on
        # algorithm did not see, while the suite's HS256 case hid it
        before = metric_sum(metrics(aport), "sluice_auth_decisions_total",
                            route="pay", result=error[4:])
        r = get(port, "/pay", headers=bearer(tok))
        refused(r)
        body = r.json()
        eq(body.get("error"), "unauthorized", what + ": the body's code")
        eq(metric_sum(metrics(aport), "sluice_auth_decisions_total",
                      route="pay", result=error[4:]), before + 1,
           "%s counted as %s" % (what, error))
    eq(len(up.requests), n0, "no refused request reached the upstream")
    sl.stop()
    log = sl.stderr()
    for what, tok, error in cases:
        check(error in log, "%s: the log says %s" % (what, error))
        sig = tok.rsplit(".", 1)[-1]
        check(len(sig) < 20 or sig not in log,
              "%s: the token is not in the log" % what)
    check(good not in log, "no token in the log")


@test
def a_token_without_the_required_claim_is_403_insufficient_scope():
    k, kp, up, sl, port, aport = setup(
        {"require": {"scope": ["payments:write"], "tenant": []}})
    n0 = len(up.requests)
    ok = k.sign("ES256", claims(tenant="acme"))
    eq(get(port, "/pay", headers=bearer(ok)).status, 200,
       "scope word and tenant present")
    arr = k.sign("ES256", claims(tenant="t", scope=["a", "payments:write"]))
    eq(get(port, "/pay", headers=bearer(arr)).status, 200, "scope array")
    for what, c in (("read only", claims(tenant="a", scope="payments:read")),
                    ("no tenant", claims()),
                    ("a word's prefix", claims(tenant="a",
                                               scope="payments:writer"))):
        refused(get(port, "/pay", headers=bearer(k.sign("ES256", c))), 403,
                "insufficient_scope")
    eq(len(up.requests), n0 + 2, "only the two allowed went up")
    # a forged token with every claim is still 401, not 403
    forged = k.sign("ES256", claims(tenant="a")).rsplit(".", 1)[0] + "." + \
        b64u(b"\0" * 64)
    refused(get(port, "/pay", headers=bearer(forged)))
    sl.stop()


@test
def a_claim_with_a_control_byte_never_becomes_a_field():
    k, kp, up, sl, port, aport = setup()
    n0 = len(up.requests)
    tok = k.sign("ES256", claims(sub="a\r\nX-Admin: 1"))
    refused(get(port, "/pay", headers=bearer(tok)))
    eq(len(up.requests), n0, "nothing went up")
    # numbers and booleans go as JSON writes them; objects not at all
    tok = k.sign("ES256", claims(sub=12345, tenant={"id": 1}))
    eq(get(port, "/pay", headers=bearer(tok)).status, 200, "passes")
    eq(up.requests[-1].header("X-User-Id"), "12345", "a number claim")
    eq(up.requests[-1].header("X-Tenant"), None, "an object claim: none")
    sl.stop()


@test
def forward_token_false_and_a_cookie_token():
    need_jwt()
    k = Keys()
    d = tmpdir()
    kp = os.path.join(d, "jwks.json")
    write_keys(kp, k.jwks())
    up = Upstream()
    base = {"keys": kp, "issuer": ISS, "audience": AUD}
    routes = [
        {"name": "hidden", "match": {"path_prefix": "/hidden"},
         "cluster": "c", "auth": {"jwt": dict(base, forward_token=False)}},
        {"name": "cookie", "match": {"path_prefix": "/cookie"},
         "cluster": "c",
         "auth": {"jwt": dict(base, token="cookie:session")}},
        {"name": "xtoken", "match": {"path_prefix": "/x"}, "cluster": "c",
         "auth": {"jwt": dict(base, token="header:X-Token",
                              forward_token=False)}},
    ]
    cfg, port, aport = auth_config(up, kp, routes=routes)
    sl = start_sluice(cfg)
    tok = k.sign("EdDSA", claims())
    eq(get(port, "/hidden", headers=bearer(tok)).status, 200, "passes")
    eq(up.requests[-1].header("Authorization"), None, "the token kept back")
    r = get(port, "/cookie", headers={"Cookie": "a=1; session=%s; b=2" % tok})
    eq(r.status, 200, "a cookie's token")
    refused(get(port, "/cookie", headers=bearer(tok)), 401, None)
    eq(get(port, "/x", headers={"X-Token": tok}).status, 200, "a header")
    eq(up.requests[-1].header("X-Token"), None, "X-Token kept back")
    sl.stop()


@test
def http2_requests_are_checked_the_same():
    import h2test
    if not h2test.HAVE_H2:
        raise Skip("python3-h2 not installed")
    k, kp, up, sl, port, aport = setup(
        {"require": {"scope": ["payments:write"]}})
    tok = k.sign("ES256", claims())
    c = h2test.H2Client(port)
    r = c.get("/pay", headers=[("authorization", "Bearer " + tok),
                                ("x-user-id", "spoofed")])
    eq(r.status, 200, "an HTTP/2 request with a token")
    eq(up.requests[-1].headers.get_all("X-User-Id"), ["user-42"],
       "its claim as the field")
    r = c.get("/pay")
    eq(r.status, 401, "none: 401")
    eq(r.header("www-authenticate"), "Bearer", "the scheme")
    r = c.get("/pay", headers=[("authorization", "Bearer " + k.sign(
        "ES256", claims(scope="payments:read")))])
    eq(r.status, 403, "insufficient scope: 403")
    # the connection carries on: a refusal is a stream's answer
    eq(c.get("/pay", headers=[("authorization", "Bearer " + tok)]).status,
       200, "the same connection serves the next")
    c.close()
    sl.stop()


@test
def a_websocket_upgrade_is_checked_before_the_101():
    """The upgrade's request is checked like any other: without a token
    it is a 401 and the upstream never sees it; with one, the upstream's
    101 comes back and the claim is among the fields it got."""
    need_jwt()
    import socket
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())

    def switch(req):
        return sltest.Reply(101, headers=[
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept.decode())], mode="none",
            reason="Switching Protocols")
    k = Keys()
    kp = os.path.join(tmpdir(), "jwks.json")
    write_keys(kp, k.jwks())
    up = Upstream(handler=switch)
    routes = [{"name": "ws", "cluster": "c", "upgrade": ["websocket"],
               "auth": {"jwt": {"keys": kp, "issuer": ISS, "audience": AUD,
                                "claims_to_headers": {"sub": "X-User-Id"}}}}]
    cfg, port, aport = auth_config(up, kp, routes=routes)
    sl = start_sluice(cfg)

    def handshake(extra=b""):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /chat HTTP/1.1\r\nHost: t\r\n"
                  b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Key: " + key.encode() + b"\r\n"
                  b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        return buf.partition(b"\r\n\r\n")[0]
    head = handshake()
    check(head.startswith(b"HTTP/1.1 401 "), "no token: %r" % head[:60])
    check(b"WWW-Authenticate: Bearer" in head, "the scheme")
    eq(len(up.requests), 0, "the upstream saw no upgrade")
    tok = k.sign("ES256", claims())
    head = handshake(b"Authorization: Bearer " + tok.encode() + b"\r\n")
    check(head.startswith(b"HTTP/1.1 101 "), "a token: %r" % head[:60])
    check(up.wait_requests(1), "the upgrade went up")
    req = up.requests[-1]
    eq(req.header("Upgrade"), "websocket", "an upgrade")
    eq(req.headers.get_all("X-User-Id"), ["user-42"],
       "the claim went with the upgrade")
    sl.stop()


@test
def a_grpc_call_without_a_token_is_unauthenticated():
    """A gRPC call refused by auth gets a trailers-only answer with
    UNAUTHENTICATED (16), or PERMISSION_DENIED (7) for a missing scope,
    as a gRPC client's status."""
    import h2test
    if not h2test.HAVE_H2:
        raise Skip("python3-h2 not installed")
    k, kp, up, sl, port, aport = setup(
        {"require": {"scope": ["payments:admin"]}})

    def call(fields):
        c = h2test.H2Client(port)
        sid = c.request("POST", "/pay.Svc/Call",
                        headers=[("content-type", "application/grpc"),
                                 ("te", "trailers")] + fields,
                        body=b"\x00\x00\x00\x00\x02hi", end=True)
        st = c.streams[sid]
        check(c.wait(lambda: st.ended or st.reset is not None, 15),
              "the call ended")
        c.close()
        return {(a.decode() if isinstance(a, bytes) else a):
                (b.decode() if isinstance(b, bytes) else b)
                for a, b in st.headers}
    n0 = len(up.requests)
    f = call([])
    eq((f.get(":status"), f.get("grpc-status")), ("200", "16"),
       "UNAUTHENTICATED")
    f = call([("authorization", "Bearer " + k.sign("ES256", claims()))])
    eq(f.get("grpc-status"), "7", "PERMISSION_DENIED")
    eq(len(up.requests), n0, "nothing went up")
    sl.stop()


@test
def a_repeated_token_is_checked_again_each_time():
    """The verified-token cache keeps the signature's verdict only: a
    token that expires while cached is refused."""
    k, kp, up, sl, port, aport = setup({"clock_skew": "0s"})
    tok = k.sign("ES256", claims(exp=int(time.time()) + 2))
    c = Client(port)
    for _ in range(20):
        eq(c.request("GET", "/pay", bearer(tok)).status, 200, "cached")
    check(wait_until(lambda: time.time() > int(time.time()) and
                     c.request("GET", "/pay", bearer(tok)).status == 401,
                     timeout=6.0, interval=0.25),
          "the cached token is refused once it expires")
    c.close()
    sl.stop()


@test
def key_rotation_by_reload_and_a_broken_key_file_refused():
    k, kp, up, sl, port, aport = setup()
    sl.expect_errors(r"^reload: ")  # the refused reload, on purpose
    old = k.sign("ES256", claims())
    eq(get(port, "/pay", headers=bearer(old)).status, 200, "old key")
    # a broken file: the reload is refused, the old set serves on
    with open(kp, "w") as f:
        f.write('{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", '
                '"y": "AA", "kid": "bad"}]}')
    res, log = sighup_reload(sl, aport)
    eq(res, "failed", "a key set that does not parse refuses the reload")
    check(re.search(r"jwks\.json.*not a point of P-256", log),
          "the log names the file and why: %r" % log[-400:])
    eq(get(port, "/pay", headers=bearer(old)).status, 200,
       "the old keys serve on")
    # rotated: a new EC key under a new kid, the old one gone
    k2 = Keys()
    write_keys(kp, k2.jwks(kids=("ec2",)))
    res, log = sighup_reload(sl, aport)
    eq(res, "ok", "the rotated set loads")
    new = k2.sign("ES256", claims(), kid="ec2")
    eq(get(port, "/pay", headers=bearer(new)).status, 200, "new key")
    # the old token was cached as verified with the old set: not now
    refused(get(port, "/pay", headers=bearer(old)))
    sl.stop()


def route_jwt(aport, name):
    c = get(aport, "/config").json()
    for lst in c["listeners"]:
        for r in lst["routes"]:
            if r["name"] == name:
                return c, r["auth"]["jwt"]
    raise AssertionError("no route %s in /config" % name)


@test
def a_reload_says_which_key_set_it_took():
    """The configuration's sha256 is the YAML file's (sha256sum): a reload
    after only the key file changed has the same one. So each load logs,
    per key source, how many keys it took, from which file, and the set's
    fingerprint (the file's sha256sum), which /config shows for the
    route: a changed file shows a changed fingerprint. Two routes naming
    one file log it once."""
    need_jwt()
    k = Keys()
    d = tmpdir()
    kp = os.path.join(d, "jwks.json")
    write_keys(kp, k.jwks())
    up = Upstream()
    j = {"keys": kp, "issuer": ISS, "audience": [AUD]}
    cfg, port, aport = auth_config(up, kp, routes=[
        {"name": "pay", "match": {"path_prefix": "/pay"}, "cluster": "c",
         "auth": {"jwt": j}},
        {"name": "refund", "match": {"path_prefix": "/refund"},
         "cluster": "c", "auth": {"jwt": j}},
        {"name": "open", "cluster": "c"}])
    sl = start_sluice(cfg)

    def digest():
        with open(kp, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    first = "start: keys %s: 4 keys, 0 skipped (sha256 %s)" % (kp, digest())
    check(wait_until(lambda: first in sl.stderr()),
          "the first load logs the set it took: %r" % sl.stderr()[-600:])
    eq(sl.stderr().count("start: keys %s:" % kp), 1,
       "two routes, one file: one line")
    c0, jwt0 = route_jwt(aport, "pay")
    eq(jwt0["keys_sha256"], digest(), "/config shows the set's fingerprint")
    eq(route_jwt(aport, "refund")[1]["keys_sha256"], digest(),
       "the other route's, the same file's")
    # the provider rotated: one new key, and a key sluice skips
    k2 = Keys()
    write_keys(kp, k2.jwks(kids=("ec2",), extra=[
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hs"}]))
    res, _ = sighup_reload(sl, aport)
    eq(res, "ok", "reloaded")
    line = "reload: keys %s: 1 key, 1 skipped (sha256 %s)" % (kp, digest())
    check(wait_until(lambda: line in sl.stderr()),
          "the reload logs the new set: %r" % sl.stderr()[-600:])
    c1, jwt1 = route_jwt(aport, "pay")
    eq(c1["sha256"], c0["sha256"], "the YAML file did not change")
    check(c1["generation"] > c0["generation"], "a new generation")
    eq(jwt1["keys_sha256"], digest(), "/config: the new fingerprint")
    check(jwt1["keys_sha256"] != jwt0["keys_sha256"], "which changed")
    eq(jwt1["key_ids"], ["ec2"], "and the new key")
    sl.stop()


@test
def the_watch_follows_the_key_set_file():
    """watch: true reloads when the key set file changes (doc/fleet.md
    section 3), as for a certificate: a key published in the file works
    without a SIGHUP."""
    need_jwt()
    k = Keys()
    d = tmpdir()
    kp = os.path.join(d, "jwks.json")
    write_keys(kp, k.jwks(kids=("ec1",)))
    up = Upstream()
    cfg, port, aport = auth_config(up, kp)
    cfg = dict({"watch": True, "watch_debounce": "100ms"}, **cfg)
    sl = start_sluice(cfg)
    tok = k.sign("EdDSA", claims())
    refused(get(port, "/pay", headers=bearer(tok)))
    gen0 = metric_sum(metrics(aport), "sluice_config_generation")
    # an editor's way: a new file renamed over the old one
    write_keys(kp + ".new", k.jwks(kids=("ec1", "ed1")))
    os.rename(kp + ".new", kp)
    check(wait_until(lambda: metric_sum(metrics(aport),
                                        "sluice_config_generation") > gen0,
                     timeout=10.0, interval=0.1),
          "the key set's change reloaded")
    sltest.wait_applied(aport)
    eq(get(port, "/pay", headers=bearer(tok)).status, 200,
       "the key added to the file verifies")
    sl.stop()


@test
def check_mode_names_the_key_file_and_its_fault():
    need_jwt()
    d = tmpdir()
    up_port = free_port()
    cases = [
        ("missing", None, "cannot read"),
        ("rsa1024", {"keys": [json.loads(pyjwt.algorithms.RSAAlgorithm
                                         .to_jwk(rsa.generate_private_key(
                                             public_exponent=65537,
                                             key_size=1024).public_key()))]},
         "2048 bits"),
        ("none usable", {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
         "no key sluice can verify with"),
        ("dup kid", {"keys": [dict(json.loads(
            pyjwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(
                ec.SECP256R1()).public_key())), kid="a")] * 2},
         'two keys with "kid"'),
        ("not json", "{keys: []}", "not valid JSON"),
    ]
    for name, content, want in cases:
        kp = os.path.join(d, name + ".json")
        if content is not None:
            with open(kp, "w") as f:
                f.write(content if isinstance(content, str)
                        else json.dumps(content))
        cfg, port, aport = auth_config("127.0.0.1:%d" % up_port, kp)
        cp = os.path.join(d, name + ".yaml")
        with open(cp, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        rc, out, err = run_sluice(["-t", "-c", cp])
        check(rc != 0, "%s: -t refuses it" % name)
        check(want in err and "keys" in err,
              "%s: -t says %r: %r" % (name, want, err))
        check(re.search(r"%s\.yaml:\d+" % re.escape(name), err),
              "%s: with the file and line: %r" % (name, err))
    # and its keys: an unknown one, an algorithm sluice refuses
    kp = os.path.join(d, "ok.json")
    write_keys(kp, Keys().jwks())
    for opts, want in (({"algorithms": ["HS256"]}, "never none or HS256"),
                       ({"algorithms": ["none"]}, "never none or HS256"),
                       ({"clokc_skew": "1s"}, "clokc_skew"),
                       ({"claims_to_headers": {"sub": "Host"}},
                        "a field sluice controls"),
                       ({"token": "client_ip"}, "header:NAME or cookie:NAME"),
                       ({"token": "cookie:s", "forward_token": False},
                        "needs a token from a header")):
        cfg, port, aport = auth_config("127.0.0.1:%d" % up_port, kp, opts)
        cp = os.path.join(d, "opts.yaml")
        with open(cp, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        rc, out, err = run_sluice(["-t", "-c", cp])
        check(rc != 0 and want in err,
              "%r: -t says %r: %r" % (opts, want, err))
    # the shape of auth itself
    many = {"c%d" % i: "X-C%d" % i for i in range(9)}
    for auth, want in (
            ({}, 'auth: needs "jwt", "external" or both'),
            ([], '"auth"'),
            ({"jwt": {"issuer": "x"}}, 'jwt: missing key "keys"'),
            ({"jwt": {"keys": d}}, "not a regular file"),
            ({"jwt": {"keys": kp, "algorithms": []}}, "must not be empty"),
            ({"jwt": {"keys": kp, "issuer": []}}, "must not be empty"),
            ({"jwt": {"keys": kp, "audience": [""]}},
             "expected a non-empty string"),
            ({"jwt": {"keys": kp, "require_exp": "no"}},
             "expected true or false"),
            ({"jwt": {"keys": kp, "claims_to_headers": {"sub": "Bad Name"}}},
             "not a valid header name"),
            ({"jwt": {"keys": kp, "claims_to_headers": {"a": "X-A",
                                                        "b": "x-a"}}},
             "is set by another claim"),
            ({"jwt": {"keys": kp, "claims_to_headers": many}},
             "at most 8 claims"),
            ({"jwt": {"keys": kp, "require": ["scope"]}}, '"require"')):
        routes = [{"name": "pay", "cluster": "c", "auth": auth}]
        cfg, port, aport = auth_config("127.0.0.1:%d" % up_port, kp,
                                       routes=routes)
        cp = os.path.join(d, "shape.yaml")
        with open(cp, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        rc, out, err = run_sluice(["-t", "-c", cp])
        check(rc != 0 and want in err,
              "%r: -t says %r: %r" % (auth, want, err))
    # and a whole one that passes
    routes = [{"name": "pay", "cluster": "c", "auth": {"jwt": {
        "keys": kp, "require_exp": False, "issuer": "one",
        "audience": ["a", "b"], "require": {"scope": "pay:write"}}}}]
    cfg, port, aport = auth_config("127.0.0.1:%d" % up_port, kp,
                                   routes=routes)
    with open(cp, "w") as f:
        f.write(to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", cp])
    eq(rc, 0, "a valid auth passes -t: %r" % err)


if __name__ == "__main__":
    main()
