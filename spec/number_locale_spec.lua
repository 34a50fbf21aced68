-- Every encoder writes numbers with csrc/buffer.c's one formatter: '.' as the decimal point
-- whatever LC_NUMERIC says (issue 12, C). The bodies written under a comma-decimal locale
-- (de_DE, built with localedef into a private directory) must equal the ones written under "C".

local core = require "egoi.core"

-- one line per encoder, the same script runs here and in the child
local SCRIPT = [[
local c = require "egoi.core"
local v = { a = 1.5, b = -2.25e-300, c = 1e300, d = 3.0, e = 0.1, f = 12345678.875, g = 7, h = -0.5 }
local out = {
  c.form_encode(v),
  c.form_request("m", v),
  c.xmlrpc_request("m", v),
  c.soap_request("urn:x", "op", v),
}
local fb = c.form_buffer()
fb:add(v, "rows", 1)
out[#out + 1] = fb:take()
io.write(table.concat(out, "\n"), "\n")
]]

local function lua_bin()
  return os.getenv("EGOI_TEST_LUA") or (rawget(_G, "jit") and "luajit" or "lua5.4")
end

local function run(prefix, script)
  local p = io.popen(("%s LUA_CPATH='%s' %s -e '%s' 2>&1"):format(prefix, os.getenv("LUA_CPATH") or "",
    lua_bin(), script:gsub("'", "'\\''")))
  local out = p:read("*a")
  p:close()
  return out
end

local function has_locale(name)
  local r = os.execute("command -v localedef >/dev/null 2>&1 && test -e /usr/share/i18n/locales/" .. name)
  return r == true or r == 0
end

-- the bodies a child writes under LC_NUMERIC=<name>.UTF-8, built with localedef into a private dir
local function under_locale(name, check)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute(("mkdir -p %s && localedef -i %s -f UTF-8 %s/%s.UTF-8 >/dev/null 2>&1 || "
    .. "test -e %s/%s.UTF-8/LC_NUMERIC"):format(dir, name, dir, name, dir, name)))
  local child = ('assert(os.setlocale("%s.UTF-8", "numeric"), "no locale")\n'):format(name)
    .. ('assert(rawget(_G, "jit") or ("%%.1f"):format(0.5) == %q, "not that locale")\n'):format(check)
    .. SCRIPT
  local out = run("LOCPATH=" .. dir, child)
  os.execute("rm -rf " .. dir)
  return out
end

describe("numbers under a comma-decimal locale", function()
  it("are written with '.' by the form, XML-RPC and SOAP encoders", function()
    -- the parent runs under "C": the reference bodies
    local ref = run("", SCRIPT)
    assert.truthy(ref:find("a=1.5&b=-2.25e-300&c=1e%2B300&d=3&e=0.1&f=12345678.875&g=7&h=-0.5", 1, true), ref)
    assert.truthy(ref:find("<value><double>1.5</double></value>", 1, true), ref)
    assert.truthy(ref:find("<value><double>-2.25e-300</double></value>", 1, true), ref)
    assert.truthy(ref:find('<value xsi:type="xsd:float">12345678.875</value>', 1, true), ref)
    assert.truthy(ref:find('<value xsi:type="xsd:int">7</value>', 1, true), ref)
    if not has_locale("de_DE") then
      pending("needs localedef and the locales package")
      return
    end
    assert.are.equal(ref, under_locale("de_DE", "0,5"))
    -- a decimal point of two bytes (U+066B, Pashto), where a one-byte replacement wrote "1.%AB5"
    if has_locale("ps_AF") then
      assert.are.equal(ref, under_locale("ps_AF", "0\217\1715"))
    end
  end)

  it("keep the C-locale bodies in this process", function()
    -- and the formatter's rules: integral floats as integers, shortest round trip
    assert.are.equal("x=3", core.form_encode({ x = 3.0 }))
    assert.are.equal("x=0.1", core.form_encode({ x = 0.1 }))
    assert.are.equal("x=0.30000000000000004", core.form_encode({ x = 0.1 + 0.2 }))
    assert.truthy(core.xmlrpc_request("m", { x = 0.1 + 0.2 }):find("<double>0.30000000000000004</double>", 1, true))
    assert.truthy(core.soap_request("urn:x", "op", { x = 0.1 + 0.2 })
      :find('xsi:type="xsd:float">0.30000000000000004<', 1, true))
    assert.truthy(core.soap_request("urn:x", "op", { x = 1e300 }):find(">1e+300<", 1, true))
    for _, enc in ipairs { function(v) return core.form_encode(v) end,
                           function(v) return core.xmlrpc_request("m", v) end,
                           function(v) return core.soap_request("urn:x", "op", v) end } do
      assert.has_error(function() enc({ x = 0 / 0 }) end)
      assert.has_error(function() enc({ x = math.huge }) end)
    end
  end)
end)
