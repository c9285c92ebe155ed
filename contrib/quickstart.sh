#!/bin/sh
# Quick start: installs what is missing, builds sluice in build/, starts a
# demo upstream on 127.0.0.1:9001 and sluice on etc/sluice.yaml (port
# 8080), and once sluice answers there says so. Then, from another
# terminal:  curl -i http://127.0.0.1:8080/hello
# Ctrl-C stops both.
#	contrib/quickstart.sh [--build-only]
# --build-only: install what is missing and build; start nothing.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
listen=127.0.0.1:8080		# as in etc/sluice.yaml
upstream=127.0.0.1:9001		# etc/sluice.yaml's cluster "demo"
admin=127.0.0.1:9901		# etc/sluice.yaml's admin listener

build_only=
case "$*" in
"") ;;
--build-only) build_only=1 ;;
*)
	echo "usage: $0 [--build-only]" >&2
	exit 2
	;;
esac

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

for a in $listen $upstream; do
	if waitport "$a" inuse; then
		echo "quickstart: something already listens on $a;" \
			"stop it first (ss -ltnp 'sport = :${a##*:}')" >&2
		exit 1
	fi
done

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
"$top/build/src/sluice" -c "$top/etc/sluice.yaml" &
sluice=$!
if ! waitport $listen $sluice; then
	echo "quickstart: sluice did not start listening on $listen" >&2
	exit 1
fi
echo "quickstart: sluice listens on $listen -> demo upstream $upstream;" \
	"Ctrl-C stops both"
echo "try:        curl -i http://$listen/hello"
echo "            curl http://$admin/metrics"
status=0
wait "$sluice" || status=$?
sluice=
exit $status
