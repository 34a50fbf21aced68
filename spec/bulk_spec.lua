-- spec/bulk_spec.lua - egoi.bulk import/export against a real sandbox on loopback.
local server = require "helpers.server"
local socket = require "socket"
local egoi = require "egoi"
local bulk = require "egoi.bulk"
local csv = require "egoi.csv"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local SANDBOX = os.getenv("EGOI_SANDBOX") or "bin/egoi-sandbox"
local LUA = os.getenv("EGOI_TEST_LUA") or (rawget(_G, "jit") and "luajit" or "lua5.4")

local function start_sandbox(extra)
  return server.start{ cmd = "lua5.4 " .. SANDBOX .. " --port {port} --rate-limit 0 --quiet"
    .. " --max-fields 100000000 --max-subscribers 10000000 " .. (extra or "") }
end

local function new_client(sb, opts)
  local o = { apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false, timeout = 120 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return egoi.new(o)
end

local tmpdir
local function tmp(name) return tmpdir .. "/" .. name end

local function new_list(client, name)
  local r = client:call("createList", { nome = name or "bulk spec", idioma_lista = "en", canal_email = 1 })
  return r.LIST_ID
end

-- Write a contacts CSV of n data rows; every 50th row is bad (2 %), in five different ways.
-- Returns { good = { email -> { first_name=, last_name=, city= } }, ngood =, bad = { line -> kind } }
local function gen_csv(path, n)
  local f = assert(io.open(path, "wb"))
  f:write("email,first_name,last_name,cellphone,birth_date,city\r\n")
  local line = 2
  local exp = { good = {}, ngood = 0, bad = {}, order = {} }
  local names = { "João", "Conceição", "Zoë", "Ana", "Miguel", "Łukasz", "Inês" }
  local prev_email
  for i = 1, n do
    local email = ("user%05d@example.com"):format(i)
    local first = names[i % #names + 1]
    local last = (i % 3 == 0) and ("Silva, Jr %d"):format(i) or ("Costa%d"):format(i)
    local phone = (i % 2 == 0) and ("351-91%07d"):format(i) or ""
    local birth = (i % 5 == 0) and "1980-02-29" or ""
    local city = (i % 1000 == 0) and "Porto\nNorte" or "Lisboa"
    local kind
    if i % 50 == 0 then
      local k = (i / 50) % 5
      if k == 0 then kind, email = "email", ("user%05d.example.com"):format(i)
      elseif k == 1 then kind, phone = "phone", "912345678"
      elseif k == 2 then kind, email = "duplicate", prev_email:upper()
      elseif k == 3 then kind, birth = "date", "2023-02-30"
      else kind, email = "email", ("user%05d@@example.com"):format(i) end
    end
    f:write(csv.format{ email, first, last, phone, birth, city }, "\r\n")
    if kind then
      exp.bad[line] = kind
    else
      exp.good[email] = { first_name = first, last_name = last, city = city,
        cellphone = phone ~= "" and phone or nil, birth_date = birth ~= "" and birth or nil }
      exp.ngood = exp.ngood + 1
      exp.order[#exp.order + 1] = email
    end
    prev_email = email
    line = line + 1 + ((i % 1000 == 0) and 1 or 0)
  end
  f:close()
  return exp
end

-- every subscriber of a list: email -> record (subscriberData paging, big pages)
local function list_contents(client, list_id)
  local out, n, start = {}, 0, 0
  while true do
    local res = client:call("subscriberData", { listID = list_id, subscriber = "all_subscribers",
      start = start, limit = 5000 })
    local page = type(res.subscriber) == "table" and res.subscriber or {}
    for _, r in ipairs(page) do
      assert.is_nil(out[r.EMAIL], "subscriber listed twice: " .. tostring(r.EMAIL))
      out[r.EMAIL] = r
      n = n + 1
    end
    start = start + #page
    if #page < 5000 then break end
  end
  return out, n
end

local read_lines = server.read_lines

describe("egoi.bulk", function()
  local sb, client

  setup(function()
    tmpdir = os.tmpname()
    os.remove(tmpdir)
    assert(os.execute("mkdir -p " .. tmpdir))
    sb = start_sandbox()
    client = new_client(sb)
  end)

  teardown(function()
    if client then client:close() end
    if sb then sb:stop() end
    if tmpdir then os.execute("rm -rf " .. tmpdir) end
  end)

  describe("validation helpers", function()
    it("normalises phones only when the country code is unambiguous", function()
      assert.equal("351-912345678", bulk.normalize_phone("351-912345678"))
      assert.equal("351-912345678", bulk.normalize_phone("+351912345678"))
      assert.equal("351-912345678", bulk.normalize_phone("+351 912 345 678"))
      assert.equal("351-912345678", bulk.normalize_phone("00351912345678"))
      assert.equal("1-2025550123", bulk.normalize_phone("+1 (202) 555-0123"))
      assert.equal("44-2079460000", bulk.normalize_phone("+442079460000"))
      assert.equal("7-4951234567", bulk.normalize_phone("+74951234567"))
      assert.is_nil(bulk.normalize_phone("912345678"))           -- no country code
      assert.is_nil(bulk.normalize_phone("+280123456789"))       -- spare code 28x
      assert.is_nil(bulk.normalize_phone("351-12"))              -- too short
      assert.is_nil(bulk.normalize_phone("+3519123456789012345")) -- longer than E.164
    end)

    it("checks e-mail syntax pragmatically", function()
      assert.is_nil(bulk.email_problem("a.b+tag@example.co.uk"))
      assert.is_nil(bulk.email_problem("zé@exemplo.pt"))
      for _, bad in ipairs{ "plain", "a@b", "a@@b.com", "a b@c.com", ".a@b.com", "a..b@c.com",
        "a@-b.com", "a@b.c", "a@b.123" } do
        assert.truthy(bulk.email_problem(bad), bad)
      end
    end)
  end)

  describe("import", function()
    it("imports 20,000 rows with 2 % bad ones in one call and reports every bad row", function()
      local path = tmp("contacts20k.csv")
      local exp = gen_csv(path, 20000)
      local list = new_list(client)
      local progress = 0
      local s = bulk.import(client, path, { listID = list, on_progress = function() progress = progress + 1 end })
      assert.equal(20000, s.rows)
      assert.equal(19600, exp.ngood)
      assert.equal(19600, s.sent)
      assert.equal(400, s.rejected_count)
      assert.equal(400, #s.rejected)
      assert.equal(1, s.calls)
      assert.equal(1, s.chunks)
      assert.equal(0, s.skipped)
      assert.equal(19600, s.added)
      assert.is_true(progress > 2)
      local kinds = {}
      for _, r in ipairs(s.rejected) do
        local kind = exp.bad[r.line]
        assert.truthy(kind, "unexpected rejected line " .. r.line .. ": " .. r.reason)
        kinds[kind] = (kinds[kind] or 0) + 1
        if kind == "duplicate" then assert.truthy(r.reason:find("duplicate in file", 1, true)) end
        if kind == "phone" then assert.truthy(r.reason:find("cellphone", 1, true)) end
        if kind == "date" then assert.truthy(r.reason:find("birth_date", 1, true)) end
        assert.equal("table", type(r.row))
      end
      assert.same({ email = 160, phone = 80, duplicate = 80, date = 80 }, kinds)
      -- the list holds exactly the good rows, with their fields (UTF-8 intact)
      local got, n = list_contents(client, list)
      assert.equal(19600, n)
      for email, want in pairs(exp.good) do
        local r = got[email]
        assert.truthy(r, "missing " .. email)
        assert.equal(want.first_name, r.FIRST_NAME)
        assert.equal(want.last_name, r.LAST_NAME)
        assert.equal(want.city, r.CITY)
        assert.equal(want.cellphone, r.CELLPHONE)
      end
    end)

    it("splits into the minimum number of calls a small max_bytes allows", function()
      local path = tmp("contacts3k.csv")
      gen_csv(path, 3000)
      local list = new_list(client)
      local bodies = {}
      -- a client wrapper that records the rows part of each body and delegates to the real client
      local spy = setmetatable({
        body_buffer = function(_, m, o) return client:body_buffer(m, o) end,
        call_buffer = function(_, m, fb)
          local body = fb:string()
          local at = body:find("functionOptions[subscribers][0]", 1, true)
          bodies[#bodies + 1] = body:sub(at)
          return client:call_buffer(m, fb)
        end,
      }, { __index = client })
      local max = 200 * 1024
      local s = bulk.import(spy, path, { listID = list, max_bytes = max })
      assert.equal(2940, s.sent)
      assert.equal(#bodies, s.calls)
      assert.is_true(s.calls >= 3)
      local total = 0
      for i, frag in ipairs(bodies) do
        total = total + #frag
        assert.is_true(#frag <= s.cap, "chunk over the cap")
        if i < #bodies then
          -- greedy packing is minimal: the next chunk's first row did not fit
          local nextfirst = bodies[i + 1]:match("^(.-)&functionOptions%[subscribers%]%[1%]") or bodies[i + 1]
          local rows = select(2, frag:gsub("%[email%]=", ""))
          local leaves = select(2, nextfirst:gsub("=", ""))
          local grown = #nextfirst + leaves * (#tostring(rows) - 1)
          -- the chunk held "&" .. frag; one more row would add "&" .. row
          assert.is_true(#frag + 2 + grown > s.cap, "chunk " .. i .. " could have taken one more row")
        end
      end
      assert.equal(total + #bodies, s.bytes) -- s.bytes counts each chunk's "&" after the options
      local _, n = list_contents(client, list)
      assert.equal(2940, n)
    end)

    it("respects the service's size limit (MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED) and keeps the journal valid",
      function()
        local sb2 = start_sandbox("--bulk-limit 100k")
        local c2 = new_client(sb2, { raise = false })
        local ok, err = pcall(function()
          local list = new_list(c2)
          local path = tmp("contacts1k.csv")
          gen_csv(path, 1000)
          local journal = tmp("limit.journal")
          -- under the limit: fine
          local s = assert(bulk.import(c2, path, { listID = list, max_bytes = 90 * 1024, journal = journal }))
          assert.is_true(s.calls > 1)
          -- over it: the service error comes back, nothing more is journaled
          local list2 = new_list(c2)
          local j2 = tmp("limit2.journal")
          local res, e, partial = bulk.import(c2, path, { listID = list2, max_bytes = 1024 * 1024, journal = j2 })
          assert.is_nil(res)
          assert.equal("MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED", e.code)
          assert.equal("api", e.kind)
          assert.equal(0, partial.chunks)
          assert.equal(1, #read_lines(j2)) -- the header only
        end)
        c2:close()
        sb2:stop()
        assert(ok, err)
      end)

    it("resumes from the journal after a failure: nothing sent twice, nothing missed", function()
      local path = tmp("contacts_resume.csv")
      local exp = gen_csv(path, 3000)
      local list = new_list(client)
      local journal = tmp("resume.journal")
      local ok, err = pcall(bulk.import, client, path, { listID = list, max_rows = 500, journal = journal,
        on_chunk = function(info) if info.chunk == 2 then error("simulated crash") end end })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("simulated crash", 1, true))
      local lines = read_lines(journal)
      assert.equal(3, #lines) -- header + 2 chunks
      local s = bulk.import(client, path, { listID = list, max_rows = 500, journal = journal })
      local next_index = tonumber(lines[3]:match("next_index=(%d+)"))
      assert.equal(next_index, s.skipped)
      assert.equal(3000 - next_index, s.rows)
      assert.equal(exp.ngood - 1000, s.sent)
      assert.equal(exp.ngood - 1000, s.added)
      assert.equal(0, s.updated)
      local got, n = list_contents(client, list)
      assert.equal(exp.ngood, n)
      for email in pairs(exp.good) do assert.truthy(got[email], email) end
      -- a third run sends nothing at all
      local s3 = bulk.import(client, path, { listID = list, max_rows = 500, journal = journal })
      assert.equal(0, s3.calls)
      assert.equal(0, s3.sent)
    end)

    it("resumes after a real kill -9 of an importing process", function()
      local path = tmp("contacts_kill.csv")
      local exp = gen_csv(path, 2000)
      local list = new_list(client)
      local journal = tmp("kill.journal")
      local marker = tmp("kill.marker")
      local pidfile = tmp("kill.pid")
      local script = tmp("child.lua")
      local f = assert(io.open(script, "w"))
      f:write(([[
local egoi = require "egoi"
local bulk = require "egoi.bulk"
local c = egoi.new{ apikey = %q, url = %q, rate_limit = false }
bulk.import(c, %q, { listID = %q, max_rows = 400, journal = %q, on_chunk = function(info)
  if info.chunk == 1 then
    local m = io.open(%q, "w"); m:write("1"); m:close()
    require("socket").sleep(30)
  end
end })
]]):format(KEY, sb:url("/v2/rest.php"), path, tostring(list), journal, marker))
      f:close()
      os.execute(("sh -c 'echo $$ > %s; exec %s %s' >%s 2>&1 &"):format(pidfile, LUA, script, tmp("child.log")))
      local deadline = socket.gettime() + 30
      while socket.gettime() < deadline and not io.open(marker) do socket.sleep(0.05) end
      local pid = tonumber((read_lines(pidfile)[1] or ""):match("%d+"))
      assert.truthy(pid)
      assert.truthy(io.open(marker),
        "child never reached chunk 1: " .. table.concat(read_lines(tmp("child.log")), "\n"))
      os.execute("kill -9 " .. pid .. " 2>/dev/null")
      assert.equal(2, #read_lines(journal))
      local s = bulk.import(client, path, { listID = list, max_rows = 400, journal = journal })
      assert.equal(exp.ngood - 400, s.sent)
      assert.equal(0, s.updated)
      local got, n = list_contents(client, list)
      assert.equal(exp.ngood, n)
      for email in pairs(exp.good) do assert.truthy(got[email], email) end
    end)

    it("resumes an iterator source by row index", function()
      local rows = {}
      for i = 1, 900 do rows[i] = { email = ("it%d@example.org"):format(i), first_name = "N" .. i } end
      local list = new_list(client)
      local journal = tmp("iter.journal")
      local s1 = bulk.import(client, rows, { listID = list, max_rows = 300, journal = journal,
        on_chunk = function() return false end })
      assert.is_true(s1.stopped)
      assert.equal(300, s1.sent)
      local i = 0
      local s2 = bulk.import(client, function() i = i + 1; return rows[i] end,
        { listID = list, max_rows = 300, journal = journal })
      assert.equal(300, s2.skipped)
      assert.equal(600, s2.sent)
      local _, n = list_contents(client, list)
      assert.equal(900, n)
    end)

    it("refuses a corrupt journal or one of another list, before sending anything", function()
      local list = new_list(client)
      local journal = tmp("corrupt.journal")
      local f = assert(io.open(journal, "w"))
      f:write("egoi-import-journal 2 list=" .. list .. " compare=email\nchunk=1 first_line=2 garbage\n")
      f:close()
      local calls = 0
      local spy = setmetatable({
        body_buffer = function(_, m, o) return client:body_buffer(m, o) end,
        call_buffer = function() calls = calls + 1 end,
      }, { __index = client })
      local ok, err = pcall(bulk.import, spy, { { email = "x@example.com" } }, { listID = list, journal = journal })
      assert.is_false(ok)
      assert.equal("JOURNAL_CORRUPT", err.code)
      assert.truthy(err.message:find("line 2", 1, true))
      f = assert(io.open(journal, "w"))
      f:write("egoi-import-journal 2 list=999999 compare=email\n")
      f:close()
      ok, err = pcall(bulk.import, spy, { { email = "x@example.com" } }, { listID = list, journal = journal })
      assert.is_false(ok)
      assert.equal("JOURNAL_MISMATCH", err.code)
      assert.equal(0, calls)
    end)

    it("maps columns, resolves extra-field names once, and refuses unknown columns", function()
      local list = new_list(client)
      local fid = client:call("addExtraField", { listID = list, name = "Cidade natal", type = "texto" }).NEW_ID
      assert.truthy(fid)
      local path = tmp("mapped.csv")
      local f = assert(io.open(path, "w"))
      f:write("\239\187\191E-mail,Nome,Cidade natal,ignore me\nana@example.pt,Ana,Évora,x\n")
      f:close()
      local s = bulk.import(client, path, { listID = list, map = { Nome = "first_name", ["ignore me"] = false } })
      assert.equal(1, s.sent)
      assert.equal(2, s.calls) -- getExtraFields + one chunk
      local got = list_contents(client, list)
      assert.equal("Ana", got["ana@example.pt"].FIRST_NAME)
      assert.equal("Évora", got["ana@example.pt"]["EXTRA_FIELD_" .. fid])
      local ok, err = pcall(bulk.import, client, { { email = "b@example.pt", shoe_size = "42" } }, { listID = list })
      assert.is_false(ok)
      assert.equal("UNKNOWN_FIELD", err.code)
      assert.truthy(err.message:find("shoe_size", 1, true))
    end)

    it("checks its arguments, naming them", function()
      local function code_of(...)
        local ok, e = pcall(bulk.import, ...)
        assert.is_false(ok)
        return e.message
      end
      assert.truthy(code_of(client, 42, { listID = 1 }):find("'source'", 1, true))
      assert.truthy(code_of(client, {}, {}):find("'listID'", 1, true))
      assert.truthy(code_of(client, {}, { listID = 1, max_bytes = -1 }):find("'max_bytes'", 1, true))
      assert.truthy(code_of(client, {}, { listID = 1, max_bytes = 100 }):find("too small", 1, true))
      assert.truthy(code_of({}, {}, { listID = 1 }):find("'client'", 1, true))
    end)
  end)

  describe("export", function()
    it("round-trips an import: same rows, same fields, UTF-8 intact; no page overlap or gap", function()
      local path = tmp("roundtrip.csv")
      local exp = gen_csv(path, 2500)
      local list = new_list(client)
      bulk.import(client, path, { listID = list })
      local out = tmp("export.csv")
      local x = bulk.export(client, list, out, { page_size = 1000 })
      assert.equal(exp.ngood, x.rows)
      assert.equal(4, x.calls) -- 1000 + 1000 + 450 (short: one getLists checks the count)
      assert.equal("uid", x.columns[1])
      assert.equal("email", x.columns[2])
      -- read it back
      local r = assert(csv.open(out))
      local header = r:next()
      local seen = 0
      for fields in r:records() do
        local rec = {}
        for i, h in ipairs(header) do rec[h] = fields[i] end
        local want = exp.good[rec.email]
        assert.truthy(want, "unexpected " .. tostring(rec.email))
        assert.equal(want.first_name, rec.first_name)
        assert.equal(want.last_name, rec.last_name)
        assert.equal(want.city, rec.city)
        assert.equal(want.cellphone or "", rec.cellphone)
        assert.equal(want.birth_date or "", rec.birth_date)
        seen = seen + 1
      end
      r:close()
      assert.equal(exp.ngood, seen)
      -- and the export imports into another list as the same subscribers
      local list2 = new_list(client)
      local s = bulk.import(client, out, { listID = list2 })
      assert.equal(exp.ngood, s.sent)
      assert.equal(0, s.rejected_count)
      local out2 = {}
      local x2 = bulk.export(client, list2, function(text) out2[#out2 + 1] = text end, { page_size = 1000 })
      assert.equal(exp.ngood, x2.rows)
      local got = list_contents(client, list2)
      for email, want in pairs(exp.good) do
        assert.equal(want.first_name, got[email].FIRST_NAME)
        assert.equal(want.city, got[email].CITY)
      end
    end)

    it("writes just a header for an empty list and returns errors of the service", function()
      local list = new_list(client)
      local text = {}
      local x = bulk.export(client, list, function(t) text[#text + 1] = t end)
      assert.equal(0, x.rows)
      assert.equal(1, x.calls)
      local ok, err = pcall(bulk.export, client, 987654, function() end)
      assert.is_false(ok)
      assert.equal("api", err.kind)
    end)
  end)
end)
