-- spec/helpers/server.lua - start and stop real servers on loopback for specs.
--
--   local server = require "helpers.server"
--   local s = server.start{ cmd = "php -S 127.0.0.1:{port} spec/servers/echo.php" }
--   ... s.port, s.url("/v2/rest.php") ...
--   s:stop()
--
-- {port} in cmd is replaced by a free loopback port. The helper waits until
-- the port accepts connections (or `ready` returns true) on a socket the
-- started process itself listens on (so another copy of the suite that took
-- the port in between is never mistaken for ours) and raises with the
-- server's log if it does not within `timeout` seconds. When the server
-- exits before it is ready (the port was taken after free_port looked at
-- it) it is started again on another port, up to 5 times.
--
-- Other helpers: refused_port() (a port nothing can listen on while the
-- suite runs), tmpdir() / rmdir() (private, unique temporary directories).
local socket = require "socket"

local M = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = shell_quote

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

---------------------------------------------------------------------------
-- temporary directories

local made_dirs = {}

-- A fresh directory only its owner can enter (mktemp -d: mode 0700, unique
-- name under $TMPDIR or /tmp). `tag` names it for whoever looks at /tmp.
function M.tmpdir(tag)
  local p = io.popen("mktemp -d -t " .. shell_quote((tag or "egoi-spec") .. ".XXXXXXXX") .. " 2>/dev/null")
  local dir = p and p:read("*l")
  if p then p:close() end
  assert(dir and dir:sub(1, 1) == "/", "mktemp -d failed")
  made_dirs[dir] = true
  return dir
end

-- Removes a directory made by tmpdir() (and nothing else).
function M.rmdir(dir)
  if dir and made_dirs[dir] then
    os.execute("rm -rf " .. shell_quote(dir))
    made_dirs[dir] = nil
  end
end

---------------------------------------------------------------------------
-- ports

-- Ports are picked at random below the kernel's ephemeral range, so the
-- local end of an outgoing connection (anyone's, on this machine) never
-- takes a port between free_port() and the server's bind, and two copies
-- of the suite rarely pick the same one (start() retries when they do).
local function port_range()
  local text = read_file("/proc/sys/net/ipv4/ip_local_port_range") or ""
  local low = tonumber(text:match("^%s*(%d+)")) or 32768
  local hi = low - 1
  local lo = math.max(1024, hi - 12000)
  if hi - lo < 1000 then return nil end
  return lo, hi
end

local function random_u32()
  local f = io.open("/dev/urandom", "rb")
  local b = f and f:read(4)
  if f then f:close() end
  if not b or #b < 4 then return math.random(0, 2 ^ 31 - 1) end
  local x1, x2, x3, x4 = b:byte(1, 4)
  return ((x1 * 256 + x2) * 256 + x3) * 256 + x4
end

-- true when nothing on the machine is bound to 127.0.0.1:port (the probe
-- binds without SO_REUSEADDR: a port with connections in TIME_WAIT counts
-- as taken too)
local function bindable(port)
  local s = socket.tcp()
  local ok = s:bind("127.0.0.1", port)
  s:close()
  return ok ~= nil
end

function M.free_port()
  local lo, hi = port_range()
  if lo then
    for _ = 1, 100 do
      local port = lo + random_u32() % (hi - lo + 1)
      if bindable(port) then return port end
    end
  end
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- A loopback port that refuses connections for as long as this process
-- runs: a socket is bound to it (without SO_REUSEADDR, so no server can
-- bind it) and never listens.
local held = {}
function M.refused_port()
  local s = socket.tcp()
  assert(s:bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  held[#held + 1] = s
  return tonumber(port)
end

---------------------------------------------------------------------------
-- processes

-- running and not a zombie
local function alive(pid)
  if not pid then return false end
  local stat = read_file("/proc/" .. pid .. "/stat")
  if stat then
    local state = stat:match("^%d+ %b() (%a)")
    return state ~= nil and state ~= "Z" and state ~= "X"
  end
  local f = io.popen("ps -o stat= -p " .. pid .. " 2>/dev/null")
  local st = f:read("*l")
  f:close()
  return st ~= nil and st:match("^%s*Z") == nil
end
M.alive = alive

-- the inodes of the sockets listening on `port` (any local address), or nil
-- when /proc/net/tcp cannot be read (not Linux)
local function listening_inodes(port)
  local hex = (":%04X"):format(port)
  local found, readable = {}, false
  for _, file in ipairs{ "/proc/net/tcp", "/proc/net/tcp6" } do
    local text = read_file(file)
    if text then
      readable = true
      for line in text:gmatch("[^\n]+") do
        -- sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        local lport, st, inode = line:match(
          "^%s*%d+:%s+%x+(:%x+)%s+%x+:%x+%s+(%x%x)%s+%S+%s+%S+%s+%S+%s+%d+%s+%d+%s+(%d+)")
        if lport == hex and st == "0A" then found[#found + 1] = inode end
      end
    end
  end
  return readable and found or nil
end

-- the pids of pid's children
local function children(pid)
  local out = {}
  local f = io.popen("ps -o pid= --ppid " .. pid .. " 2>/dev/null")
  for line in f:lines() do
    local p = tonumber(line:match("%d+"))
    if p then out[#out + 1] = p end
  end
  f:close()
  return out
end

M.children = children

local function holds(pid, inodes)
  local f = io.popen("ls -l /proc/" .. pid .. "/fd 2>/dev/null")
  local text = f:read("*a")
  f:close()
  for _, inode in ipairs(inodes) do
    if text:find("socket:[" .. inode .. "]", 1, true) then return true end
  end
  return false
end

-- true when process pid (or one of its descendants) listens on port;
-- true as well where that cannot be checked (no /proc)
function M.listens(pid, port)
  local inodes = listening_inodes(port)
  if not inodes then return true end
  if #inodes == 0 or not pid then return false end
  local todo, i = { pid }, 1
  while todo[i] and i <= 64 do
    if holds(todo[i], inodes) then return true end
    for _, c in ipairs(children(todo[i])) do todo[#todo + 1] = c end
    i = i + 1
  end
  return false
end

local function can_connect(port)
  local c = socket.tcp()
  c:settimeout(0.2)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end
M.can_connect = can_connect

---------------------------------------------------------------------------
-- servers

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
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    for _ = 1, 20 do
      if not alive(self.pid) then break end
      socket.sleep(0.05)
    end
    if alive(self.pid) then os.execute("kill -9 " .. self.pid .. " 2>/dev/null") end
    self.pid = nil
  end
  M.rmdir(self.dir)
end

-- One try on `port`: the server, or nil, message, retry (true when the
-- port was taken by someone else).
local function launch(opts, port)
  local dir = M.tmpdir("egoi-server")
  local self = setmetatable({ port = port, dir = dir, logfile = dir .. "/log", pidfile = dir .. "/pid" }, Server)
  local env = { "EGOI_SERVER_DIR=" .. shell_quote(dir) }
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. shell_quote(v) end
  local cmd = opts.cmd:gsub("{port}", tostring(port))
  -- `exec` replaces the subshell so the pid is the server's own.
  os.execute(("exec env %s %s >%s 2>&1 </dev/null & echo $! >%s"):format(table.concat(env, " "), cmd,
    shell_quote(self.logfile), shell_quote(self.pidfile)))
  self.pid = tonumber(((read_file(self.pidfile) or ""):match("%d+")))
  local deadline = socket.gettime() + (opts.timeout or 10)
  local foreign = false
  while socket.gettime() < deadline do
    local ready
    if opts.ready then ready = opts.ready(self) else ready = can_connect(port) end
    if ready then
      if M.listens(self.pid, port) then return self end
      foreign = true -- someone else answers there; ours may still be trying to bind
    end
    if not alive(self.pid) then break end
    socket.sleep(0.05)
  end
  local died = not alive(self.pid)
  local log = self:log()
  self:stop()
  local taken = foreign or log:find("in use", 1, true) ~= nil or not bindable(port)
  return nil, ("server did not start: %s\n%s"):format(cmd, log), taken and (died or foreign)
end

-- opts.cmd: shell command with {port}; opts.port: fixed port (default free,
-- and a new one for each retry); opts.timeout: seconds to wait for
-- readiness (default 10); opts.ready(server): readiness test (default: the
-- port accepts connections); opts.env: table. The server also gets
-- EGOI_SERVER_DIR: its private directory (s.dir, removed by stop).
function M.start(opts)
  local tries = opts.port and 1 or 5
  local err
  for _ = 1, tries do
    local s, e, retry = launch(opts, opts.port or M.free_port())
    if s then return s end
    err = e
    if not retry then break end
  end
  error(err, 2)
end

return M
