#!/usr/bin/env bash
# contrib/bench/compress.sh -- response compression through sluice, nginx
# and HAProxy, one worker each, in the same run: CPU per compressed request
# and bytes on the wire, for a 4 KiB and a 64 KiB JSON response.
#
# usage: contrib/bench/compress.sh [--rounds N] [--seconds S] [--only LIST]
#            [--gateways LIST] [--conns C] [--out DIR] [--keep]
#            [--count [--requests N]]
#
#   --rounds N       runs per gateway per case, alternating A B C A B C
#                    (default 3)
#   --seconds S      seconds per measured run, after a 1 s warm-up
#                    (default 10)
#   --only LIST      cases, comma-separated (default: all of them, in this
#                    order): gzip-1-4k, gzip-1-64k, gzip-6-4k, gzip-6-64k,
#                    br-4-4k, br-4-64k, zstd-3-4k, zstd-3-64k, and the
#                    references plain-4k, plain-64k (the same bodies, not
#                    compressed: what proxying them costs each gateway).
#                    A case without its size (gzip-1, plain) stands for
#                    both sizes.
#   --gateways LIST  from sluice,nginx,haproxy (default: all three)
#   --conns C        wrk's keep-alive connections (default 16). With 1, a
#                    gateway compresses one response at a time; with 16, one
#                    that compresses a response in slices, as its upstream
#                    reads come, between slices of other responses, finds
#                    its compressor's state (~260 KiB for gzip) out of the
#                    cache more often than one that compresses it at once
#   --out DIR        where compress.md and the CSV files go (default: a new
#                    directory /tmp/sluice-compress-bench-out.XXXXXX,
#                    printed at the end)
#   --keep           keep the scratch directory (configurations, logs, wrk
#                    output, the bodies as each gateway sent them)
#   --count          count instead of timing: each gateway runs under
#                    valgrind's callgrind, and the report gives user-space
#                    instructions per request (by object: the gateway, libz,
#                    libc...), which do not depend on what else the machine
#                    is doing. For gzip-1 and gzip-6, 4k and 64k, and
#                    plain-4k and plain-64k (or those of --only), one start per
#                    gateway with every counted case configured: a warm-up
#                    and a dump thrown away (callgrind's zeroing misses the
#                    costs of code that ran before it and was never dumped),
#                    then per case N and 2N requests (h2load --h1, 4
#                    keep-alive connections), each between a zeroing and a
#                    dump: the difference over N is one request's count,
#                    start-up and warm-up cancelled out. nginx runs with
#                    master_process off (one process). Needs valgrind and
#                    h2load (nghttp2-client). About 3 minutes (1 with
#                    --requests 50).
#   --requests N     N of --count (default 200)
#
# What runs, on 127.0.0.1 (ports: the first free ones from 19700 and 19800,
# or UP_PORT and GW_PORT):
#   bodies    two JSON documents made by the script, a page of a payments
#             API's list (payments with ids, amounts, cards, customers,
#             addresses, metadata; compact, fixed seed): exactly 4096 and
#             65536 bytes, the same in every run
#   upstream  nginx, 1 worker, on LOAD_CPU, serving them as static files
#             with Content-Type application/json and WITHOUT compression,
#             at /CASE-PREFIX/4k.json and /CASE-PREFIX/64k.json (every
#             prefix, the same file), keep-alive
#   client    wrk (1 thread, --conns keep-alive HTTP/1.1 connections) on
#             LOAD_CPU, with Accept-Encoding: gzip, br or zstd (none for
#             plain-*), a 1 s warm-up then --seconds measured
#   sluice    workers: 1, the route of the case (match path_prefix) with
#             compress: { algorithms: [ALG], gzip_level | brotli_level |
#             zstd_level: LEVEL, credentials: compress, min_length: 0B }
#             (credentials: compress as the requests carry none anyway;
#             window and types at their defaults: 32 KiB, JSON included)
#   nginx     worker_processes 1 (Debian's 1.22), a location per case
#             proxying to a keep-alive upstream block, with gzip on;
#             gzip_comp_level LEVEL; gzip_types application/json;
#             gzip_min_length 0; gzip_proxied any; gzip_vary on (sluice
#             adds Vary: Accept-Encoding too). Debian's nginx has no Brotli
#             or zstd module: br-* and zstd-* have no nginx column
#   HAProxy   nbthread 1 (Debian's 2.6), filter compression, compression
#             algo gzip, compression type application/json, http-reuse
#             always. Debian builds it with libslz, not zlib (haproxy -vv:
#             "Built with libslz for stateless compression"): slz has no
#             levels (a fast deflate without match search chains: a
#             fraction of zlib level 1's CPU, for an output 20-50 % larger
#             than level 1's on these bodies), so the same "gzip (slz)" is
#             in the gzip-1 and gzip-6 rows. No Brotli or zstd: br-* and zstd-* have no
#             HAProxy column
# The gateway under test runs alone on GW_CPU (0); the upstream and wrk
# share LOAD_CPU (1). A fresh gateway for every run, whose configuration
# holds that case only. Everything started here is stopped on exit; the
# whole run stops itself after MAX_SECONDS.
#
# Checked once per gateway and case, before its first run (curl, outside
# the measured runs): the answer is 200, its Content-Encoding is the case's
# coding (none for plain-*), and the body decoded (gzip -dc, brotli -dc,
# zstd -dc) is the original byte for byte; anything else stops the run.
#
# Measured per run: responses (wrk; a socket error or a non-2xx answer is
# reported), responses per second, the gateway's CPU (utime + stime from
# /proc/PID/stat of its processes, nginx master + worker, over the measured
# run) per response in µs, how busy LOAD_CPU was (near 100 %: wrk and the
# upstream, not the gateway, set the rate; CPU per response is still the
# gateway's), and the bytes read per response (wrk's total / responses:
# status line, headers, chunk framing and body). Bytes of the body as sent
# (compressed, without chunk framing): curl's size_download in the check.
#
# Output: DIR/compress.md (medians per gateway and case, ratios of sluice
# to the best peer at the same algorithm and level: gzip-1, the lower of
# nginx and HAProxy's slz; gzip-6, nginx; br and zstd, none), DIR/compress.csv
# (every run), DIR/compress-bytes.csv (the checks); with --count
# DIR/compress-count.md and DIR/compress-count.csv.
# The issue's target: CPU per compressed request at most 0.9 x the best
# peer's at the same level and algorithm.
#
# Environment: SLUICE (default ./build/src/sluice), NGINX, HAPROXY, WRK,
# H2LOAD, CURL, PYTHON, GW_CPU (0), LOAD_CPU (1), UP_PORT, GW_PORT,
# MAX_SECONDS (default: from the number of runs, at least 600).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
SLUICE=${SLUICE:-./build/src/sluice}
NGINX=${NGINX:-nginx}
HAPROXY=${HAPROXY:-haproxy}
WRK=${WRK:-wrk}
H2LOAD=${H2LOAD:-h2load}
CURL=${CURL:-curl}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

ALL_CASES="gzip-1-4k,gzip-1-64k,gzip-6-4k,gzip-6-64k,br-4-4k,br-4-64k,zstd-3-4k,zstd-3-64k,plain-4k,plain-64k"
COUNT_CASES="gzip-1-4k,gzip-1-64k,gzip-6-4k,gzip-6-64k,plain-4k,plain-64k"
ROUNDS=3
SECONDS_RUN=10
WARMUP=1
ONLY=""
GATEWAYS="sluice,nginx,haproxy"
CONNS=16
OUT=""
KEEP=0
COUNT=0
REQUESTS=200
ARGS="$*"

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:?}; shift ;;
	--seconds) SECONDS_RUN=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--gateways) GATEWAYS=${2:?}; shift ;;
	--conns) CONNS=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--count) COUNT=1 ;;
	--requests) REQUESTS=${2:?}; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
	shift
done
for v in "$ROUNDS" "$SECONDS_RUN" "$CONNS" "$REQUESTS"; do
	case "$v" in ''|*[!0-9]*|0) die "--rounds, --seconds, --conns and --requests want positive integers" ;; esac
done
IFS=, read -r -a GWS <<<"$GATEWAYS"
for g in "${GWS[@]}"; do case "$g" in sluice|nginx|haproxy) ;; *) die "unknown gateway $g" ;; esac; done

# the cases asked for, in ALL_CASES' order (or COUNT_CASES' and plain-*
# with --count)
pool=$ALL_CASES
[ "$COUNT" = 1 ] && pool=$COUNT_CASES
IFS=, read -r -a POOL <<<"$pool"
CASES=()
if [ -z "$ONLY" ]; then
	if [ "$COUNT" = 1 ]; then IFS=, read -r -a CASES <<<"$COUNT_CASES"; else CASES=("${POOL[@]}"); fi
else
	IFS=, read -r -a want <<<"$ONLY"
	for w in "${want[@]}"; do
		hit=0
		for c in ${ALL_CASES//,/ }; do
			if [ "$c" = "$w" ] || [ "${c%-*}" = "$w" ]; then hit=1; fi
		done
		[ "$hit" = 1 ] || die "unknown case $w (cases: $ALL_CASES)"
	done
	for c in "${POOL[@]}"; do
		for w in "${want[@]}"; do
			if [ "$c" = "$w" ] || [ "${c%-*}" = "$w" ]; then CASES+=("$c"); break; fi
		done
	done
	[ ${#CASES[@]} -gt 0 ] || die "--count counts only $COUNT_CASES"
fi

# a case: ALG-LEVEL-SIZE or plain-SIZE (ALG: gzip, br, zstd)
case_alg() { echo "${1%%-*}"; }
case_size() { echo "${1##*-}"; }
case_prefix() { echo "${1%-*}"; }  # the URL prefix: gzip-1, br-4, plain
case_gateways() {  # the gateways (of GWS) that can do the case
	local g
	for g in "${GWS[@]}"; do
		case "$(case_alg "$1"):$g" in
		br:nginx|br:haproxy|zstd:nginx|zstd:haproxy) ;;
		*) echo "$g" ;;
		esac
	done
}

for c in "$CURL" "$NGINX" taskset ss pgrep "$PYTHON" gzip; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done
for c in "${CASES[@]}"; do
	case "$(case_alg "$c")" in
	br) command -v brotli >/dev/null 2>&1 || die "brotli not found (apt-get install brotli), needed to check $c" ;;
	zstd) command -v zstd >/dev/null 2>&1 || die "zstd not found (apt-get install zstd), needed to check $c" ;;
	esac
done
case ",$GATEWAYS," in *,haproxy,*) command -v "$HAPROXY" >/dev/null 2>&1 || die "$HAPROXY not found" ;; esac
if [ "$COUNT" = 1 ]; then
	for c in valgrind callgrind_control "$H2LOAD"; do
		command -v "$c" >/dev/null 2>&1 || die "$c not found (apt-get install valgrind nghttp2-client)"
	done
else
	command -v "$WRK" >/dev/null 2>&1 || die "$WRK not found (apt-get install wrk)"
fi
[ -x "$SLUICE" ] || die "$SLUICE is not executable (build first, or set SLUICE)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
NGINX=$(command -v "$NGINX")
HAPROXY=$(command -v "$HAPROXY" || echo "$HAPROXY")

UP_PORT=${UP_PORT:-$(pick_port 19700)}
GW_PORT=${GW_PORT:-$(pick_port 19800)}
[ "$UP_PORT" != "$GW_PORT" ] || die "UP_PORT and GW_PORT are the same"

# runs: about SECONDS + 4 s each (start, check, warm-up, stop)
nruns=0
for c in "${CASES[@]}"; do nruns=$((nruns + $(case_gateways "$c" | wc -l))); done
if [ -z "${MAX_SECONDS:-}" ]; then
	MAX_SECONDS=$((nruns * ROUNDS * (SECONDS_RUN + WARMUP + 10) + 120))
	[ "$COUNT" = 1 ] && MAX_SECONDS=$((nruns * (REQUESTS * 3 / 4 + 120) + 300))
	[ "$MAX_SECONDS" -ge 600 ] || MAX_SECONDS=600
fi

others_running nginx haproxy sluice wrk h2load

out_dir sluice-compress-bench-out
scratch_dir sluice-compress-bench
watchdog_start "$MAX_SECONDS"

# ---------------------------------------------------------------- bodies
UP="$WORK/upstream"
server_dir "$UP"
mkdir -p "$UP/www"
"$PYTHON" - "$UP/www" <<'EOF'
# A page of a payments API's list, compact JSON, exactly 4096 and 65536
# bytes: whole payments, their descriptions lengthened to fill the rest.
import json, os, random, string, sys
d = sys.argv[1]
B62 = string.ascii_letters + string.digits
WORDS = ("order invoice subscription renewal monthly annual plan premium basic "
         "cotton t-shirt size M blue hoodie shipping express standard gift card "
         "voucher refund partial store online Berlin Paris London Madrid Milan "
         "customer loyalty discount promo code checkout basket item").split()
PEOPLE = [("Jane", "Doe"), ("John", "Smith"), ("Amelie", "Martin"), ("Lukas", "Muller"),
          ("Sofia", "Rossi"), ("Lucas", "Garcia"), ("Emma", "Jansen"), ("Noah", "Dubois")]
PLACES = [("221B Baker Street", "London", "NW1 6XE", "GB"), ("12 Rue de Rivoli", "Paris", "75001", "FR"),
          ("Unter den Linden 5", "Berlin", "10117", "DE"), ("Via Roma 10", "Milano", "20121", "IT"),
          ("Calle Mayor 3", "Madrid", "28013", "ES"), ("Damrak 1", "Amsterdam", "1012 LG", "NL")]
enc = lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=True).encode()

def make(n, seed):
    rnd = random.Random(seed)
    tok = lambda p, k: p + "".join(rnd.choice(B62) for _ in range(k))
    def payment(i):
        first, last = rnd.choice(PEOPLE)
        line1, city, pc, country = rnd.choice(PLACES)
        cur = rnd.choice(["EUR", "EUR", "EUR", "GBP", "USD"])
        amount = rnd.randint(199, 250000)
        status = rnd.choice(["succeeded"] * 6 + ["pending", "failed", "refunded"])
        return {
            "id": tok("pay_", 16), "object": "payment",
            "created": 1764000000 + i * 47 + rnd.randint(0, 40),
            "amount": {"value": amount, "currency": cur},
            "amount_refunded": amount if status == "refunded" else 0,
            "status": status, "captured": status in ("succeeded", "refunded"),
            "livemode": True, "merchant_id": "mch_20481",
            "method": {"type": "card", "brand": rnd.choice(["visa", "mastercard", "amex"]),
                       "last4": "%04d" % rnd.randint(0, 9999),
                       "expiry_month": rnd.randint(1, 12), "expiry_year": rnd.randint(2026, 2032),
                       "fingerprint": tok("fp_", 16), "three_d_secure": "authenticated",
                       "country": country},
            "customer": {"id": tok("cus_", 12), "name": "%s %s" % (first, last),
                         "email": "%s.%s%d@example.com" % (first.lower(), last.lower(), rnd.randint(1, 999))},
            "billing_address": {"line1": line1, "city": city, "postal_code": pc, "country": country},
            "description": "",
            "metadata": {"order_id": "ord_%d" % rnd.randint(1000000, 9999999),
                         "channel": rnd.choice(["web", "ios", "android"])},
            "failure_code": "card_declined" if status == "failed" else None,
            "fee": {"value": amount // 40 + 25, "currency": cur},
            "receipt_url": "https://pay.example.com/receipts/" + tok("rcpt_", 20),
        }
    page = {"object": "list", "url": "/v1/payments", "has_more": True, "data": []}
    while True:
        p = payment(len(page["data"]))
        page["data"].append(p)
        if len(enc(page)) > n:
            page["data"].pop()
            break
    gap = n - len(enc(page))
    k = len(page["data"])
    for j, p in enumerate(page["data"]):
        want = gap // k + (gap % k if j == k - 1 else 0)
        s = ""
        while len(s) < want:
            s += ("" if not s else " ") + rnd.choice(WORDS)
        p["description"] = s[:want]
    b = enc(page)
    assert len(b) == n, (len(b), n)
    json.loads(b)
    return b
for name, n, seed in (("4k.json", 4096, 4), ("64k.json", 65536, 64)):
    open(os.path.join(d, name), "wb").write(make(n, seed))
EOF
chmod -R a+rX "$UP"
chmod 777 "$UP/tmp"

# ---------------------------------------------------------------- upstream
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
    types { application/json json; }
    default_type application/json;
    sendfile on;
    gzip off;
    open_file_cache max=16 inactive=1h;
    open_file_cache_valid 1h;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$UP/tmp")
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        root $UP/www;
        location ~ ^/[a-z0-9-]+/(4k|64k)\.json\$ { try_files /\$1.json =404; }
    }
}
EOF
server_start nginx "$UP" "$LOAD_CPU"
wait_http "http://127.0.0.1:$UP_PORT/plain/4k.json" 10 "$SERVER_PID" || server_failed "$UP" "the upstream nginx did not start"
for s in 4k 64k; do
	"$CURL" -s -o "$WORK/up-$s" "http://127.0.0.1:$UP_PORT/plain/$s.json"
	cmp -s "$WORK/up-$s" "$UP/www/$s.json" || die "the upstream does not serve $s.json as it is"
done

# ---------------------------------------------------------------- gateways
# Each configuration holds the cases given (a route or location per URL
# prefix: /gzip-1/, /gzip-6/, /br-4/, /zstd-3/, /plain/), all proxying to the
# upstream with a keep-alive pool, no access log, one worker.
conf_sluice() {  # cases...
	local c alg lvl key
	cat <<EOF
workers: 1
drain_timeout: 1s
log: { level: warn, access: off }
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    routes:
EOF
	for c in $(printf '%s\n' "$@" | sed 's/-[0-9]*k$//' | sort -u); do
		alg=$(case_alg "$c-x")
		lvl=${c#*-}
		echo "      - match: { path_prefix: /$c/ }"
		echo "        cluster: up"
		case "$alg" in
		gzip) key=gzip_level ;;
		br) key=brotli_level ;;
		zstd) key=zstd_level ;;
		*) continue ;;
		esac
		echo "        compress: { algorithms: [$alg], $key: $lvl, credentials: compress, min_length: 0B }"
	done
	cat <<EOF
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF
}

conf_nginx() {  # dir count|run cases...
	local dir=$1 mode=$2 c lvl master=""
	shift 2
	[ "$mode" = count ] && master="master_process off;"
	cat <<EOF
$NGINX_USER
$master
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
$(nginx_temp_paths "$dir/tmp")
    upstream u {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
        keepalive_requests 1000000000;
        keepalive_timeout 30s;
    }
    server {
        listen 127.0.0.1:$GW_PORT backlog=4096 reuseport;
EOF
	for c in $(printf '%s\n' "$@" | sed 's/-[0-9]*k$//' | sort -u); do
		echo "        location /$c/ {"
		echo "            proxy_pass http://u;"
		echo "            proxy_http_version 1.1;"
		echo "            proxy_set_header Connection \"\";"
		echo "            proxy_max_temp_file_size 0;"
		case "$c" in gzip-*)
			lvl=${c#gzip-}
			echo "            gzip on;"
			echo "            gzip_comp_level $lvl;"
			echo "            gzip_types application/json;"
			echo "            gzip_min_length 0;"
			echo "            gzip_proxied any;"
			echo "            gzip_vary on;"
			;;
		esac
		echo "        }"
	done
	echo "    }"
	echo "}"
}

conf_haproxy() {  # count|run cases...
	local mode=$1 maxconn=20000 comp=""
	shift
	[ "$mode" = count ] && maxconn=2000  # valgrind keeps descriptors for itself
	case " $* " in *" gzip-"*)
		comp="    filter compression
    compression algo gzip
    compression type application/json" ;;
	esac
	cat <<EOF
global
    nbthread 1
    maxconn $maxconn
    no strict-limits
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout http-request 10s
    timeout client 30s
    timeout http-keep-alive 60s
    timeout connect 1s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$GW_PORT
    default_backend be
backend be
$comp
    server up 127.0.0.1:$UP_PORT
EOF
}

start_gw() {  # name run|count cases...: the gateway on GW_CPU, ready
	local name=$1 mode=$2 dir vg=() wait_s=10
	shift 2
	dir="$WORK/gw-$name-$mode"
	server_dir "$dir"
	if [ "$mode" = count ]; then
		vg=(valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$dir/cg.out")
		wait_s=120  # callgrind starts slowly
	fi
	case "$name" in
	sluice)
		conf_sluice "$@" >"$dir/sluice.yaml"
		"$SLUICE" -t -c "$dir/sluice.yaml" >"$dir/logs/check" 2>&1 ||
			{ cat "$dir/logs/check" >&2; die "sluice -t refuses $dir/sluice.yaml"; } ;;
	nginx) conf_nginx "$dir" "$mode" "$@" >"$dir/nginx.conf" ;;
	haproxy) conf_haproxy "$mode" "$@" >"$dir/haproxy.cfg" ;;
	esac
	gw_start "$name" "$name" "$dir" "$GW_CPU" ${vg[@]+"${vg[@]}"}
	wait_http "http://127.0.0.1:$GW_PORT/$(case_prefix "$1")/4k.json" "$wait_s" "$GW_PID" ||
		gw_failed "$name did not start (or does not answer 200 at /$(case_prefix "$1")/4k.json)"
	gw_procs
}

stop_gw() {
	gw_stop fatal
	# anything the gateway said, but HAProxy's start-up notices
	gw_messages '^$|haproxy version is|path to executable is|Cannot raise FD limit|FD limit \([0-9]+\) too low|^==[0-9]+==' 5
}

accept_enc() {  # case -> the Accept-Encoding value ("" for plain)
	case "$(case_alg "$1")" in plain) echo "" ;; *) case_alg "$1" ;; esac
}
url_of() { echo "http://127.0.0.1:$GW_PORT/$(case_prefix "$1")/$(case_size "$1").json"; }

# The check: 200, the case's Content-Encoding, the body decoded is the
# original; one line of compress-bytes.csv (body bytes as sent, header bytes)
BYTES_CSV="$OUT/compress-bytes.csv"
echo "case,gateway,content_encoding,body_bytes,header_bytes,original_bytes" >"$BYTES_CSV"
check_case() {  # case gateway
	local c=$1 g=$2 ae f code sizes ce dec
	ae=$(accept_enc "$c")
	f="$WORK/check-$c-$g"
	sizes=$("$CURL" -s --max-time 10 ${ae:+-H "Accept-Encoding: $ae"} -D "$f.head" -o "$f.body" \
		-w '%{http_code} %{size_download} %{size_header}' "$(url_of "$c")") || die "$g/$c: curl failed"
	read -r code body head <<<"$sizes"
	[ "$code" = 200 ] || die "$g/$c: status $code, not 200"
	ce=$(tr -d '\r' <"$f.head" | awk 'tolower($1) == "content-encoding:" { print tolower($2) }')
	[ "$ce" = "$ae" ] || die "$g/$c: Content-Encoding '${ce:-none}', not '${ae:-none}' (headers in $f.head)"
	case "$ae" in
	gzip) dec=(gzip -dc) ;;
	br) dec=(brotli -dc) ;;
	zstd) dec=(zstd -qdc) ;;
	*) dec=(cat) ;;
	esac
	"${dec[@]}" <"$f.body" >"$f.decoded" 2>"$f.err" || { KEEP=1; die "$g/$c: ${dec[0]} cannot decode the body ($(head -c 200 "$f.err")); kept in $f.body"; }
	cmp -s "$f.decoded" "$UP/www/$(case_size "$c").json" ||
		{ KEEP=1; die "$g/$c: the decoded body differs from the original (kept in $f.decoded)"; }
	echo "$c,$g,${ce:-identity},$body,$head,$(stat -c %s "$UP/www/$(case_size "$c").json")" >>"$BYTES_CSV"
	log "$(printf 'check %-11s %-8s %-8s %6s body bytes (of %s), %s header bytes: decoded = original' \
		"$c" "$g" "${ce:-identity}" "$body" "$(stat -c %s "$UP/www/$(case_size "$c").json")" "$head")"
}

# ---------------------------------------------------------------- --count
# (cg_objects, cg_dump: lib.sh)
count_load() {  # case n: h2load over HTTP/1.1, every request must succeed
	local ae
	ae=$(accept_enc "$1")
	taskset -c "$LOAD_CPU" "$H2LOAD" --h1 -n "$2" -c 4 ${ae:+-H "Accept-Encoding: $ae"} "$(url_of "$1")" \
		>"$WORK/count-load.txt" 2>&1 || true
	if ! grep -q "$2 succeeded, 0 failed" "$WORK/count-load.txt" || ! grep -q "status codes: $2 2xx" "$WORK/count-load.txt"; then
		cat "$WORK/count-load.txt" >&2
		die "$GW_NAME/$1: not every counted request succeeded"
	fi
}
run_count() {
	local csv="$OUT/compress-count.csv" g c cs n=$REQUESTS
	echo "case,gateway,object,instructions_per_request" >"$csv"
	for g in "${GWS[@]}"; do
		cs=()
		for c in "${CASES[@]}"; do
			case " $(case_gateways "$c" | paste -sd ' ') " in *" $g "*) cs+=("$c") ;; esac
		done
		[ ${#cs[@]} -gt 0 ] || continue
		log "count: $g under callgrind (start-up ~10-60 s): ${cs[*]}"
		start_gw "$g" count "${cs[@]}"
		for c in "${cs[@]}"; do check_case "$c" "$g"; count_load "$c" 50; done
		# a dump for nothing: the costs of code that ran before the first
		# zeroing and were never dumped would be in the next dump
		cg_dump warm
		for c in "${cs[@]}"; do
			callgrind_control -z "$GW_PID" >/dev/null 2>&1 || die "callgrind_control -z failed"
			count_load "$c" "$n"
			cg_dump "$c.n1"
			callgrind_control -z "$GW_PID" >/dev/null 2>&1 || die "callgrind_control -z failed"
			count_load "$c" $((2 * n))
			cg_dump "$c.n2"
			cg_objects "$GW_DIR/$c.n1" >"$GW_DIR/$c.o1"
			cg_objects "$GW_DIR/$c.n2" >"$GW_DIR/$c.o2"
			awk -v c="$c" -v g="$g" -v n="$n" '
				FNR == NR { a[$1] = $2; next }
				{ d = ($2 - a[$1]) / n; if (d >= 1) printf "%s,%s,%s,%.0f\n", c, g, $1, d }' \
				"$GW_DIR/$c.o1" "$GW_DIR/$c.o2" | sort -t, -k4 -rn >>"$csv"
			# COMPRESS_KEEP=DIR keeps the 2N dump as DIR/GATEWAY.CASE.cg
			# for callgrind_annotate
			if [ -n "${COMPRESS_KEEP:-}" ]; then
				mkdir -p "$COMPRESS_KEEP" && cp "$GW_DIR/$c.n2" "$COMPRESS_KEEP/$g.$c.cg"
			fi
			[ "$KEEP" = 1 ] || rm -f "$GW_DIR/$c.n1" "$GW_DIR/$c.n2"
			log "$(printf 'count %-11s %-8s %12s instructions per request (%s and %s requests)' "$c" "$g" \
				"$(awk -F, -v c="$c" -v g="$g" '$1 == c && $2 == g { t += $4 } END { printf "%.0f", t }' "$csv")" "$n" $((2 * n)))"
		done
		stop_gw
	done
}

# ---------------------------------------------------------------- timing
CSV="$OUT/compress.csv"
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime stime of GW_PROCS, ticks
	local p u=0 t=0 a b
	for p in $GW_PROCS; do
		read -r a b <<<"$(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12, $13 }')"
		u=$((u + a))
		t=$((t + b))
	done
	echo "$u $t"
}
load_cpu_stat() {  # busy total jiffies of LOAD_CPU
	awk -v c="cpu$LOAD_CPU" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
wrk_cmd() {  # case seconds
	local ae a
	ae=$(accept_enc "$1")
	a=(taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$CONNS" -d"$2s" --latency)
	[ -n "$ae" ] && a+=(-H "Accept-Encoding: $ae")
	a+=("$(url_of "$1")")
	printf '%q ' "${a[@]}"
}
run_one() {  # case gateway round
	local c=$1 g=$2 r=$3 cmd out t0 t1 l0 l1 s0 s1 w bytes
	start_gw "$g" run "$c"
	[ "$r" = 1 ] && check_case "$c" "$g"
	# (the redirections inside eval's string: on the child only, so that a
	# trap that runs when wrk ends still writes to the script's stderr)
	eval "timeout 60 $(wrk_cmd "$c" "$WARMUP") >/dev/null 2>&1" || log "the warm-up of $g/$c failed"
	out="$WORK/wrk-$c-$g-$r.txt"
	cmd=$(wrk_cmd "$c" "$SECONDS_RUN")
	echo "$cmd" >"$out.cmd"
	l0=$(load_cpu_stat)
	t0=$(cpu_ticks)
	s0=$(date +%s.%N)
	eval "timeout $((SECONDS_RUN + 60)) $cmd >$(printf '%q' "$out") 2>&1" || log "wrk failed for $g/$c: $(tail -n 2 "$out")"
	s1=$(date +%s.%N)
	t1=$(cpu_ticks)
	l1=$(load_cpu_stat)
	stop_gw
	w=$("$PYTHON" "$HERE/report.py" parse-wrk "$out") || w="0 0 nan nan 0 0 0 0 0 0"
	read -r req rps p50 p99 serr _ _ _ _ non2xx <<<"$w"
	# wrk's "N requests in T, B read" (B with a binary unit)
	bytes=$(sed -n 's/^ *[0-9]* requests in [^,]*, \([0-9.]*\)\([KMGT]*\)B read.*/\1 \2/p' "$out" |
		awk '{ m = 1; if ($2 == "K") m = 1024; if ($2 == "M") m = 1048576; if ($2 == "G") m = 1073741824; if ($2 == "T") m = 1099511627776; printf "%.0f", $1 * m }')
	read -r u0 y0 <<<"$t0"
	read -r u1 y1 <<<"$t1"
	read -r lb0 lt0 <<<"$l0"
	read -r lb1 lt1 <<<"$l1"
	awk -v c="$c" -v g="$g" -v r="$r" -v n="$req" -v rps="$rps" -v p50="$p50" -v p99="$p99" \
		-v e="$serr" -v x="$non2xx" -v u="$((u1 - u0))" -v y="$((y1 - y0))" -v hz="$CLK_TCK" -v s0="$s0" -v s1="$s1" \
		-v lb="$((lb1 - lb0))" -v lt="$((lt1 - lt0))" -v b="${bytes:-0}" -v conns="$CONNS" 'BEGIN {
		secs = s1 - s0; nn = n > 0 ? n : 1; t = u + y; k = 1e6 / hz / nn
		printf "%s,%s,%d,%d,%.2f,%d,%.0f,%s,%s,%d,%d,%d,%d,%.2f,%.2f,%.2f,%.3f,%.3f,%.0f\n", c, g, r, conns, secs, n, rps,
			p50, p99, e, x, u, y, t * k, u * k, y * k, t / hz / secs, lt ? lb / lt : 0, b / nn }' >>"$CSV"
	log "$(tail -n 1 "$CSV" | awk -F, '{ printf "%-11s %-8s r%s: %7s req/s  %8s us CPU/req (user %s, sys %s)  p99 %s ms  gateway %.0f%% busy, load CPU %.0f%%  %s bytes/response read  errors %s + %s non-2xx", $1, $2, $3, $7, $14, $15, $16, $9, $17 * 100, $18 * 100, $19, $10, $11 }')"
	[ "${serr:-0}" = 0 ] && [ "${non2xx:-0}" = 0 ] && return 0
	log "WARNING: $g/$c r$r: $serr socket errors, $non2xx non-2xx answers"
}

# ---------------------------------------------------------------- main
START=$(date +%s)
DATE_START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "scratch: $WORK; out: $OUT; cases: ${CASES[*]}; gateways: $GATEWAYS; ports: upstream $UP_PORT, gateway $GW_PORT"
if [ "$COUNT" = 1 ]; then
	run_count
else
	echo "case,gateway,round,conns,seconds,requests,rps,p50_ms,p99_ms,socket_errors,non2xx,cpu_user_ticks,cpu_sys_ticks,cpu_us_per_req,cpu_user_us_per_req,cpu_sys_us_per_req,gw_cpu_util,load_cpu_busy,bytes_read_per_resp" >"$CSV"
	log "${SECONDS_RUN}s per run, $ROUNDS round(s), $CONNS connections"
	for c in "${CASES[@]}"; do
		mapfile -t cgws < <(case_gateways "$c")
		[ ${#cgws[@]} -gt 0 ] || { log "$c: none of $GATEWAYS does it, left out"; continue; }
		for r in $(seq "$ROUNDS"); do
			for g in "${cgws[@]}"; do run_one "$c" "$g" "$r"; done
		done
	done
fi
ELAPSED=$(( $(date +%s) - START ))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

META="$WORK/meta.txt"
{
	echo "date=$DATE_START"
	echo "command=contrib/bench/compress.sh${ARGS:+ $ARGS}"
	echo "sluice_commit=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || true)$(git -C "$HERE" diff --quiet HEAD -- ../../src 2>/dev/null || echo ' (src/ modified)')"
	echo "sluice=$("$SLUICE" -V 2>&1 | head -n 1); $("$SLUICE" -V 2>&1 | grep -E '^(zlib|libbrotlienc|libzstd)' | paste -sd ';' | sed 's/;/; /g')"
	echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^nginx version: nginx\///') (zlib $("$PYTHON" -c 'import zlib; print(zlib.ZLIB_RUNTIME_VERSION)' 2>/dev/null || echo '?') on this system)"
	if case ",$GATEWAYS," in *,haproxy,*) true ;; *) false ;; esac; then
		echo "haproxy=$("$HAPROXY" -v 2>&1 | head -n 1 | sed 's/^HAProxy version //; s/ - https.*//'), $("$HAPROXY" -vv 2>&1 | grep -iE 'built with (libslz|zlib)' | head -n 1 | sed 's/^ *//; s/\.$//' | tr 'B' 'b')"
	fi
	if [ "$COUNT" = 1 ]; then
		echo "valgrind=$(valgrind --version 2>&1)"
		echo "h2load=$("$H2LOAD" --version 2>&1 | head -n 1)"
	else
		echo "wrk=$("$WRK" -v 2>&1 | head -n 1 | sed 's/ Copyright.*//')"
	fi
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc --all)"
	echo "kernel=$(uname -sr)"
	echo "load=$LOAD_START at start, $LOAD_END at end"
	echo "others=$OTHERS"
	echo "elapsed=$ELAPSED"
	echo "seconds=$SECONDS_RUN"
	echo "rounds=$ROUNDS"
	echo "conns=$CONNS"
	echo "requests=$REQUESTS"
	echo "gw_cpu=$GW_CPU"
	echo "load_cpu=$LOAD_CPU"
} >"$META"

"$PYTHON" - "$OUT" "$META" "$COUNT" <<'EOF'
import csv, os, statistics, sys
out, meta_path, count = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
meta = dict(l.rstrip("\n").split("=", 1) for l in open(meta_path) if "=" in l)
GW = ["sluice", "nginx", "haproxy"]
ORDER = ["gzip-1-4k", "gzip-1-64k", "gzip-6-4k", "gzip-6-64k", "br-4-4k", "br-4-64k",
         "zstd-3-4k", "zstd-3-64k", "plain-4k", "plain-64k"]
def coding(case, g):
    alg = case.split("-")[0]
    if alg == "plain":
        return "none"
    if g == "haproxy":
        return "gzip (slz)"
    return "%s %s" % ({"gzip": "gzip", "br": "Brotli", "zstd": "zstd"}[alg], case.split("-")[1])
def peers(case):
    """The peers at the same algorithm and level: slz stands in for level 1 only."""
    alg = case.split("-")[0]
    if alg == "gzip":
        return ["nginx", "haproxy"] if case.startswith("gzip-1-") else ["nginx"]
    if alg == "plain":
        return ["nginx", "haproxy"]
    return []
def fmt(x, d=0):
    return "-" if x is None else format(round(x, d), ",.%df" % d)
def ratio(a, b):
    return "-" if a is None or not b else "%.2f" % (a / b)

nbytes = {}
bpath = os.path.join(out, "compress-bytes.csv")
if os.path.exists(bpath):
    for r in csv.DictReader(open(bpath)):
        nbytes[(r["case"], r["gateway"])] = r

head = ["# Response compression: sluice, nginx and HAProxy", "",
        "contrib/bench/compress.sh, %s; `%s`." % (meta.get("date"), meta.get("command")), ""]
foot = ["", "Versions: %s; nginx %s; HAProxy %s." % (meta.get("sluice"), meta.get("nginx"), meta.get("haproxy", "-")),
        "Machine: %s, %s; load average %s; already running: %s; %s s in all." % (
            meta.get("cpu"), meta.get("kernel"), meta.get("load"), meta.get("others") or "nothing",
            meta.get("elapsed")),
        "This tree at %s." % meta.get("sluice_commit"), "",
        "Notes: Debian's nginx has no Brotli or zstd module and HAProxy 2.6 neither, so br-* and zstd-* "
        "have sluice alone. Debian's HAProxy compresses with libslz, not zlib: slz has no levels (a "
        "fraction of zlib level 1's CPU, for a larger output: see the body bytes), so the same \"gzip (slz)\" is in the "
        "gzip-1 and gzip-6 rows; it is a peer of gzip-1 only (x best peer of gzip-6 is against nginx's "
        "level 6). Each gateway has one worker on CPU %s; the upstream (nginx, static files, no "
        "compression) and wrk share CPU %s." % (meta.get("gw_cpu"), meta.get("load_cpu"))]

if count:
    rows = list(csv.DictReader(open(os.path.join(out, "compress-count.csv"))))
    tot, parts = {}, {}
    for r in rows:
        k = (r["case"], r["gateway"])
        n = float(r["instructions_per_request"])
        tot[k] = tot.get(k, 0) + n
        parts.setdefault(k, []).append("%s %s" % (r["object"], format(int(n), ",")))
    lines = ["| case | gateway | coding | body bytes | instructions per request | x best peer | x nginx | by object |",
             "|---|---|---|--:|--:|--:|--:|---|"]
    for case in ORDER:
        gws = [g for g in GW if (case, g) in tot]
        if not gws:
            continue
        pv = [tot[(case, g)] for g in peers(case) if (case, g) in tot]
        best = min(pv) if pv else None
        for g in gws:
            b = nbytes.get((case, g), {}).get("body_bytes")
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                case, g, coding(case, g), fmt(float(b)) if b else "-", fmt(tot[(case, g)]),
                ratio(tot[(case, g)], best) if g == "sluice" else "",
                ratio(tot[(case, g)], tot.get((case, "nginx"))) if g == "sluice" else "",
                ", ".join(parts[(case, g)][:5])))
    text = "\n".join(head + lines + [
        "", "User-space instructions per request under callgrind (valgrind), the difference of %s and %d "
        "requests over %s (h2load --h1, 4 keep-alive connections), after a warm-up; the kernel's work "
        "(system calls, TCP) is not in them. x best peer: sluice against the lowest count of nginx and "
        "HAProxy at the same algorithm and level. Every object in compress-count.csv."
        % (meta["requests"], 2 * int(meta["requests"]), meta["requests"])] + foot) + "\n"
    open(os.path.join(out, "compress-count.md"), "w").write(text)
    print(text)
    sys.exit(0)

rows = list(csv.DictReader(open(os.path.join(out, "compress.csv"))))
med = {}
for case in ORDER:
    for g in GW:
        rs = [r for r in rows if r["case"] == case and r["gateway"] == g]
        if not rs:
            continue
        m = {k: statistics.median(float(r[k]) for r in rs)
             for k in ("rps", "cpu_us_per_req", "cpu_user_us_per_req", "cpu_sys_us_per_req",
                       "p99_ms", "load_cpu_busy", "bytes_read_per_resp")}
        m["errors"] = sum(int(r["socket_errors"]) + int(r["non2xx"]) for r in rs)
        m["runs"] = len(rs)
        m["spread"] = (max(float(r["cpu_us_per_req"]) for r in rs) - min(float(r["cpu_us_per_req"]) for r in rs))
        med[(case, g)] = m
lines = ["## Summary: CPU per compressed response, sluice against the best peer", "",
         "| case | sluice µs | nginx µs | HAProxy µs | best peer | sluice / best peer | target <= 0.9 | sluice / nginx | sluice bytes / best peer's |",
         "|---|--:|--:|--:|---|--:|---|--:|--:|"]
for case in ORDER:
    if (case, "sluice") not in med:
        continue
    s = med[(case, "sluice")]["cpu_us_per_req"]
    pv = [(med[(case, g)]["cpu_us_per_req"], g) for g in peers(case) if (case, g) in med]
    best = min(pv) if pv else None
    cell = lambda g: fmt(med[(case, g)]["cpu_us_per_req"], 2) if (case, g) in med else "-"
    target = "-" if not best or case.startswith("plain") else ("yes" if s <= 0.9 * best[0] else "**no**")
    sb = nbytes.get((case, "sluice"), {}).get("body_bytes")
    pb = nbytes.get((case, best[1]), {}).get("body_bytes") if best else None
    ng = med[(case, "nginx")]["cpu_us_per_req"] if (case, "nginx") in med else None
    lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        case, cell("sluice"), cell("nginx"), cell("haproxy"),
        "%s, %s" % ({"nginx": "nginx", "haproxy": "HAProxy"}[best[1]], coding(case, best[1])) if best else "none",
        ratio(s, best[0]) if best else "-", target, ratio(s, ng),
        ratio(float(sb), float(pb)) if sb and pb else "-"))
lines += ["", "## Every gateway and case", "",
          "| case | gateway | coding | responses/s | µs CPU per response | user + sys | spread | x best peer | body bytes | x original | bytes read per response | p99 ms | load CPU busy | errors |",
          "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
for case in ORDER:
    gws = [g for g in GW if (case, g) in med]
    pv = [med[(case, g)]["cpu_us_per_req"] for g in peers(case) if (case, g) in med]
    best = min(pv) if pv else None
    for g in gws:
        m = med[(case, g)]
        b = nbytes.get((case, g), {})
        body = float(b["body_bytes"]) if b else None
        orig = float(b["original_bytes"]) if b else None
        lines.append("| %s | %s | %s | %s | %s | %s + %s | %s | %s | %s | %s | %s | %s | %.0f %% | %d |" % (
            case, g, coding(case, g), fmt(m["rps"]), fmt(m["cpu_us_per_req"], 2),
            fmt(m["cpu_user_us_per_req"], 1), fmt(m["cpu_sys_us_per_req"], 1), fmt(m["spread"], 2),
            ratio(m["cpu_us_per_req"], best) if g == "sluice" else "",
            fmt(body), ratio(body, orig), fmt(m["bytes_read_per_resp"]), fmt(m["p99_ms"], 2),
            m["load_cpu_busy"] * 100, m["errors"]))
lines += ["",
          "Medians of %s round(s) of %s s, %s keep-alive connections (wrk, 1 thread); every run in "
          "compress.csv. µs CPU per response: the gateway's user + system time (/proc/PID/stat, nginx's "
          "master and worker) over the run / responses; spread: the highest run's less the lowest's. "
          "x best peer: sluice / the lowest of the peers at the same algorithm and level (gzip-1: nginx "
          "and HAProxy's slz; gzip-6: nginx; plain: nginx and HAProxy). Body bytes: the body as the "
          "gateway sent it, compressed, without chunk framing (curl's size_download, checked to decode "
          "to the original); bytes read per response: wrk's total read / responses (status line, "
          "headers, chunk framing, body). Load CPU busy near 100 %%: wrk and the upstream, not the "
          "gateway, set responses/s (CPU per response is still the gateway's)."
          % (meta["rounds"], meta["seconds"], meta["conns"])]
text = "\n".join(head + lines + foot) + "\n"
open(os.path.join(out, "compress.md"), "w").write(text)
print(text)
EOF
if [ "$COUNT" = 1 ]; then log "done in ${ELAPSED}s: $OUT/compress-count.md"; else log "done in ${ELAPSED}s: $OUT/compress.md"; fi
echo "$OUT"
