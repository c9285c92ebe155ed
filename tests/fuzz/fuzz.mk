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
	-Wall -Wextra
FUZZ_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/src

PARSE_SRCS = $(top_srcdir)/src/h1_parse.c
PARSE_HDRS = $(top_srcdir)/src/h1_parse.h

# The configuration fuzzer (tests/fuzz/fuzz_conf.c) needs conf.c, libyaml
# and libcrypto (the file's SHA-256); it is built only when its driver exists. Override CONF_SRCS or
# CONF_LIBS if conf.c grows other dependencies.
CONF_SRCS ?= $(wildcard $(top_srcdir)/src/conf.c $(top_srcdir)/src/conf_yaml.c \
	$(top_srcdir)/src/runtime.c $(top_srcdir)/src/util.c)
CONF_LIBS ?= $(shell pkg-config --libs yaml-0.1 libcrypto 2>/dev/null) -lpthread
CONF_CFLAGS ?= $(shell pkg-config --cflags yaml-0.1 2>/dev/null)

TARGETS = $(OUT)/fuzz_request $(OUT)/fuzz_response $(OUT)/fuzz_chunked \
	$(OUT)/fuzz_sticky $(OUT)/fuzz_keepalive
ifneq ($(wildcard $(top_srcdir)/tests/fuzz/fuzz_conf.c),)
TARGETS += $(OUT)/fuzz_conf
endif

all: $(TARGETS)

$(OUT)/fuzz_%: $(top_srcdir)/tests/fuzz/fuzz_%.c $(PARSE_SRCS) $(PARSE_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(PARSE_SRCS)

# sticky keys: the parser, route matching and the race
STICKY_SRCS = $(PARSE_SRCS) $(top_srcdir)/src/route.c $(top_srcdir)/src/balance.c
$(OUT)/fuzz_sticky: $(top_srcdir)/tests/fuzz/fuzz_sticky.c $(STICKY_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(STICKY_SRCS)

$(OUT)/fuzz_conf: $(top_srcdir)/tests/fuzz/fuzz_conf.c $(CONF_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(CONF_CFLAGS) $(FUZZ_CFLAGS) -o $@ \
		$< $(CONF_SRCS) $(CONF_LIBS)

clean:
	rm -f $(TARGETS)

.PHONY: all clean
