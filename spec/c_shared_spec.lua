-- The core's encoders share one buffer, number formatter and key sorter (csrc/buffer.c,
-- issue 12 C). What sharing must not change, and what it made deterministic.
local core = require "egoi.core"

describe("shared C encoder machinery", function()
  it("refuses a number key beside the same string key before writing any value", function()
    -- whichever of the two sorts first, the duplicate is the error (not the bad value of one)
    for _ = 1, 20 do
      local ok, err = pcall(core.xmlrpc_request, "m", { [10] = "\1", ["10"] = "x" })
      assert.is_false(ok)
      assert.matches("duplicate struct member name %(a number key and the same string key%) at 10$", err)
      ok, err = pcall(core.soap_request, "urn:x", "op", { a = { [2] = "x", ["2"] = "\255" } })
      assert.is_false(ok)
      assert.matches("duplicate Map key %(a number key and the same string key%) at a%.2$", err)
    end
  end)

  it("escapes XML text the same way in both XML writers", function()
    local s = "a&b<c>d\re\"f'g\té"
    local x = core.xmlrpc_request("m", { s = s })
    local p = core.soap_request("urn:x", "op", { s = s })
    local want = "a&amp;b&lt;c&gt;d&#13;e\"f'g\té"
    assert.truthy(x:find("<string>" .. want .. "</string>", 1, true), x)
    assert.truthy(p:find('xsi:type="xsd:string">' .. want .. "</value>", 1, true), p)
    for _, enc in ipairs { function(v) return core.xmlrpc_request("m", v) end,
                           function(v) return core.soap_request("urn:x", "op", v) end } do
      local ok, err = pcall(enc, { s = "ok\0" })
      assert.is_false(ok)
      assert.matches("control character 0x00 in string %(byte 3%) cannot be carried by XML", err)
      ok, err = pcall(enc, { s = "\237\160\128" }) -- a UTF-16 surrogate
      assert.is_false(ok)
      assert.matches("invalid UTF%-8 in string %(byte 1%)", err)
    end
  end)

  it("sorts keys the same way everywhere: integers numerically first in forms, strings bytewise", function()
    local t = { b = 1, a = 2, [10] = 3, [2] = 4, B = 5 }
    assert.are.equal("2=4&10=3&B=5&a=2&b=1", core.form_encode(t))
    local x = core.xmlrpc_request("m", t)
    local names = {}
    for n in x:gmatch("<name>(.-)</name>") do names[#names + 1] = n end
    assert.are.same({ "10", "2", "B", "a", "b" }, names) -- member names sort as strings
    local keys = {}
    for k in core.soap_request("urn:x", "op", t):gmatch('<key xsi:type="xsd:%a+">(.-)</key>') do
      keys[#keys + 1] = k
    end
    assert.are.same({ "10", "2", "B", "a", "b" }, keys)
    -- big maps (qsort) and small ones (insertion) agree
    local big, want = {}, {}
    for i = 1, 200 do big["k" .. i] = i; want[#want + 1] = "k" .. i end
    table.sort(want)
    local got = {}
    for k in core.form_encode(big):gmatch("([^&=]+)=") do got[#got + 1] = k end
    assert.are.same(want, got)
  end)
end)
