-- egoi.limiter.redis - the account's rolling window held in Redis, shared by every host,
-- process and nginx worker that points at the same server (same methods as core.ratelimit).
--
--   local lim = require("egoi.limiter.redis").new{ url = "redis://[user:password@]host:port/db",
--     key = core.key_id(apikey), calls = 150, window = 3600, prefix = "egoi:rl:",
--     connect_timeout = 1, timeout = 1, on_unavailable = "fail"|"local", fallback = <limiter>,
--     history_calls = 150, history_window = 3600 }   -- the least history kept, whatever the budgets
--   lim:reserve(now)      -> true, slot[, warning] | false, wait_seconds | nil, code, message
--   lim:commit(slot, now) -> true, moved | nil, code, message
--   lim:status(now)       -> used, remaining, reset_in | nil, code, message
--   lim:block(now, s)     -> true | nil, code, message     nothing admitted for s seconds
--   lim:fill(now)         -> true | nil, code, message     the window is full from now
--   lim:close()
--
-- Every method runs one server-side script (egoi.limiter.redis_script: loaded once with
-- SCRIPT LOAD, run with EVALSHA, loaded again when Redis answers NOSCRIPT after a restart or
-- SCRIPT FLUSH), so each update is atomic across all clients. The time is Redis' own (TIME):
-- the `now` arguments are ignored here, so the hosts' clocks do not matter (waits are
-- durations, slept on the local clock). Keys: <prefix>{<key id>}:t and :m, named from
-- core.key_id(apikey), never from the key; they expire after a window of silence (the longest
-- window kept: at least history_window, the account's hour, so that a client with a larger
-- budget than the ones seen so far still finds every call it needs to count).
--
-- Outside nginx the connection is core.redis (hiredis, one connection per limiter, kept);
-- inside nginx egoi.limiter.redis_cosocket (ngx cosockets, nginx's keepalive pool).
--
-- Faults (Redis unreachable, slow, restarted, wrong password, a key of the wrong type) are
-- `nil, code, message` with code LIMITER_UNAVAILABLE, LIMITER_AUTH_FAILED or
-- LIMITER_WRONG_TYPE: the client turns them into a rate_limit error and sends nothing (fail
-- closed). With on_unavailable = "local" and a fallback limiter (the host's own), the
-- methods use the fallback while Redis fails, with a warning: that host can then overspend
-- the account, since it cannot see the others' calls. Messages never hold the password.
local script = require "egoi.limiter.redis_script"
local errors = require "egoi.errors"

local type, tostring, tonumber, error, setmetatable, pcall, floor, huge =
  type, tostring, tonumber, error, setmetatable, pcall, math.floor, math.huge

local M = {}

local function usage(message)
  return errors.new{ kind = "usage", code = "INVALID_ARGUMENT", message = message }
end

---------------------------------------------------------------------------
-- redis://[user:password@]host[:port][/db]

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- the URL without its credentials, for messages: everything before the last '@' but the
-- scheme (parse_url reads the credentials up to the last '@' too, so a password holding '/'
-- or '@', or a URL with a mistyped scheme, never shows)
function M.redact(url)
  if type(url) ~= "string" then return tostring(url) end
  local at = url:match("^.*()@")
  if not at then return url end
  local scheme = url:match("^%a[%w+.-]*:/*") or ""
  if #scheme >= at then scheme = "" end
  return scheme .. "***" .. url:sub(at)
end

-- parse_url(url) -> { host, port, db, user, password } | nil, message
function M.parse_url(url)
  if type(url) ~= "string" then return nil, "the Redis URL must be a string" end
  local rest = url:match("^redis://(.*)$")
  if not rest then
    return nil, ("the Redis URL must look like redis://[user:password@]host[:port][/db], got %s"):format(
      M.redact(url))
  end
  local cfg = { port = 6379, db = 0 }
  local auth, hostpart = rest:match("^(.*)@([^@]*)$")
  if not auth then hostpart = rest end
  if auth then
    local user, pass = auth:match("^([^:]*):(.*)$")
    if not user then user, pass = "", auth end -- redis://password@host
    if user ~= "" then cfg.user = unescape(user) end
    cfg.password = unescape(pass)
    if cfg.password == "" then return nil, "the Redis URL has an empty password" end
  end
  local authority, path = hostpart:match("^([^/]*)(.*)$")
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$") -- [IPv6]:port
  if not host then host, port = authority:match("^([^:]*):?(%d*)$") end
  if not host or host == "" then
    return nil, "the Redis URL names no host: " .. M.redact(url)
  end
  cfg.host = host
  if port ~= "" then
    cfg.port = tonumber(port)
    if cfg.port < 1 or cfg.port > 65535 then return nil, "bad port in the Redis URL: " .. M.redact(url) end
  end
  if path ~= "" and path ~= "/" then
    local db = path:match("^/(%d+)$")
    if not db then return nil, "the Redis URL's path must be a database number (/0): " .. M.redact(url) end
    cfg.db = tonumber(db)
    if cfg.db > 1000000 then return nil, "the Redis URL's database number is too large: " .. M.redact(url) end
  end
  return cfg
end

---------------------------------------------------------------------------
-- the script

local sha -- its SHA1 as Redis reports it (the same on every server)

local function load_script(conn)
  local r, code, msg, stale = conn:command("SCRIPT", "LOAD", script)
  if r == nil then return nil, code, msg, stale end
  if type(r) ~= "string" then return nil, "IO", "unexpected reply to SCRIPT LOAD" end
  sha = r
  return r
end

local UNAVAILABLE = "LIMITER_UNAVAILABLE"

-- a failure of the connection or the server -> nil, LIMITER_*, message
local function failure(self, code, msg)
  msg = tostring(msg)
  if code == "AUTH" or ((code == "REDIS_ERROR" or code == "SELECT") and (msg:find("NOAUTH", 1, true)
      or msg:find("WRONGPASS", 1, true) or msg:find("NOPERM", 1, true) or msg:find("invalid password", 1, true)
      or msg:find("unauthenticated", 1, true))) then -- a long command before AUTH: no password given
    return nil, "LIMITER_AUTH_FAILED", ("Redis limiter at %s: the server refused the credentials: %s"):format(
      self.where, msg)
  end
  if code == "REDIS_ERROR" and msg:find("WRONGTYPE", 1, true) then
    return nil, "LIMITER_WRONG_TYPE", ("Redis limiter at %s: key %s or %s holds another type of value"
      .. " (delete them, or set rate_limit.redis_prefix): %s"):format(self.where, self.zkey, self.mkey, msg)
  end
  if code == "REDIS_ERROR" then
    return nil, UNAVAILABLE, ("Redis limiter at %s: the server answered an error: %s"):format(self.where, msg)
  end
  return nil, UNAVAILABLE, ("Redis limiter at %s unavailable: %s"):format(self.where, msg)
end

local function num(n)
  if n % 1 == 0 and n > -2 ^ 53 and n < 2 ^ 53 then return ("%.0f"):format(n) end
  return ("%.17g"):format(n)
end

-- run(self, op[, arg]) -> reply table | nil, LIMITER_*, message
local function run(self, op, arg)
  if self.closed then return nil, UNAVAILABLE, "the limiter is closed" end
  local conn = self.conn
  local r, code, msg, stale
  for attempt = 1, 3 do
    local h = sha
    if not h then
      h, code, msg, stale = load_script(conn)
    end
    if h then
      r, code, msg, stale = conn:command("EVALSHA", h, "2", self.zkey, self.mkey, op, self.calls_s,
        self.window_s, arg or "", self.keep_calls_s, self.keep_window_s)
      if r ~= nil then break end
      if code == "REDIS_ERROR" and tostring(msg):find("^NOSCRIPT") then
        sha = nil -- Redis restarted or SCRIPT FLUSH: load it again and retry
      elseif not (code == "IO" and stale and attempt == 1) then
        break
      end
    elseif not (code == "IO" and stale and attempt == 1) then
      break
    end
    -- a kept connection that died while idle: one more try on a new connection (each op is
    -- safe to repeat: at worst a reservation is recorded twice, which only makes it stricter)
  end
  if r == nil then return failure(self, code, msg) end
  if type(r) ~= "table" or type(r[1]) ~= "number" then
    return nil, UNAVAILABLE, ("Redis limiter at %s: unexpected reply from the script"):format(self.where)
  end
  return r
end

---------------------------------------------------------------------------
-- the limiter

local Limiter = {}
Limiter.__index = Limiter

local function check_now(now, fname)
  if type(now) ~= "number" or now ~= now then
    error(usage(("redis limiter: %s: argument 'now' must be a number"):format(fname)), 3)
  end
end

-- Redis failed: use the fallback (warn at the first use of an outage, then once a minute)
local function fallback_warning(self, now, msg)
  if self.down and now - self.warned_at < 60 then return nil end
  self.down, self.warned_at = true, now
  return ("%s; using this host's own limiter, which cannot see other hosts' calls"):format(msg)
end

function Limiter:reserve(now)
  check_now(now, "reserve")
  local r, code, msg = run(self, "reserve")
  if r then
    self.down = false
    if r[1] == 1 then
      self.pending[r[2]] = true
      return true, r[2]
    end
    return false, r[2] / 1e6
  end
  local fb = self.fallback
  if not fb then return nil, code, msg end
  local warn = fallback_warning(self, now, msg)
  local ok, a, b = fb:reserve(now)
  if ok == true then
    self.local_slots[a] = true
    return true, a, warn or b
  end
  return ok, a, b
end

function Limiter:commit(slot, now)
  check_now(now, "commit")
  if type(slot) ~= "number" or slot < 1 or floor(slot) ~= slot then
    error(usage("redis limiter: commit: argument 'slot' must be a slot number returned by reserve"), 2)
  end
  if self.local_slots[slot] then
    self.local_slots[slot] = nil
    return self.fallback:commit(slot, now)
  end
  if not self.pending[slot] then return true, false end -- not an outstanding reservation of ours
  self.pending[slot] = nil
  local r, code, msg = run(self, "commit", num(slot))
  if not r then return nil, code, msg end
  return true, r[2] == 1
end

function Limiter:status(now)
  check_now(now, "status")
  local r, code, msg = run(self, "status")
  if r then return r[1], r[2], r[3] / 1e6 end
  if self.fallback then return self.fallback:status(now) end
  return nil, code, msg
end

function Limiter:block(now, seconds)
  check_now(now, "block")
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 or seconds == huge then
    error(usage("redis limiter: block: argument 'seconds' must be a non-negative number"), 2)
  end
  local r, code, msg = run(self, "block", num(seconds))
  if self.fallback and self.fallback.block then self.fallback:block(now, seconds) end
  if r or self.fallback then return true end
  return nil, code, msg
end

function Limiter:fill(now)
  check_now(now, "fill")
  local r, code, msg = run(self, "fill")
  if self.fallback then self.fallback:fill(now) end
  if r or self.fallback then return true end
  return nil, code, msg
end

function Limiter:close()
  if self.closed then return end
  self.closed = true
  if self.conn.close then self.conn:close() end
  if self.fallback and self.fallback.close then self.fallback:close() end
end

function Limiter.__tostring(self)
  return ("egoi redis limiter (%s, %d calls / %gs%s)"):format(self.where, self.calls, self.window,
    self.closed and ", closed" or "")
end

local function bad(name, what)
  error(usage(("egoi.limiter.redis.new: option '%s' must be %s"):format(name, what)), 3)
end

-- (core.redis takes 0.001 .. 1e6 seconds)
local function opt_seconds(opts, name, default)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or not (v >= 0.001 and v <= 1e6) then bad(name, "a number of seconds from 0.001 to 1e6") end
  return v
end

function M.new(opts)
  if type(opts) ~= "table" then
    error(usage("egoi.limiter.redis.new: argument 'opts' must be a table"), 2)
  end
  local cfg, why = M.parse_url(opts.url)
  if not cfg then
    error(usage("egoi.limiter.redis.new: option 'url': " .. why), 2)
  end
  local calls, window = opts.calls or 150, opts.window or 3600
  if type(calls) ~= "number" or calls < 1 or floor(calls) ~= calls or calls > 100000 then
    bad("calls", "an integer in 1..100000")
  end
  if type(window) ~= "number" or window ~= window or window < 1e-6 or window == huge then
    bad("window", "a number of seconds from 0.000001")
  end
  -- the least history kept (the account's own limit): see egoi.limiter.redis_script
  local keep_calls, keep_window = opts.history_calls or 150, opts.history_window or 3600
  if type(keep_calls) ~= "number" or keep_calls < 0 or floor(keep_calls) ~= keep_calls or keep_calls > 100000 then
    bad("history_calls", "an integer in 0..100000")
  end
  if type(keep_window) ~= "number" or keep_window ~= keep_window or keep_window < 0 or keep_window == huge then
    bad("history_window", "a non-negative number of seconds")
  end
  local key = opts.key
  if type(key) ~= "string" or not key:match("^[%w_.-]+$") then
    bad("key", "a key id (core.key_id(apikey))")
  end
  local prefix = opts.prefix or "egoi:rl:"
  if type(prefix) ~= "string" or prefix:find("[%s%c{}]") then bad("prefix", "a string without spaces or braces") end
  local on = opts.on_unavailable or "fail"
  if on ~= "fail" and on ~= "local" then bad("on_unavailable", '"fail" or "local"') end
  local fallback = opts.fallback
  if on == "local" and type(fallback) ~= "table" and type(fallback) ~= "userdata" then
    bad("fallback", 'a limiter when on_unavailable = "local"')
  end
  if on ~= "local" then fallback = nil end
  cfg.connect_timeout = opt_seconds(opts, "connect_timeout", 1)
  cfg.timeout = opt_seconds(opts, "timeout", 1)

  local backend = opts.backend
  local cosocket = require "egoi.limiter.redis_cosocket"
  if backend == nil then backend = cosocket.available() and "cosocket" or "hiredis" end
  local conn
  if backend == "cosocket" then
    conn = cosocket.new(cfg)
  elseif backend == "hiredis" then
    conn = require("egoi.core").redis(cfg)
  else
    bad("backend", '"hiredis" or "cosocket"')
  end
  local where = ("%s:%d/%d"):format(cfg.host:find(":", 1, true) and ("[" .. cfg.host .. "]") or cfg.host,
    cfg.port, cfg.db)
  cfg.password = nil
  local base = prefix .. "{" .. key .. "}"
  return setmetatable({
    conn = conn, where = where, calls = calls, window = window,
    calls_s = num(calls), window_s = num(window), keep_calls_s = num(keep_calls), keep_window_s = num(keep_window),
    zkey = base .. ":t", mkey = base .. ":m",
    fallback = fallback, local_slots = {}, pending = {}, down = false, warned_at = -huge, closed = false,
    backend = backend,
  }, Limiter)
end

-- for the client: the limiter for rate_limit = { redis = url, ... } (rl), wrapping the host's
-- own limiter `own` (used only with on_unavailable = "local"; closed otherwise)
function M.for_client(rl, calls, window, key, own)
  local url = rl.redis
  if type(url) ~= "string" then
    error(usage("egoi.new: option 'rate_limit.redis' must be a redis:// URL"), 3)
  end
  local on = rl.on_unavailable
  if on ~= nil and on ~= "fail" and on ~= "local" then
    error(usage("egoi.new: option 'rate_limit.on_unavailable' must be \"fail\" or \"local\""), 3)
  end
  if on ~= "local" and own and own.close then own:close() end
  local ok, lim = pcall(M.new, { url = url, key = key, calls = calls, window = window,
    prefix = rl.redis_prefix, connect_timeout = rl.redis_connect_timeout, timeout = rl.redis_timeout,
    on_unavailable = on, fallback = on == "local" and own or nil })
  if not ok then
    if type(lim) == "table" and lim.message then
      lim.message = lim.message:gsub("^egoi%.limiter%.redis%.new: option '([%w_]+)'", function(o)
        local name = ({ url = "redis", prefix = "redis_prefix", connect_timeout = "redis_connect_timeout",
          timeout = "redis_timeout" })[o] or o
        return "egoi.new: option 'rate_limit." .. name .. "'"
      end)
    end
    error(lim, 3)
  end
  return lim
end

M.Limiter = Limiter
M.script = script
return M
