#!/bin/sh
# Run every busted spec under Lua 5.4 and under LuaJIT (against the
# matching build of egoi.core) and print one closing line
# "N passed, N failed" for the whole run.
#
# Temporary files and the default rate-limit state directory are private to
# the run (TMPDIR and XDG_RUNTIME_DIR point into one mktemp -d directory,
# removed at the end), so two copies of the suite never share a file and the
# user's own limiter history is never touched.
cd "$(dirname "$0")/.." || exit 1
run=$(mktemp -d -t egoi-run.XXXXXXXX) || { echo "mktemp -d failed"; exit 1; }
trap 'rm -rf "$run"' EXIT
trap 'exit 130' INT TERM
mkdir -m 700 "$run/tmp" "$run/xdg" || exit 1
export TMPDIR="$run/tmp" XDG_RUNTIME_DIR="$run/xdg"
total_ok=0; total_bad=0; status=0
for v in 5.4 jit; do
  if [ "$v" = 5.4 ]; then lua=lua5.4; else lua=luajit; fi
  echo "== busted on $lua"
  out="$run/busted-$v.out"
  EGOI_TEST_LUA=$lua LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="${BUILD:-build}/$v/?.so;;" \
    $lua /usr/bin/busted --output=utfTerminal ${BUSTED_ARGS:-} spec 2>&1 | tee "$out"
  line=$(grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors?' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "no busted summary from $lua"
    ok=0; bad=1
  else
    ok=$(echo "$line" | sed -E 's/^[^0-9]*([0-9]+) success.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failures? \/.*/\1/')
    e=$(echo "$line" | sed -E 's/.* ([0-9]+) errors? \/.*/\1/')
    bad=$((f + e))
  fi
  total_ok=$((total_ok + ok)); total_bad=$((total_bad + bad))
done
used=$(ls -A "$run/xdg")
[ -z "$used" ] || echo "note: specs used the default rate-limit state file (use rate_limit = false or a state_file): $used"
echo "$total_ok passed, $total_bad failed"
[ "$total_bad" -eq 0 ] || status=1
exit $status
