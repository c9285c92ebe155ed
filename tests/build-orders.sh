#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Builds sluice the ways the README shows, in the orders a newcomer would
# take them, each in a fresh copy of the source tree; run by .ci/run, not by
# make check (it takes minutes, and the scripts may install packages).
#	tests/build-orders.sh [COMMIT]
# The copy holds git's tracked files as they are in the working tree, or as
# in COMMIT. Orders:
#   A  by hand in place (./bootstrap && ./configure && make), then
#      contrib/quickstart.sh --build-only, then contrib/check.sh --build-only,
#      then quickstart.sh --build-only again (must rebuild nothing and not
#      rerun ./bootstrap)
#   B  quickstart.sh and check.sh first, then by hand in place, then both
#      scripts again; then ./configure --enable-werror in quickstart's
#      build/ (a change of flags must recompile every object)
# After each order: every step exited 0; check.sh's strict build says
# -Werror in "sluice -V" and the quick start's does not; no object is older
# than the buildflags.h of its directory; no build printed
# "ar: `u' modifier ignored".
# Last, when 127.0.0.1:8080 and :9001 are free, contrib/quickstart.sh runs
# for real in a new copy, as a newcomer's first command: as soon as it says sluice listens, sluice must answer
# "curl -i http://127.0.0.1:8080/hello" with the response the README shows
# (the date and the request id aside), and "curl 127.0.0.1:9901/metrics"
# must count that request.
# Environment: STEP_TIMEOUT (seconds, default 900) bounds every step.
# Exit 0 when everything passed.

top=$(cd "$(dirname "$0")/.." && pwd)
commit=$1
step_timeout=${STEP_TIMEOUT:-900}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-orders.XXXXXX") || exit 99
qs_pid=
cleanup() {
	if [ -n "$qs_pid" ]; then
		kill -KILL "-$qs_pid" 2>/dev/null
		wait "$qs_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failed=0
fail() {
	echo "FAIL $*"
	failed=$((failed + 1))
}

# copy DIR: the source tree as git tracks it, into DIR
copy() {
	mkdir -p "$1"
	rev=$commit
	if [ -z "$rev" ]; then
		# the working tree's tracked files, changes included
		rev=$(git -C "$top" stash create) || return 1
		[ -n "$rev" ] || rev=HEAD
	fi
	git -C "$top" archive "$rev" | tar -x -C "$1"
}

# step NAME DIR COMMAND...: runs COMMAND in DIR, bounded, its output in
# $tmp/NAME.log; says ok or FAIL with the end of the output.
step() {
	name=$1 dir=$2
	shift 2
	t0=$(date +%s)
	(cd "$dir" && timeout -k 10 "$step_timeout" "$@") </dev/null \
		>"$tmp/$name.log" 2>&1
	rc=$?
	cat "$tmp/$name.log" >>"$tmp/all.log"
	if [ "$rc" -ne 0 ]; then
		fail "$name: exit $rc ($*)"
		tail -n 30 "$tmp/$name.log" | sed 's/^/	/'
		return 1
	fi
	echo "ok   $name ($(($(date +%s) - t0))s)"
}

# built_with DIR: the "built with:" line of DIR/src/sluice -V
built_with() {
	"$1/src/sluice" -V 2>/dev/null | sed -n 's/^built with: //p'
}

# strict DIR yes|no: whether sluice in DIR was compiled with -Werror
strict() {
	flags=$(built_with "$1")
	if [ -z "$flags" ]; then
		fail "$1/src/sluice -V says nothing of how it was built"
		return
	fi
	case " $flags " in
	*" -Werror "*) got=yes ;;
	*) got=no ;;
	esac
	if [ "$got" = "$2" ]; then
		echo "ok   ${1#"$tmp"/}: -Werror $2"
	else
		fail "${1#"$tmp"/}: -Werror expected $2, sluice -V: built with: $flags"
	fi
}

# fresh DIR: no object in DIR is older than DIR/buildflags.h, so every
# object was compiled with the flags it names
fresh() {
	if [ ! -f "$1/buildflags.h" ]; then
		fail "${1#"$tmp"/}: no buildflags.h"
		return
	fi
	stale=$(cd "$1" && find . -name '*.o' ! -newer buildflags.h)
	if [ -n "$stale" ]; then
		fail "${1#"$tmp"/}: objects older than buildflags.h:" $stale
	else
		echo "ok   ${1#"$tmp"/}: $(cd "$1" && find . -name '*.o' |
			wc -l) objects, none older than buildflags.h"
	fi
}

# the README's by hand build (make check aside), in place
byhand='./bootstrap >/dev/null && ./configure -q && make -j2 >/dev/null'

# ---- A: by hand first ----------------------------------------------------
echo "== A: by hand in place, then quickstart.sh, then check.sh"
a=$tmp/a
copy "$a" || exit 99
if step A-byhand "$a" sh -c "$byhand" &&
	step A-quickstart "$a" contrib/quickstart.sh --build-only &&
	step A-check "$a" contrib/check.sh --build-only; then
	strict "$a/build" no
	strict "$a/build-werror" yes
	case "$(built_with "$a/build-asan")" in
	*-fsanitize=address*) echo "ok   a/build-asan: -fsanitize=address" ;;
	*) fail "a/build-asan: sluice -V shows no -fsanitize=address" ;;
	esac
	for d in build build-werror build-asan; do
		fresh "$a/$d"
	done
	before=$(ls -l --time-style=+%s.%N "$a/configure" "$a/build/src/sluice")
	if step A-quickstart-again "$a" contrib/quickstart.sh --build-only; then
		after=$(ls -l --time-style=+%s.%N "$a/configure" \
			"$a/build/src/sluice")
		if [ "$before" = "$after" ]; then
			echo "ok   quickstart.sh again: no ./bootstrap, nothing rebuilt"
		else
			fail "quickstart.sh again rewrote configure or src/sluice"
			grep bootstrap "$tmp/A-quickstart-again.log"
		fi
	fi
fi

# ---- B: the scripts first ------------------------------------------------
echo "== B: quickstart.sh and check.sh, then by hand in place, then both again"
b=$tmp/b
copy "$b" || exit 99
# nowaf: $b/build, configured --without-modsecurity (and --without-brotli,
# --without-zstd), has no ModSecurity
# and its -t refuses a route's waf, saying what it needs
nowaf() {
	cat >"$tmp/waf.yaml" <<'EOF'
listeners:
  - name: public
    address: 127.0.0.1:1
    routes:
      - name: pay
        cluster: app
        waf:
          rules: [/etc/hostname]
clusters:
  - name: app
    endpoints: [127.0.0.1:2]
EOF
	out=$("$b/build/src/sluice" -t -c "$tmp/waf.yaml" 2>&1)
	if [ $? -eq 0 ] || ! echo "$out" | grep -q \
		'waf: this sluice was built without libmodsecurity'; then
		fail "--without-modsecurity: -t said: $out"
	elif nm "$b/build/src/sluice" | grep -q ' U msc_'; then
		fail "--without-modsecurity: src/sluice still links libmodsecurity"
	else
		echo "ok   --without-modsecurity: -t says a route's waf needs it"
	fi
	# the same build is without Brotli and zstd: a route that names
	# br is refused with the library it needs, compress: true offers
	# what is built (gzip)
	cat >"$tmp/zip.yaml" <<'EOF'
listeners:
  - name: public
    address: 127.0.0.1:1
    routes:
      - name: api
        cluster: app
        compress: { algorithms: [gzip, br] }
      - name: all
        cluster: app
        compress: true
clusters:
  - name: app
    endpoints: [127.0.0.1:2]
EOF
	out=$("$b/build/src/sluice" -t -c "$tmp/zip.yaml" 2>&1)
	if [ $? -eq 0 ] || ! echo "$out" | grep -q \
		'compress: "br" needs libbrotlienc (Debian: libbrotli-dev): this sluice was built without it' ||
		[ "$(echo "$out" | grep -c error)" -ne 1 ]; then
		fail "--without-brotli: -t said: $out"
	elif nm "$b/build/src/sluice" | grep -q -E ' U (Brotli|ZSTD_)'; then
		fail "--without-brotli --without-zstd: src/sluice still links them"
	elif ! "$b/build/src/sluice" -V | grep -q '^libzstd (not built'; then
		fail "--without-zstd: -V said: $("$b/build/src/sluice" -V)"
	else
		echo "ok   --without-brotli --without-zstd: -t says br needs its library"
	fi
}

# noquic: $b/build-noquic, configured --without-quic (and --without-lua:
# -t refuses a route's lua:, saying what it needs) in a directory of its
# own (reconfiguring build/ without it would leave its QUIC objects there,
# older than buildflags.h, as leftovers of a folder no longer built):
# nothing links libngtcp2, -V says the build has no HTTP/3
noquic() {
	if nm "$b/build-noquic/src/sluice" | grep -q ' U ngtcp2_'; then
		fail "--without-quic: src/sluice still links libngtcp2"
	elif ! "$b/build-noquic/src/sluice" -V |
		grep -q '^libngtcp2 (not built: no HTTP/3'; then
		fail "--without-quic: -V said: $("$b/build-noquic/src/sluice" -V)"
	else
		echo "ok   --without-quic: -V says the build has no HTTP/3"
	fi
	# and without Lua: a route's lua: is refused, saying what it needs
	echo 'function f(r) end' >"$tmp/f.lua"
	cat >"$tmp/lua.yaml" <<EOF
listeners:
  - name: public
    address: 127.0.0.1:1
    routes:
      - name: pay
        cluster: app
        lua: { file: $tmp/f.lua, request: f }
clusters:
  - name: app
    endpoints: [127.0.0.1:2]
EOF
	out=$("$b/build-noquic/src/sluice" -t -c "$tmp/lua.yaml" 2>&1)
	if [ $? -eq 0 ] || ! echo "$out" | grep -q \
		'lua: this sluice was built without Lua (Debian: liblua5.4-dev)'; then
		fail "--without-lua: -t said: $out"
	elif nm "$b/build-noquic/src/sluice" | grep -q ' U lua_'; then
		fail "--without-lua: src/sluice still links liblua5.4"
	else
		echo "ok   --without-lua: -t says a route's lua needs it"
	fi
}

if step B-quickstart "$b" contrib/quickstart.sh --build-only &&
	step B-check "$b" contrib/check.sh --build-only &&
	step B-byhand "$b" sh -c "$byhand" &&
	step B-quickstart-again "$b" contrib/quickstart.sh --build-only &&
	step B-check-again "$b" contrib/check.sh --build-only; then
	strict "$b/build" no
	strict "$b/build-werror" yes
	for d in build build-werror build-asan; do
		fresh "$b/$d"
	done
	# a change of configure flags in a built directory, and a build
	# without the WAF's library: -t names what a route's waf needs
	if step B-reconfigure-werror "$b/build" sh -c \
		'../configure -q --enable-werror --without-modsecurity \
		--without-brotli --without-zstd &&
		make -j2 >/dev/null'; then
		strict "$b/build" yes
		fresh "$b/build"
		nowaf
	fi
	mkdir -p "$b/build-noquic"
	if step B-noquic "$b/build-noquic" sh -c \
		'../configure -q --without-quic --without-lua &&
		make -j2 >/dev/null'; then
		fresh "$b/build-noquic"
		noquic
	fi
fi

if grep -q "modifier ignored" "$tmp/all.log"; then
	fail "a build printed: $(grep -m1 "modifier ignored" "$tmp/all.log")"
else
	echo "ok   no build printed \"ar: \`u' modifier ignored\""
fi

# ---- the quick start, for real -------------------------------------------
# sample RESPONSE-FILE: the response with what changes from one request to
# the next (date, request id, Python's version) replaced by placeholders
sample() {
	tr -d '\r' <"$1" | sed -E \
		-e 's/^(Date:).*/\1 DATE/' \
		-e 's/[0-9a-f]{32}/REQUEST-ID/g' \
		-e 's|Python/[0-9.]+|Python/VERSION|'
}
# ports_free: nothing listens on 127.0.0.1:8080, :9001 or :9901
ports_free() {
	python3 -c '
import socket, sys
for p in (8080, 9001, 9901):
    try:
        socket.create_connection(("127.0.0.1", p), timeout=1).close()
        sys.exit(1)
    except OSError:
        pass'
}
# running PID: PID has not exited (a zombie has)
running() {
	[ -r "/proc/$1/stat" ] &&
		[ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat")" != Z ]
}

echo "== contrib/quickstart.sh in a new copy, then curl -i http://127.0.0.1:8080/hello"
q=$tmp/q
copy "$q" || exit 99
if ! ports_free; then
	echo "skip quick start: 127.0.0.1:8080, :9001 or :9901 is in use"
else
	# in a session of its own, so that whatever it leaves can be killed
	(cd "$q" && exec setsid contrib/quickstart.sh) </dev/null \
		>"$tmp/qs.log" 2>&1 &
	qs_pid=$!
	# as soon as it says so, sluice must answer, and answer the README's
	python3 - "$tmp/qs.log" "$tmp/response" "$qs_pid" <<'EOF'
import re, subprocess, sys, time
log, out, pid = sys.argv[1], sys.argv[2], sys.argv[3]


def running():
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


deadline = time.monotonic() + 300     # it builds first
# "sluice: listening on": what quickstart.sh said before it waited
while not re.search(rb"sluice:? listen(s|ing) on", open(log, "rb").read()):
    if not running():
        sys.exit("quickstart.sh exited")
    if time.monotonic() > deadline:
        sys.exit("quickstart.sh never said that sluice listens")
    time.sleep(0.001)
with open(out, "wb") as f:
    rc = subprocess.run(["curl", "-si", "--max-time", "5",
                         "http://127.0.0.1:8080/hello"],
                        stdout=f).returncode
with open(out, "rb") as f:
    status = f.readline().strip().decode("latin-1")
if rc != 0 or not status.startswith("HTTP/1.1 200 "):
    sys.exit("curl exited %d: %r" % (rc, status))
# the README's next command: the quick start's admin listener (the
# request is counted once its exchange ends, just after the client has
# its answer: asked again for up to 3 s)
deadline = time.monotonic() + 3
while True:
    p = subprocess.run(["curl", "-s", "--max-time", "5",
                        "http://127.0.0.1:9901/metrics"],
                       capture_output=True)
    if p.returncode == 0 and b"sluice_requests_total 1" in p.stdout:
        break
    if time.monotonic() > deadline:
        sys.exit("curl 127.0.0.1:9901/metrics exited %d: %r"
                 % (p.returncode, p.stdout[:200]))
    time.sleep(0.05)
EOF
	if [ $? -ne 0 ]; then
		fail "quick start: sluice did not answer 200 when quickstart.sh" \
			"said it listens"
		sed 's/^/	/' "$tmp/qs.log"
	else
		echo "ok   quick start: sluice answered 200 as soon as announced"
	fi
	sed -n '/^\$ curl -i http:\/\/127.0.0.1:8080\/hello$/,/^```$/p' \
		"$q/README.md" | sed '1d;$d' >"$tmp/readme"
	if [ ! -s "$tmp/readme" ]; then
		fail "README.md shows no response to curl -i .../hello"
	elif [ ! -s "$tmp/response" ]; then
		fail "README.md's response: no response to compare with"
	else
		sample "$tmp/readme" >"$tmp/readme.sample"
		sample "$tmp/response" >"$tmp/response.sample"
		if cmp -s "$tmp/readme.sample" "$tmp/response.sample"; then
			echo "ok   README.md shows the demo's response"
		else
			fail "README.md's response is not the demo's" \
				"(- README, + real):"
			diff -u "$tmp/readme.sample" "$tmp/response.sample" |
				sed '1,2d; s/^/	/'
		fi
	fi
	# SIGTERM (as Ctrl-C) stops sluice and the demo upstream
	kill "$qs_pid" 2>/dev/null
	n=0
	while running "$qs_pid" && [ $n -lt 400 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if running "$qs_pid" || ! ports_free; then
		fail "quick start: SIGTERM did not stop quickstart.sh, sluice" \
			"and the demo upstream within 40 s"
	else
		echo "ok   quick start: SIGTERM stopped sluice and the demo upstream"
	fi
	kill -KILL "-$qs_pid" 2>/dev/null
	wait "$qs_pid" 2>/dev/null
	qs_pid=
fi

if [ "$failed" -ne 0 ]; then
	echo "build-orders: $failed failed"
	exit 1
fi
echo "build-orders: all passed"
