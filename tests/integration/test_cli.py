# SPDX-License-Identifier: MIT
"""Command line: -V (and its libraries), -h, -t on good and bad files (exit
codes, messages FILE:LINE:COL: error: ...), the full schema of
doc/contracts.md section 1, -t and start-up on addresses another process
listens on or a connection holds, -p, and -t -p on a staged copy of a
running sluice's file."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (TOP_SRCDIR, Sluice, _register,  # noqa: E402
                    check, connect_refused, eq, free_port, main, run_sluice,
                    sluice_path, start_sluice, test, tmpdir, wait_until)


def write(text, name="sluice.yaml"):
    d = tmpdir()
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


GOOD = """\
workers: 1
listeners:
  - name: public
    address: 127.0.0.1:%d
    routes:
      - cluster: app
clusters:
  - name: app
    endpoints:
      - 127.0.0.1:9001
"""

FULL = """\
workers: auto
drain_timeout: 15s
admin:
  address: 127.0.0.1:%(admin)d
log:
  level: info
  access: stdout
  access_format: json
listeners:
  - name: public
    address: 127.0.0.1:%(port)d
    limits:
      header_timeout: 10s
      body_timeout: 30s
      send_timeout: 30s
      idle_timeout: 60s
      max_uri_bytes: 8KiB
      max_header_bytes: 32KiB
      max_headers: 100
      max_body_bytes: 16MiB
      buffer_bytes: 64KiB
      max_requests: 0
    routes:
      - name: payments
        match:
          host: pay.example.com
          path_prefix: /v1/
          methods: [GET, POST]
          headers: { X-Canary: "on" }
        cluster: payments
        timeout: 30s
      - name: wild
        match:
          host: "*.example.com"
          path: /exact
        cluster: payments
        timeout: 250ms
      - cluster: other
  - name: second
    address: "[::1]:%(port6)d"
    limits:
      idle_timeout: 5m
      max_body_bytes: 0B
      header_timeout: 1h
    routes:
      - cluster: other
clusters:
  - name: payments
    endpoints:
      - 127.0.0.1:9001
      - { address: 127.0.0.1:9002, weight: 3 }
    balance: round_robin
    connect_timeout: 1s
    pool:
      max_idle: 64
      idle_timeout: 30s
      max_requests: 10000
  - name: other
    endpoints:
      - localhost:9003
      - "[::1]:9004"
    balance: least_request
  - name: third
    endpoints: [127.0.0.1:9005]
    balance: hash
    pool:
      max_requests: 0
"""


@test
def version_flag():
    rc, out, err = run_sluice(["-V"])
    eq(rc, 0, "exit status of -V")
    text = out + err
    first = text.strip().splitlines()[0] if text.strip() else ""
    check(first.startswith("sluice "), "first line %r does not start with "
          "'sluice '" % first)
    check(re.search(r"\d+\.\d+", first), "no version number in %r" % first)
    low = text.lower()
    for lib in ("libevent", "openssl", "libyaml"):
        check(lib in low, "-V does not name %s: %r" % (lib, text))
    check(re.search(r"libevent\D*2\.\d", low), "libevent version missing")
    check(re.search(r"openssl\D*3\.\d", low), "OpenSSL version missing")
    check(re.search(r"libyaml\D*0\.\d", low), "libyaml version missing")


def pkg_version(name):
    """What pkg-config says of name's version (the build used it), or
    None without pkg-config."""
    try:
        r = subprocess.run(["pkg-config", "--modversion", name],
                           capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


@test
def version_flag_names_nghttp2_and_hiredis():
    # issue 41: -V named libevent, OpenSSL and libyaml only
    rc, out, err = run_sluice(["-V"])
    eq(rc, 0, "exit status of -V")
    lines = out.splitlines()
    h2 = [ln for ln in lines if ln.startswith("libnghttp2 ")]
    eq(len(h2), 1, "libnghttp2 lines in %r" % out)
    check(re.match(r"libnghttp2 \d+\.\d+\.\d+$", h2[0]),
          "libnghttp2 line %r" % h2[0])
    # issue 64: HTTP/3's transport core, or why it is not there
    q = [ln for ln in lines if ln.startswith("libngtcp2 ")]
    eq(len(q), 1, "libngtcp2 lines in %r" % out)
    check(re.match(r"libngtcp2 (\d+\.\d+\.\d+|\(not built: no HTTP/3; "
                   r"\./configure --with-quic\))$", q[0]),
          "libngtcp2 line %r" % q[0])
    hr = [ln for ln in lines if ln.startswith("hiredis ")]
    eq(len(hr), 1, "hiredis lines in %r" % out)
    # hiredis has no version call: the line says it is the headers'
    m = re.match(r"hiredis (\d+\.\d+\.\d+) \(the headers built with; "
                 r"hiredis reports no version at run time\)$", hr[0])
    check(m, "hiredis line %r" % hr[0])
    # this machine built it: the versions are those of its packages
    for name, got in (("libnghttp2", h2[0].split()[1]),
                      ("hiredis", m.group(1))):
        want = pkg_version(name)
        if want is not None:
            eq(got, want, "%s version (pkg-config --modversion)" % name)
    # issue 80: Lua's release, or why there is none
    lu = [ln for ln in lines if ln.startswith("Lua")]
    eq(len(lu), 1, "Lua lines in %r" % out)
    check(re.match(r"Lua (5\.4\.\d+ \(the headers built with\)|: none "
                   r"\(\./configure --without-lua: a route's lua: is "
                   r"refused\))$", lu[0]), "Lua line %r" % lu[0])
    # in the order of the other libraries, before the build line
    names = [ln.split()[0] for ln in lines]
    eq(names[:6], ["sluice", "libevent", "OpenSSL", "libyaml", "libnghttp2",
                   "hiredis"], "first words of the lines")


@test
def help_flag():
    rc, out, err = run_sluice(["-h"])
    eq(rc, 0, "exit status of -h")
    text = out + err
    for opt in ("-c", "-t", "-V"):
        check(opt in text, "usage does not mention %s: %r" % (opt, text))


@test
def unknown_option_fails():
    rc, out, err = run_sluice(["-Z"])
    check(rc != 0, "exit status 0 for an unknown option")
    check(err.strip(), "no message on stderr for an unknown option")


@test
def check_good_file():
    p = write(GOOD % free_port())
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 0, "exit status of -t on a good file (stderr %r)" % err)
    check("configuration OK" in out, "stdout %r lacks 'configuration OK'"
          % out)


@test
def check_full_schema_file():
    p = write(FULL % {"admin": free_port(), "port": free_port(),
                      "port6": free_port()})
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 0, "exit status of -t on the full DESIGN.md schema "
       "(stderr %r)" % err)
    check("configuration OK" in out, "stdout %r" % out)


@test
def check_shipped_sample_config():
    p = os.path.join(TOP_SRCDIR, "etc", "sluice.yaml")
    if not os.path.exists(p):
        raise AssertionError("etc/sluice.yaml missing in %s" % TOP_SRCDIR)
    # its 8080 and 9901 may be taken on this machine (the quick start):
    # -t would say so, rightly, so a copy listens on free ports
    import re
    ports = {}

    def sub(m):
        ports.setdefault(m.group(2), free_port())
        return "%s:%d" % (m.group(1), ports[m.group(2)])
    with open(p) as f:
        text = re.sub(r"(\b\d+\.\d+\.\d+\.\d+):(\d+)", sub, f.read())
    rc, out, err = run_sluice(["-t", "-c", write(text)])
    eq(rc, 0, "exit status of -t on etc/sluice.yaml (stderr %r)" % err)
    check("configuration OK" in out, "stdout %r" % out)


def held(port=0):
    """A socket of this process listening on 127.0.0.1:port without
    SO_REUSEPORT, as most servers listen."""
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s


def me():
    """How sluice names this process: pid N (comm)."""
    with open("/proc/self/comm") as f:
        return "pid %d (%s)" % (os.getpid(), f.read().strip())


def start_fails(path):
    """Starts sluice on path, which must refuse to start; returns its
    stderr."""
    rc, out, err = run_sluice(["-c", path])
    eq(rc, 1, "exit status of a start that must fail (stderr %r)" % err)
    return err


@test
def check_names_who_listens_on_a_listener_address():
    # -t used to say OK, then start-up failed with a bare "Address
    # already in use" naming nobody
    busy = held()
    port = busy.getsockname()[1]
    try:
        p = write(GOOD % port)
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t (stdout %r, stderr %r)" % (out, err))
        want = ('%s:4:14: error: listener "public" 127.0.0.1:%d: address '
                'already in use by %s' % (p, port, me()))
        check(want in err, "-t stderr lacks %r:\n%s" % (want, err))
        check("configuration OK" not in out, "-t said OK")
        err = start_fails(p)
        check('listener "public" 127.0.0.1:%d: address already in use by '
              '%s' % (port, me()) in err, "start-up does not name the "
              "holder:\n%s" % err)
        # a wildcard address on the same port is held as well
        p = write(GOOD.replace("127.0.0.1:%d", "0.0.0.0:%d") % port)
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t for 0.0.0.0 (stderr %r)" % err)
        check("0.0.0.0:%d: address already in use by %s" % (port, me())
              in err, "-t stderr for 0.0.0.0:\n%s" % err)
    finally:
        busy.close()
    # free again: OK, and -t left nothing listening
    rc, out, err = run_sluice(["-t", "-c", write(GOOD % port)])
    eq(rc, 0, "exit status of -t once the port is free (stderr %r)" % err)
    check(connect_refused(port), "-t left a socket listening")


@test
def check_names_who_listens_on_the_admin_address():
    busy = held()
    aport = busy.getsockname()[1]
    try:
        p = write(FULL % {"admin": aport, "port": free_port(),
                          "port6": free_port()})
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t (stdout %r, stderr %r)" % (out, err))
        want = ('%s:4:12: error: admin listener 127.0.0.1:%d: address '
                'already in use by %s' % (p, aport, me()))
        check(want in err, "-t stderr lacks %r:\n%s" % (want, err))
        err = start_fails(p)
        check("admin listener 127.0.0.1:%d: address already in use by %s"
              % (aport, me()) in err, "start-up does not name the "
              "holder:\n%s" % err)
    finally:
        busy.close()
    # the admin socket is dual-stack: on [::] it needs 0.0.0.0 as well
    if not socket.has_ipv6:
        return
    busy = socket.socket()
    busy.bind(("0.0.0.0", 0))
    busy.listen(1)
    aport = busy.getsockname()[1]
    try:
        p = write((FULL % {"admin": aport, "port": free_port(),
                           "port6": free_port()})
                  .replace("127.0.0.1:%d" % aport, '"[::]:%d"' % aport))
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t, admin on [::] (stderr %r)" % err)
        check("admin listener [::]:%d: address already in use by %s"
              % (aport, me()) in err, "-t stderr:\n%s" % err)
    finally:
        busy.close()


@test
def check_names_a_connection_that_holds_a_listener_port():
    # issue 41: -t said OK, then the start failed with "Address already in
    # use": no listener held the port, an outgoing connection did. -t now
    # asks the kernel (a bind that never listens) where no listener is
    lst = held()
    client = socket.socket()
    client.bind(("127.0.0.1", 0))
    client.connect(lst.getsockname())
    accepted, _ = lst.accept()
    port = client.getsockname()[1]
    try:
        p = write(GOOD % port)
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t (stdout %r, stderr %r)" % (out, err))
        check("configuration OK" not in out, "-t said OK")
        want = ('%s:4:14: error: listener "public" 127.0.0.1:%d: address '
                'already in use by a connection (state ESTABLISHED, to '
                '127.0.0.1:%d) owned by %s'
                % (p, port, lst.getsockname()[1], me()))
        check(want in err, "-t stderr lacks %r:\n%s" % (want, err))
        check(connect_refused(port), "-t left a socket listening")
    finally:
        client.close()
        accepted.close()
        lst.close()


HTTP3 = """\
workers: 1
listeners:
  - name: pub
    address: 127.0.0.1:%(port)d
    tls:
      certificates:
        - { cert: "%(cert)s", key: "%(key)s" }
    http3: true
    routes:
      - cluster: app
clusters:
  - name: app
    endpoints:
      - 127.0.0.1:9001
"""


def cert():
    d = tmpdir()
    c, k = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    "/CN=localhost", "-days", "1", "-keyout", k, "-out", c],
                   check=True, capture_output=True)
    return c, k


def held_udp(reuseport=False):
    """A UDP socket of this process bound to 127.0.0.1 on a port whose TCP
    side is free (the listener's TCP socket must bind): (socket, port)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if reuseport:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
            return u, port
        except OSError:
            u.close()
        finally:
            t.close()
    raise AssertionError("no port free for both TCP and UDP")


@test
def check_names_who_holds_an_http3_listeners_udp_port():
    # issue 77: -t said OK on an http3 listener whose UDP port a process
    # held; start-up then failed, blaming "a process this user cannot see
    # (uid 0)" (the TCP table, where it found its own listener) for this
    # very visible process of the same user
    sltest.require_http3()
    c, k = cert()
    busy, port = held_udp()
    try:
        p = write(HTTP3 % {"port": port, "cert": c, "key": k})
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t (stdout %r, stderr %r)" % (out, err))
        check("configuration OK" not in out, "-t said OK")
        want = ('%s:4:14: error: listener "pub" UDP 127.0.0.1:%d (http3): '
                'address already in use by %s' % (p, port, me()))
        check(want in err, "-t stderr lacks %r:\n%s" % (want, err))
        check("cannot see" not in err, "-t stderr:\n%s" % err)
        err = start_fails(p)
        check(want in err, "start-up stderr lacks %r:\n%s" % (want, err))
        check("cannot see" not in err, "start-up stderr:\n%s" % err)
    finally:
        busy.close()
    # a socket with SO_REUSEPORT would let the bind pass and take a share
    # of the datagrams: -t refuses it as well
    busy, port = held_udp(reuseport=True)
    try:
        p = write(HTTP3 % {"port": port, "cert": c, "key": k})
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t, SO_REUSEPORT (stderr %r)" % err)
        check('listener "pub" UDP 127.0.0.1:%d (http3): address already '
              'in use by %s' % (port, me()) in err, "-t stderr:\n%s" % err)
    finally:
        busy.close()
    # free again: OK (the TCP check still runs: a TCP holder is named)
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 0, "exit status of -t once the port is free (stderr %r)" % err)
    tcp = held(port)
    try:
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t, TCP port held (stderr %r)" % err)
        check('%s:4:14: error: listener "pub" 127.0.0.1:%d: address already '
              'in use by %s' % (p, port, me()) in err, "-t stderr:\n%s" % err)
        check("UDP" not in err, "UDP blamed for TCP:\n%s" % err)
    finally:
        tcp.close()


ADMIN = """\
workers: 2
admin:
  address: 127.0.0.1:%d
listeners:
  - name: public
    address: 127.0.0.1:%d
    routes:
      - cluster: app
clusters:
  - name: app
    endpoints:
      - 127.0.0.1:9001
"""


@test
def check_on_the_file_of_a_running_sluice():
    # systemd's ExecReload runs -t on the file of the sluice it is about
    # to reload: that sluice holding its own addresses is no error. A
    # sluice serving another file is.
    aport, port = free_port(), free_port()
    text = ADMIN % (aport, port)
    sl = start_sluice(text, wait_ports=[port, aport])
    for args, cwd in ((["-t", "-c", sl.conf_path], None),
                      (["-t", "-c", "sluice.yaml"], sl.dir)):
        r = subprocess.run([sluice_path()] + args, cwd=cwd,
                           capture_output=True, text=True, timeout=10)
        eq(r.returncode, 0, "-t %r on the running file (stderr %r)"
           % (args, r.stderr))
        check("configuration OK" in r.stdout, "stdout %r" % r.stdout)
    # the same text in another file: both addresses are taken
    other = write(text, "other.yaml")
    rc, out, err = run_sluice(["-t", "-c", other])
    eq(rc, 1, "exit status of -t on another file (stderr %r)" % err)
    for want in ('%s:3:12: error: admin listener 127.0.0.1:%d: address '
                 'already in use by pid %d (sluice)' % (other, aport, sl.pid),
                 '%s:6:14: error: listener "public" 127.0.0.1:%d: address '
                 'already in use by pid %d (sluice)' % (other, port, sl.pid)):
        check(want in err, "-t stderr lacks %r:\n%s" % (want, err))
    # a second sluice on the running file itself: -t passed, the start
    # does not (its admin address cannot be bound), naming the first
    err = start_fails(sl.conf_path)
    check("admin listener 127.0.0.1:%d: cannot listen: address already in "
          "use by pid %d (sluice)" % (aport, sl.pid) in err,
          "second start on the same file:\n%s" % err)
    # without an admin listener the listener's shared port is refused
    text = ADMIN.replace("admin:\n  address: 127.0.0.1:%d\n", "")
    port = free_port()
    sl2 = start_sluice(text % port, wait_ports=[port])
    err = start_fails(sl2.conf_path)
    check(re.search(r'listener "public" 127\.0\.0\.1:\d+: address already '
                    r'in use by pid %d \(sluice\)' % sl2.pid, err),
          "second start on the same file:\n%s" % err)


def start_with_pid_file(text, pid_file, ports):
    """A registered sluice on text started with -p pid_file, once it
    serves (the pid file written)."""
    sl = Sluice(text, wait_ports=ports)
    _register("sluices", sl)
    popen = sltest.subprocess.Popen

    def with_p(cmd, *a, **kw):
        return popen(list(cmd) + ["-p", pid_file], *a, **kw)
    sltest.subprocess.Popen = with_p
    try:
        sl.start()
    finally:
        sltest.subprocess.Popen = popen
    check(wait_until(lambda: os.path.exists(pid_file), 10.0),
          "no pid file %s" % pid_file)
    return sl


@test
def check_of_a_staged_copy_with_the_running_sluices_pid_file():
    # issue 41: -t on a staged copy (sluice.yaml.new, to be renamed over
    # the running file) failed while sluice ran: the running sluice held
    # the copy's addresses. With -p, the sluice the pid file names is the
    # one the copy is for: its addresses count as free, no one else's do.
    aport, port = free_port(), free_port()
    d = tmpdir()
    pid_file = os.path.join(d, "sluice.pid")
    sl = start_with_pid_file(ADMIN % (aport, port), pid_file, [port, aport])
    staged = write((ADMIN % (aport, port)).replace("9001", "9002"),
                   "sluice.yaml.new")
    rc, out, err = run_sluice(["-t", "-c", staged])
    eq(rc, 1, "-t on the staged copy without -p (stderr %r)" % err)
    check("address already in use by pid %d (sluice)" % sl.pid in err,
          "-t without -p does not name the running sluice:\n%s" % err)
    rc, out, err = run_sluice(["-t", "-c", staged, "-p", pid_file])
    eq((rc, err), (0, ""), "exit status and stderr of -t -p on the staged "
       "copy")
    check("configuration OK" in out, "stdout %r" % out)
    # an address the copy adds that another process holds is still taken
    busy = held()
    try:
        more = write((ADMIN % (aport, port)).replace(
            "clusters:",
            "  - name: more\n    address: 127.0.0.1:%d\n    routes:\n"
            "      - cluster: app\nclusters:" % busy.getsockname()[1]),
            "more.yaml")
        rc, out, err = run_sluice(["-t", "-c", more, "-p", pid_file])
        eq(rc, 1, "-t -p on a copy that adds a taken address (stderr %r)"
           % err)
        want = ('%s:10:14: error: listener "more" 127.0.0.1:%d: address '
                'already in use by %s' % (more, busy.getsockname()[1], me()))
        check(want in err, "-t stderr lacks %r:\n%s" % (want, err))
        check("pid %d" % sl.pid not in err, "the running sluice named:\n%s"
              % err)
    finally:
        busy.close()
    # a pid file naming a process that is no sluice frees nothing
    other = os.path.join(d, "other.pid")
    with open(other, "w") as f:
        f.write("%d\n" % os.getpid())
    rc, out, err = run_sluice(["-t", "-c", staged, "-p", other])
    eq(rc, 1, "-t with a pid file naming no sluice (stderr %r)" % err)
    check("address already in use by pid %d (sluice)" % sl.pid in err,
          "-t does not name the running sluice:\n%s" % err)


def bad(text, line, col=None, more=()):
    p = write(text, "bad.yaml")
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 1, "exit status of -t on a bad file (stdout %r, stderr %r)"
       % (out, err))
    check("configuration OK" not in out, "bad file reported OK")
    pat = re.escape(p) + ":%d:%s: error: " % (line, col if col else r"\d+")
    check(re.search(pat, err), "stderr lacks %s:%d:%s: error: ...\n%s"
          % (p, line, col or "COL", err))
    for ln in more:
        pat = re.escape(p) + r":%d:\d+: error: " % ln
        check(re.search(pat, err), "stderr lacks an error on line %d:\n%s"
              % (ln, err))
    return err


@test
def check_bad_unknown_key():
    bad(GOOD % 8080 + "  # trailing comment\nbogus_key: 1\n", 12, 1)


@test
def check_bad_unknown_nested_key():
    bad("""\
listeners:
  - name: public
    address: 127.0.0.1:8080
    limits:
      header_timeout: 10s
      no_such_limit: 5
    routes:
      - cluster: app
clusters:
  - name: app
    endpoints: [127.0.0.1:9001]
""", 6, 7)


@test
def check_bad_key_in_another_section():
    # a key written one level off is pointed to where it belongs, and a
    # misspelt one to the key it likely means there
    err = bad("""\
listeners:
  - name: public
    address: 127.0.0.1:8080
    header_timeout: 10s
    routes:
      - cluster: app
        conect_timeout: 1s
clusters:
  - name: app
    endpoints: [127.0.0.1:9001]
""", 4, 5, more=(7,))
    for msg in ('unknown key "header_timeout" in listener (it belongs under '
                '"limits")',
                'unknown key "conect_timeout" in route (did you mean '
                '"connect_timeout" in a cluster?)'):
        check(msg in err, "stderr lacks %r:\n%s" % (msg, err))


@test
def check_bad_bare_integer_duration_and_size():
    bad("""\
listeners:
  - name: public
    address: 127.0.0.1:8080
    limits:
      header_timeout: 10
      max_body_bytes: 1024
    routes:
      - cluster: app
clusters:
  - name: app
    endpoints: [127.0.0.1:9001]
""", 5, more=(6,))


@test
def check_bad_reports_every_error():
    err = bad("""\
workers: 0
listeners:
  - name: public
    address: 127.0.0.1:8080
    routes:
      - cluster: nope
clusters:
  - name: app
    endpoints: [127.0.0.1:9001]
    balance: fastest
""", 1, more=(6, 10))
    check(len([ln for ln in err.splitlines() if ": error: " in ln]) >= 3,
          "fewer than 3 errors reported:\n" + err)


@test
def check_bad_wrong_types_and_values():
    bad("""\
listeners:
  - name: public
    address: not-an-address
    routes:
      - cluster: app
        timeout: 5 parsecs
clusters:
  - name: app
    endpoints:
      - { address: 127.0.0.1:9001, weight: -1 }
    pool: {max_idle: lots}
""", 3, more=(6, 10, 11))


@test
def check_bad_duplicate_names():
    bad("""\
listeners:
  - name: public
    address: 127.0.0.1:8080
    routes: [{cluster: app}]
  - name: public
    address: 127.0.0.1:8081
    routes: [{cluster: app}]
clusters:
  - name: app
    endpoints: [127.0.0.1:9001]
  - name: app
    endpoints: [127.0.0.1:9002]
""", 5, more=(11,))


@test
def check_bad_yaml_syntax():
    p = write("listeners:\n  - name: [unclosed\n", "bad.yaml")
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 1, "exit status on a YAML syntax error")
    check(re.search(re.escape(p) + r":\d+:\d+: error: ", err),
          "no FILE:LINE:COL error: %r" % err)


@test
def check_missing_file():
    p = os.path.join(tmpdir(), "nope.yaml")
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 1, "exit status for a missing file")
    check("nope.yaml" in err, "error does not name the file: %r" % err)


LOGGED = """\
workers: 1
log:
  level: info
  access: %s
listeners:
  - name: public
    address: 127.0.0.1:%d
    routes:
      - cluster: app
clusters:
  - name: app
    endpoints:
      - 127.0.0.1:9001
"""


@test
def check_access_log_that_cannot_open():
    # -t used to say OK, then start-up failed on the access log: what -t
    # passes must start (the README's example had /var/log/sluice/)
    d = tmpdir()
    afile = os.path.join(d, "afile")
    open(afile, "w").close()
    cases = [
        (os.path.join(d, "no-such-dir", "access.log"),
         'the directory "%s" does not exist'
         % os.path.join(d, "no-such-dir")),
        (d, "it is a directory"),
        (os.path.join(afile, "access.log"), "Not a directory"),
    ]
    for path, why in cases:
        p = write(LOGGED % (json.dumps(path), free_port()))
        rc, out, err = run_sluice(["-t", "-c", p])
        eq(rc, 1, "exit status of -t with access %r (stdout %r, stderr %r)"
           % (path, out, err))
        want = ('%s:4:11: error: "access": cannot open "%s" for appending: '
                '%s' % (p, path, why))
        check(want in err, "stderr lacks %r:\n%s" % (want, err))
        # start-up says the same, and starts nothing
        rc, out, err2 = run_sluice(["-c", p])
        eq(rc, 1, "exit status of a start with access %r" % path)
        check(want in err2, "start-up stderr lacks %r:\n%s" % (want, err2))
    # a writable directory passes, and -t creates nothing there
    path = os.path.join(d, "access.log")
    p = write(LOGGED % (json.dumps(path), free_port()))
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 0, "exit status of -t with a creatable access log (%r)" % err)
    check(not os.path.exists(path), "-t created the access log")


if __name__ == "__main__":
    main()
