-- egoi.sandbox.v3.r_campaigns - /campaigns, e-mail and SMS campaigns, sends (now or
-- scheduled: a queued operation), /reports/{email,sms}/{hash}, /reports/advanced.
-- The v2 campaign records and m_campaigns' send/report logic are shared with /v2/.
local json = require "egoi.sandbox.v3.json"
local errors = require "egoi.sandbox.v3.errors"
local u = require "egoi.sandbox.v3.util"
local store = require "egoi.sandbox.store"

local problem, invalid = errors.problem, errors.invalid
local M = {}

local CHANNEL_V3 = { email = "email", sms_premium = "sms", voice = "voice" }
local STATUS_V3 = { draft = "draft", sending = "sending", finished = "sent", canceled = "canceled" }

local function find(x, hash, channel)
  local c = x.acc.campaigns[hash]
  if not c or c.STATUS == "deleted" or not CHANNEL_V3[c.CHANNEL] then return nil end
  if channel and CHANNEL_V3[c.CHANNEL] ~= channel then return nil end
  return c
end

local function campaign_view(x, c)
  local ctx = { st = x.st, acc = x.acc, o = {}, cfg = x.cfg, now = x.now }
  require("egoi.sandbox.m_campaigns").progress(ctx, c, false)
  local zero = "0000-00-00 00:00:00"
  local sent = 0
  for _, s in ipairs(c.sends or {}) do sent = sent + s.n end
  return { id = tonumber(c.REF), campaign_hash = c.HASH, status = c.v3status or STATUS_V3[c.STATUS] or "draft",
    channel = CHANNEL_V3[c.CHANNEL], internal_name = c.INTERNAL_NAME, list_id = tonumber(c.LISTNUM),
    title = c.SUBJECT, created_by = 1, created = c.CREATED, updated = c.UPDATED or c.CREATED,
    start_date = c.START ~= zero and c.START or nil, end_date = c.END ~= zero and c.END or nil,
    schedule_date = { enabled = c.schedule ~= nil, date = c.schedule },
    processed_messages = sent, thumbnail = "" }
end

-- run the scheduled sends that are due (called by the handlers that show state)
function M.run_due(x)
  local v3 = u.v3state(x.acc)
  for i = #v3.op_order, 1, -1 do
    local id = u.key(v3.op_order[i])
    local op = v3.operations[id]
    if op and (op.status == "processing" or (op.status == "queued" and op.at <= x.now)) then
      local c = x.acc.campaigns[op.campaign_hash]
      v3.operations[id] = nil
      table.remove(v3.op_order, i)
      if c and c.STATUS ~= "deleted" then
        c.v3status = nil
        u.v2(x, "m_campaigns", op.method, op.o)
      end
    end
  end
end

function M.cancel(x, op)
  local v3 = u.v3state(x.acc)
  v3.operations[u.key(op.operation_id)] = nil
  for i, id in ipairs(v3.op_order) do if id == op.operation_id then table.remove(v3.op_order, i) break end end
  local c = x.acc.campaigns[op.campaign_hash]
  if c then c.v3status, c.schedule = "canceled", nil end
end

local function all_campaigns(x)
  M.run_due(x)
  local q = x.query
  local out = {}
  for _, h in ipairs(u.ordered(x.acc.campaign_order, q)) do
    local c = find(x, h)
    if c and (not q.channel or CHANNEL_V3[c.CHANNEL] == q.channel) and (not q.campaign_hash or q.campaign_hash == h)
       and (not q.list_id or q.list_id == c.LISTNUM) then
      out[#out + 1] = c
    end
  end
  local page, s, b = u.page(x, out, 100, function(c) return campaign_view(x, c) end)
  if not page then return s, b end
  return 200, page
end

local function need_string(b, member)
  if type(b[member]) ~= "string" or b[member]:match("^%s*$") then
    return invalid(member, "isEmpty", member .. " must be a non-empty string")
  end
end

-- v2 options of an e-mail content object | nil, status, body
local function email_content(content, o, patch)
  if not u.object(content) then return nil, invalid("content", "notObject", "content must be an object") end
  local t = content.type or (patch and "html")
  if t == "html" then
    if type(content.body) ~= "string" or content.body == "" then
      return nil, invalid("content", "isEmpty", "content.body is required")
    end
    o.message = content.body
  elseif t == "web_page" then
    if type(content.url) ~= "string" then return nil, invalid("content", "isEmpty", "content.url is required") end
    o.url = content.url
  else
    return nil, invalid("content", "notInArray", "the sandbox takes html or web_page content")
  end
  return o
end

local V2_INVALID = { INVALID_FROM = "sender_id", NO_MESSAGE = "content", INVALID_URL = "content",
                     MESSAGE_TOO_LONG = "content", NO_SUBJECT = "subject" }

local function create_email(x)
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  local s, e = need_string(b, "internal_name")
  if s then return s, e end
  local lid = u.int(b.list_id)
  if not lid then return invalid("list_id", "isEmpty", "list_id is required") end
  if not x.acc.lists[tostring(lid)] then return errors.not_found("List") end
  if not u.int(b.sender_id) then return invalid("sender_id", "isEmpty", "sender_id is required") end
  if b.subject ~= nil and type(b.subject) ~= "string" then return invalid("subject", "notString",
    "must be a string") end
  local o, st, eb = email_content(b.content, { listid = tostring(lid), internal_name = b.internal_name,
    subject = b.subject or b.internal_name, fromid = tostring(u.int(b.sender_id)) })
  if not o then return st, eb end
  local v, code = u.v2(x, "m_campaigns", "createCampaignEmail", o)
  if code then return invalid(V2_INVALID[code] or "content", "invalid", code) end
  x.acc.campaigns[v.ID].REPLY_TO = u.int(b.reply_to)
  return 201, { campaign_hash = v.ID }
end

local function patch_email(x, hash)
  local c = find(x, hash, "email")
  if not c then return errors.not_found("Campaign") end
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  local o = { campaign = hash, internal_name = b.internal_name, subject = b.subject,
              fromid = b.sender_id and tostring(b.sender_id) or nil }
  if b.content ~= nil then
    local ok, st, eb = email_content(b.content, o, true)
    if not ok then return st, eb end
  end
  local _, code = u.v2(x, "m_campaigns", "editCampaignEmail", o)
  if code == "CANNOT_EDIT_CAMPAIGN" then return invalid("campaign_hash", "notDraft", "only draft campaigns change")
  elseif code then return invalid(V2_INVALID[code] or "content", "invalid", code) end
  c.UPDATED = store.date(x.now)
  return 200, { campaign_hash = hash }
end

local function sms_content(content, o)
  if not u.object(content) or (content.type ~= nil and content.type ~= "text") or type(content.message) ~= "string" then
    return nil, invalid("content", "isEmpty", "content {type:\"text\", message} is required")
  end
  o.message = content.message
  return o
end

local function create_sms(x)
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  local s, e = need_string(b, "internal_name")
  if s then return s, e end
  local lid = u.int(b.list_id)
  if not lid or not x.acc.lists[tostring(lid)] then return invalid("list_id", "noRecordFound", "no such list") end
  local o, st, eb = sms_content(b.content, { listid = tostring(lid), internal_name = b.internal_name,
    subject = b.internal_name, fromid = b.sender_id and tostring(b.sender_id) or nil })
  if not o then return st, eb end
  local v, code = u.v2(x, "m_campaigns", "createCampaignSMS", o)
  if code then return invalid(V2_INVALID[code] or "content", "invalid", code) end
  return 201, { campaign_hash = v.ID }
end

local function patch_sms(x, hash)
  local c = find(x, hash, "sms")
  if not c then return errors.not_found("Campaign") end
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  local o = { campaign = hash, internal_name = b.internal_name, fromid = b.sender_id and tostring(b.sender_id) or nil }
  if b.content ~= nil then
    local ok, st, eb = sms_content(b.content, o)
    if not ok then return st, eb end
  end
  local _, code = u.v2(x, "m_campaigns", "editCampaignSMS", o)
  if code then return invalid(V2_INVALID[code] or "campaign_hash", "invalid", code) end
  c.UPDATED = store.date(x.now)
  return 200, { campaign_hash = hash }
end

local function delete_campaign(x, hash)
  local c = find(x, hash)
  if not c then return errors.not_found("Campaign") end
  if #(c.sends or {}) > 0 then
    return problem(409, "The campaign was sent", { campaign_sent_last_30_days =
      "This campaign cant be deleted since it was sent in the last 30 days" })
  end
  u.v2(x, "m_campaigns", "deleteCampaign", { campaign = hash })
  return 204
end

local SEND_INVALID = { SEGMENT_NOT_FOUND = "segments", SUBSCRIBER_NOT_FOUND = "segments",
  CANNOT_SEND_CAMPAIGN = "segments", LIST_NOT_FOUND = "list_id", NO_ACCESS = "list_id",
    CAMPAIGN_NOT_VALID = "campaign_hash" }

local function send(channel, ok_status)
  local method = channel == "email" and "sendEmail" or "sendSMS"
  return function(x, hash)
    local c = find(x, hash, channel)
    if not c then return invalid("campaign_hash", "noRecordFound", "no such " .. channel .. " campaign") end
    local b = x.body
    if not u.object(b) then return problem(400, "The body must be a JSON object") end
    local lid = u.int(b.list_id)
    if not lid then return invalid("list_id", "isEmpty", "list_id is required") end
    local seg = b.segments
    if not u.object(seg) then return invalid("segments", "isEmpty", "segments is required") end
    local o = { campaign = hash, listid = tostring(lid) }
    if seg.type == "segment" then
      if not json.is_array(seg.data) then return invalid("segments", "notArray", "segments.data must be ids") end
      local ids = {}
      for i, s in ipairs(seg.data) do ids[i] = tostring(s) end
      o.segment = ids
    elseif seg.type == "contact" then
      if type(seg.data) ~= "string" then return invalid("segments", "notString", "segments.data must be a string") end
      o[channel == "email" and "email" or "cellphone"] = { seg.data }
    elseif seg.type ~= "none" then
      return invalid("segments", "notInArray", "segments.type must be none, segment or contact")
    end
    if b.schedule_date ~= nil then
      local at = u.parse_time(b.schedule_date)
      if not at then return invalid("schedule_date", "dateInvalid", "schedule_date must be YYYY-MM-DD HH:MM:SS") end
      local v3 = u.v3state(x.acc)
      local id = u.next_id(x.acc, "operation")
      v3.operations[u.key(id)] = { operation_id = id, type = channel, status = "queued", campaign_hash = hash,
        internal_name = c.INTERNAL_NAME, created = store.date(x.now), start_date = store.date(at), at = at,
        method = method, o = o }
      v3.op_order[#v3.op_order + 1] = id
      c.schedule, c.v3status = store.date(at), "queued"
      return ok_status, { result = "success" }
    end
    local _, code = u.v2(x, "m_campaigns", method, o)
    if code then return invalid(SEND_INVALID[code] or "segments", "invalid", code) end
    return ok_status, { result = "success" }
  end
end

-- reports ---------------------------------------------------------------------

local function v2_report(x, c)
  return u.v2(x, "m_campaigns", "getReport", { campaign = c.HASH })
end

local function email_report(x, hash)
  M.run_due(x)
  local c = find(x, hash, "email")
  if not c then return errors.not_found("Campaign") end
  local r = v2_report(x, c)
  local overall = { sends = r.SENT, opens = r.VIEWS, unique_opens = r.UNIQUE_VIEWS, clicks = r.CLICKS_SUB,
    unique_clicks = r.UNIQUE_CLICKS, hard_bounces = r.RETURNED, soft_bounces = 0, complaints = r.COMPLAIN,
    unsubscriptions = r.TOTAL_REMOVES }
  local dates = json.array()
  if r.SENT > 0 then
    dates[1] = { date = (c.START or ""):sub(1, 10), sends = r.SENT, opens = r.VIEWS, clicks = r.CLICKS_SUB,
                 hard_bounces = r.RETURNED, soft_bounces = 0, complaints = r.COMPLAIN,
                   unsubscriptions = r.TOTAL_REMOVES }
  end
  local loc = json.array()
  if r.UNIQUE_VIEWS > 0 then
    loc[1] = { location = "Porto", region = "Porto", country = "PT", opens = r.VIEWS, clicks = r.CLICKS_SUB,
               hard_bounces = 0, soft_bounces = 0, complaints = 0, unsubscriptions = 0 }
  end
  return 200, { campaign_hash = hash, overall = overall, date = dates, weekday = json.array(), hour = json.array(),
                location = loc, domain = json.array(), url = json.array(), reader = json.array() }
end

local function sms_report(x, hash)
  M.run_due(x)
  local c = find(x, hash, "sms")
  if not c then return errors.not_found("Campaign") end
  local r = v2_report(x, c)
  local pending = r.SENT - r.DELIVERED - r.RETURNED
  return 200, { campaign_hash = hash, overall = { destinations = r.SENT, sends = r.SENT, delivered = r.DELIVERED,
    error = r.RETURNED, invalid = 0, pending = math.max(0, pending) }, networks = json.array() }
end

-- advanced reports: asynchronous; finished after --v3-report-delay seconds
local ADVANCED = {}
for t in ([[email-bounces email-clicks-by-contact email-clicks-by-url email-events email-unsubscriptions form-answers
  sends sms-bounces sms-events subscriptions unsubscriptions contact-activity model]]):gmatch("%S+") do
  ADVANCED[t] = true
end

local function report_file(rep)
  return ("http://sandbox.invalid/reports/advanced/%d.csv"):format(rep.advanced_report_id)
end

local function generate(x, kind)
  if not ADVANCED[kind] then return errors.not_found("Report type") end
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  if kind == "model" then
    if not u.int(b.model_id) then return invalid("model_id", "isEmpty", "model_id is required") end
  else
    local s, e = need_string(b, "title")
    if s then return s, e end
    local start = u.object(b.range) and b.range.start
    if type(start) ~= "string" or not (u.parse_time(start .. " 00:00:00") or u.parse_time(start)) then
      return invalid("range", "isEmpty", "range {start, end} is required")
    end
  end
  if b.callback_url ~= nil and (type(b.callback_url) ~= "string" or not b.callback_url:match("^https?://")) then
    return invalid("callback_url", "invalidUrl", "callback_url must be an http or https URL")
  end
  local v3 = u.v3state(x.acc)
  local id = u.next_id(x.acc, "report")
  local rep = { advanced_report_id = id, title = b.title or ("model " .. tostring(b.model_id)), kind = kind,
                hash = x.st:hex(10), created = store.date(x.now), at = x.now }
  v3.reports[u.key(id)] = rep
  v3.report_order[#v3.report_order + 1] = id
  if b.callback_url and x.out then
    x.out:post_json(b.callback_url, { file = report_file(rep) }, "report callback", x.cfg.v3_report_delay)
  end
  return 202, { result = "success" }
end

local function all_reports(x)
  local v3 = u.v3state(x.acc)
  local out = {}
  for _, id in ipairs(u.ordered(v3.report_order, x.query)) do out[#out + 1] = v3.reports[u.key(id)] end
  local page, s, b = u.page(x, out, 10, function(rep)
    local done = x.now - rep.at >= x.cfg.v3_report_delay
    return { advanced_report_id = rep.advanced_report_id, title = rep.title, hash = rep.hash, created = rep.created,
             status = done and "finished" or "queued", file = done and report_file(rep) or "" }
  end)
  if not page then return s, b end
  return 200, page
end

M.routes = {
  { "GET", "^/campaigns$", all_campaigns },
  { "POST", "^/campaigns/email$", create_email },
  { "PATCH", "^/campaigns/email/([%w_%-]+)$", patch_email },
  { "POST", "^/campaigns/email/([%w_%-]+)/actions/send$", send("email", 200) },
  { "POST", "^/campaigns/sms$", create_sms },
  { "PATCH", "^/campaigns/sms/([%w_%-]+)$", patch_sms },
  { "POST", "^/campaigns/sms/([%w_%-]+)/actions/send$", send("sms", 202) },
  { "DELETE", "^/campaigns/([%w_%-]+)$", delete_campaign },
  { "GET", "^/reports/email/([%w_%-]+)$", email_report },
  { "GET", "^/reports/sms/([%w_%-]+)$", sms_report },
  { "GET", "^/reports/advanced$", all_reports },
  { "POST", "^/reports/advanced/([%w%-]+)$", generate },
}
for i, r in ipairs(M.routes) do M[i] = r end

return M
