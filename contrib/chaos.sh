#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# chaos.sh - upstreams SIGKILLed under load, on loopback only.
#
# Starts three upstreams (contrib/chaos.py upstream: Python, HTTP/1.1
# keep-alive, each answer 0-20 ms late, each request written to a ledger
# before it is answered) and sluice (2 workers) in front of them: one
# cluster, round robin, two routes: POST /pay (not idempotent, no
# Idempotency-Key: never sent twice once sent) and the rest (GET). Retry
# has its defaults (attempts 2, on [connect-failure, reset]); the cluster
# has health_check (/health every 500ms, timeout 200ms) and outlier
# (3 errors in a row eject for 2s), unless --plain.
# Then keep-alive clients send GET and POST /pay, half each, every request
# with its own X-Request-Id, while every few seconds one upstream, in turn,
# is SIGKILLed and started again 0.5-1 s later on the same port.
#
# Prints a table (GET / POST / all): requests, 2xx, the errors clients saw
# by kind, the requests in flight on the killed upstreams at the kills
# (read whole by the upstream, not answered: from its ledger), which
# errors those explain, the request ids the upstreams read more than once
# (a POST: a payment made twice; a GET: a retry), and sluice's retry and
# ejection counters; then the verdict. PASS: no POST read twice, and no
# more client-visible errors than requests in flight on killed upstreams.
#
# usage: contrib/chaos.sh [--duration S] [--clients N] [--interval S]
#                         [--plain] [--sluice PATH] [--keep] [-h]
#   --duration S   seconds of load (default 30; at least 5)
#   --clients N    client threads, one keep-alive connection each
#                  (default 16)
#   --interval S   seconds between two SIGKILLs (default 3; at least 2)
#   --plain        no health_check and no outlier: retries alone
#   --sluice PATH  the binary (default: $SLUICE, else ./build/src/sluice)
#   --keep         keep the temporary directory (config, sluice's stderr,
#                  ledgers, requests.tsv, kills.tsv); kept on FAIL anyway
# Environment: SLUICE, PYTHON (default python3), MAX_SECONDS (hard limit
# of the whole run; default duration + 40).
#
# Exit status: 0 PASS, 1 FAIL, 2 setup error (or the time limit).
# Every process it starts is ended on exit; every wait is bounded.

set -u
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)

DURATION=30
CLIENTS=16
INTERVAL=3
PLAIN=0
KEEP=0
SLUICE=${SLUICE:-$TOP/build/src/sluice}
PYTHON=${PYTHON:-python3}

usage() {
	sed -n '/^# usage:/,/^# Every process/p' "$0" | sed 's/^# \{0,1\}//'
}
die() {
	echo "chaos: $*" >&2
	exit 2
}
log() { printf '%s chaos: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=${2:-}; shift 2 || die "--duration wants a value" ;;
	--clients) CLIENTS=${2:-}; shift 2 || die "--clients wants a value" ;;
	--interval) INTERVAL=${2:-}; shift 2 || die "--interval wants a value" ;;
	--plain) PLAIN=1; shift ;;
	--sluice) SLUICE=${2:-}; shift 2 || die "--sluice wants a path" ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "chaos: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done
case "$DURATION" in '' | *[!0-9]*) die "--duration wants an integer >= 5" ;; esac
case "$CLIENTS" in '' | *[!0-9]* | 0) die "--clients wants an integer >= 1" ;; esac
case "$INTERVAL" in '' | *[!0-9]*) die "--interval wants an integer >= 2" ;; esac
[ "$DURATION" -ge 5 ] || die "--duration wants an integer >= 5"
[ "$INTERVAL" -ge 2 ] || die "--interval wants an integer >= 2"
[ "$CLIENTS" -le 512 ] || die "--clients: at most 512"
[ $((INTERVAL + 2)) -le "$DURATION" ] || die "--duration must be at least --interval + 2"
MAX_SECONDS=${MAX_SECONDS:-$((DURATION + 40))}

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON=...)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 7))' ||
	die "$PYTHON: Python 3.7 or later needed"
[ -f "$HERE/chaos.py" ] || die "$HERE/chaos.py not found"
[ -x "$SLUICE" ] || die "sluice binary not found at $SLUICE (set SLUICE or --sluice)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
ulimit -n 4096 2>/dev/null || true

WORK=$(mktemp -d /tmp/sluice-chaos.XXXXXX) || die "mktemp failed"
SLUICE_PID=
DRIVER_PID=
WATCHDOG=
RC=2

alive() { kill -0 "$1" 2>/dev/null; }
stop_pid() { # PID: TERM, at most 5 s, then KILL
	local p=$1
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	for _ in $(seq 50); do
		alive "$p" || break
		sleep 0.1
	done
	alive "$p" && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}
cleanup() {
	local p
	trap - EXIT INT TERM
	stop_pid "$DRIVER_PID"
	# upstreams the driver started and could not end (it was killed):
	# only pids that still run chaos.py upstream
	if [ -f "$WORK/upstream.pids" ]; then
		while read -r p; do
			tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" |
				grep -q 'chaos.py upstream' && kill -KILL "$p" 2>/dev/null
		done <"$WORK/upstream.pids"
	fi
	stop_pid "$SLUICE_PID"
	if [ -n "$WATCHDOG" ]; then
		kill "$WATCHDOG" 2>/dev/null
		wait "$WATCHDOG" 2>/dev/null
	fi
	if [ "$KEEP" = 1 ] || [ "$RC" != 0 ]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$RC"
}
trap cleanup EXIT
trap 'log interrupted; RC=2; exit 2' INT
trap 'log "stopped (time limit of ${MAX_SECONDS}s?)"; RC=2; exit 2' TERM

watchdog() { # TERM to the script after MAX_SECONDS; its sleep holds no pipe
	local sp
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$MAX_SECONDS" </dev/null >/dev/null 2>&1 &
	sp=$!
	wait "$sp"
	echo "chaos: time limit of ${MAX_SECONDS}s reached" >&2
	kill -TERM $$
}
watchdog &
WATCHDOG=$!

# ---- ports ------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
USED=" "
pick_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		case $USED in *" $p "*) continue ;; esac
		if port_free "$p"; then
			USED="$USED$p "
			echo "$p"
			return 0
		fi
	done
	return 1
}
GW=$(pick_port) && ADMIN=$(pick_port) && UP1=$(pick_port) &&
	UP2=$(pick_port) && UP3=$(pick_port) || die "no free port"

# ---- sluice -------------------------------------------------------------------
FEATURES="    health_check: { path: /health, interval: 500ms, timeout: 200ms }
    outlier: { consecutive_errors: 3, ejection_time: 2s }"
[ "$PLAIN" = 1 ] && FEATURES="    # --plain: no health_check, no outlier"
cat >"$WORK/sluice.yaml" <<EOF
# contrib/chaos.sh
workers: 2
drain_timeout: 1s
admin: { address: 127.0.0.1:$ADMIN }
log: { level: warn, access: off }
listeners:
  - name: chaos
    address: 127.0.0.1:$GW
    routes:
      # not idempotent, no Idempotency-Key: never retried once sent
      - name: pay
        match: { path: /pay, methods: [POST] }
        cluster: up
        timeout: 5s
      - name: read
        cluster: up
        timeout: 5s
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP1, 127.0.0.1:$UP2, 127.0.0.1:$UP3]
    balance: round_robin
$FEATURES
EOF
"$SLUICE" -t -c "$WORK/sluice.yaml" >/dev/null 2>"$WORK/check.err" ||
	{ cat "$WORK/check.err" >&2; die "sluice -t refused the configuration"; }

# ---- the run ------------------------------------------------------------------
# chaos.py starts the upstreams, and once they answer (upstreams.ready)
# sluice starts here (sluice.ready); then it runs the load and the kills.
ARGS=(--work "$WORK" --gateway "$GW" --admin "$ADMIN" --ports "$UP1,$UP2,$UP3"
	--duration "$DURATION" --clients "$CLIENTS" --interval "$INTERVAL")
[ "$PLAIN" = 1 ] && ARGS+=(--plain)
"$PYTHON" "$HERE/chaos.py" run "${ARGS[@]}" </dev/null &
DRIVER_PID=$!
for _ in $(seq 200); do
	[ -e "$WORK/upstreams.ready" ] && break
	alive "$DRIVER_PID" || break
	sleep 0.05
done
[ -e "$WORK/upstreams.ready" ] || die "the upstreams did not start"

"$SLUICE" -c "$WORK/sluice.yaml" >"$WORK/sluice.out" 2>"$WORK/sluice.err" </dev/null &
SLUICE_PID=$!
for _ in $(seq 100); do
	alive "$SLUICE_PID" || break
	port_free "$GW" || port_free "$ADMIN" || break
	sleep 0.05
done
alive "$SLUICE_PID" && ! port_free "$GW" && ! port_free "$ADMIN" ||
	{ tail -n 20 "$WORK/sluice.err" >&2; die "sluice did not start"; }
log "sluice $SLUICE_PID on 127.0.0.1:$GW (admin $ADMIN); upstreams on $UP1, $UP2, $UP3$([ "$PLAIN" = 1 ] && echo "; --plain")"
: >"$WORK/sluice.ready"

wait "$DRIVER_PID"
RC=$?
DRIVER_PID=

if ! alive "$SLUICE_PID"; then
	wait "$SLUICE_PID"
	echo "FAIL: sluice exited during the run (status $?)"
	RC=1
fi
case $RC in
0 | 1) ;;
*) RC=2 ;;
esac
NWARN=$(grep -c ' warn: ' "$WORK/sluice.err")
NERR=$(grep -cE ' (error|crit|fatal): ' "$WORK/sluice.err")
echo "sluice stderr: $(wc -l <"$WORK/sluice.err") lines, $NWARN warn, $NERR error"
if [ "$RC" = 1 ]; then
	echo "sluice stderr, last 30 lines ($WORK/sluice.err):"
	tail -n 30 "$WORK/sluice.err" | cut -c1-300
fi
log "done in ${SECONDS}s"
exit "$RC"
