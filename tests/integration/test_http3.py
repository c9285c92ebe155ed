#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/3 through the real binary (doc/http3.md): a TLS listener with
http3 serves QUIC on the UDP port of its address, and ngtcp2's
gtlsclient (Debian's ngtcp2-client: libngtcp2 with GnuTLS and nghttp3,
sharing nothing with sluice) makes requests that reach a real HTTP/1.1
upstream through the same routes as HTTP/1.1 and HTTP/2 do: the same
request over the three protocols reaches the upstream as the same
request; a 1.5 MB upload under 10% loss each way reaches it whole; 150
concurrent streams (past QUIC's first 100) under 10% loss each way are
all answered, each once;
the access log and the metrics name HTTP/3; a drain ends the process
with its QUIC clients told. -t refuses http3 without tls, or with a
PROXY header. Skipped in a build without HTTP/3, or without gtlsclient."""

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
from sltest import (Skip, Upstream, check, eq, free_port, main,  # noqa: E402
                    make_config, run_sluice, start_sluice, test, tmpdir,
                    to_yaml, wait_until)


def require():
    if sltest.over_tls():
        raise Skip("HTTP/3 is its own transport: run once")
    _, out, err = run_sluice(["-V"])
    if "libngtcp2 (not built" in out + err:
        raise Skip("built without HTTP/3 (./configure --without-quic)")
    if shutil.which("gtlsclient") is None:
        raise Skip("gtlsclient not found (apt-get install ngtcp2-client)")


def cert():
    d = tmpdir()
    c, k = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days",
                    "1", "-keyout", k, "-out", c],
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


def h3(port, path, *args, idle="5s"):
    """gtlsclient's requests of path on port: its output."""
    r = subprocess.run(["gtlsclient", "--timeout=" + idle,
                        "--exit-on-all-streams-close"] + list(args)
                       + ["127.0.0.1", str(port),
                          "https://127.0.0.1:%d%s" % (port, path)],
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
    url = "https://127.0.0.1:%d/same/path?q=1" % port
    for flag in ("--http1.1", "--http2"):
        r = subprocess.run(["curl", "-sk", flag, "-o", "/dev/null", url],
                           capture_output=True, timeout=30)
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
    eq(seen[0], ("GET", "/same/path?q=1", "127.0.0.1:%d" % port, 0),
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
                          str(port), "https://127.0.0.1:%d/x" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    check(up.wait_requests(1, timeout=10), "the request upstream")
    s.send_signal(signal.SIGTERM)
    eq(s.wait(15), 0, "sluice's status after the drain")
    out, _ = p.communicate(timeout=30)
    check("[:status: 200]" in out, "the request was answered")
    check("GOAWAY" in out or "CONNECTION_CLOSE" in out,
          "the client was told: %s" % out[-1500:])


@test
def check_refuses_http3_without_tls_or_with_a_proxy_header():
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


if __name__ == "__main__":
    main()
