#!/usr/bin/env bash
# contrib/bench/uring-trial/bench.sh -- epoll vs io_uring prototype (and
# sluice as the reference) under the bench's "ka" load.
#
# usage: bench.sh [--rounds N] [--duration SECS] [--gateways LIST] [--out FILE]
#   --gateways  from epoll,uring,uring-w1,uring-none,sluice (default all;
#               uring = flags auto, waiting for sends+1 completions;
#               uring-w1 = flags auto, waiting for 1 completion;
#               uring-none = no setup flags, waiting for sends+1)
# Environment: SLUICE (default build/src/sluice), NGINX, WRK,
# GW_CPU (0), LOAD_CPU (1), UP_PORT (19310), GW_PORT (19320).
#
# Per round and gateway: start it alone on GW_CPU (nginx upstream, one
# worker, and wrk on LOAD_CPU, as contrib/bench/run.sh), 1 s warm-up, a
# measured wrk -t1 -c64 -dDURATION --latency run (/proc figures: CPU of the
# gateway's threads, context switches of its threads, GW_CPU's busy time
# including irq/softirq), then a separate 3 s run under
# perf stat -e raw_syscalls:sys_enter,context-switches -p PID (syscalls
# per request; perf perturbs, so no CPU figure is taken from it).
# Raw lines go to --out (TSV); summary.py prints the medians.
# Traffic is to 127.0.0.1 only. Everything started here is stopped on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
KEEP_ON_ERROR=0  # the scratch directory goes, whatever happens
SLUICE=${SLUICE:-build/src/sluice}
NGINX=${NGINX:-nginx}
WRK=${WRK:-wrk}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
UP_PORT=${UP_PORT:-19310}
GW_PORT=${GW_PORT:-19320}
ROUNDS=5
DURATION=10
PERF_S=3
CONNS=64            # run.sh scenario "ka": 64 connections, path /
GATEWAYS="epoll,uring,uring-w1,uring-none,sluice"
OUT="$HERE/results.tsv"
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--gateways) GATEWAYS=$2; shift ;;
	--out) OUT=$2; shift ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$HERE/proxy" ] || make -C "$HERE" >/dev/null
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }  # (UTC)
for p in "$UP_PORT" "$GW_PORT"; do
	port_free "$p" || { echo "port $p in use" >&2; exit 1; }
done
scratch_dir uring-trial

# ------------------------------------------------ upstream (run.sh's nginx)
UP="$WORK/upstream"
mkdir -p "$UP/www" "$UP/tmp" "$UP/logs"
python3 - "$UP/www/index.html" <<'EOF'
import sys
line = b"sluice bench payload 0123456789abcdefghijklmnopqrstuvwxyz\n"
n = 100
open(sys.argv[1], "wb").write((line * (n // len(line) + 1))[:n - 1] + b"\n")
EOF
chmod -R a+rX "$UP"; chmod 777 "$UP/tmp"
cat >"$UP/nginx.conf" <<EOF
user root;
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
    }
}
EOF
server_start nginx "$UP" "$LOAD_CPU"
wait_http "http://127.0.0.1:$UP_PORT/" 10 "$SERVER_PID" || server_failed "$UP" "the upstream nginx did not start"

# sluice: contrib/bench/run.sh's conf_sluice with workers: 1, plain route
cat >"$WORK/sluice.yaml" <<EOF
workers: 1
drain_timeout: 1s
log: { level: warn, access: off }
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    limits:
      max_body_bytes: 8MiB
    routes:
      - cluster: up
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
  - name: up2
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF

# ------------------------------------------------ measurement helpers
start_gw() {  # name -> GW_PID
	local log="$WORK/gw-$1.stderr"
	case "$1" in
	epoll) taskset -c "$GW_CPU" "$HERE/proxy" epoll "$GW_PORT" "$UP_PORT" 2>>"$log" & ;;
	uring) taskset -c "$GW_CPU" "$HERE/proxy" uring "$GW_PORT" "$UP_PORT" 2>>"$log" & ;;
	uring-w1) taskset -c "$GW_CPU" "$HERE/proxy" uring "$GW_PORT" "$UP_PORT" -W 1 2>>"$log" & ;;
	uring-none) taskset -c "$GW_CPU" "$HERE/proxy" uring "$GW_PORT" "$UP_PORT" -F none 2>>"$log" & ;;
	sluice) taskset -c "$GW_CPU" "$SLUICE" -c "$WORK/sluice.yaml" >/dev/null 2>>"$log" & ;;
	esac
	GW_PID=$!
	register_pid "$GW_PID"
	wait_http "http://127.0.0.1:$GW_PORT/" 10 "$GW_PID" || { tail "$log" >&2; exit 1; }
}
stop_gw() {
	stop_pid "$GW_PID"
}
# utime+stime ticks (all threads), on-CPU ns (schedstat, all threads),
# voluntary and involuntary context switches (all threads), threads,
# GW_CPU busy ticks (user+nice+system+irq+softirq+steal), GW_CPU softirq
snap() {
	local t ns=0 vol=0 inv=0 nt=0 a b
	read -r a b <<<"$(sed 's/.*) //' "/proc/$GW_PID/stat" | awk '{ print $12, $13 }')"
	for t in /proc/"$GW_PID"/task/*; do
		ns=$((ns + $(cut -d' ' -f1 "$t/schedstat")))
		vol=$((vol + $(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")))
		inv=$((inv + $(awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "$t/status")))
		nt=$((nt + 1))
	done
	echo "$((a + b)) $ns $vol $inv $nt $(awk -v c="cpu$GW_CPU" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9, $8 }' /proc/stat)"
}
wrk_run() {  # secs out
	taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$CONNS" -d"$1s" --latency "http://127.0.0.1:$GW_PORT/" >"$2" 2>&1
}
wrk_fig() {  # file -> requests rps p50_ms p99_ms errors
	awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/ requests in / { req = $1 }
		/^Requests\/sec:/ { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/Socket errors|Non-2xx/ { err = err $0 ";" }
		END { printf "%s %s %.3f %.3f %s\n", req, rps, p50, p99, (err == "" ? "-" : "err") }' "$1"
}
HZ=$(getconf CLK_TCK)

printf 'round\tgateway\trequests\trps\tp50_ms\tp99_ms\terrors\tcpu_us_req\tsched_us_req\tcpu0_busy_us_req\tcpu0_softirq_us_req\tvol_cs_req\tinvol_cs_req\tthreads\tperf_requests\tsyscalls_req\tperf_cs_req\n' >"$OUT"
log "scratch $WORK, results to $OUT"
for r in $(seq "$ROUNDS"); do
	for gw in ${GATEWAYS//,/ }; do
		start_gw "$gw"
		wrk_run 1 "$WORK/warm.txt" || true
		s0=$(snap)
		wrk_run "$DURATION" "$WORK/wrk-$r-$gw.txt"
		s1=$(snap)
		read -r req rps p50 p99 err <<<"$(wrk_fig "$WORK/wrk-$r-$gw.txt")"
		fig=$(printf '%s\n%s\n' "$s0" "$s1" | awk -v n="$req" -v hz="$HZ" '
			NR == 1 { for (i = 1; i <= 7; i++) a[i] = $i }
			NR == 2 { for (i = 1; i <= 7; i++) d[i] = $i - a[i]; nt = $5 }
			END { printf "%.3f\t%.3f\t%.3f\t%.3f\t%.4f\t%.4f\t%d", d[1] * 1e6 / hz / n, d[2] / 1e3 / n,
				d[6] * 1e6 / hz / n, d[7] * 1e6 / hz / n, d[3] / n, d[4] / n, nt }')
		# syscalls: a separate short run under perf stat
		perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$GW_PID" -o "$WORK/perf-$r-$gw.txt" &
		PERF=$!
		register_pid "$PERF"
		sleep 0.3
		wrk_run "$PERF_S" "$WORK/wrkp-$r-$gw.txt"
		stop_pid "$PERF" INT
		read -r preq _ _ _ _ <<<"$(wrk_fig "$WORK/wrkp-$r-$gw.txt")"
		sc=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$WORK/perf-$r-$gw.txt")
		cs=$(awk -F, '$3 == "context-switches" { print $1 }' "$WORK/perf-$r-$gw.txt")
		stop_gw
		pf=$(awk -v n="$preq" -v s="$sc" -v c="$cs" 'BEGIN { printf "%.3f\t%.4f", s / n, c / n }')
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$gw" "$req" "$rps" "$p50" "$p99" "$err" "$fig" "$preq" "$pf" >>"$OUT"
		log "$(tail -n 1 "$OUT")"
		[ "$err" = "-" ] || { log "wrk reported errors:"; grep -E 'Socket|Non-2xx' "$WORK/wrk-$r-$gw.txt" >&2; }
	done
done
for gw in ${GATEWAYS//,/ }; do
	[ -s "$WORK/gw-$gw.stderr" ] && sed "s/^/[$gw] /" "$WORK/gw-$gw.stderr" >&2
done
log "done"
