#!/bin/sh
# SPDX-License-Identifier: MIT
#
# No file of src/ includes a header of a folder above its own in
# src/LAYERS, but for the includes tests/includes-allowed.txt lists: runs
# contrib/includes.sh on the source tree with --allow
# tests/includes-allowed.txt. First it shows that the script can fail: a
# tiny tree of three folders where an include goes up must be reported
# (exit 1), and the same tree without it passes (exit 0). Run by make
# check with top_srcdir set. Exit 0 when all pass.

top_srcdir=${top_srcdir:-$(dirname "$0")/..}
includes=$top_srcdir/contrib/includes.sh
allowed=$top_srcdir/tests/includes-allowed.txt

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-includes-check.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' INT TERM

status=0
fail() {
	echo "includes-check.sh: FAIL: $*" >&2
	status=1
}

# run ARGS...: includes.sh's output in $tmp/out (shown), its status in rc
run() {
	sh "$includes" "$@" >"$tmp/out" 2>&1
	rc=$?
	cat "$tmp/out"
}

# a tree of top > mid > low whose includes all go down or stay: low/a.c
# includes its own a.h and a system header, mid/m.h includes low's a.h,
# top/t.c both; low/m.h shares mid/m.h's name, and low/d.c's "m.h" is
# low's own (the including file's directory comes first)
t=$tmp/tree
mkdir -p "$t/src/top" "$t/src/mid" "$t/src/low" || exit 99
printf '# top down\ntop   the top\nmid\n\nlow  # the floor\n' \
	>"$t/src/LAYERS"
echo 'int a(void);' >"$t/src/low/a.h"
printf '#include <stdio.h>\n#include "a.h"\n' >"$t/src/low/a.c"
echo 'int low_m(void);' >"$t/src/low/m.h"
echo '#include "m.h"' >"$t/src/low/d.c"
echo '#include "a.h"' >"$t/src/mid/m.h"
printf '#include "m.h"\n  #  include "a.h" /* why */\n' >"$t/src/top/t.c"
run "$t"
[ $rc = 0 ] || fail "includes down: exit $rc, not 0"
grep -q '^up:' "$tmp/out" && fail "includes down: one reported up"

# includes up, each way of naming a header: quoted, in <>, by a path
echo '#include "t.h"' >"$t/src/mid/up1.c"
echo 'int t(void);' >"$t/src/top/t.h"
echo '#include <t.h>' >"$t/src/low/up2.h"
printf '\n#include "../mid/m.h"\n' >"$t/src/low/up3.c"
run "$t"
[ $rc = 1 ] || fail "includes up: exit $rc, not 1"
for e in 'src/mid/up1.c:1 -> src/top/t.h' 'src/low/up2.h:1 -> src/top/t.h' \
	'src/low/up3.c:2 -> src/mid/m.h'; do
	grep -qx "up: $e" "$tmp/out" || fail "includes up: $e not reported"
done
[ "$(grep -c '^up:' "$tmp/out")" = 3 ] ||
	fail "includes up: not exactly three reported"

# listed, they pass; a listed one that is gone fails, and is named
printf '# known\nsrc/mid/up1.c  src/top/t.h\nsrc/low/up2.h src/top/t.h\n' \
	>"$tmp/allow"
echo 'src/low/up3.c src/mid/m.h # by a path' >>"$tmp/allow"
run --allow "$tmp/allow" "$t"
[ $rc = 0 ] || fail "allowed includes up: exit $rc, not 0"
[ "$(grep -c '^allowed:' "$tmp/out")" = 3 ] ||
	fail "allowed includes up: not three shown as allowed"
rm "$t/src/low/up3.c"
run --allow "$tmp/allow" "$t"
[ $rc = 1 ] || fail "an allowed include that is gone: exit $rc, not 1"
grep -qx "$tmp/allow:4: src/low/up3.c src/mid/m.h" "$tmp/out" ||
	fail "an allowed include that is gone: its line not named"

# a file in no folder of the order
mkdir "$t/src/other" || exit 99
echo 'int x;' >"$t/src/other/x.c"
run --allow "$tmp/allow" "$t"
[ $rc = 1 ] || fail "a file in no folder: exit $rc, not 1"
grep -qx 'unplaced: src/other/x.c: in no folder of src/LAYERS' \
	"$tmp/out" || fail "a file in no folder: not named"

# usage errors
sh "$includes" >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || fail "no source tree: exit $rc, not 2"
sh "$includes" "$tmp/none" >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || fail "no src/LAYERS: exit $rc, not 2"

# this source tree
echo "includes-check.sh: $top_srcdir, allowed: $allowed"
sh "$includes" --allow "$allowed" "$top_srcdir" || {
	fail "a file of src/ includes a header of a folder above its own" \
		"in src/LAYERS that tests/includes-allowed.txt does not" \
		"list, or the list names one that is gone (above)"
}
exit $status
