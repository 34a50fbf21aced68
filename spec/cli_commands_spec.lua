-- spec/cli_commands_spec.lua - fields add, segments, senders, tags (list and add), each with
-- --json, against the sandbox; empty collections are empty lists, never errors.
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"
local cjson = require("cjson").new()

describe("egoi fields add / segments / senders / tags", function()
  local sb, cli, env

  setup(function()
    cli = helper.new()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
    env = { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"), EGOI_LEDGER = cli:path("l") }
  end)

  teardown(function()
    if sb then sb:stop() end
    cli:cleanup()
  end)

  local function run(args)
    local code, out, err = cli:run(args, env)
    assert.equal(0, code, err)
    return out
  end
  local function json(args) return cjson.decode(run("--json " .. args)) end

  it("tags: an empty list, then add and list", function()
    local out = run("--json tags")
    assert.equal("[]\n", out)
    assert.truthy(run("tags add VIP --color '#FF0000'"):find("created tag 1", 1, true))
    local added = json("tags add Press")
    assert.equal("Press", added.NAME)
    local tags = json("tags")
    assert.equal(2, #tags)
    assert.same({ id = "1", name = "VIP", color = "#FF0000" }, tags[1])
    assert.truthy(run("tags"):find("VIP", 1, true))
    local code, _, err = cli:run("tags add VIP", env)
    assert.equal(1, code)
    assert.truthy(err:find("egoi: TAG_ALREADY_EXISTS:", 1, true), err)
    code, _, err = cli:run("tags add X --color red", env)
    assert.equal(2, code)
    assert.truthy(err:find("--color", 1, true))
  end)

  it("fields add: a text field by default, --type checked", function()
    local list = json("lists create Fields").LIST_ID
    assert.truthy(run("fields add " .. list .. " city"):find("added field extra_", 1, true))
    local res = json("fields add " .. list .. " born --type data")
    assert.truthy(res.NEW_ID)
    local fields = json("fields " .. list)
    assert.equal(2, #fields)
    assert.equal("city", fields[1].name)
    assert.equal("texto", fields[1].type)
    assert.equal("data", fields[2].type)
    local code, _, err = cli:run("fields add " .. list .. " x --type bogus", env)
    assert.equal(2, code)
    assert.truthy(err:find("--type must be one of", 1, true), err)
    code = cli:run("fields add " .. list, env)
    assert.equal(2, code)
  end)

  it("segments: an empty list for a list without any, then the segments", function()
    local list = json("lists create Segs").LIST_ID
    assert.equal("[]\n", run("--json segments " .. list))
    json("call createSegment listID=" .. list .. " name=PT fields.country=pt")
    local segs = json("segments " .. list)
    assert.equal(1, #segs)
    assert.equal("PT", segs[1].name)
    assert.truthy(run("segments " .. list):find("PT", 1, true))
    local code = cli:run("segments", env)
    assert.equal(2, code)
  end)

  it("senders: the account's senders, by channel", function()
    local all = json("senders")
    assert.truthy(#all >= 1)
    assert.truthy(all[1].id and all[1].sender)
    local email = json("senders --channel email")
    for _, s in ipairs(email) do assert.equal("email", s.channel) end
    assert.truthy(run("senders"):find("FROMID", 1, true))
    local code, _, err = cli:run("senders --channel pigeon", env)
    assert.equal(2, code)
    assert.truthy(err:find("--channel", 1, true))
  end)

  it("every command's --help works and is listed in egoi --help", function()
    local top = run("--help")
    for _, c in ipairs{ "fields add", "segments", "senders", "tags add", "tags" } do
      assert.truthy(top:find("  " .. c, 1, true), c)
    end
    for _, c in ipairs{ "fields", "segments", "senders", "tags", "send", "limits" } do
      assert.truthy(run(c .. " --help"):find("usage: egoi " .. c, 1, true), c)
    end
  end)
end)
