-- egoi.bulk.reader - one page of a list's subscribers as v2-shaped records (UID, EMAIL, ...,
-- STATUS as "0".."4", EXTRA_FIELD_<id>), over API v2 (subscriberData) or v3 (GET
-- /lists/{id}/contacts, the contact folded back into v2's names), so that the export and the
-- sync read either API the same way.
--
--   local page = reader.new(client, list_id, { segment = })
--   local records, total_or_nil = page(start, size)     -- raises on failure
local core = require "egoi.core"
local csv = require "egoi.csv"
local errors = require "egoi.errors"
local type, pairs, ipairs, tostring, error = type, pairs, ipairs, tostring, error

local M = {}

M.PAGE_V3 = 1000 -- the largest `limit` of the 2025 spec

local BASE = { email = "EMAIL", first_name = "FIRST_NAME", last_name = "LAST_NAME", cellphone = "CELLPHONE",
  phone = "TELEPHONE", birth_date = "BIRTH_DATE", language = "LANGUAGE", subscription_date = "ADD_DATE" }
local STATUS = { unconfirmed = "0", active = "1", removed = "2", inactive = "4" }

--- a v3 contact ({ base, extra, tags }) as a v2 subscriberData record
function M.record(c)
  local r = {}
  local base = type(c) == "table" and type(c.base) == "table" and c.base or {}
  for k, v in pairs(base) do
    if BASE[k] and v ~= nil and v ~= "" then r[BASE[k]] = v end
  end
  r.UID = base.contact_id
  r.STATUS = STATUS[base.status or ""] or base.status
  for _, e in ipairs(type(c) == "table" and type(c.extra) == "table" and c.extra or {}) do
    if type(e) == "table" and e.field_id ~= nil then
      local v = e.value
      if type(v) == "table" then
        local parts = {}
        for i, x in ipairs(v) do parts[i] = tostring(x) end
        v = table.concat(parts, ",")
      end
      r["EXTRA_FIELD_" .. tostring(e.field_id)] = v
    end
  end
  if type(c) == "table" and type(c.tags) == "table" and #c.tags > 0 then r.TAGS = c.tags end
  return r
end

-- a column of the export action's file -> record key (the file's layout is the service's; the
-- sandbox's: contact_id, status, base field names, extra_<id>)
local FILE_COLUMN = { contact_id = "UID", status = "STATUS" }
for k, v in pairs(BASE) do FILE_COLUMN[k] = v end

local function fail(code, message)
  error(errors.new{ kind = "api", code = code, method = "actionExportContacts", message = message }, 0)
end

--- every record of the list through v3's export action: one call (POST
-- /lists/{id}/contacts/actions/export with opts.callback_url), then opts.receive() polled
-- (every opts.poll_interval s, default 1, up to opts.wait_timeout, default 3600) until it
-- returns the callback's file URL (or its { file = } body), then the file downloaded and read.
-- Returns records, calls (1: the download is not an API call).
function M.from_action(client, list_id, opts)
  local res, err = client:call("actionExportContacts", { list_id = list_id,
    body = { format = "csv", callback_url = opts.callback_url } })
  if res == nil then error(err, 0) end
  local deadline = core.now() + (opts.wait_timeout or 3600)
  local url
  while true do
    local got = opts.receive()
    if type(got) == "table" then got = got.file end
    if type(got) == "string" and got ~= "" then url = got break end
    if core.now() >= deadline then
      fail("EXPORT_TIMEOUT", ("export: no file link arrived at %s within %d s"):format(opts.callback_url,
        opts.wait_timeout or 3600))
    end
    core.sleep(opts.poll_interval or 1)
  end
  if not url:match("^https?://") then fail("EXPORT_DOWNLOAD_FAILED", "export: the file link is not http(s)") end
  local t = require("egoi.transport.curl").new{ timeout = 600, max_response = 1024 * 1024 * 1024 }
  local status, _, body = t:request{ verb = "GET", url = url, headers = {} }
  t:close()
  if status ~= 200 then
    fail("EXPORT_DOWNLOAD_FAILED", ("export: the file download answered %s"):format(tostring(status or body)))
  end
  local f = io.tmpfile()
  f:write(body)
  f:seek("set", 0)
  body = nil -- luacheck: ignore 311
  local r = csv.reader(f, { close = true })
  local head = r:next()
  local out = {}
  while head do
    local fields = r:next()
    if fields == nil then break end
    if fields then
      local rec = {}
      for i, name in ipairs(head) do
        local v = fields[i]
        if v ~= nil and v ~= "" then
          local id = name:match("^extra_(%d+)$")
          local key = id and ("EXTRA_FIELD_" .. id) or FILE_COLUMN[name]
          if key == "STATUS" then v = STATUS[v] or v end
          if key then rec[key] = v end
        end
      end
      out[#out + 1] = rec
    end
  end
  r:close()
  return out, 1
end

function M.new(client, list_id, opts)
  opts = opts or {}
  if client.protocol == "v3" then
    return function(start, size)
      if size > M.PAGE_V3 then size = M.PAGE_V3 end
      local res, err = client:call("getAllContacts", { list_id = list_id,
        query = { offset = start, limit = size } })
      if res == nil then error(err, 0) end
      local out = {}
      for i, c in ipairs(type(res) == "table" and res.items or {}) do out[i] = M.record(c) end
      return out, type(res) == "table" and res.total_items or nil
    end
  end
  return function(start, size)
    local recs, err = client.subscribers:page{ listID = list_id, start = start, page_size = size,
      segment = opts.segment }
    if recs == nil then error(err, 0) end
    return recs
  end
end

return M
