-- egoi.sandbox.envelope - REST answers in the Zend_Rest_Server shape.
--   {"Egoi_Api":{"<method>":{ ...result..., "status":"success"}}}
-- Lists become key_0.., id maps key_<id>, every scalar a string, empty
-- nested tables "", scalar results {"response": "..."}. Keys are written in
-- a fixed order (key_N numerically, other keys sorted, status last).
local shape = require "egoi.sandbox.shape"

local M = {}

local function jstr(s)
  s = shape.str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    return ("\\u%04x"):format(c:byte())
  end) .. '"'
end
M.jstr = jstr

local encode

-- returns list of {key, value} for a table value
local function members(v)
  local kind = shape.kind(v)
  local out = {}
  if kind == "list" then
    for i = 1, #v do out[#out + 1] = { "key_" .. (i - 1), v[i] } end
  elseif kind == "idmap" then
    for _, k in ipairs(shape.keys(v, true)) do out[#out + 1] = { "key_" .. k, v[k] } end
  else
    for _, k in ipairs(shape.keys(v)) do out[#out + 1] = { k, v[k] } end
  end
  return out
end

local function object(list, parts, depth)
  parts[#parts + 1] = "{"
  for i, kv in ipairs(list) do
    if i > 1 then parts[#parts + 1] = "," end
    parts[#parts + 1] = jstr(kv[1])
    parts[#parts + 1] = ":"
    encode(kv[2], parts, depth + 1)
  end
  parts[#parts + 1] = "}"
end

function encode(v, parts, depth)
  if depth > 64 then error("result nested too deep") end
  if type(v) ~= "table" then parts[#parts + 1] = jstr(v); return end
  local list = members(v)
  if #list == 0 then parts[#parts + 1] = '""'; return end
  object(list, parts, depth)
end

local function body_members(result, status)
  local list
  if type(result) == "table" then
    list = members(result)
  elseif result == nil then
    list = {}
  else
    list = { { "response", result } }
  end
  list[#list + 1] = { "status", status }
  return list
end

-- JSON envelope for a normal result (map, list or scalar)
function M.json(method, result, status)
  local parts = { '{"Egoi_Api":{', jstr(method), ":" }
  object(body_members(result, status or "success"), parts, 0)
  parts[#parts + 1] = "}}"
  return table.concat(parts)
end

-- transport-level failure: status "failed" + response.message
function M.json_failed(method, message)
  return M.json(method, { response = { message = message } }, "failed")
end

-- XML flavour (type other than json), Zend_Rest_Server style
local function xesc(s)
  return (shape.str(s):gsub("[<>&]", { ["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;" }))
end
M.xesc = xesc

local function xname(k)
  k = tostring(k)
  if not k:match("^[%a_][%w_%-%.]*$") then k = "key_" .. k:gsub("[^%w_]", "_") end
  return k
end

local function xml_value(v, parts, depth)
  if depth > 64 then error("result nested too deep") end
  if type(v) ~= "table" then parts[#parts + 1] = xesc(v); return end
  for _, kv in ipairs(members(v)) do
    local n = xname(kv[1])
    parts[#parts + 1] = "<" .. n .. ">"
    xml_value(kv[2], parts, depth + 1)
    parts[#parts + 1] = "</" .. n .. ">"
  end
end

function M.xml(method, result, status)
  local m = xname(method ~= "" and method or "response")
  local parts = { '<?xml version="1.0" encoding="UTF-8"?>\n<Egoi_Api generator="zend" version="1.0"><', m, ">" }
  for _, kv in ipairs(body_members(result, status or "success")) do
    local n = xname(kv[1])
    parts[#parts + 1] = "<" .. n .. ">"
    xml_value(kv[2], parts, 1)
    parts[#parts + 1] = "</" .. n .. ">"
  end
  parts[#parts + 1] = "</" .. m .. "></Egoi_Api>"
  return table.concat(parts)
end

return M
