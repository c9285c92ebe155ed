#!/usr/bin/env bash
# contrib/bench/icount.sh -- instructions per request, counted by callgrind.
#
# usage: contrib/bench/icount.sh [--requests N] [--conns N] [--path P]
#            [--header 'Name: value'] [--sticky-users N]
#            [--h2 [--streams N] [--peers] [--tls]] [--h3 [--streams N]]
#            [--peers-lua]
#            [--up-chunked] [--post-chunked N[/K]]
#            NAME=SLUICE_BINARY:CONFIG [NAME=SLUICE_BINARY:CONFIG ...]
#
# Counts the instructions one sluice worker executes per keep-alive
# request: each binary runs under valgrind --tool=callgrind with the given
# configuration, a warm-up, then the counters are zeroed, N requests are
# made by a Python client over --conns keep-alive connections, and the
# count is read. Instruction counts do not depend on what else the
# machine is doing, so two builds or two configurations can be compared
# to well under 1 % on a shared machine, where CPU time per request moves
# by several percent between runs (doc/performance.md). It says nothing of
# system calls' cost in the kernel, of cache misses or of waiting: use
# contrib/bench/run.sh for those.
#
# CONFIG is a sluice YAML file in which @GW_PORT@ and @UP_PORT@ stand for
# the listener's and the upstream's ports, or one of the built-in names:
#   plain   one route to one cluster
#   split   a 90/10 split between two clusters (same upstream)
#   guard   that split with a canary guard (doc/fleet.md section 4)
#   sticky  the same split, sticky on header:X-User
#   upgrade plain, its route allowing WebSocket upgrades (no request asks)
#   mirror  plain, with 10 % of requests mirrored to a second cluster
#   reliable plain, with retry, health_check and outlier configured
#   edge    plain, with one local rate limit (never refusing) and the
#           two response rules of a payment API: set
#           Strict-Transport-Security, remove Server
#   edge-var the same limit, a request rule with a variable
#           (X-Real-IP: ${client_ip}) and the Strict-Transport-Security one
#   ext     plain, with auth.external asking cluster b (the same upstream)
#           at /auth with X-User sent: an HTTP check per request
#   allow   plain, with a route allow list of three ranges and a deny
#   traced  plain, with tracing: every request sampled, its two spans
#           exported over OTLP/HTTP to cluster b (the same upstream)
#   untraced that tracing configured, the route's tracing: false
#   waf     plain, its route with waf: the Core Rule Set of Debian's
#           modsecurity-crs, block mode (the requests pass the rules); the
#           count includes the WAF thread's instructions
#   nowaf   plain, with a second route (never asked) that has that waf:
#           what a route without a WAF pays for one being configured,
#           against twoway, the same two routes without the waf
#   zipidle plain, its route with compress: true, the client asking no
#           coding (no Accept-Encoding): what a route's compress costs
#           the requests that do not use it
#   zip     plain, its route with compress: { min_length: 0B }: with
#           --header 'Accept-Encoding: gzip' (or br, zstd) every answer
#           is compressed at once (chunked to HTTP/1.1, pieces to HTTP/2)
#   lua     plain, its route with lua: a script (set_one.lua, written into
#           the scratch directory) whose on_request sets one request field,
#           r:set("x-partner", "acme"); the upstream counts the counted
#           requests that reach it with x-partner: acme, and the run fails
#           unless all of them do (issue 80; contrib/bench/lua.sh)
# A built-in name with "-h2" after it (plain-h2, edge-h2, ...) is the same
# configuration on a listener with protocols: [h2, http/1.1] (doc/http2.md):
# with the HTTP/1.1 client it measures what HTTP/2 on a listener costs the
# HTTP/1.1 requests that do not use it. With --h2 the requests are HTTP/2
# (prior knowledge), made by h2load (Debian's nghttp2-client) over --conns
# connections with --streams streams at a time each (default 10); the
# configuration must speak h2 (a "-h2" name, or a file). With --peers
# too, nginx (one worker, master_process off, `listen ... http2`, a
# keep-alive upstream block) and HAProxy (nbthread 1, `bind ... proto
# h2`, http-reuse always) are counted after the sluice runs, the same
# way, proxying to the same upstream (NGINX and HAPROXY name their
# binaries): issue 43's target is sluice's count against the best of
# theirs. Without --h2, --peers counts their HTTP/1.1 (`listen`, `bind`
# plain, the same upstream blocks): with --post-chunked, what a chunked
# request body costs each (nginx buffers it and sends a Content-Length,
# proxy_request_buffering's default; HAProxy sends it chunked).
# With --peers-lua (or --peers and a run of the built-in lua), nginx and
# HAProxy are each counted twice, as above (nginx, haproxy) and with the
# lua scenario's script in their own Lua (nginx-lua, haproxy-lua): nginx
# with Debian's libnginx-mod-http-lua (LuaJIT; ndk_http_module.so and
# ngx_http_lua_module.so loaded from NGINX_MODULES, /usr/lib/nginx/modules)
# and `access_by_lua_block { ngx.req.set_header("x-partner", "acme") }` in
# its location; HAProxy (Lua 5.3 built in) with `lua-load` of a file whose
# action set_one does txn.http:req_set_header("x-partner", "acme") and
# `http-request lua.set_one` in its frontend. Their lua runs get the same
# check at the upstream as sluice's, so that a peer whose script does not
# run cannot report a small increment. Their plain runs then load the Lua
# too (nginx's two modules, HAProxy's lua-load, the action unused), as
# sluice's plain run is of a binary with Lua built in: lua less plain is
# what the script on a route costs (nginx's modules alone, about 40
# instructions a request). That difference, each gateway's, is what issue
# 80 compares (contrib/bench/lua.sh prints it).
# Valgrind needs no option of its own for LuaJIT: the machine code its JIT
# writes is in anonymous mappings, which the default --smc-check (all-non-
# file, valgrind 3.19) already watches; it is passed explicitly below so
# that an older valgrind (default "stack") cannot run stale translations.
# With --tls too, HTTP/2 goes over TLS (h2 by ALPN, a self-signed P-256
# certificate made for the run) to sluice, and to nginx (`listen ... ssl
# http2`) and HAProxy (`bind ... ssl alpn h2`) with --peers: each gateway
# then runs N requests and 2N requests on new connections, each between a
# zeroing and a dump, and the count is the difference over N, so that the
# handshakes (a few hundred thousand instructions each) cancel out and what
# is left is what a request costs on an open connection, OpenSSL's record
# layer included.
# With --h3 the requests are HTTP/3 (QUIC) to the same TLS listener with
# http3: { retry: never } added (a built-in name; doc/http3.md), made by
# tests/quicgo's slquic (quic-go 0.29's client; SLQUIC names a binary,
# else it is built once into ~/.cache/sluice-bench with
# tests/quicgo/build.sh) over --conns connections with --streams requests
# at a time each, N and 2N requests on new connections as with --tls, so
# that the handshakes cancel out. Issue 64's target: at most 1.3 times
# HTTP/2 over TLS (--tls) in the same run (contrib/bench/h3.sh runs both).
# With --sticky-users N the client sends X-User: u<i % N>.
# With --up-chunked the upstream frames its 100 bytes as one chunk and a
# trailer section of one field (X-Checksum) in place of a Content-Length:
# what a chunked answer costs (to an HTTP/2 client, its framing taken off
# and its trailer sent as a last HEADERS).
# With --post-chunked N/K the HTTP/1.1 client's requests are POSTs whose
# bodies of N bytes go chunked, K bytes a chunk (K defaults to N), with
# the whole request in one write: what a chunked request body costs (the
# HTTP/1.1 codec decodes it, the writer frames it again).
# With ICOUNT_KEEP=DIR in the environment each run's dump is kept as
# DIR/NAME.callgrind, for callgrind_annotate.
# ICOUNT_START_S (20) is how long a gateway may take to listen under
# callgrind: a file of 100,000 routes needs more (contrib/bench/scale.sh).
#
# Environment: PYTHON (python3), NGINX and HAPROXY (--peers), NGINX_MODULES
# (--peers-lua; /usr/lib/nginx/modules), UP_PORT and GW_PORT (the first
# free ports from 19300 and 19400; with --peers nginx and HAProxy take the
# first free ones after GW_PORT).
#
# Example, a plain route against a split one on the same binary:
#   contrib/bench/icount.sh plain=build/src/sluice:plain split=build/src/sluice:split
# and issue 80's Lua script against nginx's and HAProxy's (lua.sh runs
# this and prints the increments):
#   contrib/bench/icount.sh --peers-lua plain=build/src/sluice:plain lua=build/src/sluice:lua
# Traffic is to 127.0.0.1 only; everything started here is stopped on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
KEEP_ON_ERROR=0  # nothing in the scratch directory worth keeping

REQUESTS=20000
CONNS=8
PATH_Q=/
HEADERS=()
STICKY_USERS=0
H2=0
H3=0
PEERS=0
PEERS_LUA=0
TLS=0
STREAMS=10
UP_CHUNKED=0
POST_CHUNKED=
PYTHON=${PYTHON:-python3}

RUNS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--requests) REQUESTS=${2:?}; shift ;;
	--conns) CONNS=${2:?}; shift ;;
	--path) PATH_Q=${2:?}; shift ;;
	--header) HEADERS+=("${2:?}"); shift ;;
	--sticky-users) STICKY_USERS=${2:?}; shift ;;
	--h2) H2=1 ;;
	--streams) STREAMS=${2:?}; shift ;;
	--up-chunked) UP_CHUNKED=1 ;;
	--post-chunked) POST_CHUNKED=${2:?}; shift ;;
	--peers) PEERS=1 ;;
	--peers-lua) PEERS=1; PEERS_LUA=1 ;;
	--tls) TLS=1; H2=1 ;;
	--h3) H3=1; TLS=1 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*=*:*) RUNS+=("$1") ;;
	*) die "expected NAME=BINARY:CONFIG, got $1" ;;
	esac
	shift
done
[ ${#RUNS[@]} -gt 0 ] || die "nothing to measure (try --help)"
# a run of the built-in lua compares with the peers' own scripts
for run in "${RUNS[@]}"; do
	case "${run#*:}" in lua | lua-h2) [ "$PEERS" = 0 ] || PEERS_LUA=1 ;; esac
done
[ "$H2" = 0 ] || [ "$H3" = 1 ] || command -v h2load >/dev/null ||
	die "h2load not found (apt-get install nghttp2-client)"
[ -z "$POST_CHUNKED" ] || [ "$H2" = 0 ] || die "--post-chunked: the HTTP/1.1 client's"
[ "$H3" = 0 ] || [ "$PEERS" = 0 ] || die "--h3: nginx and HAProxy of Debian speak no HTTP/3"
if [ "$H3" = 1 ]; then
	if [ -z "${SLQUIC:-}" ]; then
		cache=${XDG_CACHE_HOME:-$HOME/.cache}/sluice-bench
		sh "$HERE/../../tests/quicgo/build.sh" "$cache" >&2 ||
			die "--h3: slquic could not be built (apt-get install golang-go golang-github-lucas-clemente-quic-go-dev)"
		SLQUIC=$cache/slquic
	fi
	[ -x "$SLQUIC" ] || die "--h3: $SLQUIC is not executable"
fi
for t in valgrind callgrind_control "$PYTHON" ss; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install valgrind python3 iproute2)"
done

# the first free ports from 19300 and 19400, unless given
UP_PORT=${UP_PORT:-$(pick_port 19300)}
GW_PORT=${GW_PORT:-$(pick_port 19400)}
[ "$UP_PORT" != "$GW_PORT" ] || die "UP_PORT and GW_PORT are the same"

scratch_dir sluice-icount

# Where a chunked body ends, for the upstream and the client below (both
# import it from the scratch directory, their own).
cat >"$WORK/chunk.py" <<'EOF'
def chunked_end(b, k):
    # where the chunked body that begins at b[k] ends (None: not all here)
    while True:
        e = b.find(b"\r\n", k)
        if e < 0:
            return None
        n = int(b[k:e].split(b";")[0], 16)
        k = e + 2
        while n == 0:  # the trailer lines, to an empty one
            t = b.find(b"\r\n", k)
            if t < 0:
                return None
            if t == k:
                return t + 2
            k = t + 2
        k += n + 2
        if len(b) < k:
            return None
EOF

# The upstream: a small Python HTTP/1.1 server, keep-alive, 100-byte
# answers (its cost is not counted: only sluice runs under callgrind). It
# counts the requests that reach it with the field the lua scenario sets,
# x-partner: acme, and answers GET /__seen (asked of it directly, by
# seen_partner below) with that count.
cat >"$WORK/up.py" <<'EOF'
import socket, sys, threading
from chunk import chunked_end
seen = [0]
lock = threading.Lock()
body = b"x" * 99 + b"\n"
resp = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain"
        b"\r\n\r\n" % len(body)) + body
if sys.argv[2] == "1":
    resp = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: text/plain\r\n\r\n%x\r\n" % len(body) + body +
            b"\r\n0\r\nX-Checksum: 5d41402a\r\n\r\n")
def serve(c):
    buf = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                return
            buf += d
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                # a body (the spans of "traced", --post-chunked's) is
                # skipped whole
                cl = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        cl = int(line.split(b":")[1])
                if b"transfer-encoding: chunked" in head.lower():
                    cl = chunked_end(rest, 0)
                    if cl is None:
                        break
                if len(rest) < cl:
                    break
                buf = rest[cl:]
                lines = head.split(b"\r\n")
                if lines[0].startswith(b"GET /__seen "):
                    n = b"%d\n" % seen[0]
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                              b"\r\n" % len(n) + n)
                    continue
                if any(l.lower().replace(b" ", b"") == b"x-partner:acme"
                       for l in lines[1:]):
                    with lock:
                        seen[0] += 1
                c.sendall(resp)
    except OSError:
        pass
    finally:
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1024)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
"$PYTHON" "$WORK/up.py" "$UP_PORT" "$UP_CHUNKED" &
UP_PID=$!
register_pid "$UP_PID"

# The client: exactly N requests over CONNS keep-alive connections.
cat >"$WORK/client.py" <<'EOF'
import os, socket, sys
from chunk import chunked_end
port, n, conns, path, users = (int(sys.argv[1]), int(sys.argv[2]),
                               int(sys.argv[3]), sys.argv[4],
                               int(sys.argv[5]))
extra = "".join(h + "\r\n" for h in sys.argv[6:])
post = b""
if os.environ.get("POST_CHUNKED"):
    size, _, step = os.environ["POST_CHUNKED"].partition("/")
    size = int(size)
    step = int(step or size) or 1
    for at in range(0, size, step):
        part = min(step, size - at)
        post += b"%x\r\n" % part + b"p" * part + b"\r\n"
    post += b"0\r\n\r\n"
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
for s in socks:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
bufs = [b""] * conns
def body_end(b, j):
    # where the answer whose head ends at j ends in b (None: not yet): a
    # Content-Length's, or a chunked body's (a compressed answer's)
    head = b[:j].lower()
    if b"transfer-encoding: chunked" not in head:
        cl = 0
        for line in head.split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                cl = int(line.split(b":")[1])
        return j + 4 + cl if len(b) >= j + 4 + cl else None
    return chunked_end(b, j + 4)
def one(i, k):
    s = socks[i]
    u = ("X-User: u%d\r\n" % (k % users)) if users else ""
    if post:
        s.sendall(("POST %s HTTP/1.1\r\nHost: bench\r\nTransfer-Encoding: "
                   "chunked\r\n%s%s\r\n" % (path, u, extra)).encode() + post)
    else:
        s.sendall(("GET %s HTTP/1.1\r\nHost: bench\r\n%s%s\r\n"
                   % (path, u, extra)).encode())
    b = bufs[i]
    while True:
        j = b.find(b"\r\n\r\n")
        end = body_end(b, j) if j >= 0 else None
        if end is not None:
            if not b.startswith(b"HTTP/1.1 200"):
                sys.exit("bad response: %r" % b[:100])
            bufs[i] = b[end:]
            return
        d = s.recv(65536)
        if not d:
            sys.exit("closed")
        b += d
for k in range(n):
    one(k % conns, k)
EOF

conf_builtin() {  # name
	local up="127.0.0.1:@UP_PORT@"
	case "$1" in
	plain) cat <<EOF
routes:
      - cluster: a
EOF
	;;
	ext) cat <<EOF
routes:
      - cluster: a
        auth: { external: { cluster: b, path: /auth, headers: [X-User] } }
EOF
	;;
	split) cat <<EOF
routes:
      - split:
          - { cluster: a, weight: 90 }
          - { cluster: b, weight: 10 }
EOF
	;;
	sticky) cat <<EOF
routes:
      - split:
          - { cluster: a, weight: 90 }
          - { cluster: b, weight: 10 }
        sticky: header:X-User
EOF
	;;
	upgrade) cat <<EOF
routes:
      - cluster: a
        upgrade: [websocket]
EOF
	;;
	mirror) cat <<EOF
routes:
      - cluster: a
        mirror: { cluster: b, percent: 10 }
EOF
	;;
	reliable) cat <<EOF
routes:
      - cluster: c
        retry: { attempts: 3, on: [connect-failure, reset, timeout, 503], idempotency_key: true, per_try_timeout: 10s, budget: 20% }
EOF
	;;
	guard) cat <<EOF
routes:
      - split:
          - { cluster: a, weight: 90 }
          - { cluster: b, weight: 10 }
        guard: { window: 60s }
EOF
	;;
	edge) cat <<EOF
routes:
      - cluster: a
        rate_limit:
          - { name: per-address, key: client_ip, rate: 1000000/s }
        response_headers:
          set: { Strict-Transport-Security: "max-age=63072000" }
          remove: [Server]
EOF
	;;
	edge-var) cat <<EOF
routes:
      - cluster: a
        rate_limit:
          - { name: per-address, key: client_ip, rate: 1000000/s }
        request_headers: { set: { X-Real-IP: "\${client_ip}" } }
        response_headers: { set: { Strict-Transport-Security: "max-age=63072000" } }
EOF
	;;
	traced | untraced) cat <<EOF
routes:
      - cluster: a
EOF
	if [ "$1" = untraced ]; then echo "        tracing: false"; fi
	;;
	waf | nowaf | twoway)
		local crs="[/etc/modsecurity/crs/crs-setup.conf, /usr/share/modsecurity-crs/rules/*.conf]"
		if [ "$1" = waf ]; then cat <<EOF
routes:
      - cluster: a
        waf: { rules: $crs }
EOF
		else
			cat <<EOF
routes:
      - name: guarded
        match: { path_prefix: /never/ }
        cluster: a
EOF
			[ "$1" = nowaf ] && echo "        waf: { rules: $crs }"
			echo "      - cluster: a"
		fi
	;;
	zipidle) cat <<EOF
routes:
      - cluster: a
        compress: true
EOF
	;;
	zip) cat <<EOF
routes:
      - cluster: a
        compress: { min_length: 0B }
EOF
	;;
	allow) cat <<EOF
routes:
      - cluster: a
        allow: [10.0.0.0/8, 192.168.0.0/16, 127.0.0.0/8]
        deny: [127.0.0.2/32]
EOF
	;;
	lua) cat <<EOF
routes:
      - cluster: a
        lua:
          file: $WORK/set_one.lua
          request: on_request
EOF
	;;
	*) return 1 ;;
	esac
}

make_conf() {  # config-name-or-file out
	if [ -f "$1" ]; then
		cp "$1" "$2.tmpl"
	else
		local routes name=${1%-h2} protocols="" tls=""
		[ "$name" != "$1" ] && protocols="protocols: [h2, http/1.1]"
		[ "$TLS" = 1 ] &&
			tls="tls: { certificates: [ { cert: $WORK/cert.pem, key: $WORK/key.pem } ] }"
		[ "$H3" = 1 ] && tls="$tls
    http3: { retry: never }"
		routes=$(conf_builtin "$name") || die "no built-in configuration $1"
		# lua's script (sluice's API, issue 80: r:set sets a request
		# field for the upstream); the peers' equivalents are below
		[ "$name" = lua ] && cat >"$WORK/set_one.lua" <<'EOF'
function on_request(r)
  r:set("x-partner", "acme")
end
EOF
		local top=""
		case "$name" in traced | untraced)
			top="tracing: { cluster: b, path: /v1/traces, sample: 100% }" ;;
		esac
		cat >"$2.tmpl" <<EOF
workers: 1
log: { level: warn, access: off }
$top
listeners:
  - name: bench
    address: 127.0.0.1:@GW_PORT@
    $protocols
    $tls
    $routes
clusters:
  - name: a
    endpoints: [127.0.0.1:@UP_PORT@]
    pool: { max_idle: 64, max_requests: 0 }
  - name: b
    endpoints: [127.0.0.1:@UP_PORT@]
    pool: { max_idle: 64, max_requests: 0 }
EOF
		# a cluster only "reliable" uses (older builds refuse its keys)
		[ "$name" = reliable ] && cat >>"$2.tmpl" <<EOF
  - name: c
    endpoints: [127.0.0.1:@UP_PORT@]
    pool: { max_idle: 64, max_requests: 0 }
    health_check: { path: /, interval: 1s, timeout: 500ms }
    outlier: { consecutive_errors: 5, ejection_time: 30s }
EOF
	fi
	sed -e "s/@GW_PORT@/$GW_PORT/g" -e "s/@UP_PORT@/$UP_PORT/g" "$2.tmpl" >"$2"
}

wait_listen "$UP_PORT" 20 "$UP_PID" || die "upstream did not start"

SCHEME=http
if [ "$TLS" = 1 ]; then
	SCHEME=https
	command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
		-subj /CN=localhost >/dev/null 2>&1 ||
		die "openssl could not make a certificate"
	cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/both.pem" # HAProxy's
fi
h2args=(-c "$CONNS" -m "$STREAMS")
for h in ${HEADERS[@]+"${HEADERS[@]}"}; do h2args+=(-H "$h"); done

load() {  # name port requests: slquic, h2load, or the Python client
	if [ "$H3" = 1 ]; then
		"$SLQUIC" get -insecure -timeout 120s -n "$3" -c "$CONNS" \
			-m "$STREAMS" "https://127.0.0.1:$2$PATH_Q" \
			>"$WORK/$1.slquic" 2>&1 || die "$1: slquic failed: $(tail -2 "$WORK/$1.slquic")"
		grep -q "ok=$3 failed=0" "$WORK/$1.slquic" ||
			die "$1: $(cat "$WORK/$1.slquic")"
	elif [ "$H2" = 1 ]; then
		h2load -n "$3" "${h2args[@]}" "$SCHEME://127.0.0.1:$2$PATH_Q" \
			>"$WORK/$1.h2load" 2>&1 || die "$1: h2load failed"
		grep -q "$3 succeeded, 0 failed" "$WORK/$1.h2load" ||
			die "$1: $(grep -E 'requests:|status codes' "$WORK/$1.h2load")"
	else
		POST_CHUNKED=$POST_CHUNKED "$PYTHON" "$WORK/client.py" "$2" "$3" "$CONNS" "$PATH_Q" \
			"$STICKY_USERS" ${HEADERS[@]+"${HEADERS[@]}"}
	fi
}

dump_ir() {  # out pid: dumps the counters, prints their instructions
	local part ir
	callgrind_control -d "$2" >/dev/null 2>&1
	# the newest dump: the highest-numbered part file
	part=$(ls "$1".* 2>/dev/null | sort -t. -k3 -n | tail -1)
	[ -n "$part" ] || die "no callgrind dump"
	ir=$(awk '/^summary:/ { print $2 }' "$part")
	[ -n "$ir" ] || ir=$(awk '/^totals:/ { print $2 }' "$part")
	echo "$ir"
}

seen_partner() {  # the upstream's count of requests with x-partner: acme
	"$PYTHON" -c 'import sys, urllib.request as u
o = u.build_opener(u.ProxyHandler({}))  # to 127.0.0.1, whatever http_proxy says
print(int(o.open("http://127.0.0.1:%s/__seen" % sys.argv[1], timeout=10).read()))' "$UP_PORT" ||
		die "the upstream did not answer /__seen"
}

# Counts one gateway: started under callgrind, a warm-up (pools, buffers,
# code paths), then the counted requests; --tls: N and 2N, the difference.
# With CHECK_PARTNER=1 (the lua scenario's runs) every counted request must
# have reached the upstream with x-partner: acme, or the run fails.
CHECK_PARTNER=0
count_one() {  # name port command...
	local name=$1 port=$2 out="$WORK/$1.callgrind" vpid ir ir2 seen0 want got
	shift 2
	# --smc-check=all-non-file is valgrind 3.19's default, named for
	# LuaJIT (nginx-lua): it watches the code written in anonymous
	# mappings, where LuaJIT's JIT puts its machine code
	valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no \
		--smc-check=all-non-file "$@" >"$WORK/$name.log" 2>&1 &
	vpid=$!
	register_pid "$vpid"
	wait_listen "$port" "${ICOUNT_START_S:-20}" "$vpid" || { cat "$WORK/$name.log" >&2; die "$name did not start"; }
	load "$name" "$port" 2000
	[ "$CHECK_PARTNER" = 0 ] || seen0=$(seen_partner)
	callgrind_control -z "$vpid" >/dev/null 2>&1
	load "$name" "$port" "$REQUESTS"
	ir=$(dump_ir "$out" "$vpid")
	want=$REQUESTS
	if [ "$TLS" = 1 ]; then
		callgrind_control -z "$vpid" >/dev/null 2>&1
		load "$name" "$port" $((2 * REQUESTS))
		ir2=$(dump_ir "$out" "$vpid")
		ir=$((ir2 - ir))
		want=$((3 * REQUESTS))
	fi
	stop_pid "$vpid"
	if [ "$CHECK_PARTNER" = 1 ]; then
		got=$(($(seen_partner) - seen0))
		[ "$got" = "$want" ] ||
			die "$name: $got of its $want counted requests reached the upstream with x-partner: acme (is its script run?)"
	fi
	awk -v n="$name" -v ir="$ir" -v r="$REQUESTS" \
		'BEGIN { printf "%-12s %14.0f %12d\n", n, ir / r, r }'
	# ICOUNT_KEEP=DIR keeps the (last) dump as DIR/NAME.callgrind, for
	# callgrind_annotate (where the instructions go, by function)
	if [ -n "${ICOUNT_KEEP:-}" ]; then
		mkdir -p "$ICOUNT_KEEP" &&
			cp "$(ls "$out".* | sort -t. -k3 -n | tail -1)" \
				"$ICOUNT_KEEP/$name.callgrind"
	fi
	rm -f "$out"*
}

printf '%-12s %14s %12s\n' name Ir/request requests
for run in "${RUNS[@]}"; do
	name=${run%%=*}
	rest=${run#*=}
	bin=${rest%%:*}
	conf=${rest#*:}
	[ -x "$bin" ] || die "$bin is not executable"
	make_conf "$conf" "$WORK/$name.yaml"
	"$bin" -t -c "$WORK/$name.yaml" >/dev/null || die "$name: configuration refused"
	CHECK_PARTNER=0
	case "$conf" in lua | lua-h2) CHECK_PARTNER=1 ;; esac
	count_one "$name" "$GW_PORT" "$bin" -c "$WORK/$name.yaml"
done
CHECK_PARTNER=0

# ---- --peers: nginx and HAProxy, HTTP/2 by prior knowledge (or over TLS),
# counted the same way
if [ "$PEERS" = 1 ]; then
	NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
	HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
	P_PORT=$(pick_port $((GW_PORT + 1)))
	P2_PORT=$(pick_port $((P_PORT + 1)))
	NGINX_LISTEN="listen 127.0.0.1:$P_PORT http2;"
	HAPROXY_BIND="bind 127.0.0.1:$P2_PORT proto h2"
	if [ "$H2" = 0 ]; then # their HTTP/1.1
		NGINX_LISTEN="listen 127.0.0.1:$P_PORT;"
		HAPROXY_BIND="bind 127.0.0.1:$P2_PORT"
	fi
	if [ "$TLS" = 1 ]; then
		NGINX_LISTEN="listen 127.0.0.1:$P_PORT ssl http2; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;"
		HAPROXY_BIND="bind 127.0.0.1:$P2_PORT ssl crt $WORK/both.pem alpn h2"
	fi
	# nginx_conf FILE [lua]: its configuration, and with "lua" the lua
	# scenario's script in its location. With --peers-lua its plain run
	# loads the Lua module too, so that lua less plain is the script's cost
	# on a route, not the module's on every request.
	NGINX_MODULES=${NGINX_MODULES:-/usr/lib/nginx/modules}
	NGINX_LOAD=""
	if [ "$PEERS_LUA" = 1 ]; then
		for m in ndk_http_module ngx_http_lua_module; do
			[ -f "$NGINX_MODULES/$m.so" ] ||
				die "--peers-lua: no $NGINX_MODULES/$m.so (apt-get install libnginx-mod-http-lua)"
			# the development kit first: the Lua module needs it
			NGINX_LOAD="${NGINX_LOAD}load_module $NGINX_MODULES/$m.so;
"
		done
	fi
	nginx_conf() {  # file [lua]
		local script=""
		# resty.core, which lua-nginx-module 0.10.23 loads itself, is
		# Debian's lua-resty-core (a dependency), in LuaJIT's path
		[ "${2:-}" = lua ] &&
			script='access_by_lua_block { ngx.req.set_header("x-partner", "acme") }'
		cat >"$1" <<EOF
$NGINX_LOAD
worker_processes 1;
master_process off;
daemon off;
error_log $WORK/nginx.err warn;
pid $WORK/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK; proxy_temp_path $WORK;
    fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    # nginx ends an HTTP/2 connection after keepalive_requests (1000 by
    # default) and an upstream one after as many: --conns 1 would count
    # failures and reconnections, which sluice (max_requests: 0) does not do
    keepalive_requests 1000000;
    upstream u { server 127.0.0.1:$UP_PORT; keepalive 64; keepalive_requests 1000000; }
    server {
        $NGINX_LISTEN
        location / {
            $script
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
	}
	# haproxy_conf FILE [lua]: its configuration, and with "lua" the lua
	# scenario's action in its frontend (Lua 5.3, built into Debian's
	# haproxy 2.6; one thread, so lua-load's one shared state). With
	# --peers-lua its plain run loads the file too (the action unused).
	cat >"$WORK/set_one_haproxy.lua" <<'EOF'
core.register_action("set_one", {"http-req"}, function(txn)
  txn.http:req_set_header("x-partner", "acme")
end)
EOF
	haproxy_conf() {  # file [lua]
		local load="" action=""
		[ "$PEERS_LUA" = 0 ] || load="lua-load $WORK/set_one_haproxy.lua"
		[ "${2:-}" != lua ] || action="http-request lua.set_one"
		cat >"$1" <<EOF
global
    nbthread 1
    $load
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend f
    $HAPROXY_BIND
    $action
    default_backend b
backend b
    server s 127.0.0.1:$UP_PORT
EOF
	}
	nginx_conf "$WORK/nginx.conf"
	haproxy_conf "$WORK/haproxy.cfg"
	if [ -x "$NGINX" ]; then
		count_one nginx "$P_PORT" "$NGINX" -c "$WORK/nginx.conf"
		if [ "$PEERS_LUA" = 1 ]; then
			nginx_conf "$WORK/nginx-lua.conf" lua
			CHECK_PARTNER=1 count_one nginx-lua "$P_PORT" "$NGINX" -c "$WORK/nginx-lua.conf"
		fi
	fi
	if [ -x "$HAPROXY" ]; then
		count_one haproxy "$P2_PORT" "$HAPROXY" -db -f "$WORK/haproxy.cfg"
		if [ "$PEERS_LUA" = 1 ]; then
			haproxy_conf "$WORK/haproxy-lua.cfg" lua
			CHECK_PARTNER=1 count_one haproxy-lua "$P2_PORT" "$HAPROXY" -db -f "$WORK/haproxy-lua.cfg"
		fi
	fi
fi
