# SPDX-License-Identifier: MIT
"""Bodies both ways, byte-exact (sha256 at both ends): Content-Length and
chunked requests, 10 MiB uploads and downloads, close-delimited and chunked
responses, backpressure with slow readers on either side."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Upstream, build_request, check,  # noqa
                    chunked, curl, eq, main, make_config, read_response,
                    sha256, start_sluice, test, tmpdir)

MIB10 = 10 << 20


def payload(n, seed=1):
    # deterministic, incompressible enough, not all one byte
    import random
    r = random.Random(seed)
    return r.randbytes(n)


def setup(handler=None, **kw):
    up = Upstream("a", handler, **kw)
    cfg, port = make_config({"a": [up]}, workers=2)
    sl = start_sluice(cfg)
    return up, sl, port


@test
def upload_10mib_content_length():
    up, sl, port = setup()
    data = payload(MIB10)
    c = Client(port, timeout=15)
    c.send(build_request("POST", "/up", [("Content-Type",
                                          "application/octet-stream")],
                         data))
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    j = r.json()
    eq(j["body_len"], MIB10, "length at upstream")
    eq(j["body_sha256"], sha256(data), "sha256 at upstream")
    u = up.requests[0]
    check(not u.chunked or u.body_len == MIB10, "framing")
    # keep-alive after a large body
    eq(c.request("GET", "/after").status, 200, "request after the upload")
    eq(up.accepts, 1, "accepts")


@test
def upload_10mib_chunked():
    up, sl, port = setup()
    data = payload(MIB10, 2)
    c = Client(port, timeout=15)
    head = build_request("POST", "/upc", [("Transfer-Encoding", "chunked")])
    c.send(head)
    # uneven chunk sizes, sent in pieces that split chunk headers
    enc = chunked(data[:1000003], 99991) + b""
    enc = enc[:-5]      # drop the last-chunk "0\r\n\r\n"
    enc += chunked(data[1000003:], 65536)
    for i in range(0, len(enc), 300007):
        c.send(enc[i:i + 300007])
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    j = r.json()
    eq(j["body_len"], MIB10, "length at upstream")
    eq(j["body_sha256"], sha256(data), "sha256 at upstream")
    eq(c.request("GET", "/after").status, 200, "request after the upload")


@test
def chunked_request_small_chunks_extensions_trailers():
    up, sl, port = setup()
    data = payload(5000, 3)
    enc = bytearray()
    for i in range(0, len(data), 7):
        part = data[i:i + 7]
        enc += b"%x;ext=v;x\r\n" % len(part) + part + b"\r\n"
    enc += b"0\r\nX-Trailer: t\r\n\r\n"
    c = Client(port)
    c.send(build_request("PUT", "/small", [("Transfer-Encoding", "chunked")])
           + bytes(enc))
    r = read_response(c, "PUT")
    eq(r.status, 200, "status")
    eq(r.json()["body_sha256"], sha256(data), "sha256 at upstream")
    eq(up.requests[0].body, data, "body")
    eq(c.request("GET", "/next").status, 200, "request after trailers")
    eq(up.requests[1].target, "/next", "next request parsed correctly")


@test
def chunked_request_with_forbidden_trailer_is_400():
    # trailer policy (doc/design-notes.md): a trailer field that frames,
    # routes, is hop-by-hop or one sluice sets is refused, and the
    # upstream never gets a complete request
    up, sl, port = setup()
    for name in ("Content-Length", "transfer-encoding", "Host",
                 "X-Request-Id", "X-Forwarded-For", "Connection"):
        c = Client(port)
        c.send(build_request("POST", "/t", [("Transfer-Encoding",
                                             "chunked")])
               + b"5\r\nhello\r\n0\r\nX-Ok: 1\r\n"
               + name.encode() + b": 1\r\n\r\n")
        r = read_response(c, "POST")
        eq(r.status, 400, "status for a %s trailer" % name)
        check(r.wants_close(), "connection kept after a %s trailer" % name)
        eq(r.json()["error"], "bad_request", "error code")
    # an allowed trailer on the same route goes through
    c = Client(port)
    c.send(build_request("POST", "/t", [("Transfer-Encoding", "chunked")])
           + b"5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n")
    eq(read_response(c, "POST").status, 200, "status with an allowed trailer")
    time.sleep(0.3)
    eq([(r.method, r.body) for r in up.requests], [("POST", b"hello")],
       "requests that reached the upstream whole")
    check("forbidden_trailer" in sl.stderr(), "log names the rule: %s"
          % sl.stderr()[-400:])


@test
def chunked_trailers_share_the_header_limits():
    # max_headers bounds the trailer fields, max_header_bytes the section
    up = Upstream("a")
    cfg, port = make_config({"a": [up]}, limits={"max_headers": 5,
                                                 "max_header_bytes": "8KiB"})
    sl = start_sluice(cfg)
    for n, want in ((5, 200), (6, 400)):
        c = Client(port)
        c.send(build_request("POST", "/t", [("Transfer-Encoding",
                                             "chunked")])
               + b"2\r\nhi\r\n0\r\n"
               + b"".join(b"X-T%d: v\r\n" % i for i in range(n))
               + b"\r\n")
        eq(read_response(c, "POST").status, want, "status with %d trailer "
           "fields and max_headers 5" % n)
    c = Client(port)
    c.send(build_request("POST", "/t", [("Transfer-Encoding", "chunked")])
           + b"2\r\nhi\r\n0\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n")
    eq(read_response(c, "POST").status, 400, "status with a 9 KB trailer "
       "and max_header_bytes 8 KiB")
    check("trailer_too_large" in sl.stderr(), "log names the rule")


def chunked_reply(trailer):
    return Reply(action="raw", raw=b"HTTP/1.1 200 OK\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                 b"0\r\n" + trailer + b"\r\n")


def read_to_close(c, timeout=5.0):
    out = b""
    c.settimeout(timeout)
    while True:
        try:
            d = c.sock.recv(65536)
        except ConnectionResetError:
            return out, "reset"
        if not d:
            return out, "eof"
        out += d


@test
def trailer_field_goes_with_the_trailers():
    # issue 22: the Trailer field (RFC 9110 section 6.6.2, end-to-end) was
    # dropped while the trailer fields it announces were passed on
    def h(req):
        if req.target == "/cl":
            return Reply(200, b"hello", headers=[("Trailer", "X-Sum")])
        return Reply(action="raw", raw=b"HTTP/1.1 200 OK\r\n"
                     b"Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\n"
                     b"\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n")
    up, sl, port = setup(h)
    c = Client(port)
    r = c.request("GET", "/ok")
    eq((r.status, r.body, r.trailers), (200, b"hello", [("X-Sum", "1")]),
       "chunked response with a trailer")
    eq(r.header("trailer"), "X-Sum", "Trailer field of a chunked response")
    # no trailers can follow a Content-Length body: no announcement
    r = c.request("GET", "/cl")
    eq((r.status, r.header("trailer")), (200, None),
       "Trailer field of a Content-Length response")
    # HTTP/1.0: de-chunked, trailers dropped, and their announcement too
    c = Client(port)
    c.send(b"GET /ok HTTP/1.0\r\nHost: a\r\n\r\n")
    raw, how = read_to_close(c)
    head = raw[:raw.index(b"\r\n\r\n")].lower()
    check(b"\r\ntrailer:" not in head, "Trailer sent to an HTTP/1.0 "
          "client whose trailers are dropped: %r" % head)
    # requests: with a chunked body the field goes on, without it not
    c = Client(port)
    c.send(build_request("POST", "/up", [("Transfer-Encoding", "chunked"),
                                         ("Trailer", "X-Sig")])
           + b"3\r\nabc\r\n0\r\nX-Sig: s\r\n\r\n")
    eq(read_response(c, "POST").status, 200, "chunked request")
    eq(c.request("POST", "/up2", {"Trailer": "X-Sig"}, b"abc").status, 200,
       "request with a Content-Length body")
    got = {x.target: x.headers.get("trailer") for x in up.requests}
    eq((got["/up"], got["/up2"]), ("X-Sig", None),
       "Trailer field of the requests upstream")


@test
def chunked_response_trailers():
    def h(req):
        if req.target == "/bad":
            return chunked_reply(b"Content-Length: 5\r\n")
        if req.target == "/bad-late":
            s = up.conns[req.conn_id].sock
            s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n5\r\nhello\r\n")
            time.sleep(0.5)
            return Reply(action="raw", raw=b"0\r\nHost: evil\r\n\r\n")
        return chunked_reply(b"X-Sum: 1\r\n")
    up, sl, port = setup(h)
    # HTTP/1.1: an allowed trailer is passed on
    c = Client(port)
    r = c.request("GET", "/ok")
    eq((r.status, r.body), (200, b"hello"), "response")
    eq(r.trailers, [("X-Sum", "1")], "trailers passed on")
    # HTTP/1.0: de-chunked, the trailers go with the framing
    c = Client(port)
    c.send(b"GET /ok HTTP/1.0\r\nHost: a\r\n\r\n")
    raw, how = read_to_close(c)
    eq(how, "eof", "end of the HTTP/1.0 response")
    eq(raw[raw.index(b"\r\n\r\n") + 4:], b"hello",
       "HTTP/1.0 body (no trailer)")
    # a forbidden trailer from the upstream, before anything went out:
    # a whole 502
    c = Client(port)
    r = c.request("GET", "/bad")
    eq(r.status, 502, "status for a forbidden trailer")
    eq(r.json()["error"], "upstream_bad_response", "error code")
    # ... after the head and body went out: the response is cut, the
    # field never reaches the client
    c = Client(port)
    c.send(build_request("GET", "/bad-late"))
    raw, how = read_to_close(c)
    check(raw.startswith(b"HTTP/1.1 200"), "head: %r" % raw[:60])
    check(raw.endswith(b"5\r\nhello\r\n"),
          "the response with a forbidden trailer: %r" % raw)
    check("forbidden_trailer" in sl.stderr(), "log names the rule: %s"
          % sl.stderr()[-400:])


@test
def a_chunked_answer_is_framed_again_by_the_clients_codec():
    # the upstream's chunked coding is its hop's: the exchange hands the
    # client's codec payload and trailers, and an HTTP/1.1 client gets
    # chunks of sluice's (a chunk a run read at once), never the
    # upstream's extensions; an HTTP/1.0 client the payload to the close
    def h(req):
        s = up.conns[req.conn_id].sock
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                  b"Trailer: X-Sum\r\n\r\n3;a=1\r\nabc\r\n"
                  b"4;name=\"q v\"\r\ndefg\r\n")
        time.sleep(0.2)
        return Reply(action="raw", raw=b"2;z\r\nhi\r\n0;last\r\n"
                     b"X-Sum: 9\r\n\r\n")
    up, sl, port = setup(h)
    c = Client(port)
    c.send(build_request("GET", "/x"))
    c.settimeout(5)
    raw = b""
    while not raw.endswith(b"\r\n0\r\nX-Sum: 9\r\n\r\n"):
        d = c.sock.recv(65536)
        check(d, "the answer ended early: %r" % raw)
        raw += d
    head, body = raw.split(b"\r\n\r\n", 1)
    check(b"\r\ntransfer-encoding: chunked" in head.lower(), head)
    check(b";" not in body, "an upstream's chunk extension went on: %r"
          % body)
    eq(body, b"7\r\nabcdefg\r\n2\r\nhi\r\n0\r\nX-Sum: 9\r\n\r\n",
       "the body as sluice frames it")
    c = Client(port)
    c.send(b"GET /x HTTP/1.0\r\nHost: a\r\n\r\n")
    raw, how = read_to_close(c)
    eq((how, raw[raw.index(b"\r\n\r\n") + 4:]), ("eof", b"abcdefghi"),
       "an HTTP/1.0 client's body, to the close")


@test
def chunked_request_hex_case_and_empty_body():
    up, sl, port = setup()
    c = Client(port)
    data = b"z" * 0x1A
    c.send(build_request("POST", "/hex", [("Transfer-Encoding", "chunked")])
           + b"1A\r\n" + data + b"\r\n0\r\n\r\n")
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    eq(up.requests[0].body, data, "upper-case hex chunk size")
    c.send(build_request("POST", "/empty", [("Transfer-Encoding",
                                             "chunked")]) + b"0\r\n\r\n")
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    eq(up.requests[1].body, b"", "empty chunked body")
    r = c.request("POST", "/cl0", body=b"")
    eq(r.status, 200, "status")
    eq(up.requests[2].body, b"", "Content-Length: 0")
    eq(up.accepts, 1, "accepts")


@test
def upload_via_curl_content_length_and_chunked():
    up, sl, port = setup()
    d = tmpdir()
    p = os.path.join(d, "up.bin")
    data = payload(MIB10, 4)
    with open(p, "wb") as f:
        f.write(data)
    rc, out, err = curl(["-H", "Expect:", "--data-binary", "@" + p,
                         "http://127.0.0.1:%d/curl-cl" % port])
    eq(rc, 0, "curl (%s)" % err)
    eq(json.loads(out)["body_sha256"], sha256(data), "sha256 (CL)")
    rc, out, err = curl(["-H", "Transfer-Encoding: chunked",
                         "--data-binary", "@" + p,
                         "http://127.0.0.1:%d/curl-chunked" % port])
    eq(rc, 0, "curl (%s)" % err)
    eq(json.loads(out)["body_sha256"], sha256(data), "sha256 (chunked)")
    check(up.requests[-1].chunked or
          up.requests[-1].header("content-length") == str(MIB10),
          "upstream framing of the chunked upload")


DOWN = payload(MIB10, 5)


def down_handler(req):
    if req.target == "/cl":
        return Reply(200, DOWN)
    if req.target == "/chunked":
        return Reply(200, DOWN, mode="chunked", chunk_size=100000)
    if req.target == "/close":
        return Reply(200, DOWN, mode="close")
    return Reply(404, b"")


@test
def download_10mib_via_curl():
    up, sl, port = setup(down_handler, keep_body=False)
    d = tmpdir()
    for p in ("/cl", "/chunked", "/close"):
        out = os.path.join(d, p[1:])
        rc, _, err = curl(["-o", out, "-w", "%{http_code}",
                           "http://127.0.0.1:%d%s" % (port, p)])
        eq(rc, 0, "curl %s (%s)" % (p, err))
        with open(out, "rb") as f:
            got = f.read()
        eq(len(got), MIB10, "length of %s" % p)
        eq(sha256(got), sha256(DOWN), "sha256 of %s" % p)


@test
def download_10mib_raw_keepalive():
    up, sl, port = setup(down_handler, keep_body=False)
    c = Client(port, timeout=15)
    for p in ("/cl", "/chunked", "/cl"):
        r = c.request("GET", p)
        eq(r.status, 200, p)
        eq(sha256(r.body), sha256(DOWN), "sha256 of %s" % p)
    eq(up.accepts, 1, "accepts")


@test
def echo_10mib_both_ways():
    def h(req):
        return Reply(200, req.body, mode="chunked" if req.chunked else "cl")
    up, sl, port = setup(h)
    data = payload(MIB10, 6)
    c = Client(port, timeout=15)
    r = c.request("POST", "/echo", body=data)
    eq(r.status, 200, "status")
    eq(sha256(r.body), sha256(data), "echoed sha256 (CL)")
    c.send(build_request("POST", "/echo2", [("Transfer-Encoding",
                                             "chunked")])
           + chunked(data, 1 << 16))
    r = read_response(c, "POST")
    eq(r.status, 200, "status")
    eq(sha256(r.body), sha256(data), "echoed sha256 (chunked)")


@test
def slow_upstream_reader_backpressure():
    up, sl, port = setup(body_delay=1.0)
    data = payload(8 << 20, 7)
    c = Client(port, timeout=15)
    t0 = time.monotonic()
    r = c.request("POST", "/slow", body=data)
    eq(r.status, 200, "status")
    eq(r.json()["body_sha256"], sha256(data), "sha256")
    check(time.monotonic() - t0 >= 0.9, "upstream delay not observed")


@test
def slow_client_reader_backpressure():
    up, sl, port = setup(down_handler, keep_body=False)
    c = Client(port, timeout=15)
    c.send(build_request("GET", "/cl"))
    time.sleep(1.0)         # let every buffer fill up
    got = bytearray()
    while len(got) < 2 << 20:
        d = c.sock.recv(32768)
        check(d, "connection closed while reading slowly")
        got += d
        time.sleep(0.002)
    c.buf += got
    r = read_response(c)
    eq(r.status, 200, "status")
    eq(sha256(r.body), sha256(DOWN), "sha256 after a slow reader")


@test
def body_then_more_requests_same_connection():
    up, sl, port = setup()
    c = Client(port)
    for i in range(20):
        data = payload(1000 * i + 1, i)
        if i % 2:
            c.send(build_request("POST", "/b%d" % i,
                                 [("Transfer-Encoding", "chunked")])
                   + chunked(data, 333))
        else:
            c.send(build_request("POST", "/b%d" % i, body=data))
        r = read_response(c, "POST")
        eq(r.status, 200, "status")
        eq(r.json()["body_sha256"], sha256(data), "sha256 of #%d" % i)
    eq(up.accepts, 1, "accepts")


if __name__ == "__main__":
    main()
