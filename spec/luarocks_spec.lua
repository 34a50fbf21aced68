-- `luarocks make` builds and installs a module that loads (in a private tree).
describe("luarocks make", function()
  it("installs egoi and egoi.core, exporting only luaopen_*", function()
    if (os.getenv("EGOI_TEST_LUA") or "lua5.4") ~= "lua5.4" then
      pending("checked once, on the Lua 5.4 run")
      return
    end
    local tree = os.tmpname()
    os.remove(tree)
    local log = tree .. ".log"
    local ok = os.execute(("luarocks --lua-version=5.4 --tree=%s make --deps-mode=none "
      .. "rockspec/egoi-scm-1.rockspec CURL_INCDIR=/usr/include/x86_64-linux-gnu >%s 2>&1"):format(tree, log))
    assert.is_true(ok == true or ok == 0, io.open(log):read("*a"))
    local p = io.popen(("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' "
      .. "LUA_CPATH='%s/lib/lua/5.4/?.so;;' lua5.4 -e 'print(require(\"egoi\").VERSION, "
      .. "require(\"egoi.core\")._VERSION)' 2>&1"):format(tree, tree, tree))
    local out = p:read("*a")
    p:close()
    assert.matches("^%d+%.%d+%.%d+%s+%d+%.%d+%.%d+", out)
    p = io.popen(("nm -D --defined-only %s/lib/lua/5.4/egoi/core.so | awk '$2 ~ /[TDBR]/ {print $3}'"):format(tree))
    local syms = p:read("*a")
    p:close()
    assert.equal("luaopen_egoi_core\n", syms)
    os.execute("rm -rf " .. tree .. " " .. log)
  end)
end)
