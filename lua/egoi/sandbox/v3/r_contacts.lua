-- egoi.sandbox.v3.r_contacts - /lists/{id}/contacts (+ actions) and /contacts/search,
-- over the v2 subscriber records (m_subscribers does the validation and bookkeeping).
local json = require "egoi.sandbox.v3.json"
local errors = require "egoi.sandbox.v3.errors"
local u = require "egoi.sandbox.v3.util"
local access = require "egoi.sandbox.access"
local store = require "egoi.sandbox.store"

local problem, invalid = errors.problem, errors.invalid

-- v3 base member -> v2 option name / record key
local BASE = { email = { "email", "EMAIL" }, first_name = { "first_name", "FIRST_NAME" },
  last_name = { "last_name", "LAST_NAME" }, cellphone = { "cellphone", "CELLPHONE" },
  phone = { "telephone", "TELEPHONE" }, birth_date = { "birth_date", "BIRTH_DATE" } }
local UNIQUE_FIELD = { EMAIL_ALREADY_EXISTS = { "email", "EMAIL" }, TELEPHONE_ALREADY_EXISTS = { "cellphone",
  "CELLPHONE" },
  FIST_NAME_ALREADY_EXISTS = { "first_name", "FIRST_NAME" }, LAST_NAME_ALREADY_EXISTS = { "last_name", "LAST_NAME" },
  BIRTH_DATE_ALREADY_EXISTS = { "birth_date", "BIRTH_DATE" }, FAX_ALREADY_EXISTS = { "fax", "FAX" } }
local INVALID_MEMBER = { EMAIL_ADDRESS_INVALID = "email", EMAIL_ADDRESS_INVALID_MX_ERROR = "email",
  EMAIL_ADDRESS_INVALID_DOESNT_EXIST = "email", SUBSCRIBER_FORMAT_ERROR = "base", INVALID_EXTRA_FIELD = "extra",
  EMAIL_REQUIRED = "email", NO_CELLPHONE_OR_TELEPHONE = "cellphone", NO_DATA_TO_INSERT = "base",
  FIRST_NAME_REQUIRED = "first_name", LAST_NAME_REQUIRED = "last_name", TELEPHONE_REQUIRED = "phone",
  BIRTH_DATE_REQUIRED = "birth_date" }
local REASONS = { not_interested = true, lack_of_time = true, email_address_change = true, spam = true, other = true }
local METHODS = { manual = true, form = true, unsubscribe_link = true, bounce = true, api = true }

local function date_only(s) return type(s) == "string" and s:match("^(%d%d%d%d%-%d%d%-%d%d)") or nil end

local function extra_values(l, r)
  local out = json.array()
  local ids = {}
  for id in pairs(r.extra or {}) do if l.fields[id] then ids[#ids + 1] = id end end
  table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  for _, id in ipairs(ids) do
    local f, v = l.fields[id], r.extra[id]
    local fmt = u.FORMAT_V3[f.type] or "text"
    if fmt == "options" then
      local arr = json.array()
      for w in tostring(v):gmatch("[^,]+") do
        local n = tonumber(w)
        if not n then for i, o in ipairs(f.options or {}) do if o == w then n = i end end end
        if n then arr[#arr + 1] = n end
      end
      v = arr
    elseif (fmt == "date" and not date_only(v)) or ((fmt == "cellphone" or fmt == "phone")
            and not tostring(v):match("^%d%d?%d?%-%d%d%d%d+$")) then
      fmt, v = nil, nil -- a v2 value that v3 cannot show in its format
    end
    if fmt then out[#out + 1] = { field_id = tonumber(id), format = fmt, value = v } end
  end
  return out
end

local function contact_view(l, r)
  local base = { contact_id = r.UID, status = u.STATUS_V3[r.STATUS or "1"] or "active",
    first_name = r.FIRST_NAME, last_name = r.LAST_NAME, email = r.EMAIL, cellphone = r.CELLPHONE,
    phone = r.TELEPHONE, birth_date = date_only(r.BIRTH_DATE),
    language = u.LANGUAGES[r.LANGUAGE or ""] and r.LANGUAGE or "en",
    subscription_method = (r.SUBSCRIPTION_METHOD == "form") and "form" or "api",
    subscription_date = r.ADD_DATE, change_date = date_only(r.MODIFICATION_DATE or r.ADD_DATE),
    consent = "none" }
  if r.EMAIL then base.email_status = r.email_status or "active" end
  if r.CELLPHONE then base.cellphone_status = r.cellphone_status or "active" end
  if r.TELEPHONE then base.phone_status = r.phone_status or "active" end
  if r.STATUS == "2" then
    local m = tostring(r.REMOVE_METHOD or "api"):lower()
    base.unsubscription_method = METHODS[m] and m or "api"
    base.unsubscription_reason = REASONS[r.REMOVE_REASON or ""] and r.REMOVE_REASON or "other"
    base.unsubscription_observation = r.REMOVE_OBS or ""
    base.unsubscription_date = r.REMOVE_DATE
  end
  local tags = json.array()
  for i, t in ipairs(r.tags or {}) do tags[i] = tonumber(t) end
  return { base = base, extra = extra_values(l, r), tags = tags }
end

local function complex_view(l, r)
  local v = contact_view(l, r)
  local n = function(k) return tonumber(r[k]) or 0 end
  v.email_stats = { sent = n("EMAIL_SENT"), opens = n("EMAIL_VIEWS"), clicks = n("CLICKS"), soft_bounces = 0,
                    hard_bounces = n("BOUNCES"), forwards = 0, conversions = n("REFERRALS_CONVERTED"),
                    social_actions = 0 }
  v.sms_stats = { sent = n("SMS_SENT"), delivered = n("SMS_DELIVERED") }
  v.voice_stats = { sent = 0, answered = 0 }
  return v
end

-- {base, extra} -> v2 options | nil, status, body. patch: status "removed" not allowed
local function to_v2(l, body, patch)
  if not u.object(body) then return nil, problem(400, "The body must be a JSON object") end
  local o = {}
  local base = body.base
  if base ~= nil then
    if not u.object(base) then return nil, invalid("base", "notObject", "base must be an object") end
    for member, v in pairs(base) do
      local m = BASE[member]
      if m then
        if type(v) ~= "string" then return nil, invalid(member, "notString", "must be a string") end
        if member == "birth_date" and not v:match("^%d%d%d%d%-%d%d%-%d%d$") then
          return nil, invalid(member, "dateInvalidDate", "must be YYYY-MM-DD")
        end
        o[m[1]] = v
      elseif member == "status" then
        if not u.STATUS_V2[v] or (patch and v == "removed") then
          return nil, invalid("status", "notInArray", "invalid status")
        end
        o.status = u.STATUS_V2[v]
      elseif member == "language" then
        if not u.LANGUAGES[v] then return nil, invalid("language", "notInArray", "invalid language") end
        o.lang = v
      end
    end
  end
  if body.extra ~= nil then
    if not json.is_array(body.extra) and next(body.extra) ~= nil then
      return nil, invalid("extra", "notArray", "extra must be an array")
    end
    for _, e in ipairs(body.extra) do
      if not u.object(e) then return nil, invalid("extra", "notObject", "extra items must be objects") end
      local id = tostring(e.field_id or ""):gsub("^extra_", "")
      local f = l.fields[id]
      if not f then return nil, invalid("extra", "fieldNotFound", "no extra field " .. id .. " in this list") end
      local v = e.value
      if json.is_array(v) then
        local parts = {}
        for i, w in ipairs(v) do parts[i] = tostring(w) end
        v = table.concat(parts, ",")
      end
      if type(v) == "number" then v = tostring(v) end
      if type(v) ~= "string" then return nil, invalid("extra", "notString", "value must be a string") end
      o["extra_" .. id] = v
    end
  end
  return o
end

-- a v2 error code of add/edit as a v3 answer
local function v2_problem(l, code, o)
  local uf = UNIQUE_FIELD[code]
  if uf then
    local key = o[uf[1] == "cellphone" and "cellphone" or uf[1]] or o.telephone
    local r = key and (uf[2] == "EMAIL" and access.subscriber(l, key) or access.find_exact(l, uf[2], key))
    return problem(409, "A unique field is already being used", { unique_field_in_use =
      "A unique field is already being used", field_id = uf[1], contacts = json.array({ r and r.UID or nil }) })
  end
  if code == "CANNOT_ADD_MORE_SUBSCRIBERS" then
    return problem(409, "The account's contact limit was reached", { contact_limit_reached = "Contact limit reached" })
  end
  return invalid(INVALID_MEMBER[code] or "base", "invalid", code)
end

local function matches(r, q)
  for member, m in pairs(BASE) do
    local want = q[member]
    if type(want) == "string" and (r[m[2]] or ""):lower() ~= want:lower() then return false end
  end
  if type(q.extra_field_id) == "table" then
    for id, want in pairs(q.extra_field_id) do if (r.extra or {})[id] ~= want then return false end end
  end
  return true
end

local function all_contacts(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local out = {}
  for _, uid in ipairs(l.order) do
    local r = l.subs[uid]
    if r and matches(r, x.query) then out[#out + 1] = r end
  end
  local page, ps, pb = u.page(x, out, 10, function(r) return contact_view(l, r) end)
  if not page then return ps, pb end
  return 200, page
end

local function create_contact(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local o, st, e = to_v2(l, x.body)
  if not o then return st, e end
  o.listid = l.listnum
  local v, code = u.v2(x, "m_subscribers", "addSubscriber", o)
  if code then return v2_problem(l, code, o) end
  return 201, { contact_id = v.UID }
end

local function find(x, id, cid)
  local l, s, b = u.list(x, id)
  if not l then return nil, s, b end
  local r = l.subs[cid]
  if not r then return nil, errors.not_found("Contact") end
  return l, r
end

local function get_contact(x, id, cid)
  local l, r, b = find(x, id, cid)
  if not l then return r, b end
  return 200, complex_view(l, r)
end

local function patch_contact(x, id, cid)
  local l, r, b = find(x, id, cid)
  if not l then return r, b end
  local o, st, e = to_v2(l, x.body, true)
  if not o then return st, e end
  o.listid, o.subscriber = l.listnum, r.UID
  local _, code = u.v2(x, "m_subscribers", "editSubscriber", o)
  if code == "SUBSCRIBER_DATA_CANNOT_BE_EDITED" then
    return problem(409, "A removed contact cannot be edited", { contact_removed = "The contact was removed" })
  elseif code and code ~= "NO_DATA_TO_INSERT" then return v2_problem(l, code, o) end
  return 200, { contact_id = r.UID }
end

local function unsubscribe(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local data = u.object(x.body) and x.body.data
  if not json.is_array(data) or #data == 0 then
    return invalid("data", "isEmpty", "data must be a non-empty array")
  end
  local ok = json.array()
  local errs = { invalid_unsubscription_reason = json.array(), invalid_unsubscription_method = json.array(),
    invalid_data_type = json.array(), contact_not_in_list = json.array(), contact_already_removed = json.array() }
  for _, item in ipairs(data) do
    local cid = u.object(item) and item.contact_id
    local method = u.object(item) and (item.unsubscription_method or "api")
    local reason = u.object(item) and (item.unsubscription_reason or "other")
    if type(cid) ~= "string" then errs.invalid_data_type[#errs.invalid_data_type + 1] = tostring(cid)
    elseif not METHODS[method] then errs.invalid_unsubscription_method[#errs.invalid_unsubscription_method + 1] = cid
    elseif not REASONS[reason] then errs.invalid_unsubscription_reason[#errs.invalid_unsubscription_reason + 1] = cid
    elseif not l.subs[cid] then errs.contact_not_in_list[#errs.contact_not_in_list + 1] = cid
    else
      local _, code = u.v2(x, "m_subscribers", "removeSubscriber", { listid = l.listnum, subscriber = cid,
        removemethod = method, removereason = reason,
        removeobs = type(item.unsubscription_observation) == "string" and item.unsubscription_observation or nil })
      if code then errs.contact_already_removed[#errs.contact_already_removed + 1] = cid
      else ok[#ok + 1] = cid end
    end
  end
  return 200, { success = ok, errors = errs }
end

-- attach-tag / detach-tag: {tag_id, contacts} | {tag_id, segment_id} | {tag_id, field_id, contacts}
local function tagging(attach)
  return function(x, id)
    local l, s, b = u.list(x, id)
    if not l then return s, b end
    local body = x.body
    if not u.object(body) then return problem(400, "The body must be a JSON object") end
    local tag = u.int(body.tag_id)
    if not tag then return invalid("tag_id", "isEmpty", "tag_id is required") end
    if not x.acc.tags[tostring(tag)] then return errors.not_found("Tag") end
    local targets = {}
    if body.segment_id ~= nil then
      local seg = l.segments[tostring(body.segment_id)]
      if not seg then return errors.not_found("Segment") end
      local subs = require "egoi.sandbox.m_subscribers"
      for _, uid in ipairs(l.order) do if subs.matches_segment(seg,
        l.subs[uid]) then targets[#targets + 1] = uid end end
    else
      if not json.is_array(body.contacts) or #body.contacts == 0 then
        return invalid("contacts", "isEmpty", "contacts must be a non-empty array")
      end
      local key = body.field_id and BASE[tostring(body.field_id)]
      if body.field_id ~= nil and not key then return invalid("field_id", "notInArray", "unknown field") end
      for _, c in ipairs(body.contacts) do
        if type(c) ~= "string" then return invalid("contacts", "notString", "contacts must be strings") end
        local r = key and access.find_exact(l, key[2], c) or l.subs[c]
        if key and not r and key[2] == "EMAIL" then r = access.subscriber(l, c) end
        if r then targets[#targets + 1] = r.UID end
      end
    end
    if #targets > 0 then
      u.v2(x, "m_account", attach and "attachTag" or "detachTag",
        { listid = l.listnum, tag = tostring(tag), target = targets })
    end
    return 202, { result = "success" }
  end
end

local MODES = { add = true, update = true, update_only = true }

local function import_bulk(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local body = x.body
  if not u.object(body) then return problem(400, "The body must be a JSON object") end
  if not MODES[body.mode] then return invalid("mode", "notInArray", "mode must be add, update or update_only") end
  local cmp = type(body.compare_field) == "string" and body.compare_field:gsub("^extra_", "") or nil
  if not cmp or not BASE[cmp] then
    return invalid("compare_field", "notUnique", "compare_field must be a unique base field (email, cellphone, phone)")
  end
  if body.file ~= nil then return invalid("file", "notSupported", "the sandbox imports only the contacts array") end
  if not json.is_array(body.contacts) or #body.contacts < 2 then
    return invalid("contacts", "tooShort", "at least 2 contacts (use Create new contact for one)")
  end
  local cb = body.callback_url
  if cb ~= nil and (type(cb) ~= "string" or not cb:match("^https?://")) then
    return invalid("callback_url", "invalidUrl", "callback_url must be an http or https URL")
  end
  local imported, updated, ignored, invalid_n = 0, 0, 0, 0
  for _, c in ipairs(body.contacts) do
    local o = u.object(c) and to_v2(l, c)
    local key = o and o[BASE[cmp][1]]
    local r = key and (cmp == "email" and access.subscriber(l, key) or access.find_exact(l, BASE[cmp][2], key))
    if not o then invalid_n = invalid_n + 1
    elseif r then
      if body.mode == "add" then ignored = ignored + 1
      else
        o.listid, o.subscriber = l.listnum, r.UID
        local _, code = u.v2(x, "m_subscribers", "editSubscriber", o)
        if code == nil then updated = updated + 1 else ignored = ignored + 1 end
      end
    elseif body.mode == "update_only" then ignored = ignored + 1
    else
      o.listid = l.listnum
      local _, code = u.v2(x, "m_subscribers", "addSubscriber", o)
      if code == nil then imported = imported + 1
      elseif INVALID_MEMBER[code] then invalid_n = invalid_n + 1
      else ignored = ignored + 1 end
    end
  end
  if body.callback_url and x.out then
    x.out:post_json(body.callback_url, { imported = imported, updated = updated, ignored = ignored,
      invalid = invalid_n, file = "http://sandbox.invalid/imports/" .. l.listnum .. ".csv" }, "import callback")
  end
  return 202, { result = "success" }
end

-- export files (format csv) by token, served without a key at GET /exports/<token>.csv, as a
-- signed download link would be; the sandbox's own columns (E-goi's file layout is not
-- documented): contact_id, status, the base fields, extra_<id>
local files, file_seq = {}, 0
local EXPORT_BASE = { "email", "first_name", "last_name", "cellphone", "phone", "birth_date", "language" }

local function csv_cell(v)
  v = v == nil and "" or tostring(v)
  if v:find('[",\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

local function export_csv(l)
  local ids = {}
  for fid in pairs(l.fields) do ids[#ids + 1] = fid end
  table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  local head = { "contact_id", "status" }
  for _, k in ipairs(EXPORT_BASE) do head[#head + 1] = k end
  for _, fid in ipairs(ids) do head[#head + 1] = "extra_" .. fid end
  local lines = { table.concat(head, ",") }
  for _, uid in ipairs(l.order) do
    local r = l.subs[uid]
    if r then
      local v = contact_view(l, r).base
      local row = { csv_cell(r.UID), csv_cell(v.status) }
      for _, k in ipairs(EXPORT_BASE) do row[#row + 1] = csv_cell(v[k]) end
      for _, fid in ipairs(ids) do row[#row + 1] = csv_cell((r.extra or {})[fid]) end
      lines[#lines + 1] = table.concat(row, ",")
    end
  end
  return table.concat(lines, "\r\n") .. "\r\n"
end

local function export(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local body = x.body
  if not u.object(body) or (body.format ~= "csv" and body.format ~= "xml") then
    return invalid("format", "notInArray", "format must be csv or xml")
  end
  local cb = body.callback_url
  if cb ~= nil and (type(cb) ~= "string" or not cb:match("^https?://")) then
    return invalid("callback_url", "invalidUrl", "callback_url must be an http or https URL")
  end
  if cb and x.out then
    local file
    if body.format == "csv" then
      file_seq = file_seq + 1
      local token = ("%08x%s"):format(file_seq, tostring(l.listnum))
      files[token] = export_csv(l)
      file = ("http://%s/exports/%s.csv"):format(x.headers and x.headers.host or "sandbox.invalid", token)
    else
      file = ("http://sandbox.invalid/exports/%s.xml"):format(l.listnum)
    end
    x.out:post_json(cb, { file = file }, "export callback")
  end
  return 202, { result = "success" }
end

local function export_file(_, token)
  local f = files[token]
  if not f then return errors.not_found("Export file") end
  return 200, f, { { "Content-Type", "text/csv; charset=utf-8" } }, true
end

local SEARCH_KEY = { email = "EMAIL", cellphone = "CELLPHONE", phone = "TELEPHONE" }

local function search(x)
  local q = x.query
  local key = SEARCH_KEY[q.type or "email"]
  if not key then return invalid("type", "notInArray", "type must be email, cellphone or phone") end
  if type(q.contact) ~= "string" or q.contact == "" then return invalid("contact", "isEmpty", "contact is required") end
  local items = json.array()
  for _, lid in ipairs(x.acc.list_order) do
    local l = x.acc.lists[lid]
    local r = access.find_exact(l, key, q.contact) or (key == "EMAIL" and access.subscriber(l, q.contact)) or nil
    if r then items[#items + 1] = { contact_id = r.UID, list_id = tonumber(lid) } end
  end
  if #items == 0 and not x.cfg.v3_search_empty then return errors.not_found("Contact") end
  return 200, { items = items }
end

return {
  { "GET", "^/lists/(%d+)/contacts$", all_contacts },
  { "POST", "^/lists/(%d+)/contacts$", create_contact },
  { "POST", "^/lists/(%d+)/contacts/actions/unsubscribe$", unsubscribe },
  { "POST", "^/lists/(%d+)/contacts/actions/attach%-tag$", tagging(true) },
  { "POST", "^/lists/(%d+)/contacts/actions/detach%-tag$", tagging(false) },
  { "POST", "^/lists/(%d+)/contacts/actions/import%-bulk$", import_bulk },
  { "POST", "^/lists/(%d+)/contacts/actions/export$", export },
  { "GET", "^/exports/(%x+)%.csv$", export_file, noauth = true },
  { "GET", "^/lists/(%d+)/contacts/(%x+)$", get_contact },
  { "PATCH", "^/lists/(%d+)/contacts/(%x+)$", patch_contact },
  { "GET", "^/contacts/search$", search },
  contact_view = contact_view, date = store.date,
}
