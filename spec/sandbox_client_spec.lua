-- The module driving the sandbox: every catalogue method through the
-- resource tables, REST/XML-RPC parity, business errors as egoi.Error,
-- the server's rate limit, and connection reuse.
local server = require "helpers.server"
local egoi = require "egoi"
local methods = require "egoi.methods"

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function start_sandbox(extra)
  return server.start{
    cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --seed 7 " .. (extra or "--rate-limit 0"),
  }
end

local function new_client(sb, protocol, opts)
  local o = { apikey = KEY, protocol = protocol, rate_limit = false, retries = 0,
    url = sb:url(protocol == "xmlrpc" and "/v2/xmlrpc.php" or "/v2/rest.php") }
  for k, v in pairs(opts or {}) do o[k] = v end
  return egoi.new(o)
end

-- A workflow whose answers must be identical whichever protocol carried it.
local function workflow(c)
  local out = {}
  local list = c.lists:create{ name = "Parity", language = "en", email_channel = 1 }.LIST_ID
  out.list = list
  out.field = c.fields:add{ listID = list, name = "city", type = "texto" }.NEW_ID
  out.sub = c.subscribers:add{ listID = list, email = "ze+1@example.org", first_name = "Zé",
    ["extra_" .. out.field] = "Porto", status = 1 }
  c.subscribers:add_bulk{ listID = list, compareField = "email", operation = 2, subscribers = {
    { email = "a@example.org", first_name = "A", status = 1 },
    { email = "b@example.org", first_name = "B", status = 1 },
  } }
  local all = {}
  for s in c.subscribers:each{ listID = list, page_size = 2 } do all[#all + 1] = s.EMAIL end
  out.emails = all
  out.fields = c.fields:all{ listID = list }
  out.lists = c.lists:all()
  local tag = c.tags:add{ name = "vip" }
  out.tag = tag
  c.tags:attach{ listID = list, tag = tag.ID, target = { out.sub.UID }, type = "subscriber" }
  out.senders = c.senders:all()
  local from
  for _, s in ipairs(out.senders) do if s.CHANNEL == "email" then from = s.FROMID end end
  local camp = c.campaigns:create_email{ listID = list, subject = "Hello", from_id = from,
    url = "http://example.org/newsletter.html" }
  out.campaign = camp
  out.send = c.send:email{ listID = list, campaign = camp.ID, segment = "ALL" }
  out.removed = c.subscribers:remove{ listID = list, subscriber = "b@example.org" }
  local ok, err = pcall(c.subscribers.remove, c.subscribers, { listID = list, subscriber = "b@example.org" })
  out.second_remove = { ok, err.kind, err.code }
  return out
end

-- fields that carry the wall clock are not deterministic under --seed
local function strip_dates(v)
  if type(v) ~= "table" then return v end
  local o = {}
  for k, x in pairs(v) do
    if not (type(k) == "string" and (k:match("DATE") or k == "START" or k == "END")) then o[k] = strip_dates(x) end
  end
  return o
end

describe("the module against the sandbox", function()
  local rest_sb, xml_sb

  setup(function()
    rest_sb = start_sandbox()
    xml_sb = start_sandbox()
  end)
  teardown(function()
    rest_sb:stop()
    xml_sb:stop()
  end)

  it("gives identical results over REST and XML-RPC", function()
    local rc, xc = new_client(rest_sb, "rest"), new_client(xml_sb, "xmlrpc")
    local r, x = workflow(rc), workflow(xc)
    rc:close()
    xc:close()
    assert.same(strip_dates(r), strip_dates(x))
    assert.same({ "ze+1@example.org", "a@example.org", "b@example.org" }, r.emails)
    assert.same({ false, "api", "SUBSCRIBER_ALREADY_REMOVED" }, r.second_remove)
    assert.equal("Porto", r.emails and r.sub["EXTRA_FIELD_" .. r.field] or nil)
  end)

  it("answers every catalogue method without a protocol or transport error", function()
    local c = new_client(rest_sb, "rest")
    local list = c.lists:create{ name = "Every", language = "pt" }.LIST_ID
    local sub = c.subscribers:add{ listID = list, email = "every@example.org", status = 1 }.UID
    local from
    for _, s in ipairs(c.senders:all()) do if s.CHANNEL == "email" then from = s.FROMID end end
    local camp = c.campaigns:create_email{ listID = list, subject = "S", from_id = from,
      url = "http://example.org/x.html" }.ID
    local args = {
      listID = list, subscriber = sub, campaign = camp, name = "n", language = "en",
      type = "texto", subject = "s", message = "hi", fromID = from, callback_url = "http://127.0.0.1:9/cb",
      compareField = "email", subscribers = { { email = "bulk@example.org" } }, tag = "1",
      target = { sub }, email = "x" .. sub .. "@example.org", cellphone = "351-912345678",
    }
    local answered = 0
    for _, entry in ipairs(methods.list) do
      local these = args
      if not entry.open then -- a documented argument list refuses other names
        these = {}
        for k, v in pairs(args) do
          if entry.args[k] or entry.aliases[k] then these[k] = v end
        end
      end
      local ok, res = pcall(c.invoke, c, entry.name, these)
      if ok then
        assert.is_table(res, entry.name)
      else
        assert.is_true(egoi.is_error(res), entry.name .. ": " .. tostring(res))
        assert.equal("api", res.kind, entry.name .. ": " .. tostring(res))
      end
      answered = answered + 1
    end
    c:close()
    assert.equal(#methods.list, answered)
    assert.is_true(answered >= 57)
  end)

  it("raises business errors as egoi.Error with the catalogue message", function()
    local c = new_client(rest_sb, "rest")
    local list = c.lists:create{ name = "Errs", language = "en" }.LIST_ID
    c.subscribers:add{ listID = list, email = "dup@example.org" }
    local cases = {
      { "EMAIL_ALREADY_EXISTS", function() c.subscribers:add{ listID = list, email = "dup@example.org" } end },
      { "LIST_NOT_FOUND", function() c.fields:all{ listID = 987654 } end },
      { "SUBSCRIBER_NOT_FOUND", function() c.subscribers:get{ listID = list, subscriber = "nobody@example.org" } end },
      { "CAMPAIGN_NOT_FOUND", function() c.reports:get{ campaign = "nope" } end },
      { "EMAIL_ADDRESS_INVALID", function() c.subscribers:add{ listID = list, email = "not-an-address" } end },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(case[2])
      assert.is_false(ok, case[1])
      assert.equal(case[1], err.code)
      assert.equal("api", err.kind)
      assert.equal(egoi.errors[case[1]].message, err.message)
      assert.not_matches(KEY, tostring(err), 1, true)
    end
    c:close()
  end)

  it("keeps one connection for many calls", function()
    local real = require("egoi.transport.curl").new{ timeout = 5, connect_timeout = 5, user_agent = "t" }
    local connects = 0
    local c = new_client(rest_sb, "rest", { transport = {
      request = function(_, ...)
        local st, headers, body, info = real:request(...)
        if info and type(info) == "table" then connects = connects + info.num_connects end
        return st, headers, body, info
      end,
      close = function() real:close() end,
    } })
    for _ = 1, 20 do c.account:credits() end
    c:close()
    assert.equal(1, connects)
  end)
end)

describe("rate limits against the sandbox", function()
  it("maps the server's over-limit answer to a rate_limit error with retry_after", function()
    local sb = start_sandbox("--rate-limit 3/30")
    local c = new_client(sb, "rest")
    for _ = 1, 3 do c.account:credits() end
    local ok, err = pcall(c.account.credits, c.account)
    c:close()
    sb:stop()
    assert.is_false(ok)
    assert.equal("rate_limit", err.kind)
    assert.equal(429, err.http_status)
    assert.is_true(err.retry_after >= 1 and err.retry_after <= 30)
  end)

  it("never lets the server say no when the client limiter matches it", function()
    local sb = start_sandbox("--rate-limit 4/1")
    local tmp = os.tmpname()
    local waits = 0
    local c = new_client(sb, "rest", { rate_limit = { calls = 4, window = 1, state_file = tmp,
      on_wait = function() waits = waits + 1 end } })
    for _ = 1, 10 do c.account:credits() end
    c:close()
    sb:stop()
    os.remove(tmp)
    assert.is_true(waits >= 2)
  end)
end)

describe("the module against the sandbox: callbacks and state", function()
  local cjson = require("cjson").new()
  local callback = require "egoi.callback"

  it("registers callbacks through client.callbacks and egoi.callback parses what arrives", function()
    local sinkfile = os.tmpname()
    local sink = server.start{ cmd = "python3 spec/servers/sandbox_callback_sink.py {port} " .. sinkfile }
    local sb = start_sandbox()
    local c = new_client(sb, "rest")
    local ok, err = pcall(function()
      local list = c.lists:create{ name = "Hooks", language = "en" }.LIST_ID
      local field = c.fields:add{ listID = list, name = "city", type = "texto" }.NEW_ID
      local flags = { listID = list, callback_url = sink:url("/hook") }
      for i = 1, 16 do flags["notif_api_" .. i] = (i == 9 or i == 10 or i == 14) and 1 or 0 end
      assert.equal("OK", c.callbacks:edit(flags).RESULT)
      local uid = c.subscribers:add{ listID = list, email = "hook@example.org", first_name = "Zé & <b>",
        ["extra_" .. field] = "Lisboa" }.UID
      c.subscribers:edit{ listID = list, subscriber = uid, last_name = "Edited" }
      c.subscribers:remove{ listID = list, subscriber = uid }
      -- deliveries are asynchronous: wait (bounded) for the three of them
      local lines = {}
      for _ = 1, 100 do
        lines = {}
        for l in io.lines(sinkfile) do lines[#lines + 1] = l end
        if #lines >= 3 then break end
        require("socket").sleep(0.05)
      end
      assert.equal(3, #lines)
      local events = {}
      for i, l in ipairs(lines) do
        local rec = cjson.decode(l)
        local ev, perr = callback.parse(rec.body, rec.ctype)
        assert.is_table(ev, tostring(perr))
        events[i] = ev
      end
      table.sort(events, function(a, b) return a.event < b.event end) -- add, edit, remove
      assert.same({ "add", "edit", "remove" }, { events[1].event, events[2].event, events[3].event })
      for _, ev in ipairs(events) do
        assert.equal(tostring(list), ev.list)
        assert.equal(uid, ev.uid)
        assert.equal("hook@example.org", ev.email)
      end
      assert.equal("Zé & <b>", events[1].fields.first_name)
      assert.equal("Lisboa", events[1].extra[tostring(field)])
      assert.equal("Edited", events[2].fields.last_name)
    end)
    c:close()
    sb:stop()
    sink:stop()
    os.remove(sinkfile)
    assert(ok, err)
  end)

  it("keeps state across a sandbox restart with --state", function()
    local state = os.tmpname()
    os.remove(state)
    local port = server.free_port()
    local cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0 --state " .. state
    local sb = server.start{ cmd = cmd, port = port }
    local c = new_client(sb, "rest")
    local list = c.lists:create{ name = "Persisted", language = "pt" }.LIST_ID
    c.subscribers:add{ listID = list, email = "kept@example.org", status = 1 }
    c:close()
    sb:stop()
    sb = server.start{ cmd = cmd, port = port }
    c = new_client(sb, "rest")
    local found
    for _, l in ipairs(c.lists:all()) do if l.listnum == tostring(list) then found = l end end
    local sub = c.subscribers:get{ listID = list, subscriber = "kept@example.org" }
    c:close()
    sb:stop()
    os.remove(state)
    assert.equal("Persisted", found and found.title)
    assert.equal("kept@example.org", sub.subscriber.EMAIL)
  end)
end)
