-- egoi.bulk.backend_v3 - what the importer sends on API v3: import-bulk with a JSON array of
-- contacts, chunks up to the 20 MB body cap, the list's extra fields from GET /lists/{id}/fields.
-- A 413 answer provably was not processed ("the request will be ignored"): that chunk alone is
-- split in halves and each half sent; any other failure ends the import (a write is never sent
-- again after an unknown outcome). A chunk of one contact (v3 imports at least 2) is written
-- with search + create/patch instead. The pipeline (egoi.bulk) owns everything else; the same
-- interface: egoi.bulk.backend_v2.
local json = require "egoi.v3.json"
local type, pairs, ipairs, tostring, tonumber, error, pcall = type, pairs, ipairs, tostring, tonumber, error, pcall
local floor, lower, match, sort = math.floor, string.lower, string.match, table.sort

-- 20 MB as 20·10⁶ bytes (the smaller reading of "20MB"), less room for the headers' worth of slack
local M = { name = "v3", method = "actionImportBulk", default_max = 19 * 1000 * 1000 }

-- v2 field names (egoi.bulk.validate) -> v3 base members; the rest have no v3 equivalent
local BASE = { email = "email", first_name = "first_name", last_name = "last_name", cellphone = "cellphone",
  telephone = "phone", birth_date = "birth_date", lang = "language", status = "status" }
local STATUS = { ["0"] = "unconfirmed", ["1"] = "active", ["2"] = "removed", ["3"] = "unconfirmed",
  ["4"] = "inactive" }
local COMPARE = { email = "email", cellphone = "cellphone", telephone = "phone" }
M.BASE, M.COMPARE = BASE, COMPARE

--- a validated row (v2 field names) as a v3 contact { base, extra }; dropped: names left out
function M.contact(row)
  local base, extra, dropped = {}, nil, nil
  for k, v in pairs(row) do
    local id = match(k, "^extra_(%d+)$")
    if id then
      extra = extra or json.array()
      extra[#extra + 1] = { field_id = floor(tonumber(id)), value = v }
    elseif BASE[k] then
      if k == "status" then v = STATUS[tostring(v)] or v end
      base[BASE[k]] = v
    else
      dropped = dropped or {}
      dropped[#dropped + 1] = k
    end
  end
  if extra then sort(extra, function(a, b) return a.field_id < b.field_id end) end
  return { base = base, extra = extra }, dropped
end

-- new(client, o): o = { list_id, compare, mode ("add"|"update"|"update_only"), force_empty,
-- callback_url, notify, warn(text) }
function M.new(client, o)
  local cmp = COMPARE[o.compare]
  if not cmp then
    return nil, ("compare field '%s' has no v3 equivalent (v3 compares email, cellphone or telephone)")
      :format(tostring(o.compare))
  end
  local function body(contacts)
    return { mode = o.mode, compare_field = cmp, contacts = contacts, force_empty = o.force_empty,
      callback_url = o.callback_url, notify = o.notify }
  end
  local b = { overhead = #json.encode(body(json.array{ 0 })) + 512, -- + headers' worth of slack
    posted = 0 } -- import-bulk calls answered 2xx: each sends one report to callback_url
  local rows = json.array()
  local dropped_seen = {}

  function b.extra_fields()
    local fields, err = client.fields:all(o.list_id)
    if fields == nil then return nil, err end
    local out = {}
    for _, f in ipairs(fields) do
      if type(f) == "table" and f.type == "extra" and f.name then
        out[lower(tostring(f.name))] = "extra_" .. tostring(f.field_id)
      end
    end
    return out
  end

  function b.add(row, index)
    local c, dropped = M.contact(row)
    for _, name in ipairs(dropped or {}) do
      if not dropped_seen[name] then
        dropped_seen[name] = true
        if o.warn then o.warn(("field '%s' has no v3 contact equivalent: not sent"):format(name)) end
      end
    end
    local len = #json.encode(c) + (index > 0 and 1 or 0)
    rows[#rows + 1] = c
    return len
  end

  function b.undo()
    rows[#rows] = nil
  end

  local function call(op, options)
    local ok, res, err = pcall(client.call, client, op, options)
    if not ok then return nil, res end
    return res, err
  end

  -- one contact: find it by its key in this list, then patch it or create it
  local function one(c, counts)
    local key = c.base[cmp]
    local found
    if o.mode ~= "add" then
      local res, err = call("searchContacts", { query = { contact = tostring(key), type = cmp } })
      counts.calls = counts.calls + 1
      if res == nil and not (type(err) == "table" and err.http_status == 404) then return nil, err end
      for _, it in ipairs(type(res) == "table" and res.items or {}) do
        if tostring(it.list_id) == tostring(o.list_id) then found = it.contact_id end
      end
    end
    if found then
      local res, err = call("patchContact", { list_id = o.list_id, contact_id = found, body = c })
      counts.calls = counts.calls + 1
      if res == nil then return nil, err end
      counts.updated = counts.updated + 1
    elseif o.mode == "update_only" then
      counts.ignored = counts.ignored + 1
    else
      local res, err = call("createContact", { list_id = o.list_id, body = c })
      counts.calls = counts.calls + 1
      if res == nil then
        if type(err) == "table" and err.http_status == 409 then
          counts.ignored = counts.ignored + 1
        else
          return nil, err
        end
      else
        counts.imported = counts.imported + 1
      end
    end
    return true
  end

  -- send contacts[i..j]; a 413 splits that part (nothing of it was processed)
  local function part(i, j, counts)
    if i == j then
      local ok, err = one(rows[i], counts)
      if ok and counts.on_part then counts.on_part(i) end
      return ok, err
    end
    local contacts = json.array()
    for k = i, j do contacts[#contacts + 1] = rows[k] end
    local res, err = call("actionImportBulk", { list_id = o.list_id, body = body(contacts) })
    counts.calls = counts.calls + 1
    if res == nil then
      if type(err) == "table" and err.http_status == 413 then
        counts.split = counts.split + 1
        local mid = floor((i + j) / 2)
        local ok, e = part(i, mid, counts)
        if not ok then return nil, e end
        return part(mid + 1, j, counts)
      end
      return nil, err
    end
    counts.queued = counts.queued + (j - i + 1)
    b.posted = b.posted + 1
    if counts.on_part then counts.on_part(j) end
    return true
  end

  -- send the chunk: res | nil, err; calls made. res = { queued = n (imported by the service
  -- later), imported/updated/ignored (rows written one by one), split (413s) }
  -- on_part(j): rows 1..j of the chunk are accepted (after each part of a split chunk)
  function b.send(on_part)
    local counts = { calls = 0, queued = 0, imported = 0, updated = 0, ignored = 0, split = 0, on_part = on_part }
    local n = #rows
    local ok, err = true, nil
    if n > 0 then ok, err = part(1, n, counts) end
    rows = json.array()
    if not ok then
      if client.raise ~= false then error(err, 0) end
      return nil, err, counts.calls
    end
    return counts, nil, counts.calls
  end

  function b.counts(res)
    return res.imported, res.updated, res.ignored, {}, res.queued, res.split
  end

  -- after the last chunk (opts.wait): watch GET /operations?type=import_contacts until no
  -- import is queued, processing or paused (v3 links no operation to a 202, so every import
  -- of the account counts); sleep(seconds) and now() injectable. Returns completed, calls.
  function b.finish(wait)
    local interval = type(wait) == "table" and wait.interval or 2
    local timeout = type(wait) == "table" and wait.timeout or 3600
    local sleep = type(wait) == "table" and wait.sleep or require("egoi.core").sleep
    local now = type(wait) == "table" and wait.now or require("egoi.core").now
    local deadline, calls = now() + timeout, 0
    while true do
      local res, err = call("getAllOperations", { query = { type = "import_contacts", limit = 1000 } })
      calls = calls + 1
      if res == nil then return nil, calls, err end
      local busy = false
      for _, op in ipairs(type(res) == "table" and res.items or {}) do
        local st = type(op) == "table" and op.status
        if st == "queued" or st == "processing" or st == "executing" or st == "paused" then busy = true end
      end
      if not busy then return true, calls end
      if now() + interval > deadline then return false, calls end
      sleep(interval)
    end
  end

  -- the import reports at callback_url (opts.receive() returns the next one's body, or nil
  -- while none is there), one per accepted import-bulk call: their sums, or nil when they did not
  -- all arrive within timeout seconds (then what arrived)
  function b.reports(receive, timeout, interval)
    local core = require "egoi.core"
    local sum = { imported = 0, updated = 0, ignored = 0, invalid = 0, reports = 0 }
    local deadline = core.now() + (timeout or 3600)
    while sum.reports < b.posted do
      local r = receive()
      if type(r) == "table" then
        sum.reports = sum.reports + 1
        for _, k in ipairs { "imported", "updated", "ignored", "invalid" } do
          sum[k] = sum[k] + (tonumber(r[k]) or 0)
        end
      elseif core.now() >= deadline then
        return nil, sum
      else
        core.sleep(interval or 1)
      end
    end
    return sum
  end

  function b.close()
    rows = json.array()
  end

  return b
end

return M
