local resources = require("egoi.resources")
local methods = require("egoi.methods")
local errors = require("egoi.errors")
local shapes = require("egoi.resources.shapes")

-- A fake client: invoke() records its calls and answers through `handler`.
local function fake_client(handler, raise)
  local client = { calls = {} }
  function client:invoke(name, args)
    self.calls[#self.calls + 1] = { name = name, args = args }
    local prepared, err = methods.prepare(name, args)
    if not prepared then
      if raise then error(err, 0) end
      return nil, err
    end
    if handler then
      local res, herr = handler(name, prepared)
      if res == nil and herr and raise then error(herr, 0) end
      return res, herr
    end
    return { called = name }
  end
  return resources.attach(client)
end

-- subscriberData over `n` records, honouring start/limit like the server; records are
-- returned in REST shape after normalisation (an array), or `key_N` when `raw` is set.
local function subscriber_server(n, raw)
  return function(name, args)
    assert(name == "subscriberData")
    assert(args.subscriber == "all_subscribers")
    local out = {}
    local first, limit = args.start, args.limit
    for i = first + 1, math.min(first + limit, n) do
      local rec = { UID = "uid" .. i, EMAIL = "s" .. i .. "@example.com" }
      if raw then out["key_" .. (i - first - 1)] = rec else out[#out + 1] = rec end
    end
    if next(out) == nil then return {} end
    return { subscriber = out }
  end
end

-- a valid value for required arguments whose kind is not free text
local SAMPLE = { listID = 1, tag = 2, target = { "uid1" }, subscribers = { { email = "a@example.com" } } }

describe("egoi.resources", function()
  it("reaches every catalogue method under its resource by every name", function()
    local client = fake_client()
    for _, e in ipairs(methods.list) do
      local r = client[e.resource]
      assert.is_true(resources.is_resource(r), e.resource)
      assert.equal(client, r._client)
      for _, n in ipairs(e.names) do
        client.calls = {}
        local args = {}
        for _, req in ipairs(e.required) do
          local name = req[1] or req.any[1]
          args[name] = SAMPLE[name] or "x"
        end
        local res = r[n](r, args)
        -- the answer, in the shape the catalogue entry names (egoi.resources.shapes)
        local want = { called = e.name }
        if e.shape then want = shapes.SHAPES[e.shape]({ called = e.name }, args) end
        assert.same(want, res, e.resource .. "." .. n)
        assert.equal(1, #client.calls)
        assert.equal(e.name, client.calls[1].name)
        assert.equal(args, client.calls[1].args)
      end
    end
  end)

  it("creates one table per resource", function()
    local client = fake_client()
    for _, name in ipairs(resources.names) do
      assert.is_true(resources.is_resource(client[name]), name)
    end
    for _, name in ipairs { "account", "lists", "fields", "subscribers", "tags", "senders", "segments",
      "campaigns", "send", "reports", "forms", "callbacks", "automations", "queue" } do
      assert.is_true(resources.is_resource(client[name]), name)
    end
  end)

  it("names itself in tostring", function()
    local client = fake_client()
    assert.equal("egoi resource lists", tostring(client.lists))
    assert.equal("egoi resource subscribers", tostring(client.subscribers))
  end)

  it("gives a clear error for an unknown method", function()
    local client = fake_client()
    local ok, err = pcall(function() return client.lists.foo end)
    assert.is_false(ok)
    assert.equal("usage", err.kind) -- an egoi.Error, with the closest name when there is one
    assert.truthy(tostring(err):find("client.lists has no method 'foo'", 1, true))
    ok, err = pcall(function() return client.lists.craete end)
    assert.is_false(ok)
    assert.truthy(err.message:find("has no method 'craete' (did you mean 'create'?)", 1, true))
  end)

  it("refuses a dot call", function()
    local client = fake_client()
    local ok, err = pcall(function() return client.lists.create { name = "x" } end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("client.lists:create(...)", 1, true))
  end)

  it("passes the client's nil, err through", function()
    local client = fake_client()
    local res, err = client.lists:create { language = "en" }
    assert.is_nil(res)
    assert.equal("NAME_MISSING", err.code)
  end)

  it("requires a table client", function()
    assert.has_error(function() resources.attach(nil) end)
  end)

  describe("subscribers:each", function()
    it("reads 2,500 records in pages of 1000 without overlap or gap", function()
      local client = fake_client(subscriber_server(2500))
      local seen, order = {}, {}
      for rec in client.subscribers:each { list = 5 } do
        assert.is_nil(seen[rec.UID], "duplicate " .. rec.UID)
        seen[rec.UID] = true
        order[#order + 1] = rec.UID
      end
      assert.equal(2500, #order)
      for i = 1, 2500 do
        assert.equal("uid" .. i, order[i])
      end
      assert.equal(3, #client.calls)
      local starts = {}
      for i, c in ipairs(client.calls) do
        starts[i] = c.args.start
        assert.equal(1000, c.args.limit)
        assert.equal(5, c.args.list)
        assert.equal("all_subscribers", c.args.subscriber)
      end
      assert.same({ 0, 1000, 2000 }, starts)
    end)

    it("honours page_size, start and a full last page", function()
      local client = fake_client(subscriber_server(20))
      local n = 0
      for _ in client.subscribers:each { listID = 1, page_size = 5, start = 10 } do n = n + 1 end
      assert.equal(10, n)
      local starts = {}
      for i, c in ipairs(client.calls) do starts[i] = c.args.start end
      assert.same({ 10, 15, 20 }, starts)
      assert.is_nil(client.calls[1].args.page_size)
    end)

    it("reads key_N pages that were not normalised", function()
      local client = fake_client(subscriber_server(7, true))
      local order = {}
      for rec in client.subscribers:each { list = 1, page_size = 3 } do order[#order + 1] = rec.UID end
      assert.same({ "uid1", "uid2", "uid3", "uid4", "uid5", "uid6", "uid7" }, order)
    end)

    it("yields nothing for an empty list", function()
      local client = fake_client(subscriber_server(0))
      local n = 0
      for _ in client.subscribers:each { list = 9 } do n = n + 1 end
      assert.equal(0, n)
      assert.equal(1, #client.calls)
    end)

    it("raises the error object even when the client does not raise", function()
      local failing = function()
        return nil, errors.new { kind = "api", code = "LIST_NOT_FOUND", method = "subscriberData" }
      end
      local client = fake_client(failing, false)
      local ok, err = pcall(function()
        for _ in client.subscribers:each { list = 1 } do end
      end)
      assert.is_false(ok)
      assert.is_true(errors.is_error(err))
      assert.equal("LIST_NOT_FOUND", err.code)
    end)

    it("raises a usage error for a missing list", function()
      local client = fake_client(subscriber_server(3), false)
      local ok, err = pcall(function()
        for _ in client.subscribers:each {} do end
      end)
      assert.is_false(ok)
      assert.equal("LIST_MISSING", err.code)
    end)

    it("checks its own arguments", function()
      local client = fake_client(subscriber_server(3))
      for _, bad in ipairs {
        "x", { list = 1, subscriber = "a@b.c" }, { list = 1, page_size = 0 }, { list = 1, page_size = 1.5 },
        { list = 1, page_size = 10, limit = 10 }, { list = 1, start = -1 },
      } do
        local ok, err = pcall(client.subscribers.each, client.subscribers, bad)
        assert.is_false(ok)
        assert.is_true(errors.is_error(err))
        assert.equal("usage", err.kind)
      end
    end)
  end)

  describe("subscribers:page", function()
    it("returns one page as an array", function()
      local client = fake_client(subscriber_server(2500))
      local page = client.subscribers:page { list = 1, start = 2000 }
      assert.equal(500, #page)
      assert.equal("uid2001", page[1].UID)
      page = client.subscribers:page { list = 1, limit = 10 }
      assert.equal(10, #page)
      assert.same({}, client.subscribers:page { list = 1, start = 3000 })
    end)

    it("returns nil, err in non-raising mode", function()
      local client = fake_client(function()
        return nil, errors.new { kind = "transport", code = "TIMEOUT" }
      end, false)
      local page, err = client.subscribers:page { list = 1 }
      assert.is_nil(page)
      assert.equal("TIMEOUT", err.code)
    end)
  end)
end)
