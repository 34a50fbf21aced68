-- The bulk jobs that page by hand (export, sync's list read) on v2 and v3 against a server that
-- ignores start/offset: every page is the first one again. The second identical page stops the
-- job with PAGING_STALLED (egoi.paging), a few calls in, instead of paging until the hourly limit
-- is spent. The server is a real one on loopback answering one fixed body
-- (spec/servers/v3_answer.py serves any body, here a v2 REST envelope too).
local fixed_answer = require "helpers.fixed_answer"
local egoi = require "egoi"
local sync = require "egoi.sync"

local KEY = "0123456789abcdef0123456789abcdef01234567"

local V3_PAGE = '{"items":[{"contact_id":"c1","email":"a1@example.com","status":"active"},'
  .. '{"contact_id":"c2","email":"a2@example.com","status":"active"},'
  .. '{"contact_id":"c3","email":"a3@example.com","status":"active"}]}'
local V2_PAGE = '{"Egoi_Api":{"subscriberData":{"subscriber":{'
  .. '"key_0":{"EMAIL":"a1@example.com","STATUS":"1","UID":"u1"},'
  .. '"key_1":{"EMAIL":"a2@example.com","STATUS":"1","UID":"u2"},'
  .. '"key_2":{"EMAIL":"a3@example.com","STATUS":"1","UID":"u3"}},"status":"success"}}}'

for _, case in ipairs{ { api = "v3", body = V3_PAGE }, { api = "v2", body = V2_PAGE } } do
  describe(("%s jobs and a server that ignores the page offset"):format(case.api), function()
    local fa, s, dir
    setup(function()
      fa = fixed_answer.start(case.body)
      s, dir = fa.server, fa.dir
    end)
    teardown(function() if fa then fa.stop() end end)

    local function served() return fa.served() end

    local function client()
      local o = { apikey = KEY, retries = 0, raise = false,
        rate_limit = { calls = 20, window = 3600, wait = false, state_file = false } }
      if case.api == "v3" then
        o.api, o.url = "v3", s:url("")
      else
        o.protocol, o.url = "rest", s:url("/v2/rest.php")
      end
      return egoi.new(o)
    end

    it("export stops at the second identical page and writes nothing", function()
      local c = client()
      local before = served()
      local dest = dir .. "/out.csv"
      local ok, err
      if case.api == "v3" then
        ok, err = c.contacts:export(7, dest, { page_size = 3 })
      else
        ok, err = c.subscribers:export(7, dest, { page_size = 3 })
      end
      assert.is_nil(ok)
      assert.equal("PAGING_STALLED", err.code, tostring(err))
      assert.equal("protocol", err.kind)
      assert.equal(2, served() - before)
      assert.is_nil(io.open(dest, "rb"))
      c:close()
    end)

    it("sync's list read stops the same way, before planning anything", function()
      local c = client()
      local src = dir .. "/crm.csv"
      local f = assert(io.open(src, "wb"))
      f:write("email\na1@example.com\n")
      f:close()
      local before = served()
      local page = sync.PAGE
      sync.PAGE = 3 -- full pages of 3: only the repeat can end the read
      local plan, err = sync.run(c, 7, src, { key = "email", dry_run = true })
      sync.PAGE = page
      assert.is_nil(plan)
      assert.equal("PAGING_STALLED", err.code, tostring(err))
      assert.equal(2, served() - before)
      c:close()
    end)
  end)
end
