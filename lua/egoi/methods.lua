-- egoi.methods: the catalogue of E-goi API v2 methods and argument preparation.
--
-- One entry per wire method (57 methods of the official Java/C# wrappers plus `addSegment`):
--   name        wire method name, exactly as sent (`checklogin`, `getExtraFields`, ...); also the
--               SOAP operation (the WSDL's spelling) unless `soap` names another
--   resource    resource table on the client (`client.lists`, ...)
--   names       Lua method names on that resource; names[1] is always the full snake_case name
--   required    required arguments, checked before a call. Each item is either
--                 { "listID", code = "LIST_MISSING" }            -- one wire argument
--                 { any = { "email", "cellphone" }, code = ... } -- at least one of them
--               A value counts as missing when it is nil, "" or an empty table (an empty table
--               is encoded as nothing on the wire). Only arguments the API notes mark required
--               with real evidence are listed; methods with unknown arguments require nothing.
--   aliases     readable name -> wire name (`list`/`list_id` -> `listID` wherever `listID` is
--               taken; createList's Portuguese names; a few snake_case spellings)
--   read_only   true when the call cannot change state or send anything
--   error_paths dot-separated paths of sub-objects where the method reports `ERROR` besides the
--               top level (e.g. subscriberData: "subscriber")
--   ok_scalars  set of scalar `response` values that mean success
--   args        argument name -> kind (egoi.check: "id", "count", "positive", "text", "flag",
--               "ids", "texts", "text_or_texts", "rows", "segment", "any", or { "range", lo, hi })
--               for the arguments the vendor documents; wrong values are refused before any I/O
--   patterns    Lua pattern -> kind for families of names (`extra_<id>`, `notif_api_<n>`)
--   open        true when the vendor's argument list is incomplete or unknown: names outside
--               `args` pass unchecked. Otherwise (a documented list) an unknown name is refused
--               with the closest known one as a hint. Every method also takes `plugin_key`, and
--               `listID` (a positive id) wherever the `list` alias is taken.
--   doc         one line for the README
--   shape       the result shape the resource methods give (egoi.resources.shapes.SHAPES);
--               nil: the result as sent. client:call always gives the wire shape.
--   empty_on    set of API error codes that mean "none" for the resource methods (they return
--               the empty shape instead of failing), e.g. getTags: NO_TAGS_FOUND
--   returns     the README text for the resource methods' result
--
-- Only the catalogue and local checks live here; calling is the client's job.

local errors = require("egoi.errors")
local check = require("egoi.check")

local methods = {}

local LIST = { list = "listID", list_id = "listID" }

local function aliases(...)
  local out = {}
  for i = 1, select("#", ...) do
    for k, v in pairs((select(i, ...))) do
      out[k] = v
    end
  end
  return out
end

local function req(name, code)
  return { name, code = code or "MISSING_ARGUMENT" }
end

local LIST_R = req("listID", "LIST_MISSING")
local SUBSCRIBER_R = req("subscriber", "SUBSCRIBER_MISSING")
local CAMPAIGN_R = req("campaign", "NO_CAMPAIGN")

local SENDER = { from_id = "fromID" }

-- argument kinds shared by several methods (see egoi.check)
local function merge(...)
  local out = {}
  for i = 1, select("#", ...) do
    for k, v in pairs((select(i, ...))) do out[k] = v end
  end
  return out
end

-- addSubscriber / editSubscriber fields (vendor notes 3.4)
local SUBSCRIBER_FIELDS = {
  listID = "id", email = "text", cellphone = "text", telephone = "text", fax = "text",
  first_name = "text", last_name = "text", birth_date = "text", lang = "text",
  tax_id = "text", address = "text", zip_code = "text", city = "text", district = "text",
  state = "text", country = "text", age = "text", gender = "text", id_card = "text",
  company = "text", status = { "range", 0, 4 }, formID = "id", tags = "ids",
  validate_email = { "range", 0, 2 }, validate_phone = "flag", from = "any", subscriber = "any",
}
local EXTRA = { ["^extra_%d+$"] = "any" }

-- createCampaignEmail / editCampaignEmail content and sender (vendor notes 3.8)
local CAMPAIGN_EMAIL = {
  listID = "id", subject = "text", url = "text", fromID = "text", from_name = "text",
  from_email = "text", reply_name = "text", reply_email = "text", internal_name = "text",
}
for _, l in ipairs { "referer", "view", "remove", "edit", "print", "social_networks" } do
  CAMPAIGN_EMAIL["link_" .. l .. "_top"] = "flag"
  CAMPAIGN_EMAIL["link_" .. l .. "_bottom"] = "flag"
end
local CAMPAIGN_SMS = { listID = "id", subject = "text", message = "text", fromID = "text",
  internal_name = "text" }
local TAG_TARGET = { listID = "id", tag = "id", target = "texts", type = "text" }

local list = {}
methods.list = list

local function def(resource, name, names, t)
  t.resource = resource
  t.name = name
  t.names = names
  t.required = t.required or {}
  t.aliases = aliases(t.aliases or {}) -- own copy per entry
  t.error_paths = t.error_paths or {}
  t.ok_scalars = t.ok_scalars or {}
  t.empty_on = t.empty_on or {}
  t.read_only = t.read_only == true
  t.open = t.args == nil or t.open == true
  t.args = merge(t.args or {}, { plugin_key = "text" })
  if t.aliases.list == "listID" and t.args.listID == nil then t.args.listID = "id" end
  t.patterns = t.patterns or {}
  -- the names an unknown one is compared with: wire names and aliases
  local known = {}
  for k in pairs(t.args) do known[#known + 1] = k end
  for k in pairs(t.aliases) do known[#known + 1] = k end
  table.sort(known)
  t.known = known
  list[#list + 1] = t
end

-- 3.1 Account / user
def("account", "checklogin", { "check_login" }, {
  read_only = true, open = true, args = { username = "text", password = "text" },
  doc = "Check credentials (username/password or API key)" })
def("account", "getUserData", { "get_user_data", "user_data" }, {
  read_only = true, args = {}, doc = "Data of the user owning the API key" })
def("account", "getClientData", { "get_client_data", "client_data" }, {
  read_only = true, args = {}, doc = "Account (client) data: company, plan, credits" })
def("account", "getCredits", { "get_credits", "credits" }, {
  read_only = true, doc = "Remaining credits" })

-- 3.2 Lists
def("lists", "getLists", { "get_lists", "all" }, {
  shape = "lists", returns = "array of list records (`listnum`, `title`, `subs_total`, ...) whose "
    .. "`extra_fields` is an array of fields (1); `{}` when none",
  read_only = true, args = { listID = "id", start = "count", limit = "positive" }, aliases = LIST,
  doc = "All mailing lists (or one, with listID)" })
def("lists", "createList", { "create_list", "create" }, {
  required = { req("nome", "NAME_MISSING"), req("idioma_lista") },
  args = { nome = "text", idioma_lista = "text", canal_email = "flag", canal_sms = "flag",
    canal_fax = "flag", canal_voz = "flag", canal_mms = "flag" },
  aliases = { name = "nome", language = "idioma_lista", email_channel = "canal_email",
    sms_channel = "canal_sms", fax_channel = "canal_fax", voice_channel = "canal_voz",
    mms_channel = "canal_mms" },
  doc = "Create a mailing list; returns LIST_ID" })
def("lists", "updateList", { "update_list", "update" }, {
  required = { LIST_R }, aliases = LIST,
  args = { listID = "id", name = "text", language = "text", title = "text" },
  doc = "Rename a list / change its language" })
def("lists", "deleteList", { "delete_list", "delete" }, {
  required = { LIST_R }, aliases = LIST, args = {}, doc = "Delete a mailing list" })

-- 3.3 Extra fields
def("fields", "getExtraFields", { "get_extra_fields", "all" }, {
  shape = "fields", returns = "array of fields (1), sorted by id; `{}` when none (the wire's `\"0\"`)",
  read_only = true, required = { LIST_R }, aliases = LIST, args = {}, doc = "Extra fields of a list" })
def("fields", "addExtraField", { "add_extra_field", "add" }, {
  required = { LIST_R, req("name", "FIELD_NAME_MISSING"), req("type", "INVALID_TYPE") },
  aliases = LIST, args = { name = "text", type = "text" }, doc = "Add an extra field to a list; returns NEW_ID" })
def("fields", "editExtraField", { "edit_extra_field", "edit" }, {
  aliases = LIST, doc = "Edit an extra field (arguments undocumented)" })
def("fields", "deleteExtraField", { "delete_extra_field", "delete" }, {
  aliases = LIST, doc = "Delete an extra field (arguments undocumented)" })

-- 3.4 Subscribers
def("subscribers", "addSubscriber", { "add_subscriber", "add" }, {
  shape = "subscriber", returns = "the subscriber record (2)",
  required = { LIST_R, { any = { "email", "cellphone" }, code = "EMAIL_REQUIRED" } },
  aliases = aliases(LIST, { form_id = "formID" }), args = SUBSCRIBER_FIELDS, patterns = EXTRA,
  doc = "Add a subscriber to a list; returns UID" })
def("subscribers", "addSubscriberBulk", { "add_subscriber_bulk", "add_bulk" }, {
  required = { LIST_R, req("subscribers", "NO_SUBSCRIBERS"), req("compareField", "NO_COMPARE_FIELD") },
  aliases = aliases(LIST, { compare_field = "compareField" }),
  args = { subscribers = "rows", compareField = "text", operation = "count", tags = "ids",
    status = { "range", 0, 4 }, autoresponder = "flag", notification = "flag" },
  doc = "Import many subscribers at once" })
def("subscribers", "editSubscriber", { "edit_subscriber", "edit" }, {
  required = { LIST_R, SUBSCRIBER_R }, aliases = LIST,
  args = merge(SUBSCRIBER_FIELDS, { subscriber = "text" }), patterns = EXTRA,
  doc = "Edit a subscriber (by UID or e-mail)" })
def("subscribers", "removeSubscriber", { "remove_subscriber", "remove" }, {
  required = { LIST_R, SUBSCRIBER_R },
  aliases = aliases(LIST, { remove_method = "removeMethod", remove_reason = "removeReason",
    remove_obs = "removeObs" }),
  args = { subscriber = "text", removeMethod = "text", removeReason = { "range", 1, 5 },
    removeObs = "text" },
  ok_scalars = { OK = true },
  doc = "Unsubscribe a subscriber" })
def("subscribers", "subscriberData", { "subscriber_data", "get" }, {
  shape = "subscriber_data", returns = "`{ subscriber = record (2) }`; for `all_subscribers` `{ subscriber = array of "
    .. "records (2) }`, `{}` when none",
  read_only = true, required = { LIST_R, SUBSCRIBER_R }, aliases = LIST,
  args = { subscriber = "text", segment = "segment", start = "count", limit = "positive" },
  error_paths = { "subscriber" },
  doc = "One subscriber, or a page of all (subscriber = \"all_subscribers\")" })
def("subscribers", "getSubscriberActivity", { "get_subscriber_activity", "activity" }, {
  read_only = true, aliases = LIST, doc = "Activity of a subscriber (arguments undocumented)" })

-- 3.5 Tags
def("tags", "getTags", { "get_tags", "all" }, {
  shape = "tags", empty_on = { NO_TAGS_FOUND = true },
  returns = "array of tags (`ID`, `NAME`, `COLOR`), unwrapped from `TAG_LIST`; `{}` when none "
    .. "(the wire's `NO_TAGS_FOUND`)",
  read_only = true, args = {}, doc = "All tags (TAG_LIST)" })
def("tags", "addTag", { "add_tag", "add" }, {
  required = { req("name", "NAME_MISSING") }, args = { name = "text", color = "text" },
  doc = "Create a tag; returns ID and NAME" })
def("tags", "deleteTag", { "delete_tag", "delete" }, {
  doc = "Delete a tag (argument name undocumented)" })
def("tags", "attachTag", { "attach_tag", "attach" }, {
  required = { LIST_R, req("tag", "NO_TAG_ID"), req("target", "NO_TARGET_ELEMENTS"),
    req("type", "INVALID_TYPE") },
  aliases = LIST, args = TAG_TARGET, doc = "Attach a tag to subscribers (target = UIDs, type = \"subscriber\")" })
def("tags", "detachTag", { "detach_tag", "detach" }, {
  aliases = LIST, open = true, args = TAG_TARGET, doc = "Detach a tag from subscribers (as attachTag)" })

-- 3.6 Senders / domains
def("senders", "getSenders", { "get_senders", "all" }, {
  shape = "records", returns = "array of senders (`FROMID`, `SENDER`, `CHANNEL`, ...); `{}` when none",
  read_only = true, args = { channel = "text" }, doc = "Senders (FROMID, SENDER, CHANNEL), optionally by channel" })
def("senders", "addSender", { "add_sender", "add" }, { doc = "Add a sender (arguments undocumented)" })
def("senders", "editSender", { "edit_sender", "edit" }, { doc = "Edit a sender (arguments undocumented)" })
def("senders", "deleteSender", { "delete_sender", "delete" }, {
  doc = "Delete a sender (arguments undocumented)" })
def("senders", "addCname", { "add_cname" }, { doc = "Add a CNAME domain (arguments undocumented)" })

-- 3.7 Segments
def("segments", "getSegments", { "get_segments", "all" }, {
  shape = "segments", empty_on = { NO_SEGMENTS_FOUND = true },
  returns = "array of segments (`ID`, `NAME`, ...), unwrapped from each entry's `segment`; "
    .. "`{}` when none (the wire's `NO_SEGMENTS_FOUND`)",
  read_only = true, required = { LIST_R }, aliases = LIST, args = {}, doc = "Segments of a list" })
def("segments", "createSegment", { "create_segment", "create" }, {
  aliases = LIST, doc = "Create a segment (arguments undocumented)" })
def("segments", "createSegmentAdvanced", { "create_segment_advanced", "create_advanced" }, {
  aliases = LIST, doc = "Create an advanced segment (arguments undocumented)" })
def("segments", "deleteSegment", { "delete_segment", "delete" }, {
  aliases = LIST, doc = "Delete a segment (arguments undocumented)" })
def("segments", "addSegment", { "add_segment", "add" }, {
  aliases = LIST, doc = "Add a segment (composer PHP wrapper only; arguments undocumented)" })

-- 3.8 Campaigns
def("campaigns", "getCampaigns", { "get_campaigns", "all" }, {
  shape = "records", returns = "array of campaigns (`HASH`, `REF`, `SUBJECT`, ...); `{}` when none",
  read_only = true, open = true, args = { start = "count", limit = "positive" },
  doc = "Campaigns (HASH, REF, SUBJECT, CHANNEL, STATUS, ...)" })
def("campaigns", "createCampaignEmail", { "create_campaign_email", "create_email" }, {
  required = { LIST_R, req("subject", "NO_SUBJECT") }, aliases = aliases(LIST, SENDER),
  open = true, args = CAMPAIGN_EMAIL,
  doc = "Create an e-mail campaign; returns ID (the campaign hash)" })
def("campaigns", "editCampaignEmail", { "edit_campaign_email", "edit_email" }, {
  required = { CAMPAIGN_R }, aliases = aliases(LIST, SENDER),
  open = true, args = merge(CAMPAIGN_EMAIL, { campaign = "text" }), doc = "Edit an e-mail campaign" })
def("campaigns", "createCampaignSMS", { "create_campaign_sms", "create_sms" }, {
  aliases = aliases(LIST, SENDER), open = true, args = CAMPAIGN_SMS,
  doc = "Create an SMS campaign; returns ID (hash)" })
def("campaigns", "editCampaignSMS", { "edit_campaign_sms", "edit_sms" }, {
  required = { CAMPAIGN_R }, aliases = aliases(LIST, SENDER),
  open = true, args = merge(CAMPAIGN_SMS, { campaign = "text" }), doc = "Edit an SMS campaign" })
def("campaigns", "createCampaignFAX", { "create_campaign_fax", "create_fax" }, {
  aliases = LIST, doc = "Create a fax campaign (arguments undocumented)" })
def("campaigns", "createCampaignVoice", { "create_campaign_voice", "create_voice" }, {
  aliases = LIST, doc = "Create a voice campaign (arguments undocumented)" })
def("campaigns", "deleteCampaign", { "delete_campaign", "delete" }, {
  required = { CAMPAIGN_R }, args = { campaign = "text" }, doc = "Delete a campaign" })
def("campaigns", "createCampaignGroup", { "create_campaign_group", "create_group" }, {
  doc = "Create a campaign group (arguments undocumented)" })
def("campaigns", "editCampaignGroup", { "edit_campaign_group", "edit_group" }, {
  doc = "Edit a campaign group (arguments undocumented)" })
def("campaigns", "getHeaderFooterTemplates", { "get_header_footer_templates", "header_footer_templates" }, {
  shape = "records", returns = "array of templates (`id`, `name`); `{}` when none",
  read_only = true, args = {}, doc = "Header/footer templates (id, name)" })
def("campaigns", "getTemplates", { "get_templates", "templates" }, {
  shape = "records", returns = "array of templates; `{}` when none",
  read_only = true, doc = "Templates (arguments undocumented)" })

-- 3.9 Sending
def("send", "sendEmail", { "send_email", "email" }, {
  required = { CAMPAIGN_R, LIST_R }, aliases = aliases(LIST, SENDER),
  args = { campaign = "text", segment = "segment", email = "text_or_texts", uid = "text",
    fromID = "text", subject = "text", header_footer_template = "text" },
  doc = "Send an e-mail campaign to a segment, addresses or a UID" })
def("send", "sendSMS", { "send_sms", "sms" }, {
  required = { LIST_R, req("fromID", "INVALID_FROM"), req("message", "NO_MESSAGE") },
  aliases = aliases(LIST, SENDER),
  args = { fromID = "text", message = "text", campaign = "text", segment = "segment",
    cellphone = "text_or_texts", subject = "text", internal_title = "text", auto = "flag" },
  doc = "Send an SMS (campaign or ad hoc)" })
def("send", "sendFAX", { "send_fax", "fax" }, {
  aliases = LIST, doc = "Send a fax campaign (arguments undocumented)" })
def("send", "sendCall", { "send_call", "call" }, {
  aliases = LIST, doc = "Send a voice call campaign (arguments undocumented)" })

-- 3.10 Reports
def("reports", "getReport", { "get_report", "get" }, {
  read_only = true, required = { CAMPAIGN_R }, args = { campaign = "text" },
  doc = "Report of a campaign (SENT, UNIQUE_VIEWS, ...)" })
def("reports", "generateAdvancedReport", { "generate_advanced_report", "generate_advanced" }, {
  doc = "Request an advanced report (arguments undocumented)" })
def("reports", "getAdvancedReport", { "get_advanced_report", "get_advanced" }, {
  read_only = true, doc = "Fetch an advanced report (arguments undocumented)" })

-- 3.11 Forms, automations, callbacks, queue
def("forms", "getForms", { "get_forms", "all" }, {
  shape = "records", empty_on = { FORMS_NOT_FOUND = true },
  returns = "array of forms (`id`, `name`, `url`, ...); `{}` when none (the wire's "
    .. "`FORMS_NOT_FOUND`)",
  read_only = true, required = { LIST_R }, aliases = LIST, args = {},
  doc = "Subscription forms of a list" })
def("forms", "getFormsSubmissions", { "get_forms_submissions", "submissions" }, {
  shape = "records", returns = "array of submissions; `{}` when none",
  read_only = true, aliases = LIST, doc = "Form submissions (arguments undocumented)" })
def("automations", "getAutobots", { "get_autobots", "all" }, {
  shape = "records", returns = "array of automations; `{}` when none",
  read_only = true, doc = "Automations (autobots) (arguments undocumented)" })
def("automations", "startAutobot", { "start_autobot", "start" }, {
  doc = "Start an automation (arguments undocumented)" })
def("callbacks", "editApiCallback", { "edit_api_callback", "edit" }, {
  required = { LIST_R, req("callback_url") }, aliases = LIST,
  args = { callback_url = "text" }, patterns = { ["^notif_api_[1-9]$"] = "flag", ["^notif_api_1[0-6]$"] = "flag" },
  doc = "Set a list's callback URL and notif_api_1..16 flags" })
def("queue", "getOperationsQueue", { "get_operations_queue", "get" }, {
  shape = "records", returns = "array of queued operations; `{}` when none",
  read_only = true, doc = "Queued operations (arguments undocumented)" })

-- Indexes -------------------------------------------------------------------------------------

local by_lower, by_name = {}, {}
for i = 1, #list do
  local e = list[i]
  local key = e.name:lower()
  assert(by_lower[key] == nil, "duplicate method " .. e.name)
  by_lower[key] = e
  by_name[e.name] = e
end

--- The entry for a wire method name (case-insensitive), or nil.
function methods.lookup(name)
  local e = by_name[name] -- the documented spelling: no lower-casing per call
  if e or type(name) ~= "string" then
    return e
  end
  return by_lower[name:lower()]
end

--- The read-only flag of a method; unknown names count as read-only only when they start
-- with `get` or `check` (case-insensitive).
function methods.is_read_only(name)
  local e = methods.lookup(name)
  if e then
    return e.read_only
  end
  if type(name) ~= "string" then
    return false
  end
  local lower = name:lower()
  return lower:sub(1, 3) == "get" or lower:sub(1, 5) == "check"
end

-- Argument preparation ------------------------------------------------------------------------

local function is_missing(v)
  return v == nil or v == "" or (type(v) == "table" and next(v) == nil)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- "'nome' (alias 'name')", "'listID' (alias 'list' or 'list_id')"
local function describe(entry, wire)
  local names = {}
  for _, alias in ipairs(sorted_keys(entry.aliases)) do
    if entry.aliases[alias] == wire then
      names[#names + 1] = "'" .. alias .. "'"
    end
  end
  local s = "'" .. wire .. "'"
  if #names > 0 then
    s = s .. " (alias " .. table.concat(names, " or ") .. ")"
  end
  return s
end

--- Translate and check the arguments of one call.
-- `entry` is a catalogue entry (or a wire name). Returns a NEW table of wire arguments, or
-- nil and a usage error. `args` itself is never modified (nested tables are shared, not copied).
function methods.prepare(entry, args)
  if type(entry) == "string" then
    local found = methods.lookup(entry)
    if not found then
      return nil, errors.usage(entry, "INVALID_ARGUMENT", "unknown method '" .. entry .. "'")
    end
    entry = found
  end
  if type(entry) ~= "table" or type(entry.name) ~= "string" then
    error("methods.prepare: argument 'entry' must be a method catalogue entry", 2)
  end
  local name = entry.name
  if args == nil then
    args = {}
  elseif type(args) ~= "table" then
    return nil, errors.usage(name, "INVALID_ARGUMENT",
      name .. ": argument 'args' must be a table or nil, got " .. type(args))
  end

  local out = {}
  for k, v in pairs(args) do
    if type(k) ~= "string" then
      return nil, errors.usage(name, "INVALID_ARGUMENT",
        name .. ": argument names must be strings, got " .. type(k) .. " key " .. tostring(k))
    end
    if k:lower() == "apikey" then
      return nil, errors.usage(name, "INVALID_ARGUMENT",
        name .. ": 'apikey' must not be passed in the arguments; the client adds it")
    end
    out[k] = v
  end

  -- aliases, in sorted order so that conflict messages are deterministic
  local from = {} -- wire name -> alias that supplied it
  for _, alias in ipairs(sorted_keys(entry.aliases)) do
    local value = out[alias]
    if value ~= nil then
      local wire = entry.aliases[alias]
      if from[wire] then
        return nil, errors.usage(name, "INVALID_ARGUMENT", name .. ": both '" .. from[wire] .. "' and '"
          .. alias .. "' given; they are the same argument '" .. wire .. "'")
      end
      if args[wire] ~= nil then
        return nil, errors.usage(name, "INVALID_ARGUMENT", name .. ": both '" .. alias .. "' and '"
          .. wire .. "' given; '" .. alias .. "' is an alias of '" .. wire .. "'")
      end
      out[alias] = nil
      out[wire] = value
      from[wire] = alias
    end
  end

  if not entry.open then
    local why = check.names(out, entry.known, "argument", nil, entry.patterns)
    if why then
      return nil, errors.usage(name, "INVALID_ARGUMENT", name .. ": " .. why)
    end
  end

  for _, r in ipairs(entry.required) do
    if r.any then
      local found = false
      for _, wire in ipairs(r.any) do
        if not is_missing(out[wire]) then
          found = true
          break
        end
      end
      if not found then
        local parts = {}
        for i, wire in ipairs(r.any) do
          parts[i] = describe(entry, wire)
        end
        return nil, errors.usage(name, r.code, name .. ": missing argument "
          .. table.concat(parts, " or "))
      end
    elseif is_missing(out[r[1]]) then
      return nil, errors.usage(name, r.code, name .. ": missing argument " .. describe(entry, r[1]))
    end
  end
  local bad = methods.check_values(entry, out)
  if bad then return nil, bad end
  return out
end

--- Check the values of the wire arguments `args` (a table) of a catalogue entry: nil, or a
-- usage error naming the argument and the method. Names the catalogue does not type pass.
function methods.check_values(entry, args)
  local why = check.values(args, entry.args, entry.patterns)
  if why then
    return errors.usage(entry.name, "INVALID_ARGUMENT", entry.name .. ": " .. why)
  end
  return nil
end

-- README table --------------------------------------------------------------------------------

local function required_text(entry)
  local parts = {}
  for _, r in ipairs(entry.required) do
    if r.any then
      local alts = {}
      for i, wire in ipairs(r.any) do
        alts[i] = "`" .. wire .. "`"
      end
      parts[#parts + 1] = table.concat(alts, " or ")
    else
      parts[#parts + 1] = "`" .. r[1] .. "`"
    end
  end
  return #parts > 0 and table.concat(parts, ", ") or "—"
end

--- A Markdown table of the catalogue for the README.
function methods.markdown_table()
  local lines = {
    "| resource | Lua method(s) | wire method (= SOAP operation) | required args | read-only | what it does "
      .. "| resource methods return |",
    "|---|---|---|---|---|---|---|",
  }
  for _, e in ipairs(list) do
    local names = {}
    for i, n in ipairs(e.names) do
      names[i] = "`" .. n .. "`"
    end
    lines[#lines + 1] = "| `" .. e.resource .. "` | " .. table.concat(names, ", ") .. " | `" .. e.name
      .. "` | " .. required_text(e) .. " | " .. (e.read_only and "yes" or "no") .. " | " .. e.doc .. " | "
      .. (e.returns or "as sent") .. " |"
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "What the resource methods return (`client:call` keeps the wire shape): \"as sent\" is the "
    .. "call's result (a map; a scalar answer as `{ response = … }`). (1) a field is `{ id = \"5\", name = "
    .. "\"city\", type = \"texto\", options = { … }, field = \"extra_5\" }` (`type` nil when the service "
    .. "does not say; `options` always an array; `field` is the argument name for add/edit subscriber) "
    .. "plus any other key the service sent, whether it came from `getExtraFields` (a `key_<id>` map of "
    .. "`ID`/`NAME`/`TYPE`/`OPTIONS`, or `\"0\"`) or from `getLists` (an array of "
    .. "`id`/`ref`/`tipo`/`opcoes`, or `\"\"`). (2) a subscriber record has the wire keys (`UID`, `EMAIL`, "
    .. "`STATUS`, `EXTRA_FIELD_<id>` = the value of field `<id>`, …), with `TAGS` always an array. "
    .. "Collections are always arrays (a lone record is a list of one), `{}` when empty, over REST and "
    .. "XML-RPC alike."
  -- aliases: the list ones once, the others per method
  local other = {}
  for _, e in ipairs(list) do
    local parts = {}
    for _, alias in ipairs(sorted_keys(e.aliases)) do
      if LIST[alias] == nil then
        parts[#parts + 1] = "`" .. alias .. "` → `" .. e.aliases[alias] .. "`"
      end
    end
    if #parts > 0 then
      other[#other + 1] = "`" .. e.name .. "`: " .. table.concat(parts, ", ")
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Argument aliases: `list` and `list_id` → `listID` wherever `listID` is taken; "
    .. table.concat(other, "; ") .. "."
  local open = {}
  for _, e in ipairs(list) do
    if e.open then open[#open + 1] = "`" .. e.name .. "`" end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Open argument lists (the vendor documents them partly or not at all, so any other name "
    .. "passes): " .. table.concat(open, ", ") .. ". Every other method refuses a name outside its "
    .. "documented arguments."
  return table.concat(lines, "\n") .. "\n"
end

return methods
