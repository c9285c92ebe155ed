#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/3 through the real binary (doc/http3.md): a TLS listener with
http3 serves QUIC on the UDP port of its address, and ngtcp2's
gtlsclient (Debian's ngtcp2-client: libngtcp2 with GnuTLS and nghttp3,
sharing nothing with sluice) makes requests by name (https://pay.test:
PORT/, the certificate's name) that reach a real HTTP/1.1
upstream through the same routes as HTTP/1.1 and HTTP/2 do: the same
request over the three protocols reaches the upstream as the same
request; a 1.5 MB upload under 10% loss each way reaches it whole; 150
concurrent streams (past QUIC's first 100) under 10% loss each way are
all answered, each once;
the access log and the metrics name HTTP/3; Alt-Svc advertises it on the
TCP listener's answers; a client certificate in the QUIC handshake is the
listener's (its subject forwarded); an upgrade hands the UDP sockets over,
a reload keeps them; each defence (frames that carry no request, a head
that never ends, requests cancelled faster than they finish, handshakes
per address) is tried by tests/unit/quic_poke and counted, and a client
that behaves is served after it; a drain ends the process with its QUIC
clients told. -t refuses http3 without tls, with a PROXY header, or with
more than 256 workers.
Skipped in a build without HTTP/3, or without gtlsclient."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Reply, Skip, Upstream, check, eq, free_port,  # noqa
                    main, make_config, run_sluice, start_sluice, test,
                    tmpdir, to_yaml, wait_until)


def require():
    if sltest.over_tls():
        raise Skip("HTTP/3 is its own transport: run once")
    sltest.require_http3()
    if shutil.which("gtlsclient") is None:
        raise Skip("gtlsclient not found (apt-get install ngtcp2-client)")


# The requests name the server as a browser does: https://pay.test:PORT/.
# gtlsclient dials 127.0.0.1 and sends SNI "localhost" (for an address it
# sends no other name: its --sni is ignored), so the certificate holds
# both; the :authority pay.test is another of its names, which HTTP/3 once
# refused with 421 (issue 77; names against several certificates:
# test_http3_names.py).
NAME = "pay.test"


def cert():
    d = tmpdir()
    c, k = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    "/CN=" + NAME, "-addext",
                    "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1"
                    % NAME, "-days", "1", "-keyout", k, "-out", c],
                   check=True, capture_output=True)
    return c, k


def serve(up, http3=None, admin=False, workers=2):
    """sluice with one TLS listener and http3 on it: (sluice, port,
    access log path, admin port)."""
    c, k = cert()
    log = os.path.join(tmpdir(), "access.log")
    cfg, port = make_config(
        {"app": [up]}, workers=workers, access_log=log,
        listener_opts={"tls": {"certificates": [{"cert": c, "key": k}]},
                       "protocols": ["h2", "http/1.1"],
                       "http3": http3 or {"retry": "never"}})
    aport = None
    if admin:
        aport = free_port()
        cfg["admin"] = {"address": "127.0.0.1:%d" % aport}
    s = start_sluice(cfg)
    return s, port, log, aport


def url_of(port, path):
    return "https://%s:%d%s" % (NAME, port, path)


def h3(port, path, *args, idle="5s"):
    """gtlsclient's requests of path on port, by name: its output."""
    r = subprocess.run(["gtlsclient", "--timeout=" + idle,
                        "--exit-on-all-streams-close"] + list(args)
                       + ["127.0.0.1", str(port), url_of(port, path)],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    eq(r.returncode, 0, "gtlsclient's status: %s" % out[-2000:])
    check("Negotiated ALPN is h3" in out, "h3: %s" % out[-1000:])
    return out


def log_lines(path, pred, n):
    """The access log's first n JSON lines for which pred holds, once
    they are there (the log is written in batches)."""
    got = []

    def ready():
        got[:] = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    try:
                        j = json.loads(line)
                    except ValueError:
                        continue
                    if pred(j):
                        got.append(j)
        return len(got) >= n
    check(wait_until(ready, timeout=10), "%d log lines (%d)" % (n, len(got)))
    return got


@test
def the_same_request_over_http1_http2_and_http3_reaches_the_upstream_alike():
    require()
    up = Upstream("a")
    s, port, log, _ = serve(up)
    url = url_of(port, "/same/path?q=1")
    for flag in ("--http1.1", "--http2"):
        r = subprocess.run(["curl", "-sk", flag, "-o", "/dev/null",
                            "--resolve", "%s:%d:127.0.0.1" % (NAME, port),
                            url], capture_output=True, timeout=30)
        eq(r.returncode, 0, "curl %s" % flag)
    out = h3(port, "/same/path?q=1")
    check("[:status: 200]" in out, "a 200 over HTTP/3: %s" % out[-1500:])
    check(up.wait_requests(3), "three requests upstream")
    seen = []
    for req in up.requests[:3]:
        seen.append((req.method, req.target, req.headers.get("host"),
                     req.body_len))
    eq(seen[2], seen[0], "HTTP/3's request as HTTP/1.1's")
    eq(seen[1], seen[0], "HTTP/2's request as HTTP/1.1's")
    eq(seen[0], ("GET", "/same/path?q=1", "%s:%d" % (NAME, port), 0),
       "the request upstream")
    protos = [j["protocol"] for j in
              log_lines(log, lambda j: j.get("path", "").startswith("/same/path"),
                        3)]
    eq(sorted(protos), ["HTTP/1.1", "HTTP/2.0", "HTTP/3"], "the protocols")
    s.stop()


@test
def a_large_upload_under_loss_reaches_the_upstream_whole():
    require()
    up = Upstream("a")
    s, port, log, _ = serve(up)
    body = os.urandom(1500000)
    f = os.path.join(tmpdir(), "body.bin")
    with open(f, "wb") as o:
        o.write(body)
    out = h3(port, "/upload", "-m", "POST", "-d", f, "-r", "0.1", "-t",
             "0.1", idle="15s")
    check("[:status: 200]" in out, "a 200: %s" % out[-1500:])
    check(up.wait_requests(1), "the upload upstream")
    eq(len(up.requests), 1, "one request upstream, never a second")
    req = up.requests[0]
    eq(req.method, "POST", "its method")
    eq(req.body_len, len(body), "its body's length")
    eq(req.body_sha, hashlib.sha256(body).hexdigest(), "its body")
    j = log_lines(log, lambda j: j.get("path") == "/upload", 1)[0]
    eq((j["protocol"], j["status"], j["error"]), ("HTTP/3", 200, ""),
       "its log line")
    s.stop()


@test
def streams_past_the_first_hundred_under_loss_are_each_answered_once():
    """150 requests at once on one connection: QUIC lets a client open
    100 streams at first (initial_max_streams_bidi), and sluice opens it
    one more as each ends (MAX_STREAMS), so the last 50 follow."""
    require()
    up = Upstream("a", backlog=1024)
    s, port, log, aport = serve(up, admin=True)
    out = h3(port, "/many", "-n", "150", "-r", "0.1", "-t", "0.1",
             idle="15s")
    eq(out.count("[:status: 200]"), 150, "150 answers")
    check(up.wait_requests(150), "150 requests upstream")
    eq(len(up.requests), 150, "each once")
    log_lines(log, lambda j: j.get("path") == "/many" and
              j["protocol"] == "HTTP/3" and j["status"] == 200, 150)
    m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport,
                               timeout=5).read().decode()
    check('sluice_protocol_requests_total{protocol="h3"} 150' in m,
          "the metrics count them: %s" %
          [x for x in m.split("\n") if "protocol_requests" in x])
    s.stop()


@test
def a_retry_validates_the_client_first_when_asked():
    require()
    up = Upstream("a")
    s, port, log, _ = serve(up, http3={"retry": "always"})
    out = h3(port, "/after-retry")
    check("[:status: 200]" in out, "a 200 after a Retry: %s" % out[-1500:])
    check("type=Retry" in out, "the client saw a Retry: %s" % out[-800:])
    s.stop()


@test
def a_drain_tells_the_quic_clients_and_ends():
    require()
    up = Upstream("a")
    s, port, log, _ = serve(up)
    p = subprocess.Popen(["gtlsclient", "--timeout=30s", "127.0.0.1",
                          str(port), url_of(port, "/x")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    check(up.wait_requests(1, timeout=10), "the request upstream")
    s.send_signal(signal.SIGTERM)
    eq(s.wait(15), 0, "sluice's status after the drain")
    out, _ = p.communicate(timeout=30)
    check("[:status: 200]" in out, "the request was answered")
    check("GOAWAY" in out or "CONNECTION_CLOSE" in out,
          "the client was told: %s" % out[-1500:])


def alt_svc_of(port, flag="--http1.1", path="/x"):
    r = subprocess.run(["curl", "-sk", flag, "-D", "-", "-o", "/dev/null",
                        "--resolve", "%s:%d:127.0.0.1" % (NAME, port),
                        url_of(port, path)],
                       capture_output=True, text=True, timeout=30)
    eq(r.returncode, 0, "curl")
    return [x.split(":", 1)[1].strip() for x in r.stdout.splitlines()
            if x.lower().startswith("alt-svc:")]


@test
def the_tls_listener_advertises_http3_with_alt_svc():
    """Alt-Svc: h3=":PORT"; ma=86400 on every response of the listener,
    over HTTP/1.1 and HTTP/2, an answer of sluice's own (no route) too;
    alt_svc_max_age sets ma, 0 sends none; a response_headers rule of
    the operator's that names Alt-Svc wins."""
    require()
    up = Upstream("a")
    s, port, _, _ = serve(up)
    want = ['h3=":%d"; ma=86400' % port]
    eq(alt_svc_of(port), want, "over HTTP/1.1")
    eq(alt_svc_of(port, "--http2"), want, "over HTTP/2")
    s.stop()
    c, k = cert()
    for h3cfg, rules, want in (
            ({"alt_svc_max_age": "1h"}, None, ['h3=":%d"; ma=3600']),
            ({"alt_svc_max_age": "0s"}, None, []),
            ({}, {"set": {"Alt-Svc": 'h3=":443"; ma=60'}},
             ['h3=":443"; ma=60'])):
        opts = {"tls": {"certificates": [{"cert": c, "key": k}]},
                "http3": h3cfg}
        if rules:
            opts["response_headers"] = rules
        cfg, port = make_config({"app": [up]}, listener_opts=opts,
                                routes=[{"match": {"path_prefix": "/in"},
                                         "cluster": "app"}])
        s = start_sluice(cfg)
        want = [w % port if "%d" in w else w for w in want]
        eq(alt_svc_of(port, path="/in"), want, "%s %s" % (h3cfg, rules))
        eq(alt_svc_of(port, path="/nowhere"), want,
           "a 404 of sluice's own: %s" % h3cfg)
        s.stop()


@test
def a_client_certificate_over_quic_is_the_listeners():
    """client_ca with client_verify: optional and client_subject_header:
    a client certificate presented in the QUIC handshake verifies, and
    its subject reaches the upstream in the header, as over TCP; without
    one the header is absent; the handshakes are counted with the
    listener's TLS ones."""
    require()
    d = tmpdir()

    def run(*a):
        subprocess.run(["openssl"] + list(a), check=True,
                       capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=test-ca",
        "-days", "1", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-subj", "/CN=partner-a", "-keyout", "cl.key", "-out",
        "cl.csr")
    run("x509", "-req", "-in", "cl.csr", "-CA", "ca.pem", "-CAkey",
        "ca.key", "-CAcreateserial", "-days", "1", "-out", "cl.pem")
    up = Upstream("a")
    c, k = cert()
    aport = free_port()
    cfg, port = make_config(
        {"app": [up]}, workers=1,
        listener_opts={"tls": {"certificates": [{"cert": c, "key": k}],
                               "client_ca": os.path.join(d, "ca.pem"),
                               "client_verify": "optional",
                               "client_subject_header": "X-Client-Subject"},
                       "http3": {"retry": "never"}},
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    s = start_sluice(cfg)
    check("[:status: 200]" in h3(port, "/with",
                                 "--cert=" + os.path.join(d, "cl.pem"),
                                 "--key=" + os.path.join(d, "cl.key")),
          "with a certificate")
    check("[:status: 200]" in h3(port, "/without"), "without one")
    check(up.wait_requests(2), "both upstream")
    got = {r.target: r.headers.get("x-client-subject") for r in up.requests}
    check(got["/with"] is not None and "partner-a" in got["/with"],
          "the subject forwarded: %s" % got)
    eq(got["/without"], None, "none without a certificate")
    m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport,
                               timeout=5).read().decode()
    check(any(x.startswith("sluice_tls_handshakes_total{") and
              x.endswith(" 2") for x in m.split("\n")),
          "two TLS handshakes counted: %s" %
          [x for x in m.split("\n") if "tls_handshakes" in x])
    s.stop()


# ---- an upgrade and a reload ---------------------------------------------


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@test
def an_upgrade_hands_the_quic_sockets_over():
    """SIGUSR2 with two workers: the new process takes the old one's UDP
    sockets (their SO_REUSEPORT group, and with it the routing by
    connection ID) and its token key; a QUIC connection of the old one
    is closed at once (H3_NO_ERROR), not left to its idle timeout; new
    connections, whichever worker they land on, are served by the new
    process."""
    require()
    up = Upstream("a")
    c, k = cert()
    cfg, port = make_config(
        {"app": [up]}, workers=2,
        listener_opts={"tls": {"certificates": [{"cert": c, "key": k}]},
                       "http3": {"retry": "never"}})
    d = tmpdir()
    conf, pidf, errf = (os.path.join(d, x) for x in
                        ("s.yaml", "s.pid", "err.log"))
    with open(conf, "w") as f:
        f.write(to_yaml(cfg))
    err = open(errf, "ab")
    first = subprocess.Popen([sltest.sluice_path(), "-c", conf, "-p", pidf],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)

    def pid():
        try:
            with open(pidf) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def log():
        with open(errf, errors="replace") as f:
            return f.read()
    new = None
    try:
        check(wait_until(lambda: pid() is not None and
                         "started" in log(), 10), "started: %s" % log())
        old = pid()
        check("[:status: 200]" in h3(port, "/before"), "before")
        held = subprocess.Popen(
            ["gtlsclient", "--timeout=30s", "127.0.0.1", str(port),
             url_of(port, "/held")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(up.wait_requests(2, timeout=10), "the held connection's")
        os.kill(old, signal.SIGUSR2)
        check(wait_until(lambda: pid() not in (None, old) and
                         not alive(old), 30),
              "the upgrade: %s" % log()[-2000:])
        new = pid()
        check("(2 sockets, handed over)" in log(), "handed over: %s"
              % log()[-2000:])
        out, _ = held.communicate(timeout=20)
        check("CONNECTION_CLOSE" in out and "(0x100)" in out,
              "the old connection closed with H3_NO_ERROR: %s"
              % out[-1500:])
        for i in range(8):
            out = h3(port, "/after%d" % i)
            check("[:status: 200]" in out, "after %d: %s" % (i, out[-800:]))
        check(up.wait_requests(10), "every request upstream")
    finally:
        for p in (new, pid()):
            if p is not None and alive(p):
                os.kill(p, signal.SIGTERM)
                wait_until(lambda: not alive(p), 15)
        try:
            first.wait(5)
        except subprocess.TimeoutExpired:
            first.kill()
        err.close()
    for pat in ("ERROR: AddressSanitizer", "runtime error:",
                "ERROR: LeakSanitizer"):
        check(pat not in log(), "sanitizer report: %s" % log()[-3000:])


@test
def a_reload_keeps_quic_and_says_when_http3_waits_for_a_start():
    """A reload that keeps the listener keeps its QUIC sockets, and new
    requests run under the new generation (a new route answers); a
    reload that gives another listener http3 says it serves from the
    next start or upgrade."""
    require()
    up, up2 = Upstream("a"), Upstream("b")
    c, k = cert()
    tls = {"certificates": [{"cert": c, "key": k}]}
    cfg, port = make_config(
        {"app": [up], "two": [up2]}, workers=1,
        listener_opts={"tls": tls, "http3": {"retry": "never"}})
    s = start_sluice(cfg)
    check("[:status: 200]" in h3(port, "/one"), "before")
    cfg["listeners"][0]["routes"] = [
        {"name": "two", "match": {"path_prefix": "/two"}, "cluster": "two"},
        {"name": "main", "cluster": "app"}]
    p2 = free_port()
    cfg["listeners"].append({"name": "later", "address": "127.0.0.1:%d" % p2,
                             "tls": tls, "http3": True,
                             "routes": [{"cluster": "app"}]})
    with open(s.conf_path + ".tmp", "w") as f:
        f.write(to_yaml(cfg))
    os.rename(s.conf_path + ".tmp", s.conf_path)
    s.send_signal(signal.SIGHUP)
    check(wait_until(lambda: "generation 2 from" in s.stderr(), 10),
          "the reload: %s" % s.stderr()[-2000:])
    check("listener \"later\": http3 serves from the next start"
          in s.stderr(), "the warning: %s" % s.stderr()[-2000:])
    check("[:status: 200]" in h3(port, "/two/x"), "after")
    check(up2.wait_requests(1), "the new route's upstream")

    def reload_to(gen):
        with open(s.conf_path + ".tmp", "w") as f:
            f.write(to_yaml(cfg))
        os.rename(s.conf_path + ".tmp", s.conf_path)
        s.send_signal(signal.SIGHUP)
        check(wait_until(lambda: "generation %d from" % gen in s.stderr(),
                         10), "reload %d: %s" % (gen, s.stderr()[-2000:]))
    # http3 off, then on again: its sockets were kept, and it serves
    del cfg["listeners"][0]["http3"]
    reload_to(3)
    cfg["listeners"][0]["http3"] = {"retry": "never"}
    reload_to(4)
    check("[:status: 200]" in h3(port, "/two/again"), "http3 back")
    s.stop()


# ---- defences: quic_poke, a misbehaving client on sluice's own QUIC -------

def poke(port, *args):
    """tests/unit/quic_poke's lines."""
    r = subprocess.run([os.path.join(sltest.TOP_BUILDDIR, "tests", "unit",
                                     "quic_poke"), str(port)] + list(args),
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "quic_poke %s: %s %s" % (args, r.stdout, r.stderr))
    return r.stdout.split("\n")[:-1]


def refused(aport):
    """sluice_http3_refused_total by reason, and the QUIC events."""
    m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport,
                               timeout=5).read().decode()
    out = {}
    for x in m.split("\n"):
        for fam, key in (("sluice_http3_refused_total{reason=", "r:"),
                         ("sluice_quic_events_total{event=", "e:")):
            if x.startswith(fam):
                out[key + x.split('"')[1]] = int(x.split()[-1])
        if x.startswith("sluice_quic_connections "):
            out["conns"] = int(x.split()[-1])
    return out


def guarded(up, limits=None, http3=None):
    c, k = cert()
    aport = free_port()
    cfg, port = make_config(
        {"app": [up]}, workers=1, limits=limits,
        listener_opts={"tls": {"certificates": [{"cert": c, "key": k}]},
                       "http3": dict({"retry": "never"}, **(http3 or {}))},
        extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    return start_sluice(cfg), port, aport


@test
def frames_that_carry_no_request_past_their_budget_close_the_connection():
    """1,000 reserved frames on the control stream: past the budget (400,
    then 200 a second, as HTTP/2's), H3_EXCESSIVE_LOAD (0x107), counted;
    a client that sends requests is not touched."""
    require()
    up = Upstream("a")
    s, port, aport = guarded(up)
    eq(poke(port, "idle", "1000"), ["established", "closed 0x107"],
       "the connection closed")
    eq(refused(aport)["r:idle_frames"], 1, "counted")
    out = h3(port, "/after", "-n", "20")
    eq(out.count("[:status: 200]"), 20, "a client with requests")
    s.stop()


@test
def a_head_that_never_ends_is_rejected_after_header_timeout():
    """Half a HEADERS frame and nothing more: after header_timeout the
    stream is reset with H3_REQUEST_REJECTED (0x10b: never begun, the
    client may send it again), nothing reaches the upstream."""
    require()
    up = Upstream("a")
    s, port, aport = guarded(up, limits={"header_timeout": "1s"})
    eq(poke(port, "slowhead"), ["established", "reset 0 0x10b", "done"],
       "the stream reset")
    eq(refused(aport)["r:header_timeout"], 1, "counted")
    eq(len(up.requests), 0, "nothing upstream")
    s.stop()


@test
def requests_cancelled_faster_than_they_finish_close_the_connection():
    """Requests cancelled (RESET_STREAM) while their upstream is still
    answering: past twice max_concurrent_streams more than those
    finished, the connection closes with H3_EXCESSIVE_LOAD, counted."""
    require()
    up = Upstream("a", handler=lambda req: Reply(200, b"late", delay=3))
    s, port, aport = guarded(up, limits={"max_concurrent_streams": 5})
    lines = poke(port, "cancel", "40")
    eq(lines[-1], "closed 0x107", "the connection closed: %s" % lines)
    eq(refused(aport)["r:rapid_reset"], 1, "counted")
    s.stop()


@test
def handshakes_from_one_address_past_the_limit_are_dropped():
    """10 handshakes begun from one address, never finished, with
    max_handshakes_per_ip 5: five are held, the rest's Initials open
    nothing (counted); the five end after the handshake timeout (10 s),
    and a client from that address is served again."""
    require()
    up = Upstream("a")
    s, port, aport = guarded(up, http3={"max_handshakes_per_ip": 5})
    eq(poke(port, "handshakes", "10"), ["sent 10"], "sent")
    check(wait_until(lambda: refused(aport).get("e:accepted") == 5,
                     timeout=5), "five accepted: %s" % refused(aport))
    eq(refused(aport)["r:handshakes_per_ip"], 5, "five refused")
    check(wait_until(lambda: refused(aport)["conns"] == 0, timeout=15),
          "the five ended: %s" % refused(aport))
    out = h3(port, "/again")
    check("[:status: 200]" in out, "served again")
    s.stop()


@test
def check_refuses_http3_without_tls_with_a_proxy_header_or_300_workers():
    d = tmpdir()
    for extra, want in (({}, '"http3" needs "tls"'),
                        ({"proxy_protocol": {"from": ["127.0.0.1"]},
                          "tls": {"certificates": [
                              {"cert": "/nonexistent", "key": "/x"}]}},
                         'cannot be used with "proxy_protocol"')):
        lst = {"name": "web", "address": "127.0.0.1:%d" % free_port(),
               "http3": True, "routes": [{"cluster": "app"}]}
        lst.update(extra)
        cfg = {"listeners": [lst],
               "clusters": [{"name": "app", "endpoints": ["127.0.0.1:1"]}]}
        path = os.path.join(d, "c.yaml")
        with open(path, "w") as f:
            f.write(to_yaml(cfg))
        rc, out, err = run_sluice(["-t", "-c", path])
        out += err
        check(rc != 0 and (want in out or
                                     "built without HTTP/3" in out),
              "-t says %r: %s" % (want, out))
    # a connection ID's first byte names its worker's socket
    c, k = cert()
    cfg = {"workers": 300, "listeners": [{
        "name": "web", "address": "127.0.0.1:%d" % free_port(),
        "tls": {"certificates": [{"cert": c, "key": k}]}, "http3": True,
        "routes": [{"cluster": "app"}]}],
        "clusters": [{"name": "app", "endpoints": ["127.0.0.1:1"]}]}
    path = os.path.join(d, "w.yaml")
    with open(path, "w") as f:
        f.write(to_yaml(cfg))
    rc, out, err = run_sluice(["-t", "-c", path])
    check(rc != 0 and ("serves at most 256 workers" in out + err or
                       "built without HTTP/3" in out + err),
          "-t refuses 300 workers: %s" % (out + err))


if __name__ == "__main__":
    main()
