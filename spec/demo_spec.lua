-- `make demo`: examples/newsletter.lua runs the newsletter job against a private sandbox on API
-- v2 and on API v3 (the same steps; v3 cannot create segments), under this pass's Lua.
local LUA = os.getenv("EGOI_TEST_LUA") or "lua5.4"
local BUILD = LUA == "luajit" and "build/jit" or "build/5.4"

local function demo(api)
  local cmd = ("env -u EGOI_APIKEY -u EGOI_URL -u EGOI_CONTACTS EGOI_API=%s LUA_PATH='lua/?.lua;lua/?/init.lua;;'"
    .. " LUA_CPATH='%s/?.so;;' %s examples/newsletter.lua 2>&1; echo \"exit $?\""):format(api, BUILD, LUA)
  local p = assert(io.popen(cmd)) -- the exit status in the output: LuaJIT's close() gives none
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("exit (%d+)%s*$"))
  return out, rc == 0
end

describe("the newsletter demo", function()
  for _, api in ipairs{ "v2", "v3" } do
    it("runs its eight steps on API " .. api .. " against a private sandbox", function()
      local out, ok = demo(api)
      assert.is_true(ok, out)
      assert.matches("running on API " .. api .. " against a private sandbox", out, 1, true)
      for step = 1, 8 do assert.matches("\n" .. step .. "%. ", out) end
      assert.matches("3. imported [^\n]*: 303 rows read, 300 sent in 1 call%(s%), 3 rejected", out)
      assert.matches("line 302 rejected: not an e-mail address", out, 1, true)
      assert.matches("4. tagged 300 active", out, 1, true)
      local sent = out:match("| (%a+) +| +(%d+) |")
      assert.is_truthy(sent, out)
      assert.matches("| " .. (api == "v2" and "SENT" or "sends") .. " +| +300 |", out)
      local used = tonumber(out:match("API calls used this hour: (%d+) of 150"))
      assert.is_truthy(used and used < 40, out)
      assert.is_nil(out:find("0123456789abcdef0123456789abcdef01234567", 1, true))
    end)
  end

  it("refuses an unknown API before any call", function()
    local out, ok = demo("v4")
    assert.is_false(ok)
    assert.matches('EGOI_API must be v2 or v3, got "v4"', out, 1, true)
  end)
end)
