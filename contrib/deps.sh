#!/bin/sh
# Installs the Debian packages sluice needs to build, test and benchmark,
# when some are missing. Needs root (or sudo) only when it installs.
set -e
PKGS="build-essential autoconf automake libtool pkg-config \
libevent-dev libssl-dev libyaml-dev libcmocka-dev libhiredis-dev \
libnghttp2-dev nghttp2-client python3-h2 python3-websockets python3-grpcio python3-dnslib \
python3-jwt python3-cryptography \
node-llhttp nodejs python3 python3-yaml curl iproute2 openssl haproxy redis-server \
systemd wrk"
# systemd for systemd-socket-activate and systemd-analyze (test_upgrade,
# test_packaging: nothing runs it as the init system); wrk for the load of
# test_upgrade and the benchmarks
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# nginx and haproxy are used as referees and upstreams, never as services
$SUDO apt-get install -y -q --no-install-recommends $missing
