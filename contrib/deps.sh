#!/bin/sh
# Installs the Debian packages sluice needs to build, test and benchmark,
# when some are missing. Needs root (or sudo) only when it installs.
set -e
PKGS="build-essential autoconf automake libtool pkg-config \
libevent-dev libssl-dev libyaml-dev libcmocka-dev libhiredis-dev \
libnghttp2-dev nghttp2-client python3-h2 python3-websockets python3-grpcio python3-dnslib \
python3-jwt python3-cryptography libmodsecurity-dev modsecurity-crs \
libnginx-mod-http-modsecurity \
libngtcp2-dev libnghttp3-dev ngtcp2-client \
golang-go golang-github-lucas-clemente-quic-go-dev \
zlib1g-dev libdeflate-dev libbrotli-dev libzstd-dev python3-brotli python3-zstandard \
liblua5.4-dev libnginx-mod-http-lua \
node-llhttp nodejs python3 python3-yaml curl iproute2 openssl haproxy redis-server pebble \
systemd wrk gnuplot-nox chromium fonts-dejavu-core"
# systemd for systemd-socket-activate and systemd-analyze (test_upgrade,
# test_packaging: nothing runs it as the init system); wrk for the load of
# test_upgrade and the benchmarks, gnuplot-nox for contrib/bench/run.sh's
# plot (it refuses to start without it); libmodsecurity-dev and modsecurity-crs
# for the WAF (optional at build time, tested in CI), and nginx's
# ModSecurity module for the WAF's benchmark beside nginx; zlib, libbrotli
# and libzstd for compression (each optional at build time), and Python's
# Brotli and zstd decoders for its tests; libngtcp2-dev and libnghttp3-dev for
# HTTP/3 (optional at build time) and ngtcp2-client, its tests' client;
# Go 1.19 and quic-go 0.29's source for the other client of the HTTP/3
# tests, built offline (tests/quicgo/README); chromium (headless) and a
# font for the status page's test (test_dashboard.py, doc/dashboard.md);
# liblua5.4-dev for Lua filters (optional at build time, doc/lua.md) and
# nginx's Lua module for their benchmark beside nginx (contrib/bench);
# pebble (with pebble-challtestsrv), the test ACME server of the ACME
# tests (test_acme.py, doc/tls.md), started by them on loopback
# npm for the tracing tests' OTLP receiver (below): Node's own npm when
# it came with one, else Debian's
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	# nginx and haproxy are used as referees and upstreams, never as
	# services
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi
# the tracing tests decode sluice's spans with OpenTelemetry's own
# generated code, from npm, kept outside the tree (tests/otlp-deps.sh);
# offline, those tests are skipped (and fail in CI)
sh "$(dirname "$0")/../tests/otlp-deps.sh" >/dev/null ||
	echo "deps: the OTLP receiver's npm package is missing" >&2
exit 0
