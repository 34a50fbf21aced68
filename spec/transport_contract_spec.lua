-- The transport contract (doc/ARCHITECTURE.md "Transports"), the same
-- scenario (spec/servers/transport_contract.lua) on the libcurl transport
-- and on the cosocket transport inside a real nginx: request tables with any
-- of the five verbs, every response header (lower-case names, repeats joined
-- with ", "), the failure contract, a connection of its own for a request
-- that is not idempotent, a core.form_buffer body.
local server = require "helpers.server"
local nginx = require "helpers.nginx"
local scenario = require "servers.transport_contract"
local cjson = require("cjson").new()
local egoi = require "egoi"

local function check(r)
  assert.equal(200, r.get.status)
  assert.equal("GET", r.get.verb)
  assert.equal("a=1, b=2", r.get.cookies)
  assert.equal("one two", r.get.folded)
  assert.equal("v", r.get.seen_test)
  assert.is_truthy(r.get.content_type:find("application/json", 1, true))
  assert.is_false(r.get.upper_names)
  assert.is_truthy(r.get.body:find("Egoi_Api", 1, true))
  -- idempotent requests share a kept-alive connection ...
  assert.equal(r.get.connection, r.get_again.connection)
  -- ... a request that is not gets one of its own (never a reused one)
  assert.equal("POST", r.post_once.verb)
  assert.is_true(r.post_once.connection > r.get_again.connection)
  assert.is_truthy(r.get_after.connection)
  for _, verb in ipairs{ "PUT", "PATCH", "DELETE" } do
    local v = verb:lower()
    assert.equal(verb, r[v].verb, v)
    assert.equal(3, r[v].body_length, v)
    assert.equal(verb, r[v .. "_empty"].verb, v)
    assert.equal(0, r[v .. "_empty"].body_length, v)
  end
  assert.equal("POST", r.post_empty.verb)
  assert.equal(0, r.post_empty.body_length)
  assert.equal("POST", r.buffer.verb)
  assert.equal(#"method=getLists&type=json", r.buffer.body_length)
  assert.is_truthy(r.buffer.body:find("getLists", 1, true))
  assert.equal("POST", r.typed.verb)
  assert.equal("COULDNT_CONNECT", r.refused.code)
  assert.equal("string", type(r.refused.message))
  assert.is_false(r.refused.sent)
end

describe("transport contract", function()
  local srv
  setup(function() srv = server.start{ cmd = "python3 spec/servers/faults.py {port}" } end)
  teardown(function() if srv then srv:stop() end end)

  it("holds on the libcurl transport", function()
    local t = require("egoi.transport.curl").new{ timeout = 5, connect_timeout = 5 }
    local r = scenario.run(t, srv:url(""), ("http://127.0.0.1:%d/"):format(server.refused_port()))
    t:close()
    check(r)
  end)

  it("holds on the cosocket transport inside nginx", function()
    if os.getenv("EGOI_TEST_LUA") == "lua5.4" then
      return pending("nginx runs LuaJIT: tested in the LuaJIT pass of spec/run.sh")
    end
    local ng = nginx.start{ workers = 1, extra = [[
      location = /contract { content_by_lua_block {
        local t = require("egoi.transport.resty").new{ timeout = 5, connect_timeout = 5 }
        local a = ngx.req.get_uri_args()
        ngx.print(require("cjson").encode(require("transport_contract").run(t, a.base, a.refused)))
      } }]] }
    local st, body = nginx.request(ng.port, "GET", ("/contract?base=%s&refused=%s"):format(
      srv:url(""):gsub(":", "%%3A"), ("http://127.0.0.1:%d/"):format(server.refused_port()):gsub(":", "%%3A")))
    ng:stop()
    assert.equal(200, st, body)
    check(cjson.decode(body))
  end)

  it("refuses at egoi.new an option the transport cannot honour", function()
    for _, name in ipairs{ "proxy", "ca_file" } do
      local ok, err = pcall(egoi.new, { apikey = "k", transport = "resty", [name] = "x", rate_limit = false })
      assert.is_false(ok)
      assert.equal("usage", err.kind)
      assert.is_truthy(err.message:find("'" .. name .. "' is not supported by the resty transport", 1, true))
    end
    -- the libcurl transport honours both
    egoi.new{ apikey = "k", proxy = "http://127.0.0.1:1", ca_file = "/nonexistent", rate_limit = false }:close()
    -- a transport object is configured on its own: such options cannot reach it
    local ok, err = pcall(egoi.new, { apikey = "k", transport = { request = print }, keepalive = false,
      rate_limit = false })
    assert.is_false(ok)
    assert.is_truthy(err.message:find("'keepalive' cannot reach a transport object", 1, true))
  end)
end)
