#!/bin/sh
# SPDX-License-Identifier: MIT
#
#	build.sh OUTDIR
#
# Builds slquic (this folder's Go program, an HTTP/3 client on quic-go)
# to OUTDIR/slquic, offline, from Debian 12's packages only: golang-go
# (Go 1.19) and golang-github-lucas-clemente-quic-go-dev (quic-go 0.29.0,
# its dependencies under /usr/share/gocode). No module download: GOPATH
# mode, GOPROXY=off. Everything it writes is under OUTDIR: the binary, and
# OUTDIR/slquic.d (a GOPATH of its own and Go's build cache, so a second
# build only links, a few seconds).
#
# Quiet on success. Exits 77 with one line saying why when Go 1.19 or
# quic-go 0.29 is missing (a test then skips), non-zero with the
# compiler's output on a real failure.
#
# The GOPATH of its own: slquic needs two settings of quic-go's that only
# its internal packages hold (the key update interval, a version quic-go
# does not speak to offer first; see hook/hook.go), and Go lets only a
# package under github.com/lucas-clemente/quic-go import those. So
# OUTDIR/slquic.d/gopath/src/github.com/lucas-clemente/quic-go is made of
# symbolic links to each entry of Debian's unmodified source, plus the one
# small package hook/hook.go as sluicehook; that GOPATH comes first, then
# /usr/share/gocode for everything else. Nothing of quic-go is copied.

out=${1:-}
if [ -z "$out" ]; then
	echo "usage: build.sh OUTDIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd) || exit 1
gocode=${SLQUIC_GOCODE:-/usr/share/gocode}
qg=$gocode/src/github.com/lucas-clemente/quic-go

skip() {
	echo "build.sh: slquic not built: $*"
	exit 77
}
command -v go >/dev/null 2>&1 ||
	skip "no Go (apt-get install golang-go)"
v=$(GOENV=off go env GOVERSION 2>/dev/null)
case $v in
go1.19 | go1.19.*) ;;
# quic-go 0.29's TLS (qtls-go1-19) is a fork of Go 1.19's crypto/tls and
# refuses to build with any other Go
*) skip "quic-go 0.29 builds with Go 1.19 only, this is ${v:-an unknown Go}" ;;
esac
[ -f "$qg/http3/roundtrip.go" ] ||
	skip "no quic-go (apt-get install golang-github-lucas-clemente-quic-go-dev)"
grep -q '^var KeyUpdateInterval' "$qg/internal/handshake/updatable_aead.go" \
	2>/dev/null || skip "$qg is not quic-go 0.29"

mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
w=$out/slquic.d
# one build at a time in OUTDIR: test_quicgo.py and test_http3_names.py
# may run together (make -j2), and each remakes the GOPATH below
mkdir -p "$w" || exit 1
if command -v flock >/dev/null 2>&1; then
	exec 9>"$w/lock" && flock 9 || exit 1
fi
farm=$w/gopath/src/github.com/lucas-clemente/quic-go
# made anew each time (a few dozen links): it follows an upgraded package,
# and Go's cache, keyed by path and content, still hits
rm -rf "$w/gopath" && mkdir -p "$farm/sluicehook" || exit 1
for e in "$qg"/*; do
	ln -s "$e" "$farm/" || exit 1
done
cp "$here/hook/hook.go" "$farm/sluicehook/" || exit 1

# GOENV=off: no $HOME/.config/go/env (CI's HOME may be anything);
# GOFLAGS empty: no -mod=mod from the environment; CGO_ENABLED=0: a static
# binary and no C compiler needed (the pure-Go resolver suffices for
# loopback addresses)
if ! log=$(cd "$here" && GO111MODULE=off GOPATH="$w/gopath:$gocode" \
	GOCACHE="$w/cache" GOPROXY=off GOFLAGS='' GOENV=off CGO_ENABLED=0 \
	GOTOOLCHAIN=local \
	go build -o "$out/slquic.tmp" slquic.go interop.go load.go fetch.go 2>&1); then
	printf '%s\n' "$log" >&2
	echo "build.sh: go build failed" >&2
	rm -f "$out/slquic.tmp" "$out/slquic"
	exit 1
fi
mv -f "$out/slquic.tmp" "$out/slquic"
