-- egoi.sandbox.m_subscribers - subscriber methods (add/edit/remove/data/bulk/activity).
local shape = require "egoi.sandbox.shape"
local util = require "egoi.sandbox.util"
local access = require "egoi.sandbox.access"
local store = require "egoi.sandbox.store"

local err, str = util.err, util.str
local M = {}

-- option name -> record key
local FIELDS = {
  email = "EMAIL", cellphone = "CELLPHONE", telephone = "TELEPHONE", fax = "FAX", first_name = "FIRST_NAME",
  last_name = "LAST_NAME", birth_date = "BIRTH_DATE", lang = "LANGUAGE", language = "LANGUAGE",
  tax_id = "TAX_ID", address = "ADDRESS", zip_code = "ZIP_CODE", city = "CITY", district = "DISTRICT",
  state = "STATE", country = "COUNTRY", age = "AGE", gender = "GENDER", id_card = "ID_CARD", company = "COMPANY",
}
local PHONES = { CELLPHONE = true, TELEPHONE = true, FAX = true }
local REQUIRED_CODE = { email = "EMAIL_REQUIRED", first_name = "FIRST_NAME_REQUIRED",
  last_name = "LAST_NAME_REQUIRED", telephone = "TELEPHONE_REQUIRED", fax = "FAX_REQUIRED",
  birth_date = "BIRTH_DATE_REQUIRED", cellphone = "NO_CELLPHONE_OR_TELEPHONE" }
local UNIQUE_CODE = { email = "EMAIL_ALREADY_EXISTS", first_name = "FIST_NAME_ALREADY_EXISTS",
  last_name = "LAST_NAME_ALREADY_EXISTS", telephone = "TELEPHONE_ALREADY_EXISTS", fax = "FAX_ALREADY_EXISTS",
  birth_date = "BIRTH_DATE_ALREADY_EXISTS", cellphone = "TELEPHONE_ALREADY_EXISTS" }
local COUNTERS = { "BOUNCES", "EMAIL_SENT", "EMAIL_VIEWS", "REFERRALS", "REFERRALS_CONVERTED", "CLICKS",
  "SMS_SENT", "SMS_DELIVERED" }
M.FIELDS = FIELDS

-- public view of a record (what subscriberData / addSubscriber return)
function M.view(r)
  local v = {}
  for k, val in pairs(r) do
    if k ~= "extra" and k ~= "tags" and k ~= "activity" then v[k] = val end
  end
  for id, val in pairs(r.extra or {}) do
    v["EXTRA_FIELD_" .. id] = val
    v["extra_" .. id] = val
  end
  v.TAGS = shape.list(util.copy(r.tags or {}))
  return v
end

-- validate options into a change set {KEY=value}, extra {id=value}; nil, error-result
local function collect(list, o)
  local ch, extra, n = {}, {}, 0
  for opt, key in pairs(FIELDS) do
    local v = o[opt]
    if type(v) == "string" then
      v = v:match("^%s*(.*%S)") or ""
      if v ~= "" then
        if key == "EMAIL" then
          local p = util.email_problem(v)
          if p then return nil, err(p) end
        elseif PHONES[key] then
          if not util.valid_phone(v) then return nil, err("SUBSCRIBER_FORMAT_ERROR") end
        elseif key == "BIRTH_DATE" then
          v = util.date(v)
          if not v then return nil, err("SUBSCRIBER_FORMAT_ERROR") end
        end
        ch[key] = v
        n = n + 1
      end
    end
  end
  for k, v in pairs(o) do
    local id = k:match("^extra_(.*)$")
    if id then
      local f = list.fields[id]
      if not f or type(v) == "table" then return nil, err("INVALID_EXTRA_FIELD") end
      if v ~= "" then
        if (f.type == "numero" and not tonumber(v)) or (f.type == "email" and not util.valid_email(v))
           or (f.type == "data" and not util.date(v)) then
          return nil, err("INVALID_EXTRA_FIELD")
        end
      end
      extra[id] = v
      n = n + 1
    end
  end
  local st = str(o.status)
  if st then
    if not st:match("^[0-4]$") then return nil, err("SUBSCRIBER_FORMAT_ERROR") end
    ch.STATUS = st
    n = n + 1
  end
  return ch, extra, n
end

local function unique_clash(list, ch, self_uid)
  for _, f in ipairs({ "email", table.unpack(list.unique or {}) }) do
    local key = FIELDS[f] or f:upper()
    local v = ch[key]
    if v then
      if access.INDEXED[key] then
        if access.taken(list, key, v, self_uid) then return UNIQUE_CODE[f] end
      else
        for uid, r in pairs(list.subs) do
          if uid ~= self_uid and r[key] and r[key]:lower() == v:lower() then return UNIQUE_CODE[f] end
        end
      end
    end
  end
end

local function tag_ids(ctx, v)
  local out = {}
  for _, t in ipairs(util.seq(v)) do
    t = tostring(t)
    if ctx.acc.tags[t] and not out[t] then out[#out + 1] = t; out[t] = true end
  end
  for i = 1, #out do out[out[i]] = nil end
  return out
end

local function new_uid(ctx)
  for _ = 1, 100 do
    local uid = ctx.st:hex(10)
    local taken = false
    for _, l in pairs(ctx.acc.lists) do if l.subs[uid] then taken = true end end
    if not taken then return uid end
  end
  error("cannot allocate a UID")
end

local function activity(r, action, now, extra)
  r.activity = r.activity or {}
  r.activity[#r.activity + 1] = { DATE = store.date(now), ACTION = action, CAMPAIGN = extra or "" }
end

-- add one subscriber: record | nil, error-result
local function add_one(ctx, list, o, defaults)
  local ch, extra, n = collect(list, o)
  if not ch then return nil, extra end
  if n == 0 and not o.tags then return nil, err("NO_DATA_TO_INSERT") end
  if not ch.EMAIL and not ch.CELLPHONE then
    if list.canal_email == "1" then return nil, err("EMAIL_REQUIRED") end
    return nil, err("NO_CELLPHONE_OR_TELEPHONE")
  end
  for _, f in ipairs(list.required or {}) do
    local key = FIELDS[f]
    if not ch[key] and not (f == "cellphone" and ch.TELEPHONE) then return nil, err(REQUIRED_CODE[f]) end
  end
  local clash = unique_clash(list, ch)
  if clash then return nil, err(clash) end
  if access.active_count(ctx.acc) >= ctx.acc.max_subscribers then
    return nil, err("CANNOT_ADD_MORE_SUBSCRIBERS")
  end
  local uid = new_uid(ctx)
  local r = { UID = uid, LIST = list.listnum, STATUS = ch.STATUS or (defaults and defaults.status) or "1",
              ADD_DATE = store.date(ctx.now), SUBSCRIPTION_METHOD = str(o.formid) and "form" or "API",
              FORM_ID = str(o.formid) or "", LANGUAGE = list.idioma, extra = extra, tags = {} }
  for k, v in pairs(ch) do r[k] = v end
  for _, k in ipairs(COUNTERS) do r[k] = "0" end
  r.tags = tag_ids(ctx, o.tags or (defaults and defaults.tags))
  activity(r, "subscribe", ctx.now)
  list.subs[uid] = r
  list.order[#list.order + 1] = uid
  access.added(list, r)
  return r
end

M.addSubscriber = { mutating = true, fn = function(ctx)
  local list, e = access.list(ctx)
  if not list then return e end
  local r, e2 = add_one(ctx, list, ctx.o)
  if not r then return e2 end
  ctx.fire(list, "add", r)
  return M.view(r)
end }

-- apply a change set to an existing record; true if anything changed
local function apply(ctx, list, r, ch, extra, tags)
  local changed = false
  for k, v in pairs(ch) do
    if r[k] ~= v then access.set(list, r, k, v); changed = true end
  end
  r.extra = r.extra or {}
  for id, v in pairs(extra) do
    if r.extra[id] ~= v then r.extra[id] = v; changed = true end
  end
  if tags then
    local t = tag_ids(ctx, tags)
    if table.concat(t, ",") ~= table.concat(r.tags or {}, ",") then r.tags = t; changed = true end
  end
  if changed then
    r.MODIFICATION_DATE = store.date(ctx.now)
    if ch.STATUS and ch.STATUS ~= "2" then
      r.REMOVE_METHOD, r.REMOVE_DATE, r.REMOVE_REASON, r.REMOVE_OBS = nil, nil, nil, nil
    end
    activity(r, "edit", ctx.now)
  end
  return changed
end

local function find_sub(ctx)
  local list, e = access.list(ctx)
  if not list then return nil, e end
  local key = str(ctx.o.subscriber) or str(ctx.o.uid)
  if not key then return nil, err("SUBSCRIBER_MISSING") end
  local r = access.subscriber(list, key)
  if not r then return nil, err("SUBSCRIBER_NOT_FOUND") end
  return r, list
end

M.editSubscriber = { mutating = true, fn = function(ctx)
  local r, list = find_sub(ctx)
  if not r then return list end
  local ch, extra = collect(list, ctx.o)
  if not ch then return extra end
  if r.STATUS == "2" and (not ch.STATUS or ch.STATUS == "2") then return err("SUBSCRIBER_DATA_CANNOT_BE_EDITED") end
  local clash = unique_clash(list, ch, r.UID)
  if clash then return err(clash) end
  if not apply(ctx, list, r, ch, extra, ctx.o.tags) then return err("NO_DATA_TO_INSERT") end
  ctx.fire(list, "edit", r)
  return M.view(r)
end }

M.removeSubscriber = { mutating = true, fn = function(ctx)
  local r, list = find_sub(ctx)
  if not r then return list end
  if r.STATUS == "2" then return err("SUBSCRIBER_ALREADY_REMOVED") end
  access.set(list, r, "STATUS", "2")
  r.REMOVE_METHOD = str(ctx.o.removemethod) or "API"
  r.REMOVE_DATE = store.date(ctx.now)
  r.REMOVE_REASON = str(ctx.o.removereason) or ""
  r.REMOVE_OBS = str(ctx.o.removeobs) or ""
  activity(r, "unsubscribe", ctx.now)
  ctx.fire(list, "remove", r)
  return "OK"
end }

function M.matches_segment(seg, r)
  for field, want in pairs(seg.fields or {}) do
    local key = FIELDS[field] or field:upper()
    local have
    local id = field:match("^extra_(.*)$")
    if id then have = (r.extra or {})[id]
    elseif field == "tag" then
      have = ""
      for _, t in ipairs(r.tags or {}) do if t == want then have = want end end
    else have = r[key] end
    if not have or not have:lower():find(want:lower(), 1, true) then return false end
  end
  return true
end

M.subscriberData = { fn = function(ctx)
  local list = access.list(ctx)
  if not list then return { subscriber = { ERROR = "LIST_MISSING" } } end
  local key = str(ctx.o.subscriber) or str(ctx.o.uid)
  if not key then return err("SUBSCRIBER_MISSING") end
  if key:lower() == "all_subscribers" then
    local seg
    local sid = str(ctx.o.segment)
    if sid and sid:upper() ~= "ALL" then
      seg = list.segments[sid]
      if not seg then return err("SEGMENT_NOT_FOUND") end
    end
    -- page the matching UIDs first, then build the views of that page only
    local uids = list.order
    if seg then
      uids = {}
      for _, uid in ipairs(list.order) do
        if M.matches_segment(seg, list.subs[uid]) then uids[#uids + 1] = uid end
      end
    end
    local page = util.page(uids, ctx.o)
    local cap = ctx.cfg.page_cap
    if cap then
      for i = #page, cap + 1, -1 do page[i] = nil end
    end
    for i, uid in ipairs(page) do page[i] = M.view(list.subs[uid]) end
    return { subscriber = shape.list(page) }
  end
  local r = access.subscriber(list, key)
  if not r then return err("SUBSCRIBER_NOT_FOUND") end
  return { subscriber = M.view(r) }
end }

M.addSubscriberBulk = { mutating = true, fn = function(ctx)
  if ctx.body_size > ctx.cfg.bulk_limit then return err("MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED") end
  local list, e = access.list(ctx)
  if not list then return e end
  local items = util.seq(ctx.o.subscribers)
  if #items == 0 then return err("NO_SUBSCRIBERS") end
  local cmp = (str(ctx.o.comparefield) or ""):lower()
  if cmp ~= "email" and cmp ~= "cellphone" and cmp ~= "uid" and cmp ~= "telephone" then
    return err("NO_COMPARE_FIELD")
  end
  local op = str(ctx.o.operation) or "1"
  local defaults = { status = str(ctx.o.status), tags = ctx.o.tags }
  -- the record an item refers to (by its compare field), or nil
  local function existing_of(low)
    local key = low[cmp]
    if type(key) ~= "string" or key == "" then return nil end
    local r = cmp == "uid" and list.subs[key] or access.subscriber(list, key)
    if not r and cmp ~= "email" and cmp ~= "uid" then r = access.find_exact(list, cmp:upper(), key) end
    return r
  end
  local function lowered(item)
    local low = {}
    for k, v in pairs(item) do low[k:lower()] = v end
    return low
  end
  -- capacity check for the whole file first
  local fresh = 0
  for _, item in ipairs(items) do
    if type(item) == "table" and not existing_of(lowered(item)) then fresh = fresh + 1 end
  end
  if access.active_count(ctx.acc) + fresh > ctx.acc.max_subscribers then return err("CANNOT_ADD_MORE_SUBSCRIBERS") end
  local added, updated, ignored = 0, 0, 0
  local errors = shape.list()
  for i, item in ipairs(items) do
    if type(item) ~= "table" then
      ignored = ignored + 1
    else
      local low = lowered(item)
      local existing = existing_of(low)
      if existing then
        if op == "2" then
          local ch, extra = collect(list, low)
          if ch and apply(ctx, list, existing, ch, extra, low.tags or defaults.tags) then updated = updated + 1
          else ignored = ignored + 1 end
        else
          ignored = ignored + 1
        end
      else
        local r, e2 = add_one(ctx, list, low, defaults)
        if r then added = added + 1
        else
          ignored = ignored + 1
          errors[#errors + 1] = { LINE = tostring(i - 1), ERROR = e2.ERROR }
        end
      end
    end
  end
  return { ADDED = added, UPDATED = updated, IGNORED = ignored, TOTAL = #items, ERRORS = errors }
end }

M.getSubscriberActivity = { fn = function(ctx)
  local r, list = find_sub(ctx)
  if not r then return list end
  return { UID = r.UID, ACTIVITY = shape.list(util.page(util.copy(r.activity or {}), ctx.o)) }
end }

return M
