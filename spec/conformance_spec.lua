-- One scenario (create list, fields, subscribers, bulk, campaign, send,
-- report, errors) over every protocol the client speaks (REST, XML-RPC,
-- SOAP, universal SOAP), each against a fresh sandbox with the same seed:
-- the results must be identical, whichever protocol carried them.
local server = require "helpers.server"
local egoi = require "egoi"
local protocols = require "egoi.protocol"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local PATHS = { rest = "/v2/rest.php", xmlrpc = "/v2/xmlrpc.php", soap = "/v2/soap.php", soap_any = "/v2/soap_any.php" }

local function scenario(c)
  local out = {}
  local function try(name, f, ...)
    local ok, res = pcall(f, ...)
    if ok then out[name] = res else out[name] = { error = res.kind, code = res.code } end
    return ok and res or nil
  end
  local list = try("list", function() return c.lists:create{ name = "Conformance", language = "en", email_channel = 1 } end)
  list = list.LIST_ID
  local field = try("field", function() return c.fields:add{ listID = list, name = "city", type = "texto" } end)
  field = field.NEW_ID
  local sub = try("sub", function()
    return c.subscribers:add{ listID = list, email = "ana+1@example.org", first_name = "Ána & <Co>",
      ["extra_" .. field] = "Porto", status = 1, tags = { "1" } }
  end)
  try("bulk", function()
    return c.subscribers:add_bulk{ listID = list, compareField = "email", operation = 2, subscribers = {
      { email = "a@example.org", first_name = "A", status = 1 },
      { email = "b@example.org", first_name = "B", status = 1 },
    } }
  end)
  try("data", function() return c.subscribers:get{ listID = list, subscriber = "a@example.org" } end)
  try("fields", function() return c.fields:all{ listID = list } end)
  try("lists", function() return c.lists:all() end)
  try("tag", function() return c.tags:add{ name = "vip" } end)
  local senders = try("senders", function() return c.senders:all() end)
  local from
  for _, s in ipairs(senders) do if s.CHANNEL == "email" then from = s.FROMID end end
  local camp = try("campaign", function()
    return c.campaigns:create_email{ listID = list, subject = "Hello", from_id = from,
      url = "http://example.org/newsletter.html" }
  end)
  try("send", function() return c.send:email{ listID = list, campaign = camp.ID, segment = "ALL" } end)
  try("report", function() return c.reports:get{ campaign = camp.ID } end)
  try("campaigns", function() return c.campaigns:all{ listID = list } end)
  try("removed", function() return c.subscribers:remove{ listID = list, subscriber = "b@example.org" } end)
  -- business errors
  try("removed_again", function() return c.subscribers:remove{ listID = list, subscriber = "b@example.org" } end)
  try("duplicate", function() return c.subscribers:add{ listID = list, email = "a@example.org" } end)
  try("no_list", function() return c.fields:all{ listID = 987654 } end)
  try("no_campaign", function() return c.reports:get{ campaign = "nope" } end)
  try("bad_email", function() return c.subscribers:add{ listID = list, email = "not-an-address" } end)
  return out
end

-- fields that carry the wall clock are not deterministic under --seed
local function strip_dates(v)
  if type(v) ~= "table" then return v end
  local o = {}
  for k, x in pairs(v) do
    if not (type(k) == "string" and (k:upper():match("DATE") or k:match("^data_") or k == "START" or k == "END")) then o[k] = strip_dates(x) end
  end
  return o
end

describe("conformance: one scenario over every protocol against the sandbox", function()
  it("gives identical results over rest, xmlrpc, soap and soap_any", function()
    local names = protocols.names()
    assert.same({ "rest", "soap", "soap_any", "xmlrpc" }, names)
    local results = {}
    for _, proto in ipairs(names) do
      local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --seed 11 --rate-limit 0" }
      local c = egoi.new{ apikey = KEY, protocol = proto, url = sb:url(PATHS[proto]), rate_limit = false,
        retries = 0 }
      local ok, out = pcall(scenario, c)
      c:close()
      sb:stop()
      assert(ok, proto .. ": " .. tostring(out))
      results[proto] = strip_dates(out)
    end
    local rest = results.rest
    -- the scenario did what it says (so "identical" is not identical failures)
    assert.is_string(rest.list.LIST_ID)
    assert.is_string(rest.sub.UID)
    assert.equal("Ána & <Co>", rest.sub.FIRST_NAME)
    assert.is_true(#rest.lists >= 1)
    assert.same({ error = "api", code = "SUBSCRIBER_ALREADY_REMOVED" }, rest.removed_again)
    assert.same({ error = "api", code = "EMAIL_ALREADY_EXISTS" }, rest.duplicate)
    assert.same({ error = "api", code = "LIST_NOT_FOUND" }, rest.no_list)
    assert.same({ error = "api", code = "CAMPAIGN_NOT_FOUND" }, rest.no_campaign)
    assert.same({ error = "api", code = "EMAIL_ADDRESS_INVALID" }, rest.bad_email)
    for _, proto in ipairs{ "xmlrpc", "soap", "soap_any" } do
      for k, v in pairs(rest) do
        assert.same(v, results[proto][k], proto .. ": " .. k)
      end
      assert.same(rest, results[proto], proto)
    end
  end)
end)
