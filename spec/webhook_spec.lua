-- egoi.webhook: the JSON of API v3 webhook deliveries and request callbacks (no network; the
-- deliveries of a real sandbox inside nginx are in spec/nginx_webhook_spec.lua).
local webhook = require "egoi.webhook"
local egoi = require "egoi"

local JSON = "application/json"

local function code_of(body, ctype, opts)
  local ev, err = webhook.parse(body, ctype or JSON, opts)
  assert.is_nil(ev)
  assert.is_true(egoi.is_error(err))
  assert.equal("protocol", err.kind)
  return err.code, err.message
end

describe("egoi.webhook.parse", function()
  it("reads the sandbox's delivery (contact members, nulls dropped)", function()
    local evs = assert(webhook.parse([[{"webhook_id":1,"list_id":3,"action":"subscription",
      "date":"2026-01-01 10:00:00","contact":{"contact_id":"af45bde2d0","status":"active",
      "email":"a@example.com","first_name":null,"extra_1":"Porto"}}]], "application/json; charset=utf-8"))
    assert.equal(1, #evs)
    local ev = evs[1]
    assert.equal("webhook", ev.kind)
    assert.equal("subscription", ev.action)
    assert.equal(3, ev.list_id)
    assert.equal(1, ev.webhook_id)
    assert.equal("af45bde2d0", ev.contact_id)
    assert.equal("a@example.com", ev.email)
    assert.equal("Porto", ev.contact.extra_1)
    assert.is_nil(ev.contact.first_name)
    assert.equal("2026-01-01 10:00:00", ev.date)
    assert.equal("subscription", ev.data.action)
  end)

  it("keeps actions it does not know and deliveries without a contact", function()
    local ev = assert(webhook.parse('{"action":"email_open","campaign":"x"}', JSON))[1]
    assert.equal("email_open", ev.action)
    assert.same({}, ev.contact)
    assert.equal("x", ev.data.campaign)
  end)

  it("reads an import's and an export's callback", function()
    local ev = assert(webhook.parse('{"imported":10,"updated":2,"ignored":0,"invalid":1,"file":"r.csv"}', JSON))[1]
    assert.same({ "import", 10, 2, 0, 1, "r.csv" },
      { ev.kind, ev.imported, ev.updated, ev.ignored, ev.invalid, ev.file })
    ev = assert(webhook.parse('{"file":"https://example.com/export.csv"}', "application/vnd.egoi+json"))[1]
    assert.same({ "file", "https://example.com/export.csv" }, { ev.kind, ev.file })
  end)

  it("reads a batch in order", function()
    local evs = assert(webhook.parse('[{"action":"subscription"},{"action":"unsubscribe"}]', JSON))
    assert.same({ "subscription", "unsubscribe" }, { evs[1].action, evs[2].action })
    assert.equal("TOO_LARGE", (code_of('[{"action":"a"},{"action":"b"}]', JSON, { max_events = 1 })))
  end)

  it("refuses garbage with a clear code", function()
    assert.equal("CALLBACK_MALFORMED", (code_of(nil)))
    assert.equal("CALLBACK_MALFORMED", (code_of("  ")))
    assert.equal("MALFORMED_JSON", (code_of("{")))
    assert.equal("MALFORMED_JSON", (code_of("action=subscription")))
    assert.equal("TOO_DEEP", (code_of(("["):rep(300) .. ("]"):rep(300))))
    assert.equal("CALLBACK_MALFORMED", (code_of("{}")))
    assert.equal("CALLBACK_MALFORMED", (code_of("[]")))
    assert.equal("CALLBACK_MALFORMED", (code_of("42")))
    assert.equal("CALLBACK_MALFORMED", (code_of('"x"')))
    assert.equal("CALLBACK_MALFORMED", (code_of("[1,2]")))
    assert.equal("CALLBACK_MALFORMED", (code_of('{"action":7}')))
    assert.equal("CALLBACK_MALFORMED", (code_of('{"action":""}')))
    assert.equal("CALLBACK_MALFORMED", (code_of('{"action":"subscription","contact":"x"}')))
    assert.equal("CALLBACK_MALFORMED", (code_of('{"imported":-1}')))
    assert.equal("CALLBACK_MALFORMED", (code_of('{"imported":1,"invalid":"2"}')))
    local code, msg = code_of('{"hello":1}')
    assert.equal("CALLBACK_MALFORMED", code)
    assert.matches("hello", msg, 1, true)
    assert.equal("TOO_LARGE", (code_of('{"action":"subscription"}', JSON, { max_bytes = 10 })))
  end)

  it("wants a JSON content type", function()
    assert.equal("CALLBACK_MALFORMED", (code_of('{"action":"x"}', "text/plain")))
    assert.equal("CALLBACK_MALFORMED", (code_of('{"action":"x"}', "application/x-www-form-urlencoded")))
    local _, err = webhook.parse('{"action":"x"}', nil)
    assert.matches("no Content-Type", err.message, 1, true)
    assert.is_true(webhook.json_type_ok("Application/JSON ; charset=UTF-8"))
    assert.is_false(webhook.json_type_ok("application/jsonx"))
  end)

  it("checks its arguments", function()
    assert.has_error(function() webhook.parse({}, JSON) end, "webhook.parse: argument 'body' must be a string or nil")
    assert.has_error(function() webhook.parse("{}", 1) end)
    assert.has_error(function() webhook.parse("{}", JSON, 5) end)
    assert.has_error(function() webhook.parse("{}", JSON, { max_bytes = 0 }) end)
  end)
end)

describe("egoi.webhook.url", function()
  it("adds the secret to the query, escaped", function()
    assert.equal("https://h.example/egoi/webhook?secret=a%2Fb%20c",
      webhook.url("https://h.example/egoi/webhook", "a/b c"))
    assert.equal("http://h/x?list=3&token=s", webhook.url("http://h/x?list=3", "s", "token"))
    assert.has_error(function() webhook.url("ftp://h/x", "s") end)
    assert.has_error(function() webhook.url("http://h/x", "") end)
    assert.has_error(function() webhook.url("http://h/x#f", "s") end)
  end)
end)
