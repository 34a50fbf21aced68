-- egoi.sandbox.m_campaigns - campaigns, sending and reports.
local shape = require "egoi.sandbox.shape"
local util = require "egoi.sandbox.util"
local access = require "egoi.sandbox.access"
local store = require "egoi.sandbox.store"
local subs = require "egoi.sandbox.m_subscribers"

local err, str = util.err, util.str
local M = {}
local ZERO = "0000-00-00 00:00:00"

local function sender_ok(ctx, id, channel)
  local s = id and ctx.acc.senders[id]
  return s ~= nil and s.CHANNEL == channel
end

-- an uploaded file: base64 text or a URL. nil | error code
local function file_problem(ctx, v, magic, exts, missing)
  if v == nil or (type(v) == "string" and v:match("^%s*$")) then return missing end
  if type(v) ~= "string" then return "INVALID_FILE" end
  local url = v:match("^https?://%S+$")
  if url then
    for _, e in ipairs(exts) do if url:lower():sub(-#e) == e then return nil end end
    return "INVALID_FILE"
  end
  if #v * 3 / 4 > ctx.cfg.file_limit then return "FILE_TOO_LARGE" end
  local data = util.b64decode(v)
  if not data then return "INVALID_FILE" end
  for _, m in ipairs(magic) do if data:sub(1, #m) == m then return nil end end
  return "INVALID_FILE"
end

local function email_content(ctx, o, c)
  local url, msg = str(o.url), str(o.message) or str(o.html)
  if o.zip ~= nil or o.zip_file ~= nil then
    local p = file_problem(ctx, o.zip or o.zip_file, { "PK\3\4" }, { ".zip" }, "NO_ZIP_FILE")
    if p then return p end
    c.CONTENT = "zip"
  elseif url then
    local host = url:match("^https?://([%w%.%-]+)")
    if not host or host:match("%.invalid$") then return "INVALID_URL" end
    c.URL, c.CONTENT = url, "url"
  elseif msg then
    c.MESSAGE, c.CONTENT = msg, "html"
  elseif not c.CONTENT then
    return "NO_MESSAGE"
  end
end

local function new_campaign(ctx, list, channel, o)
  local ref = ctx.st:next_id("campaign")
  local hash
  repeat hash = ctx.st:hex(10) until not ctx.acc.campaigns[hash]
  local c = { HASH = hash, REF = ref, LISTNUM = list.listnum, CHANNEL = channel, STATUS = "draft",
              SUBJECT = str(o.subject) or "", INTERNAL_NAME = str(o.internal_name) or str(o.internal_title) or "",
              START = ZERO, END = ZERO, CREATED = store.date(ctx.now), recurring = util.on(o.recurring or "0"),
              sends = {}, report_calls = 0 }
  return c
end

local function register(ctx, c)
  ctx.acc.campaigns[c.HASH] = c
  ctx.acc.campaign_order[#ctx.acc.campaign_order + 1] = c.HASH
  return { ID = c.HASH }
end

local function email_from(ctx, o, c)
  local fid = str(o.fromid)
  if fid then
    if not sender_ok(ctx, fid, "email") then return "INVALID_FROM" end
    c.FROMID = fid
  elseif str(o.from_email) then
    if not util.valid_email(o.from_email) then return "INVALID_FROM" end
    c.FROM_EMAIL, c.FROM_NAME = o.from_email, str(o.from_name) or ""
  elseif not c.FROMID and not c.FROM_EMAIL then
    return "INVALID_FROM"
  end
end

M.createCampaignEmail = { mutating = true, fn = function(ctx)
  local list, e = access.list(ctx)
  if not list then return e end
  if not str(ctx.o.subject) then return err("NO_SUBJECT") end
  local c = new_campaign(ctx, list, "email", ctx.o)
  local p = email_from(ctx, ctx.o, c) or email_content(ctx, ctx.o, c)
  if p then return err(p) end
  return register(ctx, c)
end }

local function sms_message(o, c, required)
  local msg = str(o.message)
  if not msg then return required and "NO_MESSAGE" or nil end
  if util.utf8len(msg) > 160 then return "MESSAGE_TOO_LONG" end
  c.MESSAGE = msg
end

M.createCampaignSMS = { mutating = true, fn = function(ctx)
  local list, e = access.list(ctx)
  if not list then return e end
  if not str(ctx.o.subject) then return err("NO_SUBJECT") end
  local c = new_campaign(ctx, list, "sms_premium", ctx.o)
  local p = sms_message(ctx.o, c, true)
  if p then return err(p) end
  if not sender_ok(ctx, str(ctx.o.fromid), "telemovel") then return err("INVALID_FROM") end
  c.FROMID = ctx.o.fromid
  return register(ctx, c)
end }

local function file_campaign(channel, arg, magic, exts, missing)
  return { mutating = true, fn = function(ctx)
    local list, e = access.list(ctx)
    if not list then return e end
    if not str(ctx.o.subject) then return err("NO_SUBJECT") end
    local p = file_problem(ctx, ctx.o[arg] or ctx.o.file, magic, exts, missing)
    if p then return err(p) end
    return register(ctx, new_campaign(ctx, list, channel, ctx.o))
  end }
end
M.createCampaignFAX = file_campaign("fax", "fax_file", { "%PDF", "II*\0", "MM\0*" }, { ".pdf", ".tif", ".tiff" },
  "NO_FAX_FILE")
M.createCampaignVoice = file_campaign("voice", "audio_file", { "ID3", "RIFF", "\255\251" }, { ".mp3", ".wav" },
  "NO_AUDIO_FILE")

local function editable(ctx, channel)
  local c, e = access.campaign(ctx)
  if not c then return nil, e end
  if c.STATUS ~= "draft" then return nil, err("CANNOT_EDIT_CAMPAIGN") end
  if c.CHANNEL ~= channel then return nil, err("CAMPAIGN_NOT_VALID") end
  return c
end

M.editCampaignEmail = { mutating = true, fn = function(ctx)
  local c, e = editable(ctx, "email")
  if not c then return e end
  local o = ctx.o
  local p = (str(o.fromid) or str(o.from_email)) and email_from(ctx, o, c)
  if not p and (o.url or o.message or o.html or o.zip or o.zip_file) then p = email_content(ctx, o, c) end
  if p then return err(p) end
  if str(o.subject) then c.SUBJECT = o.subject end
  if str(o.internal_name) then c.INTERNAL_NAME = o.internal_name end
  return { ID = c.HASH, RESULT = "OK" }
end }

M.editCampaignSMS = { mutating = true, fn = function(ctx)
  local c, e = editable(ctx, "sms_premium")
  if not c then return e end
  local o = ctx.o
  local p = sms_message(o, c, false)
  if p then return err(p) end
  if str(o.fromid) then
    if not sender_ok(ctx, o.fromid, "telemovel") then return err("INVALID_FROM") end
    c.FROMID = o.fromid
  end
  if str(o.subject) then c.SUBJECT = o.subject end
  if str(o.internal_name) then c.INTERNAL_NAME = o.internal_name end
  return { ID = c.HASH, RESULT = "OK" }
end }

M.deleteCampaign = { mutating = true, fn = function(ctx)
  local c, e = access.campaign(ctx)
  if not c then return e end
  if c.STATUS == "deleted" then return err("ALREADY_DELETED") end
  if c.recurring then return err("CANNOT_BE_DELETED") end
  c.STATUS = "deleted"
  return { RESULT = "OK" }
end }

M.getCampaigns = { fn = function(ctx)
  local o = ctx.o
  local out = {}
  for i = #ctx.acc.campaign_order, 1, -1 do
    local c = ctx.acc.campaigns[ctx.acc.campaign_order[i]]
    M.progress(ctx, c, false)
    local chan = str(o.channel)
    if (not str(o.listid) or o.listid == c.LISTNUM) and (not chan or c.CHANNEL:find(chan:lower(), 1, true))
       and (not str(o.status) or o.status == c.STATUS) then
      out[#out + 1] = { HASH = c.HASH, REF = c.REF, LISTNUM = c.LISTNUM, SUBJECT = c.SUBJECT,
                        INTERNAL_NAME = c.INTERNAL_NAME, CHANNEL = c.CHANNEL, STATUS = c.STATUS,
                        START = c.START, END = c.END }
    end
  end
  return shape.list(util.page(out, o))
end }

M.createCampaignGroup = { mutating = true, fn = function(ctx)
  local name = str(ctx.o.name)
  if not name then return err("NAME_MISSING") end
  local id = tostring(#shape.keys(ctx.acc.groups) + 1)
  ctx.acc.groups[id] = { ID = id, NAME = name }
  return { ID = id }
end }

M.editCampaignGroup = { mutating = true, fn = function(ctx)
  local id = util.pick(ctx.o, "group", "id", "group_id")
  local g = id and ctx.acc.groups[id]
  if not g then return err("GROUP_NOT_FOUND") end
  g.NAME = str(ctx.o.name) or g.NAME
  return { ID = g.ID, RESULT = "OK" }
end }

local TEMPLATES = { { id = "1", name = "Sandbox header/footer" }, { id = "2", name = "Minimal" } }
M.getHeaderFooterTemplates = { fn = function() return shape.list(util.copy(TEMPLATES)) end }
M.getTemplates = { fn = function()
  return shape.list({ { id = "1", name = "Newsletter", type = "email" },
                      { id = "2", name = "Promotion", type = "email" },
                      { id = "3", name = "Advanced report (CSV)", type = "report" } })
end }

-- sending ------------------------------------------------------------------

-- recipients for a campaign send: list of records | nil, error-result
local function recipients(ctx, list, key, field)
  local o = ctx.o
  local explicit = o[field] ~= nil and util.seq(o[field]) or (o.uid ~= nil and util.seq(o.uid)) or nil
  local out = {}
  if explicit and #explicit > 0 then
    for _, k in ipairs(explicit) do
      local r = access.subscriber(list, tostring(k))
      if not r and field ~= "email" then r = access.find_exact(list, key, k) end
      if not r then return nil, err("SUBSCRIBER_NOT_FOUND") end
      if r.STATUS == "2" or not r[key] or r[key] == "" then return nil, err("CANNOT_SEND_CAMPAIGN") end
      out[#out + 1] = r
    end
    return out
  end
  local segs = util.seq(o.segment)
  local all = #segs == 0
  local chosen = {}
  for _, s in ipairs(segs) do
    if tostring(s):upper() == "ALL" then all = true
    else
      local seg = list.segments[tostring(s)]
      if not seg then return nil, err("SEGMENT_NOT_FOUND") end
      chosen[#chosen + 1] = seg
    end
  end
  for _, uid in ipairs(list.order) do
    local r = list.subs[uid]
    if r.STATUS == "1" and r[key] and r[key] ~= "" then
      local ok = all
      for _, seg in ipairs(chosen) do if subs.matches_segment(seg, r) then ok = true end end
      if ok then out[#out + 1] = r end
    end
  end
  return out
end

local function do_send(ctx, c, list, rec, n)
  c.sends[#c.sends + 1] = { at = ctx.now, n = n }
  c.STATUS = "sending"
  if c.START == ZERO then c.START = store.date(ctx.now) end
  for _, r in ipairs(rec) do
    local k = c.CHANNEL == "email" and "EMAIL_SENT" or "SMS_SENT"
    r[k] = tostring((tonumber(r[k]) or 0) + 1)
  end
  if c.CHANNEL == "email" then ctx.acc.email_sent = ctx.acc.email_sent + n
  elseif c.CHANNEL == "sms_premium" then
    ctx.acc.sms_sent = ctx.acc.sms_sent + n
    ctx.acc.credits = math.max(0, ctx.acc.credits - 0.05 * n)
  end
  c.LISTNUM = list.listnum
  return { ID = c.HASH }
end

local function sendable(ctx, channel)
  local c, e = access.campaign(ctx)
  if not c then return nil, e end
  if c.STATUS == "deleted" or c.CHANNEL ~= channel then return nil, err("CAMPAIGN_NOT_VALID") end
  if not str(ctx.o.listid) then ctx.o.listid = c.LISTNUM end
  local list, e2 = access.list(ctx)
  if not list then return nil, e2 end
  return c, list
end

M.sendEmail = { mutating = true, fn = function(ctx)
  local c, list = sendable(ctx, "email")
  if not c then return list end
  if str(ctx.o.fromid) and not sender_ok(ctx, ctx.o.fromid, "email") then return err("INVALID_FROM") end
  local rec, e = recipients(ctx, list, "EMAIL", "email")
  if not rec then return e end
  return do_send(ctx, c, list, rec, #rec)
end }

M.sendSMS = { mutating = true, fn = function(ctx)
  local o = ctx.o
  if not str(o.campaign) then
    -- ad-hoc SMS to one number (creates a campaign)
    local list, e = access.list(ctx)
    if not list then return e end
    local c = new_campaign(ctx, list, "sms_premium", o)
    local p = sms_message(o, c, true)
    if p then return err(p) end
    if not sender_ok(ctx, str(o.fromid), "telemovel") then return err("INVALID_FROM") end
    local phone = str(o.cellphone)
    if type(o.cellphone) == "table" then phone = util.seq(o.cellphone)[1] end
    if not phone then return err("NO_CELLPHONE_OR_TELEPHONE") end
    if not util.valid_phone(phone) then return err("SUBSCRIBER_FORMAT_ERROR") end
    c.FROMID = o.fromid
    if c.SUBJECT == "" then c.SUBJECT = "SMS" end
    register(ctx, c)
    return do_send(ctx, c, list, {}, 1)
  end
  local c, list = sendable(ctx, "sms_premium")
  if not c then return list end
  local p = sms_message(o, c, false)
  if p then return err(p) end
  if str(o.fromid) and not sender_ok(ctx, o.fromid, "telemovel") then return err("INVALID_FROM") end
  local rec, e = recipients(ctx, list, "CELLPHONE", "cellphone")
  if not rec then return e end
  return do_send(ctx, c, list, rec, #rec)
end }

local function send_other(channel, key, field, missing)
  return { mutating = true, fn = function(ctx)
    local c, list = sendable(ctx, channel)
    if not c then return list end
    if ctx.o[field] == nil and ctx.o.segment == nil then return err(missing) end
    local rec, e = recipients(ctx, list, key, field)
    if not rec then return e end
    return do_send(ctx, c, list, rec, #rec)
  end }
end
M.sendFAX = send_other("fax", "FAX", "fax", "FAX_REQUIRED")
M.sendCall = send_other("voice", "TELEPHONE", "telephone", "TELEPHONE_REQUIRED")

-- reports ------------------------------------------------------------------

-- per-campaign rates derived from the hash (deterministic for a given --seed)
local function rate(c, salt, lo, hi)
  local h = 0
  for ch in (c.HASH .. salt):gmatch(".") do h = (h * 31 + ch:byte()) % 1000003 end
  return lo + (hi - lo) * (h % 1000) / 999
end

-- progress step 0..10: max(getReport calls, whole seconds since the first send)
function M.progress(ctx, c, count_call)
  if #c.sends == 0 then return 0 end
  if count_call then c.report_calls = c.report_calls + 1 end
  local step = math.min(10, math.max(c.report_calls, math.floor(ctx.now - c.sends[1].at)))
  if step >= 10 and c.STATUS == "sending" then
    c.STATUS = "finished"
    c.END = store.date(c.sends[#c.sends].at + 10)
  end
  return step
end

M.getReport = { mutating = true, fn = function(ctx)
  local c, e = access.campaign(ctx)
  if not c then return e end
  local step = M.progress(ctx, c, true)
  local sent = 0
  for _, s in ipairs(c.sends) do sent = sent + s.n end
  local f = step / 10
  local returned = math.floor(sent * rate(c, "r", 0.01, 0.05) * math.min(1, f * 2))
  local delivered = math.floor((sent - returned) * math.min(1, f * 2))
  local uviews = math.floor(delivered * rate(c, "v", 0.2, 0.6) * f)
  local uclicks = math.floor(uviews * rate(c, "c", 0.1, 0.4) * f)
  local removes = math.floor(uviews * rate(c, "u", 0, 0.05) * f)
  local complain = math.floor(delivered * rate(c, "p", 0, 0.01) * f)
  local pct = function(a, b) return b > 0 and ("%.2f"):format(100 * a / b) or "0.00" end
  return {
    HASH = c.HASH, REF = c.REF, CHANNEL = c.CHANNEL, STATUS = c.STATUS, SENT = sent, DELIVERED = delivered,
    NOT_DELIVERED = sent - delivered, RETURNED = returned, UNIQUE_VIEWS = uviews, VIEWS = uviews + uclicks,
    UNIQUE_CLICKS = uclicks, CLICKS_SUB = uclicks, TOTAL_REMOVES = removes, COMPLAIN = complain,
    NOT_OPENED = delivered - uviews, INVALID = 0, CLICKS_RATE = pct(uclicks, delivered),
    COMPLAIN_RATE = pct(complain, delivered), RECOMENDATIONS = 0, RECOMENDATIONS_SUCCESS = 0,
    FACEBOOK_LIKE = 0, FACEBOOK_SHARE = 0, GOOGLE_BUZZES = 0, TWEETS = 0, OTHER_SOCIAL = 0,
    TOTAL_COUNTRY = uviews > 0 and 1 or 0, TOTAL_CITY = uviews > 0 and 1 or 0, NETWORKS = 0,
    TOP_COUNTRY = uviews > 0 and shape.list({ { COUNTRY = "PT", VIEWS = uviews } }) or shape.list(),
    LINKS_CAMPAIGN = shape.list(), UNIQUE_LINKS = shape.list(), PROGRAMS_TOTALS = shape.list(),
  }
end }

M.generateAdvancedReport = { mutating = true, fn = function(ctx)
  local o = ctx.o
  local tpl = util.pick(o, "template", "template_id")
  if not tpl then return err("NO_TEMPLATE_PROVIDED") end
  if tpl ~= "3" then return err("TEMPLATE_NOT_FOUND") end
  if o.lists == nil and o.campaigns == nil then return err("NO_LISTS_OR_CAMPAIGNS_PROVIDED") end
  if o.lists ~= nil then
    if type(o.lists) ~= "table" then
      return err(str(o.lists) and "NO_LISTS_PROVIDED_AS_ARRAY" or "NO_LISTS_PROVIDED")
    end
    if #util.seq(o.lists) == 0 then return err("NO_LISTS_PROVIDED") end
    for _, id in ipairs(util.seq(o.lists)) do
      if not ctx.acc.lists[tostring(id)] then return err("CANT_GENERATE_ADVANCED_REPORT") end
    end
  end
  if o.campaigns ~= nil then
    if type(o.campaigns) ~= "table" then
      return err(str(o.campaigns) and "NO_CAMPAIGNS_PROVIDED_AS_ARRAY" or "NO_CAMPAIGNS_PROVIDED")
    end
    if #util.seq(o.campaigns) == 0 then return err("NO_CAMPAIGNS_PROVIDED") end
    for _, h in ipairs(util.seq(o.campaigns)) do
      if not ctx.acc.campaigns[tostring(h)] then return err("INVALID_CAMPAIGN_ID_PROVIDED_IN_ARRAY") end
    end
  end
  local id = tostring(#shape.keys(ctx.acc.reports) + 1)
  ctx.acc.reports[id] = { ID = id, TEMPLATE = tpl, CREATED = store.date(ctx.now), at = ctx.now }
  return { ID = id }
end }

M.getAdvancedReport = { fn = function(ctx)
  local id = util.pick(ctx.o, "report", "id", "report_id")
  local r = id and ctx.acc.reports[id]
  if not r then return err("NO_DATA") end
  local ready = ctx.now - r.at >= 1
  return { ID = r.ID, STATUS = ready and "done" or "processing", CREATED = r.CREATED,
           URL = ready and ("http://sandbox.invalid/reports/" .. r.ID .. ".csv") or "" }
end }

return M
