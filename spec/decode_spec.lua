-- spec/decode_spec.lua - core.normalize: E-goi REST key_N objects -> arrays.
local core = require "egoi.core"
local cjson = require "cjson"

local function nest(depth)
  local t = { v = "x" }
  for _ = 2, depth do t = { a = t } end
  return t
end

describe("core.normalize", function()
  local normalize = core.normalize

  it("orders key_N numerically (key_10 after key_2)", function()
    local t = {}
    for i = 10, 0, -1 do t["key_" .. i] = "v" .. i end
    local a = normalize(t)
    assert.are.equal(11, #a)
    for i = 1, 11 do assert.are.equal("v" .. (i - 1), a[i]) end
    assert.is_nil(a.key_0)
  end)

  it("handles key_0 .. key_1000 inserted in any order", function()
    local idx = {}
    for i = 0, 1000 do idx[#idx + 1] = i end
    local seed = 42
    for i = #idx, 2, -1 do -- deterministic shuffle (Park-Miller)
      seed = (seed * 16807) % 2147483647
      local j = seed % i + 1
      idx[i], idx[j] = idx[j], idx[i]
    end
    local t = {}
    for _, i in ipairs(idx) do t["key_" .. i] = { UID = tostring(i) } end
    local a = normalize(t)
    assert.are.equal(1001, #a)
    for i = 1, 1001 do assert.are.equal(tostring(i - 1), a[i].UID) end
    local n = 0
    for _ in pairs(a) do n = n + 1 end
    assert.are.equal(1001, n)
  end)

  it("keeps key_<id> maps that are not exactly 0..n-1", function()
    local cases = {
      { key_3 = "a", key_7 = "b" },
      { key_1 = "a", key_2 = "b" },
      { key_0 = "a", key_2 = "b" },
      { key_0 = "a", key_01 = "b" },  -- not canonical
      { key_00 = "a" },
      { key_ = "a" },
      { ["key_-1"] = "a", key_0 = "b" },
      { ["key_1a"] = "a", key_0 = "b" },
      { key_9999999999 = "a" },
      { key_999999999 = "a" },
    }
    for _, c in ipairs(cases) do
      local copy = {}
      for k, v in pairs(c) do copy[k] = v end
      local r = normalize(c)
      assert.are.equal(c, r)
      assert.are.same(copy, r)
    end
  end)

  it("keeps tables with other keys, normalising their values", function()
    local t = { key_0 = "a", key_1 = "b", status = "success", ["Key_2"] = "c" }
    assert.are.equal(t, normalize(t))
    assert.are.equal("a", t.key_0)
    local inner = { key_0 = "x", key_1 = "y" }
    local m = { status = "success", list = inner, [1] = "num", [2] = { key_0 = "z" } }
    local r = normalize(m)
    assert.are.equal(m, r)
    assert.are.same({ "x", "y" }, r.list)
    assert.are.same({ "z" }, r[2])
    assert.are.equal("num", r[1])
  end)

  it("normalises nested levels in place and returns a new table only where shape changed", function()
    local list1 = { key_0 = { ref = "a" }, key_1 = { ref = "b" } }
    local rec = { listnum = "1", extra_fields = list1 }
    local top = { key_0 = rec }
    local r = normalize(top)
    assert.are_not.equal(top, r)
    assert.are.equal(rec, r[1])           -- same table, fixed in place
    assert.are.same({ { ref = "a" }, { ref = "b" } }, rec.extra_fields)
    assert.are.equal(list1.key_0, rec.extra_fields[1])
  end)

  it("returns already normal input unchanged", function()
    local t = { UID = "x", TAGS = { "1", "2" }, nested = { a = { b = "c" } }, n = 5, f = false }
    local r = normalize(t)
    assert.are.equal(t, r)
    assert.are.same({ UID = "x", TAGS = { "1", "2" }, nested = { a = { b = "c" } }, n = 5, f = false }, r)
  end)

  it("leaves empty tables and non-tables alone", function()
    local e = {}
    assert.are.equal(e, normalize(e))
    assert.are.same({ a = {} }, normalize({ a = {} }))
    assert.are.equal("x", normalize("x"))
    assert.are.equal(5, normalize(5))
    assert.is_nil(normalize(nil))
    assert.are.equal(cjson.null, normalize(cjson.null))
    assert.is_false(pcall(normalize))
  end)

  it("keeps cjson.null values", function()
    local r = normalize({ key_0 = cjson.null, key_1 = "x", key_2 = { a = cjson.null } })
    assert.are.equal(3, #r)
    assert.are.equal(cjson.null, r[1])
    assert.are.equal("x", r[2])
    assert.are.equal(cjson.null, r[3].a)
  end)

  it("returns TOO_DEEP past 200 levels (and for cycles)", function()
    local ok = normalize(nest(200))
    assert.is_table(ok)
    local r, code, msg = normalize(nest(201))
    assert.is_nil(r)
    assert.are.equal("TOO_DEEP", code)
    assert.are.equal("response nested deeper than 200 levels", msg)
    local t = {}
    t.key_0 = t
    r, code = normalize(t)
    assert.is_nil(r)
    assert.are.equal("TOO_DEEP", code)
  end)

  it("normalises real E-goi shaped documents decoded by cjson", function()
    local decode = cjson.new().decode
    local doc = decode([[
{"Egoi_Api":{"getLists":{
  "key_0":{"listnum":"3","title":"News","subs_activos":"10","subs_total":"12","idioma":"pt",
           "extra_fields":{"key_0":{"id":"1","ref":"city","opcoes":""},
                           "key_1":{"id":"2","ref":"color","opcoes":{"key_0":{"id":"1","ref":"red"},
                                                                   "key_1":{"id":"2","ref":"blue"}}}}},
  "key_1":{"listnum":"5","title":"Olá","extra_fields":"0"},
  "status":"success"}}}]])
    local res = doc.Egoi_Api.getLists
    res.status = nil
    local lists = normalize(res)
    assert.are.same({
      { listnum = "3", title = "News", subs_activos = "10", subs_total = "12", idioma = "pt",
        extra_fields = { { id = "1", ref = "city", opcoes = "" },
                         { id = "2", ref = "color",
                           opcoes = { { id = "1", ref = "red" }, { id = "2", ref = "blue" } } } } },
      { listnum = "5", title = "Olá", extra_fields = "0" },
    }, lists)

    local sd = decode([[
{"Egoi_Api":{"subscriberData":{"subscriber":{
   "key_0":{"UID":"a1","EMAIL":"a@x.org","STATUS":"1","BIRTH_DATE":null,"TAGS":{"key_0":"4"}},
   "key_1":{"UID":"b2","EMAIL":"b@x.org","STATUS":"2","BIRTH_DATE":"1990-01-01","TAGS":[]}},
 "status":"success"}}}]])
    local body = normalize(sd.Egoi_Api.subscriberData)
    assert.are.equal(sd.Egoi_Api.subscriberData, body)
    assert.are.equal("success", body.status)
    local subs = body.subscriber
    assert.are.equal(2, #subs)
    assert.are.equal("a1", subs[1].UID)
    assert.are.equal(cjson.null, subs[1].BIRTH_DATE)
    assert.are.same({ "4" }, subs[1].TAGS)
    assert.are.same({}, subs[2].TAGS)

    local ef = decode([[{"extra_fields":{"key_3":{"id":"3","ref":"a"},"key_7":{"id":"7","ref":"b"}},
                         "status":"success"}]])
    local r = normalize(ef)
    assert.are.same({ key_3 = { id = "3", ref = "a" }, key_7 = { id = "7", ref = "b" } }, r.extra_fields)
  end)

  it("normalises a 100k-record subscriberData answer", function()
    local N = 100000
    local parts = {}
    for i = 0, N - 1 do
      parts[#parts + 1] = ([["key_%d":{"UID":"u%d","LIST":"3","EMAIL":"user%d@example.com","CELLPHONE":"",]]
        .. [["FIRST_NAME":"Nome %d","LAST_NAME":"São","BIRTH_DATE":"0000-00-00","STATUS":"1",]]
        .. [["SUBSCRIPTION_DATE":"2020-01-01 10:00:00","TAGS":{"key_0":"%d"},"EXTRA_FIELD_1":null}]])
        :format(i, i, i, i, i % 7)
    end
    local json = '{"subscriber":{' .. table.concat(parts, ",") .. '},"status":"success"}'
    local decode = cjson.new().decode
    local t0 = os.clock()
    local doc = decode(json)
    local t_dec = os.clock() - t0
    t0 = os.clock()
    local r = normalize(doc)
    local t_norm = os.clock() - t0
    if os.getenv("EGOI_DECODE_BENCH") then
      print(("\n100k records (%.1f MB): decode %.3fs, normalize %.3fs (%.2fx)"):format(
        #json / 1e6, t_dec, t_norm, t_norm / t_dec))
    end
    assert.are.equal(doc, r)
    assert.are.equal(N, #r.subscriber)
    assert.are.equal("u0", r.subscriber[1].UID)
    assert.are.equal("u99999", r.subscriber[N].UID)
    assert.are.same({ tostring((N - 1) % 7) }, r.subscriber[N].TAGS)
    assert.are.equal(cjson.null, r.subscriber[500].EXTRA_FIELD_1)
  end)
end)
