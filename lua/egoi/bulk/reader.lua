-- egoi.bulk.reader - one page of a list's subscribers as v2-shaped records (UID, EMAIL, ...,
-- STATUS as "0".."4", EXTRA_FIELD_<id>), over API v2 (subscriberData) or v3 (GET
-- /lists/{id}/contacts, the contact folded back into v2's names), so that the export and the
-- sync read either API the same way.
--
--   local page = reader.new(client, list_id, { segment = })
--   local records, total_or_nil = page(start, size)     -- raises on failure
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
