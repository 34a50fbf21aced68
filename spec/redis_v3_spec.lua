-- Issue 15 on API v3: the window shared through Redis follows the server's X-Account-*
-- headers as the local limiter does. When one host learns that the account has nothing left,
-- every other host sharing the Redis window is held too, without sending anything.
local server = require "helpers.server"
local redis = require "helpers.redis"
local scenario = require "helpers.v3_scenario"
local egoi = require "egoi"

local KEY = scenario.KEY

describe("redis limiter on API v3 #redis", function()
  local r, sb

  before_each(function()
    r = redis.start{}
    -- the account allows 3 calls an hour; no per-minute limit in the way
    sb = server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} --v3-rate-limit 0 --v3-account-limit 3/3600" }
  end)

  after_each(function()
    if sb then sb:stop() end
    if r then r:stop() end
  end)

  local function host(extra)
    local rl = { redis = r:url(), calls = 150, window = 3600 }
    for k, v in pairs(extra or {}) do rl[k] = v end
    return egoi.new{ api = "v3", apikey = KEY, url = sb:url(""), raise = false, retries = 0,
      rate_limit = rl, log = function() end }
  end

  it("a host that sees X-Account-Remaining below its own plan spends the difference for the fleet", function()
    local a, b = host(), host{ wait = false }
    assert.is_table((a.account:get()))
    -- the server said 2 are left; the shared window now shows at most 2 for everyone
    local st = assert(b:rate_limit_status())
    assert.is_true(st.remaining <= 2, "remaining " .. tostring(st.remaining))
    a:close(); b:close()
  end)

  it("a window at 0 on one host holds every other host sharing the Redis window, with nothing sent", function()
    local a, b = host(), host{ wait = false }
    for _ = 1, 3 do assert.is_table((a.account:get())) end
    -- the third answer said X-Account-Remaining: 0; host b has made no call of its own
    local res, err = b.account:get()
    assert.is_nil(res)
    assert.equal("rate_limit", err.kind)
    assert.equal("RATE_LIMITED", err.code)
    assert.is_nil(err.http_status) -- refused here: the request never left
    assert.is_true(err.retry_after > 60, tostring(err.retry_after))
    -- the sandbox counted three calls, not four: a fourth would have been its 429
    local c = host{ wait = false }
    res, err = c.account:get()
    assert.is_nil(res)
    assert.is_nil(err.http_status)
    a:close(); b:close(); c:close()
  end)
end)
