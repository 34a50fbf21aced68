-- egoi - Lua client for the E-goi marketing API v2.
--
--   local egoi = require "egoi"
--   local client = egoi.new{ apikey = os.getenv("EGOI_APIKEY") }
--   for _, list in ipairs(client.lists:all()) do print(list.listnum, list.title) end
--
-- See README.md for options, the method table, errors and limits.
local client = require "egoi.client"
local errors = require "egoi.errors"

local core = require "egoi.core"

local M = {
  VERSION = client.VERSION,
  errors = errors,
  Error = errors.Error,
  now = core.now,     -- wall-clock seconds (what the limiter uses)
  sleep = core.sleep, -- a blocking sleep (use ngx.sleep inside nginx)
}

-- egoi.new{ apikey = ..., protocol = "rest"|"xmlrpc"|"soap"|"soap_any", url = ..., timeout = 30,
--           connect_timeout = 10, rate_limit = {...}|false, retries = 2,
--           raise = true, ... } -> client
-- Unknown option names and wrong values are usage errors naming the option (and the closest
-- known name). With raise = false among the options, a bad option set returns nil, err
-- instead of raising; a non-table argument or an invalid `raise` always raises (there is no
-- error mode to honour yet).
function M.new(opts)
  local ok, c = pcall(client.new, opts)
  if ok then return c end
  if type(opts) == "table" and opts.raise == false and errors.is_error(c) then
    return nil, c
  end
  error(c, 2)
end

function M.is_error(v)
  return errors.is_error(v)
end

return M
