-- spec/send_guard_v3_spec.lua - the send ledger guards API v3 sends on every path a v3 client
-- has (client.campaigns:send, client:call("actionSendEmail"), client:invoke, client:request of
-- the send path), in process, against the sandbox's v3 API; one send is one ledger key
-- whichever path and however the list id is spelled.
local server = require "helpers.server"
local egoi = require "egoi"
local guard = require "egoi.send_guard"

local KEY = "0123456789abcdef0123456789abcdef01234567"

describe("send_guard over API v3", function()
  local sb, ledger, client, list, n

  setup(function()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
  end)
  teardown(function()
    if sb then sb:stop() end
  end)

  before_each(function()
    ledger = os.tmpname()
    os.remove(ledger)
    client = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false, raise = false }
    guard.wrap(client, { path = ledger, account = "spec" })
    n = (n or 0) + 1
    list = assert(client.lists:create{ internal_name = "G" .. n }).list_id
    assert(client.contacts:create(list, { base = { email = "a" .. n .. "@example.com" } }))
  end)
  after_each(function()
    client:close()
    os.remove(ledger)
  end)

  local function campaign()
    local res = assert(client.campaigns:create_email{ list_id = list, internal_name = "c", subject = "s",
      sender_id = 1, content = { type = "html", body = "<p>x</p>" } })
    return res.campaign_hash
  end

  it("campaigns:send once; a repeat on any path is ALREADY_SENT without a call", function()
    local hash = campaign()
    local res, err = client.campaigns:send(hash, { list_id = list })
    assert.is_nil(err)
    assert.equal("success", res.result)
    local _, e1 = client.campaigns:send(hash, { list_id = list })
    assert.equal("ALREADY_SENT", e1.code)
    local _, e2 = client:call("actionSendEmail", { campaign_hash = hash,
      body = { list_id = tostring(list), segments = { type = "none" } } })
    assert.equal("ALREADY_SENT", e2.code)
    local _, e3 = client:invoke("actionSendEmail", { campaign_hash = hash, body = { list_id = list } })
    assert.equal("ALREADY_SENT", e3.code)
    local _, e4 = client:request("POST", "/campaigns/email/" .. hash .. "/actions/send",
      { body = { list_id = list, segments = { type = "none" } } })
    assert.equal("ALREADY_SENT", e4.code)
    local _, e5 = client:request("post", "/campaigns/email/" .. hash .. "/actions/send?x=1",
      { body = { list_id = list + 0.0 } })
    assert.equal("ALREADY_SENT", e5.code)
    -- another target (a contact) is another send
    local _, e6 = client.campaigns:send(hash, { list_id = list, segments = { type = "contact", data = "a@x.org" } })
    assert.is_not.equal("ALREADY_SENT", e6 and e6.code)
  end)

  it("a raw send is recorded and blocks campaigns:send; again = true sends once more", function()
    local hash = campaign()
    assert(client:request("POST", "/campaigns/email/" .. hash .. "/actions/send",
      { body = { list_id = list, segments = { type = "none" } } }))
    local _, err = client.campaigns:send(hash, { list_id = list })
    assert.equal("ALREADY_SENT", err.code)
    local f = assert(io.open(ledger, "rb"))
    local text = f:read("*a")
    f:close()
    assert.truthy(text:find('"method":"actionSendEmail"', 1, true))
    assert.truthy(text:find('"outcome":"sent"', 1, true))
    assert.falsy(text:find(KEY, 1, true))
    local again = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false, raise = false }
    guard.wrap(again, { path = ledger, account = "spec", again = true })
    assert(again.campaigns:send(hash, { list_id = list }))
    again:close()
  end)

  it("a send the service refused is 'failed': a retry is allowed", function()
    local _, err = client.campaigns:send("nosuchhash", { list_id = list })
    assert.truthy(err)
    assert.is_not.equal("ALREADY_SENT", err.code)
    local _, err2 = client.campaigns:send("nosuchhash", { list_id = list })
    assert.is_not.equal("ALREADY_SENT", err2.code)
  end)

  it("other paths and reads are not guarded; raise = true raises the ledger's refusal", function()
    assert(client:request("GET", "/campaigns"))
    local hash = campaign()
    local strict = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false }
    guard.wrap(strict, { path = ledger, account = "spec" })
    strict.campaigns:send(hash, { list_id = list })
    local ok, err = pcall(strict.campaigns.send, strict.campaigns, hash, { list_id = list })
    assert.is_false(ok)
    assert.equal("ALREADY_SENT", err.code)
    strict:close()
  end)

  it("a v2 client's request (it has no paths) leaves the ledger alone", function()
    local v2 = egoi.new{ apikey = KEY, url = sb:url("/"), rate_limit = false, raise = false }
    local path = os.tmpname()
    os.remove(path)
    guard.wrap(v2, { path = path })
    local res, err = v2:request("POST", "/campaigns/email/abc/actions/send", { body = { list_id = 1 } })
    assert.is_nil(res)
    assert.equal("usage", err.kind)
    assert.is_nil(io.open(path, "rb"))
    v2:close()
  end)
end)
