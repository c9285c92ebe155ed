#!/usr/bin/env bash
# contrib/bench/waf.sh -- the WAF (libmodsecurity3 + OWASP CRS, issue 46)
# through sluice and nginx with the ModSecurity connector, one worker each:
# CPU per inspected request, the latency of a route without a WAF while WAF
# routes take half of the requests, the latency of legitimate WAF requests
# beside an attacker with heavy Cookies (issue 63), and instructions per
# request by object.
#
# usage: contrib/bench/waf.sh [--quick] [--rounds N] [--duration SECS]
#            [--mix-duration SECS] [--only LIST] [--gateways LIST]
#            [--threads LIST] [--conns N] [--mix-rate R] [--mix-load F]
#            [--abuse-rate R] [--abuse-legit-rate R] [--abuse-legit get|post]
#            [--abuse-duration SECS] [--abuse-cookies N] [--abuse-args N]
#            [--abuse-timeout SECS] [--sluice-waf YAML]
#            [--count-get N] [--count-post N] [--idle-poll] [--hog]
#            [--out DIR] [--keep]
#
#   --quick            3 s per CPU run, 6 s per mix phase, 8 s per abuse
#                      phase, fewer counted requests (--count-get 60,
#                      --count-post 8)
#   --rounds N         runs per gateway per scenario, alternating
#                      sluice-t1 sluice-t2 nginx, sluice-t1 ... (default 3)
#   --duration SECS    seconds per measured CPU run (default 10)
#   --mix-duration S   seconds per measured phase of waf-mix (default 20)
#   --only LIST        scenarios, comma-separated, from plain, waf-get,
#                      waf-post, waf-mix, waf-mix-post, waf-abuse, count
#                      (default: plain,waf-get,waf-post,waf-mix,count)
#   --gateways LIST    from sluice,nginx,nginx-mt,sluice-je (default
#                      sluice,nginx). nginx-mt: nginx as nginx, plus
#                      "thread_pool bench threads=1" (an idle thread in the
#                      worker), to see what being a multi-threaded process
#                      costs the same work (glibc's malloc takes its locks
#                      and atomic operations only once a process has a
#                      second thread). sluice-je: sluice with jemalloc
#                      (LD_PRELOAD=$JEMALLOC; libmodsecurity spends ~40 % of
#                      its instructions in glibc's malloc and free), as
#                      variants sluice-je-tN. sluice-low: sluice with
#                      "priority: low" in its top-level waf (its WAF
#                      threads at nice +10, as before issue 63; sluice's
#                      default, idle, runs them in SCHED_IDLE with the
#                      guard that raises them when requests wait: the
#                      kernel then preempts them at once when the loop
#                      wakes, where at nice +10 the loop may wait for the
#                      rest of their time slice); variants sluice-low-tN.
#                      (sluice-idle, which moved the threads with chrt
#                      before sluice did it itself, is gone.) HAProxy is
#                      not here: Debian
#                      packages no ModSecurity for it (neither the SPOE
#                      agent nor Coraza's; Debian's "spoa" is a sequence
#                      aligner)
#   --threads LIST     sluice's top-level waf: threads, each a gateway of
#                      its own named sluice-tN (default 1,2)
#   --conns N          wrk connections of waf-get and waf-post (default 8:
#                      a 2 KiB JSON POST takes ~15-20 ms of CPU here, and
#                      sluice answers 503 to a request that waits for its
#                      verdict longer than the route's timeout, 1 s)
#   --mix-rate R       requests per second of each of waf-mix's two
#                      streams (default: from the CPU runs of this
#                      invocation, the rate at which the costlier gateway
#                      would be --mix-load busy; 200 (GET) or 25 (POST)
#                      when they did not run)
#   --mix-load F       that fraction (default 0.5)
#   --abuse-rate R     waf-abuse: the attacker's requests per second
#                      (default 20), each a GET of the WAF route with a
#                      Cookie of --abuse-cookies cookies
#   --abuse-legit-rate R
#                      waf-abuse: the legitimate stream's requests per
#                      second (default 50)
#   --abuse-legit K    waf-abuse: the legitimate stream's request, get (the
#                      legit WAF GET, the default) or post (the 2 KiB JSON
#                      POST: ~15-20 ms of CPU each, so at 50/s it alone
#                      keeps one WAF thread ~85 % busy and its "alone" p99
#                      is already queueing)
#   --abuse-duration S seconds per measured phase of waf-abuse (default 20)
#   --abuse-cookies N  cookies in the attacker's Cookie field, "c0=v0;
#                      c1=v1; ..." (default 2500: 30,278 bytes, the field
#                      of doc/operations.md section 15.7; 0.2-0.5 s of the
#                      CRS's time each on the 2-CPU machine of session 42)
#   --abuse-args N     waf-abuse: the attacker's GET has a query of N
#                      arguments instead (a0=0&a1=1&...&a10=0&...: a
#                      one-digit value, so that 1,000 of them, 6.9 KB,
#                      stay under max_uri_bytes, 8 KiB; 1,000 is within
#                      sluice's default waf limits.args, 1,000: an
#                      attacker the limits let through, for the budget
#                      and the fair queue to meet; 80 ms of the CRS each
#                      on the machine of session 42); with it the Cookie
#                      is left out unless --abuse-cookies is given too
#   --sluice-waf YAML  more keys for sluice's top-level waf, as YAML flow
#                      mapping entries ("client_budget: 200ms, guard:
#                      20ms"), every sluice variant
#   --abuse-timeout S  waf-abuse: the generators' client timeout (default 5):
#                      a request unanswered that long is given up, counted
#                      as a timeout, and in the percentiles as infinitely
#                      slow
#   --count-get N      count: N and 2N requests for plain and waf-get
#                      (default 300)
#   --count-post N     count: N and 2N requests for waf-post (default 20;
#                      one POST is ~110 million instructions, ~2 s under
#                      callgrind)
#   --idle-poll        hold /dev/cpu_dma_latency at 0 for the whole run, so
#                      that idle CPUs poll instead of halting (as run.sh's
#                      --idle-poll; needs root). In a virtual machine a
#                      halted vCPU can take a millisecond or more to wake,
#                      which then dominates waf-mix's "alone" phase (the
#                      gateway ~5 % busy) but not its "mixed" one (busy)
#   --hog              during both phases of waf-mix, a busy loop at nice 0
#                      on GW_CPU (another job on the gateway's CPU, as on a
#                      shared machine): the gateway then has about half of
#                      the CPU, and sluice's WAF threads, at nice +10, about
#                      a tenth of it (SCHED_IDLE: almost nothing), so use a
#                      low --mix-rate. It shows the loop waiting for a
#                      preempted WAF thread: at commit 1b2567d the thread
#                      writes the loop's eventfd while it holds the pool's
#                      mutex (src/core/tpool.c, tpool_main), the loop wakes,
#                      preempts it and blocks in tpool_reap on that mutex
#                      until the thread gets the CPU back
#   --out DIR          where waf.md and the CSV files go (default: a new
#                      directory /tmp/sluice-waf-bench-out.XXXXXX)
#   --keep             keep the scratch directory (configs, logs, dumps)
#
# Scenarios (each runs every gateway, in rounds, alternating; a fresh
# gateway for every run):
#   plain     GET /plain (the route without a WAF), wrk with 64
#             connections: CPU per request, for reference
#   waf-get   GET /waf/pay?id=123&page=2&sort=desc, legit (no rule
#             matches it), wrk with --conns connections: CPU per request
#   waf-post  POST /waf/pay with waf_payment.json, a legit 2 KiB payment
#             (application/json: the JSON body processor, ~80 ARGS), wrk
#             with waf_post.lua and --conns connections: CPU per request
#   waf-mix   two open-loop generators (waf_openloop.py: Poisson arrivals,
#             a request is sent when due whatever the answers do, latency
#             from the write of the request to the answer's last byte),
#             each at --mix-rate requests per second: GET /plain, and GET
#             /waf/pay?... Two phases on the same gateway: "alone" (the
#             /plain stream only) and "mixed" (both; WAF requests are half
#             of them), the /plain stream with the same seed, so the same
#             arrivals, in both; their order alternates by round. Reported:
#             the /plain stream's p99 in each, and p99(mixed)/p99(alone).
#             (h2load --rps was tried: nghttp2 1.52's h2load does not end
#             a -D run with --rps here; wrk has no fixed rate.)
#   waf-mix-post  the same with the 2 KiB JSON POSTs as the WAF stream
#   waf-hog   issue 77, defect 10: waf-mix-post with --hog always (a busy
#             loop at nice 0 on GW_CPU, sluice's own cgroup, in both
#             phases), each stream at --mix-rate, 23/s by default (the
#             POSTs a quarter of the CPU). Reported as waf-mix: the /plain
#             stream's p99 beside the busy loop alone and beside the busy
#             loop and the WAF POSTs, and the WAF POSTs' p50, p99 and
#             non-2xx (the 503s of starved WAF threads). Issue 77's
#             attacker (defect 9) is waf-abuse with --abuse-args 1000
#             --abuse-legit post (50/s) --abuse-rate 20
#   waf-abuse the first target of issue 63: two open-loop streams to the
#             WAF route of the same gateway. The legitimate one, the legit
#             GET (--abuse-legit) at --abuse-legit-rate from 127.0.0.1; the
#             attacker's, GETs of the WAF route with a Cookie field of
#             --abuse-cookies short cookies (~30 KB: 0.2-0.5 s of the CRS
#             each) at --abuse-rate, from 127.0.0.2 (another client
#             address on the loopback, for a future per-client budget to
#             tell apart). Two phases, "alone" (the legitimate stream only)
#             and "attacked" (both; the attacker starts first and ends
#             last), each on a fresh gateway (nginx runs the rules on its
#             event loop and would still be working through the attack's
#             backlog after it), the legitimate stream with the same seed
#             in both; their order alternates by round. Both generators
#             give up a request after --abuse-timeout and count it.
#             Reported: the legitimate stream's p50 and p99 in each phase
#             (a timed-out request counted as infinitely slow), p99
#             attacked / alone, its 503s, other non-2xx and timeouts, and
#             the attacker's statuses and timeouts. The target (issue 63):
#             attacked/alone at most 2, no legitimate 503 or timeout. The
#             first round also times three attacker requests alone, one
#             at a time, on each gateway (checks in waf-meta.txt)
#   count     instructions per request, by callgrind (valgrind): each
#             gateway under --tool=callgrind --separate-threads=no (sluice:
#             every thread; nginx: master_process off, one process), the
#             route's WAF timeout raised to 30 s for sluice (everything
#             runs ~50x slower), and its waf.guard to 2,500 ms (50x its
#             50 ms, or the guard's timer would fire 50x as often a
#             request as at full speed); sequential keep-alive requests on one
#             connection: a warm-up and a dump thrown away (callgrind's
#             zeroing misses the costs of code that ran before it and was
#             never dumped), then for each of plain, waf-get and waf-post N
#             and 2N requests, each between a zeroing and a dump of the
#             counters; the difference over N is one request's cost. Split
#             by object (the self cost of each binary or library) and, by
#             the call graph, what runs inside libmodsecurity (the
#             inclusive cost of every call from the gateway's own code into
#             it, by API function; that includes the libstdc++, libc,
#             libpcre2 and libyajl work it does) against the rest
#             (waf_cgsplit.py). Needs valgrind.
#
# Configured alike: one listener on 127.0.0.1:GW_PORT with two routes,
# /waf/ with the WAF and the rest without, to one upstream (keep-alive,
# pool of 256), no access log, one worker (sluice workers: 1; nginx
# worker_processes 1); the same rules: /etc/modsecurity/crs/crs-setup.conf
# then /usr/share/modsecurity-crs/rules/*.conf (CRS 3.3.4, paranoia 1,
# anomaly threshold 5, blocking), after the same directives: SecRuleEngine
# On, SecRequestBodyAccess On, the body limits sluice sets (1 GiB,
# ProcessPartial), SecResponseBodyAccess Off and the JSON rule 77001;
# nginx also SecAuditEngine Off (sluice runs no logging phase). Heads of
# up to 32 KiB: sluice's max_header_bytes default; nginx
# large_client_header_buffers 4 32k (its default, 8k a line, would refuse
# waf-abuse's Cookie with a 400 before the rules; the buffers are taken
# only by heads that overflow client_header_buffer_size, 1k, so no other
# request here uses them).
#   sluice  waf: { threads: N } at the top; the route's waf: { rules: [...] }
#           (mode block, body_limit 32 KiB: the defaults)
#   nginx   load_module ngx_http_modsecurity_module.so; in location /waf/
#           "modsecurity on" and a modsecurity_rules_file that Includes
#           the directives above and both CRS files. The connector also
#           runs the response-headers and logging phases (3 and 5) on every
#           request; sluice does not inspect responses (count shows what
#           those cost)
# Every request carries Host: pay.example.com, a browser's User-Agent and
# Accept: application/json (with an IP address as Host, CRS rule 920350
# would match every request). The first round checks each gateway: the
# legit GET and POST answer 200, an SQL injection in the query and an XSS
# in the JSON body 403, /plain 200; and, with nginx's error log at info,
# that the legit requests match no rule at all.
# The upstream: nginx, 1 worker, on LOAD_CPU, answering 200 and 97 bytes
# to every request (a POST's body read and dropped).
#
# Where things run: the gateway (all its threads: sluice's WAF threads
# too) on GW_CPU (0) alone; wrk, the generators and the upstream on
# LOAD_CPU (1). CPU per request: utime + stime of the gateway's processes
# (/proc/PID/stat, all threads) over the measured run, over the requests
# wrk completed, as contrib/bench/run.sh does. The "others" column: the
# busy fraction of GW_CPU that was not the gateway (other jobs: noise).
#
# Output: DIR/waf.md (medians, ratios sluice/nginx, the counts),
# DIR/waf-cpu.csv, DIR/waf-mix.csv, DIR/waf-abuse.csv, DIR/waf-count.csv
# (every run), DIR/waf-meta.txt (versions, machine, load, steal, other
# processes).
# Noise: on a shared virtual machine CPU per request moves by +-20 % from
# run to run (host steal, other jobs: see the "others" and steal columns);
# the counts do not move. Typical: contrib/bench/waf.sh (about 25 min), and
# for latency contrib/bench/waf.sh --only waf-mix,waf-mix-post --idle-poll
# (each stream at 200/s for GETs, 25/s for POSTs, when no CPU run precedes),
# and for issue 63's attacker contrib/bench/waf.sh --only waf-abuse
# --threads 1,2 (about 8 min with 3 rounds).
#
# Environment: SLUICE (default ./build-werror/src/sluice of this tree, else
# ./build/src/sluice; copied to the scratch directory at the start), NGINX,
# NGINX_MODSEC (/usr/lib/nginx/modules/ngx_http_modsecurity_module.so), WRK,
# PYTHON, CRS_SETUP, CRS_RULES (the directory of the *.conf), GW_CPU (0),
# LOAD_CPU (1), UP_PORT and GW_PORT (default: the first free ports from
# 19800 and 19900), MAX_SECONDS (5400: the whole run is stopped after this
# long), GW_PRELOAD (a library put in every gateway's LD_PRELOAD, e.g.
# /usr/lib/x86_64-linux-gnu/libjemalloc.so.2: what another malloc does to
# the WAF's cost, for both gateways alike; not for the upstream), JEMALLOC
# (the library of sluice-je, default
# /usr/lib/x86_64-linux-gnu/libjemalloc.so.2, Debian's libjemalloc2).
# Traffic is to 127.0.0.1 only. Everything started here is stopped on exit.
set -euo pipefail
exec </dev/null

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
TOP=$(cd "$HERE/../.." && pwd)

if [ -z "${SLUICE:-}" ]; then
	SLUICE=$TOP/build-werror/src/sluice
	[ -x "$SLUICE" ] || SLUICE=$TOP/build/src/sluice
fi
NGINX=${NGINX:-nginx}
NGINX_MODSEC=${NGINX_MODSEC:-/usr/lib/nginx/modules/ngx_http_modsecurity_module.so}
WRK=${WRK:-wrk}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
CRS_SETUP=${CRS_SETUP:-/etc/modsecurity/crs/crs-setup.conf}
CRS_RULES=${CRS_RULES:-/usr/share/modsecurity-crs/rules}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
MAX_SECONDS=${MAX_SECONDS:-5400}
GW_PRELOAD=${GW_PRELOAD:-}
JEMALLOC=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}

DURATION=10
MIX_DURATION=20
WARMUP=1
ROUNDS=3
ONLY="plain,waf-get,waf-post,waf-mix,count"
GATEWAYS="sluice,nginx"
THREADS="1,2"
CONNS=8
PLAIN_CONNS=64
MIX_RATE=""
MIX_LOAD=0.5
ABUSE_RATE=20
ABUSE_LEGIT_RATE=50
ABUSE_LEGIT=get
ABUSE_DURATION=20
ABUSE_COOKIES=2500
ABUSE_ARGS=0
SLUICE_WAF=""
ABUSE_TIMEOUT=5
COUNT_GET=300
COUNT_POST=20
OUT=""
KEEP=0
QUICK=0
IDLE_POLL=0
HOG=0
ARGS="$*"
DURATION_SET=""
MIXD_SET=""
ABUSED_SET=""
CG_SET=""
CP_SET=""

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--duration) DURATION_SET=${2:?}; shift ;;
	--mix-duration) MIXD_SET=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--gateways) GATEWAYS=${2:?}; shift ;;
	--threads) THREADS=${2:?}; shift ;;
	--conns) CONNS=${2:?}; shift ;;
	--mix-rate) MIX_RATE=${2:?}; shift ;;
	--mix-load) MIX_LOAD=${2:?}; shift ;;
	--abuse-rate) ABUSE_RATE=${2:?}; shift ;;
	--abuse-legit-rate) ABUSE_LEGIT_RATE=${2:?}; shift ;;
	--abuse-legit) ABUSE_LEGIT=${2:?}; shift ;;
	--abuse-duration) ABUSED_SET=${2:?}; shift ;;
	--abuse-cookies) ABUSE_COOKIES=${2:?}; COOKIES_SET=1; shift ;;
	--abuse-args) ABUSE_ARGS=${2:?}; shift ;;
	--sluice-waf) SLUICE_WAF=${2:?}; shift ;;
	--abuse-timeout) ABUSE_TIMEOUT=${2:?}; shift ;;
	--count-get) CG_SET=${2:?}; shift ;;
	--count-post) CP_SET=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--idle-poll) IDLE_POLL=1 ;;
	--hog) HOG=1 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then DURATION=3; MIX_DURATION=6; ABUSE_DURATION=8; COUNT_GET=60; COUNT_POST=8; fi
DURATION=${DURATION_SET:-$DURATION}
MIX_DURATION=${MIXD_SET:-$MIX_DURATION}
ABUSE_DURATION=${ABUSED_SET:-$ABUSE_DURATION}
COUNT_GET=${CG_SET:-$COUNT_GET}
COUNT_POST=${CP_SET:-$COUNT_POST}
for v in ROUNDS DURATION MIX_DURATION CONNS COUNT_GET COUNT_POST ABUSE_RATE ABUSE_LEGIT_RATE ABUSE_DURATION ABUSE_COOKIES ABUSE_TIMEOUT; do
	case "${!v}" in ''|*[!0-9]*|0) die "$v wants an integer >= 1 (got '${!v}')" ;; esac
done
case "$ABUSE_ARGS" in ''|*[!0-9]*) die "--abuse-args wants an integer (got '$ABUSE_ARGS')" ;; esac
case "$MIX_RATE" in ''|*[!0-9]*) [ -z "$MIX_RATE" ] || die "--mix-rate wants an integer" ;; esac
case "$MIX_LOAD" in 0.[0-9]*|1|1.0) ;; *) die "--mix-load wants a fraction, 0.05 to 1" ;; esac
case "$ABUSE_LEGIT" in get|post) ;; *) die "--abuse-legit wants get or post" ;; esac
IFS=, read -r -a SCENARIOS <<<"$ONLY"
for s in "${SCENARIOS[@]}"; do
	case "$s" in plain|waf-get|waf-post|waf-mix|waf-mix-post|waf-hog|waf-abuse|count) ;; *) die "unknown scenario $s" ;; esac
done
IFS=, read -r -a GWL <<<"$GATEWAYS"
IFS=, read -r -a THL <<<"$THREADS"
VARIANTS=()
for g in "${GWL[@]}"; do
	case "$g" in
	sluice|sluice-je|sluice-low)
		for t in "${THL[@]}"; do
			case "$t" in ''|*[!0-9]*|0) die "--threads wants integers from 1 to 64" ;; esac
			[ "$t" -le 64 ] || die "--threads wants integers from 1 to 64"
			VARIANTS+=("$g-t$t")
		done ;;
	nginx|nginx-mt) VARIANTS+=("$g") ;;
	haproxy) die "HAProxy has no ModSecurity in Debian (no SPOE agent for ModSecurity or Coraza is packaged): not measured here" ;;
	*) die "unknown gateway $g" ;;
	esac
done
[ "${#VARIANTS[@]}" -gt 0 ] || die "no gateway to measure"

# ---------------------------------------------------------------- checks
for t in "$NGINX" "$WRK" "$PYTHON" taskset curl ss pgrep; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install nginx libnginx-mod-http-modsecurity wrk python3 curl procps iproute2)"
done
[ -x "$SLUICE" ] || die "sluice binary $SLUICE not found (set SLUICE=...)"
[ -z "$GW_PRELOAD" ] || [ -f "$GW_PRELOAD" ] || die "GW_PRELOAD: $GW_PRELOAD not found"
case ",$GATEWAYS," in *,sluice-je,*)
	[ -f "$JEMALLOC" ] || die "$JEMALLOC not found (apt-get install libjemalloc2), needed by sluice-je" ;;
esac
case ",$GATEWAYS," in *,nginx,*|*,nginx-mt,*)
	[ -f "$NGINX_MODSEC" ] || die "$NGINX_MODSEC not found (apt-get install libnginx-mod-http-modsecurity)" ;;
esac
[ -f "$CRS_SETUP" ] || die "$CRS_SETUP not found (apt-get install modsecurity-crs)"
ls "$CRS_RULES"/*.conf >/dev/null 2>&1 || die "no $CRS_RULES/*.conf (apt-get install modsecurity-crs)"
case ",$ONLY," in *,count,*)
	for t in valgrind callgrind_control; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install valgrind), needed by count (leave it out with --only)"
	done ;;
esac
[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPUs"
[ -f "$HERE/waf_payment.json" ] && [ -f "$HERE/waf_post.lua" ] && [ -f "$HERE/waf_openloop.py" ] &&
	[ -f "$HERE/waf_cgsplit.py" ] && [ -f "$HERE/waf_report.py" ] || die "helpers missing from $HERE (waf_*)"

if [ -n "${UP_PORT:-}" ]; then port_free "$UP_PORT" || die "port $UP_PORT is already in use"
else UP_PORT=$(pick_port 19800); fi
if [ -n "${GW_PORT:-}" ]; then port_free "$GW_PORT" || die "port $GW_PORT is already in use"
else GW_PORT=$(pick_port 19900); fi
[ "$UP_PORT" != "$GW_PORT" ] || die "UP_PORT and GW_PORT are the same"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

others_running nginx haproxy sluice wrk h2load valgrind memcheck-amd64- callgrind-amd64

out_dir sluice-waf-bench-out
scratch_dir sluice-waf-bench
# the binary under test, copied: the tree's owner may rebuild it meanwhile
cp "$SLUICE" "$WORK/sluice"
SLUICE_ORIG=$SLUICE
SLUICE_MTIME=$(date -u -r "$SLUICE" '+%Y-%m-%d %H:%M:%S UTC')
TREE_HEAD=$(git -C "$(dirname "$SLUICE")" rev-parse --short HEAD 2>/dev/null || true)
SLUICE=$WORK/sluice
watchdog_start "$MAX_SECONDS"

# ---------------------------------------------------------------- requests
HOST_H="Host: pay.example.com"
UA_H="User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ACCEPT_H="Accept: application/json"
GET_PATH="/waf/pay?id=123&page=2&sort=desc"
POST_PATH="/waf/pay"
# the attacker's target: the legit GET's, or a query of --abuse-args
# arguments (without the Cookie field unless --abuse-cookies said)
ABUSE_PATH=$GET_PATH
if [ "$ABUSE_ARGS" -gt 0 ]; then
	ABUSE_PATH="/waf/pay?$("$PYTHON" -c 'import sys; print("&".join("a%d=%d" % (i, i % 10) for i in range(int(sys.argv[1]))))' "$ABUSE_ARGS")"
	[ -n "${COOKIES_SET:-}" ] || ABUSE_COOKIES=0
fi
PLAIN_PATH="/plain"
BODY=$HERE/waf_payment.json
export WAF_BODY=$BODY   # read by waf_post.lua
BODY_BYTES=$(wc -c <"$BODY")

# ---------------------------------------------------------------- upstream
UP="$WORK/upstream"
start_upstream() {
	server_dir "$UP"
	chmod 777 "$UP/tmp"
	cat >"$UP/nginx.conf" <<EOF
# bench upstream: one nginx worker, 200 and 97 bytes to every request
$NGINX_USER
worker_processes 1;
daemon off;
pid $UP/nginx.pid;
error_log $UP/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_max_body_size 8m;
    client_body_buffer_size 64k;
    # waf-abuse's heads, ~30 KB, as the gateways forward them
    large_client_header_buffers 4 64k;
$(nginx_temp_paths "$UP/tmp")
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        default_type text/plain;
        # "return" reads and drops a request body, GET or POST alike
        location / { return 200 "sluice bench payload 0123456789abcdefghijklmnopqrstuvwxyz sluice bench payload 0123456789abcdefg\n"; }
    }
}
EOF
	server_start nginx "$UP" "$LOAD_CPU"
	UP_PID=$SERVER_PID
	wait_http "http://127.0.0.1:$UP_PORT/" 10 "$UP_PID" || server_failed "$UP" "upstream nginx did not start"
}

# ---------------------------------------------------------------- gateways
CRS_FILES="$CRS_SETUP, $CRS_RULES/*.conf"
conf_sluice() {  # threads [count] [low]
	local timeout="" guard=""
	# under callgrind everything runs ~50x slower: the route's deadline
	# and the idle class's guard (50 ms) are stretched alike, or the
	# guard would wake ~50x as often a request as it does at full speed
	# (and raise the threads for an inspection of milliseconds)
	[ "${2:-}" = count ] && timeout="
          timeout: 30s" && guard=", guard: 2500ms"
	cat <<EOF
workers: 1
drain_timeout: 1s
log: { level: warn, access: off }
waf: { threads: $1$guard$([ "${3:-}" = low ] && echo ", priority: low")${SLUICE_WAF:+, $SLUICE_WAF} }
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    limits:
      max_body_bytes: 8MiB
    routes:
      - name: waf
        match: { path_prefix: /waf/ }
        cluster: up
        waf:
          rules: [$CRS_FILES]$timeout
      - name: plain
        cluster: up
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF
}

# nginx's rules file: the directives sluice puts before the operator's
# files (src/edge/waf.c, own_rules), audit log off, then the same CRS files
conf_modsec() {
	cat <<EOF
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1073741824
SecRequestBodyNoFilesLimit 1073741824
SecRequestBodyLimitAction ProcessPartial
SecResponseBodyAccess Off
SecAuditEngine Off
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/(?:[a-z0-9.+-]+\+)?json" "id:77001,phase:1,pass,nolog,t:none,t:lowercase,ctl:requestBodyProcessor=JSON"
Include $CRS_SETUP
Include $CRS_RULES/*.conf
EOF
}

conf_nginx() {  # dir [count|check] [mt]
	local master="" level=warn pool=""
	[ "${2:-}" = count ] && master="master_process off;"
	[ "${2:-}" = check ] && level=info
	[ "${3:-}" = mt ] && pool="thread_pool bench threads=1;"
	cat <<EOF
load_module $NGINX_MODSEC;
$NGINX_USER
$master
$pool
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log $level;
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
    # heads of up to 32 KiB, as sluice's max_header_bytes (waf-abuse)
    large_client_header_buffers 4 32k;
$(nginx_temp_paths "$1/tmp")
    upstream u {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
        keepalive_requests 1000000000;
        keepalive_timeout 30s;
    }
    server {
        listen 127.0.0.1:$GW_PORT backlog=4096 reuseport;
        location /waf/ {
            modsecurity on;
            modsecurity_rules_file $1/modsec.conf;
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_max_temp_file_size 0;
            proxy_request_buffering off;
        }
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_max_temp_file_size 0;
            proxy_request_buffering off;
        }
    }
}
EOF
}

start_gateway() {  # variant [count|check]
	local v=$1 mode=${2:-} dir="$WORK/gw-$1${2:+-$2}" vg=() wait_s=20 pre=(env) kind=nginx
	[ -z "$GW_PRELOAD" ] || pre=(env "LD_PRELOAD=$GW_PRELOAD")
	server_dir "$dir"
	if [ "$mode" = count ]; then
		vg=(valgrind --tool=callgrind --separate-threads=no --dump-instr=no
			--callgrind-out-file="$dir/cg.out")
		wait_s=600
	fi
	case "$v" in
	sluice-t*|sluice-je-t*|sluice-low-t*)
		[ "${v#sluice-je}" = "$v" ] || pre=(env "LD_PRELOAD=$JEMALLOC${GW_PRELOAD:+:$GW_PRELOAD}")
		kind=sluice
		conf_sluice "${v##*-t}" "$mode" "$([ "${v#sluice-low}" = "$v" ] || echo low)" >"$dir/sluice.yaml"
		"$SLUICE" -t -c "$dir/sluice.yaml" >"$dir/logs/check" 2>&1 || { cat "$dir/logs/check" >&2; die "sluice -t refused $dir/sluice.yaml"; } ;;
	nginx|nginx-mt)
		conf_modsec >"$dir/modsec.conf"
		conf_nginx "$dir" "$mode" "$([ "$v" = nginx-mt ] && echo mt)" >"$dir/nginx.conf" ;;
	esac
	gw_start "$kind" "$v" "$dir" "$GW_CPU" "${pre[@]}" ${vg[@]+"${vg[@]}"}
	wait_http "http://127.0.0.1:$GW_PORT$PLAIN_PATH" "$wait_s" "$GW_PID" || gw_failed
	gw_procs
}

stop_gateway() {
	local procs=$GW_PROCS p
	gw_stop
	# an nginx worker busy in the rules (waf-abuse) may outlive its master's
	# SIGKILL: it would hold the port (reuseport) and the CPU into the next
	# run
	for p in $procs; do
		if proc_alive "$p"; then
			log "$GW_NAME: pid $p outlived the gateway's stop, killing it"
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	# what the gateways said, less the expected: nginx's start-up notice,
	# the blocks of the check's attacks (sluice's WAF log lines, nginx's
	# "Access denied")
	gw_messages '^$|^==[0-9]+==|ModSecurity-nginx v[0-9.]+ \(rules loaded|"type":"waf","action":"blocked"|ModSecurity: Access denied with code 403|\[info\]|\[notice\]'"$EXPECTED_MORE"
}

# more expected messages, in a scenario that provokes them (waf-abuse:
# sluice's warning for each request without a verdict)
EXPECTED_MORE=""

# The first round's check of each gateway: the WAF route inspects (attacks
# in the query and in the JSON body are blocked), the legit requests pass.
http_code() {  # curl args...: the status
	curl -s -o /dev/null --max-time 10 -w '%{http_code}' -H "$HOST_H" -H "$UA_H" -H "$ACCEPT_H" "$@" || true
}
check_gateway() {  # variant
	local u="http://127.0.0.1:$GW_PORT" got want what line="" bad=0
	for what in get post sqli xss plain; do
		case "$what" in
		get) want=200; got=$(http_code "$u$GET_PATH") ;;
		post) want=200; got=$(http_code -H 'Content-Type: application/json' --data-binary "@$BODY" "$u$POST_PATH") ;;
		sqli) want=403; got=$(http_code "$u/waf/pay?id=1%27%20OR%20%271%27=%271") ;;
		xss) want=403; got=$(http_code -H 'Content-Type: application/json' --data-binary '{"note":"<script>alert(1)</script>"}' "$u$POST_PATH") ;;
		plain) want=200; got=$(http_code "$u$PLAIN_PATH") ;;
		esac
		line="$line $what=$got"
		[ "$got" = "$want" ] || bad=1
	done
	echo "$1$line" >>"$WORK/checks.txt"
	[ "$bad" = 0 ] || die "$1 failed the check (want get=200 post=200 sqli=403 xss=403 plain=200):$line"
	log "$(printf '%-9s check:%s' "$1" "$line")"
}

# Do the legit requests match any rule? nginx with its error log at info
# logs every match ("ModSecurity: Warning."); sluice logs interventions only.
check_no_match() {
	local m
	start_gateway nginx check
	http_code "http://127.0.0.1:$GW_PORT$GET_PATH" >/dev/null
	http_code -H 'Content-Type: application/json' --data-binary "@$BODY" "http://127.0.0.1:$GW_PORT$POST_PATH" >/dev/null
	sleep 0.3
	m=$(grep -c 'ModSecurity: Warning' "$GW_DIR/logs/error.log" || true)
	echo "legit requests: $m rule matches (nginx, error log at info)" >>"$WORK/checks.txt"
	if [ "$m" != 0 ]; then
		log "WARNING: the legit requests match rules: $(grep 'ModSecurity: Warning' "$GW_DIR/logs/error.log" | grep -o '\[id "[0-9]*"\]' | sort -u | paste -sd ' ')"
	else
		log "check: the legit GET and POST match no rule (nginx's error log at info)"
	fi
	: >"$GW_DIR/logs/error.log"
	stop_gateway
}

# ---------------------------------------------------------------- CPU
snapshot() {  # utime stime of the gateway's processes (ticks), then user nice
	#           system idle iowait irq softirq steal of GW_CPU and of LOAD_CPU
	local p u=0 s=0 a b
	for p in $GW_PROCS; do
		[ -r "/proc/$p/stat" ] || continue
		read -r a b <<<"$(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12, $13 }')"
		u=$((u + a))
		s=$((s + b))
	done
	echo "$u $s $(awk -v a="cpu$GW_CPU" -v b="cpu$LOAD_CPU" '
		$1 == a { x = $2 " " $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 }
		$1 == b { y = $2 " " $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 }
		END { print x, y }' /proc/stat)"
}

# two snapshots, requests, seconds -> user_ticks sys_ticks cpu_us_per_req
# gw_util gw_cpu_busy load_cpu_busy others steal
cpu_figures() {
	printf '%s\n%s\n' "$1" "$2" | awk -v hz="$CLK_TCK" -v n="$3" -v d="$4" '
		NR == 1 { for (i = 1; i <= 18; i++) a[i] = $i }
		NR == 2 { for (i = 1; i <= 18; i++) b[i] = $i - a[i] }
		END {
			ta = 0; for (i = 3; i <= 10; i++) ta += b[i]
			tb = 0; for (i = 11; i <= 18; i++) tb += b[i]
			us = 1e6 / hz / (n > 0 ? n : 1)
			busy = ta ? (ta - b[6] - b[7]) / ta : 0
			util = (b[1] + b[2]) / hz / d
			others = busy - util; if (others < 0) others = 0
			printf "%d %d %.2f %.3f %.3f %.3f %.3f %.4f\n", b[1], b[2],
				(b[1] + b[2]) * us, util, busy,
				tb ? (tb - b[14] - b[15]) / tb : 0, others,
				(ta + tb) ? (b[10] + b[18]) / (ta + tb) : 0
		}'
}
CLK_TCK=$(getconf CLK_TCK)

wrk_cmd() {  # kind conns seconds
	local a=(taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$2" -d"$3s" --latency -H "$HOST_H" -H "$UA_H" -H "$ACCEPT_H")
	case "$1" in
	plain) a+=("http://127.0.0.1:$GW_PORT$PLAIN_PATH") ;;
	get) a+=("http://127.0.0.1:$GW_PORT$GET_PATH") ;;
	post) a+=(-s "$HERE/waf_post.lua" "http://127.0.0.1:$GW_PORT$POST_PATH") ;;
	esac
	printf '%q ' "${a[@]}"
}

CPU_CSV="$OUT/waf-cpu.csv"
echo "scenario,round,gateway,conns,duration_s,requests,rps,p50_ms,p99_ms,socket_errors,err_connect,err_read,err_write,err_timeout,non2xx,cpu_user_ticks,cpu_sys_ticks,cpu_us_per_req,gw_util,gw_cpu_busy,load_cpu_busy,others_on_gw_cpu,steal" >"$CPU_CSV"

run_cpu() {  # scenario variant round
	local sc=$1 v=$2 r=$3 kind conns out cmd s0 s1 w c
	case "$sc" in
	plain) kind=plain; conns=$PLAIN_CONNS ;;
	waf-get) kind=get; conns=$CONNS ;;
	waf-post) kind=post; conns=$CONNS ;;
	esac
	start_gateway "$v"
	cmd=$(wrk_cmd "$kind" "$conns" "$WARMUP")
	eval "timeout 60 $cmd" >/dev/null 2>&1 || log "warm-up of $v/$sc failed"
	out="$WORK/wrk-$sc-$v-$r.txt"
	cmd=$(wrk_cmd "$kind" "$conns" "$DURATION")
	echo "$cmd" >"$out.cmd"
	s0=$(snapshot)
	eval "timeout $((DURATION + 60)) $cmd" >"$out" 2>&1 || log "wrk failed for $v/$sc: $(tail -n 2 "$out")"
	s1=$(snapshot)
	stop_gateway
	w=$("$PYTHON" "$HERE/report.py" parse-wrk "$out") || w="0 0 nan nan 0 0 0 0 0 0"
	read -r req rps p50 p99 serr ec er ew et non2xx <<<"$w"
	c=$(cpu_figures "$s0" "$s1" "$req" "$DURATION")
	read -r _ _ cpu_us util gwb ldb oth steal <<<"$c"
	echo "$sc,$r,$v,$conns,$DURATION,${w// /,},${c// /,}" >>"$CPU_CSV"
	log "$(printf '%-8s %-9s r%d: %7.0f req/s  p50 %7.2f  p99 %7.2f ms  %8.2f us CPU/req  (gateway %.2f; CPU %s %.2f busy, others %.2f; CPU %s %.2f; steal %.3f)  errors %s + %s non-2xx' \
		"$sc" "$v" "$r" "$rps" "$p50" "$p99" "$cpu_us" "$util" "$GW_CPU" "$gwb" "$oth" "$LOAD_CPU" "$ldb" "$steal" "$serr" "$non2xx")"
	[ "$serr" = 0 ] && [ "$non2xx" = 0 ] || log "WARNING: $v/$sc r$r: $serr socket errors, $non2xx answers other than 2xx"
}

# ---------------------------------------------------------------- mix
MIX_CSV="$OUT/waf-mix.csv"
echo "scenario,round,gateway,rate,phase,plain_n,plain_p50_us,plain_p90_us,plain_p99_us,plain_p999_us,plain_errors,plain_non2xx,plain_late_p99_us,waf_n,waf_p50_us,waf_p99_us,waf_errors,waf_non2xx,gw_util,others_on_gw_cpu,steal" >"$MIX_CSV"

gen() {  # kind rate seconds warmup seed out [args...]: one open-loop
	#      generator, in the background, with those further arguments
	local a=(taskset -c "$LOAD_CPU" "$PYTHON" "$HERE/waf_openloop.py" --port "$GW_PORT"
		--rate "$2" --duration "$3" --warmup "$4" --seed "$5"
		--header "$HOST_H" --header "$UA_H" --header "$ACCEPT_H")
	case "$1" in
	plain) a+=(--path "$PLAIN_PATH") ;;
	get) a+=(--path "$GET_PATH") ;;
	post) a+=(--path "$POST_PATH" --method POST --body-file "$BODY" --header "Content-Type: application/json") ;;
	abuse) a+=(--path "$ABUSE_PATH" --cookies "$ABUSE_COOKIES" --source "$ABUSE_SRC") ;;
	esac
	local o=$6
	shift 6
	a+=("$@")
	"${a[@]}" >"$o" 2>&1 &
	GEN_PID=$!
	register_pid "$GEN_PID"
}

result_field() {  # file name: a field of the RESULT line
	sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$1" | head -n 1
}

mix_phase() {  # scenario variant round phase rate wkind
	local sc=$1 v=$2 r=$3 ph=$4 rate=$5 wk=$6 po="$WORK/mix-$1-$2-$3-$4-plain.txt" wo="$WORK/mix-$1-$2-$3-$4-waf.txt" s0 s1 c wpid="" ppid
	: >"$wo"
	if [ "$ph" = mixed ]; then
		# the WAF stream starts first and ends last: it covers the whole window
		gen "$wk" "$rate" $((MIX_DURATION + 2)) 0.5 $((1000 + r)) "$wo"
		wpid=$GEN_PID
	fi
	# the /plain stream: the same seed in both phases, so the same arrivals
	gen plain "$rate" "$MIX_DURATION" 1 $((100 + r)) "$po"
	ppid=$GEN_PID
	sleep 1
	s0=$(snapshot)
	wait "$ppid" || log "the /plain generator failed: $(tail -n 2 "$po")"
	s1=$(snapshot)
	forget_pid "$ppid"
	if [ -n "$wpid" ]; then
		wait "$wpid" || log "the WAF generator failed: $(tail -n 2 "$wo")"
		forget_pid "$wpid"
	fi
	# gateway utilisation over the /plain stream's window (its requests are
	# not the only ones: no per-request figure here)
	c=$(cpu_figures "$s0" "$s1" 1 "$MIX_DURATION")
	read -r _ _ _ util _ _ oth steal <<<"$c"
	local pn p50 p90 p99 p999 pe pn2 plate wn w50 w99 we wn2
	pn=$(result_field "$po" done); p50=$(result_field "$po" p50_us); p90=$(result_field "$po" p90_us)
	p99=$(result_field "$po" p99_us); p999=$(result_field "$po" p999_us); pe=$(result_field "$po" errors)
	pn2=$(result_field "$po" non2xx); plate=$(result_field "$po" late_p99_us)
	wn=$(result_field "$wo" done); w50=$(result_field "$wo" p50_us); w99=$(result_field "$wo" p99_us)
	we=$(result_field "$wo" errors); wn2=$(result_field "$wo" non2xx)
	echo "$sc,$r,$v,$rate,$ph,${pn:-0},${p50:-nan},${p90:-nan},${p99:-nan},${p999:-nan},${pe:-0},${pn2:-0},${plate:-nan},${wn:-0},${w50:-nan},${w99:-nan},${we:-0},${wn2:-0},$util,$oth,$steal" >>"$MIX_CSV"
	log "$(printf '%-12s %-9s r%d %-5s: /plain at %s/s: p50 %6s p99 %7s p99.9 %7s us (%s done, %s errors, %s non-2xx)%s  gateway %.2f busy, others %.2f' \
		"$sc" "$v" "$r" "$ph" "$rate" "${p50:-?}" "${p99:-?}" "${p999:-?}" "${pn:-?}" "${pe:-?}" "${pn2:-?}" \
		"$([ "$ph" = mixed ] && printf '; WAF %s at %s/s: p50 %s p99 %s us (%s errors, %s non-2xx)' "$wk" "$rate" "${w50:-?}" "${w99:-?}" "${we:-?}" "${wn2:-?}")" \
		"$util" "$oth")"
	[ "${pe:-0}" = 0 ] && [ "${pn2:-0}" = 0 ] && [ "${we:-0}" = 0 ] && [ "${wn2:-0}" = 0 ] ||
		log "WARNING: $v/$sc r$r $ph: errors or answers other than 2xx"
}

run_mix() {  # scenario variant round rate
	local sc=$1 v=$2 r=$3 rate=$4 wk=get cmd hog=""
	[ "$sc" = waf-mix-post ] || [ "$sc" = waf-hog ] && wk=post
	start_gateway "$v"
	if [ "$HOG" = 1 ] || [ "$sc" = waf-hog ]; then
		taskset -c "$GW_CPU" nice -n 0 sh -c 'while :; do :; done' &
		hog=$!
		register_pid "$hog"
	fi
	# warm-up: both routes, closed loop, 1 s each
	cmd=$(wrk_cmd plain 4 "$WARMUP"); eval "timeout 60 $cmd" >/dev/null 2>&1 || true
	cmd=$(wrk_cmd "$wk" 4 "$WARMUP"); eval "timeout 60 $cmd" >/dev/null 2>&1 || true
	if [ $((r % 2)) = 1 ]; then
		mix_phase "$sc" "$v" "$r" alone "$rate" "$wk"
		mix_phase "$sc" "$v" "$r" mixed "$rate" "$wk"
	else
		mix_phase "$sc" "$v" "$r" mixed "$rate" "$wk"
		mix_phase "$sc" "$v" "$r" alone "$rate" "$wk"
	fi
	if [ -n "$hog" ]; then stop_pid "$hog"; fi
	stop_gateway
}

# the rate of each stream: the costlier gateway --mix-load busy, by the CPU
# figures of this run (medians), or a default
mix_rate() {  # scenario
	local sc=$1 wsc=waf-get def=200
	[ "$sc" = waf-mix-post ] && { wsc=waf-post; def=25; }
	if [ -n "$MIX_RATE" ]; then echo "$MIX_RATE"; return; fi
	"$PYTHON" - "$CPU_CSV" "$wsc" "$MIX_LOAD" "$def" <<'EOF'
import csv, statistics, sys
path, wsc, load, default = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(path)))
def worst(sc):
    by = {}
    for r in rows:
        if r["scenario"] == sc and float(r["cpu_us_per_req"]) > 0:
            by.setdefault(r["gateway"], []).append(float(r["cpu_us_per_req"]))
    return max(statistics.median(v) for v in by.values()) if by else None
w, p = worst(wsc), worst("plain")
if w is None:
    print(default)
else:
    rate = load * 1e6 / (w + (p if p is not None else 40.0))
    print(max(5, int(rate // 5 * 5)))
EOF
}

# ---------------------------------------------------------------- abuse
# issue 63: an attacker with heavy Cookie fields beside legitimate WAF traffic
ABUSE_SRC=127.0.0.2
ABUSE_CSV="$OUT/waf-abuse.csv"
echo "scenario,round,gateway,legit_kind,legit_rate,abuse_rate,abuse_cookies,timeout_s,phase,legit_counted,legit_done,legit_p50_us,legit_p90_us,legit_p99_us,legit_max_us,legit_timeouts,legit_errors,legit_503,legit_other_non2xx,legit_statuses,abuse_counted,abuse_p50_us,abuse_timeouts,abuse_errors,abuse_statuses,gw_util,others_on_gw_cpu,steal" >"$ABUSE_CSV"

# statuses "200:950,503:50" -> the count of one, or of the non-2xx less 503
status_n() {  # statuses code|other
	echo "$1" | tr ',' '\n' | awk -F: -v w="$2" '
		NF == 2 && (w == "other" ? ($1 < 200 || $1 > 299) && $1 != 503 : $1 == w) { n += $2 }
		END { print n + 0 }'
}

# three attacker requests alone, one after the other, on a fresh gateway:
# their statuses and times
abuse_check() {  # variant
	local hf="$WORK/abuse-cookie.txt" got="" i
	[ -s "$hf" ] || "$PYTHON" -c 'import sys; n = int(sys.argv[1]); print("Cookie: " + "; ".join("c%d=v%d" % (i, i) for i in range(n)) if n else "X-Abuse: 1")' \
		"$ABUSE_COOKIES" >"$hf"
	start_gateway "$1"
	http_code "http://127.0.0.1:$GW_PORT$GET_PATH" >/dev/null
	for i in 1 2 3; do
		got="$got${got:+, }$(curl -s -o /dev/null --max-time 30 --interface "$ABUSE_SRC" -w '%{http_code} in %{time_total} s' \
			-H "$HOST_H" -H "$UA_H" -H "$ACCEPT_H" -H "@$hf" "http://127.0.0.1:$GW_PORT$ABUSE_PATH" || true)"
	done
	stop_gateway
	echo "$1 attacker requests alone ($ABUSE_COOKIES cookies, a field of $(($(wc -c <"$hf") - 1)) bytes; $ABUSE_ARGS query arguments): $got" >>"$WORK/checks.txt"
	log "$(printf '%-9s attacker requests alone, one at a time: %s' "$1" "$got")"
}

abuse_phase() {  # variant round phase
	local v=$1 r=$2 ph=$3 lo="$WORK/abuse-$1-$2-$3-legit.txt" ao="$WORK/abuse-$1-$2-$3-attack.txt"
	local cmd s0 s1 t0 t1 c apid="" lpid common
	: >"$ao"
	start_gateway "$v"
	# warm-up: the legitimate request, closed loop, 1 s (the first
	# inspection makes sluice's WAF threads)
	cmd=$(wrk_cmd "$ABUSE_LEGIT" 4 "$WARMUP"); eval "timeout 60 $cmd" >/dev/null 2>&1 || true
	common=(--timeout "$ABUSE_TIMEOUT" --max-conns 1024)
	if [ "$ph" = attacked ]; then
		# the attacker starts first and ends last: it covers the whole window
		gen abuse "$ABUSE_RATE" $((ABUSE_DURATION + 2)) 0.5 $((2000 + r)) "$ao" "${common[@]}"
		apid=$GEN_PID
	fi
	# the legitimate stream: the same seed in both phases, the same arrivals
	gen "$ABUSE_LEGIT" "$ABUSE_LEGIT_RATE" "$ABUSE_DURATION" 1 $((300 + r)) "$lo" "${common[@]}"
	lpid=$GEN_PID
	sleep 1
	s0=$(snapshot)
	t0=$(date +%s.%N)
	wait "$lpid" || log "the legitimate generator failed: $(tail -n 2 "$lo")"
	s1=$(snapshot)
	t1=$(date +%s.%N)
	forget_pid "$lpid"
	if [ -n "$apid" ]; then
		wait "$apid" || log "the attacker's generator failed: $(tail -n 2 "$ao")"
		forget_pid "$apid"
	fi
	stop_gateway
	# over the window measured (the legitimate stream's, and its wait for
	# the last answers or timeouts)
	c=$(cpu_figures "$s0" "$s1" 1 "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
	read -r _ _ _ util _ _ oth steal <<<"$c"
	local ln ld l50 l90 l99 lmax lto le lst l503 loth an a50 ato ae ast
	ln=$(result_field "$lo" counted); ld=$(result_field "$lo" done)
	l50=$(result_field "$lo" p50_us); l90=$(result_field "$lo" p90_us); l99=$(result_field "$lo" p99_us)
	lmax=$(result_field "$lo" max_us); lto=$(result_field "$lo" timeouts); le=$(result_field "$lo" errors)
	lst=$(result_field "$lo" statuses)
	l503=$(status_n "${lst:-}" 503); loth=$(status_n "${lst:-}" other)
	an=$(result_field "$ao" counted); a50=$(result_field "$ao" p50_us); ato=$(result_field "$ao" timeouts)
	ae=$(result_field "$ao" errors); ast=$(result_field "$ao" statuses)
	echo "waf-abuse,$r,$v,$ABUSE_LEGIT,$ABUSE_LEGIT_RATE,$ABUSE_RATE,$ABUSE_COOKIES,$ABUSE_TIMEOUT,$ph,${ln:-0},${ld:-0},${l50:-nan},${l90:-nan},${l99:-nan},${lmax:-nan},${lto:-0},${le:-0},$l503,$loth,${lst//,//},${an:-0},${a50:-nan},${ato:-0},${ae:-0},${ast//,//},$util,$oth,$steal" >>"$ABUSE_CSV"
	log "$(printf '%-9s r%d %-8s: legit %s at %s/s: p50 %s p99 %s us, %s counted, statuses %s, %s timeouts, %s errors%s  gateway %.2f busy, others %.2f' \
		"$v" "$r" "$ph" "$ABUSE_LEGIT" "$ABUSE_LEGIT_RATE" "${l50:-?}" "${l99:-?}" "${ln:-?}" "${lst:-?}" "${lto:-?}" "${le:-?}" \
		"$([ "$ph" = attacked ] && printf '; attacker at %s/s: statuses %s, %s timeouts, %s errors (of %s)' "$ABUSE_RATE" "${ast:-?}" "${ato:-?}" "${ae:-?}" "${an:-?}")" \
		"$util" "$oth")"
}

run_abuse() {  # variant round
	if [ $(($2 % 2)) = 1 ]; then
		abuse_phase "$1" "$2" alone
		abuse_phase "$1" "$2" attacked
	else
		abuse_phase "$1" "$2" attacked
		abuse_phase "$1" "$2" alone
	fi
}

# ---------------------------------------------------------------- count
COUNT_CSV="$OUT/waf-count.csv"
echo "gateway,request,requests,kind,name,instructions_per_request" >"$COUNT_CSV"

count_load() {  # kind n: sequential requests on one connection, all 2xx
	local a=(taskset -c "$LOAD_CPU" "$PYTHON" "$HERE/waf_openloop.py" --port "$GW_PORT" --count "$2"
		--header "$HOST_H" --header "$UA_H" --header "$ACCEPT_H")
	case "$1" in
	plain) a+=(--path "$PLAIN_PATH") ;;
	get) a+=(--path "$GET_PATH") ;;
	post) a+=(--path "$POST_PATH" --method POST --body-file "$BODY" --header "Content-Type: application/json") ;;
	esac
	"${a[@]}" >"$WORK/count-load.txt" 2>&1 || { cat "$WORK/count-load.txt" >&2; die "$GW_NAME: counted requests failed ($1)"; }
}

# (cg_dump: lib.sh)
run_count() {  # variant
	local v=$1 kind n objs pid dir line
	case "$v" in
	sluice*) objs=sluice ;;
	nginx*) objs=nginx,$(basename "$NGINX_MODSEC") ;;
	esac
	log "count: $v under callgrind (start-up ~10-60 s)"
	start_gateway "$v" count
	pid=$GW_PID
	dir=$GW_DIR
	check_gateway "$v (callgrind)"
	count_load plain 50; count_load get 20; count_load post 3
	# a dump for nothing: callgrind's zeroing does not reach the costs of
	# code that ran before it and was never dumped (waf_cgsplit.py, "stale")
	callgrind_control -d "$pid" >/dev/null 2>&1 || die "callgrind_control -d $pid failed"
	rm -f "$dir"/cg.out.*
	for kind in plain get post; do
		n=$COUNT_GET
		[ "$kind" = post ] && n=$COUNT_POST
		callgrind_control -z "$pid" >/dev/null 2>&1 || die "callgrind_control -z $pid failed"
		count_load "$kind" "$n"
		cg_dump "$kind.n1"
		callgrind_control -z "$pid" >/dev/null 2>&1 || die "callgrind_control -z $pid failed"
		count_load "$kind" $((2 * n))
		cg_dump "$kind.n2"
		"$PYTHON" "$HERE/waf_cgsplit.py" "$n" "$dir/$kind.n1" "$dir/$kind.n2" "$objs" >"$dir/$kind.split" ||
			die "waf_cgsplit.py failed on $dir/$kind.n1"
		while read -r k name ir; do
			echo "$v,$kind,$n,$k,$name,$ir" >>"$COUNT_CSV"
			[ "$k" != stale ] || log "WARNING: count $v $kind: dump $name holds $ir instructions from before its zeroing (left out of the total, not of the split by object)"
		done <"$dir/$kind.split"
		log "$(printf 'count    %-9s %-5s: %s instructions per request, %s of them inside libmodsecurity (%s and %s requests)' \
			"$v" "$kind" "$(awk '$1 == "total" { print $3 }' "$dir/$kind.split")" \
			"$(awk '$1 == "lib" { print $3 }' "$dir/$kind.split")" "$n" $((2 * n)))"
		[ "$KEEP" = 1 ] || rm -f "$dir/$kind.n1" "$dir/$kind.n2"
	done
	stop_gateway
}

# ---------------------------------------------------------------- main
START=$(date +%s)
DATE_START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STAT_START=$(awk '$1 == "cpu" { print $9 + 0, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
if [ "$IDLE_POLL" = 1 ]; then
	[ -w /dev/cpu_dma_latency ] || die "--idle-poll needs root (/dev/cpu_dma_latency)"
	# the request holds while the file is open (here by sleep), and is
	# dropped when that process is stopped at the end
	(exec 3>/dev/cpu_dma_latency && printf 0 >&3 && exec sleep 86400) &
	register_pid $!
fi
log "scratch: $WORK; out: $OUT; CPU runs ${DURATION}s, mix phases ${MIX_DURATION}s, abuse phases ${ABUSE_DURATION}s, $ROUNDS rounds; gateways: ${VARIANTS[*]}; scenarios: $ONLY; ports $UP_PORT (upstream), $GW_PORT"
start_upstream
case ",$GATEWAYS," in *,nginx,*|*,nginx-mt,*) check_no_match ;; esac
CHECKED=" "
for s in "${SCENARIOS[@]}"; do
	[ "$s" = count ] && continue
	rate=""
	case "$s" in
	waf-mix|waf-mix-post)
		rate=$(mix_rate "$s")
		log "$s: each stream at $rate requests/s" ;;
	waf-hog)
		rate=${MIX_RATE:-23}
		log "$s: each stream at $rate requests/s, a busy loop at nice 0 on CPU $GW_CPU" ;;
	waf-abuse)
		log "$s: legitimate $ABUSE_LEGIT at $ABUSE_LEGIT_RATE/s, the attacker (from $ABUSE_SRC) at $ABUSE_RATE/s with $ABUSE_COOKIES cookies and $ABUSE_ARGS query arguments"
		for v in "${VARIANTS[@]}"; do abuse_check "$v"; done
		EXPECTED_MORE='|warn: conn=[0-9]+ request_id=[0-9a-f]+ route=waf: waf: no verdict \((timeout|queue_full)\)$' ;;
	esac
	for r in $(seq "$ROUNDS"); do
		for v in "${VARIANTS[@]}"; do
			if [ "${CHECKED/ $v /}" = "$CHECKED" ]; then
				start_gateway "$v"
				check_gateway "$v"
				stop_gateway
				CHECKED="$CHECKED$v "
			fi
			case "$s" in
			plain|waf-get|waf-post) run_cpu "$s" "$v" "$r" ;;
			waf-mix|waf-mix-post|waf-hog) run_mix "$s" "$v" "$r" "$rate" ;;
			waf-abuse) run_abuse "$v" "$r" ;;
			esac
		done
	done
	EXPECTED_MORE=""
done
case ",$ONLY," in *,count,*)
	# threads do not change what a request executes: each sluice is
	# counted with the first of them
	COUNTED=" "
	for v in "${VARIANTS[@]}"; do
		k=${v%-t[0-9]*}
		[ "${COUNTED/ $k /}" = "$COUNTED" ] || continue
		COUNTED="$COUNTED$k "
		run_count "$v"
	done ;;
esac
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
STAT_END=$(awk '$1 == "cpu" { print $9 + 0, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
ELAPSED=$(( $(date +%s) - START ))

# ---------------------------------------------------------------- report
META="$OUT/waf-meta.txt"
{
	echo "date=$DATE_START"
	echo "command=contrib/bench/waf.sh${ARGS:+ $ARGS}"
	echo "sluice_bin=$SLUICE_ORIG (copied)"
	echo "tree_head_at_start=$TREE_HEAD"
	echo "sluice_bin_mtime=$SLUICE_MTIME"
	echo "sluice=$("$SLUICE" -V 2>&1 | head -n 1)"
	echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
	echo "libmodsecurity=$(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null || echo '?')"
	echo "nginx_connector=$(dpkg-query -W -f='${Version}' libnginx-mod-http-modsecurity 2>/dev/null || echo '?')"
	echo "crs=$(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null || echo '?')"
	echo "wrk=$("$WRK" -v 2>&1 | head -n 1 | sed 's/ Copyright.*//')"
	echo "valgrind=$(valgrind --version 2>/dev/null || echo -)"
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "ncpu=$(nproc --all)"
	echo "kernel=$(uname -sr)"
	if grep -qw hypervisor /proc/cpuinfo; then echo "virt=virtual machine (hypervisor CPU flag)"; else echo "virt=no hypervisor flag"; fi
	echo "load=$LOAD_START at start, $LOAD_END at end"
	# steal over the whole run, all CPUs
	echo "steal=$(printf '%s %s\n' "$STAT_START" "$STAT_END" | awk '{ d = $4 - $2; printf "%.3f", (d > 0 ? ($3 - $1) / d : 0) }')"
	echo "others=$OTHERS_TXT"
	echo "duration=$DURATION"
	echo "mix_duration=$MIX_DURATION"
	echo "rounds=$ROUNDS"
	echo "conns=$CONNS"
	echo "plain_conns=$PLAIN_CONNS"
	echo "mix_load=$MIX_LOAD"
	echo "abuse=legit $ABUSE_LEGIT at $ABUSE_LEGIT_RATE/s; attacker at $ABUSE_RATE/s from $ABUSE_SRC, $ABUSE_COOKIES cookies, $ABUSE_ARGS query arguments; phases ${ABUSE_DURATION}s; client timeout ${ABUSE_TIMEOUT}s"
	echo "count_get=$COUNT_GET"
	echo "count_post=$COUNT_POST"
	echo "body_bytes=$BODY_BYTES"
	echo "elapsed=$ELAPSED"
	echo "idle_poll=$IDLE_POLL"
	echo "hog=$HOG"
	echo "gw_preload=$GW_PRELOAD"
	echo "cpuidle=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || true)"
	echo "gw_cpu=$GW_CPU"
	echo "load_cpu=$LOAD_CPU"
	[ -s "$WORK/checks.txt" ] && sed 's/^/check=/' "$WORK/checks.txt"
} >"$META"
"$PYTHON" "$HERE/waf_report.py" --cpu "$CPU_CSV" --mix "$MIX_CSV" --abuse "$ABUSE_CSV" --count "$COUNT_CSV" \
	--meta "$META" --md "$OUT/waf.md"
if [ -s "$WORK/gateway-messages.log" ]; then
	log "messages from the gateways, most frequent first (numbers masked):"
	{ sed -E 's/[0-9]+/N/g' "$WORK/gateway-messages.log" | cut -c1-300 | sort | uniq -c | sort -rn | head -n 20 >&2; } || true
fi
log "done in ${ELAPSED}s: $OUT/waf.md"
