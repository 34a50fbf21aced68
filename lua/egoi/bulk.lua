-- egoi.bulk - bulk import (addSubscriberBulk) and export (subscriberData paging).
--
--   local bulk = require "egoi.bulk"
--   local summary = bulk.import(client, "contacts.csv", { listID = 3, journal = "import.journal" })
--   local info = bulk.export(client, 3, "out.csv")
--
-- See doc/CLI.md ("import" and "export") for the rules in prose; the comments below are the
-- reference for the options and the returned summaries.
local core = require "egoi.core"
local csv = require "egoi.csv"
local errors = require "egoi.errors"
local check = require "egoi.check"
local option_names = require "egoi.options"
local charset = require "egoi.charset"
local journal = require "egoi.bulk.journal"
local rejects_file = require "egoi.bulk.rejects"

local type, pairs, ipairs, tostring, tonumber, error, pcall =
  type, pairs, ipairs, tostring, tonumber, error, pcall
local concat, sort = table.concat, table.sort
local floor = math.floor
local find, match, lower, sub, gsub, format =
  string.find, string.match, string.lower, string.sub, string.gsub, string.format

local bulk = {}

local DEFAULT_MAX_BYTES = 40 * 1024 * 1024 -- service limit is 50 MB per call
local KEY_ALLOWANCE = 256                  -- apikey + plugin_key, added by the client
local EXACT_DEDUPE_LIMIT = 100000           -- distinct keys kept as strings before hashing
local DEFAULT_MAX_REJECTED = 10000
local PROGRESS_EVERY = 10000                -- rows between "read" progress reports
local PREFIX = "functionOptions[subscribers]"

local function usage(message, code)
  return errors.new{ kind = "usage", code = code or "INVALID_ARGUMENT", message = message,
    method = "addSubscriberBulk" }
end

local function raise_usage(message, code)
  error(usage(message, code), 3)
end

---------------------------------------------------------------------------
-- field names

-- canonical subscriber fields (addSubscriber option names) and accepted spellings
local FIELDS = {}
for _, f in ipairs{ "email", "cellphone", "telephone", "fax", "first_name", "last_name",
  "birth_date", "lang", "status", "tax_id", "address", "zip_code", "city", "district", "state",
  "country", "age", "gender", "id_card", "company", "tags" } do
  FIELDS[f] = f
end
local ALIASES = {
  language = "lang", e_mail = "email", mobile = "cellphone", phone = "telephone",
  firstname = "first_name", lastname = "last_name", birthdate = "birth_date",
  zip = "zip_code", zipcode = "zip_code",
}
for k, v in pairs(ALIASES) do FIELDS[k] = v end
bulk.FIELDS = FIELDS

-- columns of an export that a subscriber cannot be imported with: skipped without a fuss
local READ_ONLY = {}
for _, f in ipairs{ "uid", "list", "add_date", "subscription_method", "bounces", "email_sent",
  "email_views", "referrals", "referrals_converted", "clicks", "sms_sent", "sms_delivered",
  "remove_method", "remove_date", "remove_reason", "remove_obs", "modification_date",
  "update_date", "activity", "form_id" } do
  READ_ONLY[f] = true
end
bulk.READ_ONLY = READ_ONLY

local function trim(s)
  return (gsub(s, "^%s+", ""):gsub("%s+$", ""))
end

local function norm_name(name)
  return (gsub(lower(trim(name)), "[%s%-]+", "_"))
end

-- field for a name without consulting the list: field | false (skip) | nil (unknown)
local function static_target(name)
  local key = norm_name(name)
  local f = FIELDS[key]
  if f then return f end
  local id = match(key, "^extra_(%d+)$") or match(key, "^extra_field_(%d+)$")
  if id then return "extra_" .. id end
  if READ_ONLY[key] then return false end
  return nil
end

---------------------------------------------------------------------------
-- validation

local function email_problem(e)
  if #e > 254 then return "e-mail address longer than 254 characters" end
  local lp, dom = match(e, "^(.+)@([^@]+)$")
  if not lp then return "not an e-mail address" end
  if #lp > 64 then return "e-mail local part longer than 64 characters" end
  if find(lp, '[%s@"(),:;<>%[%]\\]') or find(lp, "^%.") or find(lp, "%.$") or find(lp, "%.%.") then
    return "invalid e-mail local part"
  end
  if find(dom, "[^%w%.%-\128-\255]") or not find(dom, "%.") or find(dom, "%.%.")
    or find(dom, "^[%.%-]") or find(dom, "[%.%-]$") or find(dom, "%-%.") or find(dom, "%.%-") then
    return "invalid e-mail domain"
  end
  local tld = match(dom, "%.([^%.]+)$")
  if #tld < 2 or find(tld, "^%d+$") then return "invalid e-mail domain" end
  return nil
end
bulk.email_problem = email_problem

-- E.164 country calling codes are prefix-free. Codes of one and two digits are listed; the
-- listed two-digit prefixes start three-digit codes; any other prefix (28x, 83x, 89x, 0…)
-- is spare, so a +number starting with it is refused as ambiguous.
local CC1 = { ["1"] = true, ["7"] = true }
local CC2 = {}
for c in ("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
  .. "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98"):gmatch("%d+") do
  CC2[c] = true
end
local CC3 = {}
for c in ("21 22 23 24 25 26 29 35 37 38 42 50 59 67 68 69 80 85 87 88 96 97 99"):gmatch("%d+") do
  CC3[c] = true
end

--- "<cc>-<number>" for a phone given as "351-912345678", "+351 912 345 678" or
-- "00351912345678"; nil, reason otherwise. A number without a country code is refused
-- (which country would it be?).
local function normalize_phone(p)
  local s = gsub(p, "[%s%.%(%)]", "")
  local cc, num = match(s, "^%+?(%d%d?%d?)%-(%d+)$")
  if cc then
    if #num < 4 or #num > 14 then return nil, "phone number has a wrong length" end
    return cc .. "-" .. num
  end
  local digits = match(s, "^%+([%d%-]+)$") or match(s, "^00([%d%-]+)$")
  if not digits then
    return nil, "phone must be <country code>-<number> (e.g. 351-912345678) or +<country code><number>"
  end
  digits = gsub(digits, "%-", "")
  local n
  if CC1[sub(digits, 1, 1)] then n = 1
  elseif CC2[sub(digits, 1, 2)] then n = 2
  elseif CC3[sub(digits, 1, 2)] then n = 3
  else return nil, "unknown country calling code in " .. p end
  num = sub(digits, n + 1)
  if #num < 4 or #digits > 15 then return nil, "phone number has a wrong length" end
  return sub(digits, 1, n) .. "-" .. num
end
bulk.normalize_phone = normalize_phone

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function date_ok(s)
  local y, m, d = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return false end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 then return false end
  local max = DAYS[m]
  if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then max = 29 end
  return d <= max
end

local PHONES = { cellphone = true, telephone = true, fax = true }

-- Validate (and normalise in place) one mapped row. Returns nil | reason.
local function check_row(row)
  for field, v in pairs(row) do
    if field == "email" then
      local p = email_problem(v)
      if p then return p .. ": " .. v end
    elseif PHONES[field] then
      local n, why = normalize_phone(v)
      if not n then return field .. ": " .. why end
      row[field] = n
    elseif field == "status" then
      if not match(v, "^[0-4]$") then return "status must be 0, 1, 2, 3 or 4: " .. v end
    elseif field == "birth_date" then
      if not date_ok(v) then return "birth_date must be a date YYYY-MM-DD: " .. v end
    elseif field == "lang" then
      row[field] = lower(v)
    end
  end
  return nil
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
-- sources: a uniform record reader over CSV files, iterator functions and arrays.
-- src.next() -> "row", values, line, offset | "bad", reason, line, offset, raw | nil
-- values: { [name] = value } keyed by source column name

local function cell(v, name)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return format("%d", v) end
    return tostring(v)
  end
  if t == "table" and name == "tags" then return v end
  if t == "boolean" then return v and "1" or "0" end
  return nil, "value of '" .. tostring(name) .. "' is a " .. t
end

local KIND_NAME = { directory = "directory", fifo = "named pipe", char = "device", block = "device",
  socket = "socket", other = "special file" }

-- refuse what is not a regular file (a directory, /dev/zero, a pipe: reading those never
-- ends or means nothing); a missing file is fine unless must_exist
local function check_path(what, path, must_exist, verb)
  local kind, err, code = core.file_kind(path)
  if kind == nil then
    if code == "ENOENT" and not must_exist then return end
    raise_usage(("%s: cannot open %s %s: %s"):format(verb or "import", what, path, tostring(err)), "FILE_ERROR")
  end
  if kind ~= "file" then
    raise_usage(("%s: %s %s is a %s, not a regular file"):format(verb or "import", what, path,
      KIND_NAME[kind] or kind), "NOT_A_FILE")
  end
end
bulk._check_path = check_path

local ENCODING_HINT = "name the file's encoding (option encoding, egoi import --encoding) if it is"
  .. " latin1 or windows-1252"

-- the field as UTF-8, or nil, reason
local function to_utf8(v, encoding, col)
  if not find(v, "[\128-\255]") then return v end
  if encoding == "utf-8" then
    local pos, b = charset.utf8_problem(v)
    if not pos then return v end
    return nil, ("invalid UTF-8 in column '%s' (byte 0x%02X at position %d); %s"):format(
      charset.sanitize(col), b, pos, ENCODING_HINT)
  end
  local out, pos, b = charset.decode(v, encoding)
  if out then return out end
  return nil, ("byte 0x%02X at position %d of column '%s' is not a %s character"):format(
    b, pos, charset.sanitize(col), encoding)
end

local function csv_source(path, opts, digest)
  local encoding = opts.encoding and charset.normalize_name(opts.encoding) or "utf-8"
  local r, err = csv.open(path, { max_record = opts.max_record, digest = digest })
  if not r then
    raise_usage("import: cannot open " .. tostring(path) .. ": " .. tostring(err), "FILE_ERROR")
  end
  local src = { kind = "csv", reader = r, index = 0 }
  -- a record over max_record makes the reader raise: the file cannot be read on
  local function read()
    local ok, fields, line, offset, bad_offset = pcall(r.next, r)
    if not ok then
      r:close()
      error(usage(("import: %s: %s"):format(path, (tostring(fields):gsub("^csv: ", ""))), "BAD_CSV"), 0)
    end
    return fields, line, offset, bad_offset
  end
  local header, hline = read()
  if header == false then
    r:close()
    raise_usage(("import: %s: malformed header line: %s"):format(path, hline), "BAD_CSV")
  end
  if header == nil then header = {} end
  local seen = {}
  for i, h in ipairs(header) do
    local u, why = to_utf8(h, encoding, "#" .. i)
    if not u then
      r:close()
      raise_usage(("import: %s: the header line: %s"):format(path, why), "BAD_CSV")
    end
    h = trim(u)
    if h == "" then
      r:close()
      raise_usage(("import: %s: header column %d has no name"):format(path, i), "BAD_CSV")
    end
    if seen[h] then
      r:close()
      raise_usage(("import: %s: header column '%s' appears twice"):format(path, h), "BAD_CSV")
    end
    seen[h] = true
    header[i] = h
  end
  src.header = header
  src.size = r:size()
  local ncol = #header
  function src.next()
    local fields, line, offset, bad_offset = read()
    if fields == nil then return nil end
    src.index = src.index + 1
    if fields == false then -- line = reason, offset = first line
      return "bad", line, offset, bad_offset, nil
    end
    local raw = {}
    local bad
    for i = 1, #fields do
      local h = header[i]
      if h then
        local v, why = to_utf8(fields[i], encoding, h)
        if not v then
          bad = bad or why
          v = fields[i]
        end
        raw[h] = v
      end
    end
    if bad then return "bad", bad, line, offset, raw end
    if #fields ~= ncol then
      return "bad", format("%d fields, the header has %d", #fields, ncol), line, offset, raw
    end
    return "row", raw, line, offset
  end
  function src.close() r:close() end
  return src
end

local function table_source(source)
  local src = { kind = "table", index = 0 }
  local i = 0
  local nextrow
  if type(source) == "function" then
    nextrow = source
  else
    nextrow = function()
      i = i + 1
      return source[i]
    end
  end
  function src.next()
    local row = nextrow()
    if row == nil then return nil end
    src.index = src.index + 1
    if type(row) ~= "table" then
      return "bad", "row is a " .. type(row) .. ", not a table", src.index, 0, nil
    end
    return "row", row, src.index, 0
  end
  function src.close() end
  return src
end

---------------------------------------------------------------------------
-- extra fields of a list: lower-case name -> "extra_<id>"

local function extra_fields(client, list_id)
  local res, err = client:call("getExtraFields", { listID = list_id })
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

---------------------------------------------------------------------------
-- import

local function check_opts(client, source, opts)
  if type(client) ~= "table" or type(client.call_buffer) ~= "function" then
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
-- import there, summary.interrupted = that value).
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

  local base = { listID = list_id, compareField = compare, operation = opts.operation or 2,
    status = opts.status, tags = opts.tags, autoresponder = opts.autoresponder,
    notification = opts.notification }
  local overhead = #core.form_request("addSubscriberBulk", base, "json") + 1 + KEY_ALLOWANCE
  local cap = (opts.max_bytes or DEFAULT_MAX_BYTES) - overhead
  if cap < 64 then
    raise_usage(("import: option 'max_bytes' is too small (the call itself needs about %d bytes)")
      :format(overhead))
  end

  local summary = { rows = 0, sent = 0, rejected = {}, rejected_count = 0, failed = {}, calls = 0,
    chunks = 0, skipped = 0, bytes = 0, added = 0, updated = 0, ignored = 0, stopped = false,
    ignored_columns = {}, cap = cap, refused = 0, warnings = {} }
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
      local ef, err = extra_fields(client, list_id)
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
    if jf then jf:close(); jf = nil end
  end

  -- chunk state -------------------------------------------------------
  -- rows are encoded once, straight into the request body: a core.form_buffer
  -- that already holds method, type and options (no per-row strings, and the
  -- C transport sends the chunk from that buffer without another copy)
  local function body_buffer()
    local b, e = client:body_buffer("addSubscriberBulk", base)
    if not b then error(e, 0) end
    return b
  end
  local fb = body_buffer()
  local npieces, chunk_bytes, chunk_fields = 0, 0, 0
  local chunk_lines = {}
  chunk_bytes_now = function() return chunk_bytes end
  local chunk_first, chunk_last

  -- pos_*: where a rerun resumes after this chunk (the source position after its last row)
  local function send_chunk(pos_index, pos_offset, pos_line)
    chunk_no = chunk_no + 1
    progress("send", { chunk_rows = npieces, chunk_bytes = chunk_bytes })
    local ok, res, err = pcall(client.call_buffer, client, "addSubscriberBulk", fb)
    fb:close() -- frees the chunk now rather than at the next collection
    fb = body_buffer()
    summary.calls = summary.calls + 1
    if not ok or res == nil then
      chunk_no = chunk_no - 1
      local e = ok and err or res
      cleanup()
      if type(e) == "table" then e.import = summary end
      if not ok or raising then error(e, 0) end
      return nil, e
    end
    summary.chunks = summary.chunks + 1
    summary.sent = summary.sent + npieces
    summary.bytes = summary.bytes + chunk_bytes
    if type(res) == "table" then
      summary.added = summary.added + (tonumber(res.ADDED) or 0)
      summary.updated = summary.updated + (tonumber(res.UPDATED) or 0)
      summary.ignored = summary.ignored + (tonumber(res.IGNORED) or 0)
      if type(res.ERRORS) == "table" then
        for _, e in pairs(res.ERRORS) do
          if type(e) == "table" then
            local idx = tonumber(e.LINE)
            local line = idx and chunk_lines[idx + 1]
            local code = charset.sanitize(tostring(e.ERROR or e.error or "refused"))
            summary.failed[#summary.failed + 1] = { line = line, code = code }
            summary.refused = summary.refused + 1
            local entry = { line = line, reason = "refused by the service: " .. code, service = true }
            if rej then rej.write(entry) end
            if on_reject then on_reject(entry) end
          end
        end
      end
    end
    local rec = { chunk = chunk_no, first_line = chunk_first, last_line = chunk_last, rows = npieces,
      next_index = pos_index, offset = pos_offset, next_line = pos_line,
      rejects_bytes = rej and rej.bytes() or 0,
      digest = src.reader and src.reader.digest and src.reader.digest:hex(true) or "-" }
    if jf then journal.append(jf, rec) end
    npieces, chunk_bytes, chunk_fields, chunk_lines = 0, 0, 0, {}
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
            local before = fb:len()
            local len = fb:add(row, PREFIX, npieces) - before -- with its "&" separator
            if npieces > 0 and (chunk_bytes + len > cap or (max_rows and npieces >= max_rows)
              or (max_fields and chunk_fields + leaves > max_fields)) then
              -- this row starts the next chunk (its index is part of its names)
              fb:truncate(before)
              local ok, e = send_chunk(b_index, b_offset, b_line)
              if ok == nil then return nil, e end
              if ok == false then return true end
              local start = fb:len() -- the fresh body holds the options already
              len = fb:add(row, PREFIX, 0) - start
            end
            if len > cap then
              fb:truncate(fb:len() - len)
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
  progress("done")
  return summary
end

---------------------------------------------------------------------------
-- export

-- export column names: the API's option names where there is one
local EXPORT_NAME = { LANGUAGE = "lang" }
local KNOWN_ORDER = { "uid", "email", "cellphone", "telephone", "fax", "first_name", "last_name",
  "birth_date", "lang", "status" }
local KNOWN_RANK = {}
for i, k in ipairs(KNOWN_ORDER) do KNOWN_RANK[k] = i end

local function column_of(key, raw_names)
  if raw_names then return key end
  local id = match(key, "^EXTRA_FIELD_(.+)$") or match(key, "^extra_(.+)$")
  if id then return "extra_" .. id end
  return EXPORT_NAME[key] or lower(key)
end

local function value_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == floor(v) then return format("%d", v) end
    return tostring(v)
  end
  if t == "boolean" then return v and "1" or "0" end
  if t == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = value_text(v[i]) end
    return concat(parts, ";")
  end
  return ""
end

--- Export every subscriber of a list as CSV. dest: path, or function(text) called with each
-- line (terminator included). opts: page_size (1000), segment, raw_names (keep the API's
-- upper-case keys as column names), eol, on_page(info).
-- Returns { rows =, calls =, columns = {…} }; raises (or nil, err with raise = false). A path
-- that cannot be written is refused before the first call; the file is written once every page
-- has arrived (a failed export leaves an existing file as it was).
-- Fail now, before any call, when `path` cannot be written; never truncate or leave behind
-- a file (the real write happens after the last page arrived).
local function check_writable(path)
  local existed = io.open(path, "rb")
  if existed then existed:close() end
  local f, err = io.open(path, "ab")
  if not f then
    raise_usage("export: cannot write " .. path .. ": " .. tostring(err), "FILE_ERROR")
  end
  f:close()
  if not existed then os.remove(path) end
end

local function export(client, list_id, dest, opts)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    raise_usage("export: argument 'client' must be an egoi client")
  end
  if list_id == nil or check.value("id", list_id) then
    raise_usage("export: argument 'listID' must be a positive integer list id, got " .. check.show(list_id))
  end
  if type(dest) ~= "string" and type(dest) ~= "function" then
    raise_usage("export: argument 'dest' must be a path or a function, got " .. type(dest))
  end
  if opts ~= nil and type(opts) ~= "table" then raise_usage("export: argument 'opts' must be a table") end
  opts = opts or {}
  local why = check.names(opts, option_names.export, "option")
  if why then raise_usage("export: " .. why) end
  local size = opts.page_size or 1000
  if type(size) ~= "number" or size < 1 or size ~= floor(size) then
    raise_usage("export: option 'page_size' must be a positive integer")
  end
  if opts.eol ~= nil and opts.eol ~= "\n" and opts.eol ~= "\r\n" then
    raise_usage("export: option 'eol' must be \"\\n\" or \"\\r\\n\"")
  end
  if opts.on_page ~= nil and type(opts.on_page) ~= "function" then
    raise_usage("export: option 'on_page' must be a function")
  end
  if opts.segment ~= nil and check.value("segment", opts.segment) then
    raise_usage("export: option 'segment' " .. check.value("segment", opts.segment))
  end
  if type(dest) == "string" then
    check_path("the output file", dest, false, "export")
    check_writable(dest)
  end
  local raw_names = opts.raw_names == true

  local calls, start = 0, 0
  local columns, colset = {}, {}
  local spool, spool_path, first
  local rows = 0
  local invalid = 0
  local total, total_known
  local cjson = require("cjson").new()

  -- the list's subscriber count (one getLists call; its failure fails the export), or nil
  -- when it cannot be known (a segment): then paging goes on to an empty page
  local function list_total()
    if opts.segment ~= nil and tostring(opts.segment):upper() ~= "ALL" then return nil end
    local res, err = client:call("getLists", {})
    calls = calls + 1
    if res == nil then error(err, 0) end
    if type(res) ~= "table" then return nil end
    for _, l in pairs(res) do
      if type(l) == "table" and tostring(l.listnum) == tostring(list_id) then return tonumber(l.subs_total) end
    end
    return nil
  end

  local function page()
    -- one page as an array (subscribers:page copes with every answer shape)
    local recs, err = client.subscribers:page{ listID = list_id, start = start, page_size = size,
      segment = opts.segment }
    calls = calls + 1
    if recs == nil then return nil, err end
    return recs
  end

  local function flat(rec)
    local out = {}
    for k, v in pairs(rec) do
      local c = column_of(tostring(k), raw_names)
      if out[c] == nil or out[c] == "" then
        local t = value_text(v)
        if find(t, "[\128-\255]") and charset.utf8_problem(t) then
          invalid = invalid + 1
          t = charset.sanitize(t)
        end
        out[c] = t
      end
      if not colset[c] then
        colset[c] = true
        columns[#columns + 1] = c
      end
    end
    return out
  end

  local function fail(err)
    if spool then spool:close(); os.remove(spool_path) end
    if client.raise ~= false then error(err, 0) end
    return nil, err
  end

  local ok_call, err_call = pcall(function()
    while true do
      local recs, err = page()
      if recs == nil then return err end
      local n = #recs
      for i = 1, n do
        local r = flat(recs[i])
        rows = rows + 1
        if not first then
          first = {}
        end
        if spool then
          spool:write(cjson.encode(r), "\n")
        else
          first[#first + 1] = r
        end
      end
      start = start + n
      if opts.on_page then opts.on_page({ rows = rows, calls = calls }) end
      if n == 0 or n > size then break end
      if n < size then
        -- the end, or a service that caps pages below page_size: the list's count decides
        if not total_known then
          total, total_known = list_total(), true
        end
        if total and rows >= total then break end
      end
      if not spool then
        -- more than one page: keep memory flat by spooling records to a temporary file
        spool_path = os.tmpname()
        local serr
        spool, serr = io.open(spool_path, "w+b")
        if not spool then
          os.remove(spool_path)
          raise_usage("export: cannot create a temporary file: " .. tostring(serr), "FILE_ERROR")
        end
        for _, r in ipairs(first) do spool:write(cjson.encode(r), "\n") end
        first = {}
      end
    end
  end)
  if not ok_call then return fail(err_call) end
  if err_call then return fail(err_call) end

  sort(columns, function(a, b)
    local ra, rb = KNOWN_RANK[a], KNOWN_RANK[b]
    if ra and rb then return ra < rb end
    if ra or rb then return ra ~= nil end
    return a < b
  end)
  local w, werr = csv.writer(dest, { eol = opts.eol })
  if not w then
    if spool then spool:close(); os.remove(spool_path) end
    raise_usage("export: cannot write " .. tostring(dest) .. ": " .. tostring(werr), "FILE_ERROR")
  end
  local ncol = #columns
  local function put(fields)
    local ok, err = w:write(fields, ncol)
    if not ok then
      w:close()
      if spool then spool:close(); os.remove(spool_path) end
      raise_usage("export: cannot write " .. tostring(dest) .. ": " .. tostring(err), "FILE_ERROR")
    end
  end
  put(columns)
  local function emit(r)
    local vals = {}
    for i = 1, ncol do vals[i] = r[columns[i]] or "" end
    put(vals)
  end
  if spool then
    spool:seek("set", 0)
    for line in spool:lines() do emit(cjson.decode(line)) end
    spool:close()
    os.remove(spool_path)
    spool = nil
  else
    for _, r in ipairs(first or {}) do emit(r) end
  end
  local ok, err = w:close()
  if not ok then raise_usage("export: cannot write " .. tostring(dest) .. ": " .. tostring(err), "FILE_ERROR") end
  local summary = { rows = rows, calls = calls, columns = columns, total = total, invalid_utf8 = invalid }
  if total and rows < total then
    local e = errors.new{ kind = "api", code = "EXPORT_INCOMPLETE", method = "subscriberData",
      message = ("export: received %d subscribers but list %s counts %d; the file holds what arrived,"
        .. " it is not the whole list"):format(rows, tostring(list_id), total) }
    e.export = summary
    return fail(e)
  end
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
