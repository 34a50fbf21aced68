-- spec/cli_wait_spec.lua - a rate-limit wait over a second is never silent: every command
-- says on stderr what it waits for and until when (import: in its progress output).
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"

describe("egoi waiting on the rate limiter", function()
  local sb, cli

  setup(function()
    cli = helper.new()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
  end)

  teardown(function()
    if sb then sb:stop() end
    cli:cleanup()
  end)

  it("says what it waits for and until when, as a line in a pipe", function()
    local env = { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"), EGOI_RATE_LIMIT = "1/3",
      EGOI_RATE_STATE = cli:path("rl.bin") }
    local code, _, err = cli:run("lists", env)
    assert.equal(0, code, err)
    assert.equal("", err) -- no wait, no line
    code, _, err = cli:run("lists", env)
    assert.equal(0, code, err)
    assert.matches("egoi: waiting %d+s %(until %d%d:%d%d:%d%d%) for a rate%-limit slot: 1 of 1 calls used", err)
    assert.truthy(err:find("next call getLists", 1, true), err)
    -- --quiet: silent
    code, _, err = cli:run("--quiet lists", env)
    assert.equal(0, code, err)
    assert.equal("", err)
  end)

  it("shows the wait in the import's progress lines", function()
    local env = { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"), EGOI_RATE_LIMIT = "1/2",
      EGOI_RATE_STATE = cli:path("rl2.bin"), EGOI_LEDGER = cli:path("l") }
    local code, out, err = cli:run("--json lists create W", { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/") })
    assert.equal(0, code, err)
    local list = out:match('"LIST_ID":"?(%d+)')
    local csv = cli:path("w.csv")
    local f = assert(io.open(csv, "w"))
    f:write("email\na@example.org\nb@example.org\n")
    f:close()
    code, out, err = cli:run("import " .. list .. " " .. csv .. " --max-rows 1", env)
    assert.equal(0, code, err)
    assert.truthy(out:find("2 sent", 1, true), out)
    assert.matches("egoi: import: waiting %d+s %(until %d%d:%d%d:%d%d%) for a rate%-limit slot", err)
  end)
end)
