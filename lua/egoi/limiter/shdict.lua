-- egoi.limiter.shdict - the rolling-window limiter shared by every nginx
-- worker through a lua_shared_dict (same methods as core.ratelimit).
--
--   local lim = require("egoi.limiter.shdict").new{ dict = "egoi", calls = 150,
--                                                   window = 3600, key = "..." }
--   lim:reserve(now)        -> true, slot | false, wait_seconds | nil, code, message
--   lim:commit(slot, now)   -> true, moved
--   lim:status(now)         -> used, remaining, reset_in
--   lim:fill(now)           -> true
--   lim:close()
--
-- Design: the window is `calls` slot keys "rl:<key>:<i>" in the dictionary.
-- A call is admitted by claiming a free slot with dict:add(k, stamp, window):
-- add is atomic across workers and fails while the key exists and has not
-- expired, so two workers can never hold the same slot, and a slot frees
-- itself exactly `window` seconds after its last stamp (shdict TTLs have
-- millisecond resolution). commit() restamps our slot with the completion
-- time (the server saw the call somewhere in between), so no rolling window
-- of `window` seconds ever sees more than `calls` calls. The wait returned by
-- a refused reserve is the smallest remaining TTL (dict:ttl). TTLs are
-- window + 2 ms: nginx's clock has millisecond steps, so the guard keeps a
-- truncated timestamp from freeing a slot a fraction of a millisecond early.
--
-- The clock of the TTLs is nginx's: pass the resty clock (ngx.now after
-- ngx.update_time), which the client does when it uses the resty transport.
local type, tostring, error, setmetatable, rawget, pcall, floor, huge =
  type, tostring, error, setmetatable, rawget, pcall, math.floor, math.huge

local M = {}

local function usage(message)
  local ok, errors = pcall(require, "egoi.errors")
  if ok and type(errors) == "table" and errors.new then
    return errors.new{ kind = "usage", code = "INVALID_ARGUMENT", message = message }
  end
  return message
end

local Limiter = {}
Limiter.__index = Limiter

local counter = 0
local function token(self, now)
  counter = counter + 1
  return ("%.3f|%s|%d"):format(now, self.pid, counter)
end

local function check_now(now, fname)
  if type(now) ~= "number" or now ~= now then
    error(("shdict limiter: %s: argument 'now' must be a number"):format(fname), 3)
  end
end

function Limiter:reserve(now)
  check_now(now, "reserve")
  if self.closed then return nil, "CLOSED", "the limiter is closed" end
  local dict, keys = self.dict, self.keys
  local n = self.calls
  -- start at a rotating offset so the workers do not all probe slot 1 first
  local start = self.next_start
  for j = 0, n - 1 do
    local i = (start + j - 1) % n + 1
    local tok = token(self, now)
    local ok, err = dict:add(keys[i], tok, self.ttl)
    if ok then
      self.next_start = i % n + 1
      self.held[i] = tok
      return true, i
    elseif err ~= "exists" then
      return nil, "SHDICT_ERROR", ("lua_shared_dict '%s': %s"):format(self.dict_name, tostring(err))
    end
  end
  -- full: wait until the first slot expires
  local wait = huge
  for i = 1, n do
    local ttl = dict:ttl(keys[i])
    if ttl == nil then
      wait = 0 -- expired (or evicted) since we probed it: try again at once
      break
    end
    if ttl > 0 and ttl < wait then wait = ttl end
  end
  if wait == huge then wait = self.window end
  if wait < 0.001 then wait = 0.001 end
  return false, wait
end

function Limiter:commit(slot, now)
  check_now(now, "commit")
  if type(slot) ~= "number" or slot < 1 or slot > self.calls or floor(slot) ~= slot then
    error("shdict limiter: commit: argument 'slot' must be a slot number returned by reserve", 2)
  end
  local mine = self.held[slot]
  self.held[slot] = nil
  if not mine or self.closed then return true, false end
  local k = self.keys[slot]
  if self.dict:get(k) ~= mine then
    return true, false -- expired and reused, or overwritten by fill: not ours any more
  end
  -- restamp with the completion time: the slot frees `window` after it
  self.dict:set(k, token(self, now), self.ttl)
  return true, true
end

function Limiter:status(now)
  check_now(now, "status")
  local dict, keys = self.dict, self.keys
  local used, first = 0, huge
  for i = 1, self.calls do
    local ttl = dict:ttl(keys[i])
    if ttl ~= nil then
      used = used + 1
      if ttl < first then first = ttl end
    end
  end
  local reset_in = 0
  if used >= self.calls then reset_in = first end
  return used, self.calls - used, reset_in
end

-- The server said "too many": treat the whole window as used from now.
function Limiter:fill(now)
  check_now(now, "fill")
  local dict, keys, ttl = self.dict, self.keys, self.ttl
  for i = 1, self.calls do
    dict:set(keys[i], "fill|" .. tostring(now), ttl)
  end
  return true
end

function Limiter:close()
  self.closed = true
end

function Limiter.__tostring(self)
  return ("egoi shdict limiter (%s, %d calls / %gs)"):format(self.dict_name, self.calls, self.window)
end

function M.new(opts)
  if type(opts) ~= "table" then
    error(usage("egoi.limiter.shdict.new: argument 'opts' must be a table"), 2)
  end
  local name, calls, window, key = opts.dict, opts.calls or 150, opts.window or 3600, opts.key or "default"
  if type(name) ~= "string" or name == "" then
    error(usage("egoi.limiter.shdict.new: option 'dict' must be the name of a lua_shared_dict"), 2)
  end
  if type(calls) ~= "number" or calls < 1 or floor(calls) ~= calls or calls > 100000 then
    error(usage("egoi.limiter.shdict.new: option 'calls' must be an integer in 1..100000"), 2)
  end
  if type(window) ~= "number" or window ~= window or window < 0.001 or window == huge then
    error(usage("egoi.limiter.shdict.new: option 'window' must be a positive number of seconds"), 2)
  end
  if type(key) ~= "string" or key == "" or key:find("[%s%c]") then
    error(usage("egoi.limiter.shdict.new: option 'key' must be a non-empty string without spaces"), 2)
  end
  local ngx = rawget(_G, "ngx")
  local shared = ngx and ngx.shared
  if not shared then
    error(usage("egoi.limiter.shdict.new: ngx.shared is not available (not running inside nginx)"), 2)
  end
  local dict = shared[name]
  if not dict then
    error(usage(("egoi.limiter.shdict.new: no 'lua_shared_dict %s <size>;' in nginx.conf"):format(name)), 2)
  end
  if type(dict.ttl) ~= "function" then
    error(usage("egoi.limiter.shdict.new: ngx_lua >= 0.10.11 is needed (shdict:ttl)"), 2)
  end
  local keys = {}
  for i = 1, calls do keys[i] = ("rl:%s:%d"):format(key, i) end
  local pid = (ngx.worker and ngx.worker.pid and ngx.worker.pid()) or 0
  return setmetatable({
    dict = dict, dict_name = name, calls = calls, window = window, ttl = window + 0.002, key = key, keys = keys,
    held = {}, pid = tostring(pid) .. ":" .. (tostring({}):match("0x%x+") or ""),
    next_start = 1, closed = false,
  }, Limiter)
end

M.Limiter = Limiter
return M
