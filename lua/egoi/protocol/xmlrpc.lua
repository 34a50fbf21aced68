-- egoi.protocol.xmlrpc - E-goi v2 XML-RPC (xmlrpc.php): one struct param,
-- the answer parsed in C with libexpat (core.xmlrpc_response) and shaped
-- here, once, into the neutral result shape.
local core = require "egoi.core"

local type, pairs, next, pcall, tostring, tonumber = type, pairs, next, pcall, tostring, tonumber
local xmlrpc_request, xmlrpc_response = core.xmlrpc_request, core.xmlrpc_response

local M = {
  name = "xmlrpc",
  default_url = "https://api.e-goi.com/v2/xmlrpc.php",
}

local HEADERS = { ["Content-Type"] = "text/xml" }

function M.build(ctx, method, options, _, body)
  if body == nil then
    local ok, b = pcall(xmlrpc_request, method, ctx.arguments(options))
    if not ok then
      return nil, { kind = "usage", code = "INVALID_ARGUMENT",
        message = method .. ": cannot encode arguments: " .. ctx.scrub(tostring(b)) }
    end
    body = b
  end
  return { verb = "POST", url = ctx.url, headers = HEADERS, body = body }
end

-- "key_<n>" (n in canonical decimal, at most 9 digits) -> n, else nil
local function position(name)
  local d = type(name) == "string" and name:match("^key_(%d+)$")
  if not d or #d > 9 or (#d > 1 and d:sub(1, 1) == "0") then return nil end
  return tonumber(d)
end

-- The neutral shape, as REST gives it: a struct whose members are all ids
-- ("5", "9") is a key_<id> map, a list when its ids (or key_N members) are
-- exactly 0..n-1; a nested empty array or struct is "" (REST's empty
-- element); scalars stay the strings the service sent.
local function shape(v, top)
  if type(v) ~= "table" then return v end
  if next(v) == nil then
    if top then return v end
    return ""
  end
  local ids = true
  for k in pairs(v) do
    if type(k) ~= "string" or not k:match("^%d+$") then ids = false break end
  end
  local out, n, last, positional = {}, 0, -1, true
  for k, x in pairs(v) do
    local name = ids and ("key_" .. k) or k
    out[name] = shape(x)
    n = n + 1
    if positional then
      local i = position(name)
      if i == nil then positional = false elseif i > last then last = i end
    end
  end
  if positional and last == n - 1 then
    local list = {}
    for name, x in pairs(out) do list[position(name) + 1] = x end
    return list
  end
  return out
end

function M.parse(ctx, response)
  local status = response.status
  local ok, v, m = xmlrpc_response(response.body or "")
  if ok == true then
    if type(v) ~= "table" then v = { response = v } end
    return shape(v, true)
  elseif ok == false then
    return nil, { kind = "protocol", code = "XMLRPC_FAULT", http_status = status, answered = true,
      message = "XML-RPC fault " .. ctx.snippet(tostring(v.faultCode)) .. ": " .. ctx.snippet(tostring(v.faultString)),
      detail = { faultCode = ctx.scrub(v.faultCode), faultString = ctx.scrub(v.faultString) } }
  end
  return nil, { kind = "protocol", code = v or "MALFORMED_XML", http_status = status,
    message = ctx.scrub(m or "malformed XML-RPC answer") }
end

return M
