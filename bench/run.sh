#!/bin/sh
# bench/run.sh - lua-egoi benchmarks (make bench). Each section prints one side-by-side table.
#   BUILD=dir      where `make` put egoi/core.so (default build)
#   BENCH_N=2000   calls per client in (1);  BENCH_ROWS=1000000 rows in (4)
#   EGOI_SANDBOX=path  sandbox used by (4) (default bin/egoi-sandbox)
#   BENCH_SECTIONS="1 1b 1p 1r 2 3 4 5"  which sections to run;  BENCH_ROUNDS=3  rounds of (1)
#   BENCH_SCALE=1  sizes of (5): 1 = import 1,000,000, export and sync 100,000 (0.01 for a quick run)
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
N=${BENCH_N:-2000}
ROWS=${BENCH_ROWS:-1000000}
SANDBOX=${EGOI_SANDBOX:-bin/egoi-sandbox}
W=$(mktemp -d /tmp/egoi-bench.XXXXXX)
NGINX_PID=""; SB_PID=""; REDIS_PID=""; HOOK_PID=""
cleanup() {
  [ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
  [ -n "$SB_PID" ] && kill "$SB_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT INT TERM
SECTIONS=${BENCH_SECTIONS:-1 1b 1p 1r 2 3 4 5}
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }
best() { # file with "cpu rate" lines -> the line with the lowest cpu
  sort -n "$1" | head -n 1
}
lua54() { LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" lua5.4 "$@"; }
luajit_() { LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/jit/?.so;;" luajit "$@"; }
free_port() { lua5.4 -e 'local s=require("socket").bind("127.0.0.1",0); local _, p = s:getsockname(); print(p); s:close()'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPU, $(uname -r)"
echo

# (1) per-call cost -----------------------------------------------------------------------
if want 1 || want 1b || want 1p; then
# On 2+ CPUs nginx runs pinned to the last CPU and every client to the first (taskset, when
# present), so client and server do not steal each other's core; every client runs ROUNDS
# times, interleaved with the others, and the best (lowest CPU) run of each is shown: the
# run least disturbed by the rest of the machine.
ROUNDS=${BENCH_ROUNDS:-3}
PIN_C=""; PIN_S=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  PIN_C="taskset -c 0"; PIN_S="taskset -c $(($(nproc) - 1))"
fi
PORT=$(free_port)
mkdir -p "$W/nginx"
sed -e "s#__DIR__#$W/nginx#g" -e "s#__PORT__#$PORT#g" bench/nginx.conf > "$W/nginx/nginx.conf"
lua54 bench/protocol_answers.lua "$W/nginx" || exit 1
# workers started by root run as nobody: they must reach the static answers
chmod 755 "$W" "$W/nginx" && chmod -R a+rX "$W/nginx/static"
$PIN_S nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' 2>"$W/nginx/stderr" &
NGINX_PID=$!
cc -O2 -o "$W/curl_floor" bench/curl_floor.c $(pkg-config --cflags --libs libcurl 2>/dev/null || echo -lcurl) || exit 1
sleep 0.5
URL="http://127.0.0.1:$PORT/v2/rest.php"
fi
if want 1; then
echo "(1) one getLists call against loopback nginx (canned answer), $N calls each, best of $ROUNDS rounds"
printf "%-40s %16s %16s %16s %16s\n" "client" "CPU us/call ka" "calls/s ka" "CPU us/call new" "calls/s new"
CLIENTS="floor cjson54 ours54 oursjit py"
label() {
  case $1 in
    floor) echo "C libcurl floor (curl_floor.c)" ;;
    cjson54) echo "Lua 5.4 http_client + cjson + normalize" ;;
    ours54) echo "lua-egoi client:call, Lua 5.4" ;;
    oursjit) echo "lua-egoi client:call, LuaJIT" ;;
    py) echo "Python http.client/urllib + json" ;;
  esac
}
run_client() { # name keepalive -> "cpu rate"
  case $1 in
    floor) $PIN_C "$W/curl_floor" "$URL" "$N" "$2" ;;
    cjson54) $PIN_C env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" lua5.4 bench/curl_cjson.lua "$URL" "$N" "$2" ;;
    ours54) $PIN_C env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" lua5.4 bench/call_cost.lua "$URL" "$N" "$2" ;;
    oursjit) $PIN_C env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/jit/?.so;;" luajit bench/call_cost.lua "$URL" "$N" "$2" ;;
    py) $PIN_C python3 bench/call_cost.py "$URL" "$N" "$2" ;;
  esac
}
for r in $(seq "$ROUNDS"); do
  for c in $CLIENTS; do
    run_client "$c" 1 >> "$W/ka.$c"; run_client "$c" 0 >> "$W/new.$c"
  done
done
for c in $CLIENTS; do
  on=$(best "$W/ka.$c"); off=$(best "$W/new.$c")
  printf "%-40s %16s %16s %16s %16s\n" "$(label "$c")" "${on% *}" "${on#* }" "${off% *}" "${off#* }"
done
f=$(best "$W/ka.floor"); p=$(best "$W/ka.py")
for c in ours54 oursjit; do
  o=$(best "$W/ka.$c")
  echo "$(label "$c"), keep-alive: $(echo "${o% *} ${f% *} ${p% *}" | awk '{printf "%.2fx the floor CPU, %.1fx cheaper than Python", $1 / $2, $3 / $1}')"
done
echo "(ka = keep-alive on; new = a new connection per call; Python ka = http.client, new = urllib)"
echo
fi

# (1b) limiter overhead ----------------------------------------------------------------------
if want 1b; then
echo "(1b) the rate limiter's cost per call (same getLists calls, keep-alive, limiter never blocking)"
# a private redis-server on loopback for the Redis limiter (never the system one)
RPORT=$(free_port)
mkdir -p "$W/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$W/redis" \
  --logfile "" >"$W/redis.log" 2>&1 &
REDIS_PID=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
  lua5.4 -e "assert(require('socket').connect('127.0.0.1', $RPORT))" 2>/dev/null && break; sleep 0.2
done
export EGOI_BENCH_REDIS="redis://127.0.0.1:$RPORT/0"
printf "%-34s %16s %16s %14s %14s\n" "limiter" "CPU us/call 5.4" "CPU us/call jit" "calls/s 5.4" "calls/s jit"
for mode in off memory file redis; do
  a=$($PIN_C env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" lua5.4 bench/call_cost.lua "$URL" "$N" 1 $mode)
  b=$($PIN_C env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/jit/?.so;;" luajit bench/call_cost.lua "$URL" "$N" 1 $mode)
  printf "%-34s %16s %16s %14s %14s\n" "$mode" "${a% *}" "${b% *}" "${a#* }" "${b#* }"
done
kill "$REDIS_PID" 2>/dev/null; REDIS_PID=""
echo "(redis = the Redis limiter on loopback: EVALSHA per reservation and per commit; its CPU"
echo " column is the client's only, the calls/s column includes the round trips)"
echo "(file = the default cross-process state file, flock + read + write per reservation and commit)"
echo
fi

# (1p) per-call cost per protocol -----------------------------------------------------------
if want 1p; then
echo "(1p) one getLists call per protocol (same three lists, canned answers as the service writes them), keep-alive, best of $ROUNDS rounds"
printf "%-12s %-18s %16s %16s %14s %14s\n" "protocol" "path" "CPU us/call 5.4" "CPU us/call jit" "calls/s 5.4" "calls/s jit"
for proto in rest xmlrpc soap soap_any; do
  case $proto in rest) path=/v2/rest.php ;; xmlrpc) path=/v2/xmlrpc.php ;; soap) path=/v2/soap.php ;; soap_any) path=/v2/soap_any.php ;; esac
  for r in $(seq "$ROUNDS"); do
    $PIN_C env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/5.4/?.so;;" lua5.4 bench/call_cost.lua "http://127.0.0.1:$PORT$path" "$N" 1 off $proto >> "$W/p54.$proto"
    $PIN_C env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$BUILD/jit/?.so;;" luajit bench/call_cost.lua "http://127.0.0.1:$PORT$path" "$N" 1 off $proto >> "$W/pjit.$proto"
  done
  a=$(best "$W/p54.$proto"); b=$(best "$W/pjit.$proto")
  printf "%-12s %-18s %16s %16s %14s %14s\n" "$proto" "$path" "${a% *}" "${b% *}" "${a#* }" "${b#* }"
done
echo "(rest: form body + core.json_decode; xmlrpc: core.xmlrpc_request/response + Lua shaping;"
echo " soap/soap_any: core.soap_request + core.soap_response, shaped in C; answer sizes differ: see bench/README.md)"
echo
fi

# (1r) reading one big answer per protocol --------------------------------------------------
if want 1r; then
echo "(1r) read one subscriberData answer of 40-field records (sandbox encoders), Lua 5.4: ms per read (best of 5), peak MB above the process"
printf "%-8s %-8s %10s %10s %12s\n" "records" "protocol" "answer MB" "ms/read" "peak MB"
for n in 1000 15000; do
  mkdir -p "$W/ar$n"
  lua54 bench/answer_read.lua write "$W/ar$n" "$n"
  for proto in rest xmlrpc soap; do
    set -- $(lua54 bench/answer_read.lua read "$W/ar$n/answer.$proto" "$proto")
    printf "%-8s %-8s %10s %10s %12s\n" "$n" "$proto" "$3" "$1" "$2"
  done
done
echo "(rest: core.json_decode; xmlrpc: core.xmlrpc_response; soap: core.soap_response: both on the one XML reader)"
echo
fi

# (2) encode --------------------------------------------------------------------------------
if want 2; then
echo "(2) encode a 100,000-subscriber addSubscriberBulk body (best of 3)"
printf "%-34s %10s %10s\n" "encoder" "ms" "MB"
{ lua54 bench/encode.lua 100000 | sed 's/^lua-/5.4 /'; luajit_ bench/encode.lua 100000 | sed 's/^lua-/jit /';
  php bench/encode.php 100000; } | while read -r a b c d; do
  if [ -n "$d" ]; then printf "%-34s %10s %10s\n" "$a $b" "$c" "$d"; else printf "%-34s %10s %10s\n" "$a" "$b" "$c"; fi
done
echo "(PHP's http_build_query also percent-encodes the brackets, hence its bigger body)"
echo
fi

# (3) decode --------------------------------------------------------------------------------
if want 3; then
echo "(3) decode + normalise a 100,000-record subscriberData answer (best of 3)"
printf "%-34s %10s\n" "decoder" "ms"
lua54 bench/decode.lua 100000 "$W/dec.json" | sed 's/^/5.4 /' | grep -v size | while read -r a b c; do printf "%-34s %10s\n" "$a $b" "$c"; done
luajit_ bench/decode.lua 100000 "$W/dec.json" | sed 's/^/jit /' | grep -v size | while read -r a b c; do printf "%-34s %10s\n" "$a $b" "$c"; done
php bench/decode.php "$W/dec.json" | while read -r a b; do printf "%-34s %10s\n" "PHP json_decode + key_N walk" "$b"; done
echo "(body: $(du -m "$W/dec.json" | cut -f1) MB)"
echo
fi

# (4) 1M-row import -------------------------------------------------------------------------
if want 4; then
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
fi

# (5) calls per job, v2 and v3 -----------------------------------------------------------------
if want 5; then
SCALE=${BENCH_SCALE:-1}
size() { awk -v s="$SCALE" -v n="$1" 'BEGIN { v = int(n * s + 0.5); if (v < 200) v = 200; print v }'; }
NI=$(size 1000000); NE=$(size 100000)
echo "(5) API calls per job on the sandbox, v2 and v3 (BENCH_SCALE=$SCALE: import $NI, export and sync $NE)"
lua5.4 tools/gen_contacts.lua "$NI" "$W/import.csv"
lua5.4 tools/gen_contacts.lua "$NE" "$W/base.csv"
head -n 1001 "$W/base.csv" > "$W/small.csv"
PORT=$(free_port)
lua5.4 "$SANDBOX" --port "$PORT" --rate-limit 0 --v3-rate-limit 0 --v3-account-limit 0 --quiet \
  --max-fields 1000000000 --max-subscribers 100000000 --max-body 1G >"$W/sandbox5.log" 2>&1 &
SB_PID=$!
for _ in $(seq 50); do
  lua5.4 -e "assert(require('socket').connect('127.0.0.1', $PORT))" 2>/dev/null && break; sleep 0.2
done
U2="http://127.0.0.1:$PORT/v2/rest.php"; U3="http://127.0.0.1:$PORT"
# v3's export action delivers the file's link to a callback URL: a loopback receiver for it
HOOK_PORT=$(free_port)
/usr/bin/python3 spec/servers/sandbox_callback_sink.py "$HOOK_PORT" "$W/hooks.jsonl" >/dev/null 2>&1 &
HOOK_PID=$!
for _ in $(seq 50); do
  lua5.4 -e "assert(require('socket').connect('127.0.0.1', $HOOK_PORT))" 2>/dev/null && break; sleep 0.2
done
export EGOI_BENCH_HOOK="http://127.0.0.1:$HOOK_PORT/export" EGOI_BENCH_HOOKS="$W/hooks.jsonl"
job() { lua54 bench/calls_per_job.lua "$@" || echo "$1 $2 $5 failed - - - - (see above)"; }
prep() { lua54 bench/calls_per_job.lua prepare "$U2" "$W" "$1" "$2"; }
printf "%-9s %-4s %9s %8s %8s %9s %8s %8s  %s\n" "job" "api" "size" "calls" "min" "vendor" "wall s" "RSS MB" "note"
{
  job import v2 "$U2" "$W" "$NI" - "$W/import.csv"
  job import v3 "$U3" "$W" "$NI" - "$W/import.csv"
  LE=$(prep "$NE" "$W/base.csv")
  job export v2 "$U2" "$W" "$NE" "$LE" "$W/base.csv"
  job export v3 "$U3" "$W" "$NE" "$LE" "$W/base.csv"
  L2=$(prep "$NE" "$W/base.csv"); job sync v2 "$U2" "$W" "$NE" "$L2" "$W/base.csv"
  L3=$(prep "$NE" "$W/base.csv"); job sync v3 "$U3" "$W" "$NE" "$L3" "$W/base.csv"
  job campaign v2 "$U2" "$W" 1000 - "$W/small.csv"
  job campaign v3 "$U3" "$W" 1000 - "$W/small.csv"
} | while read -r j a n c m v t r note; do
  printf "%-9s %-4s %9s %8s %8s %9s %8s %8s  %s\n" "$j" "$a" "$n" "$c" "$m" "$v" "$t" "$r" "$note"
done
kill "$SB_PID" "$HOOK_PID" 2>/dev/null; SB_PID=""; HOOK_PID=""
echo "(calls = HTTP requests lua-egoi sent for the job, setup excluded; min = fewest the API allows;"
echo " vendor = the vendor SDK's way, computed: bench/README.md (5); - = not available in this build)"
fi
