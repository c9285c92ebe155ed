#!/usr/bin/env bash
# contrib/bench/count.sh -- what sluice, nginx and HAProxy each do per
# request, counted rather than timed (issue 29, doc/performance.md).
#
# usage: contrib/bench/count.sh [--requests N] [--scenarios LIST]
#            [--gateways LIST] [--no-instructions] [--no-syscalls]
#            [--out DIR] [--keep]
#
#   --requests N     N for the phases (default 5000): each count is the
#                    difference of a phase of N requests and one of 2N,
#                    divided by N, so that start-up, warm-up and the
#                    loop's idle wake-ups between phases cancel out
#   --scenarios LIST from ka,close,real,upload (default: ka,close,real)
#                    ka     keep-alive GET / with wrk's three fields (Host,
#                           User-Agent, Accept), a 64-byte answer
#                    close  the same with Connection: close, a connection
#                           a request
#                    real   a payment API call on keep-alive: POST with
#                           about 800 bytes of typical fields (a bearer
#                           token, cookies, User-Agent, traceparent,
#                           Content-Type, Idempotency-Key), a 1 KiB JSON
#                           body, a 600-byte JSON answer with typical
#                           response fields
#                    upload a 1 MiB POST on keep-alive (Content-Length),
#                           read whole by the upstream before it
#                           answers: contrib/bench/run.sh's "upload",
#                           counted; its phases are N/10 and 2N/10
#                           uploads (at least 1 and 2)
#   --gateways LIST  from sluice,nginx,haproxy (default: all three)
#   --no-instructions, --no-syscalls  skip one of the two counts
#   --out DIR        where count.md and count.csv go (default: a new
#                    directory /tmp/sluice-count-out.XXXXXX)
#   --keep           keep the scratch directory
#
# What is counted, per request, of the gateway's process alone (one
# worker or thread each; the upstream and the client are not counted):
#   instructions  user-space instructions, by valgrind's callgrind: the
#                 gateway runs under it, its counters zeroed before each
#                 phase and dumped after (callgrind_control)
#   syscalls      system calls, by perf on the raw_syscalls:sys_enter
#                 tracepoint of the gateway's threads, enabled for each
#                 phase only (perf stat --control), in a run without
#                 valgrind; with a breakdown by call
# strace would slow the gateway enough to change how nginx batches its
# events; perf's tracepoint does not. Every keep-alive connection makes a
# request right before each phase: sluice parks a connection idle for 1 s
# and unparking it would be counted.
#
# The upstream is nginx (one worker, on LOAD_CPU), answering from memory:
# / a 64-byte body, /api/v1/payments a 600-byte JSON body with the fields
# a payment API sends. The gateways: as contrib/bench/run.sh configures
# them (sluice workers: 1, no access log; nginx worker_processes 1,
# master_process off, proxy_http_version 1.1 with a keep-alive pool;
# HAProxy nbthread 1, http-reuse always), on GW_CPU. The client is
# Python, one request in flight at a time, over 8 connections for ka and
# real. Traffic is to 127.0.0.1 only; everything started here is stopped
# on exit.
#
# Environment: SLUICE (default ./build/src/sluice), NGINX, HAPROXY,
# PYTHON (python3), GW_CPU (0), LOAD_CPU (1), UP_PORT and GW_PORT (the
# first free ports from 19700 and 19800), MAX_SECONDS (1800).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

SLUICE=${SLUICE:-./build/src/sluice}
NGINX=${NGINX:-nginx}
HAPROXY=${HAPROXY:-haproxy}
PYTHON=${PYTHON:-python3}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
MAX_SECONDS=${MAX_SECONDS:-1800}

N=5000
SCENARIOS="ka,close,real"
GATEWAYS="sluice,nginx,haproxy"
DO_IR=1
DO_SYS=1
OUT=""
KEEP=0

while [ $# -gt 0 ]; do
	case "$1" in
	--requests) N=$2; shift ;;
	--scenarios) SCENARIOS=$2; shift ;;
	--gateways) GATEWAYS=$2; shift ;;
	--no-instructions) DO_IR=0 ;;
	--no-syscalls) DO_SYS=0 ;;
	--out) OUT=$2; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
	shift
done
case "$N" in ''|*[!0-9]*|0) die "--requests wants a positive integer" ;; esac
IFS=, read -r -a SCS <<<"$SCENARIOS"
IFS=, read -r -a GWS <<<"$GATEWAYS"
for s in "${SCS[@]}"; do case "$s" in ka|close|real|upload) ;; *) die "unknown scenario $s" ;; esac; done
for g in "${GWS[@]}"; do case "$g" in sluice|nginx|haproxy) ;; *) die "unknown gateway $g" ;; esac; done
for c in "$NGINX" "$PYTHON" taskset ss; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found"
done
[ "$DO_IR" = 0 ] || for c in valgrind callgrind_control; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found (apt-get install valgrind)"
done
[ "$DO_SYS" = 0 ] || command -v perf >/dev/null 2>&1 ||
	die "perf not found (apt-get install linux-perf)"
[ -x "$SLUICE" ] || die "$SLUICE is not executable (build first, or set SLUICE)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")

UP_PORT=${UP_PORT:-$(pick_port 19700)}
GW_PORT=${GW_PORT:-$(pick_port 19800)}

out_dir sluice-count-out
scratch_dir sluice-count
watchdog_start "$MAX_SECONDS"

# ---- the upstream: nginx answering from memory
server_dir "$WORK/up"
mkdir -p "$WORK/up/www"
# upload: a POST to a static file is refused 405, turned into 200 and
# /ok; the mirror module reads the whole body before that (content phase)
printf 'ok\n' >"$WORK/up/www/ok"
: >"$WORK/up/www/upload"
chmod -R a+rX "$WORK/up/www"
# 600 bytes of a payment API's answer
RESP_JSON=$("$PYTHON" - <<'PY'
import json
body = {"id": "pay_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment",
        "amount": 4200, "currency": "eur", "status": "succeeded",
        "created": 1732406400, "livemode": False,
        "customer": "cus_NffrFeUfNV2Hib",
        "payment_method": "pm_1MtwBwLkdIwHu7ixiK6sY9Fv",
        "description": "Order 2024-11-24-000184",
        "metadata": {"order_id": "184", "channel": "web"},
        "receipt_email": "jane.doe@example.com",
        "latest_charge": "ch_3MtwBwLkdIwHu7ix2pAx7Ha1",
        "idempotency_key": "c0f3a5be-6b1e-4f7e-9f55-1d5e6c0b8a41",
        "risk": {"score": 12, "level": "normal"}}
s = json.dumps(body, separators=(",", ":"))
s += " " * (600 - len(s))
print(s[:600], end="")
PY
)
printf '%s' "$RESP_JSON" >"$WORK/up/payment.json"
cat >"$WORK/up/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $WORK/up/nginx.pid;
error_log $WORK/up/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$WORK/up/tmp")
    server_tokens off;
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        location = / {
            default_type text/plain;
            return 200 '$(head -c 64 /dev/zero | tr '\0' 'x')';
        }
        location = /upload {
            root $WORK/up/www;
            client_max_body_size 2m;
            client_body_buffer_size 2m;
            mirror /_mirror;
            mirror_request_body on;
            error_page 405 =200 /ok;
        }
        location = /_mirror { internal; return 204; }
        location = /ok { root $WORK/up/www; }
        location = /api/v1/payments {
            client_body_buffer_size 16k;
            default_type application/json;
            add_header Cache-Control "no-store" always;
            add_header X-Content-Type-Options "nosniff" always;
            add_header Strict-Transport-Security "max-age=63072000" always;
            add_header Request-Id "req_8b3f1c2d9e4a5b6c" always;
            add_header Idempotency-Key "c0f3a5be-6b1e-4f7e-9f55-1d5e6c0b8a41" always;
            add_header Vary "Accept-Encoding" always;
            return 200 '$RESP_JSON';
        }
    }
}
EOF
server_start nginx "$WORK/up" "$LOAD_CPU"
wait_listen "$UP_PORT" 30 "$SERVER_PID" || server_failed "$WORK/up" "the upstream did not start"

# ---- the client: exactly n requests of a scenario
cat >"$WORK/client.py" <<'PY'
import socket, sys
port, scenario, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
CONNS = 8
ka = ("GET / HTTP/1.1\r\nHost: bench.example.com\r\n"
      "User-Agent: wrk/4.1.0\r\nAccept: */*\r\n\r\n").encode()
close = ("GET / HTTP/1.1\r\nHost: bench.example.com\r\n"
         "User-Agent: wrk/4.1.0\r\nAccept: */*\r\nConnection: close\r\n"
         "\r\n").encode()
body = ('{"amount":4200,"currency":"eur","payment_method":'
        '"pm_1MtwBwLkdIwHu7ixiK6sY9Fv","customer":"cus_NffrFeUfNV2Hib",'
        '"description":"Order 2024-11-24-000184","capture":true,'
        '"metadata":{"order_id":"184","channel":"web","cart":"'
        + "c" * 600 + '"},"statement_descriptor":"EXAMPLE SHOP"}')
body = (body + " " * 1024)[:1024].encode()
real = ("POST /api/v1/payments HTTP/1.1\r\n"
        "Host: api.pay.example.com\r\n"
        "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
        "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
        "Safari/605.1.15 PaySDK/3.14.2\r\n"
        "Accept: application/json\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "Accept-Language: en-GB,en;q=0.9\r\n"
        "Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6"
        "IjIwMjQtMTEifQ.eyJzdWIiOiJhY2N0XzFNdHdCd0xrZEl3SHU3aXgiLCJzY29wZSI6"
        "InBheW1lbnRzOndyaXRlIiwiaWF0IjoxNzMyNDA2NDAwLCJleHAiOjE3MzI0MTAwMDB9"
        ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1mb3ItdGhlLWJlbmNobWFyay1vbmx5LWFiYw\r\n"
        "Cookie: __cf_bm=Qx7d1s2k3m4n5b6v7c8x9z0a1s2d3f4g5h6j7k8l9; "
        "session=s%3Aj8Kq2mZ0vX1cB3nM5lP7oI9uY.RtEwQaSdFgHjKlZxCvBnM1234; "
        "locale=en-GB\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: @LEN@\r\n"
        "Idempotency-Key: c0f3a5be-6b1e-4f7e-9f55-1d5e6c0b8a41\r\n"
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
        "X-Client-Version: 3.14.2\r\n"
        "\r\n").replace("@LEN@", str(len(body))).encode() + body

def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise SystemExit("closed before a response")
        buf += d
    i = buf.index(b"\r\n\r\n")
    head = buf[:i].decode("latin-1")
    if not head.startswith("HTTP/1.1 200"):
        raise SystemExit("bad response: %r" % head[:200])
    cl = None
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            cl = int(v)
    rest = buf[i + 4:]
    if cl is None:
        raise SystemExit("no Content-Length: %r" % head)
    while len(rest) < cl:
        d = s.recv(65536)
        if not d:
            raise SystemExit("closed in the body")
        rest += d
    return rest[cl:]

def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

if scenario == "close":
    for _ in range(n):
        s = conn()
        s.sendall(close)
        read_response(s, b"")
        while s.recv(65536):
            pass
        s.close()
    sys.exit(0)
upload = (b"POST /upload HTTP/1.1\r\nHost: bench.example.com\r\n"
          b"User-Agent: wrk/4.1.0\r\nAccept: */*\r\n"
          b"Content-Type: application/octet-stream\r\n"
          b"Content-Length: 1048576\r\n\r\n"
          + b"0123456789abcdef" * 65536)
req = {"ka": ka, "real": real, "upload": upload}[scenario]
socks = [conn() for _ in range(CONNS)]
bufs = [b""] * CONNS
# each connection warm right before the phase (its first request is
# counted: one of the phase's n)
for k in range(n):
    i = k % CONNS
    socks[i].sendall(req)
    bufs[i] = read_response(socks[i], bufs[i])
PY

reqs() {  # scenario n: the requests a phase of n makes (upload: n/10)
	if [ "$1" = upload ]; then echo $((($2 + 9) / 10)); else echo "$2"; fi
}
load() {  # scenario n
	local n
	n=$(reqs "$1" "$2")
	taskset -c "$LOAD_CPU" "$PYTHON" "$WORK/client.py" "$GW_PORT" "$1" "$n" ||
		die "$g $1: the client failed"
}

# ---- the gateways, one at a time in WORK/gw
conf_sluice() {
	cat >"$WORK/gw/sluice.yaml" <<EOF
workers: 1
log: { level: warn, access: off }
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    limits: { max_body_bytes: 8MiB }
    routes:
      - { name: r, cluster: up }
clusters:
  - name: up
    endpoints: [127.0.0.1:$UP_PORT]
    pool: { max_idle: 256, max_requests: 0 }
EOF
}
conf_nginx() {
	cat >"$WORK/gw/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
master_process off;
daemon off;
pid $WORK/gw/nginx.pid;
error_log $WORK/gw/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
    client_max_body_size 8m;
$(nginx_temp_paths "$WORK/gw/tmp")
    upstream up {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
        keepalive_requests 1000000000;
    }
    server {
        listen 127.0.0.1:$GW_PORT backlog=4096;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_max_temp_file_size 0;
        }
    }
}
EOF
}
conf_haproxy() {
	cat >"$WORK/gw/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4000
defaults
    mode http
    http-reuse always
    option http-keep-alive
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 60s
frontend f
    bind 127.0.0.1:$GW_PORT
    default_backend b
backend b
    server s1 127.0.0.1:$UP_PORT
EOF
}

start_gw() {  # gateway [valgrind args...]: sets GW_PID
	local g=$1
	shift
	server_dir "$WORK/gw"
	"conf_$g"
	gw_start "$g" "$g" "$WORK/gw" "$GW_CPU" "$@"
	wait_listen "$GW_PORT" 30 "$GW_PID" || gw_failed
	sleep 1
}

ir_phase() {  # scenario n: the gateway's instructions over n requests
	local part
	callgrind_control -z "$GW_PID" >/dev/null 2>&1
	load "$1" "$2"
	callgrind_control -d "$GW_PID" >/dev/null 2>&1
	part=$(ls "$WORK/$g.cg".* | sort -t. -k3 -n | tail -1)
	cg_objects "$part" | awk '{ t += $2 } END { printf "%.0f\n", t }'
	rm -f "$WORK/$g.cg".*
}

# perf on the gateway's threads, enabled around one phase; prints
# "total call=count ..." for the phase
SYSCALLS="read readv recvfrom recvmsg write writev sendto sendmsg sendfile64 \
epoll_wait epoll_pwait epoll_ctl accept4 accept connect socket close \
shutdown setsockopt getsockopt ioctl fcntl getsockname getpeername \
clock_gettime gettimeofday splice"
sys_phase() {  # scenario n
	local ev="raw_syscalls:sys_enter" c out
	for c in $SYSCALLS; do
		[ -d "/sys/kernel/tracing/events/syscalls/sys_enter_$c" ] ||
			[ -d "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$c" ] ||
			continue
		ev="$ev,syscalls:sys_enter_$c"
	done
	rm -f "$WORK/ctl" "$WORK/ack"
	mkfifo "$WORK/ctl" "$WORK/ack"
	perf stat -x, -e "$ev" -p "$GW_PID" -D -1 \
		--control "fifo:$WORK/ctl,$WORK/ack" -o "$WORK/perf.out" &
	local ppid=$!
	exec 8>"$WORK/ctl" 9<"$WORK/ack"
	echo enable >&8
	read -r -u 9 _
	load "$1" "$2"
	echo disable >&8
	read -r -u 9 _
	exec 8>&- 9<&-
	kill -INT "$ppid" 2>/dev/null || true
	wait "$ppid" 2>/dev/null || true
	awk -F, '/raw_syscalls:sys_enter/ { t = $1 }
		/syscalls:sys_enter_/ && $1 + 0 > 0 { sub(/.*sys_enter_/, "", $3); b = b " " $3 "=" $1 }
		END { print t + 0 b }' "$WORK/perf.out"
}

# one line of the csv per gateway and scenario:
# gateway,scenario,instructions,syscalls,breakdown
echo "gateway,scenario,instructions_per_request,syscalls_per_request,syscalls_by_call" >"$OUT/count.csv"
declare -A IR SYS BD
for g in "${GWS[@]}"; do
	for sc in "${SCS[@]}"; do
		# the requests between the two phases
		D=$(($(reqs "$sc" "$((2 * N))") - $(reqs "$sc" "$N")))
		if [ "$DO_IR" = 1 ]; then
			start_gw "$g" valgrind --tool=callgrind --dump-instr=no \
				--callgrind-out-file="$WORK/$g.cg"
			load "$sc" 400
			a=$(ir_phase "$sc" "$N")
			b=$(ir_phase "$sc" "$((2 * N))")
			IR[$g,$sc]=$(awk -v a="$a" -v b="$b" -v n="$D" 'BEGIN { printf "%.0f", (b - a) / n }')
			gw_stop
			log "$g $sc: ${IR[$g,$sc]} instructions a request"
		fi
		if [ "$DO_SYS" = 1 ]; then
			start_gw "$g"
			load "$sc" 400
			read -r a abd <<<"$(sys_phase "$sc" "$N")"
			read -r b bbd <<<"$(sys_phase "$sc" "$((2 * N))")"
			SYS[$g,$sc]=$(awk -v a="$a" -v b="$b" -v n="$D" 'BEGIN { printf "%.2f", (b - a) / n }')
			# the breakdown, per request, of the calls made
			BD[$g,$sc]=$("$PYTHON" - "$D" "$abd" "$bbd" <<'PY'
import sys
n = int(sys.argv[1])
def parse(s):
    return {k: float(v) for k, v in (x.split("=") for x in s.split())}
a, b = parse(sys.argv[2]), parse(sys.argv[3])
out = []
for k in sorted(b, key=lambda k: -(b[k] - a.get(k, 0))):
    d = (b[k] - a.get(k, 0)) / n
    if d >= 0.005:
        out.append("%s %.2f" % (k, d))
print(", ".join(out))
PY
)
			gw_stop
			log "$g $sc: ${SYS[$g,$sc]} system calls a request (${BD[$g,$sc]})"
		fi
		echo "$g,$sc,${IR[$g,$sc]:-},${SYS[$g,$sc]:-},\"${BD[$g,$sc]:-}\"" >>"$OUT/count.csv"
	done
done

"$PYTHON" - "$OUT" "$N" <<'PY'
import csv, sys
out, n = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(out + "/count.csv")))
scs, gws = [], []
for r in rows:
    if r["scenario"] not in scs:
        scs.append(r["scenario"])
    if r["gateway"] not in gws:
        gws.append(r["gateway"])
val = {(r["gateway"], r["scenario"]): r for r in rows}
lines = []
for what, key in (("user-space instructions", "instructions_per_request"),
                  ("system calls", "syscalls_per_request")):
    if not any(r[key] for r in rows):
        continue
    lines.append("| %s per request | %s |" % (what, " | ".join(gws + (["sluice x best peer"] if "sluice" in gws and len(gws) > 1 else []))))
    lines.append("|---|" + "--:|" * (len(gws) + (1 if "sluice" in gws and len(gws) > 1 else 0)))
    for sc in scs:
        cells = []
        nums = {}
        for g in gws:
            v = val.get((g, sc), {}).get(key, "")
            cells.append(format(float(v), ",.0f") if v and key.startswith("instr") else (v or "-"))
            if v:
                nums[g] = float(v)
        if "sluice" in nums and len(nums) > 1:
            best = min(v for g, v in nums.items() if g != "sluice")
            cells.append("%.2f" % (nums["sluice"] / best if best else 0))
        elif "sluice" in gws and len(gws) > 1:
            cells.append("-")
        lines.append("| %s | %s |" % (sc, " | ".join(cells)))
    lines.append("")
lines.append("Per request, the difference of %s and %d requests; every row of "
             "count.csv has the system calls by name." % (n, 2 * int(n)))
text = "\n".join(lines) + "\n"
open(out + "/count.md", "w").write(text)
print(text)
PY
log "report: $OUT/count.md"
