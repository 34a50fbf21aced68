-- One scenario (create list, fields, subscribers, bulk, campaign, send,
-- report, errors) over every protocol the client speaks (REST, XML-RPC,
-- SOAP, universal SOAP), each against a fresh sandbox with the same seed:
-- the results must be identical, whichever protocol carried them.
local server = require "helpers.server"
local egoi = require "egoi"
local protocols = require "egoi.protocol"
local scenario = require "servers.conformance_scenario"
local nginx = require "helpers.nginx"
local cjson = require("cjson").new()

local KEY = "0123456789abcdef0123456789abcdef01234567"
local PATHS = { rest = "/v2/rest.php", xmlrpc = "/v2/xmlrpc.php", soap = "/v2/soap.php", soap_any = "/v2/soap_any.php" }

local function run_curl(proto, seed)
  local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --seed " .. seed .. " --rate-limit 0" }
  local c = egoi.new{ apikey = KEY, protocol = proto, url = sb:url(PATHS[proto]), rate_limit = false, retries = 0 }
  local ok, out = pcall(scenario.run, c)
  c:close()
  sb:stop()
  assert(ok, proto .. ": " .. tostring(out))
  return scenario.strip_dates(out)
end

describe("conformance: one scenario over every protocol against the sandbox", function()
  it("gives the same results inside nginx (resty transport) over soap and soap_any as over REST", function()
    local want = run_curl("rest", 13)
    local ng = nginx.start{ workers = 1, extra = [[
      location = /conformance { content_by_lua_block {
        local a = ngx.req.get_uri_args()
        local c = require("egoi").new{ apikey = "]] .. KEY .. [[", protocol = a.protocol, url = a.url,
          transport = "resty", rate_limit = false, retries = 0 }
        local ok, out = pcall(require("conformance_scenario").run, c)
        c:close()
        ngx.print(require("cjson").encode({ ok = ok, out = ok and out or tostring(out) }))
      } }]] }
    local ok, err = pcall(function()
      for _, proto in ipairs{ "soap", "soap_any" } do
        local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --seed 13 --rate-limit 0" }
        local st, body = nginx.request(ng.port, "GET", ("/conformance?protocol=%s&url=%s"):format(proto,
          sb:url(PATHS[proto]):gsub(":", "%%3A"):gsub("/", "%%2F")), nil, nil, 60)
        sb:stop()
        assert.equal(200, st, body)
        local res = cjson.decode(body)
        assert(res.ok, tostring(res.out) .. "\n" .. ng:error_log())
        local got = scenario.strip_dates(res.out)
        for k, v in pairs(want) do assert.same(v, got[k], proto .. " in nginx: " .. k) end
      end
    end)
    local log = ng:error_log()
    ng:stop()
    assert(ok, tostring(err))
    assert.is_nil(log:find("[error]", 1, true), log)
  end)

  it("gives identical results over rest, xmlrpc, soap and soap_any", function()
    local names = protocols.names()
    assert.same({ "rest", "soap", "soap_any", "xmlrpc" }, names)
    local results = {}
    for _, proto in ipairs(names) do
      local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --seed 11 --rate-limit 0" }
      local c = egoi.new{ apikey = KEY, protocol = proto, url = sb:url(PATHS[proto]), rate_limit = false,
        retries = 0 }
      local ok, out = pcall(scenario.run, c)
      c:close()
      sb:stop()
      assert(ok, proto .. ": " .. tostring(out))
      results[proto] = scenario.strip_dates(out)
    end
    local rest = results.rest
    -- the scenario did what it says (so "identical" is not identical failures)
    assert.is_string(rest.list.LIST_ID)
    assert.is_string(rest.sub.UID)
    assert.equal("Ána & <Co>", rest.sub.FIRST_NAME)
    assert.is_true(#rest.lists >= 1)
    assert.same({ error = "api", code = "SUBSCRIBER_ALREADY_REMOVED" }, rest.removed_again)
    assert.same({ error = "api", code = "EMAIL_ALREADY_EXISTS" }, rest.duplicate)
    assert.same({ error = "api", code = "LIST_NOT_FOUND" }, rest.no_list)
    assert.same({ error = "api", code = "CAMPAIGN_NOT_FOUND" }, rest.no_campaign)
    assert.same({ error = "api", code = "EMAIL_ADDRESS_INVALID" }, rest.bad_email)
    for _, proto in ipairs{ "xmlrpc", "soap", "soap_any" } do
      for k, v in pairs(rest) do
        assert.same(v, results[proto][k], proto .. ": " .. k)
      end
      assert.same(rest, results[proto], proto)
    end
  end)
end)
