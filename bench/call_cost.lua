-- bench/call_cost.lua URL N keepalive(0|1) [limiter: off|memory|file|redis] [protocol]
--   -> "cpu_us_per_call calls_per_s"
-- (redis: the Redis limiter at $EGOI_BENCH_REDIS, a redis:// URL)
-- client:call("getLists") against the canned nginx answer; os.clock() is process CPU time.
local egoi = require "egoi"
local socket = require "socket"
local url, n, keep, lim, protocol = arg[1], tonumber(arg[2]), arg[3] == "1", arg[4] or "off", arg[5]
-- the default 150-slot limiter with a window so short it never blocks: only its cost shows
local rate_limit = false
local state = os.tmpname()
if lim == "memory" then
  rate_limit = { calls = 150, window = 1e-6, state_file = false }
elseif lim == "file" then
  rate_limit = { calls = 150, window = 1e-6, state_file = state }
elseif lim == "redis" then
  rate_limit = { calls = 150, window = 1e-6, redis = assert(os.getenv("EGOI_BENCH_REDIS"), "EGOI_BENCH_REDIS") }
end
local c = egoi.new{ apikey = "0123456789abcdef0123456789abcdef01234567", url = url, rate_limit = rate_limit,
  protocol = protocol,
  keepalive = keep, retries = 0 }
for _ = 1, 50 do c:call("getLists") end -- warm-up (JIT, connection)
local c0, w0 = os.clock(), socket.gettime()
for _ = 1, n do
  local r = c:call("getLists")
  assert(r[1].listnum == "1")
end
local cpu, wall = os.clock() - c0, socket.gettime() - w0
print(("%.1f %.0f"):format(cpu / n * 1e6, n / wall))
c:close()
os.remove(state)
