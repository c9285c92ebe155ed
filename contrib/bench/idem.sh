#!/usr/bin/env bash
# contrib/bench/idem.sh -- what the Idempotency-Key store costs a request:
# a payment POST forwarded plainly, the same POST on a route with
# idempotency: the first time with its key (reserved, forwarded, its answer
# kept) and a retry (answered from the store, the upstream sees nothing).
#
# usage: contrib/bench/idem.sh [--rounds N] [--seconds S] [--only LIST]
#            [--conns C] [--out DIR] [--keep] [--count [--requests N]]
#
#   --rounds N       runs per case, alternating forward first replay
#                    forward ... (default 3)
#   --seconds S      seconds per measured run, after a 1 s warm-up
#                    (default 10)
#   --only LIST      cases, comma-separated (default: all of them, in this
#                    order):
#                      forward  the route without idempotency; the POST
#                               carries an Idempotency-Key anyway: what
#                               plain forwarding costs
#                      first    the route with idempotency: true, every
#                               request a new key: reserved, forwarded,
#                               the answer copied into the store
#                      replay   the same route, the same key and body
#                               every time after one first request: every
#                               measured request a replay, answered by
#                               sluice with Idempotent-Replayed: true
#                      rfirst   first, on a route with store: redis
#                               (one look-up script before forwarding,
#                               one keeping script before the
#                               answer's last bytes go out)
#                      rreplay  replay, on that route (one look-up
#                               script: the sealed answer, opened)
#                    (rfirst and rreplay need redis-server and
#                    redis-cli; without them the default leaves them
#                    out, with a warning)
#   --persist P      the Redis of rfirst and rreplay: none (default: no
#                    RDB, no AOF; what sluice costs, not the disk) or aof
#                    (appendonly yes, appendfsync always: what the docs
#                    require of a store of payments)
#   --conns C        wrk's keep-alive connections (default 16)
#   --out DIR        where idem.md and idem.csv go (default: a new
#                    directory /tmp/sluice-idem-bench-out.XXXXXX, printed at
#                    the end)
#   --keep           keep the scratch directory (configurations, logs, wrk
#                    output, the checks' headers and bodies)
#   --count          count instead of timing: sluice runs under valgrind's
#                    callgrind, and the report gives user-space
#                    instructions per request by object (sluice, libc,
#                    libcrypto...), which do not depend on what else the
#                    machine is doing. One start with both routes: the
#                    checks, 50 requests of each case, a dump thrown away
#                    (callgrind's zeroing misses the costs of code that ran
#                    before it and was never dumped), then per case N and
#                    2N requests, each between a zeroing and a dump: the
#                    difference over N is one request's count, start-up
#                    and warm-up cancelled out. The client is a Python
#                    (standard library) one over 4 keep-alive connections,
#                    one request at a time on each, every key of `first`
#                    new. Needs valgrind. Under a minute with
#                    --requests 2000. Valgrind does not emulate the SHA
#                    extensions (SHA-NI): under it libcrypto hashes with its
#                    portable code, so the count of the idempotent route's
#                    two SHA-256 digests per request (the key's, the
#                    request's) is larger than what the CPU runs natively;
#                    the report also gives each case without libcrypto.
#   --requests N     N of --count (default 1000)
#
# What runs, on 127.0.0.1 (ports: the first free ones from 19740, 19840
# and 19940, or UP_PORT, GW_PORT and ADMIN_PORT):
#   body      a payment's creation, compact JSON made by the script
#             (amount, currency, card token, customer, billing address,
#             metadata): exactly 600 bytes, the same in every run
#   upstream  nginx, 1 worker, on LOAD_CPU: every request (any path, any
#             method) answered by `return 201 '{...}'`, a 300-byte JSON
#             receipt with Content-Type application/json (nginx reads and
#             discards the request body), keep-alive
#   client    wrk (1 thread, --conns keep-alive HTTP/1.1 connections) on
#             LOAD_CPU with a Lua script (written by this one) that POSTs
#             the body with Content-Type: application/json and an
#             Idempotency-Key: the same one every time (forward, replay)
#             or, for first, "PREFIX-THREAD-COUNTER" with a PREFIX new to
#             every wrk run (the warm-up's keys are not the measured
#             run's); it counts the responses carrying
#             Idempotent-Replayed: true
#   redis     (rfirst, rreplay) redis-server on LOAD_CPU, with --persist;
#             emptied (FLUSHALL) before each timed run; its CPU time over
#             each measured run is reported per response too (Redis is
#             work the fleet pays for), and the scripts it ran
#             (INFO commandstats: eval + evalsha calls) per response
#   sluice    workers: 1, one listener with three routes to the same
#             cluster (pool: max_idle 256, no request limit):
#               /forward/  no idempotency
#               /idem/     idempotency: { ttl: 1h } (POST and PATCH; the
#                          caller "auto", none here: no JWT, no client
#                          certificate)
#               /ridem/    idempotency: { store: redis, ttl: 1h }, with
#                          rate_limit_store (timeout 1s) the redis above
#                          and idempotency.key_file a fresh random key
#             (the Redis route and its keys only when an r case runs)
#             and at the top level idempotency: { memory: 1GiB }, so that
#             the store never has to push a kept answer out to make room:
#             an entry counts ~545 bytes against memory (the entry and
#             its answer: status, fields, the 300-byte body), and a run of
#             first (a fresh sluice, warm-up included) keeps
#             (SECONDS + 1) x responses/s of them, 0.25 GB at 40,000/s
#             for 10 s (the default, 64 MiB, would be full after ~120,000
#             keys, 3 s at that rate). The ttl is long enough
#             that no key expires during a run; memory is a bound, not an
#             allocation: the store takes what its entries need. (A small
#             memory would measure eviction too: every new key would free
#             the oldest entry.) An admin listener on ADMIN_PORT gives the
#             store's counters, read before and after each measured run,
#             outside the CPU window.
# sluice runs alone on GW_CPU (0); the upstream, wrk (and Redis) share
# LOAD_CPU (1).
# A fresh sluice for every run (an empty store). Everything started here
# is stopped on exit; the whole run stops itself after MAX_SECONDS.
#
# Checked before each measured run (curl, outside the measured window),
# anything else stops the run: forward answers 201 without
# Idempotent-Replayed, twice with the same key (nothing kept); first
# answers 201 without it for a new key; replay: the seeding request (the
# key of the run's replays) answers 201 without it, and the same request
# again answers 201 with Idempotent-Replayed: true and the same body.
# Checked after: every response of a replay run carried
# Idempotent-Replayed: true, none of a forward or first run did (wrk's Lua
# counts them); the store's counters agree (first: one key reserved and
# one answer stored per response, give or take the requests in flight
# when wrk stopped, none replayed; replay: none reserved; no key let go
# for lack of memory; entries held = answers stored, none pushed out; with
# store: redis, no store error and Redis holds one key per answer stored).
#
# Measured per run: responses (wrk; a socket error or a non-2xx answer is
# reported), responses per second, p50 and p99 latency (wrk --latency),
# sluice's CPU (utime + stime from /proc/PID/stat over the measured run)
# per response in µs, how busy LOAD_CPU was (near 100 %: wrk and the
# upstream, not sluice, set the rate; CPU per response is still
# sluice's).
#
# Output (printed, and in DIR): idem.md (medians per case; the derived
# figures first - forward, what keeping costs, and replay / forward, the
# issue's target: a replay costs less than forwarding), idem.csv (every
# run); with --count idem-count.md and idem-count.csv (by object).
#
# Environment: SLUICE (default: build-werror/src/sluice, else
# build/src/sluice, from the current directory or the source tree), NGINX,
# WRK, CURL, REDIS_SERVER, REDIS_CLI, PYTHON (default /usr/bin/python3),
# GW_CPU (0), LOAD_CPU (1), UP_PORT, GW_PORT, ADMIN_PORT, REDIS_PORT
# (from 20040), MAX_SECONDS (default: from the number of
# runs, at least 600). With IDEM_CG_KEEP=DIR, --count keeps each 2N dump
# as DIR/CASE.cg for callgrind_annotate.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
TOP=$(cd "$HERE/../.." && pwd)
if [ -z "${SLUICE:-}" ]; then
	for s in ./build-werror/src/sluice ./build/src/sluice "$TOP/build-werror/src/sluice" "$TOP/build/src/sluice"; do
		if [ -x "$s" ]; then SLUICE=$s; break; fi
	done
	SLUICE=${SLUICE:-./build/src/sluice}
fi
NGINX=${NGINX:-nginx}
WRK=${WRK:-wrk}
CURL=${CURL:-curl}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

ALL_CASES="forward,first,replay,rfirst,rreplay"
PERSIST=none
ROUNDS=3
SECONDS_RUN=10
WARMUP=1
ONLY=""
CONNS=16
OUT=""
KEEP=0
COUNT=0
REQUESTS=1000
COUNT_CONNS=4
ARGS="$*"

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:?}; shift ;;
	--seconds) SECONDS_RUN=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--conns) CONNS=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--count) COUNT=1 ;;
	--requests) REQUESTS=${2:?}; shift ;;
	--persist) PERSIST=${2:?}; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
	shift
done
for v in "$ROUNDS" "$SECONDS_RUN" "$CONNS" "$REQUESTS"; do
	case "$v" in ''|*[!0-9]*|0) die "--rounds, --seconds, --conns and --requests want positive integers" ;; esac
done

case "$PERSIST" in none|aof) ;; *) die "--persist wants none or aof" ;; esac
HAVE_REDIS=1
command -v "$REDIS_SERVER" >/dev/null 2>&1 && command -v "$REDIS_CLI" >/dev/null 2>&1 || HAVE_REDIS=0

# the cases asked for, in ALL_CASES' order
CASES=()
if [ -z "$ONLY" ]; then
	if [ "$HAVE_REDIS" = 0 ]; then
		log "WARNING: no $REDIS_SERVER or $REDIS_CLI: the cases with store: redis are left out"
		ALL_CASES="forward,first,replay"
	fi
	IFS=, read -r -a CASES <<<"$ALL_CASES"
else
	IFS=, read -r -a want <<<"$ONLY"
	for w in "${want[@]}"; do
		case ",$ALL_CASES," in *",$w,"*) ;; *) die "unknown case $w (cases: $ALL_CASES)" ;; esac
	done
	for c in ${ALL_CASES//,/ }; do
		case ",$ONLY," in *",$c,"*) CASES+=("$c") ;; esac
	done
fi

for c in "$CURL" "$NGINX" taskset ss pgrep "$PYTHON"; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done
USE_REDIS=0
case " ${CASES[*]} " in *" rfirst "*|*" rreplay "*) USE_REDIS=1 ;; esac
if [ "$USE_REDIS" = 1 ] && [ "$HAVE_REDIS" = 0 ]; then
	die "rfirst and rreplay need $REDIS_SERVER and $REDIS_CLI (apt-get install redis-server)"
fi
if [ "$COUNT" = 1 ]; then
	for c in valgrind callgrind_control; do
		command -v "$c" >/dev/null 2>&1 || die "$c not found (apt-get install valgrind)"
	done
else
	command -v "$WRK" >/dev/null 2>&1 || die "$WRK not found (apt-get install wrk)"
fi
[ -x "$SLUICE" ] || die "$SLUICE is not executable (build first, or set SLUICE)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
NGINX=$(command -v "$NGINX")

UP_PORT=${UP_PORT:-$(pick_port 19740)}
GW_PORT=${GW_PORT:-$(pick_port 19840)}
ADMIN_PORT=${ADMIN_PORT:-$(pick_port 19940)}
REDIS_PORT=${REDIS_PORT:-$(pick_port 20040)}
if [ "$(printf '%s\n' "$UP_PORT" "$GW_PORT" "$ADMIN_PORT" "$REDIS_PORT" | sort -u | wc -l)" != 4 ]; then
	die "UP_PORT, GW_PORT, ADMIN_PORT and REDIS_PORT must differ"
fi

if [ -z "${MAX_SECONDS:-}" ]; then
	MAX_SECONDS=$((${#CASES[@]} * ROUNDS * (SECONDS_RUN + WARMUP + 10) + 120))
	[ "$COUNT" = 1 ] && MAX_SECONDS=$((${#CASES[@]} * (REQUESTS / 10 + 60) + 300))
	[ "$MAX_SECONDS" -ge 600 ] || MAX_SECONDS=600
fi

others_running nginx haproxy sluice wrk h2load valgrind redis-server

# what else keeps the CPUs busy (average %CPU over each process's life,
# 20 % and more): CPU per request moves with it, instructions do not
BUSY=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 20 { printf "%s%s (%s %%)", s, $2, $1; s = ", " }')
[ -z "$BUSY" ] || log "WARNING: busy on this machine: $BUSY"

out_dir sluice-idem-bench-out
scratch_dir sluice-idem-bench
watchdog_start "$MAX_SECONDS"

# ---------------------------------------------------------------- body
# The request: a payment's creation, exactly 600 bytes of compact JSON.
# The answer: nginx's 300-byte receipt (in nginx.conf, no ' nor $ in it).
BODY="$WORK/payment.json"
"$PYTHON" - "$BODY" "$WORK/receipt.json" <<'EOF'
import json, sys
enc = lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=True).encode()
p = {"amount": {"value": 12500, "currency": "EUR"}, "capture": True,
     "description": "",
     "payment_method": {"type": "card", "token": "tok_4eC39HqLyjWDarjtT1zdp7dc",
                        "brand": "visa", "last4": "4242", "expiry_month": 11,
                        "expiry_year": 2029, "three_d_secure": "required"},
     "customer": {"id": "cus_9s6XKzkNRiz8i3", "name": "Amelie Martin",
                  "email": "amelie.martin812@example.com"},
     "billing_address": {"line1": "12 Rue de Rivoli", "city": "Paris",
                         "postal_code": "75001", "country": "FR"},
     "metadata": {"order_id": "ord_7318265", "channel": "web", "cart": "crt_51sw0QmZc"},
     "statement_descriptor": "SHOP* ORDER 7318265"}
words = "order 7318265 cotton hoodie size M blue express shipping gift card".split()
gap = 600 - len(enc(p))
d = ""
i = 0
while len(d) < gap:
    d += ("" if not d else " ") + words[i % len(words)]
    i += 1
p["description"] = d[:gap].rstrip() + "." * (gap - len(d[:gap].rstrip()))
b = enc(p)
assert len(b) == 600, len(b)
json.loads(b)
open(sys.argv[1], "wb").write(b)
r = {"id": "pay_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment", "status": "succeeded",
     "amount": {"value": 12500, "currency": "EUR"}, "created": 1764000123,
     "captured": True, "customer": "cus_9s6XKzkNRiz8i3",
     "receipt_url": "https://pay.example.com/receipts/rcpt_1Pq8Zt2eZvKYlo2C0aK3",
     "fee": {"value": 338, "currency": "EUR"}}
rb = enc(r)
rb += b" " * (300 - len(rb))
assert len(rb) == 300 and b"'" not in rb and b"$" not in rb, len(rb)
open(sys.argv[2], "wb").write(rb)
EOF

# ---------------------------------------------------------------- upstream
UP="$WORK/upstream"
server_dir "$UP"
chmod -R a+rwX "$UP"
cat >"$UP/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $UP/nginx.pid;
error_log $UP/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$UP/tmp")
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        location / { return 201 '$(cat "$WORK/receipt.json")'; }
    }
}
EOF
server_start nginx "$UP" "$LOAD_CPU"
wait_status "http://127.0.0.1:$UP_PORT/" 201 10 "$SERVER_PID" || server_failed "$UP" "the upstream nginx did not start"
"$CURL" -s -o "$WORK/up-answer" -X POST -H 'Content-Type: application/json' --data-binary "@$BODY" \
	"http://127.0.0.1:$UP_PORT/idem/payments"
cmp -s "$WORK/up-answer" "$WORK/receipt.json" || die "the upstream does not answer a POST with the receipt"

# ---------------------------------------------------------------- redis
REDIS_PID=""
IDEM_KEY_FILE=""
RL_STORE=""
RIDEM_ROUTE=""
rcli() { "$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
if [ "$USE_REDIS" = 1 ]; then
	RD="$WORK/redis"
	mkdir -p "$RD"
	rargs=(--port "$REDIS_PORT" --bind 127.0.0.1 --save "" --dir "$RD" --daemonize no --logfile "$RD/redis.log")
	if [ "$PERSIST" = aof ]; then
		rargs+=(--appendonly yes --appendfsync always)
	else
		rargs+=(--appendonly no)
	fi
	taskset -c "$LOAD_CPU" "$REDIS_SERVER" "${rargs[@]}" >"$RD/stdout" 2>&1 &
	REDIS_PID=$!
	register_pid "$REDIS_PID"
	for _ in $(seq 100); do [ "$(rcli ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
	[ "$(rcli ping 2>/dev/null)" = PONG ] || { cat "$RD/redis.log" >&2 || true; die "redis-server did not start"; }
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/idem.key"
	chmod 600 "$WORK/idem.key"
	IDEM_KEY_FILE=", key_file: $WORK/idem.key"
	RL_STORE="rate_limit_store: { address: 127.0.0.1:$REDIS_PORT, timeout: 1s }"
	RIDEM_ROUTE="      - name: ridem
        match: { path_prefix: /ridem/ }
        cluster: up
        idempotency: { store: redis, ttl: 1h }"
fi
# the scripts Redis ran so far (eval and evalsha calls), its CPU ticks
redis_calls() {
	rcli info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ { n += $3 } END { print n + 0 }'
}
redis_ticks() {
	if [ -n "$REDIS_PID" ]; then sed 's/.*) //' "/proc/$REDIS_PID/stat" | awk '{ print $12 + $13 }'; else echo 0; fi
}
redis_keys() { rcli dbsize | tr -d '\r'; }

# ---------------------------------------------------------------- sluice
CONF="$WORK/sluice.yaml"
cat >"$CONF" <<EOF
workers: 1
drain_timeout: 1s
log: { level: warn, access: off }
admin: { address: "127.0.0.1:$ADMIN_PORT" }
idempotency: { memory: 1GiB$IDEM_KEY_FILE }
$RL_STORE
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    routes:
      - name: forward
        match: { path_prefix: /forward/ }
        cluster: up
      - name: idem
        match: { path_prefix: /idem/ }
        cluster: up
        idempotency: { ttl: 1h }
$RIDEM_ROUTE
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF
"$SLUICE" -t -c "$CONF" >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log" >&2; die "sluice -t refuses $CONF"; }

url_of() {  # case
	case "$1" in
	forward) echo "http://127.0.0.1:$GW_PORT/forward/payments" ;;
	rfirst|rreplay) echo "http://127.0.0.1:$GW_PORT/ridem/payments" ;;
	*) echo "http://127.0.0.1:$GW_PORT/idem/payments" ;;
	esac
}
route_of() {  # case: the route whose counters it moves
	case "$1" in rfirst|rreplay) echo ridem ;; *) echo idem ;; esac
}

start_gw() {  # run|count: sluice on GW_CPU, ready
	local mode=$1 dir="$WORK/gw-$1" vg=() wait_s=10
	server_dir "$dir"
	cp "$CONF" "$dir/sluice.yaml"
	if [ "$mode" = count ]; then
		vg=(valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$dir/cg.out")
		wait_s=120  # callgrind starts slowly
	fi
	gw_start sluice sluice "$dir" "$GW_CPU" ${vg[@]+"${vg[@]}"}
	# a GET is forwarded too (nginx answers every method 201), never kept
	wait_status "http://127.0.0.1:$GW_PORT/forward/ready" 201 "$wait_s" "$GW_PID" &&
		wait_status "http://127.0.0.1:$ADMIN_PORT/metrics" 200 "$wait_s" "$GW_PID" ||
		gw_failed "sluice did not start (or does not answer 201 at /forward/ready)"
}
stop_gw() {
	gw_stop fatal
	gw_messages '^$|^==[0-9]+==' 5
}

# the store's counters of a route (idem, ridem): "reserved replayed
# conflict mismatch unavailable stored released_memory released_all
# entries bytes store_errors" (entries and bytes: the local store's)
idem_metrics() {  # route
	"$CURL" -s --max-time 10 "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v route="route=\"$1\"" '
		function v(l) { return index(l, route) > 0 }
		/^sluice_idempotency_requests_total\{/ && v($0) {
			if ($1 ~ /outcome="reserved"/) r = $2
			if ($1 ~ /outcome="replayed"/) p = $2
			if ($1 ~ /outcome="conflict"/) c = $2
			if ($1 ~ /outcome="mismatch"/) m = $2
			if ($1 ~ /outcome="unavailable"/) u = $2 }
		/^sluice_idempotency_stored_total\{/ && v($0) { s = $2 }
		/^sluice_idempotency_store_errors_total\{/ && v($0) { se = $2 }
		/^sluice_idempotency_released_total\{/ && v($0) { ra += $2; if ($1 ~ /reason="memory"/) rm = $2 }
		/^sluice_idempotency_entries / { e = $2 }
		/^sluice_idempotency_bytes / { b = $2 }
		END { printf "%d %d %d %d %d %d %d %d %d %d %d\n", r, p, c, m, u, s, rm, ra, e, b, se }'
}

# the same once two reads 0.2 s apart agree (an exchange is counted when
# it ends, which may be just after its client read the answer), at most 5 s
idem_metrics_settled() {  # route
	local a b _
	a=$(idem_metrics "$1")
	for _ in $(seq 25); do
		sleep 0.2
		b=$(idem_metrics "$1")
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$a"
}

# ---------------------------------------------------------------- checks
# one POST with curl: "status replayed-header" ; headers and body kept
post() {  # name url key
	local f="$WORK/check-$1" code
	code=$("$CURL" -s --max-time 10 -X POST -H 'Content-Type: application/json' -H "Idempotency-Key: $3" \
		--data-binary "@$BODY" -D "$f.head" -o "$f.body" -w '%{http_code}' "$2") || die "$1: curl failed"
	echo "$code $(tr -d '\r' <"$f.head" | awk 'tolower($1) == "idempotent-replayed:" { print $2 }')"
}
expect() {  # name got want
	[ "$2" = "$3" ] || { KEEP=1; die "check $1: got '$2' (status, Idempotent-Replayed), want '$3' (headers in $WORK/check-$1.head)"; }
}
declare -A REPLAY_KEY=()  # case -> the key of its replays (its own route's)
check_case() {  # case tag: before a run; seeds the replays' key
	local c=$1 t=$2 k
	case "$c" in
	forward)
		k="fwd-check-$t"
		expect "$c-$t-1" "$(post "$c-$t-1" "$(url_of "$c")" "$k")" "201 "
		expect "$c-$t-2" "$(post "$c-$t-2" "$(url_of "$c")" "$k")" "201 "
		;;
	first|rfirst)
		expect "$c-$t" "$(post "$c-$t" "$(url_of "$c")" "first-check-$t-$RANDOM$RANDOM")" "201 "
		;;
	replay|rreplay)
		k="replay-$t-$RANDOM$RANDOM"
		REPLAY_KEY[$c]=$k
		expect "$c-$t-seed" "$(post "$c-$t-seed" "$(url_of "$c")" "$k")" "201 "
		expect "$c-$t-again" "$(post "$c-$t-again" "$(url_of "$c")" "$k")" "201 true"
		cmp -s "$WORK/check-$c-$t-seed.body" "$WORK/check-$c-$t-again.body" ||
			{ KEEP=1; die "check $c-$t: the replayed body is not the first answer's"; }
		;;
	esac
}
case_key() {  # case: the fixed key of its requests ("" for first: new ones)
	case "$1" in
	forward) echo "fwd-$RANDOM$RANDOM" ;;
	first|rfirst) echo "" ;;
	replay|rreplay) echo "${REPLAY_KEY[$1]}" ;;
	esac
}
want_replayed() {  # case responses: how many must carry Idempotent-Replayed
	case "$1" in replay|rreplay) echo "$2" ;; *) echo 0 ;; esac
}

# ---------------------------------------------------------------- --count
cat >"$WORK/client.py" <<'EOF'
# client.py URL BODY N CONNS KEY|'' PREFIX: N keep-alive POSTs over CONNS
# connections, one request at a time on each; with KEY every request
# carries it, else PREFIX-CONN-COUNTER (a new key each). Prints
# "responses R 2xx S replayed P"; exits 1 when one is not 2xx or a
# connection fails.
import selectors, socket, sys, urllib.parse
url, body_path, n, conns, key, prefix = sys.argv[1:7]
n, conns = int(n), int(conns)
u = urllib.parse.urlsplit(url)
body = open(body_path, "rb").read()
sent = done = ok = replayed = 0
def request(i):
    global sent
    sent += 1
    k = key if key else "%s-%d-%d" % (prefix, i, sent)
    return (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Idempotency-Key: %s\r\nContent-Length: %d\r\n\r\n" %
            (u.path.encode(), u.netloc.encode(), k.encode(), len(body))) + body
class Conn:
    def __init__(self, i):
        self.i = i
        self.s = socket.create_connection((u.hostname, u.port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
    def send(self):
        self.s.sendall(request(self.i))
    def parse(self):
        """one whole response off buf: (status, replayed) or None"""
        h = self.buf.find(b"\r\n\r\n")
        if h < 0:
            return None
        lines = self.buf[:h].split(b"\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for l in lines[1:]:
            name, _, v = l.partition(b":")
            fields[name.strip().lower()] = v.strip()
        rest = self.buf[h + 4:]
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            pos = 0
            while True:
                e = rest.find(b"\r\n", pos)
                if e < 0:
                    return None
                size = int(rest[pos:e].split(b";")[0], 16)
                if size == 0:
                    t = rest.find(b"\r\n\r\n", e)
                    if t < 0 and rest[e + 2:e + 4] != b"\r\n":
                        return None
                    end = e + 4 if rest[e + 2:e + 4] == b"\r\n" else t + 4
                    break
                if len(rest) < e + 2 + size + 2:
                    return None
                pos = e + 2 + size + 2
        else:
            end = int(fields.get(b"content-length", b"0"))
            if len(rest) < end:
                return None
        self.buf = rest[end:]
        return status, fields.get(b"idempotent-replayed") == b"true"
sel = selectors.DefaultSelector()
cs = [Conn(i) for i in range(min(conns, n))]
for c in cs:
    c.send()
    sel.register(c.s, selectors.EVENT_READ, c)
while done < n:
    ev = sel.select(timeout=120)
    if not ev:
        print("responses %d 2xx %d replayed %d: no answer for 120 s" % (done, ok, replayed))
        sys.exit(1)
    for k, _ in ev:
        c = k.data
        d = c.s.recv(65536)
        if not d:
            print("responses %d 2xx %d replayed %d: connection %d closed" % (done, ok, replayed, c.i))
            sys.exit(1)
        c.buf += d
        while True:
            r = c.parse()
            if r is None:
                break
            done += 1
            ok += 200 <= r[0] < 300
            replayed += r[1]
            if sent < n:
                c.send()
print("responses %d 2xx %d replayed %d" % (done, ok, replayed))
sys.exit(0 if done == n and ok == n else 1)
EOF

# (cg_objects, cg_dump: lib.sh)
COUNT_SEQ=0
count_load() {  # case n: every request 2xx, replayed as the case wants
	local c=$1 n=$2 key out got want
	key=$(case_key "$c")
	COUNT_SEQ=$((COUNT_SEQ + 1))
	out="$WORK/count-load.txt"
	taskset -c "$LOAD_CPU" "$PYTHON" "$WORK/client.py" "$(url_of "$c")" "$BODY" "$n" "$COUNT_CONNS" \
		"$key" "first-$COUNT_SEQ-$RANDOM" >"$out" 2>&1 || { cat "$out" >&2; KEEP=1; die "$c: not every counted request succeeded"; }
	got=$(awk '{ print $6 }' "$out")
	want=$(want_replayed "$c" "$n")
	[ "$got" = "$want" ] || { cat "$out" >&2; KEEP=1; die "$c: $got of $n responses replayed, want $want"; }
}
run_count() {
	local csv="$OUT/idem-count.csv" c n=$REQUESTS m0 m1 rc0 rc1
	echo "case,object,instructions_per_request" >"$csv"
	echo "case,redis_scripts_per_request" >"$OUT/idem-count-redis.csv"
	log "count: sluice under callgrind (start-up ~10-60 s): ${CASES[*]}"
	start_gw count
	for c in "${CASES[@]}"; do check_case "$c" count; count_load "$c" 50; done
	cg_dump warm
	for c in "${CASES[@]}"; do
		m0=$(idem_metrics_settled "$(route_of "$c")")
		rc0=$([ "$USE_REDIS" = 1 ] && redis_calls || echo 0)
		callgrind_control -z "$GW_PID" >/dev/null 2>&1 || die "callgrind_control -z failed"
		count_load "$c" "$n"
		cg_dump "$c.n1"
		callgrind_control -z "$GW_PID" >/dev/null 2>&1 || die "callgrind_control -z failed"
		count_load "$c" $((2 * n))
		cg_dump "$c.n2"
		m1=$(idem_metrics_settled "$(route_of "$c")")
		rc1=$([ "$USE_REDIS" = 1 ] && redis_calls || echo 0)
		check_store "$c" $((3 * n)) "$m0" "$m1" 0 || { KEEP=1; die "count $c: the store's counters disagree"; }
		echo "$c,$(awk -v a="$rc0" -v b="$rc1" -v n=$((3 * n)) 'BEGIN { printf "%.3f", (b - a) / n }')" >>"$OUT/idem-count-redis.csv"
		cg_objects "$GW_DIR/$c.n1" >"$GW_DIR/$c.o1"
		cg_objects "$GW_DIR/$c.n2" >"$GW_DIR/$c.o2"
		awk -v c="$c" -v n="$n" '
			FNR == NR { a[$1] = $2; next }
			{ d = ($2 - a[$1]) / n; if (d >= 1) printf "%s,%s,%.0f\n", c, $1, d }' \
			"$GW_DIR/$c.o1" "$GW_DIR/$c.o2" | sort -t, -k3 -rn >>"$csv"
		if [ -n "${IDEM_CG_KEEP:-}" ]; then
			mkdir -p "$IDEM_CG_KEEP" && cp "$GW_DIR/$c.n2" "$IDEM_CG_KEEP/$c.cg"
		fi
		[ "$KEEP" = 1 ] || rm -f "$GW_DIR/$c.n1" "$GW_DIR/$c.n2"
		log "$(printf 'count %-8s %10s instructions per request (%s and %s requests)' "$c" \
			"$(awk -F, -v c="$c" '$1 == c { t += $3 } END { printf "%.0f", t }' "$csv")" "$n" $((2 * n)))"
	done
	stop_gw
}

# check_store case responses before after slack: the store's counters
# over the run agree with the case (slack: requests in flight when the
# client stopped, reserved and kept but not counted as responses).
# Prints "reserved replayed stored entries" deltas / totals; returns 1 on
# disagreement, with a warning.
STORE_NOTE=""
check_store() {
	local c=$1 n=$2 slack=$5 r0 p0 c0 x0 u0 s0 r1 p1 c1 x1 u1 s1 rm1 ra1 e1 b1 se0 se1 k _
	read -r r0 p0 c0 x0 u0 s0 _ _ _ _ se0 <<<"$3"
	read -r r1 p1 c1 x1 u1 s1 rm1 ra1 e1 b1 se1 <<<"$4"
	local dr=$((r1 - r0)) dp=$((p1 - p0)) ds=$((s1 - s0)) bad=""
	STORE_NOTE="reserved $dr, replayed $dp, stored $ds; store: $e1 entries, $b1 bytes"
	[ $((c1 - c0 + x1 - x0 + u1 - u0)) = 0 ] || bad="$bad conflict/mismatch/unavailable $((c1 - c0))/$((x1 - x0))/$((u1 - u0));"
	[ "$rm1" = 0 ] || bad="$bad $rm1 keys let go for lack of memory;"
	[ "$ra1" = 0 ] || bad="$bad $ra1 keys let go;"
	case "$c" in
	rfirst|rreplay)
		# the local store is the other route's; Redis holds this one's
		k=$(redis_keys)
		STORE_NOTE="reserved $dr, replayed $dp, stored $ds; Redis: $k keys"
		[ "$se1" = 0 ] || bad="$bad $se1 store errors;"
		# count mode shares one Redis with every case: the
		# route's answers stored since the start, FLUSHALL never
		[ "$k" = "$s1" ] || bad="$bad Redis holds $k keys for $s1 answers stored;"
		;;
	*) [ "$e1" = "$s1" ] || bad="$bad $e1 entries held for $s1 answers stored (pushed out or in flight);" ;;
	esac
	case "$c" in
	forward) [ "$dr" = 0 ] && [ "$dp" = 0 ] || bad="$bad the forward route touched the store;" ;;
	first|rfirst)
		[ "$dp" = 0 ] || bad="$bad $dp replays;"
		[ "$dr" -ge "$n" ] && [ "$dr" -le $((n + slack)) ] || bad="$bad $dr keys reserved for $n responses;"
		[ "$ds" = "$dr" ] || bad="$bad $ds answers stored for $dr keys reserved;"
		;;
	replay|rreplay)
		[ "$dr" = 0 ] || bad="$bad $dr keys reserved;"
		[ "$dp" -ge "$n" ] && [ "$dp" -le $((n + slack)) ] || bad="$bad $dp replays for $n responses;"
		;;
	esac
	[ -z "$bad" ] && return 0
	log "WARNING: $c: the store's counters:$bad ($STORE_NOTE)"
	return 1
}

# ---------------------------------------------------------------- timing
CSV="$OUT/idem.csv"
CLK_TCK=$(getconf CLK_TCK)
cat >"$WORK/idem.lua" <<'EOF'
-- wrk script of contrib/bench/idem.sh: POST the file IDEM_BODY as
-- application/json with Idempotency-Key IDEM_KEY, or, when IDEM_KEY is
-- empty, a new key for every request: IDEM_PREFIX-THREAD-COUNTER. Counts
-- the responses with Idempotent-Replayed: true; done() prints
-- "idem: responses R replayed P".
local f = assert(io.open(assert(os.getenv("IDEM_BODY"), "IDEM_BODY is not set"), "rb"))
local body = f:read("*a")
f:close()
local key = os.getenv("IDEM_KEY") or ""
local prefix = os.getenv("IDEM_PREFIX") or "k"
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then wrk.headers["Idempotency-Key"] = key end

local threads = {}
function setup(thread)
	table.insert(threads, thread)
	thread:set("idem_tid", #threads)
end

if key == "" then
	local n = 0
	local hs = { ["Content-Type"] = "application/json" }
	function request()
		n = n + 1
		hs["Idempotency-Key"] = prefix .. "-" .. idem_tid .. "-" .. n
		return wrk.format(nil, nil, hs, body)
	end
end

idem_responses = 0
idem_replayed = 0
function response(status, headers, body)
	idem_responses = idem_responses + 1
	local v = headers["Idempotent-Replayed"] or headers["idempotent-replayed"]
	if v == "true" then idem_replayed = idem_replayed + 1 end
end

function done(summary, latency, requests)
	local r, p = 0, 0
	for _, t in ipairs(threads) do
		r = r + t:get("idem_responses")
		p = p + t:get("idem_replayed")
	end
	io.write(string.format("idem: responses %d replayed %d\n", r, p))
end
EOF
cpu_ticks() {  # utime stime of sluice, ticks
	sed 's/.*) //' "/proc/$GW_PID/stat" | awk '{ print $12, $13 }'
}
load_cpu_stat() {  # busy total jiffies of LOAD_CPU
	awk -v c="cpu$LOAD_CPU" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
wrk_run() {  # case seconds key prefix out
	IDEM_BODY=$BODY IDEM_KEY=$3 IDEM_PREFIX=$4 timeout $(($2 + 60)) taskset -c "$LOAD_CPU" \
		"$WRK" -t1 -c"$CONNS" -d"$2s" --latency -s "$WORK/idem.lua" "$(url_of "$1")" >"$5" 2>&1
}
run_one() {  # case round
	local c=$1 r=$2 key out t0 t1 l0 l1 s0 s1 m0 m1 w resp rep want sok=1 rt0=0 rt1=0 rc0=0 rc1=0
	[ "$USE_REDIS" = 1 ] && { rcli flushall >/dev/null || die "FLUSHALL failed"; }
	start_gw run
	check_case "$c" "r$r"
	key=$(case_key "$c")
	wrk_run "$c" "$WARMUP" "$key" "warm-$r-$RANDOM$RANDOM" "$WORK/warm-$c-$r.txt" || log "the warm-up of $c failed"
	out="$WORK/wrk-$c-$r.txt"
	m0=$(idem_metrics_settled "$(route_of "$c")")
	[ "$USE_REDIS" = 1 ] && { rc0=$(redis_calls); rt0=$(redis_ticks); }
	l0=$(load_cpu_stat)
	t0=$(cpu_ticks)
	s0=$(date +%s.%N)
	wrk_run "$c" "$SECONDS_RUN" "$key" "run-$r-$RANDOM$RANDOM" "$out" || log "wrk failed for $c: $(tail -n 2 "$out")"
	s1=$(date +%s.%N)
	t1=$(cpu_ticks)
	l1=$(load_cpu_stat)
	[ "$USE_REDIS" = 1 ] && { rt1=$(redis_ticks); }
	m1=$(idem_metrics_settled "$(route_of "$c")")
	[ "$USE_REDIS" = 1 ] && { rc1=$(redis_calls); }
	stop_gw
	w=$("$PYTHON" "$HERE/report.py" parse-wrk "$out") || w="0 0 nan nan 0 0 0 0 0 0"
	read -r req rps p50 p99 serr _ _ _ _ non2xx <<<"$w"
	read -r _ _ resp _ rep <<<"$(grep '^idem: ' "$out" || echo "idem: responses 0 replayed 0")"
	check_store "$c" "$req" "$m0" "$m1" "$CONNS" || sok=0
	read -r u0 y0 <<<"$t0"
	read -r u1 y1 <<<"$t1"
	read -r lb0 lt0 <<<"$l0"
	read -r lb1 lt1 <<<"$l1"
	awk -v c="$c" -v r="$r" -v n="$req" -v rps="$rps" -v p50="$p50" -v p99="$p99" \
		-v e="$serr" -v x="$non2xx" -v rep="$rep" -v resp="$resp" -v sok="$sok" \
		-v u="$((u1 - u0))" -v y="$((y1 - y0))" -v hz="$CLK_TCK" -v s0="$s0" -v s1="$s1" \
		-v lb="$((lb1 - lb0))" -v lt="$((lt1 - lt0))" -v conns="$CONNS" \
		-v rt="$((rt1 - rt0))" -v rc="$((rc1 - rc0))" 'BEGIN {
		secs = s1 - s0; nn = n > 0 ? n : 1; t = u + y; k = 1e6 / hz / nn
		printf "%s,%d,%d,%.2f,%d,%.0f,%s,%s,%d,%d,%d,%d,%d,%d,%d,%.2f,%.2f,%.2f,%.3f,%.3f,%.2f,%.3f\n", c, r, conns, secs, n, rps,
			p50, p99, e, x, resp, rep, sok, u, y, t * k, u * k, y * k, t / hz / secs, lt ? lb / lt : 0,
			rt * k, rc / nn }' >>"$CSV"
	log "$(tail -n 1 "$CSV" | awk -F, '{ printf "%-8s r%s: %7s req/s  %6s us CPU/req (user %s, sys %s)  p50 %s ms  p99 %s ms  sluice %.0f%% busy, load CPU %.0f%%  replayed %s of %s  errors %s + %s non-2xx", $1, $2, $6, $16, $17, $18, $7, $8, $19 * 100, $20 * 100, $12, $11, $9, $10; if ($1 ~ /^r/) printf "  Redis %s us CPU/req, %s scripts/req", $21, $22 }')"
	log "  store: $STORE_NOTE"
	want=$(want_replayed "$c" "$resp")
	[ "$rep" = "$want" ] || log "WARNING: $c r$r: $rep of $resp responses carried Idempotent-Replayed: true, want $want"
	[ "$resp" = "$req" ] || log "WARNING: $c r$r: wrk's Lua counted $resp responses, wrk $req"
	[ "${serr:-0}" = 0 ] && [ "${non2xx:-0}" = 0 ] && return 0
	log "WARNING: $c r$r: $serr socket errors, $non2xx non-2xx answers"
}

# ---------------------------------------------------------------- main
START=$(date +%s)
DATE_START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "scratch: $WORK; out: $OUT; cases: ${CASES[*]}; ports: upstream $UP_PORT, gateway $GW_PORT, admin $ADMIN_PORT"
if [ "$COUNT" = 1 ]; then
	run_count
else
	echo "case,round,conns,seconds,requests,rps,p50_ms,p99_ms,socket_errors,non2xx,lua_responses,replayed,store_ok,cpu_user_ticks,cpu_sys_ticks,cpu_us_per_req,cpu_user_us_per_req,cpu_sys_us_per_req,gw_cpu_util,load_cpu_busy,redis_cpu_us_per_req,redis_scripts_per_req" >"$CSV"
	log "${SECONDS_RUN}s per run, $ROUNDS round(s), $CONNS connections"
	for r in $(seq "$ROUNDS"); do
		for c in "${CASES[@]}"; do run_one "$c" "$r"; done
	done
fi
ELAPSED=$(( $(date +%s) - START ))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

META="$WORK/meta.txt"
{
	echo "date=$DATE_START"
	echo "command=contrib/bench/idem.sh${ARGS:+ $ARGS}"
	echo "sluice_commit=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || true)$(git -C "$HERE" diff --quiet HEAD -- ../../src 2>/dev/null || echo ' (src/ modified)')"
	echo "sluice=$("$SLUICE" -V 2>&1 | head -n 1)"
	echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^nginx version: nginx\///')"
	if [ "$COUNT" = 1 ]; then
		echo "valgrind=$(valgrind --version 2>&1)"
	else
		echo "wrk=$("$WRK" -v 2>&1 | head -n 1 | sed 's/ Copyright.*//')"
	fi
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc --all)"
	echo "kernel=$(uname -sr)"
	echo "load=$LOAD_START at start, $LOAD_END at end"
	echo "others=$OTHERS"
	echo "busy=$BUSY"
	echo "elapsed=$ELAPSED"
	echo "seconds=$SECONDS_RUN"
	echo "rounds=$ROUNDS"
	echo "conns=$CONNS"
	echo "requests=$REQUESTS"
	echo "count_conns=$COUNT_CONNS"
	echo "gw_cpu=$GW_CPU"
	echo "load_cpu=$LOAD_CPU"
	echo "persist=$PERSIST"
	if [ "$USE_REDIS" = 1 ]; then
		echo "redis=$("$REDIS_SERVER" --version | awk '{ print $3 }' | sed 's/^v=//')"
	fi
} >"$META"

"$PYTHON" - "$OUT" "$META" "$COUNT" <<'EOF'
import csv, os, statistics, sys
out, meta_path, count = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
meta = dict(l.rstrip("\n").split("=", 1) for l in open(meta_path) if "=" in l)
ORDER = ["forward", "first", "replay", "rfirst", "rreplay"]
WHAT = {"forward": "route without idempotency, forwarded",
        "first": "idempotent route, a new key: reserved, forwarded, kept",
        "replay": "idempotent route, the same key: answered from the store",
        "rfirst": "store: redis, a new key: reserved in Redis, forwarded, kept (sealed)",
        "rreplay": "store: redis, the same key: the sealed answer from Redis, opened"}
def fmt(x, d=0):
    return "-" if x is None else format(round(x, d), ",.%df" % d)
head = ["# The Idempotency-Key store: what a request costs", "",
        "contrib/bench/idem.sh, %s; `%s`." % (meta.get("date"), meta.get("command")), ""]
foot = ["", "Versions: %s; nginx %s (the upstream)%s." % (meta.get("sluice"), meta.get("nginx"),
        "; Redis %s (persistence: %s)" % (meta["redis"], meta.get("persist")) if meta.get("redis") else ""),
        "Machine: %s, %s; load average %s; already running: %s; busy at the start: %s; %s s in all." % (
            meta.get("cpu"), meta.get("kernel"), meta.get("load"), meta.get("others") or "nothing",
            meta.get("busy") or "nothing", meta.get("elapsed")),
        "This tree at %s." % meta.get("sluice_commit"), "",
        "Each request: POST of a 600-byte JSON payment with an Idempotency-Key; the upstream "
        "(nginx, `return 201`, a 300-byte JSON receipt) on CPU %s with the client, sluice (1 worker, "
        "idempotency.memory 1 GiB, the route's ttl 1 h: nothing pushed out, nothing expired) alone "
        "on CPU %s." % (meta.get("load_cpu"), meta.get("gw_cpu"))]

def derived(vals, unit, d):
    """vals: case -> number; the lines of first - forward and replay / forward"""
    f, k, p = vals.get("forward"), vals.get("first"), vals.get("replay")
    rk, rp = vals.get("rfirst"), vals.get("rreplay")
    lines = []
    if f is not None and rk is not None:
        lines.append("- rfirst - forward (what keeping an answer in Redis costs sluice): %s %s (%+.0f %%)" % (
            fmt(rk - f, d), unit, (rk - f) / f * 100 if f else 0))
    if f is not None and rp is not None:
        lines.append("- rreplay / forward: %.2f (%s against %s %s): a replay from Redis costs less "
                     "than forwarding: **%s**" % (rp / f if f else 0, fmt(rp, d), fmt(f, d), unit,
                                                  "met" if rp < f else "not met"))
    if f is not None and k is not None:
        lines.append("- first - forward (what keeping an answer costs): %s %s (%+.0f %%)" % (
            fmt(k - f, d), unit, (k - f) / f * 100 if f else 0))
    if f is not None and p is not None:
        lines.append("- replay / forward: %.2f (%s against %s %s): the target, a replay costs less "
                     "than forwarding: **%s**" % (p / f if f else 0, fmt(p, d), fmt(f, d), unit,
                                                  "met" if p < f else "not met"))
    return lines

if count:
    rows = list(csv.DictReader(open(os.path.join(out, "idem-count.csv"))))
    tot, parts = {}, {}
    for r in rows:
        n = float(r["instructions_per_request"])
        tot[r["case"]] = tot.get(r["case"], 0) + n
        parts.setdefault(r["case"], []).append("%s %s" % (r["object"], format(int(n), ",")))
    crypto = {}
    for r in rows:
        if r["object"].startswith("libcrypto"):
            crypto[r["case"]] = crypto.get(r["case"], 0) + float(r["instructions_per_request"])
    rest = {c: tot[c] - crypto.get(c, 0) for c in tot}
    lines = ["| case | what | instructions per request | x forward | of which libcrypto | the rest | by object |",
             "|---|---|--:|--:|--:|--:|---|"]
    for c in ORDER:
        if c not in tot:
            continue
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            c, WHAT[c], fmt(tot[c]), "%.2f" % (tot[c] / tot["forward"]) if tot.get("forward") else "-",
            fmt(crypto.get(c, 0)), fmt(rest[c]), ", ".join(parts[c][:5])))
    rpath = os.path.join(out, "idem-count-redis.csv")
    scripts = {r["case"]: float(r["redis_scripts_per_request"]) for r in csv.DictReader(open(rpath))} \
        if os.path.exists(rpath) else {}
    if any(c in scripts for c in ("rfirst", "rreplay")):
        lines += ["", "Redis scripts (EVAL, EVALSHA) per request: " + ", ".join(
            "%s %.2f" % (c, scripts[c]) for c in ORDER if c in scripts)]
    lines += ["", "Instructions:"] + derived(tot, "instructions", 0)
    lines += ["", "Without libcrypto (the two SHA-256 digests of a request on the idempotent route, the "
              "key's and the request's, which callgrind runs without the CPU's SHA extensions: "
              "valgrind does not emulate them, so libcrypto takes its portable code there):"]
    lines += [l.replace(": the target, a replay costs less than forwarding", "")
              for l in derived(rest, "instructions", 0)]
    text = "\n".join(head + lines + [
        "", "User-space instructions per request under callgrind (valgrind), the difference of %s and %d "
        "requests over %s (a Python client, %s keep-alive connections, one request at a time on each), "
        "after a warm-up; the kernel's work (system calls, TCP) is not in them. Every object in "
        "idem-count.csv."
        % (meta["requests"], 2 * int(meta["requests"]), meta["requests"], meta["count_conns"])] + foot) + "\n"
    open(os.path.join(out, "idem-count.md"), "w").write(text)
    print(text)
    sys.exit(0)

rows = list(csv.DictReader(open(os.path.join(out, "idem.csv"))))
med = {}
for c in ORDER:
    rs = [r for r in rows if r["case"] == c]
    if not rs:
        continue
    m = {k: statistics.median(float(r[k]) for r in rs)
         for k in ("rps", "cpu_us_per_req", "cpu_user_us_per_req", "cpu_sys_us_per_req",
                   "p50_ms", "p99_ms", "gw_cpu_util", "load_cpu_busy",
                   "redis_cpu_us_per_req", "redis_scripts_per_req")}
    m["errors"] = sum(int(r["socket_errors"]) + int(r["non2xx"]) for r in rs)
    m["responses"] = sum(int(r["lua_responses"]) for r in rs)
    m["replayed"] = sum(int(r["replayed"]) for r in rs)
    m["store_ok"] = all(r["store_ok"] == "1" for r in rs)
    cpus = [float(r["cpu_us_per_req"]) for r in rs]
    m["spread"] = max(cpus) - min(cpus)
    m["runs"] = len(rs)
    med[c] = m
lines = ["| case | what | responses/s | µs CPU per response | user + sys | spread | x forward | p50 ms | p99 ms | sluice busy | load CPU busy | Redis µs CPU per response | Redis scripts per response | replayed | errors | store checks |",
         "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
for c in ORDER:
    if c not in med:
        continue
    m = med[c]
    redis = c.startswith("r") and c != "replay"
    lines.append("| %s | %s | %s | %s | %s + %s | %s | %s | %s | %s | %.0f %% | %.0f %% | %s | %s | %s of %s | %d | %s |" % (
        c, WHAT[c], fmt(m["rps"]), fmt(m["cpu_us_per_req"], 2), fmt(m["cpu_user_us_per_req"], 1),
        fmt(m["cpu_sys_us_per_req"], 1), fmt(m["spread"], 2),
        "%.2f" % (m["cpu_us_per_req"] / med["forward"]["cpu_us_per_req"]) if "forward" in med else "-",
        fmt(m["p50_ms"], 2), fmt(m["p99_ms"], 2), m["gw_cpu_util"] * 100, m["load_cpu_busy"] * 100,
        fmt(m["redis_cpu_us_per_req"], 2) if redis else "-", fmt(m["redis_scripts_per_req"], 2) if redis else "-",
        fmt(m["replayed"]), fmt(m["responses"]), m["errors"], "ok" if m["store_ok"] else "**disagree**"))
lines += ["", "CPU:"] + derived({c: med[c]["cpu_us_per_req"] for c in med}, "µs", 2)
lines += ["", "Latency (closed loop, %s connections: mostly queueing behind the other requests):" % meta["conns"]]
for k, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
    f, q, p, rq, rp = (med.get(c, {}).get(k) for c in ORDER)
    parts = []
    if f is not None and q is not None:
        parts.append("first - forward %+.3f ms" % (q - f))
    if f is not None and p is not None:
        parts.append("replay - forward %+.3f ms" % (p - f))
    if q is not None and rq is not None:
        parts.append("rfirst - first %+.3f ms (the look-up's round trip to Redis)" % (rq - q))
    if f is not None and rp is not None:
        parts.append("rreplay - forward %+.3f ms" % (rp - f))
    if parts:
        lines.append("- %s: %s" % (name, ", ".join(parts)))
lines += ["",
          "Medians of %s round(s) of %s s, %s keep-alive connections (wrk, 1 thread, a Lua script: "
          "`response()` looks at every answer's Idempotent-Replayed); every run in idem.csv. µs CPU per "
          "response: sluice's user + system time (/proc/PID/stat) over the run / responses; spread: the "
          "highest run's less the lowest's. Replayed: responses with Idempotent-Replayed: true, over "
          "all runs (replay: all of them; forward and first: none). Store checks: the store's counters "
          "(admin /metrics) agree with the case: first, one key reserved and one answer stored per "
          "response; replay, no key reserved; none let go, none pushed out. Load CPU busy near 100 %%: "
          "wrk and the upstream, not sluice, set responses/s (CPU per response is still sluice's). "
          "Redis (rfirst, rreplay; on the load CPU, persistence: %s): its user + system time over the run "
          "per response, and its scripts (INFO commandstats, eval + evalsha calls) per response."
          % (meta["rounds"], meta["seconds"], meta["conns"], meta.get("persist", "none"))]
text = "\n".join(head + lines + foot) + "\n"
open(os.path.join(out, "idem.md"), "w").write(text)
print(text)
EOF
if [ "$COUNT" = 1 ]; then log "done in ${ELAPSED}s: $OUT/idem-count.md"; else log "done in ${ELAPSED}s: $OUT/idem.md"; fi
echo "$OUT"
