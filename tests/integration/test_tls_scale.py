#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A payments platform's listener: 10,000 certificates, one per merchant
(issue 78). The certificates are made at test time by python3-cryptography
with ONE shared key (a key many certificates share is read once,
src/net/tlscert.c): certificate i names m<i>.example.test and
*.w<i>.example.test. sluice starts on them; curl (with SNI by --resolve)
verifies, against that certificate alone as its trust anchor, that the
first name, the last name and a name under a wildcard each get their own
certificate, and a name no certificate carries gets the first one. Then a
reload: one certificate file is replaced by another (a new subject, and a
name added), the rest left as they are: the new one is served, the
unchanged ones still are, and the old one no longer is.

Skipped without python3-cryptography or curl. SLTEST_TLS_SCALE_CERTS
sets the count (default 10,000). No time is asserted: the time a start
and a reload take is contrib/bench's to measure (doc/tls.md)."""

import datetime
import os
import re
import signal
import ssl
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Skip, Upstream, check, eq, main, make_config,  # noqa
                    start_sluice, test, tmpdir, wait_until)

N = int(os.environ.get("SLTEST_TLS_SCALE_CERTS", "10000"))


def crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise Skip("python3-cryptography is not installed")
    return x509, hashes, serialization, ec, NameOID


class Certs:
    """N self-signed certificates of one P-256 key in a directory."""

    def __init__(self, d, n):
        x509, hashes, serialization, ec, NameOID = crypto()
        self.x509, self.hashes, self.NameOID = x509, hashes, NameOID
        self.dir = d
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_path = os.path.join(d, "key.pem")
        with open(self.key_path, "wb") as f:
            f.write(self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        os.chmod(self.key_path, 0o600)
        self.pem = serialization.Encoding.PEM
        self.now = datetime.datetime.now(datetime.timezone.utc)
        for i in range(n):
            self.write(i)

    def path(self, i):
        return os.path.join(self.dir, "c%d.pem" % i)

    def write(self, i, subject=None, extra=()):
        x509, NameOID = self.x509, self.NameOID
        name = "m%d.example.test" % i
        sub = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            subject or name)])
        sans = [x509.DNSName(name), x509.DNSName("*.w%d.example.test" % i)]
        sans += [x509.DNSName(e) for e in extra]
        c = (x509.CertificateBuilder().subject_name(sub).issuer_name(sub)
             .public_key(self.key.public_key()).serial_number(i + 1)
             .not_valid_before(self.now - datetime.timedelta(days=1))
             .not_valid_after(self.now + datetime.timedelta(days=30))
             .add_extension(x509.SubjectAlternativeName(sans), False)
             .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                            True)
             .sign(self.key, self.hashes.SHA256()))
        tmp = self.path(i) + ".tmp"
        with open(tmp, "wb") as f:
            f.write(c.public_bytes(self.pem))
        os.rename(tmp, self.path(i))


def fetch(port, name, ca):
    """curl to https://name:port/ by SNI, verifying against the file ca
    alone: (exit code, body, stderr)."""
    if not sltest.have_curl():
        raise Skip("curl is not installed")
    p = subprocess.run(
        ["curl", "-sS", "--http1.1", "--noproxy", "*", "--max-time", "10",
         "--cacert", ca, "--resolve", "%s:%d:127.0.0.1" % (name, port),
         "https://%s:%d/" % (name, port)],
        capture_output=True, timeout=20)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def served(port, name, ca):
    """Whether the certificate sluice gives SNI name chains to ca (the
    name itself not checked: for names no certificate carries)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=name):
                return True
    except ssl.SSLError:
        return False


def ok(port, name, ca, what):
    rc, body, err = fetch(port, name, ca)
    eq(rc, 0, "%s: curl to %s verified against %s: %s"
       % (what, name, os.path.basename(ca), err))
    check(len(body) > 0, "%s: no answer body" % what)


@test
def ten_thousand_certificates_start_serve_and_reload():
    up = Upstream()
    d = tmpdir()
    certs = Certs(d, N)
    last = N - 1
    cfg, port = make_config(
        {"c": [up]},
        listener_opts={"tls": {"certificates": [
            {"cert": certs.path(i), "key": certs.key_path}
            for i in range(N)]}})
    sl = sltest.Sluice(cfg)
    sltest._register("sluices", sl)
    sl.start(timeout=50.0)

    ok(port, "m0.example.test", certs.path(0), "the first name")
    ok(port, "m%d.example.test" % last, certs.path(last), "the last name")
    mid = N // 2
    ok(port, "shop.w%d.example.test" % mid, certs.path(mid),
       "a name under a wildcard")
    # the certificate of a name is no other's
    rc, _, _ = fetch(port, "m%d.example.test" % last, certs.path(0))
    check(rc != 0, "the last name verified against the first certificate")
    # no certificate's name: the first certificate
    check(served(port, "nobody.example.test", certs.path(0)),
          "a name no certificate carries did not get the first one")

    # a reload: the last certificate replaced (a new subject, one name
    # more), the others as they are
    old = os.path.join(d, "old-last.pem")
    with open(certs.path(last), "rb") as f, open(old, "wb") as g:
        g.write(f.read())
    certs.write(last, subject="merchant %d, renewed" % last,
                extra=["added.example.test"])
    rc, _, _ = fetch(port, "added.example.test", certs.path(last))
    check(rc != 0, "the added name was served before the reload")
    n0 = len(sl.stderr())
    sl.send_signal(signal.SIGHUP)
    check(wait_until(lambda: re.search(r"reload: generation 2 from",
                                       sl.stderr()[n0:]), 30.0, 0.05),
          "no reload within 30 s:\n%s" % sl.stderr()[n0:])
    check("error" not in sl.stderr()[n0:],
          "the reload said:\n%s" % sl.stderr()[n0:])

    def renewed():
        return fetch(port, "added.example.test", certs.path(last))[0] == 0
    check(wait_until(renewed, 10.0, 0.1),
          "the replaced certificate is not served after the reload")
    ok(port, "m%d.example.test" % last, certs.path(last),
       "the last name, renewed")
    rc, _, _ = fetch(port, "m%d.example.test" % last, old)
    check(rc != 0, "the replaced certificate is still served")
    ok(port, "m0.example.test", certs.path(0), "the first name, reloaded")
    ok(port, "shop.w%d.example.test" % mid, certs.path(mid),
       "a wildcard name, reloaded")
    ok(port, "m%d.example.test" % (last - 1), certs.path(last - 1),
       "the name before the last, reloaded")
    check(served(port, "nobody.example.test", certs.path(0)),
          "after the reload, a name no certificate carries did not get "
          "the first one")
    sl.stop()


if __name__ == "__main__":
    main()
