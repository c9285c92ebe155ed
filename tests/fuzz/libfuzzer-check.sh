#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds every libFuzzer driver with clang (tests/fuzz/fuzz.mk) and runs
# each over its corpus once (-runs=0): make check replays the same inputs
# through replayers linked with libsluice.a, so only this notices a
# driver that no longer links on its own. Run by .ci/run.
#	tests/fuzz/libfuzzer-check.sh
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX") || exit 99
trap 'rm -rf "$out"' EXIT INT TERM
if ! command -v clang >/dev/null 2>&1; then
	echo "libfuzzer-check: clang is not installed" >&2
	exit 1
fi
# the drivers build independently: on as many CPUs as there are (CI:
# two), which halves the stage
make -s -j"$(nproc 2>/dev/null || echo 2)" -f "$top/tests/fuzz/fuzz.mk" OUT="$out" || exit 1
status=0
for bin in "$out"/fuzz_*; do
	name=${bin##*/fuzz_}
	corpus=$top/tests/fuzz/corpus/$name
	if [ ! -d "$corpus" ]; then
		echo "libfuzzer-check: $name has no corpus" >&2
		status=1
		continue
	fi
	if "$bin" -runs=0 "$corpus" >"$out/$name.log" 2>&1; then
		echo "ok   $name ($(ls "$corpus" | wc -l) inputs)"
	else
		echo "FAIL $name"
		tail -n 20 "$out/$name.log"
		status=1
	fi
done
exit $status
