#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/3 between sluice's QUIC (src/quic: libngtcp2's core with sluice's
glue to OpenSSL 3.0; src/h3's frames and QPACK) and quic-go 0.29, a
client that shares nothing with it (Go's TLS 1.3 in quic-go's qtls fork,
quic-go's transport and HTTP/3): tests/quicgo's slquic, built here from
Debian's golang-go and golang-github-lucas-clemente-quic-go-dev. First
against tests/unit/quic_serve (the endpoint alone, its harness's
responder): the quic-interop-runner's client cases that apply to a
server without 0-RTT, each checked on what the client printed (the
echoed body, the suite, the Retry, the Version Negotiation, the
resumption, the key update) and on what the server printed; slquic's
load driver, upload and download on the small bodies the harness
answers. Then against the real binary (a TLS listener's http3, a route
to a real upstream), reached as a browser reaches it, by name (SNI and
:authority pay.test, the certificate verified for it, 127.0.0.1
dialled): every case again, the Retry, the listener's ciphersuites, 250
requests on one connection, POSTs, and 8 MiB each way checked byte for
byte at the other end. (Names against several certificates, and 421:
test_http3_names.py.)
Skipped in a build without HTTP/3 (./configure --without-quic), or when
build.sh cannot build slquic (no Go 1.19 or no quic-go 0.29: exit 77)."""

import hashlib
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Reply, Skip, Upstream, check, eq, main,  # noqa: E402
                    make_config, start_sluice, test, tmpdir)

# what build.sh said: None before it ran, then (status, output)
_built = None


def serve_path():
    return os.path.join(sltest.TOP_BUILDDIR, "tests", "unit", "quic_serve")


def slquic_dir():
    return os.path.join(sltest.TOP_BUILDDIR, "tests", "quicgo")


def build():
    """Builds slquic once, before any test's watchdog runs: a cold build
    (quic-go and its dependencies) takes about 20 s on two idle CPUs, a
    warm one (Go's cache under the build directory) a second or two."""
    global _built
    if sltest.over_tls() or not os.access(serve_path(), os.X_OK):
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
    if not os.access(serve_path(), os.X_OK):
        raise Skip("built without HTTP/3 (./configure --without-quic)")
    if _built is None:
        build()
    status, out = _built
    if status == 77:
        raise Skip(out.splitlines()[-1] if out else "slquic not built")
    eq(status, 0, "build.sh's status: %s" % out[-3000:])


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
    port, then its lines. It exits once count connections have ended, or
    after 20 s."""

    def __init__(self, count=1, retry=False):
        c, k = cert()
        self.p = subprocess.Popen([serve_path(), c, k, str(count)]
                                  + (["retry"] if retry else []),
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        eq(line[:1], ["port"], "quic_serve's first line")
        self.port = int(line[1])

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def lines(self):
        try:
            out, _ = self.p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.communicate()
            raise AssertionError("quic_serve ran over 30 s")
        return out.split("\n")[:-1]

    def stats(self, accepted=1, retries=0):
        """Its lines, the last checked: every connection accepted ended
        (closed by the client, which the harness reads). A stateless
        reset is never sent: quic-go sends its CONNECTION_CLOSE again
        for each packet of the server's that was already on its way, and
        the endpoint keeps an ended connection's IDs for three probe
        timeouts (RFC 9000 10.2), so that those are dropped, not taken
        for a stranger's (it once answered them with resets)."""
        lines = self.lines()
        m = re.match(r"^stats accepted=(\d+) retries=(\d+) closed=(\d+) "
                     r"resets=(\d+)$", lines[-1] if lines else "")
        check(m is not None and
              (int(m.group(1)), int(m.group(2)), int(m.group(3))) ==
              (accepted, retries, accepted) and int(m.group(4)) == 0,
              "quic_serve's last line: accepted=%d retries=%d closed=%d "
              "resets=0 (all: %s)" % (accepted, retries, accepted, lines))
        return lines


def slquic(*args, ok=True, timeout="15s", via=None):
    """slquic's run: (status, stdout lines, stderr). ok: it must succeed,
    its last line "ok" for interop. via: where to dial and what to trust
    (daemon's), else -insecure."""
    r = subprocess.run([os.path.join(slquic_dir(), "slquic"), args[0]]
                       + (via or ["-insecure"]) + ["-timeout", timeout]
                       + list(args[1:]),
                       capture_output=True, text=True, timeout=60)
    lines = r.stdout.split("\n")[:-1]
    if ok:
        eq(r.returncode, 0, "slquic %s's status: %s %s"
           % (" ".join(args), r.stdout[-2000:], r.stderr[-1000:]))
        if args[0] == "interop":
            eq(lines[-1:], ["ok"], "its last line")
    return r.returncode, lines, r.stderr


def body(method, path):
    return "%s %s over HTTP/3\n" % (method, path)


def answers(lines, case, s, paths, conn=1):
    """The lines of the answers to GETs of paths, each 200 with its body
    echoed, in any order (parallel requests end as they end)."""
    got = sorted(x for x in lines if x.startswith("case=%s ok " % case))
    want = []
    for p in paths:
        b = body("GET", p)
        want.append("case=%s ok status=200 bytes=%d conn=%d url=%s body=%s"
                    % (case, len(b), conn, s.url(p), quote(b)))
    if case in ("transfer", "http3"):
        want = [w + " sha256=" + hashlib.sha256(body("GET", p).encode())
                .hexdigest() for w, p in zip(want, paths)]
    eq(got, sorted(want), "%s: the answers" % case)


def quote(s):
    # Go's strconv.Quote of the harness's bodies: printable ASCII and \n
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') \
        .replace("\n", "\\n") + '"'


CONN_RE = re.compile(r"^case=(\w+) conn=(\d+) version=(0x[0-9a-f]{8}) "
                     r"suite=(\S+) alpn=(\S*) resumed=([01]) retry=(\d+) "
                     r"vn=(\d+) keyupdates=(\d+) peer_keyupdates=(\d+)$")


def conns(lines):
    """The connection lines: a dict each, by connection number."""
    out = {}
    for x in lines:
        m = CONN_RE.match(x)
        if m:
            out[int(m.group(2))] = dict(
                case=m.group(1), version=m.group(3), suite=m.group(4),
                alpn=m.group(5), resumed=int(m.group(6)),
                retry=int(m.group(7)), vn=int(m.group(8)),
                keyupdates=int(m.group(9)), peer_keyupdates=int(m.group(10)))
    return out


def plain(c, suite="TLS_AES_128_GCM_SHA256"):
    """A connection line of version 1, h3, suite, nothing else shown."""
    eq((c["version"], c["alpn"], c["suite"], c["resumed"], c["retry"],
        c["vn"]), ("0x00000001", "h3", suite, 0, 0, 0), "the connection")


@test
def handshake_and_transfer_with_quic_go():
    """handshake: two GETs one after the other on one connection;
    transfer and http3: several at once on one connection, each body
    whole (its size and digest printed)."""
    require()
    s = Server()
    _, lines, _ = slquic("interop", "-case", "handshake", s.url("/a"),
                         s.url("/pay/v1/b"))
    answers(lines, "handshake", s, ["/a", "/pay/v1/b"])
    c = conns(lines)
    eq(sorted(c), [1], "one connection")
    plain(c[1])
    lines = s.stats()
    eq(lines[0], "established TLS_AES_128_GCM_SHA256 h3", "its handshake")
    eq(sorted(x for x in lines if x.startswith("request ")),
       ["request GET /a", "request GET /pay/v1/b"], "the requests")
    for case, n in (("transfer", 4), ("http3", 10)):
        s = Server()
        paths = ["/%s/%d" % (case, i) for i in range(n)]
        _, lines, _ = slquic("interop", "-case", case,
                             *[s.url(p) for p in paths])
        answers(lines, case, s, paths)
        c = conns(lines)
        eq(sorted(c), [1], "%s: one connection" % case)
        plain(c[1])
        lines = s.stats()
        eq(sum(x.startswith("request GET /%s/" % case) for x in lines), n,
           "%s: the requests" % case)


@test
def a_retry_seen_by_quic_go():
    """quic_serve's retry mode answers each first Initial with a Retry:
    quic-go's tracer sees it, and the connection opens with its token.
    Without it, the retry case says that none came."""
    require()
    s = Server(retry=True)
    _, lines, _ = slquic("interop", "-case", "retry", s.url("/r"))
    answers(lines, "retry", s, ["/r"])
    c = conns(lines)[1]
    eq((c["retry"], c["version"], c["vn"]), (1, "0x00000001", 0),
       "a Retry seen")
    s.stats(retries=1)
    s = Server()
    st, lines, err = slquic("interop", "-case", "retry", s.url("/r"),
                            ok=False)
    eq(st, 1, "no Retry: its status")
    check("no Retry was received" in err, "its reason: %s" % err)
    eq(conns(lines)[1]["retry"], 0, "no Retry: its line")
    s.stats()


@test
def chacha20_only_from_quic_go():
    """Only TLS_CHACHA20_POLY1305_SHA256 offered (qtls, unlike Go's
    crypto/tls, takes tls.Config.CipherSuites for TLS 1.3): sluice's
    ChaCha20 packet protection and header mask."""
    require()
    s = Server()
    _, lines, _ = slquic("interop", "-case", "chacha20", s.url("/c"))
    answers(lines, "chacha20", s, ["/c"])
    plain(conns(lines)[1], "TLS_CHACHA20_POLY1305_SHA256")
    eq(s.stats()[0], "established TLS_CHACHA20_POLY1305_SHA256 h3",
       "the server's suite")


@test
def a_key_update_from_quic_go():
    """quic-go starts a key update once it has sent or received
    -ku-interval packets with a key (10 here, after the handshake is
    confirmed); slquic requests until one sent after that update is
    answered, so the server read the new key phase and answered in it.
    Then updates as fast as quic-go may (interval 1: one each round
    trip): every request is still answered. libngtcp2 0.12 derives its
    next receive keys only a PTO after the previous update was confirmed
    (RFC 9001 6.5 allows it), so each new phase's first packets wait for
    their retransmission, and the client's CONNECTION_CLOSE, sent once,
    may be lost in one: the server then ends that connection on the idle
    timeout (3 s here), not on the close."""
    require()
    s = Server()
    _, lines, _ = slquic("interop", "-case", "keyupdate", s.url("/k"))
    c = conns(lines)[1]
    check(c["keyupdates"] >= 1, "a key update: %s" % lines)
    eq(c["peer_keyupdates"], 0, "none of the server's")
    n = sum(x.startswith("case=keyupdate ok status=200 ") for x in lines)
    check(n >= 2, "requests before and after it: %s" % lines)
    eq(sum(x.startswith("request GET /k") for x in s.stats()), n,
       "the requests the server answered")
    s = Server()
    _, lines, _ = slquic("interop", "-case", "keyupdate", "-ku-interval",
                         "1", "-n", "6", s.url("/k"), timeout="3s")
    c = conns(lines)[1]
    check(c["keyupdates"] >= 3, "updates each round trip: %s" % c)
    n = sum(x.startswith("case=keyupdate ok status=200 ") for x in lines)
    check(n >= 6, "every request answered: %s" % lines)
    lines = s.lines()
    check(re.match(r"^stats accepted=1 retries=0 closed=[01] resets=[01]$",
                   lines[-1]) is not None, "one connection: %s" % lines)


@test
def multiconnect_with_quic_go():
    """Three connections one after the other, each a handshake, a GET
    and a close."""
    require()
    s = Server(3)
    _, lines, _ = slquic("interop", "-case", "multiconnect", "-n", "3",
                         s.url("/m"))
    got = [x for x in lines if x.startswith("case=multiconnect ok ")]
    eq([int(re.search(r" conn=(\d+) ", x).group(1)) for x in got],
       [1, 2, 3], "a GET on each connection")
    c = conns(lines)
    eq(sorted(c), [1, 2, 3], "three connections")
    for i in c:
        plain(c[i])
    lines = s.stats(accepted=3)
    eq(lines.count("established TLS_AES_128_GCM_SHA256 h3"), 3,
       "three handshakes")


@test
def version_negotiation_with_quic_go():
    """quic-go offers first a version sluice does not speak: a reserved
    one (0x1a2a3a4a, as the interop runner does), then QUIC v2's draft
    codepoint, which quic-go 0.29 speaks and sluice does not. Each time
    sluice answers with Version Negotiation, quic-go's tracer sees it, and
    the connection is made again with version 1; the server opens one."""
    require()
    for offer in ("0x1a2a3a4a", "0x709a50c4"):
        s = Server()
        _, lines, _ = slquic("interop", "-case", "versionnegotiation",
                             "-offer", offer, s.url("/v"))
        answers(lines, "versionnegotiation", s, ["/v"])
        c = conns(lines)
        eq(sorted(c), [1], "%s: one connection" % offer)
        eq((c[1]["vn"], c[1]["version"], c[1]["retry"]),
           (1, "0x00000001", 0), "%s: Version Negotiation seen" % offer)
        s.stats()


@test
def resumption_with_quic_go():
    """A first connection, closed once its ticket arrived; the second
    resumes its session (without early data: slquic sends none, sluice
    takes none)."""
    require()
    s = Server(2)
    _, lines, _ = slquic("interop", "-case", "resumption", s.url("/first"),
                         s.url("/second"))
    got = sorted(x for x in lines if x.startswith("case=resumption ok "))
    eq(len(got), 2, "two GETs: %s" % lines)
    check(" conn=1 " in got[0] and got[0].endswith(
        quote(body("GET", "/first"))), "the first: %s" % got[0])
    check(" conn=2 " in got[1] and got[1].endswith(
        quote(body("GET", "/second"))), "the second: %s" % got[1])
    c = conns(lines)
    eq((c[1]["resumed"], c[2]["resumed"]), (0, 1), "resumed=1 the second")
    lines = s.stats(accepted=2)
    eq([x for x in lines if x.startswith("established")],
       ["established TLS_AES_128_GCM_SHA256 h3",
        "established TLS_AES_128_GCM_SHA256 h3 resumed"],
       "the server's handshakes")


SUMMARY_RE = re.compile(r"^requests=(\d+) ok=(\d+) failed=(\d+) "
                        r"elapsed_ms=\d+ rps=[\d.]+ p50_us=\d+ p99_us=\d+$")


@test
def load_driver_upload_and_download_with_quic_go():
    """slquic get: 60 GETs one after the other on one connection (what a
    callgrind count runs), 80 at 16 at once, 40 POSTs of 1,000 bytes over
    2 connections; then upload (10,000 bytes, the harness's requests fit
    in 16 KiB) and download. (The harness allows 100 requests a
    connection: libngtcp2 0.12 leaves MAX_STREAMS to the application.)"""
    require()
    for n, conns_, args, method in ((60, 1, [], "GET"),
                                    (80, 1, ["-m", "16"], "GET"),
                                    (40, 2, ["-c", "2", "-m", "4", "-method",
                                             "POST", "-body-size", "1000"],
                                     "POST")):
        s = Server(conns_)
        _, lines, _ = slquic("get", "-n", str(n), *args, s.url("/g"))
        eq(len(lines), 1, "one line: %s" % lines)
        m = SUMMARY_RE.match(lines[0])
        check(m is not None, "its summary: %s" % lines)
        eq(m.groups(), (str(n), str(n), "0"), "%d %ss" % (n, method))
        lines = s.stats(accepted=conns_)
        eq(lines.count("request %s /g" % method), n, "the server's count")
    s = Server()
    _, lines, _ = slquic("upload", "-size", "10000", s.url("/u"))
    block = bytes(((j * 2654435761) & 0xffffffff) >> 24
                  for j in range(65536))
    b = body("POST", "/u")
    m = re.match(r"^uploaded=10000 sha256=([0-9a-f]{64}) status=200 "
                 r"response_bytes=(\d+) elapsed_ms=\d+ mbps=[\d.]+ "
                 r"body=(.*)$", lines[0] if lines else "")
    check(m is not None, "upload's line: %s" % lines)
    eq(m.groups(), (hashlib.sha256(block[:10000]).hexdigest(), str(len(b)),
                    quote(b)), "what upload sent and read")
    s.stats()
    s = Server()
    _, lines, _ = slquic("download", s.url("/d"))
    b = body("GET", "/d")
    m = re.match(r"^bytes=(\d+) sha256=([0-9a-f]{64}) status=200 "
                 r"elapsed_ms=\d+ mbps=[\d.]+ body=(.*)$",
                 lines[0] if lines else "")
    check(m is not None, "download's line: %s" % lines)
    eq(m.groups(), (str(len(b)), hashlib.sha256(b.encode()).hexdigest(),
                    quote(b)), "what download read")
    s.stats()


# ---- against the daemon ---------------------------------------------------

BIG = 8 << 20  # a download's and an upload's bytes


def pattern(size):
    """slquic upload's body: the 64 KiB block of Knuth's hash repeated."""
    block = bytes(((j * 2654435761) & 0xffffffff) >> 24
                  for j in range(65536))
    return (block * (size // len(block) + 1))[:size]


def named_cert():
    """A certificate for pay.test (its subjectAltName), its own trust
    anchor: (cert, key)."""
    d = tmpdir()
    c, k = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    "/CN=pay.test", "-addext", "subjectAltName=DNS:pay.test",
                    "-days", "1", "-keyout", k, "-out", c],
                   check=True, capture_output=True)
    return c, k


def daemon(retry="never", tls=None):
    """sluice with a TLS listener and http3 on it, before a real upstream
    that answers /big with BIG bytes and anything else with its JSON
    (the method, the path, the body's digest): (sluice, upstream,
    url(path), via). As a browser reaches it: by name, https://pay.test:
    PORT/path, SNI and :authority pay.test, the certificate verified for
    it; via is slquic's flags for that (-addr 127.0.0.1:PORT, -cacert)."""
    big = pattern(BIG)

    def handler(req):
        if req.target == "/big":
            return Reply(200, big)
        return up.default_handler(req)
    up = Upstream("a", handler=handler, backlog=1024)
    c, k = named_cert()
    cfg, port = make_config(
        {"app": [up]}, workers=2,
        listener_opts={"tls": dict({"certificates": [{"cert": c, "key": k}]},
                                   **(tls or {})),
                       "http3": {"retry": retry}})
    s = start_sluice(cfg)
    return (s, up, lambda p: "https://pay.test:%d%s" % (port, p),
            ["-addr", "127.0.0.1:%d" % port, "-cacert", c])


def upstream_saw(up, paths):
    check(up.wait_requests(len(paths), timeout=10),
          "%d requests upstream" % len(paths))
    eq(sorted(r.target for r in up.requests), sorted(paths),
       "the requests upstream, each once")
    eq({r.headers.get("host").split(":")[0] for r in up.requests},
       {"pay.test"}, "by name")


@test
def interop_cases_against_the_daemon():
    """Each quic-interop-runner case that applies to a server without
    0-RTT, against the real binary: a TLS listener's http3, its requests
    through a route to a real HTTP/1.1 upstream (whose answers slquic
    reads whole), each request reaching it once; the Retry with retry:
    always."""
    require()
    s, up, url, via = daemon()
    for case, paths, extra in (
            ("handshake", ["/h1", "/h2"], []),
            ("transfer", ["/t%d" % i for i in range(8)], []),
            ("http3", ["/p%d" % i for i in range(8)], []),
            ("keyupdate", ["/k%d" % i for i in range(6)], []),
            ("chacha20", ["/c"], []),
            ("multiconnect", ["/m"], ["-n", "3"]),
            ("versionnegotiation", ["/v"], []),
            ("resumption", ["/r"], [])):
        up.requests.clear()
        _, lines, _ = slquic("interop", "-case", case, *extra,
                             *[url(p) for p in paths], via=via)
        oks = [x for x in lines if x.startswith("case=%s ok status=200 "
                                                % case)]
        c = conns(lines)
        want = {"multiconnect": 3, "resumption": 2}.get(case, 1)
        eq(sorted(c), list(range(1, want + 1)), "%s: connections" % case)
        eq(len(oks), want * len(paths) if case in ("multiconnect",
                                                   "resumption")
           else len(paths), "%s: answers: %s" % (case, lines))
        if case == "chacha20":
            eq(c[1]["suite"], "TLS_CHACHA20_POLY1305_SHA256", case)
        elif case == "keyupdate":
            check(c[1]["keyupdates"] >= 1, "a key update: %s" % c)
        elif case == "versionnegotiation":
            eq((c[1]["vn"], c[1]["version"]), (1, "0x00000001"), case)
        elif case == "resumption":
            eq((c[1]["resumed"], c[2]["resumed"]), (0, 1), case)
        else:
            # OpenSSL's order, the server's preference (the listener's
            # ciphersuites when it sets them: below)
            plain(c[1], suite="TLS_AES_256_GCM_SHA384")
        upstream_saw(up, paths * want if case in ("multiconnect",
                                                  "resumption") else paths)
    s.stop()
    s, up, url, via = daemon(retry="always")
    _, lines, _ = slquic("interop", "-case", "retry", url("/after-retry"),
                         via=via)
    eq(conns(lines)[1]["retry"], 1, "the Retry seen")
    upstream_saw(up, ["/after-retry"])
    s.stop()
    # the listener's TLS settings are QUIC's too
    s, up, url, via = daemon(
        tls={"ciphersuites": "TLS_AES_128_GCM_SHA256"})
    _, lines, _ = slquic("interop", "-case", "handshake", url("/suite"),
                         via=via)
    plain(conns(lines)[1])
    s.stop()


@test
def load_and_large_bodies_against_the_daemon():
    """slquic's load driver past QUIC's first 100 streams on one
    connection (250 GETs, 20 at once), POSTs over two connections, and
    an upload and a download of 8 MiB, each byte checked at the other
    end."""
    require()
    s, up, url, via = daemon()
    for n, args, method in ((250, ["-m", "20"], "GET"),
                            (40, ["-c", "2", "-m", "4", "-method", "POST",
                                  "-body-size", "100000"], "POST")):
        up.requests.clear()
        _, lines, _ = slquic("get", "-n", str(n), *args, url("/g"),
                             via=via)
        m = SUMMARY_RE.match(lines[0] if lines else "")
        check(m is not None, "its summary: %s" % lines)
        eq(m.groups(), (str(n), str(n), "0"), "%d %ss" % (n, method))
        upstream_saw(up, ["/g"] * n)
        eq({r.method for r in up.requests}, {method}, "their method")
    up.requests.clear()
    _, lines, _ = slquic("upload", "-size", str(BIG), url("/u"),
                         timeout="60s", via=via)
    check(lines and lines[0].startswith("uploaded=%d sha256=%s status=200 "
                                        % (BIG, hashlib.sha256(
                                            pattern(BIG)).hexdigest())),
          "upload's line: %s" % lines)
    upstream_saw(up, ["/u"])
    eq((up.requests[0].body_len, up.requests[0].body_sha),
       (BIG, hashlib.sha256(pattern(BIG)).hexdigest()), "the body upstream")
    _, lines, _ = slquic("download", url("/big"), timeout="60s", via=via)
    check(lines and lines[0].startswith("bytes=%d sha256=%s status=200 "
                                        % (BIG, hashlib.sha256(
                                            pattern(BIG)).hexdigest())),
          "download's line: %s" % lines)
    s.stop()


if __name__ == "__main__":
    build()
    main()
