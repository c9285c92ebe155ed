#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""contrib/bench/acme_renew.py -- a certificate renewed by ACME under load
(issue 81's target: a renewal of a certificate with a short lifetime
happens before expiry while 1,000 requests a second over TLS see no
error).

usage: contrib/bench/acme_renew.py [--validity S] [--conns N]
           [--close-conns N] [SLUICE_BINARY]

Debian's pebble (tests/integration/pebble.py starts it on loopback, its
DNS answering every name with 127.0.0.1) issues certificates of
--validity seconds (default 60); sluice (SLUICE_BINARY, default $SLUICE,
else build/src/sluice; workers: 2) orders one for renew.bench.test by
http-01 and renews it at about two thirds of that, in front of one nginx
worker answering "ok". Through the whole life of the first certificate
and past its renewal, by the name (wrk resolves it through a hosts file
bind-mounted in a mount namespace of its own: unshare -m, so root):
  - wrk over --conns kept-alive TLS connections (default 16), as fast as
    it goes;
  - wrk over --close-conns connections (default 4) with Connection:
    close, a TLS handshake a request, which see the new certificate from
    the renewal on;
  - a Python client making a verified handshake by name every 50 ms,
    which records the serials it is given.
Reports each load's requests a second and errors (connect, read, write,
timeout, non-2xx), when the renewal happened against the expiry, and
whether the target holds: the renewal before expiry, no error anywhere,
the kept-alive load at 1,000 requests a second or more. Exit 0 when it
holds, 1 when not, 2 when it could not run. Nothing is asserted as a
timing in the test suite: test_acme.py proves the renewal under traffic
without errors, this measures it at the issue's rate.

Needs: pebble, wrk, nginx, unshare (util-linux), python3; root."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import pebble  # noqa: E402
import sltest  # noqa: E402

NAME = "renew.bench.test"


def die(msg, code=2):
    sys.stderr.write("acme_renew.py: %s\n" % msg)
    sys.exit(code)


def args():
    a = {"validity": 60, "conns": 16, "close": 4, "sluice": None}
    v = sys.argv[1:]
    while v:
        k = v.pop(0)
        if k == "--validity":
            a["validity"] = int(v.pop(0))
        elif k == "--conns":
            a["conns"] = int(v.pop(0))
        elif k == "--close-conns":
            a["close"] = int(v.pop(0))
        elif k.startswith("-"):
            die("unknown option %s (see the file's head)" % k)
        else:
            a["sluice"] = k
    a["sluice"] = (a["sluice"] or os.environ.get("SLUICE") or
                   os.path.join(TOP, "build", "src", "sluice"))
    return a


def nginx(work, port):
    d = os.path.join(work, "nginx")
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    user = "user root;\n" if os.getuid() == 0 else ""
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("%sworker_processes 1;\ndaemon off;\npid %s/nginx.pid;\n"
                "error_log %s/logs/error.log warn;\n"
                "events { worker_connections 4096; }\n"
                "http {\n access_log off;\n keepalive_requests 1000000000;\n"
                "%s server {\n  listen 127.0.0.1:%d backlog=4096;\n"
                "  location / { return 200 \"ok\\n\"; }\n }\n}\n"
                % (user, d, d, "".join(" %s_temp_path %s/%s;\n" % (k, d, k)
                                         for k in ("client_body", "proxy",
                                                   "fastcgi", "uwsgi",
                                                   "scgi")), port))
    p = subprocess.Popen(["nginx", "-p", d + "/", "-c", conf],
                         stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sltest._all_procs.append(p)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    die("nginx did not start")


def wrk(hosts, url, conns, secs, close):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--timeout", "5s"]
    if close:
        cmd += ["-H", "Connection: close"]
    inner = "mount --bind %s /etc/hosts && exec %s" % (
        hosts, " ".join("'%s'" % c for c in cmd + [url]))
    return subprocess.Popen(["unshare", "-m", "sh", "-c", inner],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wrk_result(p):
    out = p.communicate()[0]
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    reqs = re.search(r"(\d+) requests in", out)
    errs = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        errs += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errs += int(m.group(1))
    return (float(rps.group(1)) if rps else 0.0,
            int(reqs.group(1)) if reqs else 0, errs, out)


def main():
    a = args()
    for t in ("wrk", "nginx", "unshare", "mount"):
        if shutil.which(t) is None:
            die("%s not found (apt-get install wrk nginx-light util-linux "
                "pebble)" % t)
    if not pebble.have_pebble():
        die("pebble not found (apt-get install pebble)")
    if os.getuid() != 0:
        die("needs root (unshare -m and a bind mount for wrk's names)")
    if not os.access(a["sluice"], os.X_OK):
        die("no sluice binary at %s" % a["sluice"])
    os.environ["SLUICE"] = a["sluice"]
    work = tempfile.mkdtemp(prefix="acme-renew.")
    try:
        return run(a, work)
    finally:
        sltest._kill_all()
        shutil.rmtree(work, ignore_errors=True)


def run(a, work):
    hp, tp, up, aport = (sltest.free_port() for _ in range(4))
    pb = pebble.start_pebble(hp, tp, validity_s=a["validity"])
    ng = nginx(work, up)
    cfg = {"workers": 2, "log": {"level": "info", "access": "off"},
           "admin": {"address": "127.0.0.1:%d" % aport},
           "acme": {"directory": pb.directory, "ca_file": pb.ca_file,
                    "storage": os.path.join(work, "acme"),
                    "http_port": hp, "retry": "1s", "retry_max": "5s"},
           "listeners": [
               {"name": "tls", "address": "127.0.0.1:%d" % tp,
                "tls": {"acme": [NAME]},
                "routes": [{"name": "app", "cluster": "app"}]},
               {"name": "plain", "address": "127.0.0.1:%d" % hp,
                "routes": [{"name": "web", "cluster": "app"}]}],
           "clusters": [{"name": "app",
                         "endpoints": ["127.0.0.1:%d" % up],
                         "pool": {"max_idle": 64, "max_requests": 0}}]}
    sl = sltest.Sluice(cfg, wait_ports=[tp, hp])
    sl.start()
    roots = os.path.join(work, "roots.pem")
    hosts = os.path.join(work, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost %s\n" % NAME)

    def handshake():
        with open(roots, "w") as f:
            f.write(pb.issuer_pem())
        ctx = ssl.create_default_context(cafile=roots)
        with socket.create_connection(("127.0.0.1", tp), 5) as raw:
            with ctx.wrap_socket(raw, server_hostname=NAME) as s:
                c = s.getpeercert()
                return c["serialNumber"], ssl.cert_time_to_seconds(
                    c["notAfter"])
    t0 = time.time()
    first = None
    while time.time() - t0 < 20 and first is None:
        try:
            first = handshake()
        except (OSError, ssl.SSLError):
            time.sleep(0.1)
    if first is None:
        die("no certificate within 20 s:\n" + sl.stderr()[-2000:])
    print("first certificate %s after %.1f s, expires in %.0f s"
          % (first[0], time.time() - t0, first[1] - time.time()))
    secs = int(first[1] - time.time()) + 5
    url = "https://%s:%d/" % (NAME, tp)
    kept = wrk(hosts, url, a["conns"], secs, False)
    closing = wrk(hosts, url, a["close"], secs, True)
    seen, herrs, stop = {}, [], threading.Event()
    renewed_at = [None]

    def probe():
        while not stop.is_set():
            try:
                sn, _ = handshake()
                if sn not in seen:
                    seen[sn] = time.time()
            except (OSError, ssl.SSLError) as e:
                herrs.append(repr(e))
            time.sleep(0.05)
    th = threading.Thread(target=probe, daemon=True)
    th.start()
    while time.time() < first[1] + 5:
        if renewed_at[0] is None and len(seen) > 1:
            renewed_at[0] = min(t for s, t in seen.items() if s != first[0])
        time.sleep(0.2)
    stop.set()
    th.join(10)
    k_rps, k_n, k_err, k_out = wrk_result(kept)
    c_rps, c_n, c_err, c_out = wrk_result(closing)
    if renewed_at[0] is None and len(seen) > 1:
        renewed_at[0] = min(t for s, t in seen.items() if s != first[0])
    print("kept-alive load: %.0f requests/s, %d requests, %d errors"
          % (k_rps, k_n, k_err))
    print("a handshake a request: %.0f requests/s, %d requests, %d errors"
          % (c_rps, c_n, c_err))
    print("probe: %d serials seen, %d errors%s" % (
        len(seen), len(herrs), (": " + herrs[0]) if herrs else ""))
    if renewed_at[0] is not None:
        print("renewed %.1f s before the first certificate's expiry (at "
              "%.0f %% of its life)" % (first[1] - renewed_at[0], 100 *
                                       (renewed_at[0] - (first[1] -
                                                         a["validity"])) /
                                       a["validity"]))
    ok = (renewed_at[0] is not None and renewed_at[0] < first[1] and
          k_err == 0 and c_err == 0 and not herrs and k_rps >= 1000)
    print("target (renewed before expiry, no error, >= 1,000 requests/s "
          "kept alive): %s" % ("held" if ok else "NOT held"))
    if k_err or c_err:
        print(k_out[-800:] + c_out[-800:])
    sl.stop()
    ng.send_signal(signal.SIGTERM)
    pb.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
