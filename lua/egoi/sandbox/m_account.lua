-- egoi.sandbox.m_account - account, tags, senders, segments, forms, callbacks, automations.
local shape = require "egoi.sandbox.shape"
local util = require "egoi.sandbox.util"
local access = require "egoi.sandbox.access"
local store = require "egoi.sandbox.store"

local err, str = util.err, util.str
local M = {}

M.getUserData = { fn = function(ctx) return util.copy(ctx.acc.user) end }

M.getClientData = { fn = function(ctx)
  local c = util.copy(ctx.acc.client)
  c.CREDITS = ("%.2f"):format(ctx.acc.credits)
  c.PLAN_EMAIL_SENT = ctx.acc.email_sent
  c.PLAN_SMS_SENT = ctx.acc.sms_sent
  return c
end }

M.getCredits = { fn = function(ctx) return { CREDITS = ("%.2f"):format(ctx.acc.credits) } end }

-- checklogin is dispatched without the generic key check (see api.lua)
M.checklogin = { noauth = true, fn = function(ctx)
  local o = ctx.o
  local has_u, has_p = o.username ~= nil, o.password ~= nil
  local u, p, key = str(o.username), str(o.password), str(o.apikey)
  if not has_u and not has_p and not key then return err("NO_USERNAME_AND_PASSWORD_AND_APIKEY") end
  if has_u or has_p then
    if not u and not p then return err("NO_USERNAME_AND_PASSWORD") end
    if not u then return err("NO_USERNAME") end
    if not p then return err("NO_PASSWORD") end
    for _, acc in pairs(ctx.st.data.accounts) do
      if acc.username == u and acc.password == p then
        return { USER_ID = acc.user.USER_ID, USERNAME = u, APIKEY_VALID = "1" }
      end
    end
    return "INVALID"
  end
  local acc = ctx.st:account(key)
  if not acc then return "INVALID" end
  return { USER_ID = acc.user.USER_ID, USERNAME = acc.username, APIKEY_VALID = "1" }
end }

-- tags ---------------------------------------------------------------------

local function tag_arg(o) return util.pick(o, "tag", "id", "tag_id", "tagid") end

M.getTags = { fn = function(ctx)
  local out = shape.list()
  for _, id in ipairs(ctx.acc.tag_order) do out[#out + 1] = util.copy(ctx.acc.tags[id]) end
  if #out == 0 then return err("NO_TAGS_FOUND") end
  return { TAG_LIST = out }
end }

M.addTag = { mutating = true, fn = function(ctx)
  local name = str(ctx.o.name)
  if not name then return err("NAME_MISSING") end
  for _, t in pairs(ctx.acc.tags) do
    if t.NAME:lower() == name:lower() then return err("TAG_ALREADY_EXISTS") end
  end
  local color = str(ctx.o.color) or "#8C8C8C"
  local id = ctx.st:next_id("tag")
  ctx.acc.tags[id] = { ID = id, NAME = name, COLOR = color }
  ctx.acc.tag_order[#ctx.acc.tag_order + 1] = id
  return { ID = id, NAME = name, COLOR = color }
end }

M.deleteTag = { mutating = true, fn = function(ctx)
  local id = tag_arg(ctx.o)
  if not id then return err("NO_TAG_ID") end
  if not ctx.acc.tags[id] then return err("TAG_NOT_FOUND") end
  ctx.acc.tags[id] = nil
  for i, t in ipairs(ctx.acc.tag_order) do if t == id then table.remove(ctx.acc.tag_order, i) break end end
  for _, l in pairs(ctx.acc.lists) do
    for _, r in pairs(l.subs) do
      for i = #(r.tags or {}), 1, -1 do if r.tags[i] == id then table.remove(r.tags, i) end end
    end
  end
  return { RESULT = "OK" }
end }

local function tagging(attach)
  return { mutating = true, fn = function(ctx)
    local l, e = access.list(ctx)
    if not l then return e end
    local id = tag_arg(ctx.o)
    if not id then return err("NO_TAG_ID") end
    if not ctx.acc.tags[id] then return err("TAG_NOT_FOUND") end
    local targets = util.seq(ctx.o.target)
    if #targets == 0 then return err("NO_TARGET_ELEMENTS") end
    if (str(ctx.o.type) or "subscriber"):lower() ~= "subscriber" then return err("INVALID_TYPE") end
    local n = 0
    for _, uid in ipairs(targets) do
      local r = access.subscriber(l, tostring(uid))
      if r then
        r.tags = r.tags or {}
        local at
        for i, t in ipairs(r.tags) do if t == id then at = i end end
        if attach and not at then r.tags[#r.tags + 1] = id; n = n + 1 end
        if not attach and at then table.remove(r.tags, at); n = n + 1 end
      end
    end
    return { RESULT = "OK", AFFECTED = n }
  end }
end
M.attachTag = tagging(true)
M.detachTag = tagging(false)

-- senders ------------------------------------------------------------------

local function channel_name(c)
  c = (c or ""):lower()
  if c == "sms" or c == "mobile" or c == "cellphone" then return "telemovel" end
  return c
end

M.getSenders = { fn = function(ctx)
  local want = str(ctx.o.channel) and channel_name(ctx.o.channel)
  local out = shape.list()
  for _, id in ipairs(ctx.acc.sender_order) do
    local s = ctx.acc.senders[id]
    if not want or s.CHANNEL == want then out[#out + 1] = util.copy(s) end
  end
  return out
end }

M.addSender = { mutating = true, fn = function(ctx)
  local ch = str(ctx.o.channel)
  if not ch then return err("CHANNEL_MISSING") end
  local value = util.pick(ctx.o, "sender", "email", "cellphone", "name")
  if not value then return err("SENDER_MISSING") end
  for _, s in pairs(ctx.acc.senders) do
    if s.SENDER:lower() == value:lower() and s.CHANNEL == channel_name(ch) then return err("SENDER_EXISTS") end
  end
  local id = ctx.st:next_id("sender")
  ctx.acc.senders[id] = { FROMID = id, SENDER = value, CHANNEL = channel_name(ch), STATUS = "active" }
  ctx.acc.sender_order[#ctx.acc.sender_order + 1] = id
  return { FROMID = id }
end }

local function find_sender(ctx)
  local id = util.pick(ctx.o, "fromid", "sender", "id")
  local s = id and ctx.acc.senders[id]
  if not s then return nil, err("SENDER_MISSING") end
  return s
end

M.editSender = { mutating = true, fn = function(ctx)
  local s, e = find_sender(ctx)
  if not s then return e end
  local v = util.pick(ctx.o, "new_sender", "email", "cellphone", "name")
  if v then s.SENDER = v end
  return { FROMID = s.FROMID, RESULT = "OK" }
end }

M.deleteSender = { mutating = true, fn = function(ctx)
  local s, e = find_sender(ctx)
  if not s then return e end
  ctx.acc.senders[s.FROMID] = nil
  for i, id in ipairs(ctx.acc.sender_order) do
    if id == s.FROMID then table.remove(ctx.acc.sender_order, i) break end
  end
  return { RESULT = "OK" }
end }

M.addCname = { mutating = true, fn = function(ctx)
  local name = util.pick(ctx.o, "cname", "domain", "name")
  if not name then return err("NAME_MISSING") end
  ctx.acc.cnames[name] = { CNAME = name, STATUS = "pending", ADD_DATE = store.date(ctx.now) }
  return { RESULT = "OK", CNAME = name, TARGET = "sandbox.e-goi.invalid" }
end }

-- segments -----------------------------------------------------------------

M.getSegments = { fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  local out = shape.list()
  for _, id in ipairs(l.segment_order) do
    local s = l.segments[id]
    out[#out + 1] = { segment = { ID = s.ID, NAME = s.NAME, LIST = l.listnum, FIELDS = util.copy(s.fields) } }
  end
  if #out == 0 then return err("NO_SEGMENTS_FOUND") end
  return out
end }

local create_segment = { mutating = true, fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  local name = str(ctx.o.name)
  if not name then return err("SEGMENT_NAME_MISSING") end
  local fields = ctx.o.fields or ctx.o.conditions or ctx.o.search
  if type(fields) ~= "table" or next(fields) == nil then return err("NO_SEARCH_FIELDS") end
  local f = {}
  for k, v in pairs(fields) do
    if type(v) == "string" then f[k:lower()] = v end
  end
  if next(f) == nil then return err("NO_SEARCH_FIELDS") end
  local id = ctx.st:next_id("segment")
  l.segments[id] = { ID = id, NAME = name, fields = f }
  l.segment_order[#l.segment_order + 1] = id
  return { ID = id }
end }
M.createSegment = create_segment
M.createSegmentAdvanced = create_segment
M.addSegment = create_segment

M.deleteSegment = { mutating = true, fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  local id = util.pick(ctx.o, "segment", "id", "segment_id")
  if not id or not l.segments[id] then return err("SEGMENT_NOT_FOUND") end
  l.segments[id] = nil
  for i, s in ipairs(l.segment_order) do if s == id then table.remove(l.segment_order, i) break end end
  return { RESULT = "OK" }
end }

-- forms --------------------------------------------------------------------

M.getForms = { fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  local out = shape.list()
  for _, id in ipairs(l.form_order) do out[#out + 1] = util.copy(l.forms[id]) end
  if #out == 0 then return err("FORMS_NOT_FOUND") end
  return out
end }

M.getFormsSubmissions = { fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  local id = util.pick(ctx.o, "form", "formid", "id")
  if not id then return err("FORM_MISSING") end
  if not l.forms[id] then return err("FORMS_NOT_FOUND") end
  local out = {}
  for _, uid in ipairs(l.order) do
    local r = l.subs[uid]
    if r.FORM_ID == id then out[#out + 1] = { UID = r.UID, EMAIL = r.EMAIL or "", DATE = r.ADD_DATE } end
  end
  return shape.list(util.page(out, ctx.o))
end }

-- automations / queue / callbacks -----------------------------------------

M.getAutobots = { fn = function(ctx)
  local out = shape.list()
  for _, id in ipairs(shape.keys(ctx.acc.autobots, true)) do out[#out + 1] = util.copy(ctx.acc.autobots[id]) end
  return out
end }

M.startAutobot = { mutating = true, fn = function(ctx)
  local id = util.pick(ctx.o, "autobot", "id", "autobot_id")
  local a = id and ctx.acc.autobots[id]
  if not a then return err("AUTOBOT_NOT_FOUND") end
  a.STATUS = "active"
  a.LIST = str(ctx.o.listid) or a.LIST
  return { RESULT = "OK", ID = a.ID }
end }

M.getOperationsQueue = { fn = function(ctx)
  local out = shape.list()
  for _, h in ipairs(ctx.acc.campaign_order) do
    local c = ctx.acc.campaigns[h]
    for i, s in ipairs(c.sends or {}) do
      local done = ctx.now - s.at >= 10
      out[#out + 1] = { ID = h .. "-" .. i, TYPE = "send_" .. c.CHANNEL, CAMPAIGN = h,
                        STATUS = done and "finished" or "processing", DATE = store.date(s.at) }
    end
  end
  return out
end }

M.editApiCallback = { mutating = true, fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  local url = str(ctx.o.callback_url)
  if url and not url:match("^http://[%w%.%-]+:?%d*/?") then return err("INVALID_URL") end
  local flags = {}
  for i = 1, 16 do flags[tostring(i)] = util.on(tostring(ctx.o["notif_api_" .. i] or "0")) and "1" or "0" end
  l.callback = { url = url or "", flags = flags }
  return { RESULT = "OK" }
end }

return M
