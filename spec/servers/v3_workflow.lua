-- spec/servers/v3_workflow.lua - the v3 client's workflow against the sandbox, shared by
-- spec/v3_client_spec.lua (libcurl) and its nginx run (cosockets). Plain data out (JSON-safe):
-- the results to check and every exchange the client's transport carried (raw bodies), which
-- the spec validates against the OpenAPI document.
--
--   run(env) -> out
--   env = { egoi =, transport = fn() -> inner transport, sleep = fn, clock = fn,
--           url = sandbox base, limited_url = sandbox with a 2/2 s rate window, bare_url =
--           sandbox without limit headers, hook = webhook receiver URL, key = api key,
--           raw = fn(method, path) -> status (one raw call with the same key, to the limited sandbox) }
local M = {}

local function plain_error(e)
  if type(e) ~= "table" then return { message = tostring(e) } end
  return { kind = e.kind, code = e.code, http_status = e.http_status, message = e.message,
    method = e.method, reason = e.reason, retryable = e.retryable, text = tostring(e),
    detail_title = type(e.detail) == "table" and e.detail.title or nil,
    detail_keys = (function()
      local ks = {}
      if type(e.detail) == "table" and type(e.detail.errors) == "table" then
        for k in pairs(e.detail.errors) do ks[#ks + 1] = tostring(k) end
        table.sort(ks)
      end
      return ks
    end)() }
end

-- a transport that records every exchange
local function recorder(inner, log)
  return {
    request = function(_, req)
      local st, h, b, info = inner:request(req)
      log[#log + 1] = { verb = req.verb, url = req.url, body = req.body, status = st,
        response = st and b or nil,
        key_sent = req.headers ~= nil and type(req.headers.Apikey) == "string" and #req.headers.Apikey == 40,
        remaining = h and h["x-account-remaining"], rate_remaining = h and h["x-ratelimit-remaining"] }
      return st, h, b, info
    end,
    close = function() return inner:close() end,
  }
end

local function catch(f, ...)
  local ok, e = pcall(f, ...)
  if ok then return nil end
  return plain_error(e)
end

function M.run(env)
  local egoi = env.egoi
  local out, log, sleeps, warnings = {}, {}, {}, {}
  out.log, out.sleeps, out.warnings = log, sleeps, warnings
  local function sleep(s) sleeps[#sleeps + 1] = s; env.sleep(s) end
  local function new(url, extra)
    local o = { api = "v3", apikey = env.key, url = url, transport = recorder(env.transport(), log),
      sleep = sleep, clock = env.clock, backoff = 0.01, backoff_cap = 0.02,
      rate_limit = { state_file = false },
      log = function(level, msg) warnings[#warnings + 1] = level .. ": " .. msg end }
    for k, v in pairs(extra or {}) do o[k] = v end
    return egoi.new(o)
  end
  -- a local budget above the server's: the local window is pulled down to what the server says
  local c = new(env.url, { rate_limit = { state_file = false, calls = 1000 } })
  out.has_subscribers = rawget(c, "subscribers") ~= nil
  out.tostring = tostring(c)

  -- account, lists
  local acc = c.account:get()
  out.client_id = acc.general_info.client_id
  local list = c.lists:create{ internal_name = "Workflow", public_name = "Workflow news" }
  local lid = list.list_id
  out.list_id = lid
  out.updated = c.lists:update(lid, { internal_name = "Workflow 2" }).internal_name
  out.list_get = c.lists:get(lid).internal_name
  out.lists_page = #c.lists:all{ limit = 1 }.items
  local n = 0
  for l in c.lists:each() do if l.list_id == lid then n = n + 1 end end
  out.list_seen = n

  -- fields
  local field = c.fields:create(lid, { name = "city", format = "text" })
  local fid = tonumber(field.field_id)
  out.field_renamed = c.fields:update(lid, fid, { name = "town" }).name
  local fields = c.fields:all(lid)
  out.fields_count = #fields

  -- webhooks (the receiver gets a delivery when env.hook listens)
  local hook = c.webhooks:create{ list_id = lid, url = env.hook, actions = { "subscription" }, fields = { "email" } }
  out.webhook_id = hook.webhook_id
  out.webhooks = #c.webhooks:all{}.items

  -- contacts: 7 of them, then paging through a server that answers at most 3 per page
  local ids = {}
  for i = 1, 7 do
    local r = c.contacts:create(lid, { base = { email = ("w%d@example.com"):format(i), first_name = "W" .. i },
      extra = { { field_id = fid, value = "Porto" } } })
    ids[i] = r.contact_id
  end
  out.contacts = ids
  local flat = c.contacts:create(lid, { email = "flat@example.com", first_name = "Flat", ["extra_" .. fid] = "Braga" })
  out.flat = c.contacts:get(lid, flat.contact_id).base.email
  local seen, count = {}, 0
  for item in c.contacts:each(lid) do
    count = count + 1
    seen[item.base.contact_id] = true
  end
  out.each_count, out.each_distinct = count, 0
  for _ in pairs(seen) do out.each_distinct = out.each_distinct + 1 end
  out.page = #c.contacts:all(lid, { limit = 2 }).items
  out.patched = c.contacts:update(lid, ids[2], { base = { last_name = "Second" } }).contact_id
  out.search = c.contacts:search("w3@example.com").items[1].contact_id
  out.import = c.contacts:import(lid, { { email = "w1@example.com", last_name = "One" },
    { base = { email = "bulk@example.com" } } }, { mode = "update" }).result
  out.unsub = c.contacts:unsubscribe(lid, { ids[7] }, { reason = "other" }).success[1]

  -- tags
  local tag = c.tags:create{ name = "vip", color = "#FF0000" }
  out.tag_id = tag.tag_id
  out.attach = c.contacts:attach_tag(lid, tag.tag_id, { ids[1], ids[2] }).result
  out.detach = c.contacts:detach_tag(lid, tag.tag_id, ids[2]).result
  out.tags = #c.tags:all{}.items

  -- senders, segments
  local sender = c.senders:create("email", { name = "News", email = "news@example.com" })
  out.senders = #c.senders:all("email").items
  local cell = c.senders:all("cellphone").items[1]
  out.segments_type = type(c.segments:all(lid).items)
  out.segments_each = 0
  for _ in c.segments:each(lid) do out.segments_each = out.segments_each + 1 end

  -- campaigns: e-mail create + send, SMS create + send, a schedule, reports
  local camp = c.campaigns:create_email{ list_id = lid, internal_name = "Launch", subject = "Hello",
    sender_id = sender.sender_id, content = { type = "html", body = "<p>Hello</p>" } }
  local hash = camp.campaign_hash
  out.hash = hash
  out.email_patch = c.campaigns:update_email(hash, { subject = "Hello there" }).campaign_hash
  out.sent = c.campaigns:send(hash, { list_id = lid }).result
  out.campaigns = c.campaigns:all{ campaign_hash = hash }.total_items
  out.report_sends = c.reports:email(hash).overall.sends
  if cell then
    c.contacts:create(lid, { base = { cellphone = "351-912345678", first_name = "Mobile" } })
    local sms = c.campaigns:create_sms{ list_id = lid, internal_name = "SMS", sender_id = cell.sender_id,
      content = { type = "text", message = "Hi" } }
    out.sms_sent = c.campaigns:send_sms(sms.campaign_hash, { list_id = lid, destination_field = "cellphone" }).result
    out.sms_report = type(c.reports:sms(sms.campaign_hash).overall)
  end
  local later = c.campaigns:create_email{ list_id = lid, internal_name = "Later", sender_id = sender.sender_id,
    content = { type = "html", body = "<p>Later</p>" } }
  out.scheduled = c.campaigns:schedule(later.campaign_hash, "2099-01-01 10:00:00", { list_id = lid }).result
  local queued = c.operations:all{}.items
  out.operations = #queued
  if queued[1] then out.cancel = c.operations:cancel(queued[1].operation_id).success[1] end
  out.advanced = c.reports:request("sends", { title = "Sends",
    range = { start = "2026-01-01 00:00:00", ["end"] = "2026-12-31 23:59:59" }, lists = { lid },
    columns = { list_base_fields = { "email" }, list_extra_fields = require("egoi.v3.json").array(),
      campaign_fields = { internal_name = true, campaign_hash = true, group = true, channel = true, type = true,
        sender = true } },
    options = { notify = require("egoi.v3.json").array() } }).result
  out.advanced_count = c.reports:advanced{}.total_items

  -- raw requests
  out.raw_list = c:request("GET", "/lists/" .. lid).list_id
  out.raw_204 = c:request("DELETE", "/webhooks/" .. out.webhook_id) == nil and "nil" or "value"
  out.deleted = c.campaigns:delete(later.campaign_hash)

  -- errors
  out.e404 = catch(c.lists.get, c.lists, 999999)
  out.e409 = catch(c.contacts.create, c.contacts, lid, { base = { email = "W1@example.com" } })
  out.e422 = catch(c.lists.all, c.lists, { limit = 5000 })
  out.ev2 = catch(c.call, c, "createSegment", {})
  out.ev2b = catch(c.call, c, "getLists", {})
  out.eusage = catch(c.lists.get, c.lists, "")
  local before = #log
  out.e413 = catch(c.contacts.import, c.contacts, lid, (function()
    local rows = {}
    for i = 1, 200 do rows[i] = { base = { email = ("big%d@example.com"):format(i), first_name = ("x"):rep(40) } } end
    return rows
  end)())
  out.e413_sent = #log - before
  before = #log
  out.e408_read = catch(c.reports.email, c.reports, "timeout")
  out.e408_read_sent = #log - before
  before = #log
  out.e408_write = catch(c.tags.update, c.tags, tag.tag_id, { name = "VIP" })
  out.e408_write_sent = #log - before
  -- the limit headers drive the limiter: the local window follows X-Account-Remaining
  for i = #log, 1, -1 do
    if log[i].remaining then out.server_remaining = tonumber(log[i].remaining) break end
  end
  out.local_remaining = c:rate_limit_status().remaining
  out.local_calls = c:rate_limit_status().calls
  local quiet = new(env.url, { raise = false })
  local r, e = quiet.lists:get(999998)
  out.raise_false = { r = r == nil, e = plain_error(e) }
  local bad = new(env.url, { apikey = "ffffffffffffffffffffffffffffffffffffffff" })
  out.e401 = catch(bad.account.get, bad.account)
  c:close(); quiet:close(); bad:close()

  -- 429: a raw call uses the server's last slot behind the client's back; the client's next
  -- call is refused, waits for X-RateLimit-Reset and goes again
  if env.limited_url then
    local lc = new(env.limited_url)
    lc.account:get() -- 1 of 2
    env.raw("GET", "/my-account") -- 2 of 2
    local mark = #log
    local sleeps_before = #sleeps
    out.after_429 = lc.account:get().general_info.client_id
    out.statuses_429 = {}
    for i = mark + 1, #log do out.statuses_429[#out.statuses_429 + 1] = log[i].status end
    out.waited_429 = 0
    for i = sleeps_before + 1, #sleeps do out.waited_429 = out.waited_429 + sleeps[i] end
    -- remaining 0 in an answer: the next call waits before it is sent (no 429)
    lc.account:get()
    mark = #log
    sleeps_before = #sleeps
    lc.account:get()
    out.statuses_held = {}
    for i = mark + 1, #log do out.statuses_held[#out.statuses_held + 1] = log[i].status end
    out.waited_held = 0
    for i = sleeps_before + 1, #sleeps do out.waited_held = out.waited_held + sleeps[i] end
    lc:close()
  end

  -- no limit headers: the configured budget alone
  if env.bare_url then
    local bc = new(env.bare_url, { rate_limit = { state_file = false, calls = 2, window = 3600, wait = false } })
    bc.account:get()
    bc.account:get()
    out.budget = catch(bc.account.get, bc.account)
    bc:close()
  end
  return out
end

return M
