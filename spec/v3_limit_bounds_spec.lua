-- The v3 limit headers come from the wire: a window at 0 without a reset, a reset of 0, or a
-- huge / infinite reset or Retry-After must neither make a 429 re-send at once (a spin) nor
-- raise a raw Lua error (the limiter's block() refuses more than 1e9 s) nor sleep for years.
-- A fake transport and clock: the waits are the point.
local egoi = require "egoi"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local TOO_MANY = '{"type":"t","title":"Too Many Requests","status":429,"detail":"slow down"}'

local function client(answers, extra)
  local now, slept = 1000, {}
  local t = { sent = 0 }
  function t.request()
    t.sent = t.sent + 1
    local a = table.remove(answers, 1) or { 200, {}, "{}" }
    return a[1], a[2], a[3]
  end
  function t.close() end
  local o = { api = "v3", apikey = KEY, transport = t, rate_limit = { state_file = false },
    clock = function() return now end,
    sleep = function(s) slept[#slept + 1] = s; now = now + s end,
    raise = false, log = function() end }
  for k, v in pairs(extra or {}) do o[k] = v end
  return egoi.new(o), t, slept
end

describe("v3 limit headers the client cannot trust", function()
  it("a 429 with a window at 0 and no reset is not sent again at once", function()
    local answers = {}
    for i = 1, 10 do answers[i] = { 429, { ["x-ratelimit-remaining"] = "0" }, TOO_MANY } end
    local c, t, slept = client(answers)
    local r, err = c.account:get()
    assert.is_nil(r)
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(1, t.sent)
    assert.same({}, slept)
    assert.is_true(err.retry_after > 0)
  end)

  it("a reset of 0 with the rate window at 0 is no hold", function()
    local c, t, slept = client{ { 200, { ["x-ratelimit-remaining"] = "0", ["x-ratelimit-reset"] = "0" }, "{}" } }
    assert.is_table(c.account:get())
    assert.is_table(c.account:get())
    assert.equal(2, t.sent)
    assert.same({}, slept)
  end)

  for _, reset in ipairs{ "1e12", "1764633600", "1e999" } do
    for _, rl in ipairs{ { state_file = false }, false } do
      local name = ("a reset of %s holds at most a day (rate_limit %s), with no raw error"):format(reset, tostring(rl))
      it(name, function()
        local c, t, slept = client({ { 200, { ["x-account-remaining"] = "0", ["x-account-reset"] = reset }, "{}" } },
          { rate_limit = rl })
        local ok, r = pcall(c.account.get, c.account)
        assert.is_true(ok, tostring(r))
        assert.is_table(r)
        ok, r = pcall(c.account.get, c.account)
        assert.is_true(ok, tostring(r))
        assert.equal(2, t.sent)
        assert.same({ 86400 }, slept)
      end)
    end
  end

  it("a 429 with a huge Retry-After and windows not at 0 holds at most a day", function()
    local c, t, slept = client{ { 429, { ["x-account-remaining"] = "5", ["retry-after"] = "99999999999" }, TOO_MANY } }
    local ok, r = pcall(c.account.get, c.account)
    assert.is_true(ok, tostring(r))
    assert.is_table(r)
    assert.equal(2, t.sent)
    assert.same({ 86400 }, slept)
  end)
end)
