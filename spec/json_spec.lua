-- spec/json_spec.lua - core.json_decode: one-pass JSON decoder with key_N folding.
--
-- The oracle is core.normalize(cjson.decode(s)) (cjson 2.1, max depth 1000):
-- json_decode must give the same tree wherever the input is strict JSON.
-- Numbers compare with == (cjson gives floats; json_decode integers on 5.3+),
-- an integer result against a float oracle after conversion to float.
local core = require "egoi.core"
local cjson_module = require "cjson"

-- globals are slow to reach from a busted spec (its environment chains __index): keep the hot ones local
local type, pairs, ipairs, rawget, tostring, tonumber, select = type, pairs, ipairs, rawget, tostring, tonumber, select
local assert, error, pcall, collectgarbage = assert, error, pcall, collectgarbage
local math_type = math.type
local string, table, math = string, table, math

local cjson = cjson_module.new()
cjson.decode_max_depth(1000)
local NULL = cjson_module.null
local HAS_INT = math_type ~= nil

local function jd(s)
  local f = core.json_decode
  assert(type(f) == "function", "core.json_decode is missing from this build of egoi.core")
  return f(s)
end

-- oracle: true, value | false, reason
local function oracle(s)
  local ok, v = pcall(cjson.decode, s)
  if not ok then return false, v end
  local r, code = core.normalize(v)
  if r == nil and code then return false, code end
  return true, r
end

local function show(v)
  if type(v) == "string" then
    local q = ("%q"):format(#v > 60 and v:sub(1, 60) .. "..." or v)
    return (q:gsub("\\\n", "\\n"))
  end
  if type(v) == "number" then
    return ("%.17g(%s)"):format(v, HAS_INT and math.type(v) or "number")
  end
  return tostring(v)
end

local function numeq(a, b)
  if a == b then return true end
  if HAS_INT and math_type(a) ~= math_type(b) then return a + 0.0 == b + 0.0 end
  return false
end

-- deep compare: true | false, where (the path is built only on a mismatch)
local function deq(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return false, (": got %s, want %s"):format(show(a), show(b)) end
  if ta == "number" then
    if numeq(a, b) then return true end
    return false, (": got %s, want %s"):format(show(a), show(b))
  end
  if ta ~= "table" then
    if a == b then return true end
    return false, (": got %s, want %s"):format(show(a), show(b))
  end
  for k, v in pairs(a) do
    local ok, why = deq(v, rawget(b, k))
    if not ok then return false, "[" .. show(k) .. "]" .. why end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then return false, (": missing key %s"):format(show(k)) end
  end
  return true
end

local function same(a, b)
  local ok, why = deq(a, b)
  if ok then return true end
  return false, "$" .. why
end

local function count_keys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- json_decode(s) must equal the oracle; returns nil or a failure description
local function differ(s)
  local ok_o, want = oracle(s)
  if not ok_o then return "oracle rejects the document: " .. tostring(want) end
  local got, code, msg = jd(s)
  if got == nil then return ("json_decode failed: %s %s"):format(tostring(code), tostring(msg)) end
  local ok, why = same(got, want)
  if not ok then return why end
  return nil
end

-- run differ over a list of documents, report the first few failures
local function check_all(docs, label)
  local bad = {}
  for i, s in ipairs(docs) do
    local why = differ(s)
    if why then
      bad[#bad + 1] = ("%s #%d: %s\n  doc: %s"):format(label, i, why, show(#s > 300 and s:sub(1, 300) or s))
      if #bad >= 5 then break end
    end
  end
  assert(#bad == 0, table.concat(bad, "\n"))
end

local function assert_malformed(s, label)
  local nret = select("#", jd(s))
  assert(nret == 3, ("%s: %s: %d results, want nil, code, message"):format(label or "", show(s), nret))
  local r, code, msg = jd(s)
  assert(r == nil, ("%s: %s decoded to %s, want MALFORMED_JSON"):format(label or "", show(s), show(r)))
  assert(code == "MALFORMED_JSON", ("%s: %s gave code %s (%s)"):format(label or "", show(s), show(code), show(msg)))
  assert(type(msg) == "string", ("%s: %s: no message"):format(label or "", show(s)))
  local n = tonumber(msg:match("at byte (%d+)"))
  assert(n, ("%s: %s: message %s names no byte"):format(label or "", show(s), show(msg)))
  assert(n >= 1 and n <= #s + 1, ("%s: %s: byte %d outside 1..%d"):format(label or "", show(s), n, #s + 1))
  assert(#msg < 200, ("%s: %s: message too long: %s"):format(label or "", show(s), show(msg)))
  return msg, n
end

local function assert_too_deep(s)
  local r, code, msg = jd(s)
  assert(r == nil, "deep document decoded, want TOO_DEEP")
  assert(code == "TOO_DEEP", ("code %s (%s), want TOO_DEEP"):format(show(code), show(msg)))
  assert(type(msg) == "string" and msg:match("at byte %d+"), "TOO_DEEP message names no byte: " .. show(msg))
  return msg
end

-- seeded Park-Miller generator (exact with doubles: same sequence on 5.4 and LuaJIT)
local function rng(seed)
  local s = seed
  return function(n)
    s = (s * 16807) % 2147483647
    return s % n + 1
  end
end

local function shuffle(r, t)
  for i = #t, 2, -1 do
    local j = r(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

local floor = math.floor
local function utf8enc(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64,
    0x80 + cp % 64)
end

local function uesc(r, cp)
  local h = ("%04x"):format(cp)
  if r(2) == 1 then h = h:upper() end
  return "\\u" .. h
end

local SIMPLE_ESC = { { '\\"', '"' }, { "\\\\", "\\" }, { "\\/", "/" }, { "\\b", "\b" }, { "\\f", "\f" },
  { "\\n", "\n" }, { "\\r", "\r" }, { "\\t", "\t" } }
local RAW_UTF8 = { "é", "ç", "ã", "中", "文", "😀", "€", "ß" }
local PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.:@/"

-- random JSON string token: text (with quotes) and the decoded bytes.
-- Raw bytes never include NUL (cjson stops there), '"' or '\'.
local function gen_string(r, maxpieces)
  local txt, val = { '"' }, {}
  for _ = 1, r((maxpieces or 10) + 1) - 1 do
    local k = r(10)
    local t, v
    if k <= 3 then
      local a = r(#PLAIN)
      t = PLAIN:sub(a, a + r(8) - 1); v = t
    elseif k == 4 then
      local e = SIMPLE_ESC[r(#SIMPLE_ESC)]
      t, v = e[1], e[2]
    elseif k == 5 then
      local band = r(5)
      local cp
      if band == 1 then cp = r(0x80) - 1
      elseif band == 2 then cp = 0x7F + r(0x780)
      elseif band == 3 then cp = 0x7FF + r(0xD800 - 0x800)
      elseif band == 4 then cp = 0xDFFF + r(0x2000)
      else cp = ({ 0, 0x1F, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0xE000, 0xD7FF })[r(9)] end
      t, v = uesc(r, cp), utf8enc(cp)
    elseif k == 6 then
      local hi, lo = 0xD7FF + r(0x400), 0xDBFF + r(0x400)
      t = uesc(r, hi) .. uesc(r, lo)
      v = utf8enc(0x10000 + (hi - 0xD800) * 0x400 + (lo - 0xDC00))
    elseif k == 7 then -- a control character: RFC 8259 wants it escaped
      local b = r(32) - 1
      t, v = uesc(r, b), string.char(b)
    elseif k == 8 then
      t = string.char(127 + r(128)); v = t
    else
      t = RAW_UTF8[r(#RAW_UTF8)]; v = t
    end
    txt[#txt + 1] = t
    val[#val + 1] = v
  end
  txt[#txt + 1] = '"'
  return table.concat(txt), table.concat(val)
end

local function digits(r, n)
  local d = {}
  for i = 1, n do d[i] = string.char(47 + r(10)) end
  return table.concat(d)
end

-- random RFC 8259 number literal
local function gen_number(r)
  local s = r(3) == 1 and "-" or ""
  if r(5) == 1 then s = s .. "0" else s = s .. string.char(48 + r(9)) .. digits(r, r(22) - 1) end
  if r(3) == 1 then s = s .. "." .. digits(r, r(20)) end
  if r(4) == 1 then
    s = s .. (r(2) == 1 and "e" or "E") .. ({ "", "+", "-" })[r(3)] .. digits(r, r(2))
  end
  return s
end

local WS = { " ", "\t", "\n", "\r", "\r\n", "  \t", "\n    " }
local function ws(r)
  if r(10) <= 7 then return "" end
  return WS[r(#WS)]
end

local KEY_POOL = { "status", "UID", "EMAIL", "extra_fields", "key_", "key_00", "key_01", "Key_0", "key_-1",
  "key_1a", "key_999999999", "key_1000000000", "", "ERROR", "a", "é", "key 0", "0", "1" }

-- a JSON string token for a key (sometimes with a \u escape that still decodes to it)
local KEY_ESC = { ["\\"] = "\\\\", ['"'] = '\\"' }
for b = 0, 31 do KEY_ESC[string.char(b)] = ("\\u%04x"):format(b) end -- RFC 8259: escaped
local function kesc(s) return (s:gsub(".", KEY_ESC)) end
local function key_token(r, k)
  if r(6) == 1 and #k > 0 then
    local i = r(#k)
    local b = k:byte(i)
    if b < 128 then return '"' .. kesc(k:sub(1, i - 1)) .. uesc(r, b) .. kesc(k:sub(i + 1)) .. '"' end
  end
  return '"' .. kesc(k) .. '"'
end

local gen_value

local function emit_object(r, st, out, pairs_list)
  out[#out + 1] = "{" .. ws(r)
  for i, kv in ipairs(pairs_list) do
    if i > 1 then out[#out + 1] = ws(r) .. "," .. ws(r) end
    out[#out + 1] = key_token(r, kv)
    out[#out + 1] = ws(r) .. ":" .. ws(r)
    gen_value(r, st, out)
  end
  out[#out + 1] = ws(r) .. "}"
end

-- st = { depth =, maxd =, budget = }
function gen_value(r, st, out)
  st.budget = st.budget - 1
  local c
  if st.depth >= st.maxd or st.budget <= 0 then c = 4 + r(6)      -- a scalar
  elseif st.depth == 0 then c = r(10) == 1 and 4 + r(6) or r(4)     -- mostly a container at the top
  elseif r(2) == 1 then c = r(4)                                      -- a container
  else c = r(10) end
  st.depth = st.depth + 1
  if c == 1 then -- plain object (keys may repeat)
    local ks = {}
    for i = 1, r(7) - 1 do
      if i > 1 and r(5) == 1 then ks[i] = ks[r(i - 1)]
      elseif r(3) == 1 then ks[i] = KEY_POOL[r(#KEY_POOL)]
      else ks[i] = select(2, gen_string(r, 3)) end
    end
    emit_object(r, st, out, ks)
  elseif c == 2 or c == 3 then -- key_N object, complete or not
    local n = r(5) == 1 and r(40) or r(6)
    local ks = {}
    for i = 1, n do ks[i] = "key_" .. (i - 1) end
    local m = r(8)
    if m == 1 then table.remove(ks, r(n))                                  -- gap
    elseif m == 2 then ks[#ks + 1] = ks[r(n)]                              -- duplicate, still folds
    elseif m == 3 then ks[#ks + 1] = KEY_POOL[r(#KEY_POOL)]                -- a foreign key
    elseif m == 4 then ks[r(n)] = ks[r(n)]                                 -- maybe dup + gap
    elseif m == 5 then ks[#ks + 1] = "key_" .. (n + r(3))                  -- beyond the end
    end
    local o = r(3)
    if o == 1 then shuffle(r, ks)
    elseif o == 2 then
      for i = 1, floor(#ks / 2) do ks[i], ks[#ks + 1 - i] = ks[#ks + 1 - i], ks[i] end
    end
    emit_object(r, st, out, ks)
  elseif c == 4 then
    out[#out + 1] = "[" .. ws(r)
    for i = 1, r(7) - 1 do
      if i > 1 then out[#out + 1] = ws(r) .. "," .. ws(r) end
      gen_value(r, st, out)
    end
    out[#out + 1] = ws(r) .. "]"
  elseif c == 5 or c == 6 then
    out[#out + 1] = (gen_string(r))
  elseif c == 7 or c == 8 then
    out[#out + 1] = gen_number(r)
  else
    out[#out + 1] = ({ "true", "false", "null" })[r(3)]
  end
  st.depth = st.depth - 1
end

local function gen_doc(r)
  local out = { ws(r) }
  gen_value(r, { depth = 0, maxd = r(8), budget = 10 + r(90) }, out)
  out[#out + 1] = ws(r)
  return table.concat(out)
end

local read_file = require("helpers.server").read_file

local function have(cmd)
  local r = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return r == true or r == 0
end

-- run an interpreter on a script; documents are separated by \x1e (RS)
local function run_docs(cmd, script)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(script)
  f:close()
  local p = assert(io.popen(cmd .. " " .. path))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local docs = {}
  for d in out:gmatch("([^\30]*)\30") do docs[#docs + 1] = d end
  return docs
end

--------------------------------------------------------------------------------
-- realistic E-goi answers
--------------------------------------------------------------------------------
local CORPUS = {
  [[{"Egoi_Api":{"getLists":{"key_0":{"listnum":"3","title":"News","title_ref":"news","subs_activos":"10",
"subs_total":"12","idioma":"pt","canal_email":"1","canal_sms":"0","extra_fields":{"key_0":{"id":"1","ref":"city",
"listnum":"3","opcoes":""},"key_1":{"id":"2","ref":"color","listnum":"3","opcoes":{"key_0":{"id":"1","ref":"red"},
"key_1":{"id":"2","ref":"blue"}}}}},"key_1":{"listnum":"5","title":"Ol\u00e1 \u00e7a va","extra_fields":"0"},
"status":"success"}}}]],
  [[{"Egoi_Api":{"subscriberData":{"subscriber":{
   "key_0":{"UID":"a1b2c3","LIST":"3","EMAIL":"a@x.org","CELLPHONE":"351-912345678","FIRST_NAME":"Jos\u00e9",
            "LAST_NAME":"Gon\u00e7alves","BIRTH_DATE":null,"STATUS":"1","SUBSCRIPTION_DATE":"2020-01-01 10:00:00",
            "TAGS":{"key_0":"4","key_1":"7"},"extra_1":"Lisboa","extra_2":"","extra_3":{"key_0":"opt1"}},
   "key_1":{"UID":"d4e5f6","LIST":"3","EMAIL":"b@x.org","CELLPHONE":"","FIRST_NAME":"\u4e2d\u6587","LAST_NAME":"",
            "BIRTH_DATE":"1990-01-01","STATUS":"2","TAGS":[],"extra_1":"","extra_2":"Porto \/ Gaia",
            "extra_3":""}},
 "total_subscribers":"2","status":"success"}}}]],
  [[{"Egoi_Api":{"addSubscriber":{"ERROR":"SUBSCRIBER_ALREADY_EXISTS","status":"success"}}}]],
  [[{"Egoi_Api":{"subscriberData":{"subscriber":{"ERROR":"SUBSCRIBER_NOT_FOUND"},"status":"success"}}}]],
  [[{"Egoi_Api":{"getLists":{"response":{"message":"No access to this method"},"status":"failed"}}}]],
  [[{"Egoi_Api":{"checklogin":{"response":"INVALID","status":"success"}}}]],
  [[{"Egoi_Api":{"getCampaigns":{"key_12":{"hash":"ab12","subject":"Promo \"Ver\u00e3o\"","internal_name":"",
"listnum":"3","status":"sent","date":"2021-06-01"},"key_15":{"hash":"cd34","subject":"Linha1\nLinha2\ttab",
"internal_name":"x","listnum":"3","status":"draft","date":""},"status":"success"}}}]],
  [[{"Egoi_Api":{"addSubscriberBulk":{"ADDED":"2","UPDATED":"0","IGNORED":"1","TOTAL":"3",
"ERRORS":{"key_0":{"LINE":"2","ERROR":"EMAIL_INVALID"}},"status":"success"}}}]],
  [[{"Egoi_Api":{"getExtraFields":{"extra_fields":"0","status":"success"}}}]],
  [[{"Egoi_Api":{"getReport":{"key_0":{"campaign":"3","opens":"","clicks":"","links":"","bounces":"0",
"url":"https:\/\/www.e-goi.com\/r?x=1&y=2"},"status":"success"}}}]],
  [[{"Egoi_Api":{"getUserData":{"USER_ID":"1","COMPANY":"Acme \\ Co","CREDITS":"100.50","PLAN":"pro",
"ADDRESS":"Rua \u00c1guas, 1\r\n4000 Porto","status":"success"}}}]],
  [[{"Egoi_Api":{"getLists":{"key_1":{"listnum":"2"},"key_0":{"listnum":"1"},"key_2":{"listnum":"3"},
"status":"success"}}}]],
  [[{"Egoi_Api":{"getSenders":{"key_0":{"FROMID":"1","SENDER":"news@x.org","STATUS":"active"},"status":"success"}}}]],
  [[{"Egoi_Api":{"addExtraField":{"NEW_ID":"4","status":"success"}}}]],
  [[{"Egoi_Api":{"subscriberData":{"subscriber":{"key_0":{"UID":"x","TAGS":"","extra_1":null}},
"status":"success"}}}]],
  [[ { "Egoi_Api" : { "getLists" : { "key_0" : { "listnum" : "1" , "title" : "" } ,
     "status" : "success" } } }
]],
  "{\"Egoi_Api\":{\"getLists\":{\"key_0\":{\"title\":\"t\\u00e9\\ud83d\\ude00\"},\"status\":\"success\"}}}",
}

do -- bench/nginx.conf's canned getLists answer
  local conf = read_file("bench/nginx.conf")
  local body = conf and conf:match("return 200 '(.-)';")
  if body then CORPUS[#CORPUS + 1] = body end
end

do -- answers written by the sandbox's own REST encoder
  local ok_env, envelope = pcall(require, "egoi.sandbox.envelope")
  local ok_shape, shape = pcall(require, "egoi.sandbox.shape")
  if ok_env and ok_shape then
    local subs = shape.list()
    for i = 1, 12 do
      subs[i] = { UID = "u" .. i, EMAIL = "user" .. i .. "@example.com", FIRST_NAME = "Zé \"" .. i .. "\"\n\1",
        TAGS = shape.list(i % 2 == 0 and { "1", tostring(i) } or {}), extra_3 = i % 3 == 0 and "" or "Braga\\Minho",
        STATUS = "1" }
    end
    CORPUS[#CORPUS + 1] = envelope.json("subscriberData", { subscriber = subs, total_subscribers = 12 })
    CORPUS[#CORPUS + 1] = envelope.json("getCampaigns",
      shape.idmap({ [12] = { hash = "a", subject = "x" }, [3] = { hash = "b", subject = "y" } }))
    CORPUS[#CORPUS + 1] = envelope.json("checklogin", "INVALID")
    CORPUS[#CORPUS + 1] = envelope.json("addSubscriber", { ERROR = "EMAIL_INVALID" })
    CORPUS[#CORPUS + 1] = envelope.json_failed("getLists", "Timeout \t and\r\n stuff")
  end
end

local PHP_SCRIPT = [==[<?php
$subs = [];
for ($i = 0; $i < 20; $i++) {
  $subs["key_$i"] = ["UID" => "u$i", "EMAIL" => "user$i@example.com", "FIRST_NAME" => "Zé $i",
    "TAGS" => ($i % 3) ? ["key_0" => "$i", "key_1" => "x"] : "", "extra_1" => ($i % 2) ? null : "Lisboa",
    "extra_2" => ["key_0" => ["id" => "1", "ref" => "a/b"]]];
}
$shuffled = [];
foreach ([5, 2, 0, 4, 1, 3] as $i) { $shuffled["key_$i"] = ["n" => $i]; }
$docs = [
  ["Egoi_Api" => ["getLists" => ["key_0" => ["listnum" => "1", "title" => "Notícias é ç",
      "extra_fields" => ["key_0" => ["id" => "1", "ref" => "Cidade", "opcoes" => ""]]],
    "key_1" => ["listnum" => "2", "title" => "中文 列表 😀", "extra_fields" => "0"], "status" => "success"]]],
  ["Egoi_Api" => ["subscriberData" => ["subscriber" => $subs, "status" => "success"]]],
  ["Egoi_Api" => ["getLists" => $shuffled + ["status" => "success"]]],
  $shuffled,
  ["quote" => "say \"hi\"", "bs" => "C:\\dir\\file\\", "slash" => "a/b/</script>", "ctl" => "\x01\x02\x1f\x7f",
   "tab" => "a\tb", "nl" => "l1\nl2\r\n", "nul" => "a\0b", "uni" => "é ç 😀 中文 ü ß € \u{2028} \u{10FFFF}",
   "bsu" => "\\u00e9 is not an escape", "mix" => "\"\\/\x08\x0c\n\r\t"],
  ["ints" => [0, 1, -1, 42, -42, 2147483647, -2147483648, 9007199254740993, PHP_INT_MAX, PHP_INT_MIN],
   "floats" => [0.1, -0.25, 3.5, 1e20, 1.5e-7, 1.0, -0.0, 123456789.125, 1.7976931348623157e308, 5e-324,
                0.30000000000000004, 2.5e-308, -1e100, 100.0]],
  ["list" => ["a", "b", "c"], "nested" => [[1, [2, [3, []]]], ["x" => ["y" => ["z" => []]]]],
   "emptyobj" => new stdClass, "emptyarr" => [], "bools" => [true, false, null],
   "listofmaps" => [["a" => 1], ["b" => 2]]],
  ["key_0" => "a", "key_1" => "b", "key_2" => ["key_1" => "y", "key_0" => "x"]],
  ["key_0" => "a", "key_2" => "b"],
  [3 => "a", 7 => "b"],
  [1 => "a", 0 => "b"],
  "top level string é 😀 /", 42, 4.5, -0.5, true, false, null, "", [], new stdClass, [[[[[]]]]],
];
$flagsets = [0, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES, JSON_PRETTY_PRINT,
  JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES, JSON_PRESERVE_ZERO_FRACTION,
  JSON_FORCE_OBJECT, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT];
foreach ($flagsets as $f) {
  foreach ($docs as $d) {
    $j = json_encode($d, $f);
    if ($j === false) { fwrite(STDERR, json_last_error_msg() . "\n"); exit(1); }
    echo $j, "\x1e";
  }
}
]==]

local PY_SCRIPT = [==[
import json, sys
subs = {}
for i in range(20):
    subs["key_%d" % i] = {"UID": "u%d" % i, "FIRST_NAME": "Zé %d 😀" % i,
                          "TAGS": {"key_0": str(i)} if i % 2 else "", "extra": None if i % 3 else "𝄞"}
shuffled = {}
for i in [3, 0, 2, 1]:
    shuffled["key_%d" % i] = [i, {"key_0": "z"}]
docs = [
    {"Egoi_Api": {"subscriberData": {"subscriber": subs, "status": "success"}}},
    {"Egoi_Api": {"getLists": dict(shuffled, status="success")}},
    shuffled,
    {"astral": "😀 𝄞 \U0010FFFF \U00010000", "bmp": "é ç 中文 \u2028 \uffff \ue000 \ud7ff",
     "ctl": "\x00 \x01 \x1f \x7f \t \n \r \b \f", "quote": "\"'\\/", "empty": ""},
    {"ints": [0, -0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**64, 2**70, 10**25,
              123456789012345678901234567890],
     "floats": [0.1, 1e20, 1e-7, 5e-324, 1e-320, 1.7976931348623157e308, -0.0, 2.5, 1e300, 1e22, 1e23,
                0.1 + 0.2, 123.456e-5, 9007199254740993.0]},
    [[], {}, [[]], [{}], {"a": []}, {"": {"": ""}}],
    [None, True, False, None],
    {"key_0": None, "key_1": [None], "key_2": {"key_0": None}},
    "😀", 1, -1.5, None, True, "",
]
for d in docs:
    for kw in ({"ensure_ascii": True}, {"ensure_ascii": True, "indent": 2},
               {"ensure_ascii": True, "separators": (",", ":")}, {"ensure_ascii": False}):
        sys.stdout.buffer.write(json.dumps(d, **kw).encode("utf-8", "surrogatepass") + b"\x1e")
]==]

describe("core.json_decode", function()
  it("exists", function()
    assert.is_function(core.json_decode)
  end)

  ------------------------------------------------------------------------------
  describe("agrees with core.normalize(cjson.decode(s))", function()
    it("on realistic E-goi answers", function()
      assert.is_true(#CORPUS >= 20)
      check_all(CORPUS, "corpus")
    end)

    it("on documents written by PHP's json_encode", function()
      if not have("php") then pending("php is not installed"); return end
      local docs = run_docs("php -n -f", PHP_SCRIPT)
      assert.is_true(#docs >= 7 * 20, "php produced " .. #docs .. " documents")
      check_all(docs, "php")
    end)

    it("on documents written by Python's json.dumps", function()
      local py = have("python3") and "python3" or (have("python") and "python")
      if not py then pending("python3 is not installed"); return end
      local docs = run_docs(py, PY_SCRIPT)
      assert.is_true(#docs >= 4 * 14, "python produced " .. #docs .. " documents")
      check_all(docs, "python")
    end)

    it("on 3000 seeded random documents (duplicates, escapes, whitespace, key_N variants)", function()
      local r = rng(20240601)
      local docs = {}
      for i = 1, 3000 do docs[i] = gen_doc(r) end
      check_all(docs, "random")
    end)

    it("on mutated documents: accepts only what cjson accepts, and then the same value", function()
      local r = rng(777)
      local CH = '{}[]:,"\\ \t\n0123456789.eE+-truefalsn_ku'
      local bad = {}
      for i = 1, 2000 do
        local s = (i <= #CORPUS and CORPUS[i]) or gen_doc(r)
        for _ = 1, r(3) do
          local p = r(#s + 1)
          local op = r(4)
          local c = r(#CH)
          if op == 1 then s = s:sub(1, p - 1) .. s:sub(p + 1)
          elseif op == 2 then s = s:sub(1, p - 1) .. CH:sub(c, c) .. s:sub(p)
          elseif op == 3 then s = s:sub(1, p - 1) .. CH:sub(c, c) .. s:sub(p + 1)
          else s = s:sub(1, p - 1) .. string.char(r(255)) .. s:sub(p + 1) end
        end
        local got, code, msg = jd(s)
        local ok_o, want = oracle(s)
        local why
        if got == nil then
          if code ~= "MALFORMED_JSON" or type(msg) ~= "string" or not msg:match("at byte %d+") then
            why = ("failure %s %s"):format(show(code), show(msg))
          end
        elseif not ok_o then
          why = "accepted what cjson rejects (" .. tostring(want) .. "): " .. show(got)
        else
          local ok, w = same(got, want)
          if not ok then why = w end
        end
        if why then
          bad[#bad + 1] = ("mutant #%d: %s\n  doc: %s"):format(i, why, show(s))
          if #bad >= 5 then break end
        end
      end
      assert(#bad == 0, table.concat(bad, "\n"))
    end)
  end)

  ------------------------------------------------------------------------------
  describe("values", function()
    it("objects, arrays, empty containers", function()
      local t = jd('{"a":1,"b":[1,"x",true],"c":{},"d":[]}')
      assert.are.equal(1, t.a)
      assert.are.same({ 1, "x", true }, t.b)
      assert.is_nil(next(t.c))
      assert.is_nil(next(t.d))
      assert.are.equal(4, count_keys(t))
      assert.is_nil(next(jd("{}")))
      assert.is_nil(next(jd("[]")))
      assert.is_nil(next(jd(" [ ] ")))
      assert.is_nil(next(jd(" { } ")))
      assert.are.equal(1, select("#", jd("[1]")))
      assert.are.equal(1, select("#", jd("null")))
      assert.are.equal(1, select("#", jd("false")))
      local a = jd("[3,2,1]")
      assert.are.equal(3, #a)
      assert.are.equal(3, count_keys(a))
      assert.are.same({ 3, 2, 1 }, a)
    end)

    it("null is cjson.null, also inside arrays where it keeps its slot", function()
      local v = jd("null")
      assert.are.equal(NULL, v)
      assert.are.equal("userdata", type(v))
      local a = jd("[null,1,null,null]")
      assert.are.equal(NULL, a[1])
      assert.are.equal(1, a[2])
      assert.are.equal(NULL, a[3])
      assert.are.equal(NULL, a[4])
      assert.are.equal(4, count_keys(a))
      local o = jd('{"a":null,"key":[null]}')
      assert.are.equal(NULL, o.a)
      assert.are.equal(NULL, o.key[1])
      local k = jd('{"key_1":null,"key_0":null}')
      assert.are.equal(2, count_keys(k))
      assert.are.equal(NULL, k[1])
      assert.are.equal(NULL, k[2])
    end)

    it("true and false", function()
      assert.is_true(jd("true"))
      assert.is_false(jd("false"))
      assert.are.same({ true, false }, jd("[true,false]"))
      assert.are.same({ t = true, f = false }, jd('{"t":true,"f":false}'))
    end)

    it("top-level scalars and whitespace", function()
      assert.are.equal("x", jd('"x"'))
      assert.are.equal("", jd('""'))
      assert.are.equal(1, jd("1"))
      assert.are.equal(1, jd(" \t\r\n1\n\r\t "))
      assert.are.equal(-2.5, jd("-2.5"))
      assert.are.same({ 1, 2 }, jd(" \t\r\n[ 1 ,\n2\t]\r\n "))
      assert.are.same({ a = { b = "c" } }, jd('\n{ "a"\t:\r{"b" :  "c" }  }\n'))
    end)

    it("integers (math.type) and floats", function()
      local cases = {
        { "0", 0, "integer" }, { "-0", 0, "integer" }, { "1", 1, "integer" }, { "-1", -1, "integer" },
        { "42", 42, "integer" }, { "123456789012", 123456789012, "integer" },
        { "9007199254740993", nil, "integer" },
        { "9223372036854775807", nil, "integer" }, { "-9223372036854775808", nil, "integer" },
        { "9223372036854775808", 9223372036854775808.0, "float" },
        { "-9223372036854775809", -9223372036854775809.0, "float" },
        { "18446744073709551616", 18446744073709551616.0, "float" },
        { "123456789012345678901234567890", 1.2345678901234568e29, "float" },
        { "1.0", 1, "float" }, { "1e2", 100, "float" }, { "1E2", 100, "float" }, { "1e+2", 100, "float" },
        { "1E-2", 0.01, "float" }, { "-1.5E-3", -1.5e-3, "float" }, { "0.1", 0.1, "float" },
        { "1e20", 1e20, "float" }, { "-0.0", 0, "float" }, { "2.5e+2", 250, "float" }, { "0e0", 0, "float" },
        { "0.30000000000000004", 0.30000000000000004, "float" }, { "1.7976931348623157e308", 1.7976931348623157e308,
          "float" }, { "5e-324", 5e-324, "float" }, { "123.456e-5", 123.456e-5, "float" },
        { "100000000000000000000", 1e20, "float" },
      }
      for _, c in ipairs(cases) do
        local s, want, mt = c[1], c[2], c[3]
        if want == nil then want = tonumber(s) end
        for _, doc in ipairs({ s, "[" .. s .. "]", '{"n":' .. s .. "}", " " .. s .. " " }) do
          local v = jd(doc)
          if type(v) == "table" then v = v[1] or v.n end
          assert.are.equal("number", type(v), doc)
          assert(v == want, ("%s: got %s, want %s"):format(doc, show(v), show(want)))
          if HAS_INT then
            assert(math.type(v) == mt, ("%s: got %s, want a %s"):format(doc, show(v), mt))
          end
        end
      end
      if HAS_INT then
        assert.are.equal(math.maxinteger, jd("9223372036854775807"))
        assert.are.equal(math.mininteger, jd("-9223372036854775808"))
        assert.are.equal(9007199254740993, jd("9007199254740993"))
        assert.are.equal("float", math.type(jd("-0.0")))
        assert.are.equal("-0.0", tostring(jd("-0.0")))
      else
        assert.are.equal(9007199254740992, jd("9007199254740993"))
        assert.are.equal(1 / 0, 1 / jd("0"))
        assert.are.equal(-1 / 0, 1 / jd("-0.0"))
      end
    end)

    it("2000 random number literals equal tonumber() of the literal (and its integer/float type)", function()
      local r = rng(99)
      for _ = 1, 2000 do
        local s = gen_number(r)
        local want = tonumber(s)
        local v = jd(s)
        assert(v == want, ("%s: got %s, want %s"):format(s, show(v), show(want)))
        if HAS_INT then
          assert(math.type(v) == math.type(want), ("%s: got %s, want %s"):format(s, show(v), show(want)))
        end
        local a = jd("[" .. s .. "," .. s .. "]")
        assert(a[1] == want and a[2] == want, s .. " in an array")
      end
    end)

    it("huge exponents and long mantissas saturate as strtod does (cjson): inf, -inf, 0, -0", function()
      local cases = {
        "1e400", "-1e400", "1e-400", "-1e-400", "1e99999", "1e2147483647", "1e2147483648", "-1e4294967297",
        "762e943477505484409996", "-677102335698173122409e181606291439491223", "1e-2147483649",
        "1e99999999999999999999", "-1e99999999999999999999", "1e-99999999999999999999", "-1e-99999999999999999999",
        "-0e-99999999999", "-0e99999999999", "0e99999999999", "-0.0e-2147483649",
        "1" .. ("0"):rep(400), "-" .. ("9"):rep(1000), "0." .. ("0"):rep(400) .. "1", "0." .. ("1"):rep(800),
        "1.7976931348623159e308", "2.4703282292062328e-324", "1e-324", "0.0000000000000000000000000000001e330",
        "1e0000000000000000000000000000000000002",
      }
      for _, c in ipairs(cases) do
        local want = cjson.decode(c)
        for _, doc in ipairs({ c, "[" .. c .. "]" }) do
          local v = jd(doc)
          if type(v) == "table" then v = v[1] end
          local ok = v == want and (want ~= 0 or 1 / v == 1 / want)
          assert(ok, ("%s: got %s, want %s"):format(show(doc), show(v), show(want)))
        end
      end
    end)

    it("digits that offset a huge exponent, the sign of zero, long numbers under a comma locale", function()
      local function same_num(doc, want)
        local v = jd(doc)
        assert(v == want and (want ~= 0 or 1 / v == 1 / want),
          ("%s: got %s, want %s"):format(show(doc), show(v), show(want)))
      end
      -- LuaJIT's own conversion refuses exponents past ~2^20 even when the digits offset them
      same_num("1" .. ("0"):rep(1100000) .. "e-1100000", 1)
      same_num("0." .. ("0"):rep(1100000) .. "1e1100000", 0.1)
      same_num("-25" .. ("0"):rep(1100000) .. "e-1100001", -2.5)
      -- -0 keeps its sign where numbers are floats; on 5.3+ "-0" is the integer 0
      same_num("-0.0", -0.0)
      same_num("-0e5", -0.0)
      if HAS_INT then
        assert.are.equal("integer", math_type(jd("-0")))
      else
        same_num("-0", -0.0)
      end
      same_num("0." .. ("0"):rep(250) .. "1", 1e-251)
      same_num("-" .. ("9"):rep(300) .. ".5", -tonumber(("9"):rep(300)))
    end)

    it("reads numbers the same under a comma-decimal locale (de_DE built with localedef)", function()
      -- Lua 5.4 retries a conversion with the locale's decimal point only up to 200 characters
      if os.execute("command -v localedef >/dev/null 2>&1 && test -e /usr/share/i18n/locales/de_DE") ~= true
        and os.execute("command -v localedef >/dev/null 2>&1 && test -e /usr/share/i18n/locales/de_DE") ~= 0 then
        pending("needs localedef and the locales package")
        return
      end
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute(("mkdir -p %s && localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1 || "
        .. "test -e %s/de_DE.UTF-8/LC_NUMERIC"):format(dir, dir, dir)))
      local lua = os.getenv("EGOI_TEST_LUA") or (rawget(_G, "jit") and "luajit" or "lua5.4")
      local script = [[
local c = require "egoi.core"
assert(os.setlocale("de_DE.UTF-8", "numeric"), "no locale")
assert(rawget(_G, "jit") or ("%.1f"):format(0.5) == "0,5", "not a comma locale") -- LuaJIT formats in C
local function chk(s, want) local v = c.json_decode(s); assert(v == want, s .. " -> " .. tostring(v)) end
chk("0." .. ("0"):rep(250) .. "1", 1e-251)
chk("2.5", 2.5)
chk("-12345678901234567890.5", -12345678901234567890.5)
chk("1.5e3", 1500)
print("ok")
]]
      local p = io.popen(("LOCPATH=%s LUA_CPATH='%s' %s -e '%s' 2>&1"):format(dir, os.getenv("LUA_CPATH") or "",
        lua, script:gsub("'", "'\\''")))
      local out = p:read("*a")
      p:close()
      os.execute("rm -rf " .. dir)
      assert.are.equal("ok\n", out)
    end)

    it("string escapes", function()
      assert.are.equal('"\\/\b\f\n\r\t', jd([["\"\\\/\b\f\n\r\t"]]))
      assert.are.equal("é", jd([["\u00e9"]]))
      assert.are.equal("é", jd([["\u00E9"]]))
      assert.are.equal("中文", jd([["\u4e2d\u6587"]]))
      assert.are.equal("\127", jd([["\u007f"]]))
      assert.are.equal("\194\128", jd([["\u0080"]]))
      assert.are.equal("\223\191", jd([["\u07ff"]]))
      assert.are.equal("\224\160\128", jd([["\u0800"]]))
      assert.are.equal("\237\159\191", jd([["\ud7ff"]]))
      assert.are.equal("\238\128\128", jd([["\ue000"]]))
      assert.are.equal("\239\191\191", jd([["\uffff"]]))
      assert.are.equal("\239\191\191", jd([["\uFFFF"]]))
      assert.are.equal("/", jd([["\/"]]))
      assert.are.equal("a/b", jd([["a\/b"]]))
      assert.are.equal("\\u00e9", jd([["\\u00e9"]]))
    end)

    it("surrogate pairs become 4-byte UTF-8", function()
      assert.are.equal("😀", jd([["\ud83d\ude00"]]))
      assert.are.equal("\240\159\152\128", jd([["\uD83D\uDE00"]]))
      assert.are.equal("\240\144\128\128", jd([["\ud800\udc00"]]))
      assert.are.equal("\244\143\191\191", jd([["\udbff\udfff"]]))
      assert.are.equal("a😀b😀", jd([["a\ud83d\ude00b\uD83D\uDe00"]]))
      assert.are.same({ ["😀"] = "𝄞" }, jd([[{"\ud83d\ude00":"\ud834\udd1e"}]]))
    end)

    it("\\u0000 is a NUL byte in the Lua string (values and keys)", function()
      local s = jd([["\u0000"]])
      assert.are.equal(1, #s)
      assert.are.equal("\0", s)
      assert.are.equal("a\0b\0", jd([["a\u0000b\u0000"]]))
      local t = jd([[{"k\u0000ey":"v","k":"w"}]])
      assert.are.equal("v", t["k\0ey"])
      assert.are.equal("w", t.k)
    end)

    it("raw control bytes inside a string are refused (RFC 8259), invalid UTF-8 passes through", function()
      for b = 1, 31 do
        local r, code, msg = jd('["ab' .. string.char(b) .. '"]')
        assert.is_nil(r)
        assert.are.equal("MALFORMED_JSON", code)
        assert.are.equal("unescaped control character in string at byte 5", msg)
      end
      assert.are.equal("\255\254\128\192\237\160\128", jd('"\255\254\128\192\237\160\128"'))
      assert.are.equal("\127", jd('"\127"'))
      assert.are.same({ ["\255"] = "\1" }, jd('{"\255":"\\u0001"}'))
    end)

    it("a raw NUL byte inside a string is refused; \\u0000 gives one", function()
      assert_malformed('"a\0b"', "NUL")
      assert_malformed('["\0"]', "NUL")
      assert.are.equal("a\0b", jd('"a\\u0000b"'))
    end)

    it("every byte after a backslash, inside a string, as a document, and between tokens", function()
      local esc = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
      local WSB = { [" "] = true, ["\t"] = true, ["\r"] = true, ["\n"] = true }
      for b = 0, 255 do
        local c = string.char(b)
        -- after a backslash
        if esc[c] then assert.are.equal(esc[c], jd('"\\' .. c .. '"'))
        else assert_malformed('"\\' .. c .. '"', "escape") end
        -- inside a string: control characters must be escaped
        if c == '"' or c == "\\" or b < 32 then assert_malformed('"' .. c .. '"', "in string")
        else assert.are.equal(c, jd('"' .. c .. '"')) end
        -- a whole one-byte document
        if c:match("%d") then assert.are.equal(b - 48, jd(c)) else assert_malformed(c, "one byte") end
        -- between tokens: only the four whitespace bytes
        if WSB[c] then
          assert.are.same({ true }, jd("[" .. c .. "true" .. c .. "]"))
          assert.are.same({ a = 1 }, jd("{" .. c .. '"a"' .. c .. ":" .. c .. "1" .. c .. "}"))
        else
          assert_malformed("[" .. c .. "true]", "between tokens")
          assert_malformed("[true" .. c .. "]", "between tokens")
        end
      end
    end)

    it("random strings decode to the expected bytes (escapes, \\u, surrogates, raw bytes)", function()
      local r = rng(4242)
      for _ = 1, 3000 do
        local txt, want = gen_string(r, 20)
        local got = jd(txt)
        assert(got == want, ("%s: got %s, want %s"):format(show(txt), show(got), show(want)))
        local t = jd("{" .. txt .. ":[" .. txt .. "]}")
        assert(t[want] and t[want][1] == want, show(txt) .. " as a key")
      end
    end)
  end)

  ------------------------------------------------------------------------------
  describe("key_N folding", function()
    it("folds complete key_0..key_<n-1> objects in numeric order", function()
      assert.are.same({ "a" }, jd('{"key_0":"a"}'))
      assert.are.same({ "a", "b", "c" }, jd('{"key_2":"c","key_0":"a","key_1":"b"}'))
      local parts = {}
      for i = 10, 0, -1 do parts[#parts + 1] = ('"key_%d":"v%d"'):format(i, i) end
      local a = jd("{" .. table.concat(parts, ",") .. "}")
      assert.are.equal(11, #a)
      assert.are.equal(11, count_keys(a))
      for i = 1, 11 do assert.are.equal("v" .. (i - 1), a[i]) end
      assert.is_nil(a.key_0)
      -- an escaped key is judged on its decoded text
      assert.are.same({ "x", "y" }, jd([[{"\u006bey_0":"x","key\u005f1":"y"}]]))
    end)

    it("keeps key_<id> maps that are not exactly 0..n-1, and canonical-decimal only", function()
      local cases = {
        { '{"key_3":"a","key_7":"b"}', { key_3 = "a", key_7 = "b" } },
        { '{"key_1":"a","key_2":"b"}', { key_1 = "a", key_2 = "b" } },
        { '{"key_0":"a","key_2":"b"}', { key_0 = "a", key_2 = "b" } },
        { '{"key_0":"a","key_01":"b"}', { key_0 = "a", key_01 = "b" } },
        { '{"key_00":"a"}', { key_00 = "a" } },
        { '{"key_":"a"}', { key_ = "a" } },
        { '{"key_-1":"a","key_0":"b"}', { ["key_-1"] = "a", key_0 = "b" } },
        { '{"key_1a":"a","key_0":"b"}', { key_1a = "a", key_0 = "b" } },
        { '{"key_9999999999":"a"}', { key_9999999999 = "a" } },
        { '{"key_999999999":"a"}', { key_999999999 = "a" } },
        { '{"key_1":"a"}', { key_1 = "a" } },
        { '{"Key_0":"a"}', { Key_0 = "a" } },
        { '{"key_0 ":"a"}', { ["key_0 "] = "a" } },
        { '{" key_0":"a"}', { [" key_0"] = "a" } },
        { '{"key_+0":"a"}', { ["key_+0"] = "a" } },
        { '{"key_0\\u0000":"a"}', { ["key_0\0"] = "a" } },
        { '{"0":"a","1":"b"}', { ["0"] = "a", ["1"] = "b" } },
        { '{"key_0":"a","key_1":"b","status":"success"}', { key_0 = "a", key_1 = "b", status = "success" } },
        { '{"status":"success","key_0":"a"}', { key_0 = "a", status = "success" } },
      }
      for _, c in ipairs(cases) do
        local ok, why = same(jd(c[1]), c[2])
        assert(ok, c[1] .. ": " .. tostring(why))
      end
    end)

    it("duplicate keys: the last one wins, folding is judged on the distinct keys", function()
      local cases = {
        { '{"a":1,"a":2}', { a = 2 } },
        { '{"key_0":1,"key_0":2}', { 2 } },
        { '{"key_0":1,"key_0":2,"key_2":3}', { key_0 = 2, key_2 = 3 } },
        { '{"key_1":"a","key_0":"b","key_1":"c"}', { "b", "c" } },
        { '{"key_1":"x","key_1":"y"}', { key_1 = "y" } },
        { '{"key_0":{"a":1},"key_0":{"b":2}}', { { b = 2 } } },
        { '{"key_0":[1,2,3],"key_1":0,"key_0":"s"}', { "s", 0 } },
        { '{"key_0":1,"key_1":2,"key_1":3,"key_1":4,"key_0":5}', { 5, 4 } },
        { '{"key_0":1,"key_1":2,"key_0":3,"key_3":4}', { key_0 = 3, key_1 = 2, key_3 = 4 } },
        { '{"a":{"key_0":"x"},"a":{"key_1":"y"}}', { a = { key_1 = "y" } } },
        { '{"key_0":null,"key_0":1}', { 1 } },
        { '{"key_0":1,"key_0":null}', { NULL } },
        { '[{"key_0":1,"key_0":2},{"k":1,"k":{"key_0":"z"}}]', { { 2 }, { k = { "z" } } } },
      }
      for _, c in ipairs(cases) do
        local ok, why = same(jd(c[1]), c[2])
        assert(ok, c[1] .. ": " .. tostring(why))
      end
    end)

    it("folds at every level, inside arrays and objects, and keeps objects with a status key", function()
      local ok, why = same(jd('{"key_0":{"key_0":{"key_0":[{"key_0":"x"}]}}}'), { { { { { "x" } } } } })
      assert(ok, why)
      ok, why = same(jd('[{"key_1":2,"key_0":1},[{"key_0":{"a":{"key_0":true}}}]]'),
        { { 1, 2 }, { { { a = { true } } } } })
      assert(ok, why)
      local doc = jd([[{"Egoi_Api":{"getLists":{"key_0":{"listnum":"1","extra_fields":{"key_0":{"id":"1"}}},
        "key_1":{"listnum":"2","extra_fields":""},"status":"success"}}}]])
      local gl = doc.Egoi_Api.getLists
      assert.are.equal("success", gl.status)
      assert.are.equal(3, count_keys(gl))
      assert.are.equal("1", gl.key_0.listnum)
      assert.are.same({ { id = "1" } }, gl.key_0.extra_fields)
      assert.are.equal("", gl.key_1.extra_fields)
      assert.is_nil(gl[1])
      -- folding at depth 200
      local s = ('{"key_0":'):rep(200) .. '"deep"' .. ("}"):rep(200)
      local t = jd(s)
      for _ = 1, 199 do
        assert.are.equal(1, count_keys(t))
        t = t[1]
      end
      assert.are.same({ "deep" }, t)
    end)

    it("returns fresh tables on every call", function()
      local s = '{"key_0":{"a":[1]},"key_1":{}}'
      local a, b = jd(s), jd(s)
      assert.are_not.equal(a, b)
      assert.are_not.equal(a[1], b[1])
      assert.are.same(a, b)
      a[1].a[1] = 2
      assert.are.equal(1, jd(s)[1].a[1])
    end)
  end)

  ------------------------------------------------------------------------------
  describe("errors", function()
    it("malformed input gives nil, MALFORMED_JSON, a message naming the byte", function()
      local cases = {
        "nan", "NaN", "Infinity", "-Infinity", "inf", "0x10", "01", "-01", "00", "1.", "0.", "-1.", ".5", "-.5",
        "+1", "-", "--1", "1e", "1e+", "1E-", "1.e5", "1.5e", "1e5.5", "0x", "-0x1", "1_000", "1,5", "1 2",
        "[01]", "[1.]", "[-]", '{"a":+1}', "[.5]", "[1e]",
        "", " ", "\t\r\n ", "\f1", "\v1", "\f", "\0", "1\0", "\239\187\191{}", "\160 1",
        "[", "]", "{", "}", ":", ",", "[1,]", "[,1]", "[1,,2]", "[1 2]", "[1:2]", "[}", "{]", "[[]", "[]]",
        '{"a":1,}', '{,}', '{"a"}', '{"a":}', '{"a" 1}', '{a:1}', "{'a':1}", '{"a":1 "b":2}', '{"a":1;"b":2}',
        '{"a"::1}', '{1:1}', '{null:1}', '{"a":1}}', '{"a":1}x', "[] []", "{} x", '"a" "b"', "true false",
        "tru", "True", "TRUE", "nul", "NULL", "Null", "fals", "falsey", "truex", "nullx", "[truee]", "t",
        '"abc', '"', '"\\', '"\\"', '["a]', '{"a', '{"a":"b', '"\\x"', '"\\a"', '"\\U00e9"', '"\\0"', '"\\ "',
        '"\\u"', '"\\u1"', '"\\u12"', '"\\u123"', '"\\u12G4"', '"\\u 123"', '"\\u-123"', '"\\u+123"',
        '"\\ud800"', '"\\udbff"', '"\\udc00"', '"\\udfff"', '"\\ud800x"', '"\\ud800\\u0041"',
        '"\\ud800\\ud800"', '"\\udc00\\ud800"', '"\\ud800\\"', '"\\ud800\\n"', '"\\ud800\\udbff"',
        '"\\ud83d"', '"a\\ude00b"', '"\\ud83d\\u"', '"\\ud83d\\ude0"', '{"\\ud800":1}',
        "/* c */ 1", "1 // c", "[1]#",
      }
      for _, s in ipairs(cases) do assert_malformed(s) end
    end)

    it("names the offending byte", function()
      local cases = {
        { "1 x", 3 }, { "[1 2]", 4 }, { "[1,]", 4 }, { '{"a" 1}', 6 }, { '{"a":1}}', 8 }, { "[1]x", 4 },
        { '{"a":1,}', 8 }, { "  x", 3 }, { '{"a":1 "b":2}', 8 },
        { "trux", 4 }, { "[nulL]", 5 }, { "tru", 4 }, { "[fals", 6 }, -- a bad byte, or the end, inside a literal
      }
      for _, c in ipairs(cases) do
        local msg = assert_malformed(c[1])
        assert(msg:match("at byte " .. c[2] .. "%f[%D]"), ("%s: %s, want byte %d"):format(show(c[1]), msg, c[2]))
      end
      assert.matches("unexpected end of input", select(3, jd("tru")))
    end)

    it("lone and mismatched surrogates written by Python are MALFORMED_JSON", function()
      local py = have("python3") and "python3" or (have("python") and "python")
      if not py then pending("python3 is not installed"); return end
      local docs = run_docs(py, [[
import json, sys
for s in ["\ud800", "a\udc00", "\udbff\ud800", "\ude00\ud83d", "x\ud83d"]:
    sys.stdout.write(json.dumps({"k": [s]}) + "\x1e")
]])
      assert.are.equal(5, #docs)
      for _, s in ipairs(docs) do assert_malformed(s, "python") end
    end)

    it("every truncation of a realistic document is MALFORMED_JSON unless it is valid JSON", function()
      local docs = { CORPUS[1], CORPUS[2], CORPUS[7], CORPUS[11], CORPUS[#CORPUS],
        '[1,-2.5e+3,true,false,null,"\\ud83d\\ude00\\u00e9\\n",{"key_0":[],"key_1":{}},""] \n' }
      for _, doc in ipairs(docs) do
        for n = 0, #doc do
          local s = doc:sub(1, n)
          local valid = pcall(cjson.decode, s)
          if valid then
            local why = differ(s)
            assert(why == nil, ("prefix %d of %s: %s"):format(n, show(doc), tostring(why)))
          else
            assert_malformed(s, "prefix " .. n)
          end
        end
      end
    end)

    it("TOO_DEEP past 200 levels of arrays or objects; 200 is fine", function()
      local a200 = jd(("["):rep(200) .. ("]"):rep(200))
      local t = a200
      for _ = 1, 199 do
        assert.are.equal(1, count_keys(t))
        t = t[1]
      end
      assert.is_nil(next(t))
      assert_too_deep(("["):rep(201) .. ("]"):rep(201))

      local o200 = jd(('{"a":'):rep(200) .. "1" .. ("}"):rep(200))
      t = o200
      for _ = 1, 200 do t = t.a end
      assert.are.equal(1, t)
      assert_too_deep(('{"a":'):rep(201) .. "1" .. ("}"):rep(201))

      assert.is_table(jd(("["):rep(199) .. "{}" .. ("]"):rep(199)))
      assert_too_deep(("["):rep(200) .. "{}" .. ("]"):rep(200))
      assert.is_table(jd(('{"k":['):rep(100) .. ("]}"):rep(100)))
      assert_too_deep(('{"k":['):rep(100) .. "[]" .. ("]}"):rep(100))
      assert_too_deep(('{"key_0":'):rep(201) .. "1" .. ("}"):rep(201))
      -- siblings do not add up
      local wide = "[" .. ("[" .. ("["):rep(198) .. ("]"):rep(198) .. "],"):rep(50) .. "1]"
      assert.are.equal(51, #jd(wide))
      -- the deep part comes late in the document
      assert_too_deep('{"a":[1,2,3],"b":' .. ("["):rep(201) .. ("]"):rep(201) .. "}")
      -- at byte 201: where the 201st level opens
      local msg = assert_too_deep(("["):rep(201) .. ("]"):rep(201))
      assert(msg:match("at byte 201%f[%D]"), msg)
    end)

    it("100000-deep input gives TOO_DEEP without crashing", function()
      local N = 100000
      assert_too_deep(("["):rep(N) .. ("]"):rep(N))
      assert_too_deep(("["):rep(N))
      assert_too_deep(('{"a":'):rep(N) .. "1" .. ("}"):rep(N))
      assert_too_deep(('{"key_0":'):rep(N) .. "1" .. ("}"):rep(N))
      assert_too_deep(('[{"a":'):rep(50000))
      -- still usable afterwards
      assert.are.same({ 1 }, jd("[1]"))
    end)

    it("a non-string argument raises an error", function()
      for _, v in ipairs({ {}, true, false, print, NULL }) do
        local ok, err = pcall(core.json_decode, v)
        assert.is_false(ok)
        assert.matches("string expected", tostring(err))
      end
      assert.is_false(pcall(core.json_decode))
      assert.is_false(pcall(core.json_decode, nil))
    end)
  end)

  ------------------------------------------------------------------------------
  -- The big documents are built from pieces (numbers included) joined by one
  -- table.concat, never from one formatted string per element: LuaJIT 2.1.0-beta3
  -- interns strings with a sparse hash, and 10^5 similar ones take minutes.
  describe("big containers", function()
    before_each(function() collectgarbage() end)

    -- '{"key_<i>":<i>,...}' for i in order, with extra members after some positions
    local function keyed_doc(order, extra)
      local b, n = {}, 0
      for i, k in ipairs(order) do
        b[n + 1], b[n + 2], b[n + 3], b[n + 4], b[n + 5] = '"key_', k, '":', k, ","
        n = n + 5
        if extra and extra[i] then
          b[n + 1] = extra[i] .. ","
          n = n + 1
        end
      end
      return "{" .. table.concat(b):sub(1, -2) .. "}"
    end

    it("an array of 300,000 numbers", function()
      local N = 300000
      local p = {}
      for i = 1, N do p[i] = i - 1 end
      local a = jd("[" .. table.concat(p, ",") .. "]")
      assert.are.equal(N, #a)
      for i = 1, N do
        if a[i] ~= i - 1 then error(("a[%d] = %s"):format(i, show(a[i]))) end
      end
      assert.is_nil(a[N + 1])
      assert.is_nil(a[0])
      if HAS_INT then assert.are.equal("integer", math.type(a[N])) end
      -- and of 300,000 mixed values
      for i = 1, N, 3 do p[i], p[i + 1], p[i + 2] = '"s"', "null", "[0.5]" end
      a = jd("[" .. table.concat(p, ",") .. "]")
      assert.are.equal(N, #a)
      assert.are.equal("s", a[N - 2])
      assert.are.equal(NULL, a[N - 1])
      assert.are.equal(0.5, a[N][1])
    end)

    it("an object with 200,000 distinct keys, plus duplicates spread through it", function()
      local N = 200000
      local b, n = {}, 0
      for i = 1, N do
        b[n + 1], b[n + 2], b[n + 3], b[n + 4] = '"k', i, '":', i
        n = n + 4
        if i < N then n = n + 1; b[n] = "," end
      end
      local doc = "{" .. table.concat(b) .. "}"
      local o = jd(doc)
      assert.are.equal(N, count_keys(o))
      for i = 1, N do
        if o["k" .. i] ~= i then error(("o.k%d = %s"):format(i, show(o["k" .. i]))) end
      end
      local dups = {}
      for i = 1, N, 97 do dups[#dups + 1] = '"k' .. i .. '":"dup' .. i .. '"' end
      o = jd(doc:sub(1, -2) .. "," .. table.concat(dups, ",") .. "}")
      assert.are.equal(N, count_keys(o))
      assert.are.equal("dup1", o.k1)
      assert.are.equal(2, o.k2)
      assert.are.equal("dup98", o.k98)
      assert.are.equal(N, o["k" .. N])
    end)

    it("a shuffled key_0..key_149999 object becomes an array in the right order", function()
      local N = 150000
      local r = rng(31337)
      local idx = {}
      for i = 1, N do idx[i] = i - 1 end
      shuffle(r, idx)
      local a = jd(keyed_doc(idx))
      assert.is_table(a)
      assert.are.equal(N, #a)
      assert.are.equal(N, count_keys(a))
      for i = 1, N do
        if a[i] ~= i - 1 then error(("a[%d] = %s"):format(i, show(a[i]))) end
      end
      -- duplicates sprinkled in: still exactly 0..N-1 distinct, the later values win
      local extra = {}
      for i = 1000, N, 1000 do extra[i] = '"key_' .. idx[i - 500] .. '":"dup"' end
      a = jd(keyed_doc(idx, extra))
      assert.are.equal(N, #a)
      assert.are.equal(N, count_keys(a))
      assert.are.equal("dup", a[idx[500] + 1])
      assert.are.equal(idx[501], a[idx[501] + 1])
      -- N members, the highest key_N-1, but key_777 missing and key_5 twice: not folded
      local order = {}
      for i = 1, N do order[i] = idx[i] == 777 and 5 or idx[i] end
      local o = jd(keyed_doc(order))
      assert.are.equal(N - 1, count_keys(o))
      assert.is_nil(o[1])
      assert.is_nil(o.key_777)
      assert.are.equal(0, o.key_0)
      assert.are.equal(5, o.key_5)
      assert.are.equal(N - 1, o["key_" .. (N - 1)])
    end)

    it("big containers nested in each other and deep down", function()
      local row = {}
      for j = 1, 500 do row[j] = j end
      row = "[" .. table.concat(row, ",") .. "]"
      local rows = {}
      for i = 1, 500 do rows[i] = row end
      local m = jd("[" .. table.concat(rows, ",") .. "]")
      assert.are.equal(500, #m)
      for i = 1, 500 do
        assert(#m[i] == 500 and m[i][1] == 1 and m[i][500] == 500, "row " .. i)
      end
      local b, n = {}, 0
      for i = 0, 49999 do
        b[n + 1], b[n + 2], b[n + 3], b[n + 4], b[n + 5], b[n + 6], b[n + 7] =
          '"key_', i, '":{"UID":"u', i, '","TAGS":{"key_0":"', i + 1, '"}},'
        n = n + 7
      end
      b[n] = '"}}'
      -- 196 levels of {"a":[ ... ]}, the key_N object at 197, records at 198, TAGS at 199
      local s = ('{"a":['):rep(98) .. "{" .. table.concat(b) .. "}" .. ("]}"):rep(98)
      local t = jd(s)
      for _ = 1, 98 do t = t.a[1] end
      assert.are.equal(50000, #t)
      assert.are.equal("u0", t[1].UID)
      assert.are.equal("u49999", t[50000].UID)
      assert.are.same({ "50000" }, t[50000].TAGS)
      local why = differ(s)
      assert(why == nil, why)
    end)

    it("a 20,000-record subscriberData answer agrees with the oracle", function()
      local b, n = { '{"Egoi_Api":{"subscriberData":{"subscriber":{' }, 1
      for i = 0, 19999 do
        b[n + 1], b[n + 2], b[n + 3], b[n + 4], b[n + 5], b[n + 6], b[n + 7], b[n + 8], b[n + 9], b[n + 10],
          b[n + 11] =
          '"key_', i, '":{"UID":"u', i, '","LIST":"3","EMAIL":"user', i, '@example.com","CELLPHONE":"",'
          .. '"FIRST_NAME":"Nome ', i, '","LAST_NAME":"S\\u00e3o","BIRTH_DATE":"0000-00-00","STATUS":"1",'
          .. '"TAGS":{"key_0":"', i % 7, '"},"EXTRA_FIELD_1":null},'
        n = n + 11
      end
      b[n] = '"},"EXTRA_FIELD_1":null}},"status":"success"}}}'
      local s = table.concat(b)
      local why = differ(s)
      assert(why == nil, why)
      local sub = jd(s).Egoi_Api.subscriberData.subscriber
      assert.are.equal(20000, #sub)
      assert.are.equal("São", sub[20000].LAST_NAME)
      assert.are.same({ tostring(19999 % 7) }, sub[20000].TAGS)
      assert.are.equal(NULL, sub[1].EXTRA_FIELD_1)
    end)
  end)

  describe("chunk boundaries (items move into their table every 128)", function()
    local function obj(keys)
      local p = {}
      for i, k in ipairs(keys) do p[i] = ('"%s":%d'):format(k, i) end
      return "{" .. table.concat(p, ",") .. "}"
    end
    local function seq(a, b)
      local t = {}
      for i = a, b do t[#t + 1] = "key_" .. i end
      return t
    end
    local function plus(t, ...)
      local c = {}
      for i = 1, #t do c[i] = t[i] end
      for _, k in ipairs({ ... }) do c[#c + 1] = k end
      return c
    end

    it("agrees with the oracle when a key_N run breaks after a flush", function()
      local docs = {}
      local cases = {
        plus(seq(0, 299), "name"),              -- a plain key after two flushes
        plus(seq(0, 299), "key_500"),           -- a gap
        plus(seq(0, 299), "key_5"),             -- a repeat: still complete
        plus(seq(0, 298), "key_5", "key_299"),  -- a repeat, then the missing one
        plus({ "key_1", "key_0" }, (table.unpack or unpack)(seq(2, 400))), -- luacheck: ignore unpack
        seq(0, 127), seq(0, 128), seq(0, 255), seq(1, 300),
      }
      for _, c in ipairs(cases) do
        docs[#docs + 1] = obj(c)
        docs[#docs + 1] = "[" .. obj(c) .. "," .. obj(c) .. "]"
      end
      check_all(docs, "chunks")
    end)

    it("agrees when 150 nested levels each hold 130 pending items", function()
      local parts = {}
      local items = {}
      for i = 0, 129 do items[#items + 1] = ('"key_%d":%d'):format(i, i) end
      local level = "{" .. table.concat(items, ",") .. ',"key_130":'
      for d = 1, 150 do parts[d] = level end
      check_all({ table.concat(parts) .. "1" .. ("}"):rep(150) }, "stack")
    end)
  end)
end)
