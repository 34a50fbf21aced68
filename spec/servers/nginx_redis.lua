-- nginx_redis - test-only locations for spec/redis_spec.lua (loaded inside nginx).
--
--   /r/run?redis=URL&port=P&calls=C&window=W&duration=D&start_at=T&key=K
--        the redis_worker loop (spec/helpers/redis_worker.lua) on cosockets -> JSON counts
--   /r/call?redis=URL&url=U[&on=local]   an egoi client call with rate_limit.redis -> JSON
local egoi = require "egoi"
local core = require "egoi.core"
local rl = require "egoi.limiter.redis"
local rt = require "egoi.transport.resty"
local cjson = require "cjson.safe"
local ngx = rawget(_G, "ngx")

local M = {}

local function json(doc)
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(doc))
end

local function now()
  ngx.update_time()
  return ngx.now()
end

function M.run()
  local a = ngx.req.get_uri_args()
  local calls, window = tonumber(a.calls), tonumber(a.window)
  local duration, start_at = tonumber(a.duration), tonumber(a.start_at)
  local lim = rl.new{ url = a.redis, key = core.key_id(a.key), calls = calls, window = window,
    connect_timeout = 0.5, timeout = 0.5 }
  local http = rt.new{ timeout = 5, connect_timeout = 2 }
  local hit = ("http://127.0.0.1:%d/hit"):format(tonumber(a.port))
  ngx.sleep(math.max(0, start_at - now()))
  local deadline = start_at + duration
  local made, refused, failed, errors, codes = 0, 0, 0, 0, {}
  for _ = 1, 100000 do
    local t = now()
    if t >= deadline then break end
    local ok, x = lim:reserve(t)
    if ok == nil then
      failed = failed + 1
      codes[#codes + 1] = x
      ngx.sleep(0.05)
    elseif ok then
      local st = http:request{ verb = "GET", url = hit, idempotent = true }
      if st ~= 200 then errors = errors + 1 end
      made = made + 1
      lim:commit(x, now())
    else
      refused = refused + 1
      ngx.sleep(math.min(x, deadline - t))
    end
  end
  lim:close()
  http:close()
  json{ made = made, refused = refused, failed = failed, errors = errors, codes = codes,
    backend = lim.backend, worker = ngx.worker.pid() }
end

function M.call()
  local a = ngx.req.get_uri_args()
  local logged = {}
  local c = egoi.new{ apikey = "nginx-redis-spec-key", url = a.url, raise = false, retries = 0,
    rate_limit = { redis = a.redis, calls = 5, window = 60, on_unavailable = a.on,
      shdict = a.on and "egoi" or nil },
    log = function(level, msg) logged[#logged + 1] = level .. ": " .. msg end }
  local _, err = c:call("getUserData", {})
  local st = c:rate_limit_status()
  json{ code = err and err.code, kind = err and err.kind, err = err and tostring(err),
    backend = c._limiter.lim.backend, used = st and st.used, logged = logged }
  c:close()
end

return M
