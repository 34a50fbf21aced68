-- The SOAP protocols of the client (egoi.protocol.soap / soap_any), judged by
-- PHP itself: the request bytes against PHP SoapClient's own envelope for the
-- same arguments, and whole calls against a PHP SoapServer stand-in of the
-- service (spec/servers/soap_standin.php) on both endpoints, serving the WSDLs
-- the project generates. (The sandbox as the server: spec/conformance_spec.lua.)
local server = require "helpers.server"
local egoi = require "egoi"
local core = require "egoi.core"
local cjson = require("cjson").new()

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local dir
local function wsdl_dir()
  if dir then return dir end
  dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 700 " .. dir))
  for _, ep in ipairs{ "soap", "soap_any" } do
    local out, ok = sh(("bin/egoi-sandbox --print-wsdl %s > %s/%s.wsdl"):format(ep, dir, ep))
    assert(ok, out)
  end
  return dir
end

teardown(function()
  if dir then os.execute("rm -rf " .. dir) end
end)

describe("SOAP requests, byte for byte as PHP SoapClient writes them", function()
  local calls = {
    { op = "getLists", args = { apikey = KEY } },
    { op = "addSubscriber", args = { apikey = KEY, listID = "1", email = "ana+test@example.com", first_name = "Ana",
      status = 1, extra_7 = "Lisboa", tags = { 12, 15 }, validate_email = "0" } },
    { op = "addSubscriberBulk", args = { apikey = KEY, listID = 1, compareField = "email", operation = "2",
      subscribers = { { email = "a@example.com", first_name = "A", status = 1 },
                      { email = "b@example.com", status = 4, extra_7 = "Porto" } }, tags = { "12" } } },
    { op = "editSubscriber", args = { apikey = KEY, name = "Zé & <Co> \"q\" 'a'\tb\nc\rd", flag = true, off = false,
      ratio = 0.5, neg = -3, big = 5000000000, nested = { ["5"] = "x", ["12"] = { 1, { 2, 3 } }, b = {} },
      mixed = { 1, "a", true } } },
    { op = "check_status" },
  }
  for _, ep in ipairs{ "soap", "soap_any" } do
    it("on " .. ep .. ".php", function()
      local input = os.tmpname()
      write(input, cjson.encode(calls))
      local out, ok = sh(("php spec/servers/soap_php_request.php %s/%s.wsdl < %s"):format(wsdl_dir(), ep, input))
      os.remove(input)
      assert(ok, out)
      local want = cjson.decode(out)
      local proto = require("egoi.protocol." .. ep)
      for i, call in ipairs(calls) do
        local ctx = { url = "http://127.0.0.1:1/v2/" .. ep .. ".php", scrub = function(s) return s end,
          arguments = function(o) return o end }
        local req = assert(proto.build(ctx, call.op, call.args, nil))
        assert.equal(want[i].request, req.body, call.op)
        assert.equal('"' .. want[i].action .. '"', req.headers.SOAPAction)
        assert.equal("text/xml; charset=utf-8", req.headers["Content-Type"])
        assert.equal("POST", req.verb)
      end
    end)
  end

  it("refuses what XML cannot carry, naming the argument", function()
    local bad = {
      { { apikey = "k", name = "caf\233" }, "invalid UTF%-8 in string %(byte 4%) at name" },
      { { apikey = "k", x = { y = "a\1b" } }, "control character 0x01 in string .* at x%.y" },
      { { apikey = "k", f = 0 / 0 }, "NaN" },
      { { apikey = "k", f = print }, "cannot encode a function" },
      { { apikey = "k", [5] = "a", ["5"] = "b" }, "duplicate Map key" },
    }
    for _, case in ipairs(bad) do
      local ok, err = pcall(core.soap_request, "urn:x", "op", case[1])
      assert.is_false(ok)
      assert.matches(case[2], err)
    end
    local deep = {}
    local t = deep
    for _ = 1, 40 do t.x = {}; t = t.x end
    assert.matches("deeper than 32", select(2, pcall(core.soap_request, "urn:x", "op", deep)))
    assert.matches("operation name", select(2, pcall(core.soap_request, "urn:x", "a b", {})))
  end)
end)

describe("the client against a PHP SoapServer stand-in", function()
  local S, log
  setup(function()
    log = wsdl_dir() .. "/calls.log"
    S = server.start{ cmd = "php -S 127.0.0.1:{port} spec/servers/soap_standin.php",
                      env = { EGOI_STANDIN_WSDL_DIR = wsdl_dir(), EGOI_STANDIN_LOG = log } }
  end)
  teardown(function()
    if S then S:stop() end
  end)

  local function logged(ep, method)
    local seen
    for _, l in ipairs(server.read_lines(log)) do
      local e = cjson.decode(l)
      if e.endpoint == ep and e.method == method then seen = e.args end
    end
    return seen
  end

  for _, ep in ipairs{ "soap", "soap_any" } do
    describe("on " .. ep .. ".php", function()
      local c
      before_each(function()
        c = egoi.new{ apikey = KEY, protocol = ep, url = S:url("/v2/" .. ep .. ".php"), rate_limit = false,
          retries = 0 }
      end)
      after_each(function() c:close() end)

      it("reads lists of Maps into the neutral shape", function()
        -- the raw call: the protocol's neutral shape (the resource method reshapes fields)
        local lists = c:call("getLists")
        assert.equal(2, #lists)
        assert.equal("Newsletter", lists[1].title)
        assert.equal("Clientes ção", lists[2].title)
        assert.same({ { id = "1", ref = "cidade", listnum = "1", opcoes = "" } }, lists[1].extra_fields)
        assert.equal("", lists[2].extra_fields) -- a nested empty list, as REST gives it
        assert.same({ apikey = KEY }, logged(ep, "getLists"))
      end)

      it("sends typed arguments PHP decodes with their keys and types", function()
        local r = c.subscribers:add{ listID = 3, email = "ana@example.com", first_name = "Ana", status = 1,
          tags = { 12, 15 } }
        assert.same({ UID = "a1b2c3d4e5", LIST = "3", EMAIL = "ana@example.com", FIRST_NAME = "Ana", STATUS = "1" }, r)
        local args = logged(ep, "addSubscriber")
        assert.same({ 12, 15 }, args.tags)
        assert.equal(1, args.status)
        assert.equal(3, args.listID)
        assert.equal(KEY, args.apikey)
        assert.same(r, c:call("addSubscriber", { listID = "3", email = "ana@example.com", first_name = "Ana" }))
      end)

      it("turns ERROR maps and bare error strings into api errors, success strings into results", function()
        local ok, err = pcall(c.subscribers.add, c.subscribers, { listID = 3, email = "taken@example.com" })
        assert.is_false(ok)
        assert.equal("api", err.kind)
        assert.equal("EMAIL_ALREADY_EXISTS", err.code)
        assert.same({ response = "OK" }, c.subscribers:remove{ listID = 3, subscriber = "x@example.com" })
        local bad = egoi.new{ apikey = "ffffffffffffffffffffffffffffffffffffffff", protocol = ep,
          url = S:url("/v2/" .. ep .. ".php"), rate_limit = false, retries = 0 }
        ok, err = pcall(bad.lists.all, bad.lists)
        bad:close()
        assert.is_false(ok)
        assert.equal("api", err.kind)
        assert.equal("INVALID", err.code)
      end)

      it("keeps scalars as the strings the service sent (floats too)", function()
        assert.same({ CLIENTE_ID = "1", COMPANY_NAME = "Sandbox Lda", CREDITS = "100.5" }, c.account:client_data())
        assert.equal("sandbox", c.account:user_data().USERNAME)
      end)

      it("reports a SOAP Fault (HTTP 500) as a protocol error with faultcode/faultstring", function()
        local ok, err = pcall(c.account.credits, c.account)
        assert.is_false(ok)
        assert.equal("protocol", err.kind)
        assert.equal("SOAP_FAULT", err.code)
        assert.equal(500, err.http_status)
        assert.same({ faultcode = "SOAP-ENV:Server", faultstring = "INTERNAL_ERROR", version = "1.1" }, err.detail)
        assert.matches("SOAP fault SOAP%-ENV:Server: INTERNAL_ERROR", err.message)
        assert.is_nil(tostring(err):find(KEY, 1, true))
      end)

      it("says the packed bulk body is REST-only", function()
        local c2 = egoi.new{ apikey = KEY, protocol = ep, url = S:url("/v2/" .. ep .. ".php"), rate_limit = false,
          raise = false }
        local fb, err = c2:body_buffer("addSubscriberBulk", { listID = 3 })
        c2:close()
        assert.is_nil(fb)
        assert.equal("usage", err.kind)
        assert.matches("REST%-only", err.message)
      end)
    end)
  end
end)

describe("the CLI's --protocol", function()
  local lua = os.getenv("EGOI_TEST_LUA") or "lua5.4"
  local build = lua == "luajit" and "build/jit" or "build/5.4"
  local function egoi_cli(args)
    local cmd = "env -u EGOI_APIKEY LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/?.so;;' %s bin/egoi %s 2>&1"
    return (sh(cmd:format(build, lua, args) .. "; echo rc=$?"))
  end

  it("speaks soap and soap_any to the same answers as rest", function()
    local function run(args)
      local out = egoi_cli(args)
      assert.matches("rc=0\n$", out)
      return cjson.decode(out:match("^(.-)\nrc=0\n$"))
    end
    local want = run("--sandbox --json call getUserData")
    assert.equal("sandbox", want.USERNAME)
    for _, p in ipairs{ "soap", "soap_any" } do
      assert.same(want, run("--sandbox --protocol " .. p .. " --json call getUserData"))
      assert.same(want, run("--protocol=" .. p .. " --sandbox --json call getUserData"))
    end
  end)

  it("refuses an unknown protocol and a missing value with a usage error", function()
    local out = egoi_cli("--protocol soap12 lists")
    assert.matches("%-%-protocol must be one of rest, soap, soap_any, xmlrpc", out)
    assert.matches("rc=2", out)
    assert.matches("rc=2", egoi_cli("lists --protocol"))
  end)
end)

describe("the SOAP protocols against the sandbox", function()
  local sb
  setup(function() sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0" } end)
  teardown(function() sb:stop() end)

  for _, ep in ipairs{ "soap", "soap_any" } do
    it("calls an operation without parts, answers an unknown one with a SOAP fault (" .. ep .. ")", function()
      local c = egoi.new{ apikey = KEY, protocol = ep, url = sb:url("/v2/" .. ep .. ".php"), rate_limit = false,
        raise = false, retries = 0 }
      assert.same({ response = "1" }, c:call("check_status", {}))
      assert.same({ APIKEY_VALID = "1", USER_ID = "1", USERNAME = "sandbox" }, c:call("checklogin", {}))
      local r, err = c:call("fooBar", {})
      c:close()
      assert.is_nil(r)
      assert.equal("protocol", err.kind)
      assert.equal("SOAP_FAULT", err.code)
      assert.equal(500, err.http_status)
      assert.same({ faultcode = "SOAP-ENV:Server", faultstring = "Procedure 'fooBar' not present", version = "1.1" },
        err.detail)
    end)
  end
end)

describe("SOAP answers the client cannot use", function()
  local proto = require "egoi.protocol.soap"
  local ctx = { url = "http://127.0.0.1:1/v2/soap.php",
    scrub = function(s) return (s:gsub(KEY, "<apikey>")) end,
    snippet = function(s) return (s:gsub(KEY, "<apikey>")):sub(1, 200) end }

  it("scrubs the key from a fault that echoes it", function()
    local body = '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault><faultcode>'
      .. "e:Client</faultcode><faultstring>bad key " .. KEY .. "</faultstring></e:Fault></e:Body></e:Envelope>"
    local v, err = proto.parse(ctx, { status = 500, headers = {}, body = body })
    assert.is_nil(v)
    assert.is_true(err.answered)
    assert.equal("SOAP_FAULT", err.code)
    assert.equal("bad key <apikey>", err.detail.faultstring)
    assert.is_nil(err.message:find(KEY, 1, true))
  end)

  it("reports an empty or unreadable answer as a protocol error", function()
    local _, err = proto.parse(ctx, { status = 200, headers = {}, body = "" })
    assert.equal("UNEXPECTED_RESPONSE", err.code)
    _, err = proto.parse(ctx, { status = 200, headers = {}, body = "<html>" .. KEY .. "</html>" })
    assert.equal("MALFORMED_XML", err.code)
    assert.equal("protocol", err.kind)
    assert.is_nil(err.message:find(KEY, 1, true))
  end)
end)
