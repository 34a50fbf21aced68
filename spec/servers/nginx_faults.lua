-- nginx_faults - the client side of spec/fault_matrix_spec.lua inside nginx
-- (loaded by a test-only location; the cosocket transport is picked there).
--
--   /f?url=U&protocol=P&op=read|write|bulk&retries=N&timeout=S  one call -> JSON outcome
local egoi = require "egoi"
local cjson = require "cjson.safe"
local ngx = rawget(_G, "ngx")

local M = {}

M.KEY = "0123456789abcdef0123456789abcdef01234567"

-- a client as the matrix uses it (short timeouts, fast back-off, no limiter)
function M.client(opts)
  return egoi.new{ apikey = M.KEY, url = opts.url, protocol = opts.protocol, raise = false,
    rate_limit = false, retries = opts.retries, timeout = opts.timeout, connect_timeout = opts.timeout,
    backoff = 0.01, backoff_cap = 0.02 }
end

-- one call (op: "read", "write" = sendEmail, "bulk" = addSubscriberBulk from
-- a form_buffer) and its outcome as a plain table (shared with the spec's own
-- runs on libcurl)
function M.outcome(c, op)
  local res, err
  if op == "write" then
    res, err = c:call("sendEmail", { listID = 1, campaign = "h1", segment = "ALL" })
  elseif op == "bulk" then
    local fb = assert(c:body_buffer("addSubscriberBulk", { listID = 1, compareField = "email" }))
    fb:add({ email = "a@example.com" }, "functionOptions[subscribers]", 0)
    res, err = c:call_buffer("addSubscriberBulk", fb)
  else
    res, err = c:call("getLists", {})
  end
  local resty = getmetatable(c._transport) == require("egoi.transport.resty").Transport
  if res then return { ok = true, resty = resty } end
  return { ok = false, kind = err.kind, code = err.code, retryable = err.retryable,
    http_status = err.http_status, retry_after = err.retry_after, message = err.message,
    reason = err.reason, text = tostring(err), resty = resty }
end

function M.run()
  local a = ngx.req.get_uri_args()
  local c = M.client{ url = a.url, protocol = a.protocol, retries = tonumber(a.retries),
    timeout = tonumber(a.timeout) }
  local out = M.outcome(c, a.op)
  c:close()
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(out))
end

return M
