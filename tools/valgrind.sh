#!/bin/sh
# Run the specs that exercise the C core under valgrind (Lua 5.4 build) and
# fail on any memory error or definite leak. Slow: minutes, not seconds.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
log=$(mktemp -t egoi-vg.XXXXXXXX) || exit 1
trap 'rm -f "$log"' EXIT
status=0
for s in encode decode json xmlrpc soap_parse xml_reader xml_reader_hostile callback c_shared transport ratelimit redis client failure; do
  echo "== valgrind: spec/${s}_spec.lua"
  LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" \
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
    lua5.4 /usr/bin/busted --exclude-tags=multiprocess "spec/${s}_spec.lua" >"$log" 2>&1
  rc=$?
  tail -n 1 "$log"
  if [ $rc -ne 0 ]; then
    echo "valgrind: spec/${s}_spec.lua failed (exit $rc)"; grep -E "==[0-9]+==" "$log" | head -40
    status=1
  fi
done
exit $status
