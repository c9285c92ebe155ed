# SPDX-License-Identifier: MIT
"""The Idempotency-Key store (draft-ietf-httpapi-idempotency-key-header;
a route's idempotency: and the top-level idempotency.memory)
through the real binary, in front of an upstream that keeps a ledger of
every request it executed (the Bank: each request it receives is one
payment, numbered from 1, and its answer names that number).

What is proved: a retry with the same key and the same request is
answered from the store (same status, same end-to-end fields, same body,
Idempotent-Replayed: true) and the upstream executes the payment once; a
key is a Structured Field string or a bare token of 1 to 255 visible
ASCII characters, anything else is a 400 problem+json with nothing sent
upstream; a missing key is refused when the route requires one and
forwarded unremembered when it does not; a retry while the first is in
flight gets 409 with Retry-After, eight concurrent ones across two workers
let exactly one through; another method, target or body under the same
key gets 422, while the same bytes framed otherwise (chunked) replay; the
release statuses (default 5xx, 408, 425, 429, or the route's list),
sluice's own 502 and 504, an upstream that cuts its body and a response
over max_response_bytes leave the key free for the next retry; a request
body over max_request_bytes gets 413; a client whose connection ends
(closed, reset, over TLS without close_notify) before or while the answer
comes still gets the stored answer on retry, the payment made once; a
replay keeps the connection open; the caller scopes a key (caller:
header, caller: none); a completed key
expires after its ttl; methods not listed are never looked at; HTTP/2
(h2 and curl) replays the same; a reload keeps completed keys; the counters, gauges and
the access log's idempotency field say each outcome; sluice -t refuses
bad idempotency keys, naming them.

Not tested: the store full (memory: and fail: closed | open), which
needs a number of keys in flight that depends on the implementation's
entry size; caller: auto, jwt and certificate.

No time is asserted but the ttl's lower bound: in-flight requests are
held at the upstream by gates the test opens, and counters (counted when
an exchange ends) are polled with a deadline."""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Closed, Headers, Reply, Skip,  # noqa: E402
                    Upstream, build_request, check, chunked, eq, free_port,
                    get, main, make_config, metric_sum, metrics,
                    read_json_lines, run_sluice,
                    sighup_reload, start_sluice, test, tmpdir, to_yaml,
                    wait_until)

KiB = 1024
GATE_TIMEOUT = 10.0     # a failure guard, never a timing assertion
BODY = b'{"amount":"100.00","currency":"EUR","to":"DE89370400440532013000"}'
OTHER_BODY = BODY.replace(b"100.00", b"999.00")

# ---------------------------------------------------------------------------
# The upstream: a payment service with a ledger


class Bank(Upstream):
    """An Upstream that executes one payment per request it receives
    (.requests is its ledger, in order of arrival; payments are numbered
    from 1 as they are answered). Its answer, the receipt, is a JSON body
    naming the payment, its status and what the request was, with
    end-to-end fields a replay must repeat (Location, X-Payment-Id, two
    Link lines, Cache-Control) and a hop-by-hop one it must not
    (Keep-Alive).

    plan(path, *answers) scripts the answers for a path, one per request
    in order, then the default receipt (201 for POST, 200 otherwise); an
    answer is a status or a dict of receipt()'s options, which include
    "gate": an Event the answer waits for (at most GATE_TIMEOUT), so that
    a test holds a request in flight as long as it wants."""

    def __init__(self, port=0):
        self.plans = {}
        self.answered = 0       # answers written (or cut) so far
        self.executed = 0
        Upstream.__init__(self, "app", self.answer, port=port)

    def plan(self, path, *answers):
        with self.lock:
            self.plans[path] = list(answers)

    def ledger(self, key=None):
        """The requests received, those with Idempotency-Key `key` (as
        sent) when given."""
        with self.lock:
            return [r for r in self.requests
                    if key is None or r.header("idempotency-key") == key]

    def answer(self, req):
        with self.lock:
            self.executed += 1
            n = self.executed
            todo = self.plans.get(req.target)
            a = todo.pop(0) if todo else {}
        if isinstance(a, int):
            a = {"status": a}
        gate = a.pop("gate", None)
        if gate is not None:
            gate.wait(GATE_TIMEOUT)
        return self.receipt(req, n, **a)

    def receipt(self, req, n, status=None, pad=0, mode="cl", cut=False,
                split=None, split_head=None, delay=0.0, action=None):
        """pad: the body's length (spaces after the JSON); mode: "cl" or
        "chunked"; cut: the body stops halfway and the connection closes;
        split: (at, gate) sends the head and the body's first `at` bytes,
        then the rest once gate is set; split_head: (at, gate) the same
        with the answer's first `at` bytes, inside its head; action:
        Reply's (e.g. "hang")."""
        if status is None:
            status = 201 if req.method == "POST" else 200
        body = json.dumps({"payment": n, "status": status,
                           "method": req.method, "path": req.target,
                           "key": req.header("idempotency-key"),
                           "body_sha256": req.body_sha}).encode()
        body += b" " * max(0, pad - len(body))
        hs = [("Content-Type", "application/json"),
              ("Location", "/payments/%d" % n),
              ("X-Payment-Id", str(n)),
              ("Link", '</payments/%d/refund>; rel="refund"' % n),
              ("Link", '</payments>; rel="collection"'),
              ("Cache-Control", "no-store"),
              ("Keep-Alive", "timeout=30")]
        if action is not None:
            return Reply(action=action)
        if cut and mode == "chunked":
            head = "HTTP/1.1 %d X\r\n" % status + "".join(
                "%s: %s\r\n" % kv for kv in hs) + \
                "Transfer-Encoding: chunked\r\n\r\n"
            part = chunked(body[:len(body) // 2], 64)[:-5]  # no last chunk
            return Reply(action="raw", raw=head.encode() + part, close=True)
        if cut:
            return Reply(status, body[:len(body) // 2], hs,
                         head_cl=len(body), close=True)
        r = Reply(status, body, hs, mode=mode, delay=delay, chunk_size=512)
        r.split, r.in_head = split or split_head, split_head is not None
        return r

    def _reply(self, conn, bs, req, r):
        try:
            if getattr(r, "split", None) is None:
                return Upstream._reply(self, conn, bs, req, r)
            at, gate = r.split
            head = "HTTP/1.1 %d X\r\n" % r.status + "".join(
                "%s: %s\r\n" % kv for kv in r.headers) + \
                "Content-Length: %d\r\n\r\n" % len(r.body)
            whole = head.encode() + r.body
            at += 0 if r.in_head else len(head)
            conn.sock.sendall(whole[:at])
            gate.wait(GATE_TIMEOUT)
            conn.sock.sendall(whole[at:])
            return True
        finally:
            with self.lock:
                self.answered += 1


# ---------------------------------------------------------------------------
# sluice in front of the Bank


class Gw:
    def __init__(self, bank, sl, port, aport, log):
        self.bank, self.sl, self.port, self.aport, self.log = \
            bank, sl, port, aport, log

    def count(self, name, **labels):
        return metric_sum(metrics(self.aport), name, **labels)

    def settled_count(self, name, want, **labels):
        """The counter once it is `want`, or after 5 s: an exchange is
        counted when it ends, which may be just after its client read
        the last byte."""
        wait_until(lambda: self.count(name, **labels) == want, 5.0, 0.05)
        return self.count(name, **labels)

    def expect_count(self, name, want, **labels):
        eq(self.settled_count(name, want, **labels), want,
           "%s%r" % (name, labels))


def route(name="pay", prefix="/", idem=True, **kw):
    r = {"name": name, "match": {"path_prefix": prefix}, "cluster": "app",
         "idempotency": idem}
    r.update(kw)
    return r


def gateway_config(idem=True, routes=None, top=None, access_log=False,
                   h2=False, workers=1, bank=None, port=None, aport=None,
                   tls=False):
    """(config, port, admin port, access log path or None, bank): one
    listener "main" with `routes` (default: one route "pay" for every
    path with idempotency `idem`) to the cluster "app" (the Bank, or an
    address), an admin listener; top: the top-level idempotency block.
    h2: the listener speaks h2 (prior knowledge, plain TCP) and
    http/1.1. tls: the listener speaks TLS whatever SLTEST_TRANSPORT
    says (the harness's certificate; Client speaks TLS to it)."""
    if bank is None:
        bank = Bank()
    aport = aport or free_port()
    extra = {"admin": {"address": "127.0.0.1:%d" % aport}}
    if top is not None:
        extra["idempotency"] = top
    if routes is None:
        routes = [route(idem=idem)]
    log = os.path.join(tmpdir(), "access.log") if access_log else None
    lo = {"protocols": ["h2", "http/1.1"]} if h2 else None
    cfg, port = make_config({"app": [bank]}, routes=routes, access_log=log,
                            extra=extra, listener_opts=lo, workers=workers,
                            port=port)
    if h2:
        # HTTP/2 in clear text (prior knowledge), never the harness's TLS
        cfg["listeners"][0].pop("tls", None)
        sltest._tls_ports.discard(port)
    elif tls and "tls" not in cfg["listeners"][0]:
        cert = sltest.transport_pki()["listener"]     # Skip without openssl
        cfg["listeners"][0]["tls"] = {
            "certificates": [{"cert": cert.cert, "key": cert.key}]}
        sltest._tls_ports.add(port)
    return cfg, port, aport, log, bank


def gateway(**kw):
    """sluice in front of a Bank (see gateway_config); returns a Gw."""
    cfg, port, aport, log, bank = gateway_config(**kw)
    sl = start_sluice(cfg)
    return Gw(bank, sl, port, aport, log)


def pay(port, key=None, body=BODY, path="/pay", method="POST", headers=(),
        rid=None, client=None, framing="cl"):
    """One request (on client, or a fresh connection) with Idempotency-Key
    `key` (a list: one field line each; None: no field). rid: its
    X-Request-Id. framing "chunked": the body goes chunked."""
    hs = []
    if key is not None:
        for k in (key if isinstance(key, list) else [key]):
            hs.append(("Idempotency-Key", k))
    if body is not None:
        hs.append(("Content-Type", "application/json"))
    if rid is not None:
        hs.append(("X-Request-Id", rid))
    hs += list(headers)
    if body is not None and framing == "chunked":
        hs.append(("Transfer-Encoding", "chunked"))
        body = chunked(body, 16)
    if client is not None:
        return client.request(method, path, hs, body)
    return get(port, path, hs, method=method, body=body)


# ---------------------------------------------------------------------------
# What a response must be


# the fields a replay need not repeat: framing, hop-by-hop, sluice's own
NOT_COMPARED = {"connection", "keep-alive", "transfer-encoding",
                "content-length", "x-request-id", "idempotent-replayed",
                "date"}


def end_to_end(headers):
    """The end-to-end fields of a response (a Headers), lower-cased names,
    sorted by name (same-named fields keep their order)."""
    return sorted([(k.lower(), v) for k, v in headers.items
                   if k.lower() not in NOT_COMPARED
                   and not k.startswith(":")], key=lambda kv: kv[0])


def payment(r, what=""):
    try:
        return json.loads(r.body.decode("utf-8"))["payment"]
    except (ValueError, KeyError, UnicodeDecodeError):
        raise AssertionError("%s: not a receipt of the upstream: %r"
                             % (what, r))


def expect_fresh(r, what, status=None, n=None):
    """r came from the upstream now: a receipt, not a replay. Returns
    its payment's number (n: the one it must be)."""
    if status is not None:
        eq(r.status, status, "%s: status (%r)" % (what, r.body[:200]))
    eq(r.header("idempotent-replayed"), None,
       "%s: Idempotent-Replayed on a response from the upstream" % what)
    got = payment(r, what)
    if n is not None:
        eq(got, n, "%s: payment number" % what)
    return got


def expect_replay(r, first, what):
    """r is first again, from the store: same status, end-to-end fields
    and body, with Idempotent-Replayed: true and without the upstream's
    hop-by-hop fields."""
    eq(r.status, first.status, "%s: status (%r)" % (what, r.body[:200]))
    eq(r.headers.get_all("idempotent-replayed"), ["true"],
       "%s: Idempotent-Replayed (%r)" % (what, r.headers))
    eq(end_to_end(r.headers), end_to_end(first.headers),
       "%s: end-to-end fields" % what)
    eq(r.header("keep-alive"), None, "%s: the upstream's hop-by-hop "
       "Keep-Alive replayed" % what)
    if r.body != first.body:
        raise AssertionError("%s: body %r, want %r" % (what, r.body[:300],
                                                       first.body[:300]))


PROBLEM = "application/problem+json"


def expect_problem(r, status, what, error=None):
    """r is sluice's RFC 9457 problem: status, Content-Type
    application/problem+json, a JSON object with "title", "status", and
    "error" (error: the code it must be, doc/contracts.md 3.2)."""
    eq(r.status, status, "%s: status (%r)" % (what, r.body[:300]))
    ct = (r.header("content-type") or "").split(";")[0].strip().lower()
    eq(ct, PROBLEM, "%s: Content-Type" % what)
    try:
        j = json.loads(r.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise AssertionError("%s: problem body is not JSON: %r"
                             % (what, r.body[:300]))
    check(isinstance(j, dict), "%s: problem is not an object: %r"
          % (what, j))
    eq(j.get("status"), status, "%s: problem's status" % what)
    check(isinstance(j.get("title"), str) and j["title"],
          "%s: problem without a title: %r" % (what, j))
    check(isinstance(j.get("error"), str) and
          j["error"].startswith("idempotency_"),
          "%s: problem without an idempotency error code: %r" % (what, j))
    if error is not None:
        eq(j["error"], error, "%s: the problem's error" % what)
    eq(r.header("idempotent-replayed"), None,
       "%s: Idempotent-Replayed on sluice's own answer" % what)
    return j


def expect_retry_after(r, what):
    ra = r.header("retry-after") or ""
    check(re.match(r"^[0-9]+$", ra), "%s: Retry-After %r (want seconds)"
          % (what, ra))


def ledger_count(bank, key, want, what):
    """The upstream received `want` requests with key, and no more."""
    eq(len(bank.ledger(key)), want, "%s: requests with key %r at the "
       "upstream" % (what, key))


# ---------------------------------------------------------------------------
# 1. The retry, answered from the store


@test
def a_retry_with_the_same_key_is_answered_from_the_store():
    gw = gateway()
    key = "8e03978e-40d5-43e8-bc93-6894a57f9324"
    first = pay(gw.port, key)
    n = expect_fresh(first, "first", 201, 1)
    req = gw.bank.ledger()[0]
    eq(req.header("idempotency-key"), key,
       "the upstream sees Idempotency-Key as sent")
    eq(req.body, BODY, "the upstream sees the body")
    for i in range(3):
        expect_replay(pay(gw.port, key), first, "retry %d" % (i + 1))
    ledger_count(gw.bank, key, 1, "after three retries")
    eq(payment(first), n, "payment")
    expect_fresh(pay(gw.port, "another"), "another key", 201, 2)
    gw.sl.stop()


@test
def a_replay_keeps_the_connection_open():
    """A replay is a whole answer to a request read whole, as sluice's
    other own answers after the body (a 429, a 422) keep the connection:
    a client's pool goes on using it."""
    gw = gateway()
    c = Client(gw.port)
    first = pay(gw.port, "ka-1", client=c)
    expect_fresh(first, "first", 201, 1)
    for i in range(3):
        r = pay(gw.port, "ka-1", client=c)
        expect_replay(r, first, "kept-alive retry %d" % (i + 1))
        check(not r.wants_close(), "the replay closes the connection: %r"
              % r)
    r = pay(gw.port, "ka-1", body=OTHER_BODY, client=c)
    expect_problem(r, 422, "another body", "idempotency_mismatch")
    check(not r.wants_close(), "the 422 closes the connection: %r" % r)
    # the connection goes on: another key is its own payment
    expect_fresh(pay(gw.port, "ka-2", client=c), "another key", 201, 2)
    ledger_count(gw.bank, "ka-1", 1, "after the retries")
    c.close()
    gw.sl.stop()


@test
def keys_as_a_string_or_a_bare_token_of_up_to_255_characters_are_taken():
    gw = gateway()
    keys = ['"9f2c-a"',                 # the draft's sf-string
            "9f2c-b",                   # a bare token
            "x",                        # one character
            "ord:2024/01-xY_9.~+=!#$%&'*^|",   # visible ASCII
            "k" * 255,                  # the longest bare token
            '"%s"' % ("q" * 255)]       # the longest string
    for i, key in enumerate(keys):
        what = "key %r" % key[:40]
        path = "/pay/%d" % i
        first = pay(gw.port, key, path=path)
        expect_fresh(first, what, 201)
        ledger_count(gw.bank, key, 1, what)
        eq(gw.bank.ledger(key)[0].target, path, what + ": target")
        expect_replay(pay(gw.port, key, path=path), first, what + " again")
        ledger_count(gw.bank, key, 1, what + " after its retry")
    gw.sl.stop()


# (what, the Idempotency-Key field lines)
BAD_KEYS = [
    ("an empty value", [""]),
    ("an empty string", ['""']),
    ("256 characters", ["k" * 256]),
    ("a string of 256 characters", ['"%s"' % ("q" * 256)]),
    ("a tab inside", ["ab\tcd"]),
    ("a space inside", ["ab cd"]),
    ("a list of two strings", ['"a", "b"']),
    ("non-ASCII bytes", ["caf\u00c3\u00a9"]),    # UTF-8 of "cafe" accented
    ("two fields", ["k-dup", "k-dup"]),
    ("two fields, two keys", ["k-one", "k-two"]),
]


@test
def malformed_keys_get_400_problem_and_nothing_reaches_the_upstream():
    gw = gateway()
    for what, lines in BAD_KEYS:
        r = pay(gw.port, lines, path="/pay/bad")
        expect_problem(r, 400, what)
    eq(gw.bank.ledger(), [], "requests at the upstream")
    gw.expect_count("sluice_idempotency_requests_total", len(BAD_KEYS),
                    route="pay", outcome="invalid")
    # a good request after them goes through
    expect_fresh(pay(gw.port, "good"), "a good key after the bad", 201, 1)
    gw.sl.stop()


@test
def a_missing_key_is_refused_when_required_and_forwarded_otherwise():
    gw = gateway(routes=[route("strict", "/strict", {"required": True}),
                         route("pay", "/", True)])
    for method in ("POST", "PATCH"):
        r = pay(gw.port, None, path="/strict/1", method=method)
        expect_problem(r, 400, "%s without a key, required" % method,
                       "idempotency_key_missing")
    eq(gw.bank.ledger(), [], "requests at the upstream")
    # a method not listed needs no key
    r = pay(gw.port, None, path="/strict/2", method="PUT")
    expect_fresh(r, "PUT without a key, required", 200, 1)
    # the key not required: forwarded every time, never remembered
    for i in range(2):
        r = pay(gw.port, None, path="/open")
        expect_fresh(r, "POST without a key, not required (%d)" % (i + 1),
                     201, 2 + i)
    eq(len(gw.bank.ledger()), 3, "requests at the upstream")
    gw.expect_count("sluice_idempotency_requests_total", 2, route="strict",
                    outcome="missing")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# 2. Conflicts: in flight, concurrent, another request under the key


@test
def a_retry_while_the_first_is_in_flight_gets_409_with_retry_after():
    gw = gateway()
    gate = threading.Event()
    gw.bank.plan("/pay/slow", {"gate": gate})
    key = "slow-1"
    try:
        a = Client(gw.port, timeout=GATE_TIMEOUT)
        a.send(build_request("POST", "/pay/slow",
                             [("Idempotency-Key", key),
                              ("Content-Type", "application/json")], BODY))
        check(gw.bank.wait_requests(1, 5.0),
              "the first request did not reach the upstream")
        for i in range(2):
            r = pay(gw.port, key, path="/pay/slow")
            expect_problem(r, 409, "retry %d in flight" % (i + 1),
                           "idempotency_conflict")
            expect_retry_after(r, "retry %d in flight" % (i + 1))
        ledger_count(gw.bank, key, 1, "while in flight")
    finally:
        gate.set()
    first = a.read_response("POST")
    a.close()
    expect_fresh(first, "the first", 201, 1)
    expect_replay(pay(gw.port, key, path="/pay/slow"), first,
                  "the retry after it completed")
    ledger_count(gw.bank, key, 1, "in the end")
    gw.expect_count("sluice_idempotency_requests_total", 2, route="pay",
                    outcome="conflict")
    gw.sl.stop()


def send_keyed(port, key, path, body=BODY):
    """A Client with a keyed POST sent, its answer not read."""
    c = Client(port, timeout=GATE_TIMEOUT + 5)
    c.send(build_request("POST", path,
                         [("Idempotency-Key", key),
                          ("Content-Type", "application/json")], body))
    return c


def held_first(gw, key, path="/pay/wait", **answer):
    """The first request of key sent, and held at the upstream until the
    gate returned is set (answer: the Bank's options for its answer):
    (its client, the gate)."""
    gate = threading.Event()
    gw.bank.plan(path, dict({"gate": gate}, **answer))
    a = send_keyed(gw.port, key, path)
    if not gw.bank.wait_requests(1, 5.0):
        gate.set()
        raise AssertionError("the first request did not reach the upstream")
    return a, gate


@test
def with_wait_a_retry_in_flight_gets_the_first_answer():
    gw = gateway(routes=[route(idem={"wait": "20s"})], workers=2)
    key = "wait-1"
    a, gate = held_first(gw, key)
    try:
        b = [send_keyed(gw.port, key, "/pay/wait") for _ in range(3)]
        # they wait (for 20 s at most): no answer while the first is held
        for i, c in enumerate(b):
            check(not c.has_data(0.3),
                  "retry %d was answered while the first is in flight" % i)
        ledger_count(gw.bank, key, 1, "while they wait")
    finally:
        gate.set()
    first = a.read_response("POST")
    a.close()
    expect_fresh(first, "the first", 201, 1)
    for i, c in enumerate(b):
        expect_replay(c.read_response("POST"), first, "waiting retry %d" % i)
        c.close()
    ledger_count(gw.bank, key, 1, "in the end")
    gw.expect_count("sluice_idempotency_requests_total", 3, route="pay",
                    outcome="replayed")
    gw.expect_count("sluice_idempotency_requests_total", 0, route="pay",
                    outcome="conflict")
    gw.sl.stop()


@test
def with_wait_a_retry_gets_409_when_the_wait_is_over():
    gw = gateway(routes=[route(idem={"wait": "200ms"})])
    key = "wait-over-1"
    a, gate = held_first(gw, key)
    try:
        r = pay(gw.port, key, path="/pay/wait")
        expect_problem(r, 409, "after the wait", "idempotency_conflict")
        expect_retry_after(r, "after the wait")
    finally:
        gate.set()
    expect_fresh(a.read_response("POST"), "the first", 201, 1)
    a.close()
    ledger_count(gw.bank, key, 1, "in the end")
    gw.expect_count("sluice_idempotency_requests_total", 1, route="pay",
                    outcome="conflict")
    gw.sl.stop()


@test
def with_wait_a_retry_takes_the_key_the_first_let_go():
    gw = gateway(routes=[route(idem={"wait": "20s"})])
    key = "wait-let-go-1"
    a, gate = held_first(gw, key, status=503)
    try:
        b = send_keyed(gw.port, key, "/pay/wait")
        check(not b.has_data(0.3), "the retry was answered at once")
        # a client that goes while it waits: nothing left behind
        gone = send_keyed(gw.port, key, "/pay/wait")
        check(not gone.has_data(0.1), "the third was answered at once")
        drop(gone, "reset")
    finally:
        gate.set()
    eq(a.read_response("POST").status, 503, "the first: the upstream's 503")
    a.close()
    # the 503 let the key go: the waiting retry takes it, goes upstream
    second = b.read_response("POST")
    b.close()
    expect_fresh(second, "the waiting retry", 201, 2)
    ledger_count(gw.bank, key, 2, "the first and the retry")
    expect_replay(pay(gw.port, key, path="/pay/wait"), second,
                  "a retry after both")
    gw.expect_count("sluice_idempotency_requests_total", 2, route="pay",
                    outcome="reserved")
    gw.sl.stop()


@test
def of_eight_concurrent_identical_requests_one_reaches_the_upstream():
    """Two workers: the store is the process's, not a worker's."""
    gw = gateway(workers=2)
    gw.bank.plan("/pay/rush", {"delay": 0.5})
    key = "rush-1"
    n = 8
    clients = [Client(gw.port, timeout=GATE_TIMEOUT) for _ in range(n)]
    start = threading.Barrier(n)
    out = [None] * n

    def run(i):
        try:
            start.wait(GATE_TIMEOUT)
            out[i] = pay(gw.port, key, path="/pay/rush", client=clients[i])
        except Exception as e:  # noqa: B902 - reported below
            out[i] = e
    th = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in th:
        t.start()
    for t in th:
        t.join(2 * GATE_TIMEOUT)
    for i, r in enumerate(out):
        check(isinstance(r, sltest.Response), "client %d: %r" % (i, r))
    fresh = [r for r in out if r.status == 201 and
             r.header("idempotent-replayed") is None]
    eq(len(fresh), 1, "responses from the upstream (statuses %r)"
       % [r.status for r in out])
    expect_fresh(fresh[0], "the one that went", 201, 1)
    for i, r in enumerate(out):
        if r is fresh[0]:
            continue
        if r.status == 409:
            expect_problem(r, 409, "client %d" % i)
        else:
            expect_replay(r, fresh[0], "client %d" % i)
    ledger_count(gw.bank, key, 1, "after eight at once")
    for c in clients:
        c.close()
    # and once it completed, on fresh connections (either worker)
    for i in range(6):
        expect_replay(pay(gw.port, key, path="/pay/rush"), fresh[0],
                      "retry %d after" % (i + 1))
    ledger_count(gw.bank, key, 1, "in the end")
    gw.sl.stop()


@test
def the_same_key_with_another_method_target_or_body_gets_422():
    gw = gateway()
    key = "fp-1"
    first = pay(gw.port, key, path="/pay?order=7")
    expect_fresh(first, "first", 201, 1)
    for what, kw in (("another body", {"body": OTHER_BODY}),
                     ("a body one byte longer", {"body": BODY + b" "}),
                     ("an empty body", {"body": b""}),
                     ("another query", {"path": "/pay?order=8"}),
                     ("no query", {"path": "/pay"}),
                     ("another path", {"path": "/refund?order=7"}),
                     ("another method", {"method": "PATCH"})):
        args = dict({"path": "/pay?order=7"}, **kw)
        expect_problem(pay(gw.port, key, **args), 422, what)
    ledger_count(gw.bank, key, 1, "after the mismatches")
    # the stored answer is intact; the same bytes chunked are the same
    # request
    expect_replay(pay(gw.port, key, path="/pay?order=7"), first,
                  "the same request")
    expect_replay(pay(gw.port, key, path="/pay?order=7", framing="chunked"),
                  first, "the same body chunked")
    ledger_count(gw.bank, key, 1, "in the end")
    gw.expect_count("sluice_idempotency_requests_total", 7, route="pay",
                    outcome="mismatch")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# 3. What is not kept: the key is released


def released_then_kept(gw, key, path, status, what):
    """The upstream's first answer on path (planned) has `status` and is
    not kept: the retry goes upstream and gets the default 201, which is
    kept."""
    r = pay(gw.port, key, path=path)
    eq(r.status, status, "%s: first status" % what)
    n1 = expect_fresh(r, what + ": first")
    second = pay(gw.port, key, path=path)
    expect_fresh(second, what + ": the retry", 201, n1 + 1)
    expect_replay(pay(gw.port, key, path=path), second,
                  what + ": the retry's retry")
    ledger_count(gw.bank, key, 2, what)


def kept(gw, key, path, status, what, method="POST"):
    """The upstream's first answer on path has `status` and is kept:
    the retries are replays of it."""
    first = pay(gw.port, key, path=path, method=method)
    expect_fresh(first, what + ": first", status)
    for i in range(2):
        expect_replay(pay(gw.port, key, path=path, method=method), first,
                      "%s: retry %d" % (what, i + 1))
    ledger_count(gw.bank, key, 1, what)


@test
def release_statuses_are_not_kept_and_the_retry_goes_upstream():
    gw = gateway()
    released = (500, 502, 503, 504, 408, 425, 429)
    for st in released:
        gw.bank.plan("/pay/%d" % st, st)
        released_then_kept(gw, "rel-%d" % st, "/pay/%d" % st, st,
                           "upstream %d" % st)
    for st in (200, 400, 404, 409, 422):
        gw.bank.plan("/pay/%d" % st, st)
        kept(gw, "kept-%d" % st, "/pay/%d" % st, st, "upstream %d" % st)
    gw.expect_count("sluice_idempotency_released_total", len(released),
                    route="pay", reason="status")
    gw.sl.stop()


@test
def a_route_release_list_replaces_the_default():
    gw = gateway(idem={"release": ["4xx", 503]})
    for st in (404, 400, 503):
        gw.bank.plan("/pay/%d" % st, st)
        released_then_kept(gw, "rel-%d" % st, "/pay/%d" % st, st,
                           "upstream %d, release [4xx, 503]" % st)
    for st in (500, 504, 200):
        gw.bank.plan("/pay/%d" % st, st)
        kept(gw, "kept-%d" % st, "/pay/%d" % st, st,
             "upstream %d, release [4xx, 503]" % st)
    gw.sl.stop()


@test
def sluices_own_502_and_504_release_the_key():
    # 502: nothing listens at the endpoint yet
    dead = free_port()
    cfg, port, aport, _, _ = gateway_config(
        routes=[route("slow", "/slow", timeout="400ms"), route()],
        bank="127.0.0.1:%d" % dead)
    sl = start_sluice(cfg)
    key = "down-1"
    r = pay(port, key)
    eq(r.status, 502, "upstream down (%r)" % r.body[:200])
    eq(r.header("idempotent-replayed"), None, "502: Idempotent-Replayed")
    bank = Bank(port=dead)          # the endpoint comes up
    second = pay(port, key)
    expect_fresh(second, "the retry once it is up", 201, 1)
    expect_replay(pay(port, key), second, "the retry's retry")
    ledger_count(bank, key, 1, "502 then up")
    # 504: the route's timeout passes while the upstream says nothing
    key = "timeout-1"
    bank.plan("/slow/pay", {"action": "hang"})
    r = pay(port, key, path="/slow/pay")
    eq(r.status, 504, "upstream silent (%r)" % r.body[:200])
    eq(r.header("idempotent-replayed"), None, "504: Idempotent-Replayed")
    check(wait_until(lambda: len(bank.ledger(key)) == 1, 3.0),
          "the timed-out request did not reach the upstream")
    second = pay(port, key, path="/slow/pay")
    expect_fresh(second, "the retry after the 504", 201)
    expect_replay(pay(port, key, path="/slow/pay"), second,
                  "the retry's retry")
    ledger_count(bank, key, 2, "504 then the retry")

    def released():
        return metric_sum(metrics(aport), "sluice_idempotency_released_total")
    wait_until(lambda: released() == 2, 5.0, 0.05)
    eq(released(), 2, "keys released (the 502's and the 504's)")
    sl.stop()


@test
def an_upstream_that_cuts_its_body_releases_the_key():
    gw = gateway()
    for mode in ("cl", "chunked"):
        key = "cut-" + mode
        path = "/pay/cut-" + mode
        gw.bank.plan(path, {"cut": True, "mode": mode, "pad": 4 * KiB})
        c = Client(gw.port)
        try:
            r = pay(gw.port, key, path=path, client=c)
            raise AssertionError("%s: a cut body came whole: %r"
                                 % (mode, r))
        except Closed:
            pass
        c.close()
        second = pay(gw.port, key, path=path)
        expect_fresh(second, mode + ": the retry after the cut", 201)
        expect_replay(pay(gw.port, key, path=path), second,
                      mode + ": the retry's retry")
        ledger_count(gw.bank, key, 2, mode)
    gw.expect_count("sluice_idempotency_released_total", 2, route="pay",
                    reason="failed")
    gw.sl.stop()


@test
def a_response_over_max_response_bytes_is_forwarded_but_not_kept():
    gw = gateway(idem={"max_response_bytes": "1KiB"})
    for mode in ("cl", "chunked"):
        key, path = "big-" + mode, "/pay/big-" + mode
        gw.bank.plan(path, {"pad": 4 * KiB, "mode": mode})
        r = pay(gw.port, key, path=path)
        expect_fresh(r, mode + ": 4 KiB", 201, None)
        eq(len(r.body), 4 * KiB, mode + ": the whole body forwarded")
        second = pay(gw.port, key, path=path)
        expect_fresh(second, mode + ": the retry of 4 KiB", 201)
        ledger_count(gw.bank, key, 2, mode + ": 4 KiB")
        # below the bound: kept
        key, path = "small-" + mode, "/pay/small-" + mode
        gw.bank.plan(path, {"pad": 1000, "mode": mode})
        kept(gw, key, path, 201, mode + ": 1000 bytes")
    gw.expect_count("sluice_idempotency_released_total", 2, route="pay",
                    reason="too_large")
    gw.sl.stop()


@test
def a_request_body_over_max_request_bytes_gets_413():
    gw = gateway(idem={"max_request_bytes": "1KiB"})
    big = b"{" + b'"a":1,' * 400 + b'"z":0}'      # 2.4 KiB
    for framing in ("cl", "chunked"):
        r = pay(gw.port, "huge-" + framing, body=big, framing=framing)
        expect_problem(r, 413, "%s body of %d bytes" % (framing, len(big)),
                       "idempotency_body_too_large")
    eq(gw.bank.ledger(), [], "requests at the upstream")
    # the key was never taken: the same key with a body that fits is its
    # first time
    ok = b" " * (1000 - len(BODY)) + BODY
    r = pay(gw.port, "huge-cl", body=ok)
    expect_fresh(r, "a body of 1000 bytes under the refused key", 201, 1)
    eq(gw.bank.ledger()[0].body, ok, "the body at the upstream")
    gw.expect_count("sluice_idempotency_requests_total", 2, route="pay",
                    outcome="too_large")
    gw.sl.stop()


@test
def a_body_the_route_allows_that_the_buffer_cannot_hold_gets_413_saying_so():
    # max_request_bytes 64 KiB (the default), as the listener's
    # buffer_bytes: a body under the route's limit that does not fit
    # beside its head in that buffer gets 413 that names the buffer, not
    # a limit the body is within
    gw = gateway()
    body = b"{" + b" " * (64 * 1024 - 20) + b"}"
    for framing in ("cl", "chunked"):
        r = pay(gw.port, "buf-" + framing, body=body, framing=framing)
        j = expect_problem(r, 413, "%s body of %d bytes" % (framing,
                                                             len(body)),
                           "idempotency_body_too_large")
        check("buffer_bytes" in j.get("detail", "") and
              "max_request_bytes" not in j.get("detail", ""),
              "%s: the 413 says why: %r" % (framing, j.get("detail")))
    eq(gw.bank.ledger(), [], "requests at the upstream")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# 4. The client that went away


def drop(c, how):
    """Ends client c's connection: "close" (FIN; over TLS without
    close_notify) or "reset" (RST: SO_LINGER 0, as a network that lost
    the client does)."""
    if how == "reset":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
    c.close()


def drops_before_the_answer(gw, how, n, head_at=None):
    """The drop-and-retry story: the upstream holds the request (the
    payment is made), the client's connection ends (how: see drop), then
    the upstream answers; the retry gets that answer from the store. n:
    the how-manieth payment of the test. head_at: the upstream sends
    that many bytes of its head before the client goes, the rest after
    (the orphan reads the head in two pieces: it went round without
    reading while a piece of a head waited, and never ended)."""
    gate = threading.Event()
    path, key = "/pay/drop-" + how, "drop-" + how
    plan = {"gate": gate}
    if head_at is not None:
        path, key = "/pay/head-" + how, "head-" + how
        plan = {"split_head": (head_at, gate)}
    gw.bank.plan(path, plan)
    try:
        c = Client(gw.port)
        c.send(build_request("POST", path,
                             [("Idempotency-Key", key),
                              ("Content-Type", "application/json")], BODY))
        check(wait_until(lambda: gw.bank.ledger(key), 5.0),
              "%s: the request did not reach the upstream" % how)
        drop(c, how)
    finally:
        gate.set()          # the upstream answers once the client is gone
    check(wait_until(lambda: gw.bank.answered >= n, 5.0),
          "%s: the upstream did not answer" % how)
    # stored once the exchange ends, a moment after the answer
    gw.settled_count("sluice_idempotency_stored_total", n, route="pay")
    r = pay(gw.port, key, path=path)
    eq(r.status, 201, "%s: the retry's status (%r)" % (how, r.body[:200]))
    eq(r.header("idempotent-replayed"), "true",
       "%s: the retry is answered from the store (payment %r)"
       % (how, json.loads(r.body).get("payment")))
    eq(payment(r), n, "%s: the retry gets the payment the upstream made"
       % how)
    ledger_count(gw.bank, key, 1, how + ": after the drop and the retry")
    gw.expect_count("sluice_idempotency_stored_total", n, route="pay")


def drops_mid_body(gw, how, n):
    """The client reads the head and some of the body, its connection
    ends (how: see drop), then the upstream sends the rest; the retry
    gets the whole answer from the store."""
    gate = threading.Event()
    size = 16 * KiB
    path, key = "/pay/half-" + how, "half-" + how
    gw.bank.plan(path, {"pad": size, "split": (1 * KiB, gate)})
    try:
        c = Client(gw.port)
        c.send(build_request("POST", path,
                             [("Idempotency-Key", key),
                              ("Content-Type", "application/json")], BODY))
        head = c.read_until(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 201"), "%s: head %r"
              % (how, head[:80]))
        drop(c, how)
    finally:
        gate.set()          # the rest comes once the client is gone
    check(wait_until(lambda: gw.bank.answered >= n, 5.0),
          "%s: the upstream did not finish its answer" % how)
    # stored once the exchange ends, a moment after the answer
    gw.settled_count("sluice_idempotency_stored_total", n, route="pay")
    r = pay(gw.port, key, path=path)
    eq(r.status, 201, "%s: the retry's status (%r)" % (how, r.body[:200]))
    eq(r.header("idempotent-replayed"), "true",
       "%s: the retry is answered from the store (payment %r)"
       % (how, json.loads(r.body).get("payment")))
    eq(len(r.body), size, "%s: the replayed body's length" % how)
    eq(payment(r), n, "%s: the retry gets the payment the upstream made"
       % how)
    ledger_count(gw.bank, key, 1, how + ": after the drop and the retry")
    gw.expect_count("sluice_idempotency_stored_total", n, route="pay")


@test
def a_client_that_drops_before_the_answer_gets_it_from_the_store():
    gw = gateway()
    drops_before_the_answer(gw, "close", 1)
    drops_before_the_answer(gw, "reset", 2)
    gw.sl.stop()


@test
def a_client_that_drops_mid_body_gets_the_whole_answer_from_the_store():
    gw = gateway()
    drops_mid_body(gw, "close", 1)
    drops_mid_body(gw, "reset", 2)
    gw.sl.stop()


@test
def a_client_that_drops_while_the_head_comes_gets_it_from_the_store():
    gw = gateway()
    drops_before_the_answer(gw, "close", 1, head_at=20)
    drops_before_the_answer(gw, "reset", 2, head_at=20)
    gw.sl.stop()


@test
def a_tls_client_that_drops_gets_the_answer_from_the_store():
    """Over TLS the client's end comes without close_notify (or as a
    reset): the exchange must not take it for a failed request."""
    gw = gateway(tls=True)
    drops_before_the_answer(gw, "close", 1)
    drops_before_the_answer(gw, "reset", 2)
    drops_mid_body(gw, "close", 3)
    drops_mid_body(gw, "reset", 4)
    gw.sl.stop()


@test
def a_client_gone_before_an_answer_that_never_comes_frees_the_key_at_the_lease():
    """The orphan reader waits for the upstream's answer as long as the
    reservation's lease (the route's timeout, 300 ms here, and 5 s):
    meanwhile a retry gets 409; then the key goes (released, "failed")
    and the next retry reaches the upstream."""
    gw = gateway(routes=[route(timeout="300ms")])
    gate = threading.Event()
    path, key = "/pay/never", "never-answered"
    gw.bank.plan(path, {"gate": gate}, 201)
    try:
        c = Client(gw.port)
        c.send(build_request("POST", path,
                             [("Idempotency-Key", key),
                              ("Content-Type", "application/json")], BODY))
        check(wait_until(lambda: gw.bank.ledger(key), 5.0),
              "the request did not reach the upstream")
        drop(c, "reset")
        expect_problem(pay(gw.port, key, path=path), 409,
                       "a retry while the orphan waits")
        check(wait_until(lambda: gw.count(
            "sluice_idempotency_released_total", route="pay",
            reason="failed") == 1, 10.0, 0.1),
            "the key was not let go at the lease's end")
    finally:
        gate.set()
    expect_fresh(pay(gw.port, key, path=path), "the retry after the lease",
                 201)
    ledger_count(gw.bank, key, 2, "after the lease")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# 5. Whose key: the caller


@test
def the_caller_scopes_the_key():
    gw = gateway(routes=[
        route("anon", "/anon", {"caller": "none"}),
        route("pay", "/", {"caller": "header", "caller_header": "X-Client"})])
    key = "order-42"

    def as_(who, path="/pay", body=BODY):
        return pay(gw.port, key, path=path, body=body,
                   headers=[("X-Client", who)] if who else [])
    alice = as_("alice")
    expect_fresh(alice, "alice", 201, 1)
    bob = as_("bob")
    expect_fresh(bob, "bob under alice's key", 201, 2)
    expect_replay(as_("alice"), alice, "alice again")
    expect_replay(as_("bob"), bob, "bob again")
    # carol's other body under the same key is her own first time
    expect_fresh(as_("carol", body=OTHER_BODY), "carol, another body", 201,
                 3)
    expect_problem(as_(None), 400, "no X-Client with caller: header",
                   "idempotency_caller_missing")
    eq(len(gw.bank.ledger(key)), 3, "payments under the key")
    # caller: none: the key alone, whoever sends it
    anon = as_("alice", path="/anon/pay")
    expect_fresh(anon, "caller none, alice", 201, 4)
    expect_replay(as_("bob", path="/anon/pay"), anon, "caller none, bob")
    expect_replay(as_(None, path="/anon/pay"), anon,
                  "caller none, no X-Client")
    eq(len(gw.bank.ledger(key)), 4, "payments under the key")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# 6. Time, methods, protocols, reloads, sealing


_cert_pki = []


def cert_pki():
    if not sltest.have_openssl():
        raise Skip("openssl command not installed")
    if not _cert_pki:
        pk = sltest.Pki()
        pk.ca("ca", "/O=Sluice Test/CN=idempotency server CA")
        pk.leaf("srv", "/CN=test.local", "ca", ["test.local"],
                ips=["127.0.0.1"])
        pk.ca("cca", "/O=Sluice Test/CN=idempotency client CA")
        pk.leaf("alice", "/O=Example/CN=alice", "cca")
        pk.leaf("bob", "/O=Example/CN=bob", "cca")
        _cert_pki.append(pk)
    return _cert_pki[0]


@test
def a_client_certificate_owns_its_keys_without_client_subject_header():
    """On a listener that verifies client certificates (and names no
    client_subject_header), caller: auto and caller: certificate scope a
    key by the certificate's subject: bob, sending alice's key, gets a
    payment of his own, never alice's answer (the subject was not read
    before, and every caller was one)."""
    pk = cert_pki()
    for caller in ("auto", "certificate"):
        cfg, port, aport, _, bank = gateway_config(idem={"caller": caller})
        cfg["listeners"][0]["tls"] = {
            "certificates": [{"cert": pk["srv"].cert, "key": pk["srv"].key}],
            "client_ca": pk["cca"].cert, "client_verify": "optional"}
        sltest._tls_ports.discard(port)
        gw = Gw(bank, start_sluice(cfg), port, aport, None)

        def as_(who):
            c = sltest.TLSClient(port, sni="test.local",
                                 cafile=pk["ca"].cert, cert=pk[who].cert,
                                 key=pk[who].key)
            try:
                return pay(port, "shared-key", client=c)
            finally:
                c.close()
        first = as_("alice")
        expect_fresh(first, "%s: alice" % caller, 201)
        bobs = as_("bob")
        expect_fresh(bobs, "%s: bob with alice's key" % caller, 201)
        check(payment(bobs) != payment(first),
              "%s: bob got alice's payment" % caller)
        expect_replay(as_("alice"), first, "%s: alice again" % caller)
        ledger_count(bank, "shared-key", 2, caller)
        gw.sl.stop()


@test
def a_verified_token_owns_its_keys():
    """caller: jwt, and caller: auto on a route that verifies tokens: a
    key is its token's (iss and sub): bob, sending alice's key, gets a
    payment of his own; alice gets hers again."""
    from jwtkeys import AUD, ISS, Keys, bearer, claims, need_jwt
    need_jwt()
    k = Keys()
    kp = os.path.join(tmpdir(), "jwks.json")
    with open(kp, "w") as f:
        json.dump(k.jwks(), f)
    jwt = {"keys": kp, "issuer": ISS, "audience": [AUD]}
    cfg, port, aport, _, bank = gateway_config(routes=[
        route("jwt", "/jwt", {"caller": "jwt"}, auth={"jwt": jwt}),
        route("auto", "/auto", {"caller": "auto"}, auth={"jwt": jwt})])
    gw = Gw(bank, start_sluice(cfg), port, aport, None)
    tokens = {who: k.sign("ES256", claims(sub=who))
              for who in ("alice", "bob")}

    def as_(who, path):
        return pay(port, "shared-token-key", path=path,
                   headers=list(bearer(tokens[who]).items()))
    for path in ("/jwt/pay", "/auto/pay"):
        first = as_("alice", path)
        expect_fresh(first, "%s: alice" % path, 201)
        bobs = as_("bob", path)
        expect_fresh(bobs, "%s: bob with alice's key" % path, 201)
        check(payment(bobs) != payment(first),
              "%s: bob got alice's payment" % path)
        expect_replay(as_("alice", path), first, "%s: alice again" % path)
        expect_replay(as_("bob", path), bobs, "%s: bob again" % path)
    ledger_count(bank, "shared-token-key", 4, "two routes, two callers")
    gw.sl.stop()


@test
def a_grpc_call_is_not_looked_at():
    """A gRPC call's answer ends in trailers (grpc-status), which the
    store does not keep: on an idempotent route it goes upstream every
    time, its answer whole, even with an idempotency-key."""
    import grpc
    from test_h2_upstream import GRPC_SERVICE, GrpcServer, channel
    srv = GrpcServer()
    cfg, port, aport, _, _ = gateway_config(
        routes=[route(idem={"required": True})])
    cfg["clusters"] = [{"name": "app", "endpoints": [srv.addr()],
                        "protocol": "h2c"}]
    cfg["listeners"][0]["protocols"] = ["h2", "http/1.1"]
    cfg["listeners"][0].pop("tls", None)
    sltest._tls_ports.discard(port)
    sl = start_sluice(cfg)
    with channel(port) as ch:
        u = ch.unary_unary("/%s/Unary" % GRPC_SERVICE)
        for i in range(2):
            r, call = u.with_call(b"pay", timeout=10,
                                  metadata=[("idempotency-key", "g-1")])
            eq(r, b"echo:pay", "call %d: the server's answer" % i)
            eq(dict(call.trailing_metadata()).get("x-ledger"), "42",
               "call %d: the server's trailers" % i)
        # required: true does not refuse a call without a key either
        eq(u(b"nokey", timeout=10), b"echo:nokey", "a call without a key")
    eq(srv.calls, 3, "calls at the server")
    eq(metric_sum(metrics(aport), "sluice_idempotency_requests_total"), 0,
       "calls the store looked at")
    sl.stop()


@test
def a_client_that_goes_while_an_h2c_upstream_holds_its_payment():
    """The drop-and-retry story with an HTTP/2 upstream (a cluster with
    protocol: h2c): the client's connection ends while its request is a
    stream of a shared upstream connection; the stream is read to its
    end without the client, and the retry gets that answer; the server
    saw one request. Twice: an answer with its content-length, and one
    without (its length known at the stream's end only)."""
    import hpack
    import h2test as H
    from test_h2_upstream import raw_h2_server
    gates = [threading.Event(), threading.Event()]
    bodies = [b'{"payment":"h2-1","status":"succeeded"}',
              b'{"payment":"h2-2","status":"succeeded","more":"' +
              b"x" * 3000 + b'"}']

    def answer(i):
        def frames(sid):
            gates[i].wait(GATE_TIMEOUT)
            enc = hpack.Encoder()
            hs = [(":status", "201"), ("content-type", "application/json")]
            if i == 0:
                hs.append(("content-length", str(len(bodies[i]))))
            half = len(bodies[i]) // 2
            return [H.frame(H.HEADERS, H.END_HEADERS, sid, enc.encode(hs)),
                    H.frame(H.DATA, 0, sid, bodies[i][:half]),
                    H.frame(H.DATA, H.END_STREAM, sid, bodies[i][half:])]
        return frames
    addr, got = raw_h2_server([answer(0), answer(1)])
    cfg, port, aport, _, _ = gateway_config()
    cfg["clusters"] = [{"name": "app", "endpoints": [addr],
                        "protocol": "h2c"}]
    gw = Gw(None, start_sluice(cfg), port, aport, None)
    for i in range(2):
        key, path = "h2-drop-%d" % i, "/pay/h2-%d" % i
        try:
            c = send_keyed(port, key, path)
            check(wait_until(lambda: len(got) >= i + 1, 5.0),
                  "%d: the request did not reach the upstream" % i)
            drop(c, "reset")
        finally:
            gates[i].set()  # the server answers once the client is gone
        gw.settled_count("sluice_idempotency_stored_total", i + 1,
                         route="pay")
        r = pay(port, key, path=path)
        eq(r.status, 201, "%d: the retry's status (%r)" % (i, r.body[:200]))
        eq(r.header("idempotent-replayed"), "true",
           "%d: the retry is a replay" % i)
        eq(r.body, bodies[i], "%d: the retry gets the server's answer" % i)
        eq(len(got), i + 1, "%d: requests at the server" % i)
    gw.expect_count("sluice_idempotency_released_total", 0, route="pay")
    gw.sl.stop()


@test
def a_completed_key_expires_after_its_ttl():
    gw = gateway(idem={"ttl": "1s"})
    key = "ttl-1"
    first = pay(gw.port, key)
    t_done = time.monotonic()
    expect_fresh(first, "first", 201, 1)
    expect_replay(pay(gw.port, key), first, "the retry at once")
    # retries until one goes upstream (a replay executes nothing)
    got = [None]

    def expired():
        r = pay(gw.port, key)
        if r.header("idempotent-replayed") is None:
            got[0] = (r, time.monotonic() - t_done)
            return True
        expect_replay(r, first, "a retry within the ttl")
        return False
    check(wait_until(expired, 4.0, 0.1),
          "a retry 4 s after the response of a key with ttl 1s is still "
          "answered from the store")
    r, after = got[0]
    check(after >= 0.9, "the key expired %.2f s after its response, its "
          "ttl is 1s" % after)
    expect_fresh(r, "the retry after the ttl", 201, 2)
    ledger_count(gw.bank, key, 2, "after the ttl")
    gw.sl.stop()


@test
def methods_not_listed_are_never_looked_at():
    gw = gateway(routes=[route("post-only", "/post", {"methods": ["POST"]}),
                         route("pay", "/", {"required": True})])
    for method, body in (("GET", None), ("PUT", BODY), ("DELETE", None)):
        key = "m-" + method
        for i in range(2):
            r = pay(gw.port, key, body=body, method=method)
            expect_fresh(r, "%s %d with a key" % (method, i + 1), 200)
        ledger_count(gw.bank, key, 2, method)
    # not looked at: a bad key, no key on a route that requires one
    for lines in ([""], ["a", "b"]):
        r = pay(gw.port, lines, body=None, method="GET")
        expect_fresh(r, "GET with key lines %r" % lines, 200)
    # methods: [POST]: PATCH goes through, POST is remembered
    for i in range(2):
        r = pay(gw.port, "m-patch", path="/post/x", method="PATCH")
        expect_fresh(r, "PATCH %d, methods [POST]" % (i + 1), 200)
    ledger_count(gw.bank, "m-patch", 2, "PATCH, methods [POST]")
    kept(gw, "m-post", "/post/y", 201, "POST, methods [POST]")
    # the default methods: PATCH is remembered
    kept(gw, "m-patch-default", "/pay", 200, "PATCH, default methods",
         method="PATCH")
    gw.sl.stop()


def need_h2():
    import h2test
    if not h2test.HAVE_H2:
        raise Skip("python3-h2 not installed")
    return h2test


class H2Response:
    """An h2test stream with the Response API expect_* use."""

    def __init__(self, st):
        self.status = st.status
        self.headers = Headers([(k, v) for k, v in st.headers or []
                                if not k.startswith(":")])
        self.body = bytes(st.body)

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return "<H2Response %s %r %r>" % (self.status, self.headers,
                                          self.body[:200])


@test
def an_http2_client_gets_the_same_replay():
    h2test = need_h2()
    gw = gateway(h2=True)
    c = h2test.H2Client(gw.port)

    def h2pay(key, path="/pay"):
        hs = [("idempotency-key", key), ("content-type", "application/json"),
              ("content-length", str(len(BODY)))]
        return H2Response(c.response(c.request("POST", path, hs,
                                                body=BODY)))
    first = h2pay("h2-1")
    expect_fresh(first, "h2 first", 201, 1)
    expect_replay(h2pay("h2-1"), first, "h2 retry")
    ledger_count(gw.bank, "h2-1", 1, "h2")
    # first over HTTP/1.1, the retry over HTTP/2, and the other way
    h1 = pay(gw.port, "cross-1")
    expect_fresh(h1, "HTTP/1.1 first", 201, 2)
    expect_replay(h2pay("cross-1"), h1, "its retry over h2")
    # ... and without a content-length, as gRPC's clients send a body: it
    # crosses as pieces, and its fingerprint is its payload's all the same
    expect_replay(H2Response(c.response(c.request(
        "POST", "/pay", [("idempotency-key", "cross-1"),
                         ("content-type", "application/json")],
        body=BODY))), h1, "its retry over h2, no length")
    h2first = h2pay("cross-2")
    expect_fresh(h2first, "h2 first", 201, 3)
    expect_replay(pay(gw.port, "cross-2"), h2first, "its retry over 1.1")
    # the in-flight conflict over h2
    gate = threading.Event()
    gw.bank.plan("/pay/slow", {"gate": gate})
    try:
        h1c = Client(gw.port, timeout=GATE_TIMEOUT)
        h1c.send(build_request("POST", "/pay/slow",
                               [("Idempotency-Key", "h2-slow")], BODY))
        check(gw.bank.wait_requests(4, 5.0), "no fourth request upstream")
        r = h2pay("h2-slow", "/pay/slow")
        expect_problem(r, 409, "h2 retry in flight")
        expect_retry_after(r, "h2 retry in flight")
    finally:
        gate.set()
    expect_fresh(h1c.read_response("POST"), "the slow one", 201, 4)
    h1c.close()
    c.close()
    # curl over HTTP/2 (prior knowledge)
    if shutil.which("curl"):
        d = tmpdir()
        bodyf = os.path.join(d, "body")
        with open(bodyf, "wb") as f:
            f.write(BODY)
        outs = []
        for i in range(2):
            hdr = os.path.join(d, "h%d" % i)
            p = subprocess.run(
                ["curl", "-sS", "--noproxy", "*", "--http2-prior-knowledge",
                 "-H", "Idempotency-Key: curl-1", "-H",
                 "Content-Type: application/json", "--data-binary",
                 "@" + bodyf, "-D", hdr,
                 "http://127.0.0.1:%d/pay" % gw.port],
                capture_output=True, timeout=30)
            eq(p.returncode, 0, "curl h2: %r" % p.stderr)
            with open(hdr, "rb") as f:
                dump = f.read().decode("latin-1")
            check(dump.startswith("HTTP/2 201"), "curl h2 %d: %r"
                  % (i, dump[:80]))
            outs.append((dump, p.stdout))
        check(not re.search(r"^idempotent-replayed:", outs[0][0],
                            re.M | re.I), "curl's first: %r" % outs[0][0])
        check(re.search(r"^idempotent-replayed: true\r$", outs[1][0],
                        re.M | re.I), "curl's retry: %r" % outs[1][0])
        eq(outs[1][1], outs[0][1], "curl: the replayed body")
        ledger_count(gw.bank, "curl-1", 1, "curl h2")
    gw.sl.stop()


@test
def a_reload_keeps_completed_keys():
    cfg, port, aport, _, bank = gateway_config()
    sl = start_sluice(cfg)
    first = pay(port, "reload-1")
    expect_fresh(first, "before the reload", 201, 1)
    # a new configuration: another route beside
    cfg["listeners"][0]["routes"].insert(
        0, route("refunds", "/refunds", {"required": True}))
    with open(sl.conf_path, "w") as f:
        f.write(to_yaml(cfg) + "\n")
    result, log = sighup_reload(sl, aport)
    eq(result, "ok", "reload (%s)" % log[-500:])
    expect_problem(pay(port, None, path="/refunds/1"), 400,
                   "the new route's required key")
    expect_replay(pay(port, "reload-1"), first, "the retry after the "
                  "reload")
    ledger_count(bank, "reload-1", 1, "after the reload")
    result, log = sighup_reload(sl, aport)
    eq(result, "ok", "second reload (%s)" % log[-500:])
    expect_replay(pay(port, "reload-1"), first, "the retry after a "
                  "second reload")
    ledger_count(bank, "reload-1", 1, "after two reloads")
    sl.stop()


# ---------------------------------------------------------------------------
# 7. Counters, gauges, the access log


@test
def counters_gauges_and_the_access_log_tell_each_outcome():
    gw = gateway(idem={"required": True, "max_request_bytes": "1KiB"},
                 access_log=True)
    gw.bank.plan("/pay/500", 500)
    gate = threading.Event()
    gw.bank.plan("/pay/slow", {"gate": gate})
    want = {}                   # request id -> its log's outcome

    def ask(rid, outcome, key, **kw):
        want[rid] = outcome
        return pay(gw.port, key, rid=rid, **kw)
    first = ask("t-01", "reserved", "A")
    expect_fresh(first, "A", 201)
    expect_replay(ask("t-02", "replayed", "A"), first, "A again")
    expect_problem(ask("t-03", "mismatch", "A", body=OTHER_BODY), 422, "A")
    expect_problem(ask("t-04", "missing", None), 400, "no key")
    expect_problem(ask("t-05", "invalid", ""), 400, "empty key",
                   "idempotency_key_invalid")
    expect_problem(ask("t-06", "too_large", "B", body=b" " * 2048 + BODY),
                   413, "B")
    eq(ask("t-07", "reserved", "C", path="/pay/500").status, 500, "C")
    expect_fresh(ask("t-08", "reserved", "C", path="/pay/500"), "C again",
                 201)
    try:
        want["t-09"] = "reserved"
        slow = Client(gw.port, timeout=GATE_TIMEOUT)
        slow.send(build_request("POST", "/pay/slow",
                                [("Idempotency-Key", "D"),
                                 ("X-Request-Id", "t-09")], BODY))
        check(wait_until(lambda: gw.bank.ledger("D"), 5.0),
              "D did not reach the upstream")
        expect_problem(ask("t-10", "conflict", "D", path="/pay/slow"), 409,
                       "D in flight")
    finally:
        gate.set()
    expect_fresh(slow.read_response("POST"), "D", 201)
    slow.close()
    counts = {"reserved": 4, "replayed": 1, "mismatch": 1, "missing": 1,
              "invalid": 1, "too_large": 1, "conflict": 1}
    for outcome, n in counts.items():
        gw.expect_count("sluice_idempotency_requests_total", n,
                        listener="main", route="pay", outcome=outcome)
    gw.expect_count("sluice_idempotency_released_total", 1, route="pay",
                    reason="status")
    gw.expect_count("sluice_idempotency_stored_total", 3, route="pay")
    # A, C and D are kept
    gw.expect_count("sluice_idempotency_entries", 3)
    check(gw.count("sluice_idempotency_bytes") > 0,
          "sluice_idempotency_bytes is 0 with three responses kept")
    lines = read_json_lines(gw.log, lambda o: o.get("request_id") in want,
                            timeout=5.0, min_count=len(want))
    got = {o["request_id"]: o.get("idempotency") for o in lines}
    eq(got, want, "the access log's idempotency field by request id")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# 8. sluice -t


def check_conf(idem, top=None):
    """sluice -t on a configuration whose route "r" has idempotency
    `idem` (and the top level `top`); returns (rc, stderr)."""
    cfg, _ = make_config({"c": ["127.0.0.1:9"]}, routes=[
        {"name": "r", "cluster": "c", "idempotency": idem}])
    cfg["listeners"][0].pop("tls", None)
    if top is not None:
        cfg["idempotency"] = top
    path = os.path.join(tmpdir(), "c.yaml")
    with open(path, "w") as f:
        f.write(to_yaml(cfg) + "\n")
    rc, out, err = run_sluice(["-t", "-c", path])
    return rc, err


@test
def t_refuses_bad_idempotency_keys_naming_them():
    refused = [
        ({"caller": "header"}, None, "caller_header"),
        ({"store": "redis"}, None, "store"),
        ({"ttl": "0s"}, None, "ttl"),
        ({"ttl": "721h"}, None, "ttl"),
        ({"methods": ["POST", "FROBNICATE"]}, None, "methods"),
        ({"release": ["teapot"]}, None, "release"),
        ({"release": [5000]}, None, "release"),
        ({"caller": "everyone"}, None, "caller"),
        ({"fail": "maybe"}, None, "fail"),
        ({"max_request_bytes": "lots"}, None, "max_request_bytes"),
        ({"tll": "1h"}, None, "tll"),
        (True, {"memory": "512KiB"}, "memory"),
    ]
    for idem, top, name in refused:
        rc, err = check_conf(idem, top)
        check(rc != 0, "-t accepted %r / %r" % (idem, top))
        check(re.search(r"\berror\b", err) and name in err,
              "-t on %r / %r: want an error naming %s, got %r"
              % (idem, top, name, err))
    full = {"store": "local", "methods": ["POST", "PATCH", "PUT"],
            "required": True, "ttl": "720h", "caller": "header",
            "caller_header": "X-Client", "max_request_bytes": "64KiB",
            "max_response_bytes": "1MiB",
            "release": ["5xx", 408, 425, 429, "4xx"], "fail": "open"}
    for idem, top in ((True, None), (False, None), (full, None),
                      ({"caller": "none", "ttl": "1s", "fail": "closed"},
                       {"memory": "1MiB"}),
                      (True, {"memory": "64MiB"})):
        rc, err = check_conf(idem, top)
        eq((rc, err), (0, ""), "-t on a good idempotency %r / %r"
           % (idem, top))


if __name__ == "__main__":
    main()
