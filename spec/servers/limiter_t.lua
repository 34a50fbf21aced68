-- limiter_t - test-only location for spec/limiter_nginx_spec.lua (loaded inside nginx).
--
--   /t/lim?op=reserve&key=K&calls=C&window=W&now=T[&n=N]  N reservations at time T
--   /t/lim?op=status&key=K&calls=C&window=W&now=T         used, remaining, reset_in
--   /t/lim?op=block&key=K&now=T&s=S                       block(T, S)
--   /t/lim?op=call&url=U&apikey=A[&calls=C]               an egoi client (shdict limiter,
--                                                          wait = false) calling U twice
-- Every answer is JSON and names the worker that served it.
local egoi = require "egoi"
local cjson = require "cjson.safe"
local shdict = require "egoi.limiter.shdict"
local ngx = rawget(_G, "ngx")

local M = {}

local function json(doc)
  doc.worker = ngx.worker.pid()
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(doc))
end

local function limiter(a)
  return shdict.new{ dict = "egoi", key = a.key, calls = tonumber(a.calls) or 150,
    window = tonumber(a.window) or 3600 }
end

function M.lim()
  local a = ngx.req.get_uri_args()
  local now = tonumber(a.now)
  if a.op == "reserve" then
    local lim, admitted, last = limiter(a), 0, nil
    for _ = 1, tonumber(a.n) or 1 do
      last = { lim:reserve(now) }
      if last[1] ~= true then break end
      admitted = admitted + 1
    end
    return json{ admitted = admitted, ok = last[1], value = last[2], extra = last[3] }
  elseif a.op == "status" then
    local used, remaining, reset_in, warn = limiter(a):status(now)
    return json{ used = used, remaining = remaining, reset_in = reset_in, warn = warn }
  elseif a.op == "block" then
    return json{ ok = limiter(a):block(now, tonumber(a.s)) }
  elseif a.op == "call" then
    local c = egoi.new{ apikey = a.apikey, url = a.url, raise = false, retries = 0,
      rate_limit = { shdict = "egoi", calls = tonumber(a.calls) or 150, wait = false } }
    local _, e1 = c:call("getLists", {})
    local st = c:rate_limit_status()
    local _, e2 = c:call("getLists", {})
    c:close()
    return json{ code1 = e1 and e1.code, retry_after1 = e1 and e1.retry_after, status1 = e1 and e1.http_status,
      reset_in = st and st.reset_in, remaining = st and st.remaining,
      code2 = e2 and e2.code, retry_after2 = e2 and e2.retry_after }
  end
  ngx.status = 400
  json{ error = "unknown op" }
end

return M
