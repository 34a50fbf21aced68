# lua-egoi - build, test, demo, bench.
#   make          build egoi/core.so for Lua 5.4 and for LuaJIT (5.1 ABI)
#   make test     install missing Debian packages (as root), build, run every spec on both
#   make demo     run examples/newsletter.lua on API v2 then v3 (EGOI_API=v3: one) against a private sandbox;
#                 with EGOI_APIKEY (and EGOI_URL) on that account, v2 unless EGOI_API says otherwise
#   make bench    benchmarks (not part of test)
#   make valgrind the C-heavy specs under valgrind (Lua 5.4)
#   make lint     luacheck + symbol check

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -std=c99 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Werror=implicit-function-declaration
DEFS      = -D_DEFAULT_SOURCE -D_GNU_SOURCE
PIC       = -fPIC -fvisibility=hidden
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
LIBS      = $(CURL_LIBS) -lexpat -lhiredis -lm

LUA54_INC ?= /usr/include/lua5.4
LUAJIT_INC ?= /usr/include/luajit-2.1

SRC  = $(wildcard csrc/*.c)
HDRS = $(wildcard csrc/*.h)

BUILD ?= build
SO54  = $(BUILD)/5.4/egoi/core.so
SOJIT = $(BUILD)/jit/egoi/core.so

.PHONY: all test deps demo bench valgrind lint clean check-symbols

all: $(SO54) $(SOJIT)

$(SO54): $(SRC) $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(DEFS) $(PIC) -I$(LUA54_INC) $(CURL_CFLAGS) -shared -o $@ $(SRC) $(LIBS)

$(SOJIT): $(SRC) $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(DEFS) $(PIC) -I$(LUAJIT_INC) $(CURL_CFLAGS) -shared -o $@ $(SRC) $(LIBS)

deps:
	@sh tools/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-symbols
	@sh spec/run.sh

demo: deps
	@$(MAKE) --no-print-directory $(SO54)
	@apis="$${EGOI_API:-v2 v3}"; if [ -n "$$EGOI_APIKEY" ] && [ -z "$$EGOI_API" ]; then apis=v2; fi; \
	for api in $$apis; do echo "== newsletter job on API $$api"; \
	  EGOI_API=$$api LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/5.4/?.so;;' lua5.4 examples/newsletter.lua || exit 1; done

bench: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh

valgrind: $(SO54)
	@sh tools/valgrind.sh

lint: check-symbols
	luacheck lua spec bin examples bench

# Only luaopen_* may be exported from the module.
check-symbols: $(SO54) $(SOJIT)
	@for so in $(SO54) $(SOJIT); do \
	  bad=$$(nm -D --defined-only $$so | awk '$$2 ~ /[TDBR]/ {print $$3}' | grep -v '^luaopen_' | grep -v '^_'); \
	  if [ -n "$$bad" ]; then echo "exported symbols besides luaopen_* in $$so: $$bad"; exit 1; fi; \
	done; echo "symbols: only luaopen_* exported"

clean:
	rm -rf build
