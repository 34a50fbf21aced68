-- egoi.sandbox.codec_xmlrpc - /v2/xmlrpc.php: one struct parameter in,
-- methodResponse out (document codec: egoi.sandbox.xmlrpc).
local xmlrpc = require "egoi.sandbox.xmlrpc"
local answer = require "egoi.sandbox.answer"

local M = {}

local XML = "text/xml; charset=utf-8"

function M.serve(req, ctx)
  if req.method ~= "POST" then
    return answer(405, "text/plain", "XML-RPC server accepts POST requests only.\n"), "-", "BAD_REQUEST"
  end
  local method, params = xmlrpc.parse(req.body, ctx.cfg.max_depth * 2 + 8)
  if not method then return answer(200, XML, xmlrpc.fault(-32700, "parse error: " .. params)), "-", "FAULT" end
  if #params ~= 1 or type(params[1]) ~= "table" then
    if not ctx.api.methods[method:lower()] then
      return answer(200, XML, xmlrpc.fault(-32601, "method not found: " .. method)), method, "FAULT"
    end
    return answer(200, XML, xmlrpc.fault(-32602, "expected exactly one struct parameter")), method, "FAULT"
  end
  local out = ctx.call(method, params[1], #req.body)
  if out.kind == "unknown" then
    return answer(200, XML, xmlrpc.fault(-32601, "method not found: " .. method)), method, "FAULT"
  end
  return answer(out.http, XML, xmlrpc.response(out.value), out.headers), method, out.code
end

return M
