-- egoi.sandbox.soap_write - SOAP answers written byte for byte as PHP
-- ext/soap writes them (egoi-v2-soap.md §4): one line after the XML
-- declaration, namespace declarations on the Envelope in first-use order,
-- PHP values encoded the PHP way (assoc array -> ns2:Map, list ->
-- SOAP-ENC:Array, string -> xsd:string, integer -> xsd:int, ...).
--
-- response(version, uri, op, value, rtype) -> body | nil, fault_text
--   value: a handler result (egoi.sandbox.shape kinds) or soap_read.NULL
--   rtype: the WSDL return type ("xsd:anyType", "xsd:boolean", "soap-enc:Array")
-- fault(version, code, text) -> body
--   code: "Client" | "Server" | "VersionMismatch" | "MustUnderstand" | "ProcedureNotPresent"
local shape = require "egoi.sandbox.shape"
local soap_read = require "egoi.sandbox.soap_read"

local M = {}

local NULL = soap_read.NULL
local URIS = {
  ns2 = "http://xml.apache.org/xml-soap",
  ["SOAP-ENC"] = "http://schemas.xmlsoap.org/soap/encoding/",
  enc = "http://www.w3.org/2003/05/soap-encoding",
  xsi = "http://www.w3.org/2001/XMLSchema-instance",
  xsd = "http://www.w3.org/2001/XMLSchema",
}
local DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

local function esc(s)
  return (s:gsub("[&<>\r]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ["\r"] = "&#13;" }))
end
M.esc = esc

-- PHP's message for a string that is not UTF-8: the valid prefix, the bad byte as \xNN, "..."
local function utf8_problem(s)
  if not s:find("[\128-\255]") then return nil end
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local extra = c < 0x80 and 0 or (c >= 0xC0 and c < 0xE0 and 1) or (c >= 0xE0 and c < 0xF0 and 2)
      or (c >= 0xF0 and c < 0xF8 and 3) or nil
    local ok = extra ~= nil
    for j = 1, extra or 0 do
      local b = s:byte(i + j)
      if not b or b < 0x80 or b > 0xBF then ok = false end
    end
    if not ok then
      return ("SOAP-ERROR: Encoding: string '%s\\x%02x...' is not a valid utf-8 string"):format(s:sub(1, i - 1), c)
    end
    i = i + 1 + extra
  end
  return nil
end

local function is_int(v)
  if math.type then return math.type(v) == "integer" end
  return v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53
end

-- PHP's float text (serialize_precision -1: shortest round trip, %G style)
local function float_text(v)
  if v ~= v then return "NAN" end
  if v == math.huge then return "INF" elseif v == -math.huge then return "-INF" end
  local s
  for p = 15, 17 do
    s = ("%." .. p .. "G"):format(v)
    if tonumber(s) == v then break end
  end
  local mant, ex = s:match("^(%-?[%d%.]+)E([%+%-]%d+)$")
  if mant then
    if not mant:find(".", 1, true) then mant = mant .. ".0" end
    local sign, digits = ex:match("^([%+%-])0*(%d+)$")
    s = mant .. "E" .. sign .. digits
  end
  return s
end

-- "null" | "bool" | "int" | "float" | "string" | "list" | "map" (PHP's view of a value)
local function kind(v)
  if v == nil or v == NULL then return "null" end
  local t = type(v)
  if t == "boolean" then return "bool" end
  if t == "number" then return is_int(v) and "int" or "float" end
  if t ~= "table" then return "string" end
  local k = shape.kind(v)
  if k == "list" then return "list" end
  local keys = shape.keys(v, k == "idmap")
  if #keys == 0 then return "list" end
  for i, key in ipairs(keys) do   -- keys exactly 0..n-1 in order: a PHP list
    if tostring(key) ~= tostring(i - 1) then return "map", keys end
  end
  return "list", keys
end

local function int_key(k)
  local s = tostring(k)
  return s:match("^%-?[1-9]%d*$") ~= nil and #s < 19 or s == "0"
end

local function items_of(v, keys)
  if shape.kind(v) == "list" then return v end
  local out = {}
  for i, k in ipairs(keys) do out[i] = v[k] end
  return out
end

local W = {}
W.__index = W

function W:use(p)
  if not self.seen[p] then self.seen[p] = true; self.order[#self.order + 1] = p end
end

function W:put(s) self.parts[#self.parts + 1] = s end

local SCALAR_TYPE = { bool = "xsd:boolean", int = "xsd:int", float = "xsd:float", string = "xsd:string" }

function W:type_of(v)
  local k = kind(v)
  if k == "null" then return "xsi:nil" end
  if k == "map" then return "ns2:Map" end
  if k == "list" then return self.v12 and "enc:Array" or "SOAP-ENC:Array" end
  return SCALAR_TYPE[k]
end

function W.scalar_text(_, k, v)
  if k == "bool" then return v and "true" or "false" end
  if k == "int" then return ("%d"):format(v) end
  if k == "float" then return float_text(v) end
  local s = tostring(v)
  local bad = utf8_problem(s)
  if bad then error({ bad }, 0) end
  return esc(s)
end

function W:value(name, v, depth)
  if depth > 64 then error({ "SOAP-ERROR: Encoding: result nested too deep" }, 0) end
  local k, keys = kind(v)
  if k == "null" then
    self:use("xsi")
    self:put("<" .. name .. ' xsi:nil="true"/>')
  elseif SCALAR_TYPE[k] then
    self:use("xsd"); self:use("xsi")
    self:put(("<%s xsi:type=\"%s\">%s</%s>"):format(name, SCALAR_TYPE[k], self:scalar_text(k, v), name))
  elseif k == "map" then
    self:put("<" .. name .. ' xsi:type="ns2:Map">')
    for _, key in ipairs(keys) do
      self:use("xsi")
      local kt = int_key(key) and "xsd:int" or "xsd:string"
      self:put(("<item><key xsi:type=\"%s\">%s</key>"):format(kt, self:scalar_text("string", key)))
      self:value("value", v[key], depth + 1)
      self:put("</item>")
    end
    self:put("</" .. name .. ">")
    self:use("ns2")
  else
    local items = items_of(v, keys or {})
    local t
    for i = 1, #items do
      local it = self:type_of(items[i])
      if t == nil then t = it elseif t ~= it then t = false; break end
    end
    local enc = self.v12 and "enc" or "SOAP-ENC"
    if t then
      -- PHP declares the common item type's prefix, then the encoding's (and, in
      -- SOAP 1.2, the 1.1 encoding's too for nested arrays); mixed or empty: the
      -- encoding's prefix first, then xsd for ur-type/anyType
      self:use(t:match("^([^:]+)"))
      if self.v12 and t == "enc:Array" then self:use("SOAP-ENC") end
      self:use(enc)
    else
      t = self.v12 and "xsd:anyType" or "xsd:ur-type"
      self:use(enc)
      self:use("xsd")
    end
    local attrs
    if self.v12 then
      attrs = (' enc:itemType="%s" enc:arraySize="%d" xsi:type="enc:Array"'):format(t, #items)
    else
      attrs = (' SOAP-ENC:arrayType="%s[%d]" xsi:type="SOAP-ENC:Array"'):format(t, #items)
    end
    if #items == 0 then
      self:use("xsi")
      self:put("<" .. name .. attrs .. "/>")
    else
      self:put("<" .. name .. attrs .. ">")
      for i = 1, #items do self:value("item", items[i], depth + 1) end
      self:put("</" .. name .. ">")
      self:use("xsi")
    end
  end
end

-- PHP's (bool) conversion
local function truthy(v)
  local k = kind(v)
  if k == "null" then return false end
  if k == "bool" then return v end
  if k == "int" or k == "float" then return v ~= 0 end
  if k == "string" then return v ~= "" and v ~= "0" end
  return next(v) ~= nil
end

function M.response(version, uri, op, value, rtype)
  local w = setmetatable({ parts = {}, seen = {}, order = {}, v12 = version == "1.2" }, W)
  w:use("ns1")
  if rtype == "xsd:boolean" then value = truthy(value) end
  local ok, err = pcall(w.value, w, "return", value, 0)
  if not ok then
    if type(err) == "table" then return nil, err[1] end
    error(err, 0)
  end
  -- as PHP's serializer: xsd and the encoding namespace are always declared, last if unused
  w:use("xsd")
  w:use(w.v12 and "enc" or "SOAP-ENC")
  local decls = {}
  for _, p in ipairs(w.order) do
    decls[#decls + 1] = (' xmlns:%s="%s"'):format(p, p == "ns1" and uri or URIS[p])
  end
  local inner = table.concat(w.parts)
  if w.v12 then
    return table.concat{ DECL, '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"',
      table.concat(decls), '><env:Body xmlns:rpc="http://www.w3.org/2003/05/soap-rpc"><ns1:', op,
      'Response env:encodingStyle="http://www.w3.org/2003/05/soap-encoding"><rpc:result>return</rpc:result>',
      inner, "</ns1:", op, "Response></env:Body></env:Envelope>\n" }
  end
  return table.concat{ DECL, '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"',
    table.concat(decls), ' SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body><ns1:',
    op, "Response>", inner, "</ns1:", op, "Response></SOAP-ENV:Body></SOAP-ENV:Envelope>\n" }
end

local CODE12 = { Client = "env:Sender", Server = "env:Receiver", VersionMismatch = "env:VersionMismatch",
                 MustUnderstand = "env:MustUnderstand", ProcedureNotPresent = "rpc:ProcedureNotPresent" }

function M.fault(version, code, text)
  if version == "1.2" then
    if code == "ProcedureNotPresent" then text = "Procedure not present" end
    return table.concat{ DECL, '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>',
      "<env:Fault><env:Code><env:Value>", CODE12[code] or ("env:" .. code), "</env:Value></env:Code><env:Reason>",
      "<env:Text>", esc(text), "</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>\n" }
  end
  if code == "ProcedureNotPresent" then code = "Server" end
  return table.concat{ DECL, '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">',
    "<SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:", code, "</faultcode><faultstring>", esc(text),
    "</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n" }
end

return M
