#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Each folder's README keeps up with its files (issue 77: READMEs that had
# drifted, naming half a folder's files or none). Every folder of src/ is
# listed in src/LAYERS and has a README; every line of src/LAYERS names a
# folder of src/ by its first word, as contrib/layers.sh and
# contrib/includes.sh read it (so a line continued onto the next, whose
# first word is no folder, is caught); and every src/FOLDER/*.c is named
# in src/FOLDER/README as the word NAME.c (not FOLDER/NAME.c, which names
# another folder's file, nor a pattern such as exchange*.c). Run by make
# check with top_srcdir set. It first shows that it can fail: a scratch
# tree with one miss of each kind must have each reported. Exit 0 when all
# pass, else 1 with each miss on standard error.

LC_ALL=C
export LC_ALL
top_srcdir=${top_srcdir:-$(dirname "$0")/..}

# misses SRC: one line for each miss of the tree SRC (a src/ directory)
misses() {
	src=$1
	if [ ! -r "$src/LAYERS" ]; then
		echo "$src/LAYERS: missing"
		return 0
	fi
	# the first word of each line, "#" starting a comment (layers.sh's
	# reading of --order)
	layers=$(sed 's/#.*//' "$src/LAYERS" | awk 'NF { print $1 }')
	for w in $layers; do
		[ -d "$src/$w" ] ||
			echo "$src/LAYERS: \"$w\" is not a folder of src/"
	done
	for d in "$src"/*/; do
		[ -d "$d" ] || continue
		d=${d%/}
		f=${d##*/}
		echo "$layers" | grep -qx "$f" ||
			echo "$src/LAYERS: folder $f not listed"
		if [ ! -r "$d/README" ]; then
			echo "$d/README: missing"
			continue
		fi
		for c in "$d"/*.c; do
			[ -f "$c" ] || continue
			n=${c##*/}
			# the name as a word: not inside a longer name, not
			# after a folder's slash
			p=$(echo "$n" | sed 's/\./\\./g')
			grep -Eq "(^|[^A-Za-z0-9_./-])$p([^A-Za-z0-9_]|\$)" \
				"$d/README" ||
				echo "$d/README: does not name $n"
		done
	done
	return 0
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-readme-check.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' INT TERM

# The scratch tree: a/ names its files (one in a sentence, one before a
# colon); b/ names x.c only as c/x.c and y.c only inside yy.c and as y*.c;
# c/ has no README; d/ is not listed; LAYERS continues a line onto one
# whose first word is no folder. Five misses, and none for a/.
s=$tmp/src
mkdir -p "$s/a" "$s/b" "$s/c" "$s/d" || exit 99
: >"$s/a/one.c" && : >"$s/a/two_x.c" && : >"$s/b/x.c" && : >"$s/b/y.c" &&
	: >"$s/c/z.c" && : >"$s/d/w.c" || exit 99
printf '# order\na    the top\nb    the middle, its\n     continued line\nc\n' \
	>"$s/LAYERS" || exit 99
printf 'Owns one.c.\n  two_x.c:  the second\n' >"$s/a/README" || exit 99
printf 'Not c/x.c; yy.c and y*.c.\n' >"$s/b/README" || exit 99
printf 'w.c\n' >"$s/d/README" || exit 99
got=$(misses "$s" | sed "s|$s/||" | sort)
want=$(printf '%s\n' 'LAYERS: "continued" is not a folder of src/' \
	'LAYERS: folder d not listed' 'b/README: does not name x.c' \
	'b/README: does not name y.c' 'c/README: missing' | sort)
if [ "$got" != "$want" ]; then
	echo "readme-check.sh: FAIL: the check does not see the scratch" \
		"tree's misses; it found:" >&2
	echo "$got" >&2
	exit 1
fi

found=$(misses "$top_srcdir/src")
if [ -n "$found" ]; then
	echo "readme-check.sh: FAIL: src/'s folders and their READMEs:" >&2
	echo "$found" >&2
	exit 1
fi
echo "readme-check.sh: every folder of src/ in src/LAYERS, with a README" \
	"naming each of its .c files"
exit 0
