#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# reload-storm.sh - hot reload under load, on loopback only.
#
# Starts a fast upstream (nginx in the foreground with its own prefix,
# answering a small body on two ports = two clusters), sluice with two
# workers and an admin listener, then runs wrk with keep-alive connections
# while SIGHUPs alternate between two valid configurations (other routes,
# other endpoint weights) and a few invalid ones; then the same with
# "Connection: close"; and both again without reloads as the baseline.
#
# Prints one row per run: reloads ok/failed, requests/s, wrk socket errors
# (connect/read/write/timeout), non-2xx responses, throughput against the
# baseline of the same mode, connections nginx accepted during the run
# (pooling at work: stays near the number of concurrent requests), the CPU
# time sluice spent per request (user + system; unlike requests/s, hardly
# moved by other load on the machine), the descriptors of sluice
# before/after (idle pools drained), and a verdict. Targets: no socket error, no non-2xx, throughput
# within 10% of the baseline, descriptors back to where they were, every
# reload counted as expected.
#
# With --upgrade, the same runs replace the binary instead (doc/upgrade.md):
# SIGUSR2 to the process that serves, which hands its sockets to a new
# process of the binary's path and drains; sluice runs through a link in
# the work directory, pointed in turn at SLUICE and SLUICE_ALT (when set:
# the ASan build, say) before each upgrade, and every 5th upgrade is to an
# invalid file (it must fail and leave the old process serving). The
# "reloads" column counts upgrades then (sluice_upgrades_total, carried
# across them); CPU per request and descriptors are left out (each
# process has its own), and with SLUICE_ALT the throughput is shown but
# not judged (half the run is served by the other build).
#
# Exit status: 0 when every component started (whatever the verdicts),
# 1 when one did not (missing tool, nginx or sluice not listening).
#
# usage: contrib/reload-storm.sh [-d SECONDS] [-c CONNECTIONS] [-t THREADS]
#                                [-n RELOADS] [--upgrade] [--quick] [-k] [-h]
#   -d SECONDS     duration of each wrk run (default 30)
#   -c N           wrk connections (default 256)
#   -t N           wrk threads (default 2)
#   -n N           SIGHUPs per reload run (default 50), or SIGUSR2s per
#                  upgrade run (default 10)
#   --upgrade      upgrades (SIGUSR2) instead of reloads (SIGHUP)
#   --quick        -d 5 (and the same number of reloads, closer together)
#   -k             keep the work directory (logs, configs) for inspection
# Environment: SLUICE (default ./build/src/sluice), SLUICE_ALT (--upgrade:
#              another build to alternate with), NGINX (default nginx),
#              WRK (default wrk).

set -u

DURATION=30
CONNS=256
THREADS=2
RELOADS=
UPGRADE=0
KEEP=0
SLUICE=${SLUICE:-./build/src/sluice}
NGINX=${NGINX:-nginx}
WRK=${WRK:-wrk}

usage() {
	sed -n '/^# usage:/,/^#              WRK/p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case $1 in
	-d) DURATION=$2; shift 2 ;;
	-c) CONNS=$2; shift 2 ;;
	-t) THREADS=$2; shift 2 ;;
	-n) RELOADS=$2; shift 2 ;;
	--upgrade) UPGRADE=1; shift ;;
	--quick) DURATION=5; shift ;;
	-k) KEEP=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "reload-storm: unknown argument $1" >&2; usage >&2; exit 1 ;;
	esac
done
if [ -z "$RELOADS" ]; then
	RELOADS=50
	[ "$UPGRADE" = 1 ] && RELOADS=10
fi
case $DURATION$CONNS$THREADS$RELOADS in
*[!0-9]*) echo "reload-storm: -d, -c, -t, -n take integers" >&2; exit 1 ;;
esac
[ "$DURATION" -ge 3 ] || { echo "reload-storm: -d must be >= 3" >&2; exit 1; }

die() {
	echo "reload-storm: $*" >&2
	exit 1
}

for tool in "$NGINX" "$WRK" curl; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
[ -x "$SLUICE" ] || die "sluice binary not found at $SLUICE (set SLUICE)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
SLUICE_ALT=${SLUICE_ALT:-}
if [ -n "$SLUICE_ALT" ]; then
	[ -x "$SLUICE_ALT" ] || die "SLUICE_ALT $SLUICE_ALT is not executable"
	SLUICE_ALT=$(cd "$(dirname "$SLUICE_ALT")" && pwd)/$(basename "$SLUICE_ALT")
fi

WORK=$(mktemp -d /tmp/reload-storm.XXXXXX) || die "mktemp failed"
NGINX_PID=
SLUICE_PID=
WRK_PID=
STORM_PID=

cleanup() {
	local p
	[ "$UPGRADE" = 1 ] && SLUICE_PID=$(serving_pid)
	for p in $STORM_PID $WRK_PID $SLUICE_PID $NGINX_PID; do
		kill "$p" 2>/dev/null
	done
	for p in $STORM_PID $WRK_PID $SLUICE_PID $NGINX_PID; do
		# bounded: 5 s, then KILL
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$KEEP" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The process that serves: with --upgrade, the one the pid file names
# (each upgrade writes it), else the one started here.
serving_pid() {
	if [ "$UPGRADE" = 1 ]; then
		cat "$WORK/sluice.pid" 2>/dev/null || echo "$SLUICE_PID"
	else
		echo "$SLUICE_PID"
	fi
}

# A port nobody listens on, outside the ephemeral range.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
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
	die "no free port"
}

wait_listen() {	# PORT PID NAME
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || return 1
		port_free "$1" || return 0
		sleep 0.05
	done
	return 1
}

UP1=$(pick_port)
UP2=$(pick_port)
STATUS=$(pick_port)
PORT=$(pick_port)
ADMIN=$(pick_port)

# ---- upstream: nginx, foreground, own prefix ---------------------------
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 10000000;
	keepalive_timeout 120s;
	client_body_temp_path $WORK/nginx/tmp/body;
	proxy_temp_path $WORK/nginx/tmp/proxy;
	fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
	uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
	scgi_temp_path $WORK/nginx/tmp/scgi;
	default_type text/plain;
	server {
		listen 127.0.0.1:$UP1 backlog=4096;
		location / { return 200 "upstream-1 ok\n"; }
	}
	server {
		listen 127.0.0.1:$UP2 backlog=4096;
		location / { return 200 "upstream-2 ok\n"; }
	}
	server {
		listen 127.0.0.1:$STATUS;
		location / { stub_status; }
	}
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" \
	>"$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
wait_listen "$UP1" "$NGINX_PID" && wait_listen "$UP2" "$NGINX_PID" ||
	{ cat "$WORK/nginx/logs/error.log" "$WORK/nginx/stdout.log" >&2; die "nginx did not start"; }

# ---- sluice configurations ---------------------------------------------
# Both valid files: two workers, admin, the catch-all route to cluster
# "mix" (both nginx ports, as endpoints whose identity survives reloads),
# other routes and weights. Pools may hold what 256 connections need, and
# drain within 2 s once idle, so descriptors can be compared after a run.
common() {	# WEIGHT1 WEIGHT2 ROUTES
	cat <<EOF
workers: 2
drain_timeout: 10s
admin:
  address: 127.0.0.1:$ADMIN
log:
  level: info
  access: off
listeners:
  - name: main
    address: 127.0.0.1:$PORT
    limits:
      idle_timeout: 60s
    routes:
$3
      - name: all
        cluster: mix
clusters:
  - name: mix
    endpoints:
      - { address: 127.0.0.1:$UP1, weight: $1 }
      - { address: 127.0.0.1:$UP2, weight: $2 }
    pool: { max_idle: 512, idle_timeout: 2s }
  - name: one
    endpoints: [127.0.0.1:$UP1]
    pool: { max_idle: 512, idle_timeout: 2s }
  - name: two
    endpoints: [127.0.0.1:$UP2]
    pool: { max_idle: 512, idle_timeout: 2s }
EOF
}
common 1 1 "      - name: one
        match: { path_prefix: /one/ }
        cluster: one" >"$WORK/a.yaml"
common 1 9 "      - name: two
        match: { path_prefix: /two/ }
        cluster: two
      - name: canary
        match: { headers: { X-Canary: \"on\" } }
        cluster: one" >"$WORK/b.yaml"
# invalid ones: YAML syntax, unknown key, unknown cluster
{ cat "$WORK/a.yaml"; printf 'listeners: [\n'; } >"$WORK/bad-yaml.yaml"
{ cat "$WORK/b.yaml"; printf 'no_such_key: 1\n'; } >"$WORK/bad-key.yaml"
sed 's/cluster: two$/cluster: nowhere/' "$WORK/b.yaml" >"$WORK/bad-cluster.yaml"
BADS=(bad-yaml bad-key bad-cluster)

CONF=$WORK/sluice.yaml
cp "$WORK/a.yaml" "$CONF"
"$SLUICE" -t -c "$CONF" >/dev/null 2>"$WORK/check.err" || { cat "$WORK/check.err" >&2; die "sluice -t refused a.yaml"; }
"$SLUICE" -t -c "$WORK/b.yaml" >/dev/null 2>"$WORK/check.err" || { cat "$WORK/check.err" >&2; die "sluice -t refused b.yaml"; }

# --upgrade: through a link, so that an upgrade starts what it names then
BIN=$SLUICE
if [ "$UPGRADE" = 1 ]; then
	BIN=$WORK/sluice
	ln -s "$SLUICE" "$BIN"
fi
"$BIN" -c "$CONF" -p "$WORK/sluice.pid" >"$WORK/sluice.out" 2>"$WORK/sluice.err" </dev/null &
SLUICE_PID=$!
wait_listen "$PORT" "$SLUICE_PID" && wait_listen "$ADMIN" "$SLUICE_PID" ||
	{ cat "$WORK/sluice.err" >&2; die "sluice did not start"; }
curl -sS --noproxy '*' -o /dev/null "http://127.0.0.1:$PORT/" ||
	die "no answer through sluice"

metric() {	# NAME -> value (integer) or empty
	curl -sS --noproxy '*' --max-time 5 "http://127.0.0.1:$ADMIN/metrics" 2>/dev/null |
		awk -v k="$1" '$1 == k { printf "%d\n", $2 }'
}
if [ "$UPGRADE" = 1 ]; then
	reloads_ok() { metric 'sluice_upgrades_total{result="ok"}'; }
	reloads_failed() { metric 'sluice_upgrades_total{result="failed"}'; }
else
	reloads_ok() { metric 'sluice_reloads_total{result="ok"}'; }
	reloads_failed() { metric 'sluice_reloads_total{result="failed"}'; }
fi
fds() { ls "/proc/$SLUICE_PID/fd" 2>/dev/null | wc -l; }
# CPU time sluice used so far (user + system), in clock ticks
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SLUICE_PID/stat" 2>/dev/null; }
# connections nginx accepted so far (stub_status), minus our own queries
NGINX_Q=0
nginx_accepts() {
	local a
	a=$(curl -sS --noproxy '*' --max-time 5 "http://127.0.0.1:$STATUS/" 2>/dev/null |
		awk 'NR == 3 { print $1 }')
	NGINX_Q=$((NGINX_Q + 1))
	echo $(( ${a:-0} - NGINX_Q ))
}

# Descriptors once idle pools have drained (pool idle_timeout 2s): waits
# 2.5 s, then until the count is stable for 1 s (at most 10 s more).
settled_fds() {
	local last=-1 n stable=0
	sleep 2.5
	for _ in $(seq 50); do
		n=$(fds)
		if [ "$n" = "$last" ]; then
			stable=$((stable + 1))
			[ $stable -ge 5 ] && [ "$n" -le "${1:-100000}" ] && break
		else
			stable=0
		fi
		last=$n
		sleep 0.2
	done
	echo "$n"
}

# ---- the storm ---------------------------------------------------------
# RELOADS SIGHUPs spread over the run (1 s margin each side); every 10th
# file is invalid, the others alternate a.yaml / b.yaml. Writes the number
# of valid and invalid files sent to $WORK/storm.sent.
# The loop forks once per SIGHUP (mv, for an atomic replace): the files
# are read once, written with builtins, and the pause is a read timeout.
declare -A TEXT
for f in a b "${BADS[@]}"; do
	TEXT[$f]=$(<"$WORK/$f.yaml")
done
pause() {	# MILLISECONDS, without forking sleep
	local s
	s=$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))
	read -rt "$s" -u "$PAUSE_FD" _ 2>/dev/null
	return 0
}
# --upgrade: N SIGUSR2s, each after the file and the link are set, and
# each waiting for its outcome (the pid file names a new process, or the
# old one logs the failure) before the pause; every 5th file is invalid.
storm_upgrades() {
	local n=$RELOADS i f ok=0 bad=0 ms pid fails t bin
	exec {PAUSE_FD}<> <(:)
	ms=$(( (DURATION - 2) * 1000 / n ))
	pause 1000
	for i in $(seq 1 "$n"); do
		bin=$SLUICE
		[ -n "$SLUICE_ALT" ] && [ $((i % 2)) = 1 ] && bin=$SLUICE_ALT
		ln -sfn "$bin" "$WORK/sluice.tmp" && mv -T "$WORK/sluice.tmp" "$WORK/sluice"
		if [ $((i % 5)) = 0 ]; then
			f=${BADS[$(( (i / 5) % ${#BADS[@]} ))]}
			bad=$((bad + 1))
		elif [ $((i % 2)) = 1 ]; then
			f=b; ok=$((ok + 1))
		else
			f=a; ok=$((ok + 1))
		fi
		printf '%s\n' "${TEXT[$f]}" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
		pid=$(serving_pid)
		fails=$(grep -c 'upgrade: failed' "$WORK/sluice.err")
		kill -USR2 "$pid" 2>/dev/null || break
		# its outcome, within 40 s
		for t in $(seq 400); do
			[ "$(serving_pid)" != "$pid" ] && break
			[ "$(grep -c 'upgrade: failed' "$WORK/sluice.err")" != "$fails" ] && break
			pause 100
		done
		pause "$ms"
	done
	cp "$WORK/a.yaml" "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
	echo "$ok $bad" >"$WORK/storm.sent"
}
storm() {
	local n=$RELOADS i f ok=0 bad=0 ms
	exec {PAUSE_FD}<> <(:)
	ms=$(( (DURATION - 2) * 1000 / n ))
	pause 1000
	for i in $(seq 1 "$n"); do
		if [ $((i % 10)) = 0 ]; then
			f=${BADS[$(( (i / 10) % ${#BADS[@]} ))]}
			bad=$((bad + 1))
		elif [ $((i % 2)) = 1 ]; then
			f=b; ok=$((ok + 1))
		else
			f=a; ok=$((ok + 1))
		fi
		printf '%s\n' "${TEXT[$f]}" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
		kill -HUP "$SLUICE_PID" 2>/dev/null || break
		pause "$ms"
	done
	cp "$WORK/a.yaml" "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
	echo "$ok $bad" >"$WORK/storm.sent"
}

# wrk summary -> "rps connect read write timeout non2xx requests"
parse_wrk() {
	awk '
	/Requests\/sec:/ { rps = $2 }
	/requests in/ { reqs = $1 }
	/Socket errors:/ {
		gsub(",", ""); c = $4; r = $6; w = $8; t = $10
	}
	/Non-2xx or 3xx responses:/ { n = $5 }
	END {
		printf "%s %d %d %d %d %d %d\n", (rps == "" ? "0" : rps),
		       c, r, w, t, n, reqs
	}' "$1"
}

ROWS=()
declare -A BASE_RPS RPS

run() {	# NAME MODE(ka|close) RELOAD(0|1)
	local name=$1 mode=$2 reload=$3
	local ok0 bad0 ok1 bad1 fd0 fd1 acc0 acc1 cpu0 cpu1 hdr=() sent="0 0"
	local out=$WORK/wrk-$(( ${#ROWS[@]} + 1 )).txt
	if [ "$mode" = close ]; then
		hdr=(-H "Connection: close")
	fi
	cp "$WORK/a.yaml" "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
	SLUICE_PID=$(serving_pid)
	kill -HUP "$SLUICE_PID"
	sleep 0.3
	fd0=$(settled_fds)
	ok0=$(reloads_ok); bad0=$(reloads_failed)
	acc0=$(nginx_accepts)
	cpu0=$(cpu_ticks)
	echo "== $name: wrk -t$THREADS -c$CONNS -d${DURATION}s ${hdr[*]}" \
		"$([ "$reload" = 1 ] && echo "with $RELOADS SIGHUPs")" >&2
	"$WRK" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s "${hdr[@]}" \
		"http://127.0.0.1:$PORT/" >"$out" 2>&1 &
	WRK_PID=$!
	if [ "$reload" = 1 ] && [ "$UPGRADE" = 1 ]; then
		storm_upgrades &
		STORM_PID=$!
	elif [ "$reload" = 1 ]; then
		storm &
		STORM_PID=$!
	fi
	# bounded: wrk stops itself after DURATION; give it 30 s more
	for _ in $(seq $(( (DURATION + 30) * 10 ))); do
		kill -0 "$WRK_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$WRK_PID" 2>/dev/null
	wait "$WRK_PID" 2>/dev/null
	WRK_PID=
	if [ -n "$STORM_PID" ]; then
		wait "$STORM_PID" 2>/dev/null
		STORM_PID=
		sent=$(cat "$WORK/storm.sent" 2>/dev/null || echo "0 0")
	fi
	SLUICE_PID=$(serving_pid)
	if ! kill -0 "$SLUICE_PID" 2>/dev/null; then
		ROWS+=("$name|-|-|-|-|-|-|-|-|-|FAIL (sluice exited)")
		return 1
	fi
	sleep 0.5
	cpu1=$(cpu_ticks)
	ok1=$(reloads_ok); bad1=$(reloads_failed)
	acc1=$(nginx_accepts)
	fd1=$(settled_fds "$fd0")
	local rps c r w t n reqs
	read -r rps c r w t n reqs < <(parse_wrk "$out")
	local rok=$((ok1 - ok0)) rbad=$((bad1 - bad0))
	local sok sbad why=()
	read -r sok sbad <<<"$sent"
	# run() sends one SIGHUP of its own (back to a.yaml) before measuring
	if [ "$reload" = 1 ]; then
		[ "$rok" = "$sok" ] && [ "$rbad" = "$sbad" ] ||
			why+=("reloads counted $rok/$rbad, sent $sok/$sbad")
	fi
	[ $((c + r + w + t)) = 0 ] || why+=("socket errors")
	[ "$n" = 0 ] || why+=("non-2xx")
	[ "$reqs" -gt 0 ] || why+=("no requests")
	[ "$reload" = 0 ] && BASE_RPS[$mode]="${BASE_RPS[$mode]:-} $rps"
	RPS[$name]=$rps
	if [ "$UPGRADE" = 1 ] && [ "$reload" = 1 ]; then
		fd0=-; fd1=-; cpu0=0; cpu1=0
	fi
	[ "$fd1" = "$fd0" ] || why+=("fds")
	local rl="-"
	[ "$reload" = 1 ] && rl="$rok/$rbad"
	local cpureq
	cpureq=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')
	[ "$UPGRADE" = 1 ] && [ "$reload" = 1 ] && cpureq=-
	# throughput and the verdict are filled in once both baselines ran
	ROWS+=("$name|$rl|$rps|$c/$r/$w/$t|$n|@$mode@$reload|$cpureq|$((acc1 - acc0))|$fd0/$fd1|$(IFS=,; echo "${why[*]}")")
	return 0
}

# Each mode: baseline, reloads, baseline again; the reload run is compared
# with the mean of the baselines around it (the second one shows how much
# the machine itself drifts).
WHAT=reloads
[ "$UPGRADE" = 1 ] && WHAT=upgrades
run "keep-alive, no $WHAT" ka 0 &&
run "keep-alive, $WHAT" ka 1 &&
run "keep-alive, no $WHAT" ka 0 &&
run "close, no $WHAT" close 0 &&
run "close, $WHAT" close 1 &&
run "close, no $WHAT" close 0

finish_rows() {
	local i row name rl rps errs n th cpu acc fdd why mode reload base pct
	for i in "${!ROWS[@]}"; do
		IFS='|' read -r name rl rps errs n th cpu acc fdd why <<<"${ROWS[$i]}"
		case $th in
		@*@*)
			mode=${th#@}; mode=${mode%@*}; reload=${th##*@}
			base=$(echo "${BASE_RPS[$mode]:-}" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; if (NF) printf "%.2f", s / NF }')
			pct="-"
			if [ -n "$base" ]; then
				pct=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.1f%%", 100 * a / b }')
				# alternating with another build (ASan, say) the
				# upgraded runs are as fast as the slower one: not judged
				if [ "$reload" = 1 ] && [ -z "${SLUICE_ALT:-}" ] && ! awk -v a="$rps" -v b="$base" 'BEGIN { exit !(a >= 0.9 * b) }'; then
					why="${why:+$why,}throughput"
				fi
			fi
			th=$pct
			;;
		esac
		if [ -n "$why" ]; then
			why="FAIL ($why)"
		else
			why=PASS
		fi
		ROWS[$i]="$name|$rl|$rps|$errs|$n|$th|$cpu|$acc|$fdd|$why"
	done
}
finish_rows

# ---- report ------------------------------------------------------------
crash=0
SLUICE_PID=$(serving_pid)
kill -0 "$SLUICE_PID" 2>/dev/null || crash=1
# graceful stop after the storms: exit status and drain time (bounded)
stop_rc=- stop_ms=-
if [ $crash = 0 ]; then
	t0=$(date +%s%N)
	kill -TERM "$SLUICE_PID"
	for _ in $(seq 150); do
		kill -0 "$SLUICE_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SLUICE_PID" 2>/dev/null; then
		stop_rc="still running 15 s after SIGTERM"
	elif wait "$SLUICE_PID" 2>/dev/null; then
		stop_rc=0
		SLUICE_PID=
		stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	else
		stop_rc=$?
		# not our child (a process an upgrade started): its exit
		# status is not ours to read; its log says how it stopped
		if [ "$stop_rc" = 127 ] && grep -q 'info: stopped' "$WORK/sluice.err"; then
			stop_rc=0
		fi
		SLUICE_PID=
		stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	fi
fi
# every error/warn line but those of the invalid files
expected_re=" error: reload: $CONF( is not valid|:)"
# --upgrade: an invalid file ends the new process, which says so, and the
# old one says the upgrade failed
[ "$UPGRADE" = 1 ] && expected_re="$expected_re| $CONF:[0-9]+:[0-9]+: error| error: .*$CONF|upgrade: failed"
unexpected=$(grep -E ' (error|warn): ' "$WORK/sluice.err" | grep -cvE "$expected_re")
sanitizer=$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/sluice.err")
echo
if [ "$UPGRADE" = 1 ]; then
	echo "sluice $("$SLUICE" -V | head -1 | cut -d' ' -f2)${SLUICE_ALT:+ alternating with $SLUICE_ALT}, $(nproc) CPUs, wrk -t$THREADS -c$CONNS -d${DURATION}s, $RELOADS SIGUSR2s per upgrade run (every 5th file invalid)"
else
	echo "sluice $("$SLUICE" -V | head -1 | cut -d' ' -f2), $(nproc) CPUs, wrk -t$THREADS -c$CONNS -d${DURATION}s, $RELOADS SIGHUPs per reload run (every 10th file invalid)"
fi
echo "vs baseline: against the mean of the two no-reload runs of the same mode"
echo
FMT='| %-21s | %-17s | %-10s | %-21s | %-7s | %-11s | %-14s | %-16s | %-16s | %s |\n'
printf "$FMT" mode "reloads ok/failed" "requests/s" "socket errors c/r/w/t" \
	"non-2xx" "vs baseline" "sluice CPU/req" "upstream accepts" "fds before/after" verdict
printf '|%s|\n' "-----------------------|-------------------|------------|-----------------------|---------|-------------|----------------|------------------|------------------|---------"
for row in "${ROWS[@]}"; do
	IFS='|' read -r a b c d e f g h i j <<<"$row"
	printf "$FMT" "$a" "$b" "$c" "$d" "$e" "$f" "$g us" "$h" "$i" "$j"
done
echo
[ "$UPGRADE" = 1 ] && echo "upgrade log lines: $(grep -c 'hands over and drains' "$WORK/sluice.err") done," \
	"$(grep -c 'upgrade: failed' "$WORK/sluice.err") failed"
echo "reload log lines: $(grep -c 'info: reload: generation' "$WORK/sluice.err") applied," \
	"$(grep -cE " error: reload: $CONF is not valid" "$WORK/sluice.err") refused;" \
	"other error/warn lines: $unexpected; sanitizer reports: $sanitizer"
[ "$unexpected" = 0 ] || grep -E ' (error|warn): ' "$WORK/sluice.err" | grep -vE "$expected_re" | head -5
echo "SIGTERM after the runs: exit status $stop_rc after $stop_ms ms"
if [ $crash = 1 ] || [ "$stop_rc" != 0 ] || [ "$sanitizer" != 0 ]; then
	echo "FAIL: sluice crashed, did not stop cleanly or reported a sanitizer error: see $WORK/sluice.err (kept)"
	KEEP=1
fi
exit 0
