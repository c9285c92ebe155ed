#!/bin/sh
# SPDX-License-Identifier: MIT
# Line coverage of src/ by the whole test suite (make check), with gcov:
# builds in build-cov/ (./configure --enable-coverage), runs make check
# there, and prints each file of src/ with its executed and total lines,
# then the whole. Extra arguments go to make check (TESTS=...).
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
for c in "$top"/src/*/*.c; do
	d=${c%/*}
	(cd "src/${d##*/}" && gcov -n -o . "$c" 2>/dev/null)
done | awk -v top="$top/src/" '
/^File / { f = $2; gsub(/\047/, "", f); next }
/^Lines executed:/ {
	if (index(f, top) != 1 || f !~ /\.c$/) next
	split($2, a, ":"); pct = a[2]; sub(/%/, "", pct)
	n = $4
	if (seen[f]++) next
	run = int(pct * n / 100 + 0.5)
	name = substr(f, length(top) + 1)
	printf "%-24s %6d / %6d  %5.1f %%\n", name, run, n, pct
	tr += run; tn += n
}
END { printf "%-24s %6d / %6d  %5.1f %%\n", "src/ in all", tr, tn, tn ? 100 * tr / tn : 0 }'
