-- egoi.transport.resty - the transport for code running inside nginx
-- (ngx_lua / OpenResty): HTTP/1.1 over ngx.socket.tcp cosockets, so a call
-- yields to the nginx event loop instead of blocking the worker.
--
--   M.phase_ok(phase)  true for the phases where cosockets and ngx.sleep work
--   M.clock()          ngx.now() after ngx.update_time()
--   M.sleep(s)         ngx.sleep(s) (never a blocking sleep)
--   M.new(opts)        transport object (same interface as egoi.transport.curl):
--     t:request{ verb, url, headers = {Name = value}, body = string|form_buffer|nil,
--                idempotent = bool }
--       -> status, headers, body, info   headers: lower-case names, repeats joined
--                                        with ", "; info: total_time, num_connects,
--                                        content_type, http_version, retry_after
--       -> nil, code, message, sent
--     t:close()
--   M.supports         the egoi.new options this transport honours (others are
--                      refused there: proxy, ca_file)
--
-- The object keeps no socket between calls (idle connections live in the
-- ngx_lua keepalive pool), so one transport may be shared by the concurrent
-- requests of a worker and created in any phase (init_by_lua, init_worker);
-- only request() needs a cosocket phase and answers
-- nil, "UNSUPPORTED_PHASE", message, false elsewhere.
--
-- The HTTP/1.1 exchange is done here (no lua-resty-http): one client whose
-- every path (pooled-connection reuse and stale retry, chunked and
-- read-until-close bodies, caps, TLS failures, sent/not-sent) the specs
-- drive against real nginx.
--
-- Never a second send of a request that is not idempotent: only an
-- idempotent one takes a pooled connection and is tried again when that
-- connection turns out stale (closed without a byte of answer). Any other
-- goes out once, on a connection of its own, which is closed afterwards.
local type, tostring, tonumber, pairs, ipairs, error, setmetatable, rawget, pcall =
  type, tostring, tonumber, pairs, ipairs, error, setmetatable, rawget, pcall
local concat, floor, max = table.concat, math.floor, math.max

local M = {}

M.supports = {
  timeout = true, connect_timeout = true, verify_tls = true, user_agent = true,
  keepalive = true, max_response = true,
}
M.refuses = {
  proxy = "cosockets connect to the server directly",
  ca_file = "inside nginx the trusted CAs come from lua_ssl_trusted_certificate",
}

local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

local function get_ngx()
  return rawget(_G, "ngx")
end

function M.phase_ok(phase)
  return COSOCKET_PHASES[phase] == true
end

local function current_phase()
  local ngx = get_ngx()
  if not ngx or type(ngx.get_phase) ~= "function" then return nil end
  return ngx.get_phase()
end

function M.clock()
  local ngx = get_ngx()
  ngx.update_time()
  return ngx.now()
end

function M.sleep(seconds)
  local ngx = get_ngx()
  local phase = current_phase()
  if not M.phase_ok(phase) then
    -- A blocking sleep would freeze the whole worker; refuse instead.
    error(("egoi: cannot wait %.3fs in the nginx '%s' phase (ngx.sleep needs rewrite, access,"
      .. " content or a timer)"):format(tonumber(seconds) or 0, tostring(phase)), 2)
  end
  if seconds and seconds > 0 then ngx.sleep(seconds) else ngx.sleep(0) end
end

---------------------------------------------------------------------------
-- URL and header helpers

-- parse_url(url) -> scheme, host, port, target | nil
function M.parse_url(url)
  if type(url) ~= "string" then return nil end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil end
  local authority, target = rest:match("^([^/?#]*)(.*)$")
  target = target:gsub("#.*$", "")
  if target == "" then target = "/" elseif target:sub(1, 1) == "?" then target = "/" .. target end
  if authority:find("@", 1, true) then return nil end -- no userinfo
  local host, port
  if authority:sub(1, 1) == "[" then
    host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  else
    host, port = authority:match("^([^:]+):?(%d*)$")
  end
  if not host or host == "" then return nil end
  port = tonumber(port ~= "" and port or (scheme == "https" and "443" or "80"))
  if not port or port < 1 or port > 65535 then return nil end
  return scheme, host, port, target
end

local function header_ok(s)
  return not s:find("[\r\n%z]")
end

-- headers given as {Name = "value"} and/or {"Name: value", ...}; bad input raises
-- (a usage error, like the C transport).
local function header_lines(headers, out)
  if headers == nil then return out end
  if type(headers) ~= "table" then
    error("resty transport: argument 'headers' must be a table or nil", 3)
  end
  for k, v in pairs(headers) do
    if type(v) ~= "string" then error("resty transport: header values must be strings", 3) end
    if not header_ok(v) then error("resty transport: header contains CR, LF or NUL", 3) end
    if type(k) == "string" then
      if k == "" or not header_ok(k) or k:find("[: \t]") then
        error("resty transport: bad header name", 3)
      end
      out[#out + 1] = k .. ": " .. v
    elseif type(k) == "number" then
      if not v:find(":", 1, true) then error("resty transport: bad header line", 3) end
      out[#out + 1] = v
    else
      error("resty transport: bad header name", 3)
    end
  end
  return out
end

local function has_header(lines, name)
  name = name:lower()
  for _, l in ipairs(lines) do
    local n = l:match("^([^:]+):")
    if n and n:lower() == name then return true end
  end
  return false
end

-- Retry-After: delta-seconds or an HTTP date.
local function retry_after(v)
  if v == nil then return nil end
  v = tostring(v)
  local n = tonumber(v:match("^%s*(%d+)%s*$"))
  if n then return n end
  local ngx = get_ngx()
  local t = ngx and ngx.parse_http_time and ngx.parse_http_time(v)
  if t then return max(0, t - ngx.time()) end
  return nil
end

local function classify_connect(err)
  err = tostring(err)
  if err:find("timeout", 1, true) then return "TIMEOUT" end
  if err:find("resolve", 1, true) or err:find("resolver", 1, true) then return "COULDNT_RESOLVE_HOST" end
  return "COULDNT_CONNECT"
end

local function classify_handshake(err)
  err = tostring(err)
  if err:find("timeout", 1, true) then return "TIMEOUT" end
  if err:find("verify", 1, true) or err:find("certificate", 1, true) then return "PEER_FAILED_VERIFICATION" end
  return "SSL_CONNECT_ERROR"
end

---------------------------------------------------------------------------
-- the built-in HTTP/1.1 client

local Transport = {}
Transport.__index = Transport

local MAX_HEADER_BYTES = 64 * 1024
local MAX_HEADERS = 200

-- Short-lived per-exchange state.
local function remaining_ms(ex)
  local ngx = get_ngx()
  ngx.update_time()
  return floor((ex.deadline - ngx.now()) * 1000)
end

-- receive with the total deadline enforced
local function recv(ex, pattern)
  local left = remaining_ms(ex)
  if left <= 0 then return nil, "timeout" end
  ex.sock:settimeout(left < ex.read_ms and left or ex.read_ms)
  return ex.sock:receive(pattern)
end

local function recv_any(ex, n)
  local left = remaining_ms(ex)
  if left <= 0 then return nil, "timeout" end
  ex.sock:settimeout(left < ex.read_ms and left or ex.read_ms)
  return ex.sock:receiveany(n)
end

local function recv_fail(err, what, got_any)
  err = tostring(err)
  if err == "timeout" then return "TIMEOUT", "timed out reading the " .. what end
  if err == "closed" then
    if not got_any then return "GOT_NOTHING", "the server closed the connection without answering" end
    return "PARTIAL_FILE", "the connection closed in the middle of the " .. what
  end
  return "RECV_ERROR", "receive failed (" .. what .. "): " .. err
end

-- read_head(ex) -> status, version, headers(lower-case name -> value) | nil, code, message
local function read_head(ex)
  local got_any = false
  while true do
    local line, err = recv(ex, "*l")
    if not line then
      local code, msg = recv_fail(err, "status line", got_any)
      return nil, code, msg
    end
    got_any = true
    local version, status = line:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not version then
      return nil, "WEIRD_SERVER_REPLY", "the answer does not start with an HTTP/1.x status line"
    end
    status = tonumber(status)
    local headers, bytes, count, last = {}, #line, 0, nil
    while true do
      local h, herr = recv(ex, "*l")
      if not h then
        local code, msg = recv_fail(herr, "response headers", true)
        return nil, code, msg
      end
      if h == "" then break end
      bytes = bytes + #h + 2
      count = count + 1
      if bytes > MAX_HEADER_BYTES or count > MAX_HEADERS then
        return nil, "RESPONSE_TOO_LARGE", "the response headers are too large"
      end
      local name, value = h:match("^([^:%s]+)%s*:%s*(.-)%s*$")
      if name then
        name = name:lower()
        if headers[name] then headers[name] = headers[name] .. ", " .. value else headers[name] = value end
        last = name
      elseif last and h:find("^[ \t]") then
        -- an obsolete folded continuation: joined with a space (RFC 9112 5.2)
        headers[last] = headers[last] .. " " .. h:match("^%s*(.-)%s*$")
      end
    end
    if status >= 200 or status == 101 then return status, version, headers end
    -- 1xx (100 Continue, 103 Early Hints): another head follows
  end
end

local function read_chunked(ex)
  local parts, total = {}, 0
  for _ = 1, 10000000 do
    local line, err = recv(ex, "*l")
    if not line then
      local code, msg = recv_fail(err, "chunked body", true)
      return nil, code, msg
    end
    local size = tonumber(line:match("^%s*(%x+)"), 16)
    if not size then return nil, "RECV_ERROR", "bad chunk size line in the response" end
    if size == 0 then
      -- trailers up to the empty line
      for _ = 1, MAX_HEADERS do
        local t, terr = recv(ex, "*l")
        if not t then
          local code, msg = recv_fail(terr, "chunked trailer", true)
          return nil, code, msg
        end
        if t == "" then return concat(parts) end
      end
      return nil, "RESPONSE_TOO_LARGE", "too many trailer lines"
    end
    total = total + size
    if total > ex.max_response then
      return nil, "RESPONSE_TOO_LARGE", ("the response body exceeds %d bytes"):format(ex.max_response)
    end
    local data, derr = recv(ex, size)
    if not data then
      local code, msg = recv_fail(derr, "chunked body", true)
      return nil, code, msg
    end
    parts[#parts + 1] = data
    local crlf, cerr = recv(ex, 2)
    if not crlf then
      local code, msg = recv_fail(cerr, "chunked body", true)
      return nil, code, msg
    end
    if crlf ~= "\r\n" then return nil, "RECV_ERROR", "bad chunk terminator in the response" end
  end
  return nil, "RECV_ERROR", "too many chunks"
end

local function read_to_close(ex)
  local parts, total = {}, 0
  for _ = 1, 10000000 do
    local data, err = recv_any(ex, 65536)
    if not data then
      if err == "closed" then return concat(parts) end
      local code, msg = recv_fail(err, "response body", true)
      return nil, code, msg
    end
    total = total + #data
    if total > ex.max_response then
      return nil, "RESPONSE_TOO_LARGE", ("the response body exceeds %d bytes"):format(ex.max_response)
    end
    parts[#parts + 1] = data
  end
  return nil, "RECV_ERROR", "response body never ended"
end

-- read_body(ex, status, headers) -> body, reusable | nil, code, message
local function read_body(ex, status, headers)
  if ex.method == "HEAD" or status == 204 or status == 304 or (status >= 100 and status < 200) then
    return "", true
  end
  local te = headers["transfer-encoding"]
  if te and te:lower():find("chunked", 1, true) then
    local body, code, msg = read_chunked(ex)
    if not body then return nil, code, msg end
    return body, true
  end
  local cl = headers["content-length"]
  if cl then
    local n = tonumber(cl:match("^%s*(%d+)%s*$"))
    if not n then return nil, "WEIRD_SERVER_REPLY", "bad Content-Length in the response" end
    if n > ex.max_response then
      return nil, "RESPONSE_TOO_LARGE", ("the response body (%d bytes) exceeds %d bytes"):format(n, ex.max_response)
    end
    if n == 0 then return "", true end
    local body, err = recv(ex, n)
    if not body then
      local code, msg = recv_fail(err, "response body", true)
      return nil, code, msg
    end
    return body, true
  end
  local body, code, msg = read_to_close(ex)
  if not body then return nil, code, msg end
  return body, false
end

local function wants_close(version, headers)
  local c = (headers["connection"] or ""):lower()
  if c:find("close", 1, true) then return true end
  if version == "1.0" and not c:find("keep-alive", 1, true) then return true end
  return false
end

-- One attempt on one connection.
-- -> status, headers, body, info | nil, code, message, sent, retry_stale
local function exchange(self, u, head_lines, body, verb, pooled)
  local ngx = get_ngx()
  local sock, serr = ngx.socket.tcp()
  if not sock then return nil, "FAILED_INIT", "cannot create a cosocket: " .. tostring(serr), false end
  local ex = {
    sock = sock, max_response = self.max_response, method = verb,
    read_ms = self.read_ms,
  }
  ngx.update_time()
  local t0 = ngx.now()
  ex.deadline = t0 + self.timeout
  local connect_ms = self.connect_ms
  if connect_ms > self.timeout * 1000 then connect_ms = floor(self.timeout * 1000) end
  sock:settimeouts(connect_ms, self.send_ms, self.read_ms)

  -- a request sent once gets a pool name no idle connection is ever kept
  -- under: always a fresh connection, closed afterwards
  local pool = ("egoi:%s:%s:%d:%s%s"):format(u.scheme, u.host, u.port,
    u.scheme == "https" and (self.verify_tls and "v" or "nv") or "-", pooled and "" or ":once")
  local ok, err = sock:connect(u.host, u.port, { pool = pool })
  if not ok then
    return nil, classify_connect(err), ("cannot connect to %s:%d: %s"):format(u.host, u.port, tostring(err)), false
  end
  local reused = sock:getreusedtimes() or 0
  if u.scheme == "https" and reused == 0 then
    -- lua-resty-core may raise ("assertion failed!") instead of returning
    -- when a handshake fails verification without yielding (seen with
    -- Debian's nginx 1.22 ngx_lua): a failed handshake all the same
    local hok, sess, herr = pcall(sock.sslhandshake, sock, nil, u.host, self.verify_tls)
    if not hok then sess, herr = nil, sess end
    if not sess then
      sock:close()
      return nil, classify_handshake(herr), ("TLS handshake with %s failed: %s"):format(u.host, tostring(herr)), false
    end
  end

  local bytes, werr = sock:send(body and { head_lines, body } or head_lines)
  if not bytes then
    sock:close()
    if tostring(werr) == "timeout" then
      return nil, "TIMEOUT", "timed out sending the request", true, false
    end
    return nil, "SEND_ERROR", "send failed: " .. tostring(werr), true, reused > 0
  end

  local status, version, headers = read_head(ex)
  if not status then
    local code, msg = version, headers
    sock:close()
    -- A pooled connection the server had already closed: nothing was read.
    return nil, code, msg, true, reused > 0 and code == "GOT_NOTHING"
  end
  local rbody, reusable_or_code, msg = read_body(ex, status, headers)
  if not rbody then
    sock:close()
    return nil, reusable_or_code, msg, true, false
  end
  if pooled and self.keepalive and reusable_or_code and not wants_close(version, headers) then
    sock:setkeepalive(self.keepalive_timeout, self.pool_size)
  else
    sock:close()
  end
  ngx.update_time()
  return status, headers, rbody, {
    total_time = ngx.now() - t0,
    num_connects = reused == 0 and 1 or 0,
    content_type = headers["content-type"],
    http_version = version,
    retry_after = retry_after(headers["retry-after"]),
  }
end

local function build_head(self, u, verb, body, headers, pooled)
  local lines = {}
  header_lines(headers, lines)
  local default_port = (u.scheme == "https" and 443 or 80)
  local host = u.host:find(":", 1, true) and ("[" .. u.host .. "]") or u.host
  if u.port ~= default_port then host = host .. ":" .. u.port end
  local out = { verb .. " " .. u.target .. " HTTP/1.1", "Host: " .. host }
  if not has_header(lines, "user-agent") then out[#out + 1] = "User-Agent: " .. self.user_agent end
  if not has_header(lines, "accept") then out[#out + 1] = "Accept: */*" end
  if body or (verb ~= "GET" and verb ~= "DELETE") then
    if body and not has_header(lines, "content-type") then
      out[#out + 1] = "Content-Type: application/x-www-form-urlencoded" -- as libcurl does
    end
    out[#out + 1] = "Content-Length: " .. (body and #body or 0)
  end
  if not (self.keepalive and pooled) then out[#out + 1] = "Connection: close" end
  for _, l in ipairs(lines) do
    local n = l:match("^([^:]+):"):lower()
    if n ~= "host" and n ~= "content-length" and n ~= "transfer-encoding" then out[#out + 1] = l end
  end
  out[#out + 1] = ""
  out[#out + 1] = ""
  return concat(out, "\r\n")
end

local function unsupported(phase)
  return nil, "UNSUPPORTED_PHASE",
    ("the resty transport needs cosockets, which nginx does not allow in the '%s' phase"
      .. " (use rewrite/access/content_by_lua or ngx.timer.at)"):format(tostring(phase)), false
end

local function request_builtin(self, url, verb, body, headers, idempotent)
  local scheme, host, port, target = M.parse_url(url)
  if not scheme then
    return nil, "URL_MALFORMAT", "unsupported or malformed URL (http:// or https:// expected)", false
  end
  local u = { scheme = scheme, host = host, port = port, target = target }
  local head = build_head(self, u, verb, body, headers, idempotent)
  -- A pooled connection may have been closed by the server just before we
  -- used it; that attempt got nothing back, and only an idempotent request
  -- uses the pool, so try it again (at most twice). Nothing else is re-sent:
  -- "got nothing back" never proves the server did not act on a request.
  local st, a, b, c, stale
  for _ = 1, idempotent and 3 or 1 do
    st, a, b, c, stale = exchange(self, u, head, body, verb, idempotent)
    if st or not stale then break end
  end
  if st then return st, a, b, c end
  return nil, a, b, c
end

---------------------------------------------------------------------------

local VERBS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true }

-- t:request{ verb, url, headers, body, idempotent } (see the top of the file)
function Transport:request(req)
  if type(req) ~= "table" then
    error("resty transport: argument 'req' must be a request table", 2)
  end
  local url, body, verb, idempotent = req.url, req.body, req.verb, req.idempotent
  if type(url) ~= "string" then
    error("resty transport: field 'url' must be a string", 2)
  end
  if body ~= nil and type(body) ~= "string" then
    -- a core.form_buffer (bulk): cosockets need its bytes as a string
    if type(body) ~= "userdata" or not pcall(function() body = body:string() end) then
      error("resty transport: field 'body' must be a string, a form_buffer or nil", 2)
    end
  end
  if verb == nil then verb = body and "POST" or "GET" end
  if not VERBS[verb] then
    error("resty transport: field 'verb' must be GET, POST, PUT, PATCH or DELETE", 2)
  end
  if body and verb == "GET" then error("resty transport: a GET request has no body", 2) end
  if idempotent == nil then
    idempotent = verb == "GET" -- unless told, only a GET may be sent twice
  elseif type(idempotent) ~= "boolean" then
    error("resty transport: field 'idempotent' must be a boolean or nil", 2)
  end
  if req.headers ~= nil and type(req.headers) ~= "table" then
    error("resty transport: field 'headers' must be a table or nil", 2)
  end
  if self.closed then
    return nil, "CLOSED", "the transport is closed", false
  end
  local phase = current_phase()
  if not M.phase_ok(phase) then return unsupported(phase) end
  return request_builtin(self, url, verb, body, req.headers, idempotent)
end

-- Nothing is held between calls (idle connections belong to the nginx pool).
function Transport:close()
  self.closed = true
end

local function opt_number(opts, name, default)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v <= 0 then
    error(("egoi.transport.resty.new: option '%s' must be a positive number"):format(name), 3)
  end
  return v
end

function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("egoi.transport.resty.new: argument 'opts' must be a table or nil", 2)
  end
  local timeout = opt_number(opts, "timeout", 30)
  local connect_timeout = opt_number(opts, "connect_timeout", 10)
  local self = setmetatable({
    timeout = timeout,
    connect_ms = floor(connect_timeout * 1000),
    send_ms = floor(timeout * 1000),
    read_ms = floor(timeout * 1000),
    verify_tls = opts.verify_tls ~= false,
    user_agent = type(opts.user_agent) == "string" and opts.user_agent or "lua-egoi",
    keepalive = opts.keepalive ~= false,
    keepalive_timeout = floor(opt_number(opts, "keepalive_timeout", 60) * 1000),
    pool_size = floor(opt_number(opts, "pool_size", 16)),
    max_response = floor(opt_number(opts, "max_response", 64 * 1024 * 1024)),
    closed = false,
  }, Transport)
  if not header_ok(self.user_agent) then
    error("egoi.transport.resty.new: option 'user_agent' contains CR, LF or NUL", 2)
  end
  return self
end

M.Transport = Transport
return M
