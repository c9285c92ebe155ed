#!/bin/sh
# SPDX-License-Identifier: MIT
#
# No source file of src/ over 1,500 lines (issue 62: a file that grows past
# it is split where its parts meet, as exchange.c and h2up.c were), and no
# function of src/proxy/ over 150 lines (issue 79: a request's life reads
# in steps; sl_exchange_log was 321 lines, resp_advance 302). A function
# is what lies between a "{" and a "}" each alone at the start of a line,
# the project's style. Run by make check with top_srcdir set. It first
# shows that it can fail: a file of 1,501 lines and a function of 151 in a
# scratch tree must be reported. Exit 0 when all pass.

top_srcdir=${top_srcdir:-$(dirname "$0")/..}
max=1500
fmax=150

# over DIR: the files of DIR/*/*.[ch] over max lines, "lines path" each
over() {
	for f in "$1"/*/*.c "$1"/*/*.h; do
		[ -f "$f" ] || continue
		n=$(wc -l <"$f")
		[ "$n" -gt "$max" ] && echo "$n $f"
	done
	return 0
}

# long_fns FILE...: the functions over fmax lines, "lines path:line" each
long_fns() {
	awk -v max="$fmax" '
		FNR == 1 { start = 0 }
		/^\{/ { start = FNR }
		/^\}/ { if (start && FNR - start - 1 > max)
				print FNR - start - 1, FILENAME ":" start
			start = 0 }' "$@"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-length-check.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' INT TERM

mkdir -p "$tmp/src/a" || exit 99
awk -v n=$((max + 1)) 'BEGIN { for (i = 0; i < n; i++) print "x" }' \
	>"$tmp/src/a/long.c"
awk -v n=$max 'BEGIN { for (i = 0; i < n; i++) print "x" }' \
	>"$tmp/src/a/ok.c"
if [ "$(over "$tmp/src" | wc -l)" -ne 1 ]; then
	echo "file-length-check.sh: FAIL: the check does not see a long file" >&2
	exit 1
fi

mkdir -p "$tmp/src/proxy" || exit 99
{
	printf 'static void\nlong_one(void)\n{\n'
	awk -v n=$((fmax + 1)) 'BEGIN { for (i = 0; i < n; i++) print "\tx();" }'
	printf '}\n\nstatic void\nshort_one(void)\n{\n'
	awk -v n=$fmax 'BEGIN { for (i = 0; i < n; i++) print "\tx();" }'
	printf '}\n'
} >"$tmp/src/proxy/f.c"
if [ "$(long_fns "$tmp/src/proxy/f.c" | wc -l)" -ne 1 ]; then
	echo "file-length-check.sh: FAIL: the check does not see a long function" >&2
	exit 1
fi

fns=$(long_fns "$top_srcdir"/src/proxy/*.c)
if [ -n "$fns" ]; then
	echo "file-length-check.sh: FAIL: functions of src/proxy/ over $fmax lines:" >&2
	echo "$fns" >&2
	exit 1
fi

found=$(over "$top_srcdir/src")
if [ -n "$found" ]; then
	echo "file-length-check.sh: FAIL: files of src/ over $max lines:" >&2
	echo "$found" >&2
	exit 1
fi
echo "file-length-check.sh: no file of src/ over $max lines, no function of src/proxy/ over $fmax"
exit 0
