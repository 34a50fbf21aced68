-- spec/limiter_nginx_spec.lua - the shdict limiter inside a real nginx with
-- two workers: one history per key shared by limiters with different
-- settings (none wipes the others' calls), block() binding every worker,
-- and a 429 with an HTTP-date Retry-After through the cosocket transport.
-- Times are passed in explicitly (?now=) where the arithmetic is the point.
local nginx = require "helpers.nginx"
local server = require "helpers.server"
local cjson = require "cjson"

local EXTRA = [[
        location = /t/lim { content_by_lua_block { require("limiter_t").lim() } }
]]

local function q(s)
  return (tostring(s):gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

describe("shdict limiter in nginx", function()
  local ng, up
  local n = 0
  local function key()
    n = n + 1
    return ("k%d-%d"):format(n, math.random(1, 1e9))
  end

  setup(function()
    math.randomseed(os.time())
    up = server.start{ cmd = "python3 spec/servers/too_many.py {port}" }
    ng = nginx.start{ workers = 2, extra = EXTRA }
  end)

  teardown(function()
    if ng then ng:stop() end
    if up then up:stop() end
  end)

  local function get(args)
    local parts = {}
    for k, v in pairs(args) do parts[#parts + 1] = k .. "=" .. q(v) end
    local st, body = nginx.request(ng.port, "GET", "/t/lim?" .. table.concat(parts, "&"))
    assert.equal(200, st, body)
    return cjson.decode(body)
  end

  it("limiters with other calls/window share one history and never exceed the largest budget", function()
    local k = key()
    local r = get{ op = "reserve", key = k, calls = 50, window = 3600, now = 1000, n = 60 }
    assert.equal(50, r.admitted)
    assert.is_false(r.ok)
    assert.is_true(math.abs(r.value - 3600) < 0.01)
    local s = get{ op = "status", key = k, calls = 150, window = 3600, now = 1001 }
    assert.equal(50, s.used)
    assert.equal(100, s.remaining)
    assert.is_nil(s.warn)
    r = get{ op = "reserve", key = k, calls = 150, window = 3600, now = 1002, n = 120 }
    assert.equal(100, r.admitted)                        -- 150 in the hour, not 200
    -- the stricter limiter applies its budget to all 150, whichever worker serves it
    for _ = 1, 4 do
      r = get{ op = "reserve", key = k, calls = 50, window = 3600, now = 1003 }
      assert.equal(0, r.admitted)
    end
    s = get{ op = "status", key = k, calls = 50, window = 3600, now = 1003 }
    assert.same({ 150, 0 }, { s.used, s.remaining })
    -- a short window sees only its own stretch of the same history
    s = get{ op = "status", key = k, calls = 5, window = 10, now = 1020 }
    assert.same({ 0, 5 }, { s.used, s.remaining })
  end)

  it("block() binds every worker and every budget; a later block only extends", function()
    local k = key()
    assert.is_true(get{ op = "block", key = k, now = 500, s = 30 }.ok)
    for _ = 1, 6 do -- spread over the workers: each one is bound
      local r = get{ op = "reserve", key = k, calls = 10, window = 60, now = 510 }
      assert.equal(0, r.admitted)
      assert.is_true(math.abs(r.value - 20) < 1e-6)
    end
    get{ op = "block", key = k, now = 511, s = 1 }          -- would end at 512: ignored
    local s = get{ op = "status", key = k, calls = 150, window = 3600, now = 520 }
    assert.same({ 0, 0 }, { s.used, s.remaining })
    assert.is_true(math.abs(s.reset_in - 10) < 1e-6)
    assert.equal(1, get{ op = "reserve", key = k, calls = 10, window = 60, now = 530 }.admitted)
  end)

  it("a 429 with an HTTP-date Retry-After pauses for that long, not an hour", function()
    local url = up:url("/v2/rest.php?tag=ng&n=1&date=5")
    local r = get{ op = "call", url = url, apikey = "limiter-nginx-" .. key() }
    assert.equal("RATE_LIMITED", r.code1)
    assert.equal(429, r.status1)
    assert.is_true(r.retry_after1 >= 3 and r.retry_after1 <= 6, tostring(r.retry_after1))
    assert.equal(0, r.remaining)
    assert.is_true(r.reset_in > 2 and r.reset_in <= 6, tostring(r.reset_in))
    assert.equal("RATE_LIMITED", r.code2)                   -- still paused: not sent
    assert.is_true(r.retry_after2 > 2 and r.retry_after2 <= 6)
    assert.equal("1", (require("socket.http").request(up:url("/count?tag=ng"))))
  end)
end)
