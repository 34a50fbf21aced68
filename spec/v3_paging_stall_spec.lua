-- v3 `each` against a server that ignores `offset` and sends no total_items: every page is the
-- first one again, and nothing but the hourly call limit would end the paging. The second page,
-- the same as the first, stops it with PAGING_STALLED before any item is yielded twice. Real
-- servers on loopback: a small Python one that answers every page alike
-- (spec/servers/v3_answer.py), and the sandbox for a normal multi-page run.
local server = require "helpers.server"
local egoi = require "egoi"
local errors = require "egoi.errors"
local fixed_answer = require "helpers.fixed_answer"

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function client(s, extra)
  local o = { api = "v3", apikey = KEY, url = s:url(""), retries = 0,
    -- a small budget: without the stop the loop would end only here, at RATE_LIMITED
    rate_limit = { calls = 6, window = 3600, wait = false, state_file = false } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return egoi.new(o)
end

-- every item `each` yields, and the error that ended it (nil when it ended by itself)
local function drain(it)
  local seen = {}
  local ok, err = pcall(function()
    for item in it do seen[#seen + 1] = item end
  end)
  return seen, not ok and err or nil
end

describe("v3 each and a server that ignores offset", function()
  local fa, s
  setup(function()
    fa = fixed_answer.start('{"items":[{"tag_id":1,"name":"one","color":"#000000"},'
      .. '{"tag_id":2,"name":"two","color":"#000000"},{"tag_id":3,"name":"three","color":"#000000"}]}')
    s = fa.server
  end)
  teardown(function() if fa then fa.stop() end end)

  local function served() return fa.served() end

  it("is a protocol error in the catalogue", function()
    assert.equal("protocol", errors.catalogue.PAGING_STALLED.kind)
    assert.is_false(errors.is_api_code("PAGING_STALLED"))
  end)

  for _, mode in ipairs{ true, false } do
    it(("stops after exactly 2 calls with PAGING_STALLED, each item yielded once (raise = %s)"):format(
      tostring(mode)), function()
      local before = served()
      local c = client(s, { raise = mode })
      local seen, err = drain(c.tags:each{})
      assert.equal(2, served() - before)
      assert.same({ 1, 2, 3 }, { seen[1].tag_id, seen[2].tag_id, seen[3].tag_id })
      assert.equal(3, #seen)
      assert.is_true(errors.is_error(err), tostring(err))
      assert.equal("PAGING_STALLED", err.code)
      assert.equal("protocol", err.kind)
      assert.is_false(err.retryable)
      assert.matches("page 2 (offset 3) returned the same 3 items as page 1: the server ignores offset",
        err.message, 1, true)
      assert.same({ page = 2, offset = 3, items = 3 }, err.detail)
      assert.is_nil(tostring(err):find(KEY, 1, true))
      assert.equal(2, c:rate_limit_status().used) -- not the whole budget
      c:close()
    end)
  end

  it("covers senders too, in the library and the CLI (egoi senders pages on the same pager)", function()
    local c = client(s)
    local before = served()
    local seen, err = drain(c.senders:each("email"))
    assert.equal(2, served() - before)
    assert.equal(3, #seen)
    assert.equal("PAGING_STALLED", err.code)
    assert.has_error(function() c.senders:each("fax") end)
    c:close()
    local cli = require("helpers.egoi_cli").new()
    before = served()
    local code, out, stderr = cli:run("--api v3 --json senders --channel email", { EGOI_URL = s:url(""),
      EGOI_APIKEY = KEY })
    cli:cleanup()
    assert.equal(2, served() - before)
    assert.are_not.equal(0, code)
    assert.matches("PAGING_STALLED", out .. stderr)
    assert.is_nil((out .. stderr):find("traceback", 1, true))
  end)

  it("stays stopped: the iterator called again sends nothing", function()
    local c = client(s)
    local it = c.tags:each{}
    local before = served()
    local _, err = drain(it)
    assert.equal("PAGING_STALLED", err.code)
    assert.is_nil(it())
    assert.equal(2, served() - before)
    c:close()
  end)
end)

describe("v3 each against the sandbox", function()
  local s
  setup(function()
    s = server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} --v3-page-cap 2 --v3-rate-limit 0"
      .. " --v3-account-limit 0" }
  end)
  teardown(function() if s then s:stop() end end)

  it("still pages through everything, each item once, when pages are short", function()
    local c = client(s, { rate_limit = false })
    local want = {}
    for i = 1, 5 do
      local t = c.tags:create{ name = "stall-" .. i, color = "#00ff00" }
      want[#want + 1] = t.tag_id
    end
    local seen, err = drain(c.tags:each{})
    assert.is_nil(err)
    local count = {}
    for _, t in ipairs(seen) do count[t.tag_id] = (count[t.tag_id] or 0) + 1 end
    for _, id in ipairs(want) do assert.equal(1, count[id], "tag " .. tostring(id)) end
    for id, n in pairs(count) do assert.equal(1, n, "tag " .. tostring(id)) end
    assert.is_true(#seen >= 5)
    c:close()
  end)
end)
