#!/usr/bin/env bash
# contrib/bench/grpc.sh -- gRPC unary calls through sluice, nginx and
# HAProxy, one worker each, to the same HTTP/2 upstream: CPU per call and
# the upstream connections each gateway uses (issue 27).
#
# usage: contrib/bench/grpc.sh [--quick] [--rounds N] [--duration SECS]
#            [--conns C] [--streams M] [--gateways LIST] [--out DIR]
#            [--keep] [--count [--calls N]]
#
#   --quick          3 s per measured run instead of 10 s
#   --rounds N       runs per gateway, alternating A B C A B C (default 3)
#   --duration SECS  seconds per measured run (overrides --quick)
#   --conns C        client connections to the gateway (default 8)
#   --streams M      calls in flight on each (default 16)
#   --gateways LIST  from sluice,nginx,haproxy (default: all three)
#   --out DIR        where grpc.md and grpc.csv go (default: a new directory
#                    /tmp/sluice-grpc-bench-out.XXXXXX, printed at the end)
#   --keep           keep the scratch directory (configs, logs)
#   --count          count instead of timing: each gateway runs under
#                    valgrind's callgrind, and the report gives user-space
#                    instructions per call (sluice's own, its libraries',
#                    libc's), which do not depend on what else the machine
#                    is doing. A warm-up, then N calls and 2N calls, each
#                    between a zeroing and a dump of the counters: the
#                    difference of the two phases over N is the count per
#                    call, with start-up and warm-up cancelled out
#                    (doc/performance.md, "Session 21"). nginx runs with
#                    master_process off (one process). Needs valgrind.
#   --calls N        N for --count (default 10000). With GRPC_KEEP=DIR in
#                    the environment each dump is kept as
#                    DIR/GATEWAY.CALLS.cg, for callgrind_annotate.
#   --no-length      with --count: the calls' requests carry no
#                    content-length, as gRPC's own clients send them
#                    (contrib/bench/grpc_client.js, Node's http2, instead
#                    of h2load, which always sends one)
#
# What runs:
#   upstream  contrib/bench/grpc_upstream.js (Node's http2 module): every
#             POST a unary call, its message echoed, grpc-status 0 in the
#             trailers; it counts its sessions (connections)
#   client    h2load (Debian: nghttp2-client), HTTP/2 by prior knowledge to
#             the gateway's cleartext listener: POST /bench.Svc/Call with
#             content-type application/grpc, te: trailers and a 64-byte
#             message in a gRPC frame; C connections, M streams each, for
#             DURATION seconds after a 1 s warm-up (h2load --warm-up-time)
#   sluice    workers: 1, no access log, a listener with protocols
#             [h2, http/1.1], one route to a cluster with protocol: h2c
#   nginx     worker_processes 1, access_log off, listen ... http2,
#             grpc_pass to an upstream block with keepalive 64 (nginx's
#             grpc module puts one call on a connection at a time)
#   HAProxy   nbthread 1, mode http, bind ... proto h2, the server with
#             proto h2 and http-reuse always (it multiplexes)
# The gateway under test runs alone on GW_CPU (0); the upstream and the
# client share LOAD_CPU (1). Traffic is to 127.0.0.1 only; everything
# started here is stopped on exit.
#
# Measured per run: calls that succeeded (h2load's count; every one must:
# a failed call or a status other than 200 is an error, reported), calls
# per second, the gateway's CPU (utime + stime from /proc/PID/stat of its
# processes, nginx master + worker, over the measured window) per call in
# µs, and the connections the upstream accepted from the gateway since the
# gateway started (warm-up included). The report: medians per gateway,
# each CPU figure with its ratio to the best peer (the lower of nginx and
# HAProxy), printed and written to DIR/grpc.md; every run in DIR/grpc.csv.
#
# Environment: SLUICE (default ./build/src/sluice), NGINX, HAPROXY, NODE,
# H2LOAD, CURL, GW_CPU (0), LOAD_CPU (1), UP_PORT and GW_PORT (default: the
# first free ports from 19500 and 19600), MAX_SECONDS (900).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

SLUICE=${SLUICE:-./build/src/sluice}
NGINX=${NGINX:-nginx}
HAPROXY=${HAPROXY:-haproxy}
NODE=${NODE:-node}
H2LOAD=${H2LOAD:-h2load}
CURL=${CURL:-curl}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
MAX_SECONDS=${MAX_SECONDS:-900}

DURATION=10
ROUNDS=3
CONNS=8
STREAMS=16
GATEWAYS="sluice,nginx,haproxy"
OUT=""
KEEP=0
COUNT=0
CALLS=10000
NOLEN=0

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) DURATION=3 ;;
	--rounds) ROUNDS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--conns) CONNS=$2; shift ;;
	--streams) STREAMS=$2; shift ;;
	--gateways) GATEWAYS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--keep) KEEP=1 ;;
	--count) COUNT=1 ;;
	--calls) CALLS=$2; shift ;;
	--no-length) NOLEN=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
	shift
done
for v in "$ROUNDS" "$DURATION" "$CONNS" "$STREAMS" "$CALLS"; do
	case "$v" in ''|*[!0-9]*|0) die "--rounds, --duration, --conns, --streams and --calls want positive integers" ;; esac
done
IFS=, read -r -a GWS <<<"$GATEWAYS"
for g in "${GWS[@]}"; do case "$g" in sluice|nginx|haproxy) ;; *) die "unknown gateway $g" ;; esac; done
for c in "$NODE" "$H2LOAD" "$CURL" taskset ss; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done
[ -x "$SLUICE" ] || die "$SLUICE is not executable (build first, or set SLUICE)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")

UP_PORT=${UP_PORT:-$(pick_port 19500)}
GW_PORT=${GW_PORT:-$(pick_port 19600)}
[ "$UP_PORT" != "$GW_PORT" ] || die "UP_PORT and GW_PORT are the same"

out_dir sluice-grpc-bench-out
scratch_dir sluice-grpc-bench
watchdog_start "$MAX_SECONDS"

# the request: a 64-byte message in a gRPC frame (flag 0, length 64)
printf '\000\000\000\000\100' >"$WORK/req.bin"
head -c 64 /dev/zero | tr '\0' 'm' >>"$WORK/req.bin"

# ---- the upstream
taskset -c "$LOAD_CPU" "$NODE" "$HERE/grpc_upstream.js" "$UP_PORT" >"$WORK/upstream.log" 2>&1 &
UP_PID=$!
register_pid "$UP_PID"
wait_listen "$UP_PORT" 10 "$UP_PID" || die "the upstream did not start"
up_sessions() {
	"$CURL" -s --http2-prior-knowledge "http://127.0.0.1:$UP_PORT/stats" |
		sed 's/.*"sessions":\([0-9]*\).*/\1/'
}

# ---- the gateways' configurations, each in WORK/NAME
conf_sluice() {
	cat >"$WORK/sluice/sluice.yaml" <<EOF
workers: 1
log: { level: warn, access: off }
listeners:
  - name: g
    address: 127.0.0.1:$GW_PORT
    protocols: [h2, http/1.1]
    routes:
      - { name: r, cluster: up }
clusters:
  - name: up
    protocol: h2c
    endpoints: [127.0.0.1:$UP_PORT]
EOF
}
conf_nginx() {
	cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000000;
$(nginx_temp_paths "$WORK/nginx/tmp")
    http2_max_requests 1000000000;
    upstream up {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000000;
    }
    server {
        listen 127.0.0.1:$GW_PORT http2;
        location / {
            grpc_pass grpc://up;
        }
    }
}
EOF
}
conf_haproxy() {
	cat >"$WORK/haproxy/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 20000
    no strict-limits
defaults
    mode http
    http-reuse always
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend f
    bind 127.0.0.1:$GW_PORT proto h2
    default_backend b
backend b
    server s1 127.0.0.1:$UP_PORT proto h2
EOF
}

# the gateway's processes' CPU ticks (utime + stime)
cpu_ticks() {
	local p t=0 a b
	for p in "$@"; do
		read -r a b <<<"$(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12, $13 }')"
		t=$((t + a + b))
	done
	echo "$t"
}

start_gw() {  # name [count]: the gateway on GW_CPU, listening; count: under
	#            callgrind (GW_PID)
	local g=$1 vg=()
	server_dir "$WORK/$g"
	"conf_$g"
	if [ "${2:-}" = count ]; then
		vg=(valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$WORK/$g.cg")
		case "$g" in
		nginx) sed -i '1i master_process off;' "$WORK/nginx/nginx.conf" ;;
		# valgrind keeps some descriptors for itself
		haproxy) sed -i 's/maxconn 20000/maxconn 5000/' "$WORK/haproxy/haproxy.cfg" ;;
		esac
	fi
	gw_start "$g" "$g" "$WORK/$g" "$GW_CPU" ${vg[@]+"${vg[@]}"}
	wait_listen "$GW_PORT" 10 "$GW_PID" || gw_failed
}

# ---- --count: instructions per call, by callgrind (cg_objects: lib.sh)
count_load() {  # calls: h2load (or grpc_client.js), every call must succeed
	if [ "$NOLEN" = 1 ]; then
		taskset -c "$LOAD_CPU" node "$HERE/grpc_client.js" "$GW_PORT" \
			"$1" "$CONNS" "$STREAMS" "$WORK/req.bin" \
			>"$WORK/count.txt" 2>&1 || true
	else
		taskset -c "$LOAD_CPU" "$H2LOAD" -n "$1" -c "$CONNS" -m "$STREAMS" \
			-d "$WORK/req.bin" -H 'content-type: application/grpc' \
			-H 'te: trailers' "http://127.0.0.1:$GW_PORT/bench.Svc/Call" \
			>"$WORK/count.txt" 2>&1 || true
	fi
	grep -q "$1 succeeded, 0 failed" "$WORK/count.txt" ||
		{ cat "$WORK/count.txt" >&2; die "$g: not every call succeeded"; }
}
count_phase() {  # pid calls: the newest dump's objects after calls
	local part
	callgrind_control -z "$1" >/dev/null 2>&1
	count_load "$2"
	callgrind_control -d "$1" >/dev/null 2>&1
	part=$(ls "$WORK/$g.cg".* | sort -t. -k3 -n | tail -1)
	cg_objects "$part"
	# GRPC_KEEP=DIR keeps each dump as DIR/GATEWAY.CALLS.cg, for
	# callgrind_annotate (where a call's instructions go, by function)
	if [ -n "${GRPC_KEEP:-}" ]; then
		mkdir -p "$GRPC_KEEP" && cp "$part" "$GRPC_KEEP/$g.$2.cg"
	fi
	rm -f "$WORK/$g.cg".*
}
if [ "$COUNT" = 1 ]; then
	for c in valgrind callgrind_control python3; do
		command -v "$c" >/dev/null 2>&1 || die "$c not found (apt-get install valgrind python3)"
	done
	echo "gateway,object,instructions_per_call" >"$OUT/grpc-count.csv"
	for g in "${GWS[@]}"; do
		start_gw "$g" count
		sleep 1
		count_load 2000
		count_phase "$GW_PID" "$CALLS" >"$WORK/$g.n1"
		count_phase "$GW_PID" "$((2 * CALLS))" >"$WORK/$g.n2"
		gw_stop
		awk -v g="$g" -v n="$CALLS" '
			FNR == NR { a[$1] = $2; next }
			{ d = ($2 - a[$1]) / n; if (d >= 1) printf "%s,%s,%.0f\n", g, $1, d }' \
			"$WORK/$g.n1" "$WORK/$g.n2" | sort -t, -k3 -rn >>"$OUT/grpc-count.csv"
		log "$g: $(awk -F, -v g="$g" '$1 == g { t += $3 } END { printf "%.0f", t }' "$OUT/grpc-count.csv") instructions per call"
	done
	python3 - "$OUT" "$CALLS" "$CONNS" "$STREAMS" <<'PY'
import csv, sys
out, calls, conns, streams = sys.argv[1:]
rows = list(csv.DictReader(open(out + "/grpc-count.csv")))
gws, tot, parts = [], {}, {}
for r in rows:
    g = r["gateway"]
    if g not in gws:
        gws.append(g)
    n = float(r["instructions_per_call"])
    tot[g] = tot.get(g, 0) + n
    parts.setdefault(g, []).append("%s %s" % (r["object"], format(int(n), ",")))
peers = [tot[g] for g in gws if g != "sluice"]
best = min(peers) if peers else None
lines = ["| gateway | instructions per call | x best peer | by object |",
         "|---|--:|--:|---|"]
for g in gws:
    ratio = "%.2f" % (tot[g] / best) if best else "-"
    lines.append("| %s | %s | %s | %s |" % (g, format(int(tot[g]), ","), ratio,
                                         ", ".join(parts[g][:5])))
text = "\n".join(lines) + ("\n\nUser-space instructions per unary call (callgrind), "
        "the difference of %s and %d calls; %s connections x %s streams.\n"
        % (calls, 2 * int(calls), conns, streams))
open(out + "/grpc-count.md", "w").write(text)
print(text)
PY
	log "report: $OUT/grpc-count.md"
	exit 0
fi

echo "round,gateway,calls,seconds,calls_per_s,cpu_us_per_call,upstream_conns,errors" >"$OUT/grpc.csv"
HZ=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	for g in "${GWS[@]}"; do
		before_s=$(up_sessions)
		start_gw "$g"
		# the warm-up: connections made, code paths taken
		taskset -c "$LOAD_CPU" "$H2LOAD" -n 2000 -c "$CONNS" -m "$STREAMS" \
			-d "$WORK/req.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
			"http://127.0.0.1:$GW_PORT/bench.Svc/Call" >"$WORK/warm.txt" 2>&1 || true
		gw_procs  # nginx's worker is there by now
		pids=$GW_PROCS
		t0=$(cpu_ticks $pids)
		s0=$(date +%s.%N)
		taskset -c "$LOAD_CPU" "$H2LOAD" -D "$DURATION" -c "$CONNS" -m "$STREAMS" \
			-d "$WORK/req.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
			"http://127.0.0.1:$GW_PORT/bench.Svc/Call" >"$WORK/run-$g-$r.txt" 2>&1 || true
		s1=$(date +%s.%N)
		t1=$(cpu_ticks $pids)
		after_s=$(up_sessions)
		# calls: h2load's succeeded ones; errors: failed, errored, timed
		# out, and answers other than 2xx
		read -r ok err <<<"$(awk '
			/^requests:/ { for (i = 1; i < NF; i++) {
				if ($(i + 1) ~ /^succeeded/) ok = $i
				if ($(i + 1) ~ /^(failed|errored|timeout)/) e += $i } }
			/^status codes:/ { e += $5 + $7 + $9 }
			END { print ok + 0, e + 0 }' "$WORK/run-$g-$r.txt")"
		[ "$ok" -gt 0 ] || { cat "$WORK/run-$g-$r.txt" >&2; die "$g: no call succeeded"; }
		c2xx=$ok
		awk -v r="$r" -v g="$g" -v n="$c2xx" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" \
			-v hz="$HZ" -v c="$((after_s - before_s - 1))" -v e="$err" \
			'BEGIN { secs = s1 - s0; printf "%d,%s,%d,%.2f,%.0f,%.2f,%d,%d\n", r, g, n, secs, n / secs, (t1 - t0) / hz * 1e6 / n, c, e }' \
			>>"$OUT/grpc.csv"
		log "$(tail -n 1 "$OUT/grpc.csv")"
		gw_stop
	done
done

python3 - "$OUT" <<'EOF'
import csv, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(out + "/grpc.csv")))
gws = []
for r in rows:
    if r["gateway"] not in gws:
        gws.append(r["gateway"])
med = {}
for g in gws:
    rs = [r for r in rows if r["gateway"] == g]
    med[g] = {k: statistics.median(float(r[k]) for r in rs)
              for k in ("cpu_us_per_call", "calls_per_s", "upstream_conns",
                        "errors")}
peers = [med[g]["cpu_us_per_call"] for g in gws if g != "sluice"]
best = min(peers) if peers else None
lines = ["| gateway | µs CPU per call | x best peer | calls per CPU second | calls/s | upstream connections | errors |",
         "|---|--:|--:|--:|--:|--:|--:|"]
for g in gws:
    m = med[g]
    ratio = "%.2f" % (m["cpu_us_per_call"] / best) if best else "-"
    lines.append("| %s | %.2f | %s | %s | %s | %d | %d |" % (
        g, m["cpu_us_per_call"], ratio,
        format(int(1e6 / m["cpu_us_per_call"]), ","),
        format(int(m["calls_per_s"]), ","), m["upstream_conns"],
        m["errors"]))
text = "\n".join(lines) + "\n\nMedians of %d round(s); every run in grpc.csv.\n" % (
    len(rows) // max(len(gws), 1))
open(out + "/grpc.md", "w").write(text)
print(text)
EOF
log "report: $OUT/grpc.md"
