-- egoi.sandbox.app - HTTP routes: /v2/rest.php (GET/POST), /v2/xmlrpc.php (POST), API v3 elsewhere.
local form = require "egoi.sandbox.form"
local envelope = require "egoi.sandbox.envelope"
local xmlrpc = require "egoi.sandbox.xmlrpc"
local apimod = require "egoi.sandbox.api"
local loopmod = require "egoi.sandbox.loop"

local M = {}

local JSON = "application/json; charset=utf-8"
local XML = "text/xml; charset=utf-8"

local function answer(status, ctype, body, headers)
  local h = { { "Content-Type", ctype } }
  for _, x in ipairs(headers or {}) do h[#h + 1] = x end
  return { status = status, headers = h, body = body }
end

-- run the api call protected; a crash becomes INTERNAL_ERROR (HTTP 500)
local function run(api, method, options, meta)
  local ok, out = pcall(api.call, api, method, options, meta)
  if not ok then
    meta.log(("handler crash in %s: %s"):format(tostring(method), tostring(out)))
    return apimod.internal_error()
  end
  return out
end

local function rest(api, req, meta)
  if req.method ~= "GET" and req.method ~= "POST" then
    local r = answer(405, JSON, envelope.json_failed("", "method not allowed"))
    r.headers[#r.headers + 1] = { "Allow", "GET, POST" }
    return r, "-", "BAD_REQUEST"
  end
  local limits = { max_depth = meta.cfg.max_depth, max_fields = meta.cfg.max_fields }
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
  meta.body_size = #req.body + #req.query
  local out = run(api, method, fo, meta)
  if out.kind == "unknown" then
    return answer(404, ctype, enc(method, { response = { message = "Unknown Method '" .. method .. "'." } },
      "failed")), method, "UNKNOWN_METHOD"
  elseif out.kind == "noargs" then
    return answer(400, ctype, enc(method, { response = { message = "Missing argument(s): functionOptions" } },
      "failed")), method, "MISSING_ARGUMENTS"
  end
  return answer(out.http, ctype, enc(method, out.value), out.headers), method, out.code
end

local function xmlrpc_route(api, req, meta)
  if req.method ~= "POST" then
    return answer(405, "text/plain", "XML-RPC server accepts POST requests only.\n"), "-", "BAD_REQUEST"
  end
  local method, params = xmlrpc.parse(req.body, meta.cfg.max_depth * 2 + 8)
  if not method then return answer(200, XML, xmlrpc.fault(-32700, "parse error: " .. params)), "-", "FAULT" end
  if #params ~= 1 or type(params[1]) ~= "table" then
    if not api.methods[method:lower()] then
      return answer(200, XML, xmlrpc.fault(-32601, "method not found: " .. method)), method, "FAULT"
    end
    return answer(200, XML, xmlrpc.fault(-32602, "expected exactly one struct parameter")), method, "FAULT"
  end
  meta.body_size = #req.body
  local out = run(api, method, params[1], meta)
  if out.kind == "unknown" then
    return answer(200, XML, xmlrpc.fault(-32601, "method not found: " .. method)), method, "FAULT"
  end
  return answer(out.http, XML, xmlrpc.response(out.value), out.headers), method, out.code
end

-- handler(req) for egoi.sandbox.http
function M.handler(api, cfg, log)
  local v3 = require("egoi.sandbox.v3").new(api, cfg, log) -- API v3: every path not under /v2/
  return function(req)
    local t0 = loopmod.now()
    local meta = { cfg = cfg, now = t0, log = log }
    local resp, method, code
    if req.path == "/v2/rest.php" then
      resp, method, code = rest(api, req, meta)
    elseif req.path == "/v2/xmlrpc.php" then
      resp, method, code = xmlrpc_route(api, req, meta)
    elseif req.path:sub(1, 4) ~= "/v2/" then
      resp, method, code = v3(req, meta)
    else
      resp, method, code = answer(404, "text/plain", "not found\n"), "-", "NOT_FOUND"
    end
    log(("%s %s %s %d %s"):format(req.method, req.path, method, resp.status, code), t0)
    return resp
  end
end

return M
