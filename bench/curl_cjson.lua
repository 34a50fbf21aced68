-- bench/curl_cjson.lua URL N keepalive(0|1) -> "cpu_us_per_call calls_per_s"
-- The floor of any Lua client built on libcurl and lua-cjson: the same request through
-- egoi.core.http_client (no client pipeline: no limiter, retries, error mapping), the
-- answer decoded by cjson.decode and its key_N objects folded by core.normalize.
local core = require "egoi.core"
local cjson = require "cjson"
local socket = require "socket"
local url, n, keep = arg[1], tonumber(arg[2]), arg[3] == "1"
local body = "method=getLists&type=json&functionOptions[apikey]=0123456789abcdef0123456789abcdef01234567"
local ct = "application/x-www-form-urlencoded"
local h = core.http_client{ keepalive = keep }
local req = { url = url, body = body, headers = { ["Content-Type"] = ct }, idempotent = true }
local function call()
  local _, _, b = h:request(req)
  local r = cjson.decode(b).Egoi_Api.getLists
  r.status = nil
  return core.normalize(r)
end
for _ = 1, 50 do call() end -- warm-up (JIT, connection)
local c0, w0 = os.clock(), socket.gettime()
for _ = 1, n do
  local r = call()
  assert(r[1].listnum == "1")
end
local cpu, wall = os.clock() - c0, socket.gettime() - w0
print(("%.1f %.0f"):format(cpu / n * 1e6, n / wall))
h:close()
