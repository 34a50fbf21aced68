-- One documented shape per resource method (egoi.resources.shapes), over REST and XML-RPC
-- against the sandbox: empty collections are {}, extra fields have one shape wherever they
-- come from, "no tags"/"no segments"/"no forms" are empty lists, and client:call keeps the
-- wire shape.
local server = require "helpers.server"
local egoi = require "egoi"
local shapes = require "egoi.resources.shapes"

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function client_for(sb, protocol, opts)
  local o = { apikey = KEY, protocol = protocol, rate_limit = false, retries = 0,
    url = sb:url(protocol == "xmlrpc" and "/v2/xmlrpc.php" or "/v2/rest.php") }
  for k, v in pairs(opts or {}) do o[k] = v end
  return egoi.new(o)
end

local function strip_dates(v)
  if type(v) ~= "table" then return v end
  local o = {}
  for k, x in pairs(v) do
    if not (type(k) == "string" and (k:match("DATE") or k == "data_criacao")) then o[k] = strip_dates(x) end
  end
  return o
end

-- every shape the spec checks, from one fresh account
local function scenario(c)
  local out, raw = {}, {}
  local list = c.lists:create{ name = "Shapes", language = "en" }.LIST_ID
  local bare = c:call("createList", { nome = "No forms", idioma_lista = "en", no_forms = 1 }).LIST_ID
  -- empty
  out.fields0 = c.fields:all{ listID = list }
  raw.fields0 = c:call("getExtraFields", { listID = list }).extra_fields
  out.lists0 = c.lists:all{ listID = list }[1].extra_fields
  raw.lists0 = c:call("getLists", { listID = list })[1].extra_fields
  out.tags0 = c.tags:all()
  raw.tags0 = select(2, pcall(c.call, c, "getTags", {})).code
  out.segments0 = c.segments:all{ listID = list }
  raw.segments0 = select(2, pcall(c.call, c, "getSegments", { listID = list })).code
  out.forms0 = c.forms:all{ listID = bare }
  out.subs0 = c.subscribers:get{ listID = list, subscriber = "all_subscribers" }
  raw.subs0 = c:call("subscriberData", { listID = list, subscriber = "all_subscribers" }).subscriber
  out.page0 = c.subscribers:page{ listID = list }
  out.campaigns0 = c.campaigns:all()
  -- one item, then two
  local f1 = c.fields:add{ listID = list, name = "city", type = "texto" }.NEW_ID
  out.fields1 = c.fields:all{ listID = list }
  local f2 = c.fields:add{ listID = list, name = "zip", type = "texto" }.NEW_ID
  out.fields2 = c.fields:all{ listID = list }
  out.lists2 = c.lists:all{ listID = list }[1].extra_fields
  out.ids = { f1, f2 }
  local uid = c.subscribers:add{ listID = list, email = "ana@example.org", ["extra_" .. f1] = "Porto",
    status = 1 }.UID
  out.added = c.subscribers:add{ listID = list, email = "rui@example.org", status = 1 }
  out.one = c.subscribers:get{ listID = list, subscriber = uid }.subscriber
  out.all = c.subscribers:get{ listID = list, subscriber = "all_subscribers" }.subscriber
  out.page = c.subscribers:page{ listID = list, page_size = 1 }
  local each = {}
  for s in c.subscribers:each{ listID = list } do each[#each + 1] = s end
  out.each = each
  c.tags:add{ name = "vip" }
  out.tags1 = c.tags:all()
  c.segments:create{ listID = list, name = "porto", fields = { email = "ana" } }
  out.segments1 = c.segments:all{ listID = list }
  out.senders = c.senders:all()
  out.uid = uid
  return out, raw
end

describe("resource method shapes", function()
  local sbs, results = {}, {}

  setup(function()
    for _, protocol in ipairs{ "rest", "xmlrpc" } do
      sbs[protocol] = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --seed 3 --rate-limit 0" }
      local c = client_for(sbs[protocol], protocol)
      local out, raw = scenario(c)
      results[protocol] = { out = out, raw = raw }
      c:close()
    end
  end)
  teardown(function()
    for _, sb in pairs(sbs) do sb:stop() end
  end)

  for _, protocol in ipairs{ "rest", "xmlrpc" } do
    describe("over " .. protocol, function()
      local function out() return results[protocol].out end
      local function raw() return results[protocol].raw end

      it("keeps the wire shape in client:call", function()
        assert.equal("0", raw().fields0)
        assert.equal("", raw().lists0)
        assert.equal("NO_TAGS_FOUND", raw().tags0)
        assert.equal("NO_SEGMENTS_FOUND", raw().segments0)
        assert.equal("", raw().subs0)
      end)

      it("gives empty collections as empty tables", function()
        local o = out()
        assert.same({}, o.fields0)
        assert.same({}, o.lists0)
        assert.same({}, o.tags0)
        assert.same({}, o.segments0)
        assert.same({}, o.forms0)
        assert.same({ subscriber = {} }, o.subs0)
        assert.same({}, o.page0)
        assert.same({}, o.campaigns0)
      end)

      it("gives extra fields one shape, from getExtraFields and from getLists", function()
        local o = out()
        local f1, f2 = tostring(o.ids[1]), tostring(o.ids[2])
        local city = { id = f1, name = "city", type = "texto", options = {}, field = "extra_" .. f1 }
        local zip = { id = f2, name = "zip", type = "texto", options = {}, field = "extra_" .. f2 }
        assert.same({ city }, o.fields1) -- one field: still an array
        assert.same({ city, zip }, o.fields2)
        -- getLists' fields: the same keys (and the list they belong to)
        assert.equal(2, #o.lists2)
        for i, want in ipairs{ city, zip } do
          for k, v in pairs(want) do assert.same(v, o.lists2[i][k]) end
        end
      end)

      it("gives subscriber records as sent, with TAGS as an array", function()
        local o = out()
        local f1 = tostring(o.ids[1])
        assert.equal("Porto", o.one["EXTRA_FIELD_" .. f1])
        assert.same({}, o.one.TAGS)
        assert.is_string(o.added.UID)
        assert.equal(2, #o.all)
        assert.equal("Porto", o.all[1]["EXTRA_FIELD_" .. f1])
        assert.same({}, o.all[2].TAGS)
        assert.equal(1, #o.page) -- a page of one: still an array
        assert.equal(o.all[1].EMAIL, o.page[1].EMAIL)
        assert.equal(2, #o.each)
      end)

      it("unwraps tags and segments into arrays of records", function()
        local o = out()
        assert.equal(1, #o.tags1)
        assert.equal("vip", o.tags1[1].NAME)
        assert.is_string(o.tags1[1].ID)
        assert.equal(1, #o.segments1)
        assert.equal("porto", o.segments1[1].NAME)
        assert.is_true(#o.senders >= 1)
        assert.is_string(o.senders[1].FROMID)
      end)
    end)
  end

  it("is the same over REST and XML-RPC", function()
    local r, x = strip_dates(results.rest.out), strip_dates(results.xmlrpc.out)
    r.uid, x.uid = nil, nil
    for _, k in ipairs{ "one", "added" } do r[k].UID, x[k].UID = nil, nil end
    for _, k in ipairs{ "all", "page", "each" } do
      for _, s in ipairs(r[k]) do s.UID = nil end
      for _, s in ipairs(x[k]) do s.UID = nil end
    end
    assert.same(r, x)
  end)

  it("turns 'none' into {} with raise = false too, and keeps real errors", function()
    local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0" }
    local c = client_for(sb, "rest", { raise = false })
    local tags, err = c.tags:all()
    assert.same({}, tags)
    assert.is_nil(err)
    local res
    res, err = c.fields:all{ listID = 987 }
    assert.is_nil(res)
    assert.equal("LIST_NOT_FOUND", err.code)
    c:close()
    c = client_for(sb, "rest")
    local ok, e = pcall(c.segments.all, c.segments, { listID = 987 })
    assert.is_false(ok)
    assert.equal("LIST_NOT_FOUND", e.code)
    c:close()
    sb:stop()
  end)
end)

describe("shape helpers", function()
  it("list: every empty spelling is {}, a lone record is a list of one, key_<n> maps in order", function()
    for _, v in ipairs{ "", "0", false, 0, {} } do assert.same({}, shapes.list(v)) end
    assert.same({}, shapes.list(nil))
    assert.same({ { UID = "a" } }, shapes.list({ UID = "a" }))
    assert.same({ "x", "y", "z" }, shapes.list({ key_10 = "z", key_2 = "y", key_1 = "x" }))
    assert.same({ "5" }, shapes.list("5"))
  end)

  it("fields: ids from key_<id>, also when ids 0..n-1 were folded into an array", function()
    local shaped = shapes.SHAPES.fields({ extra_fields = { { NAME = "a" }, { NAME = "b" } } })
    assert.same({ "0", "1" }, { shaped[1].id, shaped[2].id })
    shaped = shapes.SHAPES.fields({ extra_fields = { key_9 = { NAME = "z" }, key_3 = { NAME = "c" } } })
    assert.same({ "3", "9" }, { shaped[1].id, shaped[2].id })
    assert.same({ "c", "z" }, { shaped[1].name, shaped[2].name })
    assert.same({}, shapes.SHAPES.fields({ extra_fields = "0" }))
    assert.same({}, shapes.SHAPES.fields({}))
  end)

  it("field: the id from the record or its key_<id>, numbers as text", function()
    assert.same({ id = "7", name = "nif", type = nil, options = {}, field = "extra_7", listnum = "3" },
      shapes.field({ ref = "nif", listnum = "3", opcoes = "" }, "key_7"))
    assert.same({ id = "4", name = "age", type = "numero", options = { "a" }, field = "extra_4" },
      shapes.field({ ID = 4, NAME = "age", TYPE = "numero", OPTIONS = { key_0 = "a" } }))
  end)
end)
