#!/bin/sh
# SPDX-License-Identifier: MIT
# A long soak of one sluice on loopback: mixed keep-alive and short
# traffic over HTTP/1.1 and HTTP/2 with bodies up to 10 MiB, ~0.1 % hostile requests, slow clients,
# a SIGHUP that changes the split's weights every minute, an upstream
# restart every five minutes; RSS, descriptors and socket states sampled
# every 10 s. Prints whether anything grows and whether any client saw an
# error the faults do not explain (contrib/soak.py has the details).
#	contrib/soak.sh [-m MINUTES] [-b SLUICE] [-w WORKDIR] [-c CLIENTS]
# Defaults: 30 minutes, build/src/sluice, a new directory under /tmp,
# 8 clients. Exit status 0 when every target holds. For a run under
# AddressSanitizer give -b build-asan/src/sluice: a leak at exit fails it.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
minutes=30
bin=$top/build/src/sluice
work=
clients=8
while getopts m:b:w:c: o; do
	case $o in
	m) minutes=$OPTARG ;;
	b) bin=$OPTARG ;;
	w) work=$OPTARG ;;
	c) clients=$OPTARG ;;
	*)
		echo "usage: $0 [-m MINUTES] [-b SLUICE] [-w WORKDIR] [-c CLIENTS]" >&2
		exit 2
		;;
	esac
done
[ -x "$bin" ] || {
	echo "soak: $bin is not built (contrib/quickstart.sh --build-only)" >&2
	exit 2
}
[ -n "$work" ] || work=$(mktemp -d /tmp/sluice-soak.XXXXXX)
echo "soak: $bin for $minutes min; samples and errors in $work"
# Debian's python3-h2 is for /usr/bin/python3 (the HTTP/2 clients)
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
exec "$py" "$top/contrib/soak.py" --sluice "$bin" --work "$work" \
	--minutes "$minutes" --clients "$clients"
