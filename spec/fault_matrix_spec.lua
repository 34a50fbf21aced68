-- The fault matrix: every fault (spec/servers/faults.py) x every transport
-- (libcurl on the interpreter running this spec; cosockets in a real nginx)
-- x every protocol, each for a read (getLists) and a write (sendEmail; over
-- REST also addSubscriberBulk from a core.form_buffer), after
-- one successful call on a kept-alive connection. For each: the error's kind
-- and code, `retryable`, how many times the server saw the request (reads:
-- as the retry policy says; writes: exactly once, never re-sent below the
-- policy), and that the API key appears nowhere in what the caller gets.
local server = require "helpers.server"
local nginx = require "helpers.nginx"
local runner = require "servers.nginx_faults"
local cjson = require("cjson").new()
local socket_http = require "socket.http"

local KEY = runner.KEY
local RETRIES = 1
local TIMEOUT = 1 -- seconds: every exchange here is on loopback
local TRIES = RETRIES + 1

-- codes a connection that died without an answer may give
local DIED = { RECV_ERROR = true, SEND_ERROR = true, GOT_NOTHING = true }

-- seen = { read = {min, max}, write = n }: requests that reached the server.
-- A read on a kept-alive connection that died without a byte of answer may
-- be sent once more below the policy (libcurl / the resty transport retry a
-- stale connection, for idempotent requests only): max is one more.
local FAULTS = {
  { "refused", kind = "transport", codes = { COULDNT_CONNECT = true }, warm = false,
    retryable = { read = true, write = true }, seen = { read = { 0, 0 }, write = 0 } },
  { "reset_before", kind = "transport", codes = DIED,
    retryable = { read = true, write = false }, seen = { read = { TRIES, TRIES + 1 }, write = 1 } },
  { "reset_after", kind = "transport", codes = DIED,
    retryable = { read = true, write = false }, seen = { read = { TRIES, TRIES + 1 }, write = 1 } },
  { "close_after", kind = "transport", codes = DIED,
    retryable = { read = true, write = false }, seen = { read = { TRIES, TRIES + 1 }, write = 1 } },
  { "stall_before", kind = "transport", codes = { TIMEOUT = true },
    retryable = { read = true, write = false }, seen = { read = { TRIES, TRIES }, write = 1 } },
  { "stall_after", kind = "transport", codes = { TIMEOUT = true },
    retryable = { read = true, write = false }, seen = { read = { TRIES, TRIES }, write = 1 } },
  { "truncated", kind = "transport", codes = { PARTIAL_FILE = true },
    retryable = { read = true, write = false }, seen = { read = { TRIES, TRIES }, write = 1 } },
  { "garbage", kind = "protocol", codes = { MALFORMED_JSON = true, MALFORMED_XML = true },
    retryable = { read = false, write = false }, seen = { read = { 1, 1 }, write = 1 } },
  { "http500", kind = "http", codes = { HTTP_ERROR = true }, http_status = 500,
    retryable = { read = true, write = false }, seen = { read = { TRIES, TRIES }, write = 1 } },
  { "r429", kind = "rate_limit", http_status = 429,
    retryable = { read = true, write = true }, seen = { read = { 1, 1 }, write = 1 } },
  { "r429_bare", kind = "rate_limit", http_status = 429,
    retryable = { read = true, write = true }, seen = { read = { 1, 1 }, write = 1 } },
  { "tls", kind = "transport", codes = { PEER_FAILED_VERIFICATION = true, SSL_CONNECT_ERROR = true },
    warm = false, retryable = { read = true, write = true }, seen = { read = { 0, 0 }, write = 0 } },
}

local PROTOCOLS = { rest = "/v2/rest.php", xmlrpc = "/v2/xmlrpc.php", soap = "/v2/soap.php",
  soap_any = "/v2/soap_any.php" }

local function ctl(srv, path)
  local body, code = socket_http.request(("http://127.0.0.1:%d/_ctl/%s"):format(srv.port, path))
  assert(code == 200, "faults.py control request failed: " .. tostring(code))
  return body
end

local function arm(srv, fault) ctl(srv, "arm?fault=" .. fault) end
local function counts(srv) return cjson.decode(ctl(srv, "count")) end

-- Servers: plain (every fault but refused and tls), TLS with a certificate no
-- client trusts, and a port nobody listens on.
local plain, tls, dir
local function start_servers()
  plain = server.start{ cmd = "python3 spec/servers/faults.py {port}" }
  local f = io.popen("mktemp -d")
  dir = f:read("*l")
  f:close()
  local ok = os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
    .. " -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1"):format(dir, dir))
  assert(ok == true or ok == 0, "openssl could not make a certificate")
  tls = server.start{ cmd = ("python3 spec/servers/faults.py {port} %s/cert.pem %s/key.pem"):format(dir, dir) }
end

local function stop_servers()
  if plain then plain:stop() end
  if tls then tls:stop() end
  if dir then os.execute("rm -rf '" .. dir .. "'") end
end

local function url_for(fault, path)
  if fault == "refused" then return ("http://127.0.0.1:%d%s"):format(server.refused_port(), path) end
  if fault == "tls" then return ("https://127.0.0.1:%d%s"):format(tls.port, path) end
  return plain:url(path)
end

local function check(case, proto, op, out, seen)
  local what = ("%s / %s / %s: %s"):format(case[1], proto, op, cjson.encode(out))
  if op == "bulk" then op = "write" end
  assert.is_false(out.ok, what)
  assert.equal(case.kind, out.kind, what)
  if case.codes then assert.is_true(case.codes[out.code] == true, what) end
  if case.http_status then assert.equal(case.http_status, out.http_status, what) end
  assert.equal(case.retryable[op], out.retryable, what)
  local n = seen.requests
  if op == "write" then
    assert.equal(case.seen.write, n, "server saw the write " .. n .. " times: " .. what)
  else
    local lo, hi = case.seen.read[1], case.seen.read[2]
    assert.is_true(n >= lo and n <= hi, ("server saw the read %d times (want %d..%d): %s"):format(n, lo, hi, what))
  end
  -- the key reached the server (so keeping it out of the output means something) ...
  if case.seen.write > 0 and case[1] ~= "reset_before" then assert.is_true(seen.keys >= 1, what) end
  -- ... and nowhere in what the caller got
  assert.is_nil(cjson.encode(out):find(KEY, 1, true), what)
end

-- one `it` per fault x protocol x read/write (and, over REST, a bulk write
-- whose body is a core.form_buffer); run(case, proto, path, op)
local function each_case(run)
  for _, case in ipairs(FAULTS) do
    for proto, path in pairs(PROTOCOLS) do
      for _, op in ipairs{ "read", "write", proto == "rest" and "bulk" or nil } do
        it(("%s, %s, %s"):format(case[1], proto, op), function() run(case, proto, path, op) end)
      end
    end
  end
end

describe("fault matrix on libcurl (" .. (os.getenv("EGOI_TEST_LUA") or _VERSION) .. ")", function()
  setup(start_servers)
  teardown(stop_servers)

  each_case(function(case, proto, path, op)
    local c = runner.client{ url = url_for(case[1], path), protocol = proto, retries = RETRIES,
      timeout = TIMEOUT }
    if case.warm ~= false then
      arm(plain, "none")
      assert.is_true(runner.outcome(c, "read").ok) -- the connection is now kept alive
    end
    arm(case[1] == "tls" and tls or plain, case[1] == "tls" and "none" or case[1])
    local out = runner.outcome(c, op)
    c:close()
    assert.is_false(out.resty)
    check(case, proto, op, out, counts(case[1] == "tls" and tls or plain))
  end)
end)

-- nginx runs LuaJIT whichever interpreter runs busted: once is enough.
local in_nginx = os.getenv("EGOI_TEST_LUA") ~= "lua5.4"

describe("fault matrix on the cosocket transport (real nginx)", function()
  if not in_nginx then
    it("runs in the LuaJIT pass of spec/run.sh", function()
      pending("nginx runs LuaJIT whichever interpreter runs busted: tested once, in the LuaJIT pass")
    end)
    return
  end
  local ng
  setup(function()
    start_servers()
    ng = nginx.start{ workers = 1,
      extra = "location = /f { content_by_lua_block { require('nginx_faults').run() } }" }
  end)
  teardown(function()
    if ng then ng:stop() end
    stop_servers()
  end)

  local function q(s)
    return (s:gsub("[^%w%-_.~]", function(ch) return ("%%%02X"):format(ch:byte()) end))
  end

  local function call(url, proto, op)
    local st, body = nginx.request(ng.port, "GET", ("/f?url=%s&protocol=%s&op=%s&retries=%d&timeout=%g")
      :format(q(url), proto, op, RETRIES, TIMEOUT))
    assert.equal(200, st, tostring(body) .. "\n" .. ng:error_log():sub(-3000))
    return cjson.decode(body)
  end

  each_case(function(case, proto, path, op)
    local url = url_for(case[1], path)
    if case.warm ~= false then
      arm(plain, "none")
      assert.is_true(call(url, proto, "read").ok) -- leaves a connection in the worker's pool
    end
    arm(case[1] == "tls" and tls or plain, case[1] == "tls" and "none" or case[1])
    local out = call(url, proto, op)
    assert.is_true(out.resty)
    check(case, proto, op, out, counts(case[1] == "tls" and tls or plain))
  end)

  it("keeps the key out of nginx's error log", function()
    assert.is_nil(ng:error_log():find(KEY, 1, true))
  end)
end)
