# SPDX-License-Identifier: MIT
"""Trusted proxies and forwarded fields (doc/edge.md section 3): behind a
listener's trusted_proxies, the client is the right-most address of
X-Forwarded-For (or Forwarded's for=) that is not itself a trusted
proxy, never the left-most that the client writes; it is logged, keyed
and forwarded. From anyone else nothing in those fields is believed:
appended to (untrusted_forwarded: append) or dropped (strip).

The trusted proxy connects from 127.0.0.2, anyone else from 127.0.0.1."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (BufSock, Upstream, _register, build_request,  # noqa: E402
                    check, eq, free_port, main, make_config, read_json_lines,
                    read_response, start_sluice, test, tmpdir)

PROXY = "127.0.0.2"
OTHER = "127.0.0.1"


class SrcClient(BufSock):
    """A keep-alive connection from src to 127.0.0.1:port."""

    def __init__(self, port, src=PROXY):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5.0)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        BufSock.__init__(self, s)
        _register("clients", self)

    def request(self, path="/", headers=None):
        self.sock.sendall(build_request("GET", path, headers, None,
                                        "test.local"))
        return read_response(self, "GET")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def get_from(port, path, headers=None, src=PROXY):
    c = SrcClient(port, src)
    try:
        return c.request(path, headers)
    finally:
        c.close()


def setup(opts, clusters=None, routes=None, cluster_opts=None):
    ups = clusters or {"a": [Upstream("a")]}
    log = os.path.join(tmpdir(), "access.log")
    cfg, port = make_config(ups, routes=routes, access_log=log,
                            listener_opts=opts, cluster_opts=cluster_opts)
    sl = start_sluice(cfg)
    return ups, sl, port, log


def logged(log, n):
    return [(x["path"], x["peer"], x.get("via"))
            for x in read_json_lines(log, min_count=n)]


@test
def spoofed_left_most_is_not_the_client():
    """A client behind a trusted proxy writes its own X-Forwarded-For:
    1.2.3.4; the proxy appends the address it saw. The client is that
    one: in the log, in the sticky key, and in what goes upstream."""
    a, b = Upstream("a"), Upstream("b")
    ups, sl, port, log = setup(
        {"trusted_proxies": [PROXY, "10.0.0.0/8"]},
        clusters={"a": [a], "b": [b]},
        routes=[{"name": "split",
                 "split": [{"cluster": "a", "weight": 50},
                           {"cluster": "b", "weight": 50}],
                 "sticky": "client_ip"}])
    r = get_from(port, "/spoof",
                 {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
    eq(r.status, 200, "status")
    q = (a.requests + b.requests)[0]
    eq(q.header("x-forwarded-for"), "1.2.3.4, 203.0.113.7",
       "forwarded: the client named once, last")
    eq(logged(log, 1), [("/spoof", "203.0.113.7", PROXY)], "logged")
    # keyed: whatever the client writes on the left, the same cluster;
    # and the clients behind the one proxy spread over both
    seen = {}
    for i in range(16):
        client = "198.51.100.%d" % (i + 1)
        for spoof in ("1.2.3.4", "5.6.7.8", "9.9.9.%d" % i):
            got = get_from(port, "/k", {"X-Forwarded-For": "%s, %s"
                                        % (spoof, client)}).json()["upstream"]
            check(seen.setdefault(client, got) == got,
                  "%s (spoofing %s) went to %s, before to %s"
                  % (client, spoof, got, seen[client]))
    eq(set(seen.values()), {"a", "b"}, "clusters reached")
    # the same fields from anyone else: nothing believed
    r = get_from(port, "/other", {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"},
                 src=OTHER)
    eq(r.status, 200, "status")
    q = [x for x in a.requests + b.requests if x.target == "/other"][0]
    eq(q.header("x-forwarded-for"), "1.2.3.4, 203.0.113.7, 127.0.0.1",
       "appended to, as without trusted_proxies")
    lines = read_json_lines(log, min_count=50)
    eq([(x["peer"], x.get("via")) for x in lines if x["path"] == "/other"],
       [(OTHER, None)], "logged: the peer")


@test
def a_written_field_does_not_escape_a_rate_limit():
    """A client limited on client_ip cannot reset its bucket by writing
    another X-Forwarded-For: through the trusted proxy its bucket is the
    address the proxy appended, directly it is its peer. Clients the
    proxy names are limited each on its own."""
    ups, sl, port, log = setup(
        {"trusted_proxies": [PROXY]},
        routes=[{"name": "pay", "cluster": "a",
                 "rate_limit": [{"name": "per-address", "key": "client_ip",
                                 "rate": "1/h", "burst": 2}]}])

    def statuses(src, client):
        return [get_from(port, "/pay", {"X-Forwarded-For": "%s%s" % (
            spoof, ", " + client if client else "")}, src=src).status
            for spoof in ("1.2.3.4", "5.6.7.8", "9.9.9.9")]
    # behind the proxy: 203.0.113.7's two, whatever it writes first
    eq(statuses(PROXY, "203.0.113.7"), [200, 200, 429], "behind the proxy")
    # another client of the proxy has its own bucket
    eq(statuses(PROXY, "203.0.113.8"), [200, 200, 429], "another client")
    # directly: the peer's bucket, the field written in full not believed
    eq(statuses(OTHER, None), [200, 200, 429], "directly")
    eq(len(ups["a"][0].requests), 6, "refused requests reached nobody")


@test
def trusted_chain_and_stops():
    ups, sl, port, log = setup({"trusted_proxies": [PROXY, "10.0.0.0/8"]})
    up = ups["a"][0]
    c = SrcClient(port)
    # trusted hops on the right are skipped, and not passed on
    eq(c.request("/chain", {"X-Forwarded-For":
                            "1.2.3.4, 203.0.113.7, 10.0.0.5"}).status, 200,
       "chain")
    # every element trusted: the left-most
    eq(c.request("/all", {"X-Forwarded-For": "10.0.0.1, 10.0.0.2"}).status,
       200, "all trusted")
    # not an address: the nearest trusted one right of it
    eq(c.request("/stop", {"X-Forwarded-For":
                           "1.2.3.4, unknown, 10.0.0.3"}).status, 200, "stop")
    # nothing usable: the proxy itself
    eq(c.request("/none", {"X-Forwarded-For": "garbage"}).status, 200,
       "none")
    eq(c.request("/absent").status, 200, "absent")
    # several fields are one list; ports are allowed
    eq(c.request("/fields", [("X-Forwarded-For", "1.2.3.4"),
                             ("X-Forwarded-For",
                              "[2001:db8::5]:443, 10.0.0.7:8080")]).status,
       200, "two fields")
    check(up.wait_requests(6), "upstream requests")
    eq([q.header("x-forwarded-for") for q in up.requests],
       ["1.2.3.4, 203.0.113.7", "10.0.0.1", "1.2.3.4, unknown, 10.0.0.3",
        "garbage, 127.0.0.2", "127.0.0.2", "1.2.3.4, 2001:db8::5"],
       "X-Forwarded-For upstream")
    eq(logged(log, 6),
       [("/chain", "203.0.113.7", PROXY), ("/all", "10.0.0.1", PROXY),
        ("/stop", "10.0.0.3", PROXY), ("/none", PROXY, None),
        ("/absent", PROXY, None), ("/fields", "2001:db8::5", PROXY)],
       "access log: per request, on one connection")


@test
def forwarded_with_ipv6_and_ports():
    ups, sl, port, log = setup({"trusted_proxies": [PROXY, "10.0.0.0/8"],
                                "client_address_header": "forwarded"})
    up = ups["a"][0]
    c = SrcClient(port)
    eq(c.request("/v6", {"Forwarded": 'for=1.2.3.4, for="[2001:db8::7]:4711";'
                         'proto=https, for=10.0.0.5',
                         "X-Forwarded-For": "9.9.9.9"}).status, 200, "v6")
    eq(c.request("/v4port", {"Forwarded":
                             'For="192.0.2.60:8080";by=10.1.1.1'}).status,
       200, "IPv4 with a port")
    eq(c.request("/hidden", {"Forwarded": "for=1.2.3.4, for=_hidden, "
                             "for=10.0.0.6"}).status, 200, "obfuscated")
    eq(c.request("/unknown", {"Forwarded": "for=unknown"}).status, 200,
       "unknown")
    check(up.wait_requests(4), "upstream requests")
    # X-Forwarded-For is not what was read: passed on, the client added
    eq([q.header("x-forwarded-for") for q in up.requests],
       ["9.9.9.9, 2001:db8::7", "192.0.2.60", "10.0.0.6", PROXY],
       "X-Forwarded-For upstream")
    eq(up.requests[0].header("forwarded"),
       'for=1.2.3.4, for="[2001:db8::7]:4711";proto=https, for=10.0.0.5',
       "Forwarded passed on")
    eq(logged(log, 4),
       [("/v6", "2001:db8::7", PROXY), ("/v4port", "192.0.2.60", PROXY),
        ("/hidden", "10.0.0.6", PROXY), ("/unknown", PROXY, None)],
       "access log")


@test
def untrusted_fields_stripped():
    ups, sl, port, log = setup({"trusted_proxies": [PROXY],
                                "untrusted_forwarded": "strip"})
    up = ups["a"][0]
    spoof = [("X-Forwarded-For", "1.2.3.4"), ("Forwarded", "for=5.6.7.8"),
             ("X-Forwarded-For", "9.9.9.9")]
    eq(get_from(port, "/other", spoof, src=OTHER).status, 200, "other")
    eq(get_from(port, "/proxy", spoof).status, 200, "trusted proxy")
    check(up.wait_requests(2), "upstream requests")
    q = up.requests[0]
    eq(q.headers.get_all("x-forwarded-for"), [OTHER], "stripped: the peer")
    eq(q.header("forwarded"), None, "Forwarded stripped")
    q = up.requests[1]
    eq(q.headers.get_all("x-forwarded-for"), ["1.2.3.4, 9.9.9.9"],
       "a trusted proxy's: the client found, named once")
    eq(q.header("forwarded"), "for=5.6.7.8", "kept from a trusted proxy")
    eq(logged(log, 2), [("/other", OTHER, None), ("/proxy", "9.9.9.9", PROXY)],
       "access log")


@test
def behind_a_proxy_protocol_balancer():
    """The PROXY header's source is the address trusted_proxies is
    checked against (an HTTP proxy behind an L4 balancer)."""
    ups, sl, port, log = setup({"proxy_protocol": {"from": [PROXY]},
                                "trusted_proxies": ["10.0.0.0/8"]})
    up = ups["a"][0]
    c = SrcClient(port)
    c.sock.sendall(b"PROXY TCP4 10.0.0.9 127.0.0.1 40000 443\r\n")
    eq(c.request("/a", {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}).status,
       200, "through a trusted proxy")
    c = SrcClient(port)
    c.sock.sendall(b"PROXY TCP4 198.51.100.3 127.0.0.1 40001 443\r\n")
    eq(c.request("/b", {"X-Forwarded-For": "1.2.3.4"}).status, 200,
       "a client the balancer names itself")
    check(up.wait_requests(2), "upstream requests")
    eq([q.header("x-forwarded-for") for q in up.requests],
       ["1.2.3.4, 203.0.113.7", "1.2.3.4, 198.51.100.3"], "upstream")
    eq(logged(log, 2), [("/a", "203.0.113.7", PROXY),
                        ("/b", "198.51.100.3", PROXY)], "access log")


if __name__ == "__main__":
    main()
