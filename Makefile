# lua-egoi - build, test, demo, bench.
#   make          build egoi/core.so for Lua 5.4 and for LuaJIT (5.1 ABI)
#   make test     install missing Debian packages (as root), build, run every spec on both
#   make demo     run examples/newsletter.lua on API v2 then v3 (EGOI_API=v3: one) against a private sandbox;
#                 with EGOI_APIKEY (and EGOI_URL) on that account, v2 unless EGOI_API says otherwise
#   make bench    benchmarks (not part of test)
#   make valgrind the C-heavy specs under valgrind (Lua 5.4)
#   make asan     the C-heavy specs against an ASan+UBSan build (build/asan/5.4), 0 reports
#   make fuzz     libFuzzer harnesses fuzz/*.c (clang), FUZZ_SECONDS=N each (default 60)
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

.PHONY: all test deps demo bench valgrind asan fuzz fuzz-build fuzz-short lint clean check-symbols

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
	@$(MAKE) --no-print-directory fuzz-short
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

# ASan + UBSan build of egoi.core (gcc or clang), loaded by an uninstrumented lua5.4 with the
# sanitizer runtime preloaded (tools/asan.sh). Any UB report aborts the run.
ASAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo $(CC))
ASAN_FLAGS  = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SOASAN      = $(BUILD)/asan/5.4/egoi/core.so

$(SOASAN): $(SRC) $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) $(WARN) $(DEFS) $(PIC) -I$(LUA54_INC) $(CURL_CFLAGS) -shared -o $@ $(SRC) $(LIBS)

$(BUILD)/asan/unpreload.so: tools/asan_unpreload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 $(WARN) $(DEFS) -fPIC -shared -o $@ tools/asan_unpreload.c

asan: $(SOASAN) $(BUILD)/asan/unpreload.so
	@ASAN_CC="$(ASAN_CC)" BUILD="$(BUILD)" sh tools/asan.sh

# libFuzzer harnesses: every fuzz/<name>.c becomes $(BUILD)/fuzz/<name>, linked with all of
# csrc/ and Debian's liblua5.4; seeds in fuzz/corpus/<name>/ (tools/fuzz.sh).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS    = -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SRC      = $(wildcard fuzz/*.c)
FUZZ_BIN      = $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(BUILD)/fuzz/%: fuzz/%.c $(wildcard fuzz/*.h) $(SRC) $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) $(DEFS) -I$(LUA54_INC) -Icsrc $(CURL_CFLAGS) -o $@ $< $(SRC) -llua5.4 $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz:
	@FUZZ_CC="$(FUZZ_CC)" FUZZ_SECONDS="$(FUZZ_SECONDS)" BUILD="$(BUILD)" MAKE="$(MAKE)" sh tools/fuzz.sh

# part of make test: ~20 s per harness, skipped with a message when clang/libFuzzer are missing
fuzz-short:
	@FUZZ_OPTIONAL=1 FUZZ_CC="$(FUZZ_CC)" FUZZ_SECONDS=20 BUILD="$(BUILD)" MAKE="$(MAKE)" sh tools/fuzz.sh

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
