-- SOAP side of bin/egoi-sandbox (/v2/soap.php, /v2/soap_any.php).
-- Judges nobody here wrote: PHP's own SoapClient (WSDL and non-WSDL mode,
-- SOAP 1.1 and 1.2) runs spec/servers/soap_workflow.json against both
-- endpoints, and PHP's http_build_query runs the same workflow over REST;
-- the results must agree. Raw envelopes check the wire forms of
-- egoi-v2-soap.md (argument encodings, faults, byte layout of answers).
local server = require "helpers.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require("cjson").new()

local KEY = "0123456789abcdef0123456789abcdef01234567"
local STD = "http://api.e-goi.com/v2/soap.php"
local ANY = "http://api.e-goi.com/v2/soap_any.php"

local function start(args)
  return server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} " .. (args or "--rate-limit 0") }
end

local function post(s, path, body, headers)
  local chunks = {}
  headers = headers or {}
  headers["Content-Type"] = headers["Content-Type"] or "text/xml; charset=utf-8"
  headers["Content-Length"] = tostring(#body)
  local _, code, h = http.request{
    url = s:url(path), method = "POST", headers = headers, sink = ltn12.sink.table(chunks),
    source = ltn12.source.string(body),
  }
  return code, table.concat(chunks), h
end

local function get(s, path, method)
  local chunks = {}
  local _, code, h = http.request{ url = s:url(path), method = method or "GET", sink = ltn12.sink.table(chunks) }
  return code, table.concat(chunks), h
end

-- a SOAP 1.1 envelope as PHP SoapClient writes it, around `inner` (the operation element)
local function env11(inner, uri)
  return '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/'
    .. 'envelope/" xmlns:ns1="' .. (uri or STD) .. '" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    .. 'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:ns2="http://xml.apache.org/xml-soap" '
    .. 'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
    .. 'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body>' .. inner
    .. "</SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
end

local function map(pairs_)
  local out = {}
  for _, kv in ipairs(pairs_) do
    out[#out + 1] = ('<item><key xsi:type="xsd:string">%s</key><value xsi:type="xsd:string">%s</value></item>')
      :format(kv[1], kv[2])
  end
  return table.concat(out)
end

local function judge(s, ep, mode, ver)
  local cmd = ("php spec/servers/soap_judge.php %s %s %s %s %s 2>&1"):format(s:url(""):gsub("/$", ""), ep, mode,
    ver, KEY)
  local p = assert(io.popen(cmd))
  local text = p:read("*a")
  p:close()
  local ok, out = pcall(cjson.decode, text)
  assert(ok and type(out) == "table", text)
  return out
end

-- one comparable shape for REST envelopes and PHP values: key_N lists as
-- arrays, key_<id> maps by id, every scalar a string, empty containers "",
-- dates masked, the report's growing counters reduced to its key set + SENT
local function norm(v, rest)
  if v == cjson.null or v == nil then return "" end
  if type(v) == "boolean" then return v and "1" or "0" end
  if type(v) == "number" then return v == math.floor(v) and ("%d"):format(v) or tostring(v) end
  if type(v) == "string" then
    return v:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$") and "<date>" or v
  end
  local out = {}
  for k, x in pairs(v) do
    if not (rest and k == "status") then
      local key = type(k) == "number" and k - 1 or (rest and k:match("^key_(.*)$")) or k
      out[tostring(key)] = norm(x, rest)
    end
  end
  if next(out) == nil then return "" end
  if rest and out.response ~= nil and next(out, next(out)) == nil and next(out) == "response" then
    return out.response
  end
  return out
end

local function report_view(r)
  if type(r) ~= "table" then return r end
  local keys = {}
  for k in pairs(r) do keys[#keys + 1] = k end
  table.sort(keys)
  return { keys = table.concat(keys, ","), SENT = r.SENT }
end

local function steps(out, rest)
  local t = {}
  for id, v in pairs(out.steps) do t[id] = norm(v, rest) end
  t.getReport = report_view(t.getReport)
  return t
end

-- the workflow over REST on a fresh sandbox (computed once)
local base_cache
local function baseline()
  if not base_cache then
    local S = start()
    local ok, out = pcall(judge, S, "rest", "-", "-")
    S:stop()
    assert(ok, out)
    base_cache = steps(out, true)
  end
  return base_cache
end

describe("egoi-sandbox SOAP, judged by PHP SoapClient", function()
  local base
  setup(function() base = baseline() end)

  local variants = {
    { "soap", "wsdl", "1.1" }, { "soap", "nowsdl", "1.1" }, { "soap_any", "wsdl", "1.1" },
    { "soap_any", "nowsdl", "1.1" }, { "soap", "wsdl", "1.2" }, { "soap_any", "nowsdl", "1.2" },
  }
  for _, v in ipairs(variants) do
    local ep, mode, ver = v[1], v[2], v[3]
    it(("gives the REST results on %s.php, %s mode, SOAP %s"):format(ep, mode, ver), function()
      local S = start()
      local ok, out = pcall(judge, S, ep, mode, ver)
      S:stop()
      assert(ok, out)
      local got = steps(out, false)
      -- the workflow's baseline really ran: state, ids and errors as over REST
      assert.is_string(base.createList.LIST_ID)
      assert.equal("Porto", base.subscriberData.subscriber.EXTRA_FIELD_1)
      assert.equal("NAME_MISSING", base.errNameMissing.ERROR)
      assert.equal("INVALID", base.errBadKey)
      assert.equal("OK", base.removeSubscriber)
      if ep == "soap" then
        -- soap.php declares deleteCampaign -> xsd:boolean: PHP turns any non-empty answer into true
        assert.equal("1", got.deleteCampaign)
        assert.equal("1", got.deleteCampaignAgain)
        assert.equal("ALREADY_DELETED", base.deleteCampaignAgain.ERROR)
      else
        assert.same(base.deleteCampaign, got.deleteCampaign)
        assert.same(base.deleteCampaignAgain, got.deleteCampaignAgain)
      end
      got.deleteCampaign, got.deleteCampaignAgain = nil, nil
      local want = {}
      for k, x in pairs(base) do if not k:match("^deleteCampaign") then want[k] = x end end
      assert.same(want, got)
      -- lists stay PHP lists, numbers PHP ints through SOAP
      assert.equal("ana@example.com", out.steps.allSubscribers.subscriber[1].EMAIL)
      assert.equal(1, out.steps.addSubscriberBulk.ADDED)
      assert.is_true(out.check_status)
      assert.is_true(out.testEmailAddress)
      assert.is_false(out.testEmailAddressBad)
      local f = out.faults.unknown.fault
      assert.is_table(f, cjson.encode(out.faults))
      if ver == "1.1" then
        assert.same({ "SOAP-ENV:Server", "Procedure 'fooBar' not present" }, f)
      else
        assert.equal("Procedure not present", f[2])
      end
      assert.same(out.getListsAgain, out.lowercase)
      assert.equal("Judge list", out.lowercase[1].title)
    end)
  end
end)

describe("egoi-sandbox SOAP, judged by python3-zeep and python3-suds on soap_any.php", function()
  for _, lib in ipairs{ "zeep", "suds" } do
    it("gives the REST results through " .. lib, function()
      local base = baseline()
      local S = start()
      local p = assert(io.popen(("/usr/bin/python3 spec/servers/soap_pyjudge.py %s %s %s 2>&1"):format(lib,
        S:url(""), KEY)))
      local text = p:read("*a")
      p:close()
      S:stop()
      local ok, out = pcall(cjson.decode, text)
      assert(ok and type(out) == "table", text)
      assert.equal(S:url("/v2/soap_any.php"), out.address)      -- the WSDL's rewritten soap:address
      assert.same(base, steps(out, false))
    end)
  end
end)

describe("egoi-sandbox SOAP wire forms", function()
  local S
  setup(function() S = start() end)
  teardown(function() S:stop() end)

  it("serves each WSDL at ?wsdl with soap:address rewritten to the URL it was fetched on", function()
    for _, ep in ipairs{ "soap", "soap_any" } do
      local code, body, h = get(S, "/v2/" .. ep .. ".php?wsdl")
      assert.equal(200, code)
      assert.truthy(h["content-type"]:find("text/xml", 1, true))
      assert.truthy(body:find(('<soap:address location="%s"/>'):format(S:url("/v2/" .. ep .. ".php")), 1, true))
      assert.truthy(body:find('targetNamespace="http://api.e-goi.com/v2/' .. ep .. '.php"', 1, true))
      assert.truthy(body:find('soapAction="http://api.e-goi.com/v2/' .. ep .. '.php#getLists"', 1, true))
      assert.truthy(body:find('<message name="checkloginIn">', 1, true))
      assert.truthy(body:find('<part name="email" type="xsd:string"/>', 1, true))
    end
    local _, std = get(S, "/v2/soap.php?wsdl")
    local _, any = get(S, "/v2/soap_any.php?wsdl")
    assert.truthy(std:find('<message name="getListsIn">\n  <part name="functionOptions" type="soap-enc:Array"/>', 1,
      true))
    assert.truthy(any:find('<message name="getListsIn">\n  <part name="functionOptions" type="xsd:anyType"/>', 1,
      true))
    assert.truthy(std:find('name="Egoi_Api"', 1, true))
    assert.truthy(any:find('<service name="Egoi_Api_SoapService">', 1, true))
    -- a GET without the (case-sensitive) wsdl key: empty 200 as ext/soap; other verbs refused
    local code, body = get(S, "/v2/soap.php?WSDL")
    assert.equal(200, code)
    assert.equal("", body)
    assert.equal(405, (get(S, "/v2/soap.php", "PUT")))
  end)

  it("answers a bad key with the bare string byte for byte as PHP", function()
    local code, body, h = post(S, "/v2/soap.php", env11("<ns1:getLists><functionOptions xsi:type=\"ns2:Map\">"
      .. map{ { "apikey", "nope" } } .. "</functionOptions></ns1:getLists>"))
    assert.equal(200, code)
    assert.equal("text/xml; charset=utf-8", h["content-type"])
    assert.equal('<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.'
      .. 'org/soap/envelope/" xmlns:ns1="http://api.e-goi.com/v2/soap.php" xmlns:xsd="http://www.w3.org/2001/XMLSchema'
      .. '" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/'
      .. 'encoding/" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body><ns1:'
      .. 'getListsResponse><return xsi:type="xsd:string">INVALID</return></ns1:getListsResponse></SOAP-ENV:Body>'
      .. "</SOAP-ENV:Envelope>\n", body)
  end)

  it("writes lists of maps, maps, int keys and empty arrays as PHP does", function()
    local _, body = post(S, "/v2/soap.php", env11('<ns1:createList><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY }, { "nome", "Wire" } } .. "</functionOptions></ns1:createList>"))
    local lid = body:match('<key xsi:type="xsd:string">LIST_ID</key><value xsi:type="xsd:string">(%d+)</value>')
    assert.is_string(lid, body)
    assert.truthy(body:find('xmlns:ns1="http://api.e-goi.com/v2/soap.php" xmlns:xsi="http://www.w3.org/2001/'
      .. 'XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:ns2="http://xml.apache.org/xml-soap"'
      .. ' xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" SOAP-ENV:encodingStyle=', 1, true), body)
    _, body = post(S, "/v2/soap.php", env11('<ns1:getLists><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY } } .. "</functionOptions></ns1:getLists>"))
    assert.truthy(body:find('xmlns:ns2="http://xml.apache.org/xml-soap" xmlns:SOAP-ENC="http://'
      .. 'schemas.xmlsoap.org/soap/'
      .. 'encoding/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd=', 1, true), body)
    assert.truthy(body:find('<return SOAP-ENC:arrayType="ns2:Map[1]" xsi:type="SOAP-ENC:Array">'
      .. '<item xsi:type="ns2:Map">'
      .. '<item><key xsi:type="xsd:string">canal_email</key>', 1, true), body)
    assert.truthy(body:find('<item><key xsi:type="xsd:string">extra_fields</key><value SOAP-ENC'
      .. ':arrayType="xsd:ur-type[0]"'
      .. ' xsi:type="SOAP-ENC:Array"/></item>', 1, true), body)
    post(S, "/v2/soap.php", env11('<ns1:addExtraField><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY }, { "listID", lid }, { "name", "city" } } .. "</functionOptions></ns1:addExtraField>"))
    _, body = post(S, "/v2/soap.php", env11('<ns1:getExtraFields><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY }, { "listID", lid } } .. "</functionOptions></ns1:getExtraFields>"))
    assert.truthy(body:find('<item><key xsi:type="xsd:int">%d+</key><value xsi:type="ns2:Map">'), body)
  end)

  it("decodes each argument form per endpoint as PHP does (keys lost on soap.php for untyped structs)", function()
    local function lists(path, uri, fo)
      local _, body = post(S, path, env11("<ns1:getLists>" .. fo .. "</ns1:getLists>", uri))
      return body:match("<return[^>]*>([^<]*)</return>") or body:match("<return ([^>]*)>")
    end
    local untyped = "<functionOptions><apikey>" .. KEY .. "</apikey></functionOptions>"
    local struct = '<functionOptions xsi:type="SOAP-ENC:Struct"><apikey xsi:type="xsd:string">' .. KEY
      .. "</apikey></functionOptions>"
    local unknown = '<functionOptions xmlns:ns4="None" xsi:type="ns4:functionOptions"><apikey xsi:type="xsd:string">'
      .. KEY .. "</apikey></functionOptions>"
    local perl = "<c-gensym3><apikey xsi:type=\"xsd:string\">" .. KEY .. "</apikey></c-gensym3>"
    local arr = '<functionOptions xsi:type="SOAP-ENC:Array"><apikey>' .. KEY .. "</apikey></functionOptions>"
    -- soap.php: a keyless list arrives, so no apikey; an unknown key answers the bare INVALID
    for _, fo in ipairs{ untyped, unknown, perl, arr } do
      local _, body = post(S, "/v2/soap.php", env11("<ns1:getTags>" .. fo .. "</ns1:getTags>"))
      assert.truthy(body:find("NO_APIKEY", 1, true), fo .. "\n" .. body)
    end
    assert.truthy(lists("/v2/soap.php", STD, struct):find("SOAP-ENC:Array", 1, true))
    -- soap_any.php: struct, untyped and unknown-typed elements keep their keys
    for _, fo in ipairs{ untyped, struct, unknown, perl } do
      assert.truthy(lists("/v2/soap_any.php", ANY, fo):find("SOAP-ENC:Array", 1, true), fo)
    end
    local _, body = post(S, "/v2/soap_any.php", env11("<ns1:getTags>" .. arr .. "</ns1:getTags>", ANY))
    assert.truthy(body:find("NO_APIKEY", 1, true), body)
  end)

  it("resolves Axis multiRef graphs (href/id) and SOAP 1.2 enc:ref, lists with arrayType", function()
    local _, body = post(S, "/v2/soap_any.php", env11('<ns1:createList><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY }, { "nome", "Axis" } } .. "</functionOptions></ns1:createList>", ANY))
    local lid = body:match('LIST_ID</key><value xsi:type="xsd:string">(%d+)<')
    local axis = '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/'
      .. 'soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-'
      .. 'instance"><soapenv:Body><ns1:addSubscriberBulk xmlns:ns1="' .. ANY .. '"><functionOptions href="#id0"/>'
      .. '</ns1:addSubscriberBulk><multiRef id="id0" soapenc:root="0" xsi:type="ns2:Map" xmlns:soapenc="http://schemas'
      .. '.xmlsoap.org/soap/encoding/" xmlns:ns2="http://xml.apache.org/xml-soap"><item><key xsi:type="soapenc:string">'
      .. 'apikey</key><value xsi:type="soapenc:string">' .. KEY .. '</value></item><item><key x'
        .. 'si:type="soapenc:string">'
      .. 'compareField</key><value xsi:type="soapenc:string">email</value></item><item><key xsi:type="soapenc:string">'
      .. 'listID</key><value href="#id1"/></item><item><key xsi:type="soapenc:string">subscribe'
        .. 'rs</key><value href="#id2"'
      .. '/></item></multiRef><multiRef id="id1" soapenc:root="0" xsi:type="soapenc:int" xmlns:soapenc="http://schemas.'
      .. 'xmlsoap.org/soap/encoding/">' .. lid .. '</multiRef><multiRef id="id2" soapenc:root="'
        .. '0" soapenc:arrayType="xsd:'
      .. 'anyType[2]" xsi:type="soapenc:Array" xmlns:soapenc="http://schemas.xmlsoap.org/soap/e'
        .. 'ncoding/"><multiRef href='
      .. '"#id3"/><multiRef href="#id3b"/></multiRef><multiRef id="id3" xsi:type="ns3:Map" xmln'
        .. 's:ns3="http://xml.apache.'
      .. 'org/xml-soap"><item><key>email</key><value>a@example.com</value></item></multiRef><mu'
        .. 'ltiRef id="id3b" xsi:type'
      .. '="ns3:Map" xmlns:ns3="http://xml.apache.org/xml-soap"><item><key>email</key><value>b@'
        .. 'example.com</value></item>'
      .. "</multiRef></soapenv:Body></soapenv:Envelope>"
    _, body = post(S, "/v2/soap_any.php", axis)
    assert.truthy(body:find('<key xsi:type="xsd:string">ADDED</key><value xsi:type="xsd:int">2</value>', 1, true), body)
    local v12 = '<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:xsi="'
      .. 'http://www.w3.org/2001/XMLSchema-instance" xmlns:enc="http://www.w3.org/2003/05/soap-encoding" xmlns:ns2="'
      .. 'http://xml.apache.org/xml-soap"><env:Body><m:subscriberData xmlns:m="urn:any"><functionOptions enc:ref="o"/>'
      .. '<o enc:id="o" xsi:type="ns2:Map"><item><key>apikey</key><value>' .. KEY .. '</value></item><item><key>listID'
      .. '</key><value>' .. lid .. '</value></item><item><key>subscriber</key><value>all_subscribers</value></item></o>'
      .. "</m:subscriberData></env:Body></env:Envelope>"
    local code, h
    code, body, h = post(S, "/v2/soap.php", v12, { ["Content-Type"] = "application/soap+xml; charset=utf-8" })
    assert.equal(200, code)
    assert.equal("application/soap+xml; charset=utf-8", h["content-type"])
    assert.truthy(body:find("<rpc:result>return</rpc:result>", 1, true), body)
    assert.truthy(body:find('enc:itemType="ns2:Map" enc:arraySize="2" xsi:type="enc:Array"', 1, true), body)
    assert.truthy(body:find("b@example.com", 1, true))
  end)

  it("dispatches case-insensitively, ignoring namespace and SOAPAction; answers in the WSDL's case", function()
    local _, body = post(S, "/v2/soap.php", env11('<x:GETLISTS xmlns:x="urn:whatever"><function'
      .. 'Options xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY } } .. "</functionOptions></x:GETLISTS>"), { SOAPAction = '"urn:nothing#at_all"' })
    assert.truthy(body:find("<ns1:getListsResponse><return SOAP-ENC:arrayType=", 1, true), body)
  end)

  it("sends faults with HTTP 500 as PHP ext/soap does", function()
    local function fault11(code, text)
      return '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/'
        .. 'soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:' .. code .. "</faultcode><faultstring>"
        .. text .. "</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
    end
    local code, body = post(S, "/v2/soap.php", env11("<ns1:fooBar/>"))
    assert.equal(500, code)
    assert.equal(fault11("Server", "Procedure 'fooBar' not present"), body)
    assert.equal(297, #body)
    code, body = post(S, "/v2/soap.php", '<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.'
      .. 'xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><broken>')
    assert.equal(500, code)
    assert.equal(fault11("Client", "Bad Request"), body)
    assert.equal(fault11("Client", "Bad Request"), select(2, post(S, "/v2/soap.php", "")))
    local hdr = env11("<ns1:getLists/>"):gsub("<SOAP%-ENV:Body>", '<SOAP-ENV:Header><x:A xmlns:x="urn:x" SOAP-ENV:'
      .. 'mustUnderstand="1">k</x:A></SOAP-ENV:Header><SOAP-ENV:Body>')
    assert.equal(fault11("MustUnderstand", "Header not understood"), select(2, post(S, "/v2/soap.php", hdr)))
    assert.equal(fault11("Client", "Missing parameter"), select(2, post(S, "/v2/soap.php", env11("<ns1:getLists/>"))))
    assert.equal(fault11("VersionMismatch", "Wrong Version"), select(2, post(S, "/v2/soap.php", "<a/>")))
    code, body = post(S, "/v2/soap.php", '<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/'
      .. 'soap-envelope"><env:Body><ns1:fooBar xmlns:ns1="' .. STD .. '"/></env:Body></env:Envelope>',
      { ["Content-Type"] = "application/soap+xml; charset=utf-8" })
    assert.equal(500, code)
    assert.equal('<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-'
      .. 'envelope"><env:Body><env:Fault><env:Code><env:Value>rpc:ProcedureNotPresent</env:Value></env:Code><env:'
      .. "Reason><env:Text>Procedure not present</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>\n", body)
  end)

  it("refuses DOCTYPE/entities, deep nesting and multiRef bombs, and keeps serving", function()
    local bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
      .. env11("<ns1:getLists><functionOptions>&b;</functionOptions></ns1:getLists>"):gsub("^<%?xml[^>]*>\n", "")
    local code, body = post(S, "/v2/soap.php", bomb)
    assert.equal(500, code)
    assert.truthy(body:find("DTD are not supported by SOAP", 1, true), body)
    local deep = ("<a>"):rep(5000) .. ("</a>"):rep(5000)
    code, body = post(S, "/v2/soap.php", env11("<ns1:getLists><functionOptions>" .. deep
      .. "</functionOptions></ns1:getLists>"))
    assert.equal(500, code)
    assert.truthy(body:find("Bad Request", 1, true))
    -- multiRef sharing that would expand to 10^12 values
    local refs = { '<functionOptions href="#r0"/>' }
    for i = 0, 11 do
      refs[#refs + 1] = ('<multiRef id="r%d" xsi:type="SOAP-ENC:Array">%s</multiRef>'):format(i,
        i < 11 and ('<v href="#r' .. (i + 1) .. '"/>'):rep(10) or "<v>x</v>")
    end
    code, body = post(S, "/v2/soap_any.php", env11("<ns1:getLists>" .. refs[1] .. "</ns1:getLists>"
      .. table.concat(refs, "", 2), ANY))
    assert.equal(500, code)
    assert.truthy(body:find("too many references", 1, true), body)
    code = post(S, "/v2/soap.php", env11('<ns1:getLists><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY } }
      .. "</functionOptions></ns1:getLists>"))
    assert.equal(200, code)
  end)

  it("shares state with REST and XML-RPC", function()
    local chunks = {}
    local form = "method=createList&type=json&functionOptions[apikey]=" .. KEY .. "&functionOptions[nome]=ViaRest"
    http.request{ url = S:url("/v2/rest.php"), method = "POST", source = ltn12.source.string(form),
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Content-Length"] = tostring(#form) },
      sink = ltn12.sink.table(chunks) }
    local lid = cjson.decode(table.concat(chunks)).Egoi_Api.createList.LIST_ID
    local _, body = post(S, "/v2/soap_any.php", env11('<ns1:getLists><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY } } .. "</functionOptions></ns1:getLists>", ANY))
    assert.truthy(body:find('<key xsi:type="xsd:string">listnum</key><value xsi:type="xsd:string">' .. lid
      .. '</value></item><item><key xsi:type="xsd:string">subs_activos</key>', 1, true) or
      body:find("ViaRest", 1, true), body)
  end)
end)

describe("egoi-sandbox SOAP limits and failures", function()
  it("answers over the rate limit with a normal SOAP body, HTTP 429 and Retry-After", function()
    local S = start("--rate-limit 1/3600")
    local req = env11('<ns1:getTags><functionOptions xsi:type="ns2:Map">' .. map{ { "apikey", KEY } }
      .. "</functionOptions></ns1:getTags>")
    assert.equal(200, (post(S, "/v2/soap.php", req)))
    local code, body, h = post(S, "/v2/soap.php", req)
    S:stop()
    assert.equal(429, code)
    assert.is_string(h["retry-after"])
    assert.truthy(body:find('<key xsi:type="xsd:string">ERROR</key><value xsi:type="xsd:string">NO_ACCESS</value>', 1,
      true), body)
  end)

  it("turns a handler crash into a Server fault and a non-UTF-8 value into PHP's encoding fault", function()
    local S = start("--rate-limit 0 --fail-method getCredits")
    local code, body = post(S, "/v2/soap.php", env11('<ns1:getCredits><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY } } .. "</functionOptions></ns1:getCredits>"))
    assert.equal(500, code)
    assert.truthy(body:find("<faultcode>SOAP-ENV:Server</faultcode><faultstring>INTERNAL_ERROR</faultstring>", 1, true))
    -- REST stores any bytes; PHP's encoder refuses a non-UTF-8 string in a SOAP answer
    local form = "method=createList&type=json&functionOptions[apikey]=" .. KEY .. "&functionOptions[nome]=caf%E9"
    http.request{ url = S:url("/v2/rest.php"), method = "POST", source = ltn12.source.string(form),
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Content-Length"] = tostring(#form) } }
    code, body = post(S, "/v2/soap.php", env11('<ns1:getLists><functionOptions xsi:type="ns2:Map">'
      .. map{ { "apikey", KEY } } .. "</functionOptions></ns1:getLists>"))
    S:stop()
    assert.equal(500, code)
    assert.truthy(body:find("<faultstring>SOAP-ERROR: Encoding: string 'caf\\xe9...' is not a valid utf-8 string",
      1, true), body)
  end)
end)
