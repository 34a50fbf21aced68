-- egoi.transport.curl - the default transport: one libcurl easy handle per
-- client (egoi.core.http_client), reused for every call so the TCP/TLS
-- connection is kept alive between calls.
--
-- A transport is any object with
--   t:request{ verb = "GET"|"POST"|"PUT"|"PATCH"|"DELETE", url = "...",
--              headers = { Name = "value" }, body = string | core.form_buffer | nil,
--              idempotent = bool }
--     -> status, headers, body, info           an HTTP exchange completed (any
--                                              status); headers: every response
--                                              header, lower-case names, repeats
--                                              joined with ", "
--     -> nil, code, message, sent              no answer; sent=false only when the
--                                              request provably never left
--   t:close()
-- and it never sends a request twice unless `idempotent` is true (the
-- client's retry policy alone decides about a second attempt).
--
-- M.supports lists the egoi.new options a built-in transport honours;
-- egoi.new refuses the others with a usage error instead of ignoring them.
local core = require "egoi.core"

local M = {}

M.supports = {
  timeout = true, connect_timeout = true, verify_tls = true, ca_file = true, proxy = true,
  user_agent = true, keepalive = true, max_response = true,
}

function M.new(opts)
  return core.http_client{
    timeout = opts.timeout,
    connect_timeout = opts.connect_timeout,
    verify_tls = opts.verify_tls,
    ca_file = opts.ca_file,
    proxy = opts.proxy,
    user_agent = opts.user_agent,
    keepalive = opts.keepalive,
    max_response = opts.max_response,
  }
end

return M
