# SPDX-License-Identifier: MIT
"""Key sets fetched from a URL (doc/auth.md, "Key sets from a URL"),
through the real binary: a JSON Web Key set server written here (an
Upstream whose answers the test changes: rotated keys, an outage, a 500,
a body that is no key set) and tokens signed by python3-jwt.

What is proved: the first token waits for the first fetch; a rotation
refuses no valid token; a flood of made-up kids costs the key server at
most one fetch per refetch_interval; the last good set survives an
outage; no set yet is a 503 and never a 401; a reload with the source
unchanged keeps the set without fetching. Counts of fetches are read from
the key server itself. No time is asserted beyond bounded waits."""

import hashlib
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Reply, Upstream, check, eq, free_port, get,  # noqa: E402
                    main, make_config, metric_sum, metrics, run_sluice,
                    sighup_reload, start_sluice, test, tmpdir, to_yaml,
                    wait_until)
from jwtkeys import AUD, ISS, Keys, bearer, claims, need_jwt  # noqa: E402


class KeyServer:
    """A key set server: answers GETs with the set it holds now, or with
    what the test says (a status, a body that is no set, a max-age)."""

    def __init__(self, jwks, max_age=None, port=0, chunked=False):
        self.lock = threading.Lock()
        self.jwks = jwks
        self.max_age = max_age
        self.no_cache = False
        self.status = 200
        self.body = None
        self.chunked = chunked
        self.up = Upstream(name="jwks", handler=self.handle, port=port)
        self.port = self.up.port

    def handle(self, req):
        with self.lock:
            if self.status != 200:
                return Reply(self.status, b"oops",
                             [("Content-Type", "text/plain")])
            body = self.body if self.body is not None else \
                json.dumps(self.jwks).encode()
            h = [("Content-Type", "application/jwk-set+json")]
            if self.max_age is not None:
                h.append(("Cache-Control", "public, max-age=%d" %
                          self.max_age))
            elif self.no_cache:
                h.append(("Cache-Control", "no-cache"))
            return Reply(200, body, h,
                         mode="chunked" if self.chunked else "cl",
                         chunk_size=97)

    def set(self, jwks=None, status=200, body=None):
        with self.lock:
            if jwks is not None:
                self.jwks = jwks
            self.status = status
            self.body = body

    def fetches(self):
        return len(self.up.requests)

    def stop(self):
        self.up.stop()


def jwks_config(up, ks_port, keys_opts=None, workers=1, path="/jwks.json",
                routes_extra=()):
    aport = free_port()
    keys = {"url": "http://idp.example.test%s" % path, "cluster": "idp"}
    keys.update(keys_opts or {})
    routes = [{"name": "pay", "match": {"path_prefix": "/pay"},
               "cluster": "c",
               "auth": {"jwt": {"keys": keys, "issuer": ISS,
                                "audience": AUD,
                                "claims_to_headers": {"sub": "X-User-Id"}}}}]
    routes.extend(routes_extra)
    routes.append({"name": "open", "cluster": "c"})
    cfg, port = make_config(
        {"c": [up], "idp": ["127.0.0.1:%d" % ks_port]}, routes=routes,
        workers=workers,
        extra={"admin": {"address": "127.0.0.1:%d" % aport}},
        listener_opts={"protocols": ["h2", "http/1.1"]})
    return cfg, port, aport


def setup(keys_opts=None, workers=1, kids=("ec1", "rsa1"), max_age=None,
          chunked=False):
    need_jwt()
    k = Keys()
    ks = KeyServer(k.jwks(kids=kids), max_age=max_age, chunked=chunked)
    up = Upstream()
    cfg, port, aport = jwks_config(up, ks.port, keys_opts, workers)
    sl = start_sluice(cfg)
    return k, ks, up, sl, port, aport


def reload_with(sl, port, aport, up, ks_port, **kw):
    """Rewrites sl's file as jwks_config(**kw) makes it, on the same
    listener and admin ports, and reloads it."""
    cfg, _, _ = jwks_config(up, ks_port, **kw)
    cfg["listeners"][0]["address"] = "127.0.0.1:%d" % port
    cfg["admin"]["address"] = "127.0.0.1:%d" % aport
    with open(sl.conf_path, "w") as f:
        f.write(to_yaml(cfg))
    eq(sighup_reload(sl, aport)[0], "ok", "reloaded")


def keys_in_use(aport):
    return metric_sum(metrics(aport), "sluice_jwks_keys")


def fetched(aport, **labels):
    return metric_sum(metrics(aport), "sluice_jwks_fetches_total", **labels)


# ---------------------------------------------------------------------------


@test
def the_first_token_waits_for_the_first_fetch():
    """A request that comes before any set was fetched waits for the
    fetch (it does not get a 401 for a token that may be good); the GET
    carries the URL's host and path; a chunked answer is taken."""
    k, ks, up, sl, port, aport = setup(chunked=True)
    r = get(port, "/pay/1", headers=bearer(k.sign("ES256", claims())))
    eq(r.status, 200, "the first request, checked with the fetched set")
    eq(up.requests[-1].header("X-User-Id"), "user-42", "its claim")
    check(ks.fetches() >= 1, "the set was fetched")
    req = ks.up.requests[0]
    eq((req.method, req.target), ("GET", "/jwks.json"), "the URL's path")
    eq(req.header("Host"), "idp.example.test", "the URL's host")
    eq(keys_in_use(aport), 2, "two keys in use")
    eq(fetched(aport, result="ok"), ks.fetches(), "each fetch counted ok")
    check(wait_until(lambda: metric_sum(
        metrics(aport), "sluice_jwks_last_success_seconds") > 0),
        "the time of the last good fetch")
    # an HTTP/2 request is checked with the same set
    import h2test
    if h2test.HAVE_H2:
        c = h2test.H2Client(port)
        r = c.get("/pay/2", headers=[
            ("authorization", "Bearer " + k.sign("RS256", claims()))])
        eq(r.status, 200, "an HTTP/2 request")
        c.close()
    sl.stop()
    check("keys url=http://idp.example.test/jwks.json cluster=idp: 2 keys"
          in sl.stderr(), "the fetch is logged")


@test
def a_key_rotation_refuses_no_valid_token():
    """The key server starts signing with a key the set fetched before
    lacks: the first token with its kid makes one refetch and passes, on
    either worker, and so does every one after it, with no other fetch.
    When the old key leaves the set, its tokens are refused after the
    next fetch."""
    k, ks, up, sl, port, aport = setup(
        {"refresh": "2s", "refetch_interval": "1s"}, workers=2,
        kids=("ec1",))
    eq(get(port, "/pay", headers=bearer(k.sign("ES256", claims()))).status,
       200, "the first key's token")
    n0 = ks.fetches()
    # the rotation: a new key signs, and the set holds both
    new = Keys()
    both = k.jwks(kids=("ec1",))
    nk = new.jwks(kids=("ec2",))["keys"][0]
    both["keys"].append(nk)
    ks.set(jwks=both)
    fresh = new.sign("ES256", claims(), kid="ec2")
    statuses = []
    for i in range(40):
        statuses.append(get(port, "/pay/%d" % i,
                            headers=bearer(fresh)).status)
    eq(statuses, [200] * 40, "every token of the new key passes")
    # one refetch for the new kid (none when a refresh came first: the
    # refresh interval is short here, and the machine may be slow)
    check(fetched(aport, reason="unknown_kid") <= 1,
          "at most one refetch for the new kid")
    check(ks.fetches() > n0, "the new set was fetched")
    # the old key leaves: after the next fetch its tokens are refused
    ks.set(jwks=new.jwks(kids=("ec2",)))
    old = k.sign("ES256", claims())
    check(wait_until(lambda: get(port, "/pay", headers=bearer(old)).status
                     == 401, timeout=10),
          "the removed key's token is refused after a refresh")
    eq(get(port, "/pay", headers=bearer(fresh)).status, 200,
       "the new key's token still passes")
    sl.stop()


@test
def a_flood_of_made_up_kids_costs_at_most_one_fetch_per_interval():
    """Tokens with random kids, on two workers: each is a 401 jwt_no_key,
    and the key server sees at most one fetch in the refetch interval
    (30s by default: the whole test). The same unknown kid again is
    refused from the negative cache."""
    k, ks, up, sl, port, aport = setup(workers=2)
    eq(get(port, "/pay", headers=bearer(k.sign("ES256", claims()))).status,
       200, "a good token first: the set is in")
    n0 = ks.fetches()
    nup = len(up.requests)
    rnd = random.Random(7)
    statuses = []
    conns = [sltest.Client(port) for _ in range(4)]
    for i in range(200):
        kid = "%016x" % rnd.getrandbits(64)
        tok = k.sign("ES256", claims(), kid=kid)
        c = conns[i % 4]
        c.send(("GET /pay/%d HTTP/1.1\r\nHost: t\r\nAuthorization: "
                "Bearer %s\r\n\r\n" % (i, tok)).encode())
        statuses.append(c.read_response().status)
    for c in conns:
        c.close()
    eq(set(statuses), {401}, "every made-up kid is refused")
    check(ks.fetches() - n0 <= 1,
          "at most one fetch for 200 made-up kids: %d" % (ks.fetches() - n0))
    eq(len(up.requests), nup, "none reached the upstream")
    m = metrics(aport)
    check(metric_sum(m, "sluice_jwks_unknown_kid_total", action="limited")
          >= 198, "the rest limited")
    eq(metric_sum(m, "sluice_auth_decisions_total", result="no_key"), 200,
       "each one a no_key decision")
    # a kid the refetch did not bring is known unknown for a
    # refetch_interval (30s, the whole test): no wait, no fetch
    tok = k.sign("ES256", claims(), kid="gone")
    for _ in range(3):
        eq(get(port, "/pay", headers=bearer(tok)).status, 401, "refused")
    eq(get(port, "/pay", headers=bearer(k.sign("ES256", claims()))).status,
       200, "good tokens pass meanwhile")
    check(ks.fetches() - n0 <= 1, "still at most one fetch")
    sl.stop()


@test
def a_kid_sent_before_its_key_is_published_passes_after_refetch_interval():
    """A token whose kid comes before the provider publishes the key
    (anyone may send one first: date-shaped kids are easy to guess) makes
    a refetch that lacks it, and is refused. Once the key is published, a
    valid token with that kid passes after refetch_interval (1s), long
    before refresh (an hour): the kid is remembered as unknown for one
    interval, no longer (it was refused until the next refresh). Made-up
    kids sent afterwards, the same ones again once their entries lapse, on
    two workers, still cost the key server at most one fetch an interval,
    counted at the key server."""
    k, ks, up, sl, port, aport = setup(
        {"refresh": "1h", "refetch_interval": "1s"}, workers=2,
        kids=("ec1",))
    eq(get(port, "/pay", headers=bearer(k.sign("ES256", claims()))).status,
       200, "a good token first: the set is in")
    new = Keys()
    early = new.sign("ES256", claims(), kid="2026-12")
    t_first = time.monotonic()
    eq(get(port, "/pay", headers=bearer(early)).status, 401,
       "the kid before its key is published")
    check(wait_until(lambda: fetched(aport, reason="unknown_kid") >= 1),
          "it made a refetch, which lacked the key")
    n_first = ks.fetches()
    eq(get(port, "/pay", headers=bearer(early)).status, 401,
       "refused within the interval")
    # unasked: when less than the interval has passed since the first
    # request began (its refetch came after that), the second asks for
    # no fetch; a slower machine only leaves that part unchecked
    if time.monotonic() - t_first < 0.9:
        eq(ks.fetches(), n_first, "no fetch within the interval")
    # the provider publishes the key next to the old one
    both = k.jwks(kids=("ec1",))
    nk = new.jwks(kids=("ec2",))["keys"][0]
    nk["kid"] = "2026-12"
    both["keys"].append(nk)
    ks.set(jwks=both)
    n0 = ks.fetches()
    t0 = time.monotonic()
    # nothing else asks for the set meanwhile: the kid's own refetch
    # must bring it
    check(wait_until(lambda: get(port, "/pay", headers=bearer(early))
                     .status == 200, timeout=20, interval=0.05),
          "the published key's token passes after refetch_interval, "
          "not after refresh")
    for _ in range(3):
        eq(get(port, "/pay", headers=bearer(early)).status, 200,
           "and from then on")
    # made-up kids, the same twenty again and again for three intervals
    # (their entries lapse and they may ask again): still at most one
    # fetch an interval for the whole process
    rnd = random.Random(11)
    made_up = ["%016x" % rnd.getrandbits(64) for _ in range(20)]
    conns = [sltest.Client(port) for _ in range(4)]
    t1 = time.monotonic()
    sent = 0
    while time.monotonic() - t1 < 3.5 or sent < 100:
        for i, kid in enumerate(made_up):
            c = conns[i % 4]
            c.send(("GET /pay HTTP/1.1\r\nHost: t\r\nAuthorization: "
                    "Bearer %s\r\n\r\n" % k.sign("ES256", claims(),
                                                   kid=kid)).encode())
            eq(c.read_response().status, 401, "a made-up kid")
            sent += 1
    elapsed = time.monotonic() - t0
    for c in conns:
        c.close()
    n = ks.fetches() - n0
    check(n >= 2, "the published key was fetched, and a made-up kid "
          "asked again after an interval: %d" % n)
    check(n <= elapsed / 1.0 + 1,
          "at most one fetch a refetch_interval for %d made-up kids: %d "
          "fetches in %.1fs" % (sent, n, elapsed))
    eq(get(port, "/pay", headers=bearer(early)).status, 200,
       "the new key's token passes still")
    eq(fetched(aport, reason="refresh"), 0, "no refresh came meanwhile")
    sl.stop()


@test
def the_answers_max_age_shortens_the_refresh():
    """A key set answered with Cache-Control: max-age=1 is fetched again
    after a second (not after refresh's hour, never before
    refetch_interval): a key the provider drops is refused soon after.
    no-cache means refetch_interval."""
    k, ks, up, sl, port, aport = setup(
        {"refresh": "1h", "refetch_interval": "1s"}, kids=("ec1", "rsa1"),
        max_age=1)
    tok = k.sign("ES256", claims())
    eq(get(port, "/pay", headers=bearer(tok)).status, 200, "ec1 passes")
    n0 = ks.fetches()
    ks.set(jwks=k.jwks(kids=("rsa1",)))
    check(wait_until(lambda: get(port, "/pay", headers=bearer(tok)).status
                     == 401, timeout=10),
          "ec1 refused after the max-age: fetched again")
    check(ks.fetches() > n0, "fetched again")
    eq(get(port, "/pay", headers=bearer(k.sign("RS256", claims())))
       .status, 200, "rsa1 still passes")
    # no-cache: every refetch_interval
    ks.max_age = None
    ks.body = None
    n1 = ks.fetches()
    with ks.lock:
        ks.no_cache = True
    check(wait_until(lambda: ks.fetches() >= n1 + 2, timeout=10),
          "no-cache: fetched at each refetch_interval")
    sl.stop()


@test
def the_last_good_set_survives_an_outage_a_500_and_a_bad_body():
    k, ks, up, sl, port, aport = setup(
        {"refresh": "1s", "refetch_interval": "1s"})
    tok = k.sign("ES256", claims())
    eq(get(port, "/pay", headers=bearer(tok)).status, 200, "fetched")
    ks.set(status=500)
    check(wait_until(lambda: fetched(aport, result="failed") >= 1,
                     timeout=10), "a 500 is a failed fetch")
    eq(get(port, "/pay", headers=bearer(tok)).status, 200,
       "the last good set serves")
    ks.set(body=b'{"keys": [{"kty": "EC"}]}')
    check(wait_until(lambda: fetched(aport, result="invalid") >= 1,
                     timeout=10), "a body that is no set is invalid")
    eq(get(port, "/pay", headers=bearer(tok)).status, 200, "still served")
    eq(keys_in_use(aport), 2, "the last good set's keys")
    ks.stop()
    f0 = fetched(aport, result="failed")
    check(wait_until(lambda: fetched(aport, result="failed") > f0,
                     timeout=10), "the outage is a failed fetch")
    for _ in range(5):
        eq(get(port, "/pay", headers=bearer(tok)).status, 200,
           "served through the outage")
    sl.stop()
    log = sl.stderr()
    check("fetch failed (refresh): status 500; the last good set stays"
          in log, "the 500 logged")
    check("not a key set" in log, "the bad body logged")


@test
def no_key_set_yet_is_503_and_the_set_comes_when_the_server_does():
    need_jwt()
    k = Keys()
    up = Upstream()
    ks_port = free_port()
    cfg, port, aport = jwks_config(up, ks_port, {"timeout": "1s"})
    sl = start_sluice(cfg)
    tok = k.sign("ES256", claims())
    r = get(port, "/pay", headers=bearer(tok))
    eq(r.status, 503, "no set: 503, not 401")
    eq(r.header("Retry-After"), "1", "Retry-After")
    eq(r.header("WWW-Authenticate"), None, "no challenge: not the token's "
       "fault")
    eq(len(up.requests), 0, "nothing went up")
    eq(metric_sum(metrics(aport), "sluice_auth_decisions_total",
                  result="keys_unavailable"), 1, "counted")
    ks = KeyServer(k.jwks(), port=ks_port)
    check(wait_until(lambda: get(port, "/pay", headers=bearer(tok)).status
                     == 200, timeout=10),
          "the set is fetched once the server is up")
    sl.stop()
    check("503 auth_keys_unavailable" in sl.stderr(), "logged")
    ks.stop()


@test
def a_reload_keeps_the_set_when_its_source_is_unchanged():
    """A reload with the URL and cluster unchanged keeps the set and
    fetches nothing, and says so: each load logs the set each source has
    (its keys and fingerprint, the SHA-256 of the body it came in, which
    /config shows), or that it has none yet."""
    k, ks, up, sl, port, aport = setup()
    url = "url=http://idp.example.test/jwks.json cluster=idp"
    tok = k.sign("ES256", claims())
    eq(get(port, "/pay", headers=bearer(tok)).status, 200, "fetched")
    sha = hashlib.sha256(json.dumps(ks.jwks).encode()).hexdigest()
    n0 = ks.fetches()
    ks.stop()
    check(wait_until(lambda: "start: keys %s: no set yet" % url
                     in sl.stderr() or "start: keys %s: 2 keys" % url
                     in sl.stderr()), "the first load logs the source")
    check(wait_until(lambda: "keys %s: 2 keys (start) (sha256 %s)" %
                     (url, sha) in sl.stderr()),
          "the fetch logs the set's fingerprint: %r" % sl.stderr()[-600:])
    # the same source, another route added: the set is kept
    reload_with(sl, port, aport, up, ks.port, routes_extra=[
        {"name": "more", "match": {"path_prefix": "/more"},
         "cluster": "c"}])
    eq(get(port, "/pay", headers=bearer(tok)).status, 200,
       "the kept set checks the token, the key server down")
    eq(ks.fetches(), n0, "nothing fetched")
    line = "reload: keys %s: 2 keys, 0 skipped, in use (sha256 %s)" % (
        url, sha)
    check(wait_until(lambda: line in sl.stderr()),
          "the reload says the set it keeps: %r" % sl.stderr()[-600:])
    jwt = get(aport, "/config").json()["listeners"][0]["routes"][0][
        "auth"]["jwt"]
    eq(jwt["keys_sha256"], sha, "/config shows the same fingerprint")
    # another URL is another source: no set, the server down: 503
    reload_with(sl, port, aport, up, ks.port, path="/other.json",
                keys_opts={"timeout": "1s"})
    check(wait_until(lambda: "reload: keys url=http://idp.example.test/"
                     "other.json cluster=idp: no set yet, being fetched"
                     in sl.stderr()), "the reload says it has no set")
    eq(get(port, "/pay", headers=bearer(tok)).status, 503,
       "a new source has no set yet")
    eq(get(aport, "/config").json()["listeners"][0]["routes"][0]["auth"][
        "jwt"]["keys_sha256"], "", "/config: no fingerprint")
    sl.stop()


@test
def keys_url_mistakes_are_refused_by_dash_t():
    d = tmpdir()
    base = {"workers": 1, "log": {"access": "off"},
            "listeners": [{"name": "l", "address": "127.0.0.1:%d" %
                           free_port(), "routes": []}],
            "clusters": [{"name": "c", "endpoints": ["127.0.0.1:9"]},
                         {"name": "h2", "endpoints": ["127.0.0.1:9"],
                          "protocol": "h2c"}]}
    cases = [
        ({"url": "http://i/k"}, 'needs "url" and "cluster"'),
        ({"url": "ftp://i/k", "cluster": "c"}, "is not an http:// or"),
        ({"url": "http://i", "cluster": "c"}, "is not an http:// or"),
        ({"url": "http://u:S3CRET@i/k", "cluster": "c"},
         "credentials in a URL (user:password@) are refused, and not shown"),
        ({"url": "http://u:S3/CRET@i/k", "cluster": "c"},
         "credentials in a URL (user:password@) are refused, and not shown"),
        ({"url": "http://u:S3?CRET@i/k", "cluster": "c"},
         "credentials in a URL (user:password@) are refused, and not shown"),
        ({"url": "https://i/k", "cluster": "c"}, "over TLS (tls:)"),
        ({"url": "http://i/k", "cluster": "h2"}, "must speak HTTP/1.1"),
        ({"url": "http://i/k", "cluster": "nope"}, "nope"),
        ({"url": "http://i/k", "cluster": "c", "refresh": "1s",
          "refetch_interval": "5s"}, "is longer than"),
        ({"url": "http://i/k", "cluster": "c", "other": 1}, "other"),
    ]
    for keys, want in cases:
        cfg = json.loads(json.dumps(base))
        cfg["listeners"][0]["routes"] = [
            {"name": "r", "cluster": "c", "auth": {"jwt": {"keys": keys}}}]
        p = os.path.join(d, "c.yaml")
        with open(p, "w") as f:
            f.write(to_yaml(cfg))
        rc, out, err = run_sluice(["-t", "-c", p])
        check(rc != 0, "%r refused" % keys)
        check(want in err, "%r: %r in %r" % (keys, want, err))
        check("CRET" not in out + err, "the URL's password not echoed")
    cfg = json.loads(json.dumps(base))
    cfg["listeners"][0]["routes"] = [
        {"name": "r", "cluster": "c", "auth": {"jwt": {"keys": {
            "url": "http://idp.test/k", "cluster": "c", "refresh": "10m",
            "refetch_interval": "1m", "timeout": "2s"}}}}]
    p = os.path.join(d, "ok.yaml")
    with open(p, "w") as f:
        f.write(to_yaml(cfg))
    rc, out, err = run_sluice(["-t", "-c", p])
    eq(rc, 0, "a good keys map passes -t: " + err)


if __name__ == "__main__":
    main()
