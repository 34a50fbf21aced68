-- spec/cli_timeout_spec.lua - a stalled server never hangs `egoi`: --timeout / EGOI_TIMEOUT
-- bound every attempt, the total is stated in --help, and Ctrl-C (SIGINT) ends the command.
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"
local socket = require "socket"

describe("egoi against a stalled server", function()
  local bad, cli, env

  setup(function()
    cli = helper.new()
    bad = server.start{ cmd = "python3 spec/servers/misbehave.py {port}" }
    env = { EGOI_APIKEY = helper.KEY, EGOI_URL = bad:url("/hang") }
  end)

  teardown(function()
    if bad then bad:stop() end
    cli:cleanup()
  end)

  it("--timeout bounds a read: 3 attempts, then exit 3 with a hint", function()
    local code, out, err, secs = cli:run("--timeout 1 lists", env)
    assert.equal(3, code, err)
    assert.equal("", out)
    assert.truthy(err:find("egoi: TIMEOUT:", 1, true), err)
    assert.truthy(err:find("--timeout", 1, true), err)
    assert.truthy(secs < 20, "took " .. secs .. " s") -- 3 x 1 s + back-off, generously
  end)

  it("EGOI_TIMEOUT does the same; --timeout wins over it", function()
    local e = { EGOI_APIKEY = helper.KEY, EGOI_URL = bad:url("/hang"), EGOI_TIMEOUT = "1" }
    local code, _, err, secs = cli:run("lists", e)
    assert.equal(3, code, err)
    assert.truthy(secs < 20)
    e.EGOI_TIMEOUT = "600"
    code, _, err, secs = cli:run("lists --timeout 1", e)
    assert.equal(3, code, err)
    assert.truthy(secs < 20)
  end)

  it("refuses a bad timeout with a sentence (exit 2)", function()
    for _, bad_value in ipairs{ "0", "-1", "abc", "1e999", "99999", "" } do
      local code, _, err = cli:run("--timeout " .. helper.q(bad_value) .. " lists", env)
      assert.equal(2, code, bad_value .. ": " .. err)
      assert.truthy(err:find("--timeout must be", 1, true), err)
      code, _, err = cli:run("lists", { EGOI_APIKEY = helper.KEY, EGOI_URL = bad:url("/hang"),
        EGOI_TIMEOUT = bad_value ~= "" and bad_value or "x" })
      assert.equal(2, code, bad_value .. ": " .. err)
      assert.truthy(err:find("EGOI_TIMEOUT must be", 1, true), err)
    end
  end)

  it("states the default and the bound in --help", function()
    local code, out = cli:run("--help", {})
    assert.equal(0, code)
    assert.truthy(out:find("default 30", 1, true))
    assert.truthy(out:find("92 s by default", 1, true))
  end)

  it("ends on SIGINT within one attempt, exit 130, no Lua text", function()
    local dir = cli.dir
    local pidf, rcf, errf = dir .. "/int.pid", dir .. "/int.rc", dir .. "/int.err"
    local e = ("EGOI_APIKEY=%s EGOI_URL=%s EGOI_RATE_LIMIT=off XDG_STATE_HOME=%s LUA_CPATH=%s"):format(
      helper.KEY, helper.q(bad:url("/hang")), helper.q(dir),
      helper.q((os.getenv("LUA_CPATH") or ""):gsub("/jit/", "/5.4/")))
    os.execute(("sh -c '%s lua5.4 bin/egoi --timeout 4 lists 2>%s & echo $! >%s; wait $!; echo $? >%s' "
      .. ">/dev/null 2>&1 &"):format(e:gsub("'", "'\\''"), errf, pidf, rcf))
    local pid
    for _ = 1, 100 do
      pid = (server.read_file(pidf) or ""):match("%d+")
      if pid then break end
      socket.sleep(0.05)
    end
    assert.truthy(pid)
    socket.sleep(1)
    local t0 = socket.gettime()
    os.execute("kill -INT " .. pid)
    local rc
    for _ = 1, 400 do
      rc = (server.read_file(rcf) or ""):match("%d+")
      if rc then break end
      socket.sleep(0.05)
    end
    local secs = socket.gettime() - t0
    assert.equal("130", rc)
    assert.truthy(secs < 10, "took " .. secs .. " s after SIGINT")
    local err = server.read_file(errf) or ""
    assert.truthy(err:find("egoi: INTERRUPTED:", 1, true), err)
    assert.is_true(helper.no_internals(err), err)
  end)
end)
