-- spec/cli_v3_spec.lua - the real bin/egoi with --api v3 (and EGOI_API=v3) against the sandbox's
-- v3 API: every command with v3's names, --json documents and errors, `call VERB /path`, the
-- send ledger guarding v3 sends through every path, and the usage errors (--protocol with v3,
-- a bad --api, v2-only options), import and export over v3.
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"
local cjson = require("cjson").new()
local REPO = assert(io.popen("pwd")):read("*l") -- busted runs from the repository

describe("egoi --api v3", function()
  local sb, cli, env

  setup(function()
    cli = helper.new()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
    env = { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"), EGOI_LEDGER = cli:path("l"), EGOI_API = "v2",
      EGOI_PROTOCOL = "" }
  end)

  teardown(function()
    if sb then sb:stop() end
    cli:cleanup()
  end)

  local function run(args, extra)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra or {}) do e[k] = v end
    return cli:run(args, e)
  end
  local function ok(args, extra)
    local code, out, err = run("--api v3 " .. args, extra)
    assert.equal(0, code, err)
    assert.truthy(helper.no_internals(out .. err), err)
    return out, err
  end
  -- an id from a JSON document (cjson gives Lua 5.4 floats: 5.0) as the command line writes it
  local function id(v) return ("%d"):format(v) end
  local function json(args) return cjson.decode((ok("--json " .. args))) end
  local function fails(want, args, extra)
    local code, out, err = run(args, extra)
    assert.equal(want, code, err)
    assert.truthy(helper.no_internals(out .. err), err)
    assert.falsy((out .. err):find(helper.KEY, 1, true))
    return err, out
  end

  it("lists: create and list with v3's names; v2-only options are usage errors", function()
    assert.truthy(ok("lists create News"):find("^created list %d+\n"))
    local created = json("lists create Two --public-name 'Second list'")
    assert.equal("Two", created.internal_name)
    assert.equal("Second list", created.public_name)
    local lists = json("lists")
    local names = {}
    for _, l in ipairs(lists) do names[l.internal_name] = l.list_id end
    assert.truthy(names.News and names.Two)
    local out = ok("lists")
    assert.truthy(out:find("^ID%s+NAME%s+PUBLIC_NAME%s+STATUS\n"), out)
    assert.truthy(out:find("Second list", 1, true))
    local err = fails(2, "--api v3 lists create X --language pt")
    assert.truthy(err:find("--language has no API v3 counterpart", 1, true), err)
    -- the same account over v2: a list made over v3 is there
    local code, v2out = run("--json lists")
    assert.equal(0, code)
    assert.truthy(v2out:find('"Two"', 1, true))
  end)

  it("EGOI_API=v3 chooses v3; --api wins over it", function()
    local code, out = run("--json lists", { EGOI_API = "v3" })
    assert.equal(0, code)
    assert.truthy(out:find('"internal_name"', 1, true))
    code, out = run("--api v2 --json lists", { EGOI_API = "v3" })
    assert.equal(0, code)
    assert.truthy(out:find('"listnum"', 1, true))
    code, out = run("--json lists", { EGOI_API = "" })
    assert.equal(0, code)
    assert.truthy(out:find('"listnum"', 1, true))
  end)

  it("fields: base and extra fields; add takes --format (v3's name for v2's types)", function()
    local list = id(json("lists create Fields").list_id)
    assert.truthy(ok("fields add " .. list .. " city"):find("^added field %d+\n"))
    local f = json("fields add " .. list .. " born --format date")
    assert.equal("date", f.format)
    local fields = json("fields " .. list)
    local by_name = {}
    for _, x in ipairs(fields) do by_name[x.name] = x end
    assert.equal("extra", by_name.city.type)
    assert.equal("text", by_name.city.format)
    assert.equal("date", by_name.born.format)
    assert.equal("base", by_name.Email.type)
    local err = fails(2, "--api v3 fields add " .. list .. " x --type texto")
    assert.truthy(err:find("--format", 1, true), err)
    err = fails(2, "--api v3 fields add " .. list .. " x --format bogus")
    assert.truthy(err:find("--format must be one of", 1, true), err)
    err = fails(1, "--api v3 fields 99999")
    assert.truthy(err:find("egoi: NOT_FOUND:", 1, true), err)
  end)

  it("tags, senders, segments, campaigns: empty collections are [], rows carry v3's ids", function()
    assert.equal("[]\n", ok("--json campaigns"))
    assert.truthy(ok("tags add VIP --color '#FF0000'"):find("^created tag %d+\n"))
    local tags = json("tags")
    assert.equal("VIP", tags[#tags].name)
    assert.equal("#FF0000", tags[#tags].color)
    assert.truthy(tags[#tags].tag_id)
    local senders = json("senders")
    local channels = {}
    for _, s in ipairs(senders) do channels[s.channel] = s end
    assert.truthy(channels.email and channels.email.sender_id)
    local sms = json("senders --channel sms")
    for _, s in ipairs(sms) do assert.equal("cellphone", s.channel) end
    local err = fails(2, "--api v3 senders --channel fax")
    assert.truthy(err:find("no fax channel", 1, true), err)
    local list = id(json("lists create Segs").list_id)
    assert.equal("table", type(json("segments " .. list)))
  end)

  it("campaign create-email, send once (the ledger refuses a repeat on every path), report", function()
    local list = id(json("lists create Sends").list_id)
    ok("call POST /lists/" .. list .. "/contacts " .. helper.q('{"base":{"email":"ana@example.com"}}'))
    local sender = id(json("senders --channel email")[1].sender_id)
    local html = cli:path("c.html")
    local f = assert(io.open(html, "wb"))
    f:write("<p>June</p>")
    f:close()
    local out = ok(("campaign create-email --list %s --subject June --from %s --html %s"):format(list, sender, html))
    local hash = out:match("^created campaign (%S+)\n")
    assert.truthy(hash, out)
    local other = json(("campaign create-email --list %s --subject July --from %s --url https://example.com/j")
      :format(list, sender)).campaign_hash
    assert.truthy(other)
    local rows = json("campaigns")
    assert.equal(2, #rows)

    local sent, err = ok(("send %s --list %s"):format(hash, list))
    assert.equal("sending campaign " .. hash .. " (success)\n", sent)
    assert.truthy(err:find("send recorded in", 1, true))
    -- a repeat: refused before any call, with the v3 way on
    err = fails(6, ("--api v3 send %s --list %s"):format(hash, list))
    assert.truthy(err:find("ALREADY_SENT", 1, true), err)
    assert.truthy(err:find("egoi --api v3 send " .. hash .. " --list " .. list .. " --again", 1, true), err)
    -- the same send through `call` (a string list id, the whole list spelled out): refused too
    local body = helper.q(('{"list_id":"%s","segments":{"type":"none"}}'):format(list))
    local _, jout = fails(6, ("--api v3 --json call POST /campaigns/email/%s/actions/send %s"):format(hash, body))
    assert.equal("ALREADY_SENT", cjson.decode(jout).error.code)
    -- --again sends once more, and is recorded
    ok(("send %s --list %s --again"):format(hash, list))
    -- a first send through call is recorded, so `egoi send` refuses it after
    ok(("call POST /campaigns/email/%s/actions/send %s"):format(other, body))
    fails(6, ("--api v3 send %s --list %s"):format(other, list))
    local ledger = assert(io.open(env.EGOI_LEDGER, "rb")):read("*a")
    assert.truthy(ledger:find('"method":"actionSendEmail"', 1, true))
    assert.falsy(ledger:find(helper.KEY, 1, true))

    local report = json("report " .. hash)
    assert.equal(hash, report.campaign_hash)
    assert.truthy(ok("report " .. hash):find("campaign_hash: " .. hash, 1, true))
    err = fails(1, "--api v3 report nosuchhash")
    assert.truthy(err:find("egoi: NOT_FOUND:", 1, true), err)
    fails(2, "--api v3 report " .. hash .. " --channel fax")
  end)

  it("call VERB /path [json]: any path; errors as the v2 CLI's", function()
    local list = id(json("lists create Calls").list_id)
    local page = json("call GET " .. helper.q("/lists?limit=1&offset=0"))
    assert.equal(1, #page.items)
    assert.truthy(page.total_items >= 1)
    assert.truthy(ok("call get /lists/" .. list):find("internal_name: Calls", 1, true))
    local tag = id(json("call POST /tags " .. helper.q('{"name":"Raw"}')).tag_id)
    assert.equal("", ok("call DELETE /tags/" .. tag))
    assert.equal("{}\n", ok("--json call DELETE /tags/" .. id(json("tags add Gone").tag_id)))
    local err, out = fails(1, "--api v3 --json call GET /lists/999999")
    local doc = cjson.decode(out)
    assert.equal("NOT_FOUND", doc.error.code)
    assert.equal(1, doc.error.exit)
    assert.truthy(err:find("egoi: NOT_FOUND:", 1, true))
    assert.truthy(fails(2, "--api v3 call FETCH /lists"):find("VERB must be", 1, true))
    assert.truthy(fails(2, "--api v3 call GET lists"):find("must start with '/'", 1, true))
    assert.truthy(fails(2, "--api v3 call POST /tags " .. helper.q("{nope")):find("JSON", 1, true))
    assert.truthy(fails(2, "--api v3 call GET /lists " .. helper.q("{}")):find("takes no body", 1, true))
    assert.truthy(fails(2, "--api v3 call GET " .. helper.q("/lists?apikey=x")):find("EGOI_APIKEY", 1, true))
    assert.truthy(fails(2, "--api v3 call getLists"):find("usage: egoi --api v3 call", 1, true))
  end)

  it("usage errors: a bad --api, --protocol or EGOI_PROTOCOL with v3, v2-only import options", function()
    local err = fails(2, "--api v4 lists")
    assert.truthy(err:find("--api must be v2 or v3 (got 'v4')", 1, true), err)
    err = fails(2, "lists", { EGOI_API = "3" })
    assert.truthy(err:find("EGOI_API must be v2 or v3", 1, true), err)
    err = fails(2, "--api v3 --protocol soap lists")
    assert.truthy(err:find("--protocol chooses among API v2's protocols", 1, true), err)
    err = fails(2, "--api v3 lists", { EGOI_PROTOCOL = "xmlrpc" })
    assert.truthy(err:find("EGOI_PROTOCOL", 1, true), err)
    local code = run("--protocol xmlrpc lists")
    assert.equal(0, code) -- v2 keeps its protocols
    -- v2-only import options are refused over v3 before any client or call (a dead URL changes nothing)
    for _, c in ipairs{ "import 1 x.csv --operation 1", "import 1 x.csv --status 1",
      "--json import 1 x.csv --tags 3" } do
      local e, out = fails(2, "--api v3 " .. c, { EGOI_URL = "http://127.0.0.1:1" })
      assert.truthy(e:find("is API v2's only", 1, true), e)
      if c:find("--json", 1, true) then assert.equal(2, cjson.decode(out).error.exit) end
    end
  end)

  it("imports a CSV and exports the list over v3 with the same commands as v2", function()
    local list = json("lists create " .. helper.q("v3 import")).list_id
    local out = ok(("import %s %s"):format(id(list), helper.q(REPO .. "/examples/contacts.csv")))
    assert.truthy(out:find("300 sent in 1 calls", 1, true), out)
    assert.truthy(out:find("line 302: not an e-mail address", 1, true), out)
    local dest = cli:path("v3-export.csv")
    local _, _, err = run(("--api v3 export %s %s"):format(id(list), helper.q(dest)))
    assert.truthy(err:find("exported 300 subscribers", 1, true), err)
    local n = 0
    for _ in io.lines(dest) do n = n + 1 end
    assert.equal(301, n)
  end)

  it("help texts are v3's under --api v3", function()
    assert.truthy(ok("lists --help"):find("usage: egoi --api v3 lists", 1, true))
    assert.truthy(ok("help call"):find("VERB /PATH", 1, true))
    local code, out = run("--help")
    assert.equal(0, code)
    assert.truthy(out:find("--api V", 1, true))
    assert.truthy(out:find("EGOI_API", 1, true))
  end)

  it("--sandbox --api v3 runs against a private sandbox's v3 API", function()
    local code, out, err = run("--sandbox --api v3 --json tags add Solo", { EGOI_APIKEY = false, EGOI_URL = false })
    assert.equal(0, code, err)
    assert.equal("Solo", cjson.decode(out).name)
  end)

  it("a refused key is exit 1 and never echoed", function()
    local err = fails(1, "--api v3 lists", { EGOI_APIKEY = "ffffffffffffffffffffffffffffffffffffffff" })
    assert.truthy(err:find("egoi: UNAUTHORIZED:", 1, true) or err:find("egoi: FORBIDDEN:", 1, true), err)
    assert.falsy(err:find("ffffffffffff", 1, true))
  end)
end)

describe("egoi --api v3 when the answer is lost", function()
  local srv, cli
  local socket_http = require "socket.http"

  setup(function()
    cli = helper.new()
    srv = server.start{ cmd = "python3 spec/servers/faults.py {port}" }
    local _, code = socket_http.request(("http://127.0.0.1:%d/_ctl/arm?fault=reset_after"):format(srv.port))
    assert.equal(200, code)
  end)
  teardown(function()
    if srv then srv:stop() end
    cli:cleanup()
  end)

  it("a send is exit 5 with the v3 way to check, then refused; a read is exit 3", function()
    local e = { EGOI_APIKEY = helper.KEY, EGOI_URL = ("http://127.0.0.1:%d"):format(srv.port),
      EGOI_LEDGER = cli:path("l"), EGOI_API = "v3", EGOI_PROTOCOL = "" }
    local code, out, err = cli:run("--timeout 2 send abc123 --list 7", e)
    assert.equal(5, code, out .. err)
    assert.equal("", out)
    assert.truthy(err:find("the outcome is unknown", 1, true), err)
    assert.truthy(err:find("egoi --api v3 report abc123", 1, true), err)
    assert.truthy(helper.no_internals(err), err)
    code, out, err = cli:run("--timeout 2 --json send abc123 --list 7", e)
    assert.equal(6, code, err)
    assert.truthy(err:find("SEND_OUTCOME_UNKNOWN", 1, true), err)
    assert.equal("SEND_OUTCOME_UNKNOWN", cjson.decode(out).error.code)
    code, out, err = cli:run("--timeout 2 --json lists", e)
    assert.equal(3, code, out .. err)
    assert.equal(3, cjson.decode(out).error.exit)
    assert.falsy((out .. err):find(helper.KEY, 1, true))
  end)
end)
