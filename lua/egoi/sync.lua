-- egoi.sync - make a list match a source (a CRM export): snapshot -> diff -> plan -> apply.
--
--   local sync = require "egoi.sync"
--   local plan = sync.run(client, list_id, "crm.csv", { key = "email", remove = "unsubscribe",
--     dry_run = true })
--   print(sync.describe(plan))
--
-- 1. snapshot: every contact of the list, read with the largest pages (v3: 1000 a call; v2:
--    subscriberData at 1000, plus one getLists when a short page must be checked against the
--    list's count), or on v3 with opts.export = { callback_url =, receive = } through the
--    export action (one call, egoi.bulk.reader.from_action); kept after a run as a local file
--    (opts.snapshot) of key -> id and field values;
-- 2. diff: each valid source row is new (key absent or removed from the list), changed (a
--    field it holds differs from the list's value) or unchanged; each key of the list that
--    the source lacks is absent;
-- 3. plan: new + changed rows through the bulk importer in as few calls as the body cap
--    allows (egoi.bulk with mode "update"); absent contacts unsubscribed (remove =
--    "unsubscribe"): v3 one call per 10,000 ids, v2 one removeSubscriber each, set against the
--    client's hourly budget before any write; unchanged rows are not sent at all;
-- 4. apply (unless dry_run): on_plan(plan) first (before any write; false cancels), then the
--    import, then the removals. The plan's `calls` are what the
--    run costs, reads included: a dry run and the real run on the same data agree.
local errors = require "egoi.errors"
local check = require "egoi.check"
local core = require "egoi.core"
local cjson = require("cjson").new()
local json = require "egoi.v3.json"
local validate = require "egoi.bulk.validate"
local source_of = require "egoi.bulk.source"
local reader = require "egoi.bulk.reader"
local paging = require "egoi.paging"
local backends = { v2 = require "egoi.bulk.backend_v2", v3 = require "egoi.bulk.backend_v3" }

local type, pairs, ipairs, tostring, tonumber, error, pcall = type, pairs, ipairs, tostring, tonumber, error, pcall
local lower, format, ceil = string.lower, string.format, math.ceil
local sort, concat = table.sort, table.concat

local M = {}

M.PAGE = 1000
M.UNSUBSCRIBE_BATCH = 10000 -- ids per v3 unsubscribe call (about 1 MB of body)
local OPTIONS = { "dry_run", "encoding", "export", "key", "max_bytes", "on_plan", "remove", "snapshot" }

-- v2 record key -> field name of a source row (validate's names)
-- a v2 record's key -> the field it holds: every base field a row can carry (CITY -> city,
-- ZIP_CODE -> zip_code, ...; LANGUAGE -> lang), so an unchanged row compares equal. Tags are
-- not compared (a record holds them as a list).
local RECORD = { LANGUAGE = "lang" }
for _, f in pairs(validate.FIELDS) do
  if f ~= "lang" and f ~= "tags" then RECORD[f:upper()] = f end
end

local function usage(message, code)
  error(errors.new{ kind = "usage", code = code or "INVALID_ARGUMENT", message = "sync: " .. message,
    method = "sync" }, 0)
end

local function norm_key(key, v)
  if v == nil then return nil end
  v = validate.trim(tostring(v))
  if v == "" then return nil end
  if key == "email" then v = lower(v) end
  return v
end

---------------------------------------------------------------------------
-- 1. the list as it is now

-- every record of the list: { [key] = { id =, status =, fields = { name = value } } }, calls
local function read_list(client, list_id, key, export)
  local page = reader.new(client, list_id)
  local v3 = client.protocol == "v3"
  if v3 and export then
    -- v3's export action: one call whatever the list's size, the file fetched from its link
    local recs = reader.from_action(client, list_id, export)
    page = function(start)
      if start > 0 then return {}, #recs end
      return recs, #recs
    end
  end
  local out, start, calls, total, rows, active = {}, 0, 0, nil, 0, 0
  local stall = paging.guard(v3 and "getAllContacts" or "subscriberData")
  while true do
    local recs, t = page(start, M.PAGE)
    calls = calls + 1
    stall(recs, start) -- a server that ignores start/offset: PAGING_STALLED, not an endless read
    total = t or total
    local n = #recs
    for _, r in ipairs(recs) do
      local fields = {}
      for k, v in pairs(r) do
        local name = RECORD[k] or (tostring(k):match("^EXTRA_FIELD_(%d+)$") and "extra_" .. k:match("(%d+)$"))
        if name and type(v) ~= "table" then fields[name] = tostring(v) end
      end
      local kv = norm_key(key, fields[key])
      if kv then
        out[kv] = { id = r.UID, status = tostring(r.STATUS or "1"), fields = fields }
        if out[kv].status ~= "2" then active = active + 1 end
      end
    end
    rows = rows + n
    start = start + n
    if n == 0 or (total and rows >= total) then break end
    if n < M.PAGE and not v3 and total == nil then
      -- a short page: the end, or a service that caps pages; the list's count decides
      local res, err = client:call("getLists", {})
      calls = calls + 1
      if res == nil then error(err, 0) end
      for _, l in pairs(type(res) == "table" and res or {}) do
        if type(l) == "table" and tostring(l.listnum) == tostring(list_id) then total = tonumber(l.subs_total) end
      end
      if not total or rows >= total then break end
    elseif n < M.PAGE and v3 and total == nil then
      break
    end
  end
  return out, calls, active
end

---------------------------------------------------------------------------
-- 2. the source

-- valid rows keyed: { [key] = row }, order = { key, ... }, invalid = { { line, reason } }
local function read_source(source, key, opts)
  local src
  if type(source) == "string" then
    source_of.check_path("the source file", source, true, "sync")
    src = source_of.csv(source, opts)
  elseif type(source) == "table" or type(source) == "function" then
    src = source_of.table(source)
  else
    usage("argument 'source' must be a CSV path, an array of rows or an iterator, got " .. type(source))
  end
  -- held: keys of rows that were refused (a bad field): neither sent nor unsubscribed, since the
  -- source still names that contact
  local rows, order, invalid, seen, held = {}, {}, {}, {}, {}
  local resolved = {}
  local function target(col)
    local t = resolved[col]
    if t == nil then
      t = validate.static_target(col)
      if t == nil then
        src.close()
        usage(("column '%s' is not a contact field (sync compares fields by their names: email first_name"
          .. " last_name cellphone telephone birth_date lang extra_<id>)"):format(col), "UNKNOWN_FIELD")
      end
      if t == "tags" or t == "status" then t = false end -- not compared, not sent
      resolved[col] = t
    end
    return t
  end
  local ok, err = pcall(function()
    while true do
      local kind, raw, line = src.next()
      if kind == nil then break end
      if kind == "bad" then
        invalid[#invalid + 1] = { line = line, reason = raw, unkeyed = true }
      else
        local row = {}
        for col, v in pairs(raw) do
          local t = target(col)
          if t then
            local s = type(v) == "string" and validate.trim(v) or v
            if type(s) == "number" then s = tostring(s) end
            if type(s) == "string" and s ~= "" then row[t] = s end
          end
        end
        local why = validate.check_row(row)
        local kv = norm_key(key, row[key])
        if why then
          invalid[#invalid + 1] = { line = line, reason = why, unkeyed = kv == nil or nil }
          if kv then held[kv] = true end
        elseif not kv then
          invalid[#invalid + 1] = { line = line, reason = "no " .. key, unkeyed = true }
        elseif seen[kv] then
          invalid[#invalid + 1] = { line = line, reason = ("duplicate %s (first at line %d)"):format(key, seen[kv]) }
        else
          seen[kv] = line
          rows[kv] = row
          order[#order + 1] = kv
        end
      end
    end
  end)
  src.close()
  if not ok then error(err, 0) end
  return rows, order, invalid, held
end

---------------------------------------------------------------------------
-- 3. diff and plan

local function same(field, a, b)
  if a == b then return true end
  if a == nil or b == nil then return false end
  if field == "email" then return lower(a) == lower(b) end
  return false
end

local function differs(row, rec)
  for field, v in pairs(row) do
    if not same(field, v, rec.fields[field]) then return true end
  end
  return false
end

-- import calls for `rows` on this client's API: the chunks the importer would make
local function import_calls(client, list_id, key, rows, max_bytes)
  if #rows == 0 then return 0, 0 end
  local api = client.protocol == "v3" and "v3" or "v2"
  local be = assert(backends[api].new(client, { list_id = list_id, compare = key, mode = "update" }))
  local cap = (max_bytes or backends[api].default_max) - be.overhead
  local chunks, n, bytes, calls = 0, 0, 0, 0
  local function close_chunk()
    chunks = chunks + 1
    -- v3 imports at least 2: one contact costs a search and a patch or create
    calls = calls + ((api == "v3" and n == 1) and 2 or 1)
    be.close()
    n, bytes = 0, 0
  end
  for _, row in ipairs(rows) do
    local len = be.add(row, n)
    if n > 0 and bytes + len > cap then
      be.undo(len)
      close_chunk()
      len = be.add(row, 0)
    end
    n, bytes = n + 1, bytes + len
  end
  if n > 0 then close_chunk() end
  return calls, chunks
end

--- The plan: what sync would do and what it costs. Reads the list (those calls are spent).
function M.plan(client, list_id, source, opts)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    usage("argument 'client' must be an egoi client")
  end
  if list_id == nil or check.value("id", list_id) then
    usage("argument 'list_id' must be a positive integer list id, got " .. check.show(list_id))
  end
  opts = opts or {}
  if type(opts) ~= "table" then usage("argument 'opts' must be a table") end
  local why = check.names(opts, OPTIONS, "option")
  if why then usage(why) end
  local key = opts.key or "email"
  local api = client.protocol == "v3" and "v3" or "v2"
  local kt = validate.static_target(key)
  if kt ~= "email" and kt ~= "cellphone" and kt ~= "telephone" then
    usage("option 'key' must be email, cellphone or telephone, got " .. check.show(key))
  end
  key = kt
  local remove = opts.remove or "unsubscribe"
  if remove ~= "unsubscribe" and remove ~= "keep" then
    usage("option 'remove' must be \"unsubscribe\" or \"keep\", got " .. check.show(remove))
  end
  if opts.snapshot ~= nil and opts.snapshot ~= false and type(opts.snapshot) ~= "string" then
    usage("option 'snapshot' must be a path or false")
  end
  if opts.on_plan ~= nil and type(opts.on_plan) ~= "function" then usage("option 'on_plan' must be a function") end

  local rows, order, invalid, held = read_source(source, key, opts)
  if opts.export ~= nil and (type(opts.export) ~= "table" or type(opts.export.receive) ~= "function"
    or type(opts.export.callback_url) ~= "string") then
    usage("option 'export' must be { callback_url = URL, receive = function } (v3's export action)")
  end
  local list, read_calls, list_rows = read_list(client, list_id, key, opts.export)

  local plan = { api = api, list_id = list_id, key = key, remove = remove, source_rows = #order,
    invalid = invalid, list_rows = list_rows, new = {}, changed = {}, unchanged = 0, absent = {},
    absent_kept = 0, calls = { read = read_calls } }
  for _, kv in ipairs(order) do
    local rec = list[kv]
    if not rec or rec.status == "2" then
      plan.new[#plan.new + 1] = rows[kv]
    elseif differs(rows[kv], rec) then
      plan.changed[#plan.changed + 1] = rows[kv]
    else
      plan.unchanged = plan.unchanged + 1
    end
  end
  local absent = {}
  for kv, rec in pairs(list) do
    if not rows[kv] and not held[kv] and rec.status ~= "2" then absent[#absent + 1] = { key = kv, id = rec.id } end
  end
  sort(absent, function(a, b) return a.key < b.key end)
  -- a source row whose key cannot be read may name any contact of the list: unsubscribing
  -- "absent" contacts would then remove someone the source still holds. Nothing is removed
  -- until the file reads cleanly (the rows still go in; the dry run says why).
  local unkeyed = 0
  for _, x in ipairs(invalid) do if x.unkeyed then unkeyed = unkeyed + 1 end end
  if remove == "unsubscribe" and unkeyed > 0 and #absent > 0 then
    plan.removal_held = { rows = unkeyed, contacts = #absent }
    plan.absent_kept = #absent
  elseif remove == "unsubscribe" then
    plan.absent = absent
  else
    plan.absent_kept = #absent
  end

  local send = {}
  for _, r in ipairs(plan.new) do send[#send + 1] = r end
  for _, r in ipairs(plan.changed) do send[#send + 1] = r end
  plan.send = send
  plan.calls.import, plan.chunks = import_calls(client, list_id, key, send, opts.max_bytes)
  local nabs = #plan.absent
  plan.calls.remove = api == "v3" and ceil(nabs / M.UNSUBSCRIBE_BATCH) or nabs
  plan.calls.total = plan.calls.read + plan.calls.import + plan.calls.remove
  -- the writes against the client's hourly budget, stated before any of them is made
  local st = client.rate_limit_status and client:rate_limit_status()
  if type(st) == "table" and st.calls then
    local writes = plan.calls.import + plan.calls.remove
    plan.budget = { calls = st.calls, window = st.window, remaining = st.remaining,
      windows = ceil(math.max(0, writes - (st.remaining or 0)) / st.calls) }
  end
  plan.snapshot_records = list
  return plan
end

--- Text of a plan (what a dry run prints).
function M.describe(plan)
  local c = plan.calls
  local lines = {
    format("sync list %s on API %s by %s: source %d rows (%d invalid), list %d contacts", tostring(plan.list_id),
      plan.api, plan.key, plan.source_rows, #plan.invalid, plan.list_rows),
    format("  new        %d", #plan.new),
    format("  changed    %d", #plan.changed),
    format("  unchanged  %d (not sent)", plan.unchanged),
    plan.removal_held and format("  absent     %d (kept: %d source row(s) have no readable %s, so none is"
      .. " unsubscribed until the file is fixed)", plan.absent_kept, plan.removal_held.rows, plan.key)
      or plan.remove == "unsubscribe" and format("  absent     %d (unsubscribed)", #plan.absent)
      or format("  absent     %d (kept: --remove keep)", plan.absent_kept),
    format("calls: %d to read the list, %d to import (%d chunk%s), %d to unsubscribe%s = %d", c.read, c.import,
      plan.chunks, plan.chunks == 1 and "" or "s", c.remove,
      plan.api == "v2" and #plan.absent > 0 and " (v2: one call per contact)" or "", c.total),
  }
  local b = plan.budget
  if b then
    lines[#lines + 1] = format("budget: %d calls per %d s, %d left now%s", b.calls, b.window, b.remaining or 0,
      b.windows > 0 and format("; the writes need %d more window(s): the run waits for them", b.windows) or "")
  end
  for i, x in ipairs(plan.invalid) do
    if i > 20 then
      lines[#lines + 1] = format("  ... and %d more invalid rows", #plan.invalid - 20)
      break
    end
    lines[#lines + 1] = format("  line %s: %s", tostring(x.line), tostring(x.reason))
  end
  return concat(lines, "\n") .. "\n"
end

---------------------------------------------------------------------------
-- snapshot file: key -> { id, status, fields } as JSON, written whole (temporary name, mode
-- 0600, then rename); the default path is in a directory only this user can enter

function M.default_snapshot(key_id, list_id, getenv)
  getenv = getenv or os.getenv
  local base = getenv("TMPDIR")
  if not base or base:sub(1, 1) ~= "/" then base = "/tmp" end
  local dir = format("%s/egoi-%d", (base:gsub("/+$", "")), core.euid())
  local ok, err = core.user_dir(dir, true)
  if not ok then return nil, err end
  return format("%s/sync-%s-%s.json", dir, tostring(list_id), key_id)
end

local function save_snapshot(path, plan, list)
  local state = {}
  for kv, rec in pairs(list) do state[kv] = rec end
  for _, r in ipairs(plan.send) do
    local kv = norm_key(plan.key, r[plan.key])
    local rec = state[kv] or { status = "1", fields = {} }
    for f, v in pairs(r) do rec.fields[f] = v end
    rec.status = "1"
    state[kv] = rec
  end
  for _, a in ipairs(plan.absent) do if state[a.key] then state[a.key].status = "2" end end
  local tmp = path .. ".tmp"
  os.remove(tmp)
  -- created 0600 before any byte is written (Lua's io.open follows the umask): a shell's umask
  -- 077 makes the empty file, io.open then truncates it and keeps its mode
  local made = os.execute(("umask 077 && : > '%s'"):format((tmp:gsub("'", "'\\''"))))
  if made ~= true and made ~= 0 then return nil, "cannot create " .. tmp end
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  f:write(cjson.encode({ list_id = tostring(plan.list_id), key = plan.key, api = plan.api, contacts = state }))
  f:close()
  return os.rename(tmp, path)
end

function M.load_snapshot(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local ok, t = pcall(cjson.decode, text)
  return ok and t or nil
end

---------------------------------------------------------------------------
-- 4. apply

local function unsubscribe_v3(client, list_id, ids, done)
  for i = 1, #ids, M.UNSUBSCRIBE_BATCH do
    local data = json.array()
    for j = i, math.min(#ids, i + M.UNSUBSCRIBE_BATCH - 1) do
      data[#data + 1] = { contact_id = ids[j], unsubscription_method = "api", unsubscription_reason = "other" }
    end
    local res, err = client:call("actionUnsubscribeContact", { list_id = list_id, body = { data = data } })
    done.calls = done.calls + 1
    if res == nil then return nil, err end
    done.removed = done.removed + #(type(res) == "table" and res.success or {})
  end
  return true
end

local function unsubscribe_v2(client, list_id, ids, done)
  for _, id in ipairs(ids) do
    local res, err = client:call("removeSubscriber", { listID = list_id, subscriber = id, removeMethod = "API" })
    done.calls = done.calls + 1
    if res == nil then
      if not (type(err) == "table" and err.code == "SUBSCRIBER_ALREADY_REMOVED") then return nil, err end
    else
      done.removed = done.removed + 1
    end
  end
  return true
end

local function run(client, list_id, source, opts)
  opts = opts or {}
  local plan = M.plan(client, list_id, source, opts)
  local list = plan.snapshot_records
  plan.snapshot_records = nil
  if opts.dry_run then return plan end
  -- the plan (its calls, the budget) is stated before the first write; false cancels the run
  if opts.on_plan and opts.on_plan(plan) == false then
    plan.cancelled = true
    return plan
  end
  local done = { calls = plan.calls.read, imported = 0, removed = 0 }
  plan.done = done
  if #plan.send > 0 then
    local bulk = require "egoi.bulk"
    local s, err = bulk.import(client, plan.send, { listID = list_id, compare_field = plan.key, mode = "update",
      max_bytes = opts.max_bytes })
    if s == nil then
      local partial = type(err) == "table" and rawget(err, "import")
      done.calls = done.calls + (partial and partial.calls or 0)
      err.sync = plan
      error(err, 0)
    end
    done.calls = done.calls + s.calls
    done.import = s
    done.imported = s.sent
  end
  local ids = {}
  for i, a in ipairs(plan.absent) do ids[i] = a.id end
  if #ids > 0 then
    local ok, err = (plan.api == "v3" and unsubscribe_v3 or unsubscribe_v2)(client, list_id, ids, done)
    if not ok then
      err.sync = plan
      error(err, 0)
    end
  end
  if opts.snapshot then
    local ok, err = save_snapshot(opts.snapshot, plan, list)
    if not ok then plan.snapshot_error = tostring(err) end
  end
  return plan
end

--- Run (or with dry_run only plan) a sync; returns the plan (plan.done after a real run:
-- calls made, imported, removed). Raises, or nil, err with a client made with raise = false.
function M.run(client, list_id, source, opts)
  local ok, res = pcall(run, client, list_id, source, opts)
  if ok then return res end
  if errors.is_error(res) and type(client) == "table" and client.raise == false then return nil, res end
  error(res, 0)
end

return M
