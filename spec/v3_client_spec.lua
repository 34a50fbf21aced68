-- The v3 client (egoi.new{ api = "v3" }) against the sandbox's API v3: one workflow
-- (spec/servers/v3_workflow.lua) over libcurl and inside nginx over cosockets. Every request
-- the client builds and every answer it gets is validated against the vendor's OpenAPI
-- document (spec/data/v3-openapi.json, spec/helpers/openapi.lua).
local server = require "helpers.server"
local nginx = require "helpers.nginx"
local scenario = require "helpers.v3_scenario"
local openapi = require "helpers.openapi"
local workflow = require "servers.v3_workflow"
local json = require "egoi.sandbox.v3.json"
local egoi = require "egoi"
local core = require "egoi.core"

local KEY = scenario.KEY
local doc = openapi.load("spec/data/v3-openapi.json")

local function sandbox(args)
  return server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} " .. args }
end

local MAIN = "--v3-page-cap 3 --v3-max-body 4000 --v3-rate-limit 1000/60 --v3-account-limit 600/3600"
  .. " --v3-timeout '^GET /reports/email/timeout$' --v3-timeout-done '^PUT /tags/%d+$'"

-- every exchange of the log valid against the document
local function validate(log, bases)
  assert.is_true(#log > 50)
  for i, x in ipairs(log) do
    local path
    for _, b in ipairs(bases) do
      if x.url:sub(1, #b) == b then path = x.url:sub(#b + 1) end
    end
    assert.is_string(path, x.url)
    assert.is_true(x.key_sent, "the Apikey header on " .. path)
    if x.body then
      local body = assert(json.decode(x.body))
      assert(doc:request(x.verb, path, body))
    end
    if x.status then
      local rb = x.response ~= nil and x.response ~= "" and assert(json.decode(x.response)) or nil
      local ok, err = doc:response(x.verb, path, x.status, rb)
      assert(ok, ("exchange %d: %s"):format(i, tostring(err)))
    end
  end
end

local function check(out, key)
  assert.is_false(out.has_subscribers)
  assert.is_truthy(out.tostring:find("v3", 1, true))
  assert.is_number(out.list_id)
  assert.equal("Workflow 2", out.updated)
  assert.equal("Workflow 2", out.list_get)
  assert.equal(1, out.lists_page)
  assert.equal(1, out.list_seen)
  assert.equal("town", out.field_renamed)
  assert.equal(8, out.fields_count) -- 7 base fields + town
  assert.is_number(out.webhook_id)
  assert.equal(7, #out.contacts)
  assert.equal("flat@example.com", out.flat)
  -- paging at 1000 through a server that answers 3 at a time: every contact once
  assert.equal(8, out.each_count) -- 7 + the flat row
  assert.equal(8, out.each_distinct)
  assert.equal(2, out.page)
  assert.equal(out.contacts[2], out.patched)
  assert.equal(out.contacts[3], out.search)
  assert.equal("success", out.import)
  assert.equal(out.contacts[7], out.unsub)
  assert.equal("success", out.attach)
  assert.equal("success", out.detach)
  assert.is_true(out.tags >= 1)
  assert.is_true(out.senders >= 1)
  assert.equal("table", out.segments_type)
  assert.equal("success", out.sent)
  assert.equal(1, out.campaigns)
  assert.is_number(out.report_sends)
  assert.equal("success", out.sms_sent)
  assert.equal("table", out.sms_report)
  assert.equal("success", out.scheduled)
  assert.is_true(out.operations >= 1)
  assert.is_number(out.cancel)
  assert.equal("success", out.advanced)
  assert.is_true(out.advanced_count >= 1)
  assert.equal(out.list_id, out.raw_list)
  assert.equal("nil", out.raw_204)
  assert.is_true(out.deleted)
  -- errors
  assert.equal("api", out.e404.kind)
  assert.equal("NOT_FOUND", out.e404.code)
  assert.equal(404, out.e404.http_status)
  assert.equal("NotFound", out.e404.detail_title)
  assert.equal("CONFLICT", out.e409.code)
  assert.same({ "contacts", "field_id", "unique_field_in_use" }, out.e409.detail_keys)
  assert.equal("UNPROCESSABLE_ENTITY", out.e422.code)
  assert.same({ "limit" }, out.e422.detail_keys)
  assert.equal("usage", out.ev2.kind)
  assert.equal("NO_V3_EQUIVALENT", out.ev2.code)
  assert.is_truthy(out.ev2.message:find("createSegment", 1, true))
  assert.is_truthy(out.ev2.message:find("cannot create segments", 1, true))
  assert.equal("V2_METHOD", out.ev2b.code)
  assert.is_truthy(out.ev2b.message:find("client.lists:all", 1, true))
  assert.equal("usage", out.eusage.kind)
  assert.is_truthy(out.eusage.message:find("'list_id'", 1, true))
  assert.equal("REQUEST_ENTITY_TOO_LARGE", out.e413.code)
  assert.is_truthy(out.e413.message:find("split it into smaller requests", 1, true))
  assert.equal(1, out.e413_sent)
  assert.equal("REQUEST_TIMEOUT", out.e408_read.code)
  assert.equal(3, out.e408_read_sent) -- a read: retried twice
  assert.equal("REQUEST_TIMEOUT", out.e408_write.code)
  assert.equal(1, out.e408_write_sent) -- a write: never re-sent
  assert.is_truthy(out.e408_write.reason:find("never retried", 1, true))
  assert.is_true(out.raise_false.r)
  assert.equal("NOT_FOUND", out.raise_false.e.code)
  assert.equal("UNAUTHORIZED", out.e401.code)
  -- the local window follows the server's account budget
  assert.equal(1000, out.local_calls)
  assert.is_true(out.server_remaining < 600)
  assert.equal(out.server_remaining, out.local_remaining)
  -- 429: waited for the reset, then the same call again
  assert.same({ 429, 200 }, out.statuses_429)
  assert.is_true(out.waited_429 > 0 and out.waited_429 <= 3, tostring(out.waited_429))
  -- remaining 0: held before sending, no 429
  assert.same({ 200 }, out.statuses_held)
  assert.is_true(out.waited_held > 0 and out.waited_held <= 3, tostring(out.waited_held))
  -- no headers: the configured budget refuses the third call locally
  assert.equal("rate_limit", out.budget.kind)
  assert.equal("RATE_LIMITED", out.budget.code)
  -- the key never leaves in an error or a log line
  for _, e in pairs(out) do
    if type(e) == "table" and e.text then assert.is_nil(e.text:find(key, 1, true)) end
  end
  for _, w in ipairs(out.warnings) do assert.is_nil(w:find(key, 1, true)) end
end

describe("the v3 client", function()
  local main, limited, bare
  -- fresh sandboxes for each run (the workflow makes the same names each time)
  before_each(function()
    main = sandbox(MAIN)
    limited = sandbox("--v3-rate-limit 2/2")
    bare = sandbox("--v3-rate-limit 0 --v3-account-limit 0")
  end)
  after_each(function()
    for _, s in ipairs{ main, limited, bare } do if s then s:stop() end end
  end)

  local function bases() return { main:url(""), limited:url(""), bare:url("") } end

  it("runs the workflow over libcurl; every request and answer valid against the OpenAPI document", function()
    local recv = scenario.receiver()
    local out = workflow.run{
      egoi = egoi, key = KEY, url = main:url(""), limited_url = limited:url(""), bare_url = bare:url(""),
      hook = recv.url, clock = core.now, sleep = core.sleep,
      transport = function() return require("egoi.transport.curl").new{ timeout = 10, connect_timeout = 5 } end,
      raw = function(method, path)
        return scenario.exchange(limited.port, method, path, { Apikey = KEY })
      end,
    }
    check(out, KEY)
    validate(out.log, bases())
    -- the webhook made by the client got the sandbox's delivery
    assert.is_truthy(recv:find(function(q) return q.json and q.json.action == "subscription" end, 5))
  end)

  it("runs the same workflow inside nginx on cosockets", function()
    if os.getenv("EGOI_TEST_LUA") == "lua5.4" then
      return pending("nginx runs LuaJIT: tested in the LuaJIT pass of spec/run.sh")
    end
    local ng = nginx.start{ workers = 1, extra = [[
      location = /v3workflow { content_by_lua_block {
        local resty = require "egoi.transport.resty"
        local a = ngx.req.get_uri_args()
        local function transport() return resty.new{ timeout = 10, connect_timeout = 5 } end
        local out = require("v3_workflow").run{
          egoi = require "egoi", key = a.key, url = a.main, limited_url = a.limited, bare_url = a.bare,
          hook = a.hook, clock = resty.clock, sleep = resty.sleep, transport = transport,
          raw = function(method, path)
            local t = transport()
            local st = t:request{ verb = method, url = a.limited .. path, headers = { Apikey = a.key } }
            t:close()
            return st
          end,
        }
        ngx.print(require("cjson").encode(out))
      } }]] }
    local function q(s) return (s:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end)) end
    local st, body = nginx.request(ng.port, "GET", ("/v3workflow?key=%s&main=%s&limited=%s&bare=%s&hook=%s"):format(
      KEY, q(main:url("")), q(limited:url("")), q(bare:url("")),
      q(("http://127.0.0.1:%d/hook"):format(server.free_port()))), nil, nil, 120)
    local log = st ~= 200 and ng:error_log() or ""
    ng:stop()
    assert.equal(200, st, tostring(body) .. log)
    local out = require("cjson").decode(body)
    check(out, KEY)
    validate(out.log, bases())
  end)

  it("is chosen with api = \"v3\" and refuses what does not fit", function()
    local c = egoi.new{ api = "v3", apikey = KEY, rate_limit = false }
    assert.equal("https://api.egoiapp.com", c.url)
    assert.is_nil(rawget(c, "subscribers"))
    local ok, err = pcall(function() return c.lists:nope() end)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("did you mean", 1, true) or tostring(err):find("known", 1, true))
    ok, err = pcall(egoi.new, { api = "v3", protocol = "xmlrpc", apikey = KEY })
    assert.is_false(ok)
    assert.is_truthy(err.message:find("leave 'protocol' out", 1, true))
    ok, err = pcall(egoi.new, { api = "v4", apikey = KEY })
    assert.is_false(ok)
    assert.equal("usage", err.kind)
    -- a v2 client has no raw path requests
    local v2 = egoi.new{ apikey = KEY, rate_limit = false }
    ok, err = pcall(v2.request, v2, "GET", "/lists")
    assert.is_false(ok)
    assert.is_truthy(err.message:find("api = \"v3\"", 1, true))
    v2:close()
    c:close()
  end)
end)
