# SPDX-License-Identifier: MIT
"""A small authoritative DNS server for the tests of endpoints by name
(doc/fleet.md section 2), on Debian's python3-dnslib: UDP and TCP on
127.0.0.1, answers from a zone the test changes while it runs.

    dns = DnsServer()                       # started, on dns.port
    dns.set("pay.test", a=["127.0.0.1"], ttl=2)
    dns.set("_http._tcp.pay.test",
            srv=[(0, 10, 8080, "n1.pay.test")], glue={"n1.pay.test": ["127.0.0.2"]})
    dns.fail("pay.test", "servfail")        # or "drop" (no answer), None
    dns.stop()

A name that is not set answers NXDOMAIN; one set with no records of the
asked type answers NOERROR with none (NODATA). UDP answers larger than
the query's EDNS0 size (512 without it) are cut and marked truncated
(TC), as real servers do, so a client has to ask again over TCP. Every
query is counted in queries[(name, type, "udp"|"tcp")]."""

import socket
import socketserver
import struct
import threading

from dnslib import (AAAA, QTYPE, RCODE, RR, SOA, SRV, A, DNSHeader,  # noqa
                    DNSRecord)


class DnsServer:
    def __init__(self, port=0):
        self.zone = {}          # name -> {"a": [...], "aaaa": [...], ...}
        self.failing = {}       # name -> "servfail" | "drop" | "refused"
        self.down = False       # no answer at all (a dead resolver)
        self.queries = {}
        self.lock = threading.Lock()
        outer = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                out = outer._answer(data, "udp")
                if out is not None:
                    sock.sendto(out, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    while True:
                        hdr = self._read(2)
                        if hdr is None:
                            return
                        (n,) = struct.unpack("!H", hdr)
                        data = self._read(n)
                        if data is None:
                            return
                        out = outer._answer(data, "tcp")
                        if out is None:
                            return
                        self.request.sendall(struct.pack("!H", len(out)) + out)
                except OSError:
                    return

            def _read(self, n):
                b = b""
                while len(b) < n:
                    d = self.request.recv(n - len(b))
                    if not d:
                        return None
                    b += d
                return b

        class U(socketserver.ThreadingMixIn, socketserver.UDPServer):
            daemon_threads = True
            allow_reuse_address = True

        class T(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        # the same port for both, as a nameserver has
        for _ in range(50):
            self.udp = U(("127.0.0.1", port), Udp)
            self.port = self.udp.server_address[1]
            try:
                self.tcp = T(("127.0.0.1", self.port), Tcp)
                break
            except OSError:
                self.udp.server_close()
                if port:
                    raise
        self.threads = [threading.Thread(target=s.serve_forever,
                                         kwargs={"poll_interval": 0.05},
                                         daemon=True)
                        for s in (self.udp, self.tcp)]
        for t in self.threads:
            t.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def set(self, name, a=None, aaaa=None, srv=None, glue=None, ttl=5):
        """name's records from now on: a and aaaa are lists of
        addresses, srv a list of (priority, weight, port, target), glue
        {target: [addresses]} for the additional section (IPv6 ones
        with a ':')."""
        with self.lock:
            self.zone[name.lower().rstrip(".")] = {
                "a": list(a or []), "aaaa": list(aaaa or []),
                "srv": list(srv or []), "glue": dict(glue or {}),
                "ttl": ttl}
            self.failing.pop(name.lower().rstrip("."), None)

    def remove(self, name):
        with self.lock:
            self.zone.pop(name.lower().rstrip("."), None)

    def fail(self, name, how):
        """how: "servfail", "refused", "drop" (no answer), or None."""
        with self.lock:
            if how is None:
                self.failing.pop(name.lower().rstrip("."), None)
            else:
                self.failing[name.lower().rstrip(".")] = how

    def count(self, name, qtype=None):
        with self.lock:
            return sum(n for (q, t, _), n in self.queries.items()
                       if q == name.lower().rstrip(".") and
                       (qtype is None or t == qtype))

    def stop(self):
        for s in (self.udp, self.tcp):
            s.shutdown()
            s.server_close()

    # -----------------------------------------------------------------
    def _answer(self, data, proto):
        try:
            q = DNSRecord.parse(data)
        except Exception:
            return None
        if not q.questions:
            return None
        qname = str(q.q.qname).lower().rstrip(".")
        qtype = QTYPE[q.q.qtype]
        with self.lock:
            key = (qname, qtype, proto)
            self.queries[key] = self.queries.get(key, 0) + 1
            if self.down:
                return None
            how = self.failing.get(qname)
            rec = self.zone.get(qname)
            rec = dict(rec) if rec is not None else None
        reply = q.reply()
        if how == "drop":
            return None
        if how == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return reply.pack()
        if how == "refused":
            reply.header.rcode = RCODE.REFUSED
            return reply.pack()
        if rec is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(RR("test", QTYPE.SOA, ttl=60,
                              rdata=SOA("ns.test", "admin.test",
                                        (1, 60, 60, 60, 5))))
            return reply.pack()
        ttl = rec["ttl"]
        if qtype == "A":
            for a in rec["a"]:
                reply.add_answer(RR(qname, QTYPE.A, ttl=ttl, rdata=A(a)))
        elif qtype == "AAAA":
            for a in rec["aaaa"]:
                reply.add_answer(RR(qname, QTYPE.AAAA, ttl=ttl,
                                    rdata=AAAA(a)))
        elif qtype == "SRV":
            for prio, weight, port, target in rec["srv"]:
                reply.add_answer(RR(qname, QTYPE.SRV, ttl=ttl,
                                    rdata=SRV(prio, weight, port, target)))
            for target, addrs in rec["glue"].items():
                for a in addrs:
                    if ":" in a:
                        reply.add_ar(RR(target, QTYPE.AAAA, ttl=ttl,
                                        rdata=AAAA(a)))
                    else:
                        reply.add_ar(RR(target, QTYPE.A, ttl=ttl,
                                        rdata=A(a)))
        if not reply.rr:
            reply.add_auth(RR("test", QTYPE.SOA, ttl=60,
                              rdata=SOA("ns.test", "admin.test",
                                        (1, 60, 60, 60, 5))))
        out = reply.pack()
        if proto == "udp":
            limit = 512
            for ar in q.ar:
                if ar.rtype == QTYPE.OPT:
                    limit = max(512, ar.rclass)
            if len(out) > limit:
                # as a server does: what fits, and TC
                cut = q.reply()
                cut.header.tc = 1
                for rr in reply.rr:
                    cut.add_answer(rr)
                    if len(cut.pack()) > limit:
                        cut.rr.pop()
                        break
                out = cut.pack()
        return out


def query(port, name, qtype="A", tcp=False):
    """Asks the server directly (for the tests' own checks)."""
    q = DNSRecord.question(name, qtype)
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), 2)
        data = q.pack()
        s.sendall(struct.pack("!H", len(data)) + data)
        n = struct.unpack("!H", s.recv(2))[0]
        b = b""
        while len(b) < n:
            b += s.recv(n - len(b))
        s.close()
        return DNSRecord.parse(b)
    return DNSRecord.parse(q.send("127.0.0.1", port, timeout=2))
