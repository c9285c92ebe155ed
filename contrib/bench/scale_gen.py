#!/usr/bin/python3
"""contrib/bench/scale_gen.py -- scale.sh's Python half (run with /usr/bin/python3).

    scale_gen.py conf KIND DIR MODE N GW_PORT UP_PORT [CERTDIR [ADMIN_PORT]]
        KIND: sluice | sluice-file | nginx | haproxy; MODE: hosts |
        prefixes | certs.
        Writes DIR/sluice.yaml, or DIR/nginx.conf, or DIR/haproxy.cfg
        (with DIR/hosts.map, DIR/prefixes.map or DIR/crt-list), each
        gateway configured the way it is meant to be at scale:
          hosts     N names h1.example .. hN.example, each its own route
                    (sluice: a route matching the host; nginx: a server
                    block with server_name; HAProxy: a line of a host map
                    read by map_str; sluice-file: one route whose
                    hosts_file, DIR/hosts.list, names them all); any
                    other name gets no 200
          prefixes  N path prefixes /p1/ .. /pN/ on one listener (sluice:
                    path_prefix routes; nginx: location blocks; HAProxy:
                    map_beg); any other path gets no 200
          certs     a TLS listener with N certificates from CERTDIR, names
                    c1.example .. cN.example (sluice: tls.certificates;
                    nginx: a server block per name; HAProxy: a crt-list);
                    one route to the upstream
        sluice with ADMIN_PORT (not 0) has an admin listener there (its
        /metrics: sluice_config_generation_applied)
        Every route goes to the same upstream (one cluster / upstream /
        backend), so that what grows is the routes, not the clusters.
    scale_gen.py certs N DIR
        N self-signed P-256 certificates, one key for all (DIR/key.pem),
        DIR/cI.pem for cI.example, DIR/cI.both.pem (certificate and key,
        HAProxy's); kept when DIR/done says N.
    scale_gen.py upstream PORT
        a keep-alive HTTP/1.1 server answering 100 bytes (icount.sh's)
    scale_gen.py wait PORT HOST PATH T0 TIMEOUT [SNI]
        tries PORT (over TLS with SNI) every 5 ms until HOST PATH answers
        200, then prints the seconds since T0 (a time.time() value)
    scale_gen.py load PORT HOST PATH N CONNS [WARM ZERO DUMP]
        N keep-alive requests over CONNS connections, each must be a 200;
        with WARM: WARM requests first, then the shell command ZERO, the
        N requests on the same connections, and the command DUMP
    scale_gen.py tls PORT SNI N
        N full TLS handshakes (no resumption), one request on each
    scale_gen.py metric URL NAME MIN T0 TIMEOUT
        polls URL until metric NAME >= MIN, prints the seconds since T0
    scale_gen.py mem PID...
        the RSS and PSS (kB) of these processes summed: "RSS PSS"
"""
import os
import socket
import ssl
import sys
import threading
import time


def sluice_head(gw, up):
    return ("workers: 1\n"
            "log: { level: warn, access: off }\n")


def sluice_cluster(up):
    return ("clusters:\n"
            "  - name: a\n"
            "    endpoints: [127.0.0.1:%d]\n"
            "    pool: { max_idle: 64, max_requests: 0 }\n" % up)


def acme_storage(d, n, certdir):
    """sluice-acme: the names' certificates as ACME's storage holds them
    (NAME.crt, NAME.key), links to the cached files, as if ordered
    before: a start serves them from there."""
    st = os.path.join(d, "acme")
    os.makedirs(st, mode=0o700, exist_ok=True)
    for i in range(1, n + 1):
        for ext, src in (("crt", "c%d.pem" % i), ("key", "key.pem")):
            dst = os.path.join(st, "c%d.example.%s" % (i, ext))
            if not os.path.lexists(dst):
                os.symlink(os.path.join(certdir, src), dst)
    return st


def conf_sluice(d, mode, n, gw, up, certdir, admin, hosts_file=False,
                acme=False):
    out = [sluice_head(gw, up)]
    if admin:
        out.append("admin: { address: 127.0.0.1:%d }\n" % admin)
    if mode == "certs" and acme:
        # a CA that is not there: the certificates are the storage's, not
        # due for two thirds of their year, and no order is attempted
        out.append("acme:\n  directory: https://127.0.0.1:9/directory\n"
                   "  storage: %s\n  http_port: %d\n"
                   % (acme_storage(d, n, certdir), gw + 1))
    out.append("listeners:\n  - name: l\n    address: 127.0.0.1:%d\n" % gw)
    if mode == "certs" and acme:
        out.append("    tls:\n      acme:\n")
        for i in range(1, n + 1):
            out.append("        - c%d.example\n" % i)
    elif mode == "certs":
        out.append("    tls:\n      certificates:\n")
        key = os.path.join(certdir, "key.pem")
        for i in range(1, n + 1):
            out.append("        - { cert: %s/c%d.pem, key: %s }\n"
                       % (certdir, i, key))
    out.append("    routes:\n")
    if mode == "hosts" and hosts_file:
        # written whole, then renamed: a reload never reads half of it
        path = os.path.join(d, "hosts.list")
        with open(path + ".new", "w") as f:
            f.write("".join("h%d.example\n" % i for i in range(1, n + 1)))
        os.rename(path + ".new", path)
        out.append("      - match: { hosts_file: %s }\n"
                   "        cluster: a\n" % path)
    elif mode == "hosts":
        for i in range(1, n + 1):
            out.append("      - match: { host: h%d.example }\n"
                       "        cluster: a\n" % i)
    elif mode == "prefixes":
        for i in range(1, n + 1):
            out.append("      - match: { path_prefix: /p%d/ }\n"
                       "        cluster: a\n" % i)
    else:
        out.append("      - cluster: a\n")
    if mode == "certs" and acme:
        out.append("  - name: acme-http\n    address: 127.0.0.1:%d\n"
                   "    routes:\n      - cluster: a\n" % (gw + 1))
    out.append(sluice_cluster(up))
    with open(os.path.join(d, "sluice.yaml"), "w") as f:
        f.write("".join(out))


def conf_nginx(d, mode, n, gw, up, certdir):
    # master_process and daemon come from -g (scale.sh: one worker, or
    # master_process off under callgrind)
    hsize = 512
    while hsize < 2 * n:
        hsize *= 2
    user = "user root;\n" if os.getuid() == 0 else ""
    tmp = "".join("    %s_temp_path %s/tmp/%s;\n" % (k, d, k)
                  for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    out = [user,
           "worker_processes 1;\n"
           "pid %s/nginx.pid;\n"
           "error_log %s/logs/error.log warn;\n"
           "events { worker_connections 4096; }\n"
           "http {\n"
           "    access_log off;\n%s"
           "    server_names_hash_max_size %d;\n"
           "    server_names_hash_bucket_size 64;\n"
           "    keepalive_requests 1000000;\n"
           "    proxy_http_version 1.1;\n"
           "    proxy_set_header Connection \"\";\n"
           "    upstream u { server 127.0.0.1:%d; keepalive 64; "
           "keepalive_requests 1000000; }\n" % (d, d, tmp, hsize, up)]
    loc = "location / { proxy_pass http://u; }"
    if mode == "hosts":
        out.append("    server { listen 127.0.0.1:%d default_server; "
                   "return 404; }\n" % gw)
        for i in range(1, n + 1):
            out.append("    server { listen 127.0.0.1:%d; server_name "
                       "h%d.example; %s }\n" % (gw, i, loc))
    elif mode == "prefixes":
        out.append("    server {\n        listen 127.0.0.1:%d;\n"
                   "        location / { return 404; }\n" % gw)
        for i in range(1, n + 1):
            out.append("        location /p%d/ { proxy_pass http://u; }\n" % i)
        out.append("    }\n")
    else:
        key = os.path.join(certdir, "key.pem")
        for i in range(1, n + 1):
            out.append("    server { listen 127.0.0.1:%d ssl%s; server_name "
                       "c%d.example; ssl_certificate %s/c%d.pem; "
                       "ssl_certificate_key %s; %s }\n"
                       % (gw, " default_server" if i == 1 else "", i,
                          certdir, i, key, loc))
    out.append("}\n")
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("".join(out))


def conf_haproxy(d, mode, n, gw, up, certdir):
    out = ["global\n"
           "    nbthread 1\n"
           "    maxconn 4096\n"
           "    tune.ssl.default-dh-param 2048\n"
           "defaults\n"
           "    mode http\n"
           "    timeout connect 5s\n"
           "    timeout client 30s\n"
           "    timeout server 30s\n"
           "    http-reuse always\n"
           "frontend f\n"]
    if mode == "hosts":
        out.append("    bind 127.0.0.1:%d\n"
                   "    use_backend %%[req.hdr(host),lower,map_str(%s/hosts.map)]\n"
                   % (gw, d))
        with open(os.path.join(d, "hosts.map"), "w") as f:
            f.write("".join("h%d.example b\n" % i for i in range(1, n + 1)))
    elif mode == "prefixes":
        out.append("    bind 127.0.0.1:%d\n"
                   "    use_backend %%[path,map_beg(%s/prefixes.map)]\n"
                   % (gw, d))
        with open(os.path.join(d, "prefixes.map"), "w") as f:
            f.write("".join("/p%d/ b\n" % i for i in range(1, n + 1)))
    else:
        out.append("    bind 127.0.0.1:%d ssl crt-list %s/crt-list\n"
                   "    default_backend b\n" % (gw, d))
        with open(os.path.join(d, "crt-list"), "w") as f:
            f.write("".join("%s/c%d.both.pem c%d.example\n" % (certdir, i, i)
                            for i in range(1, n + 1)))
    out.append("backend b\n    server s 127.0.0.1:%d\n" % up)
    with open(os.path.join(d, "haproxy.cfg"), "w") as f:
        f.write("".join(out))


def cmd_conf(a):
    kind, d, mode, n, gw, up = a[0], a[1], a[2], int(a[3]), int(a[4]), int(a[5])
    certdir = a[6] if len(a) > 6 else ""
    admin = int(a[7]) if len(a) > 7 else 0
    os.makedirs(d, exist_ok=True)
    if kind in ("sluice", "sluice-file", "sluice-acme"):
        conf_sluice(d, mode, n, gw, up, certdir, admin,
                    kind == "sluice-file", kind == "sluice-acme")
    elif kind == "nginx":
        conf_nginx(d, mode, n, gw, up, certdir)
    elif kind == "haproxy":
        conf_haproxy(d, mode, n, gw, up, certdir)
    else:
        sys.exit("unknown kind " + kind)


def cmd_certs(a):
    n, d = int(a[0]), a[1]
    done = os.path.join(d, "done")
    try:
        if open(done).read().strip() == str(n):
            return
    except OSError:
        pass
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    os.makedirs(d, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    kpem = key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(os.path.join(d, "key.pem"),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, kpem)
    os.close(fd)
    now = datetime.datetime.utcnow()
    for i in range(1, n + 1):
        name = "c%d.example" % i
        subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
                .public_key(key.public_key()).serial_number(i)
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName(name)]), critical=False)
                .sign(key, hashes.SHA256()))
        cpem = cert.public_bytes(serialization.Encoding.PEM)
        with open(os.path.join(d, "c%d.pem" % i), "wb") as f:
            f.write(cpem)
        fd = os.open(os.path.join(d, "c%d.both.pem" % i),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, cpem + kpem)
        os.close(fd)
    with open(done, "w") as f:
        f.write("%d\n" % n)


BODY = b"x" * 99 + b"\n"
RESP = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain"
        b"\r\n\r\n" % len(BODY)) + BODY


def cmd_upstream(a):
    def serve(c):
        buf = b""
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    c.sendall(RESP)
        except OSError:
            pass
        finally:
            c.close()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(a[0])))
    s.listen(1024)
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def read_answer(s, buf):
    """one answer (Content-Length framed) from s: (status line, rest)"""
    while True:
        j = buf.find(b"\r\n\r\n")
        if j >= 0:
            cl = 0
            for line in buf[:j].split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    cl = int(line.split(b":")[1])
            if len(buf) >= j + 4 + cl:
                return buf.split(b"\r\n", 1)[0], buf[j + 4 + cl:]
        d = s.recv(65536)
        if not d:
            raise OSError("closed")
        buf += d


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def one_request(port, host, path, sni=None, ctx=None, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if sni:
            s = ctx.wrap_socket(s, server_hostname=sni)
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                   % (path, host)).encode())
        st, _ = read_answer(s, b"")
        return st
    finally:
        s.close()


def cmd_wait(a):
    port, host, path, t0, limit = int(a[0]), a[1], a[2], float(a[3]), float(a[4])
    sni = a[5] if len(a) > 5 else None
    ctx = tls_ctx() if sni else None
    last = "no answer"
    while time.time() - t0 < limit:
        try:
            st = one_request(port, host, path, sni, ctx, timeout=max(
                1.0, limit - (time.time() - t0)))
            if st.startswith(b"HTTP/1.1 200"):
                print("%.3f" % (time.time() - t0))
                return
            last = st.decode(errors="replace")
        except (OSError, ssl.SSLError) as e:
            last = str(e)
        time.sleep(0.005)
    sys.exit("no 200 within %gs (last: %s)" % (limit, last))


def cmd_load(a):
    port, host, path, n, conns = int(a[0]), a[1], a[2], int(a[3]), int(a[4])
    conns = max(1, conns)
    socks = [socket.create_connection(("127.0.0.1", port), timeout=600)
             for _ in range(conns)]
    bufs = [b""] * conns
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode()
    for s in socks:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def run(count):
        for k in range(count):
            i = k % conns
            socks[i].sendall(req)
            st, bufs[i] = read_answer(socks[i], bufs[i])
            if not st.startswith(b"HTTP/1.1 200"):
                sys.exit("bad answer: %r" % st)
    if len(a) > 5:
        # warm-up on the same connections, then the counters zeroed and,
        # after the N requests, dumped: no connection's opening or
        # closing is counted
        import subprocess
        run(int(a[5]))
        subprocess.run(a[6], shell=True, check=True)
        run(n)
        subprocess.run(a[7], shell=True, check=True)
    else:
        run(n)
    for s in socks:
        s.close()


def cmd_tls(a):
    port, sni, n = int(a[0]), a[1], int(a[2])
    ctx = tls_ctx()
    for _ in range(n):
        st = one_request(port, sni, "/", sni, ctx, timeout=600)
        if not st.startswith(b"HTTP/1.1 200"):
            sys.exit("bad answer: %r" % st)


def cmd_metric(a):
    import urllib.request
    url, name, want, t0, limit = a[0], a[1], float(a[2]), float(a[3]), float(a[4])
    last = "no answer"
    while time.time() - t0 < limit:
        try:
            body = urllib.request.urlopen(url, timeout=max(
                1.0, limit - (time.time() - t0))).read().decode()
            for line in body.splitlines():
                f = line.split()
                if len(f) == 2 and f[0] == name:
                    last = f[1]
                    if float(f[1]) >= want:
                        print("%.3f" % (time.time() - t0))
                        return
        except OSError as e:
            last = str(e)
        time.sleep(0.005)
    sys.exit("%s not >= %g within %gs (last: %s)" % (name, want, limit, last))


def cmd_mem(a):
    rss = pss = 0
    for p in a:
        try:
            for line in open("/proc/%s/smaps_rollup" % p):
                f = line.split()
                if f[0] == "Rss:":
                    rss += int(f[1])
                elif f[0] == "Pss:":
                    pss += int(f[1])
        except OSError:
            pass
    print(rss, pss)


def main():
    cmds = {"conf": cmd_conf, "certs": cmd_certs, "upstream": cmd_upstream,
            "wait": cmd_wait, "load": cmd_load, "tls": cmd_tls,
            "metric": cmd_metric, "mem": cmd_mem}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
