-- egoi.sandbox.m_status - the two no-key probes the SOAP WSDLs declare with
-- boolean results (egoi-v2-soap.md §2.1): check_status() and testEmailAddress(email).
local util = require "egoi.sandbox.util"

local M = {}

M.check_status = { noauth = true, fn = function() return true end }

M.testEmailAddress = { noauth = true, fn = function(ctx)
  local e = util.str(ctx.o.email)
  return e ~= nil and util.email_problem(e) == nil
end }

return M
