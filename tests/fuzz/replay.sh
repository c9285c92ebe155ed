#!/bin/sh
# SPDX-License-Identifier: MIT
# Replays the fuzz corpora through the replayer binaries (the fuzz drivers
# linked without libFuzzer). Run by make check with top_srcdir and
# top_builddir set; a corpus directory that does not exist is skipped.

top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
top_builddir=${top_builddir:-.}

status=0
ran=0
for target in request response chunked conf sticky route keepalive health tls pan \
	hdrrule proxy forwarded ratelimit h2 ws grpc health_h2 h2up dns h1simd \
	hpack hpack_enc h2frame h2conn h2diff json jwt authzpb trace waf \
	accenc idem reader wafcheck qpack h3frame quic diff_request diff_response \
	sni lpat fieldcheck acme; do
	corpus=$top_srcdir/tests/fuzz/corpus/$target
	bin=$top_builddir/tests/fuzz/replay_$target
	if [ ! -d "$corpus" ]; then
		echo "replay.sh: no corpus for $target, skipped"
		continue
	fi
	case $target in
	diff_*)
		# built only where configure found llhttp's sources
		if [ ! -x "$bin" ]; then
			echo "replay.sh: $target skipped: configure found no" \
				"llhttp sources (Debian: node-llhttp)"
			continue
		fi
		;;
	qpack | h3frame | quic)
		# built only with QUIC (configure's HAVE_QUIC)
		if [ ! -x "$bin" ]; then
			echo "replay.sh: $target skipped: a build without QUIC" \
				"(--without-quic, or no libnghttp3)"
			continue
		fi
		;;
	esac
	if [ ! -x "$bin" ]; then
		echo "replay.sh: $bin not built" >&2
		status=1
		continue
	fi
	if "$bin" "$corpus"; then
		ran=$((ran + 1))
	else
		echo "replay.sh: FAIL: $target corpus" >&2
		status=1
	fi
done
if [ "$status" -eq 0 ] && [ "$ran" -eq 0 ]; then
	echo "replay.sh: no corpus found" >&2
	status=1
fi
exit $status
