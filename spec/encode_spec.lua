-- spec/encode_spec.lua - core.form_encode / core.form_request, judged by PHP's
-- own form parser (spec/servers/echo.php under `php -S`).
local core = require "egoi.core"
local server = require "helpers.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local PHP_CMD = "php -d post_max_size=512M -d max_input_vars=10000000 -d memory_limit=4G"
  .. " -S 127.0.0.1:{port} spec/servers/echo.php"

local function unhex(s)
  return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- echo.php value (hex string | list of {hexkey, value}) -> plain Lua value
local function php_value(v)
  if type(v) == "string" then return unhex(v) end
  local t = {}
  for _, pair in ipairs(v) do t[unhex(pair[1])] = php_value(pair[2]) end
  return t
end

-- keys of an echo.php array in PHP's order
local function php_keys(v)
  local keys = {}
  for i, pair in ipairs(v) do keys[i] = unhex(pair[1]) end
  return keys
end

local function php_field(v, name)
  for _, pair in ipairs(v) do
    if unhex(pair[1]) == name then return pair[2] end
  end
end

-- POST body (or GET with body as query when method == "GET") to echo.php
local function echo(srv, body, query, method)
  local url = srv:url("/echo" .. (query and ("?" .. query) or ""))
  local chunks = {}
  local req = { url = url, sink = ltn12.sink.table(chunks), method = method or "POST" }
  if (method or "POST") == "POST" then
    local sent = false
    req.source = function()
      if sent then return nil end
      sent = true
      return body
    end
    req.headers = {
      ["content-type"] = "application/x-www-form-urlencoded",
      ["content-length"] = tostring(#body),
    }
  else
    req.url = srv:url("/echo?" .. body .. (query and ("&" .. query) or ""))
  end
  local ok, code = http.request(req)
  assert(ok, code)
  assert(code == 200, "echo.php answered " .. tostring(code) .. ": " .. table.concat(chunks))
  return cjson.decode(table.concat(chunks))
end

-- what PHP sees under functionOptions for form_request(method, opts)
local function php_options(srv, opts)
  local doc = echo(srv, core.form_request("someMethod", opts))
  local post = php_value(doc.post)
  assert.are.equal("someMethod", post.method)
  assert.are.equal("json", post.type)
  return post.functionOptions, doc
end

local function nest(depth)
  local t = { leaf = "x" }
  for _ = 2, depth do t = { a = t } end
  return t
end

describe("core.form_encode exact output", function()
  it("writes bare first keys without prefix, brackets with one", function()
    assert.are.equal("a=1", core.form_encode({ a = 1 }))
    assert.are.equal("a[b]=c", core.form_encode({ a = { b = "c" } }))
    assert.are.equal("p[a]=1", core.form_encode({ a = 1 }, "p"))
    assert.are.equal("p[a]=1", core.form_encode({ a = 1 }, "p", "ignored"))
    assert.are.equal("a=1", core.form_encode({ a = 1 }, nil))
    assert.are.equal("a=1", core.form_encode({ a = 1 }, ""))
  end)

  it("turns sequences into [0]..[n-1] and sorts map keys", function()
    assert.are.equal("a[0]=1&a[1]=2&b=2", core.form_encode({ b = 2, a = { 1, 2 } }))
    assert.are.equal("t[0]=x&t[1]=y&t[2]=z", core.form_encode({ "x", "y", "z" }, "t"))
    -- integers first (numerically), then strings in byte order
    assert.are.equal("m[-3]=a&m[2]=b&m[10]=c&m[B]=d&m[a]=e&m[b]=f",
      core.form_encode({ b = "f", a = "e", B = "d", [10] = "c", [2] = "b", [-3] = "a" }, "m"))
    -- a non-sequence with integer keys keeps them unchanged (no shift to 0)
    assert.are.equal("m[1]=a&m[2]=b&m[5]=c&m[x]=y",
      core.form_encode({ "a", "b", [5] = "c", x = "y" }, "m"))
    assert.are.equal("m[0]=z&m[1]=a", core.form_encode({ [0] = "z", [1] = "a" }, "m"))
  end)

  it("writes scalars PHP-style", function()
    assert.are.equal("v[a]=1&v[b]=0", core.form_encode({ a = true, b = false }, "v"))
    assert.are.equal("v=0", core.form_encode({ v = 0 }))
    assert.are.equal("v=-42", core.form_encode({ v = -42 }))
    assert.are.equal("v=9007199254740992", core.form_encode({ v = 2 ^ 53 }))
    assert.are.equal("v=-9007199254740992", core.form_encode({ v = -(2 ^ 53) }))
    assert.are.equal("v=3", core.form_encode({ v = 3.0 }))
    assert.are.equal("v=0.1", core.form_encode({ v = 0.1 }))
    assert.are.equal("v=1e-07", core.form_encode({ v = 1e-7 }))
    assert.are.equal("v=1e%2B300", core.form_encode({ v = 1e300 }))
    assert.are.equal("v=123.456", core.form_encode({ v = 123.456 }))
    assert.are.equal("v=0.3333333333333333", core.form_encode({ v = 1 / 3 }))
    assert.are.equal("v=", core.form_encode({ v = "" }))
    if math.type then -- Lua 5.4 integers beyond 2^53
      assert.are.equal("v=9223372036854775807", core.form_encode({ v = math.maxinteger }))
      assert.are.equal("v=-9223372036854775808", core.form_encode({ v = math.mininteger }))
    end
  end)

  it("writes floats that read back exactly", function()
    for _, x in ipairs({ 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 1e-7, 1e300, -2.5e-300, 5e-324,
                         1.7976931348623157e308, 12345.678901234567, 2 ^ 53 + 2, 2 ^ 70 }) do
      local s = core.form_encode({ v = x }):sub(3):gsub("%%2B", "+")
      assert.are.equal(x, tonumber(s))
      assert.is_truthy(#s <= 24)
    end
  end)

  it("percent-encodes every byte outside A-Za-z0-9-_.~ in names and values", function()
    assert.are.equal("p[a%20b]=x%2By%26z%3Dw%25%5B%5D%3B%23%3F%2F~-_.",
      core.form_encode({ ["a b"] = "x+y&z=w%[];#?/~-_." }, "p"))
    assert.are.equal("p=%0D%0A%09%00%C3%A9%FF", core.form_encode({ p = "\r\n\t\0\195\169\255" }))
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    local enc = core.form_encode({ v = table.concat(all) }):sub(3)
    local expect = table.concat(all):gsub("[^%w%-_%.~]", function(c) return ("%%%02X"):format(c:byte()) end)
    assert.are.equal(expect, enc)
  end)

  it("keeps brackets of a prefix raw and encodes its other bytes", function()
    assert.are.equal("functionOptions[subscribers][7][email]=x",
      core.form_encode({ email = "x" }, "functionOptions[subscribers][7]"))
    assert.are.equal("a%20b%2B[c]=1", core.form_encode({ c = 1 }, "a b+"))
  end)

  it("emits nothing for empty tables", function()
    assert.are.equal("", core.form_encode({}))
    assert.are.equal("", core.form_encode({}, "p"))
    assert.are.equal("", core.form_encode({ x = {}, y = { z = {} } }, "p"))
    assert.are.equal("p[b]=1", core.form_encode({ a = {}, b = 1, c = {} }, "p"))
  end)

  it("is deterministic whatever the insertion order", function()
    local keys = {}
    for i = 1, 200 do keys[i] = "k" .. i end
    local t1, t2 = {}, {}
    for i = 1, 200 do t1[keys[i]] = i end
    for i = 200, 1, -1 do t2[keys[i]] = i end
    for i = 1, 150 do t2["junk" .. i] = true end
    for i = 1, 150 do t2["junk" .. i] = nil end
    local b1 = core.form_encode(t1, "p")
    assert.are.equal(b1, core.form_encode(t1, "p"))
    assert.are.equal(b1, core.form_encode(t2, "p"))
    table.sort(keys)
    local expect = {}
    for i, k in ipairs(keys) do expect[i] = "p[" .. k .. "]=" .. k:sub(2) end
    assert.are.equal(table.concat(expect, "&"), b1)
  end)

  it("does not modify its input", function()
    local t = { a = { 1, 2, 3 }, b = { c = 1.5 } }
    core.form_encode(t, "p")
    assert.are.same({ a = { 1, 2, 3 }, b = { c = 1.5 } }, t)
    assert.is_nil(getmetatable(t))
  end)
end)

describe("core.form_request exact output", function()
  it("puts method and type first, then functionOptions", function()
    assert.are.equal("method=getLists&type=json&functionOptions[apikey]=abc&functionOptions[listID]=3",
      core.form_request("getLists", { listID = 3, apikey = "abc" }))
    assert.are.equal("method=m&type=json", core.form_request("m"))
    assert.are.equal("method=m&type=json", core.form_request("m", nil))
    assert.are.equal("method=m&type=json", core.form_request("m", {}))
    assert.are.equal("method=m&type=xml&functionOptions[a]=1", core.form_request("m", { a = 1 }, "xml"))
    assert.are.equal("method=a%20b&type=j%26n", core.form_request("a b", nil, "j&n"))
  end)

  it("equals the sum of per-row encodings (bulk packing)", function()
    local rows = {}
    for i = 1, 50 do rows[i] = { email = "u" .. i .. "@x.org", first_name = "N " .. i, status = i % 5 } end
    local body = core.form_request("addSubscriberBulk", { subscribers = rows })
    local parts = { "method=addSubscriberBulk&type=json" }
    for i, row in ipairs(rows) do
      parts[#parts + 1] = core.form_encode(row, "functionOptions[subscribers][" .. (i - 1) .. "]")
    end
    assert.are.equal(table.concat(parts, "&"), body)
  end)
end)

describe("core.form_encode errors", function()
  local function err(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok)
    return e
  end

  it("names the key path of values it cannot encode", function()
    local subs = { { email = "a" }, { email = "b" }, { email = "c" }, { email = print } }
    assert.are.equal("functionOptions[subscribers][3][email]: cannot encode a function",
      err(core.form_request, "addSubscriberBulk", { apikey = "SECRETKEY", subscribers = subs }))
    assert.are.equal("p[u]: cannot encode a userdata", err(core.form_encode, { u = io.stdout }, "p"))
    assert.are.equal("p[n]: cannot encode a userdata", err(core.form_encode, { n = cjson.null }, "p"))
    assert.are.equal("t[0]: cannot encode a thread", err(core.form_encode, { t = { coroutine.create(print) } }))
    assert.are.equal("p[x]: cannot encode NaN or infinity", err(core.form_encode, { x = 0 / 0 }, "p"))
    assert.are.equal("p[x]: cannot encode NaN or infinity", err(core.form_encode, { x = math.huge }, "p"))
    assert.are.equal("p[x][y]: cannot encode NaN or infinity", err(core.form_encode, { x = { y = -math.huge } }, "p"))
  end)

  it("never shows values (the API key) in messages", function()
    local e = err(core.form_request, "getLists", { apikey = "0123456789abcdef", bad = print })
    assert.is_nil(e:find("0123456789abcdef", 1, true))
  end)

  it("rejects keys PHP cannot express, naming them", function()
    assert.are.equal([[functionOptions[x]: key "a[b" contains '[' or ']', which PHP form names cannot express]],
      err(core.form_request, "m", { x = { ["a[b"] = 1 } }))
    assert.are.equal([[key "a]b" contains '[' or ']', which PHP form names cannot express]],
      err(core.form_encode, { ["a]b"] = 1 }))
    assert.are.equal([[p[x]: key "" is empty (PHP would read [] as an append)]],
      err(core.form_encode, { x = { [""] = 1 } }, "p"))
    assert.are.equal("p: a key contains a NUL byte, which PHP form names cannot express",
      err(core.form_encode, { ["a\0b"] = 1 }, "p"))
    assert.are.equal("p[x]: cannot encode a boolean key", err(core.form_encode, { x = { [true] = 1 } }, "p"))
    assert.are.equal("p: cannot encode a table key", err(core.form_encode, { [{}] = 1 }, "p"))
    assert.are.equal("p: cannot encode a non-integer number key", err(core.form_encode, { [1.5] = 1 }, "p"))
  end)

  it("limits nesting to 32 tables (and so catches cycles)", function()
    assert.is_string(core.form_encode(nest(32), "p"))
    local e = err(core.form_encode, nest(33), "p")
    assert.are.equal("p" .. ("[a]"):rep(32) .. ": tables nested deeper than 32 levels (cycle?)", e)
    local t = {}
    t.self = t
    assert.is_truthy(err(core.form_encode, t):find("nested deeper than 32", 1, true))
    local a, b = {}, {}
    a[1], b[1] = b, a
    assert.is_truthy(err(core.form_request, "m", { a }):find("nested deeper than 32", 1, true))
  end)

  it("raises usage errors for bad arguments", function()
    assert.is_truthy(err(core.form_encode, "x"):find("table expected", 1, true))
    assert.is_truthy(err(core.form_encode, nil):find("table expected", 1, true))
    assert.is_truthy(err(core.form_encode, {}, {}):find("string expected", 1, true))
    assert.is_truthy(err(core.form_request, nil):find("string expected", 1, true))
    assert.is_truthy(err(core.form_request, "m", "x"):find("table expected", 1, true))
  end)

  it("keeps working after errors", function()
    for _ = 1, 100 do pcall(core.form_encode, { a = { b = { c = print } } }, "p") end
    assert.are.equal("p[a]=1", core.form_encode({ a = 1 }, "p"))
  end)
end)

describe("core.form_request buffer reuse", function()
  -- form_request/form_encode share one buffer box per Lua state; a __gc finalizer that runs
  -- during an encoding's allocation and encodes too must get a box of its own.
  local function finalizer(fn)
    if _VERSION == "Lua 5.1" then -- LuaJIT: __gc only on userdata
      local p = newproxy(true) -- luacheck: ignore newproxy
      getmetatable(p).__gc = fn
      return p
    end
    return setmetatable({}, { __gc = fn })
  end

  it("gives every call, nested ones from finalizers included, its own exact body", function()
    local big = {}
    for i = 1, 300 do big["k" .. i] = ("v"):rep(40) .. i end
    local want = core.form_request("m", big)
    local seen = 0
    for _ = 1, 40 do
      for _ = 1, 50 do
        finalizer(function()
          assert(core.form_request("g", { a = "b" }) == "method=g&type=json&functionOptions[a]=b")
          assert(core.form_encode({ x = { 1, 2 } }) == "x[0]=1&x[1]=2")
          seen = seen + 1
        end)
      end
      assert.are.equal(want, core.form_request("m", big))
      assert.are.equal(want:sub(#"method=m&type=json&" + 1):gsub("functionOptions%[(k%d+)%]", "%1"),
        (core.form_encode(big)))
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(2000, seen)
  end)

  it("frees what a finalizer encodes after the shared box was collected (lua_close)", function()
    -- a finalizer registered before egoi.core runs after the shared box's own __gc at
    -- lua_close; valgrind judges that its buffers are freed (Lua 5.4 run only: LuaJIT unloads
    -- C modules before such late finalizers run, whatever the module)
    if _VERSION ~= "Lua 5.4" or not os.execute("command -v valgrind >/dev/null 2>&1") then
      pending("needs valgrind and Lua 5.4")
      return
    end
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local early = setmetatable({}, { __gc = function()
  package.loaded["egoi.core"].form_encode({ a = ("x"):rep(1000), b = { 1, 2, 3 } })
end })
local core = require "egoi.core"
core.form_encode({ x = 1 })
]])
    f:close()
    local ok = os.execute(("LUA_CPATH='%s' valgrind -q --leak-check=full --errors-for-leak-kinds=definite "
      .. "--error-exitcode=99 lua5.4 %s >/dev/null 2>&1"):format(os.getenv("LUA_CPATH") or "", script))
    os.remove(script)
    assert.is_true(ok == true or ok == 0)
  end)

  it("keeps working with a large body between small ones", function()
    local huge = { s = ("x"):rep(200000) }
    assert.are.equal(200000 + #"method=m&type=json&functionOptions[s]=", #core.form_request("m", huge))
    assert.are.equal("method=m&type=json&functionOptions[a]=1", core.form_request("m", { a = 1 }))
  end)
end)

describe("core.form_encode judged by PHP", function()
  local srv

  setup(function()
    srv = server.start { cmd = PHP_CMD }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  local nasty = {
    plus = "a+b@x.org", amp = "a&b", eq = "a=b", pct = "100%", pct2 = "%41%zz%",
    brackets = "[x][y]", semi = "a;b", hash = "a#b", q = "a?b", slash = "a/b",
    space = " a  b ", nl = "a\nb", tab = "a\tb", cr = "a\r\nb", nul = "a\0b\0",
    utf8 = "Olá, São Paulo — 東京 😀", invalid = "\255\254\192\128\237\160\128x\195",
    empty = "",
  }

  it("reads back every special string as bytes", function()
    local fo = php_options(srv, { s = nasty })
    assert.are.same(nasty, fo.s)
  end)

  it("reads back names with unusual but legal characters", function()
    local t = {}
    for k, v in pairs(nasty) do
      if k ~= "empty" and k ~= "brackets" and k ~= "nul" then t[v] = k end
    end
    t["a.b"], t["a b"], t[" lead"], t["x.y z"], t["01"] = "dot", "sp", "lead", "both", "zero"
    local fo = php_options(srv, { names = t })
    assert.are.same(t, fo.names)
  end)

  it("PHP mangles '.' and ' ' only in the top-level name", function()
    local post = php_value(echo(srv, core.form_encode({ ["a.b c"] = { ["d.e f"] = "v" } })).post)
    assert.are.same({ ["a_b_c"] = { ["d.e f"] = "v" } }, post)
  end)

  it("reads back nested maps, arrays of maps, arrays of scalars", function()
    local opts = {
      apikey = ("ab12"):rep(10), listID = 7,
      subscriber = { email = "x+y@z.org", extra = { ["1"] = "one", deep = { er = { est = "!" } } } },
      subscribers = { { email = "a@x", status = 4 }, { email = "b@x", status = 1, tags = { 3, 4 } } },
      tags = { 12, 15, 99 },
      flags = { on = true, off = false },
    }
    local fo = php_options(srv, opts)
    assert.are.same({
      apikey = opts.apikey, listID = "7",
      subscriber = { email = "x+y@z.org", extra = { ["1"] = "one", deep = { er = { est = "!" } } } },
      subscribers = { ["0"] = { email = "a@x", status = "4" },
                      ["1"] = { email = "b@x", status = "1", tags = { ["0"] = "3", ["1"] = "4" } } },
      tags = { ["0"] = "12", ["1"] = "15", ["2"] = "99" },
      flags = { on = "1", off = "0" },
    }, fo)
  end)

  it("reads back numbers", function()
    local fo = php_options(srv, { n = { neg = -17, zero = 0, big = 2 ^ 53, f1 = 0.1, f2 = 1e-7, f3 = 1e300,
                                        third = 1 / 3 } })
    assert.are.same({ neg = "-17", zero = "0", big = "9007199254740992", f1 = "0.1", f2 = "1e-07",
                      f3 = "1e+300", third = "0.3333333333333333" }, fo.n)
    assert.are.equal(1 / 3, tonumber(fo.n.third))
    assert.are.equal(1e300, tonumber(fo.n.f3))
  end)

  it("sends nothing for empty tables and keeps mixed integer keys", function()
    local fo, doc = php_options(srv, { empty = {}, e2 = { x = {} },
                                       mixed = { "a", "b", [5] = "c", [-1] = "m", x = "y" } })
    assert.is_nil(fo.empty)
    assert.is_nil(fo.e2)
    assert.are.same({ ["-1"] = "m", ["1"] = "a", ["2"] = "b", ["5"] = "c", x = "y" }, fo.mixed)
    local mixed = php_field(php_field(doc.post, "functionOptions"), "mixed")
    assert.are.same({ "-1", "1", "2", "5", "x" }, php_keys(mixed))
  end)

  it("sends keys in sorted order, the same body twice", function()
    local opts = { zeta = 1, alpha = 2, Beta = 3, [3] = 4, [1] = 5, ["10"] = 6, ["9"] = 7 }
    local b1 = core.form_request("m", opts)
    assert.are.equal(b1, core.form_request("m", opts))
    local doc = echo(srv, b1)
    local fo = php_field(doc.post, "functionOptions")
    assert.are.same({ "1", "3", "10", "9", "Beta", "alpha", "zeta" }, php_keys(fo))
  end)

  it("parses the same way from a GET query string", function()
    local body = core.form_request("getLists", { apikey = "k", s = nasty, tags = { 1, 2 } })
    local doc = echo(srv, body, nil, "GET")
    assert.are.equal("GET", doc.method)
    local get = php_value(doc.get)
    assert.are.same(nasty, get.functionOptions.s)
    assert.are.same({ ["0"] = "1", ["1"] = "2" }, get.functionOptions.tags)
  end)

  it("round-trips a 100k rows x 5 fields bulk body", function()
    local N = 100000
    local rows = {}
    for i = 1, N do
      rows[i] = { email = "user" .. i .. "+tag@example.com", first_name = "Nome " .. i,
                  last_name = "São-" .. i, cellphone = "351-91" .. (1000000 + i), status = i % 5 }
    end
    local t0 = os.clock()
    local body = core.form_request("addSubscriberBulk", { listID = 1, subscribers = rows })
    local t_whole = os.clock() - t0
    t0 = os.clock()
    local total = #"method=addSubscriberBulk&type=json&functionOptions[listID]=1"
    for i = 1, N do
      total = total + 1 + #core.form_encode(rows[i], "functionOptions[subscribers][" .. (i - 1) .. "]")
    end
    local t_rows = os.clock() - t0
    assert.are.equal(#body, total)
    if os.getenv("EGOI_ENCODE_BENCH") then
      print(("\n100k-row body: %.1f MB, whole %.3fs, row by row %.3fs"):format(#body / 1e6, t_whole, t_rows))
    end
    local picks = { 0, 4711, N - 1 }
    local q = { "echo=summary" }
    for _, i in ipairs(picks) do q[#q + 1] = "select[]=post/functionOptions/subscribers/" .. i end
    q[#q + 1] = "select[]=post/functionOptions/subscribers/" .. N
    q[#q + 1] = "select[]=post/functionOptions/listID"
    local doc = echo(srv, body, table.concat(q, "&"))
    assert.are.equal(#body, doc.body_length)
    assert.are.equal(N * 5 + 3, doc.leaves.post)
    for j, i in ipairs(picks) do
      local r = rows[i + 1]
      assert.is_true(doc.selected[j].found)
      assert.are.same({ email = r.email, first_name = r.first_name, last_name = r.last_name,
                        cellphone = r.cellphone, status = tostring(r.status) }, php_value(doc.selected[j].value))
    end
    assert.is_false(doc.selected[4].found)
    assert.are.equal("1", php_value(doc.selected[5].value))
  end)
end)

describe("form_buffer (bulk packing)", function()
  local rows = {
    { email = "a+b@example.org", first_name = "Zé", extra_5 = "x&y=z" },
    { email = "c@example.org", tags = { 1, 2 }, status = 1 },
    { email = "d@example.org", cellphone = "351-912345678" },
  }

  it("packs rows exactly as form_encode encodes the whole list", function()
    local fb = core.form_buffer()
    local sizes = {}
    for i, row in ipairs(rows) do sizes[i] = fb:add(row, "functionOptions[subscribers]", i - 1) end
    assert.equal(fb:len(), sizes[3])
    local packed = fb:take()
    assert.equal(core.form_encode({ subscribers = rows }, "functionOptions"), packed)
    assert.equal(0, fb:len())
    fb:close()
  end)

  it("drops the last row again with truncate", function()
    local fb = core.form_buffer()
    fb:add(rows[1], "p", 0)
    local before = fb:len()
    fb:add(rows[2], "p", 1)
    fb:truncate(before)
    assert.equal(core.form_encode({ rows[1] }, "p"), fb:take())
    assert.has_error(function() fb:truncate(10) end)
  end)

  it("leaves the buffer intact when a row cannot be encoded", function()
    local fb = core.form_buffer()
    fb:add(rows[1], "p", 0)
    local before = fb:len()
    local ok, err = pcall(fb.add, fb, { f = print }, "p", 1)
    assert.is_false(ok)
    assert.matches("p%[1%]%[f%]: cannot encode a function", err)
    assert.equal(before, fb:len())
    fb:close()
    fb:close() -- idempotent
  end)
end)
