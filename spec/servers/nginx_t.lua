-- nginx_t - test-only locations for spec/nginx_spec.lua (loaded inside nginx).
--
--   /t/call?url=U[&rl=C/W][&method=M]   egoi client call (transport auto-selected) -> JSON
--   /t/raw?url=U[&n=K][&max=B][&post=1][&timeout=S][&verify=0]  resty transport, K requests -> JSON
--   /t/set                              set_by_lua: the transport in a non-cosocket phase
--   /t/timer?url=U                      the transport inside ngx.timer.at, result via shdict
local egoi = require "egoi"
local rt = require "egoi.transport.resty"
local cjson = require "cjson.safe"
local ngx = rawget(_G, "ngx")

local M = {}

local function json(doc)
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(doc))
end

function M.call()
  local args = ngx.req.get_uri_args()
  local rl = false
  if args.rl then
    local calls, window = args.rl:match("^(%d+)/([%d.]+)$")
    rl = { shdict = "egoi", calls = tonumber(calls), window = tonumber(window), wait = true }
  end
  local c, cerr = egoi.new{ apikey = args.key or "nginx-spec-key", url = args.url, raise = false,
    rate_limit = rl, retries = 0, timeout = 30 }
  if not c then return json{ ok = false, err = tostring(cerr) } end
  local is_resty = getmetatable(c._transport) == rt.Transport
  local res, err = c:call(args.method or "getUserData", {})
  local status = rl and c:rate_limit_status() or nil
  c:close()
  json{ ok = res ~= nil, rl_used = status and status.used, rl_remaining = status and status.remaining,
    resty = is_resty, first_name = res and res.FIRST_NAME,
    code = err and err.code, err = err and tostring(err), worker = ngx.worker.pid() }
end

local function one(t, url, body)
  local st, a, b, c = t:request{ url = url, body = body, idempotent = true,
    headers = { ["X-Test"] = "1", ["Content-Type"] = body and "application/x-www-form-urlencoded" or nil } }
  if st then
    return { status = st, len = #b, body = #b <= 2000 and b or nil, num_connects = c.num_connects,
      retry_after = c.retry_after, content_type = c.content_type, trailer = a["x-trailer"] }
  end
  return { code = a, message = b, sent = c }
end

function M.raw()
  local args = ngx.req.get_uri_args()
  local t = rt.new{ timeout = tonumber(args.timeout) or 5, connect_timeout = 2,
    max_response = tonumber(args.max), verify_tls = args.verify ~= "0" }
  local out = {}
  for i = 1, tonumber(args.n) or 1 do
    out[i] = one(t, args.url, args.post and "method=getUserData&x=1" or nil)
  end
  t:close()
  json(out)
end

function M.in_set()
  local t = rt.new{}
  local st, code, msg, sent = t:request{ url = "http://127.0.0.1:1/" }
  return cjson.encode{ st = st, code = code, msg = msg, sent = sent, phase = ngx.get_phase(),
    phase_ok = rt.phase_ok(ngx.get_phase()) }
end

function M.timer()
  local url = ngx.req.get_uri_args().url
  local id = tostring(math.random(1, 1e9))
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local c = egoi.new{ apikey = "nginx-spec-key", url = url, raise = false, rate_limit = false }
    local res, cerr = c:call("getUserData", {})
    ngx.shared.egoi:set("timer:" .. id, cjson.encode{ ok = res ~= nil, phase = ngx.get_phase(),
      resty = getmetatable(c._transport) == rt.Transport, err = cerr and tostring(cerr) }, 60)
  end)
  if not ok then return json{ err = err } end
  for _ = 1, 100 do
    local v = ngx.shared.egoi:get("timer:" .. id)
    if v then
      ngx.header["Content-Type"] = "application/json"
      return ngx.print(v)
    end
    ngx.sleep(0.05)
  end
  json{ err = "timer did not finish" }
end

return M
