-- The PHP SoapServer stand-in of the E-goi SOAP service (spec/servers/soap_standin.php),
-- serving the WSDLs bin/egoi-sandbox generates, answers PHP's own SoapClient as the
-- real service would. Later client work drives its SOAP protocol against it.
local server = require "helpers.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require("cjson").new()

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end

describe("SOAP stand-in (PHP SoapServer + generated WSDLs)", function()
  local S, dir, log
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. dir))
    for _, ep in ipairs{ "soap", "soap_any" } do
      local _, ok = sh(("bin/egoi-sandbox --print-wsdl %s > %s/%s.wsdl"):format(ep, dir, ep))
      assert(ok)
    end
    log = dir .. "/calls.log"
    S = server.start{ cmd = "php -S 127.0.0.1:{port} spec/servers/soap_standin.php",
                      env = { EGOI_STANDIN_WSDL_DIR = dir, EGOI_STANDIN_LOG = log } }
  end)
  teardown(function()
    if S then S:stop() end
    os.execute("rm -rf " .. dir)
  end)

  local function client(ep, ver)
    local text = sh(("php spec/servers/soap_standin_client.php %s %s %s"):format(S:url(""):gsub("/$", ""), ep, ver))
    local ok, out = pcall(cjson.decode, text)
    assert(ok and type(out) == "table", text)
    return out
  end

  for _, v in ipairs{ { "soap", "1.1" }, { "soap_any", "1.1" }, { "soap", "1.2" }, { "soap_any", "1.2" } } do
    it(("answers PHP SoapClient on %s.php in SOAP %s with PHP arrays, error strings and faults"):format(v[1], v[2]),
      function()
        local out = client(v[1], v[2])
        assert.equal(2, #out.getLists)
        assert.equal("Newsletter", out.getLists[1].title)
        assert.equal("cidade", out.getLists[1].extra_fields[1].ref)
        assert.same({}, out.getLists[2].extra_fields)
        assert.equal("INVALID", out.badKey)
        assert.same({ LIST_ID = "3" }, out.createList)
        assert.same({ ERROR = "NAME_MISSING" }, out.nameMissing)
        assert.same({ UID = "a1b2c3d4e5", LIST = "3", EMAIL = "ana@example.com", FIRST_NAME = "Ana", STATUS = 1 },
          out.addSubscriber)
        assert.same({ ERROR = "EMAIL_ALREADY_EXISTS" }, out.taken)
        assert.equal("OK", out.removeSubscriber)
        assert.equal("sandbox", out.getUserData.USERNAME)
        assert.equal("INTERNAL_ERROR", out.getCredits.fault[2])
        assert.is_true(out.check_status)
        local action = "http://api.e-goi.com/v2/" .. v[1] .. ".php#check_status"
        assert.truthy(out.lastRequestHeaders:find(action, 1, true))
      end)
  end

  it("logs the decoded arguments of each call", function()
    local lines = server.read_lines(log)
    assert.is_true(#lines > 0)
    local seen
    for _, l in ipairs(lines) do
      local e = cjson.decode(l)
      if e.method == "addSubscriber" and e.args.email == "ana@example.com" then seen = e end
    end
    assert.is_table(seen)
    assert.same({ 12, 15 }, seen.args.tags)
    assert.equal(1, seen.args.status)
  end)

  it("serves the generated WSDL at ?wsdl with its address rewritten", function()
    local chunks = {}
    local _, code = http.request{ url = S:url("/v2/soap_any.php?wsdl"), sink = ltn12.sink.table(chunks) }
    assert.equal(200, code)
    local body = table.concat(chunks)
    local want = sh("bin/egoi-sandbox --print-wsdl soap_any --wsdl-address " .. S:url("/v2/soap_any.php"))
    assert.equal(want, body)
  end)

  -- PHP's own writer against the sandbox's (egoi.sandbox.soap_write)
  it("answers a bad key byte for byte as the sandbox does", function()
    local req = '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.'
      .. 'org/soap/envelope/" xmlns:ns1="http://api.e-goi.com/v2/soap.php" xmlns:xsi="http://www.w3.org/2001/XMLSchema'
      .. '-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:ns2="http://xml.apache.org/xml-soap"><SOAP-ENV:'
      .. 'Body><ns1:getLists><functionOptions xsi:type="ns2:Map"><item><key xsi:type="xsd:string">apikey</key><value '
      .. 'xsi:type="xsd:string">nope</value></item></functionOptions></ns1:getLists></SOAP-ENV:Body>'
      .. '</SOAP-ENV:Envelope>'
    local function post(s)
      local chunks = {}
      local _, code = http.request{ url = s:url("/v2/soap.php"), method = "POST",
        sink = ltn12.sink.table(chunks), source = ltn12.source.string(req),
        headers = { ["Content-Type"] = "text/xml; charset=utf-8", ["Content-Length"] = tostring(#req) } }
      return code, table.concat(chunks)
    end
    local sb = server.start{ cmd = "bin/egoi-sandbox --quiet --rate-limit 0 --port {port}" }
    local c1, b1 = post(sb)
    sb:stop()
    local c2, b2 = post(S)
    assert.equal(200, c1)
    assert.equal(200, c2)
    assert.equal(b2, b1)
    assert.truthy(b1:find("<return xsi:type=\"xsd:string\">INVALID</return>", 1, true))
  end)
end)
