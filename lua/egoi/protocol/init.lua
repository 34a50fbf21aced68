-- egoi.protocol - the registry of wire protocols. A protocol is a module
-- with one job: turn a call into an HTTP request and an HTTP response into
-- a value, both in the neutral result shape (README "Results").
--
--   P.name, P.default_url
--   P.build(ctx, method, options, entry[, body])
--       -> request { verb, url, headers = {Name = value}, body }  | nil, errfields
--       `body`: a body packed by the caller (from P.body_buffer) sent as it is
--   P.parse(ctx, response { status, headers, body }, method, entry)
--       -> value | nil, errfields        (errfields: kind, code, message, ...;
--       answered = true when the body is the protocol's own error answer, e.g.
--       a fault: on a status other than 200 it is then reported instead of
--       HTTP_ERROR)
--   P.body_buffer(ctx, method, options)  optional: a core.form_buffer holding
--       the call's head, for callers that append rows (bulk import)
--
-- ctx is the client's private context: url, json_decode, arguments(options)
-- (a copy with the key and plugin_key added), scrub(text) (the key replaced),
-- snippet(body) (scrubbed, one line, 200 bytes). Nothing else in the client
-- knows which protocol it speaks: adding one is a module and a line below.
local M = {
  DEFAULT = "rest",
  rest = require "egoi.protocol.rest",
  xmlrpc = require "egoi.protocol.xmlrpc",
  soap = require "egoi.protocol.soap",
  soap_any = require "egoi.protocol.soap_any",
}

-- The protocol of an API generation other than v2's (whose protocols are the ones above):
-- for_api("v3") -> the v3 module (egoi.protocol.v3), nil for an unknown name.
local APIS = { v3 = "egoi.protocol.v3" }
function M.for_api(api)
  local mod = APIS[api]
  return mod and require(mod) or nil
end

-- the registered names, sorted (for messages)
function M.names()
  local out = {}
  for k, v in pairs(M) do
    if type(v) == "table" then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

return M
