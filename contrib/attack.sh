#!/usr/bin/env bash
# contrib/attack.sh - slow-client isolation, measured.
#
# Runs normal keep-alive traffic (wrk) through sluice to a fast upstream
# (nginx), once alone and once during each slow-client attack of
# slowhttptest (slowloris -H, slow body -B, slow read -X), samples sluice's
# memory and descriptors, and prints one table row per scenario with a
# PASS/FAIL verdict against the targets of the slow-client isolation issue.
#
#   SLUICE=build/src/sluice contrib/attack.sh [--quick] [--keep] [--only A,B]
#
#   --quick   smoke test: ~300 attack connections, short runs (~1 minute)
#   --keep    keep the temporary directory (configs, logs, samples)
#   --only A[,B]  run only these (slowloris, slowbody, slowread, cpuhog)
#
# Environment: SLUICE (binary), ATTACK_CONNS and ATTACK_RATE (slowhttptest
# -c and -r), UPSTREAM_SNDBUF (e.g. 64k: nginx's listen
# sndbuf=, to cap the kernel send buffer of the upstream; default: kernel
# autotuning, as a stock nginx has).
#
# Builds nothing: $SLUICE (default ./build/src/sluice) must exist. Uses only
# 127.0.0.1. Every process it starts is ended by the trap, every wait is
# bounded. Exits 0 when it ran to the end (whatever the verdicts), 2 when a
# component failed to start, 3 when sluice died during the run.
#
# Needs: slowhttptest, wrk, nginx, curl, taskset (util-linux), coreutils.
# Missing Debian packages are installed when run as root.

set -u
export LC_ALL=C

QUICK=0
KEEP=0
ONLY="slowloris,slowbody,slowread,cpuhog"
while [ $# -gt 0 ]; do
	a=$1
	shift
	case $a in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	--only)
		ONLY=${1:-}
		shift
		;;
	-h | --help)
		sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "attack: unknown argument: $a" >&2
		exit 2
		;;
	esac
done

SLUICE=${SLUICE:-./build/src/sluice}

# ---- parameters -----------------------------------------------------------
# Budgets (see doc/attack.md for why these values).
HEADER_TIMEOUT=5s
BODY_TIMEOUT=5s
SEND_TIMEOUT=10s
MIN_BODY_RATE=1KiB
MIN_SEND_RATE=1KiB
MAX_CONNECTIONS=9000 # fd budget: 20000 fds, up to 2 per client (+ upstream)
BUFFER_KIB=64        # buffer_bytes, default
HEADER_KIB=32        # max_header_bytes, default
# Memory a client connection may hold by its budget: input buffer, upstream
# response buffer, head buffer (doc/design-notes.md, "Buffers and memory").
BUDGET_BYTES=$(((BUFFER_KIB + BUFFER_KIB + HEADER_KIB + 1) * 1024))

WRK_C=32
if [ "$QUICK" = 1 ]; then
	WRK_D=5       # wrk duration, s
	LEAD=2        # attack head start before wrk, s
	ATT_C=300     # slowhttptest -c
	ATT_R=100     # slowhttptest -r (connections per second)
	ATT_L=8       # slowhttptest -l (test length, s)
else
	WRK_D=20
	LEAD=5
	# slowhttptest opens one connection per pass of its poll loop and
	# sleeps 1/r s in between, so it reaches only 50-70 % of -r here:
	# -r 1000 gives ~600 connections/s, 2,000 within 4 s. -c is sized so
	# that new attack connections keep arriving for about the whole -l,
	# i.e. during the whole wrk run, however fast sluice cuts the old
	# ones (and stays under slowhttptest's own limit: -c + 6 <= ulimit -n).
	ATT_C=19000
	ATT_R=1000
	ATT_L=30
fi
ATT_C=${ATTACK_CONNS:-$ATT_C}
ATT_R=${ATTACK_RATE:-$ATT_R}
RECOVER_MAX=30 # s, poll for fds back to baseline
POOL_SLACK=8   # idle pooled upstream connections more than before, allowed
POLL=0.5       # s

# CPU placement (2 cores): upstream and attacker on core 0, wrk on core 1,
# sluice's two workers float on both.
CPU_UP=0
CPU_ATT=0
CPU_WRK=1

# ---- helpers --------------------------------------------------------------
log() { printf '%s attack: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FATAL: $*"
	exit "${2:-2}"
}

need_pkgs=""
need() { command -v "$1" >/dev/null 2>&1 || need_pkgs="$need_pkgs $2"; }
need slowhttptest slowhttptest
need wrk wrk
need nginx nginx-light
need curl curl
need taskset util-linux
if [ -n "$need_pkgs" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		log "installing:$need_pkgs"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null &&
			apt-get install -y -q --no-install-recommends $need_pkgs >/dev/null ||
			die "apt-get install$need_pkgs failed"
	else
		die "missing:$need_pkgs (run as root to install them)"
	fi
fi
NGINX=$(command -v nginx)

[ -x "$SLUICE" ] || die "sluice binary not found: $SLUICE (set SLUICE=...)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" ||
	die "cannot raise the descriptor limit"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "fd limit $(ulimit -n); cpus $(nproc); load average $LOAD0"
if [ "$(nproc)" -lt 2 ]; then
	CPU_UP=0 CPU_ATT=0 CPU_WRK=0
fi

TMP=$(mktemp -d /tmp/sluice-attack.XXXXXX) || die "mktemp failed"

# Processes we started, by pid; the trap ends exactly these.
PIDS=()
SAMPLER_PID=""
cleanup() {
	local p i
	trap - EXIT INT TERM
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for i in $(seq 1 50); do # at most 5 s, then KILL
		local alive=0
		for p in "${PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$KEEP" = 1 ]; then
		log "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
USED_PORTS=" "
pick_port() {
	local p i
	for i in $(seq 1 100); do
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

# wait_until SECONDS CMD...: polls CMD every 0.1 s
wait_until() {
	local n=$(($1 * 10)) i
	shift
	for i in $(seq 1 "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# wait_pid PID SECONDS: waits for our child PID, at most SECONDS, then kills;
# LAST_TICKS is the CPU time it was last seen with (within 0.1 s of its end)
LAST_TICKS=0
wait_pid() {
	local pid=$1 n=$(($2 * 10)) i t
	LAST_TICKS=0
	for i in $(seq 1 "$n"); do
		kill -0 "$pid" 2>/dev/null || break
		t=$(cpu_ticks "$pid")
		[ -n "$t" ] && LAST_TICKS=$t
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid still running after $2 s: killing it"
		kill -TERM "$pid" 2>/dev/null
		sleep 1
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	forget_pid "$pid"
}

# forget_pid PID: a reaped pid may be reused by someone else's process, so
# the trap must not signal it any more
forget_pid() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
nfds() { ls -U "/proc/$1/fd" 2>/dev/null | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
# user + nice + system time of the whole machine (irq and softirq left out:
# they are not charged to any process either)
cpu_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 }' /proc/stat; }
HZ=$(getconf CLK_TCK)
# ours_ticks [ATTACKER_PID]: CPU time of sluice, nginx and the attacker
ours_ticks() {
	local t=0 p v
	for p in "$SLUICE_PID" "$NGINX_PID" ${1:-}; do
		v=$(cpu_ticks "$p")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
metrics() { curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/metrics"; }
# mval FILE NAME-WITH-LABELS: value of one sample line, 0 when absent
mval() {
	awk -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }' "$1"
}
# msum FILE NAME: sum over every label set of NAME
msum() {
	awk -v k="$2" 'index($1, k "{") == 1 || $1 == k { s += $2 }
		END { print s + 0 }' "$1"
}
alive() { kill -0 "$1" 2>/dev/null; }
# TCP stack counters (whole machine) that show kernel memory pressure
tcpext() {
	awk 'NR % 2 == 1 { split($0, h) }
		NR % 2 == 0 && $1 == "TcpExt:" { for (i = 2; i <= NF; i++) v[h[i]] = $i }
		END { print v["TCPMemoryPressures"] + 0, v["PruneCalled"] + 0,
			v["TCPRcvQDrop"] + 0, v["TCPAbortOnMemory"] + 0 }' /proc/net/netstat
}
check_sluice() {
	alive "$SLUICE_PID" && return 0
	log "sluice (pid $SLUICE_PID) is gone; last lines of its stderr:"
	tail -n 20 "$TMP/sluice.err" >&2
	die "sluice died during the run" 3
}

# ---- upstream: nginx ------------------------------------------------------
UP_PORT=$(pick_port) || die "no free port"
SL_PORT=$(pick_port) || die "no free port"
ADMIN_PORT=$(pick_port) || die "no free port"

mkdir -p "$TMP/nginx/tmp" "$TMP/www"
head -c 100 /dev/zero | tr '\0' 'x' >"$TMP/www/index.txt"
echo >>"$TMP/www/index.txt"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/www/big.bin"

cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events {
	worker_connections 19000;
	multi_accept on;
}
http {
	access_log off;
	client_body_temp_path $TMP/nginx/tmp/body;
	proxy_temp_path $TMP/nginx/tmp/proxy;
	fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
	uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
	scgi_temp_path $TMP/nginx/tmp/scgi;
	default_type application/octet-stream;
	sendfile on;
	tcp_nodelay on;
	keepalive_timeout 75s;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$UP_PORT backlog=4096${UPSTREAM_SNDBUF:+ sndbuf=$UPSTREAM_SNDBUF};
		root $TMP/www;
		# small body
		location = / { default_type text/plain; try_files /index.txt =404; }
		# 1 MiB static file
		location = /big { try_files /big.bin =404; }
		# an application that reads the whole request body, then answers
		location = /upload {
			client_max_body_size 1m;
			proxy_method GET;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_pass http://127.0.0.1:$UP_PORT/;
		}
	}
}
EOF

log "starting nginx on 127.0.0.1:$UP_PORT (cpu $CPU_UP)"
taskset -c "$CPU_UP" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
	-e "$TMP/nginx/error.log" >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_until 5 curl -sf --max-time 1 "http://127.0.0.1:$UP_PORT/" ||
	{ cat "$TMP/nginx/error.log" "$TMP/nginx/stdout.log" >&2 2>/dev/null; die "nginx did not start"; }
n=$(curl -s --max-time 5 "http://127.0.0.1:$UP_PORT/big" | wc -c)
[ "$n" = 1048576 ] || die "nginx /big served $n bytes"
n=$(curl -s --max-time 5 -d 'a=b' "http://127.0.0.1:$UP_PORT/upload" | wc -c)
[ "$n" = 101 ] || die "nginx /upload served $n bytes"

# ---- sluice ---------------------------------------------------------------
cat >"$TMP/sluice.yaml" <<EOF
workers: 2
drain_timeout: 2s
admin:
  address: 127.0.0.1:$ADMIN_PORT
log:
  level: info
  access: off
listeners:
  - name: public
    address: 127.0.0.1:$SL_PORT
    limits:
      header_timeout: $HEADER_TIMEOUT
      body_timeout: $BODY_TIMEOUT
      send_timeout: $SEND_TIMEOUT
      min_body_rate: $MIN_BODY_RATE
      min_send_rate: $MIN_SEND_RATE
      buffer_bytes: ${BUFFER_KIB}KiB
      max_header_bytes: ${HEADER_KIB}KiB
      max_connections: $MAX_CONNECTIONS
      max_connections_per_ip: 0
    routes:
      - cluster: web
clusters:
  - name: web
    endpoints: [127.0.0.1:$UP_PORT]
EOF
"$SLUICE" -t -c "$TMP/sluice.yaml" >/dev/null 2>"$TMP/sluice-t.err" ||
	{ cat "$TMP/sluice-t.err" >&2; die "sluice rejected the configuration"; }

log "starting sluice on 127.0.0.1:$SL_PORT, admin $ADMIN_PORT (2 workers, unpinned)"
"$SLUICE" -c "$TMP/sluice.yaml" >"$TMP/sluice.out" 2>"$TMP/sluice.err" &
SLUICE_PID=$!
PIDS+=("$SLUICE_PID")
wait_until 5 curl -sf --max-time 1 "http://127.0.0.1:$ADMIN_PORT/readyz" ||
	{ tail "$TMP/sluice.err" >&2; die "sluice did not start"; }
wait_until 5 curl -sf --max-time 1 "http://127.0.0.1:$SL_PORT/" ||
	die "sluice does not forward to nginx"
n=$(curl -s --max-time 5 "http://127.0.0.1:$SL_PORT/big" | wc -c)
[ "$n" = 1048576 ] || die "sluice /big served $n bytes"

# ---- measuring ------------------------------------------------------------
# sampler OUT [ATTACKER_PID]: every POLL s, "t rss_kb fds active upstream
# attacker_cpu_ticks tcp_mem_pages" for at most 240 s
sampler() {
	local out=$1 apid=${2:-} i t m act up acpu tmem
	for i in $(seq 1 480); do
		t=$(date +%s.%N)
		m=$(metrics)
		act=$(printf '%s\n' "$m" | awk '$1 == "sluice_connections_active" { print $2 }')
		up=$(printf '%s\n' "$m" | awk 'index($1, "sluice_upstream_connections{") == 1 { s += $2 } END { print s + 0 }')
		acpu=0
		[ -n "$apid" ] && acpu=$(cpu_ticks "$apid")
		tmem=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
		echo "$t $(rss_kb "$SLUICE_PID") $(nfds "$SLUICE_PID") ${act:-0} ${up:-0} ${acpu:-0} ${tmem:-0}" >>"$out"
		sleep "$POLL"
	done
}

# us VALUE-WITH-UNIT (wrk latency) -> microseconds
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") m = 1; else if (u == "ms") m = 1000;
		else if (u == "s") m = 1000000; else if (u == "m") m = 60000000;
		else m = -1
		if (m < 0) print -1; else printf "%.0f\n", n * m }'
}

run_wrk() { # OUT DURATION
	taskset -c "$CPU_WRK" wrk -t1 -c"$WRK_C" -d"$2"s --latency \
		"http://127.0.0.1:$SL_PORT/" >"$1" 2>&1 &
	local p=$!
	PIDS+=("$p")
	wait_pid "$p" $(($2 + 20))
}

# Results, one entry per scenario.
declare -A R

# scenario NAME [slowhttptest ARGS...]
scenario() {
	local name=$1
	shift
	local dir="$TMP/$name" att_pid="" t_att0 t_wrk0 t_end
	mkdir -p "$dir"
	check_sluice

	# same pool state before each measurement: a short wrk run
	run_wrk "$dir/warmup.txt" 2
	sleep 1
	local base_fds base_rss base_up
	base_fds=$(nfds "$SLUICE_PID")
	base_rss=$(rss_kb "$SLUICE_PID")
	metrics >"$dir/m0.txt"
	base_up=$(msum "$dir/m0.txt" sluice_upstream_connections)
	local cpu0 tcp0
	cpu0=$(cpu_ticks "$SLUICE_PID")
	tcp0=$(tcpext)
	log "[$name] before: rss ${base_rss} kB, fds $base_fds (upstream conns $base_up)"

	t_att0=$(date +%s.%N)
	if [ "${1:-}" = --hog ]; then
		# no attack, only the CPU an attacker takes: a busy loop on its core
		log "[$name] busy loop on cpu $CPU_ATT for $ATT_L s"
		taskset -c "$CPU_ATT" bash -c "end=\$((SECONDS + $ATT_L)); while [ \$SECONDS -lt \$end ]; do :; done" &
		att_pid=$!
		PIDS+=("$att_pid")
		set --
	elif [ $# -gt 0 ]; then
		log "[$name] slowhttptest $*"
		taskset -c "$CPU_ATT" slowhttptest "$@" >"$dir/slowhttptest.log" 2>&1 &
		att_pid=$!
		PIDS+=("$att_pid")
	fi
	sampler "$dir/samples.txt" "$att_pid" &
	SAMPLER_PID=$!
	if [ -n "$att_pid" ]; then
		sleep "$LEAD"
		alive "$att_pid" || {
			cat "$dir/slowhttptest.log" >&2
			die "slowhttptest exited within $LEAD s"
		}
		metrics >"$dir/m-lead.txt"
		local acc
		acc=$(($(mval "$dir/m-lead.txt" sluice_connections_accepted_total) - $(mval "$dir/m0.txt" sluice_connections_accepted_total)))
		if [ "$name" != cpuhog ]; then
			[ "$acc" -gt 0 ] || die "slowhttptest made no connection to sluice"
			log "[$name] $acc attack connections accepted in the first $LEAD s; starting wrk"
		fi
	fi
	t_wrk0=$(date +%s.%N)
	# CPU of everything else on the machine during the wrk run: the
	# machine's user+system time less that of sluice, nginx, the attacker
	# and wrk (what is left: other users of the machine, and this script's
	# own sampling, a few %)
	local busy0 ours0 busy1 ours1
	busy0=$(cpu_busy)
	ours0=$(ours_ticks "$att_pid")
	run_wrk "$dir/wrk.txt" "$WRK_D"
	busy1=$(cpu_busy)
	ours1=$(ours_ticks "$att_pid")
	local other_pct
	other_pct=$(awk -v b="$((busy1 - busy0))" -v o="$((ours1 - ours0 + LAST_TICKS))" \
		-v hz="$HZ" -v d="$WRK_D" -v n="$(nproc)" \
		'BEGIN { x = (b - o) / hz / (d * n) * 100; if (x < 0) x = 0; printf "%.0f", x }')
	check_sluice
	local recover="-"
	if [ -n "$att_pid" ]; then
		wait_pid "$att_pid" $((ATT_L + 20))
		t_end=$(date +%s.%N)
		metrics >"$dir/m-end.txt"
		local open_end
		open_end=$(mval "$dir/m-end.txt" sluice_connections_active)
		log "[$name] attack over; sluice had $open_end client connections open at its end"
		# Poll until the descriptors are back to the level before the
		# attack. Idle pooled upstream connections are not counted: the
		# pool keeps what the wrk run needed for pool.idle_timeout (30 s),
		# and SO_REUSEPORT spreads the 32 wrk connections differently over
		# the two workers from one wrk run to the next, so the pool may
		# hold a few more than before. They must still stay below
		# POOL_SLACK more than before (an attack connection parked in the
		# pool would show there).
		local i f up mf="$TMP/m-poll.txt"
		recover=">$RECOVER_MAX"
		for i in $(seq 0 $((RECOVER_MAX * 2))); do
			f=$(nfds "$SLUICE_PID")
			metrics >"$mf"
			up=$(msum "$mf" sluice_upstream_connections)
			echo "$(date +%s.%N) $f $up $(mval "$mf" sluice_connections_active)" >>"$dir/recover.txt"
			if [ $((f - up)) -le $((base_fds - base_up)) ] &&
				[ "$up" -le $((base_up + POOL_SLACK)) ]; then
				recover=$(awk -v a="$t_end" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
				break
			fi
			sleep "$POLL"
		done
	else
		t_end=$(date +%s.%N)
	fi
	kill "$SAMPLER_PID" 2>/dev/null
	wait "$SAMPLER_PID" 2>/dev/null
	SAMPLER_PID=""
	check_sluice
	local after_fds after_rss cpu1 tcp1
	tcp1=$(tcpext)
	after_fds=$(nfds "$SLUICE_PID")
	after_rss=$(rss_kb "$SLUICE_PID")
	cpu1=$(cpu_ticks "$SLUICE_PID")
	metrics >"$dir/m1.txt"

	# wrk
	local w="$dir/wrk.txt" rps p99 p99us reqs serr non2xx
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$w")
	reqs=$(awk '/requests in/ { print $1 }' "$w")
	p99=$(awk '$1 == "99%" { print $2 }' "$w")
	p99us=$(to_us "${p99:--1}")
	serr=$(awk '/Socket errors:/ { gsub(/,/, ""); s = $4 + $6 + $8 + $10 } END { print s + 0 }' "$w")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$w")
	if [ -z "$rps" ] || [ -z "$reqs" ] || [ "${reqs:-0}" = 0 ]; then
		cat "$w" >&2
		die "wrk did not run"
	fi

	# peaks from the samples
	local s="$dir/samples.txt" peak_rss peak_fds peak_act att_cpu
	peak_rss=$(awk -v b="$base_rss" '$2 > m { m = $2 } END { print (m > b ? m : b) }' "$s")
	peak_fds=$(awk -v b="$base_fds" '$3 > m { m = $3 } END { print (m > b ? m : b) }' "$s")
	peak_act=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$s")
	att_cpu=$(awk '$6 > m { m = $6 } END { print m + 0 }' "$s")
	local tcp_mem0 tcp_mem_peak
	tcp_mem0=$(awk 'NR == 1 { print $7 + 0 }' "$s")
	tcp_mem_peak=$(awk '$7 > m { m = $7 } END { print m + 0 }' "$s")

	# metric deltas
	local d reason cut="" total_cut=0 v
	for reason in header_timeout body_timeout min_body_rate send_timeout min_send_rate idle_timeout; do
		v=$(($(mval "$dir/m1.txt" "sluice_client_timeouts_total{reason=\"$reason\"}") - $(mval "$dir/m0.txt" "sluice_client_timeouts_total{reason=\"$reason\"}")))
		total_cut=$((total_cut + v))
		[ "$v" -gt 0 ] && cut="$cut $reason=$v"
	done
	v=$(($(msum "$dir/m1.txt" sluice_connections_rejected_total) - $(msum "$dir/m0.txt" sluice_connections_rejected_total)))
	cut="${cut# } rejected=$v"
	local accepted resp4 resp5
	accepted=$(($(mval "$dir/m1.txt" sluice_connections_accepted_total) - $(mval "$dir/m0.txt" sluice_connections_accepted_total)))
	resp4=$(($(mval "$dir/m1.txt" 'sluice_responses_total{class="4xx"}') - $(mval "$dir/m0.txt" 'sluice_responses_total{class="4xx"}')))
	resp5=$(($(mval "$dir/m1.txt" 'sluice_responses_total{class="5xx"}') - $(mval "$dir/m0.txt" 'sluice_responses_total{class="5xx"}')))

	R[$name.rps]=$rps
	R[$name.other]=$other_pct
	R[$name.p99]=$p99
	R[$name.p99us]=$p99us
	R[$name.err]=$((serr + ${non2xx:-0}))
	R[$name.errdetail]="socket=$serr non2xx=${non2xx:-0}"
	R[$name.base_rss]=$base_rss
	R[$name.peak_rss]=$peak_rss
	R[$name.after_rss]=$after_rss
	R[$name.base_fds]=$base_fds
	R[$name.peak_fds]=$peak_fds
	R[$name.after_fds]=$after_fds
	R[$name.peak_act]=$peak_act
	R[$name.recover]=$recover
	R[$name.cut]=$cut
	R[$name.total_cut]=$total_cut
	R[$name.accepted]=$accepted
	R[$name.resp]="4xx=$resp4 5xx=$resp5"
	R[$name.cpu]=$(((cpu1 - cpu0)))
	R[$name.att_cpu]=$att_cpu
	R[$name.tcpext]=$(echo "$tcp0 $tcp1" | awk '{ printf "memory pressures %d, prunes %d, rcvq drops %d, aborts on memory %d", $5 - $1, $6 - $2, $7 - $3, $8 - $4 }')
	R[$name.tcpmem]="$((tcp_mem0 * 4 / 1024))/$((tcp_mem_peak * 4 / 1024))"
	R[$name.up]="$base_up/$(msum "$dir/m1.txt" sluice_upstream_connections)"
	R[$name.att_status]=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$dir/slowhttptest.log" 2>/dev/null |
		sed -n 's/^.*[Ss]tatus: *//p' | tail -n 1)
	log "[$name] wrk ${rps} req/s p99 ${p99} errors ${R[$name.err]}; rss peak ${peak_rss} kB; fds peak $peak_fds; back after $recover s; $cut"
}

# ---- the runs -------------------------------------------------------------
URL="http://127.0.0.1:$SL_PORT"
COMMON=(-c "$ATT_C" -r "$ATT_R" -l "$ATT_L" -p 3)

# warm up: connections, pool, allocator
run_wrk "$TMP/warmup.txt" 2
check_sluice

want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
SCENARIOS="baseline"
scenario baseline
# slowloris: a header field every 2 s, i.e. faster than header_timeout, so
# only the whole-head deadline (from the first byte) can end it
want slowloris && SCENARIOS="$SCENARIOS slowloris" &&
	scenario slowloris -H "${COMMON[@]}" -i 2 -x 24 -u "$URL/"
# slow body: ~10 bytes every 2 s of a 64 KiB body: gaps shorter than
# body_timeout, so min_body_rate has to end it
want slowbody && SCENARIOS="$SCENARIOS slowbody" &&
	scenario slowbody -B "${COMMON[@]}" -i 2 -x 10 -s 65536 -u "$URL/upload"
# slow read: 1 MiB responses (3 pipelined per connection), a receive
# window of 512-1024 bytes and 32 bytes read per second
want slowread && SCENARIOS="$SCENARIOS slowread" &&
	scenario slowread -X "${COMMON[@]}" -w 512 -y 1024 -n 1 -z 32 -k 3 -u "$URL/big"
# the baseline again, as a control: how much the machine alone moves p99
SCENARIOS="$SCENARIOS control"
scenario control
# calibration: what losing the attacker's CPU alone does to p99 (a busy
# loop where slowhttptest runs; no connection)
want cpuhog && SCENARIOS="$SCENARIOS cpuhog" &&
	scenario cpuhog --hog

# ---- report ---------------------------------------------------------------
b99=${R[baseline.p99us]}
mode=full
[ "$QUICK" = 1 ] && mode=quick
echo
echo "sluice slow-client isolation ($mode): wrk -t1 -c$WRK_C -d${WRK_D}s to /, attacks -c $ATT_C -r $ATT_R -l $ATT_L"
echo "machine: $(nproc) cpus; sluice unpinned (2 workers), nginx and slowhttptest on cpu $CPU_UP, wrk on cpu $CPU_WRK;" \
	"load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg);" \
	"kernel tcp_mem limit $(awk '{ printf "%d", $3 * 4 / 1024 }' /proc/sys/net/ipv4/tcp_mem) MiB"
echo "budgets: header_timeout $HEADER_TIMEOUT, body_timeout $BODY_TIMEOUT, send_timeout $SEND_TIMEOUT, min_body_rate $MIN_BODY_RATE/s, min_send_rate $MIN_SEND_RATE/s, max_connections $MAX_CONNECTIONS, buffer_bytes ${BUFFER_KIB}KiB"
echo
fmt='%-10s | %9s | %8s | %5s | %6s | %6s | %6s | %9s | %6s | %7s | %s\n'
printf "$fmt" scenario "req/s" "p99" "p99/b" errors "other" "peak" "RSS peak" "fds" "fds ok" "attack connections cut (metrics deltas)"
printf "$fmt" "" "" "" "" "" "CPU %" "conns" "(MiB)" "peak" "after s" ""
printf '%s\n' "-----------+-----------+----------+-------+--------+--------+--------+-----------+--------+---------+-----------------------------------------"
for s in $SCENARIOS; do
	ratio=$(awk -v a="${R[$s.p99us]}" -v b="$b99" 'BEGIN { if (a < 0 || b <= 0) print "?"; else printf "%.2f", a / b }')
	printf "$fmt" "$s" "${R[$s.rps]}" "${R[$s.p99]}" "$ratio" "${R[$s.err]}" "${R[$s.other]}" "${R[$s.peak_act]}" \
		"$(awk -v k="${R[$s.peak_rss]}" 'BEGIN { printf "%.1f", k / 1024 }')" \
		"${R[$s.peak_fds]}" "${R[$s.recover]}" "${R[$s.cut]}"
done
echo
echo "other CPU %: share of the machine's CPU (all cpus) used during the wrk run by"
echo "processes other than sluice, nginx, wrk and the attacker: other users of the"
echo "machine (and a few % for this script's sampling). p99 is only comparable"
echo "between rows where it is similar."
echo
echo "details:"
for s in $SCENARIOS; do
	echo "  $s: wrk errors ${R[$s.errdetail]}; accepted ${R[$s.accepted]} connections; responses ${R[$s.resp]};" \
		"RSS before/peak/after ${R[$s.base_rss]}/${R[$s.peak_rss]}/${R[$s.after_rss]} kB;" \
		"fds before/peak/after ${R[$s.base_fds]}/${R[$s.peak_fds]}/${R[$s.after_fds]};" \
		"upstream conns before/after ${R[$s.up]}; kernel TCP memory (all sockets) before/peak ${R[$s.tcpmem]} MiB" \
		"(${R[$s.tcpext]});" \
		"sluice CPU $(awk -v t="${R[$s.cpu]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }') s;" \
		"attacker CPU $(awk -v t="${R[$s.att_cpu]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }') s" \
		"${R[$s.att_status]:+; slowhttptest: ${R[$s.att_status]}}"
done
echo
echo "verdicts (targets: 0 errors; p99 <= 1.5x baseline; fds back to baseline <= 5 s;"
echo "          RSS growth per attack connection <= budget $((BUDGET_BYTES / 1024)) KiB = 2 x buffer_bytes + max_header_bytes + 1 KiB):"
npass=0
nfail=0
for s in $SCENARIOS; do
	v=PASS
	why=""
	[ "${R[$s.err]}" -eq 0 ] || { v=FAIL; why="$why errors=${R[$s.err]}"; }
	if [ "$s" != baseline ]; then
		ok=$(awk -v a="${R[$s.p99us]}" -v b="$b99" 'BEGIN { print (a >= 0 && b > 0 && a <= 1.5 * b) ? 1 : 0 }')
		[ "$ok" = 1 ] || { v=FAIL; why="$why p99>1.5x"; }
	fi
	if [ "$s" != baseline ] && [ "$s" != control ] && [ "$s" != cpuhog ]; then
		ok=$(awk -v r="${R[$s.recover]}" 'BEGIN { print (r ~ /^[0-9.]+$/ && r + 0 <= 5) ? 1 : 0 }')
		[ "$ok" = 1 ] || { v=FAIL; why="$why fds-back=${R[$s.recover]}s"; }
		conns=$((R[$s.peak_act] - WRK_C))
		[ "$conns" -lt 1 ] && conns=1
		per=$(((R[$s.peak_rss] - R[$s.base_rss]) * 1024 / conns))
		[ "$per" -le "$BUDGET_BYTES" ] || { v=FAIL; why="$why rss/conn=$per"; }
		why="$why (RSS +$(((R[$s.peak_rss] - R[$s.base_rss]) / 1024)) MiB over $conns attack connections = $per B/conn)"
	fi
	[ "$v" = PASS ] && npass=$((npass + 1)) || nfail=$((nfail + 1))
	printf '  %-10s %s%s\n' "$s" "$v" "$why"
done
echo
echo "sluice stderr: $(wc -l <"$TMP/sluice.err") lines;" \
	"warnings/errors: $(grep -cE '\b(warn|error|crit|fatal)\b' "$TMP/sluice.err")"
grep -E '\b(warn|error|crit|fatal)\b' "$TMP/sluice.err" | cut -c1-200 | sort | uniq -c | sort -rn | head -n 5
echo "targets met in $npass of $((npass + nfail)) scenarios"
exit 0
