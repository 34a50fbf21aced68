-- egoi.sandbox.v3.r_misc - /tags, /senders/{email,cellphone}, /lists/{id}/segments,
-- /webhooks and /operations.
local json = require "egoi.sandbox.v3.json"
local errors = require "egoi.sandbox.v3.errors"
local u = require "egoi.sandbox.v3.util"
local store = require "egoi.sandbox.store"

local problem, invalid = errors.problem, errors.invalid

-- tags ------------------------------------------------------------------------

local function tag_view(t) return { tag_id = tonumber(t.ID), name = t.NAME, color = t.COLOR } end

local function all_tags(x)
  local out = {}
  for _, id in ipairs(u.ordered(x.acc.tag_order, x.query)) do out[#out + 1] = x.acc.tags[id] end
  local page, s, b = u.page(x, out, 10, tag_view)
  if not page then return s, b end
  return 200, page
end

local function tag_body(x, required)
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  if (required or b.name ~= nil) and (type(b.name) ~= "string" or b.name:match("^%s*$")) then
    return invalid("name", "isEmpty", "name must be a non-empty string")
  end
  if b.color ~= nil and (type(b.color) ~= "string" or not b.color:match("^#%x%x%x%x%x%x$")) then
    return invalid("color", "regexNotMatch", "color must be #RRGGBB")
  end
end

local function create_tag(x)
  local s, e = tag_body(x, true)
  if s then return s, e end
  local v, code = u.v2(x, "m_account", "addTag", { name = x.body.name, color = x.body.color or "#00AEDA" })
  if code == "TAG_ALREADY_EXISTS" then return problem(409, "A tag with this name exists", { name = "exists" }) end
  return 201, tag_view(x.acc.tags[v.ID])
end

local function put_tag(x, id)
  local t = x.acc.tags[id]
  if not t then return errors.not_found("Tag") end
  local s, e = tag_body(x, false)
  if s then return s, e end
  if x.body.name then
    for _, o in pairs(x.acc.tags) do
      if o ~= t and o.NAME:lower() == x.body.name:lower() then
        return problem(409, "A tag with this name exists", { name = "exists" })
      end
    end
    t.NAME = x.body.name
  end
  t.COLOR = x.body.color or t.COLOR
  return 200, tag_view(t)
end

local function delete_tag(x, id)
  local _, code = u.v2(x, "m_account", "deleteTag", { tag = id })
  if code then return errors.not_found("Tag") end
  return 204
end

-- senders (v2 senders with CHANNEL email / telemovel) -------------------------

local CHANNEL = { email = "email", cellphone = "telemovel" }

local function sender_view(s)
  if s.CHANNEL == "email" then
    return { sender_id = tonumber(s.FROMID), name = s.NAME or s.SENDER:match("^[^@]*"), email = s.SENDER,
             status = s.STATUS == "active" and "active" or "moderation" }
  end
  local numeric = s.SENDER:match("^%d%d?%d?%-%d%d%d%d+$") ~= nil
  return { sender_id = tonumber(s.FROMID), type = numeric and "numeric" or "alpha_numeric", cellphone = s.SENDER,
           file = not numeric and "" or nil, status = s.STATUS == "active" and "active" or "moderation" }
end

local function all_senders(channel)
  return function(x)
    local out = {}
    local want = x.query.status
    for _, id in ipairs(x.acc.sender_order) do
      local s = x.acc.senders[id]
      if s.CHANNEL == CHANNEL[channel] and (not want or sender_view(s).status == want) then out[#out + 1] = s end
    end
    local page, st, b = u.page(x, out, 10, sender_view)
    if not page then return st, b end
    return 200, { items = page.items } -- senders answer {items} only
  end
end

local function create_sender(channel)
  return function(x)
    local b = x.body
    if not u.object(b) then return problem(400, "The body must be a JSON object") end
    local value
    if channel == "email" then
      if type(b.name) ~= "string" or b.name == "" then return invalid("name", "isEmpty", "name is required") end
      if type(b.email) ~= "string" or not require("egoi.sandbox.util").valid_email(b.email) then
        return invalid("email", "emailAddressInvalid", "email must be an e-mail address")
      end
      value = b.email
    else
      if b.type ~= "numeric" then return invalid("type", "notInArray", "the sandbox has numeric senders only") end
      if type(b.cellphone) ~= "string" or not b.cellphone:match("^%d%d?%d?%-%d%d%d%d+$") then
        return invalid("cellphone", "regexNotMatch", "cellphone must be <cc>-<number>")
      end
      value = b.cellphone
    end
    local v, code = u.v2(x, "m_account", "addSender", { channel = CHANNEL[channel], sender = value })
    if code == "SENDER_EXISTS" then return problem(409, "The sender exists", { sender = "exists" }) end
    local s = x.acc.senders[v.FROMID]
    if channel == "email" then s.NAME = b.name end
    return 201, sender_view(s)
  end
end

local function sender_of(x, channel, id)
  local s = x.acc.senders[id]
  if not s or s.CHANNEL ~= CHANNEL[channel] then return nil end
  return s
end

local function put_email_sender(x, id)
  local s = sender_of(x, "email", id)
  if not s then return errors.not_found("Sender") end
  local b = x.body
  if not u.object(b) or type(b.name) ~= "string" or b.name == "" then
    return invalid("name", "isEmpty", "name is required")
  end
  s.NAME = b.name
  return 200, sender_view(s)
end

local function delete_sender(channel)
  return function(x, id)
    if not sender_of(x, channel, id) then return errors.not_found("Sender") end
    for _, c in pairs(x.acc.campaigns) do
      if c.FROMID == id and c.STATUS ~= "deleted" then
        return problem(409, "The sender is used by a campaign", { sender_in_use = "used by campaign " .. c.HASH })
      end
    end
    u.v2(x, "m_account", "deleteSender", { fromid = id })
    return 204
  end
end

-- segments (created over v2; v3 has no create) --------------------------------

local function segment_view(s)
  local arr = json.array()
  local ks = {}
  for k in pairs(s.fields or {}) do ks[#ks + 1] = k end
  table.sort(ks)
  for _, k in ipairs(ks) do
    arr[#arr + 1] = { segment_field = k, segment_operator = "contains", segment_value = s.fields[k] }
  end
  return { segment_id = s.ID, name = s.NAME, type = "saved", created = s.CREATED, updated = s.CREATED,
           segment_filter = { segment_filter_array = arr, boolean_operator = "and", invert = false } }
end

local function all_segments(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local out = {}
  for _, sid in ipairs(l.segment_order) do
    local seg = l.segments[sid]
    if (not x.query.type or x.query.type == "saved") and (not x.query.name or seg.NAME:find(x.query.name, 1, true)) then
      out[#out + 1] = seg
    end
  end
  local page, ps, pb = u.page(x, out, 10, segment_view)
  if not page then return ps, pb end
  return 200, page
end

local function delete_segment(x, id, sid)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  if not l.segments[sid] then return errors.not_found("Segment") end
  u.v2(x, "m_account", "deleteSegment", { listid = l.listnum, segment = sid })
  return 204
end

-- webhooks --------------------------------------------------------------------

local ACTIONS = {}
for a in ([[forget_subscription change_consent web_push_bounce web_push_click web_push_delivered web_push_open
  web_push_send web_push_subscription web_push_unsubscription email_send email_open email_click email_soft_bounce
  email_hard_bounce sms_send sms_delivered voice_send unsubscribe subscription edit_subscription resubscription
  facebook_like social_share double_optin email_spam_complaint email_field_disable cellphone_field_disable
  phone_field_disable push_send push_open push_click push_received push_error push_canceled new_order cart_update
  goal_conversion product_view]]):gmatch("%S+") do ACTIONS[a] = true end

local function webhook_view(w)
  return { webhook_id = w.webhook_id, list_id = w.list_id, url = w.url, actions = json.array(w.actions),
           fields = json.array(w.fields) }
end

local function all_webhooks(x)
  local v3 = u.v3state(x.acc)
  local out = {}
  for _, id in ipairs(v3.webhook_order) do out[#out + 1] = v3.webhooks[u.key(id)] end
  local page, s, b = u.page(x, out, 10, webhook_view)
  if not page then return s, b end
  return 200, page
end

local function create_webhook(x)
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  local lid = u.int(b.list_id)
  if not lid then return invalid("list_id", "isEmpty", "list_id is required") end
  if not x.acc.lists[tostring(lid)] then return invalid("list_id", "noRecordFound", "no such list") end
  if type(b.url) ~= "string" or not b.url:match("^https?://[%w%.%-]+") then
    return invalid("url", "invalidUrl", "url must be an http or https URL")
  end
  if not json.is_array(b.actions) or #b.actions == 0 then
    return invalid("actions", "isEmpty", "actions must be a non-empty array")
  end
  local actions, fields = {}, {}
  for _, a in ipairs(b.actions) do
    if not ACTIONS[a] then return invalid("actions", "notInArray", "unknown action " .. tostring(a)) end
    actions[#actions + 1] = a
  end
  if b.fields ~= nil then
    if type(b.fields) ~= "table" then return invalid("fields", "notArray", "fields must be an array") end
    for _, f in ipairs(b.fields) do
      if type(f) ~= "string" then return invalid("fields", "notString", "fields must be strings") end
      fields[#fields + 1] = f
    end
  end
  local v3 = u.v3state(x.acc)
  local id = u.next_id(x.acc, "webhook")
  local w = { webhook_id = id, list_id = lid, url = b.url, actions = actions, fields = fields }
  v3.webhooks[u.key(id)] = w
  v3.webhook_order[#v3.webhook_order + 1] = id
  return 200, webhook_view(w)
end

local function delete_webhook(x, id)
  local v3 = u.v3state(x.acc)
  if not v3.webhooks[id] then return errors.not_found("Webhook") end
  v3.webhooks[id] = nil
  for i, w in ipairs(v3.webhook_order) do if u.key(w) == id then table.remove(v3.webhook_order, i) break end end
  return 204
end

-- operations (scheduled sends and their queue) ----------------------------------

local campaigns = require "egoi.sandbox.v3.r_campaigns"

local function op_view(op)
  return { operation_id = op.operation_id, type = op.type, status = op.status, created_by = 1,
           created = op.created, start_date = op.start_date,
           operation_data = { internal_name = op.internal_name or "", campaign_hash = op.campaign_hash or "" } }
end

local function all_operations(x)
  campaigns.run_due(x)
  local v3 = u.v3state(x.acc)
  local out = {}
  for _, id in ipairs(v3.op_order) do
    local op = v3.operations[u.key(id)]
    if (not x.query.type or x.query.type == op.type) and (not x.query.status or x.query.status == op.status) then
      out[#out + 1] = op
    end
  end
  local page, s, b = u.page(x, out, 10, op_view)
  if not page then return s, b end
  return 200, page
end

-- action -> { [status it applies to] = new status | "cancel" }
local OP_ACTIONS = { approve = { queued = "processing" }, pause = { queued = "paused", processing = "paused" },
  resume = { paused = "queued" }, cancel = { queued = "cancel", paused = "cancel", processing = "cancel" } }

local function op_action(name)
  return function(x)
    local b = x.body
    if not u.object(b) or not json.is_array(b.operations) or #b.operations == 0 then
      return invalid("operations", "isEmpty", "operations must be a non-empty array of ids")
    end
    campaigns.run_due(x)
    local v3 = u.v3state(x.acc)
    local res = { success = json.array(), error = { invalid_operation_action = json.array(),
                                                     operation_not_found = json.array() } }
    for _, id in ipairs(b.operations) do
      local op = u.int(id) and v3.operations[u.key(u.int(id))]
      if not op then res.error.operation_not_found[#res.error.operation_not_found + 1] = u.int(id) or 0
      else
        local to = OP_ACTIONS[name][op.status]
        if not to then res.error.invalid_operation_action[#res.error.invalid_operation_action + 1] = op.operation_id
        else
          if to == "cancel" then campaigns.cancel(x, op) else op.status = to end
          res.success[#res.success + 1] = op.operation_id
        end
      end
    end
    return 200, res
  end
end

return {
  { "GET", "^/tags$", all_tags },
  { "POST", "^/tags$", create_tag },
  { "PUT", "^/tags/(%d+)$", put_tag },
  { "DELETE", "^/tags/(%d+)$", delete_tag },
  { "GET", "^/senders/email$", all_senders("email") },
  { "POST", "^/senders/email$", create_sender("email") },
  { "PUT", "^/senders/email/(%d+)$", put_email_sender },
  { "DELETE", "^/senders/email/(%d+)$", delete_sender("email") },
  { "GET", "^/senders/cellphone$", all_senders("cellphone") },
  { "POST", "^/senders/cellphone$", create_sender("cellphone") },
  { "DELETE", "^/senders/cellphone/(%d+)$", delete_sender("cellphone") },
  { "GET", "^/lists/(%d+)/segments$", all_segments },
  { "DELETE", "^/lists/(%d+)/segments/([%w_%-]+)$", delete_segment },
  { "GET", "^/webhooks$", all_webhooks },
  { "POST", "^/webhooks$", create_webhook },
  { "DELETE", "^/webhooks/(%d+)$", delete_webhook },
  { "GET", "^/operations$", all_operations },
  { "POST", "^/operations/actions/approve$", op_action("approve") },
  { "POST", "^/operations/actions/cancel$", op_action("cancel") },
  { "POST", "^/operations/actions/pause$", op_action("pause") },
  { "POST", "^/operations/actions/resume$", op_action("resume") },
  date = store.date,
}
