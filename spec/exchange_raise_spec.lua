-- A transport object that raises (a caller's own, or a bug below the client) must not escape
-- raise = false, must not be retried, and must not leave the limiter's slot at its
-- reservation time; the key never appears in the error.
local egoi = require "egoi"

local KEY = "0123456789abcdef0123456789abcdef01234567"

describe("an exchange that raises", function()
  local function client(raise, state)
    local t = { sent = 0 }
    function t.request(self)
      self.sent = self.sent + 1
      error("boom with " .. KEY)
    end
    function t.close() end
    local now = 1000
    return egoi.new{ apikey = KEY, url = "http://127.0.0.1:9/v2/rest.php", transport = t, retries = 3,
      raise = raise, clock = function() now = now + 1 return now end, sleep = function() end,
      rate_limit = { state_file = state or false, calls = 5, window = 60 } }, t
  end

  it("is a protocol error with raise = false, sent once, the key scrubbed", function()
    local c, t = client(false)
    local res, err = c:call("getLists")
    assert.is_nil(res)
    assert.equal("protocol", err.kind)
    assert.equal("EXCHANGE_FAILED", err.code)
    assert.is_false(err.retryable)
    assert.equal(1, t.sent) -- a read too: a raise proves nothing about what was sent
    assert.is_nil(tostring(err):find(KEY, 1, true))
    local _, werr = c:call("addSubscriber", { listID = 1, email = "a@example.com" })
    assert.truthy(werr.reason and werr.reason:find("may have reached", 1, true))
    c:close()
  end)

  it("raises the egoi.Error with raise = true, and the limiter keeps counting", function()
    local c = client(true)
    local ok, err = pcall(c.call, c, "getLists")
    assert.is_false(ok)
    assert.equal("EXCHANGE_FAILED", err.code)
    local st = c:rate_limit_status()
    assert.equal(1, st.used) -- the slot was committed, not left open
    c:close()
  end)
end)
