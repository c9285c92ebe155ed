#!/bin/sh
# SPDX-License-Identifier: MIT
# Line coverage of src/ by the whole test suite (make check), with gcov:
# builds in build-cov/ (./configure --enable-coverage), runs make check
# there, and prints each file of src/ with its executed and total lines,
# then the whole. A line is executed when any object ran it: the
# library's, or a unit test's that includes the .c it tests (before issue
# 43 only the library's counted, so such a test's lines did not). Extra arguments go to make check (TESTS=...).
#	contrib/coverage.sh [MAKE-CHECK-ARGUMENT...]
# The test suite must pass; a failing test is reported and the coverage
# is still printed (of what ran). gcov comes with gcc.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
"$top/contrib/build.sh" build-cov --enable-coverage
cd "$top/build-cov"
find . -name '*.gcda' -delete
make -j"$jobs" check "$@" >/dev/null 2>&1 ||
	echo "coverage: make check failed; the figures are of what ran" >&2
# src/ is a folder a layer (src/LAYERS); objects sit in the same folders
# Every object's counts, the library's and the tests': a unit test that
# includes the .c it tests (STYLE.md) runs that file's lines in its own
# object, and they count. A line counts as executed when any object ran
# it. hpack_gen.c and qpack_gen.c run at build time, not under make check
# (their output is what the HPACK and QPACK tests check): they are left
# out (qpack_gen.c was counted until session 54: 107 lines never run, 0.3
# of a point off the whole).
find . -name '*.gcno' | while read -r g; do
	(cd "${g%/*}" && gcov -j -t -o . "${g##*/}" 2>/dev/null)
done | "${PYTHON3:-/usr/bin/python3}" -c '
import json, os, sys
top = sys.argv[1]
lines = {}
dec = json.JSONDecoder()
data = sys.stdin.read()
at = 0
while True:
    while at < len(data) and data[at].isspace():
        at += 1
    if at >= len(data):
        break
    doc, at = dec.raw_decode(data, at)
    for f in doc.get("files", []):
        name = os.path.normpath(os.path.join(doc.get("current_working_directory", ""), f["file"]))
        if not name.startswith(top) or not name.endswith(".c") or name.endswith(("/hpack_gen.c", "/qpack_gen.c")):
            continue
        seen = lines.setdefault(name[len(top):], {})
        for l in f["lines"]:
            seen[l["line_number"]] = seen.get(l["line_number"], 0) or l["count"] > 0
tr = tn = 0
for name in sorted(lines):
    n = len(lines[name])
    run = sum(1 for v in lines[name].values() if v)
    print("%-24s %6d / %6d  %5.1f %%" % (name, run, n, 100.0 * run / n if n else 0))
    tr += run
    tn += n
print("%-24s %6d / %6d  %5.1f %%" % ("src/ in all", tr, tn, 100.0 * tr / tn if tn else 0))
' "$top/src/"
