-- egoi.sandbox.ratelimit - exact rolling window per key: at most `calls` accepted
-- calls in any `window` seconds. Refused calls are not counted.
local M = {}
local Limiter = {}
Limiter.__index = Limiter

function M.new(calls, window)
  return setmetatable({ calls = calls, window = window, seen = {} }, Limiter)
end

-- true | false, retry_after_seconds (integer, rounded up, >= 1)
function Limiter:take(key, now)
  if self.calls <= 0 then return true end
  local q = self.seen[key]
  if not q then q = { first = 1, last = 0 }; self.seen[key] = q end
  while q.first <= q.last and q[q.first] <= now - self.window do
    q[q.first] = nil
    q.first = q.first + 1
  end
  if q.last - q.first + 1 >= self.calls then
    local wait = q[q.first] + self.window - now
    return false, math.max(1, math.ceil(wait))
  end
  q.last = q.last + 1
  q[q.last] = now
  return true
end

-- parse "CALLS/SECONDS" (or "0")
function M.parse(spec)
  if spec == "0" then return 0, 1 end
  local c, w = tostring(spec):match("^(%d+)/(%d+%.?%d*)$")
  if not c or tonumber(w) <= 0 then return nil end
  return tonumber(c), tonumber(w)
end

return M
