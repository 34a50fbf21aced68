-- egoi.protocol.rest - E-goi v2 REST (rest.php): a PHP-style form POST,
-- the answer JSON under Egoi_Api.<method> with PHP lists as key_N objects
-- (folded into arrays while decoding).
local core = require "egoi.core"

local type, pairs, pcall, tostring = type, pairs, pcall, tostring
local form_request, normalize = core.form_request, core.normalize

local M = {
  name = "rest",
  default_url = "https://api.e-goi.com/v2/rest.php",
}

local HEADERS = { ["Content-Type"] = "application/x-www-form-urlencoded" }

local function encode(ctx, method, options)
  local ok, body = pcall(form_request, method, ctx.arguments(options), "json")
  if not ok then
    return nil, { kind = "usage", code = "INVALID_ARGUMENT",
      message = method .. ": cannot encode arguments: " .. ctx.scrub(tostring(body)) }
  end
  return body
end

function M.build(ctx, method, options, _, body)
  if body == nil then
    local err
    body, err = encode(ctx, method, options)
    if not body then return nil, err end
  end
  return { verb = "POST", url = ctx.url, headers = HEADERS, body = body }
end

function M.body_buffer(ctx, method, options)
  local head, err = encode(ctx, method, options)
  if not head then return nil, err end
  local fb = core.form_buffer()
  fb:add_raw(head)
  return fb
end

-- Find the result object under Egoi_Api.<method> (the key is the method as
-- called; match case-insensitively, and accept a single key of any name).
local function unwrap(doc, method)
  if type(doc) ~= "table" then return nil end
  local api = doc.Egoi_Api
  if type(api) ~= "table" then return nil end
  local inner = api[method]
  if inner == nil then
    local lname, only, n = method:lower(), nil, 0
    for k, v in pairs(api) do
      n = n + 1
      only = v
      if type(k) == "string" and k:lower() == lname then inner = v end
    end
    if inner == nil and n == 1 then inner = only end
  end
  return inner
end

function M.parse(ctx, response, method)
  local status, body = response.status, response.body
  if body == nil or body:match("^%s*$") then
    return {} -- an empty 200 body means "no data" (the vendor's PHP wrapper)
  end
  -- one pass: JSON -> Lua with key_N objects already folded into arrays
  local doc, code, why = ctx.json_decode(body)
  if doc == nil then
    return nil, { kind = "protocol", code = code,
      message = ("the server's answer is not valid JSON (%s): %s"):format(why, ctx.snippet(body)),
      http_status = status }
  end
  local inner = unwrap(doc, method)
  if inner == nil then
    if type(doc) ~= "table" then
      return {} -- a top-level JSON scalar: no data
    end
    return nil, { kind = "protocol", code = "UNEXPECTED_RESPONSE",
      message = "the answer has no Egoi_Api." .. method .. " object: " .. ctx.snippet(body),
      http_status = status }
  end
  if type(inner) ~= "table" then
    inner = { response = inner }
  end
  local st = inner.status
  if st == nil then return inner end
  inner.status = nil
  if st == "failed" then
    local msg = type(inner.response) == "table" and inner.response.message or inner.response
    return nil, { kind = "protocol", code = "SERVER_FAULT", http_status = status,
      message = "the server reported a failure: " .. ctx.snippet(tostring(msg or "no message")) }
  end
  -- {"key_0": ..., "key_1": ..., "status": "success"}: a list once status is gone
  return normalize(inner, true)
end

return M
