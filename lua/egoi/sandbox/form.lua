-- egoi.sandbox.form - PHP $_GET/$_POST style parsing of urlencoded strings.
--
-- parse(str, limits, into) -> table | nil, message
-- Every key is a string; `a[]=` appends with PHP's next-index rule; values are
-- strings. Limits: max_depth (brackets, default 32), max_fields (default 100000).
local M = {}

local function unescape(s)
  if not s:find("[%%+]") then return s end
  s = s:gsub("+", " ")
  local bad = false
  s = s:gsub("%%(..?)", function(h)
    if #h == 2 and h:match("^%x%x$") then return string.char(tonumber(h, 16)) end
    bad = true
    return ""
  end)
  if bad then return nil end
  return s
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
local function split_name(name, max_depth)
  name = name:gsub("^ +", "")
  local b = name:find("[", 1, true)
  local base = b and name:sub(1, b - 1) or name
  base = base:gsub("[ .]", "_")
  if base == "" then return nil end
  local idx = {}
  if not b then return base, idx end
  local rest = name:sub(b)
  local first = true
  while rest:sub(1, 1) == "[" do
    local close = rest:find("]", 2, true)
    if not close then
      if first then return base .. "_" .. rest:sub(2), {} end
      break
    end
    idx[#idx + 1] = rest:sub(2, close - 1)
    if #idx > max_depth then return nil, "nesting deeper than " .. max_depth end
    rest = rest:sub(close + 1)
    first = false
  end
  return base, idx
end

function M.parse(str, limits, into)
  limits = limits or {}
  local max_depth = limits.max_depth or 32
  local max_fields = limits.max_fields or 100000
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
