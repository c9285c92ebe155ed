#!/usr/bin/env bash
# contrib/bench/hpack.sh -- instructions per header block, sluice's HPACK
# (src/h2/hpack.c) beside nghttp2's, counted by callgrind.
#
# usage: contrib/bench/hpack.sh [--blocks N] [BUILD_DIR]
#
# Builds contrib/bench/hpack_bench.c against BUILD_DIR's libsluice.a
# (default build-werror, as contrib/check.sh leaves it) and libnghttp2,
# then counts, for each coder and each kind of block, the user-space
# instructions of N blocks and of 2N under valgrind's callgrind: the
# difference over N is one block's, with start-up cancelled out. The
# blocks:
#   dec-get       h2load's GET (icount.sh --h2), the second block of a
#                 connection: its fields indexed in the dynamic table the
#                 first one filled
#   dec-grpc      h2load's unary gRPC call (grpc.sh), the same way
#   enc-resp      a response head sluice writes: :status 200,
#                 content-type, content-length, x-request-id
#   enc-trailers  gRPC's trailers: grpc-status 0, grpc-message
# nghttp2's encoder runs with no dynamic table, as sluice's client
# sessions have it (src/front/h2.c); sluice's keeps none either. Needs valgrind, cc and
# libnghttp2-dev. Prints a Markdown table. Nothing is sent anywhere.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
KEEP_ON_ERROR=0  # nothing in the scratch directory worth keeping

BLOCKS=20000
BUILD=build-werror
while [ $# -gt 0 ]; do
	case $1 in
	--blocks) BLOCKS=${2:?}; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "hpack.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
	*) BUILD=$1 ;;
	esac
	shift
done
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$BUILD/libsluice.a" ] || {
	echo "hpack.sh: $BUILD/libsluice.a not built (contrib/build.sh $BUILD)" >&2
	exit 2
}
command -v valgrind >/dev/null || { echo "hpack.sh: valgrind is not installed" >&2; exit 2; }
scratch_dir sluice-hpack "${TMPDIR:-/tmp}"
cc -O2 -I"$top/src/h2" -o "$WORK/hpack_bench" "$top/contrib/bench/hpack_bench.c" \
	"$BUILD/libsluice.a" $(pkg-config --libs libnghttp2)

# count CODER KIND N: the program's total instructions
count() {
	valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
		"$WORK/hpack_bench" "$1" "$2" "$3" >/dev/null 2>"$WORK/vg.err" ||
		{ cat "$WORK/vg.err" >&2; exit 1; }
	sed -n 's/^summary: *//p' "$WORK/cg.out"
}

echo "| block | sluice | nghttp2 | ratio |"
echo "|---|--:|--:|--:|"
for kind in dec-get dec-grpc enc-resp enc-trailers; do
	row="| $kind"
	vals=()
	for coder in sl ng; do
		a=$(count "$coder" "$kind" "$BLOCKS")
		b=$(count "$coder" "$kind" $((2 * BLOCKS)))
		vals+=($(((b - a) / BLOCKS)))
		row="$row | ${vals[-1]}"
	done
	ratio=$(awk -v s="${vals[0]}" -v n="${vals[1]}" 'BEGIN { printf "%.2f", s / n }')
	echo "$row | $ratio |"
done
echo
echo "Instructions per block (callgrind, ${BLOCKS} and $((2 * BLOCKS)) blocks)."
