-- Where the window lives is one choice: options naming two places are a usage error at
-- egoi.new, never one silently ignored.
local egoi = require "egoi"

local KEY = "0123456789abcdef0123456789abcdef01234567"

describe("rate_limit options naming two places for one window", function()
  local fake = { reserve = function() return true, 1 end, status = function() return 0, 1, 0 end }
  local function refused(rl, want)
    local ok, err = pcall(egoi.new, { apikey = KEY, rate_limit = rl })
    assert.is_false(ok)
    assert.equal("usage", err.kind)
    assert.truthy(err.message:find(want, 1, true), err.message)
  end

  it("refuses an injected limiter beside shdict, redis or a state file", function()
    refused({ limiter = fake, shdict = "egoi" }, "'rate_limit.limiter' replaces")
    refused({ limiter = fake, redis = "redis://127.0.0.1:6379/0" }, "'rate_limit.limiter' replaces")
    refused({ limiter = fake, state_file = "/tmp/x.bin" }, "'rate_limit.limiter' replaces")
  end)

  it("refuses shdict beside a state file", function()
    refused({ shdict = "egoi", state_file = "/tmp/x.bin" }, "two places for one window")
  end)

  it("keeps the documented combinations", function()
    local c = egoi.new{ apikey = KEY, rate_limit = { limiter = fake, state_file = false } }
    c:close()
  end)
end)
