-- egoi.csv - a streaming RFC 4180 CSV reader and a CSV writer.
--
--   local csv = require "egoi.csv"
--   local r = csv.open("contacts.csv")          -- or csv.reader(file_handle)
--   for fields, line, offset in r:records() do   -- fields: array of strings
--     ...                                        -- line: first physical line of the record
--   end                                          -- offset: byte offset just after it
--   r:close()
--
-- Reader rules: fields are separated by commas; a field that starts with a double quote runs
-- to the matching closing quote and may hold commas, line breaks and doubled quotes ("");
-- records end at LF or CRLF (a line break inside quotes is kept as it is in the file); a UTF-8
-- byte-order mark at the very start is skipped; blank lines are skipped (they still count
-- for line numbers). Memory is bounded by the longest record (`max_record` bytes, default
-- 1 MiB; a longer record raises, which is what an unbalanced quote usually turns into).
--
-- A record that breaks the quoting rules (text after a closing quote, a quote that is never
-- closed) is returned as `false, reason, line, offset` so a caller can reject it and go on.
--
--   local w = csv.writer(dest)    -- dest: path, file handle, or function(text)
--   w:write{ "a", "b,c" }         -- a,"b,c"\n  (fields quoted only when needed)
--   w:close()
local csv = {}

local type, tostring, error, setmetatable = type, tostring, error, setmetatable
local concat = table.concat
local find, sub, gsub, byte = string.find, string.sub, string.gsub, string.byte

local DEFAULT_MAX_RECORD = 1024 * 1024
local BLOCK = 65536
local BOM = "\239\187\191"
local QUOTE = 34 -- '"'

local Reader = {}
Reader.__index = Reader

--- Wrap an open file handle (read mode, positioned at the start of a record).
-- opts.max_record: byte limit for one record (default 1 MiB); opts.close: close the handle
-- with the reader (default false); opts.line / opts.offset: line number and byte offset of
-- the handle's current position (default 1 and 0: the start of the file); opts.digest: an
-- object with update(bytes) and mark() (core.digest()) fed every byte read after a BOM, and
-- marked at the start of each record.
function csv.reader(handle, opts)
  if handle == nil or (type(handle) ~= "userdata" and type(handle) ~= "table") then
    error("csv.reader: argument 'handle' must be an open file, got " .. type(handle), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("csv.reader: argument 'opts' must be a table or nil", 2)
  end
  opts = opts or {}
  local max_record = opts.max_record or DEFAULT_MAX_RECORD
  if type(max_record) ~= "number" or max_record < 1 then
    error("csv.reader: option 'max_record' must be a positive number", 2)
  end
  return setmetatable({
    f = handle,
    line = opts.line or 1,           -- number of the next physical line
    offset = opts.offset or 0,       -- byte offset of the next unread byte
    max_record = max_record,
    own = opts.close == true,
    first = (opts.offset or 0) == 0, -- a BOM can only be at offset 0
    digest = opts.digest,
    buf = nil, pos = 1,              -- the block being read and the next byte in it
  }, Reader)
end

--- Open a file for reading. Returns a reader, or nil, message.
function csv.open(path, opts)
  if type(path) ~= "string" then
    error("csv.open: argument 'path' must be a string, got " .. type(path), 2)
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.close = true
  local r = csv.reader(f, o)
  r.path = path
  return r
end

-- the next physical line with its terminator, or nil at end of file. The file is read in
-- blocks, so a line is never longer in memory than max_record (plus a block): a file without
-- line breaks fails at max_record instead of being read whole.
local function read_line(self)
  local buf, pos = self.buf, self.pos
  local nl = buf and find(buf, "\n", pos, true)
  local s
  if nl then
    s = sub(buf, pos, nl)
    self.pos = nl + 1
  else
    local parts, n, total = {}, 0, 0
    if buf and pos <= #buf then
      n = 1
      parts[1] = sub(buf, pos)
      total = #parts[1]
    end
    while true do
      local blk = self.f:read(BLOCK)
      if not blk then
        self.buf, self.pos = nil, 1
        break
      end
      local j = find(blk, "\n", 1, true)
      n = n + 1
      if j then
        parts[n] = sub(blk, 1, j)
        self.buf, self.pos = blk, j + 1
        break
      end
      parts[n] = blk
      total = total + #blk
      if total > self.max_record + 2 then
        self.buf, self.pos = nil, 1
        error(("csv: the record starting at line %d is longer than %d bytes"):format(
          self.line, self.max_record), 0)
      end
    end
    if n == 0 then return nil end
    s = n == 1 and parts[1] or concat(parts)
  end
  if self.first then
    self.first = false
    if sub(s, 1, 3) == BOM then
      self.offset = self.offset + 3
      s = sub(s, 4)
    end
  end
  self.offset = self.offset + #s
  self.line = self.line + 1
  if self.digest then self.digest:update(s) end
  return s
end

-- split a line into its content and its terminator ("\r\n", "\n" or "")
local function chomp(s)
  local n = #s
  if byte(s, n) == 10 then
    if byte(s, n - 1) == 13 then return sub(s, 1, n - 2), "\r\n" end
    return sub(s, 1, n - 1), "\n"
  end
  return s, ""
end

-- Parse one record whose first line (without terminator) is `s`. Returns fields | false, reason
local function parse(self, s, eol, first_line)
  local fields, n = {}, 0
  local pos = 1
  local size = #s
  while true do
    if byte(s, pos) == QUOTE then
      local parts, np = {}, 0
      local i = pos + 1
      while true do
        local q = find(s, '"', i, true)
        if q == nil then
          -- the quoted field goes on past this line
          np = np + 1
          parts[np] = sub(s, i) .. eol
          size = size + #eol
          local nxt = read_line(self)
          if nxt == nil then
            return false, ("unterminated quoted field (opened at line %d)"):format(first_line)
          end
          s, eol = chomp(nxt)
          size = size + #s
          if size > self.max_record then
            error(("csv: the record starting at line %d is longer than %d bytes "
              .. "(an unbalanced quote?)"):format(first_line, self.max_record), 0)
          end
          i = 1
        elseif byte(s, q + 1) == QUOTE then
          np = np + 1
          parts[np] = sub(s, i, q) -- keep one quote
          i = q + 2
        else
          np = np + 1
          parts[np] = sub(s, i, q - 1)
          pos = q + 1
          break
        end
      end
      n = n + 1
      fields[n] = concat(parts)
      local c = byte(s, pos)
      if c == nil then
        return fields
      elseif c ~= 44 then -- ','
        return false, ("unexpected text after a closing quote (line %d)"):format(self.line - 1)
      end
      pos = pos + 1
    else
      local comma = find(s, ",", pos, true)
      n = n + 1
      if comma then
        fields[n] = sub(s, pos, comma - 1)
        pos = comma + 1
      else
        fields[n] = sub(s, pos)
        return fields
      end
    end
  end
end

--- The next record: fields, line, offset | false, reason, line, offset | nil at end of file.
-- `line` is the number of the record's first physical line; `offset` the byte offset just
-- after the record (where a later reader may resume).
function Reader:next()
  if self.digest then self.digest:mark() end
  while true do
    local raw = read_line(self)
    if raw == nil then return nil end
    local first_line = self.line - 1
    local s, eol = chomp(raw)
    if #s > self.max_record then
      error(("csv: the record starting at line %d is longer than %d bytes"):format(
        first_line, self.max_record), 0)
    end
    if s ~= "" then
      if not find(s, '"', 1, true) then
        -- fast path: no quotes on the line
        local fields, n, pos = {}, 0, 1
        while true do
          local comma = find(s, ",", pos, true)
          n = n + 1
          if comma then
            fields[n] = sub(s, pos, comma - 1)
            pos = comma + 1
          else
            fields[n] = sub(s, pos)
            break
          end
        end
        return fields, first_line, self.offset
      end
      local fields, reason = parse(self, s, eol, first_line)
      if not fields then
        return false, reason, first_line, self.offset
      end
      return fields, first_line, self.offset
    end
  end
end

--- Iterator over the records (for fields, line, offset in r:records()). Malformed records
-- raise here; use r:next() to handle them.
function Reader:records()
  return function()
    local fields, line, offset = self:next()
    if fields == false then
      error("csv: " .. line, 0)
    end
    return fields, line, offset
  end
end

--- Move to a byte offset (the `offset` of an earlier record) whose next line number is `line`.
function Reader:seek(offset, line)
  if type(offset) ~= "number" or offset < 0 then
    error("reader:seek: argument 'offset' must be a non-negative number", 2)
  end
  local ok, err = self.f:seek("set", offset)
  if not ok then return nil, err end
  self.offset = offset
  self.line = line or self.line
  self.first = offset == 0
  self.buf, self.pos = nil, 1
  return true
end

--- Size of the underlying file in bytes (nil when it cannot be known).
function Reader:size()
  local cur = self.f:seek("cur")
  if not cur then return nil end
  local size = self.f:seek("end")
  self.f:seek("set", cur)
  return size
end

function Reader:close()
  if self.own and self.f then
    self.f:close()
  end
  self.f = nil
end

---------------------------------------------------------------------------
-- writing

--- One field as CSV text: quoted (with doubled quotes) when it holds a comma, a quote, a
-- line break, or starts/ends with a space.
function csv.quote(v)
  if v == nil then return "" end
  if type(v) ~= "string" then v = tostring(v) end
  if find(v, '[",\r\n]') or find(v, "^%s") or find(v, "%s$") then
    return '"' .. gsub(v, '"', '""') .. '"'
  end
  return v
end
local quote = csv.quote

--- One record as CSV text without a line terminator. `fields` is an array; nil holes are
-- written as empty fields when `n` (the number of fields) is given.
function csv.format(fields, n)
  if type(fields) ~= "table" then
    error("csv.format: argument 'fields' must be a table, got " .. type(fields), 2)
  end
  local out = {}
  for i = 1, n or #fields do out[i] = quote(fields[i]) end
  return concat(out, ",")
end
local format = csv.format

local Writer = {}
Writer.__index = Writer

--- A writer to `dest`: a path (created/truncated), an open file handle, or a function
-- called with each record's text including its terminator. opts.eol: "\n" (default) or
-- "\r\n"; opts.bom: write a UTF-8 byte-order mark first (for some spreadsheets).
function csv.writer(dest, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("csv.writer: argument 'opts' must be a table or nil", 2)
  end
  opts = opts or {}
  local eol = opts.eol or "\n"
  if eol ~= "\n" and eol ~= "\r\n" then
    error("csv.writer: option 'eol' must be \"\\n\" or \"\\r\\n\"", 2)
  end
  local self = setmetatable({ eol = eol, bytes = 0, records = 0 }, Writer)
  if type(dest) == "string" then
    local f, err = io.open(dest, "wb")
    if not f then return nil, err end
    self.f, self.own = f, true
  elseif type(dest) == "function" then
    self.fn = dest
  elseif type(dest) == "userdata" or type(dest) == "table" then
    self.f = dest
  else
    error("csv.writer: argument 'dest' must be a path, a file or a function, got " .. type(dest), 2)
  end
  if opts.bom then self:raw(BOM) end
  return self
end

function Writer:raw(text)
  self.bytes = self.bytes + #text
  if self.fn then
    self.fn(text)
    return true
  end
  local ok, err = self.f:write(text)
  if not ok then return nil, err end
  return true
end

--- Write one record (array of values; `n` = number of fields when the array has holes).
function Writer:write(fields, n)
  self.records = self.records + 1
  return self:raw(format(fields, n) .. self.eol)
end

function Writer:close()
  local ok, err = true, nil
  if self.f then
    if self.own then
      ok, err = self.f:close()
    else
      ok, err = self.f:flush()
    end
    self.f = nil
  end
  if not ok then return nil, err end
  return true
end

return csv
