#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/3 by name, as a browser makes its requests (issue 77, defect 1):
the connection's SNI a DNS name, each request's :authority a name, the
certificate verified for it, whatever address is dialled. The client is
quic-go 0.29 (tests/quicgo's slquic fetch: Go's TLS, quic-go's QUIC and
HTTP/3, sharing nothing with sluice), dialling 127.0.0.1 with the SNI
and the :authority of the test's choosing; HTTP/2 is curl with
--resolve, for the same answers to the same cases; gtlsclient (ngtcp2 on
GnuTLS) where a numeric host is fine.

What is proved (doc/http3.md section 3): one listener with three
certificates (pay.test and www.pay.test, shop.test, *.pay.test) serves
each name with its own certificate, over HTTP/3 as over HTTP/2; on a
connection, a request whose :authority the connection's certificate
covers is served (another of its names, another label under its
wildcard), one it does not cover gets 421 with the log line "refused
(misdirected)" and is counted, nothing reaching the upstream, and the
connection goes on; a name equal to the SNI is served, as on HTTP/2; a
connection without SNI is not checked. Before the fix (48f583b3) every
name not equal to the SNI was 421 over HTTP/3 alone: the check looked
for the connection's context among the TCP listener's, while a QUIC
connection's is one of the contexts made for QUIC.

Then, by name over HTTP/3, what a payment API's client sends in its
fields: an Authorization bearer token (auth.jwt: a valid one reaches the
upstream with its claim, a missing or forged one is 401 and never does),
an Idempotency-Key (a POST sent again on the same connection and on
another is answered from the store, the upstream executing it once), and
cookies against the WAF's limits (HTTP/3 may split Cookie into several
field lines, RFC 9114 section 4.2.1: they are counted together and reach
the upstream as one field).

Skipped in a build without HTTP/3 or without slquic (no Go 1.19 or no
quic-go 0.29: build.sh's exit 77); the JWT case without python3-jwt; the
WAF case without libmodsecurity or the CRS (failed when CI is set, as
test_waf.py does). No time is asserted."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Reply, Skip, Upstream, check, eq, free_port,  # noqa
                    main, make_config, read_json_lines, run_sluice,
                    start_sluice, test, tmpdir, to_yaml)

# what build.sh said: None before it ran, then (status, output)
_built = None


def slquic_dir():
    return os.path.join(sltest.TOP_BUILDDIR, "tests", "quicgo")


def build():
    """Builds slquic once, before any test's watchdog runs (about 20 s
    cold, a link when Go's cache under the build directory is warm;
    build.sh takes a lock, so test_quicgo.py may build beside)."""
    global _built
    if sltest.over_tls():
        return
    script = os.path.join(sltest.TOP_SRCDIR, "tests", "quicgo", "build.sh")
    try:
        r = subprocess.run(["sh", script, slquic_dir()], capture_output=True,
                           text=True, timeout=600)
        _built = (r.returncode, (r.stdout + r.stderr).strip())
    except subprocess.TimeoutExpired:
        _built = (1, "build.sh ran over 600 s")


def require():
    if sltest.over_tls():
        raise Skip("QUIC is its own transport: run once")
    sltest.require_http3()
    if _built is None:
        build()
    status, out = _built
    if status == 77:
        raise Skip(out.splitlines()[-1] if out else "slquic not built")
    eq(status, 0, "build.sh's status: %s" % out[-3000:])


# ---- certificates ---------------------------------------------------------

# the listener's certificates, in order (the first is the default, the
# one a connection without SNI, or with a name none holds, is given)
CERTS = (("pay", ["pay.test", "www.pay.test"]),
         ("shop", ["shop.test"]),
         ("wild", ["*.pay.test"]))


def pki(which=("pay", "shop", "wild")):
    """Self-signed certificates (P-256) for CERTS' names, each its own
    trust anchor: ({name: (cert, key)}, a bundle of all, for -cacert and
    curl's --cacert)."""
    d = tmpdir()
    out = {}
    for name, sans in CERTS:
        if name not in which:
            continue
        c, k = (os.path.join(d, name + x) for x in (".pem", ".key"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", "/CN=" + sans[0], "-addext",
                        "subjectAltName=" + ",".join("DNS:" + s
                                                     for s in sans),
                        "-days", "1", "-keyout", k, "-out", c],
                       check=True, capture_output=True)
        out[name] = (c, k)
    bundle = os.path.join(d, "bundle.pem")
    with open(bundle, "w") as f:
        for name in which:
            with open(out[name][0]) as g:
                f.write(g.read())
    return out, bundle


class Gw:
    """sluice with one TLS listener "main" (h2, http/1.1 and http3 on
    the same port), its certificates from pki(which), routes to the
    cluster "app" (up), a JSON access log and an admin listener."""

    def __init__(self, up, which=("pay", "shop", "wild"), routes=None,
                 extra=None, limits=None):
        certs, self.ca = pki(which)
        self.up = up
        self.log = os.path.join(tmpdir(), "access.log")
        self.aport = free_port()
        ex = {"admin": {"address": "127.0.0.1:%d" % self.aport}}
        ex.update(extra or {})
        cfg, self.port = make_config(
            {"app": [up]}, routes=routes, workers=1, access_log=self.log,
            limits=limits, extra=ex,
            listener_opts={
                "tls": {"certificates": [{"cert": certs[n][0],
                                          "key": certs[n][1]}
                                         for n in which]},
                "protocols": ["h2", "http/1.1"],
                "http3": {"retry": "never"}})
        self.sl = start_sluice(cfg)

    def h3(self, path, sni="pay.test", authorities=None, headers=(),
           method="GET", data=None, n=1, verify=True):
        """slquic fetch of https://SNI:PORT/path, dialling 127.0.0.1,
        its SNI sni (None: none), one request a name of authorities
        (default: SNI:PORT) in turn, n times: (the answers, each a dict,
        and the number of connections). verify: the certificate checked
        against the bundle for sni (the URL's host without SNI); else
        -insecure (a name that no certificate holds)."""
        host = sni or "pay.test"
        args = [os.path.join(slquic_dir(), "slquic"), "fetch", "-timeout",
                "20s", "-addr", "127.0.0.1:%d" % self.port,
                "-n", str(n), "-method", method]
        args += ["-cacert", self.ca] if verify else ["-insecure"]
        if sni is None:
            args.append("-no-sni")
        for a in authorities or ():
            args += ["-authority", a]
        for h in headers:
            args += ["-H", "%s: %s" % h]
        if data is not None:
            f = os.path.join(tmpdir(), "body")
            with open(f, "wb") as o:
                o.write(data)
            args += ["-data-file", f]
        args.append("https://%s:%d%s" % (host, self.port, path))
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        eq(r.returncode, 0, "slquic fetch %s: %s %s"
           % (args[2:], r.stdout[-2000:], r.stderr[-1000:]))
        lines = r.stdout.split("\n")[:-1]
        m = re.match(r"^connections=(\d+)$", lines[-1] if lines else "")
        check(m is not None, "slquic's last line: %s" % lines[-3:])
        got = [json.loads(x) for x in lines[:-1]]
        for a in got:
            eq(a["proto"], "HTTP/3.0", "over HTTP/3")
        return got, int(m.group(1))

    def h2(self, path, sni="pay.test", authority=None, verify=True):
        """curl --http2 of https://SNI:PORT/path (--resolve SNI to
        127.0.0.1; https://127.0.0.1:PORT without SNI), Host: authority:
        (status, body, the DNS names of the certificate it was given)."""
        d = tmpdir()
        body = os.path.join(d, "body")
        if sni is None:
            url = "https://127.0.0.1:%d%s" % (self.port, path)
        else:
            url = "https://%s:%d%s" % (sni, self.port, path)
        args = ["curl", "-s", "--http2", "-o", body, "-w",
                "%{http_code} %{http_version}\n%{certs}", "--resolve",
                "%s:%d:127.0.0.1" % (sni or "x", self.port)]
        args += ["--cacert", self.ca] if verify and sni else ["-k"]
        if authority:
            args += ["-H", "Host: " + authority]
        r = subprocess.run(args + [url], capture_output=True, text=True,
                           timeout=30)
        eq(r.returncode, 0, "curl %s: %s" % (url, r.stderr[-500:]))
        first = r.stdout.split("\n", 1)[0].split()
        eq(first[1:], ["2"], "curl spoke HTTP/2: %s" % first)
        with open(body, "rb") as f:
            b = f.read()
        return int(first[0]), b, cert_names(r.stdout)

    def refused_misdirected(self):
        """sluice_http3_refused_total{reason="misdirected"}."""
        m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.aport,
                                   timeout=5).read().decode()
        for x in m.split("\n"):
            if x.startswith('sluice_http3_refused_total{reason="misdirected"'):
                return int(x.split()[-1])
        return 0


def cert_names(curl_out):
    """The DNS names of the first certificate curl's %{certs} printed."""
    m = re.search(r"^X509v3 Subject Alternative Name:(.*)$", curl_out, re.M)
    if m is None:
        return []
    return [x.strip()[4:] for x in m.group(1).split(",")
            if x.strip().startswith("DNS:")]


# ---- names ----------------------------------------------------------------

PAY = ["pay.test", "www.pay.test"]
SHOP = ["shop.test"]
WILD = ["*.pay.test"]

# (SNI, :authority, the status, the certificate served), grouped by SNI:
# over HTTP/3 each group is one connection, its requests in turn
CASES = [
    ("pay.test", "pay.test", 200, PAY),
    # another name of the same certificate: 421 before the fix
    ("pay.test", "www.pay.test", 200, PAY),
    ("pay.test", "shop.test", 421, PAY),      # the other certificate's
    ("pay.test", "nothing.test", 421, PAY),   # no certificate's
    ("pay.test", "a.pay.test", 421, PAY),     # the wildcard's, not this one's
    ("shop.test", "shop.test", 200, SHOP),
    ("shop.test", "pay.test", 421, SHOP),
    ("a.pay.test", "a.pay.test", 200, WILD),
    # another label under the wildcard: 421 before the fix
    ("a.pay.test", "b.pay.test", 200, WILD),
    ("a.pay.test", "pay.test", 421, WILD),    # a wildcard is one label
    # no SNI: the first certificate, nothing checked (no name relied on)
    (None, "pay.test", 200, PAY),
    (None, "shop.test", 200, PAY),
    # a name no certificate holds: the first certificate; a name equal
    # to the SNI is served, as on HTTP/2, and what the certificate holds
    # (gtlsclient's case: it sends SNI "localhost" for a numeric host)
    ("other.test", "other.test", 200, PAY),
    ("other.test", "pay.test", 200, PAY),      # 421 before the fix
    ("other.test", "shop.test", 421, PAY),
]


def in_groups(cases):
    """CASES by SNI, in order: [(sni, [(authority, status, cert)])]."""
    out = []
    for sni, auth, status, cert in cases:
        if not out or out[-1][0] != sni:
            out.append((sni, []))
        out[-1][1].append((auth, status, cert))
    return out


@test
def names_over_http3_as_over_http2():
    """Each case of CASES over HTTP/3 (quic-go, one connection per SNI,
    a 421 leaving it open) and over HTTP/2 (curl, one connection per
    case): the same status, the same certificate, the upstream reached
    by the served requests alone with Host the :authority; each HTTP/3
    421 logged "refused (misdirected)" and counted."""
    require()
    up = Upstream("a")
    gw = Gw(up)
    port = gw.port
    h3_ok = 0
    for sni, cases in in_groups(CASES):
        # a name that no certificate holds cannot verify
        verify = sni != "other.test"
        got, conns = gw.h3("/n", sni, ["%s:%d" % (a, port)
                                       for a, _, _ in cases],
                           verify=verify)
        eq(conns, 1, "SNI %s: one connection" % sni)
        eq(len(got), len(cases), "SNI %s: every request answered" % sni)
        for a, (auth, status, cert) in zip(got, cases):
            what = "HTTP/3, SNI %s, :authority %s" % (sni, auth)
            eq((a["status"], a["cert"]), (status, cert), what)
            if status == 200:
                h3_ok += 1
                eq(json.loads(a["body"])["path"], "/n", what)
            else:
                eq(json.loads(a["body"])["error"], "misdirected_request",
                   what)
    # the same over HTTP/2
    for sni, auth, status, cert in CASES:
        what = "HTTP/2, SNI %s, Host %s" % (sni, auth)
        st, body, names = gw.h2("/n2", sni, "%s:%d" % (auth, port),
                                verify=sni != "other.test")
        eq((st, names), (status, cert), what)
    served = sum(1 for c in CASES if c[2] == 200)
    check(up.wait_requests(2 * served, timeout=10),
          "%d requests upstream" % (2 * served))
    eq(len(up.requests), 2 * served, "the 421s never reached it")
    want = sorted("%s:%d" % (c[1], port) for c in CASES if c[2] == 200)
    eq(sorted(r.headers.get("host") for r in up.requests
              if r.target == "/n"), want, "HTTP/3's Hosts upstream")
    eq(sorted(r.headers.get("host") for r in up.requests
              if r.target == "/n2"), want, "HTTP/2's Hosts upstream")
    misdirected = sum(1 for c in CASES if c[2] == 421)
    eq(gw.sl.stderr().count("refused (misdirected): authority not covered "
                            "by the certificate"), misdirected,
       "the log lines: %s" % gw.sl.stderr()[-3000:])
    eq(gw.refused_misdirected(), misdirected, "counted")
    lines = read_json_lines(gw.log, lambda j: j.get("status") == 421,
                            min_count=2 * misdirected, timeout=5)
    eq(sorted(j["protocol"] for j in lines),
       sorted(["HTTP/2.0", "HTTP/3"] * misdirected), "the access log")
    eq({(j["error"], j["route"]) for j in lines},
       {("misdirected_request", "-")}, "routed nowhere")
    check(h3_ok > 0, "served over HTTP/3")
    gw.sl.stop()


@test
def gtlsclient_by_name_on_a_numeric_host():
    """gtlsclient dials an address and sends SNI "localhost" (its --sni
    is ignored, ngtcp2 0.12's examples): no certificate holds it, so the
    first is given, pay.test's. A request for pay.test, which it covers,
    is served; one for shop.test gets 421, whose certificate the
    connection does not have. (Before the fix both were 421: the trial
    saw only "localhost" pass.)"""
    require()
    if shutil.which("gtlsclient") is None:
        raise Skip("gtlsclient not found (apt-get install ngtcp2-client)")
    up = Upstream("a")
    gw = Gw(up)
    for name, status in (("pay.test", 200), ("www.pay.test", 200),
                         ("shop.test", 421)):
        r = subprocess.run(["gtlsclient", "--timeout=5s",
                            "--exit-on-all-streams-close", "127.0.0.1",
                            str(gw.port), "https://%s:%d/g" % (name,
                                                              gw.port)],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        eq(r.returncode, 0, "gtlsclient's status: %s" % out[-2000:])
        check("[:status: %d]" % status in out, "%s: %d: %s"
              % (name, status, out[-1500:]))
    check(up.wait_requests(2, timeout=10), "two upstream")
    eq(sorted(r.headers.get("host") for r in up.requests),
       ["pay.test:%d" % gw.port, "www.pay.test:%d" % gw.port],
       "the served names upstream")
    gw.sl.stop()


# ---- what a payment API's client sends, over HTTP/3 by name ----------------


@test
def a_bearer_token_over_http3_by_name():
    """auth.jwt on a route: a valid ES256 token (signed by PyJWT) reaches
    the upstream with its claim as X-User-Id (the client's own dropped);
    no token is 401 "Bearer", a forged one (another payload under the
    first's signature) 401 invalid_token; neither reaches the upstream.
    Three requests on one connection, SNI and :authority pay.test."""
    require()
    from jwtkeys import AUD, ISS, Keys, b64u, claims, need_jwt
    need_jwt()
    k = Keys()
    kp = os.path.join(tmpdir(), "jwks.json")
    with open(kp, "w") as f:
        json.dump(k.jwks(), f)
    up = Upstream("a")
    gw = Gw(up, which=("pay",), routes=[
        {"name": "pay", "match": {"path_prefix": "/pay"}, "cluster": "app",
         "auth": {"jwt": {"keys": kp, "issuer": ISS, "audience": [AUD],
                          "claims_to_headers": {"sub": "X-User-Id"}}}}])
    good = k.sign("ES256", claims())
    h, _, s = good.split(".")
    forged = "%s.%s.%s" % (h, b64u(json.dumps(claims(sub="admin"))
                                   .encode()), s)
    got = {}
    for what, tok in (("valid", good), ("none", None), ("forged", forged)):
        hs = [("X-User-Id", "spoofed")]
        if tok is not None:
            hs.append(("Authorization", "Bearer " + tok))
        a, _ = gw.h3("/pay/charges", headers=hs)
        got[what] = a[0]
    eq(got["valid"]["status"], 200, "a valid token: %s" % got["valid"])
    eq([got[w]["status"] for w in ("none", "forged")], [401, 401],
       "no token, a forged one")
    eq(got["none"]["headers"].get("www-authenticate"), ["Bearer"],
       "no token: the scheme")
    eq(got["forged"]["headers"].get("www-authenticate"),
       ['Bearer error="invalid_token"'], "a forged token")
    check(up.wait_requests(1, timeout=10), "the valid one upstream")
    eq(len(up.requests), 1, "only the valid one upstream")
    req = up.requests[0]
    eq((req.target, req.headers.get_all("x-user-id"),
        req.headers.get("authorization"), req.headers.get("host")),
       ("/pay/charges", ["user-42"], "Bearer " + good,
        "pay.test:%d" % gw.port), "what the upstream saw")
    check(forged not in gw.sl.stderr() and good not in gw.sl.stderr(),
          "no token in the log")
    gw.sl.stop()


class Ledger(Upstream):
    """An upstream that executes one payment per request, numbered from 1
    (201, its number in the body and in X-Payment-Id)."""

    def __init__(self):
        self.executed = 0
        self.mu = threading.Lock()
        Upstream.__init__(self, "bank", self.answer)

    def answer(self, req):
        with self.mu:
            self.executed += 1
            n = self.executed
        body = json.dumps({"payment": n, "key":
                           req.headers.get("idempotency-key"),
                           "body_sha256": req.body_sha}).encode()
        return Reply(201, body, [("Content-Type", "application/json"),
                                 ("X-Payment-Id", str(n)),
                                 ("Location", "/payments/%d" % n)])


@test
def an_idempotency_key_over_http3_by_name():
    """A POST with an Idempotency-Key, sent twice on one connection and
    once more on another: the first executed (201, payment 1), the
    others answered from the store (the same status, fields and body,
    Idempotent-Replayed: true), the upstream seeing one request; the same
    key with another body gets 422; another key is a new payment."""
    require()
    bank = Ledger()
    gw = Gw(bank, which=("pay",), routes=[
        {"name": "pay", "match": {"path_prefix": "/pay"}, "cluster": "app",
         "idempotency": True}])
    body = b'{"amount":"100.00","currency":"EUR"}'
    key = "5f1c3e0a-h3-by-name"
    hs = [("Idempotency-Key", key), ("Content-Type", "application/json")]
    got, conns = gw.h3("/pay/payments", headers=hs, method="POST",
                       data=body, n=2)
    eq(conns, 1, "one connection")
    first, again = got
    eq((first["status"], json.loads(first["body"])["payment"]), (201, 1),
       "the first executed: %s" % first)
    check("idempotent-replayed" not in first["headers"],
          "the first is no replay")
    more, _ = gw.h3("/pay/payments", headers=hs, method="POST", data=body)
    for what, r in (("on the same connection", again),
                    ("on another connection", more[0])):
        eq(r["headers"].get("idempotent-replayed"), ["true"],
           "%s: a replay (%s)" % (what, r))
        eq((r["status"], r["body"], r["headers"].get("x-payment-id"),
            r["headers"].get("location")),
           (201, first["body"], ["1"], ["/payments/1"]),
           "%s: the first answer again" % what)
    other, _ = gw.h3("/pay/payments", headers=hs, method="POST",
                     data=body.replace(b"100.00", b"999.00"))
    eq(other[0]["status"], 422, "the key with another body: %s" % other)
    new, _ = gw.h3("/pay/payments", headers=[("Idempotency-Key", "k-2")],
                   method="POST", data=body)
    eq((new[0]["status"], json.loads(new[0]["body"])["payment"]), (201, 2),
       "another key: another payment")
    check(bank.wait_requests(2, timeout=10), "two payments upstream")
    eq([r.headers.get("idempotency-key") for r in bank.requests],
       [key, "k-2"], "each key executed once")
    eq(bank.requests[0].body, body, "the body upstream")
    gw.sl.stop()


CRS_SETUP = "/etc/modsecurity/crs/crs-setup.conf"
CRS_RULES = "/usr/share/modsecurity-crs/rules/*.conf"


def require_waf():
    """Skips without the CRS or libmodsecurity (fails when CI is set, as
    test_waf.py does)."""
    why = None
    if not os.path.isfile(CRS_SETUP) or not glob.glob(CRS_RULES):
        why = "the OWASP CRS is not installed (Debian: modsecurity-crs)"
    else:
        cfg, _ = make_config({"c": ["127.0.0.1:9"]}, routes=[
            {"name": "w", "cluster": "c", "waf": {"rules": CRS_SETUP}}])
        path = os.path.join(tmpdir(), "probe.yaml")
        with open(path, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        rc, out, err = run_sluice(["-t", "-c", path])
        if "built without libmodsecurity" in err:
            why = "sluice was built without libmodsecurity"
        elif rc != 0:
            raise AssertionError("sluice -t on a WAF route: %s" % err)
    if why is None:
        return
    if os.environ.get("CI"):
        raise AssertionError(why + " (CI is set: the WAF must be tested)")
    raise Skip(why)


def cookies(first, n):
    return "; ".join("c%d=v%d" % (i, i) for i in range(first, first + n))


@test
def cookies_against_the_waf_limits_over_http3_by_name():
    """A WAF route (the CRS, block mode, limits' default of 100 cookies):
    40 cookies in two field lines pass the rules and reach the upstream
    as one Cookie field; 150 in one line, and 150 in three lines of 50
    (each under the limit, HTTP/3's split), are refused 400 waf_limit
    with found 150, never inspected, nothing upstream; an SQL injection
    in the query is blocked 403. SNI and :authority pay.test (the CRS
    scores a numeric Host)."""
    require()
    require_waf()
    up = Upstream("a")
    gw = Gw(up, which=("pay",), routes=[
        {"name": "pay", "cluster": "app",
         "waf": {"rules": [CRS_SETUP, CRS_RULES], "timeout": "10s"}}])
    split40 = [("Cookie", cookies(0, 20)), ("Cookie", cookies(20, 20))]
    one150 = [("Cookie", cookies(0, 150))]
    split150 = [("Cookie", cookies(i, 50)) for i in (0, 50, 100)]
    want = {"split40": 200, "one150": 400, "split150": 400}
    rids = {}
    for what, hs in (("split40", split40), ("one150", one150),
                     ("split150", split150)):
        a, _ = gw.h3("/v1/charges", headers=hs)
        eq(a[0]["status"], want[what], "%s: %s" % (what, a[0]))
        if want[what] == 400:
            eq(json.loads(a[0]["body"])["error"], "waf_limit", what)
        rids[what] = a[0]["headers"]["x-request-id"][0]
    a, _ = gw.h3("/v1/charges?id=1%27%20OR%201%3D1--")
    eq(a[0]["status"], 403, "an SQL injection: %s" % a[0])
    check(up.wait_requests(1, timeout=10), "the 40 cookies upstream")
    eq(len(up.requests), 1, "only they went upstream")
    eq(up.requests[0].headers.get_all("cookie"), [cookies(0, 40)],
       "one Cookie field upstream, the lines joined")
    lines = read_json_lines(
        gw.log, lambda j: j.get("request_id") in rids.values(),
        min_count=len(rids) * 2 - 1, timeout=10)
    waf = {j["request_id"]: j for j in lines if j.get("type") == "waf"}
    acc = {j["request_id"]: j for j in lines if j.get("type") != "waf"}
    for what in ("one150", "split150"):
        w = waf[rids[what]]
        eq((w["action"], w["limit"], w["found"], w["max"]),
           ("refused", "cookies", 150, 100), "%s: the WAF line" % what)
        eq((acc[rids[what]]["waf"], acc[rids[what]]["protocol"]),
           ("limited", "HTTP/3"), "%s: the access line" % what)
    eq((acc[rids["split40"]]["waf"], acc[rids["split40"]]["status"]),
       ("pass", 200), "40 cookies: inspected, passed")
    gw.sl.stop()


if __name__ == "__main__":
    build()
    main()
