#!/bin/sh
# Builds sluice and runs the whole test suite, twice: a strict-warnings
# build in build-werror/ and an AddressSanitizer + UBSan build in
# build-asan/. This is the README's test command and what CI runs.
#	contrib/check.sh [--build-only]
# --build-only: install what is missing and build both, tests included;
# run no test.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)

build_only=
case "$*" in
"") ;;
--build-only) build_only=1 ;;
*)
	echo "usage: $0 [--build-only]" >&2
	exit 2
	;;
esac

"$top/contrib/deps.sh"
jobs=$(nproc 2>/dev/null || echo 2)
run() {
	dir=$1; shift
	echo "== $dir: $*"
	"$top/contrib/build.sh" "$dir" "$@"
	cd "$top/$dir"
	if [ -n "$build_only" ]; then
		make -j"$jobs" check TESTS= >/dev/null
	elif ! make -j"$jobs" check; then
		# show what failed, then fail: each failing test's log, then
		# one line per failure last (the end of a CI log is what is
		# read first)
		fails=$(find . -name '*.trs' -path './tests/*' \
			-exec grep -lE '^:test-result: (FAIL|ERROR)' {} +)
		for t in $fails; do
			echo "---- ${t%.trs}.log"
			tail -n 80 "${t%.trs}.log"
		done
		for t in $fails; do
			grep -hE '^# FAILED |^not ok ' "${t%.trs}.log" |
				sed "s|^|$dir ${t%.trs}: |" | cut -c1-400
		done
		exit 1
	fi
	cd "$top"
}
run build-werror --enable-werror
run build-asan --enable-asan
[ -z "$build_only" ] || exit 0
# one plain closing line over both runs
pass=0
fail=0
for log in build-werror/test-suite.log build-asan/test-suite.log; do
	p=$(sed -n 's/^# PASS: *//p' "$top/$log")
	f=$(sed -n 's/^# FAIL: *//p' "$top/$log")
	e=$(sed -n 's/^# ERROR: *//p' "$top/$log")
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0} + ${e:-0}))
done
echo "check: $pass passed, $fail failed"
