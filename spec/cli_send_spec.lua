-- spec/cli_send_spec.lua - `egoi send` keeps a ledger: a rerun never mails a list twice, an
-- unknown outcome has its own exit code (5) and blocks a repeat until --again; the library's
-- egoi.send_guard does the same for client:call / client.send:email.
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"
local cjson = require("cjson").new()

local KEY = helper.KEY

describe("egoi send and its ledger", function()
  local sb, bad, cli, env

  setup(function()
    cli = helper.new()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
    bad = server.start{ cmd = "python3 spec/servers/misbehave.py {port}" }
    env = { EGOI_APIKEY = KEY, EGOI_URL = sb:url("/"), EGOI_LEDGER = cli:path("sends.ledger") }
  end)

  teardown(function()
    if sb then sb:stop() end
    if bad then bad:stop() end
    cli:cleanup()
  end)

  local function json(args, e)
    local code, out, err = cli:run("--json " .. args, e or env)
    assert.equal(0, code, err)
    return cjson.decode(out)
  end

  local function campaign()
    local list = json("lists create Sends").LIST_ID
    json("call addSubscriber listID=" .. list .. " email=a@example.org status=1")
    json("call addSubscriber listID=" .. list .. " email=b@example.org status=1")
    local hash = json("campaign create-email --list " .. list .. " --subject Hi --from 1 --url http://example.com/").ID
    return hash, list
  end

  it("refuses a repeat (exit 6, nothing sent) until --again", function()
    local hash, list = campaign()
    local code, out, err = cli:run("send " .. hash .. " --list " .. list, env)
    assert.equal(0, code, err)
    assert.truthy(out:find("sending campaign " .. hash, 1, true))
    code, out, err = cli:run("send " .. hash .. " --list " .. list, env)
    assert.equal(6, code)
    assert.equal("", out)
    assert.truthy(err:find("egoi: ALREADY_SENT:", 1, true), err)
    assert.truthy(err:find("egoi report " .. hash, 1, true), err)
    assert.truthy(err:find("--again", 1, true))
    -- the report counts one send
    assert.equal(2, tonumber(json("report " .. hash).SENT))
    -- --json: the error document on stdout too
    code, out = cli:run("--json send " .. hash .. " --list " .. list, env)
    assert.equal(6, code)
    local doc = cjson.decode(out)
    assert.equal("ALREADY_SENT", doc.error.code)
    assert.equal(6, doc.error.exit)
    -- a different target is another send
    code, out, err = cli:run("send " .. hash .. " --list " .. list .. " --segment 99", env)
    assert.are_not.equal(6, code, out .. err)
    -- --again sends once more, and says so in the ledger
    code, out, err = cli:run("send " .. hash .. " --list " .. list .. " --again", env)
    assert.equal(0, code, err)
    assert.truthy(out:find("sending campaign", 1, true))
    assert.equal(4, tonumber(json("report " .. hash).SENT))
    local outcomes = {}
    for _, line in ipairs(server.read_lines(env.EGOI_LEDGER)) do
      local r = cjson.decode(line)
      outcomes[#outcomes + 1] = r.outcome
    end
    assert.same({ "pending", "sent", "pending", "failed", "pending", "sent" }, outcomes)
  end)

  it("two sends started at once mail the list once", function()
    local hash, list = campaign()
    local e = ""
    for k, v in pairs(env) do e = e .. k .. "=" .. helper.q(v) .. " " end
    local cpath = helper.q((os.getenv("LUA_CPATH") or ""):gsub("/jit/", "/5.4/"))
    local one = ("env %s LUA_CPATH=%s EGOI_RATE_LIMIT=off lua5.4 bin/egoi send %s --list %s >/dev/null 2>&1")
      :format(e, cpath, hash, list)
    os.execute(("(%s & %s & %s & wait)"):format(one, one, one))
    assert.equal(2, tonumber(json("report " .. hash).SENT)) -- two subscribers, one send
  end)

  it("keeps the ledger private (0600) and refuses a path that is not a regular file", function()
    local p = io.popen("stat -c %a " .. helper.q(env.EGOI_LEDGER))
    local mode = p:read("*l")
    p:close()
    assert.equal("600", mode)
    local code, _, err = cli:run("--ledger " .. helper.q(cli.dir) .. " send abc --list 1", env)
    assert.equal(2, code)
    assert.truthy(err:find("not a regular file", 1, true), err)
    code, _, err = cli:run("send abc --list 1", { EGOI_APIKEY = KEY, EGOI_URL = sb:url("/"),
      EGOI_LEDGER = "/dev/null" })
    assert.equal(2, code)
    assert.truthy(err:find("not a regular file", 1, true), err)
  end)

  it("stops at a corrupt ledger with a clear error, never ignoring it", function()
    local path = cli:path("corrupt.ledger")
    local f = assert(io.open(path, "w"))
    f:write('{"key":"x","id":"1","outcome":"sent"}\nnot json\n')
    f:close()
    local hash, list = campaign()
    local code, _, err = cli:run("send " .. hash .. " --list " .. list,
      { EGOI_APIKEY = KEY, EGOI_URL = sb:url("/"), EGOI_LEDGER = path })
    assert.equal(6, code)
    assert.truthy(err:find("egoi: LEDGER_CORRUPT:", 1, true), err)
    assert.truthy(err:find("line 2", 1, true), err)
    assert.equal(0, tonumber(json("report " .. hash).SENT))
  end)

  it("exits 5 when the outcome is unknown, says what to check, and blocks a repeat", function()
    local ledger = cli:path("unknown.ledger")
    local e = { EGOI_APIKEY = KEY, EGOI_URL = bad:url("/500"), EGOI_LEDGER = ledger }
    local code, out, err, _ = cli:run("send abc123 --list 7", e)
    assert.equal(5, code, err)
    assert.equal("", out)
    assert.truthy(err:find("the outcome is unknown", 1, true), err)
    assert.truthy(err:find("may have been applied", 1, true), err)
    assert.truthy(err:find("egoi report abc123", 1, true), err)
    -- a timed-out send: the same
    e.EGOI_URL = bad:url("/hang")
    code, out, err = cli:run("--timeout 1 send def456 --list 7", e)
    assert.equal(5, code, out .. err)
    assert.truthy(err:find("egoi: TIMEOUT:", 1, true), err)
    -- the repeat is refused until the user checked and passes --again
    e.EGOI_URL = bad:url("/500")
    code, _, err = cli:run("send abc123 --list 7", e)
    assert.equal(6, code, err)
    assert.truthy(err:find("egoi: SEND_OUTCOME_UNKNOWN:", 1, true), err)
    code = cli:run("send abc123 --list 7 --again", e)
    assert.equal(5, code)
  end)

  it("exits 3 when nothing was sent (refused port), and a rerun may send", function()
    local e = { EGOI_APIKEY = KEY, EGOI_URL = "http://127.0.0.1:" .. server.free_port() .. "/",
      EGOI_LEDGER = cli:path("refused.ledger") }
    local code, _, err = cli:run("send abc --list 7", e)
    assert.equal(3, code, err)
    assert.truthy(err:find("COULDNT_CONNECT", 1, true), err)
    code = cli:run("send abc --list 7", e)
    assert.equal(3, code) -- not 6: the ledger says "failed"
  end)
end)

describe("egoi.send_guard (library)", function()
  local sb, dir

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
  end)

  teardown(function()
    if sb then sb:stop() end
    os.execute("rm -rf " .. dir)
  end)

  it("wraps client.send:email and client:call; raises ALREADY_SENT on a repeat", function()
    local egoi = require "egoi"
    local guard = require "egoi.send_guard"
    local client = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false }
    guard.wrap(client, { path = dir .. "/l" })
    local list = client.lists:create{ name = "G", language = "en" }.LIST_ID
    client.subscribers:add{ listID = list, email = "g@example.org", status = 1 }
    local hash = client.campaigns:create_email{ listID = list, subject = "S", fromID = 1,
      url = "http://example.com/" }.ID
    client.send:email{ campaign = hash, listID = list, segment = "ALL" }
    local ok, err = pcall(client.send.email, client.send, { campaign = hash, listID = list, segment = "ALL" })
    assert.is_false(ok)
    assert.equal("ALREADY_SENT", err.code)
    ok, err = pcall(client.call, client, "sendEmail", { campaign = hash, listID = list, segment = "ALL" })
    assert.is_false(ok)
    assert.equal("ALREADY_SENT", err.code)
    assert.equal(1, tonumber(client.reports:get{ campaign = hash }.SENT))
    -- raise = false: nil, err
    local c2 = guard.wrap(egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false,
      raise = false }, { path = dir .. "/l" })
    local res, e2 = c2:call("sendEmail", { campaign = hash, listID = list, segment = "ALL" })
    assert.is_nil(res)
    assert.equal("ALREADY_SENT", e2.code)
    -- again = true sends
    local c3 = guard.wrap(egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false },
      { path = dir .. "/l", again = true })
    c3.send:email{ campaign = hash, listID = list, segment = "ALL" }
    assert.equal(2, tonumber(client.reports:get{ campaign = hash }.SENT))
    client:close(); c2:close(); c3:close()
  end)

  it("of two processes that check at the same moment, the one whose pending line came first sends", function()
    local guard = require "egoi.send_guard"
    local egoi = require "egoi"
    local path = dir .. "/race"
    -- nothing listens there: a call that went out would be COULDNT_CONNECT
    local client = guard.wrap(egoi.new{ apikey = KEY, url = "http://127.0.0.1:" .. server.free_port() .. "/",
      rate_limit = false, raise = false, retries = 0 }, { path = path })
    local ledger = assert(guard.open(path))
    local real = ledger.blocking
    local checks = 0
    function ledger.blocking(self, key, upto)
      checks = checks + 1
      if checks == 1 then
        -- the other process appends its pending line right after our check
        assert(self:append({ key = key, id = "other", at = 1, outcome = "pending" }))
        return false
      end
      return real(self, key, upto)
    end
    client.send_guard.ledger = ledger
    local res, err = client:call("sendEmail", { campaign = "h", listID = "1", segment = "ALL" })
    assert.is_nil(res)
    assert.equal("SEND_IN_PROGRESS", err.code)
    local last = cjson.decode(server.read_lines(path)[3])
    assert.equal("failed", last.outcome)
    client:close()
  end)

  it("an unfinished 'pending' line (a process killed mid-send) blocks as unknown", function()
    local guard = require "egoi.send_guard"
    local key = guard.key("sendEmail", { campaign = "h", listID = "1", segment = "ALL" })
    local f = assert(io.open(dir .. "/p", "w"))
    f:write(cjson.encode({ key = key, id = "x", at = 1, outcome = "pending" }), "\n")
    f:close()
    local egoi = require "egoi"
    local client = guard.wrap(egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false,
      raise = false }, { path = dir .. "/p" })
    local res, err = client:call("sendEmail", { campaign = "h", listID = "1", segment = "ALL" })
    assert.is_nil(res)
    assert.equal("SEND_OUTCOME_UNKNOWN", err.code)
    client:close()
  end)
end)
