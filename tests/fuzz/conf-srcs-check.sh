#!/bin/sh
# SPDX-License-Identifier: MIT
#
# fuzz_conf's libFuzzer build (tests/fuzz/fuzz.mk) links the loader from
# CONF_SRCS, a list of files, where make check's replay links the whole
# library: a module added to conf/ without its files in CONF_SRCS left
# libfuzzer-check's link failing in CI three times (sessions 48, 49, 53).
# This links the same list with cc and tests/fuzz/replay.c's main, in a
# few seconds, so make check says so first. Run by make check with
# top_srcdir set; exit 0 when it links (77, skipped, without libyaml's
# pkg-config file).

top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top=$(cd "$top_srcdir" && pwd)
pkg-config --exists yaml-0.1 libssl libcrypto 2>/dev/null || {
	echo "conf-srcs-check.sh: no pkg-config for yaml-0.1 and libcrypto, skipped"
	exit 77
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-conf-srcs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
if ! make -s -f "$top/tests/fuzz/fuzz.mk" top_srcdir="$top" OUT="$tmp" \
	FUZZ_CC="${CC:-cc}" FUZZ_CFLAGS="-std=c11 -O0 -w" \
	CONF_LIBS="$top/tests/fuzz/replay.c $(pkg-config --libs yaml-0.1 libssl libcrypto) -lpthread -lm" \
	"$tmp/fuzz_conf" >"$tmp/log" 2>&1; then
	grep -E "undefined reference|error" "$tmp/log" | sort -u | head -20
	echo "conf-srcs-check.sh: FAIL: tests/fuzz/fuzz.mk's CONF_SRCS lacks" \
		"a file the loader needs (above)"
	exit 1
fi
echo "conf-srcs-check.sh: fuzz_conf links from CONF_SRCS alone"
