#!/usr/bin/env bash
# contrib/bench/scale.sh -- sluice, nginx and HAProxy at a platform's size:
# many hosts, path prefixes and certificates (issue 78's proof).
#
# usage: contrib/bench/scale.sh [--only ROW,...] [--gateways GW,...]
#            [--hosts N,...] [--prefixes N,...] [--mem-hosts A,B]
#            [--certs N,...] [--start-hosts N,...] [--requests N]
#            [--handshakes N] [--timeout S] [--cg-timeout S]
#
# Each gateway is configured the way it is meant to be used at scale
# (contrib/bench/scale_gen.py writes the files): sluice one route per host
# (match: { host: hI.example }), per prefix (match: { path_prefix: /pI/ })
# and tls.certificates; sluice-acme (a gateway of --gateways, not in the
# default list) the certificate rows' names as tls.acme, their certificates
# in ACME's storage as if ordered before (served from there at the start,
# no CA reached); sluice-file (a gateway of --gateways, not in the
# default list) the hosts as the names of one route's hosts_file, the
# form meant for a platform's merchant hosts, measured by the host rows
# (icount-hosts, start, reload, check, mem); nginx one server block per name (server_name
# hashed, server_names_hash_max_size raised) and a location block per
# prefix; HAProxy a host map (map_str), a map_beg for prefixes and a
# crt-list. Every route goes to the same upstream (scale_gen.py upstream,
# icount.sh's keep-alive 100-byte server). One worker each: sluice
# workers: 1 (its workers are threads of one process), nginx
# worker_processes 1 (with its master, or master_process off under
# callgrind), HAProxy nbthread 1 (master-worker -W, or one process under
# callgrind). sluice's every generated file is checked with -t first.
#
# ROWs (all by default; each a separate measurement):
#   icount-hosts     instructions per request (callgrind, as icount.sh
#                    counts: keep-alive requests, counters zeroed after a
#                    warm-up) to the last of N hosts, N in --hosts
#   icount-prefixes  the same to the last of N path prefixes on one host
#   start            --start-hosts (default: the largest of --hosts)
#                    hosts: wall time from the start to the last host's
#                    first 200
#   reload           then one host added to the file and SIGHUP (nginx:
#                    HUP to the master; HAProxy: USR2 to the -W master):
#                    to the added host's first 200
#   check            the configuration check's CPU time (user + sys):
#                    sluice -t, nginx -t, haproxy -c
#   mem              memory per host route: the RSS of all the gateway's
#                    processes at --mem-hosts A and B hosts (after the start
#                    and one request), (RSS_B - RSS_A) / (B - A)
#   icount-tls       instructions of a full TLS handshake (TLS 1.3, no
#                    resumption) and one request, with the last of N
#                    certificate names as SNI, N in --certs: the ratio to
#                    the smallest N
#   certs            the largest of --certs: start to the last name's
#                    first answer, RSS then, and (sluice) SIGHUP with
#                    unchanged files to sluice_config_generation_applied
#                    going up on its admin /metrics
# Certificates: one self-signed P-256 certificate per name, all with one
# key, made once by scale_gen.py (python3-cryptography) and kept in
# ~/.cache/sluice-bench/certs-N.
#
# Under callgrind the gateways start with --instr-atstart=no (the start
# runs several times faster than counted) and are counted from their first
# 200 on: --requests keep-alive requests (default 400) over 8 connections
# after a tenth as many on the same connections to warm up (no connection's
# opening or closing counted), --handshakes new connections (default 50)
# after 5. What the main thread does meanwhile (once-a-second ticks) is
# counted too, as in icount.sh: it weighs more when a request is slow
# under callgrind. A gateway that fails a row (no 200 within --timeout, default
# 600 s, or --cg-timeout under callgrind, default 1800 s; a refused file)
# has its cell say so; the run goes on.
#
# Prints one markdown table (rows x sluice, nginx, HAProxy) on stdout, the
# raw figures on stderr as they come.
#
# Environment: SLUICE (build/src/sluice, else build-werror/src/sluice),
# NGINX, HAPROXY, PYTHON (/usr/bin/python3: it needs python3-cryptography),
# UP_PORT, GW_PORT, ADMIN_PORT (the first free ports from 19500, 19510,
# 19520).
#
# Example (issue 78's table):
#   contrib/bench/scale.sh --hosts 10,10000,100000 --prefixes 10000 --certs 10,10000
# Traffic is to 127.0.0.1 only; everything started here is stopped on exit.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
KEEP_ON_ERROR=0

ONLY=icount-hosts,icount-prefixes,start,reload,check,mem,icount-tls,certs
GATEWAYS=sluice,nginx,haproxy
HOSTS=10,10000,100000
PREFIXES=10000
MEM_HOSTS=1000,10000
CERTS=10,10000
START_HOSTS=""
REQUESTS=400
HANDSHAKES=50
TIMEOUT=600
CG_TIMEOUT=1800
CONNS=8
PYTHON=${PYTHON:-/usr/bin/python3}

while [ $# -gt 0 ]; do
	case "$1" in
	--only) ONLY=${2:?}; shift ;;
	--gateways) GATEWAYS=${2:?}; shift ;;
	--hosts) HOSTS=${2:?}; shift ;;
	--prefixes) PREFIXES=${2:?}; shift ;;
	--mem-hosts) MEM_HOSTS=${2:?}; shift ;;
	--certs) CERTS=${2:?}; shift ;;
	--start-hosts) START_HOSTS=${2:?}; shift ;;
	--requests) REQUESTS=${2:?}; shift ;;
	--handshakes) HANDSHAKES=${2:?}; shift ;;
	--timeout) TIMEOUT=${2:?}; shift ;;
	--cg-timeout) CG_TIMEOUT=${2:?}; shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
	shift
done

list() { tr ',' ' ' <<<"$1"; }
largest() { list "$1" | tr ' ' '\n' | sort -n | tail -1; }
smallest() { list "$1" | tr ' ' '\n' | sort -n | head -1; }
selected() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
[ -n "$START_HOSTS" ] || START_HOSTS=$(largest "$HOSTS")
for r in $(list "$ONLY"); do
	case "$r" in
	icount-hosts|icount-prefixes|start|reload|check|mem|icount-tls|certs) ;;
	*) die "unknown row $r (try --help)" ;;
	esac
done
for g in $(list "$GATEWAYS"); do
	case "$g" in sluice|sluice-file|sluice-acme|nginx|haproxy) ;; *) die "unknown gateway $g" ;; esac
done
[ "$(list "$MEM_HOSTS" | wc -w)" = 2 ] || die "--mem-hosts takes two sizes"

if [ -z "${SLUICE:-}" ]; then
	for SLUICE in "$HERE/../../build/src/sluice" "$HERE/../../build-werror/src/sluice"; do
		[ -x "$SLUICE" ] && break
	done
fi
NGINX=$(command -v "${NGINX:-nginx}" || echo /usr/sbin/nginx)
HAPROXY=$(command -v "${HAPROXY:-haproxy}" || echo /usr/sbin/haproxy)
for t in valgrind callgrind_control "$PYTHON" ss; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install valgrind python3 iproute2)"
done
if selected icount-tls || selected certs; then
	"$PYTHON" -c 'import cryptography' 2>/dev/null ||
		die "$PYTHON lacks cryptography (apt-get install python3-cryptography)"
fi

UP_PORT=${UP_PORT:-$(pick_port 19500)}
GW_PORT=${GW_PORT:-$(pick_port 19510)}
ADMIN_PORT=${ADMIN_PORT:-$(pick_port 19520)}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/sluice-bench
GEN=$HERE/scale_gen.py

scratch_dir sluice-scale
others_running sluice nginx haproxy

"$PYTHON" "$GEN" upstream "$UP_PORT" &
UP_PID=$!
register_pid "$UP_PID"
wait_listen "$UP_PORT" 20 "$UP_PID" || die "the upstream did not start"

# ---------------------------------------------------------------- results
declare -A CELL=()
ROWS=()
LABELS=()
DETAILS=()
row() {  # key label: a row of the table, in order
	local k
	for k in ${ROWS[@]+"${ROWS[@]}"}; do [ "$k" = "$1" ] && return 0; done
	ROWS+=("$1")
	LABELS+=("$2")
}
cell() {  # key gateway text
	CELL["$1|$2"]=$3
	log "$2: $1: $3"
}
fail() {  # key gateway [why]: ERR's file without a why
	local w=${3:-$(cat "$WORK/err" 2>/dev/null)}
	cell "$1" "$2" "failed: $(head -c 70 <<<"$w" | tr '\n|' ' /' | sed 's/ *$//')"
}
commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
now() { date +%s.%N; }

# ---------------------------------------------------------------- gateways
GPID=""
CMD=()
ERR=""
# ERR through a file too: the measurements run inside $( )
err() { ERR=$1; printf '%s' "$1" >"$WORK/err"; }

conf() {  # kind dir mode n [certdir [admin port]]: the files; sluice's checked
	server_dir "$2"
	"$PYTHON" "$GEN" conf "$1" "$2" "$3" "$4" "$GW_PORT" "$UP_PORT" "${5:-}" "${6:-0}" ||
		{ err "scale_gen.py conf failed"; return 1; }
	if [ "${1%-*}" = sluice ] || [ "$1" = sluice ]; then
		"$SLUICE" -t -c "$2/sluice.yaml" >"$2/logs/check" 2>&1 ||
			{ err "-t: $(grep -m1 error "$2/logs/check")"; return 1; }
	fi
	return 0
}

gw_cmd() {  # kind dir serve|cg|check: CMD
	case "$1:$3" in
	sluice*:check) CMD=("$SLUICE" -t -c "$2/sluice.yaml") ;;
	sluice*:*) CMD=("$SLUICE" -c "$2/sluice.yaml") ;;
	nginx:*)
		CMD=("$NGINX" -p "$2/" -c "$2/nginx.conf" -e "$2/logs/error.log")
		case "$3" in
		serve) CMD+=(-g "daemon off; master_process on;") ;;
		cg) CMD+=(-g "daemon off; master_process off;") ;;
		check) CMD+=(-t -g "daemon off;") ;;
		esac
		;;
	haproxy:serve) CMD=("$HAPROXY" -W -db -f "$2/haproxy.cfg") ;;
	haproxy:cg) CMD=("$HAPROXY" -db -f "$2/haproxy.cfg") ;;
	haproxy:check) CMD=("$HAPROXY" -c -f "$2/haproxy.cfg") ;;
	esac
}

start() {  # kind dir serve|cg: GPID
	local pre=()
	gw_cmd "$1" "$2" "$3"
	[ "$3" != cg ] || pre=(valgrind --tool=callgrind --instr-atstart=no
		--dump-instr=no --callgrind-out-file="$2/cg.out")
	${pre[@]+"${pre[@]}"} "${CMD[@]}" >>"$2/logs/stdout" 2>>"$2/logs/stderr" </dev/null &
	GPID=$!
	register_pid "$GPID"
}

stop() {
	[ -n "$GPID" ] || return 0
	stop_pid "$GPID" TERM
	GPID=""
}

wait200() {  # port host path t0 limit [sni]: seconds to the first 200
	local out
	if out=$("$PYTHON" "$GEN" wait "$@" 2>&1); then
		echo "$out"
	else
		err "$out"
		return 1
	fi
}

why() {  # dir: ERR, with the gateway's last line if it died
	if [ -n "$GPID" ] && ! proc_alive "$GPID"; then
		err "exited: $(cat "$1"/logs/stderr "$1"/logs/error.log 2>/dev/null | grep -v '^==' | tail -1)"
	fi
}

procs_mem() {  # pid: "RSS PSS" in kB of it and its descendants
	# shellcheck disable=SC2046
	"$PYTHON" "$GEN" mem "$1" $(descendants "$1")
}

cg_ir() {  # dir: the counters of GPID dumped (unless they are), their instructions
	local part ir
	# (the keep-alive client dumped its own count: no closing counted)
	ls "$1"/cg.out.* >/dev/null 2>&1 || callgrind_control -d "$GPID" >/dev/null 2>&1 || return 1
	part=$(ls "$1"/cg.out.* 2>/dev/null | sort -t. -k3 -n | tail -1)
	[ -n "$part" ] || return 1
	ir=$(awk '/^summary:/ { print $2 }' "$part")
	[ -n "$ir" ] || ir=$(awk '/^totals:/ { print $2 }' "$part")
	rm -f "$1"/cg.out.*
	echo "$ir"
}

# icount KIND MODE N HOST PATH [CERTDIR SNI]: instructions per request
# (per handshake and request with CERTDIR), or ERR
icount() {
	local kind=$1 mode=$2 n=$3 host=$4 path=$5 certdir=${6:-} sni=${7:-}
	local d="$WORK/$kind-$mode-$n-cg" ir t0 warm=$((REQUESTS / 10 + 1))
	err ""
	conf "$kind" "$d" "$mode" "$n" "$certdir" || return 1
	t0=$(now)
	start "$kind" "$d" cg
	if ! wait200 "$GW_PORT" "$host" "$path" "$t0" "$CG_TIMEOUT" ${sni:+"$sni"} >/dev/null; then
		why "$d"; stop; return 1
	fi
	callgrind_control -i on "$GPID" >/dev/null 2>&1 || { err "callgrind_control -i failed"; stop; return 1; }
	if [ -n "$sni" ]; then
		"$PYTHON" "$GEN" tls "$GW_PORT" "$sni" 5 &&
			callgrind_control -z "$GPID" >/dev/null 2>&1 &&
			"$PYTHON" "$GEN" tls "$GW_PORT" "$sni" "$HANDSHAKES" ||
			{ err "handshakes failed"; why "$d"; stop; return 1; }
	else
		"$PYTHON" "$GEN" load "$GW_PORT" "$host" "$path" "$REQUESTS" "$CONNS" "$warm" \
			"callgrind_control -z $GPID >/dev/null 2>&1" "callgrind_control -d $GPID >/dev/null 2>&1" ||
			{ err "requests failed"; why "$d"; stop; return 1; }
	fi
	ir=$(cg_ir "$d") || { err "no callgrind dump"; stop; return 1; }
	stop
	rm -rf "$d"
	awk -v ir="$ir" -v r="${sni:+$HANDSHAKES}${sni:-$REQUESTS}" 'BEGIN { printf "%.0f\n", ir / r }'
}

# the CPU time of the configuration check of DIR: "user+sys" seconds
check_cpu() {  # kind dir
	local t TIMEFORMAT='%3U %3S'
	gw_cmd "$1" "$2" check
	t=$({ time "${CMD[@]}" >"$2/logs/check-out" 2>&1; } 2>&1) ||
		{ t=$(grep -m1 -iE 'error|alert|emerg' "$2/logs/check-out"); err "${t:-check failed}"; return 1; }
	awk '{ printf "%.2f\n", $1 + $2 }' <<<"$t"
}

reload_signal() {  # kind pid
	case "$1" in
	haproxy) kill -USR2 "$2" ;;
	*) kill -HUP "$2" ;;
	esac
}

# ---------------------------------------------------------------- rows
gws=$(list "$GATEWAYS")

if selected icount-hosts; then
	for n in $(list "$HOSTS"); do
		key="ih$n"
		row "$key" "instructions per request to the last of $(commas "$n") hosts"
		for g in $gws; do
			if v=$(icount "$g" hosts "$n" "h$n.example" /); then
				cell "$key" "$g" "$(commas "$v")"
			else fail "$key" "$g"; fi
		done
	done
fi

if selected icount-prefixes; then
	for n in $(list "$PREFIXES"); do
		key="ip$n"
		row "$key" "... to the last of $(commas "$n") path prefixes on one host"
		for g in $gws; do
			# (a hosts_file names hosts, not prefixes)
			[ "$g" != sluice-file ] || { cell "$key" "$g" "n/a"; continue; }
			if v=$(icount "$g" prefixes "$n" bench "/p$n/x"); then
				cell "$key" "$g" "$(commas "$v")"
			else fail "$key" "$g"; fi
		done
	done
fi

if selected start || selected reload || selected check; then
	for n in $(list "$START_HOSTS"); do
		N=$(commas "$n")
		selected start && row "st$n" "$N hosts: start to the first answer"
		selected reload && row "rl$n" "$N hosts: SIGHUP to the added host's first answer"
		selected check && row "ck$n" "$N hosts: \`-t\` (CPU)"
		for g in $gws; do
			d="$WORK/$g-hosts-$n"
			err ""
			if ! conf "$g" "$d" hosts "$n"; then
				selected start && fail "st$n" "$g"
				selected reload && fail "rl$n" "$g"
				selected check && fail "ck$n" "$g"
				continue
			fi
			if selected check; then
				if v=$(check_cpu "$g" "$d"); then cell "ck$n" "$g" "$v s"
				else fail "ck$n" "$g"; fi
			fi
			selected start || selected reload || continue
			t0=$(now)
			start "$g" "$d" serve
			if ! v=$(wait200 "$GW_PORT" "h$n.example" / "$t0" "$TIMEOUT"); then
				why "$d"; stop
				selected start && fail "st$n" "$g"
				selected reload && fail "rl$n" "$g" "not started"
				continue
			fi
			selected start && cell "st$n" "$g" "$v s"
			if selected reload; then
				m=$((n + 1))
				if "$PYTHON" "$GEN" conf "$g" "$d" hosts "$m" "$GW_PORT" "$UP_PORT"; then
					t0=$(now)
					reload_signal "$g" "$GPID"
					if v=$(wait200 "$GW_PORT" "h$m.example" / "$t0" "$TIMEOUT"); then
						cell "rl$n" "$g" "$v s"
					else why "$d"; fail "rl$n" "$g"; fi
				else fail "rl$n" "$g" "scale_gen.py conf failed"; fi
			fi
			stop
			rm -rf "$d"
		done
	done
fi

if selected mem; then
	a=$(smallest "$MEM_HOSTS")
	b=$(largest "$MEM_HOSTS")
	key=mem
	row "$key" "memory per host route ($(commas "$a") to $(commas "$b"))"
	for g in $gws; do
		ok=1
		declare -A M=()
		for n in $a $b; do
			d="$WORK/$g-mem-$n"
			err ""
			conf "$g" "$d" hosts "$n" || { ok=0; break; }
			t0=$(now)
			start "$g" "$d" serve
			if ! wait200 "$GW_PORT" "h$n.example" / "$t0" "$TIMEOUT" >/dev/null; then
				why "$d"; stop; ok=0; break
			fi
			sleep 0.5
			M[$n]=$(procs_mem "$GPID")
			log "$g: $n hosts: RSS PSS (kB, all its processes): ${M[$n]}"
			DETAILS+=("$g, $n hosts: RSS ${M[$n]% *} kB, PSS ${M[$n]#* } kB (all its processes)")
			stop
			rm -rf "$d"
		done
		if [ "$ok" = 1 ]; then
			v=$(awk -v a="${M[$a]% *}" -v b="${M[$b]% *}" -v n=$((b - a)) \
				'BEGIN { printf "%d", (b - a) * 1024 / n }')
			cell "$key" "$g" "$(commas "$v") B"
			v=$(awk -v a="${M[$a]#* }" -v b="${M[$b]#* }" -v n=$((b - a)) \
				'BEGIN { printf "%d", (b - a) * 1024 / n }')
			DETAILS+=("$g: memory per host route counted by PSS (shared pages divided among the processes): $(commas "$v") B")
		else fail "$key" "$g"; fi
		unset M
	done
fi

certs_dir() {  # n: the cached certificates (made once)
	local c="$CACHE/certs-$1"
	"$PYTHON" "$GEN" certs "$1" "$c" >&2 || return 1
	echo "$c"
}

if selected icount-tls; then
	lo=$(smallest "$CERTS")
	declare -A TLSIR=()
	for n in $(list "$CERTS"); do
		[ "$n" = "$lo" ] || row "tls$n" "full TLS handshake + a request, last of $(commas "$n") names / of $(commas "$lo")"
	done
	for n in $(list "$CERTS"); do
		cd_=$(certs_dir "$n") || die "certificates could not be made in $CACHE/certs-$n"
		for g in $gws; do
			[ "$g" != sluice-file ] || { TLSIR["$n|$g"]="n/a"; continue; }
			if v=$(icount "$g" certs "$n" "c$n.example" / "$cd_" "c$n.example"); then
				TLSIR["$n|$g"]=$v
				DETAILS+=("$g: full handshake + a request, last of $n names: $(commas "$v") instructions")
				log "$g: $n certificates: $v instructions per handshake and request"
			else
				ERR=$(cat "$WORK/err" 2>/dev/null)
				TLSIR["$n|$g"]="failed: $ERR"
				log "$g: $n certificates: failed: $ERR"
			fi
		done
	done
	for n in $(list "$CERTS"); do
		[ "$n" = "$lo" ] && continue
		for g in $gws; do
			x=${TLSIR["$n|$g"]}
			y=${TLSIR["$lo|$g"]}
			case "$x$y" in
			n/a*) cell "tls$n" "$g" "n/a" ;;
			*failed*) fail "tls$n" "$g" "${x#failed: }${y#failed: }" ;;
			*) cell "tls$n" "$g" "$(awk -v x="$x" -v y="$y" 'BEGIN { printf "%.2fx", x / y }')" ;;
			esac
		done
	done
fi

if selected certs; then
	n=$(largest "$CERTS")
	N=$(commas "$n")
	row "cs$n" "$N certificates: start"
	row "cm$n" "$N certificates: RSS"
	row "cr$n" "$N certificates: reload, files unchanged"
	cd_=$(certs_dir "$n") || die "certificates could not be made in $CACHE/certs-$n"
	for g in $gws; do
		d="$WORK/$g-certs-$n"
		err ""
		if [ "$g" = sluice-file ]; then
			cell "cs$n" "$g" "n/a"; cell "cm$n" "$g" "n/a"; continue
		fi
		admin=0
		[ "${g%-acme}" != sluice ] || admin=$ADMIN_PORT
		if ! conf "$g" "$d" certs "$n" "$cd_" "$admin"; then
			fail "cs$n" "$g"; fail "cm$n" "$g"; continue
		fi
		t0=$(now)
		start "$g" "$d" serve
		if ! v=$(wait200 "$GW_PORT" "c$n.example" / "$t0" "$TIMEOUT" "c$n.example"); then
			why "$d"; stop
			fail "cs$n" "$g"; fail "cm$n" "$g" "not started"; continue
		fi
		cell "cs$n" "$g" "$v s"
		sleep 0.5
		m=$(procs_mem "$GPID")
		DETAILS+=("$g, $n certificates: RSS ${m% *} kB, PSS ${m#* } kB (all its processes)")
		cell "cm$n" "$g" "$(awk -v k="${m% *}" 'BEGIN { printf "%.0f MB", k * 1024 / 1e6 }')"
		if [ "${g%-acme}" = sluice ]; then
			t0=$(now)
			kill -HUP "$GPID"
			if v=$("$PYTHON" "$GEN" metric "http://127.0.0.1:$ADMIN_PORT/metrics" \
				sluice_config_generation_applied 2 "$t0" "$TIMEOUT" 2>&1); then
				cell "cr$n" "$g" "$v s"
			else fail "cr$n" "$g" "$v"; fi
		fi
		stop
		rm -rf "$d"
	done
fi

# ---------------------------------------------------------------- table
{
	printf '\n| |'
	for g in $gws; do
		case "$g" in sluice) printf ' sluice |' ;; sluice-file) printf ' sluice, hosts_file |' ;; sluice-acme) printf ' sluice, tls.acme |' ;; nginx) printf ' nginx |' ;; haproxy) printf ' HAProxy |' ;; esac
	done
	printf '\n|---|'
	for g in $gws; do printf -- '--:|'; done
	printf '\n'
	for i in "${!ROWS[@]}"; do
		printf '| %s |' "${LABELS[i]}"
		for g in $gws; do printf ' %s |' "${CELL["${ROWS[i]}|$g"]:-}"; done
		printf '\n'
	done
	printf '\nsluice %s (%s); %s; %s; %s CPUs\n' "$("$SLUICE" -V 2>/dev/null | head -1)" "$SLUICE" \
		"$("$NGINX" -v 2>&1 | head -1)" "$("$HAPROXY" -v 2>/dev/null | head -1 | cut -d' ' -f1-3)" "$(nproc)"
	[ -z "$OTHERS_TXT" ] || printf 'already running: %s\n' "$OTHERS_TXT"
	for l in ${DETAILS[@]+"${DETAILS[@]}"}; do printf -- '- %s\n' "$l"; done
}
