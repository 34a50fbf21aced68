-- Specs of bin/egoi-sandbox, driven over real loopback HTTP (see doc/SANDBOX.md).
local server = require "helpers.server"
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require("cjson").new()

local KEY = "0123456789abcdef0123456789abcdef01234567"
local KEY2 = "fedcba9876543210fedcba9876543210fedcba98"
local BIN = "bin/egoi-sandbox"

local function start(args)
  return server.start{ cmd = BIN .. " --port {port} " .. (args or "") }
end

-- PHP-style flattening (sorted keys, sequences as [0]..[n-1])
local function esc(s)
  return (tostring(s):gsub("[^%w%-_%.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end
local function flatten(prefix, v, out)
  if type(v) == "table" then
    if v[1] ~= nil then
      for i, x in ipairs(v) do flatten(prefix .. "[" .. (i - 1) .. "]", x, out) end
    else
      local ks = {}
      for k in pairs(v) do ks[#ks + 1] = k end
      table.sort(ks)
      for _, k in ipairs(ks) do flatten(prefix .. "[" .. k .. "]", v[k], out) end
    end
  else
    out[#out + 1] = prefix .. "=" .. esc(v)
  end
  return out
end
local function encode(method, opts)
  local parts = { "method=" .. esc(method), "type=json" }
  flatten("functionOptions", opts, parts)
  return table.concat(parts, "&")
end

local function request(s, method, path, body, headers)
  local chunks = {}
  headers = headers or {}
  if body then
    headers["Content-Type"] = headers["Content-Type"] or "application/x-www-form-urlencoded"
    headers["Content-Length"] = tostring(#body)
  end
  local _, code, h = http.request{
    url = s:url(path), method = method, headers = headers, sink = ltn12.sink.table(chunks),
    source = body and ltn12.source.string(body) or nil,
  }
  return code, table.concat(chunks), h
end

-- call(s, method, opts[, apikey]) -> result table (inside the envelope), raw, http code, headers
local function call(s, method, opts, apikey)
  opts = opts or {}
  if apikey ~= false then opts.apikey = opts.apikey or apikey or KEY end
  local code, raw, h = request(s, "POST", "/v2/rest.php", encode(method, opts))
  local ok, doc = pcall(cjson.decode, raw)
  local res = ok and type(doc) == "table" and doc.Egoi_Api and doc.Egoi_Api[method]
  return res, raw, code, h
end

-- raw TCP exchange; returns everything read until close or timeout (bounded)
local function raw_exchange(port, data, wait)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(wait or 2)
  assert(c:send(data))
  local parts = {}
  for _ = 1, 1000 do
    local chunk, err, partial = c:receive(4096)
    if chunk then parts[#parts + 1] = chunk
    else
      if partial and #partial > 0 then parts[#parts + 1] = partial end
      if err then break end
    end
  end
  c:close()
  return table.concat(parts)
end

describe("egoi-sandbox", function()
  local S
  setup(function() S = start("--quiet --rate-limit 0 --apikey " .. KEY .. "," .. KEY2) end)
  teardown(function() S:stop() end)

  describe("REST envelope", function()
    it("answers createList with the exact envelope, strings everywhere", function()
      local _, raw, code, h = call(S, "createList", { nome = "Envelope", idioma_lista = "pt" })
      assert.equal(200, code)
      assert.truthy(h["content-type"]:find("application/json", 1, true))
      assert.truthy(raw:match('^{"Egoi_Api":{"createList":{"LIST_ID":"%d+","status":"success"}}}$'), raw)
    end)

    it("writes lists as key_N objects and scalars as strings", function()
      local res, raw = call(S, "getLists", {})
      assert.truthy(raw:find('"key_0":{', 1, true))
      assert.equal("success", res.status)
      assert.is_string(res.key_0.listnum)
      assert.is_string(res.key_0.subs_total)
      assert.equal("pt", res.key_0.idioma)
    end)

    it("returns a scalar as response and INVALID for a bad key on getClientData/getUserData/getLists", function()
      for _, m in ipairs({ "getClientData", "getUserData", "getLists" }) do
        local _, raw = call(S, m, {}, "0000000000000000000000000000000000000000")
        assert.equal('{"Egoi_Api":{"' .. m .. '":{"response":"INVALID","status":"success"}}}', raw)
      end
    end)

    it("answers NO_APIKEY without a key and NO_ACCESS for a bad key elsewhere", function()
      local res = call(S, "getTags", { plugin_key = "x" }, false)
      assert.equal("NO_APIKEY", res.ERROR)
      res = call(S, "getTags", {}, "0000000000000000000000000000000000000000")
      assert.equal("NO_ACCESS", res.ERROR)
      assert.equal("success", res.status)
    end)

    it("fails unknown methods with 404 and missing functionOptions with 400", function()
      local code, raw = request(S, "POST", "/v2/rest.php",
        "method=noSuchMethod&type=json&functionOptions[apikey]=" .. KEY)
      assert.equal(404, code)
      local doc = cjson.decode(raw)
      assert.equal("failed", doc.Egoi_Api.noSuchMethod.status)
      code, raw = request(S, "POST", "/v2/rest.php", "method=getLists&type=json")
      assert.equal(400, code)
      assert.equal("failed", cjson.decode(raw).Egoi_Api.getLists.status)
    end)

    it("answers XML when type is not json", function()
      local code, raw = request(S, "GET", "/v2/rest.php?method=getCredits&functionOptions[apikey]=" .. KEY)
      assert.equal(200, code)
      assert.truthy(raw:find("<Egoi_Api", 1, true))
      assert.truthy(raw:find("<status>success</status>", 1, true))
    end)
  end)

  describe("request encodings", function()
    it("accepts a GET built like PHP http_build_query (%5B%5D, + for spaces)", function()
      local q = "method=createList&type=json&functionOptions%5Bapikey%5D=" .. KEY
        .. "&functionOptions%5Bnome%5D=Two+Words&functionOptions%5Bidioma_lista%5D=en"
      local code, raw = request(S, "GET", "/v2/rest.php?" .. q)
      assert.equal(200, code)
      local id = cjson.decode(raw).Egoi_Api.createList.LIST_ID
      local res = call(S, "getLists", { listID = id })
      assert.equal("Two Words", res.key_0.title)
      assert.equal("en", res.key_0.idioma)
    end)

    it("accepts raw brackets, unencoded values and a trailing &", function()
      local body = "method=createList&type=json&functionOptions[apikey]=" .. KEY
        .. "&functionOptions[nome]=Raw list&functionOptions[idioma_lista]=pt&"
      local code, raw = request(S, "POST", "/v2/rest.php", body)
      assert.equal(200, code)
      local id = cjson.decode(raw).Egoi_Api.createList.LIST_ID
      assert.equal("Raw list", call(S, "getLists", { listID = id }).key_0.title)
    end)

    it("merges query string and body (body wins)", function()
      local code, raw = request(S, "POST", "/v2/rest.php?type=json&method=createList&functionOptions[nome]=Query",
        "functionOptions[apikey]=" .. KEY .. "&functionOptions[nome]=Body")
      assert.equal(200, code)
      local id = cjson.decode(raw).Egoi_Api.createList.LIST_ID
      assert.equal("Body", call(S, "getLists", { listID = id }).key_0.title)
    end)

    it("matches method names and option names case-insensitively", function()
      local a = call(S, "checklogin", {})
      local b = call(S, "checkLogin", {})
      assert.equal("1", a.APIKEY_VALID)
      assert.equal("1", b.APIKEY_VALID)
      local res = call(S, "getlists", { APIKEY = KEY })
      assert.equal("success", res.status)
      assert.truthy(res.key_0)
    end)

    it("handles a[]= appends and nested brackets", function()
      local lid = call(S, "createList", { nome = "Tags" }).LIST_ID
      local t1 = call(S, "addTag", { name = "alpha" }).ID
      local t2 = call(S, "addTag", { name = "beta", color = "#FF0000" }).ID
      local body = "method=addSubscriber&type=json&functionOptions[apikey]=" .. KEY .. "&functionOptions[listID]="
        .. lid .. "&functionOptions[email]=tags%2Bx%40example.com&functionOptions[tags][]=" .. t1
        .. "&functionOptions[tags][]=" .. t2
      local _, raw = request(S, "POST", "/v2/rest.php", body)
      local r = cjson.decode(raw).Egoi_Api.addSubscriber
      assert.equal("tags+x@example.com", r.EMAIL)
      assert.same({ key_0 = t1, key_1 = t2 }, r.TAGS)
    end)
  end)

  describe("subscribers", function()
    local lid, fid
    setup(function()
      lid = call(S, "createList", { nome = "Subs" }).LIST_ID
      fid = call(S, "addExtraField", { listID = lid, name = "city", type = "texto" }).NEW_ID
    end)

    it("adds, reads, edits and removes", function()
      local r = call(S, "addSubscriber", { listID = lid, email = "ana@example.com", first_name = "Ana",
                                           cellphone = "351-912345678", ["extra_" .. fid] = "Porto" })
      assert.is_string(r.UID)
      assert.equal("1", r.STATUS)
      local d = call(S, "subscriberData", { listID = lid, subscriber = "ana@example.com" }).subscriber
      assert.equal(r.UID, d.UID)
      assert.equal("Porto", d["EXTRA_FIELD_" .. fid])
      assert.equal(lid, d.LIST)
      local e = call(S, "editSubscriber", { listID = lid, subscriber = r.UID, last_name = "Silva" })
      assert.equal("Silva", e.LAST_NAME)
      local x, raw = call(S, "removeSubscriber", { listID = lid, subscriber = r.UID, removeMethod = "API" })
      assert.equal("OK", x.response, raw)
      d = call(S, "subscriberData", { listID = lid, subscriber = r.UID }).subscriber
      assert.equal("2", d.STATUS)
      assert.equal("API", d.REMOVE_METHOD)
      assert.is_string(d.REMOVE_DATE)
    end)

    it("pages all_subscribers with start/limit", function()
      for i = 1, 3 do call(S, "addSubscriber", { listID = lid, email = "p" .. i .. "@example.com" }) end
      local all = call(S, "subscriberData", { listID = lid, subscriber = "all_subscribers" }).subscriber
      assert.truthy(all.key_3)
      local page = call(S, "subscriberData", { listID = lid, subscriber = "all_subscribers", start = 1, limit = 2 })
      assert.truthy(page.subscriber.key_1)
      assert.is_nil(page.subscriber.key_2)
      assert.equal(all.key_1.UID, page.subscriber.key_0.UID)
    end)

    it("nests LIST_MISSING under subscriber for a missing list", function()
      local res = call(S, "subscriberData", { listID = "99999", subscriber = "all_subscribers" })
      assert.equal("LIST_MISSING", res.subscriber.ERROR)
    end)

    it("bulk-imports with compareField and operation 1/2", function()
      local res = call(S, "addSubscriberBulk", { listID = lid, compareField = "email", operation = "1",
        subscribers = { { email = "b1@example.com", first_name = "B1" },
                        { email = "p1@example.com", first_name = "X" } } })
      assert.same({ "1", "0", "1" }, { res.ADDED, res.UPDATED, res.IGNORED })
      res = call(S, "addSubscriberBulk", { listID = lid, compareField = "email", operation = "2", status = "4",
        subscribers = { { email = "b2@example.com" }, { email = "p1@example.com", first_name = "Changed" } } })
      assert.same({ "1", "1", "0" }, { res.ADDED, res.UPDATED, res.IGNORED })
      local d = call(S, "subscriberData", { listID = lid, subscriber = "b2@example.com" }).subscriber
      assert.equal("4", d.STATUS)
      d = call(S, "subscriberData", { listID = lid, subscriber = "p1@example.com" }).subscriber
      assert.equal("Changed", d.FIRST_NAME)
    end)

    it("lists extra fields keyed by id, and \"0\" when none", function()
      local res, raw = call(S, "getExtraFields", { listID = lid })
      assert.equal("city", res.extra_fields["key_" .. fid].NAME)
      assert.truthy(raw:find('"key_' .. fid .. '"', 1, true))
      local other = call(S, "createList", { nome = "No fields" }).LIST_ID
      assert.equal("0", call(S, "getExtraFields", { listID = other }).extra_fields)
    end)

    it("attaches and detaches tags", function()
      local tag = call(S, "addTag", { name = "vip" }).ID
      local uid = call(S, "addSubscriber", { listID = lid, email = "vip@example.com" }).UID
      local at = call(S, "attachTag", { listID = lid, tag = tag, target = { uid }, type = "subscriber" })
      assert.equal("OK", at.RESULT)
      local d = call(S, "subscriberData", { listID = lid, subscriber = uid }).subscriber
      assert.equal(tag, d.TAGS.key_0)
      call(S, "detachTag", { listID = lid, tag = tag, target = { uid }, type = "subscriber" })
      d = call(S, "subscriberData", { listID = lid, subscriber = uid }).subscriber
      assert.equal("", d.TAGS)
      local tags = call(S, "getTags", {}).TAG_LIST
      assert.truthy(tags.key_0.NAME and tags.key_0.COLOR and tags.key_0.ID)
    end)
  end)

  describe("campaigns and reports", function()
    it("creates, sends and reports growing numbers", function()
      local lid = call(S, "createList", { nome = "Camp" }).LIST_ID
      for i = 1, 20 do call(S, "addSubscriber", { listID = lid, email = "c" .. i .. "@example.com" }) end
      local senders = call(S, "getSenders", { channel = "email" })
      local from = senders.key_0.FROMID
      local hash = call(S, "createCampaignEmail", { listID = lid, subject = "Hello", fromID = from,
                                                    url = "http://example.com/news.html" }).ID
      assert.is_string(hash)
      local c = call(S, "getCampaigns", { listID = lid }).key_0
      assert.equal(hash, c.HASH)
      assert.equal("email", c.CHANNEL)
      assert.equal("0000-00-00 00:00:00", c.START)
      assert.equal(hash, call(S, "sendEmail", { campaign = hash, listID = lid, segment = "ALL" }).ID)
      local prev = -1
      local last
      for _ = 1, 12 do
        last = call(S, "getReport", { campaign = hash })
        assert.equal("20", last.SENT)
        assert.is_true(tonumber(last.DELIVERED) >= prev)
        prev = tonumber(last.DELIVERED)
      end
      assert.is_true(tonumber(last.DELIVERED) > 0)
      assert.is_true(tonumber(last.UNIQUE_VIEWS) > 0)
      assert.equal("finished", call(S, "getCampaigns", { listID = lid }).key_0.STATUS)
      assert.equal("CANNOT_EDIT_CAMPAIGN", call(S, "editCampaignEmail", { campaign = hash, subject = "x" }).ERROR)
    end)

    it("sends SMS ad hoc and by campaign", function()
      local lid = call(S, "createList", { nome = "SMS", canal_sms = "1" }).LIST_ID
      call(S, "addSubscriber", { listID = lid, email = "m@example.com", cellphone = "351-911111111" })
      local from = call(S, "getSenders", { channel = "telemovel" }).key_0.FROMID
      local h = call(S, "createCampaignSMS", { listID = lid, subject = "s", fromID = from, message = "hi" }).ID
      assert.equal(h, call(S, "sendSMS", { campaign = h, listID = lid, segment = "ALL" }).ID)
      local adhoc = call(S, "sendSMS", { listID = lid, fromID = from, message = "code 1234",
                                         cellphone = "351-912222222", subject = "otp" })
      assert.is_string(adhoc.ID)
    end)
  end)

  describe("every method answers", function()
    local names = {
      "checklogin", "getUserData", "getClientData", "getCredits", "getLists", "createList", "updateList",
      "deleteList", "getExtraFields", "addExtraField", "editExtraField", "deleteExtraField", "addSubscriber",
      "addSubscriberBulk", "editSubscriber", "removeSubscriber", "subscriberData", "getSubscriberActivity",
      "getTags", "addTag", "deleteTag", "attachTag", "detachTag", "getSenders", "addSender", "editSender",
      "deleteSender", "addCname", "getSegments", "createSegment", "createSegmentAdvanced", "deleteSegment",
      "addSegment", "getCampaigns", "createCampaignEmail", "editCampaignEmail", "createCampaignSMS",
      "editCampaignSMS", "createCampaignFAX", "createCampaignVoice", "deleteCampaign", "createCampaignGroup",
      "editCampaignGroup", "getHeaderFooterTemplates", "getTemplates", "sendEmail", "sendSMS", "sendFAX",
      "sendCall", "getReport", "generateAdvancedReport", "getAdvancedReport", "getForms", "getFormsSubmissions",
      "getAutobots", "startAutobot", "editApiCallback", "getOperationsQueue",
    }
    it("with status success and HTTP 200 (" .. #names .. " methods)", function()
      local lid = call(S, "createList", { nome = "All methods" }).LIST_ID
      for _, m in ipairs(names) do
        local res, raw, code = call(S, m, { listID = lid, name = "n-" .. m, subject = "s" })
        assert.equal(200, code, m .. ": " .. raw)
        assert.equal("success", res and res.status, m .. ": " .. raw)
      end
    end)

    it("works for the documented happy paths of the thin methods", function()
      local lid = call(S, "createList", { nome = "Thin" }).LIST_ID
      call(S, "addSubscriber", { listID = lid, email = "seg@example.com", first_name = "Zed" })
      local seg = call(S, "createSegment", { listID = lid, name = "Zeds", fields = { first_name = "zed" } }).ID
      assert.equal("Zeds", call(S, "getSegments", { listID = lid }).key_0.segment.NAME)
      local all = call(S, "subscriberData", { listID = lid, subscriber = "all_subscribers", segment = seg })
      assert.equal("seg@example.com", all.subscriber.key_0.EMAIL)
      assert.equal("1", call(S, "getForms", { listID = lid }).key_0.default)
      assert.is_string(call(S, "addSender", { channel = "email", sender = "new@example.com" }).FROMID)
      assert.equal("OK", call(S, "updateList", { listID = lid, name = "Thin 2" }).RESULT)
      assert.equal("Thin 2", call(S, "getLists", { listID = lid }).key_0.title)
      assert.is_string(call(S, "getCredits", {}).CREDITS)
      assert.is_string(call(S, "getUserData", {}).USER_ID)
      assert.equal("OK", call(S, "deleteList", { listID = lid }).RESULT)
    end)
  end)

  -- Business errors: one row per code; doc/SANDBOX.md holds the same table.
  -- Values starting with $ are fixture ids; $NEW is a fresh e-mail address.
  describe("business errors", function()
    local T
    local fx = {}
    local fresh = 0
    setup(function()
      T = start("--quiet --rate-limit 0 --max-lists 1 --max-subscribers 1 --bulk-limit 300 --file-limit 1k"
        .. " --fail-method getCredits")
      fx.L = call(S, "createList", { nome = "Errors" }).LIST_ID
      fx.F = call(S, "addExtraField", { listID = fx.L, name = "city" }).NEW_ID
      local five = "telephone,fax,birth_date,first_name,last_name"
      fx.LU = call(S, "createList", { nome = "Unique", unique_fields = five })
        .LIST_ID
      fx.LR = call(S, "createList", { nome = "Required",
                                      required_fields = "first_name,last_name,telephone,fax,birth_date" })
        .LIST_ID
      fx.LS = call(S, "createList", { nome = "SMS only", canal_email = "0", canal_sms = "1" }).LIST_ID
      fx.L2 = call(S, "createList", { nome = "Other account" }, KEY2).LIST_ID
      fx.S1 = call(S, "addSubscriber", { listID = fx.L, email = "s1@example.com" }).UID
      fx.R1 = call(S, "addSubscriber", { listID = fx.L, email = "r1@example.com" }).UID
      call(S, "removeSubscriber", { listID = fx.L, subscriber = fx.R1 })
      call(S, "addSubscriber", { listID = fx.LU, email = "u@example.com", telephone = "351-210000000",
        fax = "351-220000000", birth_date = "1990-01-01", first_name = "Uni", last_name = "Que" })
      local url = "http://example.com/n.html"
      fx.CE = call(S, "createCampaignEmail", { listID = fx.L, subject = "E", fromID = "1", url = url }).ID
      fx.CR = call(S, "createCampaignEmail", { listID = fx.L, subject = "R", fromID = "1", url = url,
                                               recurring = "1" }).ID
      fx.CD = call(S, "createCampaignEmail", { listID = fx.L, subject = "D", fromID = "1", url = url }).ID
      call(S, "deleteCampaign", { campaign = fx.CD })
      fx.CX = call(S, "createCampaignEmail", { listID = fx.L, subject = "X", fromID = "1", url = url }).ID
      call(S, "sendEmail", { campaign = fx.CX, listID = fx.L })
      fx.CF = call(S, "createCampaignFAX", { listID = fx.L, subject = "F", fax_file = "http://example.com/f.pdf" }).ID
      fx.CV = call(S, "createCampaignVoice", { listID = fx.L, subject = "V",
                                               audio_file = "http://example.com/v.mp3" }).ID
      fx.T = call(S, "addTag", { name = "errors-tag" }).ID
      fx.TL = call(T, "createList", { nome = "Tight" }).LIST_ID
      call(T, "addSubscriber", { listID = fx.TL, email = "only@example.com" })
    end)
    teardown(function() T:stop() end)

    local LONG = ("x"):rep(161)
    local BIGZIP = ("UEsDBA"):rep(300)
    -- ROWS: code, method, options, server, how (how = the text in doc/SANDBOX.md)
    -- luacheck: push ignore 631
    local rows = {
      { "NO_APIKEY", "getTags", { apikey = "", plugin_key = "x" }, nil, "any method without `apikey`" },
      { "NO_ACCESS", "getExtraFields", { listID = "$L2" }, nil, "a list of another account (or a bad key on most methods)" },
      { "INVALID", "getClientData", { apikey = "0000000000000000000000000000000000000000" }, nil, "unknown key on getClientData/getUserData/getLists (scalar `response`)" },
      { "NO_USERNAME_AND_PASSWORD_AND_APIKEY", "checklogin", { apikey = "", plugin_key = "x" }, nil, "checklogin with no username, password or apikey" },
      { "NO_USERNAME", "checklogin", { password = "x" }, nil, "checklogin with `password` only" },
      { "NO_PASSWORD", "checklogin", { username = "sandbox" }, nil, "checklogin with `username` only" },
      { "NO_USERNAME_AND_PASSWORD", "checklogin", { username = "", password = "" }, nil, "checklogin with empty `username` and `password`" },
      { "LIST_MISSING", "addSubscriber", { email = "$NEW" }, nil, "a list method without `listID`" },
      { "LIST_NOT_FOUND", "getExtraFields", { listID = "99999" }, nil, "a list method with an unknown `listID`" },
      { "LISTID_MISSING", "deleteList", {}, nil, "deleteList/updateList without `listID`" },
      { "LIST_NOT_EXISTS", "deleteList", { listID = "99999" }, nil, "deleteList/updateList with an unknown `listID`" },
      { "NAME_MISSING", "createList", { idioma_lista = "pt" }, nil, "createList without `nome` (also addTag/addCname/createCampaignGroup without a name)" },
      { "NO_MORE_LISTS_ALLOWED", "createList", { nome = "one too many" }, "T", "createList when the account has `--max-lists` lists" },
      { "FIELD_NAME_MISSING", "addExtraField", { listID = "$L" }, nil, "addExtraField without `name`" },
      { "INVALID_TYPE", "addExtraField", { listID = "$L", name = "n", type = "bogus" }, nil, "addExtraField with a `type` other than texto, numero, data, email, telefone, telemovel, lista, opcoes, checkbox, url; attachTag with `type` other than subscriber" },
      { "EXTRA_FIELD_XX_ALREADY_EXISTS", "addExtraField", { listID = "$L", name = "City" }, nil, "addExtraField with a name the list already has (case-insensitive; the code is sent literally)" },
      { "FIELD_NOT_FOUND", "deleteExtraField", { listID = "$L", field = "99999" }, nil, "edit/deleteExtraField with an unknown `field` (or `id`)" },
      { "INVALID_EXTRA_FIELD", "addSubscriber", { listID = "$L", email = "$NEW", extra_99999 = "x" }, nil, "`extra_<id>` not a field of the list, or a value not matching its type (numero, email, data)" },
      { "NO_DATA_TO_INSERT", "editSubscriber", { listID = "$L", subscriber = "$S1" }, nil, "editSubscriber that changes nothing; addSubscriber with no field at all" },
      { "EMAIL_REQUIRED", "addSubscriber", { listID = "$L", first_name = "x" }, nil, "addSubscriber without email and cellphone on an e-mail list (or `required_fields` has email)" },
      { "NO_CELLPHONE_OR_TELEPHONE", "addSubscriber", { listID = "$LS", first_name = "x" }, nil, "the same on a list with `canal_email=0`; sendSMS ad hoc without `cellphone`" },
      { "FIRST_NAME_REQUIRED", "addSubscriber", { listID = "$LR", email = "$NEW" }, nil, "list created with `required_fields` containing first_name, value missing" },
      { "LAST_NAME_REQUIRED", "addSubscriber", { listID = "$LR", email = "$NEW", first_name = "a" }, nil, "`required_fields` containing last_name" },
      { "TELEPHONE_REQUIRED", "sendCall", { campaign = "$CV", listID = "$L" }, nil, "sendCall without `telephone` or `segment`; `required_fields` containing telephone" },
      { "FAX_REQUIRED", "sendFAX", { campaign = "$CF", listID = "$L" }, nil, "sendFAX without `fax` or `segment`; `required_fields` containing fax" },
      { "BIRTH_DATE_REQUIRED", "addSubscriber", { listID = "$LR", email = "$NEW", first_name = "a", last_name = "b", telephone = "351-1", fax = "351-2" }, nil, "`required_fields` containing birth_date" },
      { "EMAIL_ALREADY_EXISTS", "addSubscriber", { listID = "$L", email = "S1@example.com" }, nil, "addSubscriber with an e-mail already in the list (any status, case-insensitive)" },
      { "TELEPHONE_ALREADY_EXISTS", "addSubscriber", { listID = "$LU", email = "$NEW", telephone = "351-210000000" }, nil, "list created with `unique_fields` containing telephone; value already used" },
      { "FAX_ALREADY_EXISTS", "addSubscriber", { listID = "$LU", email = "$NEW", fax = "351-220000000" }, nil, "`unique_fields` containing fax" },
      { "BIRTH_DATE_ALREADY_EXISTS", "addSubscriber", { listID = "$LU", email = "$NEW", birth_date = "01-01-1990" }, nil, "`unique_fields` containing birth_date (DD-MM-YYYY is accepted too)" },
      { "FIST_NAME_ALREADY_EXISTS", "addSubscriber", { listID = "$LU", email = "$NEW", first_name = "uni" }, nil, "`unique_fields` containing first_name (vendor spelling)" },
      { "LAST_NAME_ALREADY_EXISTS", "addSubscriber", { listID = "$LU", email = "$NEW", last_name = "Que" }, nil, "`unique_fields` containing last_name" },
      { "EMAIL_ADDRESS_INVALID", "addSubscriber", { listID = "$L", email = "not-an-email" }, nil, "e-mail with a syntax error" },
      { "EMAIL_ADDRESS_INVALID_MX_ERROR", "addSubscriber", { listID = "$L", email = "a@nomx.invalid" }, nil, "e-mail whose domain ends in `.invalid`" },
      { "EMAIL_ADDRESS_INVALID_DOESNT_EXIST", "addSubscriber", { listID = "$L", email = "nonexistent@example.com" }, nil, "e-mail whose local part is `nonexistent`" },
      { "SUBSCRIBER_FORMAT_ERROR", "addSubscriber", { listID = "$L", email = "$NEW", cellphone = "12345" }, nil, "cellphone/telephone/fax not `<cc>-<number>`, bad birth_date, status not 0-4" },
      { "CANNOT_ADD_MORE_SUBSCRIBERS", "addSubscriber", { listID = "$TL", email = "$NEW" }, "T", "the account has `--max-subscribers` non-removed subscribers (also addSubscriberBulk)" },
      { "SUBSCRIBER_MISSING", "removeSubscriber", { listID = "$L" }, nil, "edit/removeSubscriber, subscriberData without `subscriber`" },
      { "SUBSCRIBER_NOT_FOUND", "subscriberData", { listID = "$L", subscriber = "nobody@example.com" }, nil, "unknown UID/e-mail; a send to an unknown explicit target" },
      { "SUBSCRIBER_ALREADY_REMOVED", "removeSubscriber", { listID = "$L", subscriber = "$R1" }, nil, "removeSubscriber of a removed subscriber" },
      { "SUBSCRIBER_DATA_CANNOT_BE_EDITED", "editSubscriber", { listID = "$L", subscriber = "$R1", first_name = "x" }, nil, "editSubscriber of a removed subscriber (allowed only when it sets `status` 0/1/3/4)" },
      { "NO_SUBSCRIBERS", "addSubscriberBulk", { listID = "$L", compareField = "email" }, nil, "addSubscriberBulk without `subscribers`" },
      { "NO_COMPARE_FIELD", "addSubscriberBulk", { listID = "$L", subscribers = { { email = "b@example.com" } } }, nil, "addSubscriberBulk without `compareField` (email, cellphone, telephone or uid)" },
      { "MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED", "addSubscriberBulk", { listID = "$TL", compareField = "email", subscribers = { { email = ("z"):rep(300) .. "@example.com" } } }, "T", "addSubscriberBulk request larger than `--bulk-limit` (default 50M)" },
      { "NO_SEARCH_FIELDS", "createSegment", { listID = "$L", name = "n" }, nil, "createSegment without `fields` (map field -> text contained)" },
      { "SEGMENT_NAME_MISSING", "createSegment", { listID = "$L", fields = { email = "x" } }, nil, "createSegment without `name`" },
      { "SEGMENT_NOT_FOUND", "deleteSegment", { listID = "$L", segment = "99999" }, nil, "unknown segment id (deleteSegment, subscriberData, send*)" },
      { "NO_SEGMENTS_FOUND", "getSegments", { listID = "$L" }, nil, "getSegments on a list without segments" },
      { "NO_TAGS_FOUND", "getTags", {}, "T", "getTags on an account without tags" },
      { "TAG_ALREADY_EXISTS", "addTag", { name = "ERRORS-TAG" }, nil, "addTag with an existing name" },
      { "NO_TAG_ID", "deleteTag", {}, nil, "deleteTag/attachTag/detachTag without `tag`" },
      { "TAG_NOT_FOUND", "deleteTag", { tag = "99999" }, nil, "unknown tag id" },
      { "NO_TARGET_ELEMENTS", "attachTag", { listID = "$L", tag = "$T" }, nil, "attachTag/detachTag without `target`" },
      { "CHANNEL_MISSING", "addSender", { sender = "x@example.com" }, nil, "addSender without `channel`" },
      { "SENDER_EXISTS", "addSender", { channel = "telemovel", sender = "Sandbox" }, nil, "addSender with an existing sender on that channel" },
      { "SENDER_MISSING", "addSender", { channel = "email" }, nil, "addSender without `sender`; edit/deleteSender with unknown `fromID`" },
      { "FORM_MISSING", "getFormsSubmissions", { listID = "$L" }, nil, "getFormsSubmissions without `form`" },
      { "FORMS_NOT_FOUND", "getFormsSubmissions", { listID = "$L", form = "99999" }, nil, "unknown form; getForms on a list created with `no_forms=1`" },
      { "NO_CAMPAIGN", "getReport", {}, nil, "campaign methods without `campaign`" },
      { "CAMPAIGN_NOT_FOUND", "getReport", { campaign = "nosuchhash" }, nil, "unknown campaign hash" },
      { "ALREADY_DELETED", "deleteCampaign", { campaign = "$CD" }, nil, "deleteCampaign twice" },
      { "CANNOT_BE_DELETED", "deleteCampaign", { campaign = "$CR" }, nil, "deleteCampaign of a campaign created with `recurring=1` (periodic)" },
      { "CANNOT_EDIT_CAMPAIGN", "editCampaignEmail", { campaign = "$CX", subject = "x" }, nil, "editCampaign* once the campaign was sent (status not draft)" },
      { "CAMPAIGN_NOT_VALID", "sendSMS", { campaign = "$CE", listID = "$L" }, nil, "send*/editCampaign* with a campaign of another channel, or a deleted one" },
      { "CANNOT_SEND_CAMPAIGN", "sendEmail", { campaign = "$CE", listID = "$L", uid = "$R1" }, nil, "send to an explicit target that is removed or lacks the channel field" },
      { "NO_SUBJECT", "createCampaignEmail", { listID = "$L", fromID = "1", url = "http://example.com/" }, nil, "createCampaign* without `subject`" },
      { "INVALID_FROM", "createCampaignEmail", { listID = "$L", subject = "s", fromID = "99999", url = "http://example.com/" }, nil, "unknown `fromID` or one of the wrong channel (also send*)" },
      { "NO_MESSAGE", "createCampaignSMS", { listID = "$L", subject = "s", fromID = "2" }, nil, "createCampaignSMS/sendSMS without `message`; createCampaignEmail without url/message/zip" },
      { "MESSAGE_TOO_LONG", "createCampaignSMS", { listID = "$L", subject = "s", fromID = "2", message = LONG }, nil, "SMS message over 160 characters" },
      { "INVALID_URL", "createCampaignEmail", { listID = "$L", subject = "s", fromID = "1", url = "http://host.invalid/" }, nil, "`url` not http(s) or on a `.invalid` host; editApiCallback with a non-http:// URL" },
      { "NO_ZIP_FILE", "createCampaignEmail", { listID = "$L", subject = "s", fromID = "1", zip = "" }, nil, "createCampaignEmail with an empty `zip`" },
      { "INVALID_FILE", "createCampaignEmail", { listID = "$L", subject = "s", fromID = "1", zip = "bm90IGEgemlw" }, nil, "`zip` not base64 of a ZIP (PK header); fax/audio file not PDF/TIFF/MP3/WAV" },
      { "FILE_TOO_LARGE", "createCampaignEmail", { listID = "$TL", subject = "s", fromID = "1", zip = BIGZIP }, "T", "file larger than `--file-limit` (default 8M)" },
      { "NO_FAX_FILE", "createCampaignFAX", { listID = "$L", subject = "s" }, nil, "createCampaignFAX without `fax_file`" },
      { "NO_AUDIO_FILE", "createCampaignVoice", { listID = "$L", subject = "s" }, nil, "createCampaignVoice without `audio_file`" },
      { "NO_TEMPLATE_PROVIDED", "generateAdvancedReport", {}, nil, "generateAdvancedReport without `template`" },
      { "TEMPLATE_NOT_FOUND", "generateAdvancedReport", { template = "1" }, nil, "template other than 3 (see getTemplates)" },
      { "NO_LISTS_OR_CAMPAIGNS_PROVIDED", "generateAdvancedReport", { template = "3" }, nil, "neither `lists` nor `campaigns`" },
      { "NO_LISTS_PROVIDED_AS_ARRAY", "generateAdvancedReport", { template = "3", lists = "1" }, nil, "`lists` given as a scalar" },
      { "NO_CAMPAIGNS_PROVIDED_AS_ARRAY", "generateAdvancedReport", { template = "3", campaigns = "x" }, nil, "`campaigns` given as a scalar" },
      { "INVALID_CAMPAIGN_ID_PROVIDED_IN_ARRAY", "generateAdvancedReport", { template = "3", campaigns = { "nosuch" } }, nil, "unknown hash in `campaigns`" },
      { "CANT_GENERATE_ADVANCED_REPORT", "generateAdvancedReport", { template = "3", lists = { "99999" } }, nil, "unknown list in `lists`" },
      { "NO_DATA", "getAdvancedReport", { report = "99999" }, nil, "getAdvancedReport with an unknown `report`" },
      { "INTERNAL_ERROR", "getCredits", {}, "T", "a handler crash (HTTP 500); force one with `--fail-method NAME`" },
    }
    -- luacheck: pop

    local function resolve(opts)
      local out = {}
      for k, v in pairs(opts) do
        if type(v) == "table" then out[k] = resolve(v)
        elseif v == "$NEW" then fresh = fresh + 1; out[k] = "fresh" .. fresh .. "@example.com"
        elseif type(v) == "string" and v:sub(1, 1) == "$" then out[k] = assert(fx[v:sub(2)], v)
        else out[k] = v end
      end
      return out
    end

    for _, row in ipairs(rows) do
      it(row[1] .. " (" .. row[2] .. ")", function()
        local srv = row[4] == "T" and T or S
        local opts = resolve(row[3])
        local key = opts.apikey
        opts.apikey = nil
        if key == "" then key = false end
        local res, raw, code = call(srv, row[2], opts, key)
        assert.is_table(res, raw)
        assert.equal("success", res.status, raw)
        local got = res.ERROR or res.response
        assert.equal(row[1], got, raw)
        assert.equal(row[1] == "INTERNAL_ERROR" and 500 or 200, code)
      end)
    end

    -- The same situations through the module: each comes back as an
    -- egoi.Error of kind "api" with the vendor's code.
    for _, row in ipairs(rows) do
      if row[3].apikey ~= "" then -- the client refuses an empty key before any I/O
        it(row[1] .. " through the egoi module", function()
          local egoi = require "egoi"
          local srv = row[4] == "T" and T or S
          local opts = resolve(row[3])
          local key = opts.apikey or KEY
          opts.apikey = nil
          local c = egoi.new{ apikey = key, url = srv:url("/v2/rest.php"), rate_limit = false, retries = 0,
            raise = false }
          local res, err = c:call(row[2], opts)
          c:close()
          assert.is_nil(res)
          assert.is_true(egoi.is_error(err))
          assert.equal(row[1], err.code, tostring(err))
          assert.equal("api", err.kind)
          assert.not_matches(key, tostring(err), 1, true)
        end)
      end
    end

    it("covers every code of the vendor's error table", function()
      local seed = { "CANNOT_BE_DELETED", "ALREADY_DELETED", "CAMPAIGN_NOT_FOUND", "CANNOT_EDIT_CAMPAIGN",
        "CAMPAIGN_NOT_VALID", "BIRTH_DATE_ALREADY_EXISTS", "LIST_NOT_FOUND", "MESSAGE_TOO_LONG", "INVALID_FILE",
        "NO_ACCESS", "BIRTH_DATE_REQUIRED", "LIST_MISSING", "NO_MORE_LISTS_ALLOWED", "NO_MESSAGE", "NO_PASSWORD",
        "SUBSCRIBER_MISSING", "FIELD_NAME_MISSING", "SEGMENT_NAME_MISSING", "NO_SUBSCRIBERS", "NO_COMPARE_FIELD",
        "NO_ZIP_FILE", "NO_SUBJECT", "INVALID_FROM", "FAX_REQUIRED", "NO_FAX_FILE", "NO_AUDIO_FILE", "NO_USERNAME",
        "NO_USERNAME_AND_PASSWORD", "NO_CELLPHONE_OR_TELEPHONE", "FIRST_NAME_REQUIRED", "TELEPHONE_REQUIRED",
        "EMAIL_REQUIRED", "NO_CAMPAIGN", "LAST_NAME_REQUIRED", "NO_SEARCH_FIELDS", "CANNOT_ADD_MORE_SUBSCRIBERS",
        "MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED", "SUBSCRIBER_DATA_CANNOT_BE_EDITED", "NO_SEGMENTS_FOUND",
        "INVALID_URL", "NO_DATA_TO_INSERT", "FILE_TOO_LARGE", "FIELD_NOT_FOUND", "EXTRA_FIELD_XX_ALREADY_EXISTS",
        "INVALID_EXTRA_FIELD", "FAX_ALREADY_EXISTS", "INVALID", "FIST_NAME_ALREADY_EXISTS", "SEGMENT_NOT_FOUND",
        "LAST_NAME_ALREADY_EXISTS", "SUBSCRIBER_ALREADY_REMOVED", "SUBSCRIBER_NOT_FOUND", "SUBSCRIBER_FORMAT_ERROR",
        "TELEPHONE_ALREADY_EXISTS", "INVALID_TYPE", "EMAIL_ALREADY_EXISTS", "EMAIL_ADDRESS_INVALID_DOESNT_EXIST",
        "EMAIL_ADDRESS_INVALID", "EMAIL_ADDRESS_INVALID_MX_ERROR", "CANNOT_SEND_CAMPAIGN", "INTERNAL_ERROR" }
      local have = {}
      for _, row in ipairs(rows) do have[row[1]] = true end
      for _, code in ipairs(seed) do assert.is_true(have[code] == true, code) end
    end)
  end)

  describe("HTTP layer", function()
    it("serves two requests on one keep-alive connection", function()
      local body = encode("getCredits", { apikey = KEY })
      local req = ("POST /v2/rest.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        .. "Content-Length: %d\r\n\r\n%s"):format(#body, body)
      local c = assert(socket.connect("127.0.0.1", S.port))
      c:settimeout(3)
      local function one()
        assert(c:send(req))
        local status = assert(c:receive("*l"))
        local len
        for _ = 1, 50 do
          local line = assert(c:receive("*l"))
          if line == "" then break end
          len = len or tonumber(line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)"))
        end
        return status, assert(c:receive(len))
      end
      local s1, b1 = one()
      local s2, b2 = one()
      c:close()
      assert.equal("HTTP/1.1 200 OK", s1)
      assert.equal("HTTP/1.1 200 OK", s2)
      assert.truthy(b1:find("CREDITS", 1, true))
      assert.equal(b1, b2)
    end)

    it("answers Expect: 100-continue and reads chunked bodies", function()
      local body = encode("getCredits", { apikey = KEY })
      local out = raw_exchange(S.port, ("POST /v2/rest.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        .. "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body))
      assert.truthy(out:find("^HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"), out)
      local half = math.floor(#body / 2)
      out = raw_exchange(S.port, ("POST /v2/rest.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        .. "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n"):format(
        half, body:sub(1, half), #body - half, body:sub(half + 1)))
      assert.truthy(out:find("^HTTP/1.1 200 OK"), out)
      assert.truthy(out:find("CREDITS", 1, true))
    end)

    it("refuses garbage and keeps serving", function()
      local code, raw = request(S, "POST", "/v2/rest.php", "method=getLists&type=json&functionOptions[apikey]=%zz")
      assert.equal(400, code)
      assert.truthy(raw:find('"status":"failed"', 1, true))
      code = request(S, "POST", "/v2/rest.php", "method=getLists&type=json&a" .. ("[x]"):rep(1000) .. "=1")
      assert.equal(400, code)
      local out = raw_exchange(S.port, "HELLO THERE\r\n\r\n")
      assert.truthy(out:find("^HTTP/1.1 400"), out)
      out = raw_exchange(S.port, "\0\1\2 garbage\r\n\r\n")
      assert.truthy(out:find("^HTTP/1.1 400"), out)
      assert.equal("success", call(S, "getCredits", {}).status)
    end)

    it("answers 413 for a body over --max-body", function()
      local small = start("--quiet --max-body 1000")
      local code = request(small, "POST", "/v2/rest.php", encode("getLists", { apikey = KEY, pad = ("p"):rep(2000) }))
      local ok_after = call(small, "getCredits", {})
      small:stop()
      assert.equal(413, code)
      assert.equal("success", ok_after.status)
    end)
  end)

  describe("rate limit", function()
    for _, mode in ipairs({ "429", "403", "200" }) do
      it("mode " .. mode .. ": the 6th call of 5/2 is refused, then the window frees", function()
        local s = start("--quiet --rate-limit 5/2 --over-limit " .. mode)
        local ok, err = pcall(function()
          local lid = call(s, "createList", { nome = "rl" }).LIST_ID
          for _ = 1, 4 do assert.equal("success", call(s, "getCredits", {}).status) end
          local res, _, code, h = call(s, "createList", { nome = "refused" })
          assert.equal(tonumber(mode), code)
          assert.equal("NO_ACCESS", res.ERROR)
          if mode ~= "200" then
            local ra = tonumber(h["retry-after"])
            assert.is_true(ra >= 1 and ra <= 2)
          else
            assert.is_nil(h["retry-after"])
          end
          socket.sleep(2.1)
          local lists = call(s, "getLists", {})
          assert.equal(lid, lists.key_0.listnum)
          assert.is_nil(lists.key_1) -- the refused createList was not executed
        end)
        s:stop()
        assert(ok, err)
      end)
    end
  end)

  describe("state file", function()
    local path = os.tmpname()
    after_each(function() os.remove(path); os.remove(path .. ".tmp") end)

    it("survives SIGTERM and a restart", function()
      os.remove(path)
      local s = start("--quiet --state " .. path)
      local lid = call(s, "createList", { nome = "Persistent" }).LIST_ID
      local uid = call(s, "addSubscriber", { listID = lid, email = "keep@example.com" }).UID
      s:stop()
      s = start("--quiet --state " .. path)
      local d = call(s, "subscriberData", { listID = lid, subscriber = "keep@example.com" })
      local lists = call(s, "getLists", {})
      s:stop()
      assert.equal(uid, d.subscriber.UID)
      assert.equal("Persistent", lists.key_0.title)
    end)

    it("refuses a corrupt state file with exit code 2", function()
      local f = assert(io.open(path, "w"))
      f:write("{ this is not json")
      f:close()
      local log = os.tmpname()
      local ok, _, rc = os.execute(BIN .. " --port 0 --state " .. path .. " >" .. log .. " 2>&1")
      local lf = io.open(log); local text = lf:read("*a"); lf:close(); os.remove(log)
      if type(ok) == "number" then rc = ok / 256 end -- Lua 5.1 / LuaJIT without 5.2 compat
      assert.equal(2, rc)
      assert.truthy(text:find("corrupt", 1, true), text)
      local g = io.open(path); local still = g:read("*a"); g:close()
      assert.equal("{ this is not json", still)
    end)
  end)

  describe("bulk scale (indexes stay consistent)", function()
    local path = os.tmpname()
    after_each(function() os.remove(path); os.remove(path .. ".tmp") end)

    it("imports 20,000 subscribers, finds them by e-mail, pages, counts, removes and re-adds", function()
      local N = 20000
      os.remove(path)
      local s = start("--quiet --rate-limit 0 --max-subscribers " .. (N + 2) .. " --state " .. path)
      local ok, err = pcall(function()
        local lid = call(s, "createList", { nome = "Big", unique_fields = "cellphone" }).LIST_ID
        local function mail(i) return ("u%05d@example.com"):format(i) end
        local function phone(i) return ("351-9%08d"):format(i) end
        local items = {}
        for i = 1, N do items[i] = { email = mail(i), cellphone = phone(i), first_name = "F" .. i } end
        items[#items + 1] = { email = mail(7):upper(), first_name = "dup e-mail" }   -- line N: ignored
        items[#items + 1] = { email = "other@example.com", cellphone = phone(8) }    -- line N + 1
        local res, raw = call(s, "addSubscriberBulk", { listID = lid, compareField = "email", operation = "1",
                                                        subscribers = items })
        assert.equal(tostring(N), res.ADDED, raw:sub(1, 300))
        assert.same({ "0", "2", tostring(N + 2) }, { res.UPDATED, res.IGNORED, res.TOTAL })
        assert.same({ LINE = tostring(N + 1), ERROR = "TELEPHONE_ALREADY_EXISTS" }, res.ERRORS.key_0)
        assert.is_nil(res.ERRORS.key_1)

        local function data(key) -- the record, or the result carrying ERROR
          local got = call(s, "subscriberData", { listID = lid, subscriber = key })
          return got.subscriber or got
        end
        local function add(o) o.listID = o.listID or lid; return call(s, "addSubscriber", o) end
        local function remove(key) return call(s, "removeSubscriber", { listID = lid, subscriber = key }) end
        local uids = {}
        for _, i in ipairs({ 1, 2, 7, 9999, N }) do
          local d = data(i % 2 == 0 and mail(i):upper() or mail(i))
          assert.equal(mail(i), d.EMAIL)
          assert.equal("F" .. i, d.FIRST_NAME)
          assert.equal(d.UID, data(d.UID).UID)
          uids[i] = d.UID
        end
        assert.equal("SUBSCRIBER_NOT_FOUND", data("nobody@example.com").ERROR)

        -- paging builds the requested slice, in insertion order
        local function slice(from, limit)
          return call(s, "subscriberData", { listID = lid, subscriber = "all_subscribers", start = from,
                                             limit = limit }).subscriber
        end
        local page = slice(N - 3, 10)
        assert.same({ mail(N - 2), mail(N - 1), mail(N) }, { page.key_0.EMAIL, page.key_1.EMAIL, page.key_2.EMAIL })
        assert.is_nil(page.key_3)
        page = slice(1, 2)
        assert.same({ uids[2], mail(3) }, { page.key_0.UID, page.key_1.EMAIL })
        assert.is_nil(page.key_2)
        assert.equal(tostring(N), call(s, "getLists", { listID = lid }).key_0.subs_total)

        -- e-mail (any case) and the unique cellphone clash with the imported records
        assert.equal("EMAIL_ALREADY_EXISTS", add({ email = mail(5):upper() }).ERROR)
        assert.equal("TELEPHONE_ALREADY_EXISTS",
                     add({ email = "new@example.com", cellphone = phone(5) }).ERROR)
        assert.equal("TELEPHONE_ALREADY_EXISTS",
                     call(s, "editSubscriber", { listID = lid, subscriber = uids[1], cellphone = phone(2) }).ERROR)
        assert.equal("EMAIL_ALREADY_EXISTS",
                     call(s, "editSubscriber", { listID = lid, subscriber = uids[1], email = mail(2) }).ERROR)

        -- an e-mail change moves the record in the index; a cellphone change frees the old value
        local e = call(s, "editSubscriber", { listID = lid, subscriber = mail(1), email = "Renamed@Example.com",
                                              cellphone = "351-900000000" })
        assert.equal(uids[1], e.UID)
        assert.equal("SUBSCRIBER_NOT_FOUND", data(mail(1)).ERROR)
        assert.equal(uids[1], data("renamed@example.com").UID)
        -- the same record keeps its own values (no clash with itself)
        assert.equal(uids[1], call(s, "editSubscriber", { listID = lid, subscriber = uids[1],
                                                          email = "renamed@example.com", last_name = "L" }).UID)

        -- capacity: N used, N + 2 allowed
        local a = add({ email = mail(1), cellphone = phone(1) })
        assert.is_string(a.UID)
        local other = call(s, "createList", { nome = "Other" }).LIST_ID
        local b = add({ listID = other, email = "b@example.com" })
        assert.is_string(b.UID)
        assert.equal("CANNOT_ADD_MORE_SUBSCRIBERS", add({ email = "c@example.com" }).ERROR)
        assert.equal("CANNOT_ADD_MORE_SUBSCRIBERS", call(s, "addSubscriberBulk", { listID = lid, compareField = "email",
          subscribers = { { email = "c@example.com" } } }).ERROR)
        -- deleting a list frees its subscribers
        assert.equal("OK", call(s, "deleteList", { listID = other }).RESULT)
        assert.is_string(add({ email = "c@example.com" }).UID)
        assert.equal("CANNOT_ADD_MORE_SUBSCRIBERS", add({ email = "d@example.com" }).ERROR)
        -- removal frees a place; the removed e-mail still exists (any status)
        assert.equal("OK", remove(mail(N)).response)
        assert.equal("SUBSCRIBER_ALREADY_REMOVED", remove(uids[N]).ERROR)
        assert.equal("EMAIL_ALREADY_EXISTS", add({ email = mail(N) }).ERROR)
        assert.is_string(add({ email = "d@example.com" }).UID)
        assert.equal("CANNOT_ADD_MORE_SUBSCRIBERS", add({ email = "e@example.com" }).ERROR)
        -- re-activating a removed subscriber counts it again
        assert.equal("1", call(s, "editSubscriber", { listID = lid, subscriber = uids[N], status = "1" }).STATUS)
        assert.equal("OK", remove("d@example.com").response)
        assert.equal("CANNOT_ADD_MORE_SUBSCRIBERS", add({ email = "e@example.com" }).ERROR)

        -- bulk update found by cellphone, changing the e-mail
        res = call(s, "addSubscriberBulk", { listID = lid, compareField = "cellphone", operation = "2",
          subscribers = { { cellphone = phone(9), email = "nine@example.com" } } })
        assert.same({ "0", "1", "0" }, { res.ADDED, res.UPDATED, res.IGNORED })
        assert.equal("SUBSCRIBER_NOT_FOUND", data(mail(9)).ERROR)
        assert.equal(phone(9), data("NINE@example.com").CELLPHONE)
        s:stop()

        -- after a reload from --state the lookups and the count are rebuilt
        s = start("--quiet --rate-limit 0 --max-subscribers " .. (N + 2) .. " --state " .. path)
        assert.equal(uids[2], data(mail(2)).UID)
        assert.equal(uids[1], data("RENAMED@example.com").UID)
        assert.equal("EMAIL_ALREADY_EXISTS", add({ email = "Nine@example.com" }).ERROR)
        assert.equal("CANNOT_ADD_MORE_SUBSCRIBERS", add({ email = "e@example.com" }).ERROR)
        assert.equal("OK", remove("c@example.com").response)
        assert.is_string(add({ email = "e@example.com" }).UID)
        local f = assert(io.open(path, "rb")); local text = f:read("*a"); f:close()
        assert.falsy(text:find('"active":', 1, true))
      end)
      s:stop()
      assert(ok, err)
    end)
  end)

  describe("callbacks", function()
    it("POSTs addSubscriber / editSubscriber / removeSubscriber forms with XML", function()
      local sinkfile = os.tmpname()
      local sink = server.start{ cmd = "python3 spec/servers/sandbox_callback_sink.py {port} " .. sinkfile }
      local port = sink.port
      local ok, err = pcall(function()
        local lid = call(S, "createList", { nome = "Callbacks" }).LIST_ID
        local fid = call(S, "addExtraField", { listID = lid, name = "city" }).NEW_ID
        local flags = { listID = lid, callback_url = "http://127.0.0.1:" .. port .. "/hook" }
        for i = 1, 16 do flags["notif_api_" .. i] = (i == 9 or i == 10 or i == 14) and "1" or "0" end
        assert.equal("OK", call(S, "editApiCallback", flags).RESULT)
        local uid = call(S, "addSubscriber", { listID = lid, email = "cb@example.com", first_name = "Cé & <b>",
                                               ["extra_" .. fid] = "Lisboa" }).UID
        call(S, "editSubscriber", { listID = lid, subscriber = uid, last_name = "Edited" })
        call(S, "removeSubscriber", { listID = lid, subscriber = uid })
        local lines = {}
        for _ = 1, 100 do
          lines = {}
          local f = io.open(sinkfile)
          if f then for l in f:lines() do lines[#lines + 1] = cjson.decode(l) end f:close() end
          if #lines >= 3 then break end
          socket.sleep(0.05)
        end
        assert.equal(3, #lines)
        local seen = {}
        for _, l in ipairs(lines) do
          assert.equal("/hook", l.path)
          assert.equal("application/x-www-form-urlencoded", l.ctype)
          local name, value = l.body:match("^(%w+)=(.*)$")
          value = value:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
          seen[name] = value
        end
        assert.truthy(seen.addSubscriber:find("<UID>" .. uid .. "</UID>", 1, true))
        assert.truthy(seen.addSubscriber:find("<EMAIL>cb@example.com</EMAIL>", 1, true))
        assert.truthy(seen.addSubscriber:find("<FIRST_NAME>Cé &amp; &lt;b&gt;</FIRST_NAME>", 1, true))
        assert.truthy(seen.addSubscriber:find("<EXTRA_FIELD_" .. fid .. ">Lisboa</EXTRA_FIELD_" .. fid .. ">", 1, true))
        assert.truthy(seen.addSubscriber:find("<LIST>" .. lid .. "</LIST>", 1, true))
        assert.truthy(seen.editSubscriber:find("<LAST_NAME>Edited</LAST_NAME>", 1, true))
        assert.truthy(seen.removeSubscriber:find("<STATUS>2</STATUS>", 1, true))
        assert.truthy(seen.removeSubscriber:match("^<%?xml[^>]*%?>\n<subscriber>"))
      end)
      sink:stop()
      os.remove(sinkfile)
      assert(ok, err)
    end)

    it("does not block the API while a callback receiver hangs", function()
      local hang = assert(socket.bind("127.0.0.1", 0))
      local _, hport = hang:getsockname()
      local s = start("--quiet --callback-timeout 1")
      local ok, err = pcall(function()
        local lid = call(s, "createList", { nome = "Hang" }).LIST_ID
        call(s, "editApiCallback", { listID = lid, callback_url = "http://127.0.0.1:" .. hport .. "/",
                                     notif_api_9 = "1" })
        for i = 1, 3 do
          assert.is_string(call(s, "addSubscriber", { listID = lid, email = "h" .. i .. "@example.com" }).UID)
        end
        assert.equal("success", call(s, "getCredits", {}).status)
      end)
      s:stop()
      hang:close()
      assert(ok, err)
    end)
  end)

  it("logs method, ms, status and code but never the API key", function()
    local s = start("--apikey " .. KEY)
    call(s, "getCredits", {})
    call(s, "getCredits", {}, "1111111111111111111111111111111111111111")
    socket.sleep(0.1)
    local log = s:log()
    s:stop()
    assert.truthy(log:find("egoi%-sandbox listening on http://127%.0%.0%.1:%d+"), log)
    assert.truthy(log:find("getCredits 200 OK %d+ms"), log)
    assert.truthy(log:find("getCredits 200 NO_ACCESS"), log)
    assert.falsy(log:find(KEY, 1, true))
    assert.falsy(log:find("1111111111111111111111111111111111111111", 1, true))
  end)
end)
