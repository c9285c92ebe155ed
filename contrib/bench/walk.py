#!/usr/bin/python3
# contrib/bench/walk.py -- how often a request crosses between the codecs
# and the exchange, read from a callgrind dump.
#
# usage: contrib/bench/walk.py [--requests N] [--detail] DUMP [DUMP ...]
#
# Issue 62 measures the message's seam by its crossings: a call from a
# codec's file (src/front/, src/upstream/) to the exchange's (src/proxy/),
# or back. Each distinct caller-callee pair is one edge of the walk; the
# walk's length is the number of such edges a request's path takes, and
# its weight the calls along them per request. The dumps come from
# contrib/bench/icount.sh with ICOUNT_KEEP=DIR (one per configuration:
# plain for HTTP/1.1, plain-h2 with --h2 for HTTP/2); --requests is the
# count icount.sh was given (5000 by default), so that edges taken once at
# start-up or now and then (a timer, a reload) are left out: an edge counts
# when its calls are at least half a call a request. Python's standard
# library only: callgrind's text format is read directly.
import argparse
import re
import sys

SIDES = (("src/front/", "codec"), ("src/upstream/", "codec"),
         ("src/proxy/", "exchange"))


def side(path):
    for prefix, name in SIDES:
        if prefix in path:
            return name
    return None


COMP = re.compile(r"^(fl|fi|fe|fn|cfi|cfl|cfn)=\((\d+)\)(?: (.*))?$")


def defined_in(path):
    """{function id: the file that defines it} (its fn= line's fl=)."""
    files, where = {}, {}
    fl = None
    with open(path, errors="replace") as f:
        for line in f:
            m = COMP.match(line.rstrip("\n"))
            if not m:
                continue
            key, num, name = m.group(1), m.group(2), m.group(3)
            if key in ("fl", "fi", "fe", "cfi", "cfl"):
                if name is not None:
                    files[num] = name
                if key == "fl":
                    fl = files.get(num, "?")
            elif key == "fn" and num not in where:
                where[num] = fl
    return where


def edges(path):
    """{(caller, callee): calls} between the two sides. A callee's file
    is the one named before it (cfl=), else the file that defines it:
    inlined code (fi=, fe=) changes the current file, not the function's."""
    where = defined_in(path)
    files, fns = {}, {}
    fl = cfl = fn = None
    out = {}
    pending = None  # (callee file, callee fn) of the last calls= line
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = COMP.match(line)
            if m:
                key, num, name = m.group(1), m.group(2), m.group(3)
                table = fns if key in ("fn", "cfn") else files
                if name is not None:
                    table[num] = name
                name = table.get(num, "?")
                if key == "fl":
                    fl = name
                    cfl = None
                elif key in ("fi", "fe"):
                    pass  # inlined code: the function's file stays
                elif key == "fn":
                    fn = (fl, name)
                    cfl = None
                elif key in ("cfi", "cfl"):
                    cfl = name
                elif key == "cfn":
                    pending = (cfl or where.get(num) or fn[0], name)
                    cfl = None
                continue
            if line.startswith("calls=") and pending is not None:
                n = int(line.split("=", 1)[1].split()[0])
                a, b = side(fn[0]), side(pending[0])
                if a and b and a != b:
                    k = ("%s:%s" % (fn[0].split("src/", 1)[-1], fn[1]),
                         "%s:%s" % (pending[0].split("src/", 1)[-1],
                                    pending[1]))
                    out[k] = out.get(k, 0) + n
                pending = None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--detail", action="store_true")
    ap.add_argument("dumps", nargs="+")
    a = ap.parse_args()
    print("| dump | edges taken | calls per request |")
    print("|---|--:|--:|")
    for d in a.dumps:
        e = {k: v for k, v in edges(d).items() if v * 2 >= a.requests}
        calls = sum(e.values()) / a.requests
        print("| %s | %d | %.1f |" % (d, len(e), calls))
        if a.detail:
            for (x, y), v in sorted(e.items(), key=lambda kv: -kv[1]):
                print("    %6.2f  %s -> %s" % (v / a.requests, x, y))
    return 0


if __name__ == "__main__":
    sys.exit(main())
