-- luacheck: ignore 311
-- The v3 protocol plug-in and the pipeline's limit-header hooks without a network: request
-- building, error answers, the limit windows, 429 waits and holds with an injected clock and
-- sleep (a fake transport: timing is the point here; spec/v3_client_spec.lua is the real run).
local egoi = require "egoi"
local v3 = require "egoi.protocol.v3"
local ops = require "egoi.v3.operations"
local methods = require "egoi.methods"
local json = require "egoi.v3.json"
local cjson = require("cjson").new()

local KEY = "0123456789abcdef0123456789abcdef01234567"

-- a transport answering from a queue; every request kept
local function fake(answers)
  local t = { sent = {} }
  function t.request(_, req)
    t.sent[#t.sent + 1] = req
    local a = table.remove(answers, 1) or { 200, {}, "{}" }
    if a.fail then return nil, a.fail, "down", a.sent end
    return a[1], a[2] or {}, a[3]
  end
  function t.close() end
  return t
end

local function client(answers, extra)
  local now, slept = 1000, {}
  local t = fake(answers)
  local o = { api = "v3", apikey = KEY, transport = t, rate_limit = { state_file = false },
    clock = function() return now end,
    sleep = function(s) slept[#slept + 1] = s; now = now + s end,
    backoff = 0.01, log = function() end }
  for k, v in pairs(extra or {}) do o[k] = v end
  return egoi.new(o), t, slept
end

local function limits(acc_rem, acc_reset, rate_rem, rate_reset)
  return { ["x-account-limit"] = "150", ["x-account-remaining"] = tostring(acc_rem),
    ["x-account-reset"] = tostring(acc_reset), ["x-ratelimit-limit"] = "100",
    ["x-ratelimit-remaining"] = tostring(rate_rem), ["x-ratelimit-reset"] = tostring(rate_reset) }
end

local TOO_MANY = cjson.encode{ type = "t", title = "Too Many Requests", status = 429, detail = "slow down" }

describe("v3 requests", function()
  it("fill path templates, encode the query (arrays repeat, tables use brackets) and send JSON", function()
    local c, t = client{ { 200, {}, '{"total_items":0,"items":[]}' }, { 201, {}, '{"contact_id":"0123456789"}' } }
    c:call("getAllContacts", { list_id = 7, query = { limit = 5, email = "a b@x.y", extra_field_id = { [3] = "Porto" },
      flag = true } })
    assert.equal("https://api.egoiapp.com/lists/7/contacts?email=a%20b%40x.y&extra_field_id%5B3%5D=Porto"
      .. "&flag=true&limit=5", t.sent[1].url)
    assert.equal("GET", t.sent[1].verb)
    assert.equal(KEY, t.sent[1].headers.Apikey)
    assert.is_nil(t.sent[1].body)
    assert.is_true(t.sent[1].idempotent)
    c.contacts:create(7, { email = "a@example.com", extra_4 = "x" })
    local r = t.sent[2]
    assert.equal("POST", r.verb)
    assert.is_false(r.idempotent)
    assert.equal("application/json", r.headers["Content-Type"])
    assert.same({ base = { email = "a@example.com" }, extra = { { field_id = 4, value = "x" } } }, cjson.decode(r.body))
  end)

  it("writes marked empty arrays as [] (lua-cjson writes {} for every empty table)", function()
    assert.equal('{"a":[]}', json.encode{ a = json.array() })
    assert.equal('{"a":{}}', json.encode{ a = {} })
    assert.equal("[]", json.encode(json.array()))
  end)

  it("refuses a missing path parameter, a body on GET, an unknown option, before sending", function()
    local c, t = client({}, { raise = false })
    local r, err = c:call("getList", {})
    assert.is_nil(r)
    assert.equal("usage", err.kind)
    assert.is_truthy(err.message:find("'list_id' is required", 1, true))
    r, err = c:request("GET", "/lists", { body = { a = 1 } })
    assert.is_truthy(err.message:find("takes no body", 1, true))
    r, err = c:request("GET", "/lists", { headers = {} })
    assert.is_truthy(err.message:find("unknown option 'headers'", 1, true))
    r, err = c:request("FETCH", "/lists")
    assert.is_truthy(err.message:find("'verb'", 1, true))
    r, err = c:call("getLists")
    assert.equal("V2_METHOD", err.code)
    r, err = c:invoke("getForms", {})
    assert.equal("NO_V3_EQUIVALENT", err.code)
    assert.is_truthy(err.message:find("getForms", 1, true))
    r, err = c.lists:get(0)
    assert.is_truthy(err.message:find("'list_id'", 1, true))
    assert.equal(0, #t.sent)
  end)

  it("knows where every one of the 58 v2 methods went; 8 have no v3 equivalent", function()
    local none = 0
    for _, e in ipairs(methods.list) do
      local err = ops.v2_error(e.name)
      assert.is_truthy(err, e.name)
      assert.equal("usage", err.kind)
      assert.is_truthy(err.message:find(e.name, 1, true))
      if err.code == "NO_V3_EQUIVALENT" then none = none + 1 end
    end
    assert.equal(58, #methods.list)
    assert.equal(8, none)
  end)
end)

describe("v3 answers", function()
  it("map error bodies to egoi.Error: api kind for 4xx, stable codes, the errors map in detail", function()
    local body = cjson.encode{ type = "t", title = "Unprocessable Entity", status = 422, detail = "bad " .. KEY,
      validation_messages = { email = { invalid = "not an e-mail" } } }
    local c = client({ { 422, {}, body }, { 500, {}, cjson.encode{ title = "Internal Server Error", status = 500 } },
      { 502, {}, "<html>gateway</html>" },
      { 413, {}, cjson.encode{ title = "Request Entity Too Large", status = 413 } } },
      { raise = false, retries = 0 })
    local _, err = c.lists:create{ internal_name = "x" }
    assert.equal("api", err.kind)
    assert.equal("UNPROCESSABLE_ENTITY", err.code)
    assert.equal(422, err.http_status)
    assert.same({ email = { invalid = "not an e-mail" } }, err.detail.errors)
    assert.is_nil(tostring(err):find(KEY, 1, true))
    assert.is_nil(err.detail.detail:find(KEY, 1, true))
    _, err = c.lists:get(1)
    assert.equal("http", err.kind)
    assert.equal("INTERNAL_SERVER_ERROR", err.code)
    _, err = c.lists:get(1)
    assert.equal("HTTP_ERROR", err.code)
    _, err = c.contacts:import(1, { { base = { email = "a@x.y" } }, { base = { email = "b@x.y" } } })
    assert.equal("REQUEST_ENTITY_TOO_LARGE", err.code)
    assert.is_truthy(err.message:find("split it into smaller requests", 1, true))
  end)

  it("return nil for a 204 from client:request and true from a resource delete", function()
    local c = client{ { 204, {}, "" }, { 204, {}, "" } }
    assert.is_nil(c:request("DELETE", "/tags/3"))
    assert.is_true(c.tags:delete(3))
  end)

  it("retry reads on 408/5xx and never re-send a write", function()
    local c, t = client({ { 408, {}, "" }, { 503, {}, "" }, { 200, {}, '{"list_id":1}' }, { 408, {}, "" } },
      { raise = false })
    assert.equal(1, c.lists:get(1).list_id)
    assert.equal(3, #t.sent)
    local _, err = c.lists:create{ internal_name = "x" }
    assert.equal(4, #t.sent)
    assert.is_truthy(err.reason:find("never retried", 1, true))
  end)
end)

describe("v3 limit headers", function()
  it("a 429 waits for the refusing window's reset, then sends the call again (a write too)", function()
    local c, t, slept = client{ { 429, limits(10, 3000, 0, 30), TOO_MANY },
      { 201, limits(9, 2999, 99, 60), '{"list_id":3}' } }
    assert.equal(3, c.lists:create{ internal_name = "x" }.list_id)
    assert.equal(2, #t.sent)
    assert.same({ 30 }, slept)
  end)

  it("remaining 0 holds the next call until the reset, without sending it early", function()
    local c, t, slept = client{ { 200, limits(50, 3000, 0, 12), "{}" }, { 200, limits(49, 2990, 99, 60), "{}" } }
    c.account:get()
    assert.same({}, slept)
    c.account:get()
    assert.same({ 12 }, slept)
    assert.equal(2, #t.sent)
  end)

  it("pulls the local window down to the server's account budget", function()
    local c = client{ { 200, limits(20, 3000, 99, 60), "{}" } }
    c.account:get()
    assert.equal(20, c:rate_limit_status().remaining)
  end)

  it("honours wait = false and max_wait while held; without headers the configured budget applies", function()
    local c, t = client({ { 200, limits(50, 3000, 0, 40), "{}" } },
      { raise = false, rate_limit = { state_file = false, wait = false } })
    c.account:get()
    local _, err = c.account:get()
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(40, err.retry_after)
    assert.equal(1, #t.sent)
    c = client({ { 200, limits(50, 3000, 0, 40), "{}" } },
      { raise = false, rate_limit = { state_file = false, max_wait = 10 } })
    c.account:get()
    _, err = c.account:get()
    assert.equal("RATE_LIMIT_WAIT_EXCEEDED", err.code)
    c, t = client({ { 200, {}, "{}" }, { 200, {}, "{}" } },
      { raise = false, rate_limit = { state_file = false, calls = 1, wait = false } })
    c.account:get()
    _, err = c.account:get()
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(1, #t.sent)
  end)

  it("gives up after a few 429 answers in a row", function()
    local answers = {}
    for i = 1, 10 do answers[i] = { 429, limits(0, 5, 0, 5), TOO_MANY } end
    local c, t = client(answers, { raise = false })
    local _, err = c.account:get()
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(6, #t.sent)
  end)

  it("reads both header groups", function()
    local w = v3.limits(limits(3, 100, 7, 20))
    assert.equal(2, #w)
    assert.same({ remaining = 3, reset = 100, limit = 150, budget = true, name = "account" }, w[1])
    assert.same({ remaining = 7, reset = 20, limit = 100, budget = false, name = "ratelimit" }, w[2])
    assert.is_nil(v3.limits({}))
  end)
end)

describe("v3 paging", function()
  it("asks for 1000, advances by what came back, falls back when the server refuses 1000", function()
    local function page(items, total) return cjson.encode{ total_items = total, items = items } end
    local limit_refused = cjson.encode{ title = "Unprocessable Entity", status = 422,
      errors = { limit = { max = 100 } } }
    local c, t = client{ { 422, {}, limit_refused }, { 200, {}, page({ { tag_id = 1 }, { tag_id = 2 } }, 3) },
      { 200, {}, page({ { tag_id = 3 } }, 3) } }
    local got = {}
    for tag in c.tags:each() do got[#got + 1] = tag.tag_id end
    assert.same({ 1, 2, 3 }, got)
    assert.is_truthy(t.sent[1].url:find("limit=1000", 1, true))
    assert.is_truthy(t.sent[2].url:find("limit=100&offset=0", 1, true))
    assert.is_truthy(t.sent[3].url:find("limit=100&offset=2", 1, true))
    assert.equal(3, #t.sent)
  end)
end)

describe("v3 resource arguments", function()
  it("send the last table of a read as its query", function()
    local c, t = client{ { 200, {}, "{}" }, { 200, {}, '{"items":[]}' } }
    c.reports:email("abc", { url = false })
    assert.equal("https://api.egoiapp.com/reports/email/abc?url=false", t.sent[1].url)
    c.contacts:activities(3, "0123456789", { date_min = "2026-01-01" })
    assert.equal("https://api.egoiapp.com/lists/3/contacts/0123456789/activities?date_min=2026-01-01", t.sent[2].url)
  end)
end)

describe("v3 limit headers and a shared limiter", function()
  it("block the limiter for the reset when a window is at 0 (every process sharing it waits)", function()
    local calls = {}
    local lim = {
      reserve = function(_, now) calls[#calls + 1] = { "reserve", now } return true, 1 end,
      commit = function() return true end,
      status = function() return 0, 150, 0 end,
      fill = function(_, now) calls[#calls + 1] = { "fill", now } return true end,
      block = function(_, now, s) calls[#calls + 1] = { "block", now, s } return true end,
      close = function() end,
    }
    local c = client({ { 200, limits(50, 3000, 0, 12), "{}" } }, { rate_limit = { limiter = lim } })
    c.account:get()
    assert.same({ { "reserve", 1000 }, { "block", 1000, 12 } }, calls)
  end)
end)
