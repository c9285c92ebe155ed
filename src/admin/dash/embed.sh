#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes the status page's files (src/admin/dash, doc/dashboard.md) as a C
# table, struct sl_admin_asset (admin_int.h), to standard output: what
# the admin listener serves at /, /dash.js, /dash.css and /icon.svg.
#	embed.sh DIR >dash_assets.c
set -e
dir=$1
echo '/* Written by src/admin/dash/embed.sh from src/admin/dash: do not edit. */'
echo '#include "admin_int.h"'
i=0
for f in index.html dash.js dash.css icon.svg; do
	printf 'static const unsigned char a%d[] = {\n' "$i"
	od -An -v -tx1 "$dir/$f" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
	printf '\t0x00};\n'
	i=$((i + 1))
done
echo 'const struct sl_admin_asset sl_admin_assets[] = {'
echo '    {"/", "text/html; charset=utf-8", a0, sizeof(a0) - 1},'
echo '    {"/dash.js", "text/javascript; charset=utf-8", a1, sizeof(a1) - 1},'
echo '    {"/dash.css", "text/css; charset=utf-8", a2, sizeof(a2) - 1},'
echo '    {"/icon.svg", "image/svg+xml", a3, sizeof(a3) - 1},'
echo '    {NULL, NULL, NULL, 0}};'
