#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The report of contrib/bench/waf.sh: Markdown from its CSV files.

Usage: waf_report.py --cpu waf-cpu.csv --mix waf-mix.csv --abuse waf-abuse.csv
                     --count waf-count.csv --meta waf-meta.txt --md waf.md

Medians over the rounds; sluice's figures as ratios to nginx's. Printed and
written to --md.
"""

import argparse
import collections
import csv
import math
import statistics

CPU_TARGET = 0.8   # CPU per inspected request, sluice / nginx (issue 46)
MIX_TARGET = 1.5   # non-WAF p99 with WAF traffic / without
ABUSE_TARGET = 2.0  # legitimate WAF p99 beside the attacker / without (issue 63)


def rows(path):
    try:
        return list(csv.DictReader(open(path)))
    except OSError:
        return []


def num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def count(x):
    """A count of the CSV, 0 when empty."""
    v = num(x)
    return 0 if math.isnan(v) else int(v)


def med(v):
    v = [x for x in v if not math.isnan(x)]
    return statistics.median(v) if v else float("nan")


def f(x, nd=1):
    if isinstance(x, float) and math.isnan(x):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "timeout"   # waf_openloop.py: a timed-out request is infinitely slow
    return "{:,.{}f}".format(x, nd)


def order(names):
    s = sorted(n for n in names if n.startswith("sluice"))
    return s + sorted(n for n in names if not n.startswith("sluice"))


def cpu_section(rs, out):
    if not rs:
        return
    scen = [s for s in ("plain", "waf-get", "waf-post") if any(r["scenario"] == s for r in rs)]
    gws = order({r["gateway"] for r in rs})
    sl = [g for g in gws if g.startswith("sluice")]
    out.append("## CPU per request (µs, medians of %d rounds)\n" %
               max(int(r["round"]) for r in rs))
    head = "| scenario | " + " | ".join(gws) + " | " + " | ".join("%s / nginx" % g for g in sl) + \
        " | req/s (" + ", ".join(gws) + ") | others on the gateway's CPU, steal (max) |"
    out.append(head)
    out.append("|---" * (2 + len(gws) + len(sl)) + "|---|")
    for s in scen:
        m, rps = {}, {}
        oth = stl = 0.0
        for g in gws:
            sel = [r for r in rs if r["scenario"] == s and r["gateway"] == g]
            m[g] = med([num(r["cpu_us_per_req"]) for r in sel])
            rps[g] = med([num(r["rps"]) for r in sel])
            for r in sel:
                oth = max(oth, num(r["others_on_gw_cpu"]))
                stl = max(stl, num(r["steal"]))
        ratios = []
        for g in sl:
            if "nginx" in m and m["nginx"] > 0:
                q = m[g] / m["nginx"]
                mark = ""
                if s != "plain":
                    mark = " (target <= %.1f: %s)" % (CPU_TARGET, "met" if q <= CPU_TARGET else "not met")
                ratios.append("%.2f%s" % (q, mark))
            else:
                ratios.append("-")
        out.append("| %s | %s | %s | %s | %.2f, %.3f |" % (
            s, " | ".join(f(m[g]) for g in gws), " | ".join(ratios),
            ", ".join(f(rps[g], 0) for g in gws), oth, stl))
    out.append("")
    out.append("Every run (µs CPU per request; errors + non-2xx):\n")
    for s in scen:
        for g in gws:
            sel = [r for r in rs if r["scenario"] == s and r["gateway"] == g]
            out.append("- %s %s: %s" % (s, g, ", ".join(
                "r%s %s%s" % (r["round"], f(num(r["cpu_us_per_req"])),
                              "" if r["socket_errors"] == "0" and r["non2xx"] == "0"
                              else " (%s+%s!)" % (r["socket_errors"], r["non2xx"]))
                for r in sel)))
    out.append("")


def mix_section(rs, out):
    if not rs:
        return
    for sc in ("waf-mix", "waf-mix-post", "waf-hog"):
        sel = [r for r in rs if r["scenario"] == sc]
        if not sel:
            continue
        gws = order({r["gateway"] for r in sel})
        rate = sel[0]["rate"]
        out.append("## %s: GET /plain at %s/s, alone and beside WAF %s at %s/s (µs)\n" % (
            sc, rate, "POSTs" if sc.endswith("post") or sc == "waf-hog" else "GETs", rate)
            + ("\nBoth phases beside a busy loop at nice 0 on the gateway's CPU.\n"
               if sc == "waf-hog" else ""))
        out.append("| gateway | /plain p50 alone | p50 mixed | p99 alone | p99 mixed | "
                   "p99 mixed / alone | p99.9 alone | p99.9 mixed | WAF p50, p99 | "
                   "gateway busy (mixed) | others (max) |")
        out.append("|---" * 11 + "|")
        for g in gws:
            a = [r for r in sel if r["gateway"] == g and r["phase"] == "alone"]
            m = [r for r in sel if r["gateway"] == g and r["phase"] == "mixed"]
            ratios = []
            for ra in a:
                for rm in m:
                    if rm["round"] == ra["round"] and num(ra["plain_p99_us"]) > 0:
                        ratios.append(num(rm["plain_p99_us"]) / num(ra["plain_p99_us"]))
            q = med(ratios)
            mark = ""
            if g.startswith("sluice") and not math.isnan(q):
                mark = " (target <= %.1f: %s)" % (MIX_TARGET, "met" if q <= MIX_TARGET else "not met")
            out.append("| %s | %s | %s | %s | %s | %s%s [%s] | %s | %s | %s, %s | %.2f | %.2f |" % (
                g, f(med([num(r["plain_p50_us"]) for r in a]), 0),
                f(med([num(r["plain_p50_us"]) for r in m]), 0),
                f(med([num(r["plain_p99_us"]) for r in a]), 0),
                f(med([num(r["plain_p99_us"]) for r in m]), 0),
                f(q, 2), mark, ", ".join(f(x, 2) for x in ratios),
                f(med([num(r["plain_p999_us"]) for r in a]), 0),
                f(med([num(r["plain_p999_us"]) for r in m]), 0),
                f(med([num(r["waf_p50_us"]) for r in m]), 0),
                f(med([num(r["waf_p99_us"]) for r in m]), 0),
                med([num(r["gw_util"]) for r in m]),
                max([num(r["others_on_gw_cpu"]) for r in sel if r["gateway"] == g] or [0])))
        bad = [r for r in sel if any(r[k] not in ("0", "") for k in
                                     ("plain_errors", "plain_non2xx", "waf_errors", "waf_non2xx"))]
        out.append("")
        out.append("p99 mixed / alone: the median of the rounds' ratios [each round's]. "
                   "Runs with errors or non-2xx: %d.\n" % len(bad))
        if sc == "waf-hog":
            for g in gws:
                m = [r for r in sel if r["gateway"] == g and r["phase"] == "mixed"]
                out.append("%s: WAF POSTs answered other than 2xx (503 at the deadline): %s of %s "
                           "[each round's: %s]\n" % (
                               g, sum(count(r["waf_non2xx"]) for r in m),
                               sum(count(r["waf_n"]) for r in m),
                               ", ".join("%s/%s" % (r["waf_non2xx"], r["waf_n"]) for r in m)))


def ms(x):
    """µs as ms, 1 decimal (3 significant figures under 10 ms)."""
    if isinstance(x, float) and not math.isnan(x) and not math.isinf(x):
        return f(x / 1000, 2 if x < 10000 else 1)
    return f(x)


def abuse_section(rs, out):
    if not rs:
        return
    gws = order({r["gateway"] for r in rs})
    r0 = rs[0]
    nround = max(int(r["round"]) for r in rs)
    out.append("## waf-abuse: legitimate WAF %s at %s/s, alone and beside an attacker at %s/s "
               "(GETs with %s cookies, from another address; client timeout %s s)\n" % (
                   r0["legit_kind"].upper() + "s", r0["legit_rate"], r0["abuse_rate"],
                   r0["abuse_cookies"], r0["timeout_s"]))
    out.append("Medians of %d rounds, [each round's]; latencies in ms, a timed-out request "
               "counted as infinitely slow (\"timeout\").\n" % nround)
    out.append("| gateway | legit p50 alone | p50 attacked | p99 alone | p99 attacked | "
               "p99 attacked / alone | legit 503 (alone, attacked) | other non-2xx | "
               "timeouts (alone, attacked) | of (attacked) | attacker's statuses, timeouts | "
               "gateway busy (attacked) | others (max) |")
    out.append("|---" * 13 + "|")
    for g in gws:
        a = sorted((r for r in rs if r["gateway"] == g and r["phase"] == "alone"), key=lambda r: int(r["round"]))
        m = sorted((r for r in rs if r["gateway"] == g and r["phase"] == "attacked"), key=lambda r: int(r["round"]))
        ratios = []
        for ra in a:
            for rm in m:
                if rm["round"] == ra["round"] and num(ra["legit_p99_us"]) > 0:
                    ratios.append(num(rm["legit_p99_us"]) / num(ra["legit_p99_us"]))
        q = med(ratios)
        lost_m = sum(int(r["legit_503"]) + int(r["legit_timeouts"]) for r in m)
        mark = ""
        if g.startswith("sluice") and not math.isnan(q):
            ok = q <= ABUSE_TARGET and lost_m == 0
            mark = " (target <= %.0f and no 503 or timeout: %s)" % (ABUSE_TARGET, "met" if ok else "not met")
        ast = collections.Counter()
        for r in m:
            for kv in r["abuse_statuses"].split("/"):
                if ":" in kv:
                    k, n = kv.split(":")
                    ast[k] += int(n)
        out.append("| %s | %s | %s | %s [%s] | %s [%s] | %s%s [%s] | %s; %s [%s] | %s | %s; %s [%s] | %s | %s; %s timeouts, %s errors | %.2f | %.2f |" % (
            g, ms(med([num(r["legit_p50_us"]) for r in a])),
            ms(med([num(r["legit_p50_us"]) for r in m])),
            ms(med([num(r["legit_p99_us"]) for r in a])), ", ".join(ms(num(r["legit_p99_us"])) for r in a),
            ms(med([num(r["legit_p99_us"]) for r in m])), ", ".join(ms(num(r["legit_p99_us"])) for r in m),
            f(q, 2), mark, ", ".join(f(x, 2) for x in ratios),
            sum(int(r["legit_503"]) for r in a), sum(int(r["legit_503"]) for r in m),
            ", ".join(r["legit_503"] for r in m),
            sum(int(r["legit_other_non2xx"]) for r in a + m),
            sum(int(r["legit_timeouts"]) for r in a), sum(int(r["legit_timeouts"]) for r in m),
            ", ".join(r["legit_timeouts"] for r in m),
            sum(int(r["legit_counted"]) for r in m),
            " ".join("%s:%d" % kv for kv in sorted(ast.items())) or "-",
            sum(int(r["abuse_timeouts"]) for r in m), sum(int(r["abuse_errors"]) for r in m),
            med([num(r["gw_util"]) for r in m]),
            max([num(r["others_on_gw_cpu"]) for r in a + m] or [0])))
    out.append("")
    out.append("503s, timeouts and the attacker's statuses: summed over the rounds (attacked: "
               "[each round's]); \"of\": the legitimate requests counted in the attacked "
               "phases. Gateway busy: its processes' CPU time over the phase, all threads.\n")


def count_section(rs, out):
    if not rs:
        return
    gws = order({r["gateway"] for r in rs})
    d = collections.defaultdict(dict)   # (gateway, request) -> {(kind, name): ir}
    nreq = {}
    for r in rs:
        d[(r["gateway"], r["request"])][(r["kind"], r["name"])] = num(r["instructions_per_request"])
        nreq[(r["gateway"], r["request"])] = r["requests"]
    out.append("## Instructions per request (callgrind, user space, all threads)\n")
    out.append("| request | gateway | total | inside libmodsecurity | the rest | "
               "the gateway's own binary | total / nginx's | libmodsecurity part / nginx's total |")
    out.append("|---" * 8 + "|")
    for req in ("plain", "get", "post"):
        ng = d.get(("nginx", req), {}).get(("total", "-"))
        for g in gws:
            x = d.get((g, req))
            if not x:
                continue
            tot = x.get(("total", "-"), float("nan"))
            lib = x.get(("lib", "-"), 0.0)
            own = sum(v for (k, n), v in x.items() if k == "obj" and n in ("sluice", "nginx"))
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                req, g, f(tot, 0), f(lib, 0), f(tot - lib, 0), f(own, 0),
                f(tot / ng, 3) if ng else "-",
                f(lib / ng, 3) if ng and req != "plain" else "-"))
    out.append("")
    out.append("\"Inside libmodsecurity\": the inclusive cost of the calls from the gateway's "
               "code into it (everything they run, in any library); the rest: parsing, "
               "proxying, hand-off. Counted over N and 2N requests (%s).\n" % ", ".join(
                   "%s %s: N=%s" % (g, q, n) for (g, q), n in sorted(nreq.items())))
    for req in ("get", "post"):
        for g in gws:
            x = d.get((g, req))
            if not x:
                continue
            objs = sorted(((v, n) for (k, n), v in x.items() if k == "obj"), reverse=True)[:10]
            out.append("- %s %s, by object (self): %s" % (
                req, g, ", ".join("%s %s" % (n, f(v, 0)) for v, n in objs)))
            api = sorted(((v, n) for (k, n), v in x.items() if k == "api"), reverse=True)
            out.append("  - by libmodsecurity call: %s" % ", ".join(
                "%s %s" % (n, f(v, 0)) for v, n in api if v >= 1000))
    out.append("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu")
    ap.add_argument("--mix")
    ap.add_argument("--abuse")
    ap.add_argument("--count")
    ap.add_argument("--meta")
    ap.add_argument("--md")
    a = ap.parse_args()
    meta = []
    if a.meta:
        try:
            meta = [l.rstrip("\n") for l in open(a.meta)]
        except OSError:
            pass
    out = ["# WAF benchmark: sluice and nginx + ModSecurity, OWASP CRS\n"]
    if meta:
        out.append("```")
        out.extend(meta)
        out.append("```\n")
    cpu_section(rows(a.cpu) if a.cpu else [], out)
    mix_section(rows(a.mix) if a.mix else [], out)
    abuse_section(rows(a.abuse) if a.abuse else [], out)
    count_section(rows(a.count) if a.count else [], out)
    text = "\n".join(out) + "\n"
    if a.md:
        open(a.md, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
