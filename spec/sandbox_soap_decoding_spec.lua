-- The sandbox's SOAP request decoder (egoi.sandbox.soap_read) judged by PHP ext/soap's
-- own SoapServer (spec/servers/soap_oracle.php decode) on the same envelopes, with
-- each endpoint's generated WSDL (soap.php declares soap-enc:Array, soap_any.php
-- xsd:anyType): same values, or the same fault.
local cjson = require("cjson").new()
local oracle = require "servers.soap_oracle"
local shape = require "egoi.sandbox.shape"
local soap_read = require "egoi.sandbox.soap_read"

local ENV11 = '<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
  .. 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
  .. 'xmlns:ns2="http://xml.apache.org/xml-soap" xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/">'
  .. "<e:Body>%s</e:Body></e:Envelope>"
local function op(inner) return ENV11:format('<ns1:getLists xmlns:ns1="urn:x">' .. inner .. "</ns1:getLists>") end
local function fo(attrs, inner) return op("<functionOptions " .. attrs .. ">" .. inner .. "</functionOptions>") end
local function item(k, v) return "<item><key>" .. k .. "</key><value>" .. v .. "</value></item>" end

local ENVELOPES = {
  fo('xsi:type="ns2:Map"', '<item><key xsi:type="xsd:string">apikey</key><value xsi:type="xsd:string">k</value></item>'
    .. '<item><key xsi:type="xsd:string">n</key><value xsi:type="xsd:int">7</value></item>'
    .. '<item><key xsi:type="xsd:string">b</key><value xsi:type="xsd:boolean">true</value></item>'
    .. '<item><key xsi:type="xsd:string">f</key><value xsi:type="xsd:float">0.5</value></item>'
    .. '<item><key xsi:type="xsd:string">z</key><value xsi:nil="true"/></item>'
    .. '<item><key xsi:type="xsd:string">tags</key><value xsi:type="enc:Array" enc:arrayType="xsd:int[2]">'
    .. '<item xsi:type="xsd:int">12</item><item xsi:type="xsd:int">15</item></value></item>'
    .. '<item><key xsi:type="xsd:string">m</key><value xsi:type="ns2:Map">' .. item("a", "b") .. "</value></item>"),
  fo('xsi:type="ns2:Map"', item("apikey", "k") .. item("10", "ten") .. item("", "empty")),
  fo('xsi:type="ns2:Map"', '<item><key xsi:type="xsd:int">0</key><value>a</value></item>'
    .. '<item><key xsi:type="xsd:int">1</key><value>b</value></item>'),
  fo('xsi:type="enc:Struct"', '<apikey xsi:type="xsd:string">k</apikey><t>1</t><t>2</t><one><x>y</x></one>'),
  op('<c-gensym3><apikey xsi:type="xsd:string">k</apikey><listID xsi:type="xsd:int">3</listID>'
    .. '<tags enc:arrayType="xsd:int[1]" xsi:type="enc:Array"><item xsi:type="xsd:int">12</item></tags></c-gensym3>'),
  fo('xmlns:ns4="None" xsi:type="ns4:functionOptions"', '<apikey xsi:type="ns4:string">k</apikey>'
    .. '<subscribers xsi:type="ns4:subscribers"><email xsi:type="ns4:string">a@x</email></subscribers>'
    .. '<subscribers xsi:type="ns4:subscribers"><email xsi:type="ns4:string">b@x</email></subscribers>'),
  fo('xsi:type="enc:Array"', "<apikey>k</apikey><listID>2</listID>"),
  fo('xsi:type="enc:Array" enc:arrayType="xsd:int[3]"', "<item>1</item><item> 2 </item><x>3</x>"),
  fo("", "<apikey>k</apikey>"),
  fo("", "text only"),
  op('<functionOptions xsi:nil="true"/>'),
  op('<functionOptions href="#a"/><multiRef id="a" xsi:type="ns2:Map">'
    .. '<item><key>listID</key><value href="#b"/></item><item><key>subs</key><value href="#c"/></item></multiRef>'
    .. '<multiRef id="b" xsi:type="enc:int">5</multiRef><multiRef id="c" xsi:type="enc:Array" '
    .. 'enc:arrayType="xsd:anyType[1]"><multiRef href="#d"/></multiRef>'
    .. '<multiRef id="d" xsi:type="ns2:Map"><item><key xsi:type="enc:string">email</key>'
    .. '<value xsi:type="enc:string">a@x</value></item></multiRef>'),
  fo('xsi:type="ns2:Map"', '<item><key>b64</key><value xsi:type="xsd:base64Binary">aGVsbG8=</value></item>'
    .. '<item><key>t1</key><value xsi:type="xsd:boolean">1</value></item>'
    .. '<item><key>t0</key><value xsi:type="xsd:boolean">false</value></item>'
    .. '<item><key>d</key><value xsi:type="xsd:double">-2.25</value></item>'
    .. '<item><key>big</key><value xsi:type="xsd:long">5000000000</value></item>'
    .. '<item><key>any</key><value xsi:type="xsd:anyType"><a>1</a></value></item>'
    .. '<item><key>arr</key><value enc:arrayType="xsd:string[1]"><v>x</v></value></item>'),
  op('<param0 xsi:type="ns2:Map">' .. item("apikey", "k") .. "</param0>"),
  op("<a>1</a><b>2</b>"),
  op(""),
  fo('xsi:type="ns2:Map"', "<item><value>v</value></item>"),
  '<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:xsi="http://www.w3.'
    .. 'org/2001/XMLSchema-instance" xmlns:enc="http://www.w3.org/2003/05/soap-encoding" xmlns:ns2="http://xml.'
    .. 'apache.org/xml-soap"><env:Body><m:getLists xmlns:m="urn:x"><functionOptions enc:ref="o"/>'
    .. '<o enc:id="o" xsi:type="ns2:Map"><item><key>apikey</key><value>k</value></item><item><key>l</key>'
    .. '<value enc:itemType="xsd:int" enc:arraySize="2" xsi:type="enc:Array"><i>1</i><i>2</i></value></item></o>'
    .. "</m:getLists></env:Body></env:Envelope>",
}

-- one comparable text for PHP's tagged values and the decoder's Lua values
local function canon_php(t)
  if t == nil or t == cjson.null or t.t == "null" then return "N" end
  if t.t == "bool" then return t.v and "B1" or "B0" end
  if t.t == "int" or t.t == "float" then return "#" .. ("%.17g"):format(tonumber(t.v)) end
  if t.t == "string" then return ("S%q"):format(t.v) end
  local parts, is_list = {}, true
  if t.t == "list" then
    for i, x in ipairs(t.v) do parts[i] = canon_php(x) end
  else
    for i, kv in ipairs(t.v) do if kv[1] ~= tostring(i - 1) then is_list = false end end
    if #t.v == 0 then is_list = true end
    for _, kv in ipairs(t.v) do
      parts[#parts + 1] = is_list and canon_php(kv[2]) or (kv[1] .. "=" .. canon_php(kv[2]))
    end
    if not is_list then table.sort(parts) end
  end
  return (is_list and "[" or "{") .. table.concat(parts, ",") .. (is_list and "]" or "}")
end

local function canon_lua(v)
  if v == nil or v == soap_read.NULL then return "N" end
  if type(v) == "boolean" then return v and "B1" or "B0" end
  if type(v) == "number" then return "#" .. ("%.17g"):format(v) end
  if type(v) == "string" then return ("S%q"):format(v) end
  local parts = {}
  if shape.kind(v) == "list" then
    for i, x in ipairs(v) do parts[i] = canon_lua(x) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local n, dense = 0, true
  for _ in pairs(v) do n = n + 1 end
  for i = 1, n do if v[tostring(i - 1)] == nil then dense = false end end
  if dense then
    for i = 1, n do parts[i] = canon_lua(v[tostring(i - 1)]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. canon_lua(x) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

describe("egoi.sandbox.soap_read against PHP SoapServer", function()
  for _, ep in ipairs{ "soap", "soap_any" } do
    describe(ep .. ".php", function()
      local answers
      setup(function()
        answers = oracle.run("decode", ep, cjson.encode(ENVELOPES), #ENVELOPES)
      end)
      for i, env in ipairs(ENVELOPES) do
        it("decodes envelope " .. i .. " as PHP does", function()
          local want = answers[i]
          local call, f = soap_read.read(env, { max_depth = 72, max_nodes = 10000 })
          local got, fault
          if call then
            local value, _, text = soap_read.argument(call, "functionOptions", ep == "soap" and "array" or nil)
            got, fault = value, text
          else
            fault = f.text
          end
          if want.fault ~= cjson.null then
            assert.equal(want.fault, fault, env)
          else
            assert.is_nil(fault, env)
            assert.equal(canon_php(want.value), canon_lua(got), env)
          end
        end)
      end
    end)
  end
end)
