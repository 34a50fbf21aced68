-- Client:close() closes what the client opened itself, never a limiter passed in as
-- rate_limit.limiter: one limiter shared by several clients (one per nginx worker, one
-- Redis limiter for a process) outlives the first client that closes. Against the sandbox on
-- loopback; the client-built limiters are checked for leaks where they live (the state file's
-- descriptor in /proc, the Redis connection in CLIENT LIST).
local server = require "helpers.server"
local redis = require "helpers.redis"
local egoi = require "egoi"
local core = require "egoi.core"

local KEY = "0123456789abcdef0123456789abcdef01234567"

-- descriptors of this process open on `path` ($PPID of the popen shell is this Lua process)
local function fds_on(path)
  local p = assert(io.popen("ls -l /proc/$PPID/fd 2>/dev/null"))
  local n = 0
  for line in p:lines() do
    if line:sub(-#path - 4) == " -> " .. path then n = n + 1 end
  end
  p:close()
  return n
end

describe("client:close() and the limiter", function()
  local sb, dir
  setup(function()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --seed 7 --rate-limit 0" }
    dir = server.tmpdir("egoi-close-lim")
  end)
  teardown(function()
    if sb then sb:stop() end
    server.rmdir(dir)
  end)

  local function client(rate_limit)
    return egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), retries = 0, rate_limit = rate_limit }
  end

  it("leaves an injected limiter open: a second client sharing it goes on in the same window", function()
    local path = dir .. "/shared.bin"
    local lim = core.ratelimit{ calls = 4, window = 3600, path = path }
    local a = client{ limiter = lim, wait = false }
    local b = client{ limiter = lim, wait = false }
    assert.is_table(a.lists:all())
    assert.is_table(b.lists:all())
    a:close()
    assert.equal(1, fds_on(path))                 -- still open: it is the caller's
    assert.is_table(b.lists:all())                -- would raise "ratelimit is closed"
    assert.is_table(b.lists:all())
    assert.same({ used = 4, remaining = 0 }, (function()
      local s = b:rate_limit_status()
      return { used = s.used, remaining = s.remaining }
    end)())
    local ok, err = pcall(b.lists.all, b.lists)   -- a's two calls still count
    assert.is_false(ok)
    assert.equal("RATE_LIMITED", err.code)
    b:close()
    assert.equal(1, fds_on(path))
    assert.equal(4, (lim:status(core.now())))     -- the caller's limiter still answers
    lim:close()
    assert.equal(0, fds_on(path))
  end)

  it("closes the limiter it built from state_file (no descriptor left)", function()
    local path = dir .. "/own.bin"
    local c = client{ state_file = path }
    assert.is_table(c.lists:all())
    assert.equal(1, fds_on(path))
    c:close()
    assert.equal(0, fds_on(path))
    c:close()                                     -- idempotent
  end)

  describe("with Redis #redis", function()
    local r
    setup(function() r = redis.start{} end)
    teardown(function() if r then r:stop() end end)

    local function connections()
      local list = r:command("CLIENT", "LIST")
      local n = 0
      for _ in tostring(list):gmatch("[^\n]+") do n = n + 1 end
      return n - 1 -- the admin connection asking
    end
    -- Redis notices a closed connection on its next event-loop turn: the count it shows,
    -- once it equals `want` or after 2 s
    local function settles_at(want)
      local n
      for _ = 1, 40 do
        n = connections()
        if n == want then break end
        core.sleep(0.05)
      end
      return n
    end

    it("closes the Redis connection it opened from the URL", function()
      local before = connections()
      local c = client{ redis = r:url() }
      assert.is_table(c.lists:all())
      assert.equal(before + 1, connections())
      c:close()
      assert.equal(before, settles_at(before))
    end)

    it("leaves an injected Redis limiter connected for the clients still using it", function()
      local lim = require("egoi.limiter.redis").new{ url = r:url(), key = "injected", calls = 10 }
      local a, b = client{ limiter = lim }, client{ limiter = lim }
      assert.is_table(a.lists:all())
      local before = connections()
      a:close()
      assert.equal(before, settles_at(before - 1)) -- (would drop to before - 1)
      assert.is_table(b.lists:all())
      assert.equal(2, b:rate_limit_status().used)
      b:close()
      lim:close()
      assert.equal(before - 1, settles_at(before - 1))
    end)
  end)
end)
