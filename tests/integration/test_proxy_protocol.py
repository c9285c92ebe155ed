# SPDX-License-Identifier: MIT
"""PROXY protocol (doc/edge.md section 2): a listener's proxy_protocol
reads version 1 and 2 headers from its balancers (plain and TLS, IPv4 and
IPv6, LOCAL and UNKNOWN), refuses one from anyone else, and closes and
counts by reason a header that is missing, malformed, too large,
truncated or slow, with nothing reaching an upstream. The header's source
is the client for everything: per-address limits, sticky keys,
X-Forwarded-For, the logs (the balancer as "via"). A cluster's
proxy_protocol: v2 starts each upstream connection with a header naming
the client (health checks send LOCAL), never pooled. curl and HAProxy are
real senders.

Sources: the balancer connects from 127.0.0.2 (the listener's "from"),
anyone else from 127.0.0.1 (Linux routes all of 127/8 to the loopback);
every connection goes to 127.0.0.1 or ::1."""

import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (BufSock, Pki, RawUpstream, Skip, Upstream,  # noqa: E402
                    _register, build_request, check, curl, eq, free_port,
                    have_curl, have_openssl, main, make_config, metric_sum,
                    metrics, read_json_lines, read_response, start_sluice,
                    test, tls_client_context, tls_server_context, tmpdir,
                    wait_until)

BALANCER = "127.0.0.2"
OTHER = "127.0.0.1"
V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


# ---------------------------------------------------------------------------
# Headers


def v1(src, dst="127.0.0.1", sport=4711, dport=443):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def tlv(t, value):
    return bytes([t]) + struct.pack(">H", len(value)) + value


def v2(src=None, dst="127.0.0.1", sport=4711, dport=443, tlvs=b"",
       local=False, fam=None, length=None):
    if local:
        blk = tlvs
        vc, fb = 0x20, fam or 0x00
    else:
        af = socket.AF_INET6 if ":" in src else socket.AF_INET
        if ":" in src and ":" not in dst:
            dst = "::ffff:" + dst
        blk = (socket.inet_pton(af, src) + socket.inet_pton(af, dst) +
               struct.pack(">HH", sport, dport) + tlvs)
        vc, fb = 0x21, fam or (0x21 if af == socket.AF_INET6 else 0x11)
    n = len(blk) if length is None else length
    return V2SIG + bytes([vc, fb]) + struct.pack(">H", n) + blk


def parse_v2(b):
    """(command, src, dst, sport, dport) of a version 2 header."""
    check(b[:12] == V2SIG, "not a PROXY v2 signature: %r" % b[:16])
    cmd, fam = b[12] & 0x0f, b[13]
    if cmd == 0:
        return ("local", None, None, None, None)
    if fam == 0x11:
        a = b[16:28]
        return ("proxy", socket.inet_ntop(socket.AF_INET, a[0:4]),
                socket.inet_ntop(socket.AF_INET, a[4:8]),
                struct.unpack(">H", a[8:10])[0],
                struct.unpack(">H", a[10:12])[0])
    eq(fam, 0x21, "family and transport byte")
    a = b[16:52]
    return ("proxy", socket.inet_ntop(socket.AF_INET6, a[0:16]),
            socket.inet_ntop(socket.AF_INET6, a[16:32]),
            struct.unpack(">H", a[32:34])[0],
            struct.unpack(">H", a[34:36])[0])


# ---------------------------------------------------------------------------
# Clients from a chosen source


class SrcClient(BufSock):
    """A raw connection from src to host:port."""

    def __init__(self, port, src=BALANCER, host="127.0.0.1", timeout=5.0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        BufSock.__init__(self, s)
        _register("clients", self)

    def send(self, data):
        self.sock.sendall(data)

    def request(self, path="/", headers=None, host="test.local"):
        self.send(build_request("GET", path, headers, None, host))
        return read_response(self, "GET")

    def wait_closed(self, timeout=5.0):
        """True when the peer closes: EOF or a reset."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if time.monotonic() > deadline:
                return False
            try:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                self._fill()
            except socket.timeout:
                return False
            except OSError:
                self.eof = True
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def proxied(port, header, path="/", src=BALANCER, host="127.0.0.1",
            headers=None):
    """One request after header on a new connection: the response."""
    c = SrcClient(port, src, host)
    c.send(header + build_request("GET", path, headers, None, "test.local"))
    r = read_response(c, "GET")
    c.close()
    return r


def refused(port, data, src=BALANCER, shut=False, host="127.0.0.1"):
    """data sent, then the connection must close without a byte back."""
    c = SrcClient(port, src, host)
    c.send(data)
    if shut:
        c.sock.shutdown(socket.SHUT_WR)
    check(c.wait_closed(5.0), "sluice did not close the connection after "
          "%r" % data[:60])
    eq(bytes(c.buf), b"", "bytes sent back to %r" % data[:60])
    c.close()


# ---------------------------------------------------------------------------
# Set-ups


def setup(opts=None, limits=None, clusters=None, routes=None,
          cluster_opts=None, port=None):
    """sluice with a proxy_protocol listener trusting BALANCER (opts are
    more listener keys), an admin listener and a JSON access log.
    Returns (upstreams dict, sluice, port, admin port, access log)."""
    ups = clusters or {"a": [Upstream("a")]}
    aport = free_port()
    log = os.path.join(tmpdir(), "access.log")
    lo = {"proxy_protocol": {"from": [BALANCER]}}
    lo.update(opts or {})
    cfg, port = make_config(ups, routes=routes, limits=limits,
                            access_log=log, listener_opts=lo, port=port,
                            cluster_opts=cluster_opts,
                            extra={"admin": {"address": "127.0.0.1:%d"
                                             % aport}})
    sl = start_sluice(cfg, wait_ports=[aport])
    listening(sl)
    return ups, sl, port, aport, log


def listening(sl):
    """Waits for sluice's listener: start_sluice waited for the admin
    port only (a probe on a proxy_protocol listener would count), and the
    admin listener opens before the others."""
    check(wait_until(lambda: 'listener "main" on' in sl.stderr(), 10.0),
          "listener up:\n%s" % sl.stderr())


def pp_errors(aport, reason):
    return metric_sum(metrics(aport), "sluice_proxy_protocol_errors_total",
                      reason=reason)


def pp_accepted(aport, command):
    return metric_sum(metrics(aport), "sluice_proxy_protocol_total",
                      command=command)


def wait_metric(fn, want, what):
    got = [None]

    def ok():
        got[0] = fn()
        return got[0] == want
    check(wait_until(ok, 5.0), "%s: %r, want %r" % (what, got[0], want))


_pki = []


def pki():
    if not have_openssl():
        raise Skip("the openssl command is not installed")
    if not _pki:
        p = Pki()
        p.ca("ca", "/O=Sluice Test/CN=Sluice Test CA")
        p.leaf("srv", "/O=Example Corp/CN=pay.example.test", "ca",
               ["pay.example.test"])
        p.leaf("up", "/O=Example Corp/CN=up.internal", "ca",
               ["up.internal"])
        _pki.append(p)
    return _pki[0]


def tls_opts():
    p = pki()
    return {"tls": {"certificates": [{"cert": p["srv"].cert,
                                      "key": p["srv"].key}]}}


class TLSAfterHeader:
    """A TLS client that writes header and its ClientHello in one write
    (split: the header in two writes, then the handshake), so that sluice
    must take the header's bytes and not one more."""

    def __init__(self, port, header, src=BALANCER, host="127.0.0.1",
                 split=False):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.raw = socket.socket(fam, socket.SOCK_STREAM)
        self.raw.settimeout(5.0)
        self.raw.bind((src, 0))
        self.raw.connect((host, port))
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = tls_client_context(cafile=pki()["ca"].cert)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out,
                                server_hostname="pay.example.test")
        self._step(self.tls.do_handshake)
        hello = self.out.read()
        if split:
            self.raw.sendall(header[:9])
            time.sleep(0.1)
            self.raw.sendall(header[9:])
            time.sleep(0.1)
            self.raw.sendall(hello)
        else:
            self.raw.sendall(header + hello)
        while not self._step(self.tls.do_handshake):
            self._pump()
        _register("clients", self)

    def _step(self, fn, *a):
        try:
            return fn(*a) if a else (fn() or True)
        except ssl.SSLWantReadError:
            return False

    def _pump(self):
        out = self.out.read()
        if out:
            self.raw.sendall(out)
        d = self.raw.recv(65536)
        if not d:
            self.inc.write_eof()
            raise ssl.SSLEOFError("closed by sluice")
        self.inc.write(d)

    def request(self, path="/"):
        self.tls.write(build_request("GET", path, None, None, "test.local"))
        self.raw.sendall(self.out.read())
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            r = self._step(self.tls.read, 65536)
            if r is False:
                self._pump()
                continue
            buf += r
        head, _, body = bytes(buf).partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), head

    def close(self):
        self.raw.close()


# ---------------------------------------------------------------------------
# Reading headers


@test
def v1_and_v2_name_the_client():
    ups, sl, port, aport, log = setup()
    up = ups["a"][0]
    r = proxied(port, v1("203.0.113.7"), "/v1",
                headers={"X-Forwarded-For": "1.2.3.4"})
    eq(r.status, 200, "status after a v1 header")
    r = proxied(port, v2("198.51.100.9",
                         tlvs=tlv(0x01, b"h2") +
                         tlv(0x02, b"pay.example.test") +
                         tlv(0xea, b"vendor")), "/v2")
    eq(r.status, 200, "status after a v2 header with TLVs")
    # issue 61: the authority is the client's text, masked in the log
    r = proxied(port, v2("198.51.100.9",
                         tlvs=tlv(0x02, b"4111111111111111.example.test")),
                "/v3")
    eq(r.status, 200, "status after a v2 header with a card number")
    check(up.wait_requests(3), "upstream requests")
    # the header's source is the client appended to X-Forwarded-For
    eq([q.header("x-forwarded-for") for q in up.requests],
       ["1.2.3.4, 203.0.113.7", "198.51.100.9", "198.51.100.9"],
       "X-Forwarded-For")
    # and the access log's peer; the balancer shows as via
    lines = read_json_lines(log, min_count=3)
    eq([(x["path"], x["peer"], x.get("via"), x.get("authority"))
        for x in lines],
       [("/v1", "203.0.113.7", BALANCER, None),
        ("/v2", "198.51.100.9", BALANCER, "pay.example.test"),
        ("/v3", "198.51.100.9", BALANCER,
         "411111******1111.example.test")],
       "access log peer, via, authority")
    wait_metric(lambda: pp_accepted(aport, "proxy"), 3, "headers accepted")
    eq(pp_accepted(aport, "local"), 0, "local headers")


@test
def ipv6_listener_and_clients():
    up = Upstream("a")
    aport = free_port()
    port = free_port()
    log = os.path.join(tmpdir(), "access.log")
    cfg, _ = make_config({"a": [up]}, access_log=log, port=port,
                         listener_opts={"address": "[::1]:%d" % port,
                                        "proxy_protocol": {"from": ["::1"]}},
                         extra={"admin": {"address": "127.0.0.1:%d" % aport}})
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        raise Skip("no IPv6 loopback")
    start_sluice(cfg, wait_ports=[aport])
    check(wait_until(lambda: _connects6(port), 5.0), "[::1] listener up")
    eq(proxied(port, v1("2001:db8::7", "::1"), "/a", src="::1",
               host="::1").status, 200, "v1 TCP6")
    eq(proxied(port, v2("2001:db8::8", "::1"), "/b", src="::1",
               host="::1").status, 200, "v2 over IPv6")
    # an IPv4 client behind an IPv6 balancer (mapped: the IPv4 address)
    eq(proxied(port, v2("::ffff:192.0.2.4", "::1"), "/c", src="::1",
               host="::1").status, 200, "v2 mapped IPv4")
    check(up.wait_requests(3), "upstream requests")
    eq([q.header("x-forwarded-for") for q in up.requests],
       ["2001:db8::7", "2001:db8::8", "192.0.2.4"], "X-Forwarded-For")
    eq([(x["peer"], x.get("via")) for x in read_json_lines(log, min_count=3)],
       [("2001:db8::7", "::1"), ("2001:db8::8", "::1"), ("192.0.2.4", "::1")],
       "access log")


def _connects6(port):
    s = socket.socket(socket.AF_INET6)
    s.settimeout(0.5)
    try:
        s.connect(("::1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


@test
def local_and_unknown_keep_the_balancer():
    ups, sl, port, aport, log = setup()
    up = ups["a"][0]
    eq(proxied(port, v2(local=True), "/local").status, 200, "v2 LOCAL")
    # LOCAL skips whatever block it carries
    eq(proxied(port, v2(local=True, fam=0x11, tlvs=b"x" * 12),
               "/local2").status, 200, "v2 LOCAL with a block")
    eq(proxied(port, b"PROXY UNKNOWN\r\n", "/unknown").status, 200,
       "v1 UNKNOWN")
    eq(proxied(port, b"PROXY UNKNOWN 1.1.1.1 2.2.2.2 1 2\r\n",
               "/unknown2").status, 200, "v1 UNKNOWN with addresses")
    # v2 PROXY of a family sluice does not use: UNSPEC, AF_UNIX
    eq(proxied(port, V2SIG + b"\x21\x00\x00\x00", "/unspec").status, 200,
       "v2 UNSPEC")
    eq(proxied(port, V2SIG + b"\x21\x31\x00\xd8" + b"u" * 216,
               "/unix").status, 200, "v2 AF_UNIX")
    check(up.wait_requests(6), "upstream requests")
    eq(set(q.header("x-forwarded-for") for q in up.requests), {BALANCER},
       "X-Forwarded-For: the balancer itself")
    lines = read_json_lines(log, min_count=6)
    eq(set((x["peer"], x.get("via")) for x in lines), {(BALANCER, None)},
       "access log: the balancer, no via")
    wait_metric(lambda: pp_accepted(aport, "local"), 6, "local headers")
    eq(pp_accepted(aport, "proxy"), 0, "proxy headers")


@test
def untrusted_source_refused():
    ups, sl, port, aport, log = setup()
    up = ups["a"][0]
    refused(port, v1("203.0.113.7") + build_request(), src=OTHER)
    refused(port, v2("203.0.113.7") + build_request(), src=OTHER)
    # split: the signature's first bytes, then the rest
    c = SrcClient(port, OTHER)
    c.send(b"PRO")
    time.sleep(0.1)
    c.send(b"XY TCP4 1.1.1.1 2.2.2.2 1 2\r\n")
    check(c.wait_closed(), "closed")
    eq(bytes(c.buf), b"", "nothing sent back")
    wait_metric(lambda: pp_errors(aport, "untrusted"), 3, "untrusted")
    # anyone else's plain request goes on as without proxy_protocol
    c = SrcClient(port, OTHER)
    eq(c.request("/direct").status, 200, "a direct client's request")
    eq(c.request("/again").status, 200, "its next one")
    check(up.wait_requests(2), "upstream requests")
    eq(up.paths(), ["/direct", "/again"], "only the direct requests")
    eq(up.requests[0].header("x-forwarded-for"), OTHER, "its address")
    # and a malformed one is still a 400, as without proxy_protocol
    c = SrcClient(port, OTHER)
    c.send(b"\r\n\r\n\x00garbage\r\n\r\n")
    r = read_response(c)
    eq(r.status, 400, "garbage from another source")


@test
def bad_headers_closed_and_counted():
    ups, sl, port, aport, log = setup(
        opts={"proxy_protocol": {"from": [BALANCER], "versions": [1, 2]}},
        limits={"header_timeout": "300ms"})
    up = ups["a"][0]
    cases = [
        ("missing", build_request(), False),
        ("malformed", b"PROXY TCP4 192.0.2.07 10.0.0.1 1 2\r\n" +
         build_request(), False),
        ("malformed", b"PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n\n", False),
        ("malformed", v2("192.0.2.7", tlvs=b"\x02\x00\x10abc") +
         build_request(), False),
        ("malformed", V2SIG + b"\x31\x11\x00\x0c" + b"\x00" * 12, False),
        ("too_large", b"PROXY UNKNOWN " + b"x" * 200 + b"\r\n", False),
        ("too_large", V2SIG + b"\x21\x11\x10\x00", False),
        ("truncated", b"PROXY TCP4 192.0.2.7 10.", True),
        ("truncated", v2("192.0.2.7")[:20], True),
        ("timeout", b"PROXY TCP4 192.0.2.7", False),
        ("timeout", V2SIG[:5], False),
    ]
    want = {}
    for reason, data, shut in cases:
        refused(port, data, shut=shut)
        want[reason] = want.get(reason, 0) + 1
        wait_metric(lambda: pp_errors(aport, reason), want[reason], reason)
    # a balancer that connects and goes without a byte: no error (its
    # TCP health check)
    c = SrcClient(port)
    c.close()
    # nothing of them reached the upstream
    time.sleep(0.2)
    eq((up.accepts, up.bytes_received), (0, 0), "upstream accepts, bytes")
    m = metrics(aport)
    for reason in ("missing", "malformed", "too_large", "truncated",
                   "timeout", "untrusted", "version"):
        eq(metric_sum(m, "sluice_proxy_protocol_errors_total",
                      reason=reason), want.get(reason, 0), reason)
    eq(metric_sum(m, "sluice_proxy_protocol_total"), 0, "accepted")
    # each said once at info
    check(sl.stderr().count("PROXY protocol: ") == len(cases),
          "one log line per refused connection:\n%s" % sl.stderr())


@test
def versions_accepted():
    ups, sl, port, aport, log = setup(
        opts={"proxy_protocol": {"from": [BALANCER], "versions": [2]}})
    refused(port, v1("203.0.113.7") + build_request())
    eq(proxied(port, v2("203.0.113.7")).status, 200, "v2")
    wait_metric(lambda: pp_errors(aport, "version"), 1, "version")
    eq(ups["a"][0].paths(), ["/"], "the v2 request only")


@test
def header_split_across_writes():
    ups, sl, port, aport, log = setup()
    up = ups["a"][0]
    for hdr in (v1("203.0.113.7"), v2("203.0.113.8", tlvs=tlv(4, b"pad"))):
        c = SrcClient(port)
        c.send(hdr[:7])
        time.sleep(0.1)
        c.send(hdr[7:20])
        time.sleep(0.1)
        c.send(hdr[20:] + build_request("GET", "/split"))
        eq(read_response(c).status, 200, "after a split header")
        c.close()
    check(up.wait_requests(2), "upstream requests")
    eq([q.header("x-forwarded-for") for q in up.requests],
       ["203.0.113.7", "203.0.113.8"], "X-Forwarded-For")


@test
def tls_listener_header_before_client_hello():
    ups, sl, port, aport, log = setup(opts=tls_opts())
    up = ups["a"][0]
    for hdr, split in ((v1("203.0.113.7"), False),
                       (v2("203.0.113.8", tlvs=tlv(2, b"pay.example.test")),
                        False),
                       (v1("203.0.113.9"), True),
                       (v2("203.0.113.10"), True)):
        c = TLSAfterHeader(port, hdr, split=split)
        status, _ = c.request("/tls")
        eq(status, 200, "TLS after %r (split %s)" % (hdr[:20], split))
        c.close()
    check(up.wait_requests(4), "upstream requests")
    eq([q.header("x-forwarded-for") for q in up.requests],
       ["203.0.113.7", "203.0.113.8", "203.0.113.9", "203.0.113.10"],
       "X-Forwarded-For")
    eq([q.header("x-forwarded-proto") for q in up.requests], ["https"] * 4,
       "X-Forwarded-Proto")
    # LOCAL on TLS too
    c = TLSAfterHeader(port, v2(local=True))
    eq(c.request("/local")[0], 200, "TLS after LOCAL")
    c.close()
    # untrusted and broken ones: closed, counted, no TLS failure counted
    refused(port, v1("203.0.113.7"), src=OTHER)
    refused(port, b"\x16\x03\x01\x00\x05hello")       # a ClientHello alone
    refused(port, b"PROXY TCP4 1.2.3.4 5.6.7.", shut=True)
    wait_metric(lambda: (pp_errors(aport, "untrusted"),
                         pp_errors(aport, "missing"),
                         pp_errors(aport, "truncated")), (1, 1, 1),
                "untrusted, missing, truncated")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_tls_handshake_failures_total"), 0,
       "TLS failures")
    eq(len(up.requests), 5, "upstream requests")
    # anyone else's TLS is untouched
    from sltest import TLSClient
    c = TLSClient(port, sni="pay.example.test", cafile=pki()["ca"].cert)
    eq(c.request("GET", "/direct").status, 200, "a direct TLS client")
    c.close()
    check(up.wait_requests(6), "upstream requests")
    eq(up.requests[-1].header("x-forwarded-for"), OTHER, "its address")


@test
def per_ip_limit_on_the_header_source():
    ups, sl, port, aport, log = setup(limits={"max_connections_per_ip": 1})
    a = SrcClient(port)
    a.send(v1("198.51.100.1"))
    eq(a.request("/a").status, 200, "first client")
    # the balancer's second connection, for another client: not counted
    # against the balancer's own address
    b = SrcClient(port)
    b.send(v1("198.51.100.2"))
    eq(b.request("/b").status, 200, "second client, same balancer")
    # the first client again, while its connection is open: refused
    c = SrcClient(port)
    c.send(v1("198.51.100.1") + build_request("GET", "/c"))
    check(c.wait_closed(), "over the limit: closed")
    eq(bytes(c.buf), b"", "nothing sent back")
    wait_metric(lambda: metric_sum(metrics(aport),
                                   "sluice_connections_rejected_total",
                                   reason="max_connections_per_ip"), 1,
                "rejected per ip")
    a.close()
    # its slot comes back when its connection ends
    def again():
        d = SrcClient(port)
        d.send(v1("198.51.100.1") + build_request("GET", "/d"))
        try:
            return read_response(d).status == 200
        except Exception:
            return False
        finally:
            d.close()
    check(wait_until(again, 5.0), "the slot came back")
    eq(ups["a"][0].paths(), ["/a", "/b", "/d"], "upstream requests")


@test
def sticky_users_keyed_on_the_header_source():
    a, b = Upstream("a"), Upstream("b")
    ups, sl, port, aport, log = setup(
        clusters={"a": [a], "b": [b]},
        routes=[{"name": "split",
                 "split": [{"cluster": "a", "weight": 50},
                           {"cluster": "b", "weight": 50}],
                 "sticky": "client_ip"}])
    seen = {}
    for rnd in range(2):
        for i in range(16):
            src = "198.51.100.%d" % (i + 1)
            r = proxied(port, v1(src), "/%s" % src)
            eq(r.status, 200, "status")
            got = r.json()["upstream"]
            check(seen.setdefault(src, got) == got,
                  "%s went to %s, then to %s" % (src, seen[src], got))
    # every connection came from one balancer: keyed on it, one cluster
    eq(set(seen.values()), {"a", "b"}, "clusters the 16 clients reached")


@test
def curl_sends_a_v1_header():
    if not have_curl():
        raise Skip("curl is not installed")
    ups, sl, port, aport, log = setup()
    rc, out, err = curl(["--haproxy-protocol", "--interface", BALANCER,
                         "-o", "/dev/null", "-w", "%{http_code}",
                         "http://127.0.0.1:%d/curl" % port])
    eq((rc, out), (0, b"200"), "curl: %s" % err)
    up = ups["a"][0]
    check(up.wait_requests(1), "upstream request")
    eq(up.requests[0].header("x-forwarded-for"), BALANCER,
       "curl names itself")
    wait_metric(lambda: pp_accepted(aport, "proxy"), 1, "headers accepted")
    # and from a source that may not send one
    rc, out, err = curl(["--haproxy-protocol", "-o", "/dev/null", "-w",
                         "%{http_code}", "http://127.0.0.1:%d/" % port])
    check(rc != 0 or out != b"200", "curl's header from 127.0.0.1 was "
          "accepted: %r %r" % (out, err))
    wait_metric(lambda: pp_errors(aport, "untrusted"), 1, "untrusted")


class HAProxy:
    """haproxy -db with a configuration; stopped by the test's cleanup."""

    def __init__(self, text, wait_port):
        self.dir = tmpdir()
        self.path = os.path.join(self.dir, "haproxy.cfg")
        with open(self.path, "w") as f:
            f.write(text)
        self.log = open(os.path.join(self.dir, "haproxy.log"), "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        _register("upstreams", self)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited: %s" % self.output())
            s = socket.socket()
            s.settimeout(0.5)
            try:
                s.connect(("127.0.0.1", wait_port))
                return True
            except OSError:
                return False
            finally:
                s.close()
        check(wait_until(up, 10.0), "haproxy did not listen: %s"
              % self.output())

    def output(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@test
def haproxy_in_front_sends_v2():
    if shutil.which("haproxy") is None:
        raise Skip("haproxy is not installed (contrib/deps.sh installs it)")
    up = Upstream("a")
    aport = free_port()
    log = os.path.join(tmpdir(), "access.log")
    cfg, port = make_config({"a": [up]}, access_log=log,
                            listener_opts={"proxy_protocol":
                                           {"from": ["127.0.0.1"],
                                            "versions": [2]}},
                            extra={"admin": {"address": "127.0.0.1:%d"
                                             % aport}})
    listening(start_sluice(cfg, wait_ports=[aport]))
    hport = free_port()
    HAProxy("""
global
    maxconn 100
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server sluice 127.0.0.1:%d send-proxy-v2 proxy-v2-options crc32c check check-send-proxy inter 200ms
""" % (hport, port), hport)
    # a client at 127.0.0.3, as a real balancer sees it
    for i in range(3):
        r = proxied(hport, b"", "/via-haproxy-%d" % i, src="127.0.0.3")
        eq(r.status, 200, "through HAProxy")
    check(up.wait_requests(3), "upstream requests")
    eq(set(q.header("x-forwarded-for") for q in up.requests), {"127.0.0.3"},
       "the client HAProxy saw")
    lines = read_json_lines(log, min_count=3)
    eq(set((x["peer"], x.get("via")) for x in lines),
       {("127.0.0.3", "127.0.0.1")}, "access log peer and via")
    # its health checks: LOCAL
    wait_metric(lambda: pp_accepted(aport, "local") >= 1, True,
                "HAProxy's checks (LOCAL)")
    # the three requests' (and the connection that saw HAProxy listen)
    check(pp_accepted(aport, "proxy") >= 3, "headers naming a client")
    m = metrics(aport)
    eq(metric_sum(m, "sluice_proxy_protocol_errors_total"), 0, "errors")


# ---------------------------------------------------------------------------
# PROXY v2 to upstreams


class PPUpstream(RawUpstream):
    """An upstream that takes a PROXY v2 header, then (TLS when ctx is
    given) HTTP/1.1 requests; records each connection's header."""

    def __init__(self, ctx=None):
        self.headers = []
        self.ctx = ctx
        RawUpstream.__init__(self, self._serve)

    @staticmethod
    def _recv_exact(sock, n):
        """n bytes, and not one more: a TLS handshake may follow."""
        out = b""
        while len(out) < n:
            d = sock.recv(n - len(out))
            if not d:
                raise ConnectionError("closed inside the PROXY header")
            out += d
        return out

    def _serve(self, sock, idx, log):
        sock.settimeout(5.0)
        fixed = self._recv_exact(sock, 16)
        rest = self._recv_exact(sock, struct.unpack(">H", fixed[14:16])[0])
        with self.lock:
            self.headers.append(fixed + rest)
        if self.ctx is not None:
            sock = self.ctx.wrap_socket(sock, server_side=True)
        bs = BufSock(sock)
        while True:
            try:
                head = bs.read_until(b"\r\n\r\n")
            except Exception:
                return
            log += head
            body = b'{"ok":true}'
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))

    def parsed(self):
        with self.lock:
            return [parse_v2(h) for h in self.headers]


@test
def upstream_gets_v2_with_the_client():
    pu = PPUpstream()
    mirror = PPUpstream()
    ups, sl, port, aport, log = setup(
        clusters={"pp": [pu.addr], "shadow": [mirror.addr]},
        cluster_opts={"pp": {"proxy_protocol": "v2",
                             "health_check": {"interval": "100ms"}},
                      "shadow": {"proxy_protocol": "v2"}},
        routes=[{"name": "main", "cluster": "pp",
                 "mirror": {"cluster": "shadow", "percent": 100}}])
    # the health checks: LOCAL, no address
    check(wait_until(lambda: ("local", None, None, None, None)
                     in pu.parsed(), 5.0), "a LOCAL health check")
    # a client behind the balancer, then a direct one; three requests on
    # one keep-alive connection
    c = SrcClient(port)
    c.send(v1("203.0.113.7", sport=40000))
    for i in range(3):
        eq(c.request("/r%d" % i).status, 200, "request %d" % i)
    d = SrcClient(port, OTHER)
    eq(d.request("/direct").status, 200, "direct client")
    dport = d.sock.getsockname()[1]
    got = [h for h in pu.parsed() if h[0] == "proxy"]
    eq(got, [("proxy", "203.0.113.7", "127.0.0.1", 40000, port)] * 3 +
       [("proxy", OTHER, "127.0.0.1", dport, port)],
       "headers of the upstream connections")
    # one connection per request (four headers, not two): never pooled
    check(wait_until(lambda: len(mirror.parsed()) >= 4, 5.0),
          "mirror copies")
    eq(sorted(mirror.parsed()),
       sorted([("proxy", "203.0.113.7", "127.0.0.1", 40000, port)] * 3 +
              [("proxy", OTHER, "127.0.0.1", dport, port)]),
       "mirror copies' headers")


@test
def upstream_v2_before_tls():
    p = pki()
    pu = PPUpstream(ctx=tls_server_context(p["up"].cert, p["up"].key))
    ups, sl, port, aport, log = setup(
        clusters={"pp": [pu.addr]},
        cluster_opts={"pp": {"proxy_protocol": "v2",
                             "tls": {"sni": "up.internal",
                                     "ca": p["ca"].cert}}})
    eq(proxied(port, v2("2001:db8::9", "127.0.0.1", sport=5555)).status,
       200, "through a TLS upstream")
    eq(pu.parsed(), [("proxy", "2001:db8::9", "::ffff:127.0.0.1", 5555,
                      port)], "the header, IPv6 client to an IPv4 "
       "listener")


if __name__ == "__main__":
    main()
