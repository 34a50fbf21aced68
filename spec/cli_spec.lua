-- spec/cli_spec.lua - bin/egoi against a real sandbox on loopback (always run with lua5.4,
-- as installed; the C module comes from LUA_CPATH's 5.4 build).
local server = require "helpers.server"
local cjson = require("cjson").new()

local KEY = "0123456789abcdef0123456789abcdef01234567"
local SANDBOX = os.getenv("EGOI_SANDBOX") or "bin/egoi-sandbox"

-- the 5.4 build of egoi.core, whichever interpreter runs busted
local CPATH = (os.getenv("LUA_CPATH") or ""):gsub("/jit/", "/5.4/")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read(path) return server.read_file(path) or "" end

describe("bin/egoi", function()
  local sb, tmpdir

  -- run the CLI; returns exit code, stdout, stderr
  local function egoi(args, env)
    local e = { EGOI_APIKEY = KEY, EGOI_URL = sb:url("/"), EGOI_RATE_LIMIT = "off", LUA_CPATH = CPATH,
      EGOI_LEDGER = tmpdir .. "/sends.ledger" }
    for k, v in pairs(env or {}) do e[k] = v end
    local parts = { "env -u EGOI_APIKEY -u EGOI_URL" }
    for k, v in pairs(e) do
      if v ~= false then parts[#parts + 1] = k .. "=" .. q(v) end
    end
    local out, err = tmpdir .. "/out", tmpdir .. "/err"
    local cmd = table.concat(parts, " ") .. " lua5.4 bin/egoi " .. args .. " >" .. out .. " 2>" .. err
    local ok, _, code = os.execute(cmd)
    if type(ok) == "number" then code = ok / 256 end -- Lua 5.1 / LuaJIT without 5.2 compat
    return code, read(out), read(err)
  end

  local function json(args, env)
    local code, out, err = egoi("--json " .. args, env)
    assert.equal(0, code, err)
    return cjson.decode(out)
  end

  setup(function()
    tmpdir = os.tmpname()
    os.remove(tmpdir)
    os.execute("mkdir -p " .. tmpdir)
    sb = server.start{ cmd = "lua5.4 " .. SANDBOX .. " --port {port} --rate-limit 0 --quiet --max-fields 10000000" }
  end)

  teardown(function()
    if sb then sb:stop() end
    os.execute("rm -rf " .. tmpdir)
  end)

  it("prints help with exit 0, and usage errors with exit 2", function()
    local code, out = egoi("--help")
    assert.equal(0, code)
    assert.truthy(out:find("egoi import", 1, true))
    code, out = egoi("import --help")
    assert.equal(0, code)
    assert.truthy(out:find("--journal", 1, true))
    local _, err
    code, _, err = egoi("bogus")
    assert.equal(2, code)
    assert.truthy(err:find("egoi: USAGE: unknown command 'bogus'", 1, true))
    code = egoi("import 1")
    assert.equal(2, code)
    code, _, err = egoi("import 1 x.csv --max-bytes lots")
    assert.equal(2, code)
    assert.truthy(err:find("--max-bytes", 1, true))
  end)

  it("exits 2 without EGOI_APIKEY, 1 on a bad key, 3 on a refused port", function()
    local code, _, err = egoi("lists", { EGOI_APIKEY = false })
    assert.equal(2, code)
    assert.truthy(err:find("egoi: NO_APIKEY:", 1, true))
    code, _, err = egoi("lists", { EGOI_APIKEY = "not-a-key" })
    assert.equal(1, code)
    assert.truthy(err:find("egoi: INVALID:", 1, true))
    assert.falsy(err:find("not-a-key", 1, true)) -- the key never appears
    code, _, err = egoi("lists", { EGOI_URL = "http://127.0.0.1:" .. server.refused_port() .. "/v2/rest.php" })
    assert.equal(3, code)
    assert.truthy(err:find("egoi: COULDNT_CONNECT:", 1, true))
  end)

  it("creates and lists lists, shows fields, imports and exports", function()
    local created = json("lists create " .. q("CLI spec") .. " --language pt")
    local id = created.LIST_ID
    assert.truthy(id)
    local lists = json("lists")
    local found
    for _, l in ipairs(lists) do if l.listnum == id then found = l end end
    assert.equal("CLI spec", found.title)
    local code, out = egoi("lists")
    assert.equal(0, code)
    assert.truthy(out:find("CLI spec", 1, true))

    local fields = json("call addExtraField listID=" .. id .. " name=Cidade type=texto")
    assert.truthy(fields.NEW_ID)
    local f = json("fields " .. id)
    assert.equal("Cidade", f[1].name)
    assert.equal("extra_" .. fields.NEW_ID, f[1].field)

    local journal = tmpdir .. "/j"
    local s = json("import " .. id .. " examples/contacts.csv --journal " .. journal .. " --map city=Cidade")
    assert.equal(303, s.rows)
    assert.equal(300, s.sent)
    assert.equal(3, s.rejected_count)
    assert.equal(302, s.rejected[1].line)
    -- rerun with the journal: nothing sent
    local s2 = json("import " .. id .. " examples/contacts.csv --journal " .. journal .. " --map city=Cidade")
    assert.equal(0, s2.sent)
    assert.equal(0, s2.chunks)
    assert.equal(303, s2.skipped)
    -- human output names the bad lines
    local code2, out2 = egoi("import " .. id .. " examples/contacts.csv --map city=Cidade --max-rows 100")
    assert.equal(0, code2)
    assert.truthy(out2:find("line 303: cellphone", 1, true))
    assert.truthy(out2:find("in 4 calls (3 chunks", 1, true)) -- getExtraFields + 3

    local x = json("export " .. id .. " " .. tmpdir .. "/out.csv")
    assert.equal(300, x.rows)
    local text = read(tmpdir .. "/out.csv")
    assert.truthy(text:find("contact0000002@example.com", 1, true))
    assert.truthy(text:find("Łukasz", 1, true))
    local code3, csvout = egoi("export " .. id)
    assert.equal(0, code3)
    assert.truthy(csvout:match("^uid,email,"))
  end)

  it("creates, lists, sends and reports campaigns; `call` nests a.b=v", function()
    local id = json("lists create Camp").LIST_ID
    local camp = json("campaign create-email --list " .. id .. " --subject Hi --from 1 --url http://example.com/x")
    assert.truthy(camp.ID)
    local all = json("campaigns")
    local seen = false
    for _, c in ipairs(all) do if c.HASH == camp.ID then seen = true end end
    assert.is_true(seen)
    local html = tmpdir .. "/n.html"
    local fh = io.open(html, "w")
    fh:write("<p>hello</p>")
    fh:close()
    assert.truthy(json("campaign create-email --list " .. id .. " --subject Hi2 --from 1 --html " .. html).ID)
    json("call addSubscriber listID=" .. id .. " email=a@example.com")
    local sent = json("send " .. camp.ID .. " --list " .. id)
    assert.truthy(sent.ID)
    local rep = json("report " .. camp.ID)
    assert.equal("table", type(rep))
    local code, _, err = egoi("campaign create-email --list " .. id .. " --subject Hi --from 1")
    assert.equal(2, code)
    assert.truthy(err:find("exactly one of --url and --html", 1, true))
    local d = json("call subscriberData listID=" .. id .. " subscriber=a@example.com")
    assert.equal("a@example.com", d.subscriber.EMAIL)
  end)

  it("reports the rate-limit window without spending a call", function()
    local state = tmpdir .. "/rl.bin"
    local st = json("limits", { EGOI_RATE_LIMIT = "150/3600", EGOI_RATE_STATE = state })
    assert.equal(0, st.used)
    assert.equal(150, st.remaining)
    json("lists", { EGOI_RATE_LIMIT = "150/3600", EGOI_RATE_STATE = state })
    st = json("limits", { EGOI_RATE_LIMIT = "150/3600", EGOI_RATE_STATE = state })
    assert.equal(1, st.used)
    local code, out = egoi("limits", { EGOI_RATE_LIMIT = "150/3600", EGOI_RATE_STATE = state })
    assert.equal(0, code)
    assert.truthy(out:find("1 of 150 calls used", 1, true))
  end)

  it("runs a command against a private sandbox with --sandbox", function()
    local r = json("--sandbox lists create Private", { EGOI_APIKEY = false, EGOI_URL = false })
    assert.equal("1", tostring(r.LIST_ID))
    local code, _, err = egoi("--sandbox import 1 examples/contacts.csv", { EGOI_APIKEY = false, EGOI_URL = false })
    assert.equal(1, code) -- a fresh sandbox has no list 1
    assert.truthy(err:find("egoi: LIST_NOT_FOUND:", 1, true))
  end)
end)
