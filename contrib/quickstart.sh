#!/bin/sh
# Quick start: installs what is missing, builds sluice, starts a demo
# upstream on 127.0.0.1:9001 and sluice on etc/sluice.yaml (port 8080).
# Then, from another terminal:  curl http://127.0.0.1:8080/
# Ctrl-C stops both.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/contrib/deps.sh"
cd "$top"
./bootstrap >/dev/null 2>&1 || ./bootstrap
mkdir -p build && cd build
[ -f Makefile ] || ../configure -q
make -j"$(nproc 2>/dev/null || echo 2)" src/sluice >/dev/null
python3 "$top/contrib/demo-upstream.py" 127.0.0.1:9001 &
demo=$!
trap 'kill $demo 2>/dev/null' EXIT INT TERM
echo "sluice: listening on 127.0.0.1:8080 -> demo upstream 127.0.0.1:9001"
echo "try:    curl -i http://127.0.0.1:8080/"
./src/sluice -c "$top/etc/sluice.yaml"
