-- egoi.webhook - parse the JSON E-goi's API v3 POSTs to a webhook (and to the callback_url of
-- an import, export or advanced report).
--
--   local webhook = require "egoi.webhook"
--   local events, err = webhook.parse(body, content_type[, opts])
--
-- E-goi documents no webhook payload (egoi-v3-api.md §6.2): this parser accepts what the
-- sandbox sends (doc/SANDBOX.md "Webhooks") and stays lenient about members it does not know.
-- The body is a JSON object, or an array of objects (a batch), each one of
--   { "action": "subscription", "list_id": 3, "webhook_id": 1, "date": "...",
--     "contact": { "contact_id": "...", "email": "...", ... } }            kind "webhook"
--   { "imported": 10, "updated": 2, "ignored": 0, "invalid": 1, "file": "..." }   kind "import"
--   { "file": "https://..." }                       kind "file" (export, advanced report)
-- events is an array of
--   { kind =, action =, list_id =, webhook_id =, date =, contact = {...}, contact_id =,
--     email =, data = <the decoded object> }
-- (kind "import": imported/updated/ignored/invalid/file; kind "file": file). JSON null is
-- dropped from contact. On failure err is an egoi.Error of kind "protocol": TOO_LARGE,
-- MALFORMED_JSON, TOO_DEEP or CALLBACK_MALFORMED (wrong content type, not an object, an
-- action that is not a string, a contact that is not an object, an empty batch, ...).
-- opts.max_bytes caps the body (default 1 MiB), opts.max_events a batch (default 1000).
--
-- webhook.url(base, secret) -> the URL to register: base with ?secret=<secret> (or &secret=).
local core = require "egoi.core"
local errors = require "egoi.errors"

local type, tostring, pairs, ipairs, next, error, floor =
  type, tostring, pairs, ipairs, next, error, math.floor

local M = {}

M.DEFAULT_MAX_BYTES = 1024 * 1024
M.DEFAULT_MAX_EVENTS = 1000
M.SECRET_PARAM = "secret"

local NULL = core.json_decode("null") -- the decoder's null (a light userdata)

local function fail(code, message)
  return nil, errors.new{ kind = "protocol", code = code, message = message }
end

-- safe text for a message: printable ASCII only, short
local function shown(s)
  s = tostring(s):gsub("[^%w_%-%.%/;=+ ]", "?")
  if #s > 40 then s = s:sub(1, 40) .. "..." end
  return s
end

-- application/json, with or without parameters (charset), or any +json type
local function json_type_ok(ct)
  if type(ct) ~= "string" then return false end
  local base = ct:match("^%s*([^;%s]+)")
  if not base then return false end
  base = base:lower()
  return base == "application/json" or base == "text/json" or base:match("^application/[%w%.%-]+%+json$") ~= nil
end
M.json_type_ok = json_type_ok

local function is_null(v)
  return v == NULL
end

local function is_count(v)
  return type(v) == "number" and v >= 0 and v == floor(v)
end

local function one(obj, i)
  local where = i and ("item " .. i .. " of the batch") or "the delivery"
  if type(obj) ~= "table" or obj[1] ~= nil then
    return fail("CALLBACK_MALFORMED", where .. " is not a JSON object")
  end
  local ev = { data = obj }
  if obj.action ~= nil then
    if type(obj.action) ~= "string" or obj.action == "" then
      return fail("CALLBACK_MALFORMED", where .. ": 'action' must be a non-empty string")
    end
    local contact = obj.contact
    if contact ~= nil and not is_null(contact) and type(contact) ~= "table" then
      return fail("CALLBACK_MALFORMED", where .. ": 'contact' must be an object")
    end
    ev.kind, ev.action = "webhook", obj.action
    ev.list_id, ev.webhook_id, ev.date = obj.list_id, obj.webhook_id, obj.date
    ev.contact = {}
    if type(contact) == "table" then
      for k, v in pairs(contact) do
        if not is_null(v) then ev.contact[k] = v end
      end
    end
    ev.contact_id, ev.email = ev.contact.contact_id, ev.contact.email
    return ev
  end
  if is_count(obj.imported) or is_count(obj.updated) or is_count(obj.ignored) or is_count(obj.invalid) then
    ev.kind = "import"
    for _, k in ipairs{ "imported", "updated", "ignored", "invalid" } do
      if obj[k] ~= nil and not is_count(obj[k]) then
        return fail("CALLBACK_MALFORMED", where .. ": '" .. k .. "' must be a count")
      end
      ev[k] = obj[k] or 0
    end
    if type(obj.file) == "string" then ev.file = obj.file end
    return ev
  end
  if type(obj.file) == "string" and obj.file ~= "" then
    ev.kind, ev.file = "file", obj.file
    return ev
  end
  local names = {}
  for k in pairs(obj) do
    names[#names + 1] = shown(k)
    if #names == 5 then break end
  end
  table.sort(names)
  return fail("CALLBACK_MALFORMED", where .. " has no 'action' (nor import counts or a 'file'); members: "
    .. (#names > 0 and table.concat(names, ", ") or "none"))
end

function M.parse(body, content_type, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("webhook.parse: argument 'opts' must be a table or nil", 2)
  end
  if content_type ~= nil and type(content_type) ~= "string" then
    error("webhook.parse: argument 'content_type' must be a string or nil", 2)
  end
  local max_bytes = opts and opts.max_bytes or M.DEFAULT_MAX_BYTES
  if type(max_bytes) ~= "number" or max_bytes ~= max_bytes or max_bytes <= 0 then
    error("webhook.parse: option 'max_bytes' must be a positive number", 2)
  end
  local max_events = opts and opts.max_events or M.DEFAULT_MAX_EVENTS
  if type(max_events) ~= "number" or max_events ~= max_events or max_events < 1 then
    error("webhook.parse: option 'max_events' must be a positive number", 2)
  end
  if body ~= nil and type(body) ~= "string" then
    error("webhook.parse: argument 'body' must be a string or nil", 2)
  end
  if body == nil or body:match("^%s*$") then
    return fail("CALLBACK_MALFORMED", "the webhook request has no body")
  end
  if #body > max_bytes then
    return fail("TOO_LARGE", ("the webhook body (%d bytes) exceeds the limit of %d bytes"):format(#body, max_bytes))
  end
  if not json_type_ok(content_type) then
    return fail("CALLBACK_MALFORMED", "the webhook body must be application/json, got "
      .. (content_type and shown(content_type) or "no Content-Type"))
  end
  local doc, code, message = core.json_decode(body)
  if doc == nil then
    return fail(tostring(code or "MALFORMED_JSON"), "the webhook body: " .. tostring(message or code))
  end
  local events = {}
  if type(doc) == "table" and doc[1] ~= nil then
    if #doc > max_events then
      return fail("TOO_LARGE", ("the webhook batch holds %d events, more than %d"):format(#doc, max_events))
    end
    for i, obj in ipairs(doc) do
      local ev, err = one(obj, i)
      if not ev then return nil, err end
      events[i] = ev
    end
  elseif type(doc) == "table" and next(doc) == nil and body:match("^%s*%[") then
    return fail("CALLBACK_MALFORMED", "the webhook batch is empty")
  else
    local ev, err = one(doc)
    if not ev then return nil, err end
    events[1] = ev
  end
  return events
end

local function escape(s)
  return (tostring(s):gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- the URL to register for a handler that checks `secret`
function M.url(base, secret, param)
  if type(base) ~= "string" or not base:match("^https?://[^/?#]+") then
    error("webhook.url: argument 'base' must be an http(s) URL, got " .. shown(base), 2)
  end
  if type(secret) ~= "string" or secret == "" then
    error("webhook.url: argument 'secret' must be a non-empty string", 2)
  end
  param = param or M.SECRET_PARAM
  if base:find("#", 1, true) then
    error("webhook.url: argument 'base' must not hold a fragment", 2)
  end
  return base .. (base:find("?", 1, true) and "&" or "?") .. escape(param) .. "=" .. escape(secret)
end

return M
