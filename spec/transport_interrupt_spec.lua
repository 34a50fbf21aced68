-- spec/transport_interrupt_spec.lua - egoi.core's transport and sleep on a caught signal
-- (core.signals_catch): a read in flight ends at once (INTERRUPTED), a write runs to its end,
-- core.sleep(s, true) returns early; without catch() (or after release) nothing changes.
-- Each case runs in a child interpreter that a background shell signals once a real slow
-- server on loopback (spec/servers/slow.py) has logged the request's arrival.
local server = require "helpers.server"
local slow_server = require "helpers.slow_server"

local LUA = os.getenv("EGOI_TEST_LUA") or (rawget(_G, "jit") and "luajit" or "lua5.4")
local q = server.shell_quote

describe("a caught signal and the C transport", function()
  local slow, quick

  setup(function()
    slow = slow_server.start(30)
    quick = slow_server.start(2)
  end)

  teardown(function()
    if slow then slow:stop() end
    if quick then quick:stop() end
  end)

  local function log_of(s) return s.log end
  local function count(s, word) return s:count(word) end

  -- runs body in a child; kill_when(sig, shell_test) in it starts a background shell that sends
  -- sig to the child once shell_test holds. Returns the child's output.
  local function child(body)
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local core = require "egoi.core"
local socket = require "socket"
local pid = io.open("/proc/self/stat"):read("*l"):match("^(%d+)")
local function kill_when(sig, test)
  io.popen("sh -c '" .. "while ! " .. test .. "; do sleep 0.02; done; kill -" .. sig .. " " .. pid
    .. "' >/dev/null 2>&1 &"):close()
end
local function arrivals(log, n) return "[ \"$(grep -c arrived " .. log .. " 2>/dev/null)\" -ge " .. n .. " ]" end
]], body)
    f:close()
    local out = os.tmpname()
    os.execute(("%s %s >%s 2>&1"):format(LUA, q(script), q(out)))
    local text = server.read_file(out) or ""
    os.remove(script)
    os.remove(out)
    return text
  end

  it("ends a read in flight within a bound far below the server's delay: INTERRUPTED", function()
    local n = count(slow, "arrived")
    local text = child(([[
assert(core.signals_catch())
local c = core.http_client{ timeout = 60 }
kill_when("INT", arrivals(%q, %d))
local t0 = socket.gettime()
local st, code, msg, sent = c:request{ url = %q, idempotent = true }
print("read", tostring(st), code, msg, tostring(sent), ("%%.1f"):format(socket.gettime() - t0))
c:close()
]]):format(log_of(slow), n + 1, slow:url("/v2/rest.php?method=getLists")))
    local st, code, msg, sent, secs = text:match("^read\t(%S+)\t(%S+)\t([^\t]+)\t(%S+)\t(%S+)")
    assert.equal("nil", st, text)
    assert.equal("INTERRUPTED", code)
    assert.truthy(msg:find("SIGINT", 1, true), msg)
    assert.equal("true", sent) -- it may have reached the server: harmless for a read
    assert.is_true(tonumber(secs) < 10, text)
    assert.equal(0, count(slow, "answering")) -- no answer had come
  end)

  it("never cuts a write: it runs to its answer", function()
    local n, a = count(quick, "arrived"), count(quick, "answering")
    local text = child(([[
assert(core.signals_catch())
local c = core.http_client{ timeout = 60 }
kill_when("TERM", arrivals(%q, %d))
local st, _, body = c:request{ verb = "POST", url = %q, body = "method=createList", idempotent = false }
print("write", tostring(st), tostring(body), tostring(core.signals_caught()))
]]):format(log_of(quick), n + 1, quick:url("/v2/rest.php")))
    assert.truthy(text:find("write\t200\t{\"Egoi_Api\": {\"createList\"", 1, true), text)
    assert.truthy(text:find("\tSIGTERM\n", 1, true), text)
    assert.equal(a + 1, count(quick, "answering"))
    assert.equal(n + 1, count(quick, "arrived"))
  end)

  it("refuses nothing and cuts nothing without signals_catch() (the interpreter's SIGINT waits)", function()
    local n, a = count(quick, "arrived"), count(quick, "answering")
    -- lua.c's own SIGINT handler: "interrupted!" only once the C call returned
    local text = child(([[
local c = core.http_client{ timeout = 60 }
kill_when("INT", arrivals(%q, %d))
local ok, st, code = pcall(c.request, c, { url = %q, idempotent = true })
print("plain", tostring(ok), tostring(st), tostring(code))
]]):format(log_of(quick), n + 1, quick:url("/v2/rest.php?method=getLists")))
    assert.falsy(text:find("INTERRUPTED", 1, true), text)
    -- the child ended after the server answered: the transfer ran to its end
    assert.equal(a + 1, count(quick, "answering"), text)
  end)

  it("forgets the signal on release: a later read is not cut", function()
    local n = count(quick, "arrived")
    local text = child(([[
assert(core.signals_catch())
io.popen("kill -INT " .. pid):close()
assert(core.signals_caught() == "SIGINT")
core.signals_release()
local c = core.http_client{ timeout = 60 }
local st = c:request{ url = %q, idempotent = true }
print("after release", tostring(st))
]]):format(quick:url("/v2/rest.php?method=getLists")))
    assert.truthy(text:find("after release\t200", 1, true), text)
    assert.equal(n + 1, count(quick, "arrived"))
  end)

  it("core.sleep(s, true) returns the signal at once; without one it sleeps its time", function()
    local marker = os.tmpname()
    os.remove(marker)
    local text = child(([[
local t0 = socket.gettime()
print("plain", tostring((core.sleep(0.2, true))), socket.gettime() - t0 >= 0.19)
assert(core.signals_catch())
kill_when("INT", "[ -e %s ]")
io.open(%q, "w"):close()
t0 = socket.gettime()
local got = core.sleep(30, true)
print("cut", tostring(got), ("%%.1f"):format(socket.gettime() - t0))
print("again", tostring(core.sleep(30, true))) -- already caught: no wait at all
]]):format(marker, marker))
    os.remove(marker)
    assert.truthy(text:find("plain\tnil\ttrue", 1, true), text)
    local got, secs = text:match("cut\t(%S+)\t(%S+)")
    assert.equal("SIGINT", got, text)
    assert.is_true(tonumber(secs) < 10, text)
    assert.truthy(text:find("again\tSIGINT", 1, true), text)
  end)
end)
