-- spec/helpers/nginx.lua - run a private nginx (ngx_lua) for specs.
--
--   local nginx = require "helpers.nginx"
--   local n = nginx.start{ workers = 1, env = { EGOI_APIKEY = "..." }, extra = "location ... { }" }
--   local st, body = nginx.request(n.port, "POST", "/signup", "email=a%40b.c")
--   local res = nginx.fire(n.port, { {method=, path=, body=}, ... }, 30)   -- concurrent
--   n:stop()
--
-- nginx runs from examples/nginx/nginx.conf (markers @PORT@ @REPO@ @BUILD@ @WORKERS@
-- replaced, test locations inserted at #@EXTRA@) with its own prefix in a private temp
-- directory (0700): pid, logs and temp files stay there; the system nginx is never touched.
-- The workers load the LuaJIT build of egoi.core: $BUILD/jit (BUILD defaults to "build").
--
-- Wherever the repository is: run as root, nginx would start its workers as `nobody`,
-- who cannot read a repository under a 0700 home or a `mktemp -d` folder (nor the
-- private prefix); the generated nginx.conf therefore names the invoking user
-- (`user root root;`) so the workers can read what the specs can. Not root, the
-- workers are the invoking user anyway.
--
-- Ports: @PORT@ is the server's port; extra may name more as @PORT_<NAME>@ (each
-- gets its own, as n.ports.NAME). nginx counts as up only when its own master
-- listens on every one of them; when it dies because one was taken meanwhile
-- (another copy of the suite), it is started again with new ports.
local socket = require "socket"
local server = require "helpers.server"

local M = {}

local function dirname(p) return (p:match("^(.*)/[^/]*$")) or "." end

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local f = io.popen("pwd") -- the real working directory ($PWD may be the caller's, e.g. make -C)
  local pwd = f:read("*l")
  f:close()
  return pwd .. "/" .. p
end

-- the repository root: spec/helpers/nginx.lua -> ../..
M.REPO = abspath(dirname(dirname(dirname(debug.getinfo(1, "S").source:sub(2)))))
  :gsub("/%./", "/"):gsub("/%.$", "")

local read_file = server.read_file
M.read_file = read_file

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

function M.build_dir()
  local b = os.getenv("BUILD")
  if not b or b == "" then b = "build" end
  if b:sub(1, 1) ~= "/" then b = M.REPO .. "/" .. b end
  return b
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local alive = server.alive

-- "user NAME GROUP;" when we are root, else nil
local user_line
do
  local p = io.popen("id -u; id -un; id -gn")
  local uid, name, group = p:read("*l"), p:read("*l"), p:read("*l")
  p:close()
  if uid == "0" and name and group then user_line = ("user %s %s;\n"):format(name, group) end
end
M.user_line = user_line

local Nginx = {}
Nginx.__index = Nginx

function Nginx:url(path)
  return ("http://127.0.0.1:%d%s"):format(self.port, path or "/")
end

function Nginx:error_log()
  return read_file(self.prefix .. "/logs/error.log") or ""
end

function Nginx:worker_pids()
  return server.children(self.pid)
end

-- Graceful stop of our own master (by pid), then a forced one for it and
-- its own workers if it does not go away within 5 s.
function Nginx:stop()
  if not self.pid then return end
  local workers = self:worker_pids()
  os.execute("kill -QUIT " .. self.pid .. " 2>/dev/null")
  local deadline = socket.gettime() + 5
  while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.05) end
  if alive(self.pid) then
    os.execute("kill -9 " .. self.pid .. " 2>/dev/null")
    for _, w in ipairs(workers) do os.execute("kill -9 " .. w .. " 2>/dev/null") end
  end
  self.pid = nil
  if not os.getenv("EGOI_KEEP_NGINX") then server.rmdir(self.prefix) end
end

-- A fresh private directory for files the workers write (they run as the
-- invoking user); create it before start() to name such files in opts.env.
function M.shared_dir()
  return server.tmpdir("egoi-nginx-shared")
end

M.remove_dir = server.rmdir

-- nginx.conf for these ports: the template with its markers replaced
local function render(tmpl, opts, build, ports)
  local extra = (opts.extra or ""):gsub("@PORT_([%w_]+)@", function(name) return tostring(ports[name]) end)
  local conf = tmpl
    :gsub("@REPO@/examples/nginx/%?%.lua;", "@REPO@/examples/nginx/?.lua;@REPO@/spec/servers/?.lua;", 1)
    :gsub("@PORT@", tostring(ports[1]))
    :gsub("@WORKERS@", tostring(opts.workers or 1))
    :gsub("@REPO@", (M.REPO:gsub("%%", "%%%%")))
    :gsub("@BUILD@", (build:gsub("%%", "%%%%")))
    :gsub("#@EXTRA@", (extra:gsub("%%", "%%%%")))
  if user_line and not conf:find("\n%s*user%s") and not conf:find("^%s*user%s") then
    conf = user_line .. conf
  end
  return conf
end

-- One try with these ports: the server, or nil, message, retry (true when a
-- port was taken by someone else).
local function launch(opts, build, tmpl, ports)
  local prefix = server.tmpdir("egoi-nginx")
  os.execute(("mkdir -p %s %s %s"):format(shell_quote(prefix .. "/logs"), shell_quote(prefix .. "/tmp"),
    shell_quote(prefix .. "/shared")))
  local conf = render(tmpl, opts, build, ports)
  write_file(prefix .. "/nginx.conf", conf)

  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. shell_quote(v) end
  local pidfile = prefix .. "/launcher.pid"
  os.execute(("exec env %s nginx -p %s -c nginx.conf -e logs/error.log -g 'daemon off;'"
    .. " >%s 2>&1 </dev/null & echo $! >%s"):format(table.concat(env, " "), shell_quote(prefix),
      shell_quote(prefix .. "/logs/stderr.log"), shell_quote(pidfile)))
  local self = setmetatable({ prefix = prefix, port = ports[1], ports = ports, conf = conf,
    shared = prefix .. "/shared" }, Nginx)
  self.pid = tonumber((read_file(pidfile) or ""):match("%d+"))
  local deadline = socket.gettime() + (opts.timeout or 10)
  local foreign = false
  while socket.gettime() < deadline do
    if server.can_connect(ports[1]) then
      local ours = true
      for _, p in pairs(ports) do ours = ours and server.listens(self.pid, p) end
      if ours then
        -- all workers up (the listen socket may answer before the last one forks)
        local want = opts.workers or 1
        local d2 = socket.gettime() + 5
        while #self:worker_pids() < want and socket.gettime() < d2 do socket.sleep(0.05) end
        return self
      end
      foreign = true
    end
    if not alive(self.pid) then break end
    socket.sleep(0.05)
  end
  local died = not alive(self.pid)
  local log = (read_file(prefix .. "/logs/stderr.log") or "") .. self:error_log()
  self:stop()
  local taken = foreign or log:find("in use", 1, true) ~= nil
  return nil, "nginx did not start:\n" .. log, taken and (died or foreign)
end

-- opts.workers (1), opts.env {NAME = value}, opts.extra (config text inside the server block,
-- may name more ports as @PORT_<NAME>@), opts.template (default examples/nginx/nginx.conf),
-- opts.timeout (10 s to come up), opts.port (fixed: no retry).
function M.start(opts)
  opts = opts or {}
  local build = M.build_dir()
  if not read_file(build .. "/jit/egoi/core.so") then
    error("no LuaJIT build of egoi.core at " .. build .. "/jit/egoi/core.so (run make, or set BUILD)")
  end
  local tmpl = assert(read_file(opts.template or (M.REPO .. "/examples/nginx/nginx.conf")))
  local names = {}
  for name in (opts.extra or ""):gmatch("@PORT_([%w_]+)@") do names[name] = true end
  local err
  for _ = 1, opts.port and 1 or 5 do
    local ports = { opts.port or server.free_port() }
    for name in pairs(names) do
      repeat ports[name] = server.free_port() until ports[name] ~= ports[1]
    end
    local n, e, retry = launch(opts, build, tmpl, ports)
    if n then return n end
    err = e
    if not retry then break end
  end
  error(err, 2)
end

---------------------------------------------------------------------------
-- a tiny HTTP/1.0 client that can run many requests at once (non-blocking
-- luasocket + select); Connection: close, so a response ends at EOF.

local function build_request(port, r)
  local body = r.body
  local lines = { ("%s %s HTTP/1.0"):format(r.method or (body and "POST" or "GET"), r.path or "/"),
    "Host: 127.0.0.1:" .. port }
  local has_type = false
  for k, v in pairs(r.headers or {}) do
    lines[#lines + 1] = k .. ": " .. v
    if k:lower() == "content-type" then has_type = true end
  end
  if body then
    if not has_type then lines[#lines + 1] = "Content-Type: application/x-www-form-urlencoded" end
    lines[#lines + 1] = "Content-Length: " .. #body
  end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local function parse_response(raw)
  local head, body = raw:match("^(.-)\r\n\r\n(.*)$")
  if not head then return { raw = raw } end
  local status = tonumber(head:match("^HTTP/%d%.%d (%d%d%d)"))
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return { status = status, headers = headers, body = body, raw = raw }
end

-- fire(port, requests, timeout) -> list of { status, headers, body } (status nil on failure)
function M.fire(port, requests, timeout)
  local conns, results = {}, {}
  for i, r in ipairs(requests) do
    local c = socket.tcp()
    c:settimeout(5)
    local ok, err = c:connect("127.0.0.1", port)
    if not ok then
      results[i] = { error = "connect: " .. tostring(err) }
    else
      local data = build_request(port, r)
      local sent, serr = c:send(data)
      if not sent then
        results[i] = { error = "send: " .. tostring(serr) }
        c:close()
      else
        c:settimeout(0)
        conns[#conns + 1] = { sock = c, index = i, buf = {} }
      end
    end
  end
  local deadline = socket.gettime() + (timeout or 30)
  local open = #conns
  while open > 0 and socket.gettime() < deadline do
    local socks = {}
    for _, cn in ipairs(conns) do if not cn.done then socks[#socks + 1] = cn.sock end end
    local readable = socket.select(socks, nil, 0.5)
    for _, cn in ipairs(conns) do
      if not cn.done and readable[cn.sock] then
        local data, err, partial = cn.sock:receive(65536)
        local piece = data or partial
        if piece and #piece > 0 then cn.buf[#cn.buf + 1] = piece end
        if err == "closed" then
          cn.done = true
          cn.sock:close()
          open = open - 1
          results[cn.index] = parse_response(table.concat(cn.buf))
        elseif err and err ~= "timeout" then
          cn.done = true
          cn.sock:close()
          open = open - 1
          results[cn.index] = { error = err }
        end
      end
    end
  end
  for _, cn in ipairs(conns) do
    if not cn.done then
      cn.sock:close()
      results[cn.index] = { error = "timeout" }
    end
  end
  return results
end

-- request(port, method, path, body, headers, timeout) -> status, body, headers
function M.request(port, method, path, body, headers, timeout)
  local r = M.fire(port, { { method = method, path = path, body = body, headers = headers } }, timeout or 30)[1]
  return r.status, r.body or r.error, r.headers
end

return M
