#!/usr/bin/env bash
# contrib/bench/ws.sh -- WebSocket tunnels through sluice, nginx and HAProxy,
# one worker each: memory per idle tunnel, CPU per echoed message and system
# calls per echoed message.
#
# usage: contrib/bench/ws.sh [--quick] [--rounds N] [--duration SECS]
#            [--only LIST] [--gateways LIST] [--idle-tunnels N]
#            [--idle-hold SECS] [--echo-conns M] [--msg-bytes B]
#            [--out DIR] [--keep]
#
#   --quick           3 s per echo run instead of 10 s
#   --rounds N        runs per gateway per scenario, alternating A B C A B C
#                     (default 3, at least 1)
#   --duration SECS   seconds per measured echo run, and per count of ws-sys
#                     (overrides --quick)
#   --only LIST       scenarios, comma-separated, from ws-idle,ws-echo,ws-sys
#                     (default: all three)
#   --gateways LIST   from sluice,nginx,haproxy (default: all three)
#   --idle-tunnels N  tunnels of ws-idle (default 2000)
#   --idle-hold SECS  how long the idle tunnels stay idle before the RSS is
#                     taken (default 3); the gateways' tunnel timeouts are
#                     1 h, so a longer hold shows whether one closes them
#                     anyway (the "open / alive" check below)
#   --echo-conns M    tunnels of ws-echo and ws-sys (default 50)
#   --msg-bytes B     the size of a message, text (default 64)
#   --out DIR         where ws.md and ws.csv go (default: a new directory
#                     /tmp/sluice-ws-bench-out.XXXXXX, printed at the end)
#   --keep            keep the scratch directory (configs, logs, client output)
#
# Scenarios (a fresh gateway for each run):
#   ws-idle  ws_load.js idle opens --idle-tunnels WebSocket tunnels through
#            the gateway, at most 64 handshakes at a time; each echoes one
#            --msg-bytes message after its 101 (its data path used once),
#            then stays idle. The gateway's RSS (VmRSS; nginx: master +
#            worker) is taken before -- after a warm-up of 4 tunnels echoing
#            for 1 s, then closed -- and --idle-hold seconds after the last
#            tunnel is set up: (with - before) / tunnels = bytes per idle
#            tunnel. Then every tunnel is probed with one more message: the
#            run reports how many were still open and how many still echoed
#            ("open / alive"), and warns when some were lost. Also the
#            machine-wide kernel growth per tunnel (Slab + Percpu from
#            /proc/meminfo, TCP buffer pages from /proc/net/sockstat): it
#            holds the four sockets of a tunnel (client, the gateway's two,
#            upstream) and anything else running, so only the differences
#            between gateways mean something.
#   ws-echo  ws_load.js echo opens --echo-conns tunnels; on each one it sends
#            a --msg-bytes text message, waits for its echo (checked byte for
#            byte), sends the next: one message in flight per tunnel, as fast
#            as the client and the upstream go. After 1 s of warm-up it
#            takes the gateway's utime + stime (/proc/PID/stat, all its
#            processes) and counts the echoes for DURATION seconds: CPU per
#            echoed message (each is a frame in and a frame out, both ways
#            through the gateway) and the message rate.
#   ws-sys   the system calls of the gateway per echoed message: counted, not
#            timed. The load of ws-echo (--echo-conns tunnels, one
#            --msg-bytes message in flight on each) through a fresh gateway,
#            and perf stat attached to all its processes (nginx: master +
#            worker) with its counters off; after the client's 1 s of
#            warm-up they are switched on for DURATION seconds (perf's
#            --control fifo, the window timed between perf's acks) and
#            count the tracepoints raw_syscalls:sys_enter (every system
#            call) and syscalls:sys_enter_* of recvfrom, sendto, read, write,
#            readv, writev, epoll_wait, epoll_pwait, epoll_pwait2, epoll_ctl,
#            clock_gettime and splice. Messages in the window = the client's
#            message rate x the window. Per message: all system calls, reads
#            (recvfrom + read + readv), writes (sendto + write + writev),
#            epoll_wait (+ epoll_pwait, epoll_pwait2), epoll_ctl,
#            clock_gettime and the other ones (all - those). A tracepoint
#            this kernel lacks counts 0. Needs perf (Debian: linux-perf) and
#            root (or a kernel.perf_event_paranoid that lets this user trace
#            other processes); without them ws-sys is skipped with a warning.
#            Counting every system call slows the gateway down, so these are
#            runs of their own (ws-echo never has perf attached) and their
#            message rate is not a throughput figure. About DURATION + 3 s
#            per gateway per round.
#
# The gateways, configured alike (conf_* below): one listener on
# 127.0.0.1:GW_PORT, one upstream, no access log, one worker (sluice
# workers: 1, nginx worker_processes 1, HAProxy nbthread 1), idle tunnels
# allowed 1 h (sluice tunnel_idle_timeout: 1h; nginx proxy_read_timeout and
# proxy_send_timeout 1h; HAProxy timeout tunnel 1h), buffers as shipped.
#   sluice   a route with "upgrade: [websocket]"
#   nginx    proxy_http_version 1.1, Upgrade: $http_upgrade and Connection:
#            upgrade (close for a request without Upgrade, nginx's documented
#            map) set towards the upstream
#   haproxy  mode http (HTTP/1.1 upgrades are tunnelled as they are)
# The upstream: ws_load.js serve, an echo server on Debian's node-ws,
# installed here (apt-get, as contrib/deps.sh does) when Node cannot load
# it. Node itself: Debian's nodejs.
#
# The report (ws_report.py): a Markdown table of medians per gateway --
# idle bytes per tunnel and µs CPU per message, each with its ratio to the
# best peer (the lower of nginx and HAProxy), messages per second -- and a
# line per run; with ws-sys, a table of the medians of the system calls per
# message (all, with its ratio to the best peer, and each group) and a line
# per ws-sys run; printed and written to DIR/ws.md; the per-run figures in
# DIR/ws.csv (one fixed header; ws-sys fills its sys_*_per_msg columns, and
# its msgs and secs are the perf window's, msgs_per_s the client's rate
# under tracing).
#
# Environment: SLUICE (default ./build/src/sluice), NGINX, HAPROXY, NODE,
# PYTHON, PERF, GW_CPU (0), LOAD_CPU (1), UP_PORT and GW_PORT (default: the
# first free ports from 19300 and 19400), MAX_SECONDS (1200: the whole run
# is stopped after this long).
#
# The gateway under test runs alone on GW_CPU; the upstream and the client
# share LOAD_CPU. Traffic is to 127.0.0.1 only. Everything started here is
# stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
TOP=$(cd "$HERE/../.." && pwd)

SLUICE=${SLUICE:-./build/src/sluice}
NGINX=${NGINX:-nginx}
HAPROXY=${HAPROXY:-haproxy}
NODE=${NODE:-node}
PERF=${PERF:-perf}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
MAX_SECONDS=${MAX_SECONDS:-1200}
# Debian's node modules live here; ws_load.js asks for require("ws")
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}

DURATION=10
ROUNDS=3
ONLY="ws-idle,ws-echo,ws-sys"
GATEWAYS="sluice,nginx,haproxy"
IDLE_TUNNELS=2000
IDLE_HOLD=3
ECHO_CONNS=50
MSG_BYTES=64
WARMUP_TUNNELS=4
OUT=""
KEEP=0
ARGS="$*"

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) DURATION=3 ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--duration) DURATION_SET=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--gateways) GATEWAYS=${2:?}; shift ;;
	--idle-tunnels) IDLE_TUNNELS=${2:?}; shift ;;
	--idle-hold) IDLE_HOLD=${2:?}; shift ;;
	--echo-conns) ECHO_CONNS=${2:?}; shift ;;
	--msg-bytes) MSG_BYTES=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done
DURATION=${DURATION_SET:-$DURATION}
for v in ROUNDS DURATION IDLE_TUNNELS IDLE_HOLD ECHO_CONNS; do
	case "${!v}" in ''|*[!0-9]*|0) die "$v wants an integer >= 1 (got '${!v}')" ;; esac
done
case "$MSG_BYTES" in ''|*[!0-9]*) die "--msg-bytes wants an integer" ;; esac
[ "$MSG_BYTES" -le 65535 ] || die "--msg-bytes wants at most 65535"
IFS=, read -r -a SCENARIOS <<<"$ONLY"
IFS=, read -r -a GWS <<<"$GATEWAYS"
for s in "${SCENARIOS[@]}"; do case "$s" in ws-idle|ws-echo|ws-sys) ;; *) die "unknown scenario $s" ;; esac; done
for g in "${GWS[@]}"; do case "$g" in sluice|nginx|haproxy) ;; *) die "unknown gateway $g" ;; esac; done

# ---------------------------------------------------------------- checks
for t in "$NGINX" "$HAPROXY" "$PYTHON" taskset curl ss pgrep; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install nginx-light haproxy python3 curl procps iproute2)"
done
[ -x "$SLUICE" ] || die "sluice binary $SLUICE not found (set SLUICE=...)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPUs"

# Node and node-ws: installed when missing, the way contrib/deps.sh does
# (Debian packages, apt-get as root or through sudo)
install_pkgs() {  # package...: those not installed yet
	local p missing="" sudo=""
	command -v dpkg-query >/dev/null 2>&1 || return 1
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	log "installing:$missing"
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q >&2 && $sudo apt-get install -y -q --no-install-recommends $missing >&2
}
if ! command -v "$NODE" >/dev/null 2>&1; then
	install_pkgs nodejs || true
	command -v "$NODE" >/dev/null 2>&1 || die "$NODE not found (apt-get install nodejs)"
fi
if ! "$NODE" -e 'require("ws")' >/dev/null 2>&1; then
	install_pkgs node-ws || true
	"$NODE" -e 'require("ws")' >/dev/null 2>&1 || die "Node cannot load ws (apt-get install node-ws)"
fi

# ws-sys: perf stat, able to count the system call tracepoints (of other
# processes: root, or perf_event_paranoid low enough); without it ws-sys is
# skipped, with one warning. A syscalls:sys_enter_* tracepoint this kernel
# does not have is left out (perf refuses an unknown one) and counts 0.
SYS_CALLS="recvfrom sendto read write readv writev epoll_wait epoll_pwait epoll_pwait2 epoll_ctl clock_gettime splice"
SYS_EVENTS=()
sys_probe() {  # sets SYS_EVENTS; fails when perf cannot count at all
	local err c ev missing=""
	command -v "$PERF" >/dev/null 2>&1 || { SYS_WHY="$PERF not found (apt-get install linux-perf)"; return 1; }
	if ! err=$("$PERF" stat -x, -o /dev/stdout -e raw_syscalls:sys_enter -- true 2>&1) ||
		! grep -q '^[0-9][0-9]*,.*raw_syscalls:sys_enter' <<<"$err"; then
		SYS_WHY="perf stat cannot count the tracepoint raw_syscalls:sys_enter (run as root, or sysctl kernel.perf_event_paranoid=-1): $(grep -v -e '^ *$' -e '^#' <<<"$err" | head -n 1)"
		return 1
	fi
	SYS_EVENTS=(-e raw_syscalls:sys_enter)
	for c in $SYS_CALLS; do
		ev=syscalls:sys_enter_$c
		if "$PERF" stat -x, -o /dev/null -e "$ev" -- true >/dev/null 2>&1; then SYS_EVENTS+=(-e "$ev"); else missing="$missing $c"; fi
	done
	[ -z "$missing" ] || log "ws-sys: no tracepoint for$missing on this kernel: counted as 0"
	return 0
}
case ",$ONLY," in
*,ws-sys,*)
	if ! sys_probe; then
		log "WARNING: ws-sys skipped: $SYS_WHY"
		keep=()
		for s in "${SCENARIOS[@]}"; do [ "$s" = ws-sys ] || keep+=("$s"); done
		[ "${#keep[@]}" -gt 0 ] || die "nothing left to run without ws-sys"
		SCENARIOS=("${keep[@]}")
		ONLY=$(IFS=,; echo "${SCENARIOS[*]}")
	fi ;;
esac

# Ports: UP_PORT and GW_PORT as given (then they must be free), else the
# first free ones from 19300 and 19400
if [ -n "${UP_PORT:-}" ]; then port_free "$UP_PORT" || die "port $UP_PORT is already in use"
else UP_PORT=$(pick_port 19300); fi
if [ -n "${GW_PORT:-}" ]; then port_free "$GW_PORT" || die "port $GW_PORT is already in use"
else GW_PORT=$(pick_port 19400); fi
[ "$UP_PORT" != "$GW_PORT" ] || die "UP_PORT and GW_PORT are the same"

# File descriptors: the gateway holds two per tunnel, the upstream and the
# client one each
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
MAXCONN=$((IDLE_TUNNELS > ECHO_CONNS ? IDLE_TUNNELS : ECHO_CONNS))
NOFILE=$((2 * MAXCONN + 1000))
[ "$(ulimit -n)" -ge "$NOFILE" ] || die "fd limit $(ulimit -n) too low for $MAXCONN tunnels (wants $NOFILE)"

others_running nginx haproxy sluice node wrk h2load
out_dir sluice-ws-bench-out

scratch_dir sluice-ws-bench
watchdog_start "$MAX_SECONDS"

# ---------------------------------------------------------------- upstream
# One echo server (Node + node-ws) on LOAD_CPU for the whole run, shared by
# all gateways
start_upstream() {
	mkdir -p "$WORK/upstream"
	taskset -c "$LOAD_CPU" "$NODE" "$HERE/ws_load.js" serve "$UP_PORT" \
		>"$WORK/upstream/stdout" 2>"$WORK/upstream/stderr" </dev/null &
	UP_PID=$!
	register_pid "$UP_PID"
	wait_line "$WORK/upstream/stdout" '^LISTENING' "$UP_PID" 10 &&
		wait_http "http://127.0.0.1:$UP_PORT/" 10 ||
		{ cat "$WORK/upstream/stderr" >&2; die "the echo upstream did not start"; }
}

# ---------------------------------------------------------------- gateways
# Alike: one listener on 127.0.0.1:GW_PORT, one upstream, no access log,
# one worker, sluice's default timeouts for plain HTTP (head 10s, send 30s,
# client idle 60s, connect 1s), tunnels idle for up to 1 h.

conf_sluice() {
	cat <<EOF
workers: 1
drain_timeout: 1s
log: { level: warn, access: off }
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    limits:
      tunnel_idle_timeout: 1h
      tunnel_drain_timeout: 1s
    routes:
      - cluster: up
        upgrade: [websocket]
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
EOF
}

conf_nginx() {  # dir
	cat <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections $NOFILE; }
http {
    access_log off;
    keepalive_timeout 60s;
    client_header_timeout 10s;
    send_timeout 30s;
$(nginx_temp_paths "$1/tmp")
    # nginx's documented WebSocket form: "Connection: upgrade" when the
    # client asked for an upgrade, "close" otherwise (curl's start check)
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream u {
        server 127.0.0.1:$UP_PORT;
    }
    server {
        listen 127.0.0.1:$GW_PORT backlog=4096;
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_connect_timeout 1s;
            # both bound an idle tunnel (nginx has no other tunnel timeout)
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
EOF
}

conf_haproxy() {
	cat <<EOF
global
    nbthread 1
    maxconn $((MAXCONN + 1000))
    # HAProxy wants 2 fds per maxconn and more; with "no strict-limits" it
    # warns if the hard limit is lower, but runs
    no strict-limits
    # no "log" line: nothing is logged
defaults
    mode http
    option http-keep-alive
    timeout http-request 10s
    timeout client 30s
    timeout http-keep-alive 60s
    timeout connect 1s
    timeout server 30s
    # after the 101: replaces client and server timeouts
    timeout tunnel 1h
frontend fe
    bind 127.0.0.1:$GW_PORT
    default_backend be
backend be
    server up 127.0.0.1:$UP_PORT
EOF
}

start_gateway() {  # name scenario round
	local name=$1 dir="$WORK/gw-$1-$2-$3"
	server_dir "$dir"
	case "$name" in
	sluice) conf_sluice >"$dir/sluice.yaml" ;;
	nginx) conf_nginx "$dir" >"$dir/nginx.conf" ;;
	haproxy) conf_haproxy >"$dir/haproxy.cfg" ;;
	esac
	gw_start "$name" "$name" "$dir" "$GW_CPU"
	wait_http "http://127.0.0.1:$GW_PORT/" 10 "$GW_PID" || gw_failed
	gw_procs
}

stop_gateway() {
	gw_stop
	# HAProxy's start-up notices and its fd-limit warning are expected;
	# everything else is kept and shown
	gw_messages '^$|haproxy version is|path to executable is|Cannot raise FD limit|FD limit \([0-9]+\) too low|[Pp]roxy .* started'
}

gw_rss() {  # VmRSS of the gateway's processes (nginx: master + worker), KiB
	local p t=0 v
	for p in $GW_PROCS; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

kern_kib() {  # kernel memory machine-wide, KiB: Slab + Percpu + TCP buffer pages
	local page
	page=$(getconf PAGESIZE)
	{ awk '$1 == "Slab:" || $1 == "Percpu:" { t += $2 } END { print t + 0 }' /proc/meminfo
	  awk -v p="$page" '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * p / 1024 }' /proc/net/sockstat
	} | awk '{ t += $1 } END { printf "%.0f\n", t }'
}

# ---------------------------------------------------------------- runs
CSV="$WORK/ws.csv"
echo "scenario,round,gateway,conns,duration_s,msg_bytes,idle_ok,idle_failed,idle_setup_s,idle_open,idle_closed,idle_alive,rss_base_kib,rss_with_kib,idle_bytes_per_tunnel,kern_base_kib,kern_with_kib,kern_bytes_per_tunnel,echo_ok,msgs,secs,msgs_per_s,cpu_user_ticks,cpu_sys_ticks,cpu_us_per_msg,cpu_user_us_per_msg,cpu_sys_us_per_msg,gw_util,gw_cpu_busy,gw_cpu_softirq,rss_echo_kib,errors,bad,closed,sys_total_per_msg,sys_reads_per_msg,sys_writes_per_msg,sys_epoll_wait_per_msg,sys_epoll_ctl_per_msg,sys_clock_per_msg,sys_other_per_msg" >"$CSV"
CLK_TCK=$(getconf CLK_TCK)

field() {  # line key: the value of key=value in line
	sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"
}

CLIENT_PID=""
client() {  # out args...: ws_load.js on LOAD_CPU in the background (CLIENT_PID)
	local out=$1
	shift
	: >"$out"
	taskset -c "$LOAD_CPU" "$NODE" "$HERE/ws_load.js" "$@" >"$out" 2>&1 </dev/null &
	CLIENT_PID=$!
	register_pid "$CLIENT_PID"
}

client_wait() {  # seconds: until the client has exited (or kill it)
	local i
	for i in $(seq $(($1 * 10))); do
		proc_alive "$CLIENT_PID" || break
		sleep 0.1
	done
	stop_pid "$CLIENT_PID"
	CLIENT_PID=""
}

run_idle() {  # gateway round
	local gw=$1 r=$2 n=$IDLE_TUNNELS out base with k0 k1 ready openl ok failed secs open closed alive per kper
	out="$WORK/ws-idle-$gw-$r.txt"
	start_gateway "$gw" ws-idle "$r"
	# warm-up: a few tunnels echoing for 1 s, then closed
	client "$out.warmup" echo "$GW_PORT" "$WARMUP_TUNNELS" --duration 1 --warmup 0 --size "$MSG_BYTES"
	client_wait 40
	grep -q '^RESULT.* ok='"$WARMUP_TUNNELS"' ' "$out.warmup" || log "warm-up of $gw/ws-idle failed: $(tail -n 2 "$out.warmup" | paste -sd ' ')"
	sleep 1
	base=$(gw_rss)
	k0=$(kern_kib)
	client "$out" idle "$GW_PORT" "$n" --window 64 --size "$MSG_BYTES" --setup-timeout $((60 + n / 50)) --hold 900
	wait_line "$out" '^READY' "$CLIENT_PID" $((70 + n / 50)) || log "idle client for $gw: no READY: $(tail -n 3 "$out" | paste -sd ' ')"
	sleep "$IDLE_HOLD"
	with=$(gw_rss)
	k1=$(kern_kib)
	kill -USR1 "$CLIENT_PID" 2>/dev/null || true
	wait_line "$out" '^OPEN' "$CLIENT_PID" 20 || log "idle client for $gw: no OPEN line"
	stop_pid "$CLIENT_PID"
	CLIENT_PID=""
	stop_gateway
	ready=$(grep '^READY' "$out" || true)
	openl=$(grep '^OPEN' "$out" || true)
	ok=$(field "$ready" ok); failed=$(field "$ready" failed); secs=$(field "$ready" secs)
	open=$(field "$openl" open); closed=$(field "$openl" closed); alive=$(field "$openl" alive)
	ok=${ok:-0}
	per=$(awk -v b="$base" -v w="$with" -v n="$ok" 'BEGIN { if (n > 0) printf "%.0f", (w - b) * 1024 / n }')
	kper=$(awk -v b="$k0" -v w="$k1" -v n="$ok" 'BEGIN { if (n > 0) printf "%.0f", (w - b) * 1024 / n }')
	echo "ws-idle,$r,$gw,$n,,$MSG_BYTES,$ok,${failed:-},${secs:-},${open:-},${closed:-},${alive:-},$base,$with,${per:-},$k0,$k1,${kper:-},,,,,,,,,,,,,,${failed:-},,,,,,,,," >>"$CSV"
	log "$(printf 'ws-idle %-7s r%d: RSS %s -> %s KiB with %s idle tunnels -> %s bytes/tunnel (kernel, machine-wide: %s); set up %s/%s in %s s; at the end %s open, %s still echo, %s closed by the other side' \
		"$gw" "$r" "$base" "$with" "$ok" "${per:-?}" "${kper:-?}" "$ok" "$n" "${secs:-?}" "${open:-?}" "${alive:-?}" "${closed:-?}")"
	if [ "$ok" != "$n" ] || [ "${alive:-0}" != "$ok" ] || [ "${closed:-1}" != 0 ]; then
		log "WARNING: $gw/ws-idle r$r: not every tunnel stayed up and working: $(grep '^ERR' "$out" | head -n 3 | paste -sd ' ')"
	fi
}

run_echo() {  # gateway round
	local gw=$1 r=$2 out res msgs u s cpu cu cs util busy
	out="$WORK/ws-echo-$gw-$r.txt"
	start_gateway "$gw" ws-echo "$r"
	client "$out" echo "$GW_PORT" "$ECHO_CONNS" --duration "$DURATION" --warmup 1 --size "$MSG_BYTES" \
		--pids "$GW_PROCS" --cpu "$GW_CPU" --hz "$CLK_TCK"
	client_wait $((DURATION + 60))
	stop_gateway
	res=$(grep '^RESULT' "$out" || true)
	[ -n "$res" ] || log "echo client failed for $gw: $(tail -n 3 "$out" | paste -sd ' ')"
	msgs=$(field "$res" msgs); u=$(field "$res" utime); s=$(field "$res" stime)
	read -r cpu cu cs <<<"$(awk -v u="${u:-0}" -v s="${s:-0}" -v n="${msgs:-0}" -v hz="$CLK_TCK" 'BEGIN {
		if (n > 0) printf "%.3f %.3f %.3f\n", (u + s) * 1e6 / hz / n, u * 1e6 / hz / n, s * 1e6 / hz / n
		else print "- - -" }')"
	[ "$cpu" = - ] && cpu="" cu="" cs=""
	# the gateway's own share of a CPU, against how busy GW_CPU was: more
	# than a little of the difference is some other process on GW_CPU
	busy=$(field "$res" cpu_busy)
	util=$(awk -v u="${u:-0}" -v s="${s:-0}" -v t="$(field "$res" secs)" -v hz="$CLK_TCK" 'BEGIN { if (t > 0) printf "%.3f", (u + s) / hz / t }')
	echo "ws-echo,$r,$gw,$ECHO_CONNS,$DURATION,$MSG_BYTES,,,,,,,,,,,,,$(field "$res" ok),${msgs:-},$(field "$res" secs),$(field "$res" rate),${u:-},${s:-},$cpu,$cu,$cs,$util,$busy,$(field "$res" cpu_softirq),$(field "$res" rss_kib),$(field "$res" errors),$(field "$res" bad),$(field "$res" closed),,,,,,," >>"$CSV"
	log "$(printf 'ws-echo %-7s r%d: %s msgs/s, %s us CPU/msg (user %s, sys %s; the gateway used %s of a CPU, CPU %s was busy %s), RSS %s KiB; errors %s, bad echoes %s, closed %s' \
		"$gw" "$r" "$(field "$res" rate)" "${cpu:-?}" "${cu:-?}" "${cs:-?}" "${util:-?}" "$GW_CPU" "${busy:-?}" \
		"$(field "$res" rss_kib)" "$(field "$res" errors)" "$(field "$res" bad)" "$(field "$res" closed)")"
	if awk -v b="${busy:-0}" -v u="${util:-0}" 'BEGIN { exit !(b - u > 0.1) }'; then
		log "WARNING: $gw/ws-echo r$r: CPU $GW_CPU was busy $busy, the gateway used $util of it: something else ran there"
	fi
	case "$(field "$res" errors)/$(field "$res" bad)/$(field "$res" closed)" in
	0/0/0) ;;
	*) log "WARNING: $gw/ws-echo r$r: $(grep '^ERR' "$out" | head -n 3 | paste -sd ' ')" ;;
	esac
}

PERF_PID=""
sys_ctl() {  # ctl-fd ack-fd command: one command to perf stat --control, then its ack (10 s at most)
	local a
	echo "$3" >&"$1" || return 1
	for _ in $(seq 20); do
		if read -r -t 0.5 a <&"$2"; then [ "$a" = ack ]; return; fi
		proc_alive "$PERF_PID" || return 1
	done
	return 1
}

run_sys() {  # gateway round
	local gw=$1 r=$2 out res ctl ack cfd afd t0="" t1="" win n tot rd wr ew ec ck ot sp ok=1
	out="$WORK/ws-sys-$gw-$r.txt"
	start_gateway "$gw" ws-sys "$r"
	# perf attached first, its counters off: ready once it acks a command
	ctl="$out.ctl" ack="$out.ack"
	mkfifo "$ctl" "$ack"
	exec {cfd}<>"$ctl" {afd}<>"$ack"
	taskset -c "$LOAD_CPU" "$PERF" stat -x, -o "$out.perf" -D -1 --control "fifo:$ctl,$ack" "${SYS_EVENTS[@]}" \
		-p "${GW_PROCS// /,}" >"$out.perf-stderr" 2>&1 </dev/null &
	PERF_PID=$!
	register_pid "$PERF_PID"
	if sys_ctl "$cfd" "$afd" disable; then
		# the load of ws-echo; counted after its warm-up, for DURATION s
		client "$out" echo "$GW_PORT" "$ECHO_CONNS" --duration "$DURATION" --warmup 1 --size "$MSG_BYTES" \
			--pids "$GW_PROCS" --cpu "$GW_CPU" --hz "$CLK_TCK"
		sleep 1
		if sys_ctl "$cfd" "$afd" enable; then
			t0=$(date +%s%N)
			sleep "$DURATION"
			sys_ctl "$cfd" "$afd" disable && t1=$(date +%s%N)
		fi
		# the client's window (from when its tunnels are open) ends after
		# this one; if not, the count holds the gateway winding down
		! grep -q '^RESULT' "$out" || log "WARNING: $gw/ws-sys r$r: the echo client stopped before the count did"
		client_wait $((DURATION + 60))
	fi
	stop_pid "$PERF_PID" INT
	PERF_PID=""
	exec {cfd}>&- {afd}>&-
	stop_gateway
	[ -n "$t0" ] && [ -n "$t1" ] || ok=0
	grep -q '^[0-9][0-9]*,.*raw_syscalls:sys_enter' "$out.perf" 2>/dev/null || ok=0
	if [ "$ok" = 0 ]; then
		log "WARNING: $gw/ws-sys r$r: perf counted nothing, no row: $(grep -v -e '^ *$' -e '^Events ' "$out.perf-stderr" | head -n 2 | paste -sd ' ')"
		return 0
	fi
	res=$(grep '^RESULT' "$out" || true)
	[ -n "$res" ] || log "echo client failed for $gw: $(tail -n 3 "$out" | paste -sd ' ')"
	win=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	# messages in the window: the client's rate x the window; a counter
	# perf could not read ("<not supported>", "<not counted>") is 0
	read -r n tot rd wr ew ec ck ot sp <<<"$(awk -F, -v m="$(field "$res" msgs)" -v s="$(field "$res" secs)" -v w="$win" '
		/^#/ || NF < 3 { next }
		{ v = ($1 ~ /^[0-9.]+$/) ? $1 : 0; e = $3; sub(/^syscalls:sys_enter_/, "", e); c[e] += v }
		END {
			n = (s > 0) ? m / s * w : 0
			if (n <= 0) { print "- - - - - - - - -"; exit }
			rd = c["recvfrom"] + c["read"] + c["readv"]
			wr = c["sendto"] + c["write"] + c["writev"]
			ew = c["epoll_wait"] + c["epoll_pwait"] + c["epoll_pwait2"]
			tot = c["raw_syscalls:sys_enter"]
			printf "%.0f %.3f %.3f %.3f %.3f %.3f %.3f %.3f %.3f\n", n, tot / n, rd / n, wr / n, ew / n,
				c["epoll_ctl"] / n, c["clock_gettime"] / n, (tot - rd - wr - ew - c["epoll_ctl"] - c["clock_gettime"]) / n, c["splice"] / n
		}' "$out.perf")"
	[ "$n" = - ] && n="" tot="" rd="" wr="" ew="" ec="" ck="" ot="" sp=""
	echo "ws-sys,$r,$gw,$ECHO_CONNS,$DURATION,$MSG_BYTES,,,,,,,,,,,,,$(field "$res" ok),$n,$win,$(field "$res" rate),,,,,,,,,,$(field "$res" errors),$(field "$res" bad),$(field "$res" closed),$tot,$rd,$wr,$ew,$ec,$ck,$ot" >>"$CSV"
	log "$(printf 'ws-sys  %-7s r%d: %s system calls/msg: reads %s, writes %s, epoll_wait %s, epoll_ctl %s, clock_gettime %s, other %s (splice %s); %s msgs in %s s counted (%s msgs/s, traced); errors %s, bad echoes %s, closed %s' \
		"$gw" "$r" "${tot:-?}" "${rd:-?}" "${wr:-?}" "${ew:-?}" "${ec:-?}" "${ck:-?}" "${ot:-?}" "${sp:-?}" "${n:-?}" "$win" \
		"$(field "$res" rate)" "$(field "$res" errors)" "$(field "$res" bad)" "$(field "$res" closed)")"
	case "$(field "$res" errors)/$(field "$res" bad)/$(field "$res" closed)" in
	0/0/0) ;;
	*) log "WARNING: $gw/ws-sys r$r: $(grep '^ERR' "$out" | head -n 3 | paste -sd ' ')" ;;
	esac
}

# ---------------------------------------------------------------- main
START=$(date +%s)
DATE_START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "scratch: $WORK; ports: upstream $UP_PORT, gateway $GW_PORT; ${DURATION}s per echo run, $ROUNDS rounds; gateways: $GATEWAYS; scenarios: $ONLY; $IDLE_TUNNELS idle tunnels, $ECHO_CONNS echo tunnels, $MSG_BYTES-byte messages"
start_upstream
for s in "${SCENARIOS[@]}"; do
	for r in $(seq "$ROUNDS"); do
		for g in "${GWS[@]}"; do
			case "$s" in
			ws-idle) run_idle "$g" "$r" ;;
			ws-echo) run_echo "$g" "$r" ;;
			ws-sys) run_sys "$g" "$r" ;;
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
	echo "command=contrib/bench/ws.sh${ARGS:+ $ARGS}"
	echo "sluice=$("$SLUICE" -V 2>&1 | head -n 1)"
	echo "sluice_commit=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || true)$(git -C "$TOP" diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified in the work tree)')"
	echo "sluice_binary=$SLUICE, built $(date -u -r "$SLUICE" '+%Y-%m-%d %H:%M UTC')"
	echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
	echo "haproxy=$("$HAPROXY" -v 2>&1 | head -n 1 | sed 's/ - https.*//')"
	echo "node=$("$NODE" --version 2>&1)"
	echo "node_ws=$("$NODE" -p 'require("ws/package.json").version' 2>/dev/null || echo '?')"
	if [ "${#SYS_EVENTS[@]}" -gt 0 ]; then
		echo "perf=$("$PERF" --version 2>&1 | head -n 1)"
		echo "sys_events=$(printf '%s\n' "${SYS_EVENTS[@]}" | grep -v '^-e$' | paste -sd ' ')"
	fi
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "ncpu=$(nproc --all)"
	echo "kernel=$(uname -sr)"
	if grep -qw hypervisor /proc/cpuinfo; then echo "virt=virtual machine (hypervisor CPU flag)"; else echo "virt=no hypervisor flag"; fi
	kconf=$( { zcat /proc/config.gz || cat "/boot/config-$(uname -r)"; } 2>/dev/null | grep -E '^(# )?CONFIG_IRQ_TIME_ACCOUNTING[= ]' || true)
	case $kconf in
	CONFIG_IRQ_TIME_ACCOUNTING=y) echo "irq_time=yes (softirq time is not in the processes' stime)" ;;
	"# CONFIG_IRQ_TIME_ACCOUNTING is not set") echo "irq_time=no (softirq time lands in the stime of whoever runs then)" ;;
	*) echo "irq_time=unknown" ;;
	esac
	echo "load=$LOAD_START at start, $LOAD_END at end"
	echo "gw_cpu=$GW_CPU"
	echo "load_cpu=$LOAD_CPU"
	echo "rounds=$ROUNDS"
	echo "duration=$DURATION"
	echo "idle_tunnels=$IDLE_TUNNELS"
	echo "idle_hold=$IDLE_HOLD"
	echo "warmup_tunnels=$WARMUP_TUNNELS"
	echo "echo_conns=$ECHO_CONNS"
	echo "msg_bytes=$MSG_BYTES"
	echo "elapsed=${ELAPSED}s"
} >"$META"
cp "$CSV" "$OUT/ws.csv"
echo
"$PYTHON" "$HERE/ws_report.py" "$OUT/ws.csv" "$META" "$OUT/ws.md"
if [ -s "$WORK/gateway-messages.log" ]; then
	log "messages from the gateways, most frequent first (numbers masked):"
	sed -E 's/[0-9]+/N/g' "$WORK/gateway-messages.log" | sort | uniq -c | sort -rn | head -n 20 >&2
fi
log "done in ${ELAPSED}s: $OUT/ws.md, $OUT/ws.csv"
