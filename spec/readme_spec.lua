-- The README's method table is generated from the catalogue; keep it true.
describe("README", function()
  it("has the method table of the current catalogue", function()
    local lua = os.getenv("EGOI_TEST_LUA") or "lua5.4"
    local ok = os.execute(lua .. " tools/readme_methods.lua --check")
    assert.is_true(ok == true or ok == 0)
  end)
end)

describe("rockspec", function()
  it("installs every Lua module under lua/egoi", function()
    local lua = os.getenv("EGOI_TEST_LUA") or "lua5.4"
    local ok = os.execute(lua .. " tools/rockspec_modules.lua --check")
    assert.is_true(ok == true or ok == 0)
  end)
end)
