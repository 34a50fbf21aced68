-- spec/helpers/server.lua - start and stop real servers on loopback for specs.
--
--   local server = require "helpers.server"
--   local s = server.start{ cmd = "php -S 127.0.0.1:{port} spec/servers/echo.php" }
--   ... s.port, s.url("/v2/rest.php") ...
--   s:stop()
--
-- {port} in cmd is replaced by a free loopback port. The helper waits until
-- the port accepts connections (or `ready` returns true) and raises with the
-- server's log if it does not within `timeout` seconds.
local socket = require "socket"

local M = {}

function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function can_connect(port)
  local c = socket.tcp()
  c:settimeout(0.2)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

-- the whole file, or nil when it cannot be opened
local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local d = f:read("*a")
  f:close()
  return d
end
M.read_file = read_file

-- the file's lines ({} when it cannot be opened)
function M.read_lines(path)
  local out = {}
  local f = io.open(path, "rb")
  if not f then return out end
  for line in f:lines() do out[#out + 1] = line end
  f:close()
  return out
end

local Server = {}
Server.__index = Server

function Server:url(path)
  return ("http://127.0.0.1:%d%s"):format(self.port, path or "/")
end

function Server:log()
  return read_file(self.logfile) or ""
end

function Server:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null; sleep 0.05; kill -9 " .. self.pid .. " 2>/dev/null")
    self.pid = nil
  end
  os.remove(self.pidfile)
end

-- opts.cmd: shell command with {port}; opts.port: fixed port (default free);
-- opts.timeout: seconds to wait for readiness (default 10); opts.env: table.
function M.start(opts)
  local port = opts.port or M.free_port()
  local tmp = os.tmpname()
  local self = setmetatable({ port = port, logfile = tmp .. ".log", pidfile = tmp .. ".pid" }, Server)
  os.remove(tmp)
  local env = ""
  for k, v in pairs(opts.env or {}) do env = env .. k .. "='" .. tostring(v) .. "' " end
  local cmd = opts.cmd:gsub("{port}", tostring(port))
  os.execute(("exec %s%s >%s 2>&1 </dev/null & echo $! >%s"):format(
    env ~= "" and ("env " .. env) or "", cmd, self.logfile, self.pidfile))
  -- `exec` replaces the subshell so the pid is the server's own.
  self.pid = tonumber(((read_file(self.pidfile) or ""):match("%d+")))
  local deadline = socket.gettime() + (opts.timeout or 10)
  while socket.gettime() < deadline do
    if (opts.ready and opts.ready(self)) or (not opts.ready and can_connect(port)) then
      return self
    end
    socket.sleep(0.05)
  end
  local log = self:log()
  self:stop()
  error(("server did not start: %s\n%s"):format(cmd, log))
end

return M
