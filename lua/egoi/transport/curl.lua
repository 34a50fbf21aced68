-- egoi.transport.curl - the default transport: one libcurl easy handle per
-- client (egoi.core.http_client), reused for every call so the TCP/TLS
-- connection is kept alive between calls.
--
-- A transport is any object with
--   t:request(url, body, content_type, headers)
--     -> status, body, info                      (an HTTP exchange completed)
--     -> nil, code, message, sent                (no answer; sent=false when the
--                                                 request provably never left)
--   t:close()
local core = require "egoi.core"

local M = {}

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
