#!/bin/sh
# Builds sluice and runs the whole test suite, twice: a strict-warnings
# build in build-werror/ and an AddressSanitizer + UBSan build in
# build-asan/. This is the README's test command and what CI runs.
#	contrib/check.sh [--build-only | --stop-first]
# --build-only: install what is missing and build both, tests included;
# run no test.
# --stop-first: stop after the first build whose build or tests fail.
# Without it both builds run whatever the first one did, and the last
# line, "check: N passed, N failed", counts every test that ran (and names
# a build whose tests did not run); the exit status is 0 only when both
# builds ran every test and none failed.
#
# For the tests of this script (tests/integration/test_check_script.py):
# SL_CHECK_DEPS, SL_CHECK_BUILD and SL_CHECK_MAKE replace contrib/deps.sh,
# contrib/build.sh and make.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)

build_only=
stop_first=
case "$*" in
"") ;;
--build-only) build_only=1 ;;
--stop-first) stop_first=1 ;;
*)
	echo "usage: $0 [--build-only | --stop-first]" >&2
	exit 2
	;;
esac

deps=${SL_CHECK_DEPS:-"$top/contrib/deps.sh"}
build=${SL_CHECK_BUILD:-"$top/contrib/build.sh"}
mk=${SL_CHECK_MAKE:-make}
"$deps"
jobs=$(nproc 2>/dev/null || echo 2)
failed=0

# run DIR CONFIGURE-ARGUMENT...: builds DIR and runs its tests. Returns
# non-zero when the build or a test failed (and shows what failed).
run() {
	dir=$1
	shift
	echo "== $dir: $*"
	if ! "$build" "$dir" "$@"; then
		echo "check: $dir: the build failed" >&2
		return 1
	fi
	if [ -n "$build_only" ]; then
		(cd "$top/$dir" && "$mk" -j"$jobs" check TESTS= >/dev/null)
		return
	fi
	# a summary left by an earlier run must not be counted as this one's
	rm -f "$top/$dir/test-suite.log"
	if (cd "$top/$dir" && "$mk" -j"$jobs" check); then
		return 0
	fi
	# show what failed, then fail: each failing test's log, then one
	# line per failure last (the end of a CI log is what is read first)
	fails=$(cd "$top/$dir" && find . -name '*.trs' -path './tests/*' \
		-exec grep -lE '^:test-result: (FAIL|ERROR)' {} +) || true
	for t in $fails; do
		echo "---- ${t%.trs}.log"
		tail -n 80 "$top/$dir/${t%.trs}.log"
	done
	for t in $fails; do
		grep -hE '^# FAILED |^not ok ' "$top/$dir/${t%.trs}.log" |
			sed "s|^|$dir ${t%.trs}: |" | cut -c1-400
	done
	return 1
}

for b in "build-werror --enable-werror" "build-asan --enable-asan"; do
	# shellcheck disable=SC2086 # the directory, then its arguments
	if ! run $b; then
		failed=1
		[ -z "$stop_first" ] || break
	fi
done
[ -z "$build_only" ] || exit "$failed"

# one plain closing line over both runs, on every path: what ran
pass=0
fail=0
notrun=
for dir in build-werror build-asan; do
	log=$top/$dir/test-suite.log
	if [ ! -f "$log" ]; then
		notrun="$notrun $dir"
		continue
	fi
	p=$(sed -n 's/^# PASS: *//p' "$log")
	f=$(sed -n 's/^# FAIL: *//p' "$log")
	e=$(sed -n 's/^# ERROR: *//p' "$log")
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0} + ${e:-0}))
done
if [ -n "$notrun" ]; then
	echo "check: $pass passed, $fail failed; no tests ran in:$notrun"
	exit 1
fi
echo "check: $pass passed, $fail failed"
[ "$failed" -eq 0 ] && [ "$fail" -eq 0 ]
