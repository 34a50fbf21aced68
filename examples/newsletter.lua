-- examples/newsletter.lua - the job a marketer automates with lua-egoi:
--
--   ensure a list and its extra fields, bulk-import contacts from a CSV,
--   tag them, segment on the tag, create an e-mail campaign, send it, and
--   follow its report until it settles.
--
-- With EGOI_APIKEY (and optionally EGOI_URL) set it works on that account.
-- With neither, it starts a private sandbox (bin/egoi-sandbox) on a free
-- loopback port, runs against it and stops it. `make demo` runs this on v2
-- and then on v3; EGOI_API=v2 or EGOI_API=v3 picks one (default here: v2).
-- v3 has the same steps except 5: it cannot create segments, so the v3 job
-- sends to a saved segment of that name when the list has one (made over v2)
-- and to the tagged contacts otherwise.
local egoi = require "egoi"
local csv = require "egoi.csv"
local validate = require "egoi.bulk.validate"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local CSV = os.getenv("EGOI_CONTACTS") or (here .. "/contacts.csv")
local LIST_TITLE = "Newsletter (lua-egoi demo)"
local TAG = "newsletter-demo"
local API = os.getenv("EGOI_API") or "v2"
if API ~= "v2" and API ~= "v3" then
  io.stderr:write(("EGOI_API must be v2 or v3, got %q\n"):format(API))
  os.exit(2)
end

local function say(fmt, ...)
  io.write(("%s\n"):format(fmt:format(...)))
  io.flush()
end

-- A sandbox of our own: started with --port 0, which prints the port it got.
local function start_sandbox()
  local cmd = ("exec sh -c 'echo $$; exec lua5.4 %s/../bin/egoi-sandbox --port 0 --quiet'"):format(here)
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("*l"))
  local line = p:read("*l") or ""
  local url = line:match("listening on (http://%S+)")
  if not (pid and url) then
    error("could not start the sandbox: " .. line)
  end
  return {
    url = API == "v3" and url or (url .. "/v2/rest.php"),
    apikey = "0123456789abcdef0123456789abcdef01234567",
    stop = function()
      os.execute("kill " .. pid .. " 2>/dev/null")
      p:close()
    end,
  }
end

local sandbox
-- EGOI_URL may be a bare http://host:port: the client uses that server's endpoint of the API
local env_url = os.getenv("EGOI_URL")
if env_url == "" then env_url = nil end
local opts = { apikey = os.getenv("EGOI_APIKEY"), url = env_url, app = "newsletter-demo/1.0", api = API }
if not opts.apikey then
  sandbox = start_sandbox()
  opts.apikey, opts.url = sandbox.apikey, sandbox.url
  -- a fresh sandbox has a fresh hourly budget: keep the limiter private to this run
  opts.rate_limit = { state_file = false }
  say("No EGOI_APIKEY: running on API %s against a private sandbox at %s", API, sandbox.url)
else
  say("Running on API %s against %s", API, opts.url or "the E-goi API")
end

local client = egoi.new(opts)

-- the report table of step 8: the members of report named in keys, in that order
local function report_table(report, keys)
  local rows = {}
  for _, k in ipairs(keys) do
    if report[k] ~= nil then rows[#rows + 1] = { k, report[k] } end
  end
  say("   +-----------------+----------+")
  say("   | %-15s | %8s |", "metric", "value")
  say("   +-----------------+----------+")
  for _, r in ipairs(rows) do say("   | %-15s | %8s |", r[1], tostring(r[2])) end
  say("   +-----------------+----------+")
end

local function main_v2()
  -- 1. the list
  local list
  for _, l in ipairs(client.lists:all()) do
    if l.title == LIST_TITLE then list = l.listnum end
  end
  if list then
    say("1. list %q exists: %s", LIST_TITLE, list)
  else
    list = client.lists:create{ name = LIST_TITLE, language = "en", email_channel = 1 }.LIST_ID
    say("1. created list %q: %s", LIST_TITLE, list)
  end

  -- 2. its extra fields
  local have = {}
  for _, f in ipairs(client.fields:all{ listID = list }) do have[f.name] = true end -- {} when none
  for _, name in ipairs{ "city" } do
    if have[name] then
      say("2. extra field %q exists", name)
    else
      local id = client.fields:add{ listID = list, name = name, type = "texto" }.NEW_ID
      say("2. created extra field %q: extra_%s", name, id)
    end
  end

  -- 3. bulk import (a handful of calls, whatever the file size)
  local summary = client.subscribers:import(CSV, { listID = list })
  say("3. imported %s: %d rows read, %d sent in %d call(s), %d rejected",
    CSV, summary.rows, summary.sent, summary.calls, #summary.rejected)
  for i, r in ipairs(summary.rejected) do
    if i > 5 then say("   ... and %d more", #summary.rejected - 5) break end
    say("   line %d rejected: %s", r.line, r.reason)
  end

  -- 4. tag everyone who is active
  local tag
  for _, t in ipairs(client.tags:all()) do if t.NAME == TAG then tag = t.ID end end -- {} when none
  tag = tag or client.tags:add{ name = TAG }.ID
  local uids = {}
  for s in client.subscribers:each{ listID = list } do
    if s.STATUS == "1" then uids[#uids + 1] = s.UID end
  end
  client.tags:attach{ listID = list, tag = tag, target = uids, type = "subscriber" }
  say("4. tagged %d active subscribers with %q", #uids, TAG)

  -- 5. a segment of the tagged subscribers
  local segment = client.segments:create{ listID = list, name = "tagged " .. TAG, fields = { tag = tag } }.ID
  say("5. segment %s: subscribers tagged %q", segment, TAG)

  -- 6. an e-mail campaign from the account's e-mail sender
  local from
  for _, s in ipairs(client.senders:all{ channel = "email" }) do
    if s.CHANNEL == "email" then from = from or s.FROMID end
  end
  local campaign = client.campaigns:create_email{
    listID = list, subject = "This week at lua-egoi", from_id = from,
    internal_name = "demo " .. os.date("!%Y-%m-%d %H:%M"),
    url = "http://example.org/newsletter.html",
  }.ID
  say("6. campaign %s created (sender %s)", campaign, tostring(from))

  -- 7. send it to the segment
  client.send:email{ listID = list, campaign = campaign, segment = segment }
  say("7. sent campaign %s to segment %s", campaign, segment)

  -- 8. follow the report until it stops moving (bounded: each poll is a call). A local server
  -- (the sandbox) settles at once; the real service needs minutes. EGOI_DEMO_POLL overrides.
  local url = opts.url or ""
  local is_local = sandbox or url:match("^https?://127%.") or url:match("^https?://localhost[:/]")
    or url:match("^https?://%[::1%]")
  local every = tonumber(os.getenv("EGOI_DEMO_POLL") or "") or (is_local and 0.2 or 30)
  local polls = 12
  local report, last
  for i = 1, polls do
    report = client.reports:get{ campaign = campaign }
    local now = table.concat({ report.SENT or "", report.DELIVERED or "", report.UNIQUE_VIEWS or "" }, "/")
    if now == last or i == polls then break end
    last = now
    if every >= 1 then
      say("   waiting %gs for the report of %s to settle (sent/delivered/views %s; poll %d of at most %d,"
        .. " until %s)", every, campaign, now, i, polls, os.date("%H:%M:%S", os.time() + math.ceil(every)))
    end
    egoi.sleep(every)
  end
  say("8. report of %s:", campaign)
  report_table(report, { "SENT", "DELIVERED", "NOT_DELIVERED", "RETURNED", "UNIQUE_VIEWS", "UNIQUE_CLICKS",
    "TOTAL_REMOVES", "COMPLAIN" })
end

-- the CSV as v3 contacts: the same local checks as the v2 importer (e-mail syntax, phones with
-- a country code, duplicates), "city" into the extra field; -> rows, read, rejected
local function v3_rows(path, city_field)
  local r = csv.open(path)
  local header, rows, rejected, seen, read = nil, {}, {}, {}, 0
  for rec, line, broken_line in r:records() do
    if rec == false then -- broken quoting: line is the reason
      read = read + 1
      rejected[#rejected + 1] = { line = broken_line, reason = tostring(line) }
    elseif not header then
      header = {}
      for i, h in ipairs(rec) do header[i] = validate.trim(h):lower() end
    else
      read = read + 1
      local row = {}
      for i, name in ipairs(header) do
        local v = validate.trim(rec[i] or "")
        if v ~= "" then row[name] = v end
      end
      local city = row.city
      row.city = nil
      local problem = validate.check_row(row)
      local email = row.email and row.email:lower()
      if not problem and email and seen[email] then
        problem = ("duplicate in file (email first at line %d)"):format(seen[email])
      end
      if problem then
        rejected[#rejected + 1] = { line = line, reason = problem }
      else
        if email then seen[email] = line end
        row.telephone, row.phone = nil, row.telephone
        if city then row["extra_" .. city_field] = city end
        rows[#rows + 1] = row
      end
    end
  end
  r:close()
  return rows, read, rejected
end

local function main_v3()
  -- 1. the list
  local list
  for l in client.lists:each() do
    if l.internal_name == LIST_TITLE then list = l.list_id end
  end
  if list then
    say("1. list %q exists: %s", LIST_TITLE, list)
  else
    list = client.lists:create{ internal_name = LIST_TITLE, public_name = "Newsletter" }.list_id
    say("1. created list %q: %s", LIST_TITLE, list)
  end

  -- 2. its extra field
  local city
  for _, f in ipairs(client.fields:all(list)) do
    if f.type == "extra" and f.name == "city" then city = f.field_id end
  end
  if city then
    say("2. extra field %q exists: extra_%s", "city", city)
  else
    city = client.fields:create(list, { name = "city", format = "text" }).field_id
    say("2. created extra field %q: extra_%s", "city", city)
  end

  -- 3. bulk import: one import-bulk call per 20 MB of contacts
  local rows, read, rejected = v3_rows(CSV, city)
  local calls = 0
  for first = 1, #rows, 10000 do
    local part = { (table.unpack or unpack)(rows, first, math.min(first + 9999, #rows)) }
    if #part == 1 then client.contacts:create(list, part[1]) else client.contacts:import(list, part) end
    calls = calls + 1
  end
  say("3. imported %s: %d rows read, %d sent in %d call(s), %d rejected", CSV, read, #rows, calls, #rejected)
  for i, r in ipairs(rejected) do
    if i > 5 then say("   ... and %d more", #rejected - 5) break end
    say("   line %d rejected: %s", r.line, r.reason)
  end

  -- 4. tag everyone who is active (one attach-tag call for all of them)
  local tag
  for t in client.tags:each() do if t.name == TAG then tag = t.tag_id end end
  tag = tag or client.tags:create{ name = TAG }.tag_id
  local ids = {}
  for c in client.contacts:each(list) do
    if c.base.status == "active" then ids[#ids + 1] = c.base.contact_id end
  end
  if #ids > 0 then client.contacts:attach_tag(list, tag, ids) end
  say("4. tagged %d active contacts with %q", #ids, TAG)

  -- 5. v3 creates no segments: a saved one of that name, else the tagged contacts
  local segments, segment = { type = "none" }, nil
  for sg in client.segments:each(list) do
    if sg.name == "tagged " .. TAG then segment = sg.segment_id end
  end
  if segment then
    segments = { type = "segment", data = { segment } }
    say("5. segment %s: subscribers tagged %q (v3 cannot create segments; this one exists)", segment, TAG)
  else
    say("5. v3 cannot create segments: sending to the list's active contacts (the %d tagged)", #ids)
  end

  -- 6. an e-mail campaign from the account's e-mail sender
  local from = (client.senders:all("email").items or {})[1]
  from = from and from.sender_id
  local campaign = client.campaigns:create_email{
    list_id = list, subject = "This week at lua-egoi", sender_id = from,
    internal_name = "demo " .. os.date("!%Y-%m-%d %H:%M"),
    content = { type = "web_page", url = "http://example.org/newsletter.html" },
  }.campaign_hash
  say("6. campaign %s created (sender %s)", campaign, tostring(from))

  -- 7. send it
  client.campaigns:send(campaign, { list_id = list, segments = segments })
  say("7. sent campaign %s to %s", campaign, segment and ("segment " .. segment) or "the list")

  -- 8. follow the report until it stops moving (bounded: each poll is a call)
  local report, last
  for _ = 1, 12 do
    report = client.reports:email(campaign).overall or {}
    local now = table.concat({ report.sends or "", report.unique_opens or "", report.hard_bounces or "" }, "/")
    if now == last then break end
    last = now
    egoi.sleep(sandbox and 0.2 or 30)
  end
  say("8. report of %s:", campaign)
  report_table(report, { "sends", "opens", "unique_opens", "clicks", "unique_clicks", "hard_bounces",
    "soft_bounces", "unsubscriptions", "complaints" })
end

local ok, err = pcall(API == "v3" and main_v3 or main_v2)
if ok then
  local st = client:rate_limit_status()
  if st then say("API calls used this hour: %d of %d", st.used, st.calls) end
end
client:close()
if sandbox then sandbox.stop() end
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
