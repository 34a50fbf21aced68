-- egoi.sandbox.form - PHP $_GET/$_POST style parsing of urlencoded strings.
--
-- parse(str, limits, into) -> table | nil, message
-- Every key is a string; `a[]=` appends with PHP's next-index rule; values are
-- strings. Limits: max_depth (brackets, default 32), max_fields (default 4000000).
local M = {}

-- "%xx" (any case) -> the byte
local BYTE = {}
do
  local digits = "0123456789abcdefABCDEF"
  for i = 1, #digits do
    for j = 1, #digits do
      local h = digits:sub(i, i) .. digits:sub(j, j)
      BYTE[h] = string.char(tonumber(h, 16))
    end
  end
end

-- decoded string, or nil when a "%" is not followed by two hex digits
local function unescape(s)
  if not s:find("[%%+]", 1) then return s end
  s = s:gsub("+", " ")
  local _, pct = s:gsub("%%", "")
  local out, n = s:gsub("%%(%x%x)", BYTE)
  if n ~= pct then return nil end
  return out
end
M.unescape = unescape

-- next free integer index per table, PHP style (max int key + 1)
local function next_index(t)
  local n = -1
  for k in pairs(t) do
    local i = type(k) == "string" and k:match("^%-?%d+$") and tonumber(k)
    if i and i > n then n = i end
  end
  return tostring(n + 1)
end

-- split a raw (decoded) variable name into base and index list
local NO_INDEX = setmetatable({}, { __newindex = function() error("read-only") end })

local function split_name(name, max_depth)
  name = name:gsub("^ +", "")
  local b = name:find("[", 1, true)
  local base = b and name:sub(1, b - 1) or name
  base = base:gsub("[ .]", "_")
  if base == "" then return nil end
  if not b then return base, NO_INDEX end
  local idx = {}
  local pos, first = b, true
  while name:byte(pos) == 91 do -- "["
    local close = name:find("]", pos + 1, true)
    if not close then
      if first then return base .. "_" .. name:sub(pos + 1), NO_INDEX end
      break
    end
    idx[#idx + 1] = name:sub(pos + 1, close - 1)
    if #idx > max_depth then return nil, "nesting deeper than " .. max_depth end
    pos = close + 1
    first = false
  end
  return base, idx
end

function M.parse(str, limits, into)
  limits = limits or {}
  local max_depth = limits.max_depth or 32
  local max_fields = limits.max_fields or 4000000
  local out = into or {}
  local count = 0
  for pair in (str or ""):gmatch("[^&]+") do
    count = count + 1
    if count > max_fields then return nil, "too many fields (limit " .. max_fields .. ")" end
    local rawk, rawv = pair:match("^([^=]*)=(.*)$")
    if not rawk then rawk, rawv = pair, "" end
    local k = unescape(rawk)
    local v = unescape(rawv)
    if not k or not v then return nil, "invalid percent-encoding" end
    local base, idx = split_name(k, max_depth)
    if base == nil and idx ~= nil then return nil, idx end
    if base and #idx == 0 then
      out[base] = v
    elseif base then
      local t = out[base]
      if type(t) ~= "table" then t = {}; out[base] = t end
      for i = 1, #idx do
        local key = idx[i]
        if key == "" then key = next_index(t) end
        if i == #idx then
          t[key] = v
        else
          local sub = t[key]
          if type(sub) ~= "table" then sub = {}; t[key] = sub end
          t = sub
        end
      end
    end
  end
  return out
end

-- deep merge b into a (b wins), returns a
function M.merge(a, b)
  for k, v in pairs(b) do
    if type(v) == "table" and type(a[k]) == "table" then M.merge(a[k], v) else a[k] = v end
  end
  return a
end

-- form-encode one name/value pair (for outbound callbacks)
function M.escape(s)
  return (tostring(s):gsub("[^%w%-_%.~ ]", function(c)
    return ("%%%02X"):format(c:byte())
  end):gsub(" ", "+"))
end

return M
