-- egoi.sandbox.codec_soap - /v2/soap.php and /v2/soap_any.php (route field
-- `endpoint` = "soap" | "soap_any"): GET ?wsdl serves the generated WSDL
-- (egoi.sandbox.wsdl, soap:address = the URL it was fetched on); POST takes a
-- SOAP 1.1 or 1.2 envelope (egoi.sandbox.soap_read), dispatches the body's
-- first element case-insensitively to the sandbox method of that name and
-- answers in the request's SOAP version (egoi.sandbox.soap_write). Faults
-- (HTTP 500) as PHP ext/soap sends them; business errors are normal answers.
local soap_read = require "egoi.sandbox.soap_read"
local soap_write = require "egoi.sandbox.soap_write"
local soap_ops = require "egoi.sandbox.soap_ops"
local wsdl = require "egoi.sandbox.wsdl"
local answer = require "egoi.sandbox.answer"

local M = {}

local CTYPE = { ["1.1"] = "text/xml; charset=utf-8", ["1.2"] = "application/soap+xml; charset=utf-8" }

-- the operation index of an endpoint, built once per api object
local cache = setmetatable({}, { __mode = "k" })
local function operations(api, endpoint)
  local per = cache[api]
  if not per then per = {}; cache[api] = per end
  if not per[endpoint] then
    local ops, index = soap_ops.operations(endpoint, api:names())
    per[endpoint] = { ops = ops, index = index }
  end
  return per[endpoint].index
end

local function has_wsdl_key(query)
  for pair in (query or ""):gmatch("[^&]+") do
    if (pair:match("^([^=]*)") or "") == "wsdl" then return true end
  end
  return false
end

local function fault(version, code, text, label)
  version = version or "1.1"
  return answer(500, CTYPE[version], soap_write.fault(version, code, text)), label or "-", "FAULT"
end

local DECLARED = { ["soap-enc:Array"] = "array", ["xsd:string"] = "string" }

function M.serve(req, ctx, route)
  local endpoint = route.endpoint
  local ep = soap_ops.ENDPOINTS[endpoint]
  if req.method == "GET" then
    if has_wsdl_key(req.query) then
      local host = req.headers.host or (ctx.cfg.host .. ":" .. tostring(ctx.cfg.port))
      local text = wsdl.generate(endpoint, ctx.api:names(), "http://" .. host .. req.path)
      return answer(200, "text/xml; charset=utf-8", text), "wsdl", "OK"
    end
    return answer(200, "text/html; charset=UTF-8", ""), "-", "NO_WSDL"
  elseif req.method ~= "POST" then
    local r = answer(405, "text/plain; charset=utf-8", "use POST (or GET ?wsdl)\n")
    r.headers[#r.headers + 1] = { "Allow", "GET, POST" }
    return r, "-", "BAD_REQUEST"
  end
  local limits = { max_depth = ctx.cfg.max_depth * 2 + 8, max_nodes = ctx.cfg.max_fields }
  local call, f = soap_read.read(req.body, limits)
  if not call then return fault(f.version, f.code, f.text) end
  local v = call.version
  local op = operations(ctx.api, endpoint)[call.op:lower()]
  if not op then return fault(v, "ProcedureNotPresent", "Procedure '" .. call.op .. "' not present", call.op) end
  local options = {}
  local input = op.inputs[1]
  if input then
    local value, code, text = soap_read.argument(call, input.name, DECLARED[input.type])
    if code then return fault(v, code, text, op.name) end
    value = soap_read.to_options(value)
    if input.name == "functionOptions" then
      if type(value) == "table" then options = value end
    else
      options[input.name] = value
    end
  end
  local out = ctx.call(op.name, options, #req.body)
  if out.kind ~= "result" then return fault(v, "ProcedureNotPresent", "Procedure '" .. call.op .. "' not present") end
  if out.http >= 500 then return fault(v, "Server", tostring(out.code), op.name) end
  local body, bad = soap_write.response(v, ep.uri, op.name, out.value, op.output)
  if not body then return fault(v, "Server", bad, op.name) end
  return answer(out.http, CTYPE[v], body, out.headers), op.name, out.code
end

return M
