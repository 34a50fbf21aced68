-- egoi.callback - parse the notifications E-goi POSTs to a list's callback URL.
--
--   local callback = require "egoi.callback"
--   local ev, err = callback.parse(body, content_type[, opts])
--
-- The request is an ordinary form post with exactly one field whose name is
-- the action (addSubscriber, editSubscriber, removeSubscriber) and whose
-- value is a one-level XML document, e.g.
--   <subscriber><UID>..</UID><LIST>3</LIST><EMAIL>..</EMAIL><FIRST_NAME>..</FIRST_NAME>
--     <EXTRA_FIELD_5>..</EXTRA_FIELD_5></subscriber>
--
-- On success `ev` is
--   { event = "add" | "edit" | "remove", action = "addSubscriber" | ...,
--     root = "subscriber", list = "3", uid = "...", email = "...",
--     fields = { uid = , list = , email = , first_name = , ... },   -- lower-cased names,
--                                                                   -- empty elements kept as ""
--     extra = { ["5"] = "..." } }                                    -- EXTRA_FIELD_<id>
-- On failure `err` is an egoi.Error of kind "protocol" with code
-- CALLBACK_MALFORMED, CALLBACK_UNKNOWN_ACTION, TOO_LARGE, DOCTYPE_FORBIDDEN,
-- MALFORMED_XML or TOO_DEEP. opts.max_bytes caps the raw body (default 1 MiB).
--
-- Works outside nginx too (CGI): callback.parse(io.read("a"), os.getenv("CONTENT_TYPE")).
--
-- Failed callbacks (E-goi never retries) are kept and replayed with egoi.deadletter:
--   callback.dead_letter(path, opts)      -- = require("egoi.deadletter").open
--   callback.replay(path, handler, opts)  -- = require("egoi.deadletter").replay
local core = require "egoi.core"
local errors = require "egoi.errors"

local type, tostring, tonumber, pairs, error, char =
  type, tostring, tonumber, pairs, error, string.char

local M = {}

M.DEFAULT_MAX_BYTES = 1024 * 1024

M.ACTIONS = {
  addSubscriber = "add",
  editSubscriber = "edit",
  removeSubscriber = "remove",
}

local function fail(code, message)
  return nil, errors.new{ kind = "protocol", code = code, message = message }
end

-- percent-decoding of application/x-www-form-urlencoded ("+" is a space);
-- a "%" not followed by two hex digits stays as it is (like PHP's urldecode).
local function unescape(s)
  s = s:gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end
M.unescape = unescape

-- safe text for a message: printable ASCII only, short
local function shown(s)
  s = tostring(s):gsub("[^%w_%-%.%[%]]", "?")
  if #s > 40 then s = s:sub(1, 40) .. "..." end
  return s
end

-- parse_form(body) -> { {name, value}, ... }
function M.parse_form(body)
  local out = {}
  for pair in body:gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=(.*)$")
    if not name then name, value = pair, "" end
    out[#out + 1] = { unescape(name), unescape(value) }
  end
  return out
end

local function form_type_ok(content_type)
  if content_type == nil or content_type == "" then return true end -- CGI without a type: try
  local mime = tostring(content_type):match("^%s*([^;%s]+)")
  return mime ~= nil and mime:lower() == "application/x-www-form-urlencoded"
end

function M.parse(body, content_type, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("callback.parse: argument 'opts' must be a table or nil", 2)
  end
  if content_type ~= nil and type(content_type) ~= "string" then
    error("callback.parse: argument 'content_type' must be a string or nil", 2)
  end
  local max_bytes = opts and opts.max_bytes or M.DEFAULT_MAX_BYTES
  if type(max_bytes) ~= "number" or max_bytes ~= max_bytes or max_bytes <= 0 then
    error("callback.parse: option 'max_bytes' must be a positive number", 2)
  end
  if body == nil then
    return fail("CALLBACK_MALFORMED", "the callback request has no body")
  end
  if type(body) ~= "string" then
    error("callback.parse: argument 'body' must be a string or nil", 2)
  end
  if #body > max_bytes then
    return fail("TOO_LARGE", ("the callback body (%d bytes) exceeds the limit of %d bytes"):format(#body, max_bytes))
  end
  if not form_type_ok(content_type) then
    return fail("CALLBACK_MALFORMED",
      "the callback body must be application/x-www-form-urlencoded, got " .. shown(content_type))
  end
  local fields = M.parse_form(body)
  if #fields == 0 then
    return fail("CALLBACK_MALFORMED", "the callback body holds no form field")
  end
  local action, xml, others = nil, nil, {}
  for i = 1, #fields do
    local name, value = fields[i][1], fields[i][2]
    if M.ACTIONS[name] then
      if action then
        return fail("CALLBACK_MALFORMED", ("the callback body holds more than one action field (%s, %s)")
          :format(action, name))
      end
      action, xml = name, value
    else
      others[#others + 1] = shown(name)
    end
  end
  if not action then
    return fail("CALLBACK_UNKNOWN_ACTION", "no addSubscriber, editSubscriber or removeSubscriber field; got "
      .. (#others > 0 and table.concat(others, ", ", 1, #others > 5 and 5 or #others) or "nothing"))
  end
  if xml:match("^%s*$") then
    return fail("CALLBACK_MALFORMED", "the " .. action .. " field is empty")
  end
  local root, t, m = core.xml_flat(xml, max_bytes)
  if not root then
    return fail(tostring(t or "MALFORMED_XML"), "the " .. action .. " document: " .. tostring(m or t))
  end
  local ev = {
    event = M.ACTIONS[action], action = action, root = root,
    fields = {}, extra = {},
  }
  for k, v in pairs(t) do
    local id = k:match("^EXTRA_FIELD_(.+)$")
    if id then
      ev.extra[id] = v
    else
      ev.fields[k:lower()] = v
    end
  end
  ev.uid, ev.list, ev.email = ev.fields.uid, ev.fields.list, ev.fields.email
  return ev
end

-- (egoi.deadletter requires this module: load it on use)
function M.dead_letter(path, opts)
  return require("egoi.deadletter").open(path, opts)
end

function M.replay(path, handler, opts)
  return require("egoi.deadletter").replay(path, handler, opts)
end

return M
