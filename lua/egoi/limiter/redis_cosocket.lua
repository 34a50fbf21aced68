-- egoi.limiter.redis_cosocket - a minimal Redis (RESP2) client over ngx cosockets, for the
-- Redis rate limiter inside nginx. Never blocks a worker; connections go back to nginx's
-- keepalive pool after each command.
--
--   local conn = require("egoi.limiter.redis_cosocket").new{ host =, port =, path =, user =,
--     password =, db =, connect_timeout = 1, timeout = 1, pool_size = 32, idle = 60 }
--   conn:command("EVALSHA", sha, 2, k1, k2, ...) -> reply | nil, code, message
--   conn:close()
--
-- The same contract as core.redis (csrc/redis.c): status/bulk -> string, integer -> number,
-- nil -> false, array -> table, an error inside an array -> { err = text }; a top-level error
-- reply -> nil, "REDIS_ERROR", text. Codes: CONNECT (not sent), AUTH / SELECT (refused on a
-- new connection: not sent), IO (failed or timed out mid-command: it may have run), PHASE
-- (this nginx phase has no cosockets: not sent). A new pooled connection runs AUTH and
-- SELECT once; a connection that failed is closed, never pooled.
local type, tostring, tonumber, select, setmetatable, rawget, concat =
  type, tostring, tonumber, select, setmetatable, rawget, table.concat

local M = {}

local Conn = {}
Conn.__index = Conn

-- phases where ngx.socket.tcp works
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true, ssl_cert = true,
  ssl_session_fetch = true, ssl_client_hello = true, preread = true,
}

local function encode(args, n)
  local out = { "*" .. n .. "\r\n" }
  for i = 1, n do
    local a = args[i]
    if type(a) == "number" then
      a = (a == a and a % 1 == 0 and a > -2 ^ 53 and a < 2 ^ 53) and ("%.0f"):format(a) or ("%.17g"):format(a)
    end
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return concat(out)
end

-- one reply -> value, nil | nil, code, message (code "IO" or "REDIS_ERROR"/nested err)
local function read_reply(sock, depth)
  local line, err = sock:receive("*l")
  if not line then return nil, "IO", err end
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then
    return rest
  elseif kind == "-" then
    return nil, "REDIS_ERROR", rest
  elseif kind == ":" then
    local n = tonumber(rest)
    if not n then return nil, "IO", "bad integer reply" end
    return n
  elseif kind == "$" then
    local n = tonumber(rest)
    if not n then return nil, "IO", "bad bulk length" end
    if n < 0 then return false end
    local data, rerr = sock:receive(n + 2)
    if not data then return nil, "IO", rerr end
    return data:sub(1, n)
  elseif kind == "*" then
    local n = tonumber(rest)
    if not n then return nil, "IO", "bad array length" end
    if n < 0 then return false end
    if depth >= 16 then return nil, "IO", "reply nested too deeply" end
    local t = {}
    for i = 1, n do
      local v, code, msg = read_reply(sock, depth + 1)
      if v == nil then
        if code ~= "REDIS_ERROR" then return nil, code, msg end
        v = { err = msg }
      end
      t[i] = v
    end
    return t
  end
  return nil, "IO", "not a Redis reply"
end

local function where(self)
  if self.path then return "unix:" .. self.path end
  return ("%s:%d"):format(self.host, self.port)
end

-- one command on a connected socket: reply | nil, code, message
local function roundtrip(sock, args, n)
  local ok, err = sock:send(encode(args, n))
  if not ok then return nil, "IO", err end
  return read_reply(sock, 0)
end

local function setup(self, sock)
  if self.password then
    local args = self.user and { "AUTH", self.user, self.password } or { "AUTH", self.password }
    local r, code, msg = roundtrip(sock, args, #args)
    if r == nil then
      if code == "REDIS_ERROR" then return nil, "AUTH", ("AUTH refused by %s: %s"):format(where(self), msg) end
      return nil, "CONNECT", ("AUTH at %s failed: %s"):format(where(self), tostring(msg))
    end
  end
  if self.db ~= 0 then
    local r, code, msg = roundtrip(sock, { "SELECT", self.db }, 2)
    if r == nil then
      if code == "REDIS_ERROR" then return nil, "SELECT", ("SELECT refused by %s: %s"):format(where(self), msg) end
      return nil, "CONNECT", ("SELECT at %s failed: %s"):format(where(self), tostring(msg))
    end
  end
  return true
end

local function attempt(self, args, n)
  local ngx = rawget(_G, "ngx")
  local sock = ngx.socket.tcp()
  sock:settimeouts(self.connect_ms, self.timeout_ms, self.timeout_ms)
  local ok, err
  if self.path then
    ok, err = sock:connect("unix:" .. self.path, { pool = self.pool })
  else
    ok, err = sock:connect(self.host, self.port, { pool = self.pool })
  end
  if not ok then
    return nil, "CONNECT", ("cannot connect to Redis at %s: %s"):format(where(self), tostring(err))
  end
  local reused = (sock:getreusedtimes() or 0) > 0
  if not reused then
    local sok, code, msg = setup(self, sock)
    if not sok then
      sock:close()
      return nil, code, msg
    end
  end
  local r, code, msg = roundtrip(sock, args, n)
  if r == nil and code ~= "REDIS_ERROR" then
    sock:close()
    local stale = reused and msg ~= "timeout"
    if msg == "closed" then msg = "the server closed the connection" end
    if msg == "timeout" then msg = "timed out" end
    return nil, "IO", ("Redis at %s: %s"):format(where(self), tostring(msg)), stale
  end
  sock:setkeepalive(self.idle_ms, self.pool_size)
  if r == nil then return nil, code, msg end
  return r
end

function Conn:command(...)
  local ngx = rawget(_G, "ngx")
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    return nil, "PHASE", ("Redis cannot be reached in nginx's %s phase (no cosockets there)"):format(phase)
  end
  local n = select("#", ...)
  local args = { ... }
  -- a pooled connection that died while idle (Redis restarted) fails at once: try the next
  -- one (a few at most; the limiter's commands are safe to repeat, see egoi.limiter.redis)
  local r, code, msg, stale
  for _ = 1, 4 do
    r, code, msg, stale = attempt(self, args, n)
    if r ~= nil or not stale then break end
  end
  if r == nil then return nil, code, msg end
  return r
end

function Conn.close() end -- pooled sockets belong to nginx

function M.available()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.get_phase) == "function"
end

function M.new(cfg)
  local ngx = rawget(_G, "ngx")
  local secret = cfg.password and ngx.md5((cfg.user or "") .. "\0" .. cfg.password) or "-"
  local self = setmetatable({
    host = cfg.host or "127.0.0.1", port = cfg.port or 6379, path = cfg.path,
    user = cfg.user, password = cfg.password, db = cfg.db or 0,
    connect_ms = math.floor((cfg.connect_timeout or 1) * 1000 + 0.5),
    timeout_ms = math.floor((cfg.timeout or 1) * 1000 + 0.5),
    pool_size = cfg.pool_size or 32, idle_ms = math.floor((cfg.idle or 60) * 1000),
  }, Conn)
  -- one pool per server, db and credentials (the digest keeps the password out of the name)
  self.pool = ("egoi-redis|%s|%d|%s|%s"):format(where(self), self.db, cfg.user or "", secret)
  return self
end

function Conn.__tostring(self)
  return ("egoi redis cosocket (%s/%d%s)"):format(where(self), self.db, self.password and ", auth" or "")
end

return M
