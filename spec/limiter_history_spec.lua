-- spec/limiter_history_spec.lua - the state file is the account's history
-- of call times on this host (csrc/ratelimit.c, format version 2):
--   * limiters with different calls/window settings share it, each applying
--     its own budget, and none wipes the others' history;
--   * block(now, seconds) lives in the state and binds every sharer;
--   * only a damaged file of ours is "corrupt"; a file that is not a limiter
--     state (a user's file at a mistyped path, a hard link, another format
--     version) is refused with STATE_FILE_ERROR and left untouched;
--   * version 1 files (older lua-egoi) are migrated with their times kept.
local core = require "egoi.core"
local read_file = require("helpers.server").read_file

local sf = require "helpers.statefile"
local tmpdir, rmdir, write_file, u32, v1 = sf.tmpdir, sf.rmdir, sf.write_file, sf.u32, sf.v1

local function all_refused(path, pattern)
  local before = read_file(path)
  local lim = core.ratelimit{ calls = 3, window = 10, path = path }
  for _, r in ipairs{ { lim:reserve(1) }, { lim:status(1) }, { lim:fill(1) }, { lim:block(1, 5) },
                      { lim:commit(1, 1) } } do
    assert.is_nil(r[1])
    assert.equal("STATE_FILE_ERROR", r[2])
    assert.truthy(r[3]:find(path, 1, true), r[3])
    if pattern then assert.truthy(r[3]:find(pattern, 1, true), r[3]) end
    assert.truthy(r[3]:find("rate_limit.state_file", 1, true), r[3])   -- says what to do
  end
  lim:close()
  assert.equal(before, read_file(path))   -- never written, truncated or replaced
end

describe("one history shared by limiters with different settings", function()
  local d
  before_each(function() d = tmpdir() end)
  after_each(function() rmdir(d) end)

  it("a cron job with calls = 50, then the CLI with the default 150/h: never over 150", function()
    local path = d .. "/k.bin"
    local cron = core.ratelimit{ calls = 50, window = 3600, path = path }
    for t = 1, 50 do
      local ok, _, warn = cron:reserve(t)
      assert.is_true(ok)
      assert.is_nil(warn)
    end
    assert.same({ false, 3600 - 50 }, { cron:reserve(51) })   -- the call at 1 frees at 3601
    local cli = core.ratelimit{ calls = 150, window = 3600, path = path }
    assert.same({ 50, 100, 0 }, { cli:status(60) })   -- sees the cron job's calls, no warning
    for t = 61, 160 do
      local ok, _, warn = cli:reserve(t)
      assert.is_true(ok)
      assert.is_nil(warn)
    end
    assert.same({ false, 3600 - 160 }, { cli:reserve(161) })  -- 150 in the hour: full
    -- the cron job applies its own (stricter) budget to the whole history
    local used, remaining, reset_in = cron:status(170)
    assert.same({ 150, 0 }, { used, remaining })
    assert.equal(3600 - 170 + 111, reset_in)   -- until only 49 of the 150 are inside its hour
    -- and the other way round: the cron job opening after the CLI
    cron:close(); cli:close()
    cron = core.ratelimit{ calls = 50, window = 3600, path = path }
    used, remaining = cron:status(200)
    assert.same({ 150, 0 }, { used, remaining })
    cron:close()
    assert.equal(64 + 16 * 150, #read_file(path))   -- sized for the largest budget
  end)

  it("different windows: each limiter counts the stamps inside its own", function()
    local path = d .. "/w.bin"
    local fast = core.ratelimit{ calls = 2, window = 10, path = path }
    local slow = core.ratelimit{ calls = 4, window = 100, path = path }
    assert.is_true((fast:reserve(0)))
    assert.is_true((fast:reserve(1)))
    assert.same({ false, 8 }, { fast:reserve(2) })
    assert.same({ 2, 2, 0 }, { slow:status(2) })
    assert.is_true((slow:reserve(3)))
    assert.is_true((slow:reserve(4)))
    assert.same({ false, 95 }, { slow:reserve(5) })   -- 4 in 100 s: the call at 0 frees at 100
    assert.same({ false, 8 }, { fast:reserve(5) })    -- 4 in its 10 s: the call at 3 frees at 13
    assert.same({ 1, 1, 0 }, { fast:status(13) })
    assert.is_true((fast:reserve(13)))
    -- 5 calls in 100 s; with budget 4 the 4th newest (at 1) decides: frees at 101
    assert.same({ false, 88 }, { slow:reserve(13) })
    fast:close(); slow:close()
  end)

  it("the history keeps the newest stamps any sharer needs (random budgets, brute force)", function()
    math.randomseed(2026)
    local path = d .. "/r.bin"
    local lims = {}
    local budgets = { { 3, 20 }, { 5, 20 }, { 8, 50 }, { 2, 5 } }
    for i, b in ipairs(budgets) do lims[i] = core.ratelimit{ calls = b[1], window = b[2], path = path } end
    local stamps = {}
    local t = 0
    for _ = 1, 600 do
      t = t + math.random() * 3
      local i = math.random(#lims)
      local calls, window = budgets[i][1], budgets[i][2]
      local inside = 0
      for _, s in ipairs(stamps) do if t - s < window then inside = inside + 1 end end
      local ok, a, warn = lims[i]:reserve(t)
      assert.is_nil(warn)
      if ok then
        assert.is_true(inside < calls, "admitted over budget")
        stamps[#stamps + 1] = t
      else
        assert.is_true(inside >= calls, "refused under budget")
        assert.is_true(a > 0 and a <= window)
      end
    end
    for _, l in ipairs(lims) do l:close() end
  end)

  it("separate processes with other settings keep the history", function()
    local path = d .. "/p.bin"
    local lua = os.getenv("EGOI_TEST_LUA") or (jit and "luajit" or "lua5.4")
    local script = d .. "/child.lua"
    write_file(script, [[
      local core = require "egoi.core"
      local lim = core.ratelimit{ calls = 50, window = 3600, path = arg[1] }
      local n = 0
      for t = 1, 60 do if lim:reserve(t) == true then n = n + 1 end end
      io.write(n)
    ]])
    local p = io.popen(("%s '%s' '%s'"):format(lua, script, path))
    local out = p:read("*a")
    p:close()
    assert.equal("50", out)
    local cli = core.ratelimit{ calls = 150, window = 3600, path = path }
    assert.same({ 50, 100, 0 }, { cli:status(100) })
    cli:close()
  end)
end)

describe("block(now, seconds)", function()
  local d
  before_each(function() d = tmpdir() end)
  after_each(function() rmdir(d) end)

  for _, mode in ipairs{ "memory", "file" } do
    it("refuses every reservation until now + seconds, extends, never shortens (" .. mode .. ")", function()
      local path = mode == "file" and d .. "/b.bin" or nil
      local lim = core.ratelimit{ calls = 5, window = 3600, path = path }
      assert.is_true((lim:reserve(0)))
      assert.same({ true }, { lim:block(10, 3) })
      assert.same({ false, 3 }, { lim:reserve(10) })
      assert.same({ 1, 0, 3 }, { lim:status(10) })          -- blocked: nothing remains
      assert.same({ false, 0.5 }, { lim:reserve(12.5) })
      assert.same({ true }, { lim:block(11, 1) })           -- would end at 12 < 13: ignored
      assert.same({ false, 0.5 }, { lim:reserve(12.5) })
      lim:block(12.5, 10)                                   -- extends to 22.5
      assert.same({ false, 9.5 }, { lim:reserve(13) })
      assert.is_true((lim:reserve(22.5)))
      assert.same({ 2, 3, 0 }, { lim:status(22.5) })
      lim:close()
    end)
  end

  it("binds every limiter sharing the file, whatever its settings", function()
    local path = d .. "/s.bin"
    local a = core.ratelimit{ calls = 150, window = 3600, path = path }
    local b = core.ratelimit{ calls = 10, window = 60, path = path }
    a:block(100, 30)
    assert.same({ false, 30 }, { b:reserve(100) })
    assert.same({ 0, 0, 20 }, { b:status(110) })
    -- the window wait wins when it is the later one
    local c = core.ratelimit{ calls = 1, window = 60, path = path }
    assert.is_true((c:reserve(130)))
    c:block(131, 5)
    assert.same({ false, 59 }, { c:reserve(131) })
    assert.same({ 1, 0, 59 }, { c:status(131) })
    a:close(); b:close(); c:close()
  end)

  it("a clock going backwards keeps the block's length", function()
    local lim = core.ratelimit{ calls = 5, window = 60 }
    lim:block(1000, 30)
    assert.same({ false, 30 }, { lim:reserve(500) })   -- moved back to 500..530
    assert.is_true((lim:reserve(530)))
  end)

  it("checks its arguments", function()
    local lim = core.ratelimit{ calls = 5, window = 60 }
    assert.has_error(function() lim:block(0 / 0, 1) end)
    assert.has_error(function() lim:block(1, -1) end)
    assert.has_error(function() lim:block(1, 1 / 0) end)
    assert.has_error(function() lim:block(1, "x") end)
    assert.same({ true }, { lim:block(1, 0) })
    assert.is_true((lim:reserve(1)))
  end)
end)

describe("what a state file path may hold", function()
  local d
  before_each(function() d = tmpdir() end)
  after_each(function() rmdir(d) end)

  it("a user's file at a mistyped path is refused and left as it was", function()
    local path = d .. "/notes.txt"
    write_file(path, "my notes, not a limiter state\n" .. ("x"):rep(5000))
    all_refused(path, "not a rate-limit state file")
  end)

  it("random bytes, a short file and bytes before the magic are refused", function()
    math.randomseed(7)
    local b = {}
    for i = 1, 112 do b[i] = string.char(math.random(0, 255)) end
    write_file(d .. "/rand.bin", table.concat(b))
    all_refused(d .. "/rand.bin")
    write_file(d .. "/short.bin", "EGOI")
    all_refused(d .. "/short.bin")
    write_file(d .. "/shifted.bin", "XXXX" .. v1(3, 10, 0, 0, {}))
    all_refused(d .. "/shifted.bin")
  end)

  it("a hard link is refused (to a user's file or to a state file)", function()
    write_file(d .. "/user.txt", "precious")
    os.execute(("ln '%s/user.txt' '%s/link.bin'"):format(d, d))
    all_refused(d .. "/link.bin", "hard links")
    assert.equal("precious", read_file(d .. "/user.txt"))
    local lim = core.ratelimit{ calls = 3, window = 10, path = d .. "/state.bin" }
    assert.is_true((lim:reserve(1)))
    lim:close()
    os.execute(("ln '%s/state.bin' '%s/second.bin'"):format(d, d))
    all_refused(d .. "/second.bin", "hard links")
  end)

  it("a state of an unknown format version is refused, not reset", function()
    local path = d .. "/v9.bin"
    write_file(path, "EGOIRL\0\1" .. u32(9) .. ("\0"):rep(100))
    all_refused(path, "format version 9")
  end)

  it("an empty file becomes a new state", function()
    local path = d .. "/empty.bin"
    write_file(path, "")
    local lim = core.ratelimit{ calls = 3, window = 10, path = path }
    local r = { lim:reserve(1) }
    assert.same({ true, 1 }, r)
    lim:close()
    assert.equal(64 + 16 * 3, #read_file(path))
  end)

  describe("a damaged version 2 state is reset with a warning", function()
    local WARN = "rate-limit state file was corrupt and has been reset"
    local function good(path)
      local lim = core.ratelimit{ calls = 3, window = 10, path = path }
      assert.is_true((lim:reserve(1)))
      assert.is_true((lim:reserve(2)))
      lim:close()
      return read_file(path)
    end
    local function bump(s, i) return string.char((s:byte(i) + 1) % 256) end
    local damage = {
      { "a changed byte in a record", function(s) return s:sub(1, 70) .. bump(s, 71) .. s:sub(72) end },
      { "a changed byte in the header", function(s) return s:sub(1, 16) .. bump(s, 17) .. s:sub(18) end },
      { "a torn write (short file)", function(s) return s:sub(1, 90) end },
      { "only the magic", function(s) return s:sub(1, 10) end },
      { "trailing bytes", function(s) return s .. "zz" end },
      { "a count beyond cap", function(s) return s:sub(1, 16) .. u32(99) .. s:sub(21) end },
    }
    for i, case in ipairs(damage) do
      it(case[1], function()
        local path = d .. "/dmg" .. i .. ".bin"
        write_file(path, case[2](good(path)))
        local lim = core.ratelimit{ calls = 3, window = 10, path = path }
        assert.same({ 0, 3, 0, WARN }, { lim:status(5) })
        assert.same({ 0, 3, 0 }, { lim:status(5) })    -- sound again
        lim:close()
        assert.equal(64 + 16 * 3, #read_file(path))
      end)
    end
  end)

  it("a version 1 file (older lua-egoi) is migrated with its times, whatever its settings", function()
    local path = d .. "/old.bin"
    -- calls = 4 / 20 s ring, 3 stamps at ring positions 2, 3, 0 (head 2): times 5, 6, 7
    write_file(path, v1(4, 20, 3, 2, { 7, 0, 5, 6 }))
    local lim = core.ratelimit{ calls = 3, window = 10, path = path }
    local used, remaining, reset_in, warn = lim:status(8)
    assert.same({ 3, 0, 7 }, { used, remaining, reset_in })   -- the stamp at 5 frees at 15
    assert.is_nil(warn)
    lim:close()
    local data = read_file(path)
    assert.equal(64 + 16 * 4, #data)                          -- cap: the larger budget
    assert.equal(u32(2) .. u32(4) .. u32(3), data:sub(9, 20))
  end)
end)

describe("processes with different budgets on one file, concurrently #multiprocess", function()
  local server = require "helpers.server"
  local http = require "socket.http"
  local srv, d
  local pids = {}

  before_each(function()
    d = tmpdir()
    srv = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
  end)

  after_each(function()
    for _, pid in ipairs(pids) do os.execute("kill " .. pid .. " 2>/dev/null") end
    pids = {}
    if srv then srv:stop() end
    rmdir(d)
  end)

  it("4 workers with 12 calls / 2 s and 4 with 4 calls / 2 s: never more than 12 arrivals in 2 s", function()
    local lua = os.getenv("EGOI_TEST_LUA") or (jit and "luajit" or "lua5.4")
    local window, duration = 2, 4.5
    local state = d .. "/state.bin"
    local start_at = core.now() + 1.5
    local outs = {}
    for i = 1, 8 do
      local calls = i <= 4 and 12 or 4
      outs[i] = ("%s/worker%d.out"):format(d, i)
      os.execute(("%s spec/helpers/rl_worker.lua %d '%s' %d %g %g %.6f >'%s' 2>&1 </dev/null & echo $! >'%s.pid'")
        :format(lua, srv.port, state, calls, window, duration, start_at, outs[i], outs[i]))
      pids[#pids + 1] = assert(tonumber((read_file(outs[i] .. ".pid") or ""):match("%d+")))
    end
    local deadline = start_at + duration + 30
    local finished
    repeat
      finished = 0
      for i = 1, 8 do
        if (read_file(outs[i]) or ""):match("done") then finished = finished + 1 end
      end
      if finished < 8 then core.sleep(0.1) end
    until finished == 8 or core.now() > deadline
    assert.equal(8, finished)
    local made = 0
    for i = 1, 8 do
      local out = read_file(outs[i])
      local n, _, errs = out:match("done (%d+) (%d+) (%d+)")
      assert.equal("0", errs, out)   -- no I/O error, no "corrupt" warning
      made = made + tonumber(n)
    end
    pids = {}
    local body, code = http.request(srv:url("/log"))
    assert.equal(200, code)
    local arrivals = {}
    for t in body:gmatch("[%d.]+") do arrivals[#arrivals + 1] = tonumber(t) end
    assert.equal(made, #arrivals)
    for i = 1, #arrivals - 12 do
      assert.is_true(arrivals[i + 12] - arrivals[i] >= window - 1e-5,
        ("13 arrivals within %gs from %.6f"):format(arrivals[i + 12] - arrivals[i], arrivals[i]))
    end
    assert.is_true(#arrivals >= 12, "the budget was not used at all")
  end)
end)
