#!/usr/bin/env bash
# contrib/h2attack.sh - HTTP/2 attacks on sluice, nginx and HAProxy, measured.
#
#   contrib/h2attack.sh [--quick] [--rounds N] [--only LIST] [--gateways LIST]
#                       [--tls] [--out FILE] [--keep]
#
# For each gateway (one worker or thread each, pinned to GW_CPU, in front of
# the same upstream nginx serving small static files), measures normal
# HTTP/2 traffic (h2load -c 8 -m 4 --rps 250: 2,000 requests/s of GET /, a
# 100-byte file, on 8 connections of their own) once alone ("baseline")
# and once during each attack of contrib/h2attack.py, which runs from 2 s
# (1 s with --quick) before h2load starts to its end, reconnecting
# whenever it is cut:
#
#   rapid-reset    HEADERS + RST_STREAM pairs, as fast as it can, 4 conns
#   continuation   HEADERS without END_HEADERS, then empty CONTINUATION
#                  frames without end (nothing else in between, not even
#                  the SETTINGS ack: it goes first), 4 conns
#   settings, ping, priority, window-update, empty-data
#                  floods of that frame, 4 conns each (empty-data: DATA
#                  frames of 0 bytes on an open POST)
#   hpack-bomb     a 4 KiB field indexed once, then referenced 12,268 times
#                  per 16 KiB HEADERS (50 MB decoded a request), 16 streams
#                  in flight, 4 conns
#   stream-ids     GETs on stream ids jumping from 1 to 2^31-1, 2 conns
#   zero-window    SETTINGS_INITIAL_WINDOW_SIZE 0 and 20 GETs of a 1 MiB
#                  body per connection, never a WINDOW_UPDATE, 32 conns
#   slow-streams   20 conns x as many POSTs as the gateway allows at once
#                  (100 or 128: 2,000-2,560 streams), each sending a 1-byte
#                  DATA about once a second
#   cpuhog         no attack: a busy loop where the attacker runs, to show
#                  what the attacker's CPU use alone costs the normal traffic
#
# Per scenario, gateway and round it reports: the normal traffic's p50 and
# p99 (h2load --log-file, failed requests counted as infinitely slow), and
# p99's ratio to the same gateway's p99 without the attack in the same
# round: to the baseline's ("x base") and to the reference ("x ref", the
# verdict's), the larger of the baseline's and cpuhog's, for the
# attacker's CPU use alone raises it (cpuhog shows by how much); what the
# attacker did (connections, how many the gateway cut by GOAWAY or close,
# the median time to the cut and the median bytes the gateway had READ of
# a connection by then: the gateway's socket counters, by sock_diag, not
# the bytes written, most of which may sit unread in the kernel's buffers;
# connections still open at the end and for how long); the attack's
# requests that reached the upstream (its access log of /atk/*, counted
# after the gateway stopped); the gateway's RSS at the end of the attack
# and its peak, and its CPU share; for sluice, the deltas of
# sluice_http2_refused_total{reason} from its admin /metrics and its
# warnings and errors. Then a summary of the verdicts:
#   p99       within 3x of the reference (of the baseline's when cpuhog
#             is left out by --only)
#   stopped   attacks on a connection (rapid-reset, continuation and the
#             floods): connections cut within 1 s (median), none open for
#             more than 2 s at the end that the gateway still reads;
#             hpack-bomb: no bomb answered 2xx or forwarded; zero-window:
#             held streams reset or connections closed within the run
#             (not judged when the run is shorter than send_timeout, as
#             with --quick)
#   GOAWAY    stream-ids: a GOAWAY before the ids ran out
#   upstream  none of the attack's requests forwarded (rapid-reset,
#             continuation, hpack-bomb and the floods but empty-data, whose
#             POST is a request)
# A p99 is only as steady as the machine: on a shared one, compare the
# rounds.
#
#   --quick          one round of 4 s measurements (5 to 10 minutes)
#   --rounds N       rounds (default 2, about 9 minutes each): every
#                    scenario N times per gateway, gateways alternating
#                    within a scenario
#   --only LIST      scenarios, comma-separated (default: all those above;
#                    the baseline always runs)
#   --gateways LIST  from sluice,nginx,haproxy (default: all three)
#   --tls            TLS (1.3 is what gets negotiated) with ALPN h2 for all
#                    three (a throw-away ECDSA certificate) instead of HTTP/2
#                    with prior knowledge
#   --out FILE       write the tables and the summary there too (markdown)
#   --keep           keep the scratch directory (configs, gateway logs,
#                    h2load's per-request times, the attacker's JSON)
#
# HTTP/2 to the gateways: by default h2c with prior knowledge on plain TCP,
# which all three speak: sluice "protocols: [h2, http/1.1]", nginx 1.22
# "listen ... http2" without ssl, HAProxy 2.6 "bind ... proto h2"; so every
# attack is the same bytes to each. --tls gives each the same certificate:
# sluice's tls: block, nginx "listen ... ssl http2", HAProxy "bind ... ssl
# crt ... alpn h2,http/1.1". The upstream gets HTTP/1.1 with keep-alive.
# Same budgets for the three: head 10 s (sluice header_timeout, nginx
# client_header_timeout, HAProxy timeout http-request), body and send 10 s
# (body_timeout and send_timeout; client_body_timeout and send_timeout;
# timeout client), idle 60 s; the rest at their defaults (sluice:
# max_concurrent_streams 100, max_header_list_bytes = max_header_bytes
# 32 KiB; nginx: http2_max_concurrent_streams 128,
# large_client_header_buffers 4 8k; HAProxy: tune.h2.max-concurrent-streams
# 100, tune.bufsize 16384). sluice logs at info (its default: a line per
# refusal), nginx at warn, HAProxy not at all; no access logs.
#
# CPUs: the gateway alone on GW_CPU; the upstream nginx, h2load and the
# attacker on LOAD_CPU, the attacker (and cpuhog) with SCHED_IDLE (chrt
# --idle 0; nice 19 where that is refused) so that it takes only the CPU
# the others leave. The gateway is started afresh for every
# measurement. The normal traffic is an open-loop rate well below what any
# of the three can serve on one CPU, so that its p99 shows delays, not
# saturation.
#
# Environment: SLUICE (default ./build/src/sluice), NGINX, HAPROXY, H2LOAD,
# OPENSSL, PYTHON (default /usr/bin/python3: needs python3-hpack), GW_CPU
# (0), LOAD_CPU (1), RPS (250 per connection), MAX_SECONDS (3600: the whole
# run is stopped after this long).
#
# Builds nothing. Uses only 127.0.0.1 (ports picked at random from
# 20000-29999). Every process it starts is ended by the trap, every wait is
# bounded. Exits 0 when it ran to the end (whatever the verdicts), 2 when
# something failed to start, 3 when the run was stopped.

set -u
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

QUICK=0
KEEP=0
TLS=0
ROUNDS=""
OUT=""
ALL_SCENARIOS="rapid-reset,continuation,settings,ping,priority,window-update,empty-data,hpack-bomb,stream-ids,zero-window,slow-streams,cpuhog"
ONLY=$ALL_SCENARIOS
GATEWAYS="sluice,nginx,haproxy"
while [ $# -gt 0 ]; do
	a=$1
	shift
	case $a in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	--tls) TLS=1 ;;
	--rounds) ROUNDS=${1:-}; shift ;;
	--only) ONLY=${1:-}; shift ;;
	--gateways) GATEWAYS=${1:-}; shift ;;
	--out) OUT=${1:-}; shift ;;
	-h | --help)
		sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "h2attack: unknown argument: $a (try --help)" >&2
		exit 2
		;;
	esac
done

SLUICE=${SLUICE:-./build/src/sluice}
NGINX=${NGINX:-nginx}
HAPROXY=${HAPROXY:-haproxy}
H2LOAD=${H2LOAD:-h2load}
OPENSSL=${OPENSSL:-openssl}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
RPS=${RPS:-250}
MAX_SECONDS=${MAX_SECONDS:-3600}
ATTACKER=$HERE/h2attack.py

# ---- parameters -----------------------------------------------------------
H2_C=8        # h2load connections
H2_M=4        # ... streams at once on each
if [ "$QUICK" = 1 ]; then
	DURATION=4 # s, the measured window (h2load -D)
	LEAD=1     # s, the attacker's head start
	[ -n "$ROUNDS" ] || ROUNDS=1
else
	DURATION=10
	LEAD=2
	[ -n "$ROUNDS" ] || ROUNDS=2
fi
TIMEOUT=10s   # head, body and send budgets of the three gateways
# The attacker takes only the CPU that h2load and the upstream leave:
# SCHED_IDLE (a woken task of theirs preempts it at once), else nice 19
ATT_PRIO=(chrt --idle 0)

# ---- helpers --------------------------------------------------------------
log() { printf '%s h2attack: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FATAL: $*"
	exit "${2:-2}"
}

case "$ROUNDS" in '' | *[!0-9]* | 0) die "--rounds wants an integer >= 1" ;; esac
for s in ${ONLY//,/ }; do
	case ",$ALL_SCENARIOS," in *",$s,"*) ;; *) die "unknown scenario $s (from $ALL_SCENARIOS)" ;; esac
done
for g in ${GATEWAYS//,/ }; do
	case $g in sluice | nginx | haproxy) ;; *) die "unknown gateway $g (from sluice,nginx,haproxy)" ;; esac
done

for t in "$H2LOAD" "$PYTHON" taskset curl; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install nghttp2-client python3-hpack curl util-linux)"
done
case ",$GATEWAYS," in *,nginx,*) ;; *) command -v "$NGINX" >/dev/null 2>&1 || die "$NGINX not found: the upstream is nginx" ;; esac
command -v "$NGINX" >/dev/null 2>&1 || die "$NGINX not found (apt-get install nginx-light)"
case ",$GATEWAYS," in *,haproxy,*) command -v "$HAPROXY" >/dev/null 2>&1 || die "$HAPROXY not found" ;; esac
[ "$TLS" = 0 ] || command -v "$OPENSSL" >/dev/null 2>&1 || die "$OPENSSL not found (--tls)"
"$PYTHON" -c 'import hpack' 2>/dev/null || die "$PYTHON cannot import hpack (apt-get install python3-hpack)"
if case ",$GATEWAYS," in *,sluice,*) true ;; *) false ;; esac; then
	[ -x "$SLUICE" ] || die "sluice binary not found: $SLUICE (set SLUICE=..., or contrib/build.sh build)"
	SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
fi
chrt --idle 0 true 2>/dev/null || ATT_PRIO=(nice -n 19)
[ "$(nproc)" -ge 2 ] || log "WARNING: $(nproc) CPU: gateway and load share it"

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 8000 ] || die "descriptor limit $(ulimit -n) too low (slow-streams holds thousands)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
OTHERS=$(for p in nginx haproxy sluice h2load wrk; do pgrep -x "$p" || true; done | paste -sd ' ')
[ -z "$OTHERS" ] || log "WARNING: already running, and sharing the CPUs: $(ps -o pid=,comm= -p "${OTHERS// /,}" | awk '{ printf "%s%s (%s)", s, $2, $1; s = ", " }')"
log "cpus $(nproc); load average $LOAD0; gateway on cpu $GW_CPU, load on cpu $LOAD_CPU"

WORK=$(mktemp -d /tmp/sluice-h2attack.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"

# Processes we started, by pid; the trap ends exactly these.
PIDS=()
WATCHDOG=""

proc_alive() { # pid: alive and not a zombie
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
stop_pid() { # pid [signal]: stop one process we started, at most 5 s, then KILL
	local pid=$1 sig=${2:-TERM}
	proc_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kill "-$sig" "$pid" 2>/dev/null
	for _ in $(seq 50); do
		proc_alive "$pid" || break
		sleep 0.1
	done
	if proc_alive "$pid"; then
		log "pid $pid ignored SIG$sig, killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}
forget_pid() { # a reaped pid may be reused: the trap must not signal it
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	if [ -n "$WATCHDOG" ]; then
		kill "$WATCHDOG" 2>/dev/null
		wait "$WATCHDOG" 2>/dev/null
	fi
	if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
		log "scratch directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 3' INT TERM
watchdog() { # stops the whole run after MAX_SECONDS; its sleep holds no pipe
	local sp
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	# shellcheck disable=SC2217 # no pipe of ours may stay open in it
	sleep "$MAX_SECONDS" </dev/null >/dev/null 2>&1 &
	sp=$!
	wait "$sp"
	echo "h2attack: time limit of ${MAX_SECONDS}s reached" >&2
	kill -TERM $$
}
watchdog &
WATCHDOG=$!

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
USED_PORTS=" "
pick_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 10000))
		case $USED_PORTS in *" $p "*) continue ;; esac
		if ! port_busy "$p"; then
			USED_PORTS="$USED_PORTS$p "
			echo "$p"
			return 0
		fi
	done
	return 1
}
UP_PORT=$(pick_port) || die "no free port"
GW_PORT=$(pick_port) || die "no free port"
ADMIN_PORT=$(pick_port) || die "no free port"

wait_until() { # SECONDS CMD...: polls CMD every 0.1 s
	local n=$(($1 * 10))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

SCHEME=http
[ "$TLS" = 1 ] && SCHEME=https
TLS_ARG=()
[ "$TLS" = 1 ] && TLS_ARG=(--tls)

# ---- TLS ------------------------------------------------------------------
TLS_DIR=$WORK/tls
if [ "$TLS" = 1 ]; then
	mkdir -p "$TLS_DIR"
	"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" >"$TLS_DIR/openssl.log" 2>&1 ||
		{ cat "$TLS_DIR/openssl.log" >&2; die "$OPENSSL could not make the certificate"; }
	cat "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" >"$TLS_DIR/combined.pem"
	chmod 600 "$TLS_DIR/key.pem" "$TLS_DIR/combined.pem"
fi

# ---- upstream: nginx --------------------------------------------------------
UP=$WORK/upstream
mkdir -p "$UP/www" "$UP/tmp" "$UP/logs"
head -c 99 /dev/zero | tr '\0' 'x' >"$UP/www/index.html"
echo >>"$UP/www/index.html"
head -c $((1024 * 1024)) /dev/zero | tr '\0' 'y' >"$UP/www/big.bin"
echo ok >"$UP/www/ok"
chmod -R a+rX "$UP"
chmod 777 "$UP/tmp" "$UP/logs"
ROOT_USER=""
[ "$(id -u)" = 0 ] && ROOT_USER="user root;"
ATK_LOG=$UP/logs/atk.log
: >"$ATK_LOG"
cat >"$UP/nginx.conf" <<EOF
# the upstream: static files; the attack's requests (/atk/*) are logged
$ROOT_USER
worker_processes 1;
daemon off;
pid $UP/nginx.pid;
error_log $UP/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
http {
    access_log off;
    log_format atk '\$msec \$request_method \$request_uri \$status \$body_bytes_sent \$request_time';
    default_type application/octet-stream;
    sendfile on;
    open_file_cache max=16 inactive=1h;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_timeout 60s;
    client_body_temp_path $UP/tmp/body;
    proxy_temp_path $UP/tmp/proxy;
    fastcgi_temp_path $UP/tmp/fastcgi;
    uwsgi_temp_path $UP/tmp/uwsgi;
    scgi_temp_path $UP/tmp/scgi;
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        root $UP/www;
        # the normal traffic: 100 bytes
        location = / { try_files /index.html =404; }
        # the attack's GETs: the same 100 bytes, or 1 MiB (zero-window)
        location ^~ /atk/ { access_log $ATK_LOG atk; try_files /index.html =404; }
        location = /atk/big { access_log $ATK_LOG atk; try_files /big.bin =404; }
        # the attack's POSTs: read the whole body (the mirror module reads
        # it before the content phase), then 200 "ok"
        location = /atk/hold {
            access_log $ATK_LOG atk;
            client_max_body_size 100m;
            mirror /_mirror;
            mirror_request_body on;
            error_page 405 =200 /ok;
        }
        location = /_mirror { internal; return 204; }
        location = /ok { access_log $ATK_LOG atk; }
        location = /_status { stub_status; }
    }
}
EOF
log "starting the upstream nginx on 127.0.0.1:$UP_PORT (cpu $LOAD_CPU)"
taskset -c "$LOAD_CPU" "$NGINX" -p "$UP/" -c "$UP/nginx.conf" -e "$UP/logs/error.log" \
	>"$UP/logs/stdout" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
wait_until 10 curl -sf --max-time 1 "http://127.0.0.1:$UP_PORT/" ||
	{ cat "$UP/logs/error.log" "$UP/logs/stdout" >&2; die "upstream nginx did not start"; }
upstream_busy() { # requests the upstream is reading or writing (less the stub_status one)
	curl -s --max-time 2 "http://127.0.0.1:$UP_PORT/_status" |
		awk '/^Reading:/ { print $2 + $4 - 1 }'
}

# ---- gateways -------------------------------------------------------------
conf_sluice() {
	local tls=""
	[ "$TLS" = 1 ] && tls="
    tls:
      certificates:
        - { cert: $TLS_DIR/cert.pem, key: $TLS_DIR/key.pem }"
	cat <<EOF
workers: 1
drain_timeout: 1s
admin: { address: 127.0.0.1:$ADMIN_PORT }
log: { level: info, access: off }
listeners:
  - name: h2
    address: 127.0.0.1:$GW_PORT
    protocols: [h2, http/1.1]$tls
    limits:
      header_timeout: $TIMEOUT
      body_timeout: $TIMEOUT
      send_timeout: $TIMEOUT
      idle_timeout: 60s
    routes:
      - cluster: up
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF
}

conf_nginx() { # dir
	local listen="listen 127.0.0.1:$GW_PORT http2 backlog=4096;"
	[ "$TLS" = 1 ] && listen="listen 127.0.0.1:$GW_PORT ssl http2 backlog=4096;
        ssl_certificate $TLS_DIR/cert.pem;
        ssl_certificate_key $TLS_DIR/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;"
	cat <<EOF
$ROOT_USER
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
    client_header_timeout $TIMEOUT;
    client_body_timeout $TIMEOUT;
    send_timeout $TIMEOUT;
    client_max_body_size 16m;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    upstream u {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
        keepalive_requests 1000000000;
        keepalive_timeout 30s;
    }
    server {
        $listen
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_send_timeout 30s;
            proxy_read_timeout 30s;
            proxy_max_temp_file_size 0;
            proxy_request_buffering off;
        }
    }
}
EOF
}

conf_haproxy() {
	local bind="bind 127.0.0.1:$GW_PORT proto h2"
	[ "$TLS" = 1 ] && bind="bind 127.0.0.1:$GW_PORT ssl crt $TLS_DIR/combined.pem alpn h2,http/1.1"
	cat <<EOF
global
    nbthread 1
    maxconn 20000
    no strict-limits
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout http-request $TIMEOUT
    timeout client $TIMEOUT
    timeout http-keep-alive 60s
    timeout connect 1s
    timeout server 30s
frontend fe
    $bind
    default_backend be
backend be
    server up 127.0.0.1:$UP_PORT
EOF
}

GW_PID=""
GW_PROCS=""
start_gateway() { # name dir
	local name=$1 dir=$2
	mkdir -p "$dir/tmp"
	chmod 777 "$dir/tmp"
	case $name in
	sluice)
		conf_sluice >"$dir/sluice.yaml"
		taskset -c "$GW_CPU" "$SLUICE" -c "$dir/sluice.yaml" >"$dir/gw.out" 2>"$dir/gw.err" &
		;;
	nginx)
		conf_nginx "$dir" >"$dir/nginx.conf"
		taskset -c "$GW_CPU" "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
			>"$dir/gw.out" 2>"$dir/gw.err" &
		;;
	haproxy)
		conf_haproxy >"$dir/haproxy.cfg"
		taskset -c "$GW_CPU" "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/gw.out" 2>"$dir/gw.err" &
		;;
	esac
	GW_PID=$!
	PIDS+=("$GW_PID")
	for _ in $(seq 1 100); do
		"$PYTHON" "$ATTACKER" probe --port "$GW_PORT" "${TLS_ARG[@]}" --duration 2 \
			>"$dir/probe.json" 2>"$dir/probe.err" && grep -q '"200": 1' "$dir/probe.json" && break
		proc_alive "$GW_PID" || break
		sleep 0.1
	done
	if ! grep -q '"200": 1' "$dir/probe.json" 2>/dev/null; then
		tail -n 20 "$dir"/gw.err "$dir"/error.log "$dir/probe.err" 2>/dev/null >&2
		die "$name does not answer HTTP/2 ($SCHEME) on 127.0.0.1:$GW_PORT"
	fi
	GW_PROCS="$GW_PID"
	[ "$name" = nginx ] && GW_PROCS="$GW_PID $(pgrep -P "$GW_PID" | tr '\n' ' ')"
	return 0
}
stop_gateway() {
	[ -n "$GW_PID" ] || return 0
	stop_pid "$GW_PID"
	forget_pid "$GW_PID"
	GW_PID=""
}
gw_rss() { # KiB, all the gateway's processes
	local p t=0 v
	for p in $GW_PROCS; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
gw_ticks() { # utime + stime, all the gateway's processes
	local p t=0 v
	for p in $GW_PROCS; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
metrics() { curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/metrics"; }

h2load_cmd() { # duration [log-file]: the normal traffic's command, in H2CMD
	H2CMD=(taskset -c "$LOAD_CPU" "$H2LOAD" -t1 -c"$H2_C" -m"$H2_M" --rps="$RPS" -D"$1")
	[ "$TLS" = 1 ] && H2CMD+=(--npn-list=h2)
	[ -n "${2:-}" ] && H2CMD+=(--log-file="$2")
	H2CMD+=("$SCHEME://127.0.0.1:$GW_PORT/")
}

# ---- one measurement --------------------------------------------------------
run_one() { # scenario gateway round
	local sc=$1 gw=$2 r=$3 dir att="" t0 t1 rss_end busy sampler
	dir=$WORK/runs/r$r-$sc-$gw
	mkdir -p "$dir"
	start_gateway "$gw" "$dir"
	h2load_cmd 1
	timeout 30 "${H2CMD[@]}" >"$dir/warmup.txt" 2>&1 || log "warm-up of $gw failed: $(tail -n 1 "$dir/warmup.txt")"
	sleep 0.5
	[ "$gw" = sluice ] && metrics >"$dir/m0.txt"
	wc -l <"$ATK_LOG" >"$dir/atk0"
	# the gateway's RSS every 0.5 s (bounded: stopped below, or by itself)
	(
		for _ in $(seq 1 $(((LEAD + DURATION + 40) * 2))); do
			echo "$(date +%s.%N) $(gw_rss)"
			sleep 0.5
		done
	) >"$dir/rss.txt" 2>/dev/null &
	sampler=$!
	PIDS+=("$sampler")
	if [ "$sc" != baseline ]; then
		"${ATT_PRIO[@]}" taskset -c "$LOAD_CPU" "$PYTHON" "$ATTACKER" "$sc" --port "$GW_PORT" \
			"${TLS_ARG[@]}" --duration $((LEAD + DURATION + 30)) --out "$dir/attack.json" \
			>"$dir/attack.out" 2>"$dir/attack.err" &
		att=$!
		PIDS+=("$att")
		sleep "$LEAD"
		proc_alive "$att" || { cat "$dir/attack.err" >&2; die "the attacker ($sc) exited within $LEAD s"; }
	fi
	t0=$(gw_ticks)
	h2load_cmd "$DURATION" "$dir/h2load.log"
	echo "${H2CMD[*]}" >"$dir/h2load.cmd"
	timeout $((DURATION + 30)) "${H2CMD[@]}" >"$dir/h2load.txt" 2>&1 || log "h2load failed for $gw/$sc: $(tail -n 1 "$dir/h2load.txt")"
	t1=$(gw_ticks)
	rss_end=$(gw_rss)
	if [ -n "$att" ]; then
		stop_pid "$att" TERM
		forget_pid "$att"
	fi
	stop_pid "$sampler"
	forget_pid "$sampler"
	local alive=1
	proc_alive "$GW_PID" || alive=0
	[ "$gw" = sluice ] && [ "$alive" = 1 ] && metrics >"$dir/m1.txt"
	stop_gateway
	# the attack's requests the upstream saw: logged once they end, which
	# they do once the gateway is gone
	for _ in $(seq 1 50); do
		busy=$(upstream_busy)
		[ "${busy:-1}" -le 0 ] && break
		sleep 0.1
	done
	{
		echo "gateway=$gw"
		echo "scenario=$sc"
		echo "round=$r"
		echo "alive=$alive"
		echo "rss_end_kib=$rss_end"
		echo "rss_peak_kib=$(awk -v m="$rss_end" '$2 > m { m = $2 } END { print m }' "$dir/rss.txt")"
		echo "cpu_ticks=$((t1 - t0))"
		echo "hz=$(getconf CLK_TCK)"
		echo "duration=$DURATION"
		echo "attack_s=$((LEAD + DURATION))"
		echo "timeout_s=${TIMEOUT%s}"
		echo "upstream_busy_after=${busy:-?}"
		echo "load=$(cut -d' ' -f1 /proc/loadavg)"
	} >"$dir/info.txt"
	tail -n +"$(($(cat "$dir/atk0") + 1))" "$ATK_LOG" >"$dir/upstream-atk.log"
	"$PYTHON" "$ATTACKER" report-run "$dir" >&2 || log "cannot summarize $dir"
	[ "$KEEP" = 1 ] || rm -f "$dir/h2load.log"
	[ "$alive" = 1 ] || log "WARNING: $gw died during $sc (see $dir)"
	[ "$KEEP" = 1 ] || rm -rf "$dir/tmp"
}

# ---- the runs -------------------------------------------------------------
SCENARIOS="baseline ${ONLY//,/ }"
n_runs=$(($(echo "$SCENARIOS" | wc -w) * $(echo "${GATEWAYS//,/ }" | wc -w) * ROUNDS))
log "$n_runs measurements of $DURATION s (about $((n_runs * (DURATION + LEAD + 2) / 60 + 1)) minutes)"
mkdir -p "$WORK/runs"
for r in $(seq 1 "$ROUNDS"); do
	for sc in $SCENARIOS; do
		for gw in ${GATEWAYS//,/ }; do
			run_one "$sc" "$gw" "$r"
		done
	done
done

# ---- report ---------------------------------------------------------------
mode=full
[ "$QUICK" = 1 ] && mode=quick
{
	echo "sluice, nginx and HAProxy under HTTP/2 attacks ($mode, $ROUNDS round(s); $([ "$TLS" = 1 ] && echo "TLS with ALPN h2" || echo "h2c with prior knowledge"))"
	echo
	echo "- normal traffic: h2load -c $H2_C -m $H2_M --rps $RPS -D $DURATION (GET /, 100 B), attacker started $LEAD s before it"
	echo "- machine: $(nproc) cpus; gateway on cpu $GW_CPU; upstream nginx, h2load and the attacker (${ATT_PRIO[*]}) on cpu $LOAD_CPU;" \
		"load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- versions: $("$SLUICE" -V 2>/dev/null | head -n 1 || echo sluice ?); $("$NGINX" -v 2>&1 | head -n 1);" \
		"$("$HAPROXY" -v 2>/dev/null | head -n 1 | cut -d' ' -f1-3); $("$H2LOAD" --version 2>/dev/null | head -n 1)"
	echo
	"$PYTHON" "$ATTACKER" report "$WORK/runs"
} >"$WORK/report.md"
cat "$WORK/report.md"
if [ -n "$OUT" ]; then
	cp "$WORK/report.md" "$OUT" || log "cannot write $OUT"
fi
exit 0
