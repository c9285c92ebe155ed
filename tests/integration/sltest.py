# SPDX-License-Identifier: MIT
"""
Integration test harness for sluice: the real binary, real sockets.

Python 3 standard library only.  Provides
  - a tiny test runner (ok / not ok lines, "N passed, N failed", exit 0/1/77)
  - Sluice: writes a YAML file, starts $SLUICE -c FILE, waits for the
    listeners, stops it with SIGTERM and checks exit status 0 and the absence
    of sanitizer reports
  - Upstream: a raw-socket HTTP/1.1 server thread that counts accepts and
    records every request it receives, with scriptable replies
  - Client: a buffered raw-socket client that reads responses with their
    framing (Content-Length, chunked, close-delimited, 1xx, HEAD, 204/304)
  - curl() helper

Every blocking operation has a timeout; a watchdog kills a test that runs
too long.

The transport of the listeners is a parameter of the harness: the
environment variable SLTEST_TRANSPORT, "plain" (the default) or "tls".
Under "tls" make_config (and listener_transport, for listeners a test
adds itself) gives each listener a `tls:` block with a throwaway
certificate for test.local and 127.0.0.1, signed by a CA made at the
first use (openssl command, temporary directory), and records the port;
Client, get(), read_in_bursts() and curl() then speak TLS to that port
(SNI test.local, the chain and the name verified against that CA) and
plain TCP to every other one (admin listeners, upstreams). So the same
test function runs over both transports; a test that cannot run over TLS
by nature raises Skip when over_tls() says so, with its reason.
SLTEST_LOG_LEVEL sets the log level of the sluice a test starts (default
info; debug shows every state change in a failing test's report).
make check runs test_proxy, test_bodies, test_wire, test_budgets,
test_retry and test_reload both ways: tls_test_*.py set the variable and
run the plain file. By hand:
    SLTEST_TRANSPORT=tls SLUICE=build/src/sluice \
        python3 tests/integration/test_proxy.py [TEST ...]
"""

import errno
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# ---------------------------------------------------------------------------
# Environment

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or os.getcwd()


def sluice_path():
    p = os.environ.get("SLUICE")
    if p:
        return p
    return os.path.join(TOP_BUILDDIR, "src", "sluice")


SOCK_TIMEOUT = 5.0          # default timeout of every client socket
TEST_TIMEOUT = 60.0         # watchdog per test
DEFAULT_DRAIN = "5s"        # drain_timeout written into test configs

# ---------------------------------------------------------------------------
# Runner

_tests = []
_current = None             # per-test resources (see _Ctx)


class Skip(Exception):
    pass


def transport():
    """The transport of the listeners make_config writes: SLTEST_TRANSPORT,
    "plain" (unset) or "tls"."""
    t = os.environ.get("SLTEST_TRANSPORT") or "plain"
    if t not in ("plain", "tls"):
        raise ValueError("SLTEST_TRANSPORT=%r: want plain or tls" % t)
    return t


def over_tls():
    return transport() == "tls"


def scheme():
    """What X-Forwarded-Proto (and a URL) says for the test's listeners."""
    return "https" if over_tls() else "http"


# the ports of the listeners the current test gave TLS (listener_transport)
_tls_ports = set()


class _Ctx:
    def __init__(self, name):
        self.name = name
        self.sluices = []
        self.upstreams = []
        self.clients = []
        self.tmpdirs = []

    def cleanup(self):
        """Closes clients, stops upstreams, stops sluices (checking their
        exit status). Returns a list of problems (strings)."""
        problems = []
        for c in self.clients:
            c.close()
        for u in self.upstreams:
            u.stop()
        for s in self.sluices:
            if s.proc is not None and s.proc.poll() is None:
                try:
                    s.stop()
                except AssertionError as e:
                    problems.append(str(e))
            else:
                if s.proc is not None and s.rc is None and s.expect_running:
                    problems.append("sluice died during the test (status %s)"
                                    % s.proc.returncode)
                p = s.sanitizer_problem(leaks=s.expect_running)
                if p:
                    problems.append(p)
        return problems

    def dump(self):
        for s in self.sluices:
            s.dump()


def test(fn):
    """Decorator: registers a test case."""
    _tests.append(fn)
    return fn


_watchdog_hooks = []


def on_watchdog(fn):
    """Registers fn to run when a test's watchdog fires, before the
    script exits without its atexit handlers (os._exit): what a test
    started that sltest does not track (the processes an upgrade starts)
    must not outlive it."""
    _watchdog_hooks.append(fn)
    return fn


def _watchdog(name, timeout):
    def fire():
        sys.stdout.write("not ok - %s # watchdog: test ran longer than %ds\n"
                         % (name, timeout))
        try:
            import faulthandler
            faulthandler.dump_traceback(all_threads=True)
        except Exception:
            pass
        if _current is not None:
            _current.dump()
            for s in _current.sluices:
                s.kill()
        for hook in _watchdog_hooks:
            try:
                hook()
            except Exception:
                pass
        sys.stdout.flush()
        os._exit(1)
    t = threading.Timer(timeout, fire)
    t.daemon = True
    t.start()
    return t


def main():
    """Runs the registered tests (or those named on the command line)."""
    global _current
    names = sys.argv[1:]
    sel = [t for t in _tests if not names or t.__name__ in names]
    binary = sluice_path()
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print("not ok - sluice binary not found at %s (set SLUICE)" % binary)
        print("0 passed, 1 failed")
        sys.exit(1)
    passed = failed = skipped = 0
    why_failed = []
    print("# transport: %s" % transport())
    for fn in sel:
        name = fn.__name__
        _current = _Ctx(name)
        _tls_ports.clear()
        wd = _watchdog(name, TEST_TIMEOUT)
        err = None
        skipmsg = None
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipmsg = str(e)
        except Exception:
            err = traceback.format_exc()
        problems = _current.cleanup()
        if problems and err is None:
            err = "cleanup: " + "\n".join(problems)
        wd.cancel()
        dt = time.monotonic() - t0
        if skipmsg is not None and err is None:
            skipped += 1
            print("ok - %s # SKIP %s" % (name, skipmsg))
        elif err is None:
            passed += 1
            print("ok - %s (%.2fs)" % (name, dt))
        else:
            failed += 1
            print("not ok - %s (%.2fs)" % (name, dt))
            for line in err.rstrip().splitlines():
                print("#   " + line)
            _current.dump()
            why_failed.append("%s: %s" % (name,
                                          err.rstrip().splitlines()[-1]))
        for d in _current.tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
        _current = None
        sys.stdout.flush()
    # the failures again, one line each, last: a CI log that shows only
    # the end of a test's log still says what broke
    for w in why_failed:
        print("# FAILED %s" % w[:400])
    print("%d passed, %d failed" % (passed, failed))
    if failed:
        sys.exit(1)
    if passed == 0 and skipped > 0:
        sys.exit(77)
    sys.exit(0)


def _register(kind, obj):
    if _current is not None:
        getattr(_current, kind).append(obj)
    return obj


def tmpdir():
    d = tempfile.mkdtemp(prefix="sltest-")
    _register("tmpdirs", d)
    return d


# ---------------------------------------------------------------------------
# Small helpers


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


_ports_given = set()


def free_port():
    """A free port for a sluice listener, chosen outside the ephemeral
    range so that the kernel does not hand it out to another socket (an
    upstream, an outgoing connection, a parallel test) before sluice binds
    it. Never the same port twice in one process: two random picks for one
    configuration (a listener and the admin) were once the same port, and
    sluice refused the file."""
    import random
    lo, hi = _ephemeral_range()
    cands = [(1025, lo - 1), (hi + 1, 65535)]
    cands = [(a, b) for a, b in cands if b - a > 1000]
    for _ in range(200):
        if cands:
            a, b = random.choice(cands)
            port = random.randint(max(a, 10000) if b > 10000 else a, b)
        else:
            port = 0
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            port = s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
        if port not in _ports_given and connect_refused(port, 0.2) \
                and _claim_port(port):
            _ports_given.add(port)
            return port
    raise AssertionError("no free port found")


_CLAIM_DIR = os.path.join(tempfile.gettempdir(),
                          "sluice-test-ports-%d" % os.getuid())
_CLAIM_S = 600  # seconds a claim holds a port from other test processes


def _claim_port(port):
    """Whether port is this process's to give: no other test process
    (make check runs two at once) gave it in the last _CLAIM_S seconds.
    Both could find it free between the check above and the bind of the
    server they give it to (a Node upstream once failed EADDRINUSE so);
    a file made with O_EXCL gives it to one. An old claim is taken
    over."""
    try:
        os.makedirs(_CLAIM_DIR, exist_ok=True)
    except OSError:
        return True
    path = os.path.join(_CLAIM_DIR, str(port))
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        pass
    except OSError:
        return True
    try:
        if time.time() - os.stat(path).st_mtime < _CLAIM_S:
            return False
        # an old claim: taken over by whoever renames it first
        tmp = "%s.%d" % (path, os.getpid())
        os.rename(path, tmp)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(tmp)
        return True
    except OSError:
        return False


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def wait_until(pred, timeout=3.0, interval=0.02):
    """Polls pred() until true or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: expected %r, got %r" % (what or "value",
                                                          want, got))


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# what recv() on a non-blocking socket raises when there is nothing to
# read: plain TCP, TLS
WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


# ---------------------------------------------------------------------------
# YAML emitter (block style) for test configurations

_PLAIN = re.compile(r"^[A-Za-z0-9_./\-\[\]:*]+$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "true", "false", "null",
               "~"}


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if (_PLAIN.match(s) and s.lower() not in _YAML_WORDS
            and not s.startswith(("[", "*", "-", ":")) and ": " not in s
            and not s.endswith(":")):
        return s
    return json.dumps(s)


def to_yaml(v, indent=0):
    pad = "  " * indent
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append("%s%s:" % (pad, _scalar(k)))
                out.append(to_yaml(x, indent + 1))
            elif isinstance(x, dict):
                out.append("%s%s: {}" % (pad, _scalar(k)))
            elif isinstance(x, list):
                out.append("%s%s: []" % (pad, _scalar(k)))
            else:
                out.append("%s%s: %s" % (pad, _scalar(k), _scalar(x)))
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)) and x:
                inner = to_yaml(x, indent + 1).splitlines()
                first = inner[0][len(pad) + 2:]
                out.append("%s- %s" % (pad, first))
                out.extend(inner[1:])
            else:
                out.append("%s- %s" % (pad, _scalar(x)))
    else:
        out.append(pad + _scalar(v))
    return "\n".join(out)


def addr(x):
    """An Upstream, a port number or an address string -> 'HOST:PORT'."""
    if isinstance(x, Upstream):
        return x.addr
    if isinstance(x, int):
        return "127.0.0.1:%d" % x
    return x


def make_config(clusters, routes=None, limits=None, workers=1, port=None,
                access_log=None, cluster_opts=None, extra=None,
                listener_name="main", listener_opts=None):
    """Builds a config dict with one listener.

    clusters: {name: [Upstream | port | "h:p" | (x, weight), ...]}
    routes:   list of route dicts; default: one catch-all route to the
              first cluster, named "main".
    listener_opts: further keys of the listener (e.g. {"tls": {...}}).
    Under SLTEST_TRANSPORT=tls a listener without "tls" gets the harness's
    (listener_transport).
    Returns (config dict, listener port).
    """
    port = port or free_port()
    cl = []
    for name, eps in clusters.items():
        e = []
        for x in eps:
            if isinstance(x, tuple):
                e.append({"address": addr(x[0]), "weight": x[1]})
            else:
                e.append(addr(x))
        c = {"name": name, "endpoints": e}
        if cluster_opts and name in cluster_opts:
            c.update(cluster_opts[name])
        cl.append(c)
    if routes is None:
        routes = [{"name": "main", "cluster": next(iter(clusters))}]
    lst = {"name": listener_name, "address": "127.0.0.1:%d" % port}
    if limits:
        lst["limits"] = limits
    lst["routes"] = routes
    if listener_opts:
        lst.update(listener_opts)
    listener_transport(lst)
    cfg = {}
    if workers is not None:
        cfg["workers"] = workers
    cfg["drain_timeout"] = DEFAULT_DRAIN
    log = {"level": os.environ.get("SLTEST_LOG_LEVEL", "info")}
    if access_log:
        log["access"] = access_log
        log["access_format"] = "json"
    else:
        log["access"] = "off"
    cfg["log"] = log
    cfg["listeners"] = [lst]
    cfg["clusters"] = cl
    if extra:
        cfg.update(extra)
    return cfg, port


# ---------------------------------------------------------------------------
# The daemon

_all_procs = []


def _kill_all():
    for p in _all_procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass


import atexit  # noqa: E402
atexit.register(_kill_all)


def sanitized(pid):
    """Whether the process runs with a sanitizer's runtime (AddressSanitizer
    makes sluice two to three times slower, and keeps freed memory)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return any("libasan" in line or "libtsan" in line for line in f)
    except OSError:
        return False


# an error-level line of sluice's log (log.c): time, "error: ", text
ERROR_LINE_RE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z error: (.*)$")


class _DefaultHost(str):
    """The Host a request gives when the test names none: "test.local",
    the listeners' name; to an admin listener a sluice of this test runs
    (ADMIN_PORTS), "127.0.0.1:PORT", as curl and Prometheus give it (an
    admin listener without credentials answers only addresses, localhost
    and admin.hosts: doc/dashboard.md 6.7)."""


DEFAULT_HOST = _DefaultHost("test.local")
ADMIN_PORTS = set()


def _host_for(port, host):
    if host is DEFAULT_HOST and port in ADMIN_PORTS:
        return "127.0.0.1:%d" % port
    return host


def _note_admin(config):
    """Adds the admin listener's port of config (a dict or YAML text) to
    ADMIN_PORTS."""
    if isinstance(config, dict):
        addr = (config.get("admin") or {}).get("address")
    else:
        m = re.search(r"^admin:\s*\n(?:[ \t]+.*\n)*?[ \t]+address:\s*"
                      r"[\"']?(\S+?)[\"']?\s*$", config, re.M)
        addr = m.group(1) if m else None
    if isinstance(addr, str) and ":" in addr:
        try:
            ADMIN_PORTS.add(int(addr.rsplit(":", 1)[1]))
        except ValueError:
            pass


class Sluice:
    """One sluice process. Use start_sluice()."""

    def __init__(self, config, wait_ports=None, name="sluice", env=None):
        self.dir = tmpdir()
        self.env = dict(env or {})     # added to (over) the environment
        self.conf_path = os.path.join(self.dir, "sluice.yaml")
        with open(self.conf_path, "w") as f:
            f.write(config if isinstance(config, str) else to_yaml(config))
            f.write("\n")
        self.config = config
        _note_admin(config)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.proc = None
        self.rc = None
        self.name = name
        self.expect_running = wait_ports is None or bool(wait_ports)
        # regular expressions of the error-level log lines this test
        # provokes on purpose (expect_errors); any other fails the test
        self.allowed_errors = []
        if wait_ports is None and isinstance(config, dict):
            wait_ports = [int(l["address"].rsplit(":", 1)[1])
                          for l in config.get("listeners", [])]
        self.ports = wait_ports or []

    def start(self, timeout=10.0):
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.update(self.env)
        self.proc = subprocess.Popen([sluice_path(), "-c", self.conf_path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err,
                                     env=env)
        _all_procs.append(self.proc)
        deadline = time.monotonic() + timeout
        for p in self.ports:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        "sluice exited with %s during start-up:\n%s"
                        % (self.proc.returncode, self.stderr()))
                try:
                    s = socket.create_connection(("127.0.0.1", p), 0.5)
                    s.close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            "sluice did not listen on %d within %.0fs:\n%s"
                            % (p, timeout, self.stderr()))
                    time.sleep(0.02)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def expect_errors(self, *patterns):
        """Error-level log lines matching one of these regular expressions
        are what the test provokes; see sanitizer_problem."""
        self.allowed_errors.extend(re.compile(p) for p in patterns)

    def unexpected_errors(self):
        """The error-level log lines no expect_errors pattern allows."""
        out = []
        for line in self.stderr().splitlines():
            m = ERROR_LINE_RE.match(line)
            if m and not any(p.search(m.group(1))
                             for p in self.allowed_errors):
                out.append(line)
        return out

    def sanitizer_problem(self, leaks=True):
        """A sanitizer report in stderr, or an error-level log line the
        test did not expect, or None. Leaks and errors are ignored for a
        process that was meant to fail at start-up (fatal exit paths)."""
        err = self.stderr()
        pats = ["ERROR: AddressSanitizer", "runtime error:"]
        if leaks:
            pats.append("ERROR: LeakSanitizer")
        for pat in pats:
            if pat in err:
                return "sanitizer report in sluice stderr (%s)" % pat
        if leaks:
            bad = self.unexpected_errors()
            if bad:
                return ("%d unexpected error line(s) in sluice stderr, "
                        "first: %s" % (len(bad), bad[0][:300]))
        return None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Waits for exit; returns the exit code or None on timeout."""
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_files()
        return self.rc

    def _close_files(self):
        for f in (getattr(self, "_err", None), getattr(self, "_out", None)):
            if f and not f.closed:
                f.close()

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Graceful stop; asserts exit status 0 and no sanitizer report."""
        if timeout is None:
            timeout = 10.0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            raise AssertionError("sluice did not exit within %.0fs of %s"
                                 % (timeout, signal.Signals(sig).name))
        p = self.sanitizer_problem()
        if p:
            raise AssertionError(p)
        if rc != 0:
            raise AssertionError("sluice exited with status %d (want 0)" % rc)
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._close_files()

    def dump(self):
        out = sys.stdout
        out.write("# ---- %s config (%s) ----\n" % (self.name, self.conf_path))
        try:
            with open(self.conf_path) as f:
                for line in f.read().splitlines():
                    out.write("#   " + line + "\n")
        except OSError:
            pass
        err = self.stderr()
        if len(err) > 8000:
            err = "...\n" + err[-8000:]
        out.write("# ---- %s stderr ----\n" % self.name)
        for line in err.splitlines():
            out.write("#   " + line + "\n")
        out.write("# ---- end ----\n")


def start_sluice(config, **kw):
    s = Sluice(config, **kw)
    _register("sluices", s)
    return s.start()


def run_sluice(args, timeout=10.0, env=None):
    """Runs sluice with args; returns (rc, stdout, stderr) as text."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([sluice_path()] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, env=e)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


# ---------------------------------------------------------------------------
# Buffered socket with HTTP/1.1 message reading


class Closed(Exception):
    pass


class BufSock:
    def __init__(self, sock, on_bytes=None):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False
        self.on_bytes = on_bytes
        self.reset = False

    def _fill(self, n=262144):
        if self.eof:
            return False
        try:
            d = self.sock.recv(n)
        except ConnectionResetError:
            d = b""
            self.reset = True
        if not d:
            self.eof = True
            return False
        if self.on_bytes:
            self.on_bytes(len(d))
        self.buf += d
        return True

    def read_until(self, delim, limit=1 << 20):
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out = bytes(self.buf[:i + len(delim)])
                del self.buf[:i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (delim, limit))
            if not self._fill():
                raise Closed("connection closed after %d bytes while "
                             "waiting for %r: %r" % (len(self.buf), delim,
                                                     bytes(self.buf[:200])))

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill(max(65536, min(n - len(self.buf), 1 << 20))):
                raise Closed("connection closed after %d of %d bytes"
                             % (len(self.buf), n))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_to_close(self):
        while self._fill():
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def has_data(self, timeout=0.0):
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)


def require_http3():
    """Skips the test in a build without HTTP/3 (sluice -V says
    libngtcp2 is not built)."""
    _, out, err = run_sluice(["-V"])
    if "libngtcp2 (not built" in out + err:
        raise Skip("built without HTTP/3 (./configure --without-quic)")


def parse_head(raw):
    """b'HTTP/1.1 200 OK\\r\\nA: b\\r\\n\\r\\n' -> (start line, [(n, v)])."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    start = lines[0]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line:
            raise AssertionError("bad header line %r" % line)
        n, v = line.split(":", 1)
        headers.append((n, v.strip(" \t")))
    return start, headers


class Headers:
    def __init__(self, items):
        self.items = list(items)

    def get(self, name, default=None):
        n = name.lower()
        for k, v in self.items:
            if k.lower() == n:
                return v
        return default

    def get_all(self, name):
        n = name.lower()
        return [v for k, v in self.items if k.lower() == n]

    def has(self, name):
        return bool(self.get_all(name))

    def tokens(self, name):
        out = []
        for v in self.get_all(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def names(self):
        return [k.lower() for k, _ in self.items]

    def __repr__(self):
        return repr(self.items)


def read_chunked(bs, raw_out=None):
    body = bytearray()
    while True:
        line = bs.read_until(b"\r\n", 4096)
        if raw_out is not None:
            raw_out += line
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            break
        d = bs.read_exact(size)
        body += d
        crlf = bs.read_exact(2)
        if raw_out is not None:
            raw_out += d + crlf
        if crlf != b"\r\n":
            raise AssertionError("bad chunk terminator %r" % crlf)
    trailers = []
    while True:
        line = bs.read_until(b"\r\n", 65536)
        if raw_out is not None:
            raw_out += line
        if line == b"\r\n":
            break
        n, v = line.decode("latin-1")[:-2].split(":", 1)
        trailers.append((n, v.strip()))
    return bytes(body), trailers


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = Headers([])
        self.body = b""
        self.framing = None
        self.interim = []
        self.raw_head = b""
        self.trailers = []

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except Exception:
            raise AssertionError("response body is not JSON: %r"
                                 % self.body[:300])

    def wants_close(self):
        return "close" in self.headers.tokens("connection")

    def __repr__(self):
        return "<Response %s %s %s body=%r>" % (
            self.status, self.reason, self.headers, self.body[:200])


def read_response(bs, method="GET", stop_at_interim=False):
    """Reads one response (after any 1xx, which go to .interim).

    With stop_at_interim a 1xx is returned on its own."""
    interim = []
    while True:
        raw = bs.read_until(b"\r\n\r\n", 1 << 20)
        start, hdrs = parse_head(raw)
        m = re.match(r"^HTTP/(1\.[01]) (\d{3}) ?(.*)$", start)
        if not m:
            raise AssertionError("bad status line %r" % start)
        r = Response()
        r.version, r.status, r.reason = m.group(1), int(m.group(2)), \
            m.group(3)
        r.headers = Headers(hdrs)
        r.raw_head = raw
        if 100 <= r.status < 200:
            r.framing = "none"
            if stop_at_interim:
                return r
            interim.append(r)
            continue
        break
    r.interim = interim
    te = r.headers.tokens("transfer-encoding")
    if method == "HEAD" or r.status in (204, 304):
        r.framing = "none"
    elif te:
        check(te == ["chunked"], "unexpected Transfer-Encoding %r" % te)
        r.framing = "chunked"
        r.body, r.trailers = read_chunked(bs)
    elif r.headers.has("content-length"):
        cls = r.headers.get_all("content-length")
        check(len(cls) == 1, "several Content-Length: %r" % cls)
        r.framing = "cl"
        r.body = bs.read_exact(int(cls[0]))
    else:
        r.framing = "close"
        r.body = bs.read_to_close()
    return r


class Client(BufSock):
    """A raw client connection to 127.0.0.1:port: plain TCP, or TLS when
    port is a listener the harness gave TLS (SLTEST_TRANSPORT=tls; tls=
    True/False forces one). src: the local address to bind (127.0.0.0/8
    is all local on Linux); rcvbuf: SO_RCVBUF, set before connecting.

    Over TLS the handshake is not made here but by the first send or read
    (as a plain client, constructing one needs only the kernel, not sluice,
    to accept); .sock is then an ssl.SSLSocket, whose recv() returns the
    plain text. A TLS error met while reading ends the stream like EOF
    (kept in .tls_error); has_data() and wait_closed() wait for
    application data, not for records without any (TLS 1.3 session
    tickets)."""

    tls = False
    tls_error = None

    def __init__(self, port, timeout=SOCK_TIMEOUT, host="127.0.0.1",
                 src=None, rcvbuf=None, tls=None):
        if tls is None:
            tls = port in _tls_ports
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if src:
                s.bind((src, 0))
            s.settimeout(timeout)
            s.connect((host, port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls:
                s = transport_client_context().wrap_socket(
                    s, server_hostname=TLS_SNI,
                    do_handshake_on_connect=False)
                s.settimeout(timeout)
        except BaseException:
            s.close()
            raise
        BufSock.__init__(self, s)
        self.tls = tls
        self.port = port
        _register("clients", self)

    def _fill(self, n=262144):
        if not self.tls or self.eof:
            return BufSock._fill(self, n)
        try:
            return BufSock._fill(self, n)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                ssl.SSLCertVerificationError):
            raise
        except (ssl.SSLError, BrokenPipeError,
                ConnectionAbortedError) as e:
            self.tls_error = e
            self.eof = True
            return False

    def fill_now(self):
        """Reads what the socket holds into .buf without waiting; False
        when it held nothing (over TLS: no application data)."""
        old = self.sock.gettimeout()
        self.sock.settimeout(0)
        try:
            return self._fill() or self.eof
        except WOULD_BLOCK:
            return False
        finally:
            self.sock.settimeout(old)

    def has_data(self, timeout=0.0):
        if self.buf or not self.tls:
            return BufSock.has_data(self, timeout)
        deadline = time.monotonic() + timeout
        while True:
            if self.eof or self.sock.pending():
                return True
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            if self.fill_now():
                return True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def request(self, method="GET", path="/", headers=None, body=None,
                host=DEFAULT_HOST, version="1.1", read=True):
        self.send(build_request(method, path, headers, body,
                                _host_for(self.port, host), version))
        if read:
            return read_response(self, method)
        return None

    def read_response(self, method="GET", stop_at_interim=False):
        return read_response(self, method, stop_at_interim)

    def wait_closed(self, timeout=2.0):
        """True when the peer closes (EOF or reset) within timeout; bytes
        received meanwhile are kept in .buf."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if self.tls and self.sock.pending():
                self._fill()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                if self.tls:
                    self.fill_now()
                else:
                    self._fill()
        return True

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def settled(fn, t=2.0, every=0.25, times=3):
    """fn() once it returned the same value `times` times in a row,
    sampled every `every` seconds (at most t seconds: the last value)."""
    last, same, end = None, 0, time.monotonic() + t
    while time.monotonic() < end:
        v = fn()
        same = same + 1 if v == last else 0
        last = v
        if same >= times:
            break
        time.sleep(every)
    return last


def read_all(sock, first, n, h):
    """Feeds `first` and then what sock receives into hash h until n
    bytes in all (or the end of the stream); returns the count."""
    got = len(first)
    h.update(first)
    while got < n:
        d = sock.recv(1 << 20)
        if not d:
            break
        h.update(d)
        got += len(d)
    return got


def build_request(method="GET", path="/", headers=None, body=None,
                  host="test.local", version="1.1"):
    lines = ["%s %s HTTP/%s" % (method, path, version)]
    hdrs = list(headers.items() if isinstance(headers, dict)
                else (headers or []))
    names = [k.lower() for k, _ in hdrs]
    if host is not None and "host" not in names:
        lines.append("Host: %s" % host)
    for k, v in hdrs:
        lines.append("%s: %s" % (k, v))
    if body is not None and "content-length" not in names \
            and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is not None:
        raw += body if isinstance(body, bytes) else body.encode()
    return raw


def chunked(data, size=4096, ext=b""):
    out = bytearray()
    for i in range(0, len(data), size):
        part = data[i:i + size]
        out += b"%x%s\r\n" % (len(part), ext) + part + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


def get(port, path="/", headers=None, host=DEFAULT_HOST, timeout=SOCK_TIMEOUT,
        method="GET", body=None, version="1.1"):
    """One request on a fresh connection (TLS to a listener the harness
    gave TLS); returns the response."""
    c = Client(port, timeout)
    try:
        return c.request(method, path, headers, body, host, version)
    finally:
        c.close()



def metrics(aport, timeout=5.0):
    """GET /metrics on the admin listener -> {'name{labels}': value},
    retrying while the listener is not up yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = get(aport, "/metrics", timeout=3.0,
                    host="127.0.0.1:%d" % aport)
            break
        except (OSError, Closed):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    eq(r.status, 200, "status of /metrics")
    out = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            continue
        k, v = line.rsplit(" ", 1)
        out[k] = float(v)
    return out

def connect_refused(port, timeout=0.5):
    """True when a TCP connect to port is refused."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


REQID_RE = re.compile(r"^[A-Za-z0-9._:+/=-]{8,200}$")


def assert_error(resp, status, code, close=None):
    """Checks a sluice error response: status, JSON body, X-Request-Id;
    close=True/False checks Connection: close."""
    eq(resp.status, status, "status (body %r)" % resp.body[:200])
    ct = (resp.header("content-type") or "").split(";")[0].strip().lower()
    eq(ct, "application/json", "Content-Type of %d" % status)
    j = resp.json()
    eq(j.get("error"), code, "JSON error code")
    eq(j.get("status"), status, "JSON status")
    rid = resp.header("x-request-id")
    check(rid, "error response without X-Request-Id: %r" % resp.headers)
    eq(j.get("request_id"), rid, "JSON request_id vs X-Request-Id header")
    if close is True:
        check(resp.wants_close(),
              "%d response lacks Connection: close: %r" % (status,
                                                           resp.headers))
    elif close is False:
        check(not resp.wants_close(),
              "%d response has Connection: close but the connection must "
              "stay open: %r" % (status, resp.headers))
    return j


# ---------------------------------------------------------------------------
# Upstream server


def ss_line(port, sock, opts):
    """ss's line for sluice's socket at the other end of sock (opts: "-tm"
    for socket memory, "-ti" for TCP info)."""
    check(shutil.which("ss"), "ss (iproute2) not found: run contrib/deps.sh")
    flt = "( sport = :%d and dport = :%d )" % (port, sock.getsockname()[1])
    out = subprocess.run(["ss", opts + "nH", "state", "established", flt],
                         capture_output=True, text=True, check=True).stdout
    check(out.strip(), "sluice's socket not in ss output")
    return out


def sluice_sndbuf(port, sock):
    """The kernel send buffer (ss's tb: sk_sndbuf, twice SO_SNDBUF) of
    sluice's socket at the other end of sock."""
    out = ss_line(port, sock, "-tm")
    m = re.search(r"\btb(\d+)", out)
    check(m, "no tb in ss output: %r" % out)
    return int(m.group(1))


def sluice_tcp_info(port, sock, field):
    """A counter of ss -i for sluice's socket at the other end of sock
    (0 when ss leaves it out, as it does for 0)."""
    out = ss_line(port, sock, "-ti")
    check(re.search(r"\brtt:", out), "ss -i printed no TCP info: %r" % out)
    m = re.search(r"\b%s:(\d+)" % field, out)
    return int(m.group(1)) if m else 0


def kernel_sndbuf(n):
    """sk_sndbuf after SO_SNDBUF = n: capped at wmem_max, then doubled."""
    with open("/proc/sys/net/core/wmem_max") as f:
        return 2 * min(n, int(f.read()))


def read_in_bursts(sock, body_len, pause=0.02, timeout=20.0):
    """Reads one response with a body of body_len bytes, emptying the
    socket every `pause` seconds: the sender fills its buffer and stalls
    in each pause, then finds it emptied at once (a fast reader). Returns
    the raw bytes (the plain text of a TLS socket)."""
    got = bytearray()  # appends in place: bodies of many MiB
    end = -1
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            time.sleep(pause)
            while True:
                try:
                    d = sock.recv(1 << 20)
                except WOULD_BLOCK:
                    break
                check(d, "connection closed mid-response")
                got += d
            if end == -1:
                end = got.find(b"\r\n\r\n")
            if end != -1 and len(got) - end - 4 >= body_len:
                break
    finally:
        sock.setblocking(True)
    check(end != -1 and len(got) - end - 4 == body_len,
          "response of %d body bytes not read whole in %.0fs"
          % (body_len, timeout))
    return bytes(got)


class Reply:
    """What an upstream sends for one request.

    mode: 'cl' (Content-Length), 'chunked', 'close' (close-delimited),
          'none' (no body and no framing header, e.g. 204/304)
    action: None, 'hang' (never answer), 'reset' (RST), 'close' (FIN
            without answering), 'raw' (send raw bytes, then close if
            close=True)
    """

    def __init__(self, status=200, body=b"", headers=None, mode="cl",
                 reason=None, interim=None, delay=0.0, action=None, raw=b"",
                 close=False, chunk_size=65536, head_cl=None, trailers=None):
        self.status = status
        self.reason = reason or {200: "OK", 204: "No Content",
                                 304: "Not Modified", 404: "Not Found",
                                 500: "Internal Server Error"}.get(status,
                                                                    "X")
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = list(headers.items() if isinstance(headers, dict)
                            else (headers or []))
        self.mode = mode
        self.interim = interim or []
        self.delay = delay
        self.action = action
        self.raw = raw
        self.close = close
        self.chunk_size = chunk_size
        self.head_cl = head_cl
        self.trailers = list(trailers or [])  # mode 'chunked' only


class UpRequest:
    def __init__(self):
        self.method = self.target = self.version = None
        self.headers = Headers([])
        self.raw_head = b""
        self.body = b""
        self.body_sha = sha256(b"")
        self.body_len = 0
        self.chunked = False
        self.trailers = []
        self.conn_id = None
        self.time = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return "<UpRequest %s %s %r>" % (self.method, self.target,
                                         self.headers)


class UpConn:
    def __init__(self, cid, sock):
        self.id = cid
        self.sock = sock
        self.nrequests = 0
        self.bytes = 0
        self.closed_by_peer = threading.Event()
        self.closed = threading.Event()



def _stop_server(stopping, lsock, socks):
    """Stops a test upstream: no more accepts, every connection shut down
    (its handler thread sees the end and exits)."""
    stopping.set()
    try:
        # wakes the accept() blocked on it: close() alone leaves the
        # socket listening until accept() returns, and the port taken
        lsock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        lsock.close()
    except OSError:
        pass
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Upstream:
    """A threaded raw HTTP/1.1 server on 127.0.0.1.

    handler(req) -> Reply; default answers 200 with a JSON body naming the
    upstream, method, path and request body hash.
    idle_close: close a keep-alive connection idle for that many seconds.
    """

    def __init__(self, name="up", handler=None, idle_close=None,
                 backlog=128, keep_body=True, body_delay=0.0, port=0,
                 host="127.0.0.1"):
        self.name = name
        self.body_delay = body_delay
        self.handler = handler or self.default_handler
        self.idle_close = idle_close
        self.keep_body = keep_body
        self.lock = threading.Lock()
        self.accepts = 0
        self.bytes_received = 0
        self.requests = []
        self.conns = []
        self.errors = []
        self.stopping = threading.Event()
        # host: another loopback address (127.0.0.2, ::1) stands for
        # another machine, as a name's answers need
        v6 = ":" in host
        self.lsock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                                   socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(backlog)
        self.port = self.lsock.getsockname()[1]
        self.host = host
        self.addr = ("[%s]:%d" if v6 else "%s:%d") % (host, self.port)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        _register("upstreams", self)

    # -- default behaviour
    def default_handler(self, req):
        body = json.dumps({"upstream": self.name, "method": req.method,
                           "path": req.target, "body_sha256": req.body_sha,
                           "body_len": req.body_len}).encode()
        return Reply(200, body, [("Content-Type", "application/json")])

    # -- accounting
    def _count(self, conn, n):
        with self.lock:
            self.bytes_received += n
            conn.bytes += n

    def wait_requests(self, n, timeout=3.0):
        return wait_until(lambda: len(self.requests) >= n, timeout)

    def paths(self):
        with self.lock:
            return [r.target for r in self.requests]

    def drop_connections(self):
        """Shuts down every connection accepted so far (their handler
        threads see the end and exit); new ones are still accepted."""
        with self.lock:
            socks = [c.sock for c in self.conns]
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        with self.lock:
            socks = [c.sock for c in self.conns]
        _stop_server(self.stopping, self.lsock, socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    # -- server
    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                conn = UpConn(len(self.conns), s)
                self.conns.append(conn)
                self.accepts += 1
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        s = conn.sock
        bs = BufSock(s, lambda n: self._count(conn, n))
        try:
            while not self.stopping.is_set():
                # wait for the first byte of the next request
                if not bs.buf:
                    s.settimeout(self.idle_close or 30.0)
                    try:
                        if not bs._fill():
                            conn.closed_by_peer.set()
                            return
                    except socket.timeout:
                        return      # idle close (or give up)
                s.settimeout(10.0)
                req = self._read_request(bs, conn)
                if req is None:
                    conn.closed_by_peer.set()
                    return
                reply = self.handler(req)
                if reply is None:
                    reply = self.default_handler(req)
                if not self._reply(conn, bs, req, reply):
                    return
        except Closed:
            conn.closed_by_peer.set()
        except Exception as e:  # noqa: B902 - recorded for the test
            if not self.stopping.is_set():
                with self.lock:
                    self.errors.append(repr(e))
        finally:
            conn.closed.set()
            try:
                s.close()
            except OSError:
                pass

    def _read_request(self, bs, conn):
        try:
            raw = bs.read_until(b"\r\n\r\n", 1 << 20)
        except Closed:
            return None
        start, hdrs = parse_head(raw)
        req = UpRequest()
        parts = start.split(" ")
        if len(parts) != 3:
            raise AssertionError("upstream got bad request line %r" % start)
        req.method, req.target, req.version = parts
        req.headers = Headers(hdrs)
        req.raw_head = raw
        req.conn_id = conn.id
        te = req.headers.tokens("transfer-encoding")
        if "100-continue" in req.headers.tokens("expect"):
            bs.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self.body_delay:
            self._sleep(self.body_delay)
        if te:
            req.chunked = True
            body, req.trailers = read_chunked(bs)
        elif req.headers.has("content-length"):
            body = bs.read_exact(int(req.headers.get("content-length")))
        else:
            body = b""
        req.body_len = len(body)
        req.body_sha = sha256(body)
        if self.keep_body or len(body) < 65536:
            req.body = body
        req.time = time.monotonic()
        with self.lock:
            conn.nrequests += 1
            self.requests.append(req)
        return req

    def _sleep(self, t):
        self.stopping.wait(t)

    def _hang(self, conn, bs):
        s = conn.sock
        s.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                d = b""
            if not d:
                conn.closed_by_peer.set()
                return
            self._count(conn, len(d))

    def _reply(self, conn, bs, req, r):
        s = conn.sock
        if r.delay:
            self._sleep(r.delay)
        if r.action == "hang":
            self._hang(conn, bs)
            return False
        if r.action == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            return False
        if r.action == "close":
            s.shutdown(socket.SHUT_WR)
            self._hang(conn, bs)
            return False
        if r.action == "raw":
            s.sendall(r.raw)
            if r.close:
                s.shutdown(socket.SHUT_WR)
                self._hang(conn, bs)
                return False
            return True
        out = bytearray()
        for st, reason, hs in r.interim:
            out += ("HTTP/1.1 %d %s\r\n" % (st, reason)).encode()
            for k, v in hs:
                out += ("%s: %s\r\n" % (k, v)).encode()
            out += b"\r\n"
        out += ("HTTP/1.1 %d %s\r\n" % (r.status, r.reason)).encode()
        for k, v in r.headers:
            out += ("%s: %s\r\n" % (k, v)).encode("latin-1")
        is_head = req.method == "HEAD"
        if r.mode == "cl":
            n = r.head_cl if r.head_cl is not None else len(r.body)
            out += b"Content-Length: %d\r\n" % n
        elif r.mode == "chunked":
            out += b"Transfer-Encoding: chunked\r\n"
        if r.close and r.mode != "close":
            out += b"Connection: close\r\n"
        out += b"\r\n"
        if is_head or r.mode == "none":
            s.sendall(out)
        elif r.mode == "chunked" and r.trailers:
            s.sendall(out)
            tail = b"".join(("%s: %s\r\n" % kv).encode("latin-1")
                            for kv in r.trailers)
            s.sendall(chunked(r.body, r.chunk_size)[:-2] + tail + b"\r\n")
        elif r.mode == "chunked":
            s.sendall(out)
            s.sendall(chunked(r.body, r.chunk_size))
        else:
            s.sendall(bytes(out) + r.body)
        if r.mode == "close" or r.close:
            s.shutdown(socket.SHUT_WR)
            self._hang(conn, bs)
            return False
        return True


class Blackhole:
    """A listening port whose accept queue is full: connects to it hang
    (SYNs are dropped), which makes upstream connect timeouts testable on
    127.0.0.1."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.held = []
        for _ in range(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except (BlockingIOError, OSError):
                pass
            self.held.append(s)
        time.sleep(0.05)
        _register("upstreams", self)

    def works(self):
        """True when a connect really hangs here."""
        s = socket.socket()
        s.settimeout(0.3)
        try:
            s.connect(("127.0.0.1", self.port))
        except socket.timeout:
            return True
        except OSError:
            return False
        finally:
            s.close()
        return False

    def stop(self):
        for s in self.held + [self.lsock]:
            try:
                s.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------
# Access log


def read_json_lines(path, pred=None, timeout=3.0, min_count=1):
    """Polls a JSON-lines file until at least min_count lines satisfy
    pred; returns the matching objects."""
    found = []

    def scan():
        nonlocal found
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            return False
        objs = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                objs.append(json.loads(line))
            except ValueError:
                raise AssertionError("access log line is not JSON: %r"
                                     % line)
        found = [o for o in objs if pred is None or pred(o)]
        return len(found) >= min_count
    wait_until(scan, timeout, 0.05)
    return found


# ---------------------------------------------------------------------------
# curl


def have_curl():
    return shutil.which("curl") is not None


def curl(args, timeout=30.0):
    """Runs curl -sS with args; returns (rc, stdout bytes, stderr text).
    A URL http://127.0.0.1:PORT... of a listener the harness gave TLS
    becomes https://, verified against the harness's CA (curl sends no
    SNI for an address: the listener's only certificate answers)."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy",
                                "no_proxy")}
    args = list(args)
    for i, a in enumerate(args):
        m = re.match(r"^http://127\.0\.0\.1:(\d+)(?:[/?#]|$)", a)
        if m and int(m.group(1)) in _tls_ports:
            args[i] = "https" + a[len("http"):]
            args[:0] = ["--cacert", transport_ca()]
            break
    p = subprocess.run(["curl", "-sS", "--http1.1", "--noproxy", "*"]
                       + args, capture_output=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def parse_curl_headers(text):
    """Parses a curl -D dump: returns the list of (status, Headers) for
    every response (1xx included)."""
    out = []
    for block in re.split(r"\r\n\r\n", text.strip("\r\n") + "\r\n\r\n"):
        if not block.strip():
            continue
        lines = block.split("\r\n")
        m = re.match(r"HTTP/\S+ (\d{3})", lines[0])
        if not m:
            continue
        hs = []
        for line in lines[1:]:
            if ":" in line:
                n, v = line.split(":", 1)
                hs.append((n, v.strip()))
        out.append((int(m.group(1)), Headers(hs)))
    return out


class RawUpstream:
    """A raw TCP upstream: handler(sock, index, log) runs in a thread per
    accepted connection; log (a bytearray) is meant to record every byte
    the connection received."""

    def __init__(self, handler, rcvbuf=None):
        self.handler = handler
        self.logs = []
        self.socks = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                  rcvbuf)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        threading.Thread(target=self._loop, daemon=True).start()
        _register("upstreams", self)

    def _loop(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            log = bytearray()
            with self.lock:
                idx = len(self.logs)
                self.logs.append(log)
                self.socks.append(s)
            threading.Thread(target=self._run, args=(s, idx, log),
                             daemon=True).start()

    def _run(self, s, idx, log):
        try:
            self.handler(s, idx, log)
        except OSError:
            pass
        finally:
            try:
                s.close()
            except OSError:
                pass

    def snapshot(self):
        with self.lock:
            return [bytes(x) for x in self.logs]

    def stop(self):
        with self.lock:
            socks = list(self.socks)
        _stop_server(self.stopping, self.lsock, socks)


def one_upstream(handler=None, workers=1, **kw):
    """sluice with one catch-all route to one Upstream named "a" (handler:
    see Upstream); kw goes to make_config. Returns (upstream, sluice,
    listener port)."""
    up = Upstream("a", handler)
    cfg, port = make_config({"a": [up]}, workers=workers, **kw)
    sl = start_sluice(cfg)
    return up, sl, port


def one_upstream_admin(limits=None, handler=None, workers=1,
                       cluster_opts=None, access_log=None, **up_kw):
    """one_upstream with an admin listener; up_kw goes to Upstream.
    Returns (upstream, sluice, listener port, admin port)."""
    up = Upstream("a", handler, **up_kw)
    aport = free_port()
    cfg, port = make_config({"a": [up]}, limits=limits, workers=workers,
                            cluster_opts=cluster_opts, access_log=access_log,
                            extra={"admin": {"address":
                                             "127.0.0.1:%d" % aport}})
    sl = start_sluice(cfg)
    return up, sl, port, aport


def nfds(pid):
    """The descriptors process pid has open."""
    return len(os.listdir("/proc/%d/fd" % pid))


# ---------------------------------------------------------------------------
# TLS: certificates made with the openssl command, TLS clients, TLS upstreams


def persistent_tmpdir():
    """A temporary directory that outlives the current test (e.g. the
    certificates a whole test module shares); removed when the process
    exits."""
    d = tempfile.mkdtemp(prefix="sltest-")
    atexit.register(shutil.rmtree, d, True)
    return d


def have_openssl():
    return shutil.which("openssl") is not None


_OPENSSL_CNF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ ca ]
default_ca = test_ca
[ test_ca ]
database = %(dir)s/index.txt
new_certs_dir = %(dir)s/newcerts
serial = %(dir)s/serial
default_md = sha256
policy = any_dn
unique_subject = no
email_in_dn = no
[ any_dn ]
commonName = supplied
organizationName = optional
"""


class Cert:
    """A certificate file and its key file (PEM)."""

    def __init__(self, name, cert, key, subject):
        self.name = name
        self.cert = cert
        self.key = key
        self.subject = subject      # as given to openssl: /O=x/CN=y

    def __repr__(self):
        return "<Cert %s %s>" % (self.name, self.subject)


class Pki:
    """Test certificates made with the openssl command in a directory of
    their own (removed at exit). Keys are ECDSA P-256 unless kind="rsa"
    (RSA 2048); key files are mode 0600."""

    def __init__(self, d=None):
        self.dir = d or persistent_tmpdir()
        self.cnf = os.path.join(self.dir, "openssl.cnf")
        with open(self.cnf, "w") as f:
            f.write(_OPENSSL_CNF % {"dir": self.dir})
        self.certs = {}

    def __getitem__(self, name):
        return self.certs[name]

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, args):
        p = subprocess.run(["openssl"] + list(args), capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise AssertionError("openssl %s failed: %s" % (
                " ".join(args), p.stderr.decode("utf-8", "replace")))
        return p.stdout.decode("utf-8", "replace")

    @staticmethod
    def _newkey(kind):
        if kind == "rsa":
            return ["-newkey", "rsa:2048"]
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]

    def ca(self, name, subject, kind="ec"):
        key, crt = self.path(name + ".key"), self.path(name + ".pem")
        self.openssl(["req", "-config", self.cnf, "-x509"] +
                     self._newkey(kind) +
                     ["-noenc", "-utf8", "-keyout", key, "-subj", subject,
                      "-days", "3650", "-sha256", "-extensions", "v3_ca",
                      "-out", crt])
        os.chmod(key, 0o600)
        c = Cert(name, crt, key, subject)
        self.certs[name] = c
        return c

    def intermediate(self, name, subject, ca, kind="ec"):
        """A CA certificate signed by the CA named ca."""
        key, crt = self.path(name + ".key"), self.path(name + ".pem")
        cap = self.certs[ca]
        self.openssl(["req", "-config", self.cnf] + self._newkey(kind) +
                     ["-noenc", "-utf8", "-keyout", key, "-subj", subject,
                      "-CA", cap.cert, "-CAkey", cap.key, "-days", "3650",
                      "-sha256", "-set_serial", "0x" + os.urandom(8).hex(),
                      "-extensions", "v3_ca", "-out", crt])
        os.chmod(key, 0o600)
        c = Cert(name, crt, key, subject)
        self.certs[name] = c
        return c

    def chain(self, name, leaf, *cas):
        """A certificate file holding leaf's certificate then those of cas
        (names), with leaf's key."""
        crt = self.path(name + ".pem")
        with open(crt, "w") as out:
            for n in (leaf,) + cas:
                with open(self.certs[n].cert) as f:
                    out.write(f.read())
        c = Cert(name, crt, self.certs[leaf].key, self.certs[leaf].subject)
        self.certs[name] = c
        return c

    def leaf(self, name, subject, ca, dns=(), kind="ec", days=30,
             startdate=None, enddate=None, ips=()):
        """A certificate signed by the CA named ca. dns, ips: its
        subjectAltName DNS names and IP addresses. startdate/enddate
        (YYYYMMDDHHMMSSZ, e.g. in the past for an expired certificate) sign
        it with `openssl ca`."""
        key, crt = self.path(name + ".key"), self.path(name + ".pem")
        cap = self.certs[ca]
        exts = ["basicConstraints = CA:FALSE",
                "keyUsage = critical,digitalSignature%s"
                % (",keyEncipherment" if kind == "rsa" else ""),
                "extendedKeyUsage = serverAuth,clientAuth"]
        if dns or ips:
            exts.append("subjectAltName = " +
                        ",".join(["DNS:" + d for d in dns] +
                                 ["IP:" + i for i in ips]))
        if startdate or enddate:
            csr, ext = self.path(name + ".csr"), self.path(name + ".ext")
            with open(ext, "w") as f:
                f.write("\n".join(exts + ["subjectKeyIdentifier = hash",
                                          "authorityKeyIdentifier = keyid"])
                        + "\n")
            self.openssl(["req", "-config", self.cnf] + self._newkey(kind) +
                         ["-noenc", "-utf8", "-keyout", key, "-subj", subject,
                          "-out", csr])
            os.makedirs(self.path("newcerts"), exist_ok=True)
            idx = self.path("index.txt")
            if not os.path.exists(idx):
                open(idx, "w").close()
            with open(self.path("serial"), "w") as f:
                f.write("%s\n" % os.urandom(8).hex())
            self.openssl(["ca", "-batch", "-config", self.cnf, "-notext",
                          "-preserveDN", "-cert", cap.cert, "-keyfile",
                          cap.key, "-in", csr, "-out", crt, "-extfile", ext,
                          "-startdate", startdate or "20200101000000Z",
                          "-enddate", enddate or "20200201000000Z"])
        else:
            args = ["req", "-config", self.cnf] + self._newkey(kind)
            args += ["-noenc", "-utf8", "-keyout", key, "-subj", subject,
                     "-CA", cap.cert, "-CAkey", cap.key, "-days", str(days),
                     "-sha256", "-set_serial", "0x" + os.urandom(8).hex(),
                     "-out", crt]
            for e in exts:
                args += ["-addext", e.replace(" = ", "=")]
            self.openssl(args)
        os.chmod(key, 0o600)
        c = Cert(name, crt, key, subject)
        self.certs[name] = c
        return c


# ---------------------------------------------------------------------------
# The TLS transport of SLTEST_TRANSPORT=tls (see the top of this file)

TLS_SNI = "test.local"      # the name Client sends and verifies
_transport = {}


def transport_pki():
    """The certificates of the TLS transport, made once per process: the
    CA "ca" and the listeners' certificate "listener" (test.local and
    127.0.0.1)."""
    if "pki" not in _transport:
        if not have_openssl():
            raise Skip("SLTEST_TRANSPORT=tls needs the openssl command")
        p = Pki()
        p.ca("ca", "/O=Sluice Test/CN=sltest transport CA")
        p.leaf("listener", "/O=Sluice Test/CN=%s" % TLS_SNI, "ca",
               [TLS_SNI], ips=["127.0.0.1"], days=2)
        _transport["pki"] = p
    return _transport["pki"]


def transport_ca():
    return transport_pki()["ca"].cert


def transport_client_context():
    """The client SSLContext of the TLS transport: verifies the chain
    against transport_ca() and the name TLS_SNI."""
    if "ctx" not in _transport:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(transport_ca())
        _transport["ctx"] = ctx
    return _transport["ctx"]


def listener_transport(lst):
    """Gives the listener dict lst (with its "address") the harness's
    transport: under SLTEST_TRANSPORT=tls a `tls:` block with the
    transport's certificate, unless it has one of its own, and its port
    is noted for Client, get() and curl() (until the test ends).
    Returns lst."""
    if over_tls() and "tls" not in lst:
        c = transport_pki()["listener"]
        lst["tls"] = {"certificates": [{"cert": c.cert, "key": c.key}]}
        _tls_ports.add(int(lst["address"].rsplit(":", 1)[1]))
    return lst


_SHORT = {"commonName": "CN", "organizationName": "O",
          "organizationalUnitName": "OU", "countryName": "C",
          "localityName": "L", "stateOrProvinceName": "ST",
          "domainComponent": "DC", "emailAddress": "emailAddress"}


def rfc2253(name):
    """A subject of ssl's getpeercert() as an RFC 2253 string (last RDN
    first): "CN=alice,O=Example Corp"."""
    def esc(v):
        v = re.sub(r'([,+"\\<>;])', r"\\\1", v)
        if v.startswith(("#", " ")):
            v = "\\" + v
        if v.endswith(" "):
            v = v[:-1] + "\\ "
        return v
    out = []
    for rdn in reversed(name or ()):
        out.append("+".join("%s=%s" % (_SHORT.get(k, k), esc(v))
                            for k, v in rdn))
    return ",".join(out)


_TLS_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1,
                 "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                 "TLSv1.2": ssl.TLSVersion.TLSv1_2,
                 "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def tls_client_context(cafile=None, cert=None, key=None, min_version=None,
                       max_version=None, ciphers=None, alpn=None):
    """A client SSLContext: verifies the chain when cafile is given (not
    the host name: tests pick SNI names freely), presents cert/key when
    given; versions as "TLSv1.2"."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    if min_version:
        ctx.minimum_version = _TLS_VERSIONS[min_version]
    if max_version:
        ctx.maximum_version = _TLS_VERSIONS[max_version]
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_server_context(cert, key, client_ca=None, min_version=None,
                       max_version=None):
    """A server SSLContext; with client_ca a client certificate signed by
    it is required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if min_version:
        ctx.minimum_version = _TLS_VERSIONS[min_version]
    if max_version:
        ctx.maximum_version = _TLS_VERSIONS[max_version]
    return ctx


class TLSClient(Client):
    """A TLS client connection to 127.0.0.1:port with the Client API
    (request, read_response, wait_closed...). The handshake happens in the
    constructor (ssl.SSLError when it fails there). sni: the server name
    sent (None: no SNI). rcvbuf: SO_RCVBUF set before connecting (a slow,
    small-windowed reader). A TLS error met while reading (an alert) ends
    the stream like EOF and is kept in .tls_error."""

    tls = True

    def __init__(self, port, sni=None, cafile=None, cert=None, key=None,
                 ctx=None, timeout=SOCK_TIMEOUT, host="127.0.0.1",
                 session=None, min_version=None, max_version=None,
                 ciphers=None, alpn=None, rcvbuf=None):
        if ctx is None:
            ctx = tls_client_context(cafile, cert, key, min_version,
                                     max_version, ciphers, alpn)
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            raw.settimeout(timeout)
            raw.connect((host, port))
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s = ctx.wrap_socket(raw, server_hostname=sni, session=session)
        except BaseException:
            raw.close()
            raise
        s.settimeout(timeout)
        BufSock.__init__(self, s)
        self.port = port
        self.tls_error = None
        _register("clients", self)

    def _fill(self, n=262144):
        if self.eof:
            return False
        try:
            return BufSock._fill(self, n)
        except ssl.SSLError as e:
            self.tls_error = e
            self.eof = True
            return False
        except (BrokenPipeError, ConnectionAbortedError) as e:
            self.tls_error = e
            self.eof = True
            return False

    def has_data(self, timeout=0.0):
        if self.buf or self.sock.pending():
            return True
        return BufSock.has_data(self, timeout)

    def wait_closed(self, timeout=2.0):
        deadline = time.monotonic() + timeout
        while not self.eof:
            if self.sock.pending():
                self._fill()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self._fill()
        return True

    def peer_cert(self):
        """The server certificate as a getpeercert() dict (needs cafile)."""
        return self.sock.getpeercert()

    def peer_subject(self):
        return rfc2253(self.peer_cert().get("subject"))

    def peer_dns(self):
        return [v for k, v in self.peer_cert().get("subjectAltName", ())
                if k == "DNS"]

    @property
    def session(self):
        return self.sock.session

    @property
    def session_reused(self):
        return self.sock.session_reused

    def version(self):
        return self.sock.version()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_get(port, path="/", sni=None, headers=None, host=DEFAULT_HOST,
            method="GET", body=None, timeout=SOCK_TIMEOUT, **kw):
    """One request over a fresh TLS connection; returns the response."""
    c = TLSClient(port, sni=sni, timeout=timeout, **kw)
    try:
        return c.request(method, path, headers, body, host)
    finally:
        c.close()


def client_hello(sni="test.local", max_version=None):
    """The bytes of a real TLS ClientHello (from Python's ssl), to send
    whole or in part over a raw socket."""
    ctx = tls_client_context(max_version=max_version)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class TLSUpstream(Upstream):
    """An Upstream speaking TLS (ctx: a server SSLContext, see
    tls_server_context). Per connection it records the SNI name sent
    (conn.sni), the verified client certificate's subject in RFC 2253
    form (conn.client_subject, None without one), the TLS version and
    whether the session was resumed; failed handshakes go to .tls_errors
    (and count as accepts). The default answer adds "tls_sni",
    "tls_client_subject", "tls_version" and "tls_resumed" to Upstream's
    JSON."""

    def __init__(self, name="up", ctx=None, handler=None, **kw):
        self.ctx = ctx
        self.tls_errors = []
        self.handshakes = 0
        self._snis = threading.local()
        ctx.sni_callback = self._on_sni
        Upstream.__init__(self, name, handler, **kw)

    def _on_sni(self, sslobj, name, ctx):
        self._snis.name = name
        return None

    def _conn_of(self, req):
        with self.lock:
            return self.conns[req.conn_id]

    def default_handler(self, req):
        conn = self._conn_of(req)
        body = json.dumps({"upstream": self.name, "method": req.method,
                           "path": req.target, "body_sha256": req.body_sha,
                           "body_len": req.body_len,
                           "tls_sni": getattr(conn, "sni", None),
                           "tls_client_subject":
                               getattr(conn, "client_subject", None),
                           "tls_version": getattr(conn, "tls_version",
                                                  None),
                           "tls_resumed": getattr(conn, "tls_resumed",
                                                  None)}).encode()
        return Reply(200, body, [("Content-Type", "application/json")])

    def _serve(self, conn):
        raw = conn.sock
        raw.settimeout(5.0)
        self._snis.name = None
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.tls_errors.append(repr(e))
            conn.closed.set()
            try:
                raw.close()
            except OSError:
                pass
            return
        conn.sni = self._snis.name
        cert = s.getpeercert()
        conn.client_subject = rfc2253(cert.get("subject")) if cert else None
        conn.tls_version = s.version()
        conn.tls_resumed = s.session_reused
        with self.lock:
            self.handshakes += 1
            conn.sock = s
        Upstream._serve(self, conn)


def s_client(port, args=(), data=b"", timeout=10.0):
    """Runs openssl s_client -connect 127.0.0.1:port with args, data on its
    standard input; returns (rc, stdout, stderr) as text. With data that
    ends in a request with Connection: close, pass -ign_eof to read the
    answer (and TLS 1.3 session tickets) to the end. rc is None when
    s_client still ran after timeout seconds (it is killed; the output so
    far is returned)."""
    p = subprocess.Popen(["openssl", "s_client", "-connect",
                          "127.0.0.1:%d" % port] + list(args),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(data, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
    return (rc, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"))


def metric_sum(m, name, **labels):
    """The sum of the samples of metric `name` (from metrics()) whose
    labels include `labels` (any order); 0 when there is none."""
    total = 0.0
    for k, v in m.items():
        mm = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?$", k)
        if not mm or mm.group(1) != name:
            continue
        ls = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"',
                             mm.group(2) or ""))
        if all(ls.get(a) == b for a, b in labels.items()):
            total += v
    return total


def wait_applied(aport, timeout=5.0):
    """Waits (bounded) until every worker serves the running generation:
    sluice_config_generation_applied equals sluice_config_generation. A
    reload is counted when it is handed to the workers, which take it
    from their own loops a moment later; a request sent in between may
    still be served by the generation before."""
    def done():
        m = metrics(aport)
        return (m.get("sluice_config_generation_applied") ==
                m.get("sluice_config_generation"))
    check(wait_until(done, timeout, 0.01),
          "the workers did not take the generation within %.0fs" % timeout)


def sighup_reload(sl, aport, timeout=5.0):
    """Sends SIGHUP and waits (bounded) until the admin counters
    sluice_reloads_total{result=...} count one more reload. Returns
    ("ok" | "failed", the stderr written meanwhile)."""
    def state():
        m = metrics(aport)
        return (metric_sum(m, "sluice_reloads_total", result="ok"),
                metric_sum(m, "sluice_reloads_total", result="failed"))
    ok0, failed0 = state()
    n0 = len(sl.stderr())
    sl.send_signal(signal.SIGHUP)
    st = [None]

    def done():
        st[0] = state()
        return st[0][0] + st[0][1] > ok0 + failed0
    check(wait_until(done, timeout, 0.02),
          "no reload counted within %.0fs of SIGHUP" % timeout)
    wait_applied(aport, timeout)
    return ("ok" if st[0][0] > ok0 else "failed"), sl.stderr()[n0:]
