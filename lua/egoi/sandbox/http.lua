-- egoi.sandbox.http - HTTP/1.1 server side: accept, parse requests (keep-alive,
-- Content-Length or chunked bodies, Expect: 100-continue, body cap), write answers.
--
-- serve(loop, server_sock, handler, opts): handler(req) -> resp
--   req  = { method=, target=, path=, query=, version=, headers={lower=value}, body=, peer= }
--   resp = { status=, headers={ {name, value}, ... }, body=, close=bool }
local loopmod = require "egoi.sandbox.loop"
local connmod = require "egoi.sandbox.conn"

local M = {}

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found", [409] = "Conflict",
  [405] = "Method Not Allowed", [408] = "Request Timeout", [411] = "Length Required", [417] = "Expectation Failed",
  [413] = "Payload Too Large", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [501] = "Not Implemented", [505] = "HTTP Version Not Supported",
}
M.REASONS = REASONS

local MAX_HEADER = 64 * 1024
local MAX_HEADERS = 100

local function render(resp, keep)
  local body = resp.body or ""
  local lines = {
    ("HTTP/1.1 %d %s"):format(resp.status, REASONS[resp.status] or "Status"),
    "Server: egoi-sandbox",
    "Content-Length: " .. #body,
    "Connection: " .. (keep and "keep-alive" or "close"),
  }
  for _, h in ipairs(resp.headers or {}) do lines[#lines + 1] = h[1] .. ": " .. h[2] end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

local function simple(status, text)
  return { status = status, headers = { { "Content-Type", "text/plain; charset=utf-8" } },
           body = text .. "\n", close = true }
end

local function read_chunked(c, max_body, deadline)
  local parts, total = {}, 0
  while true do
    local line, err = c:read_until("\r\n", 1024, deadline)
    if not line then return nil, err == "too long" and 400 or nil end
    local size = tonumber(line:match("^(%x+)"), 16)
    if not size then return nil, 400 end
    if size == 0 then
      -- trailers until empty line
      for _ = 1, MAX_HEADERS do
        local t = c:read_until("\r\n", MAX_HEADER, deadline)
        if not t then return nil end
        if t == "\r\n" then return table.concat(parts) end
      end
      return nil, 400
    end
    total = total + size
    if total > max_body then return nil, 413 end
    local data = c:read(size, deadline)
    if not data then return nil end
    parts[#parts + 1] = data
    if c:read(2, deadline) ~= "\r\n" then return nil, 400 end
  end
end

-- read one request; returns req | nil, resp_or_nil (nil: just close)
local function read_request(c, opts)
  local deadline = loopmod.now() + opts.idle_timeout
  local head, err = c:read_until("\r\n\r\n", MAX_HEADER, deadline)
  if not head then
    if err == "too long" then return nil, simple(431, "request header too large") end
    return nil
  end
  deadline = loopmod.now() + opts.request_timeout
  local lines = {}
  for line in head:gmatch("(.-)\r\n") do lines[#lines + 1] = line end
  while lines[1] == "" do table.remove(lines, 1) end -- tolerate stray CRLF between requests
  local method, target, major, minor = (lines[1] or ""):match("^(%u+) (%S+) HTTP/(%d)%.(%d)$")
  if not method then return nil, simple(400, "malformed request line") end
  if major ~= "1" then return nil, simple(505, "only HTTP/1.x") end
  if #lines > MAX_HEADERS + 1 then return nil, simple(431, "too many header fields") end
  local headers = {}
  for i = 2, #lines do
    if lines[i] ~= "" then
      local name, value = lines[i]:match("^([%w%-!#$%%&'*+.^_`|~]+):%s*(.-)%s*$")
      if not name then return nil, simple(400, "malformed header line") end
      name = name:lower()
      headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
    end
  end
  local req = { method = method, target = target, version = "1." .. minor, headers = headers }
  req.path, req.query = target:match("^([^?]*)%??(.*)$")
  local te = (headers["transfer-encoding"] or ""):lower()
  local cl = headers["content-length"]
  if headers.expect and headers.expect:lower() ~= "100-continue" then
    return nil, simple(417, "unsupported Expect")
  end
  local len
  if te ~= "" then
    if te ~= "chunked" then return nil, simple(501, "unsupported transfer-encoding") end
  elseif cl then
    if not cl:match("^%d+$") then return nil, simple(400, "bad Content-Length") end
    len = tonumber(cl)
    if len > opts.max_body then
      return nil, simple(413, ("request body over the limit of %d bytes"):format(opts.max_body))
    end
  end
  if headers.expect and (len and len > 0 or te ~= "") then
    if not c:send("HTTP/1.1 100 Continue\r\n\r\n", deadline) then return nil end
  end
  if te == "chunked" then
    local body, code = read_chunked(c, opts.max_body, deadline)
    if not body then
      if code == 413 then
        return nil, simple(413, ("request body over the limit of %d bytes"):format(opts.max_body))
      end
      return nil, code and simple(code, "malformed chunked body") or nil
    end
    req.body = body
  elseif len then
    local body = c:read(len, deadline)
    if not body then return nil end
    req.body = body
  else
    req.body = ""
  end
  local conn_h = (headers.connection or ""):lower()
  if req.version == "1.0" then req.keep = conn_h:find("keep%-alive") ~= nil
  else req.keep = not conn_h:find("close") end
  return req
end

local function serve_conn(loop, sock, handler, opts)
  local c = connmod.new(loop, sock)
  local ok_peer, peer = pcall(sock.getpeername, sock)
  for _ = 1, opts.max_requests_per_conn do
    if opts.stopping() then break end
    local req, early = read_request(c, opts)
    if not req then
      if early and c:send(render(early, false), loopmod.now() + 5) then
        c:linger(loopmod.now() + 2, 16 * 1024 * 1024)
      end
      break
    end
    req.peer = ok_peer and peer or "?"
    local ok, resp = pcall(handler, req)
    if not ok or type(resp) ~= "table" then
      opts.log("handler crash: " .. tostring(resp))
      resp = simple(500, "INTERNAL_ERROR")
    end
    local keep = req.keep and not resp.close and not opts.stopping()
    if not c:send(render(resp, keep), loopmod.now() + opts.request_timeout) then break end
    if not keep then break end
  end
  c:close()
end

function M.serve(loop, server, handler, opts)
  server:settimeout(0)
  loop:spawn(function()
    while not opts.stopping() do
      local client = server:accept()
      if client then
        loop:spawn(serve_conn, loop, client, handler, opts)
      else
        loop:wait(server, "r", loopmod.now() + 0.5)
      end
    end
  end)
end

return M
