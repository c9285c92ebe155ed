# SPDX-License-Identifier: MIT
# The seed corpora tests/fuzz/replay.sh replays, by directory, for make
# dist (Makefile.am includes this list): a directory missing here is
# missing from the tarball, and make dist says so.
# Regenerate: tests/dist-files.sh --update-lists .
FUZZ_CORPUS = \
	tests/fuzz/corpus/accenc \
	tests/fuzz/corpus/acme \
	tests/fuzz/corpus/authzpb \
	tests/fuzz/corpus/chunked \
	tests/fuzz/corpus/conf \
	tests/fuzz/corpus/diff_request \
	tests/fuzz/corpus/diff_response \
	tests/fuzz/corpus/dns \
	tests/fuzz/corpus/sni \
	tests/fuzz/corpus/forwarded \
	tests/fuzz/corpus/grpc \
	tests/fuzz/corpus/h1simd \
	tests/fuzz/corpus/h2 \
	tests/fuzz/corpus/h2conn \
	tests/fuzz/corpus/h2diff \
	tests/fuzz/corpus/h2frame \
	tests/fuzz/corpus/h2up \
	tests/fuzz/corpus/h3frame \
	tests/fuzz/corpus/hdrrule \
	tests/fuzz/corpus/health \
	tests/fuzz/corpus/health_h2 \
	tests/fuzz/corpus/hpack \
	tests/fuzz/corpus/hpack_enc \
	tests/fuzz/corpus/idem \
	tests/fuzz/corpus/json \
	tests/fuzz/corpus/jwt \
	tests/fuzz/corpus/keepalive \
	tests/fuzz/corpus/lpat \
	tests/fuzz/corpus/fieldcheck \
	tests/fuzz/corpus/pan \
	tests/fuzz/corpus/proxy \
	tests/fuzz/corpus/qpack \
	tests/fuzz/corpus/quic \
	tests/fuzz/corpus/ratelimit \
	tests/fuzz/corpus/reader \
	tests/fuzz/corpus/route \
	tests/fuzz/corpus/request \
	tests/fuzz/corpus/response \
	tests/fuzz/corpus/sticky \
	tests/fuzz/corpus/tls \
	tests/fuzz/corpus/trace \
	tests/fuzz/corpus/waf \
	tests/fuzz/corpus/wafcheck \
	tests/fuzz/corpus/ws
