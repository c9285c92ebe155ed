#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QUIC handshakes between sluice's QUIC connection (src/quic: libngtcp2's
core with sluice's glue to OpenSSL 3.0) and a client that shares nothing
with it: ngtcp2's gtlsclient (Debian's ngtcp2-client), built on GnuTLS.
The server is tests/unit/quic_serve, sluice's endpoint (src/quic/qend.c)
on a UDP socket of 127.0.0.1, until the daemon serves QUIC itself
(doc/http3.md). Each TLS 1.3 suite, a resumed session (early data
refused), a Retry first, a key update, and 10% loss each way: the
handshake completes and is confirmed on both sides, every connection
opened is closed, and no stateless reset is sent. Then HTTP/3 requests,
answered by a minimal responder in the harness on sluice's QPACK and
frames (src/h3), until the daemon's codec exists: one GET; 100
concurrent streams under 10% loss each way; a request after the client
moved to a new port (an active migration) and after a NAT rebinding,
each found by its connection ID and answered at the new address once
the path is validated.
Skipped in a build without HTTP/3 (./configure --without-quic) or
without gtlsclient."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Skip, check, eq, main, test, tmpdir  # noqa: E402

URI = "https://127.0.0.1:%d/pay/v1/ping"
SUITES = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+"


def serve_path():
    return os.path.join(sltest.TOP_BUILDDIR, "tests", "unit", "quic_serve")


def require():
    if sltest.over_tls():
        raise Skip("QUIC is its own transport: run once")
    if not os.access(serve_path(), os.X_OK):
        raise Skip("built without HTTP/3 (./configure --without-quic)")
    if shutil.which("gtlsclient") is None:
        raise Skip("gtlsclient not found (apt-get install ngtcp2-client)")


def cert():
    d = tmpdir()
    c, k = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    "/CN=localhost", "-days", "1", "-keyout", k, "-out", c],
                   check=True, capture_output=True)
    return c, k


class Server:
    """quic_serve for count connections (retry: each after a Retry): its
    port, then its lines."""

    def __init__(self, count=1, retry=False):
        c, k = cert()
        self.p = subprocess.Popen([serve_path(), c, k, str(count)]
                                  + (["retry"] if retry else []),
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        eq(line[0], "port", "quic_serve's first line")
        self.port = int(line[1])

    def lines(self):
        out, _ = self.p.communicate(timeout=30)
        return out.split("\n")[:-1]


def client(port, *args, idle="1s", uri=None):
    """gtlsclient's handshake with port, closed when idle that long (the
    connection's idle timeout, the lower of the two sides'), and its
    requests of uri when given: its output."""
    r = subprocess.run(["gtlsclient", "--timeout=" + idle] + list(args)
                       + ["127.0.0.1", str(port)]
                       + ([uri % port] if uri else []),
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    eq(r.returncode, 0, "gtlsclient's status: %s" % out[-2000:])
    check("QUIC handshake has completed" in out and
          "QUIC handshake has been confirmed" in out,
          "gtlsclient's handshake: %s" % out[-2000:])
    check("Negotiated ALPN is h3" in out, "h3")
    return out


@test
def each_tls13_suite_with_gtlsclient():
    require()
    for gnutls, openssl in [("AES-128-GCM", "TLS_AES_128_GCM_SHA256"),
                            ("AES-256-GCM", "TLS_AES_256_GCM_SHA384"),
                            ("CHACHA20-POLY1305",
                             "TLS_CHACHA20_POLY1305_SHA256")]:
        s = Server()
        client(s.port, "--ciphers=" + SUITES + gnutls)
        eq(s.lines(), ["established %s h3" % openssl,
                       "stats accepted=1 retries=0 closed=1 resets=0"],
           "the server's lines")


@test
def a_session_resumes_without_early_data():
    require()
    s = Server(2)
    sess = os.path.join(tmpdir(), "session")
    client(s.port, "--session-file=" + sess)
    out = client(s.port, "--session-file=" + sess)
    check("Early data was rejected by server" in out,
          "no 0-RTT: %s" % out[-1500:])
    eq(s.lines(), ["established TLS_AES_128_GCM_SHA256 h3",
                   "established TLS_AES_128_GCM_SHA256 h3 resumed",
                   "stats accepted=2 retries=0 closed=2 resets=0"],
       "the server's lines")


@test
def a_retry_validates_the_clients_address_first():
    """The endpoint answers each first Initial with a Retry and its token
    (bound to the client's address); gtlsclient comes back with it, and
    the connection opens naming both IDs in its transport parameters,
    which the client checks (RFC 9000 7.3)."""
    require()
    s = Server(2, retry=True)
    for _ in range(2):
        client(s.port)
    eq(s.lines(), ["established TLS_AES_128_GCM_SHA256 h3"] * 2
       + ["stats accepted=2 retries=2 closed=2 resets=0"],
       "the server's lines")


@test
def a_key_update_and_loss_each_way():
    require()
    # under loss a lost flight waits for its probe timeout, which
    # doubles (1, 2, 4, 8 s): the client makes a request and leaves once
    # it is answered, under an idle timeout only a failure reaches in
    # the client, and which ends the server's side when the client's
    # CONNECTION_CLOSE is lost (15 s, under the harness's 20)
    for args in (["--key-update=50ms"],
                 ["-t", "0.1", "-r", "0.1", "--exit-on-all-streams-close"]):
        s = Server()
        t0 = time.monotonic()
        lossy = len(args) > 1
        out = client(s.port, *args, idle="15s" if lossy else "1s",
                     uri=URI if lossy else None)
        if "--key-update=50ms" in args:
            check("Initiate key update" in out, "the client's key update")
        # the harness says a handshake done at its loop's next turn,
        # which may come after the request it answered
        eq(sorted(s.lines()),
           sorted(["established TLS_AES_128_GCM_SHA256 h3"]
                  + (["request GET /pay/v1/ping"] if lossy else [])
                  + ["stats accepted=1 retries=0 closed=1 resets=0"]),
           "the server's lines (%s, %.1f s)" % (args, time.monotonic() - t0))


def requests(out):
    """The responses gtlsclient read: (status 200 heads, bodies)."""
    return (out.count("[:status: 200]"),
            out.count("over HTTP/3"))


@test
def http3_requests_with_gtlsclient():
    """A GET, then 100 streams at once under 10% loss each way: each is
    answered 200 with its body, the harness reading each HEADERS with
    sluice's QPACK decoder and frame reader and writing each answer with
    its encoder; gtlsclient's HTTP/3 (nghttp3) reads them."""
    require()
    s = Server()
    out = client(s.port, "--exit-on-all-streams-close", uri=URI)
    eq(requests(out)[0], 1, "a 200: %s" % out[-1500:])
    check("http: stream 0x0 [content-type: text/plain]" in out,
          "its field, QPACK-coded by sluice")
    eq(s.lines(), ["request GET /pay/v1/ping",
                   "established TLS_AES_128_GCM_SHA256 h3",
                   "stats accepted=1 retries=0 closed=1 resets=0"],
       "the server's lines")
    s = Server()
    out = client(s.port, "--exit-on-all-streams-close", "-n", "100",
                 "-t", "0.1", "-r", "0.1", idle="5s", uri=URI)
    eq(requests(out)[0], 100, "100 answers under loss")
    lines = s.lines()
    eq(lines.count("request GET /pay/v1/ping"), 100, "100 requests")
    eq(lines[-1], "stats accepted=1 retries=0 closed=1 resets=0",
       "one connection")


@test
def a_client_that_moves_keeps_its_connection():
    """gtlsclient changes its local port (an active migration, with a
    new connection ID), or its NAT does (a rebinding, the same ID), then
    sends its request: the endpoint finds the connection by its ID,
    validates the new path, and answers there; no stateless reset, one
    connection."""
    require()
    for how in (["--change-local-addr=200ms"],
                ["--nat-rebinding", "--change-local-addr=200ms"]):
        s = Server()
        out = client(s.port, "--exit-on-all-streams-close",
                     "--delay-stream=500ms", *how, idle="3s", uri=URI)
        check("Local address is now" in out, "%s: it moved" % how)
        # the path validated: the client's challenge answered (a
        # migration), or the server's challenge to it (a rebinding)
        check("PATH_CHALLENGE" in out, "%s: a path validation" % how)
        eq(requests(out)[0], 1, "%s: its answer" % how)
        eq(s.lines()[-1], "stats accepted=1 retries=0 closed=1 resets=0",
           "%s: one connection, no reset" % how)


if __name__ == "__main__":
    main()
