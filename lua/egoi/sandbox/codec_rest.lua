-- egoi.sandbox.codec_rest - /v2/rest.php: PHP $_REQUEST form parameters in,
-- Zend_Rest_Server JSON or XML envelopes out (see egoi.sandbox.routes).
local form = require "egoi.sandbox.form"
local envelope = require "egoi.sandbox.envelope"
local answer = require "egoi.sandbox.answer"

local M = {}

local JSON = "application/json; charset=utf-8"
local XML = "text/xml; charset=utf-8"

function M.serve(req, ctx)
  if req.method ~= "GET" and req.method ~= "POST" then
    local r = answer(405, JSON, envelope.json_failed("", "method not allowed"))
    r.headers[#r.headers + 1] = { "Allow", "GET, POST" }
    return r, "-", "BAD_REQUEST"
  end
  local limits = { max_depth = ctx.cfg.max_depth, max_fields = ctx.cfg.max_fields }
  local params, perr = form.parse(req.query, limits)
  if params and req.method == "POST" and req.body ~= "" then
    local ctype = (req.headers["content-type"] or ""):lower()
    if ctype == "" or ctype:find("x-www-form-urlencoded", 1, true) or ctype:find("text/plain", 1, true) then
      local body
      body, perr = form.parse(req.body, limits)
      if body then form.merge(params, body) else params = nil end
    else
      params, perr = nil, "unsupported Content-Type (use application/x-www-form-urlencoded)"
    end
  end
  local method = params and type(params.method) == "string" and params.method or ""
  if not params then
    return answer(400, JSON, envelope.json_failed(method, perr)), method, "BAD_REQUEST"
  end
  local as_xml = not (type(params.type) == "string" and params.type:lower() == "json")
  local enc = as_xml and envelope.xml or envelope.json
  local ctype = as_xml and XML or JSON
  local fo
  for k, v in pairs(params) do if k:lower() == "functionoptions" then fo = v end end
  if method == "" then
    return answer(404, ctype, enc("", { response = { message = "No method given" } }, "failed")), "-", "NO_METHOD"
  end
  local out = ctx.call(method, fo, #req.body + #req.query)
  if out.kind == "unknown" then
    return answer(404, ctype, enc(method, { response = { message = "Unknown Method '" .. method .. "'." } },
      "failed")), method, "UNKNOWN_METHOD"
  elseif out.kind == "noargs" then
    return answer(400, ctype, enc(method, { response = { message = "Missing argument(s): functionOptions" } },
      "failed")), method, "MISSING_ARGUMENTS"
  end
  return answer(out.http, ctype, enc(method, out.value), out.headers), method, out.code
end

return M
