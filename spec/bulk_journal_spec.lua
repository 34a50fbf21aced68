-- spec/bulk_journal_spec.lua - the import journal checks what the file holds (not only where
-- it stopped), and the rejects file of a job survives interrupts and resumes, complete.
local server = require "helpers.server"
local egoi = require "egoi"
local bulk = require "egoi.bulk"
local csv = require "egoi.csv"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local SANDBOX = os.getenv("EGOI_SANDBOX") or "bin/egoi-sandbox"

local read_lines, read_file = server.read_lines, server.read_file

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- n rows; the rows in `bad` (row numbers) get an address without "@" (same length as a good one)
local function contacts(n, bad)
  local out = { "email,first_name\n" }
  for i = 1, n do
    local sep = bad[i] and "." or "@"
    out[#out + 1] = ("user%04d%sexample.com,N%d\n"):format(i, sep, i)
  end
  return table.concat(out)
end

describe("egoi.bulk journal and rejects", function()
  local sb, client, tmpdir

  local function tmp(name) return tmpdir .. "/" .. name end

  local function new_list()
    return client:call("createList", { nome = "journal spec", idioma_lista = "en", canal_email = 1 }).LIST_ID
  end

  local function emails(list)
    local res = client:call("subscriberData", { listID = list, subscriber = "all_subscribers", start = 0,
      limit = 100000 })
    local out, n = {}, 0
    for _, r in ipairs(type(res.subscriber) == "table" and res.subscriber or {}) do
      out[r.EMAIL] = true
      n = n + 1
    end
    return out, n
  end

  -- the rejects file as { line -> reason }, failing on a line listed twice
  local function rejects_of(path)
    local r = assert(csv.open(path))
    assert.same({ "line", "reason", "row" }, r:next())
    local out, n = {}, 0
    for fields in r:records() do
      assert.is_nil(out[fields[1]], "line " .. fields[1] .. " listed twice in the rejects file")
      out[fields[1]] = fields[2]
      n = n + 1
    end
    r:close()
    return out, n
  end

  setup(function()
    tmpdir = os.tmpname()
    os.remove(tmpdir)
    assert(os.execute("mkdir -p " .. tmpdir))
    sb = server.start{ cmd = "lua5.4 " .. SANDBOX .. " --port {port} --rate-limit 0 --quiet" }
    client = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false, timeout = 60 }
  end)

  teardown(function()
    if client then client:close() end
    if sb then sb:stop() end
    if tmpdir then os.execute("rm -rf " .. tmpdir) end
  end)

  it("sends a row fixed in place (same length) on the rerun instead of calling it imported", function()
    local path, journal, rej = tmp("fix.csv"), tmp("fix.journal"), tmp("fix.rejects")
    write(path, contacts(300, { [50] = true, [250] = true }))
    local list = new_list()
    local s1 = bulk.import(client, path, { listID = list, max_rows = 100, journal = journal, rejects = rej })
    assert.equal(298, s1.sent)
    assert.equal(2, s1.rejected_count)
    local size = #read_file(path)
    -- fix line 51 (row 50) in place
    write(path, contacts(300, { [250] = true }))
    assert.equal(size, #read_file(path))
    local s2 = bulk.import(client, path, { listID = list, max_rows = 100, journal = journal, rejects = rej })
    assert.truthy(s2.changed, "the change went unnoticed")
    assert.equal(1, s2.changed.chunk)
    assert.is_true(s2.sent >= 1)
    local got, n = emails(list)
    assert.truthy(got["user0050@example.com"], "the fixed row was never sent")
    assert.equal(299, n)
    -- the rejects file now lists only what is still rejected
    local r = rejects_of(rej)
    assert.same({ ["251"] = r["251"] }, r)
    -- and a third run has nothing left to do
    local s3 = bulk.import(client, path, { listID = list, max_rows = 100, journal = journal, rejects = rej })
    assert.equal(0, s3.calls)
    assert.is_nil(s3.changed)
  end)

  it("notices a file replaced under the same name and imports the new one", function()
    local path, journal = tmp("repl.csv"), tmp("repl.journal")
    write(path, contacts(120, {}))
    local list = new_list()
    bulk.import(client, path, { listID = list, max_rows = 50, journal = journal })
    write(path, (contacts(120, {}):gsub("user", "other")))
    local s = bulk.import(client, path, { listID = list, max_rows = 50, journal = journal })
    assert.equal(1, s.changed.chunk)
    assert.equal(120, s.sent)
    local _, n = emails(list)
    assert.equal(240, n)
  end)

  it("keeps every rejected row once across a crash and a resume, service refusals included", function()
    local path, journal, rej = tmp("crash.csv"), tmp("crash.journal"), tmp("crash.rejects")
    -- rows 30, 130, 230 bad locally; rows 60, 160 carry an extra field the list lacks
    local out = { "email,first_name,extra_999\n" }
    for i = 1, 300 do
      local sep = (i % 100 == 30) and "." or "@"
      out[#out + 1] = ("crash%04d%sexample.com,N%d,%s\n"):format(i, sep, i, (i % 100 == 60) and "x" or "")
    end
    write(path, table.concat(out))
    local list = new_list()
    local ok, err = pcall(bulk.import, client, path, { listID = list, max_rows = 100, journal = journal,
      rejects = rej, on_chunk = function(info) if info.chunk == 2 then error("simulated crash") end end })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("simulated crash", 1, true))
    -- the crashed run had already read (and rejected) rows past its last journaled chunk
    local s = bulk.import(client, path, { listID = list, max_rows = 100, journal = journal, rejects = rej })
    assert.equal(0, #s.warnings)
    local r, n = rejects_of(rej)
    assert.equal(6, n)
    for _, line in ipairs{ "31", "131", "231" } do
      assert.truthy(r[line]:find("e-mail", 1, true), line .. ": " .. tostring(r[line]))
    end
    for _, line in ipairs{ "61", "161", "261" } do
      assert.equal("refused by the service: INVALID_EXTRA_FIELD", r[line])
    end
  end)

  it("resumes by seeking (dedupe = false) and keeps the digests valid from the seek point", function()
    local path, journal = tmp("seek.csv"), tmp("seek.journal")
    write(path, "\239\187\191" .. contacts(300, {}))
    local list = new_list()
    local o = { listID = list, max_rows = 100, journal = journal, dedupe = false }
    local crashing = { on_chunk = function(info) if info.chunk == 2 then error("crash") end end }
    for k, v in pairs(o) do crashing[k] = v end
    local ok = pcall(bulk.import, client, path, crashing)
    assert.is_false(ok)
    local s2 = bulk.import(client, path, o)
    assert.equal(200, s2.skipped)
    assert.equal(100, s2.sent)
    assert.is_nil(s2.changed)
    local s3 = bulk.import(client, path, o)
    assert.is_nil(s3.changed, "the digest written after the seek does not match the file")
    assert.equal(0, s3.calls)
    local _, n = emails(list)
    assert.equal(300, n)
  end)

  it("starts a new rejects file without a journal, and refuses a journal of format 1", function()
    local rej = tmp("fresh.rejects")
    write(rej, "old content\n")
    local list = new_list()
    bulk.import(client, { { email = "bad" }, { email = "ok@example.com" } }, { listID = list, rejects = rej })
    local lines = read_lines(rej)
    assert.equal(2, #lines)
    assert.equal("line,reason,row", lines[1])
    local journal = tmp("v1.journal")
    write(journal, "egoi-import-journal 1 list=" .. list .. " compare=email\n")
    local ok, err = pcall(bulk.import, client, { { email = "a@example.com" } }, { listID = list, journal = journal })
    assert.is_false(ok)
    assert.equal("JOURNAL_MISMATCH", err.code)
    assert.truthy(err.message:find("format 1", 1, true))
  end)
end)
