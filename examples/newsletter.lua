-- examples/newsletter.lua - the job a marketer automates with lua-egoi:
--
--   ensure a list and its extra fields, bulk-import contacts from a CSV,
--   tag them, segment on the tag, create an e-mail campaign, send it, and
--   follow its report until it settles.
--
-- With EGOI_APIKEY (and optionally EGOI_URL) set it works on that account.
-- With neither, it starts a private sandbox (bin/egoi-sandbox) on a free
-- loopback port, runs against it and stops it. `make demo` runs this.
local egoi = require "egoi"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local CSV = os.getenv("EGOI_CONTACTS") or (here .. "/contacts.csv")
local LIST_TITLE = "Newsletter (lua-egoi demo)"
local TAG = "newsletter-demo"

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
    url = url .. "/v2/rest.php",
    apikey = "0123456789abcdef0123456789abcdef01234567",
    stop = function()
      os.execute("kill " .. pid .. " 2>/dev/null")
      p:close()
    end,
  }
end

local sandbox
local opts = { apikey = os.getenv("EGOI_APIKEY"), app = "newsletter-demo/1.0" }
if os.getenv("EGOI_URL") and os.getenv("EGOI_URL") ~= "" then
  -- a bare http://host:port means that server's /v2/rest.php
  opts.url = require("egoi.endpoint").resolve(os.getenv("EGOI_URL")) or os.getenv("EGOI_URL")
end
if not opts.apikey then
  sandbox = start_sandbox()
  opts.apikey, opts.url = sandbox.apikey, sandbox.url
  -- a fresh sandbox has a fresh hourly budget: keep the limiter private to this run
  opts.rate_limit = { state_file = false }
  say("No EGOI_APIKEY: running against a private sandbox at %s", sandbox.url)
else
  say("Running against %s", opts.url or "the E-goi API")
end

local client = egoi.new(opts)

local function main()
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
  local rows = { "SENT", "DELIVERED", "NOT_DELIVERED", "RETURNED", "UNIQUE_VIEWS", "UNIQUE_CLICKS",
    "TOTAL_REMOVES", "COMPLAIN" }
  say("   +----------------+----------+")
  say("   | %-14s | %8s |", "metric", "value")
  say("   +----------------+----------+")
  for _, k in ipairs(rows) do
    if report[k] ~= nil then say("   | %-14s | %8s |", k, tostring(report[k])) end
  end
  say("   +----------------+----------+")
  local st = client:rate_limit_status()
  if st then say("API calls used this hour: %d of %d", st.used, st.calls) end
end

local ok, err = pcall(main)
client:close()
if sandbox then sandbox.stop() end
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
