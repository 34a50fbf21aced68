-- spec/cli_fuzz_spec.lua - malformed arguments and environment never show Lua internals:
-- every run ends with a documented exit code and sentences, no traceback, no file:line.
-- Most runs call egoi.cli.main in-process (stdout/stderr captured); a sample runs bin/egoi.
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"
local cjson = require("cjson").new()

local DOCUMENTED = { [0] = true, [1] = true, [2] = true, [3] = true, [4] = true, [5] = true,
  [6] = true, [70] = true, [130] = true }

-- a small deterministic generator (same combos on every run and interpreter)
local function lcg(seed)
  local x = seed
  return function(n)
    x = (x * 1103515245 + 12345) % 2147483648
    return math.floor(x / 65536) % n + 1 -- the high bits: the low ones cycle quickly
  end
end

describe("egoi with malformed input", function()
  local sb, cli, dir

  setup(function()
    cli = helper.new()
    dir = cli.dir
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
  end)

  teardown(function()
    if sb then sb:stop() end
    cli:cleanup()
  end)

  local function capture(argv, vars)
    local main = require("egoi.cli").main
    local out_path, err_path = dir .. "/fz.out", dir .. "/fz.err"
    local out, err = assert(io.open(out_path, "w")), assert(io.open(err_path, "w"))
    local so, se = io.stdout, io.stderr
    io.stdout, io.stderr = out, err -- luacheck: ignore 122
    local ok, code = pcall(main, argv, { bindir = "bin", lua = "lua5.4",
      getenv = function(name) return vars[name] end })
    io.stdout, io.stderr = so, se -- luacheck: ignore 122
    out:close()
    err:close()
    return ok, code, server.read_file(out_path) or "", server.read_file(err_path) or ""
  end

  local WORDS = { "", "-", "--", "=", "-x", "--=", "--nope", "--json", "--quiet", "--help", "-h",
    "0", "-1", "1.5", "1e309", "nan", "0x10", "99999999999999999999", "abc", "%s%d", "'\"", "ação",
    ("x"):rep(5000), "1", "2", "a=b", "a.b=c", ".=x", "a..b=1", "apikey=k", "tags.0=1", "create",
    "add", "create-email", "--list", "--subject", "--from", "--url", "--html", "--segment",
    "--again", "--language", "--type", "--color", "--channel", "--map", "--max-bytes", "--max-rows",
    "--operation", "--status", "--tags", "--page-size", "--journal", "--rejects", "--timeout",
    "--timeout=0", "--ledger", "--ledger=", "--sms", "#zzzzzz", "texto", "sms", "COL=-", "=x" }
  local COMMANDS = { "lists", "fields", "segments", "tags", "senders", "import", "export",
    "campaigns", "campaign", "send", "report", "limits", "call", "bogus", "help", "" }
  local ENV = {
    EGOI_RATE_LIMIT = { "150/0", "0/5", "abc", "/", "-1", "1.5", "99999999999", "100001", "150/3600/1", " 150",
      "off", "150/", "" },
    EGOI_TIMEOUT = { "0", "-1", "abc", "1e999", "nan", "inf", "0x10", "5", "" },
    EGOI_URL = { "ftp://x", "http://", "notaurl", "http://[::1", "http:// space", "", "https:///v2" },
    EGOI_APIKEY = { "", "short", ("k"):rep(300), "k\nk" },
    EGOI_LEDGER = { "", "/dev/null", "DIR", "DIR/nonexistent/deeper/l" },
    EGOI_RATE_STATE = { "DIR", "/dev/null" },
  }
  local ENV_NAMES = { "EGOI_RATE_LIMIT", "EGOI_TIMEOUT", "EGOI_URL", "EGOI_APIKEY", "EGOI_LEDGER",
    "EGOI_RATE_STATE" }

  it("in-process: hundreds of combinations, documented exit codes, no Lua text", function()
    local rand = lcg(20261201)
    local bad = {}
    -- every malformed environment value once with `lists`, then random combinations
    local fixed = {}
    for _, name in ipairs(ENV_NAMES) do
      for _, v in ipairs(ENV[name]) do fixed[#fixed + 1] = { name, v } end
    end
    for i = 1, #fixed + 400 do
      local argv = {}
      local cmd = COMMANDS[rand(#COMMANDS)]
      if i <= #fixed then cmd = "lists" end
      if cmd ~= "" then argv[#argv + 1] = cmd end
      for _ = 1, (i <= #fixed and 1 or rand(5)) - 1 do argv[#argv + 1] = WORDS[rand(#WORDS)] end
      if i > #fixed and rand(4) == 1 then table.insert(argv, 1, WORDS[rand(#WORDS)]) end
      local vars = { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"), EGOI_RATE_LIMIT = "off",
        EGOI_LEDGER = dir .. "/fuzz.ledger", EGOI_RATE_STATE = dir .. "/rl.bin", HOME = dir,
        EGOI_TIMEOUT = "5" }
      local f = fixed[i]
      if not f and rand(2) == 1 then
        local name = ENV_NAMES[rand(#ENV_NAMES)]
        f = { name, ENV[name][rand(#ENV[name])] }
      end
      if f then vars[f[1]] = (f[2]:gsub("DIR", dir)) end
      local ok, code, out, err = capture(argv, vars)
      local text = out .. err
      local why
      if not ok then why = "raised: " .. tostring(code)
      elseif not DOCUMENTED[code] then why = "exit " .. tostring(code)
      elseif code == 70 then why = "internal error"
      elseif not helper.no_internals(text) then why = "Lua text"
      elseif code ~= 0 and not err:find("egoi: ", 1, true) and not err:find("usage: egoi", 1, true) then
        why = "no message on stderr"
      end
      if why then
        bad[#bad + 1] = ("#%d %s: argv={%s} env=%s\n%s"):format(i, why, table.concat(argv, "|"):sub(1, 200),
          cjson.encode(vars):sub(1, 300), text:sub(1, 300))
        if #bad >= 5 then break end
      end
    end
    assert.equal(0, #bad, table.concat(bad, "\n"))
  end)

  it("--json errors are a JSON document on stdout as well as a line on stderr", function()
    local cases = {
      { { "--json", "bogus" }, {} },
      { { "--json", "lists", "--nope" }, {} },
      { { "--json", "lists" }, { EGOI_RATE_LIMIT = "150/0" } },
      { { "--json", "lists" }, { EGOI_TIMEOUT = "abc" } },
      { { "lists", "--json" }, { EGOI_URL = "ftp://x" } },
    }
    for _, c in ipairs(cases) do
      local vars = { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"), EGOI_RATE_LIMIT = "off",
        EGOI_LEDGER = dir .. "/fuzz.ledger" }
      for k, v in pairs(c[2]) do vars[k] = v end
      local ok, code, out, err = capture(c[1], vars)
      assert.is_true(ok)
      assert.equal(2, code, err)
      local doc = cjson.decode(out)
      assert.is_string(doc.error.code)
      assert.is_string(doc.error.message)
      assert.equal(2, doc.error.exit)
      assert.truthy(err:find("egoi: " .. doc.error.code .. ": ", 1, true), err)
    end
  end)

  it("bin/egoi: a sample of the same, including the reported EGOI_RATE_LIMIT=150/0", function()
    local code, _, err = cli:run("lists", { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"),
      EGOI_RATE_LIMIT = "150/0" })
    assert.equal(2, code)
    assert.truthy(err:find("EGOI_RATE_LIMIT", 1, true), err)
    assert.is_true(helper.no_internals(err), err)
    local rand = lcg(7)
    for _ = 1, 25 do
      local args = { COMMANDS[rand(#COMMANDS)] }
      for _ = 1, rand(4) - 1 do args[#args + 1] = helper.q(WORDS[rand(#WORDS)]) end
      local name = ENV_NAMES[rand(#ENV_NAMES)]
      local env = { EGOI_APIKEY = helper.KEY, EGOI_URL = sb:url("/"), EGOI_LEDGER = cli:path("b.ledger"),
        EGOI_RATE_STATE = cli:path("rl.bin"), EGOI_TIMEOUT = "5" }
      env[name] = (ENV[name][rand(#ENV[name])]:gsub("DIR", cli.dir))
      local c, out, e = cli:run(table.concat(args, " "), env)
      assert.is_true(DOCUMENTED[c] and c ~= 70, "exit " .. tostring(c) .. ": " .. table.concat(args, " ") .. "\n" .. e)
      assert.is_true(helper.no_internals(out .. e), e)
    end
  end)
end)
