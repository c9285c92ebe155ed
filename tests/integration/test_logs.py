# SPDX-License-Identifier: MIT
"""What the logs tell an operator about a request, through the real binary:
the rule a refused request broke (error log, access log, /metrics), query
strings kept out of both logs by default (log.query), the facts of a
refused request (host, bytes_in, referer and user agent in the combined
format), and request ids and OS reasons on error-log lines."""

import json
import os
import re
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (Client, Reply, Upstream, assert_error,  # noqa: E402
                    check, eq, free_port, get, main, make_config, metrics,
                    read_json_lines, read_response, start_sluice, test,
                    tmpdir, to_yaml, wait_until)

CARD = "4111111111111111"


def logged_sluice(clusters=None, fmt="json", query=None, level="info",
                  **kw):
    """A sluice with an admin listener and an access log file; returns
    (sluice, port, admin port, access log path)."""
    d = tmpdir()
    alog = os.path.join(d, "access.log")
    aport = free_port()
    cfg, port = make_config(clusters or {"a": [Upstream("a")]},
                            access_log=alog,
                            extra={"admin": {"address": "127.0.0.1:%d"
                                             % aport}}, **kw)
    cfg["log"]["access_format"] = fmt
    cfg["log"]["level"] = level
    if query is not None:
        cfg["log"]["query"] = query
    return start_sluice(cfg), port, aport, alog


def raw(port, data, timeout=3.0):
    """Sends raw bytes on a new connection; returns the response (the
    connection is read to its close)."""
    c = Client(port, timeout)
    try:
        c.send(data)
        return read_response(c)
    finally:
        c.close()


def access_lines(path, n, timeout=3.0):
    """The first n lines of a text access log, once there are n."""
    def lines():
        try:
            with open(path) as f:
                got = f.read().splitlines()
        except OSError:
            return None
        return got if len(got) >= n else None
    got = wait_until(lines, timeout)
    check(got, "fewer than %d access log lines in %s" % (n, path))
    return got


@test
def a_head_that_starts_with_nul_is_logged_as_text():
    """An HTTP/1.1 client's head whose first byte is a head block's mark
    (a NUL: src/http/hblock.h) is refused as text, and its log line reads
    nothing of it as a block's records, which only an HTTP/2 codec
    writes. Until session 41 the salvage for the log took any head that
    began so as a block: a client chose its logged method and path."""
    up = Upstream("a")
    sl, port, aport, alog = logged_sluice({"a": [up]})
    recs = b""
    for n, v in ((b":method", b"FORGED"), (b":path", b"/forged")):
        recs += struct.pack("<HI", len(n), len(v)) + n + v
    blk = struct.pack("<BBHH3sBxxIIxxxxQ", 0, 0, 2, 0, b"000", 0,
                      32 + len(recs), 0, 0) + recs
    eq(raw(port, blk + b"\r\n\r\n").status, 400, "refused")
    line = json.loads(access_lines(alog, 1)[0])
    sl.stop()
    check("FORGED" not in line["method"] and "forged" not in line["path"],
          "a block's records read from an HTTP/1.1 head: %r" % line)
    eq(up.requests, [], "nothing upstream")


# (request bytes, status, error code in the body, rule)
BAD = [
    (b"GET /f HTTP/1.1\r\nHost: pay.example.com\r\nX-A: 1\r\n"
     b" folded\r\n\r\n", 400, "bad_request", "obs_fold"),
    (b"POST /p HTTP/1.1\r\nHost: pay.example.com\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n", 400, "bad_request",
     "cl_te_conflict"),
    (b"GET /l HTTP/1.1\nHost: pay.example.com\r\n\r\n", 400, "bad_request",
     "bare_lf"),
    (b"GET /n\x00 HTTP/1.1\r\nHost: pay.example.com\r\n\r\n", 400,
     "bad_request", "nul_byte"),
    (b"GET /d HTTP/1.1\r\nHost: pay.example.com\r\nHost: b\r\n\r\n", 400,
     "bad_request", "dup_host"),
    (b"GET /m HTTP/1.1\r\nX: y\r\n\r\n", 400, "bad_request",
     "missing_host"),
    (b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\nHost: pay.example.com\r\n\r\n",
     414, "uri_too_long", "uri_too_long"),
    (b"GET /t HTTP/1.1\r\nHost: pay.example.com\r\n"
     b"Transfer-Encoding: gzip\r\n\r\n", 501, "not_implemented",
     "unsupported_transfer_encoding"),
    (b"POST /c HTTP/1.1\r\nHost: pay.example.com\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request",
     "bad_chunk_size"),
]


@test
def refused_request_says_which_rule():
    # a 400 used to log only "400 bad_request": an operator could not tell
    # why a partner's client was refused without a packet capture
    sl, port, aport, alog = logged_sluice()
    for req, status, code, why in BAD:
        r = raw(port, req)
        assert_error(r, status, code)
        # the body stays generic
        check(why == code or why.encode() not in r.body, "the rule %s "
              "leaks into the response body %r" % (why, r.body))
    err = sl.stderr()
    for req, status, code, why in BAD:
        check(re.search(r"info: conn=\d+ peer=127\.0\.0\.1:\d+ "
                        r"request_id=[0-9a-f]{32} route=\S+: %d %s "
                        r"reason=%s method=" % (status, code, why), err),
              "no info line with reason=%s in:\n%s" % (why, err))
    lines = read_json_lines(alog, min_count=len(BAD))
    eq(sorted(x["error"] for x in lines), sorted(b[3] for b in BAD),
       "error fields of the access log")
    m = metrics(aport)
    for req, status, code, why in BAD:
        eq(m.get('sluice_requests_rejected_total{reason="%s"}' % why), 1.0,
           "rejections counted for %s" % why)
    eq(m.get('sluice_requests_rejected_total{reason="bad_target"}'), 0.0,
       "a rule nobody broke")


@test
def query_values_stay_out_of_the_logs_by_default():
    # "?card=4111..." used to be logged verbatim, in both logs
    dead = free_port()   # nothing listens: a 502 with an error-log line
    up = Upstream("a")
    sl, port, aport, alog = logged_sluice({"a": [up], "dead": [dead]},
                                          routes=[
        {"name": "dead", "match": {"path_prefix": "/dead"},
         "cluster": "dead"},
        {"name": "main", "cluster": "a"}])
    ref = "https://shop.example/checkout?card=%s" % CARD
    eq(get(port, "/pay?card=%s&amount=12&flag&empty=" % CARD,
           [("Referer", ref)]).status, 200, "status")
    eq(up.paths(), ["/pay?card=%s&amount=12&flag&empty=" % CARD],
       "the upstream gets the target unchanged")
    assert_error(get(port, "/dead?card=%s" % CARD), 502,
                 "upstream_connect_failed")
    assert_error(raw(port, b"GET /bad?card=" + CARD.encode() +
                     b" HTTP/1.1\r\nHost: h\r\n\x01\r\n\r\n"), 400,
                 "bad_request")
    lines = read_json_lines(alog, min_count=3)
    eq(sorted(x["path"] for x in lines),
       ["/bad?card=*", "/dead?card=*", "/pay?card=*&amount=*&flag&empty="],
       "paths in the access log")
    eq([x["referer"] for x in lines if x["path"].startswith("/pay")],
       ["https://shop.example/checkout?card=*"], "referer")
    sl.stop()
    text = open(alog).read() + sl.stderr()
    check(CARD not in text, "the card number is in a log:\n%s" % text)
    check('target="/dead?card=*"' in sl.stderr(), "the error log line of "
          "the 502 lacks the redacted target:\n%s" % sl.stderr())


@test
def query_values_stay_out_of_the_error_log_without_an_access_log():
    # Without an access log the target is kept as it came and log.query
    # applied only when a line shows it: the 502's line and a refused
    # request's info line still show names only, and each query mode
    # still holds.
    dead = free_port()
    for mode, want in ((None, "/dead?card=*&amount=*&flag"),
                       ("full", "/dead?card=%s&amount=12&flag" % MASKED),
                       ("off", "/dead")):
        cfg, port = make_config(
            {"a": [Upstream("a")], "dead": [dead]},
            routes=[{"name": "dead", "match": {"path_prefix": "/dead"},
                     "cluster": "dead"},
                    {"name": "main", "cluster": "a"}])
        cfg["log"]["level"] = "info"
        if mode is not None:
            cfg["log"]["query"] = mode
        sl = start_sluice(cfg)
        assert_error(get(port, "/dead?card=%s&amount=12&flag" % CARD), 502,
                     "upstream_connect_failed")
        assert_error(raw(port, b"GET /dead?card=" + CARD.encode() +
                         b"&amount=12&flag HTTP/1.1\r\nHost: h\r\n"
                         b"\x01\r\n\r\n"), 400, "bad_request")
        check(wait_until(lambda: sl.stderr().count(
            'target="%s"' % want) >= 2, 3.0),
            "log.query %s: two lines with target=%r:\n%s"
            % (mode, want, sl.stderr()))
        sl.stop()
        check(CARD not in sl.stderr(), "the card number on stderr:\n%s"
              % sl.stderr())


@test
def log_query_full_and_off():
    # log.query full keeps the query, but never a card number in it
    for mode, want in (("full", "/pay?card=411111******1111&amount=12"),
                       ("off", "/pay")):
        sl, port, aport, alog = logged_sluice(query=mode, fmt="combined")
        eq(get(port, "/pay?card=%s&amount=12" % CARD).status, 200, "status")
        line = access_lines(alog, 1)[0]
        check('"GET %s HTTP/1.1" 200 ' % want in line,
              "log.query %s: %r" % (mode, line))
        sl.stop()


MASKED = "411111******1111"
# (target as sent, target as logged under log.query names): the shapes
# parameter names miss, each once logged verbatim
CARD_TARGETS = [
    ("/v1/pay?card%%3D%s" % CARD, "/v1/pay?card%%3D%s" % MASKED),
    ("/v1/pay;card=%s" % CARD, "/v1/pay;card=%s" % MASKED),
    ("/v1/pay?%s" % CARD, "/v1/pay?%s" % MASKED),
    ("/v1/cards/4111-1111-1111-1111/x", "/v1/cards/4111-11**-****-1111/x"),
    ("/v1/pay?c=4111%201111%201111%201111",
     "/v1/pay?c=*"),
    ("/v1/cards/%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31",
     "/v1/cards/%34%31%31%31%31%31%2A%2A%2A%2A%2A%2A%31%31%31%31"),
]


def card_free(text):
    """No card number, in any of the shapes sent, is in text."""
    for bad in (CARD, "4111-1111-1111-1111", "4111 1111 1111 1111",
                "4111%201111%201111%201111", "%31%31%31%31%31%31%31"
                "%31%31%31"):
        check(bad not in text, "%r is in a log:\n%s" % (bad, text))


@test
def card_numbers_are_masked_in_every_shape():
    # issue 22: /v1/pay?card%3D4111..., /v1/pay;card=4111... and
    # /v1/pay?4111... reached the access log verbatim under log.query
    # names (and every shape under full)
    dead = free_port()
    for fmt in ("json", "combined"):
        for mode in ("names", "full"):
            up = Upstream("a")
            sl, port, aport, alog = logged_sluice(
                {"a": [up], "dead": [dead]}, fmt=fmt, query=mode,
                routes=[{"name": "dead", "match": {"path_prefix": "/dead"},
                         "cluster": "dead"},
                        {"name": "main", "cluster": "a"}])
            for sent, logged in CARD_TARGETS:
                eq(get(port, sent, [("Referer", "https://shop/p?" + CARD)]
                       ).status, 200, "status of " + sent)
            # the upstream gets every target as it was sent
            eq(up.paths(), [t for t, _ in CARD_TARGETS], "upstream targets")
            # a 502 and a 400 write error-log lines with the target
            assert_error(get(port, "/dead/" + CARD), 502,
                         "upstream_connect_failed")
            assert_error(raw(port, b"GET /bad;" + CARD.encode() +
                             b" HTTP/1.1\r\nHost: h\r\n\x01\r\n\r\n"),
                         400, "bad_request")
            n = len(CARD_TARGETS) + 2
            lines = access_lines(alog, n)
            sl.stop()
            text = open(alog).read()
            card_free(text + sl.stderr())
            if mode == "names" and fmt == "json":
                got = [json.loads(x)["path"] for x in lines]
                eq(got[:len(CARD_TARGETS)], [x for _, x in CARD_TARGETS],
                   "logged targets")
            # a bare value is a parameter name to log.query names
            check("https://shop/p?%s" % MASKED in text, "referer under "
                  "log.query %s: %s" % (mode, text))
            check("/dead/%s" % MASKED in sl.stderr() and
                  "/bad;%s" % MASKED in sl.stderr(),
                  "error log lines lack the masked targets:\n%s"
                  % sl.stderr())


@test
def card_numbers_masked_in_every_client_value():
    # issue 61: "user_agent":"Mozilla 4111111111111111" reached the access
    # log as it came; the target and Referer were the only values masked.
    # Every value a client chooses (method, Host, User-Agent, Referer,
    # target) is masked, in both formats, for a forwarded request and for
    # one refused before it was parsed (its head salvaged for the log).
    dashed = "4111-1111-1111-1111"
    for fmt in ("json", "combined"):
        up = Upstream("a")
        sl, port, aport, alog = logged_sluice({"a": [up]}, fmt=fmt)
        eq(raw(port, ("GET /ok HTTP/1.1\r\nHost: %s.shop\r\n"
                      "User-Agent: Mozilla %s\r\nReferer: /r/%s\r\n"
                      "Connection: close\r\n\r\n"
                      % (CARD, CARD, CARD)).encode()).status, 200,
           "status of the forwarded request")
        eq(raw(port, ("%s /m HTTP/1.1\r\nHost: h\r\nUser-Agent: x "
                      "%s\r\nX-Request-Id: r-%s\r\n"
                      "Connection: close\r\n\r\n"
                      % (CARD, dashed, CARD)).encode()).status, 200,
           "status of a request whose method is digits")
        assert_error(raw(port, ("GET /bad HTTP/1.1\r\nHost: h\r\n"
                                "User-Agent: curl %s\r\n\x01\r\n\r\n"
                                % CARD).encode()), 400, "bad_request")
        lines = access_lines(alog, 3)
        sl.stop()
        text = open(alog).read()
        card_free(text + sl.stderr())
        # what reached the upstream is what was sent
        eq(up.requests[0].header("User-Agent"), "Mozilla " + CARD,
           "User-Agent upstream")
        eq(up.requests[1].header("X-Request-Id"), "r-" + CARD,
           "X-Request-Id upstream")
        # (the combined format has no Host)
        for want in ("Mozilla " + MASKED, "x 4111-11**-****-1111",
                     "curl " + MASKED, "r-" + MASKED):
            check(want in text, "%s: %r not in the access log:\n%s"
                  % (fmt, want, text))
        if fmt == "json":
            got = [json.loads(x) for x in lines]
            eq(got[0]["user_agent"], "Mozilla " + MASKED, "user_agent")
            eq(got[0]["host"], MASKED + ".shop", "host")
            # a method is kept to 15 bytes: a run cut there may be the
            # start of a card number, so all but its first six digits go
            eq(got[1]["method"], CARD[:6] + "*" * 9, "method")
            eq(got[2]["user_agent"], "curl " + MASKED,
               "user_agent of a refused head")


@test
def card_masking_turned_off_explicitly():
    # log.mask_card_numbers: false is the one way to log them (a test
    # environment with test cards, say); log.query full then keeps all
    up = Upstream("a")
    d = tmpdir()
    alog = os.path.join(d, "access.log")
    cfg, port = make_config({"a": [up]}, access_log=alog)
    cfg["log"]["query"] = "full"
    cfg["log"]["mask_card_numbers"] = False
    sl = start_sluice(cfg)
    eq(get(port, "/v1/pay;card=%s" % CARD).status, 200, "status")
    line = read_json_lines(alog, min_count=1)[0]
    eq(line["path"], "/v1/pay;card=%s" % CARD, "path")


@test
def combined_bytes_column_counts_body_bytes():
    # issue 22: a HEAD answer logged 157 in the combined format's bytes
    # column (head and body); Apache, nginx and goaccess mean body bytes.
    # JSON's bytes_out keeps counting every byte sent.
    body = b"x" * 100
    up = Upstream("a", lambda req: Reply(200, body))
    for fmt in ("combined", "json"):
        sl, port, aport, alog = logged_sluice({"a": [up]}, fmt=fmt,
                                              routes=[
            {"name": "main", "match": {"path_prefix": "/a"},
             "cluster": "a"}])
        c = Client(port)
        eq(c.request("GET", "/a").body, body, "GET body")
        eq(c.request("HEAD", "/a").status, 200, "HEAD")
        r = c.request("GET", "/none")
        eq(r.status, 404, "no route")
        # 100 Continue, then the body
        r = c.request("POST", "/a", {"Expect": "100-continue"}, b"12345")
        eq(r.status, 200, "POST")
        c.close()
        if fmt == "combined":
            lines = access_lines(alog, 4)
            got = [int(re.search(r'" (\d{3}) (\d+) "', x).group(2))
                   for x in lines]
            eq(got, [100, 0, len(r404_body(lines)), 100],
               "combined bytes of GET, HEAD, 404, POST")
        else:
            lines = read_json_lines(alog, min_count=4)
            for x in lines:
                check(x["bytes_out"] > 100 if x["method"] != "HEAD" else
                      x["bytes_out"] > 0, "bytes_out counts the head: %r"
                      % x)
        sl.stop()


def r404_body(lines):
    """The JSON body sluice sends with its 404, from the request id the
    combined line carries."""
    rid = re.search(r"rid=(\S+)", lines[2]).group(1)
    return ('{"error":"no_route","status":404,"request_id":"%s"}\n'
            % rid).encode()


@test
def refused_request_logs_what_was_read():
    # host was empty on a 400 although a Host field was sent, and bytes_in
    # was 0 for heads the scanner refused (9 KB URI, bare LF, NUL)
    sl, port, aport, alog = logged_sluice()
    for req, status, code, why in BAD:
        raw(port, req)
    lines = read_json_lines(alog, min_count=len(BAD))
    by = {x["error"]: x for x in lines}
    for req, status, code, why in BAD:
        x = by[why]
        head = req.split(b"\r\n\r\n")[0]
        check(x["bytes_in"] >= len(head), "%s: bytes_in %d for a head of "
              "%d bytes" % (why, x["bytes_in"], len(head)))
        eq(x["method"], req.split(b" ")[0].decode(), why + ": method")
        if b"Host: pay.example.com" in req:
            eq(x["host"], "pay.example.com", why + ": host")
    check(by["uri_too_long"]["path"].startswith("/uuuu"), "path of the "
          "414: %r" % by["uri_too_long"]["path"])


@test
def combined_format_writes_referer_and_user_agent():
    # it wrote "-" "-" whatever the client sent
    sl, port, aport, alog = logged_sluice(fmt="combined")
    eq(get(port, "/ok", [("Referer", "http://r.example/?q=1"),
                         ("User-Agent", 'bot "quoted" \\ 1')]).status,
       200, "status")
    raw(port, b"GET /bad HTTP/1.1\r\nHost: h\r\nUser-Agent: partner/2\r\n"
              b"Referer: http://x/\r\nX: \x7f\r\n\r\n")
    ok, bad = access_lines(alog, 2)
    check(re.search(r'"GET /ok HTTP/1\.1" 200 \d+ "http://r\.example/\?q=\*" '
                    r'"bot \\x22quoted\\x22 \\x5c 1" rid=[0-9a-f]{32} ', ok),
          "combined line: %r" % ok)
    check(re.search(r'"GET /bad HTTP/1\.1" 400 \d+ "http://x/" "partner/2" '
                    r'rid=.* error=bad_field_value$', bad),
          "combined line of a refused request: %r" % bad)


@test
def error_log_lines_carry_the_request_id_and_the_os_reason():
    dead = free_port()
    hang = Upstream("hang", handler=lambda req: Reply(action="hang"))
    sl, port, aport, alog = logged_sluice(
        {"dead": [dead], "hang": [hang]},
        routes=[{"name": "slow", "match": {"path_prefix": "/slow"},
                 "cluster": "hang", "timeout": "300ms"},
                {"name": "dead", "cluster": "dead"}])
    r = get(port, "/x")
    assert_error(r, 502, "upstream_connect_failed")
    rid = r.header("x-request-id")
    check(re.search(r"warn: conn=\d+ peer=127\.0\.0\.1:\d+ request_id=%s "
                    r"route=dead upstream=127\.0\.0\.1:%d: "
                    r"upstream_connect_failed \(Connection refused\)"
                    % (rid, dead), sl.stderr()),
          "no connect failure line with request id and OS reason:\n%s"
          % sl.stderr())
    r = get(port, "/slow", [("X-Request-Id", "partner-42")])
    assert_error(r, 504, "upstream_timeout")
    check(re.search(r"warn: conn=\d+ peer=\S+ request_id=partner-42 "
                    r"route=slow upstream=127\.0\.0\.1:\d+: upstream_timeout "
                    r"\(no answer within the route's timeout 300 ms; "
                    r"1 attempt\)", sl.stderr()),
          "no timeout line with the client's request id:\n%s"
          % sl.stderr())


_last_raw = []


def access_lines_raw_text():
    """The raw lines of the last access_cases run."""
    return list(_last_raw)


def access_cases(fmt):
    """Known traffic: a success, a 404, a 502, a 504 and a header_timeout
    cut, and a hostile target; returns the access log lines by request
    id (JSON) or in order (combined)."""
    import socket as _s

    def handler(req):
        if req.target == "/slow":
            return Reply(200, b"late", delay=2.0)
        return None
    up = Upstream("a", handler)
    dead = free_port()
    routes = [{"name": "dead", "match": {"path": "/dead"}, "cluster": "d"},
              {"name": "slow", "match": {"path": "/slow"}, "cluster": "a",
               "timeout": "300ms"},
              {"name": "ok", "match": {"path_prefix": "/ok"},
               "cluster": "a"}]
    sl, port, aport, alog = logged_sluice(
        clusters={"a": [up], "d": [dead]}, fmt=fmt, routes=routes,
        limits={"header_timeout": "500ms"})
    c = Client(port)
    eq(c.request("GET", "/ok", {"X-Request-Id": "r-ok"}).status, 200, "ok")
    eq(c.request("GET", "/nope", {"X-Request-Id": "r-404"}).status, 404,
       "no route")
    eq(c.request("GET", "/dead", {"X-Request-Id": "r-502"}).status, 502,
       "dead upstream")
    eq(c.request("GET", "/slow", {"X-Request-Id": "r-504"}).status, 504,
       "route timeout")
    c.close()
    # hostile bytes in the target: quote, backslash, a control escaped
    # by the client as %-codes are kept; raw DEL and high bytes
    r = raw(port, b'GET /ok/"\\\x7f\xff HTTP/1.1\r\nHost: x\r\n'
                  b"X-Request-Id: r-hostile\r\n\r\n")
    check(r.status in (200, 400), "hostile target answered: %r" % r.status)
    # a budget cut: half a head, then silence past header_timeout
    k = _s.create_connection(("127.0.0.1", port))
    k.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
    k.settimeout(3)
    data = b""
    while True:
        x = k.recv(4096)
        if not x:
            break
        data += x
    k.close()
    check(data.startswith(b"HTTP/1.1 408"), "408 for the cut: %r"
          % data[:40])
    got = access_lines(alog, 6)
    _last_raw[:] = got
    return got


@test
def access_log_json_fields_for_each_outcome():
    import json
    lines = [json.loads(x) for x in access_cases("json")]
    by = {e["request_id"]: e for e in lines}
    ok = by["r-ok"]
    eq((ok["status"], ok["route"], ok["cluster"], ok["close"]),
       (200, "ok", "a", ""), "success")
    check(ok["connect_ms"] >= 0 and ok["upstream_ms"] >= 0
          and ok["bytes_in"] > 0 and ok["bytes_out"] > 0, "success %r" % ok)
    eq((by["r-404"]["status"], by["r-404"]["route"], by["r-404"]["cluster"],
        by["r-404"]["error"]), (404, "-", "-", "no_route"), "404")
    e = by["r-502"]
    eq((e["status"], e["cluster"], e["error"]),
       (502, "d", "upstream_connect_failed"), "502")
    e = by["r-504"]
    eq((e["status"], e["cluster"], e["error"]), (504, "a", "upstream_timeout"),
       "504")
    check(e["upstream_ms"] >= 250, "504 upstream_ms %r" % e)
    cut = [x for x in lines if x["status"] == 408]
    eq(len(cut), 1, "one 408 line")
    eq((cut[0]["error"], cut[0]["close"]),
       ("header_timeout", "header_timeout"), "408 line")
    check(cut[0]["close"] != "", "a cut names its close: %r" % cut[0])
    # the hostile target (refused: a request id of sluice's own) is in
    # its line escaped, the line printable ASCII
    raw_lines = access_lines_raw_text()
    bad = [x for x in raw_lines if '"error":"bad_target"' in x]
    eq(len(bad), 1, "one line for the hostile target")
    check(all(0x20 <= ord(ch) < 0x7f for ch in bad[0]),
          "hostile line is printable ASCII: %r" % bad[0])
    check('/ok/\\"\\\\\\u007f\\u00ff' in bad[0],
          "hostile target escaped: %r" % bad[0])


@test
def access_log_combined_fields_for_each_outcome():
    lines = access_cases("combined")
    by = {}
    for x in lines:
        check(all(0x20 <= ord(ch) < 0x7f for ch in x),
              "combined line is printable ASCII: %r" % x)
        rid = [f for f in x.split(" ") if f.startswith("rid=")]
        if rid:
            by[rid[0][4:]] = x
    check("cluster=a " in by["r-ok"] and "close=- " in by["r-ok"] + " ",
          "success line %r" % by["r-ok"])
    bad = [x for x in lines if "error=bad_target" in x]
    eq(len(bad), 1, "one line for the hostile target")
    check("/ok/\\x22\\x5c\\x7f\\xff HTTP/1.1" in bad[0],
          "hostile target escaped: %r" % bad[0])
    check(" 404 " in by["r-404"] and "cluster=- " in by["r-404"],
          "404 line %r" % by["r-404"])
    check(" 502 " in by["r-502"] and "cluster=d " in by["r-502"]
          and "error=upstream_connect_failed" in by["r-502"],
          "502 line %r" % by["r-502"])
    check(" 504 " in by["r-504"] and "error=upstream_timeout" in by["r-504"],
          "504 line %r" % by["r-504"])
    cut = [x for x in lines if '" 408 ' in x]
    eq(len(cut), 1, "one 408 line")
    check("close=header_timeout" in cut[0], "the cut names its close: %r"
          % cut[0])


if __name__ == "__main__":
    main()
