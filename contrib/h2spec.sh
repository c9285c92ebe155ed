#!/usr/bin/env bash
# contrib/h2spec.sh -- HTTP/2 conformance of sluice, HAProxy and nginx by
# h2spec (github.com/summerwind/h2spec, Go, MIT), in strict mode, over h2c
# and over TLS (issue 43).
#
# usage: contrib/h2spec.sh [--gateways LIST] [--out DIR] [--keep]
#            H2SPEC_CHECKOUT
#
#   H2SPEC_CHECKOUT  h2spec's source: a work tree, or a git directory
#                    without one (a bare clone or a mirror: its HEAD is
#                    taken with git archive). None of h2spec is in this
#                    repository and nothing here downloads it.
#   --gateways LIST  from sluice,haproxy,nginx (default: all three)
#   --out DIR        where h2spec.md and each run's JUnit report and log go
#                    (default: a new directory /tmp/sluice-h2spec-out.XXXXXX,
#                    printed at the end)
#   --keep           keep the scratch directory (h2spec's build, configs,
#                    certificate, logs of the gateways and the upstream)
#
# What runs:
#   build     h2spec, offline, with Debian's Go and Debian's Go libraries:
#             GOPATH mode (GO111MODULE=off, GOPROXY=off), the source copied
#             to SCRATCH/gopath/src/github.com/summerwind/h2spec and the
#             libraries from /usr/share/gocode (golang-golang-x-net-dev,
#             golang-github-spf13-cobra-dev, golang-github-spf13-pflag-dev,
#             golang-github-fatih-color-dev; h2spec's go.mod asks for older
#             versions, which are not used). go build -p 2.
#   upstream  contrib/demo-upstream.py: 200 and a small JSON body to every
#             method and path, HTTP/1.1 keep-alive
#   transports, one port and one h2spec run each:
#     h2c     HTTP/2 by prior knowledge on a port that speaks only HTTP/2
#     h2c+h1  the same on a port that also speaks HTTP/1.1 (sluice and
#             HAProxy tell them apart by the connection preface; nginx
#             1.22 cannot, and has no such run)
#     tls     h2 by ALPN (h2, http/1.1 offered)
#   sluice    workers: 1; protocols [h2] (h2c), [h2, http/1.1] (h2c+h1
#             and tls), one route to the upstream; the file checked with
#             sluice -t first
#   HAProxy   nbthread 1, mode http; bind ... proto h2 (h2c), a plain bind
#             (h2c+h1), bind ... ssl alpn h2,http/1.1 (tls)
#   nginx     worker_processes 1; listen ... http2 (h2c: prior knowledge
#             only), listen ... ssl http2 (tls); "http2 on;" from 1.25.1
#   TLS       a throw-away ECDSA P-256 certificate for 127.0.0.1, made
#             with openssl in the scratch directory (h2spec -t -k)
#   h2spec    h2spec --strict -h 127.0.0.1 -p PORT -o H2SPEC_TIMEOUT
#             -j JUNIT [-t -k], once per gateway and transport, each run
#             bounded by H2SPEC_MAX_SECONDS
# Before each run a curl request checks that the gateway answers 200 over
# HTTP/2 on that port (and over HTTP/1.1 on the h2c+h1 one). Traffic is to 127.0.0.1 only; everything started
# here is stopped on exit.
#
# Printed and written to DIR/h2spec.md: per gateway and transport
# "passed/failed/skipped of total" (from h2spec's JUnit report; an error
# counts as a failure) and the failed tests by h2spec's id
# (http2/5.1/9: group and number, as "h2spec http2/5.1/9" runs it alone)
# with their description; DIR/GATEWAY-TRANSPORT.xml and .log are h2spec's
# JUnit report and its output, with the expectation and what it got.
# Exit status: 0 when every test of every run passed, 1 when some failed,
# 2 when something could not run.
#
# Debian packages, installed with apt-get when missing (root or sudo):
# golang-go golang-golang-x-net-dev golang-github-spf13-cobra-dev
# golang-github-spf13-pflag-dev golang-github-fatih-color-dev openssl
# python3 curl iproute2, and haproxy and nginx for those gateways.
#
# Environment: SLUICE (default build-werror/src/sluice, then
# build/src/sluice, in this source tree), HAPROXY, NGINX, PYTHON (python3),
# H2SPEC (an h2spec binary already built: no build then), H2SPEC_TIMEOUT
# (-o, seconds per test, default 2), H2SPEC_MAX_SECONDS (600 per run),
# PORT_BASE (default 19700: the upstream and the gateways take the first
# free ports from there).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)

HAPROXY=${HAPROXY:-haproxy}
NGINX=${NGINX:-nginx}
PYTHON=${PYTHON:-python3}
H2SPEC=${H2SPEC:-}
H2SPEC_TIMEOUT=${H2SPEC_TIMEOUT:-2}
H2SPEC_MAX_SECONDS=${H2SPEC_MAX_SECONDS:-600}
PORT_BASE=${PORT_BASE:-19700}
GATEWAYS="sluice,haproxy,nginx"
OUT=""
KEEP=0
CHECKOUT=""

die() { echo "h2spec.sh: $*" >&2; exit 2; }
log() { echo "$(date +%T) $*" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--gateways) GATEWAYS=${2:?--gateways wants a list}; shift ;;
	--out) OUT=${2:?--out wants a directory}; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (try --help)" ;;
	*) [ -z "$CHECKOUT" ] || die "one H2SPEC_CHECKOUT only (try --help)"
	   CHECKOUT=$1 ;;
	esac
	shift
done
[ -n "$CHECKOUT" ] || [ -n "$H2SPEC" ] ||
	die "usage: $0 [--gateways LIST] [--out DIR] [--keep] H2SPEC_CHECKOUT"
IFS=, read -r -a GWS <<<"$GATEWAYS"
[ "${#GWS[@]}" -gt 0 ] || die "--gateways is empty"
for g in "${GWS[@]}"; do
	case "$g" in sluice|haproxy|nginx) ;; *) die "unknown gateway $g" ;; esac
done
for v in "$H2SPEC_TIMEOUT" "$H2SPEC_MAX_SECONDS" "$PORT_BASE"; do
	case "$v" in ''|*[!0-9]*|0) die "H2SPEC_TIMEOUT, H2SPEC_MAX_SECONDS and PORT_BASE want positive integers" ;; esac
done
has_gw() { case ",$GATEWAYS," in *,"$1",*) return 0 ;; esac; return 1; }
CHECKOUT_KIND=""
if [ -z "$H2SPEC" ]; then
	if [ -d "$CHECKOUT/cmd/h2spec" ]; then
		CHECKOUT_KIND=tree
	elif git --git-dir="$CHECKOUT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
		CHECKOUT_KIND=git
	else
		die "$CHECKOUT is neither h2spec's work tree (no cmd/h2spec) nor a git directory"
	fi
fi

# ---------------------------------------------------------------- packages
# Like contrib/deps.sh: apt-get only for what is missing.
PKGS="openssl python3 curl iproute2"
[ -n "$H2SPEC" ] || PKGS="$PKGS golang-go golang-golang-x-net-dev \
golang-github-spf13-cobra-dev golang-github-spf13-pflag-dev \
golang-github-fatih-color-dev"
if has_gw haproxy && [ "$HAPROXY" = haproxy ]; then PKGS="$PKGS haproxy"; fi
if has_gw nginx && [ "$NGINX" = nginx ]; then PKGS="$PKGS nginx"; fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	log "installing:$missing"
	SUDO=()
	[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -q >/dev/null || die "apt-get update failed"
	# nginx and haproxy are referees here, never services
	# shellcheck disable=SC2086  # $missing is a list of names
	"${SUDO[@]}" apt-get install -y -q --no-install-recommends $missing >/dev/null ||
		die "apt-get install$missing failed"
fi
for c in openssl curl ss timeout "$PYTHON"; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done
if has_gw sluice; then
	if [ -z "${SLUICE:-}" ]; then
		for SLUICE in "$TOP/build-werror/src/sluice" "$TOP/build/src/sluice"; do
			[ -x "$SLUICE" ] && break
		done
	fi
	[ -x "$SLUICE" ] || die "$SLUICE is not executable (build first: contrib/build.sh build-werror --enable-werror, or set SLUICE)"
	SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
fi
if has_gw haproxy; then command -v "$HAPROXY" >/dev/null 2>&1 || die "$HAPROXY not found"; fi
if has_gw nginx; then
	command -v "$NGINX" >/dev/null 2>&1 || die "$NGINX not found"
	"$NGINX" -V 2>&1 | grep -q -- '--with-http_v2_module' || die "$NGINX has no HTTP/2 (ngx_http_v2_module)"
fi

# ---------------------------------------------------------------- scratch
WORK=$(mktemp -d /tmp/sluice-h2spec.XXXXXX)
chmod 755 "$WORK"
if [ -z "$OUT" ]; then OUT=$(mktemp -d /tmp/sluice-h2spec-out.XXXXXX); fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PIDS=()   # every long-running process started here

proc_alive() {  # pid: alive and not a zombie
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

stop_pid() {  # pid: stop one process started here, bounded in time
	local pid=$1 _
	proc_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		proc_alive "$pid" || break
		sleep 0.1
	done
	if proc_alive "$pid"; then
		log "pid $pid ignored SIGTERM, killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

forget_pid() {  # remove a stopped pid from PIDS
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	if [ "$KEEP" = 1 ] || [ "$rc" -gt 1 ]; then
		log "scratch directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

port_free() { [ "$(ss -Hltn "sport = :$1" | wc -l)" -eq 0 ]; }
NEXT_PORT=$PORT_BASE
pick_port() {  # the next free port from NEXT_PORT (sets PORT)
	while ! port_free "$NEXT_PORT"; do
		NEXT_PORT=$((NEXT_PORT + 1))
		[ "$NEXT_PORT" -lt $((PORT_BASE + 200)) ] || die "no free port from $PORT_BASE"
	done
	PORT=$NEXT_PORT
	NEXT_PORT=$((NEXT_PORT + 1))
}

# ---------------------------------------------------------------- h2spec
H2SPEC_REV=""
H2SPEC_BUILT=""
build_h2spec() {
	local src=$WORK/gopath/src/github.com/summerwind/h2spec commit="(unknown)"
	mkdir -p "$src"
	if [ "$CHECKOUT_KIND" = tree ]; then
		# a work tree: as it is, uncommitted changes included
		tar -C "$CHECKOUT" --exclude=.git -cf - . | tar -C "$src" -xf -
		commit=$(git -C "$CHECKOUT" rev-parse --verify -q HEAD 2>/dev/null || echo "(unknown)")
	else
		git --git-dir="$CHECKOUT" archive HEAD | tar -C "$src" -xf -
		commit=$(git --git-dir="$CHECKOUT" rev-parse --verify HEAD)
	fi
	[ -f "$src/cmd/h2spec/h2spec.go" ] || die "$CHECKOUT has no cmd/h2spec/h2spec.go: not h2spec's source?"
	H2SPEC_REV=$commit
	log "building h2spec $commit (GOPATH mode, Debian's Go libraries, offline)"
	mkdir -p "$WORK/gocache"
	if ! (cd "$src" && env GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
		GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" \
		go build -p 2 -ldflags "-X main.COMMIT=$commit" -o "$WORK/h2spec" ./cmd/h2spec) \
		>"$WORK/go-build.log" 2>&1; then
		cat "$WORK/go-build.log" >&2
		die "h2spec did not build (is a golang-*-dev package missing? see the imports above)"
	fi
	H2SPEC=$WORK/h2spec
	H2SPEC_BUILT=", built with $(go version | awk '{ print $3 }') and Debian's Go libraries"
}
if [ -n "$H2SPEC" ]; then
	[ -x "$H2SPEC" ] || die "H2SPEC=$H2SPEC is not executable"
	H2SPEC_REV="(prebuilt $H2SPEC)"
else
	build_h2spec
fi
NTESTS=$("$H2SPEC" --strict --dryrun 2>/dev/null | grep -cE '^ +[0-9]+: ' || true)
log "h2spec: $("$H2SPEC" --version | head -n 1), $NTESTS tests in strict mode"

# ---------------------------------------------------------------- TLS, upstream
TLS_DIR=$WORK/tls
mkdir -p "$TLS_DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" >"$TLS_DIR/openssl.log" 2>&1 ||
	{ cat "$TLS_DIR/openssl.log" >&2; die "openssl could not make the TLS certificate"; }
cat "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" >"$TLS_DIR/combined.pem"  # HAProxy's crt
chmod 600 "$TLS_DIR/key.pem" "$TLS_DIR/combined.pem"

pick_port
UP_PORT=$PORT
"$PYTHON" "$HERE/demo-upstream.py" "127.0.0.1:$UP_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
UP_PID=$!

wait_code() {  # url curl-args...: until it answers 200 (10 s); prints the HTTP version
	local url=$1 n=0 out
	shift
	while [ "$n" -lt 100 ]; do
		n=$((n + 1))
		out=$(curl -sk -o /dev/null --max-time 1 -w '%{http_code} %{http_version}' "$@" "$url" || true)
		case "$out" in 200\ *) echo "${out#200 }"; return 0 ;; esac
		sleep 0.1
	done
	return 1
}
wait_code "http://127.0.0.1:$UP_PORT/" >/dev/null ||
	{ cat "$WORK/upstream.log" >&2; die "the upstream did not start"; }

# ---------------------------------------------------------------- gateways
conf_sluice() {  # h2c-port h2c+h1-port tls-port
	cat <<EOF
workers: 1
drain_timeout: 1s
log: { level: warn, access: off }
listeners:
  - name: h2c
    address: 127.0.0.1:$1
    protocols: [h2]
    routes:
      - cluster: up
  - name: h2c-h1
    address: 127.0.0.1:$2
    protocols: [h2, http/1.1]
    routes:
      - cluster: up
  - name: tls
    address: 127.0.0.1:$3
    protocols: [h2, http/1.1]
    tls:
      certificates:
        - { cert: $TLS_DIR/cert.pem, key: $TLS_DIR/key.pem }
    routes:
      - cluster: up
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
EOF
}

conf_haproxy() {  # h2c-port h2c+h1-port tls-port
	cat <<EOF
global
    nbthread 1
    maxconn 1000
defaults
    mode http
    option http-keep-alive
    timeout http-request 10s
    timeout client 30s
    timeout http-keep-alive 60s
    timeout connect 1s
    timeout server 30s
frontend h2c
    bind 127.0.0.1:$1 proto h2
    default_backend be
frontend h2c-h1
    bind 127.0.0.1:$2
    default_backend be
frontend tls
    bind 127.0.0.1:$3 ssl crt $TLS_DIR/combined.pem alpn h2,http/1.1
    default_backend be
backend be
    server up 127.0.0.1:$UP_PORT
EOF
}

conf_nginx() {  # h2c-port tls-port dir
	local user="" v h2="" plain=" http2" ssl=" ssl http2"
	[ "$(id -u)" = 0 ] && user="user root;"
	v=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9][0-9.]*\).*|\1|p')
	if [ -n "$v" ] && [ "$(printf '%s\n%s\n' 1.25.1 "$v" | sort -V | head -n 1)" = 1.25.1 ]; then
		h2="
        http2 on;"
		plain="" ssl=" ssl"
	fi
	cat <<EOF
$user
worker_processes 1;
daemon off;
pid $3/nginx.pid;
error_log $3/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $3/tmp/body;
    proxy_temp_path $3/tmp/proxy;
    fastcgi_temp_path $3/tmp/fastcgi;
    uwsgi_temp_path $3/tmp/uwsgi;
    scgi_temp_path $3/tmp/scgi;
    upstream u {
        server 127.0.0.1:$UP_PORT;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$1$plain;
        listen 127.0.0.1:$2$ssl;$h2
        ssl_certificate $TLS_DIR/cert.pem;
        ssl_certificate_key $TLS_DIR/key.pem;
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

GW_PID=""
start_gateway() {  # name h2c-port h2c+h1-port tls-port
	local g=$1 dir=$WORK/$1 out
	mkdir -p "$dir/tmp"
	case "$g" in
	sluice)
		conf_sluice "$2" "$3" "$4" >"$dir/sluice.yaml"
		out=$("$SLUICE" -t -c "$dir/sluice.yaml" 2>&1 </dev/null) ||
			{ echo "$out" >&2; die "sluice -t refused $dir/sluice.yaml"; }
		"$SLUICE" -c "$dir/sluice.yaml" >"$dir/log" 2>&1 </dev/null & ;;
	haproxy)
		conf_haproxy "$2" "$3" "$4" >"$dir/haproxy.cfg"
		out=$("$HAPROXY" -c -f "$dir/haproxy.cfg" 2>&1 </dev/null) ||
			{ echo "$out" >&2; die "haproxy -c refused $dir/haproxy.cfg"; }
		"$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/log" 2>&1 </dev/null & ;;
	nginx)
		conf_nginx "$2" "$4" "$dir" >"$dir/nginx.conf"
		"$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
			>"$dir/log" 2>&1 </dev/null & ;;
	esac
	GW_PID=$!
	PIDS+=("$GW_PID")
}

stop_gateway() {
	[ -n "$GW_PID" ] || return 0
	stop_pid "$GW_PID"
	forget_pid "$GW_PID"
	GW_PID=""
}

# The JUnit report of one run: "passed failed skipped total" on the first
# line, then one line per failed test: "id<TAB>description".
junit_summary() {  # file
	"$PYTHON" - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
passed = failed = skipped = 0
lines = []
for suite in root.iter("testsuite"):
    # with --strict every test has a result, so the n-th test case of a
    # group is h2spec's test number n
    for n, tc in enumerate(suite.iter("testcase"), 1):
        if tc.find("skipped") is not None:
            skipped += 1
        elif tc.find("failure") is not None or tc.find("error") is not None:
            failed += 1
            lines.append("%s/%d\t%s" % (tc.get("package"), n, tc.get("classname")))
        else:
            passed += 1
print(passed, failed, skipped, passed + failed + skipped)
for line in lines:
    print(line)
EOF
}

REPORT=$OUT/h2spec.md
TABLE=$WORK/table
FAILS=$WORK/fails
: >"$TABLE"
: >"$FAILS"
ANY_FAILED=0

run_h2spec() {  # gateway transport port
	local g=$1 t=$2 port=$3 ver base=$OUT/$1-$2 args=() rc=0 sum
	if [ "$t" = tls ]; then
		ver=$(wait_code "https://127.0.0.1:$port/" --http2) || {
			cat "$WORK/$g/"*log >&2 || true
			die "$g does not answer 200 over TLS on port $port"; }
		args=(-t -k)
	else
		ver=$(wait_code "http://127.0.0.1:$port/" --http2-prior-knowledge) || {
			cat "$WORK/$g/"*log >&2 || true
			die "$g does not answer 200 over h2c on port $port"; }
		if [ "$t" = h2c+h1 ]; then
			wait_code "http://127.0.0.1:$port/" --http1.1 >/dev/null ||
				die "$g does not answer 200 over HTTP/1.1 on port $port"
		fi
	fi
	[ "$ver" = 2 ] || die "$g answered over HTTP/$ver, not HTTP/2, on the $t port"
	log "$g $t: h2spec --strict on port $port"
	rm -f "$base.xml"
	timeout -k 5 "$H2SPEC_MAX_SECONDS" "$H2SPEC" --strict -h 127.0.0.1 -p "$port" \
		-o "$H2SPEC_TIMEOUT" -j "$base.xml" "${args[@]}" \
		</dev/null >"$base.log" 2>&1 || rc=$?
	# h2spec exits 1 when a test failed; 124 is the time limit
	if [ "$rc" -gt 1 ] || [ ! -s "$base.xml" ]; then
		tail -n 20 "$base.log" >&2
		die "h2spec against $g over $t did not finish (exit $rc; log in $base.log)"
	fi
	sum=$(junit_summary "$base.xml")
	read -r p f s n <<<"$(head -n 1 <<<"$sum")"
	[ "$NTESTS" = 0 ] || [ "$n" = "$NTESTS" ] ||
		log "WARNING: $g $t: $n results in the JUnit report, $NTESTS tests listed by --dryrun"
	[ "$f" = 0 ] || ANY_FAILED=1
	printf '| %s | %s | %s | %s | %s | %s |\n' "$g" "$t" "$p" "$f" "$s" "$n" >>"$TABLE"
	printf '%-8s %-6s %3s passed, %s failed, %s skipped of %s\n' "$g" "$t" "$p" "$f" "$s" "$n"
	tail -n +2 <<<"$sum" | while IFS=$'\t' read -r id desc; do
		[ -n "$id" ] || continue
		printf '         failed: %s  %s\n' "$id" "$desc"
		printf -- '- %s %s: %s %s\n' "$g" "$t" "\`$id\`" "$desc" >>"$FAILS"
	done
}

for g in "${GWS[@]}"; do
	pick_port; P_H2C=$PORT
	pick_port; P_H2C_H1=$PORT
	pick_port; P_TLS=$PORT
	if [ "$g" = nginx ]; then
		log "$g: h2c on 127.0.0.1:$P_H2C, tls on 127.0.0.1:$P_TLS"
	else
		log "$g: h2c on 127.0.0.1:$P_H2C, h2c+h1 on 127.0.0.1:$P_H2C_H1, tls on 127.0.0.1:$P_TLS"
	fi
	start_gateway "$g" "$P_H2C" "$P_H2C_H1" "$P_TLS"
	run_h2spec "$g" h2c "$P_H2C"
	[ "$g" = nginx ] || run_h2spec "$g" h2c+h1 "$P_H2C_H1"
	run_h2spec "$g" tls "$P_TLS"
	stop_gateway
	mkdir -p "$OUT/$g"
	cp "$WORK/$g/"*.yaml "$WORK/$g/"*.cfg "$WORK/$g/"*.conf "$WORK/$g/"*log "$OUT/$g/" 2>/dev/null || true
done
stop_pid "$UP_PID"
forget_pid "$UP_PID"

{
	echo "# h2spec, strict mode ($(date -u +%Y-%m-%d))"
	echo
	echo "h2spec $("$H2SPEC" --version | head -n 1 | sed 's/^Version: //; s/ (.*//')" \
		"at $H2SPEC_REV$H2SPEC_BUILT; per-test timeout ${H2SPEC_TIMEOUT}s."
	has_gw sluice && echo "sluice: $SLUICE ($("$SLUICE" -V 2>&1 | head -n 1 || true))"
	has_gw haproxy && echo "HAProxy: $("$HAPROXY" -v 2>&1 | head -n 1 | awk '{ print $3 }')"
	has_gw nginx && echo "nginx: $("$NGINX" -v 2>&1 | head -n 1 | sed 's|.*nginx/||')"
	echo
	echo "| gateway | transport | passed | failed | skipped | of |"
	echo "| --- | --- | ---: | ---: | ---: | ---: |"
	cat "$TABLE"
	echo
	if [ -s "$FAILS" ]; then
		echo "Failed (h2spec's id; DIR/GATEWAY-TRANSPORT.log has each expectation):"
		echo
		cat "$FAILS"
	else
		echo "No test failed."
	fi
} >"$REPORT"
log "report: $REPORT"
exit "$ANY_FAILED"
