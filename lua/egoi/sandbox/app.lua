-- egoi.sandbox.app - the HTTP handler: finds the route (egoi.sandbox.routes: the v2
-- endpoints), lets its codec serve the request, sends every path not under /v2/ to the
-- API v3 router, logs one line per request.
local routes = require "egoi.sandbox.routes"
local apimod = require "egoi.sandbox.api"
local loopmod = require "egoi.sandbox.loop"
local answer = require "egoi.sandbox.answer"

local M = {}

-- handler(req) for egoi.sandbox.http
function M.handler(api, cfg, log)
  local v3 = require("egoi.sandbox.v3").new(api, cfg, log) -- API v3: every path not under /v2/
  return function(req)
    local t0 = loopmod.now()
    local meta = { cfg = cfg, now = t0, log = log }
    local ctx = { api = api, cfg = cfg, log = log, now = t0 }
    -- run the api call protected; a crash becomes INTERNAL_ERROR (HTTP 500)
    function ctx.call(method, options, body_size)
      meta.body_size = body_size
      local ok, out = pcall(api.call, api, method, options, meta)
      if not ok then
        log(("handler crash in %s: %s"):format(tostring(method), tostring(out)))
        return apimod.internal_error()
      end
      return out
    end
    local route, codec = routes.find(req.path)
    local resp, method, code
    if route then
      resp, method, code = codec.serve(req, ctx, route)
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
