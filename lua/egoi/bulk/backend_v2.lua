-- egoi.bulk.backend_v2 - what the importer sends on API v2: addSubscriberBulk, rows encoded
-- once straight into a core.form_buffer (the C transport sends the chunk from that buffer), the
-- list's extra fields from getExtraFields, counts from the call's own answer.
-- The pipeline (egoi.bulk) owns reading, validation, dedupe, chunking, journal and rejects; a
-- backend only encodes, sends and reads answers. The same interface: egoi.bulk.backend_v3.
local core = require "egoi.core"
local type, pairs, tostring, tonumber, match, lower = type, pairs, tostring, tonumber, string.match, string.lower
local trim = require("egoi.bulk.validate").trim

local PREFIX = "functionOptions[subscribers]"
local KEY_ALLOWANCE = 256 -- apikey + plugin_key, added by the client

local M = { name = "v2", method = "addSubscriberBulk", default_max = 40 * 1024 * 1024 } -- 50 MB cap

-- new(client, o): o = { list_id, compare, mode ("add"|"update"), status, tags, autoresponder,
-- notification }
function M.new(client, o)
  if o.mode == "update_only" then
    return nil, "mode 'update_only' needs API v3 (v2's addSubscriberBulk adds or updates)"
  end
  local base = { listID = o.list_id, compareField = o.compare, operation = o.mode == "add" and 1 or 2,
    status = o.status, tags = o.tags, autoresponder = o.autoresponder, notification = o.notification }
  local b = { overhead = #core.form_request("addSubscriberBulk", base, "json") + 1 + KEY_ALLOWANCE }
  local fb

  local function fresh()
    local buf, e = client:body_buffer("addSubscriberBulk", base)
    if not buf then error(e, 0) end
    return buf
  end

  -- lower-case extra field name -> "extra_<id>" | nil, err (one getExtraFields call)
  function b.extra_fields()
    local res, err = client:call("getExtraFields", { listID = o.list_id })
    if res == nil then return nil, err end
    local ef = type(res) == "table" and res.extra_fields
    local out = {}
    if type(ef) == "table" then
      for k, f in pairs(ef) do
        if type(f) == "table" then
          local id = f.ID or f.id
          if id == nil then
            if type(k) == "number" then id = k - 1 else id = match(tostring(k), "^key_(%d+)$") or k end
          end
          local name = f.NAME or f.name or f.ref
          if name then out[lower(trim(tostring(name)))] = "extra_" .. tostring(id) end
        end
      end
    end
    return out
  end

  -- add a row as piece `index` (0-based) of the current chunk: its encoded bytes
  function b.add(row, index)
    fb = fb or fresh()
    local before = fb:len()
    return fb:add(row, PREFIX, index) - before
  end

  -- take back the last `len` bytes added
  function b.undo(len)
    fb:truncate(fb:len() - len)
  end

  -- send the chunk: res | nil, err (raises with a raising client); calls made
  function b.send()
    local buf = fb or fresh()
    fb = nil
    local ok, res, err = pcall(client.call_buffer, client, "addSubscriberBulk", buf)
    buf:close() -- frees the chunk now rather than at the next collection
    if not ok then error(res, 0) end
    return res, err, 1
  end

  -- counts of an answer: added, updated, ignored, { {index (0-based), code}, ... }
  function b.counts(res)
    local refused = {}
    if type(res) ~= "table" then return 0, 0, 0, refused end
    if type(res.ERRORS) == "table" then
      for _, e in pairs(res.ERRORS) do
        if type(e) == "table" then
          refused[#refused + 1] = { index = tonumber(e.LINE), code = tostring(e.ERROR or e.error or "refused") }
        end
      end
    end
    return tonumber(res.ADDED) or 0, tonumber(res.UPDATED) or 0, tonumber(res.IGNORED) or 0, refused
  end

  function b.close()
    if fb then fb:close(); fb = nil end
  end

  return b
end

return M
