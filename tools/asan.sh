#!/bin/sh
# Run the specs that exercise the C core against the ASan+UBSan build of egoi.core
# (make asan builds it into $BUILD/asan/5.4) under an uninstrumented lua5.4 with the
# sanitizer runtime preloaded. Fails on any ASan or UBSan report. Leak checking is on for
# the interpreter (lua5.4 closes its state at exit, so what our module allocates must be
# freed). tools/asan_unpreload.c, preloaded too, drops LD_PRELOAD from each interpreter's
# environment as it starts, so the servers the specs start (php, python, nginx) run without
# the runtime (php's opcache cannot even load under it); a lua5.4 wrapper first on PATH
# preloads it again for the Lua processes the specs start.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
CCX=${ASAN_CC:-cc}
SPECS=${ASAN_SPECS:-"encode decode json xmlrpc soap_parse xml_reader xml_reader_hostile xml_writer callback transport transport_interrupt ratelimit client failure c_hardening c_shared"}
# clang's runtime (which also carries UBSan's handlers) or gcc's libasan (clang would find
# gcc's too: ask for its own first)
if $CCX --version 2>/dev/null | grep -q clang; then
  rt=$($CCX -print-file-name=libclang_rt.asan-$(uname -m).so 2>/dev/null)
else
  rt=$($CCX -print-file-name=libasan.so 2>/dev/null)
fi
case "$rt" in
  /*) ;;
  *) echo "asan: cannot find the ASan runtime of $CCX"; exit 1 ;;
esac
lua=$(command -v lua5.4) || { echo "asan: lua5.4 not found"; exit 1; }
bin="$BUILD/asan/bin"
mkdir -p "$bin"
pre="$rt $(pwd)/$BUILD/asan/unpreload.so"
printf '#!/bin/sh\nLD_PRELOAD="%s" exec %s "$@"\n' "$pre" "$lua" >"$bin/lua5.4"
chmod +x "$bin/lua5.4"
PATH="$(pwd)/$bin:$PATH"
export PATH
log=$(mktemp "${TMPDIR:-/tmp}/egoi-asan.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0
for s in $SPECS; do
  [ -f "spec/${s}_spec.lua" ] || continue
  echo "== asan: spec/${s}_spec.lua"
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86:${ASAN_EXTRA:-}" \
  LSAN_OPTIONS="suppressions=$(pwd)/tools/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87" \
  EGOI_TEST_LUA=lua5.4 LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="$BUILD/asan/5.4/?.so;;" \
    lua5.4 /usr/bin/busted --exclude-tags=multiprocess -o utfTerminal "spec/${s}_spec.lua" >"$log" 2>&1
  rc=$?
  grep -a -E '[0-9]+ success' "$log" | tail -n 1
  if [ $rc -ne 0 ] || grep -a -q -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log"; then
    echo "asan: spec/${s}_spec.lua failed (exit $rc)"
    grep -a -E -A30 "ERROR: (Address|Leak)Sanitizer|runtime error:|Failure →|Error →" "$log" | head -80
    status=1
  fi
done
[ $status -eq 0 ] && echo "asan: 0 reports"
exit $status
