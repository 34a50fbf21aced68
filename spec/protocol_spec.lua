-- Protocols as plug-ins (lua/egoi/protocol/): the client pipeline knows no
-- protocol, a new one is a module registered in egoi.protocol, and each
-- protocol shapes its results once, into the neutral shape.
local server = require "helpers.server"
local egoi = require "egoi"
local core = require "egoi.core"
local protocols = require "egoi.protocol"
local xmlrpc = require "egoi.protocol.xmlrpc"
local rest = require "egoi.protocol.rest"

local KEY = "0123456789abcdef0123456789abcdef01234567"

-- a context as the client makes one (a key of our own)
local ctx = {
  url = "http://127.0.0.1:1/",
  json_decode = core.json_decode,
  arguments = function(o)
    local a = {}
    for k, v in pairs(o) do a[k] = v end
    a.apikey = KEY
    return a
  end,
  scrub = function(s) return (s:gsub(KEY, "<apikey>")) end,
  snippet = function(s) return (s:gsub(KEY, "<apikey>")) end,
}

describe("protocol registry", function()
  it("holds rest, soap, soap_any and xmlrpc, each with build and parse", function()
    assert.same({ "rest", "soap", "soap_any", "xmlrpc" }, protocols.names())
    for _, name in ipairs(protocols.names()) do
      local p = protocols[name]
      assert.equal(name, p.name)
      assert.is_function(p.build)
      assert.is_function(p.parse)
      assert.is_truthy(p.default_url:match("^https://api%.e%-goi%.com/v2/"))
    end
  end)

  it("leaves no protocol branch in the client pipeline", function()
    local src = assert(server.read_file("lua/egoi/client.lua"))
    for _, bad in ipairs{ "protocol ==", "protocol ~=", '"rest"', '"xmlrpc"', "_native_body",
      "form_request", "xmlrpc_request", "xmlrpc_response", "Egoi_Api" } do
      assert.is_nil(src:find(bad, 1, true), "client.lua still has " .. bad)
    end
  end)

  it("names the registered protocols when refusing another", function()
    local ok, err = pcall(egoi.new, { apikey = "k", protocol = "soap12", rate_limit = false })
    assert.is_false(ok)
    assert.equal("usage", err.kind)
    assert.is_truthy(err.message:find('"rest", "soap", "soap_any", "xmlrpc"', 1, true))
    ok = pcall(egoi.new, { apikey = "k", protocol = "names", rate_limit = false })
    assert.is_false(ok)
  end)

  it("builds request tables: verb, url, headers, body with the key", function()
    local r = assert(rest.build(ctx, "getLists", { a = 1 }, nil))
    assert.equal("POST", r.verb)
    assert.equal(ctx.url, r.url)
    assert.equal("application/x-www-form-urlencoded", r.headers["Content-Type"])
    assert.is_truthy(r.body:find("functionOptions[apikey]=" .. KEY, 1, true))
    local x = assert(xmlrpc.build(ctx, "getLists", { a = 1 }, nil))
    assert.equal("POST", x.verb)
    assert.equal("text/xml", x.headers["Content-Type"])
    assert.is_truthy(x.body:find("<methodName>getLists</methodName>", 1, true))
    -- a body packed by the caller goes through untouched (no copy, no re-encoding)
    local fb = assert(rest.body_buffer(ctx, "addSubscriberBulk", { listID = 1 }))
    assert.equal(fb, rest.build(ctx, "addSubscriberBulk", nil, nil, fb).body)
    assert.is_nil(xmlrpc.body_buffer)
    -- an argument that cannot be encoded: a usage error with the key scrubbed
    local bad, err = rest.build(ctx, "m", { f = print })
    assert.is_nil(bad)
    assert.equal("usage", err.kind)
  end)
end)

describe("XML-RPC results in the neutral shape, shaped once", function()
  local function parse(value)
    local body = "<?xml version=\"1.0\"?><methodResponse><params><param><value>" .. value
      .. "</value></param></params></methodResponse>"
    return xmlrpc.parse(ctx, { status = 200, headers = {}, body = body })
  end
  local function member(name, v) return "<member><name>" .. name .. "</name><value>" .. v .. "</value></member>" end
  local function struct(...) return "<struct>" .. table.concat({ ... }) .. "</struct>" end
  local function s(v) return "<string>" .. v .. "</string>" end

  it("makes id-keyed structs key_<id> maps and 0..n-1 ids lists", function()
    assert.same({ key_5 = { a = "x" }, key_9 = { a = "y" } },
      parse(struct(member("5", struct(member("a", s("x")))), member("9", struct(member("a", s("y")))))))
    assert.same({ { a = "x" }, { a = "y" } },
      parse(struct(member("1", struct(member("a", s("y")))), member("0", struct(member("a", s("x")))))))
    assert.same({ key_05 = "a" }, parse(struct(member("05", s("a")))))
    assert.same({ "a", "b" }, parse(struct(member("key_0", s("a")), member("key_1", s("b")))))
    assert.same({ x = { key_3 = "c" } }, parse(struct(member("x", struct(member("3", s("c")))))))
  end)

  it("keeps scalars as the service sent them; empty nested values are \"\"", function()
    assert.same({ response = "OK" }, parse(s("OK")))
    assert.same({ n = "5", b = "1", e = "", l = "" },
      parse(struct(member("n", "<int>5</int>"), member("b", "<boolean>1</boolean>"),
        member("e", "<array><data></data></array>"), member("l", "<struct></struct>"))))
    assert.same({}, parse("<struct></struct>"))
    assert.same({ { a = "1" }, "z" }, parse("<array><data><value>" .. struct(member("a", s("1")))
      .. "</value><value>" .. s("z") .. "</value></data></array>"))
  end)

  it("reports a fault and a malformed answer as protocol errors, key scrubbed", function()
    local v, err = xmlrpc.parse(ctx, { status = 200, body = "<?xml version=\"1.0\"?><methodResponse><fault><value>"
      .. struct(member("faultCode", "<int>4</int>"), member("faultString", s("bad " .. KEY)))
      .. "</value></fault></methodResponse>" })
    assert.is_nil(v)
    assert.equal("XMLRPC_FAULT", err.code)
    assert.is_nil(err.message:find(KEY, 1, true))
    v, err = xmlrpc.parse(ctx, { status = 200, body = "<html>" })
    assert.is_nil(v)
    assert.equal("protocol", err.kind)
  end)
end)

describe("a fifth protocol", function()
  local srv
  setup(function() srv = server.start{ cmd = "python3 spec/servers/faults.py {port}" } end)
  teardown(function()
    protocols.toy = nil
    srv:stop()
  end)

  it("plugs in as a module with build and parse, through the whole pipeline", function()
    -- GET with the method in the query; the answer's headers are the value
    local seen = {}
    protocols.toy = {
      name = "toy", default_url = "http://127.0.0.1:1/",
      build = function(c, method, options)
        seen.args = c.arguments(options)
        return { verb = "GET", url = c.url .. "?m=" .. method, headers = { ["X-Call"] = method } }
      end,
      parse = function(_, response, method)
        if method == "fail" then return { ERROR = "NO_DATA" } end
        if response.status == 500 then
          return nil, { kind = "protocol", code = "TOY_FAULT", message = "toy fault", answered = true }
        end
        return { verb = response.headers["x-verb"], call = response.headers["x-seen-call"],
          status = response.status }
      end,
    }
    local c = egoi.new{ apikey = KEY, protocol = "toy", url = srv:url("/x"), rate_limit = false,
      retries = 0 }
    assert.equal("egoi client (toy, " .. srv:url("/x") .. ")", tostring(c))
    assert.same({ verb = "GET", call = "getLists", status = 200 }, c:call("getLists", { a = 1 }))
    assert.equal(KEY, seen.args.apikey)
    assert.equal(1, seen.args.a)
    -- business errors and the error mode come from the pipeline, not the protocol
    local ok, err = pcall(c.call, c, "fail")
    assert.is_false(ok)
    assert.equal("api", err.kind)
    assert.equal("NO_DATA", err.code)
    -- the protocol's own error answer on HTTP 500 (a fault) is reported as such
    assert(require("socket.http").request(srv:url("/_ctl/arm?fault=http500")))
    ok, err = pcall(c.call, c, "getLists")
    assert.is_false(ok)
    assert.equal("TOY_FAULT", err.code)
    assert.equal(500, err.http_status)
    assert.is_true(err.retryable) -- a read answered with a 5xx may succeed when repeated
    assert(require("socket.http").request(srv:url("/_ctl/arm?fault=none")))
    -- no body_buffer: refused by name
    ok, err = pcall(c.body_buffer, c, "addSubscriberBulk", {})
    assert.is_false(ok)
    assert.is_truthy(err.message:find("needs a protocol with a form body", 1, true))
    c:close()
  end)
end)
