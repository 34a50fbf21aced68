-- egoi.sandbox.xmlrpc - XML-RPC methodCall parsing (lxp) and methodResponse writing.
--
-- parse(body, max_depth) -> method, params | nil, message
--   params: list of values; struct -> table (string keys), array -> table with
--   keys "0".."n-1" (the same shape the REST form parser gives), scalars -> strings
--   (boolean "1"/"0", nil ""). DOCTYPE / entity declarations are refused.
local lxp = require "lxp"
local shape = require "egoi.sandbox.shape"
local envelope = require "egoi.sandbox.envelope"
local util = require "egoi.sandbox.util"

local M = {}

local SCALARS = {
  string = true, int = true, i4 = true, i8 = true, double = true, boolean = true,
  base64 = true, ["dateTime.iso8601"] = true, ["nil"] = true,
}

local function scalar(tag, text)
  if tag == "boolean" then
    local t = text:match("^%s*(.-)%s*$")
    if t ~= "0" and t ~= "1" then error("bad boolean", 0) end
    return t
  elseif tag == "int" or tag == "i4" or tag == "i8" then
    local t = text:match("^%s*([%+%-]?%d+)%s*$")
    if not t then error("bad integer", 0) end
    return (t:gsub("^%+", ""))
  elseif tag == "double" then
    local t = text:match("^%s*(.-)%s*$")
    if not tonumber(t) then error("bad double", 0) end
    return t
  elseif tag == "base64" then
    return util.b64decode(text) or error("bad base64", 0)
  elseif tag == "nil" then
    return ""
  end
  return text
end

local PARENTS = {
  methodCall = { [""] = true }, methodName = { methodCall = true }, params = { methodCall = true },
  param = { params = true }, value = { param = true, member = true, data = true },
  struct = { value = true }, member = { struct = true }, name = { member = true },
  array = { value = true }, data = { array = true },
}

function M.parse(body, max_depth)
  max_depth = max_depth or 64
  if body:find("<!DOCTYPE", 1, true) or body:find("<!ENTITY", 1, true) or body:find("<!doctype") then
    return nil, "DOCTYPE and entity declarations are not allowed"
  end
  local stack = { { tag = "", text = {} } }
  local root = stack[1]
  local function fail(msg) error(msg, 0) end
  local callbacks = {
    StartDoctypeDecl = function() fail("DOCTYPE not allowed") end,
    EntityDecl = function() fail("entity declarations not allowed") end,
    StartElement = function(_, tag)
      local parent = stack[#stack]
      if #stack > max_depth then fail("document nested too deep") end
      local ok = PARENTS[tag] and PARENTS[tag][parent.tag]
      if SCALARS[tag] then ok = parent.tag == "value" end
      if not ok then fail("unexpected element <" .. tag .. "> in <" .. parent.tag .. ">") end
      if parent.tag == "value" then
        if parent.typed_seen then fail("several types in one <value>") end
        parent.typed_seen = true
      end
      stack[#stack + 1] = { tag = tag, text = {}, items = {}, map = {} }
    end,
    CharacterData = function(_, s)
      local top = stack[#stack]
      local t = top.text
      t[#t + 1] = s
    end,
    EndElement = function(_, tag)
      local f = table.remove(stack)
      local parent = stack[#stack]
      local text = table.concat(f.text)
      if SCALARS[tag] then
        parent.value = scalar(tag, text)
      elseif tag == "struct" then
        parent.value = f.map
      elseif tag == "array" then
        local t = {}
        for i, v in ipairs(f.items) do t[tostring(i - 1)] = v end
        parent.value = t
      elseif tag == "data" then
        parent.items = f.items
      elseif tag == "value" then
        local v = f.value
        if not f.typed_seen then v = text end
        if parent.tag == "data" then parent.items[#parent.items + 1] = v
        else parent.value = v end
      elseif tag == "name" then
        parent.name = text
      elseif tag == "member" then
        if not f.name or f.value == nil then fail("incomplete struct member") end
        parent.map[f.name] = f.value
      elseif tag == "param" then
        if f.value == nil then fail("empty param") end
        parent.items[#parent.items + 1] = f.value
      elseif tag == "params" then
        parent.params = f.items
      elseif tag == "methodName" then
        parent.method = text:match("^%s*(.-)%s*$")
      elseif tag == "methodCall" then
        parent.call = f
      end
    end,
  }
  local p = lxp.new(callbacks)
  local ok, res, msg = pcall(function()
    local r1, m1 = p:parse(body)
    if not r1 then return nil, m1 end
    local r2, m2 = p:parse()
    if not r2 then return nil, m2 end
    return true
  end)
  pcall(p.close, p)
  if not ok then return nil, tostring(res) end
  if not res then return nil, "malformed XML: " .. tostring(msg) end
  local call = root.call
  if not call or not call.method or call.method == "" then return nil, "no methodCall/methodName" end
  return call.method, call.params or {}
end

-- serialisation ------------------------------------------------------------

local function value(v, parts, depth)
  if depth > 64 then error("result nested too deep") end
  local kind = shape.kind(v)
  if kind == "scalar" then
    parts[#parts + 1] = "<value><string>" .. envelope.xesc(v) .. "</string></value>"
  elseif kind == "list" then
    parts[#parts + 1] = "<value><array><data>"
    for i = 1, #v do value(v[i], parts, depth + 1) end
    parts[#parts + 1] = "</data></array></value>"
  else
    parts[#parts + 1] = "<value><struct>"
    for _, k in ipairs(shape.keys(v, kind == "idmap")) do
      parts[#parts + 1] = "<member><name>" .. envelope.xesc(k) .. "</name>"
      value(v[k], parts, depth + 1)
      parts[#parts + 1] = "</member>"
    end
    parts[#parts + 1] = "</struct></value>"
  end
end

function M.response(result)
  local parts = { '<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><params><param>' }
  if result == nil then result = shape.list() end
  value(result, parts, 0)
  parts[#parts + 1] = "</param></params></methodResponse>\n"
  return table.concat(parts)
end

function M.fault(code, message)
  return '<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><fault><value><struct>'
    .. "<member><name>faultCode</name><value><int>" .. code .. "</int></value></member>"
    .. "<member><name>faultString</name><value><string>" .. envelope.xesc(message)
    .. "</string></value></member></struct></value></fault></methodResponse>\n"
end

return M
