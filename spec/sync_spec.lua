-- spec/sync_spec.lua - egoi.sync / contacts:sync / `egoi sync` against the sandbox over v2 and
-- v3: the list ends up matching the source, unchanged contacts are not sent, and the calls the
-- dry run predicted are the calls the real run made, counted at the server.
local server = require "helpers.server"
local egoi = require "egoi"
local bulk = require "egoi.bulk"
local sync = require "egoi.sync"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local LUA = os.getenv("EGOI_TEST_LUA") or "lua5.4"
local CPATH = LUA == "luajit" and "build/jit/?.so;;" or "build/5.4/?.so;;"

local function calls(sb)
  local n = 0
  for line in sb:log():gmatch("[^\n]+") do
    if line:match(" v3 %d%d%d ") or line:match(" /v2/rest%.php ") then n = n + 1 end
  end
  return n
end

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- the list's contacts by e-mail (read through v3 whatever the API under test)
local function state(v3, list)
  local out = {}
  for c in v3.contacts:each(list) do out[c.base.email:lower()] = c.base end
  return out
end

local function source_rows(from, to, changed)
  local rows = {}
  for i = from, to do
    rows[#rows + 1] = { email = ("S%03d@Example.com"):format(i),
      first_name = changed[i] and "Changed" or ("S" .. i) }
  end
  return rows
end

for _, api in ipairs{ "v2", "v3" } do
  describe("sync on API " .. api, function()
    local sb, c, v3, dir

    before_each(function()
      -- page caps so that reading the list takes several pages on either API
      sb = assert(server.start{ cmd = "bin/egoi-sandbox --port {port} --rate-limit 0 --page-cap 40"
        .. " --v3-page-cap 40" })
      v3 = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false }
      c = api == "v3" and v3 or egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false }
      dir = server.tmpdir("sync")
    end)

    after_each(function()
      if c and c ~= v3 then c:close() end
      if v3 then v3:close() end
      if sb then sb:stop() end
      if dir then server.rmdir(dir) end
    end)

    local function seeded(n)
      local list = v3.lists:create{ internal_name = "sync " .. api }.list_id
      bulk.import(c, source_rows(1, n, {}), { listID = list })
      return list
    end

    it("plans, and the real run makes exactly the calls the dry run predicted", function()
      local list = seeded(100)
      -- 1..100 in the list; the source: 3..104 with 10 and 11 changed -> 4 new, 2 changed, 2 absent
      local src = source_rows(3, 104, { [10] = true, [11] = true })
      local before = calls(sb)
      local plan = sync.run(c, list, src, { dry_run = true })
      assert.equal(plan.calls.read, calls(sb) - before) -- a dry run only reads
      assert.equal(4, #plan.new)
      assert.equal(2, #plan.changed)
      assert.equal(96, plan.unchanged)
      assert.equal(2, #plan.absent)
      local text = sync.describe(plan)
      assert.truthy(text:find("absent     2 (unsubscribed)", 1, true))
      assert.truthy(text:find(("= %d"):format(plan.calls.total), 1, true))
      assert.same(state(v3, list)["s010@example.com"].first_name, "S10") -- nothing written

      before = calls(sb)
      local snapshot = dir .. "/snap.json"
      local done = c.contacts and c.contacts.sync and c.contacts:sync(list, src, { snapshot = snapshot })
        or sync.run(c, list, src, { snapshot = snapshot })
      assert.equal(plan.calls.total, calls(sb) - before)
      assert.equal(plan.calls.total, done.done.calls)
      assert.equal(6, done.done.imported)
      assert.equal(2, done.done.removed)
      -- one import call and, on v3, one unsubscribe call for both; v2 one call per removal
      assert.equal(1, plan.calls.import)
      assert.equal(api == "v3" and 1 or 2, plan.calls.remove)

      local got = state(v3, list)
      assert.equal("Changed", got["s010@example.com"].first_name)
      assert.equal("S104", got["s104@example.com"].first_name)
      assert.equal("removed", got["s001@example.com"].status)
      assert.equal("removed", got["s002@example.com"].status)
      assert.equal("active", got["s003@example.com"].status)

      -- the snapshot: the list after the run
      local st = io.popen("stat -c %a " .. shell_quote(snapshot))
      assert.equal("600", st:read("l"))
      st:close()
      local snap = assert(sync.load_snapshot(snapshot))
      assert.equal("2", snap.contacts["s001@example.com"].status)
      assert.equal("Changed", snap.contacts["s010@example.com"].fields.first_name)

      -- a second run: nothing to send, only the reads
      before = calls(sb)
      local again = sync.run(c, list, src, {})
      assert.equal(0, #again.new + #again.changed + #again.absent)
      assert.equal(again.calls.read, again.calls.total)
      assert.equal(again.calls.total, calls(sb) - before)
    end)

    it("states the plan before the first write; on_plan returning false cancels the run", function()
      local list = seeded(10)
      local before = calls(sb)
      local seen
      local plan = sync.run(c, list, source_rows(3, 12, {}), { on_plan = function(p)
        seen = calls(sb) - before
        assert.equal(p.calls.read, seen) -- nothing written yet
        return false
      end })
      assert.is_true(plan.cancelled)
      assert.equal(seen, calls(sb) - before)
      assert.equal(api == "v3" and 1 or 2, plan.calls.remove)
      assert.is_nil(state(v3, list)["s011@example.com"])
    end)

    it("sets the writes against the hourly budget and says so before any write", function()
      local list = seeded(30)
      local opts = { apikey = KEY, rate_limit = { calls = 10, window = 3600, state_file = dir .. "/rl.state" } }
      if api == "v3" then opts.api, opts.url = "v3", sb:url("/") else opts.url = sb:url("/v2/rest.php") end
      local limited = egoi.new(opts)
      local plan = sync.run(limited, list, source_rows(21, 30, {}), { dry_run = true })
      limited:close()
      assert.equal(20, #plan.absent)
      assert.equal(10, plan.budget.calls)
      local writes = plan.calls.import + plan.calls.remove
      assert.equal(api == "v3" and 1 or 20, writes - plan.calls.import)
      local text = sync.describe(plan)
      assert.truthy(text:find("budget: 10 calls per 3600 s", 1, true), text)
      if api == "v2" then assert.truthy(text:find("more window", 1, true), text) end
    end)

    it("keeps contacts absent from the source with remove = keep", function()
      local list = seeded(10)
      local plan = sync.run(c, list, source_rows(1, 8, {}), { remove = "keep" })
      assert.equal(2, plan.absent_kept)
      assert.equal(0, plan.calls.remove)
      assert.equal("active", state(v3, list)["s010@example.com"].status)
    end)

    it("refuses bad options and columns before any call", function()
      local before = calls(sb)
      local ok, err = pcall(sync.run, c, 1, {}, { remove = "delete" })
      assert.is_false(ok)
      assert.truthy(err.message:find("'remove'", 1, true))
      ok, err = pcall(sync.run, c, 1, { { email = "a@example.com", shoe_size = "9" } }, {})
      assert.is_false(ok)
      assert.equal("UNKNOWN_FIELD", err.code)
      ok, err = pcall(sync.run, c, 1, {}, { key = "first_name" })
      assert.is_false(ok)
      assert.truthy(err.message:find("'key'", 1, true))
      assert.equal(0, calls(sb) - before)
    end)

    it("egoi sync LIST FILE: --dry-run prints the plan, the run agrees with it", function()
      local list = seeded(10)
      local csv = dir .. "/crm.csv"
      local f = assert(io.open(csv, "wb"))
      f:write("email,first_name\n")
      for i = 2, 12 do f:write(("s%03d@example.com,%s\n"):format(i, i == 5 and "Five" or ("S" .. i))) end
      f:write("not-an-email,X\n")
      f:close()
      local function egoi_cli(args)
        local cmd = ("cd %s && EGOI_APIKEY=%s EGOI_URL=%s EGOI_RATE_LIMIT=off TMPDIR=%s"
          .. " LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s' %s bin/egoi %s 2>&1"):format(
          shell_quote(os.getenv("PWD") or "."), KEY, sb:url("/"), shell_quote(dir), CPATH, LUA, args)
        local p = io.popen(cmd)
        local out = p:read("a")
        p:close()
        return out
      end
      local before = calls(sb)
      local out = egoi_cli(("sync %s %s --dry-run --api %s"):format(list, shell_quote(csv), api))
      assert.truthy(out:find("new        2", 1, true), out)
      assert.truthy(out:find("changed    1", 1, true), out)
      assert.truthy(out:find("absent     1 (unsubscribed)", 1, true), out)
      assert.truthy(out:find("line 13: not an e-mail address", 1, true), out)
      local total = tonumber(out:match("= (%d+)\n"))
      local dry_calls = calls(sb) - before
      assert.is_true(total > dry_calls)
      before = calls(sb)
      out = egoi_cli(("--json --quiet sync %s %s --api %s"):format(list, shell_quote(csv), api))
      local res = require("cjson").decode(out)
      assert.equal(total, res.done.calls)
      assert.equal(total, calls(sb) - before)
      assert.equal("Five", state(v3, list)["s005@example.com"].first_name)
      assert.equal("removed", state(v3, list)["s001@example.com"].status)
      -- the default snapshot lives in a private directory of TMPDIR
      local found = false
      local p = io.popen("ls " .. shell_quote(dir) .. "/egoi-* 2>/dev/null")
      for name in p:read("a"):gmatch("[^\n]+") do if name:match("^sync%-" .. list .. "%-") then found = true end end
      p:close()
      assert.is_true(found)
    end)
  end)
end

describe("sync on API v3 reading the list through the export action", function()
  it("reads the list in one call and still predicts the real run's calls", function()
    local sb = assert(server.start{ cmd = "bin/egoi-sandbox --port {port} --rate-limit 0" })
    local dir = server.tmpdir("syncx")
    local hooks = dir .. "/hooks.jsonl"
    local sink = assert(server.start{ cmd = "/usr/bin/python3 spec/servers/sandbox_callback_sink.py {port} "
      .. hooks })
    local v3 = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false }
    local list = v3.lists:create{ internal_name = "sync export" }.list_id
    bulk.import(v3, source_rows(1, 1500, {}), { listID = list })
    local taken = 0 -- each export's link is the next line of the sink's file
    local function receive()
      local f = io.open(hooks, "rb")
      if not f then return nil end
      local n, got = 0, nil
      for line in f:lines() do
        n = n + 1
        if n == taken + 1 then got = line end
      end
      f:close()
      if not got then return nil end
      taken = taken + 1
      return require("cjson").decode(require("cjson").decode(got).body)
    end
    local export = { callback_url = sink:url("/hook"), receive = receive, poll_interval = 0.05, wait_timeout = 30 }
    local src = source_rows(2, 1501, { [7] = true })
    local before = calls(sb)
    local plan = sync.run(v3, list, src, { dry_run = true, export = export })
    assert.equal(1, plan.calls.read)
    assert.equal(1, #plan.new)
    assert.equal(1, #plan.changed)
    assert.equal(1, #plan.absent)
    assert.equal(3, plan.calls.total)
    local function api_calls() return calls(sb) - before - select(2, sb:log():gsub("GET /exports/", "")) end
    assert.equal(1, api_calls())
    before = calls(sb) - select(2, sb:log():gsub("GET /exports/", ""))
    local done = sync.run(v3, list, src, { export = export })
    assert.equal(plan.calls.total, done.done.calls)
    assert.equal(plan.calls.total, api_calls())
    assert.equal("removed", state(v3, list)["s001@example.com"].status)
    v3:close()
    sink:stop()
    sb:stop()
    server.rmdir(dir)
  end)
end)
