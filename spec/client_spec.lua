-- The client end to end against a real PHP server (php -S) that parses our
-- form bodies with PHP's own parser and answers in the E-goi REST envelope.
local server = require "helpers.server"
local egoi = require "egoi"

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function catch(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return err
end

describe("egoi client over REST (php -S)", function()
  local php, client

  setup(function()
    php = server.start{ cmd = "php -S 127.0.0.1:{port} spec/servers/egoi_canned.php" }
  end)
  teardown(function()
    if client then client:close() end
    php:stop()
  end)
  before_each(function()
    client = egoi.new{ apikey = KEY, url = php:url("/v2/rest.php"), rate_limit = false,
      retries = 0, timeout = 10 }
  end)

  describe("egoi.new", function()
    it("requires an apikey string", function()
      local err = catch(egoi.new, {})
      assert.is_true(egoi.is_error(err))
      assert.equal("usage", err.kind)
      assert.matches("apikey", err.message)
      err = catch(egoi.new, { apikey = 42 })
      assert.equal("usage", err.kind)
      err = catch(egoi.new)
      assert.equal("usage", err.kind)
    end)
    it("checks options and names them", function()
      local err = catch(egoi.new, { apikey = KEY, protocol = "soap12" })
      assert.matches("protocol", err.message)
      err = catch(egoi.new, { apikey = KEY, timeout = -1 })
      assert.matches("timeout", err.message)
      err = catch(egoi.new, { apikey = KEY, rate_limit = "yes" })
      assert.matches("rate_limit", err.message)
    end)
    it("returns nil, err with raise = false", function()
      local c, err = egoi.new{ raise = false }
      assert.is_nil(c)
      assert.equal("usage", err.kind)
    end)
    it("never shows the key", function()
      local s = tostring(client)
      assert.not_matches(KEY, s, 1, true)
      for k, v in pairs(client) do
        assert.not_equal(KEY, v, "key visible in field " .. tostring(k))
      end
    end)
  end)

  it("decodes key_N lists into arrays, nested too", function()
    local lists = client:call("getLists")
    assert.equal(2, #lists)
    assert.equal("1", lists[1].listnum)
    assert.equal("List 2", lists[2].title)
    assert.equal(2, #lists[1].extra_fields)
    assert.equal("zé", lists[1].extra_fields[2].ref)
    assert.is_nil(lists.status)
  end)

  it("keeps key_<id> maps addressable by id", function()
    local r = client:call("getExtraFields", { listID = 1 })
    assert.equal("city", r.extra_fields.key_5.NAME)
    assert.equal("shoe", r.extra_fields.key_9.NAME)
  end)

  it("orders key_10 after key_2", function()
    local r = client:call("subscriberData", { listID = 1, subscriber = "all_subscribers" })
    assert.equal(12, #r.subscriber)
    for i = 1, 12 do assert.equal("u" .. (i - 1), r.subscriber[i].UID) end
  end)

  it("adds the apikey and sends arguments PHP reads back intact", function()
    local r = client:call("echo", { listID = 3, name = "a+b&c=d %", tags = { 1, 2 }, ok = true })
    local cjson = require("cjson").new()
    local echoed = cjson.decode(r.ECHO)
    assert.same({ listID = "3", name = "a+b&c=d %", tags = { "1", "2" }, ok = "1" }, echoed)
    assert.equal("POST", r.METHOD)
    assert.matches("^lua%-egoi/%d+%.%d+%.%d+ libcurl/", r.UA)
  end)

  it("appends the app suffix to the User-Agent", function()
    local c = egoi.new{ apikey = KEY, url = php:url("/v2/rest.php"), rate_limit = false, app = "newsletter/2.0" }
    local r = c:call("echo", {})
    c:close()
    assert.matches(" newsletter/2%.0$", r.UA)
  end)

  it("gives the same results and errors with json_decoder = \"cjson\"", function()
    local cj = egoi.new{ apikey = KEY, url = php:url("/v2/rest.php"), rate_limit = false, retries = 0,
      timeout = 10, json_decoder = "cjson" }
    local calls = {
      { "getLists" }, { "getExtraFields", { listID = 1 } },
      { "subscriberData", { listID = 1, subscriber = "all_subscribers" } },
      { "subscriberData", { listID = 999, subscriber = "all_subscribers" } },
      { "addSubscriber", { listID = 1, email = "dup@example.org" } },
      { "removeSubscriber", { listID = 1, subscriber = "x" } }, { "getCredits" },
      { "emptyBody" }, { "scalarTop" }, { "garbage" }, { "failed200" },
    }
    for _, c in ipairs(calls) do
      local a, ea = pcall(client.call, client, c[1], c[2])
      local b, eb = pcall(cj.call, cj, c[1], c[2])
      assert.equal(a, b, c[1])
      if a then
        assert.same(ea, eb, c[1])
      else
        assert.equal(ea.code, eb.code, c[1])
        assert.equal(ea.kind, eb.kind, c[1])
      end
    end
    cj:close()
    local err = catch(egoi.new, { apikey = KEY, json_decoder = "dkjson" })
    assert.equal("usage", err.kind)
    assert.matches("json_decoder", err.message)
  end)

  describe("business errors", function()
    it("raises ERROR as an api error with the catalogue message", function()
      local err = catch(client.call, client, "addSubscriber", { listID = 1, email = "dup@example.org" })
      assert.is_true(egoi.is_error(err))
      assert.equal("api", err.kind)
      assert.equal("EMAIL_ALREADY_EXISTS", err.code)
      assert.equal("addSubscriber", err.method)
      assert.equal(200, err.http_status)
      assert.is_false(err.retryable)
      assert.equal(egoi.errors.EMAIL_ALREADY_EXISTS.message, err.message)
      assert.equal("egoi: EMAIL_ALREADY_EXISTS: " .. err.message .. " (addSubscriber)", tostring(err))
    end)
    it("reads a templated code (EXTRA_FIELD_<field>_ALREADY_EXISTS) as its catalogue family", function()
      local err = catch(client.call, client, "addExtraField", { listID = 1, name = "city", type = "texto" })
      assert.equal("api", err.kind)
      assert.equal("EXTRA_FIELD_CITY_ALREADY_EXISTS", err.code)
      assert.equal("The extra field CITY already exists in the mailing list", err.message)
      assert.same({ family = "EXTRA_FIELD_XX_ALREADY_EXISTS", field = "CITY" }, err.detail)
    end)
    it("finds ERROR nested where the method documents it", function()
      local err = catch(client.call, client, "subscriberData", { listID = 999, subscriber = "all_subscribers" })
      assert.equal("LIST_MISSING", err.code)
    end)
    it("treats a scalar error response as an error", function()
      local bad = egoi.new{ apikey = "f" .. KEY:sub(2), url = php:url("/v2/rest.php"), rate_limit = false }
      local err = catch(bad.call, bad, "getLists")
      bad:close()
      assert.equal("INVALID", err.code)
      assert.equal("api", err.kind)
    end)
    it("accepts removeSubscriber's scalar OK and plain scalar results", function()
      assert.same({ response = "OK" }, client:call("removeSubscriber", { listID = 1, subscriber = "x" }))
      assert.same({ response = "42" }, client:call("getCredits"))
    end)
    it("returns nil, err instead of raising with raise = false", function()
      local c = egoi.new{ apikey = KEY, url = php:url("/v2/rest.php"), rate_limit = false, raise = false }
      local r, err = c:call("addSubscriber", { listID = 1, email = "dup@example.org" })
      c:close()
      assert.is_nil(r)
      assert.equal("EMAIL_ALREADY_EXISTS", err.code)
    end)
  end)

  describe("malformed and failed answers", function()
    it("maps an empty body to an empty result", function()
      assert.same({}, client:call("emptyBody"))
    end)
    it("maps garbage to MALFORMED_JSON", function()
      local err = catch(client.call, client, "garbage")
      assert.equal("protocol", err.kind)
      assert.equal("MALFORMED_JSON", err.code)
    end)
    it("maps status failed with HTTP 404 to an http error", function()
      local err = catch(client.call, client, "noSuchMethod")
      assert.equal("http", err.kind)
      assert.equal(404, err.http_status)
    end)
    it("maps status failed with HTTP 200 to SERVER_FAULT without the key", function()
      local err = catch(client.call, client, "failed200")
      assert.equal("protocol", err.kind)
      assert.equal("SERVER_FAULT", err.code)
      assert.not_matches(KEY, tostring(err), 1, true)
      assert.matches("<apikey>", err.message, 1, true)
    end)
    it("maps HTTP 500 to an http error and scrubs the key from the body", function()
      local err = catch(client.call, client, "http500")
      assert.equal("http", err.kind)
      assert.equal(500, err.http_status)
      assert.not_matches(KEY, err.message, 1, true)
      assert.not_matches(KEY, tostring(err), 1, true)
    end)
    it("maps HTTP 429 to a rate_limit error", function()
      local err = catch(client.call, client, "tooMany")
      assert.equal("rate_limit", err.kind)
      assert.equal(429, err.http_status)
    end)
  end)

  describe("usage errors before any I/O", function()
    it("refuses bad method and options", function()
      assert.equal("usage", catch(client.call, client, nil).kind)
      assert.equal("usage", catch(client.call, client, "getLists", "x").kind)
      local err = catch(client.call, client, "getLists", { apikey = "other" })
      assert.matches("apikey", err.message)
    end)
    it("names the missing argument and the vendor code", function()
      local before = client:call("count").COUNT
      local err = catch(client.subscribers.add, client.subscribers, { email = "a@b.pt" })
      assert.equal("usage", err.kind)
      assert.equal("LIST_MISSING", err.code)
      assert.matches("listID", err.message)
      assert.equal(before, client:call("count").COUNT) -- no request was made
    end)
    it("refuses values that cannot be encoded", function()
      local err = catch(client.call, client, "echo", { f = function() end })
      assert.equal("usage", err.kind)
      assert.matches("f", err.message)
    end)
  end)

  it("sends a body packed in a form_buffer in place (bulk path)", function()
    local fb = client:body_buffer("echo", { listID = 7 })
    fb:add({ email = "a+b@example.org", first_name = "Zé" }, "functionOptions[subscribers]", 0)
    fb:add({ email = "c@example.org" }, "functionOptions[subscribers]", 1)
    local before = fb:len()
    local r = client:call_buffer("echo", fb)
    assert.equal(before, fb:len()) -- the buffer is not consumed (a retry would resend it)
    fb:close()
    local echoed = require("cjson").new().decode(r.ECHO)
    assert.same({ listID = "7", subscribers = { { email = "a+b@example.org", first_name = "Zé" },
      { email = "c@example.org" } } }, echoed)
    assert.equal("usage", catch(client.call_buffer, client, "echo", "not a buffer").kind)
  end)

  it("resources send the wire names", function()
    local r = client.lists:all()
    assert.equal(2, #r)
    local e = client:invoke("removeSubscriber", { list = 1, subscriber = "x" })
    assert.same({ response = "OK" }, e)
  end)
end)

describe("egoi client transport failures", function()
  it("reports a refused connection as a transport error after retrying", function()
    local port = server.refused_port()
    local sleeps = {}
    local c = egoi.new{ apikey = KEY, url = ("http://127.0.0.1:%d/v2/rest.php"):format(port),
      rate_limit = false, retries = 2, sleep = function(s) sleeps[#sleeps + 1] = s end }
    local ok, err = pcall(c.call, c, "sendEmail", { listID = 1, campaign = "h" })
    c:close()
    assert.is_false(ok)
    assert.equal("transport", err.kind)
    assert.equal("COULDNT_CONNECT", err.code)
    assert.is_true(err.retryable)
    assert.equal(2, #sleeps) -- never reached the server: even a send is retried
    assert.is_true(sleeps[1] >= 0.25 and sleeps[1] <= 0.5)
    assert.is_true(sleeps[2] >= 0.5 and sleeps[2] <= 1.0)
  end)
end)

describe("egoi client over XML-RPC (Python's xmlrpc.server)", function()
  local py, client
  setup(function()
    py = server.start{ cmd = "python3 spec/servers/xmlrpc_server.py {port}" }
    client = egoi.new{ apikey = KEY, protocol = "xmlrpc", url = py:url("/v2/xmlrpc.php"),
      rate_limit = false, retries = 0 }
  end)
  teardown(function()
    client:close()
    py:stop()
  end)

  it("gives results in the REST shape (arrays, strings)", function()
    local lists = client:call("getLists") -- the wire shape; client.lists:all() shapes it further
    assert.equal(2, #lists)
    assert.equal("130", lists[1].subs_total) -- an <int> arrives as a decimal string
    assert.equal("Newsletter Zé", lists[1].title)
    assert.equal("nif", lists[1].extra_fields[2].ref)
    assert.equal("", lists[2].extra_fields) -- REST turns an empty list into an empty element
  end)

  it("sends one struct param that Python decodes intact, key included", function()
    local r = client:call("echo", { listID = 3, subscribers = { { email = "a+b@x.pt", status = 1 } } })
    assert.equal(KEY, r.apikey)
    assert.equal("3", r.listID)
    assert.equal("a+b@x.pt", r.subscribers[1].email)
  end)

  it("turns a bare string error into an api error", function()
    local ok, err = pcall(client.account.client_data, client.account)
    assert.is_false(ok)
    assert.equal("api", err.kind)
    assert.equal("INVALID", err.code)
  end)

  it("turns a fault into a protocol error", function()
    local ok, err = pcall(client.call, client, "faulty")
    assert.is_false(ok)
    assert.equal("protocol", err.kind)
    assert.equal("XMLRPC_FAULT", err.code)
    assert.equal("4", err.detail.faultCode)
  end)
end)
