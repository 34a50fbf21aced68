-- spec/bulk_cli_spec.lua - `egoi import` / `egoi export` as a cron job sees them: the real
-- bin/egoi against a sandbox on loopback; options checked, exit codes that mean something,
-- encodings, paths that are not files, capped pages, and Ctrl-C in the middle of an upload.
local server = require "helpers.server"
local socket = require "socket"
local cjson = require("cjson").new()
local charset = require "egoi.charset"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local SANDBOX = os.getenv("EGOI_SANDBOX") or "bin/egoi-sandbox"
local CPATH = (os.getenv("LUA_CPATH") or ""):gsub("/jit/", "/5.4/")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local read = function(p) return server.read_file(p) or "" end
local read_lines = server.read_lines

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("egoi import/export (CLI)", function()
  local sb, tmpdir

  local function tmp(name) return tmpdir .. "/" .. name end

  local function envs(url)
    return ("env -u EGOI_APIKEY -u EGOI_URL EGOI_APIKEY=%s EGOI_URL=%s EGOI_RATE_LIMIT=off LUA_CPATH=%s")
      :format(q(KEY), q(url or sb:url("/")), q(CPATH))
  end

  -- run the CLI (bounded by `timeout`); returns exit code, stdout, stderr
  local function egoi(args, url)
    local out, err = tmp("out"), tmp("err")
    local ok, _, code = os.execute(("timeout 60 %s lua5.4 bin/egoi %s >%s 2>%s"):format(envs(url), args, out, err))
    if type(ok) == "number" then code = ok / 256 end
    return code, read(out), read(err)
  end

  local function new_list()
    local code, out = egoi("--json lists create spec")
    assert.equal(0, code)
    return tostring(cjson.decode(out).LIST_ID)
  end

  setup(function()
    tmpdir = os.tmpname()
    os.remove(tmpdir)
    os.execute("mkdir -p " .. tmpdir)
    sb = server.start{ cmd = "lua5.4 " .. SANDBOX .. " --port {port} --rate-limit 0 --quiet --page-cap 100" }
  end)

  teardown(function()
    if sb then sb:stop() end
    os.execute("rm -rf " .. tmpdir)
  end)

  it("skips a column mapped to -, refuses a bad --operation/--tags/--status/--encoding", function()
    local list = new_list()
    local path = tmp("map.csv")
    write(path, "email,shoe size\nana@example.pt,42\n")
    local code, out, err = egoi(("import %s %s --map 'shoe size=-'"):format(list, path))
    assert.equal(0, code, err)
    assert.truthy(out:find("1 sent", 1, true), out)
    for _, bad in ipairs{ "--operation 7", "--tags abc", "--tags 1,x", "--status 9", "--encoding ebcdic" } do
      code, _, err = egoi(("import %s %s %s"):format(list, path, bad))
      assert.equal(2, code, bad .. ": " .. err)
      assert.truthy(err:find("egoi: USAGE:", 1, true), err)
    end
  end)

  it("exits 1 (NOTHING_IMPORTED) when every row is rejected", function()
    local list = new_list()
    local path = tmp("allbad.csv")
    write(path, "email\nnot-an-email\nalso bad\n")
    local code, out, err = egoi(("import %s %s"):format(list, path))
    assert.equal(1, code)
    assert.truthy(err:find("egoi: NOTHING_IMPORTED:", 1, true), err)
    assert.truthy(out:find("2 rejected", 1, true), out)
  end)

  it("rejects invalid UTF-8 with its line, or decodes the --encoding the user names", function()
    local list = new_list()
    local path = tmp("latin1.csv")
    write(path, "email,first_name\njose@example.pt,Jos\233\nana@example.pt,Ana\n")
    local rej = tmp("latin1.rejects")
    local code, out, err = egoi(("--json import %s %s --rejects %s"):format(list, path, rej))
    assert.equal(0, code, err)
    assert.is_nil(charset.utf8_problem(out), "--json printed invalid UTF-8")
    local s = cjson.decode(out)
    assert.equal(1, s.sent)
    assert.equal(2, s.rejected[1].line)
    assert.truthy(s.rejected[1].reason:find("invalid UTF-8", 1, true))
    assert.is_nil(charset.utf8_problem(read(rej)))
    assert.truthy(read(rej):find("\n2,", 1, true))
    code, out, err = egoi(("import %s %s --encoding latin1"):format(list, path))
    assert.equal(0, code, err)
    assert.truthy(out:find("2 sent", 1, true), out)
    local x = tmp("latin1.out.csv")
    local xcode, _, xerr = egoi(("export %s %s"):format(list, x))
    assert.equal(0, xcode, xerr)
    local text = read(x)
    assert.is_nil(charset.utf8_problem(text))
    assert.truthy(text:find("José", 1, true), text)
  end)

  it("never prints or exports invalid UTF-8 that the service holds", function()
    local list = new_list()
    local code, _, err = egoi(("call addSubscriber listID=%s email=bytes@example.com first_name=%s")
      :format(list, q("Jos\233")))
    assert.equal(0, code, err)
    local out
    code, out, err = egoi(("--json call subscriberData listID=%s subscriber=bytes@example.com"):format(list))
    assert.equal(0, code, err)
    assert.is_nil(charset.utf8_problem(out), "--json printed invalid UTF-8")
    assert.truthy(out:find("Jos\239\191\189", 1, true), out)
    local x = tmp("bytes.out.csv")
    code, out, err = egoi(("--json export %s %s"):format(list, x))
    assert.equal(0, code, err)
    assert.equal(1, cjson.decode(out).invalid_utf8)
    assert.is_nil(charset.utf8_problem(read(x)))
  end)

  it("refuses journal, rejects and output paths that are not regular files, at once", function()
    local list = new_list()
    local path = tmp("paths.csv")
    write(path, "email\nana@example.pt\n")
    local t0 = socket.gettime()
    for _, args in ipairs{ "--journal /dev/zero", "--journal " .. tmpdir, "--rejects /dev/zero",
      "--rejects " .. tmpdir } do
      local code, _, err = egoi(("import %s %s %s"):format(list, path, args))
      assert.equal(2, code, args .. ": " .. err)
      assert.truthy(err:find("not a regular file", 1, true), err)
      assert.falsy(err:find("INTERNAL", 1, true), err)
    end
    local code, _, err = egoi(("import %s /dev/zero"):format(list))
    assert.equal(2, code, err)
    code, _, err = egoi(("export %s %s"):format(list, tmpdir))
    assert.equal(2, code, err)
    assert.truthy(err:find("not a regular file", 1, true), err)
    assert.is_true(socket.gettime() - t0 < 30)
  end)

  it("exports every subscriber when the service caps pages below --page-size", function()
    local list = new_list()
    local path = tmp("cap.csv")
    local rows = { "email" }
    for i = 1, 250 do rows[#rows + 1] = ("cap%03d@example.com"):format(i) end
    write(path, table.concat(rows, "\n") .. "\n")
    assert.equal(0, (egoi(("import %s %s"):format(list, path))))
    local x = tmp("cap.out.csv")
    local code, _, err = egoi(("--json export %s %s --page-size 1000"):format(list, x))
    assert.equal(0, code, err)
    assert.equal(251, #read_lines(x))
  end)

  it("finishes the chunk in flight on SIGINT, journals it, prints the summary, resumes", function()
    local list = new_list()
    local path = tmp("sigint.csv")
    local rows = { "email,first_name" }
    for i = 1, 30000 do rows[#rows + 1] = ("sig%05d@example.com,Name%d"):format(i, i) end
    write(path, table.concat(rows, "\n") .. "\n")
    local journal, pidf, rcf = tmp("sigint.journal"), tmp("sigint.pid"), tmp("sigint.rc")
    os.execute(("(%s lua5.4 bin/egoi import %s %s --journal %s --max-rows 1000 >%s 2>%s & echo $! >%s; wait $!;"
      .. " echo $? >%s) &"):format(envs(), list, path, journal, tmp("sig.out"), tmp("sig.err"), pidf, rcf))
    local deadline = socket.gettime() + 60
    while socket.gettime() < deadline and #read_lines(journal) < 3 do socket.sleep(0.02) end
    local pid = tonumber(read(pidf):match("%d+"))
    assert.truthy(pid)
    assert.is_true(#read_lines(journal) >= 3, "no chunk was journaled: " .. read(tmp("sig.err")))
    os.execute("kill -INT " .. pid)
    while socket.gettime() < deadline and read(rcf) == "" do socket.sleep(0.05) end
    assert.equal("130", read(rcf):match("%d+"), read(tmp("sig.err")))
    local out = read(tmp("sig.out"))
    local sent, chunks = out:match("(%d+) sent in %d+ calls %((%d+) chunks")
    assert.truthy(sent, "no summary: " .. out)
    assert.truthy(read(tmp("sig.err")):find("INTERRUPTED", 1, true))
    -- every chunk the summary counts is in the journal: nothing will be sent twice
    assert.equal(tonumber(chunks) + 1, #read_lines(journal))
    assert.is_true(tonumber(sent) < 30000)
    local code, out2, err = egoi(("--json import %s %s --journal %s --max-rows 1000"):format(list, path, journal))
    assert.equal(0, code, err)
    local s = cjson.decode(out2)
    assert.equal(tonumber(sent), s.skipped)
    assert.equal(30000 - tonumber(sent), s.added)
    assert.equal(0, s.updated)
  end)

  it("ends at once on SIGINT during a rate-limit wait, with nothing in flight", function()
    local list = new_list()
    local path = tmp("wait.csv")
    local rows = { "email" }
    for i = 1, 300 do rows[#rows + 1] = ("wait%03d@example.com"):format(i) end
    write(path, table.concat(rows, "\n") .. "\n")
    local journal, pidf, rcf = tmp("wait.journal"), tmp("wait.pid"), tmp("wait.rc")
    local env = envs():gsub("EGOI_RATE_LIMIT=off", "EGOI_RATE_LIMIT=1/60 EGOI_RATE_STATE=" .. q(tmp("wait.rl")))
    os.execute(("(%s lua5.4 bin/egoi import %s %s --journal %s --max-rows 100 >%s 2>%s & echo $! >%s; wait $!;"
      .. " echo $? >%s) &"):format(env, list, path, journal, tmp("wait.out"), tmp("wait.err"), pidf, rcf))
    local deadline = socket.gettime() + 30
    -- chunk 1 goes out at once; chunk 2 waits a minute for the next slot
    while socket.gettime() < deadline and #read_lines(journal) < 2 do socket.sleep(0.02) end
    assert.equal(2, #read_lines(journal), read(tmp("wait.err")))
    socket.sleep(0.5)
    local pid = tonumber(read(pidf):match("%d+"))
    local t0 = socket.gettime()
    os.execute("kill -INT " .. pid)
    while socket.gettime() < t0 + 30 and read(rcf) == "" do socket.sleep(0.05) end
    assert.is_true(socket.gettime() - t0 < 10, "the interrupt waited for the rate limit")
    assert.equal("130", read(rcf):match("%d+"), read(tmp("wait.err")))
    assert.truthy(read(tmp("wait.out")):find("100 sent in 1 calls", 1, true), read(tmp("wait.out")))
    assert.equal(2, #read_lines(journal))
  end)

  it("prints what was imported before a call failed half-way, then the error", function()
    local sb2 = server.start{ cmd = "lua5.4 " .. SANDBOX .. " --port {port} --rate-limit 0 --quiet --bulk-limit 60k" }
    local ok, e = pcall(function()
      local code, out, err = egoi("--json lists create half", sb2:url("/"))
      assert.equal(0, code, err)
      local list = tostring(cjson.decode(out).LIST_ID)
      local path = tmp("half.csv")
      local rows = { "email,first_name" }
      for i = 1, 200 do
        rows[#rows + 1] = ("half%03d@example.com,%s"):format(i, i <= 100 and "N" or ("x"):rep(1000))
      end
      write(path, table.concat(rows, "\n") .. "\n")
      code, out, err = egoi(("import %s %s --max-rows 100"):format(list, path), sb2:url("/"))
      assert.equal(1, code, err)
      assert.truthy(err:find("MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED", 1, true), err)
      assert.truthy(out:find("100 sent in 2 calls (1 chunks", 1, true), out)
    end)
    sb2:stop()
    assert(ok, e)
  end)
end)
