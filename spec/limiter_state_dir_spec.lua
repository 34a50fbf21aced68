-- spec/limiter_state_dir_spec.lua - where the default rate-limit state file
-- lives (egoi.limiter.file): $XDG_RUNTIME_DIR when it is usable, else a 0700
-- directory of the user's own (${TMPDIR:-/tmp}/egoi-<uid>), never a
-- predictable name another local user can plant. Every test points TMPDIR
-- and XDG_RUNTIME_DIR into a private temp directory, so the real default
-- file is never touched.
local core = require "egoi.core"
local file = require "egoi.limiter.file"
local sf = require "helpers.statefile"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local NAME = "egoi-ratelimit-" .. core.key_id(KEY) .. ".bin"

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local function mode(path) return (sh("stat -c %a '" .. path .. "'"):match("%d+")) end

local function env(t) return function(name) return t[name] end end

describe("the default state file", function()
  local d
  before_each(function() d = sf.tmpdir() end)
  after_each(function() sf.rmdir(d) end)

  it("is in $XDG_RUNTIME_DIR when it is a directory only we can write", function()
    os.execute("mkdir -m 700 '" .. d .. "/run'")
    assert.equal(d .. "/run/" .. NAME, file.default_path(KEY, env{ XDG_RUNTIME_DIR = d .. "/run/", TMPDIR = d }))
  end)

  it("else in a 0700 directory of our own, created on first use", function()
    local own = ("%s/egoi-%d"):format(d, core.euid())
    assert.equal(own .. "/" .. NAME, file.default_path(KEY, env{ TMPDIR = d }))
    assert.equal("700", mode(own))
    assert.equal(own .. "/" .. NAME, file.default_path(KEY, env{ TMPDIR = d }))   -- found again
    -- an unusable XDG_RUNTIME_DIR falls back to it too
    os.execute("mkdir -m 777 '" .. d .. "/open'")
    assert.equal(own .. "/" .. NAME, file.default_path(KEY, env{ XDG_RUNTIME_DIR = d .. "/open", TMPDIR = d }))
    assert.equal(own .. "/" .. NAME, file.default_path(KEY, env{ XDG_RUNTIME_DIR = "relative", TMPDIR = d }))
    assert.equal(own .. "/" .. NAME, file.default_path(KEY, env{ XDG_RUNTIME_DIR = d .. "/none", TMPDIR = d }))
  end)

  local function refused(setup, pattern)
    local own = ("%s/egoi-%d"):format(d, core.euid())
    setup(own)
    local path, err = file.default_path(KEY, env{ TMPDIR = d })
    assert.is_nil(path)
    assert.truthy(err:find(own, 1, true), err)
    if pattern then assert.truthy(err:find(pattern, 1, true), err) end
    assert.truthy(err:find("rate_limit.state_file", 1, true), err)   -- says what to do
    assert.truthy(err:find("XDG_RUNTIME_DIR", 1, true), err)
  end

  it("refuses a directory planted with an open mode", function()
    refused(function(own) os.execute("mkdir -m 777 '" .. own .. "'") end, "mode 777")
    refused(function(own) os.execute("chmod 750 '" .. own .. "'") end, "mode 750")
  end)

  it("refuses a symlink or a file at its place", function()
    os.execute("mkdir -m 700 '" .. d .. "/elsewhere'")
    refused(function(own) os.execute(("ln -s '%s/elsewhere' '%s'"):format(d, own)) end, "not a directory")
    os.execute(("rm '%s/egoi-%d'"):format(d, core.euid()))
    refused(function(own) sf.write_file(own, "x") end, "not a directory")
  end)

  it("refuses a directory another user owns", function()
    local own = ("%s/egoi-%d"):format(d, core.euid())
    os.execute("mkdir -m 700 '" .. own .. "'")
    local ok = os.execute("chown nobody '" .. own .. "' 2>/dev/null")
    if ok ~= true and ok ~= 0 then
      pending("chown needs root")
      return
    end
    refused(function() end, "owned by uid")
  end)

  it("a client whose default place is planted fails every call with the reason, sending nothing", function()
    local own = ("%s/egoi-%d"):format(d, core.euid())
    os.execute("mkdir -m 777 '" .. own .. "'")
    local lua = os.getenv("EGOI_TEST_LUA") or (jit and "luajit" or "lua5.4")
    local script = d .. "/client.lua"
    sf.write_file(script, [[
      local egoi = require "egoi"
      local sent = 0
      local t = { request = function() sent = sent + 1 end, close = function() end }
      local c = egoi.new{ apikey = ]] .. ("%q"):format(KEY) .. [[, transport = t, raise = false }
      local ok, err = c:call("getLists")
      io.write(tostring(ok), "|", err.kind, "|", err.code, "|", sent, "|", err.message)
    ]])
    local out = sh(("env -u XDG_RUNTIME_DIR TMPDIR='%s' %s '%s' 2>&1"):format(d, lua, script))
    local ok, kind, code, sent, msg = out:match("^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$")
    assert.equal("nil", ok, out)
    assert.same({ "rate_limit", "STATE_FILE_ERROR", "0" }, { kind, code, sent })
    assert.truthy(msg:find("rate_limit.state_file", 1, true), msg)
    assert.is_nil(msg:find(KEY, 1, true))
    -- with the planted directory gone, the same client setup works and makes it 0700
    os.execute("rmdir '" .. own .. "'")
    sf.write_file(script, [[
      local egoi = require "egoi"
      local t = { request = function() return 200, {}, '{"Egoi_Api":{"getLists":{"status":"success"}}}', {} end,
                  close = function() end }
      local c = egoi.new{ apikey = ]] .. ("%q"):format(KEY) .. [[, transport = t }
      c:call("getLists")
      io.write(c:rate_limit_status().used)
    ]])
    assert.equal("1", sh(("env -u XDG_RUNTIME_DIR TMPDIR='%s' %s '%s' 2>&1"):format(d, lua, script)))
    assert.equal("700", mode(own))
    assert.equal("600", mode(own .. "/" .. NAME))
  end)
end)
