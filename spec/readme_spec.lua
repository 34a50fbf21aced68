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

describe("README example", function()
  it("runs as written against the sandbox", function()
    local server = require "helpers.server"
    local f = assert(io.open("README.md"))
    local text = f:read("*a")
    f:close()
    local code = text:match("## Example.-```lua\n(.-)```")
    assert.is_string(code)
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local script = dir .. "/example.lua"
    f = assert(io.open(script, "w"))
    f:write(code)
    f:close()
    local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0" }
    local lua = os.getenv("EGOI_TEST_LUA") or "lua5.4"
    -- XDG_RUNTIME_DIR: the example's default rate-limit state file goes to a private dir
    local p = io.popen(("XDG_RUNTIME_DIR=%s EGOI_APIKEY=0123456789abcdef0123456789abcdef01234567 "
      .. "EGOI_URL=%s %s %s 2>&1"):format(dir, sb:url("/v2/rest.php"), lua, script))
    local out = p:read("*a")
    p:close()
    sb:stop()
    os.execute("rm -rf " .. dir)
    assert.matches("subscriber%s+%w+", out)
    assert.matches("EMAIL_ALREADY_EXISTS", out)
    assert.matches("ana@example.org\t1", out)
    assert.matches("145\tcalls left this hour", out, 1, true) -- 5 calls spent of 150
  end)
end)
