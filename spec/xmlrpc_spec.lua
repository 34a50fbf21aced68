-- spec/xmlrpc_spec.lua - egoi.core XML-RPC request builder, response parser
-- and flat callback parser. Round trips go through Python's stdlib
-- xmlrpc.server (spec/servers/xmlrpc_server.py), which judges our request
-- encoding; hostile documents are plain unit tests.
local core = require "egoi.core"
local server = require "helpers.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local function post(url, body)
  local chunks = {}
  local ok, status = http.request {
    url = url,
    method = "POST",
    source = ltn12.source.string(body),
    sink = ltn12.sink.table(chunks),
    headers = { ["content-type"] = "text/xml", ["content-length"] = tostring(#body) },
  }
  assert(ok, status)
  return status, table.concat(chunks)
end

local function wrap(value_xml)
  return "<?xml version=\"1.0\"?><methodResponse><params><param><value>" .. value_xml ..
    "</value></param></params></methodResponse>"
end

local function nested_arrays(levels)
  -- `levels` nested <value>s counting the result value itself
  return "<?xml version=\"1.0\"?><methodResponse><params><param>" ..
    ("<value><array><data>"):rep(levels - 1) .. "<value>x</value>" ..
    ("</data></array></value>"):rep(levels - 1) .. "</param></params></methodResponse>"
end

local BILLION_LAUGHS = [[<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodResponse><params><param><value><string>&lol9;</string></value></param></params></methodResponse>]]

local XXE = [[<?xml version="1.0"?>
<!DOCTYPE methodResponse [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<methodResponse><params><param><value>&xxe;</value></param></params></methodResponse>]]

local INTERNAL_ENTITY = [[<?xml version="1.0"?>
<!DOCTYPE methodResponse [ <!ENTITY who "E-goi"> ]>
<methodResponse><params><param><value>&who;</value></param></params></methodResponse>]]

local DOCTYPE_ALONE = [[<?xml version="1.0"?>
<!DOCTYPE methodResponse>
<methodResponse><params><param><value>x</value></param></params></methodResponse>]]

local CALLBACK = [[<?xml version="1.0" encoding="UTF-8"?>
<subscriber>
  <UID>a1b2c3d4e5</UID>
  <LIST>3</LIST>
  <EMAIL>a@b.pt</EMAIL>
  <FIRST_NAME>Zé</FIRST_NAME>
  <EXTRA_FIELD_5>x</EXTRA_FIELD_5>
  <LAST_NAME/>
</subscriber>]]

describe("core.xmlrpc_request", function()
  it("builds one struct param with sorted members and typed scalars", function()
    local xml = core.xmlrpc_request("addSubscriber", {
      listID = 3, status = true, email = "a@b.pt", score = 1.5, off = false,
      tags = { 1, 2 },
    })
    assert.equal("<?xml version=\"1.0\"?><methodCall><methodName>addSubscriber</methodName>" ..
      "<params><param><value><struct>" ..
      "<member><name>email</name><value><string>a@b.pt</string></value></member>" ..
      "<member><name>listID</name><value><int>3</int></value></member>" ..
      "<member><name>off</name><value><boolean>0</boolean></value></member>" ..
      "<member><name>score</name><value><double>1.5</double></value></member>" ..
      "<member><name>status</name><value><boolean>1</boolean></value></member>" ..
      "<member><name>tags</name><value><array><data><value><int>1</int></value>" ..
      "<value><int>2</int></value></data></array></value></member>" ..
      "</struct></value></param></params></methodCall>", xml)
  end)

  it("is deterministic", function()
    local p = { z = 1, a = 2, m = { y = 1, b = 2, [10] = "ten", [2] = "two" } }
    local first = core.xmlrpc_request("m", p)
    for _ = 1, 20 do assert.equal(first, core.xmlrpc_request("m", p)) end
  end)

  it("escapes & < > and CR, keeps LF and TAB", function()
    local xml = core.xmlrpc_request("m", { s = "a&b<c>d\r\n\te]]>" })
    assert.truthy(xml:find("<string>a&amp;b&lt;c&gt;d&#13;\n\te]]&gt;</string>", 1, true))
  end)

  it("sends an empty params table (or nil) as an empty struct", function()
    local empty = "<?xml version=\"1.0\"?><methodCall><methodName>getUserData</methodName>" ..
      "<params><param><value><struct></struct></value></param></params></methodCall>"
    assert.equal(empty, core.xmlrpc_request("getUserData", {}))
    assert.equal(empty, core.xmlrpc_request("getUserData"))
  end)

  it("always sends params as a struct, even a sequence", function()
    local xml = core.xmlrpc_request("m", { "a", "b" })
    assert.truthy(xml:find("<param><value><struct><member><name>1</name><value><string>a</string>" ..
      "</value></member><member><name>2</name>", 1, true))
  end)

  it("sends ints beyond int32 as decimal strings", function()
    local xml = core.xmlrpc_request("m", { a = 2147483648, b = -2147483649, c = 2 ^ 53 })
    assert.truthy(xml:find("<name>a</name><value><string>2147483648</string>", 1, true))
    assert.truthy(xml:find("<name>b</name><value><string>-2147483649</string>", 1, true))
    assert.truthy(xml:find("<name>c</name><value><string>9007199254740992</string>", 1, true))
  end)

  it("rejects values XML cannot carry, naming the path", function()
    local function err(params)
      local ok, e = pcall(core.xmlrpc_request, "m", params)
      assert.is_false(ok)
      return e
    end
    assert.matches("function value at subscribers%[2%]%.cb",
      err { subscribers = { { email = "a" }, { cb = print } } })
    assert.matches("invalid UTF%-8 in string .* at a%.b", err { a = { b = "ok\255" } })
    assert.matches("invalid UTF%-8", err { a = "\237\160\128" })          -- surrogate
    assert.matches("invalid UTF%-8", err { a = "\192\175" })              -- overlong
    assert.matches("control character 0x00 .* at x", err { x = "a\0b" })
    assert.matches("control character 0x1B", err { x = "\27[0m" })
    assert.matches("cannot be carried", err { x = "\239\191\191" })       -- U+FFFF
    assert.matches("member name %(byte 4%) at bad\\xFF", err { ["bad\255"] = 1 })
    assert.matches("NaN or infinity .* at n", err { n = 0 / 0 })
    assert.matches("NaN or infinity", err { n = math.huge })
    assert.matches("boolean key", err { [true] = 1 })
    assert.matches("non%-integer number key", err { [1.5] = 1 })
    assert.matches("duplicate struct member", err { t = { [1] = "a", ["1"] = "b", x = 1 } })
    assert.matches("userdata value", err { u = io.stdout })
  end)

  it("caps table nesting at 32 levels and catches cycles", function()
    local function nest(n)
      local t = { leaf = "x" }
      for _ = 2, n do t = { t = t } end
      return t
    end
    assert.is_string(core.xmlrpc_request("m", nest(32)))
    local ok, e = pcall(core.xmlrpc_request, "m", nest(33))
    assert.is_false(ok)
    assert.matches("deeper than 32", e)
    local cyc = {}
    cyc.self = cyc
    ok, e = pcall(core.xmlrpc_request, "m", cyc)
    assert.is_false(ok)
    assert.matches("deeper than 32 .* at self%.self", e)
  end)

  it("validates the method name and argument types", function()
    assert.is_false(pcall(core.xmlrpc_request, "", {}))
    assert.is_false(pcall(core.xmlrpc_request, "get Lists", {}))
    assert.is_false(pcall(core.xmlrpc_request, "a<b", {}))
    assert.is_false(pcall(core.xmlrpc_request, {}, {}))
    assert.is_false(pcall(core.xmlrpc_request, "m", "x"))
    assert.is_string(core.xmlrpc_request("system.list_Methods:v2/x", {}))
  end)
end)

describe("XML-RPC round trips through Python's xmlrpc.server", function()
  local srv, url

  setup(function()
    srv = server.start { cmd = "python3 spec/servers/xmlrpc_server.py {port}" }
    url = srv:url("/v2/xmlrpc.php")
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local function call(method, params, max_bytes)
    local status, body = post(url, core.xmlrpc_request(method, params))
    assert.equal(200, status)
    return core.xmlrpc_response(body, max_bytes)
  end

  -- what Python decoded, as JSON (keeps int/str/bool/float/dict/list apart)
  local function judged(params)
    local ok, json = call("echo_json", params)
    assert.is_true(ok, json)
    return cjson.decode(json)
  end

  local NASTY = {
    special = [[a&b<c>d"e'f]] .. "]]>&amp;<![CDATA[x]]><!-- c --><?pi?>",
    crlf = "a\r\nb\rc\td\n\r",
    utf8 = "Zé ção 日本語 \240\159\152\128 \239\191\189",
    empty = "",
    spaces = "   ",
    del = "\127",
  }

  it("strings with every XML-special character, CR/LF/TAB, UTF-8 and empty survive", function()
    local ok, v = call("echo", NASTY)
    assert.is_true(ok)
    assert.same(NASTY, v)
    assert.same(NASTY, judged(NASTY))
  end)

  it("member names are escaped and survive too", function()
    local p = { ["a&b<c>"] = "1", ["Zé"] = "2", [""] = "3", ["x y"] = "4" }
    local ok, v = call("echo", p)
    assert.is_true(ok)
    assert.same(p, v)
  end)

  it("nested structs and arrays (a subscribers list)", function()
    local p = {
      apikey = ("ab"):rep(20),
      listID = 3,
      subscribers = {
        { email = "a@x.pt", first_name = "Ana", status = 4, tags = { 12, 15 } },
        { email = "b@x.pt", extra_5 = "x", status = 1, tags = {} },
      },
      options = { compareField = "email", operation = 2 },
    }
    local j = judged(p)
    assert.equal(3, j.listID)
    assert.equal(2, #j.subscribers)
    assert.same({ 12, 15 }, j.subscribers[1].tags)
    assert.equal("b@x.pt", j.subscribers[2].email)
    local ok, v = call("echo", p)
    assert.is_true(ok)
    assert.same({
      apikey = p.apikey,
      listID = "3",
      subscribers = {
        { email = "a@x.pt", first_name = "Ana", status = "4", tags = { "12", "15" } },
        { email = "b@x.pt", extra_5 = "x", status = "1", tags = {} },
      },
      options = { compareField = "email", operation = "2" },
    }, v)
  end)

  it("ints at the int32 boundaries are ints; larger ones travel as strings", function()
    local p = { max = 2147483647, min = -2147483648, zero = 0, neg = -1,
                over = 2147483648, under = -2147483649, big = 2 ^ 53 }
    local j = judged(p)
    assert.equal(2147483647, j.max)
    assert.equal(-2147483648, j.min)
    assert.equal(0, j.zero)
    assert.equal(-1, j.neg)
    assert.equal("2147483648", j.over)
    assert.equal("-2147483649", j.under)
    assert.equal("9007199254740992", j.big)
    local ok, v = call("echo", p)
    assert.is_true(ok)
    assert.same({ max = "2147483647", min = "-2147483648", zero = "0", neg = "-1",
                  over = "2147483648", under = "-2147483649", big = "9007199254740992" }, v)
    if math.type then -- Lua 5.3+: real 64-bit integers
      j = judged { m = math.maxinteger, n = math.mininteger }
      assert.equal("9223372036854775807", j.m)
      assert.equal("-9223372036854775808", j.n)
    end
  end)

  it("doubles round-trip exactly; integral floats are ints", function()
    local p = { a = 1.5, b = -0.1, c = 1 / 3, d = 1e-7, e = 6.02214076e23, f = 3.0 }
    local j = judged(p)
    for k, x in pairs(p) do assert.equal(x, j[k], k) end
    local ok, v = call("echo", p)
    assert.is_true(ok)
    for k, x in pairs(p) do assert.equal(x, tonumber(v[k]), k) end
    assert.equal("3", v.f)
  end)

  it("booleans go as <boolean> and come back as \"1\"/\"0\"", function()
    local j = judged { t = true, f = false }
    assert.is_true(j.t)
    assert.is_false(j.f)
    local ok, v = call("echo", { t = true, f = false })
    assert.is_true(ok)
    assert.same({ t = "1", f = "0" }, v)
  end)

  it("an empty table is an empty struct for Python ({}) and comes back as {}", function()
    local ok, json = call("echo_json", { e = {} })
    assert.is_true(ok)
    assert.equal('{"e": {}}', json)
    local ok2, v = call("echo", { e = {} })
    assert.is_true(ok2)
    assert.same({ e = {} }, v)
  end)

  it("maps a Fault to false, {faultCode=, faultString=}", function()
    local ok, f = call("faulty", {})
    assert.is_false(ok)
    assert.same({ faultCode = "4", faultString = "Too many parameters" }, f)
    ok, f = call("noSuchMethod", {})
    assert.is_false(ok)
    assert.equal("1", f.faultCode)
    assert.matches("not supported", f.faultString)
  end)

  it("returns a bare string result as is (the caller decides it is an error)", function()
    local ok, v = call("getClientData", { apikey = "x" })
    assert.is_true(ok)
    assert.equal("INVALID", v)
  end)

  it("returns an E-goi-like getLists in the REST shape", function()
    local ok, v = call("getLists", { apikey = "x" })
    assert.is_true(ok)
    assert.equal(2, #v)
    assert.equal("3", v[1].listnum)
    assert.equal("Newsletter Zé", v[1].title)
    assert.equal("130", v[1].subs_total)
    assert.equal("cidade", v[1].extra_fields[1].ref)
    assert.same({}, v[1].extra_fields[1].opcoes)
    assert.same({ "a", "b" }, v[1].extra_fields[2].opcoes)
    assert.same({}, v[2].extra_fields)
    assert.equal("0", v[2].subs_total)
  end)

  it("maps every XML-RPC scalar type to the REST shape", function()
    local ok, v = call("types", {})
    assert.is_true(ok)
    assert.same({
      int = "42", neg = "-2147483648", max = "2147483647",
      double = "3.25", huge = "1e+20", tiny = "-2.5e-07",
      yes = "1", no = "0", none = "",
      bin = "\0\1\255hello", empty_bin = "",
      when = "20240102T10:20:30",
      empty = "", spaces = "  ", empty_list = {}, empty_struct = {},
    }, v)
  end)

  it("parses a big array (50k structs) in order", function()
    local status, body = post(url, core.xmlrpc_request("big", {}))
    assert.equal(200, status)
    local ok, v = core.xmlrpc_response(body)
    assert.is_true(ok)
    assert.equal(50000, #v)
    assert.same({ listnum = "1", title = "List 1", subs_activos = "1" }, v[1])
    assert.same({ listnum = "50000", title = "List 50000", subs_activos = "0" }, v[50000])
    for i = 1, 50000, 997 do assert.equal(tostring(i), v[i].listnum) end
    local n, code, msg = core.xmlrpc_response(body, #body - 1)
    assert.is_nil(n)
    assert.equal("TOO_LARGE", code)
    assert.matches("exceeds", msg)
    assert.is_true((core.xmlrpc_response(body, #body)))
  end)
end)

describe("core.xmlrpc_response on hand-written documents", function()
  local function bad(body, max)
    local a, code, msg = core.xmlrpc_response(body, max)
    assert.is_nil(a)
    assert.is_string(msg)
    return code, msg
  end

  it("refuses billion laughs, external and internal entities, any DOCTYPE", function()
    for _, doc in ipairs { BILLION_LAUGHS, XXE, INTERNAL_ENTITY, DOCTYPE_ALONE } do
      assert.equal("DOCTYPE_FORBIDDEN", (bad(doc)))
    end
  end)

  it("treats an undeclared entity reference as malformed", function()
    assert.equal("MALFORMED_XML", (bad(wrap("<string>&xxe;</string>"))))
  end)

  it("reports malformed documents with expat's message and line", function()
    local code, msg = bad("<methodResponse>\n<params>\n<param><value>x</value></param>\n</parms>")
    assert.equal("MALFORMED_XML", code)
    assert.matches("mismatched tag at line 4", msg)
    code, msg = bad(wrap("<string>cut"):sub(1, -30))
    assert.equal("MALFORMED_XML", code)
    assert.matches("line", msg)
    assert.equal("MALFORMED_XML", (bad("HTTP/1.1 502 Bad Gateway\r\n\r\n<<>>")))
    assert.equal("MALFORMED_XML", (bad("")))
    assert.equal("MALFORMED_XML", (bad("   ")))
    assert.equal("MALFORMED_XML", (bad(wrap("<string>a\0b</string>"))))
    assert.equal("MALFORMED_XML", (bad("\0")))
  end)

  it("enforces max_bytes before parsing", function()
    local doc = wrap("<string>x</string>")
    assert.equal("TOO_LARGE", (bad(doc, #doc - 1)))
    assert.equal("TOO_LARGE", (bad("garbage", 0)))
    assert.is_true((core.xmlrpc_response(doc, #doc)))
  end)

  it("caps nesting at 64 values", function()
    local ok, v = core.xmlrpc_response(nested_arrays(64))
    assert.is_true(ok)
    for _ = 1, 63 do v = v[1] end
    assert.equal("x", v)
    assert.equal("TOO_DEEP", (bad(nested_arrays(65))))
    assert.equal("TOO_DEEP", (bad(nested_arrays(1000))))
    local deep_structs = wrap(("<struct><member><name>a</name><value>"):rep(1000))
    assert.equal("TOO_DEEP", (bad(deep_structs)))
  end)

  it("rejects unknown types, bad numbers and structural errors", function()
    local cases = {
      wrap("<float>1</float>"),
      wrap("<int>abc</int>"), wrap("<int></int>"), wrap("<int>1.5</int>"),
      wrap("<double>1.2.3</double>"), wrap("<double>nan</double>"), wrap("<double>e5</double>"),
      wrap("<boolean>2</boolean>"), wrap("<nil>x</nil>"), wrap("<base64>a$b=</base64>"),
      wrap("<base64>QQ=A</base64>"), wrap("<base64>Q</base64>"),
      wrap("text<string>x</string>"), wrap("<string>a</string><string>b</string>"),
      wrap("<string><b>x</b></string>"),
      wrap("<struct><member><value>x</value></member></struct>"),
      wrap("<struct><member><name>a</name></member></struct>"),
      wrap("<struct>text</struct>"),
      wrap("<array><value>x</value></array>"),
      "<methodCall><params/></methodCall>",
      "<methodResponse/>",
      "<methodResponse><params/></methodResponse>",
      "<methodResponse><params><param/></params></methodResponse>",
      "<methodResponse><params><param><value>1</value></param><param><value>2</value></param>" ..
        "</params></methodResponse>",
      "<methodResponse><fault><value><string>x</string></value></fault></methodResponse>",
    }
    for _, doc in ipairs(cases) do
      local code = bad(doc)
      assert.equal("MALFORMED_XML", code, doc)
    end
    local _, msg = bad(wrap("<int>abc</int>"))
    assert.matches("invalid <int>", msg)
    _, msg = bad(wrap("<float>1</float>"))
    assert.matches("unknown value type <float>", msg)
  end)

  it("keeps untyped and whitespace text as written", function()
    local function val(x)
      local ok, v = core.xmlrpc_response(wrap(x))
      assert.is_true(ok, v)
      return v
    end
    assert.equal("  ", val("  "))
    assert.equal("", val(""))
    assert.equal("plain text", val("plain text"))
    assert.equal(" a ", val("<string> a </string>"))
    assert.equal("1", val("\n  <int>1</int>\n  "))
    assert.equal("-7", val("<i4> -7 </i4>"))
    assert.equal("9007199254740993", val("<i8>9007199254740993</i8>"))
    assert.equal("+3", val("<int>+3</int>"))
    assert.equal("", val("<nil/>"))
    assert.equal("", val("<ex:nil/>"))
    assert.equal("1", val("<boolean>true</boolean>"))
    assert.equal("a&b<é\r", val("<string>a&amp;b&lt;&#233;&#13;</string>"))
    assert.equal("x<y", val("<string><![CDATA[x<y]]></string>"))
    assert.equal("a\nb", val("<string>a\r\nb</string>"))
    assert.equal("hello", val("<base64>aGVs\n bG8=</base64>"))
    assert.equal("hell", val("<base64>aGVsbA</base64>"))
    assert.same({}, val("<array><data/></array>"))
    assert.same({}, val("<array></array>"))
    assert.same({}, val("<struct/>"))
    assert.same({ a = "2" }, val("<struct><member><name>a</name><value>1</value></member>" ..
      "<member><name>a</name><value>2</value></member></struct>"))
  end)

  it("ignores comments and processing instructions, honours the declared encoding", function()
    local ok, v = core.xmlrpc_response("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n" ..
      "<!-- hi --><methodResponse><?pi x?><params><param><value><string>Z\233</string>" ..
      "</value></param></params></methodResponse>")
    assert.is_true(ok)
    assert.equal("Zé", v)
  end)

  it("raises only for usage errors", function()
    assert.is_false(pcall(core.xmlrpc_response))
    assert.is_false(pcall(core.xmlrpc_response, {}))
    assert.is_false(pcall(core.xmlrpc_response, "x", -1))
  end)
end)

describe("core.xml_flat (E-goi callback documents)", function()
  it("flattens a realistic subscriber callback", function()
    local root, t = core.xml_flat(CALLBACK)
    assert.equal("subscriber", root)
    assert.same({
      UID = "a1b2c3d4e5", LIST = "3", EMAIL = "a@b.pt", FIRST_NAME = "Zé",
      EXTRA_FIELD_5 = "x", LAST_NAME = "",
    }, t)
  end)

  it("ignores attributes, keeps text as written, first duplicate wins", function()
    local root, t = core.xml_flat('<r a="1"><A x="y"> sp </A><B>&amp;<![CDATA[<]]></B>' ..
      '<A>second</A><C></C></r>')
    assert.equal("r", root)
    assert.same({ A = " sp ", B = "&<", C = "" }, t)
    root, t = core.xml_flat("<subscriber/>")
    assert.equal("subscriber", root)
    assert.same({}, t)
  end)

  it("handles documents of 30000 fields", function()
    local parts = { "<s>" }
    for i = 1, 30000 do parts[#parts + 1] = ("<F%d>value %d</F%d>"):format(i, i, i) end
    parts[#parts + 1] = "<F1>dup</F1></s>"
    local root, t = core.xml_flat(table.concat(parts))
    assert.equal("s", root)
    assert.equal("value 1", t.F1)
    assert.equal("value 30000", t.F30000)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    assert.equal(30000, n)
  end)

  it("rejects nesting, text at the root and hostile input", function()
    local function bad(body, max)
      local a, code, msg = core.xml_flat(body, max)
      assert.is_nil(a)
      assert.is_string(msg)
      return code, msg
    end
    local code, msg = bad("<subscriber><UID><x>1</x></UID></subscriber>")
    assert.equal("MALFORMED_XML", code)
    assert.matches("unexpected nesting", msg)
    assert.equal("MALFORMED_XML", (bad(("<a>"):rep(1000) .. ("</a>"):rep(1000))))
    assert.equal("MALFORMED_XML", (bad("<subscriber>text<UID>1</UID></subscriber>")))
    assert.equal("MALFORMED_XML", (bad("<subscriber><UID>1</UID>")))
    assert.equal("MALFORMED_XML", (bad("")))
    assert.equal("MALFORMED_XML", (bad("UID=1&EMAIL=a@b.pt")))
    assert.equal("MALFORMED_XML", (bad("<s><A>a\0</A></s>")))
    assert.equal("DOCTYPE_FORBIDDEN", (bad(BILLION_LAUGHS)))
    assert.equal("DOCTYPE_FORBIDDEN", (bad(XXE)))
    assert.equal("DOCTYPE_FORBIDDEN", (bad("<!DOCTYPE s><s><A>1</A></s>")))
    assert.equal("TOO_LARGE", (bad(CALLBACK, 10)))
  end)
end)
