-- spec/helpers/nginx.lua - run a private nginx (ngx_lua) for specs.
--
--   local nginx = require "helpers.nginx"
--   local n = nginx.start{ workers = 1, env = { EGOI_APIKEY = "..." }, extra = "location ... { }" }
--   local st, body = nginx.request(n.port, "POST", "/signup", "email=a%40b.c")
--   local res = nginx.fire(n.port, { {method=, path=, body=}, ... }, 30)   -- concurrent
--   n:stop()
--
-- nginx runs from examples/nginx/nginx.conf (markers @PORT@ @REPO@ @BUILD@ @WORKERS@
-- replaced, test locations inserted at #@EXTRA@) with its own prefix in a temp
-- directory: pid, logs and temp files stay there; the system nginx is never touched.
-- The workers load the LuaJIT build of egoi.core: $BUILD/jit (BUILD defaults to "build").
local socket = require "socket"
local server = require "helpers.server"

local M = {}

local function dirname(p) return (p:match("^(.*)/[^/]*$")) or "." end

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local pwd = os.getenv("PWD")
  if not pwd or pwd == "" then
    local f = io.popen("pwd")
    pwd = f:read("*l")
    f:close()
  end
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

-- running and not a zombie
local function alive(pid)
  if not pid then return false end
  local f = io.popen("ps -o stat= -p " .. pid .. " 2>/dev/null")
  local stat = f:read("*l")
  f:close()
  return stat ~= nil and stat:match("^%s*Z") == nil
end

local Nginx = {}
Nginx.__index = Nginx

function Nginx:url(path)
  return ("http://127.0.0.1:%d%s"):format(self.port, path or "/")
end

function Nginx:error_log()
  return read_file(self.prefix .. "/logs/error.log") or ""
end

function Nginx:worker_pids()
  local f = io.popen("ps -o pid= --ppid " .. self.pid .. " 2>/dev/null")
  local out = {}
  for line in f:lines() do
    local p = tonumber(line:match("%d+"))
    if p then out[#out + 1] = p end
  end
  f:close()
  return out
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
  if not os.getenv("EGOI_KEEP_NGINX") then
    os.execute("rm -rf " .. shell_quote(self.prefix))
  end
end

-- A fresh directory (world-writable) for files the workers write; create it
-- before start() to name such files in opts.env.
function M.shared_dir()
  local f = io.popen("mktemp -d /tmp/egoi-nginx-shared.XXXXXX")
  local dir = f:read("*l")
  f:close()
  assert(dir and dir ~= "", "mktemp failed")
  os.execute("chmod 777 " .. shell_quote(dir))
  return dir
end

function M.remove_dir(dir)
  if dir and dir:match("^/tmp/egoi%-nginx") then os.execute("rm -rf " .. shell_quote(dir)) end
end

-- opts.workers (1), opts.env {NAME = value}, opts.extra (config text inside the server block),
-- opts.template (default examples/nginx/nginx.conf), opts.timeout (10 s to come up).
function M.start(opts)
  opts = opts or {}
  local build = M.build_dir()
  if not read_file(build .. "/jit/egoi/core.so") then
    error("no LuaJIT build of egoi.core at " .. build .. "/jit/egoi/core.so (run make, or set BUILD)")
  end
  local tmpl = assert(read_file(opts.template or (M.REPO .. "/examples/nginx/nginx.conf")))
  local f = io.popen("mktemp -d /tmp/egoi-nginx.XXXXXX")
  local prefix = f:read("*l")
  f:close()
  assert(prefix and prefix ~= "", "mktemp failed")
  -- the workers may run as another user (nobody, when the specs run as root):
  -- they need to traverse the prefix; prefix/shared is theirs to write
  os.execute(("mkdir -p %s %s %s && chmod 755 %s && chmod 777 %s"):format(shell_quote(prefix .. "/logs"),
    shell_quote(prefix .. "/tmp"), shell_quote(prefix .. "/shared"), shell_quote(prefix),
    shell_quote(prefix .. "/shared")))
  local port = opts.port or server.free_port()
  local conf = tmpl
    :gsub("@REPO@/examples/nginx/%?%.lua;", "@REPO@/examples/nginx/?.lua;@REPO@/spec/servers/?.lua;", 1)
    :gsub("@PORT@", tostring(port))
    :gsub("@WORKERS@", tostring(opts.workers or 1))
    :gsub("@REPO@", (M.REPO:gsub("%%", "%%%%")))
    :gsub("@BUILD@", (build:gsub("%%", "%%%%")))
    :gsub("#@EXTRA@", ((opts.extra or ""):gsub("%%", "%%%%")))
  write_file(prefix .. "/nginx.conf", conf)

  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. shell_quote(v) end
  local pidfile = prefix .. "/launcher.pid"
  os.execute(("exec env %s nginx -p %s -c nginx.conf -e logs/error.log -g 'daemon off;'"
    .. " >%s 2>&1 </dev/null & echo $! >%s"):format(table.concat(env, " "), shell_quote(prefix),
      shell_quote(prefix .. "/logs/stderr.log"), shell_quote(pidfile)))
  local self = setmetatable({ prefix = prefix, port = port, conf = conf, shared = prefix .. "/shared" }, Nginx)
  self.pid = tonumber((read_file(pidfile) or ""):match("%d+"))
  local deadline = socket.gettime() + (opts.timeout or 10)
  while socket.gettime() < deadline do
    local c = socket.tcp()
    c:settimeout(0.2)
    local ok = c:connect("127.0.0.1", port)
    c:close()
    if ok then
      -- all workers up (the listen socket may answer before the last one forks)
      local want = opts.workers or 1
      local d2 = socket.gettime() + 5
      while #self:worker_pids() < want and socket.gettime() < d2 do socket.sleep(0.05) end
      return self
    end
    if not alive(self.pid) then break end
    socket.sleep(0.05)
  end
  local log = (read_file(prefix .. "/logs/stderr.log") or "") .. self:error_log()
  self:stop()
  error("nginx did not start:\n" .. log)
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
