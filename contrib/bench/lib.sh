# contrib/bench/lib.sh -- the plumbing the benchmark scripts here share,
# written once: sourced (". "$HERE/lib.sh"") by run.sh, icount.sh,
# count.sh, grpc.sh, compress.sh, idem.sh, waf.sh, ws.sh, hpack.sh, h3.sh,
# lua.sh, lua_burst.sh and uring-trial/bench.sh, all of them bash scripts
# (so this is bash too).
#
# What it gives them:
#   die, log               messages on stderr, die's prefixed with the
#                          script's name (BENCH_NAME)
#   scratch_dir PREFIX     WORK, a new directory /tmp/PREFIX.XXXXXX, removed
#                          at exit; kept (and said so) with KEEP=1, or when
#                          the script fails (KEEP_ON_ERROR=0: removed then
#                          too), but not when it is interrupted
#   out_dir PREFIX         OUT, where the results go: made, absolute
#   register_pid PID       a process started in the background: stopped (and
#                          waited for) at exit, the last started first,
#                          unless stop_pid stopped it before
#   stop_pid PID [SIG]     SIGTERM (or SIG), SIGKILL after 10 s, waited for,
#                          out of the registry
#   on_exit COMMAND        a step of its own for the cleanup, run after the
#                          processes are stopped (the last added first):
#                          scripts add steps, they never define a cleanup
#   watchdog_start SECS    the whole run stopped after SECS
#   port_free, pick_port   ports on 127.0.0.1
#   wait_listen, wait_http, wait_status, wait_line
#                          until a port listens, a URL answers, a line shows
#   server_start, gw_start, gw_failed, gw_procs, gw_stop, gw_messages
#                          sluice, nginx and HAProxy started the way the
#                          scripts start them (a directory each with its
#                          configuration and logs/), stopped, their messages
#   NGINX_USER, nginx_temp_paths
#                          lines every nginx configuration here has
#   others_running         gateways and load generators already running
#   cg_objects, cg_dump    a callgrind dump's cost by object; the dump of the
#                          gateway under callgrind
#
# The cleanup runs on EXIT; SIGINT and SIGTERM end the script with status
# 130 through it, as does the watchdog (SIGUSR2). While it runs, further
# SIGINT and SIGTERM are ignored, so that a second ^C cannot leave a
# gateway running. After the registered processes it stops any other
# process the script started that is still running (one started inside a
# command substitution, say), by pid.
#
# Nothing here sends traffic anywhere; the scripts send it to 127.0.0.1.
# (Its variables are for the scripts that source it.)
# shellcheck disable=SC2034

BENCH_NAME=${BENCH_NAME:-${0##*/}}

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- processes
PIDS=()             # every long-running process started, in order
WORK=""             # the scratch directory (scratch_dir)
KEEP=0              # 1: keep WORK at exit
KEEP_ON_ERROR=1     # 0: remove WORK even when the script fails
WATCHDOG=""
BENCH_ON_EXIT=()
BENCH_INTERRUPTED=0

proc_alive() {  # pid: alive and not a zombie
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

children() {  # pid: its direct children
	# (pgrep, not a sed per /proc entry: that took seconds on a busy machine)
	pgrep -P "$1" || true
}

register_pid() {  # pid...: started in the background, stopped at exit
	PIDS+=("$@")
}

forget_pid() {  # pid: out of the registry (stop_pid does it)
	local p keep=()
	for p in ${PIDS[@]+"${PIDS[@]}"}; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=(${keep[@]+"${keep[@]}"})
}

stop_pid() {  # pid [signal]: stop one process we started, bounded in time
	local pid=$1 sig=${2:-TERM} i
	if proc_alive "$pid"; then
		kill "-$sig" "$pid" 2>/dev/null || true
		for i in $(seq 100); do
			proc_alive "$pid" || break
			sleep 0.1
		done
		if proc_alive "$pid"; then
			log "pid $pid ignored SIG$sig, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	# out of the registry: its pid may be another process's by the exit
	forget_pid "$pid"
}

on_exit() {  # command: one more step for the cleanup (eval'd)
	BENCH_ON_EXIT+=("$*")
}

descendants() {  # pid: its children, theirs, ... (not this listing's own)
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		[ "$c" = "$BASHPID" ] && continue
		echo "$c"
		descendants "$c"
	done
}

cleanup() {
	local rc=$? i p c left
	trap '' INT TERM USR2
	trap - EXIT
	set +e
	watchdog_stop
	local ps=(${PIDS[@]+"${PIDS[@]}"})
	for ((i = ${#ps[@]} - 1; i >= 0; i--)); do stop_pid "${ps[i]}"; done
	# what was started and not registered, and still runs
	left=$(descendants $$)
	if [ -n "$left" ]; then
		kill -TERM $left 2>/dev/null
		for i in $(seq 50); do
			p=""
			for c in $left; do proc_alive "$c" && p="$p $c"; done
			[ -n "$p" ] || break
			sleep 0.1
		done
		[ -z "$p" ] || kill -KILL $p 2>/dev/null
		for c in $left; do wait "$c" 2>/dev/null; done
	fi
	for ((i = ${#BENCH_ON_EXIT[@]} - 1; i >= 0; i--)); do eval "${BENCH_ON_EXIT[i]}"; done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$KEEP" = 1 ] || { [ "$rc" -ne 0 ] && [ "$KEEP_ON_ERROR" = 1 ] && [ "$BENCH_INTERRUPTED" = 0 ]; }; then
			log "scratch directory kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'BENCH_INTERRUPTED=1; log "interrupted"; exit 130' INT TERM
# the watchdog's: the scratch directory is kept, as for a failure
trap 'log "interrupted"; exit 130' USR2

scratch_dir() {  # prefix [parent]: WORK, a new directory, removed at exit
	WORK=$(mktemp -d "${2:-/tmp}/$1.XXXXXX")
	chmod 755 "$WORK"
}

out_dir() {  # [prefix]: OUT made (unless given, a new /tmp/PREFIX.XXXXXX), absolute
	if [ -z "${OUT:-}" ]; then OUT=$(mktemp -d "/tmp/$1.XXXXXX"); else mkdir -p "$OUT"; fi
	OUT=$(cd "$OUT" && pwd)
}

watchdog_start() {  # seconds: stops the whole run after so long
	(
		# its sleep holds no pipe
		trap 'kill "$sp" 2>/dev/null; wait "$sp"; exit 0' TERM
		# shellcheck disable=SC2217 # no stdin, so that no pipe is held open
		sleep "$1" </dev/null >/dev/null 2>&1 &
		sp=$!
		wait "$sp"
		echo "$BENCH_NAME: time limit of ${1}s reached" >&2
		kill -USR2 $$
	) &
	WATCHDOG=$!
}

watchdog_stop() {
	[ -n "$WATCHDOG" ] || return 0
	kill "$WATCHDOG" 2>/dev/null || true
	wait "$WATCHDOG" 2>/dev/null || true
	WATCHDOG=""
}

# ---------------------------------------------------------------- ports
port_free() {  # port: nothing listens on it
	[ "$(ss -Hltn "sport = :$1" | wc -l)" -eq 0 ]
}

pick_port() {  # start: the first free port from start (at most 100 tried)
	local p=$1
	while ! port_free "$p"; do
		p=$((p + 1))
		[ "$p" -lt $(($1 + 100)) ] || die "no free port from $1 to $p"
	done
	echo "$p"
}

wait_listen() {  # port [seconds] [pid]: until something listens (or pid dies)
	local i
	for i in $(seq $((${2:-10} * 10))); do
		port_free "$1" || return 0
		[ -z "${3:-}" ] || proc_alive "$3" || return 1
		sleep 0.1
	done
	return 1
}

# curl's arguments of its own for wait_http and wait_status (run.sh: the
# jwt route's token)
WAIT_CURL_ARGS=()

wait_status() {  # url status [seconds] [pid]: until url answers status (or pid dies)
	local i
	for i in $(seq $((${3:-10} * 10))); do
		[ "$("${CURL:-curl}" -sk -o /dev/null --max-time 2 -w '%{http_code}' \
			${WAIT_CURL_ARGS[@]+"${WAIT_CURL_ARGS[@]}"} "$1" || true)" = "$2" ] && return 0
		[ -z "${4:-}" ] || proc_alive "$4" || return 1
		sleep 0.1
	done
	return 1
}

wait_http() {  # url [seconds] [pid]: until it answers 200 (https: not verified)
	wait_status "$1" 200 "${2:-10}" "${3:-}"
}

wait_line() {  # file pattern pid [seconds]: until a line of file matches
	local i
	for i in $(seq $((${4:-10} * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		proc_alive "$3" || break
		sleep 0.1
	done
	grep -q "$2" "$1" 2>/dev/null
}

# ---------------------------------------------------------------- servers
# "user root;" for an nginx started as root (its workers would otherwise
# be nobody, who cannot read the scratch directory's files)
NGINX_USER=""
[ "$(id -u)" != 0 ] || NGINX_USER="user root;"

# the five temporary paths of an nginx http block, in dir (server_dir's tmp)
nginx_temp_paths() {  # dir
	local k
	for k in client_body:body proxy:proxy fastcgi:fastcgi uwsgi:uwsgi scgi:scgi; do
		printf '    %s_temp_path %s/%s;\n' "${k%%:*}" "$1" "${k#*:}"
	done
}

server_dir() {  # dir: makes dir/logs and dir/tmp (writable by all)
	mkdir -p "$1/logs" "$1/tmp"
	chmod -R a+rwX "$1/tmp"
}

# server_start KIND DIR CPUS [PREFIX...]: sluice, nginx or haproxy with
# its configuration in DIR (sluice.yaml, nginx.conf, haproxy.cfg), its
# output appended to DIR/logs/stdout and stderr (nginx's error log
# DIR/logs/error.log), on CPUS (taskset), after PREFIX (nice, env,
# valgrind...); in the background, registered: SERVER_PID
server_start() {
	local kind=$1 dir=$2 cpus=$3
	shift 3
	case "$kind" in
	sluice) set -- "$@" "$SLUICE" -c "$dir/sluice.yaml" ;;
	nginx) set -- "$@" "$(command -v "${NGINX:-nginx}")" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log" ;;
	haproxy) set -- "$@" "$(command -v "${HAPROXY:-haproxy}")" -db -f "$dir/haproxy.cfg" ;;
	*) die "unknown server $kind" ;;
	esac
	taskset -c "$cpus" "$@" >>"$dir/logs/stdout" 2>>"$dir/logs/stderr" </dev/null &
	SERVER_PID=$!
	register_pid "$SERVER_PID"
}

server_failed() {  # dir message: its logs' last lines, then die
	tail -n 20 "$1"/logs/* >&2 || true
	die "$2"
}

# The gateway under test, one at a time: GW_PID, GW_NAME, GW_DIR, GW_PROCS
GW_PID=""
GW_NAME=""
GW_DIR=""
GW_PROCS=""

gw_start() {  # kind name dir cpus [prefix...]: server_start, as the gateway
	local kind=$1 name=$2
	shift 2
	server_start "$kind" "$@"
	GW_PID=$SERVER_PID
	GW_NAME=$name
	GW_DIR=$1
	GW_PROCS=$GW_PID
}

gw_failed() {  # [message]: the gateway did not start
	server_failed "$GW_DIR" "${1:-$GW_NAME did not start}"
}

gw_procs() {  # GW_PROCS: the gateway's pid and its children's (nginx's worker)
	# shellcheck disable=SC2046 # one pid a word
	GW_PROCS=$(echo "$GW_PID" $(children "$GW_PID"))
}

gw_stop() {  # [fatal]: stops the gateway; if it died meanwhile: a warning
	#            and the scratch directory kept (fatal: die)
	[ -n "$GW_PID" ] || return 0
	if ! proc_alive "$GW_PID"; then
		KEEP=1
		[ "${1:-}" != fatal ] || die "$GW_NAME (pid $GW_PID) died during the run; see $GW_DIR/logs"
		log "WARNING: $GW_NAME (pid $GW_PID) died during the run; see $GW_DIR/logs"
	fi
	stop_pid "$GW_PID" TERM
	GW_PID=""
}

# gw_messages REGEX [LINES]: what the stopped gateway wrote to its stderr
# and error log, less the lines REGEX matches (expected ones): the first
# LINES (3) shown, all of them added to WORK/gateway-messages.log; the
# logs emptied for its next start
gw_messages() {
	cat "$GW_DIR"/logs/stderr "$GW_DIR"/logs/error.log 2>/dev/null |
		grep -vE "$1" | sed "s/^/[$GW_NAME] /" >"$WORK/last-messages.log" || true
	if [ -s "$WORK/last-messages.log" ]; then
		head -n "${2:-3}" "$WORK/last-messages.log" | cut -c1-300 | sed 's/^/  /' >&2
		cat "$WORK/last-messages.log" >>"$WORK/gateway-messages.log"
	fi
	: >"$GW_DIR/logs/stderr"
	[ ! -e "$GW_DIR/logs/error.log" ] || : >"$GW_DIR/logs/error.log"
}

# others_running NAME...: the pids of those already running (OTHERS) and
# "name (pid), ..." (OTHERS_TXT), with a warning: they share the CPUs
others_running() {
	local p
	OTHERS=$(for p in "$@"; do pgrep -x "$p" || true; done | paste -sd ' ')
	OTHERS_TXT=""
	[ -z "$OTHERS" ] ||
		OTHERS_TXT=$(ps -o pid=,comm= -p "${OTHERS// /,}" | awk '{ printf "%s%s (%s)", s, $2, $1; s = ", " }' || true)
	[ -z "$OTHERS_TXT" ] || log "WARNING: already running, and sharing the CPUs: $OTHERS_TXT"
}

# cg_objects FILE: "object self-cost" lines of a callgrind dump, the self
# cost of every function summed by the object (binary or library) it is in
cg_objects() {
	"${PYTHON:-python3}" - "$1" <<'PY'
import re, sys, collections
ob, fn_ob, cur_ob, cur_fn, skip = {}, {}, None, None, False
cost = collections.Counter()
for line in open(sys.argv[1]):
    if skip:
        skip = False
        continue
    m = re.match(r'^(c?ob|c?fn|c?f[lie])=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
    if m:
        k, i, n = m.groups()
        if k in ('ob', 'cob') and n:
            ob[i] = n
        if k == 'ob':
            cur_ob = i
        if k == 'fn':
            cur_fn = i
            fn_ob[i] = cur_ob
        continue
    if line.startswith('calls='):
        skip = True  # the next line is a call's inclusive cost
        continue
    f = line.split()
    if cur_fn and len(f) >= 2 and (line[0].isdigit() or line[0] in '+-*'):
        cost[ob.get(fn_ob[cur_fn], '?')] += int(f[1])
for o, c in cost.items():
    print(o.split('/')[-1], c)
PY
}

# cg_dump NAME: the counters of the gateway under callgrind (started with
# --callgrind-out-file=GW_DIR/cg.out) dumped, the dump moved to GW_DIR/NAME
cg_dump() {
	local f part="" n best=0
	callgrind_control -d "$GW_PID" >/dev/null 2>&1 || die "callgrind_control -d $GW_PID failed"
	for f in "$GW_DIR"/cg.out.*; do
		[ -e "$f" ] || continue
		n=${f##*.}
		case "$n" in ''|*[!0-9]*) continue ;; esac
		[ "$n" -gt "$best" ] && { best=$n; part=$f; }
	done
	[ -n "$part" ] || die "no callgrind dump in $GW_DIR"
	mv "$part" "$GW_DIR/$1"
	rm -f "$GW_DIR"/cg.out.*
}
