#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Shows that no two source files call each other, directly or round a
# longer loop: prints every cycle of the file-level call graph of the
# objects a build has made, and the symbols that tie each one.
#	contrib/layers.sh [--allow FILE] [--order FILE] BUILD_DIR
# BUILD_DIR is a configured and built (make) build directory, such as
# build-werror/ of contrib/check.sh. Its Makefile (automake's object
# lists) names the objects of the project's own libraries and programs
# (noinst_ and lib_LIBRARIES; bin_, sbin_, libexec_ and noinst_PROGRAMS:
# libsluice.a and src/sluice, not the tests), wherever they sit; an
# archive keeps a member's base name only, so the list gives its folder.
# "nm -g -P" reads libsluice.a's members and the daemon's objects: each
# defined global symbol (function or data: T, D, B, R, ...) belongs to its
# object, and each undefined one (U) is an edge from its object to the one
# that defines it. An object is named by its source file:
# src/libsluice_a-h2.o or src/h2.o is src/h2.c. A file-level cycle is a
# strongly connected component of more than one file; for each, every
# edge inside it is printed with its symbols:
#	cycle 1: src/front/client.c src/front/h2.c
#	  src/front/client.c -> src/front/h2.c: sl_h2_on_read sl_h2_start
#	  src/front/h2.c -> src/front/client.c: sl_client_close
# What nm cannot see is not an edge: a static inline function of a header
# is compiled into each object that calls it, and a call through a
# function pointer names no symbol. The second is the point: a lower layer
# calls up only through a handler it was given (doc/design-notes.md,
# "Layers"). Taking a function's address (to store it as a handler) does
# name its symbol, and counts as a call.
#
# --allow FILE: the cycles known today, one a line: its files, sorted,
# separated by spaces; "#" starts a comment. A cycle FILE lists is printed
# as allowed. It fails when a cycle not in FILE appears, and when a line of
# FILE names a cycle that no longer exists (one that is gone or has
# changed its files): so the list only shrinks, and whoever removes a
# cycle deletes its line. make check runs it with tests/layers-allowed.txt
# (tests/layers-check.sh).
#
# --order FILE: the folders of src/ from the top layer down, one a line
# (its first word; "#" starts a comment), as src/LAYERS lists them. Calls
# go down the list, never up: a file of one folder that uses a symbol of
# a file in a folder above it is printed ("up: FROM -> TO: symbols") and
# fails, and so does a source file in no listed folder. A file's folder
# is its directory, less a leading "src/".
#
# Environment: NM (default nm). Exit status: 0 when there is no cycle (or
# with --allow, exactly FILE's), 1 when there is one (or FILE is out of
# date), 2 on a usage error or a build directory that is not built.

LC_ALL=C
export LC_ALL
NM=${NM:-nm}
me=layers.sh

usage() {
	echo "usage: $0 [--allow FILE] [--order FILE] BUILD_DIR" >&2
	exit 2
}

allow=
order=
while [ $# -gt 0 ]; do
	case $1 in
	--order)
		[ $# -ge 2 ] || usage
		order=$2
		shift 2
		;;
	--allow)
		[ $# -ge 2 ] || usage
		allow=$2
		shift 2
		;;
	--allow=*)
		allow=${1#--allow=}
		shift
		;;
	--)
		shift
		break
		;;
	-*)
		usage
		;;
	*)
		break
		;;
	esac
done
[ $# -eq 1 ] || usage
build=$1
if [ ! -f "$build/Makefile" ]; then
	echo "$me: $build/Makefile: no such file: give a configured build" \
		"directory" >&2
	exit 2
fi
if [ -n "$order" ] && [ ! -r "$order" ]; then
	echo "$me: $order: cannot read the folders' order" >&2
	exit 2
fi
if [ -n "$allow" ] && [ ! -r "$allow" ]; then
	echo "$me: $allow: cannot read the list of allowed cycles" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-layers.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM

# The objects, from the Makefile, one a line:
#	#layers O LIBRARY CANONICAL-NAME OBJECT SOURCE
#	#layers P PROGRAM CANONICAL-NAME OBJECT SOURCE
# ("#" starts no symbol, so the marks cannot be mistaken for nm's lines).
awk '
function expand(s,    name, n) {
	while (n++ < 1000 && match(s, /\$[({][A-Za-z0-9_]+[)}]/)) {
		name = substr(s, RSTART + 2, RLENGTH - 3)
		s = substr(s, 1, RSTART - 1) var[name] substr(s, RSTART + RLENGTH)
	}
	return s
}
# an object of TARGET (canonical name CANON) and the source it is made of:
# DIR/CANON-BASE.o (per-target flags) or DIR/BASE.o is DIR/BASE.c
function objects(kind, target, canon, list,    w, n, i, dir, base) {
	n = split(expand(list), w, /[ \t]+/)
	for (i = 1; i <= n; i++) {
		if (w[i] == "" || substr(w[i], length(w[i]) - length(objext) + 1) != objext)
			continue
		dir = w[i]
		sub(/[^\/]*$/, "", dir)
		base = substr(w[i], length(dir) + 1)
		base = substr(base, 1, length(base) - length(objext))
		if (index(base, canon "-") == 1)
			base = substr(base, length(canon) + 2)
		print "#layers", kind, target, canon, w[i], dir base ".c"
	}
}
function targets(kind, list,    w, n, i, canon) {
	n = split(expand(list), w, /[ \t]+/)
	for (i = 1; i <= n; i++) {
		if (w[i] == "")
			continue
		canon = w[i]
		gsub(/[^A-Za-z0-9_]/, "_", canon)
		objects(kind, w[i], canon, var[canon "_OBJECTS"])
		if (kind == "O")
			objects(kind, w[i], canon, var[canon "_LIBADD"])
	}
}
{
	line = $0
	while (line ~ /\\$/ && (getline more) > 0)
		line = substr(line, 1, length(line) - 1) " " more
	if (match(line, /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/)) {
		name = substr(line, 1, RLENGTH - 1)
		sub(/[ \t]+$/, "", name)
		value = substr(line, RLENGTH + 1)
		sub(/^[ \t]+/, "", value)
		sub(/[ \t]+$/, "", value)
		var[name] = value
	}
}
END {
	objext = "." expand("$(OBJEXT)")
	var["EXEEXT"] = ""
	targets("O", var["noinst_LIBRARIES"] " " var["lib_LIBRARIES"])
	targets("P", var["bin_PROGRAMS"] " " var["sbin_PROGRAMS"] " " \
	    var["libexec_PROGRAMS"] " " var["noinst_PROGRAMS"])
}' "$build/Makefile" >"$tmp/objects" || exit 2
if [ ! -s "$tmp/objects" ]; then
	echo "$me: $build/Makefile names no library or program objects" >&2
	exit 2
fi

# nm on each library (its members in archive order) and each program
# object, after the object list
{
	cat "$tmp/objects"
	while read -r _ kind target _ obj src; do
		case $kind in
		O)
			[ "$target" = "$last" ] && continue
			last=$target
			file=$target
			echo "#layers L $target"
			;;
		P)
			file=$obj
			echo "#layers F $src"
			;;
		esac
		if [ ! -f "$build/$file" ]; then
			echo "$me: $build/$file: missing: run make in $build" \
				"first" >&2
			exit 2
		fi
		"$NM" -g -P "$build/$file" || exit 2
	done <"$tmp/objects"
} >"$tmp/nm" || exit 2

awk -v allow="$allow" -v order="$order" -v me="$me" '
function fail(msg) {
	print me ": " msg >"/dev/stderr"
	broken = 1
	exit 2
}
# sorts a[1..n] (insertion sort: a few hundred items at most)
function isort(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}
# the words of s, sorted, joined by one space
function normal(s,    w, n, i, out, m, ww) {
	n = split(s, w, /[ \t]+/)
	m = 0
	for (i = 1; i <= n; i++)
		if (w[i] != "")
			ww[++m] = w[i]
	isort(ww, m)
	out = ""
	for (i = 1; i <= m; i++)
		out = out (i > 1 ? " " : "") ww[i]
	return out
}
# Tarjan: the strongly connected components of the file graph
function connect(v,    k, w) {
	index_of[v] = lowlink[v] = ++counter
	stack[++sp] = v
	on_stack[v] = 1
	for (k = 1; k <= nout[v]; k++) {
		w = out[v, k]
		if (!(w in index_of)) {
			connect(w)
			if (lowlink[w] < lowlink[v])
				lowlink[v] = lowlink[w]
		} else if (on_stack[w] && index_of[w] < lowlink[v]) {
			lowlink[v] = index_of[w]
		}
	}
	if (lowlink[v] == index_of[v]) {
		ncomp++
		do {
			w = stack[sp--]
			on_stack[w] = 0
			comp_of[w] = ncomp
			comp_size[ncomp]++
		} while (w != v)
	}
}
FILENAME == order {
	line = $0
	sub(/#.*/, "", line)
	if (split(line, w, /[ \t]+/) > 0) {
		for (i = 1; w[i] == "" && i < 10; i++)
			;
		if (w[i] != "")
			rank[w[i]] = ++nrank
	}
	next
}
# the folder of a source file: its directory, less a leading "src/"
# (src/front/client.c is in front; lib/deep/b.c in lib/deep)
function folder_of(f) {
	if (sub(/\/[^\/]*$/, "", f) == 0)
		return ""
	sub(/^src\//, "", f)
	return f
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
$1 == "#layers" && $2 == "O" {
	# the k-th member of LIBRARY named BASE is the k-th object of its
	# list with that base name
	base = $5
	sub(/.*\//, "", base)
	member[$3, base, ++nmember[$3, base]] = $6
	next
}
$1 == "#layers" && $2 == "L" {
	lib = $3
	src = ""
	next
}
$1 == "#layers" && $2 == "F" {
	lib = ""
	src = $3
	files[src] = 1
	next
}
lib != "" && /\]:$/ && index($0, "[") {
	base = $0
	sub(/.*\[/, "", base)
	sub(/\]:$/, "", base)
	k = ++seen[lib, base]
	if (!((lib, base, k) in member))
		fail("member " base " of " lib " is not in the Makefile:" \
		    " run make first")
	src = member[lib, base, k]
	files[src] = 1
	next
}
NF >= 2 && src != "" {
	if ($2 == "U" || $2 == "w" || $2 == "v") {
		nref++
		ref_file[nref] = src
		ref_sym[nref] = $1
	} else {
		ndef[$1]++
		def[$1, ndef[$1]] = src
	}
}
END {
	if (broken)
		exit 2
	nfiles = 0
	for (f in files)
		nodes[++nfiles] = f
	if (nfiles == 0)
		fail("nm found no objects")
	isort(nodes, nfiles)

	# edges: file -> file, with the symbols that make them
	nedges = 0
	for (i = 1; i <= nref; i++) {
		s = ref_sym[i]
		for (k = 1; k <= ndef[s]; k++) {
			from = ref_file[i]
			to = def[s, k]
			if (from == to)
				continue
			if (!((from, to) in syms)) {
				nedges++
				out[from, ++nout[from]] = to
				syms[from, to] = s
			} else if (index(" " syms[from, to] " ", " " s " ") == 0) {
				syms[from, to] = syms[from, to] " " s
			}
		}
	}
	for (i = 1; i <= nfiles; i++)
		if (!(nodes[i] in index_of))
			connect(nodes[i])

	# each cycle: its files sorted, then its edges
	ncycles = 0
	for (c = 1; c <= ncomp; c++) {
		if (comp_size[c] < 2)
			continue
		key = ""
		for (i = 1; i <= nfiles; i++)
			if (comp_of[nodes[i]] == c)
				key = key (key == "" ? "" : " ") nodes[i]
		cycles[++ncycles] = key
		comp_key[c] = key
	}
	isort(cycles, ncycles)
	status = 0
	nnew = 0
	for (c = 1; c <= ncycles; c++) {
		key = cycles[c]
		if (allow == "")
			note = ""
		else if (key in allowed)
			note = " (allowed)"
		else
			note = " (NEW: not in " allow ")"
		print "cycle " c ": " key note
		nin = split(key, in_cycle, " ")
		for (i = 1; i <= nin; i++) {
			from = in_cycle[i]
			for (j = 1; j <= nin; j++) {
				to = in_cycle[j]
				if ((from, to) in syms)
					print "  " from " -> " to ": " \
					    normal(syms[from, to])
			}
		}
		if (allow == "" || !(key in allowed)) {
			status = 1
			nnew++
		}
		found[key] = 1
	}
	ngone = 0
	for (key in allowed) {
		if (key in found)
			continue
		gone[++ngone] = allowed[key] ": " key
	}
	# by line number
	for (i = 2; i <= ngone; i++) {
		t = gone[i]
		for (j = i - 1; j >= 1 && gone[j] + 0 > t + 0; j--)
			gone[j + 1] = gone[j]
		gone[j + 1] = t
	}
	for (i = 1; i <= ngone; i++) {
		print allow ":" gone[i]
		print "  no longer a cycle: delete the line (if it shrank" \
		    " to a cycle shown above as NEW, list that one instead)"
		status = 1
	}
	nup = 0
	if (order != "") {
		for (i = 1; i <= nfiles; i++) {
			fo = folder_of(nodes[i])
			if (!(fo in rank)) {
				print "unplaced: " nodes[i] ": in no folder " \
				    "of " order
				status = 1
				nup++
			}
		}
		for (i = 1; i <= nfiles; i++) {
			from = nodes[i]
			for (k = 1; k <= nout[from]; k++) {
				to = out[from, k]
				ff = folder_of(from)
				ft = folder_of(to)
				if ((ff in rank) && (ft in rank) &&
				    rank[ff] > rank[ft]) {
					print "up: " from " -> " to ": " \
					    normal(syms[from, to])
					status = 1
					nup++
				}
			}
		}
	}
	printf "%s: %d files, %d edges, %d cycle%s", me, nfiles, nedges, \
	    ncycles, ncycles == 1 ? "" : "s"
	if (allow != "")
		printf " (%d allowed, %d new), %d allowed cycle%s gone", \
		    ncycles - nnew, nnew, ngone, ngone == 1 ? "" : "s"
	if (order != "")
		printf ", %d folders, %d call%s up or unplaced", nrank, nup, \
		    nup == 1 ? "" : "s"
	print ""
	exit status
}' ${order:+"$order"} ${allow:+"$allow"} "$tmp/nm"
