-- egoi.sandbox.routes - the route table: URL path -> protocol codec.
--
-- A codec is a module with one job, turning HTTP into calls of the
-- protocol-neutral API and its outcomes back into HTTP:
--
--   codec.serve(req, ctx, route) -> resp, method_label, code_label
--     req   : the request from egoi.sandbox.http
--     ctx   : { api, cfg, log, now, call = function(method, options, body_size) -> outcome }
--             (call runs egoi.sandbox.api protected: a crash becomes INTERNAL_ERROR)
--     route : the table entry below (extra fields are the codec's own settings)
--     resp  : { status, headers = { {name, value}, ... }, body }
--
-- To add a protocol: write the codec, add its path here. Exact paths win;
-- `M.prefixes` entries ({ prefix = "/v3/", codec = "..." }) match by the
-- longest prefix.
local M = {}

M.paths = {
  ["/v2/rest.php"] = { codec = "egoi.sandbox.codec_rest" },
  ["/v2/xmlrpc.php"] = { codec = "egoi.sandbox.codec_xmlrpc" },
  ["/v2/soap.php"] = { codec = "egoi.sandbox.codec_soap", endpoint = "soap" },
  ["/v2/soap_any.php"] = { codec = "egoi.sandbox.codec_soap", endpoint = "soap_any" },
}

M.prefixes = {}

-- route, codec module for a path | nil
function M.find(path)
  local route = M.paths[path]
  if not route then
    local best = -1
    for _, r in ipairs(M.prefixes) do
      if #r.prefix > best and path:sub(1, #r.prefix) == r.prefix then route, best = r, #r.prefix end
    end
  end
  if not route then return nil end
  return route, require(route.codec)
end

return M
