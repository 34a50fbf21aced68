-- Retry policy and limiter integration, with an injected clock and sleep so
-- an hour is simulated in milliseconds. The transport here is scripted (unit
-- tests of timing); the same policies are proved against real loopback
-- servers in spec/failure_spec.lua.
local egoi = require "egoi"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local OK_BODY = '{"Egoi_Api":{"getLists":{"key_0":{"listnum":"1"},"status":"success"}}}'

-- A scripted transport: each entry is {status, body[, info][, headers = {...}]}
-- or {nil, code, msg, sent}.
local function scripted(script)
  local t = { sent = 0 }
  function t.request(self)
    self.sent = self.sent + 1
    local step = script[self.sent] or script[#script]
    if step[1] == nil then return nil, step[2], step[3], step[4] end
    return step[1], step.headers or {}, step[2], step[3] or {}
  end
  function t.close() end
  return t
end

local function fake_time()
  local clock = { now = 1000000, slept = {} }
  clock.fn = function() return clock.now end
  clock.sleep = function(s)
    clock.slept[#clock.slept + 1] = s
    clock.now = clock.now + s
  end
  return clock
end

local function new(opts)
  local clock = opts.clock or fake_time()
  local rate_limit = opts.rate_limit
  if rate_limit == nil then rate_limit = false end
  local c = egoi.new{
    apikey = KEY, url = "http://127.0.0.1:9/v2/rest.php", transport = opts.transport,
    retries = opts.retries, clock = clock.fn, sleep = clock.sleep,
    rate_limit = rate_limit,
  }
  return c, clock
end

describe("retry policy", function()
  it("retries a read-only call on HTTP 500 and succeeds", function()
    local t = scripted{ { 500, "oops" }, { 502, "oops" }, { 200, OK_BODY } }
    local c, clock = new{ transport = t }
    local r = c:call("getLists")
    assert.equal("1", r[1].listnum)
    assert.equal(3, t.sent)
    assert.equal(2, #clock.slept)
  end)

  it("never retries a write after the request was sent", function()
    local steps = { { 500, "oops" }, { nil, "TIMEOUT", "timed out", true }, { nil, "RECV_ERROR", "reset", true } }
    for _, step in ipairs(steps) do
      local t = scripted{ step, { 200, OK_BODY } }
      local c = new{ transport = t }
      local ok, err = pcall(c.call, c, "sendEmail", { listID = 1, campaign = "abc" })
      assert.is_false(ok)
      assert.equal(1, t.sent)
      assert.is_false(err.retryable)
      assert.matches("never retried", err.reason)
    end
  end)

  it("retries any method when the request provably did not leave", function()
    local t = scripted{ { nil, "COULDNT_CONNECT", "refused", false }, { 200, OK_BODY } }
    local c = new{ transport = t }
    c:call("sendEmail", { listID = 1, campaign = "abc" })
    assert.equal(2, t.sent)
  end)

  it("retries INTERNAL_ERROR only for reads", function()
    local ie = '{"Egoi_Api":{"getLists":{"ERROR":"INTERNAL_ERROR","status":"success"}}}'
    local t = scripted{ { 200, ie }, { 200, OK_BODY } }
    local c = new{ transport = t }
    c:call("getLists")
    assert.equal(2, t.sent)
    t = scripted{ { 200, ie }, { 200, OK_BODY } }
    c = new{ transport = t }
    local ok, err = pcall(c.call, c, "addSubscriber", { listID = 1, email = "a@b.pt" })
    assert.is_false(ok)
    assert.equal("INTERNAL_ERROR", err.code)
    assert.equal(1, t.sent)
  end)

  it("gives up after `retries` and says so", function()
    local t = scripted{ { nil, "COULDNT_CONNECT", "refused", false } }
    local c, clock = new{ transport = t, retries = 3 }
    local ok, err = pcall(c.call, c, "getLists")
    assert.is_false(ok)
    assert.equal(4, t.sent)
    assert.equal(3, #clock.slept)
    assert.matches("after 3 retries", err.message)
  end)

  it("backs off exponentially with jitter, capped", function()
    local t = scripted{ { nil, "COULDNT_CONNECT", "refused", false } }
    local c, clock = new{ transport = t, retries = 6 }
    pcall(c.call, c, "getLists")
    local caps = { 0.5, 1, 2, 4, 8, 8 }
    for i, s in ipairs(clock.slept) do
      assert.is_true(s >= caps[i] / 2 and s <= caps[i], ("retry %d slept %g"):format(i, s))
    end
  end)

  it("retries = 0 disables retries", function()
    local t = scripted{ { 500, "x" }, { 200, OK_BODY } }
    local c = new{ transport = t, retries = 0 }
    assert.is_false(pcall(c.call, c, "getLists"))
    assert.equal(1, t.sent)
  end)
end)

describe("limiter in the call path", function()
  it("admits 150 calls an hour, then waits exactly until call 1 is an hour old", function()
    local t = scripted{ { 200, OK_BODY } }
    local clock = fake_time()
    local waits = {}
    local c = new{ transport = t, clock = clock, rate_limit = { state_file = false,
      on_wait = function(s) waits[#waits + 1] = s end } }
    local start = clock.now
    for _ = 1, 150 do
      c:call("getLists")
      clock.now = clock.now + 1
    end
    assert.equal(0, #waits)
    local st = c:rate_limit_status()
    assert.equal(150, st.used)
    assert.equal(0, st.remaining)
    c:call("getLists") -- 151st
    assert.equal(1, #waits)
    assert.is_true(math.abs(clock.now - (start + 3600)) < 1e-6)
    assert.equal(151, t.sent)
  end)

  it("raises RATE_LIMITED with retry_after when wait = false", function()
    local t = scripted{ { 200, OK_BODY } }
    local c = new{ transport = t, rate_limit = { calls = 2, window = 10, wait = false, state_file = false } }
    c:call("getLists")
    c:call("getLists")
    local ok, err = pcall(c.call, c, "getLists")
    assert.is_false(ok)
    assert.equal("rate_limit", err.kind)
    assert.equal("RATE_LIMITED", err.code)
    assert.is_true(err.retry_after > 9 and err.retry_after <= 10)
    assert.equal(2, t.sent)
  end)

  it("honours max_wait", function()
    local t = scripted{ { 200, OK_BODY } }
    local c = new{ transport = t, rate_limit = { calls = 1, window = 60, max_wait = 5, state_file = false } }
    c:call("getLists")
    local ok, err = pcall(c.call, c, "getLists")
    assert.is_false(ok)
    assert.equal("RATE_LIMIT_WAIT_EXCEEDED", err.code)
    assert.is_true(err.retry_after > 59)
  end)

  it("sends every retry through the limiter", function()
    local t = scripted{ { 500, "x" }, { 500, "x" }, { 200, OK_BODY } }
    local c = new{ transport = t, rate_limit = { calls = 2, window = 100, state_file = false } }
    local clock_before = c._clock()
    c:call("getLists")
    assert.equal(3, t.sent)
    -- the third attempt had to wait for the window: 2 calls per 100 s
    assert.is_true(c._clock() - clock_before >= 100 - 1e-6)
  end)

  it("marks the window full when the server answers 429", function()
    local t = scripted{ { 429, "" }, { 200, OK_BODY } }
    local c = new{ transport = t, rate_limit = { calls = 10, window = 60, wait = false, state_file = false } }
    local ok, err = pcall(c.call, c, "sendEmail", { listID = 1, campaign = "h" })
    assert.is_false(ok)
    assert.equal("rate_limit", err.kind)
    assert.equal(0, c:rate_limit_status().remaining)
    local ok2, err2 = pcall(c.call, c, "getLists")
    assert.is_false(ok2)
    assert.equal("RATE_LIMITED", err2.code)
    assert.equal(1, t.sent)
  end)
end)
