-- egoi.sandbox.outbound - asynchronous HTTP POST from a loop task (callbacks).
local socket = require "socket"
local loopmod = require "egoi.sandbox.loop"
local connmod = require "egoi.sandbox.conn"

local M = {}

function M.parse_url(url)
  local host, port, path = tostring(url):match("^http://([%w%.%-]+):?(%d*)(/?[^#]*)$")
  if not host then return nil end
  port = tonumber(port ~= "" and port or "80")
  if path == "" then path = "/" end
  return host, port, path
end

-- post(loop, url, body, content_type, timeout) -> status | nil, err   (call inside a task)
function M.post(loop, url, body, content_type, timeout)
  local host, port, path = M.parse_url(url)
  if not host then return nil, "unsupported URL (only http://)" end
  local deadline = loopmod.now() + timeout
  local ip = host
  if not host:match("^%d+%.%d+%.%d+%.%d+$") then
    local addr = socket.dns.toip(host)
    if not addr then return nil, "cannot resolve " .. host end
    ip = addr
  end
  local sock = socket.tcp()
  sock:settimeout(0)
  local ok, err = sock:connect(ip, port)
  if not ok and err ~= "timeout" and err ~= "Operation already in progress" then
    sock:close()
    return nil, err
  end
  if not ok then
    if loop:wait(sock, "w", deadline) == "timeout" then sock:close(); return nil, "connect timeout" end
    if not sock:getpeername() then sock:close(); return nil, "connection refused" end
  end
  local c = connmod.new(loop, sock)
  local req = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: egoi-sandbox\r\nContent-Type: %s\r\n"
    .. "Content-Length: %d\r\nConnection: close\r\n\r\n%s"):format(path, host, port, content_type, #body, body)
  local sent, serr = c:send(req, deadline)
  if not sent then c:close(); return nil, serr end
  local line, rerr = c:read_until("\r\n", 8192, deadline)
  c:close()
  if not line then return nil, rerr end
  local status = tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
  if not status then return nil, "bad response" end
  return status
end

return M
