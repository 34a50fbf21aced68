#!/bin/sh
# tools/clone_test.sh [--copies N] [--shared DIR] [--keep] [COMMAND]
#
# Runs COMMAND (default: make test) the way a user would: in a fresh git
# clone of this repository's HEAD, in a mktemp -d directory only its owner
# can enter (0700), with nothing beside it, or with DIR linked beside it as
# "shared" (--shared). With --copies N, N clones run COMMAND at the same
# time. Prints each clone's last lines and exits 1 when any failed. The
# clones are removed afterwards unless --keep.
cd "$(dirname "$0")/.." || exit 1
copies=1; shared=""; keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --copies) copies=$2; shift 2 ;;
    --shared) shared=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --) shift; break ;;
    -*) echo "usage: tools/clone_test.sh [--copies N] [--shared DIR] [--keep] [COMMAND]"; exit 2 ;;
    *) break ;;
  esac
done
cmd=${*:-make test}
repo=$(pwd)
rev=$(git rev-parse HEAD) || exit 1
dirs=""
i=0
while [ "$i" -lt "$copies" ]; do
  i=$((i + 1))
  d=$(mktemp -d -t egoi-clone.XXXXXXXX) || exit 1
  chmod 700 "$d"
  dirs="$dirs $d"
  git clone -q "$repo" "$d/lua-egoi" && git -C "$d/lua-egoi" checkout -q "$rev" || exit 1
  [ -z "$shared" ] || ln -s "$shared" "$d/shared"
  echo "clone $i: $d/lua-egoi at $(git -C "$d/lua-egoi" log --oneline -1)"
  (cd "$d/lua-egoi" && sh -c "$cmd" >"$d/out.log" 2>&1; echo $? >"$d/rc") &
done
wait
status=0
i=0
for d in $dirs; do
  i=$((i + 1))
  rc=$(cat "$d/rc")
  echo "== clone $i: exit $rc"
  tail -n 3 "$d/out.log"
  [ "$rc" = 0 ] || { status=1; grep -E "^(Failure|Error) ->" -A3 "$d/out.log" | head -60; }
  if [ -n "$keep" ]; then echo "kept $d"; else rm -rf "$d"; fi
done
exit $status
