#!/bin/sh
# SPDX-License-Identifier: MIT
#
# No source file calls another that calls it back, but for the cycles
# tests/layers-allowed.txt lists, and no call goes up the folders' order
# of src/LAYERS: runs contrib/layers.sh on this build's objects with
# --allow tests/layers-allowed.txt --order src/LAYERS. First it shows that the
# script can fail: two tiny C files that call each other, compiled ($CC,
# or cc) into a build directory of their own, make a cycle it must report
# (exit 1), and the same files without the call back make none (exit 0).
# Run by make check with top_srcdir and top_builddir set. Exit 0 when all
# pass.

top_srcdir=${top_srcdir:-$(dirname "$0")/..}
top_builddir=${top_builddir:-.}
layers=$top_srcdir/contrib/layers.sh
allowed=$top_srcdir/tests/layers-allowed.txt

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-layers-check.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' INT TERM

status=0
fail() {
	echo "layers-check.sh: FAIL: $*" >&2
	status=1
}

# fixture DIR CALLBACK: a build directory as automake lays one out, a
# library of lib/libfake_a-a.o (per-target flags name it so) and
# lib/deep/b.o (a folder), and a program of src/main.o; a() calls b(),
# main() calls a(), and with CALLBACK=1 b() calls a() back (a data symbol
# of a.c ties them too)
fixture() {
	dir=$1
	mkdir -p "$dir/lib/deep" "$dir/src" || exit 99
	cat >"$dir/Makefile" <<'EOF'
OBJEXT = o
EXEEXT =
noinst_LIBRARIES = libfake.a
am_libfake_a_OBJECTS = lib/libfake_a-a.$(OBJEXT) \
	lib/deep/b.$(OBJEXT)
libfake_a_OBJECTS = $(am_libfake_a_OBJECTS)
libfake_a_LIBADD =
sbin_PROGRAMS = src/fake$(EXEEXT)
am_src_fake_OBJECTS = src/main.$(OBJEXT)
src_fake_OBJECTS = $(am_src_fake_OBJECTS)
EOF
	cat >"$tmp/a.c" <<'EOF'
int b(int);
int a_calls = 1;
int a(int n) { return n > 0 ? b(n - 1) + a_calls : 0; }
EOF
	if [ "$2" = 1 ]; then
		cat >"$tmp/b.c" <<'EOF'
int a(int);
extern int a_calls;
int b(int n) { return n > 0 ? a(n - 1) + a_calls : 0; }
EOF
	else
		cat >"$tmp/b.c" <<'EOF'
int b(int n) { return n > 0 ? b(n - 1) : 0; }
EOF
	fi
	cat >"$tmp/main.c" <<'EOF'
int a(int);
int main(void) { return a(3); }
EOF
	for o in lib/libfake_a-a.o:a.c lib/deep/b.o:b.c src/main.o:main.c; do
		if ! ${CC:-cc} -c -o "$dir/${o%%:*}" "$tmp/${o#*:}"; then
			echo "layers-check.sh: ${CC:-cc} cannot compile the" \
				"fixture" >&2
			exit 99
		fi
	done
	rm -f "$dir/libfake.a"
	${AR:-ar} cr "$dir/libfake.a" "$dir/lib/libfake_a-a.o" \
		"$dir/lib/deep/b.o" || exit 99
}

# the fixture with a cycle: reported, with both edges and their symbols
fixture "$tmp/cycle" 1
sh "$layers" "$tmp/cycle" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc = 1 ] || fail "a cycle: exit $rc, not 1"
grep -qx 'cycle 1: lib/a.c lib/deep/b.c' "$tmp/out" ||
	fail "a cycle: lib/a.c lib/deep/b.c not reported"
grep -qx '  lib/a.c -> lib/deep/b.c: b' "$tmp/out" ||
	fail "a cycle: the edge a.c -> b.c (b) not reported"
grep -qx '  lib/deep/b.c -> lib/a.c: a a_calls' "$tmp/out" ||
	fail "a cycle: the edge b.c -> a.c (a a_calls) not reported"
if grep -q 'src/main.c' "$tmp/out"; then
	fail "a cycle: src/main.c, which nothing calls, is in it"
fi

# allowed, it passes; an allowed cycle that is gone fails
echo 'lib/deep/b.c lib/a.c  # either order' >"$tmp/allow"
cp "$tmp/allow" "$tmp/allow1"
sh "$layers" --allow "$tmp/allow" "$tmp/cycle" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc = 0 ] || fail "an allowed cycle: exit $rc, not 0"
echo 'lib/a.c src/main.c' >>"$tmp/allow"
sh "$layers" --allow "$tmp/allow" "$tmp/cycle" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc = 1 ] || fail "an allowed cycle that is gone: exit $rc, not 1"
grep -q "allow:2: lib/a.c src/main.c" "$tmp/out" ||
	fail "an allowed cycle that is gone: its line not named"

# the fixture without one
fixture "$tmp/none" 0
sh "$layers" "$tmp/none" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc = 0 ] || fail "no cycle: exit $rc, not 0"
if grep -q '^cycle' "$tmp/out"; then
	fail "no cycle: a cycle reported"
fi

# the folders' order: calls down pass; a call up (b.c in lib/deep calls
# a.c in lib, above it) fails and is named; a file in no listed folder
# fails
printf '# top down\nsrc\nlib\nlib/deep\n' >"$tmp/order"
sh "$layers" --order "$tmp/order" "$tmp/none" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc = 0 ] || fail "calls down the order: exit $rc, not 0"
sh "$layers" --allow "$tmp/allow1" --order "$tmp/order" "$tmp/cycle" \
	>"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc = 1 ] || fail "a call up the order: exit $rc, not 1"
grep -qx 'up: lib/deep/b.c -> lib/a.c: a a_calls' "$tmp/out" ||
	fail "a call up the order: not named"
printf 'src\nlib\n' >"$tmp/order2"
sh "$layers" --order "$tmp/order2" "$tmp/none" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc = 1 ] || fail "a file in no folder of the order: exit $rc, not 1"
grep -qx 'unplaced: lib/deep/b.c: in no folder of '"$tmp/order2" \
	"$tmp/out" || fail "a file in no folder of the order: not named"

# a usage error
sh "$layers" >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || fail "no build directory: exit $rc, not 2"

# this build
echo "layers-check.sh: $top_builddir, allowed: $allowed, order: src/LAYERS"
sh "$layers" --allow "$allowed" --order "$top_srcdir/src/LAYERS" \
	"$top_builddir" || {
	fail "the source tree's call graph has a cycle that" \
		"tests/layers-allowed.txt does not list, or the list names" \
		"one that is gone, or a call goes up src/LAYERS' order (above)"
}
exit $status
