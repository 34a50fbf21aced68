-- spec/limiter_429_spec.lua - an HTTP 429 from the service pauses the
-- limiter for as long as the service asks (Retry-After: seconds or an HTTP
-- date), else for a default of 60 s that doubles on each further 429 in a
-- row (capped at 3600 s) and is short again after any other outcome. The
-- pause binds every client sharing the state. Timing is checked with an
-- injected clock; a real loopback server proves the path end to end.
local egoi = require "egoi"
local retry_after = require "egoi.retry_after"
local server = require "helpers.server"
local sf = require "helpers.statefile"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local OK_BODY = '{"Egoi_Api":{"getLists":{"key_0":{"listnum":"1"},"status":"success"}}}'

-- each entry: {status, body, info}; info.headers are the response headers,
-- returned as the transport contract's second value
local function scripted(script)
  local t = { sent = 0 }
  function t.request(self)
    self.sent = self.sent + 1
    local step = script[self.sent] or script[#script]
    local info = step[3] or {}
    return step[1], info.headers or {}, step[2], info
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

local function new(t, clock, rl)
  rl = rl or {}
  if rl.state_file == nil then rl.state_file = false end
  return egoi.new{ apikey = KEY, url = "http://127.0.0.1:9/v2/rest.php", transport = t, retries = 0,
    clock = clock.fn, sleep = clock.sleep, rate_limit = rl }
end

local function fails(c, method, args)
  local ok, err = pcall(c.call, c, method or "getLists", args)
  assert.is_false(ok)
  return err
end

describe("retry_after(value, now)", function()
  it("reads delay-seconds and numbers", function()
    assert.equal(3, retry_after("3", 0))
    assert.equal(120, retry_after(" 120 ", 5))
    assert.equal(0, retry_after("0", 5))
    assert.equal(7, retry_after(7, 0))
    assert.equal(2.5, retry_after(2.5, 0))
  end)

  it("reads the three HTTP-date forms as GMT, whatever the local time zone", function()
    local t = 784111777 -- Sun, 06 Nov 1994 08:49:37 GMT
    assert.equal(10, retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t - 10))
    assert.equal(10, retry_after("Sunday, 06-Nov-94 08:49:37 GMT", t - 10))
    assert.equal(10, retry_after("Sun Nov  6 08:49:37 1994", t - 10))
    assert.equal(0, retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t + 100))   -- past: no wait
    assert.equal(86400 + 3600, retry_after("Thu, 01 Jan 2026 01:00:00 GMT", 1767139200)) -- 2025-12-31
    assert.equal(60, retry_after("Tue, 29 Feb 2028 00:01:00 GMT", 1835395200))           -- leap day
  end)

  it("gives nil for anything else", function()
    for _, v in ipairs{ "soon", "-5", "1.5", "3 s", "", "Sun, 06 Nov 1994 08:49:37 CET",
                        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 36 Nov 1994 08:49:37 GMT" } do
      assert.is_nil(retry_after(v, 0), v)
    end
    assert.is_nil(retry_after(nil, 0))
    assert.is_nil(retry_after(-1, 0))
    assert.is_nil(retry_after(0 / 0, 0))
    assert.is_nil(retry_after(true, 0))
  end)
end)

describe("a 429 from the service", function()
  it("honours Retry-After: 3 instead of closing the window for an hour", function()
    local clock = fake_time()
    local t = scripted{ { 429, "", { retry_after = 3 } }, { 200, OK_BODY } }
    local c = new(t, clock, { max_wait = 10 })
    local err = fails(c)
    assert.equal("rate_limit", err.kind)
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(429, err.http_status)
    assert.equal(3, err.retry_after)
    local st = c:rate_limit_status()
    assert.equal(0, st.remaining)
    assert.equal(3, st.reset_in)
    -- the next call waits the 3 s (within max_wait) and goes through
    assert.equal("1", c:call("getLists")[1].listnum)
    assert.same({ 3 }, clock.slept)
    assert.equal(2, t.sent)
    assert.equal(148, c:rate_limit_status().remaining)   -- the refused call reached the server too
  end)

  it("honours an HTTP-date Retry-After from the response headers", function()
    local clock = fake_time()
    clock.now = 784111777 - 42
    local t = scripted{ { 429, "", { headers = { ["retry-after"] = "Sun, 06 Nov 1994 08:49:37 GMT" } } },
                        { 200, OK_BODY } }
    local c = new(t, clock, { wait = false })
    assert.equal(42, fails(c).retry_after)
    local err = fails(c)
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(42, err.retry_after)
    assert.equal(1, t.sent)
  end)

  it("RATE_LIMIT_WAIT_EXCEEDED only when the real wait exceeds max_wait", function()
    local clock = fake_time()
    local t = scripted{ { 429, "", { retry_after = 30 } }, { 200, OK_BODY } }
    local c = new(t, clock, { max_wait = 5 })
    assert.equal(30, fails(c).retry_after)
    local err = fails(c)
    assert.equal("RATE_LIMIT_WAIT_EXCEEDED", err.code)
    assert.equal(30, err.retry_after)
    clock.now = clock.now + 26
    assert.equal("1", c:call("getLists")[1].listnum)   -- 4 s left: waited
    assert.same({ 4 }, clock.slept)
  end)

  it("without Retry-After: 60 s, doubling on each 429 in a row, capped at 3600, short again after a success",
    function()
      local clock = fake_time()
      local script = {}
      for i = 1, 8 do script[i] = { 429, "" } end
      script[9] = { 200, OK_BODY }
      script[10] = { 429, "" }
      local t = scripted(script)
      local c = new(t, clock, {})
      local seen = {}
      for i = 1, 8 do
        local err = fails(c)
        seen[i] = err.retry_after
        assert.equal(seen[i], c:rate_limit_status().reset_in)
        clock.now = clock.now + err.retry_after
      end
      assert.same({ 60, 120, 240, 480, 960, 1920, 3600, 3600 }, seen)
      assert.truthy(c:call("getLists"))
      assert.equal(60, fails(c).retry_after)
      assert.equal(10, t.sent)
    end)

  it("pauses every client sharing the state file, whatever its budget", function()
    local d = sf.tmpdir()
    local path = d .. "/shared.bin"
    local clock = fake_time()
    local t1 = scripted{ { 429, "", { retry_after = 20 } } }
    local t2 = scripted{ { 200, OK_BODY } }
    local a = new(t1, clock, { state_file = path })
    local b = new(t2, clock, { state_file = path, calls = 10, window = 60, wait = false })
    fails(a)
    local err = fails(b)
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(20, err.retry_after)
    assert.equal(0, t2.sent)
    clock.now = clock.now + 20
    assert.truthy(b:call("getLists"))
    a:close(); b:close()
    sf.rmdir(d)
  end)

  it("an injected limiter without block() is filled, as before", function()
    local clock = fake_time()
    local core = require "egoi.core"
    local inner = core.ratelimit{ calls = 5, window = 60 }
    local lim = { reserve = function(_, now) return inner:reserve(now) end,
                  commit = function(_, s, now) return inner:commit(s, now) end,
                  status = function(_, now) return inner:status(now) end,
                  fill = function(_, now) return inner:fill(now) end }
    local t = scripted{ { 429, "", { retry_after = 3 } }, { 200, OK_BODY } }
    local c = new(t, clock, { limiter = lim, wait = false })
    assert.equal(3, fails(c).retry_after)
    assert.equal(60, fails(c).retry_after)
  end)
end)

describe("a 429 from a real server (libcurl transport)", function()
  local srv, d
  before_each(function()
    d = sf.tmpdir()
    srv = server.start{ cmd = "python3 spec/servers/too_many.py {port}" }
  end)
  after_each(function()
    if srv then srv:stop() end
    sf.rmdir(d)
  end)

  it("Retry-After: 1 pauses about a second, not an hour, and the call then succeeds", function()
    local c = egoi.new{ apikey = KEY, url = srv:url("/v2/rest.php?tag=a&n=1&ra=1"), retries = 0,
      rate_limit = { state_file = d .. "/s.bin", max_wait = 30 } }
    local ok, err = pcall(c.call, c, "getLists")
    assert.is_false(ok)
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(1, err.retry_after)
    assert.is_true(c:rate_limit_status().reset_in <= 1)
    local r = c:call("getLists")
    assert.equal("1", r[1].listnum)
    c:close()
    assert.equal("2", (require("socket.http").request(srv:url("/count?tag=a"))))
  end)
end)
