#!/bin/sh
# bench/run.sh - lua-egoi benchmarks (make bench). Each section prints one side-by-side table.
#   BUILD=dir      where `make` put egoi/core.so (default build)
#   BENCH_N=2000   calls per client in (1);  BENCH_ROWS=1000000 rows in (4)
#   EGOI_SANDBOX=path  sandbox used by (4) (default bin/egoi-sandbox)
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
N=${BENCH_N:-2000}
ROWS=${BENCH_ROWS:-1000000}
SANDBOX=${EGOI_SANDBOX:-bin/egoi-sandbox}
W=$(mktemp -d /tmp/egoi-bench.XXXXXX)
NGINX_PID=""; SB_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
  [ -n "$SB_PID" ] && kill "$SB_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT INT TERM
lua54() { LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" lua5.4 "$@"; }
luajit_() { LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/jit/?.so;;" luajit "$@"; }
free_port() { lua5.4 -e 'local s=require("socket").bind("127.0.0.1",0); local _, p = s:getsockname(); print(p); s:close()'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPU, $(uname -r)"
echo

# (1) per-call cost -----------------------------------------------------------------------
PORT=$(free_port)
mkdir -p "$W/nginx"
sed -e "s#__DIR__#$W/nginx#g" -e "s#__PORT__#$PORT#g" bench/nginx.conf > "$W/nginx/nginx.conf"
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' 2>"$W/nginx/stderr" &
NGINX_PID=$!
cc -O2 -o "$W/curl_floor" bench/curl_floor.c $(pkg-config --cflags --libs libcurl 2>/dev/null || echo -lcurl) || exit 1
sleep 0.5
URL="http://127.0.0.1:$PORT/v2/rest.php"
echo "(1) one getLists call against loopback nginx (canned answer), $N calls each"
printf "%-34s %16s %16s %16s %16s\n" "client" "CPU us/call ka" "calls/s ka" "CPU us/call new" "calls/s new"
row() { # name cmd...
  name=$1; shift
  on=$("$@" "$URL" "$N" 1); off=$("$@" "$URL" "$N" 0)
  printf "%-34s %16s %16s %16s %16s\n" "$name" "${on% *}" "${on#* }" "${off% *}" "${off#* }"
}
row "C libcurl floor (curl_floor.c)" "$W/curl_floor"
row "lua-egoi, Lua 5.4" lua54 bench/call_cost.lua
row "lua-egoi, LuaJIT" luajit_ bench/call_cost.lua
row "Python urllib/http.client + json" python3 bench/call_cost.py
echo "(ka = keep-alive on; new = a new connection per call; Python ka = http.client, new = urllib)"
echo

# (1b) limiter overhead ----------------------------------------------------------------------
echo "(1b) the rate limiter's cost per call (same getLists calls, keep-alive, limiter never blocking)"
printf "%-34s %16s %16s\n" "limiter" "CPU us/call 5.4" "CPU us/call jit"
for mode in off memory file; do
  a=$(lua54 bench/call_cost.lua "$URL" "$N" 1 $mode); b=$(luajit_ bench/call_cost.lua "$URL" "$N" 1 $mode)
  printf "%-34s %16s %16s\n" "$mode" "${a% *}" "${b% *}"
done
echo "(file = the default cross-process state file, flock + read + write per reservation and commit)"
echo

# (2) encode --------------------------------------------------------------------------------
echo "(2) encode a 100,000-subscriber addSubscriberBulk body (best of 3)"
printf "%-34s %10s %10s\n" "encoder" "ms" "MB"
{ lua54 bench/encode.lua 100000 | sed 's/^lua-/5.4 /'; luajit_ bench/encode.lua 100000 | sed 's/^lua-/jit /';
  php bench/encode.php 100000; } | while read -r a b c d; do
  if [ -n "$d" ]; then printf "%-34s %10s %10s\n" "$a $b" "$c" "$d"; else printf "%-34s %10s %10s\n" "$a" "$b" "$c"; fi
done
echo "(PHP's http_build_query also percent-encodes the brackets, hence its bigger body)"
echo

# (3) decode --------------------------------------------------------------------------------
echo "(3) decode + normalise a 100,000-record subscriberData answer (best of 3)"
printf "%-34s %10s\n" "decoder" "ms"
lua54 bench/decode.lua 100000 "$W/dec.json" | sed 's/^/5.4 /' | grep -v size | while read -r a b c; do printf "%-34s %10s\n" "$a $b" "$c"; done
luajit_ bench/decode.lua 100000 "$W/dec.json" | sed 's/^/jit /' | grep -v size | while read -r a b c; do printf "%-34s %10s\n" "$a $b" "$c"; done
php bench/decode.php "$W/dec.json" | while read -r a b; do printf "%-34s %10s\n" "PHP json_decode + key_N walk" "$b"; done
echo "(body: $(du -m "$W/dec.json" | cut -f1) MB)"
echo

# (4) 1M-row import -------------------------------------------------------------------------
echo "(4) import a $ROWS-contact CSV into the sandbox (default max_bytes 40 MiB)"
lua5.4 tools/gen_contacts.lua "$ROWS" "$W/big.csv"
PORT=$(free_port)
lua5.4 "$SANDBOX" --port "$PORT" --rate-limit 0 --quiet --max-fields 1000000000 \
  --max-subscribers 100000000 --max-body 1G >"$W/sandbox.log" 2>&1 &
SB_PID=$!
sleep 1
printf "%-12s %8s %8s %6s %6s %10s %10s %12s\n" "lua" "rows" "sent" "calls" "min" "wall s" "CSV MB" "peak RSS MB"
if [ -x /usr/bin/time ]; then
  out=$(/usr/bin/time -v -o "$W/time.txt" env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" \
    lua5.4 bench/import_1m.lua "http://127.0.0.1:$PORT/v2/rest.php" "$W/big.csv")
  rss=$(grep 'Maximum resident' "$W/time.txt" | awk '{print $NF}')
else
  out=$(lua54 bench/import_1m.lua "http://127.0.0.1:$PORT/v2/rest.php" "$W/big.csv")
  rss=$(echo "$out" | awk '{print $7}')
fi
set -- $out
printf "%-12s %8s %8s %6s %6s %10s %10s %12s\n" "5.4" "$1" "$2" "$3" "$6" "$5" \
  "$(du -m "$W/big.csv" | cut -f1)" "$((rss / 1024))"
base=$(lua5.4 -e 'local f=io.open("/proc/self/status"); print(f:read("*a"):match("VmHWM:%s*(%d+)"))')
echo "(min = fewest calls the cap allows; bare lua5.4 interpreter peak RSS: $((base / 1024)) MB)"
