-- Every answer of the v3 scenario (spec/helpers/v3_scenario.lua) against E-goi's OpenAPI
-- luacheck: ignore 311
-- document (the extract in spec/data/v3-openapi.json), with spec/helpers/openapi.lua;
-- and that validator itself, on bodies it must reject.
local server = require "helpers.server"
local scenario = require "helpers.v3_scenario"
local openapi = require "helpers.openapi"
local json = require "egoi.sandbox.v3.json"

local doc = openapi.load("spec/data/v3-openapi.json")
local function schema(name) return { ["$ref"] = "#/components/schemas/" .. name } end

describe("the validator", function()
  it("accepts a valid List and rejects wrong types, enums, missing members and patterns", function()
    local list = { list_id = 1, internal_name = "a", public_name = "a", language = "en", status = "active",
                   created = "2026-01-01 10:00:00" }
    assert.is_true(doc:validate(schema("List"), list))
    local bad = { list_id = "1", public_name = "a", status = "deleted", created = "yesterday" }
    local ok, err = doc:validate(schema("List"), bad)
    assert.is_false(ok)
    assert.matches("list_id: string where integer expected", err, 1, true)
    assert.matches("missing required member language", err, 1, true)
    assert.matches("deleted not in enum", err, 1, true)
    assert.matches("is not a date%-time", err)
    ok, err = doc:validate(schema("CreateContactResponse"), { contact_id = "xyz" })
    assert.is_false(ok)
    assert.matches("does not match", err, 1, true)
  end)

  it("tells arrays from objects, and oneOf from anyOf", function()
    assert.is_false((doc:validate(schema("TagCollection"), { total_items = 0, items = json.object() })))
    assert.is_true(doc:validate(schema("TagCollection"), { total_items = 0, items = json.array() }))
    -- an extra value must match exactly one format branch
    local c = { base = { email = "a@example.com" }, extra = { { field_id = 1, format = "text", value = "x" } } }
    assert.is_true(doc:validate(schema("Contact"), c))
    c.extra[1].format = "options"
    local ok, err = doc:validate(schema("Contact"), c)
    assert.is_false(ok)
    assert.matches("matches 0 of oneOf", err, 1, true)
  end)

  it("checks statuses and bodies per operation", function()
    local nf = { type = "t", title = "NotFound", status = 404, detail = "x" }
    assert.is_true(doc:response("GET", "/lists/7", 404, nf))
    nf.title = "Not Found"
    assert.is_false((doc:response("GET", "/lists/7", 404, nf)))
    assert.is_false((doc:response("GET", "/lists", 404, nil))) -- not a documented status there
    assert.is_true(doc:response("DELETE", "/tags/3", 204, nil))
    assert.is_false((doc:response("DELETE", "/tags/3", 204, {})))
    assert.is_false((doc:response("GET", "/nowhere", 200, {})))
    -- literal segments win over templates: /contacts/actions/unsubscribe is not /contacts/{contact_id}
    assert.is_true(doc:response("POST", "/lists/1/contacts/actions/unsubscribe", 200,
      { success = json.array({ "0123456789" }) }))
  end)

  it("reads the ECMA regex subset of the document's patterns", function()
    local phone = openapi.regex("^(\\d){1,3}-(\\d){4,20}$")
    assert.is_true(phone("351-912345678"))
    assert.is_false(phone("351912345678"))
    assert.is_false(phone("1234-56789"))
    local hex = openapi.regex("[a-fA-F\\d]{10}")
    assert.is_true(hex("0a1b2c3d4e"))
    assert.is_false(hex("0a1b2c3d4"))
  end)
end)

describe("every sandbox v3 answer of the scenario", function()
  local s, c, recv
  setup(function()
    s = server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} --v3-rate-limit 2/60" }
    c = scenario.client(s)
    recv = scenario.receiver()
  end)
  teardown(function()
    if recv then recv:close() end
    if s then s:stop() end
  end)

  it("is valid against the vendor schemas (and so is every request body it sent)", function()
    -- on a server of its own: the one of this block has tiny limits for the test below
    local s2 = server.start{ cmd = "bin/egoi-sandbox --quiet --port {port}" }
    local c2 = scenario.client(s2)
    local ok, err = pcall(scenario.run, c2, recv)
    s2:stop()
    assert(ok, err)
    local problems, seen = {}, 0
    for _, x in ipairs(c2.log) do
      local path = x.path:gsub("%?.*$", "")
      if doc:operation(x.method, path) then
        seen = seen + 1
        local good, why = doc:response(x.method, path, x.status, x.body)
        if not good then problems[#problems + 1] = why end
        if x.request and x.status ~= 400 and x.status ~= 422 then
          good, why = doc:request(x.method, path, x.request)
          if not good then problems[#problems + 1] = why end
        end
      end
    end
    assert.equal("", table.concat(problems, "\n\n"))
    assert.is_true(seen > 60)
  end)

  it("is valid for 429, 413 and 408 too", function()
    local st, b = c:call("GET", "/tags")
    assert.equal(200, st)
    assert.is_true(doc:response("GET", "/tags", st, b))
    st, b = c:call("POST", "/lists", { internal_name = "L" })
    assert.equal(201, st)
    st, b = c:call("GET", "/tags")
    assert.equal(429, st)
    assert.is_true(doc:response("GET", "/tags", st, b))
    local rows = {}
    for i = 1, 200 do rows[i] = { base = { email = ("r%d@example.com"):format(i) } } end
    st, b = c:call("POST", "/lists/1/contacts/actions/import-bulk", { mode = "add", compare_field = "email",
      contacts = rows })
    -- over the rate limit first: 429 wins; a fresh server shows the 413
    assert.equal(429, st)
    local s3 = server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} --v3-max-body 4k" ..
      " --v3-timeout '^GET /senders/email$'" }
    local c3 = scenario.client(s3)
    c3:call("POST", "/lists", { internal_name = "L" })
    st, b = c3:call("POST", "/lists/1/contacts/actions/import-bulk", { mode = "add", compare_field = "email",
      contacts = rows })
    local st2, b2 = c3:call("GET", "/senders/email")
    s3:stop()
    assert.equal(413, st)
    assert.is_true(doc:response("POST", "/lists/1/contacts/actions/import-bulk", st, b))
    assert.equal(408, st2)
    assert.is_true(doc:response("GET", "/senders/email", st2, b2))
  end)
end)
