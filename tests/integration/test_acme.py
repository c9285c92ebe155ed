#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ACME (issue 81; doc/tls.md, "ACME"): certificates that sluice orders and
renews itself, against Debian's test ACME server, pebble 2.4, on loopback
(tests/integration/pebble.py; its DNS, pebble-challtestsrv, answers every
name with 127.0.0.1, so pebble's validations reach sluice's listeners).

Clients are real and use names: Python's ssl and curl (HTTP/1.1 and
HTTP/2) with SNI and --resolve, verifying against the root pebble issues
from; quic-go's slquic over HTTP/3. What is proved:

- http-01 answered by the plain listener before any route: the first
  certificates are served, by name, within 10 s of the start, over
  HTTP/1.1, HTTP/2 and HTTP/3; a handshake before them is refused with
  one clear log line; storage files are 0600; a restart serves them from
  the storage without a new order.
- tls-alpn-01 answered by the TLS listener itself (no plain listener).
- A certificate of 30 s is renewed before it expires while requests over
  new TLS connections and over kept ones see no error; the new one is
  another serial.
- Nonce rejections (PEBBLE_WFE_NONCEREJECT) are sent again and counted; a
  failed validation is retried with backoff, counted, and then succeeds.
- A CA that is down past the renewal's margin: the failure is logged as
  an error with the time left, the old certificate serves to its end.
- A reload that adds a name orders it, one that drops a name stops
  renewing it; External Account Binding; a certificate file serves a name
  until ACME's first certificate comes; -t refuses bad keys; no key, EAB
  secret or nonce is logged or shown.

Skipped without pebble (CI installs it). No time is asserted but the
issue's 10 s to the first certificate, which pebble (PEBBLE_VA_NOSLEEP)
meets with a wide margin."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chrome  # noqa: E402
import pebble  # noqa: E402
import sltest  # noqa: E402
from sltest import (Skip, Upstream, check, eq, free_port, main,  # noqa
                    run_sluice, start_sluice, test, tmpdir, to_yaml,
                    wait_until)


def require():
    if sltest.over_tls():
        raise Skip("ACME makes its own TLS listeners: run once")
    if not pebble.have_pebble():
        if os.environ.get("CI"):
            raise AssertionError("pebble is not installed (.ci/run "
                                 "installs it)")
        raise Skip("pebble not installed")


class Gw:
    """sluice with a TLS listener "tls" of ACME names (h2, http/1.1, and
    http3 when asked) on pb.tls_port, a plain listener "plain" on
    pb.http_port for http-01, routes to up, an admin listener."""

    def __init__(self, pb, up, names, challenge="http-01", storage=None,
                 acme=None, certificates=None, http3=False, start=True,
                 workers=2, ip="127.0.0.1", extra=None):
        self.pb = pb
        self.ip = ip
        self.up = up
        self.names = list(names)
        self.storage = storage or os.path.join(tmpdir(), "acme")
        self.aport = free_port()
        self.roots = os.path.join(tmpdir(), "roots.pem")
        a = {"directory": pb.directory, "ca_file": pb.ca_file,
             "contact": "ops@example.com", "storage": self.storage,
             "challenge": challenge, "http_port": pb.http_port,
             "tls_port": pb.tls_port, "retry": "1s", "retry_max": "4s"}
        a.update(acme or {})
        tls = {"acme": self.names}
        if certificates:
            tls["certificates"] = certificates
        lst = [{"name": "tls", "address": "%s:%d" % (ip, pb.tls_port),
                "protocols": ["h2", "http/1.1"], "tls": tls,
                "routes": [{"name": "app", "cluster": "app"}]}]
        if http3:
            lst[0]["http3"] = {"retry": "never"}
        if challenge == "http-01":
            lst.append({"name": "plain",
                        "address": "%s:%d" % (ip, pb.http_port),
                        "routes": [{"name": "web", "cluster": "app"}]})
        self.cfg = {"workers": workers,
                    "drain_timeout": sltest.DEFAULT_DRAIN,
                    "log": {"level": "info", "access": "off"},
                    "admin": {"address": "127.0.0.1:%d" % self.aport},
                    "acme": a, "listeners": lst,
                    "clusters": [{"name": "app",
                                  "endpoints": ["127.0.0.1:%d" % up.port]}]}
        self.cfg.update(extra or {})
        self.sl = None
        if start:
            self.start()

    def start(self):
        self.sl = start_sluice(self.cfg, wait_ports=[])
        for lst in self.cfg["listeners"]:
            host, port = lst["address"].rsplit(":", 1)
            check(wait_until(lambda: listening(host, int(port)), 10),
                  "sluice listens on %s" % lst["address"])
        return self

    def write_roots(self):
        with open(self.roots, "w") as f:
            f.write(self.pb.issuer_pem())

    def peer(self, name, path="/x"):
        """A new TLS connection by name, verified against pebble's root,
        and one HTTP/1.1 request on it: (status, the certificate's serial
        and notAfter). Raises on a handshake or verification failure."""
        self.write_roots()
        ctx = ssl.create_default_context(cafile=self.roots)
        with socket.create_connection((self.ip, self.pb.tls_port),
                                      5) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                cert = s.getpeercert()
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n"
                           "Connection: close\r\n\r\n"
                           % (path, name)).encode())
                data = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
        status = int(data.split(b" ", 2)[1])
        return status, cert["serialNumber"], cert["notAfter"]

    def wait_served(self, name, timeout=10.0):
        """Until a verified handshake for name succeeds: its (status,
        serial, notAfter), or fails the test."""
        got = [None]

        def ok():
            try:
                got[0] = self.peer(name)
                return True
            except (OSError, ssl.SSLError):
                return False
        check(wait_until(ok, timeout, 0.1),
              "no certificate for %s within %.0f s:\n%s"
              % (name, timeout, self.sl.stderr()[-3000:]))
        return got[0]

    def curl_h2(self, name):
        """curl --http2 by name: (status, HTTP version)."""
        self.write_roots()
        r = subprocess.run(
            ["curl", "-s", "--http2", "-o", "/dev/null", "-w",
             "%{http_code} %{http_version}", "--cacert", self.roots,
             "--resolve", "%s:%d:%s" % (name, self.pb.tls_port, self.ip),
             "https://%s:%d/h2" % (name, self.pb.tls_port)],
            capture_output=True, text=True, timeout=30)
        eq(r.returncode, 0, "curl %s: %s" % (name, r.stderr[-500:]))
        st, ver = r.stdout.split()
        return int(st), ver

    def metrics(self):
        return sltest.metrics(self.aport)

    def count(self, text):
        return self.sl.stderr().count(text)

    def status(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/status"
                                    % self.aport, timeout=5) as r:
            return json.loads(r.read())

    def reload(self, cfg):
        with open(self.sl.conf_path, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        gen = self.metrics().get("sluice_config_generation")
        self.sl.send_signal(signal.SIGHUP)
        check(wait_until(lambda: self.metrics().get(
            "sluice_config_generation") != gen, 10, 0.05),
            "the reload was not applied:\n%s" % self.sl.stderr()[-2000:])
        sltest.wait_applied(self.aport)


def listening(host, port):
    try:
        socket.create_connection((host, port), 0.5).close()
        return True
    except OSError:
        return False


def metric(m, name, labels):
    return m.get("%s{%s}" % (name, labels))


def ports():
    return free_port(), free_port()


# ---- HTTP/3 through quic-go (tests/quicgo's slquic) ------------------------

_slquic = None


def slquic():
    """slquic's path, built once (tests/quicgo/build.sh; exit 77: Skip)."""
    global _slquic
    if _slquic is None:
        d = os.path.join(sltest.TOP_BUILDDIR, "tests", "quicgo")
        r = subprocess.run(["sh", os.path.join(sltest.TOP_SRCDIR, "tests",
                                               "quicgo", "build.sh"), d],
                           capture_output=True, text=True, timeout=600)
        _slquic = (r.returncode, os.path.join(d, "slquic"),
                   (r.stdout + r.stderr).strip())
    rc, path, out = _slquic
    if rc == 77:
        raise Skip(out.splitlines()[-1] if out else "slquic not built")
    eq(rc, 0, "build.sh: %s" % out[-2000:])
    return path


# ---- the cases --------------------------------------------------------------


@test
def first_certificates_by_http01_by_name_over_http1_http2_http3():
    """Two names, no certificate file: a handshake before the first
    certificate is refused and said once; each name is served with a
    certificate of its own, verified by name, within 10 s of the start,
    over HTTP/1.1, HTTP/2 and HTTP/3; the CA's three validation requests
    never reached the upstream (answered before any route); the storage's
    files are 0600; /metrics and the status page show each certificate;
    a restart on the same storage serves them without an order."""
    require()
    sltest.require_http3()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp)
    up = Upstream("app")
    t0 = time.monotonic()
    gw = Gw(pb, up, ["shop1.example.test", "shop2.example.test"],
            http3=True)
    serials = {}
    for name in gw.names:
        st, serial, _ = gw.wait_served(name, 10 - (time.monotonic() - t0))
        eq(st, 200, "%s over HTTP/1.1" % name)
        serials[name] = serial
    check(time.monotonic() - t0 < 10, "both within 10 s of the start")
    eq(len(set(serials.values())), 2, "a certificate each")
    eq(gw.curl_h2("shop1.example.test"), (200, "2"), "HTTP/2 by name")
    # HTTP/3 by name, verified by quic-go against pebble's root
    r = subprocess.run([slquic(), "fetch", "-timeout", "20s", "-addr",
                        "127.0.0.1:%d" % tp, "-cacert", gw.roots,
                        "https://shop2.example.test:%d/h3" % tp],
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "slquic: %s %s" % (r.stdout[-1000:],
                                           r.stderr[-1000:]))
    check('"status":200' in r.stdout.replace(" ", ""),
          "HTTP/3 answered 200: %s" % r.stdout[-500:])
    # the CA's validations were answered by sluice, not the upstream
    check(not any("acme-challenge" in q.target for q in up.requests),
          "a validation reached the upstream: %s"
          % [q.target for q in up.requests])
    eq(pb.count("set VALID by completed challenge"), 2, "two validations")
    for f in os.listdir(gw.storage):
        mode = stat.S_IMODE(os.stat(os.path.join(gw.storage, f)).st_mode)
        eq(mode, 0o600, "mode of %s" % f)
    eq(sorted(os.listdir(gw.storage))[1:],
       ["shop1.example.test.crt", "shop1.example.test.key",
        "shop2.example.test.crt", "shop2.example.test.key"], "the storage")
    m = gw.metrics()
    for name in gw.names:
        left = metric(m, "sluice_acme_certificate_expiry_seconds",
                      'name="%s"' % name)
        check(left is not None and left > 86400 * 365,
              "expiry of %s: %s" % (name, left))
        eq(metric(m, "sluice_acme_orders_total",
                  'name="%s",result="ok"' % name), 1, "orders of " + name)
        eq(metric(m, "sluice_acme_last_order_ok", 'name="%s"' % name), 1,
           "last order of " + name)
    s = gw.status()["acme"]
    eq((s["names"], s["certificates"], s["failing"], s["attention"]),
       (2, 2, 0, []), "the status page's acme")
    gw.sl.stop()
    orders = pb.count("POST /order-plz")
    eq(orders, 2, "one order a name")
    # a restart: from the storage, no order
    gw.start()
    for name in gw.names:
        eq(gw.wait_served(name)[1], serials[name], "the same certificate")
    time.sleep(0.5)
    eq(pb.count("POST /order-plz"), orders, "no order at the restart")
    check("acme: 2 names (2 new, 2 of them with a certificate from the "
          "storage)" in gw.sl.stderr(), "said: %s" % gw.sl.stderr()[-1500:])
    gw.sl.stop()


@test
def a_handshake_before_the_first_certificate_is_refused_and_said():
    """A CA that cannot be reached: a handshake for the name is refused
    (no certificate to serve), one log line says why; the order's failure
    is logged and counted; sluice itself serves on, and stops cleanly."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp)
    pb.stop()
    up = Upstream("app")
    gw = Gw(pb, up, ["early.example.test"])
    with socket.create_connection(("127.0.0.1", tp), 5) as raw:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.wrap_socket(raw, server_hostname="early.example.test")
            check(False, "a handshake without a certificate succeeded")
        except ssl.SSLError as e:
            check("UNRECOGNIZED_NAME" in str(e).upper(), "the alert: %s" % e)
    check(wait_until(lambda: 'handshake for "early.example.test" refused: '
                     "ACME has not obtained its first certificate yet"
                     in gw.sl.stderr(), 3),
          "said: %s" % gw.sl.stderr()[-1500:])
    # a name that is no ACME name is refused too, and not said to be one
    # (it was: "ACME has not obtained" of any name)
    time.sleep(1.1)     # the line is said at most once a second
    with socket.create_connection(("127.0.0.1", tp), 5) as raw:
        try:
            ctx.wrap_socket(raw, server_hostname="other.example.test")
            check(False, "a handshake for a name of no certificate")
        except ssl.SSLError as e:
            check("UNRECOGNIZED_NAME" in str(e).upper(), "the alert: %s" % e)
    time.sleep(0.2)
    check('"other.example.test" refused: ACME' not in gw.sl.stderr(),
          "not said to be ACME's: %s" % gw.sl.stderr()[-1500:])
    check(wait_until(lambda: metric(gw.metrics(), "sluice_acme_orders_total",
                                    'name="early.example.test",'
                                    'result="failed"') or 0, 10),
          "counted")
    check(re.search(r"warn: acme: early.example.test: no certificate yet: "
                    r".*cannot connect", gw.sl.stderr()),
          "the failure said: %s" % gw.sl.stderr()[-1500:])
    s = gw.status()["acme"]
    eq([(a["name"], a["last"], a["expires_in_s"]) for a in s["attention"]],
       [("early.example.test", "failed", None)], "needs attention")
    gw.sl.stop()


def set_ip(pb, ip):
    """Where challtestsrv's DNS sends every name from now on."""
    req = urllib.request.Request(pb.challtestsrv + "/set-default-ipv4",
                                 data=json.dumps({"ip": ip}).encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        eq(r.status, 200, "set-default-ipv4")


@test
def tls_alpn01_answered_by_the_tls_listener():
    """challenge: tls-alpn-01 and no plain listener: pebble's validation
    (ALPN acme-tls/1, SNI the name) gets the challenge certificate from
    the TLS listener itself, and the name its certificate; an acme-tls/1
    handshake for a name without a challenge under way is refused."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp)
    up = Upstream("app")
    gw = Gw(pb, up, ["alpn.example.test"], challenge="tls-alpn-01")
    st, _, _ = gw.wait_served("alpn.example.test")
    eq(st, 200, "served")
    eq(pb.count("set VALID by completed challenge"), 1, "validated")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    with socket.create_connection(("127.0.0.1", tp), 5) as raw:
        try:
            ctx.wrap_socket(raw, server_hostname="alpn.example.test")
            check(False, "an acme-tls/1 handshake without a challenge")
        except ssl.SSLError:
            pass
    eq(gw.curl_h2("alpn.example.test"), (200, "2"), "HTTP/2 after it")
    gw.sl.stop()


def fresh_conns(gw, name, stop, out):
    """New verified TLS connections to name, one request each, until
    stop: their serials counted in out["serials"], failures in
    out["errors"]."""
    while not stop.is_set():
        try:
            st, serial, _ = gw.peer(name)
            if st != 200:
                out["errors"].append("status %d" % st)
            out["serials"][serial] = out["serials"].get(serial, 0) + 1
        except (OSError, ssl.SSLError) as e:
            out["errors"].append(repr(e))


def kept_conn(gw, name, stop, out):
    """One kept TLS connection, requests one after another until stop."""
    gw.write_roots()
    ctx = ssl.create_default_context(cafile=gw.roots)
    try:
        raw = socket.create_connection(("127.0.0.1", gw.pb.tls_port), 5)
        s = ctx.wrap_socket(raw, server_hostname=name)
        bs = sltest.BufSock(s)
        while not stop.is_set():
            s.sendall(("GET /kept HTTP/1.1\r\nHost: %s\r\n\r\n"
                        % name).encode())
            r = sltest.read_response(bs)
            if r.status != 200:
                out["errors"].append("kept: status %d" % r.status)
            out["kept"] += 1
        s.close()
    except (OSError, ssl.SSLError, sltest.Closed) as e:
        out["errors"].append("kept: %r" % e)


@test
def a_short_certificate_is_renewed_before_expiry_under_traffic():
    """pebble issues certificates of 30 s: sluice renews at about two
    thirds of that, before expiry, while new TLS connections (a handshake
    each) and kept ones make requests without pause: none fails, the new
    handshakes see the new serial from the renewal on, and the kept
    connections go on. /metrics counts two orders and a later expiry."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp, validity_s=30)
    up = Upstream("app")
    gw = Gw(pb, up, ["renew.example.test"])
    _, first, _ = gw.wait_served("renew.example.test")
    stop = threading.Event()
    out = {"serials": {}, "errors": [], "kept": 0}
    ths = [threading.Thread(target=fresh_conns,
                            args=(gw, "renew.example.test", stop, out)),
           threading.Thread(target=kept_conn,
                            args=(gw, "renew.example.test", stop, out))]
    for t in ths:
        t.start()

    def renewed():
        return metric(gw.metrics(), "sluice_acme_orders_total",
                      'name="renew.example.test",result="ok"') == 2
    ok = wait_until(renewed, 28, 0.2)
    time.sleep(1.0)     # handshakes after the renewal
    stop.set()
    for t in ths:
        t.join(30)
    check(ok, "renewed within the certificate's 30 s:\n%s"
          % gw.sl.stderr()[-2000:])
    eq(out["errors"][:5], [], "failed requests")
    check(len(out["serials"]) == 2 and first in out["serials"],
          "the first serial then another: %s" % out["serials"])
    check(out["kept"] > 0, "the kept connection made requests")
    _, last, _ = gw.peer("renew.example.test")
    check(last != first, "a new certificate after the renewal")
    check("renewed in" in gw.sl.stderr(), "the renewal said")
    gw.sl.stop()


@test
def a_file_certificate_serves_until_failed_validations_are_retried():
    """A listener with a certificate file for the name and ACME for it,
    pebble rejecting 30 % of nonces and its validations first sent to
    127.0.0.2 (nobody there): the file's certificate serves, each failed
    order is retried (warn, counted, on the status page), badNonce
    answers are sent again and counted; once validations reach sluice,
    ACME's certificate replaces the file's, without a reload."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp, nonce_reject=30)
    set_ip(pb, "127.0.0.2")
    pki = sltest.Pki(tmpdir())
    pki.ca("ca", "/O=Sluice Test/CN=file CA")
    pki.leaf("f", "/CN=shop.example.test", "ca", ["shop.example.test"])
    up = Upstream("app")
    gw = Gw(pb, up, ["shop.example.test"],
            certificates=[{"cert": pki["f"].cert, "key": pki["f"].key}])
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    with socket.create_connection(("127.0.0.1", tp), 5) as raw:
        with ctx.wrap_socket(raw, server_hostname="shop.example.test"):
            pass    # the file's, verified by its CA
    check(wait_until(lambda: (metric(
        gw.metrics(), "sluice_acme_orders_total",
        'name="shop.example.test",result="failed"') or 0) >= 2, 20, 0.2),
        "two failed orders:\n%s" % gw.sl.stderr()[-2000:])
    check(re.search(r"warn: acme: shop.example.test: no certificate yet: "
                    r"http-01 for shop.example.test: authorization invalid",
                    gw.sl.stderr()), "why said: %s" % gw.sl.stderr()[-2000:])
    a = gw.status()["acme"]["attention"]
    eq([(x["name"], x["last"]) for x in a],
       [("shop.example.test", "failed")], "the status page")
    check("authorization invalid" in a[0]["error"], a[0]["error"])
    # the dashboard says it, in red, the name's failure in the title
    b = chrome.Browser()
    acme_js = ("[(document.querySelector('#acme') || {}).textContent, "
               "(document.querySelector('#acme') || {}).className, "
               "(document.querySelector('#acme') || {}).title, "
               "!(document.querySelector('#acme-row') || {hidden: true}).hidden]"
               ".join('|')")
    try:
        b.open("http://127.0.0.1:%d/" % gw.aport)
        check(wait_until(lambda: (b.eval(acme_js) or "").startswith(
            "0 of 1 names"), 15), "the dashboard: %r" % b.eval(acme_js))
        text, cls, title, shown = b.eval(acme_js).split("|")
        check("1 failing" in text and cls == "bad" and shown == "true" and
              "shop.example.test: no certificate yet, last order failed"
              in title, "the dashboard's ACME line: %r" % b.eval(acme_js))
        set_ip(pb, "127.0.0.1")
        st, serial, _ = gw.wait_served("shop.example.test", 15)
        check(wait_until(lambda: (b.eval(acme_js) or "").startswith(
            "1 of 1 names"), 15), "the dashboard: %r" % b.eval(acme_js))
        text, cls, title, shown = b.eval(acme_js).split("|")
        check("failing" not in text and cls == "ok" and title == "",
              "the dashboard's ACME line: %r" % b.eval(acme_js))
    finally:
        b.close()
    eq(st, 200, "ACME's certificate, verified against pebble's root")
    m = gw.metrics()
    eq(metric(m, "sluice_acme_last_order_ok", 'name="shop.example.test"'),
       1, "the last order")
    check(metric(m, "sluice_acme_retries_total", 'reason="bad_nonce"') > 0,
          "nonces sent again")
    gw.sl.stop()


@test
def a_ca_down_past_the_margin_is_reported_and_the_old_one_serves():
    """A certificate of 20 s, then pebble stops: the renewal's attempts
    fail; with little of its life left each failure is an error line with
    the time left; the old certificate is served until it expires."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp, validity_s=20)
    up = Upstream("app")
    gw = Gw(pb, up, ["down.example.test"])
    gw.sl.expect_errors(r"acme: down.example.test: its certificate "
                        r"(expires in \d+ s and could not be renewed|"
                        r"has expired and could not be renewed)")
    _, serial, _ = gw.wait_served("down.example.test")
    roots = pb.issuer_pem()
    pb.stop()
    check(wait_until(lambda: re.search(
        r"error: acme: down.example.test: its certificate expires in \d+ "
        r"s and could not be renewed: .*cannot connect",
        gw.sl.stderr()), 20, 0.2),
        "the error line: %s" % gw.sl.stderr()[-2000:])
    with open(gw.roots, "w") as f:
        f.write(roots)
    ctx = ssl.create_default_context(cafile=gw.roots)
    with socket.create_connection(("127.0.0.1", tp), 5) as raw:
        with ctx.wrap_socket(raw, server_hostname="down.example.test") as s:
            eq(s.getpeercert()["serialNumber"], serial, "the old one")
    eq(metric(gw.metrics(), "sluice_acme_last_order_ok",
              'name="down.example.test"'), 0, "the last order failed")
    gw.sl.stop()


@test
def a_reload_orders_an_added_name_and_stops_a_removed_one():
    """[a, b] then a reload to [a, c]: c is ordered and served, a keeps its
    certificate (no order), b is no longer renewed (said) and its name no
    longer served; its metrics go with it."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp)
    up = Upstream("app")
    gw = Gw(pb, up, ["a.example.test", "b.example.test"])
    _, sa, _ = gw.wait_served("a.example.test")
    gw.wait_served("b.example.test")
    orders = pb.count("POST /order-plz")
    cfg = json.loads(json.dumps(gw.cfg))
    cfg["listeners"][0]["tls"]["acme"] = ["a.example.test", "c.example.test"]
    gw.reload(cfg)
    gw.wait_served("c.example.test")
    eq(gw.peer("a.example.test")[1], sa, "a kept its certificate")
    eq(pb.count("POST /order-plz"), orders + 1, "one order: c's")
    check(wait_until(lambda: "acme: b.example.test: no longer in the "
                     "configuration" in gw.sl.stderr(), 5),
          "said: %s" % gw.sl.stderr()[-1500:])
    try:
        gw.peer("b.example.test")
        check(False, "b is still served")
    except (OSError, ssl.SSLError):
        pass
    check(wait_until(lambda: metric(gw.metrics(),
                                    "sluice_acme_certificate_expiry_seconds",
                                    'name="b.example.test"') is None, 5),
          "b's metrics gone")
    gw.sl.stop()


EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


@test
def external_account_binding_and_no_secret_shown():
    """A CA that requires External Account Binding: without eab the order
    fails with its externalAccountRequired said; with it the account is
    made and the name served. Neither the MAC key nor the account's
    private key is in the log, /config or /metrics."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp, eab={"kid-1": EAB_KEY})
    up = Upstream("app")
    gw = Gw(pb, up, ["eab.example.test"])
    check(wait_until(lambda: "externalAccountRequired" in gw.sl.stderr(),
                     10), "said: %s" % gw.sl.stderr()[-1500:])
    gw.sl.stop()
    keyf = os.path.join(tmpdir(), "eab.key")
    with open(keyf, "w") as f:
        f.write(EAB_KEY + "\n")
    os.chmod(keyf, 0o600)
    gw2 = Gw(pb, up, ["eab.example.test"], storage=gw.storage,
             acme={"eab": {"kid": "kid-1", "hmac_key_file": keyf}})
    eq(gw2.wait_served("eab.example.test")[0], 200, "served")
    with urllib.request.urlopen("http://127.0.0.1:%d/config" % gw2.aport,
                                timeout=5) as r:
        page = r.read().decode()
    acct = [f for f in os.listdir(gw.storage) if f.startswith("account-")]
    eq(len(acct), 1, "one account key")
    with open(os.path.join(gw.storage, acct[0])) as f:
        pem = f.read()
    body = pem.split("-----")[2].replace("\n", "")
    for where, text in (("log", gw2.sl.stderr()), ("/config", page),
                        ("/metrics", str(gw2.metrics()))):
        check(EAB_KEY[:20] not in text, "the EAB key in " + where)
        check(body[:40] not in text, "the account key in " + where)
    check('"hmac_key_file"' in page, "/config names the file")
    gw2.sl.stop()


def stored_cert(storage, name, days_before, days_after):
    """A certificate for name in ACME's storage, as if ordered before:
    self-signed (a stored certificate needs only its key), valid from
    days_before ago to days_after from now."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    os.makedirs(storage, mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
            .public_key(key.public_key()).serial_number(4242)
            .not_valid_before(now - datetime.timedelta(days=days_before))
            .not_valid_after(now + datetime.timedelta(days=days_after))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    for ext, data in (("crt", cert.public_bytes(serialization.Encoding.PEM)),
                      ("key", key.private_bytes(
                          serialization.Encoding.PEM,
                          serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()))):
        fd = os.open(os.path.join(storage, "%s.%s" % (name, ext)),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, data)
        os.close(fd)


@test
def a_stored_certificate_near_its_end_is_said_and_renewed_at_once():
    """A certificate of 100 days in the storage with 2.5 days left (as
    after weeks of a CA that could not be reached): it is served from the
    first handshake; the log warns that it expires within 14 and within 7
    days and says an error within 3, once each; being past two thirds of
    its life, it is renewed at once, and the new one is served."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp)
    up = Upstream("app")
    storage = os.path.join(tmpdir(), "acme")
    stored_cert(storage, "old.example.test", 97.5, 2.5)
    gw = Gw(pb, up, ["old.example.test"], storage=storage, start=False)
    gw.start()
    gw.sl.expect_errors(r"acme: old.example.test: its certificate expires "
                        r"in 2 days")
    with socket.create_connection(("127.0.0.1", tp), 5) as raw:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(raw, server_hostname="old.example.test") as c:
            first = c.getpeercert(binary_form=True)
    check(first is not None, "the stored certificate served")
    _, serial, _ = gw.wait_served("old.example.test")   # pebble's
    err = gw.sl.stderr()
    eq(len(re.findall(r"warn: acme: old.example.test: its certificate "
                      r"expires in 2 days", err)), 2,
       "warned at 14 and 7 days: %s" % err[-1500:])
    eq(len(re.findall(r"error: acme: old.example.test: its certificate "
                      r"expires in 2 days", err)), 1, "the error at 3")
    check("1 of them with a certificate from the storage" in err,
          "taken from the storage: %s" % err[-1500:])
    eq(pb.count("POST /order-plz"), 1, "renewed at once")
    gw.sl.stop()


@test
def check_refuses_bad_acme_keys():
    """-t: each bad key of acme and tls.acme said at its place."""
    require()
    d = tmpdir()
    good = {"directory": "https://127.0.0.1:14000/dir",
            "storage": os.path.join(d, "store")}

    def conf(acme, names=("x.example.test",), plain=80, tls_extra=None):
        tls = {"acme": list(names)}
        tls.update(tls_extra or {})
        lst = [{"name": "t", "address": "127.0.0.1:%d" % free_port(),
                "tls": tls, "routes": [{"cluster": "c"}]}]
        if plain:
            lst.append({"name": "p", "address": "127.0.0.1:%d" % plain,
                        "routes": [{"cluster": "c"}]})
        c = {"listeners": lst,
             "clusters": [{"name": "c", "endpoints": ["127.0.0.1:9"]}]}
        if acme is not None:
            c["acme"] = acme
        path = os.path.join(d, "c%d.yaml" % free_port())
        with open(path, "w") as f:
            f.write(to_yaml(c) + "\n")
        rc, out, err = run_sluice(["-t", "-c", path])
        return rc, err
    rc, err = conf(good)
    eq((rc, err), (0, ""), "a good one")
    bad_key = os.path.join(d, "bad.key")
    with open(bad_key, "w") as f:
        f.write("not a key\n")
    os.chmod(bad_key, 0o600)
    cases = [
        (None, ("x.example.test",), 80,
         '"acme" needs the top-level "acme"'),
        (dict(good, directory="http://ca/dir"), None, 80,
         "is not an https URL"),
        (dict(good, contact="nobody"), None, 80, "is not an e-mail address"),
        (dict(good, storage="rel/dir"), None, 80, "must be an absolute path"),
        (dict(good, storage="/nonexistent/a/b"), None, 80,
         "does not exist and cannot be made"),
        (dict(good, account_key=bad_key), None, 80,
         "is not a PEM private key"),
        (dict(good, eab={"kid": "k"}), None, 80,
         'missing key "hmac_key_file"'),
        (good, None, free_port(), "http-01 needs a plain (not TLS) listener "
         "on port 80"),
        (dict(good, challenge="tls-alpn-01"), None, 80,
         "tls-alpn-01 needs a TLS listener of ACME names on port 443"),
        (good, ("*.example.test",), 80, "a wildcard needs dns-01"),
        (good, ("x.example.test", "X.example.test"), 80, "is named twice"),
        (dict(good, key_type="dsa"), None, 80, "ecdsa or rsa"),
    ]
    for acme, names, plain, want in cases:
        rc, err = conf(acme, names or ("x.example.test",), plain)
        eq(rc, 1, "refused: %s" % want)
        check(want in err, "%r in: %s" % (want, err))
    # http_port names the port a balancer sends port 80 to
    p = free_port()
    rc, err = conf(dict(good, http_port=p), ("x.example.test",), p)
    eq((rc, err), (0, ""), "http_port")


# ---- ACME Renewal Information (RFC 9773) --------------------------------------


class AriFront:
    """An HTTPS front for pebble's directory that adds renewalInfo (pebble
    2.4 has none): GET /dir is pebble's directory with "renewalInfo":
    https://127.0.0.1:PORT/ari/, and GET /ari/ID answers the window the
    test sets, with Retry-After: 1. Every ID asked for is kept in
    asked. Everything else sluice sends to pebble itself (a JWS names
    its URL, which a front would change)."""

    def __init__(self, pb):
        import http.server
        conf = json.load(open(pb.conf_path))["pebble"]
        self.pb = pb
        now = time.time()
        self.window = (now + 3600, now + 7200)
        self.asked = []
        front = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/dir":
                    d = json.loads(front.pb.get(front.pb.directory))
                    d["renewalInfo"] = ("https://127.0.0.1:%d/ari/"
                                        % front.port)
                    body, extra = json.dumps(d).encode(), {}
                elif self.path.startswith("/ari/"):
                    front.asked.append(self.path[5:])
                    ws, we = front.window
                    iso = "%Y-%m-%dT%H:%M:%SZ"
                    body = json.dumps({"suggestedWindow": {
                        "start": time.strftime(iso, time.gmtime(ws)),
                        "end": time.strftime(iso, time.gmtime(we))}
                    }).encode()
                    extra = {"Retry-After": "1"}
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(conf["certificate"], conf["privateKey"])
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.directory = "https://127.0.0.1:%d/dir" % self.port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        sltest._register("upstreams", self)

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def ari_id(der):
    """RFC 9773 section 4.1's identifier of a certificate (DER)."""
    from cryptography import x509
    import base64
    c = x509.load_der_x509_certificate(der)
    kid = c.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier).value.key_identifier
    n = c.serial_number
    sn = n.to_bytes((n.bit_length() + 8) // 8, "big")

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return b64(kid) + "." + b64(sn)


@test
def renewal_information_decides_when_to_renew():
    """A CA with renewal information (RFC 9773): sluice asks for its
    certificate's window by the identifier section 4.1 defines (checked
    against the served certificate), as often as Retry-After says, and
    does not renew while the window is ahead (the certificate has an
    hour: two thirds would be 40 minutes away); once the CA moves the
    window to the past, it renews at once."""
    require()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp, validity_s=3600)
    front = AriFront(pb)
    up = Upstream("app")
    gw = Gw(pb, up, ["ari.example.test"],
            acme={"directory": front.directory})
    _, first, _ = gw.wait_served("ari.example.test")
    check(wait_until(lambda: len(front.asked) >= 2, 10, 0.1),
          "asked twice, a second apart: %s" % front.asked)
    gw.write_roots()
    ctx = ssl.create_default_context(cafile=gw.roots)
    with socket.create_connection(("127.0.0.1", tp), 5) as raw:
        with ctx.wrap_socket(raw, server_hostname="ari.example.test") as s:
            der = s.getpeercert(binary_form=True)
    eq(front.asked[0], ari_id(der), "the certificate's identifier")
    eq(pb.count("POST /order-plz"), 1, "no renewal while the window is "
       "ahead")
    now = time.time()
    front.window = (now - 60, now - 1)
    check(wait_until(lambda: pb.count("POST /order-plz") == 2, 10, 0.1),
          "renewed once the window came:\n%s" % gw.sl.stderr()[-2000:])
    check(wait_until(lambda: gw.peer("ari.example.test")[1] != first, 10,
                     0.1), "the new certificate served")
    check("the CA's renewal information says renew now" in gw.sl.stderr(),
          "said")
    gw.sl.stop()


# ---- a fleet: gateways sharing a redis-server -------------------------------

# the Redis helper of the rate limits' suite, imported without its tests
_ours = len(sltest._tests)
import test_rate_limit as trl  # noqa: E402
del sltest._tests[_ours:]


def seal_key_file():
    f = os.path.join(tmpdir(), "acme.key")
    with open(f, "w") as o:
        o.write(os.urandom(32).hex() + "\n")
    os.chmod(f, 0o600)
    return f


def redis_keys(redis, pattern):
    """KEYS pattern, through redis-cli-free RESP (the helper's command()
    reads one line: the count)."""
    s = socket.create_connection(("127.0.0.1", redis.port), 2.0)
    try:
        s.sendall(trl.resp("KEYS", pattern))
        bs = sltest.BufSock(s)
        n = int(bs.read_until(b"\r\n")[1:])
        out = []
        for _ in range(max(n, 0)):
            ln = int(bs.read_until(b"\r\n")[1:])
            out.append(bytes(bs.read_exact(ln + 2)[:-2]))
        return out
    finally:
        s.close()


def redis_get(redis, key):
    s = socket.create_connection(("127.0.0.1", redis.port), 2.0)
    try:
        s.sendall(trl.resp("GET", key))
        bs = sltest.BufSock(s)
        ln = int(bs.read_until(b"\r\n")[1:])
        return None if ln < 0 else bytes(bs.read_exact(ln + 2)[:-2])
    finally:
        s.close()


@test
def a_fleet_orders_each_name_once_and_any_gateway_answers():
    """Gateways A (127.0.0.1) and B (127.0.0.2) share a redis-server
    (store: redis, one key_file); pebble's validations all go to B's
    plain listener. f1, a name of A's alone, is ordered by A and
    validated by B from the answer A shared; f2, both gateways', is
    ordered once and both serve the same certificate. Redis holds each
    certificate sealed (no PEM, no key in it), no lock once done, no
    challenge left. A third gateway, C, started later, serves both from
    the store without an order."""
    require()
    redis = trl.Redis()
    kf = seal_key_file()
    hp, tp = ports()
    pb = pebble.start_pebble(hp, tp)
    set_ip(pb, "127.0.0.2")
    up = Upstream("app")
    store = {"store": "redis", "key_file": kf}
    ex = {"rate_limit_store": {"address": "127.0.0.1:%d" % redis.port}}
    b = Gw(pb, up, ["f2.example.test"], acme=store, ip="127.0.0.2",
           extra=ex)
    a = Gw(pb, up, ["f1.example.test", "f2.example.test"], acme=store,
           extra=ex)
    _, s1, _ = a.wait_served("f1.example.test", 15)
    _, s2a, _ = a.wait_served("f2.example.test", 15)
    _, s2b, _ = b.wait_served("f2.example.test", 15)
    eq(s2a, s2b, "one certificate for f2 on both gateways")
    eq(pb.count("POST /order-plz"), 2, "one order a name:\nA:\n%s\nB:\n%s"
       % (a.sl.stderr()[-2000:], b.sl.stderr()[-2000:]))
    eq(a.count("certificate for f1.example.test obtained"), 1,
       "A ordered f1, validated through B")
    eq(b.count("f1.example.test obtained"), 0, "B never ordered f1")
    eq(a.count("certificate for f2.example.test obtained") +
       b.count("certificate for f2.example.test obtained"), 1,
       "f2 ordered by one of them")
    for name in ("f1.example.test", "f2.example.test"):
        v = redis_get(redis, "sluice:acme:cert:" + name)
        check(v is not None and b"BEGIN" not in v and b"PRIVATE" not in v,
              "%s sealed in Redis" % name)
    check(wait_until(lambda: redis_keys(redis, "sluice:acme:lock:*") == [],
                     5), "the locks let go")
    check(wait_until(lambda: redis_keys(redis, "sluice:acme:challenges")
                     == [], 5), "no challenge left")
    # an answer shared through the store (as an order on another
    # gateway shares it) is served by a GET, before any route; another
    # method, and a token not under way, go to the routes
    tok = "t0k3n-shared_by-the-fleet"
    s = socket.create_connection(("127.0.0.1", redis.port), 2.0)
    s.sendall(trl.resp("HSET", "sluice:acme:challenges", "h:" + tok,
                       "%d %s.thumb" % (time.time() + 600, tok)))
    s.recv(100)
    s.close()
    path = "/.well-known/acme-challenge/" + tok

    def answered():
        r = sltest.get(hp, path, host="f1.example.test")
        return r.status == 200 and r.body == (tok + ".thumb").encode()
    check(wait_until(answered, 5, 0.05), "B serves the shared answer")
    n0 = len(up.requests)
    c = sltest.Client(hp)
    r = c.request("POST", path, body=b"x")
    eq(r.status, 200, "a POST goes to the route")
    r = sltest.get(hp, "/.well-known/acme-challenge/not-under-way")
    eq(r.status, 200, "an unknown token goes to the route")
    eq([q.target for q in up.requests[n0:]],
       [path, "/.well-known/acme-challenge/not-under-way"],
       "the upstream got those two, not the GET")
    # a third gateway: both certificates from the store
    c = Gw(pb, up, ["f1.example.test", "f2.example.test"], acme=store,
           ip="127.0.0.3", extra=ex)
    eq(c.wait_served("f1.example.test")[1], s1, "C serves A's f1")
    eq(c.wait_served("f2.example.test")[1], s2a, "C serves f2's")
    time.sleep(0.5)
    eq(pb.count("POST /order-plz"), 2, "C ordered nothing")
    for g in (a, b, c):
        g.sl.stop()


if __name__ == "__main__":
    main()
