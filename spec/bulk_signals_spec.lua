-- spec/bulk_signals_spec.lua - core.signals_*: the first SIGINT/SIGTERM is a flag the import
-- polls, the second one ends the process at once (run in a child interpreter).
local server = require "helpers.server"

local LUA = os.getenv("EGOI_TEST_LUA") or (rawget(_G, "jit") and "luajit" or "lua5.4")

describe("core.signals", function()
  local function child(body)
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local core = require "egoi.core"
local pid = io.open("/proc/self/stat"):read("*l"):match("^(%d+)")
-- io.popen, not os.execute: system() ignores SIGINT in the caller while it runs
local function kill(sig) io.popen("kill -" .. sig .. " " .. pid):close() end
]], body)
    f:close()
    local out = os.tmpname()
    local ok, how, code = os.execute(("%s %s >%s 2>&1"):format(LUA, script, out))
    if type(ok) == "number" then how, code = "exit", ok / 256 end
    local text = server.read_file(out) or ""
    os.remove(script)
    os.remove(out)
    return how, code, text
  end

  it("turns the first SIGINT into a flag and lets the second one kill", function()
    local how, code, text = child([[
assert(core.signals_catch())
assert(core.signals_caught() == nil)
kill("INT")
io.write("caught ", tostring(core.signals_caught()), "\n")
io.flush()
kill("INT")
io.write("still alive\n")
]])
    assert.truthy(text:find("caught SIGINT", 1, true), text)
    assert.falsy(text:find("still alive", 1, true), text)
    -- the shell reports a death by SIGINT as 128 + 2
    assert.is_true((how == "exit" and code == 130) or how == "signal", how .. " " .. tostring(code))
  end)

  it("reports SIGTERM, and release restores the defaults and forgets the flag", function()
    local how, code, text = child([[
assert(core.signals_catch())
kill("TERM")
io.write("caught ", tostring(core.signals_caught()), "\n")
core.signals_release()
io.write("after release ", tostring(core.signals_caught()), "\n")
io.flush()
kill("TERM")
io.write("still alive\n")
]])
    assert.truthy(text:find("caught SIGTERM", 1, true), text)
    assert.truthy(text:find("after release nil", 1, true), text)
    assert.falsy(text:find("still alive", 1, true), text)
    assert.is_true((how == "exit" and code == 143) or how == "signal", how .. " " .. tostring(code))
  end)
end)
