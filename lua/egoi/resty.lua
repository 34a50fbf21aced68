-- egoi.resty - helpers for nginx (ngx_lua / OpenResty).
--
--   location = /egoi/callback {
--     content_by_lua_block {
--       require("egoi.resty").callback_handler(function(ev)
--         -- ev = { event = "add"|"edit"|"remove", list =, uid =, email =, fields =, extra = }
--       end, { secret = os.getenv("EGOI_CALLBACK_SECRET"), max_body = 1048576 })()
--     }
--   }
--
-- callback_handler(fn, opts) returns a function to call in a content (or
-- access/rewrite) phase. It answers
--   405  not a POST
--   403  opts.secret is set and ?secret= in the URL does not match (constant-time compare)
--   413  the body is larger than opts.max_body (default 1 MiB)
--   400  the body is not an E-goi callback (short reason in the answer)
--   500  fn raised an error or returned false (logged with tostring(err), never the body)
--   200  "OK" after fn(event) returned
-- opts.dead_letter = path (or { path =, max_bytes =, scrub = { ... } }) keeps the body of every
-- callback fn failed on in that file (egoi.deadletter: one scrubbed JSON line each, mode 0600,
-- bounded; opts.secret is always scrubbed), to replay later with
-- require("egoi.callback").replay(path, fn).
-- Build the handler once (at module level or in init_by_lua) and call it per
-- request, or call it right away as above: both are cheap.
--
-- handle_callback(fn, opts) does both steps at once.
local callback = require "egoi.callback"

local type, tostring, tonumber, rawget, error, pcall, ipairs, byte, io_open =
  type, tostring, tonumber, rawget, error, pcall, ipairs, string.byte, io.open

local M = {}

local okbit, bit = pcall(require, "bit")
if not okbit then bit = nil end

-- Compare the presented secret with the configured one without an early exit.
local function same_secret(given, want)
  if type(given) ~= "string" then return false end
  local diff = (#given == #want) and 0 or 1
  for i = 1, #want do
    local a, b = byte(given, i) or 0, byte(want, i)
    if bit then
      diff = bit.bor(diff, bit.bxor(a, b))
    else
      diff = diff + (a == b and 0 or 1)
    end
  end
  return diff == 0
end
M._same_secret = same_secret

local function respond(ngx, status, text)
  ngx.status = status
  ngx.header["Content-Type"] = "text/plain; charset=utf-8"
  if status == 405 then ngx.header["Allow"] = "POST" end
  ngx.print(text, "\n")
  return ngx.exit(ngx.HTTP_OK)
end

-- read the request body, from memory or from the temp file nginx spooled it
-- to; -> body | nil, "too_large"
local function read_body(ngx, max_body)
  local cl = tonumber(ngx.var.http_content_length or "")
  if cl and cl > max_body then return nil, "too_large" end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body == nil then
    local file = ngx.req.get_body_file()
    if file then
      local f = io_open(file, "rb")
      if not f then return nil, "unreadable" end
      body = f:read(max_body + 1) or ""
      f:close()
    else
      body = ""
    end
  end
  if #body > max_body then return nil, "too_large" end
  return body
end
-- shared with the v3 webhook handler (egoi.resty_webhook): one plain-text answer, one body reader
M._respond, M._read_body = respond, read_body

-- The checks every receiver makes before parsing: POST only (405), the shared secret in the
-- query argument `param` when one is set (403, logged with the peer's address), the body
-- within max_body (413) and readable (500). Returns the body, or nil once it has answered.
-- `what` names the receiver in the log ("callback", "webhook").
local function accept(ngx, what, secret, param, max_body)
  if ngx.req.get_method() ~= "POST" then
    respond(ngx, 405, "method not allowed")
    return nil
  end
  if secret then
    local args = ngx.req.get_uri_args(20)
    local given = args and args[param]
    if not same_secret(given, secret) then
      ngx.log(ngx.WARN, "egoi ", what, ": wrong or missing secret from ", ngx.var.remote_addr)
      respond(ngx, 403, "forbidden")
      return nil
    end
  end
  local body, why = read_body(ngx, max_body)
  if not body then
    if why == "too_large" then
      ngx.log(ngx.WARN, "egoi ", what, ": body larger than ", max_body, " bytes refused")
      respond(ngx, 413, "request body too large")
      return nil
    end
    ngx.log(ngx.ERR, "egoi ", what, ": cannot read the spooled request body")
    respond(ngx, 500, "cannot read the request body")
    return nil
  end
  return body
end
M._accept = accept

function M.callback_handler(fn, opts)
  if type(fn) ~= "function" then
    error("egoi.resty.callback_handler: argument 'fn' must be a function", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("egoi.resty.callback_handler: argument 'opts' must be a table or nil", 2)
  end
  opts = opts or {}
  local secret = opts.secret
  if secret ~= nil and (type(secret) ~= "string" or secret == "") then
    error("egoi.resty.callback_handler: option 'secret' must be a non-empty string or nil", 2)
  end
  local max_body = opts.max_body or callback.DEFAULT_MAX_BYTES
  if type(max_body) ~= "number" or max_body ~= max_body or max_body <= 0 then
    error("egoi.resty.callback_handler: option 'max_body' must be a positive number", 2)
  end
  local dead = opts.dead_letter
  if dead ~= nil then
    if type(dead) == "string" then dead = { path = dead } end
    if type(dead) ~= "table" or type(dead.path) ~= "string" or dead.path == "" then
      error("egoi.resty.callback_handler: option 'dead_letter' must be a path or { path = ..., max_bytes = ... }", 2)
    end
    local scrub = { secret }
    for _, s in ipairs(type(dead.scrub) == "table" and dead.scrub or {}) do scrub[#scrub + 1] = s end
    dead = require("egoi.deadletter").open(dead.path, { max_bytes = dead.max_bytes, scrub = scrub })
  end

  return function()
    local ngx = rawget(_G, "ngx")
    if not ngx then error("egoi.resty: the callback handler runs inside nginx only", 2) end
    local body = accept(ngx, "callback", secret, "secret", max_body)
    if not body then return end
    local ev, err = callback.parse(body, ngx.var.content_type, { max_bytes = max_body })
    if not ev then
      local code = type(err) == "table" and err.code or "CALLBACK_MALFORMED"
      ngx.log(ngx.WARN, "egoi callback: rejected: ", tostring(code))
      if code == "TOO_LARGE" then return respond(ngx, 413, "request body too large") end
      return respond(ngx, 400, "bad callback: " .. tostring(code))
    end
    local ok, res, herr = pcall(fn, ev)
    local failure
    if not ok then
      failure = tostring(res)
      ngx.log(ngx.ERR, "egoi callback: handler error (", ev.action, "): ", failure)
    elseif res == false then
      failure = "the handler returned false: " .. tostring(herr)
      ngx.log(ngx.ERR, "egoi callback: handler refused the ", ev.action, " event: ", tostring(herr))
    else
      return respond(ngx, 200, "OK")
    end
    if dead then
      local kept, derr = dead:put(body, ngx.var.content_type, failure, ev)
      if kept then
        ngx.log(ngx.NOTICE, "egoi callback: ", ev.action, " kept in the dead-letter file ", dead.path)
        return respond(ngx, 500, "callback handler failed (kept for replay)")
      end
      -- (a full file has been logged by the dead-letter writer)
      if not (type(derr) == "table" and derr.code == "DEAD_LETTER_FULL") then
        ngx.log(ngx.ERR, "egoi callback: ", tostring(derr))
      end
    end
    return respond(ngx, 500, "callback handler failed")
  end
end

function M.handle_callback(fn, opts)
  return M.callback_handler(fn, opts)()
end

return M
