-- egoi.sandbox.v3 - the E-goi API v3 at the server root, beside /v2/ (doc/SANDBOX.md, "API v3").
-- JSON in and out, `Apikey` header, {type,title,status,detail[,errors]} error bodies,
-- the X-RateLimit-* / X-Account-* headers on every authenticated answer, 429 (+ Retry-After),
-- 413 over the body cap, 408 on demand. Resources run on the same account state as v2.
--
-- v3.new(api, cfg, log) -> route(req, meta) -> resp, label, code   (for egoi.sandbox.app)
local json = require "egoi.sandbox.v3.json"
local errors = require "egoi.sandbox.v3.errors"
local limits = require "egoi.sandbox.v3.limits"
local form = require "egoi.sandbox.form"

local M = {}

local MODULES = { "egoi.sandbox.v3.r_lists", "egoi.sandbox.v3.r_contacts", "egoi.sandbox.v3.r_misc",
                  "egoi.sandbox.v3.r_campaigns" }
local WRITES = { POST = true, PATCH = true, PUT = true }
local JSON_CT = "application/json"

-- the route table: { {method, pattern, fn, noauth}, ... } in match order
function M.routes()
  local t = {}
  for _, name in ipairs(MODULES) do
    for _, r in ipairs(require(name)) do t[#t + 1] = r end
  end
  return t
end

local function respond(status, body, headers)
  local h = {}
  if status ~= 204 then h[1] = { "Content-Type", JSON_CT } end
  for _, x in ipairs(headers or {}) do h[#h + 1] = x end
  return { status = status, headers = h, body = status ~= 204 and body ~= nil and json.encode(body) or "" }
end

-- an error answer (headers: the limit headers, when known)
local function fail(status, detail, headers)
  local st, body = errors.problem(status, detail)
  return respond(st, body, headers)
end

local function matches(list, what)
  for _, p in ipairs(list or {}) do if what:find(p) then return true end end
  return false
end

function M.new(api, cfg, log)
  local routes = M.routes()
  local lim = limits.new({ cfg.v3_rate_calls, cfg.v3_rate_window }, { cfg.v3_account_calls, cfg.v3_account_window })

  local function find(method, path)
    local allowed = {}
    for _, r in ipairs(routes) do
      local caps = { path:match(r[2]) }
      if caps[1] ~= nil then
        if r[1] == method then return r, caps end
        allowed[#allowed + 1] = r[1]
      end
    end
    return nil, allowed
  end

  return function(req, meta)
    local path = req.path:gsub("(.)/$", "%1")
    local r, caps = find(req.method, path)
    if not r then
      if #caps > 0 then
        local resp = fail(405, "Method not allowed")
        resp.headers[#resp.headers + 1] = { "Allow", table.concat(caps, ", ") }
        return resp, "v3", "METHOD_NOT_ALLOWED"
      end
      return fail(404, "Not found"), "v3", "NOT_FOUND"
    end
    local label = req.method .. " " .. path -- what --v3-timeout patterns see
    local headers = {}
    local x = { st = api.st, cfg = cfg, now = meta.now, params = caps, fire = api.fire, out = api.v3out,
                log = log, headers = req.headers }
    if not r.noauth then
      local key = req.headers.apikey
      x.acc = key and api.st:account(key)
      if not x.acc then
        return fail(401, key and "Invalid API key" or "Missing Apikey header"), "v3",
          "UNAUTHORIZED"
      end
      if cfg.v3_forbidden[key] then return fail(403, "Access denied"), "v3", "FORBIDDEN" end
      local ok, h, retry = lim:take(key, meta.now)
      headers = h
      if not ok then
        if cfg.v3_retry_after then headers[#headers + 1] = { "Retry-After", tostring(retry) } end
        return fail(429, "The user has sent too many requests in a given amount of time", headers), "v3",
          "TOO_MANY_REQUESTS"
      end
    end
    if WRITES[req.method] and #req.body > cfg.v3_max_body then
      local detail = ("The request body is over the limit of %d bytes"):format(cfg.v3_max_body)
      return fail(413, detail, headers), "v3", "REQUEST_ENTITY_TOO_LARGE"
    end
    if matches(cfg.v3_timeout, label) then
      return fail(408, "The request took too long (simulated)", headers), "v3", "TIMEOUT"
    end
    local q, qerr = form.parse(req.query or "", { max_depth = 4, max_fields = 1000 })
    if not q then return fail(400, "Bad query string: " .. qerr, headers), "v3", "BAD_REQUEST" end
    x.query = q
    if req.body ~= "" and (WRITES[req.method] or req.method == "DELETE") then
      local body, jerr = json.decode(req.body)
      if body == nil then
        return fail(400, "The request body is not valid JSON: " .. jerr, headers), "v3",
          "BAD_REQUEST"
      end
      x.body = body
    end
    x.body = x.body or (WRITES[req.method] and json.object() or nil)
    local ok, status, body, extra, raw = pcall(r[3], x, table.unpack(caps))
    if not ok then
      log(("v3 handler crash in %s: %s"):format(label, tostring(status)))
      status, body = errors.problem(500, "Internal error")
    end
    if ok and raw then -- a file, not JSON (GET /exports/<token>.csv): its own Content-Type
      for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
      return { status = status, headers = headers, body = body }, "v3", status < 300 and "OK" or "ERROR"
    end
    for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
    if status == 422 and cfg.v3_validation ~= "errors" and type(body) == "table" then
      -- the live service may name the member validation_messages (egoi-v3-api.md §1.1)
      body.validation_messages = body.errors
      if cfg.v3_validation == "only" then body.errors = nil end
    end
    if req.method ~= "GET" and status < 300 then
      local saved, serr = api.st:save()
      if not saved then log("state save failed: " .. tostring(serr)) end
    end
    if matches(cfg.v3_timeout_done, label) then
      return fail(408, "The request took too long (simulated, after the work was done)", headers),
        "v3", "TIMEOUT"
    end
    return respond(status, body, headers), "v3", status < 300 and "OK" or (errors.TITLES[status] or "ERROR")
  end
end

return M
