#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Installs what the OTLP receiver of the tracing tests needs
# (tests/integration/otlp_receiver.js): the npm package
# @opentelemetry/otlp-transformer, whose build/src/generated/root.js is
# protobufjs code generated from the official opentelemetry-proto files,
# so the tests decode sluice's exports with the real schema rather than
# with a hand-written parser that shares sluice's mistakes.
#
# It goes to a cache outside the source tree (never into the work tree
# or a tarball): $SLUICE_NPM_DIR, else $XDG_CACHE_HOME/sluice-tests, else
# $HOME/.cache/sluice-tests. Nothing is done when it is already there.
# On success prints the node_modules directory (for NODE_PATH) on
# stdout; on failure (no npm, offline, ...) says why on stderr and exits
# non-zero. Runs as root with no stdin (CI).

pkg=@opentelemetry/otlp-transformer
ver=0.57.2     # the version whose build/src/generated/root.js we rely on

dir=${SLUICE_NPM_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/sluice-tests}
mods=$dir/node_modules
probe=$mods/$pkg/build/src/generated/root.js

if [ -f "$probe" ]; then
    echo "$mods"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "otlp-deps.sh: npm not found; cannot install $pkg@$ver" >&2
    exit 1
fi

mkdir -p "$dir" || {
    echo "otlp-deps.sh: cannot create $dir" >&2
    exit 1
}

# npm's own chatter goes to a log, shown only when it fails; stdout is
# kept for the one line the callers read. --prefix keeps npm away from any
# package.json up the tree; timeout bounds an npm stuck on a dead network.
log=$dir/npm-install.log
if ! timeout 300 npm install --prefix "$dir" --no-audit --no-fund \
        --no-save --no-progress --loglevel=error "$pkg@$ver" \
        </dev/null >"$log" 2>&1; then
    echo "otlp-deps.sh: npm install $pkg@$ver into $dir failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
fi

if [ ! -f "$probe" ]; then
    echo "otlp-deps.sh: $pkg@$ver installed but $probe is missing" >&2
    exit 1
fi

echo "$mods"
