#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Instructions per request from two callgrind dumps (contrib/bench/waf.sh).

Usage: waf_cgsplit.py N DUMP_N DUMP_2N GATEWAY_OBJECT[,GATEWAY_OBJECT...]

DUMP_N holds the counts of N requests and DUMP_2N those of 2N (each between
a zeroing and a dump of callgrind's counters): the difference over N is
what one request costs, with whatever happens once per phase cancelled
out. Prints lines of "kind name instructions_per_request":

  total -                 every instruction of the process (all threads)
  obj   OBJECT            the self cost of the functions of one object
                          (binary or library), by its file name
  lib   -                 inclusive cost of every call from the gateway's
                          own objects (GATEWAY_OBJECT: file names, e.g.
                          sluice, or nginx,ngx_http_modsecurity_module.so)
                          into libmodsecurity: the library's work with all
                          it calls (libpcre2, libyajl, libstdc++, libc, ...)
  api   FUNCTION          the same, by the libmodsecurity function called
                          (msc_process_request_headers, ...)
  stale FILE              when the cost lines of a dump add up to more than
                          its summary (callgrind's count since the zeroing)
                          by over 0.1 %: what is too much. Callgrind's
                          zeroing leaves the costs of code that ran before
                          the first zeroing and was never dumped since, and
                          they come out in the next dump that holds that
                          code: waf.sh dumps once after its warm-up, for
                          nothing, so that they do not reach the counts.
"""

import collections
import re
import sys

LIBMSC = "libmodsecurity.so"
NAMED = re.compile(r"^(c?ob|c?fn|c?f[lie])=\((\d+)\)(?: (.*))?$")


def base(path):
    return path.rsplit("/", 1)[-1]


def parse(path, gateway):
    names = {}      # compressed ids of objects and functions -> names
    fn_ob = {}      # function id -> object id (from its fn= record)
    cur_ob = cur_fn = None
    call_ob = call_fn = None
    after_calls = False
    obj = collections.Counter()
    api = collections.Counter()
    total = 0
    summary = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("summary:"):
                summary = int(line.split()[1])
                continue
            if after_calls:
                # the line after calls=: the call's inclusive cost
                after_calls = False
                fields = line.split()
                if len(fields) >= 2 and cur_ob is not None:
                    callee_ob = call_ob if call_ob is not None else fn_ob.get(call_fn, cur_ob)
                    if (LIBMSC in base(names.get(callee_ob, "")) and
                            base(names.get(cur_ob, "")) in gateway):
                        api[names.get(call_fn, "?")] += int(fields[1])
                call_ob = call_fn = None
                continue
            m = NAMED.match(line)
            if m:
                k, i, n = m.groups()
                if n is not None and k in ("ob", "cob", "fn", "cfn"):
                    names[i] = n
                if k == "ob":
                    cur_ob = i
                elif k == "fn":
                    cur_fn = i
                    fn_ob[i] = cur_ob
                elif k == "cob":
                    call_ob = i
                elif k == "cfn":
                    call_fn = i
                continue
            if line.startswith("calls="):
                after_calls = True
                continue
            if cur_fn is not None and line and (line[0].isdigit() or line[0] in "+-*"):
                fields = line.split()
                if len(fields) >= 2:
                    c = int(fields[1])
                    obj[base(names.get(fn_ob.get(cur_fn), "?"))] += c
                    total += c
    return total, obj, api, summary


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    n = int(sys.argv[1])
    gateway = set(sys.argv[4].split(","))
    t1, o1, a1, s1 = parse(sys.argv[2], gateway)
    t2, o2, a2, s2 = parse(sys.argv[3], gateway)
    for path, t, s in ((sys.argv[2], t1, s1), (sys.argv[3], t2, s2)):
        if s is not None and t - s > s / 1000:
            print("stale %s %d" % (path.rsplit("/", 1)[-1], t - s))
    if s1 is not None and s2 is not None:
        t1, t2 = s1, s2
    print("total - %.0f" % ((t2 - t1) / n))
    od = {k: (o2[k] - o1[k]) / n for k in set(o1) | set(o2)}
    for k, v in sorted(od.items(), key=lambda kv: -kv[1]):
        if v >= 1:
            print("obj %s %.0f" % (k, v))
    ad = {k: (a2[k] - a1[k]) / n for k in set(a1) | set(a2)}
    print("lib - %.0f" % sum(ad.values()))
    for k, v in sorted(ad.items(), key=lambda kv: -kv[1]):
        if v >= 1:
            print("api %s %.0f" % (k, v))


if __name__ == "__main__":
    main()
