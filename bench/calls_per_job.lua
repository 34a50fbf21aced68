-- bench/calls_per_job.lua - API calls per marketing job, v2 and v3, against the sandbox
-- (bench/run.sh section 5). Two modes, one process each so peak RSS is the job's own:
--
--   calls_per_job.lua prepare URL2 DIR N CSV        -> "<list_id>": a list of N contacts made over
--                                                    v2 (setup, not counted), CSV = the rows given
--   calls_per_job.lua JOB API URL DIR N [LIST CSV]  -> one table row
--     JOB = import | export | sync | campaign; API = v2 | v3; URL = the sandbox's v2 endpoint
--     (v2) or its root (v3); N = the job's size
--
-- The row: "job api size calls min vendor wall_s rss_mb note" (calls "-" when the job is not yet
-- available in this lua-egoi). Calls are counted at the transport: every HTTP request the client
-- sent. min = the fewest calls the API allows for the job; vendor = the vendor SDK's way:
-- one call per contact where the SDK has no bulk helper, its default page (10 on v3) where it
-- keeps it (computed from the job's size, not run). bench/README.md states each assumption.
local egoi = require "egoi"
local socket = require "socket"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local V3_BODY_CAP = 20 * 1024 * 1024
local mode = arg[1]

local function hwm_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local kb = tonumber(f:read("*a"):match("VmHWM:%s*(%d+)")) or 0
  f:close()
  return kb / 1024
end

-- a client whose every request is counted
local function client(api, url, counter)
  local inner = require("egoi.transport.curl").new{ timeout = 3600, connect_timeout = 10 }
  local transport = {
    request = function(_, req)
      counter.n = counter.n + 1
      return inner:request(req)
    end,
    close = function() return inner:close() end,
  }
  return egoi.new{ api = api, apikey = KEY, url = url, rate_limit = false, transport = transport, timeout = 3600 }
end

local function ceil_div(a, b) return a == 0 and 0 or math.floor((a + b - 1) / b) end

-- CSV rows as tables (header names as keys); gen_contacts.lua's files hold no quotes
local function csv_rows(path)
  local r = require("egoi.csv").open(path)
  local header
  local it = r:records()
  return function()
    while true do
      local rec = it()
      if rec == nil then r:close() return nil end
      if not header then
        header = rec
      elseif rec then
        local row = {}
        for i, h in ipairs(header) do if rec[i] and rec[i] ~= "" then row[h] = rec[i] end end
        return row
      end
    end
  end
end

local function v3_row(row)
  return { email = row.email, first_name = row.first_name, last_name = row.last_name, cellphone = row.cellphone }
end

if mode == "prepare" then
  local url, _, n, csv = arg[2], arg[3], tonumber(arg[4]), arg[5]
  local c = client("v2", url, { n = 0 })
  local list = c:call("createList", { nome = "bench " .. n, idioma_lista = "en", canal_email = 1 }).LIST_ID
  c.subscribers:import(csv, { listID = list })
  print(list)
  return
end

local job, api, url, dir, n = mode, arg[2], arg[3], arg[4], tonumber(arg[5])
local list, csv = arg[6], arg[7]
local counter = { n = 0 }
local c = client(api, url, counter)
local t0 = socket.gettime()
local min, vendor, note, calls = 0, 0, "", nil
-- the job proper starts here: setup before it is neither counted nor timed
local function start()
  counter.n = 0
  t0 = socket.gettime()
end

-- the jobs: each sets calls (or leaves it nil: not available), min, vendor, note
local jobs = {}

function jobs.import()
  if api == "v2" then
    list = c:call("createList", { nome = "bench import", idioma_lista = "en", canal_email = 1 }).LIST_ID
    start()
    local s = c.subscribers:import(csv, { listID = list })
    calls, min = counter.n, ceil_div(s.bytes, s.cap)
    vendor, note = n, "vendor: addSubscriber per contact"
    return
  end
  list = c.lists:create{ internal_name = "bench import", public_name = "bench" }.list_id
  start()
  -- the fewest bodies under the 20 MB cap, from the JSON each contact takes
  local json, body_of = require("egoi.v3.json"), require("egoi.v3.resources").contact_body
  local sizes, total = {}, 0
  for row in csv_rows(csv) do
    local size = #json.encode(body_of(v3_row(row))) + 1
    sizes[#sizes + 1] = size
    total = total + size
  end
  min = ceil_div(total, V3_BODY_CAP - 4096)
  vendor = min
  start()
  -- the v3 importer takes a CSV once issue 14's import lands; until then the bench packs the
  -- rows into bodies under the cap and hands each to contacts:import (one call per body)
  local ok_csv = pcall(c.contacts.import, c.contacts, list, csv, {})
  if ok_csv and counter.n > 0 then
    calls, note = counter.n, "contacts:import(csv); vendor: SDK importBulk, caller splits"
    return
  end
  start()
  local part, bytes, i = {}, 0, 0
  local function flush()
    if #part > 0 then c.contacts:import(list, part) end
    part, bytes = {}, 0
  end
  for row in csv_rows(csv) do
    i = i + 1
    if bytes + sizes[i] > V3_BODY_CAP - 4096 then flush() end
    part[#part + 1] = v3_row(row)
    bytes = bytes + sizes[i]
  end
  flush()
  calls = counter.n
  note = "bench splits at 20 MB (v3 CSV importer not landed); vendor: SDK importBulk, caller splits"
end

-- v3's export action options when bench/run.sh runs a callback receiver (EGOI_BENCH_HOOK: its
-- URL, EGOI_BENCH_HOOKS: the JSON-lines file it appends to): receive() gives the first callback
-- that arrives after this call, decoded
local function export_action()
  local hook, hooks = os.getenv("EGOI_BENCH_HOOK"), os.getenv("EGOI_BENCH_HOOKS")
  if not (hook and hooks) then return nil end
  local function lines()
    local out, f = {}, io.open(hooks, "rb")
    if f then
      for line in f:lines() do out[#out + 1] = line end
      f:close()
    end
    return out
  end
  local seen = #lines()
  return { callback_url = hook, poll_interval = 0.2, wait_timeout = 1800, receive = function()
    local l = lines()[seen + 1]
    return l and require("cjson").decode(require("cjson").decode(l).body) or nil
  end }
end

function jobs.export()
  start()
  local out = dir .. "/export-" .. api .. ".csv"
  if api == "v2" then
    local s = c.subscribers:export(list, out)
    calls, min, vendor = counter.n, ceil_div(s.rows + 1, 1000), ceil_div(s.rows + 1, 1000)
    note = "subscriberData pages of 1000 (v2 has no async export) + 1 getLists: the row-count check"
    return
  end
  min, vendor = 1, ceil_div(n, 10)
  -- with a callback receiver (bench/run.sh starts one) the export action: one call + the file
  local eopts = export_action()
  local _, export = pcall(function() return c.contacts.export end)
  if type(export) == "function" then
    local ok, err = pcall(export, c.contacts, list, out, eopts)
    if ok then
      calls, note = counter.n, eopts and "contacts:export (the export action + its file)"
        or "contacts:export (pages of 1000: no callback receiver)"
      return
    end
    note = "contacts:export failed: " .. tostring(err):sub(1, 60)
  end
  start()
  local rows = 0
  for _ in c.contacts:each(list) do rows = rows + 1 end
  calls = counter.n
  note = ("paged at 1000 (%d rows; async export not landed); vendor: pages of 10"):format(rows)
end

-- one CSV field, quoted when it holds a comma or a quote ("Sousa, Jr")
local function q(v)
  v = v or ""
  if v:find('[,"\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

-- sync: the source is the list with 1 % of contacts changed, 0.5 % added, 0.5 % removed
function jobs.sync()
  local changed, added, removed = math.floor(n * 0.01), math.floor(n * 0.005), math.floor(n * 0.005)
  if api == "v2" then
    min = ceil_div(n + 1, 1000) + 1 + removed -- read the list, one bulk add/update, one call per removal
    vendor = ceil_div(n + 1, 1000) + changed + added + removed -- per contact: edit, add, remove
  else
    min = 3 -- one async export (the snapshot), one import-bulk, one unsubscribe with every id
    vendor = ceil_div(n, 10) + changed + added + removed
  end
  -- the source file
  local src = dir .. "/sync-" .. api .. ".csv"
  local f = assert(io.open(src, "w"))
  f:write("email,first_name,last_name,cellphone,city\n")
  local i = 0
  for row in csv_rows(csv) do
    i = i + 1
    if i > removed then
      if i <= removed + changed then row.first_name = "Changed" .. i end
      f:write(("%s,%s,%s,%s,%s\n"):format(row.email, q(row.first_name), q(row.last_name),
        q(row.cellphone), q(row.city)))
    end
  end
  for k = 1, added do f:write(("added%07d@example.com,New,Contact,,Porto\n"):format(k)) end
  f:close()
  -- egoi.sync: the same job on both APIs (v3 also as contacts:sync); snapshots in the bench dir
  local sync = require "egoi.sync"
  start()
  assert(sync.run(c, list, src, { key = "email", remove = "unsubscribe", snapshot = dir .. "/snap-" .. api,
    export = api == "v3" and export_action() or nil })) -- v3: the list read through the export action
  calls = counter.n
  note = ("%d changed, %d added, %d removed"):format(changed, added, removed)
end

function jobs.campaign()
  if api == "v2" then
    local lid = c:call("createList", { nome = "bench campaign", idioma_lista = "en", canal_email = 1 }).LIST_ID
    c.subscribers:import(csv, { listID = lid })
    local from
    for _, s in ipairs(c.senders:all{ channel = "email" }) do from = from or s.FROMID end
    start()
    local id = c.campaigns:create_email{ listID = lid, subject = "Bench", from_id = from,
      internal_name = "bench", url = "http://example.org/n.html" }.ID
    c.send:email{ listID = lid, campaign = id }
    local r = c.reports:get{ campaign = id }
    calls = counter.n
    note = ("create + send + report (%s sent)"):format(tostring(r.SENT))
    n = tonumber(r.SENT) or n
  else
    local lid = c.lists:create{ internal_name = "bench campaign", public_name = "bench" }.list_id
    local rows = {}
    for row in csv_rows(csv) do rows[#rows + 1] = v3_row(row) end
    if #rows >= 2 then c.contacts:import(lid, rows) end
    local from = c.senders:all("email").items[1].sender_id
    start()
    local hash = c.campaigns:create_email{ list_id = lid, internal_name = "bench", subject = "Bench",
      sender_id = from, content = { type = "html", body = "<p>Bench</p>" } }.campaign_hash
    c.campaigns:send(hash, { list_id = lid })
    local r = c.reports:email(hash)
    calls = counter.n
    note = ("create + send + report (%s sent)"):format(tostring(r.overall and r.overall.sends))
    n = tonumber(r.overall and r.overall.sends) or n
  end
  min, vendor = 3, 3
end

local f = jobs[job]
if not f then
  io.stderr:write("calls_per_job.lua: unknown job " .. tostring(job) .. "\n")
  os.exit(2)
end
f()
c:close()
print(("%s %s %d %s %d %d %.1f %.0f %s"):format(job, api, n, calls and tostring(calls) or "-", min, vendor,
  socket.gettime() - t0, hwm_mb(), note))
