#!/bin/sh
# Build and run every libFuzzer harness fuzz/<name>.c for FUZZ_SECONDS seconds each (make fuzz,
# make fuzz-short). New inputs go to $BUILD/fuzz/work/<name>/ and crash files to
# $BUILD/fuzz/artifacts/<name>/; the committed seeds in fuzz/corpus/<name>/ are only read
# (a crash reproducer, once fixed, is copied there by hand and gets a spec).
# FUZZ_OPTIONAL=1: skip with a message when clang or its fuzzer runtime is missing.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
CCX=${FUZZ_CC:-clang}
SECONDS_EACH=${FUZZ_SECONDS:-60}
probe=$(mktemp -d "${TMPDIR:-/tmp}/egoi-fuzz.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
  >"$probe/p.c"
if ! command -v "$CCX" >/dev/null 2>&1 || ! "$CCX" -fsanitize=fuzzer,address,undefined "$probe/p.c" \
    -o "$probe/p" >/dev/null 2>&1 || [ ! -e /usr/include/lua5.4/lua.h ]; then
  msg="fuzz: $CCX with -fsanitize=fuzzer (and liblua5.4-dev) is needed"
  if [ -n "${FUZZ_OPTIONAL:-}" ]; then echo "$msg: fuzzing skipped"; exit 0; fi
  echo "$msg"; exit 1
fi
${MAKE:-make} --no-print-directory fuzz-build FUZZ_CC="$CCX" BUILD="$BUILD" >"$probe/build.log" 2>&1 || {
  cat "$probe/build.log"; echo "fuzz: build failed"; exit 1; }
status=0
for src in fuzz/*.c; do
  name=$(basename "$src" .c)
  bin="$BUILD/fuzz/$name"
  work="$BUILD/fuzz/work/$name"
  art="$BUILD/fuzz/artifacts/$name"
  seeds="fuzz/corpus/$name"
  mkdir -p "$work" "$art" "$seeds"
  log="$BUILD/fuzz/$name.log"
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(grep -a -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -a -E '#[0-9]+.*cov: ' "$log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
  if [ $rc -ne 0 ]; then
    echo "fuzz: $name FAILED after ${runs:-?} runs (exit $rc); log $log, input in $art/"
    grep -a -E -A25 "ERROR: |runtime error|fuzz: |SUMMARY" "$log" | head -40
    status=1
  else
    echo "fuzz: $name clean: ${runs:-?} runs in ${SECONDS_EACH} s, coverage ${cov:-?}"
  fi
done
exit $status
