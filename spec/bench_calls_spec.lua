-- bench/run.sh section (5), calls per job, at a tiny BENCH_SCALE: every job runs on v2 and v3
-- against a private sandbox and lua-egoi spends the calls bench/README.md says it does.
describe("bench (5) calls per job", function()
  if (os.getenv("EGOI_TEST_LUA") or "lua5.4") ~= "lua5.4" then
    it("runs in the Lua 5.4 pass (the bench runs lua5.4)", function() pending("Lua 5.4 pass") end)
    return
  end

  it("prints one row per job and API, at the minimum where the job exists", function()
    local p = assert(io.popen("BENCH_SECTIONS=5 BENCH_SCALE=0.0002 sh bench/run.sh 2>&1"))
    local out = p:read("*a")
    p:close()
    local rows = {}
    for job, api, size, calls, min, vendor in out:gmatch("\n(%a+)%s+(v[23])%s+(%d+)%s+(%S+)%s+(%d+)%s+(%d+)") do
      rows[job .. " " .. api] = { size = tonumber(size), calls = tonumber(calls), min = tonumber(min),
        vendor = tonumber(vendor) }
    end
    for _, job in ipairs{ "import", "export", "sync", "campaign" } do
      for _, api in ipairs{ "v2", "v3" } do
        assert.is_table(rows[job .. " " .. api], job .. " " .. api .. " missing in:\n" .. out)
      end
    end
    assert.same({ 200, 1, 1, 200 }, { rows["import v2"].size, rows["import v2"].calls, rows["import v2"].min,
      rows["import v2"].vendor })
    assert.same({ 1, 1 }, { rows["import v3"].calls, rows["import v3"].min })
    -- one page + the count check (getLists); paging alone needs one more page only when the
    -- list is a multiple of 1000
    assert.same({ 2, 1 }, { rows["export v2"].calls, rows["export v2"].min })
    assert.same({ 1, 20 }, { rows["export v3"].min, rows["export v3"].vendor })
    assert.equal(1, rows["export v3"].calls) -- paged at 1000 until contacts:export lands
    assert.same({ 3, 3 }, { rows["campaign v2"].calls, rows["campaign v3"].calls })
    if not rows["sync v3"].calls then
      assert.matches("sync +v3 .-not yet available", out)
    end
    assert.is_nil(out:find("0123456789abcdef0123456789abcdef01234567", 1, true))
  end)
end)
