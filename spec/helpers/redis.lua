-- spec/helpers/redis.lua - a private redis-server on a free loopback port, for specs.
--
--   local redis = require "helpers.redis"
--   local r = redis.start{ password = "pw", users = { "alice on >pw2 ~egoi:* +@all" } }
--   r.port, r:url(), r:url{ user = "alice", password = "pw2", db = 3 }
--   r:command("SET", "k", "v")      -- through core.redis (as the admin: default user)
--   r:kill()  r:restart()  r:schedule_restart(after, down)  r:stop()
--
-- Never the system service: its own port, its own temporary directory (dir, no RDB, no AOF),
-- its config on the command line. r:kill() is a SIGKILL (data and script cache are lost, as
-- in a crash); r:restart() starts it again on the same port and directory.
local server = require "helpers.server"

local M = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function tmpdir()
  local f = assert(io.popen("mktemp -d"))
  local d = f:read("*l")
  f:close()
  assert(d and d ~= "", "mktemp -d failed")
  return d
end

local Redis = {}
Redis.__index = Redis

local function pct(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- redis://[user:password@]127.0.0.1:port/db ; opts.password = false: no credentials
function Redis:url(opts)
  opts = opts or {}
  local pw = opts.password
  if pw == nil then pw = self.password end
  local auth = ""
  if pw then auth = (opts.user and pct(opts.user) or "") .. ":" .. pct(pw) .. "@" end
  return ("redis://%s127.0.0.1:%d/%d"):format(auth, self.port, opts.db or 0)
end

function Redis:args()
  local args = { "redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "''",
    "--appendonly", "no", "--dir", shell_quote(self.dir), "--daemonize", "no",
    "--protected-mode", "no", "--logfile", "''" }
  if self.password then
    args[#args + 1] = "--requirepass"
    args[#args + 1] = shell_quote(self.password)
  end
  for _, u in ipairs(self.users) do
    args[#args + 1] = "--user"
    for word in u:gmatch("%S+") do args[#args + 1] = shell_quote(word) end
  end
  return table.concat(args, " ")
end

function Redis:start_server()
  self.srv = server.start{ cmd = self:args(), port = self.port }
  self.port = self.srv.port
end

-- From a background shell (the spec may be blocked meanwhile): SIGKILL the server in
-- `after` seconds, start it again `down` seconds later on the same port and directory.
function Redis:schedule_restart(after, down)
  local pidfile = os.tmpname()
  os.execute(("(sleep %.3f; kill -9 %d; sleep %.3f; exec %s) >>%s 2>&1 </dev/null & echo $! >%s"):format(
    after, self.srv.pid, down, self:args():gsub("{port}", tostring(self.port)), self.srv.logfile, pidfile))
  local pid = tonumber((server.read_file(pidfile) or ""):match("%d+"))
  os.remove(pidfile)
  -- the shell becomes the new server (exec): stop() ends it, and the old one if still there
  self.old_pid, self.srv.pid = self.srv.pid, pid
  if self.conn then self.conn:close(); self.conn = nil end
end

function Redis:admin()
  if not self.conn then
    local core = require "egoi.core"
    self.conn = core.redis{ host = "127.0.0.1", port = self.port, password = self.password, timeout = 5 }
  end
  return self.conn
end

-- a command as the default user: reply | nil, code, message
function Redis:command(...)
  return self:admin():command(...)
end

function Redis:pid() return self.srv and self.srv.pid end

function Redis:log() return self.srv and self.srv:log() or "" end

function Redis:kill()
  if self.srv and self.srv.pid then
    os.execute("kill -9 " .. self.srv.pid .. " 2>/dev/null")
    -- wait until the port is free again
    for _ = 1, 100 do
      local ok = os.execute("kill -0 " .. self.srv.pid .. " 2>/dev/null")
      if ok ~= true and ok ~= 0 then break end
      os.execute("sleep 0.05")
    end
    self.srv.pid = nil
  end
  if self.conn then self.conn:close(); self.conn = nil end
end

function Redis:restart()
  self:kill()
  self:start_server()
end

function Redis:stop()
  if self.old_pid then os.execute("kill -9 " .. self.old_pid .. " 2>/dev/null"); self.old_pid = nil end
  if self.conn then self.conn:close(); self.conn = nil end
  if self.srv then self.srv:stop(); self.srv = nil end
  if self.dir then os.execute("rm -rf " .. shell_quote(self.dir)); self.dir = nil end
end

-- opts.password (requirepass), opts.users (ACL rules, one string per user, e.g.
-- "alice on >secret ~egoi:* +@all"), opts.port (default: a free one)
function M.start(opts)
  opts = opts or {}
  local self = setmetatable({ dir = tmpdir(), password = opts.password, users = opts.users or {},
    port = opts.port }, Redis)
  local ok, err = pcall(self.start_server, self)
  if not ok then
    self:stop()
    error(err, 0)
  end
  return self
end

return M
