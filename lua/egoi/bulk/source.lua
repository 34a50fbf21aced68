-- egoi.bulk.source - the rows of an import: a uniform record reader over a CSV file (UTF-8
-- checked or decoded from latin1/windows-1252), an iterator function or an array; and the
-- check that a path the user names is a regular file.
local core = require "egoi.core"
local csv = require "egoi.csv"
local charset = require "egoi.charset"
local errors = require "egoi.errors"
local validate = require "egoi.bulk.validate"

local source = {}

local type, ipairs, tostring, error, pcall = type, ipairs, tostring, error, pcall
local floor = math.floor
local find, format = string.find, string.format
local trim = validate.trim

local function usage(message, code)
  return errors.usage("addSubscriberBulk", code, message)
end

local function raise_usage(message, code)
  error(usage(message, code), 3)
end
source.usage, source.raise_usage = usage, raise_usage -- the bulk functions' usage errors

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
source.check_path = check_path

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

local function table_source(rows)
  local src = { kind = "table", index = 0 }
  local i = 0
  local nextrow
  if type(rows) == "function" then
    nextrow = rows
  else
    -- every row up to #rows is sent: a hole would end a walk there, so it is refused first
    local n = #rows
    for k = 1, n do
      if rows[k] == nil then
        raise_usage(("argument 'rows': row %d is missing (a hole in the array; rows after it would be lost)"):format(k),
          "INVALID_ARGUMENT")
      end
    end
    nextrow = function()
      i = i + 1
      if i > n then return nil end
      return rows[i]
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

source.cell = cell
source.to_utf8 = to_utf8
source.csv = csv_source
source.table = table_source

return source
