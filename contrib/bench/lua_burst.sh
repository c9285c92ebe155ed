#!/usr/bin/env bash
# contrib/bench/lua_burst.sh -- whether a burst of Lua scripts that never
# end on their own holds up another route's requests (issue 80's second
# target).
#
# usage: contrib/bench/lua_burst.sh [--runs N] [--duration SECS]
#            [--conns N] [--delay-ms MS] [--burst N] [--interval SECS]
#            [--paths LIST] [--keep] [SLUICE_BINARY]
#
# Issue 80's target: a script that loops forever, one that allocates
# without end and the pattern ("a"):rep(1e4):find(".-.-.-.-b$") are each
# cut within their budget (by default at most 5 ms of running time),
# answered as documented (the route's on_error), and the p99 of another
# route under steady load moves at most 1.5 times (plus 5 ms) while a
# burst of 50 of them runs at once. doc/lua.md section 3 says how: a call
# runs in slices of 0.2 ms and gives the loop back between them, and the
# loop serves the run queue of such calls for at most 0.5 ms a turn, so a
# burst delays another request by about a turn, not by the sum of the
# budgets. This measures it.
#
# One sluice (SLUICE_BINARY, default $SLUICE, else build/src/sluice) with
# "workers: 1", so that everything shares one loop (the worst case), and
# one listener with two routes to one upstream (an nginx worker answering
# "ok" from its configuration, on kept-alive connections):
#   plain  path_prefix /plain, no script
#   bad    path_prefix /bad, a script whose request function, by path,
#          loops forever (/bad/loop), allocates without end (/bad/alloc:
#          a table of 4 KiB strings), or runs the catastrophic pattern
#          (/bad/pattern), with the default budgets spelled out (time 5ms,
#          instructions 1,000,000, memory 16MiB) and on_error 503
# and an admin listener for /metrics. Then, --runs times (3):
#   base   wrk on /plain, a steady moderate load for --duration seconds
#          (10): --conns (8) connections, each waiting --delay-ms (2) ms
#          after an answer before its next request (wrk's delay(); Debian's
#          wrk has no fixed rate, and an unpaced wrk would keep the loop
#          saturated, where a burst could only add to a queue that is
#          already there)
#   burst  the same, while lua_burst.py fires a burst of --burst (50)
#          concurrent requests to /bad/... every --interval (0.5) s, one
#          path a burst in turn (loop, alloc, pattern): each request on a
#          connection of its own, all of them written at once; it counts
#          their statuses (each must be 503) and times each from its write
#          to its answer's end
# --paths (loop,alloc,pattern) takes the bursts' paths from that list, in
# turn: one of them alone says which kind of script holds the loop up.
# It prints, for each run, /plain's p50, p99 and max in both phases, the
# ratio of the p99s and whether p99_burst <= 1.5 * p99_base + 5 ms holds;
# the bad requests' statuses and answer times (p50, p99, max; and per
# path); and what sluice's /metrics counted for the route bad during the
# burst phase: sluice_lua_failures_total by kind,
# sluice_lua_yields_total, and the calls' mean running time
# (sluice_lua_seconds_total over sluice_lua_calls_total), which is the
# "cut within its budget" part: it must stay near 5 ms. The machine's
# load average is printed with each run: other jobs on the CPUs show in
# both phases' p99.
#
# What to expect of a bad request's answer time: 50 calls of up to 5 ms of
# running time each share the one loop, so a burst is about 250 ms of
# work and its last answer comes that long after its first write; it is
# the budget of running time that each one keeps, not the wall-clock time
# to its answer. A burst every 0.5 s thus keeps the loop about half busy
# with scripts; /plain's requests go on between their slices.
#
# The whole run passes (exit 0) when every run's verdict holds and every
# bad request was answered 503; the numbers are printed either way.
# --keep keeps the scratch directory (wrk's outputs, the burst client's,
# the metrics before and after, sluice's logs). Environment: WRK, NGINX,
# PYTHON, GW_CPU (0) and LOAD_CPU (1: the upstream, wrk and the burst
# client; one CPU: both 0), UP_PORT (19400), GW_PORT (19410), ADMIN_PORT
# (19420), MAX_SECONDS (the whole run stopped after so long; 600).
#
# Needs: wrk, nginx (nginx-light is enough), python3, curl.
# Traffic is to 127.0.0.1 only; everything started is stopped on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

RUNS=3
DURATION=10
CONNS=8
DELAY_MS=2
BURST=50
INTERVAL=0.5
PATHS=loop,alloc,pattern
BIN=""
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) RUNS=${2:?$1 needs a value}; shift ;;
	--duration) DURATION=${2:?$1 needs a value}; shift ;;
	--conns) CONNS=${2:?$1 needs a value}; shift ;;
	--delay-ms) DELAY_MS=${2:?$1 needs a value}; shift ;;
	--burst) BURST=${2:?$1 needs a value}; shift ;;
	--interval) INTERVAL=${2:?$1 needs a value}; shift ;;
	--paths) PATHS=${2:?$1 needs a value}; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) [ -z "$BIN" ] || die "one sluice binary"; BIN=$1 ;;
	esac
	shift
done
BIN=${BIN:-${SLUICE:-build/src/sluice}}
[ -x "$BIN" ] || die "$BIN is not executable (SLUICE_BINARY, or SLUICE)"
SLUICE=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
for n in RUNS DURATION CONNS DELAY_MS BURST; do
	case "${!n}" in '' | *[!0-9]*) die "--$(echo "$n" | tr 'A-Z_' 'a-z-') must be a whole number" ;; esac
done
[ "$RUNS" -ge 1 ] || die "--runs must be at least 1"
BAD_PATHS=""
for p in ${PATHS//,/ }; do
	case "$p" in loop | alloc | pattern) ;; *) die "--paths: $p is not loop, alloc or pattern" ;; esac
	BAD_PATHS="$BAD_PATHS${BAD_PATHS:+,}/bad/$p"
done
[ -n "$BAD_PATHS" ] || die "--paths is empty"

WRK=${WRK:-wrk}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
for t in "$WRK" "${NGINX:-nginx}" "$PYTHON" curl ss taskset; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install wrk nginx-light python3 curl)"
done
if [ "$(nproc)" -ge 2 ]; then
	GW_CPU=${GW_CPU:-0}
	LOAD_CPU=${LOAD_CPU:-1}
else
	GW_CPU=${GW_CPU:-0}
	LOAD_CPU=${LOAD_CPU:-0}
fi

scratch_dir sluice-lburst
watchdog_start "${MAX_SECONDS:-600}"
UP_PORT=$(pick_port "${UP_PORT:-19400}")
GW_PORT=$(pick_port "${GW_PORT:-19410}")
ADMIN_PORT=$(pick_port "${ADMIN_PORT:-19420}")
others_running nginx haproxy sluice wrk h2load

# ---------------------------------------------------------------- upstream
# one nginx worker answering from its configuration: the upstream costs
# next to nothing, so /plain's latency is the gateway's and the loopback's
UP="$WORK/upstream"
server_dir "$UP"
cat >"$UP/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $UP/nginx.pid;
error_log $UP/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$UP/tmp")
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        location / { return 200 "ok\n"; }
    }
}
EOF
server_start nginx "$UP" "$LOAD_CPU"
UP_PID=$SERVER_PID
wait_http "http://127.0.0.1:$UP_PORT/" 10 "$UP_PID" || server_failed "$UP" "the upstream nginx did not start"

# ---------------------------------------------------------------- sluice
GW="$WORK/sluice"
server_dir "$GW"
cat >"$GW/bad.lua" <<'EOF'
-- lua_burst.sh's route "bad": three scripts that never end on their own
function on_request(r)
  local p = r:path()
  if p == "/bad/loop" then
    while true do end
  elseif p == "/bad/alloc" then
    local t = {}
    while true do t[#t + 1] = ("x"):rep(4096) .. #t end
  elseif p == "/bad/pattern" then
    return ("a"):rep(1e4):find(".-.-.-.-b$")
  end
end
EOF
cat >"$GW/sluice.yaml" <<EOF
workers: 1
log: { level: warn }
admin: { address: "127.0.0.1:$ADMIN_PORT" }
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    routes:
      - name: plain
        match: { path_prefix: /plain }
        cluster: up
      - name: bad
        match: { path_prefix: /bad }
        cluster: up
        lua:
          file: $GW/bad.lua
          request: on_request
          time: 5ms
          instructions: 1000000
          memory: 16MiB
          on_error: 503
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF
"$SLUICE" -t -c "$GW/sluice.yaml" >"$WORK/check.out" 2>&1 ||
	{ cat "$WORK/check.out" >&2; die "sluice -t refused the configuration (a sluice without Lua?)"; }
gw_start sluice sluice "$GW" "$GW_CPU"
wait_http "http://127.0.0.1:$GW_PORT/plain" 10 "$GW_PID" || gw_failed
wait_http "http://127.0.0.1:$ADMIN_PORT/metrics" 10 "$GW_PID" || gw_failed "sluice's admin listener did not answer"

# each bad path answered 503, alone, before any load
for p in loop alloc pattern; do
	s=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$GW_PORT/bad/$p" || true)
	[ "$s" = 503 ] || die "/bad/$p answered $s alone, not 503 (on_error)"
done

# wrk's pacing: each connection waits DELAY_MS after an answer
cat >"$WORK/pace.lua" <<EOF
function delay() return $DELAY_MS end
EOF

wrk_run() {  # seconds out
	taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$CONNS" -d"$1s" --latency -s "$WORK/pace.lua" \
		"http://127.0.0.1:$GW_PORT/plain" >"$2" 2>&1 || die "wrk failed: $(tail -n 2 "$2")"
}

# parse_wrk FILE: "p50 p99 max rps requests non2xx socket_errors", ms
parse_wrk() {
	awk '
		function ms(v) {
			if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
			if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
			if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
			if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
			return v + 0
		}
		$1 == "Latency" && NF >= 4 && !got { max = ms($4); got = 1 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/requests in/ { n = $1 }
		/Non-2xx/ { non2xx = $NF }
		/Socket errors/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
		/^Requests\/sec/ { rps = $2 }
		END { printf "%.3f %.3f %.3f %.0f %d %d %d\n", p50, p99, max, rps, n, non2xx, err }
	' "$1"
}

# lua_metrics: the route bad's counters, "calls error instructions time
# memory yields seconds"
lua_metrics() {
	curl -s --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '
		/^sluice_lua_/ && /route="bad"/ {
			v = $NF
			if ($1 ~ /^sluice_lua_calls_total/ && /function="request"/) c = v
			else if ($1 ~ /^sluice_lua_failures_total/) {
				match($0, /kind="[a-z]*"/)
				f[substr($0, RSTART + 6, RLENGTH - 7)] = v
			} else if ($1 ~ /^sluice_lua_yields_total/) y = v
			else if ($1 ~ /^sluice_lua_seconds_total/) s = v
		}
		END { printf "%d %d %d %d %d %d %.6f\n", c, f["error"], f["instructions"], f["time"], f["memory"], y, s }'
}

log "sluice $SLUICE (1 worker) on CPU $GW_CPU; upstream, wrk and the burst client on CPU $LOAD_CPU"
log "load on /plain: $CONNS connections, ${DELAY_MS} ms between a connection's requests, ${DURATION} s a phase; bursts of $BURST every ${INTERVAL} s ($BAD_PATHS)"
wrk_run 2 "$WORK/warmup.txt"

FAIL=0
SUMMARY="$WORK/summary.txt"
: >"$SUMMARY"
for r in $(seq "$RUNS"); do
	wrk_run "$DURATION" "$WORK/base-$r.txt"
	read -r b50 b99 bmax brps bn bnon berr <<<"$(parse_wrk "$WORK/base-$r.txt")"

	m0=$(lua_metrics)
	taskset -c "$LOAD_CPU" "$PYTHON" "$HERE/lua_burst.py" --port "$GW_PORT" \
		--duration "$DURATION" --interval "$INTERVAL" --size "$BURST" --paths "$BAD_PATHS" \
		>"$WORK/burst-$r.out" 2>"$WORK/burst-$r.err" &
	BP=$!
	register_pid "$BP"
	wrk_run "$DURATION" "$WORK/plain-burst-$r.txt"
	wait "$BP" || die "the burst client failed: $(tail -n 3 "$WORK/burst-$r.err")"
	forget_pid "$BP"
	m1=$(lua_metrics)
	read -r u50 u99 umax urps un unon uerr <<<"$(parse_wrk "$WORK/plain-burst-$r.txt")"
	echo "$m0" >"$WORK/metrics-$r.before"
	echo "$m1" >"$WORK/metrics-$r.after"
	proc_alive "$GW_PID" || die "sluice died during run $r; see $GW/logs"

	read -r nreq unexp a50 a99 amax spans bursts late statuses <<<"$(awk '
		$1 == "requests" { n = $2 }
		$1 == "unexpected" { u = $2 }
		$1 == "answer_ms" { a = $2 " " $3 " " $4 }
		$1 == "span_ms" { sp = $2 "/" $3 }
		$1 == "bursts" { b = $2; l = $4 }
		$1 == "status" { st = st (st ? "," : "") $2 "x" $3 }
		END { print n, u, a, sp, b, l, st }' "$WORK/burst-$r.out")"
	read -r dc de di dt dm dy ds <<<"$(echo "$m0 $m1" | awk '{
		printf "%d %d %d %d %d %d %.6f\n", $8 - $1, $9 - $2, $10 - $3, $11 - $4, $12 - $5, $13 - $6, $14 - $7 }')"
	read -r ratio ok <<<"$(awk -v b="$b99" -v u="$u99" 'BEGIN {
		printf "%.2f %s\n", (b > 0 ? u / b : 0), (u <= 1.5 * b + 5 ? "holds" : "FAILS") }')"
	mean=$(awk -v s="$ds" -v c="$dc" 'BEGIN { printf "%.2f", (c > 0 ? s * 1000 / c : 0) }')
	[ "$ok" = holds ] || FAIL=1
	[ "$unexp" = 0 ] || FAIL=1

	{
		echo "run $r (load average $(cut -d' ' -f1-3 /proc/loadavg))"
		printf '  /plain base : p50 %7.3f  p99 %7.3f  max %8.3f ms  (%s req/s, %s requests, non-2xx %s, socket errors %s)\n' \
			"$b50" "$b99" "$bmax" "$brps" "$bn" "$bnon" "$berr"
		printf '  /plain burst: p50 %7.3f  p99 %7.3f  max %8.3f ms  (%s req/s, %s requests, non-2xx %s, socket errors %s)\n' \
			"$u50" "$u99" "$umax" "$urps" "$un" "$unon" "$uerr"
		printf '  p99 ratio %s; p99_burst <= 1.5 * p99_base + 5 ms: %s\n' "$ratio" "$ok"
		printf '  bad: %s requests in %s bursts (%s began while another was out), statuses %s, not 503: %s\n' \
			"$nreq" "$bursts" "$late" "$statuses" "$unexp"
		printf '  bad answer times: p50 %s  p99 %s  max %s ms; a burst, first write to last answer: p50/max %s ms\n' \
			"$a50" "$a99" "$amax" "${spans}"
		grep '^path ' "$WORK/burst-$r.out" | awk '{ printf "    %-13s p50 %s  p99 %s  max %s ms  (%s)\n", $2, $3, $4, $5, $6 }'
		printf '  sluice, route bad: %s calls, failures error %s instructions %s time %s memory %s; yields %s; running time %.3f s, %s ms a call\n' \
			"$dc" "$de" "$di" "$dt" "$dm" "$dy" "$ds" "$mean"
	} | tee -a "$SUMMARY"
	echo "$r $b50 $b99 $bmax $u50 $u99 $umax $ratio $ok $nreq $unexp $a50 $a99 $amax $de $di $dt $dm $dy $mean" >>"$WORK/table.txt"
done

gw_stop fatal
echo
awk 'BEGIN {
	printf "%-3s %8s %8s %8s %8s %6s %-6s %6s %7s %8s %8s  %s\n", "run", "base50", "base99", "burst50",
		"burst99", "ratio", "p99", "bad", "not503", "bad50", "bad99", "failures err/ins/time/mem"
	}
	{ printf "%-3s %8.3f %8.3f %8.3f %8.3f %6s %-6s %6s %7s %8s %8s  %s/%s/%s/%s\n",
		$1, $2, $3, $5, $6, $8, $9, $10, $11, $12, $13, $15, $16, $17, $18 }' "$WORK/table.txt"
echo "(ms; p99 holds: p99_burst <= 1.5 * p99_base + 5 ms)"
if [ "$FAIL" = 0 ]; then
	echo "issue 80's second target: met in all $RUNS runs"
else
	echo "issue 80's second target: NOT met (see the runs above)"
	exit 1  # the scratch directory is kept (lib.sh: KEEP_ON_ERROR)
fi
