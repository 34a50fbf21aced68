-- egoi.cli.env - the CLI's settings from the environment (and --timeout), checked: a bad value
-- is a usage error with a sentence, never a Lua error further on.
local args = require "egoi.cli.args"
local usage = args.usage

local env = {}

env.DEFAULT_TIMEOUT = 30 -- seconds per attempt (the library's default)
env.CONNECT_TIMEOUT = 10
env.RETRIES = 2          -- extra attempts of a read-only call; writes are tried once
env.MAX_TIMEOUT = 3600
env.MAX_CALLS = 100000   -- what the limiter can hold

--- EGOI_RATE_LIMIT (CALLS[/SECONDS] or off), EGOI_RATE_STATE and EGOI_RATE_REDIS into a
-- rate_limit option.
function env.rate_limit(getenv)
  local v = getenv("EGOI_RATE_LIMIT")
  local state = getenv("EGOI_RATE_STATE")
  if v == "off" or v == "0" then return false end
  local rl = {}
  if v and v ~= "" then
    local c, w = v:match("^(%d+)/?(%d*)$")
    if not c or #c > 9 or #w > 9 then
      usage("EGOI_RATE_LIMIT must be CALLS[/SECONDS] (e.g. 150/3600) or off: " .. v)
    end
    rl.calls = tonumber(c)
    if rl.calls < 1 or rl.calls > env.MAX_CALLS then
      usage(("EGOI_RATE_LIMIT: CALLS must be from 1 to %d (or use off): %s"):format(env.MAX_CALLS, v))
    end
    if w ~= "" then
      rl.window = tonumber(w)
      if rl.window < 1 then usage("EGOI_RATE_LIMIT: SECONDS must be at least 1: " .. v) end
    end
  end
  if state and state ~= "" then rl.state_file = state end
  local redis = getenv("EGOI_RATE_REDIS")
  if redis and redis ~= "" then rl.redis = redis end
  return rl
end

--- --protocol wins over EGOI_PROTOCOL; nil means the client's default (REST). Only a v2
-- protocol of the client's (egoi.protocol) is accepted.
function env.protocol(getenv, opt_value)
  local name = opt_value
  if name == nil then name = getenv("EGOI_PROTOCOL") end
  if name == nil or name == "" then return nil end
  local protocols = require "egoi.protocol"
  local names = protocols.names()
  for _, n in ipairs(names) do
    if n == name then return name end
  end
  usage(("%s must be one of %s (got '%s')"):format(opt_value and "--protocol" or "EGOI_PROTOCOL",
    table.concat(names, ", "), tostring(name)))
end

--- --api wins over EGOI_API: "v2" (the default) or "v3".
function env.api(getenv, opt_value)
  local name = opt_value
  if name == nil then name = getenv("EGOI_API") end
  if name == nil or name == "" then return "v2" end
  if name == "v2" or name == "v3" then return name end
  usage(("%s must be v2 or v3 (got '%s')"):format(opt_value and "--api" or "EGOI_API", tostring(name)))
end

--- The per-attempt timeout: --timeout wins over EGOI_TIMEOUT, else 30 s.
function env.timeout(getenv, opt_value)
  if opt_value ~= nil then return args.seconds(opt_value, "--timeout", env.MAX_TIMEOUT) end
  local v = getenv("EGOI_TIMEOUT")
  if v and v ~= "" then return args.seconds(v, "EGOI_TIMEOUT", env.MAX_TIMEOUT) end
  return env.DEFAULT_TIMEOUT
end

--- The longest one call can take at `timeout` (every attempt, plus back-off sleeps of at most
-- 0.5 s and 1 s between them), rate-limit waits aside.
function env.call_bound(timeout)
  return (env.RETRIES + 1) * timeout + 1.5
end

return env
