-- spec/cli_sandbox_spec.lua - the sandbox as the CLI and `make demo` use it: a state file
-- reload keeps integer ids ("3", never "3.0") and the RNG sequence; `egoi --sandbox` uses the
-- sandbox's own key even when a real EGOI_APIKEY is exported.
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"
local cjson = require("cjson").new()

describe("the sandbox behind egoi", function()
  local cli

  setup(function() cli = helper.new() end)
  teardown(function() cli:cleanup() end)

  local function start(state)
    return server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet"
      .. (state and (" --state " .. helper.q(state)) or "") }
  end

  local function json(sb, args)
    local code, out, err = cli:run("--json " .. args, { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"),
      EGOI_LEDGER = cli:path("l") })
    assert.equal(0, code, err)
    return cjson.decode(out)
  end

  it("hands out the same ids and UIDs across a --state reload as without one", function()
    local state = cli:path("state.json")
    local sb = start(state)
    local l1 = json(sb, "lists create A").LIST_ID
    local u1 = json(sb, "call addSubscriber listID=" .. l1 .. " email=a@example.org").UID
    sb:stop()
    sb = start(state)
    local l2 = json(sb, "lists create B").LIST_ID
    local t = json(sb, "tags add T").ID
    local u2 = json(sb, "call addSubscriber listID=" .. l2 .. " email=b@example.org").UID
    sb:stop()
    assert.equal("1", l1)
    assert.equal("2", l2)
    assert.equal("1", t)
    -- the same calls against one sandbox without a reload
    sb = start(nil)
    assert.equal(l1, json(sb, "lists create A").LIST_ID)
    assert.equal(u1, json(sb, "call addSubscriber listID=1 email=a@example.org").UID)
    assert.equal(l2, json(sb, "lists create B").LIST_ID)
    json(sb, "tags add T")
    assert.equal(u2, json(sb, "call addSubscriber listID=2 email=b@example.org").UID)
    sb:stop()
  end)

  it("--sandbox ignores an exported EGOI_APIKEY (the sandbox's key wins)", function()
    local code, out, err = cli:run("--sandbox --json lists", { EGOI_APIKEY = "a-real-key-exported-in-the-shell" })
    assert.equal(0, code, err)
    assert.same({}, cjson.decode(out))
    assert.falsy((out .. err):find("a-real-key", 1, true))
  end)
end)
