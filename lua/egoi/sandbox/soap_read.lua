-- egoi.sandbox.soap_read - a SOAP request envelope (1.1 or 1.2) parsed with
-- lxp and its parameters decoded the way PHP ext/soap decodes them
-- (egoi-v2-soap.md §3.5, §6 "Decoding rules").
--
-- read(body, limits) -> call | nil, fault
--   limits = { max_depth = N, max_nodes = N }
--   call   = { version = "1.1"|"1.2", op = "<local name>", parts = { node, ... },
--             decode = function(node, declared) -> value }
--   fault  = { code = "Client"|"Server"|"VersionMismatch"|"MustUnderstand", text = "...", version = }
-- argument(call, name, declared) picks and decodes one part (below).
-- Decoded values: strings, integers, floats, booleans, M.NULL, lists
-- (shape.list, 1-based) and maps (string keys). `declared` is the WSDL
-- type of the part: "array" (soap-enc:Array: an element without a known
-- xsi:type decodes as a keyless list, as PHP does on soap.php) or nil (anyType:
-- PHP guesses: element children -> struct, else a string).
local lxp = require "lxp"
local shape = require "egoi.sandbox.shape"
local util = require "egoi.sandbox.util"

local M = {}

local toint = math.tointeger or function(x) return x end

M.NULL = setmetatable({}, { __tostring = function() return "NULL" end })

local SEP = "\1"
local ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
local ENV12 = "http://www.w3.org/2003/05/soap-envelope"
local ENC11 = "http://schemas.xmlsoap.org/soap/encoding/"
local ENC12 = "http://www.w3.org/2003/05/soap-encoding"
local XSI = { ["http://www.w3.org/2001/XMLSchema-instance"] = true,
              ["http://www.w3.org/1999/XMLSchema-instance"] = true,
              ["http://www.w3.org/2000/10/XMLSchema-instance"] = true }
local XSD = { ["http://www.w3.org/2001/XMLSchema"] = true, ["http://www.w3.org/1999/XMLSchema"] = true,
              ["http://www.w3.org/2000/10/XMLSchema"] = true, [ENC11] = true, [ENC12] = true }
local APACHE = "http://xml.apache.org/xml-soap"
M.ENV11, M.ENV12 = ENV11, ENV12

-- xsd / soap-enc scalar type names -> decoder kind
local SCALAR = {
  string = "string", normalizedString = "string", token = "string", anyURI = "string", QName = "string",
  language = "string", Name = "string", NCName = "string", NMTOKEN = "string", ID = "string", IDREF = "string",
  dateTime = "string", date = "string", time = "string", duration = "string", gYear = "string",
  gYearMonth = "string", gMonth = "string", gMonthDay = "string", gDay = "string", ENTITY = "string",
  int = "int", integer = "int", long = "int", short = "int", byte = "int", nonNegativeInteger = "int",
  positiveInteger = "int", nonPositiveInteger = "int", negativeInteger = "int", unsignedLong = "int",
  unsignedInt = "int", unsignedShort = "int", unsignedByte = "int",
  float = "float", double = "float", decimal = "float",
  boolean = "bool", base64Binary = "base64", base64 = "base64", hexBinary = "hex",
  anyType = "guess", ["ur-type"] = "guess", anySimpleType = "string",
}

local function split(name)
  local uri, l = name:match("^(.-)" .. SEP .. "(.*)$")
  if uri then return uri, l end
  return "", name
end

local function fault(code, text) return { code = code, text = text } end

-- Element nodes are kept small (bulk requests carry millions of leaves): `name`,
-- `uri` only when namespaced, `kids` only when it has children (read them with
-- kids()), `text` a string or a list of pieces, `type` an interned QName table.
local NO_KIDS = setmetatable({}, { __newindex = function() error("NO_KIDS is read-only") end })
local function kids(n) return n.kids or NO_KIDS end
M.kids = kids

-- parse ------------------------------------------------------------------

local function parse(body, limits)
  local max_depth, max_nodes = limits.max_depth or 64, limits.max_nodes or 1000000
  local scopes = {}            -- prefix -> stack of URIs ("" = default)
  local stack, nodes = {}, 0
  local root, ids = nil, {}
  local qnames = {}
  local function resolve_qname(v)
    if not v then return nil end
    local pre, l = v:match("^%s*([^:%s]+):([^%s]+)%s*$")
    if not pre then pre, l = "", v:match("^%s*(.-)%s*$") end
    local s = scopes[pre]
    local uri = s and s[#s] or ""
    local key = uri .. SEP .. l
    local q = qnames[key]
    if not q then q = { uri = uri, name = l }; qnames[key] = q end
    return q
  end
  local function fail(msg) error({ msg }, 0) end
  local cb = {
    StartDoctypeDecl = function() fail("DTD") end,
    EntityDecl = function() fail("DTD") end,
    StartNamespaceDecl = function(_, prefix, uri)
      prefix = prefix or ""
      local s = scopes[prefix]
      if not s then s = {}; scopes[prefix] = s end
      s[#s + 1] = uri or ""
    end,
    EndNamespaceDecl = function(_, prefix)
      local s = scopes[prefix or ""]
      if s then s[#s] = nil end
    end,
    StartElement = function(_, name, attrs)
      nodes = nodes + 1
      if nodes > max_nodes then fail("too many elements") end
      if #stack >= max_depth then fail("document nested too deep") end
      local uri, l = split(name)
      local n = { name = l }
      if uri ~= "" then n.uri = uri end
      for i = 1, #attrs do
        local an = attrs[i]
        local auri, al = split(an)
        local v = attrs[an]
        if XSI[auri] then
          if al == "type" then n.type = resolve_qname(v)
          elseif al == "nil" then n.isnil = (v == "true" or v == "1") end
        elseif auri == ENC11 and al == "arrayType" then
          n.atype = resolve_qname((v:gsub("%[[%d,%s]*%]$", ""))); n.arrayish = true
        elseif auri == ENC12 and al == "itemType" then
          n.atype = resolve_qname(v); n.arrayish = true
        elseif auri == ENC12 and al == "arraySize" then n.arrayish = true
        elseif auri == ENC12 and al == "id" then ids[v] = n
        elseif auri == ENC12 and al == "ref" then n.href = v
        elseif auri == "" and al == "id" then ids[v] = n
        elseif auri == "" and al == "href" then n.href = v:gsub("^#", "")
        elseif (auri == ENV11 or auri == ENV12) and al == "mustUnderstand" then
          n.must = (v == "1" or v == "true")
        end
      end
      local parent = stack[#stack]
      if parent then
        local list = parent.kids
        if not list then list = {}; parent.kids = list end
        list[#list + 1] = n
      else
        root = n
      end
      stack[#stack + 1] = n
    end,
    CharacterData = function(_, s)
      local top = stack[#stack]
      local t = top.text
      if t == nil then top.text = s
      elseif type(t) == "string" then top.text = { t, s }
      else t[#t + 1] = s end
    end,
    EndElement = function() stack[#stack] = nil end,
  }
  local p = lxp.new(cb, SEP)
  -- expat's own message is not sent: PHP answers every unparseable document "Bad Request"
  local ok, res = pcall(function()
    return p:parse(body) and p:parse() and true
  end)
  pcall(p.close, p)
  if not ok then
    if type(res) == "table" and res[1] == "DTD" then return nil, fault("Server", "DTD are not supported by SOAP") end
    return nil, fault("Client", "Bad Request")
  end
  if not res or not root then return nil, fault("Client", "Bad Request") end
  return root, ids, nodes
end

-- decode -----------------------------------------------------------------

local function text_of(n)
  local t = n.text
  if t == nil then return "" end
  if type(t) == "string" then return t end
  return table.concat(t)
end

local elements = kids

-- `budget` bounds the values built: href/id sharing cannot expand a small
-- document into an exponential tree (a "billion laughs" made of multiRefs)
local function decoder(ids, max_depth, budget)
  local decode
  local function deref(n)
    local hops = 0
    while n.href do
      local t = ids[n.href]
      if not t then error("SOAP-ERROR: Encoding: Unresolved reference '#" .. n.href .. "'", 0) end
      hops = hops + 1
      if hops > 32 then error("SOAP-ERROR: Encoding: Violation of id and href", 0) end
      n = t
    end
    return n
  end
  local function kind_of(t)
    if not t then return nil end
    if t.uri == APACHE and t.name == "Map" then return "map" end
    if (t.uri == ENC11 or t.uri == ENC12) and t.name == "Array" then return "array" end
    if (t.uri == ENC11 or t.uri == ENC12) and t.name == "Struct" then return "struct" end
    if XSD[t.uri] then return SCALAR[t.name] end
    return nil
  end
  local function guess(n)
    if n.arrayish then return "array" end
    if n.kids then return "struct" end
    return "string"
  end
  local function scalar(kind, n)
    local s = text_of(n)
    if kind == "string" then return s end
    local t = s:match("^%s*(.-)%s*$")
    if kind == "int" then
      local i = t:match("^[%+%-]?%d+$") and toint(tonumber(t))
      if i then return i end
      local f = tonumber(t)
      if f and t:match("^[%+%-]?%d+$") then return f end   -- beyond 64 bits: a float, as in PHP
      error("SOAP-ERROR: Encoding: Violation of encoding rules", 0)
    elseif kind == "float" then
      local f = tonumber(t)
      if t == "INF" then return math.huge elseif t == "-INF" then return -math.huge elseif t == "NaN" then
        return 0 / 0
      end
      if not f or t:find("^0[xX]") then error("SOAP-ERROR: Encoding: Violation of encoding rules", 0) end
      return f + 0.0
    elseif kind == "bool" then
      local l = t:lower()
      return l == "true" or l == "t" or l == "1"
    elseif kind == "base64" then
      local b = util.b64decode((t:gsub("%s", "")))
      if not b then error("SOAP-ERROR: Encoding: Violation of encoding rules", 0) end
      return b
    elseif kind == "hex" then
      if #t % 2 ~= 0 or t:find("[^%x]") then error("SOAP-ERROR: Encoding: Violation of encoding rules", 0) end
      return (t:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
    end
    return s
  end
  function decode(n, declared, depth)
    depth = depth or 0
    if depth > max_depth then error("SOAP-ERROR: Encoding: document nested too deep", 0) end
    budget = budget - 1
    if budget < 0 then error("SOAP-ERROR: Encoding: too many references", 0) end
    n = deref(n)
    if n.isnil then return M.NULL end
    local kind = kind_of(n.type)
    if kind == "guess" then kind = nil end
    if not kind then kind = declared or guess(n) end
    if kind == "guess" then kind = guess(n) end
    if kind == "array" then
      local item = kind_of(n.atype)
      if item == "guess" then item = nil end
      local out = shape.list()
      for _, k in ipairs(elements(n)) do out[#out + 1] = decode(k, item, depth + 1) end
      return out
    elseif kind == "map" then
      local out, count = {}, 0
      for _, it in ipairs(elements(n)) do
        local key, value
        for _, c in ipairs(kids(it)) do
          if c.name == "key" and not key then key = c elseif c.name == "value" and not value then value = c end
        end
        if not key then error("SOAP-ERROR: Encoding: Can't decode apache map, missing key", 0) end
        if not value then error("SOAP-ERROR: Encoding: Can't decode apache map, missing value", 0) end
        local k = decode(key, nil, depth + 1)
        if type(k) == "table" then
          error("SOAP-ERROR: Encoding: Can't decode apache map, only Strings or Longs are allowd as keys", 0)
        end
        local ks = shape.str(k)
        if out[ks] == nil then count = count + 1 end
        out[ks] = decode(value, nil, depth + 1)
      end
      if count == 0 then return shape.list() end
      return out
    elseif kind == "struct" then
      local out, seen = {}, {}
      for _, c in ipairs(elements(n)) do
        local v = decode(c, nil, depth + 1)
        if seen[c.name] == nil then
          out[c.name] = v; seen[c.name] = 1
        else
          if seen[c.name] == 1 then out[c.name] = shape.list{ out[c.name] } end
          seen[c.name] = seen[c.name] + 1
          local l = out[c.name]
          l[#l + 1] = v
        end
      end
      return out
    end
    return scalar(kind, n)
  end
  return decode
end

function M.read(body, limits)
  if body:find("<!DOCTYPE", 1, true) or body:find("<!doctype", 1, true) or body:find("<!ENTITY", 1, true) then
    return nil, fault("Server", "DTD are not supported by SOAP")
  end
  local root, ids, nodes = parse(body, limits)
  if not root then return nil, ids end
  local version = root.uri == ENV11 and "1.1" or (root.uri == ENV12 and "1.2") or nil
  if root.name ~= "Envelope" or not version then return nil, fault("VersionMismatch", "Wrong Version") end
  local env = root.uri
  local function flt(code, text) local f = fault(code, text); f.version = version; return f end
  local head, bodyn
  for _, k in ipairs(kids(root)) do
    if k.uri == env and k.name == "Header" and not head and not bodyn then head = k
    elseif k.uri == env and k.name == "Body" and not bodyn then bodyn = k end
  end
  if not bodyn then return nil, flt("Client", "Body must be present in a SOAP envelope") end
  if head then
    for _, h in ipairs(kids(head)) do
      if h.must then return nil, flt("MustUnderstand", "Header not understood") end
    end
  end
  local op = kids(bodyn)[1]
  if not op then return nil, flt("Client", 'looks like we got "Body" without function call') end
  local decode = decoder(ids, limits.max_depth or 64, 4 * nodes + 1000)
  return { version = version, op = op.name, parts = kids(op), decode = decode }
end

-- argument(call, name, declared) -> value | nil, fault_code, fault_text
-- The part `name` of the operation, decoded: matched by name, else by position
-- when the operation element has exactly one child (PHP's rule).
function M.argument(call, name, declared)
  local node
  for _, p in ipairs(call.parts) do
    if p.name == name then node = p; break end
  end
  if not node then
    if #call.parts == 1 then node = call.parts[1]
    elseif #call.parts == 0 then return nil, "Client", "Missing parameter"
    else return nil, "Client", "Error cannot find parameter" end
  end
  local ok, value = pcall(call.decode, node, declared)
  if not ok then return nil, "Server", tostring(value) end
  return value
end

-- the REST shape the handlers know: scalars as strings (booleans "1"/"0"),
-- lists and maps as tables with string keys ("0".."n-1" for lists), NULL dropped
function M.to_options(v, depth)
  depth = depth or 0
  if depth > 200 then return nil end
  if v == M.NULL or v == nil then return nil end
  if type(v) == "table" then
    local out = {}
    if shape.kind(v) == "list" then
      for i = 1, #v do out[tostring(i - 1)] = M.to_options(v[i], depth + 1) end
    else
      for k, x in pairs(v) do out[tostring(k)] = M.to_options(x, depth + 1) end
    end
    return out
  end
  return shape.str(v)
end

return M
