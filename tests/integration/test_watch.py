# SPDX-License-Identifier: MIT
"""`watch: true`: sluice reloads by itself when its configuration file, or
a file the file names, changes (doc/fleet.md section 3), against the real
binary.

Off by default: a valid change is not applied. On: a write in place, an
editor's write aside and rename over, a file deleted and written again,
and a Kubernetes ConfigMap's swap of its "..data" link (twice) each
become the next generation, with the two info lines naming the file and
the SHA-256 of its bytes, sluice_config_watch_reloads_total and
sluice_reloads_total counting it, /config showing it. A half-written file
is refused, the running generation serves on, the refusal is not tried
again while the file stays as it is, and the end of the write is
applied. A certificate and key renamed over theirs are served to new
handshakes without a change to the configuration file. The same bytes
written again, a touch, a rename of an identical copy reload nothing; nor
do the edit's own events after a SIGHUP that already loaded it, nor the
first event after a reload turned the watch on, nor the loaded bytes put
back after a refused edit (one line says so). Under continuous load
(keep-alive and new connections, plain and TLS) every kind of change in a
row loses no request. A file beside the configuration that is written
all the time does not hold a change back.

The watched files live in a directory of their own in every test: the
harness's directory holds sluice's stderr.log, and a file written at each
log line beside the configuration is what the last test is about."""

import os
import re
import shutil
import signal
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Pki, Skip, Sluice, TLSClient,  # noqa: E402
                    Upstream, check, eq, free_port, get, have_openssl, main,
                    make_config, metrics, sha256, test, tmpdir,
                    to_yaml, wait_until)

DEBOUNCE = "100ms"

# What a change waits for at most: a debounce of 100 ms and a reload take
# a small part of it, but the machines are shared and slow.
SETTLE = 15.0

# How long a check that something did NOT happen waits: many debounce
# times of 100 ms. A longer wait can only make such a check stricter.
QUIET = 1.5

OK = 'sluice_reloads_total{result="ok"}'
FAILED = 'sluice_reloads_total{result="failed"}'
GEN = "sluice_config_generation"
WATCHED = "sluice_config_watch_reloads_total"

# the refusals some tests provoke on purpose: the line saying so, and the
# errors after it, each prefixed "reload: "
REFUSED = (r"^watch: .* (is not valid|cannot start as it is); "
           r"generation \d+ keeps running$", r"^reload: ")


# ---------------------------------------------------------------------------
# Configurations and files


def routes(n):
    """The routes of version n: /v1/ ... /vN/ to cluster b, the rest to
    a. Every path answers 200 in every version; /vN/ tells whether
    version n runs (b) or an older one (a)."""
    out = [{"name": "v%d" % i, "match": {"path_prefix": "/v%d/" % i},
            "cluster": "b"} for i in range(1, n + 1)]
    return out + [{"name": "rest", "cluster": "a"}]


def watch_conf(a, b, n, aport, port=None, watch=True, debounce=DEBOUNCE,
               level=None, listeners_extra=()):
    """Version n of a configuration with clusters a and b, an admin
    listener on aport, and `watch`, `watch_debounce` (None: not written)
    first, so that a file cut short lacks clusters, not them. Returns
    (dict, listener port)."""
    cfg, port = make_config({"a": [a], "b": [b]}, routes=routes(n),
                            port=port, workers=2)
    for lst in listeners_extra:
        lst = dict(lst)
        lst["routes"] = routes(n)
        cfg["listeners"].append(sltest.listener_transport(lst))
    top = {}
    if watch is not None:
        top["watch"] = watch
    if debounce is not None:
        top["watch_debounce"] = debounce
    top["admin"] = {"address": "127.0.0.1:%d" % aport}
    top.update(cfg)
    if level:
        top["log"] = dict(top["log"], level=level)
    return top, port


def text(cfg):
    return to_yaml(cfg) + "\n"


def start_watching(cfg, path=None):
    """Starts sluice with -c path (default: sluice.yaml in a directory of
    its own, cfg written there; a given path must exist). Returns the
    Sluice."""
    sl = Sluice(cfg)
    sltest._register("sluices", sl)
    if path is None:
        path = os.path.join(tmpdir(), "sluice.yaml")
        with open(path, "w") as f:
            f.write(text(cfg))
    sl.conf_path = path
    return sl.start()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_in_place(path, data):
    """Truncates and writes the file where it is (its inode stays), as
    `>` in a shell does: one write between the open and the close."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def write_renamed(path, data):
    """Writes a new file beside path and renames it over path, as an
    editor saves."""
    if isinstance(data, str):
        data = data.encode()
    tmp = os.path.join(os.path.dirname(path),
                       ".%s.swp" % os.path.basename(path))
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class ConfigMap:
    """A directory laid out as the kubelet lays out a ConfigMap volume:
    D/sluice.yaml -> ..data/sluice.yaml, D/..data -> ..<timestamp>/, and
    an update as its atomic writer makes it: a new timestamped directory,
    a link ..data_tmp to it renamed over ..data, the old directory
    removed."""

    def __init__(self):
        self.dir = tmpdir()
        self.path = os.path.join(self.dir, "sluice.yaml")
        self.n = 0

    def update(self, data):
        self.n += 1
        ts = "..2024_01_01_00_00_%02d.%d" % (self.n, 1000 + self.n)
        os.mkdir(os.path.join(self.dir, ts))
        with open(os.path.join(self.dir, ts, "sluice.yaml"), "w") as f:
            f.write(data)
        data_link = os.path.join(self.dir, "..data")
        old = os.readlink(data_link) if os.path.lexists(data_link) else None
        tmp_link = os.path.join(self.dir, "..data_tmp")
        os.symlink(ts, tmp_link)
        os.rename(tmp_link, data_link)
        if not os.path.lexists(self.path):
            os.symlink("..data/sluice.yaml", self.path)
        if old is not None:
            shutil.rmtree(os.path.join(self.dir, old))


# ---------------------------------------------------------------------------
# What sluice says


def state(aport):
    """The reload counters and the generation: {ok, failed, gen, watch}."""
    m = metrics(aport)
    for k in (OK, FAILED, GEN, WATCHED):
        check(k in m, "metric %s missing from /metrics" % k)
    return {"ok": int(m[OK]), "failed": int(m[FAILED]), "gen": int(m[GEN]),
            "watch": int(m[WATCHED])}


def moved(s0, **d):
    """s0 with the counters named in d moved by d's values."""
    s = dict(s0)
    for k, v in d.items():
        s[k] += v
    return s


def wait_state(aport, want, what, timeout=SETTLE):
    """Waits until state(aport) is want; fails with what it was."""
    st = [None]

    def done():
        st[0] = state(aport)
        return st[0] == want
    check(wait_until(done, timeout, 0.05),
          "%s: counters %r after %.0fs, want %r" % (what, st[0], timeout,
                                                    want))


def wait_log(sl, pattern, since=0, count=1, timeout=SETTLE, what=""):
    """Waits until sluice's log after offset since has count lines
    matching pattern; returns the log after since."""
    rx = re.compile(pattern, re.M)
    log = [""]

    def found():
        log[0] = sl.stderr()[since:]
        return len(rx.findall(log[0])) >= count
    # the log first: the last line of a failure is its summary
    check(wait_until(found, timeout, 0.05),
          "log:\n%s\n%s: %d line(s) matching %r not logged within %.0fs"
          % (log[0][-3000:], what or "log", count, pattern, timeout))
    return log[0]


def check_applied_lines(sl, since, gen, sha, nl=1, nc=2, what=""):
    """The two info lines of a reload the watch started and applied, in
    that order, after offset since: "changed: reloading", then
    "generation gen from FILE: nl listener(s), nc cluster(s) (sha256
    sha)"."""
    p = re.escape(sl.conf_path)
    start = (r"^\S+ info: watch: %s or a file it names changed: "
             r"reloading$" % p)
    done = (r"^\S+ info: watch: generation %d from %s: %d %s, %d %s "
            r"\(sha256 %s\)$" % (gen, p, nl,
                                 "listener" if nl == 1 else "listeners",
                                 nc, "cluster" if nc == 1 else "clusters",
                                 sha))
    log = wait_log(sl, done, since, what=what + ": generation line")
    m1 = re.search(start, log, re.M)
    m2 = re.search(done, log, re.M)
    check(m1 and m1.start() < m2.start(),
          "log:\n%s\n%s: no 'watch: FILE or a file it names changed: "
          "reloading' before the generation line" % (log, what))


def upstream_at(port, path):
    r = get(port, path)
    eq(r.status, 200, "status of %s (body %r)" % (path, r.body[:200]))
    return r.json()["upstream"]


def wait_route(port, n, what, keep=None):
    """Waits until /vN/ reaches b on new connections (each worker takes
    a generation when it next runs its loop), then checks a few more and
    the keep-alive client keep, if given."""
    check(wait_until(lambda: upstream_at(port, "/v%d/w" % n) == "b",
                     SETTLE, 0.05),
          "%s: /v%d/ still not routed to b after %.0fs"
          % (what, n, SETTLE))
    for i in range(6):
        eq(upstream_at(port, "/v%d/n%d" % (n, i)), "b",
           "%s: /v%d/ on a new connection" % (what, n))
    if keep is not None:
        r = keep.request("GET", "/v%d/k" % n)
        eq((r.status, r.json()["upstream"]), (200, "b"),
           "%s: /v%d/ on a kept keep-alive connection" % (what, n))


def shown(aport):
    """/config's generation, sha256, watch and watch_debounce_ms."""
    j = get(aport, "/config").json()
    return (j.get("generation"), j.get("sha256"), j.get("watch"),
            j.get("watch_debounce_ms"))


def reload_lines(sl, since=0):
    """The lines saying a watch reload started, after offset since."""
    return re.findall(r"^\S+ info: watch: .* changed: reloading$",
                      sl.stderr()[since:], re.M)


# ---------------------------------------------------------------------------
# Certificates (once per run)

SNI = "watch.test"
_pki = []


def pki():
    """The CA and two certificates for watch.test, A and B (different
    subjects, different keys)."""
    if _pki:
        return _pki[0]
    if not have_openssl():
        raise Skip("the openssl command is not installed")
    p = Pki()
    p.ca("ca", "/O=Sluice Test/CN=Sluice Watch Test CA")
    p.leaf("A", "/O=Watch A/CN=%s" % SNI, "ca", [SNI])
    p.leaf("B", "/O=Watch B/CN=%s" % SNI, "ca", [SNI])
    _pki.append(p)
    return p


def der(name):
    with open(pki()[name].cert) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def install_cert(name, d):
    """Puts certificate `name` in d/site.pem and d/site.key: both files
    are written aside first, then renamed over the old ones one after the
    other. Returns (cert path, key path)."""
    p = pki()[name]
    cert, key = os.path.join(d, "site.pem"), os.path.join(d, "site.key")
    for src, dst in ((p.cert, cert), (p.key, key)):
        shutil.copyfile(src, dst + ".new")
        os.chmod(dst + ".new", 0o600)
    os.replace(key + ".new", key)
    os.replace(cert + ".new", cert)
    return cert, key


def served_der(port):
    """The certificate (DER) a new handshake with port gets."""
    c = TLSClient(port, sni=SNI, cafile=pki()["ca"].cert)
    try:
        return c.sock.getpeercert(binary_form=True)
    finally:
        c.close()


def tls_listener(d):
    """A listener "tls" on a free port with d's certificate."""
    return {"name": "tls", "address": "127.0.0.1:%d" % free_port(),
            "tls": {"certificates": [
                {"cert": os.path.join(d, "site.pem"),
                 "key": os.path.join(d, "site.key")}]}}


# ---------------------------------------------------------------------------
# Load


class Load:
    """Clients sending requests without a pause until stop(): keep-alive
    connections, each sending request after request, and threads opening
    a new connection for each request, to port and (if given) over TLS to
    tls_port. Every answer must be a 200 from upstream a or b; anything
    else, or an exception, is an error. A keep-alive connection that
    sluice closes after an answer (Connection: close) is opened again."""

    def __init__(self, port, tls_port=None, keepalive=3, fresh=2):
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.errors = []
        self.counts = {}
        self.threads = []
        kinds = [("ka", keepalive, lambda: Client(port)),
                 ("new", fresh, lambda: Client(port))]
        if tls_port is not None:
            ca = pki()["ca"].cert
            kinds += [("tls-ka", 1,
                       lambda: TLSClient(tls_port, sni=SNI, cafile=ca)),
                      ("tls-new", 1,
                       lambda: TLSClient(tls_port, sni=SNI, cafile=ca))]
        for kind, n, connect in kinds:
            self.counts[kind] = 0
            for k in range(n):
                t = threading.Thread(target=self._run,
                                     args=(kind, k, connect), daemon=True)
                self.threads.append(t)
        for t in self.threads:
            t.start()

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def _run(self, kind, k, connect):
        keep = kind.endswith("ka")
        c = None
        i = 0
        while not self.stopping.is_set():
            # the versions' routes and the catch-all in turn
            path = "/v%d/load-%s-%d-%d" % (i % 7 + 1, kind, k, i)
            try:
                if c is None:
                    c = connect()
                r = c.request("GET", path)
                up = r.json().get("upstream") if r.status == 200 else None
            except Exception as e:
                with self.lock:
                    self.errors.append("%s %d: request %d %s: %r"
                                       % (kind, k, i, path, e))
                return
            if r.status != 200 or up not in ("a", "b"):
                with self.lock:
                    self.errors.append("%s %d: request %d %s: %r"
                                       % (kind, k, i, path, r))
                return
            with self.lock:
                self.counts[kind] += 1
            if not keep or r.wants_close():
                c.close()
                c = None
            i += 1
        if c is not None:
            c.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)
        check(not any(t.is_alive() for t in self.threads),
              "a load thread did not end within 15s")

    def wait_traffic(self, what):
        """Waits until some requests were answered from now on: the load
        runs across what happens next."""
        n = self.total()
        check(wait_until(lambda: self.total() > n + 5 or self.errors,
                         SETTLE, 0.02),
              "no request answered within %.0fs %s" % (SETTLE, what))
        eq(self.errors, [], "client errors %s" % what)


# ---------------------------------------------------------------------------
# Off by default


@test
def off_by_default_a_valid_change_is_not_applied():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport, watch=None, debounce=None)
    sl = start_watching(cfg)
    s0 = state(aport)
    eq((s0["gen"], s0["watch"]), (1, 0), "(generation, watch reloads)")
    eq(shown(aport)[2:], (False, 1000), "/config watch, watch_debounce_ms")
    eq(upstream_at(port, "/v2/x"), "a", "/v2/ before")
    new, _ = watch_conf(a, b, 2, aport, port=port, watch=None, debounce=None)
    write_in_place(sl.conf_path, text(new))
    write_renamed(sl.conf_path, text(new))
    # a fixed wait: three times the default debounce, on top of which a
    # watch would need only its reload
    time.sleep(3.0)
    eq(state(aport), s0, "counters after a valid change, watch not set")
    eq(upstream_at(port, "/v2/x"), "a", "/v2/ after the change")
    eq(re.findall(r"^\S+ \w+: watch: .*$", sl.stderr(), re.M), [],
       "watch lines in the log")
    # the file was valid: a SIGHUP applies it
    res, log = sltest.sighup_reload(sl, aport)
    eq(res, "ok", "SIGHUP after the change; log:\n%s" % log)
    wait_route(port, 2, "after the SIGHUP")
    eq(state(aport), moved(s0, ok=1, gen=1), "counters after the SIGHUP")


# ---------------------------------------------------------------------------
# Each way a file is replaced


@test
def write_in_place_reloads():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport)
    sl = start_watching(cfg)
    s0 = state(aport)
    eq((s0["gen"], s0["ok"], s0["failed"], s0["watch"]), (1, 0, 0, 0),
       "counters at start")
    gen, sha, watch, debounce = shown(aport)
    eq((gen, sha, watch, debounce), (1, sha256(text(cfg).encode()), True,
                                     100), "/config at start")
    check(re.search(r"^\S+ info: watch: following %s and the files it "
                    r"names$" % re.escape(sl.conf_path), sl.stderr(), re.M),
          "no 'watch: following FILE' line at start")
    keep = Client(port)
    eq(keep.request("GET", "/v2/k").json()["upstream"], "a", "/v2/ before")
    ino = os.stat(sl.conf_path).st_ino
    new, _ = watch_conf(a, b, 2, aport, port=port)
    data = text(new).encode()
    n0 = len(sl.stderr())
    write_in_place(sl.conf_path, data)
    eq(os.stat(sl.conf_path).st_ino, ino, "inode after a write in place")
    wait_state(aport, moved(s0, ok=1, gen=1, watch=1), "write in place")
    check_applied_lines(sl, n0, 2, sha256(data), what="write in place")
    wait_route(port, 2, "write in place", keep)
    eq(shown(aport)[:2], (2, sha256(data)), "/config generation, sha256")
    # the reload's own events (and its log lines) start nothing more
    time.sleep(QUIET)
    eq(state(aport), moved(s0, ok=1, gen=1, watch=1),
       "counters a while after the reload")
    eq(len(reload_lines(sl, n0)), 1, "watch reloads started in the log")


@test
def editor_rename_over_reloads():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport)
    sl = start_watching(cfg)
    s = state(aport)
    keep = Client(port)
    eq(keep.request("GET", "/v2/k").json()["upstream"], "a", "/v2/ before")
    # twice: the second change is to a file the first rename brought in
    for n in (2, 3):
        ino = os.stat(sl.conf_path).st_ino
        new, _ = watch_conf(a, b, n, aport, port=port)
        data = text(new).encode()
        n0 = len(sl.stderr())
        write_renamed(sl.conf_path, data)
        check(os.stat(sl.conf_path).st_ino != ino,
              "the rename left the inode as it was")
        s = moved(s, ok=1, gen=1, watch=1)
        what = "rename over, version %d" % n
        wait_state(aport, s, what)
        check_applied_lines(sl, n0, n, sha256(data), what=what)
        wait_route(port, n, what, keep)
        eq(shown(aport)[:2], (n, sha256(data)), "/config after " + what)
    time.sleep(QUIET)
    eq(state(aport), s, "counters a while after the renames")


@test
def delete_and_create_again_reloads():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport)
    sl = start_watching(cfg)
    sl.expect_errors(*REFUSED)
    s0 = state(aport)
    n0 = len(sl.stderr())
    os.unlink(sl.conf_path)
    # the missing file is tried, and refused; generation 1 serves on
    wait_state(aport, moved(s0, failed=1, watch=1), "file deleted")
    wait_log(sl, r"^\S+ error: watch: %s is not valid; generation 1 keeps "
             r"running$" % re.escape(sl.conf_path), n0,
             what="file deleted")
    eq(upstream_at(port, "/v2/x"), "a", "/v2/ while the file is missing")
    new, _ = watch_conf(a, b, 2, aport, port=port)
    data = text(new).encode()
    n1 = len(sl.stderr())
    write_in_place(sl.conf_path, data)
    wait_state(aport, moved(s0, ok=1, failed=1, gen=1, watch=2),
               "file created again")
    check_applied_lines(sl, n1, 2, sha256(data), what="file created again")
    wait_route(port, 2, "file created again")


@test
def configmap_symlink_swaps_reload_twice():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cm = ConfigMap()
    cfg, port = watch_conf(a, b, 1, aport)
    cm.update(text(cfg))
    check(os.path.islink(cm.path) and
          os.path.islink(os.path.join(cm.dir, "..data")),
          "ConfigMap layout: links")
    sl = start_watching(cfg, cm.path)
    s = state(aport)
    eq(s["gen"], 1, "generation at start")
    load = Load(port)
    try:
        load.wait_traffic("before the first swap")
        for n in (2, 3):
            new, _ = watch_conf(a, b, n, aport, port=port)
            data = text(new).encode()
            n0 = len(sl.stderr())
            cm.update(data.decode())
            eq(os.readlink(os.path.join(cm.dir, "..data")),
               "..2024_01_01_00_00_%02d.%d" % (n, 1000 + n),
               "..data after the swap")
            s = moved(s, ok=1, gen=1, watch=1)
            what = "ConfigMap swap %d" % (n - 1)
            wait_state(aport, s, what)
            check_applied_lines(sl, n0, n, sha256(data), what=what)
            wait_route(port, n, what)
            eq(shown(aport)[:2], (n, sha256(data)), "/config after " + what)
            load.wait_traffic("after " + what)
    finally:
        load.stop()
    eq(load.errors, [], "client errors during the swaps")
    time.sleep(QUIET)
    eq(state(aport), s, "counters a while after the swaps")


# ---------------------------------------------------------------------------
# A half-written file


@test
def half_written_file_refused_then_applied():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport)
    sl = start_watching(cfg)
    sl.expect_errors(*REFUSED)
    s0 = state(aport)
    keep = Client(port)
    new, _ = watch_conf(a, b, 2, aport, port=port)
    data = text(new).encode()
    # cut in the middle of the last key of the last cluster: the YAML
    # ends on a line without its ':', and cluster b, which the routes
    # name, is not complete
    cut = data.rindex(b"endpoints") + 4
    head, tail = data[:cut], data[cut:]
    last = head.count(b"\n") + 1
    n0 = len(sl.stderr())
    fd = os.open(sl.conf_path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, head)
        # refused, with an error on the line the file ends on
        log = wait_log(sl, r"^\S+ error: reload: %s:%d:\d+: error: "
                       % (re.escape(sl.conf_path), last), n0,
                       what="half-written file")
        check(re.search(r"^\S+ error: watch: %s is not valid; generation 1 "
                        r"keeps running$" % re.escape(sl.conf_path), log,
                        re.M),
              "no 'watch: FILE is not valid; generation 1 keeps running' "
              "line; log:\n%s" % log)
        s1 = state(aport)
        eq((s1["ok"], s1["gen"]), (s0["ok"], s0["gen"]),
           "(ok, generation) after the half-written file")
        check(s1["failed"] > s0["failed"], "no refused reload counted")
        # not tried again while it stays as it is; the old generation
        # serves on
        time.sleep(QUIET)
        eq(state(aport), s1, "counters while the file stays half-written")
        refusals = re.findall(r"^\S+ error: watch: .* is not valid;",
                              sl.stderr()[n0:], re.M)
        eq(len(refusals), s1["failed"] - s0["failed"],
           "refusals in the log vs the counter")
        eq(s1["watch"] - s0["watch"], len(refusals),
           "watch reloads vs refusals")
        eq(upstream_at(port, "/v2/x"), "a", "/v2/ on a new connection while "
           "the file is half-written")
        eq(keep.request("GET", "/v2/k").json()["upstream"], "a",
           "/v2/ on a keep-alive connection while the file is half-written")
        eq(shown(aport)[:2], (1, sha256(text(cfg).encode())),
           "/config while the file is half-written")
        n1 = len(sl.stderr())
        os.write(fd, tail)
    finally:
        os.close(fd)
    wait_state(aport, moved(s1, ok=1, gen=1, watch=1), "the rest written")
    check_applied_lines(sl, n1, 2, sha256(data), what="the rest written")
    wait_route(port, 2, "the rest written", keep)


# ---------------------------------------------------------------------------
# A certificate replaced


@test
def certificate_replaced_is_served():
    pki()
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    d = tmpdir()
    install_cert("A", d)
    lst = tls_listener(d)
    tport = int(lst["address"].rsplit(":", 1)[1])
    cfg, port = watch_conf(a, b, 1, aport, listeners_extra=[lst])
    sl = start_watching(cfg)
    # two renames cannot be one: a debounce that ends between them finds
    # the new key with the old certificate, which is refused until the
    # certificate follows (counted below)
    sl.expect_errors(*REFUSED)
    s0 = state(aport)
    sha = sha256(text(cfg).encode())
    check(der("A") != der("B"), "certificates A and B are the same")
    eq(served_der(tport), der("A"), "certificate at start")
    old = TLSClient(tport, sni=SNI, cafile=pki()["ca"].cert)
    eq(old.request("GET", "/1").status, 200, "request before the change")
    conf_before = read_bytes(sl.conf_path)
    n0 = len(sl.stderr())
    install_cert("B", d)
    check(wait_until(lambda: served_der(tport) == der("B"), SETTLE, 0.05),
          "new handshakes still get certificate A after %.0fs" % SETTLE)
    eq(read_bytes(sl.conf_path), conf_before,
       "the configuration file changed")
    refused = len(re.findall(r"^\S+ error: watch: .* cannot start as it is;",
                             sl.stderr()[n0:], re.M))
    wait_state(aport, moved(s0, ok=1, failed=refused, gen=1,
                            watch=1 + refused), "certificate replaced")
    check_applied_lines(sl, n0, 2, sha, nl=2, what="certificate replaced")
    eq(shown(aport)[:2], (2, sha), "/config: generation 2, the same file")
    for i in range(4):
        eq(served_der(tport), der("B"), "certificate of new handshake %d" % i)
    # the connection made before keeps its certificate and is served on
    eq(old.sock.getpeercert(binary_form=True), der("A"),
       "certificate of the connection made before")
    eq(old.request("GET", "/2").status, 200, "old connection after the "
       "change")
    time.sleep(QUIET)
    eq(state(aport), moved(s0, ok=1, failed=refused, gen=1,
                           watch=1 + refused),
       "counters a while after the change")


# ---------------------------------------------------------------------------
# What reloads nothing


@test
def same_bytes_and_touch_reload_nothing():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport, level="debug")
    sl = start_watching(cfg)
    s = state(aport)
    nochange = (r"^\S+ debug: watch: no change in %s or the files it names$"
                % re.escape(sl.conf_path))
    path = sl.conf_path

    def touch():
        os.utime(path)

    def unchanged(data, what):
        ways = [("written in place", lambda: write_in_place(path, data)),
                ("touched", touch),
                ("renamed over", lambda: write_renamed(path, data))]
        for way, do in ways:
            seen = len(re.findall(nochange, sl.stderr(), re.M))
            do()
            # the watch saw it and found the files as they were
            wait_log(sl, nochange, count=seen + 1,
                     what="%s, the same bytes %s" % (what, way))
        time.sleep(QUIET)
        eq(state(aport), s, "counters after the same bytes (%s)" % what)

    n0 = len(sl.stderr())
    unchanged(text(cfg).encode(), "version 1")
    eq(reload_lines(sl, n0), [], "watch reloads of the same bytes")
    # the watch is alive: a change applies, and its bytes again do nothing
    new, _ = watch_conf(a, b, 2, aport, port=port, level="debug")
    data = text(new).encode()
    n1 = len(sl.stderr())
    write_in_place(path, data)
    s = moved(s, ok=1, gen=1, watch=1)
    wait_state(aport, s, "version 2")
    check_applied_lines(sl, n1, 2, sha256(data), what="version 2")
    wait_route(port, 2, "version 2")
    n2 = len(sl.stderr())
    unchanged(data, "version 2")
    eq(reload_lines(sl, n2), [], "watch reloads of the same bytes")


@test
def a_reload_naming_new_files_leaves_no_change_behind():
    # the files a reload adds (a listener's certificate) are taken as
    # they were read: the next event finds no change
    pki()
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport, level="debug")
    sl = start_watching(cfg)
    s = state(aport)
    d = tmpdir()
    install_cert("A", d)
    lst = tls_listener(d)
    new, _ = watch_conf(a, b, 2, aport, port=port, level="debug",
                        listeners_extra=[lst])
    data = text(new).encode()
    n0 = len(sl.stderr())
    write_in_place(sl.conf_path, data)
    s = moved(s, ok=1, gen=1, watch=1)
    wait_state(aport, s, "a second listener, with a certificate")
    check_applied_lines(sl, n0, 2, sha256(data), nl=2,
                        what="a second listener")
    nochange = (r"^\S+ debug: watch: no change in %s or the files it names$"
                % re.escape(sl.conf_path))
    seen = len(re.findall(nochange, sl.stderr(), re.M))
    os.utime(sl.conf_path)
    wait_log(sl, nochange, count=seen + 1, what="a touch after it")
    time.sleep(QUIET)
    eq(state(aport), s, "counters after the touch")


@test
def sighup_after_an_edit_is_not_reloaded_again():
    # A SIGHUP that loads an edit before the watch's debounce ends: when
    # it ends, the files are what that reload read
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport, debounce="3s", level="debug")
    sl = start_watching(cfg)
    s0 = state(aport)
    new, _ = watch_conf(a, b, 2, aport, port=port, debounce="3s",
                        level="debug")
    data = text(new).encode()
    n0 = len(sl.stderr())
    write_in_place(sl.conf_path, data)
    sl.send_signal(signal.SIGHUP)
    wait_log(sl, r"^\S+ info: reload: generation \d+ from ", n0,
             what="SIGHUP")
    if reload_lines(sl, n0):
        raise Skip("the SIGHUP was handled after the debounce of 3s: this "
                   "machine is too slow for the test")
    wait_log(sl, r"^\S+ debug: watch: no change in %s or the files it "
             r"names$" % re.escape(sl.conf_path), n0,
             what="the edit's events")
    time.sleep(QUIET)
    eq(state(aport), moved(s0, ok=1, gen=1), "counters after the edit's "
       "events")
    eq(reload_lines(sl, n0), [], "watch reloads")
    eq(shown(aport)[:2], (2, sha256(data)), "/config")


@test
def the_loaded_bytes_put_back_after_a_refused_edit_reload_nothing():
    # issue 41: a bad edit was refused, then the bytes generation 1 was
    # loaded from were put back; the watch compared them with the refused
    # edit, not with what runs, and loaded them again as generation 2
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport)
    sl = start_watching(cfg)
    sl.expect_errors(*REFUSED)
    path = sl.conf_path
    good = read_bytes(path)
    s0 = state(aport)
    eq(s0["gen"], 1, "generation at start")
    n0 = len(sl.stderr())
    # renamed over, not written in place: a debounce that ended between
    # the truncation and the write would try an empty file too
    write_renamed(path, good + b"no_such_key: 1\n")
    wait_log(sl, r"^\S+ error: watch: %s is not valid; generation 1 keeps "
             r"running$" % re.escape(path), n0, what="the bad edit")
    s1 = state(aport)
    eq(s1, moved(s0, failed=1, watch=1), "counters after the bad edit")
    n1 = len(sl.stderr())
    write_renamed(path, good)
    # the line saying the files are what runs, or (the defect) the next
    # generation: whichever comes first, then what it was
    back = (r"^\S+ info: watch: %s and the files it names are as "
            r"generation 1 loaded them \(sha256 %s\): nothing to reload$"
            % (re.escape(path), sha256(good)))
    check(wait_until(lambda: re.search(back, sl.stderr()[n1:], re.M) or
                     state(aport)["gen"] != 1, SETTLE, 0.05),
          "the bytes put back: neither a line nor a generation within "
          "%.0fs; log:\n%s" % (SETTLE, sl.stderr()[n1:]))
    eq(reload_lines(sl, n1), [], "watch reloads of the bytes generation 1 "
       "was loaded from")
    eq(state(aport), s1, "counters after the loaded bytes were put back")
    eq(shown(aport)[:2], (1, sha256(good)), "/config")
    # and nothing later either; a touch now is no change at all
    os.utime(path)
    time.sleep(QUIET)
    eq(state(aport), s1, "counters a while after")
    eq(len(re.findall(back, sl.stderr()[n1:], re.M)), 1,
       "'as generation 1 loaded them' lines")
    # the bad edit again is a change from what was last tried: refused
    # again, not held back as already tried
    n2 = len(sl.stderr())
    write_renamed(path, good + b"no_such_key: 1\n")
    wait_log(sl, r"^\S+ error: watch: %s is not valid; generation 1 keeps "
             r"running$" % re.escape(path), n2, what="the bad edit again")
    wait_state(aport, moved(s1, failed=1, watch=1), "the bad edit again")


@test
def watch_turned_on_and_off_by_reloads():
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport, watch=False, level="debug")
    sl = start_watching(cfg)
    s = state(aport)
    eq(shown(aport)[2:], (False, 100), "/config watch at start")
    # on by a SIGHUP: the first event after it is judged against what
    # runs, and a touch changes nothing
    on, _ = watch_conf(a, b, 2, aport, port=port, level="debug")
    write_in_place(sl.conf_path, text(on))
    res, log = sltest.sighup_reload(sl, aport)
    eq(res, "ok", "SIGHUP turning the watch on; log:\n%s" % log)
    s = moved(s, ok=1, gen=1)
    wait_log(sl, r"^\S+ info: watch: following %s and the files it names$"
             % re.escape(sl.conf_path), what="watch turned on")
    eq(shown(aport)[2:], (True, 100), "/config watch after the SIGHUP")
    n0 = len(sl.stderr())
    os.utime(sl.conf_path)
    wait_log(sl, r"^\S+ debug: watch: no change in ", n0,
             what="touch after the watch was turned on")
    time.sleep(QUIET)
    eq(state(aport), s, "counters after a touch")
    # off by the watch itself: applied, and what follows is not watched
    off, _ = watch_conf(a, b, 3, aport, port=port, watch=False,
                        level="debug")
    data = text(off).encode()
    n1 = len(sl.stderr())
    write_in_place(sl.conf_path, data)
    s = moved(s, ok=1, gen=1, watch=1)
    wait_state(aport, s, "watch turned off")
    check_applied_lines(sl, n1, 3, sha256(data), what="watch turned off")
    wait_log(sl, r"^\S+ info: watch: off$", n1, what="watch turned off")
    eq(shown(aport)[2:], (False, 100), "/config watch after it was off")
    later, _ = watch_conf(a, b, 4, aport, port=port, watch=False,
                          level="debug")
    n2 = len(sl.stderr())
    write_in_place(sl.conf_path, text(later))
    time.sleep(3.0)
    eq(state(aport), s, "counters after a change with the watch off")
    eq(re.findall(r"^\S+ \w+: watch: .*$", sl.stderr()[n2:], re.M), [],
       "watch lines after it was turned off")


# ---------------------------------------------------------------------------
# Under load


@test
def every_kind_of_change_under_load_loses_nothing():
    pki()
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    d = tmpdir()
    install_cert("A", d)
    lst = tls_listener(d)
    tport = int(lst["address"].rsplit(":", 1)[1])

    cfg, port = watch_conf(a, b, 1, aport, listeners_extra=[lst])

    def version(n):
        return text(watch_conf(a, b, n, aport, port=port,
                               listeners_extra=[lst])[0]).encode()
    data = version(1)
    sl = start_watching(cfg)
    path = sl.conf_path
    sl.expect_errors(*REFUSED)
    eq(state(aport)["gen"], 1, "generation at start")
    load = Load(port, tport)
    n = 1

    def applied(what):
        check_applied_lines(sl, n0, state(aport)["gen"], sha256(data),
                            nl=2, what=what)
        wait_route(port, n, what)
        load.wait_traffic("after " + what)

    try:
        load.wait_traffic("at start")
        n, data = 2, version(2)
        n0 = len(sl.stderr())
        write_in_place(path, data)
        wait_log(sl, r"^\S+ info: watch: generation 2 ", n0,
                 what="write in place")
        applied("write in place")

        n, data = 3, version(3)
        n0 = len(sl.stderr())
        write_renamed(path, data)
        wait_log(sl, r"^\S+ info: watch: generation 3 ", n0,
                 what="rename over")
        applied("rename over")

        n, data = 4, version(4)
        n0 = len(sl.stderr())
        os.unlink(path)
        wait_log(sl, r"^\S+ error: watch: .* is not valid; generation 3 ",
                 n0, what="file deleted")
        load.wait_traffic("while the file is missing")
        write_in_place(path, data)
        wait_log(sl, r"^\S+ info: watch: generation 4 ", n0,
                 what="file created again")
        applied("file created again")

        n, data = 5, version(5)
        n0 = len(sl.stderr())
        cut = data.rindex(b"endpoints") + 4
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, data[:cut])
            wait_log(sl, r"^\S+ error: reload: %s:%d:\d+: error: "
                     % (re.escape(path), data[:cut].count(b"\n") + 1), n0,
                     what="half-written file")
            load.wait_traffic("while the file is half-written")
            os.write(fd, data[cut:])
        finally:
            os.close(fd)
        wait_log(sl, r"^\S+ info: watch: generation 5 ", n0,
                 what="the rest written")
        applied("the rest written")

        s = state(aport)
        n0 = len(sl.stderr())
        write_in_place(path, data)
        os.utime(path)
        write_renamed(path, data)
        load.wait_traffic("after the same bytes")
        time.sleep(QUIET)
        eq(state(aport), s, "counters after the same bytes")
        eq(reload_lines(sl, n0), [], "watch reloads of the same bytes")

        n0 = len(sl.stderr())
        install_cert("B", d)
        check(wait_until(lambda: served_der(tport) == der("B"), SETTLE,
                         0.05),
              "new handshakes still get certificate A after %.0fs" % SETTLE)
        wait_log(sl, r"^\S+ info: watch: generation 6 ", n0,
                 what="certificate replaced")
        applied("certificate replaced")
    finally:
        load.stop()
    eq(load.errors, [], "client errors during the changes")
    s = state(aport)
    eq((s["gen"], s["ok"]), (6, 5), "(generation, ok) at the end")
    eq(s["watch"], s["ok"] + s["failed"], "watch reloads vs all reloads")
    sys.stdout.write("# requests answered under load: %r\n" % load.counts)
    answered = sum(load.counts.values())
    at_upstreams = sum(1 for u in (a, b) for p in u.paths() if "/load-" in p)
    eq(at_upstreams, answered, "load requests at the upstreams vs answered")


# ---------------------------------------------------------------------------
# Neighbours


@test
def busy_file_beside_the_configuration_does_not_hold_a_change_back():
    # "How long the files must be quiet": the configuration's, not its
    # directory's. A log written beside it (a working directory, the
    # access log of a busy gateway, sluice's own stderr) changes more
    # often than the debounce, all the time.
    a, b = Upstream("a"), Upstream("b")
    aport = free_port()
    cfg, port = watch_conf(a, b, 1, aport)
    sl = start_watching(cfg)
    s0 = state(aport)
    busy = os.path.join(os.path.dirname(sl.conf_path), "busy.log")
    stop = threading.Event()

    def writer():
        with open(busy, "a") as f:
            while not stop.is_set():
                f.write("a line\n")
                f.flush()
                time.sleep(0.02)
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        time.sleep(0.3)
        new, _ = watch_conf(a, b, 2, aport, port=port)
        data = text(new).encode()
        n0 = len(sl.stderr())
        write_in_place(sl.conf_path, data)
        wait_state(aport, moved(s0, ok=1, gen=1, watch=1),
                   "a change while busy.log beside it is written every "
                   "20 ms")
        check_applied_lines(sl, n0, 2, sha256(data), what="busy neighbour")
    finally:
        stop.set()
        t.join(5)


if __name__ == "__main__":
    main()
