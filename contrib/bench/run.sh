#!/usr/bin/env bash
# contrib/bench/run.sh -- sluice, nginx and HAProxy side by side, per core.
#
# usage: contrib/bench/run.sh [--quick] [--rounds N] [--duration SECS]
#            [--only LIST] [--gateways LIST] [--idle-conns N]
#            [--tls-idle-conns N] [--h2-idle-conns N] [--slowread-conns N]
#            [--same-headers] [--big-buffers] [--sat-cpu PCT] [--idle-poll]
#            [--sluice-route plain|split|sticky|mirror|reliable|logged|jwt|ext|traced]
#            [--nice N] [--out DIR] [--keep]
#
#   --quick          3 s per run instead of 10 s
#   --rounds N       runs per gateway per scenario, alternating A B C A B C
#                    (default 3, at least 1)
#   --duration SECS  seconds per measured run (overrides --quick)
#   --only LIST      scenarios, comma-separated, from
#                    ka,close,4k,256k,upload,ka2,sat,idle,slowread,tls-hs,
#                    tls-ka,tls-idle,h2-many,h2-conns,h2-idle (default: all;
#                    the h2-* ones need h2load and add about 6 minutes to
#                    a default run, 3 with --quick)
#   --gateways LIST  from sluice,nginx,haproxy (default: all three)
#   --idle-conns N   idle keep-alive connections for "idle" (default 15000)
#   --slowread-conns N  connections of "slowread" (default 1000): each
#                    asks for /256k with a 4 KiB receive buffer and reads
#                    only the head (slow_readers.py), so that RSS per
#                    connection is what a slow-read attacker costs the
#                    gateway (measured as "idle", with the same columns)
#   --tls-idle-conns N  idle keep-alive TLS connections for "tls-idle"
#                    (default 5000, with --quick 2000)
#   --h2-idle-conns N  idle HTTP/2 connections over TLS for "h2-idle"
#                    (default 2000, with --quick 1000)
#   --same-headers   make nginx and HAProxy add the request headers sluice
#                    adds (X-Forwarded-For, X-Forwarded-Proto, X-Request-Id)
#                    and X-Request-Id on the response, for the same work
#   --big-buffers    give nginx and HAProxy 64 KiB buffers, as sluice has
#                    (nginx: proxy_buffer_size 64k, proxy_buffers 8 64k,
#                    client_body_buffer_size 64k; HAProxy: tune.bufsize 65536)
#   --sat-cpu PCT    the CPU quota of the gateway in "sat", in percent of one
#                    CPU (default 40): low enough that the gateway, not wrk
#                    and the upstream, is the bottleneck (needs root and a
#                    cgroup CPU controller, v1 or v2)
#   --sluice-route R sluice's route: plain (one cluster), split (a 90/10
#                    split between two clusters of the same upstream),
#                    sticky (that split, sticky on header:X-User-Id), mirror
#                    (plain, 10 % copied to a second cluster of the same
#                    upstream), logged (plain with the access log, JSON,
#                    written to a file in the scratch directory; the
#                    latency histograms are always on), reliable (plain
#                    with retry, health_check
#                    and outlier configured: doc/reliability.md), jwt
#                    (plain with auth.jwt: an ES256 key set and a token
#                    made for the run by PyJWT, sent by the load generator
#                    as Authorization: Bearer to every gateway; nginx and
#                    HAProxy do not check it: sluice's CPU per request
#                    against a plain run's is what checking costs,
#                    doc/auth.md), ext (plain with auth.external: an HTTP
#                    check of every request at the upstream nginx's
#                    /auth/ location, which answers 200 with X-Caller-Id,
#                    on kept-alive connections; nginx gets auth_request
#                    to the same location, its X-Caller-Id passed on;
#                    HAProxy has no such check built in and runs plain:
#                    each gateway's CPU per request against its own plain
#                    run is what a check costs it), traced (plain with
#                    tracing: every request sampled, its spans exported
#                    over OTLP/HTTP to the upstream nginx's /v1/traces;
#                    Debian packages no OpenTelemetry module for nginx
#                    or HAProxy: both run plain, and sluice's CPU per
#                    request against its plain run is what tracing
#                    costs, doc/operations.md "Tracing"). With any
#                    of them wrk sends X-User-Id on every
#                    request, so that the variants parse the same bytes:
#                    compare runs of one variant against another.
#   --idle-poll      hold /dev/cpu_dma_latency at 0 for the whole run, so
#                    that idle CPUs poll instead of halting (for every
#                    gateway; needs root): shows what waking from idle costs
#   --nice N         run the gateway, the upstream, wrk and the idle client
#                    with this niceness (e.g. -10, needs root): on a machine
#                    shared with other jobs they then lose less CPU to them
#   --out DIR        where performance.{md,csv,png} go (default: doc/ of this
#                    tree; the text outside the generated block of an
#                    existing performance.md is kept)
#   --keep           keep the scratch directory (configs, logs, wrk output)
#
# TLS scenarios (tls-hs, tls-ka, tls-idle): the gateways terminate TLS (TLS
# 1.2 minimum; 1.3 is what gets negotiated) with the same ECDSA P-256
# certificate, made with openssl in the scratch directory (never kept), and
# talk plain HTTP to the upstream:
#   tls-hs    HTTPS with "Connection: close", 64 connections: one full
#             handshake per request. wrk keeps the session of a closed
#             connection (SSL_clear) and offers it on the next one, so for
#             this scenario all three gateways have session tickets and
#             the session cache off (sluice session_tickets: false,
#             session_cache: 0; nginx ssl_session_tickets off,
#             ssl_session_cache off; HAProxy no-tls-tickets,
#             tune.ssl.cachesize 0): no handshake can resume. A probe
#             (openssl s_client, outside the measured run) checks it, and
#             the report shows what it found.
#   tls-ka    as "ka" over HTTPS (the 64 handshakes happen in the warm-up)
#   tls-idle  as "idle" with --tls-idle-conns TLS connections: each one
#             completes a full handshake (idle_conns.py --tls, Python's
#             ssl), makes one request, then stays idle
#   In tls-ka and tls-idle all three have tickets on, a session cache of
#   20000 sessions and a session lifetime of 1 hour (sluice
#   session_tickets: true, session_cache: 20000; nginx ssl_session_tickets
#   on, ssl_session_cache builtin:20000, ssl_session_timeout 1h; HAProxy
#   tune.ssl.cachesize 20000, tune.ssl.lifetime 3600). Not matched: sluice
#   sends one TLS 1.3 ticket per handshake and none with tickets off; nginx
#   and HAProxy send OpenSSL's two, and with tickets off two stateful ones
#   (useless with the cache off, but made and sent in tls-hs).
#   A sluice without TLS (one that rejects the tls: block with sluice -t,
#   or does not answer HTTPS when started with it) is left out of these
#   three scenarios with a message; the other gateways still run them.
#
# HTTP/2 scenarios (h2-many, h2-conns, h2-idle): as tls-ka (same
# certificate, TLS 1.3, tickets on, a session cache of 20000), with HTTP/2
# offered by ALPN: sluice's listener has "protocols: [h2, http/1.1]", nginx
# "listen ... ssl http2" (before 1.25.1; "http2 on;" from it), HAProxy
# "bind ... alpn h2,http/1.1"; plain HTTP/1.1 to the upstream, as before.
# The load generator is h2load (nghttp2-client; H2LOAD), one thread on
# LOAD_CPU, offering ALPN "h2" only, so that a connection that does not
# negotiate h2 fails and shows as errors, and OpenSSL's default TLS 1.3
# cipher order (as wrk; h2load's own puts AES-128 first, which nginx
# would take and the others not); the run checks that h2load
# reports "Application protocol: h2" and warns otherwise. Its warm-up is a
# separate 1 s run, as wrk's, so the measured run makes its TLS handshakes
# (1 or 64, resumption not offered) itself. p50/p99 come from h2load's
# --log-file (per-request times, from the request's start to the end of
# its response), CPU per request as for wrk.
#   h2-many   1 connection x 100 concurrent streams, GET / (100 B); 100 is
#             the SETTINGS_MAX_CONCURRENT_STREAMS of sluice and HAProxy
#             (nginx: 128)
#   h2-conns  64 connections x 1 stream each, GET /
#   h2-idle   as tls-idle with --h2-idle-conns connections that negotiate
#             h2 by ALPN (idle_conns.py --tls --h2: preface, SETTINGS, one
#             GET / on stream 1, the response read), then stay idle; the
#             warm-up is 2 s of h2load with 64 connections
#   An nginx without ngx_http_v2_module, or a sluice whose sluice -t
#   rejects "protocols:", is left out of these three with a message.
#
# Idle scenarios (idle, tls-idle, h2-idle): besides the gateway's RSS growth per
# connection they report the KERNEL memory per idle connection that the
# gateway accounts for (doc/scale.md has the method and the figures).
# As root, the gateway and the idle client each run in a memory cgroup of
# their own (v1 or v2): the gateway's share = the kernel memory charged to
# its cgroup + one "TCP" slab object per connection (an accepted socket is
# made in softirq before accept() and charged to nobody). Machine-wide,
# /proc/meminfo (Slab + KernelStack + PageTables + Percpu, less the
# /proc/PID/fd entries something listing descriptors leaves behind),
# /proc/net/sockstat{,6} and /proc/slabinfo are sampled with the RSS: that
# growth holds both loopback ends and any other job on the machine, and
# minus the client's share it is the cross-check. Before the gateways of
# each scenario and round a reference run opens the same number of plain
# connections to idle_conns.py --serve (accepts, answers, holds without
# polling): a bare accepted socket's cost; without cgroups (not root) it
# gives the client's share instead ((growth - the connecting end's port
# buckets) / 2 + buckets). New performance.csv columns, after the old ones:
# kern_before_kib, kern_with_kib (the machine-wide sum), then bytes per
# connection set up (idle_ok): kern_all_ (machine-wide, both ends),
# kern_slab_, kern_sunreclaim_, kern_sreclaimable_ (its parts), kern_procfs_
# (the /proc entries left out), tcp_inuse_delta, tcp_mem_pages_delta
# (sockstat; buffer pages, not added), kern_asym_ (the port buckets' slab),
# kern_client_ (client's share), kern_global_ (machine-wide - client),
# memcg_ (charged to the gateway's cgroup), memcg_client_, kern_accept_
# (the TCP object), kern_bytes_per_conn (the gateway's share: memcg_ +
# kern_accept_, else kern_global_), total_bytes_per_conn
# (idle_bytes_per_conn + kern_bytes_per_conn); the reference run is a line
# with gateway "reference". --keep keeps the samples and a per-cache
# breakdown per run (*.kmem). The idle client and the reference server close
# with a reset, leaving no TIME_WAIT sockets to be freed during the next
# measurement.
#
# Environment: SLUICE (default ./build/src/sluice), NGINX, HAPROXY, WRK,
# GNUPLOT, OPENSSL (TLS and HTTP/2 scenarios only), H2LOAD (HTTP/2
# scenarios only), PYTHON (default /usr/bin/python3
# when present), GW_CPU (0), LOAD_CPU (1), UP_PORT (19100), GW_PORT
# (19200), MAX_SECONDS (2400: the whole run is stopped after this long).
#
# The upstream (nginx, 1 worker) and wrk run on LOAD_CPU; the gateway under
# test runs alone on GW_CPU (for "ka2", with 2 workers, on both CPUs; for
# "sat", in a cgroup whose CPU quota makes it the bottleneck, so that req/s
# is its capacity).
# Traffic is to 127.0.0.1 only. Everything started here is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
TOP=$(cd "$HERE/../.." && pwd)

SLUICE=${SLUICE:-./build/src/sluice}
NGINX=${NGINX:-nginx}
HAPROXY=${HAPROXY:-haproxy}
WRK=${WRK:-wrk}
GNUPLOT=${GNUPLOT:-gnuplot}
OPENSSL=${OPENSSL:-openssl}
H2LOAD=${H2LOAD:-h2load}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
UP_PORT=${UP_PORT:-19100}
GW_PORT=${GW_PORT:-19200}
MAX_SECONDS=${MAX_SECONDS:-2400}

DURATION=10
WARMUP=1
ROUNDS=3
QUICK=0
ONLY="ka,close,4k,256k,upload,ka2,sat,idle,slowread,tls-hs,tls-ka,tls-idle,h2-many,h2-conns,h2-idle"
SLOWREAD_CONNS=1000
IDLE_CLIENT=idle_conns.py
GATEWAYS="sluice,nginx,haproxy"
IDLE_CONNS=15000
TLS_IDLE_CONNS=""  # 5000, with --quick 2000
H2_IDLE_CONNS=""   # 2000, with --quick 1000
SAME_HEADERS=0
BIG_BUFFERS=0
SAT_CPU=40
IDLE_POLL=0
SLUICE_ROUTE=""
NICE=""
OUT="$TOP/doc"
KEEP=0
ARGS="$*"

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1; DURATION=3 ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--duration) DURATION=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--gateways) GATEWAYS=${2:?}; shift ;;
	--idle-conns) IDLE_CONNS=${2:?}; shift ;;
	--tls-idle-conns) TLS_IDLE_CONNS=${2:?}; shift ;;
	--h2-idle-conns) H2_IDLE_CONNS=${2:?}; shift ;;
	--slowread-conns) SLOWREAD_CONNS=${2:?}; shift ;;
	--same-headers) SAME_HEADERS=1 ;;
	--big-buffers) BIG_BUFFERS=1 ;;
	--sat-cpu) SAT_CPU=${2:?}; shift ;;
	--idle-poll) IDLE_POLL=1 ;;
	--sluice-route) SLUICE_ROUTE=${2:?}; shift
		case "$SLUICE_ROUTE" in plain|split|sticky|mirror|reliable|logged|jwt|ext|traced) ;;
		*) die "--sluice-route wants plain, split, sticky, mirror, reliable, logged, jwt, ext or traced" ;;
		esac ;;
	--nice) NICE=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done
case "$ROUNDS" in ''|*[!0-9]*|0) die "--rounds wants an integer >= 1" ;; esac
case "$DURATION" in ''|*[!0-9]*|0) die "--duration wants an integer >= 1" ;; esac
NICE_CMD=(env)  # a no-op prefix
if [ -n "$NICE" ]; then
	case "$NICE" in -[0-9]*|[0-9]*) ;; *) die "--nice wants an integer" ;; esac
	nice -n "$NICE" true 2>/dev/null && [ "$(nice -n "$NICE" nice)" = "$NICE" ] ||
		die "cannot run with niceness $NICE (negative values need root)"
	NICE_CMD=(nice -n "$NICE")
fi
case "$IDLE_CONNS" in ''|*[!0-9]*|0) die "--idle-conns wants an integer >= 1" ;; esac
[ -n "$TLS_IDLE_CONNS" ] || if [ "$QUICK" = 1 ]; then TLS_IDLE_CONNS=2000; else TLS_IDLE_CONNS=5000; fi
case "$TLS_IDLE_CONNS" in ''|*[!0-9]*|0) die "--tls-idle-conns wants an integer >= 1" ;; esac
[ -n "$H2_IDLE_CONNS" ] || if [ "$QUICK" = 1 ]; then H2_IDLE_CONNS=1000; else H2_IDLE_CONNS=2000; fi
case "$H2_IDLE_CONNS" in ''|*[!0-9]*|0) die "--h2-idle-conns wants an integer >= 1" ;; esac
case "$SLOWREAD_CONNS" in ''|*[!0-9]*|0) die "--slowread-conns wants an integer >= 1" ;; esac
case "$SAT_CPU" in ''|*[!0-9]*|0) die "--sat-cpu wants a percentage from 1 to 100" ;; esac
[ "$SAT_CPU" -le 100 ] || die "--sat-cpu wants a percentage from 1 to 100"

# ---------------------------------------------------------------- checks
for t in "$NGINX" "$HAPROXY" "$WRK" "$GNUPLOT" "$PYTHON" taskset curl ss pgrep; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install nginx-light haproxy wrk gnuplot-nox python3 curl procps)"
done
[ -x "$SLUICE" ] || die "sluice binary $SLUICE not found (set SLUICE=...)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPUs"
for p in "$UP_PORT" "$GW_PORT"; do
	port_free "$p" || die "port $p is already in use"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((IDLE_CONNS + 200)) ] || case ",$ONLY," in
	*,idle,*) die "fd limit $(ulimit -n) too low for --idle-conns $IDLE_CONNS" ;;
	esac
[ "$(ulimit -n)" -ge $((2 * SLOWREAD_CONNS + 200)) ] || case ",$ONLY," in
	*,slowread,*) die "fd limit $(ulimit -n) too low for --slowread-conns $SLOWREAD_CONNS" ;;
	esac
[ "$(ulimit -n)" -ge $((TLS_IDLE_CONNS + 200)) ] || case ",$ONLY," in
	*,tls-idle,*) die "fd limit $(ulimit -n) too low for --tls-idle-conns $TLS_IDLE_CONNS" ;;
	esac
[ "$(ulimit -n)" -ge $((H2_IDLE_CONNS + 200)) ] || case ",$ONLY," in
	*,h2-idle,*) die "fd limit $(ulimit -n) too low for --h2-idle-conns $H2_IDLE_CONNS" ;;
	esac
TLS_WANTED=0
H2_WANTED=0
case ",$ONLY," in *,tls-*|*,h2-*) TLS_WANTED=1 ;; esac
case ",$ONLY," in *,h2-*) H2_WANTED=1 ;; esac
if [ "$TLS_WANTED" = 1 ]; then
	command -v "$OPENSSL" >/dev/null 2>&1 || die "$OPENSSL not found (apt-get install openssl), needed by the tls-* and h2-* scenarios"
fi
if [ "$H2_WANTED" = 1 ]; then
	command -v "$H2LOAD" >/dev/null 2>&1 || die "$H2LOAD not found (apt-get install nghttp2-client), needed by the h2-* scenarios (leave them out with --only)"
fi
# Other gateways, upstreams or load generators left running would share
# the CPUs (and a stray one with SO_REUSEPORT on GW_PORT would even share
# the traffic: the port check above catches only a listener without it).
others_running nginx haproxy sluice wrk h2load
out_dir

scratch_dir sluice-bench
watchdog_start "$MAX_SECONDS"
CAP_DIR=""  # the cgroup of "sat"
on_exit '[ -z "$CAP_DIR" ] || rmdir "$CAP_DIR" 2>/dev/null || true'

# ---------------------------------------------------------------- upstream
UP="$WORK/upstream"
setup_upstream() {
	mkdir -p "$UP/www" "$UP/tmp" "$UP/logs"
	"$PYTHON" - "$UP/www" <<'EOF'
import os, sys
d = sys.argv[1]
def put(name, n):
    line = b"sluice bench payload 0123456789abcdefghijklmnopqrstuvwxyz\n"
    data = (line * (n // len(line) + 1))[:n - 1] + b"\n"
    open(os.path.join(d, name), "wb").write(data)
put("index.html", 100)
put("4k", 4096)
put("256k", 262144)
open(os.path.join(d, "ok"), "wb").write(b"ok\n")
open(os.path.join(d, "upload"), "wb").close()  # POST to it: 405 -> 200 /ok
EOF
	chmod -R a+rX "$UP"
	chmod 777 "$UP/tmp"
	cat >"$UP/nginx.conf" <<EOF
# bench upstream: one nginx worker serving static files from memory cache
$NGINX_USER
worker_processes 1;
daemon off;
pid $UP/nginx.pid;
error_log $UP/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    open_file_cache max=16 inactive=1h;
    open_file_cache_valid 1h;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$UP/tmp")
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        root $UP/www;
        location = / { try_files /index.html =404; }
        location = /4k { }
        location = /256k { }
        # Reads the whole 1 MiB body into memory (the mirror module reads
        # it before the content phase), then answers 200 "ok": the static
        # handler refuses POST with 405, turned into 200 + /ok as a GET.
        location = /upload {
            client_max_body_size 2m;
            client_body_buffer_size 2m;
            mirror /_mirror;
            mirror_request_body on;
            error_page 405 =200 /ok;
        }
        location = /_mirror { internal; return 204; }
        # the authorization service of --sluice-route ext
        location /auth/ { add_header X-Caller-Id user-4242 always; return 200; }
        # the OTLP collector of --sluice-route traced: takes every export
        location = /v1/traces { return 200; }
        location = /ok { }
        location = /_status { stub_status; }
    }
}
EOF
}

start_upstream() {
	server_start nginx "$UP" "$LOAD_CPU" "${NICE_CMD[@]}"
	UP_PID=$SERVER_PID
	wait_http "http://127.0.0.1:$UP_PORT/" 10 "$UP_PID" || server_failed "$UP" "upstream nginx did not start"
}

upstream_accepts() {
	curl -s --max-time 2 "http://127.0.0.1:$UP_PORT/_status" | awk 'NR == 3 { print $1 }'
}

# ---------------------------------------------------------------- gateways
# Equivalent settings: one listener on 127.0.0.1:GW_PORT, one upstream with
# a keep-alive pool of 256, no access log, 8 MiB bodies, sluice's default
# timeouts (head 10s, body/send 30s, client idle 60s, connect 1s, response
# 30s, pooled idle 30s), no limit on requests per connection either side.

conf_sluice() {  # workers
	cat <<EOF
workers: $1
drain_timeout: 1s
log: { level: warn, access: $(sluice_access) }$(sluice_tracing)
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT$(sluice_protocols)$(sluice_tls)
    limits:
      max_body_bytes: 8MiB
    routes:
      - $(sluice_route)
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }$(sluice_cluster_extra)
  - name: up2
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF
}

# TLS of the gateway under test (set per scenario): "" = plain HTTP,
# "resume" = session tickets on and a session cache of 20000 sessions,
# "full" = tickets and cache off, so that every handshake is a full one
GW_TLS=""
TLS_DIR=""
# HTTP/2 offered to clients (set per scenario): 1 = ALPN h2 and http/1.1
GW_H2=""

sluice_protocols() {  # the listener's protocols: line (GW_H2)
	[ -n "$GW_H2" ] || return 0
	printf '\n    protocols: [h2, http/1.1]'
}

# nginx: "http2 on;" from 1.25.1, "listen ... http2" before (and without
# ngx_http_v2_module, no HTTP/2 at all: NGINX_H2=no)
NGINX_H2=yes
NGINX_H2_DIRECTIVE=0
nginx_h2_check() {
	local v
	"$NGINX" -V 2>&1 | grep -q -- '--with-http_v2_module' || { NGINX_H2=no; return 1; }
	v=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9][0-9.]*\).*|\1|p')
	if [ -n "$v" ] && [ "$(printf '%s\n%s\n' 1.25.1 "$v" | sort -V | head -n 1)" = 1.25.1 ]; then
		NGINX_H2_DIRECTIVE=1
	fi
	return 0
}

sluice_tls() {  # the listener's tls: block (GW_TLS)
	[ -n "$GW_TLS" ] || return 0
	local tickets=true cache=20000
	[ "$GW_TLS" = full ] && { tickets=false; cache=0; }
	printf '\n    %s\n      %s\n        %s\n      %s\n      %s' "tls:" "certificates:" \
		"- { cert: $TLS_DIR/cert.pem, key: $TLS_DIR/key.pem }" \
		"session_tickets: $tickets" "session_cache: $cache"
}

sluice_access() {  # the access log (--sluice-route logged: to a file)
	if [ "$SLUICE_ROUTE" = logged ]; then echo "$WORK/sluice-access.log"
	else echo off; fi
}

sluice_route() {  # the route's target lines (--sluice-route)
	case "$SLUICE_ROUTE" in
	split) echo "split: [{ cluster: up, weight: 90 }, { cluster: up2, weight: 10 }]" ;;
	sticky) printf '%s\n        %s\n' \
		"split: [{ cluster: up, weight: 90 }, { cluster: up2, weight: 10 }]" \
		"sticky: header:X-User-Id" ;;
	mirror) printf '%s\n        %s\n' "cluster: up" \
		"mirror: { cluster: up2, percent: 10 }" ;;
	reliable) printf '%s\n        %s\n' "cluster: up" \
		"retry: { attempts: 3, on: [connect-failure, reset, timeout, 503], idempotency_key: true, per_try_timeout: 10s, budget: 20% }" ;;
	jwt) printf '%s\n        %s\n' "cluster: up" \
		"auth: { jwt: { keys: $WORK/jwks.json, issuer: bench, audience: bench, claims_to_headers: { sub: X-Caller-Id } } }" ;;
	ext) printf '%s\n        %s\n' "cluster: up" \
		"auth: { external: { cluster: up2, path: /auth, headers: [X-User-Id], upstream_headers: [X-Caller-Id] } }" ;;
	*) echo "cluster: up" ;;
	esac
}

sluice_tracing() {  # the top-level tracing: of --sluice-route traced
	[ "$SLUICE_ROUTE" = traced ] || return 0
	printf '\n%s' "tracing: { cluster: up2, path: /v1/traces, sample: 100% }"
}

sluice_cluster_extra() {  # more keys of cluster "up" (--sluice-route)
	[ "$SLUICE_ROUTE" = reliable ] || return 0
	printf '\n    %s\n    %s' \
		"health_check: { path: /, interval: 1s, timeout: 500ms }" \
		"outlier: { consecutive_errors: 5, ejection_time: 30s }"
}

conf_nginx() {  # workers dir
	local hdr="" buf="" ssl="" tls=""
	if [ -n "$GW_TLS" ]; then
		ssl=" ssl"
		if [ -n "$GW_H2" ]; then
			if [ "$NGINX_H2_DIRECTIVE" = 1 ]; then tls="
        http2 on;"
			else ssl=" ssl http2"; fi
		fi
		tls="$tls
        ssl_certificate $TLS_DIR/cert.pem;
        ssl_certificate_key $TLS_DIR/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;"
		if [ "$GW_TLS" = full ]; then tls="$tls
        ssl_session_tickets off;
        ssl_session_cache off;"
		else tls="$tls
        ssl_session_tickets on;
        ssl_session_cache builtin:20000;
        ssl_session_timeout 1h;"
		fi
	fi
	[ "$BIG_BUFFERS" = 1 ] && buf='
            proxy_buffer_size 64k;
            proxy_buffers 8 64k;
            proxy_busy_buffers_size 128k;
            client_body_buffer_size 64k;'
	local authreq="" authloc=""
	if [ "$SLUICE_ROUTE" = ext ]; then
		authreq='
            auth_request /_auth;
            auth_request_set $caller $upstream_http_x_caller_id;
            proxy_set_header X-Caller-Id $caller;'
		authloc='
        location = /_auth {
            internal;
            proxy_pass http://u/auth$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }'
	fi
	[ "$SAME_HEADERS" = 1 ] && hdr='
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
            add_header X-Request-Id $request_id always;'
	cat <<EOF
$NGINX_USER
worker_processes $1;
daemon off;
pid $2/nginx.pid;
error_log $2/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
    client_header_timeout 10s;
    client_body_timeout 30s;
    send_timeout 30s;
    client_max_body_size 8m;
$(nginx_temp_paths "$2/tmp")
    upstream u {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
        keepalive_requests 1000000000;
        keepalive_timeout 30s;
    }
    server {
        listen 127.0.0.1:$GW_PORT$ssl backlog=4096 reuseport;$tls
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_send_timeout 30s;
            proxy_read_timeout 30s;
            # proxy_buffering on (default); buffer in memory only, and
            # stream request bodies as sluice and HAProxy do (no temp files)
            proxy_max_temp_file_size 0;
            proxy_request_buffering off;$buf$hdr$authreq
        }$authloc
    }
}
EOF
}

conf_haproxy() {  # workers
	local hdr="" uid="" buf="" bind="" cache="" proto=http
	[ "$BIG_BUFFERS" = 1 ] && buf="    tune.bufsize 65536"
	if [ -n "$GW_TLS" ]; then
		proto=https
		bind=" ssl crt $TLS_DIR/combined.pem ssl-min-ver TLSv1.2"
		[ -n "$GW_H2" ] && bind="$bind alpn h2,http/1.1"
		if [ "$GW_TLS" = full ]; then
			bind="$bind no-tls-tickets"
			cache="    tune.ssl.cachesize 0"
		else
			cache="    tune.ssl.cachesize 20000
    tune.ssl.lifetime 3600"
		fi
	fi
	[ "$SAME_HEADERS" = 1 ] && {
		uid='    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid'
		hdr="    option forwardfor
    http-request set-header X-Forwarded-Proto $proto
    http-request set-header X-Request-Id %[unique-id]
    http-response set-header X-Request-Id %[unique-id]"
	}
	cat <<EOF
global
    nbthread $1
    maxconn 20000
    # HAProxy wants 2 fds per maxconn (40014) and the hard limit here may be
    # lower (20000): with "no strict-limits" it warns but runs, and 15,000
    # idle client connections fit
    no strict-limits
$buf
$cache
    # no "log" line: nothing is logged
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout http-request 10s
    timeout client 30s
    timeout http-keep-alive 60s
    timeout connect 1s
    timeout server 30s
$uid
frontend fe
    bind 127.0.0.1:$GW_PORT$bind
$hdr
    default_backend be
backend be
    server up 127.0.0.1:$UP_PORT
EOF
}

gw_url() {  # scheme://host:port of the gateway under test (GW_TLS)
	if [ -n "$GW_TLS" ]; then echo "https://127.0.0.1:$GW_PORT"; else echo "http://127.0.0.1:$GW_PORT"; fi
}

tls_setup() {  # a throw-away ECDSA P-256 certificate in the scratch directory
	TLS_DIR="$WORK/tls"
	mkdir -p "$TLS_DIR"
	"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" >"$TLS_DIR/openssl.log" 2>&1 ||
		{ cat "$TLS_DIR/openssl.log" >&2; die "$OPENSSL could not make the TLS certificate"; }
	cat "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" >"$TLS_DIR/combined.pem"  # HAProxy's crt
	chmod 600 "$TLS_DIR/key.pem" "$TLS_DIR/combined.pem"
}

# Does this sluice take the listener's tls: block (both variants, sluice -t)
# and then answer over HTTPS (started for a moment; needs the upstream)?
# Sets SLUICE_TLS_WHY when it does not.
SLUICE_TLS=yes
SLUICE_TLS_WHY=""
sluice_tls_check() {
	local m out f pid ok=1
	for m in resume full; do
		f="$TLS_DIR/check-sluice-$m.yaml"
		GW_TLS=$m
		conf_sluice 1 >"$f"
		GW_TLS=""
		if ! out=$("$SLUICE" -t -c "$f" 2>&1 </dev/null); then
			SLUICE_TLS_WHY="sluice -t: $(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | head -n 1)"
			return 1
		fi
	done
	taskset -c "$GW_CPU" "$SLUICE" -c "$TLS_DIR/check-sluice-resume.yaml" \
		>"$TLS_DIR/check-sluice.log" 2>&1 </dev/null &
	pid=$!
	register_pid "$pid"
	GW_TLS=resume
	wait_http "$(gw_url)/" 5 "$pid" || ok=0
	GW_TLS=""
	stop_pid "$pid"
	[ "$ok" = 1 ] && return 0
	SLUICE_TLS_WHY="sluice -t accepts the tls: block, but sluice started with it does not answer GET / over HTTPS$(
		[ -s "$TLS_DIR/check-sluice.log" ] && printf ': %s' "$(grep -v '^[[:space:]]*$' "$TLS_DIR/check-sluice.log" | tail -n 2 | paste -sd ' ')")"
	return 1
}

# Does this sluice take "protocols: [h2, http/1.1]" (sluice -t) with the
# tls: block of tls-ka? Sets SLUICE_H2_WHY when it does not. (Whether it
# then speaks HTTP/2 is what h2_probe and the runs themselves check.)
SLUICE_H2=yes
SLUICE_H2_WHY=""
sluice_h2_check() {
	local f="$TLS_DIR/check-sluice-h2.yaml" out
	GW_TLS=resume GW_H2=1
	conf_sluice 1 >"$f"
	GW_TLS="" GW_H2=""
	if ! out=$("$SLUICE" -t -c "$f" 2>&1 </dev/null); then
		SLUICE_H2_WHY="sluice -t: $(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | head -n 1)"
		return 1
	fi
}

# What h2load negotiates with the gateway when it offers ALPN "h2,http/1.1"
# as a browser does (the measured runs offer "h2" only): 4 requests on one
# connection, outside the measured run; appends a line to $WORK/h2-check.txt.
h2_probe() {  # scenario gateway
	local f="$WORK/h2-probe-$1-$2.txt"
	timeout 20 taskset -c "$LOAD_CPU" "$H2LOAD" -n 4 -c 1 -m 4 --npn-list=h2,http/1.1 \
		--tls13-ciphers="$H2LOAD_TLS13" "$(gw_url)/" >"$f" 2>&1 || true
	h2_check_line "$1" "$2" probe "$f"
}

# One line of $WORK/h2-check.txt from h2load's output: scenario gateway run
# alpn tls cipher group done succeeded failed errored timeout (report.py
# renders them); warns when the protocol is not h2 or requests failed.
h2_check_line() {  # scenario gateway run file
	local f=$4 alpn tlsp cipher group req
	alpn=$(sed -n 's/^Application protocol: *//p' "$f" | head -n 1)
	tlsp=$(sed -n 's/^TLS Protocol: *//p' "$f" | head -n 1)
	cipher=$(sed -n 's/^Cipher: *//p' "$f" | head -n 1)
	group=$(sed -n 's/^Server Temp Key: *\([^ ]*\).*/\1/p' "$f" | head -n 1)
	req=$(sed -n 's/^requests: [0-9]* total, [0-9]* started, \([0-9]*\) done, \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored, \([0-9]*\) timeout.*/\1 \2 \3 \4 \5/p' "$f")
	echo "$1 $2 $3 ${alpn:-?} ${tlsp:-?} ${cipher:-?} ${group:-?} ${req:-? ? ? ? ?}" >>"$WORK/h2-check.txt"
	if [ "${alpn:-}" != h2 ]; then
		log "WARNING: $2/$1 ($3): h2load negotiated '${alpn:-nothing}', not h2: $(grep -iE 'error|fail|negotiat' "$f" | head -n 2 | paste -sd ' ')"
	fi
	case "$req" in
	*" 0 0 0") ;;
	*) log "WARNING: $2/$1 ($3): h2load requests done/succeeded/failed/errored/timeout: ${req:-unparsed}" ;;
	esac
	[ "$3" = probe ] && log "$(printf '%-8s %-7s h2 probe (ALPN h2,http/1.1 offered): %s over %s %s %s' "$1" "$2" "${alpn:-?}" "${tlsp:-?}" "${cipher:-?}" "${group:-?}")"
	return 0
}

# What a client negotiates with the gateway (openssl s_client, with the same
# library defaults as wrk), how many TLS 1.3 tickets the gateway sends, and
# whether a second connection offering the first one's session resumes it.
# Outside the measured run; appends a line to $WORK/tls-probe.txt.
tls_probe() {  # scenario gateway
	local f="$WORK/tls-probe-$1-$2" req line proto cipher group tickets resumed=no
	req=$'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
	rm -f "$f.sess"
	printf '%s' "$req" | timeout 10 "$OPENSSL" s_client -connect "127.0.0.1:$GW_PORT" \
		-servername localhost -msg -ign_eof -sess_out "$f.sess" >"$f.1" 2>&1 || true
	line=$(grep -m1 -E '^(New|Reused), TLS' "$f.1" || true)
	proto=$(sed -n 's/^[A-Za-z]*, \([^,]*\), Cipher is \(.*\)$/\1/p' <<<"$line")
	cipher=$(sed -n 's/^[A-Za-z]*, \([^,]*\), Cipher is \(.*\)$/\2/p' <<<"$line")
	group=$(sed -n 's/^\(Server \)\{0,1\}Temp Key: \([^,]*\),.*/\2/p' "$f.1" | head -n 1)
	tickets=$(grep -c '^<<< .*NewSessionTicket' "$f.1" || true)
	if [ -s "$f.sess" ]; then
		printf '%s' "$req" | timeout 10 "$OPENSSL" s_client -connect "127.0.0.1:$GW_PORT" \
			-servername localhost -ign_eof -sess_in "$f.sess" >"$f.2" 2>&1 || true
		grep -q '^Reused, TLS' "$f.2" && resumed=yes
	fi
	echo "$1 $2 ${proto:-?} ${cipher:-?} ${group:-?} tickets=${tickets:-?} resumed=$resumed" >>"$WORK/tls-probe.txt"
	log "$(printf '%-8s %-7s TLS probe: %s %s %s, %s session tickets, a second connection offering the session: %s' \
		"$1" "$2" "${proto:-?}" "${cipher:-?}" "${group:-?}" "${tickets:-?}" \
		"$([ "$resumed" = yes ] && echo resumed || echo "full handshake")")"
	if [ -z "$line" ]; then
		log "WARNING: TLS probe of $2 failed: $(grep -v '^[<>]' "$f.1" | head -n 3 | paste -sd ' ')"
	elif [ "$GW_TLS" = full ] && [ "$resumed" = yes ]; then
		log "WARNING: $2 resumed a session in $1: it does not measure full handshakes only"
	fi
}

start_gateway() {  # name workers
	local name=$1 workers=$2 dir="$WORK/gw-$1-$2" cpus="$GW_CPU"
	[ "$workers" -gt 1 ] && cpus="$GW_CPU,$LOAD_CPU"
	server_dir "$dir"
	case "$name" in
	sluice) conf_sluice "$workers" >"$dir/sluice.yaml" ;;
	nginx) conf_nginx "$workers" "$dir" >"$dir/nginx.conf" ;;
	haproxy) conf_haproxy "$workers" >"$dir/haproxy.cfg" ;;
	*) die "unknown gateway $name" ;;
	esac
	gw_start "$name" "$name" "$dir" "$cpus" "${NICE_CMD[@]}"
	wait_http "$(gw_url)/" 10 "$GW_PID" || gw_failed
	gw_procs  # nginx: master and worker
}

stop_gateway() {
	gw_stop
	# HAProxy's start-up notices and its fd-limit warning (see
	# conf_haproxy) are expected; everything else is kept and shown
	gw_messages '^$|haproxy version is|path to executable is|Cannot raise FD limit|FD limit \([0-9]+\) too low'
}

snapshot() {  # one line: utime stime of the gateway's processes (ticks), then
	#             user nice system idle iowait irq softirq steal of GW_CPU and
	#             of LOAD_CPU from /proc/stat
	local p u=0 s=0 a b
	for p in $GW_PROCS; do
		read -r a b <<<"$(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12, $13 }')"
		u=$((u + a))
		s=$((s + b))
	done
	echo "$u $s $(awk -v a="cpu$GW_CPU" -v b="cpu$LOAD_CPU" '
		$1 == a { x = $2 " " $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 }
		$1 == b { y = $2 " " $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 }
		END { print x, y }' /proc/stat)"
}

# Two snapshots, requests, duration -> user_ticks sys_ticks cpu_us_per_req
# user_us_per_req sys_us_per_req gw_cpu_util gw_cpu_busy load_cpu_busy
# gw_cpu_softirq_us_per_req steal (fractions of the run's CPU time)
cpu_figures() {
	printf '%s\n%s\n' "$1" "$2" | awk -v hz="$CLK_TCK" -v n="$3" -v d="$4" '
		NR == 1 { for (i = 1; i <= 18; i++) a[i] = $i }
		NR == 2 { for (i = 1; i <= 18; i++) b[i] = $i - a[i] }
		END {
			ta = 0; for (i = 3; i <= 10; i++) ta += b[i]
			tb = 0; for (i = 11; i <= 18; i++) tb += b[i]
			us = 1e6 / hz / (n > 0 ? n : 1)
			printf "%d %d %.3f %.3f %.3f %.3f %.3f %.3f %.3f %.4f\n", b[1], b[2],
				(b[1] + b[2]) * us, b[1] * us, b[2] * us, (b[1] + b[2]) / hz / d,
				ta ? (ta - b[6] - b[7]) / ta : 0, tb ? (tb - b[14] - b[15]) / tb : 0,
				b[9] * us, (ta + tb) ? (b[10] + b[18]) / (ta + tb) : 0
		}'
}

gw_rss() {  # VmRSS of the gateway's processes (nginx: master + worker), KiB
	local p t=0 v
	for p in $GW_PROCS; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# "sat": a cgroup with a CPU quota of SAT_CPU % of one CPU (period 10 ms)
cap_setup() {
	local base=""
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then  # cgroup v2
		grep -qw cpu /sys/fs/cgroup/cgroup.controllers || return 1
		grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
			echo +cpu >/sys/fs/cgroup/cgroup.subtree_control || return 1
		CAP_DIR=/sys/fs/cgroup/sluice-bench-$$
		mkdir "$CAP_DIR" && echo "$((SAT_CPU * 100)) 10000" >"$CAP_DIR/cpu.max"
		return
	fi
	for base in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct ""; do
		[ -f "$base/cpu.cfs_quota_us" ] && break
	done
	[ -n "$base" ] || return 1
	CAP_DIR=$base/sluice-bench-$$
	mkdir "$CAP_DIR" && echo 10000 >"$CAP_DIR/cpu.cfs_period_us" &&
		echo "$((SAT_CPU * 100))" >"$CAP_DIR/cpu.cfs_quota_us"
}

cap_gateway() {  # moves the gateway's processes (all their threads) in
	local p
	for p in $GW_PROCS; do
		echo "$p" >"$CAP_DIR/cgroup.procs" || die "cannot move pid $p into $CAP_DIR"
	done
}

# ---------------------------------------------------------------- scenarios
# name -> connections path workers extra-wrk-args
scenario() {
	case "$1" in
	ka) echo "64 / 1" ;;
	close) echo "64 / 1 close" ;;
	4k) echo "64 /4k 1" ;;
	256k) echo "64 /256k 1" ;;
	upload) echo "16 /upload 1 upload" ;;
	ka2) echo "64 / 2" ;;
	sat) echo "64 / 1" ;;
	tls-hs) echo "64 / 1 close" ;;
	tls-ka) echo "64 / 1" ;;
	h2-many) echo "1 / 1 h2:100" ;;   # h2load: connections x streams
	h2-conns) echo "64 / 1 h2:1" ;;
	*) die "unknown scenario $1" ;;
	esac
}

tls_mode() {  # scenario -> GW_TLS
	case "$1" in
	tls-hs) echo full ;;
	tls-*|h2-*) echo resume ;;
	*) echo "" ;;
	esac
}

h2_mode() {  # scenario -> GW_H2
	case "$1" in h2-*) echo 1 ;; *) echo "" ;; esac
}

CSV="$WORK/performance.csv"
# idle and tls-idle: kernel memory (report.py kmem; KiB, then bytes per connection)
COLUMNS_KMEM="kern_before_kib,kern_with_kib,kern_all_bytes_per_conn,kern_slab_bytes_per_conn,kern_sunreclaim_bytes_per_conn,kern_sreclaimable_bytes_per_conn,kern_procfs_bytes_per_conn,tcp_inuse_delta,tcp_mem_pages_delta,kern_asym_bytes_per_conn,kern_client_bytes_per_conn,kern_global_bytes_per_conn,memcg_bytes_per_conn,memcg_client_bytes_per_conn,kern_accept_bytes_per_conn,kern_bytes_per_conn,total_bytes_per_conn"
COLUMNS_RUN="requests,rps,p50_ms,p99_ms,socket_errors,err_connect,err_read,err_write,err_timeout,non2xx"
COLUMNS_CPU="cpu_user_ticks,cpu_sys_ticks,cpu_us_per_req,cpu_user_us_per_req,cpu_sys_us_per_req,gw_cpu_util,gw_cpu_busy,load_cpu_busy,gw_cpu_softirq_us_per_req,steal"
echo "scenario,workers,round,gateway,connections,duration_s,$COLUMNS_RUN,$COLUMNS_CPU,rss_kib,upstream_conns,idle_base_kib,idle_ok,idle_open,idle_bytes_per_conn,$COLUMNS_KMEM" >"$CSV"
CLK_TCK=$(getconf CLK_TCK)

wrk_cmd() {  # conns path extra duration
	local a=(taskset -c "$LOAD_CPU" "${NICE_CMD[@]}" "$WRK" -t1 -c"$1" -d"$4s" --latency)
	case "${3:-}" in
	close) a+=(-H "Connection: close") ;;
	upload) a+=(-s "$HERE/upload.lua") ;;
	esac
	if [ -n "$SLUICE_ROUTE" ]; then a+=(-H "X-User-Id: user-4242"); fi
	if [ "$SLUICE_ROUTE" = jwt ]; then a+=(-H "Authorization: Bearer $JWT_TOKEN"); fi
	a+=("$(gw_url)$2")
	printf '%q ' "${a[@]}"
}

# h2load: one thread on LOAD_CPU, ALPN h2 only (no fallback to HTTP/1.1).
# Its own TLS 1.3 cipher order puts AES-128 first, and nginx (client
# preference) would take it while sluice and HAProxy (server preference)
# take AES-256: it is given OpenSSL's default order, which wrk, openssl
# s_client and the Python idle client offer, so all three use AES-256.
H2LOAD_TLS13=TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256
h2load_cmd() {  # conns streams path duration [log-file]
	local a=(taskset -c "$LOAD_CPU" "${NICE_CMD[@]}" "$H2LOAD" -t1 -c"$1" -m"$2" -D"$4" --npn-list=h2
		--tls13-ciphers="$H2LOAD_TLS13")
	[ -n "${5:-}" ] && a+=(--log-file="$5")
	if [ -n "$SLUICE_ROUTE" ]; then a+=(-H "X-User-Id: user-4242"); fi
	if [ "$SLUICE_ROUTE" = jwt ]; then a+=(-H "Authorization: Bearer $JWT_TOKEN"); fi
	a+=("$(gw_url)$3")
	printf '%q ' "${a[@]}"
}

run_one() {  # scenario gateway round
	local sc=$1 gw=$2 r=$3 conns path workers extra cmd out s0 s1 a0 a1 rss w c tool=wrk streams=""
	read -r conns path workers extra <<<"$(scenario "$sc")"
	case "${extra:-}" in h2:*) tool=h2load; streams=${extra#h2:} ;; esac
	GW_TLS=$(tls_mode "$sc")
	GW_H2=$(h2_mode "$sc")
	start_gateway "$gw" "$workers"
	[ "$sc" = sat ] && cap_gateway
	if [ -n "$GW_TLS" ] && [ "$r" = 1 ]; then tls_probe "$sc" "$gw"; fi
	if [ -n "$GW_H2" ] && [ "$r" = 1 ]; then h2_probe "$sc" "$gw"; fi
	if [ "$tool" = h2load ]; then
		cmd=$(h2load_cmd "$conns" "$streams" "$path" "$WARMUP")
	else
		cmd=$(wrk_cmd "$conns" "$path" "${extra:-}" "$WARMUP")
	fi
	eval "timeout 60 $cmd" >/dev/null 2>&1 || log "warm-up of $gw/$sc failed"
	out="$WORK/$tool-$sc-$gw-$r.txt"
	if [ "$tool" = h2load ]; then
		cmd=$(h2load_cmd "$conns" "$streams" "$path" "$DURATION" "$out.log")
	else
		cmd=$(wrk_cmd "$conns" "$path" "${extra:-}" "$DURATION")
	fi
	echo "$cmd" >"$out.cmd"
	a0=$(upstream_accepts)
	s0=$(snapshot)
	eval "timeout $((DURATION + 60)) $cmd" >"$out" 2>&1 || log "$tool failed for $gw/$sc: $(tail -n 2 "$out")"
	s1=$(snapshot)
	rss=$(gw_rss)
	a1=$(upstream_accepts)
	stop_gateway
	if [ "$tool" = h2load ]; then
		h2_check_line "$sc" "$gw" "r$r" "$out"
		w=$("$PYTHON" "$HERE/report.py" parse-h2load "$out" "$out.log") || w="0 0 nan nan 0 0 0 0 0 0"
		[ "$KEEP" = 1 ] || rm -f "$out.log"  # per-request lines: megabytes
	else
		w=$("$PYTHON" "$HERE/report.py" parse-wrk "$out") || w="0 0 nan nan 0 0 0 0 0 0"
	fi
	read -r req rps p50 p99 serr ec er ew et non2xx <<<"$w"
	c=$(cpu_figures "$s0" "$s1" "$req" "$DURATION")
	read -r _ _ cpu_us _ _ util gwb ldb _ _ <<<"$c"
	echo "$sc,$workers,$r,$gw,$conns,$DURATION,${w// /,},${c// /,},$rss,$((a1 - a0 - 1)),,,,$(printf ',%.0s' $(seq 17))" >>"$CSV"
	GW_TLS=""
	GW_H2=""
	log "$(printf '%-6s %-7s r%d: %8.0f req/s  p50 %6.2f  p99 %7.2f ms  %6.2f us/req  (gateway %.2f, CPU %s %.2f, CPU %s %.2f busy)  rss %s KiB  errors c%s r%s w%s t%s + %s non-2xx  upstream conns %s' \
		"$sc" "$gw" "$r" "$rps" "$p50" "$p99" "$cpu_us" "$util" "$GW_CPU" "$gwb" "$LOAD_CPU" "$ldb" "$rss" "$ec" "$er" "$ew" "$et" "$non2xx" $((a1 - a0 - 1)))"
}

# The idle client's bounds: set-up time grows with the connections (Python
# makes about 1,000 TLS handshakes a second here), and it holds them for a
# minute more, at most
idle_setup_s() { echo $((90 + $1 / 200)); }

idle_client_start() {  # conns out [--tls]: connects, waits until READY + 3 s
	local n=$1 out=$2 setup i
	shift 2
	setup=$(idle_setup_s "$n")
	: >"$out"
	# in its own memory cgroup (if there is one) from its first allocation
	taskset -c "$LOAD_CPU" "${NICE_CMD[@]}" sh -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh \
		"${MEMCG_DIR:+$MEMCG_DIR/client}" "$PYTHON" "$HERE/$IDLE_CLIENT" 127.0.0.1 "$GW_PORT" "$n" \
		--window 64 --setup-timeout "$setup" --hold $((setup + 60)) "$@" >"$out" 2>&1 &
	CLIENT_PID=$!
	register_pid "$CLIENT_PID"
	for i in $(seq $(((setup + 10) * 10))); do  # the client bounds its own set-up time
		grep -q '^READY' "$out" && break
		proc_alive "$CLIENT_PID" || break
		sleep 0.1
	done
	sleep 3
}

idle_client_stop() {  # out: asks how many are still open, then stops the client
	local i
	kill -USR1 "$CLIENT_PID" 2>/dev/null || true
	for i in $(seq 600); do
		grep -q '^OPEN' "$1" && break
		proc_alive "$CLIENT_PID" || break
		sleep 0.1
	done
	stop_pid "$CLIENT_PID"
	CLIENT_PID=""
}

kmem_sample() {  # file: the kernel's memory counters now (report.py kmem reads them)
	{
		cat /proc/meminfo /proc/net/sockstat
		cat /proc/net/sockstat6 2>/dev/null || true
		cat /proc/slabinfo 2>/dev/null || true  # root only: the per-cache breakdown
	} >"$1"
}

# Memory cgroups for the idle scenarios (root): the gateway (or the
# reference server) in MEMCG_DIR/gw, the idle client in MEMCG_DIR/client, so
# that the kernel memory charged to each is known whatever else runs on the
# machine. cgroup v1 (memory.kmem.usage_in_bytes) or v2 (memory.stat kernel
# + sock). Without them only the machine-wide figures are there.
MEMCG_DIR=""
MEMCG_V=""
memcg_setup() {
	local base
	[ "$(id -u)" = 0 ] || return 1
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then  # v2: a child of the root
		grep -qw memory /sys/fs/cgroup/cgroup.controllers || return 1
		grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
			echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || return 1
		MEMCG_DIR=/sys/fs/cgroup/sluice-bench-mem-$$
		mkdir "$MEMCG_DIR" && echo +memory >"$MEMCG_DIR/cgroup.subtree_control" || { memcg_remove; return 1; }
		MEMCG_V=2
	else  # v1: a child of the cgroup this script is in
		base=/sys/fs/cgroup/memory$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
		[ -f "$base/memory.kmem.usage_in_bytes" ] || return 1
		MEMCG_DIR=$base/sluice-bench-mem-$$
		mkdir "$MEMCG_DIR" || { MEMCG_DIR=""; return 1; }
		MEMCG_V=1
	fi
	mkdir "$MEMCG_DIR/gw" "$MEMCG_DIR/client" || { memcg_remove; return 1; }
}

memcg_remove() {  # (their processes are stopped by then)
	[ -n "$MEMCG_DIR" ] || return 0
	rmdir "$MEMCG_DIR/gw" "$MEMCG_DIR/client" "$MEMCG_DIR" 2>/dev/null || true
	MEMCG_DIR=""
}
on_exit memcg_remove

memcg_kmem() {  # gw|client: kernel memory charged to that cgroup, bytes
	[ -n "$MEMCG_DIR" ] || return 0
	if [ "$MEMCG_V" = 1 ]; then cat "$MEMCG_DIR/$1/memory.kmem.usage_in_bytes"
	else awk '$1 == "kernel" || $1 == "sock" { t += $2 } END { print t + 0 }' "$MEMCG_DIR/$1/memory.stat"; fi
}

memcg_enter() {  # pid...: into the gateway's cgroup (all threads)
	local p
	[ -n "$MEMCG_DIR" ] || return 0
	for p in "$@"; do echo "$p" >"$MEMCG_DIR/gw/cgroup.procs" || log "cannot move pid $p into $MEMCG_DIR/gw"; done
}

# The kernel memory of the idle connections. Both ends are on this machine,
# so the machine-wide growth (/proc/meminfo etc.) holds the client's sockets
# too, and whatever else runs meanwhile. Two ways to the gateway's share:
# (1) with memory cgroups (root): what is charged to the gateway's cgroup,
# plus its accepted sockets' TCP objects, which the kernel makes before
# accept() and charges to nobody (report.py kmem); (2) the machine-wide
# growth minus the client's share: the client's cgroup, or without cgroups a
# reference run, the same client and number of connections against
# idle_conns.py --serve, a trivial server that accepts, answers and holds
# each socket without polling it. The two ends of such a plain loopback
# connection have the same kernel objects except the connecting end's port
# buckets, so the client's share is half of the reference's growth plus
# those buckets. Per scenario and round, run before the gateways;
# REF_CLIENT holds the result.
declare -A REF_CLIENT=()
run_idle_ref() {  # scenario round
	local sc=$1 r=$2 n=$IDLE_CONNS out pid i k line ok open m0 m1 c0 c1 kall kcli ksrv
	[ "$sc" = tls-idle ] && n=$TLS_IDLE_CONNS
	[ "$sc" = h2-idle ] && n=$H2_IDLE_CONNS
	out="$WORK/$sc-reference-$r.txt"
	: >"$out.server"
	taskset -c "$GW_CPU" "${NICE_CMD[@]}" "$PYTHON" "$HERE/idle_conns.py" --serve 127.0.0.1 "$GW_PORT" "$n" \
		--hold $(($(idle_setup_s "$n") + 120)) >"$out.server" 2>&1 &
	pid=$!
	register_pid "$pid"
	memcg_enter "$pid"
	for i in $(seq 100); do
		grep -q '^LISTENING' "$out.server" && break
		proc_alive "$pid" || break
		sleep 0.1
	done
	grep -q '^LISTENING' "$out.server" || { stop_pid "$pid"; log "reference server did not start: $(tail -n 2 "$out.server")"; return 0; }
	sleep 1
	kmem_sample "$out.k0"
	m0=$(memcg_kmem gw); c0=$(memcg_kmem client)
	idle_client_start "$n" "$out"  # plain TCP even for tls-idle and h2-idle: the client's TLS is in user space
	kmem_sample "$out.k1"
	m1=$(memcg_kmem gw); c1=$(memcg_kmem client)
	idle_client_stop "$out"
	stop_pid "$pid"
	line=$(grep '^READY' "$out" || true)
	ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
	open=$(sed -n 's/^OPEN open=\([0-9]*\).*/\1/p' "$out")
	[ -n "$ok" ] && [ "$ok" -gt 0 ] || { log "reference client failed for $sc: $(tail -n 3 "$out")"; return 0; }
	k=$("$PYTHON" "$HERE/report.py" kmem "$out.k0" "$out.k1" "$ok" --symmetric \
		${m0:+--memcg $((m1 - m0)) --memcg-client $((c1 - c0))} --detail "$out.kmem") || return 0
	IFS=, read -r _ _ kall _ _ _ _ _ _ _ kcli _ _ _ _ ksrv <<<"$k"
	[ -n "$MEMCG_DIR" ] || REF_CLIENT["$sc-$r"]=$kcli
	echo "$sc,1,$r,reference,$n,$(printf ',%.0s' $(seq 20)),,,,$ok,${open:-},,$k," >>"$CSV"
	log "$(printf '%-8s %-9s r%d: kernel +%s bytes per plain loopback connection, both ends (%s connections): client %s, trivial server %s' \
		"$sc" reference "$r" "$kall" "$ok" "$kcli" "$ksrv")"
}

run_idle() {  # gateway round scenario (idle, tls-idle, h2-idle or slowread)
	local gw=$1 r=$2 sc=${3:-idle} n=$IDLE_CONNS cargs=() base with line ok open cmd empty k ref m0 m1 c0 c1 kall kcli kglob kgw h2n
	GW_TLS=$(tls_mode "$sc")
	GW_H2=$(h2_mode "$sc")
	if [ -n "$GW_TLS" ]; then n=$TLS_IDLE_CONNS; cargs=(--tls); fi
	if [ -n "$GW_H2" ]; then n=$H2_IDLE_CONNS; cargs+=(--h2); fi
	IDLE_CLIENT=idle_conns.py
	if [ "$sc" = slowread ]; then
		n=$SLOWREAD_CONNS
		IDLE_CLIENT=slow_readers.py
		cargs=(--path /256k --rcvbuf 4096)
	fi
	start_gateway "$gw" 1
	memcg_enter $GW_PROCS
	if [ -n "$GW_TLS" ] && [ "$r" = 1 ]; then tls_probe "$sc" "$gw"; fi
	if [ -n "$GW_H2" ] && [ "$r" = 1 ]; then h2_probe "$sc" "$gw"; fi
	if [ -n "$GW_H2" ]; then cmd=$(h2load_cmd 64 1 / 2); else cmd=$(wrk_cmd 64 / "" 2); fi
	eval "timeout 60 $cmd" >/dev/null 2>&1 || log "warm-up of $gw/$sc failed"
	sleep 1
	local out="$WORK/$sc-$gw-$r.txt"
	base=$(gw_rss)
	kmem_sample "$out.k0"
	m0=$(memcg_kmem gw); c0=$(memcg_kmem client)
	idle_client_start "$n" "$out" ${cargs[@]+"${cargs[@]}"}
	with=$(gw_rss)
	kmem_sample "$out.k1"
	m1=$(memcg_kmem gw); c1=$(memcg_kmem client)
	idle_client_stop "$out"
	stop_gateway
	GW_TLS=""
	line=$(grep '^READY' "$out" || true)
	ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
	if [ -n "$GW_H2" ]; then
		# the idle client offered ALPN h2,http/1.1 and counts as ok only
		# the connections on which h2 was chosen and stream 1 answered 200
		h2n=$(sed -n 's/.*h2=\([0-9]*\).*/\1/p' <<<"$line")
		echo "$sc $gw r$r idle:${h2n:-?}/$n $(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")" >>"$WORK/h2-check.txt"
		if [ "${h2n:-0}" != "$n" ]; then
			log "WARNING: $gw/$sc: ${h2n:-?} of $n connections set up over h2: $(grep -v '^READY\|^OPEN' "$out" | head -n 2 | paste -sd ' ')"
		fi
	fi
	GW_H2=""
	open=$(sed -n 's/^OPEN open=\([0-9]*\).*/\1/p' "$out")
	[ -n "$ok" ] || { log "idle client failed for $gw/$sc: $(tail -n 3 "$out")"; ok=0; }
	local per secs ktot=""
	secs=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$line")
	per=$(awk -v b="$base" -v w="$with" -v n="$n" 'BEGIN { printf "%.0f", (w - b) * 1024 / n }')
	# kernel: per connection set up (ok)
	ref=${REF_CLIENT["$sc-$r"]:-}
	k=$("$PYTHON" "$HERE/report.py" kmem "$out.k0" "$out.k1" "$((ok > 0 ? ok : n))" \
		${ref:+--ref-client "$ref"} ${m0:+--memcg $((m1 - m0)) --memcg-client $((c1 - c0))} \
		--detail "$out.kmem") || k=$(printf ',%.0s' $(seq 15))
	IFS=, read -r _ _ kall _ _ _ _ _ _ _ kcli kglob _ _ _ kgw <<<"$k"
	[ -n "$kgw" ] && ktot=$((per + kgw))
	empty=$(printf ',%.0s' $(seq 20))  # the 20 run and CPU columns
	echo "$sc,1,$r,$gw,$n,$empty,$with,,$base,$ok,${open:-},$per,$k,$ktot" >>"$CSV"
	log "$(printf '%-8s %-7s r%d: baseline %s KiB, with %s idle %s KiB -> %s bytes/connection (%s answered, %s still open; set up in %s s); kernel: the gateway'"'"'s share %s bytes/connection (machine-wide %s - client %s = %s) -> %s in all' \
		"$sc" "$gw" "$r" "$base" "$n" "$with" "$per" "$ok" "${open:-?}" "${secs:-?}" "${kgw:-?}" "${kall:-?}" "${kcli:-?}" "${kglob:-?}" "${ktot:-?}")"
}

# ---------------------------------------------------------------- main
IFS=, read -r -a SCENARIOS <<<"$ONLY"
IFS=, read -r -a GWS <<<"$GATEWAYS"
for g in "${GWS[@]}"; do case "$g" in sluice|nginx|haproxy) ;; *) die "unknown gateway $g" ;; esac; done
for s in "${SCENARIOS[@]}"; do case "$s" in idle|tls-idle|h2-idle|slowread) ;; *) scenario "$s" >/dev/null ;; esac; done
case ",$ONLY," in
*,idle,*|*,tls-idle,*|*,h2-idle,*|*,slowread,*) memcg_setup || log "NOTE: no memory cgroup for the idle scenarios (needs root and the memory controller): their kernel figures are machine-wide only" ;;
esac
case ",$ONLY," in
*,sat,*) cap_setup || die "scenario sat needs root and a cgroup CPU controller (v1 or v2); leave it out with --only" ;;
esac
if [ "$IDLE_POLL" = 1 ]; then
	[ -w /dev/cpu_dma_latency ] || die "--idle-poll needs root (/dev/cpu_dma_latency)"
	# the request holds while the file is open (here by sleep), and is
	# dropped when that process is stopped at the end
	(exec 3>/dev/cpu_dma_latency && printf 0 >&3 && exec sleep 86400) &
	register_pid $!
fi

START=$(date +%s)
DATE_START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "scratch: $WORK; ${DURATION}s per run, $ROUNDS rounds; gateways: $GATEWAYS; scenarios: $ONLY"
setup_upstream
start_upstream
JWT_TOKEN=""
if [ "$SLUICE_ROUTE" = jwt ]; then
	# an ES256 key set and a token valid for a day, made for this run
	JWT_TOKEN=$("$PYTHON" - "$WORK/jwks.json" <<'EOF'
import json, sys, time
try:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
except ImportError:
    sys.exit("--sluice-route jwt needs python3-jwt and python3-cryptography")
k = ec.generate_private_key(ec.SECP256R1())
d = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k.public_key()))
d["kid"] = "bench"
json.dump({"keys": [d]}, open(sys.argv[1], "w"))
print(jwt.encode({"iss": "bench", "aud": "bench", "sub": "user-4242",
                  "exp": int(time.time()) + 86400}, k, algorithm="ES256",
                 headers={"kid": "bench"}))
EOF
) || die "could not make the jwt route's key set and token"
	# the jwt route answers 401 without it: wait_http sends it too
	WAIT_CURL_ARGS=(-H "Authorization: Bearer $JWT_TOKEN")
fi
if [ "$TLS_WANTED" = 1 ]; then
	tls_setup
	case ",$GATEWAYS," in
	*,sluice,*)
		if ! sluice_tls_check; then
			SLUICE_TLS=no
			log "NOTE: sluice is left out of the tls-* and h2-* scenarios, this binary has no working TLS ($SLUICE_TLS_WHY)"
		fi ;;
	esac
fi
if [ "$H2_WANTED" = 1 ]; then
	case ",$GATEWAYS," in
	*,sluice,*)
		if [ "$SLUICE_TLS" = yes ] && ! sluice_h2_check; then
			SLUICE_H2=no
			log "NOTE: sluice is left out of the h2-* scenarios, this binary does not take protocols: [h2, http/1.1] ($SLUICE_H2_WHY)"
		fi ;;
	esac
	case ",$GATEWAYS," in
	*,nginx,*) nginx_h2_check || log "NOTE: nginx is left out of the h2-* scenarios, $NGINX has no ngx_http_v2_module" ;;
	esac
fi
for s in "${SCENARIOS[@]}"; do
	for r in $(seq "$ROUNDS"); do
		case "$s" in idle|tls-idle|h2-idle) run_idle_ref "$s" "$r" ;; esac
		for g in "${GWS[@]}"; do
			case "$s" in tls-*|h2-*) [ "$g" = sluice ] && [ "$SLUICE_TLS" = no ] && continue ;; esac
			case "$s" in h2-*) [ "$g" = sluice ] && [ "$SLUICE_H2" = no ] && continue ;; esac
			case "$s" in h2-*) [ "$g" = nginx ] && [ "$NGINX_H2" = no ] && continue ;; esac
			case "$s" in
			idle|tls-idle|h2-idle|slowread) run_idle "$g" "$r" "$s" ;;
			*) run_one "$s" "$g" "$r" ;;
			esac
		done
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(( $(date +%s) - START ))

# ---------------------------------------------------------------- report
META="$WORK/meta.txt"
{
	echo "date=$DATE_START"
	echo "command=contrib/bench/run.sh${ARGS:+ $ARGS}"
	echo "sluice_bin=$SLUICE"
	echo "sluice_commit=$(git -C "$(dirname "$SLUICE")" rev-parse --short HEAD 2>/dev/null || true)"
	echo "sluice=$("$SLUICE" -V 2>&1 | head -n 1)"
	echo "sluice_libs=$("$SLUICE" -V 2>&1 | tail -n +2 | paste -sd ';' | sed 's/;/; /g')"
	echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
	echo "haproxy=$("$HAPROXY" -v 2>&1 | head -n 1 | sed 's/ - https.*//')"
	echo "wrk=$("$WRK" -v 2>&1 | head -n 1 | sed 's/ Copyright.*//')"
	echo "python=$("$PYTHON" --version 2>&1)"
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "ncpu=$(nproc --all)"
	echo "mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel=$(uname -sr)"
	echo "os=$( . /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
	if grep -qw hypervisor /proc/cpuinfo; then echo "virt=virtual machine (hypervisor CPU flag)"; else echo "virt=no hypervisor flag"; fi
	# does the kernel keep softirq time out of the processes' stime?
	kconf=$( { zcat /proc/config.gz || cat "/boot/config-$(uname -r)"; } 2>/dev/null | grep -E '^(# )?CONFIG_IRQ_TIME_ACCOUNTING[= ]' || true)
	case $kconf in
	CONFIG_IRQ_TIME_ACCOUNTING=y) echo "irq_time=yes" ;;
	"# CONFIG_IRQ_TIME_ACCOUNTING is not set") echo "irq_time=no" ;;
	*) echo "irq_time=unknown" ;;
	esac
	echo "load=$LOAD_START at start, $LOAD_END at end"
	echo "fd_limit=$(ulimit -n)"
	echo "duration=$DURATION"
	echo "warmup=$WARMUP"
	echo "rounds=$ROUNDS"
	echo "elapsed=$ELAPSED"
	echo "idle_conns=$IDLE_CONNS"
	echo "tls_idle_conns=$TLS_IDLE_CONNS"
	echo "h2_idle_conns=$H2_IDLE_CONNS"
	echo "h2_wanted=$H2_WANTED"
	if [ "$H2_WANTED" = 1 ]; then
		echo "h2load=$("$H2LOAD" --version 2>&1 | head -n 1)"
		echo "sluice_h2=$SLUICE_H2"
		echo "sluice_h2_why=$SLUICE_H2_WHY"
		echo "nginx_h2=$NGINX_H2"
		echo "nginx_h2_directive=$NGINX_H2_DIRECTIVE"
	fi
	[ -s "$WORK/h2-check.txt" ] && sed 's/^/h2_check=/' "$WORK/h2-check.txt"
	echo "slowread_conns=$SLOWREAD_CONNS"
	echo "tls_wanted=$TLS_WANTED"
	echo "sluice_tls=$SLUICE_TLS"
	echo "sluice_tls_why=$SLUICE_TLS_WHY"
	[ "$TLS_WANTED" = 1 ] && echo "openssl=$("$OPENSSL" version 2>&1 | head -n 1 | sed 's/ (Library:.*//')"
	[ -s "$WORK/tls-probe.txt" ] && sed 's/^/tls_probe=/' "$WORK/tls-probe.txt"
	echo "same_headers=$SAME_HEADERS"
	echo "big_buffers=$BIG_BUFFERS"
	echo "sat_cpu=$SAT_CPU"
	echo "idle_poll=$IDLE_POLL"
	echo "others=$OTHERS"
	echo "cpuidle=$(cat /sys/devices/system/cpu/cpuidle/current_governor_ro 2>/dev/null || true)"
	echo "nice=$NICE"
	echo "gw_cpu=$GW_CPU"
	echo "load_cpu=$LOAD_CPU"
} >"$META"
cp "$CSV" "$OUT/performance.csv"
"$PYTHON" "$HERE/report.py" report --csv "$OUT/performance.csv" --meta "$META" \
	--md "$OUT/performance.md" --png "$OUT/performance.png" --gnuplot "$GNUPLOT" --work "$WORK"
if [ -s "$WORK/gateway-messages.log" ]; then
	log "messages from the gateways, most frequent first (numbers masked):"
	sed -E 's/[0-9]+/N/g' "$WORK/gateway-messages.log" | sort | uniq -c | sort -rn | head -n 20 >&2
fi
log "done in ${ELAPSED}s: $OUT/performance.md, performance.csv, performance.png"
