-- egoi.errors: the egoi.Error type and the catalogue of error codes.
--
-- Every failure the library reports is a table with metatable `errors.Error`:
--   kind         "api" | "transport" | "http" | "protocol" | "usage" | "rate_limit"
--   code         symbolic code, e.g. "LIST_NOT_FOUND" (vendor codes are kept exactly as sent)
--   message      English text (defaults to the catalogue message, else the code)
--   method       wire method name, when the error belongs to a call
--   http_status  HTTP status, when one was received
--   retryable    true when repeating the same call may succeed
--   retry_after  seconds to wait before retrying, when known
--   reason       free text, e.g. why a write was not retried
--   detail       table with extra data, e.g. an XML-RPC fault
--
-- The catalogue maps each known code to { code =, message =, kind = }. Vendor (API) codes
-- come from the E-goi v2 error table (English descriptions); the rest are codes produced
-- by this library (C core transport codes, protocol, HTTP, rate-limit and usage codes).

local errors = {}

local KINDS = {
  api = true, transport = true, http = true, protocol = true, usage = true, rate_limit = true,
}
errors.KINDS = KINDS

-- { code, message } per kind, in a stable order.
local API_CODES = {
  -- credentials and access
  { "NO_USERNAME_AND_PASSWORD_AND_APIKEY", "Missing username, password and API key" },
  { "NO_APIKEY", "Missing API key" },
  { "NO_ACCESS", "Missing API key or no permission to perform this action" },
  { "INVALID", "The API key or username is not valid" },
  { "NO_USERNAME", "Missing username" },
  { "NO_PASSWORD", "Missing password" },
  { "NO_USERNAME_AND_PASSWORD", "Missing username and password" },
  { "INTERNAL_ERROR", "An internal server problem occurred" },
  -- lists
  { "LIST_MISSING", "Missing mailing list" },
  { "LISTID_MISSING", "Missing mailing list ID" },
  { "INVALID_LIST", "Missing or invalid mailing list" },
  { "LIST_NOT_FOUND", "The mailing list was not found" },
  { "LIST_NOT_EXISTS", "The mailing list does not exist" },
  { "IN_USE", "The mailing list is in use" },
  { "NAME_MISSING", "Missing name" },
  { "NO_MORE_LISTS_ALLOWED", "The maximum number of mailing lists in your account has been reached" },
  -- extra fields
  { "FIELD_NAME_MISSING", "Missing extra field name" },
  { "INVALID_TYPE", "The extra field type is not valid" },
  { "FIELD_NOT_FOUND", "The extra field was not found" },
  { "EXTRA_FIELD_XX_ALREADY_EXISTS", "The extra field XX already exists in the mailing list" },
  { "INVALID_EXTRA_FIELD", "An extra field has an invalid name or contains invalid data" },
  -- subscribers
  { "SUBSCRIBER_MISSING", "Missing subscriber e-mail or reference number" },
  { "SUBSCRIBER_NOT_FOUND", "Subscriber not found" },
  { "SUBSCRIBER_ALREADY_REMOVED", "The subscriber has already been removed" },
  { "SUBSCRIBER_DATA_CANNOT_BE_EDITED",
    "The subscription information could not be edited because the subscriber has been removed" },
  { "SUBSCRIBER_FORMAT_ERROR", "The format of the mobile, telephone or fax number is not valid" },
  { "EMAIL_ALREADY_EXISTS", "The e-mail already exists in the mailing list" },
  { "TELEPHONE_ALREADY_EXISTS", "The phone number already exists in the mailing list" },
  { "FAX_ALREADY_EXISTS", "The fax number already exists in the mailing list" },
  { "BIRTH_DATE_ALREADY_EXISTS", "The birth date already exists in the mailing list" },
  { "FIST_NAME_ALREADY_EXISTS", "The first name already exists in the mailing list" },
  { "LAST_NAME_ALREADY_EXISTS", "The last name already exists in the mailing list" },
  { "EMAIL_REQUIRED", "Missing e-mail address" },
  { "FIRST_NAME_REQUIRED", "Missing first name" },
  { "LAST_NAME_REQUIRED", "Missing last name" },
  { "TELEPHONE_REQUIRED", "Missing phone number" },
  { "FAX_REQUIRED", "Missing fax number" },
  { "BIRTH_DATE_REQUIRED", "Missing birth date" },
  { "NO_CELLPHONE_OR_TELEPHONE", "Missing mobile or phone number" },
  { "EMAIL_ADDRESS_INVALID", "The e-mail address is invalid (syntax error)" },
  { "EMAIL_ADDRESS_INVALID_MX_ERROR", "The e-mail address is invalid (MX record error)" },
  { "EMAIL_ADDRESS_INVALID_DOESNT_EXIST", "The e-mail address does not exist" },
  { "NO_DATA_TO_INSERT", "No new data has been entered for this subscriber" },
  { "CANNOT_ADD_MORE_SUBSCRIBERS",
    "No more subscribers can be added (your account's subscriber limit has been exceeded)" },
  { "NO_SUBSCRIBERS", "Missing contacts to import" },
  { "NO_COMPARE_FIELD", "Missing fields to compare by" },
  { "MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED", "The amount of subscribers you're adding exceeds 50 MB in size" },
  -- segments
  { "NO_SEARCH_FIELDS", "Missing fields to run the search on" },
  { "SEGMENT_NAME_MISSING", "Missing segment name" },
  { "SEGMENT_NOT_FOUND", "The segment has not been found in the mailing list" },
  { "NO_SEGMENTS_FOUND", "No segment found" },
  -- tags
  { "NO_TAGS_FOUND", "No tags found" },
  { "TAG_ALREADY_EXISTS", "The tag already exists" },
  { "TAG_NOT_FOUND", "The tag was not found" },
  { "NO_TAG_ID", "Missing tag ID" },
  { "NO_TARGET_ELEMENTS", "Missing target elements (subscribers) for the tag" },
  -- senders
  { "CHANNEL_MISSING", "Missing channel" },
  { "SENDER_EXISTS", "The sender already exists" },
  { "SENDER_MISSING", "Missing sender" },
  -- forms
  { "FORMS_NOT_FOUND", "No forms found" },
  { "FORM_MISSING", "Missing form" },
  -- campaigns and sending
  { "NO_CAMPAIGN", "Missing campaign hash" },
  { "CAMPAIGN_NOT_FOUND", "The campaign was not found" },
  { "CAMPAIGN_NOT_VALID", "The campaign or campaign template is not valid" },
  { "CANNOT_EDIT_CAMPAIGN",
    "The campaign is being sent out (or is in a non-editable status) and cannot be currently edited" },
  { "CANNOT_BE_DELETED", "The campaign is periodic or event-triggered and cannot be deleted using the API" },
  { "ALREADY_DELETED", "The campaign has already been deleted" },
  { "CANNOT_SEND_CAMPAIGN", "The campaign cannot be sent out because either the subscriber status is "
    .. "\"removed\" or that subscriber has an invalid field" },
  { "NO_SUBJECT", "Missing e-mail subject (campaign title)" },
  { "INVALID_FROM", "Missing/incorrect sender code or the sender hasn't been validated yet in E-goi" },
  { "NO_MESSAGE", "Missing campaign message contents" },
  { "MESSAGE_TOO_LONG", "The message exceeds 160 characters in length" },
  { "MESSAGE_TO_LONG", "The message exceeds 160 characters in length" }, -- vendor spelling alias
  { "NO_ZIP_FILE", "Missing ZIP file" },
  { "INVALID_FILE", "The imported file is not valid or is not in the correct file format" },
  { "FILE_TOO_LARGE", "The imported file is larger than 8 MB in size" },
  { "INVALID_URL", "Could not load the contents of the external webpage URL" },
  { "NO_FAX_FILE", "Missing fax file" },
  { "NO_AUDIO_FILE", "Missing audio file" },
  -- advanced reports
  { "NO_TEMPLATE_PROVIDED", "No report template was provided" },
  { "TEMPLATE_NOT_FOUND", "The template was not found" },
  { "NO_LISTS_OR_CAMPAIGNS_PROVIDED", "No mailing lists or campaigns were provided" },
  { "NO_LISTS_PROVIDED", "No mailing lists were provided" },
  { "NO_LISTS_PROVIDED_AS_ARRAY", "The mailing lists were not provided as an array" },
  { "NO_CAMPAIGNS_PROVIDED", "No campaigns were provided" },
  { "NO_CAMPAIGNS_PROVIDED_AS_ARRAY", "The campaigns were not provided as an array" },
  { "INVALID_CAMPAIGN_ID_PROVIDED_IN_ARRAY", "An invalid campaign ID was provided in the array" },
  { "CANT_GENERATE_ADVANCED_REPORT", "The advanced report could not be generated" },
  { "NO_DATA", "No data available" },
}

local LOCAL_CODES = {
  transport = {
    { "COULDNT_RESOLVE_HOST", "Could not resolve the host name" },
    { "COULDNT_RESOLVE_PROXY", "Could not resolve the proxy name" },
    { "COULDNT_CONNECT", "Could not connect to the server" },
    { "TIMEOUT", "The request timed out" },
    { "SSL_CONNECT_ERROR", "The TLS handshake failed" },
    { "PEER_FAILED_VERIFICATION", "The server's TLS certificate could not be verified" },
    { "SSL_CACERT_BADFILE", "The CA certificate file could not be read" },
    { "SEND_ERROR", "Failed sending the request" },
    { "RECV_ERROR", "Failed receiving the response" },
    { "GOT_NOTHING", "The server closed the connection without a response" },
    { "PARTIAL_FILE", "The response was cut short" },
    { "RESPONSE_TOO_LARGE", "The response exceeds the configured size limit" },
    { "URL_MALFORMAT", "The URL is malformed" },
    { "UNSUPPORTED_PROTOCOL", "The URL scheme is not supported" },
    { "CLOSED", "The HTTP client has been closed" },
    { "UNKNOWN", "An unknown transport error occurred" },
    { "TRANSPORT_ERROR", "The HTTP request failed" },
  },
  protocol = {
    { "MALFORMED_JSON", "The response is not valid JSON" },
    { "MALFORMED_XML", "The response is not valid XML" },
    { "UNEXPECTED_RESPONSE", "The response does not have the expected shape" },
    { "EXCHANGE_FAILED", "The exchange failed inside the client (a transport or parser raised)" },
    { "TOO_LARGE", "The document exceeds the size limit" },
    { "TOO_DEEP", "The document is nested too deeply" },
    { "DOCTYPE_FORBIDDEN", "The document contains a DOCTYPE, which is not allowed" },
    { "XMLRPC_FAULT", "The server answered with an XML-RPC fault" },
    { "SOAP_FAULT", "The server answered with a SOAP fault" },
    { "SERVER_FAULT", "The server reported a failure (status: failed)" },
    { "CALLBACK_MALFORMED", "The callback request is not a valid E-goi callback" },
    { "CALLBACK_UNKNOWN_ACTION",
      "The callback names an action other than addSubscriber, editSubscriber or removeSubscriber" },
    { "WEIRD_SERVER_REPLY", "The server's answer is not valid HTTP" },
    { "PAGING_STALLED", "A page repeated the previous one (the server ignores offset); paging stopped" },
  },
  http = {
    { "HTTP_ERROR", "The server answered with an HTTP error status" },
  },
  rate_limit = {
    { "RATE_LIMITED", "The API call limit (150 calls per hour) has been reached" },
    { "RATE_LIMIT_WAIT_EXCEEDED", "Waiting for the API call limit would exceed the allowed wait" },
    { "STATE_FILE_ERROR", "The shared rate-limit state file could not be used" },
    { "SHDICT_ERROR", "The nginx shared dictionary of the rate limiter could not be used" },
    { "LIMITER_UNAVAILABLE", "The shared rate limiter (Redis) could not be reached; no call was sent" },
    { "LIMITER_AUTH_FAILED", "The shared rate limiter (Redis) refused the credentials; no call was sent" },
    { "LIMITER_WRONG_TYPE", "A key of the shared rate limiter (Redis) holds another type of value; no call was sent" },
  },
  usage = {
    { "INVALID_ARGUMENT", "Invalid argument" },
    { "MISSING_ARGUMENT", "Missing required argument" },
    { "UNSUPPORTED_PHASE", "HTTP calls are not possible in this nginx phase (no cosockets)" },
  },
}
local LOCAL_ORDER = { "transport", "protocol", "http", "rate_limit", "usage" }

local catalogue = {}
errors.catalogue = catalogue

local function add(kind, list)
  for i = 1, #list do
    local code, message = list[i][1], list[i][2]
    assert(catalogue[code] == nil, "duplicate error code " .. code)
    local entry = { code = code, message = message, kind = kind }
    catalogue[code] = entry
    errors[code] = entry -- errors.LIST_NOT_FOUND.message
  end
end

add("api", API_CODES)
for i = 1, #LOCAL_ORDER do
  add(LOCAL_ORDER[i], LOCAL_CODES[LOCAL_ORDER[i]])
end

-- Codes the vendor documents as templates: EXTRA_FIELD_XX_ALREADY_EXISTS, "XX = field". The
-- service may send XX literally or with the field in its place; both are that one error.
local FAMILIES = {
  { pattern = "^EXTRA_FIELD_(.+)_ALREADY_EXISTS$", code = "EXTRA_FIELD_XX_ALREADY_EXISTS" },
}

--- The catalogue code of a templated code and the field it names:
-- errors.family("EXTRA_FIELD_CITY_ALREADY_EXISTS") -> "EXTRA_FIELD_XX_ALREADY_EXISTS", "CITY".
-- nil for other codes; the field is nil when the code is the template itself.
function errors.family(code)
  if type(code) ~= "string" then return nil end
  for i = 1, #FAMILIES do
    local f = FAMILIES[i]
    local field = code:match(f.pattern)
    if field then
      if field == "XX" then field = nil end
      return f.code, field
    end
  end
  return nil
end

-- The catalogue message of a template, naming the field when the code carried one.
local function template_message(template, field)
  local m = catalogue[template].message
  return field and (m:gsub("XX", function() return field end)) or m
end

-- The error type ------------------------------------------------------------------------------

local Error = { __name = "egoi.Error" }
errors.Error = Error

function Error.__tostring(e)
  local s = "egoi: " .. tostring(e.code) .. ": " .. tostring(e.message)
  if e.method ~= nil then
    s = s .. " (" .. tostring(e.method) .. ")"
  end
  return s
end

-- field name -> expected type
local FIELDS = {
  kind = "string", code = "string", message = "string", method = "string",
  http_status = "number", retryable = "boolean", retry_after = "number",
  reason = "string", detail = "table",
}

--- Build an error object. Raises (a plain Lua error) on malformed fields: that is a bug in
-- the caller, not a runtime failure.
function errors.new(fields)
  if type(fields) ~= "table" then
    error("errors.new: argument 'fields' must be a table, got " .. type(fields), 2)
  end
  for k, v in pairs(fields) do
    local want = FIELDS[k]
    if want == nil then
      error("errors.new: unknown field '" .. tostring(k) .. "'", 2)
    end
    if type(v) ~= want then
      error("errors.new: field '" .. k .. "' must be a " .. want .. ", got " .. type(v), 2)
    end
  end
  if not KINDS[fields.kind] then
    error("errors.new: field 'kind' must be one of api, transport, http, protocol, usage, rate_limit; got "
      .. tostring(fields.kind), 2)
  end
  if fields.code == nil or fields.code == "" then
    error("errors.new: field 'code' is required", 2)
  end
  if fields.retry_after ~= nil and fields.retry_after < 0 then
    error("errors.new: field 'retry_after' must not be negative", 2)
  end
  local known = catalogue[fields.code]
  local detail, message = fields.detail, known and known.message
  if not known then
    local template, field = errors.family(fields.code)
    if template then
      message = template_message(template, field)
      if detail == nil then detail = { family = template, field = field } end
    end
  end
  local e = {
    kind = fields.kind,
    code = fields.code,
    message = fields.message or message or fields.code,
    method = fields.method,
    http_status = fields.http_status,
    retryable = fields.retryable == true,
    retry_after = fields.retry_after,
    reason = fields.reason,
    detail = detail,
  }
  return setmetatable(e, Error)
end

--- A usage error (bad arguments detected locally, before any request).
function errors.usage(method, code, message)
  return errors.new { kind = "usage", code = code or "INVALID_ARGUMENT", method = method, message = message }
end

function errors.is_error(v)
  return type(v) == "table" and getmetatable(v) == Error
end

--- The catalogue's English message for `code` (a templated code's names its field), or nil.
function errors.message(code)
  local entry = catalogue[code]
  if entry then return entry.message end
  local template, field = errors.family(code)
  return template and template_message(template, field) or nil
end

--- True when `s` is a known E-goi (vendor) error code (a templated one included).
function errors.is_api_code(s)
  local entry = type(s) == "string" and catalogue[s] or nil
  if entry == nil and errors.family(s) then return true end
  return entry ~= nil and entry.kind == "api"
end

return errors
