-- egoi.bulk - bulk import (addSubscriberBulk) and export (subscriberData paging).
--
--   local bulk = require "egoi.bulk"
--   local summary = bulk.import(client, "contacts.csv", { listID = 3, journal = "import.journal" })
--   local info = bulk.export(client, 3, "out.csv")
--
-- See doc/CLI.md ("import" and "export") for the rules in prose; the comments below are the
-- reference for the options and the returned summaries.
local core = require "egoi.core"
local errors = require "egoi.errors"
local check = require "egoi.check"
local option_names = require "egoi.options"
local charset = require "egoi.charset"
local journal = require "egoi.bulk.journal"
local rejects_file = require "egoi.bulk.rejects"
local validate = require "egoi.bulk.validate"
local source_of = require "egoi.bulk.source"
local export = require "egoi.bulk.export"
local backends = { v2 = require "egoi.bulk.backend_v2", v3 = require "egoi.bulk.backend_v3" }

local type, pairs, ipairs, tostring, tonumber, error, pcall =
  type, pairs, ipairs, tostring, tonumber, error, pcall
local floor = math.floor
local match, lower, sub = string.match, string.lower, string.sub

local bulk = {}

local EXACT_DEDUPE_LIMIT = 100000           -- distinct keys kept as strings before hashing
local DEFAULT_MAX_REJECTED = 10000
local PROGRESS_EVERY = 10000                -- rows between "read" progress reports

bulk.FIELDS, bulk.READ_ONLY = validate.FIELDS, validate.READ_ONLY
bulk.email_problem, bulk.normalize_phone = validate.email_problem, validate.normalize_phone
local trim, static_target, check_row = validate.trim, validate.static_target, validate.check_row
local cell, to_utf8, check_path = source_of.cell, source_of.to_utf8, source_of.check_path
local csv_source, table_source = source_of.csv, source_of.table

local function usage(message, code)
  return errors.new{ kind = "usage", code = code or "INVALID_ARGUMENT", message = message,
    method = "addSubscriberBulk" }
end

local function raise_usage(message, code)
  error(usage(message, code), 3)
end

---------------------------------------------------------------------------
-- duplicate detection: exact strings up to EXACT_DEDUPE_LIMIT distinct keys, then a 52-bit
-- hash per key (core.key_id, FNV-1a 64 + finaliser) to keep memory near 30 bytes a row.

local function new_dedupe(mode)
  local set, n, hashed = {}, 0, mode == "hash"
  local function hkey(k) return tonumber(sub(core.key_id(k), 1, 13), 16) end
  local d = {}
  -- returns the first line of an earlier row with the same key, else records it
  function d.check(key, line)
    if mode == false then return nil end
    local k = hashed and hkey(key) or key
    local prev = set[k]
    if prev then return prev end
    set[k] = line
    n = n + 1
    if not hashed and mode ~= "exact" and n > EXACT_DEDUPE_LIMIT then
      local h = {}
      for s, l in pairs(set) do h[hkey(s)] = l end
      set, hashed = h, true
    end
    return nil
  end
  return d
end

---------------------------------------------------------------------------
-- import

local function check_opts(client, source, opts)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    raise_usage("import: argument 'client' must be an egoi client")
  end
  local st = type(source)
  if st ~= "string" and st ~= "function" and st ~= "table" then
    raise_usage("import: argument 'source' must be a CSV path, an iterator function or an array of rows, got " .. st)
  end
  if type(opts) ~= "table" then
    raise_usage("import: argument 'opts' must be a table (with at least listID), got " .. type(opts))
  end
  local why = check.names(opts, option_names.import, "option")
  if why then raise_usage("import: " .. why) end
  local list_id = opts.listID
  if list_id == nil or check.value("id", list_id) then
    raise_usage("import: option 'listID' is required (a positive integer list id), got " .. check.show(list_id))
  end
  local function num(name, min)
    local v = opts[name]
    if v ~= nil and (type(v) ~= "number" or v < min or v ~= floor(v)) then
      raise_usage(("import: option '%s' must be an integer >= %d"):format(name, min))
    end
    return v
  end
  num("max_bytes", 1)
  num("max_rows", 1)
  num("max_fields", 1)
  num("max_rejected", 0)
  if opts.operation ~= nil and opts.operation ~= 1 and opts.operation ~= 2
    and opts.operation ~= "1" and opts.operation ~= "2" then
    raise_usage("import: option 'operation' must be 1 (add only) or 2 (add or update), got "
      .. check.show(opts.operation))
  end
  if opts.mode ~= nil and opts.mode ~= "add" and opts.mode ~= "update" and opts.mode ~= "update_only" then
    raise_usage("import: option 'mode' must be \"add\", \"update\" or \"update_only\", got "
      .. check.show(opts.mode))
  end
  if opts.mode ~= nil and opts.operation ~= nil then
    raise_usage("import: options 'mode' and 'operation' say the same thing: give one")
  end
  if opts.receive ~= nil and (type(opts.receive) ~= "function" or opts.callback_url == nil) then
    raise_usage("import: option 'receive' must be a function and goes with 'callback_url'")
  end
  for _, name in ipairs { "wait_timeout", "poll_interval" } do
    if opts[name] ~= nil and (type(opts[name]) ~= "number" or opts[name] <= 0) then
      raise_usage(("import: option '%s' must be a positive number of seconds"):format(name))
    end
  end
  if opts.wait ~= nil and type(opts.wait) ~= "boolean" and type(opts.wait) ~= "table" then
    raise_usage("import: option 'wait' must be true or a table { interval =, timeout = }")
  end
  if opts.callback_url ~= nil and (type(opts.callback_url) ~= "string"
    or not match(opts.callback_url, "^https?://")) then
    raise_usage("import: option 'callback_url' must be an http(s) URL")
  end
  if opts.map ~= nil and type(opts.map) ~= "table" then
    raise_usage("import: option 'map' must be a table (column -> field or false)")
  end
  for k, v in pairs(opts.map or {}) do
    if type(k) ~= "string" or (v ~= false and type(v) ~= "string") then
      raise_usage("import: option 'map' must map column names to field names or false")
    end
  end
  for _, name in ipairs{ "on_progress", "on_chunk", "on_reject" } do
    if opts[name] ~= nil and type(opts[name]) ~= "function" then
      raise_usage(("import: option '%s' must be a function"):format(name))
    end
  end
  if opts.journal ~= nil and type(opts.journal) ~= "string" then
    raise_usage("import: option 'journal' must be a path")
  end
  if opts.compare_field ~= nil and type(opts.compare_field) ~= "string" then
    raise_usage("import: option 'compare_field' must be a field name")
  end
  if opts.status ~= nil and not match(tostring(opts.status), "^[0-4]$") then
    raise_usage("import: option 'status' must be 0, 1, 2, 3 or 4")
  end
  local tags_ok = type(opts.tags) == "table"
  for _, t in ipairs(type(opts.tags) == "table" and opts.tags or {}) do
    if not match(tostring(t), "^[1-9]%d*$") then tags_ok = false end
  end
  if opts.tags ~= nil and (not tags_ok or check.value("ids", opts.tags)) then
    raise_usage("import: option 'tags' must be an array of tag ids (positive integers), got "
      .. check.show(opts.tags))
  end
  if opts.encoding ~= nil and not charset.normalize_name(opts.encoding) then
    raise_usage("import: option 'encoding' must be \"utf-8\", \"latin1\" or \"windows-1252\", got "
      .. check.show(opts.encoding))
  end
  if opts.rejects ~= nil and type(opts.rejects) ~= "string" then
    raise_usage("import: option 'rejects' must be a path")
  end
  if opts.should_stop ~= nil and type(opts.should_stop) ~= "function" then
    raise_usage("import: option 'should_stop' must be a function")
  end
  if opts.journal ~= nil and opts.journal == opts.rejects then
    raise_usage("import: options 'journal' and 'rejects' name the same file")
  end
  if type(source) == "string" then check_path("the CSV file", source, true) end
  if type(opts.journal) == "string" then check_path("the journal", opts.journal) end
  if type(opts.rejects) == "string" then check_path("the rejects file", opts.rejects) end
  for _, name in ipairs { "autoresponder", "notification" } do
    if opts[name] ~= nil and check.value("flag", opts[name]) then
      raise_usage(("import: option '%s' must be a flag (true/false, 0/1)"):format(name))
    end
  end
  if opts.max_record ~= nil and (type(opts.max_record) ~= "number" or opts.max_record < 1) then
    raise_usage("import: option 'max_record' must be a positive number (bytes)")
  end
  local d = opts.dedupe
  if d ~= nil and d ~= false and d ~= "exact" and d ~= "hash" and d ~= "auto" then
    raise_usage("import: option 'dedupe' must be \"auto\", \"exact\", \"hash\" or false")
  end
end

local function split_tags(v)
  if type(v) == "table" then return v end
  local out = {}
  for t in v:gmatch("[^;,%s]+") do out[#out + 1] = t end
  return out
end

--- Import subscribers into a list with as few addSubscriberBulk calls as the size cap allows.
-- source: CSV path (header line = column names) | iterator returning row tables | array of
-- row tables. opts: listID (required), map, compare_field ("email"), operation (2),
-- status, tags, max_bytes (40 MiB), max_rows, journal, dedupe ("auto"), max_rejected
-- (10000 kept in the summary; all are counted and passed to on_reject), on_progress(info),
-- on_chunk(info) (false stops the import), on_reject(entry), rejects (path of a CSV of every
-- rejected row, kept across resumes), encoding ("utf-8" | "latin1" | "windows-1252"),
-- should_stop() (polled between rows and after each accepted chunk: a truthy value ends the
-- import there, summary.interrupted = that value; with it, a wait for a rate-limit slot is
-- done here in 0.25 s slices, reported as on_progress{ phase = "wait", wait =, status = }).
-- Returns the summary table; on any failure (bad options, an unreadable or malformed file, a
-- bad journal, a failed call) raises the error object, or returns nil, err, summary with a
-- client made with raise = false (summary nil when nothing was read yet). err.import holds the
-- summary up to a failure during the import; the journal stays valid.
local function import(client, source, opts)
  check_opts(client, source, opts)
  local list_id = opts.listID
  local compare = opts.compare_field or "email"
  local ckey = static_target(compare)
  if not ckey then raise_usage("import: option 'compare_field' is not a subscriber field: " .. compare) end
  compare = ckey
  local max_rows = opts.max_rows
  -- the call's own fields (method, type, apikey, listID, ...) count too
  local max_fields = opts.max_fields and opts.max_fields - 16
  if max_fields and max_fields < 16 then raise_usage("import: option 'max_fields' must be at least 32") end
  local max_rejected = opts.max_rejected or DEFAULT_MAX_REJECTED
  local map = opts.map or {}
  local on_progress, on_chunk, on_reject = opts.on_progress, opts.on_chunk, opts.on_reject
  local dedupe_mode = opts.dedupe
  if dedupe_mode == nil then dedupe_mode = "auto" end

  local mode = opts.mode or ((opts.operation == 1 or opts.operation == "1") and "add" or "update")
  local summary = { rows = 0, sent = 0, rejected = {}, rejected_count = 0, failed = {}, calls = 0,
    chunks = 0, skipped = 0, bytes = 0, added = 0, updated = 0, ignored = 0, stopped = false,
    ignored_columns = {}, refused = 0, warnings = {}, queued = 0, split = 0 }
  local api = client.protocol == "v3" and "v3" or "v2"
  summary.api = api
  local backend, why_not = backends[api].new(client, { list_id = list_id, compare = compare, mode = mode,
    status = opts.status, tags = opts.tags, autoresponder = opts.autoresponder,
    notification = opts.notification, callback_url = opts.callback_url, force_empty = opts.force_empty,
    warn = function(text) summary.warnings[#summary.warnings + 1] = text end })
  if not backend then raise_usage("import: " .. why_not) end
  if api == "v3" then
    for _, name in ipairs { "tags", "status", "autoresponder", "notification" } do
      if opts[name] ~= nil then
        summary.warnings[#summary.warnings + 1] = ("option '%s' has no v3 import equivalent: not sent"):format(name)
      end
    end
  elseif opts.callback_url ~= nil then
    raise_usage("import: option 'callback_url' needs API v3 (v2 reports through list callbacks)")
  end
  local overhead = backend.overhead
  local cap = (opts.max_bytes or backends[api].default_max) - overhead
  if cap < 64 then
    raise_usage(("import: option 'max_bytes' is too small (the call itself needs about %d bytes)")
      :format(overhead))
  end

  summary.cap = cap
  local raising = client.raise ~= false
  local should_stop = opts.should_stop

  -- resume state: the journal, checked against what the file holds now
  local jstate, verified
  if opts.journal then jstate = journal.read(opts.journal, list_id, compare) end
  if jstate and type(source) == "string" and jstate.chunks > 0 then
    local good, d = journal.verify(source, jstate.records)
    verified = d
    if good < jstate.chunks then
      local first = jstate.records[good + 1]
      summary.changed = { chunk = good + 1, first_line = first.first_line, chunks = jstate.chunks }
      summary.warnings[#summary.warnings + 1] = ("%s changed since the journal recorded chunk %d"
        .. " (lines %d-%d): the journal is cut back to %d chunk(s) and the rows from line %d on are"
        .. " sent again"):format(source, good + 1, first.first_line, first.last_line, good,
        first.first_line)
      journal.keep(opts.journal, list_id, compare, jstate.records, good)
      local records = {}
      for k = 1, good do records[k] = jstate.records[k] end
      jstate = { records = records, chunks = good, last = records[good] }
    end
  end
  local resume_index = jstate and jstate.last and jstate.last.next_index or 0

  local rej
  if opts.rejects then
    rej = rejects_file.open(opts.rejects, jstate and jstate.last and jstate.last.rejects_bytes or nil)
    if rej.warning then summary.warnings[#summary.warnings + 1] = rej.warning end
  end

  local src
  if type(source) == "string" then
    local ok, res = pcall(csv_source, source, opts, opts.journal and core.digest() or nil)
    if not ok then
      if rej then rej.close() end
      error(res, 0)
    end
    src = res
  else
    src = table_source(source)
  end
  local src_close = src.close
  function src.close()
    src_close()
    if rej then rej.close() end
  end

  -- field resolution -------------------------------------------------
  local extras -- lower-case extra field name -> extra_<id>, fetched once when needed
  local function lookup_extra(name)
    if not extras then
      local ef, err = backend.extra_fields()
      summary.calls = summary.calls + 1
      if not ef then return nil, err end
      extras = ef
    end
    return extras[lower(trim(name))]
  end
  local resolved = {} -- source column -> field | false
  local targets = {}  -- field -> column (detect two columns for one field)
  local function resolve(col)
    local r = resolved[col]
    if r ~= nil then return r end
    local m = map[col]
    if m == false then
      resolved[col] = false
      return false
    end
    local name = m or col
    local t = static_target(name)
    if t == false and m == nil then
      summary.ignored_columns[#summary.ignored_columns + 1] = col
    elseif t == nil then
      local e, err = lookup_extra(name)
      if e == nil and err then
        src.close()
        error(err, 0)
      end
      if not e then
        src.close()
        raise_usage(("import: column '%s' is neither a subscriber field nor an extra field of list %s"
          .. " (map it to a field, or to false to skip it)"):format(col, tostring(list_id)), "UNKNOWN_FIELD")
      end
      t = e
    end
    if t and targets[t] and targets[t] ~= col then
      src.close()
      raise_usage(("import: columns '%s' and '%s' both map to field '%s'"):format(targets[t], col, t),
        "DUPLICATE_FIELD")
    end
    if t then targets[t] = col end
    resolved[col] = t
    return t
  end
  if src.header then
    for _, h in ipairs(src.header) do resolve(h) end
    if not targets[compare] then
      src.close()
      raise_usage(("import: no column maps to the compare field '%s'"):format(compare), "NO_COMPARE_FIELD")
    end
  end

  local dedupe = new_dedupe(dedupe_mode)

  -- Turn a source row into a wire row. Returns row, key | nil, reason
  local function prepare(raw)
    local row, any, leaves = {}, false, 0
    for col, v in pairs(raw) do
      local t = resolve(col)
      if t then
        local s, why = cell(v, col)
        if s == nil then return nil, why end
        if type(s) == "string" then
          if src.kind == "table" then
            s, why = to_utf8(s, "utf-8", col)
            if not s then return nil, why end
          end
          s = trim(s)
        end
        if s ~= "" then
          if t == "tags" then
            s = split_tags(s)
            leaves = leaves + #s - 1
          end
          row[t] = s
          leaves = leaves + 1
          any = true
        end
      end
    end
    if not any then return nil, "empty row" end
    local why = check_row(row)
    if why then return nil, why end
    local key = row[compare]
    if key == nil or type(key) ~= "string" then
      return nil, "no " .. compare .. " (the compare field)"
    end
    if compare == "email" then key = lower(key) end
    return row, key, leaves
  end

  -- a rejected row as reported: text that is valid UTF-8 whatever the source held
  local function clean_row(raw)
    if type(raw) ~= "table" then return raw end
    local out
    for k, v in pairs(raw) do
      if type(v) == "string" and charset.utf8_problem(v) then
        out = out or {}
        out[k] = charset.sanitize(v)
      end
    end
    if not out then return raw end
    for k, v in pairs(raw) do if out[k] == nil then out[k] = v end end
    return out
  end

  local function reject(line, reason, raw)
    summary.rejected_count = summary.rejected_count + 1
    local entry = { line = line, reason = charset.sanitize(tostring(reason)), row = clean_row(raw) }
    if rej then rej.write(entry) end
    if #summary.rejected < max_rejected then summary.rejected[#summary.rejected + 1] = entry end
    if on_reject then on_reject(entry) end
  end

  -- journal ---------------------------------------------------------
  local jf
  local chunk_no = jstate and jstate.chunks or 0
  local rate_status = function()
    if client.rate_limit_status then return client:rate_limit_status() end
  end
  local chunk_bytes_now -- set below, once the chunk state exists
  local function progress(phase, extra_info)
    if not on_progress then return end
    local info = { phase = phase, rows = summary.rows, sent = summary.sent,
      rejected = summary.rejected_count, skipped = summary.skipped, bytes = summary.bytes,
      calls = summary.calls, chunk = chunk_no, offset = src.reader and src.reader.offset or nil,
      size = src.size, cap = cap, pending = chunk_bytes_now(),
      rate = (phase ~= "read") and rate_status() or nil }
    for k, v in pairs(extra_info or {}) do info[k] = v end
    on_progress(info)
  end

  -- skip what the journal says was accepted -----------------------------
  if resume_index > 0 then
    local last = jstate.last
    if dedupe_mode == false and src.kind == "csv" then
      local ok, err = src.reader:seek(last.offset, last.next_line)
      if not ok then
        src.close()
        raise_usage("import: cannot seek in the source: " .. tostring(err), "FILE_ERROR")
      end
      src.reader.digest = verified
      src.index = resume_index
    else
      -- re-read (without sending) so that duplicate detection sees the same rows as before
      while src.index < resume_index do
        local kind, a, line = src.next()
        if kind == nil then break end
        if kind == "row" then
          local row, key = prepare(a)
          if row then dedupe.check(key, line) end
        end
      end
      if src.index < resume_index or (src.kind == "csv" and src.reader.offset ~= last.offset) then
        src.close()
        raise_usage(("import: the source does not match the journal %s (it records %d rows up to byte %d);"
          .. " was the file changed?"):format(opts.journal, resume_index, last.offset), "JOURNAL_MISMATCH")
      end
    end
    summary.skipped = resume_index
  end

  if opts.journal then
    local ok, res = pcall(journal.open, opts.journal, jstate, list_id, compare)
    if not ok then
      src.close()
      error(res, 0)
    end
    jf = res
  end

  local function cleanup()
    src.close()
    backend.close()
    if jf then jf:close(); jf = nil end
  end

  -- chunk state (rows are encoded once, by the backend, as they are added) ---------
  local npieces, chunk_bytes, chunk_fields = 0, 0, 0
  local chunk_lines = {}
  -- row_after[k]: { index, offset, line, rejects bytes } of the source right after the chunk's
  -- k-th row, for a journal record of a part of the chunk (a v3 chunk split after a 413)
  local row_after = {}
  local part_first = 1 -- the chunk's first row not journaled yet
  chunk_bytes_now = function() return chunk_bytes end
  local chunk_first, chunk_last

  -- pos_*: where a rerun resumes after this chunk (the source position after its last row)
  -- With should_stop, a wait for a rate-limit slot happens here, in slices of 0.25 s, so an
  -- interrupt during it ends the import at once (nothing is in flight yet) rather than when
  -- the slot frees, possibly an hour later. Returns should_stop's value when interrupted.
  local function wait_for_slot()
    if not should_stop or not client.rate_limit_status then return nil end
    for _ = 1, 3 do -- then let the client wait (another process may have taken the slot)
      local st = client:rate_limit_status()
      if type(st) ~= "table" or (st.remaining or 1) > 0 or (st.reset_in or 0) <= 0 then return nil end
      progress("wait", { wait = st.reset_in, status = st })
      local deadline = core.now() + st.reset_in
      while true do
        local why = should_stop()
        if why then return why end
        local left = deadline - core.now()
        if left <= 0 then break end
        core.sleep(left < 0.25 and left or 0.25, true) -- returns at once on a caught signal
      end
    end
    return nil
  end

  local function send_chunk(pos_index, pos_offset, pos_line)
    local why = wait_for_slot()
    if why then
      summary.interrupted = why
      summary.pending = npieces
      return false
    end
    chunk_no = chunk_no + 1
    progress("send", { chunk_rows = npieces, chunk_bytes = chunk_bytes })
    part_first = 1
    -- a part of the chunk (rows 1..j, j < npieces) accepted on its own: journaled at once, so
    -- that a failure later in the chunk never makes a rerun send those rows again
    local function on_part(j)
      local ra = row_after[j]
      if j >= npieces or not ra then return end
      local rec = { chunk = chunk_no, first_line = chunk_lines[part_first], last_line = chunk_lines[j],
        rows = j - part_first + 1, next_index = ra[1], offset = ra[2], next_line = ra[3], rejects_bytes = ra[4],
        digest = src.reader and src.reader.digest and journal.digest_at(source, ra[2]) or "-" }
      if jf then journal.append(jf, rec) end
      summary.sent = summary.sent + rec.rows
      chunk_no = chunk_no + 1
      part_first = j + 1
    end
    local ok, res, err, ncalls = pcall(backend.send, on_part)
    summary.calls = summary.calls + (ok and ncalls or 1)
    if not ok or res == nil then
      chunk_no = chunk_no - 1
      local e = ok and err or res
      cleanup()
      if type(e) == "table" then e.import = summary end
      if not ok or raising then error(e, 0) end
      return nil, e
    end
    summary.chunks = summary.chunks + 1
    summary.sent = summary.sent + npieces - part_first + 1
    summary.bytes = summary.bytes + chunk_bytes
    do
      local added, updated, ignored, refused, queued, split = backend.counts(res)
      summary.added = summary.added + added
      summary.updated = summary.updated + updated
      summary.ignored = summary.ignored + ignored
      summary.queued = summary.queued + (queued or 0)
      summary.split = summary.split + (split or 0)
      if (split or 0) > 0 and chunk_bytes > 128 then
        -- the service's cap is below ours: later chunks are made to fit it at once
        cap = floor(chunk_bytes / 2)
        summary.cap = cap
      end
      for _, e in ipairs(refused) do
        local line = e.index and chunk_lines[e.index + 1]
        local code = charset.sanitize(e.code)
        summary.failed[#summary.failed + 1] = { line = line, code = code }
        summary.refused = summary.refused + 1
        local entry = { line = line, reason = "refused by the service: " .. code, service = true }
        if rej then rej.write(entry) end
        if on_reject then on_reject(entry) end
      end
    end
    local rec = { chunk = chunk_no, first_line = chunk_lines[part_first] or chunk_first, last_line = chunk_last,
      rows = npieces - part_first + 1,
      next_index = pos_index, offset = pos_offset, next_line = pos_line,
      rejects_bytes = rej and rej.bytes() or 0,
      digest = src.reader and src.reader.digest and src.reader.digest:hex(true) or "-" }
    if jf then journal.append(jf, rec) end
    npieces, chunk_bytes, chunk_fields, chunk_lines, row_after = 0, 0, 0, {}, {}
    rec.response = res
    progress("sent", { chunk_rows = rec.rows })
    if on_chunk and on_chunk(rec) == false then
      summary.stopped = true
      return false
    end
    return true
  end

  -- main loop --------------------------------------------------------
  local reader = src.reader
  local run = function()
    local b_index, b_offset, b_line -- source position before the current record
    while true do
      local why = should_stop and should_stop()
      if why then
        summary.interrupted = why
        summary.pending = npieces
        return true
      end
      b_index = src.index
      b_offset = reader and reader.offset or 0
      b_line = reader and reader.line or b_index + 1
      if npieces > 0 and not row_after[npieces] then
        row_after[npieces] = { b_index, b_offset, b_line, rej and rej.bytes() or 0 }
      end
      local kind, a, line, _, raw = src.next()
      if kind == nil then break end
      summary.rows = summary.rows + 1
      if kind == "bad" then
        reject(line, a, raw)
      else
        local row, key, leaves = prepare(a)
        if not row then
          reject(line, key, a)
        else
          local first = dedupe.check(key, line)
          if first then
            reject(line, ("duplicate in file (%s first at line %d)"):format(compare, first), a)
          else
            local len = backend.add(row, npieces) -- with its separator
            if npieces > 0 and (chunk_bytes + len > cap or (max_rows and npieces >= max_rows)
              or (max_fields and chunk_fields + leaves > max_fields)) then
              -- this row starts the next chunk (its index is part of its names)
              backend.undo(len)
              local ok, e = send_chunk(b_index, b_offset, b_line)
              if ok == nil then return nil, e end
              if ok == false then return true end
              len = backend.add(row, 0)
            end
            if len > cap then
              backend.undo(len)
              reject(line, ("row too large for max_bytes (%d bytes encoded)"):format(len), a)
            else
              npieces = npieces + 1
              chunk_bytes = chunk_bytes + len
              chunk_fields = chunk_fields + leaves
              chunk_lines[npieces] = line
              if npieces == 1 then chunk_first = line end
              chunk_last = line
            end
          end
        end
      end
      if on_progress and summary.rows % PROGRESS_EVERY == 0 then progress("read") end
    end
    local why = npieces > 0 and should_stop and should_stop()
    if why then
      summary.interrupted = why
      summary.pending = npieces
      return true
    end
    if npieces > 0 then
      local ok, e = send_chunk(src.index, reader and reader.offset or 0, reader and reader.line or src.index + 1)
      if ok == nil then return nil, e end
    end
    return true
  end
  local ok, r1, r2 = pcall(run)
  if not ok then
    cleanup()
    if errors.is_error(r1) and rawget(r1, "import") == nil then r1.import = summary end
    error(r1, 0)
  end
  if r1 == nil then return nil, r2, summary end
  cleanup()
  if opts.wait and backend.finish and summary.queued > 0 and not summary.interrupted and not summary.stopped then
    -- v3 imports run on the server: observe the end through the operations queue
    local done, ncalls, err = backend.finish(opts.wait)
    summary.calls = summary.calls + ncalls
    summary.completed = done or false
    if done == nil then
      if type(err) == "table" then err.import = summary end
      if raising then error(err, 0) end
      return nil, err, summary
    end
  end
  if opts.receive and backend.reports and not summary.interrupted and not summary.stopped then
    -- v3: the service's own counts, one report per accepted import-bulk call at callback_url
    local sum, partial = backend.reports(opts.receive, opts.wait_timeout, opts.poll_interval)
    summary.service = sum or partial
    summary.reports_missing = not sum or nil
    local got = sum or partial
    summary.added = summary.added + got.imported
    summary.updated = summary.updated + got.updated
    summary.ignored = summary.ignored + got.ignored
    summary.invalid = got.invalid
  end
  progress("done")
  return summary
end

---------------------------------------------------------------------------
-- the public entry points honour the client's error mode: with raise = false every egoi.Error
-- (a bad option, a missing or malformed file, a bad journal, an unwritable path, a failed call)
-- comes back as nil, err[, summary]; anything else (a bug, an error raised by the caller's own
-- callback) propagates. Without a client there is no mode to honour: that raises.

local function outcome(client, ok, ...)
  if ok then return ... end
  local e = ...
  if errors.is_error(e) and type(client) == "table" and client.raise == false then
    return nil, e, rawget(e, "import")
  end
  error(e, 0)
end

--- Import subscribers (see `import` above for source, options and the summary).
function bulk.import(client, source, opts)
  return outcome(client, pcall(import, client, source, opts))
end

--- Export a list to CSV (see `export` above).
function bulk.export(client, list_id, dest, opts)
  return outcome(client, pcall(export, client, list_id, dest, opts))
end

return bulk
