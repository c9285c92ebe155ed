#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Shows that headers, like calls, go only down the folders' order of
# src/LAYERS: prints every #include in a source file or header of src/
# that names a project header of a folder above the file's own (issue
# 62: core's wloop.h included six headers of higher folders, so a change
# to front/h2.h rebuilt every file that includes wloop.h).
#	contrib/includes.sh [--allow FILE] SRCDIR
# SRCDIR is the top of the source tree (its src/LAYERS and src/). Every
# .c and .h file under src/ is read; a file's folder is its directory,
# less the leading "src/" (src/front/client.c is in front). An include is
# resolved as the compiler does with the build's -I list (Makefile.am's
# AM_CPPFLAGS names src/LAYERS' folders in its order): "x.h" in the
# including file's directory first, then in each folder from the top
# down; <x.h> in the folders only. One that names no file of src/ (a
# system, library or generated header) is not counted. One that goes up
# is printed, with the line it is on:
#	up: src/core/wloop.h:24 -> src/front/h2.h
# and fails, and so does a source file in no folder of src/LAYERS
# ("unplaced").
#
# --allow FILE: the includes up known today, one a line: the including
# file and the included one, as printed ("src/edge/route.h
# src/conf/conf_types.h"); "#" starts a comment. A listed one is printed
# as allowed. It fails when an include up that FILE does not list
# appears, and when a line of FILE names one that is no longer there: so
# the list only shrinks, and whoever removes such an include deletes its
# line. make check runs it with tests/includes-allowed.txt
# (tests/includes-check.sh).
#
# Exit status: 0 when no include goes up (or with --allow, exactly FILE's
# do), 1 when one does (or FILE is out of date), 2 on a usage error.

LC_ALL=C
export LC_ALL
me=includes.sh

usage() {
	echo "usage: $0 [--allow FILE] SRCDIR" >&2
	exit 2
}

allow=
while [ $# -gt 0 ]; do
	case $1 in
	--allow)
		[ $# -ge 2 ] || usage
		allow=$2
		shift 2
		;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# = 1 ] || usage
top=$1
if [ ! -r "$top/src/LAYERS" ]; then
	echo "$me: $top/src/LAYERS: cannot read the folders' order" >&2
	exit 2
fi
if [ -n "$allow" ] && [ ! -r "$allow" ]; then
	echo "$me: $allow: cannot read the allowed includes" >&2
	exit 2
fi
case $allow in
"" | /*) ;;
*) allow=$(pwd)/$allow ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-includes.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM

cd "$top" || exit 2
find src -type f \( -name '*.c' -o -name '*.h' \) | sort >"$tmp/files"
# FILE:LINE:TEXT of every include line (/dev/null: file names even for
# one file)
# shellcheck disable=SC2046 # file names of the tree: no spaces
grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' \
	$(cat "$tmp/files") /dev/null >"$tmp/inc"

awk -v allow="$allow" -v layers="src/LAYERS" -v files="$tmp/files" \
	-v me="$me" '
function normal(s) {
	gsub(/[ \t]+/, " ", s)
	sub(/^ /, "", s)
	sub(/ $/, "", s)
	return s
}
# a path with its "." and ".." steps taken ("src/core/../front/h2.h" is
# src/front/h2.h)
function canon(p,    n, w, i, k, out) {
	n = split(p, w, "/")
	k = 0
	for (i = 1; i <= n; i++) {
		if (w[i] == "" || w[i] == ".")
			continue
		if (w[i] == ".." && k > 0 && st[k] != "..")
			k--
		else
			st[++k] = w[i]
	}
	out = ""
	for (i = 1; i <= k; i++)
		out = out (i > 1 ? "/" : "") st[i]
	return out
}
# the folder of a file: its directory, less the leading "src/"
function folder_of(f) {
	if (sub(/\/[^\/]*$/, "", f) == 0)
		return ""
	sub(/^src\//, "", f)
	return f
}
# the file of src/ that include NAME of FROM names ("" when none), as
# the compiler finds it: quoted, in the directory of FROM first, then in
# the folders in -I order (src/LAYERS'"'"'s)
function resolve(from, name, quoted,    p, dir, i) {
	if (quoted) {
		dir = from
		sub(/\/[^\/]*$/, "", dir)
		p = canon(dir "/" name)
		if (p in exists)
			return p
	}
	for (i = 1; i <= nrank; i++) {
		p = canon("src/" folder[i] "/" name)
		if (p in exists)
			return p
	}
	return ""
}
FILENAME == layers {
	line = $0
	sub(/#.*/, "", line)
	line = normal(line)
	if (line != "") {
		split(line, w, " ")
		rank[w[1]] = ++nrank
		folder[nrank] = w[1]
	}
	next
}
FILENAME == files {
	exists[$0] = 1
	all[++nfiles] = $0
	next
}
FILENAME == allow {
	line = $0
	sub(/#.*/, "", line)
	line = normal(line)
	if (line != "") {
		allowed[line] = FNR
		nallowed++
	}
	next
}
{
	# src/core/wloop.h:24:#include "h2.h" /* ... */
	from = $0
	sub(/:.*/, "", from)
	rest = substr($0, length(from) + 2)
	ln = rest
	sub(/:.*/, "", ln)
	text = substr(rest, length(ln) + 2)
	sub(/^[ \t]*#[ \t]*include[ \t]*/, "", text)
	quoted = substr(text, 1, 1) == "\""
	name = substr(text, 2)
	sub(quoted ? "\".*" : ">.*", "", name)
	to = resolve(from, name, quoted)
	if (to == "")
		next
	nproj++
	ff = folder_of(from)
	ft = folder_of(to)
	if (!(ff in rank) || !(ft in rank) || rank[ff] <= rank[ft])
		next
	key = from " " to
	if (key in allowed) {
		print "allowed: " from ":" ln " -> " to
		seen[key] = 1
		nallowedup++
	} else {
		print "up: " from ":" ln " -> " to
		nnew++
		status = 1
	}
}
END {
	for (i = 1; i <= nfiles; i++)
		if (!(folder_of(all[i]) in rank)) {
			print "unplaced: " all[i] ": in no folder of " layers
			nunplaced++
			status = 1
		}
	ngone = 0
	for (key in allowed)
		if (!(key in seen))
			gone[++ngone] = allowed[key] ": " key
	# by line number
	for (i = 2; i <= ngone; i++) {
		t = gone[i]
		for (j = i - 1; j >= 1 && gone[j] + 0 > t + 0; j--)
			gone[j + 1] = gone[j]
		gone[j + 1] = t
	}
	for (i = 1; i <= ngone; i++) {
		print allow ":" gone[i]
		print "  no longer an include up: delete the line"
		status = 1
	}
	printf "%s: %d files, %d folders, %d includes of project headers, " \
	    "%d up (%d allowed, %d new), %d unplaced", me, nfiles, nrank, \
	    nproj, nallowedup + nnew, nallowedup, nnew, nunplaced
	if (allow != "")
		printf ", %d allowed gone", ngone
	print ""
	exit status
}' src/LAYERS "$tmp/files" ${allow:+"$allow"} "$tmp/inc"
