-- egoi.bulk.rejects - the rejects file of an import: every row that was not imported, as CSV
-- `line,reason,row` (row = the source values as `name=value; …`, sorted by name).
--
-- A fresh import writes a new file. A resumed import (the journal records `rejects_bytes`
-- for its last accepted chunk) keeps the file up to that size and appends, so the file holds
-- each rejected row of the job once, whatever was interrupted where: rows rejected after the
-- last journaled chunk are rejected again by the rerun, so the earlier copies are cut off.
local csv = require "egoi.csv"
local charset = require "egoi.charset"
local errors = require "egoi.errors"

local rejects = {}

local type, tostring, pairs, ipairs = type, tostring, pairs, ipairs
local concat, sort = table.concat, table.sort
local min = math.min

local HEADER = "line,reason,row\n"

local function file_error(path, err)
  return errors.new{ kind = "usage", code = "FILE_ERROR", method = "addSubscriberBulk",
    message = "import: cannot write the rejects file " .. path .. ": " .. tostring(err) }
end

local function size_of(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

-- keep the first n bytes of path (copy + rename: no truncate() in plain Lua)
local function cut(path, n)
  local tmp = path .. ".tmp"
  local src, err = io.open(path, "rb")
  if not src then error(file_error(path, err), 0) end
  local dst, derr = io.open(tmp, "wb")
  if not dst then
    src:close()
    error(file_error(tmp, derr), 0)
  end
  local left, ok, werr = n, true, nil
  while left > 0 and ok do
    local blk = src:read(min(left, 1024 * 1024))
    if not blk then break end
    ok, werr = dst:write(blk)
    left = left - #blk
  end
  src:close()
  if ok then ok, werr = dst:close() else dst:close() end
  if ok then ok, werr = os.rename(tmp, path) end
  if not ok then
    os.remove(tmp)
    error(file_error(path, werr), 0)
  end
end

--- Open the rejects file. keep: nil for a fresh file, else the byte size the journal
-- recorded. Returns the writer; writer.warning says when earlier rejects are missing.
function rejects.open(path, keep)
  local warning
  local have = size_of(path)
  local mode = "wb"
  if keep and keep > 0 then
    if have == nil or have < keep then
      warning = ("the rejects file %s lost rows rejected before this resume (%s bytes, the journal"
        .. " recorded %d)"):format(path, have and tostring(have) or "missing", keep)
      mode = have and "ab" or "wb"
    else
      if have > keep then cut(path, keep) end
      mode = "ab"
    end
  end
  local f, err = io.open(path, mode)
  if not f then error(file_error(path, err), 0) end
  local self = { path = path, warning = warning, f = f }
  local bytes = mode == "ab" and (f:seek("end") or 0) or 0
  local function put(text)
    local ok, werr = f:write(text)
    if not ok then error(file_error(path, werr), 0) end
    bytes = bytes + #text
  end
  if bytes == 0 then put(HEADER) end

  function self.write(entry)
    local parts = {}
    if type(entry.row) == "table" then
      local keys = {}
      for k in pairs(entry.row) do keys[#keys + 1] = tostring(k) end
      sort(keys)
      for _, k in ipairs(keys) do
        local v = entry.row[k]
        if type(v) == "table" then v = concat(v, ";") end
        parts[#parts + 1] = k .. "=" .. tostring(v)
      end
    end
    put(csv.format{ tostring(entry.line or ""), charset.sanitize(tostring(entry.reason)),
      charset.sanitize(concat(parts, "; ")) } .. "\n")
  end
  -- bytes written so far, flushed (what a journal record may point at)
  function self.bytes()
    local ok, werr = f:flush()
    if not ok then error(file_error(path, werr), 0) end
    return bytes
  end
  function self.close()
    if self.f then
      self.f:close()
      self.f = nil
    end
  end
  return self
end

return rejects
