#!/bin/sh
# Builds sluice and runs the whole test suite, twice: a strict-warnings
# build and an AddressSanitizer + UBSan build. This is the README's test
# command and what CI runs.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/contrib/deps.sh"
cd "$top"
./bootstrap >/dev/null 2>&1 || ./bootstrap
jobs=$(nproc 2>/dev/null || echo 2)
run() {
	dir=$1; shift
	echo "== $dir: configure $*"
	mkdir -p "$top/$dir"
	cd "$top/$dir"
	"$top/configure" -q "$@"
	make -j"$jobs" >/dev/null
	if ! make -j"$jobs" check; then
		# show what failed, then fail
		for f in $(find . -name '*.log' -path './tests/*'); do
			if grep -qE '^(FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null; then
				echo "---- $f"; tail -n 80 "$f"
			fi
		done
		exit 1
	fi
	cd "$top"
}
run build --enable-werror
run build-asan --enable-asan
# one plain closing line over both runs
pass=0
fail=0
for log in build/test-suite.log build-asan/test-suite.log; do
	p=$(sed -n 's/^# PASS: *//p' "$top/$log")
	f=$(sed -n 's/^# FAIL: *//p' "$top/$log")
	e=$(sed -n 's/^# ERROR: *//p' "$top/$log")
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0} + ${e:-0}))
done
echo "check: $pass passed, $fail failed"
