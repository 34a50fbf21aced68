-- egoi.protocol.soap - E-goi v2 SOAP, both endpoints: standard soap.php
-- (this module) and universal soap_any.php (egoi.protocol.soap_any, the same
-- code through M.endpoint). Requests are SOAP 1.1 exactly as PHP SoapClient
-- writes them (core.soap_request: the arguments as an Apache Map, lists as
-- SOAP-ENC:Array, a quoted SOAPAction "<namespace>#<operation>"); answers
-- (SOAP 1.1 or 1.2) are read in C by core.soap_response straight into the
-- neutral result shape. A SOAP Fault is a `protocol` error SOAP_FAULT with
-- the faultcode/faultstring in `detail`; business errors (an ERROR map, a
-- bare error-code string) are normal answers the client classifies.
local core = require "egoi.core"

local type, pcall, tostring = type, pcall, tostring
local soap_request, soap_response = core.soap_request, core.soap_response

-- operations the WSDLs declare without an input part
local NO_PARTS = { check_status = true, getAllErrors = true, getError = true }

local function endpoint(name)
  local ns = "http://api.e-goi.com/v2/" .. name .. ".php"
  local M = { name = name, default_url = "https://api.e-goi.com/v2/" .. name .. ".php", namespace = ns }

  -- the operation's WSDL spelling: the catalogue's wire name (`checklogin`,
  -- `getExtraFields`), or entry.soap when a catalogue entry names another
  local function operation(method, entry)
    return entry and entry.soap or method
  end

  function M.build(ctx, method, options, entry, body)
    if body ~= nil then
      return nil, { kind = "usage", code = "INVALID_ARGUMENT",
        message = "call_buffer: the packed form body (body_buffer/call_buffer) is REST-only; over " .. name
          .. " call " .. method .. " with client:call (rows as a list)" }
    end
    local op = operation(method, entry)
    local ok, b = pcall(soap_request, ns, op, (not NO_PARTS[op]) and ctx.arguments(options) or nil)
    if not ok then
      return nil, { kind = "usage", code = "INVALID_ARGUMENT",
        message = method .. ": cannot encode arguments: " .. ctx.scrub(tostring(b)) }
    end
    return { verb = "POST", url = ctx.url, body = b,
      headers = { ["Content-Type"] = "text/xml; charset=utf-8", SOAPAction = '"' .. ns .. "#" .. op .. '"' } }
  end

  -- no packed body: say so where REST's bulk path would take one
  function M.body_buffer(_, method)
    return nil, { kind = "usage", code = "INVALID_ARGUMENT",
      message = "body_buffer: the packed form body is REST-only; over " .. name .. " call " .. method
        .. " with client:call (rows as a list)" }
  end

  function M.parse(ctx, response)
    local status, body = response.status, response.body or ""
    if body:match("^%s*$") then
      return nil, { kind = "protocol", code = "UNEXPECTED_RESPONSE", http_status = status,
        message = "the server's SOAP answer is empty" }
    end
    local ok, v, m = soap_response(body)
    if ok == true then
      if v == nil then return {} end
      if type(v) ~= "table" then return { response = v } end
      return v
    elseif ok == false then
      local code, text = ctx.scrub(tostring(v.faultcode)), ctx.scrub(tostring(v.faultstring))
      return nil, { kind = "protocol", code = "SOAP_FAULT", http_status = status, answered = true,
        message = "SOAP fault " .. ctx.snippet(code) .. ": " .. ctx.snippet(text),
        detail = { faultcode = code, faultstring = text, version = v.version } }
    end
    return nil, { kind = "protocol", code = v or "MALFORMED_XML", http_status = status,
      message = "the server's SOAP answer: " .. ctx.scrub(m or "malformed") }
  end

  return M
end

local M = endpoint("soap")
M.endpoint = endpoint
return M
