#!/bin/sh
# Quick start: installs what is missing, builds sluice in build/, starts a
# demo upstream on 127.0.0.1:9001 and sluice on etc/sluice.yaml (port
# 8080, admin listener on 9901), and once sluice answers there says so.
# Then, from another terminal:  curl -i http://127.0.0.1:8080/hello
# Ctrl-C stops both.
#	contrib/quickstart.sh [--build-only] [--port N] [--admin-port N]
#	    [--upstream-port N]
# --build-only: install what is missing and build; start nothing.
# --port N (or SLUICE_PORT=N): sluice's listener on 127.0.0.1:N, not 8080.
# --admin-port N (or SLUICE_ADMIN_PORT=N): the admin listener (/metrics,
#   /config) on 127.0.0.1:N, not 9901.
# --upstream-port N (or DEMO_PORT=N): the demo upstream on 127.0.0.1:N, not
#   9001.
# An option wins over its variable; --port=N works too. With any port
# other than the default, sluice runs on build/quickstart.yaml, written at
# each start: etc/sluice.yaml with those ports.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
conf=$top/etc/sluice.yaml
# the addresses etc/sluice.yaml uses, and the ports asked for
default_listen=127.0.0.1:8080	# listener "public"
default_upstream=127.0.0.1:9001	# cluster "demo"
default_admin=127.0.0.1:9901	# admin listener
port=${SLUICE_PORT:-8080}
admin_port=${SLUICE_ADMIN_PORT:-9901}
upstream_port=${DEMO_PORT:-9001}

usage() {
	echo "usage: $0 [--build-only] [--port N] [--admin-port N]" \
		"[--upstream-port N]" >&2
	exit 2
}

# checkport WHAT VALUE: exits 2 unless VALUE is a port number
checkport() {
	case $2 in
	"" | 0* | *[!0-9]* | ??????*) ;;
	*) [ "$2" -gt 65535 ] || return 0 ;;
	esac
	echo "quickstart: $1 \"$2\": expected a port number, 1 to 65535" >&2
	exit 2
}

build_only=
while [ $# -gt 0 ]; do
	case $1 in
	--*=*) opt=${1%%=*} val=${1#*=} ;;
	--port | --admin-port | --upstream-port)
		[ $# -ge 2 ] || usage
		opt=$1 val=$2
		shift
		;;
	*) opt=$1 val= ;;
	esac
	case $opt in
	--build-only) [ "$1" = --build-only ] || usage; build_only=1 ;;
	--port) port=$val ;;
	--admin-port) admin_port=$val ;;
	--upstream-port) upstream_port=$val ;;
	*) usage ;;
	esac
	shift
done
checkport "port (--port, SLUICE_PORT)" "$port"
checkport "admin port (--admin-port, SLUICE_ADMIN_PORT)" "$admin_port"
checkport "upstream port (--upstream-port, DEMO_PORT)" "$upstream_port"
if [ "$port" = "$admin_port" ] || [ "$port" = "$upstream_port" ] ||
	[ "$admin_port" = "$upstream_port" ]; then
	echo "quickstart: the listener ($port), admin ($admin_port) and" \
		"upstream ($upstream_port) ports must differ" >&2
	exit 2
fi
listen=127.0.0.1:$port
admin=127.0.0.1:$admin_port
upstream=127.0.0.1:$upstream_port

"$top/contrib/deps.sh"
"$top/contrib/build.sh" build
[ -z "$build_only" ] || exit 0

# waitport HOST:PORT PID: 0 once HOST:PORT accepts a connection, 1 if PID
# exits first or 10 s pass; "inuse" instead of PID: 0 if it accepts now.
waitport() {
	python3 - "$1" "$2" <<'EOF'
import os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
pid = sys.argv[2]
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        sys.exit(0)
    except OSError:
        pass
    if pid == "inuse" or time.monotonic() > deadline:
        sys.exit(1)
    try:
        os.kill(int(pid), 0)
    except OSError:
        sys.exit(1)
    time.sleep(0.05)
EOF
}

for a in "$listen port" "$upstream upstream-port" "$admin admin-port"; do
	addr=${a% *}
	if waitport "$addr" inuse; then
		echo "quickstart: something already listens on $addr; stop it" \
			"(ss -ltnp 'sport = :${addr##*:}' names it) or choose" \
			"another port: --${a#* } N" >&2
		exit 1
	fi
done

if [ "$listen $upstream $admin" != \
	"$default_listen $default_upstream $default_admin" ]; then
	# etc/sluice.yaml with the ports asked for; through placeholders, so
	# that swapped ports are not replaced twice
	for a in $default_listen $default_upstream $default_admin; do
		if ! grep -qF "$a" "$conf"; then
			echo "quickstart: $conf does not name $a any more," \
				"so its ports cannot be changed: update $0" >&2
			exit 1
		fi
	done
	dots='s/\./\\./g'
	sed -e "s/$(echo $default_listen | sed "$dots")/@LISTEN@/g" \
		-e "s/$(echo $default_upstream | sed "$dots")/@UPSTREAM@/g" \
		-e "s/$(echo $default_admin | sed "$dots")/@ADMIN@/g" \
		-e "s/@LISTEN@/$listen/g" -e "s/@UPSTREAM@/$upstream/g" \
		-e "s/@ADMIN@/$admin/g" "$conf" >"$top/build/quickstart.yaml"
	conf=$top/build/quickstart.yaml
fi

demo=
sluice=
stop() {
	trap - EXIT INT TERM
	[ -z "$sluice" ] || kill "$sluice" 2>/dev/null || true
	[ -z "$demo" ] || kill "$demo" 2>/dev/null || true
	wait
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

python3 "$top/contrib/demo-upstream.py" $upstream &
demo=$!
if ! waitport $upstream $demo; then
	echo "quickstart: the demo upstream did not start on $upstream" >&2
	exit 1
fi
"$top/build/src/sluice" -c "$conf" &
sluice=$!
if ! waitport $listen $sluice; then
	echo "quickstart: sluice did not start listening on $listen" >&2
	exit 1
fi
echo "quickstart: sluice listens on $listen -> demo upstream $upstream;" \
	"Ctrl-C stops both"
echo "try:        curl -i http://$listen/hello"
echo "            curl http://$admin/metrics"
echo "status page: http://$admin/ (doc/dashboard.md)"
status=0
wait "$sluice" || status=$?
sluice=
exit $status
