#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs "sluice -t" on every configuration under tests/conf: each good/*.yaml
# (and the shipped etc/sluice.yaml) must be accepted; each bad/*.yaml must
# be rejected with the error named by its first line,
#	# expect: LINE:COL: error: MESSAGE
# which must appear on stderr prefixed with the file's path.
# Environment: SLUICE (the daemon), top_srcdir. Exit 0 when all pass.

: "${top_srcdir:=.}"
if [ -z "$SLUICE" ] || [ ! -x "$SLUICE" ]; then
	echo "check.sh: SLUICE is not set to an executable sluice" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-conf.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

fail=0
n=0

for f in "$top_srcdir"/tests/conf/good/*.yaml "$top_srcdir"/etc/sluice.yaml; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	"$SLUICE" -t -c "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q "configuration OK" "$tmp/out"; then
		echo "ok   $f"
	else
		echo "FAIL $f: exit $rc, expected 0 and \"configuration OK\""
		sed 's/^/	/' "$tmp/out" "$tmp/err"
		fail=$((fail + 1))
	fi
done

for f in "$top_srcdir"/tests/conf/bad/*.yaml; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	expect=$(sed -n '1s/^# expect: //p' "$f")
	if [ -z "$expect" ]; then
		echo "FAIL $f: first line is not \"# expect: ...\""
		fail=$((fail + 1))
		continue
	fi
	"$SLUICE" -t -c "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$f:$expect" "$tmp/err"; then
		echo "ok   $f"
	else
		echo "FAIL $f: exit $rc, expected 1 and on stderr:"
		echo "	$f:$expect"
		echo "	got:"
		sed 's/^/	/' "$tmp/err"
		fail=$((fail + 1))
	fi
done

echo "$((n - fail)) of $n configuration checks passed"
[ "$fail" -eq 0 ]
