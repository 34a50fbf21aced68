local methods = require("egoi.methods")
local errors = require("egoi.errors")

local RESOURCES = {
  account = true, lists = true, fields = true, subscribers = true, tags = true, senders = true,
  segments = true, campaigns = true, send = true, reports = true, forms = true, callbacks = true,
  automations = true, queue = true,
}

-- camelCase wire name -> snake_case ("createCampaignSMS" -> "create_campaign_sms")
local function snake(name)
  local s = name:gsub("(%u+)(%u%l)", "%1_%2"):gsub("(%l)(%u)", "%1_%2")
  return s:lower()
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

describe("egoi.methods", function()
  describe("catalogue", function()
    it("has at least the 57 wrapper methods plus addSegment", function()
      assert.is_true(#methods.list >= 58, "only " .. #methods.list)
      for _, name in ipairs { "checklogin", "getExtraFields", "addSegment", "subscriberData", "sendSMS",
        "createCampaignFAX", "getOperationsQueue", "editApiCallback", "addCname" } do
        assert.is_table(methods.lookup(name), name)
      end
      assert.equal("checklogin", methods.lookup("checklogin").name)
      assert.equal("getExtraFields", methods.lookup("getExtraFields").name)
    end)

    it("has well-formed entries", function()
      for _, e in ipairs(methods.list) do
        local what = tostring(e.name)
        assert.is_string(e.name, what)
        assert.truthy(e.name:match("^%l%w*$"), what)
        assert.is_true(RESOURCES[e.resource] == true, what .. " resource " .. tostring(e.resource))
        assert.is_table(e.names, what)
        assert.is_true(#e.names >= 1, what)
        for _, n in ipairs(e.names) do
          assert.truthy(n:match("^[a-z][a-z0-9_]*$"), what .. " name " .. n)
        end
        local full = e.name == "checklogin" and "check_login" or snake(e.name)
        assert.equal(full, e.names[1], what)
        assert.is_boolean(e.read_only, what)
        assert.is_string(e.doc, what)
        assert.is_nil(e.doc:find("\n"), what)
        assert.is_nil(e.doc:find("|", 1, true), what)
        assert.is_table(e.required, what)
        for _, r in ipairs(e.required) do
          assert.is_string(r.code, what)
          assert.is_table(errors.catalogue[r.code], what .. " code " .. r.code)
          if r.any then
            assert.is_true(#r.any >= 2, what)
            for _, w in ipairs(r.any) do assert.is_string(w, what) end
          else
            assert.is_string(r[1], what)
          end
        end
        assert.is_table(e.aliases, what)
        for alias, wire in pairs(e.aliases) do
          assert.is_string(alias, what)
          assert.is_string(wire, what)
          assert.are_not.equal(alias, wire, what)
          assert.is_nil(e.aliases[wire], what .. ": alias target is itself an alias")
        end
        assert.is_table(e.error_paths, what)
        for _, p in ipairs(e.error_paths) do assert.is_string(p, what) end
        assert.is_table(e.ok_scalars, what)
        for k, v in pairs(e.ok_scalars) do
          assert.is_string(k, what)
          assert.is_true(v, what)
          assert.is_false(errors.is_api_code(k), what)
        end
      end
    end)

    it("has unique wire names (also case-insensitively)", function()
      local seen = {}
      for _, e in ipairs(methods.list) do
        assert.is_nil(seen[e.name:lower()], e.name)
        seen[e.name:lower()] = true
      end
    end)

    it("has unique Lua names per resource", function()
      local seen = {}
      for _, e in ipairs(methods.list) do
        seen[e.resource] = seen[e.resource] or {}
        for _, n in ipairs(e.names) do
          assert.is_nil(seen[e.resource][n], e.resource .. "." .. n)
          seen[e.resource][n] = e.name
        end
      end
      assert.equal("createList", seen.lists.create)
      assert.equal("getLists", seen.lists.all)
      assert.equal("subscriberData", seen.subscribers.get)
      assert.equal("addSubscriberBulk", seen.subscribers.add_bulk)
      assert.equal("sendSMS", seen.send.sms)
      assert.equal("createCampaignEmail", seen.campaigns.create_email)
      assert.equal("getReport", seen.reports.get)
      assert.equal("attachTag", seen.tags.attach)
    end)

    it("marks read-only methods", function()
      for _, name in ipairs { "checklogin", "getLists", "subscriberData", "getReport", "getClientData" } do
        assert.is_true(methods.lookup(name).read_only, name)
      end
      for _, name in ipairs { "createList", "addSubscriber", "removeSubscriber", "sendEmail", "sendSMS",
        "deleteCampaign", "editApiCallback", "startAutobot", "generateAdvancedReport" } do
        assert.is_false(methods.lookup(name).read_only, name)
      end
      for _, e in ipairs(methods.list) do
        if e.name:match("^get") and e.name ~= "getAdvancedReport" then
          assert.is_true(e.read_only, e.name)
        end
        if e.name:match("^send") or e.name:match("^delete") or e.name:match("^create") then
          assert.is_false(e.read_only, e.name)
        end
      end
    end)

    it("records nested error paths and success scalars", function()
      assert.same({ "subscriber" }, methods.lookup("subscriberData").error_paths)
      assert.is_true(methods.lookup("removeSubscriber").ok_scalars.OK)
    end)
  end)

  describe("lookup", function()
    it("is case-insensitive", function()
      assert.equal(methods.lookup("checklogin"), methods.lookup("checkLogin"))
      assert.equal("checklogin", methods.lookup("CHECKLOGIN").name)
      assert.equal("getExtraFields", methods.lookup("getextrafields").name)
      assert.is_nil(methods.lookup("noSuchMethod"))
      assert.is_nil(methods.lookup(nil))
      assert.is_nil(methods.lookup(42))
    end)
  end)

  describe("is_read_only", function()
    it("uses the flag, and a name rule for unknown methods", function()
      assert.is_true(methods.is_read_only("getLists"))
      assert.is_true(methods.is_read_only("checkLogin"))
      assert.is_false(methods.is_read_only("addSubscriber"))
      assert.is_true(methods.is_read_only("getSomethingNew"))
      assert.is_true(methods.is_read_only("check_status"))
      assert.is_false(methods.is_read_only("doSomethingNew"))
      assert.is_false(methods.is_read_only(nil))
    end)
  end)

  describe("prepare", function()
    local createList = methods.lookup("createList")

    it("translates aliases into a new table", function()
      local args = { name = "News", language = "en", email_channel = 1, sms_channel = 0, fax_channel = 0,
        voice_channel = 0, mms_channel = 0 }
      local before = copy(args)
      local out = assert(methods.prepare(createList, args))
      assert.same({ nome = "News", idioma_lista = "en", canal_email = 1, canal_sms = 0, canal_fax = 0,
        canal_voz = 0, canal_mms = 0 }, out)
      assert.are_not.equal(args, out)
      assert.same(before, args)
      -- names outside a documented argument list are refused (spec/boundary_spec.lua); a method
      -- whose arguments are undocumented keeps them
      assert.same({ listID = 2, extra = "kept" },
        methods.prepare(methods.lookup("createSegment"), { list = 2, extra = "kept" }))
    end)

    it("accepts wire names directly", function()
      local out = assert(methods.prepare(createList, { nome = "N", idioma_lista = "pt" }))
      assert.same({ nome = "N", idioma_lista = "pt" }, out)
    end)

    it("maps list and list_id to listID", function()
      local e = methods.lookup("getExtraFields")
      assert.same({ listID = 3 }, methods.prepare(e, { list = 3 }))
      assert.same({ listID = 3 }, methods.prepare(e, { list_id = 3 }))
      assert.same({ listID = 3 }, methods.prepare(e, { listID = 3 }))
      for _, entry in ipairs(methods.list) do
        for _, r in ipairs(entry.required) do
          if r[1] == "listID" then
            assert.equal("listID", entry.aliases.list, entry.name)
            assert.equal("listID", entry.aliases.list_id, entry.name)
          end
        end
      end
    end)

    it("refuses an alias together with its wire name", function()
      local out, err = methods.prepare(createList, { name = "a", nome = "b", idioma_lista = "en" })
      assert.is_nil(out)
      assert.is_true(errors.is_error(err))
      assert.equal("usage", err.kind)
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.truthy(err.message:find("'name'", 1, true))
      assert.truthy(err.message:find("'nome'", 1, true))
      out, err = methods.prepare(methods.lookup("getForms"), { list = 1, list_id = 1 })
      assert.is_nil(out)
      assert.truthy(err.message:find("'list'", 1, true))
      assert.truthy(err.message:find("'list_id'", 1, true))
    end)

    it("reports a missing required argument with the vendor code", function()
      local out, err = methods.prepare(createList, { language = "en" })
      assert.is_nil(out)
      assert.equal("usage", err.kind)
      assert.equal("NAME_MISSING", err.code)
      assert.equal("createList", err.method)
      assert.equal("createList: missing argument 'nome' (alias 'name')", err.message)

      out, err = methods.prepare(methods.lookup("subscriberData"), { listID = 1, subscriber = "" })
      assert.is_nil(out)
      assert.equal("SUBSCRIBER_MISSING", err.code)

      out, err = methods.prepare(methods.lookup("subscriberData"), { subscriber = "x" })
      assert.is_nil(out)
      assert.equal("LIST_MISSING", err.code)
      assert.equal("subscriberData: missing argument 'listID' (alias 'list' or 'list_id')", err.message)

      out, err = methods.prepare(methods.lookup("addSubscriberBulk"), { listID = 1, subscribers = {},
        compareField = "email" })
      assert.is_nil(out)
      assert.equal("NO_SUBSCRIBERS", err.code)

      out, err = methods.prepare(methods.lookup("getReport"), nil)
      assert.is_nil(out)
      assert.equal("NO_CAMPAIGN", err.code)
    end)

    it("handles alternative groups", function()
      local add = methods.lookup("addSubscriber")
      assert.truthy(methods.prepare(add, { list = 1, email = "a@b.c" }))
      assert.truthy(methods.prepare(add, { list = 1, cellphone = "351-912345678" }))
      local out, err = methods.prepare(add, { list = 1, first_name = "A" })
      assert.is_nil(out)
      assert.equal("EMAIL_REQUIRED", err.code)
      assert.equal("addSubscriber: missing argument 'email' or 'cellphone'", err.message)
    end)

    it("requires nothing for methods with unknown arguments", function()
      assert.same({}, methods.prepare(methods.lookup("getOperationsQueue")))
      assert.same({}, methods.prepare(methods.lookup("checklogin"), {}))
    end)

    it("refuses apikey in the arguments", function()
      for _, k in ipairs { "apikey", "APIKEY", "apiKey" } do
        local out, err = methods.prepare(methods.lookup("getLists"), { [k] = "0123456789abcdef" })
        assert.is_nil(out)
        assert.equal("usage", err.kind)
        assert.equal("INVALID_ARGUMENT", err.code)
        assert.is_nil(tostring(err):find("0123456789abcdef", 1, true))
      end
    end)

    it("refuses non-table args and non-string keys", function()
      for _, bad in ipairs { "x", 1, true, function() end } do
        local out, err = methods.prepare(createList, bad)
        assert.is_nil(out)
        assert.equal("INVALID_ARGUMENT", err.code)
        assert.truthy(err.message:find("'args'", 1, true))
      end
      local out, err = methods.prepare(createList, { "positional" })
      assert.is_nil(out)
      assert.equal("INVALID_ARGUMENT", err.code)
    end)

    it("does not mutate the arguments or nested tables", function()
      local subs = { { email = "a@b.c" } }
      local args = { list = 7, subscribers = subs, compare_field = "email" }
      local out = assert(methods.prepare(methods.lookup("addSubscriberBulk"), args))
      assert.same({ listID = 7, subscribers = { { email = "a@b.c" } }, compareField = "email" }, out)
      assert.same({ list = 7, subscribers = { { email = "a@b.c" } }, compare_field = "email" }, args)
    end)

    it("accepts a wire name instead of an entry", function()
      assert.same({ listID = 2 }, methods.prepare("getlists", { list = 2 }))
      local out, err = methods.prepare("noSuchMethod", {})
      assert.is_nil(out)
      assert.equal("usage", err.kind)
    end)
  end)

  describe("markdown_table", function()
    it("has a header and one row per method", function()
      local md = methods.markdown_table()
      local rows = 0
      for line in md:gmatch("[^\n]+") do
        if line:sub(1, 1) == "|" then
          rows = rows + 1
          assert.truthy(line:match("^|.*|$"), line)
        end
      end
      assert.equal(#methods.list + 2, rows)
      assert.truthy(md:find("| `lists` | `create_list`, `create` | `createList` | `nome`, `idioma_lista` | no |",
        1, true))
      assert.truthy(md:find("`email` or `cellphone`", 1, true))
      assert.truthy(md:find("`createList`: ", 1, true))
      assert.truthy(md:find("`name` → `nome`", 1, true))
    end)
  end)
end)
