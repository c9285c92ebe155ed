# SPDX-License-Identifier: MIT
"""Process lifecycle: graceful stop on SIGTERM/SIGINT with requests in
flight, idle keep-alive connections closed at stop, drain_timeout, other
signals, start-up failures (a port held by a listener or by a
connection), the pid file (-p)."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Reply, Skip, Sluice, Upstream, build_request,  # noqa
                    check, connect_refused, eq, get, main, make_config,
                    read_json_lines, read_response, run_sluice, start_sluice,
                    test, tmpdir, to_yaml, wait_until, _register)


def stop_with_inflight(sig):
    body = b"complete-body-" * 5000
    up = Upstream("a", handler=lambda req: Reply(200, body, delay=1.0))
    cfg, port = make_config({"a": [up]}, workers=2,
                            extra={"drain_timeout": "10s"})
    sl = start_sluice(cfg)
    c = Client(port)
    c.send(build_request("GET", "/slow"))
    check(up.wait_requests(1, 2.0), "request did not reach the upstream")
    t0 = time.monotonic()
    sl.send_signal(sig)
    # stops accepting at once, while the request is still in flight
    refused = wait_until(lambda: connect_refused(port), 0.6, 0.05)
    check(refused, "the listener still accepts connections after %s"
          % signal.Signals(sig).name)
    check(sl.proc.poll() is None, "sluice exited with a request in flight")
    r = read_response(c)
    eq(r.status, 200, "status of the in-flight request")
    eq(r.body, body, "body of the in-flight request")
    check(time.monotonic() - t0 >= 0.5, "response came too early")
    check(c.wait_closed(2.0), "client connection not closed after the "
          "in-flight response during stop")
    rc = sl.wait(5.0)
    check(rc is not None, "sluice did not exit after finishing in-flight "
          "work")
    eq(rc, 0, "exit status")
    check(time.monotonic() - t0 < 4.0, "stop took %.1fs"
          % (time.monotonic() - t0))
    check(connect_refused(port), "port still accepts after exit")
    p = sl.sanitizer_problem()
    check(p is None, p)


@test
def sigterm_finishes_inflight_request():
    stop_with_inflight(signal.SIGTERM)


@test
def sigint_finishes_inflight_request():
    stop_with_inflight(signal.SIGINT)


@test
def sigterm_closes_idle_keepalive_connections_fast():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, workers=2,
                            extra={"drain_timeout": "30s"})
    sl = start_sluice(cfg)
    clients = []
    for i in range(20):
        c = Client(port)
        eq(c.request("GET", "/%d" % i).status, 200, "status")
        clients.append(c)
    # connected, never sent a byte: with TCP_DEFER_ACCEPT the kernel
    # never handed it over, so stopping drops it unanswered
    silent = Client(port)
    t0 = time.monotonic()
    sl.send_signal(signal.SIGTERM)
    for c in clients:
        check(c.wait_closed(2.0), "idle keep-alive connection not closed "
              "at stop")
    nreq = len(up.requests)
    try:
        silent.send(build_request("GET", "/late"))
        got = silent.wait_closed(2.0)
    except OSError:
        got = True
    check(got and not silent.buf, "a connection that spoke only after "
          "the stop was answered")
    eq(len(up.requests), nreq, "requests forwarded after the stop")
    eq(sl.wait(3.0), 0, "exit status")
    dt = time.monotonic() - t0
    # 1 s of grace for a next request, 0.5 s of linger after the FIN
    check(dt < 3.0, "stop with only idle connections took %.1fs "
          "(drain_timeout 30s)" % dt)
    check(all(c.buf == bytearray() or c.buf.startswith(b"HTTP/1.1 ")
              for c in clients), "junk sent on idle connections at stop")


@test
def drain_timeout_bounds_stop():
    up = Upstream("hang", handler=lambda req: Reply(action="hang"))
    cfg, port = make_config({"hang": [up]}, extra={"drain_timeout": "1s"},
                            routes=[{"name": "h", "cluster": "hang",
                                     "timeout": "30s"}])
    sl = start_sluice(cfg)
    c = Client(port)
    c.send(build_request("GET", "/never"))
    check(up.wait_requests(1, 2.0), "request did not reach the upstream")
    t0 = time.monotonic()
    sl.send_signal(signal.SIGTERM)
    rc = sl.wait(5.0)
    dt = time.monotonic() - t0
    check(rc is not None, "sluice still running 5s after SIGTERM with "
          "drain_timeout 1s")
    eq(rc, 0, "exit status")
    check(0.7 <= dt <= 3.0, "exit %.2fs after SIGTERM (drain_timeout 1s)"
          % dt)
    check(c.wait_closed(1.0), "client connection not closed at exit")


@test
def idle_connection_next_request_answered_during_stop():
    """A busy client's next request is on its way when the stop begins:
    it is answered (with Connection: close) within the idle grace, not
    crossed by a FIN (which wrk and most clients count as an error)."""
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, extra={"drain_timeout": "10s"})
    sl = start_sluice(cfg)
    c = Client(port)
    eq(c.request("GET", "/1").status, 200, "before the stop")
    sl.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    r = c.request("GET", "/2")
    eq(r.status, 200, "next request on an idle connection after SIGTERM")
    eq((r.header("connection") or "").lower(), "close",
       "Connection on the last response")
    check(c.wait_closed(2.0), "connection not closed after its response")
    eq(len(up.requests), 2, "requests the upstream saw")
    eq(sl.wait(5.0), 0, "exit status")


@test
def stop_does_not_wait_for_a_client_that_took_its_response():
    """A response still in the kernel's send queue when its connection
    ends (Connection: close, a client reading slowly) keeps the connection
    lingering while the client takes it; once it has, the usual short
    linger follows, not send_timeout (30 s) for a client that keeps its
    socket open after reading everything. Seen as a stop that waited for
    drain_timeout."""
    body = os.urandom(4 << 20)
    up = Upstream("a", handler=lambda req: Reply(200, body))
    cfg, port = make_config({"a": [up]}, extra={"drain_timeout": "10s"})
    sl = start_sluice(cfg)
    c = Client(port, rcvbuf=32768)
    c.send(build_request("GET", "/big", [("Connection", "close")]))
    check(wait_until(lambda: len(up.requests) == 1, 5.0), "no request")
    time.sleep(0.5)  # the response fills the client's window and waits
    t0 = time.monotonic()
    sl.send_signal(signal.SIGTERM)
    r = c.read_response()
    eq((r.status, len(r.body)), (200, len(body)), "the response")
    check(c.wait_closed(2.0), "no end of stream after the response")
    # the socket stays open on this side
    eq(sl.wait(8.0), 0, "exit status")
    dt = time.monotonic() - t0
    check(dt < 5.0, "the stop took %.1fs (drain_timeout 10s): the "
          "connection lingered after the client took its response" % dt)


@test
def inflight_upload_completes_during_stop():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, extra={"drain_timeout": "10s"})
    sl = start_sluice(cfg)
    data = os.urandom(1 << 20)
    c = Client(port)
    c.send(build_request("POST", "/up", [("Content-Length",
                                          str(len(data)))]) + data[:1000])
    time.sleep(0.3)
    sl.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    c.send(data[1000:])
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    import hashlib
    eq(r.json()["body_sha256"], hashlib.sha256(data).hexdigest(), "sha256")
    eq(sl.wait(5.0), 0, "exit status")


@test
def sighup_keeps_serving():
    up = Upstream("a")
    cfg, port = make_config({"a": [up]})
    sl = start_sluice(cfg)
    c = Client(port)
    eq(c.request("GET", "/1").status, 200, "before SIGHUP")
    sl.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    check(sl.proc.poll() is None, "sluice exited on SIGHUP (status %s)"
          % sl.proc.returncode)
    eq(c.request("GET", "/2").status, 200, "same connection after SIGHUP")
    eq(Client(port).request("GET", "/3").status, 200,
       "new connection after SIGHUP")


@test
def sigusr1_reopens_access_log():
    up = Upstream("a")
    d = tmpdir()
    logp = os.path.join(d, "access.log")
    cfg, port = make_config({"a": [up]}, access_log=logp)
    sl = start_sluice(cfg)
    c = Client(port)
    eq(c.request("GET", "/", [("X-Request-Id", "before-rotate")]).status,
       200, "status")
    check(read_json_lines(logp, lambda o: o.get("request_id")
                          == "before-rotate"), "first entry not logged")
    os.rename(logp, logp + ".1")
    sl.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    check(sl.proc.poll() is None, "sluice exited on SIGUSR1")
    eq(c.request("GET", "/", [("X-Request-Id", "after-rotate")]).status,
       200, "status")
    check(read_json_lines(logp, lambda o: o.get("request_id")
                          == "after-rotate"),
          "entry after SIGUSR1 not in the reopened file")


@test
def startup_fails_when_port_in_use():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(8)
    port = busy.getsockname()[1]
    try:
        up = Upstream("a")
        cfg, _ = make_config({"a": [up]}, port=port)
        sl = Sluice(cfg, wait_ports=[])
        _register("sluices", sl)
        sl.start()
        rc = sl.wait(5.0)
        check(rc is not None, "sluice runs although its port is taken")
        check(rc != 0, "exit status 0 although the port is taken")
        check(sl.stderr().strip(), "no error message on stderr")
    finally:
        busy.close()


def start_refused(cfg):
    """Starts a sluice that must refuse to start; returns its stderr."""
    sl = Sluice(cfg, wait_ports=[])
    _register("sluices", sl)
    sl.start()
    rc = sl.wait(5.0)
    eq(rc, 1, "exit status; stderr:\n%s" % sl.stderr())
    return sl.stderr()


def served_by(port, n=40):
    """Names of the upstreams that answered n requests on new
    connections."""
    names = set()
    for i in range(n):
        r = get(port, "/who-%d" % i)
        eq(r.status, 200, "status")
        names.add(r.json()["upstream"])
    return names


@test
def second_sluice_on_the_same_address_refuses_to_start():
    # both would listen with SO_REUSEPORT: the kernel would let the
    # second one join and take a share of the first one's connections
    a, b = Upstream("a"), Upstream("b")
    cfg1, port = make_config({"a": [a]}, workers=2)
    sl1 = start_sluice(cfg1)
    cfg2, _ = make_config({"b": [b]}, workers=2, port=port,
                          listener_name="other")
    err = start_refused(cfg2)
    check(re.search(r'error: listener "other" 127\.0\.0\.1:%d: address '
                    r'already in use by pid %d \(sluice\)' % (port, sl1.pid),
                    err), "no 'address already in use by pid N (sluice)' "
          "line in:\n%s" % err)
    eq(served_by(port), {"a"}, "upstreams that served the port")
    eq(len(b.requests), 0, "requests that reached the second file's "
       "upstream")
    # a wildcard address overlaps the first one's 127.0.0.1 too
    cfg3, _ = make_config({"b": [b]}, workers=1, port=port)
    cfg3["listeners"][0]["address"] = "0.0.0.0:%d" % port
    err = start_refused(cfg3)
    check("address already in use by pid %d" % sl1.pid in err,
          "wildcard address not refused:\n%s" % err)
    eq(served_by(port), {"a"}, "upstreams that served the port")


@test
def other_reuseport_listener_refuses_start():
    # any process of the same user that listens with SO_REUSEPORT would
    # share the port the same way
    a = Upstream("a")
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("0.0.0.0", 0))
    other.listen(8)
    port = other.getsockname()[1]
    try:
        cfg, _ = make_config({"a": [a]}, workers=2, port=port)
        err = start_refused(cfg)
        check(re.search(r'listener "main" 127\.0\.0\.1:%d: address already '
                        r'in use by pid %d \(python' % (port, os.getpid()),
                        err), "no refusal naming this process:\n%s" % err)
    finally:
        other.close()
    # once it is gone, the same file starts
    sl = start_sluice(cfg)
    eq(served_by(port, 4), {"a"}, "upstreams that served the port")
    sl.stop()


@test
def ipv6_listener_shared_with_another_process_refuses_start():
    # the IPv6 table too, and a dual-stack [::] socket meets an IPv4
    # address
    a = Upstream("a")
    try:
        other = socket.socket(socket.AF_INET6)
    except OSError:
        raise Skip("no IPv6")
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        other.bind(("::", 0))
    except OSError:
        other.close()
        raise Skip("cannot bind [::]")
    other.listen(8)
    port = other.getsockname()[1]
    try:
        cfg, _ = make_config({"a": [a]}, workers=1, port=port)
        cfg["listeners"][0]["address"] = "[::1]:%d" % port
        err = start_refused(cfg)
        check(re.search(r'listener "main" \[::1\]:%d: address already in '
                        r'use by pid %d' % (port, os.getpid()), err),
              "IPv6 address not refused:\n%s" % err)
        cfg["listeners"][0]["address"] = "127.0.0.1:%d" % port
        err = start_refused(cfg)
        check(re.search(r'listener "main" 127\.0\.0\.1:%d: address already '
                        r'in use by pid %d' % (port, os.getpid()), err),
              "IPv4 address beside a dual-stack [::] not refused:\n%s"
              % err)
    finally:
        other.close()


def held_by_a_connection():
    """A port held by a connection, not a listener: a client socket bound
    to a port the kernel picks (bind to port 0, as an outgoing
    connection's own port is picked) and connected to a listener of this
    process. Returns (client, accepted, listener, the port)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    client = socket.socket()
    client.bind(("127.0.0.1", 0))
    client.connect(lst.getsockname())
    accepted, _ = lst.accept()
    return client, accepted, lst, client.getsockname()[1]


def tcp_states(port):
    """The TCP states (the kernel's hex numbers) of the sockets whose
    local port is port, from /proc/net/tcp."""
    out = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if int(parts[1].split(":")[1], 16) == port:
                out.append(parts[3])
    return out


def ephemeral(port):
    """Whether the kernel gives port to outgoing connections: in
    net.ipv4.ip_local_port_range, not in ip_local_reserved_ports."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = (int(x) for x in f.read().split())
    with open("/proc/sys/net/ipv4/ip_local_reserved_ports") as f:
        for part in f.read().strip().split(","):
            if part:
                a, _, b = part.partition("-")
                if int(a) <= port <= int(b or a):
                    return False
    return lo <= port <= hi


EPHEMERAL_HINT = ("port %d is in the kernel's range of local ports for "
                  "outgoing connections")


@test
def startup_fails_naming_the_connection_that_holds_its_port():
    # issue 41: -t said OK, then the start failed with a bare "cannot
    # listen: Address already in use": the port, one of the kernel's
    # ephemeral range, was held by an outgoing connection, not a listener
    a = Upstream("a")
    client, accepted, lst, port = held_by_a_connection()
    peer = "127.0.0.1:%d" % lst.getsockname()[1]
    with open("/proc/self/comm") as f:
        me = "pid %d (%s)" % (os.getpid(), f.read().strip())
    try:
        cfg, _ = make_config({"a": [a]}, workers=2, port=port)
        err = start_refused(cfg)
        check(re.search(r'listener "main" 127\.0\.0\.1:%d: address already '
                        r'in use by a connection \(state ESTABLISHED, to '
                        r'%s\) owned by %s' % (port, re.escape(peer),
                                               re.escape(me)), err),
              "no refusal naming the connection:\n%s" % err)
        if ephemeral(port):
            check(EPHEMERAL_HINT % port in err, "no hint about the "
                  "ephemeral range:\n%s" % err)
        # closed from this end first: the port stays in TIME_WAIT, which
        # no process holds
        client.close()
        accepted.close()
        check(wait_until(lambda: tcp_states(port) == ["06"], 5.0),
              "port %d not in TIME_WAIT alone: %r" % (port,
                                                     tcp_states(port)))
        err = start_refused(cfg)
        check(re.search(r'listener "main" 127\.0\.0\.1:%d: address already '
                        r'in use by a connection \(state TIME_WAIT, to %s\) '
                        r'that no process owns' % (port, re.escape(peer)),
                        err), "no refusal naming the TIME_WAIT:\n%s" % err)
    finally:
        client.close()
        accepted.close()
        lst.close()


@test
def startup_fails_with_bad_config():
    sl = Sluice("listeners: 42\nbogus: 1\n", wait_ports=[])
    _register("sluices", sl)
    sl.start()
    rc = sl.wait(5.0)
    eq(rc, 1, "exit status with an invalid config")
    check("error:" in sl.stderr(), "no error on stderr: %r" % sl.stderr())


@test
def startup_fails_with_missing_config():
    sl = Sluice("", wait_ports=[])
    _register("sluices", sl)
    os.unlink(sl.conf_path)
    sl.start()
    rc = sl.wait(5.0)
    check(rc is not None and rc != 0, "exit status %r for a missing "
          "config file" % rc)
    check(sl.stderr().strip(), "no error on stderr")


def blocked_before_reading(pid):
    """Whether process pid runs sluice (it has exec'd) and sleeps: here,
    in the open of its configuration, a FIFO nobody writes yet."""
    from sltest import sluice_path
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return (exe == os.path.realpath(sluice_path())
            and st[st.rindex(")") + 2] == "S")


@test
def early_sighup_and_sigusr1_do_not_kill():
    # a reload or log reopen asked for while sluice is still loading its
    # file (here: blocked opening a FIFO) must not end it. The shell or
    # service manager may have left SIGHUP ignored; the child gets the
    # default dispositions, as under systemd.
    from sltest import sluice_path, free_port
    d = tmpdir()
    fifo = os.path.join(d, "sluice.yaml")
    os.mkfifo(fifo)
    port = free_port()

    def defaults():
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    p = subprocess.Popen([sluice_path(), "-c", fifo],
                         stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         preexec_fn=defaults)
    try:
        check(wait_until(lambda: blocked_before_reading(p.pid), 10.0),
              "sluice never waited for its configuration file")
        p.send_signal(signal.SIGHUP)
        p.send_signal(signal.SIGUSR1)
        # with their default action either signal would end it before it
        # reads a byte: then it never listens
        with open(fifo, "w") as f:
            f.write(to_yaml(make_config({"c": ["127.0.0.1:1"]},
                                        port=port)[0]))
        check(wait_until(lambda: not connect_refused(port), 5.0),
              "sluice started after the early signals (exit status %r)"
              % p.poll())
        eq(p.poll(), None, "sluice alive after an early SIGHUP and SIGUSR1")
    finally:
        p.terminate()
        p.wait(timeout=10)


# ---------------------------------------------------------------------------
# -p: the pid file


def start_with(sl, *args):
    """Starts sl (a Sluice) with further command-line arguments."""
    popen = subprocess.Popen

    def with_args(cmd, *a, **kw):
        return popen(list(cmd) + list(args), *a, **kw)
    sltest.subprocess.Popen = with_args
    try:
        return sl.start()
    finally:
        sltest.subprocess.Popen = popen


def sluice_p(pid_file, cfg=None, **kw):
    """A registered Sluice started with -p pid_file."""
    if cfg is None:
        cfg, _ = make_config({"a": ["127.0.0.1:1"]})
    sl = Sluice(cfg, **kw)
    _register("sluices", sl)
    return start_with(sl, "-p", pid_file)


def read_pid(path):
    with open(path) as f:
        return f.read()


def gone_pid():
    """The pid of a process that has exited."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@test
def pid_file_written_when_serving_and_removed_at_stop():
    d = tmpdir()
    pf = os.path.join(d, "sluice.pid")
    sl = sluice_p(pf)
    # written once the listeners are bound and the workers started:
    # start_with returned when the port accepted
    check(wait_until(lambda: os.path.exists(pf), 5.0), "no pid file")
    eq(read_pid(pf), "%d\n" % sl.pid, "pid file content")
    eq(os.stat(pf).st_mode & 0o777, 0o644, "pid file mode")
    eq(sorted(os.listdir(d)), ["sluice.pid"], "files beside the pid file")
    sl.stop()
    check(not os.path.exists(pf), "pid file left after SIGTERM")
    eq(os.listdir(d), [], "files left in the directory")


@test
def second_sluice_with_the_same_pid_file_refuses():
    d = tmpdir()
    pf = os.path.join(d, "sluice.pid")
    sl1 = sluice_p(pf)
    check(wait_until(lambda: os.path.exists(pf), 5.0), "no pid file")
    # another file, another port: only the pid file is shared
    cfg2, port2 = make_config({"b": ["127.0.0.1:1"]})
    sl2 = Sluice(cfg2, wait_ports=[])
    _register("sluices", sl2)
    start_with(sl2, "-p", pf)
    eq(sl2.wait(10.0), 1, "exit status of the second sluice; stderr:\n%s"
       % sl2.stderr())
    want = ("pid file %s: pid %d (sluice) is running; not starting a "
            "second sluice with the same pid file" % (pf, sl1.pid))
    check(want in sl2.stderr(), "stderr lacks %r:\n%s"
          % (want, sl2.stderr()))
    check(connect_refused(port2), "the refused sluice listens")
    eq(read_pid(pf), "%d\n" % sl1.pid, "pid file after the refusal")
    sl1.stop()
    check(not os.path.exists(pf), "pid file left after SIGTERM")


@test
def stale_pid_file_is_replaced():
    d = tmpdir()
    pf = os.path.join(d, "sluice.pid")
    # a process that is gone, and a live one that is not sluice (its
    # number came round again after a crash)
    for pid, note in ((gone_pid(), None),
                      (os.getpid(), "pid file %s: stale: pid %d is now ")):
        with open(pf, "w") as f:
            f.write("%d\n" % pid)
        sl = sluice_p(pf)
        check(wait_until(lambda: read_pid(pf) == "%d\n" % sl.pid, 5.0),
              "stale pid file not replaced: %r" % read_pid(pf))
        if note:
            check(note % (pf, pid) in sl.stderr(), "no stale warning:\n%s"
                  % sl.stderr())
        sl.stop()
        check(not os.path.exists(pf), "pid file left after SIGTERM")


@test
def check_with_pid_file_checks_it_can_be_written():
    d = tmpdir()
    cfg, _ = make_config({"a": ["127.0.0.1:1"]})
    conf = os.path.join(d, "sluice.yaml")
    with open(conf, "w") as f:
        f.write(to_yaml(cfg))
    pf = os.path.join(d, "run", "sluice.pid")
    rc, out, err = run_sluice(["-t", "-c", conf, "-p", pf])
    eq(rc, 1, "exit status of -t with an unwritable pid file (%r)" % err)
    want = ('error: -p: cannot write the pid file "%s": the directory "%s" '
            'does not exist' % (pf, os.path.dirname(pf)))
    check(want in err, "stderr lacks %r:\n%s" % (want, err))
    # and start-up refuses the same way, before it binds
    rc, out, err = run_sluice(["-c", conf, "-p", pf])
    eq(rc, 1, "exit status of a start with an unwritable pid file")
    check(want in err, "start-up stderr lacks %r:\n%s" % (want, err))
    os.mkdir(os.path.dirname(pf))
    rc, out, err = run_sluice(["-t", "-c", conf, "-p", pf])
    eq(rc, 0, "exit status of -t with a writable pid file (%r)" % err)
    check(not os.path.exists(pf), "-t wrote the pid file")


if __name__ == "__main__":
    main()
