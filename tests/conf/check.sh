#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs "sluice -t" on every configuration under tests/conf: each good/*.yaml
# (and the shipped etc/sluice.yaml) must be accepted; each bad/*.yaml must
# be rejected with exactly the errors its first lines name, in order,
#	# expect: LINE:COL: error: MESSAGE
#	# expect: LINE:COL: error: MESSAGE
# each prefixed with the file's path on stderr, and no other error line
# for that file (sluice reports every error at once: a file lists them all).
# sluice runs in top_srcdir, so that a file names the test certificates
# under tests/conf/good/tls, or the password files under
# tests/conf/*/secrets, by paths relative to it.
# Environment: SLUICE (the daemon), top_srcdir. Exit 0 when all pass.

: "${top_srcdir:=.}"
if [ -z "$SLUICE" ] || [ ! -x "$SLUICE" ]; then
	echo "check.sh: SLUICE is not set to an executable sluice" >&2
	exit 99
fi

# absolute, for the runs in top_srcdir
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
case $SLUICE in
/*) ;;
*) SLUICE=$(pwd)/$SLUICE ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-conf.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

fail=0
n=0

# free_ports FILE OUT: FILE with each port of its addresses (127.0.0.1:8080,
# [::]:9901, ...) replaced by a port nothing listens on now, the same one
# wherever the port repeats. -t checks that no other process listens on a
# listener's or the admin's address, and the files' 8080 and 9901 may be
# taken on the machine that runs the tests (by the quick start, say).
free_ports() {
	"${PYTHON3:-python3}" - "$1" "$2" <<'PY'
import random, re, socket, sys
text = open(sys.argv[1]).read()
ports = {}


def free():
    while True:
        p = random.randint(20000, 30000)
        if p in ports.values():
            continue
        try:
            for fam, host in ((socket.AF_INET, "0.0.0.0"),
                              (socket.AF_INET6, "::")):
                with socket.socket(fam, socket.SOCK_STREAM) as s:
                    s.bind((host, p))
            return p
        except OSError:
            continue


def sub(m):
    old = int(m.group(2))
    if old not in ports:
        ports[old] = free()
    return "%s:%d" % (m.group(1), ports[old])


pat = r"(\b\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:.]*\]|localhost):(\d+)"
open(sys.argv[2], "w").write(re.sub(pat, sub, text))
PY
}

for f in "$top_srcdir"/tests/conf/good/*.yaml "$top_srcdir"/etc/sluice.yaml; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	free_ports "$f" "$tmp/good.yaml" || exit 99
	(cd "$top_srcdir" && "$SLUICE" -t -c "$tmp/good.yaml") >"$tmp/out" \
		2>"$tmp/err"
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
	# the "# expect: " lines at the top, each with the path in front
	awk -v f="$f" '!/^# expect: / { exit } { print f ":" substr($0, 11) }' \
		"$f" >"$tmp/want"
	if [ ! -s "$tmp/want" ]; then
		echo "FAIL $f: first line is not \"# expect: ...\""
		fail=$((fail + 1))
		continue
	fi
	(cd "$top_srcdir" && "$SLUICE" -t -c "$f") >"$tmp/out" 2>"$tmp/err"
	rc=$?
	# every error line about this file, in the order sluice gives them;
	# an address that something on this machine happens to listen on (a
	# file that reaches the start-up checks) is not the file's mistake
	grep -F -- "$f:" "$tmp/err" | grep -F -- ": error: " |
		grep -v ': address already in use by ' >"$tmp/got"
	if [ "$rc" -eq 1 ] && cmp -s "$tmp/want" "$tmp/got"; then
		echo "ok   $f"
	else
		echo "FAIL $f: exit $rc, expected 1 and these errors on stderr:"
		sed 's/^/	/' "$tmp/want"
		echo "	got:"
		sed 's/^/	/' "$tmp/err"
		fail=$((fail + 1))
	fi
done

echo "$((n - fail)) of $n configuration checks passed"
[ "$fail" -eq 0 ]
