#!/usr/bin/env bash
# contrib/bench/h3.sh -- HTTP/3 against sluice's own HTTP/2 over TLS, in one
# run: issue 64's targets (doc/http3.md, doc/performance.md).
#
# usage: SLUICE=BIN [QUIC_POKE=BIN] [SLQUIC=BIN] contrib/bench/h3.sh
#            [--requests N] [--conns N] [--streams N] [--idle N]
#            [--only count|idle]
#
# No Debian nginx or HAProxy speaks HTTP/3 (1.22 and 2.6 are built without
# QUIC), so HTTP/3 is set against sluice's own HTTP/2 over TLS, the same
# binary and configuration (a TLS listener with protocols [h2, http/1.1]
# and http3: { retry: never }, one route, one worker):
#
#   count  instructions per request (callgrind, contrib/bench/icount.sh):
#          --tls with h2load, --h3 with tests/quicgo's slquic, the same
#          --requests, --conns and --streams, N and 2N requests on new
#          connections each so that the handshakes cancel out; the
#          target is HTTP/3 at most 1.3 times HTTP/2 over TLS
#   idle   memory of an idle connection: the gateway's RSS with --idle
#          connections open after one request each, less its RSS before,
#          over their number: HTTP/2 over TLS by idle_conns.py --tls --h2,
#          HTTP/3 by tests/unit/quic_poke's hold mode (QUIC_POKE, else
#          the build directory of SLUICE's); the target is at most 2 times
#
# Traffic is to 127.0.0.1 only; everything started here stops on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

REQUESTS=2000
CONNS=1
STREAMS=10
IDLE=500
ONLY=""
PYTHON=${PYTHON:-python3}
while [ $# -gt 0 ]; do
	case "$1" in
	--requests) REQUESTS=${2:?}; shift ;;
	--conns) CONNS=${2:?}; shift ;;
	--streams) STREAMS=${2:?}; shift ;;
	--idle) IDLE=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
SLUICE=${SLUICE:?set SLUICE to a sluice binary built with HTTP/3}
[ -x "$SLUICE" ] || die "$SLUICE is not executable"
"$SLUICE" -V | grep -q '^libngtcp2 [0-9]' || die "$SLUICE was built without HTTP/3"
QUIC_POKE=${QUIC_POKE:-$(dirname "$SLUICE")/../tests/unit/quic_poke}

scratch_dir sluice-h3

if [ -z "$ONLY" ] || [ "$ONLY" = count ]; then
	log "count: HTTP/2 over TLS, then HTTP/3 ($REQUESTS requests, $CONNS connections, $STREAMS streams each)"
	h2=$(bash "$HERE/icount.sh" --tls --requests "$REQUESTS" --conns "$CONNS" \
		--streams "$STREAMS" h2-tls="$SLUICE:plain-h2" | awk '$1 == "h2-tls" { print $2 }')
	h3=$(bash "$HERE/icount.sh" --h3 --requests "$REQUESTS" --conns "$CONNS" \
		--streams "$STREAMS" h3="$SLUICE:plain-h2" | awk '$1 == "h3" { print $2 }')
	[ -n "$h2" ] && [ -n "$h3" ] || die "count: a run failed"
	printf '%-22s %10s\n' "instructions/request" ""
	printf '%-22s %10s\n' "HTTP/2 over TLS" "$h2"
	printf '%-22s %10s\n' "HTTP/3" "$h3"
	awk -v a="$h3" -v b="$h2" 'BEGIN { printf "%-22s %10.2f (target at most 1.30)\n", "HTTP/3 / HTTP/2", a / b }'
fi

[ -z "$ONLY" ] || [ "$ONLY" = idle ] || exit 0
[ -x "$QUIC_POKE" ] || die "idle: $QUIC_POKE not built (make tests/unit/quic_poke in the build directory)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
	-subj /CN=localhost >/dev/null 2>&1 || die "openssl could not make a certificate"
UP_PORT=$(pick_port 19300)
GW_PORT=$(pick_port 19400)
cat >"$WORK/up.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 4096
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
"$PYTHON" "$WORK/up.py" "$UP_PORT" &
register_pid $!
wait_listen "$UP_PORT" 20 || die "the upstream did not start"
cat >"$WORK/sluice.yaml" <<EOF
workers: 1
log: { level: warn, access: off }
listeners:
  - name: bench
    address: 127.0.0.1:$GW_PORT
    protocols: [h2, http/1.1]
    tls: { certificates: [ { cert: $WORK/cert.pem, key: $WORK/key.pem } ] }
    http3: { retry: never, max_handshakes_per_ip: 65535 }
    limits: { max_connections: 100000 }
    routes:
      - cluster: a
clusters:
  - name: a
    endpoints: [127.0.0.1:$UP_PORT]
EOF

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# one kind of connection: the gateway's RSS growth per idle connection
idle_one() {  # kind: h2 | h3
	local pid base rss line
	"$SLUICE" -c "$WORK/sluice.yaml" 2>"$WORK/$1.err" &
	pid=$!
	register_pid "$pid"
	wait_listen "$GW_PORT" 20 "$pid" || die "idle: sluice did not start"
	# a warm-up: the allocator's arenas, the worker's buffers
	if [ "$1" = h2 ]; then
		"$PYTHON" "$HERE/idle_conns.py" 127.0.0.1 "$GW_PORT" 20 --tls --h2 --hold 5 >/dev/null 2>&1 || true
	else
		"$QUIC_POKE" "$GW_PORT" hold 20 1 >/dev/null 2>&1 || true
	fi
	sleep 1
	base=$(rss_kib "$pid")
	if [ "$1" = h2 ]; then
		"$PYTHON" "$HERE/idle_conns.py" 127.0.0.1 "$GW_PORT" "$IDLE" --tls --h2 --hold 120 >"$WORK/$1.out" 2>&1 &
	else
		"$QUIC_POKE" "$GW_PORT" hold "$IDLE" 120 >"$WORK/$1.out" 2>&1 &
	fi
	local cpid=$!
	register_pid "$cpid"
	wait_line "$WORK/$1.out" '^READY' "$cpid" 120 || die "idle $1: the connections were not set up"
	line=$(grep '^READY' "$WORK/$1.out")
	sleep 1
	rss=$(rss_kib "$pid")
	stop_pid "$cpid"
	stop_pid "$pid"
	log "idle $1: $line, RSS $base KiB before, $rss KiB with them"
	awk -v b="$base" -v r="$rss" -v n="$IDLE" 'BEGIN { printf "%.0f\n", (r - b) * 1024 / n }'
}

log "idle: $IDLE connections each, HTTP/2 over TLS, then HTTP/3"
h2=$(idle_one h2)
h3=$(idle_one h3)
printf '%-22s %10s\n' "idle connection (B)" ""
printf '%-22s %10s\n' "HTTP/2 over TLS" "$h2"
printf '%-22s %10s\n' "HTTP/3" "$h3"
awk -v a="$h3" -v b="$h2" 'BEGIN { printf "%-22s %10.2f (target at most 2.00)\n", "HTTP/3 / HTTP/2", a / b }'
