-- egoi.sandbox.v3.limits - the two v3 limits, each a fixed window per API key that
-- starts at the key's first call (egoi-v3-api.md §8 #1, #2): the rate limit
-- (X-RateLimit-*) and the hourly account limit (X-Account-*). Refused calls are not counted.
local M = {}
local Limits = {}
Limits.__index = Limits

-- rate = {calls, window}, account = {calls, window}; calls 0 = that limit is off
function M.new(rate, account)
  return setmetatable({ groups = {
    { name = "X-RateLimit", calls = rate[1], window = rate[2], seen = {} },
    { name = "X-Account", calls = account[1], window = account[2], seen = {} },
  } }, Limits)
end

local function window(g, key, now)
  local w = g.seen[key]
  if not w or now >= w.start + g.window then
    w = { start = now, used = 0 }
    g.seen[key] = w
  end
  return w
end

-- take(key, now) -> ok, headers, retry_after
-- headers: X-RateLimit-Limit/-Remaining/-Reset and X-Account-Limit/-Remaining/-Reset
-- (Reset = whole seconds left in the window, rounded up).
function Limits:take(key, now)
  local wins, ok, retry = {}, true, 0
  for i, g in ipairs(self.groups) do
    if g.calls > 0 then
      local w = window(g, key, now)
      wins[i] = w
      if w.used >= g.calls then
        ok = false
        retry = math.max(retry, math.ceil(w.start + g.window - now))
      end
    end
  end
  local headers = {}
  for i, g in ipairs(self.groups) do
    local w = wins[i]
    if w then
      if ok then w.used = w.used + 1 end
      local reset = math.max(0, math.ceil(w.start + g.window - now))
      headers[#headers + 1] = { g.name .. "-Limit", tostring(g.calls) }
      headers[#headers + 1] = { g.name .. "-Remaining", tostring(math.max(0, g.calls - w.used)) }
      headers[#headers + 1] = { g.name .. "-Reset", tostring(reset) }
    end
  end
  return ok, headers, math.max(1, retry)
end

return M
