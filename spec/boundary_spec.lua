-- spec/boundary_spec.lua - checks at the public boundary: unknown option and argument names
-- (with the closest known name), wrong types and impossible values. Every refusal is a
-- `usage` egoi.Error naming the argument (and the method), found before any I/O: a counting
-- loopback server must see nothing.
local server = require "helpers.server"
local http = require "socket.http"
local egoi = require "egoi"
local methods = require "egoi.methods"
local options = require "egoi.options"
local check = require "egoi.check"

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function catch(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(egoi.is_error(err), "not an egoi.Error: " .. tostring(err))
  assert.equal("usage", err.kind)
  return err
end

local function has(s, sub)
  assert.truthy(tostring(s):find(sub, 1, true), ("%q does not contain %q"):format(tostring(s), sub))
end

describe("egoi.new option names", function()
  it("refuses an unknown option and names the closest known one", function()
    local err = catch(egoi.new, { apikey = KEY, timout = 5, rate_limit = false })
    assert.equal("INVALID_ARGUMENT", err.code)
    has(err.message, "egoi.new: unknown option 'timout' (did you mean 'timeout'?)")
    err = catch(egoi.new, { apikey = KEY, verfiy_tls = false, rate_limit = false })
    has(err.message, "'verfiy_tls' (did you mean 'verify_tls'?)")
    err = catch(egoi.new, { apikey = KEY, APIKEY = KEY, rate_limit = false })
    has(err.message, "unknown option 'APIKEY' (did you mean 'apikey'?)")
    assert.is_nil(tostring(err):find(KEY, 1, true))
  end)

  it("refuses an unknown rate_limit option", function()
    local err = catch(egoi.new, { apikey = KEY, rate_limit = { cals = 10, state_file = false } })
    has(err.message, "unknown option 'rate_limit.cals' (did you mean 'rate_limit.calls'?)")
    err = catch(egoi.new, { apikey = KEY, rate_limit = { state_fle = os.tmpname() } })
    has(err.message, "'rate_limit.state_fle' (did you mean 'rate_limit.state_file'?)")
  end)

  it("names no suggestion when nothing is close, and refuses non-string names", function()
    local err = catch(egoi.new, { apikey = KEY, rate_limit = false, zzzzzzzz = 1 })
    has(err.message, "unknown option 'zzzzzzzz'")
    assert.is_nil(err.message:find("did you mean", 1, true))
    err = catch(egoi.new, { apikey = KEY, rate_limit = false, [1] = "x" })
    has(err.message, "option names must be strings")
  end)

  it("returns nil, err for an unknown option with raise = false", function()
    local c, err = egoi.new{ apikey = KEY, raise = false, rate_limit = false, retires = 3 }
    assert.is_nil(c)
    assert.equal("usage", err.kind)
    has(err.message, "'retires' (did you mean 'retries'?)")
  end)

  it("knows every option the README documents and those other parts add", function()
    for _, n in ipairs { "apikey", "protocol", "url", "timeout", "connect_timeout", "retries",
      "rate_limit", "raise", "app", "verify_tls", "ca_file", "proxy", "transport", "keepalive",
      "max_response", "plugin_key", "json_decoder", "backoff", "backoff_cap", "clock", "sleep",
      "log", "api" } do
      assert.is_nil(check.names({ [n] = 1 }, options.new, "option"), n)
    end
    for _, n in ipairs { "calls", "window", "wait", "max_wait", "state_file", "on_wait", "shdict",
      "limiter", "redis", "on_unavailable" } do
      assert.is_nil(check.names({ [n] = 1 }, options.rate_limit, "option"), n)
    end
    -- every documented option still builds a client
    local c = egoi.new{ apikey = KEY, protocol = "rest", url = "http://127.0.0.1:9/", timeout = 5,
      connect_timeout = 1, retries = 0, raise = true, app = "spec/1", verify_tls = true,
      keepalive = false, max_response = 1024, plugin_key = "p", json_decoder = "cjson",
      backoff = 0.1, backoff_cap = 1, clock = os.time, sleep = function() end,
      log = function() end, transport = "curl",
      rate_limit = { calls = 5, window = 60, wait = false, max_wait = 1, state_file = false,
        on_wait = function() end } }
    c:close()
  end)

  it("checks the type of boolean and size options", function()
    local err = catch(egoi.new, { apikey = KEY, rate_limit = false, verify_tls = "no" })
    has(err.message, "'verify_tls'")
    err = catch(egoi.new, { apikey = KEY, rate_limit = false, keepalive = 0 })
    has(err.message, "'keepalive'")
    err = catch(egoi.new, { apikey = KEY, rate_limit = false, raise = "false" })
    has(err.message, "'raise'")
    err = catch(egoi.new, { apikey = KEY, rate_limit = false, max_response = -1 })
    has(err.message, "'max_response'")
    err = catch(egoi.new, { apikey = KEY, rate_limit = { wait = "no", state_file = false } })
    has(err.message, "'rate_limit.wait'")
  end)
end)

describe("method arguments", function()
  local srv, client, arrivals

  setup(function()
    srv = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
    client = egoi.new{ apikey = KEY, url = srv:url("/v2/rest.php"), rate_limit = false, retries = 0,
      timeout = 10 }
    arrivals = function()
      local body = assert(http.request(srv:url("/log")))
      local n = 0
      for _ in body:gmatch("[^\n]+") do n = n + 1 end
      return n
    end
  end)
  teardown(function()
    client:close()
    srv:stop()
  end)

  -- { what, function that makes the call, substrings of the message }
  local BAD = {
    { "listID = true", function(c) return c.lists:all{ listID = true } end,
      { "getLists: argument 'listID' must be a positive integer id", "got true" } },
    { "a negative id", function(c) return c.fields:all{ listID = -3 } end,
      { "getExtraFields: argument 'listID'", "got -3" } },
    { "a non-integer id", function(c) return c.fields:all{ list = 2.5 } end,
      { "getExtraFields: argument 'listID'", "got 2.5" } },
    { "zero as an id", function(c) return c.lists:delete{ listID = 0 } end, { "'listID'" } },
    { "a non-digit id string", function(c) return c.segments:all{ listID = "3a" } end,
      { "getSegments: argument 'listID'", '"3a"' } },
    { "a table where a string belongs", function(c)
        return c.subscribers:add{ listID = 1, email = { "a@example.com" } } end,
      { "addSubscriber: argument 'email' must be a string, got a table" } },
    { "a boolean where a string belongs", function(c)
        return c.lists:create{ name = true, language = "en" } end,
      { "createList: argument 'nome' must be a string" } },
    { "an impossible status", function(c)
        return c.subscribers:add{ listID = 1, email = "a@example.com", status = 7 } end,
      { "addSubscriber: argument 'status' must be one of 0, 1, 2, 3, 4, got 7" } },
    { "a word for a status", function(c)
        return c.subscribers:edit{ listID = 1, subscriber = "x", status = "active" } end,
      { "editSubscriber: argument 'status'" } },
    { "an impossible remove reason", function(c)
        return c.subscribers:remove{ listID = 1, subscriber = "x", remove_reason = 9 } end,
      { "removeSubscriber: argument 'removeReason'" } },
    { "a flag that is not a flag", function(c)
        return c.lists:create{ name = "n", language = "en", email_channel = "yes" } end,
      { "createList: argument 'canal_email' must be a flag" } },
    { "tags that are not ids", function(c)
        return c.subscribers:add{ listID = 1, email = "a@example.com", tags = { "vip" } } end,
      { "addSubscriber: argument 'tags' must be a list of positive integer ids" } },
    { "a tag list given as a string", function(c)
        return c.subscribers:add{ listID = 1, email = "a@example.com", tags = "1,2" } end,
      { "'tags'" } },
    { "rows that are not tables", function(c)
        return c.subscribers:add_bulk{ listID = 1, subscribers = { "a@example.com" },
          compare_field = "email" } end,
      { "addSubscriberBulk: argument 'subscribers'" } },
    { "a segment of words", function(c)
        return c.send:email{ campaign = "h", listID = 1, segment = { "vip" } } end,
      { "sendEmail: argument 'segment'" } },
    { "a negative start", function(c)
        return c.lists:all{ start = -1 } end, { "getLists: argument 'start'" } },
    { "a zero limit", function(c)
        return c.subscribers:get{ listID = 1, subscriber = "all_subscribers", limit = 0 } end,
      { "subscriberData: argument 'limit'" } },
    { "a callback flag past 16", function(c)
        return c.callbacks:edit{ listID = 1, callback_url = "http://x/", notif_api_17 = 1 } end,
      { "editApiCallback: unknown argument 'notif_api_17'" } },
    { "a callback flag that is not a flag", function(c)
        return c.callbacks:edit{ listID = 1, callback_url = "http://x/", notif_api_3 = "on" } end,
      { "editApiCallback: argument 'notif_api_3' must be a flag" } },
    { "a tag target that is not a list", function(c)
        return c.tags:attach{ listID = 1, tag = 2, target = "uid1", type = "subscriber" } end,
      { "attachTag: argument 'target' must be a list of strings" } },
    { "a listID on a method of undocumented arguments", function(c)
        return c.segments:create{ listID = true, anything = { 1 } } end,
      { "createSegment: argument 'listID'" } },
    { "an unknown argument of a documented method", function(c)
        return c.subscribers:add{ listID = 1, emial = "a@example.com" } end,
      { "addSubscriber: unknown argument 'emial' (did you mean 'email'?)" } },
    { "a misspelt alias", function(c)
        return c.fields:all{ lsit = 3 } end,
      { "getExtraFields: unknown argument 'lsit' (did you mean 'list'?)" } },
    { "an argument of a method that takes none", function(c)
        return c.account:user_data{ listID = 1 } end,
      { "getUserData: unknown argument 'listID' (known: plugin_key)" } },
    { "call() with a wrong type", function(c)
        return c:call("getLists", { listID = true }) end,
      { "getLists: argument 'listID' must be a positive integer id" } },
    { "body_buffer() with a wrong type", function(c)
        return c:body_buffer("addSubscriberBulk", { listID = true, compareField = "email" }) end,
      { "addSubscriberBulk: argument 'listID'" } },
    { "call() with a negative id", function(c)
        return c:call("subscriberData", { listID = -1, subscriber = "x" }) end,
      { "subscriberData: argument 'listID'" } },
  }

  for _, case in ipairs(BAD) do
    it("refuses " .. case[1] .. " before any I/O", function()
      local before = arrivals()
      local err = catch(case[2], client)
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.is_string(err.method)
      for _, s in ipairs(case[3]) do has(err.message, s) end
      assert.equal(before, arrivals(), "the server saw a request")
    end)
  end

  it("returns the same refusals as nil, err with raise = false, still without I/O", function()
    local c = egoi.new{ apikey = KEY, url = srv:url("/v2/rest.php"), rate_limit = false, retries = 0,
      raise = false }
    local before = arrivals()
    for _, case in ipairs(BAD) do
      local res, err = case[2](c)
      assert.is_nil(res, case[1])
      assert.is_true(egoi.is_error(err), case[1])
      assert.equal("usage", err.kind, case[1])
    end
    assert.equal(before, arrivals())
    c:close()
  end)

  it("lets call() pass names the catalogue does not know (the raw escape hatch)", function()
    local before = arrivals()
    local ok = pcall(client.call, client, "getLists", { some_new_argument = "x" })
    assert.is_false(ok) -- the counting server's answer is not E-goi JSON
    assert.equal(before + 1, arrivals())
  end)
end)

describe("methods.prepare accepts what the service documents", function()
  local function ok(name, args)
    local out, err = methods.prepare(name, args)
    assert.is_table(out, name .. ": " .. tostring(err))
    return out
  end

  it("ids as integers, integral floats and digit strings", function()
    for _, v in ipairs { 1, 3, 3.0, "3", "0012", 2 ^ 40 } do
      ok("getExtraFields", { listID = v })
    end
  end)

  it("flags, statuses, tags, segments and lists in every documented form", function()
    for _, f in ipairs { true, false, 0, 1, "0", "1" } do
      ok("createList", { nome = "n", idioma_lista = "en", canal_email = f, canal_sms = f, canal_fax = f,
        canal_voz = f, canal_mms = f })
      ok("editApiCallback", { listID = 1, callback_url = "http://x/", notif_api_1 = f, notif_api_16 = f })
    end
    for s = 0, 4 do
      ok("addSubscriber", { listID = 1, email = "a@example.com", status = s })
      ok("addSubscriber", { listID = 1, email = "a@example.com", status = tostring(s) })
    end
    ok("addSubscriber", { listID = 1, cellphone = "351-912345678", tags = { 1, "2" }, extra_12 = "x",
      first_name = "A", birth_date = "1980-01-02", lang = "pt", formID = 4, validate_email = 2,
      validate_phone = true, age = 40, from = "", subscriber = "" })
    for _, seg in ipairs { "ALL", "all", 5, "5", { 1, 2 } } do
      ok("sendEmail", { campaign = "abc123", listID = 1, segment = seg })
    end
    ok("sendEmail", { campaign = "abc123", listID = 1, email = { "a@example.com", "b@example.com" } })
    ok("sendEmail", { campaign = "abc123", listID = 1, uid = "a1b2c3", from_id = 7 })
    ok("sendSMS", { listID = 1, fromID = 2, message = "hi", cellphone = "351-912345678", auto = 1,
      subject = "s", internal_title = "t" })
    ok("sendSMS", { listID = 1, fromID = 2, message = "hi", campaign = "h", cellphone = { "351-1", "351-2" } })
    ok("addSubscriberBulk", { listID = 1, subscribers = { { email = "a@example.com" } },
      compareField = "email", operation = 2, tags = { 3 }, status = 1, autoresponder = 0, notification = 0 })
    ok("subscriberData", { listID = 1, subscriber = "all_subscribers", start = 0, limit = 1000, segment = 3 })
    ok("removeSubscriber", { listID = 1, subscriber = "a@example.com", removeMethod = "API", removeReason = 5,
      removeObs = "x" })
    ok("attachTag", { listID = 1, tag = 2, target = { "uid1", "uid2" }, type = "subscriber" })
    -- a list keyed by digit strings (the CLI's `egoi call attachTag target.0=uid1`) is a list too
    ok("attachTag", { listID = "1", tag = "2", target = { ["0"] = "uid1", ["1"] = "uid2" }, type = "subscriber" })
    ok("updateList", { listID = 1, name = "n", language = "en", title = "t" })
    ok("getLists", {})
    ok("getLists", { listID = 1, start = 0, limit = 10 })
    ok("getUserData", { plugin_key = "0123456789abcdef0123456789abcdef" })
  end)

  it("anything at all for methods whose arguments the vendor never documented", function()
    ok("addSender", { whatever = { 1, 2 }, x = true, y = -1 })
    ok("getOperationsQueue", { anything = {} })
    ok("deleteTag", { tag = "not even a number" })
    ok("createCampaignEmail", { listID = 1, subject = "s", html = "<p>x</p>", zip_file = "a.zip" })
  end)
end)
