# SPDX-License-Identifier: MIT
"""Credentials in header rules are never echoed (issue 77, defect 3).

A value set on a credential's field (Authorization, Cookie, X-Api-Key,
and a name the file adds with secret_headers) is sent upstream as
written, but no output of sluice shows it: not `sluice -t`'s, not the
error log's line for a refused reload, not /status (which repeats that
line), /config, /metrics, the access log or the spans it exports. Where
one is shown, it is starred, one '*' a byte, its length kept, as the
WAF's log shows a credential (doc/sluice.yaml.5, secret_headers)."""

import json
import os
import secrets
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Upstream, check, eq, free_port, main,  # noqa: E402
                    make_config, metrics, run_sluice, start_sluice, test,
                    tmpdir, to_yaml, wait_until)


def tokens():
    """Unique strings no output can hold by chance, one per field."""
    t = secrets.token_hex(8)
    return {"auth": "tokA" + t, "cookie": "tokC" + t, "key": "tokK" + t,
            "partner": "tokP" + t, "match": "tokM" + t,
            "setcookie": "tokS" + t}


def values(tok, blank):
    """The fields' values, with a trailing blank (as pasted) or not."""
    b = " " if blank else ""
    return {
        "Authorization": "Bearer " + tok["auth"] + b,
        "Cookie": "sid=" + tok["cookie"] + b,
        "X-Api-Key": tok["key"] + b,
        "X-Partner-Key": tok["partner"] + b,
    }


def config(up, collector, tok, blank, port, aport, log):
    v = values(tok, blank)
    b = " " if blank else ""
    routes = [
        # a match on a credential's value: shown starred too
        {"name": "matched", "cluster": "a",
         "match": {"path_prefix": "/m/",
                   "headers": {"Authorization": tok["match"] + b}}},
        {"name": "api", "cluster": "a",
         "request_headers": {"set": v},
         "response_headers": {"set": {"Set-Cookie":
                                      "s=" + tok["setcookie"] + b}},
         "tracing": {"sample": "100%"}},
    ]
    cfg, _ = make_config({"a": [up], "otel": [collector]}, routes=routes,
                         port=port, access_log=log,
                         extra={"admin": {"address": "127.0.0.1:%d" % aport},
                                "secret_headers": ["X-Partner-Key"],
                                "tracing": {"cluster": "otel",
                                            "interval": "200ms"}})
    return cfg


def lengths(tok, blank):
    """The length of every value, as a starred value shows it."""
    b = 1 if blank else 0
    out = {k: len(x) for k, x in values(tok, blank).items()}
    out["match"] = len(tok["match"]) + b
    out["Set-Cookie"] = len("s=" + tok["setcookie"]) + b
    return out


def absent(text, tok, where):
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    for name, t in tok.items():
        check(t not in text, "%s shows the %s credential %s:\n%s"
              % (where, name, t, text[:3000]))


def shows_lengths(text, tok, where):
    """Each refused value's error line gives its length, starred."""
    for name, n in lengths(tok, True).items():
        want = '"%s" for' % ("*" * min(n, 64))
        check(want in text and "%d bytes" % n in text,
              "%s does not show a %d-byte value (%s) starred:\n%s"
              % (where, n, name, text[:3000]))


@test
def credentials_in_header_rules_are_never_echoed():
    tok = tokens()
    up = Upstream("a")
    collector = Upstream("otel")
    port, aport = free_port(), free_port()
    d = tmpdir()
    log = os.path.join(d, "access.log")

    # -t on the file with the blanks: refused, no token, lengths shown
    bad = to_yaml(config(up, collector, tok, True, port, aport, log)) + "\n"
    bad_path = os.path.join(d, "bad.yaml")
    with open(bad_path, "w") as f:
        f.write(bad)
    rc, out, err = run_sluice(["-t", "-c", bad_path])
    eq(rc, 1, "-t refuses the blanks: " + err)
    absent(out + err, tok, "sluice -t")
    shows_lengths(err, tok, "sluice -t")

    # -t on the good file
    good = to_yaml(config(up, collector, tok, False, port, aport, log))
    good += "\n"
    good_path = os.path.join(d, "good.yaml")
    with open(good_path, "w") as f:
        f.write(good)
    rc, out, err = run_sluice(["-t", "-c", good_path])
    eq(rc, 0, "-t accepts the file: " + err)
    absent(out + err, tok, "sluice -t (a good file)")

    sl = start_sluice(good, wait_ports=[port, aport])
    sl.expect_errors(r"^reload: ")    # the refused reload, on purpose
    # the fields reach the upstream as written
    r = sltest.get(port, "/x")
    eq(r.status, 200, "through the rules")
    req = up.requests[-1]
    for name, v in values(tok, False).items():
        eq(req.header(name), v, name + " upstream")
    eq(r.header("set-cookie"), "s=" + tok["setcookie"], "Set-Cookie")
    # and the match on a credential's value matches
    r = sltest.get(port, "/m/1", headers={"Authorization": tok["match"]})
    eq(r.status, 200, "the match")

    # /config: the names, the values starred, their lengths kept
    conf = sltest.get(aport, "/config").body.decode()
    absent(conf, tok, "/config")
    j = json.loads(conf)
    eq(j["secret_headers"], ["x-partner-key"], "secret_headers")
    routes = {x["name"]: x for x in j["listeners"][0]["routes"]}
    n = lengths(tok, False)
    got = routes["api"]["request_headers"]["set"]
    for name in values(tok, False):
        eq(got[name], "*" * n[name], "/config's " + name)
    eq(routes["api"]["response_headers"]["set"]["Set-Cookie"],
       "*" * n["Set-Cookie"], "/config's Set-Cookie")
    eq(routes["matched"]["match"]["headers"]["authorization"], "*" * n["match"],
       "/config's match")

    # the bad file, reloaded: refused, the error line without a token
    n0 = len(sl.stderr())
    with open(sl.conf_path, "w") as f:
        f.write(bad)
    sl.send_signal(signal.SIGHUP)

    def refused():
        st = json.loads(sltest.get(aport, "/status").body)
        last = st["sluice"]["reloads"]["last"]
        return last is not None and last["result"] == "refused"
    check(wait_until(refused, timeout=10), "the reload was refused")
    check(wait_until(lambda: "reload: " in sl.stderr()[n0:], timeout=10),
          "the refusal is logged")
    logged = sl.stderr()[n0:]
    absent(logged, tok, "the error log")
    # the error log holds the first error line at least
    check("bytes, shown starred" in logged, "the length is logged:\n"
          + logged)
    status = sltest.get(aport, "/status").body.decode()
    absent(status, tok, "/status")
    last = json.loads(status)["sluice"]["reloads"]["last"]
    check("bytes, shown starred" in (last["error"] or ""),
          "/status's error gives the length: %r" % last)

    # the running rules still send the real values
    r = sltest.get(port, "/y")
    eq(r.status, 200, "after the refused reload")
    eq(up.requests[-1].header("Authorization"),
       "Bearer " + tok["auth"], "Authorization upstream, still")

    # /metrics, the spans exported, the access log
    absent(sltest.get(aport, "/metrics").body, tok, "/metrics")
    check(wait_until(lambda: any(q.method == "POST"
                                 for q in collector.requests), timeout=10),
          "spans were exported")
    spans = b"".join(q.raw_head + q.body for q in collector.requests)
    check(b"http.route" in spans and b"api" in spans,
          "the spans name the route")
    absent(spans, tok, "the exported spans")
    sl.stop()
    check(os.path.exists(log), "the access log was written")
    with open(log, "rb") as f:
        text = f.read()
    check(text.count(b"\n") >= 3, "the access log has the requests")
    absent(text, tok, "the access log")
    absent(sl.stderr() + sl.stdout(), tok, "sluice's output")


if __name__ == "__main__":
    main()
