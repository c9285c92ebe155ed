# SPDX-License-Identifier: MIT
# Builds the libFuzzer binaries with clang, ASan and UBSan:
#   make -f tests/fuzz/fuzz.mk            (from the source tree)
#   make fuzz                             (from a configured build tree)
# The binaries land in $(OUT), tests/fuzz/ of the source tree by default.
# See tests/fuzz/README for how to run them.

FUZZ_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
top_srcdir ?= $(abspath $(FUZZ_DIR)/../..)
OUT ?= $(top_srcdir)/tests/fuzz

FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -std=c11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Wno-unused-parameter
FUZZ_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/src/daemon -I$(top_srcdir)/src/admin -I$(top_srcdir)/src/front -I$(top_srcdir)/src/proxy -I$(top_srcdir)/src/upstream -I$(top_srcdir)/src/fleet -I$(top_srcdir)/src/conf -I$(top_srcdir)/src/edge -I$(top_srcdir)/src/h3 -I$(top_srcdir)/src/h2 -I$(top_srcdir)/src/http -I$(top_srcdir)/src/quic -I$(top_srcdir)/src/net -I$(top_srcdir)/src/core

# HPACK's tables, written at build time from libnghttp2 as Makefile.am
# does (src/h2/hpack_gen.c); defined before any rule that names them
.DEFAULT_GOAL := all
NGHTTP2_LIBS ?= $(shell pkg-config --libs libnghttp2 2>/dev/null)
HPACK_TAB = $(OUT)/hpack_tab.c
$(OUT)/hpack_gen: $(top_srcdir)/src/h2/hpack_gen.c $(top_srcdir)/src/h2/hpack_tab.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -O1 -I$(top_srcdir)/src/h2 -o $@ $< $(NGHTTP2_LIBS)
$(HPACK_TAB): $(OUT)/hpack_gen
	$(OUT)/hpack_gen >$@-t && mv -f $@-t $@
# the status page's files as C (src/admin/dash/embed.sh, as Makefile.am)
DASH_TAB = $(OUT)/dash_assets.c
$(DASH_TAB): $(top_srcdir)/src/admin/dash/embed.sh \
		$(wildcard $(top_srcdir)/src/admin/dash/*)
	@mkdir -p $(@D)
	sh $(top_srcdir)/src/admin/dash/embed.sh $(top_srcdir)/src/admin/dash >$@-t && mv -f $@-t $@
# sluice's own HTTP/2 layer (src/h2), for the drivers of what sits on it
OWN_H2_SRCS = $(top_srcdir)/src/h2/h2conn.c $(top_srcdir)/src/h2/frame.c \
	$(top_srcdir)/src/h2/hpack.c $(HPACK_TAB)

PARSE_SRCS = $(top_srcdir)/src/http/h1_parse.c $(top_srcdir)/src/http/h1_chunked.c \
	$(top_srcdir)/src/http/h1_salvage.c
PARSE_HDRS = $(top_srcdir)/src/http/h1_parse.h $(top_srcdir)/src/http/h1_parse_int.h

# The configuration fuzzer (tests/fuzz/fuzz_conf.c) needs the loader
# (conf.c, conf_util.c, conf_keys.c, conf_cluster.c, conf_route.c,
# conf_hosts.c, conf_mods.c (the module table), conf_mirror.c,
# conf_edge.c, conf_tls.c, dnsmsg.c (names in endpoints), conf_yaml.c,
# conf_yaml_err.c, conf_node.c, conf_guard.c, conf_lua.c (built without
# Lua: -t says so of a route's lua:), conf_rl.c with
# ratelimit_state.c (the modules' state in the registry), conf_auth*.c,
# conf_waf.c with waf.c and pan.c: built
# here without HAVE_MODSECURITY, so waf.c's stubs refuse a route's rules;
# conf_compress.c with coding.c and zstream.c, built without the
# compressors' libraries, whose absence -t reports; conf_idem.c with
# idem.c (the local store's figures); route.c, route_index.c, balance.c
# and h1_parse.c for the routes' index), libyaml and libcrypto (the
# file's SHA-256); it is built only when its driver exists.
# Override CONF_SRCS or CONF_LIBS if the loader grows other dependencies.
CONF_SRCS ?= $(wildcard $(top_srcdir)/src/conf/conf.c $(top_srcdir)/src/conf/conf_yaml.c \
	$(top_srcdir)/src/conf/conf_yaml_err.c \
	$(top_srcdir)/src/conf/conf_node.c $(top_srcdir)/src/conf/conf_edge.c \
	$(top_srcdir)/src/conf/conf_tls.c $(top_srcdir)/src/conf/conf_cluster.c \
	$(top_srcdir)/src/conf/conf_route.c $(top_srcdir)/src/conf/conf_keys.c \
	$(top_srcdir)/src/conf/conf_hosts.c $(top_srcdir)/src/conf/conf_mods.c \
	$(top_srcdir)/src/conf/conf_mirror.c \
	$(top_srcdir)/src/conf/conf_util.c $(top_srcdir)/src/conf/conf_auth.c $(top_srcdir)/src/conf/conf_auth_print.c $(top_srcdir)/src/conf/conf_auth_metrics.c \
	$(top_srcdir)/src/conf/conf_trace.c $(top_srcdir)/src/conf/conf_waf.c \
	$(top_srcdir)/src/conf/conf_guard.c $(top_srcdir)/src/conf/conf_rl.c \
	$(top_srcdir)/src/conf/conf_lua.c $(top_srcdir)/src/conf/conf_acme.c \
	$(top_srcdir)/src/net/acmeslot.c $(top_srcdir)/src/net/tlscert.c \
	$(top_srcdir)/src/edge/ratelimit_state.c \
	$(top_srcdir)/src/edge/waf.c $(top_srcdir)/src/core/pan.c \
	$(top_srcdir)/src/edge/jwt.c $(top_srcdir)/src/edge/json.c $(top_srcdir)/src/edge/keysrc.c \
	$(top_srcdir)/src/edge/runtime.c $(top_srcdir)/src/core/util.c \
	$(top_srcdir)/src/edge/route.c $(top_srcdir)/src/edge/route_index.c \
	$(top_srcdir)/src/edge/balance.c $(top_srcdir)/src/http/h1_parse.c \
	$(top_srcdir)/src/core/cidr.c $(top_srcdir)/src/edge/policy.c \
	$(top_srcdir)/src/http/hdrrule.c $(top_srcdir)/src/net/proxyproto.c \
	$(top_srcdir)/src/edge/ratelimit.c $(top_srcdir)/src/net/dnsmsg.c \
	$(top_srcdir)/src/conf/conf_compress.c $(top_srcdir)/src/http/coding.c \
	$(top_srcdir)/src/core/zstream.c $(top_srcdir)/src/conf/conf_idem.c \
	$(top_srcdir)/src/edge/idem.c \
	$(top_srcdir)/src/core/log.c)
CONF_LIBS ?= $(shell pkg-config --libs yaml-0.1 libssl libcrypto 2>/dev/null) -lpthread
CONF_CFLAGS ?= $(shell pkg-config --cflags yaml-0.1 2>/dev/null)

TARGETS = $(OUT)/fuzz_request $(OUT)/fuzz_response $(OUT)/fuzz_chunked \
	$(OUT)/fuzz_sticky $(OUT)/fuzz_keepalive $(OUT)/fuzz_health \
	$(OUT)/fuzz_tls $(OUT)/fuzz_pan $(OUT)/fuzz_hdrrule $(OUT)/fuzz_proxy \
	$(OUT)/fuzz_forwarded $(OUT)/fuzz_ratelimit $(OUT)/fuzz_h2 \
	$(OUT)/fuzz_ws $(OUT)/fuzz_grpc $(OUT)/fuzz_health_h2 \
	$(OUT)/fuzz_h2up $(OUT)/fuzz_dns $(OUT)/fuzz_sni $(OUT)/fuzz_h1simd \
	$(OUT)/fuzz_hpack $(OUT)/fuzz_hpack_enc $(OUT)/fuzz_h2frame \
	$(OUT)/fuzz_h2conn $(OUT)/fuzz_h2diff $(OUT)/fuzz_json $(OUT)/fuzz_jwt \
	$(OUT)/fuzz_authzpb $(OUT)/fuzz_trace $(OUT)/fuzz_waf \
	$(OUT)/fuzz_accenc $(OUT)/fuzz_idem $(OUT)/fuzz_reader \
	$(OUT)/fuzz_wafcheck $(OUT)/fuzz_route $(OUT)/fuzz_lpat \
	$(OUT)/fuzz_fieldcheck $(OUT)/fuzz_acme
ifneq ($(shell pkg-config --exists libnghttp3 2>/dev/null && echo y),)
TARGETS += $(OUT)/fuzz_qpack $(OUT)/fuzz_h3frame
endif
ifneq ($(shell pkg-config --exists libngtcp2 2>/dev/null && echo y),)
TARGETS += $(OUT)/fuzz_quic
endif
ifneq ($(wildcard $(top_srcdir)/tests/fuzz/fuzz_conf.c),)
TARGETS += $(OUT)/fuzz_conf
endif

# The differential targets against llhttp in strict mode, from the
# system's llhttp sources (Debian: node-llhttp), when they are there.
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INCDIR ?= /usr/share/include/llhttp
LLHTTP_SRCS = $(LLHTTP_DIR)/llhttp.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c
ifneq ($(wildcard $(LLHTTP_DIR)/llhttp.c),)
TARGETS += $(OUT)/fuzz_diff_request $(OUT)/fuzz_diff_response
endif
DIFF_CPPFLAGS = $(FUZZ_CPPFLAGS) -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INCDIR)

all: $(TARGETS)

$(OUT)/fuzz_%: $(top_srcdir)/tests/fuzz/fuzz_%.c $(PARSE_SRCS) $(PARSE_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(PARSE_SRCS)

# the parser's SSE2 build against its scalar one (fuzz_h1simd.c): the
# same source twice, the second time with SL_H1_SCALAR and its names
# prefixed (h1_parse_scalar.c)
SIMD_SRCS = $(top_srcdir)/tests/fuzz/h1_parse_scalar.c $(PARSE_SRCS)
$(OUT)/fuzz_h1simd: $(top_srcdir)/tests/fuzz/fuzz_h1simd.c $(SIMD_SRCS) \
		$(PARSE_HDRS) $(top_srcdir)/tests/fuzz/h1_parse_scalar.h \
		$(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(SIMD_SRCS)

# sticky keys: the parser, route matching and the race
STICKY_SRCS = $(PARSE_SRCS) $(top_srcdir)/src/edge/route.c \
	$(top_srcdir)/src/edge/route_index.c $(top_srcdir)/src/edge/balance.c \
	$(top_srcdir)/src/core/cidr.c $(top_srcdir)/src/core/util.c
$(OUT)/fuzz_sticky: $(top_srcdir)/tests/fuzz/fuzz_sticky.c $(STICKY_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(STICKY_SRCS)

# the route index against the walk (fuzz_route.c)
$(OUT)/fuzz_route: $(top_srcdir)/tests/fuzz/fuzz_route.c $(STICKY_SRCS) \
		$(top_srcdir)/src/edge/route_index.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(STICKY_SRCS)

$(OUT)/fuzz_diff_request: $(top_srcdir)/tests/fuzz/fuzz_diff_request.c $(PARSE_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(DIFF_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(PARSE_SRCS) \
		$(LLHTTP_SRCS)

$(OUT)/fuzz_diff_response: $(top_srcdir)/tests/fuzz/fuzz_diff_request.c $(PARSE_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(DIFF_CPPFLAGS) -DDIFF_RESPONSE $(FUZZ_CFLAGS) -o $@ $< \
		$(PARSE_SRCS) $(LLHTTP_SRCS)

# header rules and the heads written with them
HDRRULE_SRCS = $(PARSE_SRCS) $(top_srcdir)/src/http/h1_msg.c \
	$(top_srcdir)/src/http/hdrrule.c
$(OUT)/fuzz_hdrrule: $(top_srcdir)/tests/fuzz/fuzz_hdrrule.c $(HDRRULE_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(HDRRULE_SRCS)

# the chunked decoder, and the chunk writer (h1_msg.c) framing its
# payload again
$(OUT)/fuzz_chunked: $(top_srcdir)/tests/fuzz/fuzz_chunked.c $(HDRRULE_SRCS) \
		$(PARSE_HDRS) $(top_srcdir)/src/http/h1_msg.h \
		$(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(HDRRULE_SRCS)

# the reader of upstream responses (fuzz_reader.c): the parser, and the
# head blocks' reader in h1_msg.c
READER_SRCS = $(HDRRULE_SRCS) $(top_srcdir)/src/http/h1_reader.c
$(OUT)/fuzz_reader: $(top_srcdir)/tests/fuzz/fuzz_reader.c $(READER_SRCS) \
		$(top_srcdir)/src/http/h1_reader.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(GC) -o $@ $< $(READER_SRCS)
# identity: the PROXY protocol parser; the forwarded fields and the head
# written upstream
PROXY_SRCS = $(top_srcdir)/src/net/proxyproto.c $(top_srcdir)/src/core/cidr.c \
	$(top_srcdir)/src/core/util.c
$(OUT)/fuzz_proxy: $(top_srcdir)/tests/fuzz/fuzz_proxy.c $(PROXY_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(PROXY_SRCS)
FORWARDED_SRCS = $(PARSE_SRCS) $(top_srcdir)/src/edge/forwarded.c \
	$(top_srcdir)/src/http/h1_msg.c $(top_srcdir)/src/core/cidr.c \
	$(top_srcdir)/src/core/util.c $(top_srcdir)/src/http/hdrrule.c
$(OUT)/fuzz_forwarded: $(top_srcdir)/tests/fuzz/fuzz_forwarded.c \
		$(FORWARDED_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(FORWARDED_SRCS)

# the JSON parser (fuzz_json.c): pure; with Debian's libjansson, when
# pkg-config finds it, its accept or refuse is compared with jansson's
# (FUZZ_JSON_JANSSON; make check's replayer never uses it)
JSON_SRCS = $(top_srcdir)/src/edge/json.c
JANSSON_LIBS ?= $(shell pkg-config --libs jansson 2>/dev/null)
JANSSON_CFLAGS ?= $(if $(JANSSON_LIBS),-DFUZZ_JSON_JANSSON \
	$(shell pkg-config --cflags jansson 2>/dev/null))
$(OUT)/fuzz_json: $(top_srcdir)/tests/fuzz/fuzz_json.c $(JSON_SRCS) \
		$(top_srcdir)/src/edge/json.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) -o $@ $< \
		$(JSON_SRCS) $(JANSSON_LIBS)

# Lua's patterns with a step budget (fuzz_lpat.c): lpat.c alone, and with
# Debian's liblua5.4, when pkg-config finds it, the bindings (lua_pat.c)
# against Lua's own string functions (HAVE_LUA, as configure defines it)
LPAT_SRCS = $(top_srcdir)/src/edge/lpat.c
LPAT_LUA_LIBS ?= $(shell pkg-config --libs lua5.4 2>/dev/null)
LPAT_LUA = $(if $(LPAT_LUA_LIBS),-DHAVE_LUA \
	$(shell pkg-config --cflags lua5.4 2>/dev/null) \
	$(top_srcdir)/src/edge/lua_pat.c $(LPAT_LUA_LIBS))
$(OUT)/fuzz_lpat: $(top_srcdir)/tests/fuzz/fuzz_lpat.c $(LPAT_SRCS) \
		$(top_srcdir)/src/edge/lpat.h $(top_srcdir)/src/edge/lua_pat.c \
		$(top_srcdir)/src/edge/lua_pat.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(LPAT_SRCS) \
		$(LPAT_LUA)

# what crosses from a Lua script into a head (fuzz_fieldcheck.c), the
# HTTP/1.1 parser its oracle
$(OUT)/fuzz_fieldcheck: $(top_srcdir)/tests/fuzz/fuzz_fieldcheck.c \
		$(top_srcdir)/src/http/fieldcheck.c \
		$(top_srcdir)/src/http/fieldcheck.h $(PARSE_SRCS) $(PARSE_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< \
		$(top_srcdir)/src/http/fieldcheck.c $(PARSE_SRCS)

# the WAF's loop-side checks (fuzz_wafcheck.c), json.c their JSON oracle
WAFCHECK_SRCS = $(top_srcdir)/src/edge/wafcheck.c $(JSON_SRCS)
$(OUT)/fuzz_wafcheck: $(top_srcdir)/tests/fuzz/fuzz_wafcheck.c \
		$(WAFCHECK_SRCS) $(top_srcdir)/src/edge/wafcheck.h \
		$(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(WAFCHECK_SRCS)

# JSON Web Tokens and key sets (fuzz_jwt.c): jwt.c on json.c, OpenSSL's
# libcrypto for the keys and signatures
JWT_SRCS = $(top_srcdir)/src/edge/jwt.c $(JSON_SRCS)
$(OUT)/fuzz_jwt: $(top_srcdir)/tests/fuzz/fuzz_jwt.c $(JWT_SRCS) \
		$(top_srcdir)/src/edge/jwt.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(JWT_SRCS) \
		$(shell pkg-config --libs libcrypto)

# Envoy's CheckRequest and CheckResponse by hand (fuzz_authzpb.c): pure
AUTHZPB_SRCS = $(top_srcdir)/src/edge/authzpb.c
$(OUT)/fuzz_authzpb: $(top_srcdir)/tests/fuzz/fuzz_authzpb.c $(AUTHZPB_SRCS) \
		$(top_srcdir)/src/edge/authzpb.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(AUTHZPB_SRCS)

# W3C Trace Context and OTLP spans by hand (fuzz_trace.c): pure
TRACE_SRCS = $(top_srcdir)/src/edge/trace.c
$(OUT)/fuzz_trace: $(top_srcdir)/tests/fuzz/fuzz_trace.c $(TRACE_SRCS) \
		$(top_srcdir)/src/edge/trace.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(TRACE_SRCS)

# what is kept of ModSecurity's messages (fuzz_waf.c): pure, with the
# credential names of hdrrule.c (what is masked); built
# without HAVE_MODSECURITY, so waf.c's stubs stand for the library's part
WAF_SRCS = $(top_srcdir)/src/edge/waf.c $(top_srcdir)/src/core/pan.c \
	$(top_srcdir)/src/http/hdrrule.c
$(OUT)/fuzz_waf: $(top_srcdir)/tests/fuzz/fuzz_waf.c $(WAF_SRCS) \
		$(top_srcdir)/src/edge/waf.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(WAF_SRCS)

# Accept-Encoding and media type patterns (fuzz_accenc.c): pure
ACCENC_SRCS = $(top_srcdir)/src/http/coding.c
$(OUT)/fuzz_accenc: $(top_srcdir)/tests/fuzz/fuzz_accenc.c $(ACCENC_SRCS) \
		$(top_srcdir)/src/http/coding.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(ACCENC_SRCS)

# the Idempotency-Key field and a kept answer's bytes (fuzz_idem.c): pure
# (idem.c's local store needs pthreads, its sealing libcrypto)
IDEM_SRCS = $(top_srcdir)/src/edge/idem.c
$(OUT)/fuzz_idem: $(top_srcdir)/tests/fuzz/fuzz_idem.c $(IDEM_SRCS) \
		$(top_srcdir)/src/edge/idem.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(IDEM_SRCS) \
		$(shell pkg-config --libs libcrypto) -lpthread

# the card number masker and its users in log.c
PAN_SRCS = $(top_srcdir)/src/core/pan.c $(top_srcdir)/src/core/log.c
$(OUT)/fuzz_pan: $(top_srcdir)/tests/fuzz/fuzz_pan.c $(PAN_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(PAN_SRCS)

# rate limits: the GCRA table and the lease table (src/edge/ratelimit.c)
RL_SRCS = $(top_srcdir)/src/edge/ratelimit.c $(top_srcdir)/src/core/util.c
$(OUT)/fuzz_ratelimit: $(top_srcdir)/tests/fuzz/fuzz_ratelimit.c $(RL_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(RL_SRCS) -lpthread

# health-check responses and the TLS record path: health.c and tls.c pull
# in libevent and OpenSSL; the linker drops what the drivers do not reach
GC = -ffunction-sections -fdata-sections -Wl,--gc-sections
NET_LIBS ?= $(shell pkg-config --libs libevent_core libssl libcrypto \
	2>/dev/null) -lpthread
HEALTH_SRCS = $(READER_SRCS) $(top_srcdir)/src/upstream/health.c \
	$(top_srcdir)/src/core/log.c $(top_srcdir)/src/core/util.c $(top_srcdir)/src/net/tls.c \
	$(top_srcdir)/src/core/pan.c $(top_srcdir)/src/net/proxyproto.c \
	$(top_srcdir)/src/core/cidr.c $(top_srcdir)/src/net/xprt.c \
	$(top_srcdir)/src/net/xprt_mem.c $(top_srcdir)/src/upstream/health_h2.c \
	$(top_srcdir)/src/net/tlscert.c $(top_srcdir)/src/net/sniname.c \
	$(top_srcdir)/src/net/acmeslot.c $(top_srcdir)/src/net/tls_acme.c \
	$(OWN_H2_SRCS)
TLS_SRCS = $(top_srcdir)/src/net/tls.c $(top_srcdir)/src/core/log.c \
	$(top_srcdir)/src/core/util.c $(top_srcdir)/src/core/pan.c \
	$(top_srcdir)/src/net/tlscert.c $(top_srcdir)/src/net/sniname.c \
	$(top_srcdir)/src/net/acmeslot.c $(top_srcdir)/src/net/tls_acme.c
$(OUT)/fuzz_health: $(top_srcdir)/tests/fuzz/fuzz_health.c $(HEALTH_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(GC) -o $@ $< \
		$(HEALTH_SRCS) $(NET_LIBS)
$(OUT)/fuzz_tls: $(top_srcdir)/tests/fuzz/fuzz_tls.c $(TLS_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(GC) -o $@ $< \
		$(TLS_SRCS) $(NET_LIBS)

# the ACME client's answer reader (fuzz_acme.c): acme_http.c, with util.c
# (the clock) and tlscert.c (OpenSSL's reason) that its calls name; the
# linker drops what the reader does not reach
ACME_SRCS = $(top_srcdir)/src/fleet/acme_http.c $(top_srcdir)/src/core/util.c \
	$(top_srcdir)/src/net/tlscert.c
$(OUT)/fuzz_acme: $(top_srcdir)/tests/fuzz/fuzz_acme.c $(ACME_SRCS) \
		$(top_srcdir)/src/fleet/acme_int.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(GC) \
		-DPACKAGE_VERSION='"fuzz"' -o $@ $< $(ACME_SRCS) $(NET_LIBS)

# upgrades (fuzz_ws.c): the handshake checks and WebSocket frames; the
# accept's SHA-1 is tls.c's
WS_SRCS = $(PARSE_SRCS) $(top_srcdir)/src/http/ws.c $(top_srcdir)/src/http/h1_msg.c \
	$(top_srcdir)/src/http/hdrrule.c $(top_srcdir)/src/core/cidr.c $(TLS_SRCS)
$(OUT)/fuzz_ws: $(top_srcdir)/tests/fuzz/fuzz_ws.c $(WS_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(GC) -o $@ $< \
		$(WS_SRCS) $(NET_LIBS)

# an HTTP/2 health check's answer (fuzz_health_h2.c): pure, on sluice's
# own HTTP/2 layer
HEALTH_H2_SRCS = $(top_srcdir)/src/upstream/health_h2.c $(OWN_H2_SRCS)
$(OUT)/fuzz_health_h2: $(top_srcdir)/tests/fuzz/fuzz_health_h2.c \
		$(HEALTH_H2_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< \
		$(HEALTH_H2_SRCS) -lpthread

# DNS answers (fuzz_dns.c): pure
DNS_SRCS = $(top_srcdir)/src/net/dnsmsg.c
$(OUT)/fuzz_dns: $(top_srcdir)/tests/fuzz/fuzz_dns.c $(DNS_SRCS) \
		$(top_srcdir)/src/net/dnsmsg.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(DNS_SRCS)

# SNI's index against the walk (fuzz_sni.c): pure
SNI_SRCS = $(top_srcdir)/src/net/sniname.c
$(OUT)/fuzz_sni: $(top_srcdir)/tests/fuzz/fuzz_sni.c $(SNI_SRCS) \
		$(top_srcdir)/src/net/sniname.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(SNI_SRCS)

# gRPC's fields (fuzz_grpc.c): pure
$(OUT)/fuzz_grpc: $(top_srcdir)/tests/fuzz/fuzz_grpc.c $(top_srcdir)/src/http/grpc.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< \
		$(top_srcdir)/src/http/grpc.c

# the HTTP/2 codec (fuzz_h2.c): a whole worker over the memory transport,
# so every source but the daemon's (main.c, main_*.c: not in libsluice.a),
# and every library libsluice.a links
# (not HTTP/3's: src/quic links libngtcp2, src/h3 its generated table,
# src/front/h3*.c calls both, and nothing of the worker built here calls
# them without HAVE_QUIC, which these drivers are built without; nor
# edge/lua_pat.c, edge/luavm.c and proxy/exchange_lua_api.c, which need
# Lua's headers and are built only with HAVE_LUA, as these are not:
# exchange_lua.c and conf_lua.c are their stubs then)
H2_SRCS = $(filter-out $(top_srcdir)/src/daemon/main.c $(top_srcdir)/src/main_%.c \
	$(top_srcdir)/src/h2/hpack_gen.c $(top_srcdir)/src/quic/%.c \
	$(top_srcdir)/src/h3/%.c $(top_srcdir)/src/front/h3%.c \
	$(top_srcdir)/src/edge/lua_pat.c $(top_srcdir)/src/edge/luavm.c \
	$(top_srcdir)/src/proxy/exchange_lua_api.c, \
	$(wildcard $(top_srcdir)/src/*/*.c)) $(HPACK_TAB) $(DASH_TAB)
H2_HDRS = $(wildcard $(top_srcdir)/src/*/*.h)
H2_PKGS = libevent_core libevent_pthreads libssl libcrypto yaml-0.1 hiredis \
	libnghttp2
# handover.c and admin_metrics.c name the version, as configure.ac says
# it (braces: the sed script's parentheses would end a $(shell ...))
H2_VERSION := ${shell sed -n 's/^AC_INIT(\[sluice\], \[\([^]]*\)\].*/\1/p' \
	$(top_srcdir)/configure.ac 2>/dev/null}
H2_CFLAGS ?= $(shell pkg-config --cflags $(H2_PKGS) 2>/dev/null) \
	-DPACKAGE_VERSION='"$(or $(H2_VERSION),fuzz)"'
H2_LIBS ?= $(shell pkg-config --libs $(H2_PKGS) 2>/dev/null) -lm -lpthread
$(OUT)/fuzz_h2: $(top_srcdir)/tests/fuzz/fuzz_h2.c \
		$(top_srcdir)/tests/fuzz/fuzz.h $(H2_SRCS) $(H2_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(H2_CFLAGS) $(FUZZ_CFLAGS) $(GC) -o $@ $< \
		$(H2_SRCS) $(H2_LIBS)

# HTTP/2 upstreams (fuzz_h2up.c): a worker, as fuzz_h2
$(OUT)/fuzz_h2up: $(top_srcdir)/tests/fuzz/fuzz_h2up.c \
		$(top_srcdir)/tests/fuzz/fuzz.h $(H2_SRCS) $(H2_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(H2_CFLAGS) $(FUZZ_CFLAGS) $(GC) -o $@ $< \
		$(H2_SRCS) $(H2_LIBS)

# HPACK (fuzz_hpack.c, fuzz_hpack_enc.c) against nghttp2's coder, and the
# frame reader (fuzz_h2frame.c) against an nghttp2 server session: pure,
# nghttp2 the oracle
HPACK_SRCS = $(top_srcdir)/src/h2/hpack.c $(HPACK_TAB)
FRAME_SRCS = $(top_srcdir)/src/h2/frame.c $(HPACK_SRCS)
$(OUT)/fuzz_hpack: $(top_srcdir)/tests/fuzz/fuzz_hpack.c $(HPACK_SRCS) \
		$(top_srcdir)/src/h2/hpack.h $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(HPACK_SRCS) \
		$(NGHTTP2_LIBS)
$(OUT)/fuzz_hpack_enc: $(top_srcdir)/tests/fuzz/fuzz_hpack_enc.c \
		$(HPACK_SRCS) $(top_srcdir)/src/h2/hpack.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(HPACK_SRCS) \
		$(NGHTTP2_LIBS)
$(OUT)/fuzz_h2frame: $(top_srcdir)/tests/fuzz/fuzz_h2frame.c $(FRAME_SRCS) \
		$(top_srcdir)/src/h2/frame.h $(top_srcdir)/src/h2/hpack.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(FRAME_SRCS) \
		$(NGHTTP2_LIBS)

# QPACK (fuzz_qpack.c) against libnghttp3's: pure, nghttp3 the oracle;
# its static table written from libnghttp3 as Makefile.am does
# (src/h3/qpack_gen.c). Built where pkg-config finds libnghttp3.
NGHTTP3_LIBS ?= $(shell pkg-config --libs libnghttp3 2>/dev/null)
QPACK_TAB = $(OUT)/qpack_tab.c
$(OUT)/qpack_gen: $(top_srcdir)/src/h3/qpack_gen.c $(top_srcdir)/src/h3/qpack_tab.h \
		$(top_srcdir)/src/h2/hpack_tab.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -O1 -I$(top_srcdir)/src/h3 -I$(top_srcdir)/src/h2 -o $@ $< \
		$(NGHTTP3_LIBS)
$(QPACK_TAB): $(OUT)/qpack_gen
	$(OUT)/qpack_gen >$@-t && mv -f $@-t $@
QPACK_SRCS = $(top_srcdir)/src/h3/qpack.c $(QPACK_TAB) $(HPACK_SRCS)
$(OUT)/fuzz_qpack: $(top_srcdir)/tests/fuzz/fuzz_qpack.c $(QPACK_SRCS) \
		$(top_srcdir)/src/h3/qpack.h $(top_srcdir)/tests/unit/qpack_oracle.h \
		$(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(QPACK_SRCS) \
		$(NGHTTP3_LIBS)

# HTTP/3's frame rules (fuzz_h3frame.c) against an nghttp3 server
# connection, with QPACK's stream checks
H3FRAME_SRCS = $(top_srcdir)/src/h3/h3frame.c $(QPACK_SRCS)
$(OUT)/fuzz_h3frame: $(top_srcdir)/tests/fuzz/fuzz_h3frame.c $(H3FRAME_SRCS) \
		$(top_srcdir)/src/h3/h3frame.h $(top_srcdir)/src/h3/qpack.h \
		$(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(H3FRAME_SRCS) \
		$(NGHTTP3_LIBS)

# one connection's state (fuzz_h2conn.c): pure, the frame layer and HPACK
H2CONN_SRCS = $(top_srcdir)/src/h2/h2conn.c $(FRAME_SRCS)
$(OUT)/fuzz_h2conn: $(top_srcdir)/tests/fuzz/fuzz_h2conn.c $(H2CONN_SRCS) \
		$(top_srcdir)/src/h2/h2conn.h $(top_srcdir)/src/h2/frame.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(H2CONN_SRCS)

# one connection's state against an nghttp2 server session (fuzz_h2diff.c)
$(OUT)/fuzz_h2diff: $(top_srcdir)/tests/fuzz/fuzz_h2diff.c $(H2CONN_SRCS) \
		$(top_srcdir)/src/h2/h2conn.h $(top_srcdir)/src/h2/frame.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(H2CONN_SRCS) \
		$(NGHTTP2_LIBS)

$(OUT)/fuzz_conf: $(top_srcdir)/tests/fuzz/fuzz_conf.c $(CONF_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(CONF_CFLAGS) $(FUZZ_CFLAGS) -o $@ \
		$< $(CONF_SRCS) $(CONF_LIBS)

# what the QUIC endpoint decodes itself (fuzz_quic.c): headers, the
# steering, Initials (libngtcp2's), Retry tokens (OpenSSL's AEAD)
NGTCP2_LIBS ?= $(shell pkg-config --libs libngtcp2 2>/dev/null)
QUIC_SRCS = $(top_srcdir)/src/quic/qconn.c $(top_srcdir)/src/quic/qcrypto.c \
	$(top_srcdir)/src/quic/qtls.c $(top_srcdir)/src/quic/qroute.c \
	$(top_srcdir)/src/quic/qtoken.c
$(OUT)/fuzz_quic: $(top_srcdir)/tests/fuzz/fuzz_quic.c $(QUIC_SRCS) \
		$(wildcard $(top_srcdir)/src/quic/*.h) $(top_srcdir)/tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(QUIC_SRCS) \
		$(NGTCP2_LIBS) -lssl -lcrypto

clean:
	rm -f $(TARGETS) $(OUT)/hpack_gen $(HPACK_TAB) $(OUT)/qpack_gen \
		$(QPACK_TAB) $(OUT)/fuzz_qpack $(OUT)/fuzz_h3frame \
		$(OUT)/fuzz_quic

.PHONY: all clean
