-- spec/transport_spec.lua - egoi.core.http_client against real loopback
-- servers (spec/servers/misbehave.py, plain and TLS).
local core = require "egoi.core"
local server = require "helpers.server"
local cjson = require "cjson"
local socket = require "socket"

local unpack = table.unpack or unpack -- luacheck: ignore

local SECRET = "apikey=0123456789abcdef0123456789abcdef01234567"

-- c:request{url, body, headers} in the positional shape most of these cases
-- were written for: status, body, info, headers | nil, code, message, sent
local function call(c, url, body, ctype, headers, idempotent)
  local h = {}
  for k, v in pairs(headers or {}) do h[k] = v end
  if ctype then h["Content-Type"] = ctype end
  local st, a, b, d = c:request{ url = url, body = body, headers = h, idempotent = idempotent }
  if st == nil then return st, a, b, d end
  return st, b, d, a
end

local function start_misbehave(extra)
  return server.start{
    cmd = "python3 spec/servers/misbehave.py {port}" .. (extra or ""),
  }
end

-- Server counters, read over a fresh connection (it counts as one).
local function stats(srv)
  local c = core.http_client{ keepalive = false, timeout = 10 }
  local status, body = call(c, srv:url("/stats"))
  c:close()
  assert(status == 200, "stats failed")
  return cjson.decode(body)
end

local function refute_secret(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "string" then
      assert.is_nil(v:find(SECRET, 1, true), "a result leaks the request body")
    end
  end
end

describe("egoi.core errors", function()
  it("names the libcurl codes a client meets", function()
    local names = {
      [1] = "UNSUPPORTED_PROTOCOL", [3] = "URL_MALFORMAT", [5] = "COULDNT_RESOLVE_PROXY",
      [6] = "COULDNT_RESOLVE_HOST", [7] = "COULDNT_CONNECT", [18] = "PARTIAL_FILE",
      [23] = "WRITE_ERROR", [27] = "OUT_OF_MEMORY", [28] = "TIMEOUT", [35] = "SSL_CONNECT_ERROR",
      [42] = "ABORTED_BY_CALLBACK", [47] = "TOO_MANY_REDIRECTS", [52] = "GOT_NOTHING",
      [55] = "SEND_ERROR", [56] = "RECV_ERROR", [60] = "PEER_FAILED_VERIFICATION",
      [61] = "BAD_CONTENT_ENCODING", [77] = "SSL_CACERT_BADFILE",
    }
    for n, name in pairs(names) do
      assert.are.equal(name, core.curl_code_name(n))
    end
  end)

  it("numbers the codes it has no name for", function()
    assert.are.equal("CURL_20", core.curl_code_name(20))
    assert.are.equal("CURL_129", core.curl_code_name(129))
    assert.are.equal("CURL_UNKNOWN", core.curl_code_name(5000))
    assert.has_error(function() core.curl_code_name("x") end)
    assert.has_error(function() core.curl_code_name(1.5) end)
  end)
end)

describe("egoi.core.http_client", function()
  local srv

  lazy_setup(function()
    srv = start_misbehave()
  end)

  lazy_teardown(function()
    if srv then srv:stop() end
  end)

  it("reports the libcurl version", function()
    local full, short = core.curl_version()
    assert.is_truthy(full:match("^libcurl/%d+%.%d+"))
    assert.is_truthy(short:match("^%d+%.%d+%.%d+"))
  end)

  describe("successful exchanges", function()
    local c
    before_each(function() c = core.http_client{ timeout = 10 } end)
    after_each(function() c:close() end)

    it("GETs with the default User-Agent and gzip accepted, no body", function()
      local status, body, info = call(c, srv:url("/headers"))
      assert.are.equal(200, status)
      if math.type then assert.are.equal("integer", math.type(status)) end
      local seen = cjson.decode(body)
      assert.are.equal("GET", seen.method)
      assert.are.equal(0, seen.body_length)
      local _, short = core.curl_version()
      assert.are.equal(("lua-egoi/%s libcurl/%s"):format(core._VERSION, short), seen.headers["user-agent"])
      assert.is_truthy(seen.headers["user-agent"]:match("^lua%-egoi/%d+%.%d+%.%d+ libcurl/%d+%.%d+%.%d+$"))
      assert.is_truthy(seen.headers["accept-encoding"]:find("gzip", 1, true))
      assert.are.equal("table", type(info))
      assert.are.equal("number", type(info.total_time))
      assert.is_true(info.total_time >= 0)
      assert.are.equal(1, info.num_connects)
      assert.are.equal("application/json", info.content_type)
      assert.are.equal("1.1", info.http_version)
    end)

    it("answers the /ok JSON", function()
      local status, body = call(c, srv:url("/ok"))
      assert.are.equal(200, status)
      assert.are.same({ Egoi_Api = { getLists = { key_0 = { listnum = "1" }, status = "success" } } },
        cjson.decode(body))
    end)

    it("POSTs the body with the given Content-Type and no Expect header", function()
      local status, body = call(c, srv:url("/headers"), SECRET, "application/x-www-form-urlencoded")
      assert.are.equal(200, status)
      local seen = cjson.decode(body)
      assert.are.equal("POST", seen.method)
      assert.are.equal(#SECRET, seen.body_length)
      assert.are.equal("application/x-www-form-urlencoded", seen.headers["content-type"])
      assert.is_nil(seen.headers["expect"])
    end)

    it("POSTs text/xml as given", function()
      local xml = "<?xml version=\"1.0\"?><methodCall><methodName>getLists</methodName></methodCall>"
      local _, body = call(c, srv:url("/headers"), xml, "text/xml")
      assert.are.equal("text/xml", cjson.decode(body).headers["content-type"])
      local _, echoed = call(c, srv:url("/echo"), xml, "text/xml")
      assert.are.equal(xml, echoed)
    end)

    it("sends bodies byte-identical, NUL bytes included", function()
      local bytes = {}
      for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
      local body = table.concat(bytes) .. "\0\0a=b&c=\0"
      local status, echoed = call(c, srv:url("/echo"), body, "application/octet-stream")
      assert.are.equal(200, status)
      assert.are.equal(#body, #echoed)
      assert.are.equal(body, echoed)
    end)

    it("sends a 3 MB body byte-identical without a 100-continue stall", function()
      local parts = {}
      for i = 1, 3 * 1024 do parts[i] = ("%04d"):format(i % 10000) .. ("\0"):rep(1020) end
      local body = table.concat(parts)
      assert.is_true(#body > 3000000)
      local status, echoed, info = call(c, srv:url("/echo"), body, "application/octet-stream")
      assert.are.equal(200, status)
      assert.are.equal(#body, #echoed)
      assert.is_true(body == echoed)
      assert.are.equal("application/octet-stream", info.content_type)
      local _, seen = call(c, srv:url("/headers"), body, "application/octet-stream")
      seen = cjson.decode(seen)
      assert.are.equal(#body, seen.body_length)
      assert.is_nil(seen.headers["expect"])
    end)

    it("POSTs an empty body as a POST", function()
      local _, body = call(c, srv:url("/headers"), "", "application/x-www-form-urlencoded")
      local seen = cjson.decode(body)
      assert.are.equal("POST", seen.method)
      assert.are.equal(0, seen.body_length)
    end)

    it("goes back to GET after a POST", function()
      call(c, srv:url("/echo"), "a=1", "application/x-www-form-urlencoded")
      local _, body = call(c, srv:url("/headers"))
      local seen = cjson.decode(body)
      assert.are.equal("GET", seen.method)
      assert.are.equal(0, seen.body_length)
    end)

    it("sends extra headers given as a map or as lines", function()
      local _, body = call(c, srv:url("/headers"), nil, nil, { ["X-Test"] = "one", "X-Other: two" })
      local seen = cjson.decode(body)
      assert.are.equal("one", seen.headers["x-test"])
      assert.are.equal("two", seen.headers["x-other"])
      -- and they do not stick to the next request
      _, body = call(c, srv:url("/headers"))
      assert.is_nil(cjson.decode(body).headers["x-test"])
    end)

    it("refuses header injection", function()
      assert.has_error(function()
        call(c, srv:url("/ok"), nil, nil, { ["X-Test"] = "a\r\nX-Evil: 1" })
      end)
      assert.has_error(function()
        call(c, srv:url("/ok"), "x", "text/plain\r\nX-Evil: 1")
      end)
      assert.has_error(function() call(c, srv:url("/ok"), nil, nil, { ["Bad Name"] = "v" }) end)
      -- still usable afterwards
      assert.are.equal(200, (call(c, srv:url("/ok"))))
    end)

    it("returns a non-JSON body as-is", function()
      local status, body = call(c, srv:url("/garbage"))
      assert.are.equal(200, status)
      assert.are.equal("<html>\0\255 not json {{{", body)
    end)

    it("returns HTTP 500 with its body", function()
      local status, body, info = call(c, srv:url("/500"))
      assert.are.equal(500, status)
      assert.are.equal("internal server error", body)
      assert.are.equal("text/plain", info.content_type)
    end)

    it("decodes a gzip body", function()
      local status, body = call(c, srv:url("/gzip"))
      assert.are.equal(200, status)
      assert.are.equal("success", cjson.decode(body).Egoi_Api.getLists.status)
    end)

    it("does not follow redirects", function()
      local status, body = call(c, srv:url("/redirect"), "a=1", "application/x-www-form-urlencoded")
      assert.are.equal(302, status)
      assert.are.equal("moved", body)
    end)

    it("returns a large body below max_response", function()
      local n = 5 * 1024 * 1024 + 3
      local status, body = call(c, srv:url("/big?n=" .. n))
      assert.are.equal(200, status)
      assert.are.equal(n, #body)
      assert.are.equal(("x"):rep(16), body:sub(-16))
      -- the buffer is reused / released correctly across calls
      local _, small = call(c, srv:url("/echo"), "tiny", "text/plain")
      assert.are.equal("tiny", small)
    end)
  end)

  describe("connection reuse", function()
    it("makes one TCP connection for 50 requests", function()
      local before = stats(srv)
      local c = core.http_client{ timeout = 10 }
      local connects = 0
      for i = 1, 50 do
        local status, _, info = call(c, srv:url("/ok"), i % 2 == 0 and "n=" .. i or nil,
          i % 2 == 0 and "application/x-www-form-urlencoded" or nil, nil, true)
        assert.are.equal(200, status)
        assert.are.equal(i == 1 and 1 or 0, info.num_connects)
        connects = connects + info.num_connects
      end
      c:close()
      local after = stats(srv)
      assert.are.equal(1, connects)
      -- +1 for the client, +1 for the connection that asked for `after`
      assert.are.equal(2, after.connections - before.connections)
      assert.are.equal(50, after.requests - before.requests)
    end)

    it("opens a connection per request with keepalive = false", function()
      local before = stats(srv)
      local c = core.http_client{ timeout = 10, keepalive = false }
      for _ = 1, 5 do
        local status, _, info = call(c, srv:url("/ok"))
        assert.are.equal(200, status)
        assert.are.equal(1, info.num_connects)
      end
      c:close()
      local after = stats(srv)
      assert.are.equal(6, after.connections - before.connections)
    end)
  end)

  describe("failures", function()
    it("reports a refused connection as COULDNT_CONNECT, not sent", function()
      local c = core.http_client{ timeout = 5 }
      local port = server.refused_port()
      local r = { call(c, ("http://127.0.0.1:%d/v2/rest.php"):format(port), SECRET,
        "application/x-www-form-urlencoded") }
      assert.is_nil(r[1])
      assert.are.equal("COULDNT_CONNECT", r[2])
      assert.are.equal("string", type(r[3]))
      assert.is_false(r[4])
      refute_secret(unpack(r, 1, 4))
      c:close()
    end)

    it("times out on a server that never answers: TIMEOUT, sent", function()
      local c = core.http_client{ timeout = 0.5 }
      local r = { call(c, srv:url("/hang"), SECRET, "application/x-www-form-urlencoded") }
      assert.is_nil(r[1])
      assert.are.equal("TIMEOUT", r[2])
      assert.is_truthy(r[3]:lower():find("timed out", 1, true))
      assert.is_true(r[4])
      refute_secret(r[2], r[3])
      -- the same client works afterwards
      assert.are.equal(200, (call(c, srv:url("/ok"))))
      c:close()
    end)

    it("times out connecting (full accept queue on loopback): TIMEOUT, not sent", function()
      -- A listener whose accept queue is full drops new SYNs, so connect()
      -- hangs; nothing ever leaves 127.0.0.0/8.
      local lsock = assert(socket.tcp())
      assert(lsock:bind("127.0.0.1", 0))
      assert(lsock:listen(0))
      local _, port = lsock:getsockname()
      local fill, full = {}, false
      for _ = 1, 16 do
        local k = socket.tcp()
        k:settimeout(0.3)
        local ok = k:connect("127.0.0.1", port)
        fill[#fill + 1] = k
        if not ok then full = true break end
      end
      local c = core.http_client{ timeout = 10, connect_timeout = 0.5 }
      -- a completed request first: the counters must be per request
      assert.are.equal(200, (call(c, srv:url("/ok"), "a=1", "text/plain")))
      local r = full and { call(c, ("http://127.0.0.1:%s/"):format(port), SECRET, "text/plain") }
      c:close()
      for _, k in ipairs(fill) do k:close() end
      lsock:close()
      if not full then
        pending("could not fill the accept queue on this kernel; connect timeout not tested")
        return
      end
      assert.is_nil(r[1])
      assert.are.equal("TIMEOUT", r[2])
      assert.is_false(r[4])
    end)

    it("reports a truncated body as PARTIAL_FILE", function()
      local c = core.http_client{ timeout = 5 }
      local ok, code, msg, sent = call(c, srv:url("/truncated"))
      assert.is_nil(ok)
      assert.are.equal("PARTIAL_FILE", code)
      assert.are.equal("string", type(msg))
      assert.is_true(sent)
      c:close()
    end)

    it("reports a closed connection without answer as GOT_NOTHING", function()
      local c = core.http_client{ timeout = 5 }
      assert.are.equal(200, (call(c, srv:url("/ok")))) -- also on a reused connection
      local ok, code, _, sent = call(c, srv:url("/close"), SECRET, "text/plain")
      assert.is_nil(ok)
      assert.are.equal("GOT_NOTHING", code)
      assert.is_true(sent)
      c:close()
    end)

    it("aborts a body over max_response: RESPONSE_TOO_LARGE", function()
      local c = core.http_client{ timeout = 10, max_response = 1024 * 1024 }
      -- announced by Content-Length
      local ok, code, msg, sent = call(c, srv:url("/big?n=" .. (2 * 1024 * 1024)))
      assert.is_nil(ok)
      assert.are.equal("RESPONSE_TOO_LARGE", code)
      assert.is_truthy(msg:find("max_response", 1, true))
      assert.is_true(sent)
      -- only discovered while decoding (gzip of 2 MB of zeros is small)
      ok, code = call(c, srv:url("/gzip?n=" .. (2 * 1024 * 1024)))
      assert.is_nil(ok)
      assert.are.equal("RESPONSE_TOO_LARGE", code)
      -- exactly at the limit is fine
      local status, body = call(c, srv:url("/big?n=" .. (1024 * 1024)))
      assert.are.equal(200, status)
      assert.are.equal(1024 * 1024, #body)
      c:close()
    end)

    it("reports malformed and unsupported URLs, not sent", function()
      local c = core.http_client{ timeout = 5 }
      for _, url in ipairs{ "", "http://", "not a url", "http://127.0.0.1:99999/" } do
        local ok, code, _, sent = call(c, url, SECRET)
        assert.is_nil(ok)
        assert.are.equal("URL_MALFORMAT", code)
        assert.is_false(sent)
      end
      local ok, code, _, sent = call(c, "ftp://127.0.0.1:1/")
      assert.is_nil(ok)
      assert.are.equal("UNSUPPORTED_PROTOCOL", code)
      assert.is_false(sent)
      c:close()
    end)
  end)

  describe("options", function()
    it("accepts every documented option and no options at all", function()
      local c = core.http_client{
        timeout = 1.5, connect_timeout = 0.25, verify_tls = false, ca_file = "/nonexistent.pem",
        proxy = false, user_agent = "custom-agent/1", keepalive = true, max_response = 4096,
      }
      local status, body = call(c, srv:url("/headers"))
      assert.are.equal(200, status)
      assert.are.equal("custom-agent/1", cjson.decode(body).headers["user-agent"])
      c:close()
      core.http_client():close()
      core.http_client{}:close()
    end)

    it("sends the User-Agent to a proxy: in its CONNECT and in a plain request", function()
      local proxy = server.start{ cmd = "python3 spec/servers/connect_proxy.py {port}" }
      local c = core.http_client{ proxy = proxy:url(""), user_agent = "via-proxy/1", timeout = 5 }
      local st = call(c, "https://example.invalid/v2/rest.php", "a=1", "application/x-www-form-urlencoded")
      assert.is_nil(st) -- the proxy refuses the tunnel
      local status = call(c, "http://example.invalid/v2/rest.php", "a=1", "application/x-www-form-urlencoded")
      assert.are.equal(403, status)
      c:close()
      local log = proxy:log()
      proxy:stop()
      local connect, plain = log:match("(CONNECT .-)\n%-%-\n(POST .-)\n%-%-\n") -- after the readiness probe
      assert(connect and plain, log)
      assert.matches("\nUser%-Agent: via%-proxy/1\r", connect)
      assert.matches("\nUser%-Agent: via%-proxy/1\r", plain)
      local _, n = plain:gsub("\nUser%-Agent:", "")
      assert.are.equal(1, n) -- once, not once per header list
      assert.is_nil(connect:find("Accept-Encoding", 1, true)) -- the server's headers stay off the CONNECT
    end)

    it("names the option in type errors", function()
      local bad = {
        { { timeout = "30" }, "option 'timeout' must be a positive number" },
        { { timeout = 0 }, "option 'timeout' must be a positive number" },
        { { timeout = -1 }, "option 'timeout' must be a positive number" },
        { { connect_timeout = true }, "option 'connect_timeout' must be a positive number" },
        { { verify_tls = "no" }, "option 'verify_tls' must be a boolean" },
        { { keepalive = 1 }, "option 'keepalive' must be a boolean" },
        { { ca_file = 1 }, "option 'ca_file' must be a string" },
        { { user_agent = {} }, "option 'user_agent' must be a string" },
        { { proxy = true }, "option 'proxy' must be a string or false" },
        { { max_response = 1.5 }, "option 'max_response' must be a positive integer" },
        { { max_response = 0 }, "option 'max_response' must be a positive integer" },
        { { timout = 1 }, "unknown option 'timout'" },
      }
      for _, case in ipairs(bad) do
        local ok, err = pcall(core.http_client, case[1])
        assert.is_false(ok)
        assert.is_truthy(tostring(err):find("http_client: " .. case[2], 1, true), tostring(err))
      end
      assert.has_error(function() core.http_client("x") end)
    end)

    it("checks request arguments", function()
      local c = core.http_client()
      assert.has_error(function() c:request() end)
      assert.has_error(function() c:request(srv:url("/ok")) end)
      assert.has_error(function() c:request{} end)
      assert.has_error(function() c:request{ url = srv:url("/ok"), body = {} } end)
      assert.has_error(function() c:request{ url = srv:url("/ok"), verb = "HEAD" } end)
      assert.has_error(function() c:request{ url = srv:url("/ok"), verb = "get" } end)
      assert.has_error(function() c:request{ url = srv:url("/ok"), body = "x", verb = "GET" } end)
      assert.has_error(function() c:request{ url = srv:url("/ok"), headers = "X-Test: 1" } end)
      assert.has_error(function() c:request{ url = srv:url("/ok"), idempotent = "yes" } end)
      assert.has_error(function() c:request{ url = srv:url("/ok"), headers = { ["X-T"] = 1 } } end)
      assert.has_error(function() c.request({}, { url = srv:url("/ok") }) end)
      c:close()
    end)
  end)

  describe("lifecycle", function()
    it("closes idempotently and refuses requests afterwards", function()
      local c = core.http_client()
      assert.are.equal("egoi.core.http_client (open)", tostring(c))
      assert.are.equal(200, (call(c, srv:url("/ok"), SECRET, "text/plain")))
      assert.are.equal("egoi.core.http_client (open)", tostring(c))
      c:close()
      c:close()
      assert.are.equal("egoi.core.http_client (closed)", tostring(c))
      local ok, err = pcall(c.request, c, srv:url("/ok"))
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("http_client is closed", 1, true))
      c = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
    end)

    it("is collected without close", function()
      for _ = 1, 20 do
        local c = core.http_client()
        call(c, srv:url("/ok"))
      end
      collectgarbage()
      collectgarbage()
    end)

    it("protects its metatable", function()
      assert.are.equal("locked", getmetatable(core.http_client()))
    end)

    if _VERSION == "Lua 5.4" then
      it("closes as a to-be-closed variable", function()
        local chunk = assert(load([[
          local core = ...
          local kept
          do
            local c <close> = core.http_client()
            kept = c
          end
          return tostring(kept)
        ]]))
        assert.are.equal("egoi.core.http_client (closed)", chunk(core))
      end)
    end
  end)
end)

describe("egoi.core.http_client over TLS", function()
  local srv, dir, cert

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    cert = dir .. "/cert.pem"
    local key = dir .. "/key.pem"
    local ok = os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 " ..
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1"):format(key, cert))
    if ok == true or ok == 0 then
      srv = start_misbehave((" %s %s"):format(cert, key))
    end
  end)

  lazy_teardown(function()
    if srv then srv:stop() end
    if dir then os.execute("rm -rf " .. dir) end
  end)

  local function https(path)
    return ("https://127.0.0.1:%d%s"):format(srv.port, path)
  end

  it("verifies certificates by default", function()
    if not srv then return pending("openssl CLI unavailable: TLS not tested") end
    local c = core.http_client{ timeout = 10 }
    local ok, code, msg, sent = call(c, https("/ok"), SECRET, "text/plain")
    assert.is_nil(ok)
    assert.are.equal("PEER_FAILED_VERIFICATION", code)
    assert.are.equal("string", type(msg))
    assert.is_false(sent)
    c:close()
  end)

  it("trusts a ca_file", function()
    if not srv then return pending("openssl CLI unavailable: TLS not tested") end
    local c = core.http_client{ timeout = 10, ca_file = cert }
    for i = 1, 3 do
      local status, body, info = call(c, https("/echo"), SECRET, "text/plain", nil, true)
      assert.are.equal(200, status)
      assert.are.equal(SECRET, body)
      assert.are.equal(i == 1 and 1 or 0, info.num_connects)
    end
    c:close()
  end)

  it("skips verification with verify_tls = false", function()
    if not srv then return pending("openssl CLI unavailable: TLS not tested") end
    local c = core.http_client{ timeout = 10, verify_tls = false }
    assert.are.equal(200, (call(c, https("/ok"))))
    c:close()
  end)

  it("reports an unreadable ca_file", function()
    if not srv then return pending("openssl CLI unavailable: TLS not tested") end
    local c = core.http_client{ timeout = 10, ca_file = dir .. "/missing.pem" }
    local ok, code, _, sent = call(c, https("/ok"))
    assert.is_nil(ok)
    assert.are.equal("SSL_CACERT_BADFILE", code)
    assert.is_false(sent)
    c:close()
  end)
end)
