-- egoi.sandbox.api - method table, auth, rate limit and dispatch (transport-neutral).
--
-- call(self, method_as_called, options, meta) -> outcome
--   outcome = { kind = "result", value = v, code = "OK"|CODE, http = 200|429|403|500, headers = {} }
--           | { kind = "unknown" } | { kind = "noargs" }
local util = require "egoi.sandbox.util"
local ratelimit = require "egoi.sandbox.ratelimit"

local M = {}
local Api = {}
Api.__index = Api

local MODULES = { "egoi.sandbox.m_account", "egoi.sandbox.m_lists", "egoi.sandbox.m_subscribers",
                  "egoi.sandbox.m_campaigns", "egoi.sandbox.m_status" }
-- methods answering a bad key with the scalar INVALID (§9); all others ERROR NO_ACCESS
local SCALAR_INVALID = { getclientdata = true, getuserdata = true, getlists = true }

local function method_table()
  local t = {}
  for _, name in ipairs(MODULES) do
    for mname, def in pairs(require(name)) do
      if type(def) == "table" and def.fn then t[mname:lower()] = { name = mname, def = def } end
    end
  end
  return t
end

function M.new(st, cfg, fire)
  local calls, window = cfg.rate_calls, cfg.rate_window
  return setmetatable({ st = st, cfg = cfg, fire = fire, methods = method_table(),
                        limiter = ratelimit.new(calls, window) }, Api)
end

function Api:names()
  local out = {}
  for _, m in pairs(self.methods) do out[#out + 1] = m.name end
  table.sort(out)
  return out
end

-- lower-case the top-level option names (§1.3)
local function lower_keys(o)
  local out = {}
  for k, v in pairs(o) do out[tostring(k):lower()] = v end
  return out
end

local function code_of(v)
  if type(v) == "table" then
    if v.ERROR then return v.ERROR end
    if type(v.subscriber) == "table" and v.subscriber.ERROR then return v.subscriber.ERROR end
    return "OK"
  end
  if type(v) == "string" and v:match("^[A-Z_]+$") then return v end
  return "OK"
end

function Api:call(method, options, meta)
  local m = self.methods[(method or ""):lower()]
  if not m then return { kind = "unknown" } end
  if type(options) ~= "table" then return { kind = "noargs" } end
  local o = lower_keys(options)
  local now = meta.now
  local key = util.str(o.apikey)
  local acc
  if not m.def.noauth then
    if not key then return { kind = "result", value = util.err("NO_APIKEY"), code = "NO_APIKEY", http = 200 } end
    acc = self.st:account(key)
    if not acc then
      if SCALAR_INVALID[m.name:lower()] then
        return { kind = "result", value = "INVALID", code = "INVALID", http = 200 }
      end
      return { kind = "result", value = util.err("NO_ACCESS"), code = "NO_ACCESS", http = 200 }
    end
  end
  if key and self.st:account(key) then
    local ok, wait = self.limiter:take(key, now)
    if not ok then
      local mode = self.cfg.over_limit
      local http = mode == "429" and 429 or (mode == "403" and 403 or 200)
      local headers = {}
      if http ~= 200 then headers[1] = { "Retry-After", tostring(wait) } end
      return { kind = "result", value = util.err("NO_ACCESS"), code = "RATE_LIMITED", http = http, headers = headers }
    end
  end
  if self.cfg.fail_methods[m.name:lower()] then error("injected failure (--fail-method " .. m.name .. ")") end
  local ctx = { st = self.st, acc = acc, o = o, cfg = self.cfg, now = now, fire = self.fire,
                body_size = meta.body_size or 0, method = m.name }
  local value = m.def.fn(ctx)
  local code = code_of(value)
  if m.def.mutating and code == "OK" then
    local ok, err = self.st:save()
    if not ok then meta.log("state save failed: " .. tostring(err)) end
  end
  return { kind = "result", value = value, code = code, http = 200 }
end

-- the answer for a handler crash
function M.internal_error()
  return { kind = "result", value = util.err("INTERNAL_ERROR"), code = "INTERNAL_ERROR", http = 500 }
end

return M
