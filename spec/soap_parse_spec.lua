-- core.soap_response, the C reader of SOAP answers, judged on bytes PHP's own
-- SoapServer wrote (SOAP 1.1 and 1.2; maps, lists, structs, multi-reference
-- href/id and enc:ref/enc:id, every scalar type) and on hostile documents.
local core = require "egoi.core"
local oracle = require "servers.soap_oracle"
local cjson = require("cjson").new()

local soap_response = core.soap_response

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

-- the neutral shape of a PHP value tagged by the oracle (see soap_oracle.php)
local function neutral(t, top)
  if t.t == "string" or t.t == "int" then return t.v end
  if t.t == "float" then return { float = tonumber(t.v) } end
  if t.t == "bool" then return t.v and "1" or "0" end
  if t.t == "null" then return "" end
  if t.t == "list" then
    if #t.v == 0 then return top and {} or "" end
    local out = {}
    for i, x in ipairs(t.v) do out[i] = neutral(x) end
    return out
  end
  -- map
  if #t.v == 0 then return top and {} or "" end
  local digits, out = true, {}
  for _, p in ipairs(t.v) do if not p[1]:match("^%d+$") then digits = false end end
  for _, p in ipairs(t.v) do out[digits and ("key_" .. p[1]) or p[1]] = neutral(p[2]) end
  return out
end

-- got with float leaves compared as numbers
local function floats(got, want)
  if type(want) ~= "table" then return got end
  if want.float then return { float = tonumber(got) } end
  if type(got) ~= "table" then return got end
  local o = {}
  for k, v in pairs(got) do o[k] = floats(v, want[k]) end
  return o
end

local function random_values(n)
  local seed = 12345
  local function rnd(m)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % m
  end
  local words = { "a", "ção", "a&b", "<x>", "\"q\" 'a'", "tab\there", "line\nnext", "", " ", "€", "0", "007",
    "-1", "1e5", "key_0", "UID" }
  local function value(depth)
    local k = rnd(depth > 3 and 4 or 7)
    if k == 0 then return words[rnd(#words) + 1] end
    if k == 1 then return rnd(2000000) - 1000000 end
    if k == 2 then return (rnd(100000) - 50000) / 64 + 0.5 end
    if k == 3 then return rnd(2) == 1 end
    if k == 4 then
      local t = {}
      for i = 1, rnd(4) do t[i] = value(depth + 1) end
      return t
    end
    local t = {}
    for _ = 1, rnd(4) + 1 do
      local key = rnd(3) == 0 and tostring(rnd(20)) or words[rnd(#words) + 1]
      if key ~= "" then t[key] = value(depth + 1) end
    end
    return t
  end
  local out = {}
  for i = 1, n do out[i] = value(0) end
  return out
end

describe("core.soap_response on PHP SoapServer's own answers", function()
  it("reads every value PHP encodes, in SOAP 1.1 and 1.2, into the neutral shape", function()
    local values = random_values(120)
    values[#values + 1] = { { listnum = "1", extra_fields = {} }, { listnum = "2" } }
    values[#values + 1] = { ["5"] = "five", ["9"] = { "x" } }
    values[#values + 1] = "INVALID"
    local out = oracle.run("encode", "soap_any", cjson.encode(values), #values)
    for i, o in ipairs(out) do
      local want = neutral(o.value, true)
      for _, ver in ipairs{ "1.1", "1.2" } do
        local ok, got, m = soap_response(o[ver])
        assert(ok == true, ("value %d, SOAP %s: %s %s\n%s"):format(i, ver, tostring(got), tostring(m), o[ver]))
        assert.same(want, floats(got, want), ("value %d, SOAP %s\n%s"):format(i, ver, o[ver]))
      end
    end
  end)

  it("follows multi-reference href/id (1.1) and enc:ref/enc:id (1.2), reads structs and types", function()
    local a = cjson.decode(sh("php spec/servers/soap_php_answers.php"))
    local shared = { NAME = "shared", N = "2" }
    for _, ver in ipairs{ "1.1", "1.2" } do
      local ok, v = soap_response(a.shared[ver])
      assert.is_true(ok, ver)
      assert.same({ first = shared, second = shared, list = { shared, shared }, id = "7" }, v)
      assert.truthy(a.shared[ver]:find(ver == "1.1" and 'href="#ref1"' or 'enc:ref="#ref1"', 1, true))
      ok, v = soap_response(a.struct[ver])
      assert.is_true(ok)
      assert.same({ A = "x", B = { "1", "2" }, C = "" }, v)
      ok, v = soap_response(a.types[ver])
      assert.is_true(ok)
      assert.same({ t = "1", f = "0", i = "5000000000", n = "", s = "", ids = { key_5 = "five", key_9 = "nine" },
        pos = { "a", "b" }, empty = "", x = "a&b <c> \"d\" 'e'" }, v)
      ok, v = soap_response(a.string[ver])
      assert.is_true(ok)
      assert.equal("NO_ACCESS", v)
    end
  end)

  it("reads an Axis multiRef graph (references after the response element, soapenc types)", function()
    local body = '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope'
      .. ' xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
      .. ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
      .. '<ns1:getListsResponse soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="urn:x">'
      .. '<getListsReturn href="#id0"/></ns1:getListsResponse>'
      .. '<multiRef id="id0" soapenc:root="0" soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"'
      .. ' xsi:type="ns2:Map" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"'
      .. ' xmlns:ns2="http://xml.apache.org/xml-soap"><item><key xsi:type="soapenc:string">UID</key>'
      .. '<value xsi:type="soapenc:string">u1</value></item><item><key xsi:type="soapenc:string">LIST</key>'
      .. '<value href="#id1"/></item><item><key xsi:type="soapenc:string">tags</key><value href="#id2"/></item>'
      .. '</multiRef><multiRef id="id1" soapenc:root="0" xsi:type="soapenc:int"'
      .. ' xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">3</multiRef>'
      .. '<multiRef id="id2" soapenc:root="0" soapenc:arrayType="xsd:anyType[2]" xsi:type="soapenc:Array"'
      .. ' xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"><multiRef href="#id1"/>'
      .. '<value xsi:type="soapenc:string">x</value></multiRef></soapenv:Body></soapenv:Envelope>'
    local ok, v = soap_response(body)
    assert.is_true(ok)
    assert.same({ UID = "u1", LIST = "3", tags = { "3", "x" } }, v)
  end)

  it("returns faults of both versions as values", function()
    local ok, f = soap_response('<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV='
      .. '"http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server'
      .. "</faultcode><faultstring>Procedure 'fooBar' not present</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body>"
      .. "</SOAP-ENV:Envelope>\n")
    assert.is_false(ok)
    assert.same({ faultcode = "SOAP-ENV:Server", faultstring = "Procedure 'fooBar' not present", version = "1.1" }, f)
    ok, f = soap_response('<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
      .. "<env:Code><env:Value>rpc:ProcedureNotPresent</env:Value></env:Code><env:Reason><env:Text>Procedure not "
      .. "present</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>")
    assert.is_false(ok)
    assert.same({ faultcode = "rpc:ProcedureNotPresent", faultstring = "Procedure not present", version = "1.2" }, f)
  end)

  it("gives nil for an operation without a result", function()
    local ok, v = soap_response('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
      .. "<r:xResponse xmlns:r=\"urn:x\"/></e:Body></e:Envelope>")
    assert.is_true(ok)
    assert.is_nil(v)
  end)
end)

describe("core.soap_response on hostile or broken documents", function()
  local ENV = '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/'
    .. 'XMLSchema-instance" xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:m="http://xml.apache.org/'
    .. 'xml-soap"><e:Body><r:xResponse xmlns:r="urn:x">'
  local END = "</r:xResponse></e:Body></e:Envelope>"
  local function fails(code, body, max, pattern)
    local ok, c, m = soap_response(body, max)
    assert.is_nil(ok, body:sub(1, 200))
    assert.equal(code, c, m)
    if pattern then assert.matches(pattern, m) end
  end

  it("refuses DOCTYPE, entity declarations and external entities (no expansion ever)", function()
    local laughs = '<?xml version="1.0"?><!DOCTYPE e:Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;'
      .. '&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' .. ENV .. "<return>&c;</return>" .. END
    fails("DOCTYPE_FORBIDDEN", laughs)
    fails("DOCTYPE_FORBIDDEN", '<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>')
    fails("DOCTYPE_FORBIDDEN", '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    fails("MALFORMED_XML", ENV .. "<return>&undefined;</return>" .. END)
  end)

  it("caps size, element depth and value depth", function()
    fails("TOO_LARGE", ENV .. "<return>" .. ("x"):rep(1000) .. "</return>" .. END, 500)
    fails("TOO_DEEP", ENV .. ("<a>"):rep(300) .. ("</a>"):rep(300) .. END)
    local arr = '<v xsi:type="enc:Array">'
    fails("TOO_DEEP", ENV .. "<return>" .. arr:rep(100) .. ("</v>"):rep(100) .. "</return>" .. END)
    -- namespace declarations in scope are capped (each QName resolution scans them)
    local decls = {}
    for i = 1, 1100 do decls[i] = ('xmlns:p%d="urn:p%d"'):format(i, i) end
    fails("TOO_LARGE", ENV .. "<return " .. table.concat(decls, " ") .. ">x</return>" .. END, nil, "namespace")
    -- many distinct names are fine below the cap
    local items = {}
    for i = 1, 5000 do items[i] = ("<n%d>%d</n%d>"):format(i, i, i) end
    local ok, v = soap_response(ENV .. "<return>" .. table.concat(items) .. "</return>" .. END)
    assert.is_true(ok)
    assert.equal("4999", v.n4999)
  end)

  it("bounds what references expand to, refuses cycles and dangling references", function()
    -- 40 levels, each referring twice to the one below: 2^40 values if expanded
    local parts = { ENV, '<return href="#r0"/>' .. END:sub(1, #"</r:xResponse>") }
    for i = 0, 39 do
      parts[#parts + 1] = ('<v id="r%d" xsi:type="enc:Array"><i href="#r%d"/><i href="#r%d"/></v>'):format(i, i + 1,
        i + 1)
    end
    parts[#parts + 1] = '<v id="r40">leaf</v></e:Body></e:Envelope>'
    local t0 = os.clock()
    fails("TOO_LARGE", table.concat(parts), nil, "expands to more than")
    assert.is_true(os.clock() - t0 < 5)
    fails("MALFORMED_XML", ENV .. '<return href="#a"/>' .. END:sub(1, 14)
      .. '<v id="a" xsi:type="enc:Array"><i href="#a"/></v></e:Body></e:Envelope>', nil, "cyclic")
    fails("MALFORMED_XML", ENV .. '<return href="#nowhere"/>' .. END, nil, "unknown id")
    fails("MALFORMED_XML", ENV .. '<return href="http://example.org/x"/>' .. END, nil, "not a local reference")
  end)

  it("says what is wrong with documents that are not SOAP answers", function()
    fails("MALFORMED_XML", "", nil, "no element")
    fails("MALFORMED_XML", "<html><body>502 Bad Gateway</body></html>", nil, "not a SOAP envelope")
    fails("MALFORMED_XML", '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"/>', nil, "without a Body")
    fails("MALFORMED_XML", '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>',
      nil, "without an element")
    fails("MALFORMED_XML", ENV .. "<return>cut short")
    fails("MALFORMED_XML", ENV .. "<return>caf\233</return>" .. END)
    fails("MALFORMED_XML", ENV .. '<return xsi:type="m:Map"><item><value>x</value></item></return>' .. END, nil,
      "without a key")
    fails("MALFORMED_XML", ENV .. '<return xsi:type="m:Map"><item><key><a/></key></item></return>' .. END, nil,
      "not a scalar")
  end)

  it("survives truncations and byte flips of a real answer without crashing", function()
    local a = cjson.decode(sh("php spec/servers/soap_php_answers.php"))
    local body = a.shared["1.1"]
    for i = 1, #body, 7 do
      local r = { soap_response(body:sub(1, i)) }
      assert.is_true(r[1] == nil or r[1] == true or r[1] == false)
      local flipped = body:sub(1, i - 1) .. string.char((body:byte(i) + 13) % 256) .. body:sub(i + 1)
      r = { soap_response(flipped) }
      assert.is_true(r[1] == nil or r[1] == true or r[1] == false)
    end
  end)
end)
