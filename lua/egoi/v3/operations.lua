-- egoi.v3.operations - the catalogue of API v3 operations the client names: operation id
-- (the vendor OpenAPI document's operationId) -> verb, path template, read-only flag.
-- client:call(<operationId>, { <path parameter> = ..., query = {...}, body = {...} }) sends
-- one; the resource tables (egoi.v3.resources) are built on it. Every other path of the API is
-- reachable through client:request(verb, path, { query =, body = }).
--
-- It is also the v3 client's method catalogue (the interface of egoi.methods the pipeline
-- uses: lookup, is_read_only, check_values, prepare, unknown), and it knows what each of the
-- 58 v2 methods became (V2), so a v2 name on a v3 client gets an answer naming the way.
local errors = require "egoi.errors"
local check = require "egoi.check"

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring

local M = {}

-- { operationId, verb, path }
local LIST = {
  { "ping", "POST", "/ping" },
  { "getMyAccount", "GET", "/my-account" },
  { "getAllUsers", "GET", "/users" },
  -- lists
  { "getAllLists", "GET", "/lists" },
  { "createList", "POST", "/lists" },
  { "getList", "GET", "/lists/{list_id}" },
  { "updateList", "PATCH", "/lists/{list_id}" },
  { "deleteList", "DELETE", "/lists/{list_id}" },
  -- fields
  { "getAllFields", "GET", "/lists/{list_id}/fields" },
  { "createExtraField", "POST", "/lists/{list_id}/fields/extra" },
  { "patchExtraField", "PATCH", "/lists/{list_id}/fields/extra/{field_id}" },
  { "deleteExtraField", "DELETE", "/lists/{list_id}/fields/extra/{field_id}" },
  { "patchBaseField", "PATCH", "/lists/{list_id}/fields/base/{field_id}" },
  -- contacts
  { "getAllContacts", "GET", "/lists/{list_id}/contacts" },
  { "createContact", "POST", "/lists/{list_id}/contacts" },
  { "getContact", "GET", "/lists/{list_id}/contacts/{contact_id}" },
  { "patchContact", "PATCH", "/lists/{list_id}/contacts/{contact_id}" },
  { "updateContactByField", "POST", "/lists/{list_id}/contacts/by-field" },
  { "getAllContactActivities", "GET", "/lists/{list_id}/contacts/{contact_id}/activities" },
  { "getAllContactsBySegment", "GET", "/lists/{list_id}/contacts/segment/{segment_id}" },
  { "actionImportBulk", "POST", "/lists/{list_id}/contacts/actions/import-bulk" },
  { "actionUnsubscribeContact", "POST", "/lists/{list_id}/contacts/actions/unsubscribe" },
  { "actionAttachTag", "POST", "/lists/{list_id}/contacts/actions/attach-tag" },
  { "actionDetachTag", "POST", "/lists/{list_id}/contacts/actions/detach-tag" },
  { "actionExportContacts", "POST", "/lists/{list_id}/contacts/actions/export" },
  { "actionActivateContacts", "POST", "/lists/{list_id}/contacts/actions/activate" },
  { "actionDeactivateContacts", "POST", "/lists/{list_id}/contacts/actions/deactivate" },
  { "actionForgetContacts", "POST", "/lists/{list_id}/contacts/actions/forget" },
  { "actionUpdateContacts", "POST", "/lists/{list_id}/contacts/actions/update" },
  { "actionStartAutomation", "POST", "/lists/{list_id}/contacts/actions/start-automation" },
  { "searchContacts", "GET", "/contacts/search" },
  -- tags
  { "getAllTags", "GET", "/tags" },
  { "createTag", "POST", "/tags" },
  { "updateTag", "PUT", "/tags/{tag_id}" },
  { "deleteTag", "DELETE", "/tags/{tag_id}" },
  -- senders
  { "getAllEmailSenders", "GET", "/senders/email" },
  { "createEmailSender", "POST", "/senders/email" },
  { "putEmailSender", "PUT", "/senders/email/{sender_id}" },
  { "deleteEmailSender", "DELETE", "/senders/email/{sender_id}" },
  { "getAllCellphoneSenders", "GET", "/senders/cellphone" },
  { "createCellphoneSender", "POST", "/senders/cellphone" },
  { "deleteCellphoneSender", "DELETE", "/senders/cellphone/{sender_id}" },
  { "getAllPhoneSenders", "GET", "/senders/phone" },
  { "createPhoneSender", "POST", "/senders/phone" },
  { "deletePhoneSender", "DELETE", "/senders/phone/{sender_id}" },
  -- segments
  { "getAllSegments", "GET", "/lists/{list_id}/segments" },
  { "deleteSegment", "DELETE", "/lists/{list_id}/segments/{segment_id}" },
  -- campaigns
  { "getAllCampaigns", "GET", "/campaigns" },
  { "deleteCampaigns", "DELETE", "/campaigns/{campaign_hash}" },
  { "createEmailCampaign", "POST", "/campaigns/email" },
  { "patchEmailCampaign", "PATCH", "/campaigns/email/{campaign_hash}" },
  { "actionSendEmail", "POST", "/campaigns/email/{campaign_hash}/actions/send" },
  { "createSmsCampaign", "POST", "/campaigns/sms" },
  { "patchSmsCampaign", "PATCH", "/campaigns/sms/{campaign_hash}" },
  { "actionSendSms", "POST", "/campaigns/sms/{campaign_hash}/actions/send" },
  { "getAllCampaignGroups", "GET", "/campaign-groups" },
  { "createCampaignGroup", "POST", "/campaign-groups" },
  { "updateCampaignGroup", "PUT", "/campaign-groups/{group_id}" },
  { "deleteCampaignGroup", "DELETE", "/campaign-groups/{group_id}" },
  -- reports
  { "getEmailReport", "GET", "/reports/email/{campaign_hash}" },
  { "getSMSReport", "GET", "/reports/sms/{campaign_hash}" },
  { "getAllAdvancedReports", "GET", "/reports/advanced" },
  -- POST /reports/advanced/{type}: one operation per type (generate<Type>Report), see below
  -- automations
  { "getAllAutomations", "GET", "/automations" },
  -- webhooks
  { "getAllWebhooks", "GET", "/webhooks" },
  { "createWebhook", "POST", "/webhooks" },
  { "deleteWebhook", "DELETE", "/webhooks/{webhook_id}" },
  -- operations
  { "getAllOperations", "GET", "/operations" },
  { "actionApproveOperation", "POST", "/operations/actions/approve" },
  { "actionCancelOperation", "POST", "/operations/actions/cancel" },
  { "actionPauseOperation", "POST", "/operations/actions/pause" },
  { "actionResumeOperation", "POST", "/operations/actions/resume" },
}

-- the advanced report types (POST /reports/advanced/<type>) and their operation ids
M.ADVANCED_REPORTS = {
  ["email-bounces"] = "generateEmailBouncesReport",
  ["email-clicks-by-contact"] = "generateEmailClicksByContactReport",
  ["email-clicks-by-url"] = "generateEmailClicksByUrlReport",
  ["email-events"] = "generateEmailEventsReport",
  ["email-unsubscriptions"] = "generateEmailUnsubscriptionsReport",
  ["form-answers"] = "generateFormAnswersReport",
  sends = "generateSendsReport",
  ["sms-bounces"] = "generateSmsBouncesReport",
  ["sms-events"] = "generateSmsEventsReport",
  subscriptions = "generateSubscriptionsReport",
  unsubscriptions = "generateUnsubscriptionsReport",
  ["contact-activity"] = "generateContactActivityReport",
  model = "generateByModelReport",
}
for rtype, id in pairs(M.ADVANCED_REPORTS) do
  LIST[#LIST + 1] = { id, "POST", "/reports/advanced/" .. rtype }
end

local by_id, names = {}, {}
for _, op in ipairs(LIST) do
  local params = {}
  for p in op[3]:gmatch("{([%w_]+)}") do params[#params + 1] = p end
  local entry = { name = op[1], verb = op[2], path = op[3], params = params, read_only = op[2] == "GET" }
  by_id[op[1]] = entry
  names[#names + 1] = op[1]
end
table.sort(names)
M.names = names

-- v2 method -> what to use over v3. The 8 with no v3 equivalent (egoi-v3-api.md 4.13,
-- category C) are marked none = true.
local V2 = {
  checklogin = "client.account:get() (GET /my-account)",
  getUserData = "client:request(\"GET\", \"/users\")",
  getClientData = "client.account:get() (GET /my-account)",
  getCredits = "client.account:get() (balance_info)",
  getLists = "client.lists:all{} / :each{} / :get(id)",
  createList = "client.lists:create{ internal_name = ... }",
  updateList = "client.lists:update(id, {...})",
  deleteList = "client.lists:delete(id)",
  getExtraFields = "client.fields:all(list_id)",
  addExtraField = "client.fields:create(list_id, { name =, format = })",
  editExtraField = "client.fields:update(list_id, field_id, {...})",
  deleteExtraField = "client.fields:delete(list_id, field_id)",
  addSubscriber = "client.contacts:create(list_id, { base = {...}, extra = {...} })",
  addSubscriberBulk = "client.contacts:import(list_id, rows, opts)",
  editSubscriber = "client.contacts:update(list_id, contact_id, {...})",
  removeSubscriber = "client.contacts:unsubscribe(list_id, ids, opts)",
  subscriberData = "client.contacts:get(list_id, contact_id) / :all / :each",
  getSubscriberActivity = "client.contacts:activities(list_id, contact_id)",
  getTags = "client.tags:all{}",
  addTag = "client.tags:create{ name = ... }",
  deleteTag = "client.tags:delete(id)",
  attachTag = "client.contacts:attach_tag(list_id, tag_id, ids)",
  detachTag = "client.contacts:detach_tag(list_id, tag_id, ids)",
  getSenders = "client.senders:all(channel)",
  addSender = "client.senders:create(channel, {...})",
  editSender = "client.senders:update(id, {...}) (e-mail senders only)",
  deleteSender = "client.senders:delete(channel, id)",
  addCname = "client:request(\"POST\", \"/cnames\", { body = { value = ... } })",
  getSegments = "client.segments:all(list_id)",
  deleteSegment = "client.segments:delete(list_id, segment_id)",
  getCampaigns = "client.campaigns:all{}",
  createCampaignEmail = "client.campaigns:create_email{...}",
  editCampaignEmail = "client.campaigns:update_email(hash, {...})",
  createCampaignSMS = "client.campaigns:create_sms{...}",
  editCampaignSMS = "client.campaigns:update_sms(hash, {...})",
  createCampaignVoice = "client:request(\"POST\", \"/campaigns/voice\", { body = ... })",
  deleteCampaign = "client.campaigns:delete(hash)",
  createCampaignGroup = "client:request(\"POST\", \"/campaign-groups\", { body = { name = ... } })",
  editCampaignGroup = "client:request(\"PUT\", \"/campaign-groups/<id>\", { body = { name = ... } })",
  sendEmail = "client.campaigns:send(hash, {...}) (or :schedule)",
  sendSMS = "client.campaigns:send_sms(hash, {...}) (an SMS campaign first: :create_sms)",
  sendCall = "client:request(\"POST\", \"/campaigns/voice/<hash>/actions/send\", { body = ... })",
  getReport = "client.reports:email(hash) / :sms(hash)",
  generateAdvancedReport = "client.reports:request(type, {...})",
  getAdvancedReport = "client.reports:advanced{} / :fetch(id)",
  getFormsSubmissions = "client.reports:request(\"form-answers\", {...}) (an asynchronous report file)",
  getAutobots = "client:request(\"GET\", \"/automations\")",
  startAutobot = "client:request(\"POST\", \"/lists/<id>/contacts/actions/start-automation\", ...)",
  editApiCallback = "client.webhooks:create{ list_id =, url =, actions = {...} }",
  getOperationsQueue = "client.operations:all{}",
  createSegment = { none = true, why = "API v3 cannot create segments (only list and delete them)" },
  createSegmentAdvanced = { none = true, why = "API v3 cannot create segments (only list and delete them)" },
  addSegment = { none = true, why = "API v3 cannot create segments (only list and delete them)" },
  createCampaignFAX = { none = true, why = "API v3 has no fax channel" },
  sendFAX = { none = true, why = "API v3 has no fax channel" },
  getHeaderFooterTemplates = { none = true,
    why = "API v3 has no header/footer listing (campaigns refer to one by header_footer.id)" },
  getTemplates = { none = true, why = "API v3 has no template listing (campaigns refer to one by template_id)" },
  getForms = { none = true,
    why = "API v3 publishes no forms operations (form answers: client.reports:request(\"form-answers\", ...))" },
}
M.V2 = V2

--- The usage error for a v2 method name on a v3 client (nil for other names).
function M.v2_error(name)
  local v = V2[name]
  if v == nil then return nil end
  if type(v) == "table" then
    return errors.usage(name, "NO_V3_EQUIVALENT", ("'%s' is a v2 method with no v3 equivalent: %s;"
      .. " use a v2 client (egoi.new{ api = \"v2\" }) for it"):format(name, v.why))
  end
  return errors.usage(name, "V2_METHOD", ("'%s' is a v2 method; over API v3 use %s"):format(name, v))
end

-- the catalogue interface the client pipeline uses (as egoi.methods) ----------------------

function M.lookup(name)
  return by_id[name]
end

function M.is_read_only(name)
  local e = by_id[name]
  return e ~= nil and e.read_only
end

-- options of client:call(<operationId>, options): path parameters by name, query, body
local ALLOWED = { query = true, body = true }
function M.check_values(entry, options)
  for k, v in pairs(options) do
    if not ALLOWED[k] then
      local is_param = false
      for _, p in ipairs(entry.params) do if p == k then is_param = true break end end
      if not is_param then
        local known = { "body", "query" }
        for _, p in ipairs(entry.params) do known[#known + 1] = p end
        return errors.usage(entry.name, "INVALID_ARGUMENT", entry.name .. ": "
          .. check.unknown_message("option", k, known))
      end
      if type(v) ~= "string" and type(v) ~= "number" then
        return errors.usage(entry.name, "INVALID_ARGUMENT",
          ("%s: argument '%s' must be a string or a number, got %s"):format(entry.name, k, type(v)))
      end
    elseif k == "query" and type(v) ~= "table" then
      return errors.usage(entry.name, "INVALID_ARGUMENT", entry.name .. ": argument 'query' must be a table")
    end
  end
  return nil
end

function M.prepare(entry, args)
  if args ~= nil and type(args) ~= "table" then
    return nil, errors.usage(entry.name, "INVALID_ARGUMENT", entry.name .. ": arguments must be a table")
  end
  args = args or {}
  local bad = M.check_values(entry, args)
  if bad then return nil, bad end
  return args
end

function M.unknown(name)
  return M.v2_error(name) or errors.usage(tostring(name), "INVALID_ARGUMENT",
    check.unknown_message("v3 operation", tostring(name), names)
      .. " (client:request(verb, path, ...) reaches any path)")
end

return M
