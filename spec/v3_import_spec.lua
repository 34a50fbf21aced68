-- spec/v3_import_spec.lua - the bulk importer and the export on API v3 against the sandbox:
-- the same pipeline as v2 (local validation, rejects with line numbers, journal and resume),
-- the v3 backend's chunks, 413 splits, modes and completion; every call counted at the server.
local server = require "helpers.server"
local egoi = require "egoi"
local bulk = require "egoi.bulk"

local KEY = "0123456789abcdef0123456789abcdef01234567"

-- the requests the sandbox logged (v2 and v3), optionally only those matching pattern
local function calls(sb, pattern)
  local n = 0
  for line in sb:log():gmatch("[^\n]+") do
    if (line:match(" v3 %d%d%d ") or line:match(" /v2/rest%.php ")) and (not pattern or line:find(pattern)) then
      n = n + 1
    end
  end
  return n
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function start(args)
  return assert(server.start{ cmd = "bin/egoi-sandbox --port {port} --rate-limit 0 " .. (args or "") })
end

local function clients(sb)
  local v3 = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false }
  local v2 = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false }
  return v3, v2
end

local function contacts(v3, list)
  local out = {}
  for c in v3.contacts:each(list) do out[c.base.email] = c.base end
  return out
end

describe("bulk import on API v3", function()
  local sb, v3, v2, tmp

  before_each(function()
    sb = start("--v3-max-body 4000")
    v3, v2 = clients(sb)
    tmp = {}
  end)

  after_each(function()
    v3:close()
    v2:close()
    sb:stop()
    for _, p in ipairs(tmp) do os.remove(p) end
  end)

  local function tmpname()
    local p = os.tmpname()
    tmp[#tmp + 1] = p
    return p
  end

  it("validates locally and rejects with line numbers, in one import-bulk call", function()
    local list = v3.lists:create{ internal_name = "v3 import" }.list_id
    local csv, rejects = tmpname(), tmpname()
    write(csv, "email,first_name,phone\na@example.com,Ann,351-212345678\nnot-an-email,Bad,\n"
      .. "b@example.com,Bob,\nA@example.com,Dup,\nc@example.com,Cy,12\n")
    local before = calls(sb)
    local s = v3.contacts:import(list, csv, { rejects = rejects })
    assert.equal(1, calls(sb) - before)
    assert.equal(1, s.calls)
    assert.equal("v3", s.api)
    assert.equal(2, s.sent)
    assert.equal(2, s.queued)
    assert.equal(3, s.rejected_count)
    local lines = {}
    for _, r in ipairs(s.rejected) do lines[#lines + 1] = r.line end
    assert.same({ 3, 5, 6 }, lines)
    assert.truthy(s.rejected[2].reason:find("duplicate", 1, true))
    local got = contacts(v3, list)
    assert.equal("Ann", got["a@example.com"].first_name)
    assert.equal("351-212345678", got["a@example.com"].phone)
    assert.equal("Bob", got["b@example.com"].first_name)
    assert.is_nil(got["c@example.com"])
    local f = assert(io.open(rejects, "rb"))
    local text = f:read("a")
    f:close()
    assert.truthy(text:find("not-an-email", 1, true))
  end)

  it("splits a chunk the server refuses with 413 and sends only that chunk's halves", function()
    local list = v3.lists:create{ internal_name = "v3 413" }.list_id
    local rows = {}
    for i = 1, 80 do rows[i] = { email = ("big%03d@example.com"):format(i), first_name = ("x"):rep(20) } end
    local before = calls(sb)
    local s = bulk.import(v3, rows, { listID = list, mode = "add" })
    local made = calls(sb) - before
    assert.equal(s.calls, made)
    assert.is_true(s.split >= 1)
    assert.equal(s.split, calls(sb, " 413 "))
    assert.equal(80, s.queued)
    local n = 0
    for _ in pairs(contacts(v3, list)) do n = n + 1 end
    assert.equal(80, n)
  end)

  it("journals each accepted part of a split chunk: a failure after it never re-sends it", function()
    -- the rate limit lets 2 calls through: the 413 and the first half; the second half gets a 429
    sb:stop()
    sb = start("--v3-max-body 3000 --v3-rate-limit 2/3600")
    v3:close()
    v2:close()
    v3 = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = { calls = 1000, window = 3600,
      state_file = tmpname(), wait = false } }
    v2 = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false }
    local list = v2:call("createList", { nome = "split journal", idioma_lista = "en", canal_email = 1 }).LIST_ID
    local csv, journal = tmpname(), tmpname()
    os.remove(journal)
    local parts = { "email,first_name" }
    for i = 1, 60 do parts[#parts + 1] = ("p%02d@example.com,P%d"):format(i, i) end
    write(csv, table.concat(parts, "\n") .. "\n")
    local ok, err = pcall(bulk.import, v3, csv, { listID = list, journal = journal })
    assert.is_false(ok)
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(2, calls(sb, "import%-bulk v3 %d+"))
    local half = err.import.sent
    assert.is_true(half > 0 and half < 60)
    -- a fresh window: the rerun sends only the rows after the accepted half
    sb:stop()
    sb = start("--v3-max-body 3000")
    v3:close()
    v3 = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false }
    v2:close()
    v2 = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false }
    list = v2:call("createList", { nome = "split journal", idioma_lista = "en", canal_email = 1 }).LIST_ID
    local s = bulk.import(v3, csv, { listID = list, journal = journal })
    assert.equal(half, s.skipped)
    assert.equal(60 - half, s.sent)
    local n = 0
    for _ in pairs(contacts(v3, list)) do n = n + 1 end
    assert.equal(60 - half, n) -- this sandbox is new: it holds exactly what the rerun sent
  end)

  it("after a 413, makes later chunks fit the service's cap instead of splitting each", function()
    local list = v3.lists:create{ internal_name = "v3 learned cap" }.list_id
    local rows = {}
    for i = 1, 300 do rows[i] = { email = ("cap%03d@example.com"):format(i), first_name = "C" .. i } end
    local before = calls(sb)
    local s = bulk.import(v3, rows, { listID = list, max_rows = 100 })
    assert.equal(1, s.split)
    assert.equal(1, calls(sb, " 413 "))
    assert.equal(s.calls, calls(sb) - before)
    assert.equal(300, s.queued)
    assert.is_true(s.cap < 4000)
  end)

  it("journals each chunk and a rerun resumes after the last accepted one", function()
    local list = v3.lists:create{ internal_name = "v3 journal" }.list_id
    local csv, journal = tmpname(), tmpname()
    os.remove(journal)
    local parts = { "email,first_name" }
    for i = 1, 30 do parts[#parts + 1] = ("j%02d@example.com,J%d"):format(i, i) end
    write(csv, table.concat(parts, "\n") .. "\n")
    local s1 = bulk.import(v3, csv, { listID = list, journal = journal, max_rows = 10,
      on_chunk = function(rec) return rec.chunk < 2 end })
    assert.is_true(s1.stopped)
    assert.equal(2, s1.chunks)
    local before = calls(sb)
    local s2 = bulk.import(v3, csv, { listID = list, journal = journal, max_rows = 10 })
    assert.equal(20, s2.skipped)
    assert.equal(10, s2.sent)
    assert.equal(1, calls(sb) - before)
    local n = 0
    for _ in pairs(contacts(v3, list)) do n = n + 1 end
    assert.equal(30, n)
  end)

  it("honours mode add / update / update_only and compare_field", function()
    local list = v3.lists:create{ internal_name = "v3 modes" }.list_id
    local function two(a, b, c, d) return { { email = a, first_name = b }, { email = c, first_name = d } } end
    bulk.import(v3, two("m1@example.com", "One", "m2@example.com", "Two"), { listID = list })
    bulk.import(v3, two("m1@example.com", "Uno", "m3@example.com", "Three"), { listID = list, mode = "add" })
    local got = contacts(v3, list)
    assert.equal("One", got["m1@example.com"].first_name)
    assert.equal("Three", got["m3@example.com"].first_name)
    bulk.import(v3, two("m2@example.com", "Dos", "m4@example.com", "Four"), { listID = list, mode = "update_only" })
    got = contacts(v3, list)
    assert.equal("Dos", got["m2@example.com"].first_name)
    assert.is_nil(got["m4@example.com"])
    -- compare by cellphone
    bulk.import(v3, { { cellphone = "351-911111111", first_name = "Cell" }, { cellphone = "351-922222222" } },
      { listID = list, compare_field = "cellphone", mode = "update" })
    local seen = 0
    for c in v3.contacts:each(list) do if c.base.cellphone == "351-911111111" then seen = seen + 1 end end
    assert.equal(1, seen)
    -- v2 has no update_only: refused before any call
    local before = calls(sb)
    local ok, err = pcall(bulk.import, v2, { { email = "x@example.com" } }, { listID = list, mode = "update_only" })
    assert.is_false(ok)
    assert.equal("usage", err.kind)
    assert.truthy(err.message:find("update_only", 1, true))
    assert.equal(0, calls(sb) - before)
  end)

  it("writes one contact with search + create/patch (import-bulk takes at least 2)", function()
    local list = v3.lists:create{ internal_name = "v3 one" }.list_id
    local s = bulk.import(v3, { { email = "solo@example.com", first_name = "Solo" } },
      { listID = list, mode = "update" })
    assert.equal(1, s.added)
    assert.equal(2, s.calls) -- search (404), create
    s = bulk.import(v3, { { email = "solo@example.com", first_name = "Again" } }, { listID = list, mode = "update" })
    assert.equal(1, s.updated)
    assert.equal("Again", contacts(v3, list)["solo@example.com"].first_name)
  end)

  it("observes completion in the operations queue with wait", function()
    local list = v3.lists:create{ internal_name = "v3 wait" }.list_id
    local before = calls(sb)
    local s = bulk.import(v3, { { email = "w1@example.com" }, { email = "w2@example.com" } },
      { listID = list, wait = { interval = 0.01 } })
    assert.is_true(s.completed)
    assert.equal(2, s.calls)
    assert.equal(1, calls(sb, "GET /operations"))
    assert.equal(2, calls(sb) - before)
  end)

  it("reports the service's counts from the import callbacks, one per accepted call", function()
    local list = v3.lists:create{ internal_name = "v3 callback" }.list_id
    local dir = server.tmpdir("v3cb")
    local hooks = dir .. "/hooks.jsonl"
    local sink = assert(server.start{ cmd = "/usr/bin/python3 spec/servers/sandbox_callback_sink.py {port} "
      .. hooks })
    bulk.import(v3, { { email = "old1@example.com" }, { email = "old2@example.com" } }, { listID = list })
    local taken = 0
    local function receive()
      local f = io.open(hooks, "rb")
      if not f then return nil end
      local n, got = 0, nil
      for line in f:lines() do
        n = n + 1
        if n == taken + 1 then got = line end
      end
      f:close()
      if not got then return nil end
      taken = taken + 1
      return require("cjson").decode(require("cjson").decode(got).body)
    end
    local rows = { { email = "old1@example.com", first_name = "Changed" } }
    for i = 1, 79 do rows[#rows + 1] = { email = ("cb%03d@example.com"):format(i), first_name = ("y"):rep(20) } end
    local s = bulk.import(v3, rows, { listID = list, mode = "update", callback_url = sink:url("/import"),
      receive = receive, poll_interval = 0.05, wait_timeout = 30 })
    assert.is_true(s.split >= 1) -- several import-bulk calls, each reported
    assert.equal(s.chunks + s.split, s.service.reports)
    assert.equal(79, s.service.imported)
    assert.equal(1, s.service.updated)
    assert.equal(79, s.added)
    assert.equal(1, s.updated)
    assert.is_nil(s.reports_missing)
    sink:stop()
    server.rmdir(dir)
  end)

  it("names a v3 compare field that has no equivalent, before any call", function()
    local ok, err = pcall(bulk.import, v3, { { email = "a@example.com", fax = "351-212345678" } },
      { listID = 1, compare_field = "fax" })
    assert.is_false(ok)
    assert.truthy(err.message:find("fax", 1, true))
  end)
end)

describe("export on API v3", function()
  it("pages at 1000 (advancing by what a capped server answers) into the v2 export's columns", function()
    local sb = start("--v3-page-cap 7")
    local v3, v2 = clients(sb)
    local list = v3.lists:create{ internal_name = "v3 export" }.list_id
    local rows = {}
    for i = 1, 20 do rows[i] = { email = ("e%02d@example.com"):format(i), first_name = "E" .. i } end
    bulk.import(v2, rows, { listID = list })
    local a, b = {}, {}
    local before = calls(sb)
    local x3 = v3.contacts:export(list, function(t) a[#a + 1] = t end)
    assert.equal(3, calls(sb) - before) -- 7 + 7 + 6, total_items ends it
    assert.equal(3, x3.calls)
    assert.equal(20, x3.rows)
    local x2 = bulk.export(v2, list, function(t) b[#b + 1] = t end)
    assert.equal(20, x2.rows)
    -- the columns v3 knows are the v2 export's, in the same order, with the same values
    local function cols(line)
      local t = {}
      for c in line:gsub("\r?\n$", ""):gmatch("[^,]+") do t[#t + 1] = c end
      return t
    end
    local h3, h2 = cols(a[1]), cols(b[1])
    local pos2 = {}
    for i, c in ipairs(h2) do pos2[c] = i end
    local last = 0
    for _, c in ipairs(h3) do
      assert.is_number(pos2[c], c)
      assert.is_true(pos2[c] > last, c)
      last = pos2[c]
    end
    for _, c in ipairs{ "uid", "email", "first_name", "status" } do assert.is_number(pos2[c]) end
    local r3, r2 = cols(a[2]), cols(b[2])
    for i, c in ipairs(h3) do
      if c ~= "lang" then assert.equal(r2[pos2[c]], r3[i], c) end
    end
    v3:close()
    v2:close()
    sb:stop()
  end)
end)

describe("export on API v3 through the export action", function()
  it("costs one call: the file link arrives at the callback, the file is read into the same CSV", function()
    local sb = assert(server.start{ cmd = "bin/egoi-sandbox --port {port} --rate-limit 0" })
    local dir = server.tmpdir("v3export")
    local hooks = dir .. "/hooks.jsonl"
    local sink = assert(server.start{ cmd = "/usr/bin/python3 spec/servers/sandbox_callback_sink.py {port} "
      .. hooks })
    local v3, v2 = clients(sb)
    local list = v3.lists:create{ internal_name = "v3 export action" }.list_id
    local rows = {}
    for i = 1, 12 do rows[i] = { email = ("x%02d@example.com"):format(i), first_name = "X, " .. i } end
    bulk.import(v2, rows, { listID = list })
    local function receive()
      local f = io.open(hooks, "rb")
      if not f then return nil end
      local line = f:read("l")
      f:close()
      if not line then return nil end
      return require("cjson").decode(require("cjson").decode(line).body)
    end
    local a, b = {}, {}
    local before = calls(sb)
    local x = v3.contacts:export(list, function(t) a[#a + 1] = t end,
      { callback_url = sink:url("/export-hook"), receive = receive, poll_interval = 0.05, wait_timeout = 30 })
    assert.equal(1, x.calls)
    assert.equal(12, x.rows)
    assert.equal(1, calls(sb, "POST /lists/%d+/contacts/actions/export"))
    -- the download is no API call (no key, outside the limits), made once
    assert.equal(1, calls(sb, "GET /exports/%x+%.csv"))
    assert.equal(1, calls(sb) - before - 1)
    bulk.export(v2, list, function(t) b[#b + 1] = t end)
    -- the columns the file has are the v2 export's, same order, same values (quoted commas too)
    local csv = require "egoi.csv"
    local function parse(lines)
      local f = io.tmpfile()
      f:write(table.concat(lines))
      f:seek("set", 0)
      local r = csv.reader(f, { close = true })
      local out = {}
      while true do
        local rec = r:next()
        if not rec then break end
        out[#out + 1] = rec
      end
      r:close()
      return out
    end
    local A, B = parse(a), parse(b)
    local pos2 = {}
    for i, c in ipairs(B[1]) do pos2[c] = i end
    for i, c in ipairs(A[1]) do
      assert.is_number(pos2[c], c)
      if c ~= "lang" then assert.equal(B[2][pos2[c]], A[2][i], c) end
    end
    assert.equal("X, 1", A[2][pos2.first_name and (function()
      for i, c in ipairs(A[1]) do if c == "first_name" then return i end end
    end)()])
    -- a wrong use is refused before any call
    local ok, err = pcall(v3.contacts.export, v3.contacts, list, function() end, { callback_url = "ftp://x" })
    assert.is_false(ok)
    assert.truthy(err.message:find("callback_url", 1, true))
    v3:close()
    v2:close()
    sink:stop()
    sb:stop()
    server.rmdir(dir)
  end)
end)
