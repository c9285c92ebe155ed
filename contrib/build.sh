#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Configures and builds sluice in a build directory of the source tree, for
# contrib/quickstart.sh (build/) and contrib/check.sh (build-werror/,
# build-asan/):
#	contrib/build.sh DIR [CONFIGURE-ARGUMENT...]
# - A source tree configured in place (the README's "by hand" build,
#   ./configure && make) cannot have build directories besides: configure
#   refuses, and make would pick up the in-place objects through VPATH. It
#   is cleaned first with "make distclean", and the script says so.
# - ./bootstrap runs only when configure or Makefile.in is missing or older
#   than configure.ac or Makefile.am.
# - DIR is configured when it is new or was configured with other
#   arguments; a change of flags recompiles every object (buildflags.h in
#   Makefile.am).
# Make's output goes to /dev/null, its warnings and errors do not.
set -e
if [ $# -lt 1 ]; then
	echo "usage: $0 DIR [CONFIGURE-ARGUMENT...]" >&2
	exit 2
fi
dir=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
cd "$top"

if [ -f config.status ]; then
	echo "build: $top was configured in place (./configure);" \
		"build directories need it unconfigured: make distclean"
	if ! make distclean >/dev/null; then
		echo "build: make distclean failed in $top;" \
			"remove config.status and the objects by hand" >&2
		exit 1
	fi
fi

if [ ! -f configure ] || [ configure.ac -nt configure ] ||
    [ ! -f Makefile.in ] || [ Makefile.am -nt Makefile.in ]; then
	echo "build: ./bootstrap (configure is missing or out of date)"
	./bootstrap >/dev/null 2>&1 || ./bootstrap
fi

mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ ! -x config.status ] ||
    [ "$(./config.status --config)" != "$*" ]; then
	echo "build: configure${*:+ $*} in $dir"
	"$top/configure" -q "$@"
fi
make -j"$jobs" >/dev/null
