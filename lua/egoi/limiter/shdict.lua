-- egoi.limiter.shdict - the rolling-window limiter shared by every nginx
-- worker through a lua_shared_dict (same methods as core.ratelimit).
--
--   local lim = require("egoi.limiter.shdict").new{ dict = "egoi", calls = 150,
--                                                   window = 3600, key = "..." }
--   lim:reserve(now)        -> true, slot | false, wait_seconds | nil, code, message
--   lim:commit(slot, now)   -> true, moved
--   lim:status(now)         -> used, remaining, reset_in
--   lim:block(now, seconds) -> true   (no reservation before now + seconds, for every worker)
--   lim:fill(now)           -> true   (block(now, window), kept for compatibility)
--   lim:close()
--
-- Design: the same model as the state file of core.ratelimit. The key's
-- history of call times lives in one dictionary value "rl:<key>:h": the
-- newest `cap` records {id, time} (cap = the largest `calls` of any limiter
-- that used the key) and the current block. Every worker applies its own
-- calls/window to that one history, so limiters with other settings never
-- wipe each other's calls: a call is admitted when fewer than `calls`
-- recorded times are less than `window` old. Reading and updating the value
-- is one critical section under a lock "rl:<key>:lock" taken with
-- dict:add (atomic across workers; it expires after LOCK_TTL should a worker
-- die holding it). The section never yields and lasts microseconds; a
-- worker that finds the lock taken yields (ngx.sleep) where it can and
-- spins briefly where it cannot. Ids come from dict:incr("rl:<key>:id"), so
-- commit() finds its record wherever it is and knows when it was dropped.
--
-- nginx's clock (ngx.now) has millisecond steps: a recorded time may be up
-- to 1 ms before the moment it stands for, so a stamp counts for window +
-- GUARD (2 ms), and no rolling window of `window` seconds ever sees more
-- than `calls` calls. Pass the resty clock (ngx.now after ngx.update_time),
-- which the client does when it uses the resty transport.
local type, tostring, error, setmetatable, rawget, pcall, floor, huge, tonumber, concat, sort =
  type, tostring, error, setmetatable, rawget, pcall, math.floor, math.huge, tonumber, table.concat, table.sort

local M = {}

local GUARD = 0.002
local FRESH_SLACK = 60      -- a caller's now this close to nginx's clock is nginx's clock
local LOCK_TTL = 1          -- seconds a dead worker's lock may stand
local LOCK_TRIES = 20000
local MAX_BLOCK = 1e9
local CORRUPT = "rate-limit state in the shared dict was corrupt and has been reset"

local function usage(message)
  local ok, errors = pcall(require, "egoi.errors")
  if ok and type(errors) == "table" and errors.new then
    return errors.new{ kind = "usage", code = "INVALID_ARGUMENT", message = message }
  end
  return message
end

local Limiter = {}
Limiter.__index = Limiter

local function check_now(now, fname)
  if type(now) ~= "number" or now ~= now or now == huge or now == -huge then
    error(("shdict limiter: %s: argument 'now' must be a finite number"):format(fname), 3)
  end
end

---------------------------------------------------------------------------
-- the lock

local counter = 0
local function pause()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.sleep and pcall(ngx.sleep, 0.0005) then return end
  for _ = 1, 200 do counter = counter + 0 end -- cannot yield in this phase: spin briefly
end

-- nginx's clock, fresh
local function clock()
  local ngx = rawget(_G, "ngx")
  if not (ngx and ngx.now) then return nil end
  if ngx.update_time then ngx.update_time() end
  return ngx.now()
end

-- tok, waited | nil, message. waited: seconds spent waiting for the lock
-- (by nginx's clock), 0 when it was free.
local function lock(self)
  counter = counter + 1
  local tok = self.pid .. ":" .. counter
  local t0
  for _ = 1, LOCK_TRIES do
    local ok, err = self.dict:add(self.lock_key, tok, LOCK_TTL)
    if ok then
      local t1 = t0 and clock()
      return tok, (t1 and t1 > t0) and t1 - t0 or 0
    end
    if err ~= "exists" then return nil, err end
    t0 = t0 or clock()
    pause()
  end
  return nil, "the limiter's lock stayed taken"
end

local function unlock(self, tok)
  if self.dict:get(self.lock_key) == tok then self.dict:delete(self.lock_key) end
end

---------------------------------------------------------------------------
-- the state: { cap, from, till, ids = {}, ts = {} }  (from/till: the block)
-- stored as "2|cap|from|till|id:t,id:t,..."

local function fmt(n) return ("%.17g"):format(n) end

local function empty(cap) return { cap = cap, from = 0, till = 0, ids = {}, ts = {} } end

local function decode(s, cap)
  local v, c, from, till, recs = s:match("^(%d+)|(%d+)|([^|]+)|([^|]+)|(.*)$")
  c, from, till = tonumber(c), tonumber(from), tonumber(till)
  if v ~= "2" or not c or c < 1 or not from or not till or from ~= from or till ~= till
    or from > till or till - from > MAX_BLOCK then
    return nil
  end
  local st = { cap = c, from = from, till = till, ids = {}, ts = {} }
  local n = 0
  for id, t in recs:gmatch("(%d+):([^,]+)") do
    n = n + 1
    st.ids[n], st.ts[n] = tonumber(id), tonumber(t)
    if not st.ts[n] or st.ts[n] ~= st.ts[n] or st.ts[n] == huge or st.ts[n] == -huge then return nil end
  end
  if n > c then return nil end
  if c < cap then st.cap = cap end
  return st
end

local function encode(st)
  local parts = {}
  for i = 1, #st.ids do parts[i] = st.ids[i] .. ":" .. fmt(st.ts[i]) end
  return "2|" .. st.cap .. "|" .. fmt(st.from) .. "|" .. fmt(st.till) .. "|" .. concat(parts, ",")
end

-- Run fn(self, st, now) on the state under the lock. fn returns dirty, ... ;
-- returns ... (with a warning appended when the stored state was corrupt)
-- | nil, code, message.
local function locked(self, now, fn)
  if self.closed then return nil, "CLOSED", "the limiter is closed" end
  local tok, lerr = lock(self)
  if not tok then
    return nil, "SHDICT_ERROR", ("lua_shared_dict '%s': %s"):format(self.dict_name, tostring(lerr))
  end
  -- `now` was read before waiting for the lock: it is that much later now
  -- (else a stale time would be stamped, and clamp others' newer stamps).
  -- When the caller's clock is nginx's (the resty clock; not an injected
  -- test clock far from it), read it afresh under the lock instead.
  now = now + lerr
  local fresh = clock()
  if fresh and fresh > now and fresh - now < FRESH_SLACK then now = fresh end
  local raw = self.dict:get(self.hist_key)
  local st, warn, dirty = nil, nil, false
  if type(raw) == "string" then st = decode(raw, self.calls) end
  if not st then
    if raw ~= nil then warn = CORRUPT end
    st, dirty = empty(self.calls), true
  end
  -- clamp: times later than now (the clock went back) count as now; a block
  -- starting after now moves back with its length; a block that is over goes
  for i = 1, #st.ts do
    if st.ts[i] > now then st.ts[i], dirty = now, true end
  end
  if st.till ~= 0 or st.from ~= 0 then
    if st.till <= now then
      st.from, st.till, dirty = 0, 0, true
    elseif st.from > now then
      st.from, st.till, dirty = now, now + (st.till - st.from), true
    end
  end
  local ok, a, b, c = pcall(fn, self, st, now)
  if ok and (a or dirty) then
    local sok, serr = self.dict:set(self.hist_key, encode(st))
    if not sok then ok, b = false, "cannot store the history: " .. tostring(serr) end
  end
  unlock(self, tok)
  if not ok then
    return nil, "SHDICT_ERROR", ("lua_shared_dict '%s': %s"):format(self.dict_name, tostring(b or a))
  end
  return b, c, warn
end

-- stamps inside our window, and how long until fewer than `calls` are
local function window_wait(self, st, now)
  local inside, n = {}, 0
  local w = self.window + GUARD
  for i = 1, #st.ts do
    if now - st.ts[i] < w then n = n + 1; inside[n] = st.ts[i] end
  end
  if n < self.calls then return 0, n end
  sort(inside)
  return inside[n - self.calls + 1] + w - now, n
end

local function block_wait(st, now)
  if now < st.till then return st.till - now end
  return 0
end

---------------------------------------------------------------------------
-- methods

local function do_reserve(self, st, now)
  local ww = window_wait(self, st, now)
  local bw = block_wait(st, now)
  if ww > 0 or bw > 0 then
    local wait = ww > bw and ww or bw
    if wait < 0.001 then wait = 0.001 end
    return false, false, wait
  end
  local id, err = self.dict:incr(self.id_key, 1, 0)
  if not id then error("cannot number the call: " .. tostring(err)) end
  local n = #st.ids
  local p = n + 1
  if n >= st.cap then
    p = 1
    for i = 2, n do
      if st.ts[i] < st.ts[p] or (st.ts[i] == st.ts[p] and st.ids[i] < st.ids[p]) then p = i end
    end
  end
  st.ids[p], st.ts[p] = id, now
  -- remember the last `calls` ids handed out by this object
  local ring = self.mine
  if ring[self.mine_next] then self.held[ring[self.mine_next]] = nil end
  ring[self.mine_next] = id
  self.mine_next = self.mine_next % self.calls + 1
  self.held[id] = true
  return true, true, id
end

function Limiter:reserve(now)
  check_now(now, "reserve")
  return locked(self, now, do_reserve)
end

local function do_commit(st, now, slot)
  for i = 1, #st.ids do
    if st.ids[i] == slot then
      if now > st.ts[i] then
        st.ts[i] = now
        return true, true, true
      end
      return false, true, false
    end
  end
  return false, true, false -- dropped from the history (or the state was reset)
end

function Limiter:commit(slot, now)
  check_now(now, "commit")
  if type(slot) ~= "number" or slot < 1 or floor(slot) ~= slot then
    error("shdict limiter: commit: argument 'slot' must be a slot number returned by reserve", 2)
  end
  if not self.held[slot] or self.closed then return true, false end
  self.held[slot] = nil
  return locked(self, now, function(_, st, t) return do_commit(st, t, slot) end)
end

local function do_status(self, st, now)
  local ww, used = window_wait(self, st, now)
  local bw = block_wait(st, now)
  local remaining = used < self.calls and self.calls - used or 0
  if bw > 0 then remaining = 0 end
  return false, used, { remaining, ww > bw and ww or bw }
end

function Limiter:status(now)
  check_now(now, "status")
  local used, rest, warn = locked(self, now, do_status)
  if used == nil then return nil, rest, warn end
  return used, rest[1], rest[2], warn
end

local function block(self, now, seconds)
  return locked(self, now, function(_, st, t)
    local till = t + seconds
    if till > st.till and till > t then
      st.from, st.till = t, till
      return true, true
    end
    return false, true
  end)
end

function Limiter:block(now, seconds)
  check_now(now, "block")
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 or seconds > MAX_BLOCK then
    error("shdict limiter: block: argument 'seconds' must be a number from 0 to 1e9", 2)
  end
  local ok, code, warn = block(self, now, seconds)
  if ok == nil then return nil, code, warn end
  return ok, warn
end

function Limiter:fill(now)
  check_now(now, "fill")
  local ok, code, warn = block(self, now, self.window)
  if ok == nil then return nil, code, warn end
  return ok, warn
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
  local pid = (ngx.worker and ngx.worker.pid and ngx.worker.pid()) or 0
  return setmetatable({
    dict = dict, dict_name = name, calls = calls, window = window, key = key,
    hist_key = ("rl:%s:h"):format(key), lock_key = ("rl:%s:lock"):format(key), id_key = ("rl:%s:id"):format(key),
    held = {}, mine = {}, mine_next = 1,
    pid = tostring(pid) .. ":" .. (tostring({}):match("0x%x+") or ""), closed = false,
  }, Limiter)
end

M.Limiter = Limiter
return M
