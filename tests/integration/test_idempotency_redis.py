# SPDX-License-Identifier: MIT
"""The Idempotency-Key store in Redis (a route's idempotency: with
store: redis, the top-level rate_limit_store and idempotency.key_file):
two sluice gateways of two workers each share one real redis-server
(nothing on disk) in front of one upstream that keeps a ledger of every
request it executed (test_idempotency.py's Bank).

What is proved, across the two gateways: a client cut after its request
reached the upstream gets the answer, kept by the first gateway, through
the second on retry, the payment made once; a client that has its
whole answer from one gateway (HTTP/1.1 or HTTP/2) and retries at once
through the other gets the replay, never 409, even with the first
gateway's Redis taking the answer 2 s late; of eight concurrent
identical requests, four on each gateway, one reaches the upstream and
the others get 409 with Retry-After, then the replay; another body or
target under a kept key gets 422, a missing key 400 when required; a
released 5xx is retried through the other gateway; with Redis killed a
route with fail: closed answers 503 problem+json and sends nothing on,
one with fail: open sends the request on unkept ("unprotected"), both
counted as store errors, and once redis-server is back keys are kept
again; the caller scopes a key; a kept key expires in Redis after its
ttl; an answer over max_response_bytes is not kept (the key is absent
from Redis); the in-flight value's lifetime is the lease (the route's
timeout and 5 s); what Redis holds is sealed: neither the answer's text
nor the request's body can be read in it, and the same answer kept under
two keys is two different values; a gateway with another key_file cannot
open an answer and refuses the retry (503, nothing sent on); sluice -t
refuses store: redis without rate_limit_store or key_file, and a key
file that holds no key.

Redis is read directly (a small RESP client): the name of a key in Redis
is computed here as exchange_idem.c makes it (prefix, "idem:", the
SHA-256 of the route, the caller and the key in hexadecimal).

Nothing is timed but the ttl's lower bound (a proxy's 2 s hold of the
keeping only widens the race it checks is closed: what passes does not
depend on it): requests are held at the
upstream by gates the test opens, and Redis's state and the counters are
polled with a deadline."""

import hashlib
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (BufSock, Client, Reply, Upstream,  # noqa: E402
                    build_request, check, eq, free_port, main, make_config,
                    run_sluice, start_sluice, test, tmpdir, to_yaml,
                    wait_until)

# The helpers of the local store's suite (the Bank, pay(), the expect_*)
# and the rate limits' Redis: imported, their tests left out of this run
# (sltest's @test registers on import).
_ours = len(sltest._tests)
import test_idempotency as ti  # noqa: E402
import test_rate_limit as trl  # noqa: E402
del sltest._tests[_ours:]

from test_idempotency import (BODY, GATE_TIMEOUT, OTHER_BODY,  # noqa: E402
                              Bank, drop, expect_fresh, expect_problem,
                              expect_replay, expect_retry_after,
                              ledger_count, pay, payment)

KiB = 1024
PREFIX = "sluice:"
LEASE_MARGIN_MS = 5000      # exchange_idem.c: the lease past the timeout
SEAL_OVERHEAD = 12 + 16     # AES-256-GCM's nonce and tag
FLIGHT_LEN = 1 + 32 + 8     # "F", the fingerprint, the token

# ---------------------------------------------------------------------------
# Redis, read directly


def rcmd(redis, *args, timeout=5.0):
    """One command (arguments str or bytes) to redis; returns its answer:
    bytes for a bulk string (None when nil), int, str for a status, a
    list for an array; an error answer raises."""
    s = socket.create_connection(("127.0.0.1", redis.port), 2.0)
    try:
        s.settimeout(timeout)
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return _read_resp(BufSock(s))
    finally:
        s.close()


def _read_resp(bs):
    line = bs.read_until(b"\r\n")[:-2]
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise AssertionError("Redis answered an error: %r" % rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else bs.read_exact(n + 2)[:n]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_resp(bs) for _ in range(n)]
    raise AssertionError("not RESP: %r" % line)


# the sealing key of key_file() by default (the one the fleet shares)
SEAL = os.urandom(32)


def redis_name(key, route="pay", kind=4, who=b""):
    """The name of Idempotency-Key `key` (as sent) of route in Redis:
    the prefix, "idem:" and the id in hexadecimal, the id the SHA-256 of
    "sluice-idempotency-1", the route's name, the caller's kind (a digit:
    the route's caller, 3 header, 4 none: "auto" without a token or a
    certificate is none) and text, and the key, each followed by a NUL."""
    h = hashlib.sha256()
    for p in (b"sluice-idempotency-1", route.encode(), b"%d" % kind, who,
              key.encode()):
        h.update(p + b"\0")
    return PREFIX + "idem:" + h.hexdigest()


def rget(redis, name):
    return rcmd(redis, "GET", name)


def idem_names(redis):
    return set(n.decode() for n in rcmd(redis, "KEYS", PREFIX + "idem:*"))


def wait_value(redis, name, pred, what, timeout=5.0):
    """Polls the value of name until pred(value) (value bytes or None);
    returns it."""
    got = [None]

    def ok():
        got[0] = rget(redis, name)
        return pred(got[0])
    check(wait_until(ok, timeout, 0.02), "%s: the value in Redis is %r"
          % (what, (got[0] or b"")[:60] if got[0] is not None else None))
    return got[0]


def is_done(v):
    return v is not None and v[:1] == b"D"


# ---------------------------------------------------------------------------
# Two gateways on one Redis


def key_file(data=None, mode=0o600):
    """A key_file holding data (default: 32 random bytes); its path."""
    path = os.path.join(tmpdir(), "idem.key")
    with open(path, "wb") as f:
        f.write(SEAL if data is None else data)
    os.chmod(path, mode)
    return path


class Fleet:
    """redis-server, the Bank, and gateways a and b in front of them
    (test_idempotency.Gw each)."""

    def __init__(self, idem=None, routes=None, keys=None, workers=2,
                 clusters=None, store_timeout="1s", slow_keep_a=None,
                 h2=False):
        self.store_timeout = store_timeout
        self.redis = trl.Redis()
        self.bank = Bank()
        shared = key_file()
        keys = keys or (shared, shared)
        addrs = [self.redis.addr] * len(keys)
        if slow_keep_a is not None:
            # a's Redis behind a proxy that holds the keepings so long
            self.slow = SlowKeep(self.redis, slow_keep_a)
            addrs[0] = self.slow.addr
        self.gws = [self.gateway(idem, routes, k, workers, clusters, ad, h2)
                    for k, ad in zip(keys, addrs)]
        self.a, self.b = self.gws

    def gateway(self, idem, routes, kf, workers, clusters, addr=None,
                h2=False):
        if routes is None:
            routes = [ti.route(idem=dict({"store": "redis"}, **(idem or {})))]
        # kf: the key_file's path, or the whole top-level idempotency
        top = kf if isinstance(kf, dict) else {"key_file": kf}
        cfg, port, aport, _, _ = ti.gateway_config(
            routes=routes, top=top, workers=workers, bank=self.bank, h2=h2)
        # a timeout a loaded machine's Redis never misses (a killed one
        # fails at once: the connection is refused or lost)
        cfg["rate_limit_store"] = {"address": addr or self.redis.addr,
                                   "timeout": self.store_timeout}
        for name, eps in (clusters or {}).items():
            cfg["clusters"].append({"name": name, "endpoints": eps})
        return ti.Gw(self.bank, start_sluice(cfg), port, aport, None)

    def stop(self):
        for gw in self.gws:
            gw.sl.stop()


class SlowKeep:
    """A TCP proxy in front of redis that holds each keeping script (an
    EVAL or EVALSHA of 7 words: the script, 1, the key, the reservation,
    the value, the ttl; a look-up has 6, a letting go 5) for `delay`
    seconds before it passes it on, and what follows it on its
    connection with it (the order of a connection's commands is kept).
    held counts the keepings it held."""

    def __init__(self, redis, delay):
        self.redis, self.delay = redis, delay
        self.held = 0
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.socks = []
        self.stopped = False
        sltest._register("upstreams", self)
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopped = True
        for s in [self.lsock] + self.socks:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.redis.port))
            self.socks += [c, u]
            threading.Thread(target=self._up, args=(c, u),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(u, c),
                             daemon=True).start()

    def _down(self, u, c):
        try:
            while True:
                b = u.recv(65536)
                if not b:
                    break
                c.sendall(b)
        except OSError:
            pass
        finally:
            c.close()

    def _up(self, c, u):
        bs = BufSock(c)
        try:
            while True:
                line = bs.read_until(b"\r\n")
                out = line
                words = []
                n = int(line[1:-2]) if line[:1] == b"*" else 0
                for _ in range(n):
                    ln = bs.read_until(b"\r\n")
                    w = bs.read_exact(int(ln[1:-2]) + 2)
                    out += ln + w
                    words.append(w[:-2])
                if (len(words) == 7 and
                        words[0].upper() in (b"EVAL", b"EVALSHA")):
                    self.held += 1
                    time.sleep(self.delay)
                u.sendall(out)
        except Exception:   # the connection's end, or the proxy's stop
            pass
        finally:
            u.close()


def at_least(gw, name, want, **labels):
    """Whether counter name of gw reaches want within 5 s (counted when
    an exchange ends)."""
    return wait_until(lambda: gw.count(name, **labels) >= want, 5.0, 0.05)


def redis_route(name="pay", prefix="/", cluster="app", **idem):
    return ti.route(name, prefix, dict({"store": "redis"}, **idem),
                    cluster=cluster)


# ---------------------------------------------------------------------------
# 1. Across the gateways


@test
def a_client_cut_on_one_gateway_gets_the_answer_through_the_other():
    f = Fleet()
    gate = threading.Event()
    path, key = "/pay/drop", "drop-across-1"
    f.bank.plan(path, {"gate": gate})
    name = redis_name(key)
    try:
        c = Client(f.a.port)
        c.send(build_request("POST", path,
                             [("Idempotency-Key", key),
                              ("Content-Type", "application/json")], BODY))
        check(wait_until(lambda: f.bank.ledger(key), 5.0),
              "the request did not reach the upstream")
        eq(rget(f.redis, name)[:1], b"F", "the key in Redis while in flight")
        drop(c, "reset")
    finally:
        gate.set()          # the upstream answers once the client is gone
    check(wait_until(lambda: f.bank.answered >= 1, 5.0),
          "the upstream did not answer")
    # gateway a reads the answer without its client and keeps it
    wait_value(f.redis, name, is_done, "after the cut client's answer")
    r = pay(f.b.port, key, path=path)
    eq(r.status, 201, "the retry through b (%r)" % r.body[:200])
    eq(r.header("idempotent-replayed"), "true",
       "the retry through b is answered from the store (payment %r)"
       % payment(r, "the retry"))
    eq(payment(r, "the retry"), 1, "the retry gets the payment made")
    # and again through a: the same
    expect_replay(pay(f.a.port, key, path=path), r, "the retry through a")
    ledger_count(f.bank, key, 1, "after the cut and the retries")
    f.a.expect_count("sluice_idempotency_stored_total", 1, route="pay")
    f.b.expect_count("sluice_idempotency_requests_total", 1, route="pay",
                     outcome="replayed")
    f.stop()


@test
def of_eight_concurrent_duplicates_on_two_gateways_one_reaches_the_upstream():
    f = Fleet()
    gate = threading.Event()
    path, key = "/pay/rush", "rush-across-1"
    f.bank.plan(path, {"gate": gate})
    n = 8
    ports = [f.a.port, f.b.port] * (n // 2)
    clients = [Client(p, timeout=GATE_TIMEOUT + 5) for p in ports]
    start = threading.Barrier(n)
    out = [None] * n

    def run(i):
        try:
            start.wait(GATE_TIMEOUT)
            out[i] = pay(ports[i], key, path=path, client=clients[i])
        except Exception as e:  # noqa: B902 - reported below
            out[i] = e
    th = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    try:
        for t in th:
            t.start()
        # one is held at the upstream, the other seven are answered
        check(wait_until(lambda: sum(r is not None for r in out) == n - 1,
                         GATE_TIMEOUT, 0.02),
              "answers while one is held: %r" % out)
        ledger_count(f.bank, key, 1, "while held")
    finally:
        gate.set()
    for t in th:
        t.join(2 * GATE_TIMEOUT)
    for i, r in enumerate(out):
        check(isinstance(r, sltest.Response), "client %d: %r" % (i, r))
    fresh = [r for r in out if r.status == 201]
    eq(len(fresh), 1, "answers from the upstream (statuses %r)"
       % [r.status for r in out])
    expect_fresh(fresh[0], "the one that went", 201, 1)
    for i, r in enumerate(out):
        if r is not fresh[0]:
            expect_problem(r, 409, "client %d (gateway %s)"
                           % (i, "ab"[i % 2]))
            expect_retry_after(r, "client %d" % i)
    for c in clients:
        c.close()
    # once it is kept, both gateways (both workers of each) replay it
    wait_value(f.redis, redis_name(key), is_done, "the kept answer")
    for i in range(8):
        expect_replay(pay(ports[i], key, path=path), fresh[0],
                      "retry %d through %s" % (i + 1, "ab"[i % 2]))
    ledger_count(f.bank, key, 1, "in the end")
    def conflicts():
        return sum(gw.count("sluice_idempotency_requests_total", route="pay",
                            outcome="conflict") for gw in f.gws)
    wait_until(lambda: conflicts() == n - 1, 5.0, 0.05)
    eq(conflicts(), n - 1, "conflicts counted on the two gateways")
    f.stop()


@test
def another_request_under_a_kept_key_gets_422_and_no_key_400_across_gateways():
    f = Fleet(idem={"required": True})
    key = "fp-across-1"
    first = pay(f.a.port, key, path="/pay?order=7")
    expect_fresh(first, "first through a", 201, 1)
    wait_value(f.redis, redis_name(key), is_done, "the kept answer")
    for what, kw in (("another body", {"body": OTHER_BODY}),
                     ("another query", {"path": "/pay?order=8"}),
                     ("another method", {"method": "PATCH",
                                         "path": "/pay?order=7"})):
        args = dict({"path": "/pay?order=7"}, **kw)
        expect_problem(pay(f.b.port, key, **args), 422,
                       what + " through b")
    expect_replay(pay(f.b.port, key, path="/pay?order=7"), first,
                  "the same request through b")
    ledger_count(f.bank, key, 1, "after the mismatches")
    for gw, which in ((f.a, "a"), (f.b, "b")):
        expect_problem(pay(gw.port, None), 400, "no key through " + which)
    eq(len(f.bank.ledger()), 1, "requests at the upstream")
    f.b.expect_count("sluice_idempotency_requests_total", 3, route="pay",
                     outcome="mismatch")
    for gw in f.gws:
        gw.expect_count("sluice_idempotency_requests_total", 1, route="pay",
                        outcome="missing")
    f.stop()


@test
def a_released_5xx_is_retried_through_the_other_gateway():
    f = Fleet()
    path, key = "/pay/500", "rel-across-1"
    f.bank.plan(path, 500)
    name = redis_name(key)
    r = pay(f.a.port, key, path=path)
    eq(r.status, 500, "the first answer (%r)" % r.body[:200])
    expect_fresh(r, "the 500", n=1)
    # let go in Redis a moment after the answer (one more round trip)
    wait_value(f.redis, name, lambda v: v is None, "after the 500")
    second = pay(f.b.port, key, path=path)
    expect_fresh(second, "the retry through b", 201, 2)
    # kept a moment after the answer (one more round trip)
    wait_value(f.redis, name, is_done, "the retry's answer kept")
    expect_replay(pay(f.a.port, key, path=path), second,
                  "the retry's retry through a")
    ledger_count(f.bank, key, 2, "the 500 and its retry")
    f.a.expect_count("sluice_idempotency_released_total", 1, route="pay",
                     reason="status")
    f.stop()


@test
def the_caller_scopes_a_key_across_gateways():
    f = Fleet(idem={"caller": "header", "caller_header": "X-Client"})
    key = "order-42"

    def as_(gw, who):
        return pay(gw.port, key, headers=[("X-Client", who)])
    alice = as_(f.a, "alice")
    expect_fresh(alice, "alice through a", 201, 1)
    wait_value(f.redis, redis_name(key, kind=3, who=b"alice"), is_done,
               "alice's kept answer")
    bob = as_(f.b, "bob")
    expect_fresh(bob, "bob through b, under alice's key", 201, 2)
    wait_value(f.redis, redis_name(key, kind=3, who=b"bob"), is_done,
               "bob's kept answer")
    expect_replay(as_(f.b, "alice"), alice, "alice through b")
    expect_replay(as_(f.a, "bob"), bob, "bob through a")
    ledger_count(f.bank, key, 2, "alice's and bob's")
    eq(len(idem_names(f.redis)), 2, "keys in Redis")
    f.stop()


# ---------------------------------------------------------------------------
# 2. Redis gone and back


@test
def with_redis_killed_closed_refuses_open_forwards_and_both_recover():
    routes = [redis_route("closed", "/closed"),
              redis_route("open", "/open", fail="open")]
    f = Fleet(routes=routes)
    before = pay(f.a.port, "kept-before", path="/closed/0")
    expect_fresh(before, "before the kill", 201, 1)
    wait_value(f.redis, redis_name("kept-before", "closed"), is_done,
               "kept before the kill")
    f.redis.kill()
    # fail: closed: 503 problem, nothing sent on, on both gateways
    for gw, which in ((f.a, "a"), (f.b, "b")):
        for i, key in enumerate(("kept-before", "down-%s-1" % which,
                                 "down-%s-2" % which)):
            r = pay(gw.port, key, path="/closed/0" if i == 0 else "/closed")
            what = "closed, Redis down, %s through %s" % (key, which)
            expect_problem(r, 503, what, "idempotency_unavailable")
            expect_retry_after(r, what)
    eq(len(f.bank.ledger()), 1, "requests at the upstream while Redis is "
       "down (fail: closed)")
    for gw in f.gws:
        check(at_least(gw, "sluice_idempotency_store_errors_total", 3,
                       route="closed"), "store errors of the closed route")
        gw.expect_count("sluice_idempotency_requests_total", 3,
                        route="closed", outcome="unavailable")
    # fail: open: sent on unkept, every time
    for gw, which in ((f.a, "a"), (f.b, "b")):
        r = pay(gw.port, "open-1", path="/open")
        expect_fresh(r, "open, Redis down, through " + which, 201)
    ledger_count(f.bank, "open-1", 2, "open, Redis down, twice")
    for gw in f.gws:
        gw.expect_count("sluice_idempotency_requests_total", 1,
                        route="open", outcome="unprotected")
        check(at_least(gw, "sluice_idempotency_store_errors_total", 1,
                       route="open"), "store errors of the open route")
    # back (empty: nothing on disk): each gateway's workers reconnect
    # with a backoff of up to 5 s; keys are kept again
    f.redis.start()
    seq = [0]
    upstream = [len(f.bank.ledger())]

    def kept_again(gw, which):
        # six fresh keys in a row kept (the two workers' connections)
        for _ in range(6):
            seq[0] += 1
            key = "back-%s-%d" % (which, seq[0])
            r = pay(gw.port, key, path="/closed")
            if r.status == 503:
                expect_problem(r, 503, "while reconnecting")
                return False
            upstream[0] += 1
            expect_fresh(r, key, 201, upstream[0])
            wait_value(f.redis, redis_name(key, "closed"), is_done,
                       key + " kept")
        return True
    for gw, which in ((f.a, "a"), (f.b, "b")):
        check(wait_until(lambda: kept_again(gw, which), 20.0, 0.1),
              "keys not kept again through %s after Redis is back" % which)
    eq(len(f.bank.ledger()), upstream[0], "only the 201s reached the "
       "upstream")
    # and replayed across the gateways
    last_a = "back-a-%d" % (seq[0] - 6)
    r = pay(f.b.port, last_a, path="/closed")
    eq(r.header("idempotent-replayed"), "true", "a's key through b, once "
       "back (%r)" % r.body[:200])
    f.stop()


@test
def with_wait_a_retry_through_the_other_gateway_gets_the_first_answer():
    f = Fleet(idem={"wait": "20s"})
    gate = threading.Event()
    path, key = "/pay/wait", "wait-across-1"
    f.bank.plan(path, {"gate": gate})
    try:
        a = ti.send_keyed(f.a.port, key, path)
        check(wait_until(lambda: f.bank.ledger(key), 5.0),
              "the request did not reach the upstream")
        b = ti.send_keyed(f.b.port, key, path)
        check(not b.has_data(0.5), "the retry through b was answered while "
              "the first is in flight")
    finally:
        gate.set()
    first = a.read_response("POST")
    expect_fresh(first, "the first, through a", 201, 1)
    expect_replay(b.read_response("POST"), first,
                  "the retry that waited through b")
    a.close()
    b.close()
    ledger_count(f.bank, key, 1, "in the end")
    f.b.expect_count("sluice_idempotency_requests_total", 1, route="pay",
                     outcome="replayed")
    f.b.expect_count("sluice_idempotency_requests_total", 0, route="pay",
                     outcome="conflict")
    f.stop()


@test
def a_retry_right_after_the_answer_gets_the_replay_through_the_other_gateway():
    # gateway a's Redis takes a kept answer 2 s late (SlowKeep), b's at
    # once: a client that has its whole answer from a and retries at
    # once through b must get the replay, never 409 "in progress" (the
    # answer must not reach the client before the store holds it)
    import h2test
    f = Fleet(slow_keep_a=2.0, store_timeout="10s", h2=h2test.HAVE_H2)
    c = h2test.H2Client(f.a.port) if h2test.HAVE_H2 else None

    def h2pay(key):
        hs = [("idempotency-key", key), ("content-type", "application/json"),
              ("content-length", str(len(BODY)))]
        return ti.H2Response(c.response(c.request("POST", "/pay", hs,
                                                   body=BODY)))
    try:
        # over HTTP/1.1 twice (the first keeping may teach Redis its
        # script), then over HTTP/2, whose stream's end waits as the
        # last bytes do
        for i, how in enumerate(["h1", "h1"] + (["h2"] if c else [])):
            key = "at-once-%d" % i
            first = h2pay(key) if how == "h2" else pay(f.a.port, key)
            expect_fresh(first, "the first through a (%s)" % how, 201,
                         i + 1)
            r = pay(f.b.port, key)
            check(r.status != 409, "the retry through b right after the "
                  "answer got 409 (%r): the answer reached the client "
                  "before the store held it" % r.body[:200])
            expect_replay(r, first, "the retry through b")
            ledger_count(f.bank, key, 1, "after the retry")
        check(f.slow.held >= 2, "the proxy held %d keepings" % f.slow.held)
    finally:
        if c is not None:
            c.close()
        f.stop()


@test
def a_reservation_made_by_a_redis_too_slow_to_answer_is_let_go():
    # Redis asleep past the store's timeout: the look-up gets no answer
    # (503), yet Redis runs the script when it wakes and the key holds
    # the request's reservation; without a letting go, every retry would
    # get 409 for the lease (the route's 30 s timeout and 5 s)
    f = Fleet(workers=1, store_timeout="200ms")
    try:
        expect_fresh(pay(f.a.port, "awake-1"), "Redis awake", 201, 1)
        # a script that spins for 1 s holds every other client (DEBUG
        # SLEEP is off by default in Redis 7)
        spin = ("local t = redis.call('TIME')\n"
                "local t0 = t[1] * 1000000 + t[2]\n"
                "repeat t = redis.call('TIME')\n"
                "until t[1] * 1000000 + t[2] - t0 > 1000000\n"
                "return 1\n")
        sleeper = threading.Thread(
            target=lambda: rcmd(f.redis, "EVAL", spin, "0", timeout=10.0))
        sleeper.start()
        time.sleep(0.2)     # the script is under way
        r = pay(f.a.port, "slow-1")
        expect_problem(r, 503, "while Redis sleeps", "idempotency_unavailable")
        sleeper.join(10.0)
        name = redis_name("slow-1")
        check(wait_until(lambda: rget(f.redis, name) is None, 10.0, 0.05),
              "the reservation made while sluice had given up on Redis "
              "is still there: %r" % (rget(f.redis, name) or b"")[:1])
        expect_fresh(pay(f.a.port, "slow-1"), "the retry", 201, 2)
        ledger_count(f.bank, "slow-1", 1, "the retry only")
    finally:
        f.stop()


@test
def an_answer_made_while_redis_is_down_is_kept_once_it_is_back():
    # the route's timeout (30 s by default) plus 5 s is the lease: the
    # answer is sent again every 250 ms within it
    f = Fleet()
    gate = threading.Event()
    path, key = "/pay/while-down", "while-down-1"
    f.bank.plan(path, {"gate": gate})
    name = redis_name(key)
    out = [None]

    def first():
        out[0] = pay(f.a.port, key, path=path)
    th = threading.Thread(target=first)
    th.start()
    try:
        check(wait_until(lambda: f.bank.ledger(key), 5.0),
              "the request did not reach the upstream")
        eq(rget(f.redis, name)[:1], b"F", "the key in Redis while in flight")
        f.redis.kill()
    finally:
        gate.set()      # the upstream answers while Redis is down
    th.join(GATE_TIMEOUT + 5)
    check(out[0] is not None, "the first request got no answer")
    expect_fresh(out[0], "the first request", 201, 1)
    # the keeping fails (counted), and is tried again
    check(at_least(f.a, "sluice_idempotency_store_errors_total", 1,
                   route="pay"), "the failed keeping is counted")
    f.a.expect_count("sluice_idempotency_stored_total", 0, route="pay")
    f.redis.start()     # empty, and without the scripts (NOSCRIPT)
    wait_value(f.redis, name, is_done, "the answer kept once Redis is back",
               timeout=20.0)
    f.a.expect_count("sluice_idempotency_stored_total", 1, route="pay")
    f.a.expect_count("sluice_idempotency_released_total", 0, route="pay")
    # the retry, through the other gateway, gets it: one payment
    r = pay(f.b.port, key, path=path)
    expect_replay(r, out[0], "the retry through b")
    ledger_count(f.bank, key, 1, "after Redis came back")
    f.stop()


# ---------------------------------------------------------------------------
# 3. What Redis holds, and for how long


@test
def a_kept_key_expires_in_redis_after_its_ttl():
    f = Fleet(idem={"ttl": "1s"})
    key = "ttl-across-1"
    name = redis_name(key)
    first = pay(f.a.port, key)
    t_done = time.monotonic()
    expect_fresh(first, "first", 201, 1)
    wait_value(f.redis, name, is_done, "kept")
    pttl = rcmd(f.redis, "PTTL", name)
    check(0 < pttl <= 1000, "PTTL of the kept key %r, its ttl is 1s" % pttl)
    expect_replay(pay(f.b.port, key), first, "the retry at once, through b")
    wait_value(f.redis, name, lambda v: v is None, "after the ttl", 4.0)
    check(time.monotonic() - t_done >= 0.8, "the key was gone %.2f s after "
          "its answer, its ttl is 1s" % (time.monotonic() - t_done))
    expect_fresh(pay(f.b.port, key), "the retry after the ttl", 201, 2)
    ledger_count(f.bank, key, 2, "after the ttl")
    f.stop()


@test
def an_answer_over_max_response_bytes_is_not_kept_in_redis():
    f = Fleet(idem={"max_response_bytes": "1KiB"})
    path, key = "/pay/big", "big-across-1"
    f.bank.plan(path, {"pad": 4 * KiB}, {"pad": 4 * KiB})
    name = redis_name(key)
    r = pay(f.a.port, key, path=path)
    expect_fresh(r, "4 KiB", 201, 1)
    eq(len(r.body), 4 * KiB, "the whole body forwarded")
    wait_value(f.redis, name, lambda v: v is None, "after the 4 KiB answer")
    f.a.expect_count("sluice_idempotency_released_total", 1, route="pay",
                     reason="too_large")
    r = pay(f.b.port, key, path=path)
    expect_fresh(r, "the retry through b", 201, 2)
    eq(len(r.body), 4 * KiB, "the retry's whole body forwarded")
    ledger_count(f.bank, key, 2, "4 KiB, not kept")
    wait_value(f.redis, name, lambda v: v is None, "after the retry")
    # below the bound: kept
    f.bank.plan("/pay/small", {"pad": 1000})
    small = pay(f.a.port, "small-across-1", path="/pay/small")
    expect_fresh(small, "1000 bytes", 201, 3)
    wait_value(f.redis, redis_name("small-across-1"), is_done, "1000 bytes")
    expect_replay(pay(f.b.port, "small-across-1", path="/pay/small"), small,
                  "1000 bytes through b")
    eq(idem_names(f.redis), {redis_name("small-across-1")}, "keys in Redis")
    f.stop()


@test
def the_in_flight_value_lives_as_long_as_the_lease():
    f = Fleet(routes=[ti.route(idem={"store": "redis"}, timeout="2s")])
    lease_ms = 2000 + LEASE_MARGIN_MS
    gate = threading.Event()
    path, key = "/pay/held", "lease-1"
    f.bank.plan(path, {"gate": gate})
    name = redis_name(key)
    try:
        c = Client(f.a.port, timeout=GATE_TIMEOUT)
        c.send(build_request("POST", path,
                             [("Idempotency-Key", key),
                              ("Content-Type", "application/json")], BODY))
        check(wait_until(lambda: f.bank.ledger(key), 5.0),
              "the request did not reach the upstream")
        v = rget(f.redis, name)
        check(v is not None and v[:1] == b"F" and len(v) == FLIGHT_LEN,
              "the in-flight value: %r" % v)
        pttl = rcmd(f.redis, "PTTL", name)
        check(lease_ms - 3000 < pttl <= lease_ms,
              "PTTL of the in-flight key %d ms, the lease is %d ms"
              % (pttl, lease_ms))
        r = pay(f.b.port, key, path=path)
        expect_problem(r, 409, "through b while in flight")
        expect_retry_after(r, "through b while in flight")
    finally:
        gate.set()
    first = c.read_response("POST")
    c.close()
    expect_fresh(first, "the held one", 201, 1)
    wait_value(f.redis, name, is_done, "kept")
    pttl = rcmd(f.redis, "PTTL", name)
    check(pttl > lease_ms, "PTTL of the kept key %d ms: the default ttl "
          "(24h) expected" % pttl)
    f.stop()


CONST_BODY = (b'{"receipt":"R-0007","note":"MARKER-c0ffee-at-rest",'
              b'"amount":"100.00"}')


@test
def what_redis_holds_is_sealed():
    const = Upstream("const", lambda req: Reply(
        201, CONST_BODY, [("Content-Type", "application/json"),
                          ("X-Receipt", "MARKER-c0ffee-at-rest")]))
    f = Fleet(routes=[redis_route("const", "/const", "const"),
                      redis_route("pay", "/")],
              clusters={"const": [const.addr]})
    marker = b"MARKER-5b1e-in-the-receipt"
    path = "/pay/" + marker.decode()
    first = pay(f.a.port, "sealed-1", path=path)
    expect_fresh(first, "first", 201, 1)
    check(marker in first.body, "the receipt names its path: %r"
          % first.body)
    v = wait_value(f.redis, redis_name("sealed-1"), is_done, "kept")
    check(len(v) >= 1 + 4 + 32 + len(first.body) + SEAL_OVERHEAD,
          "the value (%d bytes) is shorter than the answer's body (%d)"
          % (len(v), len(first.body)))
    for what, text in (("the receipt's marker", marker),
                       ("the receipt's JSON", b'"payment"'),
                       ("the answer's fields", b"X-Payment-Id"),
                       ("the answer's Location", b"/payments/1"),
                       ("the kept answer's magic", b"SLI1"),
                       ("the request's body", BODY),
                       ("the request's IBAN", b"DE89370400440532013000"),
                       ("the request's amount", b"100.00")):
        check(text not in v, "%s in Redis: %r" % (what, v[:120]))
    # the same answer under two keys: two values (a nonce of its own)
    vals = []
    for key in ("sealed-c1", "sealed-c2"):
        r = pay(f.a.port, key, path="/const")
        eq((r.status, r.body), (201, CONST_BODY), key)
        v = wait_value(f.redis, redis_name(key, "const"), is_done, key)
        check(b"MARKER-c0ffee" not in v and b"R-0007" not in v,
              "%s: the answer's text in Redis: %r" % (key, v[:120]))
        vals.append(v[1 + 4 + 32:])
        expect_replay(pay(f.b.port, key, path="/const"), r, key +
                      " through b")
    eq(len(vals[0]), len(vals[1]), "two seals of the same answer")
    check(vals[0][:12] != vals[1][:12], "the same nonce for two keys")
    check(vals[0][12:-16] != vals[1][12:-16],
          "the same ciphertext for the same answer under two keys")
    f.stop()


@test
def a_gateway_with_another_key_file_cannot_open_the_answer_and_refuses():
    """The answer a kept under its key does not open under b's: b does
    not send the retry on (its kept answer says it was made) and
    answers 503 whatever its fail says (a kept answer means the payment
    was made), not counted as a store error (Redis answered), said in
    its log: the value names the key it was sealed under."""
    f = Fleet(keys=(key_file(), key_file(os.urandom(32).hex().encode() +
                                         b"\n")))
    key = "other-key-1"
    first = pay(f.a.port, key)
    expect_fresh(first, "first through a", 201, 1)
    wait_value(f.redis, redis_name(key), is_done, "kept by a")
    for i in range(2):
        r = pay(f.b.port, key)
        expect_problem(r, 503, "the retry %d through b" % (i + 1))
        expect_retry_after(r, "the retry through b")
    ledger_count(f.bank, key, 1, "after the retries through b")
    f.b.expect_count("sluice_idempotency_requests_total", 2, route="pay",
                     outcome="unavailable")
    eq(f.b.count("sluice_idempotency_store_errors_total", route="pay"), 0,
       "b's store errors")
    check(wait_until(lambda: len(re.findall(
        r"the kept answer is sealed under another key_file",
        f.b.sl.stderr())) >= 2, 5.0),
        "b does not say why: %s" % f.b.sl.stderr()[-2000:])
    # a still opens it; b's own keys are b's
    expect_replay(pay(f.a.port, key), first, "the retry through a")
    mine = pay(f.b.port, "b-own-1")
    expect_fresh(mine, "b's own key", 201, 2)
    wait_value(f.redis, redis_name("b-own-1"), is_done, "kept by b")
    expect_replay(pay(f.b.port, "b-own-1"), mine, "b's own retry")
    f.stop()


# ---------------------------------------------------------------------------
# 4. sluice -t


def script_calls(redis):
    """{"eval": calls, "evalsha": calls} from INFO commandstats."""
    out = {"eval": 0, "evalsha": 0}
    for line in rcmd(redis, "INFO", "commandstats").decode().splitlines():
        m = re.match(r"cmdstat_(evalsha|eval):calls=(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


@test
def scripts_go_by_their_sha1_and_are_taught_again_after_a_script_flush():
    f = Fleet()
    try:
        first = pay(f.a.port, "sha-1")
        expect_fresh(first, "the first key", 201)
        check(wait_value(f.redis, redis_name("sha-1"), is_done,
                         "the first answer kept") is not None, "kept")
        before = script_calls(f.redis)
        for i in range(4):
            expect_fresh(pay(f.a.port, "sha-more-%d" % i), "key %d" % i, 201)
        check(at_least(f.a, "sluice_idempotency_stored_total", 5,
                       route="pay"), "five answers kept")
        after = script_calls(f.redis)
        # the scripts are known now: every look-up and keeping goes by
        # name, none sends the text again
        eq(after["eval"], before["eval"],
           "EVAL calls while Redis knows the scripts (%r, %r)"
           % (before, after))
        check(after["evalsha"] - before["evalsha"] >= 8,
              "4 look-ups and 4 keepings by EVALSHA: %r, %r"
              % (before, after))
        # Redis forgets them (a restart, a SCRIPT FLUSH): the next
        # commands get NOSCRIPT and are sent whole once, not failed
        eq(rcmd(f.redis, "SCRIPT", "FLUSH"), "OK", "SCRIPT FLUSH")
        expect_replay(pay(f.a.port, "sha-1"), first,
                      "the replay after SCRIPT FLUSH")
        expect_fresh(pay(f.a.port, "sha-after"), "a new key after it", 201)
        check(at_least(f.a, "sluice_idempotency_stored_total", 6,
                       route="pay"), "the new key's answer kept")
        again = script_calls(f.redis)
        check(again["eval"] > after["eval"],
              "the scripts sent whole after NOSCRIPT: %r, %r"
              % (after, again))
        for gw in f.gws:
            gw.expect_count("sluice_idempotency_store_errors_total", 0,
                            route="pay")
        ledger_count(f.bank, "sha-1", 1, "the first key")
    finally:
        f.stop()


@test
def previous_key_files_open_the_old_answers_while_the_key_changes():
    old, new = key_file(), key_file(os.urandom(32))
    # a: the old key alone; b: the new key, the old one as previous
    f = Fleet(keys=(old, {"key_file": new, "previous_key_files": [old]}))
    try:
        sealed_old = pay(f.a.port, "rot-1")
        expect_fresh(sealed_old, "rot-1 through a (old key)", 201, 1)
        wait_value(f.redis, redis_name("rot-1"), is_done, "rot-1 kept")
        # b opens what a sealed under the old key, and compares the
        # fingerprint under it: the same body replays, another is 422
        expect_replay(pay(f.b.port, "rot-1"), sealed_old,
                      "rot-1 through b (the old key as previous)")
        expect_problem(pay(f.b.port, "rot-1", body=OTHER_BODY), 422,
                       "rot-1 with another body through b",
                       "idempotency_mismatch")
        # b seals under the new key: a, without it, cannot open it
        sealed_new = pay(f.b.port, "rot-2")
        expect_fresh(sealed_new, "rot-2 through b (new key)", 201, 2)
        v = wait_value(f.redis, redis_name("rot-2"), is_done, "rot-2 kept")
        check(v[1:5] != rget(f.redis, redis_name("rot-1"))[1:5],
              "rot-2 is named by another key than rot-1")
        expect_replay(pay(f.b.port, "rot-2"), sealed_new, "rot-2 through b")
        expect_problem(pay(f.a.port, "rot-2"), 503,
                       "rot-2 through a (without the new key)",
                       "idempotency_unavailable")
        eq(len(f.bank.ledger()), 2, "payments at the upstream")
        check(wait_until(lambda: "neither key_file nor previous_key_files"
                         in f.a.sl.stderr(), 5.0),
              "a says why it cannot open rot-2")
    finally:
        f.stop()
    # -t: previous_key_files needs key_file; each file must hold a key
    rc, err = check_conf(True, top={"previous_key_files": [old]})
    check(rc != 0 and "previous_key_files" in err and "needs" in err,
          "-t on previous_key_files without key_file: %r" % err)
    rc, err = check_conf(True, top={"key_file": new, "previous_key_files":
                                    [os.path.join(tmpdir(), "none")]})
    check(rc != 0 and "previous_key_files" in err and "cannot read" in err,
          "-t on a previous key file that is not there: %r" % err)
    rc, err = check_conf(True, top={"key_file": new, "previous_key_files":
                                    [key_file(b"short")]})
    check(rc != 0 and "previous_key_files" in err and "holds no key" in err,
          "-t on a previous key file without a key: %r" % err)
    eq(check_conf(True, top={"key_file": new,
                             "previous_key_files": [old, key_file()]}),
       (0, ""), "-t on two previous key files")


def check_conf(store=True, kf=None, top=None):
    """sluice -t on a route with store: redis, with rate_limit_store
    (store) and idempotency.key_file kf (a path, or None), or the whole
    top-level idempotency top; returns (rc, stderr)."""
    cfg, _ = make_config({"c": ["127.0.0.1:9"]}, routes=[
        {"name": "r", "cluster": "c", "idempotency": {"store": "redis"}}])
    cfg["listeners"][0].pop("tls", None)
    if store:
        cfg["rate_limit_store"] = {"address": "127.0.0.1:%d" % free_port(),
                                   "timeout": "200ms"}
    if kf is not None:
        cfg["idempotency"] = {"key_file": kf}
    if top is not None:
        cfg["idempotency"] = top
    path = os.path.join(tmpdir(), "c.yaml")
    with open(path, "w") as f:
        f.write(to_yaml(cfg) + "\n")
    rc, _, err = run_sluice(["-t", "-c", path])
    return rc, err


@test
def t_refuses_store_redis_without_its_store_or_key():
    good = key_file()
    for what, store, kf, names in (
            ("no rate_limit_store", False, good, ["rate_limit_store"]),
            ("no key_file", True, None, ["key_file"]),
            ("neither", False, None, ["rate_limit_store", "key_file"]),
            ("a key file of 10 bytes", True, key_file(b"0123456789"),
             ["key_file", "holds no key"]),
            ("63 hexadecimal digits", True, key_file(b"a" * 63 + b"\n"),
             ["key_file", "holds no key"]),
            ("64 digits, one not hexadecimal", True,
             key_file(b"g" + b"a" * 63), ["key_file", "holds no key"]),
            ("a key file that is not there", True,
             os.path.join(tmpdir(), "none"), ["key_file"])):
        rc, err = check_conf(store, kf)
        check(rc != 0, "-t accepted %s" % what)
        for n in names:
            check(re.search(r"\berror\b", err) and n in err,
                  "-t on %s: want an error naming %s, got %r"
                  % (what, n, err))
    for what, kf in (("32 bytes", good),
                     ("64 hexadecimal digits", key_file(
                         os.urandom(32).hex().upper().encode())),
                     ("64 hexadecimal digits and a line end", key_file(
                         os.urandom(32).hex().encode() + b"\n"))):
        eq(check_conf(True, kf), (0, ""), "-t on a key file of " + what)
    rc, err = check_conf(True, key_file(mode=0o644))
    eq(rc, 0, "-t on a key file readable by others")
    check("key_file" in err and "warning" in err,
          "-t on a key file readable by others: want a warning, got %r"
          % err)


if __name__ == "__main__":
    main()
