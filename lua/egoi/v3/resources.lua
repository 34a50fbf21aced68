-- egoi.v3.resources - the resource tables of a v3 client (client.lists, client.contacts, ...),
-- after API v3's own resources and names. Each method is one or a few client:call(<operation
-- id>, ...) of egoi.v3.operations; `each` iterators page through a collection with the largest
-- page the service allows. README "API v3" lists which paths each table covers.
local errors = require "egoi.errors"
local check = require "egoi.check"
local json = require "egoi.v3.json"
local ops = require "egoi.v3.operations"
local paging = require "egoi.paging"

local type, pairs, ipairs, tostring, tonumber, error, setmetatable, getmetatable, pcall, next, select, floor =
  type, pairs, ipairs, tostring, tonumber, error, setmetatable, getmetatable, pcall, next, select, math.floor

local M = {}

M.PAGE = 1000         -- the largest `limit` of the 2025 spec
M.FALLBACK = { 100, 10 } -- a server that refuses 1000 with 422 errors.limit (older specs: 100)

local Resource = {}

-- an argument error: raised or returned as the client's error mode says
local function fail(res, fname, message)
  local err = errors.usage(fname, "INVALID_ARGUMENT", fname .. ": " .. message)
  if res._client.raise then error(err, 3) end
  return nil, err
end

local function is_id(v)
  return (type(v) == "number" and v == floor(v) and v >= 1) or (type(v) == "string" and v ~= "")
end

-- check positional arguments: spec = { {name, kind, value}, ... }; kind "id" | "table" | "table?"
-- | "string" | "ids"; returns nil or the message
local function bad_args(spec)
  for _, a in ipairs(spec) do
    local name, kind, v = a[1], a[2], a[3]
    if kind == "id" and not is_id(v) then
      return ("argument '%s' must be a positive integer or a non-empty string, got %s"):format(name, check.show(v))
    elseif kind == "table" and type(v) ~= "table" then
      return ("argument '%s' must be a table, got %s"):format(name, type(v))
    elseif kind == "table?" and v ~= nil and type(v) ~= "table" then
      return ("argument '%s' must be a table or nil, got %s"):format(name, type(v))
    elseif kind == "string" and (type(v) ~= "string" or v == "") then
      return ("argument '%s' must be a non-empty string, got %s"):format(name, check.show(v))
    elseif kind == "ids" then
      local ok = is_id(v)
      if not ok and type(v) == "table" and #v > 0 then
        ok = true
        for i = 1, #v do if not is_id(v[i]) then ok = false break end end -- (a hole is no id)
      end
      if not ok then
        return ("argument '%s' must be an id or a non-empty array of ids, got %s"):format(name, check.show(v))
      end
    end
  end
  return nil
end

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

local function ids_array(v)
  if type(v) ~= "table" then return json.array{ v } end
  local out = json.array()
  for i = 1, #v do out[i] = v[i] end
  return out
end

-- one call; a 204 becomes true (so `assert(res:delete(id))` holds in either error mode)
local function call(res, op, options, empty_true)
  local r, err = res._client:call(op, options)
  if r == nil and err ~= nil then return nil, err end
  if r == nil and empty_true then return true end
  return r
end

-- the same JSON value (tables compared key by key; past `depth` levels they count as different,
-- so a doubt never stops paging)
-- every item of a paged collection: offset/limit with the largest page, advancing by what the
-- server actually answered (a server that caps pages lower loses nothing); a collection without
-- total_items ends at an empty page; a page that repeats the previous one stops the paging with
-- PAGING_STALLED before any of its items is yielded again. Errors raise (an iterator cannot
-- return nil, err).
local function pager(res, op, options, query)
  local client = res._client
  query = copy(query)
  local limit = query.limit or M.PAGE
  local offset = query.offset or 0
  local fallback = 1
  local page, i, total, done = nil, 0, nil, false
  local pages = 0 -- pages answered so far
  local function fetch()
    while true do
      local q = copy(query)
      q.limit, q.offset = limit, offset
      local o = copy(options)
      o.query = q
      local ok, r, err = pcall(client.call, client, op, o)
      if ok and r == nil then ok, r = false, err end
      if ok then return r end
      local e = r
      local limit_refused = errors.is_error(e) and e.http_status == 422 and type(e.detail) == "table"
        and type(e.detail.errors) == "table" and e.detail.errors.limit ~= nil
      if limit_refused and M.FALLBACK[fallback] and M.FALLBACK[fallback] < limit then
        limit = M.FALLBACK[fallback] -- the server's maximum is lower: ask again with less
        fallback = fallback + 1
      else
        error(e, 0)
      end
    end
  end
  return function()
    while true do
      if page and i < #page then
        i = i + 1
        return page[i]
      end
      if done then return nil end
      local r = fetch()
      local prev = page
      page = type(r) == "table" and (r.items or (r[1] ~= nil and r)) or {}
      if type(page) ~= "table" then page = {} end
      i = 0
      pages = pages + 1
      if paging.repeats(page, prev) then
        done, page = true, nil
        error(paging.stalled(op, pages, offset, #prev), 0)
      end
      total = type(r) == "table" and tonumber(r.total_items) or nil
      offset = offset + #page
      if #page == 0 or (total and offset >= total) then done = true end
      if #page == 0 then return nil end
    end
  end
end

-- the method tables ---------------------------------------------------------------------------

local defs = {}

defs.account = {
  get = function(self) return call(self, "getMyAccount", {}) end,
}

local function collection(op)
  return function(self, query)
    local why = bad_args{ { "query", "table?", query } }
    if why then return fail(self, op, why) end
    return call(self, op, { query = query })
  end
end

local function each_of(op)
  return function(self, query)
    local why = bad_args{ { "query", "table?", query } }
    if why then local _, e = fail(self, op, why) error(e, 2) end
    return pager(self, op, {}, query)
  end
end

local function create(op)
  return function(self, body)
    local why = bad_args{ { "body", "table", body } }
    if why then return fail(self, op, why) end
    return call(self, op, { body = body })
  end
end

-- the last argument of a read is its query, of a write its body
local function last(op, options, v)
  if ops.lookup(op).verb == "GET" then options.query = v else options.body = v end
  return options
end

local function by_id(op, param, body_needed, empty_true)
  return function(self, id, body)
    local why = bad_args{ { param, "id", id }, { "body", body_needed and "table" or "table?", body } }
    if why then return fail(self, op, why) end
    return call(self, op, last(op, { [param] = id }, body), empty_true)
  end
end

defs.lists = {
  all = collection("getAllLists"),
  each = each_of("getAllLists"),
  get = by_id("getList", "list_id"),
  create = create("createList"),
  update = by_id("updateList", "list_id", true),
  delete = by_id("deleteList", "list_id", false, true),
}

local function in_list(op, param, body_kind, empty_true)
  return function(self, list_id, id, body)
    local why = bad_args{ { "list_id", "id", list_id }, { param, "id", id }, { "body", body_kind or "table?", body } }
    if why then return fail(self, op, why) end
    return call(self, op, last(op, { list_id = list_id, [param] = id }, body), empty_true)
  end
end

defs.fields = {
  -- every field (a bare array: base fields then extra fields), through as many pages as the
  -- server needs (a bare array has no total: the last page is the empty one)
  all = function(self, list_id)
    local why = bad_args{ { "list_id", "id", list_id } }
    if why then return fail(self, "getAllFields", why) end
    local ok, all = pcall(function()
      local out = json.array()
      for f in pager(self, "getAllFields", { list_id = list_id }, {}) do out[#out + 1] = f end
      return out
    end)
    if not ok then
      if self._client.raise then error(all, 2) end
      return nil, all
    end
    return all
  end,
  create = function(self, list_id, body)
    local why = bad_args{ { "list_id", "id", list_id }, { "body", "table", body } }
    if why then return fail(self, "createExtraField", why) end
    return call(self, "createExtraField", { list_id = list_id, body = body })
  end,
  update = in_list("patchExtraField", "field_id", "table"),
  update_base = in_list("patchBaseField", "field_id", "table"),
  delete = in_list("deleteExtraField", "field_id", nil, true),
}

-- a contact for v3: { base =, extra = } as given, or a flat row (base field names, extra
-- fields as extra_<id> or [<id>]) folded into that shape
local function contact_body(row)
  if row.base ~= nil or row.extra ~= nil then
    local out = copy(row)
    if type(out.extra) == "table" then
      if next(out.extra) == nil then out.extra = nil else out.extra = ids_array(out.extra) end
    end
    return out
  end
  local base, extra = {}, json.array()
  for k, v in pairs(row) do
    local id = type(k) == "number" and k or (type(k) == "string" and tonumber(k:match("^extra_(%d+)$")))
    if id then extra[#extra + 1] = { field_id = floor(id), value = v } else base[k] = v end
  end
  table.sort(extra, function(a, b) return a.field_id < b.field_id end)
  return { base = base, extra = #extra > 0 and extra or nil }
end
M.contact_body = contact_body

local function tag_action(op)
  return function(self, list_id, tag_id, targets)
    local why = bad_args{ { "list_id", "id", list_id }, { "tag_id", "id", tag_id } }
    if not why and not (type(targets) == "table" and (targets.segment_id or targets.field_id)) then
      why = bad_args{ { "contacts", "ids", targets } }
    end
    if why then return fail(self, op, why) end
    local body = { tag_id = tag_id }
    if type(targets) == "table" and (targets.segment_id or targets.field_id) then
      -- { segment_id = ... } or { field_id = "email", contacts = { "a@example.com", ... } }
      for k, v in pairs(targets) do body[k] = v end
      if body.contacts then body.contacts = ids_array(body.contacts) end
    else
      body.contacts = ids_array(targets)
    end
    return call(self, op, { list_id = list_id, body = body })
  end
end

local IMPORT_OPTS = { "callback_url", "compare_field", "delimiter", "field_mapping", "force_empty", "mode",
  "notify", "separator" }

-- a collection under a list: all(list_id, query) one page, each(list_id, query) every item
local function list_collection(op, iterate)
  return function(self, list_id, query)
    local why = bad_args{ { "list_id", "id", list_id }, { "query", "table?", query } }
    if why then
      local r, e = fail(self, op, why)
      if iterate then error(e, 2) end
      return r, e
    end
    if iterate then return pager(self, op, { list_id = list_id }, query) end
    return call(self, op, { list_id = list_id, query = query })
  end
end

defs.contacts = {
  all = list_collection("getAllContacts"),
  each = list_collection("getAllContacts", true),
  get = in_list("getContact", "contact_id"),
  create = function(self, list_id, contact)
    local why = bad_args{ { "list_id", "id", list_id }, { "contact", "table", contact } }
    if why then return fail(self, "createContact", why) end
    return call(self, "createContact", { list_id = list_id, body = contact_body(contact) })
  end,
  update = function(self, list_id, contact_id, contact)
    local why = bad_args{ { "list_id", "id", list_id }, { "contact_id", "id", contact_id },
      { "contact", "table", contact } }
    if why then return fail(self, "patchContact", why) end
    return call(self, "patchContact", { list_id = list_id, contact_id = contact_id, body = contact_body(contact) })
  end,
  activities = in_list("getAllContactActivities", "contact_id"),
  -- The bulk importer (egoi.bulk, v3 backend) for a CSV file path, an iterator or an array
  -- of flat rows (v2 field names: email, first_name, ..., telephone, lang, extra_<id>): local
  -- validation, rejects with line numbers, journal and resume, chunks up to the 20 MB cap (a 413
  -- splits that chunk), opts.mode add|update|update_only; returns the importer's summary.
  -- One raw import-bulk call instead for rows in v3's own shape ({ base =, extra = }: at least
  -- 2) or the URL of a CSV file E-goi downloads (opts.field_mapping then): opts mode (default
  -- "add"), compare_field (default "email"), force_empty, notify, callback_url; answer 202
  -- { result = "success" }, a 413 is an error (that call is not split).
  import = function(self, list_id, rows, opts)
    local op = "actionImportBulk"
    local why = bad_args{ { "list_id", "id", list_id }, { "opts", "table?", opts } }
    if why then return fail(self, op, why) end
    opts = opts or {}
    local raw = type(rows) == "string" and rows:match("^https?://")
    if type(rows) == "table" then
      for _, row in ipairs(rows) do
        if type(row) == "table" and (row.base ~= nil or row.extra ~= nil) then raw = true end
      end
    end
    if not raw and (type(rows) == "string" or type(rows) == "table" or type(rows) == "function") then
      local o = copy(opts)
      o.listID = list_id
      if o.mode == nil then o.mode = "add" end
      return require("egoi.bulk").import(self._client, rows, o)
    end
    local unknown = check.names(opts, IMPORT_OPTS, "option")
    if unknown then return fail(self, op, unknown) end
    local body = { mode = opts.mode or "add", compare_field = opts.compare_field or "email",
      force_empty = opts.force_empty, callback_url = opts.callback_url,
      notify = opts.notify and ids_array(opts.notify) or nil }
    if type(rows) == "string" then
      if not rows:match("^https?://") then
        return fail(self, op, "argument 'rows' must be an array of contacts or the http(s) URL of a CSV file")
      end
      if type(opts.field_mapping) ~= "table" or #opts.field_mapping == 0 then
        return fail(self, op, "a CSV URL needs opts.field_mapping = { { field_id =, column_name = }, ... }")
      end
      body.file = { url = rows, field_mapping = opts.field_mapping, separator = opts.separator,
        delimiter = opts.delimiter }
    elseif type(rows) == "table" then
      if #rows < 2 then
        return fail(self, op, ("v3 imports at least 2 contacts (got %d): use client.contacts:create for one")
          :format(#rows))
      end
      local contacts = json.array()
      for i = 1, #rows do -- (not ipairs: a hole would drop every row after it, silently)
        local row = rows[i]
        if type(row) ~= "table" then return fail(self, op, ("row %d is not a table"):format(i)) end
        contacts[i] = contact_body(row)
      end
      body.contacts = contacts
    else
      return fail(self, op, "argument 'rows' must be an array of contacts or the http(s) URL of a CSV file")
    end
    return call(self, op, { list_id = list_id, body = body })
  end,
  -- every contact of the list as CSV (egoi.bulk.export: pages of 1000, the v2 export's columns)
  export = function(self, list_id, dest, opts)
    return require("egoi.bulk").export(self._client, list_id, dest, opts)
  end,
  -- make the list match source (egoi.sync): opts key, remove "unsubscribe"|"keep", dry_run,
  -- snapshot; returns the plan (plan.done after a real run)
  sync = function(self, list_id, source, opts)
    return require("egoi.sync").run(self._client, list_id, source, opts)
  end,
  -- ids: one contact id or an array; opts: method (default "api"), reason, observation
  unsubscribe = function(self, list_id, ids, opts)
    local op = "actionUnsubscribeContact"
    local why = bad_args{ { "list_id", "id", list_id }, { "ids", "ids", ids }, { "opts", "table?", opts } }
    if why then return fail(self, op, why) end
    opts = opts or {}
    local unknown = check.names(opts, { "method", "observation", "reason" }, "option")
    if unknown then return fail(self, op, unknown) end
    local data = json.array()
    for i, id in ipairs(ids_array(ids)) do
      data[i] = { contact_id = id, unsubscription_method = opts.method or "api",
        unsubscription_reason = opts.reason, unsubscription_observation = opts.observation }
    end
    return call(self, op, { list_id = list_id, body = { data = data } })
  end,
  attach_tag = tag_action("actionAttachTag"),
  detach_tag = tag_action("actionDetachTag"),
  -- across every list: { items = { { contact_id, list_id }, ... } }; kind email|cellphone|phone
  search = function(self, contact, kind)
    local why = bad_args{ { "contact", "string", contact } }
    if why then return fail(self, "searchContacts", why) end
    return call(self, "searchContacts", { query = { contact = contact, type = kind or "email" } })
  end,
}

defs.tags = {
  all = collection("getAllTags"),
  each = each_of("getAllTags"),
  create = create("createTag"),
  update = by_id("updateTag", "tag_id", true),
  delete = by_id("deleteTag", "tag_id", false, true),
}

local CHANNELS = {
  email = { all = "getAllEmailSenders", create = "createEmailSender", delete = "deleteEmailSender" },
  cellphone = { all = "getAllCellphoneSenders", create = "createCellphoneSender", delete = "deleteCellphoneSender" },
  phone = { all = "getAllPhoneSenders", create = "createPhoneSender", delete = "deletePhoneSender" },
}
local function channel_of(self, fname, channel)
  local c = CHANNELS[channel]
  if not c then
    return nil, select(2, fail(self, fname, ("argument 'channel' must be \"email\", \"cellphone\" or \"phone\", got %s")
      :format(check.show(channel))))
  end
  return c
end

defs.senders = {
  all = function(self, channel, query)
    local c, e = channel_of(self, "senders.all", channel)
    if not c then return nil, e end
    return call(self, c.all, { query = query })
  end,
  -- every sender of a channel, page after page (the pager every other collection uses)
  each = function(self, channel, query)
    local c, e = channel_of(self, "senders.each", channel)
    if not c then error(e, 2) end
    local why = bad_args{ { "query", "table?", query } }
    if why then local _, err = fail(self, c.all, why) error(err, 2) end
    return pager(self, c.all, {}, query)
  end,
  create = function(self, channel, body)
    local c, e = channel_of(self, "senders.create", channel)
    if not c then return nil, e end
    local why = bad_args{ { "body", "table", body } }
    if why then return fail(self, c.create, why) end
    return call(self, c.create, { body = body })
  end,
  -- e-mail senders only (v3 updates no other channel): { name = ... }
  update = by_id("putEmailSender", "sender_id", true),
  delete = function(self, channel, id)
    local c, e = channel_of(self, "senders.delete", channel)
    if not c then return nil, e end
    local why = bad_args{ { "sender_id", "id", id } }
    if why then return fail(self, c.delete, why) end
    return call(self, c.delete, { sender_id = id }, true)
  end,
}

defs.segments = {
  all = list_collection("getAllSegments"),
  each = list_collection("getAllSegments", true),
  delete = in_list("deleteSegment", "segment_id", nil, true),
}

-- a send body: the list and, by default, every contact of it
local function send_body(body)
  local b = copy(body)
  if b.segments == nil then b.segments = { type = "none" } end
  return b
end

local function send(op)
  return function(self, hash, body)
    local why = bad_args{ { "campaign_hash", "id", hash }, { "body", "table", body } }
    if why then return fail(self, op, why) end
    return call(self, op, { campaign_hash = hash, body = send_body(body) })
  end
end

local function schedule(op)
  return function(self, hash, date, body)
    local why = bad_args{ { "campaign_hash", "id", hash }, { "date", "string", date }, { "body", "table", body } }
    if why then return fail(self, op, why) end
    local b = send_body(body)
    b.schedule_date = date -- "YYYY-MM-DD HH:MM:SS", the spec's only example
    return call(self, op, { campaign_hash = hash, body = b })
  end
end

defs.campaigns = {
  all = collection("getAllCampaigns"),
  each = each_of("getAllCampaigns"),
  create_email = create("createEmailCampaign"),
  update_email = by_id("patchEmailCampaign", "campaign_hash", true),
  create_sms = create("createSmsCampaign"),
  update_sms = by_id("patchSmsCampaign", "campaign_hash", true),
  delete = by_id("deleteCampaigns", "campaign_hash", false, true),
  send = send("actionSendEmail"),
  send_sms = send("actionSendSms"),
  schedule = schedule("actionSendEmail"),
  schedule_sms = schedule("actionSendSms"),
}

-- the first item of a whole collection for which pred(item) holds: item | nil | nil, err
local function first_of(res, op, pred)
  local ok, found = pcall(function()
    for item in pager(res, op, {}, {}) do
      if pred(item) then return item end
    end
  end)
  if not ok then return nil, found end
  return found
end

defs.reports = {
  email = by_id("getEmailReport", "campaign_hash"),
  sms = by_id("getSMSReport", "campaign_hash"),
  -- an advanced report: type as in POST /reports/advanced/<type> ("sends", "email-events", ...)
  request = function(self, rtype, body)
    local op = ops.ADVANCED_REPORTS[rtype]
    if not op then
      local known = {}
      for k in pairs(ops.ADVANCED_REPORTS) do known[#known + 1] = k end
      return fail(self, "reports.request", check.unknown_message("advanced report type", rtype, known))
    end
    local why = bad_args{ { "body", "table", body } }
    if why then return fail(self, op, why) end
    return call(self, op, { body = body })
  end,
  advanced = collection("getAllAdvancedReports"),
  -- one advanced report by id ({ status, file, ... }) or nil when the service lists none
  fetch = function(self, id)
    local why = bad_args{ { "advanced_report_id", "id", id } }
    if why then return fail(self, "getAllAdvancedReports", why) end
    local found, err = first_of(self, "getAllAdvancedReports", function(r)
      return r.advanced_report_id == id or tostring(r.advanced_report_id) == tostring(id)
    end)
    if err ~= nil and self._client.raise then error(err, 2) end
    return found, err
  end,
}

defs.webhooks = {
  all = collection("getAllWebhooks"),
  each = each_of("getAllWebhooks"),
  -- { list_id =, url =, actions = { "subscription", ... }, fields = { ... } }
  create = function(self, body)
    local why = bad_args{ { "body", "table", body } }
    if why then return fail(self, "createWebhook", why) end
    local b = copy(body)
    if type(b.actions) == "table" then b.actions = ids_array(b.actions) end
    if type(b.fields) == "table" then b.fields = ids_array(b.fields) end
    return call(self, "createWebhook", { body = b })
  end,
  delete = by_id("deleteWebhook", "webhook_id", false, true),
  -- the list's webhook for this url with these actions and fields, made when missing:
  -- -> webhook, created. One read when it exists as asked; v3 updates no webhook, so one that
  -- differs is deleted and made again (a read and two writes).
  ensure = function(self, body)
    local why = bad_args{ { "body", "table", body } }
    if not why then why = bad_args{ { "list_id", "id", body.list_id }, { "url", "string", body.url } } end
    if not why and (type(body.actions) ~= "table" or #body.actions == 0) then
      why = "argument 'actions' must be a non-empty array of webhook actions"
    end
    if why then return fail(self, "createWebhook", why) end
    local function same(a, b)
      local seen, n = {}, 0
      for _, x in ipairs(a or {}) do seen[tostring(x)] = true end
      for _ in pairs(seen) do n = n + 1 end
      for _, x in ipairs(b or {}) do
        if not seen[tostring(x)] then return false end
        seen[tostring(x)] = nil
        n = n - 1
      end
      return n == 0
    end
    local found, err = first_of(self, "getAllWebhooks", function(w)
      return tostring(w.list_id) == tostring(body.list_id) and w.url == body.url
    end)
    if err ~= nil then
      if self._client.raise then error(err, 2) end
      return nil, err
    end
    if found and same(found.actions, body.actions) and same(found.fields, body.fields) then
      return found, false
    end
    if found then
      local d, e = call(self, "deleteWebhook", { webhook_id = found.webhook_id }, true)
      if not d then return nil, e end
    end
    local w, e = self:create(body)
    if not w then return nil, e end
    return w, true
  end,
}

local function op_action(op)
  return function(self, ids)
    local why = bad_args{ { "operations", "ids", ids } }
    if why then return fail(self, op, why) end
    return call(self, op, { body = { operations = ids_array(ids) } })
  end
end

defs.operations = {
  all = collection("getAllOperations"),
  each = each_of("getAllOperations"),
  approve = op_action("actionApproveOperation"),
  cancel = op_action("actionCancelOperation"),
  pause = op_action("actionPauseOperation"),
  resume = op_action("actionResumeOperation"),
}

-- the tables -----------------------------------------------------------------------------------

local names_of = {}
for r, fns in pairs(defs) do
  local names = {}
  for n, f in pairs(fns) do
    names[#names + 1] = n
    -- colon check: client.lists.all(...) instead of client.lists:all(...)
    fns[n] = function(self, ...)
      if getmetatable(self) ~= Resource then
        error(errors.usage(nil, "INVALID_ARGUMENT", ("call client.%s:%s(...) with a colon"):format(r, n)), 2)
      end
      return f(self, ...)
    end
  end
  table.sort(names)
  names_of[r] = names
end

M.names = {}
for r in pairs(defs) do M.names[#M.names + 1] = r end
table.sort(M.names)

-- the v2 resource names, for a clear error on a v3 client
local V2_TABLES = { subscribers = "contacts", callbacks = "webhooks", campaigns = "campaigns" }

function Resource.__index(self, key)
  local r = rawget(self, "_name")
  local f = defs[r][key]
  if f == nil then
    error(errors.usage(nil, "INVALID_ARGUMENT", "client." .. r .. " has no method "
      .. check.unknown_message("method", key, names_of[r]):gsub("^unknown method ", "")), 2)
  end
  return f
end

function Resource.__tostring(self)
  return "egoi v3 resource " .. rawget(self, "_name")
end

--- Create client.<resource> for every v3 resource. Returns the client.
function M.attach(client)
  for _, r in ipairs(M.names) do
    client[r] = setmetatable({ _client = client, _name = r }, Resource)
  end
  return client
end

function M.is_resource(v)
  return type(v) == "table" and getmetatable(v) == Resource
end

M.V2_TABLES = V2_TABLES
M.defs = defs

return M
