-- egoi.sandbox.v3.errors - v3's RFC 7807-style error bodies {type,title,status,detail[,errors]}.
local json = require "egoi.sandbox.v3.json"

local M = {}

M.TYPE = "http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"

-- the exact `title` enums of the vendor schemas (404 is "NotFound", no space)
M.TITLES = {
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "NotFound",
  [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
  [413] = "Request Entity Too Large", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [500] = "Internal Server Error", [503] = "Service Unavailable",
}

-- problem(status, detail[, errors]) -> status, body
function M.problem(status, detail, errors)
  local body = { type = M.TYPE, title = M.TITLES[status] or "Error", status = status, detail = detail }
  if errors ~= nil then body.errors = json.object(errors) end
  return status, body
end

-- 422 with errors = { [member] = { [rule] = message } }
function M.invalid(member, rule, message)
  return M.problem(422, "Failed Validation", { [member] = { [rule] = message } })
end

function M.not_found(what) return M.problem(404, what .. " not found") end

return M
