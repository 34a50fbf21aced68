-- Specs of the sandbox's API v3 (doc/SANDBOX.md, "API v3"), over raw loopback HTTP.
-- luacheck: ignore 311
local server = require "helpers.server"
local scenario = require "helpers.v3_scenario"
local json = require "egoi.sandbox.v3.json"
local http = require "socket.http"
local ltn12 = require "ltn12"

local KEY = scenario.KEY
local function start(args)
  return server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} " .. (args or "") }
end

-- a v2 REST call (form encoded, JSON answer)
local function v2(s, method, opts)
  local parts = { "method=" .. method, "type=json", "functionOptions[apikey]=" .. KEY }
  for k, v in pairs(opts) do parts[#parts + 1] = ("functionOptions[%s]=%s"):format(k, v) end
  local body = table.concat(parts, "&")
  local chunks = {}
  http.request{ url = s:url("/v2/rest.php"), method = "POST", source = ltn12.source.string(body),
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Content-Length"] = tostring(#body) },
    sink = ltn12.sink.table(chunks) }
  return json.decode(table.concat(chunks)).Egoi_Api[method]
end

describe("sandbox API v3", function()
  local s, c, recv, out
  setup(function()
    s = start()
    c = scenario.client(s)
    recv = scenario.receiver()
    out = scenario.run(c, recv)
  end)
  teardown(function()
    if recv then recv:close() end
    if s then s:stop() end
  end)

  it("runs the whole workflow (account, lists, fields, contacts, paging, tags, campaigns, reports, webhooks)",
    function()
      assert.is_table(out)
      assert.is_true(#c.log > 60)
    end)

  it("delivers webhooks as JSON to the registered URL", function()
    local h = out.hook
    assert.equal("POST", h.method)
    assert.equal("/hook", h.path)
    assert.matches("^application/json", h.headers["content-type"])
    local p = assert(json.decode(h.body))
    assert.same({ "subscription", out.list_id, out.webhook_id, out.contacts[1], "user1@example.com", "User1" },
      { p.action, p.list_id, p.webhook_id, p.contact.contact_id, p.contact.email, p.contact.first_name })
    assert.equal("Porto", p.contact["extra_" .. out.field_id])
    local u = assert(json.decode(out.unsub_hook.body))
    assert.same({ "unsubscribe", out.contacts[12] }, { u.action, u.contact.contact_id })
  end)

  it("posts the import result to callback_url", function()
    local p = assert(json.decode(out.import.body))
    assert.same({ imported = 1, updated = 1, ignored = 0, invalid = 0 },
      { imported = p.imported, updated = p.updated, ignored = p.ignored, invalid = p.invalid })
  end)

  it("answers every authenticated call with both groups of limit headers", function()
    local _, _, h = c:call("GET", "/tags")
    assert.equal("100", h["x-ratelimit-limit"])
    assert.equal("150", h["x-account-limit"])
    assert.truthy(tonumber(h["x-ratelimit-remaining"]))
    assert.truthy(tonumber(h["x-account-remaining"]) < 150)
    assert.truthy(tonumber(h["x-ratelimit-reset"]) <= 60)
    assert.truthy(tonumber(h["x-account-reset"]) <= 3600)
  end)

  it("shares the account state with v2: a list created over v2 is seen over v3 and back", function()
    local r = v2(s, "createList", { nome = "From v2" })
    local st, b = c:call("GET", "/lists/" .. r.LIST_ID)
    assert.same({ 200, "From v2" }, { st, b.internal_name })
    st, b = c:call("POST", "/lists/" .. r.LIST_ID .. "/contacts", { base = { email = "both@example.com" } })
    assert.equal(201, st)
    local d = v2(s, "subscriberData", { listID = r.LIST_ID, subscriber = b.contact_id })
    assert.equal("both@example.com", d.subscriber.EMAIL)
  end)

  it("delivers a webhook for a contact added over v2", function()
    local st, b = c:call("POST", "/lists", { internal_name = "Hooked" })
    assert.equal(201, st)
    local lid = b.list_id
    st = c:call("POST", "/webhooks", { list_id = lid, url = recv.url, actions = { "subscription" } })
    assert.equal(200, st)
    local r = v2(s, "addSubscriber", { listID = lid, email = "v2hook@example.com" })
    local hook = assert(recv:find(function(q) return q.json and q.json.list_id == lid end, 5))
    assert.same({ "subscription", r.UID, "v2hook@example.com" },
      { hook.json.action, hook.json.contact.contact_id, hook.json.contact.email })
  end)

  it("answers 405 with Allow for a known path and 404 NotFound for an unknown one", function()
    local st, b, h = c:call("PUT", "/lists")
    assert.equal(405, st)
    assert.matches("GET", h.allow)
    st, b = c:call("GET", "/forms")
    assert.same({ 404, "NotFound" }, { st, b.title })
  end)
end)

describe("sandbox API v3 state", function()
  it("gives every malformed body a v3 error, never a crash", function()
    local srv = start("--v3-rate-limit 0 --v3-account-limit 0")
    local c = scenario.client(srv)
    c:call("POST", "/lists", { internal_name = "L" })
    local paths = { "/lists", "/lists/1", "/lists/1/fields/extra", "/lists/1/fields/base/email",
      "/lists/1/contacts", "/lists/1/contacts/actions/unsubscribe", "/lists/1/contacts/actions/attach-tag",
      "/lists/1/contacts/actions/import-bulk", "/lists/1/contacts/actions/export", "/tags", "/senders/email",
      "/senders/cellphone", "/campaigns/email", "/campaigns/sms", "/webhooks", "/operations/actions/cancel",
      "/reports/advanced/sends", "/reports/advanced/model" }
    local bodies = { "[]", '"x"', "{}", "null", "1", '{"base":5,"extra":{"a":1},"data":[1,{}],"contacts":"x"}',
      '{"internal_name":[],"name":{},"list_id":"x","tag_id":true,"mode":"add","compare_field":5}' }
    for _, p in ipairs(paths) do
      for _, body in ipairs(bodies) do
        for _, m in ipairs({ "POST", "PATCH" }) do
          local st, b = c:call(m, p, body)
          assert(st ~= 500, m .. " " .. p .. " " .. body .. " crashed")
          if st >= 400 then
            assert(b and b.status == st and type(b.title) == "string", m .. " " .. p .. " " .. body)
          end
        end
      end
    end
    local st, b = c:call("GET", "/lists")
    srv:stop()
    assert.equal(200, st)
    assert.equal("L", b.items[#b.items].internal_name)
  end)

  it("keeps v3 state (webhooks) in the state file across a restart", function()
    local path = os.tmpname()
    os.remove(path)
    local s = start("--state " .. path)
    local c = scenario.client(s)
    local _, b = c:call("POST", "/lists", { internal_name = "Kept" })
    local st = c:call("POST", "/webhooks", { list_id = b.list_id, url = "http://127.0.0.1:9/x",
                                             actions = { "unsubscribe" } })
    assert.equal(200, st)
    s:stop()
    s = start("--state " .. path)
    c = scenario.client(s)
    local st2, w = c:call("GET", "/webhooks")
    local st3, l = c:call("GET", "/lists")
    s:stop()
    os.remove(path)
    assert.same({ 200, 1, "unsubscribe" }, { st2, w.total_items, w.items[1].actions[1] })
    assert.same({ 200, "Kept" }, { st3, l.items[1].internal_name })
  end)
end)

describe("sandbox API v3 limits", function()
  it("answers 429 with Retry-After over the rate limit, and X-*-Remaining 0", function()
    local s = start("--v3-rate-limit 3/30")
    local c = scenario.client(s)
    for i = 1, 3 do
      local st, _, h = c:call("GET", "/tags")
      assert.equal(200, st)
      assert.equal(tostring(3 - i), h["x-ratelimit-remaining"])
    end
    local st, b, h = c:call("GET", "/tags")
    s:stop()
    assert.same({ 429, "Too Many Requests", "0" }, { st, b.title, h["x-ratelimit-remaining"] })
    local ra = tonumber(h["retry-after"])
    assert.truthy(ra >= 1 and ra <= 30)
  end)

  it("counts the hourly account limit separately", function()
    local s = start("--v3-rate-limit 0 --v3-account-limit 2/3600 --v3-no-retry-after")
    local c = scenario.client(s)
    c:call("GET", "/tags")
    local _, _, h = c:call("GET", "/tags")
    assert.equal("0", h["x-account-remaining"])
    assert.is_nil(h["x-ratelimit-limit"])
    local st, _, h2 = c:call("GET", "/tags")
    s:stop()
    assert.equal(429, st)
    assert.is_nil(h2["retry-after"])
  end)

  it("answers 413 over the body cap and loses nothing", function()
    local s = start("--v3-max-body 1k")
    local c = scenario.client(s)
    local st, b = c:call("POST", "/lists", { internal_name = "L" })
    local lid = b.list_id
    local contacts = {}
    for i = 1, 40 do contacts[i] = { base = { email = ("big%d@example.com"):format(i) } } end
    st, b = c:call("POST", "/lists/" .. lid .. "/contacts/actions/import-bulk",
      { mode = "add", compare_field = "email", contacts = contacts })
    assert.same({ 413, "Request Entity Too Large", 413 }, { st, b.title, b.status })
    st, b = c:call("GET", "/lists/" .. lid .. "/contacts")
    s:stop()
    assert.same({ 200, 0 }, { st, b.total_items })
  end)

  it("caps pages lower on demand without changing total_items", function()
    local s = start("--v3-page-cap 2")
    local c = scenario.client(s)
    for i = 1, 3 do c:call("POST", "/tags", { name = "t" .. i }) end
    local st, b = c:call("GET", "/tags?limit=100")
    s:stop()
    assert.same({ 200, 3, 2 }, { st, b.total_items, #b.items })
  end)

  it("simulates 408 before or after doing the work", function()
    local s = start("--v3-timeout '^GET /tags$' --v3-timeout-done '^POST /tags$'")
    local c = scenario.client(s)
    local st, b = c:call("GET", "/tags")
    assert.same({ 408, "Request Timeout" }, { st, b.title })
    st = c:call("POST", "/tags", { name = "done anyway" })
    assert.equal(408, st)
    st, b = c:call("GET", "/tags/0") -- no such route: the work above is visible over v2
    s:stop()
    assert.equal(405, st)
  end)

  it("puts 422 details under validation_messages on demand", function()
    local s = start("--v3-422 validation_messages")
    local c = scenario.client(s)
    local st, b = c:call("POST", "/lists", { public_name = "x" })
    s:stop()
    assert.equal(422, st)
    assert.is_nil(b.errors)
    assert.is_table(b.validation_messages.internal_name)
  end)

  it("answers 403 for a forbidden key and 401 without a key", function()
    local s = start("--v3-forbidden-key " .. KEY)
    local c = scenario.client(s)
    local st, b = c:call("GET", "/my-account")
    assert.same({ 403, "Forbidden" }, { st, b.title })
    st, b = c:call("GET", "/my-account", nil, { Apikey = false })
    s:stop()
    assert.same({ 401, "Unauthorized" }, { st, b.title })
  end)
end)
