-- egoi.new refuses impossible numbers with a usage error naming the option, before any I/O:
-- infinities (retries = math.huge retried a failing read forever), a NaN max_wait (which
-- disabled the bound), a window that never ends and a budget beyond what a limiter holds (a raw
-- string error from the C limiter before).
local egoi = require "egoi"
local errors = require "egoi.errors"

local KEY = "0123456789abcdef0123"

describe("egoi.new numeric options", function()
  local cases = {
    { { timeout = math.huge }, "timeout" },
    { { connect_timeout = math.huge }, "connect_timeout" },
    { { retries = math.huge }, "retries" },
    { { backoff = math.huge }, "backoff" },
    { { backoff_cap = math.huge }, "backoff_cap" },
    { { rate_limit = { calls = 1e300, state_file = false } }, "rate_limit.calls" },
    { { rate_limit = { calls = math.huge, state_file = false } }, "rate_limit.calls" },
    { { rate_limit = { calls = 100001, state_file = false } }, "rate_limit.calls" },
    { { rate_limit = { window = math.huge, state_file = false } }, "rate_limit.window" },
    { { rate_limit = { max_wait = 0 / 0, state_file = false } }, "rate_limit.max_wait" },
  }
  for _, case in ipairs(cases) do
    it("refuse an impossible '" .. case[2] .. "'", function()
      local o = { apikey = KEY }
      for k, v in pairs(case[1]) do o[k] = v end
      local ok, err = pcall(egoi.new, o)
      assert.is_false(ok)
      assert.is_true(errors.is_error(err), tostring(err))
      assert.equal("usage", err.kind)
      assert.is_truthy(err.message:find("'" .. case[2] .. "'", 1, true), err.message)
    end)
  end

  it("keep the largest budget a limiter holds", function()
    local c = egoi.new{ apikey = KEY, rate_limit = { calls = 100000, state_file = false } }
    assert.equal(100000, c:rate_limit_status().remaining)
    c:close()
  end)
end)
