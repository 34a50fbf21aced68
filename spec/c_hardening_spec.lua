-- spec/c_hardening_spec.lua - the C core under hostile input: finalizers that run while a table
-- is encoded, keys PHP reads as one field, tables reached through many paths, raw control
-- characters in JSON strings, exact error messages of fb:add. Each case was found by fuzzing
-- the C core under ASan/UBSan (see fuzz/ and `make fuzz`); `make asan` runs this file too.
local core = require "egoi.core"

local function err(f, ...)
  local ok, e = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(e)
end

-- Makes every allocation run the collector hard, so finalizers run while C code allocates.
local function gc_hard()
  if not pcall(collectgarbage, "incremental", 1, 1000) then -- 5.4
    collectgarbage("setpause", 1)
    collectgarbage("setstepmul", 1000)
  end
end
local function gc_normal()
  if not pcall(collectgarbage, "incremental", 200, 100) then
    collectgarbage("setpause", 200)
    collectgarbage("setstepmul", 200)
  end
  collectgarbage("collect")
end

-- A garbage object whose finalizer calls f; arms it and drops it at once.
local function on_gc(f)
  if newproxy then -- LuaJIT: __gc only on userdata
    local p = newproxy(true)
    getmetatable(p).__gc = f
  else
    setmetatable({}, { __gc = f })
  end
end

-- A map of n long (never interned on 5.4) string keys -> value, and a copy of it.
local function long_keys(n, tag)
  local t, want = {}, {}
  for i = 1, n do
    local k = ("%s_%05d_%s"):format(tag, i, ("k"):rep(1000))
    t[k] = i
    want[k] = i
  end
  return t, want
end

-- What a finalizer may do to a table being encoded: drop every key and put the same
-- values back under equal but new key strings (a rehash in between drops the old nodes),
-- so the old key strings are garbage that the next collection frees.
local function rekey(t)
  local saved = {}
  for k, v in pairs(t) do saved[#saved + 1] = k; saved[#saved + 1] = v end
  for i = 1, #saved, 2 do t[saved[i]] = nil end
  for i = 1, 3 * #saved do t["f" .. i] = true end
  for i = 1, 3 * #saved do t["f" .. i] = nil end
  for i = 1, #saved, 2 do t[(saved[i] .. "."):sub(1, -2)] = saved[i + 1] end
end

describe("encoders and finalizers (item 1: no use after free)", function()
  after_each(gc_normal)

  -- f(t) encodes t while a finalizer rekeys it: the result is the same as without one
  -- (the old encoder read freed key strings here: ASan's heap-use-after-free)
  local function while_rekeyed(tag, f)
    for round = 1, 3 do
      local t, copy = long_keys(2000, tag .. round)
      local want = f(copy)
      gc_hard()
      on_gc(function() rekey(t) end)
      local got = f(t)
      gc_normal()
      assert(got == want, "body differs after a finalizer rekeyed the table")
    end
  end

  it("form_encode survives a finalizer that rekeys the table being encoded", function()
    while_rekeyed("e", function(t) return core.form_encode(t) end)
  end)

  -- The same in a fresh interpreter, whose small heap lets the collector free the old keys
  -- while the encoder still walks (in busted's big heap it rarely gets that far).
  it("form_encode, form_request, fb:add and xmlrpc_request survive it in a fresh interpreter", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write("local rekey = ", [==[
      function(t)
        local saved = {}
        for k, v in pairs(t) do saved[#saved + 1] = k; saved[#saved + 1] = v end
        for i = 1, #saved, 2 do t[saved[i]] = nil end
        for i = 1, 3 * #saved do t["f" .. i] = true end
        for i = 1, 3 * #saved do t["f" .. i] = nil end
        for i = 1, #saved, 2 do t[(saved[i] .. "."):sub(1, -2)] = saved[i + 1] end
      end
      local core = require "egoi.core"
      local function on_gc(g)
        if newproxy then local p = newproxy(true); getmetatable(p).__gc = g
        else setmetatable({}, { __gc = g }) end
      end
      local encoders = {
        function(t) return core.form_encode(t) end,
        function(t) return core.form_request("m", { rows = t }) end,
        function(t) local fb = core.form_buffer(); fb:add(t, "p", 7); return fb:take() end,
        function(t) return core.xmlrpc_request("m", { rows = t }) end,
      }
      for e, enc in ipairs(encoders) do
        for round = 1, 2 do
          local t, copy = {}, {}
          for i = 1, 2000 do
            local k = ("%d_%d_%05d_%s"):format(e, round, i, ("k"):rep(1000))
            t[k], copy[k] = i, i
          end
          local want = enc(copy)
          copy = nil
          collectgarbage()
          if not pcall(collectgarbage, "incremental", 1, 1000) then
            collectgarbage("setpause", 1); collectgarbage("setstepmul", 1000)
          end
          on_gc(function() rekey(t) end)
          local got = enc(t)
          if not pcall(collectgarbage, "incremental", 200, 100) then collectgarbage("setpause", 200) end
          if got ~= want then print("encoder " .. e .. ": different body"); os.exit(1) end
        end
      end
      -- a struct of integer keys emptied while its keys are turned into strings
      for round = 1, 3 do
        local t = {}
        for i = 1, 3000 do t[-i] = ("v"):rep(100) end
        collectgarbage()
        if not pcall(collectgarbage, "incremental", 1, 1000) then
          collectgarbage("setpause", 1); collectgarbage("setstepmul", 1000)
        end
        on_gc(function() for k in pairs(t) do t[k] = nil end end)
        local ok, err = pcall(core.xmlrpc_request, "m", { [round] = t })
        if not pcall(collectgarbage, "incremental", 200, 100) then collectgarbage("setpause", 200) end
        if not ok and not tostring(err):match("changed while") and not tostring(err):match("nil") then
          print(err); os.exit(1)
        end
      end
      print("ok")
    ]==])
    f:close()
    local lua = os.getenv("EGOI_TEST_LUA") or "lua5.4"
    local p = assert(io.popen(lua .. " " .. script .. " 2>&1"))
    local out = p:read("a")
    p:close()
    os.remove(script)
    assert.are.equal("ok\n", out)
  end)

  it("form_request and fb:add survive the same finalizer", function()
    while_rekeyed("q", function(t) return core.form_request("m", { rows = t }) end)
    while_rekeyed("b", function(t)
      local fb = core.form_buffer()
      fb:add({ x = 1 }, "p", 0)
      fb:add(t, "p", 1)
      return fb:take()
    end)
  end)

  it("form_encode survives a finalizer that empties the table being encoded", function()
    for round = 1, 3 do
      local t, want = long_keys(2000, "r" .. round)
      gc_hard()
      on_gc(function() for k in pairs(t) do t[k] = nil end end)
      local ok, body = pcall(core.form_encode, t)
      gc_normal()
      if ok then -- encoded before or after the finalizer emptied it, never garbage
        for name, value in body:gmatch("([^&=]+)=([^&]*)") do
          assert(want[name] == tonumber(value), "wrong field")
        end
      else
        assert.matches("cannot encode a nil", body)
      end
    end
  end)

  it("fb:add survives a finalizer that closes, fills or truncates the buffer being filled", function()
    local acts = {
      function(fb) fb:close() end,
      function(fb) fb:add({ z = 1 }, "late") end,
      function(fb) fb:truncate(0) end,
      function(fb) fb:take() end,
    }
    for i, act in ipairs(acts) do
      local fb = core.form_buffer()
      fb:add({ first = 1 }, "p")
      local t = long_keys(2000, "f" .. i)
      local returned, during = false, nil
      gc_hard()
      on_gc(function()
        during = not returned
        act(fb)
      end)
      local n = fb:add(t, "p", 1)
      returned = true
      gc_normal()
      if during then -- (an encoder that allocates as it walks lets it run in there)
        local s, row = fb:string(), core.form_encode(t, "p[1]")
        assert.are.equal(#s, n)
        assert(s:sub(-#row) == row, "the row just added is not whole at the end")
      end
      fb:close()
    end
  end)

  -- found by fuzz/encoders.c: integer keys are turned into strings (allocations) while the
  -- struct's keys are collected; a finalizer emptying the table then left NULL keys behind
  it("xmlrpc_request survives a finalizer that empties a struct of integer keys", function()
    for round = 1, 5 do
      local t = {}
      for i = 1, 3000 do t[-i] = i end
      t.s = ("s"):rep(100)
      gc_hard()
      on_gc(function() for k in pairs(t) do t[k] = nil end end)
      local ok, e = pcall(core.xmlrpc_request, "m", { [round] = t })
      gc_normal()
      assert(ok or tostring(e):match("table changed while it was being encoded")
        or tostring(e):match("cannot encode a nil"), tostring(e))
    end
  end)

  it("xmlrpc_request survives a finalizer that rekeys the table being encoded", function()
    while_rekeyed("x", function(t) return core.xmlrpc_request("m", { rows = t }) end)
  end)
end)

describe("keys PHP reads as the same field (item 2)", function()
  it("refuses an integer key and the string of its digits, naming the path", function()
    assert.are.equal([[p: keys 5 and "5" are the same PHP field name (PHP would keep only the last)]],
      err(core.form_encode, { [5] = 1, ["5"] = 2 }, "p"))
    assert.are.equal([[functionOptions[x]: keys -3 and "-3" are the same PHP field name]]
      .. " (PHP would keep only the last)",
      err(core.form_request, "m", { x = { [-3] = 1, ["-3"] = 2, y = 1 } }))
    assert.are.equal([[keys 0 and "0" are the same PHP field name (PHP would keep only the last)]],
      err(core.form_encode, { [0] = 1, ["0"] = 2 }))
    -- a sequence plus the string of one of its positions is a map, and collides too
    assert.matches([[keys 2 and "2"]], err(core.form_encode, { "a", "b", ["2"] = "c" }, "p"), 1, true)
  end)

  it("keeps keys PHP tells apart", function()
    assert.are.equal("p[5]=1&p[05]=2", core.form_encode({ [5] = 1, ["05"] = 2 }, "p"))
    assert.are.equal("p[0]=2&p[-0]=1", core.form_encode({ ["-0"] = 1, [0] = 2 }, "p"))
    assert.are.equal("p[5]=1&p[%205]=3&p[5a]=2",
      core.form_encode({ [5] = 1, ["5a"] = 2, [" 5"] = 3 }, "p"))
    assert.are.equal("p[9223372036854775808]=1",
      core.form_encode({ ["9223372036854775808"] = 1 }, "p"))
  end)

  it("refuses top-level names PHP folds together ('.' and ' ' to '_', leading spaces dropped)", function()
    local why = "are the same field once PHP turns '.' and ' ' of a top-level name into '_'"
      .. " (it would keep only the last)"
    assert.are.equal([[keys "a.b" and "a_b" ]] .. why, err(core.form_encode, { ["a.b"] = 1, a_b = 2 }))
    assert.are.equal([[keys "a b" and "a.b" ]] .. why, err(core.form_encode, { ["a b"] = 1, ["a.b"] = 2 }))
    assert.are.equal([[keys " a" and "a" ]] .. why, err(core.form_encode, { [" a"] = 1, a = 2 }))
    assert.are.equal([[keys 7 and " 7" ]] .. why, err(core.form_encode, { [7] = 1, [" 7"] = 2 }))
    assert.are.equal([[key "  " is only spaces (PHP drops such a top-level field)]],
      err(core.form_encode, { ["  "] = 1 }))
    local fb = core.form_buffer()
    assert.matches("keys \"a.b\" and \"a_b\"", err(fb.add, fb, { ["a.b"] = 1, a_b = 2 }), 1, true)
    assert.are.equal(0, fb:len())
  end)

  it("keeps such names below the top level and under a prefix, where PHP keeps them", function()
    assert.are.equal("p[a%20b]=1&p[a.b]=2&p[a_b]=3",
      core.form_encode({ ["a b"] = 1, ["a.b"] = 2, a_b = 3 }, "p"))
    assert.are.equal("x[a.b]=1&x[a_b]=2", core.form_encode({ x = { ["a.b"] = 1, a_b = 2 } }))
    assert.are.equal("a.b=1&c=2", core.form_encode({ ["a.b"] = 1, c = 2 }))
    local fb = core.form_buffer()
    fb:add({ ["a.b"] = 1, a_b = 2 }, "p", 0)
    assert.are.equal("p[0][a.b]=1&p[0][a_b]=2", fb:string())
  end)

  it("fb:add leaves the buffer as it was on a collision", function()
    local fb = core.form_buffer()
    fb:add({ a = 1 }, "p", 0)
    assert.matches([[p%[1%]%[x%]: keys 1 and "1"]], err(fb.add, fb, { x = { [1] = 1, ["1"] = 2 } }, "p", 1))
    assert.are.equal("p[0][a]=1", fb:string())
  end)
end)

describe("tables reached through many paths (item 3)", function()
  -- 2^levels paths to the innermost table
  local function dag(levels, leaf)
    local t = leaf or { x = 1, y = "v" }
    for _ = 1, levels do t = { a = t, b = t } end
    return t
  end

  it("form_encode, form_request and fb:add refuse a DAG whose paths multiply, quickly", function()
    local t0 = os.clock()
    local msg = "a table reached through many paths: more than 100000 fields walked again"
    assert.matches(msg, err(core.form_encode, dag(30)), 1, true)
    assert.matches(msg, err(core.form_encode, dag(30), "p"), 1, true)
    assert.matches(msg, err(core.form_request, "m", { d = dag(30) }), 1, true)
    local fb = core.form_buffer()
    assert.matches(msg, err(fb.add, fb, dag(30), "p", 0), 1, true)
    assert.are.equal(0, fb:len())
    assert(os.clock() - t0 < 10, "took " .. (os.clock() - t0) .. " s")
  end)

  it("xmlrpc_request refuses it too", function()
    local t0 = os.clock()
    assert.matches("a table reached through many paths", err(core.xmlrpc_request, "m", dag(30)), 1, true)
    assert.matches("at a.a.a", err(core.xmlrpc_request, "m", dag(30)), 1, true)
    assert(os.clock() - t0 < 10, "took " .. (os.clock() - t0) .. " s")
  end)

  it("still encodes a subtable shared a modest number of times", function()
    local tags = { "x", "y" }
    assert.are.equal("a[0]=x&a[1]=y&b[0]=x&b[1]=y", core.form_encode({ a = tags, b = tags }))
    local shared = { k = { 1, 2, 3 } }
    local rows = {}
    for i = 1, 1000 do rows[i] = shared end
    assert.is_string(core.form_encode({ rows = rows }))
    assert.is_string(core.xmlrpc_request("m", { rows = rows }))
    local small = dag(10)
    assert.are.equal(2048, select(2, core.form_encode(small):gsub("=", "")))
  end)

  it("cycles still fail on the depth limit", function()
    local t = {}
    t.a, t.b = t, t
    assert.matches("nested deeper than 32", err(core.form_encode, t), 1, true)
    assert.matches("deeper than 32", err(core.xmlrpc_request, "m", t), 1, true)
  end)

  it("normalize copes with a table reached through 2^60 paths, quickly", function()
    local t0 = os.clock()
    local leaf = { key_0 = "a", key_1 = "b" }
    local r = core.normalize(dag(60, leaf))
    assert(os.clock() - t0 < 10, "took " .. (os.clock() - t0) .. " s")
    local p = r
    for _ = 1, 59 do -- shared tables stay shared
      assert.are.equal(p.a, p.b)
      p = p.a
    end
    assert.are.same({ "a", "b" }, p.a)
    assert.are.same({ "a", "b" }, p.b)
    local s = { key_0 = 1 }
    assert.are.same({ { 1 }, { 1 } }, core.normalize({ key_0 = s, key_1 = s }))
    local c = {}
    c.key_0 = c
    local v, code = core.normalize(c)
    assert.is_nil(v)
    assert.are.equal("TOO_DEEP", code)
  end)
end)

describe("json_decode and control characters (item 4)", function()
  it("refuses raw bytes 0x00-0x1F inside strings with the byte position", function()
    for _, case in ipairs({
      { '"a\tb"', 3 }, { '{"k\n":1}', 4 }, { '["x\\n\1"]', 6 }, { '"' .. ("a"):rep(300) .. '\\t\31"', 304 },
      { '"\0"', 2 },
    }) do
      local v, code, msg = core.json_decode(case[1])
      assert.is_nil(v)
      assert.are.equal("MALFORMED_JSON", code)
      assert.are.equal("unescaped control character in string at byte " .. case[2], msg)
    end
  end)

  it("still decodes their escapes, whitespace between tokens and bytes >= 0x7F", function()
    assert.are.equal("a\tb\n\1\0", core.json_decode('"a\\tb\\n\\u0001\\u0000"'))
    assert.are.same({ a = "\127\255" }, core.json_decode('{\t"a"\r\n:\n"\127\255"}'))
  end)
end)

describe("form_buffer details (item 5)", function()
  it("adds an empty-prefix indexed row to a fresh buffer (no NULL + 0)", function()
    local fb = core.form_buffer()
    assert.are.equal(#"[0][a]=1", fb:add({ a = 1 }, "", 0))
    assert.are.equal("[0][a]=1", fb:string())
    local fb2 = core.form_buffer()
    assert.are.equal(0, fb2:add({}, ""))
    assert.are.equal(0, fb2:add({ e = {} }))
    assert.are.equal("", fb2:string())
  end)

  it("names the row with its whole index and the whole prefix in errors", function()
    local fb = core.form_buffer()
    assert.are.equal("p[1099511627776][x]: cannot encode a function",
      err(fb.add, fb, { x = print }, "p", 2 ^ 40))
    assert.are.equal("p[-5][x]: cannot encode a function", err(fb.add, fb, { x = print }, "p", -5))
    assert.are.equal("a\0b[3][x]: cannot encode a function", err(fb.add, fb, { x = print }, "a\0b", 3))
    assert.are.equal(0, fb:len())
  end)
end)
