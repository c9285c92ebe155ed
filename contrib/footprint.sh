#!/bin/sh
# contrib/footprint.sh -- in how many src files besides its own each
# feature is named by an identifier (comments and strings aside): the
# measure of issue 79's "a feature is one module".
#
# usage: contrib/footprint.sh [-v] [SRC_DIR]
#   -v  list the files that name each feature
# A feature's own files are those whose name holds its token; a file names
# a feature when an identifier of its code (comments removed by the
# compiler's preprocessor in -fpreprocessed mode, string and character
# literals blanked) holds one of the feature's patterns (extended regular
# expressions, matched against whole identifiers, without case).
set -eu
verbose=0
[ "${1:-}" = -v ] && { verbose=1; shift; }
src=${1:-$(dirname "$0")/../src}
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-footprint.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Identifiers that are not sluice's features though they hold a feature's
# word: the libraries' own names (OpenSSL's SSL_OP_NO_COMPRESSION, the
# compressors' Brotli*, ZSTD_*, libdeflate_*) and the protocols' error
# codes (HTTP/2's COMPRESSION_ERROR, QPACK's DECOMPRESSION_FAILED and the
# HPACK codec's name for it). Counted before issue 79's session 51, they
# made compression look named by h2/, h3/, net/tls.c and core/zstream.c;
# and its pattern "zip" took http/coding.h's SL_CODING_GZIP (the content
# coding's name, which decoding uses too) for the feature: it is now "zip"
# at an identifier's start or after an underscore. A method's being
# idempotent (RFC 9110: SL_TXN_F_IDEMPOTENT, sl_retry_idempotent) and
# retry's idempotency_key (a request with the field may be retried) are
# retries', not the Idempotency-Key store's. HTTP's TRACE method
# (SL_M_TRACE) is no trace, and a span of time (span, *_SPAN_US: rate.c,
# forwarded.c, the rate limits') no span of one.
#
# The canary guard's pattern was the bare word "guard" until issue 79's
# session 53: it took a loop's bound (for (int guard = 0; guard < 8; ...)
# in front/ and exchange.c), the thread pool's priority guard
# (core/tpool.c, tpool.h: guard_ns, guard_tick, sl_tpool_idle's guard_ms)
# and the WAF's waf.guard (guard_ms, which sets that pool's guard) for
# the canary guard, 25 files where 16 named it. Its pattern is now its
# own identifiers: sluice's names that hold "guard" as a word
# (sl_guard_*, SL_GUARD_*, sl_conf_guard*, SL_CONF_SEC_GUARD,
# sl_admin_guard_entry, sl_module_guard, sl_filter_guard), its state's
# types and their short names (sl_gstate, sl_gcounts, gstate_*), and the
# few names of its own that other files held for it (nguards, gweights,
# gmask, txn_guard_note, config_guard, metrics_guards, main_on_guard,
# guard_bind). Two it held could not be told from the pool's by name,
# and were not counted: a route's field "guard" (r->guard, whose readers
# named sl_guard_* or sl_conf_guard too) and the daemon's event guard_ev
# (daemon/main_int.h; tpool.c has one); the move of the guard onto its
# module took both away.
exclude='^(ssl_|brotli|zstd_|libdeflate_)|compression_error$|decompression_failed$|^sl_hpack_compression$|idempotent|idempotency_key$|^sl_m_trace$|_span_us$|^span$'

# each file's identifiers, one a line, lower-cased
for f in "$src"/*/*.c "$src"/*/*.h; do
	out=$tmp/$(echo "$f" | tr '/' '_').ids
	"$CC" -fpreprocessed -dD -E -P -x c "$f" 2>/dev/null |
		sed -e 's/"\([^"\\]\|\\.\)*"/""/g' -e "s/'\([^'\\\\]\|\\\\.\)*'/''/g" |
		grep -oE '[A-Za-z_][A-Za-z_0-9]*' | tr 'A-Z' 'a-z' |
		grep -vE "$exclude" | sort -u >"$out"
	echo "$f" >"$out.name"
done

# JWT and external authorization are one module, auth (they share the
# route key auth:): the module's files (conf/conf_auth*.c, conf_auth.h) are
# both features' own, and the JWT's key sets are fetched by edge/keysrc.c
# and proxy/keyfetch.c, which serve nothing else (session 53).
#
# feature | own files' token | identifier patterns
features='
waf|waf|waf
idempotency|idem|idem
compression|zip compress|(^|_)zip|compress
jwt|jwt jwks auth keysrc keyfetch|jwt|jwks
tracing|trace|trace|span
external authorization|extauth authz conf_auth|extauth|authz
rate limits|ratelimit rate_limit rl|ratelimit|rate_limit|(^|_)rl(_|$)|rlcheck
allow/deny|access policy|sl_policy_refuses|sl_policy_check|allow_deny
mirror|mirror|mirror
canary guard|guard|^sl_([a-z0-9]+_)*guard(_|$)|^sl_g(state|counts)$|^gstate_|^(nguards|gweights|gmask)$|^(txn_guard_note|config_guard|metrics_guards|main_on_guard|guard_bind)$
'
printf '| feature | files naming it besides its own |\n|---|--:|\n'
echo "$features" | while IFS='|' read -r name own pats; do
	[ -n "$name" ] || continue
	n=0
	list=""
	for ids in "$tmp"/*.ids; do
		f=$(cat "$ids.name")
		base=$(basename "$f")
		mine=0
		for o in $own; do
			case "$base" in *"$o"*) mine=1 ;; esac
		done
		[ $mine = 1 ] && continue
		if grep -qiE "$pats" "$ids"; then
			n=$((n + 1))
			list="$list ${f#"$src"/}"
		fi
	done
	printf '| %s | %d |\n' "$name" "$n"
	[ $verbose = 1 ] && printf '  %s\n' $list || true
done
