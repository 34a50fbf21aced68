-- egoi.bulk.journal - the import journal: which chunks the service accepted, and proof of
-- what they held.
--
-- File format (text, one line each, appended and flushed after each accepted chunk):
--   egoi-import-journal 2 list=<listID> compare=<field>
--   chunk=<n> first_line=<l> last_line=<l> rows=<r> next_index=<i> offset=<bytes>
--     next_line=<l> rejects_bytes=<bytes> digest=<16 hex | ->
-- `offset` is the source byte offset after the chunk, `next_index` the rows consumed,
-- `rejects_bytes` the size of the rejects file once the chunk's rejects were written, and
-- `digest` a running digest (core.digest) of every byte of the CSV from its start (after a
-- BOM) to `offset` - so a rerun can tell whether the file still holds what was sent.
local core = require "egoi.core"
local errors = require "egoi.errors"

local journal = {}

local tostring, tonumber, error, pairs, select = tostring, tonumber, error, pairs, select
local format, match, find, sub = string.format, string.match, string.find, string.sub
local min = math.min

journal.MAGIC = "egoi-import-journal 2"
local MAX_LINE = 4096          -- a journal line is < 300 bytes; longer means not a journal
local BLOCK = 1024 * 1024
local BOM = "\239\187\191"
local NUMERIC = { "chunk", "first_line", "last_line", "rows", "next_index", "offset", "next_line",
  "rejects_bytes" }

local function usage(message, code)
  return errors.new{ kind = "usage", code = code, message = message, method = "addSubscriberBulk" }
end

local function corrupt(path, lineno, why)
  return usage(("import: journal %s is corrupt at line %d (%s); fix or remove it deliberately"
    .. " - it records which rows the service has already accepted"):format(path, lineno, why),
    "JOURNAL_CORRUPT")
end

-- the lines of a file, each at most MAX_LINE bytes (a longer one raises JOURNAL_CORRUPT)
local function lines_of(f, path)
  local buf, pos, n = "", 1, 0
  return function()
    while true do
      local nl = find(buf, "\n", pos, true)
      if nl then
        local line = sub(buf, pos, nl - 1)
        pos = nl + 1
        n = n + 1
        if #line > MAX_LINE then error(corrupt(path, n, "a line longer than " .. MAX_LINE .. " bytes"), 0) end
        return line, n
      end
      if #buf - pos + 1 > MAX_LINE then
        error(corrupt(path, n + 1, "a line longer than " .. MAX_LINE .. " bytes"), 0)
      end
      local blk = f:read(65536)
      if not blk then
        if pos <= #buf then error(corrupt(path, n + 1, "the last line is incomplete"), 0) end
        return nil
      end
      buf = sub(buf, pos) .. blk
      pos = 1
    end
  end
end

--- Read a journal: nil when absent or empty, else { records = {…}, chunks =, last = }.
-- Raises JOURNAL_CORRUPT / JOURNAL_MISMATCH / FILE_ERROR.
function journal.read(path, list_id, compare)
  local f = io.open(path, "rb")
  if not f then return nil end
  local ok, res = pcall(function()
    local state = { records = {}, chunks = 0 }
    local any = false
    for line, n in lines_of(f, path) do
      any = true
      if n == 1 then
        local v, l, c = match(line, "^egoi%-import%-journal (%d+) list=(%S+) compare=(%S+)$")
        if not v then error(corrupt(path, 1, "not an egoi import journal header"), 0) end
        if v ~= "2" then
          error(usage(("import: journal %s has format %s, written by an older egoi that did not record"
            .. " what each chunk held; finish that import with that version, or remove the journal to"
            .. " start over"):format(path, v), "JOURNAL_MISMATCH"), 0)
        end
        if l ~= tostring(list_id) or c ~= compare then
          error(usage(("import: journal %s belongs to list %s (compare field %s), not to list %s (%s)")
            :format(path, l, c, tostring(list_id), compare), "JOURNAL_MISMATCH"), 0)
        end
      else
        local rec = {}
        for k, v in line:gmatch("([%w_]+)=(%S+)") do rec[k] = v end
        local rest = line:gsub("[%w_]+=%S+", ""):gsub("%s", "")
        local good = rest == "" and rec.digest ~= nil
          and (rec.digest == "-" or match(rec.digest, "^%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil)
        for _, k in pairs(NUMERIC) do
          local v = rec[k] and match(rec[k], "^%d+$") and tonumber(rec[k])
          if not v then good = false end
          rec[k] = v
        end
        if not good then error(corrupt(path, n, "unparseable chunk record"), 0) end
        if rec.chunk ~= state.chunks + 1 or (state.last and rec.next_index <= state.last.next_index) then
          error(corrupt(path, n, "chunk records out of order"), 0)
        end
        state.chunks = rec.chunk
        state.last = rec
        state.records[rec.chunk] = rec
      end
    end
    return any and state or nil
  end)
  f:close()
  if not ok then error(res, 0) end
  return res
end

--- Check the records against the CSV at `path`: returns how many leading records still
-- describe the file (digest of the bytes up to each record's offset), and the digest
-- positioned at the end of the last of them (for a reader that seeks there).
--- The digest a record at `offset` holds: the source's bytes before offset (after a BOM),
-- hashed afresh (for a record written for part of a chunk, after the reader went past it).
function journal.digest_at(path, offset)
  local d = core.digest()
  local f = io.open(path, "rb")
  if not f then return "-" end
  local head = f:read(3) or ""
  local pos = 3
  if head ~= BOM then
    d:update(head)
    pos = #head
  end
  while pos < offset do
    local blk = f:read(min(BLOCK, offset - pos))
    if not blk then break end
    d:update(blk)
    pos = pos + #blk
  end
  f:close()
  return d:hex()
end

function journal.verify(path, records, n)
  n = n or #records
  local d = core.digest()
  local f = io.open(path, "rb")
  if not f then return 0, d end
  local pos
  local head = f:read(3) or ""
  if head == BOM then
    pos = 3
  else
    d:update(head)
    pos = #head
  end
  local good = 0
  for k = 1, n do
    local rec = records[k]
    if rec.digest == "-" then break end
    if rec.offset < pos then break end
    while pos < rec.offset do
      local blk = f:read(min(BLOCK, rec.offset - pos))
      if not blk then break end
      d:update(blk)
      pos = pos + #blk
    end
    if pos ~= rec.offset or d:hex() ~= rec.digest then break end
    good = k
  end
  f:close()
  if good < n then
    -- the digest went past the last good record: hash the prefix again
    if good == 0 then return 0, core.digest() end
    return good, select(2, journal.verify(path, records, good))
  end
  return good, d
end

local function record_line(rec)
  return format("chunk=%d first_line=%d last_line=%d rows=%d next_index=%d offset=%d next_line=%d"
    .. " rejects_bytes=%d digest=%s\n", rec.chunk, rec.first_line, rec.last_line, rec.rows,
    rec.next_index, rec.offset, rec.next_line, rec.rejects_bytes or 0, rec.digest or "-")
end

local function header(list_id, compare)
  return journal.MAGIC .. " list=" .. tostring(list_id) .. " compare=" .. compare .. "\n"
end

local function write_error(path, err)
  return errors.new{ kind = "usage", code = "FILE_ERROR", method = "addSubscriberBulk",
    message = "import: cannot write the journal " .. path .. ": " .. tostring(err) }
end

--- Replace the journal by its header and its first n records (atomically: temp + rename).
function journal.keep(path, list_id, compare, records, n)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error(write_error(tmp, err), 0) end
  local ok, werr = f:write(header(list_id, compare))
  for k = 1, n do
    if ok then ok, werr = f:write(record_line(records[k])) end
  end
  if ok then ok, werr = f:close() else f:close() end
  if ok then ok, werr = os.rename(tmp, path) end
  if not ok then
    os.remove(tmp)
    error(write_error(path, werr), 0)
  end
end

local posix_fsync
do
  local ok_u, unistd = pcall(require, "posix.unistd")
  local ok_s, stdio = pcall(require, "posix.stdio")
  if ok_u and ok_s and unistd.fsync and stdio.fileno then
    posix_fsync = function(f)
      local fd = stdio.fileno(f)
      if fd then unistd.fsync(fd) end
    end
  end
end

--- Open for appending (writing the header when there is no state yet).
function journal.open(path, state, list_id, compare)
  local f, err = io.open(path, "ab")
  if not f then
    error(usage("import: cannot open the journal " .. path .. ": " .. tostring(err), "FILE_ERROR"), 0)
  end
  if not state then
    f:write(header(list_id, compare))
    f:flush()
  end
  return f
end

function journal.append(f, rec)
  local ok, err = f:write(record_line(rec))
  if ok then ok, err = f:flush() end
  if not ok then error(write_error("", err), 0) end
  if posix_fsync then posix_fsync(f) end
end

return journal
